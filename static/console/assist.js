// Agent assist: the Suggestions panel above the composer. For the open conversation it lists
// replies ranked from canned responses and help articles for the customer's latest message
// (GET /api/inbox/conversations/:id/suggestions), each with where it came from and the words it
// matched, and offers the assistant's draft. With a language model configured ("model_drafts"),
// "Write with AI" asks for the model's draft (POST .../draft), grounded in those suggestions; if
// the model fails, the assistant's own draft is used and the panel says why. One click puts a
// suggestion or a draft into the reply box; nothing is ever sent from here: the operator edits
// and sends.
//
// Fetched when a conversation is opened and again when its customer writes (debounced); an
// answer for another conversation, or older than the latest request, is dropped. Whether the
// panel is folded is remembered per browser.

import { api, button, debounce, el, handleAuthError, on, state, store } from './core.js';
import { fillComposer } from './compose.js';
import { draftLabel, modelDraftNote, sourceLabel } from './handoff.js';

const REFRESH_DEBOUNCE_MS = 400;
const PREVIEW_CHARS = 280;

const $ = (id) => document.getElementById(id);
const ui = {};
const panel = {
  conversationId: null,
  seq: 0,
  result: null,
  allowed: true,
  writing: false,
};

export function initAssist() {
  Object.assign(ui, {
    root: $('assist'),
    question: $('assist-question'),
    draft: $('assist-draft'),
    modelDraft: $('assist-model-draft'),
    draftNote: $('assist-draft-note'),
    toggle: $('assist-toggle'),
    body: $('assist-body'),
    list: $('assist-list'),
    empty: $('assist-empty'),
    status: $('assist-status'),
  });
  ui.toggle.addEventListener('click', () => setFolded(ui.toggle.getAttribute('aria-expanded') === 'true'));
  setFolded(store.get('assist:folded') === '1', { remember: false });
  ui.draft.addEventListener('click', useDraft);
  ui.modelDraft.addEventListener('click', writeWithModel);

  on('thread:changed', ({ id }) => {
    panel.conversationId = id;
    panel.result = null;
    ui.root.hidden = true;
    ui.list.replaceChildren();
    load(id);
  });
  // A new customer message changes the question: ask again once the burst has settled.
  on('thread:customer-wrote', ({ id }) => {
    if (id === panel.conversationId) refreshSoon();
  });
  on('thread:permissions', ({ allowed }) => {
    panel.allowed = allowed;
    render();
  });
}

export function resetAssist() {
  panel.seq += 1;
  panel.conversationId = null;
  panel.result = null;
  refreshSoon.cancel();
  ui.root.hidden = true;
  ui.list.replaceChildren();
}

const refreshSoon = debounce(() => {
  if (panel.conversationId !== null) load(panel.conversationId);
}, REFRESH_DEBOUNCE_MS);

async function load(id) {
  panel.seq += 1;
  const seq = panel.seq;
  const generation = state.generation;
  ui.root.setAttribute('aria-busy', 'true');
  try {
    const result = await api(`/conversations/${id}/suggestions`);
    if (seq !== panel.seq || generation !== state.generation || id !== panel.conversationId) return;
    panel.result = result || {};
    render();
    const count = (panel.result.suggestions || []).length;
    ui.status.textContent = count ? `${count} suggested ${count === 1 ? 'reply' : 'replies'} for the latest message.` : '';
  } catch (error) {
    if (seq !== panel.seq || handleAuthError(error)) return;
    // Suggestions are a help, never in the way: a failure says so quietly in the panel.
    panel.result = { error: error.message || 'Suggestions are not available right now.' };
    render();
  } finally {
    if (seq === panel.seq) ui.root.removeAttribute('aria-busy');
  }
}

function setFolded(folded, { remember = true } = {}) {
  ui.toggle.setAttribute('aria-expanded', String(!folded));
  ui.toggle.textContent = folded ? 'Show' : 'Hide';
  ui.toggle.setAttribute('aria-label', folded ? 'Show suggestions' : 'Hide suggestions');
  ui.body.hidden = folded;
  ui.root.classList.toggle('is-folded', folded);
  if (remember) store.set('assist:folded', folded ? '1' : '0');
}

function render() {
  const result = panel.result;
  if (!result) return;
  ui.root.hidden = false;
  const question = typeof result.question === 'string' ? result.question.trim() : '';
  ui.question.textContent = question ? `For “${question.replace(/\s+/g, ' ').slice(0, 120)}${question.length > 120 ? '…' : ''}”` : '';
  ui.question.hidden = !question;

  const draft = result.draft && typeof result.draft.text === 'string' && result.draft.text.trim() ? result.draft : null;
  ui.draft.hidden = !draft;
  ui.draft.disabled = !panel.allowed;
  ui.draftNote.textContent = draft ? `${draftLabel(draft)}. “Use draft” puts it in the reply box for you to edit; nothing is sent until you send it.` : '';
  ui.draftNote.hidden = !draft;
  ui.modelDraft.hidden = !(result.model_drafts && draft);
  ui.modelDraft.disabled = !panel.allowed || panel.writing;

  const suggestions = Array.isArray(result.suggestions) ? result.suggestions : [];
  ui.list.replaceChildren(...suggestions.map(suggestionItem));
  let empty = '';
  if (result.error) empty = `Suggestions are not available: ${result.error}`;
  else if (!suggestions.length) empty = question ? 'No canned response or help article matches the latest message.' : 'No customer message to suggest a reply for yet.';
  ui.empty.textContent = empty;
  ui.empty.hidden = !empty;
}

function suggestionItem(suggestion) {
  const item = el('li', 'assist-item');
  item.dataset.source = String(suggestion.source || '');
  const head = el('div', 'assist-item-head');
  const source = el('span', 'assist-source', sourceLabel(suggestion.source));
  source.dataset.source = String(suggestion.source || '');
  const title = el('span', 'assist-title', String(suggestion.title || ''));
  head.append(source, title);
  const text = String(suggestion.text || '');
  const preview = el('p', 'assist-text', text.length > PREVIEW_CHARS ? `${text.slice(0, PREVIEW_CHARS)}…` : text);
  preview.title = text;
  item.append(head, preview);
  const matched = (Array.isArray(suggestion.matched) ? suggestion.matched : []).filter((word) => typeof word === 'string' && word);
  if (matched.length) {
    const line = el('p', 'assist-matched');
    line.append(el('span', 'assist-matched-label', 'Matched:'));
    for (const word of matched) line.append(' ', el('span', 'assist-word', word));
    item.append(line);
  }
  const insert = button('Insert', 'ghost small assist-insert', () => {
    if (fillComposer(text)) ui.status.textContent = `Inserted “${suggestion.title || sourceLabel(suggestion.source)}” into the reply. Edit it, then press Enter to send.`;
  });
  insert.setAttribute('aria-label', `Insert ${sourceLabel(suggestion.source).toLowerCase()} “${suggestion.title || ''}” into the reply`);
  insert.disabled = !panel.allowed || !text.trim();
  item.append(insert);
  return item;
}

function useDraft() {
  const draft = panel.result && panel.result.draft;
  if (!draft || typeof draft.text !== 'string') return;
  if (fillComposer(draft.text, { replace: true })) {
    ui.status.textContent = 'The draft is in the reply box. Edit it, then press Enter to send.';
  }
}

// Asks the language model for a draft of the reply and puts it in the reply box (never sent).
async function writeWithModel() {
  const id = panel.conversationId;
  if (id === null || panel.writing) return;
  panel.writing = true;
  ui.modelDraft.disabled = true;
  ui.modelDraft.setAttribute('aria-busy', 'true');
  ui.status.textContent = 'Writing a draft with AI…';
  try {
    const answer = await api(`/conversations/${id}/draft`, { method: 'POST', body: {} });
    if (id !== panel.conversationId) return;
    const draft = answer && answer.draft;
    if (!draft || typeof draft.text !== 'string' || !fillComposer(draft.text, { replace: true })) return;
    ui.status.textContent = modelDraftNote(answer);
  } catch (error) {
    if (handleAuthError(error)) return;
    ui.status.textContent = `No draft: ${error.message || 'the request failed'}.`;
  } finally {
    panel.writing = false;
    ui.modelDraft.removeAttribute('aria-busy');
    ui.modelDraft.disabled = !panel.allowed;
  }
}
