// The real-network driver: runs an Endpoint on a node:dgram socket, on the loop both drivers share
// (net/driver-loop.ts). Outgoing datagrams pass through an egress Link and incoming ones through an
// optional ingress Link (the lab's own impairment; this kernel has no netem). What is its own: every
// datagram's source address is looked up in the peer table, and the loop works once after each
// burst of datagrams rather than once per datagram.

import type { Socket, RemoteInfo } from 'node:dgram';
import type { Endpoint } from '../../core/endpoint.js';
import { Link } from '../../core/impair/link.js';
import { NO_IMPAIRMENT } from '../../core/impair/config.js';
import { DriverLoop, type DriverCounters, type DriverHooks } from '../driver-loop.js';
import { plainAddress } from '../../core/util/address.js';

// The workloads import SELF from here, beside the driver.
export { SELF } from '../driver-loop.js';

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

/** How a driver is set up. */
export interface UdpDriverOptions extends DriverHooks {
  socket: Socket;
  endpoint: Endpoint;
  peers: PeerTable;
  /** Impairment on the way out; a pass-through link when absent. */
  egress?: Link;
  /** Impairment on the way in; none when absent. */
  ingress?: Link | null;
}

/** Drives one endpoint on one socket. */
export class UdpDriver {
  /** Counters of the driver itself. */
  readonly counters: DriverCounters;
  /** Impairment on the way out. */
  readonly egress: Link;
  /** Impairment on the way in, or null. */
  readonly ingress: Link | null;
  private readonly loop: DriverLoop;
  private readonly peers: PeerTable;

  constructor(o: UdpDriverOptions) {
    this.peers = o.peers;
    this.onMessage = this.onMessage.bind(this);
    this.loop = new DriverLoop({
      socket: o.socket,
      endpoint: o.endpoint,
      peers: o.peers,
      onMessage: this.onMessage,
      egress: o.egress ?? new Link(NO_IMPAIRMENT, 1),
      ingress: o.ingress ?? null,
      clock: o.clock,
      onProgress: o.onProgress,
      connectedPeer: o.connectedPeer,
      onSocketError: o.onSocketError,
    });
    this.counters = this.loop.counters;
    this.egress = this.loop.egress;
    this.ingress = this.loop.ingress;
  }

  /** Starts listening to the socket and serving deadlines. */
  start(): void {
    this.loop.start();
  }

  /** Stops serving; the socket stays open (its owner closes it). */
  stop(): void {
    this.loop.stop();
  }

  /** Runs due work now (after the application changed something, such as starting a transfer). */
  kick(): void {
    this.loop.kick();
  }

  private onMessage(msg: Uint8Array, rinfo: RemoteInfo): void {
    const loop = this.loop;
    if (loop.stopped) return;
    if (!loop.receive(loop.clock(), msg, this.peers.idOf(rinfo.address, rinfo.port))) return;
    // libuv hands over up to 32 datagrams per poll, one callback each; the sending and scheduling
    // work runs once after the burst (in the check phase), so ACKs and timers are computed once.
    loop.workSoon();
  }
}
