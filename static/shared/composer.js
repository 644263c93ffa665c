// The message composer, shared by the operator console and the widget frame: Enter sends
// (Shift+Enter adds a line, and Enter that confirms an IME composition does neither), the send
// button is enabled only when there is text to send, and over-long text is refused before it is
// sent rather than by the server.

// resize(): after every change of the text (e.g. to grow the textarea to fit).
// onTyping(): on input while there is text, for the "is typing" signal.
export function bindComposer({ form, input, button, maxChars, onSend, onTooLong, onTyping, resize = () => {} }) {
  const updateButton = () => {
    button.disabled = input.value.trim() === '';
  };

  const submit = () => {
    const text = input.value.trim();
    if (!text) return;
    if (text.length > maxChars) {
      onTooLong();
      return;
    }
    input.value = '';
    resize();
    updateButton();
    onSend(text);
  };

  form.addEventListener('submit', (event) => {
    event.preventDefault();
    submit();
  });
  input.addEventListener('keydown', (event) => {
    if (event.key === 'Enter' && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      submit();
    }
  });
  input.addEventListener('input', () => {
    resize();
    updateButton();
    if (input.value.trim()) onTyping();
  });
  updateButton();
}
