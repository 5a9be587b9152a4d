// topology.js: one test's traced path -- the latest path as a graph of hops
// coloured by loss and added latency (hop issues outlined), the traces of
// the time range on a timeline with route changes marked, the route changes
// with the route before and after, and the hop figures.  Data: the test's
// row (GET /api/v1/tests) and GET /api/v1/tests/{id}/paths.

import { h, table, stateBadge, fmtTime, fmtPct, fmtMs, hashLink, section } from '../lib/dom.js';
import { carry } from '../lib/filters.js';
import { findTest, testLink } from '../lib/drill.js';
import { pathsInRange, latestPath, pathGraph, legend, timeline, hopsTable, routeOf } from '../lib/topo.js';

function issuesList(path) {
  const list = path.issues || [];
  if (!list.length) return h('p', { class: 'muted', id: 'path-issues-none', text: 'No hop issues on this path.' });
  return h('ul', { id: 'path-issues' }, list.map((i) => h('li', null, h('code', { text: i.diagnostic }),
    i.ttl ? ` at hop ${i.ttl} (${i.address}): ${i.diagnostic === 'hop_loss' ? fmtPct(i.value) : fmtMs(i.value)}` +
      ` (threshold ${i.diagnostic === 'hop_loss' ? fmtPct(i.threshold) : fmtMs(i.threshold)})` : ': the route differs from the previous trace')));
}

function changesTable(paths) {
  const rows = [];
  paths.forEach((p, i) => {
    if (p.routeChanged) rows.push({ time: p.time, before: i > 0 ? routeOf(paths[i - 1]) : '(before this time range)', after: routeOf(p) });
  });
  return table([
    { label: 'Time', value: (r) => fmtTime(r.time) },
    { label: 'Route before', value: (r) => r.before },
    { label: 'Route after', value: (r) => r.after },
  ], rows.reverse(), null, { empty: 'No route change in this time range.' });
}

export default {
  title: () => 'Topology',
  filters: 'range',
  async render({ segs, params }) {
    const id = segs[0];
    const t = await findTest(id, params.get('monitor'), params.get('at'));
    const ranged = await pathsInRange(id, params);
    const latest = await latestPath(id, params, ranged.length ? ranged : null);
    const crumbs = h('nav', { class: 'crumbs', 'aria-label': 'Breadcrumb' },
      h('a', { href: hashLink('monitors', carry(params)), text: 'Monitors' }), ' › ',
      h('a', { href: hashLink(`monitor/${encodeURIComponent(t.monitor)}`, carry(params)), text: t.monitor }), ' › ',
      h('a', { href: testLink(t, params), text: `${t.source} → ${t.destination}` }), ' › topology');
    const head = h('h1', null, `Topology: ${t.source} → ${t.destination} (${t.testConfiguration}) `, stateBadge(t.state));
    if (!latest) {
      return h('div', null, crumbs, head,
        h('p', { class: 'muted', id: 'no-path', text: 'No traced path for this test in the last 7 days (agents trace a test on its first round, when its state changes and every --trace-interval; never with disableTraceRoute).' }));
    }
    return h('div', null, crumbs, head,
      section(`Latest path (${fmtTime(latest.time)}, ${latest.hops.length} hops${latest.reached ? '' : ', destination not reached'})`,
        pathGraph(t.source, latest), legend(), h('h3', { text: 'Hop issues' }), issuesList(latest)),
      section('Route timeline', timeline(ranged, params), h('h3', { text: 'Route changes' }), changesTable(ranged)),
      section('Hops', hopsTable(latest)));
  },
};
