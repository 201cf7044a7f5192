// Steering a run: the simulator's pace (set at the start and changed live), exploring one sweep
// point until Stop, knobs a sweep sets locked while it runs, and hand changes marked in summary.csv.

import { describe, expect, it } from 'vitest';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { validateSpec, type ExperimentSpec } from '../experiments/spec.js';
import { ExperimentRun, RunSetupError, type RunStreamEvent } from '../experiments/runner/run.js';
import { readCsv, readRun } from '../experiments/runner/store.js';
import { WORKLOADS } from '../experiments/kinds/registry.js';
import type { WorkloadKind } from '../experiments/knobs.js';
import { loadLibrary } from '../experiments/library.js';
import { spawn } from 'node:child_process';
import { cli, jsonLines } from './helpers/cli.js';

function spec(extra: Record<string, unknown> = {}): ExperimentSpec {
  const r = validateSpec({ name: 'steer', title: 't', description: 'd', concepts: ['timeout-retry'], ...extra });
  if (!r.ok) throw new Error(JSON.stringify(r.errors));
  return r.spec;
}

const base = { workload: { kind: 'bulk', bytes: 300_000 }, forward: { delayMs: 5, rateBitsPerSecond: 10e6 }, reverse: { delayMs: 5 } };

function newRun(s: ExperimentSpec, o: { explore?: number; speed?: number; network?: string; onEvent?: (e: RunStreamEvent, r: ExperimentRun) => void } = {}): ExperimentRun {
  const r: ExperimentRun = new ExperimentRun({ spec: s, specFile: null, outDir: mkdtempSync(join(tmpdir(), 'packetlab-steer-')), explore: o.explore, speed: o.speed, network: o.network ?? null, onEvent: (e) => o.onEvent?.(e, r) });
  return r;
}

function files(dir: string) {
  return { record: readRun(dir), samples: readCsv(join(dir, 'samples.csv')), events: readCsv(join(dir, 'events.csv')), summary: readCsv(join(dir, 'summary.csv')) };
}

describe('pace', () => {
  it('a run started at 1x real time takes at least its virtual time on the wall clock', async () => {
    // The transfer takes about 0.25 s of virtual time; as fast as possible it takes a few ms.
    const t0 = performance.now();
    const res = await newRun(spec(base), { speed: 1 }).start();
    const wallS = (performance.now() - t0) / 1000;
    const end = Number(files(res.dir).events.find((e) => e.kind === 'trial-end')!.time_s);
    expect(res.status).toBe('complete');
    expect(end).toBeGreaterThan(0.2);
    expect(wallS).toBeGreaterThanOrEqual(end * 0.9);
  });

  it('refuses a pace for a run that is not in the simulator, and a pace out of range', () => {
    expect(() => newRun(spec(base), { speed: 1, network: 'loopback' })).toThrow(/speed applies to simulator runs only \(this run is on loopback\)/);
    expect(() => newRun(spec(base), { speed: 5000 })).toThrow(RunSetupError);
  });
});

describe('explore', () => {
  const swept = { ...base, sweep: [{ knob: 'transport.windowPackets', values: [4, 16, 64] }], repetitions: 3 };

  it('runs one trial of the chosen point, beyond the workload\'s own end, until stop, and lets every knob change', async () => {
    let changed: string | null = 'not tried';
    let trials = 0;
    const r = newRun(spec(swept), {
      explore: 2,
      speed: 20,
      onEvent: (e, run) => {
        if (e.type === 'trial-start') trials++;
        // Once a second of virtual time has passed: the window (what the sweep varies) changes by hand, then stop.
        if (e.type === 'sample' && Number(e.sample.time_s) >= 1 && changed === 'not tried') {
          changed = null;
          void run.set('transport.windowPackets', 8).then((err) => {
            changed = err;
            setTimeout(() => run.stop('enough'), 200);
          });
        }
      },
    });
    const res = await r.start();
    const f = files(res.dir);
    expect(trials).toBe(1);
    expect(changed).toBeNull();
    expect(res.status).toBe('stopped');
    expect(f.record.overrides.explore).toBe(2);
    expect(f.record.trials).toMatchObject([{ point: 2, repetition: 0, status: 'stopped' }]);
    // 300 kB at 10 Mbit/s ends in 0.25 s; exploring, it went on for more than a second.
    const delivered = f.samples.reduce((a, s) => a + Number(s.delivered_bytes ?? 0), 0);
    expect(Number(f.samples.at(-1)!.time_s)).toBeGreaterThan(1);
    expect(delivered).toBeGreaterThan(300_000);
    expect(f.events.some((e) => e.kind === 'set' && e.knob === 'transport.windowPackets' && e.after === '8')).toBe(true);
    expect(f.summary).toHaveLength(1);
    expect(f.summary[0]).toMatchObject({ point: '2', changed_by_hand: '1' });
  });

  it('gives every workload kind an end of its own to lift, within the lab\'s cap on duration', () => {
    for (const kind of Object.keys(WORKLOADS) as WorkloadKind[]) {
      const endless = WORKLOADS[kind].endless;
      expect(Object.keys(endless).length, kind).toBeGreaterThan(0);
      for (const k of Object.keys(endless)) expect(WORKLOADS[kind].knobs as readonly string[], `${kind} lifts ${k}, a knob it reads`).toContain(k);
    }
  });

  it('explores every simulator experiment of the library until stopped, whatever its kind', async () => {
    const seen = new Set<string>();
    for (const { spec: s } of loadLibrary()) {
      if (s.network !== 'sim') continue;
      let samples = 0;
      const r = newRun(s, {
        explore: 0,
        speed: 50,
        onEvent: (e, run) => {
          if (e.type === 'trial-start') setTimeout(() => run.stop('enough'), 400);
          if (e.type === 'sample') samples++;
        },
      });
      const res = await r.start();
      const f = files(res.dir);
      expect(f.record.trials.map((t) => t.status), s.name).toEqual(['stopped']);
      expect(samples, s.name).toBeGreaterThan(2);
      seen.add(String(f.record.points[0]!.set['workload.kind'] ?? s.workload.kind));
    }
    // Every workload kind has a simulator experiment in the library, and each explored until stopped.
    expect([...seen].sort()).toEqual(Object.keys(WORKLOADS).sort());
  });

  it('refuses a point the sweep does not have', () => {
    expect(() => newRun(spec(swept), { explore: 3 })).toThrow(/explore: the run has no point 3 \(points 0 to 2\)/);
  });

  it('packetlab run --explore runs one point until Ctrl-C and exits 0; a bad point or pace is a usage error', async () => {
    const bad = cli(['run', 'loss-gbn-vs-sr', '--explore', '99']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/explore: the run has no point 99 \(points 0 to \d+\)/);
    const fast = cli(['run', 'loss-gbn-vs-sr', '--speed', '5000']);
    expect(fast.code).not.toBe(0);
    expect(fast.stderr).toMatch(/--speed must be a value from 0.01 to 1000 \(got 5000\)/);
    const out = mkdtempSync(join(tmpdir(), 'packetlab-steer-'));
    const child = spawn(process.execPath, ['bin/packetlab.js', 'run', 'loss-gbn-vs-sr', '--explore', '1', '--speed', '10', '--json', '--out', out], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let interrupted = false;
    child.stdout.on('data', (d: Buffer) => {
      stdout += d.toString();
      // Two seconds of virtual time in: interrupt it once, as Ctrl-C does.
      if (!interrupted && /"time_s":2\.\d/.test(stdout)) interrupted = child.kill('SIGINT');
    });
    const code = await new Promise<number | null>((r) => child.on('exit', (c) => r(c)));
    const lines = jsonLines(stdout);
    expect(code).toBe(0);
    expect(lines.filter((l) => l.type === 'trial-start')).toHaveLength(1);
    expect(lines.at(-1)).toMatchObject({ type: 'run-end', status: 'stopped', reason: 'interrupted (SIGINT/SIGTERM)' });
  });
});

describe('a sweep steered by hand', () => {
  it('locks the knobs the sweep sets, and marks a trial changed by other knobs in summary.csv', async () => {
    const s = spec({ ...base, workload: { kind: 'bulk', bytes: 2_000_000 }, sweep: [{ knob: 'transport.windowPackets', values: [8, 32] }] });
    const answers: (string | null)[] = [];
    const res = await newRun(s, {
      speed: 4,
      onEvent: (e, run) => {
        if (e.type === 'trial-start' && e.point === 0) {
          setTimeout(() => {
            void run.set('transport.windowPackets', 16).then((err) => answers.push(err));
            void run.set('forward.lossProbability', 0.01).then((err) => answers.push(err));
          }, 100);
        }
      },
    }).start();
    const f = files(res.dir);
    expect(answers[0]).toMatch(/^Window \(packets\) is what this sweep varies/);
    expect(answers[1]).toBeNull();
    expect(f.summary.map((x) => x.changed_by_hand)).toEqual(['1', '0']);
    expect(f.record.trials.map((t) => t.changedByHand)).toEqual([true, false]);
  });
});
