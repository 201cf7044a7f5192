// The app end to end: Debian's Chromium (through playwright-core) against `packetlab serve` and
// the real engine on loopback. Start a library experiment, see the charts fill, change the
// retransmission timeout and the loss rate mid-run and see both changes marked and the
// retransmissions respond, stop, export the CSV and check its rows and columns, open the run from
// the history, overlay a second run, export PNGs. Screenshots go to test-results/e2e-app/.

import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'csv-parse/sync';
import type { Page } from 'playwright-core';
import { frameTimes, percentile } from '../bench/browser.js';
import { appUnderTest, chartLabel, inkOf, openLab, runIdOf, samplesOf } from './helpers/app-serve.js';

const app = appUnderTest('e2e-app');

/** A cheap fingerprint of a chart's pixels. */
async function pixelsOf(page: Page, chartId: string): Promise<number> {
  return page.evaluate(`(() => {
    const c = document.querySelector('[data-chart="${chartId}"] canvas');
    const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
    let h = 0;
    for (let i = 0; i < d.length; i += 4) h = (h * 31 + d[i] * 3 + d[i + 1] * 5 + d[i + 2] * 7) >>> 0;
    return h;
  })()`);
}

describe.skipIf(app.skipWhy !== null)('the app in Chromium against packetlab serve', () => {
  it('runs a library experiment on loopback, marks live changes, stops, exports, opens and overlays runs', async () => {
    // The token opens the lab and leaves the address bar.
    const { context, page, pageErrors } = await openLab(app, { viewport: { width: 1500, height: 1100 }, acceptDownloads: true });
    expect(page.url()).not.toContain('token=');

    // A bad spec: each problem with its path, and no Start.
    const editor = page.getByLabel('Spec (JSON)');
    await expect.poll(() => editor.inputValue(), { timeout: 15_000 }).toContain('"name"');
    await editor.fill('{ "name": "Bad Name", "title": "t", "description": "d", "concepts": [], "transport": { "windowPackets": 0 } }');
    await expect.poll(() => page.getByRole('list', { name: 'Spec problems' }).textContent(), { timeout: 10_000 }).toContain('transport.windowPackets');
    expect(await page.getByRole('list', { name: 'Spec problems' }).textContent()).toContain('name');
    expect(await page.getByRole('button', { name: 'Start', exact: true }).isDisabled()).toBe(true);

    // A library experiment, pointed at loopback, made long enough to watch and change.
    await page.getByRole('radio', { name: /Checksums: corruption/ }).check();
    await expect.poll(() => page.locator('#spec-check').textContent()).toContain('Valid: 2 sweep points');
    await page.getByLabel('Network').selectOption('loopback');
    await page.getByLabel('RTO mode').selectOption('fixed');
    await page.getByLabel('Bytes to transfer').fill('200000000');
    await page.getByLabel('Bytes to transfer').press('Enter');
    await expect.poll(() => page.getByLabel('Spec (JSON)').inputValue()).toContain('"bytes": 200000000');
    await expect.poll(() => page.getByLabel('Spec (JSON)').inputValue()).toContain('"rtoMode": "fixed"');
    await expect.poll(() => page.locator('#spec-check').textContent()).toContain('Valid');
    // The edited spec goes to the user's specs.
    await page.getByLabel('Save as').fill('my-checksums');
    await page.getByRole('button', { name: 'Save', exact: true }).click();
    await expect.poll(() => page.getByText(/saved to .*my-checksums\.json/).count()).toBe(1);
    expect(JSON.parse(readFileSync(join(app.dir, 'specs', 'my-checksums.json'), 'utf8')).workload.bytes).toBe(200000000);

    const inkBefore = await inkOf(page, 'rate');
    await page.getByRole('button', { name: 'Start', exact: true }).click();
    await expect.poll(() => page.getByTestId('run-state').textContent(), { timeout: 20_000 }).toMatch(/^Running/);
    const runId = await runIdOf(page);

    // The charts fill.
    await expect.poll(() => samplesOf(page, 'rate'), { timeout: 30_000, interval: 100, message: '20 samples on the charts' }).toBeGreaterThanOrEqual(20);
    const inkRunning = await inkOf(page, 'rate');
    // The canvas changed, and the legend (which lists only lines that have data) names them. The
    // amount of ink is no measure: an empty chart's long tick labels may take as much as the lines.
    expect(inkRunning).not.toBe(inkBefore);
    expect(await page.locator('[data-chart="rate"] .legend').textContent()).toContain('Goodput');
    const frames = await frameTimes(page, 2000);
    console.log(`e2e-app: frame times over 2 s of a live run: median ${percentile(frames, 50).toFixed(1)} ms, p95 ${percentile(frames, 95).toFixed(1)} ms, max ${Math.max(...frames).toFixed(1)} ms (${frames.length} frames)`);
    expect(percentile(frames, 50)).toBeLessThan(100);
    await page.screenshot({ path: join(app.artifacts, '1-running.png'), fullPage: true });

    // Mid-run changes: the retransmission timeout, then the loss rate.
    const retxBefore = await pixelsOf(page, 'retransmissions');
    const rto = page.getByLabel('Retransmission timeout (ms)');
    expect(await rto.isEnabled()).toBe(true);
    await rto.fill('50');
    await rto.press('Enter');
    await expect.poll(() => page.getByTestId('event-log').textContent(), { timeout: 10_000 }).toContain('Retransmission timeout (ms): 200 → 50');
    const loss = page.getByLabel('Loss probability', { exact: true });
    await loss.fill('0.1');
    await loss.press('Enter');
    await expect.poll(() => page.getByTestId('event-log').textContent(), { timeout: 10_000 }).toContain('Loss probability: 0 → 0.1');
    // Non-live knobs are off during the run, and say why.
    expect(await page.getByLabel('ARQ mode').isDisabled()).toBe(true);
    expect(await page.locator('.knob', { has: page.getByLabel('ARQ mode') }).getAttribute('title')).toMatch(/cannot change while a run goes/);
    // Both changes are drawn as marker lines on the charts (their text alternative lists them).
    await expect.poll(() => chartLabel(page, 'retransmissions')).toMatch(/2 knob changes marked: Retransmission timeout \(ms\): 200 → 50( \([^)]*\))?; Loss probability: 0 → 0\.1/);
    const samplesAtChange = await samplesOf(page, 'rate');
    await expect.poll(() => samplesOf(page, 'rate'), { timeout: 30_000, interval: 100, message: '3 s of samples after the changes' }).toBeGreaterThanOrEqual(samplesAtChange + 30);
    expect(await pixelsOf(page, 'retransmissions')).not.toBe(retxBefore);
    await page.screenshot({ path: join(app.artifacts, '2-changed.png'), fullPage: true });

    // Stop: the data stays.
    await page.getByRole('button', { name: 'Stop', exact: true }).click();
    await expect.poll(() => page.getByTestId('run-state').textContent(), { timeout: 20_000 }).toMatch(/^Stopped/);
    expect(await samplesOf(page, 'rate')).toBeGreaterThanOrEqual(samplesAtChange + 30);
    expect(await page.getByRole('status').filter({ hasText: 'Stopped' }).count()).toBeGreaterThan(0);

    // Export CSV: the samples of this run, with their columns, and retransmissions that rose with the loss.
    const download = page.waitForEvent('download');
    await page.getByRole('button', { name: 'Export CSV', exact: true }).click();
    const csvFile = join(app.dir, 'export.csv');
    await (await download).saveAs(csvFile);
    const text = readFileSync(csvFile, 'utf8');
    const header = text.split('\n', 1)[0]!.split(',');
    expect(header.slice(0, 7)).toEqual(['run', 'experiment', 'trial_status', 'point', 'repetition', 'checksum', 'time_s']);
    for (const c of ['throughput_bps', 'goodput_bps', 'retransmits_timeout', 'retransmits_fast', 'rto_ms', 'fwd_drops_random', 'checksum_failures']) expect(header).toContain(c);
    const rows = parse(text, { columns: true }) as Record<string, string>[];
    expect(rows.length).toBeGreaterThanOrEqual(samplesAtChange + 30);
    expect(new Set(rows.map((r) => r.run))).toEqual(new Set([runId]));
    const changeAt = Number(rows[samplesAtChange - 1]!.time_s);
    const retx = (r: Record<string, string>) => Number(r.retransmits_timeout || 0) + Number(r.retransmits_fast || 0);
    const before = rows.filter((r) => Number(r.time_s) < changeAt - 0.5);
    const after = rows.filter((r) => Number(r.time_s) > changeAt + 0.5);
    const mean = (xs: Record<string, string>[]) => xs.reduce((s, r) => s + retx(r), 0) / Math.max(1, xs.length);
    expect(mean(after)).toBeGreaterThan(mean(before) * 2);
    expect(after.reduce((s, r) => s + Number(r.fwd_drops_random || 0), 0)).toBeGreaterThan(0);

    // The run is in the history; opening it puts it on the same charts.
    await page.getByRole('button', { name: 'Refresh', exact: true }).click();
    const open = page.getByRole('button', { name: `Open ${runId}` });
    await expect.poll(() => open.count(), { timeout: 10_000 }).toBe(1);
    await open.click();
    await expect.poll(() => page.getByText(`Showing past run`).count()).toBe(1);
    await expect.poll(() => samplesOf(page, 'rate')).toBeGreaterThanOrEqual(samplesAtChange + 30);
    await expect.poll(() => chartLabel(page, 'rate')).toContain('Loss probability: 0 → 0.1');
    // Its packet ladder comes from its packets.csv, up to the time on the slider.
    const slider = page.locator('.ladder input[type=range]');
    await expect.poll(() => slider.count()).toBe(1);
    const ladderLabel = () => page.locator('.ladder svg').getAttribute('aria-label');
    const atEnd = await ladderLabel();
    expect(atEnd).toMatch(/^Packet ladder of the 40 most recent packets/);
    await slider.evaluate((el) => {
      const input = el as unknown as { value: string; max: string; dispatchEvent(e: Event): boolean };
      input.value = String(Number(input.max) / 10);
      input.dispatchEvent(new Event('input', { bubbles: true }));
    });
    await expect.poll(ladderLabel).not.toBe(atEnd);
    await page.screenshot({ path: join(app.artifacts, '3-opened.png'), fullPage: true });
    await page.getByRole('button', { name: 'Back to the live run' }).click();
    await expect.poll(() => slider.count()).toBe(0);

    // A second, quick run in the simulator, with the first overlaid on its charts.
    await page.getByLabel('Network').selectOption('sim');
    await page.getByLabel('Quick').check();
    await page.getByRole('button', { name: 'Start', exact: true }).click();
    await expect.poll(() => page.getByTestId('run-state').textContent(), { timeout: 60_000 }).toMatch(/^Complete/);
    const second = await runIdOf(page);
    expect(second).not.toBe(runId);
    // The sweep's summary chart filled as its points finished.
    await expect.poll(() => chartLabel(page, 'summary')).toMatch(/2 points finished/);
    const rateAlone = await pixelsOf(page, 'rate');
    await page.getByRole('button', { name: 'Refresh', exact: true }).click();
    await page.getByRole('button', { name: `Overlay ${runId}` }).click();
    await expect.poll(() => page.getByText('Overlay (dashed)').count()).toBe(1);
    await expect.poll(() => pixelsOf(page, 'rate')).not.toBe(rateAlone);
    // The legend names both runs (by their ids' date and time); the same sweep compares point by point.
    const legend = () => page.locator('[data-chart="rate"] .legend').textContent();
    await expect.poll(legend).toContain(`· ${runId.slice(0, 15)} (dashed)`);
    expect(await legend()).toContain(`· ${second.slice(0, 15)}`);
    expect(await page.getByText('Not compared point by point').count()).toBe(0);
    await page.screenshot({ path: join(app.artifacts, '4-overlay.png'), fullPage: true });

    // Export PNG: one dashboard image of every chart, named after the run shown.
    const dashboard = page.waitForEvent('download');
    await page.getByRole('button', { name: 'Export PNG', exact: true }).click();
    expect((await dashboard).suggestedFilename()).toBe(`${second}-dashboard.png`);

    // The dark theme, charts included.
    await page.getByLabel('Theme').selectOption('dark');
    await expect.poll(() => page.evaluate('document.documentElement.dataset.theme')).toBe('dark');
    const corner = (): Promise<number[]> => page.evaluate(`Array.from(document.querySelector('[data-chart="rate"] canvas').getContext('2d').getImageData(1, 1, 1, 1).data.slice(0, 3))`);
    await expect.poll(async () => Math.max(...(await corner()))).toBeLessThan(60);
    await page.screenshot({ path: join(app.artifacts, '5-dark.png'), fullPage: true });

    expect(pageErrors).toEqual([]);
    await context.close();
  }, 240_000);
});
