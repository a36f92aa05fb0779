// Shared by the browser tests: Debian's Chromium through playwright-core (never a downloaded
// browser), a fresh profile per run, pages that fail the test on a script error or a CSP
// violation, screenshots as artefacts, axe-core checks, the file mail, the API, and a private
// server for tests that need their own rehearsal clock.

import { chromium } from 'playwright-core';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { createRequire } from 'node:module';
import crypto from 'node:crypto';
import assert from 'node:assert/strict';

const require = createRequire(import.meta.url);

export const env = {
  url: process.env.MADOGUCHI_URL || 'http://127.0.0.1:18100',
  mailDir: process.env.MADOGUCHI_MAIL_DIR || '/tmp/fe-dev/mail',
  bin: process.env.MADOGUCHI_BIN || 'target/debug/madoguchi',
  artifacts: process.env.MADOGUCHI_ARTIFACTS || path.resolve('target/browser-artifacts'),
  chromium: process.env.CHROMIUM || '/usr/bin/chromium',
  admin: { login: process.env.MADOGUCHI_ADMIN || 'chief', password: process.env.MADOGUCHI_ADMIN_PASSWORD || 'a-long-first-password' },
  phone: { login: process.env.MADOGUCHI_PHONE_LOGIN || 'phone1', password: process.env.MADOGUCHI_STAFF_PASSWORD || 'phone-staff-password' },
  desk: { login: process.env.MADOGUCHI_DESK_LOGIN || 'desk1', password: process.env.MADOGUCHI_STAFF_PASSWORD || 'desk-staff-password' },
};

export const CHROMIUM_ARGS = [
  '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync',
];

/** A browser with a fresh, empty profile (its --user-data-dir), removed on close. */
export async function launch({ viewport = { width: 390, height: 844 }, locale = 'ja-JP' } = {}) {
  const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'fe-chromium-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: env.chromium,
    headless: true,
    args: CHROMIUM_ARGS,
    viewport,
    locale,
    timezoneId: 'UTC', // the pages must not depend on the browser's zone
    reducedMotion: 'reduce', // no smooth scrolling under a click
  });
  context.setDefaultTimeout(10000);
  const close = async () => {
    await context.close();
    fs.rmSync(profile, { recursive: true, force: true });
  };
  return { context, close };
}

/**
 * A page that records uncaught errors and CSP violations; call `page.assertClean()` to fail the
 * test on any. (Failed loads of 4xx answers are expected in some tests and are not errors.)
 */
export async function watchedPage(context) {
  const page = await context.newPage();
  // Layout shifts not caused by the person (CLS as Lighthouse counts it, summed per page load).
  await page.addInitScript(() => {
    window.__cls = 0;
    window.__shifts = [];
    const name = (n) => (!n ? '?' : n.id ? '#' + n.id : n.nodeName + (n.className && typeof n.className === 'string' ? '.' + n.className.split(' ')[0] : ''));
    try {
      new PerformanceObserver((list) => {
        for (const e of list.getEntries()) {
          if (e.hadRecentInput) continue;
          window.__cls += e.value;
          window.__shifts.push(`${e.value.toFixed(3)} @${Math.round(e.startTime)}ms: ${(e.sources || []).map((s) => `${name(s.node)} y${Math.round(s.previousRect.y)}→${Math.round(s.currentRect.y)} h${Math.round(s.previousRect.height)}→${Math.round(s.currentRect.height)}`).join(', ')}`);
        }
      }).observe({ type: 'layout-shift', buffered: true });
    } catch { /* no layout-shift entries in this browser */ }
  });
  const problems = [];
  page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
  page.on('console', (m) => {
    const text = m.text();
    if (/Content Security Policy|Refused to (load|execute|apply|connect|frame)/i.test(text)) problems.push(`CSP: ${text}`);
    else if (m.type() === 'error' && !/Failed to load resource/.test(text)) problems.push(`console error: ${text}`);
  });
  page.assertClean = () => assert.deepEqual(problems, [], 'the page logged errors or CSP violations');
  return page;
}

export async function screenshot(page, name, { fullPage = true, element = null } = {}) {
  await assertNoStrayWords(page, name);
  // Every state a test stops at is one a person sees: it must not have moved by itself.
  await assertStill(page, name);
  if (process.env.MADOGUCHI_CLS_REPORT) {
    console.log(`CLS ${name}: ${(await layoutShift(page)).toFixed(3)} ${page.url()}`);
    for (const s of await page.evaluate(() => window.__shifts || [])) console.log(`   ${s}`);
  }
  fs.mkdirSync(env.artifacts, { recursive: true });
  const file = path.join(env.artifacts, `${name}.png`);
  if (element) await page.locator(element).screenshot({ path: file, animations: 'disabled' });
  else await page.screenshot({ path: file, fullPage, animations: 'disabled' });
  return file;
}

/** The page's cumulative layout shift so far (since it loaded), without shifts after input. */
export async function layoutShift(page) {
  const { supported, cls } = await page.evaluate(() => ({
    supported: PerformanceObserver.supportedEntryTypes.includes('layout-shift'), cls: window.__cls || 0,
  }));
  assert.ok(supported, 'this Chromium reports layout shifts (else every page would read 0)');
  return cls;
}

/** Fails when the page has moved by itself (CLS ≥ 0.1 since it loaded) before this state. */
export async function assertStill(page, label) {
  const cls = await layoutShift(page);
  assert.ok(cls < 0.1, `${label}: the page moved by itself (cumulative layout shift ${cls.toFixed(3)}, limit 0.1)`);
  return cls;
}

/**
 * Fails when the page shows a value the code failed to fill: `null`, `undefined`, `NaN` or
 * `[object Object]` as visible text (checked at every screenshot and every axe run, so in every
 * state the tests stop at). The API documentation (/docs) shows JSON and is left out.
 */
export async function assertNoStrayWords(page, label) {
  if (/\/docs\b|\/api\//.test(page.url())) return;
  const found = await page.evaluate(() => {
    const text = document.body ? document.body.innerText : '';
    return [...new Set(text.match(/\b(?:null|undefined|NaN)\b|\[object Object\]/g) || [])];
  });
  assert.deepEqual(found, [], `${label}: the page shows ${found.join(', ')}`);
}

const AXE_SOURCE = fs.readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8');

/** The states checked with axe-core in this run (for the accessibility statement). */
export const axeRuns = [];

/** Runs axe-core on the page; fails on any violation of the WCAG 2.1 A/AA rules (listing them). */
export async function assertAccessible(page, label) {
  await assertNoStrayWords(page, label);
  const has = await page.evaluate(() => typeof window.axe === 'object');
  if (!has) await page.evaluate(AXE_SOURCE);
  const result = await page.evaluate(async () => {
    const r = await window.axe.run(document, {
      resultTypes: ['violations'],
      runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'best-practice'] },
    });
    return r.violations.map((v) => ({ id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.slice(0, 5).map((n) => n.target.join(' ')) }));
  });
  if (process.env.MADOGUCHI_AXE_REPORT) for (const v of result) console.log(`AXE ${label}: ${v.impact} ${v.id} ${v.help} ${v.nodes.join(' | ')}`);
  // WCAG 2.1 A and AA (JIS X 8341-3:2016 AA) and axe's best practices, at every impact level.
  assert.deepEqual(result, [], `axe-core found violations on ${label}`);
  axeRuns.push(label);
  // Kept for the accessibility statement (scripts/browser-test writes it from this run).
  fs.mkdirSync(env.artifacts, { recursive: true });
  fs.appendFileSync(path.join(env.artifacts, 'axe-runs.tsv'), `${new URL(page.url()).pathname}\t${label}\n`);
  return result;
}

// ---------- mail ----------

/** Waits for a mail to `to` whose body matches `re` and is newer than `since` (ms); returns the match. */
export async function waitForMail(to, re, { since = 0, timeout = 10000, dir = env.mailDir } = {}) {
  const deadline = Date.now() + timeout;
  while (Date.now() < deadline) {
    const files = fs.existsSync(dir) ? fs.readdirSync(dir).filter((f) => f.endsWith('.eml')) : [];
    const found = files
      .map((f) => ({ f, st: fs.statSync(path.join(dir, f)) }))
      .filter((x) => x.st.mtimeMs >= since - 1000)
      .sort((a, b) => b.st.mtimeMs - a.st.mtimeMs);
    for (const { f } of found) {
      const text = fs.readFileSync(path.join(dir, f), 'utf8');
      if (!new RegExp(`^To: .*${to.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`, 'mi').test(text)) continue;
      const m = re.exec(text);
      if (m) return { match: m, text, file: f };
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`no mail to ${to} matching ${re} within ${timeout} ms in ${dir}`);
}

// ---------- the API, for setting up ----------

export async function apiCall(method, p, { body, token, base = env.url } = {}) {
  const res = await fetch(base + p, {
    method,
    headers: { 'content-type': 'application/json', ...(token ? { authorization: 'Bearer ' + token } : {}) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  let data = null;
  try { data = text ? JSON.parse(text) : null; } catch { data = text; }
  return { status: res.status, data, headers: res.headers };
}

export async function staffToken(who = env.admin, base = env.url) {
  const r = await apiCall('POST', '/api/v1/staff/sessions', { body: who, base });
  assert.equal(r.status, 201, `login ${who.login}: ${JSON.stringify(r.data)}`);
  return r.data.token;
}

/** Signs a page in to the staff console. */
export async function staffLogin(page, who = env.admin) {
  await page.goto(env.url + '/staff/');
  await page.fill('#f-login', who.login);
  await page.fill('#f-password', who.password);
  await page.click('#login-submit');
  await page.waitForSelector('#nav:not([hidden])');
}

// ---------- a private server (its own clock and database) ----------

export async function freePort(from = 18150, to = 18199) {
  for (let p = from; p <= to; p++) {
    const ok = await new Promise((resolve) => {
      const s = net.createServer();
      s.once('error', () => resolve(false));
      s.listen(p, '127.0.0.1', () => s.close(() => resolve(true)));
    });
    if (ok) return p;
  }
  throw new Error('no free port');
}

/**
 * Settings every test server starts with, unless a test says otherwise. The server makes admins
 * set up a second factor before anything else (`staff.require_totp_for`, default ["admin"]);
 * the tests that work as an admin sign in with a password alone, so their servers require it
 * of no role. figment reads the environment value `[]` as an empty list (an empty string is
 * refused: "expected a sequence"). scripts/browser-test starts the shared server the same way.
 * tests/browser/tests/09-sign-in.test.js starts one with the configured default instead.
 */
export const SERVER_DEFAULTS = { MADOGUCHI__STAFF__REQUIRE_TOTP_FOR: '[]' };

/**
 * A private server: its own port, database, mail folder (`mailDir`) and rehearsal clock;
 * `env` adds settings (e.g. { MADOGUCHI__BOOKING__PHONE_SEATS_PER_SLOT: '1' }) or, given null,
 * removes one (e.g. { MADOGUCHI__STAFF__REQUIRE_TOTP_FOR: null }: config/default.toml's value).
 */
export async function startServer({ clockStart, env: extraEnv = {} }) {
  const port = await freePort();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fe-server-'));
  fs.mkdirSync(path.join(dir, 'mail'));
  const url = `http://127.0.0.1:${port}`;
  let child = null;
  let stderr = '';
  async function run(start) {
    stderr = '';
    const childEnv = {
      ...process.env,
      ...SERVER_DEFAULTS,
      MADOGUCHI__SERVER__BIND: `127.0.0.1:${port}`,
      MADOGUCHI__PUBLIC_URL: url,
      MADOGUCHI__DATABASE__URL: path.join(dir, 'db.sqlite3'),
      MADOGUCHI__MAIL__FILE_DIR: path.join(dir, 'mail'),
      MADOGUCHI__CLOCK__START: start,
      MADOGUCHI__LOG__FILTER: 'warn',
      ...extraEnv,
    };
    for (const [k, v] of Object.entries(childEnv)) if (v === null || v === undefined) delete childEnv[k];
    child = spawn(path.resolve(env.bin), [], {
      env: childEnv,
      stdio: ['ignore', 'ignore', 'pipe'],
      cwd: dir, // no ./config/ of a developer's
    });
    child.stderr.on('data', (d) => { stderr += d; });
    const deadline = Date.now() + 20000;
    for (;;) {
      try {
        const r = await fetch(url + '/readyz');
        if (r.ok) break;
      } catch { /* not yet */ }
      if (child.exitCode !== null || Date.now() > deadline) throw new Error(`server did not start: ${stderr}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  const exited = () => new Promise((r) => (child.exitCode !== null || child.signalCode !== null ? r() : child.once('exit', r)));
  await run(clockStart);
  return {
    url,
    dir,
    mailDir: path.join(dir, 'mail'),
    /** Runs the staff CLI against this server's database. */
    staffAdd(login, role, password) {
      return new Promise((resolve, reject) => {
        const p = spawn(path.resolve(env.bin), ['staff', 'add', '--login', login, '--role', role, '--password-stdin'], {
          env: { ...process.env, MADOGUCHI__DATABASE__URL: path.join(dir, 'db.sqlite3'), MADOGUCHI__CLOCK__START: '' }, cwd: dir, stdio: ['pipe', 'ignore', 'inherit'],
        });
        p.stdin.end(password + '\n');
        p.on('exit', (code) => (code === 0 ? resolve() : reject(new Error('staff add failed'))));
      });
    },
    /** Kills the process without a goodbye (connections drop), as a crash would. */
    async crash() {
      child.kill('SIGKILL');
      await exited();
    },
    /** Starts it again on the same port and database. */
    async restart(start = clockStart) {
      await run(start);
    },
    async stop() {
      if (child.exitCode === null && child.signalCode === null) {
        // A graceful stop waits for open display streams (up to 30 s): 2 s, then SIGKILL.
        child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), 2000);
        await exited();
        clearTimeout(timer);
      }
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

// ---------- the second factor (TOTP, RFC 6238), computed here as an authenticator app would ----------

/** The bytes of a base32 secret (RFC 4648 alphabet; spaces, padding and case ignored). */
export function base32Decode(text) {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
  const clean = text.toUpperCase().replace(/[\s=-]/g, '');
  let bits = 0;
  let value = 0;
  const out = [];
  for (const ch of clean) {
    const i = alphabet.indexOf(ch);
    if (i < 0) throw new Error(`not base32: ${ch}`);
    value = (value << 5) | i;
    bits += 5;
    if (bits >= 8) {
      bits -= 8;
      out.push((value >>> bits) & 0xff);
    }
  }
  return Buffer.from(out);
}

/** The six digits for time step `step` (floor(unix seconds / 30)): HMAC-SHA-1, dynamic truncation. */
export function totpAt(secretBase32, step) {
  const counter = Buffer.alloc(8);
  counter.writeBigUInt64BE(BigInt(step));
  const mac = crypto.createHmac('sha1', base32Decode(secretBase32)).update(counter).digest();
  const offset = mac[mac.length - 1] & 0x0f;
  const binary = ((mac[offset] & 0x7f) << 24) | (mac[offset + 1] << 16) | (mac[offset + 2] << 8) | mac[offset + 3];
  return String(binary % 1000000).padStart(6, '0');
}

/**
 * The server's instant (ms since the epoch), from the X-Madoguchi-Now header its answers carry
 * (the rehearsal clock, not this machine's): the header is whole seconds, so half a second is
 * added, and the time since the answer came.
 */
export async function serverNow(base = env.url) {
  const res = await fetch(base + '/healthz');
  const received = Date.now();
  const now = res.headers.get('x-madoguchi-now');
  assert.ok(now, 'the server runs a rehearsal clock (X-Madoguchi-Now)');
  return Date.parse(now) + 500 + (Date.now() - received);
}

/**
 * An authenticator for one secret, as the server sees codes: a time step is accepted once, and
 * one step either side of the server's. `next()` gives a code of a step after the last one used:
 * the server's step minus one while that stays valid a while, else the next unused one, waiting
 * for the server's clock when every step it would accept is used.
 */
export function authenticator(secret, base = env.url) {
  let last = -Infinity;
  return {
    secret,
    async next() {
      for (;;) {
        const ms = await serverNow(base);
        const step = Math.floor(ms / 30000);
        const into = (ms % 30000) / 1000;
        // The step before is still accepted during this step: use it only with 10 s to spare.
        let use = Math.max(last + 1, into < 20 ? step - 1 : step);
        if (use <= step + 1) {
          last = use;
          return totpAt(secret, use);
        }
        await new Promise((r) => setTimeout(r, (30 - into + 0.5) * 1000));
      }
    },
  };
}

/** Runs fn; on failure keeps a screenshot (FAILED-name.png) and adds the page's text to the error. */
export async function guard(page, name, fn) {
  try {
    return await fn();
  } catch (e) {
    try {
      await screenshot(page, 'FAILED-' + name);
      const text = (await page.textContent('body')).replace(/\s+/g, ' ').slice(0, 1500);
      e.message += `\n--- ${name}: ${page.url()}\n${text}`;
    } catch { /* the page is gone */ }
    throw e;
  }
}
