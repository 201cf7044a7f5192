// The figures before and after a change (core/metrics/effects.ts): exact on samples made by hand,
// and against theory on simulated runs whose schedule changes the loss and the window.

import { describe, expect, it } from 'vitest';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { changeEffect, effectText } from '../core/metrics/effects.js';
import type { MetricRow } from '../core/metrics/registry.js';
import { validateSpec } from '../experiments/spec.js';
import { ExperimentRun } from '../experiments/runner/run.js';
import { readCsv } from '../experiments/runner/store.js';

/** Transfer samples every 0.1 s: goodput g(t), wire packets 100 per interval with d(t) dropped, r(t) retransmissions, srtt s(t). */
function transferSamples(until: number, f: (t: number) => { g: number; d: number; r: number; s: number }): MetricRow[] {
  const out: MetricRow[] = [];
  for (let i = 1; i * 0.1 <= until + 1e-9; i++) {
    const t = Number((i * 0.1).toFixed(1));
    const v = f(t);
    out.push({ time_s: t, goodput_bps: v.g, wire_tx_packets: 100, fwd_drops_random: v.d, fwd_drops_burst: 0, fwd_drops_queue: 0, fwd_drops_mtu: 0, retransmits_timeout: v.r, retransmits_fast: 0, srtt_ms: v.s });
  }
  return out;
}

describe('changeEffect', () => {
  it('means the rate and RTT, and rates the loss and retransmissions, over the seconds each side', () => {
    const rows = transferSamples(6, (t) => (t <= 3 ? { g: 1e6, d: 10, r: 2, s: 40 } : { g: 4e6, d: 1, r: 0, s: 25 }));
    const e = changeEffect(rows, 3, 2);
    expect(e.beforeS).toBeCloseTo(2, 9);
    expect(e.afterS).toBeCloseTo(2, 9);
    const fig = Object.fromEntries(e.figures.map((f) => [f.name, f]));
    expect(fig.goodput_bps).toMatchObject({ before: 1e6, after: 4e6, unit: 'bit/s' });
    expect(fig.loss_ratio!.before).toBeCloseTo(10, 9);
    expect(fig.loss_ratio!.after).toBeCloseTo(1, 9);
    // 2 retransmissions every 0.1 s are 20 per second.
    expect(fig.retransmits_per_s!.before).toBeCloseTo(20, 9);
    expect(fig.retransmits_per_s!.after).toBe(0);
    expect(fig.rtt_ms).toMatchObject({ before: 40, after: 25 });
    expect(effectText(e)).toBe('Goodput 1 Mbit/s → 4 Mbit/s; Loss 10% → 1%; Retransmissions 20 /s → 0 /s; RTT 40 ms → 25 ms (2 s before and after)');
  });

  it('says how much time each side had when the trial was shorter than the window', () => {
    const rows = transferSamples(3.5, () => ({ g: 1e6, d: 0, r: 0, s: 40 }));
    const e = changeEffect(rows, 1, 2);
    expect(e.beforeS).toBeCloseTo(1, 9);
    expect(e.afterS).toBeCloseTo(2, 9);
    expect(effectText(e)).toMatch(/\(1 s before, 2 s after\)$/);
  });
});

describe('effect events of a run', () => {
  it('follow each change with figures that match theory: loss 0 -> 10%, and a window that limits goodput', async () => {
    const r = validateSpec({
      name: 'effects',
      title: 't',
      description: 'd',
      concepts: ['sliding-window'],
      workload: { kind: 'bulk', bytes: 40_000_000 },
      transport: { windowPackets: 8, sack: true },
      forward: { delayMs: 25, rateBitsPerSecond: 100e6 },
      reverse: { delayMs: 25 },
      schedule: [
        { atS: 3, set: { 'transport.windowPackets': 32 } },
        { atS: 6, set: { 'forward.lossProbability': 0.1 } },
      ],
    });
    if (!r.ok) throw new Error(JSON.stringify(r.errors));
    const res = await new ExperimentRun({ spec: r.spec, specFile: null, outDir: mkdtempSync(join(tmpdir(), 'packetlab-effects-')), effectWindowS: 2 }).start();
    const events = readCsv(join(res.dir, 'events.csv'));
    const effects = events.filter((e) => e.kind === 'effect');
    expect(effects.map((e) => [e.time_s, e.knob, e.label])).toEqual([
      ['3', 'transport.windowPackets', 'Window (packets)'],
      ['6', 'forward.lossProbability', 'Loss probability'],
    ]);
    const values = (text: string) => Object.fromEntries(text.split(' ').map((kv) => kv.split('=')).map(([k, v]) => [k, Number(v)]));
    // A window of W packets per 50 ms round trip: W x 1200 B x 8 / 0.05 s (the payload a bit less).
    const mss = 1200 * 8;
    const w = [values(effects[0]!.before!), values(effects[0]!.after!)];
    expect(w[0]!.goodput_bps! / ((8 * mss) / 0.05)).toBeGreaterThan(0.8);
    expect(w[0]!.goodput_bps! / ((8 * mss) / 0.05)).toBeLessThan(1.05);
    expect(w[1]!.goodput_bps! / ((32 * mss) / 0.05)).toBeGreaterThan(0.8);
    expect(w[1]!.goodput_bps! / ((32 * mss) / 0.05)).toBeLessThan(1.05);
    expect(w[0]!.loss_ratio).toBe(0);
    // Loss: none before, the Bernoulli 10% after: n datagrams in 2 s, within 4 sigma of 10%.
    const l = [values(effects[1]!.before!), values(effects[1]!.after!)];
    const n = (l[1]!.goodput_bps! * 2) / mss;
    const sigma = 100 * Math.sqrt((0.1 * 0.9) / n);
    expect(l[0]!.loss_ratio).toBe(0);
    expect(Math.abs(l[1]!.loss_ratio! - 10)).toBeLessThan(4 * sigma);
    expect(l[1]!.retransmits_per_s).toBeGreaterThan(0);
    expect(effects[1]!.detail).toMatch(/^Goodput .* → .*; Loss 0% → \d+(\.\d+)?%; Retransmissions 0 \/s → \d+/);
  });

  it('follow a failure caused to a replica: one server crashed is down, three with failover stay up', async () => {
    const run = async (replicas: number, policy: string) => {
      const r = validateSpec({
        name: 'effects-replicas',
        title: 't',
        description: 'd',
        concepts: ['fault-tolerance'],
        workload: { kind: 'rpc-replicas', calls: 0, durationMs: 4000, replicas, clientPolicy: policy, failoverMs: 100, rpcTimeoutMs: 1000, rpcRetryMs: 50 },
        forward: { delayMs: 5 },
        reverse: { delayMs: 5 },
        schedule: [{ atS: 2, fault: { replica: 1, action: 'crash' } }],
      });
      if (!r.ok) throw new Error(JSON.stringify(r.errors));
      const res = await new ExperimentRun({ spec: r.spec, specFile: null, outDir: mkdtempSync(join(tmpdir(), 'packetlab-effects-')), effectWindowS: 1 }).start();
      const e = readCsv(join(res.dir, 'events.csv')).find((x) => x.kind === 'effect')!;
      const values = (text: string) => Object.fromEntries(text.split(' ').map((kv) => kv.split('=')).map(([k, v]) => [k, Number(v)]));
      return { row: e, before: values(e.before!), after: values(e.after!) };
    };
    const one = await run(1, 'fixed');
    expect(one.row).toMatchObject({ time_s: '2', knob: 'replica1', label: 'Replica 1' });
    expect(one.before.availability).toBe(100);
    // Nothing answers for the second after the crash: the calls that end are the timed-out ones.
    expect(one.after.availability).toBeLessThan(5);
    const three = await run(3, 'failover');
    expect(three.before.availability).toBe(100);
    expect(three.after.availability).toBe(100);
    expect(three.row.detail).toMatch(/^Availability 100% → 100%; Call latency [\d.]+ ms → [\d.]+ ms \(1 s before and after\)$/);
  });
});

