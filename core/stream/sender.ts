// The sending end of `packetlab udp`: after a handshake with a listener that agreed to the rate
// and the duration, it sends numbered UDATA datagrams on a fixed schedule and never retransmits.
// It stops on its own when the receiver's reports stop coming (consent lost, as RFC 7675 does for
// WebRTC), so it cannot be turned against a host that is not listening.

import type { Endpoint } from '../endpoint.js';
import {
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
import { seqAdd } from '../wire/seq.js';
import { Service, encodeSynOptions } from '../wire/handshake.js';
import { decodeReport, type StreamReport } from './report.js';

/** Parameters of a stream sender. */
export interface StreamSenderOptions {
  connectionId: number;
  isn: number;
  /** Address of the listener. */
  peer: number;
  /** Size of each datagram (header included). */
  datagramBytes: number;
  ratePacketsPerSecond: number;
  durationMs: number;
  reportIntervalMs: number;
  /** Stop when no report arrived for this long (default: max(2 s, 5 report intervals)). */
  consentTimeoutMs?: number;
  /** SYN attempts before giving up. */
  synAttempts?: number;
}

/** Counters of a stream sender. */
export class StreamSenderCounters {
  packetsSent = 0;
  bytesSent = 0;
  reportsReceived = 0;
}

/** Life of a stream. */
export type StreamState = 'idle' | 'connecting' | 'streaming' | 'finishing' | 'done' | 'failed';

const SYN_RETRY_MS = 500;
const FIN_RETRY_MS = 300;
const FIN_ATTEMPTS = 6;

/** A stream sender endpoint. */
export class StreamSender implements Endpoint {
  readonly counters = new StreamSenderCounters();
  readonly transmitTo: number;
  state: StreamState = 'idle';
  failure: string | null = null;
  /** When the listener accepted (ms). */
  startedAtMs = Number.NaN;
  /** When the last datagram was sent (ms). */
  lastSendAtMs = Number.NaN;
  /** Latest report from the receiver. */
  lastReport: StreamReport | null = null;
  /** The receiver's final report, once it came. */
  finalReport: StreamReport | null = null;

  private readonly o: StreamSenderOptions;
  private readonly total: number;
  private readonly consentTimeoutMs: number;
  private readonly tx: Uint8Array;
  private readonly udataView: Uint8Array;
  private readonly out: HeaderFields;
  private readonly hdr: Header = newHeader();
  private readonly reports: StreamReport[] = [];
  private next = 0;
  private synPending = false;
  private synAttempts = 0;
  private retryAt: number | null = null;
  private finPending = false;
  private finAttempts = 0;
  private lastHeardAt = 0;
  private rstPending: string | null = null;
  private payloadDirty = false;

  constructor(o: StreamSenderOptions) {
    if (!(o.datagramBytes >= HEADER_BYTES && o.datagramBytes <= 65507)) throw new RangeError(`datagramBytes ${o.datagramBytes} is outside ${HEADER_BYTES}..65507`);
    if (!(o.ratePacketsPerSecond > 0)) throw new RangeError(`ratePacketsPerSecond ${o.ratePacketsPerSecond}`);
    this.o = o;
    this.transmitTo = o.peer;
    this.total = Math.max(1, Math.round((o.ratePacketsPerSecond * o.durationMs) / 1000));
    this.consentTimeoutMs = o.consentTimeoutMs ?? Math.max(2000, 5 * o.reportIntervalMs);
    this.tx = new Uint8Array(Math.max(o.datagramBytes, HEADER_BYTES + 64));
    this.udataView = this.tx.subarray(0, o.datagramBytes);
    this.out = { type: PacketType.UDATA, flags: 0, connectionId: o.connectionId, seq: 0, ack: 0, windowBytes: 0, tsVal: 0, tsEcr: 0, sackCount: 0, sack: [] };
  }

  /** Datagrams the stream will send in all. */
  get totalPackets(): number {
    return this.total;
  }

  /** Reports received since the last call, oldest first. */
  takeReports(): StreamReport[] {
    return this.reports.splice(0, this.reports.length);
  }

  /** Sends the SYN. */
  start(now: number): void {
    if (this.state !== 'idle') return;
    this.state = 'connecting';
    this.synPending = true;
    this.lastHeardAt = now;
  }

  /** Stops early (Ctrl-C): the receiver is told with a FIN and sends its final report. */
  stop(now: number): void {
    if (this.state === 'streaming') this.beginFinish(now);
    else if (this.state === 'connecting' || this.state === 'idle') this.fail('stopped before the listener answered');
  }

  handleDatagram(now: number, bytes: Uint8Array): void {
    if (!verifyChecksum(bytes, bytes.length)) return;
    const h = this.hdr;
    if (parseInto(bytes, bytes.length, h) !== null || h.connectionId !== this.o.connectionId) return;
    const payload = bytes.subarray(h.payloadOffset, h.payloadOffset + h.payloadLength);
    switch (h.type) {
      case PacketType.SYN_ACK:
        if (this.state === 'connecting' && h.ack === seqAdd(this.o.isn, 1)) {
          this.state = 'streaming';
          this.startedAtMs = now;
          this.lastHeardAt = now;
          this.retryAt = null;
        }
        return;
      case PacketType.REPORT: {
        const r = decodeReport(payload);
        if (r === null) return;
        this.lastHeardAt = now;
        this.counters.reportsReceived++;
        this.lastReport = r;
        this.reports.push(r);
        if (r.final && (this.state === 'finishing' || this.state === 'streaming')) {
          this.finalReport = r;
          this.state = 'done';
          this.retryAt = null;
        }
        return;
      }
      case PacketType.RST:
        this.fail(`listener refused or ended the stream: ${new TextDecoder().decode(payload) || 'no reason given'}`);
        return;
      default:
    }
  }

  handleTimeout(now: number): void {
    if (this.state === 'connecting' && this.retryAt !== null && now >= this.retryAt) {
      if (this.synAttempts >= (this.o.synAttempts ?? 5)) {
        this.fail(`no answer to SYN after ${this.synAttempts} attempts (is \`packetlab udp --listen\` running there?)`);
        return;
      }
      this.synPending = true;
    }
    if (this.state === 'streaming' && now - this.lastHeardAt >= this.consentTimeoutMs) {
      // Consent freshness: without reports the receiver may be gone; do not keep sending.
      this.rstPending = 'sender stopped: no report from the receiver';
      this.fail(`no report from the receiver for ${Math.round(now - this.lastHeardAt)} ms: stopped sending (consent lost)`);
      return;
    }
    if (this.state === 'finishing' && this.retryAt !== null && now >= this.retryAt) {
      if (this.finAttempts >= FIN_ATTEMPTS) {
        this.state = 'done';
        this.retryAt = null;
        return;
      }
      this.finPending = true;
    }
  }

  pollTimeout(): number | null {
    switch (this.state) {
      case 'connecting':
        return this.synPending ? null : this.retryAt;
      case 'streaming': {
        const consent = this.lastHeardAt + this.consentTimeoutMs;
        return this.next < this.total ? Math.min(this.sendTime(this.next), consent) : consent;
      }
      case 'finishing':
        return this.finPending ? null : this.retryAt;
      default:
        return null;
    }
  }

  pollTransmit(now: number): Uint8Array | null {
    const o = this.out;
    o.tsVal = Math.floor(now * 1000) >>> 0;
    if (this.rstPending !== null) {
      this.rstPending = null;
      return this.emit(PacketType.RST, 0, this.o.isn, null, 0);
    }
    if (this.synPending) {
      this.synPending = false;
      this.synAttempts++;
      this.retryAt = now + SYN_RETRY_MS * 2 ** (this.synAttempts - 1);
      const syn = encodeSynOptions({
        service: Service.STREAM,
        datagramBytes: this.o.datagramBytes,
        ratePacketsPerSecond: this.o.ratePacketsPerSecond,
        durationMs: this.o.durationMs,
        reportIntervalMs: this.o.reportIntervalMs,
      });
      return this.emit(PacketType.SYN, 0, this.o.isn, syn, syn.length);
    }
    if (this.state === 'streaming') {
      if (this.next < this.total && this.sendTime(this.next) <= now) {
        const k = this.next++;
        const c = this.counters;
        c.packetsSent++;
        c.bytesSent += this.o.datagramBytes;
        this.lastSendAtMs = now;
        const dg = this.emit(PacketType.UDATA, 0, seqAdd(this.o.isn, 1 + k), null, this.o.datagramBytes - HEADER_BYTES);
        if (this.next === this.total) this.beginFinish(now);
        return dg;
      }
      return null;
    }
    if (this.finPending) {
      this.finPending = false;
      this.finAttempts++;
      this.retryAt = now + FIN_RETRY_MS;
      const count = new Uint8Array(8);
      new DataView(count.buffer).setFloat64(0, this.counters.packetsSent);
      return this.emit(PacketType.FIN, 0, seqAdd(this.o.isn, 1 + this.next), count, 8);
    }
    return null;
  }

  private sendTime(k: number): number {
    return this.startedAtMs + (k * 1000) / this.o.ratePacketsPerSecond;
  }

  private beginFinish(now: number): void {
    this.state = 'finishing';
    this.finPending = true;
    this.retryAt = now;
  }

  private fail(reason: string): void {
    if (this.state === 'done' || this.state === 'failed') return;
    this.state = 'failed';
    this.failure = reason;
    this.retryAt = null;
  }

  private emit(type: PacketType, flags: number, seq: number, payload: Uint8Array | null, payloadLength: number): Uint8Array {
    const o = this.out;
    o.type = type;
    o.flags = flags;
    o.seq = seq;
    const off = writeHeader(this.tx, o, payloadLength);
    if (payload !== null) {
      this.tx.set(payload, off);
      this.payloadDirty = true;
    } else if (this.payloadDirty) {
      // UDATA payloads are zeros; clean up after a SYN or FIN wrote its payload here.
      this.tx.fill(0, HEADER_BYTES);
      this.payloadDirty = false;
    }
    const view = type === PacketType.UDATA ? this.udataView : this.tx.subarray(0, off + payloadLength);
    sealChecksum(view, view.length);
    return view;
  }
}
