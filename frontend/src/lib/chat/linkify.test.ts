import { describe, expect, it } from 'vitest';
import { linkify } from './linkify';

describe('linkify', () => {
  it.each([
    ['plain', 'hello', [{ kind: 'text', text: 'hello' }]],
    ['empty', '', []],
    [
      'link in a sentence',
      'see https://a.example/x. ok',
      [
        { kind: 'text', text: 'see ' },
        { kind: 'link', text: 'https://a.example/x', url: 'https://a.example/x' },
        { kind: 'text', text: '. ok' },
      ],
    ],
    [
      'balanced parenthesis kept',
      'https://w.example/a_(b)',
      [{ kind: 'link', text: 'https://w.example/a_(b)', url: 'https://w.example/a_(b)' }],
    ],
    [
      'wrapping parenthesis dropped',
      '(http://x.example)',
      [
        { kind: 'text', text: '(' },
        { kind: 'link', text: 'http://x.example', url: 'http://x.example' },
        { kind: 'text', text: ')' },
      ],
    ],
    ['javascript: is not a link', 'javascript:alert(1)', [{ kind: 'text', text: 'javascript:alert(1)' }]],
    [
      'html stays text around links',
      '<b>https://x.example</b>',
      [
        { kind: 'text', text: '<b>' },
        { kind: 'link', text: 'https://x.example', url: 'https://x.example' },
        { kind: 'text', text: '</b>' },
      ],
    ],
  ])('%s', (_n, input, want) => {
    expect(linkify(input)).toEqual(want);
  });
});
