// The Packet Lab datagram: a fixed 36-byte header, up to four SACK blocks, then the payload.
// The layout is documented field by field in docs/wire.md. All integers are big-endian.
//
// Two representations, as in smoltcp's wire/ modules: the bytes, and a plain `Header` value.
// `parseInto` fills a caller-owned Header without allocating (the per-packet path);
// `parse` is the allocating convenience used by tools and tests. Neither throws on bytes.

import { createRequire } from 'node:module';
import type * as NodeRsCrc32 from '@node-rs/crc32';
import crc32cJs from 'crc-32/crc32c.js';

/**
 * Below this size a pure-JavaScript table CRC beats the native (SSE4.2) one, whose N-API call
 * costs more than the bytes: ACKs take the first path, full data packets the second.
 */
export const NATIVE_CRC_MIN_BYTES = 256;

/** Which CRC32C implementation checksums datagrams, and why when it is not the native one. */
export interface Crc32cImplementation {
  /** 'native': @node-rs/crc32 from NATIVE_CRC_MIN_BYTES up (the table below); 'javascript': the crc-32 table at every size. */
  kind: 'native' | 'javascript';
  /** Why the native binding did not load (its loader's error), or null when it runs. */
  why: string | null;
}

/** CRC32C of datagrams from NATIVE_CRC_MIN_BYTES up: null until the first one asks for it. */
let crc32cLarge: ((bytes: Uint8Array) => number) | null = null;
let implementation: Crc32cImplementation | null = null;

/** The crc-32 table's CRC32C of the bytes alone (its `buf` also takes a seed). */
function crc32cTable(bytes: Uint8Array): number {
  return crc32cJs.buf(bytes);
}

/** The first line of an error's message and of each of its causes (the binding's loader chains one per binary it tried). */
function errorChainText(e: unknown): string {
  const lines: string[] = [];
  for (let c: unknown = e; c !== undefined && c !== null && lines.length < 8; c = c instanceof Error ? c.cause : undefined) {
    lines.push((c instanceof Error ? c.message : String(c)).split('\n')[0]!);
  }
  return lines.length > 1 ? `${lines[0]!} (${lines.slice(1).join('; ')})` : lines.join('');
}

/**
 * Loads the native binding once. It is loaded here, on first use, and not by a static import:
 * @node-rs/crc32 is a Node-API module prebuilt per platform and architecture, and when the binary
 * for this one is missing (an app package built for another platform) its import throws, which at
 * module load would end the whole process before the Electron window opens. A checksum computed by
 * the JavaScript table is the same value, only slower on large datagrams.
 */
function loadCrc32cLarge(): (bytes: Uint8Array) => number {
  try {
    const native = createRequire(import.meta.url)('@node-rs/crc32') as typeof NodeRsCrc32;
    crc32cLarge = native.crc32c;
    implementation = { kind: 'native', why: null };
  } catch (e) {
    crc32cLarge = crc32cTable;
    implementation = { kind: 'javascript', why: `@node-rs/crc32 did not load on ${process.platform}-${process.arch}: ${errorChainText(e)}` };
  }
  return crc32cLarge;
}

/** CRC32C (Castagnoli) of a whole byte array, as an unsigned 32-bit value. */
export function crc32c(bytes: Uint8Array): number {
  // Per datagram: the size test, and on large ones one null test; nothing is allocated.
  if (bytes.length < NATIVE_CRC_MIN_BYTES) return crc32cJs.buf(bytes) >>> 0;
  return (crc32cLarge ?? loadCrc32cLarge())(bytes) >>> 0;
}

/** Which CRC32C implementation runs and why (loads the native binding if no checksum did yet), for the app's About box. */
export function crc32cImplementation(): Crc32cImplementation {
  if (implementation === null) loadCrc32cLarge();
  return { ...implementation! };
}

/** First two bytes of every datagram: ASCII "PL". */
export const MAGIC = 0x504c;
/** Wire format version carried in byte 2. */
export const VERSION = 1;
/** Size of the fixed header in bytes. */
export const HEADER_BYTES = 36;
/** Size of one SACK block (start, end) in bytes. */
export const SACK_BLOCK_BYTES = 8;
/** Most SACK blocks one datagram carries. */
export const MAX_SACK_BLOCKS = 4;
/** Byte offset of the CRC32C field. */
export const CHECKSUM_OFFSET = 32;
/** Largest payload the 16-bit length field can describe. */
export const MAX_PAYLOAD_BYTES = 0xffff;

/** Packet types (byte 3). */
export const PacketType = {
  /** Reliable data: payload bytes numbered by `seq`. */
  DATA: 1,
  /** Acknowledgment only: cumulative `ack`, window, SACK blocks; `seq` names the packet that triggered it. */
  ACK: 2,
  /** Opens a connection; the payload carries the requested service (see handshake.ts). */
  SYN: 3,
  /** Accepts a SYN. */
  SYN_ACK: 4,
  /** No more data from this side; consumes one sequence number. */
  FIN: 5,
  /** Aborts the connection; the payload is a UTF-8 reason. */
  RST: 6,
  /** Zero-window probe: asks the peer to repeat its window. */
  PROBE: 7,
  /** Unreliable stream datagram (packetlab udp): numbered, never retransmitted. */
  UDATA: 8,
  /** Receiver report of an unreliable stream (consent and counters). */
  REPORT: 9,
} as const;

/** One of the PacketType values. */
export type PacketType = (typeof PacketType)[keyof typeof PacketType];

/** Human-readable names of the packet types, by value. */
export const PACKET_TYPE_NAMES: Readonly<Record<number, string>> = {
  1: 'DATA',
  2: 'ACK',
  3: 'SYN',
  4: 'SYN-ACK',
  5: 'FIN',
  6: 'RST',
  7: 'PROBE',
  8: 'UDATA',
  9: 'REPORT',
};

/** Header flag bits (byte 4). */
export const Flag = {
  /** The `ack` and `window` fields are meaningful. */
  ACK: 0x01,
  /** This payload ends a message (message boundaries are kept end to end). */
  MSG_END: 0x02,
  /** `tsEcr` echoes a timestamp of the peer. */
  ECHO: 0x04,
} as const;

/** All flag bits this version defines; others must be zero. */
export const KNOWN_FLAGS = Flag.ACK | Flag.MSG_END | Flag.ECHO;

/** Why a datagram could not be parsed. */
export type ParseError =
  | 'truncated'
  | 'bad-magic'
  | 'unsupported-version'
  | 'unknown-type'
  | 'unknown-flags'
  | 'too-many-sack-blocks'
  | 'length-mismatch';

/** A parsed header. `sack` holds `sackCount` blocks as [start0, end0, start1, end1, ...]. */
export interface Header {
  type: PacketType;
  flags: number;
  connectionId: number;
  seq: number;
  ack: number;
  windowBytes: number;
  tsVal: number;
  tsEcr: number;
  checksum: number;
  sackCount: number;
  sack: Uint32Array;
  payloadOffset: number;
  payloadLength: number;
}

/** A fresh Header with every field zero, for use with parseInto. */
export function newHeader(): Header {
  return {
    type: PacketType.DATA,
    flags: 0,
    connectionId: 0,
    seq: 0,
    ack: 0,
    windowBytes: 0,
    tsVal: 0,
    tsEcr: 0,
    checksum: 0,
    sackCount: 0,
    sack: new Uint32Array(2 * MAX_SACK_BLOCKS),
    payloadOffset: HEADER_BYTES,
    payloadLength: 0,
  };
}

function readU32(b: Uint8Array, i: number): number {
  return ((b[i]! << 24) | (b[i + 1]! << 16) | (b[i + 2]! << 8) | b[i + 3]!) >>> 0;
}

function writeU32(b: Uint8Array, i: number, v: number): void {
  b[i] = v >>> 24;
  b[i + 1] = v >>> 16;
  b[i + 2] = v >>> 8;
  b[i + 3] = v;
}

/**
 * Parses the first `length` bytes of `bytes` into `out`. Returns null on success or the reason the
 * datagram is malformed. Does not look at the checksum (see verifyChecksum) and never throws.
 */
export function parseInto(bytes: Uint8Array, length: number, out: Header): ParseError | null {
  if (length > bytes.length) length = bytes.length;
  if (length < HEADER_BYTES) return 'truncated';
  if (((bytes[0]! << 8) | bytes[1]!) !== MAGIC) return 'bad-magic';
  if (bytes[2] !== VERSION) return 'unsupported-version';
  const type = bytes[3]!;
  if (type < PacketType.DATA || type > PacketType.REPORT) return 'unknown-type';
  const flags = bytes[4]!;
  if ((flags & ~KNOWN_FLAGS) !== 0) return 'unknown-flags';
  const sackCount = bytes[5]!;
  if (sackCount > MAX_SACK_BLOCKS) return 'too-many-sack-blocks';
  const payloadLength = (bytes[6]! << 8) | bytes[7]!;
  const payloadOffset = HEADER_BYTES + sackCount * SACK_BLOCK_BYTES;
  const total = payloadOffset + payloadLength;
  if (length < total) return 'truncated';
  if (length > total) return 'length-mismatch';
  out.type = type as PacketType;
  out.flags = flags;
  out.sackCount = sackCount;
  out.payloadLength = payloadLength;
  out.payloadOffset = payloadOffset;
  out.connectionId = readU32(bytes, 8);
  out.seq = readU32(bytes, 12);
  out.ack = readU32(bytes, 16);
  out.windowBytes = readU32(bytes, 20);
  out.tsVal = readU32(bytes, 24);
  out.tsEcr = readU32(bytes, 28);
  out.checksum = readU32(bytes, 32);
  const sack = out.sack;
  for (let i = 0; i < sackCount * 2; i++) sack[i] = readU32(bytes, HEADER_BYTES + i * 4);
  for (let i = sackCount * 2; i < sack.length; i++) sack[i] = 0;
  return null;
}

/** Result of `parse`: the header and a view of the payload, or the reason the bytes are malformed. */
export type ParseResult =
  | { ok: true; header: Header; payload: Uint8Array }
  | { ok: false; error: ParseError };

/** Parses a whole datagram, allocating a new Header. Never throws. */
export function parse(bytes: Uint8Array): ParseResult {
  const header = newHeader();
  const error = parseInto(bytes, bytes.length, header);
  if (error !== null) return { ok: false, error };
  return {
    ok: true,
    header,
    payload: bytes.subarray(header.payloadOffset, header.payloadOffset + header.payloadLength),
  };
}

/** The header fields a sender chooses (checksum and layout fields are derived). */
export interface HeaderFields {
  type: PacketType;
  flags: number;
  connectionId: number;
  seq: number;
  ack: number;
  windowBytes: number;
  tsVal: number;
  tsEcr: number;
  sackCount: number;
  sack: ArrayLike<number>;
}

/** Bytes needed for a datagram with `sackCount` SACK blocks and `payloadLength` payload bytes. */
export function datagramLength(sackCount: number, payloadLength: number): number {
  return HEADER_BYTES + sackCount * SACK_BLOCK_BYTES + payloadLength;
}

/**
 * Writes the header and SACK blocks of `h` at the start of `out`, leaving room for a payload of
 * `payloadLength` bytes at the returned payload offset. The caller copies the payload there and then
 * calls sealChecksum. Throws (caller misuse) when the fields are out of range.
 */
export function writeHeader(out: Uint8Array, h: HeaderFields, payloadLength: number): number {
  if (h.sackCount < 0 || h.sackCount > MAX_SACK_BLOCKS) throw new RangeError(`sackCount ${h.sackCount} is not in 0..${MAX_SACK_BLOCKS}`);
  if (payloadLength < 0 || payloadLength > MAX_PAYLOAD_BYTES) throw new RangeError(`payload length ${payloadLength} is not in 0..${MAX_PAYLOAD_BYTES}`);
  if ((h.flags & ~KNOWN_FLAGS) !== 0) throw new RangeError(`flags 0x${h.flags.toString(16)} has bits this version does not define`);
  const payloadOffset = HEADER_BYTES + h.sackCount * SACK_BLOCK_BYTES;
  if (out.length < payloadOffset + payloadLength) throw new RangeError(`buffer of ${out.length} bytes is too small for a ${payloadOffset + payloadLength}-byte datagram`);
  out[0] = MAGIC >>> 8;
  out[1] = MAGIC & 0xff;
  out[2] = VERSION;
  out[3] = h.type;
  out[4] = h.flags;
  out[5] = h.sackCount;
  out[6] = payloadLength >>> 8;
  out[7] = payloadLength & 0xff;
  writeU32(out, 8, h.connectionId);
  writeU32(out, 12, h.seq);
  writeU32(out, 16, h.ack);
  writeU32(out, 20, h.windowBytes);
  writeU32(out, 24, h.tsVal);
  writeU32(out, 28, h.tsEcr);
  writeU32(out, 32, 0);
  for (let i = 0; i < h.sackCount * 2; i++) writeU32(out, HEADER_BYTES + i * 4, h.sack[i]!);
  return payloadOffset;
}

/**
 * CRC32C (Castagnoli) of the first `length` bytes with the checksum field taken as zero.
 * The field is zeroed and restored in place, so no copy is made.
 */
export function computeChecksum(bytes: Uint8Array, length: number): number {
  const b0 = bytes[32]!;
  const b1 = bytes[33]!;
  const b2 = bytes[34]!;
  const b3 = bytes[35]!;
  bytes[32] = 0;
  bytes[33] = 0;
  bytes[34] = 0;
  bytes[35] = 0;
  const crc = crc32c(length === bytes.length ? bytes : bytes.subarray(0, length));
  bytes[32] = b0;
  bytes[33] = b1;
  bytes[34] = b2;
  bytes[35] = b3;
  return crc;
}

/** Computes the checksum of a written datagram of `length` bytes and stores it in the header. */
export function sealChecksum(bytes: Uint8Array, length: number): void {
  bytes[32] = 0;
  bytes[33] = 0;
  bytes[34] = 0;
  bytes[35] = 0;
  writeU32(bytes, CHECKSUM_OFFSET, crc32c(length === bytes.length ? bytes : bytes.subarray(0, length)));
}

/** True when the datagram is long enough to carry a checksum and the stored CRC32C matches. */
export function verifyChecksum(bytes: Uint8Array, length: number): boolean {
  if (length < HEADER_BYTES || length > bytes.length) return false;
  return computeChecksum(bytes, length) === readU32(bytes, CHECKSUM_OFFSET);
}

/**
 * Emits a complete datagram (header, SACK blocks, payload, checksum) into a new Uint8Array.
 * The allocating counterpart of parse, used by tools and tests.
 */
export function emit(h: HeaderFields, payload: Uint8Array = new Uint8Array(0)): Uint8Array {
  const out = new Uint8Array(datagramLength(h.sackCount, payload.length));
  const offset = writeHeader(out, h, payload.length);
  out.set(payload, offset);
  sealChecksum(out, out.length);
  return out;
}
