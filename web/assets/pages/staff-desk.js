// The front desk's day: check-in by typed or scanned number (a USB scanner types and ends with
// Enter, even when the field is not focused), walk-in tickets, "call next" for this desk (its
// name kept on this browser), complete / no-show / recall, the waiting order with estimates,
// and the day's bookings; refreshed every few seconds. A ticket just issued, and each one
// waiting, can be printed (lib/print.js: the 80 mm receipt with its QR code); with "a printer
// here" ticked (kept on this browser) each ticket prints as it is issued.

import { api, serverClock } from '../lib/api.js';
import * as endpoints from '../lib/endpoints.js';
import { h, $, replace, busy, store } from '../lib/dom.js';
import { fmtTime, fmtDate, fmtClock, deskWords } from '../lib/format.js';
import { showProblem, clearProblems } from '../lib/problem.js';
import { modal } from '../lib/dialog.js';
import { printTicket } from '../lib/print.js';

const DESK_KEY = 'madoguchi.desk.name';
const PRINTER_KEY = 'madoguchi.desk.printer';
const REFRESH_MS = 5000;

/** HJ3K7WXA, hj3k-7wxa, ＨＪ３Ｋ－７ＷＸＡ → HJ3K-7WXA */
export function normaliseNumber(raw) {
  let s = String(raw || '').normalize('NFKC').toUpperCase().replace(/[\s]/g, '').replace(/[‐−ー]/g, '-');
  const m = /([A-Z0-9]{4})-?([A-Z0-9]{4})$/.exec(s);
  if (m && s.replace('-', '').length === 8) s = `${m[1]}-${m[2]}`;
  return s;
}

export function mount(root, ctx) {
  const { t, lang } = ctx;
  let queue = null;
  let timer = null;
  let stopped = false;

  const deskInput = h('input', { id: 'd-desk', name: 'desk', value: store.get(DESK_KEY) || '', maxlength: 8, autocomplete: 'off', 'aria-describedby': 'd-desk-hint' });
  const autoBox = h('input', { type: 'checkbox', id: 'd-auto', checked: true });
  const printerBox = h('input', { type: 'checkbox', id: 'd-printer', checked: store.get(PRINTER_KEY) === true });
  printerBox.addEventListener('change', () => store.set(PRINTER_KEY, printerBox.checked));
  const updated = h('span', { class: 'updated', 'aria-live': 'off' });
  const dayLabel = h('span', { class: 'count' });
  const refreshBtn = h('button', { type: 'button', class: 'btn small secondary', onclick: () => load() }, t('refresh'));

  const scanInput = h('input', { id: 'd-reservation_number', name: 'reservation_number', autocomplete: 'off', spellcheck: 'false', autocapitalize: 'characters', inputmode: 'latin' });
  const scanResult = h('div', { 'aria-live': 'assertive', 'data-testid': 'checkin-result' });
  const scanBtn = h('button', { type: 'submit', class: 'btn', id: 'd-checkin' }, t('desk.checkin.submit'));
  const scanForm = h('form', { class: 'scan', novalidate: true, id: 'checkin-form' },
    h('div', { class: 'field' }, h('label', { for: 'd-reservation_number' }, t('desk.checkin.label')), scanInput),
    scanBtn, scanResult);

  const walkSel = h('select', { id: 'd-procedure', name: 'procedure' },
    h('option', { value: '' }, '—'),
    ctx.procedures.map((p) => h('option', { value: p.id }, lang === 'en' && p.name_en ? p.name_en : p.name)));
  const walkResult = h('div', { 'aria-live': 'assertive', 'data-testid': 'walkin-result' });
  const walkBtn = h('button', { type: 'submit', class: 'btn secondary', id: 'd-walkin' }, t('desk.walkin.submit'));
  const walkForm = h('form', { novalidate: true, id: 'walkin-form' },
    h('div', { class: 'field' }, h('label', { for: 'd-procedure' }, t('desk.walkin.procedure')), walkSel),
    walkBtn, walkResult);

  const callBtn = h('button', { type: 'button', class: 'btn big', id: 'd-call' }, t('desk.call'));
  const callResult = h('div', { 'aria-live': 'assertive', 'data-testid': 'call-result' });
  const current = h('div', { 'data-testid': 'current' });
  const waitingEl = h('section', { class: 'card', 'aria-labelledby': 'waiting-h' });
  const calledEl = h('section', { class: 'card', 'aria-labelledby': 'called-h' });
  const finishedEl = h('details', { class: 'card' });
  const resEl = h('section', { class: 'card', 'aria-labelledby': 'res-h' });
  const problem = h('div', { class: 'error-summary', hidden: true });

  replace(root,
    h('div', { class: 'view-head' }, h('h1', null, t('desk.h')), h('span', null, dayLabel, ' ', updated)),
    problem,
    h('div', { class: 'desk-bar' },
      h('div', { class: 'field' }, h('label', { for: 'd-desk' }, t('desk.name')), h('span', { class: 'hint', id: 'd-desk-hint' }, t('desk.name.hint')), deskInput),
      h('label', { class: 'checkbox', for: 'd-auto' }, autoBox, h('span', null, t('desk.auto'))),
      h('label', { class: 'checkbox', for: 'd-printer' }, printerBox, h('span', null, t('desk.printer'))),
      refreshBtn),
    h('div', { class: 'cols' },
      h('div', null,
        h('section', { class: 'card', 'aria-labelledby': 'checkin-h' }, h('h2', { id: 'checkin-h' }, t('desk.checkin')), scanForm),
        h('section', { class: 'card', 'aria-labelledby': 'walkin-h' }, h('h2', { id: 'walkin-h' }, t('desk.walkin')), walkForm),
        resEl),
      h('div', null,
        h('section', { class: 'card call-box', 'aria-labelledby': 'call-h' }, h('h2', { id: 'call-h', class: 'visually-hidden' }, t('desk.call')), callBtn, callResult, current),
        waitingEl, calledEl, finishedEl)));

  // The desk's name as the server keeps it (src/text.rs parse_label: NFKC, no invisible
  // characters, one space at a time), so that "１番" typed with an input method is this desk's.
  const desk = () => deskInput.value.normalize('NFKC').replace(/[\u200B-\u200D\u2060\uFEFF]/g, '').replace(/\s+/g, ' ').trim();
  function labelCall() {
    const w = deskWords(desk());
    callBtn.textContent = desk() ? t('desk.callAt', { desk: lang === 'en' ? w.en : w.core + w.ja.replace(/へ$/, '') }) : t('desk.call');
  }
  deskInput.addEventListener('input', () => {
    store.set(DESK_KEY, desk());
    labelCall();
    renderCurrent();
    // "Enter this desk's name first" goes once there is one.
    if (desk() && callResult.dataset.needName) {
      replace(callResult);
      delete callResult.dataset.needName;
    }
  });
  labelCall();

  const procName = (id) => {
    const p = ctx.procedures.find((x) => x.id === id);
    return p ? (lang === 'en' && p.name_en ? p.name_en : p.name) : id || '—';
  };

  /** A voluntary proxy's second visit: the returned inquiry form (照会書兼回答書) is to be checked. */
  function visit2(isSecond) {
    return isSecond ? h('span', { class: 'visit2-badge', 'data-testid': 'visit2' }, t('desk.visit2')) : null;
  }

  function result(el, ok, text, ticket, ...after) {
    replace(el, h('p', { class: 'result ' + (ok ? 'ok' : 'bad') }, ticket ? h('span', { class: 'ticket' }, ticket) : null, text), ...after);
  }

  // ---- printing ----

  /** Prints a ticket of this counter (the receipt printer's page); says how it went. */
  async function print(ticket, date, button) {
    await busy(button, async () => {
      try {
        await printTicket({ counter: ctx.counter, ticket, date: date || (queue && queue.date) || undefined });
        ctx.toast(t('desk.printed', { ticket }));
      } catch (p) {
        if (p && p.status === 401) return;
        ctx.toast(t('desk.printFailed', { ticket, reason: (p && (p.title || p.message)) || '' }), true);
      }
    });
  }

  /** The print button under a ticket just issued; printed at once when this desk has a printer. */
  function issued(tk) {
    const date = (/^\d{4}-\d{2}-\d{2}/.exec(String(tk.issued_at || '')) || [])[0];
    const button = h('button', { type: 'button', class: 'btn small secondary', 'data-action': 'print', 'data-key': `print-issued:${tk.ticket}`, onclick: (e) => print(tk.ticket, date, e.currentTarget) },
      t('desk.print.issued'), h('span', { class: 'visually-hidden' }, ` ${tk.ticket}`));
    if (printerBox.checked) print(tk.ticket, date, button);
    return h('div', { class: 'actions' }, button);
  }

  // ---- check-in ----

  async function checkIn(number) {
    const n = normaliseNumber(number);
    if (!n) return;
    await busy(scanBtn, async () => {
      try {
        const tk = await api(endpoints.deskCheckIns(ctx.counter), { method: 'POST', body: { reservation_number: n } });
        result(scanResult, true, t('desk.checkin.done', { ticket: tk.ticket, number: tk.reservation_number || n, position: tk.position, wait: tk.estimated_wait_minutes }), tk.ticket, issued(tk));
        ctx.toast(`${tk.ticket} ← ${n}`);
        await load();
      } catch (p) {
        result(scanResult, false, `${n}: ${p.title || p.message}${p.detail && p.detail !== p.title ? ' ' + p.detail : ''}`);
      }
    });
    scanInput.value = '';
    scanInput.focus();
  }
  scanForm.addEventListener('submit', (e) => { e.preventDefault(); checkIn(scanInput.value); });

  // A scanner "types" fast and ends with Enter; catch it even when another control has focus.
  let burst = '';
  let lastKey = 0;
  function onKey(e) {
    const target = e.target;
    const typing = target && (target.tagName === 'INPUT' || target.tagName === 'TEXTAREA' || target.tagName === 'SELECT' || target.isContentEditable);
    if (typing || e.ctrlKey || e.metaKey || e.altKey) return;
    const now = performance.now();
    if (now - lastKey > 60) burst = '';
    lastKey = now;
    if (e.key === 'Enter') {
      if (burst.length >= 8) {
        e.preventDefault();
        const n = burst;
        burst = '';
        scanInput.value = normaliseNumber(n);
        ctx.toast(t('desk.scanned', { number: scanInput.value }));
        checkIn(n);
      }
      burst = '';
    } else if (e.key.length === 1) {
      burst += e.key;
    }
  }
  document.addEventListener('keydown', onKey, true);

  // ---- walk-ins ----

  walkForm.addEventListener('submit', async (e) => {
    e.preventDefault();
    await busy(walkBtn, async () => {
      try {
        const body = walkSel.value ? { procedure: walkSel.value } : {};
        const tk = await api(endpoints.deskWalkIns(ctx.counter), { method: 'POST', body });
        result(walkResult, true, t('desk.walkin.done', { ticket: tk.ticket, position: tk.position, wait: tk.estimated_wait_minutes }), tk.ticket, issued(tk));
        walkSel.value = '';
        await load();
      } catch (p) {
        result(walkResult, false, p.title || p.message);
      }
    });
  });

  // ---- calls and outcomes ----

  /**
   * "R-001 is still at this desk": complete it, or mark it absent, before the next call (every
   * ticket called to this desk, named together: one, once the console is used). The answer is
   * the call's `settle.outcome` (`complete`, `no_show`), or null when the clerk does not call.
   */
  function askSettle(serving) {
    const ticket = serving.map((tk) => tk.ticket).join('・');
    const choice = (value, key, checked) => h('label', { class: 'choice' },
      h('input', { type: 'radio', name: 'settle', value, checked }), h('span', null, t(key)));
    return modal({
      title: t('desk.settle.h', { ticket }),
      content: [
        h('p', null, t('desk.settle.body', { ticket })),
        h('fieldset', { class: 'choices' }, h('legend', { class: 'visually-hidden' }, t('desk.settle.h', { ticket })),
          choice('complete', 'desk.complete', true), choice('no_show', 'desk.noShow', false)),
      ],
      ok: t('desk.settle.ok'),
      cancel: t('desk.settle.cancel'),
      testid: 'settle-dialog',
      initialFocus: 'input[name="settle"]:checked',
      onOk: (dlg) => dlg.querySelector('input[name="settle"]:checked').value,
    });
  }

  /** This desk's called tickets (one at most, once the console is used: see the call button). */
  const mine = () => (queue ? queue.called.filter((tk) => tk.desk === desk()) : []);

  callBtn.addEventListener('click', async () => {
    if (!desk()) {
      result(callResult, false, t('desk.needName'));
      callResult.dataset.needName = '1';
      deskInput.focus();
      return;
    }
    // One visitor at a time: the ones being served are settled first, as the clerk chooses
    // (asked once, in one dialog): completed, or absent. The queue is read afresh first (a
    // colleague may have settled them), and the call names the tickets the clerk saw
    // (`settle`): the server settles them and calls the next in one step, and refuses
    // (`desk_serving`) if someone else was called to this desk meanwhile, from another window.
    if (callBtn.getAttribute('aria-busy') === 'true') return;
    let toSettle;
    callBtn.setAttribute('aria-busy', 'true');
    try {
      await load();
      const serving = mine();
      const outcome = serving.length ? await askSettle(serving) : 'complete';
      if (!outcome) return;
      toSettle = { tickets: serving.map((tk) => tk.ticket), outcome };
    } finally {
      callBtn.removeAttribute('aria-busy');
    }
    await busy(callBtn, async () => {
      try {
        const tk = await api(endpoints.deskCalls(ctx.counter), { method: 'POST', body: { desk: desk(), settle: toSettle } });
        if (tk && tk.desk && tk.desk !== deskInput.value) {
          // Shown as the server keeps it from now on.
          deskInput.value = tk.desk;
          store.set(DESK_KEY, desk());
        }
        if (!tk) result(callResult, false, t('desk.nobody'));
        else replace(callResult);
        await load();
      } catch (p) {
        if (p.errors && p.errors.length) {
          clearProblems(root, null);
          showProblem(p, { form: root, summary: problem, lang, prefix: 'd-', labels: { desk: t('desk.name') } });
        } else {
          result(callResult, false, p.detail || p.title || p.message);
          if (p.code === 'desk_serving') await load();
        }
      }
    });
    labelCall();
  });

  async function settle(ticket, action, button) {
    await busy(button, async () => {
      try {
        await api(endpoints.deskTicket(ctx.counter, ticket, action), { method: 'POST' });
        await load();
      } catch (p) {
        ctx.toast(`${ticket}: ${p.title || p.message}`, true);
      }
    });
  }

  function outcomeButtons(tk) {
    return [
      h('button', { type: 'button', class: 'btn small', 'data-action': 'complete', 'data-key': `complete:${tk.ticket}`, onclick: (e) => settle(tk.ticket, 'complete', e.currentTarget) }, t('desk.complete')),
      h('button', { type: 'button', class: 'btn small secondary', 'data-action': 'recall', 'data-key': `recall:${tk.ticket}`, onclick: (e) => settle(tk.ticket, 'recall', e.currentTarget) }, t('desk.recall')),
      h('button', { type: 'button', class: 'btn small danger', 'data-action': 'no-show', 'data-key': `noshow:${tk.ticket}`, onclick: (e) => settle(tk.ticket, 'no-show', e.currentTarget) }, t('desk.noShow')),
    ];
  }

  // ---- rendering (keeping focus on a button that is redrawn) ----

  function renderCurrent() {
    if (!queue) return;
    const serving = mine();
    if (!serving.length) {
      replace(current, h('p', { class: 'hint' }, t('desk.noCurrent')));
      return;
    }
    replace(current, ...serving.map((tk) => {
      // The visitor's name, from today's reservations (staff see it; the screen never does).
      const r = tk.reservation_number ? (queue.reservations || []).find((x) => x.reservation_number === tk.reservation_number) : null;
      return h('div', { class: 'current', 'data-ticket': tk.ticket },
        h('p', { class: 'hint' }, t('desk.current')),
        h('div', { class: 'ticket-no' }, tk.ticket),
        r ? h('p', { class: 'who', 'data-testid': 'current-name' }, r.name, ' ', h('small', null, r.name_kana), ' 様') : null,
        visit2(tk.visit === 2),
        h('p', null, t('kind.' + tk.kind), tk.reservation_number ? ` ${tk.reservation_number}` : '', tk.slot_starts_at ? ` ${fmtTime(tk.slot_starts_at)}〜` : '', ' ・ ', procName(tk.procedure)),
        h('div', { class: 'actions' }, outcomeButtons(tk)));
    }));
  }

  // A table wider than its column scrolls sideways: the scrolling box takes the keyboard's
  // focus (arrow keys scroll it) and is named after its table.
  const TABLE_NAMES = { waiting: 'desk.waiting', called: 'desk.called', finished: 'desk.finished', reservations: 'desk.reservations' };
  function table(head, rows, testid) {
    const name = TABLE_NAMES[testid] ? t(TABLE_NAMES[testid], { n: rows.length }) : testid;
    return h('div', { class: 'table-wrap', tabindex: '0', role: 'group', 'aria-label': name }, h('table', { class: 'data', 'data-testid': testid },
      h('thead', null, h('tr', null, head.map((x) => h('th', { scope: 'col' }, x)))),
      h('tbody', null, rows)));
  }

  function render() {
    const focusKey = document.activeElement && document.activeElement.dataset ? document.activeElement.dataset.key : null;
    dayLabel.textContent = t('desk.today', { date: fmtDate(queue.date, lang, { year: true }) });
    renderCurrent();
    replace(waitingEl, h('h2', { id: 'waiting-h' }, t('desk.waiting', { n: queue.waiting.length })),
      queue.waiting.length ? table(
        [t('desk.col.pos'), t('desk.col.ticket'), t('desk.col.kind'), t('desk.col.slot'), t('desk.col.issued'), t('desk.col.wait'), t('desk.col.print')],
        queue.waiting.map((tk) => h('tr', { 'data-ticket': tk.ticket },
          h('td', { class: 'num' }, tk.position),
          h('td', { class: 'ticket-cell' }, tk.ticket),
          h('td', null, t('kind.' + tk.kind), tk.reservation_number ? h('small', { class: 'mono' }, ' ' + tk.reservation_number) : null, visit2(tk.visit === 2),
            tk.procedure ? h('small', { class: 'proc-note' }, procName(tk.procedure)) : null),
          h('td', null, tk.slot_starts_at ? fmtTime(tk.slot_starts_at) : '—'),
          h('td', null, fmtTime(tk.issued_at)),
          h('td', { class: 'num' }, t('desk.minutes', { n: tk.estimated_wait_minutes })),
          h('td', { class: 'actions-cell' }, h('button', {
            type: 'button', class: 'btn small secondary', 'data-action': 'print', 'data-key': `print:${tk.ticket}`,
            onclick: (e) => print(tk.ticket, queue.date, e.currentTarget),
          }, t('desk.print'), h('span', { class: 'visually-hidden' }, ` ${tk.ticket}`))))), 'waiting')
        : h('p', { class: 'empty' }, t('desk.nobody')));
    replace(calledEl, h('h2', { id: 'called-h' }, t('desk.called', { n: queue.called.length })),
      queue.called.length ? table(
        [t('desk.col.ticket'), t('desk.col.desk'), t('desk.col.calledAt'), t('desk.col.kind'), t('search.actions')],
        queue.called.map((tk) => h('tr', { class: tk.desk === desk() ? 'mine' : null, 'data-ticket': tk.ticket },
          h('td', { class: 'ticket-cell' }, tk.ticket),
          h('td', null, tk.desk),
          h('td', null, tk.called_at ? fmtTime(tk.called_at) : ''),
          h('td', null, t('kind.' + tk.kind), visit2(tk.visit === 2)),
          h('td', { class: 'actions-cell' }, outcomeButtons(tk)))), 'called')
        : h('p', { class: 'empty' }, t('none')));
    const finished = queue.finished || [];
    replace(finishedEl, h('summary', null, t('desk.finished', { n: finished.length })),
      finished.length ? table([t('desk.col.ticket'), t('desk.col.desk'), t('desk.col.status'), t('desk.col.calledAt')],
        finished.map((tk) => h('tr', null, h('td', { class: 'ticket-cell' }, tk.ticket), h('td', null, tk.desk || ''),
          h('td', null, t('status.' + tk.status)), h('td', null, tk.called_at ? fmtTime(tk.called_at) : ''))), 'finished') : null);
    const res = queue.reservations || [];
    replace(resEl, h('h2', { id: 'res-h' }, t('desk.reservations', { n: res.length })),
      res.length ? table([t('search.when'), t('search.number'), t('search.name'), t('search.procedure'), t('search.status'),
        h('span', { class: 'visually-hidden' }, t('search.actions'))],
        res.map((r) => h('tr', { class: r.status, 'data-number': r.reservation_number },
          h('td', null, fmtTime(r.slot.starts_at)),
          h('td', { class: 'mono' }, r.reservation_number),
          h('td', { class: 'name' }, r.name, h('br'), h('small', null, r.name_kana), r.visit === 2 ? h('br') : null, visit2(r.visit === 2)),
          h('td', { class: 'proc' }, procName(r.procedure)),
          h('td', null, h('span', { class: 'status-badge ' + r.status }, t('status.' + r.status))),
          h('td', { class: 'actions-cell' }, r.status === 'confirmed'
            ? h('button', { type: 'button', class: 'btn small', 'data-key': `checkin:${r.reservation_number}`, onclick: () => checkIn(r.reservation_number) }, t('desk.checkin.submit'))
            : null))), 'reservations')
        : h('p', { class: 'empty' }, t('none')));
    if (focusKey) {
      const again = root.querySelector(`[data-key="${CSS.escape(focusKey)}"]`);
      if (again) again.focus();
    }
  }

  async function load() {
    try {
      queue = await api(endpoints.deskQueue(ctx.counter));
      clearProblems(null, problem);
      render();
      updated.textContent = t('desk.updated', { time: fmtClock(serverClock.now()) });
    } catch (p) {
      if (p.status !== 401) showProblem(p, { summary: problem, lang, focus: false });
    }
  }

  function schedule() {
    clearTimeout(timer);
    if (stopped) return;
    timer = setTimeout(async () => {
      if (autoBox.checked && document.visibilityState === 'visible') await load();
      schedule();
    }, REFRESH_MS);
  }
  const onVisible = () => { if (document.visibilityState === 'visible' && autoBox.checked) load(); };
  document.addEventListener('visibilitychange', onVisible);
  ctx.onCounterChange = () => { queue = null; load(); };

  load().then(schedule);
  scanInput.focus();
  return () => {
    stopped = true;
    clearTimeout(timer);
    document.removeEventListener('keydown', onKey, true);
    document.removeEventListener('visibilitychange', onVisible);
  };
}
