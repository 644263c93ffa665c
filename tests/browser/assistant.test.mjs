// Browser tests for the assistant (issue 6): the admin writes the knowledge base and turns the
// assistant on in the console's admin screens (and marks a topic human-only, and sets business
// hours); a visitor asks in the real widget and reads the answer labelled "Assistant"; asks for a
// person and is told one is coming; the operator reads the handoff's summary and reasons, gets a
// suggested reply from the knowledge base for the customer's next question, uses the draft
// (which sends nothing by itself), edits and sends it, and hands the conversation back to the
// assistant (a stale version is refused with the reason shown first), which then answers again;
// the widget's help search finds a published article, not a draft, by keyboard. A fake
// OpenAI-compatible model on loopback adds its briefing to the handoff and writes the draft
// behind "Write with AI".
//
// Like channels.test.mjs this file starts an app of its own: the assistant's mode is app-wide,
// and "always" would answer the other files' visitors too. The app is the bundled test host
// (target/host/spin-test-host, built by `cargo build --profile host -p spin-test-host`), or
// `spin up` when LIVECHAT_TEST_RUNTIME=spin, with a fresh data directory deleted afterwards.
//
//   (cd tests/browser && npm ci) && node --test tests/browser/assistant.test.mjs
// CHROMIUM overrides the browser binary (default /usr/bin/chromium). Screenshots go to
// tests/browser/artifacts/ (assistant-console.png, assistant-widget.png, assistant-help.png).

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { randomBytes } from 'node:crypto';
import { mkdir } from 'node:fs/promises';
import { chromium } from 'playwright-core';
import { startApp as startSharedApp } from './tools/app.mjs';

const ARTIFACTS = new URL('./artifacts/', import.meta.url);
const TEST_TIMEOUT_MS = 240_000;
const UI_TIMEOUT_MS = 45_000;

const RUN = randomBytes(4).toString('hex');
const ADMIN = { email: `admin${RUN}@example.com`, password: `admin password ${RUN}` };

// The knowledge base the admin writes. The shipping article carries markup-like text, which
// must reach the visitor as text.
const SHIPPING = {
  title: 'How long does shipping take?',
  body: 'We ship within 2 business days. Delivery takes 3-5 days in the EU. <b>Tracking</b> links come by email.',
  tags: 'shipping, delivery',
};
const REFUNDS = {
  title: 'Refunds',
  body: 'Refunds are paid back to the original card within 14 days of us receiving the return.',
  tags: 'refund, money back',
};
const DRAFT = {
  title: 'Gift cards',
  body: 'Gift cards never expire and can be used online and in our stores.',
  tags: 'gift card, voucher',
};

let APP;
let app;
let browser;
let pageServer;
let PAGE_ORIGIN;
const people = { admin: null, visitor: null };
const world = { conversationId: null };

// --- The app --------------------------------------------------------------------------------------

function startApp() {
  return startSharedApp({
    name: 'assistant',
    variables: {
      admin_email: ADMIN.email,
      admin_password: ADMIN.password,
      business_name: 'Acme Outdoor',
      llm_provider: 'openai',
      llm_model: 'fake-model',
      openai_api_origin: MODEL_ORIGIN,
      llm_timeout_ms: '2000',
    },
  });
}

// A fake OpenAI-compatible model on loopback. It briefs operators on handoffs and drafts
// replies (grounded in the shipping article), and declines to phrase the widget's answers
// (NO_ANSWER), so visitors read the article's own passage as without a model.
const BRIEFING = 'The customer asked how long shipping takes, then asked for a person in Spanish.';
const MODEL_DRAFT = 'We ship within 2 business days, and delivery in the EU takes 3-5 days.';
let MODEL_ORIGIN;
let modelServer;

function startModelServer() {
  const server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (chunk) => { body += chunk; });
    req.on('end', () => {
      let system = '';
      try { system = JSON.parse(body).messages[0].content; } catch { /* answered below */ }
      const content = system.includes('brief a human support agent') ? BRIEFING
        : system.includes('draft a reply for a human support agent') ? MODEL_DRAFT
        : 'NO_ANSWER';
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ choices: [{ index: 0, message: { role: 'assistant', content } }] }));
    });
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(server)));
}

// A shop's page on another origin with the embed snippet, under a strict CSP of its own.
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
  return new Promise((resolve) => {
    server.listen(0, '127.0.0.1', () => resolve(server));
  });
}

// --- Helpers ----------------------------------------------------------------------------------------

async function newPage() {
  const context = await browser.newContext({ viewport: { width: 1280, height: 860 } });
  context.setDefaultTimeout(UI_TIMEOUT_MS);
  // Our pages run under a strict CSP (no inline scripts or styles): record any violation.
  await context.addInitScript(() => {
    window.__cspViolations = [];
    document.addEventListener('securitypolicyviolation', (e) => window.__cspViolations.push(`${e.violatedDirective} ${e.blockedURI}`));
  });
  const page = await context.newPage();
  page.errors = [];
  page.on('pageerror', (error) => page.errors.push(String(error)));
  // Every reply the console posts, as sent.
  page.replies = [];
  page.on('request', (request) => {
    if (request.method() === 'POST' && /\/api\/inbox\/conversations\/\d+\/messages$/.test(request.url())) {
      page.replies.push(request.postDataJSON());
    }
  });
  return page;
}

async function signIn(page) {
  await page.goto(`${APP}/console/`);
  await page.getByLabel('Email').fill(ADMIN.email);
  await page.getByLabel('Password').fill(ADMIN.password);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('button', { name: 'Log out' }).waitFor();
}

function adminSection(page, name) {
  return page.getByRole('navigation', { name: 'Admin sections' }).getByRole('button', { name, exact: true });
}

function threadLog(page) {
  return page.getByRole('log', { name: 'Messages' });
}

function widgetOf(page) {
  return page.frameLocator('iframe[title="Chat"]');
}

async function visitorSends(widget, text) {
  const input = widget.getByRole('textbox', { name: 'Message', exact: true });
  await input.fill(text);
  await input.press('Enter');
  await widget.locator('.msg--visitor').filter({ hasText: text }).getByText(/Sent|Read/).waitFor();
}

// The API as the admin, from Node, to check what the screens saved.
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
  const violations = [];
  for (const frame of page.frames()) {
    violations.push(...(await frame.evaluate(() => window.__cspViolations || []).catch(() => [])));
  }
  assert.deepEqual(violations, [], 'no CSP violations');
}

async function saveFailureShots(name) {
  await mkdir(ARTIFACTS, { recursive: true });
  await Promise.all(Object.entries(people).map(([who, page]) => page
    && page.screenshot({ path: new URL(`failure-assistant-${name}-${who}.png`, ARTIFACTS).pathname, fullPage: true }).catch(() => {})));
}

function step(name, body) {
  return async () => {
    try {
      await body();
    } catch (error) {
      await saveFailureShots(name);
      if (app) console.error(`app output (last 4000 characters):\n${app.log().slice(-4000)}`);
      throw error;
    }
  };
}

// --- Setup ------------------------------------------------------------------------------------------

before(async () => {
  modelServer = await startModelServer();
  MODEL_ORIGIN = `http://127.0.0.1:${modelServer.address().port}`;
  app = await startApp();
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
  if (modelServer) await new Promise((resolve) => modelServer.close(resolve));
});

// --- Tests --------------------------------------------------------------------------------------------

async function writeArticle(admin, article, { published = true } = {}) {
  await admin.getByRole('button', { name: 'New article' }).click();
  const dialog = admin.getByRole('dialog', { name: 'New article' });
  await dialog.getByLabel('Title').fill(article.title);
  await dialog.getByLabel('Body').fill(article.body);
  await dialog.getByLabel('Tags').fill(article.tags);
  assert.equal(await dialog.getByLabel('Language').inputValue(), 'en', 'English unless changed');
  const toggle = dialog.getByLabel(/^Published/);
  assert.equal(await toggle.isChecked(), true, 'a new article is published unless unticked');
  if (!published) await toggle.uncheck();
  await dialog.getByRole('button', { name: 'Create article' }).click();
  await dialog.waitFor({ state: 'detached' });
  await admin.getByRole('row', { name: new RegExp(article.title.replace(/[?]/g, '\\?')) }).waitFor();
}

test('the admin writes the knowledge base and turns the assistant on in the admin screens', { timeout: TEST_TIMEOUT_MS }, step('admin', async () => {
  const admin = await newPage();
  people.admin = admin;
  await signIn(admin);
  await admin.getByRole('navigation', { name: 'Views' }).getByRole('button', { name: 'Admin', exact: true }).click();

  // Knowledge base: two published articles and a draft.
  await adminSection(admin, 'Knowledge base').click();
  await admin.getByText('No articles yet.', { exact: false }).waitFor();
  await writeArticle(admin, SHIPPING);
  await writeArticle(admin, REFUNDS);
  await writeArticle(admin, DRAFT, { published: false });
  const refundsRow = admin.getByRole('row', { name: /Refunds/ });
  await refundsRow.getByRole('cell', { name: 'Published', exact: true }).waitFor();
  await refundsRow.getByRole('cell', { name: 'refund, money back', exact: true }).waitFor();
  const draftRow = admin.getByRole('row', { name: /Gift cards/ });
  await draftRow.getByRole('cell', { name: 'Draft', exact: true }).waitFor();

  // The status filter: drafts only, then published only.
  const kb = admin.getByRole('region', { name: 'Knowledge base' });
  await kb.getByLabel('Status').selectOption({ label: 'Drafts' });
  await kb.getByRole('status').filter({ hasText: '1 article' }).waitFor();
  assert.equal(await refundsRow.count(), 0);
  await kb.getByLabel('Status').selectOption({ label: 'Published' });
  await kb.getByRole('status').filter({ hasText: '2 articles' }).waitFor();
  assert.equal(await draftRow.count(), 0);

  // An article is edited: the edit shows, and the API has it.
  await admin.getByRole('button', { name: `Edit article ${REFUNDS.title}` }).click();
  const edit = admin.getByRole('dialog', { name: `Edit article ${REFUNDS.title}` });
  assert.equal(await edit.getByLabel('Body').inputValue(), REFUNDS.body);
  await edit.getByLabel('Tags').fill(`${REFUNDS.tags}, reimbursement`);
  await edit.getByRole('button', { name: 'Save article' }).click();
  await edit.waitFor({ state: 'detached' });
  await refundsRow.getByRole('cell', { name: 'refund, money back, reimbursement', exact: true }).waitFor();
  const stored = (await adminApi('/admin/articles')).articles;
  assert.deepEqual(stored.map((a) => [a.title, a.published, a.language]).sort(), [
    [SHIPPING.title, true, 'en'], [DRAFT.title, false, 'en'], [REFUNDS.title, true, 'en'],
  ].sort());
  assert.deepEqual(stored.find((a) => a.title === REFUNDS.title).tags, ['refund', 'money back', 'reimbursement']);

  // A nameless article is refused before anything is sent.
  await admin.getByRole('button', { name: 'New article' }).click();
  const empty = admin.getByRole('dialog', { name: 'New article' });
  await empty.getByLabel('Body').fill('Text without a title');
  await empty.getByRole('button', { name: 'Create article' }).click();
  await empty.getByRole('alert').filter({ hasText: 'Give the article a title.' }).waitFor();
  await empty.getByRole('button', { name: 'Cancel' }).click();

  // Deleting asks first; cancelling keeps it.
  await kb.getByLabel('Status').selectOption({ label: 'Published and drafts' });
  await admin.getByRole('button', { name: `Delete article ${DRAFT.title}` }).click();
  const confirm = admin.getByRole('dialog', { name: `Delete the article “${DRAFT.title}”?` });
  await confirm.getByRole('button', { name: 'Cancel' }).click();
  await draftRow.waitFor();

  // The assistant: answers always, hands over on a request for a person; the limits explain
  // themselves and out-of-range values are refused with the field named.
  await adminSection(admin, 'Assistant').click();
  const form = admin.getByRole('region', { name: 'Assistant' });
  assert.equal(await form.getByLabel(/^Never/).isChecked(), true, 'off until an admin turns it on');
  await form.getByLabel(/^Always/).check();
  await form.getByLabel('The customer asks for a person').waitFor();
  assert.equal(await form.getByLabel('The customer asks for a person').isChecked(), true);
  const confidence = form.getByLabel('Confidence the assistant needs to answer');
  assert.match(await confidence.getAttribute('aria-describedby'), /hint/);
  await confidence.fill('1.5');
  await form.getByRole('button', { name: 'Save assistant settings' }).click();
  await form.getByRole('alert').filter({ hasText: 'Confidence the assistant needs to answer: enter a number from 0 to 1.' }).waitFor();
  await confidence.fill('0.5');
  // The VIP trigger's switch has no limit; the wait limit is disabled with its switch.
  await form.getByLabel('The customer has waited too long for a useful answer').uncheck();
  assert.equal(await form.getByLabel('Seconds without a useful answer').isDisabled(), true);
  await form.getByLabel('The customer has waited too long for a useful answer').check();
  await form.getByLabel('Clarifying questions before handing over').selectOption('1');
  await form.getByRole('button', { name: 'Save assistant settings' }).click();
  await form.getByRole('status').filter({ hasText: 'Saved' }).waitFor();
  await mkdir(ARTIFACTS, { recursive: true });
  await admin.screenshot({ path: new URL('assistant-settings.png', ARTIFACTS).pathname, fullPage: true });
  const settings = (await adminApi('/admin/assistant')).assistant;
  assert.equal(settings.mode, 'always');
  assert.equal(settings.max_clarifications, 1);
  assert.equal(settings.escalation.explicit_request, true);
  assert.equal(settings.escalation.min_confidence, 0.5);
  // Still saved after a reload of the screen.
  await admin.reload();
  await admin.getByRole('button', { name: 'Log out' }).waitFor();
  await admin.getByRole('region', { name: 'Assistant' }).getByLabel(/^Always/).waitFor();
  assert.equal(await admin.getByRole('region', { name: 'Assistant' }).getByLabel(/^Always/).isChecked(), true);

  assert.deepEqual(admin.errors, []);
  await noCspViolations(admin);
}));

test('a topic is marked human-only and business hours are set in the admin screens', { timeout: TEST_TIMEOUT_MS }, step('topics-hours', async () => {
  const admin = people.admin;
  assert.ok(admin, 'the admin test ran first');

  await adminSection(admin, 'Topics').click();
  const newTopic = admin.getByRole('region', { name: 'New topic' });
  await newTopic.getByLabel('Topic name').fill(`legal-${RUN}`);
  await newTopic.getByLabel('Label', { exact: true }).fill('Legal questions');
  await newTopic.getByLabel(/^Human only/).check();
  await newTopic.getByRole('button', { name: 'Create topic' }).click();
  const topicRow = admin.getByRole('row', { name: new RegExp(`legal-${RUN}`) });
  await topicRow.getByRole('cell', { name: 'People only', exact: true }).waitFor();
  let topic = (await adminApi('/admin/topics')).topics.find((t) => t.name === `legal-${RUN}`);
  assert.equal(topic.human_only, true);
  // Unticked in the edit dialog: the assistant may answer it again.
  await admin.getByRole('button', { name: `Edit topic legal-${RUN}` }).click();
  const dialog = admin.getByRole('dialog', { name: `Edit topic legal-${RUN}` });
  assert.equal(await dialog.getByLabel(/^Human only/).isChecked(), true);
  await dialog.getByLabel(/^Human only/).uncheck();
  await dialog.getByRole('button', { name: 'Save' }).click();
  await topicRow.getByRole('cell', { name: 'Assistant first', exact: true }).waitFor();
  topic = (await adminApi('/admin/topics')).topics.find((t) => t.name === `legal-${RUN}`);
  assert.equal(topic.human_only, false);

  // Business hours: none yet (always open); a time zone, two intervals on Monday, Saturday
  // morning, and a holiday.
  await adminSection(admin, 'Business hours').click();
  const hours = admin.getByRole('region', { name: 'Business hours' });
  await hours.getByText('No business hours set: the team counts as always open.').waitFor();
  await hours.getByLabel('Time zone').fill('Mars/Base');
  await hours.getByLabel('Monday').fill('09:00-12:00, 13:00 - 17:30');
  await hours.getByLabel('Saturday').fill('10:00-14:00');
  await hours.getByRole('button', { name: 'Add holiday' }).click();
  await hours.getByLabel('Date').fill('2026-12-25');
  await hours.getByLabel('Name').fill('Christmas Day');
  await hours.getByRole('button', { name: 'Save hours' }).click();
  // The server's reason, naming the field.
  await hours.getByRole('alert').filter({ hasText: 'time_zone: "Mars/Base" is not an IANA time zone' }).waitFor();
  await hours.getByLabel('Time zone').fill('Europe/Berlin');
  await hours.getByRole('button', { name: 'Save hours' }).click();
  await hours.getByText('Business hours are set, in Europe/Berlin.').waitFor();
  assert.equal(await hours.getByLabel('Monday').inputValue(), '09:00-12:00, 13:00-17:30');
  assert.equal(await hours.getByLabel('Name').inputValue(), 'Christmas Day');
  const saved = (await adminApi('/admin/hours')).hours;
  assert.equal(saved.time_zone, 'Europe/Berlin');
  assert.deepEqual(saved.weekly.monday, ['09:00-12:00', '13:00-17:30']);
  assert.deepEqual(saved.weekly.saturday, ['10:00-14:00']);
  assert.deepEqual(saved.weekly.sunday, []);
  assert.deepEqual(saved.holidays, [{ date: '2026-12-25', name: 'Christmas Day' }]);

  // Cleared again (asks first), so the assistant's "always" is not coloured by opening hours.
  await hours.getByRole('button', { name: 'Clear hours' }).click();
  await admin.getByRole('dialog', { name: 'Clear the business hours?' }).getByRole('button', { name: 'Clear hours' }).click();
  await hours.getByText('No business hours set: the team counts as always open.').waitFor();
  assert.equal((await adminApi('/admin/hours')).hours, null);

  assert.deepEqual(admin.errors, []);
  await noCspViolations(admin);
}));

test('a visitor asks in the widget: the assistant answers, labelled Assistant; asked for a person, it says one is coming', { timeout: TEST_TIMEOUT_MS }, step('visitor', async () => {
  const admin = people.admin;
  assert.ok(admin, 'the admin test ran first');
  await admin.getByRole('navigation', { name: 'Views' }).getByRole('button', { name: 'Inbox', exact: true }).click();

  const visitor = await newPage();
  people.visitor = visitor;
  const started = visitor.waitForResponse((r) => r.url() === `${APP}/api/widget/conversations` && r.request().method() === 'POST');
  await visitor.goto(`${PAGE_ORIGIN}/`);
  await visitor.getByRole('button', { name: /^Open chat/ }).click();
  const widget = widgetOf(visitor);
  await visitorSends(widget, 'How long does shipping take?');
  world.conversationId = (await (await started).json()).conversation.id;

  // The answer comes from the article, as the assistant's, in its own style, as text.
  const answer = widget.locator('.msg--assistant').filter({ hasText: 'We ship within 2 business days.' });
  await answer.waitFor();
  assert.equal(await answer.locator('.msg-author').textContent(), 'Assistant');
  assert.match(await answer.locator('.bubble').textContent(), /<b>Tracking<\/b> links come by email\./, 'markup arrives as text');
  assert.equal(await answer.locator('b').count(), 0);
  assert.equal(await answer.locator('a').count(), 0, 'nothing in it is a link');
  const visitorBubble = await widget.locator('.msg--visitor .bubble').first().evaluate((node) => getComputedStyle(node).backgroundColor);
  const assistantBubble = await answer.locator('.bubble').evaluate((node) => getComputedStyle(node).backgroundColor);
  assert.notEqual(assistantBubble, visitorBubble, 'styled apart from the visitor');

  // In the console the conversation is the assistant's: its row says so, and the preview is
  // the assistant's answer.
  const row = admin.locator(`.conv[data-id="${world.conversationId}"]`);
  await row.locator('.assistant-badge').filter({ hasText: 'Assistant' }).waitFor();
  await row.locator('.conv-preview').filter({ hasText: /^Assistant: We ship within 2 business days/ }).waitFor();

  // A request for a person, in Spanish: the assistant says honestly that a person is coming
  // (in the widget's language, English here) and that nobody is available yet.
  await visitorSends(widget, 'quiero hablar con una persona');
  const handoff = widget.locator('.msg--assistant').filter({ hasText: 'passing you to a person' });
  await handoff.waitFor();
  assert.equal(await handoff.locator('.msg-author').textContent(), 'Assistant');
  assert.match(await handoff.locator('.bubble').textContent(), /Nobody is available right now/);

  // Then a new question, which people answer now.
  await visitorSends(widget, 'When will my refund be paid back to my card?');
  await mkdir(ARTIFACTS, { recursive: true });
  await visitor.screenshot({ path: new URL('assistant-widget.png', ARTIFACTS).pathname });
  assert.deepEqual(visitor.errors, []);
  await noCspViolations(visitor);
}));

test('the operator reads the handoff, uses the suggested draft, sends it and hands back to the assistant', { timeout: TEST_TIMEOUT_MS }, step('console', async () => {
  const admin = people.admin;
  const visitor = people.visitor;
  assert.ok(admin && visitor && world.conversationId, 'the visitor test ran first');
  const row = admin.locator(`.conv[data-id="${world.conversationId}"]`);
  await row.click();
  const log = threadLog(admin);

  // The handoff: why, in the customer's words, and the summary for whoever takes over.
  const handoff = log.locator('.tl-handoff');
  await handoff.waitFor();
  // (The evidence is the part of the message that asked, quoted as the customer wrote it.)
  assert.match(await handoff.locator('.tl-handoff-title').textContent(), /^Handed off: asked for a person — “(quiero )?hablar con una persona”$/);
  assert.match(await handoff.locator('.tl-handoff-summary').textContent(), /^The customer asked: “How long does shipping take\?/);
  assert.match(await handoff.textContent(), /Answered“How long does shipping take\?”/);
  assert.match(await handoff.textContent(), /Language(English|en)/);
  // The language model's briefing joins the handoff, labelled as the model's.
  await handoff.locator('.tl-handoff-ai-text').waitFor();
  assert.equal(await handoff.locator('.tl-handoff-ai-text').textContent(), BRIEFING);
  assert.equal(await handoff.locator('.tl-handoff-ai-label').textContent(), 'AI briefing (fake-model)');
  // The badge is gone: people have it now.
  await admin.locator(`.conv[data-id="${world.conversationId}"] .assistant-badge`).waitFor({ state: 'detached' });
  assert.equal(await admin.locator('#thread-badges .assistant-badge').count(), 0);

  // The assistant's messages read as the assistant's, not as notices.
  const answers = log.locator('.msg--assistant');
  assert.equal(await answers.count(), 2);
  assert.deepEqual(await answers.locator('.msg-author').allInnerTexts(), ['Assistant', 'Assistant']);
  assert.equal(await log.locator('.msg--system').count(), 0);

  // Suggestions for the latest customer message: the refunds article with its matched words.
  const panel = admin.getByRole('region', { name: 'Suggestions' });
  await panel.getByText('For “When will my refund be paid back to my card?”').waitFor();
  const article = panel.getByRole('listitem').filter({ hasText: 'Refunds' });
  await article.waitFor();
  assert.equal(await article.locator('.assist-source').textContent(), 'Help article');
  const matched = await article.locator('.assist-word').allTextContents();
  assert.ok(matched.includes('refund'), `matched words shown: ${matched}`);

  // A customer message arriving while the thread is open refreshes the suggestions.
  await visitorSends(widgetOf(visitor), 'Also: how long does shipping take to Germany?');
  // (The question is what the customer wrote since anyone last answered: both messages now.)
  await panel.locator('.assist-question').filter({ hasText: 'Germany' }).waitFor();
  const shipping = panel.getByRole('listitem').filter({ hasText: SHIPPING.title });
  await shipping.waitFor();

  // One click inserts a suggestion into the reply box; nothing is sent.
  const box = admin.getByRole('textbox', { name: 'Reply' });
  await shipping.getByRole('button', { name: /^Insert help article/ }).click();
  assert.match(await box.inputValue(), /^We ship within 2 business days\./);
  await box.fill('');

  // "Write with AI" fills the box with the model's draft, grounded in the suggestions; sends nothing.
  const sentBefore = admin.replies.length;
  await panel.getByRole('button', { name: 'Write with AI' }).click();
  await admin.waitForFunction((text) => document.getElementById('reply-input').value.endsWith(text), MODEL_DRAFT);
  assert.match(await panel.locator('#assist-status').textContent(), /^AI draft \(fake-model\) is in the reply box/);
  await box.fill('');

  // "Use draft" fills the box with the assistant's draft and sends nothing by itself.
  await panel.getByRole('button', { name: 'Use draft' }).click();
  const draft = await box.inputValue();
  const bestArticle = await panel.locator('.assist-item[data-source="article"] .assist-text').first().getAttribute('title');
  assert.ok(draft.includes(bestArticle), `the draft quotes the best article (${bestArticle}): ${draft}`);
  await admin.waitForTimeout(800);
  assert.equal(admin.replies.length, sentBefore, 'using the draft sent nothing');
  assert.equal(await admin.evaluate(() => document.activeElement && document.activeElement.id), 'reply-input');
  // The picture of it: the handoff in view, the suggestions, the draft waiting in the box.
  await admin.getByRole('button', { name: 'Contact', exact: true }).click();
  await handoff.scrollIntoViewIfNeeded();
  await mkdir(ARTIFACTS, { recursive: true });
  await admin.screenshot({ path: new URL('assistant-console.png', ARTIFACTS).pathname });

  // The operator edits and sends; the visitor gets it from a person.
  const reply = `${draft.trim()}\n\nShipping to Germany usually takes 3 days. ${RUN}`;
  await box.fill(reply);
  await box.press('Enter');
  await log.locator('.msg--operator').filter({ hasText: `Shipping to Germany usually takes 3 days. ${RUN}` }).waitFor();
  assert.equal(admin.replies.at(-1).body, reply);
  const received = widgetOf(visitor).locator('.msg--operator').filter({ hasText: `Shipping to Germany usually takes 3 days. ${RUN}` });
  await received.waitFor();
  assert.notEqual(await received.locator('.msg-author').textContent(), 'Assistant');


  // Hand back, first with a version someone else has moved on from: refused, and said so.
  const handBack = admin.getByRole('button', { name: 'Hand back to assistant' });
  await admin.route(`${APP}/api/inbox/conversations/${world.conversationId}/assistant`, (route) => route.continue({
    postData: JSON.stringify({ version: 1 }),
  }), { times: 1 });
  await handBack.click();
  await admin.locator('#thread-error').filter({ hasText: 'This conversation changed while you were looking at it' }).waitFor();
  await admin.locator('#thread-badges .assistant-badge').waitFor({ state: 'detached' });
  // Then for real: the timeline says who, and the assistant has it again.
  await handBack.click();
  await log.locator('.tl-event').filter({ hasText: 'You handed this back to the assistant' }).waitFor();
  await admin.locator('#thread-badges .assistant-badge').filter({ hasText: 'Assistant' }).waitFor();
  await admin.locator(`.conv[data-id="${world.conversationId}"] .assistant-badge`).waitFor();
  assert.equal(await handBack.isHidden(), true, 'nothing to hand back while the assistant has it');
  await admin.getByText('The assistant is answering this conversation.').waitFor();

  // The assistant answers the customer's next question again.
  await visitorSends(widgetOf(visitor), 'When are refunds paid back to my card?');
  await widgetOf(visitor).locator('.msg--assistant').filter({ hasText: 'Refunds are paid back to the original card' }).waitFor();
  await log.locator('.msg--assistant').filter({ hasText: 'Refunds are paid back to the original card' }).waitFor();

  assert.deepEqual(admin.errors, []);
  await noCspViolations(admin);
}));

test('the widget’s help search finds a published article (not a draft) and opens it, by keyboard', { timeout: TEST_TIMEOUT_MS }, step('help', async () => {
  const visitor = people.visitor;
  assert.ok(visitor, 'the visitor test ran first');
  const widget = widgetOf(visitor);
  const open = widget.getByRole('button', { name: 'Search help' });
  assert.equal(await open.getAttribute('aria-expanded'), 'false');
  await open.click();
  assert.equal(await open.getAttribute('aria-expanded'), 'true');
  const search = widget.getByRole('searchbox', { name: 'Search help articles' });
  await eventually(() => search.evaluate((node) => node === document.activeElement), Boolean, 'the search box has focus');
  assert.equal(await widget.getByRole('log', { name: 'Messages' }).isHidden(), true, 'the chat steps aside');

  // Typing searches; results are announced in a live region.
  await search.pressSequentially('refund', { delay: 30 });
  const status = widget.locator('#help-status');
  assert.equal(await status.getAttribute('role'), 'status');
  await status.filter({ hasText: '1 article found.' }).waitFor();
  const results = widget.getByRole('list', { name: 'Help articles found' });
  const result = results.getByRole('button', { name: /^Refunds/ });
  await result.waitFor();

  // A draft is never found.
  await search.fill('voucher');
  await search.press('Enter');
  await status.filter({ hasText: 'No articles match “voucher”.' }).waitFor();
  assert.equal(await results.getByRole('listitem').count(), 0);

  // By keyboard: search, Tab to the result, Enter opens it; its heading takes focus.
  await search.fill('how long does shipping take');
  await search.press('Enter');
  const shipping = results.getByRole('button', { name: new RegExp(`^${SHIPPING.title.replace('?', '\\?')}`) });
  await shipping.waitFor();
  await search.focus();
  await visitor.keyboard.press('Tab'); // the Search button
  await visitor.keyboard.press('Tab'); // the first result
  await eventually(() => shipping.evaluate((node) => node === document.activeElement), Boolean, 'Tab reaches the first result');
  await visitor.keyboard.press('Enter');
  const heading = widget.getByRole('heading', { name: SHIPPING.title });
  await heading.waitFor();
  await eventually(() => heading.evaluate((node) => node === document.activeElement), Boolean, 'the article heading has focus');
  const body = widget.locator('#help-article-body');
  assert.equal(await body.textContent(), SHIPPING.body, 'the whole text, as text');
  assert.equal(await body.locator('b, a').count(), 0);
  await visitor.screenshot({ path: new URL('assistant-help.png', ARTIFACTS).pathname });

  // Escape steps back: to the results (focus on the article it came from), then to the chat.
  await visitor.keyboard.press('Escape');
  await eventually(() => shipping.evaluate((node) => node === document.activeElement), Boolean, 'back on the result');
  await visitor.keyboard.press('Escape');
  const message = widget.getByRole('textbox', { name: 'Message', exact: true });
  await eventually(() => message.evaluate((node) => node === document.activeElement), Boolean, 'back in the chat');
  assert.equal(await widget.getByRole('log', { name: 'Messages' }).isVisible(), true);
  assert.equal(await open.getAttribute('aria-expanded'), 'false');
  // Escape in the chat still closes the widget, as before.
  assert.deepEqual(visitor.errors, []);
  await noCspViolations(visitor);
}));
