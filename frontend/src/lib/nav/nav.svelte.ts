// Which screen is showing, and the notice the home screen carries when the
// app was sent there by an event ("Room destroyed").

import { explain, type Explained } from '../errors';

export type Screen = { kind: 'home' } | { kind: 'room'; roomId: string };

export class NavStore {
  screen = $state<Screen>({ kind: 'home' });
  /** A problem or notice shown at the top of the home screen. */
  notice = $state<Explained | null>(null);

  get roomId(): string {
    return this.screen.kind === 'room' ? this.screen.roomId : '';
  }

  goHome(code?: string): void {
    this.screen = { kind: 'home' };
    this.notice = code ? explain(code) : null;
  }

  goRoom(roomId: string): void {
    this.notice = null;
    this.screen = { kind: 'room', roomId };
  }

  showNotice(code: string): void {
    this.notice = explain(code);
  }

  clearNotice(): void {
    this.notice = null;
  }
}
