// Room links from outside the app (command line, another launch, a
// parley:// link a web page opened) wait in Go until the person confirms
// them: any web page can open such a link, and joining shows the room's
// owner this computer's addresses. This store holds the one waiting link
// the confirmation dialog shows. A link pasted into Join needs none.

import type { Api, PendingLink } from '../types';

export class LinksStore {
  /** The link the dialog shows; null when none waits. */
  pending = $state<PendingLink | null>(null);
  private off: (() => void) | null = null;

  /** onBad: a link from outside did not parse (BAD_LINK); say so. */
  constructor(
    private readonly api: Api,
    private readonly onBad: (code: string) => void,
  ) {}

  /** Listens for links handed over while the app runs. */
  start(): void {
    this.off ??= this.api.on('app:link-pending', (p) => this.receive(p));
  }

  stop(): void {
    this.off?.();
    this.off = null;
  }

  /** Asks Go for a link that arrived before the UI listened (startup argument). */
  async load(): Promise<void> {
    const p = await this.api.pendingLink().catch(() => null);
    // An event may have brought a newer link while we asked.
    if (p && (!this.pending || p.id >= this.pending.id)) this.receive(p);
  }

  /** Shows a waiting link; a bad one becomes a notice and is dropped. */
  receive(p: PendingLink): void {
    if (!p.id) {
      this.pending = null;
      return;
    }
    if (p.code) {
      this.pending = null;
      this.onBad(p.code);
      void this.api.cancelLink(p.id).catch(() => {});
      return;
    }
    this.pending = p;
  }

  /**
   * Takes the link with this id out of the dialog for joining; null when
   * the dialog meanwhile shows another one (never join what was not seen).
   */
  take(id: number): PendingLink | null {
    const p = this.pending;
    if (!p || p.id !== id) return null;
    this.pending = null;
    return p;
  }

  /** Esc or Cancel: drops the link in Go too. Nothing was contacted. */
  async cancel(id: number): Promise<void> {
    if (this.pending?.id === id) this.pending = null;
    await this.api.cancelLink(id).catch(() => {});
  }
}
