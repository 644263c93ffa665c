// Getting an operator's attention: the unread count in the tab title, a short beep (WebAudio,
// no file) and an opt-in browser notification for new visitor messages in conversations that
// are theirs or unassigned and not the one they are looking at, and mentions in notes (the
// header's Mentions button and list, read markers on the server).

import {
  announce, api, contactName, el, emit, handleAuthError, localPart, on, state, store, toast, who,
} from './core.js';
import { timeElement } from '/shared/messages.js';

const $ = (id) => document.getElementById(id);
const ui = {};
let audio = null;
let soundOn = true;
const mentions = { items: [], unread: 0, seq: 0 };

export function initNotify() {
  Object.assign(ui, {
    notifyButton: $('notify-button'),
    soundButton: $('sound-button'),
    mentionsButton: $('mentions-button'),
    mentionsCount: $('mentions-count'),
    mentionsPanel: $('mentions-panel'),
    mentionsList: $('mentions-list'),
    mentionsEmpty: $('mentions-empty'),
  });

  soundOn = store.get('sound') !== 'off';
  renderSoundButton();
  ui.soundButton.addEventListener('click', () => {
    soundOn = !soundOn;
    store.set('sound', soundOn ? 'on' : 'off');
    renderSoundButton();
    if (soundOn) beep();
  });

  renderNotifyButton();
  ui.notifyButton.addEventListener('click', async () => {
    if (!('Notification' in window)) return;
    // Asked only here, after a click: browsers (rightly) ignore unprompted requests.
    try {
      await Notification.requestPermission();
    } catch { /* older callback-style API: the state below still tells */ }
    renderNotifyButton();
    if (Notification.permission === 'granted') toast('Notifications are on for new messages and mentions.');
    else if (Notification.permission === 'denied') toast('Notifications are blocked in this browser’s site settings.', 'error');
  });

  // Browsers only let audio start after a gesture; unlock it on the first one.
  const unlock = () => {
    ensureAudio();
    window.removeEventListener('pointerdown', unlock);
    window.removeEventListener('keydown', unlock);
  };
  window.addEventListener('pointerdown', unlock);
  window.addEventListener('keydown', unlock);

  ui.mentionsButton.addEventListener('click', () => toggleMentions());
  ui.mentionsPanel.addEventListener('keydown', (event) => {
    if (event.key === 'Escape') {
      event.stopPropagation();
      toggleMentions(false);
      ui.mentionsButton.focus();
    }
  });
  document.addEventListener('pointerdown', (event) => {
    if (!ui.mentionsPanel.hidden && !event.target.closest('#mentions-panel, #mentions-button')) toggleMentions(false);
  });

  on('list:rendered', updateTitle);
  on('list:changed', updateTitle);
}

export function resetNotify() {
  mentions.items = [];
  mentions.unread = 0;
  mentions.seq += 1;
  renderMentions();
  toggleMentions(false);
  document.title = 'Inbox · Live chat';
}

function renderSoundButton() {
  ui.soundButton.setAttribute('aria-pressed', String(soundOn));
  ui.soundButton.textContent = soundOn ? 'Sound on' : 'Sound off';
}

function renderNotifyButton() {
  if (!('Notification' in window)) {
    ui.notifyButton.hidden = true;
    return;
  }
  const permission = Notification.permission;
  ui.notifyButton.hidden = permission === 'granted';
  ui.notifyButton.textContent = permission === 'denied' ? 'Notifications blocked' : 'Enable notifications';
  ui.notifyButton.disabled = permission === 'denied';
}

// "(N) Inbox": unread visitor messages across the listed conversations.
export function updateTitle() {
  let unread = 0;
  for (const conversation of state.conversations.values()) unread += conversation.unread_count || 0;
  const base = { queue: 'Queue', reports: 'Reports', admin: 'Admin' }[state.view] || 'Inbox';
  document.title = unread > 0 ? `(${unread}) ${base} · Live chat` : `${base} · Live chat`;
}

function ensureAudio() {
  if (audio) return audio;
  const Context = window.AudioContext || window.webkitAudioContext;
  if (!Context) return null;
  try { audio = new Context(); } catch { audio = null; }
  return audio;
}

// Two short soft tones.
export function beep() {
  if (!soundOn) return;
  const context = ensureAudio();
  if (!context) return;
  if (context.state === 'suspended') context.resume().catch(() => {});
  const start = context.currentTime + 0.01;
  for (const [offset, frequency] of [[0, 880], [0.12, 1320]]) {
    const oscillator = context.createOscillator();
    const gain = context.createGain();
    oscillator.type = 'sine';
    oscillator.frequency.value = frequency;
    gain.gain.setValueAtTime(0.0001, start + offset);
    gain.gain.exponentialRampToValueAtTime(0.12, start + offset + 0.02);
    gain.gain.exponentialRampToValueAtTime(0.0001, start + offset + 0.11);
    oscillator.connect(gain).connect(context.destination);
    oscillator.start(start + offset);
    oscillator.stop(start + offset + 0.12);
  }
  document.body.dataset.beeps = String((Number(document.body.dataset.beeps) || 0) + 1);
}

function showNotification(title, body, conversationId) {
  if (!('Notification' in window) || Notification.permission !== 'granted') return;
  try {
    const notification = new Notification(title, { body: body.slice(0, 200), tag: `livechat-${conversationId}` });
    notification.onclick = () => {
      window.focus();
      emit('conversation:open:inbox', { id: conversationId });
      notification.close();
    };
  } catch { /* some platforms only allow notifications from a service worker */ }
}

// A new visitor message arrived live.
export function notifyMessage(message) {
  if (!message || message.author !== 'visitor' || !state.me) return;
  const summary = state.conversations.get(message.conversation_id) || state.known.get(message.conversation_id);
  const assignee = summary ? summary.assignee : null;
  if (assignee && assignee.id !== state.me.id) return; // someone else's conversation
  const looking = state.view === 'inbox' && state.selectedId === message.conversation_id
    && document.visibilityState === 'visible' && document.hasFocus();
  if (looking) return;
  announce(`New message from ${summary ? contactName(summary) : 'a visitor'}`);
  beep();
  if (document.visibilityState !== 'visible' || !document.hasFocus()) {
    showNotification(`New message from ${summary ? contactName(summary) : 'a visitor'}`, message.body || '', message.conversation_id);
  }
}

// Someone else handed me a conversation (a supervisor's assignment or a transfer): tell me,
// with the reason a transfer carries, so I know why it came before I open it.
export function handedToMe(event) {
  if (!event || !event.data || !state.me) return;
  const data = event.data;
  const to = event.kind === 'conversation.transferred' ? data.to_operator : data.to;
  const by = data.by;
  if (!to || to.id !== state.me.id || (by && by.id === state.me.id)) return;
  const from = who(by, 'Someone');
  // `by: null` on an assignment is the router: say so, rather than blame "someone".
  const title = event.kind === 'conversation.transferred'
    ? `${from} transferred a conversation to you`
    : by ? `${from} assigned you a conversation` : 'A new conversation was routed to you';
  const why = data.reason ? `: ${data.reason}` : '';
  toast(`${title}${why}`);
  announce(title);
  beep();
  if (document.visibilityState !== 'visible' || !document.hasFocus()) {
    showNotification(title, data.reason || '', event.conversation_id);
  }
}

// ---------------------------------------------------------------------------------------------
// Mentions

export async function loadMentions() {
  const generation = state.generation;
  mentions.seq += 1;
  const seq = mentions.seq;
  try {
    const result = await api('/mentions');
    if (generation !== state.generation || seq !== mentions.seq) return;
    mentions.items = result.mentions || [];
    mentions.unread = Number(result.unread_count) || mentions.items.filter((m) => !m.read).length;
    renderMentions();
  } catch (error) {
    handleAuthError(error);
  }
}

function mentionsMe(note) {
  if (!note || !state.me) return false;
  if (note.author && note.author.id === state.me.id) return false;
  if ((note.mentions || []).some((m) => (m.id ?? m) === state.me.id)) return true;
  const handle = `@${localPart(state.me.email)}`.toLowerCase();
  return new RegExp(`(^|[^\\w])${handle.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}(?![\\w-])`, 'i').test(note.body || '');
}

// A note.created event: when it mentions me, tell me.
export function noteCreated(note) {
  if (!mentionsMe(note)) return;
  const author = who(note.author, 'Someone');
  toast(`${author} mentioned you in a note`);
  beep();
  if (document.visibilityState !== 'visible' || !document.hasFocus()) {
    showNotification(`${author} mentioned you`, note.body || '', note.conversation_id);
  }
  loadMentions();
}

function renderMentions() {
  ui.mentionsCount.hidden = mentions.unread <= 0;
  ui.mentionsCount.textContent = mentions.unread > 99 ? '99+' : String(mentions.unread);
  ui.mentionsButton.setAttribute('aria-label', mentions.unread > 0 ? `Mentions, ${mentions.unread} unread` : 'Mentions');
  ui.mentionsButton.classList.toggle('has-unread', mentions.unread > 0);
  ui.mentionsList.replaceChildren(...mentions.items.map((mention) => {
    const note = mention.note || {};
    const li = el('li', mention.read ? 'mention' : 'mention is-unread');
    const head = el('p', 'mention-head');
    head.append(el('span', 'mention-author', `${who(note.author, 'Someone')} mentioned you`));
    if (note.created_at) head.append(timeElement(note.created_at, true));
    const body = el('p', 'mention-body', note.body || '');
    const open = el('button', 'link small', `Open conversation #${mention.conversation_id}`);
    open.type = 'button';
    open.addEventListener('click', () => {
      toggleMentions(false);
      emit('conversation:open:inbox', { id: mention.conversation_id });
    });
    li.append(head, body, open);
    return li;
  }));
  ui.mentionsEmpty.hidden = mentions.items.length > 0;
}

async function toggleMentions(open = ui.mentionsPanel.hidden) {
  ui.mentionsPanel.hidden = !open;
  ui.mentionsButton.setAttribute('aria-expanded', String(open));
  if (!open) return;
  await loadMentions();
  const first = ui.mentionsList.querySelector('button');
  if (first && !ui.mentionsPanel.hidden) first.focus();
  // Seen: mark the newest (and so every older) mention read.
  const newest = mentions.items.find((m) => !m.read);
  if (newest && newest.note) {
    try {
      await api('/mentions/read', { method: 'POST', body: { note_id: mentions.items[0].note.id } });
      mentions.unread = 0;
      ui.mentionsCount.hidden = true;
      ui.mentionsButton.setAttribute('aria-label', 'Mentions');
      ui.mentionsButton.classList.remove('has-unread');
    } catch (error) {
      handleAuthError(error);
    }
  }
}

export function closeMentions() {
  if (ui.mentionsPanel.hidden) return false;
  toggleMentions(false);
  return true;
}
