// The metric registry (core/metrics/registry.ts): every column a meter writes, every result, every
// chart and every spec plot names a declared metric; totals are defined once and agree with the
// simulator's ground truth; the doc's column tables are generated from it.

import { describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { METRICS, MetricAggregator, axisTitle, isMetric, metric, metricList, type MetricName } from '../core/metrics/registry.js';
import { TRANSFER_COLUMNS } from '../core/metrics/transfer-meter.js';
import { DROP_CAUSES, LINK_COUNTERS, LinkCounters, linkDrops } from '../core/impair/counters.js';
import { NO_IMPAIRMENT } from '../core/impair/config.js';
import { DEFAULT_TRANSPORT_CONFIG } from '../core/transport/config.js';
import { runSimTransfer } from '../workloads/transfer/sim-transfer.js';
import { STREAM_COLUMNS, runSimStream } from '../workloads/stream/run.js';
import { RPC_COLUMNS, runSimRpcWorkload, type RpcSetup } from '../workloads/rpc/workload.js';
import { DEFAULT_RETRY_POLICY } from '../core/rpc/client.js';
import { DEFAULT_DRC_CONFIG } from '../core/rpc/drc.js';
import { FLOWS_COLUMNS, FlowsMeter, buildSimFlows } from '../core/apps/flows.js';
import { WORKLOADS } from '../experiments/kinds/registry.js';
import { MODEL_COLUMNS } from '../experiments/runner/models.js';
import { ExperimentRun, RunSetupError } from '../experiments/runner/run.js';
import { readCsv, readRun } from '../experiments/runner/store.js';
import { validateSpec, type ExperimentSpec } from '../experiments/spec.js';
import { WORKLOAD_KINDS } from '../experiments/knobs.js';
import { withMetricDocs } from '../experiments/write-docs.js';
import { CHART_DEFS } from '../renderer/src/lib/run-data.js';
import { metricLabel, sharedUnit } from '../renderer/src/lib/metrics.js';

function spec(extra: Record<string, unknown>): ExperimentSpec {
  const r = validateSpec({ name: 'metrics', title: 't', description: 'd', concepts: ['checksums'], ...extra });
  if (!r.ok) throw new Error(JSON.stringify(r.errors));
  return r.spec;
}

describe('the registry', () => {
  it('refuses a metric it does not declare, naming it', () => {
    expect(isMetric('goodput_bps')).toBe(true);
    expect(isMetric('goodput')).toBe(false);
    expect(isMetric('toString')).toBe(false);
    expect(() => metric('goodputt_bps')).toThrow(/"goodputt_bps" is not a metric the registry declares/);
    expect(() => metricList(['time_s', 'nope' as MetricName])).toThrow(/"nope" is not a metric/);
    expect(() => metricList(['time_s', 'time_s'])).toThrow(/names a column twice/);
  });

  it('declares each metric with a label, a unit, an aggregation, a meaning and a source', () => {
    for (const [name, d] of Object.entries(METRICS)) {
      expect(d.label, name).toMatch(/\S/);
      expect(d.description, name).toMatch(/\S/);
      expect(d.source, name).toMatch(/\S/);
      expect(['sum', 'last', 'mean', 'max'], name).toContain(d.aggregation);
    }
    // A name carries its unit.
    for (const [name, d] of Object.entries(METRICS)) {
      if (name.endsWith('_bps')) expect(d.unit, name).toBe('bit/s');
      if (name.endsWith('_ms')) expect(d.unit, name).toBe('ms');
      if (name.endsWith('_s') && !name.endsWith('per_s')) expect(d.unit, name).toBe('s');
      if (name.endsWith('_bytes')) expect(d.unit, name).toBe('bytes');
    }
  });

  it('every column list of a workload, a result and a model names declared metrics', () => {
    for (const kind of WORKLOAD_KINDS) {
      for (const c of WORKLOADS[kind].samples) expect(isMetric(c), `${kind} sample ${c}`).toBe(true);
      for (const c of WORKLOADS[kind].results) expect(isMetric(c), `${kind} result ${c}`).toBe(true);
      for (const c of WORKLOADS[kind].headline) expect(WORKLOADS[kind].results, `${kind} headline ${c}`).toContain(c);
    }
    for (const cols of Object.values(MODEL_COLUMNS)) for (const c of cols) expect(isMetric(c), c).toBe(true);
  });

  it('combines values over intervals as each metric says', () => {
    const a = new MetricAggregator(['retransmits_timeout', 'srtt_ms', 'goodput_bps', 'latency_max_ms', 'cwnd_packets'] as const);
    a.add({ retransmits_timeout: 2, srtt_ms: 10, goodput_bps: 100, latency_max_ms: 5, cwnd_packets: Number.NaN });
    a.add({ retransmits_timeout: 3, srtt_ms: 12, goodput_bps: 300, latency_max_ms: 9, cwnd_packets: Number.NaN });
    a.add({ retransmits_timeout: 0, srtt_ms: 11, goodput_bps: 200, latency_max_ms: 7, cwnd_packets: Number.NaN });
    expect(a.value('retransmits_timeout')).toBe(5);
    expect(a.value('srtt_ms')).toBe(11);
    expect(a.value('goodput_bps')).toBeCloseTo(200, 9);
    expect(a.value('latency_max_ms')).toBe(9);
    expect(a.value('cwnd_packets')).toBeNaN();
    a.reset();
    expect(a.value('retransmits_timeout')).toBeNaN();
  });

  it('titles an axis by the shared unit and refuses to draw incomparable figures together', () => {
    expect(axisTitle(['throughput_bps', 'goodput_bps'])).toBe('bit/s');
    expect(axisTitle(['fwd_drops_random', 'kernel_drops_receiver'])).toBe('datagrams per interval');
    expect(axisTitle(['retransmits_timeout', 'timeouts'])).toBe('per interval');
    expect(() => axisTitle(['srtt_ms', 'cwnd_packets'])).toThrow(/different units \(ms, packets\)/);
  });
});

describe('the meters write exactly their declared columns', () => {
  const keysOf = (rows: object[]) => {
    expect(rows.length).toBeGreaterThan(0);
    const keys = new Set(rows.flatMap((r) => Object.keys(r)));
    for (const k of keys) expect(isMetric(k), k).toBe(true);
    return [...keys];
  };

  it('a transfer', () => {
    const rows: object[] = [];
    runSimTransfer({ transport: DEFAULT_TRANSPORT_CONFIG, forward: { ...NO_IMPAIRMENT, delayMs: 5 }, reverse: { ...NO_IMPAIRMENT, delayMs: 5 }, totalBytes: 200_000, messageBytes: 0, readRateBytesPerSecond: 0, verifyData: false, seed: 1, intervalMs: 10, timeLimitMs: 60_000 }, { onSample: (s) => rows.push(s) });
    expect(keysOf(rows)).toEqual([...TRANSFER_COLUMNS]);
  });

  it('a UDP stream', () => {
    const rows: object[] = [];
    runSimStream({ datagramBytes: 500, ratePacketsPerSecond: 1000, durationMs: 300, intervalMs: 50, impairment: { ...NO_IMPAIRMENT, delayMs: 2 }, seed: 1 }, (s) => rows.push(s));
    expect(keysOf(rows)).toEqual([...STREAM_COLUMNS]);
  });

  it('an RPC workload', () => {
    const rows: object[] = [];
    const setup: RpcSetup = {
      transport: 'udp', mix: { null: 1, echo: 1, increment: 1 }, echoBytes: 16, callsInFlight: 4, totalCalls: 200, durationMs: 0,
      forward: { ...NO_IMPAIRMENT, delayMs: 1 }, reverse: { ...NO_IMPAIRMENT, delayMs: 1 }, intervalMs: 20, timeLimitMs: 30_000, seed: 1,
      policy: DEFAULT_RETRY_POLICY, drc: DEFAULT_DRC_CONFIG, transportConfig: DEFAULT_TRANSPORT_CONFIG,
    };
    runSimRpcWorkload(setup, { onSample: (s) => rows.push(s) });
    expect(keysOf(rows)).toEqual([...RPC_COLUMNS]);
  });

  it('competing flows', () => {
    const f = buildSimFlows({ transport: { ...DEFAULT_TRANSPORT_CONFIG, congestionControl: 'aimd' }, forward: { ...NO_IMPAIRMENT, delayMs: 5, rateBitsPerSecond: 10e6 }, reverse: { ...NO_IMPAIRMENT, delayMs: 5 }, flows: 2, startGapMs: 100, durationMs: 500, crossPacketsPerSecond: 0, crossDatagramBytes: 200, seed: 1 });
    const meter = new FlowsMeter(f, 0);
    const rows: object[] = [];
    f.start(0);
    for (let t = 100; t <= 500; t += 100) {
      f.sim.run({ untilMs: t });
      rows.push(meter.sample(t));
    }
    expect(keysOf(rows).sort()).toEqual([...FLOWS_COLUMNS].sort());
  });
});

describe('charts and plots', () => {
  it('draws declared metrics only, each chart on one unit, with the registry labels', () => {
    for (const d of CHART_DEFS) {
      for (const v of d.variants) {
        for (const c of v.columns) expect(isMetric(c), `${d.id}/${v.title}: ${c}`).toBe(true);
        expect(v.yTitle).toBe(axisTitle(v.columns));
      }
    }
    expect(metricLabel('goodput_bps')).toBe('Goodput');
    expect(metricLabel('window')).toBe('window');
    expect(sharedUnit(['goodput_bps', 'expected_goodput_bps'])).toBe('bit/s');
    expect(sharedUnit(['loss_ratio', 'kernel_drops_receiver'])).toBeNull();
  });

  it('refuses a spec whose plot names a result its workloads do not have', () => {
    const bad = spec({ workload: { kind: 'bulk', bytes: 10_000 }, forward: { delayMs: 1 }, sweep: [{ knob: 'transport.windowPackets', values: [1, 2] }], plot: { x: 'transport.windowPackets', y: ['goodput_bps', 'goodputt_bps', 'loss_ratio'] } });
    const out = mkdtempSync(join(tmpdir(), 'packetlab-metrics-'));
    expect(() => new ExperimentRun({ spec: bad, specFile: null, outDir: out })).toThrow(RunSetupError);
    expect(() => new ExperimentRun({ spec: bad, specFile: null, outDir: out })).toThrow(/plot.y\[1\] "goodputt_bps" is not a metric/);
    expect(() => new ExperimentRun({ spec: bad, specFile: null, outDir: out })).toThrow(/plot.y\[2\] "loss_ratio" is not a result of this run's workloads/);
  });
});

describe('totals are defined once', () => {
  it("a link's drops count every cause", () => {
    const c = new LinkCounters();
    c.dropsRandom = 1;
    c.dropsBurst = 2;
    c.dropsQueue = 4;
    c.dropsMtu = 8;
    c.dropsMemory = 16;
    c.dropsManual = 32;
    c.duplicated = 64;
    expect(linkDrops(c)).toBe(63);
  });

  it('every drop counter of a link is a cause of linkDrops', () => {
    const counters = Object.keys(new LinkCounters()).filter((k) => k.startsWith('drops'));
    expect(DROP_CAUSES.map((d) => d.counter).sort()).toEqual(counters.sort());
  });

  it('every counter of LINK_COUNTERS is a forward, reverse and stream column, in the meters and the loss chart', () => {
    for (const c of LINK_COUNTERS) {
      for (const family of ['fwd', 'rev'] as const) expect(TRANSFER_COLUMNS).toContain(`${family}_${c.column}`);
      expect(STREAM_COLUMNS).toContain(`link_${c.column}`);
      expect(metric(`fwd_${c.column}`).source).toBe(`forward link: ${c.counter}`);
    }
    const loss = CHART_DEFS.find((d) => d.id === 'loss')!.variants[0]!.columns;
    for (const d of DROP_CAUSES) {
      const c = LINK_COUNTERS.find((l) => l.counter === d.counter);
      if (c !== undefined) expect(loss).toContain(`fwd_${c.column}`);
    }
  });

  it("a stream's random and burst drops are reported apart, in samples and results alike, as the simulator counted them", async () => {
    const s = spec({
      workload: { kind: 'udp-stream', datagramBytes: 200, ratePacketsPerSecond: 2000, durationMs: 1000 },
      forward: { delayMs: 2, lossProbability: 0.05, burstEnterProbability: 0.02, burstExitProbability: 0.3, burstLossBad: 1 },
    });
    const out = mkdtempSync(join(tmpdir(), 'packetlab-metrics-'));
    const r = await new ExperimentRun({ spec: s, specFile: null, outDir: out, packetLog: true }).start();
    expect(r.status).toBe('complete');
    const samples = readCsv(join(r.dir, 'samples.csv'));
    const summary = readCsv(join(r.dir, 'summary.csv'))[0]!;
    const packets = readCsv(join(r.dir, 'packets.csv'));
    const fates = (f: string) => packets.filter((p) => p.fate === f && p.direction === 'forward').length;
    const sum = (col: string) => samples.reduce((a, x) => a + Number(x[col]), 0);
    expect(fates('random')).toBeGreaterThan(10);
    expect(fates('burst')).toBeGreaterThan(10);
    expect(sum('link_drops_random')).toBe(fates('random'));
    expect(sum('link_drops_burst')).toBe(fates('burst'));
    expect(Number(summary.link_drops_random_mean)).toBe(fates('random'));
    expect(Number(summary.link_drops_burst_mean)).toBe(fates('burst'));
    expect(readRun(r.dir).columns.summary).toContain('link_drops_burst_mean');
  });
});

describe('docs/experiments.md', () => {
  it('has the column tables the registry generates (npm run docs rewrites them)', () => {
    const text = readFileSync(new URL('../docs/experiments.md', import.meta.url), 'utf8');
    expect(withMetricDocs(text) === text, 'docs/experiments.md is out of date: run npm run docs').toBe(true);
  });
});
