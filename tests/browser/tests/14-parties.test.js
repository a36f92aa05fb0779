// Parties (several people in one booking, on one slot), on a private server whose rehearsal
// clock is at 09:10 on Tuesday 12 January 2027 (three seats a slot, four people a booking):
// - phone staff book a caller and the child they bring (as legal representative): a problem of
//   the child's shows next to the child's field, both numbers are read back, both bookings are
//   on the slot; the next call starts with no one added; a caller who brings someone already
//   booked for that procedure is told who;
// - the resident's manage page lists the people booked with them, says that its change and
//   cancel act for everyone, and cancels one person alone: the others stay booked and exactly
//   one seat is freed.
// axe-core runs on every new page state.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  launch, watchedPage, screenshot, assertAccessible, waitForMail, apiCall, startServer, guard,
} from '../lib/harness.js';

const ADMIN = { login: 'partyadmin', password: 'a-long-party-admin-password' };
const PHONE = { login: 'partyphone', password: 'phone-party-password' };
const DAY = '2027-01-27';
const PHONE_SLOT = `city-hall.${DAY}.1000`;
const OTHER_SLOT = `city-hall.${DAY}.1100`;
const MANAGE_SLOT = `city-hall.${DAY}.1400`;

let server;
let browser; // a resident's phone
let staffBrowser; // the phone staff's screen
const state = {};
const stamp = Date.now().toString(36);

before(async () => {
  [server, browser, staffBrowser] = await Promise.all([
    startServer({ clockStart: '2027-01-12T09:10:00+09:00' }),
    launch(),
    launch({ viewport: { width: 1280, height: 900 } }),
  ]);
  await server.staffAdd(ADMIN.login, 'admin', ADMIN.password);
  await server.staffAdd(PHONE.login, 'phone', PHONE.password);
  const r = await call('POST', '/api/v1/staff/sessions', { body: ADMIN });
  assert.equal(r.status, 201, JSON.stringify(r.data));
  state.admin = r.data.token;
  const p = await call('GET', '/api/v1/procedures');
  state.procedures = Object.fromEntries(p.data.procedures.map((x) => [x.id, x.name]));
});
after(async () => {
  if (browser) await browser.close();
  if (staffBrowser) await staffBrowser.close();
  if (server) await server.stop();
});

const call = (method, p, opts = {}) => apiCall(method, p, { base: server.url, ...opts });
const mail = (to, re, since) => waitForMail(to, re, { since, dir: server.mailDir });
/** A party member's field in the phone console (`p-party[0].name`: the server's field name). */
const member = (i, f) => `[id="p-party[${i}].${f}"]`;

async function remaining(slotId) {
  const r = await call('GET', `/api/v1/counters/city-hall/availability?from=${DAY}&to=${DAY}`);
  return r.data.days[0].slots.find((s) => s.id === slotId).remaining;
}

async function staffReservation(number) {
  const r = await call('GET', `/api/v1/staff/reservations/${number}`, { token: state.admin });
  assert.equal(r.status, 200, JSON.stringify(r.data));
  return r.data;
}

async function login(page, who) {
  await page.goto(server.url + '/staff/');
  await page.fill('#f-login', who.login);
  await page.fill('#f-password', who.password);
  await page.click('#login-submit');
  await page.waitForSelector('#nav:not([hidden])');
}

/** Types a day and a time in the console's finder and takes that slot with Enter. */
async function takeSlot(page, when, slotId) {
  await page.fill('#p-when', when);
  await page.waitForFunction((id) => document.querySelector('#slot-options [aria-selected="true"]')?.dataset.slot === id, slotId);
  await page.focus('#p-when');
  await page.keyboard.press('Enter');
  await page.waitForSelector('[data-testid="chosen-slot"]:not([hidden])');
}

test('phone staff book a caller and the child they bring on one slot, and read back both numbers', async () => {
  const before = await remaining(PHONE_SLOT);
  const page = await watchedPage(staffBrowser.context);
  await login(page, PHONE);
  await page.waitForSelector('#slot-options [role="option"]');
  await takeSlot(page, '1/27 10:00', PHONE_SLOT);
  assert.equal(await page.evaluate(() => document.activeElement.id), 'p-procedure', 'focus moves on to the form');
  await page.selectOption('#p-procedure', 'pin-reset');
  await page.fill('#p-name', '電話 おや');
  await page.fill('#p-name_kana', 'でんわ おや');
  await page.fill('#p-phone', '0748-33-5678');
  assert.match(await page.textContent('[data-testid="party-note"]'), /4人まで/, "the counter's party size is said");

  // The child: "add" opens a person's fields, focus on the first; the procedure follows the caller's.
  await page.click('[data-testid="party-add"]');
  await page.locator(member(0, 'procedure')).waitFor();
  assert.equal(await page.evaluate(() => document.activeElement.id), 'p-party[0].procedure', 'the new person takes focus');
  assert.equal(await page.inputValue(member(0, 'procedure')), 'pin-reset', "the caller's procedure is the first guess");
  await page.selectOption(member(0, 'applicant_type'), 'legal_representative');
  await page.fill(member(0, 'name'), '電話 こども');
  await page.fill(member(0, 'name_kana'), 'でんわ こども');
  // Enter books; the representative's name is missing: the server's problem is shown at the child's field.
  await page.press(member(0, 'name_kana'), 'Enter');
  const err = page.locator('[id="p-party[0].representative_name-error"]');
  await guard(page, 'party-problem', () => err.waitFor());
  assert.match(await err.textContent(), /来庁される方のお名前を入力してください/);
  assert.equal(await page.getAttribute(member(0, 'representative_name'), 'aria-invalid'), 'true');
  assert.match(await page.textContent('#phone-summary'), /2人目: 代理人氏名/, 'the summary names the person and the field');
  assert.equal(await remaining(PHONE_SLOT), before, 'nothing was booked');
  await assertAccessible(page, 'the phone console with a problem of a person coming with the caller');
  await screenshot(page, 'staff-phone-party-problem');

  await page.fill(member(0, 'representative_name'), '電話 おや');
  await page.press(member(0, 'representative_name'), 'Enter');
  await guard(page, 'party-readback', () => page.waitForSelector('[data-testid="readback"]:not([hidden])'));
  const lead = await page.getAttribute('[data-testid="readback-number"]', 'data-number');
  const members = page.locator('[data-testid="readback-member"]');
  assert.equal(await members.count(), 1, 'one more person read back');
  const child = await members.first().getAttribute('data-number');
  assert.match(child, /^[A-Z0-9]{4}-[A-Z0-9]{4}$/);
  assert.notEqual(child, lead, 'each person has their own number');
  const text = await members.first().textContent();
  assert.match(text, /2人目/);
  assert.match(text, /デンワ.コドモ 様/, "the child's kana, in katakana");
  assert.match(text, /法定代理人/);
  assert.equal(await page.getAttribute('[data-testid="readback-member-number"]', 'aria-label'), child, "the child's number is read out as a whole");
  assert.equal(await page.evaluate(() => document.activeElement.id), 'next-call', 'Enter starts the next call');
  await assertAccessible(page, 'the read-back of a party');
  await screenshot(page, 'staff-phone-party-readback');

  // Both on the slot, by phone; two seats taken.
  const [a, b] = await Promise.all([staffReservation(lead), staffReservation(child)]);
  assert.equal(a.slot.id, PHONE_SLOT);
  assert.equal(b.slot.id, PHONE_SLOT);
  assert.deepEqual([a.status, b.status], ['confirmed', 'confirmed']);
  assert.deepEqual([a.channel, b.channel], ['phone', 'phone']);
  assert.equal(b.applicant_type, 'legal_representative');
  assert.equal(b.representative_name, '電話 おや');
  assert.equal(await remaining(PHONE_SLOT), before - 2, 'one seat for each of them');

  // The next call starts with no one added.
  await page.keyboard.press('Enter');
  await page.waitForSelector('[data-testid="readback"]', { state: 'hidden' });
  assert.equal(await page.locator('[data-testid="party-person"]').count(), 0, 'the people added are gone with the rest of the form');
  assert.equal(await page.inputValue('#p-name'), '');

  // Another caller (the same telephone) brings the same child for the same procedure: refused by name.
  const other = await remaining(OTHER_SLOT);
  await takeSlot(page, '1/27 11:00', OTHER_SLOT);
  await page.selectOption('#p-procedure', 'cert-renewal');
  await page.fill('#p-name', '電話 そふ');
  await page.fill('#p-name_kana', 'デンワ ソフ');
  await page.fill('#p-phone', '0748-33-5678');
  await page.click('[data-testid="party-add"]');
  await page.selectOption(member(0, 'procedure'), 'pin-reset');
  await page.selectOption(member(0, 'applicant_type'), 'legal_representative');
  await page.fill(member(0, 'name'), '電話 こども');
  await page.fill(member(0, 'name_kana'), 'デンワ コドモ');
  await page.fill(member(0, 'representative_name'), '電話 そふ');
  await page.click('#p-submit');
  const has = page.locator('#phone-summary [data-testid="party-member-has"]');
  await guard(page, 'party-member-has', () => has.waitFor());
  assert.match(await has.textContent(), /電話 こども さんは同じ用件の予約がすでにあります/);
  assert.equal(await page.getAttribute('#phone-summary', 'data-code'), 'active_reservation_exists');
  assert.equal(await remaining(OTHER_SLOT), other, 'nobody was booked');
  await assertAccessible(page, 'the phone console refusing a person already booked');
  page.assertClean();
  await page.close();
});

test("the manage page lists the party, and cancelling one person frees one seat and keeps the others'", async () => {
  // A parent books with two children through the API, from a verified address.
  const email = `party-${stamp}@example.jp`;
  const since = Date.now();
  const v = await call('POST', '/api/v1/verifications', { body: { email } });
  assert.equal(v.status, 202, JSON.stringify(v.data));
  const verification = (await mail(email, /\/booking\/verify\?token=([A-Za-z0-9_-]+)/, since)).match[1];
  const kid = (name, name_kana, procedure) => ({
    procedure, applicant_type: 'legal_representative', name, name_kana, representative_name: '管理 はは',
  });
  const booked = await call('POST', '/api/v1/reservations', {
    body: {
      verification_token: verification, slot_id: MANAGE_SLOT, procedure: 'pin-reset', applicant_type: 'holder',
      name: '管理 はは', name_kana: 'カンリ ハハ', phone: '090-8888-0001',
      party: [kid('管理 あに', 'カンリ アニ', 'pin-reset'), kid('管理 おとうと', 'カンリ オトウト', 'cert-renewal')],
    },
  });
  assert.equal(booked.status, 201, JSON.stringify(booked.data));
  const token = booked.data.manage_token;
  const [elder, younger] = booked.data.party.map((m) => m.reservation_number);
  assert.equal(await remaining(MANAGE_SLOT), 0, 'the three seats are theirs');

  const page = await watchedPage(browser.context);
  await page.goto(`${server.url}/booking/manage?token=${token}`);
  await guard(page, 'manage-party', () => page.waitForSelector('[data-testid="party"]'));
  const people = page.locator('[data-testid="party-member"]');
  assert.equal(await people.count(), 2, 'both children are listed');
  const first = await page.textContent(`[data-testid="party-member"][data-number="${elder}"]`);
  assert.ok(first.includes('管理 あに') && first.includes(state.procedures['pin-reset']), first);
  assert.match(first, /予約済み/);
  const second = await page.textContent(`[data-testid="party-member"][data-number="${younger}"]`);
  assert.ok(second.includes('管理 おとうと') && second.includes(state.procedures['cert-renewal']), second);
  assert.match(second, /予約済み/);
  assert.match(await page.textContent('[data-testid="party-all"]'), /全員\(3人\)の予約に適用されます/,
    'the page says its change and cancel act for everyone');
  await assertAccessible(page, 'the manage page of a party');
  await screenshot(page, 'resident-manage-party');

  // The booking's own cancel would take the children too, and says so.
  await page.click('#open-cancel');
  const whole = page.locator('dialog[data-testid="cancel-dialog"]');
  await whole.waitFor();
  const all = await whole.textContent();
  assert.match(all, /一緒に来庁する方\((管理 あに、管理 おとうと|管理 おとうと、管理 あに)\)の予約もキャンセルされます/, all);
  await page.click('dialog[data-testid="cancel-dialog"] [data-action="cancel"]');
  await whole.waitFor({ state: 'detached' });

  // One child only.
  await page.click(`[data-testid="party-cancel"][data-number="${elder}"]`);
  const dialog = page.locator('dialog[data-testid="party-cancel-dialog"]');
  await dialog.waitFor();
  const asked = await dialog.textContent();
  assert.ok(asked.includes('管理 あに') && asked.includes(elder), asked);
  assert.match(asked, /ほかの方の予約はそのままです/);
  await assertAccessible(page, 'the confirmation to cancel one person of a party');
  await page.click('dialog[data-testid="party-cancel-dialog"] [data-action="ok"]');
  await guard(page, 'party-cancelled', () => page.waitForSelector(`[data-testid="party-member"][data-number="${elder}"][data-status="cancelled"]`));
  assert.match(await page.textContent('[data-testid="manage-notice"]'), /管理 あに 様の予約をキャンセルしました/);
  assert.match(await page.textContent(`[data-testid="party-member"][data-number="${elder}"]`), /キャンセル済み/);
  assert.equal(await page.getAttribute(`[data-testid="party-member"][data-number="${younger}"]`, 'data-status'), 'confirmed');
  assert.equal(await page.getAttribute('[data-testid="reservation"]', 'data-status'), 'confirmed');
  assert.equal(await page.locator(`[data-testid="party-cancel"][data-number="${elder}"]`).count(), 0, 'a cancelled person has no button');
  assert.match(await page.textContent('[data-testid="party-all"]'), /全員\(2人\)/);
  await assertAccessible(page, 'the manage page after one person of a party was cancelled');
  await screenshot(page, 'resident-manage-party-cancelled');

  // The server agrees: the others are booked, and exactly one seat is free again.
  const r = await call('GET', `/api/v1/reservations/${token}`);
  assert.equal(r.data.status, 'confirmed');
  const status = Object.fromEntries(r.data.party.map((m) => [m.reservation_number, m.status]));
  assert.deepEqual(status, { [elder]: 'cancelled', [younger]: 'confirmed' });
  assert.equal((await staffReservation(younger)).status, 'confirmed');
  assert.equal(await remaining(MANAGE_SLOT), 1, 'one seat freed, no more');
  page.assertClean();
  await page.close();
});
