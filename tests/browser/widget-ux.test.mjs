// Browser tests for the widget's look and feel (issue 8): admins' theming through the settings
// API, the pre-chat and offline forms, links and emoji, languages, dark mode and a phone-sized
// screen, an automated accessibility audit (axe-core: no serious or critical violations), a
// hostile host page with a strict CSP of its own, continuity across tabs, and how many
// requests the widget makes while hidden. Screenshots go to tests/browser/artifacts/widget-*.png.
//
// Starts its own app (tools/app.mjs) because it changes the widget's settings.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { randomBytes } from 'node:crypto';
import { mkdir, readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { chromium } from 'playwright-core';
import { startApp } from './tools/app.mjs';

const require = createRequire(import.meta.url);
const AXE_SOURCE = await readFile(require.resolve('axe-core/axe.min.js'), 'utf8');
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
const pages = [];

// Host pages on another origin, each with a strict CSP of its own (nonce-only scripts, styles
// only from <style nonce>), so the loader's CSP-safe styling and the cross-origin frame are
// what is tested. /hostile adds CSS that tries to break or hide everything.
const HOSTILE_CSS = `
  * { all: unset !important; }
  html { font-size: 40px !important; font-family: "Comic Sans MS", cursive !important; }
  iframe { display: none !important; width: 0 !important; height: 0 !important; opacity: 0 !important; }
  button { display: none !important; transform: scale(0) !important; }
  div { position: fixed !important; top: 0; left: 0; }
  * { color: red !important; line-height: 5 !important; }
`;

function hostPage({ nonce, lang, hostile }) {
  return `<!doctype html>
<html lang="${lang}">
<head>
  <meta charset="utf-8">
  <meta name="viewport" content="width=device-width, initial-scale=1">
  <title>Acme Outdoor</title>
  ${hostile ? `<style nonce="${nonce}">${HOSTILE_CSS}</style>` : ''}
  <script nonce="${nonce}">
    window.__cspViolations = [];
    document.addEventListener('securitypolicyviolation', (e) => window.__cspViolations.push(e.violatedDirective + ' ' + e.blockedURI));
  </script>
</head>
<body>
  <main>
    <h1>Acme Outdoor</h1>
    <div id="host-box">Tents, stoves and sleeping bags.</div>
  </main>
  <script nonce="${nonce}">
    window.LiveChat = window.LiveChat || function () { (LiveChat.q = LiveChat.q || []).push(arguments) };
    LiveChat('init', {});
  </script>
  <script async src="${APP}/widget/loader.js"></script>
</body>
</html>`;
}

function startPageServer() {
  const server = http.createServer((req, res) => {
    const { pathname } = new URL(req.url, 'http://localhost');
    const known = { '/': { lang: 'en' }, '/hostile': { lang: 'en', hostile: true }, '/es': { lang: 'es' } }[pathname];
    if (!known) {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found');
      return;
    }
    const nonce = randomBytes(12).toString('base64');
    res.writeHead(200, {
      'content-type': 'text/html; charset=utf-8',
      'cache-control': 'no-store',
      'content-security-policy': `default-src 'none'; script-src 'nonce-${nonce}' ${APP}; style-src 'nonce-${nonce}'; frame-src ${APP}; img-src 'self'; connect-src 'self'; base-uri 'none'; form-action 'none'`,
    });
    res.end(hostPage({ nonce, ...known }));
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(server)));
}

async function newContext(options = {}) {
  const context = await browser.newContext({ viewport: { width: 1280, height: 860 }, locale: 'en-US', ...options });
  context.setDefaultTimeout(UI_TIMEOUT_MS);
  return context;
}

async function newPage(context) {
  const page = await (context || await newContext()).newPage();
  page.errors = [];
  page.on('pageerror', (error) => page.errors.push(String(error)));
  pages.push(page);
  return page;
}

const widgetOf = (page) => page.frameLocator('#lcw-frame');
const frameOf = (page) => page.frames().find((f) => f.url().startsWith(`${APP}/widget/frame.html`));

async function openWidget(page, path = '/') {
  await page.goto(`${PAGE_ORIGIN}${path}`);
  await page.locator('#lcw-launcher').click();
  const widget = widgetOf(page);
  await widget.locator('.chat').waitFor();
  return widget;
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
  return { status: response.status, json };
}

async function setWidget(patch) {
  const { status, json } = await adminApi('/admin/widget', { method: 'PATCH', body: JSON.stringify(patch) });
  assert.equal(status, 200, JSON.stringify(json));
  return json.widget;
}

const DEFAULTS = {
  prechat_name: 'off', prechat_email: 'off', prechat_topic: 'off', offline_form: false,
  accent_color: '#0f766e', position: 'left', color_scheme: 'auto', greeting: '', business_name: 'Acme Outdoor',
};

// axe-core in the page or the widget frame. Evaluated through the DevTools protocol, which the
// frame's and the page's CSP do not apply to (a <script> tag would be refused, rightly).
async function audit(frame, name, include) {
  await frame.evaluate(AXE_SOURCE);
  const result = await frame.evaluate(async (selector) => {
    const context = selector ? { include: [selector] } : document;
    const r = await window.axe.run(context, { resultTypes: ['violations'] });
    return r.violations.map((v) => ({ id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.map((n) => n.target.join(' ')).slice(0, 3) }));
  }, include || null);
  const serious = result.filter((v) => v.impact === 'serious' || v.impact === 'critical');
  console.log(`axe ${name}: ${result.length} violation(s) in all, ${serious.length} serious or critical${result.length ? ` (${result.map((v) => `${v.id}/${v.impact}`).join(', ')})` : ''}`);
  assert.deepEqual(serious, [], `axe (${name}): no serious or critical violations`);
}

async function shot(page, name) {
  await mkdir(ARTIFACTS, { recursive: true });
  await page.screenshot({ path: new URL(`widget-${name}.png`, ARTIFACTS).pathname });
}

async function noCspViolations(page) {
  const violations = [];
  for (const frame of page.frames()) violations.push(...(await frame.evaluate(() => window.__cspViolations || []).catch(() => [])));
  assert.deepEqual(violations, [], 'no CSP violations');
}

function step(name, body) {
  return async () => {
    try {
      await body();
    } catch (error) {
      await mkdir(ARTIFACTS, { recursive: true });
      await Promise.all(pages.map((page, i) => page.screenshot({ path: new URL(`failure-widget-ux-${name}-${i}.png`, ARTIFACTS).pathname }).catch(() => {})));
      if (app) console.error(`app output (last 3000 characters):\n${app.log().slice(-3000)}`);
      throw error;
    } finally {
      for (const page of pages.splice(0)) await page.context().close().catch(() => {});
    }
  };
}

before(async () => {
  app = await startApp({ name: 'widget-ux', variables: { admin_email: ADMIN.email, admin_password: ADMIN.password, business_name: 'Support' } });
  APP = app.base;
  pageServer = await startPageServer();
  PAGE_ORIGIN = `http://localhost:${pageServer.address().port}`;
  browser = await chromium.launch({ executablePath: process.env.CHROMIUM || '/usr/bin/chromium', args: ['--no-sandbox', '--disable-dev-shm-usage'] });
});

after(async () => {
  if (browser) await browser.close();
  if (pageServer) await new Promise((resolve) => pageServer.close(resolve));
  if (app) await app.stop();
});

test('admins set the widget look through the API; a colour white text cannot be read on is refused', { timeout: TEST_TIMEOUT_MS }, step('settings', async () => {
  const refused = await adminApi('/admin/widget', { method: 'PATCH', body: JSON.stringify({ accent_color: '#ffeb3b' }) });
  assert.equal(refused.status, 400);
  assert.equal(refused.json.error.code, 'invalid_input');
  assert.match(refused.json.error.message, /accent_color.*contrast/);
  const bad = await adminApi('/admin/widget', { method: 'PATCH', body: JSON.stringify({ position: 'top' }) });
  assert.equal(bad.status, 400);
  const saved = await setWidget({ ...DEFAULTS, greeting: 'Hi! Questions about gear? Ask away.' });
  assert.equal(saved.accent_color, '#0f766e');
  assert.equal(saved.position, 'left');
  const config = await (await fetch(`${APP}/api/widget/config`)).json();
  assert.equal(config.business_name, 'Acme Outdoor');
  assert.equal(config.greeting, 'Hi! Questions about gear? Ask away.');
  assert.equal(config.accent_color, '#0f766e');
  assert.equal(config.availability.available_operators, 0);
  assert.equal(config.availability.open, true);
  // Operators cannot change it.
  const anonymous = await fetch(`${APP}/api/admin/widget`);
  assert.equal(anonymous.status, 401);
}));

test('closed and open: themed, on the left, keyboard-operable, links and emoji, no serious axe violations', { timeout: TEST_TIMEOUT_MS }, step('open', async () => {
  await setWidget({ ...DEFAULTS, greeting: 'Hi! Questions about gear? Ask away.' });
  const page = await newPage();
  await page.goto(`${PAGE_ORIGIN}/`);
  const launcher = page.locator('#lcw-launcher');
  await launcher.waitFor();
  // The frame tells the loader the admins' side and colour.
  await page.waitForFunction(() => {
    const b = document.getElementById('lcw-launcher');
    return b && getComputedStyle(b).left === '20px' && getComputedStyle(b).backgroundColor === 'rgb(15, 118, 110)';
  });
  await audit(page.mainFrame(), 'closed launcher page');
  await shot(page, 'closed');

  // Keyboard: Tab reaches the launcher, Enter opens, focus goes into the chat.
  await launcher.focus();
  await page.keyboard.press('Enter');
  const widget = widgetOf(page);
  const input = widget.getByRole('textbox', { name: 'Message', exact: true });
  await expectFocused(input);
  await widget.getByText('Hi! Questions about gear? Ask away.').waitFor();
  assert.equal(await widget.locator('#business-name').textContent(), 'Acme Outdoor');
  await audit(frameOf(page), 'open chat');

  // Emoji by keyboard: open the picker, arrow to the third, Enter inserts it at the caret.
  await input.fill('Thanks ');
  await widget.getByRole('button', { name: 'Insert emoji' }).focus();
  await page.keyboard.press('Enter');
  await page.keyboard.press('ArrowRight');
  await page.keyboard.press('ArrowRight');
  await page.keyboard.press('Enter');
  assert.equal(await input.inputValue(), 'Thanks 😊');
  await expectFocused(input);
  // Escape in the picker closes only the picker.
  await widget.getByRole('button', { name: 'Insert emoji' }).click();
  await page.keyboard.press('Escape');
  assert.equal(await widget.locator('#emoji-panel').isHidden(), true);
  assert.equal(await page.locator('#lcw-frame').isVisible(), true, 'the chat stays open');

  // Links: http(s) become links that cannot reach back; anything else stays text.
  await input.fill('See https://example.com/tents?size=2. Also javascript:alert(1) and <b>bold</b>');
  await input.press('Enter');
  const mine = widget.locator('.msg--visitor').last();
  await mine.getByText(/Sent|Read/).waitFor();
  const links = await mine.locator('.bubble a').evaluateAll((nodes) => nodes.map((a) => ({ href: a.href, rel: a.rel, target: a.target, text: a.textContent })));
  assert.deepEqual(links, [{ href: 'https://example.com/tents?size=2', rel: 'noopener noreferrer', target: '_blank', text: 'https://example.com/tents?size=2' }]);
  assert.equal(await mine.locator('.bubble b').count(), 0, 'markup stays text');
  assert.match(await mine.locator('.bubble').textContent(), /javascript:alert\(1\) and <b>bold<\/b>/);
  await shot(page, 'open');
  await audit(frameOf(page), 'open chat with messages');

  // A second tab of the same site shows the same conversation.
  const second = await newPage(page.context());
  const again = await openWidget(second);
  await again.locator('.msg--visitor').filter({ hasText: 'example.com/tents' }).waitFor();
  await noCspViolations(page);
  assert.deepEqual(page.errors, []);
}));

async function expectFocused(locator) {
  for (let i = 0; i < 50; i += 1) {
    if (await locator.evaluate((n) => n === document.activeElement && document.hasFocus())) return;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  assert.fail('expected focus');
}

test('pre-chat form: required name, optional email, topic picker; its answers go into the start request', { timeout: TEST_TIMEOUT_MS }, step('prechat', async () => {
  const topic = await adminApi('/admin/topics', { method: 'POST', body: JSON.stringify({ name: 'returns', label: 'Returns & refunds', in_picker: true, keywords: [] }) });
  assert.ok(topic.status === 201 || topic.status === 200, JSON.stringify(topic.json));
  await setWidget({ ...DEFAULTS, prechat_name: 'required', prechat_email: 'optional', prechat_topic: 'optional' });
  const page = await newPage();
  const widget = await openWidget(page);
  const form = widget.getByRole('region', { name: 'Before we start' });
  await form.waitFor();
  assert.equal(await widget.locator('#composer').isHidden(), true, 'no composer before the form');
  await audit(frameOf(page), 'pre-chat form');
  await shot(page, 'prechat');

  // Nothing filled in: the required name is named, marked invalid and focused.
  await widget.getByRole('button', { name: 'Start chat' }).click();
  const name = widget.getByRole('textbox', { name: 'Name' });
  assert.equal(await name.getAttribute('aria-invalid'), 'true');
  await widget.getByText('Please fill in Name.').first().waitFor();
  await expectFocused(name);
  await name.fill('Dana Scully');
  await widget.getByRole('textbox', { name: /Email/ }).fill('not-an-email');
  await widget.getByRole('button', { name: 'Start chat' }).click();
  await widget.getByText('Enter an email address like name@example.com.').first().waitFor();
  await widget.getByRole('textbox', { name: /Email/ }).fill('dana@example.com');
  await widget.getByRole('combobox', { name: /Topic/ }).selectOption({ label: 'Returns & refunds' });
  await widget.getByRole('button', { name: 'Start chat' }).click();

  const input = widget.getByRole('textbox', { name: 'Message', exact: true });
  await expectFocused(input);
  const started = page.waitForRequest((r) => r.url() === `${APP}/api/widget/conversations` && r.method() === 'POST');
  await input.fill('I want to return a stove');
  await input.press('Enter');
  const body = (await started).postDataJSON();
  assert.equal(body.name, 'Dana Scully');
  assert.equal(body.email, 'dana@example.com');
  assert.equal(body.topic, 'returns');
  await widget.locator('.msg--visitor').filter({ hasText: 'I want to return a stove' }).getByText(/Sent|Read/).waitFor();
  assert.deepEqual(page.errors, []);
}));

test('offline: says nobody is there, leaves a message with a validated email and phone that the conversation carries', { timeout: TEST_TIMEOUT_MS }, step('offline', async () => {
  await setWidget({ ...DEFAULTS, offline_form: true });
  const page = await newPage();
  const widget = await openWidget(page);
  await widget.getByRole('region', { name: 'We’re away right now' }).waitFor();
  await widget.getByText(/Nobody from our team is available right now/).waitFor();
  await audit(frameOf(page), 'offline form');
  await shot(page, 'offline');

  const send = widget.getByRole('button', { name: 'Leave a message' });
  await send.click();
  await widget.getByText('Enter an email address or a phone number so we can reply.').first().waitFor();
  await widget.getByRole('textbox', { name: /Phone/ }).fill('555-1234');
  await widget.getByRole('textbox', { name: /Your message/ }).fill('Do you ship to Norway?');
  await send.click();
  await widget.getByText('Enter an international number like +14155550100.').first().waitFor();
  await widget.getByRole('textbox', { name: /Phone/ }).fill('+47 412 34 567');
  await widget.getByRole('textbox', { name: /Email/ }).fill('ola@example.no');
  const started = page.waitForResponse((r) => r.url() === `${APP}/api/widget/conversations` && r.request().method() === 'POST');
  await send.click();
  const response = await started;
  assert.equal(response.status(), 201);
  const body = response.request().postDataJSON();
  assert.equal(body.email, 'ola@example.no');
  assert.equal(body.phone, '+4741234567');
  await widget.locator('.msg--visitor').filter({ hasText: 'Do you ship to Norway?' }).getByText(/Sent|Read/).waitFor();
  await widget.getByText(/Your message is with us/).waitFor();
  // Operators see the contact details to answer by email or SMS.
  const id = (await response.json()).conversation.id;
  const conversation = await adminApi(`/inbox/conversations/${id}`);
  const text = JSON.stringify(conversation.json);
  assert.match(text, /ola@example\.no/);
  assert.match(text, /\+4741234567/);
  assert.deepEqual(page.errors, []);
}));

test('outside business hours the widget says when the team opens', { timeout: TEST_TIMEOUT_MS }, step('closed', async () => {
  await setWidget({ ...DEFAULTS, offline_form: false });
  // Open one hour a day, starting two hours from now: closed now, opening soon.
  const start = (new Date().getUTCHours() + 2) % 24;
  const slot = [`${String(start).padStart(2, '0')}:00-${String(start + 1).padStart(2, '0')}:00`];
  const days = ['monday', 'tuesday', 'wednesday', 'thursday', 'friday', 'saturday', 'sunday'];
  const closedNow = { time_zone: 'UTC', weekly: Object.fromEntries(days.map((d) => [d, slot])), holidays: [] };
  const saved = await adminApi('/admin/hours', { method: 'PUT', body: JSON.stringify(closedNow) });
  try {
    assert.equal(saved.status, 200, JSON.stringify(saved.json));
    const config = await (await fetch(`${APP}/api/widget/config`)).json();
    assert.equal(config.availability.open, false);
    assert.ok(config.availability.next_opening_at > Date.now());
    const page = await newPage();
    const widget = await openWidget(page);
    await widget.locator('#offline-note').filter({ hasText: /outside our opening hours.*We open again (today|tomorrow)/ }).waitFor();
    // Without the offline form the visitor can still write.
    assert.equal(await widget.getByRole('textbox', { name: 'Message', exact: true }).isVisible(), true);
  } finally {
    await adminApi('/admin/hours', { method: 'PUT', body: 'null' }); // back to always open
  }
}));

test('languages: the browser’s, else the page’s <html lang>; the API hook (event and setLocale) wins', { timeout: TEST_TIMEOUT_MS }, step('i18n', async () => {
  await setWidget(DEFAULTS);
  // A browser in German on an English page: German.
  const german = await newPage(await newContext({ locale: 'de-DE' }));
  const inGerman = await openWidget(german, '/');
  const box = inGerman.getByRole('textbox', { name: 'Nachricht', exact: true });
  await box.waitFor();
  // The delivery words under the visitor's own message are German too.
  await box.fill('Hallo!');
  await box.press('Enter');
  await inGerman.locator('.msg--visitor .msg-status[data-status="sent"]').filter({ hasText: 'Gesendet' }).waitFor();
  // A browser in a language we lack (Japanese) on a Spanish page: Spanish.
  const page = await newPage(await newContext({ locale: 'ja-JP' }));
  const widget = await openWidget(page, '/es');
  await widget.getByRole('textbox', { name: 'Mensaje', exact: true }).waitFor();
  assert.equal(await widget.getByRole('button', { name: 'Cerrar chat' }).count(), 1);
  const frame = frameOf(page);
  await frame.evaluate(() => window.dispatchEvent(new CustomEvent('lcw:locale', { detail: { locale: 'de-AT' } })));
  await widget.getByRole('textbox', { name: 'Nachricht', exact: true }).waitFor();
  assert.equal(await frame.evaluate(() => document.documentElement.lang), 'de');
  await frame.evaluate(() => window.livechatSetLocale('fr'));
  await widget.getByRole('button', { name: 'Insérer un emoji' }).waitFor();
  await audit(frame, 'open chat in French');
}));

test('hostile host CSS and a strict CSP: the chat works, nothing leaks in, the page is untouched', { timeout: TEST_TIMEOUT_MS }, step('hostile', async () => {
  await setWidget(DEFAULTS);
  const page = await newPage();
  await page.goto(`${PAGE_ORIGIN}/hostile`);
  const before = await page.locator('#host-box').evaluate((n) => { const r = n.getBoundingClientRect(); return { x: r.x, y: r.y, w: r.width, h: r.height, font: getComputedStyle(n).fontSize }; });
  const launcher = page.locator('#lcw-launcher');
  await launcher.waitFor({ state: 'visible' });
  const box = await launcher.boundingBox();
  assert.ok(box.width >= 56 && box.height >= 56, `launcher is its own size (${box.width}x${box.height})`);
  await launcher.click();
  const iframe = await page.locator('#lcw-frame').boundingBox();
  assert.ok(iframe && iframe.width >= 300 && iframe.height >= 300, 'the hidden-iframe rule does not hide the chat');
  const widget = widgetOf(page);
  const input = widget.getByRole('textbox', { name: 'Message', exact: true });
  await input.fill('Hello from a hostile page');
  await input.press('Enter');
  await widget.locator('.msg--visitor').filter({ hasText: 'Hello from a hostile page' }).getByText(/Sent|Read/).waitFor();
  // Inside the frame the host's CSS does not apply.
  const inside = await frameOf(page).evaluate(() => ({
    font: getComputedStyle(document.body).fontSize,
    color: getComputedStyle(document.querySelector('.bubble')).color,
    position: getComputedStyle(document.querySelector('.chat')).position,
  }));
  assert.notEqual(inside.font, '40px');
  assert.notEqual(inside.color, 'rgb(255, 0, 0)');
  assert.notEqual(inside.position, 'fixed');
  // The host page's own content is where it was.
  const after = await page.locator('#host-box').evaluate((n) => { const r = n.getBoundingClientRect(); return { x: r.x, y: r.y, w: r.width, h: r.height, font: getComputedStyle(n).fontSize }; });
  assert.deepEqual(after, before);
  await shot(page, 'hostile');
  await noCspViolations(page);
  assert.deepEqual(page.errors, []);
}));

test('phone-sized screen (390×844): full-screen chat; dark mode', { timeout: TEST_TIMEOUT_MS }, step('phone', async () => {
  await setWidget(DEFAULTS);
  const phone = await newPage(await newContext({ viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true }));
  await openWidget(phone);
  const box = await phone.locator('#lcw-frame').boundingBox();
  assert.equal(Math.round(box.width), 390);
  assert.equal(Math.round(box.height), 844);
  await shot(phone, 'phone');
  await audit(frameOf(phone), 'phone');

  const dark = await newPage(await newContext({ colorScheme: 'dark' }));
  const widget = await openWidget(dark);
  await widget.locator('.msg, .welcome').first().waitFor();
  const bg = await frameOf(dark).evaluate(() => getComputedStyle(document.body).backgroundColor);
  assert.equal(bg, 'rgb(17, 19, 24)');
  await shot(dark, 'dark');
  await audit(frameOf(dark), 'dark');

  // The admins' choice wins over the system's.
  await setWidget({ ...DEFAULTS, color_scheme: 'light' });
  const forced = await newPage(await newContext({ colorScheme: 'dark' }));
  await openWidget(forced);
  await frameOf(forced).waitForFunction(() => document.documentElement.dataset.scheme === 'light');
  assert.equal(await frameOf(forced).evaluate(() => getComputedStyle(document.body).backgroundColor), 'rgb(255, 255, 255)');
}));

test('no polling while hidden, one request on return, no storm after the network comes back', { timeout: TEST_TIMEOUT_MS }, step('polling', async () => {
  await setWidget(DEFAULTS);
  const page = await newPage();
  const widget = await openWidget(page);
  const input = widget.getByRole('textbox', { name: 'Message', exact: true });
  await input.fill('Counting requests');
  await input.press('Enter');
  await widget.locator('.msg--visitor').filter({ hasText: 'Counting requests' }).getByText(/Sent|Read/).waitFor();
  const requests = [];
  page.on('request', (r) => { if (r.url().startsWith(`${APP}/api/widget/`)) requests.push({ at: Date.now(), url: r.url() }); });
  const frame = frameOf(page);
  const setHidden = (hidden) => frame.evaluate((h) => {
    Object.defineProperty(document, 'visibilityState', { configurable: true, get: () => (h ? 'hidden' : 'visible') });
    Object.defineProperty(document, 'hidden', { configurable: true, get: () => h });
    document.dispatchEvent(new Event('visibilitychange'));
  }, hidden);

  await setHidden(true);
  await new Promise((resolve) => setTimeout(resolve, 500));
  const hiddenFrom = requests.length;
  await new Promise((resolve) => setTimeout(resolve, 6000));
  const whileHidden = requests.slice(hiddenFrom);
  assert.deepEqual(whileHidden.map((r) => r.url), [], 'no requests while hidden');

  await setHidden(false);
  await new Promise((resolve) => setTimeout(resolve, 3000));
  const onReturn = requests.slice(hiddenFrom).filter((r) => r.url.includes('/events'));
  // One long-poll; a second only when the first came back with an event (the poll resumes).
  assert.ok(onReturn.length >= 1 && onReturn.length <= 2, `one long-poll on return (two if an event came), got ${onReturn.length}`);

  // Offline for 8 s: retries back off (1, 2, 4 s with jitter), so a handful at most.
  const offlineFrom = requests.length;
  await page.context().setOffline(true);
  await setHidden(true); // aborts the long-poll in flight...
  await setHidden(false); // ...and reconnects at once, into the outage
  await new Promise((resolve) => setTimeout(resolve, 8000));
  const whileOffline = requests.slice(offlineFrom).filter((r) => r.url.includes('/events')).length;
  await page.context().setOffline(false);
  assert.ok(whileOffline <= 6, `at most 6 attempts in 8 s offline, got ${whileOffline}`);
  console.log(`requests: ${whileHidden.length} while hidden 6 s, ${onReturn.length} long-poll(s) in 3 s on return, ${whileOffline} attempts in 8 s offline`);
}));

test('the console’s Widget screen: contrast checked as you pick, saved settings reach the widget', { timeout: TEST_TIMEOUT_MS }, step('console', async () => {
  await setWidget(DEFAULTS);
  const admin = await newPage();
  await admin.goto(`${APP}/console/`);
  await admin.getByLabel('Email').fill(ADMIN.email);
  await admin.getByLabel('Password').fill(ADMIN.password);
  await admin.getByRole('button', { name: 'Sign in' }).click();
  await admin.getByRole('button', { name: 'Log out' }).waitFor();
  await admin.goto(`${APP}/console/#admin/widget`);
  await admin.getByRole('heading', { name: 'Widget', level: 2 }).waitFor();
  const accent = admin.getByLabel('Accent colour');
  assert.equal(await accent.inputValue(), '#0f766e');
  await accent.fill('#fde047');
  await admin.getByText(/too light: pick a darker colour/).waitFor();
  await admin.getByRole('button', { name: 'Save widget' }).click();
  await admin.getByText('The accent colour is too light for white text.').waitFor();
  await accent.fill('#7c2d12');
  await admin.getByLabel('Greeting').fill('Howdy! Ask about tents.');
  await admin.getByLabel('Launcher position').selectOption('right');
  await admin.getByLabel('Name', { exact: true }).selectOption('optional');
  await admin.getByRole('button', { name: 'Save widget' }).click();
  await admin.getByRole('status').filter({ hasText: 'Saved' }).first().waitFor();
  const config = await (await fetch(`${APP}/api/widget/config`)).json();
  assert.equal(config.accent_color, '#7c2d12');
  assert.equal(config.greeting, 'Howdy! Ask about tents.');
  assert.equal(config.position, 'right');
  assert.equal(config.prechat_name, 'optional');
  await audit(admin.mainFrame(), 'console widget screen', '#admin-body');
  await setWidget(DEFAULTS);
}));
