import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { FakeApi, FAKE_DOWNLOAD_DIR } from '../fake-api';
import { DROP_HINT_MS, KEEP_FINISHED, TransfersStore } from './transfers.svelte';

let fake: FakeApi;
let store: TransfersStore;
let clock: number;

beforeEach(() => {
  vi.useFakeTimers();
  clock = 1_000;
  fake = new FakeApi({ transferRate: 1_000_000, transferTickMs: 100 });
  store = new TransfersStore(fake, () => clock);
  store.start();
});
afterEach(() => {
  store.stop();
  fake.dispose();
  vi.useRealTimers();
});

async function connectedRoom(): Promise<string> {
  const v = await fake.createRoom(0);
  fake.peerJoins(v.id);
  return v.id;
}

const states = (roomId: string) => store.forRoom(roomId).map((e) => e.t.state);

describe('TransfersStore', () => {
  it('learns the download folder on start', async () => {
    await vi.waitFor(() => expect(store.downloadDir).toBe(FAKE_DOWNLOAD_DIR));
  });

  it('picks files, then follows them to done', async () => {
    const id = await connectedRoom();
    fake.willPick([
      { name: 'a.pdf', size: 250_000 },
      { name: 'b.pdf', size: 150_000 },
    ]);
    expect(await store.pick(id)).toBe(2);
    expect(store.picking).toBe(false);
    expect(store.forRoom(id).map((e) => e.t.name)).toEqual(['a.pdf', 'b.pdf']);
    expect(store.running(id)).toBe(2);
    vi.advanceTimersByTime(100);
    const a = store.forRoom(id)[0]!.t;
    expect(a).toMatchObject({ state: 'active', bytes: 100_000, rate: 1_000_000 });
    expect(a.etaSeconds).toBeCloseTo(0.15);
    vi.advanceTimersByTime(300);
    expect(states(id)).toEqual(['done', 'done']);
    expect(store.running(id)).toBe(0);
  });

  it('forgets the oldest finished cards when a peer floods offers', async () => {
    const id = await connectedRoom();
    const live = fake.peerSendsFile('big.iso', 1 << 30, id);
    const offers = 2 * KEEP_FINISHED;
    const ids: string[] = [];
    for (let i = 0; i < offers; i++) {
      const t = fake.peerSendsFile(`f${i}.bin`, 1 << 30, id);
      fake.failTransfer(t, 'CANCELED', 'the sender canceled');
      ids.push(t);
    }
    const list = store.forRoom(id);
    expect(list.length).toBeLessThanOrEqual(KEEP_FINISHED + KEEP_FINISHED / 4 + 1);
    expect(list[0]!.t.id).toBe(live);
    expect(list.at(-1)!.t.id).toBe(ids.at(-1));
    expect(list.some((e) => e.t.id === ids[0])).toBe(false);
  });

  it('returns 0 when the dialog is canceled', async () => {
    const id = await connectedRoom();
    fake.willPick([]);
    expect(await store.pick(id)).toBe(0);
    expect(store.forRoom(id)).toEqual([]);
  });

  it('lets a failing pick throw for the caller to explain', async () => {
    const id = await connectedRoom();
    fake.failNext('pickAndSendFiles', 'PEER_OFFLINE');
    await expect(store.pick(id)).rejects.toMatchObject({ code: 'PEER_OFFLINE' });
    expect(store.picking).toBe(false);
  });

  it('keeps a transfer waiting while the peer is away', async () => {
    const v = await fake.createRoom(0);
    fake.willPick([{ name: 'a.pdf', size: 300_000 }]);
    await store.pick(v.id);
    vi.advanceTimersByTime(500);
    expect(states(v.id)).toEqual(['waiting']);
    fake.peerJoins(v.id);
    vi.advanceTimersByTime(100);
    expect(states(v.id)).toEqual(['active']);
    fake.peerLeaves(v.id);
    vi.advanceTimersByTime(100);
    expect(states(v.id)).toEqual(['waiting']);
  });

  it('cancels and shows failures', async () => {
    const id = await connectedRoom();
    fake.willPick([{ name: 'big.iso', size: 50_000_000 }]);
    await store.pick(id);
    await store.cancel(store.forRoom(id)[0]!.t);
    expect(states(id)).toEqual(['canceled']);
    const got = fake.peerSendsFile('x.bin', 40_000_000, id);
    fake.failTransfer(got);
    const failed = store.forRoom(id)[1]!.t;
    expect(failed).toMatchObject({ state: 'failed', outgoing: false, error: 'TRANSFER_FAILED: SHA-256 mismatch' });
  });

  it('opens received files and their folder through the backend', async () => {
    const id = await connectedRoom();
    fake.peerSendsFile('photo.jpg', 100_000, id);
    vi.advanceTimersByTime(100);
    const t = store.forRoom(id)[0]!.t;
    expect(t).toMatchObject({ state: 'done', path: `${FAKE_DOWNLOAD_DIR}/photo.jpg` });
    await store.open(t);
    await store.showInFolder(t);
    expect(fake.openedFiles).toEqual([t.path]);
    expect(fake.shownInFolder).toEqual([t.path]);
  });

  it('queues big offers and answers them in order', async () => {
    const id = await connectedRoom();
    const a = fake.peerSendsFile('one.mov', 300_000_000, id);
    const b = fake.peerSendsFile('two.mov', 400_000_000, id);
    expect(store.offers.map((o) => o.id)).toEqual([a, b]);
    expect(store.offer).toMatchObject({ id: a, name: 'one.mov', size: 300_000_000, roomId: id });
    await store.answer(false);
    expect(store.offer?.id).toBe(b);
    await store.answer(true);
    expect(store.offer).toBeNull();
    expect(fake.answers).toEqual([
      [a, false],
      [b, true],
    ]);
    vi.advanceTimersByTime(100);
    expect(states(id)).toEqual(['canceled', 'active']);
  });

  it('drops an offer the peer canceled before it was answered', async () => {
    const id = await connectedRoom();
    const a = fake.peerSendsFile('one.mov', 300_000_000, id);
    expect(store.offers).toHaveLength(1);
    await fake.cancelTransfer(id, a);
    expect(store.offers).toHaveLength(0);
  });

  it('flashes the drop hint for the room the files went to', async () => {
    const id = await connectedRoom();
    store.setActive(id);
    await fake.dropFiles(['/tmp/a.txt', '/tmp/b.txt']);
    expect(store.dropHint).toEqual({ roomId: id, count: 2 });
    expect(store.forRoom(id).map((e) => e.t.name)).toEqual(['a.txt', 'b.txt']);
    vi.advanceTimersByTime(DROP_HINT_MS);
    expect(store.dropHint).toBeNull();
  });

  it('tells the backend the room in view once per change', async () => {
    store.setActive('r1');
    store.setActive('r1');
    store.setActive('');
    expect(fake.activeRooms).toEqual(['r1', '']);
  });

  it('loads transfers it missed and places new ones in time', async () => {
    const id = await connectedRoom();
    fake.willPick([{ name: 'a.pdf', size: 10 }]);
    await fake.pickAndSendFiles(id);
    const other = new TransfersStore(fake, () => 42);
    await other.load(id);
    expect(other.forRoom(id)).toMatchObject([{ at: 42, t: { name: 'a.pdf' } }]);
    clock = 5_000;
    fake.willPick([{ name: 'b.pdf', size: 10 }]);
    await store.pick(id);
    expect(store.forRoom(id).map((e) => e.at)).toEqual([1_000, 5_000]);
  });

  it('ignores events of unknown shape and clears finished cards', async () => {
    const id = await connectedRoom();
    fake.willPick([
      { name: 'a', size: 10 },
      { name: 'b', size: 50_000_000 },
    ]);
    await store.pick(id);
    vi.advanceTimersByTime(100);
    store.clearFinished(id);
    expect(store.forRoom(id).map((e) => e.t.name)).toEqual(['b']);
  });
});
