// Printing a ticket (番号札) on the counter's receipt printer, from the staff console's desk and
// from the kiosk. The printed page needs the staff token, so a page cannot simply open it:
// it is fetched with api() (which sends the Authorization header), written into a hidden
// frame (srcdoc: same origin and the same CSP as the page, /assets/print.css laid out for
// 80 mm, the page made as long as the ticket), and that frame prints once its style sheet,
// QR image and fonts are in.
//
// In Chromium, print() returns when the print dialog is closed (or at once where no dialog is
// shown, as in headless runs and a kiosk started with --kiosk-printing, which prints straight
// to the default printer). printTicket resolves once printing was asked, and rejects with the
// API's Problem (403, 404 ticket_not_found, …) when the page could not be had.

import { api } from './api.js';
import * as endpoints from './endpoints.js';

/** How long a frame is kept after print() when the browser never says the printing ended. */
const KEEP_MS = 60000;
/** Fonts and images get this long before printing goes ahead without them. */
const READY_MS = 3000;

let current = null;

const later = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** Resolves when `promise` settles or `ms` pass, whichever is first (never rejects). */
function atMost(promise, ms) {
  return Promise.race([Promise.resolve(promise).catch(() => undefined), later(ms)]);
}

function removeFrame(frame) {
  if (frame && frame.isConnected) frame.remove();
  if (current === frame) current = null;
}

/**
 * Makes the printed page as long as the ticket (print.css says 80 mm wide; a length of "auto"
 * is not CSS): the ticket's height, measured at its 72 mm width, in mm, plus a little, as an
 * @page rule added through the CSSOM (an inline <style> would be refused by the CSP).
 */
function fitPage(doc) {
  try {
    const box = doc.querySelector('main') || doc.body;
    const mm = Math.ceil((box.getBoundingClientRect().height * 25.4) / 96) + 4;
    if (!(mm > 20)) return;
    const sheet = [...doc.styleSheets].find((s) => { try { return !!s.cssRules; } catch { return false; } });
    if (sheet) sheet.insertRule(`@page { size: 80mm ${Math.min(mm, 600)}mm; margin: 0; }`, sheet.cssRules.length);
  } catch { /* the static page size (print.css) applies */ }
}

/**
 * Prints ticket `ticket` (W-034) of `counter` on `date` (YYYY-MM-DD; default: the counter's
 * today). Resolves `{ ticket }` when printing was asked; rejects with a Problem when the
 * printed page could not be fetched.
 */
export async function printTicket({ counter, ticket, date } = {}) {
  const html = await api(endpoints.deskTicketPrint(counter, ticket, date), { accept: 'text/html' });
  if (typeof html !== 'string' || !html) throw new Error('the printed ticket is empty');
  // One ticket at a time: a frame still kept from the last one goes.
  removeFrame(current);
  const frame = document.createElement('iframe');
  current = frame;
  frame.className = 'print-frame visually-hidden';
  frame.title = `番号札 ${ticket}(印刷用) / Ticket ${ticket} (for printing)`;
  frame.setAttribute('aria-hidden', 'true');
  frame.setAttribute('tabindex', '-1');
  frame.setAttribute('width', '0');
  frame.setAttribute('height', '0');
  const loaded = new Promise((resolve) => frame.addEventListener('load', resolve, { once: true }));
  frame.srcdoc = html;
  document.body.append(frame);
  await atMost(loaded, 10000);
  const win = frame.contentWindow;
  const doc = frame.contentDocument;
  if (!win || !doc) {
    removeFrame(frame);
    throw new Error('the print frame did not load');
  }
  // The QR code and the Japanese font are in before the page goes to the printer.
  const images = [...doc.images].map((img) => (img.decode ? img.decode() : null));
  await atMost(Promise.all([doc.fonts ? doc.fonts.ready : null, ...images]), READY_MS);
  fitPage(doc);
  win.addEventListener('afterprint', () => setTimeout(() => removeFrame(frame), 500), { once: true });
  setTimeout(() => removeFrame(frame), KEEP_MS);
  try {
    win.focus();
    win.print();
  } catch (e) {
    removeFrame(frame);
    throw e;
  }
  return { ticket };
}
