// Operator console: sign-in (or choosing a password from an invite link), then the inbox
// (list, conversation, contact panel), the supervisor queue and the admin screens, kept live by
// long-polling the inbox event log. This module boots the page, owns the session, the views and
// the event loop, and hands each event to the module that shows it:
//
//   core.js      API helpers, shared state, event bus, formatting
//   inbox.js     conversation list and filters          thread.js   open conversation and actions
//   compose.js   reply / note composer, canned, @        contact.js  contact side panel
//   queue.js     supervisor queue                       admin.js    admin screens
//   notify.js    title, sound, notifications, mentions  presence.js availability and heartbeat
//   shortcuts.js keyboard shortcuts and help            dialog.js   modal dialogs
//   canned.js    personal canned responses              channels.js channel, delivery and window rules
//   assist.js    suggestions panel (agent assist)       handoff.js  the assistant in words
//   admin-assistant.js  admin: knowledge base, assistant settings, business hours
//   reports.js   reports (supervisor): figures, charts, live panel; reports-logic.js and
//                reports-charts.js are its pure words, numbers and SVG
//   admin-webhooks.js   admin: outgoing webhooks (endpoints, secrets, tests, deliveries)
//
// Invariants:
// - The session is the HttpOnly cookie set by login; no script sees or stores a token.
// - After any error in the event loop the list and the open conversation are reloaded and
//   polling resumes from the fresh cursor, so nothing is missed.
// - A new session (login, logout, 401) bumps state.generation; every loop and every answer of
//   the old one is dropped.

import {
  announce, api, contactName, emit, hasRole, on, remember, setAuthErrorHandler, state, toast,
} from './core.js';
import { initAdmin, resetAdmin } from './admin.js';
import { initAssist, resetAssist } from './assist.js';
import { initCompose, resetCompose } from './compose.js';
import { initContact, resetContact } from './contact.js';
import {
  initInbox, loadList, matchesFilter, renderFilterOptions, renderList, resetInbox, scheduleRefetch,
  showRowTyping,
} from './inbox.js';
import {
  handedToMe, initNotify, loadMentions, noteCreated, notifyMessage, resetNotify, updateTitle,
} from './notify.js';
import { initPresence, startPresence, stopPresence } from './presence.js';
import { initQueue, resetQueue } from './queue.js';
import { initReports, resetReports } from './reports.js';
import { initShortcuts } from './shortcuts.js';
import {
  addMessage, addTimelineEvent, applyAttachment, applyDelivery, initThread, markThreadRead, refreshSoon,
  resetThread, visitorIsTyping, visitorRead,
} from './thread.js';
import { jitter, sleep } from '/shared/api.js';

const POLL_WAIT_S = 25;
const POLL_TIMEOUT_MS = (POLL_WAIT_S + 15) * 1000;

const $ = (id) => document.getElementById(id);
const ui = {
  boot: $('boot'),
  loginView: $('login-view'),
  loginForm: $('login-form'),
  loginEmail: $('login-email'),
  loginPassword: $('login-password'),
  loginSubmit: $('login-submit'),
  loginError: $('login-error'),
  inviteTemplate: $('invite-template'),
  inboxView: $('inbox-view'),
  connection: $('connection'),
  meName: $('me-name'),
  logout: $('logout-button'),
  navLinks: [...document.querySelectorAll('.nav-link')],
  inboxPane: $('inbox-pane'),
  queueView: $('queue-view'),
  adminView: $('admin-view'),
  reportsView: $('reports-view'),
};

let pollController = null;
let inviteView = null;

initInbox();
initThread();
initCompose();
initAssist();
initContact();
initQueue();
initReports();
initAdmin();
initNotify();
initPresence();
initShortcuts();

setAuthErrorHandler((error) => {
  if (error && error.status === 401 && state.me) {
    showLogin('Your session has ended. Please sign in again.');
    return true;
  }
  return Boolean(error && error.status === 401);
});

// ---------------------------------------------------------------------------------------------
// Views

function showScreen(screen) {
  ui.boot.hidden = true;
  ui.loginView.hidden = screen !== 'login';
  ui.inboxView.hidden = screen !== 'app';
  if (inviteView && screen !== 'invite') {
    inviteView.remove();
    inviteView = null;
  }
}

function showLogin(message) {
  stopSession();
  showScreen('login');
  if (message) showLoginError(message);
  else hideLoginError();
  ui.loginPassword.value = '';
  (ui.loginEmail.value ? ui.loginPassword : ui.loginEmail).focus();
  document.title = 'Sign in · Live chat';
}

// The wait the server asks for after too many attempts (Retry-After), in words.
function tooManyAttempts(seconds) {
  if (!seconds) return 'Too many attempts. Wait a few minutes and try again.';
  const wait = seconds < 60 ? `${seconds} seconds` : `${Math.ceil(seconds / 60)} minute${seconds > 60 ? 's' : ''}`;
  return `Too many attempts. Try again in ${wait}.`;
}

function showLoginError(message) {
  ui.loginError.textContent = message;
  ui.loginError.hidden = false;
}
function hideLoginError() {
  ui.loginError.hidden = true;
  ui.loginError.textContent = '';
}

function allowedView(view) {
  if (view === 'queue' || view === 'reports') return hasRole('supervisor');
  if (view === 'admin') return hasRole('admin');
  return view === 'inbox';
}

// Switches between the inbox, the queue, the reports and the admin screens; the hash keeps the
// place across reloads (#queue, #admin/tags, #reports?period=30d: `params` are the view's own).
function showView(view, { sub, params, updateHash = true } = {}) {
  const target = allowedView(view) ? view : 'inbox';
  state.view = target;
  ui.inboxPane.hidden = target !== 'inbox';
  ui.queueView.hidden = target !== 'queue';
  ui.adminView.hidden = target !== 'admin';
  ui.reportsView.hidden = target !== 'reports';
  for (const link of ui.navLinks) {
    if (link.dataset.view === target) link.setAttribute('aria-current', 'page');
    else link.removeAttribute('aria-current');
  }
  if (updateHash) {
    const hash = target === 'inbox' ? '' : `#${target}${sub ? `/${sub}` : ''}${params && target === view ? `?${params}` : ''}`;
    history.replaceState(null, '', `${window.location.pathname}${window.location.search}${hash}`);
  }
  updateTitle();
  emit('view:shown', { view: target, sub, params: target === view ? params : undefined });
}

for (const link of ui.navLinks) {
  link.addEventListener('click', () => showView(link.dataset.view));
}
on('view:navigate', ({ view, sub }) => {
  const hash = `#${view}${sub ? `/${sub}` : ''}`;
  history.replaceState(null, '', `${window.location.pathname}${window.location.search}${hash}`);
});
on('conversation:open:inbox', ({ id }) => {
  if (state.view !== 'inbox') showView('inbox');
  emit('conversation:open', { id });
});

function renderRole() {
  for (const link of ui.navLinks) link.hidden = !allowedView(link.dataset.view);
  ui.meName.textContent = `${state.me.name || state.me.email} · ${state.me.role}`;
}

// ---------------------------------------------------------------------------------------------
// Session

function stopSession() {
  state.generation += 1;
  if (pollController) pollController.abort();
  state.me = null;
  state.cursor = 0;
  state.operators = [];
  state.tags = [];
  state.teams = [];
  state.known.clear();
  stopPresence();
  resetInbox();
  resetThread();
  resetCompose();
  resetAssist();
  resetContact();
  resetQueue();
  resetReports();
  resetAdmin();
  resetNotify();
}

async function startApp(operator, { view } = {}) {
  stopSession();
  state.me = operator;
  const generation = state.generation;
  renderRole();
  showScreen('app');
  showView(view ? view.name : 'inbox', { sub: view ? view.sub : undefined, params: view ? view.params : undefined, updateHash: Boolean(view) });
  setConnection('');
  startPresence();
  loadDirectory();
  loadMentions();
  try {
    await loadList({ advanceCursor: true });
  } catch (error) {
    if (error.status === 401) {
      showLogin('Your session has ended. Please sign in again.');
      return;
    }
    setConnection('Reconnecting…');
  }
  if (generation === state.generation) pollLoop(generation);
}

// Operators (for assignment, transfer and @mentions), tags and teams.
async function loadDirectory() {
  const generation = state.generation;
  try {
    const [operators, tags, teams] = await Promise.all([api('/operators'), api('/tags'), api('/teams')]);
    if (generation !== state.generation) return;
    state.operators = operators.operators || [];
    state.tags = tags.tags || [];
    state.teams = teams.teams || [];
    const me = state.operators.find((operator) => operator.id === state.me.id);
    if (me) state.me = { ...state.me, ...me };
    renderFilterOptions();
    emit('directory:changed');
  } catch (error) {
    if (error.status === 401) showLogin('Your session has ended. Please sign in again.');
  }
}
on('directory:reload', loadDirectory);

// Admins change tags, teams and operators from other browsers, and there is no event for that:
// refresh when a conversation is opened (at most every few seconds) and every 2 minutes.
const DIRECTORY_STALE_MS = 3_000;
let directoryLoadedAt = 0;
on('directory:changed', () => { directoryLoadedAt = Date.now(); });
on('thread:changed', () => {
  if (Date.now() - directoryLoadedAt > DIRECTORY_STALE_MS) loadDirectory();
});
setInterval(() => {
  if (state.me) loadDirectory();
}, 120_000);

function setConnection(text) {
  ui.connection.textContent = text;
  ui.connection.hidden = !text;
}

ui.loginForm.addEventListener('submit', async (event) => {
  event.preventDefault();
  hideLoginError();
  const email = ui.loginEmail.value.trim();
  const password = ui.loginPassword.value;
  if (!email || !password) {
    showLoginError('Enter your email and password.');
    return;
  }
  performance.mark('console:login-submit');
  ui.loginSubmit.disabled = true;
  ui.loginSubmit.textContent = 'Signing in…';
  try {
    const result = await api('/login', { method: 'POST', body: { email, password } });
    ui.loginPassword.value = '';
    await startApp(result.operator, { view: viewFromHash() });
  } catch (error) {
    showLoginError(error.status === 429 ? tooManyAttempts(error.retryAfter) : error.message || 'Sign in failed.');
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
  history.replaceState(null, '', window.location.pathname);
  showLogin();
});

// ---------------------------------------------------------------------------------------------
// Invite links: /console/#invite=<token>

function inviteToken() {
  const match = window.location.hash.match(/^#invite=([^&]+)/);
  return match ? decodeURIComponent(match[1]) : null;
}

function viewFromHash() {
  const match = window.location.hash.match(/^#(queue|admin|reports)(?:\/(\w+))?(?:\?([^#]*))?$/);
  return match ? { name: match[1], sub: match[2], params: match[3] } : null;
}

function showInvite(token) {
  stopSession();
  if (inviteView) inviteView.remove();
  showScreen('invite');
  ui.loginView.hidden = true;
  inviteView = ui.inviteTemplate.content.firstElementChild.cloneNode(true);
  document.body.insertBefore(inviteView, ui.inboxView);
  document.title = 'Choose your password · Live chat';
  const form = inviteView.querySelector('.invite-form');
  const name = inviteView.querySelector('#invite-name');
  const password = inviteView.querySelector('#invite-password');
  const confirm = inviteView.querySelector('#invite-confirm');
  const error = inviteView.querySelector('.invite-error');
  const submit = inviteView.querySelector('.invite-submit');
  const showError = (text) => {
    error.textContent = text;
    error.hidden = false;
  };
  password.focus();
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    error.hidden = true;
    if (password.value.length < 10) {
      showError('Choose a password of at least 10 characters.');
      password.focus();
      return;
    }
    if (password.value !== confirm.value) {
      showError('The two passwords are not the same.');
      confirm.focus();
      return;
    }
    submit.disabled = true;
    try {
      const body = { token, password: password.value };
      if (name.value.trim()) body.name = name.value.trim();
      const result = await api('/invites/accept', { method: 'POST', body });
      history.replaceState(null, '', window.location.pathname);
      await startApp(result.operator);
    } catch (failure) {
      submit.disabled = false;
      if (failure.status === 404) showError('This invite link no longer works: it was used, replaced by a newer one, or expired. Ask your admin for a new link.');
      else showError(failure.message);
    }
  });
}

window.addEventListener('hashchange', () => {
  const token = inviteToken();
  if (token) {
    showInvite(token);
    return;
  }
  if (!state.me) return;
  const view = viewFromHash();
  showView(view ? view.name : 'inbox', { sub: view ? view.sub : undefined, params: view ? view.params : undefined, updateHash: false });
});

// ---------------------------------------------------------------------------------------------
// Live updates

// One message into the list and, when it belongs to the open conversation, into the thread.
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
        const readingIt = state.selectedId === message.conversation_id && document.visibilityState === 'visible';
        if (!readingIt && message.id > (summary.operator_read_up_to || 0)) summary.unread_count = (summary.unread_count || 0) + 1;
      }
    }
    renderList();
  }
  if (state.thread && state.thread.id === message.conversation_id) {
    addMessage(message, { live });
    if (message.author === 'visitor') {
      markThreadRead();
      // A customer message changes the conversation's version (and may reopen it), and the
      // question the suggestions answer.
      if (live) {
        refreshSoon();
        emit('thread:customer-wrote', { id: message.conversation_id });
      }
    }
  }
  if (live) {
    notifyMessage(message);
    scheduleRefetch();
  }
}
on('message:received', ({ message, live }) => applyMessage(message, { live }));
on('list:changed', () => renderList());
on('list:selection', () => renderList());

function applyEvent(event) {
  const data = event.data || {};
  const summary = state.conversations.get(event.conversation_id);
  const open = state.thread && state.thread.id === event.conversation_id;
  switch (event.kind) {
    case 'conversation.created': {
      const conversation = data.conversation;
      if (conversation) {
        remember(conversation);
        if (state.view === 'inbox') announce(`New conversation from ${contactName(conversation)}`);
        if (matchesFilter(conversation) && !state.conversations.has(conversation.id)) {
          state.conversations.set(conversation.id, { ...conversation, typingUntil: 0 });
          renderList();
        }
      }
      scheduleRefetch();
      emit('conversations:changed');
      break;
    }
    case 'message.created':
      applyMessage(data.message, { live: true });
      if (data.message && data.message.author === 'visitor') emit('conversations:changed');
      break;
    case 'typing':
      if (data.by !== 'visitor') break;
      showRowTyping(event.conversation_id);
      if (open) visitorIsTyping();
      break;
    case 'read': {
      const upTo = Number(data.up_to) || 0;
      if (data.by === 'visitor') {
        if (summary) summary.visitor_read_up_to = Math.max(summary.visitor_read_up_to || 0, upTo);
        if (open) visitorRead(upTo);
      } else if (data.by === 'operator' && summary) {
        summary.operator_read_up_to = Math.max(summary.operator_read_up_to || 0, upTo);
        if (summary.last_message && upTo >= summary.last_message.id) summary.unread_count = 0;
        renderList();
      }
      break;
    }
    case 'message.delivery': {
      // Replies through SMS, WhatsApp, email, Messenger or Instagram: the badge under the
      // message moves on. A failure in one of my conversations that is not open is told in a
      // toast (a supervisor does not need one for everybody's).
      const shown = open && applyDelivery({ ...data, conversation_id: data.conversation_id ?? event.conversation_id });
      if (data.delivery === 'failed') {
        const known = state.known.get(event.conversation_id) || summary;
        const mine = Boolean(known && known.assignee && state.me && known.assignee.id === state.me.id);
        const name = contactName(known || { id: event.conversation_id });
        if (!open && mine) toast(`A reply to ${name} could not be delivered${data.error ? `: ${data.error}` : '.'}`, 'error');
        else if (shown) announce(`Your reply could not be delivered${data.error ? `: ${data.error}` : '.'}`);
      }
      break;
    }
    case 'message.attachment':
      // A provider's file fetched after its message (or why it could not be kept).
      if (open) applyAttachment(data, event.conversation_id);
      break;
    case 'note.created':
      if (open) addTimelineEvent(event);
      noteCreated(data.note);
      scheduleRefetch();
      emit('contact:changed', event);
      break;
    case 'assistant.summary':
      // A language model's briefing for a handoff: it joins the handoff entry.
      if (open) addTimelineEvent(event);
      break;
    case 'csat.received':
      // The customer rated a resolved conversation: a timeline entry, nothing else changes.
      if (open) addTimelineEvent(event);
      break;
    case 'assistant.handoff':
    case 'assistant.resumed':
      // The assistant handed the conversation to people (with its summary), or an operator gave
      // it back: a timeline entry, and the header, list badge and actions change.
      if (open) {
        addTimelineEvent(event);
        refreshSoon();
      }
      scheduleRefetch();
      emit('conversations:changed');
      break;
    default:
      if (event.kind.startsWith('conversation.')) {
        if (event.kind === 'conversation.transferred' || event.kind === 'conversation.assigned') {
          handedToMe(event);
        }
        if (open) {
          addTimelineEvent(event);
          refreshSoon();
        }
        scheduleRefetch();
        emit('conversations:changed');
      } else if (event.kind.startsWith('contact.')) {
        // Not a timeline line (a reload would not show it either): the header and panel update.
        if (open) refreshSoon();
        scheduleRefetch();
        emit('contact:changed', event);
      }
  }
}

async function pollLoop(generation) {
  let delay = 1000;
  let resync = false;
  while (generation === state.generation) {
    const controller = new AbortController();
    pollController = controller;
    const guard = setTimeout(() => controller.abort(), POLL_TIMEOUT_MS);
    try {
      if (resync) {
        await loadList({ advanceCursor: true });
        if (state.thread) refreshSoon();
        resync = false;
        setConnection('');
      }
      const result = await api(`/events?after=${state.cursor}&wait=${POLL_WAIT_S}`, { signal: controller.signal });
      if (generation !== state.generation) break;
      for (const event of result.events || []) {
        try {
          applyEvent(event);
        } catch (error) {
          // One odd event must not stop the stream; the resync below repairs the view.
          console.error('event', event.kind, error);
          resync = true;
        }
        state.cursor = Math.max(state.cursor, Number(event.id) || 0);
      }
      state.cursor = Math.max(state.cursor, Number(result.cursor) || 0);
      delay = 1000;
    } catch (error) {
      if (generation !== state.generation) break;
      if (error.status === 401) {
        showLogin('Your session has ended. Please sign in again.');
        break;
      }
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
  if (document.visibilityState === 'visible') markThreadRead();
});
window.addEventListener('focus', markThreadRead);

// ---------------------------------------------------------------------------------------------
// Boot: an invite link shows the password form; a valid session cookie goes straight in.

(async function boot() {
  const token = inviteToken();
  if (token) {
    showInvite(token);
    return;
  }
  try {
    const result = await api('/me');
    await startApp(result.operator, { view: viewFromHash() });
  } catch (error) {
    // 401 simply means "not signed in"; anything else is worth telling.
    showLogin(error.status === 401 ? undefined : error.message);
  }
})();
