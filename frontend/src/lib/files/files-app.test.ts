// The file-transfer pieces inside the whole app (App.svelte + AppState)
// against the fake backend.
import { afterEach, describe, expect, it } from 'vitest';
import { cleanup, fireEvent, render, screen } from '@testing-library/svelte';
import App from '../../App.svelte';
import { AppState } from '../app-state.svelte';
import { FakeApi } from '../fake-api';

let fake: FakeApi;
afterEach(() => {
  cleanup();
  fake?.dispose();
});

async function inRoom() {
  fake = new FakeApi({ transferTickMs: 20, transferRate: 50_000_000 });
  const app = new AppState(fake);
  render(App, { app });
  await app.init();
  await app.createRoom(false);
  fake.peerJoins();
  await screen.findByLabelText('Message');
  return app;
}

describe('files in the app', () => {
  it('tells Go which room is in view, and "" at home', async () => {
    const app = await inRoom();
    expect(fake.activeRooms).toEqual([fake.lastRoomId()]);
    app.goHome();
    expect(fake.activeRooms).toEqual([fake.lastRoomId(), '']);
  });

  it('paperclip sends a file whose card runs to done', async () => {
    await inRoom();
    fake.willPick([{ name: 'notes.pdf', size: 2_000_000 }]);
    await fireEvent.click(screen.getByRole('button', { name: 'Send files' }));
    const card = await screen.findByTestId('transfer');
    expect(card.textContent).toContain('notes.pdf');
    await screen.findByText('Sent');
    expect(card.dataset.state).toBe('done');
  });

  it('Ctrl+Shift+A opens the file dialog', async () => {
    await inRoom();
    fake.willPick([{ name: 'k.txt', size: 10 }]);
    await fireEvent.keyDown(window, { key: 'A', ctrlKey: true, shiftKey: true });
    expect((await screen.findByTestId('transfer-name')).textContent).toBe('k.txt');
  });

  it('a failing pick is explained in a toast', async () => {
    await inRoom();
    fake.failNext('pickAndSendFiles', 'FILE_UNREADABLE');
    await fireEvent.click(screen.getByRole('button', { name: 'Send files' }));
    expect((await screen.findByTestId('toast')).textContent).toContain('Parley could not read this file.');
  });

  it('asks about a big file; Esc declines', async () => {
    await inRoom();
    const id = fake.peerSendsFile('film.mov', 900_000_000);
    const dlg = await screen.findByRole('alertdialog', { name: 'Accept a large file?' });
    await fireEvent.keyDown(dlg, { key: 'Escape' });
    await screen.findByText('Canceled');
    expect(fake.answers).toEqual([[id, false]]);
    expect(screen.queryByRole('alertdialog')).toBeNull();
  });

  it('shows the drop hint when Go sends dropped files', async () => {
    await inRoom();
    await fake.dropFiles(['/x/a.txt']);
    expect((await screen.findByTestId('drop-hint')).textContent).toContain('Sending 1 file');
  });
});
