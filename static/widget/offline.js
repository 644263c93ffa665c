// Offline mode: outside business hours, or when no operator is available, the widget says so
// plainly (and when the team opens again) and offers to leave a message with an email address
// and/or a phone number. The message starts a conversation that carries those details
// (POST /api/widget/conversations {email, phone}), so operators can answer later by email or
// SMS; the visitor is never told someone is there when nobody is.

import { formatWhen, t } from '/widget/i18n.js';
import {
  field, gateHeader, normalizePhone, setFieldError, statusLine, submitButton, validEmail,
} from '/widget/forms.js';

// 'closed' (outside hours), 'nobody' (no operator available) or null (someone can answer).
export function offlineReason(config) {
  const availability = config && config.availability;
  if (!availability) return null;
  if (availability.open === false) return 'closed';
  if (availability.available_operators === 0) return 'nobody';
  return null;
}

// The honest line shown above an open composer when the offline form is off.
export function offlineNotice(config, reason) {
  const parts = [t(reason === 'closed' ? 'offline_closed_short' : 'queue_nobody')];
  const next = config.availability && config.availability.next_opening_at;
  if (reason === 'closed' && Number.isFinite(next)) parts.push(t('offline_opens', { when: formatWhen(next) }));
  return parts.join(' ');
}

// Renders the offline notice and form into `container`. leave({email?, phone?, name?}, message)
// starts the conversation and sends the message; it rejects with an ApiError whose `message`
// is shown. `chatInstead()` lets the visitor write in the chat anyway (the assistant or a
// returning operator may still answer).
export function showOffline(container, { config, reason, leave, chatInstead }) {
  container.replaceChildren();
  container.className = 'gate gate--offline';
  const intro = [t(reason === 'closed' ? 'offline_closed' : 'offline_nobody')];
  const next = config.availability && config.availability.next_opening_at;
  if (reason === 'closed' && Number.isFinite(next)) intro.push(t('offline_opens', { when: formatWhen(next) }));
  gateHeader(container, t('offline_title'), intro);

  const form = document.createElement('form');
  form.noValidate = true;
  const hint = document.createElement('p');
  hint.className = 'gate-hint';
  hint.id = 'offline-contact-hint';
  hint.textContent = t('offline_contact');
  const email = field({ kind: 'email', key: 'email', required: false, autocomplete: 'email', maxLength: 254 });
  const phone = field({ kind: 'tel', key: 'phone', required: false, autocomplete: 'tel', maxLength: 30 });
  const message = field({ kind: 'textarea', key: 'your_message', required: true, maxLength: 4000 });
  const status = statusLine();
  const submit = submitButton(t('leave_message'));
  form.append(hint, email.wrap, phone.wrap, message.wrap, submit, status);
  container.append(form);
  if (chatInstead) {
    const instead = document.createElement('button');
    instead.type = 'button';
    instead.className = 'text-button gate-instead';
    instead.textContent = t('write_to_us');
    instead.addEventListener('click', chatInstead);
    container.append(instead);
  }
  container.hidden = false;

  let sending = false;
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    if (sending) return;
    const emailText = email.control.value.trim();
    const phoneText = phone.control.value.trim();
    const body = message.control.value.trim();
    const problems = new Map();
    if (emailText && !validEmail(emailText)) problems.set(email, t('bad_email'));
    const phoneNumber = phoneText ? normalizePhone(phoneText) : null;
    if (phoneText && !phoneNumber) problems.set(phone, t('bad_phone'));
    if (!emailText && !phoneText) problems.set(email, t('offline_need_contact'));
    if (!body) problems.set(message, t('need_message'));
    for (const f of [email, phone, message]) setFieldError(f, problems.get(f) || '');
    if (problems.size) {
      const [first, text] = problems.entries().next().value;
      status.textContent = text;
      first.control.focus();
      return;
    }
    const details = {};
    if (emailText) details.email = emailText;
    if (phoneNumber) details.phone = phoneNumber;
    sending = true;
    submit.disabled = true;
    status.textContent = '';
    try {
      await leave(details, body); // the frame then closes this form and shows the chat
    } catch (error) {
      status.textContent = error && error.message ? error.message : t('offline_net');
    } finally {
      sending = false;
      submit.disabled = false;
    }
  });
  email.control.focus({ preventScroll: true });
}
