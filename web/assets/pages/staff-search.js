// Find bookings by day, counter and free text (name, kana in any spacing, phone, number), see
// their details, cancel with a reason (phone, admin) and book a proxy's second visit.

import { api } from '../lib/api.js';
import * as endpoints from '../lib/endpoints.js';
import { h, $, replace, busy } from '../lib/dom.js';
import { parts, fmtSlot, fmtDate, fmtTime, fmtPhone } from '../lib/format.js';
import { showProblem, clearProblems } from '../lib/problem.js';
import { modal } from '../lib/dialog.js';

export function mount(root, ctx) {
  const { t, lang } = ctx;
  const canCancel = ctx.user.role === 'phone' || ctx.user.role === 'admin';
  const counterSel = h('select', { id: 's-counter', name: 'counter' },
    h('option', { value: '' }, t('all')),
    ctx.counters.map((c) => h('option', { value: c.id, selected: c.id === ctx.counter }, lang === 'en' && c.name_en ? c.name_en : c.name)));
  const dateInput = h('input', { type: 'date', id: 's-date', name: 'date' });
  const qInput = h('input', { type: 'search', id: 's-q', name: 'q', autocomplete: 'off', spellcheck: 'false' });
  const submit = h('button', { type: 'submit', class: 'btn', id: 's-submit' }, t('search.submit'));
  const summary = h('div', { class: 'error-summary', hidden: true });
  const form = h('form', { class: 'inline-form', role: 'search', novalidate: true },
    h('div', { class: 'field' }, h('label', { for: 's-date' }, t('search.date')), dateInput),
    h('div', { class: 'field' }, h('label', { for: 's-counter' }, t('counter')), counterSel),
    h('div', { class: 'field grow' }, h('label', { for: 's-q' }, t('search.q')), qInput),
    submit);
  const count = h('p', { class: 'count', role: 'status', 'aria-live': 'polite' });
  const results = h('div', { class: 'table-wrap' });
  replace(root,
    h('div', { class: 'view-head' }, h('h1', null, t('search.h'))),
    h('section', { class: 'card' }, summary, form, count, results));

  const procName = (id) => {
    const p = ctx.procedures.find((x) => x.id === id);
    return p ? (lang === 'en' && p.name_en ? p.name_en : p.name) : id;
  };
  const counterName = (id) => {
    const c = ctx.counters.find((x) => x.id === id);
    return c ? (lang === 'en' && c.name_en ? c.name_en : c.name) : id;
  };

  async function search() {
    const filter = { date: dateInput.value, counter: counterSel.value, q: qInput.value.trim() };
    await busy(submit, async () => {
      try {
        const data = await api(endpoints.staffReservations(filter));
        clearProblems(form, summary);
        render(data.reservations);
      } catch (p) {
        showProblem(p, { form, summary, lang, prefix: 's-', labels: { date: t('search.date'), q: t('search.q') } });
      }
    });
  }

  function render(list) {
    count.textContent = t('search.count', { n: list.length });
    if (!list.length) { replace(results, h('p', { class: 'empty' }, t('none'))); return; }
    const rows = [];
    for (const r of list) {
      const detail = h('tr', { class: 'detail-row', hidden: true },
        h('td', { colspan: 8 }, h('dl', { class: 'summary' },
          dd(t('f.email'), r.email), dd(t('f.representative_name'), r.representative_name), dd(t('f.notes'), r.notes),
          dd(t('search.created_by'), r.created_by), dd(t('search.cancel_reason'), r.cancel_reason),
          dd(t('f.applicant_type'), t('applicant.' + r.applicant_type)),
          dd(t('counter'), counterName(r.counter)),
          r.first_visit ? dd(t('search.firstVisit'), r.first_visit) : null,
          r.second_visit ? dd(t('search.secondVisit'), r.second_visit.reservation_number || `${fmtDate(r.second_visit.bookable_from, lang)}〜${fmtDate(r.second_visit.bookable_until, lang)}`) : null)));
      const detailsBtn = h('button', {
        type: 'button', class: 'btn small secondary', 'aria-expanded': 'false',
        onclick: (e) => {
          detail.hidden = !detail.hidden;
          e.currentTarget.setAttribute('aria-expanded', String(!detail.hidden));
        },
      }, t('search.details'));
      const active = r.status === 'confirmed';
      rows.push(h('tr', { class: r.status, 'data-number': r.reservation_number },
        h('td', { class: 'mono' }, r.reservation_number),
        h('td', null, `${fmtDate(r.slot.starts_at, lang)} ${fmtTime(r.slot.starts_at)}`),
        h('td', { class: 'name' }, r.name, h('br'), h('small', null, r.name_kana)),
        h('td', null, fmtPhone(r.phone)),
        h('td', null, procName(r.procedure)),
        h('td', null, h('span', { class: 'status-badge ' + r.status }, t('status.' + r.status))),
        h('td', null, t('channel.' + r.channel)),
        h('td', { class: 'actions-cell' },
          detailsBtn,
          canCancel && active ? h('button', { type: 'button', class: 'btn small danger', 'data-action': 'cancel', onclick: () => cancel(r) }, t('search.cancel')) : null,
          canCancel && r.second_visit && !r.second_visit.reservation_number ? h('button', { type: 'button', class: 'btn small', onclick: () => second(r) }, t('search.second')) : null)));
      rows.push(detail);
    }
    replace(results, h('table', { class: 'data', 'data-testid': 'search-results' },
      h('thead', null, h('tr', null,
        [t('search.number'), t('search.when'), t('search.name'), t('f.phone'), t('search.procedure'), t('search.status'), t('search.channel'), t('search.actions')]
          .map((x) => h('th', { scope: 'col' }, x)))),
      h('tbody', null, rows)));
  }

  function dd(k, v) {
    return v ? h('div', null, h('dt', null, k), h('dd', null, v)) : null;
  }

  async function cancel(r) {
    // Two texts: the reason stays with staff (the booking, the audit log) and is never mailed;
    // the message, when there is an address, is what the resident's mail says.
    const reason = h('textarea', { id: 'c-reason', name: 'reason', rows: 2, maxlength: 500, required: true, 'aria-describedby': 'c-reason-hint' });
    const message = r.email ? h('textarea', { id: 'c-message', name: 'message', rows: 3, maxlength: 500, 'aria-describedby': 'c-message-hint' }) : null;
    const sum = h('div', { class: 'error-summary', hidden: true });
    const box = h('div', null, sum,
      h('div', { class: 'field' },
        h('label', { for: 'c-reason' }, t('f.reason'), h('span', { class: 'req' }, t('required'))),
        h('span', { class: 'hint', id: 'c-reason-hint' }, t('f.reason.hint')),
        reason),
      message ? h('div', { class: 'field' },
        h('label', { for: 'c-message' }, t('f.message'), h('span', { class: 'opt' }, t('optional'))),
        h('span', { class: 'hint', id: 'c-message-hint' }, t('f.message.hint')),
        message) : null);
    const words = { slot: fmtSlot(r.slot, lang), name: r.name, email: r.email };
    const done = await modal({
      title: t('search.cancel.h', { number: r.reservation_number }),
      content: [h('p', null, t(r.email ? 'search.cancel.body' : 'search.cancel.noMail', words)), box],
      ok: t('search.cancel.ok'),
      cancel: t('cancel'),
      danger: true,
      testid: 'cancel-dialog',
      initialFocus: '#c-reason',
      onOk: async () => {
        try {
          const body = { reason: reason.value.trim() };
          if (message && message.value.trim()) body.message = message.value.trim();
          return await api(endpoints.staffReservationCancel(r.reservation_number), { method: 'POST', body });
        } catch (p) {
          showProblem(p, { form: box, summary: sum, lang, prefix: 'c-', labels: { reason: t('f.reason'), message: t('f.message') } });
          throw p;
        }
      },
    });
    if (done) {
      ctx.toast(t('search.cancelled', { number: r.reservation_number }));
      search();
    }
  }

  async function second(r) {
    const sv = r.second_visit;
    const from = parts(sv.bookable_from).date;
    const until = parts(sv.bookable_until).date;
    const date = h('input', { type: 'date', id: 'sv-date', min: from, max: until, value: from });
    const slotSel = h('select', { id: 'sv-slot_id', name: 'slot_id' });
    const sum = h('div', { class: 'error-summary', hidden: true });
    const box = h('div', null, sum,
      h('p', null, t('search.second.range', { from: fmtDate(from, lang), until: fmtDate(until, lang) })),
      h('div', { class: 'field' }, h('label', { for: 'sv-date' }, t('search.date')), date),
      h('div', { class: 'field' }, h('label', { for: 'sv-slot_id' }, t('f.slot_id')), slotSel));
    async function loadSlots() {
      replace(slotSel);
      if (!date.value) return;
      const data = await api(endpoints.availability(r.counter, date.value, date.value));
      const d = data.days[0];
      replace(slotSel, (d ? d.slots : []).map((s) => h('option', { value: s.id, disabled: !(s.bookable && s.remaining > 0) },
        `${fmtTime(s.starts_at)}〜${fmtTime(s.ends_at)} ${s.bookable && s.remaining > 0 ? t('phone.left', { n: s.remaining }) : t('phone.full')}`)));
    }
    date.addEventListener('change', () => loadSlots().catch(() => {}));
    loadSlots().catch(() => {});
    const res = await modal({
      title: t('search.second.h', { number: r.reservation_number }),
      content: [box],
      ok: t('search.second'),
      cancel: t('cancel'),
      onOk: async () => {
        try {
          return await api(endpoints.staffReservationSecondVisit(r.reservation_number), { method: 'POST', body: { slot_id: slotSel.value } });
        } catch (p) {
          showProblem(p, { form: box, summary: sum, lang, prefix: 'sv-' });
          throw p;
        }
      },
    });
    if (res) {
      ctx.toast(t('search.second.done', { number: res.reservation_number }));
      search();
    }
  }

  form.addEventListener('submit', (e) => { e.preventDefault(); search(); });
  ctx.onCounterChange = (c) => { counterSel.value = c; search(); };
  // First: today's bookings at the current counter (the server's today when no date is given).
  search();
  qInput.focus();
}
