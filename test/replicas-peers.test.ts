// Replicas on peer agents: one replica per `packetlab peer` agent, registered with the run's binder;
// a crash stops the agent's replica (not the agent) and a restart serves it again on its port. On
// loopback (three agents on this machine) and across network namespaces (three agents on another
// host; skipped without root and iproute2).

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cliAsync, jsonLines, untilAgentListens } from './helpers/cli.js';
import { canUseNetns, createNetnsPair, type NetnsPair } from './helpers/netns.js';

const TOKEN = 'replica-agents-token-1';

/** The JSON lines of a replicated run with one crash and one restart of replica 1, and its checks. */
function checkRun(stdout: string): void {
  const lines = jsonLines(stdout);
  const events = lines.filter((l) => l.type === 'event').map((e) => `${String(e.kind)} ${String(e.subject)} ${String(e.after)} ${String(e.detail)}`);
  expect(events[0]).toBe('fault replica1 crashed crash (the agent stops its replica: memory lost)');
  expect(events[1]).toBe('fault replica1 restarting restart (the agent serves it again on its port)');
  expect(events[2]).toMatch(/^replica replica1 up restarted: answering again on port \d+$/);
  const summary = lines.find((l) => l.type === 'summary')!;
  expect(summary.status).toBe('complete');
  expect(summary.callsFailed).toBe(0);
  expect(summary.callsFailedOver).toBeGreaterThan(0);
  expect(summary.verifyFailures).toBe(0);
  expect((summary.loadPerReplica as number[])[1]).toBeGreaterThan(0);
  expect(lines.filter((l) => l.type === 'sample').length).toBeGreaterThan(1);
}

describe('replicas on peer agents', () => {
  let dir: string;
  let tokenFile: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'packetlab-replica-peers-'));
    tokenFile = join(dir, 'token');
    writeFileSync(tokenFile, `${TOKEN}\n`, { mode: 0o600 });
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('three agents on loopback, one replica each: replica 1 crashed and restarted from the run, the client fails over', async () => {
    const agents: ChildProcess[] = [];
    try {
      const ports: number[] = [];
      for (let i = 0; i < 3; i++) {
        const child = spawn(process.execPath, ['bin/packetlab.js', 'peer', '--listen', '127.0.0.1:0', '--token-file', tokenFile, '--json'], { stdio: ['ignore', 'pipe', 'pipe'] });
        agents.push(child);
        ports.push((await untilAgentListens(child)).listening.port as number);
      }
      const r = await cliAsync(['rpc', 'workload', '--replicas', '3', '--net', 'udp', '--replica-peers', ports.map((p) => `127.0.0.1:${p}`).join(','), '--token-file', tokenFile, '--crash-at', '0.8s:1', '--restart-at', '1.6s:1', '--duration', '2.5', '--seed', '5', '--json'], 60_000);
      expect(r.stderr).toBe('');
      expect(r.code).toBe(0);
      checkRun(r.stdout);
    } finally {
      for (const a of agents) a.kill('SIGTERM');
    }
  }, 90_000);

  it('refuses a count of agents that is not the count of replicas, and agents in the simulator', async () => {
    const r = await cliAsync(['rpc', 'workload', '--replicas', '3', '--net', 'udp', '--replica-peers', '127.0.0.1:9,127.0.0.1:10', '--token-file', tokenFile]);
    expect(r.code).toBe(2);
    expect(r.stderr).toBe('packetlab: --replica-peers names 2 agents, but --replicas is 3: one replica per agent\n');
    const s = await cliAsync(['rpc', 'workload', '--replicas', '1', '--replica-peers', '127.0.0.1:9']);
    expect(s.code).toBe(2);
    expect(s.stderr).toBe('packetlab: --replica-peers needs --net udp: the simulator has no peer agents\n');
  });
});

const NETNS = canUseNetns();

describe.skipIf(NETNS !== null)('replicas on peer agents across network namespaces', () => {
  let pair: NetnsPair;
  let dir: string;
  beforeAll(() => {
    pair = createNetnsPair('10.78.0');
    dir = mkdtempSync(join(tmpdir(), 'packetlab-replica-netns-'));
    writeFileSync(join(dir, 'token'), `${TOKEN}\n`, { mode: 0o600 });
  });
  afterAll(() => {
    pair?.destroy();
    if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
  });

  it('three agents on the other host, one replica each; the replica of one is crashed from the run; the run completes', async () => {
    const ports = [17911, 17912, 17913];
    for (const p of ports) await untilAgentListens(pair.spawn(pair.a, process.execPath, ['bin/packetlab.js', 'peer', '--listen', `${pair.addressA}:${p}`, '--token-file', join(dir, 'token'), '--json']));
    const r = await pair.run(pair.b, process.execPath, ['bin/packetlab.js', 'rpc', 'workload', '--replicas', '3', '--net', 'udp', '--replica-peers', ports.map((p) => `${pair.addressA}:${p}`).join(','), '--token-file', join(dir, 'token'), '--crash-at', '0.8s:1', '--restart-at', '1.6s:1', '--duration', '2.5', '--seed', '6', '--json'], 90_000);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    checkRun(r.stdout);
  }, 120_000);
});
