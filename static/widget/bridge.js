// The frame's side of the page's JS API (see loader.js and the README, "JS API"): the page's
// setUser, setAttributes and setLocale arrive here from loader.js, and the frame's events
// (a new message) go back to it.
//
// Invariants:
// - Only messages from the parent window with the parent's origin are read (the same check as
//   frame.js), and every message to it names that origin. Nothing private (token, message
//   text) is posted to the page.
// - setUser with a hash asks the server to verify it (POST /api/widget/identify). A verified
//   user's browser is bound to the user's contact: when that changes which conversation this
//   frame should show (another device's history, or another user signing in), the new session
//   is saved and the frame reloads itself, so every part of frame.js starts from the same
//   state as after a page load. A wrong hash changes nothing (the widget stays anonymous) and
//   is reported to the page as `user` {verified: false, error}.
// - Without a conversation yet there is no visitor token to attach details to: setUser and
//   setAttributes wait, and are sent once frame.js saves its first session (`lcw:session`).
// - setLocale dispatches `lcw:locale` ({detail: {locale}}) on this window; i18n.js switches the
//   widget's language on it.

import { installContinue } from '/widget/continue.js';

const LANGUAGE_TAG = /^[A-Za-z]{2,3}(-[A-Za-z0-9]{1,8})*$/;

export function installBridge({ api, getSession, saveSession, postToParent, parentOrigin, booted }) {
  // The visitor's own way out (continue.js) needs the same API access.
  installContinue({ api, getSession });
  const pending = { user: null, attributes: null };
  let identifying = Promise.resolve();

  async function identify(user) {
    const session = getSession();
    // Unverified details need a contact of this browser's own; so does a verified user the
    // server cannot yet show anything (it answers without a token then).
    if (!session && !user.hash) {
      pending.user = user;
      return;
    }
    const body = { user_id: user.id };
    for (const key of ['name', 'email', 'hash']) if (user[key]) body[key] = user[key];
    let result;
    try {
      result = await api('/identify', { method: 'POST', body });
    } catch (error) {
      pending.user = null;
      postToParent('user:identified', { verified: false, error: error.code || 'failed' });
      return;
    }
    postToParent('user:identified', { verified: Boolean(result.verified) });
    // Nothing to read or attach to yet: identify again once the first conversation exists.
    pending.user = !session && !result.visitor_token ? user : null;
    const current = getSession();
    const conversationId = Number.isInteger(result.conversation_id) ? result.conversation_id : null;
    let next;
    if (result.visitor_token) {
      next = conversationId ? { token: result.visitor_token, conversationId } : null;
    } else if (current && conversationId && conversationId !== current.conversationId) {
      next = { token: current.token, conversationId };
    } else {
      return;
    }
    if (!next && !current) return;
    pending.user = null;
    saveSession(next);
    postToParent('frame:reload');
    window.location.reload();
  }

  async function sendAttributes() {
    if (!pending.attributes || !getSession()) return;
    const attributes = pending.attributes;
    pending.attributes = null;
    try {
      await api('/attributes', { method: 'POST', body: { attributes } });
    } catch (error) {
      if (error.retryable) pending.attributes = { ...attributes, ...(pending.attributes || {}) };
    }
  }

  // i18n.js listens for this event (it also offers window.livechatSetLocale, the same thing).
  function setLocale(tag) {
    if (typeof tag !== 'string' || tag.length > 35 || !LANGUAGE_TAG.test(tag)) return;
    window.dispatchEvent(new CustomEvent('lcw:locale', { detail: { locale: tag } }));
  }

  // Runs one after another, after frame.js knows its session.
  function queue(task) {
    identifying = identifying.then(() => booted()).then(task).catch(() => {});
  }

  window.addEventListener('message', (event) => {
    if (window.parent === window || event.source !== window.parent || event.origin !== parentOrigin) return;
    const msg = event.data;
    if (!msg || typeof msg.type !== 'string' || !msg.data || typeof msg.data !== 'object') return;
    const data = msg.data;
    switch (msg.type) {
      case 'user:set':
        if (typeof data.id === 'string' && data.id) queue(() => identify(data));
        break;
      case 'attributes:set':
        if (data.attributes && typeof data.attributes === 'object' && !Array.isArray(data.attributes)) {
          pending.attributes = { ...(pending.attributes || {}), ...data.attributes };
          queue(sendAttributes);
        }
        break;
      case 'locale:set':
        setLocale(data.locale);
        break;
      default:
        break;
    }
  });

  // frame.js saved a session: a conversation exists now, so what waited for one can go.
  window.addEventListener('lcw:session', (event) => {
    if (!event.detail) return;
    if (pending.user) {
      const user = pending.user;
      pending.user = null;
      queue(() => identify(user));
    }
    queue(sendAttributes);
  });

  // A new message from the business, for the page's `message` event (no text: it stays here).
  window.addEventListener('lcw:message', (event) => {
    postToParent('message:new', { author: event.detail && event.detail.author === 'assistant' ? 'assistant' : 'operator' });
  });
}
