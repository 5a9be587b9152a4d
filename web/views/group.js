// group.js: a test group's drill-down -- the group's part of the monitor's
// definition, its trend lines (TestGroupName), top 5 sources and
// destinations, and tabs of its sources, destinations, configurations and
// tests.  The API's views match text, not exact names, so the group's tests
// are fetched with the monitor filter and kept by exact group name here;
// their roll-ups are computed the way the server computes them.  The alert
// filter keeps the tests a firing alert covers (or the others); the hop-level
// issues come from the kept tests' latest traced paths.

import * as api from '../lib/api.js';
import { h, stateBadge, countsLine, hashLink, section } from '../lib/dom.js';
import { viewParams, carry } from '../lib/filters.js';
import { essentials, trends, top5, tabs, rollup, rollupTabs, narrowTests, testsTab } from '../lib/drill.js';
import { alertsFor, filterTests } from '../lib/alerts.js';
import { ruleLink } from './alertrule.js';
import { hopIssues, hopIssuesView } from '../lib/topo.js';

export default {
  title: ({ segs }) => `Test group ${segs[1]}`,
  filters: true,
  async render({ segs, params, setParams }) {
    const [name, group] = segs;
    const state = params.get('state');
    const vp = viewParams(params, { monitor: name, state: null });
    const [mon, all, trend, alerts] = await Promise.all([
      api.get(`connectionMonitors/${encodeURIComponent(name)}`, { at: params.get('at') }),
      api.getAll('tests', vp),
      trends({ ConnectionMonitorResourceId: name, TestGroupName: group }, params),
      alertsFor(params),
    ]);
    if (!((mon.properties || {}).testGroups || []).some((g) => g.name === group)) {
      throw new api.ApiError(404, { error: { code: 'not_found', message: `monitor ${name} has no test group ${group}` } });
    }
    const mine = filterTests(all.filter((t) => t.testGroup === group), params, alerts);
    const whole = rollup(mine, 'testGroup')[0];
    const keepState = (rows) => rows.filter((r) => !state || r.state === state);
    const sources = keepState(rollup(mine, 'source'));
    const dests = keepState(rollup(mine, 'destination'));
    const configs = keepState(rollup(mine, 'testConfiguration'));
    const tests = keepState(mine);
    const issues = await hopIssues(tests, params);
    const rt = rollupTabs(`group/${encodeURIComponent(name)}/${encodeURIComponent(group)}`, params, { sources, dests, configs });
    const tabList = [
      { id: 'tests', label: 'Tests', count: narrowTests(tests, params).length,
        render: () => testsTab(tests, params, setParams) },
      ...rt.tabs,
    ];
    return h('div', null,
      h('nav', { class: 'crumbs', 'aria-label': 'Breadcrumb' },
        h('a', { href: hashLink('monitors', carry(params)), text: 'Monitors' }), ' › ',
        h('a', { href: hashLink(`monitor/${encodeURIComponent(name)}`, carry(params)), text: name }), ' › ', group),
      h('h1', null, `Test group ${group} `, stateBadge(whole ? whole.state : null)),
      h('p', { class: 'headline' }, whole && whole.reason ? h('span', { class: 'reason', text: whole.reason }) : null, ' ',
        whole ? countsLine(whole.counts) : 'No test matches the search.',
        ' ', h('a', { id: 'configure-alerts', href: ruleLink({ monitor: name, testGroup: group }), text: 'Configure alerts' })),
      section('Trends', trend),
      section('Top 5', top5([{ label: 'Sources', rows: sources, link: rt.links.source }, { label: 'Destinations', rows: dests, link: rt.links.destination }])),
      h('section', { class: 'panel', id: 'hop-issues' }, h('h2', { text: 'Hop-level issues' }), hopIssuesView(issues, params)),
      section('Details', tabs(params, setParams, tabList)),
      section('Essentials', essentials(mon, (kind, n) => kind !== 'group' || n === group)));
  },
};
