import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import {
  LINKTYPE_RAW,
  Opt,
  encodeEnhancedPacket,
  encodeInterfaceDescription,
  encodeInterfaceStatistics,
  encodeSectionHeader,
  enhancedPacketLength,
  optionNumber,
  optionText,
  optionTexts,
  readPcapng,
  splitNanoseconds,
  stringOption,
  u32Option,
  u64Option,
  type PcapngOption,
} from '../core/capture/pcapng.js';
import { UdpFramer, internetChecksum, parseIpAddress, type IpAddress } from '../core/capture/ip-udp.js';

const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');

const optionArb: fc.Arbitrary<PcapngOption> = fc.oneof(
  fc.string({ unit: 'grapheme', maxLength: 40 }).map((s) => stringOption(Opt.COMMENT, s)),
  fc.nat({ max: 0xffffffff }).map((v) => u32Option(Opt.EPB_FLAGS, v)),
  fc.record({ code: fc.integer({ min: 2, max: 0x7fff }), value: fc.uint8Array({ maxLength: 33 }) }),
);

type Spec =
  | { kind: 'idb'; linkType: number; snap: number; options: PcapngOption[] }
  | { kind: 'epb'; iface: number; high: number; low: number; data: Uint8Array; options: PcapngOption[] }
  | { kind: 'isb'; iface: number; high: number; low: number; options: PcapngOption[] };

const u32 = fc.nat({ max: 0xffffffff });
const specArb: fc.Arbitrary<Spec> = fc.oneof(
  fc.record({ kind: fc.constant('idb' as const), linkType: fc.nat({ max: 0xffff }), snap: u32, options: fc.array(optionArb, { maxLength: 4 }) }),
  fc.record({ kind: fc.constant('epb' as const), iface: u32, high: u32, low: u32, data: fc.uint8Array({ maxLength: 300 }), options: fc.array(optionArb, { maxLength: 4 }) }),
  fc.record({ kind: fc.constant('isb' as const), iface: u32, high: u32, low: u32, options: fc.array(optionArb, { maxLength: 4 }) }),
);

function encode(spec: Spec): Uint8Array {
  if (spec.kind === 'idb') return encodeInterfaceDescription(spec.linkType, spec.snap, spec.options);
  if (spec.kind === 'epb') return encodeEnhancedPacket(spec.iface, { high: spec.high, low: spec.low }, spec.data, spec.options);
  return encodeInterfaceStatistics(spec.iface, { high: spec.high, low: spec.low }, spec.options);
}

function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

describe('pcapng blocks', () => {
  it('writes the section header of the spec byte for byte', () => {
    // Block type, length 28, byte-order magic, version 1.0, section length -1, length again.
    expect(hex(encodeSectionHeader())).toBe('0a0d0d0a1c0000004d3c2b1a01000000ffffffffffffffff1c000000');
  });

  it('writes an enhanced packet block with padded data and a padded comment', () => {
    const b = encodeEnhancedPacket(3, { high: 1, low: 2 }, Uint8Array.of(0xaa, 0xbb, 0xcc), [stringOption(Opt.COMMENT, 'hi!!x')]);
    expect(hex(b)).toBe(
      [
        '06000000', // type
        '34000000', // total length 52
        '03000000', // interface id
        '01000000', // timestamp high
        '02000000', // timestamp low
        '03000000', // captured length
        '03000000', // original length
        'aabbcc00', // data, padded to 32 bits
        '01000500', // opt_comment, 5 bytes
        '6869212178000000', // "hi!!x" padded
        '00000000', // opt_endofopt
        '34000000', // total length again
      ].join(''),
    );
    expect(enhancedPacketLength(3, [stringOption(Opt.COMMENT, 'hi!!x')])).toBe(b.length);
  });

  it('reads back every block it writes, options and padding included', () => {
    fc.assert(
      fc.property(fc.array(optionArb, { maxLength: 3 }), fc.array(specArb, { maxLength: 12 }), (shbOptions, specs) => {
        const blocks = [encodeSectionHeader(shbOptions), ...specs.map(encode)];
        for (const b of blocks) expect(b.length % 4).toBe(0);
        const r = readPcapng(concat(blocks));
        expect(r.ok).toBe(true);
        expect(r.blocks.length).toBe(specs.length + 1);
        const shb = r.blocks[0]!;
        expect(shb.type === 'shb' && shb.littleEndian && shb.major === 1 && shb.minor === 0).toBe(true);
        expect(shb.type === 'shb' ? shb.options : null).toEqual(shbOptions);
        specs.forEach((s, i) => {
          const b = r.blocks[i + 1]!;
          if (s.kind === 'idb') expect(b).toEqual({ type: 'idb', linkType: s.linkType, snapLengthBytes: s.snap, options: s.options });
          else if (s.kind === 'epb') expect(b).toEqual({ type: 'epb', interfaceId: s.iface, timestamp: { high: s.high, low: s.low }, data: s.data, originalLength: s.data.length, options: s.options });
          else expect(b).toEqual({ type: 'isb', interfaceId: s.iface, timestamp: { high: s.high, low: s.low }, options: s.options });
        });
      }),
      { numRuns: 300 },
    );
  });

  it('never throws on truncated, extended or random files', () => {
    const blocks = [
      encodeSectionHeader([stringOption(Opt.COMMENT, 'c')]),
      encodeInterfaceDescription(LINKTYPE_RAW, 65535, [stringOption(Opt.IF_NAME, 'forward')]),
      encodeEnhancedPacket(0, { high: 0, low: 5 }, new Uint8Array(37), [stringOption(Opt.COMMENT, 'dropped: random loss (Bernoulli p=0.05)')]),
    ];
    const file = concat(blocks);
    const boundaries = new Set([0, blocks[0]!.length, blocks[0]!.length + blocks[1]!.length, file.length]);
    for (let n = 0; n <= file.length; n++) {
      // A cut between blocks reads the whole blocks before it; any other cut is an error, not an exception.
      expect(readPcapng(file.subarray(0, n)).ok, `cut at ${n}`).toBe(boundaries.has(n));
    }
    const r = readPcapng(concat([file, Uint8Array.of(1, 2, 3)]));
    expect(r.ok).toBe(false);
    expect(r.blocks.length).toBe(3);
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 400 }), (bytes) => {
        const x = readPcapng(bytes);
        if (!x.ok) expect(typeof x.error).toBe('string');
      }),
      { numRuns: 2000 },
    );
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), (tail) => {
        readPcapng(concat([encodeSectionHeader(), tail]));
      }),
      { numRuns: 2000 },
    );
  });

  it('reads string and number options', () => {
    const opts = [stringOption(Opt.COMMENT, 'a'), stringOption(Opt.COMMENT, 'ü'), u32Option(Opt.EPB_FLAGS, 2), u64Option(Opt.ISB_IFRECV, 2 ** 40 + 7)];
    expect(optionText(opts, Opt.COMMENT)).toBe('a');
    expect(optionTexts(opts, Opt.COMMENT)).toEqual(['a', 'ü']);
    expect(optionNumber(opts, Opt.EPB_FLAGS)).toBe(2);
    expect(optionNumber(opts, Opt.ISB_IFRECV)).toBe(2 ** 40 + 7);
    expect(optionNumber(opts, Opt.ISB_IFDROP)).toBeNull();
  });
});

describe('pcapng timestamps', () => {
  it('splits nanoseconds exactly, also past 2^53', () => {
    fc.assert(
      fc.property(fc.nat({ max: 4e12 }), fc.nat({ max: 999_999 }), (wholeMs, fracNs) => {
        const ms = wholeMs + fracNs / 1e6;
        const { high, low } = splitNanoseconds(ms);
        // The reference rounds the fraction the double actually holds.
        const expected = BigInt(wholeMs) * 1_000_000n + BigInt(Math.round((ms - wholeMs) * 1e6));
        expect((BigInt(high) << 32n) + BigInt(low)).toBe(expected);
        expect(low).toBeLessThan(2 ** 32);
        expect(Number.isInteger(high) && Number.isInteger(low)).toBe(true);
      }),
      { numRuns: 2000 },
    );
    expect(splitNanoseconds(0)).toEqual({ high: 0, low: 0 });
    expect(splitNanoseconds(-5)).toEqual({ high: 0, low: 0 });
    expect(splitNanoseconds(1.5)).toEqual({ high: 0, low: 1_500_000 });
  });
});

// An independent checksum: the pseudo-header and the UDP segment summed as 16-bit words.
function onesComplementSum(words: number[]): number {
  let s = 0;
  for (const w of words) {
    s += w;
    s = (s & 0xffff) + (s >>> 16);
  }
  return s;
}

function wordsOf(b: Uint8Array): number[] {
  const out: number[] = [];
  for (let i = 0; i < b.length; i += 2) out.push((b[i]! << 8) | (b[i + 1] ?? 0));
  return out;
}

const v4Arb = fc.uint8Array({ minLength: 4, maxLength: 4 }).map((bytes): IpAddress => ({ family: 4, bytes }));
const v6Arb = fc
  .uint8Array({ minLength: 16, maxLength: 16 })
  .filter((b) => !(b.subarray(0, 10).every((x) => x === 0) && b[10] === 0xff && b[11] === 0xff))
  .map((bytes): IpAddress => ({ family: 6, bytes }));

describe('IP/UDP framing', () => {
  it('gives valid IPv4 header and UDP checksums and the payload unchanged', () => {
    const framer = new UdpFramer();
    fc.assert(
      fc.property(v4Arb, v4Arb, fc.nat({ max: 65535 }), fc.nat({ max: 65535 }), fc.uint8Array({ maxLength: 3000 }), (src, dst, sp, dp, payload) => {
        const p = framer.frame(src, sp, dst, dp, payload);
        expect(p.length).toBe(28 + payload.length);
        expect(p[0]).toBe(0x45);
        expect((p[2]! << 8) | p[3]!).toBe(p.length);
        expect(p[9]).toBe(17);
        expect(internetChecksum(p, 0, 20)).toBe(0);
        expect(Array.from(p.subarray(12, 16))).toEqual(Array.from(src.bytes));
        expect(Array.from(p.subarray(16, 20))).toEqual(Array.from(dst.bytes));
        const udp = p.subarray(20);
        expect((udp[0]! << 8) | udp[1]!).toBe(sp);
        expect((udp[2]! << 8) | udp[3]!).toBe(dp);
        expect((udp[4]! << 8) | udp[5]!).toBe(8 + payload.length);
        expect((udp[6]! << 8) | udp[7]!).not.toBe(0);
        const pseudo = [...wordsOf(src.bytes), ...wordsOf(dst.bytes), 17, udp.length];
        expect(onesComplementSum([...pseudo, ...wordsOf(udp)])).toBe(0xffff);
        expect(hex(udp.subarray(8))).toBe(hex(payload));
      }),
      { numRuns: 300 },
    );
  });

  it('uses IPv6 when either end is IPv6, with the UDP checksum RFC 8200 asks for', () => {
    const framer = new UdpFramer();
    fc.assert(
      fc.property(fc.oneof(v4Arb, v6Arb), v6Arb, fc.boolean(), fc.uint8Array({ maxLength: 2000 }), (a, b, swap, payload) => {
        const [src, dst] = swap ? [b, a] : [a, b];
        const p = framer.frame(src, 1000, dst, 2000, payload);
        expect(p[0]! >> 4).toBe(6);
        expect((p[4]! << 8) | p[5]!).toBe(8 + payload.length);
        expect(p[6]).toBe(17);
        const mapped = (x: IpAddress) => (x.family === 6 ? x.bytes : Uint8Array.of(0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, ...x.bytes));
        expect(hex(p.subarray(8, 24))).toBe(hex(mapped(src)));
        expect(hex(p.subarray(24, 40))).toBe(hex(mapped(dst)));
        const udp = p.subarray(40);
        const len = udp.length;
        const pseudo = [...wordsOf(p.subarray(8, 40)), len >>> 16, len & 0xffff, 0, 17];
        expect(onesComplementSum([...pseudo, ...wordsOf(udp)])).toBe(0xffff);
      }),
      { numRuns: 200 },
    );
  });

  it('refuses a payload that no UDP datagram can carry', () => {
    const framer = new UdpFramer();
    const v4 = parseIpAddress('10.0.0.1')!;
    expect(() => framer.frame(v4, 1, v4, 2, new Uint8Array(65508))).toThrow(/65507/);
    expect(framer.frame(v4, 1, v4, 2, new Uint8Array(65507)).length).toBe(65535);
  });

  it('parses IPv4 and IPv6 addresses, IPv4-mapped ones as IPv4', () => {
    expect(parseIpAddress('10.0.0.2')).toEqual({ family: 4, bytes: Uint8Array.of(10, 0, 0, 2) });
    expect(parseIpAddress('::ffff:127.0.0.1')).toEqual({ family: 4, bytes: Uint8Array.of(127, 0, 0, 1) });
    expect(hex(parseIpAddress('::1')!.bytes)).toBe('00000000000000000000000000000001');
    expect(hex(parseIpAddress('fe80::1%eth0')!.bytes)).toBe('fe800000000000000000000000000001');
    expect(hex(parseIpAddress('2001:db8::8a2e:370:7334')!.bytes)).toBe('20010db80000000000008a2e03707334');
    expect(hex(parseIpAddress('64:ff9b::192.0.2.33')!.bytes)).toBe('0064ff9b0000000000000000c0000221');
    for (const bad of ['', '1.2.3', '256.1.1.1', '1.2.3.4.5', ':::', '1::2::3', '1:2:3:4:5:6:7:8:9', '12345::', 'abc', '1:2:3:4:5:6:7::8']) {
      expect(parseIpAddress(bad), bad).toBeNull();
    }
    fc.assert(
      fc.property(v6Arb, fc.nat({ max: 7 }), fc.nat({ max: 8 }), (a, start, len) => {
        const groups = Array.from({ length: 8 }, (_, i) => ((a.bytes[2 * i]! << 8) | a.bytes[2 * i + 1]!).toString(16));
        expect(hex(parseIpAddress(groups.join(':'))!.bytes)).toBe(hex(a.bytes));
        // Compress a run of groups into "::" after zeroing them.
        const n = Math.min(len, 8 - start);
        if (n === 0) return;
        const zeroed = a.bytes.slice();
        zeroed.fill(0, 2 * start, 2 * (start + n));
        const text = `${groups.slice(0, start).join(':')}::${groups.slice(start + n).join(':')}`;
        const r = parseIpAddress(text);
        const isMapped = zeroed.subarray(0, 10).every((x) => x === 0) && zeroed[10] === 0xff && zeroed[11] === 0xff;
        if (isMapped) expect(r?.family).toBe(4);
        else expect(hex(r!.bytes)).toBe(hex(zeroed));
      }),
      { numRuns: 500 },
    );
  });
});
