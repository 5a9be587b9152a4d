// scope.js: the filter bar's scope selectors (test group, source,
// destination, destination type, configuration) and the switch between the
// three list views (connection monitors, test groups, tests) that share
// them.  A selector offers the distinct values of every test defined now
// (GET /api/v1/tests/scopes: one request, the server's SELECT DISTINCT,
// not every test's row); the chosen value stays offered even when no test
// has it any more, so a shared URL still shows what it filters.  Narrowing
// is the server's: the values go to the views as their own parameters
// (lib/filters.js viewParams).

import * as api from './api.js';
import { h, hashLink } from './dom.js';
import { SCOPE_KEYS, carry } from './filters.js';

// The server sends byte order; the selectors show the user's collation.
function sorted(values) {
  return [...(values || [])].sort((a, b) => a.localeCompare(b));
}

// At most this many values per selector (the server's maximum).
const SCOPE_LIMIT = 10000;

function fill(select, values, current) {
  const want = current && !values.includes(current) ? [...values, current] : values;
  const have = [...select.options].slice(1).map((o) => o.value);
  if (have.join('\n') !== want.join('\n')) {
    select.replaceChildren(h('option', { value: '', text: 'any' }),
      ...want.map((v) => h('option', { value: v, text: v })));
  }
  select.value = current || '';
}

// Fill every scope selector and show the URL's choice in it.
export async function fillScopes(params) {
  const scopes = await api.get('tests/scopes', { limit: SCOPE_LIMIT });
  for (const k of SCOPE_KEYS) fill(document.getElementById(`f-${k}`), sorted(scopes[k]), params.get(k));
}

// The three list views, side by side as in the seed's portal.
export const LIST_VIEWS = [
  { id: 'monitors', label: 'Connection monitors' },
  { id: 'testGroups', label: 'Test groups' },
  { id: 'tests', label: 'Tests' },
];

export function viewSwitch(current, params) {
  return h('nav', { class: 'view-switch', 'aria-label': 'Views' }, LIST_VIEWS.map((v) => h('a', {
    href: hashLink(v.id, carry(params)), id: `view-${v.id}`, text: v.label,
    'aria-current': v.id === current ? 'page' : null,
  })));
}
