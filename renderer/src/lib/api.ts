// The lab API as the renderer reaches it: Electron's preload exposes `window.packetlab` with the
// LabApi shape; a browser page served by `packetlab serve` talks to the same API over a WebSocket
// (`{id, method, params}` calls, `{id, result}` replies, `{type: "batch"}` pushes). Only types come
// from the contract file, so its argument schemas (zod) stay out of the bundle: the host validates.

import type { ApiMethod, ApiParams, ApiResults, LabApi, Result, RunBatch } from '../../../experiments/api/contract.js';

/** The error a call resolves with when the socket is gone. */
export const LOST_CONNECTION = 'lost connection to the lab';

/** Where the connection to the lab stands. */
export type ConnectionState = 'connecting' | 'open' | 'lost';

/** The connection as the UI shows it. */
export interface ConnectionStatus {
  state: ConnectionState;
  /** Why it is not open, in one line. */
  error: string | null;
}

/** A LabApi that can also say whether it is connected. */
export interface LabConnection {
  api: LabApi;
  /** Subscribes to connection changes (called at once with the current status). */
  onStatus(listener: (s: ConnectionStatus) => void): () => void;
  close(): void;
}

// Every call of the contract: TypeScript fails here when the contract gains one.
const METHODS: Record<ApiMethod, true> = {
  listLibrary: true,
  listKnobs: true,
  validateSpec: true,
  loadSpec: true,
  saveSpec: true,
  startRun: true,
  pauseRun: true,
  resumeRun: true,
  stepRun: true,
  setSpeed: true,
  simState: true,
  packetAction: true,
  setKnob: true,
  stopRun: true,
  listRuns: true,
  openRun: true,
  exportCsv: true,
  listPeers: true,
  listPresets: true,
  listSpecs: true,
  replicaFault: true,
  getCapture: true,
};

/** Every call name. */
export const API_METHOD_NAMES = Object.keys(METHODS) as ApiMethod[];

/** The minimal WebSocket the client needs (the browser's, or `ws` in tests). */
export interface SocketLike {
  readyState: number;
  send(data: string): void;
  close(code?: number, reason?: string): void;
  onopen: ((ev: unknown) => void) | null;
  onclose: ((ev: { code?: number; reason?: string }) => void) | null;
  onerror: ((ev: unknown) => void) | null;
  onmessage: ((ev: { data: unknown }) => void) | null;
}

/** Options of the WebSocket client. */
export interface WsClientOptions {
  /** ws://HOST/api?token=TOKEN */
  url: string;
  /** Makes a socket (default: the browser's WebSocket). */
  connect?: (url: string) => SocketLike;
  /** First reconnection delay; doubles up to maxBackoffMs. */
  initialBackoffMs?: number;
  maxBackoffMs?: number;
  /** A call with no reply by then resolves with an error (default 60 s). */
  callTimeoutMs?: number;
}

interface Pending {
  resolve: (r: Result<unknown>) => void;
  timer: ReturnType<typeof setTimeout>;
}

const OPEN = 1;

/** The lab API over a WebSocket, reconnecting with backoff. */
export class WsLabClient implements LabConnection {
  readonly api: LabApi;
  private socket: SocketLike | null = null;
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();
  /** Calls made while connecting, sent once the socket opens. */
  private queue: { id: number; text: string }[] = [];
  private readonly batchListeners = new Set<(b: RunBatch) => void>();
  private readonly statusListeners = new Set<(s: ConnectionStatus) => void>();
  private status: ConnectionStatus = { state: 'connecting', error: null };
  private backoffMs: number;
  private reconnectTimer: ReturnType<typeof setTimeout> | null = null;
  private closed = false;
  private readonly connect: (url: string) => SocketLike;

  constructor(private readonly o: WsClientOptions) {
    this.backoffMs = o.initialBackoffMs ?? 250;
    this.connect = o.connect ?? ((url) => new WebSocket(url) as unknown as SocketLike);
    const api = {} as Record<string, unknown>;
    for (const m of API_METHOD_NAMES) api[m] = (params: unknown) => this.call(m, params as ApiParams<typeof m>);
    api.onRunBatch = (l: (b: RunBatch) => void) => {
      this.batchListeners.add(l);
      return () => this.batchListeners.delete(l);
    };
    this.api = api as unknown as LabApi;
    this.open();
  }

  /** Subscribes to connection changes. */
  onStatus(listener: (s: ConnectionStatus) => void): () => void {
    this.statusListeners.add(listener);
    listener(this.status);
    return () => this.statusListeners.delete(listener);
  }

  /** Calls one method; never rejects. */
  call<M extends ApiMethod>(method: M, params: ApiParams<M>): Promise<Result<ApiResults[M]>> {
    if (this.closed) return Promise.resolve({ ok: false, error: `${method}: the connection is closed` });
    if (this.status.state === 'lost') return Promise.resolve({ ok: false, error: `${method}: ${LOST_CONNECTION}` });
    const id = this.nextId++;
    const text = JSON.stringify({ id, method, params: params ?? {} });
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        this.queue = this.queue.filter((q) => q.id !== id);
        resolve({ ok: false, error: `${method}: no answer from the lab within ${Math.round((this.o.callTimeoutMs ?? 60_000) / 1000)} s` });
      }, this.o.callTimeoutMs ?? 60_000);
      this.pending.set(id, { resolve: resolve as (r: Result<unknown>) => void, timer });
      if (this.socket !== null && this.socket.readyState === OPEN) this.socket.send(text);
      else this.queue.push({ id, text });
    });
  }

  /** Closes for good. */
  close(): void {
    this.closed = true;
    if (this.reconnectTimer !== null) clearTimeout(this.reconnectTimer);
    this.socket?.close(1000, 'closed by the app');
    this.failPending('the connection is closed');
  }

  private setStatus(s: ConnectionStatus): void {
    this.status = s;
    for (const l of this.statusListeners) l(s);
  }

  private open(): void {
    if (this.closed) return;
    if (this.status.state !== 'connecting') this.setStatus({ state: 'connecting', error: this.status.error });
    let socket: SocketLike;
    try {
      socket = this.connect(this.o.url);
    } catch (e) {
      this.lost(`${LOST_CONNECTION}: ${(e as Error).message}`);
      return;
    }
    this.socket = socket;
    socket.onopen = () => {
      if (this.socket !== socket) return;
      this.backoffMs = this.o.initialBackoffMs ?? 250;
      this.setStatus({ state: 'open', error: null });
      const q = this.queue;
      this.queue = [];
      for (const { text } of q) socket.send(text);
    };
    socket.onmessage = (ev) => {
      if (this.socket === socket) this.receive(ev.data);
    };
    socket.onerror = () => {
      // The close event follows and says the rest.
    };
    socket.onclose = (ev) => {
      if (this.socket !== socket) return;
      this.socket = null;
      if (this.closed) return;
      const why = ev.reason !== undefined && ev.reason !== '' ? `${LOST_CONNECTION} (${ev.reason})` : LOST_CONNECTION;
      this.lost(why);
    };
  }

  private lost(error: string): void {
    this.failPending(LOST_CONNECTION);
    this.setStatus({ state: 'lost', error });
    const delay = this.backoffMs;
    this.backoffMs = Math.min(this.backoffMs * 2, this.o.maxBackoffMs ?? 5000);
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = null;
      this.open();
    }, delay);
  }

  private failPending(error: string): void {
    this.queue = [];
    const calls = [...this.pending.values()];
    this.pending.clear();
    for (const p of calls) {
      clearTimeout(p.timer);
      p.resolve({ ok: false, error });
    }
  }

  private receive(data: unknown): void {
    if (typeof data !== 'string') return;
    let m: { id?: unknown; result?: Result<unknown>; type?: unknown; batch?: RunBatch };
    try {
      m = JSON.parse(data) as typeof m;
    } catch {
      return;
    }
    if (m.type === 'batch' && m.batch !== undefined) {
      for (const l of this.batchListeners) {
        try {
          l(m.batch);
        } catch (e) {
          console.error('a run batch listener failed', e);
        }
      }
      return;
    }
    if (typeof m.id === 'number') {
      const p = this.pending.get(m.id);
      if (p === undefined) return;
      this.pending.delete(m.id);
      clearTimeout(p.timer);
      p.resolve(m.result ?? { ok: false, error: 'the lab sent a reply without a result' });
    } else if (m.result !== undefined && !m.result.ok) {
      // A reply to no call (a refused message, the rate limit): the server could not tell which.
      console.warn(`the lab refused a message: ${m.result.error}`);
    }
  }
}

const TOKEN_KEY = 'packetlab.token';

/** Reads the token from the page URL (and strips it from the address bar), else from the session. */
export function takeToken(loc: { href: string }, storage: Pick<Storage, 'getItem' | 'setItem'>, history: Pick<History, 'replaceState' | 'state'>): string | null {
  const url = new URL(loc.href);
  const token = url.searchParams.get('token');
  if (token !== null && token !== '') {
    storage.setItem(TOKEN_KEY, token);
    url.searchParams.delete('token');
    history.replaceState(history.state, '', `${url.pathname}${url.search}${url.hash}`);
    return token;
  }
  return storage.getItem(TOKEN_KEY);
}

/** The WebSocket address of the API for a page at `loc`. */
export function apiSocketUrl(loc: { protocol: string; host: string }, token: string): string {
  return `${loc.protocol === 'https:' ? 'wss' : 'ws'}://${loc.host}/api?token=${encodeURIComponent(token)}`;
}

/** A connection that never opens, with the reason (no token, no carrier). */
export function unavailable(error: string): LabConnection {
  const api = {} as Record<string, unknown>;
  for (const m of API_METHOD_NAMES) api[m] = () => Promise.resolve({ ok: false, error });
  api.onRunBatch = () => () => {};
  return {
    api: api as unknown as LabApi,
    onStatus: (l) => {
      l({ state: 'lost', error });
      return () => {};
    },
    close: () => {},
  };
}

declare global {
  interface Window {
    /** The Electron preload's API. */
    packetlab?: LabApi;
  }
}

/** Picks the carrier: Electron's preload when present, else the WebSocket of `packetlab serve`. */
export function connectLab(win: Window = window): LabConnection {
  const electron = win.packetlab;
  if (electron !== undefined) {
    return {
      api: electron,
      onStatus: (l) => {
        l({ state: 'open', error: null });
        return () => {};
      },
      close: () => {},
    };
  }
  const token = takeToken(win.location, win.sessionStorage, win.history);
  if (token === null) return unavailable('no token: open the address that `packetlab serve` printed (it ends in ?token=...)');
  return new WsLabClient({ url: apiSocketUrl(win.location, token) });
}
