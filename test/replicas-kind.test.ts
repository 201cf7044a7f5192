// The rpc-replicas workload kind behind the runner: knobs, fault steps of a spec's schedule, the
// events they and the replicas write to events.csv, and the trial results.

import { describe, expect, it } from 'vitest';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { validateSpec, type ExperimentSpec } from '../experiments/spec.js';
import { ExperimentRun } from '../experiments/runner/run.js';
import { readCsv, readRun } from '../experiments/runner/store.js';
import { expandSweep, trialConfig } from '../experiments/runner/config.js';
import { WORKLOADS } from '../experiments/kinds/registry.js';
import { loadLibrary } from '../experiments/library.js';

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

  it('refuses a slow step without its extra time, what loopback cannot do, and peer agents', () => {
    const bad = validateSpec({ name: 'x', title: 't', description: 'd', concepts: ['rpc'], workload: { kind: 'rpc-replicas' }, schedule: [{ atS: 1, fault: { replica: 1, action: 'slow' } }] });
    expect(bad.ok).toBe(false);
    if (!bad.ok) expect(JSON.stringify(bad.errors)).toContain('a slow fault needs extraMs');
    expect(() => new ExperimentRun({ spec: spec({ workload: { kind: 'rpc-replicas', rpcTimeoutMs: 100, failoverMs: 200 } }), specFile: null, outDir: mkdtempSync(join(tmpdir(), 'packetlab-replicas-')), network: 'loopback' })).toThrow(/failoverMs \(200\) must be below timeoutMs \(100\)/);
    const s = spec({ workload: { kind: 'rpc-replicas' } });
    const config = trialConfig(s, expandSweep(s)[0]!, 0);
    expect(WORKLOADS['rpc-replicas'].problems(config, { kind: 'peer', host: '127.0.0.1', port: 9 })).toContain('the rpc-replicas workload runs in the simulator or on loopback: replicas on peer agents are not built yet');
  });

  it('a fault by hand (ExperimentRun.fault) is applied at once, logged, and kept in run.json for a replay', async () => {
    const out = mkdtempSync(join(tmpdir(), 'packetlab-replicas-'));
    const answers: (string | null)[] = [];
    const r = new ExperimentRun({
      spec: spec({ workload: { kind: 'rpc-replicas', calls: 0, durationMs: 1000 } }),
      specFile: null,
      outDir: out,
      onEvent: (e) => {
        if (e.type !== 'event' || e.event.kind !== 'trial-start') return;
        answers.push(r.fault({ replica: 1, action: 'crash', memory: 'kept' }));
        answers.push(r.fault({ replica: 1, action: 'crash' }));
        answers.push(r.fault({ replica: 9, action: 'crash' }));
        answers.push(r.fault({ replica: 2, action: 'slow' }));
      },
    });
    expect(r.fault({ replica: 1, action: 'crash' })).toBe('no trial is running');
    const result = await r.start();
    expect(answers).toEqual([null, 'replica 1: crash (memory lost) does not apply: it is crashed already', 'replica must be a whole number from 1 to 5 (got 9)', 'a slow fault needs extraMs from 0 to 600000 (got undefined)']);
    const events = readCsv(join(result.dir, 'events.csv'));
    expect(events.find((e) => e.kind === 'fault')).toMatchObject({ knob: 'replica1', label: 'Replica 1', before: 'up', after: 'crashed', detail: 'crash (memory kept)', time_s: '0' });
    expect(events.find((e) => e.kind === 'error' && e.knob === 'replica1')!.detail).toBe('crash (memory lost) refused: it is crashed already');
    const record = readRun(result.dir);
    expect(record.liveChanges).toEqual([{ point: 0, repetition: 0, atS: 0, knob: 'fault', value: 'replica1 crash', source: 'user', fault: { replica: 1, action: 'crash', memory: 'kept' } }]);
    expect(record.trials[0]!.changedByHand).toBe(true);
  });

  it('runs on loopback: replica processes, a crash (SIGKILL) and a restart from the schedule, each logged', async () => {
    const out = mkdtempSync(join(tmpdir(), 'packetlab-replicas-'));
    const s = spec({
      network: 'loopback',
      preset: undefined,
      workload: { kind: 'rpc-replicas', replicas: 3, calls: 0, durationMs: 2500, rpcTimeoutMs: 2000, rpcRetryMs: 50 },
      schedule: [
        { atS: 0.8, fault: { replica: 1, action: 'crash' } },
        { atS: 1.6, fault: { replica: 1, action: 'restart' } },
      ],
    });
    const result = await new ExperimentRun({ spec: s, specFile: null, outDir: out }).start();
    expect(result.status).toBe('complete');
    const events = readCsv(join(result.dir, 'events.csv'));
    expect(events.filter((e) => ['fault', 'replica'].includes(e.kind!)).map((e) => `${e.kind} ${e.knob} ${e.after}`)).toEqual(['fault replica1 crashed', 'fault replica1 restarting', 'replica replica1 up']);
    const crash = events.find((e) => e.kind === 'fault')!;
    expect(Number(crash.time_s)).toBeGreaterThanOrEqual(0.8);
    const row = readCsv(join(result.dir, 'summary.csv'))[0]!;
    expect(Number(row.calls_failed_mean)).toBe(0);
    expect(Number(row.calls_failed_over_mean)).toBeGreaterThan(0);
    expect(readCsv(join(result.dir, 'samples.csv')).length).toBeGreaterThan(5);
  }, 60_000);
});

describe('library experiments of the replicated service agree with their models', () => {
  async function libraryRun(name: string) {
    const entry = loadLibrary().find((e) => e.spec.name === name)!;
    expect(entry.spec.model).toBeDefined();
    const out = mkdtempSync(join(tmpdir(), 'packetlab-replicas-'));
    const result = await new ExperimentRun({ spec: entry.spec, specFile: null, outDir: out, quick: true }).start();
    return readCsv(join(result.dir, 'summary.csv'));
  }

  it('failover: the gap equals the detection timeout (within one round trip of 10 ms), one server the downtime', async () => {
    const rows = await libraryRun('failover');
    expect(rows.map((r) => r.setup)).toEqual(['one server', '3 replicas, failover 100 ms', '3 replicas, failover 300 ms']);
    for (const r of rows) {
      const measured = Number(r.time_to_recover_ms_mean);
      const expected = Number(r.expected_time_to_recover_ms);
      expect(measured - expected, JSON.stringify(r)).toBeGreaterThanOrEqual(r.setup === 'one server' ? -10 : 0);
      expect(measured - expected, JSON.stringify(r)).toBeLessThanOrEqual(10 + 0.1);
    }
    expect(Number(rows[0]!.availability_mean)).toBeLessThan(1);
    expect(Number(rows[1]!.availability_mean)).toBe(1);
  }, 120_000);

  it('replication: writes lost without it, none with primary-backup, whose latency is one more round trip (within 5%)', async () => {
    const rows = await libraryRun('replication');
    const [none, pb] = rows;
    expect(Number(none!.writes_lost_mean)).toBeGreaterThan(0);
    expect(Number(pb!.writes_lost_mean)).toBe(0);
    expect(Number(pb!.stale_reads_mean)).toBe(0);
    expect(Number(pb!.replication_messages_mean)).toBeGreaterThan(Number(none!.replication_messages_mean));
    for (const r of rows) expect(Math.abs(Number(r.model_error)), JSON.stringify(r)).toBeLessThan(0.05);
  }, 120_000);

  it('hedged requests: p99 within 5% of the model, and the extra copies counted', async () => {
    const rows = await libraryRun('hedged-requests');
    for (const r of rows) expect(Math.abs(Number(r.model_error)), JSON.stringify(r)).toBeLessThan(0.05);
    expect(Number(rows[0]!.hedged_copies_mean)).toBe(0);
    expect(Number(rows[1]!.hedged_copies_mean)).toBeGreaterThan(0);
  }, 120_000);

  it('at-most-once across failover: replicated cache none, per-server cache some duplicate executions', async () => {
    const rows = await libraryRun('at-most-once-failover');
    const [perServer, replicated] = [rows[0]!, rows[1]!];
    // Every INCREMENT in flight at the crash had been forwarded and not answered: each runs again.
    expect(Number(perServer.replica_duplicate_executions_mean)).toBe(16);
    expect(perServer.expected_duplicate_executions).toBe('');
    expect(Number(replicated.replica_duplicate_executions_mean)).toBe(0);
    expect(Number(replicated.expected_duplicate_executions)).toBe(0);
  }, 120_000);
});
