import { describe, expect, it } from 'vitest';
import { linkAt } from './linkify';

describe('linkAt', () => {
  it.each([
    ['plain', 'hello', 0, ''],
    ['link in a sentence', 'see https://a.example/x. ok', 4, 'https://a.example/x'],
    ['balanced parenthesis kept', 'https://w.example/a_(b)', 0, 'https://w.example/a_(b)'],
    ['wrapping parenthesis dropped', '(http://x.example)', 1, 'http://x.example'],
    ['emphasis around it dropped', '**https://x.example/a**', 2, 'https://x.example/a'],
    ['javascript: is not a link', 'javascript:alert(1)', 0, ''],
    ['html stays out of the link', '<b>https://x.example</b>', 3, 'https://x.example'],
    ['not inside a word', 'xhttps://x.example', 1, ''],
    ['no host', 'http://', 0, ''],
    ['no host before a parenthesis', '(http://)', 1, ''],
  ])('%s', (_n, text, i, want) => {
    expect(linkAt(text, i)).toBe(want);
  });
});
