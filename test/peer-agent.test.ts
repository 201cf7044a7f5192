// The peer agent and its client on loopback: real transfers, streams and RPC workloads against
// services the agent started, the echo's budget on real sockets, caps, wrong tokens, replays,
// services that die with their connection, and a client that notices a dead agent within 3 s.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import { connect, connect as netConnect, createServer, type Server } from 'node:net';
import { startPeerAgent, type PeerAgent, type PeerLogEntry } from '../net/peer/agent.js';
import { PeerClient, PeerConnectError, PeerLostError, PeerRemoteError } from '../net/peer/client.js';
import { runUdpTransfer } from '../workloads/transfer/udp-transfer.js';
import { runUdpStream } from '../workloads/stream/run.js';
import { DEFAULT_RPC_SETUP, runUdpRpcWorkload } from '../workloads/rpc/workload.js';
import { DEFAULT_TRANSPORT_CONFIG } from '../core/transport/config.js';
import { NO_IMPAIRMENT } from '../core/impair/config.js';
import { DEFAULT_PEER_CAPS } from '../core/peer/caps.js';
import type { TransferSetup } from '../core/transfer/setup.js';
import { cli, cliAsync, jsonLines, untilAgentListens } from './helpers/cli.js';
import { until } from './helpers/until.js';
import { transferSetup } from './helpers/transfer-setup.js';
import { reliableSyn, streamSyn } from './helpers/listener-sim.js';

const TOKEN = 'loopback-test-token-0123';
const noSockets = { socketRcvBufBytes: 0, socketSndBufBytes: 0 };

/** A transfer of `bytes` as these tests run it unless they say otherwise: a wide window, 2% loss on the way out. */
function agentTransfer(bytes: number, over: Partial<TransferSetup> = {}): TransferSetup {
  return transferSetup(bytes, { transport: { ...DEFAULT_TRANSPORT_CONFIG, windowPackets: 64, rcvBufferBytes: 1 << 20, rtoMsMin: 5, rtoMsInitial: 50 }, forward: { ...NO_IMPAIRMENT, lossProbability: 0.02 }, seed: 5, ...over });
}

function bindUdp(host: string): Promise<UdpSocket> {
  const s = createSocket('udp4');
  return new Promise((r) => s.bind(0, host, () => r(s)));
}

/** Sends `count` datagrams of `size` bytes from `sock` and collects the replies for `waitMs`. */
async function exchange(sock: UdpSocket, port: number, count: number, size: number, waitMs = 300): Promise<Buffer[]> {
  const got: Buffer[] = [];
  const on = (m: Buffer) => got.push(m);
  sock.on('message', on);
  for (let i = 0; i < count; i++) {
    await new Promise<void>((r) => sock.send(Buffer.alloc(size, i), port, '127.0.0.1', () => r()));
    await new Promise((r) => setTimeout(r, 2));
  }
  await new Promise((r) => setTimeout(r, waitMs));
  sock.off('message', on);
  return got;
}

describe('peer agent on loopback', () => {
  let agent: PeerAgent;
  const logs: PeerLogEntry[] = [];

  beforeAll(async () => {
    agent = await startPeerAgent({ port: 0, token: TOKEN, log: (e) => logs.push(e), beacon: false, caps: { maxServicesPerClient: 4 } });
  });
  afterAll(async () => {
    await agent.close();
  });

  const client = () => PeerClient.connect({ host: '127.0.0.1', port: agent.port, token: TOKEN });

  it('binds loopback by default and welcomes a client with its caps', async () => {
    expect(agent.host).toBe('127.0.0.1');
    const c = await client();
    expect(c.agent.caps.maxServicesPerClient).toBe(4);
    expect(c.agent.software).toMatch(/^packetlab /);
    expect(await c.ping()).toBeLessThan(1000);
    await c.close();
  });

  it('a reliable transfer completes against its listener, and the listener reports the receiver side', async () => {
    const c = await client();
    const l = await c.startListener({ socket: { socketRcvBufBytes: 1 << 20 } });
    expect(l.host).toBe('127.0.0.1');
    const s = await runUdpTransfer({ setup: agentTransfer(3_000_000), peer: { host: l.host, port: l.udpPort }, socket: noSockets });
    expect(s.status, s.failure ?? '').toBe('complete');
    expect(s.dataMatched).toBe(true);
    const stats = await c.stats(l.service);
    expect(stats.kind).toBe('listener');
    if (stats.kind !== 'listener') return;
    const session = stats.sessions.find((x) => x.kind === 'reliable');
    expect(session?.counters.deliveredBytes).toBe(3_000_000);
    expect(session?.peer).toMatch(/^127\.0\.0\.1:\d+$/);
    expect(stats.kernelDrops).not.toBeNull();
    const final = await c.stop(l.service);
    expect(final.ended).toBe('stopped by the client');
    await expect(c.stats(l.service)).resolves.toMatchObject({ ended: 'stopped by the client' });
    await c.close();
  });

  it('a UDP stream reports to the client; a stream over the bit-rate limit is refused by the listener', async () => {
    const c = await client();
    const events: string[] = [];
    c.onEvent((e) => events.push(`${e.name}:${e.reason ?? ''}`));
    // A socket buffer that holds the whole stream: a busy machine (CI runs test files side by side)
    // must not turn this into a test of kernel drops.
    const l = await c.startListener({ limits: { maxRateBitsPerSecond: 20e6 }, socket: { socketRcvBufBytes: 2 << 20 } });
    const ok = await runUdpStream({ setup: { datagramBytes: 1000, ratePacketsPerSecond: 2000, durationMs: 500, intervalMs: 100, impairment: { ...NO_IMPAIRMENT }, seed: 1 }, peer: { host: l.host, port: l.udpPort }, socket: noSockets });
    expect(ok.status, ok.failure ?? '').toBe('complete');
    expect(ok.receiver!.packetsReceived).toBeGreaterThan(900);
    const tooFast = await runUdpStream({ setup: { datagramBytes: 1000, ratePacketsPerSecond: 5000, durationMs: 500, intervalMs: 100, impairment: { ...NO_IMPAIRMENT }, seed: 2 }, peer: { host: l.host, port: l.udpPort }, socket: noSockets });
    expect(tooFast.status).toBe('failed');
    expect(tooFast.failure).toMatch(/exceeds/);
    await until('a session-refused event', () => events.some((e) => e.startsWith('session-refused:')), 2000);
    // The listener counts bits as `packetlab udp --rate` does, IP and UDP headers included: 5000 x (1000 + 28) x 8.
    expect(events.find((e) => e.startsWith('session-refused:'))).toContain('stream of 41120000 bit/s (5000 packets/s of 1000 B, IP and UDP headers counted) exceeds the listener cap of 20000000 bit/s');
    await c.close();
  });

  it('RPC workloads complete over udp, tcp and plt against one counter, and the agent counts the executions', async () => {
    const c = await client();
    const r = await c.startRpcServer({ transports: ['udp', 'tcp', 'plt'], drc: { enabled: true } });
    expect(r.ports.udp).not.toBeNull();
    expect(r.ports.tcp).not.toBeNull();
    expect(r.ports.plt).not.toBeNull();
    let succeeded = 0;
    for (const transport of ['udp', 'tcp', 'plt'] as const) {
      const port = r.ports[transport]!;
      const s = await runUdpRpcWorkload({ setup: { ...DEFAULT_RPC_SETUP, transport, totalCalls: 300, seed: 3 }, peer: { host: r.host, port } });
      expect(s.status, `${transport}: ${s.failure ?? ''}`).toBe('complete');
      expect(s.callsSucceeded).toBe(300);
      succeeded += s.incrementsSucceeded;
    }
    // Naming: the service's portmapper (RFC 1833, next to the counter) maps it on every transport.
    for (const transport of ['udp', 'tcp'] as const) {
      const port = r.ports[transport]!;
      const s = await runUdpRpcWorkload({ setup: { ...DEFAULT_RPC_SETUP, transport, totalCalls: 100, seed: 4, binding: 'every-call', mix: { null: 1, echo: 0, increment: 0 } }, peer: { host: r.host, port } });
      expect(s.status, `${transport}: ${s.failure ?? ''}`).toBe('complete');
      expect(s.lookups).toBe(100);
      expect(s.lookupFailures).toBe(0);
      expect(s.logicalCalls).toBe(100);
    }
    const stats = await c.stats(r.service);
    expect(stats.kind).toBe('rpc');
    if (stats.kind !== 'rpc') return;
    expect(stats.counter.increments).toBe(succeeded);
    expect(stats.counter.value).toBe(String(succeeded));
    expect(stats.server.executions).toBe(900 + 2 * 200);
    expect(stats.drc.enabled).toBe(true);
    await c.close();
  });

  it('with the cache switched off, duplicated requests execute twice at the agent (at-least-once)', async () => {
    const c = await client();
    const r = await c.startRpcServer({ transports: ['udp'], drc: { enabled: true } });
    await c.configureRpc(r.service, { enabled: false });
    const s = await runUdpRpcWorkload({ setup: { ...DEFAULT_RPC_SETUP, totalCalls: 400, seed: 9, forward: { ...NO_IMPAIRMENT, duplicateProbability: 0.2 } }, peer: { host: r.host, port: r.ports.udp! } });
    expect(s.status, s.failure ?? '').toBe('complete');
    const stats = await c.stop(r.service);
    if (stats.kind !== 'rpc') throw new Error('not an rpc service');
    expect(stats.drc.enabled).toBe(false);
    expect(stats.counter.repeatedExecutions).toBeGreaterThan(20);
    expect(stats.counter.increments).toBe(400 + stats.counter.repeatedExecutions);
    await c.close();
  });

  it('the echo answers only the client, never with more bytes than it received', async () => {
    const c = await client();
    const e = await c.startEcho({ replyBytes: 300 });
    const mine = await bindUdp('127.0.0.1');
    const stranger = await bindUdp('127.0.0.2');
    const replies = await exchange(mine, e.udpPort, 30, 100);
    const none = await exchange(stranger, e.udpPort, 10, 1000);
    mine.close();
    stranger.close();
    // 3000 bytes in: ten 300-byte replies, each carrying the start of the request that paid for it.
    expect(replies.map((r) => r.length)).toEqual(new Array(10).fill(300));
    expect(replies[0]![0]).toBe(2);
    expect(none).toEqual([]);
    const stats = await c.stats(e.service);
    if (stats.kind !== 'echo') throw new Error('not an echo');
    expect(stats.counters).toMatchObject({ receivedBytes: 3000, sentBytes: 3000, sentDatagrams: 10, budgetDrops: 20, foreignDrops: 10 });
    expect(stats.foreignDrops).toBe(10);

    const plain = await c.startEcho();
    const s2 = await bindUdp('127.0.0.1');
    const back = await exchange(s2, plain.udpPort, 5, 200);
    s2.close();
    expect(back.map((b) => b.length)).toEqual([200, 200, 200, 200, 200]);
    await c.close();
  });

  it("the RPC service answers only the client's host, on every transport", async () => {
    const c = await client();
    const r = await c.startRpcServer({ transports: ['udp', 'tcp', 'plt'], drc: { enabled: true } });
    // A well-formed NULL call (RFC 5531: xid, CALL, rpcvers 2, prog, vers, proc 0, AUTH_NONE twice).
    const call = Buffer.alloc(40);
    [0x1234, 0, 2, r.program, r.version, 0, 0, 0, 0, 0].forEach((v, i) => call.writeUInt32BE(v >>> 0, i * 4));
    const own = await bindUdp('127.0.0.1');
    const answered = await new Promise<number>((resolve) => {
      own.once('message', (m) => resolve(m.length));
      own.send(call, r.ports.udp!, '127.0.0.1');
    });
    own.close();
    expect(answered).toBeGreaterThan(0);
    const stranger = await bindUdp('127.0.0.2');
    const got: Buffer[] = [];
    stranger.on('message', (m) => got.push(m));
    for (let i = 0; i < 3; i++) {
      stranger.send(call, r.ports.udp!, '127.0.0.1');
      stranger.send(call, r.ports.plt!, '127.0.0.1');
    }
    await new Promise((res) => setTimeout(res, 300));
    stranger.close();
    expect(got).toEqual([]);
    // A TCP connection from another host is closed at once, before a record is read.
    const closed = await new Promise<boolean>((resolve) => {
      const sock = connect({ host: '127.0.0.1', port: r.ports.tcp!, localAddress: '127.0.0.2' }, () => sock.write(Buffer.concat([Buffer.from([0x80, 0, 0, 40]), call])));
      sock.on('data', () => resolve(false));
      sock.on('close', () => resolve(true));
      sock.on('error', () => {});
    });
    expect(closed).toBe(true);
    const stats = await c.stats(r.service);
    expect(stats.foreignDrops).toBe(7);
    expect(stats.kind).toBe('rpc');
    if (stats.kind === 'rpc') expect(stats.server.calls).toBe(1);
    await c.close();
  });

  it("the listener drops other hosts' datagrams before keeping any state", async () => {
    const c = await client();
    const l = await c.startListener();
    const stranger = await bindUdp('127.0.0.2');
    const none = await exchange(stranger, l.udpPort, 5, 200, 100);
    stranger.close();
    expect(none).toEqual([]);
    const stats = await c.stats(l.service);
    expect(stats.foreignDrops).toBe(5);
    if (stats.kind === 'listener') expect(stats.listener.stray).toBe(0);
    await c.close();
  });

  it("a live change of the receiver's knobs reaches the agent's session; bad changes are refused with the reason", async () => {
    const c = await client();
    const l = await c.startListener({ limits: { maxRcvBufferBytes: 512 * 1024 } });
    let connectionId = -1;
    const windows: number[] = [];
    const changes: Promise<unknown>[] = [];
    const s = await runUdpTransfer({
      setup: agentTransfer(400_000, { transport: { ...DEFAULT_TRANSPORT_CONFIG, windowPackets: 64, rcvBufferBytes: 32 * 1024, rtoMsMin: 5, rtoMsInitial: 50 }, forward: { ...NO_IMPAIRMENT }, readRateBytesPerSecond: 400_000 }),
      peer: { host: l.host, port: l.udpPort },
      socket: noSockets,
      onStart: (t) => (connectionId = t.sender.conn.connectionId),
      onSample: (x) => {
        windows.push(x.peer_window_bytes);
        if (windows.length === 3) {
          changes.push(c.configureSession(l.service, connectionId, { rcvBufferBytes: 1 << 20 }).then(() => 'accepted', (e: Error) => e.message));
          changes.push(c.configureSession(l.service, connectionId, { rcvBufferBytes: 256 * 1024, ackEveryPackets: 2 }).then(() => 'accepted'));
        }
      },
    });
    expect(s.status, s.failure ?? '').toBe('complete');
    expect(s.dataMatched).toBe(true);
    expect(await Promise.all(changes)).toEqual([`peer 127.0.0.1:${agent.port}: rcvBufferBytes 1048576 exceeds this listener's limit of 524288 bytes`, 'accepted']);
    const finite = (xs: number[]) => xs.filter((x) => Number.isFinite(x));
    expect(Math.max(...finite(windows.slice(0, 3)))).toBeLessThanOrEqual(32 * 1024);
    expect(Math.max(...finite(windows.slice(4)))).toBeGreaterThan(100 * 1024);
    // Once the session has closed (after its linger), it is refused.
    let closed: unknown = null;
    await until(
      `session ${connectionId} to close on the agent's listener (a configure-session refused)`,
      async () => {
        closed = await c.configureSession(l.service, connectionId, { sack: false }).then(() => null, (e: unknown) => e);
        return closed !== null;
      },
      3000,
      50,
    );
    expect(String(closed)).toContain(`no open reliable session ${connectionId} on this listener`);
    await expect(c.configureSession(l.service, 1, {})).rejects.toThrow(/invalid configure-session request: changes: names no knob to change/);
    await expect(c.configureSession(l.service, 1, { ackEveryPackets: 0.5 })).rejects.toThrow(/invalid configure-session request: changes\.ackEveryPackets/);
    await expect(c.configureSession(l.service, 1, { windowPackets: 5 } as never)).rejects.toThrow(/invalid configure-session request: changes/);
    const echo = await c.startEcho();
    await expect(c.configureSession(echo.service, 1, { sack: false })).rejects.toThrow(`service ${echo.service} is a echo, not a listener`);
    await c.close();
  });

  it('requests over the caps are refused with clear errors, and the session goes on', async () => {
    const c = await client();
    await expect(c.startListener({ socket: { socketRcvBufBytes: 200 << 20 } })).rejects.toThrow(/socket\.socketRcvBufBytes 209715200 exceeds the agent's cap of 16777216 bytes \(packetlab peer --max-socket-buffer raises it\)/);
    await expect(c.startListener({ lifetimeMs: 10 * 3_600_000 })).rejects.toThrow(/lifetimeMs 36000000 exceeds .* --max-duration/);
    await expect(c.startEcho({ limits: { maxRatePacketsPerSecond: 10_000_000 } })).rejects.toThrow(/--max-rate/);
    const err = await c.startRpcServer({ transports: ['udp'], drc: { enabled: true, maxEntries: 1_000_000 } }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(PeerRemoteError);
    expect((err as PeerRemoteError).request).toBe('start-rpc');
    const ids = [];
    for (let i = 0; i < 4; i++) ids.push((await c.startEcho()).service);
    await expect(c.startEcho()).rejects.toThrow(/already runs 4 services.*--max-services/);
    await c.stop(ids[0]!);
    await expect(c.startEcho()).resolves.toMatchObject({ udpPort: expect.any(Number) });
    await expect(c.stats(987654)).rejects.toThrow(/no service 987654 runs for this client/);
    // A value out of the knob's range is refused by the schema, naming the field.
    await expect(c.startListener({ transport: { rtoBackoff: 99 } })).rejects.toThrow(/invalid start-listener request: transport\.rtoBackoff/);
    await expect(c.ping()).resolves.toBeTypeOf('number');
    await c.close();
  });

  it("a client's services stop when its connection closes (no orphan listeners)", async () => {
    const c = await client();
    const l = await c.startListener();
    const e = await c.startEcho();
    expect(agent.clients().some((x) => x.services === 2)).toBe(true);
    await c.close();
    await until('the agent to drop the client', () => agent.clients().length === 0, 2000);
    // The ports are free again: binding them succeeds.
    for (const port of [l.udpPort, e.udpPort]) {
      const s = createSocket('udp4');
      await new Promise<void>((resolve, reject) => {
        s.once('error', reject);
        s.bind(port, '127.0.0.1', () => resolve());
      });
      s.close();
    }
    await expect(c.ping()).rejects.toBeInstanceOf(PeerLostError);
  });

  it('a wrong token is refused with a clear error, and the agent logs it with the address', async () => {
    const err = await PeerClient.connect({ host: '127.0.0.1', port: agent.port, token: 'not-the-token-at-all' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(PeerConnectError);
    expect((err as PeerConnectError).reason).toBe('token');
    expect((err as Error).message).toBe(`peer 127.0.0.1:${agent.port} refused the token (both ends need the same --token, --token-file or PACKETLAB_TOKEN)`);
    await until('a wrong-token warning', () => logs.some((l) => l.level === 'warn' && /wrong token/.test(l.message)), 1000);
    expect(logs.find((l) => /wrong token/.test(l.message))!.remote).toMatch(/^127\.0\.0\.1:\d+$/);
  });

  it('garbage and replayed sessions are rejected, logged with the address, and disconnected', async () => {
    const raw = async (bytes: string | Buffer): Promise<string> =>
      new Promise((resolve) => {
        const s = connect(agent.port, '127.0.0.1', () => s.write(bytes));
        let got = '';
        s.on('data', (d) => (got += d.toString()));
        s.on('close', () => resolve(got));
        s.on('error', () => {});
      });
    const before = logs.length;
    const answer = await raw('GET / HTTP/1.1\r\n\r\n');
    expect(JSON.parse(answer.trim())).toMatchObject({ refused: { code: 'protocol' } });
    await until('a malformed-frame warning', () => logs.slice(before).some((l) => l.level === 'warn' && /rejected malformed frame/.test(l.message)), 1000);

    // Record what a real client sends, then replay it on a new connection: the agent's fresh nonce
    // gives other keys, so the recorded auth frame fails and nothing runs.
    const recorded: Buffer[] = [];
    const proxy = await new Promise<Server>((resolve) => {
      const srv = createServer((down) => {
        const up = connect(agent.port, '127.0.0.1');
        down.on('data', (d: Buffer) => {
          recorded.push(d);
          up.write(d);
        });
        up.on('data', (d) => down.write(d));
        down.on('close', () => up.destroy());
        up.on('close', () => down.destroy());
        down.on('error', () => {});
        up.on('error', () => {});
      });
      srv.listen(0, '127.0.0.1', () => resolve(srv));
    });
    const c = await PeerClient.connect({ host: '127.0.0.1', port: (proxy.address() as { port: number }).port, token: TOKEN });
    await c.startEcho();
    await c.close();
    proxy.close();
    const servicesBefore = agent.clients().length;
    const n = logs.length;
    const replayAnswer = await raw(Buffer.concat(recorded));
    expect(replayAnswer).toContain('"refused":{"code":"token"');
    await until('a wrong-token log line', () => logs.slice(n).some((l) => /wrong token/.test(l.message)), 1000);
    expect(agent.clients().length).toBe(servicesBefore);
  });

  it('a client that goes silent is dropped by the agent, its services stopped', async () => {
    const quiet = await startPeerAgent({ port: 0, token: TOKEN, beacon: false, clientSilenceMs: 400, log: (e) => logs.push(e) });
    const c = await PeerClient.connect({ host: '127.0.0.1', port: quiet.port, token: TOKEN, pingIntervalMs: 60_000, lostAfterMs: 60_000 });
    const l = await c.startListener();
    const lost = new Promise<string>((r) => c.onLost(r));
    expect(await lost).toBe(`peer 127.0.0.1:${quiet.port} closed the connection`);
    expect(logs.some((x) => /went silent.*stopping its 1 service/.test(x.message))).toBe(true);
    const s = createSocket('udp4');
    await new Promise<void>((resolve, reject) => {
      s.once('error', reject);
      s.bind(l.udpPort, '127.0.0.1', () => resolve());
    });
    s.close();
    await quiet.close();
  });

  it('a host that never authenticates holds at most four places in the queue: another address gets in at once', async () => {
    const lines: PeerLogEntry[] = [];
    const agent2 = await startPeerAgent({ port: 0, token: TOKEN, beacon: false, log: (e) => lines.push(e) });
    // As many as the agent lets authenticate at once, all from one address.
    const idle = Array.from({ length: 16 }, () => connect(agent2.port, '127.0.0.1').on('error', () => {}).on('data', () => {}));
    await until('the idle connections to be accepted or refused', () => idle.every((s) => s.readyState === 'open' || s.destroyed || s.readyState === 'readOnly'), 5000);
    // A client from another address of this machine authenticates although 127.0.0.1 holds its places.
    const other = await PeerClient.connect({ host: '127.0.0.1', port: agent2.port, token: TOKEN, localAddress: '127.0.0.2' });
    expect(other.agent.software).toMatch(/^packetlab /);
    await other.close();
    await until('the refusals to be logged', () => lines.some((l) => /from this address are already authenticating/.test(l.message)), 5000);
    const refused = lines.filter((l) => /from this address are already authenticating/.test(l.message));
    expect(refused[0]).toMatchObject({ level: 'warn', message: 'refused: 4 connections from this address are already authenticating' });
    for (const sock of idle) sock.destroy();
    await agent2.close();
  });

  it('a flood of connections it turns away makes a line per address and reason a second, counts adding up', async () => {
    const lines: PeerLogEntry[] = [];
    const flooded = await startPeerAgent({ port: 0, token: TOKEN, beacon: false, log: (e) => lines.push(e) });
    // Sixteen connections that never authenticate, four from each of four addresses, fill the
    // agent's authentication slots ...
    const idle = Array.from({ length: 16 }, (_, i) => netConnect({ host: '127.0.0.1', port: flooded.port, localAddress: `127.0.0.${2 + (i % 4)}` }).on('error', () => {}));
    await until('16 connections to be accepted', () => flooded.clients().length === 0 && idle.every((s) => s.readyState === 'open'), 5000);
    await new Promise((r) => setTimeout(r, 100));
    // ... so each of these is refused at once.
    let ended = 0;
    const extra = Array.from({ length: 300 }, () =>
      connect(flooded.port, '127.0.0.1')
        .on('error', () => {})
        .on('data', () => {})
        .once('end', () => ended++),
    );
    await until(() => `300 refusals, ${ended} so far`, () => ended === 300, 10_000);
    for (const sock of [...idle, ...extra]) sock.destroy();
    await flooded.close();
    const busy = lines.filter((l) => /16 connections are already authenticating/.test(l.message));
    const counted = busy.reduce((n, l) => n + (/^([\d,]+) connections in the last/.test(l.message) ? Number(/^([\d,]+)/.exec(l.message)![1]!.replace(/,/g, '')) : 1), 0);
    expect(counted).toBe(300);
    expect(busy.length).toBeLessThanOrEqual(4);
    expect(busy[0]).toMatchObject({ level: 'warn', message: 'refused: 16 connections are already authenticating' });
    expect(busy[0]!.remote).toMatch(/^127\.0\.0\.1:\d+$/);
    expect(busy.at(-1)!.remote).toBe('127.0.0.1');
  });

  it("a lone SYN to the agent's listener gets at most three times its bytes back, and its slot is freed", async () => {
    const guarded = await startPeerAgent({ port: 0, token: TOKEN, beacon: false, listenerGuards: { handshakeTimeoutMs: 300, streamIdleTimeoutMs: 300 } });
    expect(guarded.listenerGuards).toEqual({ handshakeTimeoutMs: 300, streamIdleTimeoutMs: 300, minReportIntervalMs: 50 });
    const c = await PeerClient.connect({ host: '127.0.0.1', port: guarded.port, token: TOKEN });
    const l = await c.startListener();
    const got = new Map<UdpSocket, number>();
    const probes = await Promise.all([bindUdp('127.0.0.1'), bindUdp('127.0.0.1')]);
    for (const p of probes) {
      got.set(p, 0);
      p.on('message', (m) => got.set(p, got.get(p)! + m.length));
    }
    probes[0]!.send(streamSyn(1, 10), l.udpPort, '127.0.0.1');
    probes[1]!.send(reliableSyn(2), l.udpPort, '127.0.0.1');
    const listenerCounters = async () => {
      const st = await c.stats(l.service);
      return st.kind === 'listener' ? st : null;
    };
    await until('both sessions to open and end', async () => {
      const st = await listenerCounters();
      return st !== null && st.listener.sessionsOpened === 2 && st.sessions.every((x) => x.finished);
    }, 5000);
    expect((await listenerCounters())!.listener.handshakesTimedOut).toBe(1);
    // A third SYN, answered after the others were forgotten: whatever they got came before.
    const late = await bindUdp('127.0.0.1');
    const answered = new Promise((r) => late.once('message', r));
    late.send(reliableSyn(3), l.udpPort, '127.0.0.1');
    await answered;
    for (const p of probes) {
      expect(got.get(p)).toBeGreaterThan(0);
      expect(got.get(p)).toBeLessThanOrEqual(3 * 60);
      p.close();
    }
    late.close();
    await c.close();
    await guarded.close();
  });

  it('a second client beyond --max-clients is refused', async () => {
    const one = await startPeerAgent({ port: 0, token: TOKEN, beacon: false, caps: { maxClients: 1 } });
    const a = await PeerClient.connect({ host: '127.0.0.1', port: one.port, token: TOKEN });
    const err = await PeerClient.connect({ host: '127.0.0.1', port: one.port, token: TOKEN }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(PeerConnectError);
    expect((err as PeerConnectError).reason).toBe('refused');
    expect((err as Error).message).toMatch(/already serves 1 clients/);
    await a.close();
    await one.close();
  });

  it('a server that is not an agent, or one that never answers, fails the connect with a clear error', async () => {
    const banner = createServer((s) => s.end('SSH-2.0-OpenSSH_9.2\r\n'));
    const silent = createServer(() => {});
    await new Promise<void>((r) => banner.listen(0, '127.0.0.1', () => r()));
    await new Promise<void>((r) => silent.listen(0, '127.0.0.1', () => r()));
    const bp = (banner.address() as { port: number }).port;
    const sp = (silent.address() as { port: number }).port;
    const e1 = await PeerClient.connect({ host: '127.0.0.1', port: bp, token: TOKEN }).catch((e: unknown) => e);
    expect(e1).toMatchObject({ name: 'PeerConnectError', reason: 'protocol', message: expect.stringContaining(`127.0.0.1:${bp} does not speak the peer agent's protocol`) });
    const e2 = await PeerClient.connect({ host: '127.0.0.1', port: sp, token: TOKEN, timeoutMs: 300 }).catch((e: unknown) => e);
    expect(e2).toMatchObject({ name: 'PeerConnectError', reason: 'timeout', message: `peer 127.0.0.1:${sp} did not complete the handshake within 0.3 s` });
    banner.close();
    silent.close();
  });

  it('connecting where nothing listens fails at once with the address', async () => {
    const probe = createSocket('udp4');
    const err = await PeerClient.connect({ host: '127.0.0.1', port: 1, token: TOKEN }).catch((e: unknown) => e);
    probe.close();
    expect(err).toBeInstanceOf(PeerConnectError);
    expect((err as Error).message).toBe('nothing listens on 127.0.0.1:1 (connection refused): is `packetlab peer` running there?');
  });
});

/** Starts `packetlab peer` as a child process on a free loopback port; resolves with it and its port. */
async function spawnAgent(extra: string[] = []): Promise<{ child: ChildProcess; port: number; listening: Record<string, unknown>; output: () => string }> {
  const child = spawn(process.execPath, ['bin/packetlab.js', 'peer', '--listen', '127.0.0.1:0', '--json', '--no-beacon', ...extra], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, PACKETLAB_TOKEN: TOKEN } });
  const { listening, output } = await untilAgentListens(child, 10_000);
  return { child, port: listening.port as number, listening, output };
}

describe('a peer agent that dies', () => {
  const children: ChildProcess[] = [];
  afterAll(() => {
    for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  });

  it('killed: the client reports it lost at once, with the reason', async () => {
    const a = await spawnAgent();
    children.push(a.child);
    const c = await PeerClient.connect({ host: '127.0.0.1', port: a.port, token: TOKEN });
    const lost = new Promise<{ reason: string; at: number }>((r) => c.onLost((reason) => r({ reason, at: performance.now() })));
    const killedAt = performance.now();
    a.child.kill('SIGKILL');
    const { reason, at } = await lost;
    expect(at - killedAt).toBeLessThan(3000);
    expect(reason).toMatch(new RegExp(`peer 127\\.0\\.0\\.1:${a.port} closed the connection|connection to peer 127\\.0\\.0\\.1:${a.port} reset`));
    await expect(c.stats(1)).rejects.toThrow(reason);
  });

  it('frozen mid-transfer: the client reports it lost within 3 s, and the transfer ends with what it had', async () => {
    const a = await spawnAgent();
    children.push(a.child);
    const c = await PeerClient.connect({ host: '127.0.0.1', port: a.port, token: TOKEN });
    const l = await c.startListener();
    const ac = new AbortController();
    let stoppedAt = Number.NaN;
    const lost = new Promise<{ reason: string; at: number }>((r) =>
      c.onLost((reason) => {
        ac.abort();
        r({ reason, at: performance.now() });
      }),
    );
    const samples: number[] = [];
    const run = runUdpTransfer({
      setup: agentTransfer(2_000_000_000, { forward: { ...NO_IMPAIRMENT }, readRateBytesPerSecond: 5_000_000 }),
      peer: { host: l.host, port: l.udpPort },
      socket: noSockets,
      signal: ac.signal,
      onSample: (s) => {
        samples.push(s.data_packets_new);
        if (samples.length === 5) {
          stoppedAt = performance.now();
          a.child.kill('SIGSTOP');
        }
      },
    });
    const { reason, at } = await lost;
    const summary = await run;
    a.child.kill('SIGKILL');
    expect(at - stoppedAt).toBeLessThan(3000);
    expect(reason).toMatch(new RegExp(`^peer 127\\.0\\.0\\.1:${a.port} stopped answering \\(no reply for 2\\.[5-9] s\\)$`));
    // The abort ends the transfer (runUdpTransfer reports an abort as 'failed' or 'stopped'
    // depending on which of its callbacks sees it first; the failure text is the same).
    expect(summary.status).not.toBe('complete');
    expect(summary.failure).toBe('stopped by the user');
    expect(samples.reduce((x, y) => x + y, 0)).toBeGreaterThan(0);
  });
});

describe('packetlab peer and peers (CLI)', () => {
  it('refuses to start without a token, or with a short one (exit 2)', () => {
    const env = { ...process.env };
    delete env.PACKETLAB_TOKEN;
    const run = spawnSync(process.execPath, ['bin/packetlab.js', 'peer', '--listen', '127.0.0.1:0'], { encoding: 'utf8', env, timeout: 30_000 });
    const r = { code: run.status, stderr: run.stderr };
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('a token is needed: --token SECRET, --token-file FILE or the PACKETLAB_TOKEN environment variable');
    const short = cli(['peer', '--token', 'abc']);
    expect(short.code).toBe(2);
    expect(short.stderr).toContain('--token: the token must be at least 8 characters');
    const missing = cli(['peer', '--token-file', '/nonexistent/token']);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain('cannot read --token-file /nonexistent/token: no such file');
    const bad = cli(['peer', '--token', TOKEN, '--max-rate', 'fast']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('--max-rate');
  });

  it('takes both rate caps from --max-rate (bits/s when bare, packets/s with pps) and a bare --max-duration in seconds', async () => {
    const a = await spawnAgent(['--max-rate', '500M', '--max-rate', '50000pps', '--max-duration', '90']);
    try {
      expect(a.listening.caps).toMatchObject({ maxRateBitsPerSecond: 500e6, maxRatePacketsPerSecond: 50_000, maxDurationMs: 90_000 });
      const bare = await spawnAgent(['--max-rate', '200000']);
      bare.child.kill('SIGTERM');
      expect(bare.listening.caps).toMatchObject({ maxRateBitsPerSecond: 200_000, maxRatePacketsPerSecond: DEFAULT_PEER_CAPS.maxRatePacketsPerSecond });
    } finally {
      a.child.kill('SIGTERM');
    }
  });

  it('takes the guards of its listeners from --handshake-timeout, --stream-idle-timeout and --min-report-interval (ms when bare)', async () => {
    const a = await spawnAgent(['--handshake-timeout', '3s', '--stream-idle-timeout', '1500', '--min-report-interval', '100']);
    a.child.kill('SIGTERM');
    expect(a.listening.listenerGuards).toEqual({ handshakeTimeoutMs: 3000, streamIdleTimeoutMs: 1500, minReportIntervalMs: 100 });
  });

  it('`packetlab peers` hears a loopback agent', async () => {
    const port = 20000 + Math.floor(Math.random() * 20000);
    const a = await startPeerAgent({ port: 0, token: TOKEN, name: 'cli-test-agent', beacon: { port, intervalMs: 200 } });
    try {
      const r = await cliAsync(['peers', '--seconds', '0.8', '--port', String(port), '--json']);
      expect(r.code, r.stderr).toBe(0);
      const peers = jsonLines(r.stdout);
      expect(peers).toEqual([expect.objectContaining({ type: 'peer', address: '127.0.0.1', controlPort: a.port, name: 'cli-test-agent' })]);
      const human = await cliAsync(['peers', '--seconds', '0.5', '--port', String(port)]);
      expect(human.stdout).toMatch(new RegExp(`127\\.0\\.0\\.1:${a.port}\\s+cli-test-agent`));
    } finally {
      await a.close();
    }
    const none = await cliAsync(['peers', '--seconds', '0.3', '--port', String(port)]);
    expect(none.stdout).toContain('no peer agents heard in 0.3 s');
  });
});
