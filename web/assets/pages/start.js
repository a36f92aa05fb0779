// The residents' start page: counter, procedure and applicant type (with what to bring),
// the month calendar, then "メールを認証して進む" (the verification mail with the chosen slot).
// Under a day full for the web the resident may choose its waiting list instead of a slot: the
// mail then carries that day (as one of its slots), and the verify page joins the list.

import { api } from '../lib/api.js';
import * as endpoints from '../lib/endpoints.js';
import { h, $, replace, focusTo, busy, store } from '../lib/dom.js';
import { fmtSlot, fmtDate, fmtDateTime } from '../lib/format.js';
import { AvailabilityCalendar, slotDate, loadSlot } from '../lib/calendar.js';
import { showProblem, clearProblems } from '../lib/problem.js';
import {
  initPage, loadCatalog, counterName, procedureName, renderBring, fillPhones, telLink,
  APPLICANT_TYPES, CHOICE_KEY, setStep, checks, renderWaitlistOffer,
} from '../lib/resident.js';

const t = initPage();
const lang = t.lang;
const saved = store.get(CHOICE_KEY, {}) || {};
const state = {
  counter: saved.counter || null,
  procedure: saved.procedure || null,
  applicant: saved.applicant_type || 'holder',
  slot: null,
  slotId: saved.slot_id || null,
  wait: null, // { date, slotId }: the waiting list of a day full for the web
};
let catalog = null;
let calendar = null;

function save() {
  store.set(CHOICE_KEY, {
    counter: state.counter, procedure: state.procedure, applicant_type: state.applicant,
    slot_id: state.slot ? state.slot.id : null,
    wait_date: state.wait ? state.wait.date : null,
  });
}

function radio(name, value, checked, title, desc, extra = {}) {
  const id = `${name}-${value}`;
  return h('label', { class: 'choice', for: id },
    h('input', { type: 'radio', name, id, value, checked, ...extra }),
    h('span', null, h('span', { class: 'choice-title' }, title), desc ? h('span', { class: 'choice-desc' }, desc) : null));
}

function renderChoices() {
  const { counters, procedures } = catalog;
  if (!counters.some((c) => c.id === state.counter)) state.counter = counters[0] && counters[0].id;
  if (!procedures.some((p) => p.id === state.procedure)) state.procedure = null;
  replace($('#counter-choices'), counters.map((c) => radio('counter', c.id, c.id === state.counter, counterName(c, lang), [
    c.address,
    c.weekday_hours ? t('choose.hours', c.weekday_hours) : '',
    c.phone ? t('choose.tel', { phone: c.phone }) : '',
  ].filter(Boolean).join(' ・ '))));
  replace($('#procedure-choices'), procedures.map((p) => radio('procedure', p.id, p.id === state.procedure, procedureName(p, lang), null)));
  replace($('#applicant-choices'), APPLICANT_TYPES.map((a) => radio('applicant_type', a, a === state.applicant,
    t('applicant.' + a), t(`applicant.${a}.desc`))));
  updateBring();
}

function updateBring() {
  const p = catalog.procedures.find((x) => x.id === state.procedure);
  renderBring($('#bring'), p, state.applicant, t);
}

function counter() {
  return catalog.counters.find((c) => c.id === state.counter);
}

function mountCalendar() {
  if (calendar) calendar.destroy();
  const c = counter();
  if (!c) return;
  const keep = state.slotId && state.slotId.startsWith(c.id + '.') ? state.slotId : null;
  calendar = new AvailabilityCalendar($('#calendar'), {
    counter: c.id,
    lang,
    phone: c.phone,
    selectedSlotId: keep,
    initialDate: keep ? slotDate(keep) : null,
    onSlot: (slot) => pickSlot(slot),
    extraForDay: (day, el, dayState) => {
      if (dayState === 'full') renderWaitlistOffer(el, day, t, chooseWaitlist);
    },
  });
  state.slot = null;
  state.wait = null;
  renderPicked();
  // A slot chosen before (e.g. before switching the language) is kept while it is bookable.
  if (keep) {
    loadSlot(c.id, keep).then((found) => {
      if (found && found.slot.bookable && found.slot.remaining > 0 && state.counter === c.id && !state.slot) {
        state.slot = found.slot;
        renderPicked();
      }
    }).catch(() => {});
  }
}

function pickSlot(slot) {
  state.slot = slot;
  state.slotId = slot.id;
  state.wait = null;
  picked();
}

function chooseWaitlist(day) {
  state.slot = null;
  state.wait = { date: day.date, slotId: day.slots[0].id };
  picked();
}

/** A slot or a day's waiting list was chosen: on to the mail. */
function picked() {
  save();
  renderPicked();
  clearProblems($('#mail-form'), $('#mail-summary'));
  setStep($('#steps'), 1);
  focusTo($('#mail-h'));
}

function renderPicked() {
  const el = $('#picked');
  if (state.wait) {
    replace(el,
      h('span', null, t('wait.picked'), ': ', h('strong', { 'data-testid': 'picked-wait' }, fmtDate(state.wait.date, lang, { year: true })), ' ', counterName(counter(), lang)),
      h('button', { type: 'button', class: 'btn quiet small', onclick: () => focusTo($('#when-h')) }, t('picked.change')));
    el.hidden = false;
    return;
  }
  if (!state.slot) { el.hidden = true; return; }
  replace(el,
    h('span', null, t('picked.label'), ': ', h('strong', { 'data-testid': 'picked-slot' }, fmtSlot(state.slot, lang)), ' ', counterName(counter(), lang)),
    h('button', { type: 'button', class: 'btn quiet small', onclick: () => focusTo($('#when-h')) }, t('picked.change')));
  el.hidden = false;
}

async function submitMail(e) {
  e.preventDefault();
  const form = $('#mail-form');
  const summary = $('#mail-summary');
  const email = $('#f-email').value.trim();
  const prepare = e.submitter && e.submitter.id === 'mail-prepare';
  if (prepare) { state.slot = null; state.wait = null; }
  if (!prepare && !state.slot && !state.wait) {
    showProblem({ errors: [], title: t('mail.needSlot'), code: 'no_slot', status: 400 }, { form, summary, lang });
    return;
  }
  const bad = checks.individualNumber(email) || checks.email(email);
  if (bad) {
    showProblem({ errors: [{ field: 'email', code: bad }], status: 422, code: 'validation_failed' }, { form, summary, lang, labels: { email: t('f.email') } });
    return;
  }
  await busy($(prepare ? '#mail-prepare' : '#mail-submit'), async () => {
    try {
      const res = await api(endpoints.verifications(), { method: 'POST', body: verificationBody(email) });
      clearProblems(form, summary);
      save();
      showSent(email, res.expires_at, prepare);
    } catch (p) {
      showProblem(p, { form, summary, lang, labels: { email: t('f.email') } });
    }
  });
}

/** The verification request: the chosen slot (or a slot of the day waited for) and the language of the mailed link. */
function verificationBody(email) {
  return {
    email,
    counter: state.counter,
    slot_id: state.slot ? state.slot.id : state.wait ? state.wait.slotId : undefined,
    // Kept with the link, so that it comes back to them in another browser (a mail app's).
    procedure: state.procedure || undefined,
    applicant_type: state.applicant || undefined,
    lang: lang === 'en' ? 'en' : undefined,
  };
}

function showSent(email, expiresAt, prepare = false) {
  const sent = $('#mail-sent');
  $('#mail-form').hidden = true;
  replace(sent,
    h('h3', { id: 'sent-h', tabindex: '-1' }, t('mail.sent.h')),
    h('p', null, t(prepare ? 'mail.sent.bodyReady' : state.wait ? 'mail.sent.bodyWait' : 'mail.sent.body', { email })),
    h('p', null, t('mail.sent.expires', { at: fmtDateTime(expiresAt, lang) })),
    h('p', { class: 'hint' }, t('mail.sent.nomail')),
    h('div', { class: 'actions' },
      h('button', { type: 'button', class: 'btn secondary', onclick: (ev) => resend(ev.currentTarget, email) }, t('mail.resend')),
      h('button', { type: 'button', class: 'btn quiet', onclick: () => { sent.hidden = true; $('#mail-form').hidden = false; $('#f-email').focus(); } }, t('mail.other'))));
  sent.hidden = false;
  setStep($('#steps'), 1);
  $('#sent-h').focus();
}

async function resend(button, email) {
  await busy(button, async () => {
    try {
      const res = await api(endpoints.verifications(), { method: 'POST', body: verificationBody(email) });
      showSent(email, res.expires_at, !state.slot && !state.wait);
    } catch (p) {
      showProblem(p, { form: $('#mail-form'), summary: $('#mail-summary'), lang });
    }
  });
}

async function main() {
  try {
    catalog = await loadCatalog();
  } catch (p) {
    const st = $('#catalog-status');
    st.className = 'notice danger';
    replace(st, t('invalid.h'), ' ', h('button', { type: 'button', class: 'btn small', onclick: () => location.reload() }, 'Reload'));
    return;
  }
  $('#catalog-status').hidden = true;
  $('#choose-form').hidden = false;
  $('#mail-spam').textContent = t('mail.spam', { from: catalog.mailFrom, city: catalog.city });
  const holdMinutes = (catalog.counters[0] && catalog.counters[0].hold_minutes) || 0;
  $('#mail-hold').textContent = holdMinutes ? t('mail.hold', { n: holdMinutes }) : '';
  $('#mail-hold').hidden = !holdMinutes;
  fillPhones($('#footer-phones'), catalog.counters, t);
  const phones = catalog.counters.filter((c) => c.phone);
  if (phones.length) {
    replace($('#before-phone'), t('footer.call'), ' ', ...phones.flatMap((c, i) => [i ? ' / ' : '', counterName(c, lang), ' ', telLink(c.phone)]));
    $('#before-phone').hidden = false;
  }
  renderChoices();
  mountCalendar();
  $('#choose-form').addEventListener('change', (e) => {
    const { name, value } = e.target;
    if (name === 'counter' && value !== state.counter) {
      state.counter = value;
      state.slot = null;
      state.slotId = null;
      mountCalendar();
      save();
      renderPicked();
    } else if (name === 'procedure') {
      state.procedure = value;
      save();
      updateBring();
    } else if (name === 'applicant_type') {
      state.applicant = value;
      save();
      updateBring();
    }
  });
  $('#mail-form').addEventListener('submit', submitMail);
}

main();
