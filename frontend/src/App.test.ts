import { afterEach, describe, expect, it, vi } from 'vitest';
import { cleanup, fireEvent, render, screen, waitFor, within } from '@testing-library/svelte';
import App from './App.svelte';
import { AppState } from './lib/app-state.svelte';
import { FakeApi } from './lib/fake-api';

let fake: FakeApi;
afterEach(() => {
  cleanup();
  fake?.dispose();
});

async function start(opts: ConstructorParameters<typeof FakeApi>[0] = {}) {
  fake = new FakeApi(opts);
  const app = new AppState(fake);
  render(App, { app });
  await app.init();
  return app;
}

describe('App', () => {
  it('first run: home first; the server is asked on the first Create room', async () => {
    const app = await start({ firstRun: true });
    expect(screen.queryByRole('dialog')).toBeNull();
    const create = screen.getByRole('button', { name: /Create room/ });
    await fireEvent.click(create);
    const q = await screen.findByRole('dialog', { name: 'Choose a server for new rooms' });
    expect(screen.queryByTestId('use-room-server')).toBeNull();
    await fireEvent.keyDown(q, { key: 'Escape' });
    await waitFor(() => expect(screen.queryByRole('dialog')).toBeNull());
    expect(await fake.rooms()).toHaveLength(0);

    await fireEvent.click(create);
    await fireEvent.click(await screen.findByTestId('use-lan'));
    const composer = await screen.findByLabelText('Message');
    await waitFor(() => expect(document.activeElement).toBe(composer));
    expect(app.nav.screen.kind).toBe('room');
    expect(fake.settings.server).toBe('http://127.0.0.1:8787');
    // Asked once: the next room is created at once.
    app.goHome();
    await fireEvent.click(await screen.findByRole('button', { name: /Create room/ }));
    await waitFor(() => expect(app.nav.screen.kind).toBe('room'));
    expect(screen.queryByRole('dialog')).toBeNull();
  });

  it('first run with a link: confirm, room with the composer focused; Create offers the link server', async () => {
    const link = 'https://chat.example/r/AAAAAAAAAAAAAAAAAAAAA#BBBBBBBBBBBBBBBBBBBB';
    const app = await start({ firstRun: true, startupLink: link });
    const dlg = await screen.findByRole('alertdialog', { name: 'Join this room?' });
    const join = within(dlg).getByRole('button', { name: 'Join' });
    await waitFor(() => expect(join.getAttribute('aria-disabled')).toBe('false'));
    await fireEvent.click(join);
    const composer = await screen.findByLabelText('Message');
    await waitFor(() => expect(document.activeElement).toBe(composer));
    expect(app.nav.screen.kind).toBe('room');
    expect(screen.queryByRole('dialog')).toBeNull();

    app.goHome();
    await fireEvent.click(await screen.findByRole('button', { name: /Create room/ }));
    await screen.findByRole('dialog', { name: 'Choose a server for new rooms' });
    const offered = screen.getByTestId('use-room-server');
    expect(offered.textContent).toContain('chat.example');
    expect(document.activeElement).toBe(offered);
    await fireEvent.click(offered);
    await waitFor(() => expect(app.nav.screen.kind).toBe('room'));
    expect(fake.settings.server).toBe('https://chat.example');
    expect(app.chat.view?.link.startsWith('https://chat.example/r/')).toBe(true);
  });

  it('the room header names the room once; the subtitle says the status, then the short safety number', async () => {
    const app = await start();
    await app.createRoom(false);
    const id = app.chat.view!.id;
    const header = (await screen.findByTestId('room-name')).closest('header')!;
    expect(header.textContent!.split(`Room ${id.slice(0, 6)}`).length - 1).toBe(1);
    expect(screen.getByTestId('room-subtitle').textContent).toBe('Waiting for peer');
    fake.peerJoins();
    await waitFor(() => expect(screen.getByTestId('room-subtitle').textContent).toBe('Verified · safety number 48213 90577 …'));
    fake.peerLeaves();
    await waitFor(() => expect(screen.getByTestId('room-subtitle').textContent).toBe('Peer left'));
  });

  it('creates a room and focuses the composer', async () => {
    await start();
    await fireEvent.click(screen.getByRole('button', { name: /Create room/ }));
    const box = await screen.findByLabelText('Message');
    expect(document.activeElement).toBe(box);
    expect(screen.getByTestId('status').textContent).toContain('Waiting for peer');
  });

  it('asks before joining the startup link; Join opens it with the composer focused', async () => {
    const link = 'https://s.example/r/AAAAAAAAAAAAAAAAAAAAA#BBBBBBBBBBBBBBBBBBBB';
    const app = await start({ startupLink: link });
    const dlg = await screen.findByRole('alertdialog', { name: 'Join this room?' });
    expect(screen.getByTestId('link-host').textContent).toBe('s.example');
    expect(screen.getByTestId('link-room').textContent).toContain('a new room');
    expect(app.nav.screen.kind).toBe('home');
    expect(await fake.rooms()).toHaveLength(0);
    const join = within(dlg).getByRole('button', { name: 'Join' });
    expect(document.activeElement).toBe(join);
    expect(dlg.contains(document.activeElement)).toBe(true);
    await waitFor(() => expect(join.getAttribute('aria-disabled')).toBe('false'));
    await fireEvent.click(join);
    const composer = await screen.findByLabelText('Message');
    await waitFor(() => expect(document.activeElement).toBe(composer));
    expect(app.nav.screen.kind).toBe('room');
    expect(fake.confirmed).toEqual([link]);
    expect(screen.queryByRole('alertdialog')).toBeNull();
  });

  it('asks before joining a link handed over later; Esc cancels, a bad one is explained', async () => {
    const app = await start();
    fake.openLink('nonsense');
    await screen.findByText('That does not look like a Parley room link.');
    expect(screen.queryByRole('alertdialog')).toBeNull();
    expect(fake.waitingLink()).toBe('');

    fake.openLink(fake.newLink());
    const dlg = await screen.findByRole('alertdialog', { name: 'Join this room?' });
    await fireEvent.keyDown(dlg, { key: 'Escape' });
    await waitFor(() => expect(screen.queryByRole('alertdialog')).toBeNull());
    expect(fake.waitingLink()).toBe('');
    expect(await fake.rooms()).toHaveLength(0);
    expect(app.nav.screen.kind).toBe('home');

    fake.openLink(fake.newLink());
    const join = within(await screen.findByRole('alertdialog')).getByRole('button', { name: 'Join' });
    await waitFor(() => expect(join.getAttribute('aria-disabled')).toBe('false'));
    await fireEvent.click(join);
    await screen.findByLabelText('Message');
    expect(app.nav.screen.kind).toBe('room');
  });

  it('names a known room of the same server by its local name', async () => {
    const app = await start();
    const v = await app.api.createRoom(0);
    await app.api.rename(v.id, 'Sam');
    fake.openLink(v.link);
    await screen.findByRole('alertdialog', { name: 'Join this room?' });
    expect(screen.getByTestId('link-room').textContent).toContain('Sam');
    expect(screen.getByTestId('link-host').textContent).toBe('signal.parley.example');
    fake.openLink(v.link.replace('signal.parley.example', 'evil.example'));
    await waitFor(() => expect(screen.getByTestId('link-host').textContent).toBe('evil.example'));
    expect(screen.getByTestId('link-room').textContent).toContain('a new room');
  });

  it('a pasted link joins without a question', async () => {
    const app = await start();
    await fireEvent.input(screen.getByLabelText('Room link'), { target: { value: fake.newLink() } });
    await fireEvent.click(screen.getByRole('button', { name: 'Join' }));
    await screen.findByLabelText('Message');
    expect(app.nav.screen.kind).toBe('room');
    expect(screen.queryByRole('alertdialog')).toBeNull();
    expect(fake.confirmed).toEqual([]);
  });

  it('goes home with "Room destroyed" when the peer destroys it', async () => {
    const app = await start();
    await app.createRoom(false);
    fake.closeRoom('ROOM_DESTROYED');
    await screen.findByText('Room destroyed.');
    expect(app.nav.screen.kind).toBe('home');
  });

  it('shows a changed key with both safety numbers, and reconnects only after Verify', async () => {
    const app = await start();
    await app.createRoom(false);
    fake.peerJoins();
    fake.peerKeyChanges();
    const notice = await screen.findByTestId('key-changed');
    expect(notice.textContent).toContain('The other person’s key changed');
    expect(screen.getByTestId('old-safety-number').textContent).toBe('48213 90577 13062 77410 35981 60244');
    expect(screen.getByTestId('new-safety-number').textContent).toBe('90210 11111 42424 31337 27182 81828');
    expect(screen.getByTestId('status').dataset.code).toBe('KEY_CHANGED');
    expect(screen.queryByRole('button', { name: 'Reconnect' })).toBeNull();
    expect(app.nav.screen.kind).toBe('room');
    await fireEvent.click(screen.getByRole('button', { name: 'Verify' }));
    await fireEvent.click(await screen.findByRole('button', { name: 'Trust new key' }));
    await vi.waitFor(() => expect(screen.getByTestId('status').dataset.status).toBe('verified'));
    expect(screen.queryByTestId('key-changed')).toBeNull();
  });

  it('keeps a room the server ended on its own, and deletes it on request', async () => {
    const app = await start();
    await app.createRoom(false);
    fake.peerJoins();
    fake.peerSays('still here');
    fake.serverEnds('ROOM_DESTROYED');
    const notice = await screen.findByTestId('room-ended');
    expect(notice.textContent).toContain('This room has ended');
    expect(notice.textContent).toContain('Your messages are kept on this computer');
    expect(screen.getByText('still here')).toBeTruthy();
    expect(app.nav.screen.kind).toBe('room');
    await fireEvent.click(screen.getByRole('button', { name: 'Delete from this computer' }));
    await fireEvent.click(await screen.findByRole('button', { name: 'Delete' }));
    await vi.waitFor(() => expect(app.nav.screen.kind).toBe('home'));
    expect(await fake.rooms()).toEqual([]);
  });

  it.each([
    ['KEYRING_UNAVAILABLE', 'The system keyring is locked or not available.'],
    ['PROFILE_IN_USE', 'Parley is already open with this profile.'],
  ] as const)('says why when the backend cannot load settings (%s)', async (code, sentence) => {
    fake = new FakeApi();
    fake.failNext('getSettings', code);
    const app = new AppState(fake);
    render(App, { app });
    await app.init();
    await screen.findByText(sentence);
  });
});
