// Sending chat messages with retries, shared by the operator console and the widget frame.
//
// An item is { clientId, body, el, acked, ... }: `el` is its bubble (see messages.js) and `acked`
// is set by claimPending once the server's copy has arrived by any path. Items are delivered one
// at a time, in order, so the server stores them in the author's order. A failure that may pass
// (network, 408, 429, 5xx) is retried with exponential backoff and jitter under the same
// client_id, so the server stores the message once however often it is sent; after the last
// attempt the bubble says "Not sent" and gets a Retry button that queues it again.

import { jitter, sleep } from '/shared/api.js';
import { el, setMeta, statusLabel } from '/shared/messages.js';

// 128 random bits as hex. crypto.randomUUID needs a secure context; getRandomValues does not.
export function newClientId() {
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
}

export class Outbox {
  // deliver(item): sends one item; resolves once the server stored it, throws ApiError otherwise.
  // onFailed(item, error): after the bubble was marked failed, to tell the user why.
  // abandon(error): asked first after every failed attempt; true drops the item without marking
  //   it (e.g. the session ended and the page went back to sign-in).
  // epoch(): a pump stops between items once this differs from its value when the pump started.
  constructor({ deliver, onFailed, maxAttempts, abandon = () => false, epoch = () => 0 }) {
    this.deliver = deliver;
    this.onFailed = onFailed;
    this.maxAttempts = maxAttempts;
    this.abandon = abandon;
    this.epoch = epoch;
    this.items = [];
    this.pumping = false;
  }

  send(item) {
    this.items.push(item);
    this.pump();
  }

  // Forgets the queued items. A pump in progress finishes its current attempt; give it a new
  // epoch() so that it stops there.
  clear() {
    this.items = [];
  }

  async pump() {
    if (this.pumping) return;
    this.pumping = true;
    const epoch = this.epoch();
    // The queue this pump serves: clear() swaps in a new array, so an attempt that was under
    // way for an old session can never shift (drop) an item queued by the new one.
    const queue = this.items;
    const current = () => epoch === this.epoch() && queue === this.items;
    try {
      while (queue.length > 0 && current()) {
        const item = queue[0];
        for (let attempt = 1; ; attempt += 1) {
          try {
            await this.deliver(item);
            break;
          } catch (error) {
            // An answer for a session that has since ended says nothing about the new one
            // (e.g. its 401 must not sign the new session out).
            if (!current() || this.abandon(error) || item.acked) break;
            if (error.retryable && attempt < this.maxAttempts) {
              await sleep(jitter(1000 * 2 ** (attempt - 1)));
              continue;
            }
            this.markFailed(item, error);
            break;
          }
        }
        queue.shift();
      }
    } finally {
      this.pumping = false;
    }
    // Items queued by a newer session while this pump finished an old attempt.
    if (this.items.length > 0 && !current()) this.pump();
  }

  markFailed(item, error) {
    setMeta(item.el, Date.now(), 'failed');
    const retry = el('button', 'msg-retry', statusLabel('retry'));
    retry.type = 'button';
    retry.addEventListener('click', () => {
      setMeta(item.el, Date.now(), 'sending');
      this.send(item);
    });
    item.el.querySelector('.msg-meta').append(retry);
    this.onFailed(item, error);
  }
}
