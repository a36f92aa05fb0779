// The waiting-room screen recovers by itself from a dropped connection: a private server is
// killed (the stream breaks), the browser's own retry is refused (so the page gives up on that
// EventSource and rebuilds it, resuming with ?last_event_id= after the last call it showed), the
// screen says it is reconnecting, the server comes back, and a call made afterwards reaches the
// screen; calls it already showed are not shown twice.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { launch, watchedPage, startServer, apiCall, screenshot } from '../lib/harness.js';

let server;
let browser;

before(async () => {
  browser = await launch({ viewport: { width: 1280, height: 720 } });
  server = await startServer({ clockStart: '2027-01-12T10:00:00+09:00' });
  await server.staffAdd('screenadmin', 'admin', 'a-long-screen-password');
});
after(async () => {
  if (browser) await browser.close();
  if (server) await server.stop();
});

async function walkInAndCall(desk) {
  const login = await apiCall('POST', '/api/v1/staff/sessions', { base: server.url, body: { login: 'screenadmin', password: 'a-long-screen-password' } });
  const token = login.data.token;
  const w = await apiCall('POST', '/api/v1/desk/city-hall/walk-ins', { base: server.url, token, body: {} });
  assert.equal(w.status, 201);
  const c = await apiCall('POST', '/api/v1/desk/city-hall/calls', { base: server.url, token, body: { desk } });
  assert.equal(c.status, 200);
  return c.data.ticket;
}

test('the screen reconnects after the server drops and shows the next call', async () => {
  const first = await walkInAndCall('1');
  const page = await watchedPage(browser.context);
  await page.goto(server.url + '/display/city-hall');
  await page.waitForSelector(`#latest[data-ticket="${first}"]`);
  assert.equal(await page.getAttribute('#conn', 'data-state'), 'open');

  // The browser's own retry gets a 503: its EventSource closes for good and the page rebuilds it.
  const streams = [];
  page.on('request', (r) => { if (r.url().includes('/display')) streams.push(r.url()); });
  await page.route('**/api/v1/desk/city-hall/display*', (route) => route.fulfill({ status: 503, contentType: 'text/plain', body: 'down' }), { times: 1 });
  await server.crash();
  await page.waitForSelector('#conn[data-state="reconnecting"]', { timeout: 8000 });
  assert.match(await page.textContent('#conn'), /再接続中/);
  await screenshot(page, 'display-reconnecting', { fullPage: false });

  await server.restart();
  await page.waitForSelector('#conn[data-state="open"]', { state: 'attached', timeout: 20000 });
  assert.ok(streams.some((u) => /[?&]last_event_id=[1-9]\d*$/.test(u)), `the rebuilt stream resumes after the last call (${streams.join(' ')})`);
  const second = await walkInAndCall('2');
  await page.waitForSelector(`#latest[data-ticket="${second}"]`, { timeout: 8000 });
  assert.equal(await page.textContent('#latest-desk'), '2');
  assert.equal(await page.locator(`#recent li[data-ticket="${first}"]`).count(), 1, 'the earlier call is kept once');
  assert.equal(await page.locator('#recent li').count(), 1, 'nothing is shown twice');
});
