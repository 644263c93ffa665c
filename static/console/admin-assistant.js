// Admin screens for the assistant (admin role only): the knowledge base (articles with a
// language and published filter; create, edit and delete), the assistant's settings (when it
// answers, clarifying questions, and each trigger that hands a conversation to people, with its
// limit), and business hours (the default ones and each team's: time zone, weekly intervals,
// holidays). Each render function returns the section's nodes, like admin.js's own.
//
// Text from the network goes in with textContent only; the forms send what the API documents
// and show its 400 messages, which name the field.

import {
  adminApi, button, el, field, handleAuthError, input, select, toast,
} from './core.js';
import {
  deleteItem, loadTeams, reloadSection, rowHeader, sectionHeading, table,
} from './admin.js';
import { errorLine, openDialog, confirmDialog } from './dialog.js';
import {
  formatIntervals, hoursDocument, LIMITS, MODES, readLimit, WEEKDAYS,
} from './handoff.js';
import { fullFormat } from '/shared/messages.js';

let counter = 0;
const nextId = (prefix) => `${prefix}-${++counter}`;

function checkbox(checked, text) {
  const box = document.createElement('input');
  box.type = 'checkbox';
  box.checked = Boolean(checked);
  const label = el('label', 'check');
  label.append(box, el('span', null, text));
  return { box, label };
}

function hint(text, control) {
  const node = el('p', 'field-hint', text);
  node.id = nextId('hint');
  const previous = control.getAttribute('aria-describedby');
  control.setAttribute('aria-describedby', previous ? `${previous} ${node.id}` : node.id);
  return node;
}

function commaList(text) {
  return String(text || '').split(',').map((item) => item.trim()).filter(Boolean);
}

// ---------------------------------------------------------------------------------------------
// Knowledge base

const LANGUAGE_TAG = /^[A-Za-z]{2,3}(-[A-Za-z0-9]{1,8})*$/;
const PUBLISHED_FILTERS = [['all', 'Published and drafts'], ['published', 'Published'], ['draft', 'Drafts']];
// Filters survive a reload of the section (after a save or a delete).
const kbFilters = { language: '', published: 'all' };

let languageNames = null;
try {
  languageNames = new Intl.DisplayNames([navigator.language || 'en'], { type: 'language' });
} catch { /* the tag as it is */ }
function languageLabel(tag) {
  try {
    const name = languageNames && languageNames.of(tag);
    return name && name !== tag ? `${name} (${tag})` : tag;
  } catch {
    return tag;
  }
}

export async function renderKnowledge(stillCurrent) {
  const [all, topicsResult] = await Promise.all([adminApi('/articles'), adminApi('/topics')]);
  if (!stillCurrent()) return [];
  const topics = topicsResult.topics || [];
  // Every language in use, for the filter (the list itself is asked for by language).
  const languages = [...new Set((all.articles || []).map((article) => article.language).filter(Boolean))].sort();
  if (kbFilters.language && !languages.includes(kbFilters.language)) kbFilters.language = '';
  const articles = kbFilters.language
    ? ((await adminApi(`/articles?language=${encodeURIComponent(kbFilters.language)}`)).articles || [])
    : (all.articles || []);
  if (!stillCurrent()) return [];

  const section = el('section', 'page-section');
  section.setAttribute('aria-labelledby', 'kb-heading');
  const head = el('div', 'section-head');
  const create = button('New article', 'primary', () => openArticleDialog(null, topics, languages));
  head.append(sectionHeading('Knowledge base', 'kb-heading'), create);
  section.append(
    head,
    el('p', 'muted', 'Published articles answer visitors in the widget’s help search, let the assistant answer questions, and feed operators’ suggested replies. Drafts are found by nobody.'),
  );

  const filters = el('div', 'inline-form kb-filters');
  filters.setAttribute('role', 'group');
  filters.setAttribute('aria-label', 'Filter articles');
  const language = select([['', 'All languages'], ...languages.map((tag) => [tag, languageLabel(tag)])], kbFilters.language);
  const published = select(PUBLISHED_FILTERS, kbFilters.published);
  filters.append(field('Language', language), field('Status', published));
  language.addEventListener('change', () => {
    kbFilters.language = language.value;
    reloadSection();
  });
  section.append(filters);

  const count = el('p', 'muted small kb-count');
  count.setAttribute('role', 'status');
  const listBox = el('div', 'kb-list');
  const fill = () => {
    const shown = articles.filter((article) => kbFilters.published === 'all'
      || (kbFilters.published === 'published' ? article.published : !article.published));
    count.textContent = `${shown.length} ${shown.length === 1 ? 'article' : 'articles'}`;
    if (!shown.length) {
      listBox.replaceChildren(el('p', 'muted', articles.length ? 'No article matches these filters.' : 'No articles yet. Write the answers to the questions customers ask most.'));
      return;
    }
    const { node, body } = table(['Title', 'Language', 'Topic', 'Tags', 'Status', 'Updated', 'Actions']);
    for (const article of shown) {
      const tr = el('tr');
      if (!article.published) tr.classList.add('is-draft');
      const status = el('span', article.published ? 'kb-status is-published' : 'kb-status', article.published ? 'Published' : 'Draft');
      const statusCell = el('td');
      statusCell.append(status);
      const actions = el('td', 'row-actions');
      const edit = button('Edit', 'ghost small', () => openArticleDialog(article, topics, languages));
      edit.setAttribute('aria-label', `Edit article ${article.title}`);
      const remove = button('Delete', 'ghost small danger-text', () => deleteItem(
        `/articles/${article.id}`,
        `Delete the article “${article.title}”?`,
        'Visitors, the assistant and operators’ suggestions stop finding it. This cannot be undone.',
        `Article “${article.title}” deleted`,
      ));
      remove.setAttribute('aria-label', `Delete article ${article.title}`);
      actions.append(edit, remove);
      tr.append(
        rowHeader(article.title),
        el('td', null, article.language || ''),
        el('td', null, article.topic || '–'),
        el('td', 'kb-tags', (article.tags || []).join(', ') || '–'),
        statusCell,
        el('td', 'nowrap', article.updated_at ? fullFormat.format(new Date(article.updated_at)) : ''),
        actions,
      );
      body.append(tr);
    }
    listBox.replaceChildren(node);
  };
  published.addEventListener('change', () => {
    kbFilters.published = published.value;
    fill();
  });
  fill();
  section.append(count, listBox);
  return [section];
}

function openArticleDialog(article, topics, languages) {
  const editing = Boolean(article);
  openDialog({
    title: editing ? `Edit article ${article.title}` : 'New article',
    className: 'dialog-wide',
    build(body, close) {
      const form = el('form', 'stack');
      form.noValidate = true;
      const current = article || { language: 'en', published: true, tags: [] };
      const title = input('text', current.title || '');
      title.maxLength = 200;
      title.autocomplete = 'off';
      const text = el('textarea', 'kb-body');
      text.rows = 12;
      text.maxLength = 20_000;
      text.value = current.body || '';
      const tags = input('text', (current.tags || []).join(', '));
      tags.placeholder = 'shipping, delivery';
      tags.autocomplete = 'off';
      const language = input('text', current.language || 'en');
      language.maxLength = 35;
      language.autocomplete = 'off';
      language.spellcheck = false;
      const known = el('datalist');
      known.id = nextId('kb-languages');
      for (const tag of new Set(['en', 'es', 'fr', 'de', ...languages])) {
        const option = el('option');
        option.value = tag;
        known.append(option);
      }
      language.setAttribute('list', known.id);
      const topicChoices = [['', 'No topic'], ...topics.map((topic) => [topic.name, topic.label && topic.label !== topic.name ? `${topic.label} (${topic.name})` : topic.name])];
      if (current.topic && !topics.some((topic) => topic.name === current.topic)) topicChoices.push([current.topic, current.topic]);
      const topic = select(topicChoices, current.topic || '');
      const published = checkbox(current.published, 'Published: visitors, the assistant and operators can find it');
      const error = errorLine();
      const actions = el('div', 'dialog-actions');
      const save = el('button', 'primary', editing ? 'Save article' : 'Create article');
      save.type = 'submit';
      actions.append(button('Cancel', 'ghost', close), save);
      form.append(
        field('Title', title, 'Up to 200 characters. Say it the way customers ask (“Where is my order?”): the title weighs most in search.'),
        field('Body', text, 'Plain text or markdown, up to 20,000 characters. The assistant quotes it word for word, never more.'),
        field('Tags', tags, 'Separated by commas: other words customers use for this.'),
        field('Language', language, 'A language tag like en, es or pt-BR. The assistant answers customers from articles in their language first.'),
        known,
        field('Topic', topic, 'Optional. Ties the article to a topic (see Topics).'),
        published.label,
        error.node,
        actions,
      );
      body.append(form);
      form.addEventListener('submit', async (event) => {
        event.preventDefault();
        error.clear();
        const payload = {
          title: title.value.trim(),
          body: text.value.trim(),
          tags: commaList(tags.value),
          language: language.value.trim(),
          topic: topic.value || null,
          published: published.box.checked,
        };
        if (!payload.title) {
          error.show('Give the article a title.');
          title.focus();
          return;
        }
        if (!payload.body) {
          error.show('Write the article’s text.');
          text.focus();
          return;
        }
        if (!LANGUAGE_TAG.test(payload.language)) {
          error.show('Language: use a language tag like en, es or pt-BR.');
          language.focus();
          return;
        }
        save.disabled = true;
        try {
          if (editing) await adminApi(`/articles/${article.id}`, { method: 'PATCH', body: payload });
          else await adminApi('/articles', { method: 'POST', body: payload });
          close();
          toast(editing ? `Article “${payload.title}” saved` : `Article “${payload.title}” created`);
          reloadSection();
        } catch (failure) {
          save.disabled = false;
          if (!handleAuthError(failure)) error.show(failure.message);
        }
      });
    },
  });
}

// ---------------------------------------------------------------------------------------------
// Assistant settings

// Each trigger: its switch, its words, and (for some) the limit that sets it off.
const TRIGGER_FIELDS = [
  {
    key: 'explicit_request',
    label: 'The customer asks for a person',
    help: 'In any wording, in English, Spanish, French or German (“can I talk to a human?”, “quiero hablar con una persona”). Words like “travel agent” or “file manager” do not count.',
  },
  {
    key: 'frustration',
    label: 'The customer sounds frustrated',
    help: 'Signals add up over the conversation: strong ones (“that didn’t help”, threats to cancel, billing disputes, legal words, SHOUTING) count 1, mild ones (“still waiting”, “again”, “!!”) count 0.5.',
    limit: { key: 'frustration_threshold', label: 'Hand over at a frustration score of', help: 'From 0.5 to 5. Lower hands over sooner; 1 means one strong signal or two mild ones.' },
  },
  {
    key: 'low_confidence',
    label: 'The knowledge base has no confident answer',
    help: 'After the clarifying questions allowed above, a question the articles do not answer well goes to a person instead of a guess.',
    limit: { key: 'min_confidence', label: 'Confidence the assistant needs to answer', help: 'From 0 to 1 (0.5 by default). Higher answers less often and hands over more.' },
  },
  {
    key: 'vip',
    label: 'The customer is a VIP',
    help: 'Contacts whose “tier” attribute is “vip” always talk to a person.',
  },
  {
    key: 'human_only_topics',
    label: 'The topic is one only people handle',
    help: 'Topics marked “Human only” (see Topics) go to a person at once.',
  },
  {
    key: 'long_wait',
    label: 'The customer has waited too long for a useful answer',
    help: 'Counted from the customer’s first unanswered question.',
    limit: { key: 'max_wait_without_answer_s', label: 'Seconds without a useful answer', help: 'From 10 to 3600 (180 by default).' },
  },
];

export async function renderAssistant(stillCurrent) {
  const result = await adminApi('/assistant');
  if (!stillCurrent()) return [];
  const settings = result.assistant || {};
  const escalation = settings.escalation || {};

  const section = el('section', 'page-section');
  section.setAttribute('aria-labelledby', 'assistant-heading');
  const form = el('form', 'stack narrow assistant-form');
  form.noValidate = true;

  const modes = el('fieldset', 'radio-list');
  modes.append(el('legend', null, 'When the assistant answers'));
  const modeInputs = [];
  for (const [value, label, help] of MODES) {
    const radio = document.createElement('input');
    radio.type = 'radio';
    radio.name = 'assistant-mode';
    radio.value = value;
    radio.checked = settings.mode === value;
    const wrap = el('label', 'radio radio-described');
    const words = el('span');
    words.append(el('span', 'radio-title', label), el('span', 'field-hint', help));
    wrap.append(radio, words);
    modes.append(wrap);
    modeInputs.push(radio);
  }

  const clarifications = select([0, 1, 2, 3].map((n) => [n, n === 0 ? 'None: hand over at once' : String(n)]), settings.max_clarifications ?? 1);
  const clarifyField = field(
    'Clarifying questions before handing over',
    clarifications,
    'When no article fits well, the assistant may ask the customer to say more (offering the closest articles) up to this many times before a person takes over.',
  );

  const triggers = el('fieldset', 'trigger-list');
  triggers.append(el('legend', null, 'Hand the conversation to a person when…'));
  const controls = {};
  for (const trigger of TRIGGER_FIELDS) {
    const row = el('div', 'trigger');
    const toggle = checkbox(escalation[trigger.key] ?? true, trigger.label);
    row.append(toggle.label, hint(trigger.help, toggle.box));
    controls[trigger.key] = toggle.box;
    if (trigger.limit) {
      const limit = LIMITS[trigger.limit.key];
      const number = input('number', escalation[trigger.limit.key] ?? '');
      number.min = String(limit.min);
      number.max = String(limit.max);
      number.step = String(limit.step);
      number.inputMode = limit.step >= 1 ? 'numeric' : 'decimal';
      const limitField = field(trigger.limit.label, number, trigger.limit.help);
      limitField.classList.add('trigger-limit');
      row.append(limitField);
      controls[trigger.limit.key] = number;
      // A limit means nothing while its trigger is off.
      const sync = () => { number.disabled = !toggle.box.checked; };
      toggle.box.addEventListener('change', sync);
      sync();
    }
    triggers.append(row);
  }

  const error = errorLine();
  const save = el('button', 'primary', 'Save assistant settings');
  save.type = 'submit';
  const status = el('span', 'muted small');
  status.setAttribute('role', 'status');
  const actions = el('div', 'form-actions');
  actions.append(save, status);
  form.append(
    el('p', 'muted', 'The assistant answers from published knowledge-base articles only, quoting them; it never makes up an answer. Every handoff is recorded in the conversation’s timeline with its reasons, and the customer is told a person is coming and how long it may take.'),
    modes, clarifyField, triggers, error.node, actions,
  );
  section.append(sectionHeading('Assistant', 'assistant-heading'), form);
  form.addEventListener('input', () => { status.textContent = ''; });
  form.addEventListener('change', () => { status.textContent = ''; });
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    error.clear();
    const mode = modeInputs.find((radio) => radio.checked);
    if (!mode) {
      error.show('Choose when the assistant answers.');
      modeInputs[0].focus();
      return;
    }
    const patch = { mode: mode.value, max_clarifications: Number(clarifications.value), escalation: {} };
    for (const trigger of TRIGGER_FIELDS) {
      patch.escalation[trigger.key] = controls[trigger.key].checked;
      if (!trigger.limit) continue;
      const control = controls[trigger.limit.key];
      // A switched-off trigger keeps its stored limit.
      if (control.disabled) continue;
      const read = readLimit(trigger.limit.key, control.value, trigger.limit.label);
      if (read.error) {
        error.show(read.error);
        control.focus();
        return;
      }
      patch.escalation[trigger.limit.key] = read.value;
    }
    save.disabled = true;
    try {
      await adminApi('/assistant', { method: 'PATCH', body: patch });
      status.textContent = 'Saved';
      toast('Assistant settings saved');
    } catch (failure) {
      if (!handleAuthError(failure)) error.show(failure.message);
    } finally {
      save.disabled = false;
    }
  });
  return [section];
}

// ---------------------------------------------------------------------------------------------
// Business hours

const DAY_NAMES = {
  monday: 'Monday', tuesday: 'Tuesday', wednesday: 'Wednesday', thursday: 'Thursday', friday: 'Friday', saturday: 'Saturday', sunday: 'Sunday',
};
// Which hours the editor shows: '' for the default hours, else a team id (kept across reloads).
let hoursTarget = '';

function timeZones() {
  try {
    return Intl.supportedValuesOf('timeZone');
  } catch {
    return ['UTC', 'Europe/London', 'Europe/Berlin', 'America/New_York', 'America/Los_Angeles', 'Asia/Tokyo', 'Australia/Sydney'];
  }
}

function browserTimeZone() {
  try {
    return Intl.DateTimeFormat().resolvedOptions().timeZone || 'UTC';
  } catch {
    return 'UTC';
  }
}

export async function renderHours(stillCurrent) {
  const teams = await loadTeams();
  if (hoursTarget && !teams.some((team) => String(team.id) === hoursTarget)) hoursTarget = '';
  const path = hoursTarget ? `/teams/${hoursTarget}/hours` : '/hours';
  const result = await adminApi(path);
  if (!stillCurrent()) return [];
  const hours = result.hours;
  const teamName = hoursTarget ? teams.find((team) => String(team.id) === hoursTarget)?.name : null;

  const section = el('section', 'page-section');
  section.setAttribute('aria-labelledby', 'hours-heading');
  const whose = select([['', 'Default hours'], ...teams.map((team) => [team.id, `Team ${team.name}`])], hoursTarget);
  whose.addEventListener('change', () => {
    hoursTarget = whose.value;
    reloadSection();
  });
  const state = el('p', 'hours-state');
  state.setAttribute('role', 'status');
  if (hours) state.textContent = `${teamName ? `${teamName} has its own hours` : 'Business hours are set'}, in ${hours.time_zone}.`;
  else if (teamName) state.textContent = `${teamName} has no hours of its own: it follows the default hours.`;
  else state.textContent = 'No business hours set: the team counts as always open.';

  const form = el('form', 'stack hours-form');
  form.noValidate = true;
  const zone = input('text', hours ? hours.time_zone : browserTimeZone());
  zone.maxLength = 64;
  zone.autocomplete = 'off';
  zone.spellcheck = false;
  const zones = el('datalist');
  zones.id = nextId('time-zones');
  for (const name of timeZones()) {
    const option = el('option');
    option.value = name;
    zones.append(option);
  }
  zone.setAttribute('list', zones.id);

  const week = el('fieldset', 'hours-week');
  week.append(el('legend', null, 'Opening hours each week'));
  week.append(el('p', 'field-hint', 'Intervals in local time like 09:00-12:00, separated by commas; several a day are fine. Leave a day empty when closed. 24:00 ends a day.'));
  const days = {};
  for (const day of WEEKDAYS) {
    const control = input('text', hours ? formatIntervals(hours.weekly && hours.weekly[day]) : '');
    control.placeholder = 'closed';
    control.autocomplete = 'off';
    control.spellcheck = false;
    const row = field(DAY_NAMES[day], control);
    row.classList.add('hours-day');
    days[day] = control;
    week.append(row);
  }

  const holidaysBox = el('fieldset', 'hours-holidays');
  holidaysBox.append(el('legend', null, 'Holidays'));
  holidaysBox.append(el('p', 'field-hint', 'Closed all day, or open only the hours given instead of the weekday’s. Dates are the team’s local dates.'));
  const holidayList = el('ul', 'holiday-list');
  const holidayRows = [];
  const addHoliday = (holiday = {}) => {
    const item = el('li', 'holiday');
    const date = input('date', holiday.date || '');
    const name = input('text', holiday.name || '');
    name.maxLength = 100;
    name.placeholder = 'Christmas Day';
    const open = input('text', formatIntervals(holiday.hours));
    open.placeholder = 'closed';
    open.spellcheck = false;
    const entry = { date, name, open, item };
    const remove = button('Remove', 'ghost small danger-text', () => {
      holidayRows.splice(holidayRows.indexOf(entry), 1);
      item.remove();
      addButton.focus();
    });
    remove.setAttribute('aria-label', `Remove holiday ${holiday.name || holiday.date || ''}`.trim());
    name.addEventListener('input', () => remove.setAttribute('aria-label', `Remove holiday ${name.value.trim() || date.value}`.trim()));
    item.append(field('Date', date), field('Name', name), field('Open hours (optional)', open), remove);
    holidayList.append(item);
    holidayRows.push(entry);
    return entry;
  };
  for (const holiday of (hours && hours.holidays) || []) addHoliday(holiday);
  const addButton = button('Add holiday', 'ghost small', () => addHoliday().date.focus());
  holidaysBox.append(holidayList, addButton);

  const error = errorLine();
  const save = el('button', 'primary', 'Save hours');
  save.type = 'submit';
  const clear = button(teamName ? 'Follow the default hours' : 'Clear hours', 'ghost', async () => {
    const ok = await confirmDialog({
      title: teamName ? `${teamName} follows the default hours?` : 'Clear the business hours?',
      text: teamName ? 'Its own hours are removed.' : 'Without hours, teams without their own count as always open.',
      confirmText: teamName ? 'Remove its hours' : 'Clear hours',
      danger: true,
    });
    if (!ok) return;
    try {
      await adminApi(path, { method: 'PUT', body: null });
      toast(teamName ? `${teamName} follows the default hours` : 'Business hours cleared');
      reloadSection();
    } catch (failure) {
      if (!handleAuthError(failure)) error.show(failure.message);
    }
  });
  clear.hidden = !hours;
  const status = el('span', 'muted small');
  status.setAttribute('role', 'status');
  const actions = el('div', 'form-actions');
  actions.append(save, clear, status);
  const zoneField = field('Time zone', zone, 'An IANA time zone like Europe/Berlin or America/New_York. Hours follow its daylight saving time.');
  zoneField.classList.add('hours-zone');
  form.append(zoneField, zones, week, holidaysBox, error.node, actions);
  form.addEventListener('input', () => { status.textContent = ''; });
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    error.clear();
    if (!zone.value.trim()) {
      error.show('Time zone: choose one, like Europe/Berlin.');
      zone.focus();
      return;
    }
    const weekly = {};
    for (const day of WEEKDAYS) weekly[day] = days[day].value;
    const missing = holidayRows.find((row) => !row.date.value || !row.name.value.trim());
    if (missing) {
      error.show('Each holiday needs a date and a name.');
      (missing.date.value ? missing.name : missing.date).focus();
      return;
    }
    const doc = hoursDocument({
      timeZone: zone.value,
      weekly,
      holidays: holidayRows.map((row) => ({ date: row.date.value, name: row.name.value, hours: row.open.value })),
    });
    save.disabled = true;
    try {
      await adminApi(path, { method: 'PUT', body: doc });
      toast(teamName ? `Hours of ${teamName} saved` : 'Business hours saved');
      reloadSection();
    } catch (failure) {
      save.disabled = false;
      if (!handleAuthError(failure)) error.show(failure.message);
    }
  });

  const whoseField = field('Hours of', whose);
  whoseField.classList.add('hours-target');
  section.append(
    sectionHeading('Business hours', 'hours-heading'),
    el('p', 'muted', 'The assistant and the widget use these to tell customers whether someone is there now and when the next opening is. A team without hours of its own follows the default hours.'),
    whoseField,
    state,
    form,
  );
  return [section];
}
