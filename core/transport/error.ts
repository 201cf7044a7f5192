// Why a connection failed, as a typed value (quinn's ConnectionError): callers branch on `kind`
// and read its fields; describeConnectionError renders the one text people see, which is also
// the reason an RST carries to the peer.

/** Why a connection failed. */
export type ConnectionError =
  /** No datagram arrived from the peer for the idle timeout. */
  | { kind: 'idle-timeout'; idleTimeoutMs: number }
  /** The SYN (client) or SYN-ACK (server) went unanswered `attempts` times. */
  | { kind: 'handshake-timeout'; packet: 'SYN' | 'SYN-ACK'; attempts: number }
  /** Packet `seq` was resent more than maxRetransmissions times without an acknowledgment. */
  | { kind: 'retransmit-limit'; seq: number; retransmissions: number; maxRetransmissions: number }
  /** The peer sent an RST; `reason` is its payload as text ('' when it gave none). */
  | { kind: 'reset-by-peer'; reason: string }
  /** This side's application aborted the connection, saying why. */
  | { kind: 'aborted'; reason: string };

/** The text of a connection error, as the CLI, CSV files and the RST payload show it. */
export function describeConnectionError(e: ConnectionError): string {
  switch (e.kind) {
    case 'idle-timeout':
      return `no datagram from the peer for ${e.idleTimeoutMs} ms (idle timeout)`;
    case 'handshake-timeout':
      return `no answer to ${e.packet} after ${e.attempts} attempts (is a packetlab listener running there?)`;
    case 'retransmit-limit':
      return `packet ${e.seq} was retransmitted ${e.retransmissions} times without an acknowledgment (max ${e.maxRetransmissions})`;
    case 'reset-by-peer':
      return `reset by peer: ${e.reason || 'no reason given'}`;
    case 'aborted':
      return e.reason;
  }
}
