// The `udp-stream` workload: raw UDP datagrams at a fixed rate, no reliability, the receiver's
// reports telling what arrived (in the simulator, on loopback or to a peer agent's listener).

import { IP_UDP_OVERHEAD_BYTES } from '../../core/impair/config.js';
import { metricList, type MetricRow } from '../../core/metrics/registry.js';
import { STREAM_COLUMNS, StreamMeter, buildSimStream, runUdpStream, summarizeSimStream, type StreamSetup, type StreamSummary } from '../../workloads/stream/run.js';
import type { TrialConfig } from '../runner/config.js';
import { listenerFarEnd, type WorkloadModule, EXPLORE_MAX_MS } from './kind.js';

function setupOf(c: TrialConfig): StreamSetup {
  const w = c.workload;
  return { datagramBytes: w.datagramBytes, ratePacketsPerSecond: w.ratePacketsPerSecond, durationMs: w.durationMs, intervalMs: c.intervalMs, impairment: c.forward, seed: c.seed };
}

function scalarsOf(s: StreamSummary): MetricRow {
  const r = s.receiver;
  return {
    completed: s.status === 'complete' ? 1 : 0,
    sent_packets: s.sent.packetsSent,
    received_packets: r?.packetsReceived ?? Number.NaN,
    loss_ratio: s.lossRatio,
    kernel_drops_receiver: r?.kernelDrops ?? Number.NaN,
    link_drops_queue: s.link.dropsQueue,
    link_drops_random: s.link.dropsRandom,
    link_drops_burst: s.link.dropsBurst,
    reordered_packets: r?.reordered ?? Number.NaN,
    duplicate_packets: r?.duplicates ?? Number.NaN,
    checksum_failures: r?.checksumFailures ?? Number.NaN,
    jitter_ms: r?.jitterMs ?? Number.NaN,
    receive_rate_bps: r !== null && s.durationS > 0 ? (r.bytesReceived * 8) / s.durationS : Number.NaN,
  };
}

/** A raw UDP stream. */
export const streamWorkload: WorkloadModule = {
  kind: 'udp-stream',
  title: 'UDP stream (`udp-stream`)',
  // Raw datagrams, no transport; the receiver's reports travel unimpaired.
  sections: ['forward', 'socket', 'sim'],
  endless: { durationMs: EXPLORE_MAX_MS },
  knobs: ['ratePacketsPerSecond', 'datagramBytes', 'durationMs'],
  samples: STREAM_COLUMNS,
  results: metricList(['completed', 'sent_packets', 'received_packets', 'loss_ratio', 'kernel_drops_receiver', 'link_drops_queue', 'link_drops_random', 'link_drops_burst', 'reordered_packets', 'duplicate_packets', 'checksum_failures', 'jitter_ms', 'receive_rate_bps']),
  headline: ['loss_ratio', 'kernel_drops_receiver', 'received_packets'],

  problems(c) {
    const w = c.workload;
    if (c.forward.mtuBytes > 0 && w.datagramBytes + IP_UDP_OVERHEAD_BYTES > c.forward.mtuBytes) {
      return [`workload.datagramBytes (${w.datagramBytes}) plus ${IP_UDP_OVERHEAD_BYTES} bytes of IP/UDP header exceeds forward.mtuBytes (${c.forward.mtuBytes}): every datagram would be dropped`];
    }
    return [];
  },

  sim(c, wrap, kernelDrops) {
    const setup = setupOf(c);
    const t = buildSimStream(setup, wrap);
    const sim = t.sim;
    const meter = new StreamMeter(t.sender, t.forward, () => 0, 0);
    let prevDrops = 0;
    return {
      sim,
      // The reports travel unimpaired: only the stream's direction has knobs to change.
      parts: { kind: 'udp-stream', forward: t.forward, reverse: null, sender: null, receiver: null, remoteReceiver: null, now: () => sim.now, kick: () => {} },
      capture: { forward: t.forward, reverse: t.reverse, reverseCarries: 'reports' },
      sample(now) {
        const row: MetricRow = meter.sample(now);
        const d = kernelDrops();
        row.kernel_drops_receiver = d - prevDrops;
        prevDrops = d;
        return row;
      },
      done: () => t.sender.state === 'done' || t.sender.state === 'failed',
      hostNames: ['the sender', 'the receiver'],
      connectedAtMs: () => t.sender.startedAtMs,
      start: () => t.sender.start(0),
      sender: () => null,
      receiver: () => null,
      finish(_why, stopped) {
        if (stopped && t.sender.state !== 'done' && t.sender.state !== 'failed') {
          t.sender.stop(sim.now);
          sim.run({ untilMs: sim.now + 10_000, stop: () => t.sender.state === 'done' || t.sender.state === 'failed' });
        }
        const s = summarizeSimStream(setup, t, stopped, kernelDrops());
        return { status: s.status, failure: s.failure, scalars: scalarsOf(s), summary: s };
      },
    };
  },

  async sockets(c, run) {
    const s = await runUdpStream({
      setup: setupOf(c),
      peer: run.far,
      socket: c.socket,
      onSample: (row) => run.onSample(row),
      signal: run.signal,
      capture: run.capture,
      onStart: (t) => run.live({ kind: 'udp-stream', forward: t.forward, reverse: null, sender: null, receiver: null, remoteReceiver: null, now: () => performance.now(), kick: t.kick }),
    });
    return { status: s.status, failure: s.failure, scalars: scalarsOf(s), summary: s };
  },

  // The stream's own reports carry the receiver's figures: nothing to poll.
  peer: listenerFarEnd(false),
};
