// The peer table of a server on a real socket (a listener, an RPC server over UDP, TCP or the lab
// transport). The driver's PeerTable keeps every address it has seen until it is full, and then
// drops every datagram of a new peer: 4,096 datagrams from as many source ports blinded a listener
// for good. This one recycles ids, least recently used first, but never the id of a peer with an
// open session (the listener knows its sessions by peer id, so a recycled id would send one peer's
// session to another address); a peer whose connection closed gives its id back at once.

import { PeerTable, type PeerTableOptions } from './driver.js';

/** A PeerTable that recycles the ids of peers without an open session, least recently used first. */
export class RecyclingPeerTable extends PeerTable {
  private readonly idByKey = new Map<string, number>();
  private readonly addrById: ({ address: string; port: number } | undefined)[] = [];
  private readonly keyById: string[] = [];
  // Ids in order of last use, a doubly linked list in two typed arrays: head is the least recently
  // used. Moving an id to the tail costs a few stores and no allocation, so every datagram can.
  private readonly prev: Int32Array;
  private readonly next: Int32Array;
  private head = -1;
  private tail = -1;
  private busy: (id: number) => boolean = () => false;
  private recentAddress = '';
  private recentPort = -1;
  private recentId = -1;
  /** Ids taken from idle peers for new ones. */
  recycled = 0;
  /** New peers refused because every id belonged to a peer with an open session. */
  refusedFull = 0;

  constructor(o: PeerTableOptions = {}) {
    super(o);
    this.prev = new Int32Array(this.maxPeers);
    this.next = new Int32Array(this.maxPeers);
  }

  /** Which ids must keep their address: those of peers with an open session (the listener knows). */
  setBusy(busy: (id: number) => boolean): void {
    this.busy = busy;
  }

  /** Peers with an id now. */
  get size(): number {
    return this.idByKey.size;
  }

  override idOf(address: string, port: number): number {
    // Most datagrams come from the same peer as the one before: no key to build.
    if (port === this.recentPort && address === this.recentAddress && this.recentId >= 0) {
      this.touch(this.recentId);
      return this.recentId;
    }
    const key = `${address}|${port}`;
    let id = this.idByKey.get(key);
    if (id === undefined) {
      if (!this.admits(address)) return -1;
      id = this.assign(key, address, port);
      if (id < 0) return -1;
    }
    this.touch(id);
    this.recentAddress = address;
    this.recentPort = port;
    this.recentId = id;
    return id;
  }

  override address(id: number): { address: string; port: number } | undefined {
    return this.addrById[id];
  }

  /** Forgets a peer (its connection closed): its id is the next one given to a new peer when the table is full. */
  release(address: string, port: number): void {
    const key = `${address}|${port}`;
    const id = this.idByKey.get(key);
    if (id === undefined) return;
    this.idByKey.delete(key);
    this.addrById[id] = undefined;
    this.keyById[id] = '';
    if (id === this.recentId) this.recentId = -1;
    this.toHead(id);
  }

  private assign(key: string, address: string, port: number): number {
    let id: number;
    if (this.addrById.length < this.maxPeers) {
      id = this.addrById.length;
      this.addrById.push(undefined);
      this.keyById.push('');
      this.append(id);
    } else {
      id = this.idleOldest();
      if (id < 0) {
        this.refusedFull++;
        return -1;
      }
      this.idByKey.delete(this.keyById[id]!);
      if (id === this.recentId) this.recentId = -1;
      this.recycled++;
    }
    this.idByKey.set(key, id);
    this.addrById[id] = { address, port };
    this.keyById[id] = key;
    return id;
  }

  /** The least recently used id whose peer has no open session, or -1. Busy ids met on the way move to the tail. */
  private idleOldest(): number {
    for (let n = 0; n < this.maxPeers; n++) {
      const id = this.head;
      if (!this.busy(id)) return id;
      this.touch(id);
    }
    return -1;
  }

  private touch(id: number): void {
    if (id === this.tail) return;
    // Unlink (id is not the tail, so it has a successor).
    const p = this.prev[id]!;
    const n = this.next[id]!;
    if (p >= 0) this.next[p] = n;
    else this.head = n;
    this.prev[n] = p;
    this.append(id);
  }

  /** Moves an id to the head, the first to be given again. */
  private toHead(id: number): void {
    if (id === this.head) return;
    const p = this.prev[id]!;
    const n = this.next[id]!;
    this.next[p] = n;
    if (n >= 0) this.prev[n] = p;
    else this.tail = p;
    this.prev[id] = -1;
    this.next[id] = this.head;
    this.prev[this.head] = id;
    this.head = id;
  }

  private append(id: number): void {
    this.prev[id] = this.tail;
    this.next[id] = -1;
    if (this.tail >= 0) this.next[this.tail] = id;
    else this.head = id;
    this.tail = id;
  }
}
