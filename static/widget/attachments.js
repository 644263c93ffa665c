// Files in the widget: picking one (the paperclip button), checking it against the server's
// limits before uploading (POST /api/widget/conversations/:id/attachments, the file as the
// body, ?name=&client_id=), a preview while it uploads, and the files under a message.
//
// Files are fetched with the visitor's token (never in a URL) and shown from data: URLs,
// which the frame's CSP allows for images; other files are offered as a download. Names are
// text. A file the server would refuse (size, type) is refused here with the reason.

import { t } from '/widget/i18n.js';
import { el } from '/shared/messages.js';

// shared::attachment::MAX_BYTES and the types the widget offers to pick (a subset of
// shared::attachment::ALLOWED_TYPES; the server checks the content matches the type).
export const MAX_BYTES = 10 * 1024 * 1024;
export const ACCEPTED = ['image/png', 'image/jpeg', 'image/gif', 'image/webp', 'application/pdf', 'text/plain'];
const PREVIEWABLE = ['image/png', 'image/jpeg', 'image/gif', 'image/webp'];

// The reason a file cannot be sent, or '' when it can.
export function fileProblem(file) {
  if (file.size > MAX_BYTES) return t('file_too_big', { name: file.name, max: MAX_BYTES / 1024 / 1024 });
  if (!ACCEPTED.includes(file.type)) return t('file_type', { name: file.name || '?' });
  return '';
}

const readAsDataUrl = (blob) => new Promise((resolve, reject) => {
  const reader = new FileReader();
  reader.onload = () => resolve(reader.result);
  reader.onerror = () => reject(reader.error);
  reader.readAsDataURL(blob);
});

// A thumbnail of a local image (or null for other files), for the pending bubble.
export async function localPreview(file) {
  if (!PREVIEWABLE.includes(file.type)) return null;
  const img = document.createElement('img');
  img.className = 'attachment-thumb';
  img.alt = t('image_alt', { name: file.name });
  img.src = await readAsDataUrl(file);
  return img;
}

// The list of files under a message. fetchFile(attachment) resolves with a Blob.
export function attachmentList(attachments, fetchFile) {
  const list = el('ul', 'msg-attachments');
  for (const attachment of attachments) {
    const item = el('li', 'msg-attachment');
    const name = String(attachment.name || 'file');
    if (PREVIEWABLE.includes(attachment.content_type)) {
      const img = document.createElement('img');
      img.className = 'attachment-thumb';
      img.alt = t('image_alt', { name });
      item.append(img);
      fetchFile(attachment).then(readAsDataUrl).then((url) => { img.src = url; }).catch(() => {
        img.replaceWith(el('span', 'attachment-name', name));
      });
    } else {
      const button = el('button', 'attachment-download');
      button.type = 'button';
      button.append(el('span', 'attachment-name', name), el('span', 'attachment-size', size(attachment.size)));
      button.setAttribute('aria-label', t('download', { name }));
      button.addEventListener('click', async () => {
        const blob = await fetchFile(attachment);
        const link = document.createElement('a');
        link.href = URL.createObjectURL(blob);
        link.download = name;
        link.rel = 'noopener';
        document.body.append(link);
        link.click();
        link.remove();
        setTimeout(() => URL.revokeObjectURL(link.href), 10_000);
      });
      item.append(button);
    }
    list.append(item);
  }
  return list;
}

function size(bytes) {
  const n = Number(bytes) || 0;
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${Math.round(n / 1024)} KB`;
  return `${(n / 1024 / 1024).toFixed(1)} MB`;
}
