// Message text with its web addresses made clickable, built from text nodes and <a> elements
// only (never markup). Only http: and https: addresses become links (no javascript:, data:,
// mailto: tricks); they open in a new tab with rel="noopener noreferrer" so the page they open
// can neither reach back into the chat nor learn where the visitor came from.

const URL_PATTERN = /\bhttps?:\/\/[^\s<>"'`]+/gi;
// Punctuation that usually ends a sentence rather than the address.
const TRAILING = /[.,;:!?)\]}'"»”’]+$/;

export function linkifyInto(node, text) {
  const body = String(text ?? '');
  node.replaceChildren();
  let last = 0;
  for (const match of body.matchAll(URL_PATTERN)) {
    let url = match[0];
    const trailing = url.match(TRAILING);
    if (trailing) url = url.slice(0, -trailing[0].length);
    let parsed;
    try {
      parsed = new URL(url);
    } catch {
      continue;
    }
    if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') continue;
    if (match.index > last) node.append(body.slice(last, match.index));
    const link = document.createElement('a');
    link.href = parsed.href;
    link.textContent = url;
    link.target = '_blank';
    link.rel = 'noopener noreferrer';
    node.append(link);
    last = match.index + url.length;
  }
  if (last < body.length) node.append(body.slice(last));
}
