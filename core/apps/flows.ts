// Competing flows in the simulator: N reliable senders (and optionally a raw UDP stream as cross
// traffic) share one bottleneck queue towards one listener. Per-flow goodput and Jain's fairness
// index show whether the flows share the link: with AIMD congestion control they converge to a
// fair share; without it the outcome depends on who came first and how large the windows are.

import { Link } from '../impair/link.js';
import type { ImpairmentConfig } from '../impair/config.js';
import { DEFAULT_LISTENER_CAPS, Listener, type Session } from '../listener.js';
import { Simulator } from '../sim/simulator.js';
import type { TransportConfig } from '../transport/config.js';
import type { Connection } from '../transport/connection.js';
import { Rng, deriveSeed } from '../util/rng.js';
import { StreamSender } from '../stream/sender.js';
import { BulkReceiver, BulkSender } from './bulk.js';
import { FLOW_COLUMN_COUNT, FLOW_CWND_METRICS, FLOW_GOODPUT_METRICS, metricList, type MetricName } from '../metrics/registry.js';
import { labSessionFactory, listenerDefaultsOf } from './services.js';

/** Most flows a workload may have (and the flow columns of a sample). */
export const MAX_FLOWS = FLOW_COLUMN_COUNT;

/** Everything that defines a competing-flows run. */
export interface FlowsSetup {
  transport: TransportConfig;
  /** The shared bottleneck (senders to listener). */
  forward: ImpairmentConfig;
  /** The ACK path. */
  reverse: ImpairmentConfig;
  flows: number;
  /** Flow i starts at i x startGapMs. */
  startGapMs: number;
  /** Flow i's window is transport.windowPackets x windowFactor^i (1: all equal). */
  windowFactor?: number;
  /** The first this many flows run without congestion control whatever transport says. */
  uncontrolledFlows?: number;
  /**
   * Of the `flows`, this many send the other way (from the listener's side, through the reverse
   * link's bottleneck): bidirectional transfers, whose data shares each direction with the other
   * flows' ACKs. Default 0.
   */
  reverseFlows?: number;
  /** Raw UDP cross traffic through the same bottleneck (datagrams/s, 0 for none). */
  crossPacketsPerSecond: number;
  crossDatagramBytes: number;
  /** How long the flows send. */
  durationMs: number;
  seed: number;
}

/** Jain's fairness index of the values: 1 when all are equal, 1/n when one takes everything. */
export function jainIndex(values: readonly number[]): number {
  let sum = 0;
  let squares = 0;
  for (const v of values) {
    sum += v;
    squares += v * v;
  }
  return squares === 0 ? Number.NaN : (sum * sum) / (values.length * squares);
}

/** Column names of a flows sample, in CSV order. */
export const FLOWS_COLUMNS: readonly MetricName[] = metricList(['time_s', 'total_goodput_bps', 'jain_index', 'fwd_queue_packets', 'fwd_drops_queue', 'cross_sent_packets', ...FLOW_GOODPUT_METRICS, ...FLOW_CWND_METRICS]);

/** A wired flows run. */
export interface SimFlows {
  sim: Simulator;
  senders: BulkSender[];
  listener: Listener;
  cross: StreamSender | null;
  forward: Link;
  reverse: Link;
  /** The receiving end of flow i, once its SYN has arrived. */
  receiverOf(i: number): Connection | null;
  /** Starts flow 0 now and the others at their offsets (call with the run's start time, 0). */
  start(now: number): void;
  /** True once the duration is over. */
  over(): boolean;
  /** Each simulated host for people, by its index (teaching mode's steps). */
  hostNames: readonly string[];
}

/**
 * Wires a competing-flows run in the simulator. Side A holds the forward senders, the listener of
 * the reverse flows and the cross traffic; side B the listener of the forward flows and the
 * reverse senders. Everything side A sends crosses the forward link, everything side B sends the
 * reverse one.
 */
export function buildSimFlows(setup: FlowsSetup): SimFlows {
  const n = setup.flows;
  if (!Number.isInteger(n) || n < 1 || n > MAX_FLOWS) throw new RangeError(`flows must be a whole number from 1 to ${MAX_FLOWS} (got ${n})`);
  const nRev = setup.reverseFlows ?? 0;
  if (!Number.isInteger(nRev) || nRev < 0 || nRev > n) throw new RangeError(`reverseFlows must be a whole number from 0 to flows (got ${nRev})`);
  const nFwd = n - nRev;
  // Host addresses: forward senders 0..nFwd-1, listener A, listener B, reverse senders, cross.
  const listenerA = nFwd;
  const listenerB = nFwd + 1;
  const rng = new Rng(deriveSeed(setup.seed, 'flows'));
  const senders: BulkSender[] = [];
  for (let i = 0; i < n; i++) {
    const windowPackets = Math.min(16384, Math.round(setup.transport.windowPackets * (setup.windowFactor ?? 1) ** i));
    senders.push(
      new BulkSender({
        config: { ...setup.transport, windowPackets, ...(i < (setup.uncontrolledFlows ?? 0) ? { congestionControl: 'off' as const } : {}) },
        // Flows send for the duration, not a size: more than any duration can carry.
        totalBytes: 1e11,
        messageBytes: 0,
        readRateBytesPerSecond: 0,
        verifyData: false,
        connectionId: rng.uint32(),
        isn: rng.uint32(),
        peer: i < nFwd ? listenerB : listenerA,
        patternSeed: deriveSeed(setup.seed, `pattern-${i}`),
      }),
    );
  }
  const receivers = new Map<number, Connection>();
  const t = setup.transport;
  const base = labSessionFactory(listenerDefaultsOf(t));
  const makeListener = (label: string) =>
    new Listener(
      { ...DEFAULT_LISTENER_CAPS, maxSessions: MAX_FLOWS + 1 },
      (ctx) => {
        const s = base(ctx);
        if (s instanceof BulkReceiver) receivers.set(ctx.syn.connectionId, s.conn);
        return s as Session | { refuse: string };
      },
      deriveSeed(setup.seed, label),
    );
  const listener = makeListener('listener');
  const reverseListener = makeListener('listener-reverse');
  const cross =
    setup.crossPacketsPerSecond > 0
      ? new StreamSender({ connectionId: rng.uint32(), isn: rng.uint32(), peer: listenerB, datagramBytes: setup.crossDatagramBytes, ratePacketsPerSecond: setup.crossPacketsPerSecond, durationMs: setup.durationMs, reportIntervalMs: 100 })
      : null;
  const forward = new Link(setup.forward, deriveSeed(setup.seed, 'forward'));
  const reverse = new Link(setup.reverse, deriveSeed(setup.seed, 'reverse'));
  const hosts = [...senders.slice(0, nFwd), reverseListener, listener, ...senders.slice(nFwd), ...(cross === null ? [] : [cross])];
  const crossHost = cross === null ? -1 : hosts.length - 1;
  const sideB = (h: number) => h === listenerB || (h > listenerB && h !== crossHost);
  const sim = new Simulator(hosts, [forward, reverse], (from) => (sideB(from) ? reverse : forward));
  let startMs = 0;
  let started = 0;
  sim.addTicker({
    pollTimeout: () => (started < n ? startMs + started * setup.startGapMs : null),
    handleTimeout: (now) => {
      while (started < n && startMs + started * setup.startGapMs <= now) senders[started++]!.start(now);
    },
  });
  return {
    sim,
    senders,
    listener,
    cross,
    forward,
    reverse,
    receiverOf: (i) => receivers.get(senders[i]!.conn.connectionId) ?? null,
    start: (now) => {
      startMs = now;
      cross?.start(now);
    },
    over: () => sim.now >= startMs + setup.durationMs,
    hostNames: hosts.map((h) => (h === listener ? 'the receiver of the forward flows' : h === reverseListener ? 'the receiver of the reverse flows' : h === cross ? 'the cross traffic' : `the sender of flow ${senders.indexOf(h as BulkSender) + 1}`)),
  };
}

/** Per-interval samples of a flows run. */
export class FlowsMeter {
  private prevDelivered: number[];
  private prevDrops: number;
  private prevCross: number;
  private prevTime: number;

  constructor(
    private readonly f: SimFlows,
    private readonly startMs: number,
  ) {
    this.prevDelivered = f.senders.map(() => 0);
    this.prevDrops = f.forward.counters.dropsQueue;
    this.prevCross = f.cross?.counters.packetsSent ?? 0;
    this.prevTime = startMs;
  }

  /** The sample of the interval ending at `now`. */
  sample(now: number): Partial<Record<MetricName, number>> {
    const dt = (now - this.prevTime) / 1000;
    const row: Partial<Record<MetricName, number>> = { time_s: (now - this.startMs) / 1000 };
    const rates: number[] = [];
    let total = 0;
    this.f.senders.forEach((s, i) => {
      const r = this.f.receiverOf(i);
      const delivered = r === null ? 0 : r.counters.deliveredBytes;
      const rate = dt > 0 ? ((delivered - this.prevDelivered[i]!) * 8) / dt : Number.NaN;
      this.prevDelivered[i] = delivered;
      row[FLOW_GOODPUT_METRICS[i]!] = rate;
      row[FLOW_CWND_METRICS[i]!] = Number.isFinite(s.conn.cwndPackets) ? s.conn.cwndPackets : Number.NaN;
      if (!Number.isNaN(s.connectedAtMs)) rates.push(rate);
      total += Number.isFinite(rate) ? rate : 0;
    });
    for (let i = this.f.senders.length; i < MAX_FLOWS; i++) {
      row[FLOW_GOODPUT_METRICS[i]!] = Number.NaN;
      row[FLOW_CWND_METRICS[i]!] = Number.NaN;
    }
    row.total_goodput_bps = total;
    // Fairness among the flows that have started.
    row.jain_index = rates.length === this.f.senders.length ? jainIndex(rates) : Number.NaN;
    row.fwd_queue_packets = this.f.forward.queuedPackets(now);
    const drops = this.f.forward.counters.dropsQueue;
    row.fwd_drops_queue = drops - this.prevDrops;
    this.prevDrops = drops;
    const cross = this.f.cross?.counters.packetsSent ?? 0;
    row.cross_sent_packets = cross - this.prevCross;
    this.prevCross = cross;
    this.prevTime = now;
    return row;
  }
}
