// A resident books from the calendar through the mailed link to the completion page, sees a
// problem next to its field, and cancels from the manage page; bad links get a page that says
// so; every page passes axe-core (no serious or critical violation).

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { env, launch, watchedPage, screenshot, assertAccessible, waitForMail, apiCall, guard } from '../lib/harness.js';

let browser;
const email = `resident-${Date.now().toString(36)}@example.jp`; // no long digit run: it could pass the My Number check
const phone = `090-${String(Date.now()).slice(-8, -4)}-${String(Date.now()).slice(-4)}`;
const state = {};

before(async () => { browser = await launch(); });
after(async () => { if (browser) await browser.close(); });

test('the start page explains before booking and shows what to bring', async () => {
  const page = await watchedPage(browser.context);
  await page.goto(env.url + '/');
  await page.waitForSelector('#procedure-choices input');
  const notes = await page.textContent('[data-testid="before-notes"]');
  assert.match(notes, /コンビニ/, 'the signature PIN can be reset at a convenience store');
  assert.match(notes, /スマートフォン/, 'smartphone certificates are not handled at the counter');
  assert.match(notes, /2回/, 'a voluntary proxy comes twice');
  assert.match(notes, /マイナンバー\(個人番号12桁\)や暗証番号は、予約のどの欄にも入力しないでください/);
  assert.match(await page.textContent('#footer-phones'), /0748-36-5560/, "the counter's phone number is shown");
  await page.check('#procedure-pin-reset');
  await page.check('#applicant_type-voluntary_proxy');
  const bring = await page.textContent('#bring');
  assert.match(bring, /来庁回数: 2回/);
  await page.check('#applicant_type-holder');
  assert.match(await page.textContent('#bring'), /本人のマイナンバーカード/);
  await page.waitForSelector('.cal-grid button.day[data-state="avail"]');
  // A closed day says why in the server's words (words.js, the same table as its problems).
  const closedDays = await page.locator('.cal-grid span.day.closed .visually-hidden').allTextContents();
  assert.ok(closedDays.some((t) => /閉庁日/.test(t)), `a weekend reads 閉庁日: ${closedDays.slice(0, 3)}`);
  await assertAccessible(page, 'the start page');
  await screenshot(page, 'resident-start');
  page.assertClean();
  await page.close();
});

test('a resident books from the calendar through the mailed link', async () => {
  const page = await watchedPage(browser.context);
  await page.goto(env.url + '/');
  await page.waitForSelector('.cal-grid button.day[data-state="avail"]');
  await page.check('#procedure-pin-reset');
  await page.click('.cal-grid button.day[data-state="avail"] >> nth=0');
  const slot = page.locator('.slot:not([disabled]) >> nth=0');
  state.slotId = await slot.getAttribute('data-slot');
  await slot.click();
  const picked = await page.textContent('[data-testid="picked-slot"]');
  await page.fill('#f-email', email);
  const sentAt = Date.now();
  await page.click('#mail-submit');
  await guard(page, 'mail-sent', () => page.waitForSelector('[data-testid="mail-sent"]:not([hidden])'));
  assert.match(await page.textContent('[data-testid="mail-sent"]'), new RegExp(email.replace('.', '\\.')));
  await assertAccessible(page, 'the start page after the mail');
  await screenshot(page, 'resident-mail-sent');
  page.assertClean();

  const mail = await waitForMail(email, /(http\S+\/booking\/verify\?token=[A-Za-z0-9_-]+)/, { since: sentAt });
  state.verifyUrl = mail.match[1];
  // Opened in another browser (a phone's mail app keeps none of this one's storage): the slot
  // and the procedure chosen before the mail come back all the same.
  const other = await launch();
  try {
    const elsewhere = await watchedPage(other.context);
    await elsewhere.goto(state.verifyUrl);
    await elsewhere.waitForSelector('#booking-form');
    assert.equal(await elsewhere.inputValue('#f-procedure'), 'pin-reset', 'the procedure comes back in another browser');
    assert.ok((await elsewhere.textContent('[data-testid="picked-slot"]')).endsWith(picked), 'so does the slot');
    elsewhere.assertClean();
  } finally {
    await other.close();
  }
  await page.goto(state.verifyUrl);
  await page.waitForSelector('#booking-form');
  const again = await page.textContent('[data-testid="picked-slot"]');
  assert.ok(again.endsWith(picked), `the mailed link comes back to the chosen slot (${again} / ${picked})`);
  assert.equal(await page.inputValue('#f-procedure'), 'pin-reset', 'the choice made before the mail is kept');
  await assertAccessible(page, 'the verify page (form)');
  await screenshot(page, 'resident-form');

  // A problem next to its field: the kana.
  await page.fill('#f-name', '山田 太郎');
  await page.fill('#f-name_kana', 'yamada taro');
  await page.fill('#f-phone', phone);
  await page.click('#to-confirm');
  const err = page.locator('#f-name_kana-error');
  await err.waitFor();
  assert.match(await err.textContent(), /全角カタカナ/);
  assert.equal(await page.getAttribute('#f-name_kana', 'aria-invalid'), 'true');
  assert.match(await page.getAttribute('#f-name_kana', 'aria-describedby'), /f-name_kana-error/);
  assert.equal(await page.evaluate(() => document.activeElement.id), 'form-summary', 'the summary takes focus');
  assert.equal(await page.locator('#form-summary a[href="#f-name_kana"]').count(), 1, 'the summary links to the field');
  await assertAccessible(page, 'the form with a problem');
  await screenshot(page, 'resident-form-problem');

  await page.fill('#f-name_kana', 'やまだ たろう');
  await page.fill('#f-notes', '車いすで伺います');
  await page.click('#to-confirm');
  await page.waitForSelector('[data-testid="confirm-list"]');
  assert.match(await page.textContent('[data-field="name_kana"]'), /ヤマダ タロウ/, 'hiragana became katakana');
  assert.equal(await page.locator('#f-name_kana-error').count(), 0, 'the problem is gone');
  await assertAccessible(page, 'the confirmation step');
  await screenshot(page, 'resident-confirm');

  await page.click('#confirm-submit');
  await guard(page, 'done', () => page.waitForSelector('[data-testid="done"]'));
  const number = (await page.textContent('[data-testid="reservation-number"]')).trim();
  assert.match(number, /^[A-Z0-9]{4}-[A-Z0-9]{4}$/);
  // The notes are echoed; until when it can be changed is said; what to bring is one line here.
  assert.match(await page.textContent('[data-testid="done-notes"]'), /車いすで伺います/);
  assert.match(await page.textContent('[data-testid="changes-until"]'), /変更・キャンセルは、予約の開始時刻\(.+\)まで/);
  assert.equal(await page.getAttribute('[data-testid="done-bring"]', 'open'), null, 'what to bring is folded on the done page');
  const doneHeight = await page.evaluate(() => document.documentElement.scrollHeight);
  assert.ok(doneHeight < 2600, `the done page is not the lists again (${doneHeight} px on a phone)`);
  const qrOk = await page.locator('img.qr').evaluate((img) => img.complete && img.naturalWidth > 0);
  assert.ok(qrOk, 'the QR code loaded');
  assert.match(page.url(), /\/booking\/manage\?token=/, 'a reload shows the booking, not a used link');
  await assertAccessible(page, 'the completion page');
  await screenshot(page, 'resident-done');
  page.assertClean();
  state.number = number;
  await page.close();
});

test('asking for links too often says how long to wait, once, in minutes', async () => {
  const address = `often-${Date.now().toString(36)}@example.jp`;
  for (let i = 0; i < 3; i++) {
    const r = await apiCall('POST', '/api/v1/verifications', { body: { email: address } });
    assert.equal(r.status, 202);
  }
  const page = await watchedPage(browser.context);
  await page.goto(env.url + '/');
  await page.waitForSelector('.cal-grid button.day[data-state="avail"]');
  await page.check('#procedure-pin-reset');
  await page.click('.cal-grid button.day[data-state="avail"] >> nth=0');
  await page.click('.slot:not([disabled]) >> nth=0');
  await page.fill('#f-email', address);
  await page.click('#mail-submit');
  const summary = page.locator('#mail-summary');
  await summary.waitFor();
  const said = await summary.textContent();
  assert.match(said, /\d+分ほど待ってから、もう一度お試しください/);
  assert.doesNotMatch(said, /\d+秒/, 'a long wait is not given in seconds');
  assert.equal((said.match(/お試しください/g) || []).length, 1, `the wait is said once: ${said}`);
  await assertAccessible(page, 'the rate-limit message');
  page.assertClean();
  await page.close();
});

test('the manage link shows the booking, and the resident cancels it', async () => {
  const mail = await waitForMail(email, /(http\S+\/booking\/manage\?token=[A-Za-z0-9_-]+)/);
  assert.ok(mail.text.includes(state.number), 'the completion mail names the number');
  const page = await watchedPage(browser.context);
  await page.goto(mail.match[1]);
  await page.waitForSelector('[data-testid="reservation"][data-status="confirmed"]');
  assert.equal((await page.textContent('[data-testid="reservation-number"]')).trim(), state.number);
  assert.match(await page.textContent('[data-testid="changes-until"]'), /予約の開始時刻\(2027年.+\)まで/, 'the page says until when');
  assert.match(mail.text, /変更・キャンセルは .+\(予約の開始時刻\)までできます/, 'so does the mail');
  await assertAccessible(page, 'the manage page');
  await screenshot(page, 'resident-manage');

  await page.click('#open-cancel');
  await page.waitForSelector('dialog[data-testid="cancel-dialog"]');
  await assertAccessible(page, 'the cancel confirmation');
  await page.click('dialog[data-testid="cancel-dialog"] [data-action="ok"]');
  await page.waitForSelector('[data-testid="reservation"][data-status="cancelled"]');
  assert.match(await page.textContent('[data-testid="manage-notice"]'), /キャンセルしました/);
  const token = new URL(mail.match[1]).searchParams.get('token');
  const r = await apiCall('GET', `/api/v1/reservations/${token}`);
  assert.equal(r.data.status, 'cancelled', 'the server has it cancelled');
  await screenshot(page, 'resident-cancelled');
  page.assertClean();
  await page.close();
});

test('a used or bad link gets a page that says so and how to start again', async () => {
  const page = await watchedPage(browser.context);
  await page.goto(state.verifyUrl);
  const used = page.locator('[data-testid="invalid"]');
  await used.waitFor();
  assert.equal(await used.getAttribute('data-code'), 'verification_used');
  assert.match(await used.textContent(), /すでに使われています/);
  assert.equal(await page.locator('[data-testid="invalid"] a[href="/"]').count(), 1, 'a way to start again');
  await assertAccessible(page, 'the used-link page');
  await screenshot(page, 'resident-link-used');
  await page.goto(env.url + '/booking/manage?token=' + 'x'.repeat(43));
  await page.waitForSelector('[data-testid="invalid"][data-code="reservation_not_found"]');
  page.assertClean();
  await page.close();
});

test('the English switch, and the mailed link opens the English pages', async () => {
  const page = await watchedPage(browser.context);
  await page.goto(env.url + '/?lang=en');
  await page.waitForSelector('.cal-grid button.day');
  assert.equal(await page.getAttribute('html', 'lang'), 'en');
  assert.equal(await page.textContent('h1'), 'Book a visit to the My Number card special counter');
  assert.equal(await page.getAttribute('#lang-switch', 'lang'), 'ja');
  assert.equal(await page.textContent('#site-city'), '近江八幡市', "the city is the server's city_name");
  assert.equal(await page.getAttribute('#site-city', 'lang'), 'ja');
  await assertAccessible(page, 'the English start page');
  await screenshot(page, 'resident-start-en');

  await page.click('.cal-grid button.day[data-state="avail"] >> nth=0');
  await page.click('.slot:not([disabled]) >> nth=0');
  const address = `english-${Date.now().toString(36)}@example.jp`;
  await page.fill('#f-email', address);
  const sentAt = Date.now();
  await page.click('#mail-submit');
  await page.waitForSelector('[data-testid="mail-sent"]:not([hidden])');
  const mail = await waitForMail(address, /(http\S+\/booking\/verify\?token=[A-Za-z0-9_-]+\S*)/, { since: sentAt });
  assert.match(mail.match[1], /&lang=en$/, 'the link asks for the English pages');
  await page.goto(mail.match[1]);
  await page.waitForSelector('#booking-form');
  assert.equal(await page.getAttribute('html', 'lang'), 'en');
  assert.equal(await page.textContent('h1'), 'Your booking');
  page.assertClean();
  await page.close();
});
