// Refusals summarised for a log, sans-IO (the caller passes `now` and serves pollTimeout). The
// first refusal of an (address, reason) pair is a line of its own as it happens; the ones that
// follow within a period are counted and make one line when the period ends ("refused 5,544 SYNs
// from 127.0.0.1 in the last second: listener is full"). So a flood costs at most one line per
// pair per period, and the counts of the lines add up to the refusals.

/** One line of a refusal log. */
export interface RefusalLine {
  /** The address refused: an IP address (all its ports), or null on the line that gathers the pairs beyond maxKeys. */
  address: string | null;
  /** The peer (IP:port) of a line about one refusal, else null. */
  peer: string | null;
  reason: string;
  /** Refusals the line stands for. */
  count: number;
  /** The time those refusals came in, ms (0: one refusal, reported as it happened). */
  periodMs: number;
}

/** How a digest is set up. */
export interface RefusalDigestOptions {
  /** At most one line per (address, reason) per this long (default 1000 ms). */
  periodMs?: number;
  /** (address, reason) pairs followed at once; refusals of others share one line (default 256). */
  maxKeys?: number;
}

interface Pair {
  address: string | null;
  reason: string;
  /** When the pair's last line was given. */
  lastLineAt: number;
  /** Refusals since then. */
  pending: number;
  /** Peer of the last of them. */
  peer: string;
}

const OTHERS = '\u0000others';

/** Counts refusals and says when to log what. */
export class RefusalDigest {
  /** Refusals noted in all. */
  total = 0;
  private readonly periodMs: number;
  private readonly maxKeys: number;
  private readonly pairs = new Map<string, Pair>();
  private readonly ready: RefusalLine[] = [];

  constructor(o: RefusalDigestOptions = {}) {
    this.periodMs = o.periodMs ?? 1000;
    this.maxKeys = o.maxKeys ?? 256;
  }

  /** A refusal of `peer` (IP:port) at `address` (its IP) at `now`, for `reason`. */
  note(now: number, address: string, peer: string, reason: string): void {
    this.total++;
    let key = `${address}\n${reason}`;
    let pair = this.pairs.get(key);
    if (pair === undefined && this.pairs.size >= this.maxKeys) {
      this.collect(now);
      if (this.pairs.size >= this.maxKeys) {
        // A flood from many addresses (or with many reasons): one line for the rest.
        key = OTHERS;
        pair = this.pairs.get(key);
        if (pair === undefined) {
          pair = { address: null, reason: `other addresses or reasons (more than ${this.maxKeys} at once)`, lastLineAt: now, pending: 0, peer };
          this.pairs.set(key, pair);
        }
        pair.pending++;
        pair.peer = peer;
        return;
      }
    }
    if (pair === undefined) {
      this.pairs.set(key, { address, reason, lastLineAt: now, pending: 0, peer });
      this.ready.push({ address, peer, reason, count: 1, periodMs: 0 });
      return;
    }
    if (pair.pending === 0 && now - pair.lastLineAt >= this.periodMs) {
      pair.lastLineAt = now;
      this.ready.push({ address, peer, reason, count: 1, periodMs: 0 });
      return;
    }
    pair.pending++;
    pair.peer = peer;
  }

  /** The next line due at `now`, or null. */
  pollLine(now: number): RefusalLine | null {
    const r = this.ready.shift();
    if (r !== undefined) return r;
    for (const [key, p] of this.pairs) {
      if (now - p.lastLineAt < this.periodMs) continue;
      if (p.pending === 0) {
        this.pairs.delete(key);
        continue;
      }
      return this.take(p, now);
    }
    return null;
  }

  /** When pollLine has a line next (a summary falls due), or null; lines of single refusals are due at once. */
  pollTimeout(): number | null {
    if (this.ready.length > 0) return Number.NEGATIVE_INFINITY;
    let min: number | null = null;
    for (const p of this.pairs.values()) {
      if (p.pending === 0) continue;
      const due = p.lastLineAt + this.periodMs;
      if (min === null || due < min) min = due;
    }
    return min;
  }

  /** Every line still owed, due or not (when the log closes), so that the counts add up. */
  flush(now: number): RefusalLine[] {
    const out = this.ready.splice(0);
    for (const p of this.pairs.values()) if (p.pending > 0) out.push(this.take(p, now));
    this.pairs.clear();
    return out;
  }

  private take(p: Pair, now: number): RefusalLine {
    const line: RefusalLine = { address: p.address, peer: p.pending === 1 ? p.peer : null, reason: p.reason, count: p.pending, periodMs: now - p.lastLineAt };
    p.pending = 0;
    p.lastLineAt = now;
    return line;
  }

  /** Forgets pairs that owe nothing and whose period is over. */
  private collect(now: number): void {
    for (const [key, p] of this.pairs) if (p.pending === 0 && now - p.lastLineAt >= this.periodMs) this.pairs.delete(key);
  }
}

/** A refusal line as text: "refused IP:port: reason" for one, "refused 5,544 SYNs from IP in the last second: reason" for many. */
export function refusalText(l: RefusalLine, what: string): string {
  if (l.count === 1 && l.peer !== null) return `refused ${l.peer}: ${l.reason}`;
  const from = l.address === null ? '' : ` from ${l.address}`;
  return `refused ${l.count.toLocaleString('en-US')} ${what}${l.count === 1 ? '' : 's'}${from} in the last ${periodText(l.periodMs)}: ${l.reason}`;
}

/** The period of a summary line: "second" for a whole one, else "0.4 s" (a line owed at exit). */
export function periodText(periodMs: number): string {
  const s = periodMs / 1000;
  return Math.abs(s - 1) < 0.05 ? 'second' : `${s.toFixed(1)} s`;
}
