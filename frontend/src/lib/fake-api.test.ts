import { afterEach, describe, expect, it, vi } from 'vitest';
import { FakeApi, fakeOptionsFromQuery } from './fake-api';
import { ApiError } from './errors';

let fake: FakeApi;
afterEach(() => fake?.dispose());

describe('FakeApi', () => {
  it('reads its options from the query', () => {
    const o = fakeOptionsFromQuery(new URLSearchParams('fake=1&firstRun=1&peer=auto&seed=1&startup=x'));
    expect(o).toMatchObject({ firstRun: true, autoPeer: true, seed: true, startupLink: 'x' });
  });

  it.each([
    ['empty', ''],
    ['no room path', 'https://s.example/'],
    ['short id', 'https://s.example/r/abc#0123456789abcdef'],
    ['no secret', 'https://s.example/r/AAAAAAAAAAAAAAAAAAAAA'],
    ['other scheme', 'ftp://s.example/r/AAAAAAAAAAAAAAAAAAAAA#0123456789abcdef'],
  ])('rejects a bad link: %s', async (_n, link) => {
    fake = new FakeApi();
    await expect(fake.openRoom(link)).rejects.toMatchObject({ code: 'BAD_LINK' });
  });

  it('joins by link and returns the open room for the same link', async () => {
    fake = new FakeApi();
    const link = fake.newLink();
    const a = await fake.openRoom(link);
    const b = await fake.openRoom(link);
    expect(a.id).toBe(b.id);
    expect(a.status).toBe('connecting');
    expect(await fake.rooms()).toHaveLength(1);
  });

  it('refuses to send while the peer is away, then delivers', async () => {
    vi.useFakeTimers();
    try {
      fake = new FakeApi({ ackDelayMs: 10 });
      const room = await fake.createRoom(0);
      await expect(fake.send(room.id, 'hi')).rejects.toMatchObject({ code: 'PEER_OFFLINE' });
      expect((await fake.room(room.id)).messages).toHaveLength(0);
      const acks: string[] = [];
      fake.on('room:delivered', (p) => acks.push(p.id));
      fake.peerJoins(room.id);
      const m = await fake.send(room.id, 'hi');
      expect(m.state).toBe('sent');
      vi.advanceTimersByTime(10);
      expect(acks).toEqual([m.id]);
      await expect(fake.send(room.id, 'x'.repeat(4001))).rejects.toBeInstanceOf(ApiError);
    } finally {
      vi.useRealTimers();
    }
  });

  it('destroy closes the room for good and says so', async () => {
    fake = new FakeApi();
    const room = await fake.createRoom(0);
    const closed: string[] = [];
    fake.on('room:closed', (p) => closed.push(p.code));
    await fake.destroyRoom(room.id);
    expect(closed).toEqual(['ROOM_DESTROYED']);
    expect(await fake.rooms()).toEqual([]);
  });

  it('needs a server before creating rooms', async () => {
    fake = new FakeApi({ firstRun: true });
    await expect(fake.createRoom(0)).rejects.toMatchObject({ code: 'SERVER_UNREACHABLE' });
    const s = await fake.startLANServer();
    expect(s.firstRun).toBe(false);
    expect(s.server).toBe(s.lanServer);
    const room = await fake.createRoom(600);
    expect(room.expiresAt).not.toBeNull();
  });

  it('refuses a self-destruct timer out of range as BAD_REQUEST, as the Go side does', async () => {
    fake = new FakeApi();
    for (const s of [-1, 604801]) {
      await expect(fake.createRoom(s)).rejects.toMatchObject({ code: 'BAD_REQUEST' });
    }
    expect(await fake.rooms()).toEqual([]);
    expect((await fake.createRoom(604800)).expiresAt).not.toBeNull();
  });

  it('failNext fails exactly once', async () => {
    fake = new FakeApi();
    fake.failNext('rooms', 'TIMEOUT');
    await expect(fake.rooms()).rejects.toMatchObject({ code: 'TIMEOUT' });
    await expect(fake.rooms()).resolves.toEqual([]);
  });

  it('sends picked files once the peer is there, then reports done', async () => {
    vi.useFakeTimers();
    try {
      fake = new FakeApi({ transferRate: 1000, transferTickMs: 100 });
      const room = await fake.createRoom(0);
      const updates: string[] = [];
      fake.on('transfer:update', (p) => updates.push(`${p.transfer.name}:${p.transfer.state}:${p.transfer.bytes}`));
      fake.willPick([{ name: 'a', size: 150 }]);
      const [t] = await fake.pickAndSendFiles(room.id);
      expect(t).toMatchObject({ name: 'a', outgoing: true, state: 'waiting', total: 150 });
      vi.advanceTimersByTime(1000);
      expect(updates).toEqual(['a:waiting:0']);
      fake.peerJoins(room.id);
      vi.advanceTimersByTime(200);
      expect(updates).toEqual(['a:waiting:0', 'a:active:100', 'a:done:150']);
      expect(await fake.pickAndSendFiles(room.id)).toHaveLength(1); // DEFAULT_PICK
      fake.willPick([]);
      expect(await fake.pickAndSendFiles(room.id)).toEqual([]);
    } finally {
      vi.useRealTimers();
    }
  });

  it('offers big incoming files and opens only received ones', async () => {
    vi.useFakeTimers();
    try {
      fake = new FakeApi({ transferTickMs: 10 });
      const room = await fake.createRoom(0);
      fake.peerJoins(room.id);
      const offers: string[] = [];
      fake.on('transfer:offer', (p) => offers.push(p.name));
      const small = fake.peerSendsFile('small.txt', 10, room.id);
      const big = fake.peerSendsFile('big.iso', fake.settings.autoAcceptMaxBytes + 1, room.id);
      expect(offers).toEqual(['big.iso']);
      vi.advanceTimersByTime(10);
      const [s, b] = await fake.transfers(room.id);
      expect(s).toMatchObject({ id: small, state: 'done', path: '/home/you/Downloads/Parley/small.txt' });
      expect(b).toMatchObject({ id: big, state: 'waiting', bytes: 0 });
      await fake.openFile(s!.path);
      expect(fake.openedFiles).toEqual([s!.path]);
      await expect(fake.showInFolder('/etc/passwd')).rejects.toMatchObject({ code: 'INTERNAL' });
      await fake.answerOffer(room.id, big, false);
      expect((await fake.transfers(room.id))[1]?.state).toBe('canceled');
      await expect(fake.answerOffer(room.id, big, true)).rejects.toBeInstanceOf(ApiError);
    } finally {
      vi.useRealTimers();
    }
  });

  it('drops land in the active room and are announced', async () => {
    fake = new FakeApi();
    const room = await fake.createRoom(0);
    const drops: unknown[] = [];
    fake.on('app:file-drop', (p) => drops.push(p));
    await fake.dropFiles(['/a/b.txt']);
    expect(drops).toEqual([]); // home: nowhere to land
    await fake.setActiveRoom(room.id);
    await fake.dropFiles(['/a/b.txt', '/a/c.txt']);
    expect(drops).toEqual([{ roomId: room.id, count: 2 }]);
    expect((await fake.transfers(room.id)).map((t) => [t.name, t.path])).toEqual([
      ['b.txt', '/a/b.txt'],
      ['c.txt', '/a/c.txt'],
    ]);
  });

  it('runs a call like Go: events for every state, one end, NO_CAMERA as a notice', async () => {
    vi.useFakeTimers();
    const f = new FakeApi({ callConnectMs: 50, ringTimeoutMs: 1000 });
    const got: string[] = [];
    f.on('call', (c) => got.push(`${c.state}:${c.error}`));
    const v = await f.createRoom(0);
    await expect(f.startCall(v.id, false)).rejects.toMatchObject({ code: 'PEER_OFFLINE' });
    f.peerJoins(v.id);
    f.devices.cameras = [];
    const c = await f.startCall(v.id, true);
    expect(c).toMatchObject({ state: 'outgoing', video: true, localVideo: false, error: 'NO_CAMERA' });
    await expect(f.startCall(v.id, false)).rejects.toMatchObject({ code: 'CALL_FAILED' });
    f.peerAnswers(true, v.id);
    vi.advanceTimersByTime(50);
    expect(f.callOf(v.id)).toMatchObject({ state: 'active', remoteVideo: true });
    await f.hangUp(v.id);
    expect(got).toEqual(['outgoing:NO_CAMERA', 'connecting:NO_CAMERA', 'active:NO_CAMERA', 'ended:']);
    expect(f.callOf(v.id)).toBeUndefined();
    got.length = 0;
    f.peerCalls(false, v.id);
    vi.advanceTimersByTime(1000);
    expect(got).toEqual(['incoming:', 'ended:NO_ANSWER']);
    await expect(f.answerCall(v.id, true, false)).rejects.toMatchObject({ code: 'INTERNAL' });
    expect(await f.mediaEndpoint()).toEqual({ url: '', token: 'fake-media-token' });
    expect(fakeOptionsFromQuery(new URLSearchParams('media=ws%3A%2F%2Fh%2Fmedia&mediaToken=x'))).toMatchObject({
      mediaUrl: 'ws://h/media',
      mediaToken: 'x',
    });
    f.dispose();
    vi.useRealTimers();
  });
});
