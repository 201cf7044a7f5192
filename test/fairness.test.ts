// Competing flows in the simulator: AIMD congestion control shares a bottleneck fairly from
// unequal starts; a flow without congestion control takes the link from one with it.

import { describe, expect, it } from 'vitest';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { jainIndex } from '../core/apps/flows.js';
import { loadLibrary } from '../experiments/library.js';
import { ExperimentRun } from '../experiments/runner/run.js';
import { readCsv } from '../experiments/runner/store.js';

describe("Jain's fairness index", () => {
  it('is 1 for equal shares and 1/n when one flow takes everything', () => {
    expect(jainIndex([5, 5, 5, 5])).toBe(1);
    expect(jainIndex([8, 0, 0, 0])).toBe(0.25);
    expect(jainIndex([3, 1])).toBeCloseTo(16 / 20, 12);
  });
});

describe('competing flows through one bottleneck (simulator)', () => {
  it('two AIMD flows from unequal starts reach a Jain index of 0.95 within 5 s of the second start; a flow without congestion control does not share', async () => {
    const entry = loadLibrary().find((e) => e.spec.name === 'competing-flows')!;
    const r = new ExperimentRun({ spec: entry.spec, specFile: null, outDir: mkdtempSync(join(tmpdir(), 'packetlab-fair-')), quick: true });
    const res = await r.start();
    expect(res.status).toBe('complete');
    const rows = Object.fromEntries(readCsv(join(res.dir, 'summary.csv')).map((row) => [row.cc!, row]));
    const aimd = rows['AIMD on both']!;
    expect(Number(aimd.jain_index_final_mean)).toBeGreaterThanOrEqual(0.95);
    expect(Number(aimd.time_to_fair_s_mean)).toBeLessThanOrEqual(5);
    // Every flow of every point carried data: a flow locked out of the queue is no competition.
    for (const [cc, row] of Object.entries(rows)) for (const f of [1, 2]) expect(Number(row[`flow${f}_goodput_bps_mean`]), `${cc}: flow ${f}`).toBeGreaterThan(1e6);
    const mixed = rows['one flow without']!;
    expect(Number(mixed.jain_index_final_mean)).toBeLessThan(0.85);
    // The uncontrolled flow (flow 1) takes most of the link.
    expect(Number(mixed.flow1_goodput_bps_mean)).toBeGreaterThan(2 * Number(mixed.flow2_goodput_bps_mean));
    // Without congestion control on either, the queue overflows all the time.
    const off = rows['off on both']!;
    expect(Number(off.fwd_drops_queue_mean)).toBeGreaterThan(50 * Number(aimd.fwd_drops_queue_mean));
  });
});

describe('bidirectional transfers', () => {
  it('one flow each way: both directions carry data, each sharing its link with the other flow\'s ACKs', async () => {
    const { validateSpec } = await import('../experiments/spec.js');
    const v = validateSpec({
      name: 'bidi', title: 't', description: 'd', concepts: ['sliding-window'],
      workload: { kind: 'flows', flows: 2, reverseFlows: 1, durationMs: 10_000 },
      transport: { protocol: 'sr', windowPackets: 256, rcvBufferBytes: 1 << 20, rtoMsMin: 50, maxRetransmissions: 1000, congestionControl: 'aimd' },
      forward: { rateBitsPerSecond: 10e6, delayMs: 10, queuePackets: 50 },
      reverse: { rateBitsPerSecond: 10e6, delayMs: 10, queuePackets: 50 },
    });
    if (!v.ok) throw new Error(JSON.stringify(v.errors));
    const res = await new ExperimentRun({ spec: v.spec, specFile: null, outDir: mkdtempSync(join(tmpdir(), 'packetlab-bidi-')) }).start();
    expect(res.status).toBe('complete');
    const row = readCsv(join(res.dir, 'summary.csv'))[0]!;
    expect(Number(row.flow1_goodput_bps_mean)).toBeGreaterThan(3e6);
    expect(Number(row.flow2_goodput_bps_mean)).toBeGreaterThan(3e6);
    const samples = readCsv(join(res.dir, 'samples.csv'));
    // The forward queue (the only one sampled) holds data of one flow and ACKs of the other.
    expect(samples.some((r) => Number(r.fwd_queue_packets) > 0)).toBe(true);
  });
});
