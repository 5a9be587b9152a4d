// dom.js: small DOM helpers shared by every view -- an element builder (text
// only through textContent, never innerHTML, so API strings cannot inject
// markup), state badges, number/time formats and the focusable data table.

export const STATES = ['Fail', 'Warning', 'Indeterminate', 'Pass', 'NotRunning'];
export const STATE_LABEL = {
  Fail: 'Fail', Warning: 'Warning', Indeterminate: 'Indeterminate', Pass: 'Pass',
  NotRunning: 'Not Running',
};

export function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k === 'class') el.className = v;
    else if (k === 'text') el.textContent = v;
    else if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
    else if (k === 'dataset') Object.assign(el.dataset, v);
    else el.setAttribute(k, v === true ? '' : v);
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const c of children) {
    if (c === undefined || c === null || c === false) continue;
    if (Array.isArray(c)) append(el, c);
    else el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
}

export function stateBadge(state) {
  return h('span', { class: `state state-${state || 'none'}`, text: STATE_LABEL[state] || '–' });
}

export function fmtNum(v, digits = 1) {
  if (v === null || v === undefined || Number.isNaN(v)) return '–';
  if (Math.abs(v) >= 100 || Number.isInteger(v)) return String(Math.round(v * 10) / 10);
  return v.toFixed(v < 1 ? Math.max(digits, 2) : digits);
}
export const fmtPct = (v) => (v === null || v === undefined ? '–' : `${fmtNum(v)} %`);
export const fmtMs = (v) => (v === null || v === undefined ? '–' : `${fmtNum(v)} ms`);

export function fmtTime(iso) {
  if (!iso) return '–';
  const d = new Date(iso);
  return d.toISOString().replace('T', ' ').replace(/\.\d+Z$/, 'Z');
}

export function countsLine(counts) {
  const parts = STATES.filter((s) => counts && counts[s]).map((s) =>
    h('span', { class: `count state-${s}`, title: STATE_LABEL[s] }, `${counts[s]} ${STATE_LABEL[s]}`));
  return parts.length ? h('span', { class: 'counts' }, parts) : h('span', { class: 'muted', text: 'no tests' });
}

export function hashLink(route, params) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params || {})) if (v) q.set(k, v);
  const s = q.toString();
  return `#/${route}${s ? `?${s}` : ''}`;
}

// columns: [{label, value(row) -> Node|string, class}]; link(row) -> href;
// opts: key(row) (data-key), rowClass(row), empty (text), caption.
// Each row is focusable (Tab), Enter or a click opens its link.
export function table(columns, rows, link, opts = {}) {
  const head = h('tr', null, columns.map((c) => h('th', { scope: 'col', class: c.class }, c.label)));
  const body = rows.map((row) => {
    const href = link ? link(row) : null;
    const tr = h('tr', {
      tabindex: href ? '0' : null,
      class: [href ? 'link-row' : '', opts.rowClass ? opts.rowClass(row) : ''].filter(Boolean).join(' ') || null,
      dataset: opts.key ? { key: opts.key(row) } : null,
    }, columns.map((c) => h('td', { class: c.class }, c.value(row))));
    if (href) {
      tr.addEventListener('click', (ev) => {
        if (ev.target.closest('a, input, button, label')) return;
        location.hash = href;
      });
      tr.addEventListener('keydown', (ev) => {
        if (ev.key === 'Enter' && ev.target === tr) location.hash = href;
      });
    }
    return tr;
  });
  if (!rows.length) {
    body.push(h('tr', { class: 'empty' }, h('td', { colspan: columns.length, text: opts.empty || 'Nothing matches.' })));
  }
  return h('table', { class: 'data', dataset: { rows: String(rows.length) } },
    opts.caption ? h('caption', { text: opts.caption }) : null,
    h('thead', null, head), h('tbody', null, body));
}

export function section(title, ...children) {
  return h('section', { class: 'panel' }, h('h2', { text: title }), children);
}

export function errorBox(err) {
  return h('div', { class: 'error', role: 'alert' }, `${err.code ? `${err.code}: ` : ''}${err.message}`);
}
