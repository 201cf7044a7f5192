// Argument parsers for flags that are not knobs (sizes, durations, seeds), with one-line errors.

import { InvalidArgumentError } from 'commander';
import { UnitError } from '../core/units.js';

/** An argParser for a number with units, checked against [min, max]. */
export function numberArg(parse: (text: string) => number, min: number, max: number, flag: string, integer = false): (text: string) => number {
  return (text: string) => {
    let v: number;
    try {
      v = parse(text);
    } catch (e) {
      if (e instanceof UnitError) throw new InvalidArgumentError(e.message);
      throw e;
    }
    if (!Number.isFinite(v) || v < min || v > max || (integer && !Number.isInteger(v))) {
      throw new InvalidArgumentError(`${flag} must be ${integer ? 'an integer' : 'a value'} from ${min} to ${max} (got ${text})`);
    }
    return v;
  };
}
