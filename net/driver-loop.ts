// The loop both socket drivers run on: net/udp/driver.ts (an Endpoint on a node:dgram socket) and
// net/rpc/message-driver.ts (a message endpoint on a datagram or record-marking socket). It reads
// the clock, polls the endpoint, sends through the egress Link and HeldSends, takes received
// datagrams in through the ingress Link, serves deadlines and keeps the counters. What differs
// between the drivers stays with them: how a datagram's source becomes a peer id, and whether the
// loop works on each datagram at once or once after a burst of them.
//
// One timer serves the earliest deadline of the endpoint and both links; it is re-armed only when
// a deadline comes earlier than the one it is set for. Deadlines closer than a millisecond are
// served with setImmediate, so pacing and short delays work below timer resolution without
// blocking the event loop.
//
// A link may be skipped while it is transparent (the RPC driver's RpcLink): a datagram that skips
// it is counted on it as offered and delivered all the same.

import type { RemoteInfo } from 'node:dgram';
// The module's object, not the global: globalThis.performance is a getter, run on every read.
import { performance } from 'node:perf_hooks';
import type { Endpoint } from '../core/endpoint.js';
import type { Link } from '../core/impair/link.js';
import { HeldSends, type PeerAddresses, type SendCounters, type SendingSocket } from './udp/held-sends.js';

/** The address id a driver gives its own socket (the `to` of incoming datagrams on the ingress link). */
export const SELF = 0x7fffffff;

/** Datagrams taken from the endpoint, and from the egress link, per turn of the event loop at most. */
const BATCH = 256;

/** Counters of the driver itself. */
export class DriverCounters implements SendCounters {
  /** Datagrams handed to the socket for sending. */
  sent = 0;
  /** Sends that failed (ENOBUFS, EHOSTUNREACH, ...), as far as completion callbacks tell: a send made without one (HeldSends' while nothing is queued) fails unseen. */
  sendErrors = 0;
  /** Last send error message. */
  lastSendError = '';
  /** Datagrams received from the socket. */
  received = 0;
  /** Datagrams from addresses beyond the peer table. */
  unknownPeers = 0;
  /** Datagrams dropped because the socket's send queue was full (it drains at the receiver's pace on loopback). */
  sendQueueDrops = 0;
  /** Errors the socket reported. */
  socketErrors = 0;
  /** Last socket error message. */
  lastSocketError = '';
}

/** The part of a socket a driver uses: a node:dgram socket, or a RecordStreamSocket. */
export interface MessageSocket extends SendingSocket {
  on(event: 'message', listener: (msg: Uint8Array, rinfo: RemoteInfo) => void): unknown;
  on(event: 'error', listener: (err: NodeJS.ErrnoException) => void): unknown;
  off(event: 'message', listener: (msg: Uint8Array, rinfo: RemoteInfo) => void): unknown;
  off(event: 'error', listener: (err: NodeJS.ErrnoException) => void): unknown;
}

/** How a driver loop is set up. */
export interface DriverLoopOptions extends DriverHooks {
  socket: MessageSocket;
  endpoint: Endpoint;
  /** The addresses of the peer ids the endpoint sends to. */
  peers: PeerAddresses;
  /** The driver's listener for the socket's datagrams: it finds the peer id and calls receive(). */
  onMessage: (msg: Uint8Array, rinfo: RemoteInfo) => void;
  /** Impairment on the way out. */
  egress: Link;
  /** Impairment on the way in; none when null (datagrams go straight to the endpoint, uncounted). */
  ingress: Link | null;
  /** True while the next outgoing datagram may skip the egress link; absent: never. */
  egressBypass?: () => boolean;
  /** True while the next incoming datagram may skip the ingress link; absent: never. */
  ingressBypass?: () => boolean;
  /** The endpoint's datagrams stay valid after pollTransmit (a datagram that skips the link is sent without a copy). */
  stableOutput?: boolean;
}

/** What every driver takes beside its socket, endpoint and links: its clock and its callbacks. */
export interface DriverHooks {
  /** Clock in ms (default performance.now). */
  clock?: () => number;
  /** Called after every batch of work (to read events off the endpoint). */
  onProgress?: (now: number) => void;
  /** The peer id the socket is connect()ed to: datagrams to it are sent without an address. */
  connectedPeer?: number;
  /** Socket errors (ECONNREFUSED after an ICMP port unreachable on a connected socket, ...). */
  onSocketError?: (err: NodeJS.ErrnoException) => void;
}

/** Runs one endpoint on one socket: the clock, the deadlines, the links, the sends and the counters. */
export class DriverLoop {
  /** Counters of the driver itself. */
  readonly counters = new DriverCounters();
  readonly egress: Link;
  readonly ingress: Link | null;
  /** The clock the loop reads, in ms. */
  readonly clock: () => number;
  private readonly socket: MessageSocket;
  private readonly endpoint: Endpoint;
  private readonly peers: PeerAddresses;
  private readonly onMessage: (msg: Uint8Array, rinfo: RemoteInfo) => void;
  private readonly egressBypass: (() => boolean) | null;
  private readonly ingressBypass: (() => boolean) | null;
  private readonly stable: boolean;
  private readonly onProgress: ((now: number) => void) | undefined;
  private readonly connectedPeer: number;
  private readonly held: HeldSends;
  private readonly onError: (err: NodeJS.ErrnoException) => void;
  private timer: NodeJS.Timeout | null = null;
  private timerAt = Number.POSITIVE_INFINITY;
  private immediate = false;
  private moreNow = false;
  private halted = false;

  constructor(o: DriverLoopOptions) {
    this.socket = o.socket;
    this.endpoint = o.endpoint;
    this.peers = o.peers;
    this.onMessage = o.onMessage;
    this.egress = o.egress;
    this.ingress = o.ingress;
    this.egressBypass = o.egressBypass ?? null;
    this.ingressBypass = o.ingressBypass ?? null;
    this.stable = o.stableOutput ?? false;
    this.clock = o.clock ?? (() => performance.now());
    this.onProgress = o.onProgress;
    this.connectedPeer = o.connectedPeer ?? -1;
    this.onTimer = this.onTimer.bind(this);
    this.onImmediate = this.onImmediate.bind(this);
    this.held = new HeldSends({ link: o.egress, counters: this.counters, socket: o.socket, peers: o.peers, connectedPeer: o.connectedPeer });
    this.onError = (err: NodeJS.ErrnoException) => {
      this.counters.socketErrors++;
      this.counters.lastSocketError = err.message;
      o.onSocketError?.(err);
    };
  }

  /** True once stop() was called. */
  get stopped(): boolean {
    return this.halted;
  }

  /** Starts listening to the socket and serving deadlines. */
  start(): void {
    this.socket.on('message', this.onMessage);
    this.socket.on('error', this.onError);
    this.kick();
  }

  /** Stops serving; the socket stays open (its owner closes it). */
  stop(): void {
    this.halted = true;
    this.socket.off('message', this.onMessage);
    this.socket.off('error', this.onError);
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
  }

  /** Runs due work now, unless stopped; `now` saves a clock read when the caller has just read it. */
  kick(now?: number): void {
    if (this.halted) return;
    this.work(now ?? this.clock());
  }

  /**
   * Takes in a datagram the socket received at `now` from peer id `from` (negative: an address
   * without one, counted and dropped): through the ingress link, or straight to the endpoint.
   * Returns false when it was dropped. The caller then has the loop work, at once or soon.
   */
  receive(now: number, msg: Uint8Array, from: number): boolean {
    this.counters.received++;
    if (from < 0) {
      this.counters.unknownPeers++;
      return false;
    }
    const ingress = this.ingress;
    if (ingress === null) {
      this.endpoint.handleDatagram(now, msg, from);
    } else if (this.ingressBypass !== null && this.ingressBypass()) {
      countSkipped(ingress, msg.length);
      this.endpoint.handleDatagram(now, msg, from);
    } else {
      ingress.send(now, msg, from, SELF);
    }
    return true;
  }

  /** Has the loop work in the check phase of this turn of the event loop (once, however often asked). */
  workSoon(): void {
    if (!this.immediate) {
      this.immediate = true;
      setImmediate(this.onImmediate);
    }
  }

  /**
   * Runs due work at `now`: delivers what the ingress link holds, serves the endpoint's deadline,
   * sends what the endpoint and the egress link have, and plans the next turn. Callers check
   * `stopped` first (kick() does).
   */
  work(now: number): void {
    const ep = this.endpoint;
    const ingress = this.ingress;
    if (ingress !== null && ingress.inFlightPackets > 0) {
      for (let h = ingress.pollDeliver(now); h >= 0; h = ingress.pollDeliver(now)) {
        ep.handleDatagram(now, ingress.data(h), ingress.from(h));
        ingress.release(h);
      }
    }
    const t = ep.pollTimeout();
    if (t !== null && t <= now) ep.handleTimeout(now);
    // Sends libuv queued without a completion callback are released here at the latest.
    this.held.reap();
    const egress = this.egress;
    const bypass = this.egressBypass;
    // At most BATCH datagrams per turn of the event loop: send completions and incoming datagrams
    // get their turn, and a sender that fell behind its schedule catches up in steps.
    let n = 0;
    for (let dg = ep.pollTransmit(now); dg !== null; dg = ++n < BATCH ? ep.pollTransmit(now) : null) {
      if (bypass !== null && bypass()) this.sendSkipping(dg, ep.transmitTo);
      else egress.send(now, dg, SELF, ep.transmitTo);
    }
    if (n >= BATCH) this.moreNow = true; // the endpoint may have more: come back at once
    if (egress.inFlightPackets > 0) {
      n = 0;
      for (let h = egress.pollDeliver(now); h >= 0; h = ++n < BATCH ? egress.pollDeliver(now) : -1) this.held.transmit(h);
      if (n >= BATCH) this.moreNow = true;
    }
    this.onProgress?.(now);
    if (!this.halted) this.schedule(now);
  }

  /** Sends past a transparent egress link: counted on it, not copied when the endpoint's bytes are stable. */
  private sendSkipping(dg: Uint8Array, toId: number): void {
    countSkipped(this.egress, dg.length);
    const data = this.stable ? dg : Uint8Array.prototype.slice.call(dg);
    this.counters.sent++;
    if (toId === this.connectedPeer) {
      this.socket.send(data);
      return;
    }
    const to = this.peers.address(toId);
    if (to === undefined) return;
    this.socket.send(data, to.port, to.address);
  }

  private onTimer(): void {
    this.timer = null;
    this.timerAt = Number.POSITIVE_INFINITY;
    if (!this.halted) this.work(this.clock());
  }

  private onImmediate(): void {
    this.immediate = false;
    if (!this.halted) this.work(this.clock());
  }

  private schedule(now: number): void {
    let next = this.endpoint.pollTimeout();
    const e = this.egress.pollTimeout();
    if (e !== null && (next === null || e < next)) next = e;
    const i = this.ingress?.pollTimeout() ?? null;
    if (i !== null && (next === null || i < next)) next = i;
    if (this.moreNow) {
      this.moreNow = false;
      next = now;
    }
    if (next === null) return;
    const delay = next - now;
    if (delay < 1) {
      this.workSoon();
      return;
    }
    // An armed timer that fires no later than needed is kept; it re-plans when it fires.
    if (this.timer !== null && this.timerAt <= next) return;
    if (this.timer !== null) clearTimeout(this.timer);
    const ms = Math.floor(delay);
    this.timerAt = now + ms;
    this.timer = setTimeout(this.onTimer, ms);
  }
}

/** Counts a datagram that skipped a transparent link as the link would have: offered and delivered. */
function countSkipped(link: Link, bytes: number): void {
  const c = link.counters;
  c.offeredPackets++;
  c.offeredBytes += bytes;
  c.deliveredPackets++;
  c.deliveredBytes += bytes;
}
