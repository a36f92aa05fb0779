// Modal dialogs (<dialog>, keyboard and screen-reader friendly): a confirmation, and a small
// form whose submit handler may refuse (keeping the dialog open with the problem shown).

import { h } from './dom.js';

let n = 0;
/** The close functions of the dialogs open now (closeAll ends them, e.g. at sign-out). */
const openDialogs = new Set();

/** Closes every open dialog as if dismissed (their promises resolve false). */
export function closeAll() {
  for (const close of [...openDialogs]) close(false);
}

/**
 * Opens a modal. content: nodes; onOk(dialog) may return false (or throw) to keep it open.
 * Resolves with onOk's result, or false when dismissed. Focus returns to the opener.
 */
export function modal({ title, content = [], ok, cancel, danger = false, testid, onOk, initialFocus }) {
  return new Promise((resolve) => {
    const id = 'dlg' + ++n;
    const okBtn = h('button', { type: 'submit', class: danger ? 'btn danger' : 'btn', 'data-action': 'ok' }, ok);
    const form = h('form', { method: 'dialog', novalidate: true },
      h('h2', { id: id + '-h' }, title),
      ...content,
      h('div', { class: 'actions' },
        okBtn,
        h('button', { type: 'button', class: 'btn secondary', 'data-action': 'cancel', onclick: () => close(false) }, cancel)));
    const dlg = h('dialog', { 'aria-labelledby': id + '-h', 'data-testid': testid || 'dialog' }, form);
    const opener = document.activeElement;
    let done = false;
    function close(v) {
      if (done) return;
      done = true;
      openDialogs.delete(close);
      dlg.close();
      dlg.remove();
      if (opener && opener.focus && document.contains(opener)) opener.focus();
      resolve(v);
    }
    form.addEventListener('submit', async (e) => {
      e.preventDefault();
      if (!onOk) { close(true); return; }
      okBtn.disabled = true;
      okBtn.setAttribute('aria-busy', 'true');
      try {
        const r = await onOk(dlg);
        if (r !== false) close(r === undefined ? true : r);
      } catch {
        /* onOk showed the problem */
      } finally {
        okBtn.disabled = false;
        okBtn.removeAttribute('aria-busy');
      }
    });
    dlg.addEventListener('cancel', (e) => { e.preventDefault(); close(false); });
    document.body.append(dlg);
    openDialogs.add(close);
    dlg.showModal();
    const first = initialFocus ? dlg.querySelector(initialFocus) : null;
    (first || dlg.querySelector('[data-action="cancel"]')).focus();
  });
}

/** A yes/no question; resolves true when confirmed. */
export function confirmDialog({ title, body, ok, cancel, danger = false, testid }) {
  return modal({ title, content: [h('p', null, body)], ok, cancel, danger, testid });
}
