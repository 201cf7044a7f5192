// The server's duplicate request cache (DRC): a request is known by (client address, xid, prog,
// vers, proc). With the cache on, a retransmitted or duplicated request that was already executed
// gets the cached reply again instead of a second execution (at-most-once, as far as the cache
// remembers); one still executing is dropped. With it off, requests are still remembered, without
// their replies, so the server can count the duplicate executions it lets happen (at-least-once).
// The table is bounded in entries and in age; the oldest entries go first.

/** Knobs of the duplicate request cache. */
export interface DrcConfig {
  /** Answer duplicates from the cache (on) or execute them again (off). */
  enabled: boolean;
  /** Requests remembered, at most. */
  maxEntries: number;
  /** Requests are forgotten after this long (ms). */
  maxAgeMs: number;
}

/** Default cache: on, 4096 requests, 2 minutes. */
export const DEFAULT_DRC_CONFIG: Readonly<DrcConfig> = Object.freeze({ enabled: true, maxEntries: 4096, maxAgeMs: 120_000 });

/** Hard bounds of the cache knobs. */
export const DRC_LIMITS = { maxEntries: [1, 1_000_000], maxAgeMs: [1, 86_400_000] } as const;

/** What is wrong with a DRC config (empty when fine). */
export function drcConfigProblems(c: DrcConfig): string[] {
  const out: string[] = [];
  if (typeof c.enabled !== 'boolean') out.push('enabled must be true or false');
  const [e0, e1] = DRC_LIMITS.maxEntries;
  if (!Number.isInteger(c.maxEntries) || c.maxEntries < e0 || c.maxEntries > e1) out.push(`maxEntries must be a whole number from ${e0} to ${e1} (got ${c.maxEntries})`);
  const [a0, a1] = DRC_LIMITS.maxAgeMs;
  if (!(c.maxAgeMs >= a0 && c.maxAgeMs <= a1)) out.push(`maxAgeMs must be from ${a0} to ${a1} (got ${c.maxAgeMs})`);
  return out;
}

/** One remembered request. */
export class DrcEntry {
  /** Next entry with the same xid (a short chain). */
  chain: DrcEntry | null = null;
  /** The reply, once executed and while the cache is on; null otherwise. */
  reply: Uint8Array | null = null;
  /** True once the procedure has run to completion. */
  executed = false;
  /** Forgotten (evicted); an in-flight execution must not store into it. */
  evicted = false;

  constructor(
    readonly peer: number,
    readonly xid: number,
    readonly prog: number,
    readonly vers: number,
    readonly proc: number,
    readonly atMs: number,
  ) {}
}

/** The bounded table of remembered requests. */
export class DuplicateRequestCache {
  private readonly byXid = new Map<number, DrcEntry>();
  // Entries oldest first (a ring with a head index, compacted when half of it is dead).
  private order: DrcEntry[] = [];
  private head = 0;
  private size = 0;
  /** Entries forgotten because of the size or age bound. */
  evictions = 0;

  constructor(public config: DrcConfig) {
    const p = drcConfigProblems(config);
    if (p.length > 0) throw new RangeError(`duplicate request cache: ${p.join('; ')}`);
  }

  /** Requests remembered now. */
  get entries(): number {
    return this.size;
  }

  /** Changes the knobs (entries beyond the new bounds go at the next insert). */
  reconfigure(c: DrcConfig): void {
    const p = drcConfigProblems(c);
    if (p.length > 0) throw new RangeError(`duplicate request cache: ${p.join('; ')}`);
    this.config = { ...c };
  }

  /** The remembered request with this key, or null. */
  find(now: number, peer: number, xid: number, prog: number, vers: number, proc: number): DrcEntry | null {
    this.expire(now);
    for (let e = this.byXid.get(xid) ?? null; e !== null; e = e.chain) {
      if (e.peer === peer && e.prog === prog && e.vers === vers && e.proc === proc) return e;
    }
    return null;
  }

  /** Remembers a new request (after find() returned null). */
  insert(now: number, peer: number, xid: number, prog: number, vers: number, proc: number): DrcEntry {
    while (this.size >= this.config.maxEntries) this.evictOldest();
    const e = new DrcEntry(peer, xid, prog, vers, proc, now);
    e.chain = this.byXid.get(xid) ?? null;
    this.byXid.set(xid, e);
    this.order.push(e);
    this.size++;
    return e;
  }

  /** Forgets everything. */
  clear(): void {
    for (let i = this.head; i < this.order.length; i++) this.order[i]!.evicted = true;
    this.byXid.clear();
    this.order = [];
    this.head = 0;
    this.size = 0;
  }

  private expire(now: number): void {
    const limit = now - this.config.maxAgeMs;
    while (this.head < this.order.length && this.order[this.head]!.atMs <= limit) this.evictOldest();
  }

  private evictOldest(): void {
    const e = this.order[this.head]!;
    this.order[this.head] = undefined as unknown as DrcEntry;
    this.head++;
    this.size--;
    this.evictions++;
    e.evicted = true;
    // Unlink from its xid chain.
    let prev: DrcEntry | null = null;
    for (let x = this.byXid.get(e.xid) ?? null; x !== null; prev = x, x = x.chain) {
      if (x === e) {
        if (prev === null) {
          if (e.chain === null) this.byXid.delete(e.xid);
          else this.byXid.set(e.xid, e.chain);
        } else {
          prev.chain = e.chain;
        }
        break;
      }
    }
    if (this.head > 1024 && this.head * 2 > this.order.length) {
      this.order = this.order.slice(this.head);
      this.head = 0;
    }
  }
}
