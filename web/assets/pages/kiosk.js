// The self-service terminal of a counter (/kiosk/{counter}): a visitor with a booking checks in
// by the QR code of their confirmation (a USB scanner types it, ending with Enter, on any
// screen), by a camera where the browser reads QR codes (BarcodeDetector), or by typing the
// reservation number on the screen's pad; a visitor without one takes a ticket for a
// procedure (or "not sure"). Either way the ticket is shown in very large type and printed
// (lib/print.js). Every screen returns to the start by itself.
//
// Set up by the city's IT staff: they sign in with an account of the role `kiosk` made for
// this counter (kept in sessionStorage like the console's, so a closed browser is signed
// out). The account may only check in, issue tickets and print them at its own counter.
// Japanese first, English beneath, everywhere a visitor looks.

import { api, setApiLang, setAuthToken, serverClock } from '../lib/api.js';
import * as endpoints from '../lib/endpoints.js';
import { h, $, replace, busy } from '../lib/dom.js';
import { fmtClock, fmtDate } from '../lib/format.js';
import { showProblem, clearProblems } from '../lib/problem.js';
import { printTicket } from '../lib/print.js';
import { modal } from '../lib/dialog.js';
import { normaliseNumber } from './staff-desk.js';

const counter = decodeURIComponent(location.pathname.split('/').filter(Boolean)[1] || '');
const TOKEN_KEY = 'madoguchi.kiosk.token';
/** A ticket or a problem stays this long, then the start comes back. */
const RESULT_MS = 20000;
/** A screen left half-done (a number half typed) goes back to the start after this. */
const IDLE_MS = 60000;
/**
 * The characters of reservation numbers (the server's alphabet, src/reservations/numbers.rs:
 * no 0/O/Q/D, 1/I/L, 2/Z, 5/S, 8/B, 6/G, U/V): the pad's keys, digits first.
 */
const NUMBER_ALPHABET = 'ACEFHJKMNPRTWXY3479';
const PAD_KEYS = [...NUMBER_ALPHABET].sort((a, b) => (/\d/.test(a) === /\d/.test(b) ? a.localeCompare(b) : /\d/.test(a) ? -1 : 1));

setApiLang('ja');

const state = {
  me: null,
  counters: [],
  procedures: [],
  screen: 'boot', // setup, start, checkin, walkin, working, ticket, problem
};
let screenTimer = null;
let countdownTimer = null;
let idleTimer = null;
let camera = null; // { stream, timer } while the camera reads

/** Japanese, then English beneath it. */
const both = (ja, en) => [h('span', { class: 'ja' }, ja), h('span', { lang: 'en', class: 'en' }, en)];

// ---------- the session ----------

function token() {
  try { return sessionStorage.getItem(TOKEN_KEY); } catch { return null; }
}
function setToken(v) {
  try {
    if (v) sessionStorage.setItem(TOKEN_KEY, v); else sessionStorage.removeItem(TOKEN_KEY);
  } catch { /* ignore */ }
  setAuthToken(v, () => signedOut('expired'));
}

function signedOut(why) {
  setToken(null);
  state.me = null;
  showSetup(why);
}

const counterOf = (id) => state.counters.find((c) => c.id === id);
const counterName = (id, lang = 'ja') => {
  const c = counterOf(id);
  return c ? (lang === 'en' && c.name_en ? c.name_en : c.name) : id;
};

async function loadCatalogue() {
  const [c, p] = await Promise.all([api(endpoints.counters(), { auth: false }), api(endpoints.procedures(), { auth: false })]);
  state.counters = c.counters || [];
  state.procedures = p.procedures || [];
  const here = counterOf(counter);
  if (here) {
    $('#k-counter').textContent = here.name;
    $('#k-counter-en').textContent = here.name_en || 'My Number card counter';
    document.title = `受付端末 ${here.name} | マイナンバーカード特設窓口`;
  }
}

/** Whether the signed-in account is this counter's kiosk; otherwise the reason (words). */
function refusal(me) {
  if (me.role !== 'kiosk') {
    return [`このアカウントは受付端末用ではありません(役割: ${me.role})。役割「受付端末」(kiosk)のアカウントでログインしてください。`,
      `This account is not a kiosk account (its role is ${me.role}). Sign in with an account of the role kiosk.`];
  }
  if (me.counter !== counter) {
    return [`このアカウントは別の窓口(${counterName(me.counter)})の受付端末用です。この画面は ${counterName(counter)} の受付端末です。`,
      `This account is the kiosk of another counter (${counterName(me.counter, 'en')}); this screen is for ${counterName(counter, 'en')}.`];
  }
  return null;
}

async function begin() {
  try {
    await loadCatalogue();
  } catch (p) {
    bootProblem(p);
    return;
  }
  $('#k-boot').hidden = true;
  if (!counterOf(counter)) {
    showSetup(null, [`この窓口はありません: ${counter}。アドレス(/kiosk/窓口)を確かめてください。`, `There is no counter "${counter}". Check the address (/kiosk/counter).`]);
    return;
  }
  if (!token()) { showSetup(null); return; }
  setToken(token());
  try {
    const me = await api(endpoints.staffCurrentSession());
    const why = refusal(me);
    if (why) { await signOut(); showSetup(null, why); return; }
    state.me = me;
    showStart();
  } catch (p) {
    if (p.status === 401) return; // api() has shown the set-up screen (signedOut)
    bootProblem(p);
  }
}

function bootProblem(p) {
  const el = $('#k-boot');
  el.hidden = false;
  el.className = 'notice danger';
  replace(el, ...both(`準備できませんでした(${p.title || p.message})。自動でもう一度試します。`, 'The terminal could not get ready. It tries again by itself.'));
  setTimeout(begin, 10000);
}

async function signOut() {
  try { await api(endpoints.staffCurrentSession(), { method: 'DELETE' }); } catch { /* gone already */ }
  setToken(null);
  state.me = null;
}

// ---------- screens ----------

function clearTimers() {
  clearTimeout(screenTimer);
  clearInterval(countdownTimer);
  clearTimeout(idleTimer);
  screenTimer = countdownTimer = idleTimer = null;
}

/** Shows a screen: its content replaces the view, its heading takes the focus. */
function show(name, ...content) {
  stopCamera();
  clearTimers();
  state.screen = name;
  const view = $('#k-view');
  view.dataset.screen = name;
  replace(view, ...content);
  const focus = view.querySelector('[data-autofocus]') || view.querySelector('h1');
  if (focus) {
    if (focus.tagName === 'H1') focus.setAttribute('tabindex', '-1');
    focus.focus({ preventScroll: true });
  }
  window.scrollTo(0, 0);
  if (name === 'checkin' || name === 'walkin') idle();
}

/** Back to the start after IDLE_MS without a touch (a half-typed number is not left for the next person). */
function idle() {
  clearTimeout(idleTimer);
  idleTimer = setTimeout(showStart, IDLE_MS);
}
document.addEventListener('pointerdown', () => { if (state.screen === 'checkin' || state.screen === 'walkin') idle(); }, true);

/** The start again after `ms`, counted down on the screen (not read out: it changes each second). */
function returnAfter(ms, el) {
  clearTimeout(screenTimer);
  clearInterval(countdownTimer);
  const until = Date.now() + ms;
  const tick = () => {
    const s = Math.max(0, Math.ceil((until - Date.now()) / 1000));
    replace(el, ...both(`${s} 秒後に最初の画面に戻ります`, `Back to the start in ${s} s`));
  };
  tick();
  countdownTimer = setInterval(tick, 1000);
  screenTimer = setTimeout(showStart, ms);
}

const backButton = (label = ['最初の画面に戻る', 'Back to the start']) =>
  h('button', { type: 'button', class: 'btn secondary k-back', 'data-action': 'start', onclick: showStart }, ...both(label[0], label[1]));

// ---------- set-up (staff) ----------

const SETUP_WORDS = {
  expired: ['この端末のログインが終了しました(しばらく使われなかったか、別の場所でログインされたため)。職員がもう一度ログインしてください。',
    'This kiosk was signed out (unused for a while, or signed in elsewhere). Staff: sign in again.'],
  out: ['ログアウトしました。', 'Signed out.'],
};

function showSetup(why, words = null) {
  $('#k-boot').hidden = true;
  const said = words || (why && SETUP_WORDS[why]) || null;
  const summary = h('div', { class: 'error-summary', id: 'k-login-summary', hidden: true });
  const login = h('input', { id: 'k-login', name: 'login', autocomplete: 'username', autocapitalize: 'off', spellcheck: 'false', required: true });
  const password = h('input', { id: 'k-password', name: 'password', type: 'password', autocomplete: 'current-password', required: true });
  const submit = h('button', { type: 'submit', class: 'btn', id: 'k-login-submit' }, 'ログイン ', h('span', { lang: 'en' }, 'Sign in'));
  const form = h('form', { id: 'k-login-form', novalidate: true },
    h('div', { class: 'field' }, h('label', { for: 'k-login' }, 'ログイン名 ', h('span', { lang: 'en' }, 'Login')), login),
    h('div', { class: 'field' }, h('label', { for: 'k-password' }, 'パスワード ', h('span', { lang: 'en' }, 'Password')), password),
    submit);
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    const labels = { login: 'ログイン名', password: 'パスワード' };
    const body = { login: login.value.trim(), password: password.value };
    await busy(submit, async () => {
      try {
        const s = await api(endpoints.staffSessions(), { method: 'POST', body, auth: false });
        password.value = '';
        setToken(s.token);
        const me = await api(endpoints.staffCurrentSession());
        const refused = refusal(me);
        if (refused) {
          await signOut();
          showSetup(null, refused);
          return;
        }
        clearProblems(form, summary);
        state.me = me;
        showStart();
      } catch (p) {
        password.value = '';
        showProblem(p, { form, summary, lang: 'ja', labels, prefix: 'k-' });
      }
    });
  });
  show('setup', h('section', { class: 'k-setup card', 'aria-labelledby': 'k-setup-h' },
    h('h1', { id: 'k-setup-h' }, '受付端末の設定 ', h('span', { lang: 'en', class: 'en' }, 'Kiosk set-up')),
    said ? h('p', { class: 'notice warn', role: 'status', 'data-testid': 'kiosk-setup-message' }, ...both(said[0], said[1])) : null,
    h('p', null, ...both(
      `${counterName(counter)} の受付端末です。市の職員が、この窓口の受付端末用アカウント(役割: 受付端末)でログインしてください。`,
      `The self-service terminal of ${counterName(counter, 'en')}. City staff sign in with this counter's kiosk account.`)),
    summary,
    form));
  if (!words && !why) login.focus();
}

// ---------- the start ----------

function showStart() {
  if (!state.me) { showSetup(null); return; }
  const staffOut = h('button', { type: 'button', class: 'btn small secondary', 'data-action': 'sign-out', onclick: confirmSignOut }, 'この端末をログアウト ', h('span', { lang: 'en' }, 'Sign this kiosk out'));
  show('start',
    h('section', { class: 'k-start', 'aria-labelledby': 'k-start-h' },
      h('h1', { id: 'k-start-h', class: 'k-welcome' }, ...both('受付', 'Reception')),
      h('p', { class: 'k-lead' }, ...both('あてはまるほうを押してください。', 'Touch the one that applies to you.')),
      h('div', { class: 'k-choices' },
        h('button', { type: 'button', class: 'k-choice booked', 'data-action': 'checkin', onclick: showCheckIn },
          h('span', { class: 'k-choice-title' }, ...both('ご予約の方(受付)', 'I have a booking (check in)')),
          h('span', { class: 'k-choice-desc' }, ...both('予約確認メールのQRコード、または予約番号で受付します', 'With the QR code of your confirmation mail, or your reservation number'))),
        h('button', { type: 'button', class: 'k-choice walkin', 'data-action': 'walkin', onclick: showWalkIn },
          h('span', { class: 'k-choice-title' }, ...both('予約なしの方(番号札)', 'No booking (take a ticket)')),
          h('span', { class: 'k-choice-desc' }, ...both('ご用件を選んで、番号札をお取りください', 'Choose what you came for and take a ticket')))),
      h('p', { class: 'k-scan-note' }, ...both('QRコードをお持ちの方は、スキャナーにかざすだけで受付できます。', 'With a QR code, just hold it to the scanner to check in.'))),
    h('details', { class: 'k-staff' },
      h('summary', null, '職員用 ', h('span', { lang: 'en' }, 'Staff')),
      h('p', null, `${state.me.display_name}(${counterName(counter)})`),
      staffOut));
}

async function confirmSignOut() {
  const ok = await modal({
    title: 'この端末をログアウトしますか',
    content: [h('p', null, ...both('ログアウトすると、職員がもう一度ログインするまで来庁者は受付できません。', 'Visitors cannot check in here until staff sign in again.'))],
    ok: 'ログアウトする',
    cancel: 'やめる',
    testid: 'kiosk-sign-out',
  });
  if (!ok) return;
  await signOut();
  showSetup('out');
}

// ---------- check-in ----------

/** HJ3K7W → HJ3K-7W: the typed characters, grouped as the number is printed. */
function grouped(compact) {
  return compact.length > 4 ? `${compact.slice(0, 4)}-${compact.slice(4)}` : compact;
}
const compactOf = (value) => String(value || '').normalize('NFKC').toUpperCase().replace(/[^A-Z0-9]/g, '');

function showCheckIn() {
  const error = h('p', { class: 'field-error', id: 'k-number-error', hidden: true });
  const input = h('input', {
    id: 'k-number', name: 'reservation_number', autocomplete: 'off', autocapitalize: 'characters', spellcheck: 'false',
    // The pad and the scanner type here: no on-screen keyboard of the tablet's own.
    inputmode: 'none', maxlength: 12, class: 'k-number', 'aria-describedby': 'k-number-hint', 'data-autofocus': true,
  });
  const setValue = (compact) => {
    input.value = grouped(compact.slice(0, 8));
    error.hidden = true;
    input.removeAttribute('aria-invalid');
    idle();
  };
  input.addEventListener('input', () => {
    // What a scanner or a keyboard typed, grouped as the pad shows it.
    const c = compactOf(input.value);
    if (c.length <= 8 && input.value !== grouped(c)) input.value = grouped(c);
    idle();
  });
  const press = (ch) => { setValue(compactOf(input.value) + ch); input.focus({ preventScroll: true }); };
  const pad = h('div', { class: 'k-pad', role: 'group', 'aria-label': '予約番号の文字 / Characters of the number' },
    PAD_KEYS.map((ch) => h('button', { type: 'button', class: 'k-key', 'data-key': ch, onclick: () => press(ch) }, ch)),
    h('button', { type: 'button', class: 'k-key k-del', 'data-key': 'backspace', onclick: () => { setValue(compactOf(input.value).slice(0, -1)); input.focus({ preventScroll: true }); } },
      h('span', { 'aria-hidden': 'true' }, '⌫ '), ...both('1字消す', 'Delete')),
    h('button', { type: 'button', class: 'k-key k-clear', 'data-key': 'clear', onclick: () => { setValue(''); input.focus({ preventScroll: true }); } },
      ...both('全部消す', 'Clear')));
  const submit = h('button', { type: 'submit', class: 'btn big k-submit', id: 'k-checkin' }, ...both('受付する', 'Check in'));
  const form = h('form', { id: 'k-checkin-form', novalidate: true, class: 'k-checkin-form' },
    h('div', { class: 'field k-number-field' },
      h('label', { for: 'k-number' }, ...both('予約番号', 'Reservation number')),
      h('span', { class: 'hint', id: 'k-number-hint' }, ...both('8文字(例: HJ3K-7WXA)。下のボタンで入力できます。', '8 characters (e.g. HJ3K-7WXA). Use the buttons below.')),
      error, input),
    pad,
    h('div', { class: 'k-actions' }, submit));
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    const c = compactOf(input.value);
    if (c.length !== 8) {
      replace(error, ...both('予約番号は8文字です。もう一度お確かめください。', 'A reservation number has 8 characters. Please check it.'));
      error.hidden = false;
      input.setAttribute('aria-invalid', 'true');
      input.setAttribute('aria-describedby', 'k-number-hint k-number-error');
      input.focus();
      return;
    }
    checkIn(input.value, submit);
  });

  const cameraBox = h('div', { class: 'k-camera', hidden: true });
  const cameraBtn = h('button', { type: 'button', class: 'btn secondary k-camera-btn', 'data-action': 'camera', hidden: true, onclick: () => startCamera(cameraBox, cameraBtn) },
    ...both('カメラでQRコードを読み取る', 'Scan the QR code with the camera'));
  canReadQr().then((yes) => { if (yes && document.contains(cameraBtn)) cameraBtn.hidden = false; });

  show('checkin',
    h('section', { class: 'k-screen', 'aria-labelledby': 'k-checkin-h' },
      h('h1', { id: 'k-checkin-h' }, ...both('ご予約の方の受付', 'Check in with your booking')),
      h('p', { class: 'k-lead' }, ...both(
        '予約確認メールのQRコードをスキャナーにかざすか、予約番号を入力して「受付する」を押してください。',
        'Hold the QR code of your confirmation mail to the scanner, or enter your reservation number and touch "Check in".')),
      form,
      cameraBtn, cameraBox,
      h('div', { class: 'k-actions' }, backButton(['戻る', 'Back']))));
}

async function checkIn(raw, button = null) {
  const n = normaliseNumber(raw);
  if (!n) return;
  const run = async () => {
    try {
      const tk = await api(endpoints.deskCheckIns(counter), { method: 'POST', body: { reservation_number: n } });
      showTicket(tk, 'checkin');
    } catch (p) {
      checkInProblem(p, n);
    }
  };
  if (button && document.contains(button)) await busy(button, run);
  else {
    show('working', h('p', { class: 'k-working loading', role: 'status' }, ...both('受付しています…', 'Checking in…')));
    await run();
  }
}

// ---------- the camera (where the browser reads QR codes) ----------

async function canReadQr() {
  try {
    if (!('BarcodeDetector' in window) || !navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) return false;
    const formats = await window.BarcodeDetector.getSupportedFormats();
    return formats.includes('qr_code');
  } catch { return false; }
}

async function startCamera(box, button) {
  stopCamera();
  const video = h('video', { class: 'k-video', playsinline: true, muted: true, autoplay: true });
  const stopBtn = h('button', { type: 'button', class: 'btn secondary', 'data-action': 'camera-stop', onclick: () => { stopCamera(); box.hidden = true; button.hidden = false; button.focus(); } },
    ...both('カメラをやめる', 'Stop the camera'));
  replace(box, h('p', { role: 'status' }, ...both('QRコードをカメラに向けてください。', 'Hold the QR code up to the camera.')), video, stopBtn);
  box.hidden = false;
  button.hidden = true;
  try {
    const stream = await navigator.mediaDevices.getUserMedia({ video: { facingMode: 'user' }, audio: false });
    const detector = new window.BarcodeDetector({ formats: ['qr_code'] });
    video.srcObject = stream;
    await video.play().catch(() => {});
    camera = { stream, timer: null };
    const look = async () => {
      if (!camera || camera.stream !== stream) return;
      try {
        const found = await detector.detect(video);
        const value = found.map((b) => b.rawValue).find((v) => compactOf(v).length === 8);
        if (value) { stopCamera(); checkIn(value); return; }
      } catch { /* the next frame */ }
      if (camera && camera.stream === stream) camera.timer = setTimeout(look, 250);
    };
    look();
  } catch {
    replace(box, h('p', { class: 'notice warn', role: 'status' }, ...both('カメラを使えませんでした。スキャナーか、画面のボタンで入力してください。', 'The camera could not be used. Use the scanner or the buttons.')));
  }
}

function stopCamera() {
  if (!camera) return;
  clearTimeout(camera.timer);
  for (const track of camera.stream.getTracks()) track.stop();
  camera = null;
}

// ---------- walk-ins ----------

function showWalkIn() {
  const choose = async (procedure, button) => {
    await busy(button, async () => {
      try {
        const tk = await api(endpoints.deskWalkIns(counter), { method: 'POST', body: procedure ? { procedure } : {} });
        showTicket(tk, 'walkin');
      } catch (p) {
        problem(p, { retry: showWalkIn, retryLabel: ['もう一度選ぶ', 'Choose again'] });
      }
    });
  };
  show('walkin',
    h('section', { class: 'k-screen', 'aria-labelledby': 'k-walkin-h' },
      h('h1', { id: 'k-walkin-h' }, ...both('予約なしの方', 'No booking')),
      h('p', { class: 'k-lead' }, ...both('ご用件を選んでください。番号札をお出しします。', 'Choose what you came for. Your ticket will be printed.')),
      h('div', { class: 'k-procedures' },
        state.procedures.map((p) => h('button', { type: 'button', class: 'k-procedure', 'data-procedure': p.id, onclick: (e) => choose(p.id, e.currentTarget) },
          ...both(p.name, p.name_en || p.name))),
        h('button', { type: 'button', class: 'k-procedure unsure', 'data-procedure': '', onclick: (e) => choose(null, e.currentTarget) },
          ...both('わからない', 'Not sure'))),
      h('div', { class: 'k-actions' }, backButton(['戻る', 'Back']))));
}

// ---------- the ticket ----------

function placeWords(tk) {
  const lines = [];
  if (Number.isInteger(tk.position) && tk.position > 0) {
    const ahead = tk.position - 1;
    lines.push(ahead === 0
      ? ['次にお呼びします', 'You are next']
      : [`あなたの前に ${ahead} 人`, ahead === 1 ? '1 person ahead of you' : `${ahead} people ahead of you`]);
  }
  const next = tk.position === 1;
  if (Number.isInteger(tk.estimated_wait_minutes) && !(next && tk.estimated_wait_minutes <= 0)) {
    lines.push(tk.estimated_wait_minutes > 0
      ? [`待ち時間の目安 約 ${tk.estimated_wait_minutes} 分`, `Estimated wait: about ${tk.estimated_wait_minutes} min`]
      : ['まもなくお呼びします', 'You will be called soon']);
  }
  return lines;
}

/** YYYY-MM-DD of a ticket (its issue instant, in the counter's offset), or undefined: today. */
const ticketDate = (tk) => (/^\d{4}-\d{2}-\d{2}/.exec(String(tk.issued_at || '')) || [])[0];

function showTicket(tk, how) {
  const printing = h('p', { class: 'k-print', role: 'status', 'data-testid': 'kiosk-print', 'data-state': 'printing' },
    ...both('番号札を印刷しています…', 'Printing your ticket…'));
  const countdown = h('p', { class: 'k-countdown' });
  show('ticket',
    h('section', { class: 'k-screen k-ticket', 'aria-labelledby': 'k-ticket-h', 'data-testid': 'kiosk-ticket' },
      h('h1', { id: 'k-ticket-h' }, ...(how === 'checkin' ? both('受付しました', 'You are checked in') : both('番号札をお取りください', 'Please take your ticket'))),
      h('p', { class: 'k-ticket-label' }, ...both('あなたの番号', 'Your number')),
      h('p', { class: 'k-ticket-number', 'data-testid': 'kiosk-ticket-number' }, tk.ticket),
      h('div', { class: 'k-place', 'data-testid': 'kiosk-place' }, placeWords(tk).map(([ja, en]) => h('p', null, ...both(ja, en)))),
      printing,
      h('p', { class: 'k-note' }, ...both(
        '番号が呼ばれたら、表示の窓口へお越しください。番号札のQRコードをスマートフォンで読み取ると、順番を確認できます。',
        'When your number is called, go to the desk shown. Scan the QR code on the ticket to follow your place on your phone.')),
      countdown,
      h('div', { class: 'k-actions' }, backButton())));
  returnAfter(RESULT_MS, countdown);
  print(tk, printing, countdown);
}

async function print(tk, el, countdown) {
  el.dataset.state = 'printing';
  replace(el, ...both('番号札を印刷しています…', 'Printing your ticket…'));
  try {
    await printTicket({ counter, ticket: tk.ticket, date: ticketDate(tk) });
    if (!document.contains(el)) return;
    el.dataset.state = 'printed';
    replace(el, ...both('番号札をお取りください。', 'Please take your printed ticket.'));
  } catch (p) {
    if (p && p.status === 401) return; // signed out: the set-up screen is shown
    if (!document.contains(el)) return;
    el.dataset.state = 'failed';
    replace(el,
      h('span', { class: 'ja' }, `印刷できませんでした。この番号(${tk.ticket})をお控えのうえ、職員にお声がけください。`),
      h('span', { lang: 'en', class: 'en' }, `The ticket could not be printed. Note your number (${tk.ticket}) and ask a member of staff.`),
      h('button', { type: 'button', class: 'btn secondary', 'data-action': 'reprint', onclick: () => { returnAfter(RESULT_MS, countdown); print(tk, el, countdown); } },
        ...both('もう一度印刷する', 'Print again')));
  }
}

// ---------- problems ----------

function checkInProblem(p, number) {
  const c = p.body || {};
  const retry = () => { showCheckIn(); };
  switch (p.code) {
    case 'reservation_not_found':
    case 'validation_failed':
    case 'bad_request':
      problem(p, {
        words: [['予約が見つかりません', 'Booking not found'],
          [`予約番号 ${number} のご予約は見つかりませんでした。番号をお確かめのうえ、もう一度入力してください。`,
            `We could not find a booking with the number ${number}. Please check it and enter it again.`]],
        retry,
      });
      return;
    case 'not_today':
      problem(p, {
        words: [['本日のご予約ではありません', 'Your booking is not for today'],
          c.date
            ? [`このご予約は ${fmtDate(c.date, 'ja', { year: true })} です。ご予約の日にお越しください。`, `Your booking is for ${fmtDate(c.date, 'en', { year: true })}. Please come on that day.`]
            : ['ご予約の日にお越しください。', 'Please come on the day of your booking.']],
      });
      return;
    case 'wrong_counter':
      problem(p, {
        words: [['別の窓口のご予約です', 'Your booking is for another counter'],
          [`このご予約は ${counterName(c.counter)} のご予約です。ご予約の窓口へお越しください。`, `Your booking is for ${counterName(c.counter, 'en')}. Please go to that counter.`]],
      });
      return;
    case 'already_checked_in':
      problem(p, {
        words: [['受付済みです', 'Already checked in'],
          ['このご予約はすでに受付済みです。お持ちの番号札の番号でお呼びします。', 'This booking is already checked in. You will be called by the number on your ticket.']],
        ticket: c.ticket || null,
      });
      return;
    case 'reservation_cancelled':
      problem(p, {
        words: [['このご予約はキャンセルされています', 'This booking has been cancelled'],
          ['ご予約がキャンセルされているため、受付できません。職員にお声がけください。', 'It cannot be checked in. Please ask a member of staff.']],
      });
      return;
    default:
      problem(p, { retry });
  }
}

/**
 * Shows a problem in plain words (`words`: [[heading ja, en], [body ja, en]]; otherwise said
 * from its code), a way back, and a way to try again (`retry`). A 401 is the set-up screen.
 */
function problem(p, { words = null, retry = null, retryLabel = ['もう一度入力する', 'Enter again'], ticket = null } = {}) {
  if (p.status === 401) return; // api() signed the kiosk out
  // Only an account that may not work here signs out; a 403 for the network (network_not_allowed)
  // or a session still to be set up is said as a problem like any other.
  if (p.status === 403 && p.code === 'forbidden') {
    signOut().then(() => showSetup(null, ['この端末のアカウントでは、この窓口の受付ができません。職員が、この窓口の受付端末用アカウントでログインしてください。', 'This account cannot work at this counter. Staff: sign in with this counter\'s kiosk account.']));
    return;
  }
  const w = words || (p.status === 0
    ? [['通信できませんでした', 'Could not connect'], ['もう一度お試しください。続くときは、職員にお声がけください。', 'Please try again. If it keeps happening, ask a member of staff.']]
    : [['受付できませんでした', 'This could not be done'], [`${p.title || ''} 職員にお声がけください。`.trim(), 'Please ask a member of staff.']]);
  const countdown = h('p', { class: 'k-countdown' });
  const printing = ticket ? h('p', { class: 'k-print', role: 'status', 'data-testid': 'kiosk-print' }) : null;
  show('problem',
    h('section', { class: 'k-screen k-problem', 'aria-labelledby': 'k-problem-h', 'data-testid': 'kiosk-problem', 'data-code': p.code },
      h('h1', { id: 'k-problem-h' }, ...both(w[0][0], w[0][1])),
      h('p', { class: 'k-problem-body' }, ...both(w[1][0], w[1][1])),
      ticket ? h('p', { class: 'k-ticket-label' }, ...both('あなたの番号', 'Your number')) : null,
      ticket ? h('p', { class: 'k-ticket-number', 'data-testid': 'kiosk-ticket-number' }, ticket) : null,
      printing,
      countdown,
      h('div', { class: 'k-actions' },
        ticket ? h('button', { type: 'button', class: 'btn', 'data-action': 'reprint', onclick: () => { returnAfter(RESULT_MS, countdown); print({ ticket }, printing, countdown); } },
          ...both('番号札をもう一度印刷する', 'Print the ticket again')) : null,
        retry ? h('button', { type: 'button', class: 'btn', 'data-action': 'retry', onclick: retry }, ...both(retryLabel[0], retryLabel[1])) : null,
        backButton())));
  returnAfter(RESULT_MS, countdown);
}

// ---------- a scanner, on any screen a visitor uses ----------

// A USB scanner types fast and ends with Enter. In the number field it simply types there;
// anywhere else (the start, a ticket shown) its keystrokes are gathered and checked in.
let burst = '';
let lastKey = 0;
document.addEventListener('keydown', (e) => {
  if (!state.me || !['start', 'checkin', 'walkin', 'ticket', 'problem'].includes(state.screen)) return;
  const t = e.target;
  if (t && (t.tagName === 'INPUT' || t.tagName === 'TEXTAREA' || t.tagName === 'SELECT')) return;
  if (e.ctrlKey || e.metaKey || e.altKey) return;
  const now = performance.now();
  if (now - lastKey > 80) burst = '';
  lastKey = now;
  if (e.key === 'Enter') {
    if (compactOf(burst).length >= 8) {
      e.preventDefault();
      const n = burst;
      burst = '';
      checkIn(n);
    }
    burst = '';
  } else if (e.key.length === 1) {
    burst += e.key;
  }
}, true);

// ---------- the clock ----------

function tick() {
  $('#k-clock').textContent = fmtClock(serverClock.now(), { seconds: false });
}
setInterval(tick, 10000);

begin().then(tick);
