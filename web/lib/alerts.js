// alerts.js: which tests a firing alert covers, for the alert filter
// (?alert=firing|none) of the tests, monitors and drill-down views.  Only
// the public API: GET /api/v1/alerts?state=firing.  An alert covers a test
// when every dimension label it carries (monitor, testGroup, source,
// destination, testConfiguration, protocol; matched case-insensitively as
// the server does) equals the test's, and its `monitors` list (the monitors
// behind it) names the test's monitor.  AgentUnavailable{agent=N} covers the
// tests whose source is N.

import * as api from './api.js';

const DIMS = ['monitor', 'testGroup', 'source', 'destination', 'testConfiguration', 'protocol'];
// labels of the other dimensions an alert may carry (the test row's field for each)
const ROW_FIELDS = { SourceAddress: 'sourceAddress', Region: 'region', TestId: 'id', DestinationAddress: 'target' };
export const ALERT_FILTERS = { firing: 'with a firing alert', none: 'without a firing alert' };

const same = (a, b) => String(a).toLowerCase() === String(b).toLowerCase();

export function covers(alert, test) {
  const labels = alert.labels || {};
  if (labels.agent !== undefined) return same(labels.agent, test.source);
  const mons = alert.monitors || [];
  if (mons.length && !mons.some((m) => same(m, test.monitor))) return false;
  return DIMS.every((d) => labels[d] === undefined || same(labels[d], test[d])) &&
    Object.entries(ROW_FIELDS).every(([l, f]) => labels[l] === undefined || test[f] === undefined || same(labels[l], test[f]));
}

export async function firingAlerts() {
  return api.getAll('alerts', { state: 'firing' });
}

// The firing alerts when the URL has an alert filter, else null (no request).
export async function alertsFor(params) {
  return ALERT_FILTERS[params.get('alert')] ? firingAlerts() : null;
}

// Keep the tests the URL's alert filter wants (all of them without one).
export function filterTests(tests, params, alerts) {
  const mode = params.get('alert');
  if (!alerts || !ALERT_FILTERS[mode]) return tests;
  const want = mode === 'firing';
  return tests.filter((t) => alerts.some((a) => covers(a, t)) === want);
}

// Monitors list: a monitor is "firing" when an alert names it (label or
// monitors list) -- which also counts alerts of rules that do not split by
// monitor.
export function monitorFiring(alerts, name) {
  return alerts.some((a) => {
    const l = a.labels || {};
    if (l.monitor !== undefined) return same(l.monitor, name);
    return (a.monitors || []).some((m) => same(m, name));
  });
}
