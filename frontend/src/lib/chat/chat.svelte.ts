// The room on screen: its view, live status, messages, delivery states,
// typing hint and unread marker. Components call these methods; nothing here
// knows about the DOM except `document.hidden` for the unread marker.

import type { Api, Message, RoomView, Status, Route } from '../types';
import { explain, toApiError, type Explained } from '../errors';

const TYPING_SHOW_MS = 4000;
const TYPING_SEND_EVERY_MS = 2500;
const SEEN_KEY = 'parley.lastSeen';

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
      if (this.earlyAcks.delete(msg.id)) msg.state = 'delivered';
      if (this.view?.id === v.id && !this.view.messages.some((m) => m.id === msg.id)) {
        this.view.messages.push(msg);
        this.view.lastPreview = msg.text;
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
    const away = !this.atBottom || (typeof document !== 'undefined' && document.hidden);
    if (!m.outgoing && away) {
      if (!this.unreadFrom) this.unreadFrom = m.id;
      this.unseen += 1;
    }
    v.messages.push(m);
    v.lastPreview = m.text;
    v.lastActive = m.sentAt;
    if (!away) this.markSeen();
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
