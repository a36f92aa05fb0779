// Every path of the JSON API that the pages call, in one place: each function returns the path
// (and query) as a string for api() (or for an <img> or an EventSource). Path segments are
// encoded with encodeURIComponent, query strings with URLSearchParams. No other file under
// web/assets/ writes an API path itself (tests/browser/tests/00-assets.test.js checks it).

const V1 = '/api/v1';

/** Encodes one path segment. */
const seg = (s) => encodeURIComponent(String(s));

/** `?k=v&…` of the parameters given (undefined and null left out), or '' for none. */
function query(params) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== null) q.set(k, String(v));
  const s = q.toString();
  return s ? '?' + s : '';
}

// ---------- the catalogue and the calendar (public) ----------

export const counters = () => `${V1}/counters`;
export const procedures = () => `${V1}/procedures`;
/** A counter's slots from `from` to `to` (YYYY-MM-DD, both included). */
export const availability = (counter, from, to) => `${V1}/counters/${seg(counter)}/availability${query({ from, to })}`;

// ---------- the residents: verification, reservations, the waiting list ----------

/** POST: mail a verification link. */
export const verifications = () => `${V1}/verifications`;
/** GET: what a verification token allows. */
export const verification = (token) => `${V1}/verifications/${seg(token)}`;
/** POST: book (with a verification token). */
export const reservations = () => `${V1}/reservations`;
/** GET, DELETE: a reservation by its manage token. */
export const reservation = (token) => `${V1}/reservations/${seg(token)}`;
export const reservationQr = (token) => `${reservation(token)}/qr.svg`;
export const reservationReschedule = (token) => `${reservation(token)}/reschedule`;
export const reservationSecondVisit = (token) => `${reservation(token)}/second-visit`;
/** DELETE: cancel one of a party's others (by their number) with the party's first person's token. */
export const reservationPartyMember = (token, number) => `${reservation(token)}/party/${seg(number)}`;
/** POST: keep the chosen slot while the form is filled in (仮押さえ). */
export const holds = () => `${V1}/holds`;
/** DELETE: let a hold go. */
export const hold = (id) => `${V1}/holds/${seg(id)}`;
/** POST: join a day's waiting list. */
export const waitlist = () => `${V1}/waitlist`;
/** GET, DELETE: a waiting-list entry by its manage token. */
export const waitlistEntry = (token) => `${V1}/waitlist/${seg(token)}`;
export const waitlistAccept = (token) => `${waitlistEntry(token)}/accept`;
export const lottery = (id) => `${V1}/lotteries/${seg(id)}`;
export const lotteries = () => `${V1}/lotteries`;
export const lotteryEntries = () => `${V1}/lottery-entries`;
export const lotteryEntry = (token) => `${V1}/lottery-entries/${seg(token)}`;
export const adminLotteries = () => `${V1}/admin/lotteries`;

// ---------- staff: sessions, reservations by phone, search ----------

/** POST: sign in. */
export const staffSessions = () => `${V1}/staff/sessions`;
/** GET, DELETE: the signed-in session. */
export const staffCurrentSession = () => `${V1}/staff/sessions/current`;
/** GET with a filter ({date, counter, q}: empty ones left out); POST (no filter) books by phone. */
export const staffReservations = ({ date, counter, q } = {}) =>
  `${V1}/staff/reservations${query({ date: date || undefined, counter: counter || undefined, q: q || undefined })}`;
/** A reservation by its number (HJ3K-7WXA). */
export const staffReservation = (number) => `${V1}/staff/reservations/${seg(number)}`;
export const staffReservationCancel = (number) => `${staffReservation(number)}/cancel`;
export const staffReservationSecondVisit = (number) => `${staffReservation(number)}/second-visit`;

// ---------- staff: one's own account (also open to a session that must set up a second factor) ----------

/** PUT `{current_password, new_password}`: change one's own password. */
export const staffMyPassword = () => `${V1}/staff/me/password`;
/** POST (no body): start setting up an authenticator app (a secret, its URI and QR code). */
export const staffMyTotp = () => `${V1}/staff/me/totp`;
/** POST `{totp}`: finish setting it up with a code; answers the recovery codes. */
export const staffMyTotpConfirm = () => `${staffMyTotp()}/confirm`;
/** POST `{totp}`: new recovery codes (the old ones stop working). */
export const staffMyRecoveryCodes = () => `${staffMyTotp()}/recovery-codes`;

// ---------- the desk and the waiting-room screen ----------

const desk = (counter) => `${V1}/desk/${seg(counter)}`;
export const deskCheckIns = (counter) => `${desk(counter)}/check-ins`;
export const deskWalkIns = (counter) => `${desk(counter)}/walk-ins`;
export const deskCalls = (counter) => `${desk(counter)}/calls`;
export const deskQueue = (counter) => `${desk(counter)}/queue`;
/** POST: settle a called ticket (`action`: what the desk did with it). */
export const deskTicket = (counter, ticket, action) => `${desk(counter)}/tickets/${seg(ticket)}/${seg(action)}`;
/** The screen's event stream; after a reconnect it resumes after `lastEventId` (0: from now). */
export const deskDisplay = (counter, lastEventId = 0) =>
  `${desk(counter)}/display${query({ last_event_id: lastEventId || undefined })}`;
/**
 * The printed ticket (番号札): a whole HTML page for an 80 mm receipt printer, fetched with the
 * staff token (desk, admin, or the counter's kiosk) and printed from a frame (lib/print.js).
 * Not under the API's prefix; `date` (YYYY-MM-DD) defaults to the counter's today.
 */
export const deskTicketPrint = (counter, ticket, date) =>
  `/desk/tickets/${seg(ticket)}/print${query({ counter, date: date || undefined })}`;

// ---------- tickets people follow on their phones (public, by the ticket's public id) ----------

/** GET: where the ticket stands (number, place in line, estimated wait, the desk once called). */
export const ticketView = (publicId) => `${V1}/tickets/${seg(publicId)}`;
/** The ticket's event stream (`ticket` events: the same view, whenever it changes). */
export const ticketEvents = (publicId) => `${ticketView(publicId)}/events`;
/** POST (no body): mail me once when my turn nears. */
export const ticketAlert = (publicId) => `${ticketView(publicId)}/alert`;

// ---------- administration ----------

export const adminSlot = (id) => `${V1}/admin/slots/${seg(id)}`;
/** GET with `{from, to}` (a counter's closures in that range); POST without. */
export const adminClosures = (counter, { from, to } = {}) => `${V1}/admin/counters/${seg(counter)}/closures${query({ from, to })}`;
/** DELETE: reopen a closed day. */
export const adminClosure = (counter, date) => `${V1}/admin/counters/${seg(counter)}/closures/${seg(date)}`;
/** GET the staff accounts, POST a new one. */
export const adminStaff = () => `${V1}/admin/staff`;
export const adminStaffMember = (login) => `${adminStaff()}/${seg(login)}`;
export const adminStaffPassword = (login) => `${adminStaffMember(login)}/password`;
/** DELETE: remove an account's second factor (a lost phone); its sessions end. */
export const adminStaffTotp = (login) => `${adminStaffMember(login)}/totp`;
/** The outbox, of one status or ('' / none) every status. */
export const adminOutbox = (status) => `${V1}/admin/outbox${query({ status: status || undefined })}`;
/** The audit log, since an instant (ISO 8601) or ('' / none) its recent entries. */
export const adminAudit = (since) => `${V1}/admin/audit${query({ since: since || undefined })}`;
/** The statistics of a counter from `from` to `to` (JSON, or CSV when asked for text/csv). */
export const adminStats = (from, to, counter) => `${V1}/admin/stats${query({ from, to, counter })}`;
export const adminJobs = () => `${V1}/admin/jobs`;
