import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';

// jsdom has no Web Audio: a context that only tracks its state.
class FakeContext {
  state: 'running' | 'suspended' | 'closed' = 'suspended';
  currentTime = 0;
  destination = {};
  resume = vi.fn(async () => {
    this.state = 'running';
  });
  suspend = vi.fn(async () => {
    this.state = 'suspended';
  });
  createGain() {
    return { gain: { value: 0, setTargetAtTime() {}, cancelScheduledValues() {} }, connect() {}, disconnect() {} };
  }
  createOscillator() {
    return { frequency: { value: 0 }, connect() {}, start() {}, stop() {} };
  }
}

beforeAll(() => {
  vi.useFakeTimers();
  (globalThis as { AudioContext?: unknown }).AudioContext = FakeContext;
});
afterAll(() => {
  vi.useRealTimers();
  delete (globalThis as { AudioContext?: unknown }).AudioContext;
});

describe('the shared AudioContext', () => {
  it('runs only while held: a gesture unlocks it, then it rests', async () => {
    const s = await import('./sound');
    const ctx = s.audioContext() as unknown as FakeContext;
    s.unlockAudio();
    await Promise.resolve();
    expect(ctx.state).toBe('running');
    vi.advanceTimersByTime(s.AUDIO_IDLE_MS + 10);
    await Promise.resolve();
    expect(ctx.state).toBe('suspended');

    // A ring holds it for as long as it rings, and a moment after.
    const stop = s.ring('incoming');
    await Promise.resolve();
    expect(ctx.state).toBe('running');
    vi.advanceTimersByTime(10_000);
    expect(ctx.state).toBe('running');
    stop();
    vi.advanceTimersByTime(100 + s.AUDIO_IDLE_MS + 10);
    await Promise.resolve();
    expect(ctx.state).toBe('suspended');
    expect(s.audioHolds()).toBe(0);

    // Two holders: only the last release lets it rest; releasing twice counts once.
    const a = s.holdAudio();
    const b = s.holdAudio();
    a();
    a();
    vi.advanceTimersByTime(s.AUDIO_IDLE_MS * 2);
    expect(ctx.state).toBe('running');
    b();
    vi.advanceTimersByTime(s.AUDIO_IDLE_MS + 10);
    await Promise.resolve();
    expect(ctx.state).toBe('suspended');
  });
});
