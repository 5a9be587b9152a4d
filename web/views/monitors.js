// monitors.js: the connection monitors list -- how many monitors are in
// each state, then one row per monitor with its roll-up state, reason and
// tests per state.  The state filter applies to the monitor's roll-up, the
// alert filter to whether a firing alert names the monitor; the search matches monitor names (scope all/monitors) or, for the other
// scopes, keeps the monitors that have a matching test.

import * as api from '../lib/api.js';
import { h, table, stateBadge, countsLine, hashLink, section, fmtPct, fmtMs, STATES, STATE_LABEL } from '../lib/dom.js';
import { carry } from '../lib/filters.js';
import { alertsFor, monitorFiring } from '../lib/alerts.js';

function summary(counts, total) {
  return h('div', { class: 'summary', 'aria-label': 'Monitors per state' },
    h('div', { class: 'tile' }, h('span', { class: 'big', text: String(total) }), 'monitors'),
    STATES.map((s) => h('div', { class: `tile state-${s}`, dataset: { state: s } },
      h('span', { class: 'big', text: String((counts && counts[s]) || 0) }), STATE_LABEL[s])));
}

async function matchingMonitors(params) {
  const q = params.get('q');
  const scope = params.get('scope') || 'all';
  if (!q) return null;
  if (scope === 'monitors') return (name) => name.toLowerCase().includes(q.toLowerCase());
  const rows = await api.getAll('tests', { q, scope, at: params.get('at') });
  const names = new Set(rows.map((t) => t.monitor));
  const byName = scope === 'all' ? (name) => name.toLowerCase().includes(q.toLowerCase()) : () => false;
  return (name) => names.has(name) || byName(name); // a monitor without tests matches by name
}

export default {
  title: () => 'Connection monitors',
  filters: true,
  async render({ params }) {
    const [list, match, alerts] = await Promise.all([api.get('connectionMonitors', { limit: 1000, at: params.get('at') }),
      matchingMonitors(params), alertsFor(params)]);
    const state = params.get('state');
    const wantFiring = params.get('alert') === 'firing';
    const rows = list.items.filter((m) => (!state || m.state === state) && (!match || match(m.name)) &&
      (!alerts || monitorFiring(alerts, m.name) === wantFiring));
    const cols = [
      { label: 'Monitor', value: (m) => h('a', { href: hashLink(`monitor/${encodeURIComponent(m.name)}`, carry(params)), text: m.name }) },
      { label: 'State', value: (m) => stateBadge(m.state) },
      { label: 'Reason', class: 'reason', value: (m) => m.reason || '' },
      { label: 'Tests', class: 'num', value: (m) => String(m.testCount) },
      { label: 'Tests per state', value: (m) => countsLine(m.counts) },
      { label: 'Checks failed (worst)', class: 'num', value: (m) => fmtPct(m.checksFailedPercent) },
      { label: 'RTT (worst)', class: 'num', value: (m) => fmtMs(m.roundTripTimeMs) },
      { label: 'Status', value: (m) => m.monitoringStatus },
      { label: '', value: (m) => h('a', { href: `#/edit/${encodeURIComponent(m.name)}`, text: 'Edit' }) },
    ];
    return h('div', null,
      h('h1', { text: 'Connection monitors' }),
      summary(list.counts, list.items.length),
      section(`Monitors (${rows.length} of ${list.items.length})`,
        table(cols, rows, (m) => hashLink(`monitor/${encodeURIComponent(m.name)}`, carry(params)),
          { key: (m) => `m:${m.name}`, empty: list.items.length ? 'No monitor matches the filters.' : 'No connection monitor yet: create one in the Monitor editor or start cmon run with a monitor file.' })));
  },
};
