// Browser tests for the widget's embed and JS API (loader.js, bridge.js): commands queued before
// the loader ran are replayed in order, the page's events fire (ready, open, close, message,
// unread, user), hideLauncher/showLauncher, setLocale, setUser with identity verification (a
// verified user's history shows in another browser context, a wrong hash leaves the widget
// anonymous), forged postMessage commands from a foreign-origin iframe are ignored by both the
// loader and the chat frame, and the loader's gzipped size stays under 10 KB.
//
// Starts an app of its own (tools/app.mjs: the bundled test host, or `spin up` when
// LIVECHAT_TEST_RUNTIME=spin) with an `identity_secret`. The host page is served here on
// http://localhost:<port> (another origin than the app), under a strict CSP; the same server
// answers as http://127.0.0.1:<port>, a third origin, for the forging iframe.
//
//   (cd tests/browser && npm ci) && node --test tests/browser/widget-embed.test.mjs
// CHROMIUM overrides the browser binary (default /usr/bin/chromium).

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { createHmac, randomBytes } from 'node:crypto';
import { mkdir } from 'node:fs/promises';
import { gzipSync } from 'node:zlib';
import { chromium } from 'playwright-core';
import { startApp } from './tools/app.mjs';

const ARTIFACTS = new URL('./artifacts/', import.meta.url);
const TEST_TIMEOUT_MS = 240_000;
const UI_TIMEOUT_MS = 45_000;
const RUN = randomBytes(4).toString('hex');
const ADMIN = { email: `admin${RUN}@example.com`, password: `admin password ${RUN}` };
// What the business's server keeps; it signs user ids for the page (as in the README).
const IDENTITY_SECRET = `identity-secret-${RUN}`;
const LOADER_BUDGET_BYTES = 10 * 1024;

let APP;
let app;
let browser;
let pageServer;
let PAGE_ORIGIN;
let FOREIGN_ORIGIN;
let heartbeat;
const people = {};

const signed = (userId) => createHmac('sha256', IDENTITY_SECRET).update(userId).digest('hex');

// --- The business's page -------------------------------------------------------------------------

// `before` is script run right after the stub, before the loader: calls queued there are replayed.
function hostPage(nonce, before, extra = '') {
  return `<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><title>Acme (embedding page)</title></head>
<body>
  <h1>Acme</h1>
  <script nonce="${nonce}">
    window.__events = [];
    window.LiveChat = window.LiveChat || function () { (LiveChat.q = LiveChat.q || []).push(arguments) };
    ['ready', 'open', 'close', 'message', 'unread', 'user'].forEach(function (name) {
      LiveChat('on', name, function (data) { window.__events.push({ name: name, data: data }); });
    });
    LiveChat('init', {});
    ${before}
  </script>
  <script async src="${APP}/widget/loader.js"></script>
  ${extra}
</body>
</html>`;
}

// Posts every forged command it can think of, to the page (the loader) and to each frame of the
// page (the chat frame among them), when the test calls fire().
function foreignPage(nonce) {
  const victimHash = signed('victim');
  return `<!doctype html><html><body><script nonce="${nonce}">
  window.fire = function () {
    var toLoader = [
      { type: 'frame:ready', data: {} },
      { type: 'session:save', data: { session: { token: '${'B'.repeat(43)}', conversationId: 7 } } },
      { type: 'message:received', data: { unread: 5 } },
      { type: 'message:new', data: { author: 'operator' } },
      { type: 'user:identified', data: { verified: true } },
      { type: 'widget:theme', data: { position: 'left', accent: '#ff0000' } },
    ];
    var toFrame = [
      { type: 'widget:open', data: {} },
      { type: 'user:set', data: { id: 'victim', hash: '${victimHash}' } },
      { type: 'attributes:set', data: { attributes: { pwned: true } } },
      { type: 'locale:set', data: { locale: 'de' } },
      { type: 'page:context', data: { url: 'https://evil.example/', session: { token: '${'A'.repeat(43)}', conversationId: 1 }, lang: 'fr' } },
    ];
    toLoader.forEach(function (m) { parent.postMessage(m, '*'); });
    for (var i = 0; i < parent.frames.length; i++) {
      toFrame.forEach(function (m) { try { parent.frames[i].postMessage(m, '*'); } catch (e) {} });
    }
    return parent.frames.length;
  };
</script></body></html>`;
}

function startPageServer() {
  const server = http.createServer((req, res) => {
    const url = new URL(req.url, 'http://localhost');
    const nonce = randomBytes(12).toString('base64');
    let body;
    if (url.pathname === '/queued') {
      body = hostPage(nonce, `
        LiveChat('hideLauncher');
        LiveChat('setLocale', 'es');
        LiveChat('setAttributes', { plan: 'pro' });`);
    } else if (url.pathname === '/user') {
      const id = url.searchParams.get('id');
      const hash = url.searchParams.get('bad') ? signed(`${id}-not`) : signed(id);
      body = hostPage(nonce, `LiveChat('setUser', ${JSON.stringify({ id, hash, name: 'Ann Verified' })});`);
    } else if (url.pathname === '/forged') {
      body = hostPage(nonce, '', `<iframe title="foreign" src="${FOREIGN_ORIGIN}/foreign"></iframe>`);
    } else if (url.pathname === '/foreign') {
      body = foreignPage(nonce);
    } else {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found');
      return;
    }
    res.writeHead(200, {
      'content-type': 'text/html; charset=utf-8',
      'cache-control': 'no-store',
      'content-security-policy': [
        "default-src 'self'",
        `script-src 'nonce-${nonce}' ${APP}`,
        "style-src 'self'",
        `frame-src ${APP} ${FOREIGN_ORIGIN}`,
        "connect-src 'self'",
        "base-uri 'none'",
      ].join('; '),
    });
    res.end(body);
  });
  return new Promise((resolve) => { server.listen(0, '127.0.0.1', () => resolve(server)); });
}

// --- Helpers ----------------------------------------------------------------------------------

async function newPage(name) {
  const context = await browser.newContext({ viewport: { width: 1280, height: 860 } });
  context.setDefaultTimeout(UI_TIMEOUT_MS);
  // In every frame, before its scripts: what the frame's i18n is told (bridge.js's lcw:locale).
  await context.addInitScript(() => {
    window.__locales = [];
    window.addEventListener('lcw:locale', (event) => window.__locales.push(event.detail.locale));
  });
  const page = await context.newPage();
  page.errors = [];
  page.on('pageerror', (error) => page.errors.push(String(error)));
  people[name] = page;
  return page;
}

function step(name, body) {
  return async () => {
    try {
      await body();
    } catch (error) {
      await mkdir(ARTIFACTS, { recursive: true });
      await Promise.all(Object.entries(people).map(([who, page]) => page
        && page.screenshot({ path: new URL(`failure-embed-${name}-${who}.png`, ARTIFACTS).pathname }).catch(() => {})));
      if (app) console.error(`app output (last 4000 characters):\n${app.log().slice(-4000)}`);
      throw error;
    } finally {
      await Promise.all(Object.keys(people).map((who) => people[who].context().close().catch(() => {})));
      for (const who of Object.keys(people)) delete people[who];
    }
  };
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

const events = (page, name) => page.evaluate((n) => window.__events.filter((e) => e.name === n).map((e) => e.data), name);

async function waitForEvent(page, name, count = 1) {
  await page.waitForFunction(([n, c]) => window.__events.filter((e) => e.name === n).length >= c, [name, count]);
  return events(page, name);
}

function chatFrame(page) {
  const frame = page.frames().find((f) => f.url().startsWith(`${APP}/widget/frame.html`));
  assert.ok(frame, 'the chat frame is on the page');
  return frame;
}

// Sends a first message (the composer by id: its label follows the locale); returns the
// conversation id.
async function visitorStarts(page, text) {
  const started = page.waitForResponse((r) => r.url() === `${APP}/api/widget/conversations` && r.request().method() === 'POST');
  started.catch(() => {}); // awaited below; a failure before that is reported by its own step
  const widget = page.frameLocator('#lcw-frame');
  await widget.locator('#message-input').fill(text);
  await widget.locator('#message-input').press('Enter');
  await widget.locator('.msg--visitor').filter({ hasText: text }).locator('.msg-status').waitFor();
  return (await (await started).json()).conversation.id;
}

before(async () => {
  app = await startApp({
    name: 'embed',
    variables: { admin_email: ADMIN.email, admin_password: ADMIN.password, identity_secret: IDENTITY_SECRET },
  });
  APP = app.base;
  pageServer = await startPageServer();
  const port = pageServer.address().port;
  PAGE_ORIGIN = `http://localhost:${port}`;
  FOREIGN_ORIGIN = `http://127.0.0.1:${port}`;
  assert.notEqual(new URL(PAGE_ORIGIN).origin, new URL(APP).origin);
  assert.notEqual(FOREIGN_ORIGIN, new URL(APP).origin, 'the foreign frame is on a third origin');
  browser = await chromium.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    args: ['--no-sandbox', '--disable-dev-shm-usage'],
  });
  // Someone is available, so the widget offers the chat rather than its offline form.
  await adminApi('/inbox/presence', { method: 'POST', body: JSON.stringify({ presence: 'available' }) });
  heartbeat = setInterval(() => {
    adminApi('/inbox/heartbeat', { method: 'POST', body: '{}' }).catch(() => {});
  }, 10_000);
});

after(async () => {
  clearInterval(heartbeat);
  if (browser) await browser.close();
  if (pageServer) await new Promise((resolve) => pageServer.close(resolve));
  if (app) await app.stop();
});

// --- Tests ------------------------------------------------------------------------------------

test('the loader stays under 10 KB gzipped', async () => {
  const response = await fetch(`${APP}/widget/loader.js`);
  assert.equal(response.status, 200);
  const source = Buffer.from(await response.arrayBuffer());
  const gzipped = gzipSync(source, { level: 9 }).length;
  console.log(`loader.js: ${source.length} bytes, ${gzipped} bytes gzipped (budget ${LOADER_BUDGET_BYTES})`);
  assert.ok(gzipped < LOADER_BUDGET_BYTES, `loader.js is ${gzipped} bytes gzipped, over ${LOADER_BUDGET_BYTES}`);
});

test('commands queued before the loader run in order, and the page hears every event', { timeout: TEST_TIMEOUT_MS }, step('queued', async () => {
  const page = await newPage('visitor');
  await page.goto(`${PAGE_ORIGIN}/queued`);
  await waitForEvent(page, 'ready');
  const launcher = page.locator('#lcw-launcher');
  // hideLauncher was queued: the page decides when the launcher shows.
  assert.equal(await launcher.isHidden(), true, 'hidden by the queued hideLauncher');
  await page.evaluate(() => LiveChat('showLauncher'));
  await launcher.waitFor({ state: 'visible' });

  // setLocale('es') reached the frame's i18n.
  const frame = chatFrame(page);
  await frame.waitForFunction(() => window.__locales.includes('es'));

  // open/close by API and by the launcher fire open/close once each.
  await page.evaluate(() => LiveChat('open'));
  await waitForEvent(page, 'open');
  await page.locator('#lcw-frame').waitFor({ state: 'visible' });
  const id = await visitorStarts(page, 'Hola, tengo una pregunta');
  await page.evaluate(() => LiveChat('toggle'));
  await waitForEvent(page, 'close');
  assert.equal(await page.locator('#lcw-frame').isHidden(), true);

  // The queued attributes were attached once the conversation existed.
  const thread = await adminApi(`/inbox/conversations/${id}`);
  let attributes;
  for (let i = 0; i < 50; i += 1) {
    ({ attributes } = (await adminApi(`/inbox/contacts/${thread.conversation.contact.id}`)).contact);
    if (attributes.plan) break;
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  assert.deepEqual(attributes, { plan: 'pro' });

  // An operator's answer while the chat is closed: message (no text), then unread 1.
  await adminApi(`/inbox/conversations/${id}/messages`, { method: 'POST', body: JSON.stringify({ body: 'Claro, dígame.' }) });
  const [message] = await waitForEvent(page, 'message');
  assert.deepEqual(message, { author: 'operator' }, 'the page learns who wrote, never what');
  const unread = await waitForEvent(page, 'unread');
  assert.deepEqual(unread.at(-1), { count: 1 });
  await page.evaluate(() => LiveChat('open'));
  await page.waitForFunction(() => window.__events.some((e) => e.name === 'unread' && e.data.count === 0));

  // off() stops a handler.
  await page.evaluate(() => {
    window.__closes = 0;
    const count = () => { window.__closes += 1; };
    LiveChat('on', 'close', count);
    LiveChat('off', 'close', count);
    LiveChat('close');
  });
  await waitForEvent(page, 'close', 2);
  assert.equal(await page.evaluate(() => window.__closes), 0);
  assert.deepEqual(page.errors, []);
}));

test('a verified user sees their history in another browser; a wrong hash stays anonymous', { timeout: TEST_TIMEOUT_MS }, step('verified', async () => {
  const user = `user-${RUN}`;
  const laptop = await newPage('laptop');
  await laptop.goto(`${PAGE_ORIGIN}/user?id=${user}`);
  const [verdict] = await waitForEvent(laptop, 'user');
  assert.deepEqual(verdict, { verified: true });
  await laptop.evaluate(() => LiveChat('open'));
  // The first conversation is linked to the user once it exists (identify again, with its token).
  const linked = laptop.waitForResponse((r) => r.url() === `${APP}/api/widget/identify`
    && Boolean(r.request().headers().authorization));
  await visitorStarts(laptop, 'Written on my laptop');
  assert.equal((await linked).status(), 200);

  // Another device: a fresh browser context, the same signed-in user.
  const phone = await newPage('phone');
  await phone.goto(`${PAGE_ORIGIN}/user?id=${user}`);
  await phone.evaluate(() => LiveChat('open'));
  const widget = phone.frameLocator('#lcw-frame');
  await widget.locator('.msg--visitor').filter({ hasText: 'Written on my laptop' }).waitFor();

  // Someone else's page claiming the user with a wrong hash: refused, nothing shown.
  const stranger = await newPage('stranger');
  await stranger.goto(`${PAGE_ORIGIN}/user?id=${user}&bad=1`);
  const [refused] = await waitForEvent(stranger, 'user');
  assert.deepEqual(refused, { verified: false, error: 'forbidden' });
  await stranger.evaluate(() => LiveChat('open'));
  const theirs = stranger.frameLocator('#lcw-frame');
  await theirs.locator('#message-input').waitFor();
  assert.equal(await theirs.locator('.msg').count(), 0, 'an anonymous, empty chat');
}));

test('forged postMessage commands from a foreign-origin frame are ignored by the loader and the chat frame', { timeout: TEST_TIMEOUT_MS }, step('forged', async () => {
  const page = await newPage('host');
  const calls = [];
  page.on('request', (r) => { if (r.url().startsWith(`${APP}/api/widget/`)) calls.push(new URL(r.url()).pathname); });
  await page.goto(`${PAGE_ORIGIN}/forged`);
  await waitForEvent(page, 'ready');
  const frame = chatFrame(page);
  const foreign = page.frames().find((f) => f.url().startsWith(`${FOREIGN_ORIGIN}/foreign`));
  assert.ok(foreign, 'the foreign frame loaded');
  const frames = await foreign.evaluate(() => window.fire());
  assert.equal(frames, 2, 'the forger reached both frames of the page');
  // Give every forged message time to be (not) handled, then a real command as a marker.
  await page.waitForTimeout(1500);
  await page.evaluate(() => LiveChat('setLocale', 'es'));
  await frame.waitForFunction(() => window.__locales.length > 0);
  assert.deepEqual(await frame.evaluate(() => window.__locales), ['es'], 'the forged locale:set was dropped');

  const seen = await page.evaluate(() => window.__events.map((e) => e.name));
  assert.deepEqual(seen, ['ready'], 'no open, message, unread or user event from forgeries');
  assert.equal(await page.locator('#lcw-frame').isHidden(), true, 'widget:open from a stranger did not open it');
  assert.equal(await page.locator('#lcw-launcher').getAttribute('aria-label'), 'Open chat', 'no unread badge');
  const launcherSide = await page.locator('#lcw-launcher').evaluate((n) => n.style.getPropertyValue('left'));
  assert.notEqual(launcherSide, '20px', 'no forged theme');
  const stored = await page.evaluate(() => Object.keys(localStorage));
  assert.deepEqual(stored, [], 'no forged session saved in the page');
  assert.deepEqual(calls.filter((p) => /identify|attributes|conversations/.test(p)), [], 'no setUser, attributes or session use');
  assert.deepEqual(page.errors, []);
}));

test('a visitor who has to leave continues by email from the chat, by keyboard', { timeout: TEST_TIMEOUT_MS }, step('continue', async () => {
  const page = await newPage('leaving');
  await page.goto(`${PAGE_ORIGIN}/queued`);
  await page.evaluate(() => { LiveChat('setLocale', 'en'); LiveChat('open'); });
  const widget = page.frameLocator('#lcw-frame');
  // Nothing to continue before the conversation exists.
  await widget.locator('#message-input').waitFor();
  assert.equal(await widget.getByRole('button', { name: 'Continue by email or SMS' }).count(), 0);
  const id = await visitorStarts(page, 'I have to run, can we continue later?');

  await widget.getByRole('button', { name: 'Continue by email or SMS' }).click();
  await widget.getByRole('radio', { name: 'Email' }).waitFor();
  await mkdir(ARTIFACTS, { recursive: true });
  await page.screenshot({ path: new URL('widget-continue.png', ARTIFACTS).pathname });
  // A bad address is refused with the server's words, focus stays in the field.
  await widget.getByLabel('Your email address').fill('not-an-address');
  await page.keyboard.press('Enter');
  await widget.locator('#continue-status').filter({ hasText: /email address/ }).waitFor();
  assert.equal(await widget.getByLabel('Your email address').evaluate((n) => n === document.activeElement), true);
  await widget.getByLabel('Your email address').fill('leaving@example.com');
  await page.keyboard.press('Enter');
  await widget.locator('#continue-status').filter({ hasText: 'we will continue at leaving@example.com' }).waitFor();
  assert.equal(await widget.locator('#continue-status').getAttribute('aria-live'), 'polite');
  // The confirmation joins the conversation, and replies default to email now.
  await widget.locator('.msg').filter({ hasText: 'continued by email' }).waitFor();
  const thread = await adminApi(`/inbox/conversations/${id}`);
  assert.equal(thread.reply.default, 'email');
  assert.equal(thread.conversation.contact.email, 'leaving@example.com');

  // The transcript goes to the address given, and the chat says so.
  await widget.getByRole('button', { name: 'Email me a transcript' }).click();
  await widget.getByLabel('Your email address').fill('leaving@example.com');
  await widget.getByRole('button', { name: 'Send transcript' }).click();
  await widget.locator('#continue-status').filter({ hasText: 'The transcript is on its way to leaving@example.com.' }).waitFor();
  await widget.locator('.msg').filter({ hasText: 'A transcript of this conversation was sent by email.' }).waitFor();
  assert.deepEqual(page.errors, []);
}));
