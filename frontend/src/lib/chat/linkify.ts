// Finds the http(s) addresses in untrusted message text. The markdown
// parser turns each into a link node whose click goes to OpenURL; nothing
// here is ever interpreted as HTML.

const URL_AT = /https?:\/\/[^\s<>"'`]+/iy;
const TRAILING = /[.,;:!?'")\]}>*_~]+$/;

/**
 * Punctuation that ends a sentence (or closes markdown around the link) is
 * not part of the link, but a closing parenthesis that has its opening one
 * inside the URL is.
 */
function trim(url: string): string {
  const trail = TRAILING.exec(url)?.[0] ?? '';
  let keep = url.length - trail.length;
  if (trail.startsWith(')') && url.slice(0, keep).includes('(')) keep += 1;
  return url.slice(0, keep);
}

/** The http(s) link that starts at text[i] (not inside a word), or "". */
export function linkAt(text: string, i: number): string {
  if (i > 0 && /[\p{L}\p{N}_]/u.test(text[i - 1]!)) return '';
  URL_AT.lastIndex = i;
  const m = URL_AT.exec(text);
  return m ? safeUrl(trim(m[0])) : '';
}

/** The address when raw is an absolute http(s) URL, else "". */
export function safeUrl(raw: string): string {
  if (!/^https?:\/\/[^\s<>"'`]+$/i.test(raw) || raw.length > 2048) return '';
  try {
    const u = new URL(raw);
    return (u.protocol === 'http:' || u.protocol === 'https:') && u.host ? raw : '';
  } catch {
    return '';
  }
}
