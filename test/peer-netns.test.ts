// Two hosts: the peer agent (`packetlab peer`) in one network namespace, a client in another,
// joined by a veth pair. The client hears the agent's beacon, completes a reliable transfer and an
// RPC workload against services the agent started, is refused with a wrong token, and reports the
// agent lost within 3 s when it is frozen or killed mid-transfer. Skips (saying why) only where
// namespaces cannot be created; CI runs as root and runs it.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ChildProcess } from 'node:child_process';
import { projectRoot } from '../net/paths.js';
import { canUseNetns, createNetnsPair, type NetnsPair } from './helpers/netns.js';
import { jsonLines, untilAgentListens } from './helpers/cli.js';
import { until } from './helpers/until.js';

const TOKEN = 'netns-test-token-5f1c9a';
const CONTROL_PORT = 7600;
const unusable = canUseNetns();
if (unusable !== null) console.warn(`peer-netns tests skipped: ${unusable}`);

// The client side, run with node inside the second namespace: it uses the compiled PeerClient,
// runUdpTransfer and runUdpRpcWorkload (what the experiment runner will use), and prints JSON lines.
const CLIENT_SCRIPT = `
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
const [root, cfgText] = process.argv.slice(2);
const cfg = JSON.parse(cfgText);
const imp = (p) => import(pathToFileURL(join(root, 'dist', p)).href);
const { PeerClient } = await imp('net/peer/client.js');
const { runUdpTransfer } = await imp('workloads/transfer/udp-transfer.js');
const { DEFAULT_RPC_SETUP, runUdpRpcWorkload } = await imp('workloads/rpc/workload.js');
const { DEFAULT_TRANSPORT_CONFIG } = await imp('core/transport/config.js');
const { NO_IMPAIRMENT } = await imp('core/impair/config.js');
const out = (o) => process.stdout.write(JSON.stringify(o) + '\\n');
const socket = { socketRcvBufBytes: 0, socketSndBufBytes: 0 };
const setup = (bytes, extra = {}) => ({
  transport: { ...DEFAULT_TRANSPORT_CONFIG, windowPackets: 64, rcvBufferBytes: 1 << 20 },
  forward: { ...NO_IMPAIRMENT, lossProbability: 0.02 }, reverse: { ...NO_IMPAIRMENT },
  totalBytes: bytes, messageBytes: 0, readRateBytesPerSecond: 0, seed: 11, intervalMs: 100, timeLimitMs: 60000, ...extra,
});
const connect = () => PeerClient.connect({ host: cfg.host, port: cfg.port, token: cfg.token });
try {
  if (cfg.mode === 'wrong-token') {
    await connect();
    out({ type: 'connected' });
  } else if (cfg.mode === 'run') {
    const c = await connect();
    out({ type: 'connected', agent: c.agent.name });
    const l = await c.startListener();
    const t = await runUdpTransfer({ setup: setup(5000000), peer: { host: l.host, port: l.udpPort }, socket });
    const ls = await c.stats(l.service);
    out({ type: 'transfer', status: t.status, failure: t.failure, dataMatched: t.dataMatched, bytes: t.bytes, retransmits: t.sender.retransmitsTimeout + t.sender.retransmitsFast,
      received: ls.sessions.filter((s) => s.kind === 'reliable').map((s) => s.counters.deliveredBytes), listenerPeer: ls.sessions[0]?.peer ?? null });
    const r = await c.startRpcServer({ transports: ['udp', 'tcp'], drc: { enabled: false } });
    const w = await runUdpRpcWorkload({ setup: { ...DEFAULT_RPC_SETUP, totalCalls: 500, seed: 4, forward: { ...NO_IMPAIRMENT, duplicateProbability: 0.1 } }, peer: { host: r.host, port: r.ports.udp } });
    const w2 = await runUdpRpcWorkload({ setup: { ...DEFAULT_RPC_SETUP, transport: 'tcp', totalCalls: 200, seed: 5 }, peer: { host: r.host, port: r.ports.tcp } });
    const rs = await c.stop(r.service);
    out({ type: 'rpc', status: w.status, failure: w.failure, succeeded: w.callsSucceeded, tcpStatus: w2.status, tcpSucceeded: w2.callsSucceeded, counter: rs.counter, executions: rs.server.executions });
    await c.close();
  } else if (cfg.mode === 'lost') {
    const c = await connect();
    const l = await c.startListener();
    const ac = new AbortController();
    c.onLost((reason) => { out({ type: 'lost', reason, atMs: Date.now() }); ac.abort(); });
    let started = false;
    const t = await runUdpTransfer({
      setup: setup(2000000000, { forward: { ...NO_IMPAIRMENT }, readRateBytesPerSecond: 5000000 }),
      peer: { host: l.host, port: l.udpPort }, socket, signal: ac.signal,
      onSample: (s) => { if (!started && s.data_packets_new > 0) { started = true; out({ type: 'transfer-started' }); } },
    });
    out({ type: 'summary', status: t.status, failure: t.failure, dataPackets: t.sender.dataPacketsSent });
  }
} catch (e) {
  out({ type: 'error', name: e.name, reason: e.reason ?? null, message: e.message });
}
process.exit(0);
`;

describe.skipIf(unusable !== null)('peer agent across two network namespaces', () => {
  let pair: NetnsPair;
  let dir: string;
  let tokenFile: string;
  let script: string;
  const root = projectRoot();

  beforeAll(() => {
    pair = createNetnsPair();
    dir = mkdtempSync(join(tmpdir(), 'packetlab-netns-'));
    tokenFile = join(dir, 'token');
    writeFileSync(tokenFile, `${TOKEN}\n`, { mode: 0o600 });
    script = join(dir, 'client.mjs');
    writeFileSync(script, CLIENT_SCRIPT);
  });
  afterAll(() => {
    pair?.destroy();
    if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
  });

  /** Starts `packetlab peer` in namespace A; resolves once it listens, with its output so far. */
  async function startAgent(): Promise<{ child: ChildProcess; output: () => string }> {
    const child = pair.spawn(pair.a, process.execPath, ['bin/packetlab.js', 'peer', '--listen', `${pair.addressA}:${CONTROL_PORT}`, '--token-file', tokenFile, '--json'], { cwd: root });
    const { output } = await untilAgentListens(child);
    return { child, output };
  }

  const client = (mode: string, token = TOKEN) => pair.spawn(pair.b, process.execPath, [script, root, JSON.stringify({ mode, host: pair.addressA, port: CONTROL_PORT, token })], { cwd: root });

  async function runClient(mode: string, token = TOKEN): Promise<Record<string, unknown>[]> {
    const r = await pair.run(pair.b, process.execPath, [script, root, JSON.stringify({ mode, host: pair.addressA, port: CONTROL_PORT, token })], 120_000);
    if (r.code !== 0) throw new Error(`client exited with ${r.code ?? r.signal}: ${r.stderr}`);
    return jsonLines(r.stdout);
  }

  it('the agent is heard from the other namespace, a transfer and an RPC workload complete, a wrong token is refused', async () => {
    const agent = await startAgent();
    const listening = jsonLines(agent.output()).find((l) => l.type === 'listening')!;
    expect(listening).toMatchObject({ host: pair.addressA, port: CONTROL_PORT, beacon: { port: 9877, destinations: ['10.77.0.255'] } });

    const peers = await pair.run(pair.b, process.execPath, ['bin/packetlab.js', 'peers', '--seconds', '2.5', '--json'], 30_000);
    expect(peers.code, peers.stderr).toBe(0);
    expect(jsonLines(peers.stdout)).toEqual([expect.objectContaining({ type: 'peer', address: pair.addressA, controlPort: CONTROL_PORT })]);

    const lines = await runClient('run');
    const byType = Object.fromEntries(lines.map((l) => [l.type, l]));
    expect(byType.error).toBeUndefined();
    expect(byType.transfer).toMatchObject({ status: 'complete', dataMatched: true, bytes: 5_000_000, received: [5_000_000], listenerPeer: expect.stringMatching(/^10\.77\.0\.2:\d+$/) });
    expect(byType.transfer!.retransmits as number).toBeGreaterThan(0);
    expect(byType.rpc).toMatchObject({ status: 'complete', succeeded: 500, tcpStatus: 'complete', tcpSucceeded: 200 });
    // The cache was off and 10% of the calls were duplicated: the counter ran some of them twice.
    const counter = byType.rpc!.counter as { increments: number; repeatedExecutions: number };
    expect(counter.repeatedExecutions).toBeGreaterThan(10);
    expect(counter.increments).toBe(700 + counter.repeatedExecutions);

    const wrong = await runClient('wrong-token', 'a-wrong-token-value');
    expect(wrong).toEqual([{ type: 'error', name: 'PeerConnectError', reason: 'token', message: `peer ${pair.addressA}:${CONTROL_PORT} refused the token (both ends need the same --token, --token-file or PACKETLAB_TOKEN)` }]);
    await new Promise((r) => setTimeout(r, 200));
    const logs = jsonLines(agent.output()).filter((l) => l.type === 'log');
    expect(logs).toContainEqual(expect.objectContaining({ level: 'warn', remote: expect.stringMatching(/^10\.77\.0\.2:\d+$/), message: expect.stringContaining('rejected: wrong token') }));
    expect(logs).toContainEqual(expect.objectContaining({ level: 'info', message: expect.stringMatching(/client ".*" authenticated/) }));
    agent.child.kill('SIGTERM');
    await new Promise<void>((r) => agent.child.once('exit', () => r()));
    expect(agent.output()).toContain('"type":"stopped"');
  });

  it.each([
    ['killed', 'SIGKILL', /^peer 10\.77\.0\.1:7600 (closed the connection|reset the connection)|^connection to peer 10\.77\.0\.1:7600 reset$/],
    ['frozen', 'SIGSTOP', /^peer 10\.77\.0\.1:7600 stopped answering \(no reply for 2\.\d s\)$/],
  ] as const)('an agent %s mid-transfer is reported lost within 3 s, with the reason', async (_what, signal, reason) => {
    const agent = await startAgent();
    const c = client('lost');
    let out = '';
    c.stdout!.on('data', (d: Buffer) => (out += d.toString()));
    const exited = new Promise<void>((r) => c.once('close', () => r()));
    await until(() => `the transfer to start; the client printed: ${out}`, () => out.includes('transfer-started'), 20_000);
    // Let it run a little, then take the agent away.
    await new Promise((r) => setTimeout(r, 500));
    const killedAtMs = Date.now();
    agent.child.kill(signal);
    await exited;
    agent.child.kill('SIGKILL');
    await new Promise<void>((r) => (agent.child.exitCode !== null || agent.child.signalCode !== null ? r() : agent.child.once('exit', () => r())));
    const lines = jsonLines(out);
    const lost = lines.find((l) => l.type === 'lost');
    expect(lost, out).toBeDefined();
    expect(lost!.reason).toMatch(reason);
    expect((lost!.atMs as number) - killedAtMs).toBeLessThan(3000);
    const summary = lines.find((l) => l.type === 'summary')!;
    expect(summary.status).not.toBe('complete');
    expect(summary.dataPackets as number).toBeGreaterThan(100);
  });
});
