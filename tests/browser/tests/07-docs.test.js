// /docs: the API reference renders from the binary alone (no CDN, no outside request) and
// describes the routes of /api/openapi.json.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { env, launch, watchedPage, screenshot } from '../lib/harness.js';

let browser;

before(async () => { browser = await launch({ viewport: { width: 1280, height: 900 } }); });
after(async () => { if (browser) await browser.close(); });

test('/docs renders the generated spec offline', async () => {
  const page = await watchedPage(browser.context);
  const outside = [];
  const origin = new URL(env.url).origin;
  page.on('request', (r) => {
    const url = r.url();
    if (!url.startsWith('data:') && !url.startsWith('blob:') && new URL(url).origin !== origin) outside.push(url);
  });
  await page.goto(env.url + '/docs');
  await page.waitForSelector('.opblock-summary-path', { timeout: 20000 });
  const shown = await page.$$eval('.opblock', (els) => els.length);
  const spec = await (await fetch(env.url + '/api/openapi.json')).json();
  const operations = Object.values(spec.paths).reduce((n, item) => n + Object.keys(item).filter((k) => ['get', 'put', 'post', 'delete', 'patch'].includes(k)).length, 0);
  assert.equal(shown, operations, 'every operation of the spec is shown');
  assert.match(await page.textContent('body'), /\/api\/v1\/reservations/);
  assert.deepEqual(outside, [], 'nothing is loaded from another host');
  await screenshot(page, 'docs');
  page.assertClean();
  await page.close();
});
