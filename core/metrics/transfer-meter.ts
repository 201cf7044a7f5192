// Per-interval samples of a reliable transfer: deltas of the counters of both connection ends and
// both link directions, plus gauges read at the end of the interval. The columns are metrics of
// the registry (core/metrics/registry.ts); a value that does not exist is NaN (empty in CSV).

import type { Connection } from '../transport/connection.js';
import type { ConnectionCounters } from '../transport/metrics.js';
import type { Link } from '../impair/link.js';
import type { LinkCounters } from '../impair/counters.js';
import { linkColumns, linkValues, metricList } from './registry.js';

/** Column names of a transfer sample, in CSV order. */
export const TRANSFER_COLUMNS = metricList([
  'time_s',
  'wire_tx_packets',
  'wire_tx_bytes',
  'throughput_bps',
  'data_packets_new',
  'retransmits_timeout',
  'retransmits_fast',
  'retransmits_spurious',
  'timeouts',
  'delivered_bytes',
  'delivered_messages',
  'goodput_bps',
  'duplicates_suppressed',
  'out_of_order_buffered',
  'out_of_order_discarded',
  'window_drops',
  'checksum_failures',
  'corrupt_accepted',
  'corrupt_delivered',
  'rtt_samples',
  'rtt_mean_ms',
  'srtt_ms',
  'rttvar_ms',
  'rto_ms',
  'cwnd_packets',
  'ssthresh_packets',
  'in_flight_packets',
  'rcv_buffer_bytes',
  'peer_window_bytes',
  ...linkColumns('fwd'),
  'fwd_queue_packets',
  ...linkColumns('rev'),
  'kernel_drops_sender',
  'kernel_drops_receiver',
] as const);

/** One column name. */
export type TransferColumn = (typeof TRANSFER_COLUMNS)[number];
/** One sample: a number per column (NaN where the value does not exist). */
export type TransferSample = Record<TransferColumn, number>;

/** What the meter needs of the receiving end (a Connection, or counters a worker posted). */
export interface ReceiverView {
  /** Its counters; a peer's report may lack some (those columns are NaN). */
  counters: ReceiverCounters;
  rcvBufferedBytes: number;
}

/** The receiving end's counters as a meter reads them. */
export type ReceiverCounters = Readonly<Partial<Record<keyof ConnectionCounters, number>>>;

/** What a meter reads; the receiver and the links may be absent (a remote peer). */
export interface TransferSources {
  sender: Connection;
  receiver: () => ReceiverView | null;
  forward: Link | null;
  reverse: Link | null;
  kernelDrops?: () => { sender: number; receiver: number };
}

type Snapshot = {
  s: ConnectionCounters;
  r: ReceiverCounters | null;
  f: LinkCounters | null;
  v: LinkCounters | null;
  k: { sender: number; receiver: number } | null;
};

function copy<T extends object>(o: T): T {
  return { ...o };
}

function finiteOrNaN(v: number): number {
  return Number.isFinite(v) ? v : Number.NaN;
}

/** Turns counter snapshots into interval samples. */
export class TransferMeter {
  private prev: Snapshot;
  private prevTime: number;

  constructor(
    private readonly src: TransferSources,
    private readonly startMs: number,
  ) {
    this.prev = this.snapshot();
    this.prevTime = startMs;
  }

  private snapshot(): Snapshot {
    const r = this.src.receiver();
    return {
      s: copy(this.src.sender.counters),
      r: r === null ? null : copy(r.counters),
      f: this.src.forward === null ? null : copy(this.src.forward.counters),
      v: this.src.reverse === null ? null : copy(this.src.reverse.counters),
      k: this.src.kernelDrops?.() ?? null,
    };
  }

  /** The sample of the interval that ends at `now`. */
  sample(now: number): TransferSample {
    const cur = this.snapshot();
    const p = this.prev;
    const dt = (now - this.prevTime) / 1000;
    const sender = this.src.sender;
    const receiver = this.src.receiver();
    const d = <T extends object>(a: T | null, b: T | null, key: keyof T) =>
      a === null ? Number.NaN : b === null ? ((a[key] as number | undefined) ?? Number.NaN) : ((a[key] as number | undefined) ?? Number.NaN) - ((b[key] as number | undefined) ?? Number.NaN);
    const ds = (key: keyof ConnectionCounters) => d(cur.s, p.s, key);
    const dr = (key: keyof ConnectionCounters) => d<ReceiverCounters>(cur.r, p.r, key);
    const rttSamples = ds('rttSamples');
    const deliveredBytes = dr('deliveredBytes');
    const wireBytes = ds('bytesSent');
    const row: TransferSample = {
      time_s: (now - this.startMs) / 1000,
      wire_tx_packets: ds('packetsSent'),
      wire_tx_bytes: wireBytes,
      throughput_bps: dt > 0 ? (wireBytes * 8) / dt : Number.NaN,
      data_packets_new: ds('dataPacketsSent'),
      retransmits_timeout: ds('retransmitsTimeout'),
      retransmits_fast: ds('retransmitsFast'),
      retransmits_spurious: ds('retransmitsSpurious'),
      timeouts: ds('timeouts'),
      delivered_bytes: deliveredBytes,
      delivered_messages: dr('deliveredMessages'),
      goodput_bps: dt > 0 ? (deliveredBytes * 8) / dt : Number.NaN,
      duplicates_suppressed: dr('duplicatesSuppressed'),
      out_of_order_buffered: dr('outOfOrderBuffered'),
      out_of_order_discarded: dr('outOfOrderDiscarded'),
      window_drops: dr('windowDrops'),
      checksum_failures: dr('checksumFailures') + ds('checksumFailures'),
      corrupt_accepted: dr('corruptAccepted') + ds('corruptAccepted'),
      corrupt_delivered: dr('corruptDeliveredPackets'),
      rtt_samples: rttSamples,
      rtt_mean_ms: rttSamples > 0 ? ds('rttSumMs') / rttSamples : Number.NaN,
      srtt_ms: sender.srttMs,
      rttvar_ms: sender.rttvarMs,
      rto_ms: sender.rtoMs,
      cwnd_packets: finiteOrNaN(sender.cwndPackets),
      ssthresh_packets: finiteOrNaN(sender.ssthreshPackets),
      in_flight_packets: sender.inFlightPackets,
      rcv_buffer_bytes: receiver === null ? Number.NaN : receiver.rcvBufferedBytes,
      peer_window_bytes: sender.peerWindowBytes,
      ...linkValues('fwd', cur.f, p.f),
      fwd_queue_packets: this.src.forward === null ? Number.NaN : this.src.forward.queuedPackets(now),
      ...linkValues('rev', cur.v, p.v),
      kernel_drops_sender: cur.k === null || p.k === null ? Number.NaN : cur.k.sender - p.k.sender,
      kernel_drops_receiver: cur.k === null || p.k === null ? Number.NaN : cur.k.receiver - p.k.receiver,
    };
    this.prev = cur;
    this.prevTime = now;
    return row;
  }
}
