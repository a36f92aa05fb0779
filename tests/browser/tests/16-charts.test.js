// The statistics' charts, on a private server whose scheduled jobs never run
// (jobs.enabled = false), so the day's figures are the ones the server computes when asked:
// - Tuesday 12 January 2027 at the counter, made through the staff API with the rehearsal clock
//   restarted at each step (the same database): three bookings that day and one the next, two
//   checked in at 09:10 with a walk-in, called at 09:22 (12 minutes), 09:30 (the walk-in,
//   20 minutes) and 09:40 (30 minutes, then marked absent), a second walk-in at 10:05 called at
//   10:13 (8 minutes);
// - on Thursday the 14th an administrator opens 統計 from the menu: the four charts show those
//   figures (bars and points of the two days with figures, the others marked as gaps, the
//   day's waits over all four called, 8, 12, 20 and 30 minutes: median 12, 90th percentile 30
//   (nearest rank), the hours 9 and 10 with their medians), each chart's table gives the same
//   figures, and the charts pass axe-core wide, at a phone's width (no sideways scrolling) and
//   in English.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import {
  env, launch, watchedPage, screenshot, assertAccessible, apiCall, startServer, guard,
} from '../lib/harness.js';

const ADMIN = { login: 'chartadmin', password: 'a-long-charting-password' };
const DESK = { login: 'chartdesk', password: 'desk-charting-password' };
const DAY = '2027-01-12';
const NEXT_DAY = '2027-01-13';
const at = (hhmm, day = DAY) => `${day}T${hhmm}:00+09:00`;

let server;
let browser;
const state = {};

before(async () => {
  [server, browser] = await Promise.all([
    startServer({ clockStart: at('09:10'), env: { MADOGUCHI__JOBS__ENABLED: 'false' } }),
    launch({ viewport: { width: 1280, height: 900 } }),
  ]);
  await server.staffAdd(ADMIN.login, 'admin', ADMIN.password);
  await server.staffAdd(DESK.login, 'desk', DESK.password);
});
after(async () => {
  if (browser) await browser.close();
  if (server) await server.stop();
});

const call = (method, p, opts = {}) => apiCall(method, p, { base: server.url, ...opts });

async function token(who) {
  const r = await call('POST', '/api/v1/staff/sessions', { body: who });
  assert.equal(r.status, 201, JSON.stringify(r.data));
  return r.data.token;
}

/** The server again on the same database, its clock at `when` (the counter's time); new tokens. */
async function clockAt(when) {
  await server.crash();
  await server.restart(when);
  state.admin = await token(ADMIN);
  state.desk = await token(DESK);
}

async function book(slotId, procedure, n) {
  const r = await call('POST', '/api/v1/staff/reservations', {
    token: state.admin,
    body: {
      slot_id: slotId, procedure, applicant_type: 'holder', name: `統計 ${n}`, name_kana: 'トウケイ', phone: `0748-60-${1000 + n}`,
      override_window: true, override_reason: 'ブラウザテスト: 統計のグラフ',
    },
  });
  assert.equal(r.status, 201, JSON.stringify(r.data));
  return r.data.reservation_number;
}

const desk = (what, body) => call('POST', `/api/v1/desk/city-hall/${what}`, { token: state.desk, body });

async function checkIn(number) {
  const r = await desk('check-ins', { reservation_number: number });
  assert.equal(r.status, 201, JSON.stringify(r.data));
  return r.data.ticket;
}
async function walkIn(procedure) {
  const r = await desk('walk-ins', procedure ? { procedure } : {});
  assert.equal(r.status, 201, JSON.stringify(r.data));
  return r.data.ticket;
}
/** Calls the next visitor to desk 1, expecting `ticket`, then settles it as `outcome`. */
async function callAndSettle(ticket, outcome) {
  const called = await desk('calls', { desk: '1' });
  assert.equal(called.status, 200, JSON.stringify(called.data));
  assert.equal(called.data.ticket, ticket, 'the rule calls the visitor this test expects');
  const done = await desk(`tickets/${ticket}/${outcome}`);
  assert.equal(done.status, 200, JSON.stringify(done.data));
}

test('a counter day made through the API: bookings, check-ins, walk-ins and calls', async () => {
  state.admin = await token(ADMIN);
  state.desk = await token(DESK);
  // 09:10: three bookings today and one tomorrow; two visitors check in and a walk-in comes.
  const r1 = await book(`city-hall.${DAY}.0930`, 'pin-reset', 1);
  const r2 = await book(`city-hall.${DAY}.1030`, 'pin-change', 2);
  await book(`city-hall.${DAY}.1100`, 'pin-reset', 3); // never comes (no job marks it absent)
  await book(`city-hall.${NEXT_DAY}.1000`, 'cert-renewal', 4);
  state.r1 = await checkIn(r1);
  state.r2 = await checkIn(r2);
  state.w1 = await walkIn('pin-reset');

  // 09:22: the 09:30 booking first (12 minutes' wait), served.
  await clockAt(at('09:22'));
  await callAndSettle(state.r1, 'complete');
  // 09:30: the 10:30 booking is early, the walk-in goes first (20 minutes), served.
  await clockAt(at('09:30'));
  await callAndSettle(state.w1, 'complete');
  // 09:40: the early booking (30 minutes), who is not there when called.
  await clockAt(at('09:40'));
  await callAndSettle(state.r2, 'no-show');
  // 10:05 a walk-in without a procedure, called at 10:13 (8 minutes).
  await clockAt(at('10:05'));
  state.w2 = await walkIn(null);
  await clockAt(at('10:13'));
  await callAndSettle(state.w2, 'complete');

  // Thursday: the 12th and the 13th are past, and the daily job never ran for them.
  await clockAt('2027-01-14T09:00:00+09:00');
  const jobs = await call('GET', '/api/v1/admin/jobs', { token: state.admin });
  const daily = (jobs.data.jobs || []).find((j) => j.name === 'daily_stats');
  assert.deepEqual(daily ? daily.runs : [], [], 'the daily statistics never ran');
  const stats = await call('GET', '/api/v1/admin/stats?counter=city-hall', { token: state.admin });
  assert.equal(stats.status, 200, JSON.stringify(stats.data));
  assert.deepEqual([...new Set(stats.data.days.map((d) => d.date))], [DAY, NEXT_DAY], 'computed on request');
  assert.deepEqual(stats.data.hours, [
    { hour: 9, tickets: 3, wait_minutes: { p50: 20, p90: 30 } },
    { hour: 10, tickets: 1, wait_minutes: { p50: 8, p90: 8 } },
  ]);
  // The 12th over every procedure: 8, 12, 20 and 30 minutes (the 13th called nobody).
  assert.deepEqual(stats.data.day_waits, [
    { date: DAY, counter: 'city-hall', tickets: 4, wait_minutes: { p50: 12, p90: 30 } },
  ]);
});

/** The cells of a chart's table row (the row's heading first), as text. */
const rowText = (page, chartId, key) => page.$$eval(`[data-testid="chart-${chartId}-table"] tr[data-key="${key}"] > *`, (cells) => cells.map((c) => c.textContent.trim()));
/** The bars or points of a series: {key: value}. */
const marks = (page, chartId, series) => page.$$eval(`svg[data-chart="${chartId}"] [data-series="${series}"] [data-value]`,
  (els) => Object.fromEntries(els.map((e) => [e.dataset.key, Number(e.dataset.value)])));

test('an administrator opens the statistics and reads the charts and their tables', async () => {
  const page = await watchedPage(browser.context);
  await page.goto(server.url + '/staff/');
  await page.fill('#f-login', ADMIN.login);
  await page.fill('#f-password', ADMIN.password);
  await page.click('#login-submit');
  await page.waitForSelector('#nav:not([hidden])');
  await page.click('a[data-section="admin/stats"]');
  await guard(page, 'charts', () => page.waitForSelector('svg[data-chart="hours"] [data-series="p50"] rect.bar'));
  assert.match(await page.textContent('[data-testid="stats"]'), /1月12日/, 'the table by procedure stays');
  assert.match(await page.textContent('.chart-for'), /2026年12月15日\(火\)〜2027年1月14日\(木\)・近江八幡市役所/);

  // Every chart: a heading, one image with a summary, a legend, its table with caption and row headings.
  const charts = await page.$$eval('section.chart', (ss) => ss.map((s) => ({
    id: s.dataset.chart,
    heading: s.querySelector('h2').textContent,
    imgs: s.querySelectorAll('svg[role="img"][aria-label]').length,
    legend: [...s.querySelectorAll('.chart-legend li > span')].map((x) => x.textContent),
    caption: s.querySelector('table caption')?.textContent,
    rowHeads: s.querySelectorAll('tbody th[scope="row"]').length,
  })));
  assert.deepEqual(charts.map((c) => [c.id, c.heading, c.imgs]), [
    ['days', '日別の予約・完了・不在', 1],
    ['waits', '日別の待ち時間', 1],
    ['hours', '受付時刻別の待ち時間', 1],
    ['walkins', '日別の当日の方と予約', 1],
  ]);
  assert.deepEqual(charts[0].legend, ['予約', '完了', '不在', '灰色の帯と「–」: 数値のない日・時間帯']);
  assert.deepEqual(charts[1].legend, ['中央値', '90パーセンタイル', '灰色の帯と「–」: 数値のない日・時間帯']);
  assert.deepEqual(charts[2].legend, ['中央値', '90パーセンタイル'], 'no hour between 9 and 10 without calls: no gap to explain');
  assert.equal(charts[0].caption, '「日別の予約・完了・不在」の数値');
  // A row per day with figures, per run of days without (of one kind), per hour.
  assert.deepEqual(charts.map((c) => c.rowHeads), [4, 4, 2, 4]);

  // (a) by day, all procedures added: the 12th's and the 13th's bars; the other 29 days are gaps.
  assert.deepEqual(await marks(page, 'days', 'booked'), { [DAY]: 3, [NEXT_DAY]: 1 });
  assert.deepEqual(await marks(page, 'days', 'completed'), { [DAY]: 1, [NEXT_DAY]: 0 });
  assert.deepEqual(await marks(page, 'days', 'no_show'), { [DAY]: 1, [NEXT_DAY]: 0 });
  assert.equal(await page.locator('svg[data-chart="days"] [data-gap]').count(), 29);
  assert.deepEqual(await rowText(page, 'days', DAY), ['1月12日(火)', '3', '1', '1']);
  assert.deepEqual(await rowText(page, 'days', '2026-12-15'), ['12月15日(火)〜1月11日(月)', '記録なし(予約・来庁なし)(28日間)']);
  assert.deepEqual(await rowText(page, 'days', '2027-01-14'), ['1月14日(木)', '未集計'], "today's figures are not counted yet");
  const daysLabel = await page.getAttribute('svg[data-chart="days"]', 'aria-label');
  assert.match(daysLabel, /予約 計4件、完了 計1件、不在 計1件。予約が最も多い日: 1月12日\(火\) 3件。数値のない日: 29日。/);

  // (b) waits by day, of everyone called whatever the procedure: the 12th's four waits sorted
  // are 8, 12, 20 and 30 minutes, so the median (the 2nd of 4, nearest rank) is 12 and the 90th
  // percentile (the 4th of 4) is 30; the 13th called nobody.
  assert.deepEqual(await marks(page, 'waits', 'p50'), { [DAY]: 12 });
  assert.deepEqual(await marks(page, 'waits', 'p90'), { [DAY]: 30 });
  assert.deepEqual(await page.$$eval('[data-testid="chart-waits-table"] thead th', (ths) => ths.map((x) => x.textContent)),
    ['日付', '呼出人数', '中央値', '90パーセンタイル']);
  assert.deepEqual(await rowText(page, 'waits', DAY), ['1月12日(火)', '4', '12分', '30分']);
  assert.deepEqual(await rowText(page, 'waits', NEXT_DAY), ['1月13日(水)', '呼出なし']);
  assert.match(await page.getAttribute('svg[data-chart="waits"]', 'aria-label'),
    /日別の待ち時間\(呼び出したすべての方\)、呼出 計4人。中央値が最も長い日: 1月12日\(火\) 12分。90パーセンタイルが最も長い日: 1月12日\(火\) 30分。数値のない日: 30日。/);

  // (c) by the hour the ticket was taken: 9時台 three called (12, 20, 30 minutes), 10時台 one (8).
  assert.deepEqual(await marks(page, 'hours', 'p50'), { 9: 20, 10: 8 });
  assert.deepEqual(await marks(page, 'hours', 'p90'), { 9: 30, 10: 8 });
  assert.deepEqual(await page.$$eval('svg[data-chart="hours"] .axis-x text', (ts) => ts.map((x) => x.textContent)), ['9時', '10時', '受付した時刻']);
  assert.deepEqual(await page.$$eval('svg[data-chart="hours"] [data-series="p50"] text.value', (ts) => ts.map((x) => x.textContent)), ['20', '8'], 'each bar says its value');
  assert.deepEqual(await rowText(page, 'hours', '9'), ['9時台', '3', '20分', '30分']);
  assert.deepEqual(await rowText(page, 'hours', '10'), ['10時台', '1', '8分', '8分']);
  assert.match(await page.getAttribute('svg[data-chart="hours"]', 'aria-label'),
    /9時台から10時台まで、呼出 計4人。中央値が最も長い時間帯: 9時台 20分。90パーセンタイルが最も長い時間帯: 9時台 30分。/);

  // (d) walk-ins against bookings.
  assert.deepEqual(await marks(page, 'walkins', 'walk_ins'), { [DAY]: 2, [NEXT_DAY]: 0 });
  assert.deepEqual(await marks(page, 'walkins', 'booked'), { [DAY]: 3, [NEXT_DAY]: 1 });
  assert.deepEqual(await rowText(page, 'walkins', DAY), ['1月12日(火)', '2', '3']);

  await assertAccessible(page, 'the statistics charts');
  await screenshot(page, 'staff-admin-stats-charts');
  for (const id of ['days', 'waits', 'hours', 'walkins']) await screenshot(page, `staff-admin-stats-chart-${id}`, { element: `section[data-chart="${id}"]` });

  // A phone's width (320 px, as WCAG's reflow asks): the table goes under its chart, the chart is drawn narrower, nothing scrolls sideways.
  await page.setViewportSize({ width: 320, height: 720 });
  await page.waitForFunction(() => Number(document.querySelector('svg[data-chart="days"]').getAttribute('width')) < 320);
  const layout = await page.evaluate(() => {
    const svg = document.querySelector('svg[data-chart="hours"]').getBoundingClientRect();
    const table = document.querySelector('[data-testid="chart-hours-table"]').getBoundingClientRect();
    return { overflow: document.documentElement.scrollWidth - document.documentElement.clientWidth, below: table.top >= svg.bottom };
  });
  assert.equal(layout.overflow, 0, 'no sideways scrolling');
  assert.equal(layout.below, true, 'the table is under its chart');
  assert.deepEqual(await marks(page, 'hours', 'p50'), { 9: 20, 10: 8 }, 'drawn again, the same figures');
  await assertAccessible(page, 'the statistics charts on a narrow screen');
  await screenshot(page, 'staff-admin-stats-charts-narrow');

  // In English, from the switch in the header.
  await page.setViewportSize({ width: 1280, height: 900 });
  await Promise.all([page.waitForURL(/[?&]lang=en/), page.click('#lang-switch')]);
  await page.waitForSelector('#nav:not([hidden])');
  await page.click('a[data-section="admin/stats"]');
  await guard(page, 'charts-en', () => page.waitForSelector('svg[data-chart="hours"] [data-series="p50"] rect.bar'));
  assert.equal(await page.textContent('#ch-hours-h'), 'Waiting time by the hour of arrival');
  assert.deepEqual(await rowText(page, 'hours', '9'), ['9:00–9:59', '3', '20 min', '30 min']);
  assert.match(await page.getAttribute('svg[data-chart="hours"]', 'aria-label'), /Longest median: 9:00–9:59, 20 min\./);
  assert.match(await page.getAttribute('svg[data-chart="waits"]', 'aria-label'), /4 called in all\. Longest median: .+, 12 min\. Longest 90th percentile: .+, 30 min\./);
  await assertAccessible(page, 'the statistics charts in English');
  await screenshot(page, 'staff-admin-stats-charts-en');

  // On paper: no console header, each chart whole within its card and its table under it.
  await page.emulateMedia({ media: 'print' });
  const printed = await page.evaluate(() => ({
    header: getComputedStyle(document.querySelector('.staff-header')).display,
    charts: [...document.querySelectorAll('section.chart')].map((s) => {
      const card = s.getBoundingClientRect();
      const svg = s.querySelector('svg.chart-svg')?.getBoundingClientRect();
      const table = s.querySelector('table')?.getBoundingClientRect();
      return !!svg && svg.left >= card.left && svg.right <= card.right + 0.5 && table.top >= svg.bottom;
    }),
  }));
  assert.deepEqual(printed, { header: 'none', charts: [true, true, true, true] });
  // (Not through screenshot(): the switch to print moves the page, and that is the test's doing.)
  await page.screenshot({ path: path.join(env.artifacts, 'staff-admin-stats-charts-print.png'), fullPage: true });

  page.assertClean();
  await page.close();
});
