// Message bubbles in a chat log, shared by the operator console and the widget frame: creating
// elements (text from the network goes in as textContent only, never as markup), the time and
// delivery status under a bubble, and keeping the log in server order. The bubble markup
// (`.msg > .msg-author? + .bubble + .msg-meta`) is styled by /shared/messages.css.

export function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined && text !== null) node.textContent = text;
  return node;
}

const timeFormat = new Intl.DateTimeFormat(undefined, { hour: 'numeric', minute: '2-digit' });
const dayFormat = new Intl.DateTimeFormat(undefined, { month: 'short', day: 'numeric' });
export const fullFormat = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'short' });

// A <time> for an epoch-ms timestamp: the time of day for today, otherwise the full date and time
// (or only the day when `short`); the full form is always in the tooltip.
export function timeElement(ms, short = false) {
  const node = document.createElement('time');
  const date = new Date(ms);
  node.dateTime = date.toISOString();
  node.title = fullFormat.format(date);
  const today = date.toDateString() === new Date().toDateString();
  node.textContent = today ? timeFormat.format(date) : short ? dayFormat.format(date) : fullFormat.format(date);
  return node;
}

// The words under the reader's own messages and on their Retry button; the widget swaps in its
// visitor's language with setStatusLabels.
const STATUS_LABELS = { sending: 'Sending…', sent: 'Sent', read: 'Read', failed: 'Not sent', retry: 'Retry' };

export function setStatusLabels(words) {
  for (const key of Object.keys(STATUS_LABELS)) {
    if (typeof words[key] === 'string' && words[key]) STATUS_LABELS[key] = words[key];
  }
}

export function statusLabel(key) {
  return STATUS_LABELS[key] || '';
}

// Replaces the line under a bubble: its time and, for the reader's own messages, a status
// (sending, sent, read, failed) that the CSS turns into ticks.
export function setMeta(node, createdAt, status) {
  const meta = node.querySelector('.msg-meta');
  meta.replaceChildren();
  if (createdAt) meta.append(timeElement(createdAt));
  if (status) {
    const statusNode = el('span', 'msg-status', STATUS_LABELS[status]);
    statusNode.dataset.status = status;
    meta.append(statusNode);
  }
}

// When `message` is the server's copy of one of our pending sends (same client_id), marks that
// send acknowledged, takes its bubble out of the log and returns it for reuse; otherwise null.
export function claimPending(pending, message) {
  const item = message.client_id ? pending.get(message.client_id) : undefined;
  if (!item) return null;
  pending.delete(message.client_id);
  item.acked = true;
  item.el.remove();
  return item.el;
}

// Inserts a message node into `log` ordered by server id (data-id). Nodes without an id (still
// pending) stay below every stored message; children that are not messages are skipped.
export function insertInOrder(log, node, id) {
  for (const child of log.children) {
    if (!child.classList.contains('msg')) continue;
    const childId = child.dataset.id ? Number(child.dataset.id) : Infinity;
    if (childId > id) {
      log.insertBefore(node, child);
      return;
    }
  }
  log.append(node);
}

// Whether the reader is (within `slack` pixels of) the bottom, i.e. following the conversation.
export function isNearBottom(log, slack) {
  return log.scrollHeight - log.scrollTop - log.clientHeight < slack;
}

export function scrollToBottom(log) {
  log.scrollTop = log.scrollHeight;
}

// The "… is typing" line under a log: show() reveals `node` until no new show() came for `ms`
// (typing signals repeat while someone types), hide() takes it away at once (their message came).
export function typingIndicator(node, ms) {
  let timer = null;
  const hide = () => {
    clearTimeout(timer);
    node.hidden = true;
  };
  const show = () => {
    node.hidden = false;
    clearTimeout(timer);
    timer = setTimeout(hide, ms);
  };
  return { show, hide };
}
