// A month drawn by lottery (抽選予約), as the people who use it meet it: an administrator makes
// the lottery in the console; a resident verifies an address, picks two preferred times of the
// month in the calendar, enters, and sees the entry on the manage page. A private server whose
// rehearsal clock starts at 10:00 on 20 November 2026 (February not yet open).

import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { launch, watchedPage, screenshot, startServer, waitForMail, assertAccessible, guard } from '../lib/harness.js';

let server;
let browser;
let desk;
const ADMIN = { login: 'lotto-admin', password: 'a-long-lottery-password-2026' };

before(async () => {
  browser = await launch();
  desk = await launch({ viewport: { width: 1280, height: 900 } });
  server = await startServer({ clockStart: '2026-11-20T10:00:00+09:00' });
  await server.staffAdd(ADMIN.login, 'admin', ADMIN.password);
});
after(async () => {
  if (browser) await browser.close();
  if (desk) await desk.close();
  if (server) await server.stop();
});

test('an administrator makes a lottery and a resident enters it from the pages', async () => {
  const admin = await watchedPage(desk.context);
  await admin.goto(server.url + '/staff/');
  await admin.fill('#f-login', ADMIN.login);
  await admin.fill('#f-password', ADMIN.password);
  await admin.click('#login-submit');
  await admin.waitForSelector('#nav:not([hidden])');
  await admin.goto(server.url + '/staff/#admin/lotteries');
  await admin.waitForSelector('#lottery-form');
  await admin.fill('#lo-month', '2027-02');
  await admin.fill('#lo-applications_open', '2026-11-20T09:00');
  await admin.fill('#lo-applications_close', '2026-11-25T17:00');
  await admin.fill('#lo-draw_at', '2026-11-26T12:00');
  await admin.click('#lottery-form button[type="submit"]');
  await guard(admin, 'lottery-made', () => admin.waitForSelector('[data-testid="lotteries"] tr[data-lottery]'));
  const row = await admin.textContent('[data-testid="lotteries"] tr[data-lottery]');
  assert.match(row, /2027-02/);
  assert.match(row, /申込み受付中/);
  await screenshot(admin, 'admin-lottery');
  admin.assertClean();

  const page = await watchedPage(browser.context);
  const email = `lotto-${Date.now().toString(36)}@example.jp`;
  await page.goto(server.url + '/');
  await page.waitForSelector('#procedure-choices input');
  await page.check('#procedure-pin-reset');
  await page.fill('#f-email', email);
  const sentAt = Date.now();
  await page.click('[data-testid="mail-prepare"]');
  await page.waitForSelector('[data-testid="mail-sent"]:not([hidden])');
  const mail = await waitForMail(email, /(http\S+\/booking\/verify\?token=[A-Za-z0-9_-]+)/, { since: sentAt, dir: server.mailDir });
  await page.goto(mail.match[1]);
  await page.waitForSelector('#booking-form');
  await page.fill('#f-name', '抽選 一郎');
  await page.fill('#f-name_kana', 'ちゅうせん いちろう');
  await page.fill('#f-phone', '090-1357-2468');
  await page.waitForSelector('.cal-grid button.day');
  while ((await page.textContent('.cal-head h3')) !== '2027年2月') {
    const title = await page.textContent('.cal-head h3');
    await page.click('.cal-nav[aria-label="次の月"]');
    await page.waitForFunction((t) => document.querySelector('.cal-head h3').textContent !== t, title);
  }
  assert.equal(await page.textContent('.cal-grid button.day[data-date="2027-02-10"] .day-note'), '抽選', 'the days say they are drawn');
  await page.click('.cal-grid button.day[data-date="2027-02-10"]');
  assert.match(await page.textContent('[data-testid="day-lottery"]'), /抽選で予約を決めます/);
  await page.click('.slot[data-slot="city-hall.2027-02-10.0900"]');
  await page.click('.slot[data-slot="city-hall.2027-02-10.0930"]');
  await page.waitForSelector('#enter-lottery');
  const prefs = await page.locator('[data-testid="prefs"] li').allTextContents();
  assert.equal(prefs.length, 2);
  assert.match(prefs[0], /第1希望/);
  await assertAccessible(page, 'the verify page, entering a lottery');
  await page.click('#enter-lottery');
  await guard(page, 'lottery-done', () => page.waitForSelector('[data-testid="lottery-done"]'));
  assert.match(await page.textContent('[data-testid="lottery-done"]'), /抽選に申し込みました/);
  await page.click('[data-testid="lottery-link"]');
  await page.waitForSelector('[data-testid="lottery-entry"]');
  assert.equal(await page.getAttribute('[data-testid="lottery-entry"]', 'data-status'), 'entered');
  assert.match(await page.textContent('[data-testid="lottery-entry"]'), /抽選待ち/);
  await screenshot(page, 'resident-lottery-entry');
  page.assertClean();
});
