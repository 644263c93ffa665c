// The composer under the open conversation: reply or internal-note mode, the channel a reply
// goes by ("Reply via", with the 24-hour window notice), the retrying outbox for replies, notes
// with @mentions, and the suggestion popup (canned responses after "/" at the start of the box;
// teammates after "@" in a note). Drafts and the chosen channel are kept per conversation.
//
// Invariants:
// - Replies go through the shared Outbox with one client_id per reply, so retries never
//   duplicate; notes are retried with their own client_id too.
// - A reply names its `channel` only when the operator picked one; otherwise the server sends
//   it the way the customer last wrote. Send stays disabled while the chosen channel cannot take
//   a free-form reply (the server refuses it anyway, with 409 channel_unavailable).
// - Nothing typed in note mode sends a typing signal to the visitor.
// - The popup's keys (arrows, Enter, Tab, Escape) are handled before the composer's Enter-to-send.

import {
  announce, api, el, emit, handleAuthError, localPart, on, query, state,
} from './core.js';
import { CHANNELS, isOpen, optionText, replyNotice } from './channels.js';
import { withInserted } from './handoff.js';
import {
  addNote, addPendingNote, addPendingReply, explainActionError, hideThreadError, refreshSoon,
  showThreadError,
} from './thread.js';
import { openCannedManager } from './canned.js';
import { jitter, sleep } from '/shared/api.js';
import { bindComposer } from '/shared/composer.js';
import { newClientId, Outbox } from '/shared/outbox.js';

const MAX_BODY_CHARS = 4000;
const MAX_SEND_ATTEMPTS = 6;
const TYPING_SEND_EVERY_MS = 2000;
const CANNED_DEBOUNCE_MS = 120;
const MAX_MENTION_SUGGESTIONS = 8;
// How often the window notice is worked out again while a conversation is open (a window can
// close while the operator reads).
const WINDOW_CHECK_MS = 20_000;

const $ = (id) => document.getElementById(id);
const ui = {};

let mode = 'reply';
let currentId = null;
const drafts = new Map(); // conversation id -> { text, mode }
let lastTypingSentAt = 0;

// The reply channel of the open conversation: the API's options, the operator's own pick (null:
// the default, which follows the customer), and whether Send is blocked by the notice.
const via = { reply: null, blocked: false, shown: '', announced: '' };
const chosen = new Map(); // conversation id -> channel the operator picked
let allowedToWrite = true;

// The suggestion popup.
const suggest = {
  kind: null, // 'canned' | 'mention' | null
  items: [],
  index: 0,
  dismissed: false, // Escape closes it until the text stops asking for it
  mentionStart: 0,
  seq: 0,
  timer: null,
  loading: false,
  chooseWhenLoaded: false, // Enter came before the results: insert the best match
};

let outbox;

export function initCompose() {
  Object.assign(ui, {
    form: $('reply-form'),
    input: $('reply-input'),
    label: $('reply-label'),
    send: $('reply-send'),
    hint: $('reply-hint'),
    modeReply: $('mode-reply'),
    modeNote: $('mode-note'),
    popup: $('suggest'),
    popupTitle: $('suggest-title'),
    popupList: $('suggest-list'),
    popupEmpty: $('suggest-empty'),
    popupStatus: $('suggest-status'),
    via: $('reply-via'),
    channel: $('reply-channel'),
    notice: $('reply-window'),
  });

  outbox = new Outbox({
    deliver: deliverReply,
    onFailed: (item, error) => {
      if (!state.thread || state.thread.id !== item.conversationId) return;
      if (refusedForChannel(error)) {
        // Refused before it was stored (the channel closed, or the text is too long for it):
        // nothing to retry as it is. The bubble goes, the text comes back, the reason shows.
        item.el.remove();
        if (!ui.input.value.trim()) setText(item.body);
        showThreadError(error.message);
        if (error.code === 'channel_unavailable') refreshSoon();
        return;
      }
      explainActionError(error, 'reply');
    },
    maxAttempts: MAX_SEND_ATTEMPTS,
    abandon: handleAuthError,
    epoch: () => state.generation,
  });

  $('canned-manage').addEventListener('click', openCannedManager);
  ui.modeReply.addEventListener('click', () => setMode('reply'));
  ui.modeNote.addEventListener('click', () => setMode('note'));

  // Registered before bindComposer, so that Enter picks a suggestion instead of sending, and
  // does not send while the chosen channel cannot take the reply.
  ui.input.addEventListener('keydown', onPopupKey);
  ui.input.addEventListener('keydown', (event) => {
    if (event.key !== 'Enter' || event.shiftKey || event.isComposing) return;
    if (mode !== 'reply' || !via.blocked) return;
    event.preventDefault();
    event.stopImmediatePropagation();
    ui.popupStatus.textContent = ui.notice.textContent;
  });
  ui.input.addEventListener('input', updateSuggestions);
  ui.input.addEventListener('blur', () => {
    // A click in the popup keeps focus (mousedown is prevented there); anything else closes it.
    setTimeout(() => { if (document.activeElement !== ui.input) closeSuggestions(); }, 150);
  });
  ui.popupList.addEventListener('mousedown', (event) => event.preventDefault());

  bindComposer({
    form: ui.form,
    input: ui.input,
    button: ui.send,
    maxChars: MAX_BODY_CHARS,
    onSend: (text) => (mode === 'note' ? sendNote(text) : sendReply(text)),
    onTooLong: () => showThreadError(`${mode === 'note' ? 'Notes' : 'Replies'} can be at most ${MAX_BODY_CHARS} characters.`),
    onTyping: sendTyping,
  });
  // After bindComposer's own listener, which enables Send whenever there is text.
  ui.input.addEventListener('input', updateSend);

  ui.channel.addEventListener('change', () => {
    const reply = via.reply;
    if (!reply || currentId === null) return;
    // Picking the default again means "follow the customer" again.
    if (ui.channel.value === reply.default) chosen.delete(currentId);
    else chosen.set(currentId, ui.channel.value);
    hideThreadError();
    renderVia({ force: true });
  });
  setInterval(() => renderVia(), WINDOW_CHECK_MS);
  on('thread:reply', ({ id, reply }) => {
    if (id !== currentId) return;
    via.reply = reply;
    // Reloads come often (after every timeline event): redraw the list only if it changed.
    renderVia();
  });

  on('thread:changed', ({ id }) => {
    if (currentId !== null) drafts.set(currentId, { text: ui.input.value, mode });
    currentId = id;
    const draft = drafts.get(id);
    closeSuggestions();
    via.reply = state.thread && state.thread.id === id ? state.thread.reply : null;
    renderVia({ force: true });
    setMode(draft ? draft.mode : 'reply', { quiet: true });
    setText(draft ? draft.text : '');
  });
  on('thread:permissions', ({ allowed }) => {
    allowedToWrite = allowed;
    ui.input.disabled = !allowed;
    ui.modeReply.disabled = !allowed;
    ui.modeNote.disabled = !allowed;
    ui.channel.disabled = !allowed;
    updateSend();
  });
}

// Send: enabled when there is text, the operator may write here, and (for a reply) the chosen
// channel can take it.
function updateSend() {
  ui.send.disabled = !allowedToWrite || ui.input.value.trim() === '' || (mode === 'reply' && via.blocked);
}

// ---------------------------------------------------------------------------------------------
// Reply channel

// The channel a reply goes by now: the operator's pick, else the conversation's default.
function selectedChannel() {
  const reply = via.reply;
  if (!reply) return null;
  const picked = currentId === null ? undefined : chosen.get(currentId);
  return picked && reply.channels.some((option) => option.channel === picked) ? picked : reply.default;
}

// Whether there is a choice worth showing: a conversation only ever held in the widget replies
// in the widget, and a selector offering nothing else would be noise.
function worthShowing(reply) {
  return reply.default !== 'web' || reply.channels.some((option) => option.channel !== 'web' && option.available);
}

// Shows "Reply via" and the window notice for the open conversation, and blocks Send when the
// chosen channel cannot take a reply. Redraws the list only when its words change (not to close
// it under the operator's pointer on a timer tick), unless `force`.
function renderVia({ force = false } = {}) {
  const reply = via.reply;
  const now = Date.now();
  if (!reply || !Array.isArray(reply.channels) || mode !== 'reply' || !worthShowing(reply)) {
    ui.via.hidden = true;
    ui.notice.hidden = true;
    if (ui.notice.textContent) ui.notice.textContent = '';
    via.blocked = false;
    via.shown = '';
    via.announced = '';
    updateSend();
    return;
  }
  const selected = selectedChannel();
  const options = [...reply.channels].sort((a, b) => CHANNELS.indexOf(a.channel) - CHANNELS.indexOf(b.channel));
  const words = `${selected}|${options.map((option) => `${option.channel}:${optionText(option, now)}:${isOpen(option, now)}`).join('|')}`;
  if (force || words !== via.shown) {
    ui.channel.replaceChildren(...options.map((option) => {
      const node = el('option', null, optionText(option, now));
      node.value = option.channel;
      // A closed channel stays listed (and selectable when it is the default) so the operator
      // sees why; it cannot be picked.
      node.disabled = !isOpen(option, now) && option.channel !== selected;
      if (option.reason) node.title = option.reason;
      return node;
    }));
    via.shown = words;
  }
  ui.channel.value = selected;
  ui.via.hidden = false;
  const notice = replyNotice(reply, selected, now);
  ui.notice.hidden = !notice;
  const text = notice ? notice.text : '';
  if (ui.notice.textContent !== text) ui.notice.textContent = text;
  // Read out when the notice appears or turns into a block, not every minute its countdown
  // changes.
  const key = notice ? `${currentId}:${selected}:${notice.blocked}` : '';
  if (key && key !== via.announced) announce(text);
  via.announced = key;
  ui.notice.dataset.kind = notice && notice.blocked ? 'blocked' : 'warning';
  via.blocked = Boolean(notice && notice.blocked);
  updateSend();
}

// A reply the server refused because of the channel: closed (409 channel_unavailable) or the
// text too long for it (400 invalid_input on the body).
function refusedForChannel(error) {
  return error.code === 'channel_unavailable' || (error.status === 400 && error.code === 'invalid_input');
}

export function resetCompose() {
  outbox.clear();
  drafts.clear();
  chosen.clear();
  via.reply = null;
  currentId = null;
  closeSuggestions();
  setText('');
  setMode('reply', { quiet: true });
}

// ---------------------------------------------------------------------------------------------
// Mode

export function setMode(next, { quiet = false } = {}) {
  mode = next === 'note' ? 'note' : 'reply';
  const note = mode === 'note';
  ui.form.classList.toggle('is-note', note);
  ui.modeReply.setAttribute('aria-pressed', String(!note));
  ui.modeNote.setAttribute('aria-pressed', String(note));
  ui.label.textContent = note ? 'Internal note' : 'Reply';
  ui.input.placeholder = note
    ? 'Write an internal note: only your team sees it. Type @ to mention someone.'
    : 'Write a reply… (Enter to send, Shift+Enter for a new line)';
  ui.send.textContent = note ? 'Add note' : 'Send';
  ui.hint.textContent = note ? 'Internal note: the visitor never sees it. @ mentions a teammate.' : 'Type / for canned responses';
  closeSuggestions();
  renderVia({ force: true });
  if (!quiet) ui.popupStatus.textContent = note ? 'Internal note mode' : 'Reply mode';
}

export function toggleMode() {
  setMode(mode === 'note' ? 'reply' : 'note');
  ui.input.focus();
}

function setText(text) {
  ui.input.value = text;
  // bindComposer listens to input events to enable the Send button.
  ui.input.dispatchEvent(new Event('input'));
}

// ---------------------------------------------------------------------------------------------
// Replies

function sendReply(text) {
  const thread = state.thread;
  if (!thread) return;
  if (via.blocked) {
    // Enter and Send are blocked already; this only guards against losing the text.
    setText(text);
    showThreadError(ui.notice.textContent);
    return;
  }
  hideThreadError();
  const picked = chosen.get(thread.id);
  const item = {
    clientId: newClientId(),
    conversationId: thread.id,
    body: text,
    // Named only when the operator picked it; the server's default follows the customer.
    channel: picked || undefined,
    shownChannel: selectedChannel() || undefined,
    acked: false,
    el: null,
  };
  addPendingReply(item);
  outbox.send(item);
}

async function deliverReply(item) {
  const body = { body: item.body, client_id: item.clientId };
  if (item.channel) body.channel = item.channel;
  const result = await api(`/conversations/${item.conversationId}/messages`, { method: 'POST', body });
  hideThreadError();
  emit('message:received', { message: result.message, live: false });
}

function sendTyping() {
  const thread = state.thread;
  if (!thread || mode !== 'reply' || ui.input.value.startsWith('/')) return;
  const now = Date.now();
  if (now - lastTypingSentAt < TYPING_SEND_EVERY_MS) return;
  lastTypingSentAt = now;
  api(`/conversations/${thread.id}/typing`, { method: 'POST', body: {} }).catch(handleAuthError);
}

// ---------------------------------------------------------------------------------------------
// Notes

// Operators mentioned in `text`: every @handle that is an operator's email local part, whether
// picked from the popup or typed out (the server reads the handles too).
function mentionsIn(text) {
  const handles = new Set();
  for (const match of text.matchAll(/(^|[^\w])@([\w.+-]+)/g)) handles.add(match[2].replace(/\.+$/, '').toLowerCase());
  return state.operators
    .filter((operator) => handles.has(localPart(operator.email).toLowerCase()))
    .map((operator) => operator.id);
}

async function sendNote(text) {
  const thread = state.thread;
  if (!thread) return;
  hideThreadError();
  const conversationId = thread.id;
  const generation = state.generation;
  const mention = mentionsIn(text);
  const pending = addPendingNote(text);
  const clientId = newClientId();
  for (let attempt = 1; ; attempt += 1) {
    try {
      const body = { body: text, client_id: clientId };
      if (mention.length) body.mention_ids = mention;
      const result = await api(`/conversations/${conversationId}/notes`, { method: 'POST', body });
      pending.remove();
      if (generation === state.generation) addNote(result.note, { live: false });
      return;
    } catch (error) {
      if (generation !== state.generation || handleAuthError(error)) {
        pending.remove();
        return;
      }
      if (error.retryable && attempt < MAX_SEND_ATTEMPTS) {
        await sleep(jitter(1000 * 2 ** (attempt - 1)));
        continue;
      }
      pending.remove();
      // Give the text back so nothing typed is lost.
      if (state.thread && state.thread.id === conversationId) {
        if (!ui.input.value.trim()) setText(text);
        setMode('note', { quiet: true });
        await explainActionError(error, 'note');
      }
      return;
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Suggestions: canned responses and @mentions

function updateSuggestions() {
  const value = ui.input.value;
  let want = null;
  if (value.startsWith('/') && !value.includes('\n')) {
    want = { kind: 'canned', q: value.slice(1) };
  } else if (mode === 'note') {
    const caret = ui.input.selectionStart ?? value.length;
    const match = value.slice(0, caret).match(/(^|\s)@([^\s@]{0,40})$/);
    if (match) want = { kind: 'mention', q: match[2], start: caret - match[2].length - 1 };
  }
  if (!want) {
    suggest.dismissed = false;
    closeSuggestions();
  } else if (suggest.dismissed) {
    closeSuggestions();
  } else if (want.kind === 'canned') {
    openCanned(want.q);
  } else {
    openMentions(want.q, want.start);
  }
}

function openCanned(q) {
  const thread = state.thread;
  if (!thread) return;
  if (suggest.kind !== 'canned') {
    // Open at once, so that Enter never sends "/..." to the visitor while results load.
    suggest.kind = 'canned';
    showSuggestions('Canned responses', [], 'Searching…');
  }
  suggest.loading = true;
  clearTimeout(suggest.timer);
  suggest.seq += 1;
  const seq = suggest.seq;
  suggest.timer = setTimeout(async () => {
    try {
      const result = await api(`/canned${query({ q: q.trim(), conversation_id: thread.id })}`);
      if (seq !== suggest.seq || suggest.kind !== 'canned') return;
      suggest.loading = false;
      showSuggestions('Canned responses', (result.canned || []).map((canned) => ({
        value: canned,
        primary: `/${canned.shortcut}`,
        secondary: canned.title,
        preview: canned.rendered ?? canned.body,
      })), q.trim() ? `No canned response matches “${q.trim()}”.` : 'No canned responses yet.');
      if (suggest.chooseWhenLoaded) {
        suggest.chooseWhenLoaded = false;
        if (suggest.items.length) choose(0);
      }
    } catch (error) {
      if (seq !== suggest.seq) return;
      suggest.loading = false;
      suggest.chooseWhenLoaded = false;
      if (!handleAuthError(error)) showSuggestions('Canned responses', [], error.message);
    }
  }, CANNED_DEBOUNCE_MS);
}

function openMentions(q, start) {
  suggest.kind = 'mention';
  suggest.mentionStart = start;
  const needle = q.toLowerCase();
  const matches = state.operators
    .filter((operator) => {
      if (!needle) return true;
      return localPart(operator.email).toLowerCase().startsWith(needle)
        || String(operator.name || '').toLowerCase().split(/\s+/).some((part) => part.startsWith(needle))
        || String(operator.name || '').toLowerCase().startsWith(needle);
    })
    .slice(0, MAX_MENTION_SUGGESTIONS);
  showSuggestions('Mention a teammate', matches.map((operator) => ({
    value: operator,
    primary: operator.name,
    secondary: `@${localPart(operator.email)}`,
  })), `Nobody matches “@${q}”.`);
}

function showSuggestions(title, items, emptyText) {
  suggest.items = items;
  suggest.index = 0;
  ui.popupTitle.textContent = title;
  ui.popupList.replaceChildren(...items.map((item, index) => {
    const li = el('li', 'suggest-item');
    li.id = `suggest-${index}`;
    li.setAttribute('role', 'option');
    const line = el('span', 'suggest-line');
    line.append(el('span', 'suggest-primary', item.primary));
    if (item.secondary) line.append(el('span', 'suggest-secondary', item.secondary));
    li.append(line);
    if (item.preview) li.append(el('span', 'suggest-preview', item.preview.replace(/\s+/g, ' ').slice(0, 160)));
    li.addEventListener('click', () => choose(index));
    return li;
  }));
  ui.popupEmpty.textContent = emptyText;
  ui.popupEmpty.hidden = items.length > 0;
  ui.popup.hidden = false;
  ui.input.setAttribute('aria-controls', 'suggest-list');
  highlight(0);
  ui.popupStatus.textContent = items.length
    ? `${items.length} ${suggest.kind === 'canned' ? 'canned responses' : 'teammates'}: arrow keys to choose, Enter to insert, Escape to close.`
    : emptyText;
}

function highlight(index) {
  suggest.index = index;
  const options = [...ui.popupList.children];
  options.forEach((option, i) => option.setAttribute('aria-selected', String(i === index)));
  const active = options[index];
  if (active) {
    ui.input.setAttribute('aria-activedescendant', active.id);
    active.scrollIntoView({ block: 'nearest' });
  } else {
    ui.input.removeAttribute('aria-activedescendant');
  }
}

export function closeSuggestions() {
  clearTimeout(suggest.timer);
  suggest.seq += 1;
  suggest.loading = false;
  suggest.chooseWhenLoaded = false;
  const wasOpen = !ui.popup.hidden;
  suggest.kind = null;
  suggest.items = [];
  ui.popup.hidden = true;
  ui.popupList.replaceChildren();
  ui.input.removeAttribute('aria-activedescendant');
  ui.input.removeAttribute('aria-controls');
  return wasOpen;
}

function onPopupKey(event) {
  if (ui.popup.hidden || event.isComposing) return;
  const count = suggest.items.length;
  let handled = true;
  switch (event.key) {
    case 'ArrowDown':
      if (count) highlight((suggest.index + 1) % count);
      break;
    case 'ArrowUp':
      if (count) highlight((suggest.index + count - 1) % count);
      break;
    case 'Enter':
    case 'Tab':
      if (event.shiftKey) handled = false;
      else if (count) choose(suggest.index);
      else if (suggest.kind === 'canned' && suggest.loading) suggest.chooseWhenLoaded = true;
      else handled = false;
      break;
    case 'Escape':
      suggest.dismissed = true;
      closeSuggestions();
      break;
    default:
      handled = false;
  }
  if (handled) {
    event.preventDefault();
    event.stopImmediatePropagation();
    event.stopPropagation();
  }
}

function choose(index) {
  const item = suggest.items[index];
  if (!item) return;
  const kind = suggest.kind;
  if (kind === 'canned') {
    const text = item.value.rendered ?? item.value.body;
    suggest.dismissed = true; // the inserted text is the operator's to edit
    closeSuggestions();
    setText(text);
    ui.input.focus();
    ui.input.setSelectionRange(text.length, text.length);
    ui.popupStatus.textContent = `Inserted “${item.value.title || item.value.shortcut}”. Edit it, then press Enter to send.`;
  } else if (kind === 'mention') {
    const operator = item.value;
    const value = ui.input.value;
    const caret = ui.input.selectionStart ?? value.length;
    const handle = `@${localPart(operator.email)} `;
    const next = value.slice(0, suggest.mentionStart) + handle + value.slice(caret);
    closeSuggestions();
    setText(next);
    const position = suggest.mentionStart + handle.length;
    ui.input.focus();
    ui.input.setSelectionRange(position, position);
    closeSuggestions(); // setText's input event must not reopen it right after the handle
    ui.popupStatus.textContent = `Mentioning ${operator.name}.`;
  }
}

// "/" typed into an empty box (also reachable from the shortcut help).
export function focusComposer() {
  ui.input.focus();
}

// Puts a suggestion or the assistant's draft into the reply box for the operator to edit: with
// `replace` instead of what is there, else after it. It never sends: a person approves every
// reply. Returns false when the box cannot take it (someone else's conversation).
export function fillComposer(text, { replace = false } = {}) {
  if (!allowedToWrite || ui.input.disabled) return false;
  if (mode !== 'reply') setMode('reply', { quiet: true });
  const next = replace ? String(text || '') : withInserted(ui.input.value, text);
  closeSuggestions();
  setText(next.slice(0, MAX_BODY_CHARS));
  ui.input.focus();
  ui.input.setSelectionRange(ui.input.value.length, ui.input.value.length);
  return true;
}
