// The recent-rooms list (local history), refreshed on rooms:changed.

import type { Api, RoomSummary } from '../types';

/** The name a person sees: the local name, or the first 6 chars of the id. */
export function displayName(r: Pick<RoomSummary, 'name' | 'id'>): string {
  return r.name.trim() || `Room ${r.id.slice(0, 6)}`;
}

export class RoomsStore {
  list = $state<RoomSummary[]>([]);
  loaded = $state(false);
  private off: (() => void) | null = null;
  private pending: Promise<void> | null = null;
  private again = false;

  constructor(private readonly api: Api) {}

  start(): void {
    this.off ??= this.api.on('rooms:changed', () => void this.refresh());
  }

  stop(): void {
    this.off?.();
    this.off = null;
  }

  /** Reloads the list; bursts of calls collapse into at most one more load. */
  refresh(): Promise<void> {
    if (this.pending) {
      this.again = true;
      return this.pending;
    }
    this.pending = (async () => {
      do {
        this.again = false;
        this.list = await this.api.rooms();
        this.loaded = true;
      } while (this.again);
    })().finally(() => {
      this.pending = null;
    });
    return this.pending;
  }

  find(id: string): RoomSummary | undefined {
    return this.list.find((r) => r.id === id);
  }

  async rename(id: string, name: string): Promise<void> {
    await this.api.rename(id, name.trim());
    this.list = this.list.map((r) => (r.id === id ? { ...r, name: name.trim() } : r));
  }

  async forget(id: string): Promise<void> {
    await this.api.forget(id);
    this.list = this.list.filter((r) => r.id !== id);
  }
}
