// Hostile input to the RPC machinery (test/helpers/hostile.ts): a hundred thousand random and
// mutated datagrams to the UDP server engine (every demo program and the portmapper), byte streams
// to the TCP record layer and the server behind it, and replies to a client with calls in flight.
// Nothing may throw, state stays within its bounds, and over UDP no sender gets back more than
// three times the bytes it sent.

import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { RpcServerEngine, UDP_REPLY_LIMITS } from '../core/rpc/server.js';
import { RpcClientEngine, type RpcCall } from '../core/rpc/client.js';
import { RecordDecoder, frameRecord, DEFAULT_MAX_RECORD_BYTES } from '../core/rpc/record-marking.js';
import { AuthFlavor, encodeCredential, writeAcceptedReply, writeCallHeader, AcceptStat } from '../core/rpc/message.js';
import { XdrWriter } from '../core/rpc/xdr.js';
import type { ProcedureDescriptor } from '../core/rpc/program.js';
import { PortmapRegistry, portmapProgram } from '../core/rpc/portmap.js';
import { demoPrograms } from '../experiments/rpc/demo.js';
import { KvProgV1 } from '../core/rpc/programs/kv.js';
import { CounterProgV1 } from '../core/rpc/programs/counter.js';
import { KV_SERVER_MAX_ENTRIES } from '../core/rpc/programs/kv-server.js';
import { hostileBytes, hostileRun } from './helpers/hostile.js';
import { rpcCallSeeds } from '../bench/hostile-inputs.js';

/** A KV_PUT of 1 KiB under `key`. */
function kvPut(xid: number, key: string): Uint8Array {
  const w = new XdrWriter();
  const proc = KvProgV1.procedures.KV_PUT;
  writeCallHeader(w, xid, proc.program, proc.version, proc.procedure, encodeCredential({ flavor: AuthFlavor.AUTH_NONE }));
  proc.args.encode(w, { key, value: new Uint8Array(1024), expected_revision: null });
  return w.bytes().slice();
}

describe('hostile input to RPC', () => {
  it('UDP server engine: no throw, bounded state, never more than 3x the bytes of a datagram back', () => {
    const demo = demoPrograms();
    const registry = new PortmapRegistry();
    const drc = { enabled: true, maxEntries: 512, maxAgeMs: 60_000 };
    const engine = new RpcServerEngine({ programs: [...demo.programs, portmapProgram(registry)], drc, datagramReplies: UDP_REPLY_LIMITS, peerAddress: (p) => `192.0.2.${p % 250}:${1000 + p}` });
    // A few KV entries first, so that lists and gets have something to amplify with.
    for (let i = 0; i < 40; i++) engine.handleDatagram(i, kvPut(1000 + i, `key-${i}`), 1);
    while (engine.pollTransmit() !== null);
    let now = 100;
    let over = 0;
    const t = hostileRun('RPC server engine (UDP datagrams)', hostileBytes(rpcCallSeeds()), (bytes) => {
      const from = bytes.length % 64;
      engine.handleDatagram(now++, bytes, from);
      let back = 0;
      for (let r = engine.pollTransmit(); r !== null; r = engine.pollTransmit()) {
        if (engine.transmitTo !== from) throw new Error(`a reply to ${engine.transmitTo}, not to the sender ${from}`);
        back += r.length;
      }
      if (back > 3 * bytes.length) over++;
      return bytes.length === 0 ? 0 : back / bytes.length;
    });
    expect(t.throws).toBe(0);
    expect(over).toBe(0);
    expect(t.largestRatio).toBeLessThanOrEqual(3);
    expect(engine.drc.entries).toBeLessThanOrEqual(drc.maxEntries);
    expect(demo.kv.size).toBeLessThanOrEqual(KV_SERVER_MAX_ENTRIES);
    expect(t.heapAfterMb - t.heapBeforeMb).toBeLessThan(16);
    // The hostile inputs reached every check: the counters show each kind of answer.
    const k = engine.counters;
    for (const c of ['malformed', 'success', 'garbageArgs', 'progUnavail', 'procUnavail', 'authError', 'repliesTooLargeForCall'] as const) expect(k[c], c).toBeGreaterThan(0);
  });

  it('TCP record layer and the server behind it: no throw, no record beyond the limit, no buffer beyond it', () => {
    const demo = demoPrograms();
    const engine = new RpcServerEngine({ programs: demo.programs, drc: { enabled: true, maxEntries: 64, maxAgeMs: 60_000 } });
    const streams = rpcCallSeeds().map((c) => frameRecord(c));
    let decoder = new RecordDecoder();
    let broken = 0;
    let largest = 0;
    const t = hostileRun('RPC record decoder and server (TCP streams)', hostileBytes(streams, 3000), (bytes) => {
      const ok = decoder.push(bytes, (record) => {
        largest = Math.max(largest, record.length);
        engine.handleMessage(0, record, 1, { sendReply: () => undefined });
      });
      // A broken stream is closed, as the server closes its connection; the next is a new one.
      if (!ok) {
        broken++;
        decoder = new RecordDecoder();
      }
    });
    expect(t.throws).toBe(0);
    expect(broken).toBeGreaterThan(0);
    expect(largest).toBeLessThanOrEqual(DEFAULT_MAX_RECORD_BYTES);
    expect(t.heapAfterMb - t.heapBeforeMb).toBeLessThan(16);
  });

  it('client engine: replies from a hostile server never throw, and calls end with a status', () => {
    const client = new RpcClientEngine({ server: 1, policy: { timeoutMs: 1000, retryIntervalMs: 100, retryBackoff: 2, retryIntervalMsMax: 400, maxRetransmissions: 3 }, retransmit: true, rngSeed: 9, maxCallsInFlight: 64 });
    const calls: RpcCall[] = [];
    let now = 0;
    const seeds: Uint8Array[] = [];
    const refill = () => {
      while (calls.filter((c) => c.status === -1).length < 32) calls.push(client.call(now, CounterProgV1.procedures.INCREMENT as ProcedureDescriptor<unknown, unknown>, 1));
      for (let b = client.pollTransmit(now); b !== null; b = client.pollTransmit(now)) {
        // A well-formed reply to this call, for the mutations to start from.
        const w = new XdrWriter();
        writeAcceptedReply(w, new DataView(b.buffer, b.byteOffset).getUint32(0), AcceptStat.SUCCESS);
        w.hyper(7n);
        if (seeds.length < 64) seeds.push(w.bytes().slice());
      }
    };
    refill();
    const t = hostileRun('RPC client engine (replies)', fc.constant(null).chain(() => hostileBytes(seeds)), (bytes) => {
      client.handleDatagram(now, bytes, bytes.length % 3 === 0 ? 2 : 1);
      now += 1;
      if (now % 50 === 0) client.handleTimeout(now);
      refill();
    });
    expect(t.throws).toBe(0);
    expect(calls.filter((c) => c.status === -1).length).toBeLessThanOrEqual(64);
    expect(calls.some((c) => c.status !== -1)).toBe(true);
    expect(t.heapAfterMb - t.heapBeforeMb).toBeLessThan(16);
  });
});
