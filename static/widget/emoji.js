// A small emoji picker: no images or fonts to load (the system's emoji font draws them), a grid
// of buttons operated with the keyboard. The button toggles it; arrow keys, Home and End move
// within the grid (one tab stop); Enter or Space inserts at the caret; Escape closes it and
// puts focus back on the button.

import { t, onLocaleChange } from '/widget/i18n.js';

const EMOJI = [
  '😀', '😂', '😊', '😍', '🤔', '😅', '😉', '😎',
  '😢', '😮', '😡', '🙏', '👍', '👎', '👏', '🙌',
  '👋', '💪', '🎉', '❤️', '🔥', '✅', '❌', '⭐',
  '💡', '📦', '🚚', '💳', '📧', '📞', '⏰', '🙂',
];
const COLUMNS = 8;

export function bindEmojiPicker({ button, panel, input, onInsert = () => {} }) {
  const grid = document.createElement('div');
  grid.className = 'emoji-grid';
  grid.setAttribute('role', 'group');
  const buttons = EMOJI.map((emoji, index) => {
    const b = document.createElement('button');
    b.type = 'button';
    b.className = 'emoji-option';
    b.textContent = emoji;
    b.tabIndex = index === 0 ? 0 : -1;
    b.addEventListener('click', () => insert(emoji));
    grid.append(b);
    return b;
  });
  panel.append(grid);
  const label = () => grid.setAttribute('aria-label', t('emoji_list'));
  label();
  onLocaleChange(label);

  let focused = 0;
  const move = (index) => {
    buttons[focused].tabIndex = -1;
    focused = (index + buttons.length) % buttons.length;
    buttons[focused].tabIndex = 0;
    buttons[focused].focus();
  };

  function setOpen(open, { focusButton = false } = {}) {
    panel.hidden = !open;
    button.setAttribute('aria-expanded', String(open));
    if (open) buttons[focused].focus();
    else if (focusButton) button.focus();
  }

  function insert(emoji) {
    const start = input.selectionStart ?? input.value.length;
    const end = input.selectionEnd ?? input.value.length;
    input.setRangeText(emoji, start, end, 'end');
    input.dispatchEvent(new Event('input', { bubbles: true }));
    setOpen(false);
    input.focus();
    onInsert(emoji);
  }

  button.addEventListener('click', () => setOpen(panel.hidden));
  grid.addEventListener('keydown', (event) => {
    const keys = {
      ArrowRight: focused + 1, ArrowLeft: focused - 1,
      ArrowDown: focused + COLUMNS, ArrowUp: focused - COLUMNS,
      Home: 0, End: buttons.length - 1,
    };
    if (Object.hasOwn(keys, event.key)) {
      event.preventDefault();
      move(keys[event.key]);
    } else if (event.key === 'Escape') {
      event.preventDefault();
      event.stopPropagation(); // Escape here closes the picker, not the chat
      setOpen(false, { focusButton: true });
    }
  });
  panel.addEventListener('focusout', (event) => {
    if (!panel.hidden && !panel.contains(event.relatedTarget) && event.relatedTarget !== button) setOpen(false);
  });
  return { close: () => setOpen(false) };
}
