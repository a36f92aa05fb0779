// "What to bring" for a procedure and applicant type, as the residents' pages and the phone
// console's read-back show it (t gives the words: bring.*, applicant.*).

import { h, replace } from './dom.js';

// On paper a folded list is opened (a closed <details> hides its content whatever the CSS), and
// folded again afterwards.
if (typeof window !== 'undefined') {
  const opened = [];
  window.addEventListener('beforeprint', () => {
    for (const d of document.querySelectorAll('details.bring:not([open])')) { d.open = true; opened.push(d); }
  });
  window.addEventListener('afterprint', () => { while (opened.length) opened.pop().open = false; });
}

export const procedureName = (p, lang) => (lang === 'en' && p.name_en ? p.name_en : p.name);
export const procedureNotes = (p, lang) => (lang === 'en' && p.notes_en && p.notes_en.length ? p.notes_en : p.notes || []);

/**
 * "What to bring" for a procedure and applicant type: the requirements, the visits and the
 * procedure's notes (the signature PIN at a kiosk, smartphone certificates, …). With
 * `collapsed`, el is a <details> (a page that repeats the list: its heading is the summary,
 * one tap opens it), so that a phone's page is not the same list three times over.
 */
export function renderBring(el, procedure, applicantType, t, { headingLevel = 3, collapsed = false } = {}) {
  if (!procedure || !applicantType) {
    el.hidden = true;
    return;
  }
  const a = procedure.applicants[applicantType] || {};
  const note = t.lang === 'en' ? a.visit_note_en || a.visit_note : a.visit_note;
  const notes = procedureNotes(procedure, t.lang);
  const title = `${t('bring.h')}: ${procedureName(procedure, t.lang)}(${t('applicant.' + applicantType)})`;
  replace(el,
    collapsed ? h('summary', null, title) : h('h' + headingLevel, null, title),
    t.lang === 'en' ? h('p', { class: 'hint' }, t('bring.jaOnly')) : null,
    h('ul', { lang: 'ja' }, (a.requirements || []).map((r) => h('li', null, r))),
    a.visits > 1 ? h('p', { class: 'visit-note' }, t('bring.visits', { n: a.visits }), note ? ' ' + note : '') : null,
    // Folded, the summary stands for the heading: the notes' heading takes its level.
    notes.length ? h('h' + (collapsed ? headingLevel : headingLevel + 1), null, t('bring.notes')) : null,
    notes.length ? h('ul', null, notes.map((n) => h('li', null, n))) : null);
  el.hidden = false;
}
