// Teaching mode end to end: Debian's Chromium (through playwright-core) against `packetlab serve`
// and the real simulator. A small go-back-N transfer starts paused; stepping shows the sender's
// window and the receiver's expected sequence number; a DATA packet in flight is dropped by hand
// from the "In flight" list and another corrupted; resuming, both are in the event log and the
// time-sequence graph draws the drop and the retransmission; "Replay with my drops" loads the spec
// with both in its schedule and the replay drops the same packet. Screenshots go to
// test-results/e2e-teaching/.

import { describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { appUnderTest, chartLabel, inkOf, openLab, runIdOf } from './helpers/app-serve.js';

const app = appUnderTest('e2e-teaching');

const SPEC = {
  name: 'teach-gbn',
  title: 'Go-back-N by hand',
  description: 'A small go-back-N transfer over a 20 ms link, to step through and drop packets by hand.',
  concepts: ['sliding-window'],
  network: 'sim',
  workload: { kind: 'bulk', bytes: 40000 },
  transport: { protocol: 'gbn', windowPackets: 8 },
  forward: { delayMs: 20 },
  reverse: { delayMs: 20 },
};

describe.skipIf(app.skipWhy !== null)('teaching mode in Chromium against packetlab serve', () => {
  it('starts paused, steps, shows the endpoints, drops a packet by hand, resumes, draws the time-sequence graph and replays the drop', async () => {
    const { context, page, pageErrors } = await openLab(app, { viewport: { width: 1500, height: 1200 } });
    const editor = page.getByLabel('Spec (JSON)');
    await expect.poll(() => editor.inputValue(), { timeout: 15_000 }).toContain('"name"');
    await editor.fill(JSON.stringify(SPEC, null, 2));
    await expect.poll(() => page.locator('#spec-check').textContent(), { timeout: 10_000 }).toContain('Valid');

    // Teaching controls are off until a simulator run goes.
    expect(await page.getByRole('button', { name: 'Step', exact: true }).isDisabled()).toBe(true);
    const inkBefore = await inkOf(page, 'timeseq');
    await page.getByLabel('Start paused').check();
    await page.getByRole('button', { name: 'Start', exact: true }).click();
    await expect.poll(() => page.getByTestId('run-state').textContent(), { timeout: 20_000 }).toMatch(/^Running/);
    const runId = await runIdOf(page);

    // Paused at time 0: the endpoint state shows, and the clock does not move.
    const panel = page.getByTestId('endpoint-state');
    await expect.poll(() => panel.count(), { timeout: 15_000 }).toBe(1);
    await expect.poll(() => page.getByTestId('sim-clock').textContent()).toMatch(/Paused.*Virtual time 0\.000 s · 0 events/);
    expect(await page.getByRole('button', { name: 'Resume', exact: true }).isEnabled()).toBe(true);

    // Step one event at a time: the clock and the event count move, each step is in the event log.
    const step = page.getByRole('button', { name: 'Step', exact: true });
    for (let i = 1; i <= 3; i++) {
      await step.click();
      await expect.poll(() => page.getByTestId('sim-clock').textContent()).toContain(`· ${i} events`);
    }
    await expect.poll(() => page.getByTestId('event-log').textContent(), { timeout: 10_000 }).toMatch(/step: the (sender|receiver) (sends|receives)/);

    // Step until DATA is in flight: the sender's window has packets sent and waiting.
    await page.getByRole('button', { name: 'Show the datagrams in flight' }).click();
    const dataDrops = page.getByRole('button', { name: /^Drop forward DATA seq \d+ \(#\d+\)$/ });
    for (let i = 0; i < 40 && (await dataDrops.count()) < 3; i++) {
      await page.getByRole('button', { name: 'Step', exact: true }).click();
      await page.waitForTimeout(50);
    }
    expect(await dataDrops.count()).toBeGreaterThanOrEqual(3);
    await expect.poll(() => panel.getByRole('img').getAttribute('aria-label')).toMatch(/^Send window: base \d+, next \d+, [1-9]\d* of 8 packets sent/);
    expect(await panel.getByRole('table').textContent()).toContain('Unacknowledged packets');
    const sndUna = Number(await panel.getByTestId('snd-una').textContent());
    expect(Number(await panel.getByTestId('snd-nxt').textContent())).toBeGreaterThan(sndUna);
    expect(await panel.textContent()).toMatch(/SRTT \/ RTTVAR \/ RTO/);
    expect(await panel.getByTestId('rcv-nxt').textContent()).toMatch(/^\d+$/);
    await page.screenshot({ path: join(app.artifacts, '1-paused.png'), fullPage: true });
    await page.locator('.teaching').screenshot({ path: join(app.artifacts, '1-teaching-panel.png') });

    // Drop the second DATA packet in flight by hand.
    const target = dataDrops.nth(1);
    const label = (await target.getAttribute('aria-label'))!;
    const droppedSeq = Number(/seq (\d+)/.exec(label)![1]);
    await target.click();
    await expect.poll(() => page.getByTestId('event-log').textContent(), { timeout: 10_000 }).toMatch(/forward datagram #\d+ dropped by hand/);
    await expect.poll(() => page.getByRole('button', { name: label }).count()).toBe(0);
    // And corrupt the last one in flight: the receiver's checksum throws it away.
    await page.getByRole('button', { name: /^Corrupt forward DATA seq \d+ \(#\d+\)$/ }).last().click();
    await expect.poll(() => page.getByTestId('event-log').textContent(), { timeout: 10_000 }).toMatch(/forward datagram #\d+ corrupted by hand/);

    // Step on until the receiver holds packets out of order... go-back-N discards them, so it
    // keeps expecting the dropped one.
    await page.getByRole('button', { name: 'Step 10', exact: true }).click();
    await expect.poll(() => panel.getByTestId('rcv-nxt').textContent()).toBe(String(droppedSeq));
    await page.screenshot({ path: join(app.artifacts, '2-dropped.png'), fullPage: true });
    await page.locator('.ladder').screenshot({ path: join(app.artifacts, '2-ladder.png') });

    // Resume: the run ends, the retransmission follows the drop on the time-sequence graph.
    await page.getByRole('button', { name: 'Resume', exact: true }).click();
    await expect.poll(() => page.getByTestId('run-state').textContent(), { timeout: 60_000 }).toMatch(/^Complete/);
    await expect.poll(() => chartLabel(page, 'timeseq'), { timeout: 10_000 }).toMatch(/\(([1-9]\d*) retransmissions?, ([1-9]\d*) dropped\)/);
    expect(await inkOf(page, 'timeseq')).toBeGreaterThan(inkBefore + 500);
    await page.screenshot({ path: join(app.artifacts, '3-complete.png'), fullPage: true });
    await page.locator('[data-chart="timeseq"]').screenshot({ path: join(app.artifacts, '3-timeseq.png') });

    // Replay with my drops: the spec with the drop in its schedule, in the editor; the replay
    // (not paused) drops the same datagram.
    expect(await page.getByTestId('event-log').textContent()).not.toContain('error');
    await page.getByRole('button', { name: 'Replay with my drops' }).click();
    await expect.poll(() => editor.inputValue()).toContain('"packet"');
    const replaySpec = JSON.parse(await editor.inputValue()) as { schedule: { packet?: { direction: string; index: number; action: string } }[] };
    expect(replaySpec.schedule.filter((s) => s.packet !== undefined).map((s) => [s.packet!.direction, s.packet!.action])).toEqual([
      ['forward', 'drop'],
      ['forward', 'corrupt'],
    ]);
    await expect.poll(() => page.locator('#spec-check').textContent(), { timeout: 10_000 }).toContain('Valid');
    await page.getByLabel('Start paused').uncheck();
    await page.getByRole('button', { name: 'Start', exact: true }).click();
    await expect.poll(() => page.getByTestId('run-state').textContent(), { timeout: 60_000 }).toMatch(/^Complete/);
    const second = await runIdOf(page);
    expect(second).not.toBe(runId);
    await expect.poll(() => chartLabel(page, 'timeseq'), { timeout: 10_000 }).toMatch(/, 1 dropped\)/);

    // The first run opened from the history draws the same graph from its packets.csv.
    await page.getByRole('button', { name: 'Refresh', exact: true }).click();
    await page.getByRole('button', { name: `Open ${runId}` }).click();
    await expect.poll(() => page.getByText('Showing past run').count()).toBe(1);
    await expect.poll(() => chartLabel(page, 'timeseq'), { timeout: 10_000 }).toMatch(/\([1-9]\d* retransmissions?, [1-9]\d* dropped\)/);
    await page.screenshot({ path: join(app.artifacts, '4-opened.png'), fullPage: true });

    expect(pageErrors).toEqual([]);
    await context.close();
  }, 180_000);
});
