// The client of a peer agent: what the experiment runner uses to start the far end of a LAN
// experiment. PeerClient.connect opens the control channel and proves the token; its methods start
// services and read their counters; it pings the agent every second and reports the agent lost
// (onLost, with a reason) when the connection breaks or nothing comes back for 2.5 s, so a run
// that depends on the agent ends within 3 s of the agent's death with the reason.
//
// Errors come in three kinds: PeerConnectError (connect failed: unreachable, refused token, ...),
// PeerRemoteError (the agent answered no: a cap, an unknown service) and PeerLostError (the
// connection is gone; every pending request is rejected with it).

import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { connect as netConnect, type Socket } from 'node:net';
import type { z } from 'zod';
import { ClientChannel, NONCE_BYTES, type ChannelError } from '../../core/peer/protocol.js';
import {
  RESULT_VALUE_SCHEMAS,
  formatIssues,
  type DrcRequest,
  type EchoRequest,
  type EchoStarted,
  type ListenerRequest,
  type ListenerStarted,
  type PeerCaps,
  type Request,
  type RequestType,
  type RpcServiceRequest,
  type RpcStarted,
  type ServiceEvent,
  type ServiceStats,
} from '../../core/peer/messages.js';
import { packetlabVersion } from './version.js';
import type { ReceiverChanges } from '../../core/transport/config.js';

/** How to reach an agent. */
export interface PeerClientOptions {
  host: string;
  /** The agent's control port. */
  port: number;
  token: string;
  /** Give up connecting and authenticating after this long (default 5000). */
  timeoutMs?: number;
  /** Name in the agent's log (default: this host's name). */
  name?: string;
  /** Keepalive period (default 1000). */
  pingIntervalMs?: number;
  /** The agent is lost when nothing arrives for this long (default 2500, so a loss shows within 3 s). */
  lostAfterMs?: number;
  /** A request not answered within this long fails (default 15000). */
  requestTimeoutMs?: number;
  /** Address of this machine to connect from (default: the one the system picks), for hosts with several. */
  localAddress?: string;
}

/** Why connecting failed. */
export type PeerConnectFailure = 'unreachable' | 'timeout' | 'token' | 'refused' | 'version' | 'protocol';

/** Connecting to an agent failed; `reason` says how. */
export class PeerConnectError extends Error {
  constructor(
    readonly reason: PeerConnectFailure,
    message: string,
  ) {
    super(message);
    this.name = 'PeerConnectError';
  }
}

/** The agent answered a request with an error (a cap, an unknown service, a bad value). */
export class PeerRemoteError extends Error {
  constructor(
    readonly request: RequestType,
    message: string,
  ) {
    super(message);
    this.name = 'PeerRemoteError';
  }
}

/** The control connection is gone (or a request went unanswered); the message says why. */
export class PeerLostError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'PeerLostError';
  }
}

/** A listener started on the agent: send reliable transfers and UDP streams to host:udpPort. */
export interface ListenerService extends ListenerStarted {
  host: string;
}

/** An RPC server started on the agent (the counter program). */
export interface RpcService extends RpcStarted {
  host: string;
}

/** An echo started on the agent. */
export interface EchoService extends EchoStarted {
  host: string;
}

/** What the agent said in its welcome. */
export interface PeerInfo {
  name: string;
  software: string;
  caps: PeerCaps;
}

type Pending = { type: RequestType; resolve: (v: unknown) => void; reject: (e: Error) => void; timer: NodeJS.Timeout };

function hostPort(host: string, port: number): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}

/** A connection to a peer agent. */
export class PeerClient {
  /** The agent's address, as given to connect. */
  readonly host: string;
  readonly port: number;
  /** The agent's name, software and caps. */
  readonly agent: PeerInfo;
  private readonly socket: Socket;
  private readonly channel: ClientChannel;
  private readonly o: Required<Pick<PeerClientOptions, 'pingIntervalMs' | 'lostAfterMs' | 'requestTimeoutMs'>>;
  private readonly pending = new Map<number, Pending>();
  private readonly lostListeners = new Set<(reason: string) => void>();
  private readonly eventListeners = new Set<(e: ServiceEvent) => void>();
  private nextId = 1;
  private lastHeardMs: number;
  private lost: string | null = null;
  private closedByUs = false;
  private readonly pingTimer: NodeJS.Timeout;
  private readonly watchTimer: NodeJS.Timeout;

  private constructor(host: string, port: number, socket: Socket, channel: ClientChannel, agent: PeerInfo, o: PeerClient['o']) {
    this.host = host;
    this.port = port;
    this.socket = socket;
    this.channel = channel;
    this.agent = agent;
    this.o = o;
    this.lastHeardMs = performance.now();
    socket.on('data', (chunk: Buffer) => {
      this.lastHeardMs = performance.now();
      this.channel.handleBytes(chunk);
      this.pump();
    });
    socket.on('error', (err: NodeJS.ErrnoException) => this.lose(err.code === 'ECONNRESET' ? `connection to peer ${this.where()} reset` : `connection to peer ${this.where()} failed: ${err.message}`));
    socket.on('close', () => this.lose(`peer ${this.where()} closed the connection`));
    this.pingTimer = setInterval(() => {
      if (this.lost === null && !this.closedByUs) this.request({ type: 'ping', id: 0 }).catch(() => {});
    }, o.pingIntervalMs);
    // Checked every 100 ms (or 25 times per lost period), so a loss is reported at most that late.
    this.watchTimer = setInterval(() => {
      const quietMs = performance.now() - this.lastHeardMs;
      if (quietMs > this.o.lostAfterMs) this.lose(`peer ${this.where()} stopped answering (no reply for ${(Math.floor(quietMs / 100) / 10).toFixed(1)} s)`);
    }, Math.max(10, Math.min(100, o.lostAfterMs / 25)));
    this.pump();
    socket.resume();
  }

  /** Connects, proves the token and waits for the agent's welcome. Rejects with PeerConnectError. */
  static async connect(o: PeerClientOptions): Promise<PeerClient> {
    const timeoutMs = o.timeoutMs ?? 5000;
    const where = hostPort(o.host, o.port);
    const channel = new ClientChannel({ token: o.token, nonce: randomBytes(NONCE_BYTES), name: o.name ?? hostname(), software: `packetlab ${packetlabVersion()}` });
    const socket = netConnect({ host: o.host, port: o.port, ...(o.localAddress !== undefined ? { localAddress: o.localAddress } : {}) });
    socket.setNoDelay(true);
    let welcome: PeerInfo;
    try {
      welcome = await new Promise<PeerInfo>((resolve, reject) => {
        const timer = setTimeout(() => fail(new PeerConnectError('timeout', `peer ${where} did not complete the handshake within ${timeoutMs / 1000} s`)), timeoutMs);
        const fail = (e: Error) => {
          clearTimeout(timer);
          socket.removeAllListeners('data');
          reject(e);
        };
        socket.once('connect', () => {
          channel.start();
          for (let l = channel.pollTransmit(); l !== null; l = channel.pollTransmit()) socket.write(l);
        });
        socket.on('data', (chunk: Buffer) => {
          channel.handleBytes(chunk);
          for (let l = channel.pollTransmit(); l !== null; l = channel.pollTransmit()) socket.write(l);
          for (let e = channel.pollEvent(); e !== null; e = channel.pollEvent()) {
            if (e.type === 'established') {
              clearTimeout(timer);
              // Held until the client's own listener is attached, so no frame after the welcome is lost.
              socket.pause();
              socket.removeAllListeners('data');
              resolve({ name: e.hello.name, software: e.hello.software, caps: e.hello.caps });
              return;
            }
            if (e.type === 'failed') {
              fail(connectError(where, e.error));
              return;
            }
          }
        });
        socket.on('error', (err: NodeJS.ErrnoException) => {
          if (err.code === 'ECONNREFUSED') fail(new PeerConnectError('unreachable', `nothing listens on ${where} (connection refused): is \`packetlab peer\` running there?`));
          else if (err.code === 'ECONNRESET') fail(new PeerConnectError('unreachable', `peer ${where} reset the connection during the handshake`));
          else fail(new PeerConnectError('unreachable', `cannot reach peer ${where}: ${err.message}`));
        });
        socket.on('close', () => fail(channel.error !== null ? connectError(where, channel.error) : new PeerConnectError('unreachable', `peer ${where} closed the connection during the handshake`)));
      });
    } catch (e) {
      socket.destroy();
      throw e;
    }
    socket.removeAllListeners('error');
    socket.removeAllListeners('close');
    socket.removeAllListeners('connect');
    return new PeerClient(o.host, o.port, socket, channel, welcome, {
      pingIntervalMs: o.pingIntervalMs ?? 1000,
      lostAfterMs: o.lostAfterMs ?? 2500,
      requestTimeoutMs: o.requestTimeoutMs ?? 15_000,
    });
  }

  /** Why the agent was lost, or null while it is there (or after close()). */
  get lostReason(): string | null {
    return this.lost;
  }

  /** Calls `cb` once with the reason when the agent is lost (at once if it already is). Returns an unsubscribe function. */
  onLost(cb: (reason: string) => void): () => void {
    if (this.lost !== null) {
      queueMicrotask(() => cb(this.lost!));
      return () => {};
    }
    this.lostListeners.add(cb);
    return () => this.lostListeners.delete(cb);
  }

  /** Calls `cb` for every service event (sessions opened, closed, refused; services ended). Returns an unsubscribe function. */
  onEvent(cb: (e: ServiceEvent) => void): () => void {
    this.eventListeners.add(cb);
    return () => this.eventListeners.delete(cb);
  }

  /** A round trip over the control channel, in ms. */
  async ping(): Promise<number> {
    const t0 = performance.now();
    await this.request({ type: 'ping', id: 0 });
    return performance.now() - t0;
  }

  /** Starts a packetlab listener on the agent (the far end of runUdpTransfer and runUdpStream). */
  async startListener(r: ListenerRequest = {}): Promise<ListenerService> {
    const v = await this.request({ type: 'start-listener', id: 0, ...r });
    return { ...(v as ListenerStarted), host: this.host };
  }

  /** Starts an RPC server with the counter program on the agent (the far end of runUdpRpcWorkload). */
  async startRpcServer(r: RpcServiceRequest): Promise<RpcService> {
    const v = await this.request({ type: 'start-rpc', id: 0, ...r });
    return { ...(v as RpcStarted), host: this.host };
  }

  /** Starts a UDP echo on the agent; it answers this client's IP address only. */
  async startEcho(r: EchoRequest = {}): Promise<EchoService> {
    const v = await this.request({ type: 'start-echo', id: 0, ...r });
    return { ...(v as EchoStarted), host: this.host };
  }

  /** Switches the duplicate request cache of a running RPC service. */
  async configureRpc(service: number, drc: DrcRequest): Promise<void> {
    await this.request({ type: 'configure-rpc', id: 0, service, drc });
  }

  /** Changes receiver-side knobs (SACK, checksum, ACK policy, receive buffer) of an open reliable session of a listener service. */
  async configureSession(service: number, connectionId: number, changes: ReceiverChanges): Promise<void> {
    await this.request({ type: 'configure-session', id: 0, service, connectionId, changes });
  }

  /** The counters of a service (receiver-side figures: sessions, kernel drops, RPC server counters). */
  async stats(service: number): Promise<ServiceStats> {
    return (await this.request({ type: 'stats', id: 0, service })) as ServiceStats;
  }

  /** Stops a service and returns its final counters. */
  async stop(service: number): Promise<ServiceStats> {
    return (await this.request({ type: 'stop', id: 0, service })) as ServiceStats;
  }

  /** Closes the control connection; the agent stops this client's services. No lost event follows. */
  async close(): Promise<void> {
    if (this.closedByUs) return;
    this.closedByUs = true;
    this.stopTimers();
    this.failPending(new PeerLostError('the client closed the connection'));
    if (this.socket.destroyed) return;
    await new Promise<void>((resolve) => {
      const t = setTimeout(() => {
        this.socket.destroy();
        resolve();
      }, 1000);
      this.socket.once('close', () => {
        clearTimeout(t);
        resolve();
      });
      this.socket.end();
    });
  }

  private where(): string {
    return hostPort(this.host, this.port);
  }

  /** Sends a request with a fresh id; resolves with its checked result value. */
  private request(req: Request): Promise<unknown> {
    if (this.lost !== null) return Promise.reject(new PeerLostError(this.lost));
    if (this.closedByUs) return Promise.reject(new PeerLostError('the client closed the connection'));
    const id = this.nextId++;
    const msg = { ...req, id } as Request;
    return new Promise<unknown>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new PeerLostError(`peer ${this.where()} did not answer the ${req.type} request within ${this.o.requestTimeoutMs / 1000} s`));
      }, this.o.requestTimeoutMs);
      this.pending.set(id, { type: req.type, resolve, reject, timer });
      this.channel.send(msg);
      this.flush();
    });
  }

  private flush(): void {
    if (this.socket.destroyed) return;
    for (let l = this.channel.pollTransmit(); l !== null; l = this.channel.pollTransmit()) this.socket.write(l);
  }

  private pump(): void {
    for (let e = this.channel.pollEvent(); e !== null; e = this.channel.pollEvent()) {
      if (e.type === 'failed') {
        this.lose(`peer ${this.where()} sent a bad frame (${e.error.message})`);
        return;
      }
      if (e.type === 'invalid') {
        this.lose(`peer ${this.where()} sent an invalid message (${e.error.message})`);
        return;
      }
      if (e.type !== 'message') continue;
      const m = e.message;
      if (m.type === 'event') {
        for (const cb of this.eventListeners) safely(() => cb(m));
        continue;
      }
      const p = this.pending.get(m.id);
      if (p === undefined) continue; // answered after its timeout: nobody waits for it any more
      this.pending.delete(m.id);
      clearTimeout(p.timer);
      if (!m.ok) {
        p.reject(new PeerRemoteError(p.type, `peer ${this.where()}: ${m.error}`));
        continue;
      }
      const schema: z.ZodType = RESULT_VALUE_SCHEMAS[p.type];
      const r = schema.safeParse(m.value);
      if (r.success) p.resolve(r.data);
      else p.reject(new PeerRemoteError(p.type, `peer ${this.where()} answered ${p.type} with an invalid value: ${formatIssues(r.error)}`));
    }
  }

  private lose(reason: string): void {
    if (this.lost !== null || this.closedByUs) return;
    this.lost = reason;
    this.stopTimers();
    this.socket.destroy();
    this.failPending(new PeerLostError(reason));
    for (const cb of this.lostListeners) safely(() => cb(reason));
    this.lostListeners.clear();
  }

  private failPending(e: Error): void {
    for (const p of this.pending.values()) {
      clearTimeout(p.timer);
      p.reject(e);
    }
    this.pending.clear();
  }

  private stopTimers(): void {
    clearInterval(this.pingTimer);
    clearInterval(this.watchTimer);
  }
}

function safely(f: () => void): void {
  try {
    f();
  } catch {
    // A listener's bug must not break the client's bookkeeping.
  }
}

function connectError(where: string, e: ChannelError): PeerConnectError {
  switch (e.code) {
    case 'token-refused':
      return new PeerConnectError('token', `peer ${where} refused the token (both ends need the same --token, --token-file or PACKETLAB_TOKEN)`);
    case 'bad-mac':
      return new PeerConnectError('token', `peer ${where} does not know our token: ${e.message}`);
    case 'version':
      return new PeerConnectError('version', `peer ${where}: ${e.message}`);
    case 'refused':
      return new PeerConnectError('refused', `peer ${where} refused the connection: ${e.message}`);
    case 'malformed':
    case 'oversized':
      return new PeerConnectError('protocol', `${where} does not speak the peer agent's protocol (is it \`packetlab peer\`?): ${e.message}`);
    default:
      return new PeerConnectError('protocol', `peer ${where} broke the handshake: ${e.message}`);
  }
}
