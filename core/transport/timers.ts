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

/** The deadline of each timer in ms, null while it is stopped. */
export type TimerTable = Record<TimerKind, number | null>;

/** A table with every timer stopped. */
export function newTimerTable(): TimerTable {
  const table = {} as TimerTable;
  for (const kind of TIMER_KINDS) table[kind] = null;
  return table;
}

/** The earliest deadline, or null when no timer runs. */
export function nextDeadline(table: TimerTable): number | null {
  let min: number | null = null;
  for (let i = 0; i < TIMER_KINDS.length; i++) {
    const at = table[TIMER_KINDS[i]!];
    if (at !== null && (min === null || at < min)) min = at;
  }
  return min;
}

/** True when timer `kind` runs and its deadline is at or before `now`. */
export function isExpired(table: TimerTable, kind: TimerKind, now: number): boolean {
  const at = table[kind];
  return at !== null && at <= now;
}

/** Stops every timer. */
export function stopAll(table: TimerTable): void {
  for (let i = 0; i < TIMER_KINDS.length; i++) table[TIMER_KINDS[i]!] = null;
}
