// Admin screens (admin role only): operators (invite with a copyable link, edit role, capacity,
// skills, languages and teams, deactivate/reactivate, re-invite), teams and their routing, the
// routing of conversations without a team, topics (detection rules, team, priority, human-only),
// tags, team canned responses and the visitor-facing transfer notices; the knowledge base, the
// assistant's settings and business hours are in admin-assistant.js, outgoing webhooks in
// admin-webhooks.js, the website widget's look and forms in admin-widget.js, the audit log,
// customers' data (export, erasure) and retention in admin-privacy.js. Built when shown, removed on sign-out.

import {
  adminApi, button, el, emit, field, handleAuthError, hasRole, input, on, PRESENCE_LABELS, safeColor,
  select, state, tagChip, toast,
} from './core.js';
import { confirmDialog, errorLine, openDialog } from './dialog.js';
import { renderAssistant, renderHours, renderKnowledge } from './admin-assistant.js';
import { renderWebhooks } from './admin-webhooks.js';
import { renderWidget } from './admin-widget.js';
import { renderAudit, renderCustomers, renderRetention } from './admin-privacy.js';
import { fullFormat } from '/shared/messages.js';

const SECTIONS = [
  ['operators', 'Operators'],
  ['teams', 'Teams'],
  ['routing', 'Routing'],
  ['topics', 'Topics'],
  ['hours', 'Business hours'],
  ['tags', 'Tags'],
  ['canned', 'Canned responses'],
  ['knowledge', 'Knowledge base'],
  ['assistant', 'Assistant'],
  ['webhooks', 'Webhooks'],
  ['widget', 'Widget'],
  ['settings', 'Settings'],
  ['customers', 'Customer data'],
  ['retention', 'Retention'],
  ['audit', 'Audit log'],
];
const ROLES = [['operator', 'Operator'], ['supervisor', 'Supervisor'], ['admin', 'Admin']];

const $ = (id) => document.getElementById(id);
const ui = {};
let section = 'operators';
let seq = 0;
let adminOperators = []; // GET /api/admin/operators, including deactivated ones

export function initAdmin() {
  ui.content = $('admin-content');
  on('view:shown', ({ view, sub }) => {
    if (view !== 'admin' || !hasRole('admin')) return;
    if (sub && SECTIONS.some(([key]) => key === sub)) section = sub;
    renderShell();
  });
}

export function resetAdmin() {
  seq += 1;
  adminOperators = [];
  section = 'operators';
  ui.content.replaceChildren();
}

export function currentSection() {
  return section;
}

function renderShell() {
  const nav = el('nav', 'subnav');
  nav.setAttribute('aria-label', 'Admin sections');
  for (const [key, label] of SECTIONS) {
    const link = button(label, 'subnav-link', () => {
      section = key;
      emit('view:navigate', { view: 'admin', sub: key });
      renderShell();
      ui.content.querySelector('.subnav-link[aria-current="page"]')?.focus();
    });
    if (key === section) link.setAttribute('aria-current', 'page');
    nav.append(link);
  }
  const body = el('div', 'admin-body');
  body.id = 'admin-body';
  ui.content.replaceChildren(nav, body);
  loadSection(body);
}

async function loadSection(body) {
  seq += 1;
  const mine = seq;
  body.replaceChildren(el('p', 'muted', 'Loading…'));
  const render = {
    operators: renderOperators,
    teams: renderTeams,
    routing: renderRouting,
    topics: renderTopics,
    hours: renderHours,
    tags: renderTags,
    canned: renderCanned,
    knowledge: renderKnowledge,
    assistant: renderAssistant,
    webhooks: renderWebhooks,
    widget: renderWidget,
    settings: renderSettings,
    customers: renderCustomers,
    retention: renderRetention,
    audit: renderAudit,
  }[section];
  try {
    const nodes = await render(() => mine === seq);
    if (mine !== seq) return;
    body.replaceChildren(...nodes);
  } catch (error) {
    if (handleAuthError(error) || mine !== seq) return;
    body.replaceChildren(el('p', 'form-error', `Could not load: ${error.message}`));
  }
}

export function reloadSection() {
  const body = $('admin-body');
  if (body) loadSection(body);
}

export function sectionHeading(text, id) {
  const heading = el('h2', null, text);
  heading.id = id;
  return heading;
}

export function table(headers) {
  const node = el('table', 'table');
  const head = el('thead');
  const tr = el('tr');
  for (const text of headers) {
    const th = el('th', null, text);
    th.scope = 'col';
    tr.append(th);
  }
  head.append(tr);
  const body = el('tbody');
  node.append(head, body);
  return { node, body };
}

export function rowHeader(text) {
  const th = el('th', null, text);
  th.scope = 'row';
  return th;
}

function absoluteUrl(url) {
  try { return new URL(url, window.location.origin).href; } catch { return String(url); }
}

// A read-only field with the invite link and a Copy button.
function inviteLinkBox(name, result) {
  const box = el('div', 'invite-box');
  box.setAttribute('role', 'status');
  const url = absoluteUrl(result.invite_url);
  const link = input('text', url);
  link.readOnly = true;
  link.className = 'invite-url';
  const copy = button('Copy link', 'ghost small', async () => {
    let copied = false;
    try {
      await navigator.clipboard.writeText(url);
      copied = true;
    } catch {
      link.select();
      try { copied = document.execCommand('copy'); } catch { copied = false; }
    }
    copy.textContent = copied ? 'Copied' : 'Select and copy it';
    link.focus();
    link.select();
  });
  const expires = result.invite_expires_at ? ` It works once, until ${fullFormat.format(new Date(result.invite_expires_at))}.` : '';
  box.append(el('p', null, `Send this link to ${name}: they choose their password there.${expires}`), field(`Invite link for ${name}`, link), copy);
  return box;
}

// ---------------------------------------------------------------------------------------------
// Operators

async function loadAdminOperators() {
  const result = await adminApi('/operators');
  adminOperators = result.operators || [];
  return adminOperators;
}

export async function loadTeams() {
  const result = await adminApi('/teams');
  return result.teams || [];
}

function operatorStatus(operator) {
  if (operator.active === false) return 'Deactivated';
  if (operator.invited) return 'Invited';
  if (operator.available) return 'Available';
  if (!operator.online) return 'Offline';
  return PRESENCE_LABELS[operator.presence] || operator.presence || '';
}

async function renderOperators(stillCurrent) {
  const [operators, teams] = await Promise.all([loadAdminOperators(), loadTeams()]);
  if (!stillCurrent()) return [];
  const teamNames = new Map(teams.map((team) => [team.id, team.name]));

  const inviteSection = el('section', 'page-section');
  inviteSection.setAttribute('aria-labelledby', 'invite-heading');
  inviteSection.append(sectionHeading('Invite an operator', 'invite-heading'));
  const form = el('form', 'inline-form');
  form.noValidate = true;
  const name = input('text');
  name.maxLength = 100;
  name.autocomplete = 'off';
  const email = input('email');
  email.maxLength = 254;
  email.autocomplete = 'off';
  const role = select(ROLES, 'operator');
  const capacity = input('number');
  capacity.min = '0';
  capacity.max = '50';
  capacity.placeholder = 'default';
  const submit = el('button', 'primary', 'Send invite');
  submit.type = 'submit';
  const error = errorLine();
  const result = el('div', 'invite-result');
  form.append(field('Name', name), field('Email', email), field('Role', role), field('Capacity', capacity), submit);
  inviteSection.append(form, error.node, result);
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    error.clear();
    const body = { name: name.value.trim(), email: email.value.trim(), role: role.value };
    if (!body.name || !body.email) {
      error.show('Enter a name and an email address.');
      (body.name ? email : name).focus();
      return;
    }
    if (capacity.value !== '') body.capacity = Number(capacity.value);
    submit.disabled = true;
    try {
      const answer = await adminApi('/operators', { method: 'POST', body });
      result.replaceChildren(inviteLinkBox(body.name, answer));
      name.value = '';
      email.value = '';
      capacity.value = '';
      role.value = 'operator';
      emit('directory:reload');
      await refreshOperatorTable(tableBox, teamNames, stillCurrent);
      result.querySelector('.invite-url')?.focus();
    } catch (failure) {
      if (handleAuthError(failure)) return;
      error.show(failure.code === 'email_taken' ? 'Someone with this email already has an account.' : failure.message);
    } finally {
      submit.disabled = false;
    }
  });

  const listSection = el('section', 'page-section');
  listSection.setAttribute('aria-labelledby', 'operators-heading');
  const tableBox = el('div');
  listSection.append(sectionHeading('Operators', 'operators-heading'), tableBox);
  fillOperatorTable(tableBox, operators, teamNames);
  return [inviteSection, listSection];
}

async function refreshOperatorTable(box, teamNames, stillCurrent) {
  const operators = await loadAdminOperators();
  if (stillCurrent && !stillCurrent()) return;
  fillOperatorTable(box, operators, teamNames);
}

function fillOperatorTable(box, operators, teamNames) {
  const { node, body } = table(['Name', 'Email', 'Role', 'Capacity', 'Teams', 'Status', 'Actions']);
  node.classList.add('operators-table');
  for (const operator of operators) {
    const tr = el('tr');
    tr.dataset.operator = String(operator.id);
    if (operator.active === false) tr.classList.add('is-inactive');
    const teams = (operator.team_ids || []).map((id) => teamNames.get(id)).filter(Boolean).join(', ');
    const actions = el('td', 'row-actions');
    const edit = button('Edit', 'ghost small', () => openOperatorDialog(operator, box, teamNames));
    edit.setAttribute('aria-label', `Edit ${operator.name}`);
    const reinvite = button('Re-invite', 'ghost small', () => reinviteOperator(operator));
    reinvite.setAttribute('aria-label', `Re-invite ${operator.name}`);
    const active = operator.active !== false;
    const toggle = button(active ? 'Deactivate' : 'Reactivate', active ? 'ghost small danger-text' : 'ghost small', () => setActive(operator, !active, box, teamNames));
    toggle.setAttribute('aria-label', `${active ? 'Deactivate' : 'Reactivate'} ${operator.name}`);
    if (state.me && operator.id === state.me.id) toggle.disabled = true;
    actions.append(edit, reinvite, toggle);
    tr.append(
      rowHeader(operator.name),
      el('td', null, operator.email),
      el('td', null, (ROLES.find(([key]) => key === operator.role) || [null, operator.role])[1]),
      el('td', null, operator.capacity === null || operator.capacity === undefined ? '–' : String(operator.capacity)),
      el('td', null, teams || '–'),
      el('td', null, operatorStatus(operator)),
      actions,
    );
    body.append(tr);
  }
  box.replaceChildren(node);
}

async function reinviteOperator(operator) {
  try {
    const answer = await adminApi(`/operators/${operator.id}/invite`, { method: 'POST', body: {} });
    openDialog({
      title: `New invite for ${operator.name}`,
      build(body, close) {
        body.append(inviteLinkBox(operator.name, answer), el('p', 'muted small', 'Any earlier link for them no longer works.'));
        const actions = el('div', 'dialog-actions');
        actions.append(button('Done', 'primary', close));
        body.append(actions);
      },
    });
  } catch (error) {
    if (!handleAuthError(error)) toast(error.message, 'error');
  }
}

async function setActive(operator, active, box, teamNames) {
  if (!active) {
    const ok = await confirmDialog({
      title: `Deactivate ${operator.name}?`,
      text: 'They are signed out at once and their open conversations go back to the queue. You can reactivate them later.',
      confirmText: 'Deactivate',
      danger: true,
    });
    if (!ok) return;
  }
  try {
    await adminApi(`/operators/${operator.id}`, { method: 'PATCH', body: { active } });
    toast(`${operator.name} ${active ? 'reactivated' : 'deactivated'}`);
    emit('directory:reload');
    await refreshOperatorTable(box, teamNames);
  } catch (error) {
    if (handleAuthError(error)) return;
    toast(error.code === 'last_admin' ? 'This is the last active admin: make someone else admin first.' : error.message, 'error');
  }
}

function openOperatorDialog(operator, box, teamNames) {
  openDialog({
    title: `Edit ${operator.name}`,
    className: 'dialog-wide',
    build(body, close) {
      const form = el('form', 'stack');
      form.noValidate = true;
      const name = input('text', operator.name);
      name.maxLength = 100;
      const role = select(ROLES, operator.role);
      const capacity = input('number', operator.capacity ?? '');
      capacity.min = '0';
      capacity.max = '50';
      const languages = input('text', (operator.languages || []).join(', '));
      languages.placeholder = 'en, fr';

      const skills = el('fieldset', 'skills');
      skills.append(el('legend', null, 'Skills'));
      // Skills routing matches a conversation's topic against skill names, so the topic names
      // are offered as suggestions.
      const skillHint = el('p', 'field-hint', 'Skill names are topic names (see Topics): skills routing gives a topic’s conversations to operators with that skill, higher levels first. region:… and tier:… skills match the contact’s region and tier.');
      skillHint.id = `skills-hint-${operator.id}`;
      const topicList = el('datalist');
      topicList.id = `topic-names-${operator.id}`;
      adminApi('/topics').then((result) => {
        topicList.replaceChildren(...(result.topics || []).map((topic) => {
          const option = el('option');
          option.value = topic.name;
          option.label = topic.label;
          return option;
        }));
      }).catch((failure) => { handleAuthError(failure); });
      skills.append(skillHint, topicList);
      const skillRows = el('div', 'skill-rows');
      const addSkill = (skill = '', level = 3) => {
        const row = el('div', 'skill-row');
        const skillInput = input('text', skill);
        skillInput.className = 'skill-name';
        skillInput.setAttribute('aria-label', 'Skill');
        skillInput.setAttribute('aria-describedby', skillHint.id);
        skillInput.setAttribute('list', topicList.id);
        skillInput.placeholder = 'billing';
        skillInput.maxLength = 64;
        const levelSelect = select([1, 2, 3, 4, 5].map((n) => [n, `Level ${n}`]), level);
        levelSelect.className = 'skill-level';
        levelSelect.setAttribute('aria-label', skill ? `Level of ${skill}` : 'Skill level');
        skillInput.addEventListener('input', () => levelSelect.setAttribute('aria-label', skillInput.value ? `Level of ${skillInput.value}` : 'Skill level'));
        const remove = button('×', 'icon-button', () => {
          row.remove();
          addButton.focus();
        });
        remove.setAttribute('aria-label', skill ? `Remove skill ${skill}` : 'Remove skill');
        row.append(skillInput, levelSelect, remove);
        skillRows.append(row);
        return skillInput;
      };
      for (const skill of operator.skills || []) addSkill(skill.skill, skill.level);
      const addButton = button('Add skill', 'ghost small', () => addSkill().focus());
      skills.append(skillRows, addButton);

      const teamsBox = el('fieldset', 'checkbox-list');
      teamsBox.append(el('legend', null, 'Teams'));
      for (const [id, teamName] of teamNames) {
        const label = el('label', 'check');
        const box2 = document.createElement('input');
        box2.type = 'checkbox';
        box2.value = String(id);
        box2.checked = (operator.team_ids || []).includes(id);
        label.append(box2, el('span', null, teamName));
        teamsBox.append(label);
      }
      if (!teamNames.size) teamsBox.append(el('p', 'muted small', 'No teams yet.'));

      const error = errorLine();
      const actions = el('div', 'dialog-actions');
      const save = el('button', 'primary', 'Save');
      save.type = 'submit';
      actions.append(button('Cancel', 'ghost', close), save);
      form.append(field('Name', name), field('Role', role), field('Capacity', capacity, 'How many conversations at once (0-50).'), skills,
        field('Languages', languages, 'Language codes, separated by commas.'), teamsBox, error.node, actions);
      body.append(form);

      form.addEventListener('submit', async (event) => {
        event.preventDefault();
        error.clear();
        const skillList = [];
        for (const row of skillRows.querySelectorAll('.skill-row')) {
          const skill = row.querySelector('.skill-name').value.trim();
          if (skill) skillList.push({ skill, level: Number(row.querySelector('.skill-level').value) });
        }
        const patch = {
          name: name.value.trim(),
          role: role.value,
          skills: skillList,
          languages: languages.value.split(',').map((l) => l.trim()).filter(Boolean),
          team_ids: [...teamsBox.querySelectorAll('input:checked')].map((c) => Number(c.value)),
        };
        if (!patch.name) {
          error.show('A name is needed.');
          name.focus();
          return;
        }
        if (capacity.value !== '') patch.capacity = Number(capacity.value);
        save.disabled = true;
        try {
          await adminApi(`/operators/${operator.id}`, { method: 'PATCH', body: patch });
          close();
          toast(`${patch.name} saved`);
          emit('directory:reload');
          await refreshOperatorTable(box, teamNames);
        } catch (failure) {
          save.disabled = false;
          if (handleAuthError(failure)) return;
          error.show(failure.code === 'last_admin' ? 'This is the last active admin: they must stay admin.' : failure.message);
        }
      });
    },
  });
}

// ---------------------------------------------------------------------------------------------
// Teams

function memberChecks(operators, selected) {
  const box = el('fieldset', 'checkbox-list');
  box.append(el('legend', null, 'Members'));
  for (const operator of operators.filter((o) => o.active !== false)) {
    const label = el('label', 'check');
    const check = document.createElement('input');
    check.type = 'checkbox';
    check.value = String(operator.id);
    check.checked = selected.includes(operator.id);
    label.append(check, el('span', null, operator.name));
    box.append(label);
  }
  return box;
}

async function renderTeams(stillCurrent) {
  const [teams, operators] = await Promise.all([loadTeams(), loadAdminOperators()]);
  if (!stillCurrent()) return [];
  const names = new Map(operators.map((operator) => [operator.id, operator.name]));

  const create = el('section', 'page-section');
  create.setAttribute('aria-labelledby', 'team-create-heading');
  const form = el('form', 'stack narrow');
  form.noValidate = true;
  const name = input('text');
  name.maxLength = 60;
  const members = memberChecks(operators, []);
  const error = errorLine();
  const submit = el('button', 'primary', 'Create team');
  submit.type = 'submit';
  form.append(field('Team name', name), members, el('p', 'muted small', 'A new team routes to whoever has the lowest load; change that with Edit.'), error.node, submit);
  create.append(sectionHeading('New team', 'team-create-heading'), form);
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    error.clear();
    const body = { name: name.value.trim(), member_ids: [...members.querySelectorAll('input:checked')].map((c) => Number(c.value)) };
    if (!body.name) {
      error.show('Give the team a name.');
      name.focus();
      return;
    }
    submit.disabled = true;
    try {
      await adminApi('/teams', { method: 'POST', body });
      toast(`Team ${body.name} created`);
      emit('directory:reload');
      reloadSection();
    } catch (failure) {
      submit.disabled = false;
      if (!handleAuthError(failure)) error.show(failure.code === 'name_taken' ? 'A team with this name exists.' : failure.message);
    }
  });

  const list = el('section', 'page-section');
  list.setAttribute('aria-labelledby', 'teams-heading');
  list.append(sectionHeading('Teams', 'teams-heading'));
  if (!teams.length) list.append(el('p', 'muted', 'No teams yet.'));
  else {
    const { node, body } = table(['Team', 'Members', 'Routing', 'Actions']);
    const teamNames = new Map(teams.map((team) => [team.id, team.name]));
    for (const team of teams) {
      const tr = el('tr');
      const actions = el('td', 'row-actions');
      const edit = button('Edit', 'ghost small', () => openTeamDialog(team, operators, teams));
      edit.setAttribute('aria-label', `Edit team ${team.name}`);
      const remove = button('Delete', 'ghost small danger-text', () => deleteItem(`/teams/${team.id}`, `Delete the team ${team.name}?`, 'Its conversations keep their history but leave the team.', `Team ${team.name} deleted`));
      remove.setAttribute('aria-label', `Delete team ${team.name}`);
      actions.append(edit, remove);
      tr.append(
        rowHeader(team.name),
        el('td', null, (team.member_ids || []).map((id) => names.get(id)).filter(Boolean).join(', ') || '–'),
        el('td', 'routing-summary', routingSummary(team.routing, teamNames)),
        actions,
      );
      body.append(tr);
    }
    list.append(node);
  }
  return [list, create];
}

function openTeamDialog(team, operators, teams) {
  openDialog({
    title: `Edit team ${team.name}`,
    className: 'dialog-wide',
    build(body, close) {
      const form = el('form', 'stack');
      form.noValidate = true;
      const name = input('text', team.name);
      name.maxLength = 60;
      const members = memberChecks(operators, team.member_ids || []);
      const routing = routingFields(team.routing, teams, team.id);
      const routingBox = el('fieldset', 'routing-fields');
      routingBox.append(el('legend', null, 'Routing'), ...routing.nodes);
      const error = errorLine();
      const actions = el('div', 'dialog-actions');
      const save = el('button', 'primary', 'Save');
      save.type = 'submit';
      actions.append(button('Cancel', 'ghost', close), save);
      form.append(field('Team name', name), members, routingBox, error.node, actions);
      body.append(form);
      form.addEventListener('submit', async (event) => {
        event.preventDefault();
        error.clear();
        const patch = { name: name.value.trim(), member_ids: [...members.querySelectorAll('input:checked')].map((c) => Number(c.value)) };
        if (!patch.name) {
          error.show('Give the team a name.');
          name.focus();
          return;
        }
        const settings = routing.value();
        if (settings.error) {
          error.show(settings.error);
          settings.control.focus();
          return;
        }
        patch.routing = settings.routing;
        save.disabled = true;
        try {
          await adminApi(`/teams/${team.id}`, { method: 'PATCH', body: patch });
          close();
          toast(`Team ${patch.name} saved`);
          emit('directory:reload');
          reloadSection();
        } catch (failure) {
          save.disabled = false;
          if (!handleAuthError(failure)) error.show(failure.code === 'name_taken' ? 'A team with this name exists.' : failure.message);
        }
      });
    },
  });
}

// ---------------------------------------------------------------------------------------------
// Routing: the same settings for each team (in the team editor) and for conversations without
// a team (the Routing section). Empty optional fields turn a feature off (null in the API).

const STRATEGIES = [
  ['least_loaded', 'Least loaded'],
  ['round_robin', 'Round robin'],
  ['skills', 'Skills'],
  ['manual', 'Manual'],
];
const STRATEGY_HINT = 'Least loaded: the available operator with the fewest open conversations. '
  + 'Round robin: whoever was assigned least recently. Skills: the best skill level for the topic '
  + '(then language). Manual: nothing is assigned automatically; supervisors assign from the queue.';

function strategyLabel(strategy) {
  return (STRATEGIES.find(([key]) => key === strategy) || [null, strategy || ''])[1];
}

// One line for the teams table: "Skills · backup Sales · overflow after 120 s".
function routingSummary(routing, teamNames) {
  if (!routing) return '–';
  const parts = [strategyLabel(routing.strategy)];
  if (routing.backup_team_id) {
    parts.push(`backup ${teamNames.get(routing.backup_team_id) || `#${routing.backup_team_id}`}`);
    if (routing.overflow_after_s) parts.push(`overflow after ${routing.overflow_after_s} s`);
  }
  if (routing.answer_timeout_s) parts.push(`answer within ${routing.answer_timeout_s} s`);
  return parts.join(' · ');
}

function wholeNumberInput(value, min, max, placeholder) {
  const node = input('number', value ?? '');
  node.min = String(min);
  node.max = String(max);
  node.step = '1';
  node.inputMode = 'numeric';
  if (placeholder) node.placeholder = placeholder;
  return node;
}

// Reads a whole number from `control`: { value } (null when empty and `optional`) or { error }.
function readWholeNumber(control, { min, max, optional, what }) {
  const text = control.value.trim();
  if (text === '') {
    if (optional) return { value: null };
    return { error: `${what}: enter a whole number from ${min} to ${max}.` };
  }
  const number = Number(text);
  if (!/^\d+$/.test(text) || number < min || number > max) {
    return { error: `${what}: enter a whole number from ${min} to ${max}${optional ? ', or leave it empty for off' : ''}.` };
  }
  return { value: number };
}

// The routing form fields for `routing` (R in the API). `ownTeamId`: the team being edited, which
// cannot be its own backup. value() -> { routing } (a complete R, sent as the PATCH) or
// { error, control }.
function routingFields(routing, teams, ownTeamId = null) {
  const current = routing || {};
  const strategy = select(STRATEGIES, current.strategy || 'least_loaded');
  const others = teams.filter((team) => team.id !== ownTeamId);
  const backup = select([['', 'None'], ...others.map((team) => [team.id, team.name])], current.backup_team_id ?? '');
  if (current.backup_team_id && backup.value !== String(current.backup_team_id)) backup.value = '';
  const overflow = wholeNumberInput(current.overflow_after_s, 1, 86_400, 'off');
  const stickiness = wholeNumberInput(current.stickiness_window_h ?? 168, 0, 8_760);
  const skillWait = wholeNumberInput(current.skill_wait_s ?? 60, 0, 3_600);
  const answerTimeout = wholeNumberInput(current.answer_timeout_s, 1, 3_600, 'off');
  const nodes = [
    field('Strategy', strategy, STRATEGY_HINT),
    field('Backup team', backup, 'Where conversations overflow when nobody here is available with room.'),
    field('Overflow after (seconds)', overflow, 'Also overflow to the backup team after waiting this long, even when this pool has room (1-86400). Empty: only when full.'),
    field('Stickiness window (hours)', stickiness, 'A returning customer goes back to their previous operator, if available with room, within this many hours (0-8760; 0 is off).'),
    field('Skill wait (seconds)', skillWait, 'Skills routing waits this long for an operator with the topic’s skill before taking anyone (0-3600).'),
    field('Answer timeout (seconds)', answerTimeout, 'A conversation whose operator has not answered this long after it was assigned goes back to the queue (1-3600). Empty: never.'),
  ];
  const value = () => {
    const checks = [
      ['overflow_after_s', overflow, { min: 1, max: 86_400, optional: true, what: 'Overflow after' }],
      ['stickiness_window_h', stickiness, { min: 0, max: 8_760, optional: false, what: 'Stickiness window' }],
      ['skill_wait_s', skillWait, { min: 0, max: 3_600, optional: false, what: 'Skill wait' }],
      ['answer_timeout_s', answerTimeout, { min: 1, max: 3_600, optional: true, what: 'Answer timeout' }],
    ];
    const result = { strategy: strategy.value, backup_team_id: backup.value ? Number(backup.value) : null };
    for (const [key, control, rules] of checks) {
      const read = readWholeNumber(control, rules);
      if (read.error) return { error: read.error, control };
      result[key] = read.value;
    }
    return { routing: result };
  };
  return { nodes, value };
}

async function renderRouting(stillCurrent) {
  const [result, teams] = await Promise.all([adminApi('/routing'), loadTeams()]);
  if (!stillCurrent()) return [];
  const section2 = el('section', 'page-section');
  section2.setAttribute('aria-labelledby', 'routing-heading');
  const form = el('form', 'stack narrow');
  form.noValidate = true;
  const fields = routingFields(result.routing, teams);
  const error = errorLine();
  const save = el('button', 'primary', 'Save routing');
  save.type = 'submit';
  const status = el('span', 'muted small');
  status.setAttribute('role', 'status');
  const actions = el('div', 'form-actions');
  actions.append(save, status);
  form.append(
    el('p', 'muted', 'How conversations without a team are assigned. A topic can send its conversations to a team (see Topics); each team has its own routing (Teams → Edit). Only available operators with room receive conversations.'),
    ...fields.nodes, error.node, actions,
  );
  section2.append(sectionHeading('Default routing', 'routing-heading'), form);
  form.addEventListener('input', () => { status.textContent = ''; });
  form.addEventListener('change', () => { status.textContent = ''; });
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    error.clear();
    const settings = fields.value();
    if (settings.error) {
      error.show(settings.error);
      settings.control.focus();
      return;
    }
    save.disabled = true;
    try {
      await adminApi('/routing', { method: 'PATCH', body: settings.routing });
      status.textContent = 'Saved';
      toast('Routing saved');
    } catch (failure) {
      if (!handleAuthError(failure)) error.show(failure.message);
    } finally {
      save.disabled = false;
    }
  });
  return [section2];
}

// ---------------------------------------------------------------------------------------------
// Topics: what customers write about. The name doubles as the skill operators are matched on;
// the label is what visitors see in the widget's topic picker.

const PRIORITIES = [[0, 'Normal'], [1, 'High'], [2, 'Urgent']];
const CHANNELS = ['web', 'sms', 'email', 'messenger', 'instagram', 'whatsapp'];
const TOPIC_NAME = /^[\p{L}\p{N}_:-]{1,40}$/u;

let hintCounter = 0;

function commaList(text) {
  return text.split(',').map((item) => item.trim()).filter(Boolean);
}

function topicFields(topic, teams) {
  const current = topic || {};
  const name = input('text', current.name || '');
  name.maxLength = 40;
  name.autocomplete = 'off';
  name.placeholder = 'billing';
  const label = input('text', current.label || '');
  label.maxLength = 60;
  label.placeholder = 'Billing and invoices';
  const team = select([['', 'No team'], ...teams.map((t) => [t.id, t.name])], current.team_id ?? '');
  const priority = select(PRIORITIES, current.priority ?? 0);
  const inPicker = document.createElement('input');
  inPicker.type = 'checkbox';
  inPicker.checked = current.in_picker ?? true;
  const pickerLabel = el('label', 'check');
  pickerLabel.append(inPicker, el('span', null, 'Offer in the widget’s topic picker'));
  const humanOnly = document.createElement('input');
  humanOnly.type = 'checkbox';
  humanOnly.checked = Boolean(current.human_only);
  const humanOnlyLabel = el('label', 'check');
  humanOnlyLabel.append(humanOnly, el('span', null, 'Human only: the assistant never answers this topic'));
  const humanOnlyHint = el('p', 'field-hint', 'Conversations on this topic go straight to people (when the assistant’s “topic only people handle” trigger is on).');
  humanOnlyHint.id = `human-only-hint-${++hintCounter}`;
  humanOnly.setAttribute('aria-describedby', humanOnlyHint.id);
  const keywords = input('text', (current.keywords || []).join(', '));
  keywords.placeholder = 'refund, invoice, charged twice';
  const channels = input('text', (current.channels || []).join(', '));
  channels.placeholder = 'sms, email';
  const pages = input('text', (current.pages || []).join(', '));
  pages.placeholder = '/pricing, /billing';
  const position = wholeNumberInput(current.position ?? 0, 0, 10_000);
  const nodes = [
    field('Topic name', name, 'Lower-case letters, digits, -, _ and : (up to 40). It is also the skill name: give operators this skill for skills routing.'),
    field('Label', label, 'What visitors see in the topic picker. Empty: the name.'),
    field('Team', team, 'Conversations on this topic wait for this team.'),
    field('Priority', priority, 'High and urgent conversations are served before normal ones.'),
    pickerLabel,
    humanOnlyLabel,
    humanOnlyHint,
    field('Keywords', keywords, 'Separated by commas. The topic with the most of these words in the customer’s first messages wins.'),
    field('Channels', channels, `Separated by commas: ${CHANNELS.join(', ')}. Every conversation from these channels gets this topic.`),
    field('Pages', pages, 'URL paths, separated by commas (/pricing). Chats started on a page under one of them get this topic.'),
    field('Position', position, 'Rules are tried in this order, lowest first (0-10000); the picker lists topics in it too.'),
  ];
  const value = () => {
    const topicName = name.value.trim().toLowerCase();
    if (!TOPIC_NAME.test(topicName)) {
      return { error: 'Give the topic a name of up to 40 lower-case letters, digits, -, _ or :.', control: name };
    }
    const channelList = commaList(channels.value).map((c) => c.toLowerCase());
    const unknown = channelList.find((c) => !CHANNELS.includes(c));
    if (unknown) return { error: `Unknown channel “${unknown}”: use ${CHANNELS.join(', ')}.`, control: channels };
    const pageList = commaList(pages.value);
    const relative = pageList.find((p) => !p.startsWith('/'));
    if (relative) return { error: `Page rules are URL paths starting with /, not “${relative}”.`, control: pages };
    const order = readWholeNumber(position, { min: 0, max: 10_000, optional: false, what: 'Position' });
    if (order.error) return { error: order.error, control: position };
    return {
      topic: {
        name: topicName,
        label: label.value.trim() || topicName,
        team_id: team.value ? Number(team.value) : null,
        priority: Number(priority.value),
        in_picker: inPicker.checked,
        keywords: commaList(keywords.value),
        channels: channelList,
        pages: pageList,
        position: order.value,
        human_only: humanOnly.checked,
      },
    };
  };
  return { nodes, value, name };
}

function topicError(failure) {
  return failure.code === 'name_taken' ? 'A topic with this name exists.' : failure.message;
}

function priorityLabel(priority) {
  return (PRIORITIES.find(([key]) => key === priority) || [null, String(priority)])[1];
}

// "keywords: refund, invoice · pages: /billing"
function topicRules(topic) {
  const parts = [];
  if ((topic.keywords || []).length) parts.push(`keywords: ${topic.keywords.join(', ')}`);
  if ((topic.channels || []).length) parts.push(`channels: ${topic.channels.join(', ')}`);
  if ((topic.pages || []).length) parts.push(`pages: ${topic.pages.join(', ')}`);
  return parts.join(' · ') || 'picker only';
}

async function renderTopics(stillCurrent) {
  const [result, teams] = await Promise.all([adminApi('/topics'), loadTeams()]);
  if (!stillCurrent()) return [];
  const topics = result.topics || [];
  const teamNames = new Map(teams.map((team) => [team.id, team.name]));

  const create = el('section', 'page-section');
  create.setAttribute('aria-labelledby', 'topic-create-heading');
  const form = el('form', 'stack narrow');
  form.noValidate = true;
  const fields = topicFields(null, teams);
  const error = errorLine();
  const submit = el('button', 'primary', 'Create topic');
  submit.type = 'submit';
  form.append(...fields.nodes, error.node, submit);
  create.append(sectionHeading('New topic', 'topic-create-heading'), form);
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    error.clear();
    const read = fields.value();
    if (read.error) {
      error.show(read.error);
      read.control.focus();
      return;
    }
    submit.disabled = true;
    try {
      await adminApi('/topics', { method: 'POST', body: read.topic });
      toast(`Topic ${read.topic.name} created`);
      reloadSection();
    } catch (failure) {
      submit.disabled = false;
      if (!handleAuthError(failure)) error.show(topicError(failure));
    }
  });

  const list = el('section', 'page-section');
  list.setAttribute('aria-labelledby', 'topics-heading');
  list.append(
    sectionHeading('Topics', 'topics-heading'),
    el('p', 'muted', 'A new conversation gets the topic the visitor picked; else the first topic (by position) whose channel or page rule matches; else the one with the most keywords in the customer’s first messages.'),
  );
  if (!topics.length) list.append(el('p', 'muted', 'No topics yet.'));
  else {
    const { node, body } = table(['Topic', 'Label', 'Team', 'Priority', 'Picker', 'Answered by', 'Detection', 'Actions']);
    for (const topic of topics) {
      const tr = el('tr');
      const actions = el('td', 'row-actions');
      const edit = button('Edit', 'ghost small', () => openTopicDialog(topic, teams));
      edit.setAttribute('aria-label', `Edit topic ${topic.name}`);
      const remove = button('Delete', 'ghost small danger-text', () => deleteItem(`/topics/${topic.id}`, `Delete the topic ${topic.name}?`, 'Conversations keep the topic they have; new ones are no longer detected as it.', `Topic ${topic.name} deleted`));
      remove.setAttribute('aria-label', `Delete topic ${topic.name}`);
      actions.append(edit, remove);
      tr.append(
        rowHeader(topic.name),
        el('td', null, topic.label),
        el('td', null, topic.team_id ? teamNames.get(topic.team_id) || `#${topic.team_id}` : '–'),
        el('td', null, priorityLabel(topic.priority)),
        el('td', null, topic.in_picker ? 'Yes' : 'No'),
        el('td', null, topic.human_only ? 'People only' : 'Assistant first'),
        el('td', 'topic-rules', topicRules(topic)),
        actions,
      );
      body.append(tr);
    }
    list.append(node);
  }
  return [list, create];
}

function openTopicDialog(topic, teams) {
  openDialog({
    title: `Edit topic ${topic.name}`,
    className: 'dialog-wide',
    build(body, close) {
      const form = el('form', 'stack');
      form.noValidate = true;
      const fields = topicFields(topic, teams);
      const error = errorLine();
      const actions = el('div', 'dialog-actions');
      const save = el('button', 'primary', 'Save');
      save.type = 'submit';
      actions.append(button('Cancel', 'ghost', close), save);
      form.append(...fields.nodes, error.node, actions);
      body.append(form);
      form.addEventListener('submit', async (event) => {
        event.preventDefault();
        error.clear();
        const read = fields.value();
        if (read.error) {
          error.show(read.error);
          read.control.focus();
          return;
        }
        save.disabled = true;
        try {
          await adminApi(`/topics/${topic.id}`, { method: 'PATCH', body: read.topic });
          close();
          toast(`Topic ${read.topic.name} saved`);
          reloadSection();
        } catch (failure) {
          save.disabled = false;
          if (!handleAuthError(failure)) error.show(topicError(failure));
        }
      });
    },
  });
}

export async function deleteItem(path, title, text, done) {
  const ok = await confirmDialog({ title, text, confirmText: 'Delete', danger: true });
  if (!ok) return;
  try {
    await adminApi(path, { method: 'DELETE' });
    toast(done);
    emit('directory:reload');
    reloadSection();
  } catch (error) {
    if (!handleAuthError(error)) toast(error.message, 'error');
  }
}

// ---------------------------------------------------------------------------------------------
// Tags

const DEFAULT_TAG_COLOR = '#6366f1';

async function renderTags(stillCurrent) {
  const result = await adminApi('/tags');
  if (!stillCurrent()) return [];
  const tags = result.tags || [];

  const create = el('section', 'page-section');
  create.setAttribute('aria-labelledby', 'tag-create-heading');
  const form = el('form', 'inline-form');
  form.noValidate = true;
  const name = input('text');
  name.maxLength = 40;
  const color = input('color', DEFAULT_TAG_COLOR);
  const submit = el('button', 'primary', 'Create tag');
  submit.type = 'submit';
  const error = errorLine();
  form.append(field('Tag name', name), field('Colour', color), submit);
  create.append(sectionHeading('New tag', 'tag-create-heading'), form, error.node);
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    error.clear();
    const body = { name: name.value.trim(), color: color.value };
    if (!body.name) {
      error.show('Give the tag a name.');
      name.focus();
      return;
    }
    submit.disabled = true;
    try {
      await adminApi('/tags', { method: 'POST', body });
      toast(`Tag ${body.name} created`);
      emit('directory:reload');
      reloadSection();
    } catch (failure) {
      submit.disabled = false;
      if (!handleAuthError(failure)) error.show(failure.code === 'name_taken' ? 'A tag with this name exists.' : failure.message);
    }
  });

  const list = el('section', 'page-section');
  list.setAttribute('aria-labelledby', 'tags-heading');
  list.append(sectionHeading('Tags', 'tags-heading'));
  if (!tags.length) list.append(el('p', 'muted', 'No tags yet.'));
  else {
    const { node, body } = table(['Tag', 'Preview', 'Actions']);
    for (const tag of tags) {
      const tr = el('tr');
      const preview = el('td');
      preview.append(tagChip(tag));
      const actions = el('td', 'row-actions');
      const edit = button('Edit', 'ghost small', () => openTagDialog(tag));
      edit.setAttribute('aria-label', `Edit tag ${tag.name}`);
      const remove = button('Delete', 'ghost small danger-text', () => deleteItem(`/tags/${tag.id}`, `Delete the tag ${tag.name}?`, 'It is removed from every conversation.', `Tag ${tag.name} deleted`));
      remove.setAttribute('aria-label', `Delete tag ${tag.name}`);
      actions.append(edit, remove);
      tr.append(rowHeader(tag.name), preview, actions);
      body.append(tr);
    }
    list.append(node);
  }
  return [create, list];
}

function openTagDialog(tag) {
  openDialog({
    title: `Edit tag ${tag.name}`,
    build(body, close) {
      const form = el('form', 'stack');
      form.noValidate = true;
      const name = input('text', tag.name);
      name.maxLength = 40;
      const color = input('color', safeColor(tag.color) || DEFAULT_TAG_COLOR);
      const error = errorLine();
      const actions = el('div', 'dialog-actions');
      const save = el('button', 'primary', 'Save');
      save.type = 'submit';
      actions.append(button('Cancel', 'ghost', close), save);
      form.append(field('Tag name', name), field('Colour', color), error.node, actions);
      body.append(form);
      form.addEventListener('submit', async (event) => {
        event.preventDefault();
        const patch = { name: name.value.trim(), color: color.value };
        if (!patch.name) {
          error.show('Give the tag a name.');
          return;
        }
        save.disabled = true;
        try {
          await adminApi(`/tags/${tag.id}`, { method: 'PATCH', body: patch });
          close();
          toast(`Tag ${patch.name} saved`);
          emit('directory:reload');
          reloadSection();
        } catch (failure) {
          save.disabled = false;
          if (!handleAuthError(failure)) error.show(failure.code === 'name_taken' ? 'A tag with this name exists.' : failure.message);
        }
      });
    },
  });
}

// ---------------------------------------------------------------------------------------------
// Canned responses (team-wide)

const PLACEHOLDER_HINT = 'Placeholders: {{contact.name}}, {{contact.first_name}}, {{contact.email}}, {{contact.phone}}, '
  + '{{operator.name}}, {{operator.first_name}}, {{conversation.id}}, {{business.name}}; a fallback after |, e.g. {{contact.first_name|there}}.';

function cannedFields(canned = {}) {
  const shortcut = input('text', canned.shortcut || '');
  shortcut.maxLength = 32;
  shortcut.placeholder = 'greeting';
  const title = input('text', canned.title || '');
  title.maxLength = 100;
  const bodyInput = el('textarea');
  bodyInput.rows = 4;
  bodyInput.maxLength = 4000;
  bodyInput.value = canned.body || '';
  return {
    shortcut, title, body: bodyInput,
    nodes: [field('Shortcut', shortcut, 'Operators type / and this word: a-z, 0-9, _ and -.'), field('Title', title), field('Text', bodyInput, PLACEHOLDER_HINT)],
    value: () => ({ shortcut: shortcut.value.trim().replace(/^\//, '').toLowerCase(), title: title.value.trim(), body: bodyInput.value.trim() }),
  };
}

function cannedError(failure) {
  return failure.code === 'shortcut_taken' ? 'Another canned response uses this shortcut.' : failure.message;
}

async function renderCanned(stillCurrent) {
  const result = await adminApi('/canned');
  if (!stillCurrent()) return [];
  const items = result.canned || [];

  const create = el('section', 'page-section');
  create.setAttribute('aria-labelledby', 'canned-create-heading');
  const form = el('form', 'stack narrow');
  form.noValidate = true;
  const fields = cannedFields();
  const error = errorLine();
  const submit = el('button', 'primary', 'Add canned response');
  submit.type = 'submit';
  form.append(...fields.nodes, error.node, submit);
  create.append(sectionHeading('New canned response', 'canned-create-heading'), form);
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    error.clear();
    const body = fields.value();
    if (!body.shortcut || !body.title || !body.body) {
      error.show('Fill in the shortcut, the title and the text.');
      return;
    }
    submit.disabled = true;
    try {
      await adminApi('/canned', { method: 'POST', body });
      toast(`Canned response /${body.shortcut} added`);
      reloadSection();
    } catch (failure) {
      submit.disabled = false;
      if (!handleAuthError(failure)) error.show(cannedError(failure));
    }
  });

  const list = el('section', 'page-section');
  list.setAttribute('aria-labelledby', 'canned-heading');
  list.append(sectionHeading('Team canned responses', 'canned-heading'));
  if (!items.length) list.append(el('p', 'muted', 'No canned responses yet.'));
  else {
    const { node, body } = table(['Shortcut', 'Title', 'Text', 'Actions']);
    for (const canned of items) {
      const tr = el('tr');
      const actions = el('td', 'row-actions');
      const edit = button('Edit', 'ghost small', () => openCannedDialog(canned));
      edit.setAttribute('aria-label', `Edit canned response /${canned.shortcut}`);
      const remove = button('Delete', 'ghost small danger-text', () => deleteItem(`/canned/${canned.id}`, `Delete /${canned.shortcut}?`, 'Operators can no longer insert it.', `Canned response /${canned.shortcut} deleted`));
      remove.setAttribute('aria-label', `Delete canned response /${canned.shortcut}`);
      actions.append(edit, remove);
      tr.append(rowHeader(`/${canned.shortcut}`), el('td', null, canned.title), el('td', 'canned-body', canned.body), actions);
      body.append(tr);
    }
    list.append(node);
  }
  return [list, create];
}

function openCannedDialog(canned) {
  openDialog({
    title: `Edit /${canned.shortcut}`,
    className: 'dialog-wide',
    build(body, close) {
      const form = el('form', 'stack');
      form.noValidate = true;
      const fields = cannedFields(canned);
      const error = errorLine();
      const actions = el('div', 'dialog-actions');
      const save = el('button', 'primary', 'Save');
      save.type = 'submit';
      actions.append(button('Cancel', 'ghost', close), save);
      form.append(...fields.nodes, error.node, actions);
      body.append(form);
      form.addEventListener('submit', async (event) => {
        event.preventDefault();
        const patch = fields.value();
        if (!patch.shortcut || !patch.title || !patch.body) {
          error.show('Fill in the shortcut, the title and the text.');
          return;
        }
        save.disabled = true;
        try {
          await adminApi(`/canned/${canned.id}`, { method: 'PATCH', body: patch });
          close();
          toast(`Canned response /${patch.shortcut} saved`);
          reloadSection();
        } catch (failure) {
          save.disabled = false;
          if (!handleAuthError(failure)) error.show(cannedError(failure));
        }
      });
    },
  });
}

// ---------------------------------------------------------------------------------------------
// Settings

async function renderSettings(stillCurrent) {
  const result = await adminApi('/settings');
  if (!stillCurrent()) return [];
  const settings = result.settings || {};
  const section2 = el('section', 'page-section');
  section2.setAttribute('aria-labelledby', 'settings-heading');
  const form = el('form', 'stack narrow');
  form.noValidate = true;
  const toOperator = input('text', settings.transfer_notice_operator ?? '');
  toOperator.maxLength = 300;
  const toTeam = input('text', settings.transfer_notice_team ?? '');
  toTeam.maxLength = 300;
  const error = errorLine();
  const save = el('button', 'primary', 'Save settings');
  save.type = 'submit';
  const status = el('span', 'muted small');
  status.setAttribute('role', 'status');
  const actions = el('div', 'form-actions');
  actions.append(save, status);
  form.append(
    el('p', 'muted', 'What the visitor sees when a conversation is transferred. The reason for a transfer always stays internal. Leave empty for no notice.'),
    field('Notice when transferred to an operator', toOperator, '{operator} is replaced by the operator’s name.'),
    field('Notice when transferred to a team', toTeam, '{team} is replaced by the team’s name.'),
    error.node, actions,
  );
  section2.append(sectionHeading('Transfer notices', 'settings-heading'), form);
  form.addEventListener('input', () => { status.textContent = ''; });
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    error.clear();
    save.disabled = true;
    try {
      await adminApi('/settings', { method: 'PATCH', body: { transfer_notice_operator: toOperator.value, transfer_notice_team: toTeam.value } });
      status.textContent = 'Saved';
      toast('Settings saved');
    } catch (failure) {
      if (!handleAuthError(failure)) error.show(failure.message);
    } finally {
      save.disabled = false;
    }
  });
  return [section2];
}
