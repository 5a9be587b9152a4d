// chart.js: time-series line charts on uPlot (web/vendor/uplot, loaded as a
// classic script that defines window.uPlot).  Series of {time, value} points
// from /api/v1/metrics are aligned on one time axis; a missing point is a gap.
// The chart's container carries data-series="N" (N drawn series) for tests.

import { h } from './dom.js';

const COLORS = ['#2563eb', '#dc2626', '#059669', '#d97706', '#7c3aed', '#0891b2'];
const live = new Set();

// Destroy charts whose element left the document (after a view re-render).
export function sweepCharts() {
  for (const u of live) {
    if (!document.body.contains(u.root)) {
      u.destroy();
      live.delete(u);
    }
  }
}

function align(series) {
  const xs = new Set();
  for (const s of series) for (const p of s.points) xs.add(Date.parse(p.time) / 1000);
  const x = [...xs].sort((a, b) => a - b);
  const index = new Map(x.map((t, i) => [t, i]));
  const ys = series.map((s) => {
    const y = new Array(x.length).fill(null);
    for (const p of s.points) y[index.get(Date.parse(p.time) / 1000)] = p.value;
    return y;
  });
  return [x, ...ys];
}

// series: [{label, points}]; unit: "ms" | "%"; opts: {height, from, to}
// (RFC 3339: the x axis spans them).  Returns the container.
export function lineChart(title, series, unit, opts = {}) {
  const box = h('figure', { class: 'chart', dataset: { series: String(series.length), title } },
    h('figcaption', { text: title }));
  const any = series.some((s) => s.points.length);
  if (!any) {
    box.append(h('p', { class: 'muted chart-empty', text: 'No data in this time range.' }));
    return box;
  }
  const data = align(series);
  box.dataset.points = data.slice(1).map((y) => y.filter((v) => v !== null).length).join(',');
  const fmt = (v) => (v === null ? '–' : `${Math.round(v * 100) / 100}${unit === '%' ? ' %' : ' ms'}`);
  const plotSeries = [{}].concat(series.map((s, i) => ({
    label: s.label,
    stroke: COLORS[i % COLORS.length],
    width: 2,
    points: { show: data[0].length < 60, size: 5 },
    value: (u, v) => fmt(v),
  })));
  const mount = h('div', { class: 'chart-plot' });
  box.append(mount);
  // Created once the figure is in the document, so its width is known.  A
  // view inserts its sections after all of its requests have answered, which
  // on a busy server can be many frames later: wait for that (up to ~30 s;
  // a figure never inserted, e.g. a view left meanwhile, is dropped).
  let frames = 0;
  const draw = () => {
    if (!mount.isConnected) {
      if (++frames < 1800) requestAnimationFrame(draw);
      return;
    }
    const width = Math.max(280, mount.clientWidth || 600);
    const u = new window.uPlot({
      width,
      height: opts.height || 180,
      series: plotSeries,
      scales: {
        // the whole requested time range, so one point does not stretch the axis
        x: opts.from ? { time: true, auto: false, range: () => [Date.parse(opts.from) / 1000, Date.parse(opts.to) / 1000] } : { time: true },
        y: { range: (u0, min, max) => [0, Math.max(max * 1.1, unit === '%' ? 1 : 0.1)] } },
      axes: [{}, { size: 60, values: (u0, vals) => vals.map((v) => `${v}${unit === '%' ? '%' : ''}`) }],
      legend: { live: true },
    }, data, mount);
    live.add(u);
    box.dataset.drawn = 'true';
  };
  requestAnimationFrame(draw);
  return box;
}

export function resizeCharts() {
  for (const u of live) {
    const w = u.root.parentElement && u.root.parentElement.clientWidth;
    if (w) u.setSize({ width: Math.max(280, w), height: u.height });
  }
}
