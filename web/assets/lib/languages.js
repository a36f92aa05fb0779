// The waiting-room screen's languages (queue.display_languages, from the counters' answer):
// its fixed words in each, and each call as it is said in each. Japanese is always first and
// always shown; the others take the second line in turn and speak after it. Tags are BCP-47,
// as configured and as the page's lang attributes carry them: ja, en, zh-Hans (Simplified
// Chinese), ko, vi, pt (Brazilian Portuguese), tl (Tagalog, Filipino).
//
// Every language reads a ticket as its letter and its number (R-012: "R 12", never digit by
// digit, never with leading zeros) and a desk as deskSaid (lib/format.js) names it: a desk
// named in Japanese only is, in the others, "the desk shown on the screen". Japanese and
// English are spokenCall's words (lib/format.js), which the other pages share.

import { spokenCall, ticketParts, deskSaid } from './format.js';

/**
 * Per language: `speech`, the utterance's lang; `voices`, the prefixes of a voice's lang that
 * speak it, best first; `words`, the screen's fixed words (`desk`: the word shown under a desk's
 * number); `call(ticket, desk)`, the call as said.
 */
const LANGUAGES = {
  ja: {
    speech: 'ja-JP',
    voices: ['ja'],
    words: {
      now: 'お呼びしている番号',
      recent: 'これまでの呼出',
      idle: 'お呼びするまで、おかけになってお待ちください。',
      note: '番号が呼ばれたら、表示の窓口へお越しください。',
      desk: '番窓口へ',
    },
    call: (ticket, desk) => spokenCall(ticket, desk).ja,
  },
  en: {
    speech: 'en-US',
    voices: ['en-US', 'en'],
    words: {
      now: 'Now calling',
      recent: 'Recent calls',
      idle: 'Please take a seat until your number is called.',
      note: 'When your number is shown, please go to that desk.',
      desk: 'Desk',
    },
    call: (ticket, desk) => spokenCall(ticket, desk).en,
  },
  'zh-Hans': {
    speech: 'zh-CN',
    // Mainland and Singapore voices read Simplified Chinese; any Chinese voice rather than none.
    voices: ['zh-CN', 'zh-Hans', 'zh-SG', 'cmn', 'zh'],
    words: {
      now: '正在叫号',
      recent: '最近叫号',
      idle: '叫到您的号码之前，请就座等候。',
      note: '显示您的号码后，请前往所示窗口。',
      desk: '号窗口',
    },
    // 请 R 12 号到 3 号窗口。
    call: said((t, d) => `请 ${t} 号到${{
      number: ` ${d.name} 号窗口`, letter: ` ${d.name} 号窗口`, name: ` ${d.name}`, screen: '屏幕上显示的窗口',
    }[d.kind]}。`),
  },
  ko: {
    speech: 'ko-KR',
    voices: ['ko'],
    words: {
      now: '현재 호출 번호',
      recent: '최근 호출',
      idle: '번호가 호출될 때까지 앉아서 기다려 주십시오.',
      note: '번호가 표시되면 해당 창구로 오십시오.',
      desk: '번 창구',
    },
    // R 12번 고객님, 3번 창구로 오십시오.
    call: said((t, d) => `${t}번 고객님, ${{
      number: `${d.name}번 창구로`, letter: `${d.name} 창구로`, name: `${d.name} 창구로`, screen: '화면에 표시된 창구로',
    }[d.kind]} 오십시오.`),
  },
  vi: {
    speech: 'vi-VN',
    voices: ['vi'],
    words: {
      now: 'Đang gọi số',
      recent: 'Các số vừa gọi',
      idle: 'Quý khách vui lòng ngồi chờ đến khi số của mình được gọi.',
      note: 'Khi số của quý khách hiện lên, xin mời đến quầy được hiển thị.',
      desk: 'Quầy',
    },
    // Xin mời quý khách số R 12 đến quầy số 3.
    call: said((t, d) => `Xin mời quý khách số ${t} đến ${{
      number: `quầy số ${d.name}`, letter: `quầy ${d.name}`, name: `quầy ${d.name}`, screen: 'quầy hiển thị trên màn hình',
    }[d.kind]}.`),
  },
  pt: {
    speech: 'pt-BR',
    voices: ['pt-BR', 'pt'],
    words: {
      now: 'Chamando agora',
      recent: 'Chamadas recentes',
      idle: 'Por favor, sente-se e aguarde até sua senha ser chamada.',
      note: 'Quando sua senha aparecer, dirija-se ao guichê indicado.',
      desk: 'Guichê',
    },
    // Senha R 12, por favor, compareça ao guichê 3.
    call: said((t, d) => `Senha ${t}, por favor, compareça ao ${{
      number: `guichê ${d.name}`, letter: `guichê ${d.name}`, name: `guichê ${d.name}`, screen: 'guichê indicado na tela',
    }[d.kind]}.`),
  },
  tl: {
    speech: 'fil-PH',
    // Filipino voices carry fil (fil-PH); some tl.
    voices: ['fil', 'tl'],
    words: {
      now: 'Tinatawag ngayon',
      recent: 'Mga huling tinawag',
      idle: 'Mangyaring maupo at maghintay hanggang tawagin ang inyong numero.',
      note: 'Kapag lumabas ang inyong numero, mangyaring pumunta sa counter na nakasaad.',
      desk: 'Counter',
    },
    // Numero R 12, mangyaring pumunta sa counter 3.
    call: said((t, d) => `Numero ${t}, mangyaring pumunta sa ${{
      number: `counter ${d.name}`, letter: `counter ${d.name}`, name: d.name, screen: 'counter na ipinapakita sa screen',
    }[d.kind]}.`),
  },
};

/** A call in a language other than Japanese: `phrase(ticket as "R 12", deskSaid(desk))`. */
function said(phrase) {
  return (ticket, desk) => {
    const { letters, number } = ticketParts(ticket);
    return phrase([...letters, number].join(' '), deskSaid(desk));
  };
}

/** The languages the screen has words for, in the order the configuration lists them. */
export const DISPLAY_LANGUAGES = Object.keys(LANGUAGES);
/** The screen's languages when the server names none (or cannot be asked). */
export const DEFAULT_LANGUAGES = ['ja', 'en'];

/**
 * The screen's languages from the counters' `display_languages`: those it has words for, each
 * once, Japanese first; DEFAULT_LANGUAGES when the answer has no list.
 */
export function displayLanguages(list) {
  if (!Array.isArray(list)) return [...DEFAULT_LANGUAGES];
  return [...new Set(['ja', ...list.filter((l) => Object.hasOwn(LANGUAGES, l))])];
}

/** The screen's fixed words in `lang` ({now, recent, idle, note, desk}). */
export function screenWords(lang) {
  return (LANGUAGES[lang] || LANGUAGES.ja).words;
}

/** The lang an utterance in `lang` carries (ja-JP, zh-CN, fil-PH …). */
export function speechLang(lang) {
  return (LANGUAGES[lang] || LANGUAGES.ja).speech;
}

/** The call of `ticket` to `desk` in each of `langs` ([{lang, text}]), Japanese first. */
export function spokenCalls(ticket, desk, langs = DEFAULT_LANGUAGES) {
  return displayLanguages(langs).map((lang) => ({ lang, text: LANGUAGES[lang].call(ticket, desk) }));
}

/**
 * The voice to say `lang` with, among `voices` (speechSynthesis.getVoices()): undefined when
 * none are listed (yet: the browser then picks by the utterance's lang), null when no voice
 * speaks it (the language is skipped), else the first whose lang matches the best prefix.
 */
export function voiceFor(voices, lang) {
  if (!voices || !voices.length) return undefined;
  const tags = voices.map((v) => String(v.lang || '').replace(/_/g, '-').toLowerCase());
  for (const prefix of (LANGUAGES[lang] || LANGUAGES.ja).voices) {
    const p = prefix.toLowerCase();
    const i = tags.findIndex((t) => t === p || t.startsWith(p + '-'));
    if (i >= 0) return voices[i];
  }
  return null;
}
