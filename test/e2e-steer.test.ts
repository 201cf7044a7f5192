// Steer and see, end to end: Debian's Chromium (through playwright-core) against `packetlab serve`
// and the real simulator. One point of the timeout sweep (fixed 40 ms) is explored at 1x real time;
// the user changes the retransmission timeout (a swept knob, open when exploring) and the receive
// buffer while it runs; both changes show on
// the charts and in the event log under the knobs' labels, each with its figures before and after;
// the run goes on, past the spec's own end, until Stop. Screenshots go to test-results/e2e-steer/.

import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { appUnderTest, chartLabel, openLab, runIdOf, samplesOf } from './helpers/app-serve.js';
import { readCsv } from '../experiments/runner/store.js';

const app = appUnderTest('e2e-steer');

describe.skipIf(app.skipWhy !== null)('steering a simulator run in Chromium against packetlab serve', () => {
  it('explores a point at 1x, takes two changes with their effects, and keeps going until Stop', async () => {
    const { context, page, pageErrors } = await openLab(app, { viewport: { width: 1400, height: 900 }, acceptDownloads: true });
    await page.getByRole('radio', { name: /Retransmission timeout: fixed from below the RTT/ }).check();
    await expect.poll(() => page.locator('#spec-check').textContent(), { timeout: 15_000 }).toMatch(/Valid: \d+ sweep points/);
    // Real time unless chosen otherwise.
    expect(await page.locator('.teaching select').first().inputValue()).toBe('1');
    await page.getByTestId('explore-point').selectOption({ index: 1 });
    await page.getByLabel('Before/after').selectOption('1');
    await page.getByRole('button', { name: 'Explore', exact: true }).click();
    await expect.poll(() => page.getByTestId('run-state').textContent(), { timeout: 20_000 }).toMatch(/^Running \(exploring until Stop\)/);
    const runId = await runIdOf(page);

    // At 1x, about ten samples a second: not the whole trial at once.
    await expect.poll(() => samplesOf(page, 'rate'), { timeout: 20_000, interval: 100 }).toBeGreaterThanOrEqual(15);
    const t0 = Date.now();
    const early = await samplesOf(page, 'rate');
    expect(early).toBeLessThan(60);

    // The panel shows the explored point's values.
    const rto = page.getByLabel('Retransmission timeout (ms)');
    expect(await rto.inputValue()).toBe('40');
    await rto.fill('200');
    await rto.press('Enter');
    await expect.poll(() => page.getByTestId('event-log').textContent(), { timeout: 10_000 }).toContain('Retransmission timeout (ms): 40 → 200');
    await expect.poll(() => samplesOf(page, 'rate'), { timeout: 20_000, interval: 100 }).toBeGreaterThanOrEqual(early + 15);
    const buffer = page.getByLabel('Receive buffer (bytes)');
    await buffer.fill('4096');
    await buffer.press('Enter');
    await expect.poll(() => page.getByTestId('event-log').textContent(), { timeout: 10_000 }).toMatch(/Receive buffer \(bytes\): \d+ → 4096/);

    // Each change's figures before and after it, a second each side, in the log and on every chart.
    const log = page.getByTestId('event-log');
    await expect.poll(() => log.textContent(), { timeout: 15_000 }).toMatch(/Before and after Retransmission timeout \(ms\): Goodput [\d.]+ [kM]?bit\/s → [\d.]+ [kM]?bit\/s; Loss [\d.]+% → [\d.]+%; Retransmissions [\d.]+ \/s → [\d.]+ \/s; RTT [\d.]+ ms → [\d.]+ ms \(1 s before and after\)/);
    await expect.poll(() => log.textContent(), { timeout: 15_000 }).toMatch(/Before and after Receive buffer \(bytes\): Goodput/);
    for (const chart of ['rate', 'retransmissions']) {
      await expect.poll(() => chartLabel(page, chart)).toMatch(/2 knob changes marked: Retransmission timeout \(ms\): 40 → 200 \(Goodput .*\); Receive buffer \(bytes\): \d+ → 4096 \(Goodput /);
    }
    // A 4 KiB buffer offers three packets per 50 ms round trip: at most 4096 x 8 / 0.05 = 655 kbit/s.
    const effects = () => readCsv(join(app.dir, 'runs', runId, 'events.csv')).filter((e) => e.kind === 'effect');
    await expect.poll(() => effects().length, { timeout: 10_000 }).toBe(2);
    const after = Number(/goodput_bps=([\d.e+]+)/.exec(effects()[1]!.after!)![1]);
    const before = Number(/goodput_bps=([\d.e+]+)/.exec(effects()[1]!.before!)![1]);
    expect(after).toBeLessThan(4096 * 8 / 0.05);
    expect(after).toBeLessThan(before);
    await page.screenshot({ path: join(app.artifacts, '1-explored-and-changed.png'), fullPage: true });

    // The spec's own transfer (1 MB, a few seconds at these rates) would have ended; exploring, it goes on.
    await page.waitForTimeout(Math.max(0, 8000 - (Date.now() - t0)));
    expect(await page.getByTestId('run-state').textContent()).toMatch(/^Running/);
    await page.getByRole('button', { name: 'Stop', exact: true }).click();
    await expect.poll(() => page.getByTestId('run-state').textContent(), { timeout: 20_000 }).toMatch(/^Stopped/);
    const record = JSON.parse(readFileSync(join(app.dir, 'runs', runId, 'run.json'), 'utf8')) as { overrides: { explore?: number }; trials: { point: number; changedByHand?: boolean }[] };
    expect(record.overrides.explore).toBe(1);
    expect(record.trials).toMatchObject([{ point: 1, changedByHand: true }]);

    // The dashboard PNG: every chart on screen in one image at twice the resolution, named after the run.
    const chartsWidth = await page.locator('.charts').evaluate((e) => e.getBoundingClientRect().width);
    const download = page.waitForEvent('download');
    await page.getByRole('button', { name: 'Export PNG', exact: true }).click();
    const file = await download;
    expect(file.suggestedFilename()).toBe(`${runId}-dashboard.png`);
    await file.saveAs(join(app.artifacts, '2-dashboard.png'));
    const png = readFileSync(join(app.artifacts, '2-dashboard.png'));
    expect(png.subarray(1, 4).toString()).toBe('PNG');
    // IHDR: width and height, big-endian, at bytes 16 and 20.
    expect(png.readUInt32BE(16)).toBeGreaterThanOrEqual(Math.floor(chartsWidth * 2));
    expect(png.readUInt32BE(20)).toBeGreaterThan(1000);
    expect(png.length).toBeGreaterThan(50_000);
    expect(pageErrors).toEqual([]);
    await context.close();
  });

  it('is driven from the keyboard: a skip link to the run controls, Ctrl+Enter to start and stop, focus that follows, a data table per chart', async () => {
    const { context, page, pageErrors } = await openLab(app, { viewport: { width: 1024, height: 700 } });
    // The first Tab of the page reaches the skip link; following it puts focus on the run controls.
    await page.keyboard.press('Tab');
    expect(await page.evaluate('document.activeElement.textContent')).toBe('Skip to the run controls');
    await page.keyboard.press('Enter');
    expect(await page.evaluate('document.activeElement.id')).toBe('run-controls');
    await page.getByRole('radio', { name: /Window size against the bandwidth-delay product/ }).check();
    await expect.poll(() => page.locator('#spec-check').textContent(), { timeout: 15_000 }).toMatch(/Valid/);
    expect(await page.getByRole('button', { name: 'Start', exact: true }).getAttribute('aria-keyshortcuts')).toBe('Control+Enter');
    await page.keyboard.press('Control+Enter');
    await expect.poll(() => page.getByTestId('run-state').textContent(), { timeout: 20_000 }).toMatch(/^Running/);
    await expect.poll(() => page.evaluate('document.activeElement.textContent')).toBe('Stop');
    await expect.poll(() => samplesOf(page, 'rate'), { timeout: 20_000, interval: 100 }).toBeGreaterThanOrEqual(5);
    // The rate chart's numbers as a table: time and each figure with its unit.
    await page.locator('[data-chart="rate"] details.data-table summary').click();
    const table = page.locator('[data-chart="rate"] details.data-table table');
    await expect.poll(() => table.locator('tbody tr').count()).toBeGreaterThanOrEqual(5);
    expect(await table.locator('thead').textContent()).toBe('Time (s)ThroughputGoodput');
    expect(await table.locator('tbody tr').first().textContent()).toMatch(/^\d+\.\d\d[\d.]+ [kM]?bit\/s/);
    await page.screenshot({ path: join(app.artifacts, '3-keyboard-1024x700.png'), fullPage: false });
    // From Stop, the shortcut stops the run and focus goes back to Start (focus elsewhere is left alone).
    await page.getByRole('button', { name: 'Stop', exact: true }).focus();
    await page.keyboard.press('Control+Enter');
    await expect.poll(() => page.getByTestId('run-state').textContent(), { timeout: 20_000 }).toMatch(/^Stopped/);
    await expect.poll(() => page.evaluate('document.activeElement.textContent')).toBe('Start');
    expect(pageErrors).toEqual([]);
    await context.close();
  });

  it('crashes and restarts a replica of a replicated service by hand: its state, the marks and the availability before and after', async () => {
    const { context, page, pageErrors } = await openLab(app, { viewport: { width: 1400, height: 900 } });
    await page.getByRole('radio', { name: /^Failover/ }).check();
    await expect.poll(() => page.locator('#spec-check').textContent(), { timeout: 15_000 }).toMatch(/Valid: 3 sweep points/);
    // Three replicas with failover after 100 ms, explored at 1x.
    await page.getByTestId('explore-point').selectOption({ index: 1 });
    await page.getByLabel('Before/after').selectOption('1');
    await page.getByRole('button', { name: 'Explore', exact: true }).click();
    await expect.poll(() => page.getByTestId('run-state').textContent(), { timeout: 20_000 }).toMatch(/^Running/);
    const runId = await runIdOf(page);
    const panel = page.getByRole('region', { name: 'Replicas' });
    await expect.poll(() => panel.locator('tbody tr').count(), { timeout: 15_000 }).toBe(3);
    await page.getByRole('button', { name: 'Crash replica 2' }).click();
    await expect.poll(() => page.getByTestId('replica-2').locator('.state').textContent(), { timeout: 10_000 }).toBe('crashed');
    await expect.poll(() => page.getByTestId('event-log').textContent(), { timeout: 10_000 }).toContain('Replica 2: up → crashed');
    // The failure is a mark on the availability chart, with the availability before and after it (failover keeps it whole).
    await expect.poll(() => chartLabel(page, 'rate'), { timeout: 10_000 }).toMatch(/^Availability, .*Replica 2: up → crashed \(Availability 100% → 100%/);
    await page.getByRole('button', { name: 'Restart replica 2' }).click();
    await expect.poll(() => page.getByTestId('event-log').textContent(), { timeout: 10_000 }).toContain('Replica 2: crashed → up (restart)');
    await expect.poll(() => page.getByTestId('replica-2').locator('.state').textContent(), { timeout: 15_000 }).toBe('up');
    await page.screenshot({ path: join(app.artifacts, '4-replicas.png'), fullPage: true });
    await page.getByRole('button', { name: 'Stop', exact: true }).click();
    await expect.poll(() => page.getByTestId('run-state').textContent(), { timeout: 20_000 }).toMatch(/^Stopped/);
    const record = JSON.parse(readFileSync(join(app.dir, 'runs', runId, 'run.json'), 'utf8')) as { liveChanges: { knob: string; value: string }[] };
    expect(record.liveChanges.filter((c) => c.knob === 'fault').map((c) => c.value)).toEqual(['replica2 crash', 'replica2 restart']);
    const effects = readCsv(join(app.dir, 'runs', runId, 'events.csv')).filter((e) => e.kind === 'effect' && e.knob === 'replica2');
    expect(effects.length).toBeGreaterThanOrEqual(1);
    expect(effects[0]!.after).toMatch(/availability=100/);
    expect(pageErrors).toEqual([]);
    await context.close();
  });
});

