// Features the server may not have yet (API.md's phase 2). Each is probed once per page; a
// route that answers 404 `not_found` (no such route) hides the feature, so the pages work
// against servers before and after it lands.

import { api, Problem } from './api.js';

const cache = new Map();

function probe(name, call) {
  if (!cache.has(name)) {
    cache.set(name, call().then(
      () => true,
      (p) => !(p instanceof Problem && (p.isMissingRoute || p.status === 405 || p.status === 0)),
    ));
  }
  return cache.get(name);
}

export const features = {
  /** POST /api/v1/waitlist: an empty body is refused (422/400/404 verification_not_found) when the route exists. */
  waitlist: () => probe('waitlist', () => api('/api/v1/waitlist', { method: 'POST', body: {}, auth: false })),
  /** GET /api/v1/admin/stats (admin token). */
  stats: () => probe('stats', () => api('/api/v1/admin/stats?from=2000-01-01&to=2000-01-01')),
  /** GET /api/v1/admin/jobs (admin token). */
  jobs: () => probe('jobs', () => api('/api/v1/admin/jobs')),
  /** Cached answers, for tests and for code that already probed. */
  known: (name) => cache.get(name),
};
