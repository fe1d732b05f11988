// The call: the one in progress (outgoing, connecting, active, or just
// ended), a call ringing in, device choices, notices, and the media
// connection that shows and plays it. Go runs the call (pion); the `call`
// event keeps this store current and every action goes through the Api.

import { getContext, setContext } from 'svelte';
import type { Api, CallDevices, CallState, CallView, ScreenSource } from '../types';
import { explain, toApiError, type Explained } from '../errors';
import { MediaClient, webCodecsAvailable } from './media';
import { audioContext, holdAudio, unlockAudio } from './sound';

/** How long "Call ended · 3:12" stays before the call area closes. */
export const ENDED_SHOW_MS = 4000;

/** How the call area sits in the room. */
export type CallLayout = 'bar' | 'split' | 'full';

/** A notice about calls in one room (NO_CAMERA while the call goes on, a failed action). */
export interface CallNotice {
  roomId: string;
  x: Explained;
}

export interface DeviceChoice {
  mic: string;
  camera: string;
  speaker: string;
}

export interface CallStoreOptions {
  now?: () => number;
  /** Makes the media connection of a call; null for none (no WebCodecs). */
  media?: (roomId: string) => MediaClient | null;
}

/** A shortcut started an action (which reports its own failure as a notice). */
function used(p: Promise<void>): true {
  void p;
  return true;
}

const RANK: Record<CallState, number> = { idle: 0, incoming: 1, outgoing: 1, connecting: 2, active: 3, ended: 4 };

/** A call that holds the devices (or is about to). */
export function isLive(v: CallView | null | undefined): v is CallView {
  return !!v && (v.state === 'outgoing' || v.state === 'connecting' || v.state === 'active');
}

/** 65 s → "1:05", 3725 s → "1:02:05". */
export function formatDuration(ms: number): string {
  const s = Math.max(0, Math.floor(ms / 1000));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const ss = String(s % 60).padStart(2, '0');
  return h > 0 ? `${h}:${String(m).padStart(2, '0')}:${ss}` : `${m}:${ss}`;
}

/** The words for a call that ended: reason (or length) and what to do. */
export function endedText(error: string, durationMs: number): { title: string; next: string } {
  switch (error) {
    case '':
      return { title: durationMs > 0 ? `Call ended · ${formatDuration(durationMs)}` : 'Call ended', next: '' };
    case 'DECLINED':
      return { title: 'Declined', next: explain('DECLINED').next };
    case 'NO_ANSWER':
      return { title: 'No answer', next: explain('NO_ANSWER').next };
    default: {
      const x = explain(error);
      return { title: x.sentence, next: x.next };
    }
  }
}

export class CallStore {
  /** The call in progress, or the one that just ended (for ENDED_SHOW_MS). */
  view = $state<CallView | null>(null);
  /** A call ringing in (any room). */
  ringing = $state<CallView | null>(null);
  notice = $state<CallNotice | null>(null);
  /** How long the ended call lasted, ms (0 if it never became active). */
  endedAfter = $state(0);
  /** An action is waiting for Go. */
  pending = $state(false);
  devices = $state<CallDevices | null>(null);
  chosen = $state<DeviceChoice>({ mic: '', camera: '', speaker: '' });
  layout = $state<CallLayout>('split');
  /** Ticks every second while a call is active (drives the timer). */
  now = $state(0);
  media = $state.raw<MediaClient | null>(null);
  /** The media connection is up. */
  mediaConnected = $state(false);
  /** What can be shared, while the screen picker is open (null: closed). */
  screenSources = $state<ScreenSource[] | null>(null);
  /** The title of the window we share ("" for a whole screen). */
  sharedWindow = $state('');

  /** Called when a call rang here and the caller gave up (a missed call). */
  onmissed: ((roomId: string) => void) | null = null;

  private readonly offs: (() => void)[] = [];
  private endTimer: ReturnType<typeof setTimeout> | null = null;
  private tickTimer: ReturnType<typeof setInterval> | null = null;
  /** We hung up or declined: no "Declined" for our own decline. */
  private localEnd = false;
  /** The room the media connection belongs to. */
  private mediaRoom = '';
  /** Keeps the AudioContext running while a call's media is open. */
  private releaseAudio: (() => void) | null = null;
  private readonly clock: () => number;
  private readonly makeMedia: (roomId: string) => MediaClient | null;

  constructor(
    private readonly api: Api,
    opts: CallStoreOptions = {},
  ) {
    this.clock = opts.now ?? (() => Date.now());
    this.now = this.clock();
    this.makeMedia =
      opts.media ??
      ((roomId) =>
        webCodecsAvailable()
          ? new MediaClient(roomId, { endpoint: () => this.api.mediaEndpoint(), audioContext })
          : null);
  }

  /** The call of this room when it is on screen (in progress or just ended). */
  of(roomId: string): CallView | null {
    return this.view?.roomId === roomId ? this.view : null;
  }

  /** A call is in progress somewhere. */
  get busy(): boolean {
    return isLive(this.view);
  }

  /** Milliseconds since the call became active (0 before). */
  get elapsed(): number {
    const s = this.view?.startedAt;
    return s ? Math.max(0, this.now - s) : 0;
  }

  start(): void {
    if (this.offs.length) return;
    this.offs.push(this.api.on('call', (v) => this.apply(v)));
  }

  stop(): void {
    for (const off of this.offs.splice(0)) off();
    this.stopMedia();
    this.stopTick();
    if (this.endTimer) clearTimeout(this.endTimer);
    this.endTimer = null;
  }

  // ---- actions ---------------------------------------------------------

  /** Calls the peer of `roomId`; video turns the camera on. */
  async call(roomId: string, video: boolean): Promise<void> {
    unlockAudio();
    if (this.pending || this.busy || !roomId) return;
    await this.act(roomId, async () => {
      this.localEnd = false;
      this.clearEnded();
      const v = await this.api.startCall(roomId, video);
      this.applyResult(v);
    });
  }

  /** Answers the ringing call (accept=false declines). Ends a call in progress first. */
  async answer(accept: boolean, video = false): Promise<void> {
    unlockAudio();
    const r = this.ringing;
    if (!r || this.pending) return;
    await this.act(r.roomId, async () => {
      if (accept && isLive(this.view) && this.view.roomId !== r.roomId) {
        this.localEnd = true;
        await this.api.hangUp(this.view.roomId);
      }
      this.ringing = null;
      this.localEnd = !accept;
      if (accept) this.clearEnded();
      const v = await this.api.answerCall(r.roomId, accept, video);
      this.applyResult(v);
    });
  }

  /** Ends, cancels (outgoing) the call in progress. */
  async hangUp(): Promise<void> {
    const v = this.view;
    if (!isLive(v)) return;
    this.localEnd = true;
    await this.act(v.roomId, async () => {
      await this.api.hangUp(v.roomId);
      // Go also sends the ended event; end here if it is late.
      if (this.view === v && isLive(v)) this.finish({ ...v, state: 'ended', error: '' });
    });
  }

  async toggleMute(): Promise<void> {
    const v = this.view;
    if (!isLive(v)) return;
    const muted = !v.micMuted;
    v.micMuted = muted; // at once: the button must not lag
    await this.act(v.roomId, async () => {
      try {
        this.applyResult(await this.api.setMicMuted(v.roomId, muted));
      } catch (e) {
        if (this.view === v) v.micMuted = !muted;
        throw e;
      }
    });
  }

  /** Camera off/on; on during a voice call makes it a video call (beside our shared screen: a tile). */
  async toggleCamera(): Promise<void> {
    const v = this.view;
    if (!isLive(v)) return;
    const on = !v.localCamera;
    await this.act(v.roomId, async () => {
      this.applyResult(await this.api.setCamera(v.roomId, on));
    });
  }

  /**
   * Stop sharing; or open the screen picker (the screens and windows Go
   * lists), or share at once when there is only one screen and no window.
   * Again while the picker is open closes it. Our camera, if on, becomes a
   * tile beside the screen.
   */
  async toggleScreen(): Promise<void> {
    const v = this.view;
    if (!isLive(v)) return;
    if (this.screenSources) {
      this.closeScreenPicker();
      return;
    }
    if (v.screen) {
      await this.act(v.roomId, async () => this.applyResult(await this.api.stopScreenShare(v.roomId)));
      return;
    }
    let list: ScreenSource[] = [];
    await this.act(v.roomId, async () => {
      list = await this.api.screenSources(v.roomId);
    });
    if (this.view !== v || !isLive(v) || v.screen) return;
    const only = list.length === 1 ? list[0] : undefined;
    if (list.length === 0) return; // the notice says why
    if (only) {
      await this.shareSource(only.id);
      return;
    }
    this.screenSources = list;
  }

  /** Shares a source the picker offered (its id) and closes the picker. */
  async shareSource(id: string): Promise<void> {
    const title = id.startsWith('window:') ? (this.screenSources?.find((s) => s.id === id)?.title ?? 'a window') : '';
    this.screenSources = null;
    const v = this.view;
    if (!isLive(v)) return;
    let gone = false;
    await this.act(v.roomId, async () => {
      try {
        const r = await this.api.shareScreen(v.roomId, id);
        this.sharedWindow = title;
        this.applyResult(r);
      } catch (e) {
        // The call ended while the desktop asked what to share (Wayland's
        // picker, which Go then withdrew): nothing to say.
        if (!isLive(this.view)) return;
        // Most likely the window closed since the list was made.
        gone = id.startsWith('window:') && toApiError(e).code === 'SCREEN_UNAVAILABLE';
        throw e;
      }
    });
    if (gone) {
      this.notice = {
        roomId: v.roomId,
        x: { code: 'SCREEN_UNAVAILABLE', sentence: 'That window cannot be shared.', next: 'It may have closed. Share again to choose another window or the entire screen.' },
      };
    }
  }

  closeScreenPicker(): void {
    this.screenSources = null;
  }

  async loadDevices(): Promise<CallDevices> {
    const d = await this.api.callDevices();
    this.devices = d;
    // Start the picker from what Go remembers, so changing one device
    // does not reset the others to the default.
    if (d.chosen) this.chosen = { ...d.chosen };
    return d;
  }

  async chooseDevices(change: Partial<DeviceChoice>): Promise<void> {
    const before = { ...this.chosen };
    const next = { ...this.chosen, ...change };
    this.chosen = next;
    try {
      await this.api.setCallDevices(next.mic, next.camera, next.speaker);
    } catch (e) {
      this.chosen = before;
      throw e;
    }
  }

  setLayout(l: CallLayout): void {
    this.layout = l;
  }

  dismissNotice(): void {
    this.notice = null;
  }

  /** Closes the "Call ended" area now. */
  clearEnded(): void {
    if (this.endTimer) clearTimeout(this.endTimer);
    this.endTimer = null;
    if (this.view?.state === 'ended') this.view = null;
  }

  /**
   * Keyboard shortcuts (Ctrl+Shift+…): M mute, O camera (or accept with
   * video while ringing), E share the screen (or stop), Y accept, H hang
   * up or decline. True when used.
   */
  shortcut(e: Pick<KeyboardEvent, 'ctrlKey' | 'shiftKey' | 'altKey' | 'metaKey' | 'key'>): boolean {
    if (!e.ctrlKey || !e.shiftKey || e.altKey || e.metaKey) return false;
    const k = e.key.toLowerCase();
    const live = isLive(this.view);
    if (this.ringing && !this.pending) {
      if (k === 'y') return used(this.answer(true, false));
      if (k === 'o') return used(this.answer(true, true));
      if (k === 'h' && !live) return used(this.answer(false));
    }
    if (!live) return false;
    if (k === 'm') return used(this.toggleMute());
    if (k === 'o') return used(this.toggleCamera());
    if (k === 'e') return used(this.toggleScreen());
    if (k === 'h') return used(this.hangUp());
    return false;
  }

  // ---- events ----------------------------------------------------------

  /** Takes a CallView from Go (event or method result). */
  apply(v: CallView): void {
    if (!v || !v.roomId) return;
    if (v.state === 'incoming') {
      if (this.view?.roomId === v.roomId && this.view.state === 'ended') this.clearEnded();
      this.ringing = { ...v };
      return;
    }
    if (this.ringing?.roomId === v.roomId) {
      this.ringing = null;
      // Missed (the caller gave up) or declined here: nothing more to show.
      if (v.state === 'ended' || v.state === 'idle') {
        if (v.state === 'ended' && v.error !== 'DECLINED') this.onmissed?.(v.roomId);
        return;
      }
    }
    if (this.view && this.view.roomId !== v.roomId && isLive(this.view)) return; // another room's late news
    if (v.state === 'idle') {
      // "Call ended" stays for its moment even when Go reports idle at once.
      if (this.view?.roomId === v.roomId && this.view.state !== 'ended') {
        this.view = null;
        this.stopMedia();
        this.stopTick();
      }
      return;
    }
    if (v.state === 'ended') {
      if (this.view?.roomId === v.roomId && this.view.state === 'ended') return;
      if (this.view?.roomId !== v.roomId && !this.view) {
        // We never showed this call (declined before it reached the UI).
        if (this.localEnd) return;
      }
      this.finish(v);
      return;
    }
    if (this.view?.roomId === v.roomId && this.view.state !== 'ended') Object.assign(this.view, v);
    else this.view = { ...v };
    this.noticeFrom(v);
    if (v.state === 'active') this.startTick();
    this.ensureMedia(v);
  }

  /** A method's answer may be older than an event that overtook it. */
  private applyResult(v: CallView): void {
    const cur = this.view;
    if (cur && cur.roomId === v.roomId && RANK[v.state] < RANK[cur.state] && v.state !== 'idle') {
      // Keep the newer state; take the flags the method set.
      Object.assign(cur, { micMuted: v.micMuted, localVideo: v.localVideo, localCamera: v.localCamera, video: cur.video || v.video });
      this.noticeFrom(v);
      return;
    }
    this.apply(v);
  }

  private finish(v: CallView): void {
    const was = this.view?.roomId === v.roomId ? this.view : null;
    const started = v.startedAt ?? was?.startedAt ?? null;
    this.endedAfter = started ? Math.max(0, this.clock() - started) : 0;
    this.stopMedia();
    this.stopTick();
    if (this.notice?.roomId === v.roomId && (this.notice.x.code === 'NO_CAMERA' || this.notice.x.code === 'WINDOW_CLOSED')) this.notice = null;
    if (this.view?.roomId === v.roomId) this.screenSources = null;
    const own = this.localEnd;
    this.localEnd = false;
    if (own && v.error === 'DECLINED') {
      this.view = null;
      return;
    }
    this.view = { ...v, state: 'ended' };
    if (this.endTimer) clearTimeout(this.endTimer);
    // Errors the person must read stay until dismissed or the next call.
    const ms = v.error === '' || v.error === 'DECLINED' || v.error === 'NO_ANSWER' || v.error === 'PEER_LEFT' ? ENDED_SHOW_MS : ENDED_SHOW_MS * 3;
    this.endTimer = setTimeout(() => {
      this.endTimer = null;
      if (this.view?.state === 'ended') this.view = null;
    }, ms);
  }

  private noticeFrom(v: CallView): void {
    if (v.error === 'NO_CAMERA' || v.error === 'WINDOW_CLOSED') this.notice = { roomId: v.roomId, x: explain(v.error) };
    else if (!v.error && this.notice?.roomId === v.roomId && this.notice.x.code === 'NO_CAMERA' && v.localCamera) this.notice = null;
  }

  private async act(roomId: string, f: () => Promise<void>): Promise<void> {
    this.pending = true;
    try {
      await f();
      if (this.notice?.roomId === roomId && this.notice.x.code !== 'NO_CAMERA') this.notice = null;
    } catch (e) {
      this.notice = { roomId, x: explain(toApiError(e).code) };
    } finally {
      this.pending = false;
    }
  }

  private ensureMedia(v: CallView): void {
    if (!isLive(v)) return;
    if (this.media && this.mediaRoom === v.roomId) return;
    this.stopMedia();
    const m = this.makeMedia(v.roomId);
    if (!m) return;
    this.mediaRoom = v.roomId;
    m.onchange = () => (this.mediaConnected = m.connected);
    this.media = m;
    this.releaseAudio = holdAudio();
    void m.open();
  }

  private stopMedia(): void {
    this.media?.close();
    this.media = null;
    this.releaseAudio?.();
    this.releaseAudio = null;
    this.mediaRoom = '';
    this.mediaConnected = false;
  }

  private startTick(): void {
    this.now = this.clock();
    if (this.tickTimer) return;
    this.tickTimer = setInterval(() => (this.now = this.clock()), 1000);
  }

  private stopTick(): void {
    if (this.tickTimer) clearInterval(this.tickTimer);
    this.tickTimer = null;
  }
}

const KEY = Symbol('parley-call');

export function provideCall(store: CallStore): void {
  setContext(KEY, store);
}

export function useCall(): CallStore {
  const s = getContext<CallStore | undefined>(KEY);
  if (!s) throw new Error('useCall called outside <App>');
  return s;
}
