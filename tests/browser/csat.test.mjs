// Browser test for the satisfaction survey (issue 7): the operator resolves a conversation in
// the console; the visitor's widget shows the survey at once (announced in a live region), the
// visitor rates it by keyboard alone (arrow keys over the five labelled choices, Tab to the
// comment and the button) and sees the thanks, which a reload keeps; the console shows
// "Rated 4/5 — …" in the conversation's timeline live. A visitor whose browser speaks German
// gets the survey in German.
//
// Starts an app of its own (tools/app.mjs): resolving conversations and surveys would show in
// the other files' consoles. The app is the bundled test host, or `spin up` when
// LIVECHAT_TEST_RUNTIME=spin.
//
//   (cd tests/browser && npm ci) && node --test tests/browser/csat.test.mjs
// CHROMIUM overrides the browser binary (default /usr/bin/chromium). Screenshots go to
// tests/browser/artifacts/ (csat-widget.png, csat-console.png).

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { randomBytes } from 'node:crypto';
import { mkdir } from 'node:fs/promises';
import { chromium } from 'playwright-core';
import { startApp } from './tools/app.mjs';

const ARTIFACTS = new URL('./artifacts/', import.meta.url);
const TEST_TIMEOUT_MS = 180_000;
const UI_TIMEOUT_MS = 45_000;

const RUN = randomBytes(4).toString('hex');
const ADMIN = { email: `admin${RUN}@example.com`, password: `admin password ${RUN}` };

let APP;
let app;
let browser;
let pageServer;
let PAGE_ORIGIN;
const people = { admin: null, visitor: null };

// A shop's page on another origin with the embed snippet.
function startPageServer() {
  const server = http.createServer((req, res) => {
    if (new URL(req.url, 'http://localhost').pathname !== '/') {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found');
      return;
    }
    const nonce = randomBytes(12).toString('base64');
    res.writeHead(200, {
      'content-type': 'text/html; charset=utf-8',
      'cache-control': 'no-store',
      'content-security-policy': `default-src 'self'; script-src 'nonce-${nonce}' ${APP}; style-src 'self'; frame-src ${APP}; img-src 'self'; connect-src 'self'; base-uri 'none'`,
    });
    res.end(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Acme Outdoor</title></head>
<body><h1>Acme Outdoor</h1>
<script nonce="${nonce}">
  window.LiveChat = window.LiveChat || function () { (LiveChat.q = LiveChat.q || []).push(arguments) };
  LiveChat('init', {});
</script>
<script async src="${APP}/widget/loader.js"></script>
</body></html>`);
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(server)));
}

async function newPage({ locale = 'en-US' } = {}) {
  const context = await browser.newContext({ viewport: { width: 1280, height: 860 }, locale });
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

function widgetOf(page) {
  return page.frameLocator('iframe[title="Chat"]');
}

async function openWidget(page) {
  await page.goto(`${PAGE_ORIGIN}/`);
  await page.getByRole('button', { name: /^Open chat/ }).click();
  return widgetOf(page);
}

// Sends a first message and returns the conversation's id.
async function visitorStarts(page, widget, text) {
  const started = page.waitForResponse((r) => r.url() === `${APP}/api/widget/conversations` && r.request().method() === 'POST');
  // The composer by id: its label is in the visitor's language (Message, Nachricht...).
  const input = widget.locator('#message-input');
  await input.fill(text);
  await input.press('Enter');
  // Acknowledged: its status (the words are in the visitor's language, so by its state).
  await widget.locator('.msg--visitor').filter({ hasText: text }).locator('.msg-status[data-status="sent"], .msg-status[data-status="read"]').first().waitFor();
  return (await (await started).json()).conversation.id;
}

async function adminApi(path, options = {}) {
  if (!adminApi.token) {
    const response = await fetch(`${APP}/api/inbox/login`, {
      method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(ADMIN),
    });
    adminApi.token = (await response.json()).token;
  }
  const response = await fetch(`${APP}/api${path}`, {
    ...options,
    headers: { authorization: `Bearer ${adminApi.token}`, accept: 'application/json', ...(options.body ? { 'content-type': 'application/json' } : {}) },
  });
  const json = response.status === 204 ? null : await response.json();
  assert.ok(response.ok, `${path}: ${response.status} ${JSON.stringify(json)}`);
  return json;
}

async function noCspViolations(page) {
  const violations = [];
  for (const frame of page.frames()) {
    violations.push(...(await frame.evaluate(() => window.__cspViolations || []).catch(() => [])));
  }
  assert.deepEqual(violations, [], 'no CSP violations');
}

function step(name, body) {
  return async () => {
    try {
      await body();
    } catch (error) {
      await mkdir(ARTIFACTS, { recursive: true });
      await Promise.all(Object.entries(people).map(([who, page]) => page
        && page.screenshot({ path: new URL(`failure-csat-${name}-${who}.png`, ARTIFACTS).pathname, fullPage: true }).catch(() => {})));
      if (app) console.error(`app output (last 4000 characters):\n${app.log().slice(-4000)}`);
      throw error;
    }
  };
}

before(async () => {
  app = await startApp({
    name: 'csat',
    variables: { admin_email: ADMIN.email, admin_password: ADMIN.password, business_name: 'Acme Outdoor' },
  });
  APP = app.base;
  pageServer = await startPageServer();
  PAGE_ORIGIN = `http://localhost:${pageServer.address().port}`;
  browser = await chromium.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    args: ['--no-sandbox', '--disable-dev-shm-usage'],
  });
});

after(async () => {
  if (browser) await browser.close();
  if (pageServer) await new Promise((resolve) => pageServer.close(resolve));
  if (app) await app.stop();
});

test('resolved in the console, rated by keyboard in the widget, the rating shows in the console live', { timeout: TEST_TIMEOUT_MS }, step('rate', async () => {
  const admin = await newPage();
  people.admin = admin;
  await admin.goto(`${APP}/console/`);
  await admin.getByLabel('Email').fill(ADMIN.email);
  await admin.getByLabel('Password').fill(ADMIN.password);
  await admin.getByRole('button', { name: 'Sign in' }).click();
  await admin.getByRole('button', { name: 'Log out' }).waitFor();

  const visitor = await newPage();
  people.visitor = visitor;
  const widget = await openWidget(visitor);
  const id = await visitorStarts(visitor, widget, 'My tent pole snapped on the first night');
  // No survey while the conversation is going.
  assert.equal(await widget.locator('#csat').isHidden(), true);

  // The operator answers and resolves it in the console.
  await admin.locator(`.conv[data-id="${id}"]`).click();
  const composer = admin.getByRole('textbox', { name: /^Reply/ });
  await composer.fill('A new pole is on its way, free of charge.');
  await composer.press('Enter');
  await widget.locator('.msg--operator').filter({ hasText: 'A new pole is on its way' }).waitFor();
  // The reply assigned it (a new version); resolve once the console has loaded that.
  await admin.getByText(/Assigned to you/).first().waitFor();
  await admin.getByRole('button', { name: 'Resolve', exact: true }).click();

  // The widget asks at once, announced politely, with five labelled choices.
  const survey = widget.getByRole('group', { name: 'How did we do?' });
  await survey.waitFor();
  await widget.locator('#csat-status').filter({ hasText: 'How did we do? Rate this conversation below.' }).waitFor();
  assert.equal(await widget.locator('#csat-status').getAttribute('aria-live'), 'polite');
  const names = await survey.getByRole('radio').evaluateAll((nodes) => nodes.map((n) => n.getAttribute('aria-label')));
  assert.deepEqual(names, ['1 – Poor', '2 – Fair', '3 – Okay', '4 – Good', '5 – Great']);

  // Sending without a choice says what is missing.
  await widget.getByRole('button', { name: 'Send rating' }).click();
  await widget.locator('#csat-status').filter({ hasText: 'Choose a rating from 1 to 5.' }).waitFor();

  // Keyboard only: the first choice has focus after the refusal; arrows move to 4, Tab to the
  // comment, Tab to the button, Enter sends.
  assert.equal(await survey.getByRole('radio', { name: '1 – Poor' }).evaluate((n) => n === document.activeElement), true);
  for (let i = 0; i < 3; i += 1) await visitor.keyboard.press('ArrowRight');
  assert.equal(await survey.getByRole('radio', { name: '4 – Good' }).isChecked(), true);
  await visitor.keyboard.press('Tab');
  await visitor.keyboard.type('Quick and kind <b>thanks</b>');
  await visitor.keyboard.press('Tab');
  const sent = visitor.waitForResponse((r) => r.url().endsWith(`/api/widget/conversations/${id}/csat`));
  await visitor.keyboard.press('Enter');
  assert.equal((await sent).status(), 201);
  const thanks = widget.getByText('Thanks for your feedback!');
  await thanks.waitFor();
  assert.equal(await thanks.evaluate((n) => n === document.activeElement), true, 'focus moves to the thanks');
  assert.equal(await widget.getByRole('group', { name: 'How did we do?' }).isVisible(), false);

  // The console shows the rating live in the conversation's timeline, as text.
  const entry = admin.locator('.tl-event[data-kind="csat.received"]');
  await entry.filter({ hasText: 'Rated 4/5 — Quick and kind <b>thanks</b>' }).waitFor();
  assert.equal(await entry.locator('b').count(), 0, 'the comment is text, not markup');

  await mkdir(ARTIFACTS, { recursive: true });
  await visitor.screenshot({ path: new URL('csat-widget.png', ARTIFACTS).pathname });
  await admin.screenshot({ path: new URL('csat-console.png', ARTIFACTS).pathname });

  const thread = await adminApi(`/inbox/conversations/${id}`);
  const rating = thread.timeline.find((e) => e.kind === 'csat.received');
  assert.deepEqual(rating.data, { rating: 4, comment: 'Quick and kind <b>thanks</b>', channel: 'web', operator_id: thread.conversation.assignee.id });

  // A reload keeps the thanks, not the question.
  await visitor.reload();
  await visitor.getByRole('button', { name: /^Open chat/ }).click();
  await widget.getByText('Thanks for your feedback!').waitFor();
  assert.equal(await widget.getByRole('group', { name: 'How did we do?' }).isVisible(), false);

  assert.deepEqual(admin.errors, []);
  assert.deepEqual(visitor.errors, []);
  await noCspViolations(visitor);
  await noCspViolations(admin);
}));

test('a visitor whose browser speaks German is asked in German, and the prompt survives a reload', { timeout: TEST_TIMEOUT_MS }, step('german', async () => {
  const visitor = await newPage({ locale: 'de-DE' });
  const widget = await openWidget(visitor);
  const id = await visitorStarts(visitor, widget, 'Wo ist meine Bestellung?');
  const { conversation } = await adminApi(`/inbox/conversations/${id}`);
  await adminApi(`/inbox/conversations/${id}/status`, { method: 'POST', body: JSON.stringify({ status: 'resolved', version: conversation.version }) });
  const survey = widget.getByRole('group', { name: 'Wie waren wir?' });
  await survey.waitFor();
  await survey.getByRole('radio', { name: '5 – Sehr gut' }).waitFor();
  await widget.getByRole('button', { name: 'Bewertung senden' }).waitFor();
  await visitor.reload();
  await visitor.getByRole('button', { name: /^Open chat/ }).click();
  await widget.getByRole('group', { name: 'Wie waren wir?' }).waitFor();
  await widget.getByRole('radio', { name: '2 – Mäßig' }).check();
  await widget.getByRole('button', { name: 'Bewertung senden' }).click();
  await widget.getByText('Danke für Ihr Feedback!').waitFor();
  assert.deepEqual(visitor.errors, []);
}));
