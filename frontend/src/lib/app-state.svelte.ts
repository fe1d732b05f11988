// Wires the stores together and holds the flows that span them: create a
// room, open a link (home field; a startup link or app:link-pending only
// after the person confirms it), open a recent room, go home when a room is gone, tell Go which room is in view (drops
// land there) and load that room's transfers.

import { getContext, setContext } from 'svelte';
import type { Api, RoomSummary, RoomView } from './types';
import { explain, toApiError, type Explained } from './errors';
import { ChatStore } from './chat/chat.svelte';
import { TransfersStore } from './files/transfers.svelte';
import { NavStore } from './nav/nav.svelte';
import { RoomsStore } from './rooms/rooms.svelte';
import { LinksStore } from './links/links.svelte';
import { SettingsStore } from './settings/settings.svelte';
import { ToastStore } from './ui/toasts.svelte';

/** Self-destruct timer offered on Create Room. */
export const SELF_DESTRUCT_SECONDS = 600;

export class AppState {
  readonly settings: SettingsStore;
  readonly rooms: RoomsStore;
  readonly chat: ChatStore;
  readonly nav: NavStore;
  readonly toasts: ToastStore;
  readonly transfers: TransfersStore;
  /** The link from outside the app waiting for confirmation. */
  readonly links: LinksStore;
  /** A create/open is under way (buttons show it and ignore repeats). */
  busy = $state(false);
  /**
   * Create Room waits for the first choice of a server (first run): the
   * question is asked only then, not before a link can be opened.
   */
  serverQuestion = $state<{ selfDestruct: boolean } | null>(null);
  ready = $state(false);
  fatal = $state<Explained | null>(null);

  constructor(readonly api: Api) {
    this.settings = new SettingsStore(api);
    this.rooms = new RoomsStore(api);
    this.nav = new NavStore();
    this.toasts = new ToastStore();
    this.transfers = new TransfersStore(api);
    this.links = new LinksStore(api, (code) => this.nav.showNotice(code));
    this.chat = new ChatStore(api, {
      onGone: (roomId, code) => {
        if (this.nav.roomId === roomId) {
          this.chat.hide();
          this.nav.goHome(code);
          this.transfers.setActive('');
        }
        void this.rooms.refresh();
      },
    });
  }

  /** Loads settings and rooms, subscribes to events, asks for a waiting startup link. */
  async init(): Promise<void> {
    this.chat.start();
    this.rooms.start();
    this.transfers.start();
    this.links.start();
    try {
      await Promise.all([this.settings.load(), this.rooms.refresh()]);
    } catch (e) {
      this.fatal = explain(toApiError(e).code);
      return;
    }
    this.ready = true;
    await this.links.load();
  }

  dispose(): void {
    this.chat.stop();
    this.rooms.stop();
    this.transfers.stop();
    this.links.stop();
  }

  async createRoom(selfDestruct: boolean): Promise<void> {
    if (this.settings.needsChoice) {
      this.serverQuestion = { selfDestruct };
      return;
    }
    await this.enter(() => this.api.createRoom(selfDestruct ? SELF_DESTRUCT_SECONDS : 0));
  }

  /** A server was chosen in answer to Create Room: create the room asked for. */
  async serverChosen(): Promise<void> {
    const q = this.serverQuestion;
    this.serverQuestion = null;
    if (q && !this.settings.needsChoice) await this.createRoom(q.selfDestruct);
  }

  cancelServerQuestion(): void {
    this.serverQuestion = null;
  }

  /**
   * The servers of the rooms on this computer, most recently used first:
   * on first run, those of the links opened so far. The server question
   * offers them.
   */
  get roomServers(): string[] {
    const out: string[] = [];
    for (const r of this.rooms.list) {
      const m = /^(https?:\/\/[^/?#\s]+)\/r\//i.exec(r.link);
      const s = m?.[1]?.toLowerCase();
      if (s && !out.includes(s)) out.push(s);
    }
    return out;
  }

  /** Opens a link the person pasted (no confirmation). False when it failed (notice says why). */
  openLink(link: string): Promise<boolean> {
    const l = link.trim();
    if (!l) {
      this.nav.showNotice('BAD_LINK');
      return Promise.resolve(false);
    }
    return this.enter(() => this.api.openRoom(l));
  }

  /**
   * Joins the link from outside the app that the person confirmed in the
   * dialog showing `id`. False when it failed or another link took its
   * place meanwhile (that one keeps waiting).
   */
  async confirmLink(id: number): Promise<boolean> {
    if (this.busy || !this.links.take(id)) return false;
    const ok = await this.enter(() => this.api.confirmLink(id));
    if (!ok) await this.links.load();
    return ok;
  }

  /** Opens a recent room: shows it if joined, rejoins by its link otherwise. */
  openRecent(r: RoomSummary): Promise<boolean> {
    // An ended room, or one whose peer key changed, is shown as it is
    // (history, and what to do about it) without joining.
    const show = r.open || r.ended !== '' || r.keyChanged;
    return this.enter(() => (show ? this.api.room(r.id) : this.api.openRoom(r.link)));
  }

  goHome(): void {
    this.chat.hide();
    this.nav.goHome();
    this.transfers.setActive('');
    void this.rooms.refresh();
  }

  /** Opens the file dialog for the room on screen; a failure becomes a toast. */
  async sendFiles(): Promise<void> {
    const id = this.chat.roomId;
    if (id) await this.attempt(() => this.transfers.pick(id));
  }

  async copyLink(): Promise<void> {
    try {
      await this.chat.copyLink();
      this.toasts.show('Link copied');
    } catch (e) {
      this.toasts.show(explain(toApiError(e).code).sentence, 'error');
    }
  }

  /** Runs an action and reports a failure as a toast in plain words. */
  async attempt(f: () => Promise<unknown>): Promise<boolean> {
    try {
      await f();
      return true;
    } catch (e) {
      const x = explain(toApiError(e).code);
      this.toasts.show(`${x.sentence} ${x.next}`, 'error', 5000);
      return false;
    }
  }

  private async enter(f: () => Promise<RoomView>): Promise<boolean> {
    if (this.busy) return false;
    this.busy = true;
    try {
      const view = await f();
      this.chat.show(view);
      this.nav.goRoom(view.id);
      this.transfers.setActive(view.id);
      void this.transfers.load(view.id).catch(() => {});
      void this.rooms.refresh();
      return true;
    } catch (e) {
      const code = toApiError(e).code;
      if (this.nav.screen.kind === 'room') this.goHome();
      this.nav.showNotice(code);
      return false;
    } finally {
      this.busy = false;
    }
  }
}

const KEY = Symbol('parley-app');

export function provideApp(app: AppState): void {
  setContext(KEY, app);
}

export function useApp(): AppState {
  const app = getContext<AppState | undefined>(KEY);
  if (!app) throw new Error('useApp called outside <App>');
  return app;
}
