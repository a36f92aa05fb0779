// What the residents' pages share: language, header and footer, the counters and procedures,
// "what to bring", and the page shown for a link that cannot be used.

import { api, setApiLang, onBusy } from './api.js';
import * as endpoints from './endpoints.js';
import { h, $, replace } from './dom.js';
import { pickLang, makeT, applyI18n, langHref } from './i18n.js';
import { RESIDENT } from '../i18n/resident.js';

export { procedureName, procedureNotes, renderBring } from './bring.js';

export const APPLICANT_TYPES = ['holder', 'legal_representative', 'voluntary_proxy'];
export const CHOICE_KEY = 'madoguchi.choice';

/** Sets the language up and fills the static page. Returns t (t.lang is the language). */
export function initPage() {
  const lang = pickLang();
  const t = makeT(RESIDENT, lang);
  setApiLang(lang);
  applyI18n(t);
  // The words are in: the page may be drawn (app.css kept it hidden until now).
  document.documentElement.removeAttribute('data-pending');
  sayWhenBusy(t);
  const sw = $('#lang-switch');
  if (sw) {
    const other = lang === 'en' ? 'ja' : 'en';
    sw.href = langHref(other);
    sw.lang = other;
    sw.hreflang = other;
    sw.setAttribute('aria-label', t('site.switchLabel'));
  }
  return t;
}

/**
 * While the service sheds load, a request answered `busy` is sent again by api(); the resident
 * is told so in a live region at the top of the page, that what they entered is kept, and
 * when the page tries again.
 */
function sayWhenBusy(t) {
  // Beside the main content, not in it: the pages redraw their main content as they go.
  const status = h('p', { id: 'busy-status', class: 'notice busy', role: 'status', 'aria-live': 'polite', hidden: true });
  const main = $('main');
  if (main) main.before(status);
  else document.body.prepend(status);
  onBusy((busy) => {
    if (!busy) {
      status.hidden = true;
      status.textContent = '';
      return;
    }
    status.textContent = t('busy.waiting').replace('{s}', String(busy.waitSeconds));
    status.hidden = false;
  });
}

let catalog = null;
/**
 * {counters, procedures, city, mailFrom}, loaded once per page. The city (the server's
 * city_name) goes into the header and the title; mailFrom is the sender residents allow.
 */
export function loadCatalog() {
  if (!catalog) {
    catalog = Promise.all([api(endpoints.counters()), api(endpoints.procedures())])
      .then(([c, p]) => {
        showCity(c.city_name || '');
        return { counters: c.counters, procedures: p.procedures, city: c.city_name || '', mailFrom: c.mail_from || '' };
      })
      .catch((e) => { catalog = null; throw e; });
  }
  return catalog;
}

function showCity(city) {
  if (!city) return;
  const el = $('#site-city');
  if (el) {
    el.textContent = city;
    // The server names the city in Japanese only.
    if (document.documentElement.lang !== 'ja') el.lang = 'ja';
  }
  if (!document.title.endsWith(' | ' + city)) document.title += ' | ' + city;
}

export const counterName = (c, lang) => (lang === 'en' && c.name_en ? c.name_en : c.name);

/** A link to call: ☎ 0748-36-5560 */
export function telLink(phone) {
  return h('a', { href: 'tel:' + phone.replace(/[^\d+]/g, '') }, phone);
}

/** The footer's telephone line, one per counter that has a number. */
export function fillPhones(el, counters, t) {
  if (!el) return;
  const withPhone = counters.filter((c) => c.phone);
  if (!withPhone.length) { el.hidden = true; return; }
  replace(el, t('footer.call'), ' ', ...withPhone.flatMap((c, i) => [
    i ? ' / ' : '', counterName(c, t.lang), ' ', telLink(c.phone)]));
  el.hidden = false;
}

/** The page for a link that cannot be used: what happened and how to start again. */
export function renderInvalid(main, code, t, counters = []) {
  const key = t.has('invalid.' + code) ? 'invalid.' + code : 'invalid.verification_not_found';
  const phones = counters.filter((c) => c.phone);
  replace(main, h('section', { class: 'card page-message', 'data-testid': 'invalid', 'data-code': code },
    h('h1', { tabindex: '-1', id: 'invalid-h' }, t('invalid.h')),
    h('p', null, t(key)),
    h('p', null, h('a', { class: 'btn', href: t.lang === 'en' ? '/?lang=en' : '/' }, t('invalid.restart'))),
    phones.length ? h('p', { class: 'phone-line' }, t('invalid.call'), ' ', ...phones.flatMap((c, i) => [i ? ' / ' : '', counterName(c, t.lang), ' ', telLink(c.phone)])) : null));
  const hd = $('#invalid-h');
  if (hd) hd.focus();
}

/**
 * Under a day full for the web (its window open): its waiting list (キャンセル待ち). onJoin(day)
 * is called when the resident chooses it.
 */
export function renderWaitlistOffer(el, day, t, onJoin) {
  replace(el, h('div', { class: 'notice', 'data-testid': 'waitlist-offer' },
    h('p', null, h('strong', null, t('wait.offer'))),
    h('p', null, t('wait.lead')),
    h('button', { type: 'button', class: 'btn secondary', 'data-testid': 'waitlist-join', onclick: () => onJoin(day) }, t('wait.join'))));
}

/** The steps bar: index of the current step (0-based). */
export function setStep(ol, current) {
  if (!ol) return;
  [...ol.children].forEach((li, i) => {
    if (i === current) li.setAttribute('aria-current', 'step'); else li.removeAttribute('aria-current');
    li.classList.toggle('done', i < current);
  });
}

/** A status badge for a reservation. */
export function statusBadge(status, t) {
  return h('span', { class: 'status-badge ' + status, 'data-status': status }, t('status.' + status));
}

/** Hiragana to katakana, half-width to full-width (NFKC), as the server stores kana. */
export function toKatakana(v) {
  return v.normalize('NFKC').replace(/[\u3041-\u3096\u309D\u309E]/g, (c) => String.fromCharCode(c.charCodeAt(0) + 0x60));
}

/**
 * Cheap client checks mirroring the server's, so most mistakes show before a round trip. Each
 * returns null or the server's field-problem code (`required`, `not_katakana`, …).
 */
export const checks = {
  kana(v) {
    const s = v.normalize('NFKC').trim();
    if (!s) return 'required';
    return /^[\u3041-\u3096\u309D\u309E\u30A1-\u30FAー・ヽヾ\s\u3000]+$/.test(s) ? null : 'not_katakana';
  },
  phone(v) {
    const s = v.normalize('NFKC').trim();
    if (!s) return 'required';
    if (/[^\d\-\s()+ー‐−]/.test(s)) return 'not_phone';
    let d = s.replace(/\D/g, '');
    if (s.startsWith('+81')) d = '0' + d.slice(2).replace(/^0/, '');
    return d.length === 10 || d.length === 11 ? null : 'not_phone';
  },
  required(v) { return v.trim() ? null : 'required'; },
  email(v) { return /^[^\s@]+@[^\s@]+\.[^\s@]+$/.test(v.trim()) ? null : 'not_email'; },
  /** A 12-digit run passing the My Number check digit. */
  individualNumber(v) {
    const digits = v.normalize('NFKC').replace(/[\s-]/g, '');
    for (const m of digits.matchAll(/\d{12,}/g)) {
      for (let i = 0; i + 12 <= m[0].length; i++) {
        if (isIndividualNumber(m[0].slice(i, i + 12))) return 'individual_number';
      }
    }
    return null;
  },
};

export function isIndividualNumber(d) {
  if (!/^\d{12}$/.test(d)) return false;
  let sum = 0;
  for (let n = 1; n <= 11; n++) {
    const p = +d[11 - n];
    const q = n <= 6 ? n + 1 : n - 5;
    sum += p * q;
  }
  const r = sum % 11;
  const check = r <= 1 ? 0 : 11 - r;
  return check === +d[11];
}
