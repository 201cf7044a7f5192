// The rpc-replicas workload kind behind the runner: knobs, fault steps of a spec's schedule, the
// events they and the replicas write to events.csv, and the trial results.

import { describe, expect, it } from 'vitest';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { validateSpec, type ExperimentSpec } from '../experiments/spec.js';
import { ExperimentRun } from '../experiments/runner/run.js';
import { readCsv } from '../experiments/runner/store.js';

function spec(extra: Record<string, unknown>): ExperimentSpec {
  const r = validateSpec({ name: 'replicas', title: 't', description: 'd', concepts: ['rpc'], preset: 'lab', ...extra });
  if (!r.ok) throw new Error(JSON.stringify(r.errors));
  return r.spec;
}

async function run(s: ExperimentSpec) {
  const out = mkdtempSync(join(tmpdir(), 'packetlab-replicas-'));
  const result = await new ExperimentRun({ spec: s, specFile: null, outDir: out }).start();
  return { samples: readCsv(join(result.dir, 'samples.csv')), events: readCsv(join(result.dir, 'events.csv')), summary: readCsv(join(result.dir, 'summary.csv')) };
}

describe('rpc-replicas workload', () => {
  it('runs the schedule of faults: each is an event, as are the restart and the new view; the results come from the run', async () => {
    const r = await run(
      spec({
        workload: { kind: 'rpc-replicas', replicas: 3, clientPolicy: 'failover', replication: 'primary-backup', calls: 0, durationMs: 3000, restartDelayMs: 100 },
        schedule: [
          { atS: 1, fault: { replica: 1, action: 'crash', memory: 'kept' }, note: 'the primary fails' },
          { atS: 2, fault: { replica: 1, action: 'restart' } },
        ],
      }),
    );
    const kinds = r.events.map((e) => `${e.time_s} ${e.kind} ${e.knob} ${e.after}`);
    expect(kinds).toContain('1 fault replica1 crashed');
    expect(kinds).toContain('2 fault replica1 restarting');
    expect(kinds).toContain('2.1 replica replica1 up');
    const view = r.events.find((e) => e.kind === 'view' && e.after.includes('primary replica2'))!;
    // The view service declares replica 1 dead after the detection time (250 ms) without its ping.
    expect(Number(view.time_s)).toBeGreaterThanOrEqual(1.25);
    expect(Number(view.time_s)).toBeLessThanOrEqual(1.25 + 0.05 + 0.001);
    expect(r.events.some((e) => e.kind === 'view' && e.detail === 'replica 1 joins as a backup')).toBe(true);
    const row = r.summary[0]!;
    expect(Number(row.availability_mean)).toBe(1);
    expect(Number(row.writes_lost_mean)).toBe(0);
    expect(Number(row.writes_acked_mean)).toBeGreaterThan(0);
    expect(Number(row.time_to_recover_ms_mean)).toBeGreaterThan(250);
    expect(Number(row.replication_messages_mean)).toBeGreaterThan(0);
    expect(r.samples.some((s) => s.replicas_up === '2')).toBe(true);
    expect(r.samples[0]!.replica1_calls).not.toBe('');
    expect(r.samples[0]!.replica4_calls).toBe('');
  });

  it('a fault step on a workload without replicas, or on a replica that does not exist, is an error event', async () => {
    const r = await run(spec({ workload: { kind: 'rpc', calls: 200 }, schedule: [{ atS: 0.01, fault: { replica: 1, action: 'crash' } }] }));
    expect(r.events.find((e) => e.kind === 'error')!.detail).toBe('the rpc workload has no replicas to fail (a fault step needs workload.kind rpc-replicas)');
    const r2 = await run(spec({ workload: { kind: 'rpc-replicas', replicas: 2, calls: 200 }, schedule: [{ atS: 0.01, fault: { replica: 3, action: 'crash' } }] }));
    expect(r2.events.find((e) => e.kind === 'error')!.detail).toBe('there is no replica 3 (replicas are numbered 1 to 2)');
  });

  it('refuses a slow step without its extra time, and the workload off the simulator', () => {
    const bad = validateSpec({ name: 'x', title: 't', description: 'd', concepts: ['rpc'], workload: { kind: 'rpc-replicas' }, schedule: [{ atS: 1, fault: { replica: 1, action: 'slow' } }] });
    expect(bad.ok).toBe(false);
    if (!bad.ok) expect(JSON.stringify(bad.errors)).toContain('a slow fault needs extraMs');
    expect(() => new ExperimentRun({ spec: spec({ workload: { kind: 'rpc-replicas' } }), specFile: null, outDir: mkdtempSync(join(tmpdir(), 'packetlab-replicas-')), network: 'loopback' })).toThrow(/the rpc-replicas workload runs in the simulator only/);
  });
});
