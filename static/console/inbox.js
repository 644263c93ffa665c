// The conversation list: filters (status tabs, assignee, tag, team, search), rows that show
// contact, last message, unread badge, assignee (or the assistant), topic, priority, tags and
// status, and live updates. Owns state.filters and state.conversations.
//
// Live updates: a message event updates its row at once (preview, unread badge, order); every
// event that changes conversations also schedules a refetch of the list (debounced), which is
// the source of truth for filters, assignees and tags.

import {
  api, contactName, debounce, el, emit, handleAuthError, on, query, remember, setAvatar, state,
  statusLabel, tagChip, tagById,
} from './core.js';
import { timeElement } from '/shared/messages.js';

const REFETCH_DEBOUNCE_MS = 350;
const PAGE_SIZE = 50;
const MAX_PAGE = 200; // the API's largest page
const TYPING_SHOW_MS = 5000;

const $ = (id) => document.getElementById(id);
const ui = {};

const rows = new Map(); // id -> <li>
let listSeq = 0; // answers of older list requests are dropped
let firstUsableMarked = false;
let nextBefore = null; // the API's next_before: there are older conversations to load

export function initInbox() {
  Object.assign(ui, {
    list: $('conversation-list'),
    empty: $('list-empty'),
    more: $('list-more'),
    count: $('list-count'),
    tabs: [...document.querySelectorAll('.status-tabs .tab')],
    assignee: $('assignee-filter'),
    tag: $('tag-filter'),
    team: $('team-filter'),
    search: $('search-input'),
  });

  for (const tab of ui.tabs) {
    tab.addEventListener('click', () => setFilter({ status: tab.dataset.status }));
  }
  // Arrow keys move between the status buttons, like tabs.
  ui.tabs[0].parentElement.addEventListener('keydown', (event) => {
    if (event.key !== 'ArrowRight' && event.key !== 'ArrowLeft') return;
    const index = ui.tabs.indexOf(document.activeElement);
    if (index < 0) return;
    event.preventDefault();
    const next = ui.tabs[(index + (event.key === 'ArrowRight' ? 1 : ui.tabs.length - 1)) % ui.tabs.length];
    next.focus();
  });
  ui.more.addEventListener('click', async () => {
    ui.more.disabled = true;
    try {
      await loadList({ more: true });
    } catch (error) {
      handleAuthError(error);
    } finally {
      ui.more.disabled = false;
    }
  });
  ui.assignee.addEventListener('change', () => setFilter({ assignee: ui.assignee.value }));
  ui.tag.addEventListener('change', () => setFilter({ tag: ui.tag.value }));
  ui.team.addEventListener('change', () => setFilter({ team: ui.team.value }));
  const search = debounce(() => {
    const q = ui.search.value.trim();
    // The API searches 2-100 characters; one character lists everything.
    setFilter({ q: q.length >= 2 ? q : '' });
  }, 300);
  ui.search.addEventListener('input', search);
  ui.search.addEventListener('keydown', (event) => {
    if (event.key === 'Enter') {
      event.preventDefault();
      search.cancel();
      const q = ui.search.value.trim();
      setFilter({ q: q.length >= 2 ? q : '' });
    }
  });

  // Arrow keys move between conversations; Tab leaves the list.
  ui.list.addEventListener('keydown', (event) => {
    if (event.altKey || (event.key !== 'ArrowDown' && event.key !== 'ArrowUp')) return;
    const buttons = [...ui.list.querySelectorAll('.conv')];
    const index = buttons.indexOf(document.activeElement);
    if (index < 0) return;
    event.preventDefault();
    const next = buttons[index + (event.key === 'ArrowDown' ? 1 : -1)];
    if (next) next.focus();
  });

  on('directory:changed', renderFilterOptions);
  on('conversation:updated', (summary) => {
    // An action on the open conversation: show it at once, the refetch follows.
    const known = state.conversations.get(summary.id);
    if (known) {
      state.conversations.set(summary.id, { ...known, ...summary, typingUntil: known.typingUntil });
      renderList();
    }
    scheduleRefetch();
  });
}

export function resetInbox() {
  listSeq += 1;
  scheduleRefetch.cancel();
  state.conversations.clear();
  rows.clear();
  nextBefore = null;
  ui.more.hidden = true;
  ui.list.replaceChildren();
  ui.list.setAttribute('aria-busy', 'true');
  ui.search.value = '';
  state.filters = { status: 'open', assignee: 'any', tag: '', team: '', q: '' };
  syncFilterControls();
}

function syncFilterControls() {
  for (const tab of ui.tabs) tab.setAttribute('aria-pressed', String(tab.dataset.status === state.filters.status));
  ui.assignee.value = state.filters.assignee;
  ui.tag.value = state.filters.tag;
  ui.team.value = state.filters.team;
}

// The tag and team filters list what exists now.
export function renderFilterOptions() {
  const tagValue = state.filters.tag;
  ui.tag.replaceChildren(option('', 'Any tag'), ...state.tags.map((tag) => option(tag.id, tag.name)));
  if (tagValue && !state.tags.some((tag) => String(tag.id) === String(tagValue))) state.filters.tag = '';
  const teamValue = state.filters.team;
  ui.team.replaceChildren(option('', 'Any team'), ...state.teams.map((team) => option(team.id, team.name)));
  if (teamValue && !state.teams.some((team) => String(team.id) === String(teamValue))) state.filters.team = '';
  ui.team.hidden = state.teams.length === 0;
  syncFilterControls();
}

function option(value, text) {
  const node = el('option', null, text);
  node.value = String(value);
  return node;
}

async function setFilter(change) {
  Object.assign(state.filters, change);
  syncFilterControls();
  try {
    await loadList();
  } catch (error) {
    if (!handleAuthError(error)) scheduleRefetch();
  }
}

export function matchesFilter(summary) {
  const f = state.filters;
  if (f.status !== 'all' && summary.status !== f.status) return false;
  if (f.assignee === 'me' && (!summary.assignee || !state.me || summary.assignee.id !== state.me.id)) return false;
  if (f.assignee === 'unassigned' && summary.assignee) return false;
  if (f.tag && !(summary.tags || []).some((tag) => String(tag.id) === String(f.tag))) return false;
  if (f.team && (!summary.team || String(summary.team.id) !== String(f.team))) return false;
  if (f.q) return false; // only the server knows what matches a search
  return true;
}

// Fetches the list for the current filters: the first page, as long as what is shown already
// (so a live refetch keeps the older rows the operator loaded), or with `more` the next page.
// `advanceCursor` (initial load and resyncs) moves the event cursor to the snapshot's; plain
// refetches leave it, so no event is skipped.
export async function loadList({ advanceCursor = false, more = false } = {}) {
  if (more && !nextBefore) return;
  const generation = state.generation;
  listSeq += 1;
  const seq = listSeq;
  const f = state.filters;
  const limit = more ? PAGE_SIZE : Math.min(MAX_PAGE, Math.max(PAGE_SIZE, state.conversations.size));
  const result = await api(`/conversations${query({
    status: f.status, assignee: f.assignee === 'any' ? '' : f.assignee, tag: f.tag, team: f.team, q: f.q,
    limit, before: more ? nextBefore : '',
  })}`);
  if (generation !== state.generation || seq !== listSeq) return;
  const typing = new Map([...state.conversations].map(([id, c]) => [id, c.typingUntil]));
  if (!more) state.conversations.clear();
  for (const summary of result.conversations || []) {
    remember(summary);
    state.conversations.set(summary.id, { ...summary, typingUntil: typing.get(summary.id) || 0 });
  }
  nextBefore = result.next_before ?? null;
  ui.more.hidden = nextBefore === null;
  if (advanceCursor) state.cursor = Math.max(state.cursor, Number(result.cursor) || 0);
  ui.list.removeAttribute('aria-busy');
  renderList();
  emit('list:loaded');
  if (!firstUsableMarked && state.conversations.size > 0) {
    firstUsableMarked = true;
    // Read by the browser tests: first paint to a list an operator can act on.
    performance.mark('console:usable', { detail: { conversations: state.conversations.size } });
  }
}

export const scheduleRefetch = debounce(() => {
  if (!state.me) return;
  loadList().catch((error) => { handleAuthError(error); });
}, REFETCH_DEBOUNCE_MS);

export function sortedConversations() {
  return [...state.conversations.values()].sort(
    (a, b) => (b.updated_at || 0) - (a.updated_at || 0) || b.id - a.id,
  );
}

export function renderList() {
  const focusedId = document.activeElement && document.activeElement.closest
    ? document.activeElement.closest('.conv')?.dataset.id
    : undefined;
  const ordered = sortedConversations();
  const keep = new Set(ordered.map((c) => c.id));
  for (const [id, row] of rows) {
    if (!keep.has(id)) {
      row.remove();
      rows.delete(id);
    }
  }
  let previous = null;
  for (const conversation of ordered) {
    let row = rows.get(conversation.id);
    if (!row) {
      row = createRow(conversation.id);
      rows.set(conversation.id, row);
    }
    fillRow(row, conversation);
    const expectedNext = previous ? previous.nextSibling : ui.list.firstChild;
    if (row !== expectedNext) ui.list.insertBefore(row, expectedNext);
    previous = row;
  }
  ui.empty.hidden = ordered.length > 0;
  ui.empty.textContent = emptyText();
  ui.count.textContent = ordered.length ? String(ordered.length) : '';
  if (focusedId) {
    const button = rows.get(Number(focusedId))?.querySelector('.conv');
    if (button && document.activeElement !== button) button.focus({ preventScroll: true });
  }
  emit('list:rendered');
}

function emptyText() {
  const f = state.filters;
  if (f.q) return `No conversations match “${f.q}”.`;
  if (f.status === 'open' && f.assignee === 'any' && !f.tag && !f.team) {
    return 'No open conversations. New chats from your website show up here instantly.';
  }
  return 'No conversations match these filters.';
}

function createRow(id) {
  const li = el('li', 'conv-item');
  const button = el('button', 'conv');
  button.type = 'button';
  button.dataset.id = String(id);
  button.addEventListener('click', () => emit('conversation:open', { id }));
  li.append(button);
  return li;
}

function fillRow(row, conversation) {
  const button = row.firstChild;
  const selected = conversation.id === state.selectedId;
  if (selected) button.setAttribute('aria-current', 'true');
  else button.removeAttribute('aria-current');
  button.classList.toggle('is-unread', conversation.unread_count > 0);

  const avatar = el('span', 'avatar');
  avatar.setAttribute('aria-hidden', 'true');
  setAvatar(avatar, conversation);

  const top = el('span', 'conv-top');
  top.append(el('span', 'conv-name', contactName(conversation)));
  const activity = conversation.updated_at || (conversation.last_message && conversation.last_message.created_at);
  if (activity) top.append(timeElement(activity, true));

  const middle = el('span', 'conv-bottom');
  const typing = conversation.typingUntil > Date.now();
  middle.append(el('span', typing ? 'conv-preview is-typing' : 'conv-preview', previewText(conversation, typing)));
  if (conversation.unread_count > 0) {
    const badge = el('span', 'badge', conversation.unread_count > 99 ? '99+' : String(conversation.unread_count));
    badge.append(el('span', 'visually-hidden', ' unread'));
    middle.append(badge);
  }

  const meta = el('span', 'conv-meta');
  const status = el('span', `pill pill--${conversation.status}`, statusLabel(conversation.status));
  meta.append(status, ...assistantBadge(conversation), ...routingBadges(conversation));
  const assignee = conversation.assignee;
  const mine = assignee && state.me && assignee.id === state.me.id;
  meta.append(el('span', assignee ? 'conv-assignee' : 'conv-assignee is-unassigned',
    assignee ? (mine ? 'You' : assignee.name) : (conversation.team ? `${conversation.team.name} queue` : 'Unassigned')));
  for (const tag of conversation.tags || []) meta.append(tagChip(tagById(tag.id) || tag));

  const main = el('span', 'conv-main');
  main.append(top, middle, meta);
  button.replaceChildren(avatar, main);
}

// "Assistant" while the assistant owns the conversation (`bot_active`): people need not answer
// yet, and a reply takes it over (list rows and the thread header).
export function assistantBadge(summary) {
  if (!summary || !summary.bot_active) return [];
  const badge = el('span', 'assistant-badge', 'Assistant');
  badge.title = 'The assistant is answering this conversation';
  return [badge];
}

const PRIORITY_LABELS = { 1: 'High', 2: 'Urgent' };

// The topic and, when above normal, the priority of a conversation (list rows, the thread
// header, the queue): a priority badge reads "High" or "Urgent", the topic "Topic: billing" to
// screen readers.
export function routingBadges(summary) {
  const badges = [];
  const label = PRIORITY_LABELS[summary && summary.priority];
  if (label) {
    const badge = el('span', `priority priority--${label.toLowerCase()}`, label);
    badge.title = `${label} priority`;
    badges.push(badge);
  }
  if (summary && summary.topic) {
    const topic = el('span', 'topic');
    topic.append(el('span', 'visually-hidden', 'Topic: '), el('span', 'topic-name', summary.topic));
    topic.title = `Topic: ${summary.topic}`;
    badges.push(topic);
  }
  return badges;
}

function previewText(conversation, typing) {
  if (typing) return 'typing…';
  const message = conversation.last_message;
  if (!message) return 'No messages yet';
  const body = String(message.body || '').replace(/\s+/g, ' ').slice(0, 140);
  if (message.sender === 'assistant') return `Assistant: ${body}`;
  if (message.author === 'operator') {
    const mine = state.me && message.operator_name === state.me.name;
    return `${mine ? 'You' : message.operator_name || 'Operator'}: ${body}`;
  }
  return body;
}

export function totalUnread() {
  let unread = 0;
  for (const conversation of state.conversations.values()) unread += conversation.unread_count || 0;
  return unread;
}

// Next/previous conversation in list order (Alt+ArrowDown/Up); returns the id or null.
export function neighbourId(step) {
  const ordered = sortedConversations();
  if (!ordered.length) return null;
  const index = ordered.findIndex((c) => c.id === state.selectedId);
  if (index < 0) return ordered[step > 0 ? 0 : ordered.length - 1].id;
  const next = ordered[index + step];
  return next ? next.id : null;
}

export function focusRow(id) {
  const button = rows.get(id)?.querySelector('.conv');
  if (button) {
    button.scrollIntoView({ block: 'nearest' });
  }
}

// A typing signal from a visitor: the row says "typing…" for a few seconds.
export function showRowTyping(id) {
  const summary = state.conversations.get(id);
  if (!summary) return;
  summary.typingUntil = Date.now() + TYPING_SHOW_MS;
  renderList();
  setTimeout(renderList, TYPING_SHOW_MS + 50);
}
