// SYN payloads: what the opening side asks the listener for. See docs/wire.md ("SYN options").
// The listener checks every field against its own caps before it answers with SYN-ACK, so traffic
// only flows to an endpoint that agreed to it, and only at the rate and for the time it agreed to.

/** Service byte of a SYN. */
export const Service = {
  /** A reliable connection (packetlab transfer, RPC over the lab transport). */
  RELIABLE: 1,
  /** An unreliable numbered stream (packetlab udp). */
  STREAM: 2,
  /** ONC RPC over a reliable connection, one RPC message per message (core/rpc/plt.ts); reliable options layout. */
  RPC: 3,
} as const;

/** ARQ mode codes carried in a reliable SYN. */
export const ARQ_CODES = { saw: 1, gbn: 2, sr: 3 } as const;

/** Options of a reliable SYN: the receiver-side knobs the opening side asks the listener to use. */
export interface ReliableSynOptions {
  service: typeof Service.RELIABLE | typeof Service.RPC;
  protocol: 'saw' | 'gbn' | 'sr';
  sack: boolean;
  verifyChecksum: boolean;
  /** The receiver compares what it reads with the pattern and answers with a verdict (default true). */
  verifyData?: boolean;
  /** Seed of the bulk data pattern the receiver compares with (core/apps/bulk.ts; 0 when unused). */
  patternSeed?: number;
  mssBytes: number;
  ackEveryPackets: number;
  ackDelayMs: number;
  rcvBufferBytes: number;
  /** Rate at which the receiving application reads, 0 for as fast as data arrives. */
  readRateBytesPerSecond: number;
}

/** The transport knobs a reliable SYN carries to the receiving end. */
type SynTransportKnobs = Pick<ReliableSynOptions, 'protocol' | 'sack' | 'verifyChecksum' | 'mssBytes' | 'ackEveryPackets' | 'ackDelayMs' | 'rcvBufferBytes'>;

/**
 * The options of a reliable SYN from a connection's knobs: the ones the receiving end uses too
 * travel here, so a new such knob is one line below (and its place in the encoding).
 */
export function reliableSynOptions(service: ReliableSynOptions['service'], c: SynTransportKnobs, app: Pick<ReliableSynOptions, 'readRateBytesPerSecond' | 'verifyData' | 'patternSeed'>): ReliableSynOptions {
  return { service, protocol: c.protocol, sack: c.sack, verifyChecksum: c.verifyChecksum, mssBytes: c.mssBytes, ackEveryPackets: c.ackEveryPackets, ackDelayMs: c.ackDelayMs, rcvBufferBytes: c.rcvBufferBytes, ...app };
}

/** Options of a stream SYN: what `packetlab udp` will send. */
export interface StreamSynOptions {
  service: typeof Service.STREAM;
  datagramBytes: number;
  ratePacketsPerSecond: number;
  durationMs: number;
  reportIntervalMs: number;
}

/** Either kind of SYN options. */
export type SynOptions = ReliableSynOptions | StreamSynOptions;

/** Size of an encoded SYN options block (both services use the same size). */
export const SYN_OPTIONS_BYTES = 24;

const FLAG_SACK = 0x01;
const FLAG_VERIFY = 0x02;
const FLAG_VERIFY_DATA = 0x04;

/** Encodes SYN options into a new 24-byte payload. */
export function encodeSynOptions(o: SynOptions): Uint8Array {
  const out = new Uint8Array(SYN_OPTIONS_BYTES);
  const v = new DataView(out.buffer);
  v.setUint8(0, o.service);
  v.setUint8(1, 1);
  if (o.service !== Service.STREAM) {
    v.setUint8(2, ARQ_CODES[o.protocol]);
    v.setUint8(3, (o.sack ? FLAG_SACK : 0) | (o.verifyChecksum ? FLAG_VERIFY : 0) | (o.verifyData !== false ? FLAG_VERIFY_DATA : 0));
    v.setUint16(4, o.mssBytes);
    v.setUint16(6, o.ackEveryPackets);
    v.setUint32(8, Math.round(o.ackDelayMs * 1000));
    v.setUint32(12, o.rcvBufferBytes);
    v.setUint32(16, Math.min(0xffffffff, Math.round(o.readRateBytesPerSecond)));
    v.setUint32(20, (o.patternSeed ?? 0) >>> 0);
  } else {
    v.setUint16(4, o.datagramBytes);
    v.setUint32(8, Math.round(o.ratePacketsPerSecond));
    v.setUint32(12, Math.round(o.durationMs));
    v.setUint32(16, Math.round(o.reportIntervalMs));
  }
  return out;
}

/** Result of decodeSynOptions. */
export type SynDecodeResult = { ok: true; options: SynOptions } | { ok: false; error: string };

/** Decodes SYN options from a SYN payload. Never throws; the error names the bad field. */
export function decodeSynOptions(payload: Uint8Array): SynDecodeResult {
  if (payload.length !== SYN_OPTIONS_BYTES) {
    return { ok: false, error: `SYN options are ${payload.length} bytes, expected ${SYN_OPTIONS_BYTES}` };
  }
  const v = new DataView(payload.buffer, payload.byteOffset, payload.byteLength);
  const service = v.getUint8(0);
  const version = v.getUint8(1);
  if (version !== 1) return { ok: false, error: `SYN options version ${version} is not supported (expected 1)` };
  if (service === Service.RELIABLE || service === Service.RPC) {
    const code = v.getUint8(2);
    const protocol = code === 1 ? 'saw' : code === 2 ? 'gbn' : code === 3 ? 'sr' : null;
    if (protocol === null) return { ok: false, error: `SYN asks for ARQ mode ${code}, expected 1 (saw), 2 (gbn) or 3 (sr)` };
    const flags = v.getUint8(3);
    return {
      ok: true,
      options: {
        service,
        protocol,
        sack: (flags & FLAG_SACK) !== 0,
        verifyChecksum: (flags & FLAG_VERIFY) !== 0,
        verifyData: (flags & FLAG_VERIFY_DATA) !== 0,
        mssBytes: v.getUint16(4),
        ackEveryPackets: v.getUint16(6),
        ackDelayMs: v.getUint32(8) / 1000,
        rcvBufferBytes: v.getUint32(12),
        readRateBytesPerSecond: v.getUint32(16),
        patternSeed: v.getUint32(20),
      },
    };
  }
  if (service === Service.STREAM) {
    return {
      ok: true,
      options: {
        service: Service.STREAM,
        datagramBytes: v.getUint16(4),
        ratePacketsPerSecond: v.getUint32(8),
        durationMs: v.getUint32(12),
        reportIntervalMs: v.getUint32(16),
      },
    };
  }
  return { ok: false, error: `SYN asks for service ${service}, expected 1 (reliable), 2 (stream) or 3 (RPC)` };
}
