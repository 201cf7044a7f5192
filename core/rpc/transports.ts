// The RPC transports: one registry entry per transport with what it is (its portmapper protocol
// number, whether it carries datagrams) and its sans-IO parts (the client engine, or the transport
// around it, and the server host around the server engine). Validation, help texts, the knobs, the
// peer protocol, the simulator and the I/O layer's socket transports (net/rpc/transports/) all
// derive from it, as Go's net/rpc takes any ClientCodec. A new transport is an entry here, a socket
// module in net/rpc/transports/ and its line in that folder's registry.

import type { Endpoint } from '../endpoint.js';
import { DEFAULT_LISTENER_CAPS, Listener, type ListenerCaps, type ListenerOptions } from '../listener.js';
import type { ListenerTransportDefaults } from '../apps/services.js';
import { IMPAIRMENT_STAGES, NO_IMPAIRMENT, type ImpairmentConfig } from '../impair/config.js';
import { IMPAIRMENT_KNOBS } from '../knobs.js';
import type { TransportConfig } from '../transport/config.js';
import { Rng, deriveSeed } from '../util/rng.js';
import { RpcClientEngine, RpcStatus, type RpcClientEngineOptions } from './client.js';
import { IPPROTO_TCP, IPPROTO_UDP } from './pmap.js';
import { PltRpcClient, rpcSessionFactory } from './plt.js';
import { UDP_REPLY_LIMITS, type DatagramReplyLimits, type RpcServerEngine } from './server.js';

/**
 * Protocol number under which lab-transport (plt) servers register with the lab binder: 254 is
 * reserved for experimentation (RFC 3692). rpcbind only knows TCP and UDP and refuses it.
 */
export const PLT_PROTOCOL = 254;

/** What a client side is built from. */
export interface RpcClientParts {
  /** The server's peer id (the destination of every datagram). */
  peer: number;
  engine: Omit<RpcClientEngineOptions, 'server' | 'retransmit'>;
  /** Seed of the transport's own numbers (connection id, initial sequence number). */
  seed: number;
  /** Knobs of the lab transport's connection. */
  config: TransportConfig;
}

/** The client side of a transport: what a driver or the simulator carries, and the engine in it. */
export interface RpcClientSide {
  /** The engine itself, or the transport around it. */
  readonly endpoint: Endpoint;
  readonly engine: RpcClientEngine;
  /** True when every datagram is a call's own bytes (a driver need not copy it); false when the transport reuses its buffer. */
  readonly stableOutput: boolean;
  /** Opens the transport (a handshake starts; calls made before it completes wait). */
  start(now: number): void;
  /** When the transport could first carry calls: its handshake done (0 for a transport without one), NaN before. */
  connectedAtMs(): number;
  /** Closes: pending calls fail with SHUTDOWN. True when it queued a goodbye (FIN) that should leave before the socket closes. */
  close(now: number): boolean;
}

/** What a server host is built from, beside its engine. */
export interface RpcServerHostParts {
  /** Seed of the listener's numbers. */
  seed: number;
  /** Caps of a listener (default: the listener's own). */
  caps?: ListenerCaps;
  /** Transport knobs a listener's sessions start from. */
  defaults?: ListenerTransportDefaults;
  /** The listener's view of addresses (per-address caps). */
  listener?: ListenerOptions;
  /** Told which peer a session's client key belongs to. */
  onSession?: (key: number, peer: number) => void;
}

/** One RPC transport. */
export interface RpcTransport {
  /** For help texts: "UDP", "TCP with record marking". */
  readonly label: string;
  /** The `prot` number a portmapper maps it under. */
  readonly protocol: number;
  /** rpcbind registers it (rpcbind knows only TCP and UDP). */
  readonly rpcbind: boolean;
  /** Carried in datagrams: the simulator runs it and a capture records its packets. */
  readonly datagrams: boolean;
  /** Each call leaves at once in a datagram of its own; otherwise the calls of one turn leave together. */
  readonly callsAlone: boolean;
  /** A lost connection is final: pending calls fail and later ones throw. */
  readonly lossCloses: boolean;
  /** Bounds of replies (a UDP reply must fit a datagram and not amplify), or null. */
  readonly replyLimits: DatagramReplyLimits | null;
  /** Impairments it cannot carry, one message per field. */
  impairmentProblems(c: ImpairmentConfig, direction: 'forward' | 'reverse'): string[];
  /** The client side, talking to `peer`. */
  client(o: RpcClientParts): RpcClientSide;
  /** What receives the transport's datagrams or records for a server engine: the engine itself, or a listener around it. */
  serverHost(engine: RpcServerEngine, o: RpcServerHostParts): Endpoint;
}

/** A client whose engine talks to the server directly, retransmitting itself over a datagram transport. */
function engineClient(o: RpcClientParts, retransmit: boolean): RpcClientSide {
  const engine = new RpcClientEngine({ ...o.engine, server: o.peer, retransmit });
  return {
    endpoint: engine,
    engine,
    stableOutput: true,
    start: () => {},
    connectedAtMs: () => 0,
    close: (now) => {
      engine.failAll(now, RpcStatus.SHUTDOWN, 'the client was closed (shutdown)', true);
      return false;
    },
  };
}

/** The impairment stages a stream transport cannot carry whole records through (IMPAIRMENT_STAGES), one message each. */
function streamImpairmentProblems(c: ImpairmentConfig, direction: 'forward' | 'reverse'): string[] {
  const out: string[] = [];
  const carried = IMPAIRMENT_STAGES.filter((s) => s.stream).map((s) => flagOf(s.key));
  for (const s of IMPAIRMENT_STAGES) {
    if (s.stream || c[s.key] === NO_IMPAIRMENT[s.key]) continue;
    out.push(`--${flagOf(s.key)}${direction === 'reverse' ? ' (reverse)' : ''} does not apply to --transport tcp: TCP neither loses, duplicates, reorders nor corrupts records; use ${orList(carried)}, or the udp or plt transport`);
  }
  return out;
}

/** The flag of an impairment knob. */
function flagOf(key: keyof ImpairmentConfig): string {
  return IMPAIRMENT_KNOBS.find((k) => k.key === key)!.flag;
}

const udp: RpcTransport = {
  label: 'UDP',
  protocol: IPPROTO_UDP,
  rpcbind: true,
  datagrams: true,
  callsAlone: true,
  lossCloses: false,
  replyLimits: UDP_REPLY_LIMITS,
  impairmentProblems: () => [],
  client: (o) => engineClient(o, true),
  serverHost: (engine) => engine,
};

const tcp: RpcTransport = {
  label: 'TCP with record marking',
  protocol: IPPROTO_TCP,
  rpcbind: true,
  datagrams: false,
  callsAlone: false,
  lossCloses: true,
  replyLimits: null,
  impairmentProblems: streamImpairmentProblems,
  client: (o) => engineClient(o, false),
  serverHost: (engine) => engine,
};

const plt: RpcTransport = {
  label: 'the lab transport',
  protocol: PLT_PROTOCOL,
  rpcbind: false,
  datagrams: true,
  callsAlone: false,
  lossCloses: false,
  replyLimits: null,
  impairmentProblems: () => [],
  client: (o) => {
    const rng = new Rng(deriveSeed(o.seed, 'plt'));
    const client = new PltRpcClient({ peer: o.peer, transport: o.config, connectionId: rng.uint32(), isn: rng.uint32(), engine: o.engine });
    return {
      endpoint: client,
      engine: client.engine,
      stableOutput: false,
      start: (now) => client.start(now),
      connectedAtMs: () => client.connectedAtMs,
      close: (now) => {
        client.close(now);
        return true;
      },
    };
  },
  serverHost: (engine, o) => rpcListener(engine, o),
};

/** The lab transport's server host: a listener whose sessions carry one client's calls each to `engine`. */
export function rpcListener(engine: RpcServerEngine, o: RpcServerHostParts): Listener {
  return new Listener(o.caps ?? DEFAULT_LISTENER_CAPS, rpcSessionFactory(engine, o.defaults, o.onSession), o.seed, o.listener);
}

/** Every RPC transport, by name. */
export const RPC_TRANSPORT = { udp, tcp, plt } as const satisfies Record<string, RpcTransport>;

/** The name of a transport. */
export type RpcTransportName = keyof typeof RPC_TRANSPORT;

/** The transports' names, in the order help texts list them. */
export const RPC_TRANSPORTS = Object.keys(RPC_TRANSPORT) as readonly RpcTransportName[] as readonly [RpcTransportName, ...RpcTransportName[]];

/** True for a transport's name. */
export function isRpcTransport(name: unknown): name is RpcTransportName {
  return typeof name === 'string' && Object.hasOwn(RPC_TRANSPORT, name);
}

/** The transport a portmapper protocol number stands for, or null for one the lab does not speak. */
export function transportOfProtocol(prot: number): RpcTransportName | null {
  for (const name of RPC_TRANSPORTS) if (RPC_TRANSPORT[name].protocol === prot) return name;
  return null;
}

/** A list of names as help texts say it: "udp, tcp or plt". */
export function orList(names: readonly string[]): string {
  return names.length <= 1 ? names.join('') : `${names.slice(0, -1).join(', ')} or ${names.at(-1)}`;
}

/** The transports the simulator carries. */
export const SIM_RPC_TRANSPORTS = RPC_TRANSPORTS.filter((t) => RPC_TRANSPORT[t].datagrams);

/** What is wrong with running `name` (empty when it is fine): an unknown name, the simulator with a stream transport, impairments it cannot carry. */
export function rpcTransportProblems(name: unknown, net: 'sim' | 'udp', forward: ImpairmentConfig, reverse: ImpairmentConfig): string[] {
  if (!isRpcTransport(name)) return [`transport must be ${orList(RPC_TRANSPORTS)} (got ${String(name)})`];
  const t = RPC_TRANSPORT[name];
  const out = net === 'sim' && !t.datagrams ? [`transport ${name} needs real sockets: the simulator carries datagrams (use ${orList(SIM_RPC_TRANSPORTS)})`] : [];
  return [...out, ...t.impairmentProblems(forward, 'forward'), ...t.impairmentProblems(reverse, 'reverse')];
}
