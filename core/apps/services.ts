// What a packetlab listener serves: for a reliable SYN a bulk receiver (it reads at the asked
// rate, checks the data against the pattern and answers with a verdict); for a stream SYN a
// stream receiver (it counts and reports). RPC servers plug in their own factory.

import { Connection } from '../transport/connection.js';
import { DEFAULT_TRANSPORT_CONFIG, type RECEIVER_TRANSPORT_KNOBS, type TransportConfig } from '../transport/config.js';
import { Service, type ReliableSynOptions } from '../wire/handshake.js';
import type { SessionFactory } from '../listener.js';
import { BulkReceiver } from './bulk.js';
import { StreamReceiver } from '../stream/receiver.js';

/**
 * Knobs of the listener's own side that a SYN does not carry: its RTO (the receiver sends its
 * final message, the verdict of verify data, and its FIN reliably too) and its idle timeout.
 */
export type ListenerTransportDefaults = Partial<Omit<TransportConfig, 'protocol' | 'mssBytes' | (typeof RECEIVER_TRANSPORT_KNOBS)[number]>>;

/**
 * A listener session idles out after this long without a datagram unless told otherwise: ten
 * times the default maximum RTO, so a sender in deep backoff on a very lossy path is not taken for
 * a dead one (the sender detects failure itself; sessions are also capped in number and lifetime).
 */
export const LISTENER_IDLE_TIMEOUT_MS = 10 * DEFAULT_TRANSPORT_CONFIG.rtoMsMax;

/** A sender's timer knobs, as the defaults of the listener it talks to (so both ends retransmit by the same rules). */
export function listenerDefaultsOf(t: TransportConfig): ListenerTransportDefaults {
  return { rtoMode: t.rtoMode, rtoMs: t.rtoMs, rtoMsInitial: t.rtoMsInitial, rtoMsMin: t.rtoMsMin, rtoMsMax: t.rtoMsMax, rtoBackoff: t.rtoBackoff, maxRetransmissions: t.maxRetransmissions };
}

/** The receiving side's transport knobs: `base`, the listener's own defaults, then what the SYN asks for. */
export function receiverConfig(base: TransportConfig, defaults: ListenerTransportDefaults, o: ReliableSynOptions): TransportConfig {
  return {
    ...base,
    idleTimeoutMs: LISTENER_IDLE_TIMEOUT_MS,
    ...defaults,
    protocol: o.protocol,
    sack: o.sack,
    verifyChecksum: o.verifyChecksum,
    mssBytes: o.mssBytes,
    ackEveryPackets: o.ackEveryPackets,
    ackDelayMs: o.ackDelayMs,
    rcvBufferBytes: o.rcvBufferBytes,
  };
}

/** The factory of a plain packetlab listener: bulk receivers and stream receivers. */
export function labSessionFactory(defaults: ListenerTransportDefaults = {}): SessionFactory {
  return (ctx) => {
    const o = ctx.options;
    if (o.service === Service.STREAM) return new StreamReceiver(ctx.syn, o, ctx.now, ctx.caps.streamIdleTimeoutMs);
    if (o.service === Service.RPC) return { refuse: 'this listener serves no RPC programs (packetlab rpc serve-demo does)' };
    const config = receiverConfig(DEFAULT_TRANSPORT_CONFIG, defaults, o);
    const conn = new Connection({ config, role: 'server', connectionId: ctx.syn.connectionId, isn: ctx.rng.uint32() });
    conn.accept(ctx.now, ctx.syn.seq, ctx.syn.windowBytes);
    return new BulkReceiver(conn, o.readRateBytesPerSecond, Math.max(o.mssBytes, Math.min(o.rcvBufferBytes, 64 * 1024)), o.verifyData !== false ? (o.patternSeed ?? 0) : null);
  };
}
