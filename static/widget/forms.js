// Labelled form fields for the widget's pre-chat and offline forms, and the checks both run
// before anything is sent (the server checks again: these only spare a round trip). Errors sit
// under their field, linked by aria-describedby and marked aria-invalid, and the first wrong
// field gets focus.

import { t } from '/widget/i18n.js';

// Roughly what shared::contact::EmailAddress accepts.
export const validEmail = (text) => /^[^\s@]{1,64}@[^\s@]+\.[^\s@]{2,}$/.test(text) && text.length <= 254;

// E.164 as shared::contact::PhoneNumber parses it: "+", 8-15 digits, spaces/dashes/dots/brackets ignored.
export function normalizePhone(text) {
  const trimmed = text.trim();
  if (!trimmed.startsWith('+') || /[^0-9 ().+-]/.test(trimmed.slice(1)) || trimmed.slice(1).includes('+')) return null;
  const digits = trimmed.slice(1).replace(/[ ().-]/g, '');
  return /^[1-9][0-9]{7,14}$/.test(digits) ? `+${digits}` : null;
}

let seq = 0;

// A labelled control: { wrap, control, error, required }. kind: text | email | tel | select | textarea.
export function field({ kind, key, required, autocomplete, options = [], maxLength = 200 }) {
  seq += 1;
  const id = `f-${key}-${seq}`;
  const wrap = document.createElement('div');
  wrap.className = 'gate-field';
  const label = document.createElement('label');
  label.htmlFor = id;
  label.textContent = t(key);
  if (!required) {
    const optional = document.createElement('span');
    optional.className = 'gate-optional';
    optional.textContent = ` ${t('optional')}`;
    label.append(optional);
  }
  let control;
  if (kind === 'select') {
    control = document.createElement('select');
    const blank = document.createElement('option');
    blank.value = '';
    blank.textContent = t('pick_topic');
    control.append(blank);
    for (const option of options) {
      const node = document.createElement('option');
      node.value = option.value;
      node.textContent = option.label;
      control.append(node);
    }
  } else if (kind === 'textarea') {
    control = document.createElement('textarea');
    control.rows = 3;
    control.maxLength = maxLength;
  } else {
    control = document.createElement('input');
    control.type = kind;
    control.maxLength = maxLength;
    if (kind === 'tel') control.placeholder = '+14155550100';
  }
  control.id = id;
  control.name = key;
  if (autocomplete) control.autocomplete = autocomplete;
  if (required) control.required = true;
  const error = document.createElement('p');
  error.className = 'gate-error';
  error.id = `${id}-error`;
  error.hidden = true;
  wrap.append(label, control, error);
  return { wrap, control, error, key };
}

export function setFieldError(f, message) {
  f.error.textContent = message || '';
  f.error.hidden = !message;
  if (message) {
    f.control.setAttribute('aria-invalid', 'true');
    f.control.setAttribute('aria-describedby', f.error.id);
  } else {
    f.control.removeAttribute('aria-invalid');
    f.control.removeAttribute('aria-describedby');
  }
}

// The heading, intro and status line every gate form starts with.
export function gateHeader(container, title, intro) {
  const heading = document.createElement('h2');
  heading.id = 'gate-title';
  heading.tabIndex = -1;
  heading.textContent = title;
  container.append(heading);
  for (const text of [].concat(intro).filter(Boolean)) {
    const p = document.createElement('p');
    p.className = 'gate-intro';
    p.textContent = text;
    container.append(p);
  }
}

export function submitButton(text) {
  const button = document.createElement('button');
  button.type = 'submit';
  button.className = 'gate-submit';
  button.textContent = text;
  return button;
}

export function statusLine() {
  const p = document.createElement('p');
  p.className = 'gate-status';
  p.setAttribute('role', 'status');
  p.setAttribute('aria-live', 'polite');
  return p;
}
