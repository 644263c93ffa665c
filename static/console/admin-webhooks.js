// Admin screen for outgoing webhooks (admin role only): the endpoints (URL, the event types each
// receives, enabled or not, what is pending and how the last delivery went), adding one with
// event checkboxes, enabling/disabling, rotating the signing secret, sending a test ping, recent
// deliveries with their status and error, and deleting. Render functions return the section's
// nodes, like admin.js's own.
//
// Secrets are shown only on request (and after creating or rotating, once, to copy). Text from
// the network goes in with textContent only; the API's 400 messages name the field and are
// shown as they are.

import { adminApi, button, el, field, handleAuthError, input, toast } from './core.js';
import { reloadSection, rowHeader, sectionHeading, table } from './admin.js';
import { confirmDialog, errorLine, openDialog } from './dialog.js';
import { fullFormat } from '/shared/messages.js';

export const EVENT_TYPES = [
  ['conversation.created', 'Conversation created'],
  ['conversation.assigned', 'Conversation assigned'],
  ['conversation.resolved', 'Conversation resolved'],
  ['message.created', 'Message created'],
  ['csat.received', 'Satisfaction rating received'],
];
const STATUS_LABELS = {
  pending: 'Pending', delivered: 'Delivered', failed: 'Failed', cancelled: 'Cancelled',
};

function when(ms) {
  return ms ? fullFormat.format(new Date(ms)) : '';
}

function statusChip(status) {
  return el('span', `webhook-status is-${status || 'none'}`, STATUS_LABELS[status] || status || '–');
}

// A read-only secret with a Copy button.
function secretBox(secret, lead) {
  const box = el('div', 'invite-box webhook-secret');
  box.setAttribute('role', 'status');
  const value = input('text', secret);
  value.readOnly = true;
  value.className = 'invite-url';
  value.spellcheck = false;
  const copy = button('Copy secret', 'ghost small', async () => {
    let copied = false;
    try {
      await navigator.clipboard.writeText(secret);
      copied = true;
    } catch {
      value.select();
      try { copied = document.execCommand('copy'); } catch { copied = false; }
    }
    copy.textContent = copied ? 'Copied' : 'Select and copy it';
    value.focus();
    value.select();
  });
  box.append(el('p', null, lead), field('Signing secret', value), copy);
  return box;
}

export async function renderWebhooks(stillCurrent) {
  const result = await adminApi('/webhooks');
  if (!stillCurrent()) return [];
  const endpoints = result.webhooks || [];

  const addSection = el('section', 'page-section');
  addSection.setAttribute('aria-labelledby', 'webhook-add-heading');
  addSection.append(
    sectionHeading('Add a webhook endpoint', 'webhook-add-heading'),
    el('p', 'muted', 'We POST a signed JSON body to your URL when the events you choose happen, and retry for hours if it does not answer 2xx. Verify the Webhook-Signature header with the endpoint’s secret (see the README, “Webhooks”).'),
  );
  const form = el('form', 'stack webhook-form');
  form.noValidate = true;
  const url = input('url');
  url.maxLength = 2000;
  url.autocomplete = 'off';
  url.spellcheck = false;
  url.placeholder = 'https://example.com/hooks/livechat';
  const description = input('text');
  description.maxLength = 200;
  description.autocomplete = 'off';
  const events = el('fieldset', 'checkbox-list webhook-events');
  events.append(el('legend', null, 'Events'));
  for (const [value, label] of EVENT_TYPES) {
    const box = document.createElement('input');
    box.type = 'checkbox';
    box.value = value;
    const wrap = el('label', 'check');
    wrap.append(box, el('span', null, `${label} (${value})`));
    events.append(wrap);
  }
  const error = errorLine();
  const submit = el('button', 'primary', 'Add endpoint');
  submit.type = 'submit';
  const created = el('div', 'webhook-created');
  form.append(
    field('URL', url, 'https only, to a public host.'),
    field('Description (optional)', description),
    events,
    error.node,
    submit,
  );
  addSection.append(form, created);
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    error.clear();
    const chosen = [...events.querySelectorAll('input:checked')].map((box) => box.value);
    if (!url.value.trim()) {
      error.show('Enter the URL to send webhooks to.');
      url.focus();
      return;
    }
    if (!chosen.length) {
      error.show('Choose at least one event.');
      events.querySelector('input')?.focus();
      return;
    }
    submit.disabled = true;
    try {
      const answer = await adminApi('/webhooks', {
        method: 'POST',
        body: { url: url.value.trim(), description: description.value.trim(), events: chosen },
      });
      toast('Webhook endpoint added');
      await refreshList(listBox);
      form.reset();
      created.replaceChildren(secretBox(answer.webhook.secret, `Added ${answer.webhook.url}. Put this secret in your receiver to verify signatures. It is also under “Show secret”.`));
      created.querySelector('.invite-url')?.focus();
    } catch (failure) {
      if (handleAuthError(failure)) return;
      error.show(failure.code === 'too_many_webhooks' ? `${failure.message}.` : failure.message);
    } finally {
      submit.disabled = false;
    }
  });

  const listSection = el('section', 'page-section');
  listSection.setAttribute('aria-labelledby', 'webhooks-heading');
  const listBox = el('div', 'webhook-list');
  listSection.append(sectionHeading('Webhook endpoints', 'webhooks-heading'), listBox);
  fillList(listBox, endpoints);
  return [addSection, listSection];
}

async function refreshList(box) {
  const result = await adminApi('/webhooks');
  fillList(box, result.webhooks || []);
}

function fillList(box, endpoints) {
  if (!endpoints.length) {
    box.replaceChildren(el('p', 'muted', 'No endpoints yet.'));
    return;
  }
  const { node, body } = table(['URL', 'Events', 'Status', 'Last delivery', 'Actions']);
  node.classList.add('webhooks-table');
  for (const endpoint of endpoints) {
    const tr = el('tr');
    tr.dataset.webhook = String(endpoint.id);
    if (!endpoint.active) tr.classList.add('is-inactive');
    const name = endpoint.description ? `${endpoint.url} (${endpoint.description})` : endpoint.url;
    const state = el('td');
    state.append(el('span', null, endpoint.active ? 'Enabled' : 'Disabled'));
    if (endpoint.pending) state.append(el('span', 'muted small', ` · ${endpoint.pending} pending`));
    const last = el('td');
    last.append(statusChip(endpoint.last_status));
    const actions = el('td', 'row-actions');
    const label = (verb) => `${verb} ${endpoint.url}`;
    const toggle = button(endpoint.active ? 'Disable' : 'Enable', 'ghost small', () => setActive(endpoint, !endpoint.active, box));
    toggle.setAttribute('aria-label', label(endpoint.active ? 'Disable' : 'Enable'));
    const test = button('Send test', 'ghost small', () => sendTest(endpoint, test, box));
    test.setAttribute('aria-label', label('Send a test to'));
    const history = button('Deliveries', 'ghost small', () => showDeliveries(endpoint));
    history.setAttribute('aria-label', label('Deliveries to'));
    const secret = button('Show secret', 'ghost small', () => showSecret(endpoint, box));
    secret.setAttribute('aria-label', label('Show the secret of'));
    const remove = button('Delete', 'ghost small danger-text', () => removeEndpoint(endpoint, box));
    remove.setAttribute('aria-label', label('Delete'));
    actions.append(toggle, test, history, secret, remove);
    tr.append(
      rowHeader(name),
      el('td', 'webhook-types', endpoint.events.join(', ')),
      state,
      last,
      actions,
    );
    body.append(tr);
  }
  box.replaceChildren(node);
}

async function setActive(endpoint, active, box) {
  if (!active) {
    const ok = await confirmDialog({
      title: `Disable ${endpoint.url}?`,
      text: 'It stops receiving events now, and deliveries still waiting for it are cancelled. Events that happen while it is disabled are never sent to it.',
      confirmText: 'Disable',
      danger: true,
    });
    if (!ok) return;
  }
  try {
    await adminApi(`/webhooks/${endpoint.id}`, { method: 'PATCH', body: { active } });
    toast(`${endpoint.url} ${active ? 'enabled' : 'disabled'}`);
    await refreshList(box);
  } catch (error) {
    if (!handleAuthError(error)) toast(error.message, 'error');
  }
}

async function sendTest(endpoint, control, box) {
  control.disabled = true;
  try {
    const { delivery } = await adminApi(`/webhooks/${endpoint.id}/test`, { method: 'POST', body: {} });
    if (delivery && delivery.status === 'delivered') {
      toast(`Test delivered (HTTP ${delivery.last_status})`);
    } else {
      const why = delivery && delivery.last_error ? delivery.last_error : 'no answer yet';
      toast(`Test not delivered: ${why}`, 'error');
    }
    await refreshList(box);
  } catch (error) {
    if (!handleAuthError(error)) toast(error.message, 'error');
  } finally {
    if (control.isConnected) control.disabled = false;
  }
}

function showSecret(endpoint, box) {
  openDialog({
    title: `Secret for ${endpoint.url}`,
    build(body, close) {
      const holder = el('div');
      holder.append(secretBox(endpoint.secret, 'Your receiver computes HMAC-SHA256 of "<Webhook-Timestamp>.<body>" with this secret and compares it with Webhook-Signature.'));
      const actions = el('div', 'dialog-actions');
      const rotate = button('Rotate secret', 'danger', async () => {
        const ok = await confirmDialog({
          title: 'Rotate the secret?',
          text: 'Deliveries are signed with the new secret from now on, retries included; your receiver must use it at once.',
          confirmText: 'Rotate',
          danger: true,
        });
        if (!ok) return;
        try {
          const answer = await adminApi(`/webhooks/${endpoint.id}`, { method: 'PATCH', body: { rotate_secret: true } });
          endpoint.secret = answer.webhook.secret;
          // The copy shown after creating it is stale now.
          document.querySelector('.webhook-created')?.replaceChildren();
          holder.replaceChildren(secretBox(answer.webhook.secret, 'New secret: the old one no longer verifies anything.'));
          toast('Secret rotated');
          await refreshList(box);
        } catch (error) {
          if (!handleAuthError(error)) toast(error.message, 'error');
        }
      });
      actions.append(rotate, button('Done', 'primary', close));
      body.append(holder, actions);
    },
  });
}

async function showDeliveries(endpoint) {
  let deliveries;
  try {
    deliveries = (await adminApi(`/webhooks/${endpoint.id}/deliveries`)).deliveries || [];
  } catch (error) {
    if (!handleAuthError(error)) toast(error.message, 'error');
    return;
  }
  openDialog({
    title: `Deliveries to ${endpoint.url}`,
    className: 'dialog-wide',
    build(body, close) {
      if (!deliveries.length) {
        body.append(el('p', 'muted', 'Nothing sent yet. “Send test” sends a ping.'));
      } else {
        const { node, body: rows } = table(['Event', 'Status', 'Attempts', 'HTTP', 'Error', 'Created', 'Next attempt']);
        node.classList.add('webhook-deliveries');
        for (const delivery of deliveries) {
          const tr = el('tr');
          const status = el('td');
          status.append(statusChip(delivery.status));
          const id = rowHeader(delivery.type);
          id.title = `Webhook-Id ${delivery.id}`;
          tr.append(
            id,
            status,
            el('td', null, String(delivery.attempts)),
            el('td', null, delivery.last_status ? String(delivery.last_status) : '–'),
            el('td', 'webhook-error', delivery.last_error || ''),
            el('td', 'nowrap', when(delivery.created_at)),
            el('td', 'nowrap', delivery.next_attempt_at ? when(delivery.next_attempt_at) : ''),
          );
          rows.append(tr);
        }
        body.append(node);
      }
      const actions = el('div', 'dialog-actions');
      actions.append(button('Close', 'primary', close));
      body.append(actions);
    },
  });
}

async function removeEndpoint(endpoint, box) {
  const ok = await confirmDialog({
    title: `Delete ${endpoint.url}?`,
    text: 'It stops receiving events and its delivery history is removed. This cannot be undone.',
    confirmText: 'Delete',
    danger: true,
  });
  if (!ok) return;
  try {
    await adminApi(`/webhooks/${endpoint.id}`, { method: 'DELETE' });
    toast(`${endpoint.url} deleted`);
    await refreshList(box);
  } catch (error) {
    if (!handleAuthError(error)) toast(error.message, 'error');
    reloadSection();
  }
}
