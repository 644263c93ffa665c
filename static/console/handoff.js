// The assistant in words for operators: why it handed a conversation over (the
// `assistant.handoff` timeline event), who gave one back (`assistant.resumed`), where a
// suggestion came from, and what the admin settings mean. Pure functions with no imports and no
// DOM, so that node's test runner checks them as they are (tests/browser/assistant-logic.test.mjs);
// thread.js, assist.js and admin-assistant.js build the markup.

// The same words the server's summary uses (shared::assistant::trigger_words).
const TRIGGERS = {
  explicit_request: 'asked for a person',
  frustration: 'sounds frustrated',
  low_confidence: 'no confident answer in the knowledge base',
  vip: 'VIP customer',
  human_only_topic: 'a topic only people handle',
  long_wait: 'waited too long for a useful answer',
};

// Evidence that says no more than the trigger's own words.
const SELF_EVIDENT = new Set(['vip', 'human_only_topic']);

export function triggerWords(trigger) {
  return TRIGGERS[trigger] || String(trigger || 'another reason').replace(/_/g, ' ');
}

// The customer's words come quoted with straight quotes ("talk to a human"); typographic quotes
// read better in a sentence and cannot be mistaken for part of the text.
export function curlyQuotes(text) {
  return String(text ?? '').replace(/"([^"]*)"/g, '“$1”');
}

// "asked for a person — “quiero hablar con una persona”"; a reason whose evidence repeats
// its trigger is only the trigger.
export function reasonText(reason) {
  const words = triggerWords(reason && reason.trigger);
  const evidence = reason && typeof reason.evidence === 'string' ? reason.evidence.trim() : '';
  if (!evidence || SELF_EVIDENT.has(reason.trigger)) return words;
  return `${words} — ${curlyQuotes(evidence)}`;
}

// The headline of a handoff: "Handed off: asked for a person — “…”; sounds frustrated — …".
export function handoffHeadline(data) {
  const reasons = Array.isArray(data && data.reasons) ? data.reasons : [];
  if (!reasons.length) return 'Handed off by the assistant';
  return `Handed off: ${reasons.map(reasonText).join('; ')}`;
}

// The handoff's details as label/value pairs, in reading order; empty ones are left out.
export function handoffDetails(data, languageName = (tag) => tag) {
  const d = data || {};
  const rows = [];
  const asked = (Array.isArray(d.asked) ? d.asked : []).filter((q) => typeof q === 'string' && q.trim());
  if (asked.length) rows.push(['Asked', asked.map((q) => `“${q.trim()}”`).join(' · ')]);
  const answered = (Array.isArray(d.answered) ? d.answered : []).filter((t) => typeof t === 'string' && t.trim());
  rows.push(['Answered', answered.length ? answered.map((t) => `“${t.trim()}”`).join(', ') : 'nothing from the knowledge base']);
  if (d.topic) rows.push(['Topic', String(d.topic)]);
  if (d.language) rows.push(['Language', languageName(String(d.language))]);
  return rows;
}

// "Ann handed this back to the assistant"; `name` is the console's way of naming a person
// ("You" for the reader).
export function resumedText(data, name) {
  const by = name || 'Someone';
  return `${by} handed this back to the assistant`;
}

const SOURCES = { article: 'Help article', canned: 'Canned response' };

export function sourceLabel(source) {
  return SOURCES[source] || String(source || 'Suggestion');
}

// "Draft from the help article" (or canned response); a bare greeting says so.
export function draftLabel(draft) {
  if (!draft || typeof draft.text !== 'string' || !draft.text.trim()) return '';
  if (draft.based_on === 'article') return 'Draft from the best help article';
  if (draft.based_on === 'canned') return 'Draft from the best canned response';
  return 'Draft: a greeting to start from';
}

// What the panel says after "Write with AI": the model's draft is in the reply box, or the
// assistant's own draft is, and why the model's is not.
export function modelDraftNote(answer) {
  const draft = answer && answer.draft;
  if (draft && draft.model) return `AI draft (${draft.model}) is in the reply box. Check it, edit it, then press Enter to send.`;
  const why = answer && typeof answer.fallback === 'string' && answer.fallback ? answer.fallback : 'no AI draft';
  return `No AI draft (${why}); the assistant's own draft is in the reply box instead. Edit it, then press Enter to send.`;
}

// The timeline line for a language model's briefing on a handoff (`assistant.summary`).
export function modelSummaryLabel(data) {
  const model = data && typeof data.model === 'string' && data.model ? data.model : 'a language model';
  return `AI briefing (${model})`;
}

// The composer's text after inserting `text`: the text alone into an empty box, else after what
// is there, separated by a blank line.
export function withInserted(current, text) {
  const before = String(current || '').replace(/\s+$/, '');
  const addition = String(text || '').trim();
  if (!before) return addition;
  if (!addition) return before;
  return `${before}\n\n${addition}`;
}

// ---------------------------------------------------------------------------------------------
// Admin settings

export const MODES = [
  ['always', 'Always', 'The assistant answers every new conversation first and hands over to a person when it should.'],
  ['after_hours', 'Outside business hours', 'People answer during business hours; outside them the assistant answers what it can and takes messages.'],
  ['never', 'Never', 'People answer everything; the knowledge base still feeds the widget’s help search and operators’ suggestions.'],
];

// The limits of each escalation setting the API accepts (shared::escalation::EscalationSettings).
export const LIMITS = {
  frustration_threshold: { min: 0.5, max: 5, step: 0.5 },
  min_confidence: { min: 0, max: 1, step: 0.05 },
  max_wait_without_answer_s: { min: 10, max: 3600, step: 1 },
  max_clarifications: { min: 0, max: 3, step: 1 },
};

// Reads a number typed into a settings field: { value } or { error } naming the field.
export function readLimit(key, text, what) {
  const limit = LIMITS[key];
  const trimmed = String(text ?? '').trim();
  const value = Number(trimmed);
  const whole = limit.step >= 1;
  if (trimmed === '' || !Number.isFinite(value) || value < limit.min || value > limit.max || (whole && !Number.isInteger(value))) {
    return { error: `${what}: enter ${whole ? 'a whole number' : 'a number'} from ${limit.min} to ${limit.max}.` };
  }
  return { value };
}

// ---------------------------------------------------------------------------------------------
// Business hours

export const WEEKDAYS = ['monday', 'tuesday', 'wednesday', 'thursday', 'friday', 'saturday', 'sunday'];

// "09:00-12:00, 13:00-17:30" -> ["09:00-12:00", "13:00-17:30"]; spaces around the dash and
// en dashes are forgiven. The server checks the times themselves (and says which day is wrong).
export function parseIntervals(text) {
  return String(text || '')
    .split(/[,;\n]+/)
    .map((part) => part.trim().replace(/\s*[–—-]\s*/, '-'))
    .filter(Boolean);
}

export function formatIntervals(intervals) {
  return (Array.isArray(intervals) ? intervals : []).join(', ');
}

// The PUT body from the editor's fields: { time_zone, weekly: {day: [..]}, holidays: [..] }.
export function hoursDocument({ timeZone, weekly, holidays }) {
  const doc = { time_zone: String(timeZone || '').trim(), weekly: {}, holidays: [] };
  for (const day of WEEKDAYS) doc.weekly[day] = parseIntervals(weekly[day]);
  for (const holiday of holidays || []) {
    const entry = { date: String(holiday.date || '').trim(), name: String(holiday.name || '').trim() };
    const hours = parseIntervals(holiday.hours);
    if (hours.length) entry.hours = hours;
    doc.holidays.push(entry);
  }
  return doc;
}
