// make bench-history, the browser half: how the UI opens a room with a long
// history. The built UI (dist/) in Debian's chromium against the fake backend
// seeded with a room of LONG messages (default 100,000) and the usual short
// rooms. Alternating runs, same page: a 3-message room is the baseline.
// Prints per room: time from the click to the newest message painted, idle
// CPU of all chromium processes over IDLE_MS, JS heap and DOM nodes; then the
// ratios and the goals of issue #18 (newest shown within 500 ms, idle CPU
// under 2%, memory within 50 MB of the short room's).
import { readFileSync, readdirSync } from 'node:fs';
import { chromium } from 'playwright-core';
import { serve } from './serve.mjs';
import { launchOptions } from './browser.mjs';

const LONG = Number(process.env.LONG ?? 100_000);
const RUNS = Number(process.env.RUNS ?? 3);
const IDLE_MS = Number(process.env.IDLE_MS ?? 5000);
const SETTLE_MS = Number(process.env.SETTLE_MS ?? 6000);
const TICK = 100; // USER_HZ on Linux

/** utime+stime (ticks) of every process below root (chromium and its helpers; root is this node). */
function treeTicks(root) {
  const kids = new Map();
  const ticks = new Map();
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const stat = readFileSync(`/proc/${d}/stat`, 'utf8');
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      const ppid = Number(f[1]);
      ticks.set(Number(d), Number(f[11]) + Number(f[12]));
      if (!kids.has(ppid)) kids.set(ppid, []);
      kids.get(ppid).push(Number(d));
    } catch {
      // gone meanwhile
    }
  }
  let sum = 0;
  const stack = [...(kids.get(root) ?? [])];
  while (stack.length) {
    const p = stack.pop();
    sum += ticks.get(p) ?? 0;
    stack.push(...(kids.get(p) ?? []));
  }
  return sum;
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

const srv = await serve(new URL('../dist', import.meta.url).pathname);
const browser = await chromium.launch(launchOptions());
// Chromium and its helpers are this node's children.
const pid = process.pid;
const page = await browser.newPage({ viewport: { width: 1100, height: 720 } });
page.setDefaultTimeout(60_000);
const cdp = await page.context().newCDPSession(page);
await cdp.send('Performance.enable');

const t0 = Date.now();
await page.goto(`${srv.url}?fake=1&seed=1&long=${LONG}`);
await page.waitForFunction(() => window.__parleyFake);
console.log(`fake backend with ${LONG} messages ready in ${Date.now() - t0} ms`);

async function openRoom(name, lastId) {
  await page.getByRole('button', { name: `Open ${name}` }).waitFor();
  const ms = await page.evaluate(
    async ({ name, lastId }) => {
      const start = performance.now();
      document.querySelector(`button[aria-label="Open ${name}"]`).click();
      for (;;) {
        await new Promise((r) => requestAnimationFrame(r));
        const sel = lastId ? `[data-testid="message"][data-id="${lastId}"]` : '[data-testid="message"]';
        const els = document.querySelectorAll('[role="log"] [data-testid="message"]');
        const newest = els[els.length - 1];
        if (newest && (!lastId || newest.matches(sel))) {
          await new Promise((r) => requestAnimationFrame(r)); // painted
          return performance.now() - start;
        }
      }
    },
    { name, lastId },
  );
  // Let the open settle (the status dot's few beats too), then measure what the room costs at rest.
  await page.waitForTimeout(SETTLE_MS);
  await cdp.send('HeapProfiler.collectGarbage').catch(() => {});
  const metrics = async () => Object.fromEntries((await cdp.send('Performance.getMetrics')).metrics.map((x) => [x.name, x.value]));
  const m0 = await metrics();
  const before = treeTicks(pid);
  await page.waitForTimeout(IDLE_MS);
  const cpu = ((treeTicks(pid) - before) / TICK / (IDLE_MS / 1000)) * 100;
  const m = await metrics();
  // The page's own work at rest: main-thread task time (script, style, layout, paint).
  const pageCpu = ((m.TaskDuration - m0.TaskDuration) / (IDLE_MS / 1000)) * 100;
  const nodes = await page.evaluate(() => document.getElementsByTagName('*').length);
  await page.getByRole('button', { name: 'Back to rooms' }).click();
  return { ms, cpu, pageCpu, heapMB: m.JSHeapUsedSize / 2 ** 20, nodes };
}

const rows = { short: [], long: [] };
for (let i = 0; i < RUNS; i++) {
  rows.short.push(await openRoom('Sam', ''));
  rows.long.push(await openRoom('Long history', `long-${LONG - 1}`));
}
await browser.close();
await srv.close();

const fmt = (r) =>
  `open ${median(r.map((x) => x.ms)).toFixed(0)} ms [${Math.min(...r.map((x) => x.ms)).toFixed(0)}-${Math.max(...r.map((x) => x.ms)).toFixed(0)}], ` +
  `idle CPU: page ${median(r.map((x) => x.pageCpu)).toFixed(2)}%, all chromium ${median(r.map((x) => x.cpu)).toFixed(1)}%, JS heap ${median(r.map((x) => x.heapMB)).toFixed(1)} MB, DOM ${median(r.map((x) => x.nodes))} nodes`;
console.log(`3-message room (baseline):  ${fmt(rows.short)}`);
console.log(`${LONG}-message room:  ${fmt(rows.long)}`);
const open = median(rows.long.map((x) => x.ms));
const ratio = open / median(rows.short.map((x) => x.ms));
const cpu = median(rows.long.map((x) => x.pageCpu));
const heap = median(rows.long.map((x) => x.heapMB)) - median(rows.short.map((x) => x.heapMB));
console.log(`ratio long/baseline open time: ${ratio.toFixed(2)}; heap difference ${heap.toFixed(1)} MB (the fake itself holds the ${LONG} messages in both)`);
console.log(
  `goals: newest shown within 500 ms: ${open <= 500 ? 'met' : 'NOT met'} (${open.toFixed(0)} ms); ` +
    `idle page CPU under 2%: ${cpu < 2 ? 'met' : 'NOT met'} (${cpu.toFixed(2)}%); ` +
    `memory within 50 MB of the short room: ${heap <= 50 ? 'met' : 'NOT met'} (${heap.toFixed(1)} MB)`,
);
