// actiongroup.js: the action group form (#/alerts/group, #/alerts/group/NAME)
// -- a name and the group's JSON (webhooks, alertmanagers, exec of
// docs/alerts.md), saved with PUT /api/v1/actionGroups/NAME exactly as typed,
// so the server's problems (line:col: path: message) point into the text.
// Webhook secrets come back as "***", which keeps the stored one on save.

import * as api from '../lib/api.js';
import { h, hashLink } from '../lib/dom.js';

const TEMPLATE = `{
  "webhooks": [{"url": "https://hooks.example/cmon"}]
}
`;

export default {
  title: (ctx) => (ctx.segs[0] ? `Action group ${ctx.segs[0]}` : 'New action group'),
  filters: false,
  refresh: false,
  async render({ segs }) {
    const name = segs[0] || null;
    let text = TEMPLATE;
    if (name) {
      const g = await api.get(`actionGroups/${encodeURIComponent(name)}`);
      delete g.name;
      text = `${JSON.stringify(g, null, 2)}\n`;
    }
    const nameInput = h('input', { id: 'group-name', value: name || '', readonly: !!name, autocomplete: 'off' });
    const area = h('textarea', { id: 'group-json', class: 'code query-sql', spellcheck: 'false', rows: '10', 'aria-label': 'Action group JSON' });
    area.value = text;
    const problems = h('ul', { id: 'group-problems', class: 'problems', hidden: true, role: 'alert' });
    const form = h('form', { class: 'panel', id: 'group-form', novalidate: true },
      problems,
      h('div', { class: 'field' }, h('label', { for: 'group-name', text: 'Name' }), nameInput),
      h('p', { class: 'muted', text: 'webhooks [{url, secret}], alertmanagers [{url}], exec [{command: [program, args...], timeoutSec}]; at least one action (docs/alerts.md).' }),
      area,
      h('div', { class: 'editor-bar' },
        h('button', { type: 'submit', id: 'group-save', class: 'primary', text: name ? 'Save action group' : 'Create action group' }),
        h('a', { href: '#/alerts', text: 'Cancel' })));
    form.addEventListener('submit', async (ev) => {
      ev.preventDefault();
      const n = nameInput.value.trim();
      try {
        if (!n) throw Object.assign(new Error('give the action group a name'), { problems: [] });
        await api.put(`actionGroups/${encodeURIComponent(n)}`, area.value);
        location.hash = hashLink('alerts', { saved: n });
      } catch (err) {
        if (err instanceof api.ApiError && err.status === 401) throw err;
        const list = err.problems && err.problems.length ? err.problems : [{ message: err.message }];
        problems.replaceChildren(...list.map((p) => h('li', {
          text: [p.line ? `${p.line}:${p.col}` : '', p.path, p.message].filter(Boolean).join(': '),
        })));
        problems.hidden = false;
      }
    });
    return h('div', null,
      h('nav', { class: 'crumbs', 'aria-label': 'Breadcrumb' }, h('a', { href: '#/alerts', text: 'Alerts' }), ' › ', name || 'new action group'),
      h('h1', { text: name ? `Action group ${name}` : 'New action group' }),
      form);
  },
};
