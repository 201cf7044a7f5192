// The renderer's API client: the token taken from the page URL, calls and replies over a real
// WebSocket (a tiny `ws` server standing in for `packetlab serve`), pushed run batches, pending
// calls failed with "lost connection to the lab" when the socket closes, and reconnection.

import { API_METHODS } from '../experiments/api/contract.js';
import { afterEach, describe, expect, it } from 'vitest';
import { WebSocketServer, WebSocket as NodeWebSocket } from 'ws';
import type { AddressInfo } from 'node:net';
import { API_METHOD_NAMES, LOST_CONNECTION, WsLabClient, apiSocketUrl, connectLab, takeToken, type ConnectionStatus, type SocketLike } from '../renderer/src/lib/api.js';
import type { LabApi, RunBatch } from '../experiments/api/contract.js';
import { until } from './helpers/until.js';

const TOKEN = 'tok-0123456789abcdef';

interface Fake {
  wss: WebSocketServer;
  port: number;
  /** Every call received: method, params and the token of its connection. */
  calls: { method: string; params: unknown; token: string | null }[];
  /** Calls answered only when released. */
  hold: Set<string>;
  sockets: Set<NodeWebSocket>;
  push(batch: RunBatch): void;
}

let servers: WebSocketServer[] = [];
let clients: WsLabClient[] = [];

afterEach(async () => {
  for (const c of clients) c.close();
  clients = [];
  for (const s of servers) {
    for (const c of s.clients) c.terminate();
    await new Promise<void>((r) => s.close(() => r()));
  }
  servers = [];
});

async function fakeLab(port = 0): Promise<Fake> {
  const wss = new WebSocketServer({ host: '127.0.0.1', port });
  servers.push(wss);
  await new Promise<void>((r) => wss.once('listening', () => r()));
  const fake: Fake = {
    wss,
    port: (wss.address() as AddressInfo).port,
    calls: [],
    hold: new Set(),
    sockets: new Set(),
    push(batch) {
      for (const s of fake.sockets) s.send(JSON.stringify({ type: 'batch', batch }));
    },
  };
  wss.on('connection', (ws, req) => {
    const token = new URL(req.url ?? '/', 'http://x').searchParams.get('token');
    if (token !== TOKEN) {
      ws.close(4401, 'bad token');
      return;
    }
    fake.sockets.add(ws);
    ws.on('close', () => fake.sockets.delete(ws));
    ws.on('message', (data) => {
      const m = JSON.parse(data.toString()) as { id: number; method: string; params: unknown };
      fake.calls.push({ method: m.method, params: m.params, token });
      if (fake.hold.has(m.method)) return;
      const result = m.method === 'listRuns' ? { ok: true, value: [{ id: 'r1' }] } : m.method === 'stopRun' ? { ok: false, error: 'stopRun: run x is not running' } : { ok: true, value: { echo: m.params } };
      ws.send(JSON.stringify({ id: m.id, result }));
    });
  });
  return fake;
}

function client(port: number, token = TOKEN): WsLabClient {
  const c = new WsLabClient({ url: `ws://127.0.0.1:${port}/api?token=${token}`, connect: (url) => new NodeWebSocket(url) as unknown as SocketLike, initialBackoffMs: 20, maxBackoffMs: 100, callTimeoutMs: 5000 });
  clients.push(c);
  return c;
}

function statusOf(c: WsLabClient): ConnectionStatus[] {
  const seen: ConnectionStatus[] = [];
  c.onStatus((s) => seen.push(s));
  return seen;
}

describe('token', () => {
  it('is read from the page URL, kept in sessionStorage and stripped from the address bar', () => {
    const store = new Map<string, string>();
    const storage = { getItem: (k: string) => store.get(k) ?? null, setItem: (k: string, v: string) => void store.set(k, v) };
    const replaced: string[] = [];
    const history = { state: null, replaceState: (_s: unknown, _t: string, url?: string | URL | null) => void replaced.push(String(url)) };
    expect(takeToken({ href: `http://127.0.0.1:8765/?token=${TOKEN}&x=1#top` }, storage, history)).toBe(TOKEN);
    expect(replaced).toEqual(['/?x=1#top']);
    expect(store.get('packetlab.token')).toBe(TOKEN);
    // A reload of the stripped address finds it in the session.
    expect(takeToken({ href: 'http://127.0.0.1:8765/?x=1' }, storage, history)).toBe(TOKEN);
    expect(replaced).toHaveLength(1);
    expect(takeToken({ href: 'http://127.0.0.1:8765/' }, { getItem: () => null, setItem: () => {} }, history)).toBeNull();
  });

  it('goes into the WebSocket address of the same host', () => {
    expect(apiSocketUrl({ protocol: 'http:', host: '127.0.0.1:8765' }, 'a b+c')).toBe('ws://127.0.0.1:8765/api?token=a%20b%2Bc');
    expect(apiSocketUrl({ protocol: 'https:', host: 'lab.example:443' }, 't')).toBe('wss://lab.example:443/api?token=t');
  });
});

describe('WsLabClient', () => {
  it('has one function per call of the contract', () => {
    expect([...API_METHOD_NAMES].sort()).toEqual([...API_METHODS].sort());
  });

  it('sends {id, method, params} with the token and resolves each call with its own reply', async () => {
    const lab = await fakeLab();
    const c = client(lab.port);
    // Calls made while connecting wait for the socket.
    const [a, b, s] = await Promise.all([c.api.listRuns({}), c.api.validateSpec({ text: '{"a":1}' }), c.api.stopRun({ runId: 'x' })]);
    expect(a).toEqual({ ok: true, value: [{ id: 'r1' }] });
    expect(b).toEqual({ ok: true, value: { echo: { text: '{"a":1}' } } });
    expect(s).toEqual({ ok: false, error: 'stopRun: run x is not running' });
    expect(lab.calls.map((x) => x.method).sort()).toEqual(['listRuns', 'stopRun', 'validateSpec']);
    expect(lab.calls.every((x) => x.token === TOKEN)).toBe(true);
  });

  it('delivers pushed batches to every listener until it unsubscribes', async () => {
    const lab = await fakeLab();
    const c = client(lab.port);
    const got1: RunBatch[] = [];
    const got2: RunBatch[] = [];
    c.api.onRunBatch((b) => got1.push(b));
    const off = c.api.onRunBatch((b) => got2.push(b));
    await c.api.listLibrary({});
    const batch: RunBatch = { runId: 'run-1', samples: [{ point: 0, repetition: 0, values: { time_s: 0.1, goodput_bps: 1e6 } }], events: [], packets: [], status: { state: 'running', reason: null, dir: '/tmp/x' } };
    lab.push(batch);
    await until('both subscribers to get the first batch', () => got1.length === 1 && got2.length === 1);
    expect(got1[0]).toEqual(batch);
    off();
    lab.push({ ...batch, samples: [] });
    await until('the second batch', () => got1.length === 2);
    expect(got2).toHaveLength(1);
  });

  it('fails pending calls with "lost connection to the lab" when the socket closes, then reconnects', async () => {
    const lab = await fakeLab();
    const c = client(lab.port);
    const seen = statusOf(c);
    await c.api.listRuns({});
    expect(seen.at(-1)).toEqual({ state: 'open', error: null });
    lab.hold.add('openRun');
    const pending = c.api.openRun({ runId: 'r1' });
    await until('an openRun call', () => lab.calls.some((x) => x.method === 'openRun'));
    for (const s of lab.sockets) s.terminate();
    const r = await pending;
    expect(r.ok).toBe(false);
    expect(!r.ok && r.error).toBe(LOST_CONNECTION);
    expect(seen.some((s) => s.state === 'lost' && s.error?.startsWith(LOST_CONNECTION))).toBe(true);
    // It comes back by itself and calls work again.
    await until('the connection to open', () => seen.at(-1)?.state === 'open');
    lab.hold.clear();
    expect(await c.api.listRuns({})).toEqual({ ok: true, value: [{ id: 'r1' }] });
  });

  it('answers at once while the lab is unreachable, and retries with backoff until it is back', async () => {
    const lab = await fakeLab();
    const port = lab.port;
    const c = client(port);
    const seen = statusOf(c);
    await c.api.listRuns({});
    for (const s of lab.sockets) s.terminate();
    await new Promise<void>((r) => lab.wss.close(() => r()));
    servers = servers.filter((s) => s !== lab.wss);
    await until('the connection to be lost', () => seen.at(-1)?.state === 'lost');
    const r = await c.api.listLibrary({});
    expect(r).toEqual({ ok: false, error: `listLibrary: ${LOST_CONNECTION}` });
    // Several attempts fail while nothing listens.
    await new Promise((res) => setTimeout(res, 250));
    expect(seen.filter((s) => s.state === 'connecting').length).toBeGreaterThanOrEqual(2);
    const back = await fakeLab(port);
    await until('the connection to open again', () => seen.at(-1)?.state === 'open');
    expect(await c.api.listRuns({})).toEqual({ ok: true, value: [{ id: 'r1' }] });
    expect(back.calls.some((x) => x.method === 'listRuns')).toBe(true);
  });

  it('reports a refused token as a lost connection', async () => {
    const lab = await fakeLab();
    const c = client(lab.port, 'wrong-token-000000');
    const seen = statusOf(c);
    await until('the connection to be lost', () => seen.some((s) => s.state === 'lost'));
    expect(seen.find((s) => s.state === 'lost')!.error).toContain('bad token');
    c.close();
    expect(await c.api.listRuns({})).toEqual({ ok: false, error: 'listRuns: the connection is closed' });
  });
});

describe('connectLab', () => {
  it("uses Electron's preload API when the window has one", async () => {
    const api = { listRuns: async () => ({ ok: true, value: [] }) } as unknown as LabApi;
    const conn = connectLab({ packetlab: api } as unknown as Window);
    expect(conn.api).toBe(api);
    const seen: ConnectionStatus[] = [];
    conn.onStatus((s) => seen.push(s));
    expect(seen).toEqual([{ state: 'open', error: null }]);
  });

  it('says how to get a token when the page has none', async () => {
    const win = { location: { href: 'http://127.0.0.1:1/', protocol: 'http:', host: '127.0.0.1:1' }, sessionStorage: { getItem: () => null, setItem: () => {} }, history: { state: null, replaceState: () => {} } } as unknown as Window;
    const conn = connectLab(win);
    const r = await conn.api.listLibrary({});
    expect(r.ok).toBe(false);
    expect(!r.ok && r.error).toMatch(/no token/);
  });
});
