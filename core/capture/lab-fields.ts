// The lab's own reading of a captured datagram, for the packet log: every header field as the
// bytes say, whether the lab's parser accepts them, whether the CRC32C matches, and the decoded
// SYN options, REPORT or RST reason. A datagram is read as a lab datagram when it is at least a
// header long and starts with the magic and version, the same test the Wireshark dissector makes,
// so that the log and tshark describe the same frames (corrupted ones included).

import { decodeSynOptions, type SynOptions } from '../wire/handshake.js';
import { HEADER_BYTES, MAGIC, PACKET_TYPE_NAMES, PacketType, SACK_BLOCK_BYTES, VERSION, newHeader, parseInto, verifyChecksum, Flag, type ParseError } from '../wire/packet.js';
import { decodeReport, type StreamReport } from '../stream/report.js';

/** Header fields of a lab datagram as the packet log prints them. */
export interface LabFields {
  /** Type name (DATA, ACK, ...), or "unknown(N)". */
  type: string;
  typeCode: number;
  flags: number;
  /** Names of the flag bits set (ACK, MSG_END, ECHO; unknown bits as 0xNN). */
  flagNames: string[];
  connectionId: number;
  seq: number;
  ack: number;
  windowBytes: number;
  tsVal: number;
  tsEcr: number;
  checksum: number;
  /** The CRC32C over the datagram with the checksum field zero matches `checksum`. */
  checksumValid: boolean;
  sackCount: number;
  /** SACK blocks present in the bytes (at most sackCount), as [start, end]. */
  sack: [number, number][];
  payloadLength: number;
  /** Why the lab's parser rejects the datagram, or null when it accepts it. */
  parseError: ParseError | null;
  /** Decoded SYN options (SYN with a well-formed payload). */
  syn?: SynOptions;
  /** Decoded receiver report (REPORT with a well-formed payload). */
  report?: StreamReport;
  /** Reason text of an RST. */
  rstReason?: string;
}

const FLAG_NAMES: [number, string][] = [
  [Flag.ACK, 'ACK'],
  [Flag.MSG_END, 'MSG_END'],
  [Flag.ECHO, 'ECHO'],
];

function u32(b: Uint8Array, i: number): number {
  return ((b[i]! << 24) | (b[i + 1]! << 16) | (b[i + 2]! << 8) | b[i + 3]!) >>> 0;
}

/** The names of the flag bits set in `flags`. */
export function flagNames(flags: number): string[] {
  const out: string[] = [];
  for (const [bit, name] of FLAG_NAMES) if (flags & bit) out.push(name);
  for (let bit = 0x08; bit <= 0x80; bit <<= 1) if (flags & bit) out.push(`0x${bit.toString(16).padStart(2, '0')}`);
  return out;
}

/** The lab's reading of `bytes`, or null when they do not start like a lab datagram. */
export function readLabFields(bytes: Uint8Array): LabFields | null {
  if (bytes.length < HEADER_BYTES || ((bytes[0]! << 8) | bytes[1]!) !== MAGIC || bytes[2] !== VERSION) return null;
  const typeCode = bytes[3]!;
  const flags = bytes[4]!;
  const sackCount = bytes[5]!;
  const present = Math.min(sackCount, Math.floor((bytes.length - HEADER_BYTES) / SACK_BLOCK_BYTES));
  const sack: [number, number][] = [];
  for (let i = 0; i < present; i++) sack.push([u32(bytes, HEADER_BYTES + i * 8), u32(bytes, HEADER_BYTES + i * 8 + 4)]);
  const header = newHeader();
  const parseError = parseInto(bytes, bytes.length, header);
  const out: LabFields = {
    type: PACKET_TYPE_NAMES[typeCode] ?? `unknown(${typeCode})`,
    typeCode,
    flags,
    flagNames: flagNames(flags),
    connectionId: u32(bytes, 8),
    seq: u32(bytes, 12),
    ack: u32(bytes, 16),
    windowBytes: u32(bytes, 20),
    tsVal: u32(bytes, 24),
    tsEcr: u32(bytes, 28),
    checksum: u32(bytes, 32),
    checksumValid: verifyChecksum(bytes, bytes.length),
    sackCount,
    sack,
    payloadLength: (bytes[6]! << 8) | bytes[7]!,
    parseError,
  };
  if (parseError === null) {
    const payload = bytes.subarray(header.payloadOffset, header.payloadOffset + header.payloadLength);
    if (typeCode === PacketType.SYN) {
      const r = decodeSynOptions(payload);
      if (r.ok) out.syn = r.options;
    } else if (typeCode === PacketType.REPORT) {
      const r = decodeReport(payload);
      if (r !== null) out.report = r;
    } else if (typeCode === PacketType.RST) {
      out.rstReason = new TextDecoder().decode(payload);
    }
  }
  return out;
}
