// Serial-number arithmetic for the 32-bit sequence space (RFC 1982 section 3.2).
// Sequence numbers are kept as unsigned 32-bit values (0 .. 2^32-1) and compared by the
// sign of their 32-bit difference, so comparisons stay right across the wrap point.

/** Signed distance a - b in the 32-bit sequence space (negative when a is before b). */
export function seqDiff(a: number, b: number): number {
  return (a - b) | 0;
}

/** True when a comes before b. */
export function seqLt(a: number, b: number): boolean {
  return ((a - b) | 0) < 0;
}

/** True when a comes before b or equals it. */
export function seqLeq(a: number, b: number): boolean {
  return ((a - b) | 0) <= 0;
}

/** True when a comes after b. */
export function seqGt(a: number, b: number): boolean {
  return ((a - b) | 0) > 0;
}

/** True when a comes after b or equals it. */
export function seqGeq(a: number, b: number): boolean {
  return ((a - b) | 0) >= 0;
}

/** a + n in the sequence space, as an unsigned 32-bit value. */
export function seqAdd(a: number, n: number): number {
  return (a + n) >>> 0;
}
