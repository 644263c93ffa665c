// "Continue by email or SMS" and "Email me a transcript": a visitor who has to leave takes the
// conversation along (POST /api/widget/conversations/:id/continue {channel, address}) or keeps
// a copy of it (POST .../transcript {email}). Shown only once a conversation exists.
//
// Invariants: one small form, labelled, in the frame's language (en, es, fr, de: the frame's
// `<html lang>`, which its i18n keeps current, followed as it changes); the server's 400
// message is shown as text; success and failure are announced in a polite live region; Escape
// or Cancel closes the form and returns focus to the opener.

const TEXTS = {
  en: {
    open: 'Continue by email or SMS', transcript: 'Email me a transcript', how: 'Continue by',
    email: 'Email', sms: 'Text message (SMS)', emailLabel: 'Your email address', smsLabel: 'Your mobile number (+1 415 555 0100)',
    go: 'Continue', send: 'Send transcript', cancel: 'Cancel', sending: 'Sending…',
    continued: 'Done: we will continue at {address}. Replies from us go there too.',
    sent: 'The transcript is on its way to {address}.', failed: 'That did not work. Try again.',
  },
  es: {
    open: 'Continuar por email o SMS', transcript: 'Enviarme la transcripción', how: 'Continuar por',
    email: 'Email', sms: 'Mensaje de texto (SMS)', emailLabel: 'Su dirección de email', smsLabel: 'Su número de móvil (+34 600 000 000)',
    go: 'Continuar', send: 'Enviar transcripción', cancel: 'Cancelar', sending: 'Enviando…',
    continued: 'Hecho: seguiremos en {address}. Nuestras respuestas llegarán allí.',
    sent: 'La transcripción va de camino a {address}.', failed: 'No ha funcionado. Inténtelo de nuevo.',
  },
  fr: {
    open: 'Continuer par email ou SMS', transcript: 'M’envoyer la transcription', how: 'Continuer par',
    email: 'Email', sms: 'SMS', emailLabel: 'Votre adresse email', smsLabel: 'Votre numéro de mobile (+33 6 00 00 00 00)',
    go: 'Continuer', send: 'Envoyer la transcription', cancel: 'Annuler', sending: 'Envoi…',
    continued: 'C’est fait : nous continuerons à {address}. Nos réponses y arriveront.',
    sent: 'La transcription part vers {address}.', failed: 'Cela n’a pas marché. Réessayez.',
  },
  de: {
    open: 'Per E-Mail oder SMS fortsetzen', transcript: 'Verlauf per E-Mail senden', how: 'Fortsetzen per',
    email: 'E-Mail', sms: 'SMS', emailLabel: 'Ihre E-Mail-Adresse', smsLabel: 'Ihre Mobilnummer (+49 151 00000000)',
    go: 'Fortsetzen', send: 'Verlauf senden', cancel: 'Abbrechen', sending: 'Wird gesendet…',
    continued: 'Erledigt: Wir machen unter {address} weiter. Unsere Antworten kommen dorthin.',
    sent: 'Der Verlauf ist unterwegs an {address}.', failed: 'Das hat nicht geklappt. Bitte erneut versuchen.',
  },
};

const text = (key, values = {}) => {
  const words = TEXTS[(document.documentElement.lang || 'en').split('-')[0].toLowerCase()] || TEXTS.en;
  return words[key].replace(/\{(\w+)\}/g, (_, name) => String(values[name] ?? ''));
};

function node(tag, props = {}, ...children) {
  const el = document.createElement(tag);
  Object.assign(el, props);
  el.append(...children);
  return el;
}

export function installContinue({ api, getSession }) {
  const anchor = document.getElementById('composer-hint');
  if (!anchor) return;
  const sheet = node('link', { rel: 'stylesheet', href: '/widget/continue.css' });
  document.head.append(sheet);

  const openButton = node('button', { type: 'button', className: 'text-button', id: 'continue-open' });
  const transcriptButton = node('button', { type: 'button', className: 'text-button', id: 'transcript-open' });
  const actions = node('p', { className: 'continue-actions', hidden: true }, openButton, transcriptButton);
  const legend = node('legend');
  const emailRadio = node('input', { type: 'radio', name: 'continue-channel', id: 'continue-email', value: 'email', checked: true });
  const smsRadio = node('input', { type: 'radio', name: 'continue-channel', id: 'continue-sms', value: 'sms' });
  const emailText = node('label', { htmlFor: 'continue-email' });
  const smsText = node('label', { htmlFor: 'continue-sms' });
  const channels = node('fieldset', { className: 'continue-channels' }, legend, emailRadio, emailText, smsRadio, smsText);
  const addressLabel = node('label', { htmlFor: 'continue-address' });
  const address = node('input', { id: 'continue-address', required: true, maxLength: 254 });
  const submit = node('button', { type: 'submit', className: 'continue-submit' });
  const cancel = node('button', { type: 'button', className: 'text-button' });
  const form = node('form', { className: 'continue-form', id: 'continue-form', noValidate: true, hidden: true },
    channels, addressLabel, address, node('div', { className: 'continue-buttons' }, submit, cancel));
  const status = node('p', { className: 'continue-status', id: 'continue-status' });
  status.setAttribute('role', 'status');
  status.setAttribute('aria-live', 'polite');
  anchor.after(actions, form, status);

  let mode = 'continue';
  let opener = openButton;
  let busy = false;

  function render() {
    openButton.textContent = text('open');
    transcriptButton.textContent = text('transcript');
    legend.textContent = text('how');
    emailText.textContent = text('email');
    smsText.textContent = text('sms');
    const sms = mode === 'continue' && smsRadio.checked;
    addressLabel.textContent = text(sms ? 'smsLabel' : 'emailLabel');
    address.type = sms ? 'tel' : 'email';
    address.autocomplete = sms ? 'tel' : 'email';
    submit.textContent = text(mode === 'continue' ? 'go' : 'send');
    cancel.textContent = text('cancel');
    channels.hidden = mode !== 'continue';
  }

  function refresh() {
    actions.hidden = !getSession() || !form.hidden;
  }

  function show(next, button) {
    mode = next;
    opener = button;
    render();
    form.hidden = false;
    refresh();
    status.textContent = '';
    (mode === 'continue' ? emailRadio : address).focus();
  }

  function hide() {
    form.hidden = true;
    refresh();
    if (!actions.hidden) opener.focus();
  }

  openButton.addEventListener('click', () => show('continue', openButton));
  transcriptButton.addEventListener('click', () => show('transcript', transcriptButton));
  cancel.addEventListener('click', hide);
  emailRadio.addEventListener('change', render);
  smsRadio.addEventListener('change', render);
  form.addEventListener('keydown', (event) => {
    if (event.key !== 'Escape') return;
    event.preventDefault();
    event.stopPropagation(); // Escape closes this form, not the chat
    hide();
  });
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    const session = getSession();
    const value = address.value.trim();
    if (busy || !session || !value) {
      address.focus();
      return;
    }
    busy = true;
    submit.disabled = true;
    status.textContent = text('sending');
    const path = `/conversations/${session.conversationId}/${mode}`;
    const body = mode === 'continue' ? { channel: smsRadio.checked ? 'sms' : 'email', address: value } : { email: value };
    try {
      const result = await api(path, { method: 'POST', body });
      const where = (result && (result.address || result.email)) || value;
      address.value = '';
      form.hidden = true;
      refresh();
      status.textContent = text(mode === 'continue' ? 'continued' : 'sent', { address: where });
      if (!actions.hidden) opener.focus();
    } catch (error) {
      status.textContent = error.status === 400 || error.status === 429 ? error.message : text('failed');
      address.focus();
    } finally {
      busy = false;
      submit.disabled = false;
    }
  });

  window.addEventListener('lcw:session', () => setTimeout(refresh, 0));
  new MutationObserver(render).observe(document.documentElement, { attributes: true, attributeFilter: ['lang'] });
  render();
  refresh();
  return { refresh };
}
