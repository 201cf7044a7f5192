// The standing hostile-input harness: inputs a fuzzer would make (bench/hostile-inputs.ts), fed by
// the hundred thousand to every entry point that takes bytes or text from outside. Each entry
// point's test asserts that nothing throws, that memory stays bounded and, for what answers the
// network, that no address gets more than three times the bytes it sent.

import fc from 'fast-check';

export { hostileBytes, hostileText, mutatedBytes } from '../../bench/hostile-inputs.js';

/** Inputs tried per entry point. */
export const HOSTILE_RUNS = 100_000;

/** What one entry point saw, printed for the closing note and the reader of the test log. */
export interface HostileTally {
  entry: string;
  inputs: number;
  throws: number;
  /** Largest bytes sent back to one sender for the bytes it sent (0 when nothing answers). */
  largestRatio: number;
  heapBeforeMb: number;
  heapAfterMb: number;
}

/** The heap in use after a full collection, so that garbage left for the collector is not counted. */
function liveHeapMb(): number {
  if (globalThis.gc === undefined) throw new Error('the hostile harness needs node --expose-gc (vitest.config.ts passes it to the node project)');
  globalThis.gc();
  return process.memoryUsage().heapUsed / 2 ** 20;
}

/** Runs `each` on HOSTILE_RUNS inputs of `arb`; counts throws instead of stopping, and reports. */
export function hostileRun<T>(entry: string, arb: fc.Arbitrary<T>, each: (input: T) => number | void, runs = HOSTILE_RUNS): HostileTally {
  const heapBeforeMb = liveHeapMb();
  let throws = 0;
  let largestRatio = 0;
  let firstThrow: unknown = null;
  // Fixed seeds: a failure is reproducible, and the inputs are the same in every run of the suite.
  // Drawn a thousand at a time, so that the inputs never sit in memory all at once.
  for (let done = 0, chunk = 0; done < runs; chunk++) {
    const n = Math.min(1000, runs - done);
    for (const input of fc.sample(arb, { numRuns: n, seed: 20261206 + chunk })) {
      try {
        const ratio = each(input);
        if (typeof ratio === 'number' && ratio > largestRatio) largestRatio = ratio;
      } catch (e) {
        throws++;
        firstThrow ??= e;
      }
    }
    done += n;
  }
  const tally = { entry, inputs: runs, throws, largestRatio, heapBeforeMb, heapAfterMb: liveHeapMb() };
  console.log(`hostile: ${entry}: ${runs} inputs, ${throws} threw${firstThrow === null ? '' : ` (first: ${String((firstThrow as Error)?.stack ?? firstThrow)})`}, largest reply/request ${tally.largestRatio.toFixed(2)}, heap ${heapBeforeMb.toFixed(0)} -> ${tally.heapAfterMb.toFixed(0)} MB`);
  return tally;
}
