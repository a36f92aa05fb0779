// When the service sheds load, the page keeps the resident's place: a booking answered 503
// `busy` (as the server answers when its public queue is full) is sent again by itself after
// Retry-After, the resident is told so in plain words while it waits, and the booking
// completes with what they entered.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { env, launch, watchedPage, waitForMail, apiCall, guard } from '../lib/harness.js';

let browser;
const email = `busy-${Date.now().toString(36)}@example.jp`;
const phone = `080-${String(Date.now()).slice(-8, -4)}-${String(Date.now()).slice(-4)}`;

before(async () => { browser = await launch(); });
after(async () => { if (browser) await browser.close(); });

test('a booking told busy is sent again by the page, which says so, and completes', async () => {
  // A slot the web may book (the browser tests' clock: Tuesday 12 January 2027, 09:10).
  const week = await apiCall('GET', '/api/v1/counters/city-hall/availability?from=2027-01-20&to=2027-01-27');
  const slot = week.data.days.flatMap((d) => d.slots).find((s) => s.bookable);
  assert.ok(slot, 'a bookable slot');
  const sentAt = Date.now();
  const asked = await apiCall('POST', '/api/v1/verifications', { body: { email, counter: 'city-hall', slot_id: slot.id } });
  assert.equal(asked.status, 202);
  const mail = await waitForMail(email, /(http\S+\/booking\/verify\?token=[A-Za-z0-9_-]+)/, { since: sentAt });
  const page = await watchedPage(browser.context);
  let posts = 0;
  await page.route('**/api/v1/reservations', async (route) => {
    if (route.request().method() !== 'POST') return route.continue();
    posts += 1;
    if (posts > 1) return route.continue();
    await route.fulfill({
      status: 503,
      headers: { 'Content-Type': 'application/problem+json', 'Retry-After': '1' },
      body: JSON.stringify({
        type: 'https://madoguchi.example/problems/busy', status: 503, code: 'busy',
        title: 'ただいま大変混み合っています。少し待ってからもう一度お試しください。入力した内容はそのまま残ります。',
        detail: 'ただいま大変混み合っています。少し待ってからもう一度お試しください。入力した内容はそのまま残ります。',
      }),
    });
  });
  await page.goto(mail.match[1]);
  await page.waitForSelector('#booking-form');
  await page.selectOption('#f-procedure', 'pin-reset');
  await page.fill('#f-name', '混雑 花子');
  await page.fill('#f-name_kana', 'コンザツ ハナコ');
  await page.fill('#f-phone', phone);
  await page.click('#to-confirm');
  await page.waitForSelector('[data-testid="confirm-list"]');
  await page.click('#confirm-submit');
  const status = page.locator('#busy-status');
  await status.waitFor({ state: 'visible' });
  const said = await status.textContent();
  assert.match(said, /混み合っています/);
  assert.match(said, /入力した内容はそのまま/);
  assert.match(said, /秒後に自動でもう一度送信/);
  await guard(page, 'done', () => page.waitForSelector('[data-testid="done"]'));
  assert.equal(posts, 2, 'sent once more, by the page itself');
  assert.equal(await status.isHidden(), true, 'the busy note goes once the booking is through');
  const number = (await page.textContent('[data-testid="reservation-number"]')).trim();
  assert.match(number, /^[A-Z0-9]{4}-[A-Z0-9]{4}$/);
  page.assertClean();
  await page.close();
});
