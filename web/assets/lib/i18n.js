// Language: Japanese first; `?lang=en` (or the switch) selects English and is remembered on
// this browser, so the mailed links open in the language the resident chose.

import { store } from './dom.js';

const KEY = 'madoguchi.lang';

export function pickLang(storageKey = KEY) {
  const q = new URLSearchParams(location.search).get('lang');
  if (q === 'en' || q === 'ja') {
    store.set(storageKey, q);
    return q;
  }
  const saved = store.get(storageKey);
  return saved === 'en' ? 'en' : 'ja';
}

/** The current URL with lang=… set (other parameters, such as a token, kept). */
export function langHref(lang) {
  const u = new URL(location.href);
  u.searchParams.set('lang', lang);
  return u.pathname + u.search + u.hash;
}

/** t(key, {vars}) over dict[lang] with dict.ja as fallback; {name} placeholders. */
export function makeT(dict, lang) {
  const table = dict[lang] || dict.ja;
  const t = (key, vars) => {
    let s = table[key];
    if (s === undefined) s = dict.ja[key];
    if (s === undefined) return key;
    if (typeof s === 'function') return s(vars || {});
    if (vars) s = s.replace(/\{(\w+)\}/g, (m, k) => (vars[k] === undefined ? m : String(vars[k])));
    return s;
  };
  t.lang = lang;
  t.has = (key) => table[key] !== undefined || dict.ja[key] !== undefined;
  return t;
}

/**
 * Fills the static page: [data-i18n] text, [data-i18n-attr="attr:key;attr:key"] attributes,
 * <html lang>, and the document title from [data-i18n-title] on <html>.
 */
export function applyI18n(t, root = document) {
  document.documentElement.lang = t.lang;
  for (const el of root.querySelectorAll('[data-i18n]')) el.textContent = t(el.dataset.i18n);
  for (const el of root.querySelectorAll('[data-i18n-attr]')) {
    for (const pair of el.dataset.i18nAttr.split(';')) {
      const [attr, key] = pair.split(':').map((s) => s.trim());
      if (attr && key) el.setAttribute(attr, t(key));
    }
  }
  const titleKey = document.documentElement.dataset.i18nTitle;
  if (titleKey) document.title = t(titleKey);
}
