// `packetlab serve --peer-token-file`: the app's runs against a peer agent present the token read
// from the file, which wins over PACKETLAB_TOKEN; --help says how the token is given.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import WebSocket from 'ws';
import { startPeerAgent, type PeerAgent, type PeerLogEntry } from '../net/peer/agent.js';
import type { RunBatch } from '../experiments/api/contract.js';
import { cli } from './helpers/cli.js';
import { until } from './helpers/until.js';

const TOKEN = 'the-agents-token-0123456789';
const dir = mkdtempSync(join(tmpdir(), 'packetlab-serve-peer-'));
const logs: PeerLogEntry[] = [];
let agent: PeerAgent;
const children: ChildProcess[] = [];

beforeAll(async () => {
  agent = await startPeerAgent({ port: 0, token: TOKEN, log: (e) => logs.push(e), beacon: false });
});

afterAll(async () => {
  for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
  await agent.close();
  rmSync(dir, { recursive: true, force: true });
});

/** Starts `packetlab serve` with `args` and PACKETLAB_TOKEN set to `envToken`; resolves with its API's address. */
async function serve(name: string, args: string[], envToken: string): Promise<string> {
  const env = { ...process.env, PACKETLAB_TOKEN: envToken };
  const child = spawn(process.execPath, ['bin/packetlab.js', 'serve', '--port', '0', '--print-url-json', '--no-beacons', '--runs-dir', join(dir, name, 'runs'), '--specs-dir', join(dir, name, 'specs'), ...args], { stdio: ['ignore', 'pipe', 'pipe'], env });
  children.push(child);
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  const line = await new Promise<string>((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`packetlab serve exited with ${code}: ${stderr}`)));
    createInterface({ input: child.stdout! }).once('line', resolve);
  });
  const url = new URL((JSON.parse(line) as { url: string }).url);
  return `ws://${url.host}/api${url.search}`;
}

/** Starts a small transfer against the agent through the app's API and resolves with how the run ended. */
async function runAgainstAgent(api: string): Promise<{ state: string; reason: string | null }> {
  const ws = new WebSocket(api);
  await new Promise((resolve, reject) => {
    ws.once('open', resolve);
    ws.once('error', reject);
  });
  const batches: RunBatch[] = [];
  let answer: { ok: boolean; error?: string } | null = null;
  ws.on('message', (d) => {
    const m = JSON.parse(d.toString()) as { id?: number; result?: { ok: boolean; error?: string }; type?: string; batch?: RunBatch };
    if (m.type === 'batch') batches.push(m.batch!);
    else if (m.id === 1) answer = m.result!;
  });
  const spec = { name: 'peer-token', title: 't', description: 'd', concepts: ['checksums'], network: `peer:127.0.0.1:${agent.port}`, workload: { kind: 'bulk', bytes: 100_000 } };
  ws.send(JSON.stringify({ id: 1, method: 'startRun', params: { text: JSON.stringify(spec) } }));
  await until('startRun to answer', () => answer !== null, 20_000);
  expect(answer!.ok, answer!.error).toBe(true);
  const ended = () => batches.find((b) => b.status !== undefined && b.status.state !== 'running');
  await until(() => `the run to end (batches: ${JSON.stringify(batches.map((b) => b.status))})`, () => ended() !== undefined, 60_000);
  ws.close();
  const st = ended()!.status!;
  return { state: st.state, reason: st.reason ?? null };
}

describe('packetlab serve --peer-token-file', () => {
  it('runs against a peer agent with the token of the file, which wins over PACKETLAB_TOKEN', async () => {
    const file = join(dir, 'token');
    writeFileSync(file, `${TOKEN}\n`, { mode: 0o600 });
    const api = await serve('good', ['--peer-token-file', file], 'not-the-agents-token');
    const end = await runAgainstAgent(api);
    expect(end, JSON.stringify(logs)).toEqual({ state: 'complete', reason: null });
  });

  it('a file with another token makes the run fail at the agent', async () => {
    const file = join(dir, 'wrong-token');
    writeFileSync(file, 'some-other-token-0123456789\n', { mode: 0o600 });
    const before = logs.length;
    const api = await serve('wrong', ['--peer-token-file', file], TOKEN);
    const end = await runAgainstAgent(api);
    expect(end.state).toBe('failed');
    expect(end.reason).toMatch(/token/i);
    expect(logs.slice(before).some((e) => e.level === 'warn')).toBe(true);
  });

  it('refuses a missing file or a token too short in one line, exit code 2', () => {
    const missing = cli(['serve', '--peer-token-file', join(dir, 'nope')]);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toBe(`packetlab: cannot read --peer-token-file ${join(dir, 'nope')}: no such file\n`);
    const short = join(dir, 'short');
    writeFileSync(short, 'abc\n');
    const r = cli(['serve', '--peer-token-file', short]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^packetlab: --peer-token-file .*short: the token must be at least 8 characters/);
  });

  it('says in --help how the app gets the token of peer agents', () => {
    const help = cli(['serve', '--help']).stdout.replace(/\s+/g, ' ');
    expect(help).toContain('--peer-token-file <file> read the token of peer agents from the first line of a file');
    expect(help).toContain('from the first line of --peer-token-file FILE, else from the PACKETLAB_TOKEN environment variable');
    expect(help).toContain('the app never puts the token on one');
  });
});
