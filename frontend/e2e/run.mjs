// Browser flow tests: the built UI (dist/) in Debian's chromium against the
// in-memory fake backend (?fake=1), whose simulated peer the tests drive
// through window.__parleyFake. Run `npm run build` first (test:e2e does).
// Prints "N passed, N failed" and exits non-zero on any failure.
import { existsSync } from 'node:fs';
import { chromium } from 'playwright-core';
import { serve } from './serve.mjs';
import { launchOptions } from './browser.mjs';
import { fakePeer, flows } from './flows.mjs';

const dist = new URL('../dist', import.meta.url).pathname;
if (!existsSync(`${dist}/index.html`)) {
  console.error('dist/ is missing: run "npm run build" first');
  process.exit(2);
}

const only = process.argv[2] ?? '';
const srv = await serve(dist);
const browser = await chromium.launch(launchOptions());
let passed = 0;
let failed = 0;
try {
  for (const [name, fn] of Object.entries(flows)) {
    if (only && !name.includes(only)) continue;
    const ctx = await browser.newContext({ viewport: { width: 1100, height: 720 } });
    const page = await ctx.newPage();
    page.setDefaultTimeout(5000);
    const pageErrors = [];
    page.on('pageerror', (e) => pageErrors.push(e.message));
    const t0 = Date.now();
    try {
      const open = async (query = '') => {
        await page.goto(query === null ? srv.url : `${srv.url}?fake=1${query}`);
        if (query !== null) await page.waitForFunction(() => window.__parleyFake);
      };
      await fn(page, open, srv, fakePeer(page));
      if (pageErrors.length) throw new Error(`page errors: ${pageErrors.join('; ')}`);
      passed++;
      console.log(`ok   ${name} (${Date.now() - t0} ms)`);
    } catch (e) {
      failed++;
      console.log(`FAIL ${name}: ${e instanceof Error ? e.message.split('\n')[0] : e}`);
    } finally {
      await ctx.close();
    }
  }
} finally {
  await browser.close();
  await srv.close();
}
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
