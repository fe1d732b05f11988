// One AudioContext for the app: call audio and the ring tone. Webviews start
// it suspended until a user gesture, so the first key press or click
// anywhere resumes it (and every call button resumes it again). A running
// context keeps an audio thread busy, so it runs only while something holds
// it (a ring, a call's audio) and is suspended a moment after the last
// release: an idle window costs no CPU for sound.

let ctx: AudioContext | null = null;
let holds = 0;
let idleTimer: ReturnType<typeof setTimeout> | null = null;
/** How long a context with no holder keeps running (a ring's gaps, call set-up). */
export const AUDIO_IDLE_MS = 1500;

function suspendWhenIdle(): void {
  if (idleTimer) clearTimeout(idleTimer);
  idleTimer = setTimeout(() => {
    idleTimer = null;
    if (holds === 0 && ctx?.state === 'running') void ctx.suspend().catch(() => {});
  }, AUDIO_IDLE_MS);
}

/** Keeps the context running until the returned release is called (once). */
export function holdAudio(): () => void {
  holds++;
  if (idleTimer) clearTimeout(idleTimer);
  idleTimer = null;
  const c = audioContext();
  if (c && c.state === 'suspended') void c.resume().catch(() => {});
  let released = false;
  return () => {
    if (released) return;
    released = true;
    holds--;
    if (holds === 0) suspendWhenIdle();
  };
}

/** Holders right now (tests). */
export function audioHolds(): number {
  return holds;
}

/** The shared context, created on first use; null where there is none (jsdom). */
export function audioContext(): AudioContext | null {
  if (ctx) return ctx;
  const AC = (globalThis as { AudioContext?: typeof AudioContext }).AudioContext;
  if (!AC) return null;
  try {
    ctx = new AC({ latencyHint: 'interactive', sampleRate: 48_000 });
  } catch {
    return null;
  }
  return ctx;
}

/** Resumes the context from a user gesture (which lets it play later), then lets it rest unless held. */
export function unlockAudio(): void {
  const c = audioContext();
  if (c && c.state === 'suspended') void c.resume().catch(() => {});
  if (holds === 0) suspendWhenIdle();
}

/** Resumes audio on the first gestures the page sees; returns the unsubscribe. */
export function unlockOnGesture(target: EventTarget = globalThis): () => void {
  const h = () => unlockAudio();
  target.addEventListener('pointerdown', h, true);
  target.addEventListener('keydown', h, true);
  return () => {
    target.removeEventListener('pointerdown', h, true);
    target.removeEventListener('keydown', h, true);
  };
}

/**
 * Plays a soft two-tone ring (0.4 s on, 0.2 off, 0.4 on, then a pause) until
 * the returned function stops it. Silent when audio is locked or missing.
 */
export function ring(kind: 'incoming' | 'outgoing' = 'incoming'): () => void {
  const c = audioContext();
  if (!c) return () => {};
  const release = holdAudio();
  const gain = c.createGain();
  gain.gain.value = 0;
  gain.connect(c.destination);
  const tones = kind === 'incoming' ? [660, 880] : [440, 480];
  const oscs = tones.map((f) => {
    const o = c.createOscillator();
    o.frequency.value = f;
    o.connect(gain);
    o.start();
    return o;
  });
  const level = kind === 'incoming' ? 0.08 : 0.05;
  const period = kind === 'incoming' ? 2.5 : 4;
  const schedule = (t0: number) => {
    const bursts = kind === 'incoming' ? [0, 0.6] : [0];
    const len = kind === 'incoming' ? 0.4 : 1.5;
    for (const b of bursts) {
      gain.gain.setTargetAtTime(level, t0 + b, 0.015);
      gain.gain.setTargetAtTime(0, t0 + b + len, 0.02);
    }
  };
  let next = c.currentTime + 0.05;
  schedule(next);
  const timer = setInterval(() => {
    next += period;
    schedule(next);
  }, period * 1000);
  return () => {
    clearInterval(timer);
    gain.gain.cancelScheduledValues(c.currentTime);
    gain.gain.setTargetAtTime(0, c.currentTime, 0.01);
    setTimeout(() => {
      for (const o of oscs) o.stop();
      gain.disconnect();
      release();
    }, 100);
  };
}
