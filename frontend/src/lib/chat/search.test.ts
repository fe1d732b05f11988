import { describe, expect, it } from 'vitest';
import { splitMatches } from './search';

describe('splitMatches', () => {
  it.each([
    ['no query', 'Hello there', '', [['Hello there', false]]],
    ['one hit, case ignored', 'Hello there', 'THERE', [['Hello ', false], ['there', true]]],
    ['several hits', 'a-b-a', 'a', [['a', true], ['-b-', false], ['a', true]]],
    ['whole text', 'lunch', 'lunch', [['lunch', true]]],
    ['no hit', 'lunch', 'dinner', [['lunch', false]]],
    ['query trimmed', 'see you', ' you ', [['see ', false], ['you', true]]],
    ['markup is just text', '<b>x</b>', '<b>', [['<b>', true], ['x</b>', false]]],
    ['folding changes length: nothing marked', 'İstanbul', 'i', [['İstanbul', false]]],
  ])('%s', (_, text, q, want) => {
    expect(splitMatches(text, q).map((r) => [r.text, r.hit])).toEqual(want);
  });

  it('keeps every character of a long text', () => {
    const text = 'ab'.repeat(50_000);
    const runs = splitMatches(text, 'ba');
    expect(runs.map((r) => r.text).join('')).toBe(text);
    expect(runs.filter((r) => r.hit)).toHaveLength(49_999);
  });
});
