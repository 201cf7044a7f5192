import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { crc32c as crc32cNative } from '@node-rs/crc32';
import crc32cJs from 'crc-32/crc32c.js';
import {
  Flag,
  HEADER_BYTES,
  MAX_SACK_BLOCKS,
  PacketType,
  emit,
  parse,
  verifyChecksum,
  crc32c,
  crc32cImplementation,
  type HeaderFields,
} from '../core/wire/packet.js';
import { compiledModuleUrl } from '../net/paths.js';
import { seqAdd, seqDiff, seqGeq, seqGt, seqLeq, seqLt } from '../core/wire/seq.js';
import { decodeSynOptions, encodeSynOptions, Service } from '../core/wire/handshake.js';

const u32 = fc.nat({ max: 0xffffffff });

const headerArb: fc.Arbitrary<{ h: HeaderFields; payload: Uint8Array }> = fc
  .record({
    type: fc.constantFrom(...Object.values(PacketType)),
    flags: fc.subarray([Flag.ACK, Flag.MSG_END, Flag.ECHO]).map((fs) => fs.reduce((a, b) => a | b, 0)),
    connectionId: u32,
    seq: u32,
    ack: u32,
    windowBytes: u32,
    tsVal: u32,
    tsEcr: u32,
    sack: fc.array(u32, { maxLength: 2 * MAX_SACK_BLOCKS }).map((a) => (a.length % 2 === 0 ? a : a.slice(1))),
    payload: fc.uint8Array({ maxLength: 1500 }),
  })
  .map(({ payload, sack, ...rest }) => ({ h: { ...rest, sackCount: sack.length / 2, sack }, payload }));

describe('wire codec', () => {
  it('parse(emit(x)) gives back x', () => {
    fc.assert(
      fc.property(headerArb, ({ h, payload }) => {
        const bytes = emit(h, payload);
        const r = parse(bytes);
        expect(r.ok).toBe(true);
        if (!r.ok) return;
        const { header } = r;
        expect(header.type).toBe(h.type);
        expect(header.flags).toBe(h.flags);
        expect(header.connectionId).toBe(h.connectionId);
        expect(header.seq).toBe(h.seq);
        expect(header.ack).toBe(h.ack);
        expect(header.windowBytes).toBe(h.windowBytes);
        expect(header.tsVal).toBe(h.tsVal);
        expect(header.tsEcr).toBe(h.tsEcr);
        expect(header.sackCount).toBe(h.sackCount);
        expect(Array.from(header.sack.subarray(0, 2 * h.sackCount))).toEqual(Array.from(h.sack));
        expect(Array.from(r.payload)).toEqual(Array.from(payload));
        expect(verifyChecksum(bytes, bytes.length)).toBe(true);
      }),
    );
  });

  it('never throws on random bytes', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 2000 }), (bytes) => {
        const r = parse(bytes);
        if (!r.ok) expect(typeof r.error).toBe('string');
        verifyChecksum(bytes, bytes.length);
      }),
      { numRuns: 2000 },
    );
  });

  // Mutations of emitted datagrams, not only random bytes (which rarely get past the magic number):
  // CRC32C has a Hamming distance of at least 4 at every datagram length, so up to 3 flipped bits
  // always fail the check, wherever they fall (header, payload or the checksum itself).
  it('catches 1 to 3 flipped bits anywhere in an emitted datagram, and never throws on one', () => {
    fc.assert(
      fc.property(headerArb, fc.array(fc.nat(), { minLength: 1, maxLength: 3 }), ({ h, payload }, picks) => {
        const bytes = emit(h, payload);
        const bits = bytes.length * 8;
        const flipped = new Set(picks.map((p) => p % bits));
        const m = bytes.slice();
        for (const b of flipped) m[b >>> 3] = m[b >>> 3]! ^ (1 << (b & 7));
        expect(verifyChecksum(m, m.length)).toBe(false);
        const r = parse(m);
        if (!r.ok) expect(typeof r.error).toBe('string');
      }),
      { numRuns: 3000 },
    );
  });

  it('never throws on an emitted datagram with bytes overwritten, cut short or extended', () => {
    fc.assert(
      fc.property(headerArb, fc.array(fc.tuple(fc.nat(), fc.nat({ max: 255 })), { maxLength: 8 }), fc.integer({ min: -40, max: 40 }), ({ h, payload }, writes, grow) => {
        const bytes = emit(h, payload);
        const m = new Uint8Array(Math.max(0, bytes.length + grow));
        m.set(bytes.subarray(0, Math.min(bytes.length, m.length)));
        for (const [at, v] of writes) if (m.length > 0) m[at % m.length] = v;
        const r = parse(m);
        if (!r.ok) expect(typeof r.error).toBe('string');
        verifyChecksum(m, m.length);
      }),
      { numRuns: 3000 },
    );
  });

  it('rejects every truncation, byte by byte, and trailing data', () => {
    fc.assert(
      fc.property(headerArb, fc.uint8Array({ minLength: 1, maxLength: 8 }), ({ h, payload }, extra) => {
        const bytes = emit(h, payload);
        for (let n = 0; n < bytes.length; n++) {
          const r = parse(bytes.subarray(0, n));
          expect(r.ok).toBe(false);
          if (!r.ok) expect(r.error).toBe('truncated');
        }
        const longer = new Uint8Array(bytes.length + extra.length);
        longer.set(bytes);
        longer.set(extra, bytes.length);
        const r = parse(longer);
        expect(r.ok).toBe(false);
        if (!r.ok) expect(r.error).toBe('length-mismatch');
      }),
      { numRuns: 200 },
    );
  });

  it('names what is wrong with a malformed header', () => {
    const good = emit({ type: PacketType.DATA, flags: 0, connectionId: 1, seq: 2, ack: 3, windowBytes: 4, tsVal: 5, tsEcr: 6, sackCount: 0, sack: [] });
    const bad = (i: number, v: number) => {
      const b = good.slice();
      b[i] = v;
      const r = parse(b);
      return r.ok ? 'ok' : r.error;
    };
    expect(bad(0, 0)).toBe('bad-magic');
    expect(bad(2, 9)).toBe('unsupported-version');
    expect(bad(3, 0)).toBe('unknown-type');
    expect(bad(3, 200)).toBe('unknown-type');
    expect(bad(4, 0x80)).toBe('unknown-flags');
    expect(bad(5, MAX_SACK_BLOCKS + 1)).toBe('too-many-sack-blocks');
  });

  it('detects every single-bit flip with the CRC32C', () => {
    fc.assert(
      fc.property(headerArb, fc.nat(), ({ h, payload }, bitSeed) => {
        const bytes = emit(h, payload);
        const bit = bitSeed % (bytes.length * 8);
        bytes[bit >>> 3] = bytes[bit >>> 3]! ^ (1 << (bit & 7));
        expect(verifyChecksum(bytes, bytes.length)).toBe(false);
      }),
      { numRuns: 500 },
    );
  });

  it('has a fixed 36-byte header', () => {
    expect(emit({ type: PacketType.ACK, flags: 0, connectionId: 0, seq: 0, ack: 0, windowBytes: 0, tsVal: 0, tsEcr: 0, sackCount: 0, sack: [] }).length).toBe(HEADER_BYTES);
  });
});

describe('sequence numbers', () => {
  it('compare by serial arithmetic across the wrap point', () => {
    fc.assert(
      fc.property(u32, fc.integer({ min: -(2 ** 31) + 1, max: 2 ** 31 - 1 }), (a, d) => {
        const b = seqAdd(a, d);
        expect(seqDiff(b, a)).toBe(d);
        expect(seqLt(a, b)).toBe(d > 0);
        expect(seqGt(a, b)).toBe(d < 0);
        expect(seqLeq(a, b)).toBe(d >= 0);
        expect(seqGeq(a, b)).toBe(d <= 0);
      }),
    );
  });

  it('wraps at 2^32', () => {
    expect(seqAdd(0xffffffff, 1)).toBe(0);
    expect(seqLt(0xfffffff0, 5)).toBe(true);
    expect(seqGt(5, 0xfffffff0)).toBe(true);
  });
});

describe('SYN options', () => {
  it('round-trip both services', () => {
    const reliable = { service: Service.RELIABLE, protocol: 'gbn', sack: false, verifyChecksum: true, verifyData: false, mssBytes: 1000, ackEveryPackets: 2, ackDelayMs: 40, rcvBufferBytes: 65536, readRateBytesPerSecond: 1e6, patternSeed: 0xdeadbeef } as const;
    expect(decodeSynOptions(encodeSynOptions(reliable))).toEqual({ ok: true, options: reliable });
    const stream = { service: Service.STREAM, datagramBytes: 1200, ratePacketsPerSecond: 5000, durationMs: 10_000, reportIntervalMs: 100 } as const;
    expect(decodeSynOptions(encodeSynOptions(stream))).toEqual({ ok: true, options: stream });
  });

  it('names the bad field and never throws on random bytes', () => {
    expect(decodeSynOptions(new Uint8Array(3))).toEqual({ ok: false, error: 'SYN options are 3 bytes, expected 24' });
    const b = encodeSynOptions({ service: Service.RELIABLE, protocol: 'sr', sack: true, verifyChecksum: true, mssBytes: 1000, ackEveryPackets: 1, ackDelayMs: 0, rcvBufferBytes: 65536, readRateBytesPerSecond: 0 });
    b[2] = 7;
    const r = decodeSynOptions(b);
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.error).toMatch(/ARQ mode 7/);
    fc.assert(fc.property(fc.uint8Array({ maxLength: 40 }), (bytes) => void decodeSynOptions(bytes)));
  });
});

describe('CRC32C', () => {
  it('gives the standard check value, and the JS and native libraries agree at every size', () => {
    expect(crc32c(new TextEncoder().encode('123456789'))).toBe(0xe3069283);
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 9000 }), (b) => {
        expect(crc32cJs.buf(b) >>> 0).toBe(crc32cNative(b) >>> 0);
        expect(crc32c(b)).toBe(crc32cNative(b) >>> 0);
      }),
    );
  });

  it('runs the native binding where its prebuilt binary is installed, and says so', () => {
    expect(crc32cImplementation()).toEqual({ kind: 'native', why: null });
  });

  it('falls back to the JavaScript table for every size when the native binding cannot load', () => {
    // A Node process in which @node-rs/crc32 resolves to a module that throws the way the binding's
    // loader does when no prebuilt binary matches the platform (an app package built for another
    // one). Importing the wire module must not fail, and every checksum must still be right.
    const dir = mkdtempSync(join(tmpdir(), 'packetlab-crc-'));
    try {
      const missing = join(dir, 'missing-binding.cjs');
      writeFileSync(missing, "throw new Error('Cannot find native binding (no prebuilt binary for this platform in this test)');\n");
      const hooks = join(dir, 'hooks.mjs');
      writeFileSync(
        hooks,
        [
          "import { registerHooks } from 'node:module';",
          `const missing = ${JSON.stringify(pathToFileURL(missing).href)};`,
          "registerHooks({ resolve: (specifier, context, next) => (specifier === '@node-rs/crc32' ? { url: missing, format: 'commonjs', shortCircuit: true } : next(specifier, context)) });",
        ].join('\n'),
      );
      const sizes = [0, 1, 36, 255, 256, 1200, 9000];
      const bytesOf = (n: number) => Uint8Array.from({ length: n }, (_, i) => (i * 31 + 7) & 0xff);
      const packet = compiledModuleUrl(import.meta.url, '../core/wire/packet.js').href;
      const script = [
        `const { crc32c, crc32cImplementation } = await import(${JSON.stringify(packet)});`,
        `const values = ${JSON.stringify(sizes)}.map((n) => crc32c(Uint8Array.from({ length: n }, (_, i) => (i * 31 + 7) & 0xff)));`,
        'console.log(JSON.stringify({ values, implementation: crc32cImplementation() }));',
      ].join('\n');
      const r = spawnSync(process.execPath, ['--import', pathToFileURL(hooks).href, '--input-type=module', '-e', script], { encoding: 'utf8', timeout: 30_000 });
      expect(r.status, r.stderr).toBe(0);
      const out = JSON.parse(r.stdout) as { values: number[]; implementation: { kind: string; why: string | null } };
      expect(out.implementation).toEqual({ kind: 'javascript', why: expect.stringMatching(new RegExp(`^@node-rs/crc32 did not load on ${process.platform}-${process.arch}: Cannot find native binding \\(no prebuilt binary`)) });
      expect(out.values).toEqual(sizes.map((n) => crc32cNative(bytesOf(n)) >>> 0));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
