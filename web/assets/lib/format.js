// Dates and times as the counter shows them. Instants arrive as RFC 3339 with the counter's
// offset (2027-02-01T09:00:00+09:00): their local parts are read from the string, so the
// browser's own time zone never shifts a booking.

const WD_JA = ['日', '月', '火', '水', '木', '金', '土'];
const WD_EN = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];
const MON_EN = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
const MONTH_EN = ['January', 'February', 'March', 'April', 'May', 'June', 'July', 'August', 'September',
  'October', 'November', 'December'];

/** {y, m, d, hh, mm, dow, date:'YYYY-MM-DD'} of an RFC 3339 instant or a YYYY-MM-DD date. */
export function parts(s) {
  const m = /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2}))?/.exec(String(s || ''));
  if (!m) return null;
  const y = +m[1], mo = +m[2], d = +m[3];
  return {
    y, m: mo, d,
    hh: m[4] === undefined ? null : +m[4],
    mm: m[5] === undefined ? null : +m[5],
    dow: new Date(Date.UTC(y, mo - 1, d)).getUTCDay(),
    date: `${m[1]}-${m[2]}-${m[3]}`,
  };
}

const pad = (n) => String(n).padStart(2, '0');

export function isoDate(y, m, d) {
  const t = new Date(Date.UTC(y, m - 1, d));
  return `${t.getUTCFullYear()}-${pad(t.getUTCMonth() + 1)}-${pad(t.getUTCDate())}`;
}
export function addDays(date, n) {
  const p = parts(date);
  return isoDate(p.y, p.m, p.d + n);
}
export function addMonths(date, n) {
  const p = parts(date);
  return isoDate(p.y, p.m + n, 1);
}
export function daysInMonth(y, m) {
  return new Date(Date.UTC(y, m, 0)).getUTCDate();
}
/** Whole days from a to b (dates). */
export function daysBetween(a, b) {
  const pa = parts(a), pb = parts(b);
  return Math.round((Date.UTC(pb.y, pb.m - 1, pb.d) - Date.UTC(pa.y, pa.m - 1, pa.d)) / 86400000);
}

export function weekday(s, lang) {
  const p = parts(s);
  return lang === 'en' ? WD_EN[p.dow] : WD_JA[p.dow];
}

/** 2月1日(月) · Mon 1 Feb; with year: 2027年2月1日(月) · Mon 1 Feb 2027 */
export function fmtDate(s, lang, { year = false, dow = true } = {}) {
  const p = parts(s);
  if (!p) return '';
  if (lang === 'en') {
    return `${dow ? WD_EN[p.dow] + ' ' : ''}${p.d} ${MON_EN[p.m - 1]}${year ? ' ' + p.y : ''}`;
  }
  return `${year ? p.y + '年' : ''}${p.m}月${p.d}日${dow ? `(${WD_JA[p.dow]})` : ''}`;
}

export function fmtMonth(y, m, lang) {
  return lang === 'en' ? `${MONTH_EN[m - 1]} ${y}` : `${y}年${m}月`;
}

/** 9:00 */
export function fmtTime(s) {
  const p = parts(s);
  if (!p || p.hh === null) return '';
  return `${p.hh}:${pad(p.mm)}`;
}

/** 2月1日(月) 9:00 */
export function fmtDateTime(s, lang, opts) {
  return `${fmtDate(s, lang, opts)}${lang === 'en' ? ', ' : ' '}${fmtTime(s)}`;
}

/** 2月1日(月) 9:00〜9:30 */
export function fmtSlot(slot, lang, opts) {
  if (!slot) return '';
  const sep = lang === 'en' ? '–' : '〜';
  return `${fmtDate(slot.starts_at, lang, opts)}${lang === 'en' ? ', ' : ' '}${fmtTime(slot.starts_at)}${sep}${fmtTime(slot.ends_at)}`;
}

/** 00:01:05 or 3日 04:05:06 for a countdown of ms. */
export function fmtCountdown(ms, lang) {
  const s = Math.max(0, Math.ceil(ms / 1000));
  const d = Math.floor(s / 86400);
  const rest = `${pad(Math.floor((s % 86400) / 3600))}:${pad(Math.floor((s % 3600) / 60))}:${pad(s % 60)}`;
  if (!d) return rest;
  return lang === 'en' ? `${d}d ${rest}` : `${d}日 ${rest}`;
}

/** An instant shown for logs: 2026-12-01 12:00:03 (local parts of the string). */
export function fmtStamp(s) {
  const m = /^(\d{4}-\d{2}-\d{2})T(\d{2}:\d{2}(?::\d{2})?)/.exec(String(s || ''));
  return m ? `${m[1]} ${m[2]}` : String(s || '');
}

/** Digits and hyphens of a Japanese phone number, for reading: 090-1234-5678. */
export function fmtPhone(digits) {
  const d = String(digits || '');
  if (!/^\d{10,11}$/.test(d)) return d;
  if (d.length === 11) return `${d.slice(0, 3)}-${d.slice(3, 7)}-${d.slice(7)}`;
  if (/^0(120|570|800)/.test(d)) return `${d.slice(0, 4)}-${d.slice(4, 7)}-${d.slice(7)}`;
  if (/^0[36]/.test(d)) return `${d.slice(0, 2)}-${d.slice(2, 6)}-${d.slice(6)}`;
  return `${d.slice(0, 4)}-${d.slice(4, 6)}-${d.slice(6)}`;
}

/** HH:MM:SS of an instant (ms) in Japan time (no daylight saving there). */
export function fmtClock(ms, { seconds = true } = {}) {
  const d = new Date(ms + 9 * 3600 * 1000);
  const hm = `${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}`;
  return seconds ? `${hm}:${pad(d.getUTCSeconds())}` : hm;
}

/**
 * How a desk's name is shown and said: "1", "1番" and "1番窓口" are all the number 1 with
 * 番窓口へ after it ("desk 1" in English); "A" likewise; any other name ("総合案内") is shown as
 * typed with へ after it.
 */
export function deskWords(desk) {
  const s = String(desk || '').normalize('NFKC').trim();
  const m = /^([0-9]+|[A-Za-z])(?:番)?(?:窓口)?$/.exec(s);
  if (m) return { core: m[1].toUpperCase(), ja: '番窓口へ', en: m[1].toUpperCase() };
  return { core: s, ja: 'へ', en: s };
}

/** Latin letters as Japanese reads them aloud. */
const LETTERS_JA = {
  A: 'エー', B: 'ビー', C: 'シー', D: 'ディー', E: 'イー', F: 'エフ', G: 'ジー', H: 'エイチ', I: 'アイ',
  J: 'ジェー', K: 'ケー', L: 'エル', M: 'エム', N: 'エヌ', O: 'オー', P: 'ピー', Q: 'キュー', R: 'アール',
  S: 'エス', T: 'ティー', U: 'ユー', V: 'ブイ', W: 'ダブリュー', X: 'エックス', Y: 'ワイ', Z: 'ゼット',
};

/**
 * A ticket as it is said: its letters (R-012: ['R']) and its number as a number, without leading
 * zeros ('12'); a ticket of another shape is said as it is written (no letters).
 */
export function ticketParts(ticket) {
  const t = String(ticket || '').normalize('NFKC').trim().toUpperCase();
  const m = /^([A-Z]*)[- ]?0*([0-9]+)$/.exec(t);
  return m ? { letters: [...m[1]], number: String(Number(m[2])) } : { letters: [], number: t };
}

/**
 * A desk as a voice names it: a `number` ("1", "1番", "１番窓口", "01": '1') or a `letter` ('A'),
 * said with the language's word for a desk; a `name` in ASCII, said as typed; or a name in
 * Japanese ("総合案内"), which only a Japanese voice can read: to the others it is the desk
 * shown on the `screen` (name: as typed, for Japanese).
 */
export function deskSaid(desk) {
  const w = deskWords(desk);
  if (w.ja === '番窓口へ') {
    return /^[0-9]+$/.test(w.core) ? { kind: 'number', name: String(Number(w.core)) } : { kind: 'letter', name: w.core };
  }
  return { kind: /^[\x20-\x7E]+$/.test(w.core) ? 'name' : 'screen', name: w.core };
}

/**
 * What the waiting-room screen says aloud for a call, in Japanese and English: the ticket's
 * letter as a letter and its number as a number (R-012 is 「アール、12番」 and "R 12", never
 * digit by digit, never "O-O-One"), then the desk as deskSaid names it. The other languages
 * the screen speaks are in lib/languages.js.
 */
export function spokenCall(ticket, desk) {
  const { letters, number } = ticketParts(ticket);
  const ja = (letters.length ? letters.map((l) => LETTERS_JA[l]).join('・') + '、' : '') + `${number}番の方、`;
  const en = `Number ${[...letters, number].join(' ')}, please go to `;
  const d = deskSaid(desk);
  const deskJa = d.kind === 'number' || d.kind === 'letter' ? `${LETTERS_JA[d.name] || d.name}番窓口へ` : `${d.name}へ`;
  // A desk named in Japanese only ("総合案内") cannot be read by an English voice.
  const deskEn = { number: `desk ${d.name}`, letter: `desk ${d.name}`, name: d.name }[d.kind] || 'the desk shown on the screen';
  return { ja: `${ja}${deskJa}お越しください。`, en: `${en}${deskEn}.` };
}
