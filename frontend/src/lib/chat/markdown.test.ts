import { describe, expect, it, vi } from 'vitest';
import { render, fireEvent, screen, waitFor } from '@testing-library/svelte';
import { parseInline, parseMarkdown, plainText, type Block, type Inline } from './markdown';
import { safeUrl } from './linkify';
import { highlight, MAX_HIGHLIGHT } from './highlight';
import Markdown from './Markdown.svelte';

const text = (t: string): Inline => ({ t: 'text', text: t });

describe('parseInline', () => {
  it.each<[string, string, Inline[]]>([
    ['plain', 'hello', [text('hello')]],
    ['bold', 'a **b** c', [text('a '), { t: 'strong', children: [text('b')] }, text(' c')]],
    ['bold underscores', '__b__', [{ t: 'strong', children: [text('b')] }]],
    ['italic', '*i* and _j_', [{ t: 'em', children: [text('i')] }, text(' and '), { t: 'em', children: [text('j')] }]],
    ['strike', '~~gone~~', [{ t: 'strike', children: [text('gone')] }]],
    ['nested', '**a *b* c**', [{ t: 'strong', children: [text('a '), { t: 'em', children: [text('b')] }, text(' c')] }]],
    ['inline code keeps markers', '`**x** <b>`', [{ t: 'code', text: '**x** <b>' }]],
    ['double backticks', '`` a`b ``', [{ t: 'code', text: 'a`b' }]],
    ['snake_case is not emphasis', 'my_var_name', [text('my_var_name')]],
    ['spaced stars are not emphasis', '2 * 3 * 4', [text('2 * 3 * 4')]],
    ['unclosed', '**open and `tick', [text('**open and `tick')]],
    ['escape', '\\*not\\*', [text('*not*')]],
    ['autolink', 'see https://a.example/x_y_z.', [text('see '), { t: 'link', url: 'https://a.example/x_y_z', children: [text('https://a.example/x_y_z')] }, text('.')]],
    ['explicit link', '[the docs](https://a.example/d)', [{ t: 'link', url: 'https://a.example/d', children: [text('the docs')] }]],
    ['link label with markup', '[**b**](http://a.example)', [{ t: 'link', url: 'http://a.example', children: [{ t: 'strong', children: [text('b')] }] }]],
  ])('%s', (_n, s, want) => {
    expect(parseInline(s)).toEqual(want);
  });

  it.each([
    'javascript:alert(1)',
    'JaVaScRiPt:alert(1)',
    'data:text/html,<script>alert(1)</script>',
    'vbscript:msgbox(1)',
    'file:///etc/passwd',
    '//evil.example/x',
    'https://a.example/"onmouseover="x',
    ' javascript:alert(1)',
    'http://',
  ])('a [label](%s) is no link', (url) => {
    const nodes = parseInline(`[click](${url})`);
    const links = JSON.stringify(nodes).match(/"t":"link"/g) ?? [];
    // Only an http(s) address inside the text may still become an autolink.
    for (const n of nodes) if (n.t === 'link') expect(safeUrl(n.url)).toBe(n.url);
    if (!/^https?:\/\/[^\s"]/.test(url.trim())) expect(links).toHaveLength(0);
  });
});

describe('parseMarkdown', () => {
  it.each<[string, string, Block[]]>([
    ['paragraphs keep single newlines', 'a\nb\n\nc', [{ t: 'p', children: [text('a\nb')] }, { t: 'p', children: [text('c')] }]],
    ['fenced code with a language', '```go\nfunc main() {}\n```', [{ t: 'code', lang: 'go', text: 'func main() {}' }]],
    ['tilde fence, markup inside stays', '~~~\n**x** <b>\n~~~\nafter', [{ t: 'code', lang: '', text: '**x** <b>' }, { t: 'p', children: [text('after')] }]],
    ['unclosed fence runs to the end', '```\na\nb', [{ t: 'code', lang: '', text: 'a\nb' }]],
    ['quote', '> said\n> this\nreply', [{ t: 'quote', children: [{ t: 'p', children: [text('said\nthis')] }] }, { t: 'p', children: [text('reply')] }]],
    ['bullets', '- one\n* two', [{ t: 'list', ordered: false, start: 1, items: [[text('one')], [text('two')]] }]],
    ['numbered from 3', '3. c\n4. d', [{ t: 'list', ordered: true, start: 3, items: [[text('c')], [text('d')]] }]],
    ['headings are text', '# not a heading', [{ t: 'p', children: [text('# not a heading')] }]],
  ])('%s', (_n, s, want) => {
    expect(parseMarkdown(s)).toEqual(want);
  });

  it('plainText drops the markup', () => {
    expect(plainText(parseMarkdown('**a** `b`\n> c\n- d'))).toBe('a b\nc\nd');
  });

  // Linear, not quadratic. A quadratic parser needs about 10^11 steps for
  // 1 MB of markers (minutes); this one takes well under a second on an
  // idle machine and a few on a loaded one, so the generous bound only
  // catches the blow-up, not a busy machine.
  it.each<[string, (n: number) => string]>([
    ['stars', (n) => '*'.repeat(n)],
    ['open stars', (n) => '*a '.repeat(n / 3)],
    ['brackets', (n) => '[a]('.repeat(n / 4)],
    ['open brackets', (n) => '['.repeat(n)],
    ['ticks', (n) => '`a``'.repeat(n / 4)],
    ['underscores', (n) => '_a_b '.repeat(n / 5)],
    ['quotes', (n) => '> '.repeat(n / 2)],
    ['fences', (n) => '```\n'.repeat(n / 4)],
    ['list lines', (n) => '- a\n'.repeat(n / 4)],
    ['urls', (n) => 'https://a.example/* '.repeat(n / 20)],
    ['nested emphasis', (n) => '**_~~'.repeat(n / 10) + 'x' + '~~_**'.repeat(n / 10)],
  ])('1 MB of %s parses in linear time', (_n, make) => {
    // A flat string, as a message arrives (JSON), not a concatenation rope.
    const big = JSON.parse(JSON.stringify(make(1 << 20))) as string;
    const t0 = performance.now();
    parseMarkdown(big);
    expect(performance.now() - t0).toBeLessThan(15_000);
  }, 30_000);
});

describe('highlight', () => {
  it('marks keywords and strings of a named language', () => {
    const toks = highlight('func main() { s := "x" }', 'go');
    const flat = JSON.stringify(toks);
    expect(flat).toContain('hljs-keyword');
    expect(flat).toContain('hljs-string');
  });

  it('leaves unknown languages, no language and long code plain', () => {
    expect(highlight('x', 'nonsense')).toEqual(['x']);
    expect(highlight('x', '')).toEqual(['x']);
    const long = 'a'.repeat(MAX_HIGHLIGHT + 1);
    expect(highlight(long, 'go')).toEqual([long]);
  });

  it('keeps the peer text as text: HTML in code stays characters', () => {
    const toks = highlight('<script>alert("x")</script>', 'html');
    const all = (ts: typeof toks): string => ts.map((t) => (typeof t === 'string' ? t : all(t.children))).join('');
    expect(all(toks)).toBe('<script>alert("x")</script>');
  });
});

// The XSS corpus: nothing the peer writes becomes an element, attribute or
// address other than the few the renderer makes itself.
const CORPUS = [
  '<script>alert(1)</script>',
  '<img src=x onerror=alert(1)>',
  '<svg onload=alert(1)>',
  '<a href="javascript:alert(1)">x</a>',
  '[x](javascript:alert(1))',
  '[x](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==)',
  '[x](https://ok.example" onclick="alert(1))',
  '![img](https://a.example/x.png)',
  '**<b onmouseover=alert(1)>b</b>**',
  '`<iframe src=//evil>`',
  '```html\n<script>alert(1)</script>\n```',
  '> <style>*{display:none}</style>',
  '- <form action=//evil><input></form>',
  '[**[x](javascript:alert(1))**](https://a.example)',
  '<math><mi xlink:href="javascript:alert(1)">x</mi></math>',
  '&lt;script&gt;alert(1)&lt;/script&gt;',
  'https://a.example/"><script>alert(1)</script>',
];

describe('Markdown.svelte', () => {
  const ALLOWED = new Set(['DIV', 'P', 'STRONG', 'EM', 'S', 'CODE', 'A', 'BLOCKQUOTE', 'UL', 'OL', 'LI', 'PRE', 'SPAN', 'BUTTON', 'svg', 'path']);

  it.each(CORPUS)('renders %j without HTML from the peer', (src) => {
    const { container } = render(Markdown, { text: src, onlink: vi.fn(), oncopy: vi.fn() });
    for (const el of container.querySelectorAll('*')) {
      expect(ALLOWED.has(el.tagName), `element ${el.tagName}`).toBe(true);
      for (const a of el.attributes) {
        expect(a.name.startsWith('on'), `attribute ${a.name}`).toBe(false);
        if (a.name === 'href') expect(a.value).toMatch(/^https?:\/\//);
        if (a.name === 'style') expect(a.value).toBe('');
      }
    }
    expect(container.textContent!.trim()).not.toBe('');
  });

  it('renders the subset as elements', () => {
    const { container } = render(Markdown, {
      text: '**b** *i* ~~s~~ `c`\n\n> q\n\n1. one\n2. two\n\n- x\n\n[docs](https://a.example/d)',
      onlink: vi.fn(),
      oncopy: vi.fn(),
    });
    expect(container.querySelector('strong')!.textContent).toBe('b');
    expect(container.querySelector('em')!.textContent).toBe('i');
    expect(container.querySelector('s')!.textContent).toBe('s');
    expect(container.querySelector('code.inline')!.textContent).toBe('c');
    expect(container.querySelector('blockquote')!.textContent!.trim()).toBe('q');
    expect(container.querySelectorAll('ol li')).toHaveLength(2);
    expect(container.querySelectorAll('ul li')).toHaveLength(1);
    expect(container.querySelector('a')!.getAttribute('href')).toBe('https://a.example/d');
  });

  it('links go to onlink, never navigating', async () => {
    const onlink = vi.fn();
    render(Markdown, { text: '[docs](https://a.example/d)', onlink, oncopy: vi.fn() });
    const ev = new MouseEvent('click', { bubbles: true, cancelable: true });
    screen.getByRole('link', { name: 'docs' }).dispatchEvent(ev);
    expect(ev.defaultPrevented).toBe(true);
    expect(onlink).toHaveBeenCalledWith('https://a.example/d');
  });

  it('a code block is highlighted, scrolls, and copies its text', async () => {
    const code = 'package main\n\nfunc main() { println("<b>hi</b>") }';
    const oncopy = vi.fn(async () => true);
    const { container } = render(Markdown, { text: `look:\n\`\`\`go\n${code}\n\`\`\``, onlink: vi.fn(), oncopy });
    const pre = container.querySelector('pre')!;
    expect(pre.textContent).toBe(code);
    expect(pre.querySelector('.hljs-keyword')).not.toBeNull();
    expect(pre.querySelector('b')).toBeNull();
    await fireEvent.click(screen.getByRole('button', { name: 'Copy code' }));
    expect(oncopy).toHaveBeenCalledWith(code);
    await waitFor(() => expect(screen.getByTestId('copy-code').textContent).toContain('Copied'));
  });

  it('marks search hits in text, formatting and inline code, as text only', () => {
    const { container } = render(Markdown, {
      text: 'the **Config** file and `config.yaml`, <i>config</i>',
      onlink: vi.fn(),
      oncopy: vi.fn(),
      highlight: 'config',
    });
    const marks = Array.from(container.querySelectorAll('mark')).map((m) => m.textContent);
    expect(marks).toEqual(['Config', 'config', 'config']);
    expect(container.querySelector('code mark')?.textContent).toBe('config');
    expect(container.querySelector('i')).toBeNull();
    expect(container.textContent).toContain('<i>config</i>');
  });
});
