import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { FakeApi } from '../fake-api';
import { CallStore, ENDED_SHOW_MS, endedText, formatDuration, isLive } from './call.svelte';
import type { MediaClient } from './media';

let fake: FakeApi;
let store: CallStore;
let clock: number;
let media: { roomId: string; closed: boolean }[];

beforeEach(() => {
  vi.useFakeTimers();
  clock = 1_000_000;
  fake = new FakeApi({ callConnectMs: 100, ringTimeoutMs: 30_000, now: () => clock });
  media = [];
  store = new CallStore(fake, {
    now: () => clock,
    media: (roomId) => {
      const m = { roomId, closed: false, open: async () => {}, close: () => (m.closed = true), connected: false, onchange: null };
      media.push(m);
      return m as unknown as MediaClient;
    },
  });
  store.start();
});
afterEach(() => {
  store.stop();
  fake.dispose();
  vi.useRealTimers();
});

async function room(): Promise<string> {
  const v = await fake.createRoom(0);
  fake.peerJoins(v.id);
  return v.id;
}

function advance(ms: number) {
  clock += ms;
  vi.advanceTimersByTime(ms);
}

describe('formatDuration and endedText', () => {
  it.each([
    [0, '0:00'],
    [999, '0:00'],
    [65_000, '1:05'],
    [192_000, '3:12'],
    [3_725_000, '1:02:05'],
    [-5, '0:00'],
  ])('%d ms reads %s', (ms, want) => expect(formatDuration(ms)).toBe(want));

  it.each([
    ['', 192_000, 'Call ended · 3:12'],
    ['', 0, 'Call ended'],
    ['DECLINED', 0, 'Declined'],
    ['NO_ANSWER', 0, 'No answer'],
    ['PEER_LEFT', 5000, 'The call ended because the other person left the room.'],
    ['DEVICE_BUSY', 0, 'The camera or microphone is in use by another app.'],
    ['WHAT', 0, 'Something went wrong inside Parley.'],
  ])('%s after %d ms: %s', (code, ms, title) => {
    expect(endedText(code, ms).title).toBe(title);
  });
});

describe('CallStore', () => {
  it('calls out: outgoing, connecting, active with a running timer, then ended with its length', async () => {
    const id = await room();
    await store.call(id, false);
    expect(store.view).toMatchObject({ roomId: id, state: 'outgoing', video: false });
    expect(store.busy).toBe(true);
    expect(media.map((m) => m.roomId)).toEqual([id]);
    fake.peerAnswers(false, id);
    expect(store.view?.state).toBe('connecting');
    advance(100);
    expect(store.view?.state).toBe('active');
    expect(store.elapsed).toBe(0);
    advance(3000);
    expect(store.elapsed).toBe(3000);
    await store.hangUp();
    expect(store.view).toMatchObject({ state: 'ended', error: '' });
    expect(store.endedAfter).toBe(3000);
    expect(endedText(store.view!.error, store.endedAfter).title).toBe('Call ended · 0:03');
    expect(media[0]!.closed).toBe(true);
    expect(store.busy).toBe(false);
    advance(ENDED_SHOW_MS);
    expect(store.view).toBeNull();
  });

  it('an idle right after ended keeps "Call ended" for its moment', async () => {
    const id = await room();
    await store.call(id, false);
    fake.peerHangsUp(id);
    const idle = { ...store.view!, state: 'idle' as const, error: '' };
    store.apply(idle);
    expect(store.view?.state).toBe('ended');
    advance(ENDED_SHOW_MS);
    expect(store.view).toBeNull();
  });

  it('ignores a second call while one is under way', async () => {
    const id = await room();
    await store.call(id, false);
    const spy = vi.spyOn(fake, 'startCall');
    await store.call(id, true);
    expect(spy).not.toHaveBeenCalled();
  });

  it('rings, accepts with video, and a decline shows nothing afterwards', async () => {
    const id = await room();
    fake.peerCalls(true, id);
    expect(store.ringing).toMatchObject({ roomId: id, state: 'incoming', video: true });
    expect(store.view).toBeNull();
    await store.answer(true, true);
    expect(store.ringing).toBeNull();
    expect(store.view).toMatchObject({ state: 'connecting', localVideo: true });
    advance(100);
    expect(store.view?.state).toBe('active');
    fake.peerHangsUp(id);
    expect(store.view).toMatchObject({ state: 'ended', error: '' });
    store.clearEnded();

    fake.peerCalls(false, id);
    await store.answer(false);
    expect(store.ringing).toBeNull();
    expect(store.view).toBeNull();
    expect(fake.callOf(id)).toBeUndefined();
  });

  it('a call the caller gave up on stops ringing and counts as missed', async () => {
    const id = await room();
    const missed: string[] = [];
    store.onmissed = (r) => missed.push(r);
    fake.peerCalls(false, id);
    fake.peerHangsUp(id);
    expect(store.ringing).toBeNull();
    expect(store.view).toBeNull();
    expect(missed).toEqual([id]);
    fake.peerCalls(false, id);
    await store.answer(false);
    expect(missed).toEqual([id]);
  });

  it('shows why the peer did not take the call', async () => {
    const id = await room();
    await store.call(id, false);
    fake.peerDeclines(id);
    expect(store.view).toMatchObject({ state: 'ended', error: 'DECLINED' });
    store.clearEnded();
    await store.call(id, false);
    advance(30_000);
    expect(store.view).toMatchObject({ state: 'ended', error: 'NO_ANSWER' });
  });

  it('NO_CAMERA is a notice while the call goes on, cleared when the camera works', async () => {
    const id = await room();
    const cams = fake.devices.cameras;
    fake.devices.cameras = [];
    await store.call(id, true);
    expect(store.view).toMatchObject({ state: 'outgoing', localVideo: false });
    expect(store.notice).toMatchObject({ roomId: id, x: { code: 'NO_CAMERA', sentence: 'No camera found.' } });
    fake.peerAnswers(false, id);
    advance(100);
    expect(store.view?.state).toBe('active');
    expect(store.notice?.x.code).toBe('NO_CAMERA');
    fake.devices.cameras = cams;
    await store.toggleCamera();
    expect(store.view?.localVideo).toBe(true);
    expect(store.notice).toBeNull();
  });

  it.each(['DEVICE_BUSY', 'PERMISSION_DENIED', 'NO_MICROPHONE', 'PEER_OFFLINE'] as const)(
    'a refused StartCall (%s) becomes a notice for the room',
    async (code) => {
      const id = await room();
      fake.failNext('startCall', code);
      await store.call(id, false);
      expect(store.view).toBeNull();
      expect(store.notice).toMatchObject({ roomId: id, x: { code } });
      expect(store.pending).toBe(false);
    },
  );

  it('an end reason from Go (NO_MICROPHONE) is shown as the end of the call', async () => {
    const id = await room();
    fake.devices.microphones = [];
    await store.call(id, false);
    expect(store.view).toMatchObject({ state: 'ended', error: 'NO_MICROPHONE' });
  });

  it('mutes at once, and takes it back when Go refuses', async () => {
    const id = await room();
    await store.call(id, false);
    fake.peerAnswers(false, id);
    advance(100);
    await store.toggleMute();
    expect(store.view?.micMuted).toBe(true);
    expect(fake.callOf(id)?.micMuted).toBe(true);
    fake.failNext('setMicMuted', 'INTERNAL');
    const p = store.toggleMute();
    expect(store.view?.micMuted).toBe(false);
    await p;
    expect(store.view?.micMuted).toBe(true);
    expect(store.notice?.x.code).toBe('INTERNAL');
  });

  it('camera on in a voice call makes it a video call', async () => {
    const id = await room();
    await store.call(id, false);
    fake.peerAnswers(false, id);
    advance(100);
    await store.toggleCamera();
    expect(store.view).toMatchObject({ video: true, localVideo: true, state: 'active' });
    await store.toggleCamera();
    expect(store.view).toMatchObject({ video: true, localVideo: false });
  });

  it('sharing the screen replaces the camera and stopping brings it back', async () => {
    const id = await room();
    await store.call(id, true);
    fake.peerAnswers(false, id);
    advance(100);
    await store.toggleScreen();
    // The picker: the screen first, then the windows.
    expect(store.screenSources?.map((s) => s.id)).toEqual(['screen:0', 'window:0x1a00007', 'window:0x2200003']);
    expect(store.view?.screen).toBe(false);
    await store.shareSource('screen:0');
    expect(store.screenSources).toBeNull();
    expect(fake.sharedSource).toBe('screen:0');
    expect(store.view).toMatchObject({ screen: true, localVideo: true, video: true, state: 'active' });
    await store.toggleScreen();
    expect(store.view).toMatchObject({ screen: false, localVideo: true });
    expect(store.notice).toBeNull();
  });

  it('one screen and no window: shared at once, no picker', async () => {
    const id = await room();
    await store.call(id, false);
    fake.peerAnswers(false, id);
    advance(100);
    fake.screens = fake.screens.slice(0, 1);
    await store.toggleScreen();
    expect(store.screenSources).toBeNull();
    expect(fake.sharedSource).toBe('screen:0');
    expect(store.view?.screen).toBe(true);
  });

  it('a window: shared by its id; when it closes the share ends with WINDOW_CLOSED and the call goes on', async () => {
    const id = await room();
    await store.call(id, true);
    fake.peerAnswers(false, id);
    advance(100);
    await store.toggleScreen();
    await store.shareSource('window:0x1a00007');
    expect(fake.sharedSource).toBe('window:0x1a00007');
    expect(store.view?.screen).toBe(true);
    fake.sharedWindowCloses(id);
    expect(store.view).toMatchObject({ screen: false, localVideo: true, state: 'active' });
    expect(store.notice?.x.code).toBe('WINDOW_CLOSED');
    expect(store.notice?.x.sentence).toBe('The window you shared was closed, so sharing stopped.');
    // The picker no longer offers it.
    await store.toggleScreen();
    expect(store.screenSources?.map((s) => s.id)).toEqual(['screen:0', 'window:0x2200003']);
  });

  it('a window that closed before it was chosen: a notice, nothing shared', async () => {
    const id = await room();
    await store.call(id, false);
    fake.peerAnswers(false, id);
    advance(100);
    await store.toggleScreen();
    fake.screens = fake.screens.slice(0, 2);
    await store.shareSource('window:0x2200003');
    expect(store.view?.screen).toBe(false);
    expect(store.notice?.x).toMatchObject({ code: 'SCREEN_UNAVAILABLE', sentence: 'That window cannot be shared.' });
  });

  it('the call ends while the desktop asks what to share: nothing shared, no error', async () => {
    const id = await room();
    await store.call(id, false);
    fake.peerAnswers(false, id);
    advance(100);
    fake.screens = fake.screens.slice(0, 1); // Wayland: one entry, the desktop's own picker
    let answer = () => {};
    fake.shareWaits = new Promise((r) => (answer = r));
    const sharing = store.toggleScreen();
    for (let i = 0; i < 100 && !fake.shareWaiting; i++) await Promise.resolve();
    expect(fake.shareWaiting).toBe(true);
    fake.peerHangsUp(id);
    answer();
    await sharing;
    expect(store.view?.state).toBe('ended');
    expect(store.view?.screen).toBe(false);
    expect(fake.sharedSource).toBe('');
    expect(store.notice).toBeNull();
  });

  it('the picker closes on the share key again, and when the call ends', async () => {
    const id = await room();
    await store.call(id, false);
    fake.peerAnswers(false, id);
    advance(100);
    await store.toggleScreen();
    expect(store.screenSources).not.toBeNull();
    await store.toggleScreen();
    expect(store.screenSources).toBeNull();
    expect(fake.sharedSource).toBe('');
    await store.toggleScreen();
    fake.peerLeaves(id);
    expect(store.screenSources).toBeNull();
  });

  it('no screen to share (Wayland): a notice, the call goes on', async () => {
    const id = await room();
    await store.call(id, false);
    fake.peerAnswers(false, id);
    advance(100);
    fake.screenAvailable = false;
    await store.toggleScreen();
    expect(store.notice?.x.code).toBe('SCREEN_UNAVAILABLE');
    expect(store.notice?.x.next).toContain('Wayland');
    expect(store.view).toMatchObject({ screen: false, state: 'active' });
  });

  it('the peer sharing their screen shows as remoteScreen', async () => {
    const id = await room();
    await store.call(id, false);
    fake.peerAnswers(false, id);
    advance(100);
    fake.peerSharesScreen(true, id);
    expect(store.view).toMatchObject({ remoteScreen: true, remoteVideo: true, video: true });
    fake.peerSharesScreen(false, id);
    expect(store.view).toMatchObject({ remoteScreen: false, remoteVideo: false });
  });

  it('a late method answer does not take the call back a state', async () => {
    const id = await room();
    const real = fake.startCall.bind(fake);
    vi.spyOn(fake, 'startCall').mockImplementation(async (r, v) => {
      const res = await real(r, v);
      fake.peerAnswers(false, r); // the event overtakes the answer
      return res;
    });
    await store.call(id, false);
    expect(store.view?.state).toBe('connecting');
  });

  it('accepting a call in another room ends the call under way', async () => {
    const a = await room();
    await store.call(a, false);
    fake.peerAnswers(false, a);
    advance(100);
    const b = await room();
    fake.peerCalls(false, b);
    expect(store.view?.roomId).toBe(a);
    await store.answer(true, false);
    expect(fake.callOf(a)).toBeUndefined();
    expect(store.view).toMatchObject({ roomId: b, state: 'connecting' });
  });

  it('the peer leaving ends the call with PEER_LEFT', async () => {
    const id = await room();
    await store.call(id, false);
    fake.peerLeaves(id);
    expect(store.view).toMatchObject({ state: 'ended', error: 'PEER_LEFT' });
    expect(isLive(store.view)).toBe(false);
  });

  it('keyboard: Ctrl+Shift+M/O/E/H in a call, Y/O/H while ringing, nothing without Ctrl+Shift', async () => {
    const id = await room();
    const key = (k: string, over = {}) => ({ ctrlKey: true, shiftKey: true, altKey: false, metaKey: false, key: k, ...over });
    expect(store.shortcut(key('M'))).toBe(false);
    fake.peerCalls(false, id);
    expect(store.shortcut(key('m'))).toBe(false);
    expect(store.shortcut(key('Y'))).toBe(true);
    await vi.waitFor(() => expect(store.view?.state).toBe('connecting'));
    advance(100);
    expect(store.shortcut(key('M', { ctrlKey: false }))).toBe(false);
    expect(store.shortcut(key('M'))).toBe(true);
    await vi.waitFor(() => expect(fake.callOf(id)?.micMuted).toBe(true));
    expect(store.shortcut(key('O'))).toBe(true);
    await vi.waitFor(() => expect(fake.callOf(id)?.localVideo).toBe(true));
    expect(store.shortcut(key('E'))).toBe(true);
    await vi.waitFor(() => expect([store.screenSources?.length, store.pending]).toEqual([3, false]));
    await store.shareSource('screen:0');
    await vi.waitFor(() => expect([store.view?.screen, store.pending]).toEqual([true, false]));
    expect(store.shortcut(key('E'))).toBe(true);
    await vi.waitFor(() => expect([fake.callOf(id)?.screen, store.view?.screen, store.pending]).toEqual([false, false, false]));
    expect(store.shortcut(key('H'))).toBe(true);
    await vi.waitFor(() => expect([store.view?.state, store.pending]).toEqual(['ended', false]));
    fake.peerCalls(true, id);
    expect(store.shortcut(key('H'))).toBe(true);
    await vi.waitFor(() => expect(store.ringing).toBeNull());
    expect(fake.callOf(id)).toBeUndefined();
  });

  it('loads and chooses devices; a refused choice is taken back', async () => {
    const d = await store.loadDevices();
    expect(d.cameras.map((c) => c.label)).toEqual(['Integrated Camera']);
    await store.chooseDevices({ mic: 'mic-headset' });
    await store.chooseDevices({ speaker: 'spk-headset' });
    expect(fake.deviceChoices).toEqual([
      ['mic-headset', '', ''],
      ['mic-headset', '', 'spk-headset'],
    ]);
    await expect(store.chooseDevices({ camera: 'nope' })).rejects.toMatchObject({ code: 'INTERNAL' });
    expect(store.chosen).toEqual({ mic: 'mic-headset', camera: '', speaker: 'spk-headset' });

    // After a restart the picker starts from what the backend remembers,
    // so choosing a camera keeps the microphone and speaker.
    const again = new CallStore(fake);
    await again.loadDevices();
    expect(again.chosen).toEqual({ mic: 'mic-headset', camera: '', speaker: 'spk-headset' });
  });
});
