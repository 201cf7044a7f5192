// REPORT payload of the unreliable stream: what the receiver has counted so far. Reports flow
// every report interval; they are also the consent the sender needs to go on (RFC 7675 spirit).

/** Receiver counters carried by a REPORT. */
export interface StreamReport {
  /** The stream is over and these are the final figures. */
  final: boolean;
  /** Distinct datagrams received. */
  packetsReceived: number;
  /** Bytes of those datagrams. */
  bytesReceived: number;
  /** Datagrams the receiver expected so far: the highest index seen plus one (final: the count sent). */
  packetsExpected: number;
  /** Expected minus received. */
  lost: number;
  /** Datagrams that arrived after one sent later. */
  reordered: number;
  /** Datagrams received more than once. */
  duplicates: number;
  /** Interarrival jitter (RFC 3550 (6.4.1)), ms. */
  jitterMs: number;
  /** Drops of the receiving socket counted by the kernel (NaN when unknown). */
  kernelDrops: number;
  /** Datagrams whose checksum did not match. */
  checksumFailures: number;
}

/** Size of an encoded report. */
export const REPORT_BYTES = 4 + 9 * 8;
const FIELDS = ['packetsReceived', 'bytesReceived', 'packetsExpected', 'lost', 'reordered', 'duplicates', 'jitterMs', 'kernelDrops', 'checksumFailures'] as const;

/** Encodes a report into `out` (REPORT_BYTES long) at offset. */
export function encodeReport(r: StreamReport, out: Uint8Array, offset = 0): void {
  const v = new DataView(out.buffer, out.byteOffset + offset, REPORT_BYTES);
  v.setUint8(0, 1);
  v.setUint8(1, r.final ? 1 : 0);
  v.setUint16(2, 0);
  FIELDS.forEach((f, i) => v.setFloat64(4 + i * 8, r[f]));
}

/** Decodes a report; null when the bytes are not one. */
export function decodeReport(bytes: Uint8Array): StreamReport | null {
  if (bytes.length !== REPORT_BYTES || bytes[0] !== 1) return null;
  const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const r = { final: (v.getUint8(1) & 1) === 1 } as StreamReport;
  FIELDS.forEach((f, i) => {
    r[f] = v.getFloat64(4 + i * 8);
  });
  return r;
}
