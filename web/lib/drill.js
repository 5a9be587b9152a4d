// drill.js: the pieces every drill-down (monitor, test group, test) shares:
// the essentials at the top (what the API says of the monitor or group),
// the definition (endpoints, configurations with thresholds, groups), the
// trend lines of RoundTripTimeMs and ChecksFailedPercent from
// /api/v1/metrics, the top 5 by checks failed % and by RTT, and the tabs of
// roll-up rows.  Every state, roll-up and threshold shown is the server's:
// nothing here ranks states or knows a threshold.

import * as api from './api.js';
import { h, table, stateBadge, countsLine, fmtPct, fmtMs, fmtTime, hashLink, section } from './dom.js';
import { lineChart } from './chart.js';
import { timeParams, carry, SCOPE_KEYS, SCOPE_LABEL, scopeOn } from './filters.js';

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

// Essentials at the top of a drill-down: facts [[label, value, id]] as a
// definition list (each value's element has the id, for tests and links).
export function essentialsTop(facts) {
  return h('section', { class: 'panel', id: 'essentials' }, h('h2', { text: 'Essentials' }),
    h('dl', { class: 'facts essentials-top' }, facts.flatMap(([k, v, id]) =>
      [h('dt', { text: k }), h('dd', { id }, v)])));
}

// The facts every monitor page starts with, from GET connectionMonitors/NAME.
export function monitorFacts(mon) {
  return [
    ['Name', mon.name, 'ess-name'],
    ['Status', mon.monitoringStatus, 'ess-status'],
    ['State', h('span', null, stateBadge(mon.state), ' ', countsLine(mon.counts)), 'ess-state'],
    ['Regions of its sources', (mon.regions || []).join(', ') || 'none reported', 'ess-regions'],
    ['Test groups', String(mon.testGroupCount), 'ess-groups'],
    ['Tests', String(mon.testCount), 'ess-tests'],
    ['Sources', String(mon.sourceCount), 'ess-sources'],
    ['Destinations', String(mon.destinationCount), 'ess-destinations'],
    ['Created', fmtTime(mon.createdAt), 'ess-created'],
    ['Updated', fmtTime(mon.updatedAt), 'ess-updated'],
  ];
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
  return h('div', { class: 'definition' },
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

// A Sources/Destinations/Test configurations row opens the page's Tests tab
// with exactly that row's tests: source=, destination=, testConfiguration=
// in the URL, the exact scope filters the server applies (lib/filters.js).
const NARROW_KEYS = ['source', 'destination', 'testConfiguration'];

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

// The Tests tab (the server narrowed its tests by the URL's scope filters:
// say so, with a way back to all of them).
export function testsTab(tests, params, setParams) {
  const on = scopeOn(params);
  return h('div', null,
    on.length ? h('p', { class: 'narrowed', id: 'tests-narrowed' },
      `Only the tests with ${on.map(([k, v]) => `${SCOPE_LABEL[k]} ${v}`).join(', ')}. `,
      h('button', { type: 'button', id: 'tests-unnarrow', text: 'Show all tests',
        onclick: () => setParams(Object.fromEntries(SCOPE_KEYS.map((k) => [k, null])), true) })) : null,
    table(testColumns(params), tests, (t) => testLink(t, params), { key: (t) => `t:${t.id}` }));
}

// With an alert filter (a test filter: lib/alerts.js), the roll-up rows
// that hold a kept test; field: the tests' field a row is named by.
export function rowsWithTests(rows, tests, field) {
  const keep = new Set(tests.map((t) => `${t.monitor}\n${t[field]}`));
  return rows.filter((r) => keep.has(`${r.monitor}\n${r.name}`));
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
