// Administration: slot capacity, closures, staff accounts (a kiosk's with its counter), the
// mail outbox, the audit log, statistics (charts with their figures in tables, and a CSV
// download) and the scheduled jobs with their latest runs.

import { api, serverClock } from '../lib/api.js';
import * as endpoints from '../lib/endpoints.js';
import { h, replace, busy, focusTo } from '../lib/dom.js';
import { parts, addDays, fmtDate, fmtTime, fmtStamp } from '../lib/format.js';
import { showProblem, clearProblems, markField, fieldMessage } from '../lib/problem.js';
import { modal, confirmDialog } from '../lib/dialog.js';
import { closedReasons } from '../lib/words.js';
import { chart, legend, fitted, STYLES } from '../lib/charts.js';

const head = (t, key, ...extra) => h('div', { class: 'view-head' }, h('h1', null, t(key)), ...extra);
const field = (id, label, control, hint) => h('div', { class: 'field' },
  h('label', { for: id }, label), hint ? h('span', { class: 'hint', id: id + '-hint' }, hint) : null, control);
// A column of buttons has no title on screen; a screen reader hears what it holds.
const ACTIONS = { ja: '操作', en: 'Actions' };
const table = (cols, rows, testid) => h('div', { class: 'table-wrap' }, h('table', { class: 'data', 'data-testid': testid },
  h('thead', null, h('tr', null, cols.map((c) => h('th', { scope: 'col' },
    c === '' ? h('span', { class: 'visually-hidden' }, ACTIONS[document.documentElement.lang] || ACTIONS.ja) : c)))),
  h('tbody', null, rows)));
// A closed day's reason in the server's words (lib/words.js).
let reasonWords = {};
if (typeof document !== 'undefined') closedReasons(document.documentElement.lang).then((r) => { reasonWords = r; });
const today = () => serverClock.today();

/** The next weekday from today (a sensible default day to look at). */
function nextWorkday() {
  let d = today();
  for (let i = 0; i < 7; i++) {
    d = addDays(d, 1);
    const dow = parts(d).dow;
    if (dow !== 0 && dow !== 6) return d;
  }
  return d;
}

// ---------- slot capacity ----------

export function mountSlots(root, ctx) {
  const { t, lang } = ctx;
  const date = h('input', { type: 'date', id: 'a-date', value: nextWorkday() });
  const showBtn = h('button', { type: 'submit', class: 'btn' }, t('slots.show'));
  const summary = h('div', { class: 'error-summary', hidden: true });
  const body = h('div');
  const allInput = h('input', { type: 'number', id: 'a-all', min: 0, max: 99, inputmode: 'numeric' });
  const allBtn = h('button', { type: 'button', class: 'btn secondary small' }, t('slots.allApply'));
  const form = h('form', { class: 'inline-form', novalidate: true }, field('a-date', t('slots.date'), date), showBtn);
  replace(root, head(t, 'slots.h'), h('section', { class: 'card' }, summary, form, body));
  let current = [];

  async function load() {
    if (!date.value) return;
    try {
      const data = await api(endpoints.availability(ctx.counter, date.value, date.value));
      clearProblems(null, summary);
      const d = data.days[0];
      if (!d || !d.open) {
        current = [];
        replace(body, h('p', { class: 'notice' }, t('slots.closed', { reason: d ? (reasonWords[d.closed_reason] || d.closed_reason || '') : '' })));
        return;
      }
      current = d.slots;
      // Seats held for phone bookings (until phone_release_at): a column only when there are some.
      const hasHeld = !!d.phone_release_at;
      replace(body,
        h('p', null, fmtDate(d.date, lang, { year: true }), d.hours ? ` ${d.hours.opens}〜${d.hours.closes}` : '',
          d.waiting > 0 ? ` ・ ${t('phone.waiting', { n: d.waiting })}` : ''),
        table([t('slots.time'), t('slots.capacity'), t('slots.remaining'), hasHeld ? t('slots.held') : null, ''].filter((x) => x !== null),
          d.slots.map((s) => row(s, hasHeld)), 'slots'),
        h('div', { class: 'inline-form' }, h('label', { for: 'a-all' }, t('slots.all')), allInput, allBtn));
    } catch (p) {
      showProblem(p, { summary, lang });
    }
  }

  function row(s, hasHeld) {
    const id = 'cap-' + s.id.replace(/[^A-Za-z0-9-]/g, '_');
    const input = h('input', { type: 'number', id, min: 0, max: 99, value: s.capacity, inputmode: 'numeric', 'aria-label': `${t('slots.capacity')} ${fmtTime(s.starts_at)}` });
    const cell = h('td', null, input);
    const remaining = h('td', { class: 'num' }, s.remaining);
    const save = h('button', { type: 'button', class: 'btn small', 'data-slot': s.id }, t('save'));
    save.addEventListener('click', () => busy(save, () => saveCapacity(s, input, cell, remaining)));
    input.addEventListener('keydown', (e) => { if (e.key === 'Enter') { e.preventDefault(); save.click(); } });
    return h('tr', { 'data-slot': s.id },
      h('td', null, `${fmtTime(s.starts_at)}〜${fmtTime(s.ends_at)}`),
      cell, remaining,
      hasHeld ? h('td', { class: 'num' }, s.held_for_phone) : null,
      h('td', null, save));
  }

  async function saveCapacity(s, input, cell, remaining) {
    for (const e of cell.querySelectorAll('.field-error')) e.remove();
    input.removeAttribute('aria-invalid');
    try {
      const r = await api(endpoints.adminSlot(s.id), { method: 'PUT', body: { capacity: Number(input.value) } });
      input.value = r.capacity;
      remaining.textContent = r.remaining;
      ctx.toast(t('slots.saved', { time: fmtTime(s.starts_at), n: r.capacity }));
      return r;
    } catch (p) {
      const msg = p.errors.length ? fieldMessage(p.errors[0], lang) : `${p.title}${p.detail && p.detail !== p.title ? ' ' + p.detail : ''}`;
      markField(input, msg);
      input.focus();
      return null;
    }
  }

  allBtn.addEventListener('click', () => busy(allBtn, async () => {
    const n = Number(allInput.value);
    if (allInput.value === '' || Number.isNaN(n)) { allInput.focus(); return; }
    let ok = true;
    for (const tr of body.querySelectorAll('tr[data-slot]')) {
      const s = current.find((x) => x.id === tr.dataset.slot);
      const input = tr.querySelector('input');
      input.value = n;
      const r = await saveCapacity(s, input, input.parentElement, tr.children[2]);
      if (!r) ok = false;
    }
    if (ok) ctx.toast(t('slots.allSaved', { n }));
  }));

  form.addEventListener('submit', (e) => { e.preventDefault(); load(); });
  ctx.onCounterChange = load;
  load();
}

// ---------- closures ----------

export function mountClosures(root, ctx) {
  const { t, lang } = ctx;
  const date = h('input', { type: 'date', id: 'cl-date', name: 'date', required: true });
  const reason = h('input', { id: 'cl-reason', name: 'reason', maxlength: 200, 'aria-describedby': 'cl-reason-hint' });
  const cancelBox = h('input', { type: 'checkbox', id: 'cl-cancel_reservations', name: 'cancel_reservations' });
  const submit = h('button', { type: 'submit', class: 'btn danger' }, t('closures.submit'));
  const summary = h('div', { class: 'error-summary', hidden: true });
  const form = h('form', { novalidate: true, id: 'closure-form' },
    summary,
    h('div', { class: 'inline-form' },
      field('cl-date', t('closures.date'), date),
      h('div', { class: 'field grow' }, h('label', { for: 'cl-reason' }, t('closures.reason')), h('span', { class: 'hint', id: 'cl-reason-hint' }, t('closures.reason.hint')), reason)),
    h('div', { class: 'field' }, h('label', { class: 'checkbox', for: 'cl-cancel_reservations' }, cancelBox, h('span', null, t('closures.cancel')))),
    submit);
  const list = h('div');
  replace(root, head(t, 'closures.h'),
    h('div', { class: 'cols even' },
      h('section', { class: 'card', 'aria-labelledby': 'cl-add-h' }, h('h2', { id: 'cl-add-h' }, t('closures.add')), form),
      h('section', { class: 'card', 'aria-labelledby': 'cl-list-h' }, h('h2', { id: 'cl-list-h' }, t('closures.list')), list)));

  async function load() {
    try {
      const from = addDays(today(), -31);
      const data = await api(endpoints.adminClosures(ctx.counter, { from, to: addDays(from, 400) }));
      replace(list, data.closures.length
        ? table([t('closures.date'), t('closures.reason'), t('closures.by'), ''], data.closures.map((c) => h('tr', { 'data-date': c.date },
          h('td', null, fmtDate(c.date, lang, { year: true })),
          h('td', null, c.reason),
          h('td', null, c.created_by || '', h('br'), h('small', null, fmtStamp(c.created_at))),
          h('td', null, h('button', { type: 'button', class: 'btn small secondary', onclick: () => lift(c) }, t('closures.lift'))))), 'closures')
        : h('p', { class: 'empty' }, t('none')));
    } catch (p) {
      replace(list, h('p', { class: 'notice danger' }, p.title || p.message));
    }
  }

  async function lift(c) {
    const ok = await confirmDialog({
      title: t('closures.lift.h', { date: fmtDate(c.date, lang) }), body: t('closures.lift.body'),
      ok: t('closures.lift'), cancel: t('cancel'), testid: 'lift-dialog',
    });
    if (!ok) return;
    try {
      await api(endpoints.adminClosure(ctx.counter, c.date), { method: 'DELETE' });
      ctx.toast(t('closures.lifted', { date: fmtDate(c.date, lang) }));
      load();
    } catch (p) {
      ctx.toast(p.title || p.message, true);
    }
  }

  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    await busy(submit, async () => {
      try {
        const r = await api(endpoints.adminClosures(ctx.counter), {
          method: 'POST', body: { date: date.value, reason: reason.value.trim(), cancel_reservations: cancelBox.checked },
        });
        clearProblems(form, summary);
        ctx.toast(t('closures.added', {
          date: fmtDate(r.date, lang), n: (r.cancelled_reservations || []).length, w: r.waitlist_ended ?? 0,
        }));
        form.reset();
        load();
      } catch (p) {
        const extra = p.code === 'day_has_reservations' ? [t('closures.hasReservations')] : [];
        showProblem(p, { form, summary, lang, prefix: 'cl-', extra, labels: { date: t('closures.date'), reason: t('closures.reason') } });
        if (p.code === 'day_has_reservations') cancelBox.focus();
      }
    });
  });
  ctx.onCounterChange = load;
  load();
}

// ---------- lotteries (抽選予約) ----------

/** `YYYY-MM-DDTHH:MM` typed in the counter's zone (Japan) as an RFC 3339 instant. */
const jst = (local) => (local ? `${local}:00+09:00` : '');

export function mountLotteries(root, ctx) {
  const { t, lang } = ctx;
  const month = h('input', { type: 'month', id: 'lo-month', name: 'month', required: true });
  const open = h('input', { type: 'datetime-local', id: 'lo-applications_open', name: 'applications_open', required: true });
  const close = h('input', { type: 'datetime-local', id: 'lo-applications_close', name: 'applications_close', required: true });
  const draw = h('input', { type: 'datetime-local', id: 'lo-draw_at', name: 'draw_at', required: true });
  const submit = h('button', { type: 'submit', class: 'btn' }, t('lotteries.submit'));
  const summary = h('div', { class: 'error-summary', hidden: true });
  const labels = { month: t('lotteries.month'), applications_open: t('lotteries.open'), applications_close: t('lotteries.close'), draw_at: t('lotteries.draw') };
  const form = h('form', { novalidate: true, id: 'lottery-form' },
    summary,
    h('p', { class: 'hint' }, t('lotteries.hint')),
    h('div', { class: 'inline-form' },
      field('lo-month', labels.month, month),
      field('lo-applications_open', labels.applications_open, open),
      field('lo-applications_close', labels.applications_close, close),
      field('lo-draw_at', labels.draw_at, draw)),
    submit);
  const list = h('div');
  replace(root, head(t, 'lotteries.h'),
    h('div', { class: 'cols even' },
      h('section', { class: 'card', 'aria-labelledby': 'lo-add-h' }, h('h2', { id: 'lo-add-h' }, t('lotteries.add')), form),
      h('section', { class: 'card', 'aria-labelledby': 'lo-list-h' }, h('h2', { id: 'lo-list-h' }, t('lotteries.list')), list)));

  async function load() {
    try {
      const data = await api(`${endpoints.lotteries()}?counter=${encodeURIComponent(ctx.counter)}`);
      replace(list, data.lotteries.length
        ? table([labels.month, t('lotteries.status'), t('lotteries.entries'), labels.draw_at, t('lotteries.seed')], data.lotteries.map((l) => h('tr', { 'data-lottery': l.id },
          h('td', null, l.month),
          h('td', null, t('lotteries.status.' + l.status), l.won != null ? [h('br'), h('small', null, `${t('lotteries.won')} ${l.won}`)] : null),
          h('td', null, String(l.entries)),
          h('td', null, fmtStamp(l.draw_at)),
          h('td', null, h('code', { class: 'hash', 'data-field': 'seed_sha256' }, l.seed_sha256), l.seed ? [h('br'), h('code', { class: 'hash', 'data-field': 'seed' }, l.seed)] : null))), 'lotteries')
        : h('p', { class: 'empty' }, t('none')));
    } catch (p) {
      replace(list, h('p', { class: 'notice danger' }, p.title || p.message));
    }
  }

  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    await busy(submit, async () => {
      try {
        const r = await api(endpoints.adminLotteries(), {
          method: 'POST',
          body: { counter: ctx.counter, month: month.value, applications_open: jst(open.value), applications_close: jst(close.value), draw_at: jst(draw.value) },
        });
        clearProblems(form, summary);
        ctx.toast(t('lotteries.made', { month: r.month }));
        form.reset();
        load();
      } catch (p) {
        showProblem(p, { form, summary, lang, prefix: 'lo-', labels });
      }
    });
  });
  ctx.onCounterChange = load;
  load();
}

// ---------- staff accounts ----------

function generatePassword() {
  const alphabet = 'abcdefghijkmnpqrstuvwxyzACDEFHJKLMNPRTUVWXY345679';
  const bytes = new Uint8Array(16);
  crypto.getRandomValues(bytes);
  return [...bytes].map((b) => alphabet[b % alphabet.length]).join('').replace(/(.{4})(?!$)/g, '$1-');
}

/** A kiosk's page, the address its terminal opens (a page of the site, not the API). */
const kioskPath = (counter) => `/kiosk/${encodeURIComponent(counter)}`;

/**
 * A link to a kiosk's page, opened in a new tab (the console stays): the whole address when it
 * is to be typed on the terminal, else the path; it may break after its slashes on a narrow
 * screen.
 */
function kioskLink(t, counter, { whole = false, testid = 'kiosk-link' } = {}) {
  return h('a', { href: kioskPath(counter), target: '_blank', rel: 'noopener', 'data-testid': testid },
    whole ? [location.origin, h('wbr')] : null, '/kiosk/', h('wbr'), encodeURIComponent(counter),
    h('span', { class: 'visually-hidden' }, t('staff.kiosk.newTab')));
}

export function mountStaff(root, ctx) {
  const { t, lang } = ctx;
  const roles = ['phone', 'desk', 'admin', 'kiosk'];
  const counterName = (id) => { const c = ctx.counters.find((x) => x.id === id); return c ? (lang === 'en' && c.name_en ? c.name_en : c.name) : id; };
  /** The counters to choose from, none chosen at first (a kiosk's counter is never assumed). */
  const counterSelect = (id, chosen) => h('select', { id, name: 'counter', 'aria-describedby': id + '-hint' },
    h('option', { value: '' }, t('f.choose')),
    ctx.counters.map((c) => h('option', { value: c.id, selected: c.id === chosen }, counterName(c.id))));
  const requiredField = (id, label, control) => h('div', { class: 'field' },
    h('label', { for: id }, label, h('span', { class: 'req' }, t('required'))), control);
  const login = h('input', { id: 'st-login', name: 'login', autocomplete: 'off', autocapitalize: 'off', spellcheck: 'false' });
  const name = h('input', { id: 'st-display_name', name: 'display_name', autocomplete: 'off' });
  const role = h('select', { id: 'st-role', name: 'role' }, roles.map((r) => h('option', { value: r }, t('role.' + r))));
  // A kiosk: its counter (required), and what it is, under the role while it is chosen.
  const counter = counterSelect('st-counter');
  const address = h('p', { 'data-testid': 'kiosk-address' });
  const kioskFields = h('div', { 'data-testid': 'kiosk-fields', hidden: true },
    h('div', { class: 'inline-form' }, requiredField('st-counter', t('staff.counter'), counter)),
    h('div', { class: 'notice', id: 'st-counter-hint' }, h('p', null, t('staff.kiosk.note')), address));
  const password = h('input', { id: 'st-password', name: 'password', type: 'text', autocomplete: 'new-password', spellcheck: 'false', 'aria-describedby': 'st-password-hint' });
  const gen = h('button', { type: 'button', class: 'btn small secondary', onclick: () => { password.value = generatePassword(); password.focus(); } }, t('staff.generate'));
  const submit = h('button', { type: 'submit', class: 'btn' }, t('staff.submit'));
  const summary = h('div', { class: 'error-summary', hidden: true });
  const form = h('form', { novalidate: true, id: 'staff-form' }, summary,
    h('div', { class: 'inline-form' },
      field('st-login', t('staff.login'), login),
      field('st-display_name', t('staff.display_name'), name),
      field('st-role', t('staff.role'), role)),
    kioskFields,
    h('div', { class: 'inline-form' }, field('st-password', t('staff.password'), password, t('staff.password.hint')), gen),
    submit);
  const list = h('div');
  replace(root, head(t, 'staff.h'),
    h('section', { class: 'card', 'aria-labelledby': 'st-list-h' }, h('h2', { id: 'st-list-h', class: 'visually-hidden' }, t('staff.h')), list),
    h('section', { class: 'card', 'aria-labelledby': 'st-add-h' }, h('h2', { id: 'st-add-h' }, t('staff.add')), form));
  const LABELS = { login: t('staff.login'), display_name: t('staff.display_name'), role: t('staff.role'), password: t('staff.password'), counter: t('staff.counter') };

  /** The address the terminal opens, once a counter is chosen. */
  function showAddress() {
    replace(address, counter.value ? [t('staff.kiosk.page'), ' ', kioskLink(t, counter.value, { whole: true })] : t('staff.kiosk.pageLater'));
  }
  function syncRole() {
    kioskFields.hidden = role.value !== 'kiosk';
    showAddress();
  }
  role.addEventListener('change', syncRole);
  counter.addEventListener('change', showAddress);
  syncRole();

  /**
   * The server's problem with a kiosk's counter, on the counter's field: "required" in the
   * words of a list to choose from, and an unknown counter (404, a list older than the server's
   * counters) there too rather than at the top alone.
   */
  function counterProblem(p) {
    if (p.code === 'counter_not_found') return { ...p, errors: [{ field: 'counter', code: p.code, message: t('staff.counter.unknown') }] };
    const errors = p.errors.map((e) => (e.field === 'counter' && e.code === 'required' ? { ...e, code: 'counter_required', message: t('staff.counter.required') } : e));
    return { ...p, errors };
  }

  async function load() {
    try {
      const data = await api(endpoints.adminStaff());
      replace(list, table([t('staff.login'), t('staff.display_name'), t('staff.role'), t('staff.state'), t('staff.totp'), t('staff.updated'), ''],
        data.staff.map((s) => staffRow(s)), 'staff'));
    } catch (p) {
      replace(list, h('p', { class: 'notice danger' }, p.title || p.message));
    }
  }

  async function patch(s, body) {
    try {
      const r = await api(endpoints.adminStaffMember(s.login), { method: 'PATCH', body });
      ctx.toast(t('staff.changed', { login: s.login }));
      return r;
    } catch (p) {
      ctx.toast(`${s.login}: ${p.title}${p.detail && p.detail !== p.title ? ' ' + p.detail : ''}`, true);
      return null;
    } finally {
      load();
    }
  }

  function staffRow(s) {
    const me = s.login === ctx.user.login;
    const kiosk = s.role === 'kiosk';
    const roleSel = h('select', { 'aria-label': `${t('staff.role')} ${s.login}`, 'data-login': s.login },
      roles.map((r) => h('option', { value: r, selected: r === s.role }, t('role.' + r))));
    roleSel.addEventListener('change', async () => {
      // Another account becomes a kiosk at a counter: which one is asked first.
      if (roleSel.value === 'kiosk' && !kiosk) {
        if (!(await chooseCounter(s, { role: 'kiosk' }))) roleSel.value = s.role;
        return;
      }
      patch(s, { role: roleSel.value });
    });
    return h('tr', { 'data-login': s.login, class: s.disabled ? 'cancelled' : null },
      h('td', { class: 'mono' }, s.login, me ? h('small', null, ' ' + t('staff.you')) : null),
      h('td', { class: 'name' }, s.display_name),
      h('td', null, roleSel,
        kiosk ? h('small', { class: 'hint', 'data-testid': 'kiosk-counter', 'data-counter': s.counter || '' },
          t('staff.kiosk.at', { counter: s.counter ? counterName(s.counter) : '—' }),
          s.counter ? [' ', kioskLink(t, s.counter)] : null) : null),
      h('td', null, h('span', { class: 'status-badge ' + (s.disabled ? 'cancelled' : 'confirmed') }, t(s.disabled ? 'staff.disabled' : 'staff.enabled'))),
      h('td', { 'data-testid': 'totp' }, h('span', { class: 'status-badge ' + (s.totp_enrolled ? 'confirmed' : '') }, t(s.totp_enrolled ? 'staff.totp.on' : 'staff.totp.off'))),
      h('td', null, fmtStamp(s.updated_at)),
      h('td', { class: 'actions-cell' },
        h('button', { type: 'button', class: 'btn small ' + (s.disabled ? 'secondary' : 'danger'), 'data-action': s.disabled ? 'enable' : 'disable', onclick: () => patch(s, { disabled: !s.disabled }) }, t(s.disabled ? 'staff.enable' : 'staff.disable')),
        h('button', { type: 'button', class: 'btn small secondary', 'data-action': 'rename', onclick: () => rename(s) }, t('staff.rename')),
        kiosk ? h('button', { type: 'button', class: 'btn small secondary', 'data-action': 'counter', onclick: () => chooseCounter(s, {}) }, t('staff.kiosk.change')) : null,
        h('button', { type: 'button', class: 'btn small secondary', 'data-action': 'reset', onclick: () => reset(s) }, t('staff.reset')),
        s.totp_enrolled && !me ? h('button', { type: 'button', class: 'btn small secondary', 'data-action': 'remove-totp', onclick: () => removeTotp(s) }, t('staff.totp.remove')) : null));
  }

  /**
   * A kiosk's counter asked for in a dialog: an account made a kiosk (`change` = {role:
   * 'kiosk'}), or a kiosk moved to another counter ({}). Either ends its sessions. Resolves
   * the account as it now is, or false when left alone.
   */
  async function chooseCounter(s, change) {
    const becoming = change.role === 'kiosk';
    const sel = counterSelect('kc-counter', becoming ? null : s.counter);
    const sum = h('div', { class: 'error-summary', hidden: true });
    const box = h('div', null, sum,
      h('p', { id: 'kc-counter-hint' }, t('staff.kiosk.note'), ' ', t('staff.kiosk.sessions')),
      requiredField('kc-counter', t('staff.counter'), sel));
    const r = await modal({
      title: t(becoming ? 'staff.kiosk.role.h' : 'staff.kiosk.counter.h', { login: s.login, name: s.display_name }),
      content: [box], ok: becoming ? t('staff.kiosk.role.ok') : t('save'), cancel: t('cancel'),
      testid: 'kiosk-counter-dialog', initialFocus: '#kc-counter',
      onOk: async () => {
        try {
          return await api(endpoints.adminStaffMember(s.login), { method: 'PATCH', body: { ...change, counter: sel.value } });
        } catch (p) {
          showProblem(counterProblem(p), { form: box, summary: sum, lang, prefix: 'kc-', labels: LABELS });
          throw p;
        }
      },
    });
    if (!r) return false;
    ctx.toast(t('staff.kiosk.changed', { login: s.login, counter: counterName(r.counter) }));
    await load();
    const again = list.querySelector(`tr[data-login="${CSS.escape(s.login)}"] select`);
    if (again) again.focus();
    return r;
  }

  /** A lost phone: the account's second factor removed (its sessions end), once confirmed. */
  async function removeTotp(s) {
    const ok = await confirmDialog({
      title: t('staff.totp.remove.h', { login: s.login, name: s.display_name }),
      body: t('staff.totp.remove.body'),
      ok: t('staff.totp.remove.ok'), cancel: t('cancel'), danger: true, testid: 'remove-totp-dialog',
    });
    if (!ok) return;
    try {
      await api(endpoints.adminStaffTotp(s.login), { method: 'DELETE' });
      ctx.toast(t('staff.totp.removed', { login: s.login }));
    } catch (p) {
      if (p.status === 401) return;
      ctx.toast(`${s.login}: ${p.title}${p.detail && p.detail !== p.title ? ' ' + p.detail : ''}`, true);
    }
    await load();
    const cell = list.querySelector(`tr[data-login="${CSS.escape(s.login)}"] td[data-testid="totp"]`);
    if (cell) focusTo(cell);
  }

  async function rename(s) {
    const input = h('input', { id: 'rn-display_name', value: s.display_name, maxlength: 50 });
    const sum = h('div', { class: 'error-summary', hidden: true });
    const box = h('div', null, sum, field('rn-display_name', t('staff.display_name'), input));
    const r = await modal({
      title: `${t('staff.rename')}: ${s.login}`, content: [box], ok: t('save'), cancel: t('cancel'), initialFocus: '#rn-display_name',
      onOk: async () => {
        try {
          return await api(endpoints.adminStaffMember(s.login), { method: 'PATCH', body: { display_name: input.value.trim() } });
        } catch (p) {
          showProblem(p, { form: box, summary: sum, lang, prefix: 'rn-', labels: LABELS });
          throw p;
        }
      },
    });
    if (r) { ctx.toast(t('staff.changed', { login: s.login })); load(); }
  }

  async function reset(s) {
    const input = h('input', { id: 'pw-password', type: 'text', autocomplete: 'new-password', value: generatePassword(), spellcheck: 'false' });
    const sum = h('div', { class: 'error-summary', hidden: true });
    const box = h('div', null, sum, h('p', null, t('staff.reset.body')), field('pw-password', t('staff.password'), input, t('staff.password.hint')));
    const r = await modal({
      title: t('staff.reset.h', { login: s.login }), content: [box], ok: t('staff.reset'), cancel: t('cancel'), danger: true,
      testid: 'reset-dialog', initialFocus: '#pw-password',
      onOk: async () => {
        try {
          await api(endpoints.adminStaffPassword(s.login), { method: 'PUT', body: { password: input.value } });
          return true;
        } catch (p) {
          showProblem(p, { form: box, summary: sum, lang, prefix: 'pw-', labels: LABELS });
          throw p;
        }
      },
    });
    if (r) ctx.toast(t('staff.reset.done', { login: s.login }));
  }

  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    await busy(submit, async () => {
      const body = { login: login.value.trim(), display_name: name.value.trim(), role: role.value, password: password.value };
      // Only a kiosk has a counter (the server checks a counter sent with any role).
      if (role.value === 'kiosk') body.counter = counter.value;
      try {
        const r = await api(endpoints.adminStaff(), { method: 'POST', body });
        clearProblems(form, summary);
        ctx.toast(r.role === 'kiosk'
          ? t('staff.added.kiosk', { login: r.login, counter: counterName(r.counter) })
          : t('staff.added', { login: r.login }));
        form.reset();
        syncRole();
        load();
      } catch (p) {
        showProblem(counterProblem(p), { form, summary, lang, prefix: 'st-', labels: LABELS });
      }
    });
  });
  load();
}

// ---------- the outbox ----------

export function mountOutbox(root, ctx) {
  const { t } = ctx;
  const statuses = ['', 'pending', 'sending', 'sent', 'failed'];
  const status = h('select', { id: 'ob-status' }, statuses.map((s) => h('option', { value: s }, s ? t('outbox.st.' + s) : t('all'))));
  const refresh = h('button', { type: 'submit', class: 'btn secondary' }, t('refresh'));
  const list = h('div');
  const form = h('form', { class: 'inline-form', novalidate: true }, field('ob-status', t('outbox.status'), status), refresh);
  replace(root, head(t, 'outbox.h'), h('section', { class: 'card' }, form, list));
  async function load() {
    try {
      const data = await api(endpoints.adminOutbox(status.value));
      replace(list, h('p', { class: 'count' }, t('search.count', { n: data.mails.length })), data.mails.length
        ? table([t('outbox.created'), t('outbox.kind'), t('outbox.to'), t('outbox.subject'), t('outbox.status'), t('outbox.attempts'), t('outbox.error'), t('outbox.next'), t('outbox.sent')],
          data.mails.map((m) => h('tr', { 'data-status': m.status },
            h('td', null, fmtStamp(m.created_at)), h('td', null, m.kind), h('td', null, m.recipient), h('td', null, m.subject),
            h('td', null, h('span', { class: 'status-badge ' + (m.status === 'failed' ? 'cancelled' : m.status === 'sent' ? 'confirmed' : 'waiting') }, t('outbox.st.' + m.status))),
            h('td', { class: 'num' }, m.attempts), h('td', null, m.last_error || ''),
            h('td', null, m.status === 'sent' ? '' : fmtStamp(m.next_attempt_at)), h('td', null, m.sent_at ? fmtStamp(m.sent_at) : ''))), 'outbox')
        : h('p', { class: 'empty' }, t('none')));
    } catch (p) {
      replace(list, h('p', { class: 'notice danger' }, p.title || p.message));
    }
  }
  form.addEventListener('submit', (e) => { e.preventDefault(); load(); });
  status.addEventListener('change', load);
  load();
}

// ---------- the audit log ----------

export function mountAudit(root, ctx) {
  const { t } = ctx;
  const dayAgo = new Date(serverClock.now() + 9 * 3600 * 1000 - 86400000).toISOString().slice(0, 16);
  const since = h('input', { type: 'datetime-local', id: 'au-since', value: dayAgo, step: 60 });
  const filter = h('input', { type: 'search', id: 'au-filter', autocomplete: 'off' });
  const show = h('button', { type: 'submit', class: 'btn' }, t('slots.show'));
  const summary = h('div', { class: 'error-summary', hidden: true });
  const list = h('div');
  const form = h('form', { class: 'inline-form', novalidate: true },
    field('au-since', t('audit.since') + ' (JST)', since), h('div', { class: 'field grow' }, h('label', { for: 'au-filter' }, t('audit.filter')), filter), show);
  replace(root, head(t, 'audit.h'), h('section', { class: 'card' }, summary, form, list));
  let entries = [];
  function render() {
    const q = filter.value.trim().toLowerCase();
    const shown = q ? entries.filter((e) => JSON.stringify(e).toLowerCase().includes(q)) : entries;
    replace(list, h('p', { class: 'count' }, t('search.count', { n: shown.length })), shown.length
      ? table([t('audit.at'), t('audit.staff'), t('audit.action'), t('audit.target'), t('audit.detail')],
        shown.map((e) => h('tr', null,
          h('td', null, fmtStamp(e.at)), h('td', { class: 'mono' }, e.staff || ''), h('td', null, e.action), h('td', { class: 'mono' }, e.target || ''),
          h('td', null, e.detail && Object.keys(e.detail).length
            ? h('details', { class: 'detail' }, h('summary', null, summarise(e.detail)), h('pre', null, JSON.stringify(e.detail, null, 2)))
            : ''))), 'audit')
      : h('p', { class: 'empty' }, t('none')));
  }
  function summarise(d) {
    // Empty values say nothing (an override's reason on a booking without one is null).
    const s = Object.entries(d).filter(([, v]) => v !== null && v !== undefined && v !== '')
      .map(([k, v]) => `${k}: ${typeof v === 'object' ? JSON.stringify(v) : v}`).join(', ');
    return s.length > 60 ? s.slice(0, 60) + '…' : s;
  }
  async function load() {
    try {
      const at = since.value ? `${since.value.length === 16 ? since.value + ':00' : since.value}+09:00` : '';
      const data = await api(endpoints.adminAudit(at));
      clearProblems(null, summary);
      entries = data.entries.slice().reverse().sort((a, b) => (a.at < b.at ? 1 : a.at > b.at ? -1 : 0));
      render();
    } catch (p) {
      showProblem(p, { summary, lang: ctx.lang });
    }
  }
  form.addEventListener('submit', (e) => { e.preventDefault(); load(); });
  filter.addEventListener('input', render);
  load();
}

// ---------- statistics ----------

/**
 * Each day from `from` to `to` with its figures, every procedure together. Counts are summed
 * from the days' rows (one per procedure). Waits are the day's own, from `waits` (the answer's
 * `day_waits` of the counter shown): the median and 90th percentile of every ticket called that
 * day, whatever its procedure (the procedures' percentiles do not add up to the day's), and
 * how many were called; a day with rows but no waits called nobody (null). A day with no row has
 * no figures, never zeros: before `today` nothing was booked or served there (or the counter
 * was closed), and from `today` on the evening's run has not counted it yet (`gap`: 'none' |
 * 'pending'); such a day stays a gap on every chart, its waits too.
 */
export function dayFigures(rows, from, to, today, waits = []) {
  const byDate = new Map();
  for (const r of rows) {
    const d = byDate.get(r.date) || { booked: 0, completed: 0, no_show: 0, walk_ins: 0, tickets: null, p50: null, p90: null };
    for (const k of ['booked', 'completed', 'no_show', 'walk_ins']) d[k] += r[k] || 0;
    byDate.set(r.date, d);
  }
  for (const w of waits) {
    const d = byDate.get(w.date);
    if (!d) continue;
    d.tickets = w.tickets;
    d.p50 = w.wait_minutes?.p50 ?? null;
    d.p90 = w.wait_minutes?.p90 ?? null;
  }
  const days = [];
  // At most 367 days (the server refuses longer ranges).
  for (let date = from; date <= to && days.length < 367; date = addDays(date, 1)) {
    const d = byDate.get(date);
    days.push(d ? { date, gap: null, ...d } : { date, gap: date < today ? 'none' : 'pending' });
  }
  return days;
}

/** The hours from the first to the last with called tickets, those between without any as gaps. */
export function hourFigures(hours) {
  if (!hours.length) return [];
  const byHour = new Map(hours.map((x) => [x.hour, x]));
  const first = Math.min(...hours.map((x) => x.hour));
  const last = Math.max(...hours.map((x) => x.hour));
  const out = [];
  for (let hour = first; hour <= last; hour++) {
    const x = byHour.get(hour);
    out.push(x ? { hour, gap: null, tickets: x.tickets, p50: x.wait_minutes?.p50 ?? null, p90: x.wait_minutes?.p90 ?? null } : { hour, gap: 'noCalls' });
  }
  return out;
}

/** The item with the highest value of `key` (the first of equals), or null when none has one. */
const topOf = (items, key) => items.reduce((best, x) => (x[key] != null && (!best || x[key] > best[key]) ? x : best), null);
const sum = (items, key) => items.reduce((n, x) => n + (x[key] || 0), 0);

/**
 * A table wider than its box (a narrow screen) scrolls sideways inside it: while it does, the box
 * is a named region that takes the focus, so the arrow keys scroll it (WCAG 2.1.1). Returns a
 * function that stops watching.
 */
function scrollableByKeyboard(wrap, labelledBy) {
  const check = () => {
    const scrolls = wrap.scrollWidth > wrap.clientWidth + 1;
    for (const [k, v] of [['tabindex', '0'], ['role', 'region'], ['aria-labelledby', labelledBy]]) {
      if (scrolls) wrap.setAttribute(k, v); else wrap.removeAttribute(k);
    }
  };
  check();
  if (typeof ResizeObserver !== 'function') return () => {};
  const watch = new ResizeObserver(check);
  watch.observe(wrap);
  return () => watch.disconnect();
}

/** A chart's figures as a table: a caption, a column per figure, a row per day or hour. */
function dataTable(id, caption, cols, rows) {
  return h('div', { class: 'table-wrap chart-table' }, h('table', { class: 'data', 'data-testid': `chart-${id}-table` },
    h('caption', { id: `ch-${id}-caption` }, caption),
    h('thead', null, h('tr', null, cols.map((c) => h('th', { scope: 'col' }, c)))),
    h('tbody', null, rows)));
}

/** The statistics drawn: four charts, each with its figures in a table. Returns its redrawers' stops. */
function renderCharts(box, data, { from, to, counter, counterId }, { t, lang }) {
  const waitsHere = (data.day_waits || []).filter((w) => w.counter === counterId);
  const days = dayFigures(data.days, from, to, today(), waitsHere);
  const hours = hourFigures(data.hours || []);
  const year = parts(from).y !== parts(to).y || parts(to).y !== parts(today()).y;
  const range = t('chart.range', { from: fmtDate(from, lang, { year }), to: fmtDate(to, lang, { year }) });
  const dayName = (d) => fmtDate(d.date, lang);
  const dayAxis = (d, i) => { const p = parts(d.date); return i === 0 || p.d === 1 ? `${p.m}/${p.d}` : String(p.d); };
  const hourName = (x) => t('chart.hour', { h: x.hour });
  const n = (v) => t('chart.n', { n: v });
  const people = (v) => t('chart.people', { n: v });
  const min = (v) => t('chart.min', { n: v });
  const top = (items, key, name, unit) => { const b = topOf(items, key); return b ? t('chart.at', { when: name(b), what: unit(b[key]) }) : t('chart.top.none'); };
  const gaps = days.filter((d) => d.gap).length;
  // A day table's rows: a day with figures is a row; a run of days without them, of one kind,
  // is one row naming its first and last day (a year's range stays readable).
  const dayRows = (gapOf, span, cells) => {
    const rows = [];
    for (let i = 0; i < days.length;) {
      const d = days[i];
      const gap = gapOf(d);
      if (!gap) {
        rows.push(h('tr', { 'data-key': d.date }, h('th', { scope: 'row' }, dayName(d)), cells(d)));
        i += 1;
        continue;
      }
      let j = i;
      while (j + 1 < days.length && gapOf(days[j + 1]) === gap) j += 1;
      rows.push(h('tr', { 'data-key': d.date, 'data-to': days[j].date, class: 'gap' },
        h('th', { scope: 'row' }, i === j ? dayName(d) : t('chart.range', { from: dayName(d), to: dayName(days[j]) })),
        h('td', { colspan: span, class: 'gap' }, t('chart.gap.' + gap), j > i ? t('chart.ndays', { n: j - i + 1 }) : '')));
      i = j + 1;
    }
    return rows;
  };
  const gapCell = (span, gap) => h('td', { colspan: span, class: 'gap' }, t('chart.gap.' + gap));
  const dayCats = days.map((d, i) => ({ key: d.date, axis: dayAxis(d, i), name: dayName(d), gap: !!d.gap }));
  const tip = (unit) => (c, sr, v) => `${c.name} ${sr.name} ${unit(v)}`;
  const stops = [];
  const cards = [];

  function card(id, heading, hint, plot, keyOpts, table) {
    const plotBox = h('div', { class: 'chart-plot' });
    cards.push([plotBox, plot]);
    return h('section', { class: 'card chart', 'aria-labelledby': `ch-${id}-h`, 'data-chart': id },
      h('h2', { id: `ch-${id}-h` }, heading),
      h('p', { class: 'hint' }, hint),
      h('div', { class: 'chart-body' },
        h('div', { class: 'chart-figure' }, plotBox, legend(id, plot.series, { kind: plot.kind, ...keyOpts })),
        table));
  }

  // (a) bookings, completed and no-shows per day
  const countCols = ['booked', 'completed', 'no_show'];
  const daysSeries = countCols.map((k, i) => ({
    key: k, name: t('chart.days.' + k), style: [STYLES.blue, STYLES.green, STYLES.orange][i], values: days.map((d) => (d.gap ? null : d[k])),
  }));
  const a = card('days', t('chart.days.h'), t('chart.days.hint'), {
    id: 'days', kind: 'bars', categories: dayCats, series: daysSeries, yTitle: t('chart.axis.count'), xTitle: t('chart.axis.date'),
    title: tip(n),
    label: t('chart.days.label', { range, booked: sum(days, 'booked'), completed: sum(days, 'completed'), no_show: sum(days, 'no_show'), top: top(days, 'booked', dayName, n), gaps }),
  }, { gap: t('chart.gap') }, dataTable('days', t('chart.table', { h: t('chart.days.h') }),
    [t('stats.date'), ...daysSeries.map((sr) => sr.name)],
    dayRows((d) => d.gap, 3, (d) => countCols.map((k) => h('td', { class: 'num' }, d[k])))));

  // (b) waiting times per day, of everyone called that day
  const waitsSeries = [
    { key: 'p50', name: t('chart.waits.p50'), style: STYLES.blue, values: days.map((d) => (d.gap ? null : d.p50)) },
    { key: 'p90', name: t('chart.waits.p90'), style: STYLES.orangeStripes, values: days.map((d) => (d.gap ? null : d.p90)) },
  ];
  const waitGap = (d) => d.gap || (d.p50 == null && d.p90 == null ? 'noCalls' : null);
  const b = card('waits', t('chart.waits.h'), t('chart.waits.hint'), {
    id: 'waits', kind: 'lines', categories: days.map((d, i) => ({ ...dayCats[i], gap: !!waitGap(d) })), series: waitsSeries,
    yTitle: t('chart.axis.minutes'), xTitle: t('chart.axis.date'), title: tip(min),
    label: t('chart.waits.label', {
      range, tickets: sum(days, 'tickets'), p50: top(days, 'p50', dayName, min), p90: top(days, 'p90', dayName, min), gaps: days.filter(waitGap).length,
    }),
  }, { gap: t('chart.gap') }, dataTable('waits', t('chart.table', { h: t('chart.waits.h') }),
    [t('stats.date'), t('chart.waits.tickets'), ...waitsSeries.map((sr) => sr.name)],
    dayRows(waitGap, 3, (d) => [h('td', { class: 'num' }, d.tickets),
      ...['p50', 'p90'].map((k) => h('td', { class: 'num' }, d[k] == null ? '–' : min(d[k])))])));

  // (c) waiting times by the hour the ticket was taken
  const hoursSeries = [
    { key: 'p50', name: t('chart.hours.p50'), style: STYLES.blue, values: hours.map((x) => (x.gap ? null : x.p50)) },
    { key: 'p90', name: t('chart.hours.p90'), style: STYLES.orangeStripes, values: hours.map((x) => (x.gap ? null : x.p90)) },
  ];
  const called = hours.filter((x) => !x.gap);
  const c = hours.length
    ? card('hours', t('chart.hours.h'), t('chart.hours.hint'), {
      id: 'hours', kind: 'bars', categories: hours.map((x) => ({ key: String(x.hour), axis: t('chart.hour.axis', { h: x.hour }), name: hourName(x), gap: !!x.gap })),
      series: hoursSeries, yTitle: t('chart.axis.minutes'), xTitle: t('chart.axis.hour'), title: tip(min), valueText: String,
      label: t('chart.hours.label', {
        range, first: hourName(called[0]), last: hourName(called[called.length - 1]), tickets: sum(called, 'tickets'),
        p50: top(called, 'p50', hourName, min), p90: top(called, 'p90', hourName, min),
      }),
    }, { gap: hours.some((x) => x.gap) ? t('chart.gap') : null }, dataTable('hours', t('chart.table', { h: t('chart.hours.h') }),
      [t('chart.axis.hour'), t('chart.hours.tickets'), ...hoursSeries.map((sr) => sr.name)],
      hours.map((x) => h('tr', { 'data-key': String(x.hour), class: x.gap ? 'gap' : null }, h('th', { scope: 'row' }, hourName(x)),
        x.gap ? gapCell(3, x.gap) : [h('td', { class: 'num' }, x.tickets), ...['p50', 'p90'].map((k) => h('td', { class: 'num' }, x[k] == null ? '–' : min(x[k])))]))))
    : h('section', { class: 'card chart', 'aria-labelledby': 'ch-hours-h', 'data-chart': 'hours' },
      h('h2', { id: 'ch-hours-h' }, t('chart.hours.h')), h('p', { class: 'empty' }, t('chart.hours.none', { range })));

  // (d) walk-ins against bookings per day
  const walkSeries = [
    { key: 'walk_ins', name: t('chart.walkins.walk_ins'), style: STYLES.green, values: days.map((d) => (d.gap ? null : d.walk_ins)) },
    { key: 'booked', name: t('chart.walkins.booked'), style: STYLES.blue, values: days.map((d) => (d.gap ? null : d.booked)) },
  ];
  const d4 = card('walkins', t('chart.walkins.h'), t('chart.walkins.hint'), {
    id: 'walkins', kind: 'bars', categories: dayCats, series: walkSeries, yTitle: t('chart.axis.count'), xTitle: t('chart.axis.date'),
    title: (cat, sr, v) => `${cat.name} ${sr.name} ${sr.key === 'walk_ins' ? people(v) : n(v)}`,
    label: t('chart.walkins.label', { range, walk_ins: sum(days, 'walk_ins'), booked: sum(days, 'booked'), top: top(days, 'walk_ins', dayName, people), gaps }),
  }, { gap: t('chart.gap') }, dataTable('walkins', t('chart.table', { h: t('chart.walkins.h') }),
    [t('stats.date'), t('chart.walkins.walk_ins'), t('chart.walkins.booked')],
    dayRows((d) => d.gap, 2, (d) => [h('td', { class: 'num' }, d.walk_ins), h('td', { class: 'num' }, d.booked)])));

  replace(box, h('p', { class: 'chart-for' }, t('chart.for', { range, counter })), a, b, c, d4);
  for (const [plotBox, plot] of cards) stops.push(fitted(plotBox, (width) => chart({ ...plot, width })));
  for (const wrap of box.querySelectorAll('.chart-table')) stops.push(scrollableByKeyboard(wrap, wrap.querySelector('caption').id));
  return stops;
}

export function mountStats(root, ctx) {
  const { t, lang } = ctx;
  const to = today();
  const fromI = h('input', { type: 'date', id: 'sx-from', value: addDays(to, -30) });
  const toI = h('input', { type: 'date', id: 'sx-to', value: to });
  const show = h('button', { type: 'submit', class: 'btn' }, t('slots.show'));
  const csv = h('button', { type: 'button', class: 'btn secondary', id: 'sx-csv' }, t('stats.csv'));
  const summary = h('div', { class: 'error-summary', hidden: true });
  const charts = h('div', { class: 'charts', 'data-testid': 'charts' });
  const list = h('div');
  const form = h('form', { class: 'inline-form', novalidate: true },
    field('sx-from', t('stats.from'), fromI), field('sx-to', t('stats.to'), toI), show, csv);
  replace(root, head(t, 'stats.h'), h('section', { class: 'card' }, summary, form), charts,
    h('div', { class: 'card' }, h('h2', { id: 'sx-table-h' }, t('stats.table.h')), list));
  const query = () => endpoints.adminStats(fromI.value, toI.value, ctx.counter);
  const procName = (id) => { const p = ctx.procedures.find((x) => x.id === id); return p ? (lang === 'en' && p.name_en ? p.name_en : p.name) : id; };
  const counterName = (id) => { const c = ctx.counters.find((x) => x.id === id); return c ? (lang === 'en' && c.name_en ? c.name_en : c.name) : id; };
  let stops = [];
  const stopCharts = () => { for (const stop of stops) stop(); stops = []; };
  async function load() {
    try {
      const asked = { from: fromI.value, to: toI.value, counter: counterName(ctx.counter), counterId: ctx.counter };
      const data = await api(query());
      clearProblems(form, summary);
      stopCharts();
      if (data.days.length || (data.hours || []).length) stops = renderCharts(charts, data, asked, ctx);
      else replace(charts);
      replace(list, data.days.length ? table(
        [t('stats.date'), t('search.procedure'), t('stats.booked'), t('stats.cancelled'), t('stats.completed'), t('stats.no_show'), t('stats.walk_ins'), t('stats.p50'), t('stats.p90')],
        data.days.map((d) => h('tr', null, h('td', null, fmtDate(d.date, lang)), h('td', null, procName(d.procedure)),
          ...['booked', 'cancelled', 'completed', 'no_show', 'walk_ins'].map((k) => h('td', { class: 'num' }, d[k] ?? '')),
          h('td', { class: 'num' }, d.wait_minutes && d.wait_minutes.p50 != null ? d.wait_minutes.p50 : ''),
          h('td', { class: 'num' }, d.wait_minutes && d.wait_minutes.p90 != null ? d.wait_minutes.p90 : ''))), 'stats')
        : h('p', { class: 'empty' }, t('none')));
      const wrap = list.querySelector('.table-wrap');
      if (wrap) stops.push(scrollableByKeyboard(wrap, 'sx-table-h'));
    } catch (p) {
      showProblem(p, { form, summary, lang, prefix: 'sx-' });
    }
  }
  csv.addEventListener('click', () => busy(csv, async () => {
    try {
      const text = await api(query(), { accept: 'text/csv' });
      const blob = new Blob([typeof text === 'string' ? text : JSON.stringify(text)], { type: 'text/csv' });
      const a = h('a', { href: URL.createObjectURL(blob), download: `madoguchi-stats-${ctx.counter}-${fromI.value}-${toI.value}.csv` });
      document.body.append(a);
      a.click();
      setTimeout(() => { URL.revokeObjectURL(a.href); a.remove(); }, 1000);
    } catch (p) {
      showProblem(p, { form, summary, lang, prefix: 'sx-' });
    }
  }));
  form.addEventListener('submit', (e) => { e.preventDefault(); load(); });
  ctx.onCounterChange = load;
  load();
  return stopCharts;
}

// ---------- scheduled jobs ----------

const RUN_BADGE = { ok: 'confirmed', failed: 'cancelled', skipped: '', running: 'checked_in' };

export function mountJobs(root, ctx) {
  const { t } = ctx;
  const list = h('div');
  const refresh = h('button', { type: 'button', class: 'btn secondary small', onclick: () => load() }, t('refresh'));
  replace(root, head(t, 'jobs.h', refresh), h('section', { class: 'card' }, h('p', { class: 'hint' }, t('jobs.lead')), list));
  function run(r) {
    const status = r.status || r.outcome || 'running';
    return h('li', { 'data-status': status },
      h('span', { class: 'status-badge ' + (RUN_BADGE[status] || '') }, t('jobs.status.' + status)),
      ' ', fmtStamp(r.scheduled_at),
      r.rows != null ? ` ${t('jobs.rows', { n: r.rows })}` : '',
      r.error ? h('span', { class: status === 'failed' ? 'run-error' : 'hint' }, ` ${r.error}`) : null);
  }
  async function load() {
    try {
      const data = await api(endpoints.adminJobs());
      replace(list, table([t('jobs.name'), t('jobs.schedule'), t('jobs.next'), t('jobs.runs')],
        data.jobs.map((j) => {
          const failed = (j.runs || []).some((r) => (r.status || r.outcome) === 'failed');
          return h('tr', { 'data-job': j.name, class: failed ? 'failed' : null },
            h('th', { scope: 'row' }, t.has('jobs.job.' + j.name) ? t('jobs.job.' + j.name) : j.name, h('br'), h('small', { class: 'mono' }, j.name)),
            h('td', { class: 'mono' }, j.schedule),
            h('td', null, j.next_run_at ? fmtStamp(j.next_run_at) : '—'),
            h('td', null, (j.runs || []).length ? h('ul', { class: 'runs' }, j.runs.slice(0, 5).map(run)) : '—'));
        }), 'jobs'));
    } catch (p) {
      replace(list, h('p', { class: 'notice danger' }, p.title || p.message));
    }
  }
  load();
}



