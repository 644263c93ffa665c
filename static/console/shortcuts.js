// Keyboard shortcuts, listed in the "?" help dialog:
//   Alt+ArrowDown / Alt+ArrowUp  next / previous conversation
//   Alt+R                        resolve the open conversation
//   Alt+N                        reply <-> internal note
//   /                            in an empty reply box: canned responses (see compose.js)
//   Escape                       closes popups (dialogs close themselves)
//   ?                            this help
// Alt combinations are matched on event.code, which does not change with the keyboard layout or
// with the characters Alt produces on macOS.

import { emit, state } from './core.js';
import { closeSuggestions, toggleMode } from './compose.js';
import { focusRow, neighbourId } from './inbox.js';
import { closeMentions } from './notify.js';
import { closePopovers, resolveOpen } from './thread.js';

const $ = (id) => document.getElementById(id);

export function initShortcuts() {
  const help = $('help-dialog');
  let opener = null;
  const openHelp = () => {
    if (help.open) return;
    opener = document.activeElement;
    help.showModal();
    $('help-close').focus();
  };
  $('help-button').addEventListener('click', openHelp);
  $('help-close').addEventListener('click', () => help.close());
  help.addEventListener('close', () => {
    if (opener && opener.isConnected) opener.focus();
  });

  document.addEventListener('keydown', (event) => {
    if (!state.me || event.defaultPrevented) return;
    if (document.querySelector('dialog[open]')) return; // a dialog has the keyboard

    if (event.altKey && !event.ctrlKey && !event.metaKey) {
      switch (event.code) {
        case 'ArrowDown':
        case 'ArrowUp': {
          if (state.view !== 'inbox') return;
          event.preventDefault();
          const id = neighbourId(event.code === 'ArrowDown' ? 1 : -1);
          if (id !== null && id !== state.selectedId) {
            emit('conversation:open', { id, focus: false });
            focusRow(id);
          }
          return;
        }
        case 'KeyR':
          if (state.view !== 'inbox' || !state.thread) return;
          event.preventDefault();
          resolveOpen();
          return;
        case 'KeyN':
          if (state.view !== 'inbox' || !state.thread) return;
          event.preventDefault();
          toggleMode();
          return;
        default:
          return;
      }
    }

    if (event.key === 'Escape') {
      if (closeSuggestions() || closePopovers() || closeMentions()) event.preventDefault();
      return;
    }

    if (event.key === '?' && !event.ctrlKey && !event.metaKey && !event.altKey && !isTyping(event.target)) {
      event.preventDefault();
      openHelp();
    }
  });
}

function isTyping(target) {
  if (!target || !target.closest) return false;
  return Boolean(target.closest('input, textarea, select, [contenteditable="true"]'));
}
