// test.js: one test's drill-down -- what it is (source, destination,
// configuration, thresholds), its state with the reason (breached threshold
// + diagnostic), trend lines (TestId), the hop-level issues of its latest
// traced path (link to its topology), its state history and latest rounds.
// A test whose source stands for several agents (a compound source) expands
// into its members: each agent's own figures and state (the "cluster").

import * as api from '../lib/api.js';
import { h, table, stateBadge, fmtPct, fmtMs, fmtTime, hashLink, section } from '../lib/dom.js';
import { timeParams, carry } from '../lib/filters.js';
import { trends, thresholdText, findTest } from '../lib/drill.js';
import { ruleLink } from './alertrule.js';
import { hopIssues, hopIssuesView, topologyLink } from '../lib/topo.js';

function facts(t, cfg, mon) {
  const dl = h('dl', { class: 'facts' });
  const add = (k, v) => dl.append(h('dt', { text: k }), h('dd', null, v));
  add('State', stateBadge(t.state));
  add('Reason', h('span', { class: 'reason', id: 'test-reason', text: t.reason || '–' }));
  add('Diagnostic', t.diagnostic || '–');
  add('Monitor', h('a', { href: `#/monitor/${encodeURIComponent(t.monitor)}`, text: t.monitor }));
  add('Test group', h('a', { href: `#/group/${encodeURIComponent(t.monitor)}/${encodeURIComponent(t.testGroup)}`, text: t.testGroup }));
  add('Source', t.sourceType && t.sourceType !== 'Agent' ? `${t.source} (${t.sourceType})` : t.source);
  if (t.sourceAddress && t.sourceAddress !== t.source) add('Source address', t.sourceAddress);
  add('Destination', `${t.destination} (${t.target}${t.port ? ` port ${t.port}` : ''})`);
  add('Configuration', `${t.testConfiguration} (${t.protocol}${cfg ? `, every ${cfg.testFrequencySec || 60} s` : ''})`);
  add('Threshold', thresholdText(mon, cfg));
  add('Checks failed', fmtPct(t.checksFailedPercent));
  add('RTT', fmtMs(t.roundTripTimeMs));
  add('Last result', fmtTime(t.lastResultAt));
  add('State since', fmtTime(t.stateSince));
  add('Test id', h('code', { text: t.id }));
  return dl;
}

export default {
  title: () => 'Test',
  filters: true,
  async render({ segs, params }) {
    const id = segs[0];
    const t = await findTest(id, params.get('monitor'), params.get('at'));
    const tp = timeParams(params);
    const compound = t.sourceType && t.sourceType !== 'Agent';
    const [mon, trend, changes, results, issues, members] = await Promise.all([
      api.get(`connectionMonitors/${encodeURIComponent(t.monitor)}`),
      trends({ TestId: id }, params),
      api.get(`tests/${encodeURIComponent(id)}/stateChanges`, { from: tp.from, to: tp.to }),
      api.get('results', { testId: id, from: tp.from, to: tp.to, limit: 1000 }),
      hopIssues([t], params),
      compound ? api.get(`tests/${encodeURIComponent(id)}/members`) : null,
    ]);
    const cfg = ((mon.properties || {}).testConfigurations || []).find((c) => c.name === t.testConfiguration);
    const rounds = results.items.slice(-20).reverse();
    return h('div', null,
      h('nav', { class: 'crumbs', 'aria-label': 'Breadcrumb' },
        h('a', { href: hashLink('monitors', carry(params)), text: 'Monitors' }), ' › ',
        h('a', { href: hashLink(`monitor/${encodeURIComponent(t.monitor)}`, carry(params)), text: t.monitor }), ' › ',
        h('a', { href: hashLink(`group/${encodeURIComponent(t.monitor)}/${encodeURIComponent(t.testGroup)}`, carry(params)), text: t.testGroup }), ' › ',
        `${t.source} → ${t.destination}`),
      h('h1', null, `${t.source} → ${t.destination} (${t.testConfiguration}) `, stateBadge(t.state)),
      h('p', { class: 'headline' }, h('a', { href: hashLink('compare', { ids: id }), text: 'Compare with other tests' }),
        h('a', { href: topologyLink(t, params), id: 'topology-link', text: 'Topology (traced path)' }),
        h('a', { id: 'configure-alerts', text: 'Configure alerts', href: ruleLink({
          monitor: t.monitor, testGroup: t.testGroup, source: t.source, destination: t.destination, testConfiguration: t.testConfiguration,
        }) })),
      section('Essentials', facts(t, cfg, mon)),
      members ? h('section', { class: 'panel', id: 'members' },
        h('h2', { text: `Members (${members.items.length})` }),
        table([
          { label: 'Agent', value: (m) => m.agent },
          { label: 'Address', value: (m) => m.address || '–' },
          { label: 'State', value: (m) => stateBadge(m.state) },
          { label: 'Reason', class: 'reason', value: (m) => m.reason || '' },
          { label: 'Checks failed', class: 'num', value: (m) => fmtPct(m.checksFailedPercent) },
          { label: 'RTT', class: 'num', value: (m) => fmtMs(m.roundTripTimeMs) },
          { label: 'Last result', value: (m) => fmtTime(m.lastResultAt) },
        ], members.items, null, { key: (m) => `m:${m.agent}`, empty: 'No member has a round within one frequency.' })) : null,
      section('Trends', trend),
      h('section', { class: 'panel', id: 'hop-issues' }, h('h2', { text: 'Hop-level issues' }), hopIssuesView(issues, params)),
      section('State changes', table([
        { label: 'Time', value: (c) => fmtTime(c.time) },
        { label: 'From', value: (c) => stateBadge(c.from) },
        { label: 'To', value: (c) => stateBadge(c.to) },
        { label: 'Reason', class: 'reason', value: (c) => c.reason || '' },
      ], changes.items.slice().reverse(), null, { empty: 'No state change in this time range.' })),
      section('Latest rounds', table([
        { label: 'Start', value: (r) => fmtTime(r.startTime) },
        { label: 'Agent', value: (r) => r.agent },
        { label: 'Checks failed', class: 'num', value: (r) => `${r.checksFailed} / ${r.checksTotal}` },
        { label: 'RTT avg', class: 'num', value: (r) => fmtMs(r.rtt && r.rtt.avg) },
        { label: 'Diagnostic', value: (r) => [r.diagnostic, r.detail].filter(Boolean).join(': ') },
      ], rounds, null, { empty: 'No round in this time range.' })));
  },
};
