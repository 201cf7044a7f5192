// The real-network driver: runs an Endpoint on a node:dgram socket. Outgoing datagrams pass through
// an egress Link and incoming ones through an optional ingress Link (the lab's own impairment; this
// kernel has no netem). One timer serves the earliest deadline; deadlines closer than a
// millisecond are served with setImmediate, so pacing and short delays work below timer
// resolution without blocking the event loop.

import type { Socket, RemoteInfo } from 'node:dgram';
import type { Endpoint } from '../../core/endpoint.js';
import { Link } from '../../core/impair/link.js';
import { NO_IMPAIRMENT } from '../../core/impair/config.js';
import { HeldSends, type SendCounters } from './held-sends.js';
import { plainAddress } from '../../core/util/address.js';

/** How a peer table is set up. */
export interface PeerTableOptions {
  /** Most peers with an id (default 4096). */
  maxPeers?: number;
  /**
   * The one IP address served (a peer agent's client), written as plainAddress writes it: datagrams
   * from other hosts get no id and are counted in foreignDrops. Null or absent: every host.
   */
  onlyHost?: string | null;
}

/** Maps socket addresses to the small integer addresses endpoints use. */
export class PeerTable {
  private readonly ids = new Map<string, number>();
  private readonly addrs: { address: string; port: number }[] = [];
  protected readonly maxPeers: number;
  private readonly onlyHost: string | null;
  /** Datagrams from hosts other than `onlyHost`, refused. */
  foreignDrops = 0;

  constructor(o: PeerTableOptions = {}) {
    this.maxPeers = o.maxPeers ?? 4096;
    this.onlyHost = o.onlyHost ?? null;
  }

  private lastAddress = '';
  private lastPort = -1;
  private lastId = -1;

  /** The id of an address, assigning one on first sight; -1 when the table is full or the host is not served. */
  idOf(address: string, port: number): number {
    // Most datagrams come from the same peer as the one before: skip building the key.
    if (port === this.lastPort && address === this.lastAddress) return this.lastId;
    const key = `${address}|${port}`;
    let id = this.ids.get(key);
    if (id === undefined) {
      // A refused address is not remembered as the last peer: each of its datagrams is counted.
      if (!this.admits(address)) return -1;
      id = this.add(key, address, port);
    }
    this.lastAddress = address;
    this.lastPort = port;
    this.lastId = id;
    return id;
  }

  /**
   * Whether a host not seen at this port before may have an id; a refusal counts in foreignDrops.
   * Only a map miss asks, so the client's own datagrams never pay for the address check.
   */
  protected admits(address: string): boolean {
    if (this.onlyHost === null || plainAddress(address) === this.onlyHost) return true;
    this.foreignDrops++;
    return false;
  }

  private add(key: string, address: string, port: number): number {
    if (this.addrs.length >= this.maxPeers) return -1;
    this.addrs.push({ address, port });
    this.ids.set(key, this.addrs.length - 1);
    return this.addrs.length - 1;
  }

  /** The address of an id. */
  address(id: number): { address: string; port: number } | undefined {
    return this.addrs[id];
  }
}

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

/** How a driver is set up. */
export interface UdpDriverOptions {
  socket: Socket;
  endpoint: Endpoint;
  peers: PeerTable;
  /** Impairment on the way out; a pass-through link when absent. */
  egress?: Link;
  /** Impairment on the way in; none when absent. */
  ingress?: Link | null;
  /** Clock in ms (default performance.now). */
  clock?: () => number;
  /** Called after every batch of work (to read events off the endpoint). */
  onProgress?: (now: number) => void;
  /** The peer id the socket is connect()ed to: datagrams to it are sent without an address. */
  connectedPeer?: number;
  /** Socket errors (ECONNREFUSED after an ICMP port unreachable on a connected socket, ...). */
  onSocketError?: (err: NodeJS.ErrnoException) => void;
}

/** The address id a driver gives its own socket (the `to` of incoming datagrams on the ingress link). */
export const SELF = 0x7fffffff;
const BATCH = 256;

/** Drives one endpoint on one socket. */
export class UdpDriver {
  readonly counters = new DriverCounters();
  readonly egress: Link;
  readonly ingress: Link | null;
  private readonly socket: Socket;
  private readonly endpoint: Endpoint;
  private readonly peers: PeerTable;
  private readonly clock: () => number;
  private readonly onProgress: ((now: number) => void) | undefined;
  private timer: NodeJS.Timeout | null = null;
  private timerAt = Number.POSITIVE_INFINITY;
  private immediate = false;
  private moreNow = false;
  private stopped = false;
  private readonly held: HeldSends;

  constructor(o: UdpDriverOptions) {
    this.socket = o.socket;
    this.endpoint = o.endpoint;
    this.peers = o.peers;
    this.egress = o.egress ?? new Link(NO_IMPAIRMENT, 1);
    this.ingress = o.ingress ?? null;
    this.clock = o.clock ?? (() => performance.now());
    this.onProgress = o.onProgress;
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

  private readonly onError: (err: NodeJS.ErrnoException) => void;

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

  /** Runs due work now (after the application changed something, such as starting a transfer). */
  kick(): void {
    if (this.stopped) return;
    this.work(this.clock());
  }

  private onMessage(msg: Buffer, rinfo: RemoteInfo): void {
    if (this.stopped) return;
    const now = this.clock();
    this.counters.received++;
    const from = this.peers.idOf(rinfo.address, rinfo.port);
    if (from < 0) {
      this.counters.unknownPeers++;
      return;
    }
    if (this.ingress !== null) this.ingress.send(now, msg, from, SELF);
    else this.endpoint.handleDatagram(now, msg, from);
    // libuv hands over up to 32 datagrams per poll, one callback each; the sending and scheduling
    // work runs once after the burst (in the check phase), so ACKs and timers are computed once.
    if (!this.immediate) {
      this.immediate = true;
      setImmediate(this.onImmediate);
    }
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
    if (ingress !== null) {
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
    // At most BATCH datagrams per turn of the event loop: send completions and incoming datagrams
    // get their turn, and a sender that fell behind its schedule catches up in steps.
    let n = 0;
    for (let dg = ep.pollTransmit(now); dg !== null; dg = ++n < BATCH ? ep.pollTransmit(now) : null) egress.send(now, dg, SELF, ep.transmitTo);
    if (n >= BATCH) this.moreNow = true; // the endpoint may have more: come back at once
    n = 0;
    for (let h = egress.pollDeliver(now); h >= 0; h = ++n < BATCH ? egress.pollDeliver(now) : -1) this.held.transmit(h);
    if (n >= BATCH) this.moreNow = true;
    this.onProgress?.(now);
    if (!this.stopped) this.schedule(now);
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
