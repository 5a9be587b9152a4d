// topo.js: traced paths drawn without dependencies -- a test's path as an SVG
// graph (source -> hop -> ... -> destination, coloured by loss and added
// latency), the path history as an SVG timeline with route changes marked,
// and the hop-level issues (hop_loss, hop_latency) of the latest paths of a
// set of tests.  Data: GET /api/v1/tests/{id}/paths (public API only; it
// answers 200 with no items for a test never traced, so no 404 noise).

import * as api from './api.js';
import { h, table, fmtPct, fmtMs, fmtTime, hashLink } from './dom.js';
import { timeParams, carry } from './filters.js';

const SVG = 'http://www.w3.org/2000/svg';
export const LOSS_PCT = 10; // the server's default hop issue thresholds
export const LATENCY_MS = 50;
const MAX_TESTS = 50; // drill-downs read at most this many tests' paths
const WEEK_SEC = 7 * 86400;

function s(tag, attrs, ...children) {
  const el = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null) continue;
    if (k === 'text') el.textContent = v;
    else if (k === 'dataset') Object.assign(el.dataset, v);
    else el.setAttribute(k, v);
  }
  for (const c of children.flat()) if (c) el.append(c);
  return el;
}

// Paths of one test in the URL's time range, oldest first.
export async function pathsInRange(id, params) {
  const tp = timeParams(params);
  const r = await api.get(`tests/${encodeURIComponent(id)}/paths`, { from: tp.from, to: tp.to, limit: 1000 });
  return r.items;
}

// The latest path of a test: in the time range, else within the last week.
export async function latestPath(id, params, ranged) {
  const items = ranged || (await pathsInRange(id, params));
  if (items.length) return items[items.length - 1];
  const from = new Date(Date.now() - WEEK_SEC * 1000).toISOString();
  const r = await api.get(`tests/${encodeURIComponent(id)}/paths`, { from, limit: 1000 });
  return r.items.length ? r.items[r.items.length - 1] : null;
}

const hopLoss = (hop) => (hop.sent ? hop.lossPercent : 100);

// good | warn | bad | silent, from the hop's loss and its added latency.
function hopClass(hop, prevRtt, issueTtls) {
  if (!hop.address) return 'silent';
  if (issueTtls.has(hop.ttl)) return 'bad';
  const loss = hopLoss(hop);
  const added = hop.rtt && prevRtt !== null ? hop.rtt.avg - prevRtt : 0;
  if (loss >= LOSS_PCT || added >= LATENCY_MS) return 'warn';
  if (loss > 0) return 'warn';
  return 'good';
}

function hopText(hop) {
  if (!hop.address) return `hop ${hop.ttl}: no answer`;
  const rtt = hop.rtt ? `, RTT ${fmtMs(hop.rtt.avg)}` : '';
  return `hop ${hop.ttl}: ${hop.address}${hop.name ? ` (${hop.name})` : ''}, loss ${fmtPct(hopLoss(hop))}${rtt}`;
}

// The path as a left-to-right chain.  Every hop node is a focusable <g
// class="hop"> with data-address / data-ttl / data-class and a <title>.
export function pathGraph(sourceName, path) {
  const hops = path.hops || [];
  const issueTtls = new Set((path.issues || []).filter((i) => i.ttl).map((i) => i.ttl));
  const step = 150;
  const width = 90 + step * hops.length;
  const y = 46;
  const svg = s('svg', { class: 'topo', width, height: 120, viewBox: `0 0 ${width} 120`, role: 'img',
    'aria-label': `Path from ${sourceName} over ${hops.length} hops` });
  const nodes = [s('g', { class: 'node source', transform: `translate(40 ${y})` },
    s('rect', { x: -34, y: -16, width: 68, height: 32, rx: 6 }),
    s('text', { class: 'name', 'text-anchor': 'middle', y: 4, text: sourceName.slice(0, 10) }),
    s('title', { text: `source ${sourceName}` }))];
  const edges = [];
  let prevX = 74;
  let prevRtt = 0;
  hops.forEach((hop, i) => {
    const x = 40 + step * (i + 1);
    const cls = hopClass(hop, prevRtt, issueTtls);
    const last = i === hops.length - 1 && path.reached;
    edges.push(s('line', { class: `edge ${cls}`, x1: prevX, y1: y, x2: x - 20, y2: y }));
    const label = hop.address || '???';
    nodes.push(s('g', {
      class: `node hop ${cls}${last ? ' dest' : ''}`, transform: `translate(${x} ${y})`, tabindex: '0',
      dataset: { address: hop.address, ttl: String(hop.ttl), class: cls },
    },
    s('circle', { r: 18 }),
    s('text', { class: 'ttl', 'text-anchor': 'middle', y: 5, text: String(hop.ttl) }),
    s('text', { class: 'addr', 'text-anchor': 'middle', y: 36, text: label }),
    s('text', { class: 'fig', 'text-anchor': 'middle', y: 52,
      text: hop.address ? `${fmtPct(hopLoss(hop))} · ${hop.rtt ? fmtMs(hop.rtt.avg) : '–'}` : 'no answer' }),
    s('title', { text: hopText(hop) })));
    prevX = x + 20;
    if (hop.rtt) prevRtt = hop.rtt.avg;
  });
  const box = h('div', { class: 'topo-box', dataset: { hops: String(hops.length), reached: String(!!path.reached) } });
  box.append(svg);
  svg.append(...edges, ...nodes);
  return box;
}

export function legend() {
  return h('p', { class: 'topo-legend muted' },
    h('span', { class: 'key good', text: 'no loss' }), ' ',
    h('span', { class: 'key warn', text: `some loss, or ≥ ${LATENCY_MS} ms added` }), ' ',
    h('span', { class: 'key bad', text: 'hop issue (persists to the destination)' }), ' ',
    h('span', { class: 'key silent', text: 'no answer' }));
}

export const routeOf = (p) => (p.hops || []).map((x) => x.address || '???').join(' → ');

// One tick per traced path over [from, to]; route changes are red markers
// (data-route-change, a <title> with the new route) and focusable.
export function timeline(paths, params) {
  const tp = timeParams(params);
  const t0 = Date.parse(tp.from);
  const t1 = Date.parse(tp.to);
  const W = 1000;
  const xOf = (iso) => 10 + ((Date.parse(iso) - t0) / (t1 - t0)) * (W - 20);
  const svg = s('svg', { class: 'timeline', viewBox: `0 0 ${W} 44`, preserveAspectRatio: 'none', role: 'img',
    'aria-label': `${paths.length} traced paths, ${paths.filter((p) => p.routeChanged).length} route changes` },
  s('line', { class: 'axis', x1: 10, y1: 30, x2: W - 10, y2: 30 }));
  for (const p of paths) {
    const x = xOf(p.time);
    if (p.routeChanged) {
      svg.append(s('g', { class: 'change', tabindex: '0', dataset: { routeChange: p.time } },
        s('path', { d: `M${x - 6} 4 L${x + 6} 4 L${x} 16 Z` }),
        s('line', { x1: x, y1: 16, x2: x, y2: 36 }),
        s('title', { text: `${fmtTime(p.time)}: route changed to ${routeOf(p)}` })));
    } else {
      svg.append(s('line', { class: 'trace', x1: x, y1: 24, x2: x, y2: 36 },
        s('title', { text: `${fmtTime(p.time)}: traced ${routeOf(p)}` })));
    }
  }
  return h('div', { class: 'timeline-box', dataset: { traces: String(paths.length),
    changes: String(paths.filter((p) => p.routeChanged).length) } },
  svg, h('div', { class: 'timeline-axis muted' }, h('span', { text: fmtTime(tp.from) }), h('span', { text: fmtTime(tp.to) })));
}

export function hopsTable(path) {
  return table([
    { label: 'Hop', class: 'num', value: (x) => String(x.ttl) },
    { label: 'Address', value: (x) => x.address || 'no answer' },
    { label: 'Name', value: (x) => x.name || '' },
    { label: 'Sent', class: 'num', value: (x) => String(x.sent) },
    { label: 'Received', class: 'num', value: (x) => String(x.received) },
    { label: 'Loss', class: 'num', value: (x) => fmtPct(hopLoss(x)) },
    { label: 'RTT min / avg / max', class: 'num', value: (x) => (x.rtt ? `${fmtMs(x.rtt.min)} / ${fmtMs(x.rtt.avg)} / ${fmtMs(x.rtt.max)}` : '–') },
  ], path.hops || [], null, { empty: 'No hop.' });
}

const ISSUE_KINDS = new Set(['hop_loss', 'hop_latency']);

export function topologyLink(t, params) {
  return hashLink(`topology/${encodeURIComponent(t.id)}`, carry(params, { monitor: t.monitor }));
}

// Hop issues of the latest path (in the time range) of each test (at most
// MAX_TESTS of them): [{test, path}] plus the issue rows.
export async function hopIssues(tests, params) {
  const some = tests.slice(0, MAX_TESTS);
  const paths = await Promise.all(some.map((t) => pathsInRange(t.id, params)));
  const traced = [];
  const rows = [];
  some.forEach((t, i) => {
    const p = paths[i][paths[i].length - 1];
    if (!p) return;
    traced.push({ test: t, path: p });
    for (const is of p.issues || []) if (ISSUE_KINDS.has(is.diagnostic)) rows.push(Object.assign({ test: t, time: p.time }, is));
  });
  return { traced, rows, skipped: tests.length - some.length };
}

// The hop issues section's body: a table, or an explicit "no hop issues".
export function hopIssuesView(res, params) {
  const fmt = (r, v) => (r.diagnostic === 'hop_loss' ? fmtPct(v) : fmtMs(v));
  if (!res.rows.length) {
    const why = res.traced.length ? `in the latest traced paths of ${res.traced.length} test${res.traced.length === 1 ? '' : 's'}`
      : 'no test was traced in this time range';
    return h('p', { class: 'muted', id: 'hop-issues-none', text: `No hop issues (${why}).` });
  }
  return h('div', null, table([
    { label: 'Test', value: (r) => h('a', { href: topologyLink(r.test, params), text: `${r.test.source} → ${r.test.destination} (${r.test.testConfiguration})` }) },
    { label: 'Diagnostic', value: (r) => h('code', { text: r.diagnostic }) },
    { label: 'Hop', class: 'num', value: (r) => String(r.ttl) },
    { label: 'Address', value: (r) => r.address },
    { label: 'Value', class: 'num', value: (r) => fmt(r, r.value) },
    { label: 'Threshold', class: 'num', value: (r) => fmt(r, r.threshold) },
    { label: 'Traced', value: (r) => fmtTime(r.time) },
  ], res.rows, (r) => topologyLink(r.test, params), { key: (r) => `hi:${r.test.id}:${r.diagnostic}` }),
  res.skipped ? h('p', { class: 'muted', text: `Only the first ${MAX_TESTS} tests were read; narrow the filters for the others.` }) : null);
}

// A monitor's graph (GET /api/v1/connectionMonitors/{name}/topology): the
// latest path of each traced test merged -- sources left, destinations
// right, hops in columns by their distance from a source; each edge is
// coloured by the worst loss of the tests sharing it (its <title> says how
// many tests, loss and RTT).  Nodes are <g class="gnode" data-id data-kind>.
export function monitorGraph(topo) {
  const nodes = topo.nodes || [];
  const edges = topo.edges || [];
  const depth = new Map(nodes.map((n) => [n.id, 0]));
  for (let round = 0; round < nodes.length; round++) {
    let moved = false;
    for (const e of edges) {
      const d = (depth.get(e.from) || 0) + 1;
      if (d > (depth.get(e.to) || 0)) {
        depth.set(e.to, d);
        moved = true;
      }
    }
    if (!moved) break;
  }
  const last = Math.max(1, ...nodes.map((n) => depth.get(n.id) || 0));
  for (const n of nodes) if (n.kind === 'destination') depth.set(n.id, last);
  const cols = new Map();
  for (const n of nodes.slice().sort((a, b) => a.label.localeCompare(b.label))) {
    const d = depth.get(n.id);
    if (!cols.has(d)) cols.set(d, []);
    cols.get(d).push(n);
  }
  const pos = new Map();
  for (const [d, list] of cols) list.forEach((n, i) => pos.set(n.id, { x: 70 + d * 170, y: 34 + i * 62 }));
  const width = 140 + last * 170;
  const height = 30 + Math.max(...[...cols.values()].map((l) => l.length)) * 62;
  const svg = s('svg', { class: 'topo graph', width, height, viewBox: `0 0 ${width} ${height}`, role: 'img',
    'aria-label': `Topology of ${topo.monitor}: ${nodes.length} nodes, ${topo.tracedTests} traced tests` });
  for (const e of edges) {
    const a = pos.get(e.from);
    const b = pos.get(e.to);
    if (!a || !b) continue;
    const cls = e.lossPercent >= LOSS_PCT ? 'bad' : e.lossPercent > 0 ? 'warn' : 'good';
    svg.append(s('line', { class: `edge ${cls}`, x1: a.x, y1: a.y, x2: b.x, y2: b.y },
      s('title', { text: `${e.tests} test${e.tests === 1 ? '' : 's'}: loss ${fmtPct(e.lossPercent)}, RTT ${fmtMs(e.rttMs)}` })));
  }
  for (const n of nodes) {
    const p = pos.get(n.id);
    const shape = n.kind === 'hop' || n.kind === 'silent' ? s('circle', { r: 14 })
      : s('rect', { x: -50, y: -14, width: 100, height: 28, rx: 6 });
    svg.append(s('g', { class: `gnode ${n.kind}`, transform: `translate(${p.x} ${p.y})`, tabindex: '0',
      dataset: { id: n.id, kind: n.kind } },
    shape, s('text', { class: 'name', 'text-anchor': 'middle', y: n.kind === 'hop' || n.kind === 'silent' ? 28 : 4,
      text: n.label.length > 16 ? `${n.label.slice(0, 15)}…` : n.label }),
    s('title', { text: `${n.kind} ${n.label}` })));
  }
  return h('div', { class: 'topo-box', dataset: { nodes: String(nodes.length), edges: String(edges.length) } }, svg);
}
