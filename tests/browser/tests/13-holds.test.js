// Holds (仮押さえ), on a private server whose rehearsal clock is at 09:10 on Tuesday 12 January
// 2027 and one of whose slots has a single seat:
// - the start page says the chosen time is kept for 10 minutes once the mailed link is opened;
// - the mailed link opens the form with the slot kept and the minutes left counting down; the
//   seat is taken for everyone else at once (another resident is refused it), and the resident
//   who took their time books it;
// - a hold that has gone by the time the form is sent (here replaced by a newer hold of the same
//   address) does not stop the booking: the page books without it when a seat is free.
// axe-core runs on the new page states.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  launch, watchedPage, screenshot, assertAccessible, waitForMail, apiCall, startServer, guard,
} from '../lib/harness.js';

const ADMIN = { login: 'holdadmin', password: 'a-long-holding-password' };
const DAY = '2027-01-26';
const ONE_SEAT = `city-hall.${DAY}.1000`;

let server;
let browser;
const state = {};
const stamp = Date.now().toString(36);

before(async () => {
  [server, browser] = await Promise.all([
    startServer({ clockStart: '2027-01-12T09:10:00+09:00' }),
    launch(),
  ]);
  await server.staffAdd(ADMIN.login, 'admin', ADMIN.password);
  const r = await call('POST', '/api/v1/staff/sessions', { body: ADMIN });
  assert.equal(r.status, 201, JSON.stringify(r.data));
  state.admin = r.data.token;
  const cap = await call('PUT', `/api/v1/admin/slots/${ONE_SEAT}`, { token: state.admin, body: { capacity: 1 } });
  assert.equal(cap.status, 200, JSON.stringify(cap.data));
});
after(async () => {
  if (browser) await browser.close();
  if (server) await server.stop();
});

const call = (method, p, opts = {}) => apiCall(method, p, { base: server.url, ...opts });
const mail = (to, re, since) => waitForMail(to, re, { since, dir: server.mailDir });

async function remaining(slotId) {
  const r = await call('GET', `/api/v1/counters/city-hall/availability?from=${DAY}&to=${DAY}`);
  return r.data.days[0].slots.find((s) => s.id === slotId).remaining;
}

/** A link for `email` asked for and read from its mail, as another resident would (no page). */
async function verified(email) {
  const since = Date.now();
  const r = await call('POST', '/api/v1/verifications', { body: { email } });
  assert.equal(r.status, 202, JSON.stringify(r.data));
  return (await mail(email, /\/booking\/verify\?token=([A-Za-z0-9_-]+)/, since)).match[1];
}

/** From the start page: the procedure, the day, the slot, the address; the mailed link. */
async function startAndMail(page, slotId, email) {
  await page.goto(server.url + '/');
  await page.waitForSelector('.cal-grid button.day[data-state="avail"]');
  await page.check('#procedure-pin-reset');
  await page.click(`.cal-grid button.day[data-date="${DAY}"]`);
  await page.click(`.slot[data-slot="${slotId}"]`);
  await page.fill('#f-email', email);
  const since = Date.now();
  await page.click('#mail-submit');
  await guard(page, 'mail-sent', () => page.waitForSelector('[data-testid="mail-sent"]:not([hidden])'));
  return (await mail(email, /(http\S+\/booking\/verify\?token=([A-Za-z0-9_-]+))/, since)).match;
}

async function fillForm(page, kana, phone) {
  await page.fill('#f-name', '仮押 さえこ');
  await page.fill('#f-name_kana', kana);
  await page.fill('#f-phone', phone);
  await page.click('#to-confirm');
  await page.waitForSelector('[data-testid="confirm-list"]');
}

test('the chosen slot is kept while the form is filled in, and booked however full it got', async () => {
  const page = await watchedPage(browser.context);
  const email = `holder-${stamp}@example.jp`;
  await page.goto(server.url + '/');
  await page.waitForSelector('.cal-grid button.day[data-state="avail"]');
  assert.match(await page.textContent('[data-testid="hold-explained"]'), /10分間.*確保します\(仮押さえ\)/,
    'the start page says what opening the link does');
  const [, url] = await startAndMail(page, ONE_SEAT, email);

  await page.goto(url);
  await page.waitForSelector('#booking-form');
  const left = page.locator('[data-testid="hold-left"]');
  await left.waitFor();
  const first = await left.textContent();
  assert.match(first, /9:2\d まで確保しています\(あと (10分0秒|9分\d+秒)\)/, first);
  assert.equal(await left.getAttribute('role'), 'timer');
  // The only seat is the resident's now: the calendar says so to everyone, and another
  // resident's booking is refused.
  assert.equal(await remaining(ONE_SEAT), 0);
  const otherToken = await verified(`someone-else-${stamp}@example.jp`);
  const refused = await call('POST', '/api/v1/reservations', {
    body: {
      verification_token: otherToken, slot_id: ONE_SEAT, procedure: 'pin-reset', applicant_type: 'holder',
      name: '別 人', name_kana: 'ベツ ヒト', phone: '090-7777-0001',
    },
  });
  assert.equal(refused.status, 409);
  assert.equal(refused.data.code, 'slot_full');
  // The time left counts down.
  await page.waitForFunction((before) => document.querySelector('[data-testid="hold-left"]').textContent !== before, first);
  await assertAccessible(page, 'the form with the slot kept');
  await screenshot(page, 'resident-hold', { element: 'section[aria-labelledby="slot-h"]' });

  await fillForm(page, 'かりおさ さえこ', '090-7777-0002');
  const onConfirm = await page.textContent('[data-testid="hold-left-confirm"]');
  assert.match(onConfirm, /まで確保しています/, 'the confirmation says it too');
  await assertAccessible(page, 'the confirmation with the slot kept');
  await page.click('#confirm-submit');
  await guard(page, 'done', () => page.waitForSelector('[data-testid="done"]'));
  const number = (await page.textContent('[data-testid="reservation-number"]')).trim();
  const r = await call('GET', `/api/v1/staff/reservations/${number}`, { token: state.admin });
  assert.equal(r.data.slot.id, ONE_SEAT, 'the seat kept is the one booked');
  assert.equal(await remaining(ONE_SEAT), 0);
  page.assertClean();
  await page.close();
});

test('a hold gone by the time the form is sent does not stop the booking', async () => {
  const page = await watchedPage(browser.context);
  const email = `replaced-${stamp}@example.jp`;
  const slotId = `city-hall.${DAY}.1100`;
  const [, url, token] = await startAndMail(page, slotId, email);
  await page.goto(url);
  await page.waitForSelector('[data-testid="hold-left"]:not([hidden])');
  assert.equal(await remaining(slotId), 2, 'one of three seats is kept');
  // The same address holds another slot meanwhile (another tab): the page's hold is replaced.
  const other = await call('POST', '/api/v1/holds', { body: { verification_token: token, slot_id: `city-hall.${DAY}.1130` } });
  assert.equal(other.status, 201, JSON.stringify(other.data));
  assert.equal(await remaining(slotId), 3);
  await fillForm(page, 'かりおさ つぎこ', '090-7777-0003');
  await page.click('#confirm-submit');
  await guard(page, 'done', () => page.waitForSelector('[data-testid="done"]'));
  const number = (await page.textContent('[data-testid="reservation-number"]')).trim();
  const r = await call('GET', `/api/v1/staff/reservations/${number}`, { token: state.admin });
  assert.equal(r.data.slot.id, slotId);
  assert.equal(await remaining(slotId), 2);
  page.assertClean();
  await page.close();
});

test('a parent books two children in one booking: the hold keeps three seats, one mail lists all', async () => {
  const page = await watchedPage(browser.context);
  const email = `family-${stamp}@example.jp`;
  const slotId = `city-hall.${DAY}.1400`;
  const [, url] = await startAndMail(page, slotId, email);
  await page.goto(url);
  await page.waitForSelector('[data-testid="hold-left"]:not([hidden])');
  assert.equal(await remaining(slotId), 2, 'one seat kept for the parent');
  const child = async (i, name, kana) => {
    await page.click('[data-testid="party-add"]');
    const id = (f) => `[id="f-party[${i}].${f}"]`;
    await page.locator(id('procedure')).waitFor();
    assert.equal(await page.evaluate(() => document.activeElement.id), `f-party[${i}].procedure`, 'the new person takes focus');
    await page.selectOption(id('procedure'), 'pin-reset');
    assert.equal(await page.inputValue(id('applicant_type')), 'legal_representative', 'a child comes with a parent');
    await page.fill(id('name'), name);
    await page.fill(id('name_kana'), kana);
    await page.fill(id('representative_name'), '仮押 さえこ');
  };
  await child(0, '仮押 いちろう', 'かりおさ いちろう');
  await child(1, '仮押 じろう', 'かりおさ じろう');
  // The hold follows the party: three seats now, the slot full for everyone else.
  for (let i = 0; i < 40 && (await remaining(slotId)) !== 0; i++) await new Promise((r) => setTimeout(r, 100));
  assert.equal(await remaining(slotId), 0, 'the hold keeps a seat for each of them');
  assert.match(await page.textContent('[data-testid="party-note"]'), /4人まで/);
  await assertAccessible(page, 'the form with two children');
  await screenshot(page, 'resident-party', { element: '[data-testid="party"]' });

  await fillForm(page, 'かりおさ さえこ', '090-7777-0004');
  const listed = await page.textContent('[data-field="party"]');
  assert.match(listed, /仮押 いちろう.*カリオサ イチロウ.*仮押 じろう/);
  const since = Date.now();
  await page.click('#confirm-submit');
  await guard(page, 'done', () => page.waitForSelector('[data-testid="done"]'));
  const numbers = await page.locator('[data-testid="done-party"] .res-number').allTextContents();
  assert.equal(numbers.length, 2);
  const lead = (await page.textContent('[data-testid="reservation-number"]')).trim();
  await assertAccessible(page, 'the completion page of a party');
  // One mail, listing all three by number.
  const sent = await mail(email, /ご一緒に予約した方/, since);
  for (const n of [lead, ...numbers]) assert.ok(sent.text.includes(n), `${n} in the mail`);
  for (const n of numbers) {
    const r = await call('GET', `/api/v1/staff/reservations/${n}`, { token: state.admin });
    assert.equal(r.data.slot.id, slotId);
    assert.equal(r.data.applicant_type, 'legal_representative');
  }
  page.assertClean();
  await page.close();
});
