// The lab's listeners on real sockets, probed as a hostile host would probe them: each protection
// that test/listener.test.ts shows in virtual time, checked once on loopback.

import { afterEach, describe, expect, it } from 'vitest';
import { createSocket, type Socket } from 'node:dgram';
import { startListenerServer, type ListenerServer } from '../net/udp/listener-server.js';
import { DEFAULT_LISTENER_CAPS, type ListenerCaps } from '../core/listener.js';
import { RecyclingPeerTable } from '../net/udp/recycling-peers.js';
import { PacketType, sealChecksum } from '../core/wire/packet.js';
import { spawn } from 'node:child_process';
import { reliableSyn, streamSyn } from './helpers/listener-sim.js';
import { until } from './helpers/until.js';

const servers: ListenerServer[] = [];
const sockets: Socket[] = [];

afterEach(async () => {
  for (const s of sockets.splice(0)) s.close();
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

/** A UDP socket bound on `host` that keeps what it receives. */
async function probeSocket(host = '127.0.0.1'): Promise<{ socket: Socket; received: Buffer[] }> {
  const socket = createSocket('udp4');
  sockets.push(socket);
  const received: Buffer[] = [];
  socket.on('message', (m) => received.push(m));
  await new Promise<void>((r) => socket.bind(0, host, () => r()));
  return { socket, received };
}

async function listener(caps: Partial<ListenerCaps> = {}): Promise<ListenerServer> {
  const s = await startListenerServer({ host: '127.0.0.1', port: 0, caps: { ...DEFAULT_LISTENER_CAPS, ...caps } });
  servers.push(s);
  return s;
}

function send(socket: Socket, bytes: Uint8Array, port: number): Promise<void> {
  return new Promise((r) => socket.send(bytes, port, '127.0.0.1', () => r()));
}

describe('listener server on loopback', () => {
  it('sixteen SYNs from sixteen ports of one address take four slots; a client from another address gets its SYN-ACK', async () => {
    const server = await listener();
    const probes = await Promise.all(Array.from({ length: 16 }, () => probeSocket()));
    for (const [i, p] of probes.entries()) await send(p.socket, streamSyn(100 + i, 10), server.port);
    const answers = () => probes.flatMap((p) => p.received.filter((m) => m[3] === PacketType.SYN_ACK || m[3] === PacketType.RST));
    await until(() => `16 answers to the probes, got ${answers().length}`, () => answers().length >= 16, 5000);
    const rsts = answers().filter((m) => m[3] === PacketType.RST);
    expect(rsts).toHaveLength(12);
    expect(rsts[0]!.subarray(36).toString()).toBe('4 sessions from this address are open, the most this listener allows per address');
    // 127.0.0.2 is another address of the loopback interface: another host, as far as limits go.
    const client = await probeSocket('127.0.0.2');
    await send(client.socket, reliableSyn(999), server.port);
    await until(() => 'a SYN-ACK for the client', () => client.received.some((m) => m[3] === PacketType.SYN_ACK), 5000);
  });

  it('a lone SYN of either kind gets at most three times its bytes back, and its slot is freed', async () => {
    const server = await listener({ handshakeTimeoutMs: 300, streamIdleTimeoutMs: 300 });
    const stream = await probeSocket();
    const reliable = await probeSocket();
    await send(stream.socket, streamSyn(1, 10), server.port);
    await send(reliable.socket, reliableSyn(2), server.port);
    await until(() => 'both sessions to open', () => server.listener.counters.sessionsOpened === 2, 5000);
    await until(() => `both sessions to end, ${server.listener.sessionCount} open`, () => server.listener.sessionCount === 0, 5000);
    expect(server.listener.counters.handshakesTimedOut).toBe(1);
    // A third SYN, answered after the others were forgotten: anything they were sent came before.
    const late = await probeSocket();
    await send(late.socket, reliableSyn(3), server.port);
    await until(() => 'the late probe to get its SYN-ACK', () => late.received.length > 0, 5000);
    for (const p of [stream, reliable]) {
      const bytes = p.received.reduce((n, m) => n + m.length, 0);
      expect(bytes).toBeGreaterThan(0);
      expect(bytes).toBeLessThanOrEqual(3 * 60);
    }
  });
});

describe("a listener's peer table", () => {
  it('ids of peers with an open session keep their address; the others are recycled, least recently used first', () => {
    const table = new RecyclingPeerTable({ maxPeers: 4 });
    const busy = new Set<number>();
    table.setBusy((id) => busy.has(id));
    const a = table.idOf('10.0.0.1', 1);
    const b = table.idOf('10.0.0.1', 2);
    busy.add(a);
    table.idOf('10.0.0.1', 3);
    table.idOf('10.0.0.1', 4);
    table.idOf('10.0.0.1', 2); // b used again: the least recently used idle peer is now port 3
    const e = table.idOf('10.0.0.2', 5);
    expect(table.address(a)).toEqual({ address: '10.0.0.1', port: 1 });
    expect(table.address(b)).toEqual({ address: '10.0.0.1', port: 2 });
    expect(table.address(e)).toEqual({ address: '10.0.0.2', port: 5 });
    expect(table.idOf('10.0.0.1', 3)).not.toBe(-1); // it comes back with an id (another one's)
    expect(table.size).toBe(4);
    expect(table.recycled).toBe(2);
    for (let port = 100; port < 200; port++) expect(table.idOf('10.0.0.3', port)).toBeGreaterThanOrEqual(0);
    expect(table.address(a)).toEqual({ address: '10.0.0.1', port: 1 });
    expect(table.size).toBe(4);
  });

  it('a peer whose connection closed gives its id back first, and is forgotten', () => {
    const table = new RecyclingPeerTable({ maxPeers: 3 });
    const ids = [1, 2, 3].map((port) => table.idOf('10.0.0.1', port));
    // Ports 1 and 3 used again: port 2 would be the least recently used, but port 3 closes.
    table.idOf('10.0.0.1', 1);
    table.idOf('10.0.0.1', 3);
    table.release('10.0.0.1', 3);
    table.release('10.0.0.9', 9); // never seen: nothing happens
    expect(table.address(ids[2]!)).toBeUndefined();
    expect(table.size).toBe(2);
    expect(table.idOf('10.0.0.2', 7)).toBe(ids[2]);
    expect(table.address(ids[1]!)).toEqual({ address: '10.0.0.1', port: 2 });
    // The released peer comes back as a new one, with the least recently used idle id.
    expect(table.idOf('10.0.0.1', 3)).toBe(ids[1]);
    expect(table.address(ids[1]!)).toEqual({ address: '10.0.0.1', port: 3 });
  });

  it('a full table of busy peers refuses a new one (it cannot happen with fewer sessions than ids)', () => {
    const table = new RecyclingPeerTable({ maxPeers: 2 });
    table.setBusy(() => true);
    expect(table.idOf('10.0.0.1', 1)).toBe(0);
    expect(table.idOf('10.0.0.1', 2)).toBe(1);
    expect(table.idOf('10.0.0.1', 3)).toBe(-1);
    expect(table.idOf('10.0.0.1', 1)).toBe(0);
  });
});

describe('listener server under a port flood', () => {
  it('more source ports than its peer table holds never blind it: a new client still gets its SYN-ACK', async () => {
    const server = await startListenerServer({ host: '127.0.0.1', port: 0, maxPeers: 64 });
    servers.push(server);
    // 200 ports, each sending one datagram that is no packetlab datagram (counted, not answered).
    for (let batch = 0; batch < 4; batch++) {
      const ports = await Promise.all(Array.from({ length: 50 }, () => probeSocket()));
      for (const p of ports) await send(p.socket, new Uint8Array(40).fill(7), server.port);
      await until(() => 'the batch to arrive', () => server.listener.counters.stray >= (batch + 1) * 50, 5000);
      for (const p of ports) {
        p.socket.close();
        sockets.splice(sockets.indexOf(p.socket), 1);
      }
    }
    const client = await probeSocket();
    await send(client.socket, reliableSyn(4242), server.port);
    await until(() => 'a SYN-ACK for the new client', () => client.received.some((m) => m[3] === PacketType.SYN_ACK), 5000);
  });
});

describe('packetlab transfer --listen under a flood of refused SYNs', () => {
  it.each([false, true])('logs at most one line per address and reason a second, counts adding up to the refusals (json %s)', async (json) => {
    const child = spawn(process.execPath, ['bin/packetlab.js', 'transfer', '--listen', '0', '--rcvbuf', '4MiB', ...(json ? ['--json'] : [])], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    await until(() => `the listener to listen; it printed: ${out}`, () => /listening/.test(out), 15_000);
    const port = Number(/127\.0\.0\.1:(\d+)/.exec(out)![1]);
    // A SYN for a service that does not exist: refused, every one, for the same reason.
    const bad = streamSyn(1);
    bad[36] = 9;
    sealChecksum(bad, bad.length);
    const probes = await Promise.all([probeSocket(), probeSocket()]);
    let sent = 0;
    const start = Date.now();
    while (Date.now() - start < 1200) {
      for (let k = 0; k < 10; k++) probes[k % 2]!.socket.send(bad, port, '127.0.0.1');
      sent += 10;
      await new Promise((r) => setTimeout(r, 2));
    }
    child.kill('SIGINT');
    await new Promise((r) => child.once('close', r));
    const lines = out.trim().split('\n');
    const refusedLines = lines.filter((l) => /refused/.test(l) && !/^stopped/.test(l) && !/"type":"stopped"/.test(l));
    let counted = 0;
    let refused: number;
    if (json) {
      const objects = lines.filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as Record<string, unknown>);
      for (const r of objects.filter((x) => x.type === 'refused')) counted += r.count as number;
      refused = (objects.find((x) => x.type === 'stopped')!.counters as Record<string, number>).refused!;
    } else {
      for (const l of refusedLines) counted += /^refused ([\d,]+) SYNs? from/.test(l) ? Number(/^refused ([\d,]+)/.exec(l)![1]!.replace(/,/g, '')) : 1;
      refused = Number(/stopped: .*?([\d,]+) SYNs refused/.exec(out)![1]!.replace(/,/g, ''));
    }
    expect(refused).toBeGreaterThan(sent / 2);
    expect(counted).toBe(refused);
    // Two addresses and ports, one address, one reason, about 1.2 s: a line at once, one a second, and what is owed at exit.
    expect(refusedLines.length).toBeLessThanOrEqual(4);
    expect(refusedLines.length).toBeGreaterThanOrEqual(2);
  });
});
