// Marking search hits in message text: the text is split into runs, and the
// runs that match are rendered in <mark> elements (never as HTML).

export interface Run {
  text: string;
  hit: boolean;
}

/** Splits text into runs where query matches (case ignored) and where it does not. */
export function splitMatches(text: string, query: string): Run[] {
  const q = query.trim().toLowerCase();
  if (!q || !text) return [{ text, hit: false }];
  const lower = text.toLowerCase();
  // Case folding can change lengths (e.g. 'İ'); then mark nothing rather than the wrong letters.
  if (lower.length !== text.length) return [{ text, hit: false }];
  const out: Run[] = [];
  let at = 0;
  for (let i = lower.indexOf(q); i >= 0; i = lower.indexOf(q, i + q.length)) {
    if (i > at) out.push({ text: text.slice(at, i), hit: false });
    out.push({ text: text.slice(i, i + q.length), hit: true });
    at = i + q.length;
  }
  if (at < text.length) out.push({ text: text.slice(at), hit: false });
  return out.length ? out : [{ text, hit: false }];
}
