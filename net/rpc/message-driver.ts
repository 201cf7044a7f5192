// The RPC driver: runs a message endpoint (an RPC engine, the lab-transport client, a listener) on
// a datagram socket or a record-marking TCP socket, as the UDP driver does, with one difference
// that matters per call: while an impairment link is transparent (nothing configured, nothing in
// flight, no tracer attached) datagrams skip it. They are still counted as offered and delivered
// on the link, and the moment a knob changes (RpcLink.reconfigure) they go through it again.
// Endpoints whose datagrams stay valid after pollTransmit (the RPC engines: a call's bytes, a
// reply's copy) are sent without a copy and without a completion callback.

import type { RemoteInfo } from 'node:dgram';
// The module's object, not the global: globalThis.performance is a getter, run on every read.
import { performance } from 'node:perf_hooks';
import type { Endpoint } from '../../core/endpoint.js';
import { Link } from '../../core/impair/link.js';
import { NO_IMPAIRMENT, type ImpairmentConfig } from '../../core/impair/config.js';
import { DriverCounters, SELF, type PeerTable } from '../udp/driver.js';
import { HeldSends, type SendingSocket } from '../udp/held-sends.js';

/** A Link that knows when it changes nothing, so the driver can skip it. */
export class RpcLink extends Link {
  private bypassable = true;
  // Once burst loss has been on, the link may still be in its bad state: it is never skipped again.
  private hadBursts = false;

  constructor(config: ImpairmentConfig, seed: number) {
    super(config, seed);
    this.update(config);
  }

  override reconfigure(changes: Partial<ImpairmentConfig>): void {
    super.reconfigure(changes);
    this.update(this.config);
  }

  private update(c: ImpairmentConfig): void {
    if (c.burstEnterProbability > 0) this.hadBursts = true;
    this.bypassable = !this.hadBursts && isTransparent(c);
  }

  /** True when a datagram may skip the link: no impairment, nothing in flight, no tracer. */
  get canBypass(): boolean {
    return this.bypassable && this.tracer === null && this.inFlightPackets === 0;
  }
}

/** True when a config impairs nothing. */
export function isTransparent(c: ImpairmentConfig): boolean {
  const n = NO_IMPAIRMENT;
  return (
    c.lossProbability === 0 &&
    c.burstEnterProbability === 0 &&
    c.burstLossGood === 0 &&
    c.delayMs === 0 &&
    c.jitterMs === 0 &&
    c.reorderProbability === 0 &&
    c.duplicateProbability === 0 &&
    c.corruptProbability === 0 &&
    c.rateBitsPerSecond === 0 &&
    c.mtuBytes === n.mtuBytes
  );
}

/** The part of a dgram socket the driver uses (a RecordStreamSocket has it too). */
export interface MessageSocket extends SendingSocket {
  on(event: 'message', listener: (msg: Uint8Array, rinfo: RemoteInfo) => void): unknown;
  on(event: 'error', listener: (err: NodeJS.ErrnoException) => void): unknown;
  off(event: 'message', listener: (msg: Uint8Array, rinfo: RemoteInfo) => void): unknown;
  off(event: 'error', listener: (err: NodeJS.ErrnoException) => void): unknown;
}

/** How a message driver is set up. */
export interface MessageDriverOptions {
  socket: MessageSocket;
  endpoint: Endpoint;
  peers: PeerTable;
  /** Impairment on the way out and on the way in (transparent links when absent). */
  egress?: Link;
  ingress?: Link;
  /** The endpoint's datagrams stay valid after pollTransmit (sent without a copy). */
  stableOutput?: boolean;
  clock?: () => number;
  /** Called after every batch of work. */
  onProgress?: (now: number) => void;
  /** The peer id the socket is connect()ed to: datagrams to it are sent without an address. */
  connectedPeer?: number;
  /** Socket errors (ECONNREFUSED after an ICMP port unreachable on a connected socket, ...). */
  onSocketError?: (err: NodeJS.ErrnoException) => void;
}

const BATCH = 256;

/** Drives one endpoint on one message socket. */
export class MessageDriver {
  /** Counters of the driver itself. */
  readonly counters = new DriverCounters();
  readonly egress: Link;
  readonly ingress: Link;
  private readonly socket: MessageSocket;
  private readonly endpoint: Endpoint;
  private readonly peers: PeerTable;
  private readonly clock: () => number;
  private readonly onProgress: ((now: number) => void) | undefined;
  private readonly connectedPeer: number;
  private readonly stable: boolean;
  private readonly egressBypass: () => boolean;
  private readonly ingressBypass: () => boolean;
  private timer: NodeJS.Timeout | null = null;
  private timerAt = Number.POSITIVE_INFINITY;
  private immediate = false;
  private moreNow = false;
  private stopped = false;
  private readonly held: HeldSends;
  private readonly onError: (err: NodeJS.ErrnoException) => void;

  constructor(o: MessageDriverOptions) {
    this.socket = o.socket;
    this.endpoint = o.endpoint;
    this.peers = o.peers;
    this.egress = o.egress ?? new RpcLink(NO_IMPAIRMENT, 1);
    this.ingress = o.ingress ?? new RpcLink(NO_IMPAIRMENT, 2);
    // Plain Links (not RpcLink) are never skipped: their configuration may change unseen.
    const e = this.egress;
    const i = this.ingress;
    this.egressBypass = e instanceof RpcLink ? () => e.canBypass : () => false;
    this.ingressBypass = i instanceof RpcLink ? () => i.canBypass : () => false;
    this.clock = o.clock ?? (() => performance.now());
    this.onProgress = o.onProgress;
    this.connectedPeer = o.connectedPeer ?? -1;
    this.stable = o.stableOutput ?? false;
    this.onMessage = this.onMessage.bind(this);
    this.onTimer = this.onTimer.bind(this);
    this.onImmediate = this.onImmediate.bind(this);
    this.held = new HeldSends({ link: this.egress, counters: this.counters, socket: o.socket, peers: o.peers, connectedPeer: o.connectedPeer });
    this.onError = (err: NodeJS.ErrnoException) => {
      this.counters.socketErrors++;
      this.counters.lastSocketError = err.message;
      o.onSocketError?.(err);
    };
  }

  /** Starts listening to the socket and serving deadlines. */
  start(): void {
    this.socket.on('message', this.onMessage);
    this.socket.on('error', this.onError);
    this.kick();
  }

  /** Stops serving; the socket stays open (its owner closes it). */
  stop(): void {
    this.stopped = true;
    this.socket.off('message', this.onMessage);
    this.socket.off('error', this.onError);
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
  }

  /** Runs due work now (after the application changed something, such as starting a call); `now` saves a clock read when the caller has just read it. */
  kick(now?: number): void {
    if (this.stopped) return;
    this.work(now ?? this.clock());
  }

  private onMessage(msg: Uint8Array, rinfo: RemoteInfo): void {
    if (this.stopped) return;
    const now = this.clock();
    this.counters.received++;
    // A connected socket only hears from its peer (the kernel filters the rest).
    const from = this.connectedPeer >= 0 ? this.connectedPeer : this.peers.idOf(rinfo.address, rinfo.port);
    if (from < 0) {
      this.counters.unknownPeers++;
      return;
    }
    const ingress = this.ingress;
    if (this.ingressBypass()) {
      const c = ingress.counters;
      c.offeredPackets++;
      c.offeredBytes += msg.length;
      c.deliveredPackets++;
      c.deliveredBytes += msg.length;
      this.endpoint.handleDatagram(now, msg, from);
    } else {
      ingress.send(now, msg, from, SELF);
    }
    this.work(now);
  }

  private onTimer(): void {
    this.timer = null;
    this.timerAt = Number.POSITIVE_INFINITY;
    if (!this.stopped) this.work(this.clock());
  }

  private onImmediate(): void {
    this.immediate = false;
    if (!this.stopped) this.work(this.clock());
  }

  private work(now: number): void {
    const ep = this.endpoint;
    const ingress = this.ingress;
    if (ingress.inFlightPackets > 0) {
      for (let h = ingress.pollDeliver(now); h >= 0; h = ingress.pollDeliver(now)) {
        ep.handleDatagram(now, ingress.data(h), ingress.from(h));
        ingress.release(h);
      }
    }
    const t = ep.pollTimeout();
    if (t !== null && t <= now) ep.handleTimeout(now);
    this.held.reap();
    const egress = this.egress;
    let n = 0;
    for (let dg = ep.pollTransmit(now); dg !== null; dg = ++n < BATCH ? ep.pollTransmit(now) : null) {
      if (this.egressBypass()) this.sendDirect(dg, ep.transmitTo);
      else egress.send(now, dg, SELF, ep.transmitTo);
    }
    if (n >= BATCH) this.moreNow = true;
    if (egress.inFlightPackets > 0) {
      n = 0;
      for (let h = egress.pollDeliver(now); h >= 0; h = ++n < BATCH ? egress.pollDeliver(now) : -1) this.held.transmit(h);
      if (n >= BATCH) this.moreNow = true;
    }
    this.onProgress?.(now);
    if (!this.stopped) this.schedule(now);
  }

  /** Sends past a transparent link: counted on it, not copied when the endpoint's bytes are stable. */
  private sendDirect(dg: Uint8Array, toId: number): void {
    const c = this.egress.counters;
    c.offeredPackets++;
    c.offeredBytes += dg.length;
    c.deliveredPackets++;
    c.deliveredBytes += dg.length;
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

  private schedule(now: number): void {
    let next = this.endpoint.pollTimeout();
    const e = this.egress.pollTimeout();
    if (e !== null && (next === null || e < next)) next = e;
    const i = this.ingress.pollTimeout();
    if (i !== null && (next === null || i < next)) next = i;
    if (this.moreNow) {
      this.moreNow = false;
      next = now;
    }
    if (next === null) return;
    const delay = next - now;
    if (delay < 1) {
      if (!this.immediate) {
        this.immediate = true;
        setImmediate(this.onImmediate);
      }
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
