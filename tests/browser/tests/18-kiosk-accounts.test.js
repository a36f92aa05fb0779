// Kiosk accounts, on a private server whose rehearsal clock is at 09:10 on Tuesday 12 January
// 2027 (a working day, the counter open):
// - an administrator makes a kiosk's account in the console's 職員 section as a person does
//   (typing, choosing the role 受付端末): the counter field appears with a note on what a
//   kiosk may do; sent without a counter, the server's problem is shown on that field; with
//   the counter chosen, the note gives the address the terminal opens, and the list shows the
//   new account's counter;
// - another account's role changed to 受付端末 in the list asks for the counter first
//   (dismissed, the role stays; sent without one, the problem is on the dialog's field);
// - the kiosk's account signs in at /kiosk/{counter} and a visitor takes a walk-in ticket
//   (printing stubbed as in 17-tickets);
// - the same account signing in at /staff/ gets no menus but a message with the link to its
//   page, and sign-out; the link followed in the tab opens the kiosk signed in.
// axe-core runs on each new state of the console.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  launch, watchedPage, screenshot, assertAccessible, apiCall, startServer, guard,
} from '../lib/harness.js';

const ADMIN = { login: 'kioskadmin', password: 'a-long-kiosk-admin-password' };
const DESK = { login: 'hall-desk', password: 'counter-desk-password' };
const KIOSK = { login: 'kiosk-hall', display_name: '本庁 受付端末', password: 'amber window cedar ferry' };
const COUNTER = { id: 'city-hall', name: '近江八幡市役所 マイナンバー特設窓口' };
const TODAY = '2027-01-12';

let server;
let browser;
const state = {};

before(async () => {
  [server, browser] = await Promise.all([
    startServer({ clockStart: `${TODAY}T09:10:00+09:00` }),
    launch({ viewport: { width: 1280, height: 900 } }),
  ]);
  await server.staffAdd(ADMIN.login, 'admin', ADMIN.password);
  await server.staffAdd(DESK.login, 'desk', DESK.password);
  state.admin = await signIn(ADMIN);
});
after(async () => {
  if (browser) await browser.close();
  if (server) await server.stop();
});

const call = (method, p, opts = {}) => apiCall(method, p, { base: server.url, ...opts });

async function signIn(who) {
  const r = await call('POST', '/api/v1/staff/sessions', { body: { login: who.login, password: who.password } });
  assert.equal(r.status, 201, JSON.stringify(r.data));
  return r.data.token;
}

async function account(login) {
  const list = await call('GET', '/api/v1/admin/staff', { token: state.admin });
  assert.equal(list.status, 200, JSON.stringify(list.data));
  return list.data.staff.find((s) => s.login === login);
}

/** window.print in every frame (the print frame included) records what it was asked to print. */
async function stubPrint(page) {
  await page.addInitScript(() => {
    window.print = function print() {
      const top = window.top;
      top.__prints = top.__prints || [];
      const number = document.querySelector('[data-testid="number"]');
      top.__prints.push({ ticket: number ? number.textContent.trim() : null, frame: window !== top });
      window.dispatchEvent(new Event('afterprint'));
    };
  });
}
const prints = (page) => page.evaluate(() => window.__prints || []);

/** Types into a field as a person does: a click, then one key at a time. */
async function typeInto(page, selector, text) {
  await page.click(selector);
  await page.keyboard.type(text);
}

/** Signs in to the staff console through its form. */
async function consoleSignIn(page, who) {
  await page.goto(server.url + '/staff/');
  await typeInto(page, '#f-login', who.login);
  await typeInto(page, '#f-password', who.password);
  await page.click('#login-submit');
}

test('an administrator makes a kiosk account: the counter is required, shown on its field, then listed', async () => {
  const page = await watchedPage(browser.context);
  await guard(page, 'kiosk-account', async () => {
    await consoleSignIn(page, ADMIN);
    await page.waitForSelector('#nav:not([hidden])');
    await page.click('a[data-section="admin/staff"]');
    await page.waitForSelector('[data-testid="staff"]');
    assert.equal(await page.isVisible('#st-counter'), false, 'no counter for the first role offered');

    await typeInto(page, '#st-login', KIOSK.login);
    await typeInto(page, '#st-display_name', KIOSK.display_name);
    assert.ok((await page.$$eval('#st-role option', (os) => os.map((o) => o.textContent))).includes('受付端末'), 'the role is offered');
    await page.selectOption('#st-role', { label: '受付端末' });
    await page.waitForSelector('#st-counter', { state: 'visible' });
    // The counter: required, none chosen at first; the note on what a kiosk does, by the field.
    assert.match((await page.textContent('label[for="st-counter"]')).replace(/\s+/g, ''), /窓口.*必須/);
    assert.equal(await page.inputValue('#st-counter'), '');
    assert.deepEqual(await page.$$eval('#st-counter option', (os) => os.map((o) => o.value)), ['', COUNTER.id, 'azuchi']);
    const note = await page.textContent('#st-counter-hint');
    assert.match(note, /予約の受付と、予約のない方の番号札の発行・印刷だけ/);
    assert.match(note, /職員画面のほかの機能は使えません/);
    assert.match(note, /\/kiosk\/窓口/, 'the address is said before a counter is chosen');
    assert.equal(await page.getAttribute('#st-counter', 'aria-describedby'), 'st-counter-hint');
    await typeInto(page, '#st-password', KIOSK.password);
    await assertAccessible(page, 'the staff accounts form with a kiosk chosen');

    // Sent without a counter: the server's problem, on the field, as the other fields' are.
    await page.click('#staff-form button[type="submit"]');
    await page.waitForSelector('#st-counter-error');
    assert.equal(await page.textContent('#st-counter-error'), '受付端末を置く窓口を選んでください。');
    assert.equal(await page.getAttribute('#st-counter', 'aria-invalid'), 'true');
    assert.equal(await page.getAttribute('#st-counter', 'aria-describedby'), 'st-counter-hint st-counter-error');
    assert.match(await page.textContent('#staff-form .error-summary'), /窓口: 受付端末を置く窓口を選んでください。/);
    assert.equal(await page.evaluate(() => document.activeElement.classList.contains('error-summary')), true, 'the summary takes the focus');
    assert.equal(await account(KIOSK.login), undefined, 'nothing was made');
    await assertAccessible(page, 'the staff accounts form, a kiosk without its counter');
    await screenshot(page, 'staff-admin-staff-kiosk-problem');

    // The summary's link leads to the field; the counter chosen, the note gives the address.
    await page.click('#staff-form .error-summary a[href="#st-counter"]');
    assert.equal(await page.evaluate(() => document.activeElement.id), 'st-counter');
    await page.selectOption('#st-counter', { label: COUNTER.name });
    const link = page.locator('#st-counter-hint a[data-testid="kiosk-link"]');
    assert.equal(await link.getAttribute('href'), `/kiosk/${COUNTER.id}`);
    assert.equal(await link.getAttribute('target'), '_blank');
    assert.match(await link.textContent(), new RegExp(`^${server.url.replace(/[.]/g, '\\.')}/kiosk/${COUNTER.id}\\s*\\(新しいタブで開きます\\)$`));
    state.kioskPath = await link.getAttribute('href');

    await page.click('#staff-form button[type="submit"]');
    const row = page.locator(`[data-testid="staff"] tr[data-login="${KIOSK.login}"]`);
    await row.waitFor();
    assert.match(await page.textContent('#toast'), /kiosk-hall\(近江八幡市役所 マイナンバー特設窓口の受付端末\)を追加しました/);
    assert.equal(await row.locator('select').inputValue(), 'kiosk');
    assert.match(await row.locator('[data-testid="kiosk-counter"]').textContent(), /窓口: 近江八幡市役所 マイナンバー特設窓口/);
    assert.equal(await row.locator('[data-testid="kiosk-counter"] a').getAttribute('href'), `/kiosk/${COUNTER.id}`);
    assert.equal(await page.isVisible('#st-counter'), false, 'the form is empty again, the first role chosen');
    assert.equal(await page.inputValue('#st-login'), '');
    const made = await account(KIOSK.login);
    assert.equal(made.role, 'kiosk');
    assert.equal(made.counter, COUNTER.id);
    await assertAccessible(page, 'the staff accounts with a kiosk listed');
    await screenshot(page, 'staff-admin-staff-kiosk');
  });
  page.assertClean();
  await page.close();
});

test("an account's role changed to 受付端末 in the list asks for the counter", async () => {
  const page = await watchedPage(browser.context);
  await guard(page, 'kiosk-role-change', async () => {
    await consoleSignIn(page, ADMIN);
    await page.waitForSelector('#nav:not([hidden])');
    await page.click('a[data-section="admin/staff"]');
    const roleSel = page.locator(`[data-testid="staff"] tr[data-login="${DESK.login}"] select`);
    await roleSel.waitFor();
    assert.equal(await page.locator(`tr[data-login="${DESK.login}"] [data-testid="kiosk-counter"]`).count(), 0, 'a desk has no counter of its own');

    // Dismissed: nothing changes.
    await roleSel.selectOption('kiosk');
    const dialog = page.locator('dialog[data-testid="kiosk-counter-dialog"]');
    await dialog.waitFor();
    assert.match(await dialog.locator('h2').textContent(), /hall-desk.*を受付端末にする/);
    await dialog.locator('[data-action="cancel"]').click();
    await dialog.waitFor({ state: 'detached' });
    assert.equal(await roleSel.inputValue(), 'desk', 'the role shown is the account\'s again');
    assert.equal((await account(DESK.login)).role, 'desk');

    // Sent without a counter: the problem on the dialog's field.
    await roleSel.selectOption('kiosk');
    await dialog.waitFor();
    assert.equal(await page.evaluate(() => document.activeElement.id), 'kc-counter', 'the counter takes the focus');
    assert.match(await dialog.textContent(), /セッションは終了します/);
    await dialog.locator('[data-action="ok"]').click();
    await page.waitForSelector('#kc-counter-error');
    assert.equal(await page.textContent('#kc-counter-error'), '受付端末を置く窓口を選んでください。');
    assert.equal((await account(DESK.login)).role, 'desk');
    await assertAccessible(page, 'the dialog making an account a kiosk');

    await page.selectOption('#kc-counter', { label: COUNTER.name });
    await dialog.locator('[data-action="ok"]').click();
    await dialog.waitFor({ state: 'detached' });
    const row = page.locator(`[data-testid="staff"] tr[data-login="${DESK.login}"]`);
    await row.locator('[data-testid="kiosk-counter"]').waitFor();
    assert.match(await row.locator('[data-testid="kiosk-counter"]').textContent(), /窓口: 近江八幡市役所 マイナンバー特設窓口/);
    assert.equal(await row.locator('select').inputValue(), 'kiosk');
    const changed = await account(DESK.login);
    assert.deepEqual([changed.role, changed.counter], ['kiosk', COUNTER.id]);

    // And back to a desk: its counter goes with the role.
    await row.locator('select').selectOption('desk');
    await page.waitForFunction((login) => !document.querySelector(`tr[data-login="${login}"] [data-testid="kiosk-counter"]`)
      && document.querySelector(`tr[data-login="${login}"] select`)?.value === 'desk', DESK.login);
    const back = await account(DESK.login);
    assert.deepEqual([back.role, back.counter], ['desk', undefined]);
  });
  page.assertClean();
  await page.close();
});

test('the kiosk account signs in at its page and a visitor takes a walk-in ticket', async () => {
  assert.ok(state.kioskPath, 'the address came from the console');
  const page = await watchedPage(browser.context);
  await stubPrint(page);
  await guard(page, 'kiosk-walk-in', async () => {
    await page.goto(server.url + state.kioskPath);
    await typeInto(page, '#k-login', KIOSK.login);
    await typeInto(page, '#k-password', KIOSK.password);
    await page.click('#k-login-submit');
    await page.waitForSelector('[data-action="walkin"]');
    assert.match(await page.textContent('#k-counter'), /近江八幡市役所/);
    await page.click('[data-action="walkin"]');
    await page.click('.k-procedure[data-procedure="pin-reset"]');
    await page.waitForSelector('[data-testid="kiosk-ticket"]');
    const ticket = (await page.textContent('[data-testid="kiosk-ticket-number"]')).trim();
    assert.match(ticket, /^W-\d{3}$/);
    await page.waitForSelector('[data-testid="kiosk-print"][data-state="printed"]');
    assert.deepEqual((await prints(page)).map((p) => p.ticket), [ticket], 'the ticket was sent to the printer');
    const desk = await call('GET', `/api/v1/desk/${COUNTER.id}/queue`, { token: state.admin });
    const waiting = desk.data.waiting.find((x) => x.ticket === ticket);
    assert.equal(waiting && waiting.procedure, 'pin-reset', 'the walk-in waits at the counter');
  });
  page.assertClean();
  await page.close();
});

test('the kiosk account signed in to the console: no menus, the link to its page, and sign-out', async () => {
  const page = await watchedPage(browser.context);
  await guard(page, 'kiosk-console', async () => {
    await consoleSignIn(page, KIOSK);
    const notice = page.locator('[data-testid="kiosk-notice"]');
    await notice.waitFor();
    assert.equal(await page.textContent('#kiosk-h'), '受付端末のアカウントです');
    assert.equal(await page.evaluate(() => document.activeElement.id), 'kiosk-h', 'the message takes the focus');
    assert.match(await notice.textContent(), /近江八幡市役所 マイナンバー特設窓口の受付端末用です/);
    const link = notice.locator('[data-testid="kiosk-page-link"]');
    assert.equal(await link.getAttribute('href'), `/kiosk/${COUNTER.id}`);
    assert.equal(await link.textContent(), '受付端末の画面を開く');
    assert.equal(await notice.locator('[data-testid="kiosk-address"]').textContent(), `${server.url}/kiosk/${COUNTER.id}`);
    assert.equal(await page.isVisible('#nav'), false, 'no menus');
    assert.equal(await page.isVisible('.counter-pick'), false, 'no counter to work on');
    assert.equal(await page.isVisible('#account-link'), false);
    assert.match(await page.textContent('#who-name'), /本庁 受付端末\(受付端末\)/);
    assert.match(await page.title(), /^受付端末のアカウントです \|/);
    // An address of a section changes nothing.
    await page.evaluate(() => { location.hash = '#/admin/staff'; });
    await page.waitForTimeout(300);
    assert.equal(await notice.isVisible(), true);
    assert.equal(await page.locator('[data-testid="staff"]').count(), 0);
    await assertAccessible(page, 'the console signed in as a kiosk');
    await screenshot(page, 'staff-kiosk-account');

    // Sign-out from the message.
    await notice.locator('[data-action="sign-out"]').click();
    await page.waitForSelector('#login-view:not([hidden])');
    assert.equal(await page.textContent('#login-message'), 'ログアウトしました。');

    // Signed in again, the link followed in the tab: the kiosk's page, already signed in.
    await typeInto(page, '#f-password', KIOSK.password);
    await page.click('#login-submit');
    await notice.waitFor();
    await Promise.all([page.waitForURL(`${server.url}/kiosk/${COUNTER.id}`), notice.locator('[data-testid="kiosk-page-link"]').click()]);
    await page.waitForSelector('[data-action="walkin"]');
    assert.equal(await page.isVisible('#k-login'), false, 'no second sign-in');
    assert.deepEqual(await page.evaluate(() => [sessionStorage.getItem('madoguchi.staff.token'), typeof sessionStorage.getItem('madoguchi.kiosk.token')]),
      [null, 'string'], "the session moved to the kiosk's page");
  });
  page.assertClean();
  await page.close();
});
