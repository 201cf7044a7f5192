// The `flows` workload: several reliable flows (and optional UDP cross traffic) sharing one
// emulated bottleneck, to watch congestion control share it. Simulator only: the flows share one
// queue.

import { FLOWS_COLUMNS, FlowsMeter, MAX_FLOWS, buildSimFlows, jainIndex } from '../../core/apps/flows.js';
import { FLOW_GOODPUT_METRICS, metricList, type MetricRow } from '../../core/metrics/registry.js';
import { unpacedProblem, type TrialStatus, type WorkloadModule, EXPLORE_MAX_MS } from './kind.js';

/**
 * The figures of a flows trial: per-flow goodput over its last quarter, Jain's index of those, and
 * how long after the last flow started the flows became fair (a one-second moving Jain's index at
 * 0.95 or more from then on; NaN when they never did).
 */
function flowsSummary(rows: readonly MetricRow[], flows: number, startGapMs: number, durationMs: number): MetricRow {
  const out: MetricRow = {};
  const tail = rows.filter((r) => r.time_s! >= (durationMs / 1000) * 0.75);
  const means: number[] = [];
  for (let i = 1; i <= MAX_FLOWS; i++) {
    const column = FLOW_GOODPUT_METRICS[i - 1]!;
    const v = i <= flows && tail.length > 0 ? tail.reduce((a, r) => a + (r[column] ?? 0), 0) / tail.length : Number.NaN;
    out[column] = v;
    if (i <= flows) means.push(v);
  }
  out.total_goodput_bps = means.reduce((a, b) => a + b, 0);
  out.mean_flow_goodput_bps = out.total_goodput_bps / flows;
  out.jain_index_final = jainIndex(means);
  const lastStartS = ((flows - 1) * startGapMs) / 1000;
  const window = Math.max(1, Math.round(rows.length > 1 ? 1 / (rows[1]!.time_s! - rows[0]!.time_s!) : 10));
  let fairSince = Number.NaN;
  for (let k = 0; k < rows.length; k++) {
    if (rows[k]!.time_s! < lastStartS) continue;
    const from = Math.max(0, k - window + 1);
    const avg: number[] = [];
    for (let i = 1; i <= flows; i++) {
      let sum = 0;
      for (let j = from; j <= k; j++) sum += rows[j]![FLOW_GOODPUT_METRICS[i - 1]!] ?? 0;
      avg.push(sum / (k - from + 1));
    }
    const fair = jainIndex(avg) >= 0.95;
    if (fair && Number.isNaN(fairSince)) fairSince = rows[k]!.time_s!;
    if (!fair) fairSince = Number.NaN;
  }
  out.time_to_fair_s = Number.isNaN(fairSince) ? Number.NaN : Math.max(0, fairSince - lastStartS);
  return out;
}

/** Competing flows. */
export const flowsWorkload: WorkloadModule = {
  kind: 'flows',
  title: 'Competing flows (`flows`)',
  sections: ['transport', 'forward', 'reverse', 'socket', 'sim'],
  endless: { durationMs: EXPLORE_MAX_MS },
  knobs: ['flows', 'flowStartGapMs', 'reverseFlows', 'uncontrolledFlows', 'flowWindowFactor', 'crossPacketsPerSecond', 'datagramBytes', 'durationMs'],
  samples: FLOWS_COLUMNS,
  results: metricList(['completed', 'total_goodput_bps', 'mean_flow_goodput_bps', 'jain_index_final', 'time_to_fair_s', 'fwd_drops_queue', ...FLOW_GOODPUT_METRICS]),
  headline: ['total_goodput_bps', 'jain_index_final', 'time_to_fair_s'],

  problems(c, network) {
    const w = c.workload;
    const out = unpacedProblem(c, network);
    if (network.kind !== 'sim') out.push('the flows workload runs in the simulator only: its flows share one emulated bottleneck queue (use --net sim)');
    if (w.reverseFlows > w.flows) out.push(`workload.reverseFlows (${w.reverseFlows}) must not exceed workload.flows (${w.flows})`);
    if (c.forward.rateBitsPerSecond <= 0) out.push('the flows workload needs a bottleneck to share: set forward.rateBitsPerSecond');
    return out;
  },

  sim(c) {
    const w = c.workload;
    const f = buildSimFlows({ transport: c.transport, forward: c.forward, reverse: c.reverse, flows: w.flows, startGapMs: w.flowStartGapMs, windowFactor: w.flowWindowFactor, uncontrolledFlows: w.uncontrolledFlows, reverseFlows: w.reverseFlows, crossPacketsPerSecond: w.crossPacketsPerSecond, crossDatagramBytes: w.datagramBytes, durationMs: w.durationMs, seed: c.seed });
    const sim = f.sim;
    const meter = new FlowsMeter(f, 0);
    const rows: MetricRow[] = [];
    return {
      sim,
      parts: { kind: 'flows', forward: f.forward, reverse: f.reverse, sender: null, receiver: null, remoteReceiver: null, now: () => sim.now, kick: () => {} },
      capture: { forward: f.forward, reverse: f.reverse, reverseCarries: 'ACK direction' },
      sample(now) {
        const row = meter.sample(now);
        rows.push(row);
        return row;
      },
      done: () => f.over(),
      // The first handshake to end: the flows start on a schedule of their own.
      hostNames: f.hostNames,
      connectedAtMs: () => {
        const at = f.senders.map((s) => s.connectedAtMs).filter((t) => !Number.isNaN(t));
        return at.length === 0 ? Number.NaN : Math.min(...at);
      },
      start: () => f.start(0),
      sender: () => null,
      receiver: () => null,
      finish(_why, stopped) {
        for (const s of f.senders) if (s.state !== 'failed' && s.state !== 'done') s.abort(sim.now, stopped ? 'stopped by the user' : 'the flows ran for their duration');
        sim.run({ untilMs: sim.now + 10_000 });
        const failed = f.senders.find((s) => s.failure !== null && !/ran for their duration|stopped by the user/.test(s.failure));
        const status: TrialStatus = stopped ? 'stopped' : failed !== undefined ? 'failed' : 'complete';
        const summary = flowsSummary(rows, w.flows, w.flowStartGapMs, w.durationMs);
        return { status, failure: failed?.failure ?? (stopped ? 'stopped by the user' : null), scalars: { completed: status === 'complete' ? 1 : 0, ...summary, fwd_drops_queue: f.forward.counters.dropsQueue }, summary: null };
      },
    };
  },
};
