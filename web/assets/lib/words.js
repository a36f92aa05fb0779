// A closed day's reason in the server's words (/assets/words.js, which the server makes from the
// tables its problem details use; the residents' calendar imports it too). Loaded once, on first
// use, with a dynamic import, so that the consoles' pure functions still load in Node (their unit
// tests), where that module does not exist.

let words;

/** The closed reasons in `lang` (code → words), or {} when the module cannot be had. */
export function closedReasons(lang) {
  if (!words) words = import('/assets/words.js').then((m) => m.WORDS).catch(() => null);
  return words.then((w) => (w && (w[lang] || w.ja).closed_reason) || {});
}
