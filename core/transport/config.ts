// The knobs of the reliable transport engine. Ranges and defaults live in core/knobs.ts, which
// validates user input; the engine only asserts that a caller passed values in range.

/** ARQ mode: stop-and-wait, go-back-N or selective repeat. */
export type ArqMode = 'saw' | 'gbn' | 'sr';

/** Every knob of a reliable connection. */
export interface TransportConfig {
  /** ARQ mode. Stop-and-wait is go-back-N with a window of one packet. */
  protocol: ArqMode;
  /** Most packets in flight (send window), before the receive window and cwnd are applied. */
  windowPackets: number;
  /** Payload bytes per packet. */
  mssBytes: number;
  /** Receive buffer; divided into MSS-sized slots, it drives the advertised window. */
  rcvBufferBytes: number;
  /** Selective acknowledgments (selective repeat only). */
  sack: boolean;
  /** Duplicate ACKs that trigger a fast retransmit; 0 turns fast retransmit off. */
  dupAckThreshold: number;
  /** Delayed ACK: acknowledge every N in-order packets ... */
  ackEveryPackets: number;
  /** ... or after this many milliseconds, whichever comes first. */
  ackDelayMs: number;
  /** Drop datagrams whose CRC32C does not match. Off lets corrupted payloads through. */
  verifyChecksum: boolean;
  /** Congestion control: none, or AIMD (NewReno-like slow start, congestion avoidance, fast recovery). */
  congestionControl: 'off' | 'aimd';
  /** Congestion window at the start and after idle, in packets. */
  initialCwndPackets: number;
  /** Retransmission timeout: a fixed value, or adaptive from RTT samples (RFC 6298). */
  rtoMode: 'fixed' | 'adaptive';
  /** The fixed RTO. */
  rtoMs: number;
  /** Adaptive RTO before the first RTT sample (RFC 6298 (2.1)). */
  rtoMsInitial: number;
  /** Lower bound of the adaptive RTO. */
  rtoMsMin: number;
  /** Upper bound of the RTO, also after backoff. */
  rtoMsMax: number;
  /** Factor applied to the RTO at every timeout (RFC 6298 (5.5) uses 2); 1 turns backoff off. */
  rtoBackoff: number;
  /** Retransmissions of one packet before the connection fails. */
  maxRetransmissions: number;
  /** Fail the connection when nothing arrives from the peer for this long; 0 turns it off. */
  idleTimeoutMs: number;
}

/** Knobs that may change on a live connection (the others fix the wire behaviour at handshake). */
export const LIVE_TRANSPORT_KNOBS = [
  'windowPackets',
  'rcvBufferBytes',
  'dupAckThreshold',
  'ackEveryPackets',
  'ackDelayMs',
  'verifyChecksum',
  'congestionControl',
  'rtoMode',
  'rtoMs',
  'rtoMsInitial',
  'rtoMsMin',
  'rtoMsMax',
  'rtoBackoff',
  'maxRetransmissions',
  'idleTimeoutMs',
  'sack',
] as const satisfies readonly (keyof TransportConfig)[];

/**
 * Live knobs the receiving end of a session uses too (the SYN carries their starting values), so a
 * live change is made at both ends: what a peer agent's configure-session accepts.
 */
export const RECEIVER_TRANSPORT_KNOBS = ['sack', 'verifyChecksum', 'ackEveryPackets', 'ackDelayMs', 'rcvBufferBytes'] as const satisfies readonly (typeof LIVE_TRANSPORT_KNOBS)[number][];

/** Changes of receiver-side knobs of a running session (any subset of RECEIVER_TRANSPORT_KNOBS). */
export type ReceiverChanges = Partial<Pick<TransportConfig, (typeof RECEIVER_TRANSPORT_KNOBS)[number]>>;

/** The defaults of every transport knob. */
export const DEFAULT_TRANSPORT_CONFIG: Readonly<TransportConfig> = Object.freeze({
  protocol: 'sr',
  windowPackets: 32,
  mssBytes: 1164,
  rcvBufferBytes: 256 * 1024,
  sack: true,
  dupAckThreshold: 3,
  ackEveryPackets: 1,
  ackDelayMs: 40,
  verifyChecksum: true,
  congestionControl: 'off',
  initialCwndPackets: 4,
  rtoMode: 'adaptive',
  rtoMs: 200,
  rtoMsInitial: 1000,
  rtoMsMin: 200,
  rtoMsMax: 60_000,
  rtoBackoff: 2,
  maxRetransmissions: 15,
  idleTimeoutMs: 0,
});
