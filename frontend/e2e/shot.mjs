// Takes screenshots of the home and room views, a room with file-transfer
// cards, the big-file prompt, the drop hint, an incoming call, a video
// call (fake backend; the video is real VP8 through the e2e relay) and the
// screen picker for review.
// Usage: node e2e/shot.mjs [outdir] [light|dark]
import { chromium } from 'playwright-core';
import { serve } from './serve.mjs';
import { launchOptions } from './browser.mjs';

const out = process.argv[2] ?? '/tmp';

/** Streams two moving test pictures (remote, local preview) as VP8 through the relay, like Go. */
async function startPicture(page, srv) {
  const room = await page.evaluate(() => window.__parleyFake.lastRoomId());
  await page.evaluate(
    async ({ url, token, room }) => {
      const ws = new WebSocket(`${url}?token=${token}&room=${room}&role=source`);
      await new Promise((ok) => (ws.onopen = ok));
      const timers = [];
      for (const [kind, w, h, hue] of [
        [1, 640, 360, 210],
        [2, 320, 180, 30],
      ]) {
        const c = new OffscreenCanvas(w, h);
        const g = c.getContext('2d');
        const enc = new VideoEncoder({
          output: (chunk) => {
            const out = new Uint8Array(14 + chunk.byteLength);
            const v = new DataView(out.buffer);
            v.setUint8(0, kind);
            v.setUint8(1, chunk.type === 'key' ? 1 : 0);
            v.setBigUint64(2, BigInt(chunk.timestamp));
            v.setUint16(10, w);
            v.setUint16(12, h);
            chunk.copyTo(out.subarray(14));
            if (ws.readyState === 1) ws.send(out);
          },
          error: () => {},
        });
        enc.configure({ codec: 'vp8', width: w, height: h, bitrate: 1_500_000, framerate: 20, latencyMode: 'realtime' });
        let i = 0;
        timers.push(
          setInterval(() => {
            const grad = g.createLinearGradient(0, 0, w, h);
            grad.addColorStop(0, `hsl(${hue} 45% 28%)`);
            grad.addColorStop(1, `hsl(${hue + 40} 50% 55%)`);
            g.fillStyle = grad;
            g.fillRect(0, 0, w, h);
            g.fillStyle = 'hsl(30 40% 70%)';
            g.beginPath();
            g.arc(w / 2 + Math.sin(i / 10) * w * 0.05, h * 0.45, h * 0.2, 0, Math.PI * 2);
            g.fill();
            g.fillRect(w / 2 - h * 0.3, h * 0.7, h * 0.6, h * 0.4);
            const f = new VideoFrame(c, { timestamp: i * 50_000 });
            enc.encode(f, { keyFrame: i % 30 === 0 });
            f.close();
            i++;
          }, 50),
        );
      }
      window.__stopPicture = () => {
        for (const t of timers) clearInterval(t);
        ws.close();
      };
    },
    { url: srv.mediaUrl, token: srv.mediaToken, room },
  );
}
const scheme = process.argv[3] ?? 'light';
const srv = await serve(new URL('../dist', import.meta.url).pathname);
const browser = await chromium.launch(launchOptions());
try {
  const page = await browser.newPage({ viewport: { width: 1100, height: 720 }, colorScheme: scheme });
  await page.goto(`${srv.url}?fake=1&seed=1&media=${encodeURIComponent(srv.mediaUrl)}&mediaToken=${srv.mediaToken}`);
  await page.getByRole('heading', { name: 'Recent rooms' }).waitFor();
  await page.screenshot({ path: `${out}/ui-home${scheme === 'dark' ? '-dark' : ''}.png` });
  await page.getByRole('button', { name: 'Open Sam' }).click();
  await page.evaluate(() => {
    const f = window.__parleyFake;
    f.peerJoins();
    f.peerSays('Here, I found the place: https://example.org/map?id=42');
  });
  await page.getByTestId('composer').fill('Great, see you there!\nI will bring the slides.');
  await page.keyboard.press('Enter');
  await page.getByText('Great, see you there!').waitFor();
  await page.evaluate(() => window.__parleyFake.peerTypes());
  await page.waitForTimeout(300);
  await page.screenshot({ path: `${out}/ui-room${scheme === 'dark' ? '-dark' : ''}.png` });

  // Files: one received (Open / Show in folder), one damaged in transit,
  // one on its way out, one waiting to start.
  const sfx = scheme === 'dark' ? '-dark' : '';
  const got = await page.evaluate(() => window.__parleyFake.peerSendsFile('Site photos, March.zip', 1_800_000));
  await page.locator(`[data-testid="transfer"][data-id="${got}"][data-state="done"]`).waitFor();
  await page.evaluate(() => {
    const f = window.__parleyFake;
    f.failTransfer(f.peerSendsFile('contract-signed.pdf', 90_000_000));
    f.peerSays('Sent you the photos. The contract did not go through, one sec.');
    f.setTransferRate(2_600_000);
    f.willPick([{ name: 'Quarterly report – final version with every appendix and the speaker notes.pdf', size: 31_000_000 }]);
  });
  await page.getByRole('button', { name: 'Send files' }).click();
  await page.locator('[data-testid="transfer"][data-state="active"]').waitFor();
  await page.waitForTimeout(2600);
  await page.screenshot({ path: `${out}/ui-files${sfx}.png` });

  await page.evaluate(() => window.__parleyFake.peerSendsFile('Holiday footage 2025 (4K, uncut).mov', 2_400_000_000));
  await page.getByTestId('offer').waitFor();
  await page.waitForTimeout(200);
  await page.screenshot({ path: `${out}/ui-offer${sfx}.png` });
  await page.keyboard.press('Escape');
  await page.evaluate(() => window.__parleyFake.dropFiles(['/home/you/a.txt', '/home/you/b.txt']));
  await page.getByTestId('drop-hint').waitFor();
  await page.waitForTimeout(200);
  await page.screenshot({ path: `${out}/ui-drop${sfx}.png` });

  // Calls: the ring, then a video call with the chat going on below it.
  await page.getByTestId('drop-hint').waitFor({ state: 'detached' });
  await page.evaluate(() => window.__parleyFake.peerCalls(true));
  await page.getByTestId('incoming-call').waitFor();
  await page.waitForTimeout(300);
  await page.screenshot({ path: `${out}/ui-call-incoming${sfx}.png` });
  await page.getByRole('button', { name: 'Accept with video' }).click();
  await page.locator('[data-testid="call"][data-state="active"]').waitFor();
  await page.waitForFunction(() => window.__parleyCall?.mediaConnected === true);
  await startPicture(page, srv);
  await page.waitForFunction(() => window.__parleyCall.media.remote.frames > 3 && window.__parleyCall.media.local.frames > 3);
  await page.evaluate(() => window.__parleyFake.peerSays('Can you see me? The light is terrible here.'));
  await page.waitForTimeout(2200);
  await page.screenshot({ path: `${out}/ui-call${sfx}.png` });
  await page.evaluate(() => window.__stopPicture());

  // The picker of what to share (Ctrl+Shift+E).
  await page.getByRole('button', { name: 'Share screen' }).click();
  await page.getByRole('dialog', { name: 'Share your screen' }).waitFor();
  await page.waitForTimeout(300);
  await page.screenshot({ path: `${out}/ui-screen-picker${sfx}.png` });
} finally {
  await browser.close();
  await srv.close();
}
