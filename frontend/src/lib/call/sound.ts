// One AudioContext for the app: call audio and the ring tone. Webviews start
// it suspended until a user gesture, so the first key press or click
// anywhere resumes it (and every call button resumes it again).

let ctx: AudioContext | null = null;

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

/** Resumes the context; call from a user gesture. */
export function unlockAudio(): void {
  const c = audioContext();
  if (c && c.state === 'suspended') void c.resume().catch(() => {});
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
    }, 100);
  };
}
