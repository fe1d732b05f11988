import { describe, expect, it } from 'vitest';
import { countdown, dayLabel, lastActive } from './time';

describe('countdown', () => {
  it.each([
    [600_000, '10:00'],
    [599_001, '10:00'],
    [61_000, '1:01'],
    [5_000, '0:05'],
    [0, '0:00'],
    [-5_000, '0:00'],
    [3_723_000, '1:02:03'],
  ])('%d ms left -> %s', (left, want) => {
    expect(countdown(1_000_000 + left, 1_000_000)).toBe(want);
  });
});

describe('relative times', () => {
  const now = new Date(2026, 2, 12, 15, 0).getTime();
  it.each([
    [now - 10_000, 'just now'],
    [now - 5 * 60_000, '5 min ago'],
    [new Date(2026, 2, 11, 9, 0).getTime(), 'Yesterday'],
    [new Date(2026, 0, 3, 9, 0).getTime(), '3 Jan'],
  ])('lastActive(%d) = %s', (t, want) => {
    expect(lastActive(t, now)).toBe(want);
  });

  it('labels days', () => {
    expect(dayLabel(now - 1000, now)).toBe('Today');
    expect(dayLabel(new Date(2026, 2, 11).getTime(), now)).toBe('Yesterday');
    expect(dayLabel(new Date(2025, 11, 24).getTime(), now)).toBe('24 Dec 2025');
  });
});
