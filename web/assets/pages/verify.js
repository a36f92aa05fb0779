// The page the verification mail links to (/booking/verify?token=…): the chosen slot (or the
// calendar when it is gone), the form, a confirmation step, and the completion page with the
// reservation number and its QR code. A bad, expired or used link gets a page that says so.
// When the day chosen is full for the web (or the resident chose its waiting list), the same
// form joins the day's waiting list (キャンセル待ち) instead.
// Ready before the opening: before a month's window opens the resident fills in the form and
// picks up to three slots of the month in order (第1〜第3希望); the page counts down to the
// opening, and at the opening one action books (the first preference, the others as
// fallback_slot_ids tried in the same request), skipping the confirmation step if they chose
// so. Under a fair start the request is held by the server until the draw: the page says so.
// A slot chosen here is held (仮押さえ, endpoints.holds) for booking.hold_minutes while the
// form is filled in: the page shows until when, and the booking names the hold, so it gets the
// seat even when the slot has filled meanwhile.

import { api, serverClock } from '../lib/api.js';
import * as endpoints from '../lib/endpoints.js';
import { h, $, replace, focusTo, busy, store } from '../lib/dom.js';
import { fmtSlot, fmtDateTime, fmtDate, fmtPhone, fmtTime } from '../lib/format.js';
import { AvailabilityCalendar, loadSlot, slotDate, fullForWeb, webFree } from '../lib/calendar.js';
import { showProblem, clearProblems } from '../lib/problem.js';
import { PartyEditor } from '../lib/party.js';
import {
  initPage, loadCatalog, counterName, procedureName, renderBring, fillPhones, renderInvalid,
  APPLICANT_TYPES, CHOICE_KEY, setStep, checks, telLink, toKatakana, renderWaitlistOffer,
} from '../lib/resident.js';

const t = initPage();
const lang = t.lang;
const main = $('#main');
const token = new URLSearchParams(location.search).get('token') || '';
const saved = store.get(CHOICE_KEY, {}) || {};

const state = {
  verification: null,
  counter: null,
  slot: null,
  day: null,
  mode: 'book', // or 'waitlist' (a full day's waiting list)
  waitDate: null,
  prefs: [], // slots chosen before their window opened, in order (at most MAX_PREFS)
  opensAt: null, // when the preferences' window opens (ms, server clock)
  quick: false, // book at once when a slot is chosen (no confirmation step)
  fallbacks: [], // the booking's fallback_slot_ids
  lottery: null, // { id, draw_at }: the preferences are for this lottery's entry
  hold: null, // { hold_id, slot_id, seats, expires_at }: the chosen slot kept while the form is filled in
};
const MAX_PREFS = 3;
let catalog;
let calendar = null;
let party = null; // the people coming with the resident (PartyEditor)
const els = {};

const LABELS = () => {
  const base = {
    name: t('f.name'), name_kana: t('f.name_kana'), phone: t('f.phone'), procedure: t('f.procedure'),
    applicant_type: t('f.applicant_type'), representative_name: t('f.representative_name'), notes: t('f.notes'),
    slot_id: t('f.slot_id'), email: t('f.email'), counter: t('f.counter'), date: t('wait.day'), party: t('party.h'),
  };
  return party ? { ...base, ...party.labels(base) } : base;
};

function counter() { return catalog.counters.find((c) => c.id === state.counter); }
function procedure(id) { return catalog.procedures.find((p) => p.id === id); }

// ---------- layout ----------

function field(id, labelKey, control, { required = false, hintKey = null } = {}) {
  const hintId = hintKey ? `${id}-hint` : null;
  if (hintId) control.setAttribute('aria-describedby', hintId);
  if (required) control.setAttribute('aria-required', 'true');
  return h('div', { class: 'field', id: `${id}-field` },
    h('label', { for: id }, t(labelKey), h('span', { class: required ? 'req' : 'opt' }, t(required ? 'f.required' : 'f.optional'))),
    hintKey ? h('span', { class: 'hint', id: hintId }, t(hintKey)) : null,
    control);
}

function buildLayout() {
  const v = state.verification;
  els.steps = h('ol', { class: 'steps', 'aria-label': t('steps.label') },
    ['steps.choose', 'steps.mail', 'steps.form', 'steps.confirm', 'steps.done'].map((k) => h('li', null, t(k))));
  setStep(els.steps, 2);

  els.picked = h('div', { class: 'picked', 'data-testid': 'verify-slot' });
  els.slotNote = h('p', { class: 'notice warn', id: 'slot-note', hidden: true });
  els.calendar = h('div', { id: 'calendar', hidden: true });
  els.ready = h('div', { class: 'ready', id: 'ready', 'data-testid': 'ready', hidden: true });
  // The hold's time left, on the form and on the confirmation (a timer: read on demand, not
  // announced every second).
  els.holdNotes = [0, 1].map((i) => h('p', { class: 'notice', role: 'timer', 'data-testid': i ? 'hold-left-confirm' : 'hold-left', hidden: true }));
  els.slotSection = h('section', { class: 'card', 'aria-labelledby': 'slot-h' },
    h('h2', { id: 'slot-h' }, t('verify.slot.h')), els.slotNote, els.picked, els.holdNotes[0], els.ready, els.calendar);

  const procSelect = h('select', { id: 'f-procedure', name: 'procedure', required: true },
    h('option', { value: '' }, t('f.choose')),
    catalog.procedures.map((p) => h('option', { value: p.id, selected: p.id === saved.procedure }, procedureName(p, lang))));
  const applicantSet = h('fieldset', { id: 'f-applicant_type' },
    h('legend', null, t('f.applicant_type'), h('span', { class: 'req' }, t('f.required'))),
    h('div', { class: 'choices' }, APPLICANT_TYPES.map((a) => h('label', { class: 'choice', for: `applicant-${a}` },
      h('input', { type: 'radio', name: 'applicant_type', id: `applicant-${a}`, value: a, checked: a === (saved.applicant_type || 'holder') }),
      h('span', null, h('span', { class: 'choice-title' }, t('applicant.' + a)), h('span', { class: 'choice-desc' }, t(`applicant.${a}.desc`)))))));
  els.bring = h('div', { class: 'bring', 'aria-live': 'polite', hidden: true });
  const input = (id, attrs) => h('input', { type: 'text', id, name: id.slice(2), ...attrs });
  els.repField = field('f-representative_name', 'f.representative_name', input('f-representative_name', { autocomplete: 'name', maxlength: 50 }), { required: true, hintKey: 'f.representative_name.hint' });
  els.summary = h('div', { class: 'error-summary', id: 'form-summary', hidden: true });
  els.form = h('form', { id: 'booking-form', novalidate: true },
    h('p', { class: 'notice danger never-mynumber' }, t('verify.never')),
    els.summary,
    field('f-procedure', 'f.procedure', procSelect, { required: true }),
    applicantSet,
    els.bring,
    field('f-name', 'f.name', input('f-name', { autocomplete: 'name', maxlength: 50 }), { required: true, hintKey: 'f.name.hint' }),
    field('f-name_kana', 'f.name_kana', input('f-name_kana', { maxlength: 60, autocomplete: 'off' }), { required: true, hintKey: 'f.name_kana.hint' }),
    field('f-phone', 'f.phone', input('f-phone', { type: 'tel', autocomplete: 'tel', inputmode: 'tel', maxlength: 20 }), { required: true, hintKey: 'f.phone.hint' }),
    els.repField,
    els.partySection = h('section', { class: 'party', 'aria-labelledby': 'party-h', id: 'f-party', 'data-testid': 'party' },
      h('h3', { id: 'party-h' }, t('party.h')),
      h('p', { class: 'hint' }, t('party.lead')),
      els.party = h('div')),
    els.notesField = field('f-notes', 'f.notes', h('textarea', { id: 'f-notes', name: 'notes', maxlength: 500, rows: 3 }), { hintKey: 'f.notes.hint' }),
    h('div', { class: 'actions stack' }, h('button', { type: 'submit', class: 'btn big', id: 'to-confirm' }, t('verify.next'))));
  els.formSection = h('section', { class: 'card', 'aria-labelledby': 'form-h' },
    h('h2', { id: 'form-h' }, t('verify.form.h')), els.form);

  els.confirmSummary = h('div', { class: 'error-summary', id: 'confirm-summary', hidden: true });
  els.confirmList = h('dl', { class: 'summary', 'data-testid': 'confirm-list' });
  els.confirmSubmit = h('button', { type: 'button', class: 'btn big', id: 'confirm-submit', onclick: submit }, t('confirm.submit'));
  els.confirmSection = h('section', { class: 'card', 'aria-labelledby': 'confirm-h', hidden: true },
    h('h2', { id: 'confirm-h' }, t('confirm.h')),
    els.confirmSummary,
    els.holdNotes[1],
    h('p', null, t('confirm.lead')),
    els.confirmList,
    els.confirmBring = h('details', { class: 'bring', 'data-testid': 'confirm-bring' }),
    h('div', { class: 'actions stack' },
      els.confirmSubmit,
      h('button', { type: 'button', class: 'btn secondary', onclick: backToForm }, t('confirm.back'))));

  replace(main,
    h('h1', null, t('verify.h1')),
    els.steps,
    h('p', null, t('verify.email', { email: v.email }), h('br'), h('span', { class: 'hint' }, t('verify.expires', { at: fmtDateTime(v.expires_at, lang) }))),
    els.slotSection, els.formSection, els.confirmSection);

  const max = (counter() && counter().max_party_size) || 1;
  party = new PartyEditor(els.party, {
    t, max, prefix: 'f-',
    procedures: catalog.procedures.map((p) => ({ id: p.id, label: procedureName(p, lang) })),
    defaults: { applicant_type: 'legal_representative' },
    // The hold keeps a seat for everyone.
    onChange: () => { if (state.hold) holdSlot(); },
  });
  els.partySection.hidden = max <= 1;
  els.form.addEventListener('change', onFormChange);
  els.form.addEventListener('submit', toConfirm);
  const kana = els.form.querySelector('#f-name_kana');
  kana.addEventListener('blur', () => { kana.value = toKatakana(kana.value); });
  onFormChange();
}

function values() {
  const f = els.form;
  const get = (id) => (f.querySelector('#' + id) || {}).value || '';
  const applicant = (f.querySelector('input[name="applicant_type"]:checked') || {}).value || '';
  return {
    procedure: get('f-procedure'),
    applicant_type: applicant,
    name: get('f-name').trim(),
    name_kana: toKatakana(get('f-name_kana')).trim(),
    phone: get('f-phone').trim(),
    representative_name: applicant && applicant !== 'holder' ? get('f-representative_name').trim() : '',
    notes: state.mode === 'waitlist' ? '' : get('f-notes').trim(),
    party: state.mode === 'waitlist' || !party ? [] : party.values(),
  };
}

/** Seats the booking takes: the resident and the people coming with them. */
function people() {
  return 1 + (state.mode === 'book' && party ? party.count() : 0);
}

function onFormChange() {
  const v = values();
  els.repField.hidden = !v.applicant_type || v.applicant_type === 'holder';
  renderBring(els.bring, procedure(v.procedure), v.applicant_type, t);
  store.set(CHOICE_KEY, { ...saved, counter: state.counter, procedure: v.procedure, applicant_type: v.applicant_type });
}

// ---------- the slot ----------

function renderPicked() {
  // A waiting-list entry has no notes for the counter (the booking an offer makes has none),
  // and is one person's.
  els.notesField.hidden = state.mode === 'waitlist';
  els.partySection.hidden = state.mode === 'waitlist' || !party || party.max <= 1;
  if (state.mode === 'waitlist') {
    replace(els.picked,
      h('span', null, t('wait.picked'), ': ', h('strong', { 'data-testid': 'picked-wait' }, fmtDate(state.waitDate, lang, { year: true })), ' ', counterName(counter(), lang)),
      h('button', { type: 'button', class: 'btn quiet small', id: 'change-slot', onclick: openCalendar }, t('picked.change')));
    els.picked.hidden = false;
    return;
  }
  if (!state.slot) { els.picked.hidden = true; return; }
  replace(els.picked,
    h('span', null, t('picked.label'), ': ', h('strong', { 'data-testid': 'picked-slot' }, fmtSlot(state.slot, lang, { year: true })), ' ', counterName(counter(), lang)),
    h('button', { type: 'button', class: 'btn quiet small', id: 'change-slot', onclick: openCalendar }, t('picked.change')));
  els.picked.hidden = false;
}

function openCalendar(initialDate) {
  els.calendar.hidden = false;
  if (calendar && typeof initialDate === 'string') { calendar.destroy(); calendar = null; }
  if (!calendar) {
    calendar = new AvailabilityCalendar(els.calendar, {
      counter: state.counter,
      lang,
      phone: counter() && counter().phone,
      selectedSlotId: state.slot && state.slot.id,
      initialDate: typeof initialDate === 'string' ? initialDate : state.slot ? slotDate(state.slot.id) : state.waitDate,
      onSlot: (slot, day) => chooseSlot(slot, day),
      extraForDay: waitlistOffer,
      pickPending: true,
      markFor: (id) => {
        const i = state.prefs.findIndex((p) => p.id === id);
        return i >= 0 ? t('ready.pref', { n: i + 1 }) : null;
      },
    });
  }
  focusTo(els.calendar);
}

function chooseSlot(slot, day) {
  if (calendar && calendar.isPending(day)) {
    togglePreference(slot, day);
    return;
  }
  state.slot = slot;
  state.day = day;
  state.mode = 'book';
  // Chosen at the opening: the other preferences are its fallbacks.
  state.fallbacks = state.prefs.filter((p) => p.id !== slot.id).slice(0, MAX_PREFS - 1).map((p) => p.id);
  els.slotNote.hidden = true;
  if (state.quick && state.prefs.length) {
    const v = values();
    if (!localErrors(v).length) {
      renderPicked();
      bookNow(v);
      return;
    }
  }
  els.calendar.hidden = true;
  renderPicked();
  holdSlot();
  focusTo(els.formSection.querySelector('h2'));
}

// ---------- the hold (仮押さえ) ----------

/**
 * Keeps the chosen slot while the form is filled in. A new hold replaces this link's last (the
 * server keeps one per address). Refused as full: the slot is gone, choose another; refused
 * otherwise (a fair start drawing, a busy moment): no hold, and the booking is judged as it comes.
 */
async function holdSlot() {
  const slot = state.slot;
  if (!slot || state.mode !== 'book') return;
  const seats = people();
  if (state.hold && state.hold.slot_id === slot.id && state.hold.seats === seats && Date.parse(state.hold.expires_at) > serverClock.now()) return;
  let held = null;
  try {
    held = await api(endpoints.holds(), { method: 'POST', body: { verification_token: token, slot_id: slot.id, seats } });
  } catch (p) {
    if (state.slot !== slot) return;
    state.hold = null;
    if (p.code === 'slot_full') {
      els.slotNote.textContent = t('hold.full');
      els.slotNote.hidden = false;
      state.slot = null;
      renderPicked();
      openCalendar(slotDate(slot.id));
    }
    tickHold();
    return;
  }
  // Another slot chosen meanwhile: its own hold replaces this one.
  if (state.slot === slot) state.hold = held;
  tickHold();
}

/** The hold for the slot being booked, while it lasts. */
function liveHold() {
  const hold = state.hold;
  if (!hold || !state.slot || hold.slot_id !== state.slot.id || hold.seats < people()) return null;
  return Date.parse(hold.expires_at) > serverClock.now() ? hold : null;
}

function tickHold() {
  if (!els.holdNotes) return;
  const hold = state.hold && state.slot && state.hold.slot_id === state.slot.id && state.mode === 'book' ? state.hold : null;
  const left = hold ? Date.parse(hold.expires_at) - serverClock.now() : 0;
  const text = !hold ? '' : left > 0
    ? t('hold.left', { until: fmtTime(hold.expires_at), left: fmtLeft(left) })
    : t('hold.over');
  for (const note of els.holdNotes) {
    note.hidden = !text;
    note.className = left > 0 ? 'notice' : 'notice warn';
    if (note.textContent !== text) note.textContent = text;
  }
}
setInterval(tickHold, 1000);

// ---------- ready before the opening ----------

/** A slot of a day not yet open: added to (or taken from) the preferences. */
function togglePreference(slot, day) {
  const at = state.prefs.findIndex((p) => p.id === slot.id);
  if (at >= 0) state.prefs.splice(at, 1);
  else if (state.prefs.length < MAX_PREFS) state.prefs.push(slot);
  else {
    els.slotNote.textContent = t('ready.max', { n: MAX_PREFS });
    els.slotNote.hidden = false;
    return;
  }
  els.slotNote.hidden = true;
  // Preferences are all for one lottery, or all for one opening.
  const lottery = day.lottery || null;
  const opensAt = Date.parse(day.booking_opens_at);
  const otherLottery = (state.lottery && state.lottery.id) !== (lottery && lottery.id);
  const otherOpening = !lottery && state.opensAt && opensAt !== state.opensAt;
  if (at < 0 && state.prefs.length > 1 && (otherLottery || otherOpening)) {
    // One lottery's times, or one opening's: a booking's fallbacks open with its first choice.
    state.prefs.pop();
    els.slotNote.textContent = t(otherLottery ? 'lottery.sameMonth' : 'ready.sameOpening');
    els.slotNote.hidden = false;
    return;
  }
  if (!state.prefs.length) { state.lottery = null; state.opensAt = null; calendar.refresh(); renderReady(); return; }
  state.lottery = lottery;
  state.opensAt = opensAt;
  state.mode = 'book';
  state.slot = null;
  calendar.refresh();
  renderReady();
}

function renderReady() {
  if (!state.prefs.length) { els.ready.hidden = true; return; }
  if (state.lottery) { renderLotteryReady(); return; }
  const quick = h('input', { type: 'checkbox', id: 'f-quick', checked: state.quick, onchange: (e) => { state.quick = e.target.checked; } });
  els.readyCountdown = h('strong', { class: 'countdown', 'data-testid': 'ready-countdown' });
  els.readyBook = h('button', { type: 'button', class: 'btn big', id: 'book-prefs', onclick: bookPreferences }, t('ready.book'));
  const fair = fairSeconds();
  replace(els.ready,
    h('h3', null, t('ready.h')),
    h('p', null, t('ready.lead', { at: fmtDateTime(new Date(state.opensAt).toISOString(), lang) }), ' ', els.readyCountdown),
    h('ol', { class: 'prefs', 'data-testid': 'prefs' }, state.prefs.map((p, i) => h('li', null,
      h('span', null, t('ready.pref', { n: i + 1 }), ': ', h('strong', null, fmtSlot(p, lang, { year: true }))), ' ',
      h('button', { type: 'button', class: 'btn quiet small', onclick: () => { state.prefs.splice(i, 1); if (calendar) calendar.refresh(); renderReady(); } }, t('ready.remove'))))),
    state.prefs.length < MAX_PREFS ? h('p', { class: 'hint' }, t('ready.more', { n: MAX_PREFS })) : null,
    h('p', { class: 'hint' }, t('ready.how')),
    fair ? h('p', { class: 'notice', 'data-testid': 'fair-note' }, t('ready.fair', { n: fair })) : null,
    h('label', { class: 'checkbox', for: 'f-quick' }, quick, h('span', null, t('ready.quick'))),
    h('div', { class: 'actions stack' }, els.readyBook));
  els.ready.hidden = false;
  tickReady();
}

/** Preferences for a lottery: the entry is sent during its application period. */
function renderLotteryReady() {
  els.readyBook = null;
  els.lotteryEnter = h('button', { type: 'button', class: 'btn big', id: 'enter-lottery', onclick: enterLottery }, t('lottery.enter'));
  replace(els.ready,
    h('h3', null, t('lottery.readyH')),
    h('p', null, t('lottery.readyLead', { at: fmtDateTime(state.lottery.draw_at, lang) })),
    h('ol', { class: 'prefs', 'data-testid': 'prefs' }, state.prefs.map((p, i) => h('li', null,
      h('span', null, t('ready.pref', { n: i + 1 }), ': ', h('strong', null, fmtSlot(p, lang, { year: true }))), ' ',
      h('button', { type: 'button', class: 'btn quiet small', onclick: () => { state.prefs.splice(i, 1); if (!state.prefs.length) state.lottery = null; if (calendar) calendar.refresh(); renderReady(); } }, t('ready.remove'))))),
    state.prefs.length < MAX_PREFS ? h('p', { class: 'hint' }, t('lottery.more', { n: MAX_PREFS })) : null,
    h('div', { class: 'actions stack' }, els.lotteryEnter));
  els.ready.hidden = false;
}

async function enterLottery() {
  const v = values();
  const errors = localErrors(v);
  if (errors.length) {
    showProblem({ errors, status: 422, code: 'validation_failed' }, { form: els.form, summary: els.summary, lang, labels: LABELS() });
    return;
  }
  clearProblems(els.form, els.summary);
  await busy(els.lotteryEnter, async () => {
    try {
      const e = await api(endpoints.lotteryEntries(), {
        method: 'POST',
        body: {
          verification_token: token, lottery: state.lottery.id, preferences: state.prefs.map((p) => p.id),
          procedure: v.procedure, applicant_type: v.applicant_type, name: v.name, name_kana: v.name_kana,
          phone: v.phone, representative_name: v.representative_name || undefined,
        },
      });
      renderLotteryDone(e);
    } catch (p) {
      if (p.status === 410 || p.code === 'verification_not_found') { renderInvalid(main, p.code, t, catalog.counters); return; }
      showProblem(p, { form: els.form, summary: els.summary, lang, labels: { ...LABELS(), preferences: t('lottery.prefs') } });
    }
  });
}

function renderLotteryDone(e) {
  store.set(CHOICE_KEY, { ...saved, counter: state.counter, slot_id: null });
  const url = `/booking/manage?lottery=${encodeURIComponent(e.manage_token)}${lang === 'en' ? '&lang=en' : ''}`;
  setStep(els.steps, 4);
  replace(main, els.steps, h('section', { class: 'card', 'aria-labelledby': 'done-h', 'data-testid': 'lottery-done' },
    h('h1', { id: 'done-h', tabindex: '-1' }, t('lottery.done.h')),
    h('p', null, t('lottery.done.lead', { email: state.verification.email, at: fmtDateTime(state.lottery.draw_at, lang) })),
    h('ol', { class: 'prefs' }, state.prefs.map((p, i) => h('li', null, t('ready.pref', { n: i + 1 }), ': ', fmtSlot(p, lang, { year: true })))),
    h('p', null, h('a', { class: 'btn', href: url, 'data-testid': 'lottery-link' }, t('lottery.done.manage')))));
  history.replaceState(null, '', url);
  $('#done-h').focus();
}

/** Counts down to the opening; the book button works from the opening's second. */
function tickReady() {
  if (!els.readyBook || els.ready.hidden) return;
  const left = state.opensAt - serverClock.now();
  els.readyBook.disabled = left > 0;
  els.readyCountdown.textContent = left > 0 ? t('ready.left', { left: fmtLeft(left) }) : t('ready.open');
}
setInterval(tickReady, 250);

function fmtLeft(ms) {
  const s = Math.ceil(ms / 1000);
  const h_ = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const sec = s % 60;
  return h_ ? t('ready.hms', { h: h_, m, s: sec }) : m ? t('ready.ms', { m, s: sec }) : t('ready.s', { s: sec });
}

function fairSeconds() {
  const c = counter();
  return (c && c.fair_start_seconds) || 0;
}

/** At the opening: the first preference, the others as its fallbacks. */
function bookPreferences() {
  const [first, ...rest] = state.prefs;
  if (!first) return;
  state.slot = first;
  state.mode = 'book';
  state.fallbacks = rest.map((p) => p.id);
  const v = values();
  const errors = localErrors(v);
  if (errors.length) {
    showProblem({ errors, status: 422, code: 'validation_failed' }, { form: els.form, summary: els.summary, lang, labels: LABELS() });
    return;
  }
  if (state.quick) bookNow(v);
  else showConfirm(v);
}

/** Books without the confirmation step (chosen before the opening). */
function bookNow(v) {
  showConfirm(v);
  submit();
}

/** Under a day full for the web: its waiting list. */
function waitlistOffer(day, el, dayState) {
  if (dayState === 'full') renderWaitlistOffer(el, day, t, (d) => chooseWaitlist(d.date, true));
}

function chooseWaitlist(date, fromCalendar) {
  state.mode = 'waitlist';
  state.waitDate = date;
  state.slot = null;
  els.calendar.hidden = true;
  els.slotNote.hidden = fromCalendar;
  renderPicked();
  if (fromCalendar) focusTo(els.formSection.querySelector('h2'));
}

// ---------- checks, confirmation, booking ----------

function localErrors(v) {
  const errors = [];
  const add = (field, code) => code && errors.push({ field, code });
  for (const [field, value] of Object.entries(v)) add(field, typeof value === 'string' ? checks.individualNumber(value) : null);
  if (errors.length) return errors;
  add('procedure', v.procedure ? null : 'required');
  add('applicant_type', v.applicant_type ? null : 'not_one_of');
  add('name', checks.required(v.name));
  add('name_kana', checks.kana(v.name_kana));
  add('phone', checks.phone(v.phone));
  if (v.applicant_type && v.applicant_type !== 'holder' && !v.representative_name) {
    add('representative_name', 'representative_required');
  }
  v.party.forEach((m, i) => {
    const f = (name) => `party[${i}].${name}`;
    for (const [name, value] of Object.entries(m)) add(f(name), typeof value === 'string' ? checks.individualNumber(value) : null);
    add(f('procedure'), m.procedure ? null : 'required');
    add(f('name'), checks.required(m.name));
    add(f('name_kana'), checks.kana(m.name_kana));
    if (m.applicant_type !== 'holder' && !m.representative_name) add(f('representative_name'), 'representative_required');
  });
  return errors;
}

function toConfirm(e) {
  e.preventDefault();
  const v = values();
  const errors = localErrors(v);
  if (!state.slot && state.mode === 'book' && state.prefs.length) {
    // Ready: the form is kept, and the opening books the preferences.
    clearProblems(els.form, els.summary);
    if (!errors.length) {
      els.slotNote.textContent = t('ready.saved');
      els.slotNote.hidden = false;
      focusTo(els.ready);
      return;
    }
    showProblem({ errors, status: 422, code: 'validation_failed' }, { form: els.form, summary: els.summary, lang, labels: LABELS() });
    return;
  }
  if (!state.slot && state.mode === 'book') {
    showProblem({ errors: [], title: t('verify.slot.pick'), status: 400, code: 'no_slot' }, { form: els.form, summary: els.summary, lang });
    openCalendar();
    return;
  }
  if (errors.length) {
    showProblem({ errors, status: 422, code: 'validation_failed' }, { form: els.form, summary: els.summary, lang, labels: LABELS() });
    return;
  }
  clearProblems(els.form, els.summary);
  showConfirm(v);
}

function showConfirm(v) {
  const row = (k, val, testid) => (val ? h('div', null, h('dt', null, k), h('dd', { 'data-field': testid }, val)) : null);
  const c = counter();
  replace(els.confirmList,
    state.mode === 'waitlist'
      ? row(t('wait.day'), `${fmtDate(state.waitDate, lang, { year: true })}(${t('wait.h1')})`, 'date')
      : row(t('manage.when'), fmtSlot(state.slot, lang, { year: true }), 'slot'),
    state.mode === 'book' && state.fallbacks.length
      ? row(t('ready.fallbacks'), state.fallbacks.map((id) => fmtSlot(prefSlot(id), lang, { year: true })).join(' / '), 'fallbacks') : null,
    row(t('manage.where'), `${counterName(c, lang)}(${c.address})`, 'counter'),
    row(t('manage.what'), procedureName(procedure(v.procedure), lang), 'procedure'),
    row(t('manage.who'), t('applicant.' + v.applicant_type), 'applicant_type'),
    row(t('manage.name'), v.name, 'name'),
    row(t('manage.kana'), v.name_kana, 'name_kana'),
    row(t('manage.phone'), v.phone, 'phone'),
    row(t('manage.rep'), v.representative_name, 'representative_name'),
    row(t('manage.notes'), v.notes, 'notes'),
    v.party.length ? row(t('party.confirm'), v.party.map((m) => `${m.name}(${toKatakana(m.name_kana)})、${procedureName(procedure(m.procedure), lang)}、${t('applicant.' + m.applicant_type)}`).join(' / '), 'party') : null,
    row(t('manage.email'), state.verification.email, 'email'));
  renderBring(els.confirmBring, procedure(v.procedure), v.applicant_type, t, { collapsed: true });
  clearProblems(null, els.confirmSummary);
  els.slotSection.hidden = true;
  els.formSection.hidden = true;
  els.confirmSection.hidden = false;
  setStep(els.steps, 3);
  focusTo(els.confirmSection.querySelector('h2'));
}

function backToForm() {
  els.confirmSection.hidden = true;
  els.slotSection.hidden = false;
  els.formSection.hidden = false;
  setStep(els.steps, 2);
  focusTo(els.formSection.querySelector('h2'));
}

async function submit() {
  const v = values();
  await busy(els.confirmSubmit, async () => {
    try {
      if (state.mode === 'waitlist') {
        const entry = await api(endpoints.waitlist(), {
          method: 'POST',
          body: {
            verification_token: token, counter: state.counter, date: state.waitDate, procedure: v.procedure,
            applicant_type: v.applicant_type, name: v.name, name_kana: v.name_kana, phone: v.phone,
            representative_name: v.representative_name || undefined,
          },
        });
        renderWaitlistDone(entry);
        return;
      }
      const stopWaiting = fairWait();
      const book = (hold) => api(endpoints.reservations(), {
        method: 'POST',
        body: {
          verification_token: token, slot_id: state.slot.id, procedure: v.procedure, applicant_type: v.applicant_type,
          name: v.name, name_kana: v.name_kana, phone: v.phone,
          representative_name: v.representative_name || undefined, notes: v.notes || undefined,
          party: v.party.length ? v.party.map((m) => ({ ...m, name_kana: toKatakana(m.name_kana) })) : undefined,
          fallback_slot_ids: !hold && state.fallbacks.length ? state.fallbacks : undefined,
          hold_id: hold ? hold.hold_id : undefined,
        },
      });
      const hold = liveHold();
      const r = await book(hold).catch((p) => {
        // The hold ran out (or was replaced) on the way: booked as anyone would be, if a seat is free.
        if (!hold || !HOLD_GONE.includes(p.code)) throw p;
        state.hold = null;
        tickHold();
        return book(null);
      }).finally(stopWaiting);
      state.hold = null;
      renderDone(r);
    } catch (p) {
      onBookingProblem(p);
    }
  });
}

const HOLD_GONE = ['hold_expired', 'hold_not_found', 'hold_other_slot'];

function prefSlot(id) {
  return state.prefs.find((p) => p.id === id) || (calendar && calendar.slot(id) && calendar.slot(id).slot) || { id, starts_at: id, ends_at: id };
}

/**
 * Under a fair start the server holds a booking sent in the opening's first seconds until its
 * draw: say so, with the seconds left, while the request is out. Returns the function that
 * takes the message away.
 */
function fairWait() {
  const n = fairSeconds();
  const opensAt = state.slot ? opensAtOf(state.slot) : null;
  if (!n || !opensAt) return () => {};
  const until = opensAt + n * 1000;
  if (serverClock.now() >= until) return () => {};
  const note = h('p', { class: 'notice warn', role: 'status', 'data-testid': 'fair-wait' });
  const draw = () => {
    const left = until - serverClock.now();
    note.textContent = t('fair.wait', { n, left: fmtLeft(Math.max(0, left)) });
  };
  draw();
  const timer = setInterval(draw, 250);
  els.confirmSection.prepend(note);
  return () => { clearInterval(timer); note.remove(); };
}

function opensAtOf(slot) {
  if (state.opensAt && state.prefs.some((p) => p.id === slot.id)) return state.opensAt;
  if (state.day && state.day.booking_opens_at) return Date.parse(state.day.booking_opens_at);
  return null;
}

function onBookingProblem(p) {
  if (p.status === 410 || p.code === 'verification_not_found') {
    renderInvalid(main, p.code, t, catalog.counters);
    return;
  }
  if (p.status === 422 && p.errors.length) {
    backToForm();
    showProblem(p, { form: els.form, summary: els.summary, lang, labels: LABELS() });
    return;
  }
  const slotCodes = ['slot_full', 'window_closed', 'window_not_open', 'day_closed', 'slot_not_found', 'lottery_period'];
  const extra = [];
  const member = p.body && p.body.party_member;
  if (member) {
    // Someone coming with the resident already holds this procedure's booking: say who.
    extra.push(h('p', { 'data-testid': 'party-member-has' }, t('party.memberHas', { name: member })));
  }
  if (p.code === 'seats_available') {
    // The day has free seats again: book one of them instead of waiting.
    extra.push(h('button', {
      type: 'button', class: 'btn small', 'data-testid': 'seats-available',
      onclick: () => { state.mode = 'book'; renderPicked(); backToForm(); openCalendar(state.waitDate); },
    }, t('wait.pickSlot')));
  } else if (slotCodes.includes(p.code)) {
    extra.push(h('button', { type: 'button', class: 'btn secondary small', onclick: () => { backToForm(); openCalendar(); } }, t('picked.change')));
  }
  showProblem(p, {
    form: null, summary: els.confirmSummary, lang, labels: LABELS(), extra,
    onAlternative: (slot) => {
      state.slot = slot;
      state.mode = 'book';
      renderPicked();
      if (calendar) { calendar.destroy(); calendar = null; }
      showConfirm(values());
      holdSlot();
    },
  });
}

function renderDone(r) {
  store.set(CHOICE_KEY, { ...saved, counter: state.counter, slot_id: null });
  const c = catalog.counters.find((x) => x.id === r.counter) || counter();
  const p = procedure(r.procedure);
  const manageUrl = `/booking/manage?token=${encodeURIComponent(r.manage_token)}${lang === 'en' ? '&lang=en' : ''}`;
  setStep(els.steps, 4);
  const bring = h('details', { class: 'bring', 'data-testid': 'done-bring' });
  renderBring(bring, p, r.applicant_type, t, { collapsed: true, headingLevel: 2 });
  replace(main,
    els.steps,
    h('section', { class: 'card', 'aria-labelledby': 'done-h', 'data-testid': 'done' },
      h('h1', { id: 'done-h', tabindex: '-1' }, t('done.h')),
      h('p', null, t('done.lead', { email: r.email || state.verification.email })),
      r.slot && state.slot && r.slot.id !== state.slot.id
        ? h('p', { class: 'notice warn', 'data-testid': 'done-fallback' }, t('ready.gotFallback', { first: fmtSlot(state.slot, lang, { year: true }) })) : null,
      h('div', { class: 'done-number' },
        h('span', { class: 'label' }, t('done.number')),
        h('strong', { class: 'res-number', 'data-testid': 'reservation-number' }, r.reservation_number),
        h('img', { class: 'qr', src: endpoints.reservationQr(r.manage_token), alt: `${t('done.qr')}: ${r.reservation_number}`, width: 200, height: 200 })),
      h('dl', { class: 'summary' },
        h('div', null, h('dt', null, t('manage.when')), h('dd', null, fmtSlot(r.slot, lang, { year: true }))),
        h('div', null, h('dt', null, t('manage.where')), h('dd', null, counterName(c, lang), h('br'), c.address, c.phone ? [h('br'), '☎ ', telLink(c.phone)] : null)),
        h('div', null, h('dt', null, t('manage.what')), h('dd', null, p ? procedureName(p, lang) : r.procedure)),
        h('div', null, h('dt', null, t('manage.who')), h('dd', null, t('applicant.' + r.applicant_type))),
        h('div', null, h('dt', null, t('manage.name')), h('dd', null, `${r.name}(${r.name_kana})`)),
        r.representative_name ? h('div', null, h('dt', null, t('manage.rep')), h('dd', null, r.representative_name)) : null,
        h('div', null, h('dt', null, t('manage.phone')), h('dd', null, fmtPhone(r.phone))),
        // What they wrote for the counter, echoed so they can see it was taken.
        r.notes ? h('div', { 'data-testid': 'done-notes' }, h('dt', null, t('manage.notes')), h('dd', { class: 'notes' }, r.notes)) : null,
        r.party && r.party.length
          ? h('div', { 'data-testid': 'done-party' }, h('dt', null, t('party.done')),
            h('dd', null, h('ul', { class: 'plain' }, r.party.map((m) => h('li', null,
              `${m.name}(${procedureName(procedure(m.procedure), lang)}): `, h('strong', { class: 'res-number' }, m.reservation_number))))))
          : null),
      h('p', { class: 'hint', 'data-testid': 'changes-until' }, t('manage.until', { at: fmtDateTime(r.slot.starts_at, lang, { year: true }) })),
      bring,
      h('div', { class: 'actions' },
        h('a', { class: 'btn', href: manageUrl, 'data-testid': 'manage-link' }, t('done.manage')),
        h('button', { type: 'button', class: 'btn secondary', onclick: () => window.print() }, t('done.print')))));
  // A reload now shows the booking rather than a "link already used" page.
  history.replaceState(null, '', manageUrl);
  $('#done-h').focus();
}

function renderWaitlistDone(entry) {
  store.set(CHOICE_KEY, { ...saved, counter: state.counter, slot_id: null, wait_date: null });
  setStep(els.steps, 4);
  const c = catalog.counters.find((x) => x.id === entry.counter) || counter();
  const p = procedure(entry.procedure);
  const url = `/booking/manage?waitlist=${encodeURIComponent(entry.manage_token)}${lang === 'en' ? '&lang=en' : ''}`;
  replace(main, els.steps, h('section', { class: 'card', 'aria-labelledby': 'done-h', 'data-testid': 'waitlist-done', 'data-position': entry.position },
    h('h1', { id: 'done-h', tabindex: '-1' }, t('wait.done.h')),
    h('p', null, t('wait.joined', { n: entry.position })),
    h('dl', { class: 'summary' },
      h('div', null, h('dt', null, t('wait.day')), h('dd', { 'data-field': 'date' }, fmtDate(entry.date, lang, { year: true }))),
      h('div', null, h('dt', null, t('manage.where')), h('dd', null, counterName(c, lang))),
      h('div', null, h('dt', null, t('manage.what')), h('dd', null, p ? procedureName(p, lang) : entry.procedure)),
      h('div', null, h('dt', null, t('wait.positionLabel')), h('dd', { 'data-field': 'position' }, t('wait.position', { n: entry.position })))),
    h('p', null, t('wait.done.mail', { email: state.verification.email, from: catalog.mailFrom })),
    h('p', null, h('a', { class: 'btn', href: url, 'data-testid': 'waitlist-link' }, t('wait.done.manage')))));
  // A reload shows the entry rather than a "link already used" page.
  history.replaceState(null, '', url);
  $('#done-h').focus();
}

// ---------- start ----------

async function main_() {
  if (!/^[A-Za-z0-9_-]{16,}$/.test(token)) {
    const cat = await loadCatalog().catch(() => ({ counters: [] }));
    renderInvalid(main, 'missing', t, cat.counters);
    return;
  }
  let v;
  try {
    [v, catalog] = await Promise.all([api(endpoints.verification(token)), loadCatalog()]);
  } catch (p) {
    const cat = catalog || await loadCatalog().catch(() => ({ counters: [] }));
    if (p.status === 404 || p.status === 410) {
      renderInvalid(main, p.code, t, cat.counters);
    } else {
      replace(main, h('div', { class: 'error-summary', id: 'load-problem' }));
      showProblem(p, { summary: $('#load-problem'), lang });
    }
    return;
  }
  fillPhones($('#footer-phones'), catalog.counters, t);
  state.verification = v;
  // What was chosen before the mail, as kept with this link: the same in the browser the link
  // opens in (a phone's mail app has none of this browser's storage).
  if (v.procedure && procedure(v.procedure)) saved.procedure = v.procedure;
  if (v.applicant_type && APPLICANT_TYPES.includes(v.applicant_type)) saved.applicant_type = v.applicant_type;
  state.counter = v.counter || (v.slot_id && v.slot_id.split('.')[0]) || saved.counter || catalog.counters[0].id;
  if (!catalog.counters.some((c) => c.id === state.counter)) state.counter = catalog.counters[0].id;
  const wanted = v.slot_id || (saved.slot_id && saved.slot_id.startsWith(state.counter + '.') ? saved.slot_id : null);
  // The slot is looked up before the page is drawn, so that its line does not arrive later
  // and push the form down (a layout shift under the resident's finger).
  const lookup = wanted ? await loadSlot(state.counter, wanted).then((f) => ({ found: f }), (e) => ({ error: e })) : null;
  buildLayout();
  // On this browser the resident may have chosen the day's waiting list rather than the slot.
  const waitDate = saved.wait_date && saved.wait_date === slotDate(wanted) ? saved.wait_date : null;
  if (wanted) {
    try {
      if (lookup.error) throw lookup.error;
      const { found } = lookup;
      const free = found && found.slot.bookable && found.slot.remaining > 0;
      if (free && !waitDate) {
        state.slot = found.slot;
        state.day = found.day;
        holdSlot();
      } else if (found && fullForWeb(found.day)) {
        // The day is full for the web: this form joins its waiting list.
        chooseWaitlist(found.day.date, false);
        els.slotNote.textContent = t('wait.verify', { date: fmtDate(found.day.date, lang) });
        els.slotNote.hidden = false;
      } else if (found && waitDate) {
        // Seats freed that day (book one), or it can no longer be booked (choose another day).
        const freed = found.day.bookable_now && webFree(found.day) > 0;
        els.slotNote.textContent = t(freed ? 'wait.freed' : 'wait.closed', { date: fmtDate(waitDate, lang) });
        els.slotNote.hidden = false;
        openCalendar(waitDate);
      } else if (found) {
        els.slotNote.textContent = t('verify.slot.gone', { slot: fmtSlot(found.slot, lang) });
        els.slotNote.hidden = false;
      }
    } catch { /* the calendar below lets them choose */ }
  }
  renderPicked();
  if (!state.slot && state.mode !== 'waitlist') {
    if (els.slotNote.hidden) { els.slotNote.textContent = t('verify.slot.pick'); els.slotNote.hidden = false; }
    openCalendar();
    window.scrollTo(0, 0);
  }
}

main_();
