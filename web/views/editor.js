// editor.js: the monitor editor -- paste or edit a monitor's JSON (DESIGN 3),
// save it with PUT /api/v1/connectionMonitors/{name}, and show every
// validation problem at its line:column: the lines are marked in the gutter
// and behind the text, and each problem moves the caret to its place.  The
// monitor's alertRules are part of its JSON; the rules they became (managed
// by the monitor, GET /api/v1/alertRules) are listed under the editor.

import * as api from '../lib/api.js';
import { h, hashLink } from '../lib/dom.js';

const TEMPLATE = `{
  "properties": {
    "endpoints": [
      {"name": "local", "type": "Agent", "address": "local"},
      {"name": "example", "type": "ExternalAddress", "address": "127.0.0.1"}
    ],
    "testConfigurations": [
      {"name": "tcp", "protocol": "Tcp", "testFrequencySec": 60,
       "tcpConfiguration": {"port": 22},
       "successThreshold": {"checksFailedPercent": 5, "roundTripTimeMs": 100}}
    ],
    "testGroups": [
      {"name": "group1", "sources": ["local"], "destinations": ["example"],
       "testConfigurations": ["tcp"]}
    ]
  }
}
`;

// Problems of a 400 answer: validation problems, or the JSON parser's
// "line L col C: text" message.
function problemsOf(err) {
  if (err.problems && err.problems.length) return err.problems;
  const m = /line (\d+) col(?:umn)? (\d+): (.*)/.exec(err.message || '');
  if (m) return [{ line: Number(m[1]), col: Number(m[2]), path: '', message: m[3] }];
  return [{ line: 0, col: 0, path: err.field || '', message: err.message }];
}

function caretTo(area, line, col) {
  const lines = area.value.split('\n');
  let pos = 0;
  for (let i = 0; i < Math.min(line - 1, lines.length); i++) pos += lines[i].length + 1;
  pos += Math.max(0, col - 1);
  area.focus();
  area.setSelectionRange(pos, pos);
  const lineHeight = parseFloat(getComputedStyle(area).lineHeight) || 18;
  area.scrollTop = Math.max(0, (line - 4) * lineHeight);
}

// The alert rules the monitor's file holds, as the server stored them.
async function managedRules(box, list, name) {
  const rules = name ? (await api.getAll('alertRules', {})).filter((r) => r.managedBy && r.managedBy.monitor === name) : [];
  list.replaceChildren(...rules.map((r) => h('li', null,
    h('a', { href: hashLink(`alerts/rule/${encodeURIComponent(r.name)}`, {}), text: r.name }),
    ` ${r.kind === 'metric' ? `${r.metric} ${r.operator} ${r.threshold}` : `state ${r.states.join(', ')} per ${r.scope}`}`)));
  box.hidden = rules.length === 0;
}

function buildEditor(text) {
  const gutter = h('div', { class: 'gutter', 'aria-hidden': 'true' });
  const backdrop = h('div', { class: 'backdrop', 'aria-hidden': 'true' });
  const area = h('textarea', {
    id: 'monitor-json', class: 'code', spellcheck: 'false', wrap: 'off', autocomplete: 'off',
    'aria-label': 'Monitor JSON', 'aria-describedby': 'problems',
  });
  area.value = text;
  let marked = new Set();
  const paint = () => {
    const n = area.value.split('\n').length;
    gutter.replaceChildren(...Array.from({ length: n }, (_, i) =>
      h('div', { class: marked.has(i + 1) ? 'ln err' : 'ln', dataset: { line: String(i + 1) }, text: String(i + 1) })));
    backdrop.replaceChildren(...Array.from({ length: n }, (_, i) =>
      h('div', { class: marked.has(i + 1) ? 'bl err' : 'bl', text: '\u200b' })));
    sync();
  };
  const sync = () => {
    gutter.scrollTop = area.scrollTop;
    backdrop.scrollTop = area.scrollTop;
    backdrop.scrollLeft = area.scrollLeft;
  };
  area.addEventListener('input', () => {
    marked = new Set();
    paint();
  });
  area.addEventListener('scroll', sync);
  const box = h('div', { class: 'editor' }, gutter, h('div', { class: 'editor-text' }, backdrop, area));
  return { box, area, mark: (lines) => { marked = new Set(lines); paint(); }, paint };
}

export default {
  title: ({ segs }) => (segs[0] ? `Edit ${segs[0]}` : 'New monitor'),
  filters: false,
  refresh: false, // never throw away what is being typed
  async render({ segs }) {
    let name = segs[0] || '';
    let text = TEMPLATE;
    if (name) {
      const mon = await api.get(`connectionMonitors/${encodeURIComponent(name)}`);
      text = `${JSON.stringify({ name: mon.name, properties: mon.properties }, null, 2)}\n`;
    }
    const ed = buildEditor(text);
    const nameInput = h('input', { id: 'monitor-name', value: name, required: true, pattern: '[A-Za-z0-9._\\-]{1,80}', autocomplete: 'off' });
    const status = h('div', { id: 'editor-status', role: 'status', 'aria-live': 'polite' });
    const problems = h('ol', { id: 'problems', class: 'problems' });
    const ruleList = h('ul', { id: 'editor-rules-list' });
    const rulesBox = h('section', { id: 'editor-rules', class: 'panel', hidden: true },
      h('h2', { text: 'Alert rules in this monitor (alertRules)' }), ruleList);
    const save = async () => {
      status.textContent = 'Saving…';
      status.className = '';
      problems.replaceChildren();
      ed.mark([]);
      let target = nameInput.value.trim();
      if (!target) {
        try {
          target = JSON.parse(ed.area.value).name || '';
        } catch (_) { /* the server reports the JSON error */ }
      }
      if (!target) {
        status.textContent = 'Give the monitor a name (field above, or "name" in the JSON).';
        status.className = 'error';
        nameInput.focus();
        return;
      }
      try {
        const mon = await api.put(`connectionMonitors/${encodeURIComponent(target)}`, ed.area.value);
        nameInput.value = mon.name;
        status.className = 'ok';
        status.replaceChildren(`Saved ${mon.name}: ${mon.testCount} tests. `,
          h('a', { href: hashLink(`monitor/${encodeURIComponent(mon.name)}`), text: 'Open the monitor' }));
        history.replaceState(null, '', `#/edit/${encodeURIComponent(mon.name)}`);
        await managedRules(rulesBox, ruleList, mon.name);
      } catch (err) {
        if (!(err instanceof api.ApiError)) throw err;
        const list = err.status === 400 ? problemsOf(err) : [{ line: 0, col: 0, path: '', message: err.message }];
        status.className = 'error';
        status.textContent = `Not saved: ${list.length} problem${list.length === 1 ? '' : 's'} (${err.code}).`;
        ed.mark(list.map((p) => p.line).filter((l) => l > 0));
        problems.replaceChildren(...list.map((p) => h('li', { class: 'problem' },
          p.line ? h('button', { type: 'button', class: 'pos', onclick: () => caretTo(ed.area, p.line, p.col), text: `${p.line}:${p.col}` }) : null,
          ' ', p.path ? h('code', { text: p.path }) : null, p.path ? ': ' : '', p.message)));
      }
    };
    ed.area.addEventListener('keydown', (ev) => {
      if ((ev.ctrlKey || ev.metaKey) && ev.key === 's') {
        ev.preventDefault();
        save();
      }
    });
    await managedRules(rulesBox, ruleList, name);
    requestAnimationFrame(ed.paint);
    ed.paint();
    return h('div', null,
      h('h1', { text: name ? `Edit monitor ${name}` : 'New connection monitor' }),
      h('p', { class: 'muted', text: 'Paste or edit the monitor JSON (the cloud connection-monitor shape: ARM envelope or bare properties). Save with the button or Ctrl+S; problems are shown at their line:column.' }),
      h('div', { class: 'editor-bar' },
        h('label', { for: 'monitor-name', text: 'Name ' }), nameInput, ' ',
        h('button', { type: 'button', id: 'save', class: 'primary', onclick: save, text: 'Save' })),
      status, problems, ed.box, rulesBox);
  },
};
