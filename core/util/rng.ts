// Seeded randomness for everything that must replay from a seed: impairment, initial sequence
// numbers, connection ids. Built on pure-rand's xoroshiro128+ (the generator fast-check uses).

import { xoroshiro128plus } from 'pure-rand/generator/xoroshiro128plus';

const TWO_POW_32 = 4294967296;

/** A seeded random source with the few distributions the lab needs. */
export class Rng {
  private readonly gen: ReturnType<typeof xoroshiro128plus>;
  private spareNormal = Number.NaN;

  constructor(seed: number) {
    this.gen = xoroshiro128plus(seed | 0);
    // The first outputs of a freshly seeded xoroshiro are poorly mixed for small seeds.
    for (let i = 0; i < 16; i++) this.gen.next();
  }

  /** Uniform in [0, 1) with 32 bits of resolution. */
  uniform(): number {
    return (this.gen.next() >>> 0) / TWO_POW_32;
  }

  /** Uniform unsigned 32-bit integer. */
  uint32(): number {
    return this.gen.next() >>> 0;
  }

  /** Uniform integer in [0, n) for 1 <= n <= 2^32 (slightly biased for huge n, fine for the lab). */
  below(n: number): number {
    return Math.floor(this.uniform() * n);
  }

  /** Standard normal sample (Box-Muller, the second value kept for the next call). */
  normal(): number {
    if (!Number.isNaN(this.spareNormal)) {
      const v = this.spareNormal;
      this.spareNormal = Number.NaN;
      return v;
    }
    let u = this.uniform();
    while (u === 0) u = this.uniform();
    const v = this.uniform();
    const r = Math.sqrt(-2 * Math.log(u));
    this.spareNormal = r * Math.sin(2 * Math.PI * v);
    return r * Math.cos(2 * Math.PI * v);
  }
}

/** Derives an independent 32-bit seed for a named part of a run (links, endpoints) from the run seed. */
export function deriveSeed(seed: number, label: string): number {
  // FNV-1a over the label, mixed with the seed: stable across versions and platforms.
  let h = 0x811c9dc5 ^ (seed >>> 0);
  for (let i = 0; i < label.length; i++) {
    h ^= label.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  return h >>> 0;
}
