// The JSON API client shared by every page: problem+json becomes a Problem, and the server's
// clock is tracked (the rehearsal clock's X-Madoguchi-Now, or an availability's "now") so
// countdowns follow the server, not the browser.

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
  now() { return Date.now() + this.offset; },
  /**
   * An instant the server reported, truncated to the second, for a request sent at `sentAt`
   * and answered at `receivedAt` (browser ms). The server's time lay in [t, t+1000) at some
   * moment in [sentAt, receivedAt], which bounds the offset; bounds from several answers are
   * intersected, so the estimate tightens with each call.
   */
  observe(iso, sentAt, receivedAt) {
    const t = Date.parse(iso);
    if (Number.isNaN(t)) return;
    const lo = t - receivedAt;
    const hi = t + 1000 - sentAt;
    let nlo = Math.max(this.lo, lo);
    let nhi = Math.min(this.hi, hi);
    if (nlo > nhi) { nlo = lo; nhi = hi; } // a clock changed: start again
    this.lo = nlo;
    this.hi = nhi;
    this.offset = (nlo + nhi) / 2;
    this.known = true;
  },
};

let defaultLang = 'ja';
let authToken = null;
let onUnauthorized = null;

export function setApiLang(lang) { defaultLang = lang; }
export function setAuthToken(token, on401) { authToken = token; onUnauthorized = on401 || null; }

/**
 * Calls the API. Returns the parsed JSON (null for 204, text for non-JSON answers).
 * Throws a Problem on any error status or network failure.
 */
export async function api(path, { method = 'GET', body, auth = true, accept, signal, lang } = {}) {
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
      cache: 'no-store',
      credentials: 'same-origin',
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
  if (data && typeof data === 'object' && typeof data.now === 'string' && !now) {
    serverClock.observe(data.now, sentAt, receivedAt);
  }
  return data;
}

/** Encodes one path segment. */
export const seg = (s) => encodeURIComponent(String(s));
