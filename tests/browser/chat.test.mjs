// Browser tests for the chat widget (embedded on a third-party origin) and the operator console.
//
// Run against an app that is already up:
//   (cd tests/browser && npm ci)
//   LIVECHAT_URL=http://127.0.0.1:3000 LIVECHAT_ADMIN_EMAIL=admin@example.com \
//   LIVECHAT_ADMIN_PASSWORD=... node --test tests/browser/
//
// The widget is embedded in a page served by this file on http://localhost:<random port>, a
// different origin from the app, under a strict CSP (nonce-only scripts, no inline styles), so the
// tests exercise the real cross-origin postMessage path and the loader's CSP-safe styling.
// CHROMIUM overrides the browser binary (default /usr/bin/chromium).

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { randomBytes } from 'node:crypto';
import { mkdir } from 'node:fs/promises';
import { chromium } from 'playwright-core';

const APP = (process.env.LIVECHAT_URL || '').replace(/\/+$/, '');
const ADMIN_EMAIL = process.env.LIVECHAT_ADMIN_EMAIL || '';
const ADMIN_PASSWORD = process.env.LIVECHAT_ADMIN_PASSWORD || '';
// A browser test that silently skips can never fail: missing settings are an error.
if (!APP || !ADMIN_EMAIL || !ADMIN_PASSWORD) {
  throw new Error('set LIVECHAT_URL (the running app), LIVECHAT_ADMIN_EMAIL and LIVECHAT_ADMIN_PASSWORD; tests/run-all does');
}
const NEEDS_APP = false;
const NEEDS_OPERATOR = false;

const TEST_TIMEOUT_MS = 240_000;
const UI_TIMEOUT_MS = 45_000; // the machine is slow; long-poll delivery itself is immediate
const ARTIFACTS = new URL('./artifacts/', import.meta.url);

let browser;
let pageServer;
let PAGE_ORIGIN;

const uid = () => `${Date.now().toString(36)}-${randomBytes(4).toString('hex')}`;

// --- The third-party page ---------------------------------------------------------------------

function hostPage(nonce, snippets) {
  const snippet = `
  <script nonce="${nonce}">
    window.LiveChat = window.LiveChat || function () { (LiveChat.q = LiveChat.q || []).push(arguments) };
    LiveChat('init', {});
  </script>
  <script async src="${APP}/widget/loader.js"></script>`;
  return `<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <title>Acme Bikes (third-party page)</title>
  <script nonce="${nonce}">
    window.__cspViolations = [];
    document.addEventListener('securitypolicyviolation', (e) => {
      window.__cspViolations.push(e.violatedDirective + ' ' + e.blockedURI);
    });
  </script>
</head>
<body>
  <h1>Acme Bikes</h1>
  <p>A shop page on another origin that embeds the chat widget.</p>
  ${snippet.repeat(snippets)}
</body>
</html>`;
}

function startPageServer() {
  const server = http.createServer((req, res) => {
    const url = new URL(req.url, 'http://localhost');
    const snippets = url.pathname === '/twice' ? 2 : url.pathname === '/' ? 1 : 0;
    if (!snippets) {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found');
      return;
    }
    const nonce = randomBytes(12).toString('base64');
    res.writeHead(200, {
      'content-type': 'text/html; charset=utf-8',
      'cache-control': 'no-store',
      // Strict: the loader may only run as a file from APP, and may not inject <style> or style="".
      'content-security-policy': [
        "default-src 'self'",
        `script-src 'nonce-${nonce}' ${APP}`,
        "style-src 'self'",
        `frame-src ${APP}`,
        "img-src 'self'",
        "connect-src 'self'",
        "base-uri 'none'",
      ].join('; '),
    });
    res.end(hostPage(nonce, snippets));
  });
  return new Promise((resolve) => {
    server.listen(0, '127.0.0.1', () => resolve(server));
  });
}

// --- Helpers ----------------------------------------------------------------------------------

async function newPage() {
  const context = await browser.newContext({ viewport: { width: 1280, height: 860 } });
  context.setDefaultTimeout(UI_TIMEOUT_MS);
  const page = await context.newPage();
  page.errors = [];
  page.on('pageerror', (error) => page.errors.push(String(error)));
  return page;
}

async function closeAll(...pages) {
  await Promise.all(pages.filter(Boolean).map((p) => p.context().close().catch(() => {})));
}

async function saveFailureShots(name, pages) {
  await mkdir(ARTIFACTS, { recursive: true });
  await Promise.all(Object.entries(pages).map(([who, page]) => page
    && page.screenshot({ path: new URL(`failure-${name}-${who}.png`, ARTIFACTS).pathname, fullPage: true }).catch(() => {})));
}

// Opens the third-party page and the widget in it; returns the page and the widget's frame locator.
async function openWidget(page, path = '/') {
  await page.goto(`${PAGE_ORIGIN}${path}`);
  await page.getByRole('button', { name: /^Open chat/ }).click();
  const widget = page.frameLocator('iframe[title="Chat"]');
  await widget.getByRole('textbox', { name: 'Message', exact: true }).waitFor();
  return widget;
}

function widgetFrame(page) {
  const frame = page.frames().find((f) => f.url().startsWith(`${APP}/widget/frame.html`));
  assert.ok(frame, 'the widget frame is on the page');
  return frame;
}

async function visitorSends(widget, text) {
  const input = widget.getByRole('textbox', { name: 'Message', exact: true });
  await input.fill(text);
  await input.press('Enter');
  const mine = widget.locator('.msg--visitor').filter({ hasText: text });
  await mine.getByText('Sent', { exact: true }).or(mine.getByText('Read', { exact: true })).waitFor();
  return mine;
}

async function operatorLogsIn(page) {
  await page.goto(`${APP}/console/`);
  await page.getByLabel('Email').fill(ADMIN_EMAIL);
  await page.getByLabel('Password').fill(ADMIN_PASSWORD);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('button', { name: 'Log out' }).waitFor();
}

// The app's own API from Node, for setting the scene (teams, topics, operators) the way an admin
// and an operator would; what the visitor sees is still checked in the real widget.
async function callApi(path, { method = 'GET', token, body } = {}) {
  const headers = { accept: 'application/json' };
  if (token) headers.authorization = `Bearer ${token}`;
  if (body !== undefined) headers['content-type'] = 'application/json';
  const response = await fetch(`${APP}/api${path}`, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  const json = response.status === 204 ? null : await response.json();
  assert.ok(response.ok, `${method} ${path}: ${response.status} ${JSON.stringify(json)}`);
  return json;
}

async function signInApi(email, password) {
  return (await callApi('/inbox/login', { method: 'POST', body: { email, password } })).token;
}

// An operator invited by the admin who accepted at once; returns their id and session token.
async function operatorViaApi(adminToken, name, capacity) {
  const email = `${name.toLowerCase().replace(/[^a-z0-9]+/g, '.')}@example.com`;
  const invited = await callApi('/admin/operators', {
    method: 'POST', token: adminToken, body: { name, email, role: 'operator', capacity },
  });
  const invite = new URL(invited.invite_url).hash.replace(/^#invite=/, '');
  const accepted = await callApi('/inbox/invites/accept', {
    method: 'POST', body: { token: invite, password: `password of ${name}` },
  });
  return { id: accepted.operator.id, token: accepted.token };
}

// A team whose conversations are those that mention `keyword` (a topic routes them there), so
// that what its visitors are told depends on this team alone, whatever else the app holds.
async function teamWithTopic(adminToken, { members = [], priority = 0 } = {}) {
  const suffix = randomBytes(4).toString('hex');
  const { team } = await callApi('/admin/teams', {
    method: 'POST', token: adminToken, body: { name: `Shift ${suffix}`, member_ids: members },
  });
  const keyword = `kw${suffix}`;
  await callApi('/admin/topics', {
    method: 'POST', token: adminToken,
    body: { name: `shift-${suffix}`, label: `Shift ${suffix}`, team_id: team.id, priority, keywords: [keyword], in_picker: false },
  });
  return { team, keyword };
}

function queueLine(widget) {
  return widget.getByRole('status').and(widget.locator('#queue-status'));
}

function conversationRow(console, text) {
  return console.locator('.conv').filter({ hasText: text });
}

function threadLog(console) {
  return console.getByRole('log', { name: 'Messages' });
}

// --- Suite ------------------------------------------------------------------------------------

before(async () => {
  if (NEEDS_APP) return;
  pageServer = await startPageServer();
  PAGE_ORIGIN = `http://localhost:${pageServer.address().port}`;
  assert.notEqual(new URL(PAGE_ORIGIN).origin, new URL(APP).origin, 'the host page must be on another origin');
  browser = await chromium.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    args: ['--headless=new', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
});

after(async () => {
  if (browser) await browser.close();
  if (pageServer) await new Promise((resolve) => pageServer.close(resolve));
});

test('a visitor and an operator chat live: messages, typing, read receipts, unread badge', {
  skip: NEEDS_OPERATOR, timeout: TEST_TIMEOUT_MS,
}, async () => {
  const operator = await newPage();
  const visitor = await newPage();
  try {
    await operatorLogsIn(operator);
    await operator.evaluate(() => { window.__sameDocument = true; });

    const question = `Do you ship to Iceland? ${uid()}`;
    const widget = await openWidget(visitor);
    const mine = await visitorSends(widget, question);

    // The conversation shows up in the operator's list without a reload.
    const row = conversationRow(operator, question);
    await row.waitFor();
    await row.click();
    await threadLog(operator).getByText(question).waitFor();

    // Opening the thread marks the visitor's message read; the widget shows it.
    await mine.getByText('Read', { exact: true }).waitFor();

    // Operator types: the visitor sees the typing indicator.
    const reply = `Yes, we ship everywhere! ${uid()}`;
    const replyBox = operator.getByRole('textbox', { name: 'Reply' });
    await replyBox.pressSequentially(reply.slice(0, 12), { delay: 20 });
    await widget.getByText(/is typing/).waitFor({ state: 'visible' });
    await replyBox.fill(reply);
    await replyBox.press('Enter');

    // The visitor sees the reply live, and (widget open, tab visible) reads it: the operator sees "Read".
    await widget.getByRole('log').getByText(reply).waitFor();
    const opReply = operator.locator('.msg--operator').filter({ hasText: reply });
    await opReply.getByText('Read', { exact: true }).waitFor();

    // Visitor types: the operator sees the typing indicator.
    await widget.getByRole('textbox', { name: 'Message', exact: true }).pressSequentially('Great', { delay: 20 });
    await operator.getByText('Visitor is typing…').waitFor({ state: 'visible' });

    await mkdir(ARTIFACTS, { recursive: true });
    await operator.screenshot({ path: new URL('console.png', ARTIFACTS).pathname });
    await visitor.screenshot({ path: new URL('widget.png', ARTIFACTS).pathname });

    // Widget closed: a new operator message lights up the launcher's unread badge.
    await widget.getByRole('button', { name: 'Close chat' }).click();
    await visitor.getByRole('button', { name: 'Open chat', exact: true }).waitFor();
    const followUp = `Anything else? ${uid()}`;
    await replyBox.fill(followUp);
    await replyBox.press('Enter');
    await visitor.getByRole('button', { name: 'Open chat (1 unread)' }).waitFor();

    assert.equal(await operator.evaluate(() => window.__sameDocument), true, 'the console never reloaded');
    assert.deepEqual(await visitor.evaluate(() => window.__cspViolations), [], 'no CSP violations on the host page');
    assert.deepEqual(visitor.errors, [], 'no script errors on the host page');
    assert.deepEqual(operator.errors, [], 'no script errors in the console');
  } catch (error) {
    await saveFailureShots('live-chat', { operator, visitor });
    throw error;
  } finally {
    await closeAll(operator, visitor);
  }
});

test('message text is shown literally, never as markup, in the widget and the console', {
  skip: NEEDS_OPERATOR, timeout: TEST_TIMEOUT_MS,
}, async () => {
  const operator = await newPage();
  const visitor = await newPage();
  const marker = uid();
  const payload = `<img src=x onerror="window.__pwned=1"><script>window.__pwned=1</script><b>bold</b> ${marker}`;
  try {
    await operatorLogsIn(operator);
    const widget = await openWidget(visitor);
    await visitorSends(widget, payload);

    const widgetBubble = widget.locator('.msg--visitor .bubble').filter({ hasText: '<b>bold</b>' });
    assert.equal(await widgetBubble.textContent(), payload);
    assert.equal(await widgetBubble.locator('b, img, script').count(), 0, 'no elements created in the widget bubble');

    const row = conversationRow(operator, marker);
    await row.waitFor();
    assert.equal(await row.locator('img, b, script').count(), 0, 'no elements created in the list preview');
    await row.click();
    const consoleBubble = threadLog(operator).locator('.bubble').filter({ hasText: '<b>bold</b>' });
    await consoleBubble.waitFor();
    assert.equal(await consoleBubble.textContent(), payload);
    assert.equal(await consoleBubble.locator('b, img, script').count(), 0, 'no elements created in the console bubble');

    assert.equal(await visitor.evaluate(() => window.__pwned), undefined, 'host page untouched');
    assert.equal(await widgetFrame(visitor).evaluate(() => window.__pwned), undefined, 'widget frame untouched');
    assert.equal(await operator.evaluate(() => window.__pwned), undefined, 'console untouched');
  } catch (error) {
    await saveFailureShots('xss', { operator, visitor });
    throw error;
  } finally {
    await closeAll(operator, visitor);
  }
});

test('after a reload of the host page the widget shows the earlier conversation', {
  skip: NEEDS_APP, timeout: TEST_TIMEOUT_MS,
}, async () => {
  const visitor = await newPage();
  try {
    const first = `Hello before reload ${uid()}`;
    const second = `And a second line ${uid()}`;
    let widget = await openWidget(visitor);
    await visitorSends(widget, first);
    await visitorSends(widget, second);

    await visitor.reload();
    widget = await openWidget(visitor);
    const log = widget.getByRole('log');
    await log.getByText(first).waitFor();
    await log.getByText(second).waitFor();
    const texts = await log.locator('.msg--visitor .bubble').allTextContents();
    assert.ok(texts.indexOf(first) < texts.indexOf(second), 'history keeps its order');
    assert.equal(texts.filter((t) => t === first).length, 1, 'history shows each message once');
  } catch (error) {
    await saveFailureShots('reload', { visitor });
    throw error;
  } finally {
    await closeAll(visitor);
  }
});

test('a send whose answer is lost is retried with the same client_id and stored once', {
  skip: NEEDS_APP, timeout: TEST_TIMEOUT_MS,
}, async () => {
  const visitor = await newPage();
  try {
    // The event stream is held back throughout, or it would deliver the stored message and spare
    // the widget its retry.
    await visitor.context().route('**/api/widget/conversations/*/events?*', (route) => route.abort('connectionreset'));
    const widget = await openWidget(visitor);
    await visitorSends(widget, `Hi ${uid()}`); // the conversation exists; now lose one answer

    const text = `Lost answer ${uid()}`;
    const posted = [];
    await visitor.context().route('**/api/widget/conversations/*/messages', async (route) => {
      posted.push(route.request().postDataJSON().client_id);
      if (posted.length === 1) {
        await route.fetch(); // the server stores the message...
        await route.abort('connectionreset'); // ...but the widget never hears back
      } else {
        await route.continue();
      }
    });
    await visitorSends(widget, text);
    assert.ok(posted.length >= 2, 'the widget retried');
    assert.equal(new Set(posted).size, 1, 'every attempt carried the same client_id');
    assert.equal(await widget.locator('.msg--visitor .bubble').filter({ hasText: text }).count(), 1, 'shown once');

    await visitor.context().unrouteAll();
    await visitor.reload();
    const again = await openWidget(visitor);
    await again.getByRole('log').getByText(text).waitFor();
    assert.equal(await again.locator('.msg--visitor .bubble').filter({ hasText: text }).count(), 1, 'stored once');
  } catch (error) {
    await saveFailureShots('retry', { visitor });
    throw error;
  } finally {
    await closeAll(visitor);
  }
});

test('including the embed snippet twice mounts one launcher and one frame', {
  skip: NEEDS_APP, timeout: TEST_TIMEOUT_MS,
}, async () => {
  const visitor = await newPage();
  try {
    // goto waits for the load event, which waits for both async loader scripts to run.
    await visitor.goto(`${PAGE_ORIGIN}/twice`);
    assert.equal(await visitor.locator(`script[src="${APP}/widget/loader.js"]`).count(), 2, 'the page includes the snippet twice');
    await visitor.waitForFunction(() => window.LiveChat && window.LiveChat.loaded === true);
    await visitor.evaluate(() => window.LiveChat('init', {}));

    assert.equal(await visitor.getByRole('button', { name: /^Open chat/ }).count(), 1, 'one launcher');
    assert.equal(await visitor.locator('iframe[title="Chat"]').count(), 1, 'one frame');

    // And that one widget works.
    await visitor.getByRole('button', { name: /^Open chat/ }).click();
    const widget = visitor.frameLocator('iframe[title="Chat"]');
    await widget.getByRole('textbox', { name: 'Message', exact: true }).waitFor();
    assert.equal(await visitor.getByRole('button', { name: 'Close chat' }).count(), 1);
    assert.deepEqual(visitor.errors, []);
  } catch (error) {
    await saveFailureShots('idempotent', { visitor });
    throw error;
  } finally {
    await closeAll(visitor);
  }
});

test('a visitor waiting while nobody is available is told so, politely', {
  skip: NEEDS_APP, timeout: TEST_TIMEOUT_MS,
}, async () => {
  const visitor = await newPage();
  try {
    const admin = await signInApi(ADMIN_EMAIL, ADMIN_PASSWORD);
    const { keyword } = await teamWithTopic(admin); // a team with nobody in it
    const widget = await openWidget(visitor);
    await visitorSends(widget, `Is anyone there? ${keyword}`);

    const line = queueLine(widget);
    await line.filter({ hasText: 'Nobody is available right now — we\'ll reply here as soon as we can.' }).waitFor();
    assert.equal(await line.getAttribute('aria-live'), 'polite');
    assert.deepEqual(visitor.errors, []);
  } catch (error) {
    await saveFailureShots('queue-nobody', { visitor });
    throw error;
  } finally {
    await closeAll(visitor);
  }
});

test('a visitor behind a busy operator sees their place in line and the wait, until they are answered', {
  skip: NEEDS_APP, timeout: TEST_TIMEOUT_MS,
}, async () => {
  const visitor = await newPage();
  const admin = await signInApi(ADMIN_EMAIL, ADMIN_PASSWORD);
  const ann = await operatorViaApi(admin, `Ann ${uid()}`, 1);
  // Urgent: the team's conversations are served before anything else waiting in the app, so Ann's
  // one place goes to the first visitor below.
  const { keyword } = await teamWithTopic(admin, { members: [ann.id], priority: 2 });
  let heartbeat = null;
  try {
    // A first customer is waiting when Ann becomes available: she gets that conversation and is
    // then at her capacity (1).
    const first = await callApi('/widget/conversations', { method: 'POST', body: {} });
    await callApi(`/widget/conversations/${first.conversation.id}/messages`, {
      method: 'POST', token: first.visitor_token, body: { body: `My order is late ${keyword}` },
    });
    await callApi('/inbox/presence', { method: 'POST', token: ann.token, body: { presence: 'available' } });
    // Ann stays online (a console would check in every 30 s).
    heartbeat = setInterval(() => {
      callApi('/inbox/heartbeat', { method: 'POST', token: ann.token, body: {} }).catch(() => {});
    }, 30_000);
    const firstThread = await callApi(`/inbox/conversations/${first.conversation.id}`, { token: ann.token });
    assert.equal(firstThread.conversation.assignee && firstThread.conversation.assignee.id, ann.id, 'the first customer went to Ann');

    // A second customer writes in the widget: next in line behind Ann's one slot.
    const started = visitor.waitForResponse((r) => r.url() === `${APP}/api/widget/conversations` && r.request().method() === 'POST');
    const widget = await openWidget(visitor);
    await visitorSends(widget, `Where is my parcel? ${keyword}`);
    const response = await started;
    const session = await response.json();
    const language = await widgetFrame(visitor).evaluate(() => navigator.language);
    assert.equal(response.request().postDataJSON().language, language, 'the widget sends the browser language');
    const queue = await callApi(`/widget/conversations/${session.conversation.id}/queue`, { token: session.visitor_token });
    assert.equal(queue.waiting, true);
    assert.equal(queue.position, 1);
    assert.equal(queue.available_operators, 1);
    assert.ok(queue.estimated_wait_s > 0, `an estimate: ${JSON.stringify(queue)}`);
    const line = queueLine(widget);
    await line.filter({ hasText: `You're number 1 in line · about ${Math.ceil(queue.estimated_wait_s / 60)} min` }).waitFor();

    // Ann resolves the first conversation: the freed place goes to this visitor, and the line
    // goes away by itself (the widget asks again every 15 s while waiting).
    await callApi(`/inbox/conversations/${first.conversation.id}/status`, {
      method: 'POST', token: ann.token, body: { status: 'resolved', version: firstThread.conversation.version },
    });
    const second = await callApi(`/inbox/conversations/${session.conversation.id}`, { token: ann.token });
    assert.equal(second.conversation.assignee && second.conversation.assignee.id, ann.id, 'the waiting customer went to Ann');
    assert.equal(second.conversation.language, language, 'Ann sees the visitor language');
    await line.filter({ hasText: /in line/ }).waitFor({ state: 'detached' });
    assert.equal(await line.textContent(), '');

    // Ann answers; the visitor sees the answer and no queue line.
    const answer = `On its way! ${uid()}`;
    await callApi(`/inbox/conversations/${session.conversation.id}/messages`, { method: 'POST', token: ann.token, body: { body: answer } });
    await widget.getByRole('log').getByText(answer).waitFor();
    assert.equal(await line.textContent(), '');
    assert.deepEqual(visitor.errors, []);
  } catch (error) {
    await saveFailureShots('queue-position', { visitor });
    throw error;
  } finally {
    clearInterval(heartbeat);
    // Ann leaves, so no later test finds an available operator it did not set up.
    await callApi('/inbox/presence', { method: 'POST', token: ann.token, body: { presence: 'away' } }).catch(() => {});
    await closeAll(visitor);
  }
});
