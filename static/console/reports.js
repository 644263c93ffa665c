// Reports (supervisor and admin): the numbers a support lead runs the team by, from
// /api/reports/... A filter bar (period preset or dates, team, operator, channel, tag; kept in
// the hash, #reports?period=30d&tag=3, and in storage so a reload keeps them), the live panel
// (waiting now, longest wait ticking, available operators, today's first response and CSAT),
// headline figures with their definitions, conversations per day, the weekday × hour heatmap,
// operators, resolution by tag, and the staffing plan with its settings. Every chart has its
// numbers as a real table too, and every table a CSV download with the same filters.
//
// The live panel refetches soon after any queue-changing event of the console's event stream
// (app.js emits conversations:changed), every 30 s for presence, and ticks its longest wait
// every second. Words, numbers and filters are reports-logic.js; the SVG is reports-charts.js.
//
// Text from the network (operator, tag and team names) goes in with textContent only; SVG is
// built with createElementNS and setAttribute.

import {
  button, debounce, el, handleAuthError, hasRole, on, reportsApi, select, state, store,
} from './core.js';
import {
  CHANNELS, clockIn, csvHref, customRangeError, dailyTable, DEFAULT_FILTERS, filtersFromParams, filtersToParams,
  formatCount, formatSeconds, kpiTiles, liveTiles, systemTiles, longestWaitNow, normalizeFilters, operatorsTable, periodLabel,
  PERIODS, readStaffingForm, reportQuery, STAFFING_DEFAULTS, staffingDay, staffingParams, staffingTable, tagsTable,
  trafficTable, WEEKDAYS,
} from './reports-logic.js';
import {
  dailyChart, heatmap, staffingChart, SVG_NS,
} from './reports-charts.js';

const LIVE_REFRESH_MS = 30_000;
const TICK_MS = 1_000;
const CATCH_UP_RETRY_MS = 3_000;
const FILTERS_KEY = 'reports:filters';
const STAFFING_KEY = 'reports:staffing';

const $ = (id) => document.getElementById(id);
const ui = {};
const view = {
  filters: { ...DEFAULT_FILTERS },
  staffing: { ...STAFFING_DEFAULTS },
  weekday: null, // the staffing chart's weekday; today's until chosen
  timeZone: browserTimeZone(),
  seq: 0,
  liveSeq: 0,
  live: null,
  liveAt: 0,
  plan: null,
  shown: false,
};
let liveTimer = null;
let tickTimer = null;
let catchUpTimer = null;
let counter = 0;
const nextId = (prefix) => `reports-${prefix}-${++counter}`;

function browserTimeZone() {
  try {
    return Intl.DateTimeFormat().resolvedOptions().timeZone || 'UTC';
  } catch {
    return 'UTC';
  }
}

export function initReports() {
  ui.view = $('reports-view');
  ui.content = $('reports-content');
  ui.status = $('reports-status');
  on('view:shown', ({ view: shown, params }) => {
    if (shown === 'reports') startReports(params);
    else stopReports();
  });
  on('conversations:changed', () => {
    if (view.shown) liveSoon();
  });
  on('directory:changed', () => {
    if (view.shown) fillPickers();
  });
}

export function resetReports() {
  stopReports();
  if (ui.content) ui.content.replaceChildren();
  if (ui.status) ui.status.textContent = '';
  view.live = null;
  view.plan = null;
}

function startReports(params) {
  if (!hasRole('supervisor')) return;
  stopReports();
  view.shown = true;
  let stored = null;
  try { stored = JSON.parse(store.get(FILTERS_KEY) || 'null'); } catch { /* defaults */ }
  view.filters = params !== undefined && params !== null ? filtersFromParams(params) : normalizeFilters(stored);
  try {
    const saved = JSON.parse(store.get(STAFFING_KEY) || 'null');
    const read = saved && readStaffingForm(saved);
    view.staffing = read && read.settings ? read.settings : { ...STAFFING_DEFAULTS };
  } catch { view.staffing = { ...STAFFING_DEFAULTS }; }
  build();
  keepFilters();
  loadAll();
  liveTimer = setInterval(loadLive, LIVE_REFRESH_MS);
  tickTimer = setInterval(tick, TICK_MS);
}

function stopReports() {
  view.shown = false;
  clearInterval(liveTimer);
  clearInterval(tickTimer);
  clearTimeout(catchUpTimer);
  liveTimer = null;
  tickTimer = null;
  liveSoon.cancel();
}

const liveSoon = debounce(() => loadLive(), 600);

function today() {
  return clockIn(view.timeZone).date;
}

function query(extra) {
  return reportQuery(view.filters, { today: today(), timeZone: view.timeZone, extra });
}

// The filters into the hash (without a history entry) and storage.
function keepFilters() {
  const params = filtersToParams(view.filters);
  store.set(FILTERS_KEY, JSON.stringify(view.filters));
  if (state.view === 'reports') {
    history.replaceState(null, '', `${window.location.pathname}${window.location.search}#reports${params ? `?${params}` : ''}`);
  }
}

// ---------------------------------------------------------------------------------------------
// The page's frame: built once per visit; the sections are filled as answers come.

function section(key, title, { csv, csvLabel } = {}) {
  const node = el('section', 'page-section report-section');
  node.dataset.report = key;
  const heading = el('h2', null, title);
  heading.id = nextId(`${key}-heading`);
  node.setAttribute('aria-labelledby', heading.id);
  const head = el('div', 'report-section-head');
  head.append(heading);
  const tools = el('div', 'report-tools');
  head.append(tools);
  if (csv) {
    const link = el('a', 'report-csv', 'Download CSV');
    link.dataset.csv = csv;
    link.setAttribute('download', '');
    link.setAttribute('aria-label', `Download CSV of ${csvLabel || title.toLowerCase()}`);
    tools.append(link);
  }
  const body = el('div', 'report-body');
  node.append(head, body);
  return { node, body, tools };
}

function build() {
  ui.content.replaceChildren();
  ui.filterBar = buildFilters();
  ui.banner = el('p', 'report-banner');
  ui.banner.setAttribute('role', 'status');
  ui.banner.hidden = true;
  ui.error = el('p', 'form-error report-error');
  ui.error.setAttribute('role', 'alert');
  ui.error.hidden = true;

  const live = section('live', 'Right now');
  ui.liveBody = live.body;
  ui.liveUpdated = el('span', 'muted small report-updated');
  live.tools.append(ui.liveUpdated);

  // Delivery failures, refused webhooks and rate limits, refreshed with the live panel.
  const system = section('system', 'System');
  ui.systemBody = system.body;

  const summary = section('summary', 'Summary');
  ui.summaryBody = summary.body;
  ui.period = el('p', 'muted report-period');
  summary.node.insertBefore(ui.period, summary.body);

  const daily = section('daily', 'Conversations per day', { csv: 'daily', csvLabel: 'conversations per day' });
  ui.dailyBody = daily.body;
  ui.dailyTools = daily.tools;

  const traffic = section('traffic', 'Traffic by weekday and hour', { csv: 'traffic', csvLabel: 'traffic by weekday and hour' });
  ui.trafficBody = traffic.body;
  ui.trafficTools = traffic.tools;

  const operators = section('operators', 'Operators', { csv: 'operators', csvLabel: 'operators' });
  ui.operatorsBody = operators.body;

  const tags = section('tags', 'Resolution time by tag', { csv: 'tags', csvLabel: 'resolution time by tag' });
  ui.tagsBody = tags.body;

  const staffing = section('staffing', 'Staffing plan', { csv: 'staffing', csvLabel: 'the staffing plan' });
  ui.staffingTools = staffing.tools;
  ui.staffingForm = buildStaffingForm();
  ui.staffingBody = el('div', 'report-staffing');
  staffing.body.append(ui.staffingForm, ui.staffingBody);

  ui.content.append(ui.filterBar, ui.error, ui.banner, live.node, system.node, summary.node, daily.node, traffic.node, operators.node, tags.node, staffing.node);
  updateCsvLinks();
}

// ---------------------------------------------------------------------------------------------
// Filter bar

function labelled(text, control, className = 'field') {
  const wrap = el('div', className);
  control.id = control.id || nextId('field');
  const label = el('label', 'field-label', text);
  label.htmlFor = control.id;
  wrap.append(label, control);
  return wrap;
}

function dateInput(value) {
  const node = document.createElement('input');
  node.type = 'date';
  node.value = value || '';
  return node;
}

function buildFilters() {
  const form = el('form', 'report-filters');
  form.setAttribute('aria-label', 'Report filters');
  form.noValidate = true;
  ui.periodSelect = select(PERIODS, view.filters.period);
  ui.periodSelect.id = 'reports-period';
  const range = periodOf(view.filters);
  ui.fromInput = dateInput(view.filters.from || range.from);
  ui.fromInput.id = 'reports-from';
  ui.toInput = dateInput(view.filters.to || range.to);
  ui.toInput.id = 'reports-to';
  ui.applyDates = button('Apply dates', 'ghost small report-apply');
  ui.applyDates.type = 'submit';
  ui.custom = el('div', 'report-custom');
  ui.custom.append(labelled('From', ui.fromInput), labelled('To', ui.toInput), ui.applyDates);
  ui.custom.hidden = view.filters.period !== 'custom';
  ui.teamSelect = select([['', 'All teams']], '');
  ui.teamSelect.id = 'reports-team';
  ui.operatorSelect = select([['', 'All operators']], '');
  ui.operatorSelect.id = 'reports-operator';
  ui.channelSelect = select([['', 'All channels'], ...CHANNELS], view.filters.channel);
  ui.channelSelect.id = 'reports-channel';
  ui.tagSelect = select([['', 'All tags']], '');
  ui.tagSelect.id = 'reports-tag';
  ui.zone = el('p', 'muted small report-zone', `Days and hours in ${view.timeZone}`);
  // The period's figures are fetched when the filters change (the live panel keeps itself up
  // to date); this fetches them again on demand.
  const refresh = button('Refresh', 'ghost small report-refresh', () => loadAll());
  refresh.setAttribute('aria-label', 'Refresh the figures');
  form.append(
    labelled('Period', ui.periodSelect), ui.custom, labelled('Team', ui.teamSelect), labelled('Operator', ui.operatorSelect),
    labelled('Channel', ui.channelSelect), labelled('Tag', ui.tagSelect), ui.zone, refresh,
  );
  fillPickers();

  ui.periodSelect.addEventListener('change', () => {
    const period = ui.periodSelect.value;
    ui.custom.hidden = period !== 'custom';
    if (period === 'custom') {
      const current = periodOf(view.filters);
      ui.fromInput.value = current.from;
      ui.toInput.value = current.to;
      ui.fromInput.focus();
      return; // applied with "Apply dates"
    }
    setFilters({ period, from: '', to: '' });
  });
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    if (ui.periodSelect.value !== 'custom') return;
    const problem = customRangeError(ui.fromInput.value, ui.toInput.value);
    if (problem) {
      showError(problem.message);
      (problem.field === 'to' ? ui.toInput : ui.fromInput).focus();
      return;
    }
    setFilters({ period: 'custom', from: ui.fromInput.value, to: ui.toInput.value });
  });
  for (const [control, key] of [[ui.teamSelect, 'team'], [ui.operatorSelect, 'operator'], [ui.channelSelect, 'channel'], [ui.tagSelect, 'tag']]) {
    control.addEventListener('change', () => setFilters({ [key]: control.value }));
  }
  return form;
}

function periodOf(filters) {
  const q = new URLSearchParams(reportQuery(filters, { today: today() }).slice(1));
  return { from: q.get('from'), to: q.get('to') };
}

// Team, operator and tag pickers from the console's directory (GET /api/inbox/teams,
// /operators, /tags, loaded by app.js); a chosen id that is not (yet) there stays chosen.
function fillPickers() {
  if (!ui.teamSelect) return;
  const fill = (control, first, items, chosen, name) => {
    const options = [['', first], ...items.map((item) => [String(item.id), name(item)])];
    if (chosen && !items.some((item) => String(item.id) === chosen)) options.push([chosen, `#${chosen}`]);
    const replacement = select(options, chosen);
    control.replaceChildren(...replacement.children);
    control.value = chosen;
  };
  fill(ui.teamSelect, 'All teams', state.teams || [], view.filters.team, (team) => team.name);
  fill(ui.operatorSelect, 'All operators', state.operators || [], view.filters.operator, (operator) => operator.name || operator.email);
  fill(ui.tagSelect, 'All tags', state.tags || [], view.filters.tag, (tag) => tag.name);
}

function setFilters(change) {
  view.filters = normalizeFilters({ ...view.filters, ...change });
  hideError();
  keepFilters();
  updateCsvLinks();
  loadAll();
}

function showError(text) {
  ui.error.textContent = text;
  ui.error.hidden = false;
}
function hideError() {
  ui.error.hidden = true;
  ui.error.textContent = '';
}

function updateCsvLinks() {
  if (!ui.content) return;
  for (const link of ui.content.querySelectorAll('a[data-csv]')) {
    const extra = link.dataset.csv === 'staffing' ? staffingParams(view.staffing) : undefined;
    link.href = csvHref(link.dataset.csv, view.filters, { today: today(), timeZone: view.timeZone, extra });
  }
}

// ---------------------------------------------------------------------------------------------
// Loading

async function loadAll() {
  const generation = state.generation;
  view.seq += 1;
  const mine = view.seq;
  clearTimeout(catchUpTimer);
  ui.content.setAttribute('aria-busy', 'true');
  ui.status.textContent = 'Loading…';
  const q = query();
  const results = await Promise.allSettled([
    reportsApi(`/summary${q}`),
    reportsApi(`/traffic${q}`),
    reportsApi(`/operators${q}`),
    reportsApi(`/tags${q}`),
    reportsApi(`/staffing${query(staffingParams(view.staffing))}`),
  ]);
  if (generation !== state.generation || mine !== view.seq || !view.shown) return;
  ui.content.removeAttribute('aria-busy');
  const failure = results.find((result) => result.status === 'rejected');
  if (failure) {
    const error = failure.reason;
    if (handleAuthError(error)) return;
    // A browser time zone the server does not know: fall back to UTC once.
    if (error && error.code === 'invalid_input' && /^tz\b/.test(error.message) && view.timeZone !== 'UTC') {
      view.timeZone = 'UTC';
      ui.zone.textContent = `Days and hours in ${view.timeZone}`;
      updateCsvLinks();
      loadAll();
      return;
    }
    showError(`Could not load the reports: ${error ? error.message : 'unknown error'}`);
    ui.status.textContent = '';
  }
  const [summary, traffic, operators, tags, staffing] = results.map((result) => (result.status === 'fulfilled' ? result.value : null));
  if (summary) renderSummary(summary);
  if (traffic) renderTraffic(traffic);
  if (operators) renderOperators(operators);
  if (tags) renderTags(tags);
  if (staffing) renderStaffing(staffing);
  const answered = [summary, traffic, operators, tags, staffing].filter(Boolean);
  const behind = answered.some((report) => report.caught_up === false);
  ui.banner.hidden = !behind;
  ui.banner.textContent = behind ? 'Still catching up with recent activity: some figures may be missing. They update by themselves in a moment.' : '';
  if (behind) catchUpTimer = setTimeout(loadAll, CATCH_UP_RETRY_MS);
  if (!failure) ui.status.textContent = `Updated ${new Date().toLocaleTimeString()}`;
  loadLive();
}

async function loadLive() {
  const generation = state.generation;
  view.liveSeq += 1;
  const mine = view.liveSeq;
  try {
    const live = await reportsApi(`/live?tz=${encodeURIComponent(view.timeZone)}`);
    if (generation !== state.generation || mine !== view.liveSeq || !view.shown) return;
    view.live = live;
    view.liveAt = Date.now();
    renderLive();
    const system = await reportsApi('/system');
    if (generation !== state.generation || mine !== view.liveSeq || !view.shown || !ui.systemBody) return;
    ui.systemBody.replaceChildren(tiles(systemTiles(system), 'System'));
  } catch (error) {
    if (handleAuthError(error)) return;
    if (ui.liveUpdated) ui.liveUpdated.textContent = `Could not refresh: ${error.message}`;
  }
}

// ---------------------------------------------------------------------------------------------
// Rendering

function svg(tree) {
  if (typeof tree === 'string') return document.createTextNode(tree);
  const node = document.createElementNS(SVG_NS, tree.tag);
  for (const [key, value] of Object.entries(tree.attrs || {})) {
    if (key !== 'xmlns') node.setAttribute(key, String(value));
  }
  for (const child of tree.children || []) node.append(svg(child));
  return node;
}

// A real table from {columns, rows}; the first cell of each row is its header.
function table(model, caption, className = '') {
  const node = el('table', `table report-table ${className}`.trim());
  node.append(el('caption', 'visually-hidden', caption));
  const head = el('thead');
  const headRow = el('tr');
  for (const column of model.columns) {
    const th = el('th', column.numeric ? 'num' : null, column.label);
    th.scope = 'col';
    headRow.append(th);
  }
  head.append(headRow);
  const body = el('tbody');
  for (const cells of model.rows) {
    const tr = el('tr');
    cells.forEach((cell, i) => {
      const td = el(i === 0 ? 'th' : 'td', model.columns[i] && model.columns[i].numeric ? 'num' : null, cell);
      if (i === 0) td.scope = 'row';
      tr.append(td);
    });
    body.append(tr);
  }
  node.append(head, body);
  const wrap = el('div', 'table-scroll');
  wrap.append(node);
  return wrap;
}

// A chart with its numbers as a table: visually hidden (read by screen readers) until
// "Show as table" shows it to everyone.
function chartWithTable(key, tree, model, caption, tools) {
  const figure = el('div', 'report-chart');
  const scroll = el('div', 'chart-scroll');
  scroll.append(svg(tree));
  const tableWrap = table(model, caption, 'chart-table');
  tableWrap.id = `reports-${key}-table`;
  const shown = store.get(`reports:table:${key}`) === '1';
  tableWrap.classList.toggle('visually-hidden', !shown);
  figure.append(scroll, tableWrap);
  for (const old of tools.querySelectorAll('.report-table-toggle')) old.remove();
  const toggle = button('Show as table', 'ghost small report-table-toggle');
  toggle.setAttribute('aria-pressed', String(shown));
  toggle.setAttribute('aria-controls', tableWrap.id);
  toggle.addEventListener('click', () => {
    const next = toggle.getAttribute('aria-pressed') !== 'true';
    toggle.setAttribute('aria-pressed', String(next));
    tableWrap.classList.toggle('visually-hidden', !next);
    store.set(`reports:table:${key}`, next ? '1' : '0');
  });
  tools.prepend(toggle);
  return figure;
}

function empty(text) {
  return el('p', 'report-empty', text);
}

function tile(item) {
  const box = el('div', 'kpi');
  box.dataset.kpi = item.key;
  box.setAttribute('role', 'group');
  const label = el('span', 'kpi-label', item.label);
  label.id = nextId('kpi');
  box.setAttribute('aria-labelledby', label.id);
  const head = el('div', 'kpi-head');
  head.append(label);
  if (item.definition) {
    const tip = el('span', 'kpi-tip', item.definition);
    tip.id = nextId('def');
    tip.setAttribute('role', 'tooltip');
    const help = button('?', 'kpi-help');
    help.setAttribute('aria-label', `What is ${item.label}?`);
    help.setAttribute('aria-describedby', tip.id);
    help.setAttribute('aria-expanded', 'false');
    help.addEventListener('click', () => help.setAttribute('aria-expanded', String(help.getAttribute('aria-expanded') !== 'true')));
    help.addEventListener('keydown', (event) => {
      if (event.key === 'Escape') {
        help.setAttribute('aria-expanded', 'false');
        help.classList.add('kpi-help-dismissed');
      }
    });
    help.addEventListener('blur', () => {
      help.setAttribute('aria-expanded', 'false');
      help.classList.remove('kpi-help-dismissed');
    });
    head.append(help, tip);
  }
  const value = el('span', 'kpi-value', item.value);
  const detail = el('span', 'kpi-detail', item.detail);
  box.append(head, value, detail);
  return box;
}

function tiles(items, label) {
  const grid = el('div', 'kpis');
  grid.setAttribute('role', 'group');
  grid.setAttribute('aria-label', label);
  grid.append(...items.map(tile));
  return grid;
}

function renderLive() {
  if (!ui.liveBody || !view.live) return;
  const focused = document.activeElement && ui.liveBody.contains(document.activeElement)
    ? document.activeElement.closest('.kpi')?.dataset.kpi : null;
  ui.liveBody.replaceChildren(tiles(liveTiles(view.live, view.liveAt, Date.now()), 'Right now'));
  if (focused) ui.liveBody.querySelector(`.kpi[data-kpi="${focused}"] .kpi-help`)?.focus();
  ui.liveUpdated.textContent = `Live · updated ${new Date(view.liveAt).toLocaleTimeString()}`;
}

// The longest wait counts up between refreshes, without rebuilding anything else.
function tick() {
  if (!view.shown || !view.live || !ui.liveBody) return;
  const value = ui.liveBody.querySelector('.kpi[data-kpi="longest_wait"] .kpi-value');
  const wait = longestWaitNow(view.live, view.liveAt, Date.now());
  if (value && wait !== null) value.textContent = formatSeconds(wait);
}

function renderSummary(report) {
  const s = report.summary || {};
  ui.period.textContent = `${periodLabel(report.from, report.to)} · times in ${report.time_zone}`;
  if (!s.conversations) {
    ui.summaryBody.replaceChildren(empty('No conversations in this period.'), tiles(kpiTiles(s), 'Summary'));
  } else {
    ui.summaryBody.replaceChildren(tiles(kpiTiles(s), 'Summary'));
  }
  const daily = report.daily || [];
  const total = daily.reduce((sum, day) => sum + (Number(day.conversations) || 0), 0);
  ui.dailyBody.replaceChildren(chartWithTable('daily', dailyChart(daily), dailyTable(daily), 'Conversations per day', ui.dailyTools));
  if (!total) ui.dailyBody.prepend(empty('No conversations in this period.'));
}

function renderTraffic(report) {
  const traffic = report.traffic || {};
  const clock = clockIn(report.time_zone || view.timeZone);
  ui.trafficBody.replaceChildren(chartWithTable('traffic', heatmap(traffic, { now: { weekday: clock.weekday, hour: clock.hour } }), trafficTable(traffic), 'Conversations by weekday and hour', ui.trafficTools));
  if (!traffic.total) ui.trafficBody.prepend(empty('No conversations in this period.'));
}

function renderOperators(report) {
  const rows = report.operators || [];
  if (!rows.length) {
    ui.operatorsBody.replaceChildren(empty('No conversations handled by operators in this period.'));
    return;
  }
  ui.operatorsBody.replaceChildren(table(operatorsTable(rows), 'Operators: conversations, times, CSAT and concurrent load', 'operators-report'));
}

function renderTags(report) {
  const rows = report.tags || [];
  if (!rows.length) {
    ui.tagsBody.replaceChildren(empty('No tagged conversations in this period.'));
    return;
  }
  ui.tagsBody.replaceChildren(table(tagsTable(rows), 'Resolution time by tag', 'tags-report'));
}

// ---------------------------------------------------------------------------------------------
// Staffing plan

function numberInput(value, { min, max, step }) {
  const node = document.createElement('input');
  node.type = 'number';
  node.min = String(min);
  node.max = String(max);
  node.step = String(step);
  node.value = String(value);
  node.inputMode = 'decimal';
  return node;
}

function buildStaffingForm() {
  const form = el('form', 'report-staffing-form');
  form.noValidate = true;
  form.setAttribute('aria-label', 'Staffing plan settings');
  const fields = {
    service_level: numberInput(view.staffing.service_level, { min: 1, max: 99, step: 1 }),
    answer_secs: numberInput(view.staffing.answer_secs, { min: 1, max: 3600, step: 1 }),
    concurrency: numberInput(view.staffing.concurrency, { min: 1, max: 10, step: 1 }),
    shrinkage: numberInput(view.staffing.shrinkage, { min: 0, max: 90, step: 1 }),
  };
  ui.staffingFields = fields;
  const hintId = nextId('staffing-hint');
  const hint = el('p', 'field-hint report-staffing-hint', 'The plan answers this share of chats within this many seconds (Erlang C), with each operator taking this many chats at once; shrinkage is the paid time operators are not on chat (breaks, meetings, training).');
  hint.id = hintId;
  for (const control of Object.values(fields)) control.setAttribute('aria-describedby', hintId);
  ui.weekdaySelect = select(WEEKDAYS.map((name, i) => [i, name]), view.weekday ?? clockIn(view.timeZone).weekday);
  ui.weekdaySelect.id = 'reports-weekday';
  ui.staffingError = el('p', 'form-error');
  ui.staffingError.setAttribute('role', 'alert');
  ui.staffingError.hidden = true;
  const submit = button('Update plan', 'primary');
  submit.type = 'submit';
  const row = el('div', 'report-staffing-fields');
  row.append(
    labelled('Service level (%)', fields.service_level), labelled('Answered within (seconds)', fields.answer_secs),
    labelled('Chats at once', fields.concurrency), labelled('Shrinkage (%)', fields.shrinkage), submit,
  );
  form.append(row, hint, ui.staffingError, labelled('Day of the week', ui.weekdaySelect, 'field report-weekday'));
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    const values = Object.fromEntries(Object.entries(fields).map(([key, control]) => [key, control.value]));
    const read = readStaffingForm(values);
    for (const control of Object.values(fields)) control.removeAttribute('aria-invalid');
    if (read.error) {
      ui.staffingError.textContent = read.error.message;
      ui.staffingError.hidden = false;
      fields[read.error.field].setAttribute('aria-invalid', 'true');
      fields[read.error.field].focus();
      return;
    }
    ui.staffingError.hidden = true;
    view.staffing = read.settings;
    store.set(STAFFING_KEY, JSON.stringify(read.settings));
    updateCsvLinks();
    loadStaffing();
  });
  ui.weekdaySelect.addEventListener('change', () => {
    view.weekday = Number(ui.weekdaySelect.value);
    if (view.plan) renderStaffingDay();
  });
  return form;
}

let staffingSeq = 0;
async function loadStaffing() {
  const generation = state.generation;
  staffingSeq += 1;
  const mine = staffingSeq;
  ui.staffingBody.setAttribute('aria-busy', 'true');
  try {
    const report = await reportsApi(`/staffing${query(staffingParams(view.staffing))}`);
    if (generation !== state.generation || mine !== staffingSeq || !view.shown) return;
    renderStaffing(report);
  } catch (error) {
    if (handleAuthError(error)) return;
    ui.staffingError.textContent = error.message;
    ui.staffingError.hidden = false;
  } finally {
    ui.staffingBody.removeAttribute('aria-busy');
  }
}

function renderStaffing(report) {
  view.plan = report.staffing || null;
  renderStaffingDay();
}

function renderStaffingDay() {
  const plan = view.plan;
  if (!plan) return;
  const weekday = view.weekday ?? Number(ui.weekdaySelect.value);
  const day = staffingDay(plan.hours, weekday);
  const facts = el('p', 'muted report-staffing-facts');
  facts.textContent = plan.conversations
    ? `Based on ${formatCount(plan.conversations)} conversation${plan.conversations === 1 ? '' : 's'} in the period, with an average handle time of ${formatSeconds(plan.average_handle_s)}.`
    : 'No conversations in this period: the plan needs observed arrivals and handle times.';
  ui.staffingBody.replaceChildren(
    facts,
    chartWithTable('staffing', staffingChart(day, weekday), staffingTable(day), `Staffing plan for ${WEEKDAYS[weekday]}`, ui.staffingTools),
  );
}
