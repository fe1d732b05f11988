import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { FakeApi } from '../fake-api';
import { ChatStore } from './chat.svelte';

let fake: FakeApi;
let chat: ChatStore;
let gone: [string, string][];

beforeEach(() => {
  localStorage.clear();
  fake = new FakeApi({ ackDelayMs: 0 });
  gone = [];
  chat = new ChatStore(fake, { onGone: (id, code) => gone.push([id, code]) });
  chat.start();
});
afterEach(() => {
  chat.stop();
  fake.dispose();
});

async function openConnected() {
  const v = await fake.createRoom(0);
  chat.show(v);
  fake.peerJoins(v.id);
  return v;
}

describe('ChatStore', () => {
  it('follows status events and learns the safety number', async () => {
    const v = await openConnected();
    expect(chat.view?.status).toBe('verified');
    expect(chat.view?.route).toBe('direct');
    await vi.waitFor(() => expect(chat.view?.safetyNumber).not.toBe(''));
    fake.peerLeaves(v.id);
    expect(chat.view?.status).toBe('peer-left');
  });

  it('keeps the newest status when events arrive out of order', async () => {
    const v = await openConnected();
    // The dev server writes each event from its own goroutine: "connected"
    // may reach the page after the "verified" that followed it.
    const emit = (fake as unknown as { emit: (n: string, p: unknown) => void }).emit.bind(fake);
    const seq = chat.view?.statusSeq ?? 0;
    emit('room:status', { roomId: v.id, status: 'verified', route: 'relayed', code: '', seq: seq + 2 });
    emit('room:status', { roomId: v.id, status: 'connected', route: 'direct', code: '', seq: seq + 1 });
    expect(chat.view?.status).toBe('verified');
    expect(chat.view?.route).toBe('relayed');
    // A view read later includes every event before it.
    chat.show(await fake.room(v.id));
    emit('room:status', { roomId: v.id, status: 'connecting', route: '', code: '', seq: seq });
    expect(chat.view?.status).toBe('verified');
  });

  it('sends, then marks delivered', async () => {
    await openConnected();
    expect(await chat.send('hello')).toBe(true);
    expect(chat.view?.messages.map((m) => m.text)).toEqual(['hello']);
    await vi.waitFor(() => expect(chat.view?.messages[0]?.state).toBe('delivered'));
  });

  it('keeps the reason when the peer is offline', async () => {
    const v = await fake.createRoom(0);
    chat.show(v);
    expect(await chat.send('hello')).toBe(false);
    expect(chat.composerError?.code).toBe('PEER_OFFLINE');
    expect(chat.view?.messages).toHaveLength(0);
  });

  it('ignores blank text', async () => {
    await openConnected();
    expect(await chat.send('  \n ')).toBe(false);
  });

  it('receives messages once and marks unread when scrolled up', async () => {
    const v = await openConnected();
    const m = fake.peerSays('one', v.id);
    expect(chat.view?.messages.map((x) => x.text)).toEqual(['one']);
    expect(chat.unreadFrom).toBe('');
    chat.setAtBottom(false);
    const m2 = fake.peerSays('two', v.id);
    fake.peerSays('three', v.id);
    expect(chat.unreadFrom).toBe(m2?.id);
    expect(chat.unseen).toBe(2);
    chat.setAtBottom(true);
    expect(chat.unseen).toBe(0);
    expect(m).toBeDefined();
  });

  it('ignores events of other rooms', async () => {
    const v = await openConnected();
    const other = await fake.createRoom(0);
    fake.peerJoins(other.id);
    fake.peerSays('elsewhere', other.id);
    expect(chat.view?.id).toBe(v.id);
    expect(chat.view?.messages).toHaveLength(0);
  });

  it.each(['ROOM_DESTROYED', 'TIMER_EXPIRED'] as const)('%s that wiped the room sends the app home', async (code) => {
    const v = await openConnected();
    fake.closeRoom(code, v.id);
    await vi.waitFor(() => expect(gone).toEqual([[v.id, code]]));
  });

  it.each(['ROOM_DESTROYED', 'TIMER_EXPIRED'] as const)(
    '%s from the server alone keeps the room, marked ended, with its messages',
    async (code) => {
      const v = await openConnected();
      fake.peerSays('keep this');
      fake.serverEnds(code, v.id);
      await vi.waitFor(() => expect(chat.view?.ended).toBe(code));
      expect(gone).toEqual([]);
      expect(chat.view?.status).toBe('closed');
      expect(chat.view?.messages.map((m) => m.text)).toEqual(['keep this']);
      await chat.forget();
      expect(gone).toEqual([[v.id, '']]);
      await expect(fake.room(v.id)).rejects.toThrow('ROOM_NOT_FOUND');
    },
  );

  it('KEY_CHANGED keeps the room, shows both safety numbers, and trusting reconnects', async () => {
    const v = await openConnected();
    await vi.waitFor(() => expect(chat.view?.safetyNumber).not.toBe(''));
    const before = chat.view?.safetyNumber;
    fake.peerKeyChanges(v.id);
    await vi.waitFor(() => expect(chat.view?.keyChange).not.toBeNull());
    expect(gone).toEqual([]);
    expect(chat.view?.code).toBe('KEY_CHANGED');
    expect(chat.view?.keyChange?.oldSafetyNumber).toBe(before);
    expect(chat.view?.keyChange?.newSafetyNumber).not.toBe(before);
    const next = chat.view?.keyChange?.newSafetyNumber;
    await chat.trustNewKey();
    expect(chat.view?.keyChange).toBeNull();
    await vi.waitFor(() => expect(chat.view?.status).toBe('verified'));
    expect(chat.view?.safetyNumber).toBe(next);
  });

  it('VERIFY_FAILED stays and shows the code', async () => {
    const v = await openConnected();
    fake.closeRoom('VERIFY_FAILED', v.id);
    expect(gone).toEqual([]);
    expect(chat.view?.status).toBe('closed');
    expect(chat.view?.code).toBe('VERIFY_FAILED');
  });

  it('shows the peer typing for a while', async () => {
    vi.useFakeTimers();
    try {
      const v = await openConnected();
      fake.peerTypes(v.id);
      expect(chat.peerTyping).toBe(true);
      vi.advanceTimersByTime(4100);
      expect(chat.peerTyping).toBe(false);
    } finally {
      vi.useRealTimers();
    }
  });

  it('rate-limits its own typing notices', async () => {
    await openConnected();
    chat.typed();
    chat.typed();
    chat.typed();
    expect(fake.typingCalls).toHaveLength(1);
  });

  it('clears, renames and destroys', async () => {
    const v = await openConnected();
    fake.peerSays('x', v.id);
    await chat.clear();
    expect(chat.view?.messages).toEqual([]);
    await chat.rename('  Plans ');
    expect(chat.view?.name).toBe('Plans');
    expect((await fake.rooms())[0]?.name).toBe('Plans');
    await chat.destroy();
    expect(gone[0]).toEqual([v.id, 'ROOM_DESTROYED']);
  });

  it('places the unread marker after what was seen last time', async () => {
    // One clock for the backend's timestamps and the store's "seen": the
    // new message is one tick after hide(), without waiting for real time.
    let t = 1_000_000;
    const now = () => t;
    chat.stop();
    fake.dispose();
    fake = new FakeApi({ ackDelayMs: 0, now });
    chat = new ChatStore(fake, { onGone: (id, code) => gone.push([id, code]) }, now);
    chat.start();
    const v = await openConnected();
    fake.peerSays('old', v.id);
    chat.hide();
    t += 1;
    const fresh = fake.peerSays('new', v.id);
    chat.show(await fake.room(v.id));
    expect(chat.unreadFrom).toBe(fresh?.id);
  });
});
