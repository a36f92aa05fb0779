// Tickets people follow and print, on a private server whose rehearsal clock is at 09:10 on
// Tuesday 12 January 2027 (a working day; its own queue, so the places in line are known):
// - a walk-in ticket's page on a phone follows the line live (2 ahead, 1 ahead, next, called to
//   desk 3) without a reload, and catches up after the server went away and came back; an
//   unknown ticket is a page that says so; a booked visitor who gave a mail address asks for
//   the mail when the turn nears, and it is sent;
// - the printed ticket (the page the receipt printer gets) is at most 80 mm wide in print, with
//   the number, the QR code and the wait, in a Japanese font that prints;
// - the kiosk: staff sign it in (an account of another role is refused), a visitor checks in
//   by typing their number on the pad (the ticket, its place in line, and printing asked), an
//   unknown number and a scan of a number already checked in get plain words, and a visitor
//   without a booking takes a ticket for a procedure;
// - the console's desk prints a ticket it issued, prints at once when "a printer here" is
//   ticked (kept on this browser), and prints a waiting ticket again.
// Printing is stubbed in every frame (window.print records what it was asked to print), so the
// tests see what a receipt printer would have been sent. axe-core runs on each new state.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  launch, watchedPage, screenshot, assertAccessible, waitForMail, apiCall, startServer, guard, serverNow,
} from '../lib/harness.js';

const ADMIN = { login: 'ticketadmin', password: 'a-long-ticket-admin-password' };
const DESK = { login: 'ticketdesk', password: 'ticket-desk-password' };
const KIOSK = { login: 'kiosk-city-hall', password: 'quiet lantern orbit harbour', display_name: '本庁 受付端末' };
const TODAY = '2027-01-12';

let server;
let phone; // a visitor's phone
let screenBrowser; // the kiosk's and the desk's screens
const state = {};

before(async () => {
  [server, phone, screenBrowser] = await Promise.all([
    startServer({ clockStart: `${TODAY}T09:10:00+09:00` }),
    launch({ viewport: { width: 360, height: 740 } }),
    launch({ viewport: { width: 1280, height: 900 } }),
  ]);
  await server.staffAdd(ADMIN.login, 'admin', ADMIN.password);
  await server.staffAdd(DESK.login, 'desk', DESK.password);
  state.admin = await signIn(ADMIN);
  state.desk = await signIn(DESK);
});
after(async () => {
  if (phone) await phone.close();
  if (screenBrowser) await screenBrowser.close();
  if (server) await server.stop();
});

const call = (method, p, opts = {}) => apiCall(method, p, { base: server.url, ...opts });

async function signIn(who) {
  const r = await call('POST', '/api/v1/staff/sessions', { body: { login: who.login, password: who.password } });
  assert.equal(r.status, 201, JSON.stringify(r.data));
  return r.data.token;
}

async function walkIn(procedure) {
  const r = await call('POST', '/api/v1/desk/city-hall/walk-ins', { token: state.desk, body: procedure ? { procedure } : {} });
  assert.equal(r.status, 201, JSON.stringify(r.data));
  assert.match(r.data.public_id, /^[A-Za-z0-9_-]{22}$/, 'a ticket has a public id');
  return r.data;
}

async function callNext(desk) {
  const r = await call('POST', '/api/v1/desk/city-hall/calls', { token: state.desk, body: { desk } });
  assert.equal(r.status, 200, JSON.stringify(r.data));
  return r.data;
}

/** Books a visitor on a later slot today (an admin may book outside the window). */
async function bookToday(i, email) {
  const r = await call('POST', '/api/v1/staff/reservations', {
    token: state.admin,
    body: {
      slot_id: `city-hall.${TODAY}.${['1000', '1030', '1100', '1130'][i]}`, procedure: 'pin-reset', applicant_type: 'holder',
      name: `番号札 ${i + 1}`, name_kana: `バンゴウフダ ${['イチ', 'ニ', 'サン', 'ヨン'][i]}`, phone: `0748-33-12${String(i).padStart(2, '0')}`,
      email, override_window: true, override_reason: 'ブラウザテスト: 当日の来庁者',
    },
  });
  assert.equal(r.status, 201, JSON.stringify(r.data));
  return r.data.reservation_number;
}

/** window.print in every frame (the print frame included) records what it was asked to print. */
async function stubPrint(page) {
  await page.addInitScript(() => {
    window.print = function print() {
      const top = window.top;
      top.__prints = top.__prints || [];
      const sizes = [...document.styleSheets]
        .flatMap((s) => { try { return [...s.cssRules]; } catch { return []; } })
        .filter((r) => r.type === CSSRule.PAGE_RULE)
        .map((r) => r.style.getPropertyValue('size'));
      const number = document.querySelector('[data-testid="number"]');
      top.__prints.push({ ticket: number ? number.textContent.trim() : null, sizes, frame: window !== top });
      window.dispatchEvent(new Event('afterprint'));
    };
  });
}
const prints = (page) => page.evaluate(() => window.__prints || []);

// ---------- the visitor's phone ----------

test("a ticket's page follows the line live, and says when the ticket is called and to which desk", async () => {
  const tickets = [await walkIn(), await walkIn('pin-change'), await walkIn()];
  const mine = tickets[2];
  const page = await watchedPage(phone.context);
  await guard(page, 'ticket-live', async () => {
    await page.goto(`${server.url}/ticket/${mine.public_id}`);
    const place = page.locator('[data-testid="ticket-place"]');
    await page.waitForSelector('[data-testid="ticket-place"] .ahead[data-ahead="2"]');
    assert.equal((await page.textContent('[data-testid="ticket-number"]')).trim(), mine.ticket);
    assert.match(await place.textContent(), /あなたの前に 2 人/);
    assert.match(await place.textContent(), /2 people ahead of you/);
    assert.match(await place.textContent(), /待ち時間の目安 約 \d+ 分/);
    assert.equal(await place.getAttribute('role'), 'status');
    assert.equal(await place.getAttribute('aria-live'), 'polite');
    assert.equal(await page.getAttribute('[data-testid="ticket-call"]', 'aria-live'), 'assertive');
    assert.equal(await page.isVisible('#t-alert-button'), false, 'a walk-in has no mail to ask for');
    await assertAccessible(page, 'the ticket page, waiting');
    await screenshot(page, 'ticket-waiting');
    // 320 px wide: nothing scrolls sideways.
    await page.setViewportSize({ width: 320, height: 640 });
    assert.ok(await page.evaluate(() => document.documentElement.scrollWidth <= 320), 'fits 320 px');
    await page.setViewportSize({ width: 360, height: 740 });

    // The desk calls the one ahead: the page says so by itself (the same document, no reload).
    await page.evaluate(() => { window.__sameDocument = true; });
    await callNext('1');
    await page.waitForSelector('[data-testid="ticket-place"] .ahead[data-ahead="1"]');
    assert.match(await place.textContent(), /あなたの前に 1 人/);
    assert.match(await place.textContent(), /1 person ahead of you/);
    await callNext('2');
    await page.waitForSelector('[data-testid="ticket-place"] .ahead[data-ahead="0"]');
    assert.match(await place.textContent(), /次にお呼びします/);
    assert.match(await place.textContent(), /You are next/);

    const called = await callNext('3');
    assert.equal(called.ticket, mine.ticket);
    await page.waitForSelector('#ticket[data-status="called"]');
    const callText = await page.textContent('[data-testid="ticket-call"]');
    assert.match(callText, /3番窓口へ\s*お越しください/);
    assert.match(callText, /Please go to desk 3/);
    assert.equal(await place.isVisible(), false, 'no place in line once called');
    assert.match(await page.title(), /3番窓口へ/, 'a tab in the background says it too');
    assert.equal(await page.evaluate(() => window.__sameDocument), true, 'updated without a reload');
    await assertAccessible(page, 'the ticket page, called');
    await screenshot(page, 'ticket-called');

    const done = await call('POST', `/api/v1/desk/city-hall/tickets/${mine.ticket}/complete`, { token: state.desk });
    assert.ok(done.status < 300, JSON.stringify(done.data));
    await page.waitForSelector('#ticket[data-status="completed"]');
    assert.match(await page.textContent('[data-testid="ticket-state"]'), /お手続きは終わりました/);
    assert.equal((await page.textContent('[data-testid="ticket-call"]')).trim(), '', 'the call is gone');
  });
  page.assertClean();
});

test("a ticket's page rebuilds its stream when the server goes away, and catches up", async () => {
  await walkIn(); // the one ahead
  const mine = await walkIn();
  const page = await watchedPage(phone.context);
  await guard(page, 'ticket-reconnect', async () => {
    await page.goto(`${server.url}/ticket/${mine.public_id}`);
    await page.waitForSelector('[data-testid="ticket-place"] .ahead[data-ahead="1"]');
    await page.waitForSelector('#t-conn[data-state="open"]', { state: 'attached' });
    // The server crashes (connections drop) and comes back on the same database, its clock
    // where it was.
    const now = await serverNow(server.url);
    await server.crash();
    await page.waitForSelector('#t-conn[data-state="reconnecting"]');
    assert.match(await page.textContent('#t-conn'), /再接続しています/);
    assert.equal((await page.textContent('[data-testid="ticket-number"]')).trim(), mine.ticket, 'what was shown stays');
    await server.restart(new Date(now).toISOString());
    await callNext('4');
    await page.waitForSelector('[data-testid="ticket-place"] .ahead[data-ahead="0"]', { timeout: 20000 });
    await page.waitForSelector('#t-conn[data-state="open"]', { state: 'attached', timeout: 20000 });
    assert.equal((await page.textContent('#t-conn')).trim(), '');
    const next = await callNext('5');
    assert.equal(next.ticket, mine.ticket);
    await page.waitForSelector('#ticket[data-status="called"]');
  });
  page.assertClean();
});

test('an unknown ticket is a page that says so', async () => {
  const page = await watchedPage(phone.context);
  await guard(page, 'ticket-unknown', async () => {
    await page.goto(`${server.url}/ticket/AAAAAAAAAAAAAAAAAAAAAA`);
    await page.waitForSelector('[data-testid="ticket-not-found"]');
    assert.match(await page.textContent('h1'), /番号札が見つかりません/);
    assert.match(await page.textContent('h1'), /Ticket not found/);
    assert.match(await page.textContent('main'), /QRコードを、もう一度読み取ってください/);
    assert.ok(!/ticket_not_found|404/.test(await page.textContent('main')), 'no bare error');
    await assertAccessible(page, 'the ticket page, not found');
  });
  page.assertClean();
});

test('a booked visitor asks for a mail when their turn nears, and it is sent', async () => {
  const email = `ticket-${Date.now().toString(36)}@example.org`;
  const number = await bookToday(0, email);
  const r = await call('POST', '/api/v1/desk/city-hall/check-ins', { token: state.desk, body: { reservation_number: number } });
  assert.equal(r.status, 201, JSON.stringify(r.data));
  const page = await watchedPage(phone.context);
  await guard(page, 'ticket-alert', async () => {
    await page.goto(`${server.url}/ticket/${r.data.public_id}`);
    await page.waitForSelector('#t-alert-button');
    assert.match(await page.textContent('#t-alert-button'), /順番が近づいたらメールで知らせる/);
    assert.ok(!(await page.textContent('body')).includes(email), 'the address is not shown');
    await assertAccessible(page, 'the ticket page, the mail offered');
    const since = Date.now();
    await page.click('#t-alert-button');
    await page.waitForSelector('[data-testid="ticket-alert"][data-alert="requested"], [data-testid="ticket-alert"][data-alert="sent"]');
    assert.match(await page.textContent('[data-testid="ticket-alert"]'), /メールでお知らせ/);
    assert.equal(await page.isVisible('#t-alert-button'), false, 'asked once');
    assert.ok(await page.evaluate(() => document.activeElement.closest('[data-testid="ticket-alert"]') !== null), 'the answer takes the focus');
    // Nobody is ahead (the walk-ins were called): the mail goes at once.
    await waitForMail(email, new RegExp(r.data.ticket), { since, dir: server.mailDir, timeout: 15000 });
    await page.waitForSelector('[data-testid="ticket-alert"][data-alert="sent"]', { timeout: 15000 });
    await assertAccessible(page, 'the ticket page, the mail sent');
  });
  page.assertClean();
});

// ---------- the printed ticket ----------

test('the printed ticket fits an 80 mm receipt, with its number, QR code and wait, in a Japanese font', async () => {
  const tk = await walkIn('cert-renewal');
  const page = await watchedPage(screenBrowser.context);
  await guard(page, 'printed-ticket', async () => {
    // The page needs the staff token: sent as the console's print frame sends it.
    await page.setExtraHTTPHeaders({ Authorization: `Bearer ${state.desk}` });
    const res = await page.goto(`${server.url}/desk/tickets/${tk.ticket}/print?counter=city-hall&date=${TODAY}`);
    assert.equal(res.status(), 200);
    assert.match(res.headers()['content-type'], /text\/html/);
    await page.emulateMedia({ media: 'print' });
    const box = await page.evaluate(() => {
      const main = document.querySelector('[data-testid="printed-ticket"]');
      const r = main.getBoundingClientRect();
      const wider = [...main.querySelectorAll('*')].filter((el) => el.getBoundingClientRect().right > r.right + 0.5 || el.getBoundingClientRect().left < r.left - 0.5).map((el) => el.className || el.tagName);
      const number = document.querySelector('[data-testid="number"]');
      return { width: r.width, wider, numberFits: number.scrollWidth <= number.clientWidth, numberSize: parseFloat(getComputedStyle(number).fontSize) };
    });
    // 80 mm at 96 dpi is 302 px; the printable 72 mm is 272 px.
    assert.ok(box.width <= 302 && box.width >= 260, `the ticket is ${box.width} px wide`);
    assert.deepEqual(box.wider, [], 'nothing wider than the ticket');
    assert.ok(box.numberFits, 'the number fits its line');
    assert.ok(box.numberSize >= 48, `the number is very large (${box.numberSize} px)`);
    assert.equal((await page.textContent('[data-testid="number"]')).trim(), tk.ticket);
    assert.ok(await page.isVisible('[data-testid="number"]'));
    assert.ok(await page.isVisible('[data-testid="wait"]'));
    assert.match(await page.textContent('[data-testid="wait"]'), /あなたの前に \d+ 人|次にお呼びします/);
    const qr = await page.evaluate(() => {
      const img = document.querySelector('[data-testid="qr"]');
      const r = img.getBoundingClientRect();
      return { loaded: img.complete && img.naturalWidth > 0, width: r.width, height: r.height };
    });
    assert.ok(qr.loaded, 'the QR code is drawn');
    assert.ok(qr.width >= 140 && qr.width <= 160 && Math.abs(qr.width - qr.height) < 1, `the QR code is about 40 mm (${qr.width} px)`);
    // The Japanese words are drawn with a CJK font that has them (not as empty boxes).
    const cdp = await page.context().newCDPSession(page);
    await cdp.send('DOM.enable');
    await cdp.send('CSS.enable');
    const { root } = await cdp.send('DOM.getDocument');
    const fontsOf = async (selector) => {
      const { nodeId } = await cdp.send('DOM.querySelector', { nodeId: root.nodeId, selector });
      const { fonts } = await cdp.send('CSS.getPlatformFontsForNode', { nodeId });
      return fonts;
    };
    const fonts = await fontsOf('[data-testid="wait"]');
    assert.ok(fonts.some((f) => /CJK|Noto Sans JP|Source Han|Hiragino|Yu ?Gothic|Meiryo|IPA|Takao|VL Gothic/i.test(f.familyName) && f.glyphCount > 0),
      `a Japanese font draws the wait: ${JSON.stringify(fonts)}`);
    await assertAccessible(page, 'the printed ticket');
    await page.emulateMedia({ media: 'screen' });
    await screenshot(page, 'printed-ticket');
  });
  page.assertClean();
});

// ---------- the kiosk ----------

test('the kiosk: signed in by staff; a visitor checks in on the pad and the ticket prints; a walk-in takes a ticket', async () => {
  const made = await call('POST', '/api/v1/admin/staff', { token: state.admin, body: { ...KIOSK, role: 'kiosk', counter: 'city-hall' } });
  assert.equal(made.status, 201, JSON.stringify(made.data));
  const number = await bookToday(1);
  const page = await watchedPage(screenBrowser.context);
  await stubPrint(page);
  await guard(page, 'kiosk', async () => {
    await page.goto(`${server.url}/kiosk/city-hall`);
    await page.waitForSelector('#k-login');
    await assertAccessible(page, 'the kiosk sign-in');
    // A desk account is not a kiosk's: refused, and signed out again.
    await page.fill('#k-login', DESK.login);
    await page.fill('#k-password', DESK.password);
    await page.click('#k-login-submit');
    await page.waitForSelector('[data-testid="kiosk-setup-message"]');
    assert.match(await page.textContent('[data-testid="kiosk-setup-message"]'), /受付端末用ではありません/);
    assert.equal(await page.evaluate(() => sessionStorage.getItem('madoguchi.kiosk.token')), null);

    await page.fill('#k-login', KIOSK.login);
    await page.fill('#k-password', KIOSK.password);
    await page.click('#k-login-submit');
    await page.waitForSelector('[data-action="checkin"]');
    assert.match(await page.textContent('#k-counter'), /近江八幡市役所/);
    assert.ok((await page.textContent('[data-action="checkin"]')).includes('ご予約の方(受付)'));
    assert.ok((await page.textContent('[data-action="walkin"]')).includes('予約なしの方(番号札)'));
    await assertAccessible(page, 'the kiosk start');
    await screenshot(page, 'kiosk-start');

    // A visitor types their number on the pad, as a person does: one key at a time.
    await page.click('[data-action="checkin"]');
    await page.waitForSelector('.k-pad');
    assert.equal(await page.getAttribute('#k-number', 'inputmode'), 'none', 'no keyboard of the tablet pops up');
    assert.equal(await page.isVisible('[data-action="camera"]'), false, 'no camera button where the browser reads no QR codes');
    for (const ch of number.replace('-', '')) await page.click(`.k-key[data-key="${ch}"]`);
    assert.equal(await page.inputValue('#k-number'), number, 'shown as printed, with its hyphen');
    await assertAccessible(page, 'the kiosk check-in pad');
    await page.click('#k-checkin');
    await page.waitForSelector('[data-testid="kiosk-ticket"]');
    const ticket = (await page.textContent('[data-testid="kiosk-ticket-number"]')).trim();
    assert.match(ticket, /^R-\d{3}$/);
    assert.match(await page.textContent('[data-testid="kiosk-place"]'), /あなたの前に \d+ 人|次にお呼びします/);
    await page.waitForSelector('[data-testid="kiosk-print"][data-state="printed"]');
    assert.match(await page.textContent('[data-testid="kiosk-print"]'), /番号札をお取りください/);
    const printed = await prints(page);
    assert.deepEqual(printed.map((p) => p.ticket), [ticket], 'the ticket was sent to the printer');
    assert.ok(printed[0].frame, 'from the print frame');
    assert.match(printed[0].sizes.at(-1), /^80mm \d+mm$/, 'a page as long as the ticket');
    await page.waitForSelector('iframe.print-frame', { state: 'detached' });
    assert.match(await page.textContent('.k-countdown'), /秒後に最初の画面に戻ります/);
    await assertAccessible(page, 'the kiosk ticket shown');
    await screenshot(page, 'kiosk-ticket');

    // A number that is nobody's: plain words, and a way to enter it again.
    await page.click('[data-action="start"]');
    await page.click('[data-action="checkin"]');
    for (const ch of 'ACEFHJKM') await page.click(`.k-key[data-key="${ch}"]`);
    await page.click('#k-checkin');
    await page.waitForSelector('[data-testid="kiosk-problem"][data-code="reservation_not_found"]');
    assert.match(await page.textContent('[data-testid="kiosk-problem"]'), /予約が見つかりません/);
    assert.match(await page.textContent('[data-testid="kiosk-problem"]'), /Booking not found/);
    await assertAccessible(page, 'the kiosk problem');
    await page.click('[data-action="retry"]');
    await page.waitForSelector('.k-pad');
    assert.equal(await page.inputValue('#k-number'), '');

    // A scanner on the start screen (fast keys, then Enter): already checked in, the ticket named.
    await page.click('[data-action="start"]');
    await page.waitForSelector('[data-action="checkin"]');
    await page.evaluate(() => document.activeElement && document.activeElement.blur());
    await page.keyboard.type(number, { delay: 5 });
    await page.keyboard.press('Enter');
    await page.waitForSelector('[data-testid="kiosk-problem"][data-code="already_checked_in"]');
    assert.equal((await page.textContent('[data-testid="kiosk-ticket-number"]')).trim(), ticket);

    // Without a booking: a procedure, a ticket, printed.
    await page.click('[data-action="start"]');
    await page.click('[data-action="walkin"]');
    await page.waitForSelector('.k-procedure[data-procedure="cert-renewal"]');
    assert.ok(await page.isVisible('.k-procedure[data-procedure=""]'), '「わからない」 is a choice');
    await assertAccessible(page, 'the kiosk procedures');
    await page.click('.k-procedure[data-procedure="cert-renewal"]');
    await page.waitForSelector('[data-testid="kiosk-ticket"]');
    const walk = (await page.textContent('[data-testid="kiosk-ticket-number"]')).trim();
    assert.match(walk, /^W-\d{3}$/);
    await page.waitForSelector('[data-testid="kiosk-print"][data-state="printed"]');
    assert.deepEqual((await prints(page)).map((p) => p.ticket), [ticket, walk]);
    const q = await call('GET', '/api/v1/desk/city-hall/queue', { token: state.desk });
    const row = q.data.waiting.find((x) => x.ticket === walk);
    assert.equal(row && row.procedure, 'cert-renewal', 'the walk-in is waiting for the chosen procedure');

    // Its account does nothing else.
    const kioskToken = await page.evaluate(() => sessionStorage.getItem('madoguchi.kiosk.token'));
    const other = await call('GET', '/api/v1/desk/city-hall/queue', { token: kioskToken });
    assert.equal(other.status, 403, 'a kiosk cannot read the queue');
  });
  page.assertClean();
});

// ---------- the console's desk ----------

test("the console's desk prints a ticket it issued, at once with a printer here, and a waiting one again", async () => {
  const page = await watchedPage(screenBrowser.context);
  await stubPrint(page);
  await guard(page, 'desk-print', async () => {
    await page.goto(`${server.url}/staff/`);
    await page.fill('#f-login', DESK.login);
    await page.fill('#f-password', DESK.password);
    await page.click('#login-submit');
    await page.waitForSelector('#d-walkin');
    assert.equal(await page.isChecked('#d-printer'), false, 'no printer until the desk says so');

    await page.click('#d-walkin');
    await page.waitForSelector('[data-testid="walkin-result"] [data-action="print"]');
    const first = (await page.textContent('[data-testid="walkin-result"] .ticket')).trim();
    assert.deepEqual(await prints(page), [], 'not printed by itself without a printer');
    await page.click('[data-testid="walkin-result"] [data-action="print"]');
    await page.waitForFunction(() => (window.__prints || []).length === 1);
    assert.equal((await prints(page))[0].ticket, first);
    await page.waitForSelector('#toast.show');
    assert.match(await page.textContent('#toast'), new RegExp(`${first} の番号札を印刷に送りました`));

    // A printer here: every ticket issued prints at once, and the desk remembers it.
    await page.check('#d-printer');
    await page.click('#d-walkin');
    await page.waitForFunction((t) => {
      const el = document.querySelector('[data-testid="walkin-result"] .ticket');
      return el && el.textContent.trim() !== t;
    }, first);
    const second = (await page.textContent('[data-testid="walkin-result"] .ticket')).trim();
    await page.waitForFunction(() => (window.__prints || []).length === 2);
    assert.equal((await prints(page))[1].ticket, second);
    await page.reload();
    await page.waitForSelector('#d-printer');
    assert.equal(await page.isChecked('#d-printer'), true, 'kept on this browser');

    // A waiting ticket printed again from the list.
    const row = page.locator(`[data-testid="waiting"] tr[data-ticket="${first}"]`);
    await row.waitFor();
    await row.locator('[data-action="print"]').click();
    await page.waitForFunction(() => (window.__prints || []).length === 1);
    assert.equal((await prints(page))[0].ticket, first);
    await page.waitForSelector('iframe.print-frame', { state: 'detached' });
    await assertAccessible(page, 'the front desk with printing');
    await page.uncheck('#d-printer');
  });
  page.assertClean();
});
