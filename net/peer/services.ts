// The services a peer agent runs for a client: a packetlab listener (the far end of reliable
// transfers and UDP streams), an RPC server with the counter program, and a UDP echo. The
// listener and the echo take datagrams from the controlling client's IP address only; the others
// are dropped before any state is kept (not even a peer table entry), so a third host on the LAN
// can neither use a client's services nor make them send anything.

import type { Socket } from 'node:dgram';
import { Listener, type Session } from '../../core/listener.js';
import { labSessionFactory, type ListenerTransportDefaults } from '../../core/apps/services.js';
import { BulkReceiver } from '../../core/apps/bulk.js';
import { StreamReceiver } from '../../core/stream/receiver.js';
import { UdpDriver } from '../udp/driver.js';
import { RecyclingPeerTable } from '../udp/recycling-peers.js';
import { MAX_QUEUED_SENDS } from '../udp/held-sends.js';
import { bindUdp, hostOf, reconfigureSession, withStreamDrops } from '../udp/listener-server.js';
import { udpSocketDrops } from '../udp/procnet.js';
import { RpcServer } from '../rpc/server-net.js';
import { PortmapRegistry, portmapProgram, protocolNumber } from '../../core/rpc/portmap.js';
import { RPC_TRANSPORT, RPC_TRANSPORTS, type RpcTransportName } from '../../core/rpc/transports.js';
import { DEFAULT_DRC_CONFIG, type DrcConfig } from '../../core/rpc/drc.js';
import type { SocketConfig } from '../../core/knobs.js';
import type { ReceiverChanges } from '../../core/transport/config.js';
import { CounterService } from '../../core/rpc/programs/counter-server.js';
import { COUNTER_PROG, COUNTER_V1 } from '../../core/rpc/programs/counter.js';
import { EchoEngine } from '../../core/peer/echo.js';
import { agentListenerCaps, type AgentListenerGuards, type EffectiveListenerLimits } from '../../core/peer/caps.js';
import type { DrcRequest, PeerSessionStats, ServiceEvent, ServiceStats } from '../../core/peer/messages.js';
import { plainAddress } from '../../core/util/address.js';
import { KvService } from '../../core/rpc/programs/kv-server.js';

/** A service event without the fields the agent fills in. */
export type ServiceEventBody = Omit<ServiceEvent, 'type' | 'service'>;

/** A running service. */
export interface AgentService {
  readonly id: number;
  readonly kind: 'listener' | 'rpc' | 'echo';
  /** Its counters now. */
  stats(): ServiceStats;
  /** Stops it (idempotent) and returns its final counters; `reason` shows in `ended`. */
  stop(reason: string): Promise<ServiceStats>;
  /** A listener's: changes receiver-side knobs of an open reliable session; returns why not, or null. */
  configureSession?(connectionId: number, changes: ReceiverChanges): string | null;
}

/** What the stats of every kind of service begin with. */
type CommonStats = Pick<ServiceStats, 'service' | 'uptimeMs' | 'ended'>;

/**
 * The stats and stop of a service: its stats as they are until it stops; stopping (once) takes
 * the last ones, with the reason in `ended`, then closes it, and those are its stats from then on.
 */
function serviceLifecycle(id: number, statsOf: (common: CommonStats) => ServiceStats, close: () => Promise<void>): Pick<AgentService, 'stats' | 'stop'> {
  const startedAt = performance.now();
  const snapshot = (ended: string | null) => statsOf({ service: id, uptimeMs: performance.now() - startedAt, ended });
  let final: ServiceStats | null = null;
  return {
    stats: () => final ?? snapshot(null),
    stop: async (reason) => {
      if (final !== null) return final;
      final = snapshot(reason);
      await close();
      return final;
    },
  };
}

/** IP:port, with brackets around IPv6. */
export function addressPort(address: string, port: number): string {
  const a = plainAddress(address);
  return a.includes(':') ? `[${a}]:${port}` : `${a}:${port}`;
}

/** Counters as plain numbers (NaN and infinities travel as null). */
function plainCounters(o: object): Record<string, number | null> {
  const out: Record<string, number | null> = {};
  for (const [k, v] of Object.entries(o)) if (typeof v === 'number') out[k] = Number.isFinite(v) ? v : null;
  return out;
}

function finiteOrNull(v: number): number | null {
  return Number.isFinite(v) ? v : null;
}

/** Service events at most per second; a client that floods its own listener with refused SYNs does not flood its control channel. */
const MAX_EVENTS_PER_SECOND = 50;

function eventLimiter(send: (e: ServiceEventBody) => void): (e: ServiceEventBody) => void {
  let windowStart = 0;
  let count = 0;
  return (e) => {
    const now = performance.now();
    if (now - windowStart >= 1000) {
      windowStart = now;
      count = 0;
    }
    if (++count <= MAX_EVENTS_PER_SECOND) send(e);
  };
}

/** Closed sessions a listener keeps counters of (with the open ones, they make its stats). */
const CLOSED_SESSIONS_KEPT = 8;

/** What a listener service needs. */
export interface ListenerServiceOptions {
  id: number;
  /** Address to bind (the agent's). */
  host: string;
  /** The controlling client's IP, as plainAddress writes it (the agent's clientIp): the only source served. */
  clientAddress: string;
  limits: EffectiveListenerLimits;
  /** The agent's timeouts and report floor. */
  guards: AgentListenerGuards;
  transport: ListenerTransportDefaults;
  socket: Partial<SocketConfig>;
  seed: number;
  onEvent: (e: ServiceEventBody) => void;
}

/** Starts a packetlab listener for one client on a free UDP port. */
export async function startListenerService(o: ListenerServiceOptions): Promise<AgentService & { readonly udpPort: number }> {
  const socket = await bindUdp(o.host, 0, o.socket);
  const udpPort = socket.address().port;
  const dropsAtStart = udpSocketDrops(udpPort);
  const kernelDrops = () => udpSocketDrops(udpPort) - dropsAtStart;
  const peers = new RecyclingPeerTable({ onlyHost: o.clientAddress });
  const factory = withStreamDrops(labSessionFactory(o.transport), kernelDrops);
  const caps = agentListenerCaps(o.limits, o.guards);
  const listener = new Listener(caps, factory, o.seed, { addressOf: (id) => hostOf(peers, id) });
  peers.setBusy((id) => listener.hasSession(id));
  const open = new Map<number, { session: Session; peer: string | null }>();
  const closed: PeerSessionStats[] = [];
  const emit = eventLimiter(o.onEvent);
  const peerText = (id: number) => {
    const a = peers.address(id);
    return a === undefined ? null : addressPort(a.address, a.port);
  };
  const driver = new UdpDriver({
    socket,
    endpoint: listener,
    peers,
    onProgress: () => {
      for (let e = listener.pollEvent(); e !== null; e = listener.pollEvent()) {
        const peer = peerText(e.peer);
        if (e.type === 'session-opened') {
          open.set(e.connectionId, { session: e.session, peer });
          emit({ name: 'session-opened', peer, connectionId: e.connectionId, reason: e.note });
        } else if (e.type === 'session-closed') {
          open.delete(e.connectionId);
          closed.push(sessionStats(e.session, e.connectionId, peer));
          if (closed.length > CLOSED_SESSIONS_KEPT) closed.shift();
          emit({ name: 'session-closed', peer, connectionId: e.connectionId, reason: sessionFailure(e.session) });
        } else {
          emit({ name: 'session-refused', peer, connectionId: null, reason: e.reason.slice(0, 1024) });
        }
      }
    },
  });
  driver.start();
  const lifecycle = serviceLifecycle(
    o.id,
    (common): ServiceStats => ({
      kind: 'listener',
      ...common,
      kernelDrops: finiteOrNull(kernelDrops()),
      foreignDrops: peers.foreignDrops,
      udpPort,
      listener: plainCounters(listener.counters),
      sessions: [...closed, ...[...open].map(([id, s]) => sessionStats(s.session, id, s.peer))],
    }),
    async () => {
      driver.stop();
      await new Promise<void>((r) => socket.close(() => r()));
    },
  );
  return {
    id: o.id,
    kind: 'listener',
    udpPort,
    ...lifecycle,
    configureSession: (connectionId, changes) => reconfigureSession(connectionId, open.get(connectionId)?.session, changes, caps, driver),
  };
}

function sessionStats(session: Session, connectionId: number, peer: string | null): PeerSessionStats {
  if (session instanceof BulkReceiver) {
    return { connectionId, kind: 'reliable', counters: plainCounters(session.conn.counters), rcvBufferedBytes: session.conn.rcvBufferedBytes, finished: session.finished, peer };
  }
  const counters = session instanceof StreamReceiver ? { ...plainCounters(session.counters), kernelDrops: finiteOrNull(session.kernelDrops()) } : {};
  return { connectionId, kind: 'stream', counters, rcvBufferedBytes: 0, finished: session.finished, peer };
}

function sessionFailure(session: Session): string | null {
  if (session instanceof BulkReceiver) return session.conn.failureReason;
  if (session instanceof StreamReceiver) return session.failure;
  return null;
}

/** What an RPC service needs. */
export interface RpcServiceOptions {
  id: number;
  host: string;
  /** The controlling client's IP, as plainAddress writes it (the agent's clientIp): the only source served. */
  clientAddress: string;
  transports: readonly RpcTransportName[];
  /** The port of each transport (absent: any). */
  ports?: Partial<Record<RpcTransportName, number>>;
  drc: DrcRequest;
  maxRecordBytes: number;
  /** Lab-transport sessions at once. */
  maxSessions: number;
  maxRcvBufferBytes: number;
  maxDurationMs: number;
  /** The agent's timeouts and report floor, for the lab-transport listener. */
  guards: AgentListenerGuards;
  transport: ListenerTransportDefaults;
  socket: Partial<SocketConfig>;
  seed: number;
}

/** Completes a DRC request with the defaults of the fields it leaves out. */
export function drcConfigOf(d: DrcRequest): DrcConfig {
  return { enabled: d.enabled, maxEntries: d.maxEntries ?? DEFAULT_DRC_CONFIG.maxEntries, maxAgeMs: d.maxAgeMs ?? DEFAULT_DRC_CONFIG.maxAgeMs };
}

/** TCP connections one RPC service accepts at once (a client's workload needs one). */
const RPC_MAX_TCP_CONNECTIONS = 16;

/** Starts an RPC server with a fresh counter program (core/rpc/programs/counter-server.ts). */
export async function startRpcService(o: RpcServiceOptions): Promise<AgentService & { readonly ports: Record<RpcTransportName, number | null>; configureDrc(d: DrcRequest): void }> {
  const counter = new CounterService();
  // The key-value store too: a replica of the replicated service serves both programs.
  const kv = new KvService();
  let drc = drcConfigOf(o.drc);
  // Naming: a portmapper (RFC 1833) on the same ports maps the counter on each transport, so a
  // client can find it by program and version as it would through rpcbind.
  const registry = new PortmapRegistry();
  const server = await RpcServer.start({
    host: o.host,
    ports: Object.fromEntries(o.transports.map((t) => [t, o.ports?.[t] ?? 0])),
    programs: [counter.program(), kv.program(), portmapProgram(registry)],
    drc,
    maxRecordBytes: o.maxRecordBytes,
    tcpLimits: { maxConnections: RPC_MAX_TCP_CONNECTIONS },
    // A lab-transport listener for RPC only: its stream caps are never used (it refuses streams).
    pltCaps: agentListenerCaps({ maxSessions: o.maxSessions, maxRcvBufferBytes: o.maxRcvBufferBytes, maxRatePacketsPerSecond: 1, maxRateBitsPerSecond: 1, maxDurationMs: o.maxDurationMs }, o.guards),
    pltDefaults: o.transport,
    socket: o.socket,
    seed: o.seed,
    onlyHost: o.clientAddress,
  });
  const ports = server.ports();
  for (const t of server.transports()) registry.set({ prog: COUNTER_PROG, vers: COUNTER_V1, prot: protocolNumber(t), port: ports[t]! });
  // The kernel counts drops per UDP socket: those of the transports that carry datagrams.
  const udpPorts = RPC_TRANSPORTS.filter((t) => RPC_TRANSPORT[t].datagrams).map((t) => ports[t]).filter((p): p is number => p !== null);
  const dropsOf = () => udpPorts.reduce((sum, p) => sum + udpSocketDrops(p), 0);
  const dropsAtStart = dropsOf();
  const lifecycle = serviceLifecycle(
    o.id,
    (common): ServiceStats => ({
      kind: 'rpc',
      ...common,
      kernelDrops: udpPorts.length === 0 ? null : finiteOrNull(dropsOf() - dropsAtStart),
      foreignDrops: server.foreignDrops(),
      ports,
      server: plainCounters(server.counters()),
      drc: { ...drc },
      counter: { value: counter.value.toString(), increments: counter.increments, repeatedExecutions: counter.repeatedExecutions },
    }),
    () => server.close(),
  );
  return {
    id: o.id,
    kind: 'rpc',
    ports,
    configureDrc: (d) => {
      drc = drcConfigOf(d);
      server.configureDrc(drc);
    },
    ...lifecycle,
  };
}

/** The RPC program and version an RPC service serves. */
export const RPC_SERVICE_PROGRAM = { program: COUNTER_PROG, version: COUNTER_V1 } as const;

/** What an echo service needs. */
export interface EchoServiceOptions {
  id: number;
  host: string;
  /** The controlling client's IP, as plainAddress writes it (the agent's clientIp): the only source served. */
  clientAddress: string;
  replyBytes: number | null;
  maxRatePacketsPerSecond: number;
  maxRateBitsPerSecond: number;
  socket: Partial<SocketConfig>;
}

/** Starts a UDP echo for one client on a free port. */
export async function startEchoService(o: EchoServiceOptions): Promise<AgentService & { readonly udpPort: number }> {
  const socket: Socket = await bindUdp(o.host, 0, o.socket);
  const udpPort = socket.address().port;
  const dropsAtStart = udpSocketDrops(udpPort);
  const engine = new EchoEngine({ replyBytes: o.replyBytes, maxRatePacketsPerSecond: o.maxRatePacketsPerSecond, maxRateBitsPerSecond: o.maxRateBitsPerSecond }, performance.now());
  let inFlight = 0;
  const onSent = (err: Error | null) => {
    inFlight--;
    if (err !== null) engine.counters.sendErrors++;
  };
  socket.on('message', (msg, rinfo) => {
    const reply = engine.handleDatagram(performance.now(), msg, plainAddress(rinfo.address) === o.clientAddress, inFlight < MAX_QUEUED_SENDS);
    if (reply === null) return;
    inFlight++;
    socket.send(reply, rinfo.port, rinfo.address, onSent);
  });
  // A send error (EHOSTUNREACH, ...) is counted by onSent; 'error' events must not crash the agent.
  socket.on('error', () => engine.counters.sendErrors++);
  const lifecycle = serviceLifecycle(
    o.id,
    (common): ServiceStats => ({
      kind: 'echo',
      ...common,
      kernelDrops: finiteOrNull(udpSocketDrops(udpPort) - dropsAtStart),
      foreignDrops: engine.counters.foreignDrops,
      udpPort,
      counters: { ...engine.counters },
    }),
    async () => {
      socket.removeAllListeners('message');
      await new Promise<void>((r) => socket.close(() => r()));
    },
  );
  return {
    id: o.id,
    kind: 'echo',
    udpPort,
    ...lifecycle,
  };
}
