// The timer table of a connection, as quinn-proto's TimerTable: one deadline per kind of timer,
// indexed by the kind as quinn indexes its array by `Timer as usize`, and every operation on the
// whole table is one loop over TIMER_KINDS. A new timer is one entry in Timer (and the case where
// the connection reacts to it), not an edit in three places.
//
// The kinds are small integers rather than names because drivers ask for the next deadline after
// every datagram: a loop that indexes an object by eight different names goes through V8's
// megamorphic lookup (about 60 ns a call, which cost the simulator a sixth of its speed), while
// integer keys are plain element loads.

/**
 * Every timer of a connection, by its index in the table. When several are due at once,
 * handleTimeout fires them in this order: the idle timeout first (it ends the connection, so nothing
 * else needs to run), the linger timer last (it closes the connection after the others had their turn).
 */
export const Timer = {
  idle: 0,
  handshake: 1,
  retransmit: 2,
  probe: 3,
  rack: 4,
  delayedAck: 5,
  persist: 6,
  linger: 7,
} as const;

/** One timer of a connection: its index in the timer table. */
export type TimerKind = (typeof Timer)[keyof typeof Timer];

/** Every timer kind, in the order handleTimeout fires them. */
export const TIMER_KINDS: readonly TimerKind[] = Object.values(Timer).sort((a, b) => a - b);

/**
 * The deadline of each timer in ms, as quinn's `[Option<Instant>; N]`: a Float64Array indexed by
 * the kind, NaN while a timer is stopped. Deadlines are set for almost every datagram (the idle
 * timer on each arrival, the retransmission timer on each send); a typed array stores each double
 * in place, where an object or array that also holds null would box it into a new heap number.
 */
export class TimerTable {
  private readonly at = new Float64Array(TIMER_KINDS.length).fill(Number.NaN);

  /** The deadline of `kind`, or null while it is stopped. */
  get(kind: TimerKind): number | null {
    const at = this.at[kind]!;
    return at === at ? at : null;
  }

  /** Sets the deadline of `kind`; null stops it. */
  set(kind: TimerKind, at: number | null): void {
    this.at[kind] = at === null ? Number.NaN : at;
  }

  /** Stops `kind`. */
  stop(kind: TimerKind): void {
    this.at[kind] = Number.NaN;
  }

  /** True while `kind` is stopped. */
  isStopped(kind: TimerKind): boolean {
    const at = this.at[kind]!;
    return at !== at;
  }

  /** True when `kind` runs and its deadline is at or before `now`. */
  isExpired(kind: TimerKind, now: number): boolean {
    return this.at[kind]! <= now; // false for NaN: a stopped timer never expires
  }

  /** The earliest deadline, or null when no timer runs. */
  next(): number | null {
    // TIMER_KINDS are the indices 0 .. n - 1, so this walks the array itself; NaN (stopped)
    // compares false and is skipped.
    const deadlines = this.at;
    let min = Number.POSITIVE_INFINITY;
    let running = false;
    for (let i = 0; i < deadlines.length; i++) {
      const at = deadlines[i]!;
      if (at <= min) {
        min = at;
        running = true;
      }
    }
    return running ? min : null;
  }

  /** Stops every timer. */
  stopAll(): void {
    this.at.fill(Number.NaN);
  }
}
