// Admin screens for privacy and the operator's record: "Audit log" (GET /api/admin/audit:
// filters by action, actor and dates, older pages by keyset, CSV with the same filters),
// "Customer data" (find a customer, download everything about them as JSON, erase them after a
// confirmation) and "Retention" (how long resolved conversations and files are kept, and a
// purge batch now). Everything from the network is shown with textContent (el()).

import { adminApi, button, el, field, handleAuthError, input, select, toast } from './core.js';
import { sectionHeading, table } from './admin.js';
import { confirmDialog, errorLine } from './dialog.js';
import { fullFormat } from '/shared/messages.js';

// The audit log's actions (shared::audit::Action), with words for the filter.
export const AUDIT_ACTIONS = [
  ['login', 'Signed in'],
  ['login.failed', 'Failed sign-in'],
  ['logout', 'Signed out'],
  ['setup', 'First setup'],
  ['invite.accepted', 'Invitation accepted'],
  ['operator.invited', 'Operator invited'],
  ['operator.reinvited', 'Operator re-invited'],
  ['operator.updated', 'Operator changed'],
  ['operator.role_changed', 'Role changed'],
  ['operator.removed', 'Operator deactivated'],
  ['settings.changed', 'Settings changed'],
  ['contact.exported', 'Customer exported'],
  ['contact.erased', 'Customer erased'],
  ['retention.purged', 'Retention purge'],
];

// The query string for the audit filters (only the ones set), e.g. "action=login&from=2026-01-01".
export function auditQuery(filters, extra = {}) {
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries({ ...filters, ...extra })) {
    if (value !== undefined && value !== null && String(value).trim() !== '') params.set(key, String(value).trim());
  }
  return params.toString();
}

// A short, readable line for an audit detail object: "area: widget, change: updated, fields: a, b".
export function describeDetail(detail) {
  if (!detail || typeof detail !== 'object') return '';
  return Object.entries(detail)
    .map(([key, value]) => `${key.replaceAll('_', ' ')}: ${Array.isArray(value) ? value.join(', ') : typeof value === 'object' && value !== null ? JSON.stringify(value) : String(value)}`)
    .join('; ');
}

function when(ms) {
  return fullFormat.format(new Date(ms));
}

// ---------------------------------------------------------------------------------------------
// Audit log

export async function renderAudit(stillCurrent) {
  const filters = { action: '', actor: '', from: '', to: '' };
  const first = await adminApi('/audit?limit=50');
  if (!stillCurrent()) return [];

  const section = el('section', 'page-section');
  section.setAttribute('aria-labelledby', 'audit-heading');
  const form = el('form', 'filter-row');
  form.setAttribute('aria-label', 'Filter the audit log');
  form.noValidate = true;
  const action = select([['', 'Any action'], ...AUDIT_ACTIONS], '');
  const actor = input('text');
  actor.placeholder = 'email or operator id';
  actor.maxLength = 254;
  const from = input('date');
  const to = input('date');
  const apply = el('button', 'primary', 'Apply');
  apply.type = 'submit';
  const csv = el('a', 'report-csv', 'Download CSV');
  csv.setAttribute('download', '');
  csv.setAttribute('aria-label', 'Download CSV of the audit log with these filters');
  form.append(field('Action', action), field('Who', actor), field('From', from), field('To', to), apply, csv);

  const error = errorLine();
  const { node: grid, body } = table(['When', 'Who', 'Action', 'Target', 'Detail', 'Address']);
  grid.id = 'audit-table';
  grid.setAttribute('aria-label', 'Audit log, newest first');
  const status = el('p', 'muted small');
  status.setAttribute('role', 'status');
  const older = button('Older entries', 'ghost');
  let nextBefore = null;

  const labelOf = (value) => AUDIT_ACTIONS.find(([key]) => key === value)?.[1] || value;
  const addRows = (entries) => {
    for (const line of entries) {
      const tr = el('tr');
      tr.dataset.action = line.action;
      const whenCell = el('td', null, when(line.at));
      const who = el('td', null, line.actor_email || (line.action === 'retention.purged' ? 'System' : '—'));
      const act = el('td', null, labelOf(line.action));
      act.title = line.action;
      tr.append(whenCell, who, act, el('td', null, line.target || ''), el('td', 'audit-detail', describeDetail(line.detail)), el('td', null, line.client_addr || ''));
      body.append(tr);
    }
  };
  const show = (page, append) => {
    if (!append) body.replaceChildren();
    addRows(page.entries || []);
    nextBefore = page.next_before ?? null;
    older.hidden = nextBefore === null;
    const count = body.children.length;
    status.textContent = count === 0 ? 'No entries match.' : `${count} ${count === 1 ? 'entry' : 'entries'} shown.`;
  };
  const updateCsv = () => {
    csv.href = `/api/admin/audit?${auditQuery(filters, { format: 'csv' })}`;
  };
  const load = async (append) => {
    error.clear();
    try {
      const extra = append && nextBefore !== null ? { before: nextBefore, limit: 50 } : { limit: 50 };
      const page = await adminApi(`/audit?${auditQuery(filters, extra)}`);
      show(page, append);
    } catch (failure) {
      if (!handleAuthError(failure)) error.show(failure.message);
    }
  };
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    Object.assign(filters, { action: action.value, actor: actor.value, from: from.value, to: to.value });
    updateCsv();
    load(false);
  });
  older.addEventListener('click', () => load(true));

  section.append(
    sectionHeading('Audit log', 'audit-heading'),
    el('p', 'muted', 'Sign-ins, operator changes, settings changes, exports, erasures and retention purges. Entries name the fields that changed, never their values.'),
    form, error.node, status, grid, older,
  );
  updateCsv();
  show(first, false);
  return [section];
}

// ---------------------------------------------------------------------------------------------
// Customer data: find, export, erase

export async function renderCustomers(stillCurrent) {
  if (!stillCurrent()) return [];
  const section = el('section', 'page-section');
  section.setAttribute('aria-labelledby', 'customers-heading');
  const form = el('form', 'filter-row');
  form.setAttribute('role', 'search');
  form.noValidate = true;
  const q = input('search');
  q.maxLength = 100;
  const find = el('button', 'primary', 'Find');
  find.type = 'submit';
  form.append(field('Name, email or phone', q), find);
  const error = errorLine();
  const status = el('p', 'muted small');
  status.setAttribute('role', 'status');
  const { node: grid, body } = table(['Name', 'Email', 'Phone', 'Since', 'Actions']);
  grid.id = 'customers-table';
  grid.setAttribute('aria-label', 'Customers found');
  grid.hidden = true;

  const row = (contact) => {
    const tr = el('tr');
    tr.dataset.contact = String(contact.id);
    const name = contact.name || 'No name';
    const exportLink = el('a', 'export-link', 'Export JSON');
    exportLink.href = `/api/admin/contacts/${encodeURIComponent(contact.id)}/export`;
    exportLink.setAttribute('download', `contact-${contact.id}-export.json`);
    exportLink.setAttribute('aria-label', `Export JSON of everything about ${name}`);
    const erase = button('Erase…', 'danger');
    erase.setAttribute('aria-label', `Erase ${name}`);
    erase.addEventListener('click', async () => {
      const sure = await confirmDialog({
        title: `Erase ${name}?`,
        text: 'This removes their messages, files, contact details, identities and sessions for good. Conversation counts in reports stay. It cannot be undone; export first if they asked for a copy.',
        confirmText: 'Erase for good',
        danger: true,
      });
      if (!sure) return;
      erase.disabled = true;
      try {
        const result = await adminApi(`/contacts/${encodeURIComponent(contact.id)}`, { method: 'DELETE', body: { confirm: 'erase' } });
        const n = result.erased || {};
        tr.remove();
        status.textContent = `Erased: ${n.conversations ?? 0} conversations, ${n.messages ?? 0} messages, ${n.attachments ?? 0} files.`;
        toast('Customer erased');
      } catch (failure) {
        erase.disabled = false;
        if (!handleAuthError(failure)) error.show(failure.message);
      }
    });
    const actions = el('td', 'row-actions');
    actions.append(exportLink, erase);
    tr.append(el('td', null, name), el('td', null, contact.email || ''), el('td', null, contact.phone || ''), el('td', null, when(contact.created_at)), actions);
    return tr;
  };

  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    error.clear();
    if (!q.value.trim()) {
      error.show('Type part of a name, email address or phone number.');
      q.focus();
      return;
    }
    try {
      const result = await adminApi(`/contacts?${new URLSearchParams({ q: q.value.trim() })}`);
      const contacts = result.contacts || [];
      body.replaceChildren(...contacts.map(row));
      grid.hidden = contacts.length === 0;
      status.textContent = contacts.length === 0 ? 'No customer matches.' : `${contacts.length} found.`;
    } catch (failure) {
      if (!handleAuthError(failure)) error.show(failure.message);
    }
  });

  section.append(
    sectionHeading('Customer data', 'customers-heading'),
    el('p', 'muted', 'When a customer asks for their data or to be forgotten: find them, download everything we hold as JSON, or erase them. Both are recorded in the audit log.'),
    form, error.node, status, grid,
  );
  return [section];
}

// ---------------------------------------------------------------------------------------------
// Retention

export async function renderRetention(stillCurrent) {
  const result = await adminApi('/retention');
  if (!stillCurrent()) return [];
  const r = result.retention || {};
  const section = el('section', 'page-section');
  section.setAttribute('aria-labelledby', 'retention-heading');
  const form = el('form', 'stack narrow');
  form.noValidate = true;
  const conversations = input('number', r.conversation_days ?? 0);
  conversations.min = '0';
  conversations.max = '3650';
  const files = input('number', r.attachment_days ?? 0);
  files.min = '0';
  files.max = '3650';
  const error = errorLine();
  const save = el('button', 'primary', 'Save retention');
  save.type = 'submit';
  const purge = button('Purge now', 'ghost');
  const status = el('span', 'muted small');
  status.setAttribute('role', 'status');
  const actions = el('div', 'form-actions');
  actions.append(save, purge, status);
  form.append(
    field('Keep resolved conversations (days)', conversations, '0 keeps them forever. After this many days without activity, a resolved conversation’s messages, files and notes are erased; report figures stay.'),
    field('Keep files (days)', files, '0 keeps them forever. Older files lose their content; the conversation still lists them, marked as removed by the retention policy.'),
    error.node, actions,
  );
  const days = (control, label) => {
    const value = Number(control.value);
    if (!Number.isInteger(value) || value < 0 || value > 3650) {
      error.show(`${label} must be a whole number of days from 0 to 3650.`);
      control.focus();
      return null;
    }
    return value;
  };
  form.addEventListener('input', () => { status.textContent = ''; });
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    error.clear();
    const c = days(conversations, 'Conversations');
    if (c === null) return;
    const f = days(files, 'Files');
    if (f === null) return;
    save.disabled = true;
    try {
      await adminApi('/retention', { method: 'PATCH', body: { conversation_days: c, attachment_days: f } });
      status.textContent = 'Saved';
      toast('Retention saved');
    } catch (failure) {
      if (!handleAuthError(failure)) error.show(failure.message);
    } finally {
      save.disabled = false;
    }
  });
  purge.addEventListener('click', async () => {
    error.clear();
    purge.disabled = true;
    try {
      const done = await adminApi('/retention/purge', { method: 'POST', body: {} });
      const p = done.purged || {};
      status.textContent = `Purged ${p.conversations?.conversations ?? 0} conversations and ${p.attachments ?? 0} files.`;
    } catch (failure) {
      if (!handleAuthError(failure)) error.show(failure.message);
    } finally {
      purge.disabled = false;
    }
  });
  section.append(
    sectionHeading('Retention', 'retention-heading'),
    el('p', 'muted', 'Old data is purged in small batches every few minutes while operators are signed in; each batch is in the audit log.'),
    form,
  );
  return [section];
}
