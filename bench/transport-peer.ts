// Child process of the transport benchmark. Roles:
//   raw-recv [checked]      counts 1200-byte datagrams until told to stop; prints {received, bad, rate, measured}
//                           (the rate and CPU time leave out the first RAW_WARMUP_MS after the first datagram;
//                           rate 0 and measured null if no datagram came after it)
//   raw-send PORT MS [checked]
//                           blasts 1200-byte datagrams for RAW_WARMUP_MS, then for MS milliseconds
//                           measured; prints {sent, cpuUs} of the measured part
//                           checked: each datagram is a DATA packet of the wire format with a sequence
//                           number, payload from the transfer's pattern and a CRC32C; the receiver parses
//                           it, verifies the checksum and compares the payload with the pattern. No
//                           acks, no retransmissions: the work any checked transfer does per datagram
//   listen                  a packetlab listener on 127.0.0.1 (port sent to the parent, or printed on
//                           stderr when started by hand); prints
//                           {measured}: the CPU time and datagrams of its newest session, from
//                           the SYN until the receiver read the FIN
//   transfer PORT BYTES LOSS  a warm-up transfer, then a selective-repeat transfer to the listener; prints its
//                           summary and senderCpuUs, the sender's CPU time over the measured transfer

import { createSocket } from 'node:dgram';
import { startListenerServer } from '../net/udp/listener-server.js';
import { runUdpTransfer } from '../workloads/transfer/udp-transfer.js';
import { BENCH_DATAGRAM_BYTES, BENCH_SOCKET_BYTES, BENCH_TRANSPORT } from './transport-config.js';
import { NO_IMPAIRMENT } from '../core/impair/config.js';
import { BulkReceiver, makePattern, PATTERN_BYTES } from '../core/apps/bulk.js';
import { newHeader, parseInto, sealChecksum, verifyChecksum, writeHeader } from '../core/wire/packet.js';

const [role, ...args] = process.argv.slice(2);
/** Bytes of the warm-up transfer before a measured one. */
const WARMUP_BYTES = 50e6;
/** The raw sender's unreported start (its JIT warms up, as the transfer's warm-up does for SR). */
const RAW_WARMUP_MS = 500;
/** Datagrams the raw sender sends in one tick of the event loop. */
const RAW_SEND_BURST = 64;
const send = (m: unknown) => process.send?.(m);
/** Prints the result line and exits once it is written (the IPC channel would keep us alive). */
const finish = (result: unknown) => process.stdout.write(`${JSON.stringify(result)}\n`, () => process.exit(0));

/** Payload bytes of a checked datagram (as many as an SR data packet of the benchmark carries). */
const PAYLOAD_BYTES = BENCH_TRANSPORT.mssBytes;
/**
 * The transfer's pattern followed by its first payload's worth again: every payload is one run of
 * it. The receiver compares against it by sequence number, not with the transfer's own running
 * check (PatternCheck in core/apps/bulk.ts), which counts bytes in order and would take the first
 * datagram the kernel drops for a difference; its cost is the same, one native comparison.
 */
const pattern = () => {
  const p = makePattern(1);
  const out = Buffer.alloc(PATTERN_BYTES + PAYLOAD_BYTES);
  out.set(p);
  out.set(p.subarray(0, PAYLOAD_BYTES), PATTERN_BYTES);
  return out;
};

/** CPU time of a receiving process over a measured stretch, and the datagrams it received meanwhile. */
export interface ReceiverCpu {
  cpuUs: NodeJS.CpuUsage;
  datagrams: number;
  wallMs: number;
}

if (role === 'raw-recv') {
  const s = createSocket('udp4');
  const p = args[0] === 'checked' ? pattern() : null;
  const h = newHeader();
  let n = 0;
  // Checked datagrams that fail to parse, fail the checksum, or carry other bytes than the pattern's.
  let bad = 0;
  let measureFrom = Number.POSITIVE_INFINITY;
  let first = 0;
  let firstN = 0;
  let last = 0;
  let cpu: NodeJS.CpuUsage | null = null;
  s.on('message', (m: Buffer) => {
    n++;
    if (p !== null) {
      if (parseInto(m, m.length, h) !== null || !verifyChecksum(m, m.length)) bad++;
      else {
        const at = (h.seq * PAYLOAD_BYTES) % PATTERN_BYTES;
        if (h.payloadLength !== PAYLOAD_BYTES || m.compare(p, at, at + PAYLOAD_BYTES, h.payloadOffset, h.payloadOffset + PAYLOAD_BYTES) !== 0) bad++;
      }
    }
    last = performance.now();
    if (n === 1) measureFrom = last + RAW_WARMUP_MS;
    else if (firstN === 0 && last >= measureFrom) {
      first = last;
      firstN = n;
      cpu = process.cpuUsage();
    }
  });
  s.bind(0, '127.0.0.1', () => {
    s.setRecvBufferSize(BENCH_SOCKET_BYTES);
    send({ port: s.address().port });
  });
  process.on('message', () => {
    s.close();
    // CPU time runs to the stop message, after the sender finished: the idle wait adds almost none.
    // A run that never got past its warm-up measured nothing: null, not figures that look real.
    const measured: ReceiverCpu | null = cpu === null ? null : { cpuUs: process.cpuUsage(cpu), datagrams: n - firstN, wallMs: last - first };
    finish({ received: n, bad, rate: firstN > 0 && last > first ? (n - firstN) / ((last - first) / 1000) : 0, measured });
  });
} else if (role === 'raw-send') {
  const s = createSocket('udp4');
  const p = args[2] === 'checked' ? pattern() : null;
  // One buffer per datagram of a tick. A send libuv queued (the kernel's buffer was full) still
  // holds its buffer when the next tick rewrites it; the rewrite is whole (header, payload and
  // checksum in one go, on this thread), so such a datagram leaves as a later, valid one.
  const bufs = Array.from({ length: RAW_SEND_BURST }, () => Buffer.alloc(BENCH_DATAGRAM_BYTES));
  const h = newHeader();
  h.connectionId = 1;
  const durationMs = Number(args[1]);
  let sent = 0;
  let seq = 0;
  s.connect(Number(args[0]), '127.0.0.1', () => {
    s.setSendBufferSize(BENCH_SOCKET_BYTES);
    const measureAt = performance.now() + RAW_WARMUP_MS;
    const end = measureAt + durationMs;
    let cpu: NodeJS.CpuUsage | null = null;
    const tick = () => {
      for (let i = 0; i < bufs.length; i++) {
        const b = bufs[i]!;
        if (p !== null) {
          h.seq = seq++;
          const off = writeHeader(b, h, PAYLOAD_BYTES);
          const at = (h.seq * PAYLOAD_BYTES) % PATTERN_BYTES;
          p.copy(b, off, at, at + PAYLOAD_BYTES);
          sealChecksum(b, BENCH_DATAGRAM_BYTES);
        }
        s.send(b);
      }
      const now = performance.now();
      if (cpu !== null) sent += bufs.length;
      else if (now >= measureAt) cpu = process.cpuUsage();
      if (now < end) {
        setImmediate(tick);
        return;
      }
      const cpuUs = process.cpuUsage(cpu ?? process.cpuUsage());
      setTimeout(() => {
        s.close();
        finish({ sent, cpuUs });
      }, 100);
    };
    tick();
  });
} else if (role === 'listen') {
  // The CPU time of the newest session, from its SYN until its receiver read the FIN (checked every
  // 20 ms; the receiver is idle by then): the measured transfer is the newest, after the warm-up.
  let newest: { receiver: BulkReceiver; cpu: NodeJS.CpuUsage; at: number } | null = null;
  let measured: ReceiverCpu | null = null;
  const server = await startListenerServer({
    host: '127.0.0.1',
    port: 0,
    socket: { socketRcvBufBytes: BENCH_SOCKET_BYTES, socketSndBufBytes: BENCH_SOCKET_BYTES },
    transport: { rtoMsMin: BENCH_TRANSPORT.rtoMsMin },
    onEvent: (e) => {
      if (e.type === 'session-opened' && e.session instanceof BulkReceiver) newest = { receiver: e.session, cpu: process.cpuUsage(), at: performance.now() };
    },
  });
  const watch = setInterval(() => {
    const n = newest;
    if (n === null || Number.isNaN(n.receiver.finishedAtMs)) return;
    measured = { cpuUs: process.cpuUsage(n.cpu), datagrams: n.receiver.conn.counters.packetsReceived, wallMs: n.receiver.finishedAtMs - n.at };
    newest = null;
  }, 20);
  send({ port: server.port });
  // Started by hand (to profile a transfer against it), it says where it listens.
  if (process.send === undefined) console.error(`listening on 127.0.0.1:${server.port}`);
  process.on('message', () => {
    clearInterval(watch);
    void server.close().then(() => finish({ measured }));
  });
} else if (role === 'transfer') {
  const transfer = (totalBytes: number, seed: number, onStart?: () => void) =>
    runUdpTransfer({
      onStart,
      setup: {
        transport: BENCH_TRANSPORT,
        forward: { ...NO_IMPAIRMENT, lossProbability: Number(args[2]) },
        reverse: { ...NO_IMPAIRMENT },
        totalBytes,
        messageBytes: 0,
        readRateBytesPerSecond: 0,
        seed,
        intervalMs: 100,
        timeLimitMs: 120_000,
      },
      peer: { host: '127.0.0.1', port: Number(args[0]) },
      socket: { socketRcvBufBytes: BENCH_SOCKET_BYTES, socketSndBufBytes: BENCH_SOCKET_BYTES },
    });
  // A warm-up transfer to the same listener first, not reported (as iperf3 --omit skips the start):
  // both processes' hot paths are compiled before the measured transfer begins.
  const warm = await transfer(WARMUP_BYTES, 2);
  if (warm.status !== 'complete') finish(warm);
  else {
    let cpu = process.cpuUsage();
    const summary = await transfer(Number(args[1]), 1, () => (cpu = process.cpuUsage()));
    finish({ ...summary, senderCpuUs: process.cpuUsage(cpu) });
  }
} else {
  console.error(`transport-peer: unknown role ${role}`);
  process.exit(2);
}
