import { afterEach, describe, expect, it } from 'vitest';
import { cleanup, fireEvent, render, screen } from '@testing-library/svelte';
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
  it('asks for a server on first run', async () => {
    await start({ firstRun: true });
    expect(screen.getByRole('heading', { name: 'Choose a server for new rooms' })).toBeTruthy();
    await fireEvent.click(screen.getByTestId('use-lan'));
    await screen.findByRole('button', { name: /Create room/ });
  });

  it('creates a room and focuses the composer', async () => {
    await start();
    await fireEvent.click(screen.getByRole('button', { name: /Create room/ }));
    const box = await screen.findByLabelText('Message');
    expect(document.activeElement).toBe(box);
    expect(screen.getByTestId('status').textContent).toContain('Waiting for peer');
  });

  it('opens the startup link', async () => {
    const link = 'https://s.example/r/AAAAAAAAAAAAAAAAAAAAA#BBBBBBBBBBBBBBBBBBBB';
    const app = await start({ startupLink: link });
    expect(app.nav.screen.kind).toBe('room');
    expect(document.activeElement).toBe(await screen.findByLabelText('Message'));
  });

  it('opens a link handed over later and explains a bad one', async () => {
    const app = await start();
    fake.openLink('nonsense');
    await screen.findByText('That does not look like a Parley room link.');
    fake.openLink(fake.newLink());
    await screen.findByLabelText('Message');
    expect(app.nav.screen.kind).toBe('room');
  });

  it('goes home with "Room destroyed" when the peer destroys it', async () => {
    const app = await start();
    await app.createRoom(false);
    fake.closeRoom('ROOM_DESTROYED');
    await screen.findByText('Room destroyed.');
    expect(app.nav.screen.kind).toBe('home');
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
