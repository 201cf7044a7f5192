// CRC32C, the checksum of every datagram (docs/wire.md): nanoseconds a call for the native binding
// (@node-rs/crc32, SSE4.2) and the pure-JavaScript table (crc-32) that packet.ts picks between by
// size. The native call on one byte is the N-API call's own cost, the baseline the bytes add to.

import { crc32c as crc32cNative } from '@node-rs/crc32';
import crc32cJs from 'crc-32/crc32c.js';
import { NATIVE_CRC_MIN_BYTES } from '../core/wire/packet.js';
import { median, num, printTable } from './lib.js';

const SIZES = [1, 36, 255, 256, 1200] as const;
const CALLS = 200_000;
const ROUNDS = 5;

/** The JavaScript table's CRC32C of the bytes alone: one function for every size. */
const crc32cJsBuf = (b: Uint8Array): number => crc32cJs.buf(b);

/** `size` bytes as a view into a larger buffer at an offset, as a datagram in a pool or a receive buffer is. */
function datagram(size: number): Uint8Array {
  const bytes = new Uint8Array(size + 64).subarray(8, 8 + size);
  for (let i = 0; i < size; i++) bytes[i] = (i * 31 + 7) & 0xff;
  return bytes;
}

/** The ns a call of `f` on `bytes` takes over CALLS calls: every round, timed or not, runs this one loop. */
function timeCalls(f: (b: Uint8Array) => number, bytes: Uint8Array): number {
  let sink = 0;
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < CALLS; i++) sink ^= f(bytes);
  const ns = Number(process.hrtime.bigint() - t0) / CALLS;
  // Keeps the results alive so that the calls cannot be optimised away.
  if (sink === 0.5) console.log(sink);
  return ns;
}

/** Median over ROUNDS of the ns a call of `f` on `bytes` takes (after an untimed round of the same length). */
function nsPerCall(f: (b: Uint8Array) => number, bytes: Uint8Array): number {
  const times: number[] = [];
  for (let r = 0; r <= ROUNDS; r++) {
    const ns = timeCalls(f, bytes);
    if (r > 0) times.push(ns);
  }
  return median(times);
}

/** Runs the checksum benchmark and prints its table. */
export async function benchCrc(): Promise<void> {
  // The loop's call site sees both implementations before the first timed round. Otherwise the
  // first figure (native, 1 byte) is taken while V8 has seen one function there and every later
  // one after it saw two, and the two states compile the loop differently.
  for (const f of [crc32cNative, crc32cJsBuf]) timeCalls(f, datagram(SIZES[0]));
  const rows = SIZES.map((size) => {
    const bytes = datagram(size);
    const native = nsPerCall(crc32cNative, bytes);
    const js = nsPerCall(crc32cJsBuf, bytes);
    return [num(size), num(native, 0), num(js, 0), size < NATIVE_CRC_MIN_BYTES ? 'JavaScript' : 'native'];
  });
  printTable(`CRC32C of one datagram, ns a call (median of ${ROUNDS} x ${num(CALLS)} calls)`, ['bytes', '@node-rs/crc32 (native)', 'crc-32 (JavaScript)', 'the wire uses'], rows);
  console.log('the native call on 1 byte is the cost of the N-API call itself');
}
