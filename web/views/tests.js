// tests.js: every test with its state and reason, narrowed by the filter bar
// (search with scope, state and the exact scope filters go to
// /api/v1/tests as its own parameters; the
// alert filter keeps the tests a firing alert covers, or the others).  The
// Alert column names the firing rules of each test.  Tick 2-4 tests (kept
// in the URL as ?sel=) to compare their trend lines.

import * as api from '../lib/api.js';
import { h, table, hashLink, section, STATES, STATE_LABEL } from '../lib/dom.js';
import { viewParams, carry } from '../lib/filters.js';
import { testColumns, testLink } from '../lib/drill.js';
import { firingAlerts, filterTests, covers } from '../lib/alerts.js';
import { viewSwitch } from '../lib/scope.js';

const MAX_COMPARE = 4;

function selection(params) {
  return (params.get('sel') || '').split(',').filter(Boolean);
}

function alertColumn(alerts) {
  return {
    label: 'Alert',
    value: (t) => {
      const rules = [...new Set(alerts.filter((a) => covers(a, t)).map((a) => a.rule))];
      return rules.length ? h('span', { class: 'alert-state alert-firing', title: rules.join(', '), text: `firing: ${rules.join(', ')}` }) : '';
    },
  };
}

export default {
  title: () => 'All tests',
  filters: true,
  entity: 'tests',
  async render({ params, setParams }) {
    const [all, alerts] = await Promise.all([api.getAll('tests', viewParams(params)), firingAlerts()]);
    const rows = filterTests(all, params, alerts);
    const sel = selection(params);
    const toggle = (id, on) => {
      const next = sel.filter((x) => x !== id);
      if (on) next.push(id);
      setParams({ sel: next.join(',') }, true);
    };
    const select = {
      label: 'Compare',
      value: (t) => h('input', {
        type: 'checkbox', 'aria-label': `Compare ${t.source} to ${t.destination} (${t.testConfiguration})`,
        checked: sel.includes(t.id), disabled: !sel.includes(t.id) && sel.length >= MAX_COMPARE,
        dataset: { key: `c:${t.id}`, testId: t.id },
        onchange: (ev) => toggle(t.id, ev.target.checked),
      }),
    };
    const counts = Object.fromEntries(STATES.map((s) => [s, rows.filter((t) => t.state === s).length]));
    const canCompare = sel.length >= 2 && sel.length <= MAX_COMPARE;
    return h('div', null,
      h('h1', { text: 'All tests' }),
      viewSwitch('tests', params),
      h('p', { class: 'headline' },
        `${rows.length} tests: `, STATES.filter((s) => counts[s]).map((s) => `${counts[s]} ${STATE_LABEL[s]}`).join(', ') || 'none',
        ' ',
        h('a', {
          id: 'compare-link', class: canCompare ? 'button' : 'button disabled', 'aria-disabled': canCompare ? null : 'true',
          href: canCompare ? hashLink('compare', carry(params, { ids: sel.join(',') })) : null,
          text: `Compare selected (${sel.length})`,
        }),
        sel.length ? h('button', { type: 'button', onclick: () => setParams({ sel: null }, true), text: 'Clear selection' }) : null,
        h('span', { class: 'muted', text: ' Tick 2 to 4 tests to compare them.' })),
      section('Tests', table(testColumns(params, { select, monitor: true }).concat([alertColumn(alerts)]), rows, (t) => testLink(t, params),
        { key: (t) => `t:${t.id}`, empty: 'No test matches the filters.' })));
  },
};
