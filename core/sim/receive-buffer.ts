// A simulated socket receive buffer in front of a host that reads at a finite speed: what makes
// "loss from full buffers" happen in the simulator as it does on a real receiver. Datagrams wait
// in the buffer until the application reads them, one every 1/rate seconds; a datagram that
// arrives when the buffer is over its limit is dropped and counted as a kernel drop.
//
// Accounting follows Linux: SO_RCVBUF is doubled, and each datagram is charged its buffer's true
// size, not its length. On loopback here 92 datagrams of 1200 bytes fit the default 212992 bytes
// (about 2.3 KB each); the model charges nextPow2(length + 348) + 256 bytes, which gives 2304.

import type { Endpoint } from '../endpoint.js';

/** Linux's net.core.rmem_default on Debian: the buffer of a socket nobody sized. */
export const SIM_RMEM_DEFAULT_BYTES = 212_992;
/** The largest SO_RCVBUF the simulated host grants (net.core.rmem_max on the lab machines). */
export const SIM_RMEM_MAX_BYTES = 4 * 1024 * 1024;

/** Bytes a datagram of `length` bytes (UDP payload) occupies in a receive buffer. */
export function chargedBytes(length: number): number {
  let n = 1;
  const need = length + 348;
  while (n < need) n *= 2;
  return n + 256;
}

/** The buffer limit for a SO_RCVBUF request (0: the default). */
export function receiveBufferLimitBytes(socketRcvBufBytes: number): number {
  return socketRcvBufBytes <= 0 ? SIM_RMEM_DEFAULT_BYTES : 2 * Math.min(socketRcvBufBytes, SIM_RMEM_MAX_BYTES);
}

/** Counters of the simulated buffer. */
export class ReceiveBufferCounters {
  /** Datagrams dropped because the buffer was over its limit (the kernel's drop counter). */
  drops = 0;
  /** Datagrams the application read. */
  read = 0;
  /** Most bytes charged at once. */
  peakBytes = 0;
}

/** Wraps the receiving endpoint: arrivals queue, the application reads at `readsPerSecond`. */
export class ReceiveBuffer implements Endpoint {
  readonly counters = new ReceiveBufferCounters();
  /** Bytes charged now. */
  chargedBytes = 0;
  private readonly intervalMs: number;
  // A ring of copies (the link reuses its buffers once handleDatagram returns).
  private data: Uint8Array[] = [];
  private lengths: Int32Array;
  private from: Int32Array;
  private head = 0;
  private count = 0;
  private nextReadMs = 0;

  constructor(
    private readonly inner: Endpoint,
    readsPerSecond: number,
    private readonly limitBytes: number,
  ) {
    if (!(readsPerSecond > 0)) throw new RangeError(`readsPerSecond must be positive (got ${readsPerSecond})`);
    this.intervalMs = 1000 / readsPerSecond;
    this.lengths = new Int32Array(64);
    this.from = new Int32Array(64);
  }

  /** Datagrams waiting to be read. */
  get queued(): number {
    return this.count;
  }

  get transmitTo(): number {
    return this.inner.transmitTo;
  }

  handleDatagram(now: number, bytes: Uint8Array, from: number): void {
    // Linux admits a datagram while the charged total is not over the limit (udp_rmem_schedule).
    if (this.chargedBytes > this.limitBytes) {
      this.counters.drops++;
      return;
    }
    if (this.count === this.lengths.length) this.grow();
    const slot = (this.head + this.count) % this.lengths.length;
    let buf = this.data[slot];
    if (buf === undefined || buf.length < bytes.length) {
      buf = new Uint8Array(Math.max(bytes.length, 2048));
      this.data[slot] = buf;
    }
    buf.set(bytes);
    this.lengths[slot] = bytes.length;
    this.from[slot] = from;
    this.count++;
    this.chargedBytes += chargedBytes(bytes.length);
    if (this.chargedBytes > this.counters.peakBytes) this.counters.peakBytes = this.chargedBytes;
    if (this.count === 1) this.nextReadMs = Math.max(this.nextReadMs, now);
  }

  handleTimeout(now: number): void {
    while (this.count > 0 && this.nextReadMs <= now) {
      const slot = this.head;
      const len = this.lengths[slot]!;
      this.head = (this.head + 1) % this.lengths.length;
      this.count--;
      this.chargedBytes -= chargedBytes(len);
      this.counters.read++;
      this.nextReadMs += this.intervalMs;
      this.inner.handleDatagram(now, this.data[slot]!.subarray(0, len), this.from[slot]!);
    }
    const t = this.inner.pollTimeout();
    if (t !== null && t <= now) this.inner.handleTimeout(now);
  }

  pollTransmit(now: number): Uint8Array | null {
    return this.inner.pollTransmit(now);
  }

  pollTimeout(): number | null {
    const t = this.inner.pollTimeout();
    if (this.count === 0) return t;
    return t === null ? this.nextReadMs : Math.min(t, this.nextReadMs);
  }

  private grow(): void {
    const n = this.lengths.length * 2;
    const data: Uint8Array[] = [];
    const lengths = new Int32Array(n);
    const from = new Int32Array(n);
    for (let i = 0; i < this.count; i++) {
      const s = (this.head + i) % this.lengths.length;
      data[i] = this.data[s]!;
      lengths[i] = this.lengths[s]!;
      from[i] = this.from[s]!;
    }
    this.data = data;
    this.lengths = lengths;
    this.from = from;
    this.head = 0;
  }
}
