// The JSON API client shared by every page: problem+json becomes a Problem, and the server's
// clock is tracked from the X-Madoguchi-Now header every API answer carries (a 304 served from
// the browser's cache included), so countdowns and "today" follow the server, not the browser.
// The paths it is given come from endpoints.js.

export class Problem extends Error {
  constructor(status, body = {}, headers = null) {
    super(body.title || body.detail || `HTTP ${status}`);
    this.status = status;
    this.code = body.code || (status === 0 ? 'network_error' : 'http_' + status);
    this.title = body.title || '';
    this.detail = body.detail || '';
    this.errors = Array.isArray(body.errors) ? body.errors : [];
    this.alternatives = Array.isArray(body.alternatives) ? body.alternatives : [];
    this.body = body;
    const retry = headers && headers.get('Retry-After');
    this.retryAfter = retry ? Number(retry) || null : null;
  }
  /** True when the route itself does not exist (a feature this server does not have yet). */
  get isMissingRoute() {
    return this.status === 404 && this.code === 'not_found';
  }
}

/** The server's clock: the offset between it and the browser's, in ms. */
export const serverClock = {
  offset: 0,
  known: false,
  lo: -Infinity,
  hi: Infinity,
  newest: -Infinity,
  /** The UTC offset (minutes) of the server's instants: the counter's zone (Japan: 540). */
  zoneMinutes: 540,
  now() { return Date.now() + this.offset; },
  /** YYYY-MM-DD of the server's now, in the server's zone. */
  today() {
    return new Date(this.now() + this.zoneMinutes * 60000).toISOString().slice(0, 10);
  },
  /**
   * An instant the server reported, truncated to the second, for a request sent at `sentAt`
   * and answered at `receivedAt` (browser ms). The server's time lay in [t, t+1000) at some
   * moment in [sentAt, receivedAt], which bounds the offset; bounds from several answers are
   * intersected, so the estimate tightens with each call.
   */
  observe(iso, sentAt, receivedAt) {
    const t = Date.parse(iso);
    if (Number.isNaN(t)) return;
    const zone = /([+-])(\d{2}):?(\d{2})$/.exec(iso);
    if (zone) this.zoneMinutes = (zone[1] === '-' ? -1 : 1) * (Number(zone[2]) * 60 + Number(zone[3]));
    else if (/Z$/i.test(iso)) this.zoneMinutes = 0;
    const lo = t - receivedAt;
    const hi = t + 1000 - sentAt;
    let nlo = Math.max(this.lo, lo);
    let nhi = Math.min(this.hi, hi);
    if (nlo > nhi) {
      // It contradicts earlier answers. An instant no later than one already seen is a header
      // replayed (a cached answer whose 304 lacked it): ignored. A later one is a clock that
      // jumped ahead (a rehearsal restarted): start again.
      if (t <= this.newest) return;
      nlo = lo;
      nhi = hi;
    }
    this.newest = Math.max(this.newest, t);
    this.lo = nlo;
    this.hi = nhi;
    this.offset = (nlo + nhi) / 2;
    this.known = true;
  },
};

let defaultLang = 'ja';
let authToken = null;
let onUnauthorized = null;
let busyListener = null;

/** How many times a `busy` answer (503: the service is shedding load) is tried again. */
export const BUSY_TRIES = 8;

/**
 * `listener({ attempt, waitSeconds })` is called when a request was answered `busy` and will be
 * sent again after waitSeconds (Retry-After plus up to a second of jitter, so the browsers told
 * busy together do not come back together); `listener(null)` when that request is done.
 */
export function onBusy(listener) { busyListener = listener; }

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

export function setApiLang(lang) { defaultLang = lang; }
export function setAuthToken(token, on401) { authToken = token; onUnauthorized = on401 || null; }

/**
 * Calls the API. Returns the parsed JSON (null for 204, text for non-JSON answers).
 * Throws a Problem on any error status or network failure. Every request revalidates what the
 * browser keeps (`cache: 'no-cache'`): a 304 comes back as the cached 200, with the fresh
 * headers. A `busy` answer is sent again after its Retry-After (see onBusy).
 */
export async function api(path, options = {}) {
  let waited = false;
  try {
    for (let attempt = 1; ; attempt += 1) {
      try {
        return await once(path, options);
      } catch (e) {
        // Busy: nothing was done; the same request is sent again after Retry-After.
        if (!(e instanceof Problem) || e.code !== 'busy' || attempt >= BUSY_TRIES) throw e;
        const waitMs = (e.retryAfter || 1) * 1000 + Math.floor(Math.random() * 1000);
        waited = true;
        if (busyListener) busyListener({ attempt, waitSeconds: Math.ceil(waitMs / 1000) });
        await sleep(waitMs);
      }
    }
  } finally {
    if (waited && busyListener) busyListener(null);
  }
}

async function once(path, { method = 'GET', body, auth = true, accept, signal, lang } = {}) {
  const headers = { 'Accept-Language': lang || defaultLang };
  headers.Accept = accept || 'application/json, application/problem+json';
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  if (auth && authToken) headers.Authorization = 'Bearer ' + authToken;
  const sentAt = Date.now();
  let res;
  try {
    res = await fetch(path, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      signal,
      credentials: 'same-origin',
      // The public reads may be kept a second by shared caches (Cache-Control max-age=1);
      // the pages always ask the server, which answers an unchanged read with a 304.
      cache: 'no-cache',
    });
  } catch (e) {
    if (e && e.name === 'AbortError') throw e;
    throw new Problem(0, {});
  }
  const receivedAt = Date.now();
  const now = res.headers.get('X-Madoguchi-Now');
  if (now) serverClock.observe(now, sentAt, receivedAt);
  const type = res.headers.get('Content-Type') || '';
  let data = null;
  if (res.status !== 204) {
    if (type.includes('json')) {
      try { data = await res.json(); } catch { data = null; }
    } else {
      data = await res.text();
    }
  }
  if (!res.ok) {
    const problem = new Problem(res.status, data && typeof data === 'object' ? data : {}, res.headers);
    if (res.status === 401 && auth && authToken && onUnauthorized) onUnauthorized(problem);
    throw problem;
  }
  return data;
}
