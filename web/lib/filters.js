// filters.js: turns the URL's filter parameters into API query parameters --
// q/scope/state and the exact scope filters (testGroup, source,
// destination, destinationType, testConfiguration: the views' own
// parameters, so the server narrows and CSV/API users get the same rows;
// the alert filter, alert=firing|none, is applied by lib/alerts.js), and
// the time range (range=1h|6h|24h|7d) into
// from/to/interval for /api/v1/metrics (at most a few hundred points).
// at=TIME (RFC 3339, UTC) shows everything as it stood then: the views
// take it, and the time range ends there.

export const RANGES = {
  '1h': { sec: 3600, interval: 'PT1M' },
  '6h': { sec: 6 * 3600, interval: 'PT5M' },
  '24h': { sec: 86400, interval: 'PT5M' },
  '7d': { sec: 7 * 86400, interval: 'PT1H' },
};

// The exact scope filters: URL key = API parameter, and what the filter bar calls them.
export const SCOPE_KEYS = ['testGroup', 'source', 'destination', 'destinationType', 'testConfiguration'];
export const SCOPE_LABEL = {
  testGroup: 'test group', source: 'source', destination: 'destination',
  destinationType: 'destination type', testConfiguration: 'configuration',
};

export function viewParams(params, extra) {
  const p = {
    q: params.get('q') || null,
    scope: params.get('q') ? params.get('scope') || null : null,
    state: params.get('state') || null,
    at: params.get('at') || null,
  };
  for (const k of SCOPE_KEYS) p[k] = params.get(k) || null;
  return Object.assign(p, extra || {});
}

// The scope filters the URL sets, as [key, value] pairs.
export function scopeOn(params) {
  return SCOPE_KEYS.filter((k) => params.get(k)).map((k) => [k, params.get(k)]);
}

export function timeParams(params) {
  const r = RANGES[params.get('range')] || RANGES['1h'];
  const to = params.get('at') ? new Date(params.get('at')) : new Date();
  const from = new Date(to.getTime() - r.sec * 1000);
  return { from: from.toISOString(), to: to.toISOString(), interval: r.interval };
}

// The moment of at= as the picker shows it (local time), and back.
export function atLocal(iso) {
  if (!iso) return '';
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return '';
  const pad = (n) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
}
export function atIso(local) {
  const d = new Date(local);
  return Number.isNaN(d.getTime()) ? null : d.toISOString();
}

// Keep the shared filters when following a link to another view.
export function carry(params, extra) {
  const out = {};
  for (const k of ['q', 'scope', 'state', 'alert', 'range', 'at', ...SCOPE_KEYS]) if (params.get(k)) out[k] = params.get(k);
  return Object.assign(out, extra || {});
}
