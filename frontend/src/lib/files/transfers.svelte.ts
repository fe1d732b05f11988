// File transfers of this run of the app, per room, kept current by
// transfer:update; big-file offers waiting for an answer; the drop hint.
// Files never pass through JavaScript: Go opens them by path (dialog or
// window drop), so this store only follows and steers transfers.

import { ApiError, explain, toApiError, type Explained } from '../errors';
import type { Api, ImageView, Offer, Transfer } from '../types';

/** How long the "Sending N files" hint stays after a drop. */
export const DROP_HINT_MS = 1800;

/**
 * How many finished cards a room keeps (Go's session.KeepFinished): a peer
 * offering and canceling file after file must not grow the list for as
 * long as the app runs. Cards under way are always kept.
 */
export const KEEP_FINISHED = 1000;

const finished = (t: Transfer) => t.state === 'done' || t.state === 'failed' || t.state === 'canceled';

/** The largest image a paste sends (Go's MaxPasteBytes). */
export const MAX_PASTE_BYTES = 32 << 20;

/** The image open in the viewer: loading (view null), shown, or failed. */
export interface Viewer {
  t: Transfer;
  view: ImageView | null;
  error: Explained | null;
}

/** The key of a transfer's thumbnail. */
const thumbKey = (t: Pick<Transfer, 'roomId' | 'id'>) => `${t.roomId}/${t.id}`;

/** The standard base64 of a blob's bytes. */
export async function blobBase64(b: Blob): Promise<string> {
  const bytes = new Uint8Array(await b.arrayBuffer());
  let bin = '';
  const step = 0x8000;
  for (let i = 0; i < bytes.length; i += step) {
    bin += String.fromCharCode(...bytes.subarray(i, i + step));
  }
  return btoa(bin);
}

/** A transfer and when the UI first heard of it (places its card among messages). */
export interface TransferEntry {
  at: number;
  t: Transfer;
}

/** What a transfer card can ask for. */
export interface TransferActions {
  oncancel: (t: Transfer) => void;
  onopen: (t: Transfer) => void;
  onshow: (t: Transfer) => void;
  /** Opens a finished image in the viewer. */
  onview?: (t: Transfer) => void;
  /** The thumbnail's data URL ('' until loaded). */
  thumbOf?: (t: Transfer) => string;
  /** Loads the thumbnail of a transfer whose image is ready. */
  loadThumb?: (t: Transfer) => void;
}

export interface DropHint {
  roomId: string;
  count: number;
}

export class TransfersStore {
  /** Entries by room id, oldest first. */
  byRoom = $state<Record<string, TransferEntry[]>>({});
  /** Big-file offers waiting for accept/decline, oldest first. */
  offers = $state<Offer[]>([]);
  /** Set for a moment after Go started sending dropped files. */
  dropHint = $state<DropHint | null>(null);
  /** The native file dialog is open. */
  picking = $state(false);
  /** Where received files go ("" until known). */
  downloadDir = $state('');
  /** Thumbnails (data URLs Go made) by room id / transfer id. */
  thumbs = $state<Record<string, string>>({});
  /** The image in the viewer, if any. */
  viewer = $state<Viewer | null>(null);
  /** A pasted image is being handed to Go. */
  pasting = $state(false);

  private readonly thumbLoads = new Set<string>();
  /** The stored (reactive) entries by thumbKey: an update finds its card at once. */
  private readonly index = new Map<string, TransferEntry>();

  private readonly offs: (() => void)[] = [];
  private hintTimer: ReturnType<typeof setTimeout> | null = null;
  private active: string | null = null;

  constructor(
    private readonly api: Api,
    private readonly now: () => number = () => Date.now(),
  ) {}

  /** The offer to ask about now, if any. */
  get offer(): Offer | null {
    return this.offers[0] ?? null;
  }

  start(): void {
    if (this.offs.length) return;
    this.offs.push(
      this.api.on('transfer:update', (p) => this.upsert({ ...p.transfer, roomId: p.transfer.roomId || p.roomId })),
      this.api.on('transfer:offer', (p) => {
        if (!this.offers.some((o) => o.roomId === p.roomId && o.id === p.id)) this.offers.push({ ...p });
      }),
      this.api.on('app:file-drop', (p) => this.flashDrop(p.roomId, p.count)),
    );
    this.api
      .getDownloadDir()
      .then((d) => (this.downloadDir = d))
      .catch(() => {});
  }

  stop(): void {
    for (const off of this.offs.splice(0)) off();
    if (this.hintTimer) clearTimeout(this.hintTimer);
    this.hintTimer = null;
  }

  /** Transfers of a room, oldest first. */
  forRoom(roomId: string): TransferEntry[] {
    return this.byRoom[roomId] ?? [];
  }

  /** Transfers still under way in a room. */
  running(roomId: string): number {
    return this.forRoom(roomId).filter((e) => e.t.state === 'waiting' || e.t.state === 'active').length;
  }

  /** Fetches a room's transfers (those the UI missed, e.g. after a reload). */
  async load(roomId: string): Promise<void> {
    if (!roomId) return;
    const list = await this.api.transfers(roomId);
    for (const t of list) this.upsert({ ...t, roomId: t.roomId || roomId });
  }

  /** Tells Go which room is in view ("" for none); repeats are skipped. */
  setActive(roomId: string): void {
    if (this.active === roomId) return;
    this.active = roomId;
    this.api.setActiveRoom(roomId).catch(() => {
      // Drops then land nowhere; the next room change tries again.
      this.active = null;
    });
  }

  /** Opens the native file dialog and sends what was picked. Returns how many. */
  async pick(roomId: string): Promise<number> {
    if (!roomId || this.picking) return 0;
    this.picking = true;
    try {
      const list = await this.api.pickAndSendFiles(roomId);
      for (const t of list) this.upsert({ ...t, roomId: t.roomId || roomId });
      return list.length;
    } finally {
      this.picking = false;
    }
  }

  cancel(t: Transfer): Promise<void> {
    return this.api.cancelTransfer(t.roomId, t.id);
  }

  open(t: Transfer): Promise<void> {
    return this.api.openFile(t.path);
  }

  showInFolder(t: Transfer): Promise<void> {
    return this.api.showInFolder(t.path);
  }

  /** Answers the offer on screen and moves on to the next one. */
  async answer(accept: boolean): Promise<void> {
    const o = this.offers[0];
    if (!o) return;
    this.dropOffer(o.roomId, o.id);
    await this.api.answerOffer(o.roomId, o.id, accept);
  }

  /** The thumbnail of t ('' until loaded). */
  thumbOf(t: Transfer): string {
    return this.thumbs[thumbKey(t)] ?? '';
  }

  /** Fetches the thumbnail of a transfer whose image is ready, once. */
  async loadThumb(t: Transfer): Promise<void> {
    const k = thumbKey(t);
    if (t.image !== 'ready' || this.thumbs[k] || this.thumbLoads.has(k)) return;
    this.thumbLoads.add(k);
    try {
      this.thumbs[k] = await this.api.thumbnail(t.roomId, t.id);
    } catch {
      // Gone (cleared) or unreadable: the card stays a plain file card.
    } finally {
      this.thumbLoads.delete(k);
    }
  }

  /** Opens the viewer on a finished image; Go decodes and scales it. */
  async view(t: Transfer): Promise<void> {
    const v: Viewer = { t, view: null, error: null };
    this.viewer = v;
    try {
      const view = await this.api.viewImage(t.roomId, t.id);
      if (this.viewer?.t.id === t.id) this.viewer = { ...v, view };
    } catch (e) {
      if (this.viewer?.t.id === t.id) this.viewer = { ...v, error: explain(toApiError(e).code) };
    }
  }

  closeViewer(): void {
    this.viewer = null;
  }

  /** Sends an image pasted into the composer. */
  async paste(roomId: string, image: Blob): Promise<void> {
    if (!roomId) return;
    if (image.size > MAX_PASTE_BYTES) {
      throw new ApiError('IMAGE_TOO_LARGE', `a pasted image may be up to ${MAX_PASTE_BYTES >> 20} MiB`);
    }
    this.pasting = true;
    try {
      const t = await this.api.sendPastedImage(roomId, await blobBase64(image));
      this.upsert({ ...t, roomId: t.roomId || roomId });
    } finally {
      this.pasting = false;
    }
  }

  /** Forgets finished cards of a room (Clear messages); running ones stay. */
  clearFinished(roomId: string): void {
    for (const k of Object.keys(this.thumbs)) if (k.startsWith(`${roomId}/`)) delete this.thumbs[k];
    const list = this.byRoom[roomId];
    if (!list) return;
    this.setRoom(roomId, list.filter((e) => e.t.state === 'waiting' || e.t.state === 'active'));
  }

  /** Replaces a room's cards; the cards left out lose their index entry and thumbnail. */
  private setRoom(roomId: string, list: TransferEntry[]): void {
    const kept = new Set(list.map((e) => thumbKey(e.t)));
    for (const e of this.byRoom[roomId] ?? []) {
      const k = thumbKey(e.t);
      if (kept.has(k)) continue;
      this.index.delete(k);
      if (k in this.thumbs) delete this.thumbs[k];
    }
    this.byRoom[roomId] = list;
    for (const e of this.byRoom[roomId]!) this.index.set(thumbKey(e.t), e);
  }

  private upsert(t: Transfer): void {
    if (!t.id || !t.roomId) return;
    // Read back after assigning: the stored array is the reactive proxy.
    if (!this.byRoom[t.roomId]) this.byRoom[t.roomId] = [];
    const list = this.byRoom[t.roomId]!;
    const known = this.index.get(thumbKey(t));
    if (known) Object.assign(known.t, t);
    else {
      list.push({ at: this.now(), t });
      this.index.set(thumbKey(t), list[list.length - 1]!);
      if (list.length > KEEP_FINISHED + KEEP_FINISHED / 4) this.forgetFinished(t.roomId);
    }
    // An offer answered elsewhere (or canceled by the peer) needs no answer.
    if (t.state !== 'waiting') this.dropOffer(t.roomId, t.id);
  }

  /** Drops the room's oldest finished cards beyond KEEP_FINISHED. */
  private forgetFinished(roomId: string): void {
    const list = this.byRoom[roomId] ?? [];
    let drop = list.filter((e) => finished(e.t)).length - KEEP_FINISHED;
    if (drop <= 0) return;
    this.setRoom(
      roomId,
      list.filter((e) => !(drop > 0 && finished(e.t) && drop-- > 0)),
    );
  }

  private dropOffer(roomId: string, id: string): void {
    const i = this.offers.findIndex((o) => o.roomId === roomId && o.id === id);
    if (i >= 0) this.offers.splice(i, 1);
  }

  private flashDrop(roomId: string, count: number): void {
    this.dropHint = { roomId, count };
    if (this.hintTimer) clearTimeout(this.hintTimer);
    this.hintTimer = setTimeout(() => {
      this.dropHint = null;
      this.hintTimer = null;
    }, DROP_HINT_MS);
  }
}
