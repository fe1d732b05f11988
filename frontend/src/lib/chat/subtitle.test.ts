import { describe, expect, it } from 'vitest';
import { roomSubtitle, shortSafetyNumber } from './subtitle';
import type { RoomView } from '../types';

const SN = '48213 90577 13062 77410 35981 60244';

function view(over: Partial<RoomView>): Pick<RoomView, 'status' | 'route' | 'code' | 'safetyNumber'> {
  return { status: 'waiting', route: '', code: '', safetyNumber: '', ...over };
}

describe('roomSubtitle', () => {
  it.each([
    ['waiting', view({}), false, 'Waiting for peer'],
    ['connecting', view({ status: 'connecting' }), false, 'Connecting…'],
    ['connected, not verified: no number yet', view({ status: 'connected', route: 'direct', safetyNumber: SN }), false, 'Connected (direct)'],
    ['verified: the short safety number', view({ status: 'verified', route: 'relayed', safetyNumber: SN }), false, 'Verified · safety number 48213 90577 …'],
    ['verified without a number', view({ status: 'verified', route: 'direct' }), false, 'Connected, verified (direct)'],
    ['peer left keeps the status', view({ status: 'peer-left', safetyNumber: SN }), false, 'Peer left'],
    ['closed with a code', view({ status: 'closed', code: 'ROOM_FULL' }), false, 'This room already has two people in it.'],
    ['typing wins', view({ status: 'verified', safetyNumber: SN }), true, 'typing…'],
  ])('%s', (_n, v, typing, want) => {
    const got = roomSubtitle(v, typing);
    expect(got).toBe(want);
    expect(got).not.toMatch(/^Room /);
  });

  it.each([
    ['', ''],
    ['12345', '12345'],
    ['12345 67890', '12345 67890'],
    [` ${SN} `, '48213 90577 …'],
  ])('shortSafetyNumber(%j)', (n, want) => {
    expect(shortSafetyNumber(n)).toBe(want);
  });
});
