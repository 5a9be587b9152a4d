// app.js: the dashboard shell -- hash routing (#/route/segments?params), the
// filter bar whose every value lives in the URL (so a view can be shared;
// the scope selectors' options from lib/scope.js, the entity type selector
// switching between the list views that declare `entity`),
// auto refresh every 60 s that keeps scroll, focus and filters, and the
// token prompt after a 401.  Each view is one module in views/ registered in
// the `routes` table below: a new page is one file plus one line here.

import { ApiError, setToken } from './lib/api.js';
import { atLocal, atIso, carry, SCOPE_KEYS } from './lib/filters.js';
import { fillScopes } from './lib/scope.js';
import { h, errorBox, hashLink } from './lib/dom.js';
import { sweepCharts, resizeCharts } from './lib/chart.js';
import monitors from './views/monitors.js';
import monitor from './views/monitor.js';
import group from './views/group.js';
import test from './views/test.js';
import tests from './views/tests.js';
import testGroups from './views/groups.js';
import compare from './views/compare.js';
import editor from './views/editor.js';
import alerts from './views/alerts.js';
import agents from './views/agents.js';
import topology from './views/topology.js';
import query from './views/query.js';
import alertrule from './views/alertrule.js';
import actiongroup from './views/actiongroup.js';

const REFRESH_MS = 60000;

const routes = [
  { re: /^$/, view: monitors },
  { re: /^monitors$/, view: monitors },
  { re: /^monitor\/([^/]+)$/, view: monitor },
  { re: /^group\/([^/]+)\/([^/]+)$/, view: group },
  { re: /^test\/([^/]+)$/, view: test },
  { re: /^tests$/, view: tests },
  { re: /^testGroups$/, view: testGroups },
  { re: /^compare$/, view: compare },
  { re: /^edit(?:\/([^/]+))?$/, view: editor },
  { re: /^alerts$/, view: alerts },
  { re: /^alerts\/rule(?:\/([^/]+))?$/, view: alertrule },
  { re: /^alerts\/group(?:\/([^/]+))?$/, view: actiongroup },
  { re: /^agents$/, view: agents },
  { re: /^topology\/([^/]+)$/, view: topology },
  { re: /^query$/, view: query },
];


function parseHash() {
  const raw = location.hash.replace(/^#\/?/, '');
  const qi = raw.indexOf('?');
  const path = qi < 0 ? raw : raw.slice(0, qi);
  const params = new URLSearchParams(qi < 0 ? '' : raw.slice(qi + 1));
  return { path, params };
}

function buildHash(path, params) {
  const s = params.toString();
  return `#/${path}${s ? `?${s}` : ''}`;
}

// Change some URL parameters of the current view (null removes one).
function setParams(changes, replace) {
  const { path, params } = parseHash();
  for (const [k, v] of Object.entries(changes)) {
    if (v === null || v === undefined || v === '') params.delete(k);
    else params.set(k, v);
  }
  const next = buildHash(path, params);
  if (replace) {
    history.replaceState(null, '', next);
    render({ keepScroll: true });
  } else {
    location.hash = next;
  }
}

// keepTyping: leave the field being typed in alone (refresh, own updates).
function filterBar(params, view, keepTyping) {
  const bar = document.getElementById('filters');
  bar.hidden = !view.filters;
  if (!view.filters) return;
  // 'range': the view only uses the time range (compare)
  bar.querySelector('.f-text').hidden = view.filters === 'range';
  const set = (id, v) => {
    const el = document.getElementById(id);
    if (!keepTyping || document.activeElement !== el) el.value = v;
  };
  set('f-q', params.get('q') || '');
  set('f-scope', params.get('scope') || 'all');
  set('f-state', params.get('state') || '');
  set('f-alert', params.get('alert') || '');
  set('f-range', params.get('range') || '1h');
  set('f-at', atLocal(params.get('at')));
  // the list views say which one they are (the entity type selector)
  document.getElementById('f-entity-wrap').hidden = !view.entity;
  if (view.entity) set('f-entity', view.entity);
  const note = document.getElementById('f-at-note');
  note.hidden = !params.get('at');
  note.textContent = params.get('at') ? `as it stood at ${params.get('at').replace('T', ' ').replace(/\.\d+Z$|Z$/, 'Z')}` : '';
  document.body.classList.toggle('back-in-time', !!params.get('at'));
}

function wireFilters() {
  let timer = null;
  const q = document.getElementById('f-q');
  document.getElementById('filters').addEventListener('submit', (ev) => ev.preventDefault());
  q.addEventListener('input', () => {
    clearTimeout(timer);
    timer = setTimeout(() => setParams({ q: q.value }, true), 300);
  });
  q.addEventListener('keydown', (ev) => {
    if (ev.key === 'Enter') {
      clearTimeout(timer);
      setParams({ q: q.value }, true);
    }
  });
  const sel = (id, key, def) => document.getElementById(id).addEventListener('change', (ev) =>
    setParams({ [key]: ev.target.value === def ? null : ev.target.value }, true));
  sel('f-scope', 'scope', 'all');
  sel('f-state', 'state', '');
  sel('f-alert', 'alert', '');
  sel('f-range', 'range', '1h');
  for (const k of SCOPE_KEYS) sel(`f-${k}`, k, '');
  document.getElementById('f-entity').addEventListener('change', (ev) => {
    location.hash = hashLink(ev.target.value, carry(parseHash().params));
  });
  document.getElementById('f-at').addEventListener('change', (ev) =>
    setParams({ at: ev.target.value ? atIso(ev.target.value) : null }, true));
  document.getElementById('f-now').addEventListener('click', () => setParams({ at: null }, true));
  document.getElementById('f-clear').addEventListener('click', () =>
    setParams(Object.assign({ q: null, scope: null, state: null, alert: null, range: null, at: null },
      Object.fromEntries(SCOPE_KEYS.map((k) => [k, null]))), true));
  // like the timer: views that opt out of refreshing (the editor) keep their state
  document.getElementById('refresh').addEventListener('click', () => render({ keepScroll: true, auto: true }));
  document.addEventListener('keydown', (ev) => {
    const typing = ev.target.closest('input, textarea, select');
    if (ev.key === '/' && !typing && !document.getElementById('filters').hidden) {
      ev.preventDefault();
      q.focus();
    }
  });
}

function tokenForm(err) {
  const input = h('input', { type: 'password', id: 'token', autocomplete: 'off', 'aria-label': 'Bearer token' });
  return h('form', {
    class: 'panel token-form',
    onsubmit: (ev) => {
      ev.preventDefault();
      setToken(input.value.trim());
      render({});
    },
  },
  h('h2', { text: 'This server needs a token' }),
  h('p', { text: `${err.message}. Paste a reader or admin token (cmon token create --role reader); it is kept for this browser tab only.` }),
  h('label', { for: 'token', text: 'Token ' }), input, ' ', h('button', { type: 'submit', text: 'Use token' }));
}

function markNav(path) {
  const top = path.split('/')[0] || 'monitors';
  const section = { monitor: 'monitors', group: 'testGroups', test: 'tests', topology: 'tests', edit: 'edit' }[top] || top;
  for (const a of document.querySelectorAll('#nav a')) {
    if (a.dataset.section === section) a.setAttribute('aria-current', 'page');
    else a.removeAttribute('aria-current');
  }
}

let generation = 0;

async function render({ keepScroll = false, auto = false } = {}) {
  const gen = ++generation;
  const { path, params } = parseHash();
  const route = routes.find((r) => r.re.test(path));
  const main = document.getElementById('main');
  markNav(path);
  if (!route) {
    main.replaceChildren(errorBox({ message: `No such page: #/${path}` }));
    return;
  }
  const view = route.view;
  if (auto && view.refresh === false) return;
  filterBar(params, view, keepScroll);
  const scroll = window.scrollY;
  const focusKey = document.activeElement && document.activeElement.dataset &&
    document.activeElement.dataset.key;
  // opened <details data-key> (alert transitions) stay open across a refresh
  const openKeys = keepScroll ? [...main.querySelectorAll('details[open][data-key]')].map((d) => d.dataset.key) : [];
  const ctx = { params, segs: path.match(route.re).slice(1).map((s) => s && decodeURIComponent(s)), setParams };
  let node;
  try {
    // the scope selectors' options come with the view (one render, one wait)
    // both settle before the page counts as rendered (no request left running)
    const [res, scopes] = await Promise.allSettled([view.render(ctx), view.filters === true ? fillScopes(params) : null]);
    if (res.status === 'rejected') throw res.reason;
    if (scopes.status === 'rejected') console.warn(scopes.reason); // the view itself answered
    node = res.value;
  } catch (err) {
    if (err instanceof ApiError && err.status === 401) node = tokenForm(err);
    else node = errorBox(err);
    if (!(err instanceof ApiError)) console.warn(err); // a bug, but keep the page usable
  }
  if (gen !== generation) return; // a newer navigation won
  main.replaceChildren(node);
  for (const k of openKeys) {
    const d = main.querySelector(`details[data-key="${CSS.escape(k)}"]`);
    if (d) d.open = true;
  }
  main.setAttribute('aria-busy', 'false');
  main.dataset.url = location.hash; // what was rendered, and how often (tests wait on these)
  main.dataset.renders = String(Number(main.dataset.renders || 0) + 1);
  document.title = `${view.title(ctx)} · cmon`;
  sweepCharts();
  if (keepScroll) window.scrollTo(0, scroll);
  if (focusKey) {
    const el = main.querySelector(`[data-key="${CSS.escape(focusKey)}"]`);
    if (el) el.focus({ preventScroll: true });
  }
  document.getElementById('updated').textContent = `Updated ${new Date().toLocaleTimeString()}`;
}

function start() {
  wireFilters();
  window.addEventListener('hashchange', () => render({}));
  let resizeTimer = null;
  window.addEventListener('resize', () => {
    clearTimeout(resizeTimer);
    resizeTimer = setTimeout(resizeCharts, 150);
  });
  setInterval(() => {
    if (!document.hidden) render({ keepScroll: true, auto: true });
  }, REFRESH_MS);
  render({});
}

start();
