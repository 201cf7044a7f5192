// A reliable connection over datagrams, sans-IO: it never reads a clock, starts a timer or touches
// a socket. Drivers feed it `now` (milliseconds) and bytes, and take datagrams and deadlines out:
//
//   handleDatagram(now, bytes)   a datagram arrived from the peer
//   handleTimeout(now)           the deadline from pollTimeout() has passed
//   pollTransmit(now)            the next datagram to send, or null
//   pollTimeout()                the next deadline, or null
//   pollEvent()                  connected, peer-closed, closed, failed
//
// The application writes with write()/sendMessage() and reads with read(). Sequence numbers count
// packets (not bytes), as in the textbook ARQ protocols; the SYN and the FIN consume one each.
// Three ARQ modes share this code: stop-and-wait (go-back-N with a window of one), go-back-N
// (receiver keeps only in-order packets, sender resends everything outstanding on a timeout) and
// selective repeat (receiver buffers out-of-order packets, sender resends only what is missing).
// The send and receive windows live in typed-array rings indexed by `seq & mask`.

import { RtoEstimator } from './rto.js';
import { TIMER_KINDS, Timer, TimerTable, type TimerKind } from './timers.js';
import { ConnectionCounters } from './metrics.js';
import { CongestionControl } from './congestion.js';
import { S_ACKED, S_FIN, S_MSG_END, S_RTX_FAST, S_RTX_IN_RECOVERY, S_RTX_QUEUED, SendWindow } from './send-window.js';
import { ACK_QUEUE_SLOTS, R_CORRUPT, R_FIN, R_MSG_END, R_PRESENT, ReceiveWindow } from './receive-window.js';
import { LossRecovery } from './recovery.js';
import { describeConnectionError, type ConnectionError } from './error.js';
import type { TransportConfig } from './config.js';
import {
  Flag,
  HEADER_BYTES,
  MAX_SACK_BLOCKS,
  PacketType,
  SACK_BLOCK_BYTES,
  newHeader,
  parseInto,
  sealChecksum,
  verifyChecksum,
  writeHeader,
  type Header,
  type HeaderFields,
} from '../wire/packet.js';
import { seqAdd, seqDiff, seqGeq, seqGt, seqLt } from '../wire/seq.js';

/** Where a connection is in its life. */
export type ConnectionState = 'idle' | 'syn-sent' | 'syn-received' | 'established' | 'lingering' | 'closed' | 'failed';

/**
 * How far this side's close has got: open for writing, close() called, the FIN queued behind the
 * data, the FIN acknowledged.
 */
type SendCloseState = 'open' | 'close-requested' | 'fin-queued' | 'fin-acked';

/** What pollEvent reports. */
export type ConnectionEvent =
  | { type: 'connected' }
  | { type: 'peer-closed' }
  | { type: 'closed' }
  | { type: 'failed'; error: ConnectionError };

/** Receives in-order data from read(): bytes buf[start..end), and whether they end a message. */
export interface ReadSink {
  onData(buf: Uint8Array, start: number, end: number, messageEnd: boolean): void;
}

/** Creation parameters of a connection. */
export interface ConnectionOptions {
  config: TransportConfig;
  role: 'client' | 'server';
  connectionId: number;
  /** Initial sequence number of this side (the SYN or SYN-ACK carries it). */
  isn: number;
}

const MAX_RST_REASON_BYTES = 200;
const LINGER_MS_MAX = 2000;
const PERSIST_BACKOFF_MAX = 6;

const textEncoder = new TextEncoder();
const textDecoder = new TextDecoder();

function nextPow2(n: number): number {
  let c = 2;
  while (c < n) c *= 2;
  return c;
}

/** Microsecond timestamp for the header, modulo 2^32. */
function tsFromNow(now: number): number {
  return Math.floor(now * 1000) >>> 0;
}

/** One end of a connection as a paused run shows it (Connection.snapshot). */
export interface ConnectionSnapshot {
  role: 'client' | 'server';
  state: ConnectionState;
  protocol: TransportConfig['protocol'];
  sndUna: number;
  sndNxt: number;
  windowPackets: number;
  inFlightPackets: number;
  unacked: { seq: number; transmissions: number; sentAtMs: number; deadlineMs: number | null; sacked: boolean; retransmitQueued: boolean }[];
  rcvNxt: number;
  buffered: number[];
  rcvBufferedBytes: number;
  advertisedWindowBytes: number;
  peerWindowBytes: number;
  srttMs: number;
  rttvarMs: number;
  rtoMs: number;
  cwndPackets: number;
  ssthreshPackets: number;
  retransmitTimerMs: number | null;
}

/** Throws (caller misuse) when a config value is out of the engine's range. */
export function assertTransportConfig(c: TransportConfig): void {
  const bad = (what: string) => {
    throw new RangeError(`transport config: ${what}`);
  };
  if (c.protocol !== 'saw' && c.protocol !== 'gbn' && c.protocol !== 'sr') bad(`protocol ${String(c.protocol)}`);
  if (!Number.isInteger(c.windowPackets) || c.windowPackets < 1 || c.windowPackets > 16384) bad(`windowPackets ${c.windowPackets}`);
  if (!Number.isInteger(c.mssBytes) || c.mssBytes < 1 || c.mssBytes > 65000) bad(`mssBytes ${c.mssBytes}`);
  if (!Number.isInteger(c.rcvBufferBytes) || c.rcvBufferBytes < c.mssBytes) bad(`rcvBufferBytes ${c.rcvBufferBytes} < mssBytes`);
  if (!(c.rtoMsMin > 0 && c.rtoMsMax >= c.rtoMsMin && c.rtoMs > 0 && c.rtoMsInitial > 0)) bad('RTO bounds');
  if (!(c.rtoBackoff >= 1)) bad(`rtoBackoff ${c.rtoBackoff}`);
  if (!(c.ackEveryPackets >= 1)) bad(`ackEveryPackets ${c.ackEveryPackets}`);
}

/** One end of a reliable connection. */
export class Connection {
  /** Cumulative counters. */
  readonly counters = new ConnectionCounters();
  /** Connection id carried in every header. */
  readonly connectionId: number;
  /** Client (opens with SYN) or server (answers with SYN-ACK). */
  readonly role: 'client' | 'server';
  /** Current state. */
  state: ConnectionState = 'idle';
  /** Why the connection failed, once it has. */
  failure: ConnectionError | null = null;

  private cfg: TransportConfig;
  private readonly rto: RtoEstimator;
  private readonly cc: CongestionControl;
  private readonly timers = new TimerTable();
  private readonly events: ConnectionEvent[] = [];

  // Handshake.
  private readonly iss: number;
  private synPayload: Uint8Array = new Uint8Array(0);
  // The SYN (client) or SYN-ACK (server) is due.
  private handshakeDue = false;
  private handshakeAttempts = 0;
  private handshakeSentAt = 0;
  private rstPending = false;

  // Send side: the ring of slots for seq in [snd.una, snd.end]; [snd.una, snd.nxt) are in flight.
  private readonly snd: SendWindow;
  private sndWndBytes = 0;
  private headRetransmits = 0;
  private lastBackoffAt = Number.NEGATIVE_INFINITY;
  // When an ACK last acknowledged new data (RFC 6298 (5.3) restarts the retransmission timer then).
  private lastNewAckAt = Number.NEGATIVE_INFINITY;
  // Loss recovery over the send window: scoreboard, RACK, Eifel, go-back-N's resend.
  private readonly loss: LossRecovery;
  private sendClose: SendCloseState = 'open';
  private probePending = false;
  private persistBackoff = 0;
  private readonly msgQueue: Uint8Array[] = [];
  private msgQueueOffset = 0;
  private msgQueueBytes = 0;

  // Receive side: the ring of slots for seq in [rcv.read, rcv.read + rcv.slots), and the ACKs owed.
  private readonly rcv: ReceiveWindow;

  // Scratch.
  private readonly hdr: Header = newHeader();
  private readonly out: HeaderFields & { sack: Uint32Array } = {
    type: PacketType.DATA,
    flags: 0,
    connectionId: 0,
    seq: 0,
    ack: 0,
    windowBytes: 0,
    tsVal: 0,
    tsEcr: 0,
    sackCount: 0,
    sack: new Uint32Array(2 * MAX_SACK_BLOCKS),
  };
  private txBuf: Uint8Array;
  private readonly txViews = new Map<number, Uint8Array>();

  constructor(opts: ConnectionOptions) {
    assertTransportConfig(opts.config);
    this.cfg = { ...opts.config };
    this.role = opts.role;
    this.connectionId = opts.connectionId >>> 0;
    this.iss = opts.isn >>> 0;
    this.rto = new RtoEstimator(this.cfg);
    this.snd = new SendWindow(this.cfg.mssBytes, seqAdd(this.iss, 1));
    this.loss = new LossRecovery(this.snd);
    this.cc = new CongestionControl(this.cfg);
    this.snd.grow(this.sendRingSlotsFor(this.cfg.windowPackets));
    this.rcv = new ReceiveWindow(this.cfg.mssBytes);
    this.rcv.slots = Math.max(1, Math.floor(this.cfg.rcvBufferBytes / this.cfg.mssBytes));
    this.rcv.grow(nextPow2(this.rcv.slots));
    this.txBuf = new Uint8Array(HEADER_BYTES + MAX_SACK_BLOCKS * SACK_BLOCK_BYTES + Math.max(this.cfg.mssBytes, MAX_RST_REASON_BYTES, 64));
    this.out.connectionId = this.connectionId;
  }

  // ---------------------------------------------------------------- application API

  /** Client: starts the handshake; `synPayload` carries the SYN options (see wire/handshake.ts). */
  connect(now: number, synPayload: Uint8Array): void {
    if (this.role !== 'client' || this.state !== 'idle') throw new Error(`connect() on a ${this.role} connection in state ${this.state}`);
    if (synPayload.length > this.cfg.mssBytes) throw new RangeError(`SYN payload of ${synPayload.length} bytes exceeds the MSS`);
    this.synPayload = synPayload;
    this.state = 'syn-sent';
    this.handshakeDue = true;
    this.timers.set(Timer.handshake, now + this.rto.rtoMs);
    this.armIdle(now);
  }

  /**
   * Server: answers a SYN that a listener accepted. `synSeq` and `synWindowBytes` come from the
   * SYN's header; the listener has already checked its options.
   */
  accept(now: number, synSeq: number, synWindowBytes: number): void {
    if (this.role !== 'server' || this.state !== 'idle') throw new Error(`accept() on a ${this.role} connection in state ${this.state}`);
    this.state = 'syn-received';
    this.rcv.nxt = seqAdd(synSeq, 1);
    this.rcv.read = this.rcv.nxt;
    this.rcv.highest = this.rcv.nxt;
    this.sndWndBytes = synWindowBytes;
    this.handshakeDue = true;
    this.timers.set(Timer.handshake, now + this.rto.rtoMs);
    this.armIdle(now);
  }

  /**
   * Copies bytes src[start..end) into the send buffer and returns how many it took (0 when the
   * buffer is full). With messageEnd, the last byte taken ends a message if all bytes were taken.
   */
  write(src: Uint8Array, start: number, end: number, messageEnd = false): number {
    if (this.sendClose !== 'open') throw new Error('write() after close()');
    if (this.msgQueue.length > 0) this.drainMessageQueue();
    if (this.msgQueue.length > 0) return 0;
    return this.snd.copyIn(src, start, end, messageEnd);
  }

  /**
   * Queues a whole message; its boundary is kept end to end. Returns false (and queues nothing)
   * when `maxQueuedBytes` would be exceeded, so a caller can bound memory.
   */
  sendMessage(message: Uint8Array, maxQueuedBytes = 64 * 1024 * 1024): boolean {
    if (this.sendClose !== 'open') throw new Error('sendMessage() after close()');
    if (message.length === 0) throw new RangeError('empty messages are not supported');
    if (this.msgQueueBytes + message.length > maxQueuedBytes) return false;
    this.msgQueue.push(message);
    this.msgQueueBytes += message.length;
    this.drainMessageQueue();
    return true;
  }

  /** Slots the application can still fill before write() returns 0. */
  get writableSlots(): number {
    return this.snd.cap - seqDiff(this.snd.end, this.snd.una) - (this.snd.openLen > 0 ? 1 : 0);
  }

  /** Bytes queued by sendMessage() and not yet copied into the send window. */
  get queuedBytes(): number {
    return this.msgQueueBytes;
  }

  /** No more data from this side: a FIN follows the data already written. */
  close(): void {
    if (this.sendClose === 'open') this.sendClose = 'close-requested';
  }

  /**
   * Hands in-order data to `sink`, at most `maxBytes`, and returns the bytes read. Reading the
   * peer's FIN raises 'peer-closed'.
   */
  read(sink: ReadSink, maxBytes = Number.POSITIVE_INFINITY): number {
    let total = 0;
    const mss = this.cfg.mssBytes;
    while (this.rcv.read !== this.rcv.nxt && total < maxBytes) {
      const idx = this.rcv.read & this.rcv.mask;
      const st = this.rcv.state[idx]!;
      if (st & R_FIN) {
        this.rcv.state[idx] = 0;
        this.rcv.read = seqAdd(this.rcv.read, 1);
        if (this.rcv.peerFin !== 'read') {
          this.rcv.peerFin = 'read';
          this.events.push({ type: 'peer-closed' });
        }
        break;
      }
      const len = this.rcv.len[idx]!;
      const off = this.rcv.readOffset;
      const n = Math.min(len - off, maxBytes - total);
      const base = idx * mss;
      const done = off + n === len;
      sink.onData(this.rcv.data, base + off, base + off + n, done && (st & R_MSG_END) !== 0);
      total += n;
      if (done) {
        this.rcv.state[idx] = 0;
        this.rcv.read = seqAdd(this.rcv.read, 1);
        this.rcv.readOffset = 0;
        this.rcv.bytesStored -= len;
        this.counters.deliveredPackets++;
        if (st & R_MSG_END) this.counters.deliveredMessages++;
        if (st & R_CORRUPT) this.counters.corruptDeliveredPackets++;
      } else {
        this.rcv.readOffset = off + n;
      }
    }
    this.counters.deliveredBytes += total;
    if (total > 0) this.maybeWindowUpdate();
    return total;
  }

  /** In-order bytes waiting for read(). */
  get readableBytes(): number {
    let n = 0;
    for (let s = this.rcv.read; s !== this.rcv.nxt; s = seqAdd(s, 1)) {
      const idx = s & this.rcv.mask;
      if ((this.rcv.state[idx]! & R_FIN) === 0) n += this.rcv.len[idx]!;
    }
    return n - this.rcv.readOffset;
  }

  /** True when read() has something to hand out (data or the peer's FIN). */
  get hasReadable(): boolean {
    return this.rcv.read !== this.rcv.nxt;
  }

  /** True once the peer's FIN has been read: no more data will arrive. */
  get isPeerClosed(): boolean {
    return this.rcv.peerFin === 'read';
  }

  /** True once everything this side wrote, FIN included, has been acknowledged. */
  get isSendComplete(): boolean {
    return this.sendClose === 'fin-acked';
  }

  /** Aborts the connection: sends RST with the reason and fails. */
  abort(reason: string): void {
    this.fail({ kind: 'aborted', reason }, true);
  }

  /** The text of `failure` (describeConnectionError), null until the connection fails. */
  get failureReason(): string | null {
    return this.failure === null ? null : describeConnectionError(this.failure);
  }

  /** Changes knobs on a live connection (see LIVE_TRANSPORT_KNOBS). Throws on out-of-range values. */
  reconfigure(now: number, changes: Partial<TransportConfig>): void {
    const next: TransportConfig = { ...this.cfg, ...changes };
    if (next.protocol !== this.cfg.protocol) throw new Error('protocol cannot change on a live connection');
    if (next.mssBytes !== this.cfg.mssBytes) throw new Error('mssBytes cannot change on a live connection');
    assertTransportConfig(next);
    const prev = this.cfg;
    this.cfg = next;
    this.rto.reconfigure(next);
    if (next.windowPackets !== prev.windowPackets) this.snd.grow(this.sendRingSlotsFor(next.windowPackets));
    if (next.rcvBufferBytes !== prev.rcvBufferBytes) {
      this.rcv.slots = Math.max(1, Math.floor(next.rcvBufferBytes / next.mssBytes));
      if (this.rcv.slots > this.rcv.cap) this.rcv.grow(nextPow2(this.rcv.slots));
      this.maybeWindowUpdate();
    }
    this.cc.reconfigure(next, this.outstanding);
    if (next.idleTimeoutMs !== prev.idleTimeoutMs) this.armIdle(now);
  }

  /** The current config (a copy). */
  get config(): TransportConfig {
    return { ...this.cfg };
  }

  // ---------------------------------------------------------------- gauges

  /** Retransmission timeout now, backoff included. */
  get rtoMs(): number {
    return this.rto.rtoMs;
  }
  /** Smoothed RTT (NaN before a sample). */
  get srttMs(): number {
    return this.rto.srttMs;
  }
  /** RTT variation (NaN before a sample). */
  get rttvarMs(): number {
    return this.rto.rttvarMs;
  }
  /** Congestion window in packets (Infinity with congestion control off). */
  get cwndPackets(): number {
    return this.cc.cwnd;
  }
  /** Slow-start threshold in packets (Infinity until the first loss). */
  get ssthreshPackets(): number {
    return this.cc.ssthresh;
  }
  /** Packets sent and neither acknowledged nor known received. */
  get inFlightPackets(): number {
    return this.outstanding - this.snd.receivedCount;
  }
  /** Bytes held in the receive buffer (unread in-order data and out-of-order packets). */
  get rcvBufferedBytes(): number {
    return this.rcv.bytesStored;
  }
  /** The window this side advertises, in bytes. */
  get advertisedWindowBytes(): number {
    return this.rcv.advertisedSlots() * this.cfg.mssBytes;
  }
  /** The peer's last advertised window, in bytes. */
  get peerWindowBytes(): number {
    return this.sndWndBytes;
  }

  /**
   * What a paused teaching-mode run shows of this end: the send window (base, next sequence
   * number, each unacknowledged packet with its transmissions and timer) and the receive window
   * (next expected sequence number, out-of-order packets held), with the RTT estimator and the
   * congestion window. At most `maxPackets` packets of each list.
   */
  snapshot(maxPackets = 64): ConnectionSnapshot {
    const unacked: ConnectionSnapshot['unacked'] = [];
    for (let s = this.snd.una; s !== this.snd.nxt && unacked.length < maxPackets; s = seqAdd(s, 1)) {
      const idx = s & this.snd.mask;
      const st = this.snd.state[idx]!;
      unacked.push({ seq: s >>> 0, transmissions: this.snd.tx[idx]!, sentAtMs: this.snd.sentAt[idx]!, deadlineMs: Number.isFinite(this.snd.deadline[idx]!) ? this.snd.deadline[idx]! : null, sacked: (st & S_ACKED) !== 0, retransmitQueued: (st & S_RTX_QUEUED) !== 0 });
    }
    const buffered: number[] = [];
    for (let s = seqAdd(this.rcv.nxt, 1); seqLt(s, this.rcv.highest) && buffered.length < maxPackets; s = seqAdd(s, 1)) {
      if ((this.rcv.state[s & this.rcv.mask]! & R_PRESENT) !== 0) buffered.push(s >>> 0);
    }
    return {
      role: this.role,
      state: this.state,
      protocol: this.cfg.protocol,
      sndUna: this.snd.una >>> 0,
      sndNxt: this.snd.nxt >>> 0,
      windowPackets: this.cfg.protocol === 'saw' ? 1 : this.cfg.windowPackets,
      inFlightPackets: this.inFlightPackets,
      unacked,
      rcvNxt: this.rcv.nxt >>> 0,
      buffered,
      rcvBufferedBytes: this.rcv.bytesStored,
      advertisedWindowBytes: this.advertisedWindowBytes,
      peerWindowBytes: this.sndWndBytes,
      srttMs: this.srttMs,
      rttvarMs: this.rttvarMs,
      rtoMs: this.rtoMs,
      cwndPackets: this.cc.cwnd,
      ssthreshPackets: this.cc.ssthresh,
      retransmitTimerMs: this.timers.get(Timer.retransmit),
    };
  }

  // ---------------------------------------------------------------- sans-IO interface

  /** Next event, or null. */
  pollEvent(): ConnectionEvent | null {
    return this.events.length > 0 ? this.events.shift()! : null;
  }

  /** Earliest deadline of the timer table, or null when no timer runs. */
  pollTimeout(): number | null {
    return this.timers.next();
  }

  /**
   * Fires every timer whose deadline is at or before `now`, in TIMER_KINDS order. A timer that ends
   * the connection stops all of them, so none fires after it.
   */
  handleTimeout(now: number): void {
    const t = this.timers;
    for (let i = 0; i < TIMER_KINDS.length; i++) {
      const kind = TIMER_KINDS[i]!;
      if (!t.isExpired(kind, now)) continue;
      t.stop(kind);
      this.onTimer(kind, now);
    }
  }

  /** Processes one datagram from the peer. Never throws on its content. */
  handleDatagram(now: number, bytes: Uint8Array): void {
    const c = this.counters;
    const len = bytes.length;
    c.packetsReceived++;
    c.bytesReceived += len;
    // The checksum is always computed, so every corrupted datagram is counted: dropped when
    // verification is on, accepted (and marked) when it is off.
    let corrupt = false;
    if (!verifyChecksum(bytes, len)) {
      if (this.cfg.verifyChecksum || len < HEADER_BYTES) {
        if (len < HEADER_BYTES) c.malformed++;
        else c.checksumFailures++;
        return;
      }
      c.corruptAccepted++;
      corrupt = true;
    }
    if (this.state === 'closed' || this.state === 'failed' || this.state === 'idle') return;
    const h = this.hdr;
    if (parseInto(bytes, len, h) !== null || h.connectionId !== this.connectionId) {
      c.malformed++;
      return;
    }
    if (this.cfg.idleTimeoutMs > 0) this.armIdle(now);
    switch (h.type) {
      case PacketType.RST:
        this.fail({ kind: 'reset-by-peer', reason: textDecoder.decode(bytes.subarray(h.payloadOffset, h.payloadOffset + h.payloadLength)) }, false);
        return;
      case PacketType.SYN:
        // Our SYN-ACK was lost: answer the retransmitted SYN again.
        if (this.role === 'server' && this.state === 'syn-received') this.handshakeDue = true;
        return;
      case PacketType.SYN_ACK:
        this.onSynAck(now, h);
        return;
      case PacketType.DATA:
      case PacketType.FIN:
      case PacketType.ACK:
      case PacketType.PROBE:
        break;
      default:
        c.malformed++;
        return;
    }
    if (this.state === 'syn-sent') return;
    if (this.state === 'syn-received') {
      if ((h.flags & Flag.ACK) === 0 || h.ack !== this.snd.una) return;
      this.onEstablished();
    }
    if (h.flags & Flag.ACK) this.onAck(now, h);
    if ((this.state as ConnectionState) === 'failed') return;
    if (h.type === PacketType.DATA || h.type === PacketType.FIN) this.onData(now, h, bytes, corrupt);
    else if (h.type === PacketType.PROBE) {
      this.rcv.ackPending = true;
      this.rcv.ackTrigger = seqAdd(this.rcv.nxt, -1);
      this.rcv.tsEcho = h.tsVal;
    }
  }

  /**
   * The next datagram to send, or null. The returned view is valid until the next call; the
   * driver must copy it (or send it) before calling again.
   */
  pollTransmit(now: number): Uint8Array | null {
    const st = this.state;
    if (this.rstPending) {
      this.rstPending = false;
      return this.emitRst(now);
    }
    if (st === 'failed' || st === 'idle' || st === 'closed') return null;
    if (this.handshakeDue) {
      this.handshakeDue = false;
      return this.role === 'client' ? this.emitSyn(now) : this.emitSynAck(now);
    }
    if (st === 'syn-sent' || st === 'syn-received') return null;
    // Retransmissions first: they are already inside the window.
    const loss = this.loss;
    if (loss.goBack !== 'idle') {
      if (seqLt(loss.goBackNext, this.snd.una)) loss.goBackNext = this.snd.una;
      if (seqLt(loss.goBackNext, this.snd.nxt)) {
        const s = loss.goBackNext;
        const fast = loss.goBack === 'fast';
        loss.goBackNext = seqAdd(s, 1);
        if (!seqLt(loss.goBackNext, this.snd.nxt)) loss.goBack = 'idle';
        const dg = this.retransmit(now, s, fast);
        if (dg !== null || this.state === 'failed') return dg ?? this.pollTransmit(now);
      } else {
        loss.goBack = 'idle';
      }
    }
    while (this.snd.rtxCount > 0) {
      const s = this.snd.rtxQueue[this.snd.rtxHead]!;
      this.snd.rtxHead = (this.snd.rtxHead + 1) & this.snd.mask;
      this.snd.rtxCount--;
      const idx = s & this.snd.mask;
      const state = this.snd.state[idx]!;
      this.snd.state[idx] = state & ~(S_RTX_QUEUED | S_RTX_FAST);
      if (seqLt(s, this.snd.una) || !seqLt(s, this.snd.nxt) || (state & S_ACKED) !== 0) continue;
      const dg = this.retransmit(now, s, (state & S_RTX_FAST) !== 0);
      if (this.state === 'failed') return this.pollTransmit(now);
      if (dg !== null) return dg;
    }
    // New data, as the windows allow.
    this.fillSendBuffer();
    if (this.snd.nxt === this.snd.end && this.snd.openLen > 0 && this.canSendNew()) this.snd.sealOpenSlot();
    if (this.snd.nxt !== this.snd.end && this.canSendNew()) {
      const s = this.snd.nxt;
      this.snd.nxt = seqAdd(s, 1);
      return this.transmitSlot(now, s, false);
    }
    this.maybeArmPersist(now);
    if (this.rcv.ackQueueCount > 0) {
      const i = this.rcv.ackQueueHead;
      this.rcv.ackQueueHead = (i + 1) & (ACK_QUEUE_SLOTS - 1);
      this.rcv.ackQueueCount--;
      return this.emitAck(now, this.rcv.ackQueueSeq[i]!, this.rcv.ackQueueTs[i]!);
    }
    if (this.rcv.ackPending) return this.emitAck(now, this.rcv.ackTrigger, this.rcv.tsEcho);
    if (this.probePending) {
      this.probePending = false;
      return this.emitProbe(now);
    }
    return null;
  }

  private onTimer(kind: TimerKind, now: number): void {
    switch (kind) {
      case Timer.idle:
        this.fail({ kind: 'idle-timeout', idleTimeoutMs: this.cfg.idleTimeoutMs }, true);
        return;
      case Timer.handshake:
        this.onHandshakeTimeout(now);
        return;
      case Timer.retransmit:
        this.onRetransmitTimeout(now);
        return;
      case Timer.probe:
        this.onProbeTimeout();
        return;
      case Timer.rack:
        if (this.state === 'established' && this.outstanding > 0) this.rackDetect(now);
        return;
      case Timer.delayedAck:
        if (this.rcv.unacked > 0) this.rcv.ackPending = true;
        return;
      case Timer.persist:
        this.probePending = true;
        this.persistBackoff = Math.min(this.persistBackoff + 1, PERSIST_BACKOFF_MAX);
        return;
      case Timer.linger:
        this.state = 'closed';
        this.timers.stopAll();
        this.events.push({ type: 'closed' });
        return;
    }
  }

  // ---------------------------------------------------------------- handshake

  private onHandshakeTimeout(now: number): void {
    if (this.state !== 'syn-sent' && this.state !== 'syn-received') return;
    if (this.handshakeAttempts > this.cfg.maxRetransmissions) {
      const packet = this.state === 'syn-sent' ? 'SYN' : 'SYN-ACK';
      this.fail({ kind: 'handshake-timeout', packet, attempts: this.handshakeAttempts }, this.state === 'syn-received');
      return;
    }
    this.rto.backoff();
    this.handshakeDue = true;
    this.timers.set(Timer.handshake, now + this.rto.rtoMs);
  }

  private onSynAck(now: number, h: Header): void {
    if (this.role !== 'client') return;
    if ((h.flags & Flag.ACK) === 0 || h.ack !== this.snd.una) return;
    if (this.state === 'syn-sent') {
      // Karn's rule: only a SYN sent once gives an RTT sample.
      if (this.handshakeAttempts === 1) this.takeRttSample(now - this.handshakeSentAt);
      this.rcv.nxt = seqAdd(h.seq, 1);
      this.rcv.read = this.rcv.nxt;
      this.rcv.highest = this.rcv.nxt;
      this.sndWndBytes = h.windowBytes;
      this.onEstablished();
    }
    // Acknowledge the SYN-ACK (again, if our first ACK was lost).
    this.rcv.ackPending = true;
    this.rcv.ackTrigger = h.seq;
    this.rcv.tsEcho = h.tsVal;
  }

  private onEstablished(): void {
    this.state = 'established';
    this.timers.stop(Timer.handshake);
    this.rto.clearBackoff();
    this.events.push({ type: 'connected' });
  }

  // ---------------------------------------------------------------- sending

  private get outstanding(): number {
    return seqDiff(this.snd.nxt, this.snd.una);
  }

  private sendRingSlotsFor(windowPackets: number): number {
    return nextPow2(Math.max(windowPackets, 2));
  }

  private canSendNew(): boolean {
    if (!this.cc.canSend()) return false;
    // The flow window (the send ring, the receiver's buffer) counts every packet from una up;
    // the congestion window counts what is in the network: RFC 6675's pipe leaves out the
    // packets selective repeat knows arrived, so new data keeps flowing while a hole is repaired
    // instead of waiting for the cumulative ACK to move (RFC 6582 (3.2 step 4) allows it too).
    const w = this.cfg.protocol === 'saw' ? 1 : this.cfg.windowPackets;
    const outstanding = this.outstanding;
    if (outstanding >= Math.min(w, Math.floor(this.sndWndBytes / this.cfg.mssBytes))) return false;
    const pipe = this.cfg.protocol === 'sr' ? outstanding - this.snd.receivedCount : outstanding;
    return pipe < Math.floor(this.cc.cwnd);
  }

  private drainMessageQueue(): void {
    const q = this.msgQueue;
    while (q.length > 0) {
      const m = q[0]!;
      const took = this.snd.copyIn(m, this.msgQueueOffset, m.length, true);
      this.msgQueueOffset += took;
      this.msgQueueBytes -= took;
      // A message is done once every byte is in and its last slot was sealed with S_MSG_END.
      if (this.msgQueueOffset === m.length && this.snd.openLen === 0) {
        q.shift();
        this.msgQueueOffset = 0;
      } else {
        break;
      }
    }
  }

  private fillSendBuffer(): void {
    if (this.msgQueue.length > 0) this.drainMessageQueue();
    if (this.sendClose === 'close-requested' && this.msgQueue.length === 0) {
      if (this.snd.openLen > 0) {
        if (seqDiff(this.snd.end, this.snd.una) >= this.snd.cap) return;
        this.snd.sealOpenSlot();
      }
      if (seqDiff(this.snd.end, this.snd.una) >= this.snd.cap) return;
      const idx = this.snd.end & this.snd.mask;
      this.snd.state[idx] = S_FIN;
      this.sendClose = 'fin-queued';
      this.snd.sealOpenSlot();
    }
  }

  private retransmit(now: number, s: number, fast: boolean): Uint8Array | null {
    const idx = s & this.snd.mask;
    // Selective repeat resends single packets: count each packet's retransmissions. Go-back-N
    // resends the whole window each round, so count only retransmissions of the oldest packet
    // (the hole) since it became the oldest, as TCP counts those of its oldest segment.
    let count: number;
    if (this.cfg.protocol === 'sr') {
      count = this.snd.tx[idx]!;
    } else if (s === this.snd.una) {
      count = ++this.headRetransmits;
    } else {
      count = 0;
    }
    if (count > this.cfg.maxRetransmissions) {
      this.fail({ kind: 'retransmit-limit', seq: s, retransmissions: count - 1, maxRetransmissions: this.cfg.maxRetransmissions }, true);
      return null;
    }
    if (fast) this.counters.retransmitsFast++;
    else this.counters.retransmitsTimeout++;
    if (this.cc.phase === 'recovery') {
      this.snd.state[idx] = this.snd.state[idx]! | S_RTX_IN_RECOVERY;
      if (s === this.snd.una && this.cfg.protocol === 'sr') this.armProbe(now);
    }
    const view = this.transmitSlot(now, s, true);
    if (this.cfg.protocol === 'sr') this.loss.rackPush(s, now);
    return view;
  }

  /**
   * RACK (LossRecovery.rackDetect): queues lost retransmissions and arms the rack timer. With fast
   * retransmit off (dupAckThreshold 0) only the retransmission timer resends: RACK is a fast
   * retransmit of a lost retransmission, and would send one before any timer fired.
   */
  private rackDetect(now: number): void {
    this.timers.set(Timer.rack, this.cfg.dupAckThreshold === 0 ? null : this.loss.rackDetect(now, this.rto.srttMs));
  }

  private transmitSlot(now: number, s: number, isRetransmission: boolean): Uint8Array {
    const idx = s & this.snd.mask;
    const len = this.snd.len[idx]!;
    const state = this.snd.state[idx]!;
    const tsVal = tsFromNow(now);
    const o = this.out;
    o.type = state & S_FIN ? PacketType.FIN : PacketType.DATA;
    o.flags = Flag.ACK | Flag.ECHO | (state & S_MSG_END ? Flag.MSG_END : 0);
    o.seq = s;
    o.ack = this.rcv.nxt;
    o.windowBytes = this.rcv.advertiseWindowBytes();
    o.tsVal = tsVal;
    o.tsEcr = this.rcv.tsEcho;
    o.sackCount = 0;
    const buf = this.txBuf;
    const off = writeHeader(buf, o, len);
    const mss = this.cfg.mssBytes;
    if (len > 0) buf.set(this.snd.data.subarray(idx * mss, idx * mss + len), off);
    const total = off + len;
    const view = this.txView(total);
    sealChecksum(view, total);
    // The ACK rides along unless SACK blocks still need to be reported.
    if (this.rcv.ackPending && this.rcv.highest === this.rcv.nxt) this.clearAckPending();
    const tx = this.snd.tx[idx]! + 1;
    this.snd.tx[idx] = tx;
    this.snd.sentAt[idx] = now;
    this.snd.tsLast[idx] = tsVal;
    const c = this.counters;
    if (!isRetransmission) {
      this.snd.tsFirst[idx] = tsVal;
      this.snd.spuriousCounted[idx] = 0;
      c.dataPacketsSent++;
      c.dataBytesSent += len;
    }
    this.armRetransmitFor(now, idx);
    return this.account(view);
  }

  private armRetransmitFor(now: number, idx: number): void {
    const deadline = now + this.rto.rtoMs;
    if (this.cfg.protocol === 'sr') {
      this.snd.deadline[idx] = deadline;
      const armed = this.timers.get(Timer.retransmit);
      if (armed === null || deadline < armed) this.timers.set(Timer.retransmit, deadline);
    } else if (this.timers.isStopped(Timer.retransmit)) {
      // Go-back-N and stop-and-wait: one timer, for the oldest packet in flight.
      this.timers.set(Timer.retransmit, deadline);
    }
  }

  private onRetransmitTimeout(now: number): void {
    if (this.state !== 'established' && this.state !== 'lingering') return;
    if (this.outstanding === 0) return;
    if (this.cfg.protocol !== 'sr') {
      this.counters.timeouts++;
      this.rto.backoff();
      this.cc.onTimeout(this.snd.una, this.snd.nxt, this.outstanding);
      this.loss.goBackFromUna('timeout');
      this.timers.set(Timer.retransmit, now + this.rto.rtoMs);
      return;
    }
    // Selective repeat: every packet has its own deadline; resend those that passed. A packet sent
    // once is not taken for lost while ACKs of new data keep coming: RFC 6298 (5.3) restarts the
    // timer with each, so a queue that makes the round trip grow is not a loss. (A retransmission
    // keeps its own deadline, so a lost one is resent in time.)
    const restarted = this.lastNewAckAt + this.rto.rtoMs;
    let expired = 0;
    let next = Number.POSITIVE_INFINITY;
    for (let s = this.snd.una; s !== this.snd.nxt; s = seqAdd(s, 1)) {
      const idx = s & this.snd.mask;
      const st = this.snd.state[idx]!;
      if (st & S_ACKED) continue;
      let d = this.snd.deadline[idx]!;
      if (d <= now && this.snd.tx[idx] === 1 && restarted > now) d = restarted;
      if (d <= now) {
        if ((st & S_RTX_QUEUED) === 0) {
          this.snd.queueRetransmit(s, false);
          expired++;
        }
        this.snd.deadline[idx] = Number.POSITIVE_INFINITY;
      } else if (d < next) {
        next = d;
      }
    }
    if (expired > 0) {
      this.counters.timeouts++;
      // Per-packet deadlines expire one after another; back off once per timeout, not once per
      // packet (RFC 6298 (5.5) doubles the one timer of a connection).
      if (now - this.lastBackoffAt >= this.rto.rtoMs) {
        this.rto.backoff();
        this.lastBackoffAt = now;
      }
      this.cc.onTimeout(this.snd.una, this.snd.nxt, this.outstanding);
    }
    this.timers.set(Timer.retransmit, next === Number.POSITIVE_INFINITY ? null : next);
  }

  private maybeArmPersist(now: number): void {
    const hasData = this.snd.nxt !== this.snd.end || this.snd.openLen > 0 || this.msgQueue.length > 0;
    if (hasData && this.outstanding === 0 && Math.floor(this.sndWndBytes / this.cfg.mssBytes) === 0) {
      if (this.timers.isStopped(Timer.persist) && !this.probePending) {
        const backoff = 2 ** this.persistBackoff;
        this.timers.set(Timer.persist, now + Math.min(this.rto.rtoMs * backoff, this.cfg.rtoMsMax));
      }
    } else {
      this.timers.stop(Timer.persist);
      this.persistBackoff = 0;
    }
  }

  // ---------------------------------------------------------------- acknowledgments

  private onAck(now: number, h: Header): void {
    const ack = h.ack;
    // An ACK for data never sent is not from our peer's view of this connection: ignore it.
    if (seqGt(ack, this.snd.nxt)) {
      this.counters.malformed++;
      return;
    }
    const isPureAck = h.type === PacketType.ACK;
    const trigger = h.seq;
    // RFC 3522 (Eifel), for every ACK that names a retransmitted packet, including one the window
    // has passed or a SACK block reported: its echo names the earliest copy that arrived.
    if (isPureAck && (h.flags & Flag.ECHO) !== 0) this.counters.retransmitsSpurious += this.loss.judge(trigger, h.tsEcr);
    if (isPureAck && seqGeq(trigger, this.snd.una) && seqLt(trigger, this.snd.nxt)) {
      const idx = trigger & this.snd.mask;
      // Only the first ACK of a packet may give a sample, and never one of a retransmitted packet.
      if ((this.snd.state[idx]! & S_ACKED) === 0 && (seqLt(trigger, ack) || this.cfg.protocol === 'sr')) {
        if (this.snd.tx[idx] === 1) this.takeRttSample(now - this.snd.sentAt[idx]!);
        else this.detectSpurious(now, idx, h);
      }
    }
    if (seqGt(ack, this.snd.una)) {
      this.onNewAck(now, ack);
      this.sndWndBytes = h.windowBytes;
      if (h.windowBytes >= this.cfg.mssBytes) this.timers.stop(Timer.persist);
    } else if (ack === this.snd.una) {
      const windowChanged = h.windowBytes !== this.sndWndBytes;
      this.sndWndBytes = h.windowBytes;
      if (h.windowBytes >= this.cfg.mssBytes) this.timers.stop(Timer.persist);
      // RFC 5681 (2): a duplicate ACK carries no data, does not move the window, and arrives
      // while data is outstanding.
      if (isPureAck && !windowChanged && this.outstanding > 0) this.onDupAck();
    }
    if (this.cfg.protocol === 'sr' && this.outstanding > 0) {
      // Every ACK names the packet whose arrival sent it, even one a SACK block reported already:
      // it is that packet's individual acknowledgment (LossRecovery.markReceived).
      if (isPureAck && seqGeq(trigger, this.snd.una) && seqLt(trigger, this.snd.nxt)) this.loss.markReceived(trigger, true);
      if (this.cfg.sack && h.sackCount > 0) this.loss.onSackBlocks(h.sack, h.sackCount);
      // RFC 6675 (5 step 4): enter recovery as soon as the oldest packet is known lost (enough
      // packets above it arrived), without waiting for the duplicate ACKs to add up.
      const threshold = this.cfg.dupAckThreshold;
      if (this.cc.phase !== 'recovery' && this.loss.isHeadLost(threshold)) this.enterRecovery();
      // A recovery started before fast retransmit was turned off (a live change) resends no more.
      if (this.cc.phase === 'recovery' && threshold > 0) this.loss.recoverHoles(threshold);
      this.rackDetect(now);
    }
  }

  /** Probe timeout: twice the smoothed RTT, as RFC 8985 (7.2) sets it. */
  private armProbe(now: number): void {
    const srtt = this.rto.srttMs;
    this.timers.set(Timer.probe, Number.isNaN(srtt) ? null : now + Math.max(2 * srtt, 0.05));
  }

  /**
   * The oldest packet was resent in recovery and nothing moved for two RTTs. With a full window,
   * nothing sent after it can show that this copy was lost too (rackDetect needs that), so
   * only the retransmission timer would notice. Send it once more now, in the spirit of RACK-TLP's
   * probe (RFC 8985 (7)); its ACK either moves the window or tells us what is still missing.
   */
  private onProbeTimeout(): void {
    if (this.state !== 'established' || this.cc.phase !== 'recovery' || this.cfg.protocol !== 'sr' || this.outstanding === 0 || this.cfg.dupAckThreshold === 0) return;
    this.loss.probeHead();
  }

  private detectSpurious(now: number, idx: number, h: Header): void {
    if ((h.flags & Flag.ECHO) === 0) return;
    // RFC 3522 (Eifel): the ACK echoes the timestamp of the copy that arrived. If that is not the
    // latest retransmission, the retransmissions after the echoed copy were not needed, and the
    // timeout that caused them was spurious: undo its backoff (RFC 4015 (2)).
    // (onAck counted the spurious retransmissions already.)
    const verdict = this.loss.eifel(idx, h.tsEcr);
    if (verdict === 'unknown') return;
    // RFC 4015: the ACK of the oldest packet a timeout resent judges that timeout.
    if (this.cc.undoPending && h.seq === this.cc.undoSeq) this.cc.judgeTimeout(verdict === 'first-copy');
    // Otherwise the latest retransmission made the round trip: the path works again, so the
    // backoff ends too.
    this.rto.clearBackoff();
    // The echo names the transmission that arrived, so its round trip is known even though the
    // packet was sent more than once: Karn's rule is for senders without timestamps (RFC 6298 (3),
    // RFC 7323 (4.1)). Without this sample, an RTO that a growing queue has overtaken would fire
    // spuriously for every packet, Eifel would undo every backoff, and no sample would ever
    // correct it.
    if (verdict !== 'earlier-copy') this.takeRttSample(((tsFromNow(now) - h.tsEcr) >>> 0) / 1000);
  }

  private onNewAck(now: number, ack: number): void {
    const acked = seqDiff(ack, this.snd.una);
    for (let s = this.snd.una; s !== ack; s = seqAdd(s, 1)) {
      const idx = s & this.snd.mask;
      const st = this.snd.state[idx]!;
      if (st & S_ACKED) this.snd.receivedCount--;
      else this.loss.noteDelivered(s, idx);
      this.loss.onAcknowledged(s, idx);
      if (st & S_FIN) this.onFinAcked(now);
      this.snd.state[idx] = 0;
      this.snd.deadline[idx] = Number.POSITIVE_INFINITY;
    }
    this.snd.una = ack;
    this.lastNewAckAt = now;
    this.headRetransmits = 0;
    this.timers.stop(Timer.probe);
    this.loss.onCumulativeAck(ack);
    if (this.cfg.rtoMode === 'fixed') this.rto.clearBackoff();
    this.persistBackoff = 0;
    // Go-back-N resent everything after the hole already, so any new ACK ends its recovery and the
    // next burst of duplicate ACKs may go back again. Selective repeat's partial ACKs (RFC 6582
    // (3.2 step 5)) keep it, and recoverHoles() resends the next hole.
    this.cc.onNewAck(ack, acked, this.cfg.protocol !== 'sr');
    // Restart the go-back-N timer for the new oldest packet (RFC 6298 (5.3)).
    if (this.cfg.protocol !== 'sr') this.timers.set(Timer.retransmit, this.outstanding > 0 ? now + this.rto.rtoMs : null);
    else if (this.outstanding === 0) this.timers.stop(Timer.retransmit);
  }

  private onDupAck(): void {
    this.counters.dupAcksReceived++;
    // RFC 6582 (3.2 step 2) guards go-back-N and stop-and-wait after a timeout: the duplicate ACKs
    // of data resent by the timeout must not start a recovery. Selective repeat needs no guard:
    // its timeouts resend only expired packets, and recoverHoles() resends a hole only once enough
    // packets above it were acknowledged one by one.
    if (this.cc.onDupAck(this.cfg.dupAckThreshold, this.snd.una, this.cfg.protocol !== 'sr')) this.enterRecovery();
  }

  /** Fast recovery: halve cwnd (AIMD), resend the oldest packet (SR) or the whole window (GBN). */
  private enterRecovery(): void {
    this.counters.fastRecoveries++;
    // Packets resent in an earlier recovery keep their mark: their copies may still be in flight.
    // One lost again is found by rackDetect, the probe or the RTO.
    this.cc.onEnterRecovery(this.snd.nxt, this.outstanding);
    if (this.cfg.protocol === 'sr') this.loss.enterRecovery(this.cfg.dupAckThreshold);
    // Go-back-N: resend everything outstanding, starting at the oldest.
    else this.loss.goBackFromUna('fast');
  }

  private onFinAcked(now: number): void {
    this.sendClose = 'fin-acked';
    this.maybeFinish(now);
  }

  private maybeFinish(now: number): void {
    if (this.sendClose !== 'fin-acked' || this.rcv.peerFin === 'none' || this.state !== 'established') return;
    // Both FINs are through. Linger to re-acknowledge a retransmitted FIN whose ACK was lost.
    this.state = 'lingering';
    this.timers.stop(Timer.retransmit);
    this.timers.stop(Timer.persist);
    this.timers.stop(Timer.idle);
    this.timers.set(Timer.linger, now + Math.min(2 * this.rto.rtoMs, LINGER_MS_MAX));
  }

  private takeRttSample(rttMs: number): void {
    this.rto.sample(rttMs);
    const c = this.counters;
    c.rttSamples++;
    c.rttSumMs += rttMs;
    if (rttMs < c.rttMinMs) c.rttMinMs = rttMs;
    if (rttMs > c.rttMaxMs) c.rttMaxMs = rttMs;
  }

  // ---------------------------------------------------------------- receiving

  private onData(now: number, h: Header, bytes: Uint8Array, corrupt: boolean): void {
    const c = this.counters;
    const s = h.seq;
    const isFin = h.type === PacketType.FIN;
    const len = h.payloadLength;
    if (len > this.cfg.mssBytes || (isFin && len !== 0)) {
      c.malformed++;
      return;
    }
    const d = seqDiff(s, this.rcv.nxt);
    if (d < 0) {
      // Already received: suppress it by its sequence number and repeat the ACK. A duplicate does
      // not update TS.Recent (RFC 7323 (4.3)); the ACK names it and echoes the earliest copy of
      // it that arrived, which tells the sender which of its retransmissions were spurious
      // (RFC 3522), whichever copy got through first.
      c.duplicatesSuppressed++;
      this.rcv.ackNow(s, this.rcv.echoFor(s, h.tsVal));
      return;
    }
    // A packet that is dropped must not be named as the ACK's trigger: the sender would take it
    // as received. Name the last in-order packet instead.
    if (d > 0 && this.cfg.protocol !== 'sr') {
      c.outOfOrderDiscarded++;
      this.rcv.ackNow(seqAdd(this.rcv.nxt, -1), this.rcv.arrivedTs(seqAdd(this.rcv.nxt, -1), h.tsVal));
      return;
    }
    if (seqDiff(s, this.rcv.read) >= this.rcv.slots || (this.rcv.peerFin !== 'none' && seqGeq(s, this.rcv.peerFinSeq))) {
      c.windowDrops++;
      this.rcv.ackNow(seqAdd(this.rcv.nxt, -1), this.rcv.arrivedTs(seqAdd(this.rcv.nxt, -1), h.tsVal));
      return;
    }
    const idx = s & this.rcv.mask;
    if (this.rcv.state[idx]! & R_PRESENT) {
      c.duplicatesSuppressed++;
      this.rcv.ackNow(s, this.rcv.echoFor(s, h.tsVal));
      return;
    }
    if (len > 0) this.rcv.data.set(bytes.subarray(h.payloadOffset, h.payloadOffset + len), idx * this.cfg.mssBytes);
    this.rcv.len[idx] = len;
    this.rcv.tsArrived[idx] = h.tsVal;
    this.rcv.state[idx] = R_PRESENT | (h.flags & Flag.MSG_END ? R_MSG_END : 0) | (isFin ? R_FIN : 0) | (corrupt ? R_CORRUPT : 0);
    this.rcv.bytesStored += len;
    const after = seqAdd(s, 1);
    const extendsTopBlock = d > 0 && s === this.rcv.highest;
    if (seqGt(after, this.rcv.highest)) this.rcv.highest = after;
    if (d > 0) {
      c.outOfOrderBuffered++;
      this.rcv.lastOutOfOrderSeq = s;
      if (extendsTopBlock && this.cfg.ackEveryPackets > 1) {
        // Behind a hole, an arrival that only extends the newest block changes nothing but that
        // block's edge: pace its ACK like in-order data (every N packets or after the delay). New
        // holes and filled holes are still acknowledged at once (RFC 5681 (4.2)).
        this.rcv.ackTrigger = s;
        this.rcv.tsEcho = h.tsVal;
        if (++this.rcv.unacked >= this.cfg.ackEveryPackets) this.rcv.ackPending = true;
        else if (this.timers.isStopped(Timer.delayedAck)) this.timers.set(Timer.delayedAck, now + this.cfg.ackDelayMs);
        return;
      }
      // A new hole: first report the arrivals still waiting for a paced ACK (their block is about
      // to leave the four SACK blocks an ACK carries), then this one.
      if (this.rcv.unacked > 0) {
        this.rcv.ackNow(this.rcv.ackTrigger, this.rcv.tsEcho);
        this.rcv.unacked = 0;
        this.timers.stop(Timer.delayedAck);
      }
      this.rcv.ackNow(s, h.tsVal);
      return;
    }
    // In order: move rcvNxt over everything now contiguous.
    const hadGap = this.rcv.highest !== after;
    let advanced = 0;
    let n = this.rcv.nxt;
    while (this.rcv.state[n & this.rcv.mask]! & R_PRESENT && seqDiff(n, this.rcv.read) < this.rcv.cap) {
      const st = this.rcv.state[n & this.rcv.mask]!;
      n = seqAdd(n, 1);
      advanced++;
      if (st & R_FIN) {
        this.rcv.peerFin = 'received';
        this.rcv.peerFinSeq = seqAdd(n, -1);
        break;
      }
      if (n === this.rcv.highest) break;
    }
    this.rcv.nxt = n;
    if (seqLt(this.rcv.highest, n)) this.rcv.highest = n;
    this.rcv.ackTrigger = s;
    this.rcv.tsEcho = h.tsVal;
    this.rcv.tsRecent = h.tsVal;
    this.rcv.unacked += advanced;
    // RFC 5681 (4.2): ACK at once when a gap is filled or a FIN arrives; otherwise every N packets
    // or after the delayed-ACK time.
    if (hadGap || isFin || this.rcv.peerFin !== 'none' || this.rcv.unacked >= this.cfg.ackEveryPackets) {
      this.rcv.ackPending = true;
    } else if (this.timers.isStopped(Timer.delayedAck)) {
      this.timers.set(Timer.delayedAck, now + this.cfg.ackDelayMs);
    }
    if (this.rcv.peerFin !== 'none') this.maybeFinish(now);
  }

  private clearAckPending(): void {
    this.rcv.ackPending = false;
    this.rcv.unacked = 0;
    this.timers.stop(Timer.delayedAck);
  }

  private maybeWindowUpdate(): void {
    if (this.state !== 'established' && this.state !== 'lingering') return;
    const slots = this.rcv.advertisedSlots();
    const last = this.rcv.lastAdvertisedSlots;
    // Tell the sender the window opened: at once after a zero window, otherwise once it grew by
    // half the buffer (receiver-side silly window syndrome avoidance, RFC 1122 4.2.3.3).
    if ((last === 0 && slots > 0) || slots - last >= Math.max(1, this.rcv.slots >> 1)) {
      this.rcv.ackPending = true;
      this.rcv.ackTrigger = seqAdd(this.rcv.nxt, -1);
      this.rcv.tsEcho = this.rcv.arrivedTs(this.rcv.ackTrigger, this.rcv.tsEcho);
    }
  }

  // ---------------------------------------------------------------- emitting control packets

  /** A view of the first `length` bytes of the transmit buffer (cached per length: no allocation). */
  private txView(length: number): Uint8Array {
    let view = this.txViews.get(length);
    if (view === undefined) {
      view = this.txBuf.subarray(0, length);
      this.txViews.set(length, view);
    }
    return view;
  }

  private account(view: Uint8Array): Uint8Array {
    this.counters.packetsSent++;
    this.counters.bytesSent += view.length;
    return view;
  }

  private emitControl(now: number, type: PacketType, seq: number, flags: number, payload: Uint8Array | null, sackCount: number): Uint8Array {
    const o = this.out;
    o.type = type;
    o.flags = flags;
    o.seq = seq;
    o.ack = this.rcv.nxt;
    o.windowBytes = this.rcv.advertiseWindowBytes();
    o.tsVal = tsFromNow(now);
    o.tsEcr = this.rcv.tsEcho;
    o.sackCount = sackCount;
    const plen = payload === null ? 0 : payload.length;
    const off = writeHeader(this.txBuf, o, plen);
    if (payload !== null) this.txBuf.set(payload, off);
    const view = this.txView(off + plen);
    sealChecksum(view, off + plen);
    return this.account(view);
  }

  private emitSyn(now: number): Uint8Array {
    this.handshakeAttempts++;
    this.handshakeSentAt = now;
    return this.emitControl(now, PacketType.SYN, this.iss, 0, this.synPayload, 0);
  }

  private emitSynAck(now: number): Uint8Array {
    this.handshakeAttempts++;
    this.handshakeSentAt = now;
    return this.emitControl(now, PacketType.SYN_ACK, this.iss, Flag.ACK | Flag.ECHO, null, 0);
  }

  private emitAck(now: number, trigger: number, tsEcr: number): Uint8Array {
    const sackCount = this.cfg.sack && this.cfg.protocol === 'sr' ? this.rcv.buildSackBlocks(trigger, this.out.sack) : 0;
    this.rcv.tsEcho = tsEcr;
    const dg = this.emitControl(now, PacketType.ACK, trigger, Flag.ACK | Flag.ECHO, null, sackCount);
    this.clearAckPending();
    this.counters.acksSent++;
    return dg;
  }

  private emitProbe(now: number): Uint8Array {
    this.counters.probesSent++;
    return this.emitControl(now, PacketType.PROBE, this.snd.nxt, Flag.ACK, null, 0);
  }

  private emitRst(now: number): Uint8Array {
    let reason = textEncoder.encode(this.failureReason ?? '');
    if (reason.length > MAX_RST_REASON_BYTES) reason = reason.subarray(0, MAX_RST_REASON_BYTES);
    return this.emitControl(now, PacketType.RST, this.snd.nxt, 0, reason, 0);
  }

  // ---------------------------------------------------------------- timers and failure

  private armIdle(now: number): void {
    this.timers.set(Timer.idle, this.cfg.idleTimeoutMs > 0 && this.state !== 'lingering' ? now + this.cfg.idleTimeoutMs : null);
  }

  private fail(error: ConnectionError, notifyPeer: boolean): void {
    if (this.state === 'failed' || this.state === 'closed') return;
    this.state = 'failed';
    this.failure = error;
    this.timers.stopAll();
    this.events.push({ type: 'failed', error });
    if (notifyPeer) this.rstPending = true;
  }
}
