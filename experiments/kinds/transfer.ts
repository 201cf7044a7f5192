// The reliable workloads: `bulk` (a byte stream) and `messages` (the same with message boundaries)
// over the lab's transport, from a sender here to a listener (in the simulator, on loopback or a
// peer agent's).

import { TRANSFER_COLUMNS, TransferMeter } from '../../core/metrics/transfer-meter.js';
import { linkDrops } from '../../core/impair/counters.js';
import { retransmissionsTotal } from '../../core/transport/metrics.js';
import { metricList, type MetricName, type MetricRow } from '../../core/metrics/registry.js';
import { summarizeTransfer, type TransferSetup, type TransferSummary } from '../../core/transfer/setup.js';
import { buildSimTransfer } from '../../workloads/transfer/sim-transfer.js';
import { runUdpTransfer, type UdpTransferLive } from '../../workloads/transfer/udp-transfer.js';
import type { TrialConfig } from '../runner/config.js';
import { knobAt, type WorkloadKind } from '../knobs.js';
import type { NumberKnob } from '../../core/knobs.js';
import { listenerFarEnd, unpacedProblem, type TrialStatus, type WorkloadModule } from './kind.js';

function setupOf(c: TrialConfig): TransferSetup {
  const w = c.workload;
  return {
    transport: c.transport,
    forward: c.forward,
    reverse: c.reverse,
    totalBytes: w.bytes,
    messageBytes: w.kind === 'messages' ? w.messageBytes : 0,
    readRateBytesPerSecond: w.readRateBytesPerSecond,
    verifyData: w.verifyData,
    seed: c.seed,
    intervalMs: c.intervalMs,
    timeLimitMs: c.timeLimitMs,
  };
}

function scalarsOf(s: TransferSummary, kernelDrops: number): MetricRow {
  const c = s.sender;
  const r = s.receiver;
  const drops = (l: TransferSummary['forward']) => (l === null ? Number.NaN : linkDrops(l));
  return {
    completed: s.status === 'complete' ? 1 : 0,
    goodput_bps: s.goodputBps,
    duration_s: s.durationS,
    transmissions_per_packet: c.dataPacketsSent > 0 ? (c.dataPacketsSent + retransmissionsTotal(c)) / c.dataPacketsSent : Number.NaN,
    retransmits_timeout: c.retransmitsTimeout,
    retransmits_fast: c.retransmitsFast,
    retransmits_spurious: c.retransmitsSpurious,
    timeouts: c.timeouts,
    duplicates_suppressed: r?.duplicatesSuppressed ?? Number.NaN,
    out_of_order_buffered: r?.outOfOrderBuffered ?? Number.NaN,
    window_drops: r?.windowDrops ?? Number.NaN,
    checksum_failures: s.corruption.detected,
    corrupt_delivered: r?.corruptDeliveredPackets ?? Number.NaN,
    data_matched: s.dataMatched === null ? Number.NaN : s.dataMatched ? 1 : 0,
    fwd_drops: drops(s.forward),
    rev_drops: drops(s.reverse),
    rtt_mean_ms: c.rttSamples > 0 ? c.rttSumMs / c.rttSamples : Number.NaN,
    kernel_drops_receiver: kernelDrops,
    delivered_messages: r?.deliveredMessages ?? Number.NaN,
  };
}

const BULK_RESULTS = metricList(['completed', 'goodput_bps', 'duration_s', 'transmissions_per_packet', 'retransmits_timeout', 'retransmits_fast', 'retransmits_spurious', 'timeouts', 'duplicates_suppressed', 'out_of_order_buffered', 'window_drops', 'checksum_failures', 'corrupt_delivered', 'data_matched', 'fwd_drops', 'rev_drops', 'rtt_mean_ms', 'kernel_drops_receiver']);

function transferKind(kind: Extract<WorkloadKind, 'bulk' | 'messages'>): WorkloadModule {
  const messages = kind === 'messages';
  const results: readonly MetricName[] = messages ? [...BULK_RESULTS, 'delivered_messages'] : BULK_RESULTS;
  return {
    kind,
    title: messages ? 'Reliable messages (`messages`)' : 'Reliable bulk transfer (`bulk`)',
    // The most bytes a transfer takes (1e11): at 100 Mbit/s more than the hour an explored trial may last.
    sections: ['transport', 'forward', 'reverse', 'socket', 'sim'],
    endless: { bytes: (knobAt('workload.bytes')!.knob as NumberKnob).max },
    knobs: messages ? ['bytes', 'messageBytes', 'readRateBytesPerSecond', 'verifyData'] : ['bytes', 'readRateBytesPerSecond', 'verifyData'],
    samples: TRANSFER_COLUMNS,
    results,
    headline: ['goodput_bps', 'transmissions_per_packet', messages ? 'delivered_messages' : 'retransmits_timeout'],

    problems(c, network) {
      const w = c.workload;
      const out = unpacedProblem(c, network, w.readRateBytesPerSecond > 0);
      if (messages && w.messageBytes > w.bytes) out.push(`workload.messageBytes (${w.messageBytes}) must not exceed workload.bytes (${w.bytes})`);
      return out;
    },

    sim(c, wrap, kernelDrops) {
      const setup = setupOf(c);
      const t = buildSimTransfer(setup, wrap);
      const sim = t.sim;
      const receiver = () => t.receiver()?.conn ?? null;
      const meter = new TransferMeter({ sender: t.sender.conn, receiver, forward: t.forward, reverse: t.reverse, kernelDrops: () => ({ sender: 0, receiver: kernelDrops() }) }, 0);
      return {
        sim,
        parts: { kind, forward: t.forward, reverse: t.reverse, sender: t.sender.conn, receiver, remoteReceiver: null, now: () => sim.now, kick: () => {} },
        capture: { forward: t.forward, reverse: t.reverse, reverseCarries: 'ACK direction' },
        sample: (now) => meter.sample(now),
        done: () => t.sender.state === 'done' || t.sender.state === 'failed',
        hostNames: ['the sender', 'the receiver'],
        connectedAtMs: () => t.sender.connectedAtMs,
        start: () => t.sender.start(0),
        sender: () => t.sender.conn,
        receiver,
        finish(why, stopped) {
          const status: TrialStatus = stopped ? 'stopped' : t.sender.state === 'done' ? 'complete' : t.sender.state === 'failed' ? 'failed' : why === 'time' ? 'timeout' : 'failed';
          if (status !== 'complete' && t.sender.state !== 'failed') t.sender.abort(sim.now, stopped ? 'stopped by the user' : `did not finish within ${setup.timeLimitMs} ms of virtual time`);
          sim.run({ untilMs: sim.now + 60_000 });
          const r = t.receiver();
          const s = summarizeTransfer('sim', setup, t.sender, status, r === null ? null : { ...r.conn.counters }, t.forward.counters, t.reverse.counters, t.listener.counters.checksumFailures);
          return { status, failure: s.failure, scalars: scalarsOf(s, kernelDrops()), summary: s };
        },
      };
    },

    async sockets(c, run) {
      const s = await runUdpTransfer({
        setup: setupOf(c),
        peer: run.far,
        remote: run.remote,
        socket: c.socket,
        onSample: (row) => run.onSample(row),
        signal: run.signal,
        capture: run.capture,
        onStart: (t: UdpTransferLive) => run.live({ kind, forward: t.forward, reverse: t.reverse, sender: t.sender.conn, receiver: null, remoteReceiver: t.reconfigureReceiver, now: () => performance.now(), kick: t.kick }),
      });
      return { status: s.status, failure: s.failure, scalars: scalarsOf(s, Number.NaN), summary: s };
    },

    peer: listenerFarEnd(true),
  };
}

/** A reliable bulk transfer. */
export const bulkWorkload = transferKind('bulk');
/** A reliable message stream. */
export const messagesWorkload = transferKind('messages');
