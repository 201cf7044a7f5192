// Bulk transfer over a reliable connection: the sender writes a seeded byte pattern (as a byte
// stream or as messages of a fixed size); the receiver hashes what it read, message boundaries
// included, and answers with its SHA-256 before closing. The sender compares it with the SHA-256
// of the stream it was asked to write (the pattern, cut into the same messages), computed once
// the receiver has confirmed the last byte: the hashing stays off the sender's data path, and the
// expected digest comes from the pattern itself, not from what the connection took.

import { createHash, type Hash } from 'node:crypto';
import { Connection, type ReadSink } from '../transport/connection.js';
import type { TransportConfig } from '../transport/config.js';
import type { Endpoint } from '../endpoint.js';
import type { Session } from '../listener.js';
import { Rng } from '../util/rng.js';
import { Service, encodeSynOptions } from '../wire/handshake.js';

/** Length of the repeating data pattern: a prime, so packet boundaries never line up with it. */
export const PATTERN_BYTES = 65521;
const DIGEST_BYTES = 32;

/** The seeded byte pattern both ends of a transfer agree on. */
export function makePattern(seed: number): Uint8Array {
  const rng = new Rng(seed);
  const p = new Uint8Array(PATTERN_BYTES);
  for (let i = 0; i < p.length; i++) p[i] = rng.uint32() & 0xff;
  return p;
}

/**
 * Hashes delivered data the same way on both ends: bytes, then a 4-byte length at each message
 * end. Bytes are staged and hashed in 256 KB chunks: one native call per chunk instead of per
 * packet, and no view object per packet.
 */
class HashingSink implements ReadSink {
  readonly hash: Hash = createHash('sha256');
  private messageLength = 0;
  private readonly staging = Buffer.allocUnsafe(256 * 1024);
  private staged = 0;
  private source: Uint8Array | null = null;
  private sourceBuffer: Buffer | null = null;

  onData(buf: Uint8Array, start: number, end: number, messageEnd: boolean): void {
    if (buf !== this.source) {
      this.source = buf;
      this.sourceBuffer = Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength);
    }
    this.append(this.sourceBuffer!, start, end, messageEnd);
  }

  /** Adds src[start..end) to the stream, ending a message when asked. */
  append(src: Buffer, start: number, end: number, messageEnd: boolean): void {
    this.messageLength += end - start;
    while (start < end) {
      const n = Math.min(end - start, this.staging.length - this.staged);
      src.copy(this.staging, this.staged, start, start + n);
      this.staged += n;
      start += n;
      if (this.staged === this.staging.length) this.flush();
    }
    if (messageEnd) {
      if (this.staged + 4 > this.staging.length) this.flush();
      this.staging.writeUInt32BE(this.messageLength, this.staged);
      this.staged += 4;
      this.messageLength = 0;
    }
  }

  private flush(): void {
    if (this.staged > 0) this.hash.update(this.staging.subarray(0, this.staged));
    this.staged = 0;
  }

  /** The SHA-256 of everything added. */
  digest(): Uint8Array {
    this.flush();
    return this.hash.digest();
  }
}

/**
 * The SHA-256 a receiver reports when it read exactly `totalBytes` of the pattern, cut into
 * messages of `messageBytes` (0: one byte stream), as HashingSink hashes them.
 */
export function patternDigest(pattern: Uint8Array, totalBytes: number, messageBytes: number): Uint8Array {
  const hash = createHash('sha256');
  const length = Buffer.alloc(4);
  let written = 0;
  while (written < totalBytes) {
    const messageStart = written;
    const messageEnd = messageBytes > 0 ? Math.min(totalBytes, written + messageBytes) : totalBytes;
    while (written < messageEnd) {
      const off = written % PATTERN_BYTES;
      const n = Math.min(messageEnd - written, PATTERN_BYTES - off);
      hash.update(pattern.subarray(off, off + n));
      written += n;
    }
    if (messageBytes > 0) {
      length.writeUInt32BE(messageEnd - messageStart, 0);
      hash.update(length);
    }
  }
  return hash.digest();
}

/** Reads and forgets (a receiver that does not verify). */
const DISCARD: ReadSink = { onData: () => {} };
/** The receiver's final message when it was not asked to verify. */
const NOT_VERIFIED = new Uint8Array([0]);

/** Collects one small message (the receiver's digest). */
class MessageCollector implements ReadSink {
  chunks: Uint8Array[] = [];
  bytes = 0;
  message: Uint8Array | null = null;

  onData(buf: Uint8Array, start: number, end: number, messageEnd: boolean): void {
    if (this.message !== null || this.bytes + (end - start) > 1024) return;
    this.chunks.push(buf.slice(start, end));
    this.bytes += end - start;
    if (messageEnd) this.message = Buffer.concat(this.chunks);
  }
}

/** Parameters of a bulk sender. */
export interface BulkSenderOptions {
  config: TransportConfig;
  /** Bytes to transfer. */
  totalBytes: number;
  /** 0 for a byte stream, else the size of each message (the last one may be shorter). */
  messageBytes: number;
  /** Read rate asked of the receiving application (0 = as fast as data arrives). */
  readRateBytesPerSecond: number;
  connectionId: number;
  isn: number;
  /** Address of the listener. */
  peer: number;
  /** Seed of the data pattern. */
  patternSeed: number;
  /** Hash the data on both ends and compare (default true); off saves the SHA-256 work. */
  verifyData?: boolean;
}

/** Progress of a transfer. */
export type TransferState = 'connecting' | 'sending' | 'closing' | 'done' | 'failed';

/** The sending application of a bulk transfer (client side). */
export class BulkSender implements Endpoint {
  /** The reliable connection underneath. */
  readonly conn: Connection;
  readonly transmitTo: number;
  state: TransferState = 'connecting';
  /** Why the transfer failed. */
  failure: string | null = null;
  /** When the handshake completed (ms), NaN before. */
  connectedAtMs = Number.NaN;
  /** When the receiver had confirmed every byte (ms), NaN before. */
  completedAtMs = Number.NaN;
  /** Bytes handed to the connection so far. */
  writtenBytes = 0;
  /** SHA-256 of the stream the sender was asked to write (set once the receiver confirmed it all). */
  sentDigest: Uint8Array | null = null;
  /** SHA-256 the receiver reported. */
  receivedDigest: Uint8Array | null = null;

  private readonly opts: BulkSenderOptions;
  private readonly pattern: Uint8Array;
  private readonly reply = new MessageCollector();
  private messageWritten = 0;
  private started = false;
  private readonly verify: boolean;

  constructor(opts: BulkSenderOptions) {
    if (!(opts.totalBytes >= 0)) throw new RangeError(`totalBytes ${opts.totalBytes}`);
    this.opts = opts;
    this.verify = opts.verifyData !== false;
    this.transmitTo = opts.peer;
    this.pattern = makePattern(opts.patternSeed);
    this.conn = new Connection({ config: opts.config, role: 'client', connectionId: opts.connectionId, isn: opts.isn });
  }

  /** True when the receiver's digest equals the sender's; null until both are known. */
  get matched(): boolean | null {
    if (this.sentDigest === null || this.receivedDigest === null) return null;
    return Buffer.compare(Buffer.from(this.sentDigest), Buffer.from(this.receivedDigest)) === 0;
  }

  /** Ends the transfer at once: the peer gets an RST with the reason, and the state is 'failed'. */
  abort(now: number, reason: string): void {
    this.conn.abort(reason);
    this.progress(now);
  }

  /** Sends the SYN. */
  start(now: number): void {
    if (this.started) return;
    this.started = true;
    const c = this.opts.config;
    this.conn.connect(
      now,
      encodeSynOptions({
        service: Service.RELIABLE,
        protocol: c.protocol,
        sack: c.sack,
        verifyChecksum: c.verifyChecksum,
        mssBytes: c.mssBytes,
        ackEveryPackets: c.ackEveryPackets,
        ackDelayMs: c.ackDelayMs,
        rcvBufferBytes: c.rcvBufferBytes,
        readRateBytesPerSecond: this.opts.readRateBytesPerSecond,
        verifyData: this.verify,
      }),
    );
  }

  handleDatagram(now: number, bytes: Uint8Array): void {
    this.conn.handleDatagram(now, bytes);
    this.progress(now);
  }

  handleTimeout(now: number): void {
    this.conn.handleTimeout(now);
    this.progress(now);
  }

  pollTransmit(now: number): Uint8Array | null {
    if (this.state === 'sending') this.pump();
    return this.conn.pollTransmit(now);
  }

  pollTimeout(): number | null {
    return this.conn.pollTimeout();
  }

  private progress(now: number): void {
    for (let e = this.conn.pollEvent(); e !== null; e = this.conn.pollEvent()) {
      if (e.type === 'connected' && this.state === 'connecting') {
        this.state = 'sending';
        this.connectedAtMs = now;
      } else if (e.type === 'failed' && this.state !== 'done') {
        this.state = 'failed';
        this.failure = e.reason;
      }
    }
    if (this.state === 'sending') this.pump();
    if (this.state === 'closing' || this.state === 'sending') {
      this.conn.read(this.reply);
      if (this.reply.message !== null && this.receivedDigest === null && this.verify) this.receivedDigest = this.reply.message.subarray(0, DIGEST_BYTES);
      // The receiver's final message (its digest, or one byte when not verifying) confirms it read
      // everything up to our FIN.
      if (this.conn.isSendComplete && this.reply.message !== null && this.state === 'closing') {
        this.state = 'done';
        this.completedAtMs = now;
        this.conn.read(this.reply);
        if (this.verify) this.sentDigest = patternDigest(this.pattern, this.opts.totalBytes, this.opts.messageBytes);
      }
    }
  }

  private pump(): void {
    const o = this.opts;
    const conn = this.conn;
    const p = this.pattern;
    while (this.writtenBytes < o.totalBytes) {
      const slots = conn.writableSlots;
      if (slots <= 0) break;
      const off = this.writtenBytes % PATTERN_BYTES;
      let n = Math.min(o.totalBytes - this.writtenBytes, slots * o.config.mssBytes, PATTERN_BYTES - off);
      let ends = false;
      if (o.messageBytes > 0) {
        const left = o.messageBytes - this.messageWritten;
        if (n >= left) {
          n = left;
          ends = true;
        }
      }
      if (this.writtenBytes + n === o.totalBytes) ends = true;
      const took = conn.write(p, off, off + n, ends && o.messageBytes > 0);
      if (took === 0) break;
      this.writtenBytes += took;
      this.messageWritten = ends && took === n ? 0 : this.messageWritten + took;
    }
    if (this.writtenBytes === o.totalBytes) {
      this.state = 'closing';
      conn.close();
    }
  }
}

/** The receiving application of a bulk transfer (a listener session). */
export class BulkReceiver implements Session {
  /** The reliable connection underneath. */
  readonly conn: Connection;
  /** SHA-256 of everything read, once the sender closed. */
  digest: Uint8Array | null = null;
  /** When the sender's FIN was read (ms). */
  finishedAtMs = Number.NaN;
  private answered = false;

  private readonly sink = new HashingSink();
  private readonly readRate: number;
  private readonly burstBytes: number;
  private tokens = 0;
  private lastRefill = Number.NaN;
  private nextReadAt: number | null = null;

  private readonly verify: boolean;

  constructor(conn: Connection, readRateBytesPerSecond: number, burstBytes: number, verifyData = true) {
    this.conn = conn;
    this.verify = verifyData;
    this.readRate = readRateBytesPerSecond;
    this.burstBytes = Math.max(1, burstBytes);
  }

  /** True once the transfer is over and the connection has closed or failed. */
  get finished(): boolean {
    return this.conn.state === 'closed' || this.conn.state === 'failed';
  }

  /** Ends the transfer at once; the sender gets an RST with the reason. */
  abort(reason: string): void {
    this.conn.abort(reason);
  }

  handleDatagram(now: number, bytes: Uint8Array): void {
    this.conn.handleDatagram(now, bytes);
    this.consume(now);
  }

  handleTimeout(now: number): void {
    if (this.nextReadAt !== null && this.nextReadAt <= now) this.nextReadAt = null;
    const t = this.conn.pollTimeout();
    if (t !== null && t <= now) this.conn.handleTimeout(now);
    this.consume(now);
  }

  pollTransmit(now: number): Uint8Array | null {
    return this.conn.pollTransmit(now);
  }

  pollTimeout(): number | null {
    const t = this.conn.pollTimeout();
    if (this.nextReadAt === null) return t;
    return t === null || this.nextReadAt < t ? this.nextReadAt : t;
  }

  private consume(now: number): void {
    const conn = this.conn;
    if (this.readRate > 0) {
      if (Number.isNaN(this.lastRefill)) this.lastRefill = now;
      this.tokens = Math.min(this.burstBytes, this.tokens + ((now - this.lastRefill) * this.readRate) / 1000);
      this.lastRefill = now;
      const n = conn.read(this.verify ? this.sink : DISCARD, Math.floor(this.tokens));
      this.tokens -= n;
      // Come back when a packet's worth of tokens has built up, if data is waiting.
      if (conn.hasReadable) {
        const need = Math.max(1, conn.config.mssBytes - this.tokens);
        const at = now + (need * 1000) / this.readRate;
        if (this.nextReadAt === null || at < this.nextReadAt) this.nextReadAt = at;
      }
    } else {
      conn.read(this.verify ? this.sink : DISCARD);
    }
    if (conn.isPeerClosed && !this.answered) {
      this.answered = true;
      this.finishedAtMs = now;
      if (this.verify) this.digest = this.sink.digest();
      conn.sendMessage(this.digest ?? NOT_VERIFIED);
      conn.close();
    }
  }
}
