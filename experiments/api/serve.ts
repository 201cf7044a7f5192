// `packetlab serve`: the app's built renderer over HTTP and the lab API over a WebSocket, for a
// browser on machines without Electron. The WebSocket demands the token (also on loopback, as
// Jupyter does), checks the Origin against the page's own, caps message sizes, connections and
// call rates, and validates every call's arguments in LabHost.

import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { randomBytes, timingSafeEqual } from 'node:crypto';
import { readFile, stat } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { WebSocketServer, type WebSocket } from 'ws';
import { LabHost, type LabHostOptions } from './host.js';
import type { RunBatch } from './contract.js';
import { BEACON_PORT } from '../../core/peer/beacon.js';
import { PeerBeaconListener } from '../../net/peer/beacon.js';
import { CONTENT_SECURITY_POLICY, pageFileFor, pageHeaders } from './page.js';
import { jsonTooDeep } from '../../core/util/json-depth.js';
import { plainAddress } from '../../core/util/address.js';

/** Where and how to serve. */
export interface ServeOptions extends LabHostOptions {
  host: string;
  port: number;
  /** Folder of the built renderer (dist/renderer). */
  rendererDir: string;
  /** The token (default: 24 random bytes, base64url). */
  token?: string;
  /** Most WebSocket clients at once (default 8). */
  maxClients?: number;
  /** Most WebSocket clients at once from one address (default 4). */
  maxClientsPerAddress?: number;
  /** Most calls per second per client (default 200). */
  maxCallsPerSecond?: number;
  /** UDP port to hear peer agents' beacons on (default 9877; null: do not listen). */
  beaconPort?: number | null;
}

/** A running server. */
export interface LabServer {
  readonly url: string;
  readonly port: number;
  readonly token: string;
  readonly host: LabHost;
  close(): Promise<void>;
}

/** The page's Content-Security-Policy (experiments/api/page.ts), for callers of this module. */
export { CONTENT_SECURITY_POLICY };

/** Largest WebSocket message accepted from a client. */
const MAX_MESSAGE_BYTES = 1024 * 1024;
/** Deepest nesting of a message (calls need three or four levels; a spec travels as a string). */
const MAX_MESSAGE_DEPTH = 16;
/** A client whose unsent data passes this loses ladder packets until it catches up. */
const SLOW_CLIENT_BYTES = 16 * 1024 * 1024;

function sameToken(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

function hostForUrl(host: string): string {
  return host.includes(':') ? `[${host}]` : host;
}

/** Starts the server. */
export async function startLabServer(o: ServeOptions): Promise<LabServer> {
  const token = o.token ?? randomBytes(24).toString('base64url');
  const root = resolve(o.rendererDir);
  if (!existsSync(join(root, 'index.html'))) throw new Error(`${join(root, 'index.html')} is missing: run \`npm run build\` first`);
  // LAN peers for the app's list: heard on the beacon port, which several listeners may share.
  let beacons: PeerBeaconListener | null = null;
  let beaconError: string | null = null;
  if (o.peers === undefined && o.beaconPort !== null) {
    try {
      beacons = await PeerBeaconListener.start({ port: o.beaconPort ?? BEACON_PORT });
    } catch (e) {
      beaconError = (e as Error).message;
    }
  }
  const peers =
    o.peers ??
    (() => {
      if (beacons === null) throw new Error(beaconError ?? 'not listening for peer beacons (--no-beacons)');
      return beacons.peers().map((p) => ({ address: p.address, port: p.controlPort, name: p.name, version: p.version, lastSeenMs: p.lastSeenMs }));
    });
  const host = new LabHost({ ...o, peers });
  let port = 0;
  const origins = () => {
    const set = new Set([`http://${hostForUrl(o.host)}:${port}`]);
    if (o.host === '127.0.0.1' || o.host === '::1' || o.host === 'localhost') {
      set.add(`http://127.0.0.1:${port}`);
      set.add(`http://localhost:${port}`);
      set.add(`http://[::1]:${port}`);
    }
    return set;
  };

  // Never throws: a malformed path is a 400, anything outside the renderer a 404, a read error a 500.
  const serveFile = async (req: IncomingMessage, res: ServerResponse) => {
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { Allow: 'GET, HEAD' }).end();
      return;
    }
    const plain = (status: number, text: string) => res.writeHead(status, { 'Content-Type': 'text/plain; charset=utf-8', 'X-Content-Type-Options': 'nosniff' }).end(`${text}\n`);
    try {
      const url = new URL(req.url ?? '/', 'http://x');
      const file = pageFileFor(url.pathname, root);
      if (!file.ok) return plain(file.status, file.status === 400 ? `bad request: ${file.why}` : 'not found');
      const info = await stat(file.path).catch(() => null);
      if (info === null || !info.isFile()) return plain(404, 'not found');
      const body = req.method === 'HEAD' ? undefined : await readFile(file.path);
      res.writeHead(200, pageHeaders(file.path)).end(body);
    } catch (e) {
      if (!res.headersSent) plain(500, `cannot read the page: ${(e as Error).message}`);
      else res.destroy();
    }
  };

  const server: Server = createServer((req, res) => void serveFile(req, res));
  const wss = new WebSocketServer({ noServer: true, maxPayload: MAX_MESSAGE_BYTES });
  const clients = new Set<WebSocket>();
  /** Clients of each address now (a host on the LAN must not take every place). */
  const perAddress = new Map<string, number>();

  server.on('upgrade', (req, socket, head) => {
    const refuse = (code: number, why: string) => {
      socket.write(`HTTP/1.1 ${code} ${why}\r\nConnection: close\r\nContent-Type: text/plain\r\n\r\n${why}\n`);
      socket.destroy();
    };
    const url = new URL(req.url ?? '/', 'http://x');
    if (url.pathname !== '/api') return refuse(404, 'Not Found');
    const given = url.searchParams.get('token') ?? '';
    if (!sameToken(given, token)) return refuse(401, 'Unauthorized: a valid token is required');
    // A browser always sends Origin; a page of another site must not drive the lab.
    const origin = req.headers.origin;
    if (origin !== undefined && !origins().has(origin)) return refuse(403, `Forbidden: origin ${origin} is not this lab`);
    if (clients.size >= (o.maxClients ?? 8)) return refuse(503, 'Service Unavailable: too many clients');
    const address = plainAddress(req.socket.remoteAddress ?? '');
    if ((perAddress.get(address) ?? 0) >= (o.maxClientsPerAddress ?? 4)) return refuse(503, 'Service Unavailable: too many clients from this address');
    wss.handleUpgrade(req, socket, head, (ws) => wss.emit('connection', ws, req));
  });

  wss.on('connection', (ws: WebSocket, req: IncomingMessage) => {
    clients.add(ws);
    const address = plainAddress(req.socket.remoteAddress ?? '');
    perAddress.set(address, (perAddress.get(address) ?? 0) + 1);
    let windowStart = Date.now();
    let calls = 0;
    const unsubscribe = host.onRunBatch((batch: RunBatch) => {
      if (ws.readyState !== ws.OPEN) return;
      const b = ws.bufferedAmount > SLOW_CLIENT_BYTES ? { ...batch, packets: [] } : batch;
      ws.send(JSON.stringify({ type: 'batch', batch: b }));
    });
    ws.on('message', (data, isBinary) => {
      let msg: { id?: unknown; method?: unknown; params?: unknown };
      const now = Date.now();
      if (now - windowStart >= 1000) {
        windowStart = now;
        calls = 0;
      }
      const reply = (id: unknown, result: unknown) => ws.send(JSON.stringify({ id, result }));
      if (++calls > (o.maxCallsPerSecond ?? 200)) return reply(null, { ok: false, error: 'too many calls per second' });
      const text = isBinary ? '' : data.toString();
      // Refused before JSON.parse and the validators, which recurse once per level.
      const deep = isBinary ? null : jsonTooDeep(text, MAX_MESSAGE_DEPTH);
      if (deep !== null) return reply(null, { ok: false, error: `a message may nest at most ${MAX_MESSAGE_DEPTH} levels (at ${deep.path})` });
      try {
        if (isBinary) throw new Error('binary message');
        msg = JSON.parse(text) as typeof msg;
      } catch {
        return reply(null, { ok: false, error: 'a message must be JSON text: {"id": n, "method": "...", "params": {...}}' });
      }
      if (typeof msg !== 'object' || msg === null || typeof msg.method !== 'string' || !(typeof msg.id === 'number' || typeof msg.id === 'string')) {
        return reply(null, { ok: false, error: 'a message needs a numeric or string "id" and a "method"' });
      }
      const id = msg.id;
      void host.call(msg.method, msg.params).then((result) => {
        if (ws.readyState === ws.OPEN) reply(id, result);
      });
    });
    // A protocol error (an oversized message) closes the socket with its code; nothing to rethrow.
    ws.on('error', () => ws.terminate());
    ws.on('close', () => {
      unsubscribe();
      clients.delete(ws);
      const left = (perAddress.get(address) ?? 1) - 1;
      if (left > 0) perAddress.set(address, left);
      else perAddress.delete(address);
    });
  });

  await new Promise<void>((res, rej) => {
    server.once('error', (e: NodeJS.ErrnoException) =>
      rej(new Error(e.code === 'EADDRINUSE' ? `port ${o.port} on ${o.host} is in use` : e.code === 'EADDRNOTAVAIL' ? `${o.host} is not an address of this machine` : e.message)),
    );
    server.listen(o.port, o.host, () => res());
  });
  const addr = server.address();
  port = typeof addr === 'object' && addr !== null ? addr.port : o.port;
  const url = `http://${hostForUrl(o.host)}:${port}/?token=${token}`;
  return {
    url,
    port,
    token,
    host,
    close: async () => {
      for (const c of clients) c.close(1001, 'the lab is shutting down');
      await host.close();
      await beacons?.close();
      wss.close();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}
