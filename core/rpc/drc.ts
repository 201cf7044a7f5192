// The server's duplicate request cache (DRC): a request is known by (client address, xid, prog,
// vers, proc). With the cache on, a retransmitted or duplicated request that was already executed
// gets the cached reply again instead of a second execution (at-most-once, as far as the cache
// remembers); one still executing is dropped. With it off, requests are still remembered, without
// their replies, so the server can count the duplicate executions it lets happen (at-least-once).
//
// The table is bounded in entries and in age, the oldest entries going first, and in bytes of
// replies. It holds no object per request: entries live in typed arrays (a ring in arrival order,
// indexed by an open-addressing hash table) and replies in a byte slab, so a cache of thousands of
// requests costs the garbage collector nothing at tens of thousands of calls per second.

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

/** Bytes of cached replies, at most, whatever the number of entries (bigger replies are not kept). */
export const DRC_REPLY_BYTES_MAX = 64 * 1024 * 1024;

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

/** Entry states. */
const EMPTY = 0;
const EXECUTING = 1;
const EXECUTED = 2;

/**
 * A handle to a remembered request: slot in the low 21 bits, generation above, so a handle kept
 * by an asynchronous handler no longer matches once its slot was reused.
 */
export type DrcHandle = number;

const SLOT_BITS = 21;
const SLOT_MASK = (1 << SLOT_BITS) - 1;

function nextPow2(n: number): number {
  let c = 8;
  while (c < n) c *= 2;
  return c;
}

function hashKey(peer: number, xid: number): number {
  let h = Math.imul(xid ^ 0x9e3779b9, 0x85ebca6b) ^ Math.imul(peer + 0x632be5ab, 0xc2b2ae35);
  h ^= h >>> 15;
  return Math.imul(h, 0x2c1b3c6d) >>> 0;
}

/** The bounded table of remembered requests. */
export class DuplicateRequestCache {
  /** Entries forgotten because of the size or age bound. */
  evictions = 0;
  /** Replies not kept because they were too big for the reply budget. */
  repliesNotCached = 0;
  private cfg: DrcConfig;
  private cap = 0;
  private peer = new Int32Array(0);
  private xid = new Uint32Array(0);
  private prog = new Uint32Array(0);
  private vers = new Uint32Array(0);
  private proc = new Uint32Array(0);
  private at = new Float64Array(0);
  private state = new Uint8Array(0);
  private gen = new Uint32Array(0);
  // Replies: up to slotReplyBytes inline in the slab, longer ones (within the budget) on the side.
  private slotReplyBytes = 0;
  private slab = new Uint8Array(0);
  private replyLen = new Int32Array(0);
  private readonly big = new Map<number, Uint8Array>();
  private bigBytes = 0;
  // Ring of slots in arrival order: head is the oldest.
  private head = 0;
  private count = 0;
  // Open-addressing index: slot + 1, 0 when empty; linear probing, backward-shift deletion.
  private index = new Int32Array(0);
  private indexMask = 0;

  constructor(config: DrcConfig) {
    const p = drcConfigProblems(config);
    if (p.length > 0) throw new RangeError(`duplicate request cache: ${p.join('; ')}`);
    this.cfg = { ...config };
    this.allocate(config.maxEntries);
  }

  /** The knobs in force. */
  get config(): DrcConfig {
    return this.cfg;
  }

  /** Requests remembered now. */
  get entries(): number {
    return this.count;
  }

  /** Changes the knobs. A new size keeps the newest entries that fit. */
  reconfigure(c: DrcConfig): void {
    const p = drcConfigProblems(c);
    if (p.length > 0) throw new RangeError(`duplicate request cache: ${p.join('; ')}`);
    const old = this.snapshot();
    const resize = c.maxEntries !== this.cfg.maxEntries;
    this.cfg = { ...c };
    if (!resize) return;
    this.allocate(c.maxEntries);
    for (const e of old.slice(Math.max(0, old.length - c.maxEntries))) {
      const h = this.insert(e.at, e.peer, e.xid, e.prog, e.vers, e.proc);
      if (e.state === EXECUTED) this.complete(h, e.reply);
    }
  }

  /** The remembered request with this key (its handle), or -1. Forgets entries past their age first. */
  find(now: number, peer: number, xid: number, prog: number, vers: number, proc: number): DrcHandle {
    this.expire(now);
    const mask = this.indexMask;
    for (let i = hashKey(peer, xid) & mask; ; i = (i + 1) & mask) {
      const v = this.index[i]!;
      if (v === 0) return -1;
      const s = v - 1;
      if (this.xid[s] === xid >>> 0 && this.peer[s] === peer && this.prog[s] === prog >>> 0 && this.vers[s] === vers >>> 0 && this.proc[s] === proc >>> 0) return this.handleOf(s);
    }
  }

  /** Remembers a new request as executing (after find() returned -1). */
  insert(now: number, peer: number, xid: number, prog: number, vers: number, proc: number): DrcHandle {
    if (this.count >= this.cap) this.evictOldest();
    const s = (this.head + this.count) % this.cap;
    this.count++;
    this.peer[s] = peer;
    this.xid[s] = xid >>> 0;
    this.prog[s] = prog >>> 0;
    this.vers[s] = vers >>> 0;
    this.proc[s] = proc >>> 0;
    this.at[s] = now;
    this.state[s] = EXECUTING;
    this.gen[s] = (this.gen[s]! + 1) & 0x3ff;
    this.replyLen[s] = -1;
    const mask = this.indexMask;
    let i = hashKey(peer, xid) & mask;
    while (this.index[i] !== 0) i = (i + 1) & mask;
    this.index[i] = s + 1;
    return this.handleOf(s);
  }

  /** True while the handle's request is remembered. */
  valid(h: DrcHandle): boolean {
    const s = h & SLOT_MASK;
    return s < this.cap && this.state[s] !== EMPTY && this.gen[s] === h >>> SLOT_BITS;
  }

  /** True once the request has been executed to completion. */
  executed(h: DrcHandle): boolean {
    return this.valid(h) && this.state[h & SLOT_MASK] === EXECUTED;
  }

  /** Records that the request ran; keeps the reply (when given and within the budget). */
  complete(h: DrcHandle, reply: Uint8Array | null): void {
    if (!this.valid(h)) return;
    const s = h & SLOT_MASK;
    this.state[s] = EXECUTED;
    this.dropBig(s);
    this.replyLen[s] = -1;
    if (reply === null) return;
    const n = reply.length;
    if (n <= this.slotReplyBytes) {
      this.slab.set(reply, s * this.slotReplyBytes);
      this.replyLen[s] = n;
    } else if (this.bigBytes + n <= DRC_REPLY_BYTES_MAX) {
      this.big.set(s, reply.slice());
      this.bigBytes += n;
      this.replyLen[s] = n;
    } else {
      this.repliesNotCached++;
    }
  }

  /** The cached reply of a request (a view valid until the cache changes), or null. */
  reply(h: DrcHandle): Uint8Array | null {
    if (!this.valid(h)) return null;
    const s = h & SLOT_MASK;
    const n = this.replyLen[s]!;
    if (n < 0) return null;
    if (n <= this.slotReplyBytes && (this.big.size === 0 || !this.big.has(s))) return this.slab.subarray(s * this.slotReplyBytes, s * this.slotReplyBytes + n);
    return this.big.get(s) ?? null;
  }

  /** Forgets everything. */
  clear(): void {
    while (this.count > 0) this.evictOldest(false);
  }

  private handleOf(s: number): DrcHandle {
    return s | (this.gen[s]! << SLOT_BITS);
  }

  private allocate(n: number): void {
    this.cap = n;
    this.peer = new Int32Array(n);
    this.xid = new Uint32Array(n);
    this.prog = new Uint32Array(n);
    this.vers = new Uint32Array(n);
    this.proc = new Uint32Array(n);
    this.at = new Float64Array(n);
    this.state = new Uint8Array(n);
    this.gen = new Uint32Array(n);
    this.replyLen = new Int32Array(n);
    // Inline room per entry: 512 bytes (most replies), less for very large caches, within the budget.
    this.slotReplyBytes = Math.max(32, Math.min(512, Math.floor(DRC_REPLY_BYTES_MAX / 4 / n) & ~3));
    this.slab = new Uint8Array(n * this.slotReplyBytes);
    this.big.clear();
    this.bigBytes = 0;
    this.head = 0;
    this.count = 0;
    const size = nextPow2(n * 2);
    this.index = new Int32Array(size);
    this.indexMask = size - 1;
  }

  private snapshot(): { peer: number; xid: number; prog: number; vers: number; proc: number; at: number; state: number; reply: Uint8Array | null }[] {
    const out = [];
    for (let k = 0; k < this.count; k++) {
      const s = (this.head + k) % this.cap;
      const r = this.reply(this.handleOf(s));
      out.push({ peer: this.peer[s]!, xid: this.xid[s]!, prog: this.prog[s]!, vers: this.vers[s]!, proc: this.proc[s]!, at: this.at[s]!, state: this.state[s]!, reply: r === null ? null : r.slice() });
    }
    return out;
  }

  private expire(now: number): void {
    const limit = now - this.cfg.maxAgeMs;
    while (this.count > 0 && this.at[this.head]! <= limit) this.evictOldest();
  }

  private dropBig(s: number): void {
    // Most caches never hold a reply too long for its slot: no map lookup then.
    if (this.big.size === 0) return;
    const b = this.big.get(s);
    if (b !== undefined) {
      this.bigBytes -= b.length;
      this.big.delete(s);
    }
  }

  private evictOldest(count = true): void {
    const s = this.head;
    this.head = (this.head + 1) % this.cap;
    this.count--;
    if (count) this.evictions++;
    this.state[s] = EMPTY;
    this.dropBig(s);
    this.replyLen[s] = -1;
    // Remove s from the index with backward-shift deletion (linear probing stays intact).
    const mask = this.indexMask;
    let i = hashKey(this.peer[s]!, this.xid[s]!) & mask;
    while (this.index[i] !== s + 1) i = (i + 1) & mask;
    let j = i;
    for (;;) {
      j = (j + 1) & mask;
      const v = this.index[j]!;
      if (v === 0) break;
      const t = v - 1;
      const home = hashKey(this.peer[t]!, this.xid[t]!) & mask;
      // Move t back into the hole at i when its home position is not in (i, j].
      if ((j > i && (home <= i || home > j)) || (j < i && home <= i && home > j)) {
        this.index[i] = v;
        i = j;
      }
    }
    this.index[i] = 0;
  }
}
