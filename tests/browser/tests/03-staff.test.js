// The staff console: sign-in, role-aware menus, a phone booking from the keyboard (a server
// problem shown next to its field, then the number read back), search and cancel with a
// reason kept for staff and a message mailed to the resident, and every administration
// section; axe-core on each.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { env, launch, watchedPage, screenshot, assertAccessible, staffLogin, staffToken, apiCall, waitForMail, serverNow } from '../lib/harness.js';

let browser;
const stamp = String(Date.now()).slice(-8);
const caller = { kana: 'たなか はなこ', phone: `090-${stamp.slice(0, 4)}-${stamp.slice(4)}`, email: `hanako.${stamp}@example.jp` };
const state = {};

before(async () => { browser = await launch({ viewport: { width: 1280, height: 900 } }); });
after(async () => { if (browser) await browser.close(); });

async function navLabels(page) {
  return page.$$eval('#nav-list a', (as) => as.map((a) => a.dataset.section));
}

test('sign-in: a wrong password is refused next to the form, the phone role sees its menus', async () => {
  const page = await watchedPage(browser.context);
  await page.goto(env.url + '/staff/');
  await page.waitForSelector('#login-form');
  await assertAccessible(page, 'the staff login');
  await screenshot(page, 'staff-login');
  await page.fill('#f-login', env.phone.login);
  await page.fill('#f-password', 'not-the-password');
  await page.click('#login-submit');
  await page.waitForSelector('#login-summary:not([hidden])');
  assert.match(await page.textContent('#login-summary'), /ログイン名またはパスワードが違います/);
  assert.doesNotMatch(await page.textContent('#login-summary'), /null/, 'no stray "null" line under the message');
  await staffLogin(page, env.phone);
  assert.deepEqual(await navLabels(page), ['phone', 'search'], 'phone staff: phone booking and search only');
  assert.equal(await page.evaluate(() => sessionStorage.getItem('madoguchi.staff.token') !== null && localStorage.getItem('madoguchi.staff.token') === null), true, 'the token lives in sessionStorage');
  page.assertClean();
  await page.close();
});

test('a phone booking from the keyboard, with the number read back', async () => {
  const page = await watchedPage(browser.context);
  await staffLogin(page, env.phone);
  await page.waitForSelector('#p-when:focus');
  await page.waitForSelector('#slot-options [role="option"]');
  await assertAccessible(page, 'the phone booking section');
  // The next free slots: ↓ then Enter takes the second one.
  await page.keyboard.press('ArrowDown');
  const second = await page.getAttribute('#slot-options [aria-selected="true"]', 'data-slot');
  assert.ok(second, 'an option is active');
  await page.keyboard.press('Enter');
  await page.waitForSelector('[data-testid="chosen-slot"]:not([hidden])');
  assert.equal(await page.evaluate(() => document.activeElement.id), 'p-procedure', 'focus moves on to the form');

  // Or type a date and a time: the day's slots, with the one at that time active.
  const [, date, hhmm] = /\.(\d{4}-\d{2}-\d{2})\.(\d{4})$/.exec(second);
  const [, m, d] = date.split('-');
  await page.fill('#p-when', `${+m}/${+d} ${hhmm}`);
  await page.waitForFunction((id) => document.querySelector('#slot-options [aria-selected="true"]')?.dataset.slot === id, second);
  await page.focus('#p-when');
  await page.keyboard.press('Enter');
  assert.match(await page.textContent('[data-testid="chosen-slot"]'), new RegExp(`${+m}月${+d}日`));

  await page.selectOption('#p-procedure', 'cert-renewal');
  await page.fill('#p-name', '田中 花子');
  await page.fill('#p-name_kana', 'tanaka hanako');
  await page.fill('#p-email', caller.email);
  await page.fill('#p-phone', caller.phone);
  await page.press('#p-phone', 'Enter');
  // The server's problem, next to its field (the console leaves checking to the server).
  const err = page.locator('#p-name_kana-error');
  await err.waitFor();
  assert.match(await err.textContent(), /全角カタカナ/);
  assert.equal(await page.getAttribute('#p-name_kana', 'aria-invalid'), 'true');
  await screenshot(page, 'staff-phone-problem');

  await page.fill('#p-name_kana', caller.kana);
  await page.press('#p-name_kana', 'Enter');
  await page.waitForSelector('[data-testid="readback"]:not([hidden])');
  const number = await page.getAttribute('[data-testid="readback-number"]', 'data-number');
  assert.match(number, /^[A-Z0-9]{4}-[A-Z0-9]{4}$/);
  assert.match(await page.textContent('[data-testid="readback"]'), /タナカ　ハナコ 様/);
  assert.equal(await page.evaluate(() => document.activeElement.id), 'next-call', 'Enter starts the next call');
  await assertAccessible(page, 'the read-back');
  await screenshot(page, 'staff-phone-readback');

  const token = await staffToken(env.phone);
  const r = await apiCall('GET', `/api/v1/staff/reservations/${number}`, { token });
  assert.equal(r.status, 200);
  assert.equal(r.data.channel, 'phone');
  assert.equal(r.data.slot.id, second);
  state.number = number;
  page.assertClean();
  await page.close();
});

test('the console says why a day cannot be booked; an admin books past the window, read back with what to bring', async () => {
  const token = await staffToken(env.admin);
  const now = await serverNow();
  const today = new Date(now + 9 * 3600000).toISOString().slice(0, 10);
  const plus = (n) => new Date(Date.parse(today) + n * 86400000).toISOString().slice(0, 10);
  const av = await apiCall('GET', `/api/v1/counters/city-hall/availability?from=${plus(1)}&to=${plus(9)}`, { token });
  assert.equal(av.status, 200);
  const weekend = av.data.days.find((d) => d.closed_reason === 'weekend');
  // A working day whose window has closed (07:00 three days before), a seat left in a slot.
  const past = av.data.days.find((d) => d.open && !d.bookable_now && Date.parse(d.booking_closes_at) < now
    && d.slots.some((sl) => sl.remaining > 0));
  assert.ok(weekend && past, 'the next days hold a weekend and a working day past its window');
  const md = (iso) => `${+iso.slice(5, 7)}/${+iso.slice(8, 10)}`;

  const page = await watchedPage(browser.context);
  await staffLogin(page, env.admin);
  await page.waitForSelector('#p-when:focus');
  // A Saturday: closed, and said so in words, not "no free slot".
  await page.fill('#p-when', md(weekend.date));
  // In the server's words for a closed day (/assets/words.js), as the residents' calendar says it.
  await page.waitForFunction(() => /休み\(閉庁日\)/.test(document.querySelector('#slot-options').textContent));
  assert.doesNotMatch(await page.textContent('#slot-options'), /空いている枠がありません/);

  // A day past its window: when it closed; its slots cannot be chosen …
  await page.fill('#p-when', md(past.date));
  await page.waitForFunction(() => /予約受付は .+ に終了しました/.test(document.querySelector('#slot-options-title').textContent));
  const slot = past.slots.find((sl) => sl.remaining > 0);
  const option = page.locator(`#slot-options [data-slot="${slot.id}"]`);
  assert.equal(await option.getAttribute('aria-disabled'), 'true');
  assert.match(await option.textContent(), /受付期間外/);
  // … until the administrator ticks "book outside the window".
  await page.check('#p-override_window');
  await page.waitForFunction((id) => document.querySelector(`#slot-options [data-slot="${id}"]`).getAttribute('aria-disabled') === 'false', slot.id);
  assert.match(await option.textContent(), new RegExp(`残り${slot.remaining} \\(期間外\\)`));
  await option.click();
  await page.waitForSelector('[data-testid="chosen-slot"]:not([hidden])');

  // A voluntary proxy without an address.
  await page.selectOption('#p-procedure', 'pin-reset');
  await page.selectOption('#p-applicant_type', 'voluntary_proxy');
  await page.fill('#p-representative_name', '代理 一郎');
  await page.fill('#p-name', '期間 外子');
  await page.fill('#p-name_kana', 'キカン ソトコ');
  await page.fill('#p-phone', `080-${stamp.slice(0, 4)}-${stamp.slice(4)}`);
  await page.fill('#p-override_reason', '入院中のため特例(課長承認)');
  await page.click('#p-submit');
  await page.waitForSelector('[data-testid="readback"]:not([hidden])');
  const readback = await page.textContent('[data-testid="readback"]');
  assert.match(await page.textContent('[data-testid="readback-procedure"]'), /暗証番号.*任意代理人/);
  assert.match(readback, /お持ちいただくもの/);
  assert.match(readback, /照会書/, 'the requirements are listed');
  assert.match(await page.textContent('[data-testid="readback-visits"]'), /来庁が2回必要/);
  // On paper the slip for the caller: its title and the address, not the staff's instructions.
  await page.emulateMedia({ media: 'print' });
  const paper = await page.evaluate(() => document.querySelector('[data-testid="readback"]').innerText);
  assert.match(paper, /予約票/);
  assert.match(paper, /近江八幡市桜宮町/);
  assert.doesNotMatch(paper, /読み上げてください|郵送してください|お伝えください/);
  await page.emulateMedia({ media: 'screen' });
  assert.match(await page.textContent('[data-testid="readback-nomail"]'), /メールは送られません/);
  assert.ok(await page.isVisible('#print-slip'), 'a slip can be printed for a caller without mail');
  await assertAccessible(page, 'the read-back of an override');
  await screenshot(page, 'staff-phone-readback-override');
  // The list shows the seat just taken.
  await page.waitForFunction(({ id, n }) => new RegExp(`残り${n}`).test(document.querySelector(`#slot-options [data-slot="${id}"]`)?.textContent || '') || (n === 0 && /満員/.test(document.querySelector(`#slot-options [data-slot="${id}"]`)?.textContent || '')),
    { id: slot.id, n: slot.remaining - 1 });
  page.assertClean();
  await page.close();
});

test('search finds the booking by kana and cancels it: a reason for the record, a message for the resident', async () => {
  const page = await watchedPage(browser.context);
  await staffLogin(page, env.phone);
  await page.click('a[data-section="search"]');
  await page.waitForSelector('#s-q');
  await page.fill('#s-q', 'タナカハナコ');
  await page.press('#s-q', 'Enter');
  const row = page.locator(`tr[data-number="${state.number}"]`);
  await row.waitFor();
  await assertAccessible(page, 'the search section');
  await screenshot(page, 'staff-search');
  await row.locator('[data-action="cancel"]').click();
  await page.waitForSelector('dialog[data-testid="cancel-dialog"]');
  // Two fields, each saying who reads it: the reason (staff only), the message (the mail).
  const label = async (id) => (await page.textContent(`dialog label[for="${id}"]`)).replace(/\s+/g, '');
  assert.match(await label('c-reason'), /キャンセル理由.*記録用.*必須/);
  assert.match(await page.textContent('#c-reason-hint'), /住民の方には送られません/);
  assert.match(await label('c-message'), /住民の方へのメッセージ.*任意/);
  assert.match(await page.textContent('#c-message-hint'), /メールに記載されます/);
  assert.match(await page.textContent('dialog[data-testid="cancel-dialog"]'), new RegExp(`${caller.email.replace(/\./g, '\\.')} にお知らせのメールを送ります`));
  assert.equal(await page.getAttribute('#c-reason', 'aria-describedby'), 'c-reason-hint');
  await page.click('dialog [data-action="ok"]');
  await page.waitForSelector('#c-reason-error');
  assert.match(await page.textContent('#c-reason-error'), /入力してください/, 'a reason is required');
  await assertAccessible(page, 'the cancel dialog');
  await screenshot(page, 'staff-cancel-dialog');
  const reason = '本人から電話で取消(内部メモ)';
  const message = '窓口の都合により取り消しました。改めてご予約ください。';
  const sentAt = Date.now();
  await page.fill('#c-reason', reason);
  await page.fill('#c-message', message);
  await page.click('dialog [data-action="ok"]');
  await page.waitForSelector(`tr[data-number="${state.number}"].cancelled`);
  const token = await staffToken(env.phone);
  const r = await apiCall('GET', `/api/v1/staff/reservations/${state.number}`, { token });
  assert.equal(r.data.status, 'cancelled');
  assert.equal(r.data.cancel_reason, reason);
  const mail = await waitForMail(caller.email, /改めてご予約ください/, { since: sentAt });
  assert.match(mail.text, new RegExp(state.number));
  assert.ok(!mail.text.includes('内部メモ'), 'the reason is never mailed');
  page.assertClean();
  await page.close();
});

test('an administrator sees every section, and each passes axe-core', async () => {
  const page = await watchedPage(browser.context);
  await staffLogin(page, env.admin);
  const sections = await navLabels(page);
  for (const s of ['phone', 'search', 'desk', 'admin/slots', 'admin/closures', 'admin/staff', 'admin/outbox', 'admin/audit']) {
    assert.ok(sections.includes(s), `admin menu has ${s}`);
  }
  const ready = {
    phone: '#slot-options [role="option"]',
    search: '#view [data-testid="search-results"], #view .empty',
    desk: '#view [data-testid="current"] *',
    'admin/slots': '#view [data-testid="slots"], #view .notice',
    'admin/closures': '#view [data-testid="closures"], #view .empty',
    'admin/lotteries': '#view [data-testid="lotteries"], #view .empty',
    'admin/staff': '#view [data-testid="staff"]',
    'admin/outbox': '#view [data-testid="outbox"], #view .empty',
    'admin/audit': '#view [data-testid="audit"], #view .empty',
    'admin/stats': '#view [data-testid="stats"], #view .empty, #view .error-summary:not([hidden])',
    'admin/jobs': '#view [data-testid="jobs"], #view .notice',
  };
  for (const s of sections) {
    await page.click(`a[data-section="${s}"]`);
    await page.waitForSelector(ready[s] || 'h1');
    assert.equal(await page.getAttribute(`a[data-section="${s}"]`, 'aria-current'), 'page');
    await assertAccessible(page, `the ${s} section`);
    await screenshot(page, 'staff-' + s.replace('/', '-'));
  }
  page.assertClean();
  await page.close();
});

test('administration: capacity, a closure added and lifted, a new account', async () => {
  const page = await watchedPage(browser.context);
  await staffLogin(page, env.admin);
  await page.click('a[data-section="admin/slots"]');
  const firstRow = page.locator('[data-testid="slots"] tbody tr >> nth=0');
  await firstRow.waitFor();
  await firstRow.locator('input').fill('5');
  await firstRow.locator('button').click();
  await page.waitForFunction(() => document.querySelector('#toast').textContent.includes('5'));

  await page.click('a[data-section="admin/closures"]');
  await page.waitForSelector('#cl-date');
  const day = '2027-03-10';
  await page.fill('#cl-date', day);
  await page.fill('#cl-reason', '設備点検のため');
  await page.click('#closure-form button[type="submit"]');
  const row = page.locator(`[data-testid="closures"] tr[data-date="${day}"]`);
  await row.waitFor();
  await row.locator('button').click();
  await page.click('dialog[data-testid="lift-dialog"] [data-action="ok"]');
  await row.waitFor({ state: 'detached' });

  await page.click('a[data-section="admin/staff"]');
  await page.waitForSelector('[data-testid="staff"]');
  const login = 'clerk' + stamp.slice(-4);
  await page.fill('#st-login', login);
  await page.fill('#st-display_name', '窓口 太郎');
  await page.selectOption('#st-role', 'desk');
  await page.fill('#st-password', 'short');
  await page.click('#staff-form button[type="submit"]');
  await page.waitForSelector('#st-password-error');
  await page.click('#staff-form button.secondary'); // generate a password
  await page.click('#staff-form button[type="submit"]');
  const staffRow = page.locator(`[data-testid="staff"] tr[data-login="${login}"]`);
  await staffRow.waitFor();
  await staffRow.locator('[data-action="disable"]').click();
  await page.locator(`[data-testid="staff"] tr[data-login="${login}"] [data-action="enable"]`).waitFor();
  const token = await staffToken(env.admin);
  const list = await apiCall('GET', '/api/v1/admin/staff', { token });
  const made = list.data.staff.find((s) => s.login === login);
  assert.equal(made.role, 'desk');
  assert.equal(made.disabled, true);
  page.assertClean();
  await page.close();
});
