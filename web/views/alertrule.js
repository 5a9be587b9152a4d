// alertrule.js: the alert rule form (#/alerts/rule, #/alerts/rule/NAME) --
// create or edit a rule of docs/alerts.md: signal (a metric with a static
// condition, or test states), dimension filters, aggregation window,
// evaluation frequency, severity and action groups.  Every choice comes from
// the server, from the table its validation reads: the signals with their
// units and aggregations, operators, windows, frequencies, severities, scopes
// and states (GET /api/v1/alertSignals), the dimension keys (GET
// /api/v1/alertDimensions); dimension values are offered from the tests.
// "Configure alerts" links pre-fill them (d.KEY=VALUE in the URL).  Saving is
// PUT /api/v1/alertRules/NAME; the server validates, and each of its problems
// is shown at its field as it words it.  A rule a monitor file holds is shown
// read-only, with a link to that monitor's editor.

import * as api from '../lib/api.js';
import { h, hashLink } from '../lib/dom.js';

// The rule form pre-filled with these dimensions (a monitor, group or test page).
export function ruleLink(dims) {
  const p = {};
  for (const [k, v] of Object.entries(dims)) if (v) p[`d.${k}`] = v;
  return hashLink('alerts/rule', p);
}

const select = (id, options, value) => h('select', { id },
  options.map((o) => {
    const [v, label] = Array.isArray(o) ? o : [o, o];
    return h('option', { value: v, selected: v === value, text: label });
  }));

// One labelled field; data-field is the rule's key, where problems show.
const field = (key, label, control, hint) => h('div', { class: 'field', dataset: { field: key } },
  h('label', { for: control.id, text: label }), control,
  hint ? h('span', { class: 'muted hint', text: hint }) : null,
  h('div', { class: 'field-problem', role: 'alert' }));

const num = (id, value, attrs) => h('input', Object.assign({ id, type: 'number', value: value ?? '' }, attrs || {}));

function checkboxes(name, options, chosen) {
  return h('span', { class: 'checks', id: `rule-${name}` }, options.map((o) => h('label', { class: 'check' },
    h('input', { type: 'checkbox', name, value: o, checked: chosen.includes(o) }), ` ${o}`)));
}

function distinct(tests, key) {
  return [...new Set(tests.map((t) => t[key]).filter(Boolean))].sort();
}

// The body the form describes: fields of its kind only; empty numbers are
// left to the server's defaults.
function ruleBody(form, dims) {
  const v = (id) => form.querySelector(`#rule-${id}`).value.trim();
  const n = (id) => (v(id) === '' ? undefined : Number(v(id)));
  const checked = (name) => [...form.querySelectorAll(`input[name="${name}"]:checked`)].map((c) => c.value);
  const kind = v('kind');
  const body = {
    kind,
    description: v('description') || undefined,
    enabled: form.querySelector('#rule-enabled').checked,
    severity: n('severity'),
    evaluationFrequencySec: n('evaluationFrequencySec'),
    forEvaluations: n('forEvaluations'),
    dimensions: Object.fromEntries(dims.map((d) => [d, v(`dim-${d}`)]).filter(([, x]) => x)),
    actionGroups: checked('actionGroups'),
  };
  if (kind === 'metric') {
    Object.assign(body, {
      metric: v('metric'), operator: v('operator'), threshold: n('threshold'),
      aggregation: v('aggregation'), windowSizeSec: n('windowSizeSec'),
    });
  } else {
    Object.assign(body, { scope: v('scope'), states: checked('states') });
  }
  return body;
}

function showProblems(form, err) {
  const list = form.querySelector('#rule-problems');
  for (const el of form.querySelectorAll('.field-problem')) el.textContent = '';
  for (const el of form.querySelectorAll('.field.err')) el.classList.remove('err');
  const problems = err.problems && err.problems.length ? err.problems : [{ path: err.field || '', message: err.message }];
  list.replaceChildren(...problems.map((p) => h('li', { text: p.path ? `${p.path}: ${p.message}` : p.message })));
  list.hidden = false;
  for (const p of problems) {
    // "dimensions.monitor" -> its input; "actionGroups[1]" -> the groups
    const path = p.path || '';
    const key = path.startsWith('dimensions.') ? `dim-${path.slice(11)}` : path.replace(/[.[].*$/, '');
    const box = form.querySelector(`.field[data-field="${CSS.escape(key)}"]`);
    if (!box) continue;
    box.classList.add('err');
    box.querySelector('.field-problem').textContent = p.message;
  }
}

export default {
  title: (ctx) => (ctx.segs[0] ? `Alert rule ${ctx.segs[0]}` : 'New alert rule'),
  filters: false,
  refresh: false,
  async render({ segs, params }) {
    const name = segs[0] || null;
    const [dimList, sig, groups, tests, rule] = await Promise.all([
      api.get('alertDimensions'),
      api.get('alertSignals'),
      api.getAll('actionGroups', {}),
      api.getAll('tests', {}),
      name ? api.get(`alertRules/${encodeURIComponent(name)}`) : null,
    ]);
    const dims = dimList.items;
    const r = rule || { kind: 'metric', enabled: true, dimensions: {}, actionGroups: [], states: ['Fail'] };
    const given = (d) => (rule ? (r.dimensions || {})[d] : params.get(`d.${d}`)) || '';
    const nameInput = h('input', { id: 'rule-name', value: name || '', required: true, readonly: !!name, autocomplete: 'off' });
    const kindText = { metric: 'metric: a metric against a threshold', state: 'state: test states' };
    const kind = select('rule-kind', sig.kinds.map((k) => [k, kindText[k] || k]), r.kind || sig.kinds[0]);
    const signals = sig.signals;
    const signalOf = (n) => signals.find((x) => x.name === n) || signals[0];
    const metric = select('rule-metric', signals.map((x) => [x.name, `${x.name} (${x.unit})`]), signalOf(r.metric).name);
    const aggregation = h('select', { id: 'rule-aggregation' });
    const threshold = num('rule-threshold', r.threshold, { step: 'any' });
    const thresholdHint = h('span', { class: 'muted hint', id: 'rule-threshold-hint' });
    // the signal decides its aggregations, its unit and its threshold range
    const showSignal = () => {
      const x = signalOf(metric.value);
      const keep = aggregation.value || r.aggregation || 'Average';
      aggregation.replaceChildren(...x.aggregations.map((a) => h('option', { value: a, selected: a === keep, text: a })));
      threshold.min = x.thresholdMin;
      if (x.thresholdMax === null) threshold.removeAttribute('max'); else threshold.max = x.thresholdMax;
      thresholdHint.textContent = x.thresholdMax === null ? `${x.unit}, at least ${x.thresholdMin}`
        : `${x.unit}, ${x.thresholdMin} to ${x.thresholdMax}`;
    };
    metric.addEventListener('change', showSignal);
    showSignal();
    // a number input with the server's range and its common values offered
    const range = (id, spec, value) => h('span', null,
      num(`rule-${id}`, value ?? spec.default, { min: spec.min, max: spec.max, list: `rule-dl-${id}` }),
      h('datalist', { id: `rule-dl-${id}` }, spec.common.map((x) => h('option', { value: String(x) }))),
      h('span', { class: 'muted hint', text: ` ${spec.min}-${spec.max} s` }));
    const metricPart = h('fieldset', { id: 'rule-metric-part' }, h('legend', { text: 'Condition' }),
      field('metric', 'Signal', metric),
      field('aggregation', 'Aggregation', aggregation),
      field('operator', 'Operator', select('rule-operator', sig.operators.map((o) => [o.name, o.symbol]), r.operator || sig.operators[0].name)),
      field('threshold', 'Threshold', threshold), thresholdHint,
      field('windowSizeSec', 'Aggregation granularity (window, s)', range('windowSizeSec', sig.windowSizeSec, r.windowSizeSec)));
    const statePart = h('fieldset', { id: 'rule-state-part' }, h('legend', { text: 'Condition' }),
      field('scope', 'Scope', select('rule-scope', sig.scopes, r.scope || sig.scopes[0])),
      field('states', 'States', checkboxes('states', sig.states, r.states || ['Fail'])));
    const showKind = () => {
      metricPart.hidden = kind.value !== 'metric';
      statePart.hidden = kind.value === 'metric';
    };
    kind.addEventListener('change', showKind);
    showKind();
    const dimFields = dims.map((d) => field(`dim-${d}`, d,
      h('input', { id: `rule-dim-${d}`, value: given(d), list: `rule-dl-${d}`, autocomplete: 'off', placeholder: 'any (combined)' })));
    const datalists = dims.map((d) => h('datalist', { id: `rule-dl-${d}` },
      ['*', ...distinct(tests, d)].map((x) => h('option', { value: x }))));
    const owner = r.managedBy && r.managedBy.monitor;
    const form = h('form', { class: 'panel rule-form', id: 'rule-form', novalidate: true },
      owner ? h('p', { class: 'notice', id: 'rule-managed' }, `This rule is managed by monitor ${owner}: change it in that monitor's alertRules (`,
        h('a', { href: hashLink(`edit/${encodeURIComponent(owner)}`, {}), text: 'edit the monitor' }), ').') : null,
      h('ul', { id: 'rule-problems', class: 'problems', hidden: true, role: 'alert' }),
      field('name', 'Name', nameInput),
      field('description', 'Description', h('input', { id: 'rule-description', value: r.description || '' })),
      field('kind', 'Kind', kind),
      metricPart, statePart,
      h('fieldset', { id: 'rule-dimensions' }, h('legend', { text: 'Dimensions' }),
        h('p', { class: 'muted', text: 'Empty: every value, combined. A value: only that one. "*": one alert per value.' }),
        dimFields, datalists),
      h('fieldset', null, h('legend', { text: 'Evaluation' }),
        field('evaluationFrequencySec', 'Evaluation frequency (s)', range('evaluationFrequencySec', sig.evaluationFrequencySec, r.evaluationFrequencySec)),
        field('forEvaluations', 'Breaching evaluations before firing', num('rule-forEvaluations', r.forEvaluations ?? 1)),
        field('severity', 'Severity', select('rule-severity', sig.severity.names.map((s, i) => [String(i), `${i} ${s}`]), String(r.severity ?? sig.severity.default))),
        field('enabled', 'Enabled', h('input', { id: 'rule-enabled', type: 'checkbox', checked: r.enabled !== false }))),
      h('fieldset', null, h('legend', { text: 'Action groups' }),
        field('actionGroups', 'Notify', groups.length ? checkboxes('actionGroups', groups.map((g) => g.name), r.actionGroups || [])
          : h('span', { id: 'rule-actionGroups', class: 'muted', text: 'No action group yet. ' }, h('a', { href: '#/alerts/group', text: 'Create one' })))),
      h('div', { class: 'editor-bar' },
        h('button', { type: 'submit', id: 'rule-save', class: 'primary', disabled: !!owner, text: name ? 'Save rule' : 'Create rule' }),
        h('a', { href: '#/alerts', text: 'Cancel' })));
    form.addEventListener('submit', async (ev) => {
      ev.preventDefault();
      const n = nameInput.value.trim();
      if (!n) {
        showProblems(form, { problems: [{ path: 'name', message: 'give the rule a name' }] });
        return;
      }
      try {
        await api.put(`alertRules/${encodeURIComponent(n)}`, JSON.stringify(ruleBody(form, dims)));
        location.hash = hashLink('alerts', { saved: n });
      } catch (err) {
        if (!(err instanceof api.ApiError) || err.status === 401) throw err;
        showProblems(form, err);
      }
    });
    return h('div', null,
      h('nav', { class: 'crumbs', 'aria-label': 'Breadcrumb' }, h('a', { href: '#/alerts', text: 'Alerts' }), ' › ', name || 'new rule'),
      h('h1', { text: name ? `Alert rule ${name}` : 'New alert rule' }),
      form);
  },
};
