// Types of the Go facade contract (docs/app-api.md). Keep in step with it.

export type Status =
  | 'waiting'
  | 'connecting'
  | 'connected'
  | 'verified'
  | 'reconnecting'
  | 'peer-left'
  | 'closed';

export type Route = '' | 'direct' | 'relayed';

/** '' for incoming messages. */
export type DeliveryState = 'sending' | 'sent' | 'delivered' | 'failed' | '';

export interface Settings {
  profile: string;
  fingerprint: string;
  server: string;
  firstRun: boolean;
  lanServer: string;
  autoAcceptMaxBytes: number;
  /** Rooms opened from now on connect only through the server's relay. */
  relayOnly: boolean;
}

export interface RoomSummary {
  /** The room's key: its room id, a dot and a tag of its server (the same id on another server is another room). */
  id: string;
  name: string;
  link: string;
  lastActive: number;
  lastPreview: string;
  expiresAt: number | null;
  open: boolean;
  /** ROOM_DESTROYED or TIMER_EXPIRED when the server ended the room unconfirmed (history kept), else ''. */
  ended: string;
  /** The other person's key changed and is not trusted yet. */
  keyChanged: boolean;
}

/** The safety numbers before and after the other person's key changed. */
export interface KeyChange {
  oldSafetyNumber: string;
  newSafetyNumber: string;
}

export interface Message {
  id: string;
  roomId: string;
  outgoing: boolean;
  text: string;
  sentAt: number;
  state: DeliveryState;
  /** Id of the message this answers ("" or absent: none; it may not exist). */
  replyTo?: string;
  /** Its writer changed the text (both sides show "edited"). */
  edited?: boolean;
  /** Deleted for both: text is "" and a tombstone shows. */
  deleted?: boolean;
  /** Each side's reaction, one of REACTIONS ("": none). */
  myReaction?: string;
  peerReaction?: string;
}

/** The reactions the chat protocol allows (app/chat.Reactions, ReactionChoices). */
export const REACTIONS = ['👍', '❤️', '😂', '😮', '😢', '🙏'] as const;

export interface RoomView extends RoomSummary {
  status: Status;
  route: Route;
  code: string;
  /** The newest page of the room's history (oldest first); `older`: there is more before it. */
  messages: Message[];
  older: boolean;
  safetyNumber: string;
  /** Set while the other person's key changed and is not trusted (trustNewKey). */
  keyChange: KeyChange | null;
  /** Seq of the last room:status event this view includes. */
  statusSeq: number;
}

/** A run of a room's messages, oldest first (olderMessages and friends). */
export interface MessagePage {
  messages: Message[];
  /** The room has messages before / after this run. */
  older: boolean;
  newer: boolean;
}

/** One page of a search, newest match first; `next` goes on to older messages ("" when done). */
export interface SearchResult {
  matches: Message[];
  next: string;
}

export type TransferState = 'waiting' | 'active' | 'done' | 'failed' | 'canceled';

/** One file on its way in or out (docs/app-api.md, "File transfer"). */
export interface Transfer {
  id: string;
  roomId: string;
  /** Sanitized by Go, still untrusted: text only. */
  name: string;
  outgoing: boolean;
  bytes: number;
  total: number;
  /** Bytes per second. */
  rate: number;
  /** 0 when unknown. */
  etaSeconds: number;
  state: TransferState;
  /** "CODE: detail" when failed, else "". */
  error: string;
  /** Receiver: final path once verified; sender: source path. */
  path: string;
  /** Preview of a finished image file: '' (not an image), pending, ready (thumbnail() has it) or failed. */
  image: ImageState;
  /** "CODE: detail" when image is failed (IMAGE_TOO_LARGE, IMAGE_UNREADABLE), else "". */
  imageError: string;
  /** A whole folder sent or received as one item (bytes/total count all its files). */
  folder?: boolean;
  /** Folder: its files, those saved so far, and the links/special files the sender left out. */
  files?: number;
  filesDone?: number;
  skipped?: number;
}

export type ImageState = '' | 'pending' | 'ready' | 'failed';

/** An image scaled by Go for the in-app viewer (docs/app-api.md, "Images"). */
export interface ImageView {
  /** data:image/jpeg or data:image/png URL made by Go, at most 2048 px a side. */
  dataUrl: string;
  width: number;
  height: number;
  /** The file's own size in pixels. */
  sourceWidth: number;
  sourceHeight: number;
  name: string;
}

/** A file above autoAcceptMaxBytes that waits for AnswerOffer. */
export interface Offer {
  roomId: string;
  id: string;
  name: string;
  size: number;
  /** A whole folder of `files` files (`size` in all). */
  folder?: boolean;
  files?: number;
}

/** Where a call is (docs/app-api.md, "Calls"). */
export type CallState = 'idle' | 'outgoing' | 'incoming' | 'connecting' | 'active' | 'ended';

/** The call of one room, as Go sees it; pushed with the `call` event. */
export interface CallView {
  roomId: string;
  state: CallState;
  /** The kind of call: true once either side sends video. */
  video: boolean;
  /** We send video (our camera or our screen). */
  localVideo: boolean;
  /** The peer sends video (their camera or their screen). */
  remoteVideo: boolean;
  micMuted: boolean;
  remoteMuted: boolean;
  /** Unix ms when the call became active, else null. */
  startedAt: number | null;
  /** A code or "": why it ended (state ended), or a notice such as NO_CAMERA. */
  error: string;
  /** We share our screen (shareScreen). */
  screen: boolean;
  /** The peer shares their screen: it takes the stage. */
  remoteScreen: boolean;
  /** Our camera sends (beside our shared screen: a small tile). */
  localCamera: boolean;
  /** The peer's camera sends (beside their shared screen: a small tile). */
  remoteCamera: boolean;
}

export interface Device {
  id: string;
  label: string;
}

/** Something a call can share: a whole screen or one window (screenSources). */
export interface ScreenSource {
  /** What to pass to shareScreen: "screen:0", "window:0x1a00007". */
  id: string;
  /** "Entire screen", or the window's title. */
  title: string;
  /** The size sharing it sends now. */
  width: number;
  height: number;
}

export interface CallDevices {
  microphones: Device[];
  cameras: Device[];
  speakers: Device[];
  /** What SetCallDevices remembered ("" = the default); absent from older backends. */
  chosen?: { mic: string; camera: string; speaker: string };
}

/** The loopback WebSocket that carries a call's encoded frames. */
export interface MediaEndpoint {
  url: string;
  token: string;
}

/**
 * A room link from outside the app (command line, another launch, a
 * parley:// link from a browser) that waits for the person to confirm it.
 * It never carries the link's secret (docs/app-api.md, "Links from outside
 * the app").
 */
export interface PendingLink {
  /** Names the link for confirmLink / cancelLink; 0: nothing waits. */
  id: number;
  /** The signaling server joining would contact: scheme://host[:port]. */
  server: string;
  /** The server's host[:port]. */
  host: string;
  /** A recent room has this server and room id. */
  known: boolean;
  /** The known room's id ("" otherwise). */
  roomId: string;
  /** The known room's local name ("" when none). */
  roomName: string;
  /** BAD_LINK when the link does not parse (detail says why), else "". */
  code: string;
  detail: string;
}

/** Payloads of the events the facade pushes (runtime.EventsOn). */
export interface Events {
  /** seq grows with every status event; events may arrive out of order. */
  'room:status': { roomId: string; status: Status; route: Route; code: string; seq: number };
  'room:message': { roomId: string; message: Message };
  /** The other person edited, deleted or reacted to a stored message. */
  'room:message-changed': { roomId: string; message: Message };
  'room:delivered': { roomId: string; id: string };
  'room:typing': { roomId: string };
  'room:closed': { roomId: string; code: string };
  'rooms:changed': Record<string, never>;
  /** A link from outside the app waits for confirmation. */
  'app:link-pending': PendingLink;
  'transfer:update': { roomId: string; transfer: Transfer };
  'transfer:offer': Offer;
  'app:file-drop': { roomId: string; count: number };
  call: CallView;
}

export type EventName = keyof Events;

/** Everything the UI may ask of the backend; api.ts and fake-api.ts implement it. */
/** One third-party part inside the app (App.About). */
export interface AboutComponent {
  name: string;
  version: string;
  /** SPDX identifier, e.g. "MIT". */
  license: string;
}

/** Which Parley this is (App.About). */
export interface AboutInfo {
  version: string;
  commit: string;
  goVersion: string;
  components: AboutComponent[];
}

export interface Api {
  getSettings(): Promise<Settings>;
  setServer(url: string): Promise<Settings>;
  startLANServer(): Promise<Settings>;
  setAutoAcceptLimit(maxBytes: number): Promise<Settings>;
  setRelayOnly(on: boolean): Promise<Settings>;
  createRoom(selfDestructSeconds: number): Promise<RoomView>;
  openRoom(link: string): Promise<RoomView>;
  leaveRoom(roomId: string): Promise<void>;
  rooms(): Promise<RoomSummary[]>;
  room(roomId: string): Promise<RoomView>;
  send(roomId: string, text: string): Promise<Message>;
  /** Send as an answer to message replyTo (CANNOT_CHANGE: not stored). */
  reply(roomId: string, text: string, replyTo: string): Promise<Message>;
  /** Changes one of our messages on both sides. */
  edit(roomId: string, msgId: string, text: string): Promise<Message>;
  /** Deletes one of our messages for both (tombstones). */
  deleteMessage(roomId: string, msgId: string): Promise<Message>;
  /** Sets our reaction ("" removes it). */
  react(roomId: string, msgId: string, emoji: string): Promise<Message>;
  /** The page of messages before `before` ("" for the newest page). */
  olderMessages(roomId: string, before: string): Promise<MessagePage>;
  /** The page of messages after `after`. */
  newerMessages(roomId: string, after: string): Promise<MessagePage>;
  /** A page with message `id` in its middle. */
  messagesAround(roomId: string, id: string): Promise<MessagePage>;
  /** Messages containing `query` (case ignored), newest first, older than `before` ("" from the newest). */
  searchMessages(roomId: string, query: string, before: string): Promise<SearchResult>;
  typing(roomId: string): Promise<void>;
  rename(roomId: string, name: string): Promise<void>;
  clearMessages(roomId: string): Promise<void>;
  forget(roomId: string): Promise<void>;
  destroyRoom(roomId: string): Promise<void>;
  /** After KEY_CHANGED: trusts the new key (the user compared the new safety number) and rejoins. */
  trustNewKey(roomId: string): Promise<RoomView>;
  copyLink(roomId: string): Promise<void>;
  /** Puts text on the clipboard (a code block's copy button); TOO_LONG past a message's size. */
  copyText(text: string): Promise<void>;
  openURL(url: string): Promise<void>;
  /** The link from outside the app waiting for confirmation (id 0: none); asked on start. */
  pendingLink(): Promise<PendingLink>;
  /** Joins the waiting link the person confirmed; id must be the one shown. */
  confirmLink(id: number): Promise<RoomView>;
  /** Drops the waiting link (nothing was contacted for it). */
  cancelLink(id: number): Promise<void>;
  /** Native multi-file dialog, then sends each; [] when the dialog is canceled. */
  pickAndSendFiles(roomId: string): Promise<Transfer[]>;
  sendFiles(roomId: string, paths: string[]): Promise<Transfer[]>;
  cancelTransfer(roomId: string, id: string): Promise<void>;
  /** Transfers of this run of the app, newest last. */
  transfers(roomId: string): Promise<Transfer[]>;
  openFile(path: string): Promise<void>;
  showInFolder(path: string): Promise<void>;
  /** The sealed thumbnail of a finished image transfer, as a data: URL. */
  thumbnail(roomId: string, id: string): Promise<string>;
  /** The finished image decoded by Go and scaled to fit 2048 px, for the viewer. */
  viewImage(roomId: string, id: string): Promise<ImageView>;
  /** Sends an image pasted into the composer (base64 of the file, at most 32 MiB). */
  sendPastedImage(roomId: string, data: string): Promise<Transfer>;
  getDownloadDir(): Promise<string>;
  about(): Promise<AboutInfo>;
  answerOffer(roomId: string, id: string, accept: boolean): Promise<void>;
  /** Which room is in view ("" on home), so drops land in it. */
  setActiveRoom(roomId: string): Promise<void>;
  /** Calls our peer in this room (video: with the camera on). */
  startCall(roomId: string, video: boolean): Promise<CallView>;
  /** Answers a ringing call; accept=false declines it. */
  answerCall(roomId: string, accept: boolean, video: boolean): Promise<CallView>;
  /** Ends, cancels or declines the room's call. */
  hangUp(roomId: string): Promise<void>;
  setMicMuted(roomId: string, muted: boolean): Promise<CallView>;
  /** Camera on during a voice call turns it into a video call. */
  setCamera(roomId: string, on: boolean): Promise<CallView>;
  /** What the room's call can share: the screens, then the windows (SCREEN_UNAVAILABLE: no X11 screen). */
  screenSources(roomId: string): Promise<ScreenSource[]>;
  /**
   * Shares a screen or one window (an id from screenSources; "" = the
   * whole screen) in the room's call in place of the camera
   * (SCREEN_UNAVAILABLE: cannot be captured). A shared window that closes
   * ends the share with the call's error WINDOW_CLOSED.
   */
  shareScreen(roomId: string, source: string): Promise<CallView>;
  /** Stops sharing; the camera comes back if it was on. */
  stopScreenShare(roomId: string): Promise<CallView>;
  callDevices(): Promise<CallDevices>;
  /** "" = the system default. */
  setCallDevices(mic: string, camera: string, speaker: string): Promise<void>;
  mediaEndpoint(): Promise<MediaEndpoint>;
  /** Subscribes to a backend event; returns the unsubscribe function. */
  on<E extends EventName>(name: E, cb: (payload: Events[E]) => void): () => void;
}
