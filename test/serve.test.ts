// `packetlab serve`: static files with the CSP, the WebSocket bridge's token, Origin and argument
// checks, and runs driven through it the way the app drives them.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import WebSocket from 'ws';
import { startLabServer, type LabServer } from '../experiments/api/serve.js';
import type { RunBatch } from '../experiments/api/contract.js';
import { until } from './helpers/until.js';

let server: LabServer;
const dir = mkdtempSync(join(tmpdir(), 'packetlab-serve-'));

beforeAll(async () => {
  const renderer = join(dir, 'renderer');
  mkdirSync(join(renderer, 'assets'), { recursive: true });
  writeFileSync(join(renderer, 'index.html'), '<!doctype html><title>Packet Lab</title>');
  writeFileSync(join(renderer, 'assets', 'app.js'), 'console.log(1)');
  writeFileSync(join(dir, 'secret.txt'), 'secret');
  server = await startLabServer({ host: '127.0.0.1', port: 0, rendererDir: renderer, runsDir: join(dir, 'runs'), specsDir: join(dir, 'specs'), token: 'test-token-0123456789', beaconPort: 0 });
});

afterAll(async () => {
  await server.close();
});

class Client {
  private next = 1;
  private readonly waiting = new Map<number, (r: { ok: boolean; value?: unknown; error?: string }) => void>();
  readonly batches: RunBatch[] = [];
  readonly stray: unknown[] = [];

  constructor(readonly ws: WebSocket) {
    ws.on('message', (d) => {
      const m = JSON.parse(d.toString()) as { id?: number; result?: { ok: boolean }; type?: string; batch?: RunBatch };
      if (m.type === 'batch') this.batches.push(m.batch!);
      else if (typeof m.id === 'number' && this.waiting.has(m.id)) {
        this.waiting.get(m.id)!(m.result!);
        this.waiting.delete(m.id);
      } else this.stray.push(m);
    });
  }

  static open(query: string, headers: Record<string, string> = {}): Promise<Client> {
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(`ws://127.0.0.1:${server.port}/api${query}`, { headers });
      ws.once('open', () => resolve(new Client(ws)));
      ws.once('unexpected-response', (_req, res) => reject(new Error(`HTTP ${res.statusCode}`)));
      ws.once('error', reject);
    });
  }

  call(method: string, params: unknown = {}): Promise<{ ok: boolean; value?: any; error?: string }> {
    const id = this.next++;
    return new Promise((resolve) => {
      this.waiting.set(id, resolve);
      this.ws.send(JSON.stringify({ id, method, params }));
    });
  }
}

const token = '?token=test-token-0123456789';

describe('packetlab serve', () => {
  it('serves the renderer with a strict Content-Security-Policy and nothing outside it', async () => {
    const page = await fetch(`http://127.0.0.1:${server.port}/`);
    expect(page.status).toBe(200);
    expect(page.headers.get('content-security-policy')).toMatch(/default-src 'self'; script-src 'self'/);
    expect((await fetch(`http://127.0.0.1:${server.port}/assets/app.js`)).headers.get('content-type')).toMatch(/javascript/);
    for (const p of ['/../secret.txt', '/%2e%2e/secret.txt', '/assets/../../secret.txt']) {
      const r = await fetch(`http://127.0.0.1:${server.port}${p}`);
      expect(r.status, p).toBe(404);
    }
    expect((await fetch(`http://127.0.0.1:${server.port}/`, { method: 'POST' })).status).toBe(405);
  });

  it('answers malformed paths with 400 and keeps serving (they used to throw out of the handler and end the process)', async () => {
    const { request } = await import('node:http');
    // fetch() would normalise these; a raw request sends them as an attacker would.
    const raw = (path: string) =>
      new Promise<{ status: number; body: string }>((resolve, reject) => {
        const req = request({ host: '127.0.0.1', port: server.port, path, method: 'GET' }, (res) => {
          let body = '';
          res.on('data', (d: Buffer) => (body += d.toString()));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
        });
        req.on('error', reject);
        req.end();
      });
    for (const p of ['/%ff', '/%c0%ae%c0%ae/etc/passwd', '/%', '/index.html%00.js']) {
      const r = await raw(p);
      expect(r.status, p).toBe(400);
      expect(r.body, p).toMatch(/^bad request: /);
    }
    expect((await raw('/%2e%2e/%2e%2e/etc/passwd')).status).toBe(404);
    expect((await fetch(`http://127.0.0.1:${server.port}/`)).status).toBe(200);
  });

  it('refuses a WebSocket without the token, with a wrong one, or from another origin', async () => {
    await expect(Client.open('')).rejects.toThrow('HTTP 401');
    await expect(Client.open('?token=wrong')).rejects.toThrow('HTTP 401');
    await expect(Client.open(token, { Origin: 'http://evil.example' })).rejects.toThrow('HTTP 403');
    const ok = await Client.open(token, { Origin: `http://127.0.0.1:${server.port}` });
    ok.ws.close();
  });

  it('takes at most four WebSocket clients from one address, and others from other addresses', async () => {
    const fromAddress = (localAddress: string) =>
      new Promise<WebSocket>((resolve, reject) => {
        const ws = new WebSocket(`ws://127.0.0.1:${server.port}/api${token}`, { localAddress });
        ws.once('open', () => resolve(ws));
        ws.once('unexpected-response', (_req, res) => reject(new Error(`HTTP ${res.statusCode}`)));
        ws.once('error', reject);
      });
    const four = await Promise.all(Array.from({ length: 4 }, () => fromAddress('127.0.0.3')));
    await expect(fromAddress('127.0.0.3')).rejects.toThrow('HTTP 503');
    const other = await fromAddress('127.0.0.4');
    for (const ws of [...four, other]) ws.close();
  });

  it('answers bad calls with errors that name what was wrong, and keeps the connection', async () => {
    const c = await Client.open(token);
    expect(await c.call('rmRf')).toEqual({ ok: false, error: 'unknown call "rmRf"' });
    expect((await c.call('setKnob', { runId: '../../etc', path: 'x', value: 1 })).error).toMatch(/^setKnob\.runId: must be a run id/);
    expect((await c.call('startRun', { text: '{}', extra: 1 })).error).toMatch(/^startRun: unknown field\(s\) extra/);
    expect((await c.call('startRun', { text: '{"name": "x"}' })).error).toMatch(/^startRun: the spec is not valid: \$\.title: is required/);
    expect((await c.call('stopRun', { runId: 'nope' })).error).toBe('stopRun: run nope is not running');
    c.ws.send('not json');
    await until('an answer to the message that is not JSON', () => c.stray.length > 0, 20_000);
    expect(c.stray[0]).toMatchObject({ result: { ok: false, error: expect.stringMatching(/must be JSON/) } });
    // Deep nesting is refused before it is parsed, with where; a deep spec text is the spec's own refusal.
    c.ws.send(`{"id": 9, "method": "setKnob", "params": {"runId": "r", "path": "x", "value": ${'['.repeat(100_000)}${']'.repeat(100_000)}}}`);
    await until('an answer to the deep message', () => c.stray.length > 1, 20_000);
    expect(c.stray[1]).toEqual({ id: null, result: { ok: false, error: `a message may nest at most 16 levels (at $.params.value${'[0]'.repeat(14)})` } });
    const deepSpec = await c.call('validateSpec', { text: `{"sweep": ${'['.repeat(5000)}${']'.repeat(5000)}}` });
    expect(deepSpec).toMatchObject({ ok: true, value: { valid: false, problems: [{ path: expect.stringMatching(/^\$\.sweep(\[0\])+$/), message: 'nested more than 64 levels deep (a spec needs a handful)' }] } });
    expect((await c.call('listKnobs')).value.find((k: { path: string }) => k.path === 'transport.rtoMs')).toMatchObject({ label: 'Retransmission timeout (ms)', live: true, group: 'timeouts' });
    // The app's preset list: every link preset, ideal and lab first, each with its knob values.
    const presets = (await c.call('listPresets')).value as { name: string; set: Record<string, unknown> }[];
    expect(presets.map((p) => p.name)).toEqual(['ideal', 'lab', 'lan', 'wifi', 'lossy-wifi', 'dsl', '3g', '4g', 'satellite']);
    expect(presets[1]!.set).toEqual({ 'forward.delayMs': 5, 'forward.rateBitsPerSecond': 100e6, 'forward.queuePackets': 100, 'reverse.delayMs': 5, 'reverse.rateBitsPerSecond': 100e6, 'reverse.queuePackets': 100 });
    c.ws.close();
  });

  it('closes a connection that sends more than 1 MiB at once', async () => {
    const c = await Client.open(token);
    const closed = new Promise<number>((r) => c.ws.once('close', (code) => r(code)));
    c.ws.send(JSON.stringify({ id: 1, method: 'validateSpec', params: { text: 'x'.repeat(2 * 1024 * 1024) } }));
    expect(await closed).toBe(1009);
  });

  it('runs a library experiment, streams batched samples, takes a live change, and exports it', async () => {
    const c = await Client.open(token);
    const lib = await c.call('listLibrary');
    expect(lib.ok).toBe(true);
    const item = lib.value.find((e: { name: string }) => e.name === 'unreliable-vs-reliable');
    const v = await c.call('validateSpec', { text: item.text });
    // The points with their axis values, for the app's Explore list.
    expect(v.value).toEqual({ valid: true, problems: [], points: 2, pointAxes: [{ layer: 'udp' }, { layer: 'reliable' }] });
    // Real UDP on loopback through a 20 Mbit/s emulated link: about two seconds, time for live changes.
    const text = JSON.stringify({ ...JSON.parse(item.text), network: 'loopback', sweep: [], plot: undefined, workload: { kind: 'bulk', bytes: 5_000_000 }, repetitions: 1 });
    const started = await c.call('startRun', { text });
    expect(started.ok, started.error).toBe(true);
    const runId = started.value.runId as string;
    await until('the first samples', () => c.batches.some((b) => b.samples.length > 0), 20_000);
    const set = await c.call('setKnob', { runId, path: 'forward.lossProbability', value: 0 });
    expect(set.ok, set.error).toBe(true);
    const refused = await c.call('setKnob', { runId, path: 'transport.protocol', value: 'gbn' });
    expect(refused.error).toMatch(/transport.protocol cannot change while a run is going/);
    await until('the run to complete', () => c.batches.some((b) => b.status?.state === 'complete'), 20_000);
    const mine = c.batches.filter((b) => b.runId === runId);
    const samples = mine.reduce((n, b) => n + b.samples.length, 0);
    // Batched: a few messages per second, not one per datagram.
    const datagrams = mine.reduce((n, b) => n + b.samples.reduce((m, x) => m + (x.values.wire_tx_packets ?? 0), 0), 0);
    expect(mine.length).toBeLessThan(datagrams / 50);
    expect(mine.some((b) => b.packets.some((p) => p.fate === 'random'))).toBe(true);
    expect(mine.some((b) => b.events.some((e) => e.kind === 'set' && e.knob === 'forward.lossProbability' && e.after === '0'))).toBe(true);
    const runs = await c.call('listRuns');
    expect(runs.value[0]).toMatchObject({ id: runId, status: 'complete' });
    const opened = await c.call('openRun', { runId });
    expect(opened.value.samples.columns.slice(0, 3)).toEqual(['point', 'repetition', 'time_s']);
    expect(opened.value.samples.rows.length).toBe(samples);
    const csv = await c.call('exportCsv', { runIds: [runId], which: 'summary' });
    expect(csv.value.csv.split('\n')[0]).toMatch(/^run,experiment,point,trials,completed_trials/);
    const saved = await c.call('saveSpec', { name: 'my-spec', text });
    expect(saved.value.path).toBe(join(dir, 'specs', 'my-spec.json'));
    expect(readFileSync(saved.value.path, 'utf8')).toContain('"unreliable-vs-reliable"');
    expect((await c.call('loadSpec', { name: 'my-spec' })).value.text).toContain('unreliable-vs-reliable');
    c.ws.close();
  });

  it('stops a run on request and reports it stopped', async () => {
    const c = await Client.open(token);
    const text = JSON.stringify({ name: 'long', title: 't', description: 'd', concepts: ['checksums'], workload: { kind: 'bulk', bytes: 5_000_000_000, verifyData: false }, forward: { delayMs: 1 }, reverse: { delayMs: 1 }, timeLimitS: 3600 });
    const started = await c.call('startRun', { text });
    await until('the first samples', () => c.batches.some((b) => b.samples.length > 0), 20_000);
    expect((await c.call('stopRun', { runId: started.value.runId })).ok).toBe(true);
    await until(
      () => `the run to be stopped (statuses so far ${JSON.stringify(c.batches.filter((b) => b.status !== undefined).map((b) => [b.runId, b.status]))}, startRun answered ${JSON.stringify(started)})`,
      () => c.batches.some((b) => b.status?.state === 'stopped'),
      20_000,
    );
    expect(c.batches.find((b) => b.status?.state === 'stopped')!.status!.reason).toBe('stopped from the app');
    c.ws.close();
  });
});

describe('teaching mode over the bridge', () => {
  it('starts a simulator run paused, steps it, reads the endpoints, drops a packet, paces and resumes it', async () => {
    const c = await Client.open(token);
    const text = JSON.stringify({ name: 'teach', title: 't', description: 'd', concepts: ['timeout-retry'], transport: { protocol: 'sr', windowPackets: 8 }, workload: { kind: 'bulk', bytes: 50_000 }, forward: { delayMs: 20 }, reverse: { delayMs: 20 } });
    const started = await c.call('startRun', { text, paused: true });
    expect(started.ok, started.error).toBe(true);
    const runId = started.value.runId as string;
    let state: any = null;
    for (let i = 0; i < 100; i++) {
      const st = await c.call('stepRun', { runId, steps: 1 });
      if (!st.ok) {
        expect(st.error).toMatch(/not running|no trial/);
        continue;
      }
      state = (await c.call('simState', { runId })).value;
      if (state?.inFlight.filter((d: { type: string }) => d.type === 'DATA').length >= 2) break;
    }
    expect(state.sender.protocol).toBe('sr');
    expect(state.sender.unacked.length).toBeGreaterThan(0);
    const victim = state.inFlight.find((d: { type: string }) => d.type === 'DATA');
    expect((await c.call('packetAction', { runId, direction: 'forward', index: victim.index, action: 'drop' })).ok).toBe(true);
    expect((await c.call('packetAction', { runId, direction: 'sideways', index: 1, action: 'drop' })).error).toMatch(/^packetAction\.direction/);
    expect((await c.call('packetAction', { runId, direction: 'forward', index: 1e9, action: 'corrupt' })).error).toMatch(/is in flight/);
    expect((await c.call('setSpeed', { runId, speed: 5000 })).error).toMatch(/^setSpeed\.speed/);
    expect((await c.call('setSpeed', { runId, speed: 'max' })).ok).toBe(true);
    expect((await c.call('resumeRun', { runId })).ok).toBe(true);
    await until(`run ${runId} to complete`, () => c.batches.some((b) => b.runId === runId && b.status?.state === 'complete'), 20_000);
    const events = c.batches.filter((b) => b.runId === runId).flatMap((b) => b.events);
    expect(events.some((e) => e.kind === 'step')).toBe(true);
    expect(events.some((e) => e.kind === 'packet')).toBe(true);
    c.ws.close();
  });
});

describe('captures through the bridge', () => {
  it('records a run the app starts with pcap and hands the capture back; refuses other files', async () => {
    const c = await Client.open(token);
    const text = JSON.stringify({ name: 'cap', title: 't', description: 'd', concepts: ['checksums'], workload: { kind: 'bulk', bytes: 100_000 }, forward: { delayMs: 2, lossProbability: 0.05 }, reverse: { delayMs: 2 } });
    const started = await c.call('startRun', { text, pcap: true });
    const runId = started.value.runId as string;
    await until(`run ${runId} to complete`, () => c.batches.some((b) => b.runId === runId && b.status?.state === 'complete'), 20_000);
    const info = (await c.call('listRuns')).value.find((r: { id: string }) => r.id === runId);
    expect(info.captures).toEqual(['capture-p0-r0.pcapng']);
    const got = await c.call('getCapture', { runId, file: 'capture-p0-r0.pcapng' });
    expect(got.ok, got.error).toBe(true);
    const bytes = Buffer.from(got.value.base64, 'base64');
    expect(bytes.readUInt32LE(0)).toBe(0x0a0d0d0a);
    expect(bytes.length).toBe(got.value.bytes);
    expect((await c.call('getCapture', { runId, file: '../run.json' })).error).toMatch(/^getCapture\.file: must be a capture file name/);
    expect((await c.call('getCapture', { runId, file: 'capture-p9-r0.pcapng' })).error).toMatch(/has no capture capture-p9-r0\.pcapng/);
    c.ws.close();
  });
});
