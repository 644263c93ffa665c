// The Reports area's words, numbers and charts as plain functions (static/console/reports-logic.js
// and reports-charts.js): durations and shares as people read them, the filters to and from the
// hash and the API's query, the staffing form, the live panel's ticking wait, the tables, and
// the SVG trees (axes, labels, accessible names, the heatmap's cells). No app and no browser:
// node's test runner only.
//
// static/ has no package.json saying "type": "module", so node 20 would read the files as
// CommonJS; they are loaded as modules from their source instead (they import nothing).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';

async function load(name) {
  const source = await readFile(new URL(`../../static/console/${name}`, import.meta.url), 'utf8');
  assert.doesNotMatch(source, /^import /m, `${name} imports nothing (it is loaded from its source)`);
  assert.doesNotMatch(source, /\bdocument\.|\bwindow\./, `${name} does not touch the DOM`);
  return import(`data:text/javascript;charset=utf-8,${encodeURIComponent(source)}`);
}

const logic = await load('reports-logic.js');
const charts = await load('reports-charts.js');
const {
  addDays, clockIn, csvHref, customRangeError, dailyTable, DEFINITIONS, filtersFromParams, filtersToParams, formatCsat,
  formatPercent, formatSeconds, formatShare, hourRange, isIsoDate, kpiTiles, liveTiles, longestWaitNow, systemTiles, normalizeFilters,
  operatorsTable, periodLabel, periodRange, readStaffingForm, reportQuery, staffingDay, staffingFromApi, staffingParams,
  staffingTable, tagsTable, trafficTable,
} = logic;
const {
  categoryChart, dailyChart, dailySummary, heatLevel, heatmap, heatmapSummary, niceScale, staffingChart, staffingSummary,
  textOf, walk,
} = charts;

const find = (tree, predicate) => [...walk(tree)].filter(predicate);
const byClass = (tree, name) => find(tree, (n) => String(n.attrs.class || '').split(' ').includes(name));

test('durations read like people say them', () => {
  assert.equal(formatSeconds(0), '0 s');
  assert.equal(formatSeconds(0.052), '< 1 s');
  assert.equal(formatSeconds(45), '45 s');
  assert.equal(formatSeconds(59.6), '1 min');
  assert.equal(formatSeconds(150), '2 min 30 s');
  assert.equal(formatSeconds(120), '2 min');
  assert.equal(formatSeconds(3900), '1 h 5 min');
  assert.equal(formatSeconds(7200), '2 h');
  assert.equal(formatSeconds(86_400 * 2 + 3600 * 4), '2 d 4 h');
  assert.equal(formatSeconds(null), '–');
  assert.equal(formatSeconds(undefined), '–');
  assert.equal(formatSeconds(-3), '–');
  assert.equal(formatSeconds(Number.NaN), '–');
});

test('shares read as percentages, with a decimal only where it matters', () => {
  assert.equal(formatPercent(2 / 3), '67%');
  assert.equal(formatPercent(1), '100%');
  assert.equal(formatPercent(0), '0%');
  assert.equal(formatPercent(0.125), '12.5%');
  assert.equal(formatPercent(0.004), '< 1%');
  assert.equal(formatPercent(null), '–');
  assert.equal(formatShare({ count: 2, of: 3, rate: 2 / 3 }), '67% (2 of 3)');
  assert.equal(formatShare({ count: 0, of: 0, rate: null }), '–');
  assert.equal(formatCsat({ responses: 4, average: 4.25 }), '4.3 / 5');
  assert.equal(formatCsat({ responses: 0, average: null }), '–');
});

test('dates: validity, arithmetic across months and years, period labels, hours', () => {
  assert.ok(isIsoDate('2026-02-28'));
  assert.ok(!isIsoDate('2026-02-30'));
  assert.ok(!isIsoDate('26-02-01'));
  assert.equal(addDays('2026-03-01', -1), '2026-02-28');
  assert.equal(addDays('2026-12-31', 1), '2027-01-01');
  assert.equal(periodLabel('2026-11-20', '2026-11-26'), '20 Nov – 26 Nov 2026');
  assert.equal(periodLabel('2025-12-28', '2026-01-03'), '28 Dec 2025 – 3 Jan 2026');
  assert.equal(periodLabel('2026-11-26', '2026-11-26'), '26 Nov 2026');
  assert.equal(hourRange(9), '09:00–10:00');
  assert.equal(hourRange(23), '23:00–00:00');
  // 2026-11-26 09:30 UTC is a Thursday; in Tokyo it is 18:30 the same day, in Honolulu 23:30 the day before.
  const at = Date.UTC(2026, 10, 26, 9, 30);
  assert.deepEqual(clockIn('UTC', at), { date: '2026-11-26', weekday: 3, hour: 9 });
  assert.deepEqual(clockIn('Asia/Tokyo', at), { date: '2026-11-26', weekday: 3, hour: 18 });
  assert.deepEqual(clockIn('Pacific/Honolulu', at), { date: '2026-11-25', weekday: 2, hour: 23 });
});

test('period presets become from/to in the report’s days', () => {
  const today = '2026-11-26';
  assert.deepEqual(periodRange({ period: 'today' }, today), { from: today, to: today });
  assert.deepEqual(periodRange({ period: '7d' }, today), { from: '2026-11-20', to: today });
  assert.deepEqual(periodRange({ period: '30d' }, today), { from: '2026-10-28', to: today });
  assert.deepEqual(periodRange({ period: 'custom', from: '2026-01-01', to: '2026-01-31' }, today), { from: '2026-01-01', to: '2026-01-31' });
  assert.equal(customRangeError('2026-02-01', '2026-01-01').field, 'from');
  assert.equal(customRangeError('2026-01-01', '').field, 'to');
  assert.match(customRangeError('2024-01-01', '2026-01-01').message, /at most 366 days/);
  assert.equal(customRangeError('2026-01-01', '2026-01-01'), null);
});

test('filters survive the hash round trip; junk from a hand-edited hash is dropped', () => {
  const filters = { period: '30d', from: '', to: '', team: '2', operator: '', channel: 'sms', tag: '17' };
  const params = filtersToParams(filters);
  assert.equal(params, 'period=30d&team=2&channel=sms&tag=17');
  assert.deepEqual(filtersFromParams(`?${params}`), filters);
  assert.equal(filtersToParams(normalizeFilters({})), '', 'the defaults need no hash');
  assert.deepEqual(
    filtersFromParams('period=custom&from=2026-01-01&to=2026-01-31&team=abc&operator=0&channel=fax&tag=<b>&evil=1'),
    { period: 'custom', from: '2026-01-01', to: '2026-01-31', team: '', operator: '', channel: '', tag: '' },
  );
  assert.equal(filtersFromParams('period=custom&from=2026-02-01&to=2026-01-01').period, '7d', 'an impossible custom range falls back');
  assert.equal(filtersFromParams('period=forever').period, '7d');
});

test('the API query carries the period, the time zone, the filters and the report’s settings', () => {
  const filters = normalizeFilters({ period: '7d', team: '2', channel: 'web', tag: '5' });
  const q = new URLSearchParams(reportQuery(filters, { today: '2026-11-26', timeZone: 'Europe/Berlin' }).slice(1));
  assert.deepEqual(Object.fromEntries(q), { from: '2026-11-20', to: '2026-11-26', tz: 'Europe/Berlin', team: '2', channel: 'web', tag: '5' });
  const csv = csvHref('staffing', filters, { today: '2026-11-26', timeZone: 'UTC', extra: staffingParams({ service_level: 90, answer_secs: 30, concurrency: 2, shrinkage: 25 }) });
  assert.ok(csv.startsWith('/api/reports/staffing?'));
  const c = new URLSearchParams(csv.split('?')[1]);
  assert.equal(c.get('format'), 'csv');
  assert.equal(c.get('target_service_level'), '0.9');
  assert.equal(c.get('target_answer_secs'), '30');
  assert.equal(c.get('concurrency'), '2');
  assert.equal(c.get('shrinkage'), '0.25');
});

test('the staffing form reads percentages and seconds, and names the field it refuses', () => {
  assert.deepEqual(readStaffingForm({ service_level: '80', answer_secs: '20', concurrency: '3', shrinkage: '30' }).settings,
    { service_level: 80, answer_secs: 20, concurrency: 3, shrinkage: 30 });
  assert.equal(readStaffingForm({ service_level: '100', answer_secs: '20', concurrency: '3', shrinkage: '30' }).error.field, 'service_level');
  assert.equal(readStaffingForm({ service_level: '80', answer_secs: '', concurrency: '3', shrinkage: '30' }).error.field, 'answer_secs');
  assert.equal(readStaffingForm({ service_level: '80', answer_secs: '20', concurrency: '2.5', shrinkage: '30' }).error.field, 'concurrency');
  assert.equal(readStaffingForm({ service_level: '80', answer_secs: '20', concurrency: '3', shrinkage: '95' }).error.field, 'shrinkage');
  assert.deepEqual(staffingFromApi({ target_service_level: 0.8, target_answer_secs: 20, concurrency: 3, shrinkage: 0.3 }),
    { service_level: 80, answer_secs: 20, concurrency: 3, shrinkage: 30 });
});

const SUMMARY = {
  conversations: 3,
  with_customer_message: 3,
  first_response: { count: 2, mean_s: 95, median_s: 90, p90_s: 150 },
  first_response_business: { count: 0, mean_s: null, median_s: null, p90_s: null },
  waiting_before_assignment: { count: 2, mean_s: 40, median_s: 40, p90_s: 60 },
  resolution: { count: 2, mean_s: 3600, median_s: 3600, p90_s: 5400 },
  first_contact_resolution: { count: 1, of: 2, rate: 0.5 },
  csat: { responses: 2, average: 4.5, satisfied: { count: 2, of: 2, rate: 1 } },
  bot_resolved: { count: 0, of: 3, rate: 0 },
  human_handled: { count: 2, of: 3, rate: 2 / 3 },
  transfers: { total: 1, conversations: { count: 1, of: 3, rate: 1 / 3 } },
  abandoned: { count: 1, of: 3, rate: 1 / 3 },
};

test('every headline figure has a tile with its value, detail and written definition', () => {
  const tiles = kpiTiles(SUMMARY);
  const byKey = Object.fromEntries(tiles.map((t) => [t.key, t]));
  assert.equal(byKey.conversations.value, '3');
  assert.equal(byKey.first_response.value, '1 min 30 s');
  assert.equal(byKey.first_response.detail, 'mean 1 min 35 s, 90% within 2 min 30 s, over 2 conversations');
  assert.equal(byKey.first_response_business.value, '–');
  assert.equal(byKey.resolution.value, '1 h');
  assert.equal(byKey.first_contact_resolution.value, '50%');
  assert.equal(byKey.csat.value, '4.5 / 5');
  assert.equal(byKey.csat.detail, '100% satisfied, 2 answers');
  assert.equal(byKey.human_handled.value, '67%');
  assert.equal(byKey.transfers.value, '1');
  assert.equal(byKey.abandoned.value, '33%');
  for (const tile of tiles) assert.ok(tile.definition && tile.definition.length > 40, `${tile.key} has a definition`);
  assert.match(DEFINITIONS.first_response, /assistant’s handoff/);
  // An empty period still has every tile, with dashes rather than NaN.
  for (const tile of kpiTiles({})) assert.doesNotMatch(`${tile.value} ${tile.detail}`, /NaN|undefined/);
});

test('the live panel’s longest wait ticks from the server’s figure, whatever the clocks say', () => {
  const live = { waiting: 2, longest_wait_s: 61, available_operators: 1, online_operators: 2, capacity_available: 2, today: { conversations: 4, first_response: { count: 1, median_s: 30 }, csat: { responses: 0 } } };
  assert.equal(longestWaitNow(live, 1_000, 1_000), 61);
  assert.equal(longestWaitNow(live, 1_000, 31_000), 91);
  assert.equal(longestWaitNow({ ...live, waiting: 0 }, 1_000, 31_000), null);
  const tiles = Object.fromEntries(liveTiles(live, 1_000, 31_000).map((t) => [t.key, t]));
  assert.equal(tiles.waiting_now.value, '2');
  assert.equal(tiles.longest_wait.value, '1 min 31 s');
  assert.equal(tiles.available_operators.detail, 'of 2 online, 2 free chat slots');
  assert.equal(tiles.today_first_response.value, '30 s');
  assert.equal(tiles.today_csat.value, '–');
  assert.equal(Object.fromEntries(liveTiles({ waiting: 0 }, 0, 0).map((t) => [t.key, t])).longest_wait.value, '–');
});

test('the System card sums refusals and names where they came from', () => {
  const tiles = Object.fromEntries(systemTiles({
    replies: { failed_24h: 2, retrying: 1 },
    webhooks: { failed_24h: 0, retrying: 3 },
    inbound_rejected_24h: { twilio: 4, meta: 0, postmark: 1, mailgun: 0, sendgrid: 0 },
    rate_limited_24h: { ip: 0, visitor: 0, operator: 0 },
  }).map((t) => [t.key, t]));
  assert.equal(tiles.replies_failed.value, '2');
  assert.equal(tiles.replies_failed.detail, '1 retrying');
  assert.equal(tiles.webhooks_failing.detail, '3 retrying');
  assert.equal(tiles.webhooks_refused.value, '5');
  assert.equal(tiles.webhooks_refused.detail, 'twilio 4, postmark 1');
  assert.equal(tiles.rate_limited.value, '0');
  assert.equal(tiles.rate_limited.detail, 'None');
  assert.match(tiles.rate_limited.definition, /once per client and minute/);
  for (const tile of systemTiles({})) assert.doesNotMatch(`${tile.value} ${tile.detail}`, /NaN|undefined/);
});

test('tables: names stay as they are (they become text), numbers are formatted', () => {
  const ops = operatorsTable([{ operator_id: 4, name: '<img src=x onerror=alert(1)>', conversations: 3, resolved: 2, first_response: { median_s: 75 }, resolution: { median_s: 600 }, csat: { responses: 1, average: 5 }, concurrent_average: 1.46, concurrent_peak: 2, handling_hours: 0.5 }]);
  assert.equal(ops.columns[0].label, 'Operator');
  assert.deepEqual(ops.rows[0], ['<img src=x onerror=alert(1)>', '3', '2', '1 min 15 s', '10 min', '5 / 5', '1.5', '2', '0.5']);
  const tags = tagsTable([{ tag_id: 1, name: 'Billing', conversations: 2, resolution: { count: 1, median_s: 120, mean_s: 120, p90_s: 120 } }]);
  assert.deepEqual(tags.rows[0], ['Billing', '2', '1', '2 min', '2 min', '2 min']);
  const daily = dailyTable([{ date: '2026-11-26', conversations: 3, resolved: 2, first_response_median_s: null }]);
  assert.deepEqual(daily.rows[0], ['26 Nov', '3', '2', '–']);
  const counts = Array.from({ length: 7 }, () => Array(24).fill(0));
  counts[3][9] = 3;
  const traffic = trafficTable({ counts });
  assert.equal(traffic.rows.length, 7);
  assert.equal(traffic.columns.length, 25);
  assert.equal(traffic.rows[3][0], 'Thursday');
  assert.equal(traffic.rows[3][10], '3');
});

function week(plan) {
  const hours = [];
  for (let weekday = 0; weekday < 7; weekday += 1) {
    for (let hour = 0; hour < 24; hour += 1) hours.push({ weekday, hour, arrivals_per_hour: 0, actual_operators: 0, plan: plan(weekday, hour) });
  }
  return hours.reverse();
}

test('the staffing plan’s day is its 24 hours in order, with a sentence and a table', () => {
  const hours = week((weekday, hour) => (weekday === 2 && hour >= 9 && hour < 17
    ? { operators_needed: 2, rostered: 3, service_level: 0.85, average_answer_secs: 7.8 }
    : { operators_needed: 0, rostered: 0, service_level: 1, average_answer_secs: 0 }));
  const day = staffingDay(hours, 2);
  assert.equal(day.length, 24);
  assert.deepEqual(day.map((h) => h.hour), Array.from({ length: 24 }, (_, i) => i));
  assert.equal(staffingSummary(day, 2), 'Staffing plan for Wednesday: at most 3 to roster (09:00–10:00); 8 hours need operators, 8 of them had fewer available than needed.');
  const t = staffingTable(day);
  assert.deepEqual(t.rows[9], ['09:00–10:00', '0', '2', '3', '0', '85%', '8 s']);
  assert.equal(staffingSummary(staffingDay(week(() => null), 0), 0), 'Staffing plan for Monday: no plan (no handle time observed yet).');
  assert.equal(staffingTable(staffingDay(week(() => null), 0)).rows[0][2], '–');
});

test('a y axis ends on a round number in round steps', () => {
  assert.deepEqual(niceScale(0).ticks, [0, 1]);
  assert.deepEqual(niceScale(3).ticks, [0, 1, 2, 3]);
  assert.deepEqual(niceScale(7).ticks, [0, 2, 4, 6, 8]);
  assert.deepEqual(niceScale(42).ticks, [0, 10, 20, 30, 40, 50]);
  assert.deepEqual(niceScale(1234).ticks, [0, 500, 1000, 1500]);
});

test('a chart is an accessible image: role, a one-sentence label, title, desc, labelled axes', () => {
  const days = [
    { date: '2026-11-24', conversations: 1, resolved: 0, first_response_median_s: null },
    { date: '2026-11-25', conversations: 0, resolved: 0, first_response_median_s: null },
    { date: '2026-11-26', conversations: 3, resolved: 2, first_response_median_s: 30 },
  ];
  const tree = dailyChart(days);
  assert.equal(tree.tag, 'svg');
  assert.equal(tree.attrs.role, 'img');
  assert.equal(tree.attrs['aria-label'], 'Conversations per day, 24 Nov to 26 Nov: 4 in total, 2 resolved; the busiest day was 26 Nov with 3.');
  assert.equal(tree.attrs['aria-label'], dailySummary(days));
  assert.equal(textOf(tree.children[0]), 'Conversations per day');
  assert.equal(tree.children[0].tag, 'title');
  assert.equal(tree.children[1].tag, 'desc');
  const texts = find(tree, (n) => n.tag === 'text').map(textOf);
  for (const label of ['Conversations', 'Day', '24 Nov', '26 Nov', '0', '3', 'Resolved']) assert.ok(texts.includes(label), `the chart says ${label}`);
  const bars = byClass(tree, 'chart-bar');
  assert.equal(bars.length, 6, 'a bar for each day and series (a zero is flat)');
  assert.ok(bars.some((bar) => textOf(bar) === '26 Nov: 3 conversations'), 'each bar has its own title');
  for (const node of walk(tree)) {
    for (const [key, value] of Object.entries(node.attrs)) assert.doesNotMatch(String(value), /NaN|undefined/, `${node.tag} ${key}`);
    assert.ok(!('style' in node.attrs), 'no inline styles (the console’s CSP forbids them)');
  }
  assert.equal(dailySummary([{ date: '2026-11-26', conversations: 0, resolved: 0 }]), 'Conversations per day, 26 Nov: none.');
});

test('labels along x thin out so that thirty days stay legible', () => {
  const days = Array.from({ length: 30 }, (_, i) => ({ date: addDays('2026-10-28', i), conversations: i % 3, resolved: 0 }));
  const labels = byClass(dailyChart(days), 'chart-xlabels')[0].children;
  assert.ok(labels.length >= 6 && labels.length <= 15, `${labels.length} labels`);
});

test('the heatmap has a cell per weekday and hour, its count in words, levels by share of the busiest, and now outlined', () => {
  const counts = Array.from({ length: 7 }, () => Array(24).fill(0));
  counts[3][9] = 4;
  counts[0][14] = 1;
  const traffic = { counts, max: 4, total: 5 };
  const tree = heatmap(traffic, { now: { weekday: 3, hour: 9 } });
  assert.equal(tree.attrs.role, 'img');
  assert.equal(tree.attrs['aria-label'], 'Conversations by weekday and hour: 5 in total; the busiest hour was Thursday 09:00–10:00 with 4.');
  assert.equal(tree.attrs['aria-label'], heatmapSummary(traffic));
  const cells = byClass(tree, 'heat');
  assert.equal(cells.length, 7 * 24);
  const busy = cells.find((c) => c.attrs['data-weekday'] === 3 && c.attrs['data-hour'] === 9);
  assert.equal(textOf(busy.children[0]), 'Thursday 09:00–10:00: 4 conversations (now)');
  assert.ok(busy.attrs.class.includes('heat-is-now'));
  assert.equal(byClass(busy, 'heat-label')[0].children[0], '4');
  assert.ok(byClass(busy, 'heat-5').length, 'the busiest hour is the darkest');
  const quiet = cells.find((c) => c.attrs['data-weekday'] === 0 && c.attrs['data-hour'] === 14);
  assert.equal(textOf(quiet.children[0]), 'Monday 14:00–15:00: 1 conversation');
  assert.ok(byClass(quiet, 'heat-2').length);
  assert.equal(heatLevel(0, 4), 0);
  assert.equal(heatLevel(1, 100), 1);
  assert.equal(heatLevel(100, 100), 5);
  assert.equal(heatmapSummary({ counts, total: 0 }), 'Conversations by weekday and hour: none in this period.');
  const texts = find(tree, (n) => n.tag === 'text').map(textOf);
  for (const label of ['Mon', 'Sun', '00', '21', 'Fewer', 'More (busiest hour: 4)', 'This hour']) assert.ok(texts.includes(label), `the heatmap says ${label}`);
});

test('the staffing chart shows needed and rostered as bars and those available as a line', () => {
  const day = staffingDay(week((weekday, hour) => ({ operators_needed: hour === 10 ? 2 : 0, rostered: hour === 10 ? 3 : 0 })), 0);
  day[10].actual_operators = 1.5;
  const tree = staffingChart(day, 0);
  assert.equal(tree.attrs.role, 'img');
  assert.match(tree.attrs['aria-label'], /^Staffing plan for Monday: at most 3 to roster \(10:00–11:00\)/);
  const titles = find(tree, (n) => n.tag === 'title').map(textOf);
  assert.ok(titles.includes('10:00–11:00: 2 needed on chat'));
  assert.ok(titles.includes('10:00–11:00: 3 to roster'));
  assert.ok(titles.includes('10:00–11:00: 1.5 available on average'));
  assert.equal(byClass(tree, 'chart-line').length, 1);
  const texts = find(tree, (n) => n.tag === 'text').map(textOf);
  for (const label of ['Operators', 'Hour of the day', 'Needed on chat', 'To roster', 'Actually available']) assert.ok(texts.includes(label));
});

test('category charts keep marks inside the plot whatever the numbers', () => {
  const tree = categoryChart({
    title: 't', label: 'l', categories: [{ label: 'a' }, { label: 'b' }],
    series: [{ name: 's', kind: 'bar', values: [null, 0] }, { name: 'line', kind: 'line', values: [1e6, 0] }],
  });
  for (const rect of byClass(tree, 'chart-bar')) {
    assert.ok(Number(rect.attrs.y) >= 0 && Number(rect.attrs.height) >= 0);
  }
  for (const point of byClass(tree, 'chart-point')) assert.ok(Number(point.attrs.cy) >= 0);
});
