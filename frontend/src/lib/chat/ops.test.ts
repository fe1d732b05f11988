import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { fireEvent, render, screen } from '@testing-library/svelte';
import { FakeApi } from '../fake-api';
import { ChatStore } from './chat.svelte';
import MessageBubble from './MessageBubble.svelte';
import type { Message } from '../types';

let fake: FakeApi;
let chat: ChatStore;

beforeEach(() => {
  localStorage.clear();
  fake = new FakeApi({ ackDelayMs: 0 });
  chat = new ChatStore(fake, { onGone: () => {} });
  chat.start();
});
afterEach(() => {
  chat.stop();
  fake.dispose();
});

async function openConnected() {
  const v = await fake.createRoom(0);
  chat.show(v);
  fake.peerJoins(v.id);
  return v;
}

const byText = (t: string) => chat.view!.messages.find((m) => m.text === t)!;

describe('ChatStore message operations', () => {
  it('reply sends an answer naming the message, then goes back to new messages', async () => {
    await openConnected();
    const theirs = fake.peerSays('question?')!;
    chat.startReply(byText('question?'));
    expect(await chat.send('answer')).toBe(true);
    expect(byText('answer').replyTo).toBe(theirs.id);
    expect(chat.replyingTo).toBeNull();
    expect(await chat.send('plain')).toBe(true);
    expect(byText('plain').replyTo).toBe('');
  });

  it('edit changes our message in place; the other person cannot be edited', async () => {
    await openConnected();
    await chat.send('teh typo');
    const mine = byText('teh typo');
    chat.startEdit(mine);
    expect(chat.editing?.id).toBe(mine.id);
    expect(await chat.send('the typo')).toBe(true);
    expect(chat.view!.messages).toHaveLength(1);
    expect(chat.view!.messages[0]).toMatchObject({ id: mine.id, text: 'the typo', edited: true });
    expect(chat.editing).toBeNull();

    fake.peerSays('theirs');
    chat.startEdit(byText('theirs'));
    expect(chat.editing).toBeNull();
    await expect(fake.edit(chat.view!.id, byText('theirs').id, 'x')).rejects.toMatchObject({ code: 'CANNOT_CHANGE' });
  });

  it('a failed edit keeps the edit open and says why', async () => {
    const v = await openConnected();
    await chat.send('draft');
    chat.startEdit(byText('draft'));
    fake.peerLeaves(v.id);
    expect(await chat.send('final')).toBe(false);
    expect(chat.composerError?.code).toBe('PEER_OFFLINE');
    expect(chat.editing).not.toBeNull();
    expect(chat.view!.messages[0]!.text).toBe('draft');
  });

  it('delete leaves a tombstone and clears a reply to it', async () => {
    await openConnected();
    await chat.send('oops');
    const m = byText('oops');
    chat.startReply(m);
    await chat.deleteMessage(m);
    expect(chat.view!.messages[0]).toMatchObject({ id: m.id, text: '', deleted: true });
    expect(chat.replyingTo).toBeNull();
    expect(chat.view!.lastPreview).toBe('');
  });

  it('react toggles our reaction; another emoji replaces it', async () => {
    await openConnected();
    fake.peerSays('nice');
    const m = () => byText('nice');
    await chat.react(m(), '👍');
    expect(m().myReaction).toBe('👍');
    await chat.react(m(), '👍');
    expect(m().myReaction).toBe('');
    await chat.react(m(), '❤️');
    await chat.react(m(), '😂');
    expect(m().myReaction).toBe('😂');
  });

  it("the peer's edits, deletes and reactions replace the message; refused ones change nothing", async () => {
    await openConnected();
    const theirs = fake.peerSays('v1')!;
    await chat.send('mine');
    const mine = byText('mine');
    expect(fake.peerEdits(theirs.id, 'v2')).toBe(true);
    expect(chat.view!.messages[0]).toMatchObject({ text: 'v2', edited: true });
    expect(fake.peerReacts(mine.id, '🙏')).toBe(true);
    expect(byText('mine').peerReaction).toBe('🙏');
    expect(fake.peerEdits(mine.id, 'words in my mouth')).toBe(false);
    expect(fake.peerDeletes(mine.id)).toBe(false);
    expect(byText('mine').edited).toBeFalsy();
    expect(fake.peerDeletes(theirs.id)).toBe(true);
    expect(chat.view!.messages[0]).toMatchObject({ text: '', deleted: true });
    await vi.waitFor(() => expect(byText('mine').state).toBe('delivered'));
  });
});

describe('MessageBubble with actions', () => {
  const msg = (over: Partial<Message>): Message => ({ id: 'a', roomId: 'r', outgoing: false, text: 'hi', sentAt: Date.now(), state: '', ...over });
  const actions = () => ({ onreply: vi.fn(), onedit: vi.fn(), ondelete: vi.fn(), onreact: vi.fn(), onjump: vi.fn() });

  it('offers Edit and Delete only on our own messages', () => {
    const a = actions();
    const { unmount } = render(MessageBubble, { message: msg({}), onlink: vi.fn(), oncopy: vi.fn(), actions: a });
    expect(screen.getByRole('button', { name: 'Reply' })).toBeTruthy();
    expect(screen.queryByRole('button', { name: 'Edit' })).toBeNull();
    expect(screen.queryByRole('button', { name: 'Delete for both' })).toBeNull();
    unmount();
    render(MessageBubble, { message: msg({ outgoing: true, state: 'delivered' }), onlink: vi.fn(), oncopy: vi.fn(), actions: a });
    expect(screen.getByRole('button', { name: 'Edit' })).toBeTruthy();
  });

  it('shows edited, both reactions, and a picker that reacts', async () => {
    const a = actions();
    const m = msg({ edited: true, myReaction: '👍', peerReaction: '❤️' });
    render(MessageBubble, { message: m, onlink: vi.fn(), oncopy: vi.fn(), actions: a });
    expect(screen.getByTestId('edited').textContent).toBe('edited');
    expect(screen.getByTestId('reactions').textContent).toContain('👍');
    expect(screen.getByTestId('reactions').textContent).toContain('❤️');
    await fireEvent.click(screen.getByRole('button', { name: 'React' }));
    expect(screen.getByRole('button', { name: 'React 👍' }).getAttribute('aria-pressed')).toBe('true');
    await fireEvent.click(screen.getByRole('button', { name: 'React 😮' }));
    expect(a.onreact).toHaveBeenCalledWith(m, '😮');
  });

  it('a tombstone has no text and no actions', () => {
    render(MessageBubble, { message: msg({ deleted: true, text: '' }), onlink: vi.fn(), oncopy: vi.fn(), actions: actions() });
    expect(screen.getByTestId('tombstone').textContent).toBe('This message was deleted');
    expect(screen.queryByRole('toolbar')).toBeNull();
  });

  it('a reply quotes the original, and a click jumps to it; a missing original says so', async () => {
    const a = actions();
    const orig = msg({ id: 'o', text: '**bold** question' });
    const { unmount } = render(MessageBubble, { message: msg({ id: 'r', replyTo: 'o' }), quoted: orig, onlink: vi.fn(), oncopy: vi.fn(), actions: a });
    const q = screen.getByTestId('reply-quote');
    expect(q.textContent).toContain('bold question');
    await fireEvent.click(q);
    expect(a.onjump).toHaveBeenCalledWith('o');
    unmount();
    render(MessageBubble, { message: msg({ id: 'r', replyTo: 'nosuch' }), onlink: vi.fn(), oncopy: vi.fn(), actions: a });
    expect(screen.getByTestId('reply-quote').textContent).toContain('not here');
    expect((screen.getByTestId('reply-quote') as HTMLButtonElement).disabled).toBe(true);
  });
});
