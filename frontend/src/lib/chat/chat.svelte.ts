// The room on screen: its view, live status, messages, delivery states,
// typing hint and unread marker. Components call these methods; nothing here
// knows about the DOM except `document.hidden` for the unread marker.

import type { Api, Message, RoomView, Status, Route } from '../types';
import { explain, toApiError, type Explained } from '../errors';

const TYPING_SHOW_MS = 4000;
const TYPING_SEND_EVERY_MS = 2500;
const SEEN_KEY = 'parley.lastSeen';
/** The most messages held (and rendered) at once; paging drops the far end beyond it. */
export const WINDOW_MAX = 400;

/** Ctrl+F in a room: the query, its matches so far (newest first) and the one shown. */
export interface SearchState {
  query: string;
  matches: Message[];
  /** Index of the shown match in matches; -1 before the first is shown. */
  index: number;
  /** Where to go on searching older messages ("" when the whole room was searched). */
  next: string;
  busy: boolean;
  error: string;
}

export interface ChatHooks {
  /** The room ended for good (destroyed, expired): leave the screen. */
  onGone(roomId: string, code: string): void;
}

function readSeen(): Record<string, number> {
  try {
    return JSON.parse(localStorage.getItem(SEEN_KEY) ?? '{}') as Record<string, number>;
  } catch {
    return {};
  }
}

export class ChatStore {
  view = $state<RoomView | null>(null);
  /** Why the last send failed (text stays in the composer). */
  composerError = $state<Explained | null>(null);
  sending = $state(false);
  peerTyping = $state(false);
  /** Id of the first unread incoming message, or "" for none. */
  unreadFrom = $state('');
  /** Incoming messages that arrived while the newest was out of view. */
  unseen = $state(0);
  /** Set by the message list: is the newest message in view? */
  atBottom = $state(true);
  /** The composer answers this message (Reply), or changes it (Edit); null: a new message. */
  replyingTo = $state<Message | null>(null);
  editing = $state<Message | null>(null);
  /** The room has messages after the loaded window (scrolled far back, or a search hit). */
  newer = $state(false);
  /** A page is on its way (older, newer, around). */
  paging = $state(false);
  /** A message to bring into view and mark: a search hit or a reply's original. seq re-triggers. */
  focus = $state<{ id: string; seq: number } | null>(null);
  search = $state<SearchState | null>(null);
  private searchToken = 0;

  private readonly offs: (() => void)[] = [];
  private readonly earlyAcks = new Set<string>();
  private typingTimer: ReturnType<typeof setTimeout> | null = null;
  private lastTypingSent = 0;

  constructor(
    private readonly api: Api,
    private readonly hooks: ChatHooks,
    private readonly now: () => number = () => Date.now(),
  ) {}

  get roomId(): string {
    return this.view?.id ?? '';
  }

  get status(): Status | '' {
    return this.view?.status ?? '';
  }

  start(): void {
    if (this.offs.length) return;
    this.offs.push(
      this.api.on('room:status', (p) => {
        if (p.roomId !== this.roomId || !this.view) return;
        // Older than what the view shows: it arrived out of order.
        if (p.seq <= this.view.statusSeq) return;
        this.view.statusSeq = p.seq;
        this.setStatus(p.status, p.route, p.code);
      }),
      this.api.on('room:message', (p) => {
        if (p.roomId === this.roomId) this.receive(p.message);
      }),
      this.api.on('room:message-changed', (p) => {
        if (p.roomId === this.roomId) this.replace(p.message);
      }),
      this.api.on('room:delivered', (p) => {
        if (p.roomId === this.roomId) this.delivered(p.id);
      }),
      this.api.on('room:typing', (p) => {
        if (p.roomId === this.roomId) this.showTyping();
      }),
      this.api.on('room:closed', (p) => {
        if (p.roomId !== this.roomId) return;
        this.setStatus('closed', '', p.code);
        if (p.code === 'ROOM_DESTROYED' || p.code === 'TIMER_EXPIRED' || p.code === 'KEY_CHANGED') {
          void this.afterEnd(p.roomId, p.code);
        }
      }),
    );
  }

  stop(): void {
    for (const off of this.offs.splice(0)) off();
    this.clearTyping();
  }

  /** Shows `view`; places the unread marker after what was last seen. */
  show(view: RoomView): void {
    this.clearTyping();
    this.earlyAcks.clear();
    this.composerError = null;
    this.replyingTo = null;
    this.editing = null;
    this.unseen = 0;
    this.atBottom = true;
    this.newer = false;
    this.paging = false;
    this.focus = null;
    this.search = null;
    const seen = readSeen()[view.id] ?? 0;
    const firstNew = view.messages.find((m) => !m.outgoing && m.sentAt > seen);
    this.unreadFrom = seen > 0 && firstNew ? firstNew.id : '';
    this.view = view;
    this.markSeen();
  }

  /** Leaves the screen (the room stays joined). */
  hide(): void {
    this.markSeen();
    this.clearTyping();
    this.view = null;
  }

  /**
   * Sends `text`. True when the message left (the composer may clear);
   * false when it did not, with composerError saying why.
   */
  async send(text: string): Promise<boolean> {
    const v = this.view;
    if (!v || !text.trim() || this.sending) return false;
    if (this.editing) return this.saveEdit(v.id, this.editing, text);
    this.sending = true;
    const replyTo = this.replyingTo?.id ?? '';
    try {
      const msg = replyTo ? await this.api.reply(v.id, text, replyTo) : await this.api.send(v.id, text);
      this.replyingTo = null;
      if (this.newer) await this.jumpToNewest();
      if (this.earlyAcks.delete(msg.id)) msg.state = 'delivered';
      if (this.view?.id === v.id && !this.view.messages.some((m) => m.id === msg.id)) {
        this.view.messages.push(msg);
        this.view.lastPreview = msg.text;
        this.trimFront();
      }
      this.composerError = null;
      this.unreadFrom = '';
      this.unseen = 0;
      return true;
    } catch (e) {
      this.composerError = explain(toApiError(e).code);
      return false;
    } finally {
      this.sending = false;
    }
  }

  private async saveEdit(roomId: string, m: Message, text: string): Promise<boolean> {
    this.sending = true;
    try {
      this.replace(await this.api.edit(roomId, m.id, text));
      this.editing = null;
      this.composerError = null;
      return true;
    } catch (e) {
      this.composerError = explain(toApiError(e).code);
      return false;
    } finally {
      this.sending = false;
    }
  }

  /** The composer answers m. */
  startReply(m: Message): void {
    this.editing = null;
    this.replyingTo = m;
  }

  /** The composer changes m, one of ours. */
  startEdit(m: Message): void {
    if (!m.outgoing || m.deleted) return;
    this.replyingTo = null;
    this.editing = m;
  }

  /** Back to a new message (Esc in the composer). */
  cancelCompose(): void {
    this.replyingTo = null;
    this.editing = null;
  }

  /** Deletes one of our messages for both. */
  async deleteMessage(m: Message): Promise<void> {
    const v = this.view;
    if (!v) return;
    this.replace(await this.api.deleteMessage(v.id, m.id));
    if (this.editing?.id === m.id || this.replyingTo?.id === m.id) this.cancelCompose();
  }

  /** Toggles our reaction emoji on m (another emoji replaces it). */
  async react(m: Message, emoji: string): Promise<void> {
    const v = this.view;
    if (!v) return;
    this.replace(await this.api.react(v.id, m.id, m.myReaction === emoji ? '' : emoji));
  }

  /** A stored message changed (ours or the peer's doing): show it as it is now. */
  private replace(msg: Message): void {
    const v = this.view;
    if (!v || msg.roomId !== v.id) return;
    const i = v.messages.findIndex((m) => m.id === msg.id);
    if (i < 0) return;
    const old = v.messages[i]!;
    v.messages[i] = { ...msg, state: old.state === 'delivered' ? 'delivered' : msg.state };
    if (i === v.messages.length - 1) v.lastPreview = msg.text;
    if (this.replyingTo?.id === msg.id) this.replyingTo = v.messages[i]!;
    if (msg.deleted && this.editing?.id === msg.id) this.editing = null;
  }

  /** Tells the peer we type, at most every few seconds. */
  typed(): void {
    const v = this.view;
    if (!v) return;
    const t = this.now();
    if (t - this.lastTypingSent < TYPING_SEND_EVERY_MS) return;
    this.lastTypingSent = t;
    this.api.typing(v.id).catch(() => {});
  }

  dismissComposerError(): void {
    this.composerError = null;
  }

  async rename(name: string): Promise<void> {
    const v = this.view;
    if (!v) return;
    await this.api.rename(v.id, name.trim());
    if (this.view?.id === v.id) this.view.name = name.trim();
  }

  async clear(): Promise<void> {
    const v = this.view;
    if (!v) return;
    await this.api.clearMessages(v.id);
    if (this.view?.id === v.id) {
      this.view.messages = [];
      this.view.older = false;
      this.newer = false;
      this.search = null;
      this.view.lastPreview = '';
      this.unreadFrom = '';
    }
  }

  async destroy(): Promise<void> {
    const v = this.view;
    if (!v) return;
    await this.api.destroyRoom(v.id);
    // The facade also sends room:closed; go home even if it is late.
    if (this.view?.id === v.id) this.hooks.onGone(v.id, 'ROOM_DESTROYED');
  }

  /**
   * The room closed for good, or for now: a wiped room is gone (leave the
   * screen); one the server ended without the other person's confirmation
   * stays, marked ended; a changed key waits for the user to verify it.
   */
  private async afterEnd(roomId: string, code: string): Promise<void> {
    let fresh: RoomView;
    try {
      fresh = await this.api.room(roomId);
    } catch {
      this.hooks.onGone(roomId, code);
      return;
    }
    const v = this.view;
    if (v?.id !== roomId) return;
    if (!fresh.ended && !fresh.keyChange) {
      this.hooks.onGone(roomId, code);
      return;
    }
    v.open = false;
    v.ended = fresh.ended;
    v.keyChanged = fresh.keyChanged;
    v.keyChange = fresh.keyChange;
  }

  /** After KEY_CHANGED, once the user compared the new safety number: trust it and reconnect. */
  async trustNewKey(): Promise<void> {
    const v = this.view;
    if (!v) return;
    const fresh = await this.api.trustNewKey(v.id);
    if (this.view?.id === v.id) this.view = fresh;
  }

  /** Deletes an ended room from this computer and leaves the screen. */
  async forget(): Promise<void> {
    const v = this.view;
    if (!v) return;
    await this.api.forget(v.id);
    if (this.view?.id === v.id) this.hooks.onGone(v.id, '');
  }

  async leave(): Promise<void> {
    const v = this.view;
    if (!v) return;
    await this.api.leaveRoom(v.id);
  }

  copyLink(): Promise<void> {
    const v = this.view;
    return v ? this.api.copyLink(v.id) : Promise.resolve();
  }

  openURL(url: string): Promise<void> {
    return this.api.openURL(url);
  }

  /** Puts a code block's text on the clipboard. */
  copyText(text: string): Promise<void> {
    return this.api.copyText(text);
  }

  /** The list scrolled: reaching the newest clears the "new" count. */
  setAtBottom(b: boolean): void {
    this.atBottom = b;
    if (b) {
      this.unseen = 0;
      this.markSeen();
    }
  }

  /** A long session at the newest end: keep the window bounded (older pages reload on scroll). */
  private trimFront(): void {
    const v = this.view;
    if (!v || v.messages.length <= WINDOW_MAX) return;
    v.messages.splice(0, v.messages.length - WINDOW_MAX);
    v.older = true;
  }

  /** Loads the page before the window; drops the newest beyond WINDOW_MAX. False: nothing more. */
  async loadOlder(): Promise<boolean> {
    const v = this.view;
    const first = v?.messages[0];
    if (!v || !first || !v.older || this.paging) return false;
    this.paging = true;
    try {
      const p = await this.api.olderMessages(v.id, first.id);
      if (this.view !== v || v.messages[0]?.id !== first.id) return false;
      const have = new Set(v.messages.map((m) => m.id));
      const add = p.messages.filter((m) => !have.has(m.id));
      v.messages.unshift(...add);
      v.older = p.older;
      if (v.messages.length > WINDOW_MAX) {
        v.messages.splice(WINDOW_MAX);
        this.newer = true;
      }
      return add.length > 0;
    } finally {
      this.paging = false;
    }
  }

  /** Loads the page after the window; drops the oldest beyond WINDOW_MAX. */
  async loadNewer(): Promise<boolean> {
    const v = this.view;
    const last = v?.messages[v.messages.length - 1];
    if (!v || !last || !this.newer || this.paging) return false;
    this.paging = true;
    try {
      const p = await this.api.newerMessages(v.id, last.id);
      if (this.view !== v) return false;
      const have = new Set(v.messages.map((m) => m.id));
      const add = p.messages.filter((m) => !have.has(m.id));
      v.messages.push(...add);
      this.newer = p.newer;
      if (v.messages.length > WINDOW_MAX) {
        v.messages.splice(0, v.messages.length - WINDOW_MAX);
        v.older = true;
      }
      return add.length > 0;
    } finally {
      this.paging = false;
    }
  }

  /** Shows the newest page again (the "new messages" button, or sending while scrolled far back). */
  async jumpToNewest(): Promise<void> {
    const v = this.view;
    if (!v) return;
    if (!this.newer) return;
    const p = await this.api.olderMessages(v.id, '');
    if (this.view !== v) return;
    v.messages = p.messages;
    v.older = p.older;
    this.newer = false;
  }

  /** Brings message id into view, loading the page around it when it is not in the window. */
  async goTo(id: string): Promise<boolean> {
    const v = this.view;
    if (!v || !id) return false;
    if (!v.messages.some((m) => m.id === id)) {
      let p;
      try {
        p = await this.api.messagesAround(v.id, id);
      } catch {
        return false; // not in this room's history (cleared, or never here)
      }
      if (this.view !== v || !p.messages.some((m) => m.id === id)) return false;
      v.messages = p.messages;
      v.older = p.older;
      this.newer = p.newer;
    }
    this.focus = { id, seq: (this.focus?.seq ?? 0) + 1 };
    return true;
  }

  /** Ctrl+F: opens the search bar (empty) or keeps the current search. */
  openSearch(): void {
    if (!this.search) this.search = { query: '', matches: [], index: -1, next: '', busy: false, error: '' };
  }

  closeSearch(): void {
    this.searchToken++;
    this.search = null;
  }

  /** Searches the room for query from the newest message and shows the newest match. */
  async runSearch(query: string): Promise<void> {
    const v = this.view;
    if (!v) return;
    const token = ++this.searchToken;
    const q = query.trim();
    if (!q) {
      this.search = { query, matches: [], index: -1, next: '', busy: false, error: '' };
      return;
    }
    this.search = { query, matches: [], index: -1, next: '', busy: true, error: '' };
    try {
      const r = await this.api.searchMessages(v.id, q, '');
      if (token !== this.searchToken || !this.search) return;
      this.search = { query, matches: r.matches, index: -1, next: r.next, busy: false, error: '' };
      // Nothing in the newest part yet: go on through older history.
      while (this.search.matches.length === 0 && this.search.next && token === this.searchToken) {
        await this.moreMatches(token);
      }
      if (token === this.searchToken) await this.showMatch(0);
    } catch (e) {
      if (token === this.searchToken && this.search) this.search = { ...this.search, busy: false, error: explain(toApiError(e).code).sentence };
    }
  }

  /** The next match back in time (Enter); loads more matches when needed. */
  async olderMatch(): Promise<void> {
    const s = this.search;
    if (!s || s.busy) return;
    const token = this.searchToken;
    if (s.index + 1 >= s.matches.length && s.next) await this.moreMatches(token);
    if (token !== this.searchToken || !this.search) return;
    if (this.search.index + 1 < this.search.matches.length) await this.showMatch(this.search.index + 1);
  }

  /** The match after the shown one in time (Shift+Enter). */
  async newerMatch(): Promise<void> {
    const s = this.search;
    if (!s || s.busy || s.index <= 0) return;
    await this.showMatch(s.index - 1);
  }

  private async moreMatches(token: number): Promise<void> {
    const v = this.view;
    const s = this.search;
    if (!v || !s || !s.next) return;
    s.busy = true;
    try {
      const r = await this.api.searchMessages(v.id, s.query.trim(), s.next);
      if (token !== this.searchToken || this.search !== s) return;
      s.matches.push(...r.matches);
      s.next = r.next;
    } finally {
      s.busy = false;
    }
  }

  private async showMatch(i: number): Promise<void> {
    const s = this.search;
    const m = s?.matches[i];
    if (!s || !m) return;
    s.index = i;
    await this.goTo(m.id);
  }

  private setStatus(status: Status, route: Route, code: string): void {
    if (!this.view) return;
    this.view.status = status;
    this.view.route = route;
    this.view.code = code ?? '';
    if (status !== 'connected' && status !== 'verified') this.clearTyping();
    else if (!this.view.safetyNumber) void this.refreshKey(this.view.id);
  }

  /** The safety number becomes known on connect; events do not carry it. */
  private async refreshKey(roomId: string): Promise<void> {
    try {
      const fresh = await this.api.room(roomId);
      if (this.view?.id === roomId) this.view.safetyNumber = fresh.safetyNumber;
    } catch {
      // Verify shows "not known yet"; the next status change retries.
    }
  }

  private receive(m: Message): void {
    const v = this.view;
    if (!v || v.messages.some((x) => x.id === m.id)) return;
    this.clearTyping();
    if (this.newer) {
      // The window shows older messages: the new one waits for "jump to newest".
      if (!m.outgoing) {
        if (!this.unreadFrom) this.unreadFrom = m.id;
        this.unseen += 1;
      }
      v.lastPreview = m.text;
      v.lastActive = m.sentAt;
      return;
    }
    const away = !this.atBottom || (typeof document !== 'undefined' && document.hidden);
    if (!m.outgoing && away) {
      if (!this.unreadFrom) this.unreadFrom = m.id;
      this.unseen += 1;
    }
    v.messages.push(m);
    v.lastPreview = m.text;
    v.lastActive = m.sentAt;
    if (!away) {
      this.trimFront();
      this.markSeen();
    }
  }

  private delivered(id: string): void {
    const m = this.view?.messages.find((x) => x.id === id);
    if (m) m.state = 'delivered';
    else this.earlyAcks.add(id);
  }

  private showTyping(): void {
    this.peerTyping = true;
    if (this.typingTimer) clearTimeout(this.typingTimer);
    this.typingTimer = setTimeout(() => {
      this.peerTyping = false;
      this.typingTimer = null;
    }, TYPING_SHOW_MS);
  }

  private clearTyping(): void {
    if (this.typingTimer) clearTimeout(this.typingTimer);
    this.typingTimer = null;
    this.peerTyping = false;
  }

  private markSeen(): void {
    const v = this.view;
    if (!v) return;
    const last = v.messages[v.messages.length - 1];
    try {
      const seen = readSeen();
      seen[v.id] = Math.max(seen[v.id] ?? 0, last?.sentAt ?? 0, this.now());
      localStorage.setItem(SEEN_KEY, JSON.stringify(seen));
    } catch {
      // Storage may be unavailable; the marker is a nicety.
    }
  }
}
