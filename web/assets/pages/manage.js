// The page the completion mail links to (/booking/manage?token=…): the booking with its number
// and QR code, a change of day or time (reschedule through the calendar) and cancellation, each
// confirmed first; a party's other people (booked with the first person, whose link this is:
// its change and cancel act for them all), each with their number and a cancellation of their
// own; a voluntary proxy's second visit (…&second_visit=1, the link of the mail sent when the
// desk completed the first visit, opens its booking straight away).
// /booking/manage?waitlist=TOKEN shows a waiting-list entry: its place, or the seat offered
// (accept it, and the booking is shown here with its number), or leave the list.

import { api, serverClock } from '../lib/api.js';
import * as endpoints from '../lib/endpoints.js';
import { h, $, replace, focusTo, busy } from '../lib/dom.js';
import { fmtSlot, fmtDate, fmtDateTime, fmtPhone, fmtCountdown, parts } from '../lib/format.js';
import { AvailabilityCalendar, slotDate } from '../lib/calendar.js';
import { showProblem } from '../lib/problem.js';
import { confirmDialog } from '../lib/dialog.js';
import {
  initPage, loadCatalog, counterName, procedureName, renderBring, fillPhones, renderInvalid,
  statusBadge, telLink,
} from '../lib/resident.js';

const t = initPage();
const lang = t.lang;
const main = $('#main');
const params = new URLSearchParams(location.search);
let token = params.get('token') || '';
const waitToken = params.get('waitlist') || '';
const lotteryToken = params.get('lottery') || '';
const openSecondVisit = params.get('second_visit') === '1';
let catalog;
let reservation;
let calendar = null;
let offerTimer = null;
const els = {};

const langQ = lang === 'en' ? '&lang=en' : '';

function counterOf(id) { return catalog.counters.find((c) => c.id === id) || { id, name: id, address: '' }; }
function procedureOf(id) { return catalog.procedures.find((p) => p.id === id); }

function row(label, value, field) {
  if (value === null || value === undefined || value === '') return null;
  return h('div', null, h('dt', null, label), h('dd', { 'data-field': field }, value));
}

// ---------- a reservation ----------

function started(r) {
  return serverClock.now() >= Date.parse(r.slot.starts_at);
}

/** The party's others still booked: the change and the cancel of the booking move them too. */
function othersBooked(r) {
  return (r.party || []).filter((m) => m.status === 'confirmed');
}

function render(r, message) {
  reservation = r;
  const c = counterOf(r.counter);
  const p = procedureOf(r.procedure);
  const active = r.status === 'confirmed';
  const canChange = active && !started(r);
  els.notice = h('div', { class: message ? 'notice ok' : '', role: 'status', 'data-testid': 'manage-notice', hidden: !message }, message || '');
  els.problem = h('div', { class: 'error-summary', id: 'manage-problem', hidden: true });
  els.change = h('section', { class: 'card', id: 'change', 'aria-labelledby': 'change-h', hidden: true },
    h('h2', { id: 'change-h' }, t('manage.change.h')),
    h('p', null, t('manage.change.lead')),
    els.changeProblem = h('div', { class: 'error-summary', id: 'change-problem', hidden: true }),
    els.cal = h('div'));
  const bring = h('div', { class: 'bring' });
  els.openSecond = null;
  if (!active) bring.hidden = true;
  else if (r.visit === 2 && r.requirements && r.requirements.length) {
    // The second visit has its own list (the returned inquiry form, …), as the server words it.
    replace(bring, h('h2', null, t('second.bringH')), h('ul', { lang: 'ja', 'data-testid': 'requirements' }, r.requirements.map((x) => h('li', null, x))));
  } else renderBring(bring, p, r.applicant_type, t, { headingLevel: 2 });

  replace(main,
    h('h1', { id: 'manage-h', tabindex: '-1' }, t('manage.h1')),
    els.notice,
    els.problem,
    h('section', { class: 'card', 'aria-labelledby': 'number-h', 'data-testid': 'reservation', 'data-status': r.status },
      h('div', { class: 'done-number' },
        h('span', { class: 'label', id: 'number-h' }, t('done.number')),
        h('strong', { class: 'res-number', 'data-testid': 'reservation-number' }, r.reservation_number),
        statusBadge(r.status, t),
        active || r.status === 'checked_in'
          ? h('img', { class: 'qr', src: endpoints.reservationQr(token), alt: `${t('done.qr')}: ${r.reservation_number}`, width: 200, height: 200 })
          : null),
      h('dl', { class: 'summary' },
        row(t('manage.when'), fmtSlot(r.slot, lang, { year: true }), 'slot'),
        row(t('manage.where'), counterName(c, lang), 'counter'),
        row(t('manage.address'), c.address, 'address'),
        c.phone ? row(t('manage.tel'), telLink(c.phone), 'tel') : null,
        row(t('manage.what'), p ? procedureName(p, lang) : r.procedure, 'procedure'),
        row(t('manage.who'), t('applicant.' + r.applicant_type), 'applicant_type'),
        row(t('manage.name'), r.name, 'name'),
        row(t('manage.kana'), r.name_kana, 'name_kana'),
        row(t('manage.phone'), fmtPhone(r.phone), 'phone'),
        row(t('manage.email'), r.email, 'email'),
        row(t('manage.rep'), r.representative_name, 'representative_name'),
        row(t('manage.notes'), r.notes, 'notes'),
        r.visits > 1 ? row(t('manage.visits'), t('manage.visitsValue', { n: r.visits }) + (r.visit ? ` (${r.visit}/${r.visits})` : ''), 'visits') : null),
      r.first_visit ? h('p', { class: 'notice' }, t('second.first', { number: r.first_visit })) : null,
      bring,
      partyList(r),
      active && !canChange ? h('p', { class: 'notice' }, t('manage.past')) : null,
      canChange ? h('p', { class: 'hint', 'data-testid': 'changes-until' }, t('manage.until', { at: fmtDateTime(r.slot.starts_at, lang, { year: true }) })) : null,
      canChange && othersBooked(r).length
        ? h('p', { class: 'notice', 'data-testid': 'party-all' }, t('manage.party.all', { n: othersBooked(r).length + 1 })) : null,
      !active && r.status !== 'cancelled' && r.status !== 'completed' ? h('p', { class: 'notice' }, t('manage.noChange')) : null,
      h('div', { class: 'actions stack' },
        canChange ? h('button', { type: 'button', class: 'btn', id: 'open-change', onclick: openChange }, t('manage.change')) : null,
        canChange ? h('button', { type: 'button', class: 'btn danger', id: 'open-cancel', onclick: cancel }, t('manage.cancel')) : null,
        r.status === 'cancelled' ? h('a', { class: 'btn', href: '/' + (lang === 'en' ? '?lang=en' : '') }, t('manage.new')) : null,
        active ? h('button', { type: 'button', class: 'btn secondary', onclick: () => window.print() }, t('done.print')) : null)),
    els.change,
    secondVisit(r));
  fillPhones($('#footer-phones'), catalog.counters, t);
}

/**
 * The people booked with the first person: each one's number, procedure, who comes, status and
 * what they bring, and, while the booking can still be changed, a button to cancel that person
 * alone.
 */
function partyList(r) {
  const party = r.party || [];
  if (!party.length) return null;
  const canCancel = !started(r);
  return h('section', { class: 'party', 'aria-labelledby': 'party-h', 'data-testid': 'party' },
    h('h2', { id: 'party-h' }, t('party.h')),
    party.map((m) => {
      const p = procedureOf(m.procedure);
      const bring = h('details', { class: 'bring' });
      if (m.status === 'confirmed') renderBring(bring, p, m.applicant_type, t, { collapsed: true, headingLevel: 4 });
      else bring.hidden = true;
      return h('div', { class: 'party-member', 'data-testid': 'party-member', 'data-number': m.reservation_number, 'data-status': m.status },
        h('h3', null, m.name, ' ', statusBadge(m.status, t)),
        h('dl', { class: 'summary' },
          row(t('done.number'), h('strong', null, m.reservation_number), 'reservation_number'),
          row(t('manage.kana'), m.name_kana, 'name_kana'),
          row(t('manage.what'), p ? procedureName(p, lang) : m.procedure, 'procedure'),
          row(t('manage.who'), t('applicant.' + m.applicant_type), 'applicant_type'),
          row(t('manage.rep'), m.representative_name, 'representative_name')),
        bring,
        canCancel && m.status === 'confirmed'
          ? h('div', { class: 'actions' }, h('button', {
            type: 'button', class: 'btn secondary small', 'data-testid': 'party-cancel', 'data-number': m.reservation_number,
            onclick: () => cancelMember(m),
          }, t('manage.party.cancel', { name: m.name })))
          : null);
    }));
}

/** Cancels one of the party's others (confirmed first); the list is shown again as it is now. */
async function cancelMember(m) {
  const ok = await confirmDialog({
    title: t('manage.party.cancel.h', { name: m.name }),
    body: t('manage.party.cancel.body', { name: m.name, number: m.reservation_number, slot: fmtSlot(reservation.slot, lang) }),
    ok: t('manage.cancel.ok'),
    cancel: t('manage.cancel.keep'),
    danger: true,
    testid: 'party-cancel-dialog',
  });
  if (!ok) return;
  try {
    await api(endpoints.reservationPartyMember(token, m.reservation_number), { method: 'DELETE' });
    const r = await api(endpoints.reservation(token));
    if (calendar) { calendar.destroy(); calendar = null; }
    render(r, t('manage.party.cancelled', { name: m.name }));
    focusTo($('#manage-h'));
  } catch (p) {
    showProblem(p, { summary: els.problem, lang });
  }
}

/** The names of the party's others still booked ("山田 花子、山田 一郎"), for the dialogs. */
function othersNames(r) {
  return othersBooked(r).map((m) => m.name).join(lang === 'en' ? ', ' : '、');
}

function openChange() {
  els.change.hidden = false;
  if (calendar) calendar.destroy();
  const c = counterOf(reservation.counter);
  calendar = new AvailabilityCalendar(els.cal, {
    counter: reservation.counter,
    lang,
    phone: c.phone,
    selectedSlotId: reservation.slot.id,
    initialDate: slotDate(reservation.slot.id),
    onSlot: (slot) => reschedule(slot),
  });
  focusTo($('#change-h'));
}

async function reschedule(slot) {
  if (slot.id === reservation.slot.id) return;
  const ok = await confirmDialog({
    title: t('manage.change.h'),
    body: [t('manage.change.confirm', { from: fmtSlot(reservation.slot, lang), to: fmtSlot(slot, lang) }),
      othersBooked(reservation).length ? t('manage.party.changeAll', { names: othersNames(reservation) }) : ''].filter(Boolean).join(' '),
    ok: t('manage.change.ok'),
    cancel: t('manage.change.close'),
    testid: 'reschedule-dialog',
  });
  if (!ok) return;
  try {
    const r = await api(endpoints.reservationReschedule(token), { method: 'POST', body: { slot_id: slot.id } });
    if (calendar) { calendar.destroy(); calendar = null; }
    render(r, t('manage.changed', { to: fmtSlot(r.slot, lang) }));
    focusTo($('#manage-h'));
  } catch (p) {
    showProblem(p, { summary: els.changeProblem, lang, onAlternative: (s) => reschedule(s) });
  }
}

async function cancel() {
  const ok = await confirmDialog({
    title: t('manage.cancel.h'),
    body: [t('manage.cancel.body', { slot: fmtSlot(reservation.slot, lang) }),
      othersBooked(reservation).length ? t('manage.party.cancelAll', { names: othersNames(reservation) }) : ''].filter(Boolean).join(' '),
    ok: t('manage.cancel.ok'),
    cancel: t('manage.cancel.keep'),
    danger: true,
    testid: 'cancel-dialog',
  });
  if (!ok) return;
  try {
    const r = await api(endpoints.reservation(token), { method: 'DELETE' });
    if (calendar) { calendar.destroy(); calendar = null; }
    render(r, t('manage.cancelled'));
    focusTo($('#manage-h'));
  } catch (p) {
    showProblem(p, { summary: els.problem, lang });
  }
}

// ---------- the voluntary proxy's second visit ----------

function secondVisit(r) {
  if (r.visits < 2 || r.visit === 2 || r.status === 'cancelled') return null;
  const sv = r.second_visit;
  const section = (...children) => h('section', { class: 'card', id: 'second', 'aria-labelledby': 'second-h', 'data-testid': 'second-visit' },
    h('h2', { id: 'second-h', tabindex: '-1' }, t('second.h')), ...children);
  if (!sv) return section(h('p', null, t('second.waiting')));
  if (sv.reservation_number) return section(h('p', { 'data-testid': 'second-booked' }, t('second.booked', { number: sv.reservation_number })));
  const from = parts(sv.bookable_from).date;
  const until = parts(sv.bookable_until).date;
  const calEl = h('div');
  const problem = h('div', { class: 'error-summary', hidden: true });
  const bring = h('p', { class: 'hint' }, t('second.bring'));
  const pick = h('button', { type: 'button', class: 'btn', id: 'open-second', onclick: () => openSecond() }, t('second.pick'));
  function openSecond() {
    pick.hidden = true;
    if (calendar) calendar.destroy();
    calendar = new AvailabilityCalendar(calEl, {
      counter: r.counter, lang, phone: counterOf(r.counter).phone, minDate: from, maxDate: until, initialDate: from,
      onSlot: (slot) => bookSecond(slot, problem),
    });
  }
  els.openSecond = openSecond;
  return section(
    h('p', null, t('second.lead', { from: fmtDate(from, lang), until: fmtDate(until, lang) })),
    bring, problem, pick, calEl);
}

async function bookSecond(slot, problem) {
  const ok = await confirmDialog({
    title: t('second.h'), body: t('second.confirm', { slot: fmtSlot(slot, lang) }), ok: t('second.ok'), cancel: t('manage.change.close'),
    testid: 'second-dialog',
  });
  if (!ok) return;
  try {
    const r2 = await api(endpoints.reservationSecondVisit(token), { method: 'POST', body: { slot_id: slot.id } });
    if (calendar) { calendar.destroy(); calendar = null; }
    // The second visit has its own page (its own manage link, mailed too): show it here.
    showReservation(r2, t('second.done', { number: r2.reservation_number }));
  } catch (p) {
    showProblem(p, { summary: problem, lang, onAlternative: (s) => bookSecond(s, problem) });
  }
}

/** Shows another reservation of this resident (a second visit, an accepted offer) as this page. */
function showReservation(r, message) {
  clearInterval(offerTimer);
  token = r.manage_token;
  history.replaceState(null, '', `/booking/manage?token=${encodeURIComponent(token)}${langQ}`);
  render(r, message);
  focusTo($('#manage-h'));
}

// ---------- a waiting-list entry ----------

async function renderWaitlist(message) {
  clearInterval(offerTimer);
  let w;
  try {
    w = await api(endpoints.waitlistEntry(waitToken));
  } catch (p) {
    if (p.status === 404 || p.status === 410) {
      renderInvalid(main, 'waitlist_not_found', t, catalog.counters);
    } else {
      replace(main, els.problem = h('div', { class: 'error-summary' }));
      showProblem(p, { summary: els.problem, lang });
    }
    return;
  }
  const c = counterOf(w.counter);
  const p = procedureOf(w.procedure);
  const problem = h('div', { class: 'error-summary', hidden: true });
  const offered = w.status === 'offered' && w.offer;
  const again = h('a', { class: 'btn secondary', href: '/' + (lang === 'en' ? '?lang=en' : '') }, t('manage.new'));
  replace(main,
    h('h1', { id: 'manage-h', tabindex: '-1' }, t('wait.h1')),
    message ? h('p', { class: 'notice ok', role: 'status' }, message) : null,
    problem,
    h('section', { class: 'card', 'aria-labelledby': 'wait-status', 'data-testid': 'waitlist', 'data-status': w.status },
      h('p', null, h('span', { class: 'status-badge ' + w.status, id: 'wait-status' }, t('wait.status.' + w.status))),
      h('dl', { class: 'summary' },
        row(t('wait.day'), fmtDate(w.date, lang, { year: true }), 'date'),
        row(t('manage.where'), counterName(c, lang), 'counter'),
        row(t('manage.what'), p ? procedureName(p, lang) : w.procedure, 'procedure'),
        w.status === 'waiting' && w.position ? row(t('wait.positionLabel'), t('wait.position', { n: w.position }), 'position') : null,
        offered ? row(t('wait.offer.slot'), fmtSlot(w.offer.slot, lang, { year: true }), 'offer') : null,
        w.reservation_number ? row(t('done.number'), w.reservation_number, 'reservation_number') : null),
      h('p', { class: w.status === 'offered' ? 'notice warn' : 'hint', 'data-testid': 'waitlist-explain' }, offered
        ? [t('wait.offer.body', { slot: fmtSlot(w.offer.slot, lang), at: fmtDateTime(w.offer.expires_at, lang) }), ' ', offerLeft(w.offer.expires_at)]
        : t('wait.explain.' + w.status)),
      h('div', { class: 'actions stack' },
        offered ? h('button', { type: 'button', class: 'btn big', id: 'accept-offer', onclick: (e) => accept(e.currentTarget, problem) }, t('wait.accept')) : null,
        w.status === 'waiting' || offered ? h('button', { type: 'button', class: 'btn secondary', id: 'leave-waitlist', onclick: () => leave(problem) }, t('wait.leave')) : null,
        w.status === 'expired' || w.status === 'left' ? again : null)));
  fillPhones($('#footer-phones'), catalog.counters, t);
}

/** Counts down to the offer's end on the server's clock; then shows the entry as it is now. */
function offerLeft(expiresAt) {
  const el = h('strong', { class: 'offer-left' });
  const end = Date.parse(expiresAt);
  const tick = () => {
    const left = end - serverClock.now();
    el.textContent = t('wait.offer.left', { left: fmtCountdown(left, lang) });
    if (left <= 0) {
      clearInterval(offerTimer);
      setTimeout(() => renderWaitlist(), 1000);
    }
  };
  tick();
  offerTimer = setInterval(tick, 1000);
  return el;
}

async function accept(button, problem) {
  await busy(button, async () => {
    try {
      const r = await api(endpoints.waitlistAccept(waitToken), { method: 'POST' });
      showReservation(r, t('wait.accepted'));
    } catch (p) {
      // The offer ran out (410 offer_expired) or is gone (409 no_offer): show the entry as it is now.
      if (p.code === 'offer_expired' || p.code === 'no_offer') {
        await renderWaitlist();
        const summary = $('.error-summary', main);
        if (summary) showProblem(p, { summary, lang });
        return;
      }
      showProblem(p, { summary: problem, lang });
    }
  });
}

async function leave(problem) {
  const ok = await confirmDialog({
    title: t('wait.h1'), body: t('wait.leave.confirm'), ok: t('wait.leave'), cancel: t('wait.leave.keep'), danger: true, testid: 'leave-dialog',
  });
  if (!ok) return;
  try {
    await api(endpoints.waitlistEntry(waitToken), { method: 'DELETE' });
    await renderWaitlist(t('wait.left'));
    focusTo($('#manage-h'));
  } catch (p) {
    showProblem(p, { summary: problem, lang });
  }
}

// ---------- a lottery entry (抽選予約) ----------

async function renderLottery(message) {
  let e;
  let lottery;
  try {
    e = await api(endpoints.lotteryEntry(lotteryToken));
    lottery = await api(endpoints.lottery(e.lottery));
  } catch (p) {
    if (p.status === 404 || p.status === 410) {
      renderInvalid(main, 'lottery_entry_not_found', t, catalog.counters);
    } else {
      replace(main, els.problem = h('div', { class: 'error-summary' }));
      showProblem(p, { summary: els.problem, lang });
    }
    return;
  }
  const c = counterOf(lottery.counter);
  const p = procedureOf(e.procedure);
  const problem = h('div', { class: 'error-summary', hidden: true });
  const slotOf = (id) => {
    const m = /\.(\d{4}-\d{2}-\d{2})\.(\d{2})(\d{2})$/.exec(id);
    return m ? `${fmtDate(m[1], lang, { year: true })} ${Number(m[2])}:${m[3]}` : id;
  };
  replace(main,
    h('h1', { id: 'manage-h', tabindex: '-1' }, t('lottery.h1')),
    message ? h('p', { class: 'notice ok', role: 'status' }, message) : null,
    problem,
    h('section', { class: 'card', 'aria-labelledby': 'lottery-status', 'data-testid': 'lottery-entry', 'data-status': e.status },
      h('p', null, h('span', { class: 'status-badge ' + e.status, id: 'lottery-status' }, t('lottery.status.' + e.status))),
      h('dl', { class: 'summary' },
        row(t('manage.where'), counterName(c, lang), 'counter'),
        row(t('manage.what'), p ? procedureName(p, lang) : e.procedure, 'procedure'),
        ...e.preferences.map((id, i) => row(t('ready.pref', { n: i + 1 }), slotOf(id), 'pref' + (i + 1))),
        row(t('lottery.drawAt'), fmtDateTime(lottery.draw_at, lang), 'draw_at'),
        e.reservation ? row(t('done.number'), e.reservation.reservation_number, 'reservation_number') : null,
        e.reservation ? row(t('manage.when'), slotOf(e.reservation.slot_id), 'slot') : null),
      h('p', { class: 'hint' }, t('lottery.explain.' + e.status)),
      h('div', { class: 'actions stack' },
        e.status === 'entered' ? h('button', { type: 'button', class: 'btn secondary', id: 'withdraw-entry', onclick: () => withdraw(problem) }, t('lottery.withdraw')) : null)));
}

async function withdraw(problem) {
  const ok = await confirmDialog({
    title: t('lottery.h1'), body: t('lottery.withdraw.confirm'), ok: t('lottery.withdraw'), cancel: t('wait.leave.keep'), danger: true, testid: 'withdraw-dialog',
  });
  if (!ok) return;
  try {
    await api(endpoints.lotteryEntry(lotteryToken), { method: 'DELETE' });
    await renderLottery(t('lottery.withdrawn'));
    focusTo($('#manage-h'));
  } catch (p) {
    showProblem(p, { summary: problem, lang });
  }
}

// ---------- start ----------

async function start() {
  try {
    catalog = await loadCatalog();
  } catch {
    catalog = { counters: [], procedures: [] };
  }
  fillPhones($('#footer-phones'), catalog.counters, t);
  const valid = (s) => /^[A-Za-z0-9_-]{16,}$/.test(s);
  if (lotteryToken) {
    if (!valid(lotteryToken)) { renderInvalid(main, 'lottery_entry_not_found', t, catalog.counters); return; }
    renderLottery();
    return;
  }
  if (waitToken) {
    if (!valid(waitToken)) { renderInvalid(main, 'waitlist_not_found', t, catalog.counters); return; }
    renderWaitlist();
    return;
  }
  if (!valid(token)) {
    renderInvalid(main, token ? 'reservation_not_found' : 'missing', t, catalog.counters);
    return;
  }
  try {
    const r = await api(endpoints.reservation(token));
    render(r);
  } catch (p) {
    if (p.status === 404 || p.status === 410) {
      renderInvalid(main, 'reservation_not_found', t, catalog.counters);
    } else {
      replace(main, els.problem = h('div', { class: 'error-summary' }));
      showProblem(p, { summary: els.problem, lang });
    }
    return;
  }
  // The mail sent when the desk completed the first visit: straight to the second visit's days.
  if (openSecondVisit && els.openSecond) {
    els.openSecond();
    focusTo($('#second-h'));
  }
}

start();
