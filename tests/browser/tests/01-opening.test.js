// The calendar opens at the opening second, without a reload: a private server whose rehearsal
// clock starts a few seconds before 12:00 on 1 December 2026, when February 2027 opens.

import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { launch, watchedPage, screenshot, startServer, apiCall } from '../lib/harness.js';

let server;
let browser;

before(async () => {
  browser = await launch();
  server = await startServer({ clockStart: '2026-12-01T11:59:50+09:00' });
});
after(async () => {
  if (browser) await browser.close();
  if (server) await server.stop();
});

test('February opens at 12:00:00 on 1 December without a reload', async () => {
  const page = await watchedPage(browser.context);
  await page.goto(server.url + '/');
  await page.waitForSelector('.cal-grid button.day');
  // From this month to February (two months ahead).
  for (let i = 0; i < 2; i++) {
    const title = await page.textContent('.cal-head h3');
    await page.click('.cal-nav[aria-label="次の月"]');
    await page.waitForFunction((t) => document.querySelector('.cal-head h3').textContent !== t, title);
  }
  assert.equal(await page.textContent('.cal-head h3'), '2027年2月');
  await page.waitForSelector('.cal-grid button.day[data-state="pending"]');
  const banner = await page.textContent('[data-testid="cal-window"]');
  assert.match(banner, /12月1日\(火\) 12:00/, 'the month says when it opens');
  assert.match(banner, /受付開始まで あと 00:00:[0-5]\d/, 'and counts down to it');
  assert.equal(await page.locator('.cal-grid button.day[data-state="avail"]').count(), 0, 'nothing is bookable before noon');
  const note = await page.textContent('.cal-grid button.day[data-state="pending"] .day-note');
  assert.equal(note, '12/1 12:00〜', 'each day says when it opens');
  await page.click('.cal-grid button.day[data-date="2027-02-01"]');
  assert.equal(await page.locator('.slot:not([disabled])').count(), 0, 'its slots are not offered yet');
  await screenshot(page, 'resident-calendar-before-opening', { element: '#when' });

  await page.evaluate(() => { window.__sameDocument = true; });
  await page.waitForSelector('.cal-grid button.day[data-state="avail"]', { timeout: 15000 });
  const opened = await apiCall('GET', '/api/v1/counters', { base: server.url });
  const now = opened.headers.get('x-madoguchi-now');
  assert.ok(now >= '2026-12-01T12:00:00+09:00' && now <= '2026-12-01T12:00:03+09:00', `opened at the second (server time ${now})`);
  assert.equal(await page.evaluate(() => window.__sameDocument), true, 'the page was not reloaded');
  assert.ok(await page.locator('.slot:not([disabled])').count() > 0, 'the chosen day offers its slots');
  assert.match(await page.textContent('[data-testid="cal-window"]'), /受付中/);
  await screenshot(page, 'resident-calendar-opened', { element: '#when' });
  page.assertClean();
});
