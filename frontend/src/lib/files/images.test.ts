import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { cleanup, fireEvent, render, screen } from '@testing-library/svelte';
import { FakeApi, FAKE_BOMB, FAKE_PASTE_DIR, FAKE_THUMB } from '../fake-api';
import { blobBase64, MAX_PASTE_BYTES, TransfersStore, type Viewer } from './transfers.svelte';
import TransferCard from './TransferCard.svelte';
import ImageViewer from './ImageViewer.svelte';
import Composer from '../chat/Composer.svelte';
import type { Transfer } from '../types';

// A 1 × 1 PNG.
const PNG_B64 =
  'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==';
const pngBlob = () => new Blob([Uint8Array.from(atob(PNG_B64), (c) => c.charCodeAt(0))], { type: 'image/png' });

const tr = (over: Partial<Transfer>): Transfer => ({
  id: 't1',
  roomId: 'r',
  name: 'beach.jpg',
  outgoing: false,
  bytes: 1000,
  total: 1000,
  rate: 0,
  etaSeconds: 0,
  state: 'done',
  error: '',
  path: '/dl/beach.jpg',
  image: '',
  imageError: '',
  ...over,
});

describe('TransfersStore images', () => {
  let fake: FakeApi;
  let store: TransfersStore;

  beforeEach(() => {
    vi.useFakeTimers();
    fake = new FakeApi({ transferRate: 1_000_000, transferTickMs: 100 });
    store = new TransfersStore(fake, () => 1_000);
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

  it('follows a received image to a loaded thumbnail, and a bomb to a refusal', async () => {
    const id = await room();
    fake.peerSendsFile('beach.jpg', 100_000, id);
    fake.peerSendsFile(`${FAKE_BOMB}.png`, 100_000, id);
    fake.peerSendsFile('notes.txt', 100_000, id);
    await vi.advanceTimersByTimeAsync(400);
    const [img, bomb, txt] = store.forRoom(id).map((e) => e.t);
    expect(img).toMatchObject({ state: 'done', image: 'ready' });
    expect(bomb).toMatchObject({ state: 'done', image: 'failed' });
    expect(bomb!.imageError).toMatch(/^IMAGE_TOO_LARGE: /);
    expect(txt).toMatchObject({ state: 'done', image: '' });
    expect(store.thumbOf(img!)).toBe('');
    await store.loadThumb(img!);
    expect(store.thumbOf(img!)).toBe(FAKE_THUMB);
    // Not ready: nothing is asked.
    const spy = vi.spyOn(fake, 'thumbnail');
    await store.loadThumb(txt!);
    await store.loadThumb(img!); // loaded already
    expect(spy).not.toHaveBeenCalled();
  });

  it('opens the viewer with Go’s view, or the reason it cannot', async () => {
    const id = await room();
    fake.peerSendsFile('beach.jpg', 100_000, id);
    fake.peerSendsFile(`${FAKE_BOMB}.png`, 100_000, id);
    await vi.advanceTimersByTimeAsync(400);
    const [img, bomb] = store.forRoom(id).map((e) => e.t);
    const opening = store.view(img!);
    expect(store.viewer).toMatchObject({ view: null, error: null });
    await opening;
    expect(store.viewer?.view).toMatchObject({ dataUrl: FAKE_THUMB, sourceWidth: 4800, name: 'beach.jpg' });
    await store.view(bomb!);
    expect(store.viewer?.error?.code).toBe('IMAGE_TOO_LARGE');
    store.closeViewer();
    expect(store.viewer).toBeNull();
  });

  it('sends a pasted image as a file, and refuses what is not one or too big', async () => {
    const id = await room();
    await store.paste(id, pngBlob());
    expect(fake.pasted).toHaveLength(1);
    const t = store.forRoom(id)[0]!.t;
    expect(t.name).toMatch(/^pasted-\d{8}-\d{6}\.png$/);
    expect(t).toMatchObject({ outgoing: true, path: `${FAKE_PASTE_DIR}/${t.name}` });
    expect(store.pasting).toBe(false);
    await vi.advanceTimersByTimeAsync(300);
    const done = store.forRoom(id)[0]!.t;
    expect(done).toMatchObject({ state: 'done', image: 'ready' });
    await store.loadThumb(done);
    expect(store.thumbOf(done)).toBe(`data:image/png;base64,${PNG_B64}`);

    await expect(store.paste(id, new Blob(['plain words'], { type: 'image/png' }))).rejects.toMatchObject({
      code: 'NOT_AN_IMAGE',
    });
    const huge = { size: MAX_PASTE_BYTES + 1 } as Blob;
    await expect(store.paste(id, huge)).rejects.toMatchObject({ code: 'IMAGE_TOO_LARGE' });
    expect(fake.pasted).toHaveLength(1);
  });

  it('drops a room’s thumbnails with its finished cards (Clear messages)', async () => {
    const id = await room();
    fake.peerSendsFile('beach.jpg', 100_000, id);
    await vi.advanceTimersByTimeAsync(300);
    const img = store.forRoom(id)[0]!.t;
    await store.loadThumb(img);
    store.clearFinished(id);
    expect(store.thumbOf(img)).toBe('');
  });

  it('encodes blobs as standard base64', async () => {
    expect(await blobBase64(pngBlob())).toBe(PNG_B64);
    expect(await blobBase64(new Blob([]))).toBe('');
  });
});

describe('TransferCard images', () => {
  afterEach(() => cleanup());

  it('shows the thumbnail and opens the viewer on click', async () => {
    const onview = vi.fn();
    render(TransferCard, {
      transfer: tr({ image: 'ready' }),
      thumb: FAKE_THUMB,
      oncancel: vi.fn(),
      onopen: vi.fn(),
      onshow: vi.fn(),
      onview,
    });
    const img = screen.getByAltText('Preview of beach.jpg') as HTMLImageElement;
    expect(img.src).toBe(FAKE_THUMB);
    await fireEvent.click(screen.getByRole('button', { name: 'View beach.jpg' }));
    expect(onview).toHaveBeenCalledWith(expect.objectContaining({ id: 't1' }));
  });

  it('asks for a ready thumbnail it does not have', () => {
    const onloadthumb = vi.fn();
    render(TransferCard, {
      transfer: tr({ image: 'ready' }),
      oncancel: vi.fn(),
      onopen: vi.fn(),
      onshow: vi.fn(),
      onloadthumb,
    });
    expect(onloadthumb).toHaveBeenCalledTimes(1);
    expect(screen.queryByTestId('thumbnail')).toBeNull();
  });

  it('says why there is no preview, and stays a plain file card for other files', () => {
    render(TransferCard, {
      transfer: tr({ image: 'failed', imageError: 'IMAGE_TOO_LARGE: 100000 × 100000 pixels' }),
      oncancel: vi.fn(),
      onopen: vi.fn(),
      onshow: vi.fn(),
    });
    const note = screen.getByTestId('image-note');
    expect(note.dataset.code).toBe('IMAGE_TOO_LARGE');
    expect(note.textContent).toContain('too large');
    expect(screen.getByRole('button', { name: 'Open beach.jpg' })).toBeTruthy();
    cleanup();
    render(TransferCard, { transfer: tr({ name: 'a.txt' }), oncancel: vi.fn(), onopen: vi.fn(), onshow: vi.fn() });
    expect(screen.queryByTestId('image-note')).toBeNull();
    expect(screen.queryByTestId('thumbnail')).toBeNull();
  });
});

describe('ImageViewer', () => {
  afterEach(() => cleanup());

  const viewer = (over: Partial<Viewer> = {}): Viewer => ({
    t: tr({ image: 'ready' }),
    view: { dataUrl: FAKE_THUMB, width: 2048, height: 1365, sourceWidth: 6000, sourceHeight: 4000, name: 'beach.jpg' },
    error: null,
    ...over,
  });

  it('shows the image, focuses Close, closes on Esc and opens the original', async () => {
    const onclose = vi.fn();
    const onopen = vi.fn();
    render(ImageViewer, { viewer: viewer(), onclose, onopen });
    const dlg = screen.getByRole('dialog', { name: 'Image: beach.jpg' });
    expect(dlg.getAttribute('aria-modal')).toBe('true');
    expect((screen.getByTestId('image-full') as HTMLImageElement).src).toBe(FAKE_THUMB);
    expect(screen.getByTestId('image-dims').textContent).toBe('6000 × 4000 (shown smaller)');
    await vi.waitFor(() => expect(document.activeElement).toBe(screen.getByRole('button', { name: 'Close' })));
    await fireEvent.click(screen.getByRole('button', { name: /Open in image viewer/ }));
    expect(onopen).toHaveBeenCalledTimes(1);
    await fireEvent.keyDown(dlg, { key: 'Escape' });
    expect(onclose).toHaveBeenCalledTimes(1);
  });

  it('explains a refusal and offers no system viewer for a sent file', () => {
    render(ImageViewer, {
      viewer: viewer({
        t: tr({ outgoing: true }),
        view: null,
        error: { code: 'IMAGE_UNREADABLE', sentence: 'Parley could not read this image.', next: 'Try.' },
      }),
      onclose: vi.fn(),
      onopen: vi.fn(),
    });
    expect(screen.getByTestId('image-viewer-error').dataset.code).toBe('IMAGE_UNREADABLE');
    expect(screen.queryByRole('button', { name: /Open in image viewer/ })).toBeNull();
  });
});

describe('Composer paste', () => {
  afterEach(() => cleanup());

  function composer() {
    const onpasteimage = vi.fn();
    render(Composer, {
      error: null,
      sending: false,
      onsend: vi.fn(async () => true),
      ontyping: vi.fn(),
      ondismiss: vi.fn(),
      onpasteimage,
    });
    return { onpasteimage, area: screen.getByTestId('composer') as HTMLTextAreaElement };
  }

  function paste(target: HTMLElement, files: File[], text = '') {
    const ev = new Event('paste', { bubbles: true, cancelable: true }) as ClipboardEvent;
    const items = files.map((f) => ({ kind: 'file', type: f.type, getAsFile: () => f }));
    if (text) items.push({ kind: 'string', type: 'text/plain', getAsFile: () => null as unknown as File });
    Object.defineProperty(ev, 'clipboardData', {
      value: { files, items, getData: (t: string) => (t === 'text/plain' ? text : '') },
    });
    target.dispatchEvent(ev);
    return ev;
  }

  it('hands a pasted image to the room and keeps it out of the text', () => {
    const { onpasteimage, area } = composer();
    const f = new File([pngBlob()], 'image.png', { type: 'image/png' });
    const ev = paste(area, [f]);
    expect(ev.defaultPrevented).toBe(true);
    expect(onpasteimage).toHaveBeenCalledWith(f);
  });

  it('leaves a text paste (and a non-image file) to the field', () => {
    const { onpasteimage, area } = composer();
    expect(paste(area, [], 'hello').defaultPrevented).toBe(false);
    expect(paste(area, [new File(['x'], 'a.txt', { type: 'text/plain' })]).defaultPrevented).toBe(false);
    expect(onpasteimage).not.toHaveBeenCalled();
  });
});
