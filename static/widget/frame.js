// The chat UI inside the widget iframe (served from our origin, embedded by loader.js).
//
// Invariants:
// - Every piece of text that came from the network is rendered with textContent, never as markup.
// - A message is sent with a client_id generated once; retries reuse it, so the server stores it
//   once however often we retry. Messages are shown once, keyed by server id (and by client_id
//   while still pending), whether they arrive by POST response, history or the event stream.
// - The event long-poll runs only while this tab is visible and resumes from its cursor, so
//   nothing is missed across pauses, reloads or network errors.
// - While the visitor waits for a first answer (they wrote last and the conversation is in the
//   queue), a status line says their place in line and the estimated wait; it is polled every
//   15 s only while waiting and visible, and goes away when an operator writes or the
//   conversation leaves the queue.
// - postMessage goes only to the parent origin, and only messages from the parent window with
//   that origin are accepted. Nothing private (token, message text) is ever posted to the parent.
// - The assistant's messages (`sender: "assistant"`) are labelled "Assistant" and styled apart
//   from people's, so a visitor always knows whether a person is answering.
// - Help search lists published knowledge-base articles and shows one's text (as text: nothing
//   in it becomes markup or a link); Escape and the back buttons return to the chat.
// - After an operator resolves the conversation, the satisfaction survey (a `csat.requested`
//   event, or `csat` in the conversation's snapshot after a reload) asks for a rating 1-5 with
//   labelled native radios and an optional comment, in the visitor's language (en, es, fr, de);
//   one answer per conversation, then a thank-you. Changes are announced in a polite live region.
// - Every word comes from i18n.js (en, es, fr, de). The admins' look (theme.js), the pre-chat
//   form (prechat.js) and the offline form (offline.js) come from GET /config; links (linkify.js),
//   emoji (emoji.js) and files (attachments.js) have modules of their own. After ~100 s without
//   events the long-poll rests between polls (idle backoff) until something happens.

import { ApiError, jitter, requestJson, sleep } from '/shared/api.js';
import { bindComposer } from '/shared/composer.js';
import {
  claimPending, el, insertInOrder, isNearBottom, scrollToBottom, setMeta, setStatusLabels,
  statusLabel, typingIndicator,
} from '/shared/messages.js';
import { newClientId, Outbox } from '/shared/outbox.js';
import { attachmentList, fileProblem, localPreview } from '/widget/attachments.js';
import { bindEmojiPicker } from '/widget/emoji.js';
import {
  locale as uiLocale, onLocaleChange, setLocale, setPageLocale, t, translate,
} from '/widget/i18n.js';
import { installBridge } from '/widget/bridge.js';
import { offlineNotice, offlineReason, showOffline } from '/widget/offline.js';
import { prechatWanted, showPrechat } from '/widget/prechat.js';
import { applyTheme, initials } from '/widget/theme.js';
import { linkifyInto } from '/widget/linkify.js';

const API = '/api/widget';
const STORAGE_KEY = 'livechat:v1:session';
const TYPING_SEND_EVERY_MS = 2000;
const TYPING_SHOW_MS = 5000;
const POLL_WAIT_S = 25;
const POLL_TIMEOUT_MS = (POLL_WAIT_S + 15) * 1000;
const MAX_SEND_ATTEMPTS = 6;
const MAX_BODY_CHARS = 4000;
const QUEUE_POLL_MS = 15_000;
// After this many long-polls in a row came back empty (about 100 s of silence), the widget rests
// between polls, doubling from IDLE_PAUSE_MIN_MS up to IDLE_PAUSE_MAX_MS (jittered), until
// something happens: an event, the visitor typing or sending, the chat being opened.
const IDLE_AFTER_POLLS = 4;
const IDLE_PAUSE_MIN_MS = 5_000;
const IDLE_PAUSE_MAX_MS = 60_000;

// ---------------------------------------------------------------------------------------------
// Storage of the visitor session ({ token, conversationId }), in order of preference:
// 1. this frame's localStorage, under a prefixed key;
// 2. when that throws (Chrome denies it to third-party frames when third-party cookies are
//    blocked, e.g. in incognito), the embedding page's localStorage, kept by loader.js and handed
//    over with postMessage. Only the real parent can receive it: postMessage's target origin is
//    enforced by the browser. The host page is the business's own site and could script this
//    widget anyway, which is why first-party storage there is an acceptable home for the token;
// 3. memory, so that a visitor can still chat until the page is closed.

const memoryStore = new Map();
const localStorageWorks = (() => {
  try {
    const probe = 'livechat:v1:probe';
    window.localStorage.setItem(probe, '1');
    window.localStorage.removeItem(probe);
    return true;
  } catch {
    return false;
  }
})();

const store = {
  get(key) {
    if (localStorageWorks) {
      try { return window.localStorage.getItem(key); } catch { /* fall through to memory */ }
    }
    return memoryStore.has(key) ? memoryStore.get(key) : null;
  },
  set(key, value) {
    memoryStore.set(key, value);
    if (localStorageWorks) {
      try { window.localStorage.setItem(key, value); } catch { /* memory copy is enough */ }
    }
  },
  remove(key) {
    memoryStore.delete(key);
    if (localStorageWorks) {
      try { window.localStorage.removeItem(key); } catch { /* nothing stored there */ }
    }
  },
};

function parseSession(value) {
  if (value && typeof value.token === 'string' && value.token.length <= 512
    && Number.isInteger(value.conversationId) && value.conversationId > 0) {
    return { token: value.token, conversationId: value.conversationId };
  }
  return null;
}

function loadSession() {
  try {
    return parseSession(JSON.parse(store.get(STORAGE_KEY) ?? 'null'));
  } catch {
    return null; // corrupt entry: start afresh
  }
}

// Where the session lives when this frame has no storage of its own: the embedding page.
const usesParentStore = !localStorageWorks && window.parent !== window;

function saveSession(session) {
  if (session) store.set(STORAGE_KEY, JSON.stringify(session));
  else store.remove(STORAGE_KEY);
  if (usesParentStore) postToParent('session:save', { session });
  window.dispatchEvent(new CustomEvent('lcw:session', { detail: session })); // for bridge.js
}

// Resolves with the session the parent kept for us (or null), once it answered frame:ready.
let receiveParentSession;
const parentSession = new Promise((resolve) => { receiveParentSession = resolve; });

// ---------------------------------------------------------------------------------------------
// HTTP

// Resolves with the JSON answer (null for 204); rejects with an ApiError (see /shared/api.js).
async function api(path, { method = 'GET', body, signal } = {}) {
  const headers = { Accept: 'application/json' };
  if (state.session) headers.Authorization = `Bearer ${state.session.token}`;
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  return requestJson(API + path, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
    signal,
    credentials: 'omit',
    cache: 'no-store',
  }, t('offline_net'));
}

// ---------------------------------------------------------------------------------------------
// State

const standalone = window.parent === window;

const state = {
  session: loadSession(), // { token, conversationId } once a conversation exists
  loaded: false, // history of state.session's conversation is on screen
  cursor: 0,
  businessName: 'Support',
  messages: new Map(), // server id -> { message, el }
  pending: new Map(), // client_id -> outbox item, until the server acknowledged it
  operatorReadUpTo: 0,
  visitorReadUpTo: 0,
  open: standalone,
  parentOrigin: resolveParentOrigin(),
  pageUrl: null,
  unread: 0,
  lastTypingSentAt: 0,
  pollController: null,
  syncing: false,
  queue: { timer: null, seq: 0 }, // the queue status line's polling
  config: null, // GET /config: the admins' look, pre-chat fields, availability
  startDetails: {}, // what the pre-chat or offline form collected, for the start request
};

// Messages waiting to be delivered, in order.
const outbox = new Outbox({
  deliver: async (item) => {
    await deliver(item);
    clearError();
  },
  onFailed: (item, error) => showError(error.message),
  maxAttempts: MAX_SEND_ATTEMPTS,
});

const $ = (id) => document.getElementById(id);
const ui = {
  name: $('business-name'),
  avatar: $('business-avatar'),
  log: $('log'),
  welcome: $('welcome'),
  typing: $('typing'),
  typingText: $('typing-text'),
  queueStatus: $('queue-status'),
  error: $('error'),
  form: $('composer'),
  input: $('message-input'),
  send: $('send-button'),
  close: $('close-button'),
  chatView: $('chat-view'),
  helpButton: $('help-button'),
  help: $('help'),
  helpBack: $('help-back'),
  helpSearch: $('help-search'),
  helpForm: $('help-form'),
  helpInput: $('help-input'),
  helpStatus: $('help-status'),
  helpResults: $('help-results'),
  helpArticle: $('help-article'),
  helpArticleBack: $('help-article-back'),
  helpArticleTitle: $('help-article-title'),
  helpArticleBody: $('help-article-body'),
  helpAsk: $('help-ask'),
  csat: $('csat'),
  csatForm: $('csat-form'),
  csatTitle: $('csat-title'),
  csatOptions: $('csat-options'),
  csatCommentLabel: $('csat-comment-label'),
  csatComment: $('csat-comment'),
  csatSubmit: $('csat-submit'),
  csatThanks: $('csat-thanks'),
  csatStatus: $('csat-status'),
  gate: $('gate'),
  hint: $('composer-hint'),
  attach: $('attach-button'),
  fileInput: $('file-input'),
  emojiButton: $('emoji-button'),
  emojiPanel: $('emoji-panel'),
};

const isVisible = () => document.visibilityState === 'visible';

// ---------------------------------------------------------------------------------------------
// Parent window messaging

function resolveParentOrigin() {
  if (window.parent === window) return null;
  // ancestorOrigins cannot be forged by the embedding page; the hash is the fallback for
  // browsers without it (Firefox).
  const ancestors = window.location.ancestorOrigins;
  if (ancestors && ancestors.length > 0) return ancestors[0] === 'null' ? null : ancestors[0];
  const claimed = new URLSearchParams(window.location.hash.slice(1)).get('parent');
  try {
    const origin = new URL(claimed).origin;
    return origin === 'null' ? null : origin;
  } catch {
    return null;
  }
}

function postToParent(type, data = {}) {
  if (standalone || !state.parentOrigin) return;
  window.parent.postMessage({ type, data }, state.parentOrigin);
}

window.addEventListener('message', (event) => {
  if (standalone || event.source !== window.parent || event.origin !== state.parentOrigin) return;
  const msg = event.data;
  if (!msg || typeof msg.type !== 'string') return;
  switch (msg.type) {
    case 'widget:open':
      setOpen(true);
      break;
    case 'widget:close':
      setOpen(false);
      break;
    case 'page:context':
      if (msg.data && typeof msg.data.url === 'string') state.pageUrl = msg.data.url.slice(0, 2048);
      if (msg.data && typeof msg.data.lang === 'string') setPageLocale(msg.data.lang);
      receiveParentSession(parseSession(msg.data && msg.data.session));
      break;
    default:
      break;
  }
});

function setOpen(open) {
  const wasOpen = state.open;
  state.open = open;
  if (open) {
    if (!wasOpen) wakeIdle();
    state.unread = 0;
    scrollToBottom(ui.log);
    markRead();
    if (!wasOpen) (ui.help.hidden ? ui.input : ui.helpInput).focus({ preventScroll: true });
  }
}

function requestClose() {
  if (standalone) return;
  postToParent('widget:close');
}

// ---------------------------------------------------------------------------------------------
// Rendering (textContent only)

function messageElement(author, body, authorLabel) {
  const root = el('div', `msg msg--${author}`);
  if (authorLabel) root.append(el('span', 'msg-author', authorLabel));
  const bubble = el('div', 'bubble');
  linkifyInto(bubble, body);
  root.append(bubble);
  root.append(el('div', 'msg-meta'));
  return root;
}

// Operators' initials beside their messages, when the admins want avatars.
function addAvatar(node, name) {
  if (!state.config || state.config.show_avatars === false) return;
  const avatar = el('span', 'msg-avatar', initials(name));
  avatar.setAttribute('aria-hidden', 'true');
  node.classList.add('msg-with-avatar');
  node.prepend(avatar);
}

// The files under a message, fetched with the visitor's token.
function showAttachments(node, message) {
  const files = Array.isArray(message.attachments) ? message.attachments : [];
  node.querySelector('.msg-attachments')?.remove();
  if (!files.length || !state.session) return;
  const { token, conversationId } = state.session;
  const fetchFile = async (attachment) => {
    const response = await fetch(`${API}/conversations/${conversationId}/attachments/${attachment.id}`, {
      headers: { Authorization: `Bearer ${token}` }, credentials: 'omit',
    });
    if (!response.ok) throw new Error(`attachment ${response.status}`);
    return response.blob();
  };
  node.querySelector('.bubble').after(attachmentList(files, fetchFile));
}

function visitorStatus(message) {
  return message.id <= state.operatorReadUpTo ? 'read' : 'sent';
}

function updateWelcome() {
  ui.welcome.hidden = state.messages.size > 0 || state.pending.size > 0;
}

// The assistant's messages are stored as the system's with `sender: "assistant"`.
function isAssistant(message) {
  return message.sender === 'assistant';
}

// Shows a server message once. Returns true when it was new to this page.
function addMessage(message, { live = false } = {}) {
  if (!message || state.messages.has(message.id)) return false;
  const stick = isNearBottom(ui.log, 80);
  const assistant = isAssistant(message);
  // Our own message comes back acknowledged (by the POST response or by the event stream,
  // whichever came first); its bubble moves to the server's place, as an operator message may
  // have been stored just before it.
  let node = claimPending(state.pending, message);
  if (!node) {
    let label;
    if (assistant) label = t('assistant');
    else if (message.author === 'operator') label = message.operator_name || state.businessName;
    node = messageElement(assistant ? 'assistant' : message.author, message.body, label);
    if (message.author === 'operator') addAvatar(node, label);
  }
  showAttachments(node, message);
  insertInOrder(ui.log, node, message.id);
  node.dataset.id = String(message.id);
  state.messages.set(message.id, { message, el: node });
  setMeta(node, message.created_at, message.author === 'visitor' ? visitorStatus(message) : null);
  updateWelcome();

  if (message.author === 'operator' || assistant) {
    if (live) window.dispatchEvent(new CustomEvent('lcw:message', { detail: { author: assistant ? 'assistant' : 'operator' } }));
    operatorTyping.hide();
    // A person's answer ends the wait in line. The assistant's does not: when it hands over,
    // the conversation has just joined the queue, and the line says where.
    if (assistant) {
      if (live) refreshQueueStatus();
    } else {
      stopQueueStatus();
    }
    if (live && !(state.open && isVisible())) {
      state.unread += 1;
      postToParent('message:received', { unread: state.unread });
    }
    if (live && !ui.help.hidden) noteNewMessageInHelp();
    markRead();
  }
  if (stick || message.author === 'visitor') scrollToBottom(ui.log);
  return true;
}

function refreshReadTicks() {
  for (const { message, el: node } of state.messages.values()) {
    if (message.author !== 'visitor') continue;
    const status = node.querySelector('.msg-status');
    const next = visitorStatus(message);
    if (status && status.dataset.status !== next) setMeta(node, message.created_at, next);
  }
}

const operatorTyping = typingIndicator(ui.typing, TYPING_SHOW_MS);
function showTyping(name) {
  ui.typingText.textContent = t('typing', { name: name || state.businessName });
  operatorTyping.show();
}

let errorTimer = null;
function showError(text) {
  ui.error.textContent = text;
  ui.error.hidden = false;
  clearTimeout(errorTimer);
  errorTimer = setTimeout(clearError, 8000);
}
function clearError() {
  ui.error.hidden = true;
  ui.error.textContent = '';
}

// ---------------------------------------------------------------------------------------------
// Place in the queue: "You're number 2 in line · about 4 min"

// Whether the visitor is waiting for an answer: of the stored messages, the newest one from the
// visitor or an operator is the visitor's (a system notice, such as a transfer, answers nothing).
function awaitingReply() {
  let newest = null;
  for (const { message } of state.messages.values()) {
    if (message.author !== 'visitor' && message.author !== 'operator') continue;
    if (!newest || message.id > newest.id) newest = message;
  }
  return Boolean(newest) && newest.author === 'visitor';
}

// The words for GET /conversations/:id/queue; empty when there is nothing honest to say.
function queueText(info) {
  if (!info || !info.waiting) return '';
  if (info.available_operators === 0) return t('queue_nobody');
  const place = Number.isInteger(info.position) && info.position > 0 ? t('queue_place', { n: info.position }) : t('queue_in_line');
  const wait = info.estimated_wait_s;
  if (typeof wait !== 'number' || !Number.isFinite(wait) || wait < 0) return place;
  if (wait === 0) return t('queue_now', { place });
  return t('queue_min', { place, n: Math.ceil(wait / 60) });
}

// The line is a polite live region that stays in the page (empty when there is nothing to say),
// so screen readers hear each change once; the same words are not written again.
function setQueueStatus(text) {
  if (ui.queueStatus.textContent !== text) ui.queueStatus.textContent = text;
}

function stopQueueStatus() {
  state.queue.seq += 1; // an answer still on its way is dropped
  clearTimeout(state.queue.timer);
  state.queue.timer = null;
  setQueueStatus('');
}

// Asks where the conversation stands now, shows it, and asks again in 15 s while it waits.
async function refreshQueueStatus() {
  clearTimeout(state.queue.timer);
  state.queue.timer = null;
  if (!state.session || !state.loaded || !awaitingReply()) {
    stopQueueStatus();
    return;
  }
  if (!isVisible()) return; // resumed when the tab is visible again
  const { conversationId } = state.session;
  state.queue.seq += 1;
  const seq = state.queue.seq;
  let info;
  try {
    info = await api(`/conversations/${conversationId}/queue`);
  } catch (error) {
    if (seq !== state.queue.seq) return;
    // Keep the last words and try again later, unless the conversation is gone.
    if (error.status !== 401 && error.status !== 404) scheduleQueueStatus();
    return;
  }
  if (seq !== state.queue.seq || !state.session || state.session.conversationId !== conversationId) return;
  const text = awaitingReply() ? queueText(info) : '';
  if (!text) {
    stopQueueStatus();
    return;
  }
  setQueueStatus(text);
  scheduleQueueStatus();
}

function scheduleQueueStatus() {
  clearTimeout(state.queue.timer);
  state.queue.timer = isVisible() ? setTimeout(refreshQueueStatus, QUEUE_POLL_MS) : null;
}

// ---------------------------------------------------------------------------------------------
// Conversation lifecycle

async function loadConfig() {
  try {
    const config = await api('/config');
    if (!config) return;
    state.config = config;
    if (typeof config.business_name === 'string' && config.business_name.trim()) {
      state.businessName = config.business_name.trim();
    }
    applyTheme(config, { nameNode: ui.name, avatarNode: ui.avatar, welcomeNode: ui.welcome });
    postToParent('widget:theme', {
      accent: config.accent_color, position: config.position === 'left' ? 'left' : 'right',
    });
  } catch { /* keep the default look */ }
}

// ---------------------------------------------------------------------------------------------
// Before the first message: the pre-chat form or, when nobody can answer, the offline form take
// the composer's place (prechat.js, offline.js).

function setGate(open) {
  ui.gate.hidden = !open;
  ui.form.hidden = open;
  ui.hint.hidden = open;
  if (!open) ui.gate.replaceChildren();
}

async function topicsForPicker() {
  if (!state.config || !['optional', 'required'].includes(state.config.prechat_topic)) return [];
  try {
    const result = await api('/topics');
    return Array.isArray(result && result.topics) ? result.topics : [];
  } catch {
    return [];
  }
}

async function showGate() {
  if (state.session || !state.config) return;
  const reason = offlineReason(state.config);
  ui.avatar.classList.toggle('is-away', Boolean(reason)); // no "online" dot when nobody is there
  showOfflineNote(reason && !state.config.offline_form ? offlineNotice(state.config, reason) : '');
  if (reason && state.config.offline_form) {
    showOffline(ui.gate, {
      config: state.config,
      reason,
      leave: leaveMessage,
      chatInstead: () => showPrechatOrChat(),
    });
    setGate(true);
    return;
  }
  await showPrechatOrChat();
}

// A line in the chat saying nobody is there (and when they are back), while there is no
// conversation yet; written again when the language changes.
function showOfflineNote(text) {
  let note = document.getElementById('offline-note');
  if (!text) {
    note?.remove();
    return;
  }
  if (!note) {
    note = el('p', 'log-notice');
    note.id = 'offline-note';
    ui.welcome.after(note);
  }
  note.textContent = text;
}

async function showPrechatOrChat() {
  const topics = await topicsForPicker();
  if (state.session || !prechatWanted(state.config, topics)) {
    setGate(false);
    if (state.open) ui.input.focus({ preventScroll: true });
    return;
  }
  showPrechat(ui.gate, {
    config: state.config,
    topics,
    onDone: (details) => {
      state.startDetails = details;
      setGate(false);
      ui.input.focus();
    },
  });
  setGate(true);
}

// The offline form's message: a conversation that carries the visitor's email/phone, then the
// message in it. Errors reach the form (ApiError messages name the field).
async function leaveMessage(details, body) {
  await booted;
  state.startDetails = details;
  if (!state.session) await startConversation();
  setGate(false);
  send(body);
  ui.log.append(el('p', 'log-notice', t('message_left')));
  ui.input.focus();
}

function forgetSession() {
  saveSession(null);
  state.session = null;
  state.loaded = false;
  state.cursor = 0;
  stopQueueStatus();
}

// Loads the stored conversation's history (after a reload).
async function resume() {
  const { conversationId } = state.session;
  const result = await api(`/conversations/${conversationId}`);
  if (!state.session || state.session.conversationId !== conversationId) return;
  applyConversation(result.conversation);
  for (const message of result.messages || []) addMessage(message);
  applySurvey(result.csat);
  state.cursor = Math.max(state.cursor, Number(result.cursor) || 0);
  state.loaded = true;
  // Operator messages the visitor has not read yet light up the launcher badge.
  const unread = (result.messages || []).filter(
    (m) => (m.author === 'operator' || isAssistant(m)) && m.id > state.visitorReadUpTo,
  ).length;
  if (unread > 0 && !(state.open && isVisible())) {
    state.unread = unread;
    postToParent('message:received', { unread });
  }
  scrollToBottom(ui.log);
  markRead();
  refreshQueueStatus();
}

function applyConversation(conversation) {
  if (!conversation) return;
  state.operatorReadUpTo = Math.max(state.operatorReadUpTo, conversation.operator_read_up_to || 0);
  state.visitorReadUpTo = Math.max(state.visitorReadUpTo, conversation.visitor_read_up_to || 0);
  refreshReadTicks();
}

// The browser's language when it is a plain tag (en, pt-BR): routing prefers operators who
// speak it. Anything else is left out rather than refused by the server.
function visitorLanguage() {
  const tag = typeof navigator.language === 'string' ? navigator.language.trim() : '';
  return tag.length <= 35 && /^[A-Za-z]{2,3}(-[A-Za-z0-9]{1,8})*$/.test(tag) ? tag : null;
}

// Creates a conversation (and, the first time, the visitor) for the first message.
async function startConversation() {
  const body = { ...state.startDetails };
  if (state.pageUrl) body.page_url = state.pageUrl;
  const language = visitorLanguage();
  if (language) body.language = language;
  const result = await api('/conversations', { method: 'POST', body });
  const token = result.visitor_token || (state.session && state.session.token);
  if (!token || !result.conversation) throw new ApiError(0, 'bad_response', 'The chat server sent an unexpected answer.');
  abortPoll();
  stopQueueStatus();
  hideSurvey();
  state.session = { token, conversationId: result.conversation.id };
  saveSession(state.session);
  showOfflineNote('');
  state.cursor = 0;
  state.operatorReadUpTo = 0;
  state.visitorReadUpTo = 0;
  applyConversation(result.conversation);
  state.loaded = true;
  sync();
}

// ---------------------------------------------------------------------------------------------
// Real time: long-poll the event log while the tab is visible.

function abortPoll() {
  if (state.pollController) state.pollController.abort();
}

async function pollOnce() {
  const { conversationId } = state.session;
  const controller = new AbortController();
  state.pollController = controller;
  const guard = setTimeout(() => controller.abort(), POLL_TIMEOUT_MS);
  let result;
  try {
    result = await api(
      `/conversations/${conversationId}/events?after=${state.cursor}&wait=${POLL_WAIT_S}`,
      { signal: controller.signal },
    );
  } finally {
    clearTimeout(guard);
    if (state.pollController === controller) state.pollController = null;
  }
  if (!state.session || state.session.conversationId !== conversationId) return;
  for (const event of result.events || []) {
    applyEvent(event);
    state.cursor = Math.max(state.cursor, Number(event.id) || 0);
  }
  state.cursor = Math.max(state.cursor, Number(result.cursor) || 0);
  return (result.events || []).length;
}

// Idle backoff: a rest between polls that wakeIdle() (activity) cuts short.
const idle = { polls: 0, timer: null, resolve: null };
function idlePause(ms) {
  return new Promise((resolve) => {
    idle.resolve = resolve;
    idle.timer = setTimeout(resolve, ms);
  });
}
function wakeIdle() {
  idle.polls = 0;
  clearTimeout(idle.timer);
  if (idle.resolve) idle.resolve();
  idle.resolve = null;
}

function applyEvent(event) {
  const data = event.data || {};
  switch (event.kind) {
    case 'message.created':
      addMessage(data.message, { live: true });
      break;
    case 'typing':
      if (data.by === 'operator') showTyping(data.name);
      break;
    case 'csat.requested':
      showSurvey({ live: true });
      break;
    case 'read':
      if (data.by === 'operator') {
        state.operatorReadUpTo = Math.max(state.operatorReadUpTo, Number(data.up_to) || 0);
        refreshReadTicks();
      } else if (data.by === 'visitor') {
        state.visitorReadUpTo = Math.max(state.visitorReadUpTo, Number(data.up_to) || 0);
      }
      break;
    default:
      break; // kinds this widget does not show
  }
}

async function sync() {
  if (state.syncing) return;
  state.syncing = true;
  let delay = 1000;
  try {
    while (state.session && isVisible()) {
      try {
        if (!state.loaded) {
          await resume();
        } else {
          const events = await pollOnce();
          idle.polls = events > 0 ? 0 : idle.polls + 1;
          if (idle.polls >= IDLE_AFTER_POLLS) {
            const step = idle.polls - IDLE_AFTER_POLLS;
            await idlePause(jitter(Math.min(IDLE_PAUSE_MIN_MS * 2 ** step, IDLE_PAUSE_MAX_MS)));
          }
        }
        delay = 1000;
      } catch (error) {
        if (error.name === 'AbortError') continue; // paused, timed out or switched conversation
        if (error.status === 401 || error.status === 404) {
          forgetSession(); // the conversation is gone or not ours any more: start afresh on next send
          break;
        }
        await sleep(jitter(delay));
        delay = Math.min(delay * 2, 30000);
      }
    }
  } finally {
    state.syncing = false;
  }
}

document.addEventListener('visibilitychange', () => {
  if (isVisible()) {
    wakeIdle();
    sync();
    markRead();
    if (state.loaded) refreshQueueStatus();
  } else {
    abortPoll();
    clearTimeout(state.queue.timer);
    state.queue.timer = null;
  }
});

// ---------------------------------------------------------------------------------------------
// Sending

function send(text) {
  wakeIdle();
  const item = { clientId: newClientId(), body: text, el: null, acked: false };
  item.el = messageElement('visitor', text);
  ui.log.append(item.el);
  setMeta(item.el, Date.now(), 'sending');
  state.pending.set(item.clientId, item);
  updateWelcome();
  scrollToBottom(ui.log);
  outbox.send(item);
}

// Sends one outbox item (starting the conversation first if needed) and shows the stored copy.
async function deliver(item) {
  await booted;
  if (!state.session) await startConversation();
  try {
    const result = await api(`/conversations/${state.session.conversationId}/messages`, {
      method: 'POST',
      body: { body: item.body, client_id: item.clientId },
    });
    addMessage(result.message);
    refreshQueueStatus(); // routing ran before the answer: the place in line is current
  } catch (error) {
    // A resolved or vanished conversation: open a new one (same visitor) and send there.
    if (error.status === 409 || error.status === 404) {
      if (error.status === 404) forgetSession();
      await startConversation();
      const result = await api(`/conversations/${state.session.conversationId}/messages`, {
        method: 'POST',
        body: { body: item.body, client_id: item.clientId },
      });
      addMessage(result.message);
      refreshQueueStatus();
      return;
    }
    throw error;
  }
}

function sendTyping() {
  if (!state.session || !state.loaded) return;
  const now = Date.now();
  if (now - state.lastTypingSentAt < TYPING_SEND_EVERY_MS) return;
  state.lastTypingSentAt = now;
  api(`/conversations/${state.session.conversationId}/typing`, { method: 'POST', body: {} }).catch(() => {});
}

function markRead() {
  // Read means seen: not while the visitor reads help articles instead of the chat.
  if (!state.session || !state.loaded || !state.open || !isVisible() || !ui.help.hidden) return;
  let newest = 0;
  for (const { message } of state.messages.values()) {
    if (message.author !== 'visitor' && message.id > newest) newest = message.id;
  }
  if (newest <= state.visitorReadUpTo) return;
  const previous = state.visitorReadUpTo;
  state.visitorReadUpTo = newest;
  state.unread = 0;
  postToParent('message:received', { unread: 0 });
  api(`/conversations/${state.session.conversationId}/read`, { method: 'POST', body: { message_id: newest } })
    .catch(() => { state.visitorReadUpTo = previous; });
}

// ---------------------------------------------------------------------------------------------
// Composer and keyboard

function autoGrow() {
  ui.input.style.height = 'auto';
  ui.input.style.height = `${Math.min(ui.input.scrollHeight, 140)}px`;
}

bindComposer({
  form: ui.form,
  input: ui.input,
  button: ui.send,
  maxChars: MAX_BODY_CHARS,
  onSend: send,
  onTooLong: () => showError(t('too_long', { n: MAX_BODY_CHARS })),
  onTyping: sendTyping,
  resize: autoGrow,
});

ui.close.addEventListener('click', requestClose);
if (standalone) ui.close.hidden = true;

document.addEventListener('keydown', (event) => {
  if (event.key !== 'Escape') return;
  // In help, Escape steps back (article, then results, then the chat); in the chat it closes.
  if (!ui.help.hidden) {
    event.preventDefault();
    if (!ui.helpArticle.hidden) showHelpResults();
    else showChat();
    return;
  }
  requestClose();
});

// ---------------------------------------------------------------------------------------------
// Help search: GET /api/widget/help?q=&language= lists published articles (title and a snippet);
// GET /api/widget/help/:id is one article's text. Typing searches after a pause (2-200
// characters, as the API takes); answers to older searches are dropped.

const HELP_DEBOUNCE_MS = 300;
const help = { seq: 0, timer: null, query: '', opener: null };

function showHelp() {
  ui.chatView.hidden = true;
  ui.help.hidden = false;
  ui.helpButton.setAttribute('aria-expanded', 'true');
  showHelpResults({ focus: false });
  ui.helpInput.focus();
}

function showChat() {
  ui.help.hidden = true;
  ui.chatView.hidden = false;
  ui.helpButton.setAttribute('aria-expanded', 'false');
  ui.helpBack.textContent = t('back_to_chat');
  scrollToBottom(ui.log);
  markRead();
  ui.input.focus();
}

// A reply came while the visitor reads help: the way back says so (and is read out).
function noteNewMessageInHelp() {
  ui.helpBack.textContent = t('back_to_chat_new');
  setHelpStatus(t('new_message_in_chat'));
}

function showHelpResults({ focus = true } = {}) {
  ui.helpArticle.hidden = true;
  ui.helpSearch.hidden = false;
  ui.helpBack.hidden = false;
  if (!focus) return;
  const back = help.opener && help.opener.isConnected ? help.opener : ui.helpInput;
  back.focus();
}

function setHelpStatus(text) {
  if (ui.helpStatus.textContent !== text) ui.helpStatus.textContent = text;
}

function scheduleHelpSearch() {
  clearTimeout(help.timer);
  help.timer = setTimeout(searchHelp, HELP_DEBOUNCE_MS);
}

async function searchHelp() {
  clearTimeout(help.timer);
  const q = ui.helpInput.value.trim();
  if (q === help.query && ui.helpResults.childElementCount) return;
  help.seq += 1;
  const seq = help.seq;
  if (q.length < 2) {
    help.query = '';
    ui.helpResults.replaceChildren();
    setHelpStatus(t('help_min'));
    return;
  }
  const params = new URLSearchParams({ q: q.slice(0, 200) });
  const language = visitorLanguage();
  if (language) params.set('language', language);
  setHelpStatus(t('searching'));
  let result;
  try {
    result = await api(`/help?${params}`);
  } catch (error) {
    if (seq !== help.seq) return;
    help.query = '';
    setHelpStatus(error.status === 400 ? error.message : t('help_failed'));
    return;
  }
  if (seq !== help.seq) return;
  help.query = q;
  const articles = Array.isArray(result && result.articles) ? result.articles : [];
  ui.helpResults.replaceChildren(...articles.map(helpResult));
  setHelpStatus(articles.length
    ? (articles.length === 1 ? t('articles_one') : t('articles_many', { n: articles.length }))
    : t('no_articles', { q }));
}

function helpResult(article) {
  const item = el('li', 'help-result');
  const open = el('button', 'help-result-button');
  open.type = 'button';
  open.append(el('span', 'help-result-title', String(article.title || '')));
  if (article.snippet) open.append(el('span', 'help-result-snippet', String(article.snippet)));
  open.addEventListener('click', () => openArticle(article.id, open));
  item.append(open);
  return item;
}

async function openArticle(id, opener) {
  help.opener = opener;
  help.seq += 1;
  const seq = help.seq;
  setHelpStatus(t('opening_article'));
  let result;
  try {
    result = await api(`/help/${encodeURIComponent(id)}`);
  } catch (error) {
    if (seq !== help.seq) return;
    setHelpStatus(error.status === 404 ? t('article_gone') : t('article_failed'));
    return;
  }
  if (seq !== help.seq || !result || !result.article) return;
  const article = result.article;
  ui.helpArticleTitle.textContent = String(article.title || '');
  ui.helpArticleBody.textContent = String(article.body || '');
  if (article.language) ui.helpArticle.lang = String(article.language);
  else ui.helpArticle.removeAttribute('lang');
  setHelpStatus('');
  ui.helpSearch.hidden = true;
  ui.helpBack.hidden = true;
  ui.helpArticle.hidden = false;
  ui.helpArticle.scrollTop = 0;
  ui.helpArticleTitle.focus();
}

ui.helpButton.addEventListener('click', () => {
  if (ui.help.hidden) showHelp();
  else showChat();
});
ui.helpBack.addEventListener('click', showChat);
ui.helpArticleBack.addEventListener('click', () => showHelpResults());
ui.helpAsk.addEventListener('click', showChat);
ui.helpInput.addEventListener('input', scheduleHelpSearch);
ui.helpForm.addEventListener('submit', (event) => {
  event.preventDefault();
  help.query = ''; // Enter searches again, even for the same words
  searchHelp();
});

// ---------------------------------------------------------------------------------------------
// Satisfaction survey: POST /api/widget/conversations/:id/csat {rating, comment}, in the
// widget's language (i18n.js picks it; the survey keeps its own word list).

const CSAT_TEXTS = {
  en: {
    title: 'How did we do?',
    labels: ['Poor', 'Fair', 'Okay', 'Good', 'Great'],
    comment: 'Anything to add? (optional)',
    send: 'Send rating',
    thanks: 'Thanks for your feedback!',
    pick: 'Choose a rating from 1 to 5.',
    failed: 'Could not send your rating. Try again.',
    asked: 'How did we do? Rate this conversation below.',
  },
  es: {
    title: '¿Qué tal lo hicimos?',
    labels: ['Malo', 'Regular', 'Correcto', 'Bueno', 'Excelente'],
    comment: '¿Algo más? (opcional)',
    send: 'Enviar valoración',
    thanks: '¡Gracias por su opinión!',
    pick: 'Elija una valoración del 1 al 5.',
    failed: 'No se pudo enviar su valoración. Inténtelo de nuevo.',
    asked: '¿Qué tal lo hicimos? Valore esta conversación abajo.',
  },
  fr: {
    title: 'Comment avons-nous fait ?',
    labels: ['Mauvais', 'Passable', 'Correct', 'Bien', 'Excellent'],
    comment: 'Un commentaire ? (facultatif)',
    send: 'Envoyer la note',
    thanks: 'Merci pour votre avis !',
    pick: 'Choisissez une note de 1 à 5.',
    failed: 'Impossible d’envoyer votre note. Réessayez.',
    asked: 'Comment avons-nous fait ? Notez cette conversation ci-dessous.',
  },
  de: {
    title: 'Wie waren wir?',
    labels: ['Schlecht', 'Mäßig', 'Okay', 'Gut', 'Sehr gut'],
    comment: 'Möchten Sie etwas ergänzen? (optional)',
    send: 'Bewertung senden',
    thanks: 'Danke für Ihr Feedback!',
    pick: 'Wählen Sie eine Bewertung von 1 bis 5.',
    failed: 'Ihre Bewertung konnte nicht gesendet werden. Bitte erneut versuchen.',
    asked: 'Wie waren wir? Bewerten Sie dieses Gespräch unten.',
  },
};

let csatLanguage = Object.hasOwn(CSAT_TEXTS, uiLocale()) ? uiLocale() : 'en';
let csatText = CSAT_TEXTS[csatLanguage];
const survey = { state: 'none', sending: false }; // none | pending | answered

function buildSurvey() {
  ui.csat.lang = csatLanguage;
  ui.csatTitle.textContent = csatText.title;
  ui.csatCommentLabel.textContent = csatText.comment;
  ui.csatSubmit.textContent = csatText.send;
  ui.csatThanks.textContent = csatText.thanks;
  ui.csatOptions.replaceChildren(...csatText.labels.map((label, index) => {
    const value = index + 1;
    const option = el('div', 'csat-option');
    const input = document.createElement('input');
    input.type = 'radio';
    input.name = 'csat-rating';
    input.id = `csat-rating-${value}`;
    input.value = String(value);
    const text = document.createElement('label');
    text.htmlFor = input.id;
    text.append(el('strong', '', String(value)), el('span', '', label));
    // Read out as "4, Good" rather than the digit alone.
    input.setAttribute('aria-label', `${value} – ${label}`);
    option.append(input, text);
    return option;
  }));
}

function setSurveyStatus(text, { error = false } = {}) {
  ui.csatStatus.classList.toggle('is-error', error);
  if (ui.csatStatus.textContent !== text) ui.csatStatus.textContent = text;
}

function hideSurvey() {
  survey.state = 'none';
  ui.csat.hidden = true;
  setSurveyStatus('');
}

// Shows the prompt (once per conversation); a live request is announced and scrolled to.
function showSurvey({ live = false } = {}) {
  if (survey.state !== 'none') return;
  survey.state = 'pending';
  ui.csatForm.hidden = false;
  ui.csatThanks.hidden = true;
  ui.csatForm.reset();
  ui.csat.hidden = false;
  if (live) {
    setSurveyStatus(csatText.asked);
    if (!(state.open && isVisible())) {
      state.unread += 1;
      postToParent('message:received', { unread: state.unread });
    }
  }
  ui.csat.scrollIntoView({ block: 'nearest' });
}

function showThanks({ focus = false } = {}) {
  survey.state = 'answered';
  ui.csatForm.hidden = true;
  ui.csatThanks.hidden = false;
  ui.csat.hidden = false;
  setSurveyStatus('');
  if (focus) ui.csatThanks.focus();
}

// The survey's state from a conversation snapshot.
function applySurvey(csat) {
  if (csat && csat.status === 'pending') showSurvey();
  else if (csat && csat.status === 'answered') showThanks();
}

async function sendSurvey(event) {
  event.preventDefault();
  if (survey.sending || survey.state !== 'pending' || !state.session) return;
  const picked = ui.csatForm.querySelector('input[name="csat-rating"]:checked');
  if (!picked) {
    setSurveyStatus(csatText.pick, { error: true });
    ui.csatOptions.querySelector('input').focus();
    return;
  }
  const body = { rating: Number(picked.value) };
  const comment = ui.csatComment.value.trim();
  if (comment) body.comment = comment.slice(0, 1000);
  survey.sending = true;
  ui.csatSubmit.disabled = true;
  try {
    await api(`/conversations/${state.session.conversationId}/csat`, { method: 'POST', body });
    showThanks({ focus: true });
  } catch (error) {
    if (error.status === 409 && error.code === 'already_answered') showThanks({ focus: true });
    else if (error.status === 409 || error.status === 404) hideSurvey();
    else setSurveyStatus(error.status === 400 ? error.message : csatText.failed, { error: true });
  } finally {
    survey.sending = false;
    ui.csatSubmit.disabled = false;
  }
}

buildSurvey();
ui.csatForm.addEventListener('submit', sendSurvey);

// The delivery words under the visitor's messages (and their Retry buttons) in their language.
function applyStatusWords() {
  setStatusLabels({
    sending: t('status_sending'),
    sent: t('status_sent'),
    read: t('status_read'),
    failed: t('status_failed'),
    retry: t('status_retry'),
  });
  for (const node of document.querySelectorAll('.msg-status')) node.textContent = statusLabel(node.dataset.status);
  for (const node of document.querySelectorAll('.msg-retry')) node.textContent = statusLabel('retry');
}
applyStatusWords();

// A language set later (the page's <html lang>, the JS API) re-words what is on screen.
onLocaleChange((next) => {
  applyStatusWords();
  csatLanguage = Object.hasOwn(CSAT_TEXTS, next) ? next : 'en';
  csatText = CSAT_TEXTS[csatLanguage];
  buildSurvey();
  if (!ui.help.hidden) setHelpStatus('');
  for (const { message, el: node } of state.messages.values()) {
    if (isAssistant(message)) node.querySelector('.msg-author').textContent = t('assistant');
  }
  if (!state.session) showGate();
  refreshQueueStatus();
});

// The JS API's hook, for the loader's bridge: window.livechatSetLocale('de') in this frame is
// the same as a `lcw:locale` event.
window.livechatSetLocale = setLocale;

// ---------------------------------------------------------------------------------------------
// Emoji and files in the composer

bindEmojiPicker({ button: ui.emojiButton, panel: ui.emojiPanel, input: ui.input });

ui.attach.addEventListener('click', () => ui.fileInput.click());
ui.fileInput.addEventListener('change', () => {
  const files = [...ui.fileInput.files];
  ui.fileInput.value = '';
  for (const file of files) sendFile(file);
});

// Uploads one file as its own message: a bubble with its preview says "Uploading…" until the
// server's copy (same client_id) replaces it. A refused file never leaves the browser.
async function sendFile(file) {
  const problem = fileProblem(file);
  if (problem) {
    showError(problem);
    return;
  }
  wakeIdle();
  const clientId = newClientId();
  const node = messageElement('visitor', file.name);
  node.classList.add('msg-uploading');
  const preview = await localPreview(file).catch(() => null);
  if (preview) node.querySelector('.bubble').after(preview);
  ui.log.append(node);
  setMeta(node, Date.now(), 'sending');
  const item = { clientId, body: file.name, el: node, acked: false };
  state.pending.set(clientId, item);
  updateWelcome();
  scrollToBottom(ui.log);
  setQueueStatus(t('uploading', { name: file.name }));
  try {
    await booted;
    if (!state.session) await startConversation();
    const params = new URLSearchParams({ name: file.name.slice(0, 200), client_id: clientId });
    const response = await fetch(`${API}/conversations/${state.session.conversationId}/attachments?${params}`, {
      method: 'POST',
      headers: { Authorization: `Bearer ${state.session.token}`, 'Content-Type': file.type, Accept: 'application/json' },
      body: file,
      credentials: 'omit',
      cache: 'no-store',
    });
    const json = await response.json().catch(() => null);
    if (!response.ok) {
      throw new ApiError(response.status, 'upload', (json && json.error && json.error.message) || t('upload_failed', { name: file.name }));
    }
    node.classList.remove('msg-uploading');
    preview?.remove();
    addMessage(json.message);
    setQueueStatus('');
    refreshQueueStatus();
  } catch (error) {
    state.pending.delete(clientId);
    setQueueStatus('');
    setMeta(node, Date.now(), 'failed');
    showError(error.status ? error.message : t('upload_failed', { name: file.name }));
  }
}

// ---------------------------------------------------------------------------------------------
// Other tabs: a conversation started (or replaced) in another tab of this site shows here too.

window.addEventListener('storage', (event) => {
  if (event.key !== STORAGE_KEY || event.storageArea !== window.localStorage) return;
  let next = null;
  try { next = parseSession(JSON.parse(event.newValue ?? 'null')); } catch { next = null; }
  if (!next || (state.session && state.session.conversationId === next.conversationId)) return;
  abortPoll();
  stopQueueStatus();
  for (const { el: node } of state.messages.values()) node.remove();
  state.messages.clear();
  state.session = next;
  state.loaded = false;
  state.cursor = 0;
  state.operatorReadUpTo = 0;
  state.visitorReadUpTo = 0;
  setGate(false);
  updateWelcome();
  wakeIdle();
  sync();
});

// ---------------------------------------------------------------------------------------------
// Boot

// The page's JS API (setUser, setAttributes, setLocale, the message event): bridge.js.
installBridge({
  api, getSession: () => state.session, saveSession, postToParent, parentOrigin: state.parentOrigin,
  booted: () => booted,
});

// Settles once we know whether a conversation exists already; the first send waits for it.
const booted = (async () => {
  postToParent('frame:ready');
  translate();
  const configured = loadConfig();
  if (!state.session && usesParentStore && state.parentOrigin) {
    const session = await Promise.race([parentSession, sleep(3000).then(() => null)]);
    if (session && !state.session) {
      state.session = session;
      store.set(STORAGE_KEY, JSON.stringify(session));
    }
  }
  sync();
  if (!state.session) configured.then(showGate);
})();
