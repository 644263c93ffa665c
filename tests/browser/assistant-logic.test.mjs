// The console's words for the assistant as plain functions (static/console/handoff.js): a
// handoff's headline and details, suggestion sources and the draft, inserting into the reply
// box, the settings' limits and the business-hours document. No app and no browser: node's test
// runner only.
//
// static/ has no package.json saying "type": "module", so node 20 would read the file as
// CommonJS; it is loaded as a module from its source instead (it imports nothing).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';

const source = await readFile(new URL('../../static/console/handoff.js', import.meta.url), 'utf8');
const handoff = await import(`data:text/javascript;charset=utf-8,${encodeURIComponent(source)}`);
const {
  curlyQuotes, draftLabel, handoffDetails, handoffHeadline, hoursDocument, modelDraftNote, modelSummaryLabel, parseIntervals, readLimit,
  reasonText, resumedText, sourceLabel, triggerWords, withInserted,
} = handoff;

test('a handoff’s headline names each reason with the customer’s own words in typographic quotes', () => {
  const data = {
    reasons: [
      { trigger: 'explicit_request', evidence: '"quiero hablar con una persona"' },
      { trigger: 'frustration', evidence: 'score 1.5: "that didn\'t help"; "again"' },
    ],
  };
  assert.equal(
    handoffHeadline(data),
    'Handed off: asked for a person — “quiero hablar con una persona”; sounds frustrated — score 1.5: “that didn\'t help”; “again”',
  );
});

test('reasons whose evidence only repeats the trigger are the trigger alone; numbers stay as they are', () => {
  assert.equal(reasonText({ trigger: 'vip', evidence: 'VIP customer' }), 'VIP customer');
  assert.equal(reasonText({ trigger: 'human_only_topic', evidence: 'topic is human-only' }), 'a topic only people handle');
  assert.equal(
    reasonText({ trigger: 'long_wait', evidence: 'waiting 200 s without a useful answer (limit 180 s)' }),
    'waited too long for a useful answer — waiting 200 s without a useful answer (limit 180 s)',
  );
  assert.equal(
    reasonText({ trigger: 'low_confidence', evidence: 'best article “Refunds” at confidence 0.31, below 0.50' }),
    'no confident answer in the knowledge base — best article “Refunds” at confidence 0.31, below 0.50',
  );
  assert.equal(reasonText({ trigger: 'explicit_request', evidence: '' }), 'asked for a person');
});

test('an unknown trigger from a newer server still reads as words', () => {
  assert.equal(triggerWords('after_hours_message'), 'after hours message');
  assert.equal(handoffHeadline({ reasons: [] }), 'Handed off by the assistant');
  assert.equal(handoffHeadline(null), 'Handed off by the assistant');
});

test('quotes are turned typographic in pairs only', () => {
  assert.equal(curlyQuotes('"a" and "b"'), '“a” and “b”');
  assert.equal(curlyQuotes('5" screen'), '5" screen');
  assert.equal(curlyQuotes(undefined), '');
});

test('the handoff details list what was asked and answered, the topic and the language', () => {
  const rows = handoffDetails({
    asked: ['How long does shipping take?', '  ', 'quiero hablar con una persona'],
    answered: ['Shipping times'],
    topic: 'shipping',
    language: 'es',
  }, (tag) => (tag === 'es' ? 'Spanish' : tag));
  assert.deepEqual(rows, [
    ['Asked', '“How long does shipping take?” · “quiero hablar con una persona”'],
    ['Answered', '“Shipping times”'],
    ['Topic', 'shipping'],
    ['Language', 'Spanish'],
  ]);
  assert.deepEqual(handoffDetails({ asked: [], answered: [] }), [['Answered', 'nothing from the knowledge base']]);
});

test('a hand-back names who did it', () => {
  assert.equal(resumedText({ by: { id: 1, name: 'Ann' } }, 'Ann'), 'Ann handed this back to the assistant');
  assert.equal(resumedText({}, null), 'Someone handed this back to the assistant');
});

test('suggestion sources and the draft are said in words', () => {
  assert.equal(sourceLabel('article'), 'Help article');
  assert.equal(sourceLabel('canned'), 'Canned response');
  assert.equal(sourceLabel('llm'), 'llm');
  assert.equal(draftLabel({ text: 'Hi Walt,\n\nRefunds…', based_on: 'article' }), 'Draft from the best help article');
  assert.equal(draftLabel({ text: 'Hi Walt,\n\n', based_on: null }), 'Draft: a greeting to start from');
  assert.equal(draftLabel({ text: '  ', based_on: 'article' }), '');
  assert.equal(draftLabel(null), '');
});

test('inserting a suggestion fills an empty box, or goes after what is typed with a blank line', () => {
  assert.equal(withInserted('', 'We ship in 2 days.'), 'We ship in 2 days.');
  assert.equal(withInserted('Hi Walt,\n\n', 'We ship in 2 days.'), 'Hi Walt,\n\nWe ship in 2 days.');
  assert.equal(withInserted('Thanks!', '  '), 'Thanks!');
});

test('settings limits are checked like the API checks them, naming the field', () => {
  assert.deepEqual(readLimit('min_confidence', '0.55', 'Confidence'), { value: 0.55 });
  assert.deepEqual(readLimit('min_confidence', '1.5', 'Confidence'), { error: 'Confidence: enter a number from 0 to 1.' });
  assert.deepEqual(readLimit('frustration_threshold', '0.4', 'Score'), { error: 'Score: enter a number from 0.5 to 5.' });
  assert.deepEqual(readLimit('max_wait_without_answer_s', '90.5', 'Seconds'), { error: 'Seconds: enter a whole number from 10 to 3600.' });
  assert.deepEqual(readLimit('max_wait_without_answer_s', '', 'Seconds'), { error: 'Seconds: enter a whole number from 10 to 3600.' });
  assert.deepEqual(readLimit('max_wait_without_answer_s', '3600', 'Seconds'), { value: 3600 });
});

test('business hours become the document the API takes: every weekday, holidays with optional hours', () => {
  assert.deepEqual(parseIntervals(' 09:00 - 12:00, 13:00–17:30 ;'), ['09:00-12:00', '13:00-17:30']);
  const doc = hoursDocument({
    timeZone: ' Europe/Berlin ',
    weekly: { monday: '09:00-12:00, 13:00-17:30', saturday: '10:00-14:00' },
    holidays: [
      { date: '2026-12-24', name: ' Christmas Eve ', hours: '09:00-12:00' },
      { date: '2026-12-25', name: 'Christmas Day', hours: '' },
    ],
  });
  assert.deepEqual(doc, {
    time_zone: 'Europe/Berlin',
    weekly: {
      monday: ['09:00-12:00', '13:00-17:30'], tuesday: [], wednesday: [], thursday: [], friday: [], saturday: ['10:00-14:00'], sunday: [],
    },
    holidays: [
      { date: '2026-12-24', name: 'Christmas Eve', hours: ['09:00-12:00'] },
      { date: '2026-12-25', name: 'Christmas Day' },
    ],
  });
});

test('model drafts and briefings say whose words they are, and why a draft fell back', () => {
  assert.equal(
    modelDraftNote({ draft: { text: 'Hi', model: 'gpt-x' }, fallback: null }),
    'AI draft (gpt-x) is in the reply box. Check it, edit it, then press Enter to send.',
  );
  assert.equal(
    modelDraftNote({ draft: { text: 'Hi', model: null }, fallback: 'the language model gave no usable draft' }),
    "No AI draft (the language model gave no usable draft); the assistant's own draft is in the reply box instead. Edit it, then press Enter to send.",
  );
  assert.equal(modelSummaryLabel({ model: 'llama' }), 'AI briefing (llama)');
  assert.equal(modelSummaryLabel({}), 'AI briefing (a language model)');
});
