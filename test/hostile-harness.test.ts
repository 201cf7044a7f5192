// The hostile harness's own figures: its heap growth counts what an entry point keeps, not the
// garbage a run leaves for the collector (without a collection first, a CI run once read 151 MB of
// garbage as growth and failed).

import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { hostileRun } from './helpers/hostile.js';

describe('hostileRun', () => {
  it('reports heap growth of what is kept, not of garbage', () => {
    // Each input replaces one slot of a ring of arrays: they live long enough to reach the old
    // generation, then die. At the end the ring is dropped, so nothing is kept.
    let ring: number[][] | null = Array.from({ length: 4096 }, () => []);
    let i = 0;
    const t = hostileRun('garbage only', fc.constant(null), () => {
      ring![i++ % 4096] = new Array(512).fill(i);
      if (i === 20_000) ring = null;
    }, 20_000);
    expect(t.heapAfterMb - t.heapBeforeMb).toBeLessThan(8);
  });

  it('reports heap growth of what is kept', () => {
    const kept: number[][] = [];
    const t = hostileRun('kept', fc.constant(null), () => {
      kept.push(new Array(512).fill(kept.length));
    }, 20_000);
    expect(t.heapAfterMb - t.heapBeforeMb).toBeGreaterThan(40);
    expect(kept.length).toBe(20_000);
  });
});
