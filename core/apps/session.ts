// A listener session that is one reliable connection with an application on top (a bulk receiver,
// an RPC server's session): the delegation to the connection every such session shares. The
// application says what it does with what arrived (consume).

import type { Session } from '../listener.js';
import type { Connection } from '../transport/connection.js';

/** A session over one reliable connection. */
export abstract class ConnectionSession implements Session {
  /** The reliable connection underneath. */
  readonly conn: Connection;

  constructor(conn: Connection) {
    this.conn = conn;
  }

  /** True once the connection has closed or failed. */
  get finished(): boolean {
    return this.conn.state === 'closed' || this.conn.state === 'failed';
  }

  /** Ends the session at once; the peer gets an RST with the reason. */
  abort(reason: string): void {
    this.conn.abort(reason);
  }

  handleDatagram(now: number, bytes: Uint8Array): void {
    this.conn.handleDatagram(now, bytes);
    this.consume(now);
  }

  handleTimeout(now: number): void {
    const t = this.conn.pollTimeout();
    if (t !== null && t <= now) this.conn.handleTimeout(now);
    this.consume(now);
  }

  pollTransmit(now: number): Uint8Array | null {
    return this.conn.pollTransmit(now);
  }

  pollTimeout(): number | null {
    return this.conn.pollTimeout();
  }

  /** Takes what the connection delivered and answers it. */
  protected abstract consume(now: number): void;
}
