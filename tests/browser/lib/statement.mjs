// The accessibility statement (/accessibility), made from a browser-test run: what was tested
// (every page and state axe-core checked, the keyboard-only booking, 320 px and 200 % text), with
// which tools, on which build, and the result. scripts/browser-test runs this after a whole,
// passing run:
//   node tests/browser/lib/statement.mjs ARTIFACTS OUT.json
// and fails when the published statement (web/assets/accessibility.json) lists other checks
// than the run made: a statement that no longer describes the tests is stale.

import fs from 'node:fs';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const [artifacts, out] = process.argv.slice(2);
const runs = fs.readFileSync(path.join(artifacts, 'axe-runs.tsv'), 'utf8').trim().split('\n')
  .map((l) => l.split('\t'));
const tap = fs.readFileSync(path.join(artifacts, 'results.tap'), 'utf8');
const count = (k) => Number((new RegExp(`^# ${k} (\\d+)`, 'm').exec(tap) || [])[1] || 0);
const tests = [...tap.matchAll(/^(?:not )?ok \d+ - (.+)$/gm)].map((m) => m[1]);
const chromium = execFileSync(process.env.CHROMIUM || '/usr/bin/chromium', ['--version']).toString().trim();
let commit = 'unknown';
// "-dirty": the run was made with changes not yet committed (as it is before they are).
try { commit = execFileSync('git', ['describe', '--always', '--dirty']).toString().trim(); } catch { /* not a clone */ }

const statement = {
  standard: 'JIS X 8341-3:2016',
  target_level: 'AA',
  rules: 'WCAG 2.1 Level A and AA success criteria as axe-core tests them, and axe-core best practices; every impact level fails',
  tested_on: new Date(Date.now() + 9 * 3600000).toISOString().slice(0, 10),
  build: commit,
  tools: [`axe-core ${require('axe-core/package.json').version}`, chromium, `Playwright ${require('playwright-core/package.json').version}`],
  pages: [...new Set(runs.map(([p]) => p.replace(/\/[A-Za-z0-9_-]{20,}$/, '/…')))].sort(),
  checks: [...new Set(runs.map(([, label]) => label))].sort(),
  keyboard: tests.filter((t) => /keyboard alone/.test(t)),
  reflow: tests.filter((t) => /320 px|200 %/.test(t)),
  result: { tests_passed: count('pass'), tests_failed: count('fail'), axe_violations: 0 },
};
fs.writeFileSync(out, JSON.stringify(statement, null, 2) + '\n');
console.log(`accessibility statement: ${statement.checks.length} page states, ${statement.pages.length} pages, ${statement.result.tests_passed} tests passed`);
