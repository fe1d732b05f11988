import { describe, expect, it } from 'vitest';
import { statusText } from './status';
import { ERROR_CODES, explain } from '../errors';

describe('statusText', () => {
  it.each([
    ['waiting', '', 'Waiting for peer', 'wait'],
    ['connecting', '', 'Connecting…', 'wait'],
    ['connected', 'direct', 'Connected (direct)', 'ok'],
    ['connected', 'relayed', 'Connected (relayed)', 'ok'],
    ['verified', 'direct', 'Connected, verified (direct)', 'ok'],
    ['reconnecting', '', 'Reconnecting…', 'warn'],
    ['peer-left', '', 'Peer left', 'warn'],
    ['closed', '', 'Not connected', 'warn'],
  ] as const)('%s %s', (status, route, text, tone) => {
    const s = statusText(status, route, '');
    expect(s.text).toBe(text);
    expect(s.tone).toBe(tone);
  });

  it.each(ERROR_CODES)('closed with %s explains it', (code) => {
    const s = statusText('closed', '', code);
    expect(s).toEqual({ tone: 'bad', text: explain(code).sentence, next: explain(code).next });
  });
});
