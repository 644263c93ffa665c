// Supervisor queue (supervisor and admin): how many conversations wait and for how long, each
// waiting conversation (in serving order: priority, then longest waiting; with its topic and a
// High/Urgent badge) with an "assign to" control, and every operator's load against capacity
// with presence. Refreshed every 10 s while shown and soon after any conversation event.

import {
  api, button, contactName, debounce, el, emit, formatDuration, handleAuthError, hasRole, on,
  PRESENCE_LABELS, select, state, tagById, tagChip, toast,
} from './core.js';
import { routingBadges } from './inbox.js';

const REFRESH_MS = 10_000;

const $ = (id) => document.getElementById(id);
const ui = {};
let timer = null;
let seq = 0;

export function initQueue() {
  ui.view = $('queue-view');
  ui.content = $('queue-content');
  ui.updated = $('queue-updated');
  on('view:shown', ({ view }) => {
    if (view === 'queue') startQueue();
    else stopQueue();
  });
  on('conversations:changed', () => {
    if (state.view === 'queue') refreshSoon();
  });
}

export function resetQueue() {
  stopQueue();
  ui.content.replaceChildren();
  ui.updated.textContent = '';
}

function startQueue() {
  if (!hasRole('supervisor')) return;
  stopQueue();
  loadQueue();
  timer = setInterval(loadQueue, REFRESH_MS);
}

function stopQueue() {
  clearInterval(timer);
  timer = null;
  refreshSoon.cancel();
}

const refreshSoon = debounce(() => loadQueue(), 500);

async function loadQueue() {
  const generation = state.generation;
  seq += 1;
  const mine = seq;
  try {
    const result = await api('/queue');
    if (generation !== state.generation || mine !== seq || state.view !== 'queue') return;
    render(result);
    ui.updated.textContent = `Updated ${new Date().toLocaleTimeString()}`;
  } catch (error) {
    if (handleAuthError(error)) return;
    ui.updated.textContent = `Could not refresh: ${error.message}`;
  }
}

function stat(label, value) {
  const box = el('div', 'stat');
  box.append(el('span', 'stat-value', value), el('span', 'stat-label', label));
  return box;
}

function render(result) {
  const waiting = result.waiting || {};
  const conversations = waiting.conversations || [];
  const operators = result.operators || [];
  // Keep whatever the supervisor was doing (a chosen assignee) across refreshes.
  const chosen = new Map([...ui.content.querySelectorAll('select[data-conversation]')].map((s) => [s.dataset.conversation, s.value]));
  const focusedId = document.activeElement && ui.content.contains(document.activeElement) ? document.activeElement.id : null;

  const stats = el('div', 'stats');
  stats.setAttribute('role', 'group');
  stats.setAttribute('aria-label', 'Waiting now');
  stats.append(
    stat('waiting', String(waiting.count ?? conversations.length)),
    stat('longest wait', waiting.count ? formatDuration(waiting.longest_wait_ms) : '–'),
    stat('average wait', waiting.count ? formatDuration(waiting.average_wait_ms) : '–'),
  );

  const waitingSection = el('section', 'page-section');
  const waitingHeading = el('h2', null, 'Waiting conversations');
  waitingHeading.id = 'queue-waiting-heading';
  waitingSection.setAttribute('aria-labelledby', waitingHeading.id);
  waitingSection.append(waitingHeading);
  if (!conversations.length) {
    waitingSection.append(el('p', 'muted', 'Nobody is waiting.'));
  } else {
    const table = el('table', 'table queue-table');
    const head = el('thead');
    head.append(row('th', ['Contact', 'Waiting', 'Topic', 'Team', 'Last message', 'Tags', 'Assign']));
    const body = el('tbody');
    const available = operators.filter((operator) => operator.active !== false);
    // The order the router serves them in.
    const ordered = [...conversations].sort((a, b) => (b.priority || 0) - (a.priority || 0) || (b.wait_ms || 0) - (a.wait_ms || 0));
    for (const conversation of ordered) {
      const tr = el('tr');
      tr.dataset.conversation = String(conversation.id);
      const who = el('th');
      who.scope = 'row';
      const open = button(contactName(conversation), 'link', () => emit('conversation:open:inbox', { id: conversation.id }));
      who.append(open);
      const waited = el('td', 'nowrap', formatDuration(conversation.wait_ms));
      const topic = el('td', 'queue-topic');
      const badges = routingBadges(conversation);
      if (badges.length) topic.append(...badges);
      else topic.textContent = '–';
      const team = el('td', null, conversation.team ? conversation.team.name : '–');
      const last = el('td', 'queue-last', conversation.last_message ? String(conversation.last_message.body || '').replace(/\s+/g, ' ').slice(0, 80) : '');
      const tags = el('td');
      for (const tag of conversation.tags || []) tags.append(tagChip(tagById(tag.id) || tag));
      const assignCell = el('td', 'queue-assign');
      const picker = select([['', 'Choose operator…'], ...available.map((operator) => [operator.id, operatorOption(operator)])], chosen.get(String(conversation.id)) || '');
      picker.id = `queue-assign-${conversation.id}`;
      picker.dataset.conversation = String(conversation.id);
      picker.setAttribute('aria-label', `Assign ${contactName(conversation)} to`);
      const go = button('Assign', 'ghost small');
      go.id = `queue-assign-button-${conversation.id}`;
      go.addEventListener('click', () => assign(conversation, picker, go));
      assignCell.append(picker, go);
      tr.append(who, waited, topic, team, last, tags, assignCell);
      body.append(tr);
    }
    table.append(head, body);
    waitingSection.append(table);
  }

  const operatorSection = el('section', 'page-section');
  const operatorHeading = el('h2', null, 'Operators');
  operatorHeading.id = 'queue-operators-heading';
  operatorSection.setAttribute('aria-labelledby', operatorHeading.id);
  const table = el('table', 'table');
  const head = el('thead');
  head.append(row('th', ['Operator', 'Presence', 'Load']));
  const body = el('tbody');
  for (const operator of operators) {
    const tr = el('tr');
    const name = el('th', null, operator.name);
    name.scope = 'row';
    const presence = el('td');
    const dot = el('span', `presence-dot is-${operator.available ? 'available' : operator.online ? operator.presence : 'offline'}`);
    dot.setAttribute('aria-hidden', 'true');
    presence.append(dot, el('span', null, presenceText(operator)));
    const load = el('td', 'load-cell');
    const capacity = Number(operator.capacity) || 0;
    const current = Number(operator.load) || 0;
    const meter = document.createElement('meter');
    meter.min = 0;
    meter.max = Math.max(capacity, 1);
    meter.value = Math.min(current, Math.max(capacity, 1));
    meter.high = Math.max(capacity, 1) * 0.8;
    meter.setAttribute('aria-label', `${operator.name}'s load`);
    load.append(meter, el('span', null, capacity ? `${current} / ${capacity}` : `${current}`));
    tr.append(name, presence, load);
    body.append(tr);
  }
  table.append(head, body);
  operatorSection.append(operatorHeading, table);

  ui.content.replaceChildren(stats, waitingSection, operatorSection);
  if (focusedId) document.getElementById(focusedId)?.focus();
}

function row(cell, texts) {
  const tr = el('tr');
  for (const text of texts) {
    const node = el(cell, null, text);
    if (cell === 'th') node.scope = 'col';
    tr.append(node);
  }
  return tr;
}

function presenceText(operator) {
  const chosen = PRESENCE_LABELS[operator.presence] || operator.presence || 'Offline';
  if (operator.available) return 'Available';
  if (!operator.online) return operator.presence === 'offline' ? 'Offline' : `${chosen}, not online`;
  return chosen;
}

function operatorOption(operator) {
  const load = operator.capacity ? `${Number(operator.load) || 0}/${operator.capacity}` : `${Number(operator.load) || 0}`;
  return `${operator.name} (${presenceText(operator).toLowerCase()}, ${load})`;
}

// Errors go to the toast: the table is rebuilt on every refresh.
async function assign(conversation, picker, go) {
  if (!picker.value) {
    toast('Choose an operator first.', 'error');
    picker.focus();
    return;
  }
  go.disabled = true;
  try {
    await api(`/conversations/${conversation.id}/assign`, {
      method: 'POST', body: { operator_id: Number(picker.value), version: conversation.version },
    });
    const name = picker.selectedOptions[0] ? picker.selectedOptions[0].textContent.replace(/ \(.*$/, '') : 'them';
    toast(`${contactName(conversation)} assigned to ${name}`);
    emit('conversations:changed');
    await loadQueue();
  } catch (failure) {
    go.disabled = false;
    if (handleAuthError(failure)) return;
    if (failure.code === 'stale_version') {
      toast('This conversation changed meanwhile; the queue has been refreshed. Try again.', 'error');
      loadQueue();
    } else if (failure.code === 'at_capacity') {
      toast('That operator is at capacity.', 'error');
    } else {
      toast(failure.message, 'error');
    }
  }
}
