// The replication protocol's wire format: round trip, prefixes, trailing bytes, random and mutated bytes.

import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { ReplType, emitRepl, parseRepl, type ReplMessage } from '../core/rpc/replicas/wire.js';

describe('replication wire format', () => {
  const bytes = fc.uint8Array({ maxLength: 40 });
  const u32 = fc.nat({ max: 0xffffffff });
  const op = fc.oneof(
    fc.record({ kind: fc.constant('counter' as const), value: fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n }) }),
    fc.record({ kind: fc.constant('kv' as const), key: fc.string({ maxLength: 20 }), value: bytes, revision: fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }) }),
  );
  const message: fc.Arbitrary<ReplMessage> = fc.oneof(
    fc.record({ type: fc.constant(ReplType.PING), viewnum: u32 }),
    fc.record({ type: fc.constant(ReplType.RESYNC), viewnum: u32 }),
    fc.record({ type: fc.constant(ReplType.VIEW), viewnum: u32, primary: fc.integer({ min: -1, max: 4 }), backups: fc.nat({ max: 31 }) }),
    fc.record({ type: fc.constant(ReplType.ACK), viewnum: u32, seq: u32 }),
    fc.record({ type: fc.constant(ReplType.CONFIRM), viewnum: u32, seq: u32 }),
    fc.record({ type: fc.constant(ReplType.CONFIRMED), viewnum: u32, seq: u32 }),
    fc.record({ type: fc.constant(ReplType.WRITE), viewnum: u32, seq: u32, op, drc: fc.option(fc.record({ client: u32, xid: u32, prog: u32, vers: u32, proc: u32, reply: bytes }), { nil: null }) }),
    fc.record({ type: fc.constant(ReplType.SNAPSHOT), viewnum: u32, seq: u32, counter: fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n }), kv: fc.array(fc.record({ key: fc.string({ maxLength: 10 }), value: bytes, revision: fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }) }), { maxLength: 5 }) }),
  );

  it('parse(emit(m)) equals m', () => {
    fc.assert(
      fc.property(message, (m) => {
        expect(parseRepl(emitRepl(m))).toEqual(m);
      }),
    );
  });

  it('refuses every strict prefix, trailing bytes and a wrong magic without throwing', () => {
    fc.assert(
      fc.property(message, (m) => {
        const b = emitRepl(m);
        for (let n = 0; n < b.length; n++) expect(parseRepl(b.subarray(0, n))).toBeNull();
        const longer = new Uint8Array(b.length + 1);
        longer.set(b);
        expect(parseRepl(longer)).toBeNull();
        const bad = b.slice();
        bad[0] ^= 1;
        expect(parseRepl(bad)).toBeNull();
      }),
      { numRuns: 200 },
    );
  });

  it('never throws on random or mutated bytes', () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 64 }), (b) => void parseRepl(b)));
    fc.assert(
      fc.property(message, fc.nat(), fc.nat({ max: 255 }), (m, at, v) => {
        const b = emitRepl(m);
        b[at % b.length] = v;
        parseRepl(b);
      }),
    );
  });

  it('refuses a snapshot whose entry count the datagram cannot hold before allocating', () => {
    const b = emitRepl({ type: ReplType.SNAPSHOT, viewnum: 1, seq: 1, counter: 0n, kv: [] });
    new DataView(b.buffer).setUint32(b.length - 4, 0xffffffff);
    expect(parseRepl(b)).toBeNull();
  });
});
