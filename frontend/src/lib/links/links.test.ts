import { afterEach, describe, expect, it, vi } from 'vitest';
import { cleanup, fireEvent, render, screen, waitFor } from '@testing-library/svelte';
import LinkDialog from './LinkDialog.svelte';
import { LinksStore } from './links.svelte';
import { AppState } from '../app-state.svelte';
import { FakeApi } from '../fake-api';
import type { PendingLink } from '../types';

let fake: FakeApi | undefined;
afterEach(() => {
  cleanup();
  fake?.dispose();
  fake = undefined;
});

const NEW: PendingLink = {
  id: 7,
  server: 'https://chat.example:8443',
  host: 'chat.example:8443',
  known: false,
  roomId: '',
  roomName: '',
  code: '',
  detail: '',
};

describe('LinkDialog', () => {
  it('names the server and a new room, focuses Join and answers only once armed', async () => {
    const onjoin = vi.fn();
    const oncancel = vi.fn();
    render(LinkDialog, { pending: NEW, armMs: 150, onjoin, oncancel });
    const dlg = await screen.findByRole('alertdialog', { name: 'Join this room?' });
    expect(screen.getByTestId('link-host').textContent).toBe('chat.example:8443');
    expect(screen.getByTestId('link-room').textContent).toBe('a new room');
    const join = screen.getByRole('button', { name: 'Join' });
    await waitFor(() => expect(document.activeElement).toBe(join));
    expect(dlg.contains(document.activeElement)).toBe(true);

    // An Enter meant for something else, the moment the dialog shows.
    await fireEvent.click(join);
    expect(onjoin).not.toHaveBeenCalled();
    expect(join.getAttribute('aria-disabled')).toBe('true');

    await waitFor(() => expect(join.getAttribute('aria-disabled')).toBe('false'));
    await fireEvent.click(join);
    expect(onjoin).toHaveBeenCalledWith(7);
    expect(oncancel).not.toHaveBeenCalled();
  });

  it('cancels with Esc and with Cancel', async () => {
    const oncancel = vi.fn();
    render(LinkDialog, { pending: NEW, onjoin: vi.fn(), oncancel });
    await fireEvent.keyDown(await screen.findByRole('alertdialog'), { key: 'Escape' });
    await fireEvent.click(screen.getByRole('button', { name: 'Cancel' }));
    expect(oncancel.mock.calls).toEqual([[7], [7]]);
  });

  it.each([
    ['named', 'Sam', 'Sam'],
    ['unnamed', '', 'Room abcdef'],
  ])('names a known room (%s)', async (_n, roomName, shown) => {
    render(LinkDialog, { pending: { ...NEW, known: true, roomId: 'abcdefghijklmnopqrstu', roomName }, onjoin: vi.fn(), oncancel: vi.fn() });
    const room = await screen.findByTestId('link-room');
    expect(room.textContent).toContain(shown);
    expect(room.textContent).not.toContain('a new room');
  });
});

describe('LinksStore', () => {
  it('turns a bad link into a notice and drops it in Go', async () => {
    fake = new FakeApi({ startupLink: 'https://s.example/r/short#x' });
    const cancel = vi.spyOn(fake, 'cancelLink');
    const bad: string[] = [];
    const s = new LinksStore(fake, (c) => bad.push(c));
    await s.load();
    expect(bad).toEqual(['BAD_LINK']);
    expect(s.pending).toBeNull();
    expect(cancel).toHaveBeenCalledWith(1);
    expect(fake.waitingLink()).toBe('');
  });

  it('keeps a newer link that an event brought while it asked', async () => {
    fake = new FakeApi({ startupLink: linkOf('A') });
    const s = new LinksStore(fake, () => {});
    s.start();
    const older = await fake.pendingLink();
    fake.openLink(linkOf('B'));
    const newer = s.pending;
    expect(newer && newer.id > older.id).toBe(true);
    vi.spyOn(fake, 'pendingLink').mockResolvedValueOnce(older);
    await s.load();
    expect(s.pending?.id).toBe(newer?.id);
    expect(s.take(older.id)).toBeNull();
    expect(s.take(newer!.id)?.id).toBe(newer!.id);
    expect(s.pending).toBeNull();
    s.stop();
  });
});

describe('AppState.confirmLink', () => {
  it('joins nothing when another link took the place of the one shown', async () => {
    fake = new FakeApi({ startupLink: linkOf('A') });
    const app = new AppState(fake);
    await app.init();
    const shown = app.links.pending!;
    fake.openLink(linkOf('B'));
    expect(await app.confirmLink(shown.id)).toBe(false);
    expect(fake.confirmed).toEqual([]);
    expect(await fake.rooms()).toHaveLength(0);
    expect(app.links.pending?.id).toBeGreaterThan(shown.id);

    // Go replaced it too, behind the UI's back: Go refuses, the newer one stays.
    const current = app.links.pending!;
    fake.openLink(linkOf('C'));
    app.links.pending = current;
    expect(await app.confirmLink(current.id)).toBe(false);
    expect(fake.confirmed).toEqual([]);
    expect(app.links.pending?.id).toBeGreaterThan(current.id);
    expect(app.nav.screen.kind).toBe('home');
    app.dispose();
  });
});

/** A well-formed link whose room id is made of c. */
function linkOf(c: string): string {
  return `https://signal.parley.example/r/${c.repeat(21)}#${'s'.repeat(43)}`;
}
