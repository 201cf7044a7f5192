// The app's charts under load, in Debian's Chromium against `packetlab serve`: frame times (ms
// between animation frames) of the idle page as the baseline, then with one hour of 10 Hz samples
// on every chart (a simulated transfer that lasts an hour), then with that hour overlaid while a
// live run streams into the same charts. Goal: smooth (median frame near 16.7 ms, p95 at or under
// 33 ms, a few percent of frames over 50 ms). Frame times are noisy on a shared machine; the
// main thread's busy time per second (scripting, style and layout, all tasks) is steadier, and its
// CPU time per second (and the renderer process's) is steadier still: it is what a change is
// judged by. PACKETLAB_UI_PROFILE=FILE also writes a CPU profile of the overlay case (open it in
// Chrome's DevTools) and prints the functions with the most self time. `npm run bench` rebuilds
// the renderer minified; for names, rebuild it unminified and run this file directly:
//   npm run build && npm run build:renderer -- --minify false && PACKETLAB_UI_PROFILE=FILE node dist/bench/main.js ui

import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium } from 'playwright-core';
import { CHROMIUM, CHROMIUM_ARGS, MainThreadMeter, browserUnavailable, frameTimes, percentile, type MainThreadTime } from './browser.js';
import { projectRoot } from '../net/paths.js';
import { startLabServer } from '../experiments/api/serve.js';
import { ExperimentRun } from '../experiments/runner/run.js';
import { validateSpec } from '../experiments/spec.js';
import { median, num, printTable } from './lib.js';

function row(name: string, { value: xs, time }: { value: number[]; time: MainThreadTime }): string[] {
  return [name, num(median(xs), 1), num(percentile(xs, 95), 1), num(Math.max(...xs), 1), `${num((100 * xs.filter((x) => x > 50).length) / xs.length, 1)}%`, String(xs.length), num(time.scriptMsPerS), num(time.layoutMsPerS), num(time.taskMsPerS), num(time.threadCpuMsPerS), num(time.processCpuMsPerS)];
}

/** A V8 CPU profile (the parts read here). */
interface CpuProfile {
  nodes: { id: number; callFrame: { functionName: string; url: string; lineNumber: number; columnNumber: number } }[];
  samples: number[];
  timeDeltas: number[];
}

/** The functions with the most self time in a CPU profile, as table rows. */
function topSelf(profile: CpuProfile, n: number): string[][] {
  const byNode = new Map(profile.nodes.map((x) => [x.id, x.callFrame]));
  const self = new Map<string, number>();
  let total = 0;
  profile.samples.forEach((id, i) => {
    const f = byNode.get(id)!;
    const dt = profile.timeDeltas[i] ?? 0;
    total += dt;
    const key = `${f.functionName || '(anonymous)'} ${f.url.split('/').pop() ?? ''}:${f.lineNumber + 1}:${f.columnNumber + 1}`;
    self.set(key, (self.get(key) ?? 0) + dt);
  });
  return [...self]
    .sort((a, b) => b[1] - a[1])
    .slice(0, n)
    .map(([k, us]) => [k, num(us / 1000), `${num((100 * us) / total, 1)}%`]);
}

/** Runs the UI benchmark. */
export async function benchUi(): Promise<void> {
  const unavailable = browserUnavailable();
  if (unavailable !== null) {
    console.log(`\nUI frame times: skipped, ${unavailable}`);
    return;
  }
  const dir = mkdtempSync(join(tmpdir(), 'packetlab-bench-ui-'));
  const runsDir = join(dir, 'runs');
  // One hour of virtual time at 10 Hz: a transfer held back by a slow reader.
  const hour = validateSpec({ name: 'one-hour', title: 'one hour', description: 'an hour of samples', concepts: ['flow-control'], workload: { kind: 'bulk', bytes: 36_000_000, readRateBytesPerSecond: 10_000, verifyData: false }, forward: { delayMs: 10, lossProbability: 0.01 }, reverse: { delayMs: 10 }, timeLimitS: 4000 });
  if (!hour.ok) throw new Error(JSON.stringify(hour.errors));
  const made = await new ExperimentRun({ spec: hour.spec, specFile: null, outDir: runsDir }).start();
  const server = await startLabServer({ host: '127.0.0.1', port: 0, rendererDir: join(projectRoot(), 'dist', 'renderer'), runsDir, specsDir: join(dir, 'specs'), beaconPort: null });
  const browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
  const rows: string[][] = [];
  try {
    const page = await (await browser.newContext({ viewport: { width: 1500, height: 1100 } })).newPage();
    await page.goto(server.url);
    await page.getByText('Lab: connected').waitFor({ timeout: 20_000 });
    const meter = await MainThreadMeter.open(page);
    const measure = (ms: number) => meter.measure(() => frameTimes(page, ms));
    rows.push(row('idle page (baseline)', await measure(3000)));
    await page.getByRole('button', { name: `Open ${made.id}` }).click();
    await page.waitForTimeout(1500);
    rows.push(row('one hour of 10 Hz samples on every chart', await measure(3000)));
    // A live run on loopback through the spec's 50 Mbit/s emulated link: first alone, then with
    // the hour overlaid on every chart (the same run's charts, so the difference is the hour).
    await page.getByRole('radio', { name: /Checksums: corruption/ }).check();
    await page.getByLabel('Network').selectOption('loopback');
    await page.getByLabel('Bytes to transfer').fill('2000000000');
    await page.getByLabel('Bytes to transfer').press('Enter');
    await page.waitForTimeout(500);
    await page.getByRole('button', { name: 'Start', exact: true }).click();
    await page.waitForTimeout(2000);
    rows.push(row('live run (loopback, 50 Mbit/s link)', await measure(5000)));
    await page.getByRole('button', { name: `Overlay ${made.id}` }).click();
    await page.waitForTimeout(1000);
    rows.push(row('the same live run, the hour overlaid', await measure(5000)));
    const profileFile = process.env.PACKETLAB_UI_PROFILE;
    if (profileFile !== undefined && profileFile !== '') {
      const profile = (await meter.profile(() => page.waitForTimeout(5000))) as CpuProfile;
      writeFileSync(profileFile, JSON.stringify(profile));
      printTable(`Self time over 5 s of the overlay case (CPU profile in ${profileFile})`, ['function', 'ms', 'share'], topSelf(profile, 25));
    }
    await page.getByRole('button', { name: 'Stop', exact: true }).click();
  } finally {
    await browser.close();
    await server.close();
    rmSync(dir, { recursive: true, force: true });
  }
  printTable('UI frame times in Chromium (ms between animation frames; goal: median near 16.7, p95 at or under 33, few over 50) and main-thread busy time (ms per s)', ['case', 'median', 'p95', 'max', 'over 50 ms', 'frames', 'script', 'style+layout', 'all tasks', 'main CPU', 'renderer CPU'], rows);
}
