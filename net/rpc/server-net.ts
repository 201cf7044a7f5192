// The RPC server on real sockets: one server engine per transport, all serving the same program
// tables (and so the same handler state), each on the sockets of its transport
// (net/rpc/transports/). Servers bind to loopback unless given another address.

import type { Listener, ListenerCaps } from '../../core/listener.js';
import type { SocketConfig } from '../../core/knobs.js';
import { DEFAULT_DRC_CONFIG, type DrcConfig } from '../../core/rpc/drc.js';
import type { ListenerTransportDefaults } from '../../core/apps/services.js';
import type { RpcProgramVersion } from '../../core/rpc/program.js';
import { RpcServerCounters, RpcServerEngine } from '../../core/rpc/server.js';
import { RPC_TRANSPORT, RPC_TRANSPORTS, type RpcTransportName } from '../../core/rpc/transports.js';
import { deriveSeed } from '../../core/util/rng.js';
import type { RecordSocketCounters, TcpServerLimits } from './tcp.js';
import { SOCKET_TRANSPORTS } from './transports/registry.js';
import type { ServedTransport } from './transports/socket-transport.js';

/** The transports a server serves by default: UDP and TCP, on the same port number when it is free. */
export const DEFAULT_RPC_PORTS: Readonly<Partial<Record<RpcTransportName, number>>> = Object.freeze({ udp: 0, tcp: 0 });

/** Where and what a server serves. */
export interface RpcServerOptions {
  /** Address to bind (default 127.0.0.1: loopback only). */
  host?: string;
  /**
   * The port of each transport served (0 picks one; TCP's 0 takes the UDP port's number when it is
   * free); a transport absent is not served. Default DEFAULT_RPC_PORTS.
   */
  ports?: Partial<Record<RpcTransportName, number>>;
  programs: readonly RpcProgramVersion[];
  drc?: DrcConfig;
  /** Credential flavors accepted (default AUTH_NONE and AUTH_SYS). */
  authFlavors?: readonly number[];
  /** Largest TCP record or lab-transport message accepted (default 1 MiB). */
  maxRecordBytes?: number;
  /** Bounds of the TCP connections (DEFAULT_TCP_SERVER_LIMITS where absent). */
  tcpLimits?: Partial<TcpServerLimits>;
  /** Caps of the lab-transport listener (default: the listener's, with 256 sessions and 16 per address). */
  pltCaps?: ListenerCaps;
  /** Peers the UDP and lab-transport sockets know at once (least recently used are recycled; default 16384). */
  maxPeers?: number;
  pltDefaults?: ListenerTransportDefaults;
  socket?: Partial<SocketConfig>;
  seed?: number;
  /** Serve only this IP address (a peer agent's client): other hosts' datagrams and connections are dropped and counted. */
  onlyHost?: string;
}

/** A running RPC server. */
export class RpcServer {
  /** The bound address. */
  readonly host: string;
  private readonly served: Map<RpcTransportName, ServedTransport>;

  private constructor(host: string, served: Map<RpcTransportName, ServedTransport>) {
    this.host = host;
    this.served = served;
  }

  /** Binds the sockets and starts serving. */
  static async start(o: RpcServerOptions): Promise<RpcServer> {
    const host = o.host ?? '127.0.0.1';
    const drc = o.drc ?? DEFAULT_DRC_CONFIG;
    const ports = o.ports ?? DEFAULT_RPC_PORTS;
    const served = new Map<RpcTransportName, ServedTransport>();
    const bound = new Map<RpcTransportName, number>();
    try {
      for (const name of RPC_TRANSPORTS) {
        const port = ports[name];
        if (port === undefined) continue;
        const t = await SOCKET_TRANSPORTS[name].serve({
          host,
          port,
          bound,
          engine: (peerAddress) => new RpcServerEngine({ programs: o.programs, drc, authFlavors: o.authFlavors, peerAddress, datagramReplies: RPC_TRANSPORT[name].replyLimits }),
          listener: { seed: deriveSeed(o.seed ?? 1, 'rpc-listener'), caps: o.pltCaps, defaults: o.pltDefaults },
          socket: o.socket,
          maxPeers: o.maxPeers ?? 16384,
          onlyHost: o.onlyHost,
          maxRecordBytes: o.maxRecordBytes,
          tcpLimits: o.tcpLimits,
        });
        served.set(name, t);
        bound.set(name, t.port);
      }
    } catch (e) {
      for (const t of [...served.values()].reverse()) await t.close();
      throw e;
    }
    return new RpcServer(host, served);
  }

  /** The port a transport is served on, or null when it is not served. */
  port(t: RpcTransportName): number | null {
    return this.served.get(t)?.port ?? null;
  }

  /** The engine of a transport, or null when it is not served. */
  engine(t: RpcTransportName): RpcServerEngine | null {
    return this.served.get(t)?.engine ?? null;
  }

  /** The port of every transport, null for those not served. */
  ports(): Record<RpcTransportName, number | null> {
    const out = {} as Record<RpcTransportName, number | null>;
    for (const name of RPC_TRANSPORTS) out[name] = this.port(name);
    return out;
  }

  /** The transports served, in registry order. */
  transports(): RpcTransportName[] {
    return [...this.served.keys()];
  }

  /** Datagrams and TCP connections from hosts other than `onlyHost`, dropped. */
  foreignDrops(): number {
    let n = 0;
    for (const t of this.served.values()) n += t.foreignDrops();
    return n;
  }

  /** Counters of the TCP connections (refusals, timeouts, framing errors), when a record transport is served. */
  get tcpRecords(): RecordSocketCounters | null {
    for (const t of this.served.values()) if (t.records !== null) return t.records;
    return null;
  }

  /** The listener of the transport with sessions (the lab transport), when it is served. */
  get listener(): Listener | null {
    for (const t of this.served.values()) if (t.listener !== null) return t.listener;
    return null;
  }

  /** The engines that run. */
  engines(): RpcServerEngine[] {
    return [...this.served.values()].map((t) => t.engine);
  }

  /** Counters of all transports, summed. */
  counters(): RpcServerCounters {
    const sum = new RpcServerCounters();
    for (const e of this.engines()) for (const k of Object.keys(sum) as (keyof RpcServerCounters)[]) sum[k] += e.counters[k];
    return sum;
  }

  /** Switches the duplicate request cache of every transport (on/off, bounds). */
  configureDrc(c: DrcConfig): void {
    for (const e of this.engines()) e.configureDrc(c);
  }

  /** Stops serving and closes the sockets. */
  async close(): Promise<void> {
    const open = [...this.served.values()].reverse();
    this.served.clear();
    for (const t of open) await t.close();
  }
}
