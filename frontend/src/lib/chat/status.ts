// The status bar's words for each connection state.

import type { Route, Status } from '../types';
import { explain } from '../errors';

export type Tone = 'ok' | 'wait' | 'warn' | 'bad';

export interface StatusText {
  tone: Tone;
  text: string;
  /** The next step, when there is one. */
  next: string;
}

export function statusText(status: Status, route: Route, code: string): StatusText {
  const via = route === 'relayed' ? 'relayed' : route === 'direct' ? 'direct' : '';
  switch (status) {
    case 'waiting':
      return { tone: 'wait', text: 'Waiting for peer', next: 'Share the link with the person you want to talk to.' };
    case 'connecting':
      return { tone: 'wait', text: 'Connecting…', next: '' };
    case 'connected':
      return { tone: 'ok', text: via ? `Connected (${via})` : 'Connected', next: '' };
    case 'verified':
      return { tone: 'ok', text: via ? `Connected, verified (${via})` : 'Connected, verified', next: '' };
    case 'reconnecting':
      return { tone: 'warn', text: 'Reconnecting…', next: 'Messages can be sent again once the connection is back.' };
    case 'peer-left':
      return { tone: 'warn', text: 'Peer left', next: 'They can come back with the same link.' };
    case 'closed': {
      if (!code) return { tone: 'warn', text: 'Not connected', next: 'Open the room again to reconnect.' };
      const x = explain(code);
      return { tone: 'bad', text: x.sentence, next: x.next };
    }
  }
}
