// A call's media in the webview. The webview has no WebRTC: pion runs the
// call in Go and streams the encoded frames over a token-protected loopback
// WebSocket (docs/app-api.md, "Calls"). Here they are parsed, decoded with
// WebCodecs and shown: video drawn on a canvas, audio scheduled into an
// AudioContext with a small jitter buffer. No Svelte, no DOM queries: the
// components hand in canvases, tests hand in fake decoders and sockets.

import type { MediaEndpoint } from '../types';

/**
 * What a frame carries (byte 0 on the wire). RemoteVideo is the peer's
 * camera (a small tile while they share their screen), RemoteScreen their
 * shared screen; LocalPreview our screen while we share, else our camera;
 * LocalCamera our camera while we share.
 */
export const Kind = { RemoteVideo: 1, LocalPreview: 2, RemoteAudio: 3, RemoteScreen: 4, LocalCamera: 5 } as const;
export type Kind = (typeof Kind)[keyof typeof Kind];

export const HEADER_SIZE = 14;

/** One encoded VP8 frame or Opus packet. */
export interface MediaFrame {
  kind: Kind;
  keyframe: boolean;
  /** Microseconds. */
  timestampUs: number;
  /** 0 for audio. */
  width: number;
  height: number;
  data: Uint8Array;
}

/** Parses one binary message; null when it is not a frame we know. */
export function parseFrame(buf: ArrayBuffer): MediaFrame | null {
  if (buf.byteLength < HEADER_SIZE) return null;
  const v = new DataView(buf);
  const kind = v.getUint8(0) as Kind;
  if (kind < Kind.RemoteVideo || kind > Kind.LocalCamera) return null;
  return {
    kind,
    keyframe: (v.getUint8(1) & 1) === 1,
    timestampUs: Number(v.getBigUint64(2)),
    width: v.getUint16(10),
    height: v.getUint16(12),
    data: new Uint8Array(buf, HEADER_SIZE),
  };
}

/** The wire form of a frame (what Go's mediahub sends); used by tests and the fake. */
export function encodeFrame(f: MediaFrame): Uint8Array {
  const out = new Uint8Array(HEADER_SIZE + f.data.byteLength);
  const v = new DataView(out.buffer);
  v.setUint8(0, f.kind);
  v.setUint8(1, f.keyframe ? 1 : 0);
  v.setBigUint64(2, BigInt(Math.max(0, Math.floor(f.timestampUs))));
  v.setUint16(10, f.width);
  v.setUint16(12, f.height);
  out.set(f.data, HEADER_SIZE);
  return out;
}

// ---- video -------------------------------------------------------------

/** The part of WebCodecs' VideoDecoder we use. */
export interface VideoDecoderLike {
  readonly state: string;
  readonly decodeQueueSize: number;
  configure(c: VideoDecoderConfig): void;
  decode(chunk: EncodedVideoChunk): void;
  close(): void;
}

/** A decoded picture: a VideoFrame in the browser. */
export interface PictureLike {
  readonly displayWidth: number;
  readonly displayHeight: number;
  close(): void;
}

export interface VideoDeps {
  createDecoder(output: (p: PictureLike) => void, error: (e: Error) => void): VideoDecoderLike;
  createChunk(init: EncodedVideoChunkInit): EncodedVideoChunk;
  /** Draws a picture on the canvas, already sized to it. */
  draw(canvas: HTMLCanvasElement, p: PictureLike): void;
}

export function browserVideoDeps(): VideoDeps {
  return {
    createDecoder: (output, error) => new VideoDecoder({ output: output as (f: VideoFrame) => void, error }),
    createChunk: (init) => new EncodedVideoChunk(init),
    draw: (canvas, p) => canvas.getContext('2d')?.drawImage(p as VideoFrame, 0, 0, canvas.width, canvas.height),
  };
}

/** More frames than this waiting in the decoder: we are behind, skip deltas. */
const MAX_DECODE_QUEUE = 4;

/**
 * Decodes one VP8 stream and draws it on a canvas. The canvas takes the
 * video's size; CSS (object-fit: contain) scales it with the window. Starts
 * at a keyframe; after a decoder error it starts over at the next one.
 */
export class VideoSink {
  /** Pictures decoded (drawn when a canvas is attached). */
  frames = 0;
  /** Frames skipped while waiting for a keyframe or catching up. */
  dropped = 0;
  errors = 0;
  width = 0;
  height = 0;
  /** Called when the video's size changes (and on the first picture). */
  onsize: ((w: number, h: number) => void) | null = null;

  private dec: VideoDecoderLike | null = null;
  private needKey = true;
  private canvas: HTMLCanvasElement | null = null;

  constructor(private readonly deps: VideoDeps = browserVideoDeps()) {}

  attach(canvas: HTMLCanvasElement | null): void {
    this.canvas = canvas;
    // Only when the size differs: setting it clears the picture (the
    // stage's canvases are handed over again whenever the layout changes).
    if (canvas && this.width && this.height && (canvas.width !== this.width || canvas.height !== this.height)) {
      canvas.width = this.width;
      canvas.height = this.height;
    }
  }

  push(f: MediaFrame): void {
    if (this.needKey && !f.keyframe) {
      this.dropped++;
      return;
    }
    if (!f.keyframe && this.dec && this.dec.decodeQueueSize > MAX_DECODE_QUEUE) {
      // Too far behind: drop until the next keyframe rather than lag.
      this.needKey = true;
      this.dropped++;
      return;
    }
    try {
      const dec = this.decoder();
      // Before decode: an error reported during it must win.
      this.needKey = false;
      dec.decode(this.deps.createChunk({ type: f.keyframe ? 'key' : 'delta', timestamp: f.timestampUs, data: f.data }));
    } catch (e) {
      this.fail(e);
    }
  }

  /** Forgets the stream (the other side turned its camera off, the call ended). */
  reset(): void {
    this.closeDecoder();
    this.needKey = true;
  }

  close(): void {
    this.reset();
    this.canvas = null;
  }

  private decoder(): VideoDecoderLike {
    if (this.dec && this.dec.state === 'configured') return this.dec;
    this.closeDecoder();
    const dec = this.deps.createDecoder(
      (p) => this.output(p),
      (e) => this.fail(e),
    );
    dec.configure({ codec: 'vp8', optimizeForLatency: true });
    this.dec = dec;
    return dec;
  }

  private output(p: PictureLike): void {
    try {
      const w = p.displayWidth;
      const h = p.displayHeight;
      if (w !== this.width || h !== this.height) {
        this.width = w;
        this.height = h;
        this.onsize?.(w, h);
      }
      const c = this.canvas;
      if (c) {
        if (c.width !== w || c.height !== h) {
          c.width = w;
          c.height = h;
        }
        this.deps.draw(c, p);
      }
      this.frames++;
    } finally {
      p.close();
    }
  }

  private fail(_e: unknown): void {
    this.errors++;
    this.reset();
  }

  private closeDecoder(): void {
    const d = this.dec;
    this.dec = null;
    if (d && d.state !== 'closed') {
      try {
        d.close();
      } catch {
        // Already closed by its own error.
      }
    }
  }
}

// ---- audio -------------------------------------------------------------

/** The part of WebCodecs' AudioDecoder we use. */
export interface AudioDecoderLike {
  readonly state: string;
  configure(c: AudioDecoderConfig): void;
  decode(chunk: EncodedAudioChunk): void;
  close(): void;
}

/** Decoded samples: an AudioData in the browser. */
export interface SamplesLike {
  readonly numberOfFrames: number;
  readonly numberOfChannels: number;
  readonly sampleRate: number;
  /** 'f32' or 's16' (interleaved) or their '-planar' forms. */
  readonly format?: string | null;
  copyTo(dest: Float32Array | Int16Array | Int32Array | Uint8Array, opts: { planeIndex: number }): void;
  close(): void;
}

/** Scales one sample of each integer format to [-1, 1). */
const SCALE: Record<string, number> = { s16: 1 / 32768, s32: 1 / 2147483648, u8: 1 / 128 };

/**
 * Copies samples into one Float32Array per channel, whatever their layout.
 * It always copies in the data's own format and converts here: WebKitGTK
 * 2.50 corrupts its heap (the page's process dies) when AudioData.copyTo
 * is asked to convert (measured with its Opus decoder's output).
 */
export function planes(s: SamplesLike): Float32Array<ArrayBuffer>[] {
  const n = s.numberOfFrames;
  const ch = s.numberOfChannels;
  const fmt = s.format ?? 'f32';
  const planar = fmt.endsWith('-planar');
  const base = planar ? fmt.slice(0, -'-planar'.length) : fmt;
  const alloc = (len: number) =>
    base === 's16' ? new Int16Array(len) : base === 's32' ? new Int32Array(len) : base === 'u8' ? new Uint8Array(len) : new Float32Array(len);
  const toFloat = (v: number) => (base === 'u8' ? (v - 128) * SCALE.u8! : base in SCALE ? v * SCALE[base]! : v);
  if (!planar) {
    const all = alloc(n * ch);
    s.copyTo(all, { planeIndex: 0 });
    return Array.from({ length: ch }, (_, c) => {
      const p = new Float32Array(n);
      for (let i = 0; i < n; i++) p[i] = toFloat(all[i * ch + c]!);
      return p;
    });
  }
  return Array.from({ length: ch }, (_, c) => {
    const raw = alloc(n);
    s.copyTo(raw, { planeIndex: c });
    if (raw instanceof Float32Array) return raw;
    const p = new Float32Array(n);
    for (let i = 0; i < n; i++) p[i] = toFloat(raw[i]!);
    return p;
  });
}

export interface AudioDeps {
  createDecoder(output: (s: SamplesLike) => void, error: (e: Error) => void): AudioDecoderLike;
  createChunk(init: EncodedAudioChunkInit): EncodedAudioChunk;
}

export function browserAudioDeps(): AudioDeps {
  return {
    createDecoder: (output, error) =>
      new AudioDecoder({ output: output as unknown as (d: AudioData) => void, error }),
    createChunk: (init) => new EncodedAudioChunk(init),
  };
}

/** Sound is played this far behind its arrival, to absorb jitter. */
export const JITTER_S = 0.04;
/** Never further behind than this: older sound is dropped, not queued. */
export const MAX_BEHIND_S = 0.06;

/**
 * Decodes Opus (48 kHz) and plays it: each packet becomes an
 * AudioBufferSourceNode scheduled right after the previous one, JITTER_S
 * behind real time; an underrun re-buffers, a backlog drops packets.
 */
export class AudioSink {
  packets = 0;
  /** Packets decoded to samples. */
  decoded = 0;
  /** Packets scheduled to play (needs a running AudioContext). */
  played = 0;
  dropped = 0;
  errors = 0;

  private dec: AudioDecoderLike | null = null;
  private playAt = 0;
  private out: GainNode | null = null;

  constructor(
    private readonly context: () => AudioContext | null,
    private readonly deps: AudioDeps = browserAudioDeps(),
    private readonly channels = 1,
  ) {}

  push(f: MediaFrame): void {
    this.packets++;
    try {
      this.decoder().decode(this.deps.createChunk({ type: 'key', timestamp: f.timestampUs, data: f.data }));
    } catch {
      this.fail();
    }
  }

  close(): void {
    const d = this.dec;
    this.dec = null;
    if (d && d.state !== 'closed') {
      try {
        d.close();
      } catch {
        // Already closed.
      }
    }
    this.out?.disconnect();
    this.out = null;
    this.playAt = 0;
  }

  private decoder(): AudioDecoderLike {
    if (this.dec && this.dec.state === 'configured') return this.dec;
    const dec = this.deps.createDecoder(
      (s) => this.output(s),
      () => this.fail(),
    );
    dec.configure({ codec: 'opus', sampleRate: 48_000, numberOfChannels: this.channels });
    this.dec = dec;
    return dec;
  }

  private output(s: SamplesLike): void {
    this.decoded++;
    try {
      const ctx = this.context();
      if (!ctx || ctx.state !== 'running' || s.numberOfFrames === 0) {
        this.dropped++;
        return;
      }
      const buf = ctx.createBuffer(s.numberOfChannels, s.numberOfFrames, s.sampleRate);
      planes(s).forEach((p, c) => buf.copyToChannel(p, c));
      const now = ctx.currentTime;
      if (this.playAt < now) this.playAt = now + JITTER_S;
      else if (this.playAt - now > MAX_BEHIND_S) {
        this.dropped++;
        return;
      }
      if (!this.out || this.out.context !== ctx) {
        this.out = ctx.createGain();
        this.out.connect(ctx.destination);
      }
      const src = ctx.createBufferSource();
      src.buffer = buf;
      src.connect(this.out);
      src.start(this.playAt);
      this.playAt += buf.duration;
      this.played++;
    } finally {
      s.close();
    }
  }

  private fail(): void {
    this.errors++;
    const d = this.dec;
    this.dec = null;
    try {
      d?.close();
    } catch {
      // Closed by its error.
    }
  }
}

// ---- the connection ----------------------------------------------------

/** The part of WebSocket we use. */
export interface SocketLike {
  binaryType: string;
  onmessage: ((e: { data: unknown }) => void) | null;
  onclose: ((e: unknown) => void) | null;
  onopen: ((e: unknown) => void) | null;
  close(): void;
}

export interface MediaClientOptions {
  endpoint: () => Promise<MediaEndpoint>;
  audioContext: () => AudioContext | null;
  socket?: (url: string) => SocketLike;
  video?: VideoDeps;
  audio?: AudioDeps;
  /** First reconnect delay; doubles up to 2 s. */
  retryMs?: number;
}

/** The media WebSocket URL for a room. */
export function mediaURL(ep: MediaEndpoint, roomId: string): string {
  const sep = ep.url.includes('?') ? '&' : '?';
  return `${ep.url}${sep}token=${encodeURIComponent(ep.token)}&room=${encodeURIComponent(roomId)}`;
}

/**
 * One call's media connection: routes each frame to the peer's camera, the
 * peer's screen, our preview, our camera tile or the audio sink, and
 * reconnects (asking Go again for the endpoint) until closed. Text
 * messages (stats) are ignored.
 */
export class MediaClient {
  /** The peer's camera. */
  readonly remote: VideoSink;
  /** The peer's shared screen. */
  readonly screen: VideoSink;
  /** Our screen while we share, else our camera. */
  readonly local: VideoSink;
  /** Our camera while we share our screen. */
  readonly localCamera: VideoSink;
  readonly audio: AudioSink;
  connected = false;
  /** Set when WebCodecs is missing: the call still has sound from Go, or none. */
  unsupported = false;
  onchange: (() => void) | null = null;

  private ws: SocketLike | null = null;
  private closed = false;
  private retry: ReturnType<typeof setTimeout> | null = null;
  private delay: number;

  constructor(
    private readonly roomId: string,
    private readonly opts: MediaClientOptions,
  ) {
    this.remote = new VideoSink(opts.video);
    this.screen = new VideoSink(opts.video);
    this.local = new VideoSink(opts.video);
    this.localCamera = new VideoSink(opts.video);
    this.audio = new AudioSink(opts.audioContext, opts.audio);
    this.delay = opts.retryMs ?? 250;
  }

  async open(): Promise<void> {
    if (this.closed) return;
    let ep: MediaEndpoint;
    try {
      ep = await this.opts.endpoint();
    } catch {
      this.again();
      return;
    }
    if (this.closed || !ep.url) return;
    const make = this.opts.socket ?? ((u: string) => new WebSocket(u) as unknown as SocketLike);
    let ws: SocketLike;
    try {
      ws = make(mediaURL(ep, this.roomId));
    } catch {
      this.again();
      return;
    }
    ws.binaryType = 'arraybuffer';
    ws.onopen = () => {
      this.connected = true;
      this.delay = this.opts.retryMs ?? 250;
      this.onchange?.();
    };
    ws.onmessage = (e) => {
      if (e.data instanceof ArrayBuffer) this.route(e.data);
    };
    ws.onclose = () => {
      if (this.ws !== ws) return;
      this.ws = null;
      this.connected = false;
      this.onchange?.();
      this.again();
    };
    this.ws = ws;
  }

  /** Handles one binary message (exposed for tests). */
  route(buf: ArrayBuffer): void {
    const f = parseFrame(buf);
    if (!f) return;
    if (f.kind === Kind.RemoteVideo) this.remote.push(f);
    else if (f.kind === Kind.RemoteScreen) this.screen.push(f);
    else if (f.kind === Kind.LocalPreview) this.local.push(f);
    else if (f.kind === Kind.LocalCamera) this.localCamera.push(f);
    else this.audio.push(f);
  }

  close(): void {
    this.closed = true;
    if (this.retry) clearTimeout(this.retry);
    this.retry = null;
    const ws = this.ws;
    this.ws = null;
    this.connected = false;
    try {
      ws?.close();
    } catch {
      // Never opened.
    }
    this.remote.close();
    this.screen.close();
    this.local.close();
    this.localCamera.close();
    this.audio.close();
  }

  private again(): void {
    if (this.closed || this.retry) return;
    this.retry = setTimeout(() => {
      this.retry = null;
      void this.open();
    }, this.delay);
    this.delay = Math.min(this.delay * 2, 2000);
  }
}

/** WebCodecs is there (Chromium, WebKitGTK 2.50); jsdom has none. */
export function webCodecsAvailable(): boolean {
  return typeof VideoDecoder !== 'undefined' && typeof AudioDecoder !== 'undefined';
}
