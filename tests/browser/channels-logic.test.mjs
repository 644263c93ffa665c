// The console's channel rules as plain functions (static/console/channels.js): the 24-hour
// window notice and when it blocks Send, the "Reply via" option texts, delivery states that only
// move forward, and attachment sizes and kinds. No app and no browser: node's test runner only.
//
// static/ has no package.json saying "type": "module", so node 20 would read the file as
// CommonJS; it is loaded as a module from its source instead (it imports nothing).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';

const source = await readFile(new URL('../../static/console/channels.js', import.meta.url), 'utf8');
const channels = await import(`data:text/javascript;charset=utf-8,${encodeURIComponent(source)}`);
const {
  attachmentUrl, channelLabel, deliveryMayMove, deliveryNote, deliveryTitle, humanSize, isInlineImage,
  isOpen, optionText, replyNotice, roughDuration,
} = channels;

const HOUR = 3_600_000;
const NOW = Date.UTC(2026, 10, 26, 12, 0, 0);

// A WhatsApp customer who also has a phone (SMS) and wrote in the widget once.
function reply({ whatsappClosesAt, whatsappAvailable = true, emailAvailable = false, smsAvailable = true }) {
  return {
    default: 'whatsapp',
    channels: [
      { channel: 'web', available: true, reason: null, window_closes_at: null },
      { channel: 'sms', available: smsAvailable, reason: smsAvailable ? null : 'the customer has no phone number', window_closes_at: null },
      { channel: 'whatsapp', available: whatsappAvailable, reason: whatsappAvailable ? null : 'the 24-hour window for free-form whatsapp replies has closed; the customer must write first', window_closes_at: whatsappClosesAt },
      { channel: 'email', available: emailAvailable, reason: emailAvailable ? null : 'the customer has no email address', window_closes_at: null },
      { channel: 'messenger', available: false, reason: 'the customer has not written on messenger', window_closes_at: null },
      { channel: 'instagram', available: false, reason: 'the customer has not written on instagram', window_closes_at: null },
    ],
  };
}

test('a window closed by the server blocks the reply and says how long ago and what to use instead', () => {
  const notice = replyNotice(reply({ whatsappClosesAt: NOW - 3 * HOUR, whatsappAvailable: false, emailAvailable: true }), 'whatsapp', NOW);
  assert.deepEqual(notice, {
    blocked: true,
    text: 'WhatsApp’s 24-hour window closed 3 h ago: free-form replies are not allowed until the customer writes again. Reply in the chat, by SMS or by email instead.',
  });
});

test('a window that closed on this clock blocks the reply even while the server still listed it open', () => {
  // The thread was loaded an hour before the window closed and left open.
  const options = reply({ whatsappClosesAt: NOW - 10 * 60_000 });
  assert.equal(isOpen(options.channels[2], NOW), false);
  const notice = replyNotice(options, 'whatsapp', NOW);
  assert.equal(notice.blocked, true);
  assert.match(notice.text, /^WhatsApp’s 24-hour window closed 10 min ago: /);
  assert.equal(optionText(options.channels[2], NOW), 'WhatsApp (unavailable: the 24-hour window has closed)');
});

test('the server saying closed wins over a slow clock on this computer', () => {
  const notice = replyNotice(reply({ whatsappClosesAt: NOW + 5 * 60_000, whatsappAvailable: false }), 'whatsapp', NOW);
  assert.equal(notice.blocked, true);
  assert.match(notice.text, /^WhatsApp’s 24-hour window has closed: /);
});

test('a window closing within the hour warns without blocking', () => {
  const options = reply({ whatsappClosesAt: NOW + 25 * 60_000 });
  assert.deepEqual(replyNotice(options, 'whatsapp', NOW), {
    blocked: false,
    text: 'WhatsApp’s 24-hour window closes in 25 min: after that, free-form replies are not allowed until the customer writes again.',
  });
  assert.equal(optionText(options.channels[2], NOW), 'WhatsApp (window closes in 25 min)');
});

test('an open window with hours to go, and channels without a window, need no notice', () => {
  const options = reply({ whatsappClosesAt: NOW + 5 * HOUR });
  assert.equal(replyNotice(options, 'whatsapp', NOW), null);
  assert.equal(replyNotice(options, 'sms', NOW), null);
  assert.equal(replyNotice(options, 'web', NOW), null);
  assert.equal(optionText(options.channels[2], NOW), 'WhatsApp');
});

test('a channel the customer cannot be reached on blocks with the server’s reason', () => {
  const notice = replyNotice(reply({ whatsappClosesAt: NOW + 5 * HOUR }), 'messenger', NOW);
  assert.deepEqual(notice, {
    blocked: true,
    text: 'You cannot reply on Messenger: the customer has not written on messenger. Reply in the chat, by SMS or on WhatsApp instead.',
  });
  assert.equal(optionText({ channel: 'email', available: false, reason: 'the customer has no email address', window_closes_at: null }, NOW),
    'Email (unavailable: the customer has no email address)');
});

test('with nothing else open the notice says so', () => {
  const options = {
    default: 'messenger',
    channels: [{ channel: 'messenger', available: false, reason: 'closed', window_closes_at: NOW - 25 * HOUR }],
  };
  const notice = replyNotice(options, 'messenger', NOW);
  assert.equal(notice.text, 'Messenger’s 24-hour window closed 1 d 1 h ago: free-form replies are not allowed until the customer writes again. There is no other way to reach this customer right now.');
});

test('no options or an unknown channel give no notice', () => {
  assert.equal(replyNotice(null, 'sms', NOW), null);
  assert.equal(replyNotice({ default: 'web', channels: [] }, 'sms', NOW), null);
});

test('delivery states only move forward, and a failure never undoes a delivery', () => {
  assert.equal(deliveryMayMove('queued', 'sent'), true);
  assert.equal(deliveryMayMove('sent', 'delivered'), true);
  assert.equal(deliveryMayMove('delivered', 'read'), true);
  assert.equal(deliveryMayMove('sent', 'failed'), true);
  assert.equal(deliveryMayMove('queued', 'queued'), true, 'a new retry note for the same state');
  assert.equal(deliveryMayMove('delivered', 'sent'), false);
  assert.equal(deliveryMayMove('read', 'delivered'), false);
  assert.equal(deliveryMayMove('delivered', 'failed'), false);
  assert.equal(deliveryMayMove('read', 'failed'), false);
  assert.equal(deliveryMayMove('failed', 'sent'), false);
  assert.equal(deliveryMayMove('sent', 'bogus'), false);
  assert.equal(deliveryMayMove(null, 'queued'), true);
});

test('delivery notes: the provider’s reason for a failure, a quiet line for a pending retry', () => {
  assert.deepEqual(deliveryNote('failed', 'Twilio 21610: Attempt to send to unsubscribed recipient'),
    { kind: 'failed', text: 'Not delivered: Twilio 21610: Attempt to send to unsubscribed recipient' });
  assert.deepEqual(deliveryNote('queued', 'attempt 2 of 6 failed (HTTP 503); retrying in 60 s'),
    { kind: 'retrying', text: 'Retrying: attempt 2 of 6 failed (HTTP 503); retrying in 60 s' });
  assert.equal(deliveryNote('queued', null), null);
  assert.equal(deliveryNote('delivered', null), null);
  assert.equal(deliveryTitle('delivered', null, 'sms'), 'Delivered to the customer by SMS');
  assert.equal(deliveryTitle('failed', 'no route', 'whatsapp'), 'Could not be sent on WhatsApp: no route');
});

test('channel labels, sizes, image kinds and attachment URLs', () => {
  assert.equal(channelLabel('sms'), 'SMS');
  assert.equal(channelLabel('whatsapp'), 'WhatsApp');
  assert.equal(channelLabel('web'), 'Chat');
  assert.equal(channelLabel('carrier-pigeon'), 'carrier-pigeon');
  assert.equal(humanSize(0), '0 B');
  assert.equal(humanSize(1023), '1023 B');
  assert.equal(humanSize(1024), '1 KB');
  assert.equal(humanSize(1536), '1.5 KB');
  assert.equal(humanSize(250 * 1024), '250 KB');
  assert.equal(humanSize(3.4 * 1024 * 1024), '3.4 MB');
  assert.equal(isInlineImage('image/png'), true);
  assert.equal(isInlineImage('IMAGE/JPEG; charset=binary'), true);
  assert.equal(isInlineImage('image/svg+xml'), false, 'an SVG can carry script: a download, never inline');
  assert.equal(isInlineImage('image/heic'), false);
  assert.equal(isInlineImage('application/pdf'), false);
  assert.equal(attachmentUrl(12, 34), '/api/inbox/conversations/12/attachments/34');
  assert.equal(roughDuration(59_000), 'less than a minute');
  assert.equal(roughDuration(3 * HOUR + 59 * 60_000), '3 h');
});
