// query.js: the query page -- one read-only SELECT over the SQL endpoint
// (POST /api/v1/query, docs/api.md "Read-only SQL"), its answer as a table
// and as a CSV download.  The query and its row limit live in the URL
// (#/query?sql=...&rows=...), so a query is shared by its address and runs
// when opened.  Example queries read the views that name things (v_results,
// v_tests, v_state_changes) and run the same on SQLite and PostgreSQL.

import * as api from '../lib/api.js';
import { h, table, section, errorBox } from '../lib/dom.js';

const ROWS = ['100', '1000', '10000'];
const DEFAULT_ROWS = '1000';

// Unix ns of `hours` ago, as SQL text (beyond a double's exact integers).
function nsAgo(hours) {
  return (BigInt(Date.now() - hours * 3600000) * 1000000n).toString();
}

const sqlText = (s) => `'${String(s).replace(/'/g, "''")}'`;

// Each example is made when picked: times are fixed then, so the query reads
// the same when its link is opened later.
const EXAMPLES = [
  {
    id: 'failed-by-destination',
    label: 'Failed checks by destination (24 h)',
    sql: () => `SELECT monitor, destination,
       SUM(checks_failed) AS checks_failed, SUM(checks_total) AS checks,
       ROUND(100.0 * SUM(checks_failed) / NULLIF(SUM(checks_total), 0), 2) AS failed_pct
FROM v_results
WHERE start_ns >= ${nsAgo(24)} -- the last 24 hours
GROUP BY monitor, destination
ORDER BY checks_failed DESC, monitor, destination`,
  },
  {
    id: 'rtt-by-source',
    label: 'RTT percentiles by source (24 h)',
    sql: () => `SELECT source, COUNT(*) AS rounds,
       MIN(CASE WHEN pr >= 0.5 THEN rtt_avg END) AS p50_ms,
       MIN(CASE WHEN pr >= 0.9 THEN rtt_avg END) AS p90_ms,
       MIN(CASE WHEN pr >= 0.99 THEN rtt_avg END) AS p99_ms,
       MAX(rtt_avg) AS max_ms
FROM (SELECT source, rtt_avg,
             CUME_DIST() OVER (PARTITION BY source ORDER BY rtt_avg) AS pr
      FROM v_results
      WHERE rtt_avg IS NOT NULL AND start_ns >= ${nsAgo(24)}) AS ranked
GROUP BY source
ORDER BY source`,
  },
  {
    id: 'state-changes',
    label: 'State changes of a monitor',
    sql: (monitor) => `SELECT at_time, test_group, source, destination, test_config,
       from_state, to_state, reason
FROM v_state_changes
WHERE monitor = ${sqlText(monitor || 'MONITOR')}
ORDER BY at_ns DESC`,
  },
];

function csvCell(v) {
  if (v === null || v === undefined) return '';
  const s = typeof v === 'object' ? JSON.stringify(v) : String(v);
  return /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

export function toCsv(columns, rows) {
  return [columns, ...rows].map((r) => r.map(csvCell).join(',')).join('\r\n') + '\r\n';
}

let csvUrl = null; // the last download's object URL, released on the next answer

function csvLink(out) {
  if (csvUrl) URL.revokeObjectURL(csvUrl);
  csvUrl = URL.createObjectURL(new Blob([toCsv(out.columns, out.rows)], { type: 'text/csv' }));
  return h('a', { id: 'query-csv', class: 'button', href: csvUrl, download: 'cmon-query.csv', text: 'Download CSV' });
}

function resultsPanel(out, rows) {
  const n = out.rows.length;
  const cols = out.columns.map((c, i) => ({
    label: c,
    class: out.rows.some((r) => typeof r[i] === 'number') ? 'num' : null,
    value: (r) => (r[i] === null ? h('span', { class: 'muted', text: 'NULL' }) : csvCell(r[i]).replace(/^"|"$/g, '')),
  }));
  return section('Results',
    h('p', { id: 'query-summary', class: 'headline' },
      `${n} row${n === 1 ? '' : 's'}`,
      out.truncated ? h('span', { class: 'warn', text: ` (cut at ${rows} rows: raise the limit or narrow the query)` }) : null,
      ' ', csvLink(out)),
    h('div', { class: 'table-scroll' }, table(cols, out.rows, null, { empty: 'The query returned no rows.' })));
}

async function firstMonitor() {
  try {
    const list = await api.getAll('connectionMonitors', {}, 1);
    return list.length ? list[0].name : null;
  } catch (_) {
    return null;
  }
}

export default {
  title: () => 'Query',
  filters: false,
  refresh: false, // never re-run a query (or lose what is being typed) on the timer
  async render(ctx) {
    const sql = ctx.params.get('sql') || '';
    const rows = ROWS.includes(ctx.params.get('rows')) ? ctx.params.get('rows') : DEFAULT_ROWS;
    const area = h('textarea', {
      id: 'query-sql', class: 'code query-sql', spellcheck: 'false', autocomplete: 'off',
      'aria-label': 'SQL query', rows: '10',
    });
    area.value = sql;
    const limit = h('select', { id: 'query-rows', 'aria-label': 'Row limit' },
      ROWS.map((r) => h('option', { value: r, selected: r === rows, text: `${r} rows` })));
    const run = () => {
      const text = area.value.trim();
      if (!text) return;
      // the same query again (a re-run) replaces the entry instead of adding one
      ctx.setParams({ sql: text, rows: limit.value === DEFAULT_ROWS ? null : limit.value },
        text === sql && limit.value === rows);
    };
    area.addEventListener('keydown', (ev) => {
      if (ev.key === 'Enter' && (ev.ctrlKey || ev.metaKey)) {
        ev.preventDefault();
        run();
      }
    });
    const monitor = await firstMonitor();
    const examples = h('div', { class: 'query-examples' }, h('span', { class: 'muted', text: 'Examples: ' }),
      EXAMPLES.map((ex) => h('button', {
        type: 'button', dataset: { example: ex.id }, text: ex.label,
        onclick: () => {
          area.value = ex.sql(monitor);
          area.focus();
        },
      })));
    const bar = h('div', { class: 'editor-bar' },
      h('button', { id: 'query-run', type: 'button', class: 'primary', text: 'Run', title: 'Ctrl+Enter', onclick: run }),
      limit,
      sql ? h('a', { id: 'query-link', href: location.hash, text: 'Link to this query' }) : null);
    let answer = null;
    if (sql) {
      try {
        answer = resultsPanel(await api.post('query', { sql, maxRows: Number(rows) }), rows);
      } catch (err) {
        if (err instanceof api.ApiError && err.status === 401) throw err; // the token prompt
        answer = h('div', { id: 'query-error' }, errorBox(err));
      }
    }
    return h('div', null,
      h('h1', { text: 'Query' }),
      h('p', { class: 'headline muted' },
        'One read-only SELECT (at most 2 s). Readable views: v_results (every round with its monitor, group, source, destination and configuration), ',
        'v_tests (each test now), v_state_changes; state and protocol as text, times as *_time text and *_ns Unix nanoseconds. ',
        'The tables (results, tests, state_changes, rollup_1m, rollup_1h, paths, monitors) hold codes. See docs/api.md.'),
      examples, area, bar, answer);
  },
};
