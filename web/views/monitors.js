// monitors.js: the connection monitors list -- how many monitors are in
// each state, then one row per monitor with its roll-up state, reason and
// tests per state.  A monitor row expands in place to its test groups
// (GET testGroups?monitor=) and a group row to its tests (GET
// tests?monitor=&testGroup=); what is open lives in the URL (?open=m:NAME,
// g:NAME/GROUP) so a refresh or a shared link keeps it.  The state filter
// applies to the monitor's roll-up, the alert filter to whether a firing
// alert names the monitor; the search matches monitor names (scope
// all/monitors) or, for the other scopes, keeps the monitors that have a
// matching test, and so do the exact scope filters (test group, source,
// destination, destination type, configuration), which also narrow the
// expanded rows.

import * as api from '../lib/api.js';
import { h, table, stateBadge, countsLine, hashLink, section, fmtPct, fmtMs, STATES, STATE_LABEL } from '../lib/dom.js';
import { carry, viewParams, scopeOn } from '../lib/filters.js';
import { alertsFor, monitorFiring, filterTests } from '../lib/alerts.js';
import { testLink } from '../lib/drill.js';
import { viewSwitch } from '../lib/scope.js';

function summary(counts, total) {
  return h('div', { class: 'summary', 'aria-label': 'Monitors per state' },
    h('div', { class: 'tile' }, h('span', { class: 'big', text: String(total) }), 'monitors'),
    STATES.map((s) => h('div', { class: `tile state-${s}`, dataset: { state: s } },
      h('span', { class: 'big', text: String((counts && counts[s]) || 0) }), STATE_LABEL[s])));
}

async function matchingMonitors(params) {
  const q = params.get('q');
  const scope = params.get('scope') || 'all';
  const scoped = scopeOn(params).length > 0;
  if (!q && !scoped) return null;
  const names = new Set((await api.getAll('tests', viewParams(params, { state: null }))).map((t) => t.monitor));
  // a monitor without tests matches by its name (scopes all and monitors)
  const byName = q && !scoped && (scope === 'all' || scope === 'monitors');
  return (name) => names.has(name) || (byName && name.toLowerCase().includes(q.toLowerCase()));
}

const openSet = (params) => new Set((params.get('open') || '').split(',').filter(Boolean));

function toggle(key, open, setParams) {
  const next = new Set(open);
  if (next.has(key)) next.delete(key);
  else next.add(key);
  return h('button', {
    type: 'button', class: 'expand', 'aria-expanded': open.has(key) ? 'true' : 'false',
    'aria-label': `${open.has(key) ? 'Collapse' : 'Expand'} ${key.slice(2)}`, dataset: { key: `x:${key}` },
    text: open.has(key) ? '▾' : '▸',
    onclick: () => setParams({ open: [...next].join(',') || null }, true),
  });
}

// The rows below an open monitor (its groups) and an open group (its tests).
async function expanded(monitors, open, params) {
  const out = [];
  await Promise.all(monitors.map(async (m) => {
    if (!open.has(`m:${m.name}`)) return;
    const groups = await api.getAll('testGroups', viewParams(params, { monitor: m.name }));
    const tests = await Promise.all(groups.map((g) => (open.has(`g:${m.name}/${g.name}`)
      ? api.getAll('tests', viewParams(params, { monitor: m.name, testGroup: g.name })) : null)));
    out.push([m.name, groups.map((g, i) => ({ g, tests: tests[i] }))]);
  }));
  return new Map(out);
}

export default {
  title: () => 'Connection monitors',
  filters: true,
  entity: 'monitors',
  async render({ params, setParams }) {
    const [list, match, alerts] = await Promise.all([api.get('connectionMonitors', { limit: 1000, at: params.get('at') }),
      matchingMonitors(params), alertsFor(params)]);
    const state = params.get('state');
    const wantFiring = params.get('alert') === 'firing';
    const monitors = list.items.filter((m) => (!state || m.state === state) && (!match || match(m.name)) &&
      (!alerts || monitorFiring(alerts, m.name) === wantFiring));
    const open = openSet(params);
    const below = await expanded(monitors, open, params);
    const rows = [];
    for (const m of monitors) {
      rows.push({ kind: 'm', key: `m:${m.name}`, name: m.name, r: m });
      for (const { g, tests } of below.get(m.name) || []) {
        rows.push({ kind: 'g', key: `g:${m.name}/${g.name}`, name: g.name, monitor: m.name, r: g });
        for (const t of filterTests(tests || [], params, alerts)) rows.push({ kind: 't', key: `t:${t.id}`, name: `${t.source} → ${t.destination} (${t.testConfiguration})`, r: t });
      }
    }
    const href = (x) => (x.kind === 'm' ? hashLink(`monitor/${encodeURIComponent(x.name)}`, carry(params))
      : x.kind === 'g' ? hashLink(`group/${encodeURIComponent(x.monitor)}/${encodeURIComponent(x.name)}`, carry(params))
        : testLink(x.r, params));
    const cols = [
      { label: '', class: 'toggle', value: (x) => (x.kind === 't' ? '' : toggle(x.key, open, setParams)) },
      { label: 'Name', value: (x) => h('a', { href: href(x), text: x.name }) },
      { label: 'Kind', value: (x) => ({ m: 'monitor', g: 'test group', t: 'test' }[x.kind]) },
      { label: 'State', value: (x) => stateBadge(x.r.state) },
      { label: 'Reason', class: 'reason', value: (x) => x.r.reason || '' },
      { label: 'Tests', class: 'num', value: (x) => (x.kind === 't' ? '' : String(x.r.testCount)) },
      { label: 'Tests per state', value: (x) => (x.kind === 't' ? '' : countsLine(x.r.counts)) },
      { label: 'Checks failed (worst)', class: 'num', value: (x) => fmtPct(x.r.checksFailedPercent) },
      { label: 'RTT (worst)', class: 'num', value: (x) => fmtMs(x.r.roundTripTimeMs) },
      { label: 'Status', value: (x) => (x.kind === 'm' ? x.r.monitoringStatus : x.kind === 'g' && !x.r.enabled ? 'disabled' : '') },
      { label: '', value: (x) => (x.kind === 'm' ? h('a', { href: `#/edit/${encodeURIComponent(x.name)}`, text: 'Edit' }) : '') },
    ];
    return h('div', null,
      h('h1', { text: 'Connection monitors' }),
      viewSwitch('monitors', params),
      summary(list.counts, list.items.length),
      section(`Monitors (${monitors.length} of ${list.items.length})`,
        table(cols, rows, href, {
          key: (x) => x.key, rowClass: (x) => `level-${x.kind}`,
          empty: list.items.length ? 'No monitor matches the filters.' : 'No connection monitor yet: create one in the Monitor editor or start cmon run with a monitor file.',
        })));
  },
};
