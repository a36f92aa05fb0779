// Problems (application/problem+json) shown where they belong: a field's message next to the
// field (aria-invalid, aria-describedby), everything else in a summary at the top of the form
// that takes focus, with links to the fields; slot_full's alternatives as buttons.

import { h, clear, focusTo } from './dom.js';
import { fmtSlot } from './format.js';

// The server words field messages in English; these are the residents' and staff's words.
const FIELD_MESSAGES = {
  'is required': { ja: '入力してください。', en: 'Please fill this in.' },
  'is too long': { ja: '長すぎます。短くしてください。', en: 'This is too long.' },
  'must be written in katakana (全角カタカナ)': {
    ja: '全角カタカナで入力してください(例: ヤマダ タロウ)。',
    en: 'Write it in katakana (e.g. ヤマダ タロウ).',
  },
  'must be a Japanese phone number (10 or 11 digits)': {
    ja: '電話番号は10桁または11桁で入力してください(例: 090-1234-5678)。',
    en: 'Enter a Japanese phone number of 10 or 11 digits (e.g. 090-1234-5678).',
  },
  'must be a phone number of digits and hyphens': {
    ja: '電話番号は数字とハイフンで入力してください。',
    en: 'Use digits and hyphens only.',
  },
  'must be a Japanese phone number': {
    ja: '国内の電話番号を入力してください。',
    en: 'Enter a Japanese phone number.',
  },
  'must be an email address': {
    ja: 'メールアドレスの形式で入力してください(例: taro@example.jp)。',
    en: 'Enter an email address (e.g. taro@example.jp).',
  },
  'must not contain control characters': {
    ja: '使用できない文字が含まれています。',
    en: 'This contains characters that cannot be used.',
  },
  'must not contain an individual number (マイナンバー); it is never needed here': {
    ja: 'マイナンバー(個人番号12桁)は入力しないでください。予約には必要ありません。',
    en: 'Do not enter an individual number (My Number): it is never needed here.',
  },
  "is required when someone comes in the holder's place": {
    ja: 'ご本人以外の方が来庁される場合は、来庁される方のお名前を入力してください。',
    en: "Enter the name of the person who comes in the holder's place.",
  },
  'must be holder, legal_representative or voluntary_proxy': {
    ja: '来庁される方を選んでください。',
    en: 'Choose who comes to the counter.',
  },
  'must be phone, desk or admin': { ja: '役割を選んでください。', en: 'Choose a role.' },
  'must be 1 to 50 characters': { ja: '1〜50文字で入力してください。', en: 'Use 1 to 50 characters.' },
  "must be 3 to 40 of a-z, 0-9, '.', '_' and '-'": {
    ja: '半角英小文字・数字・「.」「_」「-」で3〜40文字にしてください。',
    en: "Use 3 to 40 of a-z, 0-9, '.', '_' and '-'.",
  },
  'must not be the login': { ja: 'ログイン名と同じパスワードは使えません。', en: 'It must not be the login.' },
  'must not be so repetitive': { ja: '単純すぎるパスワードは使えません。', en: 'It is too repetitive.' },
  'must name the desk in 1 to 20 characters': {
    ja: '窓口名を1〜20文字で入力してください。',
    en: 'Name the desk in 1 to 20 characters.',
  },
  'is required to override the booking window': {
    ja: '受付期間外の予約には理由が必要です。',
    en: 'A reason is required to book outside the window.',
  },
};

const PATTERNS = [
  [/^must be at least (\d+) characters$/, (m) => ({ ja: `${m[1]}文字以上にしてください。`, en: `Use at least ${m[1]} characters.` })],
  [/^must be at most (\d+) characters$/, (m) => ({ ja: `${m[1]}文字以内にしてください。`, en: `Use at most ${m[1]} characters.` })],
  [/^must be (\d+) to (\d+)$/, (m) => ({ ja: `${m[1]}〜${m[2]}の数で入力してください。`, en: `Enter a number from ${m[1]} to ${m[2]}.` })],
  [/^at most (\d+) days per request$/, (m) => ({ ja: `期間は${m[1]}日以内にしてください。`, en: `At most ${m[1]} days.` })],
];

/** The message for a field error, in the page's language. */
export function fieldMessage(message, lang) {
  const known = FIELD_MESSAGES[message];
  if (known) return known[lang] || known.ja;
  for (const [re, f] of PATTERNS) {
    const m = re.exec(message);
    if (m) return f(m)[lang];
  }
  return message;
}

const GENERIC = {
  ja: {
    summary: '入力内容を確認してください',
    problem: 'お手続きできませんでした',
    network: 'サーバーに接続できませんでした。通信状態を確認して、もう一度お試しください。',
    retry: '{s}秒ほど待ってから、もう一度お試しください。',
    alternatives: '空いているほかの時間帯:',
  },
  en: {
    summary: 'Please check what you entered',
    problem: 'This could not be done',
    network: 'Could not reach the server. Check your connection and try again.',
    retry: 'Please wait about {s} seconds and try again.',
    alternatives: 'Other times with free seats:',
  },
};

/** Removes the field errors and the summary a previous showProblem added. */
export function clearProblems(form, summary) {
  if (form) {
    for (const el of form.querySelectorAll('.field-error[data-problem]')) el.remove();
    for (const el of form.querySelectorAll('[aria-invalid="true"]')) {
      el.removeAttribute('aria-invalid');
      const ids = (el.getAttribute('aria-describedby') || '').split(/\s+/).filter((id) => id && !id.endsWith('-error'));
      if (ids.length) el.setAttribute('aria-describedby', ids.join(' '));
      else el.removeAttribute('aria-describedby');
    }
  }
  if (summary) {
    clear(summary);
    summary.hidden = true;
  }
}

/** Puts one message next to a field (input, select, textarea or a fieldset of radios). */
export function markField(el, text) {
  const id = (el.id || 'field') + '-error';
  const msg = h('p', { class: 'field-error', id, 'data-problem': '1' }, text);
  const control = el.tagName === 'FIELDSET' ? el.querySelector('input, select') || el : el;
  if (el.tagName === 'FIELDSET') {
    const legend = el.querySelector('legend');
    if (legend) legend.after(msg); else el.prepend(msg);
  } else {
    el.before(msg);
  }
  for (const target of el.tagName === 'FIELDSET' ? el.querySelectorAll('input') : [control]) {
    target.setAttribute('aria-invalid', 'true');
    const ids = (target.getAttribute('aria-describedby') || '').split(/\s+/).filter(Boolean);
    if (!ids.includes(id)) ids.push(id);
    target.setAttribute('aria-describedby', ids.join(' '));
  }
  return msg;
}

/**
 * Shows a problem. Options:
 *   form: where fields live (found as #<prefix><field>), summary: the summary element,
 *   lang, labels: {field: label} for the summary, prefix: id prefix (default 'f-'),
 *   extra: more lines (e.g. advice for a code), onAlternative(slot): makes buttons of
 *   slot_full's alternatives, focus: move focus to the summary (default true).
 */
export function showProblem(problem, { form, summary, lang = 'ja', labels = {}, prefix = 'f-', extra = [], onAlternative, focus = true } = {}) {
  const g = GENERIC[lang] || GENERIC.ja;
  clearProblems(form, summary);
  const items = [];
  for (const e of problem.errors || []) {
    const text = fieldMessage(e.message, lang);
    const el = form && form.querySelector(`#${CSS.escape(prefix + e.field)}`);
    const label = labels[e.field] || e.field;
    if (el) {
      markField(el, text);
      const focusId = el.tagName === 'FIELDSET' ? (el.querySelector('input') || el).id : el.id;
      items.push(h('li', null, h('a', {
        href: '#' + focusId,
        onclick: (ev) => { ev.preventDefault(); const f = document.getElementById(focusId); if (f) { f.focus(); f.scrollIntoView({ block: 'center' }); } },
      }, `${label}: ${text}`)));
    } else {
      items.push(h('li', null, `${label}: ${text}`));
    }
  }
  if (!summary) return;
  const isNetwork = problem.status === 0;
  const heading = items.length ? g.summary : (problem.title || g.problem);
  const lines = [];
  if (isNetwork) lines.push(g.network);
  else if (!items.length && problem.detail && problem.detail !== problem.title) lines.push(problem.detail);
  if (problem.retryAfter) lines.push(g.retry.replace('{s}', problem.retryAfter));
  lines.push(...extra);
  summary.append(
    h('h2', { class: 'summary-title' }, isNetwork ? g.problem : heading),
    ...lines.map((l) => (l instanceof Node ? l : h('p', null, l))),
    items.length ? h('ul', null, items) : null,
  );
  if (problem.code === 'slot_full' && onAlternative && problem.alternatives.length) {
    summary.append(
      h('p', null, g.alternatives),
      h('div', { class: 'alternatives' }, problem.alternatives.map((slot) => h('button', {
        type: 'button', class: 'btn secondary small', 'data-slot': slot.id,
        onclick: () => onAlternative(slot),
      }, fmtSlot(slot, lang)))),
    );
  }
  summary.hidden = false;
  summary.dataset.code = problem.code;
  if (focus) focusTo(summary);
}
