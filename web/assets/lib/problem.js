// Problems (application/problem+json) shown where they belong: a field's message next to the
// field (aria-invalid, aria-describedby), everything else in a summary at the top of the form
// that takes focus, with links to the fields; slot_full's alternatives as buttons.

import { h, clear, focusTo } from './dom.js';
import { fmtSlot } from './format.js';

// The server names each field problem with a stable `code` and words it in the request's
// language (Accept-Language); the pages say it in their own words where they have better ones
// (with an example), by `field:code` first, then by `code`, else they show the server's message.
const FIELD_WORDS = {
  required: { ja: '入力してください。', en: 'Please fill this in.' },
  not_katakana: {
    ja: '全角カタカナで入力してください(例: ヤマダ タロウ)。',
    en: 'Write it in katakana (e.g. ヤマダ タロウ).',
  },
  not_phone: {
    ja: '電話番号は10桁または11桁で入力してください(例: 090-1234-5678)。',
    en: 'Enter a Japanese phone number of 10 or 11 digits (e.g. 090-1234-5678).',
  },
  not_email: {
    ja: 'メールアドレスの形式で入力してください(例: taro@example.jp)。',
    en: 'Enter an email address (e.g. taro@example.jp).',
  },
  control_characters: { ja: '使用できない文字が含まれています。', en: 'This contains characters that cannot be used.' },
  invisible_only: { ja: '空白だけでは入力できません。', en: 'Enter some visible text.' },
  individual_number: {
    ja: 'マイナンバー(個人番号12桁)は入力しないでください。予約には必要ありません。',
    en: 'Do not enter an individual number (My Number): it is never needed here.',
  },
  representative_required: {
    ja: 'ご本人以外の方が来庁される場合は、来庁される方のお名前を入力してください。',
    en: "Enter the name of the person who comes in the holder's place.",
  },
  same_person: { ja: '同じ方がすでにこの予約に入っています。', en: 'This person is already in this booking.' },
  override_reason_required: { ja: '受付期間外の予約には理由が必要です。', en: 'A reason is required to book outside the window.' },
  password_contains_login: { ja: 'ログイン名を含むパスワードは使えません。', en: 'It must not contain the login.' },
  password_common: {
    ja: '推測されやすいパスワードです(よく使われるもの、単純な並び、語と年の組み合わせなど)。関係のない語をいくつか組み合わせてください。',
    en: 'This is too easy to guess (a common password, a simple pattern, a word and a year). Combine several unrelated words.',
  },
  password_mismatch: {
    ja: '新しいパスワードと一致しません。同じものをもう一度入力してください。',
    en: 'This does not match the new password. Type the same one again.',
  },
  'current_password:wrong_password': {
    ja: '現在のパスワードが違います。いまログインに使っているパスワードを入力してください。',
    en: 'This is not your current password (the one you signed in with).',
  },
  wrong_code: {
    ja: '認証アプリに表示されているコードと一致しません。コードが切り替わった直後なら新しいコードを入力してください。何度も合わないときは、スマートフォンの時刻が自動設定になっているか確認してください。',
    en: "This is not the code the authenticator shows now. If it just changed, type the new one; if it never matches, check that the phone sets its clock automatically.",
  },
  'applicant_type:not_one_of': { ja: '来庁される方を選んでください。', en: 'Choose who comes to the counter.' },
  'procedure:required': { ja: '用件を選んでください。', en: 'Choose a procedure.' },
  'role:not_one_of': { ja: '役割を選んでください。', en: 'Choose a role.' },
};

/**
 * The message for a field error ({field, code, message} from the server, or a page's own check
 * as {field, code}), in the page's language.
 */
export function fieldMessage(error, lang) {
  const words = FIELD_WORDS[`${error.field}:${error.code}`] || FIELD_WORDS[error.code];
  if (words) return words[lang] || words.ja;
  return error.message || error.code || '';
}

const GENERIC = {
  ja: {
    summary: '入力内容を確認してください',
    problem: 'お手続きできませんでした',
    network: 'サーバーに接続できませんでした。通信状態を確認して、もう一度お試しください。',
    retry: '{s}秒ほど待ってから、もう一度お試しください。',
    retryMinutes: '{m}分ほど待ってから、もう一度お試しください。',
    rateLimited: '短い時間に続けて送信されたため、いまは受け付けられません',
    alternatives: '空いているほかの時間帯:',
  },
  en: {
    summary: 'Please check what you entered',
    problem: 'This could not be done',
    network: 'Could not reach the server. Check your connection and try again.',
    retry: 'Please wait about {s} seconds and try again.',
    retryMinutes: 'Please wait about {m} minutes and try again.',
    rateLimited: 'Too many tries in a short time; this cannot be taken now',
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
    const text = fieldMessage(e, lang);
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
  const wait = Number(problem.retryAfter);
  const heading = items.length ? g.summary
    : problem.code === 'rate_limited' && wait > 0 ? g.rateLimited : (problem.title || g.problem);
  const lines = [];
  // A wait is said once, in minutes when it is long (not the title, the detail and this line,
  // each in its own words, and not "597秒").
  if (isNetwork) lines.push(g.network);
  else if (wait > 0) lines.push(wait > 60 ? g.retryMinutes.replace('{m}', Math.ceil(wait / 60)) : g.retry.replace('{s}', wait));
  else if (!items.length && problem.detail && problem.detail !== problem.title) lines.push(problem.detail);
  lines.push(...extra);
  // Element.append writes null as the text "null": only what there is.
  summary.append(...[
    h('h2', { class: 'summary-title' }, isNetwork ? g.problem : heading),
    ...lines.map((l) => (l instanceof Node ? l : h('p', null, l))),
    items.length ? h('ul', null, items) : null,
  ].filter(Boolean));
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
