// The waiting-room screen in the seven languages a counter may configure
// (queue.display_languages): a private server lists them all, the screen shows its fixed words
// in Japanese and, on the second line, each other language in turn, in the configured order,
// each with its lang; a call, and the same ticket recalled, is said after the chime in each
// language in order, Japanese first, skipping the one no voice of the device speaks
// (Vietnamese here). The browser's speech synthesis is replaced by a recorder of what the page
// asks to be said, in which lang and with which voice.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { launch, watchedPage, startServer, apiCall, screenshot, assertAccessible, guard } from '../lib/harness.js';

const LANGS = ['ja', 'en', 'zh-Hans', 'ko', 'vi', 'pt', 'tl'];
/** The "Now calling" label's second line, as the screen must show it in each language. */
const NOW = {
  en: 'Now calling', 'zh-Hans': '正在叫号', ko: '현재 호출 번호', vi: 'Đang gọi số', pt: 'Chamando agora', tl: 'Tinatawag ngayon',
};
/** The idle line's second line. */
const IDLE = {
  en: 'Please take a seat until your number is called.',
  'zh-Hans': '叫到您的号码之前，请就座等候。',
  ko: '번호가 호출될 때까지 앉아서 기다려 주십시오.',
  vi: 'Quý khách vui lòng ngồi chờ đến khi số của mình được gọi.',
  pt: 'Por favor, sente-se e aguarde até sua senha ser chamada.',
  tl: 'Mangyaring maupo at maghintay hanggang tawagin ang inyong numero.',
};
const LETTER_JA = { R: 'アール', W: 'ダブリュー' };

let server;
let browser;
let token;

before(async () => {
  browser = await launch({ viewport: { width: 1920, height: 1080 } });
  // figment reads a list from the environment written as one (TOML's array syntax).
  server = await startServer({
    clockStart: '2027-01-12T10:00:00+09:00',
    env: { MADOGUCHI__QUEUE__DISPLAY_LANGUAGES: JSON.stringify(LANGS) },
  });
  await server.staffAdd('langadmin', 'admin', 'a-long-languages-password');
  const login = await apiCall('POST', '/api/v1/staff/sessions', { base: server.url, body: { login: 'langadmin', password: 'a-long-languages-password' } });
  assert.equal(login.status, 201);
  token = login.data.token;
});
after(async () => {
  if (browser) await browser.close();
  if (server) await server.stop();
});

/** A walk-in's ticket, called to `desk`. */
async function walkInAndCall(desk) {
  const w = await apiCall('POST', '/api/v1/desk/city-hall/walk-ins', { base: server.url, token, body: {} });
  assert.equal(w.status, 201, JSON.stringify(w.data));
  const c = await apiCall('POST', '/api/v1/desk/city-hall/calls', { base: server.url, token, body: { desk } });
  assert.equal(c.status, 200, JSON.stringify(c.data));
  return c.data.ticket;
}

/**
 * What the screen shows now, read at one instant (the turn cannot change halfway): each fixed
 * word's second line ([{word, shown: [{lang, text}]}], visible ones only) and the text a person
 * reads in the "Now calling" label and the idle line.
 */
const shown = (page) => page.evaluate(() => ({
  words: [...document.querySelectorAll('.alt[data-word]')]
    .filter((el) => !el.closest('[hidden]'))
    .map((el) => ({
      word: el.dataset.word,
      shown: [...el.children].filter((c) => getComputedStyle(c).visibility === 'visible').map((c) => ({ lang: c.lang, text: c.textContent })),
    })),
  now: document.querySelector('#now-label').innerText.replace(/\s+/g, ' ').trim(),
  idle: document.querySelector('#idle').innerText.replace(/\s+/g, ' ').trim(),
}));

/** The lines the page has asked to be said, without the empty one the sound button speaks. */
const spoken = (page) => page.evaluate(() => window.__spoken.filter((u) => u.text));

test('the screen shows its words in each configured language in turn and says each call in them, Japanese first, again on a recall', async () => {
  const r = await apiCall('GET', '/api/v1/counters', { base: server.url });
  assert.deepEqual(r.data.display_languages, LANGS);

  const page = await watchedPage(browser.context);
  await page.addInitScript(() => {
    window.__spoken = [];
    // The voices of this "device": every language but Vietnamese.
    const voices = ['ja-JP', 'en-US', 'zh-CN', 'ko-KR', 'pt-BR', 'fil-PH']
      .map((lang) => ({ lang, name: `test ${lang}`, voiceURI: `test-${lang}`, localService: true, default: false }));
    class Utterance {
      constructor(text = '') {
        Object.assign(this, { text, lang: '', voice: null, rate: 1, pitch: 1, volume: 1, onend: null, onerror: null, onstart: null });
      }
    }
    const synth = {
      speaking: false, pending: false, paused: false,
      // Each line "ends" a moment after it is queued, as an engine would, a while later.
      speak(u) {
        window.__spoken.push({ text: u.text, lang: u.lang, voice: u.voice ? u.voice.lang : null });
        setTimeout(() => { if (u.onend) u.onend(); }, 50);
      },
      cancel() {}, pause() {}, resume() {},
      getVoices: () => voices,
      addEventListener() {}, removeEventListener() {},
    };
    Object.defineProperty(window, 'speechSynthesis', { value: synth, configurable: true });
    Object.defineProperty(window, 'SpeechSynthesisUtterance', { value: Utterance, configurable: true, writable: true });
  });
  await guard(page, 'display-languages', async () => {
    await page.goto(server.url + '/display/city-hall');
    await page.waitForSelector('#conn[data-state="open"]', { state: 'attached' });
    await page.waitForFunction(() => document.querySelectorAll('#now-label .alt [lang]').length === 6);

    // The fixed words: Japanese always; the second line takes each other language in the
    // configured order, every word in the same one, with its lang.
    const seen = [];
    const deadline = Date.now() + 45000;
    while (seen.length < 7 && Date.now() < deadline) {
      const { words, now, idle } = await shown(page);
      assert.deepEqual(words.map((w) => w.word), ['now', 'idle', 'recent', 'note']);
      for (const w of words) assert.equal(w.shown.length, 1, `one language at a time on ${w.word}: ${JSON.stringify(w.shown)}`);
      const lang = words[0].shown[0].lang;
      assert.ok(words.every((w) => w.shown[0].lang === lang), `every word in ${lang}: ${JSON.stringify(words)}`);
      assert.equal(now, `お呼びしている番号 ${NOW[lang]}`, 'the label shows Japanese and one other language');
      assert.equal(idle, `お呼びするまで、おかけになってお待ちください。 ${IDLE[lang]}`);
      if (seen[seen.length - 1] !== lang) seen.push(lang);
      await page.waitForTimeout(400);
    }
    assert.deepEqual(seen, ['en', 'zh-Hans', 'ko', 'vi', 'pt', 'tl', 'en'], 'each language in turn, in the configured order, then again');
    await assertAccessible(page, 'the waiting-room screen in seven languages');

    // A person enables sound, as the staff do each morning.
    await page.click('#sound');
    await page.waitForSelector('body[data-sound="on"]');

    const ticket = await walkInAndCall('3');
    await page.waitForSelector(`#latest[data-ticket="${ticket}"]`, { timeout: 8000 });
    const [L, digits] = ticket.split('-');
    const n = Number(digits);
    assert.ok(LETTER_JA[L], `a ticket with a known letter: ${ticket}`);
    const expected = [
      { text: `${LETTER_JA[L]}、${n}番の方、3番窓口へお越しください。`, lang: 'ja-JP', voice: 'ja-JP' },
      { text: `Number ${L} ${n}, please go to desk 3.`, lang: 'en-US', voice: 'en-US' },
      { text: `请 ${L} ${n} 号到 3 号窗口。`, lang: 'zh-CN', voice: 'zh-CN' },
      { text: `${L} ${n}번 고객님, 3번 창구로 오십시오.`, lang: 'ko-KR', voice: 'ko-KR' },
      // No Vietnamese voice here: shown, not said.
      { text: `Senha ${L} ${n}, por favor, compareça ao guichê 3.`, lang: 'pt-BR', voice: 'pt-BR' },
      { text: `Numero ${L} ${n}, mangyaring pumunta sa counter 3.`, lang: 'fil-PH', voice: 'fil-PH' },
    ];
    await page.waitForFunction((k) => window.__spoken.filter((u) => u.text).length >= k, expected.length, { timeout: 8000 });
    assert.deepEqual(await spoken(page), expected, 'said after the chime, in the configured order, Japanese first');
    // The live region holds the call in every language (Vietnamese too), each in its lang.
    const announced = await page.$$eval('#announce [lang]', (els) => els.map((e) => ({ lang: e.lang, text: e.textContent })));
    assert.deepEqual(announced.map((a) => a.lang), LANGS);
    assert.equal(announced[4].text, `Xin mời quý khách số ${L} ${n} đến quầy số 3.`);
    // Under the desk's number, its word in the language of the turn.
    const desk = (await shown(page)).words.find((w) => w.word === 'desk');
    assert.ok(desk && desk.shown.length === 1 && LANGS.includes(desk.shown[0].lang), JSON.stringify(desk));
    await screenshot(page, 'display-languages-called', { fullPage: false });

    // The desk recalls the same ticket: it is said again, whole, in every language.
    const recall = await apiCall('POST', `/api/v1/desk/city-hall/tickets/${encodeURIComponent(ticket)}/recall`, { base: server.url, token });
    assert.equal(recall.status, 200, JSON.stringify(recall.data));
    await page.waitForFunction((k) => window.__spoken.filter((u) => u.text).length >= k, expected.length * 2, { timeout: 10000 });
    await page.waitForTimeout(2500);
    assert.deepEqual(await spoken(page), [...expected, ...expected], 'the recall is said again, once');

    // A desk named in Japanese only: the other voices say "the desk shown on the screen", and
    // no word for a numbered desk is shown under its name.
    const other = await walkInAndCall('総合案内');
    await page.waitForSelector(`#latest[data-ticket="${other}"]`, { timeout: 8000 });
    const [L2, d2] = other.split('-');
    const n2 = Number(d2);
    await page.waitForFunction((k) => window.__spoken.filter((u) => u.text).length >= k, expected.length * 3, { timeout: 10000 });
    assert.deepEqual((await spoken(page)).slice(expected.length * 2).map((u) => u.text), [
      `${LETTER_JA[L2]}、${n2}番の方、総合案内へお越しください。`,
      `Number ${L2} ${n2}, please go to the desk shown on the screen.`,
      `请 ${L2} ${n2} 号到屏幕上显示的窗口。`,
      `${L2} ${n2}번 고객님, 화면에 표시된 창구로 오십시오.`,
      `Senha ${L2} ${n2}, por favor, compareça ao guichê indicado na tela.`,
      `Numero ${L2} ${n2}, mangyaring pumunta sa counter na ipinapakita sa screen.`,
    ]);
    assert.equal(await page.isVisible('#latest .desk .alt'), false);
    assert.equal(await page.textContent('#latest-desk'), '総合案内');
    page.assertClean();
  });
});
