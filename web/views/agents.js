// agents.js: the agents page -- every agent the server knows (registered
// agents and those known only from their results, like the embedded agent of
// `cmon run`): state, version, last contact, tests, addresses, spool
// (GET /api/v1/agents, public API only).

import * as api from '../lib/api.js';
import { h, table, fmtTime, section } from '../lib/dom.js';

const STATE_CLASS = { running: 'Pass', stopped: 'Fail', unregistered: 'NotRunning' };

function ago(iso) {
  if (!iso) return '';
  const s = Math.max(0, Math.round((Date.now() - Date.parse(iso)) / 1000));
  if (s < 120) return `${s} s ago`;
  if (s < 7200) return `${Math.round(s / 60)} min ago`;
  return `${Math.round(s / 3600)} h ago`;
}

function spoolText(sp) {
  if (!sp || sp.pendingBatches === undefined) return '–';
  const bits = [`${sp.pendingBatches} pending`];
  if (sp.droppedBatches) bits.push(`${sp.droppedBatches} batches dropped`);
  if (sp.droppedResults) bits.push(`${sp.droppedResults} results dropped`);
  return bits.join(', ');
}

export default {
  title: () => 'Agents',
  filters: false,
  async render() {
    const list = await api.getAll('agents', {});
    const rows = list.slice().sort((a, b) => a.name.localeCompare(b.name));
    const count = (st) => rows.filter((a) => a.state === st).length;
    return h('div', null,
      h('h1', { text: 'Agents' }),
      h('p', { class: 'headline' }, `${rows.length} agent${rows.length === 1 ? '' : 's'}: ${count('running')} running, ${count('stopped')} stopped, ${count('unregistered')} unregistered. `,
        h('span', { class: 'muted', text: 'Unregistered: known only from results (a named agent token). Stopped: silent for 3 heartbeats. The embedded agent of cmon run runs in the server.' })),
      section('Agents', table([
        { label: 'Name', value: (a) => a.name },
        { label: 'State', value: (a) => h('span', { class: `state state-${STATE_CLASS[a.state] || 'none'}`, text: a.state }) },
        { label: 'Version', value: (a) => a.version || '–' },
        { label: 'Last seen', value: (a) => (a.lastSeen ? `${fmtTime(a.lastSeen)} (${ago(a.lastSeen)})` : 'never') },
        { label: 'Registered', value: (a) => (a.embedded ? 'embedded in the server' : fmtTime(a.registeredAt)) },
        { label: 'Tests', class: 'num', value: (a) => String(a.tests) },
        { label: 'Heartbeat', class: 'num', value: (a) => (a.heartbeatSec ? `${a.heartbeatSec} s` : '–') },
        { label: 'Addresses', value: (a) => (a.addresses || []).join(', ') || '–' },
        { label: 'Spool', value: (a) => spoolText(a.spool) },
      ], rows, null, { key: (a) => `ag:${a.name}`, empty: 'No agent has registered or sent results yet.' })));
  },
};
