// Splits untrusted message text into plain text and http(s) links. The UI
// renders each part as text or as an <a> whose click goes to OpenURL; no part
// is ever interpreted as HTML.

export type Segment = { kind: 'text'; text: string } | { kind: 'link'; text: string; url: string };

const URL_RE = /\bhttps?:\/\/[^\s<>"'`]+/gi;
const TRAILING = /[.,;:!?'")\]}>]+$/;

export function linkify(text: string): Segment[] {
  const out: Segment[] = [];
  let last = 0;
  for (const m of text.matchAll(URL_RE)) {
    const start = m.index ?? 0;
    let url = m[0];
    // Punctuation that ends a sentence is not part of the link, but keep a
    // closing parenthesis that has its opening one inside the URL.
    const trail = TRAILING.exec(url)?.[0] ?? '';
    let keep = url.length - trail.length;
    if (trail.startsWith(')') && url.slice(0, keep).includes('(')) keep += 1;
    url = url.slice(0, keep);
    if (start > last) out.push({ kind: 'text', text: text.slice(last, start) });
    out.push({ kind: 'link', text: url, url });
    last = start + url.length;
  }
  if (last < text.length) out.push({ kind: 'text', text: text.slice(last) });
  return out;
}
