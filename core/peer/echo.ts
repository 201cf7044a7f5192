// The peer agent's UDP echo, sans-IO: it decides, for each datagram, whether to answer and with
// what. It answers only datagrams from the controlling client (the driver says which ones are), at
// most at the agreed rates (a token bucket per unit), and never sends more bytes than it received:
// every reply is paid from a byte budget that only the client's datagrams fill, so the echo can
// not be turned into an amplifier, whatever reply size was asked for.

/** Counters of an echo. */
export class EchoCounters {
  /** Datagrams from the client. */
  receivedDatagrams = 0;
  /** Their bytes (UDP payload): the byte budget. */
  receivedBytes = 0;
  /** Replies sent. */
  sentDatagrams = 0;
  /** Their bytes (UDP payload); never more than receivedBytes. */
  sentBytes = 0;
  /** Client datagrams not answered because the reply would exceed the byte budget. */
  budgetDrops = 0;
  /** Client datagrams not answered because of the rate limits. */
  rateDrops = 0;
  /** Datagrams from other addresses, dropped unanswered and not counted in the budget. */
  foreignDrops = 0;
  /** Replies not sent because the socket's send queue was full. */
  sendQueueDrops = 0;
  /** Sends the socket reported as failed. */
  sendErrors = 0;
}

/** How an echo answers. */
export interface EchoOptions {
  /** Reply size in bytes (the request's first bytes, zero-padded), or null to echo each datagram as is. */
  replyBytes: number | null;
  maxRatePacketsPerSecond: number;
  maxRateBitsPerSecond: number;
}

/** Largest UDP payload over IPv4: the bit bucket always holds one such reply. */
const MAX_DATAGRAM_BYTES = 65507;
/** The buckets hold this much time's worth of the rates (a short burst is allowed, no more). */
const BURST_MS = 100;

/** The echo's decisions. */
export class EchoEngine {
  readonly counters = new EchoCounters();
  private readonly o: EchoOptions;
  private readonly packetCapacity: number;
  private readonly bitCapacity: number;
  private packetTokens: number;
  private bitTokens: number;
  private lastMs: number;

  constructor(o: EchoOptions, now: number) {
    if (!(o.maxRatePacketsPerSecond > 0) || !(o.maxRateBitsPerSecond > 0)) throw new RangeError('echo rates must be positive');
    if (o.replyBytes !== null && !(Number.isInteger(o.replyBytes) && o.replyBytes >= 0 && o.replyBytes <= MAX_DATAGRAM_BYTES)) throw new RangeError(`replyBytes must be a whole number from 0 to ${MAX_DATAGRAM_BYTES}`);
    this.o = o;
    this.packetCapacity = Math.max(1, (o.maxRatePacketsPerSecond * BURST_MS) / 1000);
    this.bitCapacity = Math.max(8 * MAX_DATAGRAM_BYTES, (o.maxRateBitsPerSecond * BURST_MS) / 1000);
    this.packetTokens = this.packetCapacity;
    this.bitTokens = this.bitCapacity;
    this.lastMs = now;
  }

  /**
   * A datagram arrived at `now`. `fromClient` says whether it came from the controlling client's
   * address; `canSend` whether the driver's send queue has room. Returns the reply to send back to
   * the datagram's source, or null.
   */
  handleDatagram(now: number, bytes: Uint8Array, fromClient: boolean, canSend = true): Uint8Array | null {
    const c = this.counters;
    if (!fromClient) {
      c.foreignDrops++;
      return null;
    }
    c.receivedDatagrams++;
    c.receivedBytes += bytes.length;
    this.refill(now);
    const size = this.o.replyBytes ?? bytes.length;
    if (c.sentBytes + size > c.receivedBytes) {
      c.budgetDrops++;
      return null;
    }
    if (this.packetTokens < 1 || this.bitTokens < size * 8) {
      c.rateDrops++;
      return null;
    }
    if (!canSend) {
      c.sendQueueDrops++;
      return null;
    }
    this.packetTokens -= 1;
    this.bitTokens -= size * 8;
    c.sentDatagrams++;
    c.sentBytes += size;
    if (this.o.replyBytes === null) return bytes.slice();
    const reply = new Uint8Array(size);
    reply.set(bytes.subarray(0, Math.min(size, bytes.length)));
    return reply;
  }

  private refill(now: number): void {
    const dtMs = now - this.lastMs;
    if (dtMs <= 0) return;
    this.lastMs = now;
    this.packetTokens = Math.min(this.packetCapacity, this.packetTokens + (this.o.maxRatePacketsPerSecond * dtMs) / 1000);
    this.bitTokens = Math.min(this.bitCapacity, this.bitTokens + (this.o.maxRateBitsPerSecond * dtMs) / 1000);
  }
}
