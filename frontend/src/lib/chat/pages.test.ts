import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { FakeApi, FAKE_PAGE } from '../fake-api';
import { ChatStore, WINDOW_MAX } from './chat.svelte';

let fake: FakeApi;
let chat: ChatStore;

beforeEach(() => {
  localStorage.clear();
  fake = new FakeApi({ ackDelayMs: 0, longRoom: 1000 });
  chat = new ChatStore(fake, { onGone: () => {} });
  chat.start();
});
afterEach(() => {
  chat.stop();
  fake.dispose();
});

async function showLong() {
  const [r] = await fake.rooms();
  chat.show(await fake.room(r!.id));
  return r!.id;
}

const ids = () => chat.view?.messages.map((m) => m.id) ?? [];

describe('a long conversation', () => {
  it('opens with the newest page and pages back through a bounded window', async () => {
    await showLong();
    expect(ids()).toHaveLength(FAKE_PAGE);
    expect(ids().at(-1)).toBe('long-999');
    expect(chat.view?.older).toBe(true);
    let loads = 0;
    while (!chat.newer) {
      expect(await chat.loadOlder()).toBe(true);
      loads++;
    }
    // One page more than fits: the newest page was dropped to stay at WINDOW_MAX.
    expect((loads + 1) * FAKE_PAGE).toBeGreaterThan(WINDOW_MAX);
    expect(ids()).toHaveLength(WINDOW_MAX);
    const first = 1000 - (loads + 1) * FAKE_PAGE;
    expect(ids()[0]).toBe(`long-${first}`);
    expect(ids().at(-1)).toBe(`long-${first + WINDOW_MAX - 1}`);
    while (chat.newer) expect(await chat.loadNewer()).toBe(true);
    expect(ids().at(-1)).toBe('long-999');
    expect(ids()).toHaveLength(WINDOW_MAX);
    expect(chat.view?.older).toBe(true);
    expect(await chat.loadNewer()).toBe(false);
  });

  it('stops at the first message', async () => {
    await showLong();
    let pages = 0;
    while (await chat.loadOlder()) pages++;
    expect(pages).toBe(1000 / FAKE_PAGE - 1);
    expect(chat.view?.older).toBe(false);
    expect(ids()[0]).toBe('long-0');
  });

  it('holds a new message while showing older ones, and sending goes back to the newest', async () => {
    const v = await fake.createRoom(0);
    chat.show(v);
    fake.peerJoins(v.id);
    for (let i = 0; i < WINDOW_MAX + 50; i++) fake.peerSays(`line ${i}`);
    // At the bottom, the window stays bounded as messages arrive.
    expect(ids()).toHaveLength(WINDOW_MAX);
    expect(chat.view?.older).toBe(true);
    await chat.loadOlder();
    expect(chat.newer).toBe(true);
    fake.peerSays('while you read old ones');
    expect(chat.view?.messages.some((m) => m.text === 'while you read old ones')).toBe(false);
    expect(chat.unseen).toBe(1);
    expect(await chat.send('back to now')).toBe(true);
    expect(chat.newer).toBe(false);
    expect(chat.view?.messages.slice(-2).map((m) => m.text)).toEqual(['while you read old ones', 'back to now']);
  });

  it('searches the whole history a page of matches at a time', async () => {
    await showLong();
    await chat.runSearch('LUNCH'); // every fifth message, from long-2
    const s = chat.search!;
    expect(s.matches).toHaveLength(FAKE_PAGE);
    expect(s.next).not.toBe('');
    expect(s.index).toBe(0);
    expect(chat.focus?.id).toBe('long-997');
    for (let i = 0; i < FAKE_PAGE; i++) await chat.olderMatch();
    expect(chat.search?.matches).toHaveLength(2 * FAKE_PAGE);
    const far = 997 - 5 * FAKE_PAGE;
    expect(chat.focus?.id).toBe(`long-${far}`);
    // Far from the newest: the window moved there and knows newer ones exist.
    expect(ids()).toContain(`long-${far}`);
    expect(chat.newer).toBe(true);
    await chat.newerMatch();
    expect(chat.focus?.id).toBe(`long-${far + 5}`);
  });

  it('says when nothing matches, and refuses nothing quietly', async () => {
    await showLong();
    await chat.runSearch('zebra');
    expect(chat.search?.matches).toEqual([]);
    expect(chat.search?.index).toBe(-1);
    expect(chat.search?.busy).toBe(false);
    await chat.olderMatch();
    expect(chat.focus).toBeNull();
    chat.closeSearch();
    expect(chat.search).toBeNull();
  });

  it('jumps to a message outside the window, and not to one that is gone', async () => {
    await showLong();
    expect(await chat.goTo('long-3')).toBe(true);
    expect(ids()[0]).toBe('long-0');
    expect(chat.focus?.id).toBe('long-3');
    expect(await chat.goTo('never-here')).toBe(false);
  });
});
