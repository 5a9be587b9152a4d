// groups.js: the cross-monitor Test groups view -- every test group of
// every monitor (GET /api/v1/testGroups with the filter bar's parameters:
// the server rolls each group up and narrows it) with its state, reason,
// source, destination and test counts and whether it is enabled; a row
// opens the group's drill-down.  The alert filter (a test filter) keeps the
// groups that hold a test a firing alert covers (or one it does not).

import * as api from '../lib/api.js';
import { h, table, stateBadge, countsLine, hashLink, section, fmtPct, fmtMs } from '../lib/dom.js';
import { viewParams, carry } from '../lib/filters.js';
import { alertsFor, filterTests } from '../lib/alerts.js';
import { rowsWithTests } from '../lib/drill.js';
import { viewSwitch } from '../lib/scope.js';

export default {
  title: () => 'Test groups',
  filters: true,
  entity: 'testGroups',
  async render({ params }) {
    const vp = viewParams(params);
    const [all, alerts] = await Promise.all([api.getAll('testGroups', vp), alertsFor(params)]);
    const rows = alerts ? rowsWithTests(all, filterTests(await api.getAll('tests', vp), params, alerts), 'testGroup') : all;
    const link = (g) => hashLink(`group/${encodeURIComponent(g.monitor)}/${encodeURIComponent(g.name)}`, carry(params));
    const cols = [
      { label: 'Test group', value: (g) => h('a', { href: link(g), text: g.name }) },
      { label: 'Monitor', value: (g) => h('a', { href: hashLink(`monitor/${encodeURIComponent(g.monitor)}`, carry(params)), text: g.monitor }) },
      { label: 'State', value: (g) => stateBadge(g.state) },
      { label: 'Reason', class: 'reason', value: (g) => g.reason || '' },
      { label: 'Sources', class: 'num', value: (g) => String(g.sourceCount) },
      { label: 'Destinations', class: 'num', value: (g) => String(g.destinationCount) },
      { label: 'Tests', class: 'num', value: (g) => String(g.testCount) },
      { label: 'Tests per state', value: (g) => countsLine(g.counts) },
      { label: 'Enabled', value: (g) => (g.enabled ? 'enabled' : 'disabled') },
      { label: 'Checks failed (worst)', class: 'num', value: (g) => fmtPct(g.checksFailedPercent) },
      { label: 'RTT (worst)', class: 'num', value: (g) => fmtMs(g.roundTripTimeMs) },
    ];
    return h('div', null,
      h('h1', { text: 'Test groups' }),
      viewSwitch('testGroups', params),
      section(`Test groups (${rows.length})`, table(cols, rows, link,
        { key: (g) => `g:${g.monitor}/${g.name}`, empty: 'No test group matches the filters.' })));
  },
};
