// Fairness, on a private server that holds one seat of every slot for phone bookings
// (booking.phone_seats_per_slot = 1) with its rehearsal clock at 09:10 on Tuesday 12 January 2027:
// - a seat held for phone bookings: the resident calendar says the slot is for telephone
//   bookings only, the phone console offers it and books it;
// - a day full for the web: the resident joins its waiting list from the pages through the mailed
//   link, a booking is cancelled, the offer mail's link opens the entry, the resident accepts and
//   sees the booking's number;
// - a voluntary proxy's second visit: the desk completes the first visit, the mail it sends opens
//   the second visit's days at once, the resident books one from the page;
// - that evening the scheduled jobs have run: the statistics and the jobs render, the CSV downloads;
// - a week later the desk sees the second visit marked "2回目・照会書を確認".
// axe-core runs on every new page state.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import {
  launch, watchedPage, screenshot, assertAccessible, waitForMail, apiCall, startServer, guard,
} from '../lib/harness.js';

const ADMIN = { login: 'fairadmin', password: 'a-long-fairness-password' };
const PHONE = { login: 'fairphone', password: 'phone-fairness-password' };
const DESK = { login: 'fairdesk', password: 'desk-fairness-password' };
const HELD_DAY = '2027-01-28';
const HELD_SLOT = `city-hall.${HELD_DAY}.1000`;
const FULL_DAY = '2027-01-27';

let server;
let browser; // a resident's phone
let staffBrowser; // a desk's screen
const state = {};
const stamp = Date.now().toString(36);

before(async () => {
  [server, browser, staffBrowser] = await Promise.all([
    startServer({ clockStart: '2027-01-12T09:10:00+09:00', env: { MADOGUCHI__BOOKING__PHONE_SEATS_PER_SLOT: '1' } }),
    launch(),
    launch({ viewport: { width: 1280, height: 900 } }),
  ]);
  await server.staffAdd(ADMIN.login, 'admin', ADMIN.password);
  await server.staffAdd(PHONE.login, 'phone', PHONE.password);
  await server.staffAdd(DESK.login, 'desk', DESK.password);
  state.admin = await token(ADMIN);
});
after(async () => {
  if (browser) await browser.close();
  if (staffBrowser) await staffBrowser.close();
  if (server) await server.stop();
});

const call = (method, p, opts = {}) => apiCall(method, p, { base: server.url, ...opts });

async function token(who) {
  const r = await call('POST', '/api/v1/staff/sessions', { body: who });
  assert.equal(r.status, 201, JSON.stringify(r.data));
  return r.data.token;
}

async function phoneBooking(body) {
  const r = await call('POST', '/api/v1/staff/reservations', {
    token: state.admin,
    body: { procedure: 'pin-reset', applicant_type: 'holder', ...body },
  });
  assert.equal(r.status, 201, JSON.stringify(r.data));
  return r.data;
}

async function login(page, who) {
  await page.goto(server.url + '/staff/');
  await page.fill('#f-login', who.login);
  await page.fill('#f-password', who.password);
  await page.click('#login-submit');
  await page.waitForSelector('#nav:not([hidden])');
}

const mail = (to, re, since) => waitForMail(to, re, { since, dir: server.mailDir });

test('a seat held for phone bookings: full for the web, bookable and booked by phone', async () => {
  // One seat in the slot, and it is held for phone bookings (released a week before the day).
  const cap = await call('PUT', `/api/v1/admin/slots/${HELD_SLOT}`, { token: state.admin, body: { capacity: 1 } });
  assert.equal(cap.status, 200, JSON.stringify(cap.data));

  const resident = await watchedPage(browser.context);
  await resident.goto(server.url + '/');
  await resident.click(`.cal-grid button.day[data-date="${HELD_DAY}"]`);
  const held = resident.locator(`.slot[data-slot="${HELD_SLOT}"]`);
  await held.waitFor();
  assert.equal(await held.isDisabled(), true, 'the web cannot take it');
  assert.equal(await held.getAttribute('data-held'), 'phone');
  assert.match(await held.textContent(), /電話予約枠のみ/, 'the slot says it is for telephone bookings');
  await assertAccessible(resident, 'the calendar with a seat held for phone bookings');
  await screenshot(resident, 'resident-calendar-phone-held', { element: '#when' });

  const page = await watchedPage(staffBrowser.context);
  await login(page, PHONE);
  await page.waitForSelector('#slot-options [role="option"]');
  await page.fill('#p-when', '1/28 10:00');
  const option = page.locator(`#slot-options [role="option"][data-slot="${HELD_SLOT}"]`);
  await page.waitForFunction((id) => document.querySelector('#slot-options [aria-selected="true"]')?.dataset.slot === id, HELD_SLOT);
  assert.equal(await option.getAttribute('aria-disabled'), 'false', 'phone staff may book the held seat');
  assert.equal(await option.getAttribute('data-held'), '1');
  assert.match(await option.textContent(), /残り1.*電話枠1/);
  await assertAccessible(page, 'the phone console with a held seat');
  await screenshot(page, 'staff-phone-held');
  await page.focus('#p-when');
  await page.keyboard.press('Enter');
  await page.waitForSelector('[data-testid="chosen-slot"]:not([hidden])');
  await page.selectOption('#p-procedure', 'pin-change');
  await page.fill('#p-name', '電話 優先');
  await page.fill('#p-name_kana', 'でんわ ゆうせん');
  await page.fill('#p-phone', '0748-33-1234');
  await page.click('#p-submit');
  await page.waitForSelector('[data-testid="readback"]:not([hidden])');
  const number = await page.getAttribute('[data-testid="readback-number"]', 'data-number');
  const r = await call('GET', `/api/v1/staff/reservations/${number}`, { token: state.admin });
  assert.equal(r.data.slot.id, HELD_SLOT);
  assert.equal(r.data.channel, 'phone');

  // The resident's calendar now says the slot is simply full.
  await resident.reload();
  await resident.click(`.cal-grid button.day[data-date="${HELD_DAY}"]`);
  await resident.waitForSelector(`.slot[data-slot="${HELD_SLOT}"]:not([data-held])`);
  assert.match(await resident.textContent(`.slot[data-slot="${HELD_SLOT}"]`), /満員/);
  resident.assertClean();
  page.assertClean();
  await resident.close();
  await page.close();
});

test('a day full for the web: the resident joins its waiting list, is offered a freed seat and books it', async () => {
  // Every seat the web may take that day is booked; the seats held for phone bookings remain.
  const av = await call('GET', `/api/v1/counters/city-hall/availability?from=${FULL_DAY}&to=${FULL_DAY}`);
  const numbers = [];
  let n = 0;
  for (const slot of av.data.days[0].slots) {
    for (let i = 0; i < slot.remaining; i++) {
      n++;
      const r = await phoneBooking({ slot_id: slot.id, name: `満席 ${n}`, name_kana: 'マンセキ', phone: `0748-50-${1000 + n}` });
      numbers.push(r.reservation_number);
    }
  }
  assert.ok(numbers.length >= 15, `the day's web seats are booked (${numbers.length})`);

  const email = `waiting-${stamp}@example.jp`;
  const page = await watchedPage(browser.context);
  await page.goto(server.url + '/');
  await page.waitForSelector('#procedure-choices input');
  await page.check('#procedure-cert-renewal');
  const day = page.locator(`.cal-grid button.day[data-date="${FULL_DAY}"]`);
  await day.waitFor();
  assert.equal(await day.getAttribute('data-state'), 'full');
  assert.equal(await day.getAttribute('data-held'), 'phone', 'full for the web, with telephone seats left');
  await day.click();
  await page.waitForSelector('[data-testid="day-full-web"]');
  assert.match(await page.textContent('[data-testid="day-full-web"]'), /Web予約の枠は満員.*電話予約用の枠が残っている/);
  await page.waitForSelector('[data-testid="waitlist-offer"]');
  await assertAccessible(page, 'the calendar offering the waiting list');
  await screenshot(page, 'resident-waitlist-offer', { element: '#when' });
  await page.click('[data-testid="waitlist-join"]');
  assert.match(await page.textContent('[data-testid="picked-wait"]'), /2027年1月27日/);
  assert.match(await page.textContent('#mail-spam'), /noreply@madoguchi\.example/, 'the sender to allow comes from the server');
  await page.fill('#f-email', email);
  const sentAt = Date.now();
  await page.click('#mail-submit');
  await page.waitForSelector('[data-testid="mail-sent"]:not([hidden])');
  assert.match(await page.textContent('[data-testid="mail-sent"]'), /キャンセル待ち登録用のリンク/);

  const verify = await mail(email, /(http\S+\/booking\/verify\?token=[A-Za-z0-9_-]+)(\S*)/, sentAt);
  assert.equal(verify.match[2], '', 'a Japanese page asks for a Japanese link');
  await page.goto(verify.match[1]);
  await guard(page, 'verify-waitlist', () => page.waitForSelector('[data-testid="picked-wait"]'));
  assert.match(await page.textContent('[data-testid="picked-wait"]'), /2027年1月27日/, 'the mailed link comes back to the day waited for');
  assert.equal(await page.isHidden('#f-notes'), true, 'a waiting-list entry takes no notes');
  assert.equal(await page.inputValue('#f-procedure'), 'cert-renewal');
  await page.fill('#f-name', '待機 花子');
  await page.fill('#f-name_kana', 'たいき はなこ');
  await page.fill('#f-phone', '090-7777-1234');
  await assertAccessible(page, 'the verify page joining the waiting list');
  await page.click('#to-confirm');
  await page.waitForSelector('[data-testid="confirm-list"] [data-field="date"]');
  await page.click('#confirm-submit');
  await guard(page, 'waitlist-done', () => page.waitForSelector('[data-testid="waitlist-done"]'));
  assert.equal(await page.getAttribute('[data-testid="waitlist-done"]', 'data-position'), '1');
  assert.match(page.url(), /\/booking\/manage\?waitlist=/, 'a reload shows the entry');
  await assertAccessible(page, 'the waiting list joined');
  await screenshot(page, 'resident-waitlist-joined');
  page.assertClean();

  // A booking of that day is cancelled: the freed seat is offered to the first in line.
  const cancelledAt = Date.now();
  const c = await call('POST', `/api/v1/staff/reservations/${numbers[3]}/cancel`, { token: state.admin, body: { reason: '本人から電話で取消' } });
  assert.equal(c.status, 200, JSON.stringify(c.data));
  const offer = await mail(email, /空きが出ました[\s\S]*?(http\S+\/booking\/manage\?waitlist=[A-Za-z0-9_-]+)/, cancelledAt);
  const offerPage = await watchedPage(browser.context);
  await offerPage.goto(offer.match[1]);
  await guard(offerPage, 'offered', () => offerPage.waitForSelector('[data-testid="waitlist"][data-status="offered"]'));
  assert.match(await offerPage.textContent('[data-field="offer"]'), /2027年1月27日/);
  assert.match(await offerPage.textContent('[data-testid="waitlist-explain"]'), /までに確定してください/);
  await assertAccessible(offerPage, 'the offer');
  await screenshot(offerPage, 'resident-waitlist-offered');
  await offerPage.click('#accept-offer');
  await guard(offerPage, 'accepted', () => offerPage.waitForSelector('[data-testid="reservation"][data-status="confirmed"]'));
  const number = (await offerPage.textContent('[data-testid="reservation-number"]')).trim();
  assert.match(number, /^[A-Z0-9]{4}-[A-Z0-9]{4}$/);
  assert.match(await offerPage.textContent('[data-testid="manage-notice"]'), /予約が完了しました/);
  assert.match(offerPage.url(), /\/booking\/manage\?token=/, 'a reload shows the booking');
  await assertAccessible(offerPage, 'the accepted offer');
  await screenshot(offerPage, 'resident-waitlist-accepted');
  const entry = await call('GET', `/api/v1/waitlist/${new URL(offer.match[1]).searchParams.get('waitlist')}`);
  assert.equal(entry.data.status, 'accepted');
  assert.equal(entry.data.reservation_number, number);
  const booked = await call('GET', `/api/v1/staff/reservations/${number}`, { token: state.admin });
  assert.equal(booked.data.name_kana.replace(/\s/g, ''), 'タイキハナコ');
  assert.equal(booked.data.procedure, 'cert-renewal');
  offerPage.assertClean();
  await page.close();
  await offerPage.close();
});

test("a voluntary proxy's second visit, booked from the mail sent when the desk completes the first", async () => {
  const email = `proxy-${stamp}@example.jp`;
  // Today's first visit, booked by phone with an address (an admin may book inside the closed window).
  const first = await phoneBooking({
    slot_id: 'city-hall.2027-01-12.1030', applicant_type: 'voluntary_proxy', name: '代理 依頼人', name_kana: 'ダイリ イライニン',
    phone: '0748-44-5678', email, representative_name: '代理 太郎', override_window: true, override_reason: 'ブラウザテスト: 当日の来庁',
  });
  assert.equal(first.visits, 2);
  const desk = await token(DESK);
  const ticket = await call('POST', '/api/v1/desk/city-hall/check-ins', { token: desk, body: { reservation_number: first.reservation_number } });
  assert.equal(ticket.status, 201, JSON.stringify(ticket.data));
  const called = await call('POST', '/api/v1/desk/city-hall/calls', { token: desk, body: { desk: '1' } });
  assert.equal(called.data.ticket, ticket.data.ticket);
  const completedAt = Date.now();
  const done = await call('POST', `/api/v1/desk/city-hall/tickets/${ticket.data.ticket}/complete`, { token: desk });
  assert.equal(done.status, 200, JSON.stringify(done.data));

  const m = await mail(email, /(http\S+\/booking\/manage\?token=[A-Za-z0-9_-]+&second_visit=1)/, completedAt);
  const page = await watchedPage(browser.context);
  await page.goto(m.match[1]);
  await guard(page, 'second-visit', () => page.waitForSelector('[data-testid="second-visit"] .cal-grid button.day[data-state="avail"]'));
  assert.equal(await page.getAttribute('[data-testid="reservation"]', 'data-status'), 'completed');
  assert.match(await page.textContent('[data-testid="second-visit"]'), /1月19日\(火\)〜3月13日\(土\)の間で予約できます/, 'seven to sixty days after the first');
  const days = await page.$$eval('[data-testid="second-visit"] .cal-grid button.day[data-state="avail"]', (bs) => bs.map((b) => b.dataset.date));
  assert.ok(days.length && days.every((d) => d >= '2027-01-19'), `only days from the 19th are offered (${days[0]})`);
  await assertAccessible(page, 'the second visit\'s days');
  await screenshot(page, 'resident-second-visit');

  await page.click('[data-testid="second-visit"] .cal-grid button.day[data-date="2027-01-19"]');
  await page.click('[data-testid="second-visit"] .slot[data-slot="city-hall.2027-01-19.1000"]');
  await page.waitForSelector('dialog[data-testid="second-dialog"]');
  await assertAccessible(page, 'the second visit\'s confirmation');
  await page.click('dialog[data-testid="second-dialog"] [data-action="ok"]');
  await guard(page, 'second-booked', () => page.waitForSelector('[data-testid="manage-notice"]:not([hidden])'));
  const second = (await page.textContent('[data-testid="reservation-number"]')).trim();
  assert.match(await page.textContent('[data-testid="manage-notice"]'), new RegExp(`2回目の予約が完了しました。予約番号 ${second}`));
  assert.match(await page.textContent('[data-testid="reservation"]'), new RegExp(`${first.reservation_number} の2回目`), 'it names the first visit');
  assert.match(await page.textContent('[data-testid="requirements"]'), /照会書/, "the second visit's own list of what to bring");
  await assertAccessible(page, 'the second visit booked');
  await screenshot(page, 'resident-second-visit-booked');
  const r1 = await call('GET', `/api/v1/staff/reservations/${first.reservation_number}`, { token: state.admin });
  assert.equal(r1.data.second_visit.reservation_number, second);
  const r2 = await call('GET', `/api/v1/staff/reservations/${second}`, { token: state.admin });
  assert.equal(r2.data.visit, 2);
  assert.equal(r2.data.slot.id, 'city-hall.2027-01-19.1000');
  state.secondVisit = second;
  page.assertClean();
  await page.close();
});

test("the evening's jobs ran: statistics and jobs render, and the CSV downloads", async () => {
  // The same database, the clock after 18:15: the day's no-show and statistics runs catch up.
  await server.crash();
  await server.restart('2027-01-12T18:16:00+09:00');
  const page = await watchedPage(staffBrowser.context);
  await login(page, ADMIN);
  await page.click('a[data-section="admin/jobs"]');
  const stats = page.locator('[data-testid="jobs"] tr[data-job="daily_stats"]');
  await guard(page, 'jobs', () => page.waitForSelector('[data-testid="jobs"] tr[data-job="daily_stats"] li[data-status="ok"]', { timeout: 15000 }));
  assert.match(await stats.textContent(), /日次統計/);
  assert.match(await stats.textContent(), /0 15 18 \* \* \*/);
  await assertAccessible(page, 'the jobs section');
  await screenshot(page, 'staff-admin-jobs-runs');

  await page.click('a[data-section="admin/stats"]');
  const row = page.locator('[data-testid="stats"] tbody tr >> nth=0');
  await guard(page, 'stats', () => row.waitFor());
  assert.match(await page.textContent('[data-testid="stats"]'), /1月12日/);
  await assertAccessible(page, 'the statistics section');
  await screenshot(page, 'staff-admin-stats-rows');
  const [download] = await Promise.all([page.waitForEvent('download'), page.click('#sx-csv')]);
  assert.match(download.suggestedFilename(), /^madoguchi-stats-.*\.csv$/);
  const csv = fs.readFileSync(await download.path(), 'utf8');
  assert.match(csv, /^date,counter,procedure,booked,cancelled,completed,no_show,walk_ins/);
  assert.match(csv, /\n2027-01-12,city-hall,pin-reset,/, "the day's figures are in the file");
  page.assertClean();
  await page.close();
});

test('a week later the desk sees the second visit marked, to check the inquiry form', async () => {
  await server.crash();
  await server.restart('2027-01-19T09:40:00+09:00');
  const page = await watchedPage(staffBrowser.context);
  await login(page, DESK);
  await page.click('a[data-section="desk"]');
  await page.waitForSelector('#d-reservation_number');
  const booked = page.locator(`[data-testid="reservations"] tr[data-number="${state.secondVisit}"]`);
  await booked.waitFor();
  assert.match(await booked.textContent(), /2回目・照会書を確認/, "the day's bookings mark it");
  await page.fill('#d-reservation_number', state.secondVisit);
  await page.press('#d-reservation_number', 'Enter');
  await page.waitForSelector('[data-testid="checkin-result"] .result.ok');
  const waiting = page.locator('[data-testid="waiting"] tr', { hasText: state.secondVisit });
  await waiting.waitFor();
  assert.equal(await waiting.locator('[data-testid="visit2"]').textContent(), '2回目・照会書を確認');
  await assertAccessible(page, 'the front desk with a second visit');
  await screenshot(page, 'staff-desk-second-visit');
  page.assertClean();
  await page.close();
});
