// The RPC client on real sockets: the client engine (or the lab-transport client) driven by the
// UDP driver, over a UDP socket, a TCP connection with record marking, or the lab transport on
// UDP. Calls return promises; the lab's impairment links sit between the engine and the socket,
// as for every other packetlab run (forward on the way out, reverse on the way in).

import { isIPv6 } from 'node:net';
// The module's object, not the global: globalThis.performance is a getter, run on every read.
import { performance } from 'node:perf_hooks';
import type { Endpoint } from '../../core/endpoint.js';
import type { Link } from '../../core/impair/link.js';
import { NO_IMPAIRMENT, type ImpairmentConfig } from '../../core/impair/config.js';
import { PeerTable } from '../udp/driver.js';
import { SELF, type MessageSocket } from '../driver-loop.js';
import type { UdpCaptureLinks } from '../../core/capture/runs.js';
import { MessageDriver, RpcLink } from './message-driver.js';
import { bindUdp, connectUdp } from '../udp/listener-server.js';
import type { SocketConfig } from '../../core/knobs.js';
import type { TransportConfig } from '../../core/transport/config.js';
import { Rng, deriveSeed } from '../../core/util/rng.js';
import { DEFAULT_RETRY_POLICY, RpcClientEngine, RpcStatus, type RetryPolicy, type RpcCall } from '../../core/rpc/client.js';
import type { Credential } from '../../core/rpc/message.js';
import { PltRpcClient, RPC_TRANSPORT_CONFIG } from '../../core/rpc/plt.js';
import type { CallOptions, ProcedureDescriptor, RpcCaller } from '../../core/rpc/program.js';
import { connectRecords, type RecordStreamSocket } from './tcp.js';
import { xdrVoid } from '../../core/rpc/xdr.js';

import type { RpcTransportName } from '../../core/rpc/transports.js';

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

/** Impairments a stream transport can apply to whole records without breaking its ordering. */
export function streamImpairmentProblems(c: ImpairmentConfig, direction: string): string[] {
  const out: string[] = [];
  const n = NO_IMPAIRMENT;
  const check = (k: keyof ImpairmentConfig, flag: string) => {
    if (c[k] !== n[k]) out.push(`${flag}${direction === 'reverse' ? ' (reverse)' : ''} does not apply to --transport tcp: TCP neither loses, duplicates, reorders nor corrupts records; use delay, jitter or link-rate, or the udp or plt transport`);
  };
  check('lossProbability', '--loss');
  check('burstEnterProbability', '--burst-p');
  check('duplicateProbability', '--duplicate');
  check('reorderProbability', '--reorder');
  check('corruptProbability', '--corrupt');
  check('mtuBytes', '--mtu');
  return out;
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
  private closed = false;

  private constructor(transport: RpcTransportName, ch: RpcChannel) {
    this.transport = transport;
    this.channel = ch;
    this.engine = ch.engine;
    this.driver = ch.driver;
    this.forward = ch.forward;
    this.reverse = ch.reverse;
  }

  /** Opens a client to host:port over the chosen transport. */
  static async connect(o: RpcClientOptions): Promise<RpcClient> {
    let client: RpcClient | null = null;
    const ch = await openRpcChannel(o, (e) => e, {
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
    if (this.transport === 'udp') this.driver.kick(now);
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
    this.engine.failAll(performance.now(), status, `${reason} (${status === RpcStatus.UNREACHABLE ? 'unreachable' : 'shutdown'})`, this.transport === 'tcp');
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
 * Opens a socket to host:port for the transport and drives `wrap(engineEndpoint)` on it: the
 * engine itself, or an application around it (a workload that keeps calls in flight).
 */
export async function openRpcChannel(o: RpcClientOptions, wrap: (inner: Endpoint) => Endpoint, hooks: RpcChannelHooks): Promise<RpcChannel> {
  const seed = o.seed ?? (Math.random() * 2 ** 32) >>> 0;
  const forward = new RpcLink(o.forward ?? NO_IMPAIRMENT, deriveSeed(seed, 'forward'));
  const reverse = new RpcLink(o.reverse ?? NO_IMPAIRMENT, deriveSeed(seed, 'reverse'));
  const policy = o.policy ?? DEFAULT_RETRY_POLICY;
  const engineOpts = { policy, credential: o.credential, rngSeed: deriveSeed(seed, 'xid'), maxCallsInFlight: o.maxCallsInFlight };
  const host = o.host === 'localhost' ? '127.0.0.1' : o.host;
  if (o.transport === 'tcp') {
    const problems = [...streamImpairmentProblems(forward.config, 'forward'), ...streamImpairmentProblems(reverse.config, 'reverse')];
    if (problems.length > 0) throw new RangeError(problems[0]);
    const rs: RecordStreamSocket = await connectRecords(host, o.port, { onClose: (_a, _p, reason) => hooks.onLost(reason, RpcStatus.SHUTDOWN) });
    const peers = new PeerTable({ maxPeers: 4 });
    const remote = rs.remote()!;
    const server = peers.idOf(remote.address, remote.port);
    const engine = new RpcClientEngine({ ...engineOpts, server, retransmit: false });
    const driver = new MessageDriver({ socket: rs, endpoint: wrap(engine), peers, egress: forward, ingress: reverse, connectedPeer: server, stableOutput: true, onProgress: () => hooks.onProgress() });
    driver.start();
    return {
      engine,
      driver,
      forward,
      reverse,
      datagrams: null,
      close: async (flush) => {
        engine.failAll(performance.now(), RpcStatus.SHUTDOWN, 'the client was closed (shutdown)', true);
        flush?.();
        driver.stop();
        await new Promise<void>((r) => rs.close(() => r()));
      },
    };
  }
  const socket = await bindUdp(isIPv6(host) ? '::' : host.startsWith('127.') ? '127.0.0.1' : '0.0.0.0', 0, o.socket);
  try {
    await connectUdp(socket, host, o.port);
  } catch (e) {
    socket.close();
    throw e;
  }
  const peers = new PeerTable({ maxPeers: 4 });
  const server = peers.idOf(host, o.port);
  let engine: RpcClientEngine;
  let plt: PltRpcClient | null = null;
  if (o.transport === 'plt') {
    const rng = new Rng(deriveSeed(seed, 'plt'));
    plt = new PltRpcClient({ peer: server, transport: { ...RPC_TRANSPORT_CONFIG, ...o.plt }, connectionId: rng.uint32(), isn: rng.uint32(), engine: engineOpts });
    engine = plt.engine;
  } else {
    engine = new RpcClientEngine({ ...engineOpts, server, retransmit: true });
  }
  const driver = new MessageDriver({
    socket: socket as unknown as MessageSocket,
    endpoint: wrap(plt ?? engine),
    // The engine's datagrams are its calls' own bytes; the lab transport reuses its buffer.
    stableOutput: plt === null,
    peers,
    egress: forward,
    ingress: reverse,
    connectedPeer: server,
    onSocketError: (err) => {
      // ICMP port unreachable on the connected socket, as clnt_dg reports RPC_CANTRECV.
      if (err.code === 'ECONNREFUSED') hooks.onLost(`nothing listens on UDP ${host}:${o.port} (ICMP port unreachable)`, RpcStatus.UNREACHABLE);
    },
    onProgress: () => hooks.onProgress(),
  });
  driver.start();
  if (plt !== null) {
    plt.start(performance.now());
    driver.kick();
  }
  const own = socket.address();
  return {
    engine,
    driver,
    forward,
    reverse,
    datagrams: { self: { address: own.address, port: own.port }, selfId: SELF, peer: { address: host, port: o.port }, peerId: server, forward, reverse },
    close: async (flush) => {
      const now = performance.now();
      if (plt !== null) {
        plt.close(now);
        driver.kick();
        // Let the FIN leave before the socket goes.
        await new Promise((r) => setTimeout(r, 5));
      } else {
        engine.failAll(now, RpcStatus.SHUTDOWN, 'the client was closed (shutdown)', true);
      }
      flush?.();
      driver.stop();
      await new Promise<void>((r) => socket.close(() => r()));
    },
  };
}
