// compare.js: 2-4 tests side by side -- their RTT and checks failed % as
// overlaid lines (one uPlot series per test) over the URL's time range.
// The tests come from ?ids=a,b,c (ticked in All tests).

import * as api from '../lib/api.js';
import { h, table, stateBadge, fmtPct, fmtMs, hashLink, section } from '../lib/dom.js';
import { timeParams, carry } from '../lib/filters.js';
import { lineChart } from '../lib/chart.js';
import { testLink } from '../lib/drill.js';

function label(t) {
  return `${t.source} → ${t.destination} (${t.testConfiguration})`;
}

export default {
  title: () => 'Compare tests',
  filters: 'range',
  async render({ params }) {
    const ids = (params.get('ids') || '').split(',').filter(Boolean).slice(0, 4);
    const head = h('h1', { text: 'Compare tests' });
    if (ids.length < 2) {
      return h('div', null, head, h('p', null, 'Pick 2 to 4 tests in ',
        h('a', { href: hashLink('tests', carry(params, { sel: ids.join(',') })), text: 'All tests' }), ' (tick them, then "Compare selected").'));
    }
    const all = await api.getAll('tests', {});
    const tests = ids.map((id) => all.find((t) => t.id === id)).filter(Boolean);
    const tp = timeParams(params);
    const metric = (name) => Promise.all(tests.map((t) => api.get('metrics', Object.assign({ name, TestId: t.id }, tp))));
    const [rtt, failed] = await Promise.all([metric('RoundTripTimeMs'), metric('ChecksFailedPercent')]);
    const series = (answers) => answers.map((a, i) => ({ label: label(tests[i]), points: a.points }));
    return h('div', null, head,
      section('Tests', table([
        { label: 'Test', value: (t) => h('a', { href: testLink(t, params), text: label(t) }) },
        { label: 'Monitor', value: (t) => t.monitor },
        { label: 'State', value: (t) => stateBadge(t.state) },
        { label: 'Reason', class: 'reason', value: (t) => t.reason || '' },
        { label: 'Checks failed', class: 'num', value: (t) => fmtPct(t.checksFailedPercent) },
        { label: 'RTT', class: 'num', value: (t) => fmtMs(t.roundTripTimeMs) },
      ], tests, (t) => testLink(t, params))),
      section('Trends',
        h('div', { class: 'grid1' },
          lineChart('Round-trip time', series(rtt), 'ms', Object.assign({ height: 220 }, tp)),
          lineChart('Checks failed', series(failed), '%', Object.assign({ height: 220 }, tp)))));
  },
};
