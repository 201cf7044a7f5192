// Sends of a link's pooled datagrams, and the datagrams handed to the socket but not yet sent. The
// loop both drivers run on (net/driver-loop.ts) sends through here: transmit() finds the address of
// a datagram's peer id and sends it, without one to the peer the socket is connected to.
//
// libuv sends a datagram at once while its send queue is empty; then the bytes are in the kernel
// when send() returns and the pool buffer is free again. Only when the kernel's buffer is full does
// libuv queue the send, keeping a reference to our buffer until it completes. Node completes a
// socket's sends in the order they were made, and a dgram socket tells how many are still queued
// (getSendQueueCount), so:
// - with an empty queue the datagram is sent without a completion callback (Node would otherwise
//   schedule a process.nextTick and a callback call for every datagram), and released at once
//   unless libuv queued it after all;
// - while the queue is not empty, sends carry a callback, and each completion releases as many of
//   the oldest held buffers as the queue has shrunk past.
// This needs every send to reach libuv before send() returns. A connected socket's sends do. A send
// to an address does only on a socket made by udpSocket(): node:dgram resolves the address first,
// and dns.lookup answers even an IP address on the next tick, when the buffer may hold another
// datagram already. Other sockets (sockets made elsewhere that send to addresses, test doubles,
// record streams without getSendQueueCount) get a completion callback on every send.

import { createSocket, type Socket } from 'node:dgram';
import { lookup as dnsLookup, type LookupOneOptions } from 'node:dns';
import { isIP } from 'node:net';
import type { Link } from '../../core/impair/link.js';

/** Datagrams handed to the socket and not yet completed, at most (about 5 MB of 1200-byte datagrams). */
export const MAX_QUEUED_SENDS = 4096;

// Sockets whose send() hands a datagram to libuv before it returns, to an IP address too.
const SENDS_AT_ONCE = new WeakSet<object>();

/** Marks a socket whose send() hands every datagram to libuv before it returns (udpSocket's; test doubles). */
export function markSendsAtOnce(socket: object): void {
  SENDS_AT_ONCE.add(socket);
}

/** node:dgram's lookup, answering IP addresses at once (names are resolved as dns.lookup does). */
function immediateLookup(hostname: string, options: LookupOneOptions | number, callback: (err: NodeJS.ErrnoException | null, address: string, family: number) => void): void {
  const family = isIP(hostname);
  if (family !== 0) callback(null, hostname, family);
  else dnsLookup(hostname, options as LookupOneOptions, callback);
}

/**
 * A dgram socket whose sends to IP addresses reach libuv before send() returns (and cost no tick
 * and no lookup each), so HeldSends may release their buffers at once. A send to a name still
 * waits for dns.lookup; the drivers send to names only over connected sockets (no address at all).
 */
export function udpSocket(type: 'udp4' | 'udp6'): Socket {
  const socket = createSocket({ type, reuseAddr: false, lookup: immediateLookup });
  markSendsAtOnce(socket);
  return socket;
}

/** The part of a socket HeldSends uses. */
export interface SendingSocket {
  send(msg: Uint8Array, ...rest: unknown[]): void;
  /** Sends libuv has queued and not completed (node:dgram has it). */
  getSendQueueCount?(): number;
}

// HeldSends says what it needs of the drivers' counters and peer table here rather than importing
// their classes: the drivers import HeldSends, and nothing imports back.

/** The counters HeldSends keeps (a driver's DriverCounters). */
export interface SendCounters {
  /** Datagrams handed to the socket for sending. */
  sent: number;
  /** Sends whose completion callback reported an error. */
  sendErrors: number;
  /** Last send error message. */
  lastSendError: string;
  /** Datagrams dropped because the socket's send queue was full. */
  sendQueueDrops: number;
}

/** The addresses of peer ids (a driver's PeerTable). */
export interface PeerAddresses {
  /** The address of an id, or undefined when the id has none. */
  address(id: number): { address: string; port: number } | undefined;
}

/** How HeldSends is set up. */
export interface HeldSendsOptions {
  /** The link whose delivered datagrams are sent (and released). */
  link: Link;
  counters: SendCounters;
  socket: SendingSocket;
  /** The addresses of the peer ids datagrams are sent to. */
  peers: PeerAddresses;
  /** The peer id the socket is connect()ed to: datagrams to it are sent without an address (-1 or absent: none). */
  connectedPeer?: number;
}

/** Sends the datagrams of a link's pool and holds those still queued, oldest first. */
export class HeldSends {
  private held = new Int32Array(256);
  private head = 0;
  private count = 0;
  private readonly queueCount: (() => number) | null;
  private readonly link: Link;
  private readonly counters: SendCounters;
  private readonly socket: SendingSocket;
  private readonly peers: PeerAddresses;
  private readonly connectedPeer: number;

  constructor(o: HeldSendsOptions) {
    this.link = o.link;
    this.counters = o.counters;
    this.socket = o.socket;
    this.peers = o.peers;
    this.connectedPeer = o.connectedPeer ?? -1;
    this.onSent = this.onSent.bind(this);
    const s = o.socket;
    // A connected socket sends only to its peer, without an address; others send to addresses.
    const atOnce = this.connectedPeer >= 0 || SENDS_AT_ONCE.has(s);
    this.queueCount = atOnce && typeof s.getSendQueueCount === 'function' ? () => s.getSendQueueCount!() : null;
  }

  /** Held buffers (sends queued and not completed). */
  get size(): number {
    return this.count;
  }

  /** Sends the datagram of link handle `h` to the peer its `to` id names; releases it when that peer is unknown. */
  transmit(h: number): void {
    const toId = this.link.to(h);
    const to = this.peers.address(toId);
    if (to === undefined) {
      this.link.release(h);
      return;
    }
    if (toId === this.connectedPeer) this.send(h, 0, null);
    else this.send(h, to.port, to.address);
  }

  /**
   * Sends the datagram of link handle `h` (to port/address; to the connected peer when address is
   * null) and releases the handle once its bytes are in the kernel. When MAX_QUEUED_SENDS are held
   * already, libuv and the kernel hold that many of our datagrams: the send queue is full, so the
   * datagram is dropped (released and counted), as a full interface queue would.
   */
  send(h: number, port: number, address: string | null): void {
    const data = this.link.data(h);
    const s = this.socket;
    if (this.queueCount !== null && this.reap() === 0) {
      if (address === null) s.send(data);
      else s.send(data, port, address);
      this.counters.sent++;
      // Queued after all (the kernel's buffer was full): held until the queue shrinks past it.
      if (this.queueCount() > 0) this.hold(h);
      else this.link.release(h);
      return;
    }
    if (this.count >= MAX_QUEUED_SENDS) {
      this.counters.sendQueueDrops++;
      this.link.release(h);
      return;
    }
    this.hold(h);
    if (address === null) s.send(data, this.onSent);
    else s.send(data, port, address, this.onSent);
  }

  /** Releases the held buffers whose sends completed; returns the sends still queued on the socket. */
  reap(): number {
    if (this.queueCount === null) return this.count;
    if (this.count === 0) return 0;
    const queued = this.queueCount();
    // Other sends on the socket count in the queue too, so this may release late, never early.
    while (this.count > queued) this.releaseOldest();
    return queued;
  }

  private hold(h: number): void {
    if (this.count === this.held.length) {
      const bigger = new Int32Array(this.held.length * 2);
      for (let i = 0; i < this.count; i++) bigger[i] = this.held[(this.head + i) % this.held.length]!;
      this.held = bigger;
      this.head = 0;
    }
    this.held[(this.head + this.count) % this.held.length] = h;
    this.count++;
  }

  private releaseOldest(): void {
    this.link.release(this.held[this.head]!);
    this.head = (this.head + 1) % this.held.length;
    this.count--;
  }

  /** The completion callback of queued sends. */
  private onSent(err: Error | null): void {
    if (err !== null) {
      this.counters.sendErrors++;
      this.counters.lastSendError = err.message;
    } else {
      this.counters.sent++;
    }
    if (this.queueCount !== null) this.reap();
    else if (this.count > 0) this.releaseOldest();
  }
}
