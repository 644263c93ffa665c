// Channels in words: what each message came through or left by, how far an outbound message
// got, which channel a reply may take and when a 24-hour window closes, and attachments. Pure
// functions with no imports and no DOM, so that node's test runner checks them as they are
// (tests/browser/channels-logic.test.mjs); thread.js and compose.js build the markup.

export const CHANNELS = ['web', 'sms', 'whatsapp', 'email', 'messenger', 'instagram'];

const LABELS = {
  web: 'Chat',
  widget: 'Chat',
  sms: 'SMS',
  whatsapp: 'WhatsApp',
  email: 'Email',
  messenger: 'Messenger',
  instagram: 'Instagram',
};

// "SMS", "WhatsApp", "Chat" (the website widget); an unknown channel as it is.
export function channelLabel(channel) {
  return LABELS[channel] || String(channel || 'Chat');
}

// The long name, for headers and the contact's history: "Website chat" for the widget.
export function channelName(channel) {
  if (!channel || channel === 'web' || channel === 'widget') return 'Website chat';
  return channelLabel(channel);
}

// "by SMS", "by email", "in the chat", "on WhatsApp": how a sentence says "reply through X".
export function replyBy(channel) {
  switch (channel) {
    case 'web':
    case 'widget':
      return 'in the chat';
    case 'sms':
      return 'by SMS';
    case 'email':
      return 'by email';
    default:
      return `on ${channelLabel(channel)}`;
  }
}

// ---------------------------------------------------------------------------------------------
// Delivery

export const DELIVERY_STATES = ['queued', 'sent', 'delivered', 'read', 'failed'];
const DELIVERY_RANK = { queued: 0, sent: 1, delivered: 2, read: 3, failed: 4 };
const DELIVERY_LABELS = {
  queued: 'Queued', sent: 'Sent', delivered: 'Delivered', read: 'Read', failed: 'Failed',
};

export function deliveryLabel(delivery) {
  return DELIVERY_LABELS[delivery] || '';
}

// Whether a message in state `current` may show `next`: states only move forward (as on the
// server), and `failed` never undoes `delivered` or `read`. An event for the same state may
// still carry news (a new retry note), so it applies.
export function deliveryMayMove(current, next) {
  if (!(next in DELIVERY_RANK)) return false;
  if (!(current in DELIVERY_RANK)) return true;
  if (next === 'failed' && (current === 'delivered' || current === 'read')) return false;
  return DELIVERY_RANK[next] >= DELIVERY_RANK[current];
}

// What the badge's tooltip says about a state (and the provider's words, if any).
export function deliveryTitle(delivery, error, channel) {
  const by = channel ? ` ${replyBy(channel)}` : '';
  switch (delivery) {
    case 'queued':
      return error ? `Not sent yet${by}: the last attempt failed and will be retried` : `Waiting to be sent${by}`;
    case 'sent':
      return `Handed to the provider${by}; not yet confirmed as delivered`;
    case 'delivered':
      return `Delivered to the customer${by}`;
    case 'read':
      return `Read by the customer${by}`;
    case 'failed':
      return `Could not be sent${by}${error ? `: ${error}` : ''}`;
    default:
      return '';
  }
}

// The line under a message about its delivery: the provider's reason for a failure, or a quiet
// note while a retry is pending; null when there is nothing to say.
export function deliveryNote(delivery, error) {
  if (delivery === 'failed') return { kind: 'failed', text: error ? `Not delivered: ${error}` : 'Not delivered.' };
  if (delivery === 'queued' && error) return { kind: 'retrying', text: `Retrying: ${error}` };
  return null;
}

// ---------------------------------------------------------------------------------------------
// Reply channels and 24-hour windows

// Warn this long before a window closes.
export const WINDOW_WARNING_MS = 3_600_000;

// "3 h", "25 min", "2 d 4 h", "less than a minute".
export function roughDuration(ms) {
  const minutes = Math.floor(Math.max(0, Number(ms) || 0) / 60000);
  if (minutes < 1) return 'less than a minute';
  if (minutes < 60) return `${minutes} min`;
  const hours = Math.floor(minutes / 60);
  if (hours < 24) return `${hours} h`;
  const days = Math.floor(hours / 24);
  return hours % 24 ? `${days} d ${hours % 24} h` : `${days} d`;
}

// Whether `option` ({channel, available, reason, window_closes_at}) can take a free-form reply
// at `now`: the server's word, and the window's end on this clock too (a thread left open
// outlives the answer that listed it).
export function isOpen(option, now) {
  if (!option || !option.available) return false;
  return !(option.window_closes_at !== null && option.window_closes_at !== undefined && now >= option.window_closes_at);
}

// The notice over the composer for replying through `selected` (a channel name) given the
// conversation's `reply` ({default, channels}) at `now`:
//   null                                   nothing to say;
//   { blocked: false, text }               a window closes within WINDOW_WARNING_MS;
//   { blocked: true, text }                this channel cannot take the reply (Send disabled).
// The text names the channels that are open instead.
export function replyNotice(reply, selected, now) {
  if (!reply || !Array.isArray(reply.channels)) return null;
  const option = reply.channels.find((candidate) => candidate.channel === selected);
  if (!option) return null;
  const label = channelLabel(selected);
  const closesAt = option.window_closes_at;
  const hasWindow = closesAt !== null && closesAt !== undefined;
  if (isOpen(option, now)) {
    if (hasWindow && closesAt - now <= WINDOW_WARNING_MS) {
      return {
        blocked: false,
        text: `${label}’s 24-hour window closes in ${roughDuration(closesAt - now)}: after that, free-form replies are not allowed until the customer writes again.`,
      };
    }
    return null;
  }
  const others = reply.channels
    .filter((candidate) => candidate.channel !== selected && isOpen(candidate, now))
    .map((candidate) => replyBy(candidate.channel));
  const instead = others.length
    ? ` Reply ${joinOr(others)} instead.`
    : ' There is no other way to reach this customer right now.';
  if (hasWindow && (now >= closesAt || !option.available)) {
    const ago = now - closesAt;
    const when = ago >= 60000 ? `closed ${roughDuration(ago)} ago` : 'has closed';
    return {
      blocked: true,
      text: `${label}’s 24-hour window ${when}: free-form replies are not allowed until the customer writes again.${instead}`,
    };
  }
  const reason = option.reason ? `: ${option.reason}` : '';
  return { blocked: true, text: `You cannot reply ${replyBy(selected)}${reason}.${instead}` };
}

// "by SMS", "by SMS or by email", "by SMS, by email or in the chat".
function joinOr(parts) {
  if (parts.length <= 1) return parts.join('');
  return `${parts.slice(0, -1).join(', ')} or ${parts[parts.length - 1]}`;
}

// The text an option of the "Reply via" list shows: "WhatsApp (closed: the customer must write
// first)", "Messenger (window closes in 20 min)".
export function optionText(option, now) {
  const label = channelLabel(option.channel);
  if (!isOpen(option, now)) {
    const why = option.available ? 'the 24-hour window has closed' : (option.reason || 'not available');
    return `${label} (unavailable: ${why})`;
  }
  const closesAt = option.window_closes_at;
  if (closesAt !== null && closesAt !== undefined && closesAt - now <= WINDOW_WARNING_MS) {
    return `${label} (window closes in ${roughDuration(closesAt - now)})`;
  }
  return label;
}

// ---------------------------------------------------------------------------------------------
// Attachments

const INLINE_IMAGES = new Set(['image/jpeg', 'image/png', 'image/gif', 'image/webp']);

// Raster images the browser can show as a thumbnail (the server serves them inline).
export function isInlineImage(contentType) {
  return INLINE_IMAGES.has(String(contentType || '').toLowerCase().split(';')[0].trim());
}

export function attachmentUrl(conversationId, attachmentId) {
  return `/api/inbox/conversations/${encodeURIComponent(conversationId)}/attachments/${encodeURIComponent(attachmentId)}`;
}

// "512 B", "12 KB", "3.4 MB" (1024-based, as file managers mostly show).
export function humanSize(bytes) {
  const n = Math.max(0, Number(bytes) || 0);
  if (n < 1024) return `${n} B`;
  const units = ['KB', 'MB', 'GB'];
  let value = n / 1024;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit += 1;
  }
  const text = value < 10 ? value.toFixed(1).replace(/\.0$/, '') : String(Math.round(value));
  return `${text} ${units[unit]}`;
}
