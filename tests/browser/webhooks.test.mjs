// Browser test for the admin's Webhooks screen (issue 7): the admin adds an endpoint with event
// checkboxes (a plain-http URL elsewhere is refused with the reason shown), copies its secret,
// sends a test that a receiver on loopback verifies with that secret, reads the delivery in the
// recent deliveries, disables the endpoint, rotates the secret (the next test verifies only
// with the new one) and deletes the endpoint.
//
// Like assistant.test.mjs this file starts an app of its own, because the receiver's loopback
// origin must be the app's webhook_trusted_origin. The app is the bundled test host
// (target/host/spin-test-host, or LIVECHAT_TEST_HOST) or `spin up` when
// LIVECHAT_TEST_RUNTIME=spin, with a fresh data directory deleted afterwards.
//
//   (cd tests/browser && npm ci) && node --test tests/browser/webhooks.test.mjs
// CHROMIUM overrides the browser binary (default /usr/bin/chromium). Screenshots go to
// tests/browser/artifacts/ (webhooks-console.png, and failure-webhooks-*.png on failure).

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { mkdir } from 'node:fs/promises';
import { chromium } from 'playwright-core';
import { startApp } from './tools/app.mjs';

const ARTIFACTS = new URL('./artifacts/', import.meta.url);
const TEST_TIMEOUT_MS = 180_000;
const UI_TIMEOUT_MS = 30_000;
const RUN = randomBytes(4).toString('hex');
const ADMIN = { email: `admin${RUN}@example.com`, password: `admin password ${RUN}` };

let app;
let browser;
let page;
let receiver;
let RECEIVER_ORIGIN;
// What the receiver got, and the secret it checks signatures with (set from the screen).
const inbox = { secret: null, deliveries: [] };

// The receiver's check, written from the README's recipe: HMAC-SHA256 of
// "<Webhook-Timestamp>.<body>" with the secret, hex, compared in constant time with "v1=...".
function verified(headers, body) {
  if (!inbox.secret) return false;
  const timestamp = headers['webhook-timestamp'] || '';
  if (Math.abs(Date.now() / 1000 - Number(timestamp)) > 300) return false;
  const expected = Buffer.from(`v1=${createHmac('sha256', inbox.secret).update(`${timestamp}.${body}`).digest('hex')}`);
  return String(headers['webhook-signature'] || '').split(' ').some((value) => {
    const given = Buffer.from(value);
    return given.length === expected.length && timingSafeEqual(given, expected);
  });
}

function startReceiver() {
  return new Promise((resolve) => {
    const server = http.createServer((request, response) => {
      let body = '';
      request.setEncoding('utf8');
      request.on('data', (chunk) => { body += chunk; });
      request.on('end', () => {
        const ok = verified(request.headers, body);
        inbox.deliveries.push({ path: request.url, id: request.headers['webhook-id'], ok, json: JSON.parse(body || 'null') });
        response.writeHead(ok ? 204 : 401);
        response.end();
      });
    });
    server.listen(0, '127.0.0.1', () => resolve(server));
  });
}

async function signIn() {
  await page.goto(`${app.base}/console/`);
  await page.getByLabel('Email').fill(ADMIN.email);
  await page.getByLabel('Password').fill(ADMIN.password);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('button', { name: 'Log out' }).waitFor();
}

async function saveFailureShot(name) {
  await mkdir(ARTIFACTS, { recursive: true });
  if (page) await page.screenshot({ path: new URL(`failure-webhooks-${name}.png`, ARTIFACTS).pathname, fullPage: true }).catch(() => {});
}

before(async () => {
  receiver = await startReceiver();
  RECEIVER_ORIGIN = `http://127.0.0.1:${receiver.address().port}`;
  app = await startApp({
    name: 'webhooks',
    variables: {
      admin_email: ADMIN.email,
      admin_password: ADMIN.password,
      webhook_trusted_origin: RECEIVER_ORIGIN,
      webhook_timeout_ms: '3000',
    },
  });
  browser = await chromium.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    args: ['--no-sandbox', '--disable-dev-shm-usage'],
  });
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  context.setDefaultTimeout(UI_TIMEOUT_MS);
  await context.addInitScript(() => {
    window.__cspViolations = [];
    document.addEventListener('securitypolicyviolation', (e) => window.__cspViolations.push(`${e.violatedDirective} ${e.blockedURI}`));
  });
  page = await context.newPage();
  page.errors = [];
  page.on('pageerror', (error) => page.errors.push(String(error)));
});

after(async () => {
  if (browser) await browser.close();
  if (app) await app.stop();
  if (receiver) await new Promise((resolve) => receiver.close(resolve));
});

test('the admin adds, tests, disables, re-keys and deletes a webhook endpoint', { timeout: TEST_TIMEOUT_MS }, async () => {
  try {
    await signIn();
    await page.getByRole('button', { name: 'Admin', exact: true }).click();
    await page.getByRole('navigation', { name: 'Admin sections' }).getByRole('button', { name: 'Webhooks', exact: true }).click();
    await page.getByRole('heading', { name: 'Add a webhook endpoint' }).waitFor();
    await page.getByText('No endpoints yet.').waitFor();
    assert.match(page.url(), /#admin\/webhooks$/);

    // Plain http to anywhere but the trusted origin is refused, with the reason.
    const form = page.locator('form.webhook-form');
    await form.getByLabel('URL').fill('http://hooks.example.com/in');
    await form.getByLabel(/Message created/).check();
    await form.getByRole('button', { name: 'Add endpoint' }).click();
    await form.getByRole('alert').filter({ hasText: 'must start with https://' }).waitFor();

    // The receiver on loopback (the trusted origin), for two event types.
    await form.getByLabel('URL').fill(`${RECEIVER_ORIGIN}/crm`);
    await form.getByLabel('Description (optional)').fill('CRM sync');
    await form.getByLabel(/Conversation resolved/).check();
    await form.getByRole('button', { name: 'Add endpoint' }).click();
    const secretField = page.locator('.webhook-created').getByLabel('Signing secret');
    await secretField.waitFor();
    inbox.secret = await secretField.inputValue();
    assert.match(inbox.secret, /^whsec_[0-9a-f]{48}$/);
    const row = page.getByRole('row', { name: /\/crm \(CRM sync\)/ });
    await row.waitFor();
    await row.getByText('conversation.resolved, message.created').waitFor();
    await row.getByText('Enabled').waitFor();

    // Send test: the receiver verifies the signature and answers 204; the screen says so.
    await row.getByRole('button', { name: /Send a test to/ }).click();
    await page.getByRole('status').filter({ hasText: 'Test delivered (HTTP 204)' }).waitFor();
    assert.equal(inbox.deliveries.length, 1);
    assert.equal(inbox.deliveries[0].ok, true, 'signed with the secret the screen showed');
    assert.equal(inbox.deliveries[0].json.type, 'ping');
    assert.equal(inbox.deliveries[0].json.id, inbox.deliveries[0].id);
    await row.getByText('Delivered').waitFor();

    // Recent deliveries.
    await row.getByRole('button', { name: /Deliveries to/ }).click();
    const deliveries = page.getByRole('dialog', { name: /Deliveries to/ });
    const pingRow = deliveries.getByRole('row', { name: /ping/ });
    await pingRow.getByText('Delivered').waitFor();
    await pingRow.getByRole('cell', { name: '204' }).waitFor();
    await deliveries.getByRole('button', { name: 'Close', exact: true }).click();
    await deliveries.waitFor({ state: 'detached' });

    // Disable (confirmed), and the row says so.
    await row.getByRole('button', { name: /^Disable / }).click();
    await page.getByRole('dialog', { name: /Disable / }).getByRole('button', { name: 'Disable', exact: true }).click();
    await row.getByText('Disabled').waitFor();
    await row.getByRole('button', { name: /^Enable / }).waitFor();

    // Rotate the secret: the old one stops verifying, the shown one works.
    await row.getByRole('button', { name: /Show the secret of/ }).click();
    const secretDialog = page.getByRole('dialog', { name: /Secret for/ });
    assert.equal(await secretDialog.getByLabel('Signing secret').inputValue(), inbox.secret);
    await secretDialog.getByRole('button', { name: 'Rotate secret' }).click();
    await page.getByRole('dialog', { name: 'Rotate the secret?' }).getByRole('button', { name: 'Rotate', exact: true }).click();
    await secretDialog.getByText('New secret').waitFor();
    const rotated = await secretDialog.getByLabel('Signing secret').inputValue();
    assert.notEqual(rotated, inbox.secret);
    await secretDialog.getByRole('button', { name: 'Done' }).click();
    await secretDialog.waitFor({ state: 'detached' });

    // With the old secret the receiver refuses the next test (401), which the screen reports.
    await row.getByRole('button', { name: /Send a test to/ }).click();
    await page.getByRole('status').filter({ hasText: /Test not delivered: .*HTTP 401/ }).waitFor();
    inbox.secret = rotated;
    await page.screenshot({ path: new URL('webhooks-console.png', ARTIFACTS).pathname, fullPage: true }).catch(() => {});

    // Delete (confirmed): gone from the list.
    await row.getByRole('button', { name: /^Delete / }).click();
    await page.getByRole('dialog', { name: /Delete / }).getByRole('button', { name: 'Delete', exact: true }).click();
    await page.getByText('No endpoints yet.').waitFor();

    const violations = await page.evaluate(() => window.__cspViolations || []);
    assert.deepEqual(violations, [], 'no CSP violations');
    assert.deepEqual(page.errors, [], 'no script errors');
  } catch (error) {
    await saveFailureShot('admin');
    if (app) console.error(`app output (last 3000 characters):\n${app.log().slice(-3000)}`);
    throw error;
  }
});
