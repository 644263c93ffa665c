// The contact side panel of the open conversation: details (name, email, phone and custom
// attributes) editable in place, every conversation of the contact on any channel (each opens
// in the inbox), the latest notes, and merging another contact into this one (supervisor+).

import {
  api, button, contactName, debounce, el, emit, field, handleAuthError, hasRole, input, on, query,
  state, statusLabel, store, tagById, tagChip, toast, who,
} from './core.js';
import { channelName } from './channels.js';
import { errorLine, openDialog } from './dialog.js';
import { applySummary } from './thread.js';
import { fullFormat, timeElement } from '/shared/messages.js';

const $ = (id) => document.getElementById(id);
const ui = {};

const panel = {
  contactId: null,
  data: null, // GET /contacts/:id answer
  dirty: false,
  savedAt: 0, // "Saved" stays visible for a while, across re-renders from live updates
  seq: 0,
};

export function initContact() {
  ui.pane = $('contact-pane');
  ui.toggle = $('contact-toggle');
  ui.panes = $('inbox-pane');
  ui.toggle.addEventListener('click', () => setOpen(ui.toggle.getAttribute('aria-expanded') !== 'true'));

  on('thread:changed', () => {
    panel.contactId = null;
    panel.data = null;
    panel.dirty = false;
    panel.savedAt = 0;
    ui.pane.replaceChildren(el('p', 'muted pane-loading', 'Loading contact…'));
    setOpen(preferredOpen(), { remember: false });
  });
  on('thread:loaded', ({ summary }) => {
    const id = summary && summary.contact ? summary.contact.id : null;
    if (id !== null && (id !== panel.contactId || !panel.data)) loadContact(id);
  });
  on('contact:changed', () => {
    if (panel.contactId !== null && !panel.dirty) reloadSoon();
  });
}

export function resetContact() {
  panel.contactId = null;
  panel.data = null;
  panel.dirty = false;
  panel.seq += 1;
  ui.pane.replaceChildren();
  ui.pane.hidden = true;
  ui.panes.classList.remove('with-contact');
}

function preferredOpen() {
  const saved = store.get('contact-pane');
  if (saved === 'open') return true;
  if (saved === 'closed') return false;
  return window.matchMedia('(min-width: 1100px)').matches;
}

function setOpen(open, { remember = true } = {}) {
  ui.pane.hidden = !open;
  ui.toggle.setAttribute('aria-expanded', String(open));
  ui.panes.classList.toggle('with-contact', open);
  if (remember) store.set('contact-pane', open ? 'open' : 'closed');
}

const reloadSoon = debounce(() => {
  if (panel.contactId !== null) loadContact(panel.contactId);
}, 400);

async function loadContact(id) {
  const generation = state.generation;
  panel.seq += 1;
  const seq = panel.seq;
  try {
    const result = await api(`/contacts/${id}`);
    if (generation !== state.generation || seq !== panel.seq) return;
    panel.contactId = id;
    panel.data = result;
    panel.dirty = false;
    render();
  } catch (error) {
    if (handleAuthError(error) || seq !== panel.seq) return;
    ui.pane.replaceChildren(el('p', 'form-error', `Could not load the contact: ${error.message}`));
  }
}

function render() {
  const { contact, conversations = [], notes = [] } = panel.data;
  const heading = el('h2', 'pane-title', contactName(contact));
  heading.id = 'contact-heading';
  const hide = button('×', 'icon-button pane-close', () => {
    setOpen(false);
    ui.toggle.focus();
  });
  hide.setAttribute('aria-label', 'Hide contact panel');
  const since = contact.created_at ? el('p', 'muted small', `Contact since ${fullFormat.format(new Date(contact.created_at))}`) : null;

  ui.pane.replaceChildren(hide, heading, ...(since ? [since] : []), detailsForm(contact), historySection(conversations), notesSection(notes));
  if (hasRole('supervisor')) {
    const merge = button('Merge with another contact…', 'ghost wide', () => openMergeDialog(contact));
    ui.pane.append(merge);
  }
}

// ---------------------------------------------------------------------------------------------
// Details

function detailsForm(contact) {
  const form = el('form', 'contact-form stack');
  form.noValidate = true;
  const section = el('h3', 'pane-section', 'Details');
  const name = input('text', contact.name || '');
  name.maxLength = 100;
  name.autocomplete = 'off';
  const email = input('email', contact.email || '');
  email.maxLength = 254;
  email.autocomplete = 'off';
  const phone = input('tel', contact.phone || '');
  phone.maxLength = 20;
  phone.autocomplete = 'off';
  phone.placeholder = '+4915112345678';

  const attributes = el('fieldset', 'attributes');
  attributes.append(el('legend', null, 'Attributes'));
  const rows = el('div', 'attribute-rows');
  const addRow = (key = '', value = '') => {
    const row = el('div', 'attribute-row');
    const keyInput = input('text', key);
    keyInput.className = 'attribute-key';
    keyInput.setAttribute('aria-label', 'Attribute name');
    keyInput.placeholder = 'name';
    keyInput.maxLength = 64;
    const valueInput = input('text', value);
    valueInput.className = 'attribute-value';
    valueInput.setAttribute('aria-label', key ? `Value of ${key}` : 'Attribute value');
    valueInput.placeholder = 'value';
    valueInput.maxLength = 500;
    keyInput.addEventListener('input', () => {
      valueInput.setAttribute('aria-label', keyInput.value ? `Value of ${keyInput.value}` : 'Attribute value');
    });
    const remove = button('×', 'icon-button', () => {
      row.remove();
      markDirty();
      addButton.focus();
    });
    remove.setAttribute('aria-label', key ? `Remove attribute ${key}` : 'Remove attribute');
    row.append(keyInput, valueInput, remove);
    rows.append(row);
    return keyInput;
  };
  // Values may be text, numbers, booleans or null; a value left as it was keeps its type.
  const original = new Map();
  for (const [key, value] of Object.entries(contact.attributes || {})) {
    const text = typeof value === 'string' ? value : value === null ? '' : JSON.stringify(value);
    original.set(key, { text, value });
    addRow(key, text);
  }
  const addButton = button('Add attribute', 'ghost small', () => {
    addRow().focus();
    markDirty();
  });
  attributes.append(rows, addButton);

  const error = errorLine();
  const save = el('button', 'primary', 'Save contact');
  save.type = 'submit';
  save.disabled = true;
  const saved = el('span', 'muted small save-state', Date.now() - panel.savedAt < 8000 ? 'Saved' : '');
  saved.setAttribute('role', 'status');
  const actions = el('div', 'form-actions');
  actions.append(save, saved);

  const markDirty = () => {
    panel.dirty = true;
    save.disabled = false;
    saved.textContent = '';
  };
  form.addEventListener('input', markDirty);

  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    error.clear();
    const attributeValues = {};
    for (const row of rows.querySelectorAll('.attribute-row')) {
      const key = row.querySelector('.attribute-key').value.trim();
      const value = row.querySelector('.attribute-value').value;
      if (!key) continue;
      if (!/^[A-Za-z0-9_.-]{1,64}$/.test(key)) {
        error.show(`Attribute names use letters, digits, “_”, “.” and “-” only (“${key}”).`);
        row.querySelector('.attribute-key').focus();
        return;
      }
      if (Object.hasOwn(attributeValues, key)) {
        error.show(`The attribute “${key}” appears twice.`);
        return;
      }
      const before = original.get(key);
      attributeValues[key] = before && before.text === value ? before.value : value;
    }
    const emailValue = email.value.trim();
    if (emailValue && !/^[^\s@]+@[^\s@]+$/.test(emailValue)) {
      error.show('Enter a valid email address, or leave it empty.');
      email.focus();
      return;
    }
    save.disabled = true;
    save.textContent = 'Saving…';
    try {
      const result = await api(`/contacts/${contact.id}`, {
        method: 'PATCH',
        body: {
          name: name.value.trim() || null,
          email: emailValue || null,
          phone: phone.value.trim() || null,
          attributes: attributeValues,
        },
      });
      panel.data = { ...panel.data, contact: result.contact };
      panel.dirty = false;
      panel.savedAt = Date.now();
      render();
      ui.pane.querySelector('.contact-form button[type=submit]').focus();
      contactSaved(result.contact);
    } catch (failure) {
      if (handleAuthError(failure)) return;
      save.disabled = false;
      error.show(failure.message);
    } finally {
      save.textContent = 'Save contact';
    }
  });

  form.append(section, field('Name', name), field('Email', email), field('Phone', phone, 'International format: + and country code.'), attributes, error.node, actions);
  return form;
}

// The thread header and the list show the new name at once.
function contactSaved(contact) {
  const thread = state.thread;
  if (thread && thread.summary && thread.summary.contact && thread.summary.contact.id === contact.id) {
    applySummary({
      ...thread.summary,
      contact: { ...thread.summary.contact, name: contact.name, email: contact.email, phone: contact.phone },
    });
  }
  toast('Contact saved');
}

// ---------------------------------------------------------------------------------------------
// History and notes

function historySection(conversations) {
  const section = el('section', 'pane-block');
  const heading = el('h3', 'pane-section', `Conversations (${conversations.length})`);
  heading.id = 'contact-history-heading';
  section.setAttribute('aria-labelledby', heading.id);
  const list = el('ul', 'history-list');
  for (const conversation of conversations) {
    const li = el('li');
    const item = el('button', 'history-item');
    item.type = 'button';
    if (conversation.id === state.selectedId) item.setAttribute('aria-current', 'true');
    const top = el('span', 'history-top');
    top.append(el('span', 'history-title', `#${conversation.id} · ${channelName(conversation.channel)}`));
    top.append(el('span', `pill pill--${conversation.status}`, statusLabel(conversation.status)));
    item.append(top);
    const message = conversation.last_message;
    item.append(el('span', 'history-preview', message ? String(message.body || '').replace(/\s+/g, ' ').slice(0, 120) : 'No messages'));
    const meta = el('span', 'history-meta');
    const when = conversation.updated_at || conversation.created_at;
    if (when) meta.append(timeElement(when, true));
    if (conversation.assignee) meta.append(el('span', null, who(conversation.assignee)));
    for (const tag of conversation.tags || []) meta.append(tagChip(tagById(tag.id) || tag));
    item.append(meta);
    item.addEventListener('click', () => emit('conversation:open', { id: conversation.id }));
    li.append(item);
    list.append(li);
  }
  section.append(heading, list);
  if (!conversations.length) section.append(el('p', 'muted small', 'No conversations.'));
  return section;
}

function notesSection(notes) {
  const section = el('section', 'pane-block');
  const heading = el('h3', 'pane-section', 'Recent notes');
  heading.id = 'contact-notes-heading';
  section.setAttribute('aria-labelledby', heading.id);
  section.append(heading);
  if (!notes.length) {
    section.append(el('p', 'muted small', 'No notes yet.'));
    return section;
  }
  const list = el('ul', 'pane-notes');
  for (const note of notes.slice(0, 10)) {
    const li = el('li', 'pane-note');
    const head = el('p', 'pane-note-head');
    head.append(el('span', null, who(note.author)));
    if (note.created_at) head.append(timeElement(note.created_at, true));
    li.append(head, el('p', 'pane-note-body', note.body));
    if (note.conversation_id !== state.selectedId) {
      li.append(button(`In conversation #${note.conversation_id}`, 'link small', () => emit('conversation:open', { id: note.conversation_id })));
    }
    list.append(li);
  }
  section.append(list);
  return section;
}

// ---------------------------------------------------------------------------------------------
// Merge

function contactLine(contact) {
  return [contact.name || 'No name', contact.email, contact.phone].filter(Boolean).join(' · ');
}

function openMergeDialog(target) {
  openDialog({
    title: 'Merge contacts',
    description: `Find the other record of ${contactName(target)}. Its conversations, messages and chat sessions move here, and its details fill any gaps.`,
    build(body, close) {
      const form = el('form', 'stack');
      form.noValidate = true;
      const search = input('search');
      search.autocomplete = 'off';
      search.maxLength = 100;
      const results = el('fieldset', 'radio-list merge-results');
      results.append(el('legend', null, 'Matching contacts'));
      const hint = el('p', 'muted small', 'Type at least 2 characters of a name, email or phone.');
      hint.setAttribute('role', 'status');
      const error = errorLine();
      const next = el('button', 'primary', 'Merge…');
      next.type = 'submit';
      next.disabled = true;
      const actions = el('div', 'dialog-actions');
      actions.append(button('Cancel', 'ghost', close), next);
      form.append(field('Find contact', search), hint, results, error.node, actions);
      body.append(form);
      results.hidden = true;

      let seq = 0;
      let found = [];
      const runSearch = debounce(async () => {
        const q = search.value.trim();
        next.disabled = true;
        if (q.length < 2) {
          results.hidden = true;
          hint.textContent = 'Type at least 2 characters of a name, email or phone.';
          return;
        }
        seq += 1;
        const mine = seq;
        try {
          const result = await api(`/contacts${query({ q })}`);
          if (mine !== seq) return;
          found = (result.contacts || []).filter((contact) => contact.id !== target.id);
          results.replaceChildren(el('legend', null, 'Matching contacts'));
          for (const contact of found) {
            const label = el('label', 'radio');
            const radio = document.createElement('input');
            radio.type = 'radio';
            radio.name = 'merge-from';
            radio.value = String(contact.id);
            radio.addEventListener('change', () => { next.disabled = false; });
            label.append(radio, el('span', null, contactLine(contact)));
            results.append(label);
          }
          results.hidden = found.length === 0;
          hint.textContent = found.length ? `${found.length} found. Choose the one to merge into this contact.` : `No other contact matches “${q}”.`;
        } catch (failure) {
          if (!handleAuthError(failure)) error.show(failure.message);
        }
      }, 250);
      search.addEventListener('input', runSearch);

      form.addEventListener('submit', (event) => {
        event.preventDefault();
        const chosen = form.querySelector('input[name=merge-from]:checked');
        const source = chosen && found.find((contact) => String(contact.id) === chosen.value);
        if (!source) {
          error.show('Choose the contact to merge.');
          return;
        }
        confirmStep(body, close, target, source);
      });
    },
  });
}

// Second step in the same dialog: say exactly what happens, then do it.
function confirmStep(body, close, target, source) {
  const text = el('p', null, `Merge “${contactLine(source)}” into “${contactLine(target)}”? All of its conversations move to this contact. This cannot be undone.`);
  const error = errorLine();
  const actions = el('div', 'dialog-actions');
  const back = button('Back', 'ghost', () => {
    close();
    openMergeDialog(target);
  });
  const confirm = button('Merge contacts', 'primary');
  actions.append(back, confirm);
  body.replaceChildren(text, error.node, actions);
  confirm.focus();
  confirm.addEventListener('click', async () => {
    confirm.disabled = true;
    error.clear();
    try {
      await api(`/contacts/${target.id}/merge`, { method: 'POST', body: { from_contact_id: source.id } });
      close();
      toast('Contacts merged');
      await loadContact(target.id);
      emit('contacts:merged', { into: target.id });
    } catch (failure) {
      confirm.disabled = false;
      if (!handleAuthError(failure)) error.show(failure.message);
    }
  });
}
