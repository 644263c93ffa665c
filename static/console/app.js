// Operator console: login, then a two-pane inbox (conversation list + thread) kept live by
// long-polling the inbox event log.
//
// Invariants:
// - The session is the HttpOnly cookie set by login; this script never sees or stores a token.
// - Every POST carries Content-Type: application/json (the API rejects others, which with
//   SameSite=Strict cookies closes CSRF).
// - Text from the network is rendered with textContent only.
// - Messages are shown once, keyed by server id (and by client_id while a reply is pending);
//   replies are retried with the same client_id, so a retry never duplicates.
// - After any error in the event loop the list (and the open thread) are reloaded, and polling
//   resumes from the fresh cursor, so nothing is missed.

import { jitter, requestJson, sleep } from '/shared/api.js';
import { bindComposer } from '/shared/composer.js';
import {
  claimPending, el, fullFormat, insertInOrder, isNearBottom, scrollToBottom, setMeta, timeElement,
  typingIndicator,
} from '/shared/messages.js';
import { newClientId, Outbox } from '/shared/outbox.js';

const API = '/api/inbox';
const POLL_WAIT_S = 25;
const POLL_TIMEOUT_MS = (POLL_WAIT_S + 15) * 1000;
const TYPING_SEND_EVERY_MS = 2000;
const TYPING_SHOW_MS = 5000;
const MAX_SEND_ATTEMPTS = 6;
const MAX_BODY_CHARS = 4000;

// ---------------------------------------------------------------------------------------------
// HTTP

// Resolves with the JSON answer (null for 204); rejects with an ApiError (see /shared/api.js).
async function api(path, { method = 'GET', body, signal } = {}) {
  const headers = { Accept: 'application/json' };
  const init = { method, headers, signal, credentials: 'same-origin', cache: 'no-store' };
  if (method !== 'GET') {
    headers['Content-Type'] = 'application/json';
    init.body = JSON.stringify(body === undefined ? {} : body);
  }
  return requestJson(API + path, init, 'Could not reach the server. Check your connection.');
}

// ---------------------------------------------------------------------------------------------
// State

const state = {
  me: null,
  generation: 0, // bumped on login/logout so that loops of an old session stop
  cursor: 0,
  filter: 'open',
  conversations: new Map(), // id -> ConversationSummary (+ typingUntil)
  rows: new Map(), // id -> <li>
  selectedId: null,
  thread: null, // { id, messages: Map<id, {message, el}>, pending: Map<client_id, item>, loaded }
  pollController: null,
  lastTypingSentAt: 0,
  resyncTimer: null,
};

// Replies waiting to be delivered, across threads; a new session (generation) stops the old queue.
const outbox = new Outbox({
  deliver: deliverReply,
  onFailed: (item, error) => {
    if (state.thread && state.thread.id === item.conversationId) showThreadError(error.message);
  },
  maxAttempts: MAX_SEND_ATTEMPTS,
  abandon: handleAuthError,
  epoch: () => state.generation,
});

const $ = (id) => document.getElementById(id);
const ui = {
  boot: $('boot'),
  loginView: $('login-view'),
  loginForm: $('login-form'),
  loginEmail: $('login-email'),
  loginPassword: $('login-password'),
  loginSubmit: $('login-submit'),
  loginError: $('login-error'),
  inboxView: $('inbox-view'),
  connection: $('connection'),
  meName: $('me-name'),
  logout: $('logout-button'),
  filter: $('status-filter'),
  list: $('conversation-list'),
  listEmpty: $('list-empty'),
  threadPane: $('thread-pane'),
  threadEmpty: $('thread-empty'),
  thread: $('thread'),
  back: $('back-button'),
  threadAvatar: $('thread-avatar'),
  threadTitle: $('thread-title'),
  threadSub: $('thread-sub'),
  threadLog: $('thread-log'),
  threadTyping: $('thread-typing'),
  threadError: $('thread-error'),
  replyForm: $('reply-form'),
  replyInput: $('reply-input'),
  replySend: $('reply-send'),
};

const isVisible = () => document.visibilityState === 'visible';

// ---------------------------------------------------------------------------------------------
// Small rendering helpers

function contactName(conversation) {
  const contact = conversation.contact || {};
  if (contact.name) return contact.name;
  return `Visitor #${contact.id ?? conversation.id}`;
}

function initials(name) {
  const parts = name.replace(/#\d+/, '').trim().split(/\s+/).filter(Boolean);
  const letters = parts.slice(0, 2).map((p) => p[0]).join('');
  return (letters || 'V').toUpperCase();
}

// Stable pastel hue per contact so that avatars are easy to tell apart.
function avatarHue(conversation) {
  const id = Number((conversation.contact && conversation.contact.id) ?? conversation.id) || 0;
  return (id * 47) % 360;
}

function setAvatar(node, conversation) {
  node.textContent = initials(contactName(conversation));
  node.dataset.hue = String(Math.round(avatarHue(conversation) / 30) % 12);
}

// ---------------------------------------------------------------------------------------------
// Views

function showView(view) {
  ui.boot.hidden = true;
  ui.loginView.hidden = view !== 'login';
  ui.inboxView.hidden = view !== 'inbox';
}

function showLogin(message) {
  stopSession();
  showView('login');
  if (message) showLoginError(message);
  else hideLoginError();
  ui.loginPassword.value = '';
  (ui.loginEmail.value ? ui.loginPassword : ui.loginEmail).focus();
  document.title = 'Sign in · Live chat';
}

function showLoginError(message) {
  ui.loginError.textContent = message;
  ui.loginError.hidden = false;
}
function hideLoginError() {
  ui.loginError.hidden = true;
  ui.loginError.textContent = '';
}

function stopSession() {
  state.generation += 1;
  if (state.pollController) state.pollController.abort();
  clearTimeout(state.resyncTimer);
  state.me = null;
  state.conversations.clear();
  state.rows.clear();
  state.selectedId = null;
  state.thread = null;
  outbox.clear();
  ui.list.replaceChildren();
  ui.threadLog.replaceChildren();
  ui.thread.hidden = true;
  ui.threadEmpty.hidden = false;
  ui.inboxView.classList.remove('has-thread');
}

async function startInbox(operator) {
  stopSession();
  state.me = operator;
  const generation = state.generation;
  ui.meName.textContent = operator.name || operator.email;
  showView('inbox');
  setConnection('');
  try {
    await loadList();
  } catch (error) {
    if (handleAuthError(error)) return;
    setConnection('Reconnecting…');
  }
  pollLoop(generation);
}

function handleAuthError(error) {
  if (error && error.status === 401) {
    showLogin('Your session has ended. Please sign in again.');
    return true;
  }
  return false;
}

function setConnection(text) {
  ui.connection.textContent = text;
  ui.connection.hidden = !text;
}

// ---------------------------------------------------------------------------------------------
// Login / logout

ui.loginForm.addEventListener('submit', async (event) => {
  event.preventDefault();
  hideLoginError();
  const email = ui.loginEmail.value.trim();
  const password = ui.loginPassword.value;
  if (!email || !password) {
    showLoginError('Enter your email and password.');
    return;
  }
  ui.loginSubmit.disabled = true;
  ui.loginSubmit.textContent = 'Signing in…';
  try {
    const result = await api('/login', { method: 'POST', body: { email, password } });
    ui.loginPassword.value = '';
    await startInbox(result.operator);
  } catch (error) {
    showLoginError(error.message || 'Sign in failed.');
    ui.loginPassword.focus();
  } finally {
    ui.loginSubmit.disabled = false;
    ui.loginSubmit.textContent = 'Sign in';
  }
});

ui.logout.addEventListener('click', async () => {
  ui.logout.disabled = true;
  try {
    await api('/logout', { method: 'POST', body: {} });
  } catch { /* the session is dropped locally either way */ }
  ui.logout.disabled = false;
  showLogin();
});

// ---------------------------------------------------------------------------------------------
// Conversation list

function sortedConversations() {
  return [...state.conversations.values()].sort(
    (a, b) => (b.updated_at || 0) - (a.updated_at || 0) || b.id - a.id,
  );
}

function matchesFilter(conversation) {
  return state.filter === 'all' || conversation.status === state.filter;
}

async function loadList() {
  const generation = state.generation;
  const result = await api(`/conversations?status=${encodeURIComponent(state.filter)}`);
  if (generation !== state.generation) return;
  const typing = new Map([...state.conversations].map(([id, c]) => [id, c.typingUntil]));
  state.conversations.clear();
  for (const conversation of result.conversations || []) {
    conversation.typingUntil = typing.get(conversation.id) || 0;
    state.conversations.set(conversation.id, conversation);
  }
  state.cursor = Math.max(state.cursor, Number(result.cursor) || 0);
  renderList();
  if (state.selectedId !== null) {
    const summary = state.conversations.get(state.selectedId);
    if (summary) renderThreadHeader(summary);
    await loadThread(state.selectedId);
  }
}

function renderList() {
  const focusedId = document.activeElement && document.activeElement.closest
    ? document.activeElement.closest('.conv')?.dataset.id
    : undefined;
  const ordered = sortedConversations();
  const keep = new Set(ordered.map((c) => c.id));
  for (const [id, row] of state.rows) {
    if (!keep.has(id)) {
      row.remove();
      state.rows.delete(id);
    }
  }
  let previous = null;
  for (const conversation of ordered) {
    let row = state.rows.get(conversation.id);
    if (!row) {
      row = createRow(conversation.id);
      state.rows.set(conversation.id, row);
    }
    fillRow(row, conversation);
    const expectedNext = previous ? previous.nextSibling : ui.list.firstChild;
    if (row !== expectedNext) ui.list.insertBefore(row, expectedNext);
    previous = row;
  }
  ui.listEmpty.hidden = ordered.length > 0;
  if (focusedId) {
    const button = state.rows.get(Number(focusedId))?.querySelector('.conv');
    if (button && document.activeElement !== button) button.focus({ preventScroll: true });
  }
  updateTitle();
}

function createRow(id) {
  const li = el('li', 'conv-item');
  const button = el('button', 'conv');
  button.type = 'button';
  button.dataset.id = String(id);
  button.addEventListener('click', () => openConversation(id));
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

  const name = el('span', 'conv-name', contactName(conversation));
  const top = el('span', 'conv-top');
  top.append(name);
  const activity = conversation.updated_at || (conversation.last_message && conversation.last_message.created_at);
  if (activity) top.append(timeElement(activity, true));

  const bottom = el('span', 'conv-bottom');
  const typing = conversation.typingUntil > Date.now();
  const preview = el('span', typing ? 'conv-preview is-typing' : 'conv-preview', previewText(conversation, typing));
  bottom.append(preview);
  if (conversation.unread_count > 0) {
    const badge = el('span', 'badge', conversation.unread_count > 99 ? '99+' : String(conversation.unread_count));
    badge.append(el('span', 'visually-hidden', ' unread'));
    bottom.append(badge);
  }
  if (conversation.status === 'resolved') bottom.append(el('span', 'pill', 'Resolved'));

  const main = el('span', 'conv-main');
  main.append(top, bottom);
  button.replaceChildren(avatar, main);
}

function previewText(conversation, typing) {
  if (typing) return 'typing…';
  const message = conversation.last_message;
  if (!message) return 'No messages yet';
  const body = message.body.replace(/\s+/g, ' ').slice(0, 140);
  if (message.author === 'operator') {
    const mine = state.me && message.operator_name === state.me.name;
    return `${mine ? 'You' : message.operator_name || 'Operator'}: ${body}`;
  }
  return body;
}

function updateTitle() {
  let unread = 0;
  for (const conversation of state.conversations.values()) unread += conversation.unread_count || 0;
  document.title = unread > 0 ? `(${unread}) Inbox · Live chat` : 'Inbox · Live chat';
}

ui.filter.addEventListener('change', async () => {
  state.filter = ui.filter.value;
  try {
    await loadList();
  } catch (error) {
    if (!handleAuthError(error)) scheduleResync();
  }
});

// Arrow keys move between conversations; Tab leaves the list.
ui.list.addEventListener('keydown', (event) => {
  if (event.key !== 'ArrowDown' && event.key !== 'ArrowUp') return;
  const buttons = [...ui.list.querySelectorAll('.conv')];
  const index = buttons.indexOf(document.activeElement);
  if (index < 0) return;
  event.preventDefault();
  const next = buttons[index + (event.key === 'ArrowDown' ? 1 : -1)];
  if (next) next.focus();
});

// ---------------------------------------------------------------------------------------------
// Thread

function openConversation(id) {
  const summary = state.conversations.get(id);
  if (!summary) return;
  if (state.selectedId !== id) {
    state.selectedId = id;
    state.thread = { id, messages: new Map(), pending: new Map(), loaded: false };
    ui.threadLog.replaceChildren();
    visitorTyping.hide();
    hideThreadError();
    ui.replyInput.value = '';
  }
  ui.threadEmpty.hidden = true;
  ui.thread.hidden = false;
  ui.inboxView.classList.add('has-thread');
  renderThreadHeader(summary);
  renderList();
  ui.replyInput.focus({ preventScroll: true });
  loadThread(id).catch((error) => {
    if (!handleAuthError(error)) showThreadError(error.message);
  });
}

function renderThreadHeader(summary) {
  ui.threadTitle.textContent = contactName(summary);
  const parts = [];
  if (summary.contact && summary.contact.email) parts.push(summary.contact.email);
  parts.push(summary.status === 'resolved' ? 'Resolved' : 'Open');
  if (summary.created_at) parts.push(`started ${fullFormat.format(new Date(summary.created_at))}`);
  ui.threadSub.textContent = parts.join(' · ');
  setAvatar(ui.threadAvatar, summary);
}

async function loadThread(id) {
  const generation = state.generation;
  ui.threadLog.setAttribute('aria-busy', 'true');
  try {
    const result = await api(`/conversations/${id}`);
    if (generation !== state.generation || state.selectedId !== id || !state.thread) return;
    const summary = result.conversation;
    if (summary) {
      const known = state.conversations.get(id);
      if (known) {
        known.visitor_read_up_to = Math.max(known.visitor_read_up_to || 0, summary.visitor_read_up_to || 0);
        known.operator_read_up_to = Math.max(known.operator_read_up_to || 0, summary.operator_read_up_to || 0);
        if (summary.contact) known.contact = summary.contact;
        known.status = summary.status;
      } else if (matchesFilter(summary)) {
        state.conversations.set(id, { ...summary, typingUntil: 0 });
      }
    }
    for (const message of result.messages || []) addThreadMessage(message, { live: false });
    state.thread.loaded = true;
    refreshThreadTicks();
    scrollToBottom(ui.threadLog);
    markThreadRead();
  } finally {
    ui.threadLog.removeAttribute('aria-busy');
  }
}

function messageNode(message) {
  const root = el('div', `msg msg--${message.author}`);
  let author;
  if (message.author === 'visitor') author = contactName(state.conversations.get(message.conversation_id) || { id: message.conversation_id });
  else if (message.author === 'operator') author = message.operator_name || 'Operator';
  else author = 'System';
  root.append(el('span', 'msg-author', author));
  root.append(el('div', 'bubble', message.body));
  root.append(el('div', 'msg-meta'));
  return root;
}

function operatorStatus(message) {
  const summary = state.conversations.get(message.conversation_id);
  const readUpTo = summary ? summary.visitor_read_up_to || 0 : 0;
  return message.id <= readUpTo ? 'read' : 'sent';
}

// Adds a message to the open thread once; returns true when it was new.
function addThreadMessage(message, { live }) {
  const thread = state.thread;
  if (!thread || message.conversation_id !== thread.id || thread.messages.has(message.id)) return false;
  const stick = isNearBottom(ui.threadLog, 100);
  const node = claimPending(thread.pending, message) || messageNode(message);
  node.dataset.id = String(message.id);
  insertInOrder(ui.threadLog, node, message.id);
  thread.messages.set(message.id, { message, el: node });
  setMeta(node, message.created_at, message.author === 'operator' ? operatorStatus(message) : null);
  if (message.author === 'visitor') visitorTyping.hide();
  if (stick || !live || message.author === 'operator') scrollToBottom(ui.threadLog);
  return true;
}

function refreshThreadTicks() {
  if (!state.thread) return;
  for (const { message, el: node } of state.thread.messages.values()) {
    if (message.author !== 'operator') continue;
    const next = operatorStatus(message);
    const current = node.querySelector('.msg-status');
    if (!current || current.dataset.status !== next) setMeta(node, message.created_at, next);
  }
}

function markThreadRead() {
  const thread = state.thread;
  if (!thread || !thread.loaded || !isVisible()) return;
  const summary = state.conversations.get(thread.id);
  let newest = 0;
  for (const { message } of thread.messages.values()) {
    if (message.author === 'visitor' && message.id > newest) newest = message.id;
  }
  const readUpTo = summary ? summary.operator_read_up_to || 0 : 0;
  if (summary && summary.unread_count > 0 && newest <= readUpTo) {
    summary.unread_count = 0;
    renderList();
  }
  if (newest <= readUpTo) return;
  if (summary) {
    summary.operator_read_up_to = newest;
    summary.unread_count = 0;
    renderList();
  }
  api(`/conversations/${thread.id}/read`, { method: 'POST', body: { message_id: newest } }).catch((error) => {
    if (summary) summary.operator_read_up_to = readUpTo;
    handleAuthError(error);
  });
}

const visitorTyping = typingIndicator(ui.threadTyping, TYPING_SHOW_MS);

function showThreadError(text) {
  ui.threadError.textContent = text;
  ui.threadError.hidden = false;
}
function hideThreadError() {
  ui.threadError.hidden = true;
  ui.threadError.textContent = '';
}

ui.back.addEventListener('click', () => {
  ui.inboxView.classList.remove('has-thread');
  const button = state.rows.get(state.selectedId)?.querySelector('.conv');
  if (button) button.focus();
});

// ---------------------------------------------------------------------------------------------
// Replying

function sendReply(text) {
  const thread = state.thread;
  if (!thread) return;
  const item = { clientId: newClientId(), conversationId: thread.id, body: text, acked: false, el: null };
  item.el = messageNode({
    author: 'operator',
    operator_name: state.me ? state.me.name : 'You',
    body: text,
    conversation_id: thread.id,
  });
  ui.threadLog.append(item.el);
  setMeta(item.el, Date.now(), 'sending');
  thread.pending.set(item.clientId, item);
  scrollToBottom(ui.threadLog);
  outbox.send(item);
}

async function deliverReply(item) {
  const result = await api(`/conversations/${item.conversationId}/messages`, {
    method: 'POST',
    body: { body: item.body, client_id: item.clientId },
  });
  hideThreadError();
  applyMessage(result.message, { live: false });
}

function sendTyping() {
  const thread = state.thread;
  if (!thread) return;
  const now = Date.now();
  if (now - state.lastTypingSentAt < TYPING_SEND_EVERY_MS) return;
  state.lastTypingSentAt = now;
  api(`/conversations/${thread.id}/typing`, { method: 'POST', body: {} }).catch(handleAuthError);
}

bindComposer({
  form: ui.replyForm,
  input: ui.replyInput,
  button: ui.replySend,
  maxChars: MAX_BODY_CHARS,
  onSend: sendReply,
  onTooLong: () => showThreadError(`Replies can be at most ${MAX_BODY_CHARS} characters.`),
  onTyping: sendTyping,
});

// ---------------------------------------------------------------------------------------------
// Live updates

// One message into the list summary and, when it belongs to the open thread, into the thread.
function applyMessage(message, { live }) {
  if (!message) return;
  const summary = state.conversations.get(message.conversation_id);
  if (summary) {
    const isNew = !summary.last_message || message.id > summary.last_message.id;
    if (isNew) {
      summary.last_message = message;
      summary.updated_at = Math.max(summary.updated_at || 0, message.created_at || 0);
      if (message.author === 'visitor') {
        summary.typingUntil = 0;
        const readingIt = state.selectedId === message.conversation_id && isVisible();
        if (!readingIt && message.id > (summary.operator_read_up_to || 0)) summary.unread_count = (summary.unread_count || 0) + 1;
      }
    }
    renderList();
  } else if (live) {
    scheduleResync(); // a conversation this list does not know yet (e.g. filtered or missed)
  }
  if (state.thread && state.thread.id === message.conversation_id) {
    addThreadMessage(message, { live });
    if (message.author === 'visitor') markThreadRead();
  }
}

function applyEvent(event) {
  const data = event.data || {};
  const summary = state.conversations.get(event.conversation_id);
  switch (event.kind) {
    case 'conversation.created': {
      const conversation = data.conversation;
      if (conversation && matchesFilter(conversation) && !state.conversations.has(conversation.id)) {
        state.conversations.set(conversation.id, { ...conversation, typingUntil: 0 });
        renderList();
      }
      break;
    }
    case 'message.created':
      applyMessage(data.message, { live: true });
      break;
    case 'typing':
      if (data.by !== 'visitor') break;
      if (summary) {
        summary.typingUntil = Date.now() + TYPING_SHOW_MS;
        renderList();
        setTimeout(renderList, TYPING_SHOW_MS + 50);
      }
      if (state.selectedId === event.conversation_id) visitorTyping.show();
      break;
    case 'read': {
      const upTo = Number(data.up_to) || 0;
      if (!summary) break;
      if (data.by === 'visitor') {
        summary.visitor_read_up_to = Math.max(summary.visitor_read_up_to || 0, upTo);
        if (state.selectedId === event.conversation_id) refreshThreadTicks();
      } else if (data.by === 'operator') {
        summary.operator_read_up_to = Math.max(summary.operator_read_up_to || 0, upTo);
        if (summary.last_message && upTo >= summary.last_message.id) summary.unread_count = 0;
        renderList();
      }
      break;
    }
    default:
      break; // kinds this console does not show yet
  }
}

// Reloads the list (and the open thread) soon; used when events refer to unknown conversations.
function scheduleResync() {
  clearTimeout(state.resyncTimer);
  const generation = state.generation;
  state.resyncTimer = setTimeout(() => {
    if (generation !== state.generation) return;
    loadList().catch((error) => { handleAuthError(error); });
  }, 300);
}

async function pollLoop(generation) {
  let delay = 1000;
  let resync = false;
  while (generation === state.generation) {
    const controller = new AbortController();
    state.pollController = controller;
    const guard = setTimeout(() => controller.abort(), POLL_TIMEOUT_MS);
    try {
      if (resync) {
        await loadList();
        resync = false;
        setConnection('');
      }
      const result = await api(`/events?after=${state.cursor}&wait=${POLL_WAIT_S}`, { signal: controller.signal });
      if (generation !== state.generation) break;
      for (const event of result.events || []) {
        applyEvent(event);
        state.cursor = Math.max(state.cursor, Number(event.id) || 0);
      }
      state.cursor = Math.max(state.cursor, Number(result.cursor) || 0);
      delay = 1000;
    } catch (error) {
      if (generation !== state.generation) break;
      if (handleAuthError(error)) break;
      if (error.name !== 'AbortError') {
        setConnection('Reconnecting…');
        await sleep(jitter(delay));
        delay = Math.min(delay * 2, 30000);
      }
      resync = true;
    } finally {
      clearTimeout(guard);
    }
  }
}

document.addEventListener('visibilitychange', () => {
  if (isVisible()) markThreadRead();
});
window.addEventListener('focus', markThreadRead);

// ---------------------------------------------------------------------------------------------
// Boot: a valid session cookie goes straight to the inbox.

(async function boot() {
  try {
    const result = await api('/me');
    await startInbox(result.operator);
  } catch (error) {
    // 401 simply means "not signed in"; anything else is worth telling.
    showLogin(error.status === 401 ? undefined : error.message);
  }
})();
