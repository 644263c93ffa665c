// Browser tests for the console's Reports area (issue 7): conversations seeded through the HTTP
// API (visitors write, the admin replies, tags one and resolves two, one waits), then the admin
// opens Reports and reads the headline figures (with their definitions on focus), the heatmap's
// cell for the hour the conversations started, the operators and tag tables (a tag name that
// looks like markup stays text), downloads a CSV, changes the staffing plan's settings and sees
// the plan change, narrows by channel and tag (kept across a reload), and watches the live
// panel's "Waiting now" move when another visitor writes, without a reload. An operator has no
// Reports entry and the API refuses them. Charts are checked for their accessible names, titles
// and tables. (No axe-core in package.json: roles and labels are checked here directly.)
//
// Like assistant.test.mjs this file starts an app of its own (the figures count every
// conversation in the database), the bundled test host by default or `spin up` when
// LIVECHAT_TEST_RUNTIME=spin, with a fresh data directory deleted afterwards.
//
//   (cd tests/browser && npm ci) && node --test tests/browser/reports.test.mjs
// CHROMIUM overrides the browser binary (default /usr/bin/chromium). Screenshots go to
// tests/browser/artifacts/ (reports-console.png, reports-console-dark.png).

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdir, readFile } from 'node:fs/promises';
import { chromium } from 'playwright-core';
import { startApp } from './tools/app.mjs';

const ARTIFACTS = new URL('./artifacts/', import.meta.url);
const TEST_TIMEOUT_MS = 180_000;
const UI_TIMEOUT_MS = 30_000;

const RUN = randomBytes(4).toString('hex');
const ADMIN = { email: `admin${RUN}@example.com`, password: `admin password ${RUN}` };
const OPERATOR = { email: `olivia${RUN}@example.com`, name: 'Olivia', password: `olivia password ${RUN}` };
const TAG = 'Billing <b>& co</b>';
const WEEKDAYS = ['Monday', 'Tuesday', 'Wednesday', 'Thursday', 'Friday', 'Saturday', 'Sunday'];

let app;
let APP;
let browser;
const people = { admin: null, operator: null };
const world = { startedAt: 0 };

// --- The API from Node ------------------------------------------------------------------------------

async function call(path, { method = 'GET', token, body } = {}) {
  const headers = { accept: 'application/json' };
  if (token) headers.authorization = `Bearer ${token}`;
  if (body !== undefined) headers['content-type'] = 'application/json';
  const response = await fetch(`${APP}/api${path}`, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  const json = response.status === 204 ? null : await response.json();
  assert.ok(response.ok, `${method} ${path}: ${response.status} ${JSON.stringify(json)}`);
  return json;
}

async function adminToken() {
  if (!adminToken.value) adminToken.value = (await call('/inbox/login', { method: 'POST', body: ADMIN })).token;
  return adminToken.value;
}

// A visitor who starts a conversation and writes once.
async function visitorWrites(text) {
  const started = await call('/widget/conversations', { method: 'POST', body: {} });
  await call(`/widget/conversations/${started.conversation.id}/messages`, { method: 'POST', token: started.visitor_token, body: { body: text } });
  return started.conversation.id;
}

async function adminAnswers(id, { tagId, resolve } = {}) {
  const token = await adminToken();
  await call(`/inbox/conversations/${id}/messages`, { method: 'POST', token, body: { body: 'Happy to help!' } });
  if (tagId) await call(`/inbox/conversations/${id}/tags`, { method: 'POST', token, body: { tag_id: tagId } });
  if (resolve) {
    const { conversation } = await call(`/inbox/conversations/${id}`, { token });
    await call(`/inbox/conversations/${id}/status`, { method: 'POST', token, body: { status: 'resolved', version: conversation.version } });
  }
}

// --- Helpers ------------------------------------------------------------------------------------------

async function newPage({ colorScheme = 'light' } = {}) {
  // The report's days and hours are the browser's time zone: UTC here, like the seeding's clock.
  const context = await browser.newContext({ viewport: { width: 1440, height: 900 }, timezoneId: 'UTC', colorScheme, acceptDownloads: true });
  context.setDefaultTimeout(UI_TIMEOUT_MS);
  await context.addInitScript(() => {
    window.__cspViolations = [];
    document.addEventListener('securitypolicyviolation', (e) => window.__cspViolations.push(`${e.violatedDirective} ${e.blockedURI}`));
  });
  const page = await context.newPage();
  page.errors = [];
  page.on('pageerror', (error) => page.errors.push(String(error)));
  return page;
}

async function signIn(page, who, hash = '') {
  await page.goto(`${APP}/console/${hash}`);
  await page.getByLabel('Email').fill(who.email);
  await page.getByLabel('Password').fill(who.password);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('button', { name: 'Log out' }).waitFor();
}

function nav(page, name) {
  return page.getByRole('navigation', { name: 'Views' }).getByRole('button', { name, exact: true });
}

// The reports view (the inbox's own filters, hidden meanwhile, have labels like "Tag" too).
function view(page) {
  return page.locator('#reports-view');
}

function reportSection(page, name) {
  return page.getByRole('region', { name, exact: true });
}

function tileValue(page, group, label) {
  return page.getByRole('group', { name: group, exact: true }).getByRole('group', { name: label, exact: true }).locator('.kpi-value');
}

async function eventually(read, check, what) {
  const deadline = Date.now() + UI_TIMEOUT_MS;
  let value;
  for (;;) {
    value = await read();
    if (check(value)) return value;
    if (Date.now() > deadline) assert.fail(`${what}: last value ${JSON.stringify(value)}`);
    await new Promise((resolve) => setTimeout(resolve, 150));
  }
}

async function noCspViolations(page) {
  assert.deepEqual(await page.evaluate(() => window.__cspViolations || []), [], 'no CSP violations');
}

async function saveFailureShots(name) {
  await mkdir(ARTIFACTS, { recursive: true });
  await Promise.all(Object.entries(people).map(([who, page]) => page
    && page.screenshot({ path: new URL(`failure-reports-${name}-${who}.png`, ARTIFACTS).pathname, fullPage: true }).catch(() => {})));
}

function step(name, body) {
  return async () => {
    try {
      await body();
    } catch (error) {
      await saveFailureShots(name);
      if (app) console.error(`app output (last 3000 characters):\n${app.log().slice(-3000)}`);
      throw error;
    }
  };
}

// A screenshot of the whole reports page: the view scrolls inside the window, so the window is
// made as tall as the page for the shot.
async function shot(page, file) {
  const height = await page.evaluate(() => document.getElementById('reports-view').scrollHeight + 80);
  const before = page.viewportSize();
  await page.setViewportSize({ width: before.width, height: Math.min(Math.max(height, before.height), 4000) });
  await mkdir(ARTIFACTS, { recursive: true });
  await page.screenshot({ path: new URL(file, ARTIFACTS).pathname });
  await page.setViewportSize(before);
}

// --- Setup ---------------------------------------------------------------------------------------------

before(async () => {
  app = await startApp({ name: 'reports', variables: { admin_email: ADMIN.email, admin_password: ADMIN.password } });
  APP = app.base;
  browser = await chromium.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    args: ['--no-sandbox', '--disable-dev-shm-usage'],
  });

  // An operator, invited by the admin.
  const token = await adminToken();
  const invited = await call('/admin/operators', { method: 'POST', token, body: { email: OPERATOR.email, name: OPERATOR.name, role: 'operator' } });
  const inviteToken = invited.invite_url.split('#invite=')[1];
  await call('/inbox/invites/accept', { method: 'POST', body: { token: decodeURIComponent(inviteToken), password: OPERATOR.password } });

  // Three conversations: two answered and resolved by the admin (one tagged), one waiting.
  world.startedAt = Date.now();
  const tag = await call('/admin/tags', { method: 'POST', token, body: { name: TAG } });
  world.tagId = tag.tag.id;
  const first = await visitorWrites('Where is my parcel?');
  await adminAnswers(first, { tagId: world.tagId, resolve: true });
  const second = await visitorWrites('Can I change my address?');
  await adminAnswers(second, { resolve: true });
  await visitorWrites('Hello, anyone there?');
  world.endedAt = Date.now();
});

after(async () => {
  if (browser) await browser.close();
  if (app) await app.stop();
});

// --- Tests ----------------------------------------------------------------------------------------------

test('an operator has no Reports, and the API refuses them', { timeout: TEST_TIMEOUT_MS }, step('operator', async () => {
  const page = await newPage();
  people.operator = page;
  await signIn(page, OPERATOR, '#reports');
  await nav(page, 'Inbox').waitFor();
  assert.equal(await nav(page, 'Reports').count(), 0, 'no Reports entry for an operator');
  assert.equal(await page.getByRole('heading', { name: 'Reports', level: 1 }).count(), 0, '#reports shows nothing to an operator');
  const status = await page.evaluate(async () => (await fetch('/api/reports/summary')).status);
  assert.equal(status, 403);
  await page.context().close();
  people.operator = null;
}));

test('the admin reads the period’s figures, charts and tables, with definitions and CSV', { timeout: TEST_TIMEOUT_MS }, step('figures', async () => {
  const page = await newPage();
  people.admin = page;
  await signIn(page, ADMIN);
  await nav(page, 'Reports').click();
  await page.getByRole('heading', { name: 'Reports', level: 1 }).waitFor();
  assert.match(page.url(), /#reports$/);

  // Headline figures.
  await eventually(() => tileValue(page, 'Summary', 'Conversations').textContent(), (v) => v === '3', 'conversations tile');
  assert.equal(await tileValue(page, 'Summary', 'Handled by people').textContent(), '67%');
  assert.equal(await tileValue(page, 'Summary', 'First-contact resolution').textContent(), '100%');
  assert.equal(await tileValue(page, 'Summary', 'Transfers').textContent(), '0');
  assert.match(await page.getByRole('group', { name: 'Resolution time', exact: true }).locator('.kpi-detail').textContent(), /over 2 conversations$/);

  // A definition on keyboard focus, as a tooltip that describes its button.
  const help = page.getByRole('button', { name: 'What is First response time?' });
  await help.focus();
  const tip = page.getByRole('tooltip').filter({ hasText: 'to the first reply by a person' });
  await tip.waitFor({ state: 'visible' });
  assert.equal(await help.getAttribute('aria-describedby'), await tip.getAttribute('id'));
  await help.press('Escape');
  await tip.waitFor({ state: 'hidden' });

  // The heatmap's cell for the hour (UTC) the conversations started counts them.
  const started = new Date(world.startedAt);
  const weekday = (started.getUTCDay() + 6) % 7;
  const cell = page.locator(`.heatmap .heat[data-weekday="${weekday}"][data-hour="${started.getUTCHours()}"]`);
  const count = Number(await cell.getAttribute('data-count'));
  const ended = new Date(world.endedAt);
  assert.ok(count >= 1 && (count === 3 || ended.getUTCHours() !== started.getUTCHours()), `the heatmap counts the seeded conversations in their hour: ${count}`);
  assert.equal(await page.locator('.heatmap .heat-is-now').count(), 1, 'the current hour is outlined');
  // The same numbers as a table, shown on demand.
  const traffic = reportSection(page, 'Traffic by weekday and hour');
  const trafficToggle = traffic.getByRole('button', { name: 'Show as table' });
  assert.equal(await trafficToggle.getAttribute('aria-pressed'), 'false');
  await trafficToggle.click();
  assert.equal(await trafficToggle.getAttribute('aria-pressed'), 'true');
  const trafficRow = traffic.getByRole('table').getByRole('row', { name: new RegExp(`^${WEEKDAYS[weekday]}`) });
  await trafficRow.waitFor({ state: 'visible' });
  assert.equal(await trafficRow.getByRole('cell').nth(started.getUTCHours()).textContent(), String(count));

  // Operators: the admin's row.
  const operators = reportSection(page, 'Operators');
  const adminRow = operators.getByRole('row', { name: /^Admin/ });
  await adminRow.waitFor();
  assert.equal(await adminRow.getByRole('cell').first().textContent(), '2', 'two conversations handled');

  // Resolution by tag: the name that looks like markup is text.
  const tags = reportSection(page, 'Resolution time by tag');
  const tagHeader = tags.getByRole('rowheader', { name: TAG, exact: true });
  await tagHeader.waitFor();
  assert.equal(await tags.locator('b').count(), 0, 'no markup from a tag name');

  // Every chart is an image with a summary, a title and a description, and has a table.
  const charts = page.locator('#reports-view svg.chart');
  assert.equal(await charts.count(), 3);
  for (let i = 0; i < 3; i += 1) {
    const chart = charts.nth(i);
    assert.equal(await chart.getAttribute('role'), 'img');
    assert.ok((await chart.getAttribute('aria-label')).length > 20, 'a summary sentence');
    assert.ok(await chart.locator('> title').textContent());
    assert.ok(await chart.locator('> desc').textContent());
    const section = chart.locator('xpath=ancestor::section[1]');
    assert.equal(await section.locator('table caption').count(), 1, 'the chart’s numbers as a table');
  }
  assert.match(await page.locator('#reports-view svg.chart').first().getAttribute('aria-label'), /: 3 in total, 2 resolved/);
  // Every control of the filter bar and the staffing form has a label.
  for (const label of ['Period', 'Team', 'Operator', 'Channel', 'Tag', 'Service level (%)', 'Answered within (seconds)', 'Chats at once', 'Shrinkage (%)', 'Day of the week']) {
    assert.equal(await view(page).getByLabel(label, { exact: true }).count(), 1, `${label} is labelled`);
  }

  // CSV: the operators table downloads as text/csv with its header.
  const link = operators.getByRole('link', { name: 'Download CSV of operators' });
  const href = await link.getAttribute('href');
  assert.match(href, /^\/api\/reports\/operators\?from=\d{4}-\d\d-\d\d&to=\d{4}-\d\d-\d\d&tz=UTC&format=csv$/);
  const [download] = await Promise.all([page.waitForEvent('download'), link.click()]);
  assert.match(download.suggestedFilename(), /^operators-\d{4}-\d\d-\d\d-\d{4}-\d\d-\d\d\.csv$/);
  const csv = await readFile(await download.path(), 'utf8');
  assert.match(csv, /^operator_id,name,conversations,resolved,/);
  assert.match(csv.split('\n')[1], /^1,Admin,2,2,/);
  const response = await page.request.get(`${APP}${href}`);
  assert.equal(response.headers()['content-type'], 'text/csv; charset=utf-8');

  await noCspViolations(page);
  assert.deepEqual(page.errors, []);
}));

test('the staffing plan follows its settings', { timeout: TEST_TIMEOUT_MS }, step('staffing', async () => {
  const page = people.admin;
  assert.ok(page, 'the admin’s page comes from the previous test');
  const staffing = reportSection(page, 'Staffing plan');
  const started = new Date(world.startedAt);
  const weekday = (started.getUTCDay() + 6) % 7;
  await view(page).getByLabel('Day of the week').selectOption(String(weekday));
  const chart = staffing.locator('svg.chart');
  // Default settings: 30% shrinkage rosters 2 people for the 1 needed on chat.
  await eventually(() => chart.getAttribute('aria-label'), (v) => /at most 2 to roster/.test(v), 'the default plan');

  // A bad value is refused with the field named, before anything is sent.
  await view(page).getByLabel('Shrinkage (%)').fill('95');
  await staffing.getByRole('button', { name: 'Update plan' }).click();
  await staffing.getByRole('alert').filter({ hasText: 'Shrinkage: 0 to 90%.' }).waitFor();
  assert.equal(await view(page).getByLabel('Shrinkage (%)').getAttribute('aria-invalid'), 'true');

  // No shrinkage, one chat at once: the chart and the table change, and so does the CSV link.
  await view(page).getByLabel('Shrinkage (%)').fill('0');
  await view(page).getByLabel('Chats at once').fill('1');
  const asked = page.waitForRequest((r) => r.url().includes('/api/reports/staffing?') && new URL(r.url()).searchParams.get('shrinkage') === '0');
  await staffing.getByRole('button', { name: 'Update plan' }).click();
  const request = new URL((await asked).url());
  assert.equal(request.searchParams.get('concurrency'), '1');
  assert.equal(request.searchParams.get('shrinkage'), '0');
  await eventually(() => chart.getAttribute('aria-label'), (v) => /at most 1 to roster/.test(v), 'the plan with no shrinkage');
  const hourRow = staffing.getByRole('table').getByRole('row', { name: new RegExp(`^${String(started.getUTCHours()).padStart(2, '0')}:00`) });
  assert.equal(await hourRow.getByRole('cell').nth(2).textContent(), '1', 'one to roster');
  assert.match(await staffing.getByRole('link', { name: /Download CSV/ }).getAttribute('href'), /concurrency=1&shrinkage=0&format=csv$/);
  assert.deepEqual(page.errors, []);
}));

test('filters narrow the figures and survive a reload', { timeout: TEST_TIMEOUT_MS }, step('filters', async () => {
  const page = people.admin;
  assert.ok(page, 'the admin’s page comes from the previous test');
  await view(page).getByLabel('Channel', { exact: true }).selectOption({ label: 'SMS' });
  await eventually(() => tileValue(page, 'Summary', 'Conversations').textContent(), (v) => v === '0', 'no SMS conversations');
  await reportSection(page, 'Summary').getByText('No conversations in this period.').waitFor();
  assert.match(page.url(), /#reports\?channel=sms$/);
  await page.reload();
  await page.getByRole('heading', { name: 'Reports', level: 1 }).waitFor();
  assert.equal(await view(page).getByLabel('Channel', { exact: true }).inputValue(), 'sms');
  await eventually(() => tileValue(page, 'Summary', 'Conversations').textContent(), (v) => v === '0', 'still SMS after a reload');

  await view(page).getByLabel('Channel', { exact: true }).selectOption({ label: 'All channels' });
  await eventually(() => view(page).getByLabel('Tag', { exact: true }).locator('option').allTextContents(), (v) => v.includes(TAG), 'the tag picker lists the tag');
  await view(page).getByLabel('Tag', { exact: true }).selectOption({ label: TAG });
  await eventually(() => tileValue(page, 'Summary', 'Conversations').textContent(), (v) => v === '1', 'one tagged conversation');
  assert.match(page.url(), new RegExp(`#reports\\?tag=${world.tagId}$`));

  // Custom dates: a day long before any conversation is empty; an impossible range is refused.
  await view(page).getByLabel('Period').selectOption({ label: 'Custom dates' });
  await view(page).getByLabel('From', { exact: true }).fill('2026-02-01');
  await view(page).getByLabel('To', { exact: true }).fill('2026-01-01');
  await page.getByRole('button', { name: 'Apply dates' }).click();
  await page.getByRole('alert').filter({ hasText: 'The first day must not be after the last day.' }).waitFor();
  await view(page).getByLabel('Tag', { exact: true }).selectOption({ label: 'All tags' });
  await view(page).getByLabel('Period').selectOption({ label: 'Last 7 days' });
  await eventually(() => tileValue(page, 'Summary', 'Conversations').textContent(), (v) => v === '3', 'back to everything');
  assert.match(page.url(), /#reports$/);
  assert.deepEqual(page.errors, []);
}));

test('the live panel moves when a visitor writes, without a reload', { timeout: TEST_TIMEOUT_MS }, step('live', async () => {
  const page = people.admin;
  assert.ok(page, 'the admin’s page comes from the previous test');
  await page.evaluate(() => { window.__sameDocument = true; });
  await eventually(() => tileValue(page, 'Right now', 'Waiting now').textContent(), (v) => v === '1', 'one waiting');
  // The longest wait ticks by itself.
  const longest = tileValue(page, 'Right now', 'Longest wait');
  const first = await longest.textContent();
  await eventually(() => longest.textContent(), (v) => v !== first, 'the longest wait ticks');

  // A provider webhook without a signature is refused and counted; the System card shows it
  // with the live panel's next refresh.
  assert.equal(await tileValue(page, 'System', 'Channel webhooks refused (24 h)').textContent(), '0');
  const forged = await fetch(`${APP}/hooks/twilio/sms`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'Body=hi' });
  assert.equal(forged.status, 401);
  await visitorWrites('Is the shop open on Sunday?');
  await eventually(() => tileValue(page, 'Right now', 'Waiting now').textContent(), (v) => v === '2', 'two waiting, live');
  await eventually(() => tileValue(page, 'System', 'Channel webhooks refused (24 h)').textContent(), (v) => v === '1', 'the refused webhook, counted');
  assert.match(await page.getByRole('group', { name: 'Channel webhooks refused (24 h)', exact: true }).locator('.kpi-detail').textContent(), /^twilio 1$/);
  assert.equal(await page.evaluate(() => window.__sameDocument), true, 'no reload');
  // The period's figures come again on demand.
  assert.equal(await tileValue(page, 'Summary', 'Conversations').textContent(), '3');
  await page.getByRole('button', { name: 'Refresh the figures' }).click();
  await eventually(() => tileValue(page, 'Summary', 'Conversations').textContent(), (v) => v === '4', 'refreshed figures');

  // Screenshots, light (with a definition open) and dark.
  await page.getByRole('button', { name: 'What is First-contact resolution?' }).hover();
  await shot(page, 'reports-console.png');
  const dark = await newPage({ colorScheme: 'dark' });
  await signIn(dark, ADMIN, '#reports');
  await eventually(() => tileValue(dark, 'Summary', 'Conversations').textContent(), (v) => v === '4', 'the dark page has the new conversation too');
  await dark.locator('#reports-view svg.chart').nth(2).waitFor();
  await shot(dark, 'reports-console-dark.png');
  await noCspViolations(dark);
  assert.deepEqual(dark.errors, []);
  await dark.context().close();
  assert.deepEqual(page.errors, []);
}));

test('after too many failed sign-ins the console says how long to wait', { timeout: TEST_TIMEOUT_MS }, step('throttle', async () => {
  // An account of its own: ten failures lock it (and count 10 of the address's 30).
  const locked = { email: `locked${RUN}@example.com`, password: 'not the password' };
  for (let n = 0; n < 10; n += 1) {
    const response = await fetch(`${APP}/api/inbox/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(locked) });
    assert.equal(response.status, 401);
  }
  const page = await newPage();
  await page.goto(`${APP}/console/`);
  await page.getByLabel('Email').fill(locked.email);
  await page.getByLabel('Password').fill(locked.password);
  await page.getByRole('button', { name: 'Sign in' }).click();
  const alert = page.locator('#login-error');
  await eventually(() => alert.textContent(), (v) => /^Too many attempts\. Try again in (15 minutes|\d+ seconds|\d+ minutes?)\.$/.test(v), 'the wait, from Retry-After');
  assert.deepEqual(page.errors, []);
  await page.context().close();
}));
