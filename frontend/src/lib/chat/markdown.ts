// A safe markdown subset for message text: bold, italic, strike, inline
// code, fenced code blocks, quotes, lists and links. The text comes from
// the peer, so this parser builds a tree of plain objects that the UI
// renders as Svelte nodes (Markdown.svelte): nothing here is ever HTML,
// and a link's url is always an http(s) address (anything else stays
// text). Every search for a closing delimiter is bounded, so a 1 MB
// message of asterisks or brackets parses in linear time.

import { linkAt, safeUrl } from './linkify';

export type Inline =
  | { t: 'text'; text: string }
  | { t: 'strong' | 'em' | 'strike'; children: Inline[] }
  | { t: 'code'; text: string }
  | { t: 'link'; url: string; children: Inline[] };

export type Block =
  | { t: 'p'; children: Inline[] }
  | { t: 'code'; lang: string; text: string }
  | { t: 'quote'; children: Block[] }
  | { t: 'list'; ordered: boolean; start: number; items: Inline[][] };

/** Quotes in quotes and emphasis in emphasis deeper than this stay text. */
export const MAX_DEPTH = 6;

const FENCE = /^ {0,3}(`{3,}|~{3,})[ \t]*([A-Za-z0-9_+#.-]{0,32})[ \t]*$/;
const QUOTE = /^ {0,3}> ?/;
const BULLET = /^ {0,3}[-*+][ \t]+(.*)$/;
const NUMBERED = /^ {0,3}(\d{1,9})[.)][ \t]+(.*)$/;

/** Parses message text into blocks. */
export function parseMarkdown(text: string): Block[] {
  return blocks(text.replace(/\r\n?/g, '\n').split('\n'), 0);
}

function blocks(lines: string[], depth: number): Block[] {
  const out: Block[] = [];
  let para: string[] = [];
  const flush = () => {
    if (para.length) out.push({ t: 'p', children: parseInline(para.join('\n'), depth) });
    para = [];
  };
  let i = 0;
  while (i < lines.length) {
    const line = lines[i]!;
    const fence = FENCE.exec(line);
    if (fence) {
      flush();
      const mark = fence[1]!;
      const body: string[] = [];
      i++;
      while (i < lines.length) {
        const l = lines[i]!.trimStart();
        if (l.startsWith(mark) && l.trimEnd().split('').every((c) => c === mark[0])) break;
        body.push(lines[i]!);
        i++;
      }
      i++; // the closing fence (an unclosed block runs to the end)
      out.push({ t: 'code', lang: fence[2]!.toLowerCase(), text: body.join('\n') });
      continue;
    }
    if (QUOTE.test(line) && depth < MAX_DEPTH) {
      flush();
      const inner: string[] = [];
      while (i < lines.length && QUOTE.test(lines[i]!)) {
        inner.push(lines[i]!.replace(QUOTE, ''));
        i++;
      }
      out.push({ t: 'quote', children: blocks(inner, depth + 1) });
      continue;
    }
    const bullet = BULLET.exec(line);
    const numbered = bullet ? null : NUMBERED.exec(line);
    if (bullet || numbered) {
      flush();
      const ordered = numbered !== null;
      const start = numbered ? Number(numbered[1]) : 1;
      const items: string[] = [];
      while (i < lines.length) {
        const l = lines[i]!;
        const m = ordered ? NUMBERED.exec(l) : BULLET.exec(l);
        if (m) {
          items.push(ordered ? m[2]! : m[1]!);
        } else if (/^[ \t]+\S/.test(l) && items.length) {
          items[items.length - 1] += `\n${l.trim()}`; // an item's indented next line
        } else {
          break;
        }
        i++;
      }
      out.push({ t: 'list', ordered, start, items: items.map((s) => parseInline(s, depth)) });
      continue;
    }
    if (line.trim() === '') {
      flush();
    } else {
      para.push(line);
    }
    i++;
  }
  flush();
  return out;
}

type Delim = { mark: string; t: 'strong' | 'em' | 'strike' };
const DELIMS: Delim[] = [
  { mark: '**', t: 'strong' },
  { mark: '__', t: 'strong' },
  { mark: '~~', t: 'strike' },
  { mark: '*', t: 'em' },
  { mark: '_', t: 'em' },
];

const isSpace = (c: string | undefined) => c === undefined || /\s/.test(c);
const isWord = (c: string | undefined) => c !== undefined && /[\p{L}\p{N}]/u.test(c);

/** The length of the run of c's around s[i] (e.g. 2 for the * of "a**b"). */
function runAt(s: string, i: number): number {
  const c = s[i];
  let a = i;
  let b = i;
  while (a > 0 && s[a - 1] === c) a--;
  while (b < s.length && s[b] === c) b++;
  return b - a;
}

function opens(s: string, i: number, d: Delim): boolean {
  if (!s.startsWith(d.mark, i) || runAt(s, i) !== d.mark.length || isSpace(s[i + d.mark.length])) return false;
  return d.mark[0] !== '_' || !isWord(s[i - 1]); // snake_case is not emphasis
}

function closes(s: string, j: number, d: Delim): boolean {
  if (!s.startsWith(d.mark, j) || runAt(s, j) !== d.mark.length || isSpace(s[j - 1])) return false;
  return d.mark[0] !== '_' || !isWord(s[j + d.mark.length]);
}

/**
 * Parses inline markdown. Whether a position closes a search depends only
 * on the position and the kind of search, so `seen` remembers each kind's
 * last search (from where, found where; -1: nowhere): a later search from
 * inside that range has the same answer without scanning again, which
 * keeps a message full of unmatched markers linear.
 */
export function parseInline(s: string, depth = 0): Inline[] {
  const out: Inline[] = [];
  const seen = new Map<string, { from: number; at: number }>();
  // Plain text so far, in pieces: appending to one string a character at
  // a time is quadratic in V8 for a long run of markers.
  let text: string[] = [];
  const flush = () => {
    if (text.length) out.push({ t: 'text', text: text.join('') });
    text = [];
  };
  const push = (n: Inline) => {
    flush();
    out.push(n);
  };
  /** The first j >= from where ok(j), or -1; remembered per key. */
  const find = (key: string, from: number, ok: (j: number) => boolean, first: (k: number) => number): number => {
    const m = seen.get(key);
    if (m && from >= m.from && (m.at === -1 || from <= m.at)) return m.at;
    let at = -1;
    for (let j = first(from); j !== -1; j = first(j + 1)) {
      if (ok(j)) {
        at = j;
        break;
      }
    }
    seen.set(key, { from, at });
    return at;
  };

  const special = /[\\`hH[*_~]/g;
  let i = 0;
  while (i < s.length) {
    // Jump over plain text to the next character that may start markup.
    special.lastIndex = i;
    const next = special.exec(s)?.index ?? s.length;
    if (next > i) {
      text.push(s.slice(i, next));
      i = next;
      continue;
    }
    const c = s[i]!;
    if (c === '\\' && i + 1 < s.length && /[\\`*_~[\]()>#+\-.!|]/.test(s[i + 1]!)) {
      text.push(s[i + 1]!);
      i += 2;
      continue;
    }
    if (c === '`') {
      const n = runAt(s, i);
      const tick = '`'.repeat(n);
      const end = find(`code${n}`, i + n, (j) => runAt(s, j) === n, (k) => s.indexOf(tick, k));
      if (end !== -1) {
        const code = s.slice(i + n, end);
        push({ t: 'code', text: /^ .*[^ ].* $/s.test(code) ? code.slice(1, -1) : code });
        i = end + n;
      } else {
        text.push(tick);
        i += n;
      }
      continue;
    }
    if (c === 'h' || c === 'H') {
      const url = linkAt(s, i);
      if (url) {
        push({ t: 'link', url, children: [{ t: 'text', text: url }] });
        i += url.length;
        continue;
      }
    }
    if (c === '[' && depth < MAX_DEPTH) {
      const link = explicitLink(s, i, find);
      if (link) {
        push({ t: 'link', url: link.url, children: parseInline(link.label, depth + 1) });
        i = link.end;
        continue;
      }
    }
    if ((c === '*' || c === '_' || c === '~') && depth < MAX_DEPTH) {
      const d = DELIMS.find((d) => opens(s, i, d));
      if (d) {
        const m = d.mark;
        const end = find(
          `d${m}`,
          i + m.length + 1,
          (j) => closes(s, j, d),
          (k) => s.indexOf(m, k),
        );
        if (end !== -1) {
          push({ t: d.t, children: parseInline(s.slice(i + m.length, end), depth + 1) });
          i = end + m.length;
          continue;
        }
      }
      const n = runAt(s, i);
      text.push(s.slice(i, i + n));
      i += n;
      continue;
    }
    text.push(c);
    i++;
  }
  flush();
  return out;
}

type Find = (key: string, from: number, ok: (j: number) => boolean, first: (k: number) => number) => number;

/** [label](http(s) url) at s[i]; null (the text stays text) for anything else. */
function explicitLink(s: string, i: number, find: Find): { label: string; url: string; end: number } | null {
  const close = find(
    'link',
    i + 1,
    () => true,
    (k) => s.indexOf('](', k),
  );
  if (close === -1 || close - i > 1000) return null;
  const label = s.slice(i + 1, close);
  if (!label || label.includes('\n')) return null;
  const end = find(
    'paren',
    close + 2,
    () => true,
    (k) => s.indexOf(')', k),
  );
  if (end === -1) return null;
  const url = safeUrl(s.slice(close + 2, end));
  return url ? { label, url, end: end + 1 } : null;
}

/** The message text without markup, for previews and notifications. */
export function plainText(blocks: Block[]): string {
  const inl = (ns: Inline[]): string =>
    ns.map((n) => (n.t === 'text' || n.t === 'code' ? n.text : n.t === 'link' ? inl(n.children) : inl(n.children))).join('');
  return blocks
    .map((b) =>
      b.t === 'p' ? inl(b.children) : b.t === 'code' ? b.text : b.t === 'quote' ? plainText(b.children) : b.items.map(inl).join('\n'),
    )
    .join('\n');
}

/** A one-line start of a message's text for a reply's quote (markup dropped). */
export function snippet(text: string, max = 80): string {
  const plain = plainText(parseMarkdown(text.length > 4 * max ? text.slice(0, 4 * max) : text))
    .replace(/\s+/g, ' ')
    .trim();
  return plain.length > max ? `${plain.slice(0, max)}…` : plain;
}
