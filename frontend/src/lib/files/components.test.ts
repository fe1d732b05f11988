import { afterEach, describe, expect, it, vi } from 'vitest';
import { cleanup, fireEvent, render, screen } from '@testing-library/svelte';
import TransferCard from './TransferCard.svelte';
import OfferDialog from './OfferDialog.svelte';
import DropHint from './DropHint.svelte';
import MessageList from '../chat/MessageList.svelte';
import type { Message, Transfer } from '../types';

afterEach(() => cleanup());

const tr = (over: Partial<Transfer>): Transfer => ({
  id: 't1',
  roomId: 'r',
  name: 'report.pdf',
  outgoing: true,
  bytes: 0,
  total: 31_000_000,
  rate: 0,
  etaSeconds: 0,
  state: 'waiting',
  error: '',
  path: '/home/you/report.pdf',
  image: '',
  imageError: '',
  ...over,
});

function card(over: Partial<Transfer>) {
  const props = { transfer: tr(over), oncancel: vi.fn(), onopen: vi.fn(), onshow: vi.fn() };
  const r = render(TransferCard, props);
  return { ...props, ...r };
}

describe('TransferCard', () => {
  it('shows progress with bytes, rate and time left, and cancels', async () => {
    const c = card({ state: 'active', bytes: 7_000_000, rate: 2_600_000, etaSeconds: 9.2 });
    expect(screen.getByTestId('transfer-state').textContent).toBe('Sending');
    expect(screen.getByRole('progressbar').getAttribute('aria-valuenow')).toBe('22');
    expect(screen.getByTestId('transfer-progress').textContent).toContain('7.0 MB of 31.0 MB');
    expect(screen.getByTestId('transfer-progress').textContent).toContain('2.6 MB/s · 10 s left');
    await fireEvent.click(screen.getByRole('button', { name: 'Cancel sending report.pdf' }));
    expect(c.oncancel).toHaveBeenCalledWith(expect.objectContaining({ id: 't1' }));
  });

  it('shows a folder as one item with its files, and files and bytes while it runs', () => {
    card({ name: 'photos', folder: true, files: 312, filesDone: 40, skipped: 2, state: 'active', bytes: 7_000_000 });
    expect(screen.getByTestId('transfer-name').textContent).toBe('photos/');
    expect(screen.getByTestId('transfer-size').textContent).toBe('312 files · 31.0 MB · 2 links or special files skipped');
    expect(screen.getByTestId('transfer-progress').textContent).toContain('40 of 312 files · 7.0 MB of 31.0 MB');
  });

  it('can cancel while waiting, but shows no numbers yet', () => {
    card({ state: 'waiting', outgoing: false });
    expect(screen.getByRole('button', { name: 'Cancel receiving report.pdf' })).toBeTruthy();
    expect(screen.queryByTestId('transfer-progress')).toBeNull();
  });

  it('offers Open and Show in folder for a received file', async () => {
    const c = card({ state: 'done', outgoing: false, path: '/dl/report.pdf', bytes: 31_000_000 });
    expect(screen.queryByRole('button', { name: /Cancel/ })).toBeNull();
    await fireEvent.click(screen.getByRole('button', { name: 'Open report.pdf' }));
    await fireEvent.click(screen.getByRole('button', { name: 'Show report.pdf in folder' }));
    expect(c.onopen).toHaveBeenCalledTimes(1);
    expect(c.onshow).toHaveBeenCalledTimes(1);
    expect(screen.getByTestId('transfer-state').textContent).toBe('Received');
  });

  it.each([
    ['sent file', { state: 'done', outgoing: true }],
    ['canceled', { state: 'canceled', outgoing: false }],
    ['failed', { state: 'failed', outgoing: false, error: 'TRANSFER_FAILED: x' }],
  ] as const)('no actions for a %s', (_n, over) => {
    card(over);
    expect(screen.queryAllByRole('button')).toHaveLength(0);
  });

  it('explains a failure with a next step', () => {
    card({ state: 'failed', error: 'TRANSFER_FAILED: SHA-256 mismatch' });
    const err = screen.getByTestId('transfer-error');
    expect(err.dataset.code).toBe('TRANSFER_FAILED');
    expect(err.textContent).toContain('The file was damaged in transit and was not saved. Send it again.');
    expect(err.textContent).not.toContain('SHA-256');
  });

  it('renders a hostile name as text, full name in the tooltip', () => {
    const name = '<img src=x onerror=alert(1)>' + 'very long '.repeat(20) + '.pdf';
    const { container } = card({ name });
    expect(container.querySelector('img')).toBeNull();
    const el = screen.getByTestId('transfer-name');
    expect(el.getAttribute('title')).toBe(name);
    expect(el.textContent).toBe(name);
  });
});

describe('OfferDialog', () => {
  const offer = { roomId: 'r', id: 't9', name: 'film.mov', size: 2_400_000_000 };

  it('asks with name, size, room and folder; Esc declines', async () => {
    const onanswer = vi.fn();
    render(OfferDialog, { offer, roomName: 'Sam', downloadDir: '/dl', onanswer });
    const dlg = screen.getByRole('alertdialog', { name: 'Accept a large file?' });
    expect(dlg.textContent).toContain('film.mov');
    expect(dlg.textContent).toContain('2.4 GB');
    expect(dlg.textContent).toContain('Sam');
    expect(dlg.textContent).toContain('/dl');
    await vi.waitFor(() => expect(document.activeElement?.textContent).toBe('Decline'));
    await fireEvent.keyDown(dlg, { key: 'Escape' });
    expect(onanswer).toHaveBeenCalledWith(false);
  });

  it('asks once for a whole folder, with its files and total', () => {
    const folder = { roomId: 'r', id: 'f1', name: 'photos', size: 1_800_000_000, folder: true, files: 312 };
    render(OfferDialog, { offer: folder, roomName: 'Sam', downloadDir: '/dl', onanswer: vi.fn() });
    const dlg = screen.getByRole('alertdialog', { name: 'Accept a large folder?' });
    expect(dlg.textContent).toContain('photos/');
    expect(dlg.textContent).toContain('312 files · 1.8 GB');
    expect(dlg.textContent).toContain('send you this folder');
  });

  it('accepts', async () => {
    const onanswer = vi.fn();
    render(OfferDialog, { offer, roomName: 'Sam', downloadDir: '', onanswer });
    expect(screen.getByRole('alertdialog').textContent).toContain('your download folder');
    await fireEvent.click(screen.getByRole('button', { name: 'Accept' }));
    expect(onanswer).toHaveBeenCalledWith(true);
  });
});

describe('DropHint', () => {
  it.each([
    [0, 'Drop files to send them'],
    [1, 'Sending 1 file'],
    [3, 'Sending 3 files'],
  ])('count %d says "%s"', (count, words) => {
    render(DropHint, { roomName: 'Sam', count });
    expect(screen.getByTestId('drop-hint').textContent).toContain(words);
    expect(screen.getByTestId('drop-hint').textContent).toContain('to Sam');
  });
});

describe('MessageList with transfers', () => {
  it('places cards among messages by time', () => {
    const msg = (id: string, sentAt: number): Message => ({ id, roomId: 'r', outgoing: false, text: id, sentAt, state: '' });
    const base = new Date(2026, 0, 5, 12).getTime();
    const { container } = render(MessageList, {
      messages: [msg('first', base), msg('second', base + 2000)],
      transfers: [
        { at: base + 1000, t: tr({ id: 'a', name: 'a.pdf' }) },
        { at: base + 3000, t: tr({ id: 'b', name: 'b.pdf' }) },
      ],
      unreadFrom: '',
      unseen: 0,
      onbottom: vi.fn(),
      onlink: vi.fn(),
      oncopy: vi.fn(),
    });
    const order = Array.from(container.querySelectorAll('[data-testid="message"] .text, [data-testid="transfer-name"]')).map(
      (e) => e.textContent,
    );
    expect(order).toEqual(['first', 'a.pdf', 'second', 'b.pdf']);
    expect(screen.queryByText(/No messages yet/)).toBeNull();
  });
});
