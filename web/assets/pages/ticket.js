// A visitor's ticket on their phone (/ticket/{public_id}, the QR code on the printed ticket):
// the number, the place in line and the estimated wait, the desk once called, and, for a
// booked visitor who gave a mail address, a mail when the turn nears. Nothing personal: the
// API gives the ticket's number, place and desk only. Japanese first, English beneath (the
// printed ticket and the waiting-room screen say both, and a visitor who scans the code has
// no language to choose first).
//
// Live: an EventSource on the ticket's events (endpoints.ticketEvents) sends the ticket at
// once and whenever it changes. The browser retries a dropped stream itself; when it gives
// up, or the stream falls silent, the page reads the ticket again and rebuilds the stream
// with back-off (as the waiting-room screen does), and does so at once when the phone wakes
// the page up again. An unknown ticket (404) is a page that says so.

import { api, serverClock } from '../lib/api.js';
import * as endpoints from '../lib/endpoints.js';
import { h, $, replace, busy } from '../lib/dom.js';
import { fmtClock, fmtDate, deskWords } from '../lib/format.js';

const publicId = decodeURIComponent(location.pathname.split('/').filter(Boolean)[1] || '');
const SILENCE_MS = 90000;   // nothing for this long: rebuild (the stream sends changes, and a ping when quiet)
const OPEN_TIMEOUT_MS = 10000;
const MAX_BACKOFF_MS = 30000;

let view = null;            // the ticket as last read
let es = null;
let backoff = 1000;
let rebuildTimer = null;
let lastSignal = Date.now();
let gone = false;           // the ticket is unknown: nothing more is asked
let counters = null;
let alertNote = null;       // a word after asking for the mail (a refusal), kept until it changes
let alertAsked = false;     // the answer to the button just pressed takes the focus

/** Japanese, then English beneath it. */
const both = (ja, en, tag = 'span') => [h(tag, { class: 'ja' }, ja), h(tag, { lang: 'en', class: 'en' }, en)];

// ---------- words ----------

const STATE = {
  waiting: ['お待ちください', 'Please wait'],
  called: ['お呼びしています', 'You are being called'],
  completed: ['お手続きは終わりました。ご来庁ありがとうございました。', 'Your visit is complete. Thank you for coming.'],
  no_show: ['お呼びしましたが、お越しになりませんでした。窓口の職員にお声がけください。', 'You were called but did not come. Please speak to a member of staff.'],
};

function callWords(desk) {
  const w = deskWords(desk);
  const numbered = w.ja === '番窓口へ';
  return {
    place: `${w.core}${w.ja}`,
    ja: `${w.core}${w.ja}お越しください`,
    en: numbered ? `Please go to desk ${w.en}` : `Please go to ${w.en}`,
  };
}

function aheadWords(ahead) {
  if (ahead === 0) return ['次にお呼びします', 'You are next'];
  return [`あなたの前に ${ahead} 人`, ahead === 1 ? '1 person ahead of you' : `${ahead} people ahead of you`];
}

function waitWords(minutes) {
  if (!(minutes > 0)) return ['まもなくお呼びします', 'You will be called soon'];
  return [`待ち時間の目安 約 ${minutes} 分`, `Estimated wait: about ${minutes} min`];
}

// ---------- rendering ----------

function counterLabel(v) {
  const c = counters && counters.find((x) => x.id === v.counter);
  const name = c ? c.name : '';
  return [name, v.date ? fmtDate(v.date, 'ja') : ''].filter(Boolean).join(' ・ ');
}

function render(v, { fresh = false } = {}) {
  const before = view;
  view = v;
  $('#page-status').hidden = true;
  $('#ticket').hidden = false;
  $('#site-counter').textContent = counterLabel(v);
  $('#t-number').textContent = v.ticket;
  const st = STATE[v.status] || [v.status, v.status];
  replace($('#t-state'), ...both(st[0], st[1]));
  $('#ticket').dataset.status = v.status;

  // The call (assertive): only when it changes, so a screen reader says it once.
  const callKey = v.status === 'called' ? `called:${v.desk || ''}` : '';
  const call = $('#t-call');
  if (call.dataset.key !== callKey) {
    call.dataset.key = callKey;
    if (callKey) {
      const w = callWords(v.desk);
      // 「2番窓口へ」 large, 「お越しください」 beneath it: a line break where it reads well.
      replace(call, h('p', { class: 'call-words' },
        h('span', { class: 'ja' }, h('span', { class: 'where' }, w.place), h('span', { class: 'please' }, 'お越しください')),
        h('span', { lang: 'en', class: 'en' }, w.en)));
    } else {
      replace(call);
    }
  }

  // The place in line and the wait (polite): only when they change.
  const place = $('#t-place');
  let placeKey = '';
  let placeNodes = [];
  if (v.status === 'waiting' && v.position) {
    const ahead = Number.isInteger(v.ahead) ? v.ahead : Math.max(0, v.position - 1);
    const a = aheadWords(ahead);
    const w = waitWords(v.estimated_wait_minutes);
    placeKey = `${ahead}:${v.estimated_wait_minutes}`;
    placeNodes = [
      h('p', { class: 'ahead', 'data-ahead': String(ahead) }, ...both(a[0], a[1])),
      // "Next" says it all when there is no wait to give.
      ahead === 0 && !(v.estimated_wait_minutes > 0) ? null : h('p', { class: 'wait' }, ...both(w[0], w[1])),
    ];
  } else if (v.status === 'waiting' && v.date && v.date !== serverClock.today()) {
    placeKey = `day:${v.date}`;
    placeNodes = [h('p', { class: 'wait' }, ...both(`この番号札は ${fmtDate(v.date, 'ja')} のものです。`, `This ticket is for ${fmtDate(v.date, 'en')}.`))];
  }
  if (place.dataset.key !== placeKey) {
    place.dataset.key = placeKey;
    replace(place, ...placeNodes);
  }
  place.hidden = !placeKey;

  renderAlert(v);

  document.title = v.status === 'called'
    ? `【お呼び出し】${v.ticket} ${callWords(v.desk).ja} | マイナンバーカード特設窓口`
    : `番号札 ${v.ticket} | マイナンバーカード特設窓口`;

  if (fresh && v.status === 'called' && (!before || before.status !== 'called' || before.desk !== v.desk)) buzz();
  if (v.status === 'completed') stop();
}

/** A short vibration when the ticket is called (where the browser allows it: after a tap). */
function buzz() {
  try {
    const active = !navigator.userActivation || navigator.userActivation.hasBeenActive;
    if (active && typeof navigator.vibrate === 'function') navigator.vibrate([400, 200, 400]);
  } catch { /* no vibration here */ }
}

// ---------- the mail when the turn nears ----------

function renderAlert(v) {
  const box = $('#t-alert');
  const state = v.status === 'waiting' ? v.alert : 'unavailable';
  const key = `${state}:${v.notify_ahead}:${alertNote ? alertNote.join() : ''}`;
  if (box.dataset.key === key) {
    // Drawn already (the stream said it first): the answer still takes the focus.
    if (alertAsked) { alertAsked = false; focusAnswer(box); }
    return;
  }
  const hadFocus = alertAsked || box.contains(document.activeElement);
  alertAsked = false;
  box.dataset.key = key;
  box.dataset.alert = state;
  const n = v.notify_ahead;
  let content = [];
  if (state === 'available') {
    content = [
      h('p', { class: 'hint', id: 't-alert-hint' }, ...both(
        `あなたの前が ${n} 人以下になったら、ご予約のときのメールアドレスに一度だけお知らせします。`,
        `We email the address you booked with once, when ${n} or fewer people are ahead of you.`)),
      h('button', { type: 'button', class: 'btn wide', id: 't-alert-button', 'aria-describedby': 't-alert-hint', onclick: askForMail },
        ...both('順番が近づいたらメールで知らせる', 'Email me when my turn is near')),
    ];
  } else if (state === 'requested') {
    content = [h('p', { class: 'notice ok', tabindex: '-1' }, ...both(
      `あなたの前が ${n} 人以下になったら、メールでお知らせします。`,
      `We will email you when ${n} or fewer people are ahead of you.`))];
  } else if (state === 'sent') {
    content = [h('p', { class: 'notice ok', tabindex: '-1' }, ...both(
      '順番が近づいたことを、メールでお知らせしました。',
      'We have emailed you: your turn is near.'))];
  }
  if (alertNote && state !== 'requested' && state !== 'sent') {
    content.push(h('p', { class: 'notice warn', tabindex: '-1' }, ...both(alertNote[0], alertNote[1])));
  }
  replace(box, ...content);
  box.hidden = !content.length;
  // The answer to the button just pressed is where the focus goes (the button is gone).
  if (hadFocus) focusAnswer(box);
}

function focusAnswer(box) {
  const said = box.querySelector('.notice');
  if (said) said.focus();
}

async function askForMail(e) {
  const button = e.currentTarget;
  await busy(button, async () => {
    try {
      alertNote = null;
      const v = await api(endpoints.ticketAlert(publicId), { method: 'POST' });
      alertAsked = true;
      render(v);
    } catch (p) {
      if (p.status === 404) { notFound(); return; }
      alertNote = p.code === 'alert_unavailable'
        ? ['この番号札では、メールでのお知らせを申し込めません(メールアドレスを登録してご予約の方が、お待ちの間だけ申し込めます)。',
          'This ticket cannot ask for a mail (only a booked visitor who gave a mail address can, while waiting).']
        : p.status === 0
          ? ['通信できませんでした。電波の良い場所で、もう一度お試しください。', 'Could not connect. Try again where the signal is better.']
          : ['申し込めませんでした。しばらくしてから、もう一度お試しください。', 'This could not be done. Please try again in a moment.'];
      if (view) {
        // The note goes where the button was; the focus with it.
        const box = $('#t-alert');
        box.dataset.key = '';
        renderAlert(view);
        const n = box.querySelector('.notice.warn');
        if (n) n.focus();
      }
      if (p.code === 'alert_unavailable') refresh();
    }
  });
}

// ---------- an unknown ticket ----------

function notFound() {
  gone = true;
  stop();
  document.title = '番号札が見つかりません | マイナンバーカード特設窓口';
  const main = $('#main');
  replace(main,
    h('section', { class: 'card page-message not-found', 'aria-labelledby': 'nf-h', 'data-testid': 'ticket-not-found' },
      h('h1', { id: 'nf-h', tabindex: '-1' }, ...both('番号札が見つかりません', 'Ticket not found')),
      h('p', null, 'このページの番号札は見つかりませんでした。番号札のQRコードを、もう一度読み取ってください。お手元の番号札の番号が呼ばれたら、表示の窓口へお越しください。分からないときは、窓口の職員にお声がけください。'),
      h('p', { lang: 'en' }, 'We could not find the ticket of this page. Scan the QR code on your ticket again. When the number on your ticket is called, go to the desk shown; if in doubt, please ask a member of staff.')));
  $('#site-counter').textContent = '';
  const heading = $('#nf-h');
  if (heading) heading.focus({ preventScroll: true });
}

// ---------- reading the ticket, and its stream ----------

function setConn(state) {
  const el = $('#t-conn');
  el.dataset.state = state;
  if (state === 'open' || state === 'closed') { replace(el); delete el.dataset.since; return; }
  const at = view ? fmtClock(serverClock.now(), { seconds: false }) : '';
  if (state === 'connecting') { replace(el, ...both('接続しています…', 'Connecting…')); return; }
  // The time the shown state was last known is kept while the stream is down.
  if (!el.dataset.since) el.dataset.since = at;
  replace(el, ...both(`再接続しています…(${el.dataset.since} 時点の表示です)`, `Reconnecting… (as of ${el.dataset.since})`));
}

/** Reads the ticket once (after a drop, on waking up): false when it could not be read. */
async function refresh() {
  if (gone) return false;
  try {
    const v = await api(endpoints.ticketView(publicId));
    render(v, { fresh: true });
    const conn = $('#t-conn');
    if (conn.dataset.state === 'reconnecting') {
      delete conn.dataset.since;
      setConn('reconnecting');
    }
    return true;
  } catch (p) {
    if (p.status === 404) { notFound(); return false; }
    if (!view) showLoadProblem(p);
    return false;
  }
}

function showLoadProblem(p) {
  const el = $('#page-status');
  el.hidden = false;
  el.className = 'notice warn';
  replace(el, ...(p.status === 0
    ? both('通信できませんでした。電波の良い場所でお待ちください。自動で再接続します。', 'Could not connect. The page tries again by itself.', 'span')
    : both('いまは表示できません。自動でもう一度試します。', 'This cannot be shown just now. The page tries again by itself.', 'span')));
}

function onTicket(e) {
  lastSignal = Date.now();
  let data;
  try { data = JSON.parse(e.data); } catch { return; }
  if (!data || typeof data.ticket !== 'string') return;
  render(data, { fresh: true });
}

function connect() {
  clearTimeout(rebuildTimer);
  if (gone || (view && view.status === 'completed')) return;
  if (es) es.close();
  const src = new EventSource(endpoints.ticketEvents(publicId));
  es = src;
  const opened = setTimeout(() => { if (es === src && src.readyState !== EventSource.OPEN) rebuild(); }, OPEN_TIMEOUT_MS);
  src.addEventListener('open', () => {
    if (es !== src) return;
    clearTimeout(opened);
    lastSignal = Date.now();
    backoff = 1000;
    setConn('open');
  });
  src.addEventListener('ticket', (e) => { if (es === src) onTicket(e); });
  src.addEventListener('ping', () => { if (es === src) lastSignal = Date.now(); });
  src.addEventListener('error', () => {
    if (es !== src) return;
    setConn('reconnecting');
    // CONNECTING: the browser retries by itself. CLOSED: it gave up (or was refused).
    if (src.readyState === EventSource.CLOSED) rebuild();
  });
}

function rebuild() {
  if (es) { es.close(); es = null; }
  if (gone) return;
  setConn('reconnecting');
  clearTimeout(rebuildTimer);
  const wait = backoff + Math.floor(Math.random() * 500);
  backoff = Math.min(backoff * 2, MAX_BACKOFF_MS);
  // Read it afresh first (a stream refused as too many is then a page that still updates),
  // then open the stream again.
  rebuildTimer = setTimeout(async () => {
    await refresh();
    if (!gone) connect();
  }, wait);
}

function stop() {
  clearTimeout(rebuildTimer);
  if (es) { es.close(); es = null; }
  setConn('closed');
}

setInterval(() => {
  if (!es || gone) return;
  if (es.readyState === EventSource.OPEN && Date.now() - lastSignal > SILENCE_MS) {
    // The stream sends only changes, and its keep-alives are comments: a long silence is
    // checked by opening it again (it sends the ticket at once).
    lastSignal = Date.now();
    connect();
  } else if (es.readyState === EventSource.CONNECTING && Date.now() - lastSignal > 20000) {
    rebuild();
  }
}, 5000);

// A phone puts the page to sleep: when it is looked at again, it is brought up to date at once.
document.addEventListener('visibilitychange', async () => {
  if (document.visibilityState !== 'visible' || gone || !view) return;
  await refresh();
  if (!gone && view.status !== 'completed' && (!es || es.readyState !== EventSource.OPEN)) {
    backoff = 1000;
    connect();
  }
});
window.addEventListener('online', () => {
  if (gone || !view || view.status === 'completed') return;
  if (!es || es.readyState !== EventSource.OPEN) { backoff = 1000; refresh().then(() => { if (!gone) connect(); }); }
});

// ---------- start ----------

async function start() {
  if (!publicId) { notFound(); return; }
  api(endpoints.counters()).then((c) => { counters = c.counters || []; if (view) $('#site-counter').textContent = counterLabel(view); }).catch(() => {});
  for (let wait = 1000; ; wait = Math.min(wait * 2, MAX_BACKOFF_MS)) {
    if (await refresh()) break;
    if (gone) return;
    await new Promise((r) => setTimeout(r, wait));
  }
  if (view.status === 'completed') return;
  setConn('connecting');
  connect();
}

start();
