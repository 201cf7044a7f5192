import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { XDR_MAX_DEPTH, XDR_UNBOUNDED, XdrEncodeError, XdrReader, XdrWriter, decodeAll, encodeToBytes, type XdrCodec } from '../core/rpc/xdr.js';
import { DynamicCodecs, JsonValueError, jsonToValue, valueToJson } from '../core/rpc/dynamic.js';
import { parseXdrSpec } from '../core/rpc/xdr-parser.js';
import type { XdrSpec } from '../core/rpc/spec.js';
import { xdrTypesAll, type TypesAll } from '../experiments/rpc/types.js';
import { sampleTypesAll } from '../experiments/rpc/types-server.js';
import * as kv from '../core/rpc/programs/kv.js';
import * as types from '../experiments/rpc/types.js';
import * as pmap from '../core/rpc/pmap.js';
import { specTextArb, valueArb } from './helpers/xdr-arb.js';

function spec(text: string, file = 'test.x'): XdrSpec {
  const r = parseXdrSpec(text, file);
  if (!r.ok) throw new Error(`${r.error.line}:${r.error.column}: ${r.error.message}`);
  return r.spec;
}

function specOf(path: string): XdrSpec {
  return spec(readFileSync(new URL(`../${path}`, import.meta.url), 'utf8'), path);
}

function hex(b: Uint8Array): string {
  return Buffer.from(b).toString('hex');
}

describe('XDR primitives (RFC 4506 section 4)', () => {
  it('encodes each primitive as the RFC lays it out', () => {
    const w = new XdrWriter(8);
    w.int(-2);
    w.uint(0xfffffffe);
    w.hyper(-2n);
    w.uhyper(2n ** 64n - 2n);
    w.bool(true);
    w.float(1.5);
    w.double(-0.5);
    w.fixedOpaque(Uint8Array.from([1, 2, 3]), 3);
    w.varOpaque(Uint8Array.from([9]), 10);
    w.string('abcde', 5);
    expect(hex(w.bytes())).toBe(
      'fffffffe' + 'fffffffe' + 'fffffffffffffffe' + 'fffffffffffffffe' + '00000001' + '3fc00000' + 'bfe0000000000000' + '01020300' + '0000000109000000' + '000000056162636465000000',
    );
    const r = new XdrReader().reset(w.bytes());
    expect([r.int(), r.uint(), r.hyper(), r.uhyper(), r.bool(), r.float(), r.double()]).toEqual([-2, 0xfffffffe, -2n, 2n ** 64n - 2n, true, 1.5, -0.5]);
    expect(Array.from(r.fixedOpaque(3))).toEqual([1, 2, 3]);
    expect(Array.from(r.varOpaque(10))).toEqual([9]);
    expect(r.string(5)).toBe('abcde');
    expect(r.error).toBeNull();
    expect(r.pos).toBe(r.end);
  });

  it('throws XdrEncodeError naming the field for values that do not fit', () => {
    const w = new XdrWriter();
    expect(() => w.int(3.5, 'pair.a')).toThrow(/pair\.a: 3\.5 is not an int/);
    expect(() => w.int(2 ** 31, 'x')).toThrow(XdrEncodeError);
    expect(() => w.uint(-1, 'u')).toThrow(/u: -1 is not an unsigned int/);
    expect(() => w.hyper(2n ** 63n, 'h')).toThrow(XdrEncodeError);
    expect(() => w.string('abcdef', 5, 'name')).toThrow(/name: "abcdef" is not a string of at most 5 bytes/);
    expect(() => w.string('ééé', 5, 'name')).toThrow(/6 in UTF-8/);
    expect(() => w.fixedOpaque(new Uint8Array(2), 3, 'f')).toThrow(/exactly 3 bytes/);
    expect(() => w.arrayLength([1, 2, 3], 2, 'a')).toThrow(/at most 2 elements/);
    expect(() => w.bool(1 as unknown as boolean, 'b')).toThrow(/not a boolean/);
  });

  it('reports truncated input instead of throwing, for every prefix', () => {
    const v = sampleTypesAll();
    const bytes = encodeToBytes(xdrTypesAll, v);
    const r = new XdrReader();
    for (let n = 0; n < bytes.length; n++) {
      const res = decodeAll(xdrTypesAll, bytes.subarray(0, n), r);
      expect(res.ok).toBe(false);
    }
    const whole = decodeAll(xdrTypesAll, bytes, r);
    expect(whole.ok && whole.value).toEqual(v);
    // Trailing data is reported by decodeAll.
    const extra = new Uint8Array(bytes.length + 4);
    extra.set(bytes);
    const t = decodeAll(xdrTypesAll, extra, r);
    expect(t.ok).toBe(false);
    expect(!t.ok && t.error).toMatch(/4 bytes left over/);
  });

  it('rejects huge lengths before allocating anything', () => {
    const r = new XdrReader();
    const big = Uint8Array.from([0x80, 0, 0, 0, 1, 2, 3, 4]);
    const before = process.memoryUsage().arrayBuffers;
    r.reset(big);
    r.varOpaque(XDR_UNBOUNDED, 'blob');
    expect(r.error).toMatch(/blob: needs 2147483648 bytes, 4 left/);
    r.reset(big);
    r.string(XDR_UNBOUNDED, 'text');
    expect(r.error).toMatch(/text: needs/);
    r.reset(big);
    expect(r.arrayLength(XDR_UNBOUNDED, 4, 'items')).toBe(-1);
    expect(r.error).toMatch(/items: 2147483648 elements cannot fit in the 4 bytes left/);
    r.reset(Uint8Array.from([0xff, 0xff, 0xff, 0xff]));
    r.varOpaque(16, 'small');
    expect(r.error).toMatch(/length 4294967295 exceeds the maximum of 16/);
    expect(process.memoryUsage().arrayBuffers - before).toBeLessThan(1 << 20);
  });

  it('rejects bools other than 0 and 1, enums outside their values, strings that are not UTF-8', () => {
    const r = new XdrReader();
    r.reset(Uint8Array.from([0, 0, 0, 2]));
    r.bool('flag');
    expect(r.error).toMatch(/flag: 2 is not a bool/);
    r.reset(Uint8Array.from([0, 0, 0, 3]));
    kv.xdrKvStatus.decode(r);
    expect(r.error).toBeNull();
    r.reset(Uint8Array.from([0, 0, 0, 9]));
    kv.xdrKvStatus.decode(r);
    expect(r.error).toMatch(/enum kv_status: 9 is not one of its values/);
    r.reset(Uint8Array.from([0, 0, 0, 2, 0xc3, 0x28, 0, 0]));
    r.string(10, 'name');
    expect(r.error).toMatch(/name: the bytes are not UTF-8 text/);
  });

  it('bounds the nesting of optional data (a list deeper than the limit is an error, not a stack overflow)', () => {
    const w = new XdrWriter();
    for (let i = 0; i < XDR_MAX_DEPTH + 5; i++) {
      w.word(1);
      w.uint(1);
      w.uint(2);
      w.uint(17);
      w.uint(100 + i);
    }
    w.word(0);
    const res = decodeAll(pmap.xdrPmaplistPtr, w.bytes());
    expect(res.ok).toBe(false);
    expect(!res.ok && res.error).toMatch(/nested more than 2000 levels/);
    // A list within the limit decodes.
    const ok = new XdrWriter();
    for (let i = 0; i < 1500; i++) {
      ok.word(1);
      for (let k = 0; k < 4; k++) ok.uint(i);
    }
    ok.word(0);
    expect(decodeAll(pmap.xdrPmaplistPtr, ok.bytes()).ok).toBe(true);
  });
});

describe('wire messages (XdrWriter.beginWire)', () => {
  it('hands out each message as a view that later messages, failed encodings and growth never change', () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.uint8Array({ maxLength: 9000 }), fc.boolean()), { minLength: 1, maxLength: 60 }), (items) => {
        const w = new XdrWriter(16);
        const kept: { bytes: Uint8Array; expected: string }[] = [];
        for (const [payload, fail] of items) {
          w.beginWire();
          w.word(payload.length);
          if (fail) {
            // An encoding abandoned half way (a value that does not fit) is never handed out.
            expect(() => w.varOpaque(payload, payload.length - 1)).toThrow(XdrEncodeError);
            continue;
          }
          w.varOpaque(payload, XDR_UNBOUNDED);
          const bytes = w.endWire();
          expect(bytes.length).toBe(8 + payload.length + ((4 - (payload.length & 3)) & 3));
          kept.push({ bytes, expected: hex(bytes) });
        }
        for (const k of kept) expect(hex(k.bytes)).toBe(k.expected);
      }),
      { numRuns: 200 },
    );
  });

  it('writes ordinary encodings from the start again after reset()', () => {
    const w = new XdrWriter(16);
    w.beginWire();
    w.word(7);
    const m = w.endWire();
    w.reset();
    w.word(9);
    expect(hex(w.bytes())).toBe('00000009');
    expect(hex(m)).toBe('00000007');
  });
});

describe('arrays of elements that take no bytes', () => {
  // Found by the property below (seed -1803503702): `struct t0 { opaque f0[0]; }; typedef t0 root<>;`
  // One element encodes as the count alone, which the old bound (a count never exceeds the bytes
  // left) refused.
  it('decode what they encode, and refuse a count of 2^31 without making 2^31 objects', () => {
    const s = spec('struct t0 {\n  opaque f0[0];\n};\ntypedef t0 root<>;');
    const c = new DynamicCodecs(s).named('root');
    const v = [{ f0: new Uint8Array(0) }, { f0: new Uint8Array(0) }, { f0: new Uint8Array(0) }];
    const bytes = encodeToBytes(c, v);
    expect(hex(bytes)).toBe('00000003');
    const back = decodeAll(c, bytes);
    expect(back.ok && back.value).toEqual(v);
    const huge = decodeAll(c, Uint8Array.from([0x80, 0, 0, 0]));
    expect(huge.ok).toBe(false);
    if (!huge.ok) expect(huge.error).toMatch(/2147483648 elements of a type that takes no bytes; this decoder accepts at most 65536/);
  });
});

describe('XDR of random types (property)', () => {
  it('decode(encode(v)) = v and encode(decode(b)) = b for random values of random .x types', () => {
    fc.assert(
      fc.property(
        specTextArb.chain((text) => {
          const s = spec(text);
          return valueArb(s, { kind: 'ref', name: 'root' }).map((v) => ({ text, s, v }));
        }),
        ({ s, v }) => {
          const c = new DynamicCodecs(s).named('root');
          const bytes = encodeToBytes(c, v);
          expect(bytes.length % 4).toBe(0);
          expect(bytes.length).toBeGreaterThanOrEqual(c.minBytes);
          const back = decodeAll(c, bytes);
          if (!back.ok) throw new Error(back.error);
          expect(back.value).toEqual(v);
          expect(hex(encodeToBytes(c, back.value))).toBe(hex(bytes));
          // Through JSON and back (what `packetlab rpc call` does) gives the same value.
          const json = JSON.parse(JSON.stringify(valueToJson(s, { kind: 'ref', name: 'root' }, v)));
          expect(jsonToValue(s, { kind: 'ref', name: 'root' }, json, 'v')).toEqual(v);
        },
      ),
      { numRuns: 300 },
    );
  });

  it('never throws on random bytes, whatever the type', () => {
    fc.assert(
      fc.property(specTextArb, fc.uint8Array({ maxLength: 300 }), (text, bytes) => {
        const c = new DynamicCodecs(spec(text)).named('root');
        const r = decodeAll(c, bytes);
        expect(typeof r.ok).toBe('boolean');
      }),
      { numRuns: 300 },
    );
  });
});

describe('generated codecs agree with the .x file', () => {
  const cases: { file: string; codecs: Record<string, unknown> }[] = [
    { file: 'experiments/rpc/types.x', codecs: types as Record<string, unknown> },
    { file: 'core/rpc/programs/kv.x', codecs: kv as Record<string, unknown> },
    { file: 'core/rpc/pmap.x', codecs: pmap as Record<string, unknown> },
  ];
  for (const { file, codecs } of cases) {
    it(`${file}: generated and run-time codecs give the same bytes and values`, () => {
      const s = specOf(file);
      const dyn = new DynamicCodecs(s);
      for (const t of s.types) {
        const pascal = t.name
          .split('_')
          .filter((x) => x)
          .map((x) => x[0]!.toUpperCase() + x.slice(1).toLowerCase())
          .join('');
        const gen = codecs[`xdr${pascal}`] as XdrCodec<unknown> | undefined;
        expect(gen, `xdr${pascal} of ${t.name}`).toBeDefined();
        const d = dyn.named(t.name);
        expect(gen!.minBytes).toBe(d.minBytes);
        fc.assert(
          fc.property(valueArb(s, { kind: 'ref', name: t.name }), (v) => {
            const a = encodeToBytes(gen!, v);
            const b = encodeToBytes(d, v);
            expect(hex(a)).toBe(hex(b));
            const back = decodeAll(gen!, a);
            if (!back.ok) throw new Error(back.error);
            expect(back.value).toEqual(v);
          }),
          { numRuns: 60 },
        );
        fc.assert(
          fc.property(fc.uint8Array({ maxLength: 120 }), (bytes) => {
            const x = decodeAll(gen!, bytes);
            const y = decodeAll(d, bytes);
            expect(x.ok).toBe(y.ok);
            if (x.ok && y.ok) expect(x.value).toEqual(y.value);
          }),
          { numRuns: 60 },
        );
      }
    });
  }

  it('the sample value of types.x covers every field and survives the round trip', () => {
    const v: TypesAll = sampleTypesAll();
    const back = decodeAll(xdrTypesAll, encodeToBytes(xdrTypesAll, v));
    expect(back.ok && back.value).toEqual(v);
  });
});

describe('JSON values (packetlab rpc call)', () => {
  const s = specOf('core/rpc/programs/kv.x');
  it('maps JSON to values by the declared types', () => {
    const v = jsonToValue(s, { kind: 'ref', name: 'kv_put_args' }, { key: 'k', value: '00ff', expected_revision: '18446744073709551615' }, 'args');
    expect(v).toEqual({ key: 'k', value: Uint8Array.from([0, 255]), expected_revision: 2n ** 64n - 1n });
    expect(jsonToValue(s, { kind: 'ref', name: 'kv_get_result' }, { status: 'KV_FULL', message: 'x' }, 'r')).toEqual({ status: 3, message: 'x' });
    expect(valueToJson(s, { kind: 'ref', name: 'kv_get_result' }, { status: 1 })).toEqual({ status: 'KV_NOT_FOUND' });
  });

  it('names the place and the problem of bad JSON', () => {
    const t = { kind: 'ref', name: 'kv_put_args' } as const;
    const bad: [unknown, RegExp][] = [
      [{ key: 'k', value: 'zz', expected_revision: null }, /args\.value: expected opaque data as a hex string/],
      [{ key: 'k'.repeat(65), value: '', expected_revision: null }, /args\.key: the string has 65 bytes, more than the maximum of 64/],
      [{ key: 'k', value: '', expected_revision: -1 }, /args\.expected_revision: -1 is outside the range of unsigned hyper/],
      [{ key: 'k', value: '', extra: 1 }, /struct kv_put_args has no member "extra"/],
      [{ value: '' }, /needs member "key"/],
      [[1], /expected an object for struct kv_put_args/],
    ];
    for (const [json, re] of bad) expect(() => jsonToValue(s, t, json, 'args')).toThrow(re);
    expect(() => jsonToValue(s, { kind: 'ref', name: 'kv_get_result' }, { status: 'NOPE' }, 'r')).toThrow(JsonValueError);
    expect(() => jsonToValue(s, { kind: 'ref', name: 'kv_get_result' }, { status: 'KV_NOT_FOUND', entry: {} }, 'r')).toThrow(/has no value \(void arm\), not "entry"/);
  });
});
