// The open conversation: messages interleaved with the internal timeline (notes, status,
// assignment, transfer and tag events, the router's classifications and automatic assignments,
// and the assistant's handoffs with their summary and reasons), the header (with topic, priority
// and whether the assistant has it), and the actions bar (status and snooze, resolve/reopen,
// claim, assign, transfer, hand back to the assistant, tags). The assistant's messages are
// shown as the assistant's, not as notices. Each message shows the channel it came
// through or left by, its attachments (a provider's media join later, by message.attachment
// events) and, for replies through a provider, its delivery state (live from message.delivery
// events). Owns state.selectedId and state.thread:
//   { id, summary, items: Map<key, node>, pending: Map<client_id, item>, loaded, reply, hadAssistant }
// where `reply` is the API's reply options ({default, channels}); compose.js offers them, and
// `hadAssistant` says whether the assistant has written here (it may be handed the thread back).
// Keys: `m<id>` message, `n<id>` note, `e<id>` other timeline event, so an item that arrives
// both in a snapshot and live is shown once.
//
// Every status change, assignment and transfer sends the `version` of the newest summary seen;
// a 409 stale_version reloads the conversation and says so.

import {
  api, button, contactName, dateTimeFormat, debounce, el, emit, field, handleAuthError, hasRole, on,
  operatorById, PRESENCE_LABELS, remember, select, setAvatar, state, statusLabel, tagById, tagChip,
  teamById, toast, who,
} from './core.js';
import {
  attachmentUrl, channelLabel, channelName, deliveryLabel, deliveryMayMove, deliveryNote, deliveryTitle,
  humanSize, isInlineImage,
} from './channels.js';
import { errorLine, openDialog } from './dialog.js';
import { handoffDetails, handoffHeadline, modelSummaryLabel, resumedText } from './handoff.js';
import { assistantBadge, routingBadges } from './inbox.js';
import { fullFormat, isNearBottom, scrollToBottom, setMeta, timeElement, typingIndicator } from '/shared/messages.js';

const TYPING_SHOW_MS = 5000;

const $ = (id) => document.getElementById(id);
const ui = {};
let visitorTyping;

export function initThread() {
  Object.assign(ui, {
    inboxView: $('inbox-view'),
    empty: $('thread-empty'),
    thread: $('thread'),
    back: $('back-button'),
    avatar: $('thread-avatar'),
    title: $('thread-title'),
    badges: $('thread-badges'),
    sub: $('thread-sub'),
    actions: $('thread-actions'),
    statusButton: $('status-button'),
    statusMenu: $('status-menu'),
    statusReason: $('status-reason'),
    snoozeUntil: $('snooze-until'),
    snoozeCustom: $('snooze-custom'),
    resolve: $('resolve-button'),
    reopen: $('reopen-button'),
    claim: $('claim-button'),
    assign: $('assign-button'),
    transfer: $('transfer-button'),
    handBack: $('handback-button'),
    tags: $('thread-tags'),
    addTagSelect: $('add-tag-select'),
    addTagButton: $('add-tag-button'),
    banner: $('thread-banner'),
    log: $('thread-log'),
    typing: $('thread-typing'),
    error: $('thread-error'),
    replyInput: $('reply-input'),
    list: $('conversation-list'),
  });
  visitorTyping = typingIndicator(ui.typing, TYPING_SHOW_MS);

  ui.back.addEventListener('click', () => {
    ui.inboxView.classList.remove('has-thread');
    const button = ui.list.querySelector(`.conv[data-id="${state.selectedId}"]`);
    if (button) button.focus();
  });

  // Status menu: a disclosure with plain buttons; Escape or a click elsewhere closes it.
  ui.statusButton.addEventListener('click', () => toggleStatusMenu());
  ui.statusMenu.addEventListener('keydown', (event) => {
    if (event.key === 'Escape') {
      event.stopPropagation();
      toggleStatusMenu(false);
      ui.statusButton.focus();
    }
  });
  document.addEventListener('pointerdown', (event) => {
    if (!ui.statusMenu.hidden && !event.target.closest('#status-menu, #status-button')) toggleStatusMenu(false);
  });
  for (const item of ui.statusMenu.querySelectorAll('[data-status]')) {
    item.addEventListener('click', () => {
      const reason = ui.statusReason.value.trim();
      toggleStatusMenu(false);
      setStatus(item.dataset.status, { reason });
    });
  }
  for (const item of ui.statusMenu.querySelectorAll('[data-snooze]')) {
    item.addEventListener('click', () => {
      const reason = ui.statusReason.value.trim();
      toggleStatusMenu(false);
      setStatus('snoozed', { snoozedUntil: snoozePreset(item.dataset.snooze), reason });
    });
  }
  ui.snoozeCustom.addEventListener('click', () => {
    const value = ui.snoozeUntil.value;
    const until = value ? new Date(value).getTime() : NaN;
    if (!Number.isFinite(until) || until <= Date.now() || until > Date.now() + 365 * 24 * 3600 * 1000) {
      showThreadError('Choose a date and time in the future, at most a year ahead, to snooze until.');
      ui.snoozeUntil.focus();
      return;
    }
    const reason = ui.statusReason.value.trim();
    toggleStatusMenu(false);
    setStatus('snoozed', { snoozedUntil: until, reason });
  });

  ui.resolve.addEventListener('click', () => resolveOpen());
  ui.reopen.addEventListener('click', () => setStatus('open'));
  ui.claim.addEventListener('click', () => assignTo(state.me.id));
  ui.assign.addEventListener('click', openAssignDialog);
  ui.transfer.addEventListener('click', openTransferDialog);
  ui.handBack.addEventListener('click', () => handBack());
  ui.addTagButton.addEventListener('click', () => {
    const tagId = Number(ui.addTagSelect.value);
    if (tagId) addTag(tagId);
  });

  on('conversation:open', ({ id, focus = true }) => openConversation(id, { focus }));
  on('directory:changed', () => {
    if (state.thread && state.thread.summary) renderHeader(state.thread.summary);
  });
}

export function resetThread() {
  state.selectedId = null;
  state.thread = null;
  refreshSoon.cancel();
  ui.log.replaceChildren();
  ui.thread.hidden = true;
  ui.empty.hidden = false;
  ui.inboxView.classList.remove('has-thread');
  toggleStatusMenu(false);
  hideThreadError();
}

// ---------------------------------------------------------------------------------------------
// Opening and loading

export function openConversation(id, { focus = true } = {}) {
  if (state.selectedId !== id || !state.thread) {
    state.selectedId = id;
    state.thread = {
      id, summary: state.conversations.get(id) || state.known.get(id) || null, items: new Map(), pending: new Map(), loaded: false, reply: null, hadAssistant: false,
    };
    ui.log.replaceChildren();
    ui.log.classList.remove('is-multichannel');
    visitorTyping.hide();
    hideThreadError();
    ui.statusReason.value = '';
    emit('thread:changed', { id });
  }
  ui.empty.hidden = true;
  ui.thread.hidden = false;
  ui.inboxView.classList.add('has-thread');
  if (state.thread.summary) renderHeader(state.thread.summary);
  emit('list:selection');
  if (focus) ui.replyInput.focus({ preventScroll: true });
  loadThread(id).catch((error) => {
    if (handleAuthError(error)) return;
    showThreadError(error.status === 404 ? 'This conversation no longer exists.' : error.message);
  });
}

async function loadThread(id) {
  const generation = state.generation;
  ui.log.setAttribute('aria-busy', 'true');
  try {
    const result = await api(`/conversations/${id}`);
    if (generation !== state.generation || state.selectedId !== id || !state.thread) return;
    if (result.conversation) applySummary(result.conversation, { announce: false });
    for (const message of result.messages || []) addMessage(message, { live: false });
    for (const event of result.timeline || []) addTimelineEvent(event, { live: false });
    if (result.reply) {
      state.thread.reply = result.reply;
      emit('thread:reply', { id, reply: result.reply });
    }
    const first = !state.thread.loaded;
    state.thread.loaded = true;
    refreshTicks();
    if (first) scrollToBottom(ui.log);
    markThreadRead();
    emit('thread:loaded', { id, summary: state.thread.summary });
  } finally {
    ui.log.removeAttribute('aria-busy');
  }
}

// Reloads the open conversation soon (after timeline events, to pick up the new version).
export const refreshSoon = debounce(() => {
  if (!state.thread) return;
  loadThread(state.thread.id).catch((error) => { handleAuthError(error); });
}, 250);

// A newer summary of the open conversation (from a load, an action or the list).
export function applySummary(summary, { announce = true } = {}) {
  const thread = state.thread;
  const newest = remember(summary);
  if (!thread || newest.id !== thread.id) return;
  const before = thread.summary;
  thread.summary = {
    ...(before || {}),
    ...newest,
    visitor_read_up_to: Math.max(before?.visitor_read_up_to || 0, newest.visitor_read_up_to || 0),
    operator_read_up_to: Math.max(before?.operator_read_up_to || 0, newest.operator_read_up_to || 0),
  };
  renderHeader(thread.summary);
  refreshTicks();
  if (announce) emit('conversation:updated', thread.summary);
}

// ---------------------------------------------------------------------------------------------
// Header and actions

function canAct(summary) {
  if (hasRole('supervisor')) return true;
  return !summary.assignee || (state.me && summary.assignee.id === state.me.id);
}

function renderHeader(summary) {
  ui.title.textContent = contactName(summary);
  setAvatar(ui.avatar, summary);
  const parts = [];
  const contact = summary.contact || {};
  if (contact.email) parts.push(contact.email);
  if (contact.phone) parts.push(contact.phone);
  if (summary.channel) parts.push(channelName(summary.channel));
  if (summary.language) parts.push(languageName(summary.language));
  let status = statusLabel(summary.status);
  if (summary.status === 'snoozed' && summary.snoozed_until) status += ` until ${dateTimeFormat.format(new Date(summary.snoozed_until))}`;
  parts.push(status);
  if (summary.assignee) parts.push(state.me && summary.assignee.id === state.me.id ? 'Assigned to you' : `Assigned to ${summary.assignee.name}`);
  else if (summary.team) parts.push(`Waiting in ${summary.team.name}`);
  else parts.push('Unassigned');
  if (summary.created_at) parts.push(`started ${fullFormat.format(new Date(summary.created_at))}`);
  ui.sub.textContent = parts.join(' · ');
  ui.badges.replaceChildren(...assistantBadge(summary), ...routingBadges(summary));

  const allowed = canAct(summary);
  const resolved = summary.status === 'resolved';
  ui.statusButton.textContent = `Status: ${statusLabel(summary.status)}`;
  ui.resolve.hidden = resolved;
  ui.reopen.hidden = !resolved;
  ui.claim.hidden = hasRole('supervisor') || Boolean(summary.assignee);
  ui.assign.hidden = !hasRole('supervisor');
  // Only an open conversation people have can go back to the assistant (the API matches on
  // status and version), and only one the assistant has been in: elsewhere (the assistant off,
  // or a customer who came by SMS to people) the action would only be in the way.
  const hadAssistant = Boolean(summary.handed_off_at) || Boolean(state.thread && state.thread.id === summary.id && state.thread.hadAssistant);
  ui.handBack.hidden = Boolean(summary.bot_active) || summary.status !== 'open' || !hadAssistant;
  for (const control of [ui.statusButton, ui.resolve, ui.reopen, ui.transfer, ui.handBack, ui.addTagButton, ui.addTagSelect]) {
    control.disabled = !allowed;
  }
  for (const item of ui.statusMenu.querySelectorAll('[data-status]')) {
    item.disabled = item.dataset.status === summary.status;
  }

  if (!allowed) {
    ui.banner.textContent = `${summary.assignee.name} is handling this conversation. You can read it; ask a supervisor to transfer it to you.`;
    ui.banner.hidden = false;
  } else if (summary.bot_active) {
    ui.banner.textContent = 'The assistant is answering this conversation. If you reply, it becomes yours and the assistant stops.';
    ui.banner.hidden = false;
  } else {
    ui.banner.hidden = true;
  }
  emit('thread:permissions', { allowed });

  // Tags on the conversation, each with a remove button; the select offers the others.
  const tags = summary.tags || [];
  ui.tags.replaceChildren(...tags.map((tag) => {
    const full = tagById(tag.id) || tag;
    return tagChip(full, allowed ? () => removeTag(full) : undefined);
  }));
  const onIt = new Set(tags.map((tag) => tag.id));
  const available = state.tags.filter((tag) => !onIt.has(tag.id));
  const options = available.map((tag) => {
    const option = el('option', null, tag.name);
    option.value = String(tag.id);
    return option;
  });
  if (!options.length) {
    const none = el('option', null, state.tags.length ? 'All tags added' : 'No tags yet');
    none.value = '';
    options.push(none);
  }
  ui.addTagSelect.replaceChildren(...options);
  ui.addTagSelect.disabled = !allowed || !available.length;
  ui.addTagButton.disabled = !allowed || !available.length;
}

let languageNames = null;
try {
  languageNames = new Intl.DisplayNames([navigator.language || 'en'], { type: 'language' });
} catch { /* older browsers: the tag as it is */ }

// "English (United States)" for en-US; the tag itself when the browser cannot name it.
function languageName(tag) {
  try {
    return (languageNames && languageNames.of(tag)) || tag;
  } catch {
    return tag;
  }
}

function toggleStatusMenu(open = ui.statusMenu.hidden) {
  ui.statusMenu.hidden = !open;
  ui.statusButton.setAttribute('aria-expanded', String(open));
  if (open) {
    const minimum = new Date(Date.now() + 5 * 60000);
    ui.snoozeUntil.min = localInputValue(minimum);
    ui.snoozeUntil.max = localInputValue(new Date(Date.now() + 364 * 24 * 3600 * 1000)); // the API allows a year
    if (!ui.snoozeUntil.value) ui.snoozeUntil.value = localInputValue(snoozePreset('tomorrow'));
    ui.statusReason.focus();
  }
}

export function closePopovers() {
  if (!ui.statusMenu.hidden) {
    toggleStatusMenu(false);
    return true;
  }
  return false;
}

function localInputValue(date) {
  const d = new Date(date);
  const pad = (n) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}`;
}

// Snooze presets, in the operator's time zone.
export function snoozePreset(kind) {
  const now = new Date();
  if (kind === 'hour') return now.getTime() + 3600 * 1000;
  const date = new Date(now);
  if (kind === 'tomorrow') {
    date.setDate(date.getDate() + 1);
  } else {
    // Next week: the coming Monday.
    const days = ((8 - date.getDay()) % 7) || 7;
    date.setDate(date.getDate() + days);
  }
  date.setHours(9, 0, 0, 0);
  return date.getTime();
}

// The open conversation, if any, and whether this operator may act on it.
function current() {
  const thread = state.thread;
  if (!thread || !thread.summary) return null;
  return thread;
}

async function perform(run, success) {
  const thread = current();
  if (!thread) return null;
  hideThreadError();
  try {
    const result = await run(thread);
    if (result && result.conversation) applySummary(result.conversation);
    if (success) toast(success);
    // The timeline line for this action comes with the event stream; reload too, so that it
    // shows even while the stream is reconnecting.
    refreshSoon();
    return result;
  } catch (error) {
    if (!handleAuthError(error)) await explainActionError(error);
    return null;
  }
}

// Clear words for the conflicts the API reports, and a reload where the view is stale.
// `what` is 'reply', 'note' or 'action' (status, assignment, transfer, tags).
export async function explainActionError(error, what = 'action') {
  const details = error.details || {};
  const thread = state.thread;
  switch (error.code) {
    case 'stale_version':
      if (details.conversation) applySummary(details.conversation);
      showThreadError('This conversation changed while you were looking at it (a new message or a teammate’s action), so nothing was done. It has been reloaded: check it and try again.');
      refreshSoon();
      break;
    case 'assigned_elsewhere': {
      let name = details.conversation?.assignee?.name || details.assignee?.name;
      if (details.conversation) applySummary(details.conversation);
      if (!name && thread) {
        try {
          const fresh = await api(`/conversations/${thread.id}`);
          applySummary(fresh.conversation);
          name = fresh.conversation?.assignee?.name;
        } catch { /* the message below still helps */ }
      }
      const done = what === 'reply' ? 'your reply was not sent' : what === 'note' ? 'your note was not added' : 'this was not done';
      showThreadError(`${name || 'Another operator'} is handling this conversation, so ${done}. Ask a supervisor to transfer it to you.`);
      break;
    }
    case 'at_capacity':
      if (what === 'reply') {
        const me = state.me || {};
        const load = me.capacity ? ` (${me.load ?? me.capacity}/${me.capacity} chats)` : '';
        showThreadError(`You are at your capacity${load}, so this reply was not sent and the conversation stays unassigned. Resolve or transfer one of yours, or ask a supervisor to assign it to you.`);
      } else {
        showThreadError('That operator is at capacity. Choose someone else or a team.');
      }
      break;
    case 'inactive_operator':
      showThreadError('That operator is deactivated.');
      break;
    case 'no_change':
      showThreadError('Nothing changed: the conversation is already like that.');
      refreshSoon();
      break;
    case 'forbidden':
      showThreadError('Your role cannot do that.');
      break;
    default:
      showThreadError(error.message || 'That did not work. Try again.');
  }
}

export async function setStatus(status, { snoozedUntil, reason } = {}) {
  const body = (thread) => {
    const payload = { status, version: thread.summary.version };
    if (status === 'snoozed') payload.snoozed_until = snoozedUntil;
    if (reason) payload.reason = reason;
    return payload;
  };
  const words = {
    open: 'Conversation reopened', pending: 'Marked pending', resolved: 'Conversation resolved',
    snoozed: `Snoozed until ${dateTimeFormat.format(new Date(snoozedUntil || Date.now()))}`,
  };
  const result = await perform(
    (thread) => api(`/conversations/${thread.id}/status`, { method: 'POST', body: body(thread) }),
    words[status],
  );
  if (result) ui.statusReason.value = '';
  return result;
}

// Alt+R and the Resolve button.
export function resolveOpen() {
  const thread = current();
  if (!thread || thread.summary.status === 'resolved') return;
  setStatus('resolved');
}

async function assignTo(operatorId) {
  const name = operatorId === null ? null : (operatorById(operatorId)?.name || (operatorId === state.me.id ? state.me.name : 'them'));
  return perform(
    (thread) => api(`/conversations/${thread.id}/assign`, {
      method: 'POST', body: { operator_id: operatorId, version: thread.summary.version },
    }),
    operatorId === null ? 'Unassigned' : operatorId === state.me.id ? 'Assigned to you' : `Assigned to ${name}`,
  );
}

// Gives the conversation back to the assistant, which answers the customer's next message.
// A 409 stale_version (someone wrote or acted meanwhile) reloads it and says so.
async function handBack() {
  const result = await perform(
    (thread) => api(`/conversations/${thread.id}/assistant`, { method: 'POST', body: { version: thread.summary.version } }),
    'Handed back to the assistant',
  );
  if (result) ui.statusButton.focus();
  return result;
}

function operatorLine(operator, load) {
  const presence = operator.available ? 'available' : operator.online ? (PRESENCE_LABELS[operator.presence] || operator.presence || '').toLowerCase() : 'offline';
  const loadText = load === undefined || load === null ? '' : ` · ${load}/${operator.capacity ?? '∞'} chats`;
  return `${operator.name} (${presence}${loadText})`;
}

async function openAssignDialog() {
  const thread = current();
  if (!thread) return;
  let operators = state.operators;
  const loads = new Map();
  try {
    const queue = await api('/queue');
    operators = (queue.operators || []).filter((operator) => operator.active !== false);
    for (const operator of queue.operators || []) loads.set(operator.id, operator.load);
  } catch (error) {
    if (handleAuthError(error)) return;
  }
  openDialog({
    title: 'Assign conversation',
    build(body, close) {
      const form = el('form', 'stack');
      const fieldset = el('fieldset', 'radio-list');
      fieldset.append(el('legend', null, 'Assign to'));
      const current = thread.summary.assignee ? thread.summary.assignee.id : null;
      const choices = [[null, 'Nobody (back to the queue)'], ...operators.map((operator) => [operator.id, operatorLine(operator, loads.get(operator.id))])];
      for (const [id, text] of choices) {
        const label = el('label', 'radio');
        const radio = document.createElement('input');
        radio.type = 'radio';
        radio.name = 'assignee';
        radio.value = id === null ? '' : String(id);
        radio.checked = id === current;
        label.append(radio, el('span', null, text));
        fieldset.append(label);
      }
      const error = errorLine();
      const actions = el('div', 'dialog-actions');
      const submit = el('button', 'primary', 'Assign');
      submit.type = 'submit';
      actions.append(button('Cancel', 'ghost', close), submit);
      form.append(fieldset, error.node, actions);
      form.addEventListener('submit', async (event) => {
        event.preventDefault();
        const chosen = form.querySelector('input[name=assignee]:checked');
        if (!chosen) {
          error.show('Choose someone.');
          return;
        }
        submit.disabled = true;
        const result = await assignTo(chosen.value === '' ? null : Number(chosen.value));
        submit.disabled = false;
        if (result) close();
        else error.show(ui.error.textContent || 'Could not assign.');
      });
      body.append(form);
    },
  });
}

function openTransferDialog() {
  const thread = current();
  if (!thread) return;
  openDialog({
    title: 'Transfer conversation',
    description: 'The visitor sees a short notice; the reason stays internal.',
    build(body, close) {
      const form = el('form', 'stack');
      form.noValidate = true;
      const fieldset = el('fieldset', 'radio-list');
      fieldset.append(el('legend', null, 'Transfer to'));
      const toOperator = radio('target', 'operator', 'An operator', true);
      const toTeam = radio('target', 'team', 'A team', false);
      // An operator may move an unassigned conversation only to a team or to themselves.
      const onlyMe = !hasRole('supervisor') && !thread.summary.assignee;
      const others = state.operators.filter((operator) => operator.id !== thread.summary.assignee?.id
        && operator.active !== false && operator.invited !== true && (!onlyMe || operator.id === state.me.id));
      const operatorSelect = select(others.map((operator) => [operator.id, operatorLine(operator)]));
      const teamSelect = select(state.teams.map((team) => [team.id, team.name]));
      if (!state.teams.length) {
        toTeam.input.disabled = true;
        teamSelect.disabled = true;
      }
      if (onlyMe && state.teams.length) {
        toOperator.input.checked = false;
        toTeam.input.checked = true;
      }
      if (!others.length) {
        toOperator.input.disabled = true;
        operatorSelect.disabled = true;
        toOperator.input.checked = false;
        toTeam.input.checked = !toTeam.input.disabled;
      }
      const operatorField = field('Operator', operatorSelect);
      const teamField = field('Team', teamSelect);
      const sync = () => {
        operatorField.hidden = !toOperator.input.checked;
        teamField.hidden = !toTeam.input.checked;
      };
      toOperator.input.addEventListener('change', sync);
      toTeam.input.addEventListener('change', sync);
      fieldset.append(toOperator.label, toTeam.label);
      const reason = el('textarea');
      reason.rows = 3;
      reason.maxLength = 500;
      reason.required = true;
      const error = errorLine();
      const actions = el('div', 'dialog-actions');
      const submit = el('button', 'primary', 'Transfer');
      submit.type = 'submit';
      actions.append(button('Cancel', 'ghost', close), submit);
      form.append(fieldset, operatorField, teamField, field('Reason (internal)', reason, 'Required. Your team sees it; the visitor never does.'), error.node, actions);
      sync();
      form.addEventListener('submit', async (event) => {
        event.preventDefault();
        error.clear();
        const text = reason.value.trim();
        if (!text) {
          error.show('Give a reason for the transfer.');
          reason.focus();
          return;
        }
        const payload = { reason: text };
        if (toTeam.input.checked) {
          if (!teamSelect.value) return error.show('Choose a team.');
          payload.team_id = Number(teamSelect.value);
        } else {
          if (!operatorSelect.value) return error.show('Choose an operator.');
          payload.operator_id = Number(operatorSelect.value);
        }
        submit.disabled = true;
        const result = await perform(
          (t) => api(`/conversations/${t.id}/transfer`, { method: 'POST', body: { ...payload, version: t.summary.version } }),
          'Conversation transferred',
        );
        submit.disabled = false;
        if (result) close();
        else error.show(ui.error.textContent || 'Could not transfer.');
        return undefined;
      });
      body.append(form);
    },
  });
}

function radio(name, value, text, checked) {
  const label = el('label', 'radio');
  const inputNode = document.createElement('input');
  inputNode.type = 'radio';
  inputNode.name = name;
  inputNode.value = value;
  inputNode.checked = checked;
  label.append(inputNode, el('span', null, text));
  return { label, input: inputNode };
}

async function addTag(tagId) {
  const result = await perform((thread) => api(`/conversations/${thread.id}/tags`, { method: 'POST', body: { tag_id: tagId } }));
  if (result && state.thread) {
    applySummary({ ...state.thread.summary, tags: result.tags });
    toast(`Tag ${tagById(tagId)?.name || ''} added`);
    ui.addTagSelect.focus();
    refreshSoon();
  }
}

async function removeTag(tag) {
  const result = await perform((thread) => api(`/conversations/${thread.id}/tags/${tag.id}`, { method: 'DELETE' }));
  if (result && state.thread) {
    applySummary({ ...state.thread.summary, tags: result.tags });
    toast(`Tag ${tag.name} removed`);
    ui.addTagSelect.focus();
    refreshSoon();
  }
}

// ---------------------------------------------------------------------------------------------
// The log: messages and timeline items in time order

function sortKey(node) {
  return [Number(node.dataset.t), Number(node.dataset.o), Number(node.dataset.i)];
}
function compareKeys(a, b) {
  return a[0] - b[0] || a[1] - b[1] || a[2] - b[2];
}

// Inserts `node` by (time, kind, id). Items without a key (a reply still sending) stay last.
function place(node, time, order, id) {
  node.dataset.t = String(time || 0);
  node.dataset.o = String(order);
  node.dataset.i = String(id || 0);
  const key = sortKey(node);
  let before = null;
  for (let child = ui.log.lastElementChild; child; child = child.previousElementSibling) {
    if (child.dataset.t === undefined || compareKeys(sortKey(child), key) > 0) {
      before = child;
      continue;
    }
    break;
  }
  ui.log.insertBefore(node, before);
}

// The assistant's messages are stored as the system's (`author: "system"`) with
// `sender: "assistant"`: the customer reads them as answers, so they are shown as the assistant
// speaking, not as a notice.
export function isAssistantMessage(message) {
  return Boolean(message) && message.sender === 'assistant';
}

export function messageNode(message) {
  const assistant = isAssistantMessage(message);
  const root = el('div', assistant ? 'msg msg--assistant' : `msg msg--${message.author}`);
  let author;
  if (message.author === 'visitor') author = contactName(state.thread?.summary || state.known.get(message.conversation_id) || { id: message.conversation_id });
  else if (assistant) author = 'Assistant';
  else if (message.author === 'operator') author = message.operator_name || 'Operator';
  else author = 'Notice to the visitor';
  root.append(el('span', 'msg-author', author));
  root.append(el('div', 'bubble', message.body));
  root.append(el('div', 'msg-meta'));
  decorate(root, message);
  return root;
}

// The parts of a message node that depend on its channel: the channel label after the author,
// the attachments under the bubble, and (for a reply through a provider) the delivery note.
// Called again when the server's copy replaces a pending reply.
function decorate(node, message) {
  const head = node.querySelector('.msg-author');
  let badge = head.querySelector('.msg-channel');
  if (message.channel) {
    if (!badge) {
      badge = el('span', 'msg-channel');
      head.append(' ', badge);
    }
    badge.dataset.channel = message.channel;
    badge.textContent = channelLabel(message.channel);
    badge.title = message.author === 'visitor'
      ? `Came in by ${channelName(message.channel)}`
      : `Sent by ${channelName(message.channel)}`;
    if (message.channel !== 'web' && message.channel !== 'widget') ui.log.classList.add('is-multichannel');
  }
  const attachments = Array.isArray(message.attachments) ? message.attachments : [];
  node.querySelector('.msg-attachments')?.remove();
  if (attachments.length) {
    node.querySelector('.bubble').after(attachmentList(message.conversation_id, attachments));
    // A file sent without words: the provider's placeholder text ("(1 attachment)") says no more
    // than the list does.
    if (/^\(\d+ attachments?\)$/.test(String(message.body || '').trim())) node.classList.add('is-files-only');
  }
  renderDeliveryNote(node, message);
}

function attachmentList(conversationId, attachments) {
  const list = el('ul', 'msg-attachments');
  list.setAttribute('aria-label', attachments.length === 1 ? 'Attachment' : `${attachments.length} attachments`);
  for (const file of attachments) {
    const item = el('li', 'attachment');
    const url = attachmentUrl(conversationId, file.id);
    const name = String(file.name || 'file');
    const size = humanSize(file.size);
    if (file.removed) {
      // Retention removed the bytes (Admin > Retention): say so instead of a dead link.
      item.classList.add('is-removed');
      item.append(el('span', 'attachment-name', name), ' ', el('span', 'attachment-size', size), el('span', 'muted small', ' — removed by the retention policy'));
      list.append(item);
      continue;
    }
    const link = el('a', 'attachment-link');
    link.href = url;
    if (isInlineImage(file.content_type)) {
      // Opens the full image in a new tab; the thumbnail is the same file, scaled down.
      link.classList.add('attachment-image');
      link.target = '_blank';
      link.rel = 'noopener';
      link.title = `${name} (${size}): open full size`;
      const image = document.createElement('img');
      image.src = url;
      image.alt = name;
      image.loading = 'lazy';
      image.decoding = 'async';
      link.append(image);
    } else {
      link.classList.add('attachment-file');
      link.download = name;
      link.title = `Download ${name}`;
      link.append(el('span', 'attachment-icon', '📎'), el('span', 'attachment-name', name), ' ', el('span', 'attachment-size', size));
      link.querySelector('.attachment-icon').setAttribute('aria-hidden', 'true');
    }
    item.append(link);
    list.append(item);
  }
  return list;
}

// The badge for a message's delivery state, in the line under the bubble.
function setDeliveryMeta(node, message) {
  setMeta(node, message.created_at, null);
  const badge = el('span', 'msg-delivery', deliveryLabel(message.delivery));
  badge.dataset.delivery = message.delivery;
  if (message.delivery === 'queued' && message.delivery_error) badge.dataset.retrying = 'true';
  badge.title = deliveryTitle(message.delivery, message.delivery_error, message.channel);
  node.querySelector('.msg-meta').append(badge);
  node.classList.toggle('is-failed', message.delivery === 'failed');
}

// The provider's reason for a failure, or the pending retry, under the message.
function renderDeliveryNote(node, message) {
  const note = deliveryNote(message.delivery, message.delivery_error);
  let line = node.querySelector('.msg-delivery-note');
  if (!note) {
    line?.remove();
    return;
  }
  if (!line) {
    line = el('p', 'msg-delivery-note');
    node.append(line);
  }
  line.dataset.kind = note.kind;
  line.textContent = note.text;
}

function operatorStatus(message) {
  const readUpTo = state.thread?.summary?.visitor_read_up_to || 0;
  return message.id <= readUpTo ? 'read' : 'sent';
}

// Whether a message went out through a provider (its delivery state is the provider's, not the
// widget's read receipt).
function hasDelivery(message) {
  return Boolean(message && message.author === 'operator' && message.delivery);
}

function renderMeta(node, message) {
  if (hasDelivery(message)) setDeliveryMeta(node, message);
  else setMeta(node, message.created_at, message.author === 'operator' ? operatorStatus(message) : null);
}

// Adds a message once; returns true when it was new. Our own pending reply (same client_id)
// becomes the stored message in place. A message already shown takes a later delivery state
// from a reload (never an earlier one: events may have moved it on since the reload was read)
// and files that joined it since.
export function addMessage(message, { live }) {
  const thread = state.thread;
  if (!thread || message.conversation_id !== thread.id) return false;
  const key = `m${message.id}`;
  const existing = thread.items.get(key);
  if (existing) {
    const shown = existing.message;
    if (hasDelivery(message) && shown && message.delivery !== shown.delivery && deliveryMayMove(shown.delivery, message.delivery)) {
      updateDelivery(existing, message.delivery, message.delivery_error);
    }
    // Files join a message later (a provider's media); a reload brings any event missed.
    const files = Array.isArray(message.attachments) ? message.attachments : [];
    if (shown && files.length > (shown.attachments || []).length) {
      existing.message = { ...existing.message, attachments: files };
      decorate(existing, existing.message);
    }
    return false;
  }
  const stick = isNearBottom(ui.log, 100);
  let node = null;
  const pending = message.client_id ? thread.pending.get(message.client_id) : undefined;
  if (pending) {
    thread.pending.delete(message.client_id);
    pending.acked = true;
    node = pending.el;
    node.remove();
    decorate(node, message);
  }
  node = node || messageNode(message);
  if (isAssistantMessage(message) && !thread.hadAssistant) {
    thread.hadAssistant = true;
    if (thread.summary) renderHeader(thread.summary);
  }
  node.dataset.id = String(message.id);
  place(node, message.created_at, 0, message.id);
  thread.items.set(key, node);
  node.message = message;
  renderMeta(node, message);
  if (message.author === 'visitor') visitorTyping.hide();
  if (stick || !live || message.author === 'operator') scrollToBottom(ui.log);
  return true;
}

function updateDelivery(node, delivery, error) {
  node.message = { ...node.message, delivery, delivery_error: error ?? null };
  renderMeta(node, node.message);
  renderDeliveryNote(node, node.message);
}

// A `message.delivery` event: {message_id, conversation_id, delivery, error}. States only move
// forward; the same state again may bring a new retry note. Returns true when shown.
export function applyDelivery(change) {
  const thread = state.thread;
  if (!thread || !change || change.conversation_id !== thread.id) return false;
  const node = thread.items.get(`m${change.message_id}`);
  if (!node || !node.message || !deliveryMayMove(node.message.delivery, change.delivery)) return false;
  updateDelivery(node, change.delivery, change.error);
  return true;
}

// A `message.attachment` event: a file a provider hosts (MMS, Messenger, WhatsApp media) was
// fetched after its message was stored ({message_id, attachment}), or could not be kept
// ({message_id, error}, operators only). Returns true when shown.
export function applyAttachment(change, conversationId) {
  const thread = state.thread;
  if (!thread || !change || conversationId !== thread.id) return false;
  const node = thread.items.get(`m${change.message_id}`);
  if (!node || !node.message) return false;
  if (change.attachment) {
    const files = Array.isArray(node.message.attachments) ? node.message.attachments : [];
    if (files.some((file) => file.id === change.attachment.id)) return false;
    node.message = { ...node.message, attachments: [...files, change.attachment] };
    decorate(node, node.message);
    return true;
  }
  if (change.error) {
    const line = el('p', 'msg-attachment-note', String(change.error));
    node.append(line);
    return true;
  }
  return false;
}

// A reply being sent: shown at the bottom until the server's copy replaces it.
export function addPendingReply(item) {
  item.el = messageNode({
    author: 'operator',
    operator_name: state.me ? state.me.name : 'You',
    body: item.body,
    conversation_id: item.conversationId,
    channel: item.shownChannel || item.channel,
  });
  ui.log.append(item.el);
  setMeta(item.el, Date.now(), 'sending');
  state.thread.pending.set(item.clientId, item);
  scrollToBottom(ui.log);
}

function noteNode(note) {
  const root = el('article', 'tl-note');
  const author = who(note.author, 'Someone');
  root.setAttribute('aria-label', `Internal note by ${author}`);
  const head = el('div', 'tl-note-head');
  head.append(el('span', 'tl-note-label', 'Internal note'), el('span', 'tl-note-author', author));
  if (note.created_at) head.append(timeElement(note.created_at));
  root.append(head, el('div', 'tl-note-body', note.body));
  const mentions = note.mentions || [];
  if (mentions.length) {
    root.append(el('p', 'tl-note-mentions', `Mentioned: ${mentions.map((m) => who(m)).join(', ')}`));
  }
  root.append(el('div', 'msg-meta'));
  return root;
}

export function addNote(note, { live = true } = {}) {
  const thread = state.thread;
  if (!thread || !note || note.conversation_id !== thread.id) return false;
  const key = `n${note.id}`;
  if (thread.items.has(key)) return false;
  const stick = isNearBottom(ui.log, 100);
  const node = noteNode(note);
  place(node, note.created_at, 1, note.id);
  thread.items.set(key, node);
  if (stick || !live || (note.author && state.me && note.author.id === state.me.id)) scrollToBottom(ui.log);
  return true;
}

// A note on its way: removed once the server has it (or restored to the composer on failure).
export function addPendingNote(body) {
  const node = noteNode({ author: state.me, body, mentions: [] });
  node.classList.add('is-pending');
  setMeta(node, Date.now(), 'sending');
  ui.log.append(node);
  scrollToBottom(ui.log);
  return node;
}

// A tag or team in an event: {id, name} or an id.
function thingName(value, lookup) {
  if (value === null || value === undefined) return '';
  if (typeof value === 'object') return value.name || lookup(value.id)?.name || '';
  return lookup(value)?.name || String(value);
}

// Someone in the object position of a sentence ("assigned this to you").
function whom(value) {
  const name = who(value);
  return name === 'You' ? 'you' : name;
}

// The router's rules, in words.
const RULES = {
  sticky: 'returning customer',
  round_robin: 'round robin',
  least_loaded: 'least loaded',
  skills_match: 'skills match',
  skills_fallback: 'skills, no match in time',
};
const PRIORITY_WORDS = { 1: 'high priority', 2: 'urgent' };

// "Assigned to Ann automatically (least loaded) · lowest load (0 of 3)"; overflow and a missing
// topic skill are said too (the latter is a likely transfer later).
function describeRouted(d) {
  const how = [RULES[d.rule] || d.rule].filter(Boolean);
  if (d.overflow) how.push('overflow');
  const parts = [`Assigned to ${whom(d.to)} automatically${how.length ? ` (${how.join(', ')})` : ''}`];
  if (d.reason) parts.push(d.reason);
  if (d.topic_match === false) parts.push('without the topic’s skill');
  return parts.join(' · ');
}

// "Topic: billing (mentioned refund) · queued for Billing · urgent"
function describeClassified(d) {
  const because = d.because ? ` (${d.because})` : '';
  const parts = [d.topic ? `Topic: ${d.topic}${because}` : `No topic detected${because}`];
  const team = thingName(d.team, teamById);
  if (team) parts.push(`queued for ${team}`);
  if (PRIORITY_WORDS[d.priority]) parts.push(PRIORITY_WORDS[d.priority]);
  return parts.join(' · ');
}

const CSAT_CHANNELS = { sms: 'SMS', whatsapp: 'WhatsApp', email: 'email', messenger: 'Messenger', instagram: 'Instagram' };

// One compact line for a status, assignment, transfer, tag, routing or rating event.
export function describeEvent(event) {
  const d = event.data || {};
  const reason = d.reason ? ` · ${d.reason}` : '';
  switch (event.kind) {
    case 'conversation.status': {
      if (!d.by) {
        if (d.to === 'open') return `Reopened${d.from === 'snoozed' ? ': the snooze ended or' : ':'} the customer wrote${reason}`;
        return `Status changed to ${statusLabel(d.to)}${reason}`;
      }
      const by = who(d.by);
      if (d.to === 'resolved') return `${by} resolved this${reason}`;
      if (d.to === 'open') return `${by} reopened this${reason}`;
      if (d.to === 'pending') return `${by} marked this pending${reason}`;
      if (d.to === 'snoozed') {
        const until = d.snoozed_until ? ` until ${dateTimeFormat.format(new Date(d.snoozed_until))}` : '';
        return `${by} snoozed this${until}${reason}`;
      }
      return `${by} set the status to ${statusLabel(d.to)}${reason}`;
    }
    case 'conversation.assigned': {
      // by null: the router decided. Its reason for taking a conversation back is a sentence
      // ("no answer from Ann within 30 s; back to the queue").
      if (!d.to && !d.by && d.from) return d.reason ? `Unassigned automatically: ${d.reason}` : `Unassigned from ${whom(d.from)} automatically`;
      if (!d.to) return `${d.by ? who(d.by) : 'The system'} unassigned this${reason}`;
      if (!d.by) return describeRouted(d);
      if (d.by && d.to && (d.by.id ?? d.by) === (d.to.id ?? d.to)) return `${who(d.by)} took this conversation${reason}`;
      return `${who(d.by)} assigned this to ${whom(d.to)}${reason}`;
    }
    case 'conversation.transferred': {
      const target = d.to_operator ? whom(d.to_operator) : d.to_team ? `the ${thingName(d.to_team, teamById)} team` : 'the queue';
      return `${d.by ? who(d.by) : 'The system'} transferred this to ${target}${reason}`;
    }
    case 'conversation.tagged':
      return `${d.by ? who(d.by) : 'The system'} added the tag ${thingName(d.tag, tagById)}`.trim();
    case 'conversation.untagged':
      return `${d.by ? who(d.by) : 'The system'} removed the tag ${thingName(d.tag, tagById)}`.trim();
    case 'conversation.classified':
      return describeClassified(d);
    case 'assistant.resumed':
      return resumedText(d, d.by ? who(d.by) : 'Someone');
    case 'csat.received': {
      // "Rated 4/5 — quick and kind · by SMS" (the customer's rating of the resolved conversation)
      const rating = Number(d.rating);
      if (!Number.isInteger(rating)) return null;
      const comment = typeof d.comment === 'string' && d.comment ? ` — ${d.comment}` : '';
      const by = d.channel && d.channel !== 'web' ? ` · by ${CSAT_CHANNELS[d.channel] || d.channel}` : '';
      return `Rated ${rating}/5${comment}${by}`;
    }
    default:
      return null;
  }
}

export function addTimelineEvent(event, { live = true } = {}) {
  const thread = state.thread;
  if (!thread || event.conversation_id !== thread.id) return false;
  if (event.kind === 'note.created') return addNote(event.data && event.data.note, { live });
  if (event.kind === 'message.created' && event.data && event.data.message) return addMessage(event.data.message, { live });
  if (event.kind === 'assistant.handoff') return addHandoff(event);
  if (event.kind === 'assistant.summary') return addModelSummary(event);
  const text = describeEvent(event);
  if (!text) return false;
  const key = `e${event.id}`;
  if (thread.items.has(key)) return false;
  const stick = isNearBottom(ui.log, 100);
  const node = el('p', 'tl-event');
  node.dataset.kind = event.kind;
  if (event.data && event.data.overflow) node.classList.add('is-overflow');
  if (event.kind === 'conversation.assigned' && event.data && !event.data.by && !event.data.to && event.data.from) node.classList.add('is-requeued');
  if (event.kind === 'conversation.classified' && PRIORITY_WORDS[event.data && event.data.priority]) node.classList.add('is-priority');
  if (event.kind === 'csat.received') node.classList.add(Number(event.data && event.data.rating) >= 4 ? 'is-csat-good' : 'is-csat-poor');
  node.append(el('span', 'tl-event-text', text));
  if (event.at) node.append(timeElement(event.at));
  place(node, event.at, 1, event.id);
  thread.items.set(key, node);
  if (stick) scrollToBottom(ui.log);
  return true;
}

// The assistant's handoff: why (each trigger with the customer's words), the summary it wrote
// for whoever takes over, and what was asked and answered, the topic and the language.
function handoffNode(event) {
  const d = event.data || {};
  const root = el('article', 'tl-handoff');
  const headline = handoffHeadline(d);
  root.setAttribute('aria-label', headline);
  const head = el('div', 'tl-handoff-head');
  head.append(el('span', 'tl-handoff-label', 'Assistant'), el('strong', 'tl-handoff-title', headline));
  if (event.at) head.append(timeElement(event.at));
  root.append(head);
  if (d.summary) root.append(el('p', 'tl-handoff-summary', String(d.summary)));
  const details = el('dl', 'tl-handoff-details');
  for (const [label, value] of handoffDetails(d, languageName)) {
    const row = el('div');
    row.append(el('dt', null, label), el('dd', null, value));
    details.append(row);
  }
  root.append(details);
  return root;
}

// A language model's briefing joins its handoff entry, above the assistant's own summary.
function addModelSummary(event) {
  const thread = state.thread;
  const d = event.data || {};
  const key = `e${event.id}`;
  if (thread.items.has(key) || typeof d.summary !== 'string') return false;
  const handoff = thread.items.get(`e${d.handoff_event_id}`);
  if (!handoff) return false;
  const box = el('div', 'tl-handoff-ai');
  box.append(el('span', 'tl-handoff-ai-label', modelSummaryLabel(d)), el('p', 'tl-handoff-ai-text', d.summary));
  const own = handoff.querySelector('.tl-handoff-summary');
  handoff.insertBefore(box, own || handoff.querySelector('.tl-handoff-details'));
  thread.items.set(key, box);
  return true;
}

function addHandoff(event) {
  const thread = state.thread;
  const key = `e${event.id}`;
  if (thread.items.has(key)) return false;
  const stick = isNearBottom(ui.log, 100);
  const node = handoffNode(event);
  place(node, event.at, 1, event.id);
  thread.items.set(key, node);
  if (stick) scrollToBottom(ui.log);
  return true;
}

export function refreshTicks() {
  const thread = state.thread;
  if (!thread) return;
  for (const [key, node] of thread.items) {
    if (key[0] !== 'm' || !node.message || node.message.author !== 'operator' || hasDelivery(node.message)) continue;
    const next = operatorStatus(node.message);
    const currentStatus = node.querySelector('.msg-status');
    if (!currentStatus || currentStatus.dataset.status !== next) setMeta(node, node.message.created_at, next);
  }
}

// Tells the server (and the list) that the operator has read the newest visitor message.
export function markThreadRead() {
  const thread = state.thread;
  if (!thread || !thread.loaded || document.visibilityState !== 'visible') return;
  let newest = 0;
  for (const [key, node] of thread.items) {
    if (key[0] === 'm' && node.message && node.message.author === 'visitor' && node.message.id > newest) newest = node.message.id;
  }
  const listed = state.conversations.get(thread.id);
  const readUpTo = Math.max(thread.summary?.operator_read_up_to || 0, listed?.operator_read_up_to || 0);
  if (listed && listed.unread_count > 0 && newest <= readUpTo) {
    listed.unread_count = 0;
    emit('list:changed');
  }
  if (newest <= readUpTo) return;
  // Someone else's conversation: the read marker is theirs to move (the API refuses it).
  if (thread.summary && !canAct(thread.summary)) return;
  if (thread.summary) thread.summary.operator_read_up_to = newest;
  if (listed) {
    listed.operator_read_up_to = newest;
    listed.unread_count = 0;
    emit('list:changed');
  }
  api(`/conversations/${thread.id}/read`, { method: 'POST', body: { message_id: newest } }).catch((error) => {
    if (thread.summary) thread.summary.operator_read_up_to = readUpTo;
    handleAuthError(error);
  });
}

export function visitorIsTyping() {
  visitorTyping.show();
}

export function visitorRead(upTo) {
  const thread = state.thread;
  if (!thread || !thread.summary) return;
  thread.summary.visitor_read_up_to = Math.max(thread.summary.visitor_read_up_to || 0, upTo);
  refreshTicks();
}

export function showThreadError(text) {
  ui.error.textContent = text;
  ui.error.hidden = false;
}
export function hideThreadError() {
  ui.error.hidden = true;
  ui.error.textContent = '';
}

