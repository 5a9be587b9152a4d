// monitor.js: a connection monitor's drill-down -- its essentials at the
// top (name, status, state summary, regions of its sources, counts of
// groups, tests, sources and destinations, created/updated: all from
// GET connectionMonitors/NAME), trend lines over the URL's time range, the top 5 test groups,
// sources and destinations by checks failed % and by RTT, and tabs with the
// roll-up rows (state + reason) of its groups, sources, destinations,
// configurations and its tests, the hop-level issues of its tests' latest
// traced paths and its topology graph (sources -> hops -> destinations),
// and its definition.  The filter bar narrows every table through the
// API's own filters; the alert filter (a test filter) keeps the tests a
// firing alert covers and the roll-up rows that hold one of them.

import * as api from '../lib/api.js';
import { h, table, stateBadge, countsLine, hashLink, section } from '../lib/dom.js';
import { viewParams, carry } from '../lib/filters.js';
import { essentials, essentialsTop, monitorFacts, trends, top5, rollupColumns, tabs, rollupTabs, testsTab, rowsWithTests } from '../lib/drill.js';
import { alertsFor, filterTests } from '../lib/alerts.js';
import { ruleLink } from './alertrule.js';
import { hopIssues, hopIssuesView, monitorGraph } from '../lib/topo.js';

// Roll-up rows and tests, as the API rolls them up for the URL's filters.
async function rows(name, params) {
  const vp = viewParams(params, { monitor: name });
  const [groups, sources, dests, configs, tests, alerts] = await Promise.all([
    api.getAll('testGroups', vp), api.getAll('sources', vp), api.getAll('destinations', vp),
    api.getAll('testConfigurations', vp), api.getAll('tests', vp), alertsFor(params)]);
  if (!alerts) return { groups, sources, dests, configs, tests };
  const kept = filterTests(tests, params, alerts);
  return { groups: rowsWithTests(groups, kept, 'testGroup'), sources: rowsWithTests(sources, kept, 'source'),
    dests: rowsWithTests(dests, kept, 'destination'), configs: rowsWithTests(configs, kept, 'testConfiguration'),
    tests: kept };
}

// Stop or start monitoring (admin): POST .../stop|start, then show the result.
function startStop(mon, setParams) {
  const running = mon.monitoringStatus === 'Running';
  const status = h('span', { class: 'muted', role: 'status' });
  const button = h('button', {
    type: 'button', id: 'monitor-toggle', dataset: { key: 'toggle' },
    text: running ? 'Stop monitoring' : 'Start monitoring',
    onclick: async () => {
      button.disabled = true;
      try {
        await api.post(`connectionMonitors/${encodeURIComponent(mon.name)}/${running ? 'stop' : 'start'}`);
        setParams({}, true); // re-render in place
      } catch (err) {
        status.textContent = ` ${err.message}`;
        button.disabled = false;
      }
    },
  });
  return h('span', null, button, status);
}

export default {
  title: ({ segs }) => `Monitor ${segs[0]}`,
  filters: true,
  async render({ segs, params, setParams }) {
    const name = segs[0];
    const [mon, r, trend, topo] = await Promise.all([
      api.get(`connectionMonitors/${encodeURIComponent(name)}`, { at: params.get('at') }),
      rows(name, params),
      trends({ ConnectionMonitorResourceId: name }, params),
      api.get(`connectionMonitors/${encodeURIComponent(name)}/topology`),
    ]);
    const { groups, sources, dests, configs, tests } = r;
    const issues = await hopIssues(tests, params);
    const groupLink = (g) => hashLink(`group/${encodeURIComponent(name)}/${encodeURIComponent(g.name)}`, carry(params));
    const rt = rollupTabs(`monitor/${encodeURIComponent(name)}`, params, { sources, dests, configs });
    const tabList = [
      { id: 'groups', label: 'Test groups', count: groups.length,
        render: () => table(rollupColumns('Test group', groupLink), groups, groupLink, { key: (r) => `g:${r.name}` }) },
      ...rt.tabs,
      { id: 'tests', label: 'Tests', count: tests.length,
        render: () => testsTab(tests, params, setParams) },
    ];
    return h('div', null,
      h('nav', { class: 'crumbs', 'aria-label': 'Breadcrumb' }, h('a', { href: hashLink('monitors', carry(params)), text: 'Monitors' }), ' › ', name),
      h('h1', null, `Monitor ${name} `, stateBadge(mon.state), mon.monitoringStatus === 'Stopped' ? h('span', { class: 'muted', text: '(stopped)' }) : null),
      h('p', { class: 'headline' }, mon.reason ? h('span', { class: 'reason', text: mon.reason }) : null, ' ', countsLine(mon.counts),
        ' ', h('a', { href: `#/edit/${encodeURIComponent(name)}`, text: 'Edit JSON' }),
        ' ', h('a', { id: 'configure-alerts', href: ruleLink({ monitor: name }), text: 'Configure alerts' }), ' ', startStop(mon, setParams)),
      essentialsTop(monitorFacts(mon)),
      section('Trends', trend),
      section('Top 5', top5([
        { label: 'Test groups', rows: groups, link: groupLink },
        { label: 'Sources', rows: sources, link: rt.links.source },
        { label: 'Destinations', rows: dests, link: rt.links.destination },
      ])),
      h('section', { class: 'panel', id: 'hop-issues' }, h('h2', { text: 'Hop-level issues' }), hopIssuesView(issues, params)),
      h('section', { class: 'panel', id: 'monitor-topology' }, h('h2', { text: `Topology (${topo.tracedTests} traced tests, latest paths)` }),
        topo.nodes.length ? monitorGraph(topo) : h('p', { class: 'muted', text: 'No traced path yet.' })),
      section('Details', tabs(params, setParams, tabList)),
      section('Definition', essentials(mon)));
  },
};
