import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import {
  AudioSink,
  HEADER_SIZE,
  JITTER_S,
  Kind,
  MAX_BEHIND_S,
  MediaClient,
  VideoSink,
  encodeFrame,
  mediaURL,
  parseFrame,
  type MediaFrame,
  planes,
  type PictureLike,
  type SamplesLike,
  type SocketLike,
  type VideoDeps,
  type AudioDeps,
} from './media';

const frame = (over: Partial<MediaFrame> = {}): MediaFrame => ({
  kind: Kind.RemoteVideo,
  keyframe: false,
  timestampUs: 0,
  width: 640,
  height: 480,
  data: new Uint8Array([1, 2, 3]),
  ...over,
});

const buf = (f: MediaFrame): ArrayBuffer => {
  const b = encodeFrame(f);
  return b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength) as ArrayBuffer;
};

describe('parseFrame', () => {
  it('reads the header Go writes', () => {
    // kind 2, keyframe, ts 0x0102030405060708 µs is too big for a double: use 2^40 + 5.
    const b = new Uint8Array([2, 1, 0, 0, 1, 0, 0, 0, 0, 5, 0x05, 0x00, 0x02, 0xd0, 9, 8]);
    const f = parseFrame(b.buffer)!;
    expect(f).toMatchObject({ kind: 2, keyframe: true, timestampUs: 2 ** 40 + 5, width: 1280, height: 720 });
    expect(Array.from(f.data)).toEqual([9, 8]);
  });

  it('round-trips encodeFrame', () => {
    const f = frame({ kind: Kind.RemoteAudio, keyframe: true, timestampUs: 123_456_789, width: 0, height: 0 });
    const got = parseFrame(buf(f))!;
    expect({ ...got, data: Array.from(got.data) }).toEqual({ ...f, data: [1, 2, 3] });
  });

  it.each([
    ['too short', new Uint8Array(HEADER_SIZE - 1)],
    ['unknown kind 0', new Uint8Array(HEADER_SIZE)],
    ['unknown kind 6', Uint8Array.from({ length: HEADER_SIZE + 2 }, (_, i) => (i === 0 ? 6 : 0))],
  ])('rejects %s', (_n, b) => {
    expect(parseFrame(b.buffer as ArrayBuffer)).toBeNull();
  });

  it('ignores flag bits other than keyframe', () => {
    const b = encodeFrame(frame());
    b[1] = 0xfe;
    expect(parseFrame(b.buffer as ArrayBuffer)!.keyframe).toBe(false);
  });
});

/** A VideoDecoder stand-in: decodes synchronously into pictures of the frame's size, or fails. */
function fakeVideo() {
  const state = { decoders: 0, decoded: [] as string[], failNext: false, queue: 0, drawn: 0 };
  let size = { w: 640, h: 480 };
  const deps: VideoDeps = {
    createDecoder(output, error) {
      state.decoders++;
      const d = {
        state: 'unconfigured',
        get decodeQueueSize() {
          return state.queue;
        },
        configure(c: VideoDecoderConfig) {
          expect(c.codec).toBe('vp8');
          d.state = 'configured';
        },
        decode(chunk: EncodedVideoChunk) {
          if (state.failNext) {
            state.failNext = false;
            d.state = 'closed';
            error(new Error('bad frame'));
            return;
          }
          state.decoded.push(chunk.type);
          const p: PictureLike = { displayWidth: size.w, displayHeight: size.h, close: vi.fn() };
          output(p);
        },
        close() {
          d.state = 'closed';
        },
      };
      return d;
    },
    createChunk: (init) => ({ type: init.type, timestamp: init.timestamp }) as unknown as EncodedVideoChunk,
    draw: () => {
      state.drawn++;
    },
  };
  return { deps, state, setSize: (w: number, h: number) => (size = { w, h }) };
}

describe('VideoSink', () => {
  it('waits for a keyframe, then decodes and draws at the video size', () => {
    const v = fakeVideo();
    const sink = new VideoSink(v.deps);
    const canvas = document.createElement('canvas');
    sink.attach(canvas);
    const sizes: [number, number][] = [];
    sink.onsize = (w, h) => sizes.push([w, h]);
    sink.push(frame());
    expect(sink.dropped).toBe(1);
    expect(v.state.decoders).toBe(0);
    sink.push(frame({ keyframe: true }));
    sink.push(frame());
    expect(v.state.decoded).toEqual(['key', 'delta']);
    expect(sink.frames).toBe(2);
    expect(v.state.drawn).toBe(2);
    expect([canvas.width, canvas.height]).toEqual([640, 480]);
    expect(sizes).toEqual([[640, 480]]);
    v.setSize(320, 180);
    sink.push(frame());
    expect([canvas.width, canvas.height]).toEqual([320, 180]);
  });

  it('moves to another canvas at its size, and handing back the same canvas keeps its picture', () => {
    const v = fakeVideo();
    const sink = new VideoSink(v.deps);
    sink.push(frame({ keyframe: true }));
    const tile = document.createElement('canvas');
    sink.attach(tile);
    expect([tile.width, tile.height]).toEqual([640, 480]);
    // Setting a canvas's size clears it, even to the same size.
    let resized = 0;
    const w = Object.getOwnPropertyDescriptor(HTMLCanvasElement.prototype, 'width')!;
    Object.defineProperty(tile, 'width', { get: () => w.get!.call(tile), set: (x: number) => (resized++, w.set!.call(tile, x)) });
    sink.attach(null);
    sink.attach(tile);
    expect(resized).toBe(0);
  });

  it('after a decoder error starts over at the next keyframe with a new decoder', () => {
    const v = fakeVideo();
    const sink = new VideoSink(v.deps);
    sink.push(frame({ keyframe: true }));
    v.state.failNext = true;
    sink.push(frame());
    expect(sink.errors).toBe(1);
    sink.push(frame());
    expect(sink.dropped).toBe(1);
    sink.push(frame({ keyframe: true }));
    expect(v.state.decoders).toBe(2);
    expect(sink.frames).toBe(2);
  });

  it('skips to the next keyframe when the decoder falls behind', () => {
    const v = fakeVideo();
    const sink = new VideoSink(v.deps);
    sink.push(frame({ keyframe: true }));
    v.state.queue = 10;
    sink.push(frame());
    sink.push(frame());
    expect(sink.dropped).toBe(2);
    v.state.queue = 0;
    sink.push(frame());
    expect(sink.dropped).toBe(3);
    sink.push(frame({ keyframe: true }));
    expect(v.state.decoded).toEqual(['key', 'key']);
  });

  it('decodes without a canvas and sizes a canvas attached later', () => {
    const v = fakeVideo();
    const sink = new VideoSink(v.deps);
    sink.push(frame({ keyframe: true }));
    expect(v.state.drawn).toBe(0);
    const canvas = document.createElement('canvas');
    sink.attach(canvas);
    expect([canvas.width, canvas.height]).toEqual([640, 480]);
  });
});

/** Just enough AudioContext to see what is scheduled when. */
function fakeContext(state = 'running') {
  const starts: number[] = [];
  const ctx = {
    state,
    currentTime: 10,
    destination: {},
    createBuffer: (ch: number, n: number, rate: number) => ({
      duration: n / rate,
      numberOfChannels: ch,
      copyToChannel: vi.fn(),
    }),
    createGain() {
      const g = { context: ctx, connect: vi.fn(), disconnect: vi.fn() };
      return g;
    },
    createBufferSource: () => ({ buffer: null, connect: vi.fn(), start: (t: number) => starts.push(t) }),
  };
  return { ctx: ctx as unknown as AudioContext & { currentTime: number }, starts };
}

function fakeAudio() {
  let out: ((s: SamplesLike) => void) | null = null;
  const configs: AudioDecoderConfig[] = [];
  const deps: AudioDeps = {
    createDecoder(output) {
      out = output;
      const d = {
        state: 'unconfigured',
        configure(c: AudioDecoderConfig) {
          configs.push(c);
          d.state = 'configured';
        },
        decode() {
          out?.({
            numberOfFrames: 960,
            numberOfChannels: 1,
            sampleRate: 48_000,
            copyTo: vi.fn(),
            close: vi.fn(),
          });
        },
        close() {
          d.state = 'closed';
        },
      };
      return d;
    },
    createChunk: (init) => init as unknown as EncodedAudioChunk,
  };
  return { deps, configs };
}

describe('planes', () => {
  const samples = (format: string, data: number[], ch: number): SamplesLike => ({
    numberOfFrames: data.length / ch,
    numberOfChannels: ch,
    sampleRate: 48_000,
    format,
    copyTo(dest, opts) {
      // Like WebKit's: no format conversion is ever asked for.
      expect(opts).toEqual({ planeIndex: opts.planeIndex });
      if (!format.endsWith('-planar')) dest.set(data);
      else dest.set(data.slice(opts.planeIndex * (data.length / ch), (opts.planeIndex + 1) * (data.length / ch)));
    },
    close: vi.fn(),
  });

  it('splits interleaved stereo without asking the browser to convert', () => {
    expect(planes(samples('f32', [1, 2, 3, 4, 5, 6], 2)).map((p) => Array.from(p))).toEqual([
      [1, 3, 5],
      [2, 4, 6],
    ]);
  });

  it('reads planar samples plane by plane', () => {
    expect(planes(samples('f32-planar', [1, 2, 3, 4], 2)).map((p) => Array.from(p))).toEqual([
      [1, 2],
      [3, 4],
    ]);
  });

  it('converts 16-bit samples itself, interleaved and planar', () => {
    expect(planes(samples('s16', [16384, -32768, 0, 8192], 2)).map((p) => Array.from(p))).toEqual([
      [0.5, 0],
      [-1, 0.25],
    ]);
    expect(planes(samples('s16-planar', [16384, -16384], 1)).map((p) => Array.from(p))).toEqual([[0.5, -0.5]]);
  });
});

describe('AudioSink', () => {
  const audioFrame = () => frame({ kind: Kind.RemoteAudio, width: 0, height: 0 });

  it('plays Opus 48 kHz packets back to back, JITTER_S behind', () => {
    const { ctx, starts } = fakeContext();
    const a = fakeAudio();
    const sink = new AudioSink(() => ctx, a.deps);
    sink.push(audioFrame());
    sink.push(audioFrame());
    expect(a.configs).toEqual([{ codec: 'opus', sampleRate: 48_000, numberOfChannels: 1 }]);
    expect(starts[0]).toBeCloseTo(10 + JITTER_S);
    expect(starts[1]).toBeCloseTo(10 + JITTER_S + 0.02);
    expect(sink.played).toBe(2);
  });

  it('never queues more than MAX_BEHIND_S: late sound is dropped', () => {
    const { ctx, starts } = fakeContext();
    const sink = new AudioSink(() => ctx, fakeAudio().deps);
    for (let i = 0; i < 10; i++) sink.push(audioFrame());
    const last = starts[starts.length - 1]!;
    expect(last - ctx.currentTime).toBeLessThanOrEqual(MAX_BEHIND_S + 1e-9);
    expect(sink.dropped).toBeGreaterThan(0);
    expect(sink.played + sink.dropped).toBe(10);
  });

  it('re-buffers after an underrun', () => {
    const { ctx, starts } = fakeContext();
    const sink = new AudioSink(() => ctx, fakeAudio().deps);
    sink.push(audioFrame());
    ctx.currentTime = 20;
    sink.push(audioFrame());
    expect(starts[1]).toBeCloseTo(20 + JITTER_S);
  });

  it('decodes but does not schedule while audio is locked', () => {
    const { ctx, starts } = fakeContext('suspended');
    const sink = new AudioSink(() => ctx, fakeAudio().deps);
    sink.push(audioFrame());
    expect(sink.decoded).toBe(1);
    expect(starts).toEqual([]);
  });
});

class FakeSocket implements SocketLike {
  binaryType = 'blob';
  onmessage: ((e: { data: unknown }) => void) | null = null;
  onclose: ((e: unknown) => void) | null = null;
  onopen: ((e: unknown) => void) | null = null;
  closed = false;
  constructor(readonly url: string) {}
  close() {
    this.closed = true;
  }
}

describe('MediaClient', () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  it('builds the URL with token and room', () => {
    expect(mediaURL({ url: 'ws://127.0.0.1:9/media', token: 'a b' }, 'r/1')).toBe('ws://127.0.0.1:9/media?token=a%20b&room=r%2F1');
  });

  function client() {
    const sockets: FakeSocket[] = [];
    const v = fakeVideo();
    const endpoint = vi.fn().mockResolvedValue({ url: 'ws://127.0.0.1:9/media', token: 't' });
    const c = new MediaClient('room1', {
      endpoint,
      audioContext: () => null,
      socket: (u) => {
        const s = new FakeSocket(u);
        sockets.push(s);
        return s;
      },
      video: v.deps,
      audio: fakeAudio().deps,
      retryMs: 100,
    });
    return { c, sockets, endpoint, v };
  }

  it('routes frames by kind and ignores text', async () => {
    const { c, sockets } = client();
    await c.open();
    const s = sockets[0]!;
    expect(s.url).toBe('ws://127.0.0.1:9/media?token=t&room=room1');
    expect(s.binaryType).toBe('arraybuffer');
    s.onopen?.({});
    expect(c.connected).toBe(true);
    s.onmessage?.({ data: buf(frame({ keyframe: true })) });
    s.onmessage?.({ data: buf(frame({ kind: Kind.LocalPreview, keyframe: true })) });
    s.onmessage?.({ data: buf(frame({ kind: Kind.RemoteAudio })) });
    s.onmessage?.({ data: buf(frame({ kind: Kind.RemoteScreen, keyframe: true })) });
    s.onmessage?.({ data: buf(frame({ kind: Kind.RemoteScreen, keyframe: false })) });
    s.onmessage?.({ data: buf(frame({ kind: Kind.LocalCamera, keyframe: true })) });
    s.onmessage?.({ data: '{"stats":1}' });
    expect([c.remote.frames, c.screen.frames, c.local.frames, c.localCamera.frames, c.audio.packets]).toEqual([1, 2, 1, 1, 1]);
  });

  it('reconnects with a fresh endpoint until closed', async () => {
    const { c, sockets, endpoint } = client();
    await c.open();
    sockets[0]!.onclose?.({});
    expect(c.connected).toBe(false);
    await vi.advanceTimersByTimeAsync(100);
    expect(sockets).toHaveLength(2);
    expect(endpoint).toHaveBeenCalledTimes(2);
    c.close();
    expect(sockets[1]!.closed).toBe(true);
    sockets[1]!.onclose?.({});
    await vi.advanceTimersByTimeAsync(5000);
    expect(sockets).toHaveLength(2);
  });

  it('does not connect when Go has no endpoint', async () => {
    const { c, sockets, endpoint } = client();
    endpoint.mockResolvedValueOnce({ url: '', token: '' });
    await c.open();
    expect(sockets).toHaveLength(0);
  });
});
