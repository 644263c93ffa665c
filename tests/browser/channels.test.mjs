// Browser tests for channels in the operator console: which channel each message came through,
// the "Reply via" choice (SMS by default for a customer who texted), delivery states of a reply
// moving live (sent, delivered; failed in red with Twilio's reason; a retry pending), a reply too
// long for SMS refused inline, an MMS picture joining its message once the app has fetched it,
// a WhatsApp message joining the thread and becoming the default, the WhatsApp 24-hour window
// (closing soon, then closed: the notice, Send disabled, SMS still possible), and a visitor's
// uploads shown as a thumbnail and a download link.
//
// Unlike console.test.mjs this file starts an app of its own: SMS and WhatsApp webhooks must be
// signed, so the app needs `twilio_auth_token` and `meta_app_secret`, and replies must reach a
// provider, so the provider API bases point at a fake Twilio/Meta server on loopback started
// here (it records what it receives and fails on demand). The app is the bundled test host
// (target/host/spin-test-host, built by `cargo test --profile host -p spin-test-host` or
// `cargo build --profile host -p spin-test-host`), or `spin up` when
// LIVECHAT_TEST_RUNTIME=spin, with a fresh data directory that is deleted afterwards.
//
// A message's time comes from the server's clock, so a closed 24-hour window cannot be made
// through the API. The console works out the window from `window_closes_at` on its own clock
// (a thread left open outlives the answer that listed the window as open), so the browser's
// clock is moved forward instead (Playwright's clock.setFixedTime); the server still sees the
// window open, which is what an operator with the thread open across the deadline meets. The
// notice's wording in every case is checked without a browser in channels-logic.test.mjs.
//
//   (cd tests/browser && npm ci) && node --test tests/browser/channels.test.mjs
// CHROMIUM overrides the browser binary (default /usr/bin/chromium).

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { createHmac, randomBytes } from 'node:crypto';
import { mkdir } from 'node:fs/promises';
import { chromium } from 'playwright-core';
import twilio from 'twilio';
import { startApp as startSharedApp } from './tools/app.mjs';

const ARTIFACTS = new URL('./artifacts/', import.meta.url);
const TEST_TIMEOUT_MS = 240_000;
const UI_TIMEOUT_MS = 45_000;
const HOUR = 3_600_000;

const RUN = randomBytes(4).toString('hex');
// A 1x1 PNG.
const PNG = Buffer.from('iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAQAAAC1HAwCAAAAC0lEQVR42mNkYAAAAAYAAjCB0C8AAAAASUVORK5CYII=', 'base64');
const ADMIN = { email: `admin${RUN}@example.com`, password: `admin password ${RUN}` };
const TWILIO_TOKEN = `twilio-token-${RUN}`;
const ACCOUNT_SID = 'AC00000000000000000000000000000001';
const OUR_NUMBER = '+15005550006';
const META_SECRET = `meta-secret-${RUN}`;
// Twilio signs the URL it calls; behind a proxy that is public_base_url, which the app is told.
const PUBLIC_BASE = 'https://chat.example.com';
// A different customer number per run (E.164, 11 digits).
const CUSTOMER = `+1650${String(parseInt(RUN, 16) % 10_000_000).padStart(7, '0')}`;

let APP;
let app;
let fake;
let browser;
const people = { admin: null, later: null };
const world = { conversationId: null, whatsappAt: null };

// --- A fake Twilio / Meta API -------------------------------------------------------------------

// Answers Twilio's Messages.json and the WhatsApp Cloud API like the real ones; `fail(n, answer)`
// makes the next n sends get `answer` ({status, body}) instead.
function startFakeProvider() {
  const requests = [];
  const failures = [];
  let sids = 0;
  const server = http.createServer((req, res) => {
    const chunks = [];
    req.on('data', (chunk) => chunks.push(chunk));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      const form = Object.fromEntries(new URLSearchParams(body));
      requests.push({ method: req.method, path: req.url, headers: req.headers, body, form });
      // MMS media Twilio hosts, fetched by the app after the webhook is answered.
      if (req.method === 'GET' && req.url.startsWith('/media/')) {
        res.writeHead(200, { 'content-type': 'image/png' }).end(PNG);
        return;
      }
      const planned = failures.shift();
      if (planned) {
        res.writeHead(planned.status, { 'content-type': 'application/json' }).end(JSON.stringify(planned.body));
        return;
      }
      sids += 1;
      if (req.url.endsWith('/Messages.json')) {
        const sid = `SM${RUN}${String(sids).padStart(24, '0')}`;
        res.writeHead(201, { 'content-type': 'application/json' }).end(JSON.stringify({ sid, status: 'queued' }));
      } else {
        res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ messages: [{ id: `wamid.OUT${RUN}${sids}` }] }));
      }
    });
  });
  return new Promise((resolve) => {
    server.listen(0, '127.0.0.1', () => resolve({
      server,
      base: `http://127.0.0.1:${server.address().port}`,
      requests,
      fail(times, answer) {
        for (let i = 0; i < times; i += 1) failures.push(answer);
      },
      // The SMS sends to the customer so far.
      sms() {
        return requests.filter((r) => r.path.endsWith('/Messages.json'));
      },
    }));
  });
}

// --- The app --------------------------------------------------------------------------------------

function startApp(providerBase) {
  const variables = {
    admin_email: ADMIN.email,
    admin_password: ADMIN.password,
    public_base_url: PUBLIC_BASE,
    twilio_auth_token: TWILIO_TOKEN,
    twilio_account_sid: ACCOUNT_SID,
    twilio_from: OUR_NUMBER,
    twilio_api_base: providerBase,
    meta_app_secret: META_SECRET,
    meta_verify_token: `verify-${RUN}`,
    meta_graph_base: providerBase,
    whatsapp_token: 'WA-TOKEN',
    whatsapp_phone_number_id: 'PNID',
    // One retry, ten minutes on: a failed attempt stays "retrying" for the whole test.
    dispatch_retry_schedule_ms: '600000',
  };
  return startSharedApp({ name: 'channels', variables });
}

// --- Providers' webhooks, signed as they sign them ------------------------------------------

async function postTwilio(path, params) {
  const signature = twilio.getExpectedTwilioSignature(TWILIO_TOKEN, `${PUBLIC_BASE}${path}`, params);
  const response = await fetch(`${APP}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', 'x-twilio-signature': signature },
    body: new URLSearchParams(params).toString(),
  });
  assert.equal(response.status, 200, `${path}: ${response.status} ${await response.text()}`);
}

function customerTexts(body, sid) {
  return postTwilio('/hooks/twilio/sms', {
    MessageSid: sid, AccountSid: ACCOUNT_SID, From: CUSTOMER, To: OUR_NUMBER, Body: body, NumMedia: '0',
  });
}

async function customerWhatsApps(body, id) {
  const payload = JSON.stringify({
    object: 'whatsapp_business_account',
    entry: [{
      id: 'WABA',
      changes: [{
        field: 'messages',
        value: {
          messaging_product: 'whatsapp',
          metadata: { display_phone_number: OUR_NUMBER.slice(1), phone_number_id: 'PNID' },
          contacts: [{ profile: { name: `Kerry ${RUN}` }, wa_id: CUSTOMER.slice(1) }],
          messages: [{ from: CUSTOMER.slice(1), id, timestamp: String(Math.floor(Date.now() / 1000)), type: 'text', text: { body } }],
        },
      }],
    }],
  });
  const signature = `sha256=${createHmac('sha256', META_SECRET).update(payload).digest('hex')}`;
  const response = await fetch(`${APP}/hooks/meta`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-hub-signature-256': signature },
    body: payload,
  });
  assert.equal(response.status, 200, `/hooks/meta: ${response.status} ${await response.text()}`);
}

// --- Browser helpers ------------------------------------------------------------------------------

async function newPage() {
  const context = await browser.newContext({ viewport: { width: 1280, height: 860 } });
  context.setDefaultTimeout(UI_TIMEOUT_MS);
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

function threadLog(page) {
  return page.getByRole('log', { name: 'Messages' });
}

function message(page, text) {
  return threadLog(page).locator('.msg').filter({ hasText: text });
}

// Opens the conversation whose row shows `text` (or has the id `text`); returns its id.
async function openCustomer(page, text) {
  const row = typeof text === 'number'
    ? page.locator(`.conv[data-id="${text}"]`)
    : page.locator('.conv').filter({ hasText: text }).first();
  await row.click();
  await threadLog(page).locator('.msg').first().waitFor();
  return Number(await row.getAttribute('data-id'));
}

async function reply(page, text) {
  const box = page.getByRole('textbox', { name: 'Reply' });
  await box.fill(text);
  await box.press('Enter');
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

async function saveFailureShots(name) {
  await mkdir(ARTIFACTS, { recursive: true });
  await Promise.all(Object.entries(people).map(([who, page]) => page
    && page.screenshot({ path: new URL(`failure-channels-${name}-${who}.png`, ARTIFACTS).pathname, fullPage: true }).catch(() => {})));
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
  fake = await startFakeProvider();
  app = await startApp(fake.base);
  APP = app.base;
  browser = await chromium.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    args: ['--no-sandbox', '--disable-dev-shm-usage'],
  });
});

after(async () => {
  if (browser) await browser.close();
  if (app) await app.stop();
  if (fake) await new Promise((resolve) => fake.server.close(resolve));
});

// --- Tests --------------------------------------------------------------------------------------------

test('an SMS conversation shows its channel, replies by SMS, and the reply’s delivery moves live', { timeout: TEST_TIMEOUT_MS }, step('sms', async () => {
  await customerTexts(`Is my bike ready? ${RUN}`, `SM${RUN}in000000000000000000000001`);
  const admin = await newPage();
  people.admin = admin;
  await signIn(admin);
  world.conversationId = await openCustomer(admin, CUSTOMER);

  // The customer's message says it came by SMS.
  const question = message(admin, `Is my bike ready? ${RUN}`);
  const label = question.locator('.msg-channel');
  assert.equal(await label.textContent(), 'SMS');
  assert.equal(await label.isVisible(), true);
  assert.equal(await label.getAttribute('title'), 'Came in by SMS');

  // Reply via: SMS, preselected; WhatsApp and email are listed but closed, with the reason.
  const via = admin.getByLabel('Reply via');
  await via.waitFor();
  assert.equal(await via.inputValue(), 'sms');
  const whatsapp = via.locator('option[value="whatsapp"]');
  assert.equal(await whatsapp.isDisabled(), true);
  assert.match(await whatsapp.textContent(), /^WhatsApp \(unavailable: the customer has not written on whatsapp/);
  assert.equal(await via.locator('option[value="email"]').isDisabled(), true);
  assert.equal(await admin.locator('#reply-window').isVisible(), false, 'no notice for SMS');

  // A reply goes by SMS without naming a channel (the default follows the customer), and its
  // badge moves from queued to sent as the fake Twilio accepts it.
  const first = `Yes, it is ready & waiting for you. ${RUN}`;
  await reply(admin, first);
  const sent = message(admin, first);
  await sent.locator('.msg-delivery', { hasText: 'Sent' }).waitFor();
  assert.equal(await sent.locator('.msg-channel').textContent(), 'SMS');
  assert.equal(await sent.locator('.msg-delivery').getAttribute('title'), 'Handed to the provider by SMS; not yet confirmed as delivered');
  assert.deepEqual(admin.replies.at(-1), { body: first, client_id: admin.replies.at(-1).client_id }, 'no channel named');
  const outgoing = await eventually(() => fake.sms().map((r) => r.form), (forms) => forms.some((f) => f.Body === first), 'Twilio got the SMS');
  const sms = outgoing.find((f) => f.Body === first);
  assert.equal(sms.To, CUSTOMER);
  assert.equal(sms.From, OUR_NUMBER);

  // Twilio's status callback: delivered, shown live; a late "sent" does not move it back.
  const sid = `SM${RUN}${String(1).padStart(24, '0')}`;
  await postTwilio('/hooks/twilio/status', { MessageSid: sid, MessageStatus: 'delivered' });
  await sent.locator('.msg-delivery', { hasText: 'Delivered' }).waitFor();
  await postTwilio('/hooks/twilio/status', { MessageSid: sid, MessageStatus: 'sent' });
  await admin.waitForTimeout(1500);
  assert.equal(await sent.locator('.msg-delivery').textContent(), 'Delivered');

  // Twilio refuses the next one for good: Failed, in red, with Twilio's reason under it.
  fake.fail(1, { status: 400, body: { code: 21610, message: 'Attempt to send to unsubscribed recipient', status: 400 } });
  const refused = `Your invoice is attached. ${RUN}`;
  await reply(admin, refused);
  const failed = message(admin, refused);
  await failed.locator('.msg-delivery', { hasText: 'Failed' }).waitFor();
  assert.equal(await failed.getAttribute('class').then((c) => c.includes('is-failed')), true);
  const why = failed.locator('.msg-delivery-note');
  assert.equal(await why.textContent(), 'Not delivered: HTTP 400, Twilio 21610: Attempt to send to unsubscribed recipient');
  const red = await why.evaluate((node) => getComputedStyle(node).color);
  assert.match(red, /^rgb\((1[5-9]\d|2\d\d), \d{1,2}, \d{1,2}\)$/, `the reason is red (${red})`);

  // An outage: the attempt fails, a retry is pending, and the note says so quietly.
  fake.fail(1, { status: 503, body: { code: 20500, message: 'Service unavailable' } });
  const later = `We will text you when it ships. ${RUN}`;
  await reply(admin, later);
  const retrying = message(admin, later);
  const note = retrying.locator('.msg-delivery-note[data-kind="retrying"]');
  await note.waitFor();
  assert.match(await note.textContent(), /^Retrying: .*503/);
  assert.equal(await retrying.locator('.msg-delivery').textContent(), 'Queued');

  // Too long for one SMS (1600 characters): refused inline with the server's words, the text
  // given back, nothing sent.
  const sentBefore = fake.sms().length;
  const long = `${'Long answer. '.repeat(130)}${RUN}`;
  assert.ok(long.length > 1600 && long.length < 4000);
  await reply(admin, long);
  const error = admin.locator('#thread-error');
  await error.filter({ hasText: 'sms takes at most 1600 characters' }).waitFor();
  assert.equal(await admin.getByRole('textbox', { name: 'Reply' }).inputValue(), long, 'the text is back in the box');
  assert.equal(await message(admin, RUN).filter({ hasText: 'Long answer.' }).count(), 0, 'no bubble left behind');
  assert.equal(fake.sms().length, sentBefore);
  await admin.getByRole('textbox', { name: 'Reply' }).fill('');

  await mkdir(ARTIFACTS, { recursive: true });
  await admin.screenshot({ path: new URL('channels.png', ARTIFACTS).pathname });
  assert.deepEqual(admin.errors, []);
}));

test('an MMS picture joins its message live once the app has fetched it from Twilio', { timeout: TEST_TIMEOUT_MS }, step('mms', async () => {
  const admin = people.admin;
  assert.ok(admin && world.conversationId, 'the SMS test ran first');
  await postTwilio('/hooks/twilio/sms', {
    MessageSid: `MM${RUN}in000000000000000000000002`,
    AccountSid: ACCOUNT_SID,
    From: CUSTOMER,
    To: OUR_NUMBER,
    Body: `The scratch on the frame ${RUN}`,
    NumMedia: '1',
    MediaUrl0: `${fake.base}/media/scratch-${RUN}.png`,
    MediaContentType0: 'image/png',
  });
  const mms = message(admin, `The scratch on the frame ${RUN}`);
  await mms.waitFor();
  assert.equal(await mms.locator('.msg-channel').textContent(), 'SMS');
  // The picture comes with a message.attachment event, without a reload.
  const picture = mms.locator('.msg-attachments img');
  await picture.waitFor();
  await eventually(() => picture.evaluate((node) => node.complete && node.naturalWidth), (width) => width === 1, 'the MMS thumbnail loads');
  const fetched = fake.requests.find((r) => r.method === 'GET' && r.path === `/media/scratch-${RUN}.png`);
  assert.ok(fetched, 'the app fetched the media from Twilio');
  assert.match(fetched.headers.authorization || '', /^Basic /, 'with the account credentials');
  assert.deepEqual(admin.errors, []);
}));

test('a WhatsApp message joins the thread and becomes the default; its 24-hour window closes', { timeout: TEST_TIMEOUT_MS }, step('whatsapp', async () => {
  const admin = people.admin;
  assert.ok(admin && world.conversationId, 'the SMS test ran first');

  // The customer writes on WhatsApp: the open thread shows it with its label, and the reply
  // channel follows (the operator never picked one).
  const text = `Can I pay by card? ${RUN}`;
  await customerWhatsApps(text, `wamid.IN${RUN}1`);
  const incoming = message(admin, text);
  await incoming.waitFor();
  assert.equal(await incoming.locator('.msg-channel').textContent(), 'WhatsApp');
  const via = admin.getByLabel('Reply via');
  await eventually(() => via.inputValue(), (value) => value === 'whatsapp', 'Reply via follows the customer to WhatsApp');
  assert.equal(await via.locator('option[value="sms"]').isDisabled(), false);
  // A mixed thread labels the SMS messages too.
  assert.equal(await message(admin, `Is my bike ready? ${RUN}`).locator('.msg-channel').textContent(), 'SMS');

  const thread = await admin.request.get(`${APP}/api/inbox/conversations/${world.conversationId}`);
  const options = (await thread.json()).reply;
  const window = options.channels.find((option) => option.channel === 'whatsapp');
  assert.equal(options.default, 'whatsapp');
  assert.equal(window.available, true);
  assert.ok(window.window_closes_at > Date.now() + 23 * HOUR, 'a fresh 24-hour window');

  // The same operator 25 minutes before the window closes: a warning, Send still works.
  const later = await newPage();
  people.later = later;
  await later.context().clock.setFixedTime(new Date(window.window_closes_at - 25 * 60_000));
  await signIn(later);
  await openCustomer(later, world.conversationId);
  const notice = later.locator('#reply-window');
  await notice.filter({ hasText: 'closes in 25 min' }).waitFor();
  assert.equal(await notice.textContent(), 'WhatsApp’s 24-hour window closes in 25 min: after that, free-form replies are not allowed until the customer writes again.');
  const box = later.getByRole('textbox', { name: 'Reply' });
  await box.fill('Typing while the window is open');
  assert.equal(await later.getByRole('button', { name: 'Send', exact: true }).isEnabled(), true);

  // Three hours after it closed: the notice says so, Send is disabled and Enter sends nothing.
  await later.context().clock.setFixedTime(new Date(window.window_closes_at + 3 * HOUR + 60_000));
  await later.reload();
  await later.getByRole('button', { name: 'Log out' }).waitFor();
  await openCustomer(later, world.conversationId);
  await notice.filter({ hasText: 'closed 3 h ago' }).waitFor();
  assert.equal(
    await notice.textContent(),
    'WhatsApp’s 24-hour window closed 3 h ago: free-form replies are not allowed until the customer writes again. Reply by SMS instead.',
  );
  assert.equal(await later.getByLabel('Reply via').inputValue(), 'whatsapp');
  await box.fill(`Sure, card is fine. ${RUN}`);
  const send = later.getByRole('button', { name: 'Send', exact: true });
  assert.equal(await send.isDisabled(), true);
  await box.press('Enter');
  await later.waitForTimeout(500);
  assert.equal(later.replies.length, 0, 'nothing was posted');
  assert.equal(await box.inputValue(), `Sure, card is fine. ${RUN}`);
  await later.screenshot({ path: new URL('channels-window.png', ARTIFACTS).pathname });

  // Switching to SMS lifts the block; the reply names the channel and goes out by SMS.
  const smsBefore = fake.sms().length;
  await later.getByLabel('Reply via').selectOption('sms');
  await notice.waitFor({ state: 'hidden' });
  assert.equal(await send.isEnabled(), true);
  await send.click();
  const bySms = message(later, `Sure, card is fine. ${RUN}`);
  await bySms.locator('.msg-delivery', { hasText: 'Sent' }).waitFor();
  assert.equal(await bySms.locator('.msg-channel').textContent(), 'SMS');
  assert.equal(later.replies.at(-1).channel, 'sms');
  assert.equal(fake.sms().length, smsBefore + 1);
  assert.equal(fake.sms().at(-1).form.To, CUSTOMER);

  assert.deepEqual(later.errors, []);
  assert.deepEqual(admin.errors, []);
}));

test('a visitor’s uploads show as a thumbnail and a download link', { timeout: TEST_TIMEOUT_MS }, step('attachments', async () => {
  const admin = people.admin;
  assert.ok(admin, 'the SMS test ran first');
  const widget = async (path, init = {}) => {
    const response = await fetch(`${APP}/api/widget${path}`, init);
    const json = await response.json();
    assert.ok(response.ok, `${path}: ${response.status} ${JSON.stringify(json)}`);
    return json;
  };
  const name = `Uma ${RUN}`;
  const started = await widget('/conversations', {
    method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ name }),
  });
  const id = started.conversation.id;
  const auth = { authorization: `Bearer ${started.visitor_token}` };
  await widget(`/conversations/${id}/messages`, {
    method: 'POST', headers: { ...auth, 'content-type': 'application/json' }, body: JSON.stringify({ body: `Here is the damage ${RUN}` }),
  });
  // A PNG and a small PDF.
  const png = PNG;
  const pdf = Buffer.from(`%PDF-1.4\n% receipt ${RUN}\n${'0'.repeat(2000)}\n%%EOF\n`);
  await widget(`/conversations/${id}/attachments?name=${encodeURIComponent('bike photo.png')}`, {
    method: 'POST', headers: { ...auth, 'content-type': 'image/png' }, body: png,
  });
  await widget(`/conversations/${id}/attachments?name=receipt.pdf`, {
    method: 'POST', headers: { ...auth, 'content-type': 'application/pdf' }, body: pdf,
  });

  await admin.locator('.conv').filter({ hasText: name }).first().click();
  const log = threadLog(admin);
  const image = log.getByRole('img', { name: 'bike photo.png' });
  await image.waitFor();
  assert.equal(await image.getAttribute('loading'), 'lazy');
  assert.equal(await image.getAttribute('src'), `/api/inbox/conversations/${id}/attachments/${(await attachmentIds(admin, id))['bike photo.png']}`);
  // The operator's session fetches it: the thumbnail really shows.
  await eventually(() => image.evaluate((node) => node.complete && node.naturalWidth), (width) => width === 1, 'the thumbnail loads');

  const download = log.getByRole('link', { name: /receipt\.pdf/ });
  await download.waitFor();
  assert.equal(await download.getAttribute('download'), 'receipt.pdf');
  assert.match(await download.textContent(), /receipt\.pdf\s*2 KB$/);
  // Web messages in a web-only thread carry no label.
  assert.equal(await log.locator('.msg-channel').first().isVisible(), false);
  // No "Reply via" for a conversation that only ever was a website chat.
  assert.equal(await admin.getByLabel('Reply via').isVisible(), false);
  const response = await admin.request.get(`${APP}${await download.getAttribute('href')}`);
  assert.equal(response.status(), 200);
  assert.match(response.headers()['content-disposition'] || '', /^attachment/);
  assert.deepEqual(admin.errors, []);
}));

async function attachmentIds(page, conversationId) {
  const response = await page.request.get(`${APP}/api/inbox/conversations/${conversationId}`);
  const ids = {};
  for (const message of (await response.json()).messages) {
    for (const file of message.attachments || []) ids[file.name] = file.id;
  }
  return ids;
}
