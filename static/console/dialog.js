// Modal dialogs on the native <dialog>: showModal() makes the rest of the page inert and moves
// focus into the dialog, Escape closes it, and on close focus goes back to whatever opened it.
// Each dialog is built when opened and removed when closed, so no form of one lingers in the page.

import { button, el } from './core.js';

let counter = 0;

// Opens a dialog titled `title`; `build(body, close)` fills it. Returns { dialog, body, close }.
// `onClose` runs once, after the dialog is gone.
export function openDialog({ title, build, className = '', onClose, description }) {
  counter += 1;
  const opener = document.activeElement;
  const dialog = el('dialog', `dialog ${className}`.trim());
  const titleId = `dialog-title-${counter}`;
  dialog.setAttribute('aria-labelledby', titleId);
  const head = el('div', 'dialog-head');
  const heading = el('h2', null, title);
  heading.id = titleId;
  const closeButton = button('×', 'icon-button dialog-close');
  closeButton.setAttribute('aria-label', 'Close dialog');
  head.append(heading, closeButton);
  const body = el('div', 'dialog-body');
  if (description) {
    const text = el('p', 'dialog-description', description);
    text.id = `dialog-desc-${counter}`;
    dialog.setAttribute('aria-describedby', text.id);
    body.append(text);
  }
  dialog.append(head, body);

  let closed = false;
  const close = () => {
    if (!closed && dialog.open) dialog.close();
  };
  closeButton.addEventListener('click', close);
  dialog.addEventListener('close', () => {
    if (closed) return;
    closed = true;
    dialog.remove();
    if (opener && opener.isConnected && typeof opener.focus === 'function') opener.focus();
    if (onClose) onClose();
  });
  build(body, close);
  document.body.append(dialog);
  dialog.showModal();
  // Focus the first field rather than the close button.
  const first = body.querySelector('[autofocus], input:not([type=hidden]):not([disabled]), select, textarea, button:not([disabled])');
  if (first) first.focus();
  return { dialog, body, close };
}

// Resolves true when the person confirms, false when they cancel or close the dialog.
export function confirmDialog({ title, text, confirmText = 'Confirm', danger = false }) {
  return new Promise((resolve) => {
    let answer = false;
    openDialog({
      title,
      description: text,
      onClose: () => resolve(answer),
      build(body, close) {
        const actions = el('div', 'dialog-actions');
        const cancel = button('Cancel', 'ghost', close);
        const ok = button(confirmText, danger ? 'danger' : 'primary', () => {
          answer = true;
          close();
        });
        actions.append(cancel, ok);
        body.append(actions);
        // A destructive action starts on Cancel; anything else on the confirming button.
        if (!danger) queueMicrotask(() => ok.focus());
      },
    });
  });
}

// An error line for forms in dialogs and panels (role=alert, hidden while empty).
export function errorLine() {
  const node = el('p', 'form-error');
  node.setAttribute('role', 'alert');
  node.hidden = true;
  return {
    node,
    show(text) {
      node.textContent = text;
      node.hidden = false;
    },
    clear() {
      node.textContent = '';
      node.hidden = true;
    },
  };
}
