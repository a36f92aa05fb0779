// Pure functions of the pages, run in Node: the phone console's date-and-time reader, the desk's
// reservation-number normaliser, the My Number check the forms warn with, date formatting, field
// problems in the pages' words, the waiting-room screen's calls and words in its seven
// languages, the server's clock read from X-Madoguchi-Now, the API paths
// of the endpoints module, and the pages' words against the glossary (docs/glossary.json).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseWhen } from '../../../web/assets/pages/staff-phone.js';
import { normaliseNumber } from '../../../web/assets/pages/staff-desk.js';
import { isIndividualNumber, checks } from '../../../web/assets/lib/resident.js';
import { fmtSlot, fmtCountdown, fmtPhone, parts, deskWords, spokenCall } from '../../../web/assets/lib/format.js';
import { DISPLAY_LANGUAGES, displayLanguages, screenWords, speechLang, spokenCalls, voiceFor } from '../../../web/assets/lib/languages.js';
import { fieldMessage } from '../../../web/assets/lib/problem.js';
import { serverClock } from '../../../web/assets/lib/api.js';
import * as endpoints from '../../../web/assets/lib/endpoints.js';
import { RESIDENT } from '../../../web/assets/i18n/resident.js';
import { STAFF } from '../../../web/assets/i18n/staff.js';
import fs from 'node:fs';

test('the phone console reads dates and times as staff type them', () => {
  const today = '2027-01-12';
  assert.deepEqual(parseWhen('1/18 10:30', today), { date: '2027-01-18', time: '10:30' });
  assert.deepEqual(parseWhen('０１１８　１０３０', today), { date: '2027-01-18', time: '10:30' });
  assert.deepEqual(parseWhen('2/3 9', today), { date: '2027-02-03', time: '09:00' });
  assert.deepEqual(parseWhen('明日 10時半', today), { date: '2027-01-13', time: '10:30' });
  assert.deepEqual(parseWhen('2027-03-01', today), { date: '2027-03-01', time: null });
  assert.deepEqual(parseWhen('1/5', today), { date: '2028-01-05', time: null }, 'a past day means next year');
  assert.deepEqual(parseWhen('20日 14:00', today), { date: '2027-01-20', time: '14:00' });
  assert.equal(parseWhen('', today), null);
  assert.ok(parseWhen('2/30', today).error, 'no 30 February');
  assert.ok(parseWhen('1/18 25:00', today).error);
  assert.ok(parseWhen('そのうち', today).error);
});

test('the desk normalises typed and scanned reservation numbers', () => {
  assert.equal(normaliseNumber('hj3k7wxa'), 'HJ3K-7WXA');
  assert.equal(normaliseNumber(' ＨＪ３Ｋ－７ＷＸＡ '), 'HJ3K-7WXA');
  assert.equal(normaliseNumber('HJ3K-7WXA'), 'HJ3K-7WXA');
});

test('the waiting-room screen says a desk named 1, 1番 or １番窓口 alike, and any other name as typed', () => {
  for (const name of ['1', '1番', '１番窓口', ' 1 ']) assert.deepEqual(deskWords(name), { core: '1', ja: '番窓口へ', en: '1' }, name);
  assert.deepEqual(deskWords('12番'), { core: '12', ja: '番窓口へ', en: '12' });
  assert.deepEqual(deskWords('b'), { core: 'B', ja: '番窓口へ', en: 'B' });
  assert.deepEqual(deskWords('総合案内'), { core: '総合案内', ja: 'へ', en: '総合案内' });
});

test('a call is said with the ticket\'s letter as a letter and its number as a number, to the desk as it is named', () => {
  const cases = [
    ['R-012', '3', 'アール、12番の方、3番窓口へお越しください。', 'Number R 12, please go to desk 3.'],
    ['W-034', '12番', 'ダブリュー、34番の方、12番窓口へお越しください。', 'Number W 34, please go to desk 12.'],
    ['R-001', '１番窓口', 'アール、1番の方、1番窓口へお越しください。', 'Number R 1, please go to desk 1.'],
    ['R-100', 'a', 'アール、100番の方、エー番窓口へお越しください。', 'Number R 100, please go to desk A.'],
    ['W-007', '総合案内', 'ダブリュー、7番の方、総合案内へお越しください。', 'Number W 7, please go to the desk shown on the screen.'],
    ['W-008', 'Info desk', 'ダブリュー、8番の方、Info deskへお越しください。', 'Number W 8, please go to Info desk.'],
    ['r-000', '2', 'アール、0番の方、2番窓口へお越しください。', 'Number R 0, please go to desk 2.'],
    ['042', '5', '42番の方、5番窓口へお越しください。', 'Number 42, please go to desk 5.'],
  ];
  for (const [ticket, desk, ja, en] of cases) assert.deepEqual(spokenCall(ticket, desk), { ja, en }, `${ticket} at ${desk}`);
  // Never digit by digit, never a zero read as a letter O.
  for (const [ticket, desk] of cases) assert.doesNotMatch(spokenCall(ticket, desk).en, /\b0\d|O-O|\d \d/);
});

test('the waiting-room screen says a call in each of its seven languages, Japanese first, in the order configured', () => {
  assert.deepEqual(DISPLAY_LANGUAGES, ['ja', 'en', 'zh-Hans', 'ko', 'vi', 'pt', 'tl']);
  const said = (ticket, desk) => Object.fromEntries(spokenCalls(ticket, desk, DISPLAY_LANGUAGES).map((l) => [l.lang, l.text]));
  assert.deepEqual(said('R-012', '3'), {
    ja: 'アール、12番の方、3番窓口へお越しください。',
    en: 'Number R 12, please go to desk 3.',
    'zh-Hans': '请 R 12 号到 3 号窗口。',
    ko: 'R 12번 고객님, 3번 창구로 오십시오.',
    vi: 'Xin mời quý khách số R 12 đến quầy số 3.',
    pt: 'Senha R 12, por favor, compareça ao guichê 3.',
    tl: 'Numero R 12, mangyaring pumunta sa counter 3.',
  });
  assert.deepEqual(said('W-007', '総合案内'), {
    ja: 'ダブリュー、7番の方、総合案内へお越しください。',
    en: 'Number W 7, please go to the desk shown on the screen.',
    'zh-Hans': '请 W 7 号到屏幕上显示的窗口。',
    ko: 'W 7번 고객님, 화면에 표시된 창구로 오십시오.',
    vi: 'Xin mời quý khách số W 7 đến quầy hiển thị trên màn hình.',
    pt: 'Senha W 7, por favor, compareça ao guichê indicado na tela.',
    tl: 'Numero W 7, mangyaring pumunta sa counter na ipinapakita sa screen.',
  });
  assert.deepEqual(said('042', 'Info desk'), {
    ja: '42番の方、Info deskへお越しください。',
    en: 'Number 42, please go to Info desk.',
    'zh-Hans': '请 42 号到 Info desk。',
    ko: '42번 고객님, Info desk 창구로 오십시오.',
    vi: 'Xin mời quý khách số 42 đến quầy Info desk.',
    pt: 'Senha 42, por favor, compareça ao guichê Info desk.',
    tl: 'Numero 42, mangyaring pumunta sa Info desk.',
  });
  assert.deepEqual(said('r-100', 'b'), {
    ja: 'アール、100番の方、ビー番窓口へお越しください。',
    en: 'Number R 100, please go to desk B.',
    'zh-Hans': '请 R 100 号到 B 号窗口。',
    ko: 'R 100번 고객님, B 창구로 오십시오.',
    vi: 'Xin mời quý khách số R 100 đến quầy B.',
    pt: 'Senha R 100, por favor, compareça ao guichê B.',
    tl: 'Numero R 100, mangyaring pumunta sa counter B.',
  });
  // In the configured order, Japanese first even when the list forgets it; unknown tags left out.
  assert.deepEqual(spokenCalls('R-001', '1', ['ja', 'ko', 'en']).map((l) => l.lang), ['ja', 'ko', 'en']);
  assert.deepEqual(spokenCalls('R-001', '1', ['pt', 'xx', 'pt']).map((l) => l.lang), ['ja', 'pt']);
  assert.deepEqual(spokenCalls('R-001', '1').map((l) => l.lang), ['ja', 'en'], 'ja and en by default');
  // Japanese and English are spokenCall's words, which the other pages share.
  for (const [ticket, desk] of [['R-012', '3'], ['W-007', '総合案内'], ['042', 'Info desk']]) {
    const [ja, en] = spokenCalls(ticket, desk, ['ja', 'en']).map((l) => l.text);
    assert.deepEqual({ ja, en }, spokenCall(ticket, desk));
  }
});

test('in every language a ticket is its letter and its number (never digit by digit, never a leading zero), and a desk is named as staff name it', () => {
  const tickets = [
    ['R-012', ['R'], '12'], ['W-034', ['W'], '34'], ['R-001', ['R'], '1'], ['W-100', ['W'], '100'],
    ['r-007', ['R'], '7'], ['w-010', ['W'], '10'], ['Ｒ－０５０', ['R'], '50'], ['R012', ['R'], '12'],
    ['042', [], '42'], ['7', [], '7'], ['R-000', ['R'], '0'],
  ];
  const desks = [
    ['3', 'number', '3'], ['12番', 'number', '12'], ['１番窓口', 'number', '1'], ['２', 'number', '2'],
    ['05', 'number', '5'], ['a', 'letter', 'A'], ['B番窓口', 'letter', 'B'],
    ['総合案内', 'screen', null], ['マイナンバー窓口', 'screen', null], ['Info desk', 'name', 'Info desk'],
  ];
  // Each language's word for the desk shown on the screen (a name only Japanese can read).
  const screen = {
    en: 'the desk shown on the screen', 'zh-Hans': '屏幕上显示的窗口', ko: '화면에 표시된 창구',
    vi: 'quầy hiển thị trên màn hình', pt: 'guichê indicado na tela', tl: 'counter na ipinapakita sa screen',
  };
  let checked = 0;
  for (const [ticket, letters, number] of tickets) {
    for (const [desk, kind, name] of desks) {
      const lines = spokenCalls(ticket, desk, DISPLAY_LANGUAGES);
      assert.deepEqual(lines.map((l) => l.lang), DISPLAY_LANGUAGES);
      for (const { lang, text } of lines) {
        const at = `${lang}: ${ticket} at ${desk}: ${text}`;
        // No zero before a digit (R-012 is 12, desk 05 is 5), no digits said one by one.
        assert.doesNotMatch(text, /(^|[^0-9])0[0-9]/, at);
        assert.doesNotMatch(text, /[0-9][\s,、・.-]+[0-9]/, at);
        assert.doesNotMatch(text, /O-O|\bO\b/, at);
        assert.doesNotMatch(text, /[０-９Ｒ－]/, at);
        if (lang === 'ja') {
          assert.ok(text.includes(`${number}番の方`), at);
          continue;
        }
        // The letter as a letter and the number whole: "R 12" (no ticket of another shape).
        assert.match(text, new RegExp(`(^|[^0-9A-Za-z])${[...letters, number].join(' ')}(?![0-9])`), at);
        if (kind === 'screen') {
          assert.ok(text.includes(screen[lang]), at);
          assert.doesNotMatch(text, /[\u3040-\u30ff]|総合案内/, `${at}: a Japanese name is not read by this voice`);
        } else {
          assert.ok(new RegExp(`(^|[^0-9A-Za-z])${name}([^0-9A-Za-z]|$)`).test(text.replace([...letters, number].join(' '), '#')), `${at}: the desk ${name}`);
        }
        checked += 1;
      }
    }
  }
  assert.equal(checked, tickets.length * desks.length * (DISPLAY_LANGUAGES.length - 1));
});

test("the waiting-room screen's fixed words exist in every language, and a voice is picked by its language", () => {
  for (const lang of DISPLAY_LANGUAGES) {
    const w = screenWords(lang);
    for (const key of ['now', 'recent', 'idle', 'note', 'desk']) assert.ok(w[key] && w[key].trim(), `${lang}.${key}`);
  }
  assert.equal(screenWords('en').idle, 'Please take a seat until your number is called.');
  assert.equal(screenWords('en').note, 'When your number is shown, please go to that desk.');
  assert.deepEqual(displayLanguages(undefined), ['ja', 'en'], 'no list: Japanese and English');
  assert.deepEqual(displayLanguages(['ja', 'zh-Hans', 'tl']), ['ja', 'zh-Hans', 'tl']);
  assert.deepEqual(displayLanguages(['ja']), ['ja']);
  assert.deepEqual(DISPLAY_LANGUAGES.map(speechLang), ['ja-JP', 'en-US', 'zh-CN', 'ko-KR', 'vi-VN', 'pt-BR', 'fil-PH']);
  const v = (lang) => ({ lang, name: lang });
  const voices = [v('en-GB'), v('en-US'), v('zh-TW'), v('zh-CN'), v('pt-PT'), v('pt-BR'), v('ko_KR'), v('fil-PH'), v('ja-JP')];
  assert.equal(voiceFor([], 'ko'), undefined, 'voices not listed yet: the browser picks by lang');
  assert.equal(voiceFor(voices, 'ja').lang, 'ja-JP');
  assert.equal(voiceFor(voices, 'en').lang, 'en-US');
  assert.equal(voiceFor(voices, 'zh-Hans').lang, 'zh-CN', 'Simplified Chinese: the mainland voice first');
  assert.equal(voiceFor([v('zh-TW')], 'zh-Hans').lang, 'zh-TW', 'any Chinese voice rather than none');
  assert.equal(voiceFor(voices, 'pt').lang, 'pt-BR');
  assert.equal(voiceFor([v('pt-PT')], 'pt').lang, 'pt-PT');
  assert.equal(voiceFor(voices, 'ko').lang, 'ko_KR');
  assert.equal(voiceFor(voices, 'tl').lang, 'fil-PH', 'Tagalog: a Filipino voice');
  assert.equal(voiceFor([v('tl-PH')], 'tl').lang, 'tl-PH');
  assert.equal(voiceFor(voices, 'vi'), null, 'no Vietnamese voice: skipped');
  assert.equal(voiceFor([v('japanese')], 'ja'), null, 'a prefix is a whole subtag');
});

test('the forms recognise an individual number by its check digit', () => {
  assert.equal(isIndividualNumber('123456789018'), true);
  assert.equal(isIndividualNumber('123456789012'), false);
  assert.equal(isIndividualNumber('000000000000'), true, 'r ≤ 1 gives check digit 0');
  assert.ok(checks.individualNumber('番号は 1234 5678 9018 です'));
  assert.equal(checks.individualNumber('090-1234-5678'), null);
  assert.equal(checks.kana('ヤマダ タロウ'), null);
  assert.equal(checks.kana('やまだ たろう'), null);
  assert.ok(checks.kana('Yamada'));
  assert.equal(checks.phone('0748-36-5560'), null);
  assert.ok(checks.phone('12-34'));
});

test('instants are shown in the counter\'s time, whatever the browser\'s zone', () => {
  const slot = { starts_at: '2027-02-01T09:00:00+09:00', ends_at: '2027-02-01T09:30:00+09:00' };
  assert.equal(fmtSlot(slot, 'ja'), '2月1日(月) 9:00〜9:30');
  assert.equal(fmtSlot(slot, 'en'), 'Mon 1 Feb, 9:00–9:30');
  assert.equal(parts('2026-12-01T12:00:00+09:00').dow, 2);
  assert.equal(fmtCountdown(8200, 'ja'), '00:00:09');
  assert.equal(fmtCountdown(90061000, 'ja'), '1日 01:01:01');
  assert.equal(fmtPhone('09012345678'), '090-1234-5678');
  assert.equal(fmtPhone('0748365560'), '0748-36-5560');
});

test('field problems are worded by their code, else as the server words them', () => {
  assert.match(fieldMessage({ field: 'name_kana', code: 'not_katakana', message: 'must be written in katakana (全角カタカナ)' }, 'ja'), /^全角カタカナで入力してください\(例/);
  assert.equal(fieldMessage({ field: 'applicant_type', code: 'not_one_of', message: 'x' }, 'en'), 'Choose who comes to the counter.');
  assert.equal(fieldMessage({ field: 'name', code: 'too_long', message: '50文字以内で入力してください' }, 'ja'), '50文字以内で入力してください');
  assert.equal(fieldMessage({ field: 'email', code: 'not_email' }, 'en'), 'Enter an email address (e.g. taro@example.jp).');
});

test("the server's clock comes from X-Madoguchi-Now, a replayed header is ignored", () => {
  const c = Object.assign(Object.create(Object.getPrototypeOf(serverClock)), serverClock);
  const real = Date.parse('2027-01-12T09:10:00+09:00');
  const browser = real - 3600000; // the browser's clock is an hour behind the rehearsal
  c.observe('2027-01-12T09:10:00+09:00', browser, browser + 50);
  c.observe('2027-01-12T09:10:02+09:00', browser + 2100, browser + 2150);
  assert.ok(Math.abs(c.offset - 3600000 - 500) <= 500, `offset ${c.offset}`);
  const offset = c.offset;
  // The first answer again, 30 s later (a cached answer's header): ignored.
  c.observe('2027-01-12T09:10:00+09:00', browser + 30000, browser + 30050);
  assert.equal(c.offset, offset);
  // A restarted rehearsal clock a day ahead: taken.
  c.observe('2027-01-13T18:16:00+09:00', browser + 31000, browser + 31050);
  assert.ok(c.offset > offset + 86400000);
  c.offset = Date.parse('2027-01-12T15:30:00Z') - Date.now(); // 00:30 on the 13th in Japan
  assert.equal(c.today(), '2027-01-13', "today is the counter's date, not UTC's");
});

test('the endpoints module encodes path segments and query values, and leaves out empty filters', () => {
  assert.equal(endpoints.availability('city-hall', '2027-01-12', '2027-02-28'), '/api/v1/counters/city-hall/availability?from=2027-01-12&to=2027-02-28');
  assert.equal(endpoints.reservation('a/b?c'), '/api/v1/reservations/a%2Fb%3Fc');
  assert.equal(endpoints.reservationQr('tok'), '/api/v1/reservations/tok/qr.svg');
  assert.equal(endpoints.reservationPartyMember('tok', 'HJ3K 7WXA'), '/api/v1/reservations/tok/party/HJ3K%207WXA');
  assert.equal(endpoints.deskTicket('city hall', 'A-012', 'no-show'), '/api/v1/desk/city%20hall/tickets/A-012/no-show');
  assert.equal(endpoints.deskDisplay('city-hall', 0), '/api/v1/desk/city-hall/display');
  assert.equal(endpoints.deskDisplay('city-hall', 42), '/api/v1/desk/city-hall/display?last_event_id=42');
  assert.equal(endpoints.staffReservations(), '/api/v1/staff/reservations');
  assert.equal(endpoints.staffReservations({ date: '', counter: 'city-hall', q: '山田 太郎&x' }), '/api/v1/staff/reservations?counter=city-hall&q=%E5%B1%B1%E7%94%B0+%E5%A4%AA%E9%83%8E%26x');
  assert.equal(endpoints.staffReservationCancel('HJ3K-7WXA'), '/api/v1/staff/reservations/HJ3K-7WXA/cancel');
  assert.equal(endpoints.staffMyPassword(), '/api/v1/staff/me/password');
  assert.equal(endpoints.staffMyTotp(), '/api/v1/staff/me/totp');
  assert.equal(endpoints.staffMyTotpConfirm(), '/api/v1/staff/me/totp/confirm');
  assert.equal(endpoints.staffMyRecoveryCodes(), '/api/v1/staff/me/totp/recovery-codes');
  assert.equal(endpoints.adminStaffTotp('desk 1/x'), '/api/v1/admin/staff/desk%201%2Fx/totp');
  assert.equal(endpoints.adminClosures('city-hall'), '/api/v1/admin/counters/city-hall/closures');
  assert.equal(endpoints.adminClosures('city-hall', { from: '2027-01-12', to: '2028-02-16' }), '/api/v1/admin/counters/city-hall/closures?from=2027-01-12&to=2028-02-16');
  assert.equal(endpoints.adminOutbox(''), '/api/v1/admin/outbox');
  assert.equal(endpoints.adminOutbox('failed'), '/api/v1/admin/outbox?status=failed');
  assert.equal(endpoints.adminAudit('2027-01-12T09:00:00+09:00'), '/api/v1/admin/audit?since=2027-01-12T09%3A00%3A00%2B09%3A00');
  assert.equal(endpoints.adminStats('', '2027-01-12', 'city-hall'), '/api/v1/admin/stats?from=&to=2027-01-12&counter=city-hall', 'an empty date is sent for the server to refuse');
});

test('the pages name things as the glossary does, in both languages, and never by the words it avoids', () => {
  const glossary = JSON.parse(fs.readFileSync(new URL('../../../docs/glossary.json', import.meta.url), 'utf8'));
  const books = { resident: RESIDENT, staff: STAFF };
  let labels = 0;
  for (const term of glossary.terms) {
    for (const label of term.labels || []) {
      const [book, key] = label.split(':');
      const ja = books[book].ja[key];
      const en = books[book].en[key];
      assert.ok(ja && en, `${label} is a label of both languages`);
      assert.ok(ja.includes(term.ja), `${label}: "${ja}" says ${term.ja}`);
      // "cancel" in "Cancelled": the English term, whatever its case and ending.
      assert.ok(en.toLowerCase().includes(term.en.toLowerCase()), `${label}: "${en}" says ${term.en}`);
      labels += 1;
    }
    for (const [book, words] of Object.entries(books)) {
      for (const lang of ['ja', 'en']) {
        for (const [key, text] of Object.entries(words[lang])) {
          for (const avoid of term.avoid || []) {
            assert.ok(!text.includes(avoid), `${book}.${lang} ${key}: "${avoid}" (the glossary says ${term[lang]})`);
          }
        }
      }
    }
  }
  assert.ok(labels >= 15, `the labels were read (${labels})`);
  for (const page of fs.readdirSync(new URL('../../../web/', import.meta.url)).filter((f) => f.endsWith('.html'))) {
    const html = fs.readFileSync(new URL(`../../../web/${page}`, import.meta.url), 'utf8');
    for (const term of glossary.terms) {
      for (const avoid of term.avoid || []) assert.ok(!html.includes(avoid), `web/${page}: "${avoid}"`);
    }
  }
});
