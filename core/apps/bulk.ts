// Bulk transfer over a reliable connection: the sender writes a seeded byte pattern (as a byte
// stream or as messages of a fixed size); the SYN carries the pattern's seed. The receiver compares
// every byte it reads with the pattern as it reads it (a memcmp per packet, no hashing), notes
// where messages end, and answers with a verdict before closing: bytes read, the first byte that
// differed, messages read and a SHA-256 of their end offsets. The sender checks the verdict against
// what it was asked to send, so it knows whether the bytes arrived exactly, in order and with their
// boundaries, and where the first difference is.

import { createHash, type Hash } from 'node:crypto';
import { Connection, type ReadSink } from '../transport/connection.js';
import { describeConnectionError } from '../transport/error.js';
import type { TransportConfig } from '../transport/config.js';
import type { Endpoint } from '../endpoint.js';
import { ConnectionSession } from './session.js';
import { Rng } from '../util/rng.js';
import { Service, encodeSynOptions, reliableSynOptions } from '../wire/handshake.js';

/** Length of the repeating data pattern: a prime, so packet boundaries never line up with it. */
export const PATTERN_BYTES = 65521;

/** The seeded byte pattern both ends of a transfer agree on. */
export function makePattern(seed: number): Uint8Array {
  const rng = new Rng(seed);
  const p = new Uint8Array(PATTERN_BYTES);
  for (let i = 0; i < p.length; i++) p[i] = rng.uint32() & 0xff;
  return p;
}

/** Size of the receiver's verdict message (docs/wire.md, "Bulk transfer verdict"). */
const VERDICT_BYTES = 56;
const VERDICT_VERSION = 1;
const NO_DIFFERENCE = 2 ** 53 - 1;

/** Writes a whole number below 2^53 as 8 big-endian bytes. */
function writeU64(out: Buffer, off: number, x: number): void {
  out.writeUInt32BE(Math.floor(x / 2 ** 32), off);
  out.writeUInt32BE(x >>> 0, off + 4);
}

/** Hashes message-end offsets (8 bytes each, big-endian), staged so that one native call covers many. */
class EndOffsets {
  private readonly hash: Hash = createHash('sha256');
  private readonly staging = Buffer.allocUnsafe(64 * 1024);
  private staged = 0;
  count = 0;

  add(offset: number): void {
    if (this.staged === this.staging.length) this.flush();
    writeU64(this.staging, this.staged, offset);
    this.staged += 8;
    this.count++;
  }

  private flush(): void {
    this.hash.update(this.staging.subarray(0, this.staged));
    this.staged = 0;
  }

  digest(): Uint8Array {
    this.flush();
    return Uint8Array.from(this.hash.digest());
  }
}

/** What a receiver found, as its verdict message carries it. */
export interface Verdict {
  /** Bytes the receiving application read. */
  bytesRead: number;
  /** Offset of the first byte that differed from the pattern, or null when none did. */
  firstDifferenceAt: number | null;
  /** Messages that ended (boundaries read). */
  messages: number;
  /** SHA-256 of the message-end offsets. */
  endsDigest: Uint8Array;
}

/** Encodes a verdict into its 56-byte message. */
export function encodeVerdict(v: Verdict): Uint8Array {
  const out = Buffer.alloc(VERDICT_BYTES);
  out[0] = VERDICT_VERSION;
  out[1] = 1;
  writeU64(out, 4, v.bytesRead);
  writeU64(out, 12, v.firstDifferenceAt ?? NO_DIFFERENCE);
  out.writeUInt32BE(v.messages >>> 0, 20);
  out.set(v.endsDigest.subarray(0, 32), 24);
  return out;
}

/** Decodes a verdict message; null for anything else (a receiver that did not verify, or garbage). */
export function decodeVerdict(m: Uint8Array): Verdict | null {
  if (m.length !== VERDICT_BYTES || m[0] !== VERDICT_VERSION || m[1] !== 1) return null;
  const b = Buffer.from(m.buffer, m.byteOffset, m.byteLength);
  const u64 = (off: number) => b.readUInt32BE(off) * 2 ** 32 + b.readUInt32BE(off + 4);
  const diff = u64(12);
  return { bytesRead: u64(4), firstDifferenceAt: diff >= NO_DIFFERENCE ? null : diff, messages: b.readUInt32BE(20), endsDigest: Uint8Array.from(m.subarray(24, 56)) };
}

/**
 * Compares delivered data with the pattern as it is read: every byte (one native comparison per
 * contiguous piece; the exact byte is searched only on a difference) and the offsets where
 * messages end.
 */
class PatternCheck implements ReadSink {
  private readonly pattern: Buffer;
  private readonly ends = new EndOffsets();
  private bytesRead = 0;
  private firstDifferenceAt = -1;
  private source: Uint8Array | null = null;
  private sourceBuffer: Buffer | null = null;

  constructor(seed: number) {
    const p = makePattern(seed);
    this.pattern = Buffer.from(p.buffer, p.byteOffset, p.byteLength);
  }

  onData(buf: Uint8Array, start: number, end: number, messageEnd: boolean): void {
    if (buf !== this.source) {
      this.source = buf;
      this.sourceBuffer = Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength);
    }
    if (this.firstDifferenceAt < 0) this.compare(this.sourceBuffer!, start, end);
    this.bytesRead += end - start;
    if (messageEnd) this.ends.add(this.bytesRead);
  }

  private compare(src: Buffer, start: number, end: number): void {
    const p = this.pattern;
    let at = this.bytesRead % PATTERN_BYTES;
    for (let i = start; i < end; ) {
      const n = Math.min(end - i, PATTERN_BYTES - at);
      if (src.compare(p, at, at + n, i, i + n) !== 0) {
        let k = 0;
        while (src[i + k] === p[at + k]) k++;
        this.firstDifferenceAt = this.bytesRead + (i - start) + k;
        return;
      }
      i += n;
      at = 0;
    }
  }

  verdict(): Verdict {
    return { bytesRead: this.bytesRead, firstDifferenceAt: this.firstDifferenceAt < 0 ? null : this.firstDifferenceAt, messages: this.ends.count, endsDigest: this.ends.digest() };
  }
}

/** The verdict of a receiver that read exactly `totalBytes` of the pattern in messages of `messageBytes` (0: a byte stream). */
export function expectedVerdict(totalBytes: number, messageBytes: number): Verdict {
  const ends = new EndOffsets();
  if (messageBytes > 0) for (let at = 0; at < totalBytes; ) ends.add((at = Math.min(totalBytes, at + messageBytes)));
  return { bytesRead: totalBytes, firstDifferenceAt: null, messages: ends.count, endsDigest: ends.digest() };
}

/** Why a verdict differs from the expected one, or null when they agree. */
export function verdictProblem(got: Verdict, want: Verdict): string | null {
  const n = (x: number) => x.toLocaleString('en');
  if (got.firstDifferenceAt !== null) return `byte ${n(got.firstDifferenceAt)} differs from what was sent (the first difference)`;
  if (got.bytesRead !== want.bytesRead) return `the receiver read ${n(got.bytesRead)} bytes, ${n(want.bytesRead)} were sent`;
  if (got.messages !== want.messages) return `the receiver read ${n(got.messages)} messages, ${n(want.messages)} were sent`;
  if (Buffer.compare(got.endsDigest, want.endsDigest) !== 0) return 'message boundaries are not where they were sent';
  return null;
}

/** Reads and forgets (a receiver that does not verify). */
const DISCARD: ReadSink = { onData: () => {} };
/** The receiver's final message when it was not asked to verify. */
const NOT_VERIFIED = new Uint8Array([0]);

/** Collects one small message (the receiver's verdict). */
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
  /** The receiver compares the data with the pattern and answers with a verdict (default true). */
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
  /** The receiver's verdict, once it came (null when not verifying). */
  verdict: Verdict | null = null;
  /** Why the data did not match, null when it did or is not known. */
  dataProblem: string | null = null;
  /** True when the receiver read exactly what was sent; null until its verdict is known (the sender sets it, nobody else). */
  matched: boolean | null = null;

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
      encodeSynOptions(reliableSynOptions(Service.RELIABLE, c, { readRateBytesPerSecond: this.opts.readRateBytesPerSecond, verifyData: this.verify, patternSeed: this.opts.patternSeed })),
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
        this.failure = describeConnectionError(e.error);
      }
    }
    if (this.state === 'sending') this.pump();
    if (this.state === 'closing' || this.state === 'sending') {
      this.conn.read(this.reply);
      if (this.reply.message !== null && this.verify && this.matched === null) this.judge(this.reply.message);
      // The receiver's final message (its verdict, or one byte when not verifying) confirms it read
      // everything up to our FIN.
      if (this.conn.isSendComplete && this.reply.message !== null && this.state === 'closing') {
        this.state = 'done';
        this.completedAtMs = now;
        this.conn.read(this.reply);
      }
    }
  }

  private judge(message: Uint8Array): void {
    this.verdict = decodeVerdict(message);
    this.dataProblem = this.verdict === null ? `the receiver answered with ${message.length} bytes that are not a verdict` : verdictProblem(this.verdict, expectedVerdict(this.opts.totalBytes, this.opts.messageBytes));
    this.matched = this.dataProblem === null;
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
export class BulkReceiver extends ConnectionSession {
  /** When the sender's FIN was read (ms). */
  finishedAtMs = Number.NaN;
  private answered = false;

  private readonly sink: ReadSink;
  private readonly readRate: number;
  private readonly burstBytes: number;
  private tokens = 0;
  private lastRefill = Number.NaN;
  private nextReadAt: number | null = null;

  private readonly check: PatternCheck | null;

  /** `patternSeed` null: read and discard without checking. */
  constructor(conn: Connection, readRateBytesPerSecond: number, burstBytes: number, patternSeed: number | null) {
    super(conn);
    this.check = patternSeed === null ? null : new PatternCheck(patternSeed);
    this.sink = this.check ?? DISCARD;
    this.readRate = readRateBytesPerSecond;
    this.burstBytes = Math.max(1, burstBytes);
  }

  override handleTimeout(now: number): void {
    // The application's next read is due: consume (in super) reads.
    if (this.nextReadAt !== null && this.nextReadAt <= now) this.nextReadAt = null;
    super.handleTimeout(now);
  }

  override pollTimeout(): number | null {
    const t = this.conn.pollTimeout();
    if (this.nextReadAt === null) return t;
    return t === null || this.nextReadAt < t ? this.nextReadAt : t;
  }

  protected consume(now: number): void {
    const conn = this.conn;
    if (this.readRate > 0) {
      if (Number.isNaN(this.lastRefill)) this.lastRefill = now;
      this.tokens = Math.min(this.burstBytes, this.tokens + ((now - this.lastRefill) * this.readRate) / 1000);
      this.lastRefill = now;
      const n = conn.read(this.sink, Math.floor(this.tokens));
      this.tokens -= n;
      // Come back when a packet's worth of tokens has built up, if data is waiting.
      if (conn.hasReadable) {
        const need = Math.max(1, conn.config.mssBytes - this.tokens);
        const at = now + (need * 1000) / this.readRate;
        if (this.nextReadAt === null || at < this.nextReadAt) this.nextReadAt = at;
      }
    } else {
      conn.read(this.sink);
    }
    if (conn.isPeerClosed && !this.answered) {
      this.answered = true;
      this.finishedAtMs = now;
      const verdict = this.check?.verdict() ?? null;
      conn.sendMessage(verdict === null ? NOT_VERIFIED : encodeVerdict(verdict));
      conn.close();
    }
  }
}
