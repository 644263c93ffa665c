// Browser test for the admin's privacy screens (issue 9): the Audit log lists a failed sign-in
// whose tried "email" is markup (shown as text, never run), filters by action and keeps the CSV
// link in step; Customer data finds a customer by email, exports them as JSON and erases them
// after a confirmation, which the audit log then shows; Retention saves its days and refuses a
// bad value. No serious axe-core violations on the audit and customer screens.
//
// Starts an app of its own (a fresh data directory) like webhooks.test.mjs:
//   (cd tests/browser && npm ci) && node --test tests/browser/privacy.test.mjs
// CHROMIUM overrides the browser binary (default /usr/bin/chromium). Screenshots go to
// tests/browser/artifacts/ (privacy-audit.png, and failure-privacy-*.png on failure).

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdir, readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { chromium } from 'playwright-core';
import { startApp } from './tools/app.mjs';

const require = createRequire(import.meta.url);
const AXE_SOURCE = await readFile(require.resolve('axe-core/axe.min.js'), 'utf8');
const ARTIFACTS = new URL('./artifacts/', import.meta.url);
const TEST_TIMEOUT_MS = 180_000;
const UI_TIMEOUT_MS = 30_000;
const RUN = randomBytes(4).toString('hex');
const ADMIN = { email: `admin${RUN}@example.com`, password: `admin password ${RUN}` };
// Shaped like an address (no spaces), or the audit line would not keep it at all.
const HOSTILE = '<svg/onload=window.__pwned=1>@example.com';
const CUSTOMER = { name: 'Ada <b>Lovelace</b>', email: `ada${RUN}@example.com` };

let app;
let browser;
let page;

async function post(path, body, token) {
  const headers = { 'content-type': 'application/json' };
  if (token) headers.authorization = `Bearer ${token}`;
  const response = await fetch(`${app.base}${path}`, { method: 'POST', headers, body: JSON.stringify(body) });
  return { status: response.status, json: await response.json().catch(() => null) };
}

async function axe(name, selector) {
  await page.evaluate(AXE_SOURCE);
  const result = await page.evaluate(async (include) => {
    const r = await window.axe.run({ include: [include] }, { resultTypes: ['violations'] });
    return r.violations.map((v) => ({ id: v.id, impact: v.impact, nodes: v.nodes.map((n) => n.target.join(' ')).slice(0, 3) }));
  }, selector);
  const serious = result.filter((v) => v.impact === 'serious' || v.impact === 'critical');
  console.log(`axe ${name}: ${result.length} violation(s), ${serious.length} serious or critical${result.length ? ` (${result.map((v) => `${v.id}/${v.impact}`).join(', ')})` : ''}`);
  assert.deepEqual(serious, [], `axe (${name}): no serious or critical violations`);
}

async function section(name) {
  await page.getByRole('navigation', { name: 'Admin sections' }).getByRole('button', { name, exact: true }).click();
}

before(async () => {
  app = await startApp({ name: 'privacy', variables: { admin_email: ADMIN.email, admin_password: ADMIN.password } });
  // A failed sign-in with markup for an email, then a customer with a message.
  const failed = await post('/api/inbox/login', { email: HOSTILE, password: 'wrong password here' });
  assert.equal(failed.status, 401);
  const started = await post('/api/widget/conversations', { name: CUSTOMER.name, email: CUSTOMER.email });
  assert.equal(started.status, 201, JSON.stringify(started.json));
  const said = await fetch(`${app.base}/api/widget/conversations/${started.json.conversation.id}/messages`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${started.json.visitor_token}` },
    body: JSON.stringify({ body: 'please forget me' }),
  });
  assert.equal(said.status, 201);
  browser = await chromium.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    args: ['--no-sandbox', '--disable-dev-shm-usage'],
  });
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  context.setDefaultTimeout(UI_TIMEOUT_MS);
  page = await context.newPage();
  page.errors = [];
  page.on('pageerror', (error) => page.errors.push(String(error)));
  await page.goto(`${app.base}/console/`);
  await page.getByLabel('Email').fill(ADMIN.email);
  await page.getByLabel('Password').fill(ADMIN.password);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('button', { name: 'Log out' }).waitFor();
  await page.getByRole('button', { name: 'Admin', exact: true }).click();
});

after(async () => {
  if (browser) await browser.close();
  if (app) await app.stop();
});

async function guarded(name, work) {
  try {
    await work();
  } catch (error) {
    await mkdir(ARTIFACTS, { recursive: true });
    if (page) await page.screenshot({ path: new URL(`failure-privacy-${name}.png`, ARTIFACTS).pathname, fullPage: true }).catch(() => {});
    if (app) console.error(`app output (last 3000 characters):\n${app.log().slice(-3000)}`);
    throw error;
  }
}

test('the audit log shows a hostile sign-in attempt as text, filters it and offers it as CSV', { timeout: TEST_TIMEOUT_MS }, () => guarded('audit', async () => {
  await section('Audit log');
  await page.getByRole('heading', { name: 'Audit log' }).waitFor();
  assert.match(page.url(), /#admin\/audit$/);
  const grid = page.getByRole('table', { name: 'Audit log, newest first' });
  const failedRow = grid.getByRole('row').filter({ hasText: 'Failed sign-in' });
  await failedRow.getByText(HOSTILE, { exact: false }).waitFor();
  await grid.getByRole('row').filter({ hasText: 'Signed in' }).first().waitFor();
  assert.equal(await page.evaluate(() => window.__pwned), undefined, 'markup in the log never runs');
  assert.equal(await grid.locator('img').count(), 0);

  await page.getByLabel('Action', { exact: true }).selectOption('login.failed');
  await page.getByRole('button', { name: 'Apply' }).click();
  await page.getByRole('status').filter({ hasText: '1 entry shown.' }).waitFor();
  assert.equal(await grid.locator('tbody tr').count(), 1);
  const href = await page.getByRole('link', { name: /Download CSV of the audit log/ }).getAttribute('href');
  assert.match(href, /action=login.failed/);
  assert.match(href, /format=csv/);
  const csv = await page.evaluate(async (url) => (await fetch(url)).text(), href);
  assert.match(csv, /^id,at,actor_id,actor_email,action,target,detail,client_addr/);
  assert.match(csv, /login\.failed/);
  assert.doesNotMatch(csv, /wrong password here/);
  await axe('audit', '#admin-body');
  await mkdir(ARTIFACTS, { recursive: true });
  await page.screenshot({ path: new URL('privacy-audit.png', ARTIFACTS).pathname, fullPage: true }).catch(() => {});
}));

test('an admin finds a customer, exports them and erases them after confirming', { timeout: TEST_TIMEOUT_MS }, () => guarded('customers', async () => {
  await section('Customer data');
  await page.getByRole('heading', { name: 'Customer data' }).waitFor();
  await page.getByRole('button', { name: 'Find' }).click();
  await page.getByRole('alert').filter({ hasText: 'Type part of a name' }).waitFor();
  await page.getByLabel('Name, email or phone').fill(CUSTOMER.email);
  await page.getByRole('button', { name: 'Find' }).click();
  const row = page.getByRole('table', { name: 'Customers found' }).getByRole('row').filter({ hasText: CUSTOMER.email });
  await row.getByRole('cell', { name: CUSTOMER.name, exact: true }).waitFor();
  await axe('customers', '#admin-body');

  const exportLink = row.getByRole('link', { name: /Export JSON of everything about/ });
  const href = await exportLink.getAttribute('href');
  const exported = await page.evaluate(async (url) => {
    const response = await fetch(url);
    return { disposition: response.headers.get('content-disposition'), json: await response.json() };
  }, href);
  assert.match(exported.disposition, /^attachment/);
  assert.equal(exported.json.format_version, 1);
  assert.equal(exported.json.contact.email, CUSTOMER.email);
  assert.equal(exported.json.conversations[0].messages[0].body, 'please forget me');

  // Cancelling changes nothing; confirming erases.
  await row.getByRole('button', { name: /^Erase / }).click();
  const dialog = page.getByRole('dialog', { name: /^Erase / });
  await dialog.getByRole('button', { name: 'Cancel' }).click();
  await dialog.waitFor({ state: 'detached' });
  await row.waitFor();
  await row.getByRole('button', { name: /^Erase / }).click();
  await page.getByRole('dialog', { name: /^Erase / }).getByRole('button', { name: 'Erase for good' }).click();
  await page.getByRole('status').filter({ hasText: /Erased: 1 conversations, [1-9]\d* messages/ }).waitFor();
  await row.waitFor({ state: 'detached' });
  await page.getByRole('button', { name: 'Find' }).click();
  await page.getByRole('status').filter({ hasText: 'No customer matches.' }).waitFor();

  await section('Audit log');
  const grid = page.getByRole('table', { name: 'Audit log, newest first' });
  await grid.getByRole('row').filter({ hasText: 'Customer erased' }).waitFor();
  await grid.getByRole('row').filter({ hasText: 'Customer exported' }).waitFor();
}));

test('retention saves its days and refuses a bad value', { timeout: TEST_TIMEOUT_MS }, () => guarded('retention', async () => {
  await section('Retention');
  await page.getByRole('heading', { name: 'Retention' }).waitFor();
  const conversations = page.getByLabel('Keep resolved conversations (days)');
  assert.equal(await conversations.inputValue(), '0');
  await conversations.fill('-3');
  await page.getByRole('button', { name: 'Save retention' }).click();
  await page.getByRole('alert').filter({ hasText: 'from 0 to 3650' }).waitFor();
  await conversations.fill('30');
  await page.getByLabel('Keep files (days)').fill('90');
  await page.getByRole('button', { name: 'Save retention' }).click();
  await page.getByRole('status').filter({ hasText: /^Saved$/ }).waitFor();
  await page.getByRole('button', { name: 'Purge now' }).click();
  await page.getByRole('status').filter({ hasText: 'Purged 0 conversations and 0 files.' }).waitFor();
  // Shown again from the server.
  await section('Audit log');
  await section('Retention');
  assert.equal(await page.getByLabel('Keep resolved conversations (days)').inputValue(), '30');
  assert.equal(await page.getByLabel('Keep files (days)').inputValue(), '90');
  assert.deepEqual(page.errors, [], 'no script errors');
}));
