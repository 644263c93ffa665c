// The operator's own availability: the header control (available / away / offline, POST
// /presence), a heartbeat every 30 s while the console is open (so "online" stays true), and
// their load against capacity.

import { api, debounce, handleAuthError, on, state, toast } from './core.js';

const HEARTBEAT_MS = 30_000;

const $ = (id) => document.getElementById(id);
const ui = {};
let heartbeat = null;

export function initPresence() {
  ui.select = $('presence-select');
  ui.dot = $('presence-dot');
  ui.load = $('my-load');
  ui.select.addEventListener('change', async () => {
    const presence = ui.select.value;
    const previous = state.me ? state.me.presence : 'available';
    render(presence);
    try {
      const result = await api('/presence', { method: 'POST', body: { presence } });
      if (result && result.operator) state.me = { ...state.me, ...result.operator };
      render(state.me.presence || presence);
      toast(`You are now ${ui.select.selectedOptions[0].textContent.toLowerCase()}`);
    } catch (error) {
      if (handleAuthError(error)) return;
      render(previous);
      toast(`Could not change your availability: ${error.message}`, 'error');
    }
  });
  on('conversations:changed', () => refreshLoadSoon());
}

export function startPresence() {
  stopPresence();
  render(state.me.presence || 'offline');
  const generation = state.generation;
  heartbeat = setInterval(() => {
    if (generation !== state.generation) return;
    api('/heartbeat', { method: 'POST', body: {} }).catch(handleAuthError);
    refreshLoad();
  }, HEARTBEAT_MS);
  // The first heartbeat now, so the operator counts as online at once.
  api('/heartbeat', { method: 'POST', body: {} }).catch(handleAuthError);
  refreshLoad();
}

export function stopPresence() {
  clearInterval(heartbeat);
  heartbeat = null;
  refreshLoadSoon.cancel();
  if (ui.load) ui.load.textContent = '';
}

function render(presence) {
  ui.select.value = presence;
  ui.dot.className = `presence-dot is-${presence}`;
}

// Load (open conversations assigned to me) against capacity, from GET /me.
async function refreshLoad() {
  if (!state.me) return;
  const generation = state.generation;
  try {
    const result = await api('/me');
    if (generation !== state.generation || !result || !result.operator) return;
    state.me = { ...state.me, ...result.operator };
    if (document.activeElement !== ui.select) render(state.me.presence || 'offline');
    renderLoad();
  } catch (error) {
    handleAuthError(error);
  }
}

function renderLoad() {
  const { load, capacity } = state.me;
  if (load === undefined || load === null) {
    ui.load.textContent = '';
    return;
  }
  ui.load.textContent = capacity ? `${load}/${capacity} chats` : `${load} chats`;
  ui.load.classList.toggle('is-full', Boolean(capacity) && load >= capacity);
  ui.load.title = capacity ? `You have ${load} open conversations; your capacity is ${capacity}.` : `You have ${load} open conversations.`;
}

const refreshLoadSoon = debounce(refreshLoad, 1500);
