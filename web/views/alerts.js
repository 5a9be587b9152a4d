// alerts.js: the alerts page -- firing (and pending) alerts first, then the
// history of resolved alerts that overlap the time range, each with its
// labels, values, times, summary and the fired/resolved transitions of its
// key (GET /api/v1/alerts?transitions=true, public API only).  A firing
// alert links to the tests it covers (#/tests?alert=firing + its labels).
// Then the alert rules and action groups: create, edit (views/alertrule.js,
// views/actiongroup.js), enable/disable and delete (admin); a rule a monitor
// file holds links to that monitor's editor instead.

import * as api from '../lib/api.js';
import { h, table, fmtNum, fmtTime, hashLink, section } from '../lib/dom.js';
import { timeParams, carry } from '../lib/filters.js';

const SEVERITY = ['critical', 'error', 'warning', 'informational', 'verbose'];
const OPS = { GreaterThan: '>', GreaterThanOrEqual: '≥', LessThan: '<', LessThanOrEqual: '≤' };

function condition(r) {
  if (r.kind === 'state') return `${r.scope} state in ${(r.states || []).join(', ')} ×${r.forEvaluations}`;
  return `${r.metric} ${r.aggregation} ${OPS[r.operator] || r.operator} ${r.threshold} (window ${r.windowSizeSec} s)`;
}

// An action that changes something, then the page again; its error shows
// in the status line (a reader token may not write: 403).
function act(status, setParams, fn) {
  return async (ev) => {
    ev.target.disabled = true;
    try {
      await fn();
      setParams({ saved: null }, true);
    } catch (err) {
      if (err instanceof api.ApiError && err.status === 401) throw err;
      status.className = 'error-text';
      status.textContent = `${err.code ? `${err.code}: ` : ''}${err.message}`;
      ev.target.disabled = false;
    }
  };
}

// Delete asks once more on the same button (no modal dialog).
function deleteButton(id, status, setParams, fn) {
  const b = h('button', { type: 'button', id, text: 'Delete' });
  const run = act(status, setParams, fn);
  b.addEventListener('click', (ev) => {
    if (b.dataset.armed) return run(ev);
    b.dataset.armed = 'true';
    b.textContent = 'Confirm delete';
    return null;
  });
  return b;
}

function rulesPanel(rules, status, setParams) {
  const path = (r, tail = '') => `alertRules/${encodeURIComponent(r.name)}${tail}`;
  return h('section', { class: 'panel', id: 'alerts-rules' },
    h('h2', null, `Alert rules (${rules.length}) `, h('a', { class: 'button', id: 'new-rule', href: '#/alerts/rule', text: 'New alert rule' })),
    table([
      { label: 'Name', value: (r) => h('a', { href: `#/alerts/rule/${encodeURIComponent(r.name)}`, text: r.name }) },
      { label: 'Enabled', value: (r) => (r.enabled ? 'yes' : 'no') },
      { label: 'Severity', value: (r) => SEVERITY[r.severity] || String(r.severity) },
      { label: 'Condition', value: condition },
      { label: 'Dimensions', value: (r) => Object.entries(r.dimensions || {}).map(([k, v]) => h('span', { class: 'label' }, `${k}=${v}`)) },
      { label: 'Every', class: 'num', value: (r) => `${r.evaluationFrequencySec} s` },
      { label: 'Action groups', value: (r) => (r.actionGroups || []).join(', ') || '–' },
      // a rule of a monitor file changes with that monitor (the API refuses it alone)
      { label: '', value: (r) => (r.managedBy ? h('a', { id: `rule-managed-${r.name}`, href: `#/edit/${encodeURIComponent(r.managedBy.monitor)}`,
        text: `in monitor ${r.managedBy.monitor}` }) : h('span', { class: 'actions' },
        h('button', { type: 'button', id: `rule-toggle-${r.name}`, text: r.enabled ? 'Disable' : 'Enable',
          onclick: act(status, setParams, () => api.post(path(r, r.enabled ? '/disable' : '/enable'))) }),
        deleteButton(`rule-delete-${r.name}`, status, setParams, () => api.del(path(r))))) },
    ], rules, null, { key: (r) => `rule:${r.name}`, empty: 'No alert rule yet.' }));
}

function groupsPanel(groups, status, setParams) {
  const n = (g, k) => String((g[k] || []).length);
  return h('section', { class: 'panel', id: 'alerts-groups' },
    h('h2', null, `Action groups (${groups.length}) `, h('a', { class: 'button', id: 'new-group', href: '#/alerts/group', text: 'New action group' })),
    table([
      { label: 'Name', value: (g) => h('a', { href: `#/alerts/group/${encodeURIComponent(g.name)}`, text: g.name }) },
      { label: 'Webhooks', class: 'num', value: (g) => n(g, 'webhooks') },
      { label: 'Alertmanagers', class: 'num', value: (g) => n(g, 'alertmanagers') },
      { label: 'Exec', class: 'num', value: (g) => n(g, 'exec') },
      { label: '', value: (g) => deleteButton(`group-delete-${g.name}`, status, setParams,
        () => api.del(`actionGroups/${encodeURIComponent(g.name)}`)) },
    ], groups, null, { key: (g) => `group:${g.name}`, empty: 'No action group yet.' }));
}

function labelsOf(a) {
  return Object.entries(a.labels || {}).filter(([k]) => k !== 'alertname')
    .map(([k, v]) => h('span', { class: 'label' }, `${k}=${v}`));
}

function transitions(a) {
  const list = (a.transitions || []).slice().reverse();
  if (!list.length) return h('span', { class: 'muted', text: 'none yet' });
  return h('details', { dataset: { key: `tr:${a.key}:${a.startsAt}` } },
    h('summary', { text: `${list.length} transition${list.length === 1 ? '' : 's'}` }),
    h('ol', { class: 'transitions' }, list.map((x) => h('li', null,
      h('span', { class: `alert-state alert-${x.event}`, text: x.event }), ` ${fmtTime(x.at)}`,
      x.value !== undefined && x.value !== null ? ` (value ${fmtNum(x.value)})` : ''))));
}

function stateCell(a) {
  return h('span', { class: `alert-state alert-${a.state}`, text: a.state });
}

// The tests view narrowed to what the alert is about.
function testsLink(a, params) {
  const l = a.labels || {};
  const q = l.destination || l.testGroup || l.source || l.monitor;
  const scope = l.destination ? 'destinations' : l.testGroup ? 'testGroups' : l.source ? 'sources' : l.monitor ? 'monitors' : null;
  return hashLink('tests', carry(params, { alert: 'firing', q, scope }));
}

function columns(params, live) {
  const cols = [
    { label: 'Rule', value: (a) => h('span', { class: 'nowrap', text: a.rule }) },
    { label: 'State', value: stateCell },
    { label: 'Severity', value: (a) => SEVERITY[a.severity] || String(a.severity) },
    { label: 'Labels', value: labelsOf },
    { label: 'Summary', class: 'reason', value: (a) => a.summary || '' },
    { label: 'Value', class: 'num', value: (a) => fmtNum(a.value) },
    { label: 'Fired value', class: 'num', value: (a) => fmtNum(a.firedValue) },
    { label: 'Started', value: (a) => fmtTime(a.startsAt) },
    { label: 'Fired', value: (a) => fmtTime(a.firedAt) },
  ];
  if (!live) cols.push({ label: 'Resolved', value: (a) => fmtTime(a.endsAt) });
  cols.push({ label: 'Transitions', value: transitions });
  if (live) cols.push({ label: '', value: (a) => h('a', { href: testsLink(a, params), text: 'Tests' }) });
  return cols;
}

export default {
  title: () => 'Alerts',
  filters: 'range',
  async render({ params, setParams }) {
    const [all, rules, groups] = await Promise.all([api.getAll('alerts', { transitions: 'true' }),
      api.getAll('alertRules', {}), api.getAll('actionGroups', {})]);
    const status = h('p', { id: 'alerts-status', class: 'muted', role: 'status' },
      params.get('saved') ? `Saved ${params.get('saved')}.` : '');
    const tp = timeParams(params);
    const live = all.filter((a) => a.state === 'firing' || a.state === 'pending');
    const history = all.filter((a) => a.state === 'resolved' && a.endsAt && a.endsAt >= tp.from);
    const firing = live.filter((a) => a.state === 'firing').length;
    const key = (a) => `a:${a.key}:${a.startsAt}`;
    return h('div', null,
      h('h1', { text: 'Alerts' }),
      h('p', { class: 'headline' }, `${firing} firing, ${live.length - firing} pending, ${history.length} resolved in the time range.`),
      status,
      h('section', { class: 'panel', id: 'alerts-live' }, h('h2', { text: `Firing and pending (${live.length})` }),
        table(columns(params, true), live, null, { key, empty: 'No alert is firing.' })),
      h('section', { class: 'panel', id: 'alerts-history' }, h('h2', { text: `History (${history.length})` }),
        table(columns(params, false), history, null, { key, empty: 'No alert resolved in this time range.' })),
      rulesPanel(rules, status, setParams),
      groupsPanel(groups, status, setParams));
  },
};
