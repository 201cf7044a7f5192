// Inputs a fuzzer would make: random bytes, and valid inputs mutated the ways that break parsers
// (flipped bits, cut short, spliced, repeated, length and count words set to extremes), and the
// valid inputs they start from (every kind of datagram a listener takes, every call the RPC servers
// serve). The hostile-input tests (test/hostile-*.test.ts) and `npm run bench hostile` draw from
// these.

import fc from 'fast-check';
import { Flag, HEADER_BYTES, PacketType, emit, sealChecksum, writeHeader } from '../core/wire/packet.js';
import { encodeSynOptions, type SynOptions } from '../core/wire/handshake.js';
import { AuthFlavor, encodeCredential, writeCallHeader, type Credential } from '../core/rpc/message.js';
import { XdrWriter } from '../core/rpc/xdr.js';
import type { ProcedureDescriptor } from '../core/rpc/program.js';
import { PmapProgV2 } from '../core/rpc/pmap.js';
import { KvProgV1 } from '../core/rpc/programs/kv.js';
import { CounterProgV1 } from '../core/rpc/programs/counter.js';
import { TypesProgV1 } from '../experiments/rpc/types.js';
import { sampleTypesAll } from '../experiments/rpc/types-server.js';

/** 32-bit values that break length and count fields. */
const EXTREME_WORDS = [0, 1, 0x7fffffff, 0x80000000, 0xffffffff, 0xfffffffe, 0x10000, 0xffff];

/** One mutation of a byte string. */
const mutation = fc.oneof(
  fc.record({ kind: fc.constant('flip' as const), at: fc.nat(), bit: fc.nat({ max: 7 }) }),
  fc.record({ kind: fc.constant('set' as const), at: fc.nat(), value: fc.nat({ max: 255 }) }),
  fc.record({ kind: fc.constant('cut' as const), at: fc.nat() }),
  fc.record({ kind: fc.constant('word' as const), at: fc.nat(), value: fc.constantFrom(...EXTREME_WORDS) }),
  fc.record({ kind: fc.constant('insert' as const), at: fc.nat(), bytes: fc.uint8Array({ minLength: 1, maxLength: 16 }) }),
  fc.record({ kind: fc.constant('repeat' as const), from: fc.nat(), length: fc.integer({ min: 1, max: 64 }), times: fc.integer({ min: 1, max: 8 }) }),
);

type Mutation = typeof mutation extends fc.Arbitrary<infer M> ? M : never;

function apply(bytes: Uint8Array, m: Mutation): Uint8Array {
  const n = bytes.length;
  switch (m.kind) {
    case 'flip': {
      if (n === 0) return bytes;
      const out = bytes.slice();
      out[m.at % n]! ^= 1 << m.bit;
      return out;
    }
    case 'set': {
      if (n === 0) return bytes;
      const out = bytes.slice();
      out[m.at % n] = m.value;
      return out;
    }
    case 'cut':
      return bytes.subarray(0, n === 0 ? 0 : m.at % n);
    case 'word': {
      if (n < 4) return bytes;
      const out = bytes.slice();
      // On a word boundary, where XDR and the lab's header keep their lengths and counts.
      const at = (m.at % (n >>> 2)) * 4;
      new DataView(out.buffer, out.byteOffset).setUint32(at, m.value);
      return out;
    }
    case 'insert': {
      const at = n === 0 ? 0 : m.at % (n + 1);
      const out = new Uint8Array(n + m.bytes.length);
      out.set(bytes.subarray(0, at));
      out.set(m.bytes, at);
      out.set(bytes.subarray(at), at + m.bytes.length);
      return out;
    }
    case 'repeat': {
      if (n === 0) return bytes;
      const from = m.from % n;
      const piece = bytes.subarray(from, Math.min(n, from + m.length));
      const out = new Uint8Array(n + piece.length * m.times);
      out.set(bytes.subarray(0, from + piece.length));
      for (let i = 0; i < m.times; i++) out.set(piece, from + piece.length * (i + 1));
      out.set(bytes.subarray(from + piece.length), from + piece.length * (m.times + 1));
      return out;
    }
  }
}

/** Valid inputs mutated one to four times. */
export function mutatedBytes(seeds: readonly Uint8Array[]): fc.Arbitrary<Uint8Array> {
  return fc.tuple(fc.constantFrom(...seeds), fc.array(mutation, { minLength: 1, maxLength: 4 })).map(([seed, ms]) => ms.reduce(apply, seed));
}

/** What a hostile sender sends: random bytes (a quarter) or mutated valid inputs. */
export function hostileBytes(seeds: readonly Uint8Array[], maxRandomBytes = 1500): fc.Arbitrary<Uint8Array> {
  return fc.oneof({ weight: 1, arbitrary: fc.uint8Array({ maxLength: maxRandomBytes }) }, { weight: 3, arbitrary: mutatedBytes(seeds) });
}

/** Texts mutated as bytes (UTF-8 in and out, invalid sequences replaced), or random strings. */
export function hostileText(seeds: readonly string[]): fc.Arbitrary<string> {
  const enc = new TextEncoder();
  const dec = new TextDecoder();
  return fc.oneof({ weight: 1, arbitrary: fc.string({ maxLength: 400 }) }, { weight: 3, arbitrary: mutatedBytes(seeds.map((s) => enc.encode(s))).map((b) => dec.decode(b)) });
}


/** A SYN asking for `options`, as a client sends it (checksum sealed). */
export function synDatagram(options: SynOptions, connectionId: number, seq = 1000): Uint8Array {
  const payload = encodeSynOptions(options);
  const out = new Uint8Array(HEADER_BYTES + payload.length);
  writeHeader(out, { type: PacketType.SYN, flags: 0, connectionId, seq, ack: 0, windowBytes: 65536, tsVal: 0, tsEcr: 0, sackCount: 0, sack: [] }, payload.length);
  out.set(payload, HEADER_BYTES);
  sealChecksum(out, out.length);
  return out;
}

/** Valid datagrams of every kind a client sends a listener: SYNs of both services, data, ACKs, FIN, RST, probes. */
export function listenerSeeds(): Uint8Array[] {
  const data = (type: PacketType, flags: number, payload: number) => emit({ type, flags, connectionId: 77, seq: 1001, ack: 5000, windowBytes: 65536, tsVal: 1, tsEcr: 0, sackCount: 2, sack: [1, 2, 3, 4] }, new Uint8Array(payload));
  const stream = (id: number, reportIntervalMs: number) => synDatagram({ service: 2, datagramBytes: 1200, ratePacketsPerSecond: 1000, durationMs: 3_600_000, reportIntervalMs }, id);
  const reliable = (id: number, seq: number) =>
    synDatagram({ service: 1, protocol: 'sr', sack: true, verifyChecksum: true, verifyData: true, patternSeed: 1, mssBytes: 1164, ackEveryPackets: 1, ackDelayMs: 40, rcvBufferBytes: 262144, readRateBytesPerSecond: 0 }, id, seq);
  return [
    reliable(77, 1000),
    reliable(78, 123),
    stream(79, 10),
    stream(80, 1000),
    data(PacketType.DATA, Flag.ACK, 1164),
    data(PacketType.ACK, Flag.ACK, 0),
    data(PacketType.FIN, Flag.ACK, 0),
    data(PacketType.RST, 0, 12),
    data(PacketType.UDATA, 0, 1164),
    data(PacketType.PROBE, Flag.ACK, 0),
  ];
}

/** Hostile datagrams to a listener: half of them with the checksum sealed again, as an attacker would (else none passes the CRC check). */
export function hostileListenerDatagrams(): fc.Arbitrary<Uint8Array> {
  return fc.tuple(hostileBytes(listenerSeeds()), fc.boolean()).map(([b, seal]) => {
    if (!seal || b.length < HEADER_BYTES) return b;
    const sealed = b.slice();
    sealChecksum(sealed, sealed.length);
    return sealed;
  });
}

function rpcCall<A>(xid: number, proc: ProcedureDescriptor<A, unknown>, args: A, cred: Credential = { flavor: AuthFlavor.AUTH_NONE }): Uint8Array {
  const w = new XdrWriter();
  writeCallHeader(w, xid, proc.program, proc.version, proc.procedure, encodeCredential(cred));
  proc.args.encode(w, args);
  return w.bytes().slice();
}

/** One valid call of every procedure the demo server (`rpc serve-demo`) and the portmapper serve. */
export function rpcCallSeeds(): Uint8Array[] {
  const K = KvProgV1.procedures;
  const C = CounterProgV1.procedures;
  const P = PmapProgV2.procedures;
  const sys: Credential = { flavor: AuthFlavor.AUTH_SYS, sys: { stamp: 1, machineName: 'lab', uid: 1000, gid: 1000, gids: [4, 24] } };
  return [
    rpcCall(1, K.KV_PUT, { key: 'a', value: new Uint8Array([1, 2, 3]), expected_revision: null }),
    rpcCall(2, K.KV_PUT, { key: 'b', value: new Uint8Array(200), expected_revision: 1n }, sys),
    rpcCall(3, K.KV_GET, 'a'),
    rpcCall(4, K.KV_DELETE, 'a'),
    rpcCall(5, K.KV_LIST, ''),
    rpcCall(6, K.KV_GET_MANY, { keys: ['a', 'b', 'c'] }),
    rpcCall(7, C.INCREMENT, 5),
    rpcCall(8, C.GET, undefined),
    rpcCall(9, C.ECHO, new Uint8Array(64)),
    rpcCall(10, TypesProgV1.procedures.ECHO_ALL, sampleTypesAll()),
    rpcCall(11, P.PMAPPROC_GETPORT, { prog: KvProgV1.program, vers: 1, prot: 17, port: 0 }),
    rpcCall(12, P.PMAPPROC_DUMP, undefined),
    rpcCall(13, P.PMAPPROC_SET, { prog: 0x30000000, vers: 1, prot: 6, port: 4000 }),
  ];
}
