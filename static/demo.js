// The first half of the embed snippet (see /widget/loader.js). On a customer's site it is an
// inline <script>; here it is a file so that the demo also works under a strict CSP.
window.LiveChat = window.LiveChat || function () { (LiveChat.q = LiveChat.q || []).push(arguments); };
LiveChat('init', {});
