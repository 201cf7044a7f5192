// What a transfer run is made of, and the summary both drivers produce at the end.

import type { TransportConfig } from '../transport/config.js';
import type { ImpairmentConfig } from '../impair/config.js';
import type { ConnectionCounters } from '../transport/metrics.js';
import type { LinkCounters } from '../impair/counters.js';
import { BulkSender } from '../apps/bulk.js';
import { Rng, deriveSeed } from '../util/rng.js';

/** Everything that defines a reliable transfer. */
export interface TransferSetup {
  transport: TransportConfig;
  /** Impairment of the data direction (sender to receiver). */
  forward: ImpairmentConfig;
  /** Impairment of the ACK direction (receiver to sender). */
  reverse: ImpairmentConfig;
  totalBytes: number;
  /** 0 for a byte stream, else the message size. */
  messageBytes: number;
  /** Read rate of the receiving application, 0 for unlimited. */
  readRateBytesPerSecond: number;
  /** The receiver compares what it reads with the sent pattern and answers with a verdict (default true). */
  verifyData?: boolean;
  seed: number;
  /** Sampling interval. */
  intervalMs: number;
  /** Give up after this long (virtual time in the simulator, wall time on UDP). */
  timeLimitMs: number;
}

/** The sending application of a transfer, to the listener at address `peer` (both drivers use it). */
export function makeBulkSender(setup: TransferSetup, peer: number): BulkSender {
  const rng = new Rng(deriveSeed(setup.seed, 'client'));
  return new BulkSender({
    config: setup.transport,
    totalBytes: setup.totalBytes,
    messageBytes: setup.messageBytes,
    readRateBytesPerSecond: setup.readRateBytesPerSecond,
    verifyData: setup.verifyData,
    connectionId: rng.uint32(),
    isn: rng.uint32(),
    peer,
    patternSeed: deriveSeed(setup.seed, 'pattern'),
  });
}

/** How a transfer ended. */
export type TransferStatus = 'complete' | 'failed' | 'timeout' | 'stopped';

/** Corruption bookkeeping: every corrupted datagram delivered was either caught or accepted. */
export interface CorruptionReconciliation {
  /** Corrupted datagrams the links delivered (both directions). */
  injected: number;
  /** Caught by the checksum (dropped). */
  detected: number;
  /** Accepted with checksum verification off. */
  accepted: number;
  /** DATA packets with a bad checksum whose payload reached the application. */
  deliveredToApplication: number;
  /** injected = detected + accepted; null when one side's counters are not known. */
  reconciled: boolean | null;
}

/** The end-of-run summary (also the last JSON line of --json). */
export interface TransferSummary {
  type: 'summary';
  net: 'sim' | 'udp';
  status: TransferStatus;
  failure: string | null;
  seed: number;
  protocol: TransportConfig['protocol'];
  bytes: number;
  bytesAcknowledged: number;
  /** From the end of the handshake to the receiver's confirmation of the last byte. */
  durationS: number;
  goodputBps: number;
  /** The receiver read exactly the bytes and message boundaries sent; null when not verified or not known. */
  dataMatched: boolean | null;
  /** Why the data did not match (the first byte that differed, a short read, boundaries moved). */
  dataProblem: string | null;
  /** Offset of the first byte the receiver read that differed from what was sent, null when none did. */
  firstDifferenceAt: number | null;
  sender: ConnectionCounters;
  receiver: Record<string, number> | null;
  forward: LinkCounters | null;
  reverse: LinkCounters | null;
  corruption: CorruptionReconciliation;
  /** Real UDP only: datagrams this host dropped because its socket send queue was full. */
  sendQueueDrops?: number;
  /** Simulator only: packet events processed, and per second of wall time. */
  simEvents?: number;
  simEventsPerSecond?: number;
}

/** Builds the summary from the sender, the receiver's counters and the links. */
export function summarizeTransfer(
  net: 'sim' | 'udp',
  setup: TransferSetup,
  sender: BulkSender,
  status: TransferStatus,
  receiver: Record<string, number> | null,
  forward: LinkCounters | null,
  reverse: LinkCounters | null,
  strayChecksumFailures = 0,
): TransferSummary {
  const s = sender.conn.counters;
  const durationS = (sender.completedAtMs - sender.connectedAtMs) / 1000;
  const injected = (forward?.corruptedDelivered ?? 0) + (reverse?.corruptedDelivered ?? 0);
  const detected = s.checksumFailures + (receiver?.checksumFailures ?? 0) + strayChecksumFailures;
  const accepted = s.corruptAccepted + (receiver?.corruptAccepted ?? 0);
  return {
    type: 'summary',
    net,
    status,
    failure: sender.failure,
    seed: setup.seed,
    protocol: setup.transport.protocol,
    bytes: setup.totalBytes,
    bytesAcknowledged: status === 'complete' ? setup.totalBytes : Math.min(setup.totalBytes, s.dataBytesSent),
    durationS: status === 'complete' ? durationS : Number.NaN,
    goodputBps: status === 'complete' && durationS > 0 ? (setup.totalBytes * 8) / durationS : Number.NaN,
    dataMatched: sender.matched,
    dataProblem: sender.dataProblem,
    firstDifferenceAt: sender.verdict?.firstDifferenceAt ?? null,
    sender: { ...s },
    receiver,
    forward: forward === null ? null : { ...forward },
    reverse: reverse === null ? null : { ...reverse },
    corruption: {
      injected,
      detected,
      accepted,
      deliveredToApplication: receiver?.corruptDeliveredPackets ?? Number.NaN,
      reconciled: receiver === null || forward === null ? null : injected === detected + accepted,
    },
  };
}
