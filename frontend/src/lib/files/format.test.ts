import { describe, expect, it } from 'vitest';
import { explainTransfer, formatBytes, formatEta, formatRate, percent, progressLine, splitName, stateLabel } from './format';
import type { Transfer } from '../types';

const tr = (over: Partial<Transfer>): Transfer => ({
  id: 't1',
  roomId: 'r',
  name: 'a.txt',
  outgoing: true,
  bytes: 0,
  total: 0,
  rate: 0,
  etaSeconds: 0,
  state: 'waiting',
  error: '',
  path: '',
  image: '',
  imageError: '',
  ...over,
});

describe('formatBytes', () => {
  it.each([
    [0, '0 B'],
    [999, '999 B'],
    [1000, '1.0 KB'],
    [1_250, '1.3 KB'],
    [999_960, '1.0 MB'],
    [48_000_000, '48.0 MB'],
    [123_400_000, '123 MB'],
    [2_400_000_000, '2.4 GB'],
    [-5, '0 B'],
    [Number.NaN, '0 B'],
  ])('%d -> %s', (n, want) => {
    expect(formatBytes(n)).toBe(want);
  });
});

describe('formatEta and formatRate', () => {
  it.each([
    [0, ''],
    [-1, ''],
    [0.2, '1 s left'],
    [59, '59 s left'],
    [61, '1 min left'],
    [3_599, '1 h left'],
    [3_600, '1 h left'],
    [3_900, '1 h 5 min left'],
    [Number.POSITIVE_INFINITY, ''],
  ])('eta %d -> "%s"', (s, want) => {
    expect(formatEta(s)).toBe(want);
  });

  it('shows a rate only when there is one', () => {
    expect(formatRate(0)).toBe('');
    expect(formatRate(2_600_000)).toBe('2.6 MB/s');
  });

  it('puts the numbers of a running transfer on one line', () => {
    expect(progressLine(tr({ state: 'active', bytes: 7_000_000, total: 31_000_000, rate: 2_600_000, etaSeconds: 9.2 }))).toEqual([
      '7.0 MB of 31.0 MB',
      '2.6 MB/s · 10 s left',
    ]);
    expect(progressLine(tr({ state: 'active', bytes: 0, total: 10 }))).toEqual(['0 B of 10 B', '']);
  });
});

describe('percent', () => {
  it.each([
    [0, 0, 0],
    [5, 0, 100],
    [1, 3, 33],
    [3, 3, 100],
    [9, 3, 100],
  ])('%d of %d -> %d%%', (bytes, total, want) => {
    expect(percent({ bytes, total })).toBe(want);
  });
});

describe('splitName', () => {
  it.each([
    ['report.pdf', 'report', '.pdf'],
    ['archive.tar.gz', 'archive.tar', '.gz'],
    ['.bashrc', '.bashrc', ''],
    ['README', 'README', ''],
    ['trailing.', 'trailing.', ''],
    ['odd.extensionthatislong', 'odd.extensionthatislong', ''],
  ])('%s', (name, stem, ext) => {
    expect(splitName(name)).toEqual({ stem, ext });
    expect(stem + ext).toBe(name);
  });
});

describe('stateLabel', () => {
  it.each([
    ['waiting', true, 'Waiting for the other person'],
    ['waiting', false, 'Waiting to start'],
    ['active', true, 'Sending'],
    ['active', false, 'Receiving'],
    ['done', true, 'Sent'],
    ['done', false, 'Received'],
    ['failed', true, 'Not sent'],
    ['failed', false, 'Not received'],
    ['canceled', false, 'Canceled'],
  ] as const)('%s (outgoing %s) -> %s', (state, outgoing, want) => {
    expect(stateLabel({ state, outgoing })).toBe(want);
  });
});

describe('explainTransfer', () => {
  it('gives the damaged-in-transit sentence with a next step for each side', () => {
    const out = explainTransfer({ error: 'TRANSFER_FAILED: SHA-256 mismatch', outgoing: true });
    expect(out.code).toBe('TRANSFER_FAILED');
    expect(out.sentence).toBe('The file was damaged in transit and was not saved.');
    expect(out.next).toBe('Send it again.');
    expect(explainTransfer({ error: 'TRANSFER_FAILED: x', outgoing: false }).next).toBe('Ask the other person to send it again.');
  });

  it('does not talk about the text box for files', () => {
    expect(explainTransfer({ error: 'PEER_OFFLINE: gone', outgoing: true }).next).not.toContain('box');
  });

  it.each(['', 'garbage', 'NOT_A_CODE: x'])('reads %j as INTERNAL', (error) => {
    expect(explainTransfer({ error, outgoing: true }).code).toBe('INTERNAL');
  });
});
