// alerts.js: the alerts page -- firing (and pending) alerts first, then the
// history of resolved alerts that overlap the time range, each with its
// labels, values, times, summary and the fired/resolved transitions of its
// key (GET /api/v1/alerts?transitions=true, public API only).  A firing
// alert links to the tests it covers (#/tests?alert=firing + its labels).

import * as api from '../lib/api.js';
import { h, table, fmtNum, fmtTime, hashLink, section } from '../lib/dom.js';
import { timeParams, carry } from '../lib/filters.js';

const SEVERITY = ['critical', 'error', 'warning', 'informational', 'verbose'];

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
  async render({ params }) {
    const all = await api.getAll('alerts', { transitions: 'true' });
    const tp = timeParams(params);
    const live = all.filter((a) => a.state === 'firing' || a.state === 'pending');
    const history = all.filter((a) => a.state === 'resolved' && a.endsAt && a.endsAt >= tp.from);
    const firing = live.filter((a) => a.state === 'firing').length;
    const key = (a) => `a:${a.key}:${a.startsAt}`;
    return h('div', null,
      h('h1', { text: 'Alerts' }),
      h('p', { class: 'headline' }, `${firing} firing, ${live.length - firing} pending, ${history.length} resolved in the time range. `,
        h('span', { class: 'muted', text: 'Rules: cmon alerts rule list, or GET /api/v1/alertRules.' })),
      h('section', { class: 'panel', id: 'alerts-live' }, h('h2', { text: `Firing and pending (${live.length})` }),
        table(columns(params, true), live, null, { key, empty: 'No alert is firing.' })),
      h('section', { class: 'panel', id: 'alerts-history' }, h('h2', { text: `History (${history.length})` }),
        table(columns(params, false), history, null, { key, empty: 'No alert resolved in this time range.' })));
  },
};
