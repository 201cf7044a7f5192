// The receiving end of `packetlab udp`: a listener session that counts numbered UDATA datagrams
// (received, lost, reordered, duplicated, jitter) and reports every interval. It holds the sender
// to what it agreed to: past the agreed duration, or far above the agreed rate, it sends RST and
// stops reporting, and a sender without reports stops (see sender.ts). A stream session ends when
// its data stops, so a SYN alone (perhaps with a forged source address) buys no lasting reports
// and holds no slot for long.

import type { Session } from '../listener.js';
import {
  Flag,
  HEADER_BYTES,
  PacketType,
  newHeader,
  parseInto,
  sealChecksum,
  verifyChecksum,
  writeHeader,
  type Header,
  type HeaderFields,
} from '../wire/packet.js';
import { seqAdd, seqDiff } from '../wire/seq.js';
import type { StreamSynOptions } from '../wire/handshake.js';
import { REPORT_BYTES, encodeReport, type StreamReport } from './report.js';

const DUP_WINDOW = 1 << 16; // datagrams remembered for duplicate detection
const DURATION_GRACE_MS = 2000;
const RATE_SLACK = 2; // a sender may run this many times over its agreed rate in one interval...
const RATE_BURST_PACKETS = 1000; // ...plus this many datagrams, before it is cut off
const LINGER_MS = 3000;
// Datagrams still on their way when the FIN arrives (held back for reordering, or behind jitter)
// are waited for this long before the final report counts them lost. The sender repeats its FIN
// after 300 ms without a final report, so one FIN is enough.
const FINAL_WAIT_MS = 200;
// However short the idle timeout, a stream is not taken for stopped before this many report
// intervals, or this many gaps between datagrams at its agreed rate, have passed without data.
const IDLE_INTERVALS = 4;

/** How long a stream may send nothing before its session ends, unless the listener says otherwise. */
export const DEFAULT_STREAM_IDLE_TIMEOUT_MS = 2000;

/** Counters of a stream receiver. */
export class StreamReceiverCounters {
  packetsReceived = 0;
  bytesReceived = 0;
  duplicates = 0;
  reordered = 0;
  checksumFailures = 0;
  malformed = 0;
  /** Highest datagram index seen plus one. */
  packetsExpected = 0;
  jitterMs = 0;
}

/** A stream receiver session. */
export class StreamReceiver implements Session {
  readonly counters = new StreamReceiverCounters();
  /** Kernel drops of the receiving socket, when the driver knows them. */
  kernelDrops: () => number = () => Number.NaN;
  /** Packets the sender said it sent (from its FIN), NaN before. */
  packetsSent = Number.NaN;
  /** Why the session ended early, if it did. */
  failure: string | null = null;

  private readonly connectionId: number;
  private readonly base: number;
  private readonly synSeq: number;
  private readonly opts: StreamSynOptions;
  private readonly openedAt: number;
  private readonly idleTimeoutMs: number;
  private lastDataAt: number;
  private readonly seen = new Uint8Array(DUP_WINDOW >>> 3);
  private synAckPending = true;
  private reportPending = false;
  private finalPending = false;
  private rstReason: string | null = null;
  private state: 'open' | 'finishing' | 'done' = 'open';
  private nextReportAt: number;
  private lingerUntil = Number.NaN;
  /** While the final report waits for datagrams still missing after the FIN: when it is due; NaN otherwise. */
  private finalDueAt = Number.NaN;
  private intervalPackets = 0;
  private prevTransitUs = Number.NaN;
  private jitterUs = 0;
  private readonly hdr: Header = newHeader();
  private readonly tx = new Uint8Array(HEADER_BYTES + Math.max(REPORT_BYTES, 200));
  private readonly out: HeaderFields = { type: PacketType.REPORT, flags: 0, connectionId: 0, seq: 0, ack: 0, windowBytes: 0, tsVal: 0, tsEcr: 0, sackCount: 0, sack: [] };

  /** `idleTimeoutMs`: the session ends when no datagram of the stream arrived for this long (or four report intervals or datagram gaps, if longer). */
  constructor(syn: Header, opts: StreamSynOptions, now: number, idleTimeoutMs = DEFAULT_STREAM_IDLE_TIMEOUT_MS) {
    this.connectionId = syn.connectionId;
    this.synSeq = syn.seq;
    this.base = seqAdd(syn.seq, 1);
    this.opts = opts;
    this.openedAt = now;
    this.idleTimeoutMs = Math.max(idleTimeoutMs, IDLE_INTERVALS * opts.reportIntervalMs, (IDLE_INTERVALS * 1000) / opts.ratePacketsPerSecond);
    // The first datagram may come a round trip after the SYN: the wait for it is the same.
    this.lastDataAt = now;
    this.nextReportAt = now + opts.reportIntervalMs;
    this.out.connectionId = syn.connectionId;
  }

  get finished(): boolean {
    return this.state === 'done' && !this.synAckPending && !this.reportPending && !this.finalPending && this.rstReason === null;
  }

  /** The counters as a report. */
  report(final: boolean): StreamReport {
    const c = this.counters;
    const expected = final && Number.isFinite(this.packetsSent) ? this.packetsSent : c.packetsExpected;
    return {
      final,
      packetsReceived: c.packetsReceived,
      bytesReceived: c.bytesReceived,
      packetsExpected: expected,
      lost: Math.max(0, expected - c.packetsReceived),
      reordered: c.reordered,
      duplicates: c.duplicates,
      jitterMs: this.jitterUs / 1000,
      kernelDrops: this.kernelDrops(),
      checksumFailures: c.checksumFailures,
    };
  }

  /** The final report goes out now: the wait for late datagrams is over. */
  private sendFinal(): void {
    this.finalDueAt = Number.NaN;
    this.finalPending = true;
  }

  abort(reason: string): void {
    if (this.state === 'done') return;
    this.failure = reason;
    this.rstReason = reason;
    this.state = 'done';
  }

  handleDatagram(now: number, bytes: Uint8Array): void {
    const c = this.counters;
    if (!verifyChecksum(bytes, bytes.length)) {
      c.checksumFailures++;
      return;
    }
    const h = this.hdr;
    if (parseInto(bytes, bytes.length, h) !== null || h.connectionId !== this.connectionId) {
      c.malformed++;
      return;
    }
    switch (h.type) {
      case PacketType.UDATA:
        if (this.state === 'open') {
          this.lastDataAt = now;
          this.onData(now, h, bytes.length);
        } else if (this.state === 'finishing' && !Number.isNaN(this.finalDueAt)) {
          // A late datagram the final report waits for.
          this.onData(now, h, bytes.length);
          if (this.counters.packetsReceived >= this.packetsSent) this.sendFinal();
        }
        return;
      case PacketType.SYN:
        if (h.seq === this.synSeq && this.state === 'open') this.synAckPending = true;
        return;
      case PacketType.FIN:
        if (h.payloadLength === 8 && this.state === 'open') {
          this.packetsSent = new DataView(bytes.buffer, bytes.byteOffset + h.payloadOffset, 8).getFloat64(0);
          this.state = 'finishing';
          this.lingerUntil = now + LINGER_MS;
          // Datagrams still missing may only be late: the final report waits for them a while.
          if (this.counters.packetsReceived < this.packetsSent) this.finalDueAt = now + FINAL_WAIT_MS;
          else this.finalPending = true;
          return;
        }
        // A repeated FIN: the sender has not had the final report (unless it is still waiting).
        if (this.state === 'finishing' && Number.isNaN(this.finalDueAt)) this.finalPending = true;
        return;
      case PacketType.RST:
        this.state = 'done';
        return;
      default:
        c.malformed++;
    }
  }

  private onData(now: number, h: Header, length: number): void {
    const c = this.counters;
    const k = seqDiff(h.seq, this.base);
    if (k < 0) {
      c.malformed++;
      return;
    }
    if (k < c.packetsExpected - DUP_WINDOW) {
      // Too old to tell whether it is a duplicate: count it as reordered only.
      c.reordered++;
      return;
    }
    if (k >= c.packetsExpected) {
      // Forget the marks of the indexes that are now coming into the window.
      const from = c.packetsExpected;
      const to = k + 1;
      if (to - from >= DUP_WINDOW) this.seen.fill(0);
      else for (let i = from; i < to; i++) this.seen[(i & (DUP_WINDOW - 1)) >>> 3] &= ~(1 << (i & 7));
      c.packetsExpected = to;
    } else {
      const bit = this.seen[(k & (DUP_WINDOW - 1)) >>> 3]! & (1 << (k & 7));
      if (bit !== 0) {
        c.duplicates++;
        return;
      }
      c.reordered++;
    }
    this.seen[(k & (DUP_WINDOW - 1)) >>> 3] |= 1 << (k & 7);
    c.packetsReceived++;
    c.bytesReceived += length;
    this.intervalPackets++;
    // RFC 3550 (6.4.1): J += (|D| - J) / 16, D the change of transit time between arrivals.
    const transit = (Math.floor(now * 1000) - h.tsVal) | 0;
    if (!Number.isNaN(this.prevTransitUs)) {
      const d = Math.abs((transit - this.prevTransitUs) | 0);
      this.jitterUs += (d - this.jitterUs) / 16;
    }
    this.prevTransitUs = transit;
    c.jitterMs = this.jitterUs / 1000;
  }

  handleTimeout(now: number): void {
    if (this.state === 'open') {
      if (now - this.openedAt > this.opts.durationMs + DURATION_GRACE_MS + 2 * this.opts.reportIntervalMs) {
        this.abort(`stream exceeded its agreed duration of ${this.opts.durationMs} ms`);
        return;
      }
      if (now - this.lastDataAt >= this.idleTimeoutMs) {
        // Reports are consent for a sender that sends; without data they would only feed a
        // sender that is gone, or a host that never asked for them.
        this.abort(`no data for ${Math.round(this.idleTimeoutMs)} ms: stream sessions end when their data stops`);
        return;
      }
      if (now >= this.nextReportAt) {
        const limit = (this.opts.ratePacketsPerSecond * (now - this.nextReportAt + this.opts.reportIntervalMs) * RATE_SLACK) / 1000 + RATE_BURST_PACKETS;
        if (this.intervalPackets > limit) {
          this.abort(`stream exceeds its agreed rate of ${this.opts.ratePacketsPerSecond} packets/s`);
          return;
        }
        this.intervalPackets = 0;
        this.reportPending = true;
        this.nextReportAt = now + this.opts.reportIntervalMs;
      }
    } else if (this.state === 'finishing') {
      if (now >= this.finalDueAt) this.sendFinal();
      if (now >= this.lingerUntil) this.state = 'done';
    }
  }

  pollTimeout(): number | null {
    if (this.state === 'open') return Math.min(this.nextReportAt, this.lastDataAt + this.idleTimeoutMs, this.openedAt + this.opts.durationMs + DURATION_GRACE_MS + 2 * this.opts.reportIntervalMs + 1);
    if (this.state === 'finishing') return Number.isNaN(this.finalDueAt) ? this.lingerUntil : Math.min(this.finalDueAt, this.lingerUntil);
    return null;
  }

  pollTransmit(now: number): Uint8Array | null {
    const o = this.out;
    o.tsVal = Math.floor(now * 1000) >>> 0;
    if (this.rstReason !== null) {
      const text = new TextEncoder().encode(this.rstReason).subarray(0, 160);
      this.rstReason = null;
      return this.emit(PacketType.RST, 0, text);
    }
    if (this.synAckPending) {
      this.synAckPending = false;
      return this.emit(PacketType.SYN_ACK, Flag.ACK, null);
    }
    if (this.reportPending || this.finalPending) {
      const final = this.finalPending;
      this.reportPending = false;
      this.finalPending = false;
      const payload = new Uint8Array(REPORT_BYTES);
      encodeReport(this.report(final), payload);
      return this.emit(PacketType.REPORT, Flag.ACK, payload);
    }
    return null;
  }

  private emit(type: PacketType, flags: number, payload: Uint8Array | null): Uint8Array {
    const o = this.out;
    o.type = type;
    o.flags = flags;
    o.ack = this.base;
    const len = payload === null ? 0 : payload.length;
    const off = writeHeader(this.tx, o, len);
    if (payload !== null) this.tx.set(payload, off);
    sealChecksum(this.tx, off + len);
    return this.tx.subarray(0, off + len);
  }
}
