// The staff console shell: sign-in (token in sessionStorage, signed out on 401 with a word on
// why), a second factor asked for when the account has one, the set-up screen alone while the
// role must still set one up, the menus of the signed-in role, the counter being worked on, one's
// own account, and a hash router over the sections. A kiosk's account has no sections here: it is
// shown the way to its own page (/kiosk/{counter}), and sign-out.

import { api, setApiLang, setAuthToken } from '../lib/api.js';
import * as endpoints from '../lib/endpoints.js';
import { h, $, replace, busy, store } from '../lib/dom.js';
import { pickLang, makeT, applyI18n, langHref } from '../lib/i18n.js';
import { STAFF } from '../i18n/staff.js';
import { showProblem, clearProblems } from '../lib/problem.js';
import { closeAll as closeDialogs } from '../lib/dialog.js';

const TOKEN_KEY = 'madoguchi.staff.token';
/** Where the kiosk's page (pages/kiosk.js) keeps its token, in the same tab's sessionStorage. */
const KIOSK_TOKEN_KEY = 'madoguchi.kiosk.token';
const COUNTER_KEY = 'madoguchi.staff.counter';

const lang = pickLang('madoguchi.staff.lang');
const t = makeT(STAFF, lang);
setApiLang(lang);
applyI18n(t);

const ALL_ROLES = ['phone', 'desk', 'admin'];
const account = () => import('./staff-account.js');

// Section: [hash, label key, roles, loader, in the menu (default true)]
const SECTIONS = [
  ['phone', 'nav.phone', ['phone', 'admin'], () => import('./staff-phone.js')],
  ['search', 'nav.search', ['phone', 'desk', 'admin'], () => import('./staff-search.js')],
  ['desk', 'nav.desk', ['desk', 'admin'], () => import('./staff-desk.js')],
  ['admin/slots', 'nav.slots', ['admin'], () => import('./staff-admin.js').then((m) => ({ mount: m.mountSlots }))],
  ['admin/closures', 'nav.closures', ['admin'], () => import('./staff-admin.js').then((m) => ({ mount: m.mountClosures }))],
  ['admin/lotteries', 'nav.lotteries', ['admin'], () => import('./staff-admin.js').then((m) => ({ mount: m.mountLotteries }))],
  ['admin/staff', 'nav.staff', ['admin'], () => import('./staff-admin.js').then((m) => ({ mount: m.mountStaff }))],
  ['admin/outbox', 'nav.outbox', ['admin'], () => import('./staff-admin.js').then((m) => ({ mount: m.mountOutbox }))],
  ['admin/audit', 'nav.audit', ['admin'], () => import('./staff-admin.js').then((m) => ({ mount: m.mountAudit }))],
  ['admin/stats', 'nav.stats', ['admin'], () => import('./staff-admin.js').then((m) => ({ mount: m.mountStats }))],
  ['admin/jobs', 'nav.jobs', ['admin'], () => import('./staff-admin.js').then((m) => ({ mount: m.mountJobs }))],
  // One's own account: the link beside the name in the header, not the menu.
  ['account', 'account.h', ALL_ROLES, account, false],
  ['account/totp', 'enrol.h', ALL_ROLES, () => account().then((m) => ({ mount: m.mountEnrol })), false],
];
/** Where a role lands after signing in, when no section is asked for. */
const HOME = { phone: 'phone', desk: 'desk', admin: 'phone' };

/** The set-up screen, alone, while the role must set up a second factor first. */
const ENROL_ONLY = SECTIONS.find((s) => s[0] === 'account/totp');

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
  /** After an authenticator is set up: the console again, as the session now allows. */
  afterEnrolment,
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
  // A 401 mid-work: the session ended (idle past staff.idle_minutes, its lifetime over, or
  // ended by a password change, a second factor set up or removed, or a sign-in elsewhere).
  setAuthToken(v, () => signedOut('login.expired', 'warn'));
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

/** The line above the sign-in form (role=status): a key of the words, or null for none. */
function loginMessage(key, kind = '') {
  const msg = $('#login-message');
  msg.hidden = !key;
  msg.className = 'notice' + (kind ? ' ' + kind : '');
  msg.textContent = key ? t(key) : '';
}

/** Shows or hides the code field of the sign-in (an account with a second factor). */
function askCode(on) {
  $('#f-totp-field').hidden = !on;
  if (!on) {
    $('#f-totp').value = '';
    codeKind('app');
  }
}

/** The code field takes the app's six digits (a number pad on a phone) or a recovery code. */
function codeKind(kind) {
  const input = $('#f-totp');
  const button = $('#f-totp-kind');
  const recovery = kind === 'recovery';
  input.setAttribute('inputmode', recovery ? 'text' : 'numeric');
  input.setAttribute('autocomplete', recovery ? 'off' : 'one-time-code');
  button.dataset.kind = kind;
  button.textContent = t(recovery ? 'login.totp.useApp' : 'login.totp.useRecovery');
}

function showLogin(messageKey, kind = '') {
  closeDialogs();
  if (unmount) { try { unmount(); } catch { /* ignore */ } unmount = null; }
  replace($('#view'));
  $('#boot').hidden = true;
  $('#who').hidden = true;
  $('#nav').hidden = true;
  $('#lang-switch-out').hidden = false;
  $('#login-view').hidden = false;
  clearProblems($('#login-form'), $('#login-summary'));
  loginMessage(messageKey, kind);
  $('#f-password').value = '';
  askCode(false);
  // The login stays filled in after a sign-out: the password is what is typed next.
  ($('#f-login').value ? $('#f-password') : $('#f-login')).focus();
  document.title = t('login.h') + ' | ' + t('title');
}

function signedOut(messageKey, kind = '') {
  setToken(null);
  ctx.user = null;
  showLogin(messageKey, kind);
}

async function login(e) {
  e.preventDefault();
  const form = $('#login-form');
  const summary = $('#login-summary');
  const labels = { login: t('login.login'), password: t('login.password'), totp: t('login.totp') };
  const body = { login: $('#f-login').value.trim(), password: $('#f-password').value };
  const asking = !$('#f-totp-field').hidden;
  if (asking) {
    body.totp = $('#f-totp').value.trim();
    if (!body.totp) {
      showProblem({ status: 422, errors: [{ field: 'totp', code: 'required' }] }, { form, summary, lang, labels });
      return;
    }
  }
  await busy($('#login-submit'), async () => {
    try {
      const s = await api(endpoints.staffSessions(), { method: 'POST', body, auth: false });
      clearProblems(form, summary);
      loginMessage(null);
      askCode(false);
      $('#f-password').value = '';
      setToken(s.token);
      await start();
    } catch (p) {
      if (p.code === 'second_factor_required' && !asking) {
        // The right password of an account with a second factor: the code next, the login and
        // the password kept.
        clearProblems(form, summary);
        askCode(true);
        loginMessage('login.totp.ask');
        $('#f-totp').focus();
        return;
      }
      if (p.code === 'second_factor_required') {
        // A wrong code, or one used already (a step seen before, a spent recovery code).
        $('#f-totp').value = '';
        showProblem({ ...p, errors: [{ field: 'totp', code: 'code_refused', message: t('login.totp.wrong') }] }, { form, summary, lang, labels });
        return;
      }
      if (p.code === 'rate_limited') {
        const wait = p.retryAfter;
        const extra = wait ? [wait >= 120 ? t('login.rateLimited.m', { n: Math.ceil(wait / 60) }) : t('login.rateLimited.s', { n: wait })] : [];
        showProblem({ ...p, title: t('login.rateLimited.h'), detail: '', retryAfter: null }, { form, summary, lang, extra });
      } else {
        const extra = p.code === 'network_not_allowed' ? [t('login.network')] : [];
        showProblem(p, { form, summary, lang, labels, extra });
      }
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
    // A token kept in this tab that no longer works (it ended while the tab was away).
    if (p.status === 401) { signedOut('login.expired', 'warn'); return; }
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
  if (me.must_enrol_totp) {
    // Until the second factor is set up, the server allows nothing else: the set-up screen
    // alone (and signing out), whatever the address asks for.
    available = [];
    replace($('#nav-list'));
    $('#nav').hidden = true;
    $('.counter-pick').hidden = true;
    $('#account-link').hidden = true;
    await mountSection(ENROL_ONLY);
    return;
  }
  if (me.role === 'kiosk') {
    available = [];
    replace($('#nav-list'));
    $('#nav').hidden = true;
    $('.counter-pick').hidden = true;
    $('#account-link').hidden = true;
    showKiosk(me);
    return;
  }
  $('.counter-pick').hidden = false;
  $('#account-link').hidden = false;
  const saved = store.get(COUNTER_KEY);
  ctx.counter = ctx.counters.find((c) => c.id === saved) ? saved : ctx.counters[0].id;
  const sel = $('#counter-select');
  replace(sel, ctx.counters.map((c) => h('option', { value: c.id, selected: c.id === ctx.counter }, lang === 'en' && c.name_en ? c.name_en : c.name)));
  available = SECTIONS.filter((s) => s[2].includes(me.role));
  renderNav();
  $('#nav').hidden = false;
  route();
}

/** A kiosk's page, the address its terminal opens (a page of the site, not the API). */
const kioskPath = (counter) => `/kiosk/${encodeURIComponent(counter)}`;

/**
 * A kiosk's account signed in to the console: no menus and no sections (the server allows it
 * nothing of them), but what it is, the way to its page and sign-out.
 */
function showKiosk(me) {
  closeDialogs();
  if (unmount) { try { unmount(); } catch { /* ignore */ } unmount = null; }
  ctx.onCounterChange = null;
  const c = me.counter ? ctx.counters.find((x) => x.id === me.counter) : null;
  const name = c ? (lang === 'en' && c.name_en ? c.name_en : c.name) : me.counter;
  const view = $('#view');
  replace(view, h('section', { class: 'card', 'aria-labelledby': 'kiosk-h', 'data-testid': 'kiosk-notice' },
    h('h1', { id: 'kiosk-h', tabindex: '-1' }, t('kiosk.h')),
    me.counter
      ? [
        h('p', null, t('kiosk.body', { counter: name })),
        h('p', null, h('a', { href: kioskPath(me.counter), class: 'btn', 'data-testid': 'kiosk-page-link', onclick: handOver }, t('kiosk.open'))),
        h('p', { class: 'hint' }, t('kiosk.address'), ' ', h('span', { 'data-testid': 'kiosk-address' }, location.origin + kioskPath(me.counter))),
      ]
      : h('p', { class: 'notice warn' }, t('kiosk.noCounter')),
    h('p', null, t('kiosk.other')),
    h('div', { class: 'actions' }, h('button', { type: 'button', class: 'btn secondary', 'data-action': 'sign-out', onclick: logout }, t('logout')))));
  document.title = `${t('kiosk.h')} | ${t('title')}`;
  view.querySelector('h1').focus({ preventScroll: true });
}

/**
 * The link followed in this tab hands the session over to the kiosk's page (which keeps its
 * token under its own key in the tab's sessionStorage): the terminal is ready without a second
 * sign-in, and no console session of the kiosk is left behind in the tab. A new tab or window
 * (a modified click) is left to sign in there.
 */
function handOver(e) {
  if (e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || e.altKey) return;
  const current = token();
  if (!current) return;
  try {
    sessionStorage.setItem(KIOSK_TOKEN_KEY, current);
    sessionStorage.removeItem(TOKEN_KEY);
  } catch { /* the kiosk's page asks for a sign-in */ }
}

function renderNav() {
  const list = $('#nav-list');
  const items = [];
  let adminStarted = false;
  for (const [hash, key, , , inMenu = true] of available) {
    if (!inMenu) continue;
    if (hash.startsWith('admin/') && !adminStarted) {
      adminStarted = true;
      items.push(h('li', { class: 'sep', 'aria-hidden': 'true' }));
    }
    items.push(h('li', null, h('a', { href: '#/' + hash, 'data-section': hash }, t(key))));
  }
  replace(list, items);
}

async function route() {
  if (!ctx.user || ctx.user.must_enrol_totp) return;
  const want = location.hash.replace(/^#\/?/, '');
  // Without a section asked for, each role starts where its work is (the desk at 受付・呼出).
  const home = HOME[ctx.user.role];
  const section = available.find((s) => s[0] === want)
    || available.find((s) => s[0] === home)
    || available[0];
  if (!section) return;
  if (section[0] !== want) {
    history.replaceState(null, '', '#/' + section[0]);
  }
  await mountSection(section);
}

async function mountSection(section) {
  for (const a of [...$('#nav-list').querySelectorAll('a'), $('#account-link')]) {
    const here = a.dataset.section === section[0] || (a.id === 'account-link' && section[0].startsWith('account'));
    if (here) a.setAttribute('aria-current', 'page'); else a.removeAttribute('aria-current');
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

/** The set-up screen's last step: the console as the session now allows (its menus). */
async function afterEnrolment() {
  if (location.hash.replace(/^#\/?/, '') === 'account/totp') history.replaceState(null, '', '#/account');
  await start();
}

$('#login-form').addEventListener('submit', login);
// Another login is another account: its code is asked for when it has one.
$('#f-login').addEventListener('input', () => { if (!$('#f-totp-field').hidden) { askCode(false); loginMessage(null); } });
$('#f-totp-kind').addEventListener('click', () => {
  codeKind($('#f-totp-kind').dataset.kind === 'recovery' ? 'app' : 'recovery');
  $('#f-totp').focus();
});
$('#logout').addEventListener('click', logout);
$('#counter-select').addEventListener('change', (e) => {
  ctx.counter = e.target.value;
  store.set(COUNTER_KEY, ctx.counter);
  if (ctx.onCounterChange) ctx.onCounterChange(ctx.counter);
});
window.addEventListener('hashchange', route);
setLangLinks();
start();
