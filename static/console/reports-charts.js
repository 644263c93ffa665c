// The Reports area's charts as inline SVG, built by pure functions: each returns a plain tree
// ({tag, attrs, children}; a child that is a string is text) that reports.js turns into
// elements with createElementNS, setAttribute and text nodes, never markup, so a name can never
// become a tag. No imports and no DOM (tests/browser/reports-logic.test.mjs checks them).
//
// Every chart is role="img" with an aria-label that says what it shows in one sentence, and
// carries a <title> and <desc>; each mark has its own <title> for pointer users. The same
// numbers are always also in a real table beside the chart (reports.js), which is what screen
// reader and keyboard users read. Colours come from CSS classes (reports.css), so light and
// dark follow the console's theme and the page's CSP (no inline styles) holds.

export const SVG_NS = 'http://www.w3.org/2000/svg';

function node(tag, attrs = {}, children = []) {
  return { tag, attrs, children };
}

function text(x, y, content, attrs = {}) {
  return node('text', { x: fixed(x), y: fixed(y), ...attrs }, [String(content)]);
}

function fixed(value) {
  return Math.round(value * 10) / 10;
}

const WEEKDAYS = ['Monday', 'Tuesday', 'Wednesday', 'Thursday', 'Friday', 'Saturday', 'Sunday'];
const WEEKDAYS_SHORT = ['Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat', 'Sun'];
const pad = (hour) => String(hour % 24).padStart(2, '0');
const hourRange = (hour) => `${pad(hour)}:00–${pad(hour + 1)}:00`;

// A y axis that reads well: 0 to a round top in at most ~`ticks` round steps (1, 2 or 5 times a
// power of ten; whole steps for counts).
export function niceScale(max, { ticks = 5, integer = true } = {}) {
  const top = Math.max(Number(max) || 0, integer ? 1 : 0.1);
  const rough = top / ticks;
  const power = 10 ** Math.floor(Math.log10(rough));
  let step = [1, 2, 5, 10].map((m) => m * power).find((s) => s >= rough) || 10 * power;
  if (integer) step = Math.max(1, Math.round(step));
  const end = Math.ceil(top / step - 1e-9) * step;
  const values = [];
  for (let v = 0; v <= end + step / 2; v += step) values.push(Math.round(v * 1e6) / 1e6);
  return { max: end, step, ticks: values };
}

const LAYOUT = { width: 720, height: 290, top: 40, right: 16, bottom: 56, left: 60 };

// A chart of categories along x with bar and line series:
//   {title, desc, label (the aria-label), categories: [{label, long}],
//    series: [{name, kind: 'bar' | 'line', className, values: [number|null], unit}],
//    yTitle, xTitle, integer}
// A mark's <title> reads "<long>: <value> <unit>".
export function categoryChart(options) {
  const { width, height, top, right, bottom, left } = { ...LAYOUT, ...(options.layout || {}) };
  const categories = options.categories || [];
  const series = options.series || [];
  const n = Math.max(categories.length, 1);
  const plotW = width - left - right;
  const plotH = height - top - bottom;
  const all = series.flatMap((s) => s.values).filter((v) => Number.isFinite(v));
  const scale = niceScale(Math.max(0, ...all), { integer: options.integer !== false });
  const y = (v) => top + plotH - (Math.max(0, v) / scale.max) * plotH;
  const band = plotW / n;
  const bars = series.filter((s) => s.kind !== 'line');
  const groupW = band * (bars.length > 1 ? 0.78 : 0.64);
  const barW = groupW / Math.max(bars.length, 1);
  const center = (i) => left + band * i + band / 2;
  const format = (v) => (Number.isInteger(v) ? String(v) : String(Math.round(v * 10) / 10));

  const grid = node('g', { class: 'chart-grid', 'aria-hidden': 'true' });
  for (const tick of scale.ticks) {
    grid.children.push(node('line', { x1: left, x2: width - right, y1: fixed(y(tick)), y2: fixed(y(tick)), class: tick === 0 ? 'chart-axis' : 'chart-gridline' }));
    grid.children.push(text(left - 8, y(tick) + 4, format(tick), { class: 'chart-tick', 'text-anchor': 'end' }));
  }
  const labels = node('g', { class: 'chart-xlabels', 'aria-hidden': 'true' });
  const room = Math.max(1, Math.floor(plotW / 44));
  const every = Math.max(1, Math.ceil(categories.length / room));
  categories.forEach((category, i) => {
    if (i % every === 0) labels.children.push(text(center(i), top + plotH + 18, category.label, { class: 'chart-tick', 'text-anchor': 'middle' }));
  });
  const axisTitles = node('g', { class: 'chart-axis-titles', 'aria-hidden': 'true' });
  if (options.yTitle) {
    axisTitles.children.push(text(-(top + plotH / 2), 16, options.yTitle, { class: 'chart-axis-title', 'text-anchor': 'middle', transform: 'rotate(-90)' }));
  }
  if (options.xTitle) {
    axisTitles.children.push(text(left + plotW / 2, height - 10, options.xTitle, { class: 'chart-axis-title', 'text-anchor': 'middle' }));
  }

  const marks = node('g', { class: 'chart-marks' });
  bars.forEach((s, b) => {
    const group = node('g', { class: `chart-series ${s.className || ''}`.trim() });
    s.values.forEach((value, i) => {
      if (!Number.isFinite(value)) return;
      const x = center(i) - groupW / 2 + barW * b + (bars.length > 1 ? 1 : 0);
      const h = Math.max(value > 0 ? 1.5 : 0, top + plotH - y(value));
      group.children.push(node('rect', {
        class: 'chart-bar', x: fixed(x), y: fixed(top + plotH - h), width: fixed(Math.max(1, barW - (bars.length > 1 ? 2 : 0))), height: fixed(h),
      }, [node('title', {}, [`${categories[i]?.long ?? categories[i]?.label ?? ''}: ${format(value)} ${s.unit || s.name}`])]));
    });
    marks.children.push(group);
  });
  for (const s of series.filter((item) => item.kind === 'line')) {
    const group = node('g', { class: `chart-series ${s.className || ''}`.trim() });
    const points = s.values.map((value, i) => (Number.isFinite(value) ? `${fixed(center(i))},${fixed(y(value))}` : null)).filter(Boolean);
    if (points.length > 1) group.children.push(node('polyline', { class: 'chart-line', points: points.join(' '), fill: 'none' }));
    s.values.forEach((value, i) => {
      if (!Number.isFinite(value)) return;
      group.children.push(node('circle', { class: 'chart-point', cx: fixed(center(i)), cy: fixed(y(value)), r: 3.5 }, [
        node('title', {}, [`${categories[i]?.long ?? categories[i]?.label ?? ''}: ${format(value)} ${s.unit || s.name}`]),
      ]));
    });
    marks.children.push(group);
  }

  const legend = node('g', { class: 'chart-legend', 'aria-hidden': 'true' });
  let x = left;
  for (const s of series) {
    const swatch = s.kind === 'line'
      ? node('line', { class: `chart-swatch-line ${s.className || ''}`.trim(), x1: x, x2: x + 16, y1: 15, y2: 15 })
      : node('rect', { class: `chart-swatch ${s.className || ''}`.trim(), x, y: 9, width: 12, height: 12, rx: 2 });
    legend.children.push(swatch, text(x + (s.kind === 'line' ? 22 : 18), 19, s.name, { class: 'chart-legend-text' }));
    x += (s.kind === 'line' ? 22 : 18) + s.name.length * 7 + 22;
  }

  return node('svg', {
    xmlns: SVG_NS, class: 'chart', viewBox: `0 0 ${width} ${height}`, role: 'img', 'aria-label': options.label, focusable: 'false',
  }, [
    node('title', {}, [options.title]),
    node('desc', {}, [options.desc || options.label]),
    grid, labels, axisTitles, marks, legend,
  ]);
}

// ---------------------------------------------------------------------------------------------
// The daily conversations chart

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
function dayLabel(iso) {
  const match = /^(\d{4})-(\d{2})-(\d{2})$/.exec(String(iso || ''));
  return match ? `${Number(match[3])} ${MONTHS[Number(match[2]) - 1]}` : String(iso || '');
}

export function dailySummary(daily) {
  const days = daily || [];
  const total = days.reduce((sum, day) => sum + (Number(day.conversations) || 0), 0);
  const resolved = days.reduce((sum, day) => sum + (Number(day.resolved) || 0), 0);
  if (!days.length) return 'Conversations per day: no days in the period.';
  const span = days.length === 1 ? dayLabel(days[0].date) : `${dayLabel(days[0].date)} to ${dayLabel(days[days.length - 1].date)}`;
  if (!total) return `Conversations per day, ${span}: none.`;
  const busiest = days.reduce((best, day) => ((Number(day.conversations) || 0) > (Number(best.conversations) || 0) ? day : best), days[0]);
  return `Conversations per day, ${span}: ${total} in total, ${resolved} resolved; the busiest day was ${dayLabel(busiest.date)} with ${busiest.conversations}.`;
}

export function dailyChart(daily) {
  const days = daily || [];
  return categoryChart({
    title: 'Conversations per day',
    desc: 'Bars: conversations started each day and those of them resolved.',
    label: dailySummary(days),
    categories: days.map((day) => ({ label: dayLabel(day.date), long: dayLabel(day.date) })),
    series: [
      { name: 'Conversations', kind: 'bar', className: 'chart-s1', values: days.map((day) => Number(day.conversations) || 0), unit: 'conversations' },
      { name: 'Resolved', kind: 'bar', className: 'chart-s2', values: days.map((day) => Number(day.resolved) || 0), unit: 'resolved' },
    ],
    yTitle: 'Conversations',
    xTitle: 'Day',
  });
}

// ---------------------------------------------------------------------------------------------
// The weekday × hour traffic heatmap

export const HEAT_LEVELS = 5;

// 0 for nothing, else 1..HEAT_LEVELS in proportion to the busiest hour.
export function heatLevel(count, max) {
  const c = Number(count) || 0;
  if (c <= 0 || !(max > 0)) return 0;
  return Math.min(HEAT_LEVELS, Math.max(1, Math.ceil((c / max) * HEAT_LEVELS)));
}

export function heatmapSummary(traffic) {
  const counts = (traffic && traffic.counts) || [];
  const total = Number(traffic && traffic.total) || 0;
  if (!total) return 'Conversations by weekday and hour: none in this period.';
  let best = { weekday: 0, hour: 0, count: -1 };
  counts.forEach((row, weekday) => (row || []).forEach((count, hour) => {
    if (count > best.count) best = { weekday, hour, count };
  }));
  return `Conversations by weekday and hour: ${total} in total; the busiest hour was ${WEEKDAYS[best.weekday]} ${hourRange(best.hour)} with ${best.count}.`;
}

// `now` ({weekday, hour}) is outlined when given.
export function heatmap(traffic, { now } = {}) {
  const counts = (traffic && traffic.counts) || [];
  const max = Math.max(0, ...counts.flat().map((c) => Number(c) || 0));
  const cell = 26;
  const gap = 2;
  const left = 48;
  const top = 24;
  const width = left + 24 * (cell + gap);
  const gridBottom = top + 7 * (cell + gap);
  const height = gridBottom + 36;
  const hours = node('g', { class: 'chart-xlabels', 'aria-hidden': 'true' });
  for (let hour = 0; hour < 24; hour += 3) hours.children.push(text(left + hour * (cell + gap) + cell / 2, top - 8, pad(hour), { class: 'chart-tick', 'text-anchor': 'middle' }));
  const days = node('g', { class: 'chart-ylabels', 'aria-hidden': 'true' });
  const cells = node('g', { class: 'heat-cells' });
  for (let weekday = 0; weekday < 7; weekday += 1) {
    const rowY = top + weekday * (cell + gap);
    days.children.push(text(left - 8, rowY + cell / 2 + 4, WEEKDAYS_SHORT[weekday], { class: 'chart-tick', 'text-anchor': 'end' }));
    for (let hour = 0; hour < 24; hour += 1) {
      const count = Number((counts[weekday] || [])[hour]) || 0;
      const level = heatLevel(count, max);
      const x = left + hour * (cell + gap);
      const isNow = Boolean(now && now.weekday === weekday && now.hour === hour);
      const group = node('g', {
        class: `heat ${isNow ? 'heat-is-now' : ''}`.trim(), 'data-weekday': weekday, 'data-hour': hour, 'data-count': count,
      }, [
        node('title', {}, [`${WEEKDAYS[weekday]} ${hourRange(hour)}: ${count} conversation${count === 1 ? '' : 's'}${isNow ? ' (now)' : ''}`]),
        node('rect', { class: `heat-cell heat-${level}`, x, y: rowY, width: cell, height: cell, rx: 3 }),
      ]);
      if (count > 0) {
        group.children.push(text(x + cell / 2, rowY + cell / 2 + 4, count > 999 ? '1k+' : count, {
          class: `heat-label ${level >= 3 ? 'heat-label-strong' : ''}`.trim(), 'text-anchor': 'middle',
        }));
      }
      if (isNow) group.children.push(node('rect', { class: 'heat-now', x: x - 1, y: rowY - 1, width: cell + 2, height: cell + 2, rx: 4, fill: 'none' }));
      cells.children.push(group);
    }
  }
  const legend = node('g', { class: 'chart-legend', 'aria-hidden': 'true' });
  const ly = gridBottom + 12;
  legend.children.push(text(left, ly + 11, 'Fewer', { class: 'chart-legend-text' }));
  for (let level = 0; level <= HEAT_LEVELS; level += 1) {
    legend.children.push(node('rect', { class: `heat-cell heat-${level}`, x: left + 44 + level * 18, y: ly, width: 14, height: 14, rx: 2 }));
  }
  legend.children.push(text(left + 44 + (HEAT_LEVELS + 1) * 18 + 4, ly + 11, `More (busiest hour: ${max})`, { class: 'chart-legend-text' }));
  if (now) {
    const nx = left + 330;
    legend.children.push(node('rect', { class: 'heat-now', x: nx, y: ly, width: 14, height: 14, rx: 3, fill: 'none' }));
    legend.children.push(text(nx + 20, ly + 11, 'This hour', { class: 'chart-legend-text' }));
  }
  return node('svg', {
    xmlns: SVG_NS, class: 'chart heatmap', viewBox: `0 0 ${width} ${height}`, role: 'img', 'aria-label': heatmapSummary(traffic), focusable: 'false',
  }, [
    node('title', {}, ['Conversations by weekday and hour']),
    node('desc', {}, ['A grid of the seven weekdays (rows) by the 24 hours (columns); darker cells had more conversations start.']),
    hours, days, cells, legend,
  ]);
}

// ---------------------------------------------------------------------------------------------
// The staffing plan for one weekday: operators needed and to roster per hour beside those who
// were actually available.

export function staffingSummary(day, weekday) {
  const hours = day || [];
  const name = WEEKDAYS[weekday] || 'the day';
  const planned = hours.filter((h) => h.plan);
  if (!planned.length) return `Staffing plan for ${name}: no plan (no handle time observed yet).`;
  const peak = planned.reduce((best, h) => (h.plan.rostered > best.plan.rostered ? h : best), planned[0]);
  const staffed = hours.filter((h) => h.plan && h.plan.operators_needed > 0);
  const short = staffed.filter((h) => (Number(h.actual_operators) || 0) < h.plan.operators_needed).length;
  if (!peak.plan.rostered) return `Staffing plan for ${name}: no operators needed in any hour.`;
  return `Staffing plan for ${name}: at most ${peak.plan.rostered} to roster (${hourRange(peak.hour)}); ${staffed.length} hour${staffed.length === 1 ? '' : 's'} need operators, ${short} of them had fewer available than needed.`;
}

export function staffingChart(day, weekday) {
  const hours = day || [];
  return categoryChart({
    title: `Staffing plan, ${WEEKDAYS[weekday] || ''}`.trim(),
    desc: 'Bars: operators needed on chat and to roster (with shrinkage) for each hour; line: operators actually available then, on average.',
    label: staffingSummary(hours, weekday),
    categories: hours.map((h) => ({ label: pad(h.hour), long: hourRange(h.hour) })),
    series: [
      { name: 'Needed on chat', kind: 'bar', className: 'chart-s1', values: hours.map((h) => (h.plan ? h.plan.operators_needed : null)), unit: 'needed on chat' },
      { name: 'To roster', kind: 'bar', className: 'chart-s2', values: hours.map((h) => (h.plan ? h.plan.rostered : null)), unit: 'to roster' },
      { name: 'Actually available', kind: 'line', className: 'chart-s3', values: hours.map((h) => Number(h.actual_operators) || 0), unit: 'available on average' },
    ],
    yTitle: 'Operators',
    xTitle: 'Hour of the day',
  });
}

// Text content of a tree (for tests and for summaries).
export function textOf(tree) {
  if (typeof tree === 'string') return tree;
  return (tree.children || []).map(textOf).join('');
}

// Every node of a tree, depth first.
export function* walk(tree) {
  if (!tree || typeof tree === 'string') return;
  yield tree;
  for (const child of tree.children || []) yield* walk(child);
}
