// Signing in with a second factor, on a private server that keeps the configured default
// (staff.require_totp_for = ["admin"]: an admin must set up an authenticator app first), acted
// out as a person would; the authenticator is computed here (RFC 6238) from the key the page
// shows, on the server's rehearsal clock (X-Madoguchi-Now), never this machine's:
// - an admin's first sign-in shows the set-up screen alone; a wrong code is refused next to the
//   field, the right one shows ten recovery codes, then the console; signing in again asks for a
//   code; a recovery code signs in once and is refused the second time, saying so;
// - a staff member changes their own password in the account section (a wrong current password,
//   new ones that differ, a common one: each said next to its field), then signs in with it;
// - a desk clerk sets up an authenticator of their own accord and renews the recovery codes;
// - the admin removes the clerk's second factor from the staff list (confirmed in a dialog): the
//   list says 未設定, and the clerk's open console returns to sign-in saying the session ended;
// - a role kept off this network, and a login tried too often, are refused with their words;
// - a console left unused past staff.idle_minutes (the server restarted an hour later on the
//   same database) returns to sign-in at its next request, saying so, and back where it was.
// axe-core runs on every new screen.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  launch, watchedPage, screenshot, assertAccessible, startServer, guard, authenticator, totpAt, serverNow,
} from '../lib/harness.js';

const ADMIN = { login: 'totpadmin', password: 'a-long-admin-password-09' };
const DESK = { login: 'selfdesk', password: 'lantern-meadow-quartz-41' };
const CLERK = { login: 'clerkdesk', password: 'harbour-pebble-violin-73' };
const PHONE = { login: 'farphone', password: 'saffron-glacier-tunnel-26' };

let server;
let browser;
const state = {};

before(async () => {
  [server, browser] = await Promise.all([
    startServer({
      clockStart: '2027-01-12T09:10:00+09:00',
      env: {
        // The configured default (admins must set up a second factor), not the tests' [].
        MADOGUCHI__STAFF__REQUIRE_TOTP_FOR: null,
        // Phone staff may sign in from the office network only (the tests come from 127.0.0.1).
        MADOGUCHI__STAFF__ALLOWED_NETWORKS: '{phone=["10.0.0.0/8"]}',
      },
    }),
    launch({ viewport: { width: 1280, height: 900 } }),
  ]);
  await server.staffAdd(ADMIN.login, 'admin', ADMIN.password);
  await server.staffAdd(DESK.login, 'desk', DESK.password);
  await server.staffAdd(CLERK.login, 'desk', CLERK.password);
  await server.staffAdd(PHONE.login, 'phone', PHONE.password);
});
after(async () => {
  if (browser) await browser.close();
  if (server) await server.stop();
});

/** Types a login and a password into the sign-in form and presses ログイン. */
async function typeSignIn(page, who, password = who.password) {
  if (!page.url().startsWith(server.url + '/staff/')) await page.goto(server.url + '/staff/');
  await page.waitForSelector('#login-view:not([hidden])');
  await page.fill('#f-login', who.login);
  await page.fill('#f-password', password);
  await page.click('#login-submit');
}

async function signOut(page) {
  await page.click('#logout');
  await page.waitForSelector('#login-view:not([hidden])');
  assert.match(await page.textContent('#login-message'), /ログアウトしました/);
}

const navSections = (page) => page.$$eval('#nav-list a', (as) => as.map((a) => a.dataset.section));

/** Reads the key off the set-up screen, types a wrong code, then the right one; returns the codes. */
async function setUpAuthenticator(page) {
  await page.waitForSelector('[data-testid="totp-secret"]');
  assert.ok(await page.$eval('[data-testid="totp-qr"]', (img) => img.complete && img.naturalWidth > 0 && img.src.startsWith('data:image/svg+xml')), 'the QR code shows');
  const shown = await page.textContent('[data-testid="totp-secret"]');
  assert.match(shown, /^([A-Z2-7]{4} )+[A-Z2-7]{1,4}$/, 'the key in groups of four');
  const app = authenticator(shown.replace(/\s+/g, ''), server.url);
  // A code no step near the server's now gives.
  const step = Math.floor((await serverNow(server.url)) / 30000);
  const near = [-2, -1, 0, 1, 2].map((d) => totpAt(app.secret, step + d));
  const wrong = ['123456', '654321', '111111'].find((c) => !near.includes(c));
  await page.fill('#e-totp', wrong);
  await page.click('#enrol-submit');
  await page.waitForSelector('#e-totp-error');
  assert.match(await page.textContent('#e-totp-error'), /認証アプリに表示されているコードと一致しません/);
  assert.equal(await page.getAttribute('#e-totp', 'aria-invalid'), 'true');

  await page.fill('#e-totp', await app.next());
  await page.click('#enrol-submit');
  await page.waitForSelector('[data-testid="recovery-codes"]');
  const codes = await page.$$eval('[data-testid="recovery-codes"] li', (lis) => lis.map((li) => li.textContent.trim()));
  assert.equal(codes.length, 10, 'ten recovery codes');
  for (const c of codes) assert.match(c, /^[a-z2-9]{5}-[a-z2-9]{5}$/);
  assert.equal(new Set(codes).size, 10);
  const advice = await page.textContent('[data-testid="recovery"]');
  assert.match(advice, /1回だけ使えます/);
  assert.match(advice, /表示されるのは今回だけ/);
  assert.match(advice, /印刷/);
  assert.equal(await page.evaluate(() => document.activeElement.tagName), 'H1', 'focus moves to the new heading');
  return { app, codes };
}

/** Ticks "kept", presses the continue button (refused until ticked). */
async function keepCodesAndContinue(page) {
  await page.click('[data-testid="recovery"] [data-action="continue"]');
  await page.waitForSelector('#rc-saved-error');
  assert.equal(await page.evaluate(() => document.activeElement.id), 'rc-saved');
  await page.check('#rc-saved');
  await page.click('[data-testid="recovery"] [data-action="continue"]');
}

test('an admin sets up an authenticator before anything else, then signs in with codes', async () => {
  const page = await watchedPage(browser.context);
  await guard(page, 'totp-admin', async () => {
    await typeSignIn(page, ADMIN);
    // Only the set-up screen: no menu, no counter, no account link; the address does not matter.
    await page.waitForSelector('[data-testid="totp-secret"]');
    assert.match(await page.textContent('#view h1'), /認証アプリの設定/);
    assert.match(await page.textContent('#view'), /管理者のアカウントは、ログインのときにパスワードに加えて認証アプリのコードが必要です/);
    assert.equal(await page.isHidden('#nav'), true);
    assert.equal(await page.locator('#nav-list a').count(), 0);
    assert.equal(await page.isHidden('#account-link'), true);
    assert.equal(await page.isVisible('#logout'), true, 'signing out stays possible');
    for (const n of [1, 2, 3]) assert.ok(await page.isVisible(`#enrol-s${n}`), `step ${n}`);
    await assertAccessible(page, 'the set-up screen');
    await screenshot(page, 'staff-totp-setup');
    await page.evaluate(() => { location.hash = '#/admin/staff'; });
    await page.waitForTimeout(300);
    assert.equal(await page.locator('[data-testid="staff"]').count(), 0, 'no other section while setting up');
    assert.ok(await page.isVisible('[data-testid="totp-secret"]'));

    const { app, codes } = await setUpAuthenticator(page);
    await assertAccessible(page, 'the recovery codes');
    await screenshot(page, 'staff-totp-recovery-codes');
    await keepCodesAndContinue(page);
    await page.waitForSelector('#nav:not([hidden])');
    assert.ok((await navSections(page)).includes('admin/staff'), 'the whole console now');
    assert.equal(await page.isVisible('#account-link'), true);

    // Signing in again: the code is asked for, the login and password kept.
    await signOut(page);
    await typeSignIn(page, ADMIN);
    await page.waitForSelector('#f-totp-field:not([hidden])');
    assert.equal(await page.inputValue('#f-login'), ADMIN.login);
    assert.equal(await page.inputValue('#f-password'), ADMIN.password);
    assert.equal(await page.evaluate(() => document.activeElement.id), 'f-totp');
    assert.equal(await page.getAttribute('#f-totp', 'autocomplete'), 'one-time-code');
    assert.equal(await page.getAttribute('#f-totp', 'inputmode'), 'numeric');
    assert.equal((await page.textContent('label[for="f-totp"]')).trim(), '認証コード');
    assert.match(await page.textContent('#f-totp-hint'), /リカバリーコード/);
    assert.match(await page.textContent('#login-message'), /認証アプリに表示されているコードを入力/);
    await assertAccessible(page, 'the sign-in asking for a code');
    await screenshot(page, 'staff-login-code');
    await page.fill('#f-totp', await app.next());
    await page.click('#login-submit');
    await page.waitForSelector('#nav:not([hidden])');

    // A recovery code (typed in capitals, without its hyphen): once.
    const recovery = codes[0].replace('-', '').toUpperCase();
    await signOut(page);
    await typeSignIn(page, ADMIN);
    await page.waitForSelector('#f-totp-field:not([hidden])');
    await page.click('#f-totp-kind');
    assert.equal(await page.getAttribute('#f-totp', 'inputmode'), 'text', 'letters for a recovery code');
    await page.fill('#f-totp', recovery);
    await page.click('#login-submit');
    await page.waitForSelector('#nav:not([hidden])');
    await signOut(page);
    await typeSignIn(page, ADMIN);
    await page.waitForSelector('#f-totp-field:not([hidden])');
    await page.fill('#f-totp', recovery);
    await page.click('#login-submit');
    await page.waitForSelector('#f-totp-error');
    assert.match(await page.textContent('#f-totp-error'), /コードが違うか、すでに使われています/);
    assert.match(await page.textContent('#login-summary'), /認証コード/);
    assert.equal(await page.isHidden('#nav'), true, 'still signed out');
    await assertAccessible(page, 'a refused code');
    await screenshot(page, 'staff-login-code-refused');
    state.admin = { app, codes };
  });
  page.assertClean();
  await page.close();
});

test('a staff member changes their own password, then signs in with it', async () => {
  const page = await watchedPage(browser.context);
  const fresh = 'orchard-velvet-compass-58';
  await guard(page, 'own-password', async () => {
    await typeSignIn(page, DESK);
    await page.waitForSelector('#nav:not([hidden])');
    await page.click('#account-link');
    await page.waitForSelector('#password-form');
    assert.equal(await page.getAttribute('#account-link', 'aria-current'), 'page');
    assert.match(await page.textContent('#view h1'), /アカウント/);
    await page.waitForSelector('[data-testid="totp-badge"]');
    assert.equal((await page.textContent('[data-testid="totp-badge"]')).trim(), '未設定');
    assert.match(await page.textContent('[data-testid="totp-state"]'), /任意/);
    assert.ok(await page.isVisible('[data-action="setup-totp"]'), 'a desk clerk may set one up');
    await assertAccessible(page, 'the account section');
    await screenshot(page, 'staff-account');

    // A wrong current password: said next to that field.
    await page.fill('#ac-current_password', 'not-my-password-at-all');
    await page.fill('#ac-new_password', fresh);
    await page.fill('#ac-new_password_again', fresh);
    await page.click('#pw-submit');
    await page.waitForSelector('#ac-current_password-error');
    assert.match(await page.textContent('#ac-current_password-error'), /現在のパスワードが違います/);
    assert.equal(await page.getAttribute('#ac-current_password', 'aria-invalid'), 'true');

    // The new one typed twice differently: said before anything is sent.
    await page.fill('#ac-current_password', DESK.password);
    await page.fill('#ac-new_password', fresh);
    await page.fill('#ac-new_password_again', fresh + 'x');
    await page.click('#pw-submit');
    await page.waitForSelector('#ac-new_password_again-error');
    assert.match(await page.textContent('#ac-new_password_again-error'), /一致しません/);
    assert.equal(await page.locator('#ac-current_password-error').count(), 0);

    // A common password.
    await page.fill('#ac-new_password', 'password1234');
    await page.fill('#ac-new_password_again', 'password1234');
    await page.click('#pw-submit');
    await page.waitForSelector('#ac-new_password-error');
    assert.match(await page.textContent('#ac-new_password-error'), /推測されやすいパスワードです/);
    await assertAccessible(page, 'the password problems');
    await screenshot(page, 'staff-account-password-problem');

    await page.fill('#ac-current_password', DESK.password);
    await page.fill('#ac-new_password', fresh);
    await page.fill('#ac-new_password_again', fresh);
    await page.click('#pw-submit');
    await page.waitForSelector('[data-testid="pw-done"]:not([hidden])');
    assert.match(await page.textContent('[data-testid="pw-done"]'), /パスワードを変更しました/);
    assert.equal(await page.inputValue('#ac-current_password'), '', 'the form is emptied');

    // The old password no longer works, the new one does.
    await signOut(page);
    await typeSignIn(page, DESK);
    await page.waitForSelector('#login-summary:not([hidden])');
    assert.match(await page.textContent('#login-summary'), /ログイン名またはパスワードが違います/);
    await typeSignIn(page, DESK, fresh);
    await page.waitForSelector('#nav:not([hidden])');
    assert.equal(await page.isHidden('#f-totp-field'), true, 'no code asked of an account without one');
  });
  page.assertClean();
  await page.close();
});

test('a desk clerk sets up an authenticator of their own accord and renews the recovery codes', async () => {
  const page = await watchedPage(browser.context);
  await guard(page, 'totp-voluntary', async () => {
    await typeSignIn(page, CLERK);
    await page.waitForSelector('#nav:not([hidden])');
    await page.click('#account-link');
    await page.click('[data-action="setup-totp"]');
    await page.waitForSelector('[data-testid="totp-secret"]');
    assert.equal(await page.isVisible('#nav'), true, 'the menu stays: it is not required of this role');
    assert.match(await page.textContent('#view'), /設定すると、ログインのときに/);
    const { app, codes } = await setUpAuthenticator(page);
    await keepCodesAndContinue(page);
    // Back to the account section: set up, ten codes left.
    await page.waitForSelector('[data-testid="codes-left"]');
    assert.equal(new URL(page.url()).hash, '#/account');
    assert.equal((await page.textContent('[data-testid="totp-badge"]')).trim(), '設定済み');
    assert.equal((await page.textContent('[data-testid="codes-left"]')).trim(), '10個');

    // New recovery codes, asked for a code.
    await page.click('#renew-submit');
    await page.waitForSelector('#rc-totp-error');
    await page.fill('#rc-totp', await app.next());
    await page.click('#renew-submit');
    await page.waitForSelector('[data-testid="recovery-codes"]');
    const renewed = await page.$$eval('[data-testid="recovery-codes"] li', (lis) => lis.map((li) => li.textContent.trim()));
    assert.equal(renewed.length, 10);
    assert.equal(renewed.filter((c) => codes.includes(c)).length, 0, 'all new');
    assert.match(await page.textContent('#view'), /今までのコードは使えません/);
    await assertAccessible(page, 'renewed recovery codes');
    await keepCodesAndContinue(page);
    await page.waitForSelector('#renew-form');
    assert.equal((await page.textContent('[data-testid="codes-left"]')).trim(), '10個');
    // This console stays open: the next test removes the second factor under it.
    state.clerkPage = page;
  });
  page.assertClean();
});

test('the admin removes a clerk\'s second factor from the staff list; the clerk\'s console says the session ended', async () => {
  const page = await watchedPage(browser.context);
  await guard(page, 'totp-remove', async () => {
    await typeSignIn(page, ADMIN);
    await page.waitForSelector('#f-totp-field:not([hidden])');
    await page.fill('#f-totp', state.admin.codes[1]);
    await page.click('#login-submit');
    await page.waitForSelector('#nav:not([hidden])');
    await page.click('a[data-section="admin/staff"]');
    const row = page.locator(`[data-testid="staff"] tr[data-login="${CLERK.login}"]`);
    await row.waitFor();
    assert.ok(await page.isVisible('[data-testid="staff"] th:has-text("二要素認証")'));
    assert.equal((await row.locator('td[data-testid="totp"]').textContent()).trim(), '設定済み');
    const deskRow = page.locator(`[data-testid="staff"] tr[data-login="${DESK.login}"]`);
    assert.equal((await deskRow.locator('td[data-testid="totp"]').textContent()).trim(), '未設定');
    assert.equal(await deskRow.locator('[data-action="remove-totp"]').count(), 0, 'nothing to remove');
    await assertAccessible(page, 'the staff list with the second factor');
    await screenshot(page, 'staff-admin-staff-totp');

    await row.locator('[data-action="remove-totp"]').click();
    const dialog = page.locator('dialog[data-testid="remove-totp-dialog"]');
    await dialog.waitFor();
    assert.match(await dialog.textContent(), new RegExp(`${CLERK.login}.*二要素認証を解除しますか`));
    assert.match(await dialog.textContent(), /セッションは終了/);
    await assertAccessible(page, 'the removal dialog');
    // Dismissed first: nothing changes.
    await dialog.locator('[data-action="cancel"]').click();
    await dialog.waitFor({ state: 'detached' });
    assert.equal((await row.locator('td[data-testid="totp"]').textContent()).trim(), '設定済み');
    await row.locator('[data-action="remove-totp"]').click();
    await page.click('dialog[data-testid="remove-totp-dialog"] [data-action="ok"]');
    await page.waitForFunction((login) => document.querySelector(`[data-testid="staff"] tr[data-login="${login}"] td[data-testid="totp"]`)?.textContent.trim() === '未設定', CLERK.login);
    assert.equal(await row.locator('[data-action="remove-totp"]').count(), 0);
    assert.match(await page.textContent('#toast'), /二要素認証を解除しました/);
  });
  page.assertClean();
  await page.close();

  // The clerk's console, still open: its next request finds the session ended.
  const clerk = state.clerkPage;
  await guard(clerk, 'session-ended', async () => {
    await clerk.click('a[data-section="search"]');
    await clerk.waitForSelector('#login-view:not([hidden])');
    assert.match(await clerk.textContent('#login-message'), /ログアウトしました/);
    assert.match(await clerk.textContent('#login-message'), /もう一度ログインしてください/);
    assert.equal(await clerk.inputValue('#f-login'), CLERK.login, 'the login stays filled in');
    assert.equal(await clerk.evaluate(() => document.activeElement.id), 'f-password');
    await assertAccessible(clerk, 'the sign-in after the session ended');
    // With the second factor gone, the password alone signs in, back where the clerk was.
    await clerk.fill('#f-password', CLERK.password);
    await clerk.click('#login-submit');
    await clerk.waitForSelector('#nav:not([hidden])');
    assert.equal(await clerk.getAttribute('a[data-section="search"]', 'aria-current'), 'page');
  });
  clerk.assertClean();
  await clerk.close();
});

test('refusals say why: a role kept off this network, and too many failed sign-ins', async () => {
  const page = await watchedPage(browser.context);
  await guard(page, 'sign-in-refusals', async () => {
    await typeSignIn(page, PHONE);
    await page.waitForSelector('#login-summary:not([hidden])');
    assert.match(await page.textContent('#login-summary'), /このネットワークからは職員としてログインできません/);
    assert.match(await page.textContent('#login-summary'), /庁内のネットワーク/);
    await assertAccessible(page, 'a network refused');

    // A guesser at one login: five failures are free, then the client waits.
    const guessed = { login: 'nobody-here', password: 'wrong-password-0' };
    let code = null;
    for (let i = 0; i < 8 && code !== 'rate_limited'; i++) {
      await page.fill('#f-login', guessed.login);
      await page.fill('#f-password', guessed.password + i);
      await page.evaluate(() => { delete document.querySelector('#login-summary').dataset.code; });
      await page.click('#login-submit');
      await page.waitForFunction(() => document.querySelector('#login-summary').dataset.code);
      code = await page.getAttribute('#login-summary', 'data-code');
    }
    assert.equal(code, 'rate_limited');
    const text = await page.textContent('#login-summary');
    assert.match(text, /ログインの失敗が続いたため、しばらくログインできません/);
    assert.match(text, /(\d+秒ほど|約\d+分)待ってから/);
    await screenshot(page, 'staff-login-rate-limited');
  });
  page.assertClean();
  await page.close();
});

test('a console left unused past staff.idle_minutes returns to sign-in, saying so', async () => {
  const page = await watchedPage(browser.context);
  await guard(page, 'idle', async () => {
    await typeSignIn(page, CLERK);
    await page.waitForSelector('#nav:not([hidden])');
    await page.click('a[data-section="search"]');
    await page.waitForSelector('#s-q');
    // An hour passes on the server's clock (the same database, started again later).
    await server.crash();
    await server.restart('2027-01-12T10:30:00+09:00');
    await page.fill('#s-q', 'ヤマダ');
    await page.click('#s-submit');
    await page.waitForSelector('#login-view:not([hidden])');
    const said = await page.textContent('#login-message');
    assert.match(said, /ログインが終了したため、ログアウトしました/);
    assert.match(said, /しばらく操作がなかったとき/);
    assert.equal(await page.getAttribute('#login-message', 'role'), 'status');
    await screenshot(page, 'staff-login-session-ended');
    await page.fill('#f-password', CLERK.password);
    await page.click('#login-submit');
    await page.waitForSelector('#s-q');
    assert.equal(new URL(page.url()).hash, '#/search', 'back where the clerk was');
  });
  page.assertClean();
  await page.close();
});
