// drill.js: the pieces every drill-down (monitor, test group, test) shares:
// essentials of the definition (endpoints, configurations with thresholds,
// groups), the trend lines of RoundTripTimeMs and ChecksFailedPercent from
// /api/v1/metrics, the top 5 by checks failed % and by RTT, the tabs of
// roll-up rows, and a roll-up of test rows done the way the server does it.

import * as api from './api.js';
import { h, table, stateBadge, countsLine, fmtPct, fmtMs, hashLink, section, STATES } from './dom.js';
import { lineChart } from './chart.js';
import { timeParams, carry } from './filters.js';

// What a configuration's tests are judged against: the server's own text
// (successThresholds of GET connectionMonitors/NAME), so the automatic
// thresholds and the protocols they apply to live in one place (the model).
export function thresholdText(monitor, cfg) {
  return (cfg && monitor && monitor.successThresholds && monitor.successThresholds[cfg.name]) || '–';
}

function configDetail(c) {
  const p = c.httpConfiguration || c.tcpConfiguration || c.icmpConfiguration || {};
  const bits = [];
  if (p.method) bits.push(p.method.toUpperCase());
  if (p.port) bits.push(`port ${p.port}`);
  if (p.path) bits.push(p.path);
  if (p.validStatusCodeRanges) bits.push(`status ${p.validStatusCodeRanges.join(',')}`);
  if (p.disableTraceRoute === false) bits.push('traceroute');
  return bits.join(' · ');
}

// The definition as tables; keep(kind, name) narrows it (group drill-down).
export function essentials(monitor, keep = () => true) {
  const p = monitor.properties || {};
  const groups = (p.testGroups || []).filter((g) => keep('group', g.name));
  const used = (list) => new Set(groups.flatMap((g) => g[list] || []));
  const srcs = used('sources');
  const dsts = used('destinations');
  const cfgs = used('testConfigurations');
  const endpoints = p.endpoints || [];
  const epCols = [
    { label: 'Name', value: (e) => e.name },
    { label: 'Type', value: (e) => e.type || (e.resourceId ? 'Agent' : 'ExternalAddress') },
    { label: 'Address', value: (e) => e.address || e.resourceId || '' },
  ];
  return h('div', { class: 'essentials' },
    h('dl', { class: 'facts' },
      h('dt', { text: 'Monitor' }), h('dd', null, h('a', { href: `#/monitor/${encodeURIComponent(monitor.name)}`, text: monitor.name })),
      h('dt', { text: 'Status' }), h('dd', { text: monitor.monitoringStatus }),
      h('dt', { text: 'Notes' }), h('dd', { text: p.notes || '–' }),
      h('dt', { text: 'Updated' }), h('dd', { text: monitor.updatedAt || '–' })),
    h('div', { class: 'grid2' },
      h('div', null, h('h3', { text: 'Sources' }), table(epCols, endpoints.filter((e) => srcs.has(e.name)))),
      h('div', null, h('h3', { text: 'Destinations' }), table(epCols, endpoints.filter((e) => dsts.has(e.name))))),
    h('h3', { text: 'Test configurations and thresholds' }),
    table([
      { label: 'Name', value: (c) => c.name },
      { label: 'Protocol', value: (c) => c.protocol },
      { label: 'Every', class: 'num', value: (c) => `${c.testFrequencySec || 60} s` },
      { label: 'Details', value: configDetail },
      { label: 'Success threshold', value: (c) => thresholdText(monitor, c) },
    ], (p.testConfigurations || []).filter((c) => cfgs.has(c.name))),
    h('h3', { text: 'Test groups' }),
    table([
      { label: 'Name', value: (g) => g.name },
      { label: 'Enabled', value: (g) => (g.disable ? 'disabled' : 'yes') },
      { label: 'Sources', value: (g) => (g.sources || []).join(', ') },
      { label: 'Destinations', value: (g) => (g.destinations || []).join(', ') },
      { label: 'Configurations', value: (g) => (g.testConfigurations || []).join(', ') },
    ], groups));
}

// Trend lines of one filter (metric dimensions) over the URL's time range.
export async function trends(dims, params) {
  const t = timeParams(params);
  const [rtt, failed] = await Promise.all(['RoundTripTimeMs', 'ChecksFailedPercent'].map((name) =>
    api.get('metrics', Object.assign({ name }, t, dims))));
  return h('div', { class: 'grid2 trends' },
    lineChart('Round-trip time (average)', [{ label: 'RTT', points: rtt.points }], 'ms', t),
    lineChart('Checks failed (average)', [{ label: 'Checks failed', points: failed.points }], '%', t));
}

function topList(title, rows, key, fmt, link) {
  const top = rows.filter((r) => r[key] !== null && r[key] !== undefined)
    .sort((a, b) => b[key] - a[key]).slice(0, 5);
  return h('div', { class: 'top5' }, h('h3', { text: title }),
    top.length ? h('ol', null, top.map((r) => h('li', null,
      link ? h('a', { href: link(r), text: r.name }) : r.name, ' ', h('span', { class: 'fig', text: fmt(r[key]) }))))
      : h('p', { class: 'muted', text: 'No figures yet.' }));
}

// sets: [{label, rows, link}] -> top 5 by checks failed % and by RTT each.
export function top5(sets) {
  return h('div', { class: 'top-grid' }, sets.flatMap((s) => [
    topList(`${s.label} by checks failed %`, s.rows, 'checksFailedPercent', fmtPct, s.link),
    topList(`${s.label} by RTT`, s.rows, 'roundTripTimeMs', fmtMs, s.link),
  ]));
}

export function rollupColumns(nameLabel, link) {
  return [
    { label: nameLabel, value: (r) => (link ? h('a', { href: link(r), text: r.name }) : r.name) },
    { label: 'State', value: (r) => stateBadge(r.state) },
    { label: 'Reason', class: 'reason', value: (r) => r.reason || '' },
    { label: 'Tests', class: 'num', value: (r) => String(r.testCount) },
    { label: 'Per state', value: (r) => countsLine(r.counts) },
    { label: 'Checks failed', class: 'num', value: (r) => fmtPct(r.checksFailedPercent) },
    { label: 'RTT', class: 'num', value: (r) => fmtMs(r.roundTripTimeMs) },
  ];
}

// One test row: the API has no GET /tests/{id}, so it is found among its
// monitor's tests (?monitor= in the URL) or among all tests.
export async function findTest(id, monitor, at) {
  const rows = await api.getAll('tests', { monitor, at });
  const t = rows.find((r) => r.id === id);
  if (!t) throw new api.ApiError(404, { error: { code: 'not_found', message: `test ${id} not found` } });
  return t;
}

export function testLink(t, params) {
  return hashLink(`test/${encodeURIComponent(t.id)}`, carry(params, { monitor: t.monitor }));
}

export function testColumns(params, opts = {}) {
  const cols = [];
  if (opts.select) cols.push(opts.select);
  if (opts.monitor) cols.push({ label: 'Monitor', value: (t) => t.monitor });
  cols.push(
    { label: 'Test group', value: (t) => t.testGroup },
    { label: 'Source', value: (t) => t.source },
    { label: 'Source address', value: (t) => t.sourceAddress || '' },
    { label: 'Destination', value: (t) => h('a', { href: testLink(t, params), text: t.destination }) },
    { label: 'Configuration', value: (t) => `${t.testConfiguration} (${t.protocol})` },
    { label: 'State', value: (t) => stateBadge(t.state) },
    { label: 'Reason', class: 'reason', value: (t) => t.reason || '' },
    { label: 'Checks failed', class: 'num', value: (t) => fmtPct(t.checksFailedPercent) },
    { label: 'RTT', class: 'num', value: (t) => fmtMs(t.roundTripTimeMs) },
  );
  return cols;
}

const RANK = { Fail: 4, Warning: 3, Indeterminate: 2, Pass: 1, NotRunning: 0 };

// Roll test rows up by a field, as the API's roll-up views do (DESIGN 4).
export function rollup(tests, field) {
  const by = new Map();
  for (const t of tests) {
    const name = t[field];
    let r = by.get(name);
    if (!r) {
      r = { name, monitor: t.monitor, state: 'NotRunning', reason: '', testCount: 0,
        counts: Object.fromEntries(STATES.map((s) => [s, 0])), checksFailedPercent: null, roundTripTimeMs: null };
      by.set(name, r);
    }
    r.testCount++;
    r.counts[t.state]++;
    if (r.testCount === 1 || RANK[t.state] > RANK[r.state]) {
      r.state = t.state;
      r.reason = t.reason;
    }
    for (const k of ['checksFailedPercent', 'roundTripTimeMs']) {
      if (t[k] !== null && (r[k] === null || t[k] > r[k])) r[k] = t[k];
    }
  }
  return [...by.values()];
}

// Tabs whose choice lives in the URL (?tab=); arrow keys move between them.
// A Sources/Destinations/Test configurations row opens the page's Tests tab
// with exactly that row's tests (source=, destination=, testConfiguration=
// in the URL: exact names, unlike the search).
const NARROW_KEYS = ['source', 'destination', 'testConfiguration'];

export function narrowTests(tests, params) {
  return tests.filter((t) => NARROW_KEYS.every((k) => !params.get(k) || t[k] === params.get(k)));
}

function narrowLink(route, params, key) {
  return (r) => hashLink(route, carry(params, { tab: 'tests', [key]: r.name }));
}

// The Sources, Destinations and Test configurations tabs of a drill-down
// page (route: its address) whose rows open their tests, and those links
// for its top 5.
export function rollupTabs(route, params, { sources, dests, configs }) {
  const links = Object.fromEntries(NARROW_KEYS.map((k) => [k, narrowLink(route, params, k)]));
  const tab = (id, label, col, rows, link, key) => ({ id, label, count: rows.length,
    render: () => table(rollupColumns(col, link), rows, link, { key: (r) => `${key}:${r.name}` }) });
  return {
    links,
    tabs: [tab('sources', 'Sources', 'Source', sources, links.source, 's'),
      tab('destinations', 'Destinations', 'Destination', dests, links.destination, 'd'),
      tab('configurations', 'Test configurations', 'Configuration', configs, links.testConfiguration, 'c')],
  };
}

// The Tests tab, narrowed to a row's tests when the URL says so.
export function testsTab(tests, params, setParams) {
  const on = NARROW_KEYS.filter((k) => params.get(k));
  const shown = narrowTests(tests, params);
  return h('div', null,
    on.length ? h('p', { class: 'narrowed', id: 'tests-narrowed' },
      `Only the tests with ${on.map((k) => `${k} ${params.get(k)}`).join(', ')}. `,
      h('button', { type: 'button', id: 'tests-unnarrow', text: 'Show all tests',
        onclick: () => setParams(Object.fromEntries(NARROW_KEYS.map((k) => [k, null])), true) })) : null,
    table(testColumns(params), shown, (t) => testLink(t, params), { key: (t) => `t:${t.id}` }));
}

export function tabs(params, setParams, list) {
  const current = list.find((t) => t.id === params.get('tab')) || list[0];
  const bar = h('div', { class: 'tabs', role: 'tablist' }, list.map((t) => h('button', {
    type: 'button', role: 'tab', id: `tab-${t.id}`, 'aria-selected': t === current ? 'true' : 'false',
    tabindex: t === current ? '0' : '-1', dataset: { key: `tab:${t.id}` },
    onclick: () => setParams({ tab: t.id }, true),
    onkeydown: (ev) => {
      const i = list.indexOf(t);
      const next = ev.key === 'ArrowRight' ? list[(i + 1) % list.length]
        : ev.key === 'ArrowLeft' ? list[(i + list.length - 1) % list.length] : null;
      if (next) setParams({ tab: next.id }, true);
    },
  }, `${t.label} (${t.count})`)));
  return h('div', null, bar, h('div', { role: 'tabpanel', 'aria-labelledby': `tab-${current.id}` }, current.render()));
}

export { section };
