// `packetlab run` against a peer agent on another "LAN host": the agent runs in one network
// namespace, the run in the other. A transfer experiment and an RPC experiment complete with the
// receiver's counters from the agent; an agent killed mid-run ends the run 'peer-lost' with the
// reason and keeps its samples; a wrong token is refused. Skips (saying why) only where namespaces
// cannot be created; CI runs as root and runs it.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ChildProcess } from 'node:child_process';
import { projectRoot } from '../net/paths.js';
import { canUseNetns, createNetnsPair, type NetnsPair } from './helpers/netns.js';
import { jsonLines, untilAgentListens } from './helpers/cli.js';
import { until } from './helpers/until.js';

const TOKEN = 'run-netns-token-8c2e41d7';
const PORT = 7611;
const unusable = canUseNetns();
if (unusable !== null) console.warn(`run-netns tests skipped: ${unusable}`);

describe.skipIf(unusable !== null)('packetlab run against a peer agent in another network namespace', () => {
  let pair: NetnsPair;
  let dir: string;
  let tokenFile: string;
  let agent: ChildProcess;
  const root = projectRoot();

  async function startAgent(): Promise<void> {
    agent = pair.spawn(pair.a, process.execPath, ['bin/packetlab.js', 'peer', '--listen', `${pair.addressA}:${PORT}`, '--token-file', tokenFile, '--json', '--no-beacon'], { cwd: root });
    await untilAgentListens(agent);
  }

  function spec(name: string, body: Record<string, unknown>): string {
    const file = join(dir, `${name}.json`);
    writeFileSync(file, JSON.stringify({ name, title: name, description: 'netns test', concepts: ['unreliable-udp'], network: `peer:${pair.addressA}:${PORT}`, ...body }));
    return file;
  }

  function runDir(out: string): string {
    const [d] = readdirSync(out);
    return join(out, d!);
  }

  beforeAll(async () => {
    pair = createNetnsPair('10.78.0');
    dir = mkdtempSync(join(tmpdir(), 'packetlab-run-netns-'));
    tokenFile = join(dir, 'token');
    writeFileSync(tokenFile, `${TOKEN}\n`, { mode: 0o600 });
    await startAgent();
  });

  afterAll(() => {
    pair?.destroy();
    if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
  });

  it('runs a transfer experiment and an RPC experiment on the peer, with the receiver counters it reports', async () => {
    const out = join(dir, 'transfer');
    const file = spec('lan-transfer', { workload: { kind: 'bulk', bytes: 2_000_000 }, transport: { windowPackets: 64 }, forward: { duplicateProbability: 0.05 }, sweep: [{ knob: 'forward.lossProbability', values: [0, 0.02] }] });
    const r = await pair.run(pair.b, process.execPath, ['bin/packetlab.js', 'run', file, '--token-file', tokenFile, '--out', out, '--json'], 120_000);
    expect(r.code, r.stderr + r.stdout.slice(-2000)).toBe(0);
    const run = JSON.parse(readFileSync(join(runDir(out), 'run.json'), 'utf8'));
    expect(run.status).toBe('complete');
    expect(run.trials.map((t: { status: string }) => t.status)).toEqual(['complete', 'complete']);
    const lines = jsonLines(r.stdout);
    const points = lines.filter((l) => l.type === 'point').map((l) => l.summary as Record<string, number>);
    expect(points.map((p) => p.data_matched_mean)).toEqual([1, 1]);
    // Only the agent knows these: they come back over the control channel.
    expect(points[0]!.duplicates_suppressed_mean).toBeGreaterThan(0);
    // The receiver's sample columns too, interval by interval, adding up to every byte delivered.
    const csv = readFileSync(join(runDir(out), 'samples.csv'), 'utf8').trim().split('\n');
    const head = csv[0]!.split(',');
    const delivered = head.indexOf('delivered_bytes');
    const rows = csv.slice(1).map((l) => l.split(','));
    expect(rows.filter((r) => r[delivered] !== '').length).toBeGreaterThan(rows.length / 2);
    expect(rows.reduce((a, r) => a + Number(r[delivered] || 0), 0)).toBe(2 * 2_000_000);
    expect(points[1]!.retransmits_fast_mean + points[1]!.retransmits_timeout_mean).toBeGreaterThan(0);

    // A receiver-side knob changed mid-trial reaches the agent's end of the session.
    const liveOut = join(dir, 'live');
    const liveFile = spec('lan-live', { workload: { kind: 'bulk', bytes: 600_000, readRateBytesPerSecond: 1_000_000 }, transport: { rcvBufferBytes: 65_536 }, schedule: [{ atS: 0.2, set: { 'transport.rcvBufferBytes': 1_048_576 }, note: 'bigger buffer' }] });
    const lr = await pair.run(pair.b, process.execPath, ['bin/packetlab.js', 'run', liveFile, '--token-file', tokenFile, '--out', liveOut, '--json'], 120_000);
    expect(lr.code, lr.stderr + lr.stdout.slice(-2000)).toBe(0);
    const events = readFileSync(join(runDir(liveOut), 'events.csv'), 'utf8');
    expect(events).toMatch(/,set,transport\.rcvBufferBytes,Receive buffer \(bytes\),65536,1048576,bigger buffer/);
    expect(events).not.toMatch(/,error,/);

    const rpcOut = join(dir, 'rpc');
    const rpcFile = spec('lan-rpc', { workload: { kind: 'rpc', calls: 300, drc: false, rpcRetryMs: 50, rpcBinding: 'once' }, forward: { duplicateProbability: 0.1 } });
    const rr = await pair.run(pair.b, process.execPath, ['bin/packetlab.js', 'run', rpcFile, '--token-file', tokenFile, '--out', rpcOut, '--json'], 120_000);
    expect(rr.code, rr.stderr + rr.stdout.slice(-2000)).toBe(0);
    const p = jsonLines(rr.stdout).find((l) => l.type === 'point')!.summary as Record<string, number>;
    // Found through the agent's portmapper first (naming), then 300 calls of the mix.
    expect(p.lookups_mean).toBeGreaterThanOrEqual(1);
    expect(p.calls_succeeded_mean).toBe(300 + p.lookups_mean!);
    expect(p.duplicate_executions_mean).toBeGreaterThan(0);
  });

  it('refuses a wrong token: the run fails with the reason', async () => {
    const out = join(dir, 'wrong');
    const file = spec('lan-wrong', { workload: { kind: 'bulk', bytes: 100_000 } });
    const r = await pair.run(pair.b, process.execPath, ['bin/packetlab.js', 'run', file, '--token', 'not-the-token-at-all', '--out', out], 60_000);
    expect(r.code).toBe(1);
    const run = JSON.parse(readFileSync(join(runDir(out), 'run.json'), 'utf8'));
    expect(run.status).toBe('failed');
    expect(run.reason).toMatch(/refused the token/);
  });

  it('ends a run whose agent is killed mid-run as peer-lost with the reason, and keeps its samples', async () => {
    const out = join(dir, 'lost');
    // A slow reader makes the transfer last long enough to kill the agent in the middle.
    const file = spec('lan-lost', { workload: { kind: 'bulk', bytes: 500_000_000, readRateBytesPerSecond: 2_000_000, verifyData: false }, timeLimitS: 120 });
    const child = pair.spawn(pair.b, process.execPath, ['bin/packetlab.js', 'run', file, '--token-file', tokenFile, '--out', out, '--json'], { cwd: root });
    let stdout = '';
    child.stdout!.on('data', (d: Buffer) => (stdout += d.toString()));
    const exited = new Promise<number | null>((r) => child.once('close', (code) => r(code)));
    await until(() => `5 samples from the run; it printed: ${stdout}`, () => (stdout.match(/"type":"sample"/g) ?? []).length >= 5, 30_000);
    const killedAt = Date.now();
    agent.kill('SIGKILL');
    const code = await exited;
    expect(Date.now() - killedAt).toBeLessThan(6000);
    expect(code).toBe(1);
    const d = runDir(out);
    const run = JSON.parse(readFileSync(join(d, 'run.json'), 'utf8'));
    expect(run.status).toBe('peer-lost');
    expect(run.reason).toMatch(/peer 10\.78\.0\.1:7611 (closed|reset) the connection|connection to peer 10\.78\.0\.1:7611 reset/);
    const samples = readFileSync(join(d, 'samples.csv'), 'utf8').trim().split('\n');
    expect(samples.length).toBeGreaterThan(5);
    expect(readFileSync(join(d, 'events.csv'), 'utf8')).toMatch(/error,,,,,peer lost: /);
  });
});
