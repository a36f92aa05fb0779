// /accessibility: the accessibility statement in the form JIS X 8341-3:2016 asks a public body
// to publish (the standard and the level, the pages covered, the date, the method and tools, the
// results), read from web/assets/accessibility.json, which scripts/browser-test writes from a
// whole passing run of the browser tests (and refuses to leave stale).

import { api } from '../lib/api.js';
import { h, $, replace } from '../lib/dom.js';
import { initPage } from '../lib/resident.js';

const t = initPage();

async function main() {
  let s;
  try {
    s = await api('/assets/accessibility.json');
  } catch {
    $('#a11y-status').textContent = t('a11y.missing');
    return;
  }
  $('#a11y-status').hidden = true;
  const row = (k, ...v) => h('div', null, h('dt', null, t(k)), h('dd', null, ...v));
  // The tests' own names, tools and rules are in English: marked so, for a screen reader.
  const list = (items, lang) => h('ul', { lang }, items.map((x) => h('li', null, x)));
  replace($('#a11y'),
    h('p', null, t('a11y.lead', { level: s.target_level, standard: s.standard })),
    h('dl', { class: 'summary' },
      row('a11y.standard', `${s.standard}`),
      row('a11y.level', t('a11y.levelValue', { level: s.target_level })),
      row('a11y.date', s.tested_on),
      row('a11y.build', h('code', null, s.build)),
      row('a11y.pages', list(s.pages)),
      row('a11y.method', t('a11y.methodValue'), h('br'), h('span', { lang: 'en' }, s.rules)),
      row('a11y.tools', list(s.tools, 'en')),
      row('a11y.result', h('strong', { 'data-testid': 'a11y-result' }, t('a11y.resultValue', {
        states: s.checks.length, passed: s.result.tests_passed, failed: s.result.tests_failed, violations: s.result.axe_violations,
      })))),
    h('h2', null, t('a11y.checks', { n: s.checks.length })),
    t.lang === 'en' ? null : h('p', { class: 'hint' }, t('a11y.checksEnglish')),
    list(s.checks, 'en'),
    h('h2', null, t('a11y.manual')),
    h('p', null, t('a11y.manualBody')));
}

main();
