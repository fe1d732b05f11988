// Takes screenshots of the home and room views, a room with file-transfer
// cards, the big-file prompt and the drop hint (fake backend) for review.
// Usage: node e2e/shot.mjs [outdir] [light|dark]
import { chromium } from 'playwright-core';
import { serve } from './serve.mjs';
import { launchOptions } from './browser.mjs';

const out = process.argv[2] ?? '/tmp';
const scheme = process.argv[3] ?? 'light';
const srv = await serve(new URL('../dist', import.meta.url).pathname);
const browser = await chromium.launch(launchOptions());
try {
  const page = await browser.newPage({ viewport: { width: 1100, height: 720 }, colorScheme: scheme });
  await page.goto(`${srv.url}?fake=1&seed=1`);
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
} finally {
  await browser.close();
  await srv.close();
}
