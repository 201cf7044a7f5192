// Argument parsers for flags that are not knobs (sizes, durations, rates, seeds), with one-line
// errors that name the flag.

import { InvalidArgumentError } from 'commander';
import { UnitError, formatDurationMs, parseSendRate } from '../core/units.js';

/** Runs a unit parser; its UnitError becomes a Commander argument error (one line, exit code 2). */
function parsed<T>(parse: (text: string) => T, text: string): T {
  try {
    return parse(text);
  } catch (e) {
    if (e instanceof UnitError) throw new InvalidArgumentError(e.message);
    throw e;
  }
}

/** An argParser for a number with units, checked against [min, max]. */
export function numberArg(parse: (text: string) => number, min: number, max: number, flag: string, integer = false): (text: string) => number {
  return (text: string) => {
    const v = parsed(parse, text);
    if (!Number.isFinite(v) || v < min || v > max || (integer && !Number.isInteger(v))) {
      throw new InvalidArgumentError(`${flag} must be ${integer ? 'an integer' : 'a value'} from ${min} to ${max} (got ${text})`);
    }
    return v;
  };
}

/**
 * An argParser for a duration in milliseconds (parseMs for a per-packet or protocol time,
 * parseRunDurationMs for a whole run's), checked against [minMs, maxMs]; the range is said in
 * the units people type.
 */
export function durationArg(parse: (text: string) => number, minMs: number, maxMs: number, flag: string): (text: string) => number {
  return (text: string) => {
    const v = parsed(parse, text);
    if (!Number.isFinite(v) || v < minMs || v > maxMs) throw new InvalidArgumentError(`${flag} must be from ${formatDurationMs(minMs)} to ${formatDurationMs(maxMs)} (got ${text})`);
    return v;
  };
}

/** The rate caps a repeatable --max-rate has set so far: one in packets/s, one in bits/s. */
export interface RateCaps {
  packetsPerSecond?: number;
  bitsPerSecond?: number;
}

/**
 * An argParser for a repeatable rate cap such as --max-rate: each value sets the cap of its own
 * unit (bits/s when bare, packets/s with pps), so giving the flag twice sets both caps.
 */
export function rateCapsArg(flag: string, packetsPerSecond: { min: number; max: number }, bitsPerSecond: { min: number; max: number }): (text: string, previous?: RateCaps) => RateCaps {
  return (text: string, previous?: RateCaps) => {
    const rate = parsed(parseSendRate, text);
    if ('packetsPerSecond' in rate) {
      const v = rate.packetsPerSecond;
      // Streams ask for whole packets per second, so a cap is a whole number too.
      if (!(v >= packetsPerSecond.min && v <= packetsPerSecond.max) || !Number.isInteger(v)) throw new InvalidArgumentError(`${flag} in packets/s must be an integer from ${packetsPerSecond.min}pps to ${packetsPerSecond.max}pps (got ${text})`);
      return { ...previous, packetsPerSecond: v };
    }
    const v = rate.bitsPerSecond;
    if (!(v >= bitsPerSecond.min && v <= bitsPerSecond.max)) throw new InvalidArgumentError(`${flag} must be from ${bitsPerSecond.min} to ${bitsPerSecond.max} in bits/s (got ${text})`);
    return { ...previous, bitsPerSecond: v };
  };
}
