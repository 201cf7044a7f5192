// The RPC server on real sockets: one server engine per transport, all serving the same program
// tables (and so the same handler state): UDP on a dgram socket, TCP with record marking, and the
// lab transport through a Listener. Servers bind to loopback unless given another address.

import { Listener, DEFAULT_LISTENER_CAPS, type ListenerCaps } from '../../core/listener.js';
import { MessageDriver } from './message-driver.js';
import type { MessageSocket } from '../driver-loop.js';
import { bindUdp, hostOf } from '../udp/listener-server.js';
import { RecyclingPeerTable } from '../udp/recycling-peers.js';
import type { SocketConfig } from '../../core/knobs.js';
import { deriveSeed } from '../../core/util/rng.js';
import { DEFAULT_DRC_CONFIG, type DrcConfig } from '../../core/rpc/drc.js';
import { rpcSessionFactory } from '../../core/rpc/plt.js';
import type { ListenerTransportDefaults } from '../../core/apps/services.js';
import type { RpcProgramVersion } from '../../core/rpc/program.js';
import { RpcServerCounters, RpcServerEngine, UDP_REPLY_LIMITS } from '../../core/rpc/server.js';
import { listenRecords, type RecordServer, type RecordSocketCounters, type TcpServerLimits } from './tcp.js';

/** Where and what a server serves. */
export interface RpcServerOptions {
  /** Address to bind (default 127.0.0.1: loopback only). */
  host?: string;
  /** UDP port (0 picks one; null: no UDP). Default 0. */
  udpPort?: number | null;
  /** TCP port (0: the UDP port's number when free, else any; null: no TCP). Default 0. */
  tcpPort?: number | null;
  /** Lab-transport port (0 picks one; null: none). Default null. */
  pltPort?: number | null;
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
  /** Engines by transport (absent when the transport is off). */
  readonly udp: RpcServerEngine | null;
  readonly tcp: RpcServerEngine | null;
  readonly plt: RpcServerEngine | null;
  /** Ports, or null when the transport is off. */
  readonly udpPort: number | null;
  readonly tcpPort: number | null;
  readonly pltPort: number | null;
  /** The bound address. */
  readonly host: string;
  /** The lab-transport listener, when there is one. */
  readonly listener: Listener | null;
  private readonly closers: (() => Promise<void>)[];
  /** Datagrams and TCP connections from hosts other than `onlyHost`, dropped. */
  readonly foreignDrops: () => number;
  /** Counters of the TCP connections (refusals, timeouts, framing errors), when TCP is served. */
  readonly tcpRecords: RecordSocketCounters | null;

  private constructor(parts: {
    host: string;
    udp: RpcServerEngine | null;
    tcp: RpcServerEngine | null;
    plt: RpcServerEngine | null;
    udpPort: number | null;
    tcpPort: number | null;
    pltPort: number | null;
    listener: Listener | null;
    closers: (() => Promise<void>)[];
    foreignDrops: () => number;
    tcpRecords: RecordSocketCounters | null;
  }) {
    this.foreignDrops = parts.foreignDrops;
    this.tcpRecords = parts.tcpRecords;
    this.host = parts.host;
    this.udp = parts.udp;
    this.tcp = parts.tcp;
    this.plt = parts.plt;
    this.udpPort = parts.udpPort;
    this.tcpPort = parts.tcpPort;
    this.pltPort = parts.pltPort;
    this.listener = parts.listener;
    this.closers = parts.closers;
  }

  /** Binds the sockets and starts serving. */
  static async start(o: RpcServerOptions): Promise<RpcServer> {
    const host = o.host ?? '127.0.0.1';
    const drc = o.drc ?? DEFAULT_DRC_CONFIG;
    const closers: (() => Promise<void>)[] = [];
    const fail = async (e: unknown): Promise<never> => {
      for (const c of closers.reverse()) await c();
      throw e;
    };
    let udp: RpcServerEngine | null = null;
    let tcp: RpcServerEngine | null = null;
    let plt: RpcServerEngine | null = null;
    let udpPort: number | null = null;
    let tcpPort: number | null = null;
    let pltPort: number | null = null;
    let listener: Listener | null = null;
    const tables: { foreignDrops: number }[] = [];
    let tcpCounters: RecordSocketCounters | null = null;
    try {
      if (o.udpPort !== null) {
        const socket = await bindUdp(host, o.udpPort ?? 0, o.socket);
        udpPort = socket.address().port;
        const peers = new RecyclingPeerTable({ onlyHost: o.onlyHost, maxPeers: o.maxPeers ?? 16384 });
        tables.push(peers);
        const engine = new RpcServerEngine({ programs: o.programs, drc, authFlavors: o.authFlavors, peerAddress: (id) => addressText(peers.address(id)), datagramReplies: UDP_REPLY_LIMITS });
        const driver = new MessageDriver({ socket: socket as unknown as MessageSocket, endpoint: engine, peers, stableOutput: true });
        engine.onWake = () => driver.kick();
        driver.start();
        udp = engine;
        closers.push(() => new Promise((r) => (driver.stop(), socket.close(() => r()))));
      }
      if (o.tcpPort !== null) {
        const peers = new RecyclingPeerTable({ maxPeers: o.maxPeers ?? 16384 });
        const common = { peers, maxRecordBytes: o.maxRecordBytes, limits: o.tcpLimits, onlyHost: o.onlyHost };
        let rs: RecordServer;
        const wanted = o.tcpPort ?? 0;
        if (wanted === 0 && udpPort !== null) {
          // Same number as the UDP port when it is free, as users expect of one RPC server.
          rs = await listenRecords(host, udpPort, common).catch(() => listenRecords(host, 0, common));
        } else {
          rs = await listenRecords(host, wanted, common);
        }
        tcpPort = rs.port;
        tcpCounters = rs.socket.counters;
        const engine = new RpcServerEngine({ programs: o.programs, drc, authFlavors: o.authFlavors, peerAddress: (id) => addressText(peers.address(id)) });
        const driver = new MessageDriver({ socket: rs.socket, endpoint: engine, peers, stableOutput: true });
        engine.onWake = () => driver.kick();
        driver.start();
        tcp = engine;
        closers.push(() => (driver.stop(), rs.close()));
      }
      if (o.pltPort !== undefined && o.pltPort !== null) {
        const socket = await bindUdp(host, o.pltPort, o.socket);
        pltPort = socket.address().port;
        // The listener's own peer table: ids of peers with an open session are never recycled
        // (the listener knows its sessions by peer id, so a recycled id would send one caller's
        // replies to another address), and the listener counts sessions per IP, not per port.
        const peers = new RecyclingPeerTable({ onlyHost: o.onlyHost, maxPeers: o.maxPeers ?? 16384 });
        tables.push(peers);
        const sessionPeer = new Map<number, number>();
        const engine = new RpcServerEngine({ programs: o.programs, drc, authFlavors: o.authFlavors, peerAddress: (key) => addressText(peers.address(sessionPeer.get(key) ?? -1)) });
        const l = new Listener(o.pltCaps ?? { ...DEFAULT_LISTENER_CAPS, maxSessions: 256, maxSessionsPerAddress: 16 }, rpcSessionFactory(engine, o.pltDefaults, (key, peer) => sessionPeer.set(key, peer)), deriveSeed(o.seed ?? 1, 'rpc-listener'), { addressOf: (id) => hostOf(peers, id) });
        peers.setBusy((id) => l.hasSession(id));
        const driver = new MessageDriver({
          socket: socket as unknown as MessageSocket,
          endpoint: l,
          peers,
          onProgress: () => {
            for (let e = l.pollEvent(); e !== null; e = l.pollEvent()) {
              if (e.type === 'session-closed') {
                for (const [k, p] of sessionPeer) if (p === e.peer && (e.session as { clientKey?: number }).clientKey === k) sessionPeer.delete(k);
              }
            }
          },
        });
        engine.onWake = () => driver.kick();
        driver.start();
        plt = engine;
        listener = l;
        closers.push(() => new Promise((r) => (driver.stop(), socket.close(() => r()))));
      }
    } catch (e) {
      return fail(e);
    }
    const foreignDrops = () => tables.reduce((n, t) => n + t.foreignDrops, 0) + (tcpCounters?.foreignConnections ?? 0);
    return new RpcServer({ host, udp, tcp, plt, udpPort, tcpPort, pltPort, listener, closers, foreignDrops, tcpRecords: tcpCounters });
  }

  /** The engines that run. */
  engines(): RpcServerEngine[] {
    return [this.udp, this.tcp, this.plt].filter((e): e is RpcServerEngine => e !== null);
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
    for (const c of this.closers.splice(0).reverse()) await c();
  }
}

function addressText(a: { address: string; port: number } | undefined): string | null {
  if (a === undefined) return null;
  return a.address.includes(':') ? `[${a.address}]:${a.port}` : `${a.address}:${a.port}`;
}
