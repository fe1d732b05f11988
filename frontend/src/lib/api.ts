// The only file that touches Wails. It wraps the bound facade methods
// (window.go.app.App.*, the same objects the generated wailsjs bindings call)
// and the runtime events, so the rest of the UI sees a plain `Api` and can run
// against the in-memory fake in a browser.

import type {
  AboutInfo,
  Api,
  CallDevices,
  ScreenSource,
  CallView,
  EventName,
  Events,
  ImageView,
  MediaEndpoint,
  Message,
  MessagePage,
  PendingLink,
  RoomSummary,
  RoomView,
  SearchResult,
  Settings,
  Transfer,
} from './types';
import { toApiError } from './errors';

interface WailsApp {
  GetSettings(): Promise<Settings>;
  SetServer(url: string): Promise<Settings>;
  SetAutoAcceptLimit(maxBytes: number): Promise<Settings>;
  SetRelayOnly(on: boolean): Promise<Settings>;
  StartLANServer(): Promise<Settings>;
  CreateRoom(selfDestructSeconds: number): Promise<RoomView>;
  OpenRoom(link: string): Promise<RoomView>;
  LeaveRoom(roomId: string): Promise<void>;
  Rooms(): Promise<RoomSummary[] | null>;
  Room(roomId: string): Promise<RoomView>;
  Send(roomId: string, text: string): Promise<Message>;
  Reply(roomId: string, text: string, replyTo: string): Promise<Message>;
  Edit(roomId: string, msgId: string, text: string): Promise<Message>;
  Delete(roomId: string, msgId: string): Promise<Message>;
  React(roomId: string, msgId: string, emoji: string): Promise<Message>;
  OlderMessages(roomId: string, before: string): Promise<MessagePage>;
  NewerMessages(roomId: string, after: string): Promise<MessagePage>;
  MessagesAround(roomId: string, id: string): Promise<MessagePage>;
  SearchMessages(roomId: string, query: string, before: string): Promise<SearchResult>;
  Typing(roomId: string): Promise<void>;
  Rename(roomId: string, name: string): Promise<void>;
  ClearMessages(roomId: string): Promise<void>;
  Forget(roomId: string): Promise<void>;
  DestroyRoom(roomId: string): Promise<void>;
  TrustNewKey(roomId: string): Promise<RoomView>;
  CopyLink(roomId: string): Promise<void>;
  CopyText(text: string): Promise<void>;
  OpenURL(url: string): Promise<void>;
  PendingLink(): Promise<PendingLink>;
  ConfirmLink(id: number): Promise<RoomView>;
  CancelLink(id: number): Promise<void>;
  PickAndSendFiles(roomId: string): Promise<Transfer[] | null>;
  SendFiles(roomId: string, paths: string[]): Promise<Transfer[] | null>;
  CancelTransfer(roomId: string, id: string): Promise<void>;
  Transfers(roomId: string): Promise<Transfer[] | null>;
  OpenFile(path: string): Promise<void>;
  ShowInFolder(path: string): Promise<void>;
  Thumbnail(roomId: string, id: string): Promise<string>;
  ViewImage(roomId: string, id: string): Promise<ImageView>;
  SendPastedImage(roomId: string, data: string): Promise<Transfer>;
  GetDownloadDir(): Promise<string>;
  About(): Promise<AboutInfo>;
  AnswerOffer(roomId: string, id: string, accept: boolean): Promise<void>;
  SetActiveRoom(roomId: string): Promise<void>;
  StartCall(roomId: string, video: boolean): Promise<CallView>;
  AnswerCall(roomId: string, accept: boolean, video: boolean): Promise<CallView>;
  HangUp(roomId: string): Promise<void>;
  SetMicMuted(roomId: string, muted: boolean): Promise<CallView>;
  SetCamera(roomId: string, on: boolean): Promise<CallView>;
  ScreenSources(roomId: string): Promise<ScreenSource[]>;
  ShareScreen(roomId: string, source: string): Promise<CallView>;
  StopScreenShare(roomId: string): Promise<CallView>;
  CallDevices(): Promise<CallDevices>;
  SetCallDevices(mic: string, camera: string, speaker: string): Promise<void>;
  MediaEndpoint(): Promise<MediaEndpoint>;
}

interface WailsRuntime {
  EventsOn(name: string, cb: (...data: unknown[]) => void): (() => void) | undefined;
  EventsOff?(name: string): void;
}

declare global {
  interface Window {
    go?: { app?: { App?: WailsApp } };
    runtime?: WailsRuntime;
  }
}

/** Rethrows any rejection as an ApiError carrying the stable code. */
async function call<T>(p: () => Promise<T>): Promise<T> {
  try {
    return await p();
  } catch (e) {
    throw toApiError(e);
  }
}

/** Go nil slices arrive as null; the UI always wants arrays. */
function fixView(v: RoomView): RoomView {
  return { ...v, messages: v.messages ?? [], older: !!v.older };
}

function fixPage(p: MessagePage): MessagePage {
  return { messages: p.messages ?? [], older: !!p.older, newer: !!p.newer };
}

/** Go nil slices arrive as null. */
function fixDevices(d: CallDevices | null): CallDevices {
  const out: CallDevices = { microphones: d?.microphones ?? [], cameras: d?.cameras ?? [], speakers: d?.speakers ?? [] };
  if (d?.chosen) out.chosen = { mic: d.chosen.mic ?? '', camera: d.chosen.camera ?? '', speaker: d.chosen.speaker ?? '' };
  return out;
}

/** The real backend: the Wails-bound app.App facade. */
export class WailsApi implements Api {
  constructor(
    private readonly app: WailsApp,
    private readonly rt: WailsRuntime,
  ) {}

  getSettings = () => call(() => this.app.GetSettings());
  setServer = (url: string) => call(() => this.app.SetServer(url));
  setAutoAcceptLimit = (maxBytes: number) => call(() => this.app.SetAutoAcceptLimit(maxBytes));
  setRelayOnly = (on: boolean) => call(() => this.app.SetRelayOnly(on));
  startLANServer = () => call(() => this.app.StartLANServer());
  createRoom = (s: number) => call(async () => fixView(await this.app.CreateRoom(s)));
  openRoom = (link: string) => call(async () => fixView(await this.app.OpenRoom(link)));
  leaveRoom = (id: string) => call(() => this.app.LeaveRoom(id));
  rooms = () => call(async () => (await this.app.Rooms()) ?? []);
  room = (id: string) => call(async () => fixView(await this.app.Room(id)));
  send = (id: string, text: string) => call(() => this.app.Send(id, text));
  reply = (id: string, text: string, replyTo: string) => call(() => this.app.Reply(id, text, replyTo));
  edit = (id: string, msgId: string, text: string) => call(() => this.app.Edit(id, msgId, text));
  deleteMessage = (id: string, msgId: string) => call(() => this.app.Delete(id, msgId));
  react = (id: string, msgId: string, emoji: string) => call(() => this.app.React(id, msgId, emoji));
  olderMessages = (id: string, before: string) => call(async () => fixPage(await this.app.OlderMessages(id, before)));
  newerMessages = (id: string, after: string) => call(async () => fixPage(await this.app.NewerMessages(id, after)));
  messagesAround = (id: string, msgId: string) => call(async () => fixPage(await this.app.MessagesAround(id, msgId)));
  searchMessages = (id: string, query: string, before: string) =>
    call(async () => {
      const r = await this.app.SearchMessages(id, query, before);
      return { matches: r.matches ?? [], next: r.next ?? '' };
    });
  typing = (id: string) => call(() => this.app.Typing(id));
  rename = (id: string, name: string) => call(() => this.app.Rename(id, name));
  clearMessages = (id: string) => call(() => this.app.ClearMessages(id));
  forget = (id: string) => call(() => this.app.Forget(id));
  destroyRoom = (id: string) => call(() => this.app.DestroyRoom(id));
  trustNewKey = (id: string) => call(async () => fixView(await this.app.TrustNewKey(id)));
  copyLink = (id: string) => call(() => this.app.CopyLink(id));
  copyText = (text: string) => call(() => this.app.CopyText(text));
  openURL = (url: string) => call(() => this.app.OpenURL(url));
  pendingLink = () => call(() => this.app.PendingLink());
  confirmLink = (id: number) => call(async () => fixView(await this.app.ConfirmLink(id)));
  cancelLink = (id: number) => call(() => this.app.CancelLink(id));
  pickAndSendFiles = (id: string) => call(async () => (await this.app.PickAndSendFiles(id)) ?? []);
  sendFiles = (id: string, paths: string[]) => call(async () => (await this.app.SendFiles(id, paths)) ?? []);
  cancelTransfer = (roomId: string, id: string) => call(() => this.app.CancelTransfer(roomId, id));
  transfers = (id: string) => call(async () => (await this.app.Transfers(id)) ?? []);
  openFile = (path: string) => call(() => this.app.OpenFile(path));
  showInFolder = (path: string) => call(() => this.app.ShowInFolder(path));
  thumbnail = (roomId: string, id: string) => call(() => this.app.Thumbnail(roomId, id));
  viewImage = (roomId: string, id: string) => call(() => this.app.ViewImage(roomId, id));
  sendPastedImage = (roomId: string, data: string) => call(() => this.app.SendPastedImage(roomId, data));
  getDownloadDir = () => call(async () => (await this.app.GetDownloadDir()) ?? '');
  about = () =>
    call(async () => {
      const a = await this.app.About();
      return { ...a, components: a.components ?? [] };
    });
  answerOffer = (roomId: string, id: string, accept: boolean) => call(() => this.app.AnswerOffer(roomId, id, accept));
  setActiveRoom = (id: string) => call(() => this.app.SetActiveRoom(id));
  startCall = (id: string, video: boolean) => call(() => this.app.StartCall(id, video));
  answerCall = (id: string, accept: boolean, video: boolean) => call(() => this.app.AnswerCall(id, accept, video));
  hangUp = (id: string) => call(() => this.app.HangUp(id));
  setMicMuted = (id: string, muted: boolean) => call(() => this.app.SetMicMuted(id, muted));
  setCamera = (id: string, on: boolean) => call(() => this.app.SetCamera(id, on));
  screenSources = (id: string) => call(async () => (await this.app.ScreenSources(id)) ?? []);
  shareScreen = (id: string, source: string) => call(() => this.app.ShareScreen(id, source));
  stopScreenShare = (id: string) => call(() => this.app.StopScreenShare(id));
  callDevices = () => call(async () => fixDevices(await this.app.CallDevices()));
  setCallDevices = (mic: string, camera: string, speaker: string) => call(() => this.app.SetCallDevices(mic, camera, speaker));
  mediaEndpoint = () => call(() => this.app.MediaEndpoint());

  on<E extends EventName>(name: E, cb: (payload: Events[E]) => void): () => void {
    const off = this.rt.EventsOn(name, (...data: unknown[]) => cb((data[0] ?? {}) as Events[E]));
    return () => {
      if (typeof off === 'function') off();
      else this.rt.EventsOff?.(name);
    };
  }
}

/** Why no backend could be chosen; shown to the person instead of the UI. */
export class NoBackendError extends Error {
  constructor() {
    super(
      'Parley’s backend is not available. Open this page from the Parley app, ' +
        'or add ?fake=1 to the address to try the interface with a simulated peer.',
    );
    this.name = 'NoBackendError';
  }
}

function wailsBackend(w: Window): Api | null {
  const app = w.go?.app?.App;
  const rt = w.runtime;
  return app && rt ? new WailsApi(app, rt) : null;
}

/**
 * Picks the backend: the Wails facade when it is injected; the in-memory
 * fake only when it is absent AND the page asks for it with ?fake=1 (tests,
 * `npm run dev`); otherwise NoBackendError. Wails injects its globals before
 * our module runs, but we wait briefly in case a slow webview is late.
 */
export async function createApi(w: Window = window, waitMs = 1500): Promise<Api> {
  const params = new URLSearchParams(w.location.search);
  const wantFake = params.get('fake') === '1';
  const deadline = Date.now() + (wantFake ? 0 : waitMs);
  for (;;) {
    const api = wailsBackend(w);
    if (api) return api;
    if (Date.now() >= deadline) break;
    await new Promise((r) => setTimeout(r, 50));
  }
  if (wantFake) {
    const { FakeApi, fakeOptionsFromQuery } = await import('./fake-api');
    const fake = new FakeApi(fakeOptionsFromQuery(params));
    // Tests drive the simulated peer through this handle.
    (w as unknown as { __parleyFake?: unknown }).__parleyFake = fake;
    return fake;
  }
  throw new NoBackendError();
}
