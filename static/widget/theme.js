// The admins' look for the widget (GET /api/widget/config, set in the console's Widget screen):
// accent colour, light/dark/auto, business name and greeting. Values go in through the CSSOM
// and textContent only: the frame's CSP allows no inline styles, and nothing becomes markup.
// The server accepts only accent colours that white text is readable on (4.5:1), so the
// launcher, buttons and the visitor's bubbles stay legible; the check is repeated here in
// case an old server sends something else.

const HEX = /^#[0-9a-f]{6}$/i;

function luminance(hex) {
  const channel = (i) => {
    const v = parseInt(hex.slice(i, i + 2), 16) / 255;
    return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4;
  };
  return 0.2126 * channel(1) + 0.7152 * channel(3) + 0.0722 * channel(5);
}

// WCAG contrast ratio of white text on `hex`.
export function contrastWithWhite(hex) {
  return 1.05 / (luminance(hex) + 0.05);
}

// `hex` darkened by `amount` (0..1), for hover states and the header's gradient.
function darken(hex, amount) {
  const parts = [1, 3, 5].map((i) => Math.round(parseInt(hex.slice(i, i + 2), 16) * (1 - amount)));
  return `#${parts.map((v) => v.toString(16).padStart(2, '0')).join('')}`;
}

export function applyTheme(config, { nameNode, avatarNode, welcomeNode }) {
  const root = document.documentElement;
  const accent = typeof config.accent_color === 'string' && HEX.test(config.accent_color)
    && contrastWithWhite(config.accent_color) >= 4.5 ? config.accent_color : null;
  if (accent) {
    root.style.setProperty('--accent', accent);
    root.style.setProperty('--accent-strong', darken(accent, 0.15));
    root.style.setProperty('--header-from', accent);
    root.style.setProperty('--header-to', darken(accent, 0.3));
  }
  const scheme = ['light', 'dark'].includes(config.color_scheme) ? config.color_scheme : 'auto';
  root.dataset.scheme = scheme;
  if (typeof config.business_name === 'string' && config.business_name.trim()) {
    const name = config.business_name.trim();
    nameNode.textContent = name;
    avatarNode.textContent = initials(name);
  }
  if (typeof config.greeting === 'string' && config.greeting.trim()) {
    welcomeNode.textContent = config.greeting.trim();
    // The greeting is the admins' own words: translations must not replace it.
    welcomeNode.removeAttribute('data-i18n');
  }
}

// "Ana María Pérez" -> "AP"; one name -> its first letter.
export function initials(name) {
  const words = String(name).trim().split(/\s+/).filter(Boolean);
  if (words.length === 0) return '';
  const first = [...words[0]][0] || '';
  const last = words.length > 1 ? [...words[words.length - 1]][0] || '' : '';
  return (first + last).toUpperCase();
}
