// pcapng (draft-ietf-opsawg-pcapng, "PCAP Now Generic"): the blocks a capture needs, as bytes and
// back. No npm package writes pcapng (checked: `pcap` binds libpcap for live capture,
// `pcap-parser` and `pcap-ng-parser` only read), so the documented format is written here.
//
// Every block is: type (u32), total length (u32), body padded to 32 bits, total length again.
// Options are (code u16, length u16, value padded to 32 bits) and end with opt_endofopt.
// Files are written little-endian; the reader follows the byte order of each section header.
// The encoders return fresh byte arrays (one per block); `readPcapng` is for tests and tools and
// never throws on bad bytes.

/** Block type of the Section Header Block (section 4.1). */
export const BLOCK_SHB = 0x0a0d0d0a;
/** Block type of the Interface Description Block (section 4.2). */
export const BLOCK_IDB = 0x00000001;
/** Block type of the Interface Statistics Block (section 4.6). */
export const BLOCK_ISB = 0x00000005;
/** Block type of the Enhanced Packet Block (section 4.3). */
export const BLOCK_EPB = 0x00000006;
/** Byte-order magic of a section header. */
export const BYTE_ORDER_MAGIC = 0x1a2b3c4d;

/** LINKTYPE_RAW: each packet starts with an IPv4 or IPv6 header (tcpdump.org link types). */
export const LINKTYPE_RAW = 101;

/** Option codes the lab writes or reads (section 3.5 and the block sections). */
export const Opt = {
  END: 0,
  COMMENT: 1,
  SHB_HARDWARE: 2,
  SHB_OS: 3,
  SHB_USERAPPL: 4,
  IF_NAME: 2,
  IF_DESCRIPTION: 3,
  IF_TSRESOL: 9,
  EPB_FLAGS: 2,
  ISB_STARTTIME: 2,
  ISB_ENDTIME: 3,
  ISB_IFRECV: 4,
  ISB_IFDROP: 5,
} as const;

/** Direction bits of epb_flags (section 4.3.1): bits 0-1. */
export const EpbDirection = { UNKNOWN: 0, INBOUND: 1, OUTBOUND: 2 } as const;

/** One option: a code and its raw value bytes (strings are UTF-8 without a terminator). */
export interface PcapngOption {
  code: number;
  value: Uint8Array;
}

/** A timestamp in units of the interface's resolution, split as pcapng stores it. */
export interface SplitTimestamp {
  high: number;
  low: number;
}

const TWO_POW_32 = 4294967296;
const encoder = new TextEncoder();
const decoder = new TextDecoder('utf-8', { fatal: false });

/** Bytes of `n` rounded up to a multiple of 4. */
export function pad4(n: number): number {
  return (n + 3) & ~3;
}

/** A UTF-8 string option. */
export function stringOption(code: number, text: string): PcapngOption {
  return { code, value: encoder.encode(text) };
}

/** A little-endian unsigned 32-bit option. */
export function u32Option(code: number, value: number): PcapngOption {
  const v = new Uint8Array(4);
  new DataView(v.buffer).setUint32(0, value >>> 0, true);
  return { code, value: v };
}

/** A little-endian unsigned 64-bit option from a non-negative safe integer. */
export function u64Option(code: number, value: number): PcapngOption {
  const v = new Uint8Array(8);
  const d = new DataView(v.buffer);
  d.setUint32(0, value % TWO_POW_32, true);
  d.setUint32(4, Math.floor(value / TWO_POW_32), true);
  return { code, value: v };
}

/** A timestamp option (isb_starttime, isb_endtime): high word first, each little-endian. */
export function timestampOption(code: number, ts: SplitTimestamp): PcapngOption {
  const v = new Uint8Array(8);
  const d = new DataView(v.buffer);
  d.setUint32(0, ts.high, true);
  d.setUint32(4, ts.low, true);
  return { code, value: v };
}

/**
 * Nanoseconds since the epoch for a time in milliseconds, split into two 32-bit words without
 * BigInt and without losing precision: wall-clock times in ns (about 1.7e18) are beyond 2^53.
 * Negative times are clamped to 0.
 */
export function splitNanoseconds(ms: number): SplitTimestamp {
  if (!(ms > 0)) return { high: 0, low: 0 };
  const whole = Math.floor(ms);
  const fracNs = Math.round((ms - whole) * 1e6);
  // ns = whole * 1e6 + fracNs with whole = wh * 2^32 + wl; every partial product below is exact.
  const wh = Math.floor(whole / TWO_POW_32);
  const wl = whole - wh * TWO_POW_32;
  const x = wl * 1e6 + fracNs;
  const xh = Math.floor(x / TWO_POW_32);
  return { high: wh * 1e6 + xh, low: x - xh * TWO_POW_32 };
}

function optionsLength(options: readonly PcapngOption[]): number {
  if (options.length === 0) return 0;
  let n = 4; // opt_endofopt
  for (const o of options) n += 4 + pad4(o.value.length);
  return n;
}

function writeOptions(d: DataView, bytes: Uint8Array, at: number, options: readonly PcapngOption[]): number {
  if (options.length === 0) return at;
  for (const o of options) {
    if (o.value.length > 0xffff) throw new RangeError(`pcapng option ${o.code} is ${o.value.length} bytes; at most 65535 fit`);
    d.setUint16(at, o.code, true);
    d.setUint16(at + 2, o.value.length, true);
    bytes.set(o.value, at + 4);
    at += 4 + pad4(o.value.length);
  }
  d.setUint32(at, 0, true);
  return at + 4;
}

function block(type: number, fixedBodyBytes: number, data: Uint8Array | null, options: readonly PcapngOption[]): { bytes: Uint8Array; view: DataView; dataAt: number } {
  const dataLen = data === null ? 0 : pad4(data.length);
  const total = 12 + fixedBodyBytes + dataLen + optionsLength(options);
  const bytes = new Uint8Array(total);
  const view = new DataView(bytes.buffer);
  view.setUint32(0, type, true);
  view.setUint32(4, total, true);
  const dataAt = 8 + fixedBodyBytes;
  if (data !== null) bytes.set(data, dataAt);
  writeOptions(view, bytes, dataAt + dataLen, options);
  view.setUint32(total - 4, total, true);
  return { bytes, view, dataAt };
}

/** A Section Header Block of unknown section length (the file is written as a stream). */
export function encodeSectionHeader(options: readonly PcapngOption[] = []): Uint8Array {
  const { bytes, view } = block(BLOCK_SHB, 16, null, options);
  view.setUint32(8, BYTE_ORDER_MAGIC, true);
  view.setUint16(12, 1, true);
  view.setUint16(14, 0, true);
  // Section length -1: not specified, as every streaming writer does.
  view.setInt32(16, -1, true);
  view.setInt32(20, -1, true);
  return bytes;
}

/** An Interface Description Block. */
export function encodeInterfaceDescription(linkType: number, snapLengthBytes: number, options: readonly PcapngOption[] = []): Uint8Array {
  const { bytes, view } = block(BLOCK_IDB, 8, null, options);
  view.setUint16(8, linkType, true);
  view.setUint16(10, 0, true);
  view.setUint32(12, snapLengthBytes >>> 0, true);
  return bytes;
}

/**
 * Bytes of an Enhanced Packet Block with `dataBytes` captured bytes and the given options, so a
 * writer can check a size cap before it builds the block.
 */
export function enhancedPacketLength(dataBytes: number, options: readonly PcapngOption[]): number {
  return 32 + pad4(dataBytes) + optionsLength(options);
}

/** An Enhanced Packet Block; `originalLength` defaults to the captured length. */
export function encodeEnhancedPacket(interfaceId: number, ts: SplitTimestamp, data: Uint8Array, options: readonly PcapngOption[] = [], originalLength = data.length): Uint8Array {
  const { bytes, view } = block(BLOCK_EPB, 20, data, options);
  view.setUint32(8, interfaceId, true);
  view.setUint32(12, ts.high, true);
  view.setUint32(16, ts.low, true);
  view.setUint32(20, data.length, true);
  view.setUint32(24, originalLength, true);
  return bytes;
}

/** An Interface Statistics Block. */
export function encodeInterfaceStatistics(interfaceId: number, ts: SplitTimestamp, options: readonly PcapngOption[] = []): Uint8Array {
  const { bytes, view } = block(BLOCK_ISB, 12, null, options);
  view.setUint32(8, interfaceId, true);
  view.setUint32(12, ts.high, true);
  view.setUint32(16, ts.low, true);
  return bytes;
}

/** A block read back from a file. */
export type PcapngBlock =
  | { type: 'shb'; major: number; minor: number; littleEndian: boolean; options: PcapngOption[] }
  | { type: 'idb'; linkType: number; snapLengthBytes: number; options: PcapngOption[] }
  | { type: 'epb'; interfaceId: number; timestamp: SplitTimestamp; data: Uint8Array; originalLength: number; options: PcapngOption[] }
  | { type: 'isb'; interfaceId: number; timestamp: SplitTimestamp; options: PcapngOption[] }
  | { type: 'other'; blockType: number; body: Uint8Array };

/** Result of readPcapng. */
export type PcapngReadResult = { ok: true; blocks: PcapngBlock[] } | { ok: false; error: string; blocks: PcapngBlock[] };

function readOptions(bytes: Uint8Array, view: DataView, at: number, end: number, le: boolean): PcapngOption[] | string {
  const out: PcapngOption[] = [];
  while (at + 4 <= end) {
    const code = view.getUint16(at, le);
    const len = view.getUint16(at + 2, le);
    if (code === Opt.END) return out;
    if (at + 4 + len > end) return `option ${code} at byte ${at} runs past its block`;
    out.push({ code, value: bytes.slice(at + 4, at + 4 + len) });
    at += 4 + pad4(len);
  }
  // The end-of-options marker may be left out when the options fill the block exactly.
  return at === end ? out : `options end inside an option header at byte ${at}`;
}

/** Reads every block of a pcapng file. Never throws: a malformed file gives the blocks before the error. */
export function readPcapng(bytes: Uint8Array): PcapngReadResult {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const blocks: PcapngBlock[] = [];
  let le = true;
  let at = 0;
  let sawSection = false;
  while (at < bytes.length) {
    if (at + 12 > bytes.length) return { ok: false, error: `truncated block header at byte ${at}`, blocks };
    const rawType = view.getUint32(at, true);
    if (rawType === BLOCK_SHB) {
      const magic = view.getUint32(at + 8, true);
      if (magic === BYTE_ORDER_MAGIC) le = true;
      else if (magic === 0x4d3c2b1a) le = false;
      else return { ok: false, error: `bad byte-order magic 0x${magic.toString(16)} at byte ${at + 8}`, blocks };
      sawSection = true;
    } else if (!sawSection) {
      return { ok: false, error: 'the file does not start with a section header block', blocks };
    }
    const type = view.getUint32(at, le);
    const total = view.getUint32(at + 4, le);
    if (total < 12 || total % 4 !== 0) return { ok: false, error: `block at byte ${at} has length ${total}, not a multiple of 4 of at least 12`, blocks };
    if (at + total > bytes.length) return { ok: false, error: `block at byte ${at} (${total} bytes) runs past the end of the file`, blocks };
    if (view.getUint32(at + total - 4, le) !== total) return { ok: false, error: `block at byte ${at}: trailing length differs from ${total}`, blocks };
    const end = at + total - 4;
    const fail = (what: string): PcapngReadResult => ({ ok: false, error: `block at byte ${at}: ${what}`, blocks });
    let parsed: PcapngBlock;
    if (type === BLOCK_SHB) {
      if (total < 28) return fail('section header shorter than 28 bytes');
      const options = readOptions(bytes, view, at + 24, end, le);
      if (typeof options === 'string') return fail(options);
      parsed = { type: 'shb', major: view.getUint16(at + 12, le), minor: view.getUint16(at + 14, le), littleEndian: le, options };
    } else if (type === BLOCK_IDB) {
      if (total < 20) return fail('interface description shorter than 20 bytes');
      const options = readOptions(bytes, view, at + 16, end, le);
      if (typeof options === 'string') return fail(options);
      parsed = { type: 'idb', linkType: view.getUint16(at + 8, le), snapLengthBytes: view.getUint32(at + 12, le), options };
    } else if (type === BLOCK_EPB) {
      if (total < 32) return fail('enhanced packet shorter than 32 bytes');
      const captured = view.getUint32(at + 20, le);
      if (at + 28 + pad4(captured) > end) return fail(`captured length ${captured} runs past the block`);
      const options = readOptions(bytes, view, at + 28 + pad4(captured), end, le);
      if (typeof options === 'string') return fail(options);
      parsed = {
        type: 'epb',
        interfaceId: view.getUint32(at + 8, le),
        timestamp: { high: view.getUint32(at + 12, le), low: view.getUint32(at + 16, le) },
        data: bytes.slice(at + 28, at + 28 + captured),
        originalLength: view.getUint32(at + 24, le),
        options,
      };
    } else if (type === BLOCK_ISB) {
      if (total < 24) return fail('interface statistics shorter than 24 bytes');
      const options = readOptions(bytes, view, at + 20, end, le);
      if (typeof options === 'string') return fail(options);
      parsed = { type: 'isb', interfaceId: view.getUint32(at + 8, le), timestamp: { high: view.getUint32(at + 12, le), low: view.getUint32(at + 16, le) }, options };
    } else {
      parsed = { type: 'other', blockType: type, body: bytes.slice(at + 8, end) };
    }
    blocks.push(parsed);
    at += total;
  }
  return { ok: true, blocks };
}

/** The UTF-8 text of the first option with `code`, or null. */
export function optionText(options: readonly PcapngOption[], code: number): string | null {
  const o = options.find((x) => x.code === code);
  return o === undefined ? null : decoder.decode(o.value);
}

/** Every UTF-8 text value of options with `code` (opt_comment may repeat). */
export function optionTexts(options: readonly PcapngOption[], code: number): string[] {
  return options.filter((x) => x.code === code).map((x) => decoder.decode(x.value));
}

/** The unsigned integer (1, 4 or 8 bytes, little-endian as the lab writes) of the first option with `code`, or null. */
export function optionNumber(options: readonly PcapngOption[], code: number): number | null {
  const o = options.find((x) => x.code === code);
  if (o === undefined) return null;
  const d = new DataView(o.value.buffer, o.value.byteOffset, o.value.byteLength);
  if (o.value.length === 4) return d.getUint32(0, true);
  if (o.value.length === 8) return d.getUint32(0, true) + d.getUint32(4, true) * TWO_POW_32;
  if (o.value.length === 1) return o.value[0]!;
  return null;
}
