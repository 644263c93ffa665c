// "My canned responses": every operator keeps personal canned responses next to the team's
// (which admins manage). Opened from the composer; the "/" popup offers both.

import { api, button, el, field, handleAuthError, input, toast } from './core.js';
import { confirmDialog, errorLine, openDialog } from './dialog.js';

const PLACEHOLDERS = 'Placeholders: {{contact.name}}, {{contact.first_name}}, {{contact.email}}, {{contact.phone}}, '
  + '{{operator.name}}, {{operator.first_name}}, {{conversation.id}}, {{business.name}}; a fallback after |, e.g. {{contact.first_name|there}}.';

export function openCannedManager() {
  openDialog({
    title: 'Canned responses',
    className: 'dialog-wide',
    description: 'Type / in an empty reply to insert one. Team responses are managed by admins; yours are only yours.',
    build(body, close) {
      const list = el('div', 'canned-manager');
      const form = el('form', 'stack');
      form.noValidate = true;
      const heading = el('h3', 'pane-section', 'New personal response');
      const shortcut = input('text');
      shortcut.maxLength = 32;
      shortcut.placeholder = 'refund';
      const title = input('text');
      title.maxLength = 100;
      const text = el('textarea');
      text.rows = 3;
      text.maxLength = 4000;
      const error = errorLine();
      const submit = el('button', 'primary', 'Add');
      submit.type = 'submit';
      let editing = null;
      const cancelEdit = button('Cancel edit', 'ghost', () => reset());
      cancelEdit.hidden = true;
      const actions = el('div', 'dialog-actions');
      actions.append(cancelEdit, submit);
      form.append(heading, field('Shortcut', shortcut, 'a-z, 0-9, _ and -'), field('Title', title), field('Text', text, PLACEHOLDERS), error.node, actions);
      const done = el('div', 'dialog-actions');
      done.append(button('Done', 'ghost', close));
      body.append(list, form, done);

      const reset = () => {
        editing = null;
        shortcut.value = '';
        title.value = '';
        text.value = '';
        heading.textContent = 'New personal response';
        submit.textContent = 'Add';
        cancelEdit.hidden = true;
        error.clear();
      };

      const load = async () => {
        try {
          const result = await api('/canned');
          const items = result.canned || [];
          const rows = items.map((canned) => {
            const item = el('li', 'canned-item');
            const head = el('p', 'canned-head');
            head.append(el('strong', null, `/${canned.shortcut}`), el('span', 'muted small', ` ${canned.title} · ${canned.scope === 'personal' ? 'yours' : 'team'}`));
            item.append(head, el('p', 'canned-text', canned.body));
            if (canned.scope === 'personal') {
              const tools = el('div', 'row-actions');
              const edit = button('Edit', 'ghost small', () => {
                editing = canned;
                shortcut.value = canned.shortcut;
                title.value = canned.title;
                text.value = canned.body;
                heading.textContent = `Edit /${canned.shortcut}`;
                submit.textContent = 'Save';
                cancelEdit.hidden = false;
                shortcut.focus();
              });
              edit.setAttribute('aria-label', `Edit /${canned.shortcut}`);
              const remove = button('Delete', 'ghost small danger-text', async () => {
                const ok = await confirmDialog({ title: `Delete /${canned.shortcut}?`, text: 'You can no longer insert it.', confirmText: 'Delete', danger: true });
                if (!ok) return;
                try {
                  await api(`/canned/${canned.id}`, { method: 'DELETE' });
                  toast(`/${canned.shortcut} deleted`);
                  load();
                } catch (failure) {
                  if (!handleAuthError(failure)) toast(failure.message, 'error');
                }
              });
              remove.setAttribute('aria-label', `Delete /${canned.shortcut}`);
              tools.append(edit, remove);
              item.append(tools);
            }
            return item;
          });
          const ul = el('ul', 'canned-list');
          ul.append(...rows);
          list.replaceChildren(items.length ? ul : el('p', 'muted', 'No canned responses yet.'));
        } catch (failure) {
          if (!handleAuthError(failure)) list.replaceChildren(el('p', 'form-error', failure.message));
        }
      };

      form.addEventListener('submit', async (event) => {
        event.preventDefault();
        error.clear();
        const payload = { shortcut: shortcut.value.trim().replace(/^\//, '').toLowerCase(), title: title.value.trim(), body: text.value.trim() };
        if (!payload.shortcut || !payload.title || !payload.body) {
          error.show('Fill in the shortcut, the title and the text.');
          return;
        }
        submit.disabled = true;
        try {
          if (editing) await api(`/canned/${editing.id}`, { method: 'PATCH', body: payload });
          else await api('/canned', { method: 'POST', body: payload });
          toast(`/${payload.shortcut} ${editing ? 'saved' : 'added'}`);
          reset();
          load();
        } catch (failure) {
          if (!handleAuthError(failure)) error.show(failure.code === 'shortcut_taken' ? 'You already use this shortcut.' : failure.message);
        } finally {
          submit.disabled = false;
        }
      });
      load();
    },
  });
}
