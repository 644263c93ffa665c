// Admin screen "Widget": how the website widget looks and what it asks (GET/PATCH
// /api/admin/widget): business name, greeting, accent colour (checked for contrast with white
// text here as the server does, with a live preview), launcher side, light/dark/auto, operator
// initials, the pre-chat fields (off/optional/required each) and the offline form.

import { adminApi, el, field, handleAuthError, input, select, toast } from './core.js';
import { sectionHeading } from './admin.js';
import { errorLine } from './dialog.js';

const MODES = [['off', 'Off'], ['optional', 'Optional'], ['required', 'Required']];

// WCAG contrast ratio of white text on `hex` (#rrggbb), or null when it is not a colour.
export function contrastWithWhite(hex) {
  if (!/^#[0-9a-f]{6}$/i.test(hex)) return null;
  const channel = (i) => {
    const v = parseInt(hex.slice(i, i + 2), 16) / 255;
    return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4;
  };
  const luminance = 0.2126 * channel(1) + 0.7152 * channel(3) + 0.0722 * channel(5);
  return 1.05 / (luminance + 0.05);
}

export async function renderWidget(stillCurrent) {
  const result = await adminApi('/widget');
  if (!stillCurrent()) return [];
  const w = result.widget || {};
  const section = el('section', 'page-section');
  section.setAttribute('aria-labelledby', 'widget-heading');
  const form = el('form', 'stack narrow');
  form.noValidate = true;

  const name = input('text', w.business_name ?? '');
  name.maxLength = 80;
  const greeting = input('text', w.greeting ?? '');
  greeting.maxLength = 300;
  const accent = input('color', w.accent_color || '#4f46e5');
  const contrast = el('p', 'field-hint');
  contrast.setAttribute('aria-live', 'polite');
  const swatch = el('span', 'widget-swatch', 'Aa');
  swatch.setAttribute('aria-hidden', 'true');
  const position = select([['right', 'Bottom right'], ['left', 'Bottom left']], w.position || 'right');
  const scheme = select([['auto', 'Follow the visitor’s system'], ['light', 'Always light'], ['dark', 'Always dark']], w.color_scheme || 'auto');
  const avatars = input('checkbox');
  avatars.checked = w.show_avatars !== false;
  const prechatName = select(MODES, w.prechat_name || 'off');
  const prechatEmail = select(MODES, w.prechat_email || 'off');
  const prechatTopic = select(MODES, w.prechat_topic || 'off');
  const offline = input('checkbox');
  offline.checked = w.offline_form === true;

  const showContrast = () => {
    const ratio = contrastWithWhite(accent.value);
    swatch.style.setProperty('background', accent.value);
    const ok = ratio !== null && ratio >= 4.5;
    contrast.textContent = ratio === null ? '' : `Contrast with white text ${ratio.toFixed(2)}:1 — ${ok ? 'readable' : 'too light: pick a darker colour (at least 4.5:1)'}.`;
    contrast.classList.toggle('form-error', !ok);
    return ok;
  };
  accent.addEventListener('input', showContrast);
  showContrast();

  const checkbox = (control, text) => {
    const label = el('label', 'check');
    label.append(control, document.createTextNode(` ${text}`));
    return label;
  };

  const error = errorLine();
  const save = el('button', 'primary', 'Save widget');
  save.type = 'submit';
  const status = el('span', 'muted small');
  status.setAttribute('role', 'status');
  const actions = el('div', 'form-actions');
  actions.append(save, status);
  const accentField = field('Accent colour', accent);
  accentField.append(swatch, contrast);
  accent.setAttribute('aria-describedby', 'widget-contrast');
  contrast.id = 'widget-contrast';

  const prechat = el('fieldset', 'stack');
  prechat.append(el('legend', null, 'Pre-chat form (asked before the first message)'),
    field('Name', prechatName), field('Email', prechatEmail),
    field('Topic', prechatTopic, 'Offers the topics marked “in picker” (Topics); the choice routes the conversation.'));

  form.append(
    field('Business name', name, 'Shown in the chat’s header. Empty: the business_name variable.'),
    field('Greeting', greeting, 'The first words in an empty chat. Empty: the widget’s own greeting, in the visitor’s language.'),
    accentField,
    field('Launcher position', position),
    field('Light or dark', scheme),
    checkbox(avatars, 'Show operators’ initials beside their messages'),
    prechat,
    checkbox(offline, 'Outside business hours or with nobody available, show a “leave a message” form (email and/or phone) instead of the chat'),
    error.node, actions,
  );
  section.append(sectionHeading('Widget', 'widget-heading'), form);
  form.addEventListener('input', () => { status.textContent = ''; });
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    error.clear();
    if (!showContrast()) {
      error.show('The accent colour is too light for white text.');
      accent.focus();
      return;
    }
    save.disabled = true;
    try {
      await adminApi('/widget', {
        method: 'PATCH',
        body: {
          business_name: name.value, greeting: greeting.value, accent_color: accent.value,
          position: position.value, color_scheme: scheme.value, show_avatars: avatars.checked,
          prechat_name: prechatName.value, prechat_email: prechatEmail.value, prechat_topic: prechatTopic.value,
          offline_form: offline.checked,
        },
      });
      status.textContent = 'Saved';
      toast('Widget settings saved');
    } catch (failure) {
      if (!handleAuthError(failure)) error.show(failure.message);
    } finally {
      save.disabled = false;
    }
  });
  return [section];
}
