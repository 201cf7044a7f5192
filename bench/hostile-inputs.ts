// Inputs a fuzzer would make: random bytes, and valid inputs mutated the ways that break parsers
// (flipped bits, cut short, spliced, repeated, length and count words set to extremes). The
// hostile-input tests (test/hostile-*.test.ts) and `npm run bench hostile` draw from these.

import fc from 'fast-check';

/** 32-bit values that break length and count fields. */
const EXTREME_WORDS = [0, 1, 0x7fffffff, 0x80000000, 0xffffffff, 0xfffffffe, 0x10000, 0xffff];

/** One mutation of a byte string. */
const mutation = fc.oneof(
  fc.record({ kind: fc.constant('flip' as const), at: fc.nat(), bit: fc.nat({ max: 7 }) }),
  fc.record({ kind: fc.constant('set' as const), at: fc.nat(), value: fc.nat({ max: 255 }) }),
  fc.record({ kind: fc.constant('cut' as const), at: fc.nat() }),
  fc.record({ kind: fc.constant('word' as const), at: fc.nat(), value: fc.constantFrom(...EXTREME_WORDS) }),
  fc.record({ kind: fc.constant('insert' as const), at: fc.nat(), bytes: fc.uint8Array({ minLength: 1, maxLength: 16 }) }),
  fc.record({ kind: fc.constant('repeat' as const), from: fc.nat(), length: fc.integer({ min: 1, max: 64 }), times: fc.integer({ min: 1, max: 8 }) }),
);

type Mutation = typeof mutation extends fc.Arbitrary<infer M> ? M : never;

function apply(bytes: Uint8Array, m: Mutation): Uint8Array {
  const n = bytes.length;
  switch (m.kind) {
    case 'flip': {
      if (n === 0) return bytes;
      const out = bytes.slice();
      out[m.at % n]! ^= 1 << m.bit;
      return out;
    }
    case 'set': {
      if (n === 0) return bytes;
      const out = bytes.slice();
      out[m.at % n] = m.value;
      return out;
    }
    case 'cut':
      return bytes.subarray(0, n === 0 ? 0 : m.at % n);
    case 'word': {
      if (n < 4) return bytes;
      const out = bytes.slice();
      // On a word boundary, where XDR and the lab's header keep their lengths and counts.
      const at = (m.at % (n >>> 2)) * 4;
      new DataView(out.buffer, out.byteOffset).setUint32(at, m.value);
      return out;
    }
    case 'insert': {
      const at = n === 0 ? 0 : m.at % (n + 1);
      const out = new Uint8Array(n + m.bytes.length);
      out.set(bytes.subarray(0, at));
      out.set(m.bytes, at);
      out.set(bytes.subarray(at), at + m.bytes.length);
      return out;
    }
    case 'repeat': {
      if (n === 0) return bytes;
      const from = m.from % n;
      const piece = bytes.subarray(from, Math.min(n, from + m.length));
      const out = new Uint8Array(n + piece.length * m.times);
      out.set(bytes.subarray(0, from + piece.length));
      for (let i = 0; i < m.times; i++) out.set(piece, from + piece.length * (i + 1));
      out.set(bytes.subarray(from + piece.length), from + piece.length * (m.times + 1));
      return out;
    }
  }
}

/** Valid inputs mutated one to four times. */
export function mutatedBytes(seeds: readonly Uint8Array[]): fc.Arbitrary<Uint8Array> {
  return fc.tuple(fc.constantFrom(...seeds), fc.array(mutation, { minLength: 1, maxLength: 4 })).map(([seed, ms]) => ms.reduce(apply, seed));
}

/** What a hostile sender sends: random bytes (a quarter) or mutated valid inputs. */
export function hostileBytes(seeds: readonly Uint8Array[], maxRandomBytes = 1500): fc.Arbitrary<Uint8Array> {
  return fc.oneof({ weight: 1, arbitrary: fc.uint8Array({ maxLength: maxRandomBytes }) }, { weight: 3, arbitrary: mutatedBytes(seeds) });
}

/** Texts mutated as bytes (UTF-8 in and out, invalid sequences replaced), or random strings. */
export function hostileText(seeds: readonly string[]): fc.Arbitrary<string> {
  const enc = new TextEncoder();
  const dec = new TextDecoder();
  return fc.oneof({ weight: 1, arbitrary: fc.string({ maxLength: 400 }) }, { weight: 3, arbitrary: mutatedBytes(seeds.map((s) => enc.encode(s))).map((b) => dec.decode(b)) });
}

