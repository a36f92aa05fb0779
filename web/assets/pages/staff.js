// The staff console shell: sign-in (token in sessionStorage, signed out on 401), the menus of
// the signed-in role, the counter being worked on, and a hash router over the sections.

import { api, setApiLang, setAuthToken } from '../lib/api.js';
import * as endpoints from '../lib/endpoints.js';
import { h, $, replace, busy, store } from '../lib/dom.js';
import { pickLang, makeT, applyI18n, langHref } from '../lib/i18n.js';
import { STAFF } from '../i18n/staff.js';
import { showProblem, clearProblems } from '../lib/problem.js';

const TOKEN_KEY = 'madoguchi.staff.token';
const COUNTER_KEY = 'madoguchi.staff.counter';

const lang = pickLang('madoguchi.staff.lang');
const t = makeT(STAFF, lang);
setApiLang(lang);
applyI18n(t);

// Section: [hash, label key, roles, loader]
const SECTIONS = [
  ['phone', 'nav.phone', ['phone', 'admin'], () => import('./staff-phone.js')],
  ['search', 'nav.search', ['phone', 'desk', 'admin'], () => import('./staff-search.js')],
  ['desk', 'nav.desk', ['desk', 'admin'], () => import('./staff-desk.js')],
  ['admin/slots', 'nav.slots', ['admin'], () => import('./staff-admin.js').then((m) => ({ mount: m.mountSlots }))],
  ['admin/closures', 'nav.closures', ['admin'], () => import('./staff-admin.js').then((m) => ({ mount: m.mountClosures }))],
  ['admin/staff', 'nav.staff', ['admin'], () => import('./staff-admin.js').then((m) => ({ mount: m.mountStaff }))],
  ['admin/outbox', 'nav.outbox', ['admin'], () => import('./staff-admin.js').then((m) => ({ mount: m.mountOutbox }))],
  ['admin/audit', 'nav.audit', ['admin'], () => import('./staff-admin.js').then((m) => ({ mount: m.mountAudit }))],
  ['admin/stats', 'nav.stats', ['admin'], () => import('./staff-admin.js').then((m) => ({ mount: m.mountStats }))],
  ['admin/jobs', 'nav.jobs', ['admin'], () => import('./staff-admin.js').then((m) => ({ mount: m.mountJobs }))],
];

const ctx = {
  t,
  lang,
  user: null,
  counters: [],
  procedures: [],
  counter: null,
  toast,
  /** Called by sections that depend on the counter. */
  onCounterChange: null,
};

let unmount = null;
let available = [];
let toastTimer = null;

function toast(message, bad = false) {
  const el = $('#toast');
  el.textContent = message;
  el.className = 'toast show' + (bad ? ' bad' : '');
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => { el.className = 'toast'; }, bad ? 7000 : 4000);
}

function token() {
  try { return sessionStorage.getItem(TOKEN_KEY); } catch { return null; }
}
function setToken(v) {
  try {
    if (v) sessionStorage.setItem(TOKEN_KEY, v); else sessionStorage.removeItem(TOKEN_KEY);
  } catch { /* ignore */ }
  setAuthToken(v, () => signedOut('login.expired'));
}

function setLangLinks() {
  for (const id of ['#lang-switch', '#lang-switch-out']) {
    const a = $(id);
    const other = lang === 'en' ? 'ja' : 'en';
    a.href = langHref(other);
    a.lang = other;
    a.setAttribute('aria-label', t('switchLabel'));
  }
}

function showLogin(messageKey) {
  if (unmount) { try { unmount(); } catch { /* ignore */ } unmount = null; }
  replace($('#view'));
  $('#boot').hidden = true;
  $('#who').hidden = true;
  $('#nav').hidden = true;
  $('#lang-switch-out').hidden = false;
  $('#login-view').hidden = false;
  const msg = $('#login-message');
  msg.hidden = !messageKey;
  msg.textContent = messageKey ? t(messageKey) : '';
  $('#f-password').value = '';
  $(messageKey ? '#f-login' : '#f-login').focus();
  document.title = t('login.h') + ' | ' + t('title');
}

function signedOut(messageKey) {
  setToken(null);
  ctx.user = null;
  showLogin(messageKey);
}

async function login(e) {
  e.preventDefault();
  const form = $('#login-form');
  const summary = $('#login-summary');
  const body = { login: $('#f-login').value.trim(), password: $('#f-password').value };
  await busy($('#login-submit'), async () => {
    try {
      const s = await api(endpoints.staffSessions(), { method: 'POST', body, auth: false });
      clearProblems(form, summary);
      setToken(s.token);
      await start();
    } catch (p) {
      showProblem(p, { form, summary, lang, labels: { login: t('login.login'), password: t('login.password') } });
      $('#f-password').value = '';
    }
  });
}

async function logout() {
  try { await api(endpoints.staffCurrentSession(), { method: 'DELETE' }); } catch { /* gone already */ }
  signedOut('login.out');
}

async function start() {
  if (!token()) { showLogin(null); return; }
  setToken(token());
  let me;
  try {
    const [who, c, p] = await Promise.all([
      api(endpoints.staffCurrentSession()),
      api(endpoints.counters()),
      api(endpoints.procedures()),
    ]);
    me = who;
    ctx.counters = c.counters;
    ctx.procedures = p.procedures;
  } catch (p) {
    if (p.status === 401) { signedOut(null); return; }
    $('#boot').hidden = false;
    $('#boot').className = 'notice danger';
    $('#boot').textContent = p.title || p.message;
    return;
  }
  ctx.user = me;
  $('#login-view').hidden = true;
  $('#boot').hidden = true;
  $('#lang-switch-out').hidden = true;
  $('#who').hidden = false;
  $('#who-name').textContent = `${me.display_name}(${t('role.' + me.role)})`;
  const saved = store.get(COUNTER_KEY);
  ctx.counter = ctx.counters.find((c) => c.id === saved) ? saved : ctx.counters[0].id;
  const sel = $('#counter-select');
  replace(sel, ctx.counters.map((c) => h('option', { value: c.id, selected: c.id === ctx.counter }, lang === 'en' && c.name_en ? c.name_en : c.name)));
  available = SECTIONS.filter((s) => s[2].includes(me.role));
  renderNav();
  $('#nav').hidden = false;
  route();
}

function renderNav() {
  const list = $('#nav-list');
  const items = [];
  let adminStarted = false;
  for (const [hash, key] of available) {
    if (hash.startsWith('admin/') && !adminStarted) {
      adminStarted = true;
      items.push(h('li', { class: 'sep', 'aria-hidden': 'true' }));
    }
    items.push(h('li', null, h('a', { href: '#/' + hash, 'data-section': hash }, t(key))));
  }
  replace(list, items);
}

async function route() {
  if (!ctx.user) return;
  const want = location.hash.replace(/^#\/?/, '');
  const section = available.find((s) => s[0] === want) || available[0];
  if (!section) return;
  if (section[0] !== want) {
    history.replaceState(null, '', '#/' + section[0]);
  }
  for (const a of $('#nav-list').querySelectorAll('a')) {
    if (a.dataset.section === section[0]) a.setAttribute('aria-current', 'page'); else a.removeAttribute('aria-current');
  }
  if (unmount) { try { unmount(); } catch { /* ignore */ } unmount = null; }
  ctx.onCounterChange = null;
  const view = $('#view');
  replace(view, h('p', { class: 'loading' }, t('loading')));
  const mod = await section[3]();
  replace(view);
  document.title = `${t(section[1])} | ${t('title')}`;
  unmount = (await mod.mount(view, ctx)) || null;
  const heading = view.querySelector('h1');
  if (heading && !view.contains(document.activeElement)) {
    heading.setAttribute('tabindex', '-1');
    heading.focus({ preventScroll: true });
  }
}

$('#login-form').addEventListener('submit', login);
$('#logout').addEventListener('click', logout);
$('#counter-select').addEventListener('change', (e) => {
  ctx.counter = e.target.value;
  store.set(COUNTER_KEY, ctx.counter);
  if (ctx.onCounterChange) ctx.onCounterChange(ctx.counter);
});
window.addEventListener('hashchange', route);
setLangLinks();
start();
