// The widget's words in English, Spanish, French and German.
//
// The locale comes, in order, from: setLocale(tag) or a `lcw:locale` event on this window
// (`detail.locale`: the host page's JS API), the browser's languages (the visitor's own choice),
// then the host page's `<html lang>` (handed over by the loader in `page:context`, see
// setPageLocale: it often says only what the page template defaults to); anything else is
// English. Only the primary subtag matters (`fr-CA` is French).
//
// Static text in frame.html carries `data-i18n` (text), `data-i18n-label` (aria-label),
// `data-i18n-placeholder` and `data-i18n-title`; translate() fills them in. Scripts call t(key,
// values) for the rest and subscribe with onLocaleChange() to re-render what they own.
// Translations are text only: values are substituted into text, never parsed as markup.

export const LOCALES = ['en', 'es', 'fr', 'de'];

const STRINGS = {
  en: {
    subtitle: 'Write to us: we answer right here',
    search_help: 'Search help',
    close_chat: 'Close chat',
    messages: 'Messages',
    welcome: 'Hi there! Ask us anything and we will get back to you here.',
    message: 'Message',
    placeholder: 'Write a message…',
    send: 'Send message',
    hint: 'Enter to send, Shift+Enter for a new line',
    back_to_chat: '← Back to chat',
    back_to_chat_new: '← Back to chat (new message)',
    help_articles: 'Help articles',
    search_articles: 'Search help articles',
    help_placeholder: 'What do you need help with?',
    search: 'Search',
    help_min: 'Type at least 2 characters.',
    help_found: 'Help articles found',
    back_to_results: '← Back to results',
    still_need_help: 'Still need help?',
    write_to_us: 'Write to us',
    searching: 'Searching…',
    help_failed: 'Could not search the help articles. Try again.',
    articles_one: '1 article found.',
    articles_many: '{n} articles found.',
    no_articles: 'No articles match “{q}”. You can write to us instead.',
    opening_article: 'Opening the article…',
    article_gone: 'This article is no longer available.',
    article_failed: 'Could not open the article. Try again.',
    new_message_in_chat: 'A new message arrived in the chat.',
    typing: '{name} is typing…',
    assistant: 'Assistant',
    offline_net: 'Could not reach the chat server. Check your connection.',
    too_long: 'Messages can be at most {n} characters.',
    queue_nobody: 'Nobody is available right now — we\'ll reply here as soon as we can.',
    queue_place: 'You\'re number {n} in line',
    queue_in_line: 'You\'re in line',
    queue_now: '{place} · any moment now',
    queue_min: '{place} · about {n} min',
    handoff: 'A person from our team will take over from here.',
    // Pre-chat form
    prechat_title: 'Before we start',
    prechat_intro: 'Tell us a little about yourself so the right person can help.',
    name: 'Name',
    email: 'Email',
    phone: 'Phone',
    topic: 'Topic',
    pick_topic: 'Choose a topic',
    optional: '(optional)',
    start_chat: 'Start chat',
    required: 'Please fill in {field}.',
    bad_email: 'Enter an email address like name@example.com.',
    bad_phone: 'Enter an international number like +14155550100.',
    // Offline
    offline_closed_short: 'We’re outside our opening hours; write anyway and we’ll reply here when we’re back.',
    offline_title: 'We’re away right now',
    offline_closed: 'We’re outside our opening hours. Leave a message and we’ll answer by email or text.',
    offline_nobody: 'Nobody from our team is available right now. Leave a message and we’ll answer by email or text.',
    offline_opens: 'We open again {when}.',
    offline_contact: 'Give us an email address or a phone number (or both) so we can reply.',
    offline_need_contact: 'Enter an email address or a phone number so we can reply.',
    your_message: 'Your message',
    leave_message: 'Leave a message',
    message_left: 'Thanks! Your message is with us; we’ll reply to you as soon as we’re back.',
    need_message: 'Write your message first.',
    // Composer extras
    emoji: 'Insert emoji',
    emoji_list: 'Emoji',
    attach: 'Attach a file',
    file_too_big: '{name} is too large (at most {max} MB).',
    file_type: '{name} is not a file type we accept (images, PDF, text).',
    uploading: 'Uploading {name}…',
    upload_failed: 'Could not send {name}. Try again.',
    download: 'Download {name}',
    image_alt: 'Image: {name}',
    operator_avatar: '{name}',
    status_sending: 'Sending…',
    status_sent: 'Sent',
    status_read: 'Read',
    status_failed: 'Not sent',
    status_retry: 'Retry',
  },
  es: {
    subtitle: 'Escríbanos: respondemos aquí mismo',
    search_help: 'Buscar ayuda',
    close_chat: 'Cerrar chat',
    messages: 'Mensajes',
    welcome: '¡Hola! Pregúntenos lo que quiera y le responderemos aquí.',
    message: 'Mensaje',
    placeholder: 'Escriba un mensaje…',
    send: 'Enviar mensaje',
    hint: 'Intro para enviar, Mayús+Intro para una línea nueva',
    back_to_chat: '← Volver al chat',
    back_to_chat_new: '← Volver al chat (mensaje nuevo)',
    help_articles: 'Artículos de ayuda',
    search_articles: 'Buscar artículos de ayuda',
    help_placeholder: '¿Con qué necesita ayuda?',
    search: 'Buscar',
    help_min: 'Escriba al menos 2 caracteres.',
    help_found: 'Artículos de ayuda encontrados',
    back_to_results: '← Volver a los resultados',
    still_need_help: '¿Sigue necesitando ayuda?',
    write_to_us: 'Escríbanos',
    searching: 'Buscando…',
    help_failed: 'No se pudieron buscar los artículos. Inténtelo de nuevo.',
    articles_one: '1 artículo encontrado.',
    articles_many: '{n} artículos encontrados.',
    no_articles: 'Ningún artículo coincide con «{q}». Puede escribirnos.',
    opening_article: 'Abriendo el artículo…',
    article_gone: 'Este artículo ya no está disponible.',
    article_failed: 'No se pudo abrir el artículo. Inténtelo de nuevo.',
    new_message_in_chat: 'Ha llegado un mensaje nuevo al chat.',
    typing: '{name} está escribiendo…',
    assistant: 'Asistente',
    offline_net: 'No se pudo conectar con el servidor del chat. Compruebe su conexión.',
    too_long: 'Los mensajes pueden tener como máximo {n} caracteres.',
    queue_nobody: 'No hay nadie disponible ahora mismo: responderemos aquí en cuanto podamos.',
    queue_place: 'Es el número {n} en la cola',
    queue_in_line: 'Está en la cola',
    queue_now: '{place} · en cualquier momento',
    queue_min: '{place} · unos {n} min',
    handoff: 'Una persona de nuestro equipo continuará a partir de aquí.',
    prechat_title: 'Antes de empezar',
    prechat_intro: 'Cuéntenos un poco sobre usted para que le ayude la persona adecuada.',
    name: 'Nombre',
    email: 'Correo electrónico',
    phone: 'Teléfono',
    topic: 'Tema',
    pick_topic: 'Elija un tema',
    optional: '(opcional)',
    start_chat: 'Iniciar chat',
    required: 'Rellene el campo {field}.',
    bad_email: 'Introduzca un correo como nombre@ejemplo.com.',
    bad_phone: 'Introduzca un número internacional como +34911234567.',
    offline_closed_short: 'Estamos fuera de nuestro horario; escríbanos y le responderemos aquí cuando volvamos.',
    offline_title: 'Ahora no estamos',
    offline_closed: 'Estamos fuera de nuestro horario. Déjenos un mensaje y le responderemos por correo o SMS.',
    offline_nobody: 'Ahora mismo no hay nadie disponible. Déjenos un mensaje y le responderemos por correo o SMS.',
    offline_opens: 'Volvemos a abrir {when}.',
    offline_contact: 'Indíquenos un correo o un teléfono (o ambos) para poder responderle.',
    offline_need_contact: 'Introduzca un correo o un teléfono para poder responderle.',
    your_message: 'Su mensaje',
    leave_message: 'Dejar un mensaje',
    message_left: '¡Gracias! Hemos recibido su mensaje; le responderemos en cuanto volvamos.',
    need_message: 'Escriba primero su mensaje.',
    emoji: 'Insertar emoji',
    emoji_list: 'Emojis',
    attach: 'Adjuntar un archivo',
    file_too_big: '{name} es demasiado grande (máximo {max} MB).',
    file_type: '{name} no es un tipo de archivo aceptado (imágenes, PDF, texto).',
    uploading: 'Enviando {name}…',
    upload_failed: 'No se pudo enviar {name}. Inténtelo de nuevo.',
    download: 'Descargar {name}',
    image_alt: 'Imagen: {name}',
    operator_avatar: '{name}',
    status_sending: 'Enviando…',
    status_sent: 'Enviado',
    status_read: 'Leído',
    status_failed: 'No enviado',
    status_retry: 'Reintentar',
  },
  fr: {
    subtitle: 'Écrivez-nous : nous répondons ici',
    search_help: 'Rechercher dans l’aide',
    close_chat: 'Fermer le chat',
    messages: 'Messages',
    welcome: 'Bonjour ! Posez-nous vos questions, nous vous répondrons ici.',
    message: 'Message',
    placeholder: 'Écrivez un message…',
    send: 'Envoyer le message',
    hint: 'Entrée pour envoyer, Maj+Entrée pour une nouvelle ligne',
    back_to_chat: '← Retour au chat',
    back_to_chat_new: '← Retour au chat (nouveau message)',
    help_articles: 'Articles d’aide',
    search_articles: 'Rechercher des articles d’aide',
    help_placeholder: 'De quoi avez-vous besoin ?',
    search: 'Rechercher',
    help_min: 'Tapez au moins 2 caractères.',
    help_found: 'Articles d’aide trouvés',
    back_to_results: '← Retour aux résultats',
    still_need_help: 'Besoin d’aide encore ?',
    write_to_us: 'Écrivez-nous',
    searching: 'Recherche…',
    help_failed: 'Impossible de rechercher les articles. Réessayez.',
    articles_one: '1 article trouvé.',
    articles_many: '{n} articles trouvés.',
    no_articles: 'Aucun article ne correspond à « {q} ». Vous pouvez nous écrire.',
    opening_article: 'Ouverture de l’article…',
    article_gone: 'Cet article n’est plus disponible.',
    article_failed: 'Impossible d’ouvrir l’article. Réessayez.',
    new_message_in_chat: 'Un nouveau message est arrivé dans le chat.',
    typing: '{name} écrit…',
    assistant: 'Assistant',
    offline_net: 'Impossible de joindre le serveur du chat. Vérifiez votre connexion.',
    too_long: 'Un message peut contenir au plus {n} caractères.',
    queue_nobody: 'Personne n’est disponible pour le moment : nous répondrons ici dès que possible.',
    queue_place: 'Vous êtes numéro {n} dans la file',
    queue_in_line: 'Vous êtes dans la file',
    queue_now: '{place} · d’un instant à l’autre',
    queue_min: '{place} · environ {n} min',
    handoff: 'Une personne de notre équipe va prendre le relais.',
    prechat_title: 'Avant de commencer',
    prechat_intro: 'Présentez-vous en quelques mots pour que la bonne personne vous aide.',
    name: 'Nom',
    email: 'E-mail',
    phone: 'Téléphone',
    topic: 'Sujet',
    pick_topic: 'Choisissez un sujet',
    optional: '(facultatif)',
    start_chat: 'Démarrer le chat',
    required: 'Veuillez remplir le champ {field}.',
    bad_email: 'Saisissez une adresse comme nom@exemple.fr.',
    bad_phone: 'Saisissez un numéro international comme +33123456789.',
    offline_closed_short: 'Nous sommes en dehors de nos horaires ; écrivez-nous, nous répondrons ici à notre retour.',
    offline_title: 'Nous sommes absents',
    offline_closed: 'Nous sommes en dehors de nos horaires. Laissez un message, nous répondrons par e-mail ou SMS.',
    offline_nobody: 'Personne n’est disponible pour le moment. Laissez un message, nous répondrons par e-mail ou SMS.',
    offline_opens: 'Nous rouvrons {when}.',
    offline_contact: 'Indiquez un e-mail ou un numéro de téléphone (ou les deux) pour que nous puissions répondre.',
    offline_need_contact: 'Saisissez un e-mail ou un numéro de téléphone pour que nous puissions répondre.',
    your_message: 'Votre message',
    leave_message: 'Laisser un message',
    message_left: 'Merci ! Nous avons bien reçu votre message et vous répondrons dès notre retour.',
    need_message: 'Écrivez d’abord votre message.',
    emoji: 'Insérer un emoji',
    emoji_list: 'Emojis',
    attach: 'Joindre un fichier',
    file_too_big: '{name} est trop volumineux (au plus {max} Mo).',
    file_type: '{name} n’est pas un type de fichier accepté (images, PDF, texte).',
    uploading: 'Envoi de {name}…',
    upload_failed: 'Impossible d’envoyer {name}. Réessayez.',
    download: 'Télécharger {name}',
    image_alt: 'Image : {name}',
    operator_avatar: '{name}',
    status_sending: 'Envoi…',
    status_sent: 'Envoyé',
    status_read: 'Lu',
    status_failed: 'Non envoyé',
    status_retry: 'Réessayer',
  },
  de: {
    subtitle: 'Schreiben Sie uns: Wir antworten hier',
    search_help: 'Hilfe durchsuchen',
    close_chat: 'Chat schließen',
    messages: 'Nachrichten',
    welcome: 'Hallo! Fragen Sie uns alles – wir antworten Ihnen hier.',
    message: 'Nachricht',
    placeholder: 'Nachricht schreiben…',
    send: 'Nachricht senden',
    hint: 'Eingabe zum Senden, Umschalt+Eingabe für eine neue Zeile',
    back_to_chat: '← Zurück zum Chat',
    back_to_chat_new: '← Zurück zum Chat (neue Nachricht)',
    help_articles: 'Hilfeartikel',
    search_articles: 'Hilfeartikel durchsuchen',
    help_placeholder: 'Wobei brauchen Sie Hilfe?',
    search: 'Suchen',
    help_min: 'Geben Sie mindestens 2 Zeichen ein.',
    help_found: 'Gefundene Hilfeartikel',
    back_to_results: '← Zurück zu den Ergebnissen',
    still_need_help: 'Brauchen Sie noch Hilfe?',
    write_to_us: 'Schreiben Sie uns',
    searching: 'Suche…',
    help_failed: 'Die Hilfeartikel konnten nicht durchsucht werden. Bitte erneut versuchen.',
    articles_one: '1 Artikel gefunden.',
    articles_many: '{n} Artikel gefunden.',
    no_articles: 'Kein Artikel passt zu „{q}“. Sie können uns stattdessen schreiben.',
    opening_article: 'Artikel wird geöffnet…',
    article_gone: 'Dieser Artikel ist nicht mehr verfügbar.',
    article_failed: 'Der Artikel konnte nicht geöffnet werden. Bitte erneut versuchen.',
    new_message_in_chat: 'Eine neue Nachricht ist im Chat eingegangen.',
    typing: '{name} schreibt…',
    assistant: 'Assistent',
    offline_net: 'Der Chat-Server ist nicht erreichbar. Prüfen Sie Ihre Verbindung.',
    too_long: 'Nachrichten dürfen höchstens {n} Zeichen lang sein.',
    queue_nobody: 'Gerade ist niemand verfügbar – wir antworten hier, sobald wir können.',
    queue_place: 'Sie sind Nummer {n} in der Warteschlange',
    queue_in_line: 'Sie sind in der Warteschlange',
    queue_now: '{place} · jeden Moment',
    queue_min: '{place} · etwa {n} Min.',
    handoff: 'Eine Person aus unserem Team übernimmt ab hier.',
    prechat_title: 'Bevor es losgeht',
    prechat_intro: 'Erzählen Sie uns kurz von sich, damit Ihnen die richtige Person hilft.',
    name: 'Name',
    email: 'E-Mail',
    phone: 'Telefon',
    topic: 'Thema',
    pick_topic: 'Thema wählen',
    optional: '(optional)',
    start_chat: 'Chat starten',
    required: 'Bitte füllen Sie {field} aus.',
    bad_email: 'Geben Sie eine Adresse wie name@beispiel.de ein.',
    bad_phone: 'Geben Sie eine internationale Nummer wie +4930123456 ein.',
    offline_closed_short: 'Wir sind außerhalb unserer Öffnungszeiten; schreiben Sie trotzdem, wir antworten hier, sobald wir zurück sind.',
    offline_title: 'Wir sind gerade nicht da',
    offline_closed: 'Wir sind außerhalb unserer Öffnungszeiten. Hinterlassen Sie eine Nachricht, wir antworten per E-Mail oder SMS.',
    offline_nobody: 'Gerade ist niemand aus unserem Team verfügbar. Hinterlassen Sie eine Nachricht, wir antworten per E-Mail oder SMS.',
    offline_opens: 'Wir sind wieder da: {when}.',
    offline_contact: 'Geben Sie eine E-Mail-Adresse oder Telefonnummer (oder beides) an, damit wir antworten können.',
    offline_need_contact: 'Geben Sie eine E-Mail-Adresse oder Telefonnummer an, damit wir antworten können.',
    your_message: 'Ihre Nachricht',
    leave_message: 'Nachricht hinterlassen',
    message_left: 'Danke! Ihre Nachricht ist bei uns; wir antworten, sobald wir zurück sind.',
    need_message: 'Schreiben Sie zuerst Ihre Nachricht.',
    emoji: 'Emoji einfügen',
    emoji_list: 'Emojis',
    attach: 'Datei anhängen',
    file_too_big: '{name} ist zu groß (höchstens {max} MB).',
    file_type: '{name} ist kein erlaubter Dateityp (Bilder, PDF, Text).',
    uploading: '{name} wird gesendet…',
    upload_failed: '{name} konnte nicht gesendet werden. Bitte erneut versuchen.',
    download: '{name} herunterladen',
    image_alt: 'Bild: {name}',
    operator_avatar: '{name}',
    status_sending: 'Wird gesendet…',
    status_sent: 'Gesendet',
    status_read: 'Gelesen',
    status_failed: 'Nicht gesendet',
    status_retry: 'Erneut senden',
  },
};

const listeners = new Set();
let explicit = null; // set by the API: wins over the page and the browser
let pageLocale = null; // the host page's <html lang>

// The supported locale for a tag like `fr-CA`, or null.
export function supported(tag) {
  if (typeof tag !== 'string') return null;
  const primary = tag.trim().split(/[-_]/)[0].toLowerCase();
  return LOCALES.includes(primary) ? primary : null;
}

function resolve() {
  const candidates = [explicit, ...(navigator.languages || []), navigator.language, pageLocale];
  for (const tag of candidates) {
    const locale = supported(tag);
    if (locale) return locale;
  }
  return 'en';
}

let current = resolve();

export const locale = () => current;

// t('typing', { name: 'Ana' }): the current locale's text with {placeholders} filled in.
export function t(key, values = {}) {
  const text = STRINGS[current][key] ?? STRINGS.en[key] ?? key;
  return text.replace(/\{(\w+)\}/g, (whole, name) => (Object.hasOwn(values, name) ? String(values[name]) : whole));
}

// Fills in every data-i18n* element under `root`.
export function translate(root = document) {
  document.documentElement.lang = current;
  for (const node of root.querySelectorAll('[data-i18n]')) node.textContent = t(node.dataset.i18n);
  for (const node of root.querySelectorAll('[data-i18n-label]')) node.setAttribute('aria-label', t(node.dataset.i18nLabel));
  for (const node of root.querySelectorAll('[data-i18n-placeholder]')) node.placeholder = t(node.dataset.i18nPlaceholder);
  for (const node of root.querySelectorAll('[data-i18n-title]')) node.title = t(node.dataset.i18nTitle);
}

function update() {
  const next = resolve();
  if (next === current) return;
  current = next;
  translate();
  for (const listener of listeners) listener(current);
}

// The JS API's choice (`LiveChat('setLocale', 'de')` through the loader's bridge).
export function setLocale(tag) {
  if (tag !== null && !supported(tag)) return false;
  explicit = tag;
  update();
  return true;
}

// The host page's <html lang>, when the loader tells us.
export function setPageLocale(tag) {
  pageLocale = typeof tag === 'string' ? tag.slice(0, 35) : null;
  update();
}

export function onLocaleChange(listener) {
  listeners.add(listener);
}

// A relative day and time, e.g. "tomorrow at 9:00 AM", in the current locale.
export function formatWhen(ms) {
  const date = new Date(ms);
  const now = new Date();
  const days = Math.round((new Date(date.toDateString()) - new Date(now.toDateString())) / 86_400_000);
  const time = new Intl.DateTimeFormat(current, { hour: 'numeric', minute: '2-digit' }).format(date);
  if (days >= 0 && days <= 1) {
    const day = new Intl.RelativeTimeFormat(current, { numeric: 'auto' }).format(days, 'day');
    return `${day} ${time}`;
  }
  return new Intl.DateTimeFormat(current, { weekday: 'long', hour: 'numeric', minute: '2-digit' }).format(date);
}

window.addEventListener('lcw:locale', (event) => {
  const tag = event && event.detail && event.detail.locale;
  if (typeof tag === 'string') setLocale(tag);
});
