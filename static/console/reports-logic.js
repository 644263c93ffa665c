// The console's Reports area in words and numbers, as plain functions: what each headline figure
// means (the definitions of shared/src/reports.rs and the README, in one place), how durations,
// shares and averages read, the filters (period presets, team, operator, channel, tag) to and
// from the URL hash and the API's query, the staffing form's settings, the live panel's ticking
// wait, and the rows of every table. No imports and no DOM, so that node's test runner checks
// them as they are (tests/browser/reports-logic.test.mjs); reports.js builds the markup and
// reports-charts.js the charts.

// ---------------------------------------------------------------------------------------------
// Formatting

const DASH = '–';

// A duration in seconds as people say it: "45 s", "2 min 30 s", "1 h 5 min", "2 d 4 h";
// under a second "< 1 s"; unknown (null, NaN, negative) "–".
export function formatSeconds(seconds) {
  if (seconds === null || seconds === undefined || seconds === '') return DASH;
  const value = Number(seconds);
  if (!Number.isFinite(value) || value < 0) return DASH;
  if (value < 1) return value === 0 ? '0 s' : '< 1 s';
  const total = Math.round(value);
  if (total < 60) return `${total} s`;
  if (total < 3600) {
    const minutes = Math.floor(total / 60);
    const rest = total % 60;
    return rest ? `${minutes} min ${rest} s` : `${minutes} min`;
  }
  const totalMinutes = Math.round(total / 60);
  if (totalMinutes < 24 * 60) {
    const hours = Math.floor(totalMinutes / 60);
    const rest = totalMinutes % 60;
    return rest ? `${hours} h ${rest} min` : `${hours} h`;
  }
  const totalHours = Math.round(total / 3600);
  const days = Math.floor(totalHours / 24);
  const rest = totalHours % 24;
  return rest ? `${days} d ${rest} h` : `${days} d`;
}

// A share (0..1) as a percentage: "67%", "12.5%" below 20% when it is not whole, "< 1%" for a
// sliver above nothing; unknown "–".
export function formatPercent(rate) {
  if (rate === null || rate === undefined || rate === '') return DASH;
  const value = Number(rate);
  if (!Number.isFinite(value) || value < 0) return DASH;
  const percent = value * 100;
  if (percent > 0 && percent < 1) return '< 1%';
  if (percent < 20 && Math.round(percent * 10) % 10 !== 0) return `${(Math.round(percent * 10) / 10).toFixed(1)}%`;
  return `${Math.round(percent)}%`;
}

// A whole number with the reader's grouping ("1,234"); unknown "–".
export function formatCount(value) {
  if (value === null || value === undefined || !Number.isFinite(Number(value))) return DASH;
  return Math.round(Number(value)).toLocaleString('en-US');
}

// A number with at most `digits` decimals ("1.5", "2"); unknown "–".
export function formatDecimal(value, digits = 1) {
  if (value === null || value === undefined || !Number.isFinite(Number(value))) return DASH;
  const factor = 10 ** digits;
  return String(Math.round(Number(value) * factor) / factor);
}

// A share object {count, of, rate}: "67% (2 of 3)"; nothing to share "–".
export function formatShare(share) {
  if (!share || !share.of) return DASH;
  return `${formatPercent(share.rate)} (${formatCount(share.count)} of ${formatCount(share.of)})`;
}

// A CSAT average: "4.5 / 5"; no answers "–".
export function formatCsat(csat) {
  if (!csat || !csat.responses || csat.average === null || csat.average === undefined) return DASH;
  return `${formatDecimal(csat.average, 1)} / 5`;
}

function plural(count, one, many = `${one}s`) {
  return `${formatCount(count)} ${Number(count) === 1 ? one : many}`;
}

// "26 Nov" for 2026-11-26 (the date as it is, whatever the reader's time zone).
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
export function shortDate(iso) {
  const match = /^(\d{4})-(\d{2})-(\d{2})$/.exec(String(iso || ''));
  if (!match) return String(iso || '');
  return `${Number(match[3])} ${MONTHS[Number(match[2]) - 1]}`;
}

// "20 Nov – 26 Nov 2026", or one day "26 Nov 2026".
export function periodLabel(from, to) {
  const year = String(to || '').slice(0, 4);
  if (from === to) return `${shortDate(to)} ${year}`;
  const fromYear = String(from || '').slice(0, 4);
  return `${shortDate(from)}${fromYear !== year ? ` ${fromYear}` : ''} – ${shortDate(to)} ${year}`;
}

export const WEEKDAYS = ['Monday', 'Tuesday', 'Wednesday', 'Thursday', 'Friday', 'Saturday', 'Sunday'];
export const WEEKDAYS_SHORT = ['Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat', 'Sun'];

// "09:00–10:00"
export function hourRange(hour) {
  const pad = (h) => `${String(h % 24).padStart(2, '0')}:00`;
  return `${pad(hour)}–${pad(hour + 1)}`;
}

// ---------------------------------------------------------------------------------------------
// Dates and time zones

export function isIsoDate(text) {
  const match = /^(\d{4})-(\d{2})-(\d{2})$/.exec(String(text || ''));
  if (!match) return false;
  const date = new Date(Date.UTC(Number(match[1]), Number(match[2]) - 1, Number(match[3])));
  return date.getUTCFullYear() === Number(match[1]) && date.getUTCMonth() === Number(match[2]) - 1
    && date.getUTCDate() === Number(match[3]);
}

// The calendar date `days` after `iso` (negative: before).
export function addDays(iso, days) {
  const [y, m, d] = String(iso).split('-').map(Number);
  const date = new Date(Date.UTC(y, m - 1, d + days));
  return date.toISOString().slice(0, 10);
}

// Today's date, weekday (0 = Monday) and hour in `timeZone` at `nowMs`.
export function clockIn(timeZone, nowMs = Date.now()) {
  let parts;
  try {
    parts = new Intl.DateTimeFormat('en-US', {
      timeZone: timeZone || undefined, year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', hourCycle: 'h23', weekday: 'short',
    }).formatToParts(new Date(nowMs));
  } catch {
    return clockIn(undefined, nowMs);
  }
  const part = (type) => (parts.find((p) => p.type === type) || {}).value;
  return {
    date: `${part('year')}-${part('month')}-${part('day')}`,
    weekday: WEEKDAYS_SHORT.indexOf(part('weekday')),
    hour: Number(part('hour')) % 24,
  };
}

// ---------------------------------------------------------------------------------------------
// Filters: {period, from, to, team, operator, channel, tag}. The period is a preset or
// "custom" (then from/to are the dates). Kept in the URL hash (#reports?period=30d&tag=3) and
// sent to the API as from/to/tz and ids.

export const PERIODS = [['today', 'Today'], ['7d', 'Last 7 days'], ['30d', 'Last 30 days'], ['custom', 'Custom dates']];
export const CHANNELS = [
  ['web', 'Website chat'], ['sms', 'SMS'], ['whatsapp', 'WhatsApp'], ['email', 'Email'],
  ['messenger', 'Messenger'], ['instagram', 'Instagram'],
];
export const DEFAULT_FILTERS = Object.freeze({ period: '7d', from: '', to: '', team: '', operator: '', channel: '', tag: '' });
// The API's limit (shared::reports::MAX_DAYS).
export const MAX_DAYS = 366;

const ID = /^[1-9]\d{0,17}$/;

// Whatever came from the hash or storage, as filters the API accepts: unknown keys dropped,
// ids that are not ids dropped, a custom period without valid dates falls back to 7 days.
export function normalizeFilters(raw) {
  const source = raw || {};
  const filters = { ...DEFAULT_FILTERS };
  if (PERIODS.some(([key]) => key === source.period)) filters.period = source.period;
  for (const key of ['team', 'operator', 'tag']) {
    if (ID.test(String(source[key] ?? ''))) filters[key] = String(source[key]);
  }
  if (CHANNELS.some(([key]) => key === source.channel)) filters.channel = source.channel;
  if (filters.period === 'custom') {
    if (isIsoDate(source.from) && isIsoDate(source.to) && source.from <= source.to) {
      filters.from = source.from;
      filters.to = source.to;
    } else {
      filters.period = DEFAULT_FILTERS.period;
    }
  }
  return filters;
}

// The period's first and last day, given today's date in the report's time zone.
export function periodRange(filters, today) {
  switch (filters.period) {
    case 'today':
      return { from: today, to: today };
    case '30d':
      return { from: addDays(today, -29), to: today };
    case 'custom':
      if (filters.from && filters.to) return { from: filters.from, to: filters.to };
      return { from: addDays(today, -6), to: today };
    default:
      return { from: addDays(today, -6), to: today };
  }
}

// Why custom dates cannot be used, or null: each a date, from not after to, at most MAX_DAYS.
export function customRangeError(from, to) {
  if (!isIsoDate(from)) return { field: 'from', message: 'Choose the first day.' };
  if (!isIsoDate(to)) return { field: 'to', message: 'Choose the last day.' };
  if (from > to) return { field: 'from', message: 'The first day must not be after the last day.' };
  const days = (Date.parse(`${to}T00:00:00Z`) - Date.parse(`${from}T00:00:00Z`)) / 86_400_000 + 1;
  if (days > MAX_DAYS) return { field: 'from', message: `A report covers at most ${MAX_DAYS} days.` };
  return null;
}

// The filters that differ from the defaults, as "period=30d&tag=3" (for the hash).
export function filtersToParams(filters) {
  const normal = normalizeFilters(filters);
  const search = new URLSearchParams();
  for (const key of Object.keys(DEFAULT_FILTERS)) {
    if (normal[key] !== DEFAULT_FILTERS[key]) search.set(key, normal[key]);
  }
  return search.toString();
}

export function filtersFromParams(text) {
  const search = new URLSearchParams(String(text || '').replace(/^[#?]/, ''));
  const raw = {};
  for (const key of Object.keys(DEFAULT_FILTERS)) {
    if (search.has(key)) raw[key] = search.get(key);
  }
  return normalizeFilters(raw);
}

// "?from=...&to=...&tz=...&team=2" for /api/reports/<report>; `extra` adds report settings
// (format=csv, the staffing plan's).
export function reportQuery(filters, { today, timeZone, extra } = {}) {
  const normal = normalizeFilters(filters);
  const { from, to } = periodRange(normal, today);
  const search = new URLSearchParams();
  search.set('from', from);
  search.set('to', to);
  if (timeZone) search.set('tz', timeZone);
  for (const key of ['team', 'operator', 'channel', 'tag']) {
    if (normal[key]) search.set(key, normal[key]);
  }
  for (const [key, value] of Object.entries(extra || {})) {
    if (value !== undefined && value !== null && value !== '') search.set(key, String(value));
  }
  return `?${search.toString()}`;
}

// ---------------------------------------------------------------------------------------------
// The staffing plan's settings, as the form shows them (percentages, seconds, chats) and as the
// API takes them (shares).

export const STAFFING_DEFAULTS = Object.freeze({ service_level: 80, answer_secs: 20, concurrency: 3, shrinkage: 30 });

// The form's texts -> {settings} in form units, or {error: {field, message}}.
export function readStaffingForm(values) {
  const number = (key) => {
    const text = String(values[key] ?? '').trim();
    return text === '' ? NaN : Number(text);
  };
  const level = number('service_level');
  if (!(level > 0 && level < 100)) return { error: { field: 'service_level', message: 'Service level: a percentage above 0 and below 100.' } };
  const answer = number('answer_secs');
  if (!(answer >= 1 && answer <= 3600)) return { error: { field: 'answer_secs', message: 'Answered within: 1 to 3600 seconds.' } };
  const concurrency = number('concurrency');
  if (!(Number.isInteger(concurrency) && concurrency >= 1 && concurrency <= 10)) return { error: { field: 'concurrency', message: 'Chats at once: a whole number from 1 to 10.' } };
  const shrinkage = number('shrinkage');
  if (!(shrinkage >= 0 && shrinkage <= 90)) return { error: { field: 'shrinkage', message: 'Shrinkage: 0 to 90%.' } };
  return { settings: { service_level: level, answer_secs: answer, concurrency, shrinkage } };
}

// Form units -> the API's query parameters.
export function staffingParams(settings) {
  const s = { ...STAFFING_DEFAULTS, ...(settings || {}) };
  return {
    target_service_level: round(s.service_level / 100, 4),
    target_answer_secs: s.answer_secs,
    concurrency: s.concurrency,
    shrinkage: round(s.shrinkage / 100, 4),
  };
}

// The API's settings -> form units.
export function staffingFromApi(settings) {
  if (!settings) return { ...STAFFING_DEFAULTS };
  return {
    service_level: round(Number(settings.target_service_level) * 100, 2),
    answer_secs: Number(settings.target_answer_secs),
    concurrency: Number(settings.concurrency),
    shrinkage: round(Number(settings.shrinkage) * 100, 2),
  };
}

function round(value, digits) {
  const factor = 10 ** digits;
  return Math.round(value * factor) / factor;
}

// The 24 hours of one weekday (0 = Monday) from the plan's 168.
export function staffingDay(hours, weekday) {
  const day = (hours || []).filter((hour) => hour.weekday === weekday);
  return day.sort((a, b) => a.hour - b.hour);
}

// ---------------------------------------------------------------------------------------------
// Headline figures (KPI tiles). Each definition is the README's, in the console's words.

export const DEFINITIONS = {
  conversations: 'Conversations that started in the period (whole days in the report’s time zone), narrowed by the filters: team (the conversation’s current team), operator (who handled it), channel (where it started) and tag.',
  first_response: 'From the customer’s first message, or from the assistant’s handoff when the assistant had the conversation first, to the first reply by a person. Median over the conversations that got one, in calendar time.',
  first_response_business: 'The same first response time counted only within open hours (the conversation’s team’s business hours, else the default ones). Absent when no business hours are set.',
  waiting_before_assignment: 'From the customer’s first message (or the assistant’s handoff) to the first assignment to a person. Median.',
  resolution: 'From the customer’s first message (or the conversation’s start) to its first resolution. Median.',
  first_contact_resolution: 'Among conversations people handled (assigned or replied) and resolved: the share resolved once, by one operator, and not reopened within 7 days of that resolution.',
  csat: 'The average rating (1 to 5) over the answers to satisfaction surveys of these conversations, and the share of ratings that are 4 or 5 (“satisfied”).',
  bot_resolved: 'The assistant answered from the knowledge base, never handed off, and no person was assigned or replied. A share of the conversations in which the customer wrote.',
  human_handled: 'A person was assigned or replied. A share of the conversations in which the customer wrote.',
  transfers: 'How many times conversations were transferred, and the share of conversations transferred at least once.',
  abandoned: 'The customer wrote and got no answer (no reply from a person, no answer from the assistant), and the conversation was resolved or has been silent for 24 hours. A share of the conversations in which the customer wrote.',
  waiting_now: 'Conversations waiting for a person right now: the customer wrote and nobody is assigned.',
  longest_wait: 'How long the conversation that has waited longest has been waiting for a person.',
  available_operators: 'Operators who are online and set to Available, of those online.',
  today_first_response: 'Median first response time of today’s conversations (since midnight in the report’s time zone).',
  today_csat: 'Average rating of today’s survey answers, with the share of 4 and 5.',
  replies_failed: 'Replies through SMS, email or social channels that could not be delivered in the last 24 hours (the provider refused them or every retry failed), and those now waiting for a retry.',
  webhooks_failing: 'Outgoing webhook deliveries that failed for good in the last 24 hours, and those now waiting for a retry.',
  webhooks_refused: 'Calls to the channel webhooks (Twilio, Meta, email) refused in the last 24 hours for a missing or wrong signature or credentials: a misconfigured provider, or someone probing.',
  rate_limited: 'Times a client went over a request-rate limit in the last 24 hours, counted once per client and minute: by address, by visitor, by operator session.',
};

// The tiles of the System card (GET /api/reports/system): [{key, label, value, detail, definition}].
export function systemTiles(system) {
  const s = system || {};
  const replies = s.replies || {};
  const webhooks = s.webhooks || {};
  const refused = s.inbound_rejected_24h || {};
  const limited = s.rate_limited_24h || {};
  const sum = (o) => Object.values(o).reduce((a, n) => a + (Number(n) || 0), 0);
  const tile = (key, label, value, detail) => ({ key, label, value, detail, definition: DEFINITIONS[key] });
  const byName = (o) => {
    const named = Object.entries(o).filter(([, n]) => n > 0).map(([name, n]) => `${name} ${formatCount(n)}`);
    return named.length ? named.join(', ') : 'None';
  };
  return [
    tile('replies_failed', 'Replies not delivered (24 h)', formatCount(replies.failed_24h ?? 0), `${formatCount(replies.retrying ?? 0)} retrying`),
    tile('webhooks_failing', 'Webhooks failed (24 h)', formatCount(webhooks.failed_24h ?? 0), `${formatCount(webhooks.retrying ?? 0)} retrying`),
    tile('webhooks_refused', 'Channel webhooks refused (24 h)', formatCount(sum(refused)), byName(refused)),
    tile('rate_limited', 'Rate-limited (24 h)', formatCount(sum(limited)), byName(limited)),
  ];
}

function durationDetail(stats) {
  if (!stats || !stats.count) return 'None yet';
  return `mean ${formatSeconds(stats.mean_s)}, 90% within ${formatSeconds(stats.p90_s)}, over ${plural(stats.count, 'conversation')}`;
}

// The tiles for a summary: [{key, label, value, detail, definition}].
export function kpiTiles(summary) {
  const s = summary || {};
  const csat = s.csat || {};
  const transfers = s.transfers || {};
  const tile = (key, label, value, detail) => ({ key, label, value, detail, definition: DEFINITIONS[key] });
  return [
    tile('conversations', 'Conversations', formatCount(s.conversations ?? 0), `${formatCount(s.with_customer_message ?? 0)} with a customer message`),
    tile('first_response', 'First response time', formatSeconds(s.first_response?.median_s), durationDetail(s.first_response)),
    tile('first_response_business', 'First response in business hours', formatSeconds(s.first_response_business?.median_s), durationDetail(s.first_response_business)),
    tile('waiting_before_assignment', 'Waiting before assignment', formatSeconds(s.waiting_before_assignment?.median_s), durationDetail(s.waiting_before_assignment)),
    tile('resolution', 'Resolution time', formatSeconds(s.resolution?.median_s), durationDetail(s.resolution)),
    tile('first_contact_resolution', 'First-contact resolution', formatPercent(s.first_contact_resolution?.rate), shareDetail(s.first_contact_resolution, 'resolved conversation')),
    tile('csat', 'CSAT', formatCsat(csat), csat.responses ? `${formatPercent(csat.satisfied?.rate)} satisfied, ${plural(csat.responses, 'answer')}` : 'No survey answers yet'),
    tile('bot_resolved', 'Handled by the assistant alone', formatPercent(s.bot_resolved?.rate), shareDetail(s.bot_resolved, 'conversation')),
    tile('human_handled', 'Handled by people', formatPercent(s.human_handled?.rate), shareDetail(s.human_handled, 'conversation')),
    tile('transfers', 'Transfers', formatCount(transfers.total ?? 0), transfers.conversations?.of ? `${formatPercent(transfers.conversations.rate)} of conversations transferred` : 'None'),
    tile('abandoned', 'Abandoned', formatPercent(s.abandoned?.rate), shareDetail(s.abandoned, 'conversation')),
  ];
}

function shareDetail(share, noun) {
  if (!share || !share.of) return 'Nothing to count yet';
  return `${formatCount(share.count)} of ${plural(share.of, noun)}`;
}

// ---------------------------------------------------------------------------------------------
// Live panel

// The longest wait now, in seconds: the server's figure when it answered plus the time since
// (so no clock difference between browser and server matters); null when nobody waits.
export function longestWaitNow(live, receivedAtMs, nowMs) {
  if (!live || !live.waiting || live.longest_wait_s === null || live.longest_wait_s === undefined) return null;
  return Number(live.longest_wait_s) + Math.max(0, (nowMs - receivedAtMs) / 1000);
}

export function liveTiles(live, receivedAtMs, nowMs) {
  const l = live || {};
  const today = l.today || {};
  const wait = longestWaitNow(l, receivedAtMs, nowMs);
  const tile = (key, label, value, detail) => ({ key, label, value, detail, definition: DEFINITIONS[key] });
  return [
    tile('waiting_now', 'Waiting now', formatCount(l.waiting ?? 0), l.with_assistant ? `${formatCount(l.with_assistant)} with the assistant` : 'for a person'),
    tile('longest_wait', 'Longest wait', wait === null ? DASH : formatSeconds(wait), wait === null ? 'Nobody is waiting' : 'and counting'),
    tile('available_operators', 'Available operators', formatCount(l.available_operators ?? 0), `of ${formatCount(l.online_operators ?? 0)} online, ${plural(l.capacity_available ?? 0, 'free chat slot')}`),
    tile('today_first_response', 'First response today', formatSeconds(today.first_response?.median_s), today.first_response?.count ? `median over ${plural(today.first_response.count, 'conversation')}` : `${plural(today.conversations ?? 0, 'conversation')} today`),
    tile('today_csat', 'CSAT today', formatCsat(today.csat), today.csat?.responses ? `${formatPercent(today.csat.satisfied?.rate)} satisfied, ${plural(today.csat.responses, 'answer')}` : 'No answers today'),
  ];
}

// ---------------------------------------------------------------------------------------------
// Tables: {caption, columns: [{label, numeric}], rows: [[cell, ...]]}; the first cell of a row
// is its header. Cells are text.

function col(label, numeric = true) {
  return { label, numeric };
}

export function dailyTable(daily) {
  return {
    columns: [col('Day', false), col('Conversations'), col('Resolved'), col('First response (median)')],
    rows: (daily || []).map((day) => [shortDate(day.date), formatCount(day.conversations), formatCount(day.resolved), formatSeconds(day.first_response_median_s)]),
  };
}

export function operatorsTable(operators) {
  return {
    columns: [
      col('Operator', false), col('Conversations'), col('Resolved'), col('First response (median)'), col('Resolution (median)'),
      col('CSAT'), col('Concurrent (average)'), col('Concurrent (peak)'), col('Handling hours'),
    ],
    rows: (operators || []).map((o) => [
      o.name || `Operator #${o.operator_id}`, formatCount(o.conversations), formatCount(o.resolved), formatSeconds(o.first_response?.median_s),
      formatSeconds(o.resolution?.median_s), formatCsat(o.csat), formatDecimal(o.concurrent_average, 1), formatCount(o.concurrent_peak),
      formatDecimal(o.handling_hours, 1),
    ]),
  };
}

export function tagsTable(tags) {
  return {
    columns: [col('Tag', false), col('Conversations'), col('Resolved'), col('Resolution (median)'), col('Resolution (mean)'), col('90% resolved within')],
    rows: (tags || []).map((t) => [
      t.name || `Tag #${t.tag_id}`, formatCount(t.conversations), formatCount(t.resolution?.count ?? 0), formatSeconds(t.resolution?.median_s),
      formatSeconds(t.resolution?.mean_s), formatSeconds(t.resolution?.p90_s),
    ]),
  };
}

export function trafficTable(traffic) {
  const counts = (traffic && traffic.counts) || [];
  return {
    columns: [col('Day', false), ...Array.from({ length: 24 }, (_, hour) => col(`${String(hour).padStart(2, '0')}:00`))],
    rows: WEEKDAYS.map((name, weekday) => [name, ...Array.from({ length: 24 }, (_, hour) => formatCount((counts[weekday] || [])[hour] || 0))]),
  };
}

export function staffingTable(day) {
  return {
    columns: [
      col('Hour', false), col('Conversations per hour'), col('Needed on chat'), col('To roster'), col('Actually available'),
      col('Expected service level'), col('Expected average answer'),
    ],
    rows: (day || []).map((h) => [
      hourRange(h.hour), formatDecimal(h.arrivals_per_hour, 2), h.plan ? formatCount(h.plan.operators_needed) : DASH,
      h.plan ? formatCount(h.plan.rostered) : DASH, formatDecimal(h.actual_operators, 1),
      h.plan ? formatPercent(h.plan.service_level) : DASH, h.plan ? formatSeconds(h.plan.average_answer_secs) : DASH,
    ]),
  };
}

// The CSV file of a table: /api/reports/<kind>?format=csv with the filters.
export const CSV_KINDS = ['daily', 'operators', 'tags', 'traffic', 'staffing'];
export function csvHref(kind, filters, { today, timeZone, extra } = {}) {
  return `/api/reports/${kind}${reportQuery(filters, { today, timeZone, extra: { ...(extra || {}), format: 'csv' } })}`;
}
