// Analytic expectations computed beside the measurement (docs/experiments.md, "Models"). Each
// model gives expected_* columns for one sweep point and names the measured column it predicts,
// so summary.csv can show how far the measurement is from theory.

import { IP_UDP_OVERHEAD_BYTES } from '../../core/impair/config.js';
import { HEADER_BYTES } from '../../core/wire/packet.js';
import { chargedBytes, receiveBufferLimitBytes } from '../../core/sim/receive-buffer.js';
import type { ModelName, ScheduleStep } from '../spec.js';
import type { Network, TrialConfig } from './config.js';
import { metricList, type MetricName, type MetricRow } from '../../core/metrics/registry.js';

/** What a model expects at one point. */
export interface Expectation {
  /** expected_* columns. */
  values: MetricRow;
  /** The scalar the first expected column predicts (model_error compares them). */
  measured: MetricName;
}

/** Column names a model adds to summary.csv. */
export const MODEL_COLUMNS: Record<ModelName, readonly MetricName[]> = {
  'stop-and-wait': ['expected_goodput_bps', 'expected_utilisation'],
  transmissions: ['expected_transmissions_per_packet'],
  'window-limited': ['expected_goodput_bps', 'expected_bdp_packets'],
  'queue-drops': ['expected_loss_ratio'],
  'arq-efficiency': ['expected_goodput_bps'],
  'fair-share': ['expected_fair_share_bps'],
  'failover-gap': ['expected_time_to_recover_ms'],
  'replication-latency': ['expected_latency_p50_ms'],
  'hedged-p99': ['expected_latency_p99_ms'],
  'replicated-drc': ['expected_duplicate_executions'],
};
for (const list of Object.values(MODEL_COLUMNS)) metricList(list);

const ACK_WIRE_BYTES = HEADER_BYTES + IP_UDP_OVERHEAD_BYTES;

function wireBytes(c: TrialConfig): number {
  return c.transport.mssBytes + HEADER_BYTES + IP_UDP_OVERHEAD_BYTES;
}

/** Round trip of one data packet and its ACK: both delays plus both serialisation times. */
function rttMs(c: TrialConfig): number {
  const fwd = c.forward.rateBitsPerSecond > 0 ? (wireBytes(c) * 8 * 1000) / c.forward.rateBitsPerSecond : 0;
  const rev = c.reverse.rateBitsPerSecond > 0 ? (ACK_WIRE_BYTES * 8 * 1000) / c.reverse.rateBitsPerSecond : 0;
  return c.forward.delayMs + c.reverse.delayMs + fwd + rev;
}

/** Payload rate of a saturated forward link (Infinity when unlimited). */
function payloadRateBps(c: TrialConfig): number {
  return c.forward.rateBitsPerSecond > 0 ? (c.forward.rateBitsPerSecond * c.transport.mssBytes) / wireBytes(c) : Number.POSITIVE_INFINITY;
}

/** Wire bytes of a small RPC call or reply (a KV or counter call of a few dozen bytes): its serialisation on a rate-limited link. */
const SMALL_RPC_WIRE_BYTES = 100;

/** One client round trip of a small call: both delays and both serialisation times. */
function callRttMs(c: TrialConfig): number {
  const ser = (rate: number) => (rate > 0 ? (SMALL_RPC_WIRE_BYTES * 8 * 1000) / rate : 0);
  return c.forward.delayMs + c.reverse.delayMs + ser(c.forward.rateBitsPerSecond) + ser(c.reverse.rateBitsPerSecond);
}

/**
 * The expectation of a model at a point, or null when the model does not apply there. `schedule`
 * holds the point's steps (the failure models read the fault steps' times).
 */
export function expectation(model: ModelName, c: TrialConfig, network: Network, schedule: readonly ScheduleStep[] = []): Expectation | null {
  const mss = c.transport.mssBytes;
  switch (model) {
    case 'stop-and-wait': {
      const rtt = rttMs(c);
      if (!(rtt > 0)) return null;
      const tx = c.forward.rateBitsPerSecond > 0 ? (wireBytes(c) * 8 * 1000) / c.forward.rateBitsPerSecond : 0;
      return { values: { expected_goodput_bps: (mss * 8 * 1000) / rtt, expected_utilisation: tx / rtt }, measured: 'goodput_bps' };
    }
    case 'transmissions': {
      const p = c.forward.lossProbability;
      return { values: { expected_transmissions_per_packet: 1 / (1 - p) }, measured: 'transmissions_per_packet' };
    }
    case 'window-limited': {
      const rtt = rttMs(c);
      if (!(rtt > 0)) return null;
      const w = c.transport.protocol === 'saw' ? 1 : c.transport.windowPackets;
      const rate = payloadRateBps(c);
      const bdp = Number.isFinite(rate) ? (rate * rtt) / 1000 / (mss * 8) : Number.NaN;
      return { values: { expected_goodput_bps: transferGoodputBps(c, w, 1), expected_bdp_packets: bdp }, measured: 'goodput_bps' };
    }
    case 'queue-drops': {
      const w = c.workload;
      const lambda = w.ratePacketsPerSecond;
      const T = w.durationMs / 1000;
      let mu: number;
      let B: number;
      if (network.kind === 'sim' && c.sim.receiverPacketsPerSecond > 0) {
        mu = c.sim.receiverPacketsPerSecond;
        B = Math.floor(receiveBufferLimitBytes(c.socket.socketRcvBufBytes) / chargedBytes(w.datagramBytes)) + 1;
      } else if (c.forward.rateBitsPerSecond > 0) {
        mu = c.forward.rateBitsPerSecond / ((w.datagramBytes + IP_UDP_OVERHEAD_BYTES) * 8);
        B = c.forward.queuePackets;
      } else return null;
      return { values: { expected_loss_ratio: Math.max(0, (lambda - mu) * T - B) / (lambda * T) }, measured: 'loss_ratio' };
    }
    case 'fair-share': {
      const rate = payloadRateBps(c);
      if (!Number.isFinite(rate)) return null;
      const w = c.workload;
      const crossBps = w.crossPacketsPerSecond * w.datagramBytes * 8;
      return { values: { expected_fair_share_bps: Math.max(0, rate - crossBps) / w.flows }, measured: 'mean_flow_goodput_bps' };
    }
    case 'failover-gap': {
      // The first crash: with failover the clients notice it after the failover timeout (and under
      // primary-backup not before the view service does); one fixed server is out until it is back.
      const w = c.workload;
      const crash = schedule.find((s) => s.fault?.action === 'crash');
      if (crash === undefined) return null;
      // Load-balancing policies keep answering from the other replicas: their gap is not the timeout.
      if (w.clientPolicy !== 'fixed' && w.clientPolicy !== 'failover') return null;
      if (w.clientPolicy === 'failover' && w.replicas > 1) {
        if (crash.fault!.replica !== 1) return null;
        const gap = w.replication === 'primary-backup' ? Math.max(w.failoverMs, w.detectionMs) : w.failoverMs;
        return { values: { expected_time_to_recover_ms: gap }, measured: 'time_to_recover_ms' };
      }
      const restart = schedule.find((s) => s.atS > crash.atS && s.fault?.action === 'restart' && s.fault.replica === crash.fault!.replica);
      if (restart === undefined || crash.fault!.replica !== 1) return null;
      return { values: { expected_time_to_recover_ms: (restart.atS - crash.atS) * 1000 + w.restartDelayMs }, measured: 'time_to_recover_ms' };
    }
    case 'replication-latency': {
      // Primary-backup adds the primary's round trip to its backups (writes, and the confirmation of reads).
      const w = c.workload;
      const backups = w.replication === 'primary-backup' && w.replicas > 1;
      return { values: { expected_latency_p50_ms: callRttMs(c) + (backups ? 2 * c.forward.delayMs : 0) }, measured: 'latency_p50_ms' };
    }
    case 'hedged-p99': {
      // One replica of N slowed by E: round-robin sends it 1/N of the calls, so the p99 is RTT + E
      // when 1/N is over 1%; hedged after H, a call waits at most H + RTT for its second copy.
      const w = c.workload;
      const slow = schedule.find((s) => s.atS === 0 && s.fault?.action === 'slow');
      if (slow === undefined || w.replication !== 'none') return null;
      const rtt = callRttMs(c);
      const e = slow.fault!.extraMs ?? 0;
      const slowShare = w.clientPolicy === 'fixed' ? (slow.fault!.replica === 1 ? 1 : 0) : 1 / w.replicas;
      const plain = slowShare > 0.01 ? rtt + e : rtt;
      const p99 = w.clientPolicy === 'hedged' ? Math.min(plain, w.hedgeDelayMs + rtt) : plain;
      return { values: { expected_latency_p99_ms: p99 }, measured: 'latency_p99_ms' };
    }
    case 'replicated-drc': {
      // Theory gives a number only for the replicated cache: no request runs twice.
      const w = c.workload;
      if (w.replication !== 'primary-backup' || !w.replicateDrc || !w.drc) return null;
      return { values: { expected_duplicate_executions: 0 }, measured: 'replica_duplicate_executions' };
    }
    case 'arq-efficiency': {
      if (c.forward.rateBitsPerSecond <= 0) return null;
      const p = c.forward.lossProbability;
      const proto = c.transport.protocol;
      if (proto === 'saw') return null;
      const w = c.transport.windowPackets;
      // The lab's link drops before its bottleneck (as netem does), so a lost copy costs no link
      // time: selective repeat keeps the link busy with new data, while go-back-N spends (W - 1)
      // slots per loss on copies the receiver throws away.
      const eff = proto === 'sr' ? 1 : 1 / (1 + (w - 1) * p);
      return { values: { expected_goodput_bps: transferGoodputBps(c, w, eff) }, measured: 'goodput_bps' };
    }
  }
}

/**
 * Goodput of a transfer of the workload's bytes with window w on a link used at efficiency eff:
 * the slower of one window per round trip and the link's pace, plus the round trip it takes the
 * first packet to go and the last ACK to come back (short transfers feel it).
 */
function transferGoodputBps(c: TrialConfig, w: number, eff: number): number {
  const mss = c.transport.mssBytes;
  const n = Math.ceil(c.workload.bytes / mss);
  const rtt = rttMs(c);
  const txMs = c.forward.rateBitsPerSecond > 0 ? (wireBytes(c) * 8 * 1000) / c.forward.rateBitsPerSecond : 0;
  const windowMs = Math.ceil(n / w) * rtt;
  const linkMs = (n * txMs) / eff + (rtt - txMs);
  return (c.workload.bytes * 8 * 1000) / Math.max(windowMs, linkMs);
}
