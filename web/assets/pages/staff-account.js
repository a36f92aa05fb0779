// One's own account (every role): the password changed (the current one, the new one twice),
// the second factor's state with the recovery codes left and new ones made with a code; and the
// set-up of an authenticator app (install, scan or type the key, type a code), then the recovery
// codes shown once. The set-up screen is all a session sees while its role must set one up.

import { api } from '../lib/api.js';
import * as endpoints from '../lib/endpoints.js';
import { h, replace, busy, focusTo } from '../lib/dom.js';
import { showProblem, clearProblems } from '../lib/problem.js';

const field = (id, label, control, hint) => h('div', { class: 'field' },
  h('label', { for: id }, label), hint ? h('span', { class: 'hint', id: id + '-hint' }, hint) : null, control);
const row = (k, ...v) => h('div', null, h('dt', null, k), h('dd', null, ...v));

/** A code field: the app's six digits (a number pad on phones), filled by the OS where it can. */
const codeInput = (id) => h('input', {
  id, name: 'totp', autocomplete: 'one-time-code', inputmode: 'numeric', autocapitalize: 'off',
  spellcheck: 'false', maxlength: 10, class: 'code-input', 'aria-describedby': id + '-hint',
});

/** The SVG document as an <img> source (never markup in the page). */
function svgDataUrl(svg) {
  let bin = '';
  for (const b of new TextEncoder().encode(svg)) bin += String.fromCharCode(b);
  return 'data:image/svg+xml;base64,' + btoa(bin);
}

/** A base32 secret in groups of four, for typing by hand. */
const grouped = (secret) => (secret.replace(/[\s=]+/g, '').match(/.{1,4}/g) || []).join(' ');

/**
 * The recovery codes, shown once: what they are for, that each works once, print or copy them,
 * a box to tick once they are kept, then `doneLabel` runs `onDone`.
 */
function recoveryCodes(ctx, codes, { doneLabel, onDone }) {
  const { t } = ctx;
  const saved = h('input', { type: 'checkbox', id: 'rc-saved' });
  const savedField = h('div', { class: 'field no-print' },
    h('label', { class: 'checkbox', for: 'rc-saved' }, saved, h('span', null, t('rc.saved'))));
  const copy = h('button', { type: 'button', class: 'btn secondary small', 'data-action': 'copy' }, t('rc.copy'));
  copy.addEventListener('click', async () => {
    try {
      await navigator.clipboard.writeText(codes.join('\n'));
      ctx.toast(t('rc.copied'));
    } catch {
      ctx.toast(t('rc.copyFailed'), true);
    }
  });
  const print = h('button', { type: 'button', class: 'btn secondary small', 'data-action': 'print', onclick: () => window.print() }, t('rc.print'));
  const done = h('button', { type: 'button', class: 'btn', 'data-action': 'continue' }, doneLabel);
  done.addEventListener('click', () => {
    const old = savedField.querySelector('.field-error');
    if (old) old.remove();
    if (!saved.checked) {
      savedField.prepend(h('p', { class: 'field-error', id: 'rc-saved-error' }, t('rc.savedFirst')));
      saved.setAttribute('aria-invalid', 'true');
      saved.setAttribute('aria-describedby', 'rc-saved-error');
      saved.focus();
      return;
    }
    onDone();
  });
  saved.addEventListener('change', () => {
    if (!saved.checked) return;
    const old = savedField.querySelector('.field-error');
    if (old) old.remove();
    saved.removeAttribute('aria-invalid');
    saved.removeAttribute('aria-describedby');
  });
  return h('section', { class: 'card recovery', 'aria-labelledby': 'rc-title', 'data-testid': 'recovery' },
    h('h2', { id: 'rc-title' }, t('rc.title')),
    h('div', { class: 'notice warn' },
      h('p', null, t('rc.what')),
      h('p', null, h('strong', null, t('rc.once'))),
      h('p', null, t('rc.keep'))),
    h('ol', { class: 'recovery-codes', 'data-testid': 'recovery-codes' }, codes.map((c) => h('li', null, h('code', null, c)))),
    h('div', { class: 'actions' }, copy, print),
    savedField,
    h('div', { class: 'actions' }, done));
}

// ---------- setting up an authenticator app ----------

export function mountEnrol(root, ctx) {
  const { t, lang, user } = ctx;
  const head = h('div', { class: 'view-head' }, h('h1', null, t('enrol.h')));
  const back = user.must_enrol_totp ? null : h('p', null, h('a', { href: '#/account' }, t('enrol.back')));
  if (user.totp_enrolled) {
    replace(root, head, h('p', { class: 'notice' }, t('enrol.already')), back);
    return;
  }
  const step = (n, key, ...body) => h('section', { class: 'card enrol-step', 'aria-labelledby': 'enrol-s' + n },
    h('h2', { id: 'enrol-s' + n, class: 'card-title' }, h('span', { class: 'step-no' }, String(n)), h('span', null, t(key))), ...body);
  const loadSummary = h('div', { class: 'error-summary', hidden: true });
  const keyBox = h('div', { 'data-testid': 'enrol-key' }, h('p', { class: 'loading', role: 'status' }, t('loading')));
  const code = codeInput('e-totp');
  const submit = h('button', { type: 'submit', class: 'btn', id: 'enrol-submit' }, t('enrol.submit'));
  const summary = h('div', { class: 'error-summary', hidden: true });
  const form = h('form', { id: 'enrol-form', novalidate: true }, summary,
    field('e-totp', t('enrol.code'), code, t('enrol.code.hint')), submit);
  replace(root, head,
    user.must_enrol_totp
      ? h('p', { class: 'notice warn' }, t('enrol.required', { role: t('role.' + user.role) }))
      : h('p', null, t('enrol.voluntary')),
    loadSummary,
    step(1, 'enrol.step1', h('p', null, t('enrol.step1.body'))),
    step(2, 'enrol.step2', keyBox),
    step(3, 'enrol.step3', form),
    back);

  // A new secret each time this screen opens (an unconfirmed one is replaced).
  (async () => {
    try {
      const e = await api(endpoints.staffMyTotp(), { method: 'POST' });
      replace(keyBox,
        h('p', null, t('enrol.step2.body')),
        h('img', { class: 'qr', src: svgDataUrl(e.qr_svg), alt: t('enrol.qr'), width: 220, height: 220, 'data-testid': 'totp-qr' }),
        h('p', null, t('enrol.key.body')),
        h('dl', { class: 'summary' },
          row(t('enrol.key'), h('code', { class: 'secret', 'data-testid': 'totp-secret' }, grouped(e.secret))),
          row(t('enrol.account'), user.login),
          row(t('enrol.kind'), t('enrol.kind.value'))),
        h('p', { class: 'hint' }, t('enrol.key.note')));
    } catch (p) {
      if (p.status === 401) return; // signed out: the sign-in says why
      replace(keyBox);
      showProblem(p, { summary: loadSummary, lang });
    }
  })();

  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const typed = code.value.trim();
    const labels = { totp: t('enrol.code') };
    if (!typed) {
      showProblem({ status: 422, errors: [{ field: 'totp', code: 'required' }] }, { form, summary, lang, prefix: 'e-', labels });
      return;
    }
    await busy(submit, async () => {
      try {
        const r = await api(endpoints.staffMyTotpConfirm(), { method: 'POST', body: { totp: typed } });
        showCodes(r.recovery_codes);
      } catch (p) {
        code.value = '';
        showProblem(p, { form, summary, lang, prefix: 'e-', labels });
      }
    });
  });

  function showCodes(codes) {
    const h1 = h('h1', { tabindex: '-1' }, t('rc.h'));
    document.title = `${t('rc.h')} | ${t('title')}`;
    replace(root,
      h('div', { class: 'view-head' }, h1),
      h('p', { class: 'notice ok', role: 'status' }, t('enrol.done')),
      recoveryCodes(ctx, codes, { doneLabel: t('rc.continue'), onDone: () => ctx.afterEnrolment() }));
    focusTo(h1);
  }
}

// ---------- the account section ----------

export function mount(root, ctx) {
  const { t, lang } = ctx;
  const me = h('dl', { class: 'summary', 'data-testid': 'account-me' });

  // The password: the current one, the new one twice (compared here before it is sent).
  const current = h('input', { id: 'ac-current_password', name: 'current_password', type: 'password', autocomplete: 'current-password' });
  const fresh = h('input', { id: 'ac-new_password', name: 'new_password', type: 'password', autocomplete: 'new-password', 'aria-describedby': 'ac-new_password-hint' });
  const again = h('input', { id: 'ac-new_password_again', name: 'new_password_again', type: 'password', autocomplete: 'new-password', 'aria-describedby': 'ac-new_password_again-hint' });
  const pwSubmit = h('button', { type: 'submit', class: 'btn', id: 'pw-submit' }, t('pw.submit'));
  const pwSummary = h('div', { class: 'error-summary', hidden: true });
  const pwDone = h('p', { class: 'notice ok', role: 'status', hidden: true, 'data-testid': 'pw-done' });
  const pwForm = h('form', { id: 'password-form', novalidate: true }, pwSummary,
    // For password managers: whose password this is.
    h('input', { type: 'text', name: 'username', autocomplete: 'username', value: ctx.user.login, hidden: true, readonly: true, tabindex: '-1' }),
    field('ac-current_password', t('pw.current'), current),
    field('ac-new_password', t('pw.new'), fresh, t('pw.new.hint')),
    field('ac-new_password_again', t('pw.again'), again, t('pw.again.hint')),
    pwSubmit);
  const pwLabels = { current_password: t('pw.current'), new_password: t('pw.new'), new_password_again: t('pw.again') };

  const tfBox = h('div', { 'data-testid': 'totp-state' }, h('p', { class: 'loading' }, t('loading')));
  replace(root,
    h('div', { class: 'view-head' }, h('h1', null, t('account.h'))),
    h('section', { class: 'card', 'aria-labelledby': 'ac-me-h' }, h('h2', { id: 'ac-me-h' }, t('account.me')), me),
    h('div', { class: 'cols even' },
      h('section', { class: 'card', 'aria-labelledby': 'ac-pw-h' }, h('h2', { id: 'ac-pw-h' }, t('pw.h')), pwDone, pwForm),
      h('section', { class: 'card', 'aria-labelledby': 'ac-tf-h' }, h('h2', { id: 'ac-tf-h' }, t('tf.h')), tfBox)));

  pwForm.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    pwDone.hidden = true;
    const errors = [];
    if (!current.value) errors.push({ field: 'current_password', code: 'required' });
    if (!fresh.value) errors.push({ field: 'new_password', code: 'required' });
    else if (again.value !== fresh.value) errors.push({ field: 'new_password_again', code: 'password_mismatch' });
    if (errors.length) {
      showProblem({ status: 422, errors }, { form: pwForm, summary: pwSummary, lang, prefix: 'ac-', labels: pwLabels });
      return;
    }
    await busy(pwSubmit, async () => {
      try {
        await api(endpoints.staffMyPassword(), { method: 'PUT', body: { current_password: current.value, new_password: fresh.value } });
        clearProblems(pwForm, pwSummary);
        pwForm.reset();
        pwDone.textContent = t('pw.done');
        pwDone.hidden = false;
        focusTo(pwDone);
      } catch (p) {
        if (p.errors.some((e) => e.field === 'current_password')) current.value = '';
        if (p.errors.some((e) => e.field === 'new_password')) { fresh.value = ''; again.value = ''; }
        showProblem(p, { form: pwForm, summary: pwSummary, lang, prefix: 'ac-', labels: pwLabels });
      }
    });
  });

  async function load() {
    try {
      const who = await api(endpoints.staffCurrentSession());
      Object.assign(ctx.user, who);
      replace(me,
        row(t('account.login'), h('span', { class: 'mono' }, who.login)),
        row(t('account.name'), who.display_name),
        row(t('account.role'), t('role.' + who.role)));
      renderTotp(who);
    } catch (p) {
      if (p.status !== 401) replace(tfBox, h('p', { class: 'notice danger' }, p.title || p.message));
    }
  }

  function renderTotp(who) {
    const state = h('dl', { class: 'summary' },
      row(t('tf.state'),
        h('span', { class: 'status-badge ' + (who.totp_enrolled ? 'confirmed' : ''), 'data-testid': 'totp-badge' }, t(who.totp_enrolled ? 'tf.on' : 'tf.off')),
        ' ', h('small', null, t(who.totp_required ? 'tf.required' : 'tf.optional'))),
      who.totp_enrolled ? row(t('tf.left'), h('span', { 'data-testid': 'codes-left' }, t('tf.leftN', { n: who.recovery_codes_left }))) : null);
    if (!who.totp_enrolled) {
      replace(tfBox, state, h('p', null, t('tf.about')),
        h('p', null, h('a', { class: 'btn', href: '#/account/totp', 'data-action': 'setup-totp' }, t('tf.setup'))));
      return;
    }
    const code = codeInput('rc-totp');
    const submit = h('button', { type: 'submit', class: 'btn secondary', id: 'renew-submit' }, t('tf.renew.submit'));
    const summary = h('div', { class: 'error-summary', hidden: true });
    const form = h('form', { id: 'renew-form', novalidate: true, 'aria-labelledby': 'ac-renew-h' },
      h('h3', { id: 'ac-renew-h' }, t('tf.renew.h')),
      h('p', null, t('tf.renew.body')),
      summary,
      field('rc-totp', t('tf.renew.code'), code, t('tf.renew.code.hint')),
      submit);
    const shown = h('div');
    replace(tfBox, state,
      who.recovery_codes_left <= 3 ? h('p', { class: 'notice warn' }, t('tf.low')) : null,
      form, shown,
      h('p', { class: 'hint' }, t('tf.lost')));
    form.addEventListener('submit', async (ev) => {
      ev.preventDefault();
      const labels = { totp: t('tf.renew.code') };
      const typed = code.value.trim();
      if (!typed) {
        showProblem({ status: 422, errors: [{ field: 'totp', code: 'required' }] }, { form, summary, lang, prefix: 'rc-', labels });
        return;
      }
      await busy(submit, async () => {
        try {
          const r = await api(endpoints.staffMyRecoveryCodes(), { method: 'POST', body: { totp: typed } });
          clearProblems(form, summary);
          code.value = '';
          form.hidden = true;
          const done = h('p', { class: 'notice ok', role: 'status' }, t('tf.renew.done'));
          replace(shown, done, recoveryCodes(ctx, r.recovery_codes, {
            doneLabel: t('rc.close'),
            onDone: () => load().then(() => focusTo(document.getElementById('ac-tf-h'))),
          }));
          focusTo(done);
        } catch (p) {
          code.value = '';
          showProblem(p, { form, summary, lang, prefix: 'rc-', labels });
        }
      });
    });
  }

  load();
}
