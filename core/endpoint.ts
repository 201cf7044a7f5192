// The one interface both drivers run: a protocol engine, or an application wrapped around one.
// Addresses are small integers the driver assigns (a simulated host, or a socket address).

/** A sans-IO participant: bytes and time in, datagrams and deadlines out. */
export interface Endpoint {
  /** A datagram from address `from` arrived at `now`. */
  handleDatagram(now: number, bytes: Uint8Array, from: number): void;
  /** The deadline from pollTimeout() has passed. */
  handleTimeout(now: number): void;
  /** The next datagram to send (valid until the next call), or null. Its destination is transmitTo. */
  pollTransmit(now: number): Uint8Array | null;
  /** Destination of the datagram pollTransmit returned last. */
  readonly transmitTo: number;
  /** Earliest deadline, or null. */
  pollTimeout(): number | null;
}

/** Something that only needs time: a sampler, a schedule of changes. */
export interface Ticker {
  pollTimeout(): number | null;
  handleTimeout(now: number): void;
}
