// Parsing of values with units as users type them on a command line or in a spec:
// sizes (1200, 64KiB, 10MB), rates (10M, 1.5Gbit/s, 800kbps), durations (250ms, 1.5s, 2m),
// probabilities (0.05, 5%) and packet rates (5000pps). Each parser returns a number or throws a
// UnitError whose message says what was expected.
//
// A bare number follows iperf3's rule: a whole run's duration is seconds (parseRunDurationMs,
// parseSeconds), a per-packet or protocol time is milliseconds (parseMs), and a rate is bits per
// second (parseBitsPerSecond, parseSendRate).

/** A value that does not parse; the message says what is accepted. */
export class UnitError extends Error {}

const NUMBER = /^([+-]?(?:\d+\.?\d*|\.\d+)(?:e[+-]?\d+)?)\s*([a-z%/]*)$/i;

function split(text: string): [number, string] | null {
  const m = NUMBER.exec(text.trim());
  if (m === null) return null;
  return [Number(m[1]), m[2]!];
}

const SIZE_UNITS: Record<string, number> = {
  '': 1,
  b: 1,
  kb: 1e3,
  mb: 1e6,
  gb: 1e9,
  kib: 1024,
  mib: 1024 ** 2,
  gib: 1024 ** 3,
  k: 1024,
  m: 1024 ** 2,
  g: 1024 ** 3,
};

/** Bytes: a plain number, or with B, kB/MB/GB (powers of 1000), KiB/MiB/GiB or K/M/G (powers of 1024). */
export function parseBytes(text: string): number {
  const p = split(text);
  const mult = p === null ? undefined : SIZE_UNITS[p[1].toLowerCase()];
  if (p === null || mult === undefined) throw new UnitError(`"${text}" is not a size (examples: 1200, 64KiB, 10MB)`);
  return Math.round(p[0] * mult);
}

const RATE_UNITS: Record<string, number> = {
  '': 1,
  k: 1e3,
  m: 1e6,
  g: 1e9,
};

// A capital B before /s or ps is a byte (10MB/s, 10MBps): read as bits it would be 8 times off.
const BYTES_PER_SECOND = /B(\/s|ps)$/;

/**
 * Bits per second: a plain number is bits/s; or with k/M/G (powers of 1000), optionally followed
 * by bit/s, bps or bit. Bytes per second (10MB/s) are refused rather than read as bits.
 */
export function parseBitsPerSecond(text: string): number {
  const p = split(text);
  if (p !== null) {
    if (BYTES_PER_SECOND.test(p[1])) throw new UnitError(`"${text}" is bytes per second; give bits/s (8M is 1 MB/s)`);
    const unit = p[1].toLowerCase().replace(/(bit\/s|bits\/s|bps|bit|bits|b\/s)$/, '');
    const mult = RATE_UNITS[unit];
    if (mult !== undefined) return p[0] * mult;
  }
  throw new UnitError(`"${text}" is not a rate in bits/s (bits/s when bare; examples: 800k, 10M, 1.5Gbit/s)`);
}

/**
 * Bytes per second: a rate in bits/s as parseBitsPerSecond reads it (a plain number is bits/s,
 * 8M is 1 MB/s), or bytes with /s (1MB/s, 64KiB/s, 1200B/s) as parseBytes reads the size.
 */
export function parseBytesPerSecond(text: string): number {
  const p = split(text);
  if (p !== null && BYTES_PER_SECOND.test(p[1])) {
    const size = SIZE_UNITS[p[1].replace(BYTES_PER_SECOND, 'B').toLowerCase()];
    if (size !== undefined) return p[0] * size;
  }
  try {
    return parseBitsPerSecond(text) / 8;
  } catch {
    throw new UnitError(`"${text}" is not a rate (bits/s when bare; examples: 8M for 1 MB/s, 1MB/s, 64KiB/s)`);
  }
}

// Milliseconds per unit; the bare number's entry is chosen by the parser.
const TIME_UNITS: Record<string, number> = { us: 0.001, ms: 1, s: 1000, m: 60_000, min: 60_000, h: 3_600_000 };

function parseTime(text: string, bareMs: number, examples: string): number {
  const p = split(text);
  const unit = p === null ? '' : p[1].toLowerCase();
  const mult = p === null ? undefined : unit === '' ? bareMs : TIME_UNITS[unit];
  if (p === null || mult === undefined) throw new UnitError(`"${text}" is not a duration (${examples})`);
  // Rounded to the nanosecond so that 1.1 seconds is 1100 ms, not 1100.0000000000002.
  return Math.round(p[0] * mult * 1e6) / 1e6;
}

/**
 * A per-packet or protocol time (a delay, a timeout, an interval) in milliseconds: a plain number
 * is milliseconds; or with us, ms, s, m (minutes) or h.
 */
export function parseMs(text: string): number {
  return parseTime(text, 1, 'a bare number is ms; examples: 250, 250ms, 1.5s, 2m');
}

/**
 * A whole run's duration (how long to send, a time limit) in milliseconds: a plain number is
 * seconds, as iperf3's -t; or with us, ms, s, m (minutes) or h.
 */
export function parseRunDurationMs(text: string): number {
  return parseTime(text, 1000, 'a bare number is seconds; examples: 10, 500ms, 1.5s, 2m');
}

/** A whole run's duration in seconds: a plain number is seconds; or with a unit as parseMs accepts. */
export function parseSeconds(text: string): number {
  return parseRunDurationMs(text) / 1000;
}

/** Formats milliseconds as the shortest exact text the parsers read back: 500ms, 10s, 2m, 1h, 250us. */
export function formatDurationMs(ms: number): string {
  for (const [unit, mult] of [['h', 3_600_000], ['m', 60_000], ['s', 1000], ['ms', 1]] as const) {
    if (ms >= mult && Number.isInteger(ms / mult)) return `${ms / mult}${unit}`;
  }
  if (ms === 0) return '0';
  return Number.isInteger(ms * 1000) ? `${ms * 1000}us` : `${ms}ms`;
}

/** Probability: a number from 0 to 1, or a percentage such as 5%. */
export function parseProbability(text: string): number {
  const p = split(text);
  if (p !== null && (p[1] === '' || p[1] === '%')) return p[1] === '%' ? p[0] / 100 : p[0];
  throw new UnitError(`"${text}" is not a probability (examples: 0.05, 5%)`);
}

/** A plain number (integer or decimal). */
export function parseNumber(text: string): number {
  const p = split(text);
  if (p !== null && p[1] === '') return p[0];
  throw new UnitError(`"${text}" is not a number`);
}

/** A send rate: packets per second (5000pps) or bits per second (10M, 1.5Gbit/s). */
export type SendRate = { packetsPerSecond: number } | { bitsPerSecond: number };

/**
 * Parses a send rate as `packetlab udp --rate` takes it: a plain number is bits/s, as parseBitsPerSecond
 * reads it; packets per second with pps, pkt/s or packets/s (5000pps).
 */
export function parseSendRate(text: string): SendRate {
  const p = split(text);
  if (p !== null && /^(pps|pkt\/s|packets\/s)$/i.test(p[1])) return { packetsPerSecond: p[0] };
  // Bytes per second get parseBitsPerSecond's own message, which says what to give instead.
  if (p !== null && BYTES_PER_SECOND.test(p[1])) return { bitsPerSecond: parseBitsPerSecond(text) };
  try {
    return { bitsPerSecond: parseBitsPerSecond(text) };
  } catch {
    throw new UnitError(`"${text}" is not a rate (bits/s when bare, or packets/s with pps; examples: 800k, 10M, 1.5Gbit/s, 5000pps)`);
  }
}

/** Formats bits per second for people: 12.3 Mbit/s. */
export function formatBitsPerSecond(bps: number): string {
  if (!Number.isFinite(bps)) return '-';
  const units = ['bit/s', 'kbit/s', 'Mbit/s', 'Gbit/s'];
  let v = bps;
  let i = 0;
  while (Math.abs(v) >= 1000 && i < units.length - 1) {
    v /= 1000;
    i++;
  }
  return `${v.toFixed(v >= 100 || i === 0 ? 0 : v >= 10 ? 1 : 2)} ${units[i]}`;
}

/** Formats bytes for people: 1.50 MB (powers of 1000). */
export function formatBytes(bytes: number): string {
  const units = ['B', 'kB', 'MB', 'GB', 'TB'];
  let v = bytes;
  let i = 0;
  while (Math.abs(v) >= 1000 && i < units.length - 1) {
    v /= 1000;
    i++;
  }
  return `${i === 0 ? v.toFixed(0) : v.toFixed(2)} ${units[i]}`;
}
