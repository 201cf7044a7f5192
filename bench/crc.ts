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

/** Median over ROUNDS of the ns a call of `f` on `bytes` takes (after a warm-up of the same length). */
function nsPerCall(f: (b: Uint8Array) => number, bytes: Uint8Array): number {
  let sink = 0;
  const times: number[] = [];
  for (let r = 0; r <= ROUNDS; r++) {
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < CALLS; i++) sink ^= f(bytes);
    const ns = Number(process.hrtime.bigint() - t0) / CALLS;
    if (r > 0) times.push(ns);
  }
  // Keeps the results alive so that the calls cannot be optimised away.
  if (sink === 0.5) console.log(sink);
  return median(times);
}

/** Runs the checksum benchmark and prints its table. */
export async function benchCrc(): Promise<void> {
  const rows = SIZES.map((size) => {
    // A view into a larger buffer at an offset, as a datagram in a pool or a receive buffer is.
    const bytes = new Uint8Array(size + 64).subarray(8, 8 + size);
    for (let i = 0; i < size; i++) bytes[i] = (i * 31 + 7) & 0xff;
    const native = nsPerCall(crc32cNative, bytes);
    const js = nsPerCall((b) => crc32cJs.buf(b), bytes);
    return [num(size), num(native, 0), num(js, 0), size < NATIVE_CRC_MIN_BYTES ? 'JavaScript' : 'native'];
  });
  printTable(`CRC32C of one datagram, ns a call (median of ${ROUNDS} x ${num(CALLS)} calls)`, ['bytes', '@node-rs/crc32 (native)', 'crc-32 (JavaScript)', 'the wire uses'], rows);
  console.log('the native call on 1 byte is the cost of the N-API call itself');
}
