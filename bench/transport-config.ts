// Settings shared by the transport benchmark's processes.

import { DEFAULT_TRANSPORT_CONFIG } from '../core/transport/config.js';
import { HEADER_BYTES } from '../core/wire/packet.js';

/** Socket buffers of every benchmark socket (rmem_max here is 4 MiB). */
export const BENCH_SOCKET_BYTES = 4 << 20;
/** Transport knobs of the benchmark: large window, delayed ACKs, loopback-sized RTO floor. */
export const BENCH_TRANSPORT = {
  ...DEFAULT_TRANSPORT_CONFIG,
  protocol: 'sr' as const,
  windowPackets: 1024,
  rcvBufferBytes: 8 << 20,
  ackEveryPackets: 32,
  ackDelayMs: 1,
  rtoMsMin: 20,
  rtoMsInitial: 100,
};

/** Bytes of every datagram the benchmark's pairs send: a full SR data packet (1200). */
export const BENCH_DATAGRAM_BYTES = BENCH_TRANSPORT.mssBytes + HEADER_BYTES;
