// The pre-chat form: name, email and topic, each off, optional or required as admins set it
// (GET /api/widget/config: prechat_name, prechat_email, prechat_topic). Shown in place of the
// composer before the visitor's first message; what they give goes into the start request
// (POST /api/widget/conversations {name, email, topic}), and the topic feeds routing.

import { t } from '/widget/i18n.js';
import { field, gateHeader, setFieldError, statusLine, submitButton, validEmail } from '/widget/forms.js';

const mode = (value) => (value === 'optional' || value === 'required' ? value : 'off');

// Whether the settings ask anything before the chat (a topic picker needs topics to pick from).
export function prechatWanted(config, topics) {
  return mode(config.prechat_name) !== 'off' || mode(config.prechat_email) !== 'off'
    || (mode(config.prechat_topic) !== 'off' && topics.length > 0);
}

// Renders the form into `container`; onDone({name?, email?, topic?}) once it passes.
export function showPrechat(container, { config, topics, onDone }) {
  container.replaceChildren();
  container.className = 'gate gate--prechat';
  gateHeader(container, t('prechat_title'), t('prechat_intro'));
  const form = document.createElement('form');
  form.noValidate = true;
  const fields = [];
  if (mode(config.prechat_name) !== 'off') {
    fields.push(field({ kind: 'text', key: 'name', required: mode(config.prechat_name) === 'required', autocomplete: 'name', maxLength: 100 }));
  }
  if (mode(config.prechat_email) !== 'off') {
    fields.push(field({ kind: 'email', key: 'email', required: mode(config.prechat_email) === 'required', autocomplete: 'email', maxLength: 254 }));
  }
  if (mode(config.prechat_topic) !== 'off' && topics.length > 0) {
    fields.push(field({
      kind: 'select', key: 'topic', required: mode(config.prechat_topic) === 'required',
      options: topics.map((topic) => ({ value: String(topic.name), label: String(topic.label || topic.name) })),
    }));
  }
  for (const f of fields) form.append(f.wrap);
  const status = statusLine();
  form.append(submitButton(t('start_chat')), status);
  container.append(form);
  container.hidden = false;

  form.addEventListener('submit', (event) => {
    event.preventDefault();
    const details = {};
    let firstBad = null;
    for (const f of fields) {
      const value = f.control.value.trim();
      let problem = '';
      if (!value && f.control.required) problem = t('required', { field: t(f.key) });
      else if (value && f.key === 'email' && !validEmail(value)) problem = t('bad_email');
      setFieldError(f, problem);
      if (problem && !firstBad) firstBad = f;
      if (value && !problem) details[f.key] = value;
    }
    if (firstBad) {
      status.textContent = firstBad.error.textContent;
      firstBad.control.focus();
      return;
    }
    status.textContent = '';
    onDone(details);
  });
  const first = fields[0];
  if (first) first.control.focus({ preventScroll: true });
  return { focus: () => (fields[0] ? fields[0].control.focus() : undefined) };
}
