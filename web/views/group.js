// group.js: a test group's drill-down -- its essentials at the top (the
// group's roll-up row of GET testGroups?monitor=&testGroup=: state, reason,
// tests per state, source and destination counts, enabled; the regions of
// its tests' sources), its trend lines (TestGroupName), top 5 sources and
// destinations, tabs of its sources, destinations, configurations and
// tests, and its part of the monitor's definition.  Every roll-up is the
// server's, asked with the exact testGroup= filter; the alert filter (a test
// filter) keeps the tests a firing alert covers (or the others) and the
// roll-up rows that hold one of them; the hop-level issues come from the
// kept tests' latest traced paths.

import * as api from '../lib/api.js';
import { h, stateBadge, countsLine, hashLink, section, fmtTime } from '../lib/dom.js';
import { viewParams, carry } from '../lib/filters.js';
import { essentials, essentialsTop, trends, top5, tabs, rollupTabs, testsTab, rowsWithTests } from '../lib/drill.js';
import { alertsFor, filterTests } from '../lib/alerts.js';
import { ruleLink } from './alertrule.js';
import { hopIssues, hopIssuesView } from '../lib/topo.js';

function groupFacts(mon, g, tests) {
  const regions = [...new Set(tests.map((t) => t.region).filter(Boolean))].sort();
  return [
    ['Name', g.name, 'ess-name'],
    ['Monitor', h('a', { href: `#/monitor/${encodeURIComponent(mon.name)}`, text: mon.name }), 'ess-monitor'],
    ['Status', `${g.enabled ? 'enabled' : 'disabled'}, monitor ${mon.monitoringStatus}`, 'ess-status'],
    ['State', h('span', null, stateBadge(g.state), ' ', countsLine(g.counts)), 'ess-state'],
    ['Regions of its sources', regions.join(', ') || 'none reported', 'ess-regions'],
    ['Tests', String(g.testCount), 'ess-tests'],
    ['Sources', String(g.sourceCount), 'ess-sources'],
    ['Destinations', String(g.destinationCount), 'ess-destinations'],
    ['Monitor created', fmtTime(mon.createdAt), 'ess-created'],
    ['Monitor updated', fmtTime(mon.updatedAt), 'ess-updated'],
  ];
}

export default {
  title: ({ segs }) => `Test group ${segs[1]}`,
  filters: true,
  async render({ segs, params, setParams }) {
    const [name, group] = segs;
    const vp = viewParams(params, { monitor: name, testGroup: group });
    const [mon, whole, groupTests, sources, dests, configs, all, trend, alerts] = await Promise.all([
      api.get(`connectionMonitors/${encodeURIComponent(name)}`, { at: params.get('at') }),
      api.getAll('testGroups', { monitor: name, testGroup: group, at: params.get('at') }),
      api.getAll('tests', { monitor: name, testGroup: group }),
      api.getAll('sources', vp), api.getAll('destinations', vp), api.getAll('testConfigurations', vp),
      api.getAll('tests', vp),
      trends({ ConnectionMonitorResourceId: name, TestGroupName: group }, params),
      alertsFor(params),
    ]);
    if (!whole.length) {
      throw new api.ApiError(404, { error: { code: 'not_found', message: `monitor ${name} has no test group ${group}` } });
    }
    const g = whole[0];
    const tests = filterTests(all, params, alerts);
    const keep = (rows, field) => (alerts ? rowsWithTests(rows, tests, field) : rows);
    const issues = await hopIssues(tests, params);
    const srcRows = keep(sources, 'source');
    const dstRows = keep(dests, 'destination');
    const rt = rollupTabs(`group/${encodeURIComponent(name)}/${encodeURIComponent(group)}`, params, {
      sources: srcRows, dests: dstRows, configs: keep(configs, 'testConfiguration') });
    const tabList = [
      { id: 'tests', label: 'Tests', count: tests.length, render: () => testsTab(tests, params, setParams) },
      ...rt.tabs,
    ];
    return h('div', null,
      h('nav', { class: 'crumbs', 'aria-label': 'Breadcrumb' },
        h('a', { href: hashLink('monitors', carry(params)), text: 'Monitors' }), ' › ',
        h('a', { href: hashLink(`monitor/${encodeURIComponent(name)}`, carry(params)), text: name }), ' › ', group),
      h('h1', null, `Test group ${group} `, stateBadge(g.state)),
      h('p', { class: 'headline' }, g.reason ? h('span', { class: 'reason', text: g.reason }) : null, ' ',
        countsLine(g.counts),
        ' ', h('a', { id: 'configure-alerts', href: ruleLink({ monitor: name, testGroup: group }), text: 'Configure alerts' })),
      essentialsTop(groupFacts(mon, g, groupTests)),
      section('Trends', trend),
      section('Top 5', top5([{ label: 'Sources', rows: srcRows, link: rt.links.source },
        { label: 'Destinations', rows: dstRows, link: rt.links.destination }])),
      h('section', { class: 'panel', id: 'hop-issues' }, h('h2', { text: 'Hop-level issues' }), hopIssuesView(issues, params)),
      section('Details', tabs(params, setParams, tabList)),
      section('Definition', essentials(mon, (kind, n) => kind !== 'group' || n === group)));
  },
};
