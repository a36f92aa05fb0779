// Phone booking, built for speed: type a date and a time ("1/18 10:30", "0118 1030", "明日 10")
// or leave it empty for the next free slots, pick with ↑↓ and Enter, type the caller's details,
// Enter books, and the number is shown in big letters with how to read each character.
// The people coming with the caller (a party, up to the counter's max_party_size in all) are
// added under the caller's fields and booked on the same slot; each number is read back.

import { api, serverClock } from '../lib/api.js';
import * as endpoints from '../lib/endpoints.js';
import { h, $, replace, busy } from '../lib/dom.js';
import { parts, isoDate, addDays, fmtDate, fmtTime, fmtSlot, fmtDateTime } from '../lib/format.js';
import { closedReasons } from '../lib/words.js';
import { showProblem, clearProblems } from '../lib/problem.js';
import { renderBring, procedureName } from '../lib/bring.js';
import { PartyEditor } from '../lib/party.js';

const READING = {
  A: 'エー', C: 'シー', E: 'イー', F: 'エフ', H: 'エイチ', J: 'ジェー', K: 'ケー', M: 'エム', N: 'エヌ', P: 'ピー',
  R: 'アール', T: 'ティー', W: 'ダブリュー', X: 'エックス', Y: 'ワイ', B: 'ビー', D: 'ディー', G: 'ジー', L: 'エル',
  O: 'オー', Q: 'キュー', S: 'エス', U: 'ユー', V: 'ブイ', Z: 'ゼット', I: 'アイ',
  0: 'ゼロ', 1: 'いち', 2: 'に', 3: 'さん', 4: 'よん', 5: 'ご', 6: 'ろく', 7: 'なな', 8: 'はち', 9: 'きゅう', '-': 'の',
};
const READING_EN = { '-': 'dash' };

/** "1/18 10:30", "0118 1030", "2027-01-18 10", "明日 10時半" → {date, time:'HH:MM'|null}; null if empty. */
export function parseWhen(input, today) {
  let s = String(input || '').normalize('NFKC').trim().toLowerCase();
  if (!s) return null;
  const base = parts(today);
  let date = null;
  let time = null;
  const valid = (y, m, d) => {
    if (m < 1 || m > 12 || d < 1 || d > 31) return null;
    const iso = isoDate(y, m, d);
    return parts(iso).m === m ? iso : null;
  };
  const next = (m, d) => {
    const here = valid(base.y, m, d);
    if (!here) return valid(base.y + 1, m, d);
    return here < today ? valid(base.y + 1, m, d) : here;
  };
  const rel = [[/^(今日|きょう|today)/, 0], [/^(明後日|あさって)/, 2], [/^(明日|あした|あす|tomorrow)/, 1]];
  for (const [re, n] of rel) {
    const m = re.exec(s);
    if (m) { date = addDays(today, n); s = s.slice(m[0].length).trim(); break; }
  }
  if (!date) {
    let m;
    if ((m = /^(\d{4})[-/.年](\d{1,2})[-/.月](\d{1,2})日?/.exec(s))) date = valid(+m[1], +m[2], +m[3]);
    else if ((m = /^(\d{1,2})\s*[/月.-]\s*(\d{1,2})\s*日?/.exec(s))) date = next(+m[1], +m[2]);
    else if ((m = /^(\d{1,2})日/.exec(s))) {
      const d = +m[1];
      date = d >= base.d ? valid(base.y, base.m, d) : valid(parts(isoDate(base.y, base.m + 1, 1)).y, parts(isoDate(base.y, base.m + 1, 1)).m, d);
    } else if ((m = /^(\d{3,4})(?=\s|$)/.exec(s))) {
      const v = m[1].padStart(4, '0');
      date = next(+v.slice(0, 2), +v.slice(2));
    }
    if (!m) return { error: true };
    if (!date) return { error: true };
    s = s.slice(m[0].length).trim();
  }
  if (s) {
    let m;
    if ((m = /^(\d{1,2})\s*[:時]\s*(半|(\d{1,2})\s*分?)?$/.exec(s))) time = [+m[1], m[2] === '半' ? 30 : +(m[3] || 0)];
    else if ((m = /^(\d{1,2})(\d{2})$/.exec(s))) time = [+m[1], +m[2]];
    else if ((m = /^(\d{1,2})$/.exec(s))) time = [+m[1], 0];
    else return { error: true, date };
    if (time[0] > 23 || time[1] > 59) return { error: true, date };
    time = `${String(time[0]).padStart(2, '0')}:${String(time[1]).padStart(2, '0')}`;
  }
  return { date, time };
}

export function mount(root, ctx) {
  const { t, lang } = ctx;
  const isAdmin = ctx.user.role === 'admin';
  let today = null;
  let options = [];
  let active = -1;
  let chosen = null;
  let seq = 0;
  let nextCache = null;
  // The day typed (its availability), so the list can be drawn again when the override is
  // ticked or a booking has taken a seat.
  let shownDay = null;

  const whenInput = h('input', {
    id: 'p-when', type: 'text', role: 'combobox', 'aria-autocomplete': 'list', 'aria-expanded': 'true',
    'aria-controls': 'slot-options', 'aria-describedby': 'p-when-hint', autocomplete: 'off', spellcheck: 'false',
  });
  const parsed = h('p', { class: 'parsed', 'aria-live': 'polite', id: 'p-when-parsed' });
  const listTitle = h('p', { class: 'hint', id: 'slot-options-title' });
  const list = h('ul', { class: 'options', id: 'slot-options', role: 'listbox', 'aria-labelledby': 'slot-options-title' });
  const chosenEl = h('div', { class: 'chosen-slot', hidden: true, 'data-testid': 'chosen-slot' });
  const finder = h('section', { class: 'card no-print', 'aria-labelledby': 'finder-h' },
    h('h2', { id: 'finder-h' }, t('phone.when')),
    h('div', { class: 'field combo' },
      h('label', { for: 'p-when' }, t('phone.when')),
      h('span', { class: 'hint', id: 'p-when-hint' }, t('phone.when.hint')),
      whenInput, parsed),
    listTitle, list);

  const sel = (id, opts, attrs = {}) => h('select', { id, name: id.slice(2), ...attrs }, opts);
  const inp = (id, attrs = {}) => h('input', { id, name: id.slice(2), type: 'text', autocomplete: 'off', ...attrs });
  const field = (id, key, control, { req = false, hint = null, cls = '' } = {}) => h('div', { class: 'field ' + cls, id: id + '-field' },
    h('label', { for: id }, t(key), h('span', { class: req ? 'req' : 'opt' }, t(req ? 'required' : 'optional'))),
    hint ? h('span', { class: 'hint', id: id + '-hint' }, t(hint)) : null,
    control);
  const procSel = sel('p-procedure', [h('option', { value: '' }, t('f.choose')),
    ...ctx.procedures.map((p) => h('option', { value: p.id }, lang === 'en' && p.name_en ? p.name_en : p.name))]);
  const applicantSel = sel('p-applicant_type', ['holder', 'legal_representative', 'voluntary_proxy'].map((a) => h('option', { value: a }, t('applicant.' + a))));
  const repField = field('p-representative_name', 'f.representative_name', inp('p-representative_name'), { req: true });
  repField.hidden = true;
  const overrideBox = h('input', { type: 'checkbox', id: 'p-override_window', name: 'override_window' });
  const overrideReason = field('p-override_reason', 'f.override_reason', inp('p-override_reason', { maxlength: 500 }), { req: true });
  overrideReason.hidden = true;
  // The people coming with the caller: a PartyEditor (lib/party.js) per counter, made in newParty().
  const partyEl = h('div');
  const partySection = h('section', { class: 'party', id: 'p-party', 'aria-labelledby': 'p-party-h', 'data-testid': 'party' },
    h('h3', { id: 'p-party-h' }, t('party.h')), partyEl);
  let party = null;
  const summary = h('div', { class: 'error-summary', id: 'phone-summary', hidden: true });
  const submitBtn = h('button', { type: 'submit', class: 'btn big', id: 'p-submit' }, t('phone.submit'));
  const form = h('form', { id: 'phone-form', novalidate: true, autocomplete: 'off' },
    summary,
    chosenEl,
    h('p', { class: 'notice danger never-mynumber' }, t('phone.never')),
    h('div', { class: 'grid-2' },
      field('p-procedure', 'f.procedure', procSel, { req: true }),
      field('p-applicant_type', 'f.applicant_type', applicantSel, { req: true }),
      field('p-name', 'f.name', inp('p-name', { maxlength: 50 }), { req: true }),
      field('p-name_kana', 'f.name_kana', inp('p-name_kana', { maxlength: 60 }), { req: true, hint: 'f.name_kana.hint' }),
      field('p-phone', 'f.phone', inp('p-phone', { type: 'tel', inputmode: 'tel', maxlength: 20 }), { req: true }),
      field('p-email', 'f.email', inp('p-email', { type: 'email', inputmode: 'email' }), { hint: 'f.email.hint' }),
      repField),
    partySection,
    field('p-notes', 'f.notes', h('textarea', { id: 'p-notes', name: 'notes', rows: 2, maxlength: 500 })),
    isAdmin ? h('div', { class: 'field' }, h('label', { class: 'checkbox', for: 'p-override_window' }, overrideBox, h('span', null, t('f.override')))) : null,
    isAdmin ? overrideReason : null,
    h('div', { class: 'actions' }, submitBtn));
  const caller = h('section', { class: 'card', 'aria-labelledby': 'caller-h' }, h('h2', { id: 'caller-h' }, t('phone.caller')), form);
  const result = h('section', { class: 'card', hidden: true, 'aria-labelledby': 'readback-h', 'data-testid': 'readback' });

  replace(root,
    h('div', { class: 'view-head no-print' }, h('h1', null, t('phone.h'))),
    h('div', { class: 'cols' }, finder, h('div', null, caller, result)));

  const LABELS = {
    procedure: t('f.procedure'), applicant_type: t('f.applicant_type'), name: t('f.name'), name_kana: t('f.name_kana'),
    phone: t('f.phone'), email: t('f.email'), representative_name: t('f.representative_name'), notes: t('f.notes'),
    slot_id: t('f.slot_id'), override_reason: t('f.override_reason'), party: t('party.h'),
  };
  const PARTY_LABELS = {
    procedure: t('party.procedure'), applicant_type: t('party.applicant_type'), name: t('party.name'),
    name_kana: t('party.name_kana'), representative_name: t('party.representative_name'),
  };
  /** The summary's labels: the caller's fields, and each extra person's ("2人目: 氏名"). */
  const labels = () => ({ ...LABELS, ...party.labels(PARTY_LABELS) });

  /**
   * A new, empty party editor for the chosen counter (its max_party_size: people in all), with
   * `kept` (people already typed in) as far as the counter takes them; hidden where a booking
   * carries one person only.
   */
  function newParty(kept = []) {
    const counter = ctx.counters.find((c) => c.id === ctx.counter) || {};
    const max = counter.max_party_size || 1;
    party = new PartyEditor(partyEl, {
      t, max, prefix: 'p-',
      procedures: ctx.procedures.map((p) => ({ id: p.id, label: procedureName(p, lang) })),
      // A family usually comes for the caller's procedure.
      defaults: { procedure: procSel.value },
    });
    for (const v of kept.slice(0, max - 1)) party.add(v);
    partySection.hidden = max <= 1;
  }

  // ---- the slot finder ----

  async function availability(from, to) {
    const data = await api(endpoints.availability(ctx.counter, from, to));
    today = serverClock.today();
    return data.days;
  }

  async function ensureToday() {
    // Every answer carries the server's clock (X-Madoguchi-Now): the console's first calls
    // (counters, procedures) told it already.
    if (!serverClock.known) await api(endpoints.counters());
    today = serverClock.today();
    return today;
  }

  function renderOptions(items, title) {
    options = items;
    listTitle.textContent = title;
    const rows = [];
    let lastDate = null;
    items.forEach((o, i) => {
      const date = parts(o.slot.starts_at).date;
      if (items.multiDay && date !== lastDate) {
        rows.push(h('li', { class: 'group', role: 'presentation' }, fmtDate(date, lang), waitingNote(items.waiting && items.waiting[date])));
        lastDate = date;
      }
      // With a staff token `remaining` counts every free seat, the held ones included.
      const held = o.slot.held_for_phone > 0 && o.slot.remaining > 0;
      const left = slotLabel(o);
      rows.push(h('li', {
        role: 'option', id: 'opt-' + i, 'aria-selected': String(i === active), 'aria-disabled': String(!o.ok),
        'data-slot': o.slot.id, 'data-held': held ? String(o.slot.held_for_phone) : null,
        onmousedown: (e) => e.preventDefault(),
        onclick: () => { if (o.ok) choose(o.slot); },
      }, h('span', { class: 'when' }, items.multiDay ? fmtTime(o.slot.starts_at) + '〜' + fmtTime(o.slot.ends_at) : `${fmtTime(o.slot.starts_at)}〜${fmtTime(o.slot.ends_at)}`),
      h('span', { class: 'left' }, left, held ? h('span', { class: 'held-badge' }, t('phone.held', { n: o.slot.held_for_phone })) : null)));
    });
    if (!items.length) rows.push(h('li', { class: 'group', role: 'presentation' }, items.empty || t('phone.noSlots')));
    replace(list, rows);
    setActive(active);
  }

  /** What the list says of a slot: seats left, full, or why it cannot be booked now. */
  function slotLabel(o) {
    const s = o.slot;
    if (s.remaining <= 0) return t('phone.full');
    if (s.bookable) return t('phone.left', { n: s.remaining });
    if (Date.parse(s.starts_at) <= serverClock.now()) return t('phone.started');
    if (o.ok) return t('phone.left', { n: s.remaining }) + ' ' + t('phone.overridden');
    return o.day && Date.parse(o.day.booking_opens_at) > serverClock.now() ? t('phone.notOpen') : t('phone.notBookable');
  }

  /**
   * Whether a slot can be chosen: bookable with a seat, or (an administrator who ticked "book
   * outside the window") any slot of an open day with a seat that has not started.
   */
  function canTake(slot, day) {
    if (slot.remaining <= 0) return false;
    if (slot.bookable) return true;
    return overriding() && (!day || day.open) && Date.parse(slot.starts_at) > serverClock.now();
  }

  function overriding() {
    return isAdmin && overrideBox.checked;
  }

  /** The list's title for a day: its date, closed and why, its window when not open now. */
  function dayTitle(date, day) {
    let title = t('phone.dayslots', { date: fmtDate(date, lang) });
    if (day && !day.open) return title + ' — ' + closedWords(day.closed_reason);
    if (day && !day.bookable_now && day.booking_opens_at && day.booking_closes_at) {
      const now = serverClock.now();
      if (Date.parse(day.booking_closes_at) <= now) title += ' — ' + t('phone.windowClosed', { at: fmtDateTime(day.booking_closes_at, lang) });
      else if (Date.parse(day.booking_opens_at) > now) title += ' — ' + t('phone.windowOpens', { at: fmtDateTime(day.booking_opens_at, lang) });
    }
    if (day && day.waiting > 0) title += ` ・ ${t('phone.waiting', { n: day.waiting })}`;
    return title;
  }

  // A closed day's reason in the server's words (lib/words.js).
  let reasons = {};
  closedReasons(lang).then((r) => { reasons = r; if (shownDay) drawDay(); });
  function closedWords(reason) {
    return t('slots.closed', { reason: reasons[reason] || reason || '' });
  }

  /** The day's waiting list (staff see its length): worth telling a caller who finds it full. */
  function waitingNote(n) {
    return n > 0 ? h('span', { class: 'waiting-note' }, ' ・ ', t('phone.waiting', { n })) : null;
  }

  function setActive(i) {
    active = i;
    for (const li of list.querySelectorAll('[role="option"]')) li.setAttribute('aria-selected', String(li.id === 'opt-' + i));
    if (i >= 0) {
      whenInput.setAttribute('aria-activedescendant', 'opt-' + i);
      // The list scrolls to it, not the page (after a booking the operator reads the read-back).
      const li = $('#opt-' + i);
      if (li) {
        if (li.offsetTop < list.scrollTop) list.scrollTop = li.offsetTop;
        else if (li.offsetTop + li.offsetHeight > list.scrollTop + list.clientHeight) list.scrollTop = li.offsetTop + li.offsetHeight - list.clientHeight;
      }
    } else {
      whenInput.removeAttribute('aria-activedescendant');
    }
  }

  function move(step) {
    if (!options.length) return;
    let i = active;
    for (let n = 0; n < options.length; n++) {
      i = (i + step + options.length) % options.length;
      if (options[i].ok) { setActive(i); return; }
    }
  }

  async function showNext() {
    const s = ++seq;
    const now = Date.now();
    if (!nextCache || nextCache.counter !== ctx.counter || now - nextCache.at > 30000) {
      const from = await ensureToday();
      const days = await availability(from, addDays(from, 61));
      const slots = [];
      for (const d of days) for (const sl of d.slots) if (sl.bookable && sl.remaining > 0) slots.push(sl);
      const waiting = Object.fromEntries(days.map((d) => [d.date, d.waiting || 0]));
      nextCache = { counter: ctx.counter, at: now, slots: slots.slice(0, 15), waiting };
    }
    if (s !== seq) return;
    const items = nextCache.slots.map((slot) => ({ slot, ok: true }));
    items.multiDay = true;
    items.waiting = nextCache.waiting;
    active = items.length ? 0 : -1;
    parsed.textContent = '';
    parsed.className = 'parsed';
    renderOptions(items, t('phone.next'));
  }

  async function onWhenInput() {
    const value = whenInput.value;
    if (!value.trim()) { shownDay = null; showNext().catch(showLoadProblem); return; }
    await ensureToday();
    const p = parseWhen(value, today);
    if (!p || p.error) {
      shownDay = null;
      parsed.textContent = t('phone.unparsed');
      parsed.className = 'parsed bad';
      options = [];
      renderOptions([], '');
      return;
    }
    parsed.className = 'parsed';
    parsed.textContent = t('phone.parsed', { when: fmtDate(p.date, lang, { year: true }) + (p.time ? ' ' + p.time.replace(/^0/, '') : '') });
    const s = ++seq;
    const days = await availability(p.date, p.date);
    if (s !== seq) return;
    shownDay = { date: p.date, time: p.time, day: days[0] };
    drawDay();
  }

  /** The typed day's slots, the one nearest the typed time active. */
  function drawDay() {
    const { date, time, day } = shownDay;
    const items = (day ? day.slots : []).map((slot) => ({ slot, day, ok: canTake(slot, day) }));
    let i = -1;
    if (time) i = items.findIndex((o) => fmtTime(o.slot.starts_at).padStart(5, '0') >= time && o.ok);
    if (time && i >= 0 && fmtTime(items[i].slot.starts_at).padStart(5, '0') !== time) {
      // The typed time is inside a slot: prefer the slot that contains it.
      const within = items.findIndex((o) => o.ok && fmtTime(o.slot.starts_at).padStart(5, '0') <= time && fmtTime(o.slot.ends_at).padStart(5, '0') > time);
      if (within >= 0) i = within;
    }
    if (i < 0) i = items.findIndex((o) => o.ok);
    active = i;
    if (day && !day.open) items.empty = closedWords(day.closed_reason);
    renderOptions(items, dayTitle(date, day));
  }

  function showLoadProblem(p) {
    parsed.className = 'parsed bad';
    parsed.textContent = p.title || String(p);
  }

  let debounce = null;
  whenInput.addEventListener('input', () => {
    clearTimeout(debounce);
    debounce = setTimeout(() => onWhenInput().catch(showLoadProblem), 180);
  });
  whenInput.addEventListener('keydown', async (e) => {
    if (e.key === 'ArrowDown') { e.preventDefault(); move(1); }
    else if (e.key === 'ArrowUp') { e.preventDefault(); move(-1); }
    else if (e.key === 'Enter') {
      e.preventDefault();
      clearTimeout(debounce);
      if (debounce) { debounce = null; await onWhenInput().catch(showLoadProblem); }
      const o = options[active];
      if (o && o.ok) choose(o.slot);
    } else if (e.key === 'Escape') {
      whenInput.value = '';
      shownDay = null;
      showNext().catch(showLoadProblem);
    }
  });

  function choose(slot) {
    chosen = slot;
    replace(chosenEl,
      h('span', null, t('phone.chosen'), ': ', h('strong', null, fmtSlot(slot, lang, { year: true })), ' ',
        slot.remaining > 0 ? t('phone.left', { n: slot.remaining }) : ''),
      h('button', { type: 'button', class: 'btn quiet small', onclick: () => { whenInput.focus(); whenInput.select(); } }, t('phone.change')));
    chosenEl.hidden = false;
    procSel.focus();
  }

  // ---- the caller's details and the booking ----

  applicantSel.addEventListener('change', () => { repField.hidden = applicantSel.value === 'holder'; });
  procSel.addEventListener('change', () => { party.defaults.procedure = procSel.value; });
  overrideBox.addEventListener('change', () => {
    overrideReason.hidden = !overrideBox.checked;
    // The typed day's slots outside the window become choosable, or stop being.
    if (shownDay) drawDay();
    if (chosen && !overrideBox.checked && !chosen.bookable) { chosen = null; chosenEl.hidden = true; }
  });
  const kana = $('#p-name_kana', form);
  const katakana = (s) => s.normalize('NFKC').replace(/[\u3041-\u3096]/g, (c) => String.fromCharCode(c.charCodeAt(0) + 0x60));
  kana.addEventListener('blur', () => { kana.value = katakana(kana.value); });
  // The same for each extra person's kana field (`p-party[i].name_kana`).
  partyEl.addEventListener('focusout', (e) => {
    if (e.target.id && e.target.id.endsWith('.name_kana')) e.target.value = katakana(e.target.value);
  });

  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    if (!chosen) {
      showProblem({ errors: [], title: t('phone.needSlot'), status: 400, code: 'no_slot' }, { form, summary, lang });
      whenInput.focus();
      return;
    }
    const v = (id) => $('#' + id, form).value.trim();
    const body = {
      slot_id: chosen.id,
      procedure: v('p-procedure'),
      applicant_type: v('p-applicant_type'),
      name: v('p-name'),
      name_kana: v('p-name_kana'),
      phone: v('p-phone'),
      email: v('p-email') || undefined,
      representative_name: applicantSel.value !== 'holder' ? v('p-representative_name') || '' : undefined,
      notes: v('p-notes') || undefined,
      party: party.count() ? party.values().map((m) => ({ ...m, name_kana: katakana(m.name_kana) })) : undefined,
    };
    if (isAdmin && overrideBox.checked) {
      body.override_window = true;
      body.override_reason = v('p-override_reason');
    }
    await busy(submitBtn, async () => {
      try {
        const r = await api(endpoints.staffReservations(), { method: 'POST', body });
        clearProblems(form, summary);
        nextCache = null;
        readBack(r);
        // The list shows the seat just taken.
        refreshList();
      } catch (p) {
        const extra = [];
        // Someone coming with the caller already holds a booking for their procedure: say who.
        const member = p.body && p.body.party_member;
        if (member) extra.push(h('p', { 'data-testid': 'party-member-has' }, t('party.memberHas', { name: member })));
        if ((p.code === 'window_closed' || p.code === 'window_not_open') && isAdmin && !overrideBox.checked) extra.push(t('phone.overrideHint'));
        showProblem(p, {
          form, summary, lang, labels: labels(), prefix: 'p-', extra,
          onAlternative: (slot) => { choose(slot); clearProblems(null, summary); submitBtn.focus(); },
        });
      }
    });
  });

  /** A reservation number's characters, each with how to read it out. */
  function numberChars(number) {
    return [...number].map((c) => h('span', { class: 'ch' + (c === '-' ? ' dash' : '') },
      h('b', null, c), h('small', null, lang === 'en' ? READING_EN[c] || '' : READING[c] || '')));
  }

  /** The people booked with the caller: each one's number to read out, and what they bring. */
  function partyReadBack(members) {
    if (!members.length) return null;
    return h('div', { class: 'party-readback', 'data-testid': 'readback-party' },
      h('h3', null, t('party.numbers')),
      h('ol', { class: 'plain' }, members.map((m, i) => {
        const procedure = ctx.procedures.find((p) => p.id === m.procedure);
        const bring = h('details', { class: 'bring' });
        renderBring(bring, procedure, m.applicant_type, t, { collapsed: true, headingLevel: 4 });
        return h('li', { 'data-testid': 'readback-member', 'data-number': m.reservation_number },
          h('p', { class: 'member' }, h('span', { class: 'person' }, t('party.person', { n: i + 2 })), ' ',
            h('span', { class: 'kana' }, m.name_kana, ' 様')),
          h('div', { class: 'big-number', 'aria-label': m.reservation_number, 'data-testid': 'readback-member-number' }, numberChars(m.reservation_number)),
          h('p', null, procedure ? procedureName(procedure, lang) : m.procedure, ' ・ ', t('applicant.' + m.applicant_type),
            m.representative_name ? ` (${t('party.representative_name')}: ${m.representative_name})` : ''),
          bring);
      })));
  }

  function readBack(r) {
    const chars = numberChars(r.reservation_number);
    const nextBtn = h('button', { type: 'button', class: 'btn big', id: 'next-call', onclick: reset }, t('phone.nextCall'));
    const printBtn = h('button', { type: 'button', class: 'btn', id: 'print-slip', onclick: () => window.print() }, t('phone.print'));
    const counter = ctx.counters.find((c) => c.id === r.counter) || {};
    const procedure = ctx.procedures.find((p) => p.id === r.procedure);
    const bring = h('div', { class: 'bring', 'data-testid': 'readback-bring' });
    renderBring(bring, procedure, r.applicant_type, t, { headingLevel: 3 });
    replace(result,
      h('h2', { id: 'readback-h', class: 'no-print' }, t('phone.done')),
      // On paper (the slip posted to a caller without an address): a title, and where to come.
      h('h2', { class: 'print-only' }, t('phone.slip')),
      h('div', { class: 'readback' },
        h('p', { class: 'hint' }, t('phone.number')),
        h('div', { class: 'big-number', 'aria-label': r.reservation_number, 'data-testid': 'readback-number', 'data-number': r.reservation_number }, chars),
        h('p', { class: 'kana' }, r.name_kana, ' 様'),
        h('p', { class: 'when' }, fmtSlot(r.slot, lang, { year: true })),
        h('p', null, counter.name || r.counter, counter.phone ? ` (☎ ${counter.phone})` : ''),
        counter.address ? h('p', { class: 'print-only' }, counter.address) : null,
        h('p', { 'data-testid': 'readback-procedure' }, t('f.procedure'), ': ',
          procedure ? procedureName(procedure, lang) : r.procedure, ' ・ ', t('applicant.' + r.applicant_type)),
        r.visits > 1 && r.visit !== 2 ? h('p', { class: 'notice no-print', 'data-testid': 'readback-visits' }, t('phone.twoVisits', { n: r.visits })) : null,
        bring,
        partyReadBack(r.party || []),
        r.email
          ? h('p', { class: 'hint' }, t('phone.mailed', { email: r.email }))
          : h('p', { class: 'notice no-print', 'data-testid': 'readback-nomail' }, t('phone.noMail')),
        h('div', { class: 'actions no-print' }, nextBtn, printBtn)));
    caller.hidden = true;
    result.hidden = false;
    nextBtn.focus();
    result.scrollIntoView({ block: 'start' });
  }

  function refreshList() {
    if (whenInput.value.trim()) onWhenInput().catch(showLoadProblem);
    else showNext().catch(showLoadProblem);
  }

  function reset() {
    form.reset();
    shownDay = null;
    chosen = null;
    chosenEl.hidden = true;
    repField.hidden = true;
    overrideReason.hidden = true;
    newParty();
    clearProblems(form, summary);
    result.hidden = true;
    caller.hidden = false;
    whenInput.value = '';
    showNext().catch(showLoadProblem);
    whenInput.focus();
  }

  ctx.onCounterChange = () => {
    nextCache = null; today = null; chosen = null; chosenEl.hidden = true;
    // The other counter may take fewer people in one booking: those typed in are kept as far as it does.
    newParty(party.values());
    onWhenInput().catch(showLoadProblem);
  };
  newParty();
  showNext().catch(showLoadProblem);
  whenInput.focus();
  return () => clearTimeout(debounce);
}
