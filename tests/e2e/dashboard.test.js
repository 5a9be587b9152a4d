// dashboard.test.js: drives Debian's chromium (playwright-core, no bundled
// browser) through every view of the cmon dashboard served by a real
// `cmon run` (started by tests/integration/test_e2e_dashboard.sh with the
// monitors "e2e" -- web-ok Pass, web-closed Fail, srv-host Pass, all behind
// router 198.18.1.2 at 198.18.2.2 -- and "backup" -- backup-host Pass at
// 198.18.4.2 over 3 hops with a hop_loss (20 %) at hop 2, rerouted once from
// 198.18.3.2 to 198.18.5.2; the alert rule
// broken-fails firing on web-closed, rtt-seen resolved; the embedded agent
// $AGENT_NAME, region lab-1).  Fails on any console error, page error or failed request
// that the step did not expect.  Screenshots: $SCREENSHOT_DIR.
import { chromium } from 'playwright-core';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { execFileSync, spawn } from 'node:child_process';

const BASE = process.env.CMON_URL;
const SHOTS = process.env.SCREENSHOT_DIR;
const PROFILE = process.env.PROFILE_DIR;
const BAD_FILE = process.env.BAD_FILE;
const BAD_POS = process.env.BAD_POS;
const AGENT = { name: process.env.AGENT_NAME, version: process.env.AGENT_VERSION, state: process.env.AGENT_STATE };
assert.ok(BASE && SHOTS && PROFILE && BAD_FILE && BAD_POS, 'CMON_URL SCREENSHOT_DIR PROFILE_DIR BAD_FILE BAD_POS');

const problems = [];
let expected400 = 0; // the editor's bad saves and the query page's bad query answer 400 on purpose...
let expected400Logs = 0; // ...and chromium logs each of them as a console error
let expected401 = 0; // the first API call once tokens exist

const ctx = await chromium.launchPersistentContext(PROFILE, {
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  headless: true,
  viewport: { width: 1366, height: 768 },
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking',
    '--disable-component-update', '--disable-sync', '--no-first-run'],
});

function watch(page) {
  page.on('console', (m) => {
    if (m.type() !== 'error') return;
    if (expected400Logs > 0 && /status of 400/.test(m.text())) {
      expected400Logs--;
      return;
    }
    if (expected401 > 0 && /status of 401/.test(m.text())) return;
    problems.push(`console error: ${m.text()}`);
  });
  page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
  page.on('requestfailed', (r) => problems.push(`request failed: ${r.url()} ${r.failure() && r.failure().errorText}`));
  page.on('response', (r) => {
    if (r.status() < 400) return;
    if (r.status() === 401 && expected401 > 0) return;
    if (r.status() === 400 && expected400 > 0 && ['PUT', 'POST'].includes(r.request().method())) {
      expected400--;
      return;
    }
    problems.push(`HTTP ${r.status()} for ${r.request().method()} ${r.url()}`);
  });
}

const page = ctx.pages()[0] || (await ctx.newPage());
watch(page);

let passed = 0;
async function step(name, fn) {
  try {
    await fn();
  } catch (err) {
    await page.screenshot({ path: path.join(SHOTS, 'failure.png'), fullPage: true }).catch(() => {});
    console.error(`FAIL: ${name}: ${err.message}`);
    await ctx.close();
    process.exit(1);
  }
  if (problems.length) {
    console.error(`FAIL: ${name}: ${problems.join('\n  ')}`);
    await ctx.close();
    process.exit(1);
  }
  passed++;
  console.log(`ok: ${name}`);
}

// Navigate (or wait after an action) until the app rendered this hash.
async function rendered(hashPart) {
  await page.waitForFunction((want) => {
    const m = document.getElementById('main');
    return m && m.dataset.url !== undefined && m.dataset.url.includes(want) && m.getAttribute('aria-busy') === 'false';
  }, hashPart, { timeout: 15000 });
}
// Wait for this navigation's own render: the view before it may still be on
// screen with a URL that contains this one ('#/tests?alert=firing' holds
// '#/tests'), and reading it mixed rows of two views (the Alert column flake).
async function go(hash) {
  const same = await page.evaluate((h) => location.hash === h, hash);
  await page.evaluate(() => { const m = document.getElementById('main'); if (m) delete m.dataset.url; });
  if (same) await page.reload();
  else await page.goto(`${BASE}/${hash}`);
  await rendered(hash);
}
const shot = async (name) => { await page.evaluate(() => window.scrollTo(0, 0)); return page.screenshot({ path: path.join(SHOTS, `${name}.png`), fullPage: true }); };
const rowCount = (sel = 'main section table.data') => page.$eval(sel, (t) => Number(t.dataset.rows));
const column = (label, scope = 'main') => page.$$eval(`${scope} table.data`, (tables, l) => {
  const t = tables.find((x) => [...x.querySelectorAll('th')].some((th) => th.textContent === l));
  if (!t) return null;
  const i = [...t.querySelectorAll('th')].findIndex((th) => th.textContent === l);
  return [...t.querySelectorAll('tbody tr:not(.empty)')].map((tr) => tr.children[i].textContent);
}, label);

const texts = (sel) => page.$$eval(sel, (els) => els.map((e) => e.textContent));
async function refreshNow() {
  const before = await page.$eval('#main', (m) => Number(m.dataset.renders));
  await page.click('#refresh');
  await page.waitForFunction((b) => Number(document.getElementById('main').dataset.renders) > b, before);
}

async function chooseFilter(id, value) {
  const before = await page.$eval('#main', (m) => Number(m.dataset.renders));
  await page.selectOption(`#${id}`, value);
  await page.waitForFunction((b) => Number(document.getElementById('main').dataset.renders) > b, before);
}
async function search(text, scope) {
  await chooseFilter('f-scope', scope);
  const before = await page.$eval('#main', (m) => Number(m.dataset.renders));
  await page.fill('#f-q', text);
  await page.press('#f-q', 'Enter');
  await page.waitForFunction((b) => Number(document.getElementById('main').dataset.renders) > b, before);
}

await step('the app loads at / with its files, no console errors', async () => {
  const resp = await page.goto(`${BASE}/`);
  assert.equal(resp.status(), 200);
  assert.match(resp.headers()['content-security-policy'], /script-src 'self'/);
  await rendered('');
  assert.equal(await page.textContent('main h1'), 'Connection monitors');
});

await step('monitors list: counts by state and one row per monitor', async () => {
  await go('#/monitors');
  assert.equal(await rowCount(), 2);
  assert.deepEqual(await column('Name'), ['e2e', 'backup'].sort());
  const tile = (s) => page.$eval(`.summary .tile[data-state="${s}"] .big`, (e) => e.textContent);
  assert.equal(await tile('Fail'), '1');
  assert.equal(await tile('Pass'), '1');
  assert.deepEqual(await column('State'), ['Pass', 'Fail']);
  await shot('monitors');
});

await step('monitors list: the state filter narrows rows and is in the URL', async () => {
  await chooseFilter('f-state', 'Fail');
  assert.match(page.url(), /state=Fail/);
  assert.deepEqual(await column('Name'), ['e2e']);
  await chooseFilter('f-state', '');
});

await step('keyboard: Tab reaches the rows with a visible focus ring, Enter opens one', async () => {
  await go('#/monitors');
  await page.focus('#view-tests'); // the last of the list views' switch
  await page.keyboard.press('Tab');
  const focused = await page.evaluate(() => {
    const el = document.activeElement;
    const cs = getComputedStyle(el);
    return { row: el.matches('tr.link-row'), key: el.dataset.key, outline: cs.outlineStyle, width: cs.outlineWidth };
  });
  assert.deepEqual(focused, { row: true, key: 'm:backup', outline: 'solid', width: '3px' });
  await page.keyboard.press('Enter');
  await rendered('#/monitor/backup');
  assert.match(await page.textContent('main h1'), /Monitor backup/);
  // no thresholds given: the automatic ones, as the server states them
  assert.match(await page.textContent('.definition'), /backup-icmp.*automatic: Warning above 10 % checks failed or 750 ms RTT/s);
});

await step('all tests: 4 rows with state and reason; the failing one says why', async () => {
  await go('#/tests');
  assert.equal(await rowCount(), 4);
  const dests = await column('Destination');
  const states = await column('State');
  const reasons = await column('Reason');
  const i = dests.indexOf('web-closed');
  assert.equal(states[i], 'Fail');
  assert.match(reasons[i], /^ChecksFailedPercent 100 > 5; connection_refused/);
  for (const d of ['web-ok', 'srv-host', 'backup-host']) assert.equal(states[dests.indexOf(d)], 'Pass', d);
  await shot('tests');
});

await step('all tests: each state filter narrows the rows exactly', async () => {
  await chooseFilter('f-state', 'Fail');
  assert.match(page.url(), /state=Fail/);
  assert.deepEqual(await column('Destination'), ['web-closed']);
  await shot('tests-fail');
  await chooseFilter('f-state', 'Pass');
  assert.deepEqual((await column('Destination')).sort(), ['backup-host', 'srv-host', 'web-ok']);
  for (const s of ['Warning', 'Indeterminate', 'NotRunning']) {
    await chooseFilter('f-state', s);
    assert.equal(await rowCount(), 0, s);
  }
  await chooseFilter('f-state', '');
  assert.equal(await rowCount(), 4);
});

await step('scoped search narrows exactly per scope, and the URL restores it', async () => {
  await search('backup', 'monitors');
  assert.deepEqual(await column('Destination'), ['backup-host']);
  await search('web', 'destinations');
  assert.deepEqual((await column('Destination')).sort(), ['web-closed', 'web-ok']);
  await search('broken', 'testGroups');
  assert.deepEqual(await column('Destination'), ['web-closed']);
  await search('web', 'sources');
  assert.equal(await rowCount(), 0);
  await search('tcp', 'testConfigurations');
  assert.deepEqual((await column('Destination')).sort(), ['web-closed', 'web-ok']);
  await search('local', 'sources');
  assert.equal(await rowCount(), 4);
  await search('icmp', 'all');
  assert.deepEqual((await column('Destination')).sort(), ['backup-host', 'srv-host']);
  // a shared link brings the same view back
  const shared = `#/tests?q=web&scope=destinations&state=Fail`;
  await go(shared);
  assert.equal(await page.inputValue('#f-q'), 'web');
  assert.equal(await page.inputValue('#f-scope'), 'destinations');
  assert.equal(await page.inputValue('#f-state'), 'Fail');
  assert.deepEqual(await column('Destination'), ['web-closed']);
  await page.click('#f-clear');
  await page.waitForFunction(() => !location.hash.includes('q='));
  await page.waitForFunction(() => document.querySelector('main table.data').dataset.rows === '4');
});

await step('stopping a monitor makes its tests Not Running; the state filter finds exactly them', async () => {
  await go('#/monitor/backup');
  await page.click('#monitor-toggle');
  await page.waitForFunction(() => /Start monitoring/.test(document.getElementById('monitor-toggle').textContent));
  assert.match(await page.textContent('main h1'), /Monitor backup\s*Not Running/);
  await go('#/tests?state=NotRunning');
  assert.deepEqual(await column('Destination'), ['backup-host']);
  assert.deepEqual(await column('Reason'), ['monitor stopped']);
  await go('#/monitors?state=NotRunning');
  assert.deepEqual(await column('Name'), ['backup']);
  await go('#/monitor/backup');
  await page.click('#monitor-toggle');
  await page.waitForFunction(() => /Stop monitoring/.test(document.getElementById('monitor-toggle').textContent));
  await go('#/tests?state=NotRunning');
  assert.equal(await rowCount(), 0);
});

await step('monitor drill-down: essentials, trends, top 5, tabs', async () => {
  await go('#/monitor/e2e');
  assert.match(await page.textContent('main h1'), /Monitor e2e\s*Fail/);
  await page.waitForSelector('figure.chart[data-drawn="true"]');
  const titles = await page.$$eval('figure.chart', (f) => f.map((x) => x.dataset.title));
  assert.deepEqual(titles, ['Round-trip time (average)', 'Checks failed (average)']);
  const top = await page.$$eval('.top5 h3', (x) => x.map((e) => e.textContent));
  assert.equal(top.length, 6);
  assert.equal(await page.textContent('.top5:nth-child(1) li:first-child a'), 'broken');
  assert.deepEqual((await column('Test group')).sort(), ['broken', 'ping', 'web']);
  assert.match(await page.textContent('.definition'), /tcp-81.*checks failed ≤ 5 %, RTT ≤ 500 ms/s);
  await shot('monitor');
  // keyboard: arrow keys move between the tabs, and the choice is in the URL
  await page.focus('#tab-groups');
  await page.keyboard.press('ArrowRight');
  await rendered('tab=sources');
  assert.deepEqual(await column('Source'), ['local']);
  await page.click('#tab-destinations');
  await rendered('tab=destinations');
  assert.deepEqual((await column('Destination')).sort(), ['srv-host', 'web-closed', 'web-ok']);
  await page.click('#tab-configurations');
  await rendered('tab=configurations');
  assert.deepEqual((await column('Configuration')).sort(), ['icmp', 'tcp-80', 'tcp-81']);
  await page.click('#tab-tests');
  await rendered('tab=tests');
  assert.equal(await rowCount('[role="tabpanel"] table.data'), 3);
});

await step('test group drill-down shows the failing group with its reason', async () => {
  await go('#/monitor/e2e?tab=groups');
  const row = page.locator('main tr.link-row', { hasText: 'broken' });
  await row.focus();
  await page.keyboard.press('Enter'); // rows open with the keyboard
  await rendered('#/group/e2e/broken');
  assert.match(await page.textContent('main h1'), /Test group broken\s*Fail/);
  assert.match(await page.textContent('.headline .reason'), /ChecksFailedPercent 100 > 5; connection_refused/);
  assert.deepEqual(await column('Destination'), ['web-closed']);
  await page.waitForSelector('figure.chart[data-drawn="true"]');
  await shot('group');
  // a group the monitor does not have is "not found", not an empty page
  await go('#/group/e2e/nosuch');
  assert.equal(await page.textContent('main .error'), 'not_found: monitor e2e has no test group nosuch');
});

await step('Sources, Destinations and Test configurations rows (tabs and top 5) open exactly their tests', async () => {
  const tabDests = () => column('Destination', '[role="tabpanel"]');
  await go('#/monitor/e2e?tab=destinations');
  await page.click('[role="tabpanel"] tr.link-row:has-text("web-ok")');
  await rendered('destination=web-ok');
  assert.match(page.url(), /tab=tests/);
  assert.deepEqual(await tabDests(), ['web-ok']);
  assert.match(await page.textContent('#tests-narrowed'), /destination web-ok/);
  await page.click('#tests-unnarrow');
  await page.waitForFunction(() => !location.hash.includes('destination=') &&
    document.querySelector('[role="tabpanel"] table.data').dataset.rows === '3');
  await go('#/monitor/e2e?tab=configurations');
  await page.click('[role="tabpanel"] tr.link-row:has-text("tcp-81")');
  await rendered('testConfiguration=tcp-81');
  assert.deepEqual(await tabDests(), ['web-closed']);
  await go('#/monitor/e2e?tab=sources');
  await page.click('[role="tabpanel"] tr.link-row:has-text("local")');
  await rendered('source=local');
  assert.deepEqual((await tabDests()).sort(), ['srv-host', 'web-closed', 'web-ok']);
  await go('#/monitor/e2e');
  await page.click('.top5 a:text-is("web-closed")');
  await rendered('destination=web-closed');
  assert.deepEqual(await tabDests(), ['web-closed']);
  await go('#/group/e2e/web?tab=destinations');
  await page.click('[role="tabpanel"] tr.link-row:has-text("web-ok")');
  await rendered('destination=web-ok');
  assert.match(page.url(), /#\/group\/e2e\/web\?/);
  assert.deepEqual(await tabDests(), ['web-ok']);
});

const keys = (sel = 'main table.data') => page.$$eval(`${sel} tbody tr:not(.empty)`, (rows) => rows.map((r) => r.dataset.key));
// wait for a render the action caused, then its table's rows
async function afterRender(action) {
  const before = await page.$eval('#main', (m) => Number(m.dataset.renders));
  await action();
  await page.waitForFunction((b) => Number(document.getElementById('main').dataset.renders) > b, before);
}

await step('Test groups view: every group of every monitor, beside Connection monitors and Tests', async () => {
  await page.click('#nav a[data-section="testGroups"]');
  await rendered('#/testGroups');
  assert.equal(await page.textContent('main h1'), 'Test groups');
  assert.deepEqual(await keys(), ['g:backup/backup-ping', 'g:e2e/web', 'g:e2e/broken', 'g:e2e/ping']);
  assert.deepEqual(await column('Monitor'), ['backup', 'e2e', 'e2e', 'e2e']);
  // (backup was stopped and started above: its group may wait for its next round)
  assert.deepEqual((await column('State')).slice(1), ['Pass', 'Fail', 'Pass']);
  assert.match((await column('Reason'))[2], /^ChecksFailedPercent 100 > 5; connection_refused/);
  for (const c of ['Sources', 'Destinations', 'Tests']) assert.deepEqual(await column(c), ['1', '1', '1', '1'], c);
  assert.deepEqual(await column('Enabled'), ['enabled', 'enabled', 'enabled', 'enabled']);
  assert.equal(await page.getAttribute('#view-testGroups', 'aria-current'), 'page');
  assert.equal(await page.inputValue('#f-entity'), 'testGroups');
  await shot('test-groups');
  // the three views switch keeping the filters: tabs and the entity type selector
  await chooseFilter('f-state', 'Fail');
  assert.deepEqual(await keys(), ['g:e2e/broken']);
  await page.click('#view-tests');
  await rendered('#/tests?state=Fail');
  assert.deepEqual(await column('Destination'), ['web-closed']);
  await page.selectOption('#f-entity', 'monitors');
  await rendered('#/monitors?state=Fail');
  assert.deepEqual(await column('Name'), ['e2e']);
  await page.selectOption('#f-entity', 'testGroups');
  await rendered('#/testGroups?state=Fail');
  await page.click('main tr.link-row:has-text("broken")');
  await rendered('#/group/e2e/broken');
});

await step('monitors list: a monitor expands in place to its groups, a group to its tests', async () => {
  await go('#/monitors');
  assert.deepEqual(await keys(), ['m:backup', 'm:e2e']);
  await afterRender(() => page.click('button[data-key="x:m:e2e"]'));
  assert.deepEqual(await keys(), ['m:backup', 'm:e2e', 'g:e2e/web', 'g:e2e/broken', 'g:e2e/ping']);
  assert.deepEqual(await column('Kind'), ['monitor', 'monitor', 'test group', 'test group', 'test group']);
  assert.equal(await page.getAttribute('button[data-key="x:m:e2e"]', 'aria-expanded'), 'true');
  await afterRender(() => page.click('button[data-key="x:g:e2e/broken"]'));
  const names = await column('Name');
  assert.deepEqual(names, ['backup', 'e2e', 'web', 'broken', 'local → web-closed (tcp-81)', 'ping']);
  assert.equal((await column('State'))[4], 'Fail');
  assert.match((await column('Reason'))[4], /^ChecksFailedPercent 100 > 5; connection_refused/);
  await shot('monitors-expanded');
  // the expansion is in the URL: a refresh keeps it
  await refreshNow();
  assert.equal((await keys()).length, 6);
  // an expanded test row opens its test
  await page.click('main tr.level-t a');
  await rendered('#/test/');
  assert.match(await page.textContent('#test-reason'), /^ChecksFailedPercent 100 > 5; connection_refused/);
  // the filters narrow the expanded rows too (the server's)
  await go('#/monitors?open=m%3Ae2e%2Cg%3Ae2e%2Fweb%2Cm%3Abackup&destination=web-ok');
  assert.deepEqual(await column('Name'), ['e2e', 'web', 'local → web-ok (tcp-80)']);
  await go('#/monitors?open=m%3Ae2e');
  await afterRender(() => page.click('button[data-key="x:m:e2e"]'));
  assert.deepEqual(await keys(), ['m:backup', 'm:e2e']);
});

await step('scope filters (group, source, destination, destination type, configuration) narrow every view exactly, on the server', async () => {
  await go('#/tests');
  assert.deepEqual(await page.$$eval('#f-source option', (o) => o.map((x) => x.value)), ['', 'local']);
  assert.deepEqual(await page.$$eval('#f-destinationType option', (o) => o.map((x) => x.value)), ['', 'ExternalAddress']);
  assert.deepEqual(await page.$$eval('#f-testGroup option', (o) => o.map((x) => x.value)), ['', 'backup-ping', 'broken', 'ping', 'web']);
  // the value goes to the API as its own parameter
  const asked = page.waitForRequest((r) => /\/api\/v1\/tests\?.*destination=web-closed/.test(r.url()));
  await chooseFilter('f-destination', 'web-closed');
  await asked;
  assert.match(page.url(), /destination=web-closed/);
  assert.deepEqual(await column('Destination'), ['web-closed']);
  await chooseFilter('f-destination', '');
  await chooseFilter('f-testGroup', 'ping');
  assert.deepEqual(await column('Destination'), ['srv-host']);
  await chooseFilter('f-testConfiguration', 'backup-icmp');
  assert.equal(await rowCount(), 0, 'group ping has no backup-icmp test');
  await chooseFilter('f-testGroup', '');
  assert.deepEqual(await column('Destination'), ['backup-host']);
  await chooseFilter('f-testConfiguration', '');
  await chooseFilter('f-destinationType', 'ExternalAddress');
  assert.equal(await rowCount(), 4);
  await chooseFilter('f-source', 'local');
  assert.equal(await rowCount(), 4);
  await page.click('#f-clear');
  await page.waitForFunction(() => !location.hash.includes('source=') && !location.hash.includes('destinationType='));
  // the same filters in the other views
  await go('#/testGroups?testConfiguration=icmp');
  assert.deepEqual(await keys(), ['g:e2e/ping']);
  await go('#/testGroups?destinationType=Agent');
  assert.equal(await rowCount(), 0);
  await go('#/monitors?testGroup=backup-ping');
  assert.deepEqual(await column('Name'), ['backup']);
  await go('#/monitors?destination=web-ok');
  assert.deepEqual(await column('Name'), ['e2e']);
  await go('#/monitor/e2e?tab=groups&destination=web-ok');
  assert.deepEqual(await column('Test group'), ['web']);
  await go('#/monitor/e2e?tab=destinations&testConfiguration=tcp-81');
  assert.deepEqual(await column('Destination', '[role="tabpanel"]'), ['web-closed']);
  await go('#/group/e2e/ping?tab=tests&destination=web-ok');
  assert.equal(await rowCount('[role="tabpanel"] table.data'), 0);
  // the entity type selector keeps them
  await go('#/tests?destination=web-ok');
  await page.selectOption('#f-entity', 'testGroups');
  await rendered('#/testGroups?destination=web-ok');
  assert.deepEqual(await keys(), ['g:e2e/web']);
  // the selectors' values are one GET /api/v1/tests/scopes a render: no
  // list view pages through every test for them (the views' own requests
  // to /api/v1/tests carry the URL's filter); a chosen value no test has
  // stays offered
  for (const view of ['tests', 'testGroups', 'monitors']) {
    const asked = [];
    const seen = (r) => {
      const u = new URL(r.url());
      if (u.pathname.startsWith('/api/v1/tests')) asked.push(u.pathname + u.search);
    };
    page.on('request', seen);
    await go(`#/${view}?destination=web-ok&testGroup=gone`);
    page.off('request', seen);
    const scopes = asked.filter((u) => u.startsWith('/api/v1/tests/scopes'));
    assert.ok(scopes.length >= 1 && scopes.every((u) => u === '/api/v1/tests/scopes?limit=10000'), `${view}: ${scopes}`);
    assert.deepEqual(asked.filter((u) => u.startsWith('/api/v1/tests?') && !u.includes('destination=web-ok')), [], view);
    assert.deepEqual(await page.$$eval('#f-testGroup option', (o) => o.map((x) => x.value)), ['', 'backup-ping', 'broken', 'ping', 'web', 'gone']);
    assert.equal(await page.inputValue('#f-testGroup'), 'gone');
  }
});

await step('Essentials at the top of the monitor and test group pages', async () => {
  await go('#/monitor/e2e');
  assert.equal(await page.$eval('main section.panel', (s) => s.id), 'essentials');
  const ess = async (id) => (await page.textContent(`#ess-${id}`)).trim();
  assert.equal(await ess('name'), 'e2e');
  assert.equal(await ess('status'), 'Running');
  assert.match(await ess('state'), /^Fail\s*1 Fail\s*2 Pass$/);
  assert.equal(await ess('regions'), 'lab-1');
  assert.deepEqual([await ess('groups'), await ess('tests'), await ess('sources'), await ess('destinations')], ['3', '3', '1', '3']);
  assert.match(await ess('created'), /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d/);
  assert.match(await ess('updated'), /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d/);
  await go('#/group/e2e/broken');
  assert.equal(await page.$eval('main section.panel', (s) => s.id), 'essentials');
  assert.equal(await ess('name'), 'broken');
  assert.equal(await ess('monitor'), 'e2e');
  assert.equal(await ess('status'), 'enabled, monitor Running');
  assert.match(await ess('state'), /^Fail\s*1 Fail$/);
  assert.equal(await ess('regions'), 'lab-1');
  assert.deepEqual([await ess('tests'), await ess('sources'), await ess('destinations')], ['1', '1', '1']);
  await shot('group-essentials');
});

await step('test drill-down shows the failing test\'s reason', async () => {
  await go('#/tests?q=web-closed&scope=destinations');
  await page.click('main a:text-is("web-closed")');
  await rendered('#/test/');
  assert.match(await page.textContent('#test-reason'), /^ChecksFailedPercent 100 > 5; connection_refused/);
  assert.match(await page.textContent('main dl.facts'), /Thresholdchecks failed ≤ 5 %, RTT ≤ 500 ms/);
  assert.ok(await rowCount('main section:has(h2:text-is("Latest rounds")) table.data') >= 1);
  await page.waitForSelector('figure.chart[data-drawn="true"]');
  await shot('test');
});

await step('charts still draw when the view\'s other requests answer slowly', async () => {
  // the trend lines are built before /results answers; the view is inserted
  // only then, frames later (a busy server): the chart must still be drawn
  const slow = (route) => setTimeout(() => route.continue().catch(() => {}), 1500);
  await page.route('**/api/v1/results?**', slow);
  try {
    await page.reload();
    await rendered('#/test/');
    await page.waitForSelector('figure.chart[data-drawn="true"]', { timeout: 10000 });
  } finally {
    await page.unroute('**/api/v1/results?**', slow);
  }
});

await step('compare draws two overlaid series', async () => {
  await go('#/tests');
  for (const d of ['web-ok', 'web-closed']) {
    const before = await page.$eval('#main', (m) => Number(m.dataset.renders));
    await page.locator('main tr', { hasText: d }).locator('input[type="checkbox"]').check();
    await page.waitForFunction((b) => Number(document.getElementById('main').dataset.renders) > b, before);
  }
  assert.match(page.url(), /sel=/);
  await page.click('#compare-link');
  await rendered('#/compare?');
  await page.waitForSelector('figure.chart[data-title="Checks failed"][data-drawn="true"]');
  const fig = await page.$eval('figure.chart[data-title="Checks failed"]', (f) => ({
    series: f.dataset.series, points: f.dataset.points, legend: f.querySelectorAll('.u-legend .u-series').length,
  }));
  assert.equal(fig.series, '2');
  assert.equal(fig.legend, 3); // the time axis + 2 tests
  const pts = fig.points.split(',').map(Number);
  assert.equal(pts.length, 2);
  assert.ok(pts.every((n) => n >= 1), `points per series ${fig.points}`);
  assert.equal(await rowCount(), 2);
  await shot('compare');
});

await step('alerts page: the firing alert, and the history with its transitions', async () => {
  await page.click('#nav a[data-section="alerts"]'); // reachable from the navigation
  await rendered('#/alerts');
  assert.equal(await page.textContent('main h1'), 'Alerts');
  assert.equal(await rowCount('#alerts-live table.data'), 1);
  assert.deepEqual(await column('Rule', '#alerts-live'), ['broken-fails']);
  assert.deepEqual(await column('State', '#alerts-live'), ['firing']);
  assert.match((await column('Labels', '#alerts-live'))[0], /destination=web-closed/);
  assert.deepEqual(await column('Rule', '#alerts-history'), ['rtt-seen']);
  assert.deepEqual(await column('State', '#alerts-history'), ['resolved']);
  // transitions of the resolved alert, newest first; open stays open on refresh
  const hist = page.locator('#alerts-history details');
  await hist.locator('summary').focus();
  await page.keyboard.press('Enter');
  assert.deepEqual(await hist.locator('.transitions li .alert-state').allTextContents(), ['resolved', 'firing']);
  await refreshNow();
  assert.equal(await page.locator('#alerts-history details').getAttribute('open'), '');
  await shot('alerts');
  // the firing alert leads to the tests it covers
  await page.click('#alerts-live a:text-is("Tests")');
  await rendered('#/tests?');
  assert.match(page.url(), /alert=firing/);
  assert.deepEqual(await column('Destination'), ['web-closed']);
});

await step('alert filter narrows the tests rows exactly and is in the URL, like the time range', async () => {
  await go('#/tests');
  const dests = await column('Destination');
  const alertCol = await column('Alert');
  if (alertCol[dests.indexOf('web-closed')] !== 'firing: broken-fails') {
    // say what the server had, so a failure here can be told apart from a UI bug
    const all = await page.evaluate(async () => (await fetch('/api/v1/alerts')).text());
    console.log(`alerts when the Alert column was read: ${all}`);
  }
  assert.equal(alertCol[dests.indexOf('web-closed')], 'firing: broken-fails');
  assert.equal(alertCol.filter(Boolean).length, 1);
  await chooseFilter('f-alert', 'firing');
  assert.match(page.url(), /alert=firing/);
  assert.deepEqual(await column('Destination'), ['web-closed']);
  await shot('tests-alert-firing');
  await chooseFilter('f-alert', 'none');
  assert.match(page.url(), /alert=none/);
  assert.deepEqual((await column('Destination')).sort(), ['backup-host', 'srv-host', 'web-ok']);
  await chooseFilter('f-state', 'Fail');
  assert.equal(await rowCount(), 0, 'no failing test without an alert');
  await chooseFilter('f-range', '6h');
  assert.match(page.url(), /range=6h/);
  // a shared link restores every filter, the time range included
  await go('#/tests?alert=firing&state=Fail&range=24h');
  assert.equal(await page.inputValue('#f-alert'), 'firing');
  assert.equal(await page.inputValue('#f-state'), 'Fail');
  assert.equal(await page.inputValue('#f-range'), '24h');
  assert.deepEqual(await column('Destination'), ['web-closed']);
  await page.click('#f-clear');
  await page.waitForFunction(() => !location.hash.includes('alert=') && !location.hash.includes('range='));
  await page.waitForFunction(() => document.querySelector('main table.data').dataset.rows === '4');
  // the monitors list and the drill-downs take the alert filter too
  await go('#/monitors?alert=firing');
  assert.deepEqual(await column('Name'), ['e2e']);
  await go('#/monitors?alert=none');
  assert.deepEqual(await column('Name'), ['backup']);
  await go('#/monitor/e2e?alert=none&tab=tests');
  assert.deepEqual((await column('Destination')).sort(), ['srv-host', 'web-ok']);
  await go('#/monitor/e2e?alert=firing&tab=groups');
  assert.deepEqual(await column('Test group'), ['broken']);
  await go('#/group/e2e/broken?alert=none');
  assert.equal(await rowCount('[role="tabpanel"] table.data'), 0);
});

await step('agents page: the embedded agent with its version and state', async () => {
  await page.click('#nav a[data-section="agents"]');
  await rendered('#/agents');
  assert.equal(await page.textContent('main h1'), 'Agents');
  const names = await column('Name');
  const i = names.indexOf(AGENT.name);
  assert.ok(i >= 0, `agent ${AGENT.name} listed (${names})`);
  assert.equal((await column('State'))[i], AGENT.state);
  assert.equal((await column('Version'))[i], AGENT.version || '–');
  assert.match((await column('Last seen'))[i], /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\dZ \(\d+ (s|min) ago\)$/);
  await shot('agents-embedded');
});

// Run the query in the editor and wait for this run's own render (the URL
// may already hold an earlier query).
async function runQuery() {
  const before = await page.$eval('#main', (m) => Number(m.dataset.renders));
  await page.click('#query-run');
  await page.waitForFunction((b) => Number(document.getElementById('main').dataset.renders) > b, before);
}

await step('query page: an example runs, downloads as CSV and reopens from its URL', async () => {
  await page.click('#nav a[data-section="query"]');
  await rendered('#/query');
  assert.equal(await page.textContent('main h1'), 'Query');
  await page.click('button[data-example="failed-by-destination"]');
  const sql = await page.inputValue('#query-sql');
  assert.match(sql, /FROM v_results/);
  await runQuery();
  const check = async () => {
    const dests = await column('destination');
    const failed = await column('checks_failed');
    assert.deepEqual([...dests].sort(), ['backup-host', 'srv-host', 'web-closed', 'web-ok']);
    assert.equal(dests[0], 'web-closed', 'most failed checks first');
    assert.ok(Number(failed[0]) > 0, `web-closed failed ${failed[0]}`);
    assert.deepEqual(failed.slice(1), ['0', '0', '0']);
    assert.equal((await column('failed_pct'))[0], '100');
    const monitors = await column('monitor');
    assert.equal(monitors[0], 'e2e');
    assert.equal(monitors[dests.indexOf('backup-host')], 'backup');
  };
  await check();
  await shot('query');
  const [download] = await Promise.all([page.waitForEvent('download'), page.click('#query-csv')]);
  const csv = fs.readFileSync(await download.path(), 'utf8');
  const lines = csv.split('\r\n');
  assert.equal(lines[0], 'monitor,destination,checks_failed,checks,failed_pct');
  assert.match(lines[1], /^e2e,web-closed,[1-9]\d*,[1-9]\d*,100$/);
  assert.equal(lines.filter(Boolean).length, 5, csv);
  // the address holds the query: opened afresh it runs again
  const shared = page.url();
  await go('#/monitors');
  await page.goto(shared);
  await rendered('#/query?sql=');
  assert.equal(await page.inputValue('#query-sql'), sql);
  await check();
  // names and states as text: the state changes of a monitor
  await page.click('button[data-example="state-changes"]');
  await runQuery();
  const to = await column('to_state');
  assert.ok(to.includes('Pass') && to.includes('NotRunning'), `to_state ${to}`);
  assert.ok((await column('from_state')).includes('Indeterminate'));
  // a bad query shows the server's own message, the query stays to fix
  expected400++;
  expected400Logs++;
  await page.fill('#query-sql', 'SELECT nope FROM v_results');
  await runQuery();
  assert.match(await page.textContent('#query-error'), /^invalid_query: .*nope/);
  assert.equal(await page.inputValue('#query-sql'), 'SELECT nope FROM v_results');
});

async function openTopology(dest) {
  await go(`#/tests?q=${dest}&scope=destinations`);
  await page.click(`main a:text-is("${dest}")`);
  await rendered('#/test/');
  await page.click('#topology-link');
  await rendered('#/topology/');
  await page.waitForSelector('svg.topo');
}
const hopNodes = () => page.$$eval('svg.topo g.hop', (g) => g.map((x) => `${x.dataset.ttl} ${x.dataset.address} ${x.dataset.class}`));

await step('topology: a test\'s path drawn hop by hop, with its timeline', async () => {
  await openTopology('web-ok');
  assert.match(await page.textContent('main h1'), /^Topology: local → web-ok \(tcp-80\)/);
  assert.deepEqual(await hopNodes(), ['1 198.18.1.2 good', '2 198.18.2.2 good']);
  assert.equal(await page.$eval('.topo-box', (b) => b.dataset.reached), 'true');
  assert.deepEqual(await texts('svg.topo g.hop .addr'), ['198.18.1.2', '198.18.2.2']);
  assert.ok(await page.isVisible('#path-issues-none'));
  const tl = await page.$eval('.timeline-box', (b) => ({ traces: Number(b.dataset.traces), changes: b.dataset.changes }));
  assert.ok(tl.traces >= 1, 'at least one trace on the timeline');
  assert.equal(tl.changes, '0');
  assert.deepEqual(await column('Address'), ['198.18.1.2', '198.18.2.2']);
  // hops are reachable with the keyboard
  await page.focus('svg.topo g.hop[data-ttl="2"]');
  assert.equal(await page.evaluate(() => document.activeElement.dataset.address), '198.18.2.2');
  assert.equal(await page.$eval('svg.topo g.hop[data-ttl="2"] circle', (c) => getComputedStyle(c).stroke),
    'rgb(245, 158, 11)', 'the focused hop has the focus colour');
  await shot('topology');
});

await step('topology: the hop with loss is marked, and the route change is on the timeline', async () => {
  await openTopology('backup-host');
  assert.deepEqual(await hopNodes(), ['1 198.18.1.2 good', '2 198.18.5.2 bad', '3 198.18.4.2 warn']);
  // (route_changed joins it while the latest trace is the one that saw the change)
  const issues = await texts('#path-issues li');
  assert.equal(issues[0], 'hop_loss at hop 2 (198.18.5.2): 20 % (threshold 10 %)');
  assert.ok(issues.length === 1 || issues[1] === 'route_changed: the route differs from the previous trace', String(issues));
  const tl = await page.$eval('.timeline-box', (b) => ({ traces: Number(b.dataset.traces), changes: b.dataset.changes }));
  assert.equal(tl.changes, '1');
  assert.ok(tl.traces >= 2, `traces on the timeline: ${tl.traces}`);
  assert.equal(await page.locator('svg.timeline g.change').count(), 1);
  assert.deepEqual(await column('Route before', 'main'), ['198.18.1.2 → 198.18.3.2 → 198.18.4.2']);
  assert.deepEqual(await column('Route after', 'main'), ['198.18.1.2 → 198.18.5.2 → 198.18.4.2']);
  // the marker is focusable and says what changed
  await page.focus('svg.timeline g.change');
  assert.match(await page.evaluate(() => document.activeElement.querySelector('title').textContent),
    /route changed to 198\.18\.1\.2 → 198\.18\.5\.2 → 198\.18\.4\.2$/);
  await shot('topology-hop-issue');
});

await step('hop-level issues in the monitor, test group and test drill-downs', async () => {
  await go('#/monitor/backup');
  assert.deepEqual(await column('Diagnostic', '#hop-issues'), ['hop_loss']);
  assert.deepEqual(await column('Address', '#hop-issues'), ['198.18.5.2']);
  assert.deepEqual(await column('Value', '#hop-issues'), ['20 %']);
  await shot('monitor-hop-issues');
  await go('#/group/backup/backup-ping');
  assert.deepEqual(await column('Address', '#hop-issues'), ['198.18.5.2']);
  // the issue row opens the test's topology
  await page.locator('#hop-issues tr.link-row').focus();
  await page.keyboard.press('Enter');
  await rendered('#/topology/');
  await page.waitForSelector('svg.topo g.hop.bad[data-address="198.18.5.2"]');
  // where no hop has a problem the drill-downs say so
  await go('#/monitor/e2e');
  assert.equal(await page.textContent('#hop-issues-none'), 'No hop issues (in the latest traced paths of 3 tests).');
  // the monitor's topology graph: its 3 tests share the router
  const graph = () => page.$$eval('#monitor-topology svg.graph g.gnode', (g) => g.map((x) => x.dataset.id).sort());
  assert.deepEqual(await graph(), ['destination:srv-host', 'destination:web-closed', 'destination:web-ok',
    'hop:198.18.1.2', 'source:local']);
  assert.equal(await page.$eval('#monitor-topology .topo-box', (b) => b.dataset.edges), '4');
  await go('#/monitor/backup');
  assert.deepEqual(await graph(), ['destination:backup-host', 'hop:198.18.1.2', 'hop:198.18.5.2', 'source:local']);
  assert.equal(await page.locator('#monitor-topology line.edge.bad').count(), 2, 'the edges after the lossy hop');
  await go('#/group/e2e/broken');
  assert.equal(await page.textContent('#hop-issues-none'), 'No hop issues (in the latest traced paths of 1 test).');
  await go('#/tests?q=srv-host&scope=destinations');
  await page.click('main a:text-is("srv-host")');
  await rendered('#/test/');
  assert.equal(await page.textContent('#hop-issues-none'), 'No hop issues (in the latest traced paths of 1 test).');
});

await step('editor: a bad file shows its problem at line:column', async () => {
  await go('#/edit');
  await page.fill('#monitor-name', 'bad');
  await page.fill('#monitor-json', fs.readFileSync(BAD_FILE, 'utf8'));
  await page.click('#refresh'); // refreshing never throws away what is being typed
  assert.equal(await page.inputValue('#monitor-json'), fs.readFileSync(BAD_FILE, 'utf8'));
  expected400 = expected400Logs = 1;
  await page.click('#save');
  await page.waitForSelector('.problem .pos');
  assert.equal(expected400, 0, 'the save answered 400');
  assert.equal(await page.textContent('.problem .pos'), BAD_POS);
  assert.match(await page.textContent('.problem'), /testFrequencySec.*between 30 and 1800/);
  const line = BAD_POS.split(':')[0];
  assert.equal(await page.$eval(`.gutter .ln[data-line="${line}"]`, (e) => e.className), 'ln err');
  await page.click('.problem .pos'); // moves the caret to the problem
  const caret = await page.$eval('#monitor-json', (t) => t.value.slice(0, t.selectionStart).split('\n').length);
  assert.equal(String(caret), line);
  await shot('editor-error');
  // a JSON syntax error is shown at its line:column too
  await page.fill('#monitor-json', '{\n  "properties": {\n    "endpoints": [,]\n  }\n}\n');
  expected400 = expected400Logs = 1;
  await page.click('#save');
  await page.waitForFunction(() => /^3:/.test((document.querySelector('.problem .pos') || {}).textContent || ''));
  assert.equal(await page.$eval('.gutter .ln[data-line="3"]', (e) => e.className), 'ln err');
});

await step('editor: a valid monitor saves and appears', async () => {
  await go('#/edit/backup');
  const text = await page.inputValue('#monitor-json');
  assert.match(text, /"backup-icmp"/);
  await page.fill('#monitor-name', 'edited');
  await page.click('#save');
  await page.waitForSelector('#editor-status.ok');
  assert.match(await page.textContent('#editor-status'), /Saved edited: 1 tests/);
  await go('#/monitors');
  assert.equal(await rowCount(), 3);
});

await step('auto refresh after 60 s keeps filters and scroll', async () => {
  const p2 = await ctx.newPage();
  watch(p2);
  await p2.clock.install();
  await p2.setViewportSize({ width: 1366, height: 400 });
  await p2.goto(`${BASE}/#/monitor/e2e?tab=tests&state=Fail`);
  await p2.clock.runFor(1000);
  await p2.waitForFunction(() => document.getElementById('main').dataset.renders === '1');
  await p2.evaluate(() => window.scrollTo(0, 300));
  const y = await p2.evaluate(() => window.scrollY);
  assert.ok(y > 0, 'the page scrolls');
  await p2.clock.runFor(60000);
  await p2.waitForFunction(() => document.getElementById('main').dataset.renders === '2');
  assert.equal(await p2.evaluate(() => window.scrollY), y);
  assert.match(p2.url(), /state=Fail/);
  assert.equal(await p2.inputValue('#f-state'), 'Fail');
  await p2.close();
});

await step('auto refresh keeps scroll, filters and open details on the new pages', async () => {
  const p3 = await ctx.newPage();
  watch(p3);
  await p3.clock.install();
  await p3.setViewportSize({ width: 1366, height: 300 });
  await p3.goto(`${BASE}/#/alerts?range=6h`);
  await p3.clock.runFor(1000);
  await p3.waitForFunction(() => document.getElementById('main').dataset.renders === '1');
  await p3.click('#alerts-history details summary');
  await p3.evaluate(() => window.scrollTo(0, 200));
  const y = await p3.evaluate(() => window.scrollY);
  assert.ok(y > 0, 'the page scrolls');
  await p3.clock.runFor(60000);
  await p3.waitForFunction(() => document.getElementById('main').dataset.renders === '2');
  assert.equal(await p3.evaluate(() => window.scrollY), y);
  assert.equal(await p3.inputValue('#f-range'), '6h');
  assert.equal(await p3.locator('#alerts-history details').getAttribute('open'), '');
  await p3.goto(`${BASE}/#/tests?alert=firing&state=Fail`);
  await p3.clock.runFor(1000);
  await p3.waitForFunction(() => (document.getElementById('main').dataset.url || '').includes('alert=firing'));
  const r0 = await p3.evaluate(() => Number(document.getElementById('main').dataset.renders));
  await p3.clock.runFor(60000);
  await p3.waitForFunction((r) => Number(document.getElementById('main').dataset.renders) > r, r0);
  assert.equal(await p3.inputValue('#f-alert'), 'firing');
  assert.equal(await p3.$eval('main table.data', (t) => t.dataset.rows), '1');
  await p3.close();
});

// r1 drops (or passes again) the ICMP echo requests to srv-host: its checks fail
function failSrvHost(on) {
  const ns = process.env.NS_R1;
  const rules = on
    ? 'table ip cw_fail {\n chain pre {\n  type filter hook prerouting priority -300; policy accept;\n'
      + '  ip daddr 198.18.2.2 icmp type echo-request drop\n }\n}\n'
    : 'delete table ip cw_fail\n';
  execFileSync('ip', ['netns', 'exec', ns, 'nft', '-f', '-'], { input: rules });
}

async function waitAlert(section, rule, state, seconds) {
  for (let i = 0; i < seconds; i++) {
    await go('#/alerts?range=6h');
    const rules = await column('Rule', section);
    const states = await column('State', section);
    if (rules.some((r, k) => r === rule && states[k] === state)) return;
    await new Promise((r) => setTimeout(r, 1000));
  }
  const all = await page.evaluate(async () => (await fetch('/api/v1/alerts')).text());
  throw new Error(`${rule} not ${state} in ${section} after ${seconds} s: ${all}`);
}

await step('alerts from the dashboard: an action group, then a rule from a monitor page (the server\'s own messages for mistakes)', async () => {
  await go('#/alerts');
  await page.click('#new-group');
  await rendered('#/alerts/group');
  await page.fill('#group-name', 'e2e-hooks');
  expected400++;
  expected400Logs++;
  await page.fill('#group-json', '{"webhooks": [{"url": "ftp://hooks.test/x"}]}');
  await page.click('#group-save');
  await page.waitForSelector('#group-problems:not([hidden])');
  assert.match(await page.textContent('#group-problems'), /^1:\d+: webhooks\[0\]\.url: /);
  await page.fill('#group-json', '{"webhooks": [{"url": "http://127.0.0.1:9/hook"}]}');
  await page.click('#group-save');
  await rendered('#/alerts?saved=e2e-hooks');
  assert.deepEqual(await column('Name', '#alerts-groups'), ['e2e-hooks']);
  // "Configure alerts" on a monitor page: the form with the monitor's
  // dimension filled in, the dimension list as the server has it
  await go('#/monitor/e2e');
  await page.click('#configure-alerts');
  await rendered('#/alerts/rule?d.monitor=e2e');
  assert.equal(await page.inputValue('#rule-dim-monitor'), 'e2e');
  const dims = await page.evaluate(async () => (await (await fetch('/api/v1/alertDimensions')).json()).items);
  assert.deepEqual(await page.$$eval('#rule-dimensions input', (xs) => xs.map((x) => x.id.replace('rule-dim-', ''))), dims);
  // every choice of the form is the server's (GET /api/v1/alertSignals, the
  // table its validation reads): signals with units, operators, the signal's
  // aggregations, severities, common windows and frequencies, ranges
  const sig = await page.evaluate(async () => (await fetch('/api/v1/alertSignals')).json());
  const opts = (sel) => page.$$eval(`${sel} option`, (xs) => xs.map((x) => [x.value, x.textContent]));
  assert.deepEqual(await opts('#rule-metric'), sig.signals.map((x) => [x.name, `${x.name} (${x.unit})`]));
  assert.deepEqual(await opts('#rule-operator'), sig.operators.map((o) => [o.name, o.symbol]));
  assert.deepEqual((await opts('#rule-aggregation')).map(([v]) => v), sig.signals[0].aggregations);
  assert.deepEqual((await opts('#rule-severity')).map(([v]) => v), sig.severity.names.map((_, i) => String(i)));
  assert.deepEqual((await opts('#rule-scope')).map(([v]) => v), sig.scopes);
  assert.deepEqual((await opts('#rule-dl-windowSizeSec')).map(([v]) => Number(v)), sig.windowSizeSec.common);
  assert.deepEqual((await opts('#rule-dl-evaluationFrequencySec')).map(([v]) => Number(v)), sig.evaluationFrequencySec.common);
  assert.equal(await page.inputValue('#rule-windowSizeSec'), String(sig.windowSizeSec.default));
  assert.equal(await page.getAttribute('#rule-evaluationFrequencySec', 'min'), String(sig.evaluationFrequencySec.min));
  assert.equal(await page.getAttribute('#rule-threshold', 'max'), String(sig.signals[0].thresholdMax));
  await page.selectOption('#rule-metric', 'RoundTripTimeMs'); // no upper bound, in ms
  assert.equal(await page.getAttribute('#rule-threshold', 'max'), null);
  assert.match(await page.textContent('#rule-threshold-hint'), /^ms, at least 0$/);
  await page.fill('#rule-name', 'srv-loss');
  await page.fill('#rule-dim-destination', 'srv-host');
  await page.selectOption('#rule-metric', 'ChecksFailedPercent');
  await page.selectOption('#rule-operator', 'GreaterThan');
  await page.fill('#rule-threshold', '200');
  await page.fill('#rule-windowSizeSec', '60');
  await page.fill('#rule-evaluationFrequencySec', '10');
  await page.check('#rule-actionGroups input[value="e2e-hooks"]');
  expected400++;
  expected400Logs++;
  await page.click('#rule-save');
  await page.waitForSelector('.field[data-field="threshold"].err');
  assert.equal(await page.textContent('.field[data-field="threshold"] .field-problem'),
    'ChecksFailedPercent threshold must be between 0 and 100, got 200');
  assert.match(await page.textContent('#rule-problems'), /^threshold: ChecksFailedPercent threshold must be/);
  await page.fill('#rule-threshold', '40');
  await page.click('#rule-save');
  await rendered('#/alerts?saved=srv-loss');
  assert.deepEqual(await column('Name', '#alerts-rules'), ['broken-fails', 'rtt-seen', 'srv-loss']);
  const rule = await page.evaluate(async () => (await fetch('/api/v1/alertRules/srv-loss')).json());
  assert.deepEqual([rule.kind, rule.metric, rule.operator, rule.threshold, rule.windowSizeSec, rule.evaluationFrequencySec,
    rule.dimensions, rule.actionGroups],
  ['metric', 'ChecksFailedPercent', 'GreaterThan', 40, 60, 10, { monitor: 'e2e', destination: 'srv-host' }, ['e2e-hooks']]);
  // editing keeps what was stored
  await page.click('#alerts-rules a:text-is("srv-loss")');
  await rendered('#/alerts/rule/srv-loss');
  assert.equal(await page.inputValue('#rule-threshold'), '40');
  assert.equal(await page.inputValue('#rule-dim-destination'), 'srv-host');
  await page.selectOption('#rule-severity', '1');
  await page.click('#rule-save');
  await rendered('#/alerts?saved=srv-loss');
  assert.equal(await page.evaluate(async () => (await (await fetch('/api/v1/alertRules/srv-loss')).json()).severity), 1);
  await shot('alert-rules');
});

await step('the rule made in the dashboard fires on an nft-failed destination and resolves', async () => {
  failSrvHost(true);
  try {
    await waitAlert('#alerts-live', 'srv-loss', 'firing', 120);
  } finally {
    failSrvHost(false);
  }
  assert.match((await column('Labels', '#alerts-live'))[(await column('Rule', '#alerts-live')).indexOf('srv-loss')],
    /destination=srv-host/);
  await waitAlert('#alerts-history', 'srv-loss', 'resolved', 150);
});

await step('going back in time: the picker shows srv-host Fail at a past moment and Pass now', async () => {
  // the moment: 2 s into srv-host's failure (the nft rule above), from its state changes
  const { changes } = await page.evaluate(async () => {
    const t = (await (await fetch('/api/v1/tests?q=srv-host&scope=destinations')).json()).items[0];
    return { changes: (await (await fetch(`/api/v1/tests/${t.id}/stateChanges`)).json()).items };
  });
  const k = changes.map((c) => c.to).lastIndexOf('Fail');
  assert.ok(k >= 0 && changes[k + 1] && changes[k + 1].to === 'Pass', JSON.stringify(changes));
  const moment = Math.floor(Date.parse(changes[k].time) / 1000) * 1000 + 2000;
  assert.ok(moment < Date.parse(changes[k + 1].time), 'the moment is inside the failure');
  await go('#/tests');
  const stateOf = async (dest) => (await column('State'))[(await column('Destination')).indexOf(dest)];
  assert.equal(await stateOf('srv-host'), 'Pass');
  // the picker takes local time, like a person types it
  const local = await page.evaluate((ms) => {
    const d = new Date(ms);
    const p = (n) => String(n).padStart(2, '0');
    return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}T${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`;
  }, moment);
  const before = await page.$eval('#main', (m) => Number(m.dataset.renders));
  await page.fill('#f-at', local);
  await page.waitForFunction((b) => Number(document.getElementById('main').dataset.renders) > b, before);
  const iso = new Date(moment).toISOString();
  assert.equal(new URL(page.url()).hash.match(/at=([^&]*)/)[1], encodeURIComponent(iso));
  assert.equal(await stateOf('srv-host'), 'Fail');
  // the reason it had then: the one recorded when it turned Fail (the first
  // failing round may have lost only part of its checks, e.g. "20 > 10")
  const then = changes[k].reason;
  assert.match(then, /^ChecksFailedPercent \d+(\.\d+)? > 10/);
  const head = then.split(';')[0]; // "ChecksFailedPercent N > 10"
  assert.ok((await column('Reason'))[(await column('Destination')).indexOf('srv-host')].startsWith(head), then);
  assert.equal(await stateOf('web-ok'), 'Pass');
  assert.match(await page.textContent('#f-at-note'), /as it stood at/);
  await shot('tests-at');
  // the drill-downs as they stood, from the links (at= is carried)
  await page.click('main a:text-is("srv-host")');
  await rendered('#/test/');
  assert.match(page.url(), /at=/);
  assert.ok((await page.textContent('#test-reason')).trim().startsWith(head), then);
  await go(`#/monitor/e2e?tab=groups&at=${encodeURIComponent(iso)}`);
  assert.equal((await column('State'))[(await column('Test group')).indexOf('ping')], 'Fail');
  await go(`#/monitors?at=${encodeURIComponent(iso)}&state=Fail`);
  assert.deepEqual(await column('Name'), ['e2e']);
  // Now: the live view again
  await go(`#/tests?at=${encodeURIComponent(iso)}`);
  const b2 = await page.$eval('#main', (m) => Number(m.dataset.renders));
  await page.click('#f-now');
  await page.waitForFunction((b) => Number(document.getElementById('main').dataset.renders) > b, b2);
  assert.doesNotMatch(page.url(), /at=/);
  assert.equal(await stateOf('srv-host'), 'Pass');
  assert.equal(await page.isHidden('#f-at-note'), true);
});

await step('alert rules: disable, enable and delete from the list', async () => {
  await go('#/alerts');
  await page.click('#rule-toggle-srv-loss');
  await page.waitForFunction(() => document.getElementById('rule-toggle-srv-loss')?.textContent === 'Enable');
  const enabled = async () => (await column('Enabled', '#alerts-rules'))[(await column('Name', '#alerts-rules')).indexOf('srv-loss')];
  assert.equal(await enabled(), 'no');
  await page.click('#rule-toggle-srv-loss');
  await page.waitForFunction(() => document.getElementById('rule-toggle-srv-loss')?.textContent === 'Disable');
  assert.equal(await enabled(), 'yes');
  await page.click('#rule-delete-srv-loss');
  assert.equal(await page.textContent('#rule-delete-srv-loss'), 'Confirm delete');
  await page.click('#rule-delete-srv-loss');
  await page.waitForFunction(() => !document.getElementById('rule-delete-srv-loss'));
  assert.deepEqual(await column('Name', '#alerts-rules'), ['broken-fails', 'rtt-seen']);
  await page.click('#group-delete-e2e-hooks');
  await page.click('#group-delete-e2e-hooks');
  await page.waitForFunction(() => !document.getElementById('group-delete-e2e-hooks'));
  assert.equal(await rowCount('#alerts-groups table.data'), 0);
});

await step('alert rules inside a monitor file: a bad one refused at its line, then saved from the editor, listed under it, read-only in the rule form, gone with the monitor', async () => {
  // a disabled group: its tests never run, so the other steps' views stay as they were
  const file = { name: 'e2e-rules', properties: {
    endpoints: [{ name: 'me', type: 'Agent', address: AGENT.name }, { name: 'lo', address: '127.0.0.1' }],
    testConfigurations: [{ name: 'tcp', protocol: 'Tcp', tcpConfiguration: { port: 9 } }],
    testGroups: [{ name: 'g', disable: true, sources: ['me'], destinations: ['lo'], testConfigurations: ['tcp'] }],
    alertRules: [{ name: 'e2e-rules-loss', metric: 'ChecksFailedPercent', operator: 'GreaterThan', threshold: 150 }] } };
  const bad = JSON.stringify(file, null, 2);
  const line = bad.split('\n').findIndex((l) => l.includes('"threshold"')) + 1;
  await go('#/edit');
  await page.fill('#monitor-name', 'e2e-rules');
  await page.fill('#monitor-json', bad);
  expected400++;
  expected400Logs++;
  await page.click('#save');
  await page.waitForSelector('#problems li');
  assert.match(await page.textContent('#problems li'),
    new RegExp(`^${line}:\\d+ alertRules\\[0\\]\\.threshold: ChecksFailedPercent threshold must be between 0 and 100, got 150$`));
  assert.equal((await fetch(`${BASE}/api/v1/connectionMonitors/e2e-rules`)).status, 404, 'nothing of the monitor was written');
  file.properties.alertRules[0].threshold = 40;
  await page.fill('#monitor-json', JSON.stringify(file, null, 2));
  await page.click('#save');
  await page.waitForSelector('#editor-status.ok');
  await page.waitForSelector('#editor-rules:not([hidden])');
  // reopened: the JSON holds the rules, the stored ones are listed under it
  await go('#/edit/e2e-rules');
  assert.deepEqual(JSON.parse(await page.inputValue('#monitor-json')).properties.alertRules, file.properties.alertRules);
  assert.deepEqual(await page.$$eval('#editor-rules-list li', (xs) => xs.map((x) => x.textContent)),
    ['e2e-rules-loss ChecksFailedPercent GreaterThan 40']);
  await shot('editor-alert-rules');
  await page.click('#editor-rules-list a:text-is("e2e-rules-loss")');
  await rendered('#/alerts/rule/e2e-rules-loss');
  assert.match(await page.textContent('#rule-managed'), /managed by monitor e2e-rules/);
  assert.equal(await page.isDisabled('#rule-save'), true);
  assert.equal(await page.inputValue('#rule-dim-monitor'), 'e2e-rules');
  // (the body read: an unread one is reported as an aborted request)
  assert.equal(await page.evaluate(async () => {
    const r = await fetch('/api/v1/connectionMonitors/e2e-rules', { method: 'DELETE' });
    await r.text();
    return r.status;
  }), 204);
  const names = await page.evaluate(async () => (await (await fetch('/api/v1/alertRules')).json()).items.map((r) => r.name));
  assert.ok(!names.includes('e2e-rules-loss'), `the monitor's rule went with it (${names})`);
});

await step('once a token exists the dashboard asks for it, then works with it', async () => {
  const token = execFileSync(process.env.CMON, ['token', 'create', '--role', 'reader', '--data', process.env.CMON_DATA],
    { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
  assert.ok(token.length > 10, 'cmon token create printed a token');
  expected401 = 1;
  await go('#/monitors'); // rendered (the token form): a reload aborts no request of it
  await page.reload(); // a fresh start: the app's first API call meets the token requirement
  await page.waitForSelector('form.token-form');
  await page.fill('#token', token);
  await page.press('#token', 'Enter');
  await page.waitForSelector('.summary');
  expected401 = 0;
  assert.equal(await rowCount(), 3);
  await shot('monitors-with-token');
});

await step('agents page: a registered cmon agent shows running with its version', async () => {
  // tokens exist by now: a workspace key registers a real `cmon agent`
  const key = execFileSync(process.env.CMON, ['token', 'create', '--role', 'agent', '--data', process.env.CMON_DATA],
    { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
  const version = execFileSync(process.env.CMON, ['--version'], { encoding: 'utf8' }).split('\n')[0].replace(/^cmon /, '');
  const agent = spawn(process.env.CMON, ['agent', '--server', BASE, '--key', key, '--name', 'e2e-agent',
    '--state-dir', path.join(PROFILE, '..', 'agent-state'), '--heartbeat', '10'], { stdio: 'ignore' });
  try {
    await go('#/agents');
    for (let i = 0; i < 30 && !(await column('Name')).includes('e2e-agent'); i++) {
      await new Promise((r) => setTimeout(r, 500));
      await refreshNow();
    }
    const names = await column('Name');
    const i = names.indexOf('e2e-agent');
    assert.ok(i >= 0, `e2e-agent listed (${names})`);
    assert.equal((await column('State'))[i], 'running');
    assert.equal((await column('Version'))[i], version);
    assert.match((await column('Registered'))[i], /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\dZ$/);
    assert.equal((await column('Heartbeat'))[i], '10 s');
    const j = names.indexOf(AGENT.name);
    assert.equal((await column('State'))[j], AGENT.state, 'the embedded agent is still listed');
    await shot('agents');
  } finally {
    agent.kill('SIGTERM');
  }
});

await step('a compound source\'s test expands into its members', async () => {
  // an AgentGroup whose scope holds the client namespace's address: the
  // embedded agent is its member (its address: the host's first, 198.18.1.x);
  // applied and read with the cmon CLI (the local admin token of CMON_DATA)
  const cli = (...args) => execFileSync(process.env.CMON, [...args, '--server', BASE],
    { encoding: 'utf8', env: { ...process.env, CMON_DATA: process.env.CMON_DATA }, stdio: ['ignore', 'pipe', 'pipe'] });
  const file = path.join(PROFILE, '..', 'cluster.json');
  fs.writeFileSync(file, JSON.stringify({ name: 'cluster', properties: {
    endpoints: [{ name: 'lab', type: 'AgentGroup', scope: { include: [{ address: '198.18.0.0/16' }] } },
      { name: 'srv-host', address: '198.18.2.2' }],
    testConfigurations: [{ name: 'ping', protocol: 'Icmp', testFrequencySec: 30, icmpConfiguration: { disableTraceRoute: true } }],
    testGroups: [{ name: 'g', sources: ['lab'], destinations: ['srv-host'], testConfigurations: ['ping'] }] } }));
  cli('monitor', 'apply', file);
  let t;
  for (let i = 0; i < 60; i++) {
    t = JSON.parse(cli('tests', '--monitor', 'cluster', '--json')).items[0];
    if (t && t.lastResultAt && t.state === 'Pass') break;
    await new Promise((res) => setTimeout(res, 1000));
  }
  assert.equal(t.sourceType, 'AgentGroup');
  assert.equal(t.state, 'Pass', 'the compound test passes');
  await go(`#/test/${t.id}?monitor=cluster`);
  await page.waitForSelector('#members table.data');
  assert.equal(await rowCount('#members table.data'), 1);
  const member = await page.$eval('#members table.data tbody tr', (tr) => [...tr.cells].map((c) => c.textContent));
  assert.equal(member[0], AGENT.name);
  assert.match(member[1], /^198\.18\.1\.\d+$/);
  assert.equal(member[2], 'Pass');
  await shot('test-members');
});

await ctx.close();
console.log(`all ${passed} dashboard checks passed`);
