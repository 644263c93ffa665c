// What every part of the console shares: the HTTP helpers for the inbox and admin APIs, the one
// state object, a tiny event bus between modules, role checks, and small formatting helpers.
//
// Invariants:
// - The session is the HttpOnly cookie set by login; no script ever sees or stores a token.
// - Every POST/PATCH/DELETE carries Content-Type: application/json (the API refuses others,
//   which with SameSite=Strict cookies closes CSRF).
// - Text from the network is rendered with textContent only (see el() in /shared/messages.js).

import { ApiError } from '/shared/api.js';
import { el } from '/shared/messages.js';

export { el };

const OFFLINE = 'Could not reach the server. Check your connection.';

// fetch + the JSON answer (null for 204). Failures are ApiError (status 0 = no answer); the
// whole error object of the envelope is kept in `details` (a 409 stale_version carries the
// current conversation there).
async function request(url, { method = 'GET', body, signal } = {}) {
  const headers = { Accept: 'application/json' };
  const init = { method, headers, signal, credentials: 'same-origin', cache: 'no-store' };
  if (method !== 'GET') {
    headers['Content-Type'] = 'application/json';
    init.body = JSON.stringify(body === undefined ? {} : body);
  }
  let response;
  try {
    response = await fetch(url, init);
  } catch (error) {
    if (error.name === 'AbortError') throw error;
    throw new ApiError(0, 'network', OFFLINE);
  }
  if (response.status === 204) return null;
  let json = null;
  try { json = await response.json(); } catch { /* not JSON */ }
  if (!response.ok) {
    const envelope = (json && json.error) || {};
    const error = new ApiError(
      response.status,
      envelope.code || `http_${response.status}`,
      envelope.message || `Request failed (${response.status}).`,
    );
    error.details = envelope;
    // 429s say when to try again (seconds); the login form shows it.
    error.retryAfter = Number(response.headers.get('retry-after')) || null;
    throw error;
  }
  return json;
}

export const api = (path, options) => request(`/api/inbox${path}`, options);
export const adminApi = (path, options) => request(`/api/admin${path}`, options);
export const reportsApi = (path, options) => request(`/api/reports${path}`, options);

// Builds "?a=1&b=2" from the truthy entries of an object.
export function query(params) {
  const search = new URLSearchParams();
  for (const [key, value] of Object.entries(params)) {
    if (value !== undefined && value !== null && value !== '') search.set(key, String(value));
  }
  const text = search.toString();
  return text ? `?${text}` : '';
}

// ---------------------------------------------------------------------------------------------
// State shared by the modules. Each module owns the fields it names in its header comment.

export const state = {
  me: null,
  generation: 0, // bumped on login/logout so that loops and answers of an old session stop
  cursor: 0,
  view: 'inbox', // inbox | queue | reports | admin
  operators: [], // GET /operators (active operators)
  tags: [],
  teams: [],
  // Inbox list
  filters: { status: 'open', assignee: 'any', tag: '', team: '', q: '' },
  conversations: new Map(), // id -> summary (+ typingUntil) of the current list
  known: new Map(), // id -> latest summary seen anywhere (list, thread, events)
  // Open conversation, see thread.js
  selectedId: null,
  thread: null,
};

// Remembers the newest summary of a conversation wherever it came from.
export function remember(summary) {
  if (!summary || summary.id === undefined) return summary;
  const previous = state.known.get(summary.id);
  if (previous && (previous.version ?? 0) > (summary.version ?? 0)) return previous;
  state.known.set(summary.id, summary);
  return summary;
}

// ---------------------------------------------------------------------------------------------
// Bus: modules announce what happened; others react without importing each other.

const bus = new EventTarget();
export function emit(name, detail) {
  bus.dispatchEvent(new CustomEvent(name, { detail }));
}
export function on(name, handler) {
  bus.addEventListener(name, (event) => handler(event.detail));
}

// The app decides what a 401 means (back to sign-in); modules just ask.
const hooks = { authError: () => false };
export function setAuthErrorHandler(handler) {
  hooks.authError = handler;
}
export function handleAuthError(error) {
  return hooks.authError(error);
}

// ---------------------------------------------------------------------------------------------
// Roles. The UI hides what a role cannot do; the server enforces it regardless.

const RANK = { operator: 1, supervisor: 2, admin: 3 };
export function hasRole(role) {
  return Boolean(state.me) && (RANK[state.me.role] || 0) >= RANK[role];
}

// ---------------------------------------------------------------------------------------------
// Formatting

export function contactName(conversationOrContact) {
  if (!conversationOrContact) return 'Visitor';
  const contact = conversationOrContact.contact || conversationOrContact;
  if (contact.name) return contact.name;
  if (contact.email) return contact.email;
  if (contact.phone) return contact.phone;
  return `Visitor #${contact.id ?? conversationOrContact.id}`;
}

export function firstName(name) {
  return String(name || '').trim().split(/\s+/)[0] || '';
}

export function initials(name) {
  const parts = String(name).replace(/#\d+/, '').replace(/@.*/, '').trim().split(/\s+/).filter(Boolean);
  const letters = parts.slice(0, 2).map((p) => p[0]).join('');
  return (letters || 'V').toUpperCase();
}

// Stable hue per contact so that avatars are easy to tell apart.
export function setAvatar(node, conversation) {
  const id = Number((conversation.contact && conversation.contact.id) ?? conversation.id) || 0;
  node.textContent = initials(contactName(conversation));
  node.dataset.hue = String(Math.round(((id * 47) % 360) / 30) % 12);
}

export function localPart(email) {
  return String(email || '').split('@')[0];
}

export function operatorById(id) {
  return state.operators.find((operator) => operator.id === id);
}

// A person in an event: {id, name}, an operator id, a name, or null (the system).
export function who(value, fallback = 'Someone') {
  if (value === null || value === undefined) return fallback;
  if (typeof value === 'object') {
    if (state.me && value.id === state.me.id) return 'You';
    return value.name || operatorById(value.id)?.name || fallback;
  }
  if (typeof value === 'number') {
    if (state.me && value === state.me.id) return 'You';
    return operatorById(value)?.name || `#${value}`;
  }
  return String(value);
}

export function tagById(id) {
  return state.tags.find((tag) => tag.id === id);
}
export function teamById(id) {
  return state.teams.find((team) => team.id === id);
}

export const STATUS_LABELS = {
  open: 'Open', pending: 'Pending', snoozed: 'Snoozed', resolved: 'Resolved', closed: 'Closed',
};
export function statusLabel(status) {
  return STATUS_LABELS[status] || String(status || '');
}

export const PRESENCE_LABELS = { available: 'Available', away: 'Away', offline: 'Offline' };

// "3 min", "1 h 5 min", "2 d 4 h"
export function formatDuration(ms) {
  const minutes = Math.max(0, Math.floor((Number(ms) || 0) / 60000));
  if (minutes < 1) return `${Math.max(0, Math.floor((Number(ms) || 0) / 1000))} s`;
  if (minutes < 60) return `${minutes} min`;
  const hours = Math.floor(minutes / 60);
  if (hours < 24) return minutes % 60 ? `${hours} h ${minutes % 60} min` : `${hours} h`;
  const days = Math.floor(hours / 24);
  return hours % 24 ? `${days} d ${hours % 24} h` : `${days} d`;
}

export const dateTimeFormat = new Intl.DateTimeFormat(undefined, {
  weekday: 'short', month: 'short', day: 'numeric', hour: 'numeric', minute: '2-digit',
});

// A colour from the server is used only when it is a plain #rrggbb (it goes into a CSS custom
// property through the CSSOM, which the CSP allows, never into markup).
export function safeColor(color) {
  return typeof color === 'string' && /^#[0-9a-fA-F]{6}$/.test(color) ? color : null;
}

// A tag chip; with `onRemove` it gets a remove button named after the tag.
export function tagChip(tag, onRemove) {
  const chip = el('span', 'chip');
  const color = safeColor(tag.color);
  if (color) chip.style.setProperty('--chip', color);
  chip.append(el('span', 'chip-dot'), el('span', 'chip-name', tag.name));
  if (onRemove) {
    const remove = button('×', 'chip-remove');
    remove.setAttribute('aria-label', `Remove tag ${tag.name}`);
    remove.addEventListener('click', onRemove);
    chip.append(remove);
  }
  return chip;
}

export function button(text, className = 'ghost', onClick) {
  const node = el('button', className, text);
  node.type = 'button';
  if (onClick) node.addEventListener('click', onClick);
  return node;
}

// A labelled form control: returns { field, input } with <label for> wired up.
let fieldCounter = 0;
export function field(labelText, control, hint) {
  fieldCounter += 1;
  const id = control.id || `f${fieldCounter}`;
  control.id = id;
  const wrap = el('div', 'field');
  const label = el('label', 'field-label', labelText);
  label.htmlFor = id;
  wrap.append(label, control);
  if (hint) {
    const hintNode = el('p', 'field-hint', hint);
    hintNode.id = `${id}-hint`;
    control.setAttribute('aria-describedby', hintNode.id);
    wrap.append(hintNode);
  }
  return wrap;
}

export function input(type = 'text', value = '') {
  const node = document.createElement('input');
  node.type = type;
  if (value !== null && value !== undefined) node.value = String(value);
  return node;
}

export function select(options, value) {
  const node = document.createElement('select');
  for (const [optionValue, text] of options) {
    const option = el('option', null, text);
    option.value = String(optionValue);
    node.append(option);
  }
  if (value !== undefined && value !== null) node.value = String(value);
  return node;
}

// ---------------------------------------------------------------------------------------------
// Toasts: a short visible message, also read out by screen readers.

let toastTimer = null;
export function toast(text, kind = 'info') {
  const node = document.getElementById('toast');
  if (!node) return;
  node.textContent = text;
  node.dataset.kind = kind;
  node.hidden = false;
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => { node.hidden = true; }, kind === 'error' ? 8000 : 4000);
}

// Read out by screen readers only (new conversations and messages elsewhere in the inbox).
export function announce(text) {
  const node = document.getElementById('announcer');
  if (!node) return;
  node.textContent = '';
  // A fresh text node after a tick, so that repeating the same words is announced again.
  setTimeout(() => { node.textContent = text; }, 50);
}

// Storage keys are prefixed; storage that throws (disabled, private mode) falls back to memory.
const memory = new Map();
export const store = {
  get(key) {
    try { return window.localStorage.getItem(`livechat:console:${key}`); } catch { return memory.get(key) ?? null; }
  },
  set(key, value) {
    try { window.localStorage.setItem(`livechat:console:${key}`, value); } catch { memory.set(key, value); }
  },
};

export function debounce(fn, ms) {
  let timer = null;
  const debounced = (...args) => {
    clearTimeout(timer);
    timer = setTimeout(() => fn(...args), ms);
  };
  debounced.cancel = () => clearTimeout(timer);
  return debounced;
}
