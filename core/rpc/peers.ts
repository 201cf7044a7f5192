// A peer table for long-running servers. The UDP driver's PeerTable keeps every address it has
// seen; a server that every `packetlab rpc call` reaches from a new ephemeral port would fill it
// and then ignore new clients. This one recycles the ids least recently used when it is full, and
// frees an id at once when a TCP connection closes.

import { PeerTable, type PeerTableOptions } from '../udp/driver.js';

/** A PeerTable that reuses ids (least recently used first) instead of refusing new peers. */
export class RecyclingPeerTable extends PeerTable {
  private readonly idByKey = new Map<string, number>();
  private readonly addrById: ({ address: string; port: number } | undefined)[] = [];
  private readonly keyById: (string | undefined)[] = [];
  private lastUse: number[] = [];
  private readonly free: number[] = [];
  private tick = 0;
  /** Ids taken from peers unused for the longest time. */
  recycled = 0;

  /** `maxPeers` defaults to 16384 here; `onlyHost` filters as in PeerTable. */
  constructor(o: PeerTableOptions = {}) {
    super({ ...o, maxPeers: o.maxPeers ?? 16384 });
  }

  /** Peers known now. */
  get size(): number {
    return this.idByKey.size;
  }

  override idOf(address: string, port: number): number {
    // The same peer as last time (one busy client): no key to build.
    if (port === this.recentPort && address === this.recentAddress && this.recentId >= 0) {
      this.lastUse[this.recentId] = ++this.tick;
      return this.recentId;
    }
    const key = `${address}|${port}`;
    let id = this.idByKey.get(key);
    if (id === undefined) {
      if (!this.admits(address)) return -1;
      id = this.assign(key, address, port);
    }
    this.lastUse[id] = ++this.tick;
    this.recentAddress = address;
    this.recentPort = port;
    this.recentId = id;
    return id;
  }

  private recentAddress = '';
  private recentPort = -1;
  private recentId = -1;

  override address(id: number): { address: string; port: number } | undefined {
    return this.addrById[id];
  }

  /** Forgets a peer (its connection closed); its id may be given to another peer. */
  release(address: string, port: number): void {
    const key = `${address}|${port}`;
    const id = this.idByKey.get(key);
    if (id === undefined) return;
    this.idByKey.delete(key);
    this.addrById[id] = undefined;
    this.keyById[id] = undefined;
    this.free.push(id);
    if (id === this.recentId) this.recentId = -1;
  }

  private assign(key: string, address: string, port: number): number {
    let id = this.free.pop();
    if (id === undefined) {
      if (this.addrById.length < this.maxPeers) id = this.addrById.length;
      else {
        this.evictOldest();
        id = this.free.pop()!;
      }
    }
    this.idByKey.set(key, id);
    this.addrById[id] = { address, port };
    this.keyById[id] = key;
    return id;
  }

  /** Frees the eighth of the ids used least recently (amortised: one sort per maxPeers/8 new peers). */
  private evictOldest(): void {
    const ids = [...this.idByKey.values()].sort((a, b) => this.lastUse[a]! - this.lastUse[b]!);
    const n = Math.max(1, Math.floor(ids.length / 8));
    for (let i = 0; i < n; i++) {
      const id = ids[i]!;
      this.idByKey.delete(this.keyById[id]!);
      this.addrById[id] = undefined;
      this.keyById[id] = undefined;
      this.free.push(id);
      this.recycled++;
      if (id === this.recentId) this.recentId = -1;
    }
  }
}
