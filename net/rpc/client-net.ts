// The RPC client on real sockets: a transport's client side (core/rpc/transports.ts) driven by the
// message driver on that transport's socket (net/rpc/transports/). Calls return promises; the lab's impairment links sit between the engine and the socket,
// as for every other packetlab run (forward on the way out, reverse on the way in).

// The module's object, not the global: globalThis.performance is a getter, run on every read.
import { performance } from 'node:perf_hooks';
import type { Endpoint } from '../../core/endpoint.js';
import type { Link } from '../../core/impair/link.js';
import { NO_IMPAIRMENT, type ImpairmentConfig } from '../../core/impair/config.js';
import { SELF } from '../driver-loop.js';
import type { UdpCaptureLinks } from '../../core/capture/runs.js';
import { MessageDriver, RpcLink } from './message-driver.js';
import type { SocketConfig } from '../../core/knobs.js';
import type { TransportConfig } from '../../core/transport/config.js';
import { deriveSeed } from '../../core/util/rng.js';
import { DEFAULT_RETRY_POLICY, RpcClientEngine, RpcStatus, type RetryPolicy, type RpcCall } from '../../core/rpc/client.js';
import type { Credential } from '../../core/rpc/message.js';
import { RPC_TRANSPORT_CONFIG } from '../../core/rpc/plt.js';
import type { CallOptions, ProcedureDescriptor, RpcCaller } from '../../core/rpc/program.js';
import { RPC_TRANSPORT, type RpcClientSide, type RpcTransportName } from '../../core/rpc/transports.js';
import { xdrVoid } from '../../core/rpc/xdr.js';
import { SOCKET_TRANSPORTS } from './transports/registry.js';

/** How to reach a server and how to call it. */
export interface RpcClientOptions {
  host: string;
  port: number;
  transport: RpcTransportName;
  policy?: RetryPolicy;
  credential?: Credential;
  /** Impairment of calls (client to server) and of replies (server to client). */
  forward?: ImpairmentConfig;
  reverse?: ImpairmentConfig;
  /** Seed of the XIDs, the impairment and the lab transport's numbers (default random). */
  seed?: number;
  /** Lab-transport knobs (transport plt). */
  plt?: Partial<TransportConfig>;
  /** Calls sent and unanswered at most; more wait (default 1024). */
  maxCallsInFlight?: number;
  socket?: Partial<SocketConfig>;
}

const RESOLVED = Promise.resolve();

/** A descriptor of procedure 0 (NULL) of any program and version: no arguments, no result. */
export function nullProcedure(program: number, version: number): ProcedureDescriptor<void, void> {
  return { program, version, procedure: 0, name: 'NULL', args: xdrVoid, result: xdrVoid };
}

/** An RPC client on a real socket. Use RpcClient.connect(). */
export class RpcClient implements RpcCaller {
  /** The RPC engine (counters, latency histograms, retry policy). */
  readonly engine: RpcClientEngine;
  /** Impairment links (change them live with reconfigure()). */
  readonly forward: Link;
  readonly reverse: Link;
  /** The transport in use. */
  readonly transport: RpcTransportName;
  private readonly driver: MessageDriver;
  private readonly channel: RpcChannel;
  // What the transport says, read once: call() asks on every call.
  private readonly callsAlone: boolean;
  private closed = false;

  private constructor(transport: RpcTransportName, ch: RpcChannel) {
    this.transport = transport;
    this.callsAlone = RPC_TRANSPORT[transport].callsAlone;
    this.channel = ch;
    this.engine = ch.engine;
    this.driver = ch.driver;
    this.forward = ch.forward;
    this.reverse = ch.reverse;
  }

  /** Opens a client to host:port over the chosen transport. */
  static async connect(o: RpcClientOptions): Promise<RpcClient> {
    let client: RpcClient | null = null;
    const ch = await openRpcChannel(o, (side) => side.endpoint, {
      onProgress: () => client?.settle(),
      onLost: (reason, status) => client?.connectionLost(reason, status),
    });
    client = new RpcClient(o.transport, ch);
    return client;
  }

  /** Calls a remote procedure. Rejects with RpcRemoteError or RpcTransportError (and throws XdrEncodeError on arguments that do not fit). */
  call<A, R>(proc: ProcedureDescriptor<A, R>, args: A, options?: CallOptions): Promise<R> {
    if (this.closed) return Promise.reject(new RangeError('call() on a closed RPC client'));
    const now = performance.now();
    const c = this.engine.call(now, proc as ProcedureDescriptor<unknown, unknown>, args, options?.timeoutMs);
    this.starting = c;
    const p = new Promise<R>(this.attach as (resolve: (v: R) => void, reject: (e: unknown) => void) => void);
    // Over UDP every call is a datagram of its own: it goes out now. On the stream transports,
    // calls made in one turn (a batch of continuations) go out together, right after it. A
    // reaction on a settled promise is the cheapest way into the microtask queue (queueMicrotask
    // makes an AsyncResource and a bound function every time).
    if (this.callsAlone) this.driver.kick(now);
    else if (!this.flushQueued) {
      this.flushQueued = true;
      void RESOLVED.then(this.flush);
    }
    return p;
  }

  // The executor of every call's promise: one function for all calls, not a closure per call.
  private starting: RpcCall | null = null;
  private readonly attach = (resolve: (v: unknown) => void, reject: (e: unknown) => void): void => {
    const c = this.starting!;
    this.starting = null;
    c.resolve = resolve;
    c.reject = reject;
  };

  /** Calls procedure 0 (NULL) of a program version: the RPC ping. */
  ping(program: number, version: number, options?: CallOptions): Promise<void> {
    let d = this.lastNull;
    if (d === null || d.program !== program || d.version !== version) d = this.lastNull = nullProcedure(program, version);
    return this.call(d, undefined, options);
  }

  private lastNull: ProcedureDescriptor<void, void> | null = null;

  /** Changes the impairment of one direction while calls run. */
  reconfigure(direction: 'forward' | 'reverse', changes: Partial<ImpairmentConfig>): void {
    (direction === 'forward' ? this.forward : this.reverse).reconfigure(changes);
  }

  /** Rejects pending calls with SHUTDOWN and closes the socket. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.channel.close(() => this.settle());
  }

  private connectionLost(reason: string, status: typeof RpcStatus.UNREACHABLE | typeof RpcStatus.SHUTDOWN = RpcStatus.SHUTDOWN): void {
    this.engine.failAll(performance.now(), status, `${reason} (${status === RpcStatus.UNREACHABLE ? 'unreachable' : 'shutdown'})`, RPC_TRANSPORT[this.transport].lossCloses);
    this.settle();
  }

  private flushQueued = false;

  private readonly flush = (): void => {
    this.flushQueued = false;
    this.driver.kick();
  };

  private settle(): void {
    for (let c: RpcCall | null = this.engine.pollCompleted(); c !== null; c = this.engine.pollCompleted()) {
      const resolve = c.resolve;
      const reject = c.reject;
      if (resolve === null || reject === null) continue;
      c.resolve = null;
      c.reject = null;
      if (c.status === RpcStatus.SUCCESS) resolve(c.result);
      else reject(c.error());
      this.engine.recycle(c);
    }
  }
}

/** What openRpcChannel wires: a client engine on a socket, with its driver and links. */
export interface RpcChannel {
  readonly engine: RpcClientEngine;
  readonly driver: MessageDriver;
  readonly forward: Link;
  readonly reverse: Link;
  /** Addresses and link ids of a datagram channel (udp, plt), for a capture; null over TCP (its links carry records, not datagrams). */
  readonly datagrams: UdpCaptureLinks | null;
  /** Fails pending calls (SHUTDOWN), lets `flush` see them, stops the driver and closes the socket. */
  close(flush?: () => void): Promise<void>;
}

/** Callbacks of a channel. */
export interface RpcChannelHooks {
  /** After every batch of driver work (completions are ready to be polled). */
  onProgress(): void;
  /** The connection or the path is gone: pending calls should fail with this status. */
  onLost(reason: string, status: typeof RpcStatus.UNREACHABLE | typeof RpcStatus.SHUTDOWN): void;
}

/**
 * Opens a socket to host:port for the transport and drives `wrap(side)` on it: the transport's
 * client side itself, or an application around it (a workload that keeps calls in flight).
 */
export async function openRpcChannel(o: RpcClientOptions, wrap: (side: RpcClientSide) => Endpoint, hooks: RpcChannelHooks): Promise<RpcChannel> {
  const seed = o.seed ?? (Math.random() * 2 ** 32) >>> 0;
  const forward = new RpcLink(o.forward ?? NO_IMPAIRMENT, deriveSeed(seed, 'forward'));
  const reverse = new RpcLink(o.reverse ?? NO_IMPAIRMENT, deriveSeed(seed, 'reverse'));
  const t = RPC_TRANSPORT[o.transport];
  const problems = [...t.impairmentProblems(forward.config, 'forward'), ...t.impairmentProblems(reverse.config, 'reverse')];
  if (problems.length > 0) throw new RangeError(problems[0]);
  const policy = o.policy ?? DEFAULT_RETRY_POLICY;
  const engine = { policy, credential: o.credential, rngSeed: deriveSeed(seed, 'xid'), maxCallsInFlight: o.maxCallsInFlight };
  const host = o.host === 'localhost' ? '127.0.0.1' : o.host;
  const conn = await SOCKET_TRANSPORTS[o.transport].connect({ host, port: o.port, socket: o.socket, onLost: (reason, status) => hooks.onLost(reason, status) });
  const side = t.client({ peer: conn.server, engine, seed, config: { ...RPC_TRANSPORT_CONFIG, ...o.plt } });
  const driver = new MessageDriver({
    socket: conn.socket,
    endpoint: wrap(side),
    stableOutput: side.stableOutput,
    peers: conn.peers,
    egress: forward,
    ingress: reverse,
    connectedPeer: conn.server,
    onSocketError: conn.onSocketError,
    onProgress: () => hooks.onProgress(),
  });
  driver.start();
  side.start(performance.now());
  driver.kick();
  return {
    engine: side.engine,
    driver,
    forward,
    reverse,
    datagrams: conn.self === null ? null : { self: conn.self, selfId: SELF, peer: { address: host, port: o.port }, peerId: conn.server, forward, reverse },
    close: async (flush) => {
      if (side.close(performance.now())) {
        driver.kick();
        // Let the goodbye (FIN) leave before the socket goes.
        await new Promise((r) => setTimeout(r, 5));
      }
      flush?.();
      driver.stop();
      await conn.close();
    },
  };
}
