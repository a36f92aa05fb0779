// A resident who uses the keyboard alone books a visit from the start page to the completion
// page: Tab and Shift+Tab between controls, Space on a choice, arrows in the calendar, Enter to
// go on. At every step focus is on something, and it shows (JIS X 8341-3 / WCAG 2.4.7).

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { env, launch, watchedPage, waitForMail, assertAccessible } from '../lib/harness.js';

let browser;
const email = `keys-${Date.now().toString(36)}@example.jp`;
const phone = `080-${String(Date.now()).slice(-8, -4)}-${String(Date.now()).slice(-4)}`;

before(async () => { browser = await launch({ viewport: { width: 1280, height: 900 } }); });
after(async () => { if (browser) await browser.close(); });

/**
 * Where focus is, and whether a person can see it: an outline or a ring on it (or its label)
 * that a style rule gives it because it has focus (a rule whose selector says :focus,
 * :focus-visible or :focus-within, that matches it now and draws an outline or a shadow), so a
 * shadow an element has at rest (today's date, a chosen day) is not taken for focus.
 */
async function focusState(page) {
  return page.evaluate(() => {
    const a = document.activeElement;
    if (!a || a === document.body || a === document.documentElement) return { lost: true };
    const drawn = (el) => {
      const cs = getComputedStyle(el);
      return (cs.outlineStyle !== 'none' && parseFloat(cs.outlineWidth) > 0) || (cs.boxShadow && cs.boxShadow !== 'none');
    };
    const rules = [];
    const walk = (list) => {
      for (const r of list) {
        if (r.cssRules && !r.selectorText) walk(r.cssRules); // @media, @supports, @layer
        else if (r.selectorText && /:focus/.test(r.selectorText)) rules.push(r);
      }
    };
    for (const sheet of document.styleSheets) {
      try { walk(sheet.cssRules); } catch { /* another origin's sheet: none here */ }
    }
    const ringRule = (el) => rules.some((r) => {
      const st = r.style;
      const draws = (st.outlineStyle && st.outlineStyle !== 'none') || (st.outline && st.outline !== 'none' && st.outline !== '0')
        || (st.boxShadow && st.boxShadow !== 'none');
      if (!draws) return false;
      try { return el.matches(r.selectorText); } catch { return false; }
    });
    const shows = (el) => !!el && drawn(el) && ringRule(el);
    const r = a.getBoundingClientRect();
    return {
      desc: a.id ? `#${a.id}` : `${a.tagName.toLowerCase()}.${a.className}`,
      visible: shows(a) || shows(a.closest('.choice, label')),
      onScreen: r.width > 0 && r.height > 0,
    };
  });
}

/** Presses Tab (or Shift+Tab) until focus is on `selector`, checking focus at every stop. */
async function tabTo(page, selector, { back = false, max = 120 } = {}) {
  for (let i = 0; i < max; i++) {
    await page.keyboard.press(back ? 'Shift+Tab' : 'Tab');
    const s = await focusState(page);
    assert.ok(!s.lost, `focus was lost after ${i + 1} presses on the way to ${selector}`);
    assert.ok(s.visible, `focus on ${s.desc} cannot be seen`);
    assert.ok(s.onScreen, `focus went to ${s.desc}, which is not on the screen`);
    if (await page.evaluate((sel) => document.activeElement.matches(sel), selector)) return;
  }
  assert.fail(`${back ? 'Shift+Tab' : 'Tab'} never reached ${selector}`);
}

async function activeMatches(page, selector) {
  return page.evaluate((sel) => document.activeElement.matches(sel), selector);
}

test('a visit booked with the keyboard alone, focus always there and always visible', async () => {
  const page = await watchedPage(browser.context);
  await page.goto(env.url + '/');
  await page.waitForSelector('#procedure-choices input');
  await page.waitForSelector('.cal-grid button.day[data-state="avail"]');

  // The procedure: Tab into its group, arrows to the one wanted, Space to be sure it is chosen.
  await tabTo(page, 'input[name="procedure"]');
  for (let i = 0; i < 6 && !(await activeMatches(page, '#procedure-pin-reset')); i++) await page.keyboard.press('ArrowDown');
  await page.keyboard.press('Space');
  assert.equal(await page.isChecked('#procedure-pin-reset'), true);
  assert.match(await page.textContent('#bring'), /本人のマイナンバーカード/, 'what to bring follows the choice');

  // The calendar: one Tab stop for the month, arrows between days, Enter to open one.
  await tabTo(page, '.cal-grid button.day');
  let state = await page.evaluate(() => document.activeElement.dataset.state);
  for (let i = 0; i < 40 && !['avail', 'few'].includes(state); i++) {
    await page.keyboard.press('ArrowRight');
    state = await page.evaluate(() => document.activeElement.dataset.state);
    const s = await focusState(page);
    assert.ok(!s.lost && s.visible, `the arrow keys keep focus visible in the calendar (${s.desc})`);
  }
  assert.ok(['avail', 'few'].includes(state), 'the arrows reach a day with seats');
  const date = await page.evaluate(() => document.activeElement.dataset.date);
  await page.keyboard.press('Enter');
  await page.waitForSelector(`.cal-grid button.day[data-date="${date}"][aria-pressed="true"]`);

  // A time, then the address; Enter sends the link.
  await tabTo(page, '.slot:not([disabled])');
  const slot = await page.evaluate(() => document.activeElement.dataset.slot);
  await page.keyboard.press('Enter');
  await page.waitForSelector('[data-testid="picked-slot"]');
  await tabTo(page, '#f-email');
  await page.keyboard.type(email);
  const sentAt = Date.now();
  await page.keyboard.press('Enter');
  await page.waitForSelector('[data-testid="mail-sent"]:not([hidden])');
  // Focus is taken to the message (its heading, which is read out; not a control, so no ring).
  const s = await focusState(page);
  assert.ok(!s.lost, 'after sending, focus is not lost');
  assert.equal(s.desc, '#sent-h', 'after sending, focus is on the message');

  // The mailed link; the form by the keyboard, going back once with Shift+Tab to correct.
  const mail = await waitForMail(email, /(http\S+\/booking\/verify\?token=[A-Za-z0-9_-]+)/, { since: sentAt });
  await page.goto(mail.match[1]);
  await page.waitForSelector('#booking-form');
  assert.equal(await page.inputValue('#f-procedure'), 'pin-reset');
  await tabTo(page, '#f-name');
  await page.keyboard.type('鍵盤 花子');
  await tabTo(page, '#f-name_kana');
  await page.keyboard.type('ケンバン');
  await tabTo(page, '#f-phone');
  await page.keyboard.type(phone);
  await tabTo(page, '#f-name_kana', { back: true });
  await page.keyboard.press('End');
  await page.keyboard.type(' ハナコ');
  await tabTo(page, '#to-confirm');
  await page.keyboard.press('Enter');
  await page.waitForSelector('[data-testid="confirm-list"]');
  assert.match(await page.textContent('[data-field="name_kana"]'), /ケンバン ハナコ/);
  await tabTo(page, '#confirm-submit');
  await page.keyboard.press('Enter');
  await page.waitForSelector('[data-testid="done"]');
  const done = await focusState(page);
  assert.ok(!done.lost, 'on the completion page focus is on its heading');
  assert.match(await page.textContent('[data-testid="reservation-number"]'), /^[A-Z0-9]{4}-[A-Z0-9]{4}$/);
  const hhmm = slot.slice(-4);
  assert.ok((await page.textContent('[data-testid="done"]')).includes(`${+hhmm.slice(0, 2)}:${hhmm.slice(2)}〜`), `the chosen time (${slot}) was booked`);
  // What to bring, folded here, opens from the keyboard.
  await tabTo(page, '[data-testid="done-bring"] summary');
  await page.keyboard.press('Enter');
  assert.equal(await page.getAttribute('[data-testid="done-bring"]', 'open'), '', 'Enter opens it');
  await assertAccessible(page, 'the completion page reached by the keyboard');
  page.assertClean();
  await page.close();
});

/** Wider than the window: the elements that stick out to the right (none is the answer). */
async function overflowing(page) {
  return page.evaluate(() => {
    const width = document.documentElement.clientWidth;
    const out = [];
    for (const el of document.querySelectorAll('body *')) {
      const r = el.getBoundingClientRect();
      if (r.width && r.right > width + 1 && getComputedStyle(el).visibility !== 'hidden' && !el.closest('.table-wrap, .visually-hidden, .skip-link')) {
        out.push(`${el.tagName.toLowerCase()}${el.id ? '#' + el.id : el.className ? '.' + String(el.className).split(' ')[0] : ''} (${Math.round(r.right)} px)`);
      }
    }
    return { scroll: document.documentElement.scrollWidth > width + 1, out: out.slice(0, 8) };
  });
}

test('a 320 px window and text at 200 % lose nothing off the side of the start page', async () => {
  const narrow = await launch({ viewport: { width: 320, height: 640 } });
  try {
    const page = await watchedPage(narrow.context);
    await page.goto(env.url + '/');
    await page.waitForSelector('.cal-grid button.day[data-state="avail"]');
    await page.check('#procedure-pin-reset');
    await page.click('.cal-grid button.day[data-state="avail"] >> nth=0');
    await page.waitForSelector('.slot:not([disabled])');
    const at320 = await overflowing(page);
    assert.deepEqual(at320, { scroll: false, out: [] }, 'at 320 px nothing is wider than the window');
    page.assertClean();
  } finally {
    await narrow.close();
  }
  // Text at 200 % (the browser's text size, not the page zoom), on a 1280 px window.
  const page = await watchedPage(browser.context);
  await page.goto(env.url + '/');
  await page.waitForSelector('.cal-grid button.day[data-state="avail"]');
  await page.evaluate(() => { document.documentElement.style.fontSize = '200%'; });
  await page.check('#procedure-pin-reset');
  await page.click('.cal-grid button.day[data-state="avail"] >> nth=0');
  await page.waitForSelector('.slot:not([disabled])');
  const at200 = await overflowing(page);
  assert.deepEqual(at200, { scroll: false, out: [] }, 'with text at 200 % nothing is wider than the window');
  page.assertClean();
  await page.close();
});

test('the accessibility statement publishes what the tests check, linked from the start page', async () => {
  const page = await watchedPage(browser.context);
  await page.goto(env.url + '/');
  await page.click('a[href="/accessibility"]');
  await page.waitForSelector('[data-testid="a11y-result"]');
  const text = await page.textContent('[data-testid="a11y"]');
  assert.match(text, /JIS X 8341-3:2016/);
  assert.match(text, /適合レベル AA/);
  assert.match(await page.textContent('[data-testid="a11y-result"]'), /違反 0 件/);
  const published = await (await fetch(env.url + '/assets/accessibility.json')).json();
  assert.ok(published.checks.length >= 30, `the states checked are listed (${published.checks.length})`);
  assert.ok(published.keyboard.length && published.reflow.length, 'the keyboard and reflow tests are named');
  await assertAccessible(page, 'the accessibility statement');
  page.assertClean();
  await page.close();
});
