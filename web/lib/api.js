// api.js: the dashboard's only door to the server -- the public /api/v1 of
// docs/api.md, nothing else.  Adds the bearer token (kept in sessionStorage
// once the user typed it after a 401) and turns error bodies into ApiError.

const TOKEN_KEY = 'cmon.token';

export class ApiError extends Error {
  constructor(status, body) {
    const e = (body && body.error) || {};
    super(e.message || `HTTP ${status}`);
    this.status = status;
    this.code = e.code || 'http_error';
    this.field = e.field || null;
    this.problems = e.problems || [];
  }
}

export function setToken(t) {
  if (t) sessionStorage.setItem(TOKEN_KEY, t);
  else sessionStorage.removeItem(TOKEN_KEY);
}

function headers(extra) {
  const h = Object.assign({ Accept: 'application/json' }, extra || {});
  const t = sessionStorage.getItem(TOKEN_KEY);
  if (t) h.Authorization = `Bearer ${t}`;
  return h;
}

// path: "tests", "connectionMonitors/x"; params: object, empty values dropped.
export function url(path, params) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params || {})) {
    if (v !== undefined && v !== null && v !== '') q.set(k, v);
  }
  const s = q.toString();
  return `/api/v1/${path}${s ? `?${s}` : ''}`;
}

async function parse(resp) {
  // read even an empty body: an unread one is reported as an aborted request
  const text = await resp.text();
  if (resp.status === 204) return null;
  let body = null;
  try {
    body = text ? JSON.parse(text) : null;
  } catch (_) {
    body = { error: { message: text.slice(0, 200) } };
  }
  if (!resp.ok) throw new ApiError(resp.status, body);
  return body;
}

export async function get(path, params) {
  return parse(await fetch(url(path, params), { headers: headers() }));
}

export async function put(path, bodyText) {
  const resp = await fetch(url(path), {
    method: 'PUT',
    headers: headers({ 'Content-Type': 'application/json' }),
    body: bodyText,
  });
  return parse(resp);
}

export async function post(path, obj) {
  const resp = await fetch(url(path), {
    method: 'POST',
    headers: headers({ 'Content-Type': 'application/json' }),
    body: obj === undefined ? '' : JSON.stringify(obj),
  });
  return parse(resp);
}

export async function del(path) {
  return parse(await fetch(url(path), { method: 'DELETE', headers: headers() }));
}

// Every item of a list endpoint, following `next` cursors (bounded).
export async function getAll(path, params, maxPages = 20) {
  const items = [];
  let cursor = null;
  for (let i = 0; i < maxPages; i++) {
    const page = await get(path, Object.assign({}, params, { limit: 1000, cursor }));
    items.push(...page.items);
    if (!page.next) break;
    cursor = page.next;
  }
  return items;
}
