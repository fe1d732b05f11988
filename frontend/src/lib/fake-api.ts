// An in-memory stand-in for the Go facade with a controllable simulated peer.
// Used by vitest, by the browser flow tests (?fake=1, driven through
// window.__parleyFake) and by `npm run dev`. It follows docs/app-api.md:
// same methods, same events, errors thrown as `CODE: detail`.

import type {
  AboutInfo,
  Api,
  CallDevices,
  ScreenSource,
  CallView,
  EventName,
  Events,
  MediaEndpoint,
  Message,
  MessagePage,
  Offer,
  PendingLink,
  Route,
  RoomSummary,
  RoomView,
  SearchResult,
  Settings,
  Status,
  Transfer,
  ImageView,
} from './types';
import { ApiError, type ErrorCode } from './errors';
import { REACTIONS } from './types';

export interface FakeOptions {
  /** Start with no server chosen, so the UI asks. */
  firstRun: boolean;
  /** The peer joins, acks and answers on its own after peerDelayMs. */
  autoPeer: boolean;
  /** Pre-fill a few recent rooms with messages. */
  seed: boolean;
  /** Also a room "Long history" with this many messages (0: none), for paging and the history bench. */
  longRoom: number;
  /** The link given on the command line: it waits for confirmation (PendingLink). */
  startupLink: string;
  peerDelayMs: number;
  ackDelayMs: number;
  /** Longest text Send accepts (TOO_LONG above). */
  maxLen: number;
  /** Simulated transfer speed (bytes/s) and how often progress is reported. */
  transferRate: number;
  transferTickMs: number;
  /** A call answered on both sides becomes active after this. */
  callConnectMs: number;
  /** An unanswered call ends (NO_ANSWER) after this. */
  ringTimeoutMs: number;
  /** What MediaEndpoint() returns ("" url: no media connection). */
  mediaUrl: string;
  mediaToken: string;
  now: () => number;
}

/** A file the fake's "native dialog" hands back. */
export interface FakeFile {
  name: string;
  size: number;
}

/** What PickAndSendFiles "picks" when a test did not say. */
export const DEFAULT_PICK: FakeFile[] = [{ name: 'Trip notes.pdf', size: 2_400_000 }];
/** Size the fake gives a dropped path (it has no disk). */
export const DROPPED_FILE_SIZE = 1_500_000;
/** Messages per page, as Go's app.PageSize. */
export const FAKE_PAGE = 50;
export const FAKE_DOWNLOAD_DIR = '/home/you/Downloads/Parley';
/** Where the fake "writes" pasted images (Go: the profile's pasted folder). */
export const FAKE_PASTE_DIR = '/home/you/.local/share/parley/default/pasted';
/** The thumbnail the fake gives every image it has no bytes of: a 48 × 32 PNG. */
export const FAKE_THUMB = 'data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAADAAAAAgCAIAAADbtmxLAAAAO0lEQVR42uzOAQkAIBAEwQM/lsGMaCxrHDLLBpjZ507S9EpVQEBAQEBAQEBAQEBAQEBAQH+DXgAAAP//CSYDFm7cK5IAAAAASUVORK5CYII=';
/** Names the fake treats as images (Go sniffs the bytes; the fake has only names). */
const IMAGE_NAME = /\.(png|jpe?g|gif|webp)$/i;
/** A name containing this is a decompression bomb to the fake (IMAGE_TOO_LARGE). */
export const FAKE_BOMB = 'bomb';

interface FakeTransfer {
  t: Transfer;
  /** A big incoming offer still waiting for AnswerOffer. */
  asking: boolean;
  /** The data URL of a pasted image (its own bytes). */
  image?: string;
}

export const DEFAULT_FAKE_OPTIONS: FakeOptions = {
  firstRun: false,
  autoPeer: false,
  seed: false,
  longRoom: 0,
  startupLink: '',
  peerDelayMs: 800,
  ackDelayMs: 40,
  maxLen: 4000,
  transferRate: 4_000_000,
  transferTickMs: 100,
  callConnectMs: 300,
  ringTimeoutMs: 45_000,
  mediaUrl: '',
  mediaToken: 'fake-media-token',
  now: () => Date.now(),
};

/** The devices the fake "finds" unless a test says otherwise. */
export const FAKE_DEVICES: CallDevices = {
  microphones: [
    { id: 'mic-builtin', label: 'Built-in Microphone' },
    { id: 'mic-headset', label: 'USB Headset' },
  ],
  cameras: [{ id: 'cam-integrated', label: 'Integrated Camera' }],
  speakers: [
    { id: 'spk-builtin', label: 'Built-in Speakers' },
    { id: 'spk-headset', label: 'USB Headset' },
  ],
};

/** Reads ?firstRun=1&peer=auto&seed=1&long=<n>&startup=<link>&media=<ws url>&mediaToken=<t> into options. */
export function fakeOptionsFromQuery(q: URLSearchParams): FakeOptions {
  return {
    ...DEFAULT_FAKE_OPTIONS,
    firstRun: q.get('firstRun') === '1',
    autoPeer: q.get('peer') === 'auto',
    seed: q.get('seed') === '1',
    longRoom: Math.max(0, Math.min(1_000_000, Number(q.get('long') ?? 0) || 0)),
    startupLink: q.get('startup') ?? '',
    mediaUrl: q.get('media') ?? '',
    mediaToken: q.get('mediaToken') ?? DEFAULT_FAKE_OPTIONS.mediaToken,
  };
}

const LINK_RE = /^(?:https?|parley):\/\/([^/\s#?]+)\/r\/([A-Za-z0-9_-]{21})#([A-Za-z0-9_-]{16,})$/;
const ID_ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-';

function randomId(n: number): string {
  const bytes = new Uint8Array(n);
  crypto.getRandomValues(bytes);
  return Array.from(bytes, (b) => ID_ALPHABET[b % 64]).join('');
}

/** The server of a room link as Go names it (parley:// is https), '' if it is not one. */
function serverOf(link: string): string {
  const m = LINK_RE.exec(link.trim());
  if (!m || !m[1]) return '';
  return `${link.trim().toLowerCase().startsWith('http://') ? 'http' : 'https'}://${m[1].toLowerCase()}`;
}

function fail(code: ErrorCode, detail: string): never {
  throw new ApiError(code, detail);
}

interface FakeRoom {
  view: RoomView;
  peerOnline: boolean;
}

type Listener = (payload: never) => void;

export class FakeApi implements Api {
  readonly opts: FakeOptions;
  settings: Settings;
  /** Links passed to CopyLink and texts to CopyText, newest last (the fake clipboard). */
  readonly copied: string[] = [];
  /** URLs passed to OpenURL, newest last (the fake system browser). */
  readonly opened: string[] = [];
  /** Every Typing call, by room id. */
  readonly typingCalls: string[] = [];
  /** Paths passed to OpenFile / ShowInFolder, newest last. */
  readonly openedFiles: string[] = [];
  readonly shownInFolder: string[] = [];
  /** Every SetActiveRoom call, newest last. */
  readonly activeRooms: string[] = [];
  /** Answers given to offers: [id, accept]. */
  readonly answers: [string, boolean][] = [];
  /** Names of images sent by SendPastedImage, newest last. */
  readonly pasted: string[] = [];
  private readonly transfers_ = new Map<string, FakeTransfer>();
  private readonly picks: FakeFile[][] = [];
  private ticking = false;
  private readonly rooms_ = new Map<string, FakeRoom>();
  private readonly listeners = new Map<string, Set<Listener>>();
  private readonly failures = new Map<string, ErrorCode[]>();
  private readonly timers = new Set<ReturnType<typeof setTimeout>>();
  private seq = 0;
  private lastRoom = '';
  private readonly calls = new Map<string, CallView>();
  private callSeq = 0;
  /** Whether shareScreen finds an X11 screen (false: SCREEN_UNAVAILABLE, as on Wayland). */
  screenAvailable = true;
  /** What screenSources lists: the screen, then the windows. */
  screens: ScreenSource[] = [
    { id: 'screen:0', title: 'Entire screen', width: 1920, height: 1080 },
    { id: 'window:0x1a00007', title: 'Notes — Text Editor', width: 800, height: 600 },
    { id: 'window:0x2200003', title: 'Terminal', width: 640, height: 400 },
  ];
  /** The source shared now ("" when none). */
  sharedSource = '';
  /** While set, ShareScreen waits for it, as Go waits for the desktop's
   * picker on Wayland; a call that ends meanwhile shares nothing. */
  shareWaits: Promise<void> | null = null;
  /** True while a ShareScreen waits for shareWaits. */
  shareWaiting = false;
  /** Seq of the last room:status event, as Go counts it. */
  private statusSeq = 0;
  /** The link from outside the app waiting for confirmation, like Go holds it. */
  private waiting: { id: number; link: string } | null = null;
  private linkSeq = 0;
  /** Links joined through ConfirmLink, newest last. */
  readonly confirmed: string[] = [];
  /** The devices the fake has; tests remove some to see NO_CAMERA and friends. */
  devices: CallDevices = structuredClone(FAKE_DEVICES);
  /** Every SetCallDevices call: [mic, camera, speaker]. */
  readonly deviceChoices: [string, string, string][] = [];

  constructor(opts: Partial<FakeOptions> = {}) {
    this.opts = { ...DEFAULT_FAKE_OPTIONS, ...opts };
    this.settings = {
      profile: 'default',
      fingerprint: 'QX7K M2PA 9RTD LC4W',
      server: this.opts.firstRun ? '' : 'https://signal.parley.example',
      firstRun: this.opts.firstRun,
      lanServer: '',
      autoAcceptMaxBytes: 200_000_000,
      relayOnly: false,
    };
    if (this.opts.seed) this.seedRooms();
    if (this.opts.longRoom > 0) this.seedLongRoom(this.opts.longRoom);
    if (this.opts.startupLink) this.holdLink(this.opts.startupLink);
  }

  // ---- Api -------------------------------------------------------------

  async getSettings(): Promise<Settings> {
    this.maybeFail('getSettings');
    return { ...this.settings };
  }

  async setServer(url: string): Promise<Settings> {
    this.maybeFail('setServer');
    const u = url.trim();
    if (!/^(https?|wss?):\/\/[^\s/]+/.test(u)) fail('BAD_LINK', `not a server address: ${u}`);
    this.settings = { ...this.settings, server: u.replace(/\/+$/, ''), firstRun: false };
    return { ...this.settings };
  }

  async setAutoAcceptLimit(maxBytes: number): Promise<Settings> {
    this.maybeFail('setAutoAcceptLimit');
    if (!Number.isFinite(maxBytes) || maxBytes < 0 || maxBytes > 2 ** 40) fail('BAD_REQUEST', 'the auto-accept limit must be between 0 and 1 TiB');
    this.settings = { ...this.settings, autoAcceptMaxBytes: Math.round(maxBytes) };
    return { ...this.settings };
  }

  async setRelayOnly(on: boolean): Promise<Settings> {
    this.maybeFail('setRelayOnly');
    this.settings = { ...this.settings, relayOnly: on };
    return { ...this.settings };
  }

  async startLANServer(): Promise<Settings> {
    this.maybeFail('startLANServer');
    const lan = 'http://127.0.0.1:8787';
    this.settings = { ...this.settings, server: lan, lanServer: lan, firstRun: false };
    return { ...this.settings };
  }

  async createRoom(selfDestructSeconds: number): Promise<RoomView> {
    this.maybeFail('createRoom');
    if (!Number.isInteger(selfDestructSeconds) || selfDestructSeconds < 0 || selfDestructSeconds > 604800) {
      fail('BAD_REQUEST', 'self-destruct must be between 0 and 7 days');
    }
    if (!this.settings.server) fail('SERVER_UNREACHABLE', 'no signaling server chosen');
    const id = randomId(21);
    const now = this.opts.now();
    const view: RoomView = {
      id,
      name: '',
      link: `${this.settings.server}/r/${id}#${randomId(43)}`,
      lastActive: now,
      lastPreview: '',
      expiresAt: selfDestructSeconds > 0 ? now + selfDestructSeconds * 1000 : null,
      open: true,
      status: 'waiting',
      route: '',
      code: '',
      messages: [],
      older: false,
      safetyNumber: '',
      keyChange: null,
      ended: '',
      keyChanged: false,
      statusSeq: 0,
    };
    this.rooms_.set(id, { view, peerOnline: false });
    this.lastRoom = id;
    if (view.expiresAt) this.later(selfDestructSeconds * 1000, () => this.closeRoom('TIMER_EXPIRED', id));
    if (this.opts.autoPeer) this.later(this.opts.peerDelayMs * 2, () => this.peerJoins(id));
    this.emit('rooms:changed', {});
    return this.copyView(view);
  }

  async openRoom(link: string): Promise<RoomView> {
    this.maybeFail('openRoom');
    const m = LINK_RE.exec(link.trim());
    if (!m || !m[1] || !m[2]) fail('BAD_LINK', 'expected https://<server>/r/<room id>#<secret>');
    const id = m[2];
    this.lastRoom = id;
    const known = this.rooms_.get(id);
    if (known) {
      if (!known.view.open) {
        known.view.open = true;
        known.view.status = known.peerOnline ? 'verified' : 'connecting';
        known.view.code = '';
        if (this.opts.autoPeer && !known.peerOnline) this.later(this.opts.peerDelayMs, () => this.peerJoins(id));
      }
      return this.copyView(known.view);
    }
    const view: RoomView = {
      id,
      name: '',
      link: link.trim(),
      lastActive: this.opts.now(),
      lastPreview: '',
      expiresAt: null,
      open: true,
      status: 'connecting',
      route: '',
      code: '',
      messages: [],
      older: false,
      safetyNumber: '',
      keyChange: null,
      ended: '',
      keyChanged: false,
      statusSeq: 0,
    };
    this.rooms_.set(id, { view, peerOnline: false });
    if (this.opts.autoPeer) this.later(this.opts.peerDelayMs, () => this.peerJoins(id));
    this.emit('rooms:changed', {});
    return this.copyView(view);
  }

  async leaveRoom(roomId: string): Promise<void> {
    this.maybeFail('leaveRoom');
    const r = this.get(roomId);
    if (this.calls.has(roomId)) this.endCall(roomId, '');
    r.view.open = false;
    r.view.status = 'closed';
  }

  async rooms(): Promise<RoomSummary[]> {
    this.maybeFail('rooms');
    return [...this.rooms_.values()]
      .map((r) => this.summary(r.view))
      .sort((a, b) => b.lastActive - a.lastActive);
  }

  async room(roomId: string): Promise<RoomView> {
    this.maybeFail('room');
    return this.copyView(this.get(roomId).view);
  }

  async send(roomId: string, text: string): Promise<Message> {
    this.maybeFail('send');
    return this.sendAs(roomId, text, '');
  }

  async reply(roomId: string, text: string, replyTo: string): Promise<Message> {
    this.maybeFail('reply');
    if (!this.get(roomId).view.messages.some((m) => m.id === replyTo)) fail('CANNOT_CHANGE', 'no such message');
    return this.sendAs(roomId, text, replyTo);
  }

  async edit(roomId: string, msgId: string, text: string): Promise<Message> {
    this.maybeFail('edit');
    return this.operate(roomId, msgId, true, (m) => {
      m.text = text;
      m.edited = true;
    });
  }

  async deleteMessage(roomId: string, msgId: string): Promise<Message> {
    this.maybeFail('deleteMessage');
    return this.operate(roomId, msgId, true, (m) => {
      m.text = '';
      m.deleted = true;
      m.myReaction = '';
      m.peerReaction = '';
    });
  }

  async react(roomId: string, msgId: string, emoji: string): Promise<Message> {
    this.maybeFail('react');
    if (emoji && !(REACTIONS as readonly string[]).includes(emoji)) fail('CANNOT_CHANGE', 'not a reaction');
    return this.operate(roomId, msgId, false, (m) => {
      m.myReaction = emoji;
    });
  }

  /** The rules of session.operate: exists, not deleted, ours when it must be, peer online. */
  private operate(roomId: string, msgId: string, ownOnly: boolean, change: (m: Message) => void): Message {
    const r = this.get(roomId);
    const m = r.view.messages.find((x) => x.id === msgId);
    if (!m || m.deleted || (ownOnly && !m.outgoing)) fail('CANNOT_CHANGE', 'that message cannot be changed');
    if (!r.peerOnline || !r.view.open) fail('PEER_OFFLINE', 'the other person is not connected');
    change(m);
    return { ...m };
  }

  /** The peer changes one of the stored messages, as Go's applyPeerOp allows; false when refused. */
  private peerOperate(msgId: string, ownOnly: boolean, change: (m: Message) => void, roomId = this.lastRoom): boolean {
    const r = this.rooms_.get(roomId);
    const m = r?.view.messages.find((x) => x.id === msgId);
    if (!r || !m || m.deleted || (ownOnly && m.outgoing)) return false;
    change(m);
    this.emit('room:message-changed', { roomId, message: { ...m } });
    return true;
  }

  /** The peer edits its message msgId. */
  peerEdits(msgId: string, text: string, roomId = this.lastRoom): boolean {
    return this.peerOperate(msgId, true, (m) => {
      m.text = text;
      m.edited = true;
    }, roomId);
  }

  /** The peer deletes its message msgId for both. */
  peerDeletes(msgId: string, roomId = this.lastRoom): boolean {
    return this.peerOperate(msgId, true, (m) => {
      m.text = '';
      m.deleted = true;
      m.myReaction = '';
      m.peerReaction = '';
    }, roomId);
  }

  /** The peer reacts to any message ("" removes its reaction). */
  peerReacts(msgId: string, emoji: string, roomId = this.lastRoom): boolean {
    return this.peerOperate(msgId, false, (m) => {
      m.peerReaction = emoji;
    }, roomId);
  }

  private sendAs(roomId: string, text: string, replyTo: string): Message {
    const r = this.get(roomId);
    if ([...text].length > this.opts.maxLen) fail('TOO_LONG', `more than ${this.opts.maxLen} characters`);
    if (!r.peerOnline || !r.view.open) fail('PEER_OFFLINE', 'the other person is not connected');
    const msg: Message = {
      id: this.nextId(),
      roomId,
      outgoing: true,
      text,
      sentAt: this.opts.now(),
      state: 'sent',
      replyTo,
    };
    r.view.messages.push(msg);
    this.touch(r, text);
    this.later(this.opts.ackDelayMs, () => {
      msg.state = 'delivered';
      this.emit('room:delivered', { roomId, id: msg.id });
    });
    if (this.opts.autoPeer) {
      this.later(this.opts.peerDelayMs, () => this.peerTypes(roomId));
      this.later(this.opts.peerDelayMs * 2, () => this.peerSays(`Got it: “${text.slice(0, 60)}”`, roomId));
    }
    return { ...msg };
  }

  async olderMessages(roomId: string, before: string): Promise<MessagePage> {
    this.maybeFail('olderMessages');
    if (!before) {
      const all = this.get(roomId).view.messages;
      return this.page(all, all.length - FAKE_PAGE, all.length);
    }
    const [all, i] = this.indexOf(roomId, before);
    return this.page(all, i - FAKE_PAGE, i);
  }

  async newerMessages(roomId: string, after: string): Promise<MessagePage> {
    this.maybeFail('newerMessages');
    const [all, i] = this.indexOf(roomId, after);
    return this.page(all, i + 1, i + 1 + FAKE_PAGE);
  }

  async messagesAround(roomId: string, id: string): Promise<MessagePage> {
    this.maybeFail('messagesAround');
    const [all, i] = this.indexOf(roomId, id);
    let from = Math.max(0, i - FAKE_PAGE / 2);
    const to = Math.min(all.length, from + FAKE_PAGE);
    from = Math.max(0, to - FAKE_PAGE);
    return this.page(all, from, to);
  }

  async searchMessages(roomId: string, query: string, before: string): Promise<SearchResult> {
    this.maybeFail('searchMessages');
    if (!query || query.length > 256) fail('BAD_REQUEST', 'search for 1 to 256 bytes of text');
    const all = this.get(roomId).view.messages;
    let i = before ? this.indexOf(roomId, before)[1] - 1 : all.length - 1;
    const q = query.toLowerCase();
    const matches: Message[] = [];
    for (; i >= 0 && matches.length < FAKE_PAGE; i--) {
      const m = all[i]!;
      if (!m.deleted && m.text.toLowerCase().includes(q)) matches.push({ ...m });
    }
    return { matches, next: i >= 0 ? all[i + 1]!.id : '' };
  }

  async typing(roomId: string): Promise<void> {
    this.maybeFail('typing');
    this.typingCalls.push(roomId);
  }

  async rename(roomId: string, name: string): Promise<void> {
    this.maybeFail('rename');
    this.get(roomId).view.name = name.trim();
    this.emit('rooms:changed', {});
  }

  async clearMessages(roomId: string): Promise<void> {
    this.maybeFail('clearMessages');
    const r = this.get(roomId);
    r.view.messages = [];
    r.view.lastPreview = '';
    this.emit('rooms:changed', {});
  }

  async forget(roomId: string): Promise<void> {
    this.maybeFail('forget');
    this.get(roomId);
    this.rooms_.delete(roomId);
    this.emit('rooms:changed', {});
  }

  async destroyRoom(roomId: string): Promise<void> {
    this.maybeFail('destroyRoom');
    this.get(roomId);
    this.closeRoom('ROOM_DESTROYED', roomId);
  }

  async trustNewKey(roomId: string): Promise<RoomView> {
    this.maybeFail('trustNewKey');
    const r = this.get(roomId);
    if (!r.view.keyChange) fail('BAD_REQUEST', 'the other person’s key has not changed');
    r.view.safetyNumber = r.view.keyChange.newSafetyNumber;
    r.view.keyChange = null;
    r.view.keyChanged = false;
    // Messages the old key never acknowledged are never sent to the new one.
    for (const m of r.view.messages) if (m.outgoing && m.state !== 'delivered') m.state = 'failed';
    r.view.open = true;
    r.view.code = '';
    this.emit('rooms:changed', {});
    this.setStatus(roomId, 'connecting', '');
    this.later(this.opts.peerDelayMs, () => this.peerJoins(roomId));
    return this.copyView(r.view);
  }

  async copyLink(roomId: string): Promise<void> {
    this.maybeFail('copyLink');
    this.copied.push(this.get(roomId).view.link);
  }

  async copyText(text: string): Promise<void> {
    this.maybeFail('copyText');
    if (new TextEncoder().encode(text).length > 64 << 10) fail('TOO_LONG', 'too long to copy');
    this.copied.push(text);
  }

  async openURL(url: string): Promise<void> {
    this.maybeFail('openURL');
    if (!/^https?:\/\//i.test(url)) fail('BAD_LINK', 'only http(s) links open');
    this.opened.push(url);
  }

  async pendingLink(): Promise<PendingLink> {
    this.maybeFail('pendingLink');
    return this.pendingView();
  }

  async confirmLink(id: number): Promise<RoomView> {
    this.maybeFail('confirmLink');
    const w = this.waiting;
    if (!w || w.id !== id) fail('BAD_REQUEST', 'this link is no longer waiting for confirmation');
    this.waiting = null;
    this.confirmed.push(w.link);
    return this.openRoom(w.link);
  }

  async cancelLink(id: number): Promise<void> {
    this.maybeFail('cancelLink');
    if (this.waiting?.id === id) this.waiting = null;
  }

  async pickAndSendFiles(roomId: string): Promise<Transfer[]> {
    this.maybeFail('pickAndSendFiles');
    this.get(roomId);
    const files = this.picks.shift() ?? DEFAULT_PICK;
    return files.map((f) => this.startOutgoing(roomId, f));
  }

  async sendFiles(roomId: string, paths: string[]): Promise<Transfer[]> {
    this.maybeFail('sendFiles');
    this.get(roomId);
    return paths.map((p) => this.startOutgoing(roomId, { name: p.split('/').pop() || p, size: DROPPED_FILE_SIZE }, p));
  }

  async cancelTransfer(roomId: string, id: string): Promise<void> {
    this.maybeFail('cancelTransfer');
    const x = this.transfers_.get(id);
    if (!x || x.t.roomId !== roomId) fail('INTERNAL', 'unknown transfer');
    if (x.t.state !== 'waiting' && x.t.state !== 'active') return;
    x.asking = false;
    this.update(x, { state: 'canceled', rate: 0, etaSeconds: 0 });
  }

  async transfers(roomId: string): Promise<Transfer[]> {
    this.maybeFail('transfers');
    return [...this.transfers_.values()].filter((x) => x.t.roomId === roomId).map((x) => ({ ...x.t }));
  }

  async openFile(path: string): Promise<void> {
    this.maybeFail('openFile');
    this.receivedPath(path);
    this.openedFiles.push(path);
  }

  async showInFolder(path: string): Promise<void> {
    this.maybeFail('showInFolder');
    this.receivedPath(path);
    this.shownInFolder.push(path);
  }

  async thumbnail(roomId: string, id: string): Promise<string> {
    this.maybeFail('thumbnail');
    const x = this.transfers_.get(id);
    if (!x || x.t.roomId !== roomId || x.t.image !== 'ready') fail('BAD_REQUEST', 'no thumbnail for this file');
    return x.image ?? FAKE_THUMB;
  }

  async viewImage(roomId: string, id: string): Promise<ImageView> {
    this.maybeFail('viewImage');
    const x = this.transfers_.get(id);
    if (!x || x.t.roomId !== roomId || x.t.state !== 'done') fail('BAD_REQUEST', 'no finished image with this id');
    if (x.t.image === 'failed') {
      const [code, detail] = x.t.imageError.split(': ');
      fail((code ?? 'IMAGE_UNREADABLE') as ErrorCode, detail ?? '');
    }
    return { dataUrl: x.image ?? FAKE_THUMB, width: 48, height: 32, sourceWidth: 4800, sourceHeight: 3200, name: x.t.name };
  }

  async sendPastedImage(roomId: string, data: string): Promise<Transfer> {
    this.maybeFail('sendPastedImage');
    const r = this.get(roomId);
    if (!r.view.open) fail('PEER_OFFLINE', 'the room is not open');
    if (data.length > Math.ceil((32 << 20) / 3) * 4) fail('IMAGE_TOO_LARGE', 'a pasted image may be up to 32 MiB');
    let head = '';
    try {
      head = atob(data.slice(0, 24));
    } catch {
      fail('BAD_REQUEST', 'the pasted data is not base64');
    }
    const kinds: [string, string, string][] = [
      ['\x89PNG', 'png', 'image/png'],
      ['\xff\xd8\xff', 'jpg', 'image/jpeg'],
      ['GIF8', 'gif', 'image/gif'],
    ];
    const kind = kinds.find(([magic]) => head.startsWith(magic));
    if (!kind) fail('NOT_AN_IMAGE', 'the clipboard holds no PNG, JPEG, GIF or WebP image');
    const d = new Date(this.opts.now());
    const p2 = (n: number) => String(n).padStart(2, '0');
    const stamp = `${d.getFullYear()}${p2(d.getMonth() + 1)}${p2(d.getDate())}-${p2(d.getHours())}${p2(d.getMinutes())}${p2(d.getSeconds())}`;
    const name = `pasted-${stamp}.${kind[1]}`;
    this.pasted.push(name);
    const size = Math.floor((data.length * 3) / 4);
    const t = this.startOutgoing(roomId, { name, size }, `${FAKE_PASTE_DIR}/${name}`);
    const x = this.transfers_.get(t.id);
    if (x) x.image = `data:${kind[2]};base64,${data}`;
    return t;
  }

  async getDownloadDir(): Promise<string> {
    this.maybeFail('getDownloadDir');
    return FAKE_DOWNLOAD_DIR;
  }

  async about(): Promise<AboutInfo> {
    this.maybeFail('about');
    return {
      version: 'dev',
      commit: '0123456789ab',
      goVersion: 'go1.26.8',
      components: [
        { name: 'github.com/pion/webrtc/v4', version: 'v4.2.26', license: 'MIT' },
        { name: 'svelte (UI runtime)', version: '5.57.3', license: 'MIT' },
      ],
    };
  }

  async answerOffer(roomId: string, id: string, accept: boolean): Promise<void> {
    this.maybeFail('answerOffer');
    const x = this.transfers_.get(id);
    if (!x || x.t.roomId !== roomId || !x.asking) fail('INTERNAL', 'no such offer');
    x.asking = false;
    this.answers.push([id, accept]);
    if (accept) this.tick();
    else this.update(x, { state: 'canceled' });
  }

  async setActiveRoom(roomId: string): Promise<void> {
    this.maybeFail('setActiveRoom');
    this.activeRooms.push(roomId);
  }

  async startCall(roomId: string, video: boolean): Promise<CallView> {
    this.maybeFail('startCall');
    const r = this.get(roomId);
    if (!r.peerOnline || !r.view.open) fail('PEER_OFFLINE', 'the other person is not connected');
    for (const c of this.calls.values()) {
      if (c.roomId !== roomId && this.live(c)) fail('CALL_FAILED', 'already in a call in another room');
    }
    const known = this.calls.get(roomId);
    if (known && (this.live(known) || known.state === 'incoming')) fail('CALL_FAILED', 'a call is already under way');
    const c = this.newCall(roomId, 'outgoing', video);
    if (this.devices.microphones.length === 0) return this.endCall(roomId, 'NO_MICROPHONE');
    c.localVideo = video && this.devices.cameras.length > 0;
    c.localCamera = c.localVideo;
    c.error = video && !c.localVideo ? 'NO_CAMERA' : '';
    this.emitCall(c);
    const seq = this.callSeq;
    this.later(this.opts.ringTimeoutMs, () => {
      if (this.callSeq === seq && this.calls.get(roomId)?.state === 'outgoing') this.endCall(roomId, 'NO_ANSWER');
    });
    if (this.opts.autoPeer) this.later(this.opts.peerDelayMs, () => this.peerAnswers(video, roomId));
    return { ...c };
  }

  async answerCall(roomId: string, accept: boolean, video: boolean): Promise<CallView> {
    this.maybeFail('answerCall');
    const c = this.calls.get(roomId);
    if (!c || c.state !== 'incoming') fail('INTERNAL', 'no call is ringing');
    if (!accept) return this.endCall(roomId, 'DECLINED');
    if (this.devices.microphones.length === 0) return this.endCall(roomId, 'NO_MICROPHONE');
    c.state = 'connecting';
    c.localVideo = video && this.devices.cameras.length > 0;
    c.localCamera = c.localVideo;
    c.video = c.video || c.localVideo;
    c.error = video && !c.localVideo ? 'NO_CAMERA' : '';
    this.emitCall(c);
    this.connectLater(roomId);
    return { ...c };
  }

  async hangUp(roomId: string): Promise<void> {
    this.maybeFail('hangUp');
    const c = this.calls.get(roomId);
    if (!c || c.state === 'ended' || c.state === 'idle') return;
    this.endCall(roomId, c.state === 'incoming' ? 'DECLINED' : '');
  }

  async setMicMuted(roomId: string, muted: boolean): Promise<CallView> {
    this.maybeFail('setMicMuted');
    const c = this.liveCall(roomId);
    c.micMuted = muted;
    this.emitCall(c);
    return { ...c };
  }

  async setCamera(roomId: string, on: boolean): Promise<CallView> {
    this.maybeFail('setCamera');
    const c = this.liveCall(roomId);
    if (on && this.devices.cameras.length === 0) {
      c.localCamera = false;
      c.error = 'NO_CAMERA';
    } else {
      c.localCamera = on;
      c.video = c.video || on;
      c.error = '';
    }
    // Beside a shared screen the camera is a small tile; the screen stays.
    c.localVideo = c.localCamera || c.screen;
    this.emitCall(c);
    return { ...c };
  }

  async screenSources(roomId: string): Promise<ScreenSource[]> {
    this.maybeFail('screenSources');
    this.liveCall(roomId);
    if (!this.screenAvailable) {
      fail('SCREEN_UNAVAILABLE', 'no X11 display (DISPLAY is not set); this is a Wayland session, and there is no desktop portal on the session bus');
    }
    return this.screens.map((s) => ({ ...s }));
  }

  async shareScreen(roomId: string, source: string): Promise<CallView> {
    this.maybeFail('shareScreen');
    this.liveCall(roomId);
    if (this.shareWaits) {
      this.shareWaiting = true;
      await this.shareWaits;
      this.shareWaiting = false;
    }
    const c = this.liveCall(roomId);
    if (!this.screenAvailable) {
      fail('SCREEN_UNAVAILABLE', 'no X11 display (DISPLAY is not set); this is a Wayland session, and there is no desktop portal on the session bus');
    }
    const id = source || 'screen:0';
    if (!/^(screen:\d{1,2}|window:0x[0-9a-fA-F]{1,8})$/.test(id)) fail('BAD_REQUEST', 'not a screen or window to share');
    if (!this.screens.some((s) => s.id === id)) fail('SCREEN_UNAVAILABLE', `there is no window ${id}`);
    if (!c.screen) {
      this.sharedSource = id;
      // The camera, if on, stays on as a small tile beside the screen.
      c.screen = true;
      c.localVideo = true;
      c.video = true;
      c.error = '';
      this.emitCall(c);
    }
    return { ...c };
  }

  async stopScreenShare(roomId: string): Promise<CallView> {
    this.maybeFail('stopScreenShare');
    const c = this.liveCall(roomId);
    if (!c.screen) return { ...c };
    c.screen = false;
    this.sharedSource = '';
    c.localVideo = c.localCamera;
    this.emitCall(c);
    return { ...c };
  }

  async callDevices(): Promise<CallDevices> {
    this.maybeFail('callDevices');
    const last = this.deviceChoices.at(-1) ?? ['', '', ''];
    return { ...structuredClone(this.devices), chosen: { mic: last[0], camera: last[1], speaker: last[2] } };
  }

  async setCallDevices(mic: string, camera: string, speaker: string): Promise<void> {
    this.maybeFail('setCallDevices');
    const ok = (id: string, list: { id: string }[]) => id === '' || list.some((d) => d.id === id);
    if (!ok(mic, this.devices.microphones) || !ok(camera, this.devices.cameras) || !ok(speaker, this.devices.speakers)) {
      fail('INTERNAL', 'unknown device');
    }
    this.deviceChoices.push([mic, camera, speaker]);
  }

  async mediaEndpoint(): Promise<MediaEndpoint> {
    this.maybeFail('mediaEndpoint');
    return { url: this.opts.mediaUrl, token: this.opts.mediaToken };
  }

  on<E extends EventName>(name: E, cb: (payload: Events[E]) => void): () => void {
    let set = this.listeners.get(name);
    if (!set) {
      set = new Set();
      this.listeners.set(name, set);
    }
    const l = cb as Listener;
    set.add(l);
    return () => set.delete(l);
  }

  // ---- controls for tests and demos ------------------------------------

  /** Makes the next call of `method` reject with `code`. */
  failNext(method: keyof Api, code: ErrorCode): void {
    const q = this.failures.get(method) ?? [];
    q.push(code);
    this.failures.set(method, q);
  }

  /** The room most recently created or opened. */
  lastRoomId(): string {
    return this.lastRoom;
  }

  /** The peer connects (and verifies, by default). */
  peerJoins(roomId = this.lastRoom, route: Route = 'direct', verified = true): void {
    const r = this.rooms_.get(roomId);
    if (!r || !r.view.open) return;
    r.peerOnline = true;
    r.view.safetyNumber ||= '48213 90577 13062 77410 35981 60244';
    this.setStatus(roomId, 'connecting', '');
    this.setStatus(roomId, verified ? 'verified' : 'connected', route);
    this.tick();
  }

  /** The peer sends a message (an answer to replyTo when given). */
  peerSays(text: string, roomId = this.lastRoom, replyTo = ''): Message | undefined {
    const r = this.rooms_.get(roomId);
    if (!r || !r.view.open) return undefined;
    const msg: Message = {
      id: this.nextId(),
      roomId,
      outgoing: false,
      text,
      sentAt: this.opts.now(),
      state: '',
      replyTo,
    };
    r.view.messages.push(msg);
    this.touch(r, text);
    this.emit('room:message', { roomId, message: { ...msg } });
    return msg;
  }

  peerTypes(roomId = this.lastRoom): void {
    this.emit('room:typing', { roomId });
  }

  /** The peer says goodbye; Send now fails with PEER_OFFLINE. */
  peerLeaves(roomId = this.lastRoom): void {
    const r = this.rooms_.get(roomId);
    if (!r) return;
    r.peerOnline = false;
    if (this.calls.has(roomId)) this.endCall(roomId, 'PEER_LEFT');
    this.setStatus(roomId, 'peer-left', '');
  }

  /** The connection dropped and is being re-established. */
  reconnecting(roomId = this.lastRoom): void {
    const r = this.rooms_.get(roomId);
    if (!r) return;
    r.peerOnline = false;
    this.setStatus(roomId, 'reconnecting', '');
  }

  setStatus(roomId: string, status: Status, route: Route, code = ''): void {
    const r = this.rooms_.get(roomId);
    if (!r) return;
    r.view.status = status;
    r.view.route = route;
    r.view.code = code;
    this.emit('room:status', { roomId, status, route, code, seq: ++this.statusSeq });
  }

  /** The room ends with a code (ROOM_DESTROYED, TIMER_EXPIRED, VERIFY_FAILED, ...). */
  closeRoom(code: ErrorCode, roomId = this.lastRoom): void {
    const r = this.rooms_.get(roomId);
    if (!r) return;
    r.peerOnline = false;
    r.view.open = false;
    if (this.calls.has(roomId)) this.endCall(roomId, 'PEER_LEFT');
    if (code === 'ROOM_DESTROYED' || code === 'TIMER_EXPIRED') {
      this.rooms_.delete(roomId);
      this.emit('rooms:changed', {});
    }
    this.setStatus(roomId, 'closed', '', code);
    this.emit('room:closed', { roomId, code });
  }

  /**
   * The server ends the room (ROOM_DESTROYED, TIMER_EXPIRED) without the
   * peer's authenticated destroy or a known self-destruct time: the room is
   * marked ended and its history kept.
   */
  serverEnds(code: 'ROOM_DESTROYED' | 'TIMER_EXPIRED', roomId = this.lastRoom): void {
    const r = this.rooms_.get(roomId);
    if (!r) return;
    r.peerOnline = false;
    r.view.open = false;
    r.view.ended = code;
    if (this.calls.has(roomId)) this.endCall(roomId, 'PEER_LEFT');
    this.emit('rooms:changed', {});
    this.setStatus(roomId, 'closed', '', code);
    this.emit('room:closed', { roomId, code });
  }

  /** Someone with another key turns up as the peer: KEY_CHANGED, no connection. */
  peerKeyChanges(roomId = this.lastRoom): void {
    const r = this.rooms_.get(roomId);
    if (!r) return;
    r.peerOnline = false;
    r.view.open = false;
    r.view.keyChanged = true;
    r.view.keyChange = {
      oldSafetyNumber: r.view.safetyNumber || '48213 90577 13062 77410 35981 60244',
      newSafetyNumber: '90210 11111 42424 31337 27182 81828',
    };
    if (this.calls.has(roomId)) this.endCall(roomId, 'PEER_LEFT');
    this.emit('rooms:changed', {});
    this.setStatus(roomId, 'closed', '', 'KEY_CHANGED');
    this.emit('room:closed', { roomId, code: 'KEY_CHANGED' });
  }

  /** The OS or a second instance hands the app a link: it waits for confirmation. */
  openLink(link: string): void {
    this.holdLink(link);
    this.emit('app:link-pending', this.pendingView());
  }

  /** The link waiting for confirmation, if any (what Go would join). */
  waitingLink(): string {
    return this.waiting?.link ?? '';
  }

  /** A well-formed link to a room the fake has never seen. */
  newLink(): string {
    return `${this.settings.server || 'https://signal.parley.example'}/r/${randomId(21)}#${randomId(43)}`;
  }

  /** The next PickAndSendFiles "picks" these files ([] = the dialog was canceled). */
  willPick(files: FakeFile[]): void {
    this.picks.push(files);
  }

  /** The peer sends a file; above autoAcceptMaxBytes (0: every file) it is offered first. Returns its id. */
  peerSendsFile(name: string, size: number, roomId = this.lastRoom): string {
    this.get(roomId);
    const limit = this.settings.autoAcceptMaxBytes;
    const x: FakeTransfer = {
      t: this.newTransfer(roomId, name, size, false, ''),
      asking: limit <= 0 || size > limit,
    };
    this.transfers_.set(x.t.id, x);
    this.emit('transfer:update', { roomId, transfer: { ...x.t } });
    if (x.asking) {
      const offer: Offer = { roomId, id: x.t.id, name, size };
      this.emit('transfer:offer', offer);
    } else {
      this.tick();
    }
    return x.t.id;
  }

  /** A transfer fails with `code` (TRANSFER_FAILED: the hash did not match). */
  failTransfer(id: string, code: ErrorCode = 'TRANSFER_FAILED', detail = 'SHA-256 mismatch'): void {
    const x = this.transfers_.get(id);
    if (!x) return;
    x.asking = false;
    this.update(x, { state: 'failed', error: `${code}: ${detail}`, rate: 0, etaSeconds: 0 });
  }

  /**
   * Files dropped on the window: like Go's OnFileDrop handler, sends them
   * into the room in view (SetActiveRoom) and says so with app:file-drop.
   */
  async dropFiles(paths: string[]): Promise<void> {
    const roomId = this.activeRooms[this.activeRooms.length - 1] ?? '';
    if (!roomId || paths.length === 0) return;
    await this.sendFiles(roomId, paths);
    this.emit('app:file-drop', { roomId, count: paths.length });
  }

  /** Ids of a room's transfers, oldest first. */
  transferIds(roomId = this.lastRoom): string[] {
    return [...this.transfers_.values()].filter((x) => x.t.roomId === roomId).map((x) => x.t.id);
  }

  setTransferRate(bytesPerSecond: number): void {
    this.opts.transferRate = bytesPerSecond;
  }

  /** The peer calls us (the UI rings). */
  peerCalls(video = false, roomId = this.lastRoom): void {
    const r = this.rooms_.get(roomId);
    if (!r || !r.peerOnline) return;
    const c = this.newCall(roomId, 'incoming', video);
    c.remoteVideo = video;
    c.remoteCamera = video;
    this.emitCall(c);
    const seq = this.callSeq;
    this.later(this.opts.ringTimeoutMs, () => {
      if (this.callSeq === seq && this.calls.get(roomId)?.state === 'incoming') this.endCall(roomId, 'NO_ANSWER');
    });
  }

  /** The peer picks up our call (video: with their camera on). */
  peerAnswers(video = false, roomId = this.lastRoom): void {
    const c = this.calls.get(roomId);
    if (!c || c.state !== 'outgoing') return;
    c.state = 'connecting';
    c.remoteVideo = video;
    c.remoteCamera = video;
    c.video = c.video || video;
    this.emitCall(c);
    this.connectLater(roomId);
  }

  peerDeclines(roomId = this.lastRoom): void {
    const c = this.calls.get(roomId);
    if (c && c.state === 'outgoing') this.endCall(roomId, 'DECLINED');
  }

  /** The peer ends the call (or gives up ringing). */
  peerHangsUp(roomId = this.lastRoom): void {
    const c = this.calls.get(roomId);
    if (!c || c.state === 'ended' || c.state === 'idle') return;
    this.endCall(roomId, c.state === 'incoming' ? 'NO_ANSWER' : '');
  }

  peerMutes(muted = true, roomId = this.lastRoom): void {
    const c = this.calls.get(roomId);
    if (!c || !this.live(c)) return;
    c.remoteMuted = muted;
    this.emitCall(c);
  }

  /** The peer's camera goes on or off (on makes it a video call; beside their screen it is a tile). */
  peerCamera(on: boolean, roomId = this.lastRoom): void {
    const c = this.calls.get(roomId);
    if (!c || !this.live(c)) return;
    c.remoteCamera = on;
    c.remoteVideo = on || c.remoteScreen;
    c.video = c.video || on;
    this.emitCall(c);
  }

  /** The shared window closes: sharing ends with WINDOW_CLOSED, the call goes on. */
  sharedWindowCloses(roomId = this.lastRoom): void {
    const c = this.calls.get(roomId);
    if (!c || !this.live(c) || !c.screen || !this.sharedSource.startsWith('window:')) return;
    this.screens = this.screens.filter((s) => s.id !== this.sharedSource);
    c.screen = false;
    c.localVideo = c.localCamera;
    this.sharedSource = '';
    c.error = 'WINDOW_CLOSED';
    this.emitCall(c);
  }

  /** The peer starts or stops sharing their screen (it takes the stage; their camera, if on, becomes a tile). */
  peerSharesScreen(on: boolean, roomId = this.lastRoom): void {
    const c = this.calls.get(roomId);
    if (!c || !this.live(c)) return;
    c.remoteScreen = on;
    c.remoteVideo = on || c.remoteCamera;
    c.video = c.video || on;
    this.emitCall(c);
  }

  /**
   * Something goes wrong in Go: NO_CAMERA keeps a live call going
   * (sound only), any other code ends it.
   */
  callFails(code: ErrorCode, roomId = this.lastRoom): void {
    const c = this.calls.get(roomId);
    if (!c || c.state === 'ended' || c.state === 'idle') return;
    if (code === 'NO_CAMERA') {
      c.localCamera = false;
      c.localVideo = c.screen;
      c.error = 'NO_CAMERA';
      this.emitCall(c);
      return;
    }
    this.endCall(roomId, code);
  }

  /** The call of a room as Go would report it. */
  callOf(roomId = this.lastRoom): CallView | undefined {
    const c = this.calls.get(roomId);
    return c ? { ...c } : undefined;
  }

  /** Stops every pending timer. */
  dispose(): void {
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    this.ticking = false;
    this.listeners.clear();
  }

  // ---- internals -------------------------------------------------------

  private holdLink(link: string): void {
    this.waiting = { id: ++this.linkSeq, link: link.trim() };
  }

  /** Like Go's PendingLink: names the server and a known room, never the secret. */
  private pendingView(): PendingLink {
    const w = this.waiting;
    const none: PendingLink = { id: 0, server: '', host: '', known: false, roomId: '', roomName: '', code: '', detail: '' };
    if (!w) return none;
    const m = LINK_RE.exec(w.link);
    const server = serverOf(w.link);
    if (!m || !m[2] || !server) return { ...none, id: w.id, code: 'BAD_LINK', detail: 'expected https://<server>/r/<room id>#<secret>' };
    const r = this.rooms_.get(m[2]);
    const known = !!r && serverOf(r.view.link) === server;
    return {
      ...none,
      id: w.id,
      server,
      host: server.replace(/^https?:\/\//, ''),
      known,
      roomId: known ? m[2] : '',
      roomName: known && r ? r.view.name : '',
    };
  }

  private live(c: CallView): boolean {
    return c.state === 'outgoing' || c.state === 'connecting' || c.state === 'active';
  }

  private liveCall(roomId: string): CallView {
    const c = this.calls.get(roomId);
    if (!c || !this.live(c)) fail('INTERNAL', 'no call in this room');
    return c;
  }

  private newCall(roomId: string, state: 'outgoing' | 'incoming', video: boolean): CallView {
    this.callSeq += 1;
    const c: CallView = {
      roomId,
      state,
      video,
      localVideo: false,
      remoteVideo: false,
      micMuted: false,
      remoteMuted: false,
      startedAt: null,
      error: '',
      screen: false,
      remoteScreen: false,
      localCamera: false,
      remoteCamera: false,
    };
    this.calls.set(roomId, c);
    return c;
  }

  private connectLater(roomId: string): void {
    const seq = this.callSeq;
    this.later(this.opts.callConnectMs, () => {
      const c = this.calls.get(roomId);
      if (this.callSeq !== seq || !c || c.state !== 'connecting') return;
      c.state = 'active';
      c.startedAt = this.opts.now();
      this.emitCall(c);
    });
  }

  private endCall(roomId: string, error: string): CallView {
    const c = this.calls.get(roomId);
    if (!c) fail('INTERNAL', 'no call');
    c.state = 'ended';
    c.error = error;
    c.localVideo = false;
    c.remoteVideo = false;
    c.screen = false;
    c.remoteScreen = false;
    this.sharedSource = '';
    c.localCamera = false;
    c.remoteCamera = false;
    this.emitCall(c);
    const ended = { ...c };
    this.calls.delete(roomId);
    return ended;
  }

  private emitCall(c: CallView): void {
    this.emit('call', { ...c });
  }

  private emit<E extends EventName>(name: E, payload: Events[E]): void {
    for (const l of [...(this.listeners.get(name) ?? [])]) (l as (p: Events[E]) => void)(payload);
  }

  private later(ms: number, fn: () => void): void {
    const t = setTimeout(() => {
      this.timers.delete(t);
      fn();
    }, ms);
    this.timers.add(t);
  }

  private newTransfer(roomId: string, name: string, size: number, outgoing: boolean, path: string): Transfer {
    this.seq += 1;
    return {
      id: `t${this.seq}`,
      roomId,
      name,
      outgoing,
      bytes: 0,
      total: size,
      rate: 0,
      etaSeconds: 0,
      state: 'waiting',
      error: '',
      path,
      image: '',
      imageError: '',
    };
  }

  private startOutgoing(roomId: string, f: FakeFile, path = `/home/you/Documents/${f.name}`): Transfer {
    const x: FakeTransfer = { t: this.newTransfer(roomId, f.name, f.size, true, path), asking: false };
    this.transfers_.set(x.t.id, x);
    this.emit('transfer:update', { roomId, transfer: { ...x.t } });
    this.tick();
    return { ...x.t };
  }

  private update(x: FakeTransfer, change: Partial<Transfer>): void {
    Object.assign(x.t, change);
    this.emit('transfer:update', { roomId: x.t.roomId, transfer: { ...x.t } });
  }

  /**
   * Moves every running transfer on by one tick while its peer is online
   * (they wait otherwise, like Go's queue), and schedules the next tick
   * while anything can still move.
   */
  private tick(): void {
    if (this.ticking) return;
    this.ticking = true;
    this.later(this.opts.transferTickMs, () => {
      this.ticking = false;
      let moving = false;
      const step = (this.opts.transferRate * this.opts.transferTickMs) / 1000;
      for (const x of this.transfers_.values()) {
        if (x.asking || (x.t.state !== 'waiting' && x.t.state !== 'active')) continue;
        const r = this.rooms_.get(x.t.roomId);
        if (!r || !r.peerOnline || !r.view.open) {
          if (x.t.state === 'active') this.update(x, { state: 'waiting', rate: 0, etaSeconds: 0 });
          continue;
        }
        const bytes = Math.min(x.t.total, x.t.bytes + step);
        if (bytes >= x.t.total) {
          const path = x.t.outgoing ? x.t.path : `${FAKE_DOWNLOAD_DIR}/${x.t.name}`;
          this.update(x, { state: 'done', bytes, rate: 0, etaSeconds: 0, path });
          this.preview(x);
          continue;
        }
        const rate = this.opts.transferRate;
        this.update(x, { state: 'active', bytes, rate, etaSeconds: (x.t.total - bytes) / rate });
        moving = true;
      }
      if (moving) this.tick();
    });
  }

  /** Like Go after a file is verified: images get a thumbnail (or a refusal). */
  private preview(x: FakeTransfer): void {
    if (!IMAGE_NAME.test(x.t.name)) return;
    this.update(x, { image: 'pending' });
    this.later(this.opts.transferTickMs, () => {
      if (x.t.name.includes(FAKE_BOMB)) {
        this.update(x, {
          image: 'failed',
          imageError: 'IMAGE_TOO_LARGE: 100000 × 100000 pixels; previews are made up to 50 megapixels',
        });
      } else {
        this.update(x, { image: 'ready' });
      }
    });
  }

  /** Go opens only received, verified files. */
  private receivedPath(path: string): void {
    const ok = [...this.transfers_.values()].some((x) => !x.t.outgoing && x.t.state === 'done' && x.t.path === path);
    if (!ok) fail('INTERNAL', 'not a received file');
  }

  private maybeFail(method: keyof Api): void {
    const q = this.failures.get(method);
    const code = q?.shift();
    if (code) fail(code, `simulated failure of ${method}`);
  }

  private get(roomId: string): FakeRoom {
    const r = this.rooms_.get(roomId);
    if (!r) fail('ROOM_NOT_FOUND', 'unknown room');
    return r;
  }

  private nextId(): string {
    this.seq += 1;
    return `m${this.seq}`;
  }

  private touch(r: FakeRoom, text: string): void {
    r.view.lastActive = this.opts.now();
    r.view.lastPreview = text.slice(0, 120);
    this.emit('rooms:changed', {});
  }

  private summary(v: RoomView): RoomSummary {
    return {
      id: v.id,
      name: v.name,
      link: v.link,
      lastActive: v.lastActive,
      lastPreview: v.lastPreview,
      expiresAt: v.expiresAt,
      open: v.open,
      ended: v.ended,
      keyChanged: v.keyChanged,
    };
  }

  /** Like Go, a view carries the newest page only. */
  private copyView(v: RoomView): RoomView {
    const newest = v.messages.slice(-FAKE_PAGE);
    return { ...v, messages: newest.map((m) => ({ ...m })), older: v.messages.length > newest.length, statusSeq: this.statusSeq };
  }

  private page(all: Message[], from: number, to: number): MessagePage {
    from = Math.max(0, from);
    to = Math.min(all.length, to);
    return { messages: all.slice(from, to).map((m) => ({ ...m })), older: from > 0, newer: to < all.length };
  }

  private indexOf(roomId: string, id: string): [Message[], number] {
    const all = this.get(roomId).view.messages;
    const i = all.findIndex((m) => m.id === id);
    if (i < 0) fail('BAD_REQUEST', 'that message is no longer in this room\'s history');
    return [all, i];
  }

  private seedLongRoom(n: number): void {
    const now = this.opts.now();
    const id = randomId(21);
    const lines = ['Did you see the **build** finish?', 'Yes, all green.', 'Lunch at one?', 'Sure, the usual place.', 'Here is the `config` I meant.'];
    const msgs: Message[] = Array.from({ length: n }, (_, i) => ({
      id: `long-${i}`,
      roomId: id,
      outgoing: i % 2 === 0,
      text: `${lines[i % lines.length]} (${i})`,
      sentAt: now - (n - i) * 60_000,
      state: i % 2 === 0 ? 'delivered' : '',
    }));
    this.storeSeeded(id, 'Long history', msgs, now);
  }

  /** A closed recent room with these messages (the seeds). */
  private storeSeeded(id: string, name: string, msgs: Message[], emptySince: number): void {
    const last = msgs[msgs.length - 1];
    this.rooms_.set(id, {
      peerOnline: false,
      view: {
        id,
        name,
        link: `${this.settings.server || 'https://signal.parley.example'}/r/${id}#${randomId(43)}`,
        lastActive: last ? last.sentAt : emptySince,
        lastPreview: last ? last.text : '',
        expiresAt: null,
        open: false,
        status: 'closed',
        route: '',
        code: '',
        messages: msgs,
        older: false,
        safetyNumber: '',
        keyChange: null,
        ended: '',
        keyChanged: false,
        statusSeq: 0,
      },
    });
  }

  private seedRooms(): void {
    const now = this.opts.now();
    const mk = (name: string, agoMin: number, texts: [boolean, string][]): void => {
      const id = randomId(21);
      const msgs: Message[] = texts.map(([out, text], i) => ({
        id: this.nextId(),
        roomId: id,
        outgoing: out,
        text,
        sentAt: now - agoMin * 60_000 - (texts.length - i) * 45_000,
        state: out ? 'delivered' : '',
      }));
      this.storeSeeded(id, name, msgs, now - agoMin * 60_000);
    };
    mk('Sam', 12, [
      [false, 'Are we still on for Thursday?'],
      [true, 'Yes! 7pm at the usual place.'],
      [false, 'Perfect, the agenda is at https://example.org/agenda'],
    ]);
    mk('Design review', 60 * 26, [
      [true, 'Sent you the mockups, have a look when you can.'],
      [false, 'Looks great. Two small notes on the header.'],
    ]);
    mk('', 60 * 24 * 6, [[false, 'Thanks for the files.']]);
  }
}
