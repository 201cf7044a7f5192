// The RPC run-time on real sockets (loopback, ephemeral ports): typed stubs over UDP, TCP and the
// lab transport, remote and transport errors, record-marking limits, the lab binder, and the CLI.
// Tests that need rpcbind on port 111 live in rpc-rpcbind.test.ts.

import { spawn } from 'node:child_process';
import { connect as netConnect } from 'node:net';
import { createSocket } from 'node:dgram';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createInterface } from 'node:readline';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NO_IMPAIRMENT } from '../core/impair/config.js';
import { RpcClient } from '../net/rpc/client-net.js';
import { type RpcTransportName } from '../core/rpc/transports.js';
import { RpcTransportError } from '../core/rpc/client.js';
import { RpcServer } from '../net/rpc/server-net.js';
import { DEFAULT_LISTENER_CAPS } from '../core/listener.js';
import { dumpMappings, registerServer, resolvePort, startLabBinder, type LabBinder } from '../net/rpc/binder.js';
import { PortmapRegistry, portmapProgram } from '../core/rpc/portmap.js';
import { PLT_PROTOCOL } from '../core/rpc/transports.js';
import { RpcServerEngine } from '../core/rpc/server.js';
import { XdrWriter } from '../core/rpc/xdr.js';
import { encodeCredential, writeCallHeader } from '../core/rpc/message.js';
import { frameRecord } from '../core/rpc/record-marking.js';
import { demoPrograms, type DemoPrograms } from '../experiments/rpc/demo.js';
import { CounterProgV1Client, CounterProgV1 } from '../core/rpc/programs/counter.js';
import { KvProgV1, KvProgV1Client, KvStatus } from '../core/rpc/programs/kv.js';
import { TypesProgV1Client } from '../experiments/rpc/types.js';
import { sampleTypesAll } from '../experiments/rpc/types-server.js';
import { cliAsync } from './helpers/cli.js';
import { until } from './helpers/until.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const TRANSPORTS: RpcTransportName[] = ['udp', 'tcp', 'plt'];
const FAST = { timeoutMs: 3000, retryIntervalMs: 100, retryBackoff: 2, retryIntervalMsMax: 400, maxRetransmissions: 5 };

let demo: DemoPrograms;
let server: RpcServer;

beforeAll(async () => {
  demo = demoPrograms();
  server = await RpcServer.start({ programs: demo.programs, ports: { udp: 0, tcp: 0, plt: 0 } });
});
afterAll(async () => {
  await server.close();
});

function portOf(t: RpcTransportName): number {
  return (t === 'udp' ? server.port('udp') : t === 'tcp' ? server.port('tcp') : server.port('plt'))!;
}

describe('typed stubs over each transport', () => {
  for (const t of TRANSPORTS) {
    it(`${t}: every XDR type round-trips, the key-value store and the counter work, remote errors come back typed`, async () => {
      const c = await RpcClient.connect({ host: '127.0.0.1', port: portOf(t), transport: t, policy: FAST, seed: 5 });
      try {
        const v = sampleTypesAll();
        expect(await new TypesProgV1Client(c).echoAll(v)).toEqual(v);
        expect(demo.types.last).toEqual(v);
        const kv = new KvProgV1Client(c);
        const key = `k-${t}`;
        expect(await kv.kvPut({ key, value: Uint8Array.from([1, 2]), expected_revision: null })).toEqual({ status: KvStatus.KV_OK, revision: 1n });
        expect(await kv.kvPut({ key, value: Uint8Array.from([3]), expected_revision: 7n })).toEqual({ status: KvStatus.KV_REVISION_MISMATCH, current_revision: 1n });
        expect(await kv.kvGet(key)).toEqual({ status: KvStatus.KV_OK, entry: { key, value: Uint8Array.from([1, 2]), revision: 1n } });
        const list = await kv.kvList(key);
        expect(list?.entry.key).toBe(key);
        expect(list?.next).toBeNull();
        expect(await kv.kvGetMany({ keys: [key, 'missing'] })).toEqual([{ status: KvStatus.KV_OK, entry: { key, value: Uint8Array.from([1, 2]), revision: 1n } }, { status: KvStatus.KV_NOT_FOUND }]);
        expect(await kv.kvDelete(key)).toBe(true);
        const counter = new CounterProgV1Client(c);
        const a = await counter.increment(2);
        expect(await counter.increment(3)).toBe(a + 3n);
        expect(Array.from(await counter.echo(Uint8Array.from([5, 6, 7])))).toEqual([5, 6, 7]);
        // 64 calls at once: every reply finds its call.
        const many = await Promise.all(Array.from({ length: 64 }, (_, i) => counter.echo(Uint8Array.from([i]))));
        expect(many.map((x) => x[0])).toEqual(Array.from({ length: 64 }, (_, i) => i));
        await expect(c.ping(CounterProgV1.program, 9)).rejects.toMatchObject({ name: 'RpcRemoteError', kind: 'PROG_MISMATCH', low: 1, high: 1 });
        await expect(c.ping(0x20000fff, 1)).rejects.toMatchObject({ kind: 'PROG_UNAVAIL' });
        await expect(c.call({ ...CounterProgV1.procedures.GET, procedure: 99 }, undefined)).rejects.toMatchObject({ kind: 'PROC_UNAVAIL' });
        expect(() => counter.increment(1.5)).toThrow(/not an int/);
      } finally {
        await c.close();
      }
    });
  }

  it('several TCP clients at once each get their own replies', async () => {
    const clients = await Promise.all([1, 2, 3].map((seed) => RpcClient.connect({ host: '127.0.0.1', port: server.port('tcp')!, transport: 'tcp', policy: FAST, seed })));
    try {
      const results = await Promise.all(clients.map((c, k) => Promise.all(Array.from({ length: 32 }, (_, i) => new CounterProgV1Client(c).echo(Uint8Array.from([k, i]))))));
      results.forEach((rs, k) => expect(rs.map((r) => [...r])).toEqual(Array.from({ length: 32 }, (_, i) => [k, i])));
    } finally {
      for (const c of clients) await c.close();
    }
  });

  it('closing a client rejects its pending calls with shutdown', async () => {
    const c = await RpcClient.connect({ host: '127.0.0.1', port: server.port('udp')!, transport: 'udp', policy: FAST, forward: { ...NO_IMPAIRMENT, lossProbability: 1 } });
    const p = new CounterProgV1Client(c).get();
    await c.close();
    await expect(p).rejects.toMatchObject({ name: 'RpcTransportError', kind: 'shutdown' });
    await expect(c.ping(1, 1)).rejects.toThrow(/closed RPC client/);
  });
});

describe('transport failures and impairment on sockets', () => {
  it('UDP to a port where nothing listens: unreachable (ICMP), not a timeout', async () => {
    const s = createSocket('udp4');
    await new Promise<void>((r) => s.bind(0, '127.0.0.1', () => r()));
    const port = s.address().port;
    s.close();
    const c = await RpcClient.connect({ host: '127.0.0.1', port, transport: 'udp', policy: FAST });
    const t0 = performance.now();
    const err = await c.ping(1, 1).catch((e: unknown) => e);
    await c.close();
    expect(err).toBeInstanceOf(RpcTransportError);
    expect((err as RpcTransportError).kind).toBe('unreachable');
    expect(performance.now() - t0).toBeLessThan(FAST.timeoutMs);
  });

  it('TCP and the lab transport to a closed port fail clearly', async () => {
    await expect(RpcClient.connect({ host: '127.0.0.1', port: 1, transport: 'tcp', policy: FAST })).rejects.toThrow(/nothing listens on TCP 127\.0\.0\.1:1 \(connection refused\)/);
    const s = createSocket('udp4');
    await new Promise<void>((r) => s.bind(0, '127.0.0.1', () => r()));
    const port = s.address().port;
    s.close();
    const c = await RpcClient.connect({ host: '127.0.0.1', port, transport: 'plt', policy: FAST });
    const err = await c.ping(1, 1).catch((e: unknown) => e);
    await c.close();
    expect(err).toBeInstanceOf(RpcTransportError);
    expect(['unreachable', 'timeout']).toContain((err as RpcTransportError).kind);
  });

  it('loss on the call direction makes UDP calls time out after the retries; duplicated replies are stray', async () => {
    const lossy = await RpcClient.connect({ host: '127.0.0.1', port: server.port('udp')!, transport: 'udp', policy: { ...FAST, timeoutMs: 500 }, forward: { ...NO_IMPAIRMENT, lossProbability: 1 } });
    await expect(lossy.ping(CounterProgV1.program, 1)).rejects.toMatchObject({ kind: 'timeout' });
    // Sent at 0, 100 and 300 ms; the next (700 ms) would be past the 500 ms deadline.
    expect(lossy.engine.counters.retransmissions).toBe(2);
    expect(lossy.forward.counters.dropsRandom).toBe(3);
    await lossy.close();
    const dup = await RpcClient.connect({ host: '127.0.0.1', port: server.port('udp')!, transport: 'udp', policy: FAST, reverse: { ...NO_IMPAIRMENT, duplicateProbability: 1 } });
    const counter = new CounterProgV1Client(dup);
    for (let i = 0; i < 5; i++) await counter.get();
    await until(() => `5 stray replies (${dup.engine.counters.strayReplies})`, () => dup.engine.counters.strayReplies >= 5, 5000);
    expect(dup.engine.counters.strayReplies).toBe(5);
    await dup.close();
  });

  it('TCP refuses impairments a stream cannot have', async () => {
    await expect(RpcClient.connect({ host: '127.0.0.1', port: server.port('tcp')!, transport: 'tcp', forward: { ...NO_IMPAIRMENT, lossProbability: 0.1 } })).rejects.toThrow(/--loss does not apply to --transport tcp/);
  });

  it('a TCP record mark of 2^31-1 bytes closes that connection without allocating; others go on', async () => {
    const before = process.memoryUsage().arrayBuffers;
    const closed = await new Promise<boolean>((resolve) => {
      const s = netConnect(server.port('tcp')!, '127.0.0.1', () => s.write(Uint8Array.from([0xff, 0xff, 0xff, 0xff, 0, 0, 0, 1])));
      s.on('close', () => resolve(true));
      s.on('error', () => {});
      setTimeout(() => resolve(false), 3000).unref();
    });
    expect(closed).toBe(true);
    expect(process.memoryUsage().arrayBuffers - before).toBeLessThan(64 << 20);
    const c = await RpcClient.connect({ host: '127.0.0.1', port: server.port('tcp')!, transport: 'tcp', policy: FAST });
    await c.ping(CounterProgV1.program, 1);
    await c.close();
  });

  it('TCP: a place per address, no idle connection and no record dribbled a byte at a time for long; callers keep their turn', async () => {
    const limits = { maxConnectionsPerAddress: 3, idleTimeoutMs: 600, recordDeadlineMs: 200 };
    const tcp = await RpcServer.start({ programs: demo.programs, ports: { tcp: 0 }, tcpLimits: limits });
    try {
      const open = () =>
        new Promise<{ closedAfterMs: Promise<number>; write: (b: Uint8Array) => void }>((resolve, reject) => {
          const started = Date.now();
          const s = netConnect(tcp.port('tcp')!, '127.0.0.1', () => resolve({ closedAfterMs, write: (b) => s.write(b) }));
          const closedAfterMs = new Promise<number>((r) => s.on('close', () => r(Date.now() - started)));
          s.on('error', () => {});
          s.once('error', reject);
        });
      const counters = () => tcp.tcpRecords!;
      // Three silent connections take this address's places; a fourth is closed at once.
      const silent = [await open(), await open(), await open()];
      const fourth = await open();
      expect(await fourth.closedAfterMs).toBeLessThan(250);
      expect(counters().refusedPerAddress).toBe(1);
      // The silent ones are closed for idling; the one that began a record, when its deadline passed.
      silent[0]!.write(Uint8Array.from([0x80, 0, 0]));
      expect(await silent[0]!.closedAfterMs).toBeLessThan(550);
      for (const c of silent.slice(1)) expect(await c.closedAfterMs).toBeGreaterThanOrEqual(550);
      expect(counters()).toMatchObject({ idleTimeouts: 2, recordDeadlines: 1 });
      // A record sent a byte at a time misses its deadline, however steady the bytes.
      const dribbler = await open();
      const record = frameRecord(Uint8Array.from([0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 2]));
      let i = 0;
      const timer = setInterval(() => i < record.length && dribbler.write(record.subarray(i, ++i)), 50);
      expect(await dribbler.closedAfterMs).toBeLessThan(1000);
      clearInterval(timer);
      expect(i).toBeLessThan(record.length);
      expect(counters().recordDeadlines).toBe(2);
      // A caller whose records come whole keeps its connection for as long as it calls.
      const c = await RpcClient.connect({ host: '127.0.0.1', port: tcp.port('tcp')!, transport: 'tcp', policy: FAST });
      for (let k = 0; k < 5; k++) {
        await c.ping(CounterProgV1.program, 1);
        await new Promise((r) => setTimeout(r, 100));
      }
      await c.close();
    } finally {
      await tcp.close();
    }
  });

  it('TCP: endless empty fragments and empty records close the connection', async () => {
    for (const [bytes, why] of [
      [Buffer.concat(Array.from({ length: 2000 }, () => Buffer.from([0, 0, 0, 0]))), 'record of more than 1024 fragments'],
      [Buffer.from([0x80, 0, 0, 0]), 'an empty record'],
    ] as const) {
      const closed = await new Promise<boolean>((resolve) => {
        const s = netConnect(server.port('tcp')!, '127.0.0.1', () => s.write(bytes));
        s.on('close', () => resolve(true));
        s.on('error', () => {});
      });
      expect(closed).toBe(true);
      expect(server.tcpRecords!.lastFramingError).toBe(why);
    }
  });

  it("lab transport: a live session keeps its peer's id however many other ports write; sessions are counted per IP", async () => {
    const small = await RpcServer.start({ programs: demoPrograms().programs, ports: { plt: 0 }, maxPeers: 4, pltCaps: { ...DEFAULT_LISTENER_CAPS, maxSessions: 64, maxSessionsPerAddress: 3 } });
    try {
      const c = await RpcClient.connect({ host: '127.0.0.1', port: small.port('plt')!, transport: 'plt', policy: FAST });
      await c.ping(CounterProgV1.program, 1);
      // Ten other ports of this host write to the server, more than its peer table holds.
      const strays = await Promise.all(Array.from({ length: 10 }, () => new Promise<ReturnType<typeof createSocket>>((r) => { const s = createSocket('udp4'); s.bind(0, '127.0.0.1', () => r(s)); })));
      for (const s of strays) await new Promise<void>((r) => s.send(Uint8Array.from([1, 2, 3]), small.port('plt')!, '127.0.0.1', () => r()));
      await until('the strays to be counted', () => small.listener!.counters.stray >= 10, 5000);
      for (const s of strays) s.close();
      // The client's id was not handed to a stray: its session's replies still reach it.
      expect(await new CounterProgV1Client(c).increment(1)).toBeGreaterThan(0n);
      // Two more clients from this IP make three sessions, the most per address; a fourth is refused.
      const more = [await RpcClient.connect({ host: '127.0.0.1', port: small.port('plt')!, transport: 'plt', policy: FAST }), await RpcClient.connect({ host: '127.0.0.1', port: small.port('plt')!, transport: 'plt', policy: FAST })];
      for (const m of more) await m.ping(CounterProgV1.program, 1);
      const fourth = await RpcClient.connect({ host: '127.0.0.1', port: small.port('plt')!, transport: 'plt', policy: FAST });
      await expect(fourth.ping(CounterProgV1.program, 1)).rejects.toThrow(/3 sessions from this address are open/);
      await fourth.close();
      for (const m of more) await m.close();
      await c.close();
    } finally {
      await small.close();
    }
  });

  it('random datagrams do not disturb the UDP server', async () => {
    const s = createSocket('udp4');
    await new Promise<void>((r) => s.bind(0, '127.0.0.1', () => r()));
    const before = server.engine('udp')!.counters.messages;
    const w = new XdrWriter();
    writeCallHeader(w, 1, 0x20000103, 1, 1, encodeCredential({ flavor: 0 }));
    w.word(0xffffffff);
    const garbage = [Uint8Array.from([1, 2, 3]), new Uint8Array(1000).fill(0xab), w.bytes().slice()];
    const replies: Buffer[] = [];
    s.on('message', (m) => replies.push(m));
    for (const g of garbage) s.send(g, server.port('udp')!, '127.0.0.1');
    // A valid NULL call after them: the server takes one socket's datagrams in order, so once its
    // reply is here the garbage has been dealt with, and what was not answered never will be.
    const probe = new XdrWriter();
    writeCallHeader(probe, 0x7070, CounterProgV1.program, CounterProgV1.version, 0, encodeCredential({ flavor: 0 }));
    s.send(probe.bytes().slice(), server.port('udp')!, '127.0.0.1');
    await until('the probe to be answered', () => replies.some((m) => m.readUInt32BE(0) === 0x7070), 5000);
    s.close();
    expect(server.engine('udp')!.counters.messages - before).toBe(4);
    const answered = replies.filter((m) => m.readUInt32BE(0) !== 0x7070);
    expect(answered.length).toBe(1); // only the well-formed call with bad arguments is answered
    expect(answered[0]!.readUInt32BE(20)).toBe(4); // GARBAGE_ARGS
    const c = await RpcClient.connect({ host: '127.0.0.1', port: server.port('udp')!, transport: 'udp', policy: FAST });
    await c.ping(CounterProgV1.program, 1);
    await c.close();
  });
});

describe('naming: the lab binder (portmapper v2, RFC 1833)', () => {
  it('SET refuses an existing mapping; UNSET removes every protocol; GETPORT answers 0 for unknown', () => {
    const r = new PortmapRegistry();
    expect(r.set({ prog: 5, vers: 1, prot: 17, port: 1000 })).toBe(true);
    expect(r.set({ prog: 5, vers: 1, prot: 17, port: 1001 })).toBe(false);
    expect(r.set({ prog: 5, vers: 1, prot: 6, port: 1000 })).toBe(true);
    expect(r.getport(5, 1, 6)).toBe(1000);
    expect(r.getport(5, 2, 6)).toBe(0);
    expect(r.unset(5, 1)).toBe(true);
    expect(r.dump()).toEqual([]);
  });

  it('takes SET and UNSET from loopback only', () => {
    const registry = new PortmapRegistry();
    const engine = new RpcServerEngine({ programs: [portmapProgram(registry)], drc: { enabled: false, maxEntries: 8, maxAgeMs: 1000 }, peerAddress: (id) => (id === 0 ? '127.0.0.1:5000' : '192.0.2.7:5000') });
    const w = new XdrWriter();
    const set = (peer: number, xid: number) => {
      w.reset();
      writeCallHeader(w, xid, 100000, 2, 1, encodeCredential({ flavor: 0 }));
      for (const v of [7, 1, 17, 4000]) w.uint(v);
      engine.handleDatagram(0, w.bytes().slice(), peer);
      const reply = engine.pollTransmit()!;
      return new DataView(reply.buffer, reply.byteOffset).getUint32(reply.length - 4);
    };
    expect(set(1, 1)).toBe(0);
    expect(registry.dump()).toEqual([]);
    expect(set(0, 2)).toBe(1);
    expect(registry.getport(7, 1, 17)).toBe(4000);
  });

  let binder: LabBinder;
  beforeAll(async () => {
    binder = await startLabBinder('127.0.0.1', 0);
  });
  afterAll(async () => {
    await binder.close();
  });

  it('registers a server, resolves it per transport, lists it, and unregisters it', async () => {
    const reg = await registerServer(server, { port: binder.port, kind: 'lab' });
    expect(reg.refused).toEqual([]);
    expect(reg.mappings.length).toBe(9);
    for (const t of TRANSPORTS) expect(await resolvePort('127.0.0.1', CounterProgV1.program, 1, t, { binderPort: binder.port })).toBe(portOf(t));
    const { mappings } = await dumpMappings('127.0.0.1', { binderPort: binder.port });
    expect(mappings).toContainEqual({ prog: CounterProgV1.program, vers: 1, prot: PLT_PROTOCOL, port: server.port('plt') });
    expect(mappings).toContainEqual({ prog: 100000, vers: 2, prot: 17, port: binder.port });
    await reg.unregister();
    await expect(resolvePort('127.0.0.1', CounterProgV1.program, 1, 'udp', { binderPort: binder.port })).rejects.toThrow(/has no udp registration of program 536871170 version 1/);
  });

  it("never takes over or removes another server's mappings; replaces stale ones", async () => {
    const counterUdp = async () => resolvePort('127.0.0.1', CounterProgV1.program, 1, 'udp', { binderPort: binder.port });
    const first = await registerServer(server, { port: binder.port, kind: 'lab' });
    expect(first.skipped).toEqual([]);
    // A second server of the same programs finds them held by a server that answers: it skips them.
    const second = await RpcServer.start({ programs: demoPrograms().programs });
    try {
      const reg2 = await registerServer(second, { port: binder.port, kind: 'lab' });
      expect(reg2.mappings).toEqual([]);
      expect(reg2.skipped.map((k) => k.program).sort()).toEqual(demo.programs.map((p) => p.program).sort());
      expect(await counterUdp()).toBe(server.port('udp'));
      await reg2.unregister();
      expect(await counterUdp()).toBe(server.port('udp'));
    } finally {
      await second.close();
    }
    // The first one's mappings outlive its server only until another server registers: stale, replaced.
    const third = await RpcServer.start({ programs: demoPrograms().programs });
    const fourth = await RpcServer.start({ programs: demoPrograms().programs });
    try {
      const reg3 = await registerServer(third, { port: binder.port, kind: 'lab' });
      expect(reg3.skipped.length).toBe(demo.programs.length);
      await third.close();
      // The first registration's server (`server`) still answers, so nothing is stale yet; after
      // taking its own back, a new server registers, and the first server's exit must not remove it.
      await first.unregister();
      const reg4 = await registerServer(fourth, { port: binder.port, kind: 'lab' });
      expect(reg4.skipped).toEqual([]);
      expect(await counterUdp()).toBe(fourth.port('udp'));
      await first.unregister();
      expect(await counterUdp()).toBe(fourth.port('udp'));
      await reg4.unregister();
      await expect(counterUdp()).rejects.toThrow(/has no udp registration/);
    } finally {
      await third.close();
      await fourth.close();
    }
  });

  it('replaces the mappings of a server that no longer answers', async () => {
    const gone = await RpcServer.start({ programs: demoPrograms().programs });
    await registerServer(gone, { port: binder.port, kind: 'lab' });
    await gone.close();
    const next = await RpcServer.start({ programs: demoPrograms().programs });
    try {
      const reg = await registerServer(next, { port: binder.port, kind: 'lab' });
      expect(reg.skipped).toEqual([]);
      expect(await resolvePort('127.0.0.1', CounterProgV1.program, 1, 'tcp', { binderPort: binder.port })).toBe(next.port('tcp'));
      await reg.unregister();
    } finally {
      await next.close();
    }
  });

  it('packetlab rpc call and rpcinfo through the binder; bad arguments are usage errors', async () => {
    const reg = await registerServer(server, { port: binder.port, kind: 'lab' });
    try {
      const x = join(root, 'core/rpc/programs/kv.x');
      const put = await cliAsync(['rpc', 'call', '--x', x, '127.0.0.1', 'KV_PROG', 'KV_V1', 'KV_PUT', '{"key":"cli","value":"cafe","expected_revision":null}', '--binder-port', String(binder.port), '--transport', 'tcp']);
      expect(put.stderr).toBe('');
      expect(JSON.parse(put.stdout)).toEqual({ status: 'KV_OK', revision: '1' });
      const get = await cliAsync(['rpc', 'call', '--x', x, '127.0.0.1', String(0x20000101), '1', '2', '"cli"', '--port', String(server.port('udp')), '--json', '--auth', 'sys']);
      const line = JSON.parse(get.stdout);
      expect(line).toMatchObject({ type: 'result', transport: 'udp', name: 'KV_GET', result: { status: 'KV_OK', entry: { key: 'cli', value: 'cafe', revision: '1' } }, retransmissions: 0 });
      const info = await cliAsync(['rpcinfo', '-p', '127.0.0.1', '--binder-port', String(binder.port)]);
      expect(info.stderr).toBe('');
      const lines = info.stdout.trimEnd().split('\n');
      expect(lines[0]).toBe('   program vers proto   port  service');
      expect(lines).toContain(`${String(0x20000101).padStart(10)}    1   plt ${String(server.port('plt')).padStart(6)}  packetlab-kv`);
      const bad = await cliAsync(['rpc', 'call', '--x', x, '127.0.0.1', 'KV_PROG', '1', 'KV_GET', '42', '--port', String(server.port('udp'))]);
      expect(bad.code).toBe(2);
      expect(bad.stderr).toBe('packetlab: JSON-ARGS: args: expected a string, got number 42\n');
      const badProc = await cliAsync(['rpc', 'call', '--x', x, '127.0.0.1', 'KV_PROG', '1', 'NOPE', '--port', String(server.port('udp'))]);
      expect(badProc.code).toBe(2);
      expect(badProc.stderr).toContain('PROC: NOPE is not a procedure of KV_V1 (procedures: NULL (0), KV_PUT (1)');
      const badFlag = await cliAsync(['rpc', 'call', '--x', x, '127.0.0.1', 'KV_PROG', '1', '0', '--retry', '1ms', '--port', String(server.port('udp'))]);
      expect(badFlag.code).toBe(2);
      expect(badFlag.stderr).toContain('--retry must be 0 (send once) or from 10ms to 600000ms');
      const remote = await cliAsync(['rpc', 'call', '--x', join(root, 'core/rpc/programs/counter.x'), '127.0.0.1', 'COUNTER_PROG', '1', 'GET', '--port', String(server.port('tcp')), '--transport', 'tcp', '--json']);
      expect(remote.code).toBe(0);
      const notThere = await cliAsync(['rpc', 'call', '--x', x, '127.0.0.1', 'KV_PROG', '1', 'NULL', '--port', '1', '--transport', 'tcp']);
      expect(notThere.code).toBe(1);
      expect(notThere.stderr).toContain('connection refused');
    } finally {
      await reg.unregister();
    }
  });
});

describe('packetlab rpc serve-demo', () => {
  it('serves, registers with the lab binder it starts, and unregisters on Ctrl-C', async () => {
    const probe = createSocket('udp4');
    await new Promise<void>((r) => probe.bind(0, '127.0.0.1', () => r()));
    const binderPort = probe.address().port;
    probe.close();
    const child = spawn(process.execPath, [join(root, 'bin/packetlab.js'), 'rpc', 'serve-demo', '--json', '--binder-port', String(binderPort), '--stats-interval', '0'], { stdio: ['ignore', 'pipe', 'pipe'] });
    const lines = createInterface({ input: child.stdout! });
    const got: Record<string, unknown>[] = [];
    const registered = new Promise<void>((resolve, reject) => {
      lines.on('line', (l) => {
        got.push(JSON.parse(l) as Record<string, unknown>);
        if (got[got.length - 1]!.type === 'registered') resolve();
      });
      let stderr = '';
      child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
      child.on('exit', (code) => reject(new Error(`serve-demo exited with ${code}: ${stderr}`)));
    });
    try {
      await registered;
      expect(got[0]).toMatchObject({ type: 'serving', host: '127.0.0.1' });
      expect(got[1]).toMatchObject({ type: 'registered', binder: 'lab', binderPort, startedBinder: true });
      const port = await resolvePort('127.0.0.1', CounterProgV1.program, 1, 'udp', { binderPort });
      const c = await RpcClient.connect({ host: '127.0.0.1', port, transport: 'udp', policy: FAST });
      expect(await new CounterProgV1Client(c).increment(41)).toBe(41n);
      await c.close();
    } finally {
      const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
      child.kill('SIGINT');
      expect(await exited).toBe(0);
    }
  });

  it('logs refused UDP replies once per interval, with the last one described, and takes its TCP limits from flags', async () => {
    const child = spawn(process.execPath, [join(root, 'bin/packetlab.js'), 'rpc', 'serve-demo', '--no-register', '--no-plt', '--stats-interval', '200ms', '--max-tcp-per-address', '2'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
    try {
      await until(() => `serve-demo to serve; output: ${out}`, () => /^on 127\.0\.0\.1: udp \d+/m.test(out), 20_000);
      const port = Number(/^on 127\.0\.0\.1: udp (\d+)/m.exec(out)![1]);
      const tcp = await RpcClient.connect({ host: '127.0.0.1', port, transport: 'tcp', policy: FAST });
      const kv = new KvProgV1Client(tcp);
      for (let i = 0; i < 20; i++) expect((await kv.kvPut({ key: `key-${i}`, value: new Uint8Array(500), expected_revision: null })).status).toBe(KvStatus.KV_OK);
      // A third TCP connection from this address is refused (two allowed).
      const second = await RpcClient.connect({ host: '127.0.0.1', port, transport: 'tcp', policy: FAST });
      const third = await RpcClient.connect({ host: '127.0.0.1', port, transport: 'tcp', policy: FAST });
      await expect(third.ping(KvProgV1.program, 1)).rejects.toThrow();
      await third.close().catch(() => undefined);
      await second.close();
      // Over UDP the list is about 200 times its call: refused, three times.
      const udp = await RpcClient.connect({ host: '127.0.0.1', port, transport: 'udp', policy: FAST });
      for (let i = 0; i < 3; i++) await expect(new KvProgV1Client(udp).kvList('')).rejects.toThrow(/SYSTEM_ERR/);
      await udp.close();
      const refusals = () => out.split('\n').filter((l) => l.startsWith('refused '));
      const refusedSum = () => refusals().reduce((n, l) => n + Number(/^refused (\d+)/.exec(l)![1]), 0);
      await until(() => `the refusal lines; output: ${out}`, () => refusedSum() >= 3, 5000);
      expect(refusedSum()).toBe(3);
      expect(refusals().length).toBeLessThanOrEqual(3);
      expect(refusals().at(-1)).toMatch(/the last: KV_LIST: a \d+-byte reply to a \d+-byte call from 127\.0\.0\.1:\d+ is more than 3 times the call; answered SYSTEM_ERR \(the caller can use TCP\)$/);
      await until(() => `the TCP line; output: ${out}`, () => /^TCP so far: 0 connections refused \(server full\), 1 refused \(address full\)/m.test(out), 5000);
      await tcp.close();
    } finally {
      const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
      child.kill('SIGINT');
      expect(await exited).toBe(0);
    }
    const bad = await cliAsync(['rpc', 'serve-demo', '--tcp-idle-timeout', '3 fortnights']);
    expect(bad.code).toBe(2);
    expect(bad.stderr.trim().split('\n')).toHaveLength(1);
  });
});
