// The front desk's day: a visitor is checked in by typed number and another by a "scanner"
// (fast keystrokes ending with Enter), the desk calls the next ticket, and the waiting-room
// screen (a second page) shows it at once; complete clears the desk.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { env, launch, watchedPage, screenshot, assertAccessible, staffLogin, staffToken, apiCall } from '../lib/harness.js';

let browser;
let screenBrowser;
const stamp = String(Date.now()).slice(-8);
const numbers = [];
const deskNo = String(10 + (Date.now() % 89)); // a desk of its own,
const desk = `${deskNo}番`; // named as staff name desks (12番)

/** Books today's later slots for two visitors (an admin may book outside the window). */
async function bookToday(token, n) {
  const av = await apiCall('GET', '/api/v1/counters/city-hall/availability', { token });
  assert.equal(av.status, 200);
  const now = av.headers.get('x-madoguchi-now'); // the server's clock (the body's `now` is going)
  const today = av.data.days[0];
  assert.ok(today.open, `the rehearsal day ${today.date} must be a working day`);
  const later = today.slots.filter((s) => s.starts_at > now && s.remaining > 0);
  assert.ok(later.length >= n, 'free slots later today');
  for (let i = 0; i < n; i++) {
    const r = await apiCall('POST', '/api/v1/staff/reservations', {
      token,
      body: {
        slot_id: later[i].id, procedure: 'pin-reset', applicant_type: 'holder', name: `来庁 ${i + 1}`,
        name_kana: `ライチョウ ${['イチ', 'ニ', 'サン'][i]}`, phone: `0748-${stamp.slice(0, 2)}-${stamp.slice(4, 7)}${i}`,
        override_window: true, override_reason: 'ブラウザテスト: 当日の来庁者',
      },
    });
    assert.equal(r.status, 201, JSON.stringify(r.data));
    numbers.push(r.data.reservation_number);
  }
}

before(async () => {
  browser = await launch({ viewport: { width: 1280, height: 900 } });
  screenBrowser = await launch({ viewport: { width: 1920, height: 1080 } });
  await bookToday(await staffToken(env.admin), 2);
});
after(async () => {
  if (browser) await browser.close();
  if (screenBrowser) await screenBrowser.close();
});

test('check in, call next, and the waiting-room screen shows the call', async () => {
  const screen = await watchedPage(screenBrowser.context);
  // What the screen asks the speech synthesiser to say (headless Chromium has no voices).
  await screen.addInitScript(() => {
    window.__spoken = [];
    const fake = { speak: (u) => window.__spoken.push({ text: u.text, lang: u.lang }), cancel() {}, pause() {}, resume() {}, getVoices: () => [], speaking: false, pending: false };
    Object.defineProperty(window, 'speechSynthesis', { value: fake, configurable: true });
  });
  await screen.goto(env.url + '/display/city-hall');
  await screen.waitForSelector('#conn[data-state="open"]', { state: 'attached' });
  assert.match(await screen.textContent('#counter-name'), /近江八幡市役所/);
  assert.match(await screen.textContent('#clock'), /^\d{2}:\d{2}$/);
  await assertAccessible(screen, 'the waiting-room screen');
  await screen.click('#sound');
  await screen.waitForSelector('body[data-sound="on"]');

  const page = await watchedPage(browser.context);
  await staffLogin(page, env.desk);
  const sections = await page.$$eval('#nav-list a', (as) => as.map((a) => a.dataset.section));
  assert.deepEqual(sections, ['search', 'desk'], 'desk staff: the front desk and search');
  // A desk account lands on the front desk (受付・呼出), not on the search.
  await page.waitForSelector('a[data-section="desk"][aria-current="page"]');
  await page.waitForSelector('#d-reservation_number');
  await page.click('a[data-section="desk"]');
  await page.waitForSelector('#d-reservation_number');
  // Calling before the desk has a name asks for it, and the request goes once it is typed.
  await page.fill('#d-desk', '');
  await page.click('#d-call');
  await page.waitForSelector('[data-testid="call-result"] .result.bad');
  assert.match(await page.textContent('[data-testid="call-result"]'), /窓口の名前/);
  // Typed with an input method: full-width digits (１２番), the same desk as 12番 to the server
  // and to the console, which knows its own visitor by it (else every call would be refused).
  await page.fill('#d-desk', desk.replace(/[0-9]/g, (d) => String.fromCharCode(d.charCodeAt(0) + 0xFEE0)));
  assert.equal((await page.textContent('[data-testid="call-result"]')).trim(), '', 'the request for a name is gone');

  // Typed (lower case, without the hyphen: the desk normalises it).
  await page.fill('#d-reservation_number', numbers[0].replace('-', '').toLowerCase());
  await page.press('#d-reservation_number', 'Enter');
  await page.waitForSelector('[data-testid="checkin-result"] .result.ok');
  const ticket = (await page.textContent('[data-testid="checkin-result"] .ticket')).trim();
  assert.match(ticket, /^R-\d{3}$/);
  await page.waitForSelector(`[data-testid="waiting"] tr[data-ticket="${ticket}"]`);

  // Scanned: the keystrokes arrive fast, ending with Enter, while nothing is focused.
  await page.evaluate(() => document.activeElement.blur());
  await page.keyboard.type(numbers[1], { delay: 5 });
  await page.keyboard.press('Enter');
  await page.waitForSelector(`[data-testid="waiting"] tr >> text=${numbers[1]}`);
  assert.match(await page.textContent('[data-testid="checkin-result"]'), new RegExp(numbers[1]));
  // A walk-in with a procedure: the waiting list says what they came for.
  await page.selectOption('#d-procedure', 'cert-renewal');
  await page.click('#d-walkin');
  await page.waitForSelector('[data-testid="walkin-result"] .result.ok');
  const walkIn = (await page.textContent('[data-testid="walkin-result"] .ticket')).trim();
  const walkRow = page.locator(`[data-testid="waiting"] tr[data-ticket="${walkIn}"]`);
  await walkRow.waitFor();
  assert.match(await walkRow.textContent(), /電子証明書/, "the walk-in's procedure is shown");
  await assertAccessible(page, 'the front desk');
  await screenshot(page, 'staff-desk-waiting');

  await page.click('#d-call');
  await page.waitForSelector(`[data-testid="current"] .current[data-ticket="${ticket}"]`);
  assert.equal(await page.textContent('[data-testid="current"] .ticket-no'), ticket, 'the first checked in is called first');
  assert.match(await page.textContent('[data-testid="current-name"]'), /来庁 1/, 'the card says whom the desk serves');
  // One visitor at a time: calling again first asks what became of the one being served.
  await page.click('#d-call');
  const settleDialog = page.locator('dialog[data-testid="settle-dialog"]');
  await settleDialog.waitFor();
  assert.match(await settleDialog.textContent(), new RegExp(`${ticket} の方はまだこの窓口で対応中です`));
  await assertAccessible(page, 'the question before the next call');
  await settleDialog.locator('[data-action="cancel"]').click();
  await settleDialog.waitFor({ state: 'detached' });
  assert.equal(await page.locator('[data-testid="current"] .current').count(), 1, 'not called: still one visitor, the same');
  assert.equal(await page.textContent('[data-testid="current"] .ticket-no'), ticket);

  await screen.waitForSelector(`#latest[data-ticket="${ticket}"]`, { timeout: 8000 });
  assert.equal(await screen.textContent('#latest-ticket'), ticket);
  // "12番" is shown as 12 番窓口へ, and said "desk 12" in English (no stray へ, no "desk 12番").
  assert.equal(await screen.textContent('#latest-desk'), deskNo);
  assert.equal(await screen.textContent('#latest .desk small[lang="ja"]'), '番窓口へ');
  assert.match(await screen.textContent('#announce'), new RegExp(`${deskNo}番窓口へお越しください.*desk ${deskNo}\\.`));
  // Said aloud after the chime, Japanese then English: the letter as a letter, the number as a
  // number (R-001 is アール、1番), the desk's 番窓口 said once.
  // (The click that enabled sound spoke an empty line, as iOS needs: left out here.)
  await screen.waitForFunction(() => window.__spoken.filter((u) => u.text).length >= 2, null, { timeout: 5000 });
  const n = Number(ticket.split('-')[1]);
  assert.deepEqual(await screen.evaluate(() => window.__spoken.filter((u) => u.text).slice(0, 2)), [
    { text: `アール、${n}番の方、${deskNo}番窓口へお越しください。`, lang: 'ja-JP' },
    { text: `Number R ${n}, please go to desk ${deskNo}.`, lang: 'en-US' },
  ]);
  const body = await screen.textContent('body');
  assert.ok(!body.includes('来庁') && !numbers.some((n) => body.includes(n)), 'no personal data on the screen');
  await screenshot(screen, 'display-called', { fullPage: false });
  await screenshot(page, 'staff-desk-called');

  // Called again, the clerk says the first visitor is done (the choice it offers first), and
  // the next is called: one visitor at the desk all along.
  await page.click('#d-call');
  await settleDialog.waitFor();
  assert.equal(await settleDialog.locator('input[value="complete"]').isChecked(), true);
  await settleDialog.locator('[data-action="ok"]').click();
  await page.waitForSelector(`[data-testid="finished"] td >> text=${ticket}`, { state: 'attached' });
  await page.waitForFunction((first) => {
    const cur = document.querySelectorAll('[data-testid="current"] .current');
    return cur.length === 1 && cur[0].dataset.ticket !== first;
  }, ticket);
  const token = await staffToken(env.desk);
  const r = await apiCall('GET', `/api/v1/staff/reservations/${numbers[0]}`, { token });
  assert.equal(r.data.status, 'completed');

  // The next call reaches the screen too, and the first moves to the recent calls.
  const second = (await page.textContent('[data-testid="current"] .ticket-no')).trim();
  await screen.waitForSelector(`#latest[data-ticket="${second}"]`, { timeout: 8000 });
  assert.equal(await screen.locator(`#recent li[data-ticket="${ticket}"]`).count(), 1);
  await assertAccessible(screen, 'the waiting-room screen with calls');
  screen.assertClean();
  page.assertClean();
});
