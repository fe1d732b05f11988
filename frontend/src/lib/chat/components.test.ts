import { afterEach, describe, expect, it, vi } from 'vitest';
import { cleanup, fireEvent, render, screen } from '@testing-library/svelte';
import { tick } from 'svelte';
import Composer from './Composer.svelte';
import MessageBubble from './MessageBubble.svelte';
import StatusBar from './StatusBar.svelte';
import type { Message, RoomView } from '../types';
import { explain } from '../errors';

afterEach(() => cleanup());

function composer(onsend = vi.fn().mockResolvedValue(true)) {
  render(Composer, { error: null, sending: false, onsend, ontyping: vi.fn(), ondismiss: vi.fn() });
  return { box: screen.getByLabelText('Message') as HTMLTextAreaElement, onsend };
}

describe('Composer', () => {
  it('is focused when it appears', () => {
    const { box } = composer();
    expect(document.activeElement).toBe(box);
  });

  it('sends on Enter and clears', async () => {
    const { box, onsend } = composer();
    await fireEvent.input(box, { target: { value: 'hi' } });
    await fireEvent.keyDown(box, { key: 'Enter' });
    await vi.waitFor(() => expect(box.value).toBe(''));
    expect(onsend).toHaveBeenCalledWith('hi');
  });

  it.each([
    ['Shift+Enter', { key: 'Enter', shiftKey: true }],
    ['IME composing', { key: 'Enter', isComposing: true }],
  ])('does not send on %s', async (_n, ev) => {
    const { box, onsend } = composer();
    await fireEvent.input(box, { target: { value: 'hi' } });
    await fireEvent.keyDown(box, ev);
    expect(onsend).not.toHaveBeenCalled();
  });

  it('keeps the text when sending fails', async () => {
    const { box } = composer(vi.fn().mockResolvedValue(false));
    await fireEvent.input(box, { target: { value: 'keep me' } });
    await fireEvent.keyDown(box, { key: 'Enter' });
    await tick();
    expect(box.value).toBe('keep me');
  });

  it('shows why a send failed', () => {
    render(Composer, { error: explain('PEER_OFFLINE'), sending: false, onsend: vi.fn(), ontyping: vi.fn(), ondismiss: vi.fn() });
    expect(screen.getByRole('alert').textContent).toContain('the other person is offline');
  });
});

describe('MessageBubble', () => {
  const msg = (over: Partial<Message>): Message => ({
    id: 'm1',
    roomId: 'r',
    outgoing: false,
    text: '',
    sentAt: Date.now(),
    state: '',
    ...over,
  });

  it('renders peer HTML as text', () => {
    const { container } = render(MessageBubble, {
      message: msg({ text: '<img src=x onerror=alert(1)><script>bad()</script>' }),
      onlink: vi.fn(),
      oncopy: vi.fn(),
    });
    expect(container.querySelector('img, script')).toBeNull();
    expect(container.textContent).toContain('<img src=x onerror=alert(1)>');
  });

  it('opens links through onlink, never navigating', async () => {
    const onlink = vi.fn();
    render(MessageBubble, { message: msg({ text: 'go https://x.example/p now' }), onlink, oncopy: vi.fn() });
    const a = screen.getByRole('link');
    const ev = new MouseEvent('click', { bubbles: true, cancelable: true });
    a.dispatchEvent(ev);
    expect(ev.defaultPrevented).toBe(true);
    expect(onlink).toHaveBeenCalledWith('https://x.example/p');
  });

  it.each([
    ['sent', 'Sent'],
    ['delivered', 'Delivered'],
    ['failed', 'Not delivered'],
  ] as const)('outgoing %s shows "%s"', (state, label) => {
    render(MessageBubble, { message: msg({ outgoing: true, text: 'x', state }), onlink: vi.fn(), oncopy: vi.fn() });
    expect(screen.getByTestId('delivery').textContent).toContain(label);
  });
});

describe('StatusBar', () => {
  const view = (over: Partial<RoomView>): RoomView => ({
    id: 'r',
    name: '',
    link: '',
    lastActive: 0,
    lastPreview: '',
    expiresAt: null,
    open: true,
    status: 'waiting',
    route: '',
    code: '',
    messages: [],
    older: false,
    safetyNumber: '',
    keyChange: null,
    ended: '',
    keyChanged: false,
    statusSeq: 0,
    ...over,
  });

  it('shows the countdown of a self-destructing room', () => {
    render(StatusBar, { view: view({ expiresAt: Date.now() + 600_000 }), onretry: vi.fn() });
    expect(screen.getByTestId('countdown').textContent).toMatch(/Self-destructs in (10:00|9:59)/);
  });

  it('offers to reconnect after an error', async () => {
    const onretry = vi.fn();
    render(StatusBar, { view: view({ status: 'closed', code: 'TIMEOUT' }), onretry });
    expect(screen.getByTestId('status').textContent).toContain('took too long');
    await fireEvent.click(screen.getByRole('button', { name: 'Reconnect' }));
    expect(onretry).toHaveBeenCalled();
  });
});
