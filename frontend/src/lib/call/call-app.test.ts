// The call UI inside the whole app (App.svelte + AppState + CallStore)
// against the fake backend.
import { afterEach, describe, expect, it, vi } from 'vitest';
import { cleanup, fireEvent, render, screen, within } from '@testing-library/svelte';
import App from '../../App.svelte';
import { AppState } from '../app-state.svelte';
import { FakeApi } from '../fake-api';

let fake: FakeApi;
afterEach(() => {
  vi.useRealTimers();
  cleanup();
  fake?.dispose();
});

async function inRoom(connected = true) {
  fake = new FakeApi({ callConnectMs: 10 });
  const app = new AppState(fake);
  render(App, { app });
  await app.init();
  await app.createRoom(false);
  if (connected) fake.peerJoins();
  await screen.findByLabelText('Message');
  return app;
}

const callArea = () => screen.getByTestId('call');

describe('calls in the app', () => {
  it('header buttons say why they wait, then start a voice call', async () => {
    await inRoom(false);
    const voice = screen.getByRole('button', { name: 'Start a voice call' });
    expect(voice.getAttribute('aria-disabled')).toBe('true');
    expect(voice.title).toBe('Calls need the other person connected');
    await fireEvent.click(voice);
    expect(screen.queryByTestId('call')).toBeNull();
    fake.peerJoins();
    await vi.waitFor(() => expect(voice.getAttribute('aria-disabled')).toBeNull());
    await fireEvent.click(voice);
    await vi.waitFor(() => expect(callArea().dataset.state).toBe('outgoing'));
    expect(screen.getByTestId('call-timer').textContent).toBe('Calling…');
    expect(screen.getByRole('button', { name: 'Cancel call' })).toBeTruthy();
    expect(screen.getByRole('button', { name: 'Start a video call' }).title).toBe('You are in a call in this room');
  });

  it('active call: timer, mute, hang up says how long', async () => {
    // The call's clock is Date.now: freeze it, so a slow machine cannot
    // turn 0:00 into 0:01 between "active" and "hang up".
    vi.useFakeTimers({ toFake: ['Date'] });
    await inRoom();
    await fireEvent.click(screen.getByRole('button', { name: 'Start a voice call' }));
    fake.peerAnswers();
    await vi.waitFor(() => expect(callArea().dataset.state).toBe('active'));
    expect(screen.getByTestId('call-timer').textContent).toBe('0:00');
    const mute = screen.getByRole('button', { name: 'Mute' });
    expect(mute.getAttribute('aria-pressed')).toBe('false');
    expect(mute.getAttribute('aria-keyshortcuts')).toBe('Control+Shift+M');
    await fireEvent.click(mute);
    await vi.waitFor(() => expect(mute.getAttribute('aria-pressed')).toBe('true'));
    await fireEvent.click(screen.getByRole('button', { name: 'Hang up' }));
    const ended = await screen.findByTestId('call-ended');
    expect(ended.textContent).toContain('Call ended · 0:00');
  });

  it('rings without taking the focus; Accept with video opens a video call', async () => {
    await inRoom();
    const box = screen.getByLabelText('Message');
    fake.peerCalls(true);
    const banner = await screen.findByTestId('incoming-call');
    expect(banner.textContent).toContain('Incoming video call');
    expect(document.activeElement).toBe(box);
    await fireEvent.click(within(banner).getByRole('button', { name: 'Accept with video' }));
    await vi.waitFor(() => expect(callArea().dataset.video).toBe('true'));
    expect(screen.queryByTestId('incoming-call')).toBeNull();
    await vi.waitFor(() => expect(callArea().dataset.state).toBe('active'));
    expect(screen.getByTestId('remote-video')).toBeTruthy();
    expect(screen.getByRole('button', { name: 'Camera' }).getAttribute('aria-pressed')).toBe('true');
  });

  it('share screen: the button and Ctrl+Shift+E, the sharing bar with Stop; the peer’s screen fills the stage', async () => {
    await inRoom();
    await fireEvent.click(screen.getByRole('button', { name: 'Start a voice call' }));
    fake.peerAnswers();
    await vi.waitFor(() => expect(callArea().dataset.state).toBe('active'));
    const share = screen.getByRole('button', { name: 'Share screen' });
    expect(share.getAttribute('aria-keyshortcuts')).toBe('Control+Shift+E');
    expect(share.getAttribute('aria-pressed')).toBe('false');
    expect(screen.queryByTestId('screen-sharing')).toBeNull();
    await fireEvent.click(share);
    // The picker, the entire screen first and focused.
    const picker = await screen.findByRole('dialog', { name: 'Share your screen' });
    const options = within(picker).getAllByRole('button');
    expect(options.map((o) => o.textContent?.replace(/\s+/g, ' ').trim())).toEqual([
      'Entire screen 1920×1080',
      'Notes — Text Editor 800×600',
      'Terminal 640×400',
    ]);
    await vi.waitFor(() => expect(document.activeElement).toBe(options[0]));
    await fireEvent.click(options[0]!);
    expect(screen.queryByRole('dialog', { name: 'Share your screen' })).toBeNull();
    const bar = await screen.findByTestId('screen-sharing');
    expect(bar.getAttribute('role')).toBe('status');
    expect(bar.textContent).toContain('You are sharing your screen');
    expect(share.getAttribute('aria-pressed')).toBe('true');
    expect(screen.getByTestId('local-preview').classList.contains('unmirrored')).toBe(true);
    await fireEvent.click(within(bar).getByRole('button', { name: 'Stop' }));
    await vi.waitFor(() => expect(screen.queryByTestId('screen-sharing')).toBeNull());
    expect(fake.callOf()?.screen).toBe(false);

    // The keyboard, from the message box.
    await fireEvent.keyDown(screen.getByLabelText('Message'), { key: 'E', ctrlKey: true, shiftKey: true });
    const again = await screen.findByRole('dialog', { name: 'Share your screen' });
    await vi.waitFor(() => expect(document.activeElement?.textContent).toContain('Entire screen'));
    await fireEvent.click(document.activeElement!); // Enter on the focused button
    await screen.findByTestId('screen-sharing');
    expect(again.isConnected).toBe(false);
    await fireEvent.keyDown(screen.getByLabelText('Message'), { key: 'E', ctrlKey: true, shiftKey: true });
    await vi.waitFor(() => expect(screen.queryByTestId('screen-sharing')).toBeNull());

    // The peer shares: their screen takes the stage, labelled.
    fake.peerSharesScreen(true);
    const label = await screen.findByTestId('remote-screen');
    expect(label.textContent).toContain('is sharing their screen');
    expect(screen.getByTestId('call-stage').contains(screen.getByTestId('remote-video'))).toBe(true);
    expect(screen.getByTestId('remote-video').classList.contains('off')).toBe(false);
    fake.peerSharesScreen(false);
    await vi.waitFor(() => expect(screen.queryByTestId('remote-screen')).toBeNull());
  });

  it('screen picker: arrows, Home/End move the focus, Esc closes it, a window is shared by its id', async () => {
    await inRoom();
    await fireEvent.click(screen.getByRole('button', { name: 'Start a voice call' }));
    fake.peerAnswers();
    await vi.waitFor(() => expect(callArea().dataset.state).toBe('active'));
    const box = screen.getByLabelText('Message');
    await fireEvent.keyDown(box, { key: 'E', ctrlKey: true, shiftKey: true });
    let picker = await screen.findByRole('dialog', { name: 'Share your screen' });
    const options = within(picker).getAllByRole('button');
    await vi.waitFor(() => expect(document.activeElement).toBe(options[0]));
    const key = (k: string) => fireEvent.keyDown(document.activeElement!, { key: k });
    await key('ArrowUp');
    expect(document.activeElement).toBe(options[0]);
    await key('ArrowDown');
    expect(document.activeElement).toBe(options[1]);
    await key('ArrowDown');
    await key('ArrowDown');
    expect(document.activeElement).toBe(options[2]);
    await key('Home');
    expect(document.activeElement).toBe(options[0]);
    await key('End');
    expect(document.activeElement).toBe(options[2]);
    await key('Escape');
    await vi.waitFor(() => expect(screen.queryByRole('dialog', { name: 'Share your screen' })).toBeNull());
    expect(fake.callOf()?.screen).toBe(false);
    // Focus goes back to where it was.
    expect(document.activeElement).toBe(box);

    await fireEvent.click(screen.getByRole('button', { name: 'Share screen' }));
    picker = await screen.findByRole('dialog', { name: 'Share your screen' });
    await fireEvent.click(within(picker).getByRole('button', { name: /Terminal/ }));
    const bar = await screen.findByTestId('screen-sharing');
    expect(fake.sharedSource).toBe('window:0x2200003');
    expect(bar.textContent).toContain('You are sharing the window “Terminal”');

    // The window closes: sharing stops, the notice says so, the call goes on.
    fake.sharedWindowCloses();
    const notice = await screen.findByTestId('call-notice');
    expect(notice.dataset.code).toBe('WINDOW_CLOSED');
    expect(notice.textContent).toContain('The window you shared was closed');
    expect(screen.queryByTestId('screen-sharing')).toBeNull();
    expect(callArea().dataset.state).toBe('active');
  });

  it('camera tiles: the peer’s camera is a small labelled tile beside their screen, ours beside ours; stopping returns to the camera', async () => {
    await inRoom();
    await fireEvent.click(screen.getByRole('button', { name: 'Start a video call' }));
    fake.peerAnswers(true);
    await vi.waitFor(() => expect(callArea().dataset.state).toBe('active'));
    const stage = () => screen.getByTestId('call-stage');
    const big = () => screen.getByTestId('remote-video');
    const who = big().getAttribute('aria-label')!.replace(/’s video$/, '');
    expect(who).not.toBe('');
    expect(big().dataset.shows).toBe('camera');
    expect(screen.queryByTestId('remote-tile')).toBeNull();

    // Theirs: the screen on the stage, their camera a tile.
    fake.peerSharesScreen(true);
    const tile = await screen.findByTestId('remote-tile');
    expect(tile.tagName).toBe('CANVAS');
    expect(tile.getAttribute('aria-label')).toBe(`${who}’s camera`);
    expect(stage().contains(tile)).toBe(true);
    expect(big().dataset.shows).toBe('screen');
    expect(big().getAttribute('aria-label')).toBe(`${who}’s screen`);
    // Their camera off: the tile goes, the screen stays.
    fake.peerCamera(false);
    await vi.waitFor(() => expect(screen.queryByTestId('remote-tile')).toBeNull());
    expect(big().dataset.shows).toBe('screen');
    expect(big().classList.contains('off')).toBe(false);
    fake.peerCamera(true);
    await screen.findByTestId('remote-tile');
    // They stop: their camera is back on the stage.
    fake.peerSharesScreen(false);
    await vi.waitFor(() => expect(screen.queryByTestId('remote-tile')).toBeNull());
    expect(big().dataset.shows).toBe('camera');
    expect(big().getAttribute('aria-label')).toBe(`${who}’s video`);

    // Ours: the camera stays on as a tile; the camera button turns only it off.
    const camera = screen.getByRole('button', { name: 'Camera' });
    expect(camera.getAttribute('aria-pressed')).toBe('true');
    await fireEvent.click(screen.getByRole('button', { name: 'Share screen' }));
    const picker = await screen.findByRole('dialog', { name: 'Share your screen' });
    await fireEvent.click(within(picker).getByRole('button', { name: /Entire screen/ }));
    const mine = await screen.findByTestId('local-camera');
    expect(mine.getAttribute('aria-label')).toBe('Your camera');
    expect(screen.getByTestId('local-preview').getAttribute('aria-label')).toBe('Your screen (drag to move)');
    expect(camera.getAttribute('aria-pressed')).toBe('true');
    await fireEvent.click(camera);
    await vi.waitFor(() => expect(screen.queryByTestId('local-camera')).toBeNull());
    expect(fake.callOf()).toMatchObject({ screen: true, localCamera: false, localVideo: true });
    expect(camera.getAttribute('aria-pressed')).toBe('false');
    await fireEvent.click(camera);
    await screen.findByTestId('local-camera');
    await fireEvent.click(within(screen.getByTestId('screen-sharing')).getByRole('button', { name: 'Stop' }));
    await vi.waitFor(() => expect(screen.queryByTestId('local-camera')).toBeNull());
    expect(fake.callOf()).toMatchObject({ screen: false, localCamera: true, localVideo: true });
    expect(screen.getByTestId('local-preview').getAttribute('aria-label')).toBe('Your camera (drag to move)');
  });

  it('a source of unknown size (Wayland: the desktop asks) shows no 0×0; alone, it is shared at once', async () => {
    await inRoom();
    await fireEvent.click(screen.getByRole('button', { name: 'Start a voice call' }));
    fake.peerAnswers();
    await vi.waitFor(() => expect(callArea().dataset.state).toBe('active'));
    const desktop = { id: 'screen:0', title: 'Screen or window (your desktop asks which)', width: 0, height: 0 };
    fake.screens = [desktop, { id: 'screen:1', title: 'Screen 2', width: 1280, height: 1024 }];
    await fireEvent.click(screen.getByRole('button', { name: 'Share screen' }));
    const picker = await screen.findByRole('dialog', { name: 'Share your screen' });
    const options = within(picker).getAllByRole('button');
    expect(options[0]!.textContent).not.toContain('×');
    expect(options[1]!.textContent).toContain('1280×1024');
    await fireEvent.keyDown(document.activeElement!, { key: 'Escape' });
    await vi.waitFor(() => expect(screen.queryByRole('dialog', { name: 'Share your screen' })).toBeNull());
    fake.screens = [desktop];
    await fireEvent.click(screen.getByRole('button', { name: 'Share screen' }));
    await screen.findByTestId('screen-sharing');
    expect(screen.queryByRole('dialog', { name: 'Share your screen' })).toBeNull();
    expect(fake.sharedSource).toBe('screen:0');
  });

  it('no screen to share: the notice says why and the call goes on', async () => {
    await inRoom();
    await fireEvent.click(screen.getByRole('button', { name: 'Start a voice call' }));
    fake.peerAnswers();
    await vi.waitFor(() => expect(callArea().dataset.state).toBe('active'));
    fake.screenAvailable = false;
    await fireEvent.click(screen.getByRole('button', { name: 'Share screen' }));
    const notice = await screen.findByTestId('call-notice');
    expect(notice.dataset.code).toBe('SCREEN_UNAVAILABLE');
    expect(notice.textContent).toContain('Your screen cannot be shared here.');
    expect(screen.queryByTestId('screen-sharing')).toBeNull();
    expect(callArea().dataset.state).toBe('active');
  });

  it('declining leaves nothing behind', async () => {
    await inRoom();
    fake.peerCalls(false);
    const banner = await screen.findByTestId('incoming-call');
    await fireEvent.click(within(banner).getByRole('button', { name: /Decline/ }));
    await vi.waitFor(() => expect(screen.queryByTestId('incoming-call')).toBeNull());
    expect(screen.queryByTestId('call')).toBeNull();
  });

  it('no camera: the notice says so and the call goes on with sound', async () => {
    await inRoom();
    fake.devices.cameras = [];
    await fireEvent.click(screen.getByRole('button', { name: 'Start a video call' }));
    const notice = await screen.findByTestId('call-notice');
    expect(notice.getAttribute('role')).toBe('alert');
    expect(notice.textContent).toContain('No camera found.');
    expect(callArea().dataset.state).toBe('outgoing');
    await fireEvent.click(screen.getByRole('button', { name: 'Devices' }));
    expect((await screen.findByTestId('no-camera')).textContent).toBe('No camera found');
  });

  it('device menu: choices go to Go, Esc closes and gives the focus back', async () => {
    await inRoom();
    await fireEvent.click(screen.getByRole('button', { name: 'Start a voice call' }));
    const btn = await screen.findByRole('button', { name: 'Devices' });
    await fireEvent.click(btn);
    const menu = await screen.findByRole('dialog', { name: 'Call devices' });
    const mic = await within(menu).findByLabelText('Microphone');
    await fireEvent.change(mic, { target: { value: 'mic-headset' } });
    await vi.waitFor(() => expect(fake.deviceChoices).toEqual([['mic-headset', '', '']]));
    await fireEvent.keyDown(menu, { key: 'Escape' });
    expect(screen.queryByRole('dialog', { name: 'Call devices' })).toBeNull();
    expect(document.activeElement).toBe(btn);
  });
});
