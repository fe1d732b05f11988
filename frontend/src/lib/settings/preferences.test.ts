import { afterEach, describe, expect, it, vi } from 'vitest';
import { cleanup, fireEvent, render, screen } from '@testing-library/svelte';
import Preferences from './Preferences.svelte';
import { SettingsStore } from './settings.svelte';
import { FakeApi } from '../fake-api';

afterEach(() => cleanup());

async function setup() {
  const api = new FakeApi();
  const store = new SettingsStore(api);
  await store.load();
  const ondone = vi.fn();
  render(Preferences, { store, ondone });
  return { api, store, ondone };
}

describe('Preferences', () => {
  it('shows the current values and saves a new limit and relay-only', async () => {
    const { api, store, ondone } = await setup();
    const limit = screen.getByLabelText(/without asking/) as HTMLInputElement;
    const relay = screen.getByTestId('relay-only') as HTMLInputElement;
    expect(limit.value).toBe('200');
    expect(relay.checked).toBe(false);

    await fireEvent.input(limit, { target: { value: '50' } });
    await fireEvent.click(relay);
    await fireEvent.click(screen.getByRole('button', { name: 'Save' }));
    await vi.waitFor(() => expect(ondone).toHaveBeenCalled());
    const s = await api.getSettings();
    expect(s.autoAcceptMaxBytes).toBe(50_000_000);
    expect(s.relayOnly).toBe(true);
    expect(store.value?.relayOnly).toBe(true);
  });

  it('refuses a value it cannot use and says why', async () => {
    const { api, ondone } = await setup();
    const limit = screen.getByLabelText(/without asking/) as HTMLInputElement;
    await fireEvent.input(limit, { target: { value: '-5' } });
    expect(screen.getByRole('alert').textContent).toContain('whole number of megabytes');
    expect((screen.getByRole('button', { name: 'Save' }) as HTMLButtonElement).disabled).toBe(true);
    await fireEvent.submit(screen.getByTestId('preferences'));
    expect(ondone).not.toHaveBeenCalled();
    expect((await api.getSettings()).autoAcceptMaxBytes).toBe(200_000_000);
  });

  it('saves 0, after which even a tiny or empty file is asked about', async () => {
    const { api, ondone } = await setup();
    const limit = screen.getByLabelText(/without asking/) as HTMLInputElement;
    await fireEvent.input(limit, { target: { value: '0' } });
    await fireEvent.click(screen.getByRole('button', { name: 'Save' }));
    await vi.waitFor(() => expect(ondone).toHaveBeenCalled());
    expect((await api.getSettings()).autoAcceptMaxBytes).toBe(0);
    const offers: string[] = [];
    api.on('transfer:offer', (o) => offers.push(o.name));
    const room = await api.createRoom(0);
    api.peerSendsFile('tiny.txt', 10, room.id);
    api.peerSendsFile('empty.txt', 0, room.id);
    expect(offers).toEqual(['tiny.txt', 'empty.txt']);
  });

  it('0 means always ask; Cancel keeps everything', async () => {
    const { api, ondone } = await setup();
    const limit = screen.getByLabelText(/without asking/) as HTMLInputElement;
    await fireEvent.input(limit, { target: { value: '0' } });
    await fireEvent.click(screen.getByRole('button', { name: 'Cancel' }));
    expect(ondone).toHaveBeenCalled();
    expect((await api.getSettings()).autoAcceptMaxBytes).toBe(200_000_000);
  });
});
