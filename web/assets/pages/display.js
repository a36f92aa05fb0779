// The waiting-room screen (/display/{counter}): ticket numbers and desks only, never a name.
// Fed by an EventSource on the desk's display stream (endpoints.deskDisplay); events are
// de-duplicated by their id. The browser retries a dropped stream itself (sending
// Last-Event-ID); when it gives up, or the stream falls silent, the page rebuilds it with
// back-off and ?last_event_id= (the last call it showed), so the server sends every call made
// meanwhile and no call is lost. The clock is the server's (X-Madoguchi-Now).
// The screen's languages are the counters' display_languages (Japanese first; ja and en when
// the answer has none): its fixed words show Japanese and, on a second line, each other
// language in turn. Once sound is enabled with a click, a call (and a recall, which arrives as
// a new call event) plays a chime (Web Audio) and is then spoken in each language in order,
// Japanese first, where a voice speaks it (speech synthesis; the words from lib/languages.js).

import { api, serverClock } from '../lib/api.js';
import * as endpoints from '../lib/endpoints.js';
import { fmtClock, deskWords, deskSaid } from '../lib/format.js';
import { DEFAULT_LANGUAGES, displayLanguages, screenWords, speechLang, spokenCalls, voiceFor } from '../lib/languages.js';

const $ = (s) => document.querySelector(s);
const counter = decodeURIComponent(location.pathname.split('/').filter(Boolean)[1] || '');
const KEEP = 8;
const SILENCE_MS = 90000;   // no event or open for this long: rebuild (keep-alives are comments)
const OPEN_TIMEOUT_MS = 10000;
const TURN_MS = 4000;       // each language of the second line is shown this long

const seen = new Set();
let calls = [];             // {id, ticket, desk}, newest first, one per ticket
let lastId = 0;             // the newest event id received: a rebuilt stream resumes after it
let es = null;
let backoff = 1000;
let rebuildTimer = null;
let watchdog = null;
let lastSignal = Date.now();
let initialUntil = Infinity; // events before this (the first backlog) do not chime
let audio = null;
let soundOn = false;        // the click that enables sound also lets the page speak
let day = null;
let langs = [...DEFAULT_LANGUAGES];
let turn = 0;               // which of the languages after Japanese the second line shows

// ---------- the clock (the server's, in Japan time) ----------

function tick() {
  const now = serverClock.now();
  $('#clock').textContent = fmtClock(now, { seconds: false });
  const today = serverClock.today();
  if (day && today !== day) {
    // A new day: yesterday's calls are gone from the screen.
    calls = [];
    render(null);
  }
  day = today;
}

async function sync() {
  try {
    const data = await api(endpoints.counters());
    const c = data.counters.find((x) => x.id === counter);
    if (c) {
      $('#counter-name').textContent = c.name;
      document.title = `${c.name} 呼出表示`;
    } else {
      $('#counter-name').textContent = '窓口が見つかりません / Unknown counter';
    }
    setLanguages(data.display_languages);
  } catch { /* the clock keeps the browser's time; the languages stay as they were */ }
}

// ---------- the languages ----------

/**
 * Writes the second line of each fixed word (`.alt[data-word]`): one element per language
 * after Japanese, with its lang, stacked in one place; the one of this turn is shown.
 */
function setLanguages(list) {
  const next = displayLanguages(list);
  if (next.join() === langs.join() && $('.alt[data-word] [lang]')) return;
  langs = next;
  turn = 0;
  const others = langs.slice(1);
  for (const el of document.querySelectorAll('.alt[data-word]')) {
    el.replaceChildren(...others.map((lang, i) => {
      const span = document.createElement('span');
      span.lang = lang;
      span.textContent = screenWords(lang)[el.dataset.word];
      if (i === 0) span.className = 'on';
      return span;
    }));
  }
}

/** The second line moves on to the next language (with only one, it stays). */
function nextLanguage() {
  const n = langs.length - 1;
  if (n < 2) return;
  turn = (turn + 1) % n;
  for (const el of document.querySelectorAll('.alt[data-word]')) {
    [...el.children].forEach((child, i) => child.classList.toggle('on', i === turn));
  }
}

// ---------- rendering ----------


function render(fresh) {
  const latest = calls[0];
  $('#latest').hidden = !latest;
  $('#idle').hidden = !!latest;
  if (latest) {
    $('#latest-ticket').textContent = latest.ticket;
    const w = deskWords(latest.desk);
    $('#latest-desk').textContent = w.core;
    $('#latest .desk small[lang="ja"]').textContent = w.ja;
    // "Desk", "号窗口" … belong under a desk's number or letter, not under a name.
    const kind = deskSaid(latest.desk).kind;
    $('#latest .desk .alt').hidden = kind !== 'number' && kind !== 'letter';
    $('#latest').dataset.ticket = latest.ticket;
  }
  const list = $('#recent');
  list.replaceChildren(...calls.slice(1, KEEP).map((c) => {
    const li = document.createElement('li');
    li.dataset.ticket = c.ticket;
    const t = document.createElement('span');
    t.className = 't';
    t.textContent = c.ticket;
    const d = document.createElement('span');
    d.className = 'd';
    const w = deskWords(c.desk);
    d.textContent = `${w.core}${w.ja}`;
    li.append(t, d);
    return li;
  }));
  if (fresh) {
    const el = $('#latest');
    el.classList.remove('flash');
    void el.offsetWidth;
    el.classList.add('flash');
    // The live region says the call in every language, each in its own lang.
    const lines = spokenCalls(fresh.ticket, fresh.desk, langs);
    $('#announce').replaceChildren(...lines.flatMap((l, i) => {
      const span = document.createElement('span');
      span.lang = l.lang;
      span.textContent = l.text;
      return i ? [' ', span] : [span];
    }));
    announce(fresh.ticket, lines);
  }
}

function onCalled(e) {
  lastSignal = Date.now();
  let data;
  try { data = JSON.parse(e.data); } catch { return; }
  if (!data || typeof data.ticket !== 'string') return;
  const id = Number(e.lastEventId) || 0;
  if (id > lastId) lastId = id;
  const key = e.lastEventId || `${data.ticket}@${data.desk}@${Date.now()}`;
  if (seen.has(key)) return;
  seen.add(key);
  const call = { id, ticket: data.ticket, desk: String(data.desk || '') };
  calls = [call, ...calls.filter((c) => c.ticket !== call.ticket)].sort((a, b) => b.id - a.id).slice(0, KEEP);
  const live = Date.now() > initialUntil && calls[0] === call;
  render(live ? call : null);
}

// ---------- the connection ----------

function setConn(state) {
  const el = $('#conn');
  el.dataset.state = state;
  el.textContent = state === 'open' ? '' : state === 'connecting' ? '接続中… / Connecting…' : '再接続中… / Reconnecting…';
}

function connect() {
  clearTimeout(rebuildTimer);
  if (es) es.close();
  const src = new EventSource(endpoints.deskDisplay(counter, lastId));
  es = src;
  const opened = setTimeout(() => { if (es === src && src.readyState !== EventSource.OPEN) rebuild(); }, OPEN_TIMEOUT_MS);
  src.addEventListener('open', () => {
    if (es !== src) return;
    clearTimeout(opened);
    lastSignal = Date.now();
    backoff = 1000;
    setConn('open');
    // The backlog arrives right after opening (after a reconnect too: the calls made while
    // the stream was down are shown, not announced minutes late); only later events are new.
    initialUntil = Date.now() + 1500;
  });
  src.addEventListener('called', (e) => { if (es === src) onCalled(e); });
  src.addEventListener('message', () => { lastSignal = Date.now(); });
  src.addEventListener('error', () => {
    if (es !== src) return;
    setConn('reconnecting');
    // CONNECTING: the browser retries by itself (with Last-Event-ID). CLOSED: it gave up.
    if (src.readyState === EventSource.CLOSED) rebuild();
  });
}

function rebuild() {
  if (es) { es.close(); es = null; }
  setConn('reconnecting');
  clearTimeout(rebuildTimer);
  const wait = backoff + Math.floor(Math.random() * 500);
  backoff = Math.min(backoff * 2, 30000);
  rebuildTimer = setTimeout(connect, wait);
}

function watch() {
  clearInterval(watchdog);
  watchdog = setInterval(() => {
    if (!es) return;
    if (es.readyState === EventSource.OPEN && Date.now() - lastSignal > SILENCE_MS) {
      // Keep-alives are comments, invisible here: a silent stream is re-opened (resuming after
      // the last call shown; anything sent twice is de-duplicated).
      lastSignal = Date.now();
      connect();
    } else if (es.readyState === EventSource.CONNECTING && Date.now() - lastSignal > 20000) {
      rebuild();
    }
  }, 5000);
}

window.addEventListener('online', () => { if (!es || es.readyState !== EventSource.OPEN) { backoff = 1000; connect(); } });

// ---------- sound ----------

function chime() {
  if (!audio || audio.state !== 'running') return;
  const t0 = audio.currentTime + 0.02;
  for (const [freq, at] of [[880, 0], [660, 0.45]]) {
    const osc = audio.createOscillator();
    const gain = audio.createGain();
    osc.type = 'sine';
    osc.frequency.value = freq;
    gain.gain.setValueAtTime(0.0001, t0 + at);
    gain.gain.exponentialRampToValueAtTime(0.35, t0 + at + 0.02);
    gain.gain.exponentialRampToValueAtTime(0.0001, t0 + at + 1.1);
    osc.connect(gain).connect(audio.destination);
    osc.start(t0 + at);
    osc.stop(t0 + at + 1.2);
  }
}

// Announcements one at a time, each a chime and then the call said in each language, so that
// calls made together are each heard whole; a ticket called again before its turn is
// announced once (a recall after its announcement began is announced again).
const queued = [];
let announcing = false;

function announce(ticket, lines) {
  const i = queued.findIndex((q) => q.ticket === ticket);
  if (i >= 0) queued.splice(i, 1);
  queued.push({ ticket, lines });
  if (!announcing) next();
}

function next() {
  const item = queued.shift();
  announcing = !!item;
  if (!item) return;
  chime();
  const chimed = audio && audio.state === 'running' ? 1300 : 0;
  setTimeout(() => speak(item.lines, next), chimed);
}

/**
 * Says the call in each language in order (lines: [{lang, text}], Japanese first), skipping a
 * language no voice of this device speaks, then calls `done`.
 */
function speak(lines, done) {
  if (!soundOn || !('speechSynthesis' in window) || typeof SpeechSynthesisUtterance === 'undefined') {
    setTimeout(done, 300);
    return;
  }
  const voices = window.speechSynthesis.getVoices();
  const said = lines
    .map((l) => ({ text: l.text, lang: speechLang(l.lang), voice: voiceFor(voices, l.lang) }))
    .filter((l) => l.voice !== null);
  let left = said.length;
  // However the engine behaves, the next announcement comes (a voice that never ends).
  const guard = setTimeout(finish, 4000 + 8000 * said.length);
  function finish() {
    clearTimeout(guard);
    left = -1;
    done();
  }
  if (!left) { finish(); return; }
  for (const l of said) {
    const u = new SpeechSynthesisUtterance(l.text);
    u.lang = l.lang;
    if (l.voice) u.voice = l.voice;
    u.rate = 0.9;
    u.onend = u.onerror = () => { if (--left === 0) finish(); };
    window.speechSynthesis.speak(u);
  }
}

async function enableSound() {
  // Speech is allowed once the page has spoken inside a tap (iOS): an empty utterance, now.
  if ('speechSynthesis' in window && typeof SpeechSynthesisUtterance !== 'undefined') {
    try { window.speechSynthesis.speak(new SpeechSynthesisUtterance('')); } catch { /* none */ }
    // Chromium lists its voices only after a first ask: by the first call, a language no
    // voice speaks is known (and skipped) rather than read by another language's voice.
    try { window.speechSynthesis.getVoices(); } catch { /* none */ }
  }
  try {
    const Ctx = window.AudioContext || window.webkitAudioContext;
    if (Ctx) {
      audio = audio || new Ctx();
      await audio.resume();
    }
  } catch { /* no chime on this device */ }
  soundOn = (audio && audio.state === 'running') || 'speechSynthesis' in window;
  if (soundOn) {
    $('#sound').hidden = true;
    document.body.dataset.sound = 'on';
    chime();
  }
}

$('#sound').addEventListener('click', enableSound);

// ---------- start ----------

setConn('connecting');
render(null);
sync().then(tick);
setInterval(tick, 1000);
setInterval(sync, 10 * 60 * 1000);
setInterval(nextLanguage, TURN_MS);
connect();
watch();
