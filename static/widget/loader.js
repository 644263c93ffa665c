/*! Live chat widget loader.
 *
 * Embed snippet (before </body>; use your chat server's origin):
 *
 *   <script>
 *     window.LiveChat = window.LiveChat || function () { (LiveChat.q = LiveChat.q || []).push(arguments) };
 *     LiveChat('init', {});
 *   </script>
 *   <script async src="https://chat.example.com/widget/loader.js"></script>
 *
 * The stub queues calls made before this file loads; they are replayed here in order, and
 * later calls run at once. Pasting the snippet twice mounts one widget. Under a strict CSP give
 * the inline stub a nonce, or move it into a file. The JS API (README, "JS API"):
 *
 *   LiveChat('init', {open?})            mount (once; later calls only merge options)
 *   LiveChat('open' | 'close' | 'toggle')
 *   LiveChat('setUser', {id, name?, email?, hash?})
 *       hash = hex HMAC-SHA256(id, identity_secret), computed by your server: a verified user
 *       sees their history on every device. Without it name/email are only unverified details.
 *   LiveChat('setAttributes', {plan: 'pro', seats: 3})   flat; null removes a key
 *   LiveChat('setLocale', 'es')
 *   LiveChat('hideLauncher' | 'showLauncher')
 *   LiveChat('on' | 'off', 'ready' | 'message' | 'unread' | 'open' | 'close' | 'user', fn)
 *       ready {}; message {author}; unread {count}; open {}; close {};
 *       user {verified, error?} (the answer to setUser)
 *
 * Adds a launcher button and an iframe on our origin (/widget/frame.html) holding the chat UI.
 * Messages stay in the frame. postMessage always names the target origin, and receipt checks
 * origin and source; events are named noun:verb. When the browser denies the frame its own
 * storage (third-party storage blocked), the frame keeps its session in this page's localStorage
 * (session:save out, page:context back).
 *
 * Styles go through element.style with !important: a strict CSP blocks injected <style> and
 * style="" markup but not the CSSOM, and !important keeps the host page's rules out.
 */
(function () {
  'use strict';
  var w = window, d = document;
  // A second copy of this file (snippet pasted twice) must do nothing.
  if (w.__livechatLoader) return;
  w.__livechatLoader = true;

  var script = d.currentScript || d.querySelector('script[src*="/widget/loader.js"]');
  if (!script || !script.src) return;
  var ORIGIN = new URL(script.src, location.href).origin;
  var P = 'lcw-'; // prefix of every id we add to the host page
  var Z = '2147483000';

  var launcher, badge, iframe, open = false, ready = false, unread = 0, mounted = false, opts = {};
  // What the page told us, re-sent to every frame that loads (the frame keeps nothing of it).
  var user = null, attrs = null, locale = null, hidden = false, handlers = {}, readyOnce = false;
  var reduceMotion = w.matchMedia && w.matchMedia('(prefers-reduced-motion: reduce)');
  var narrow = w.matchMedia && w.matchMedia('(max-width: 480px)');

  // What host-page rules for `button`/`span` most often change; everything else we set explicitly.
  var RESET = {
    margin: '0', padding: '0', border: '0', 'min-width': '0', 'min-height': '0', 'max-width': 'none',
    'max-height': 'none', float: 'none', transform: 'none', 'text-transform': 'none', 'letter-spacing': 'normal',
    'text-indent': '0', 'line-height': 'normal', opacity: '1', filter: 'none', 'box-sizing': 'border-box'
  };

  function css(el, rules) {
    for (var k in rules) el.style.setProperty(k, rules[k], 'important');
  }

  function svg(paths) {
    var ns = 'http://www.w3.org/2000/svg';
    var s = d.createElementNS(ns, 'svg');
    s.setAttribute('viewBox', '0 0 24 24');
    s.setAttribute('width', '28');
    s.setAttribute('height', '28');
    s.setAttribute('aria-hidden', 'true');
    s.setAttribute('focusable', 'false');
    paths.forEach(function (p) {
      var e = d.createElementNS(ns, 'path');
      e.setAttribute('d', p);
      e.setAttribute('fill', 'currentColor');
      s.appendChild(e);
    });
    return s;
  }
  var CHAT_ICON = svg(['M4 4h16a2 2 0 0 1 2 2v10a2 2 0 0 1-2 2H9l-5 4v-4a2 2 0 0 1-2-2V6a2 2 0 0 1 2-2z']);
  var CLOSE_ICON = svg(['M6.4 5 12 10.6 17.6 5 19 6.4 13.4 12l5.6 5.6-1.4 1.4-5.6-5.6L6.4 19 5 17.6l5.6-5.6L5 6.4z']);

  // The frame keeps its session here only when its own storage is denied (third-party storage
  // blocked); the key names our origin so that two chat servers on one page never collide.
  var KEY = 'livechat:v1:session@' + ORIGIN, memSession = null;
  function readSession() {
    try { return JSON.parse(w.localStorage.getItem(KEY)) || memSession; } catch (e) { return memSession; }
  }
  function writeSession(s) {
    memSession = s;
    try {
      if (s) w.localStorage.setItem(KEY, JSON.stringify(s));
      else w.localStorage.removeItem(KEY);
    } catch (e) { /* memory only */ }
  }

  function post(type, data) {
    if (ready && iframe.contentWindow) iframe.contentWindow.postMessage({ type: type, data: data || {} }, ORIGIN);
  }

  // The admins' look (console, Widget screen), told by the frame: which side, which colour.
  var side = 'right', accent = '#4f46e5';

  function layout() {
    var transition = reduceMotion && reduceMotion.matches ? 'none' : 'opacity .18s ease, transform .18s ease';
    var full = narrow && narrow.matches;
    css(iframe, {
      position: 'fixed', 'z-index': Z, border: '0', margin: '0', padding: '0', display: 'block',
      'clip-path': 'none', filter: 'none', 'min-width': '0', 'min-height': '0', 'max-height': '100%',
      background: 'transparent', 'color-scheme': 'normal',
      right: side === 'right' ? (full ? '0' : '20px') : 'auto',
      left: side === 'left' ? (full ? '0' : '20px') : 'auto', bottom: full ? '0' : '96px',
      width: full ? '100%' : '380px', height: full ? '100%' : 'min(620px, calc(100% - 120px))',
      'max-width': '100%', 'border-radius': full ? '0' : '14px',
      'box-shadow': '0 12px 48px rgba(15, 23, 42, .28)',
      transition: transition,
      opacity: open ? '1' : '0',
      transform: open ? 'none' : 'translateY(12px)',
      visibility: open ? 'visible' : 'hidden',
      'pointer-events': open ? 'auto' : 'none'
    });
    css(launcher, { display: hidden || (full && open) ? 'none' : 'flex', transition: transition });
    css(launcher, { right: side === 'right' ? '20px' : 'auto', left: side === 'left' ? '20px' : 'auto', background: accent });
  }

  // Handlers run outside our call stack: a throwing handler never breaks the widget.
  function emit(name, data) {
    (handlers[name] || []).slice().forEach(function (fn) {
      setTimeout(function () { fn(data || {}); }, 0);
    });
  }

  function setOpen(next) {
    if (!mounted) { opts.open = next; return; }
    if (next === open) return;
    open = next;
    launcher.setAttribute('aria-expanded', String(open));
    launcher.setAttribute('aria-label', open ? 'Close chat' : 'Open chat');
    launcher.replaceChild(open ? CLOSE_ICON : CHAT_ICON, launcher.firstChild);
    if (open) setUnread(0);
    layout();
    post(open ? 'widget:open' : 'widget:close');
    emit(open ? 'open' : 'close');
    if (open) iframe.focus();
    else if (d.activeElement === iframe) launcher.focus();
  }

  function setUnread(n) {
    n = n > 0 ? n : 0;
    if (n !== unread) emit('unread', { count: n });
    unread = n;
    badge.textContent = unread > 9 ? '9+' : String(unread);
    css(badge, { display: unread && !open ? 'flex' : 'none' });
    launcher.setAttribute('aria-label', open ? 'Close chat' : unread ? 'Open chat (' + unread + ' unread)' : 'Open chat');
  }

  function mount() {
    if (mounted || d.getElementById(P + 'launcher')) return;
    mounted = true;

    launcher = d.createElement('button');
    launcher.id = P + 'launcher';
    launcher.type = 'button';
    launcher.setAttribute('aria-controls', P + 'frame');
    launcher.setAttribute('aria-expanded', 'false');
    launcher.setAttribute('aria-label', 'Open chat');
    launcher.appendChild(CHAT_ICON);
    css(launcher, RESET);
    css(launcher, {
      position: 'fixed', 'z-index': Z, right: '20px', bottom: '20px',
      width: '60px', height: '60px', 'border-radius': '50%', cursor: 'pointer',
      display: 'flex', 'align-items': 'center', 'justify-content': 'center',
      background: '#4f46e5', color: '#fff', 'box-shadow': '0 6px 24px rgba(15, 23, 42, .3)',
      'box-sizing': 'border-box', outline: 'none'
    });
    launcher.addEventListener('focus', function () {
      if (launcher.matches(':focus-visible')) css(launcher, { outline: '3px solid #f59e0b', 'outline-offset': '3px' });
    });
    launcher.addEventListener('blur', function () { css(launcher, { outline: 'none' }); });
    launcher.addEventListener('click', function () { setOpen(!open); });

    badge = d.createElement('span');
    badge.setAttribute('aria-hidden', 'true');
    css(badge, RESET);
    css(badge, {
      position: 'absolute', top: '-2px', right: '-2px', 'min-width': '20px',
      height: '20px', padding: '0 5px', 'box-sizing': 'border-box', 'border-radius': '10px',
      background: '#dc2626', color: '#fff', font: '600 12px/20px system-ui, sans-serif',
      display: 'none', 'align-items': 'center', 'justify-content': 'center'
    });
    launcher.appendChild(badge);

    iframe = d.createElement('iframe');
    iframe.id = P + 'frame';
    iframe.title = 'Chat';
    // The frame learns the parent origin from here so that it can name it as its postMessage target.
    iframe.src = ORIGIN + '/widget/frame.html#parent=' + encodeURIComponent(location.origin);
    iframe.setAttribute('allow', 'clipboard-write');

    d.body.appendChild(iframe);
    d.body.appendChild(launcher);
    layout();
    if (narrow && narrow.addEventListener) narrow.addEventListener('change', layout);
    if (opts.open) setOpen(true);
  }

  w.addEventListener('message', function (e) {
    if (!iframe || e.origin !== ORIGIN || e.source !== iframe.contentWindow) return;
    var msg = e.data;
    if (!msg || typeof msg.type !== 'string') return;
    var data = msg.data || {};
    switch (msg.type) {
      case 'frame:ready':
        ready = true;
        post('page:context', { url: location.href, session: readSession(), lang: d.documentElement.lang || '' });
        post(open ? 'widget:open' : 'widget:close');
        if (locale) post('locale:set', { locale: locale });
        if (user) post('user:set', user);
        if (attrs) post('attributes:set', { attributes: attrs });
        if (!readyOnce) { readyOnce = true; emit('ready'); }
        break;
      case 'frame:reload': // the frame reloads itself (a verified user's session): wait for it
        ready = false;
        break;
      case 'message:new':
        emit('message', { author: data.author === 'assistant' ? 'assistant' : 'operator' });
        break;
      case 'user:identified':
        emit('user', typeof data.error === 'string' ? { verified: false, error: data.error } : { verified: data.verified === true });
        break;
      case 'widget:close':
        setOpen(false);
        break;
      case 'widget:theme':
        if (data.position === 'left' || data.position === 'right') side = data.position;
        if (typeof data.accent === 'string' && /^#[0-9a-fA-F]{6}$/.test(data.accent)) accent = data.accent;
        layout();
        break;
      case 'session:save':
        writeSession(data.session || null);
        break;
      case 'message:received':
        if (!open) setUnread(typeof data.unread === 'number' ? data.unread : unread + 1);
        break;
    }
  });

  function text(v, max) {
    return typeof v === 'string' && v.length <= max ? v : v == null ? undefined : String(v).slice(0, max);
  }

  function command(name, arg, fn) {
    var k;
    if (name === 'init') {
      if (arg && typeof arg === 'object') for (k in arg) opts[k] = arg[k];
      if (d.body) { mount(); if (opts.open) setOpen(true); }
    } else if (name === 'open') setOpen(true);
    else if (name === 'close') setOpen(false);
    else if (name === 'toggle') setOpen(!open);
    else if (name === 'hideLauncher' || name === 'showLauncher') {
      hidden = name === 'hideLauncher';
      if (mounted) layout();
    } else if (name === 'on' || name === 'off') {
      if (typeof arg !== 'string' || typeof fn !== 'function') return;
      var list = handlers[arg] = handlers[arg] || [];
      if (name === 'off') { handlers[arg] = list.filter(function (h) { return h !== fn; }); return; }
      list.push(fn);
      if (arg === 'ready' && readyOnce) setTimeout(function () { fn({}); }, 0);
    } else if (name === 'setUser') {
      if (!arg || arg.id == null || arg.id === '') return;
      user = { id: text(arg.id, 200), name: text(arg.name, 100), email: text(arg.email, 254), hash: text(arg.hash, 128) };
      post('user:set', user);
    } else if (name === 'setAttributes') {
      if (!arg || typeof arg !== 'object') return;
      attrs = attrs || {};
      for (k in arg) attrs[k] = arg[k];
      post('attributes:set', { attributes: arg });
    } else if (name === 'setLocale') {
      if (typeof arg !== 'string' || !/^[A-Za-z]{2,3}(-[A-Za-z0-9]{1,8})*$/.test(arg)) return;
      locale = arg;
      post('locale:set', { locale: locale });
    }
  }

  var queue = (w.LiveChat && w.LiveChat.q) || [];
  w.LiveChat = function () { command(arguments[0], arguments[1], arguments[2]); };
  w.LiveChat.loaded = true;
  for (var i = 0; i < queue.length; i++) command(queue[i][0], queue[i][1], queue[i][2]);

  if (d.body) mount();
  else d.addEventListener('DOMContentLoaded', mount);
})();
