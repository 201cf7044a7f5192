// Floods on real sockets (loopback): each of the lab's listeners gets ten thousand random and
// mutated datagrams from twenty source ports, or thirty connections of hostile bytes, then a real
// client, which must be served. No listener may crash, and over UDP no source port may get back
// more than three times the bytes it sent. (The in-process harness of test/hostile-*.test.ts tries
// a hundred thousand inputs per entry point; this checks the sockets and drivers around them.)

import { afterAll, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { createSocket, type Socket } from 'node:dgram';
import { connect as netConnect, type Socket as NetSocket } from 'node:net';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { WebSocket } from 'ws';
import { startListenerServer } from '../net/udp/listener-server.js';
import { DEFAULT_LISTENER_CAPS } from '../core/listener.js';
import { PacketType } from '../core/wire/packet.js';
import { RpcServer } from '../net/rpc/server-net.js';
import { RpcClient } from '../net/rpc/client-net.js';
import { frameRecord } from '../core/rpc/record-marking.js';
import { AuthFlavor, encodeCredential, writeCallHeader } from '../core/rpc/message.js';
import { XdrWriter } from '../core/rpc/xdr.js';
import type { ProcedureDescriptor } from '../core/rpc/program.js';
import { PmapProgV2 } from '../core/rpc/pmap.js';
import { pmapCall, startLabBinder } from '../net/rpc/binder.js';
import { startPeerAgent } from '../net/peer/agent.js';
import { PeerClient } from '../net/peer/client.js';
import { startLabServer } from '../experiments/api/serve.js';
import { demoPrograms } from '../experiments/rpc/demo.js';
import { KvProgV1 } from '../core/rpc/programs/kv.js';
import { CounterProgV1 } from '../core/rpc/programs/counter.js';
import { hostileBytes } from './helpers/hostile.js';
import { reliableSyn } from './helpers/listener-sim.js';
import { hostileListenerDatagrams } from '../bench/hostile-inputs.js';
import { until } from './helpers/until.js';

const tmp = mkdtempSync(join(tmpdir(), 'packetlab-flood-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const FAST = { timeoutMs: 3000, retryIntervalMs: 100, retryBackoff: 2, retryIntervalMsMax: 400, maxRetransmissions: 5 };

/** `n` inputs of `arb`, the same in every run. */
function draw<T>(arb: fc.Arbitrary<T>, n: number, seed: number): T[] {
  return fc.sample(arb, { numRuns: n, seed });
}

/** Twenty UDP sockets, each sending its share of `datagrams` to port `to`; resolves with the bytes each sent and got back. */
async function udpFlood(datagrams: readonly Uint8Array[], to: number, sockets = 20): Promise<{ socket: Socket; sent: number; back: () => number }[]> {
  const flooders = await Promise.all(
    Array.from({ length: sockets }, async () => {
      const socket = createSocket('udp4');
      let back = 0;
      socket.on('message', (m) => (back += m.length));
      socket.on('error', () => {});
      await new Promise<void>((r) => socket.bind(0, '127.0.0.1', () => r()));
      return { socket, sent: 0, back: () => back };
    }),
  );
  for (let i = 0; i < datagrams.length; i++) {
    const f = flooders[i % sockets]!;
    const d = datagrams[i]!;
    f.sent += d.length;
    await new Promise<void>((r) => f.socket.send(d, to, '127.0.0.1', () => r()));
    // The listener runs in this process: without a turn of the event loop now and then it reads
    // nothing, and its socket's receive buffer (about 250 small datagrams) drops the rest. This
    // checks the listener, not the kernel's buffer.
    if (i % 50 === 49) await new Promise((r) => setImmediate(r));
  }
  return flooders;
}

/** Thirty connections that each write hostile bytes and close. */
async function tcpFlood(streams: readonly Uint8Array[], port: number): Promise<void> {
  await Promise.all(
    Array.from({ length: 30 }, (_, i) =>
      new Promise<void>((resolve) => {
        const s: NetSocket = netConnect(port, '127.0.0.1', () => {
          for (let k = i; k < streams.length; k += 30) s.write(streams[k]!);
          s.end();
        });
        s.on('error', () => resolve());
        s.on('close', () => resolve());
        s.on('data', () => {});
      }),
    ),
  );
}

function rpcCall<A>(xid: number, proc: ProcedureDescriptor<A, unknown>, args: A): Uint8Array {
  const w = new XdrWriter();
  writeCallHeader(w, xid, proc.program, proc.version, proc.procedure, encodeCredential({ flavor: AuthFlavor.AUTH_NONE }));
  proc.args.encode(w, args);
  return w.bytes().slice();
}

function expectNoAmplification(flooders: { sent: number; back: () => number }[]): number {
  let worst = 0;
  for (const f of flooders) worst = Math.max(worst, f.back() / f.sent);
  expect(worst).toBeLessThanOrEqual(3);
  return worst;
}

describe('floods on loopback', () => {
  it('the transfer and stream listener: stays up, serves a real client after, amplifies nothing', async () => {
    const server = await startListenerServer({ host: '127.0.0.1', port: 0, caps: { ...DEFAULT_LISTENER_CAPS, handshakeTimeoutMs: 300, streamIdleTimeoutMs: 300 } });
    const inputs = draw(hostileListenerDatagrams(), 10_000, 1);
    const flooders = await udpFlood(inputs, server.port);
    const client = createSocket('udp4');
    const got: Buffer[] = [];
    client.on('message', (m) => got.push(m));
    await new Promise<void>((r) => client.bind(0, '127.0.0.2', () => r()));
    // As a real client does, it sends its SYN again until it is answered.
    const syn = reliableSyn(4242);
    await until(
      'a SYN-ACK for a real client after the flood',
      () => {
        if (got.some((m) => m[3] === PacketType.SYN_ACK)) return true;
        client.send(syn, server.port, '127.0.0.1');
        return false;
      },
      10_000,
      200,
    );
    client.close();
    await server.close();
    const worst = expectNoAmplification(flooders);
    console.log(`flood: listener: ${inputs.length} datagrams, largest bytes back / in per source port ${worst.toFixed(3)}`);
    for (const f of flooders) f.socket.close();
  });

  it('the RPC server: UDP and TCP stay up and answer a call after; UDP amplifies nothing', async () => {
    const demo = demoPrograms();
    const server = await RpcServer.start({ programs: demo.programs });
    try {
      const K = KvProgV1.procedures;
      for (let i = 0; i < 30; i++) demo.kv.kvPut({ key: `k${i}`, value: new Uint8Array(1000), expected_revision: null });
      const seeds = [rpcCall(1, K.KV_LIST as ProcedureDescriptor<unknown, unknown>, ''), rpcCall(2, K.KV_GET as ProcedureDescriptor<unknown, unknown>, 'k1'), rpcCall(3, CounterProgV1.procedures.INCREMENT as ProcedureDescriptor<unknown, unknown>, 1)];
      const flooders = await udpFlood(draw(hostileBytes(seeds), 10_000, 2), server.port('udp')!);
      await tcpFlood(draw(hostileBytes(seeds.map(frameRecord), 3000), 3000, 3), server.port('tcp')!);
      for (const transport of ['udp', 'tcp'] as const) {
        const c = await RpcClient.connect({ host: '127.0.0.1', port: transport === 'udp' ? server.port('udp')! : server.port('tcp')!, transport, policy: FAST });
        await c.ping(KvProgV1.program, 1);
        await c.close();
      }
      const worst = expectNoAmplification(flooders);
      console.log(`flood: RPC server: 10000 datagrams and 3000 TCP writes, largest UDP bytes back / in per source port ${worst.toFixed(3)}; refused replies ${server.engine('udp')!.counters.repliesTooLargeForCall}`);
      for (const f of flooders) f.socket.close();
    } finally {
      await server.close();
    }
  });

  it('the lab binder: stays up and answers GETPORT after; DUMP over UDP amplifies nothing', async () => {
    const binder = await startLabBinder('127.0.0.1', 0);
    try {
      for (let i = 0; i < 200; i++) binder.registry.set({ prog: 0x30000000 + i, vers: 1, prot: 17, port: 2000 + i });
      const P = PmapProgV2.procedures;
      const seeds = [rpcCall(1, P.PMAPPROC_DUMP as ProcedureDescriptor<unknown, unknown>, undefined), rpcCall(2, P.PMAPPROC_GETPORT as ProcedureDescriptor<unknown, unknown>, { prog: 0x30000001, vers: 1, prot: 17, port: 0 })];
      const flooders = await udpFlood(draw(hostileBytes(seeds), 5000, 4), binder.port);
      expect(await pmapCall('127.0.0.1', binder.port, P.PMAPPROC_GETPORT, { prog: 0x30000001, vers: 1, prot: 17, port: 0 })).toBe(2001);
      expectNoAmplification(flooders);
      for (const f of flooders) f.socket.close();
    } finally {
      await binder.close();
    }
  });

  it('the peer agent: garbage on its control port leaves it serving a real client', async () => {
    const token = 'flood-test-token-0123';
    const agent = await startPeerAgent({ port: 0, token, beacon: false });
    try {
      const hello = Buffer.from('{"v":1,"hello":{"software":"x","nonce":"AAAA"}}\n');
      await tcpFlood(draw(hostileBytes([hello], 2000), 600, 5), agent.port);
      const c = await PeerClient.connect({ host: '127.0.0.1', port: agent.port, token, localAddress: '127.0.0.2' });
      expect(c.agent.software).toMatch(/^packetlab /);
      await c.close();
    } finally {
      await agent.close();
    }
  });

  it('packetlab serve: HTTP and WebSocket garbage leave it serving the page and the API', async () => {
    const renderer = join(tmp, 'renderer');
    mkdirSync(renderer, { recursive: true });
    writeFileSync(join(renderer, 'index.html'), '<!doctype html><title>Packet Lab</title>');
    const token = 'flood-serve-token-0123456789';
    const server = await startLabServer({ host: '127.0.0.1', port: 0, rendererDir: renderer, runsDir: join(tmp, 'runs'), specsDir: join(tmp, 'specs'), token, beaconPort: null });
    try {
      const http = draw(fc.oneof(hostileBytes([Buffer.from('GET /%ff HTTP/1.1\r\nHost: x\r\n\r\n'), Buffer.from('GET /index.html HTTP/1.1\r\nHost: x\r\n\r\n')]), fc.uint8Array({ maxLength: 300 })), 600, 6);
      await tcpFlood(http, server.port);
      const ws = new WebSocket(`ws://127.0.0.1:${server.port}/api?token=${token}`);
      await new Promise<void>((resolve, reject) => {
        ws.once('open', () => resolve());
        ws.once('error', reject);
      });
      const answers: string[] = [];
      ws.on('message', (d) => answers.push(d.toString()));
      for (const m of draw(fc.oneof(fc.string({ maxLength: 200 }), fc.jsonValue({ maxDepth: 5 }).map((v) => JSON.stringify(v))), 150, 7)) ws.send(m);
      ws.send(JSON.stringify({ id: 'probe', method: 'listKnobs', params: {} }));
      await until('the answer to a real call after the garbage', () => answers.some((a) => a.includes('"id":"probe"')), 10_000);
      expect(JSON.parse(answers.find((a) => a.includes('"id":"probe"'))!).result.ok).toBe(true);
      ws.close();
      expect((await fetch(`http://127.0.0.1:${server.port}/`)).status).toBe(200);
    } finally {
      await server.close();
    }
  });
});
