// A packetlab listener on a real UDP socket: what `packetlab transfer --listen` and
// `packetlab udp --listen` run, and what the local peer worker runs for loopback experiments.

import type { Socket } from 'node:dgram';
import { isIPv6 } from 'node:net';
import { DEFAULT_LISTENER_CAPS, Listener, rcvBufferCapProblem, type ListenerCaps, type ListenerEvent, type Session, type SessionFactory } from '../../core/listener.js';
import { labSessionFactory, type ListenerTransportDefaults } from '../../core/apps/services.js';
import { StreamReceiver } from '../../core/stream/receiver.js';
import { BulkReceiver } from '../../core/apps/bulk.js';
import { UdpDriver, type PeerTable } from './driver.js';
import { RecyclingPeerTable } from './recycling-peers.js';
import { udpSocket } from './held-sends.js';
import { udpSocketDrops } from './procnet.js';
import type { SocketConfig } from '../../core/knobs.js';
import type { ReceiverChanges } from '../../core/transport/config.js';
import { plainAddress } from '../../core/util/address.js';

/** Where and how a listener serves. */
export interface ListenerServerOptions {
  host: string;
  port: number;
  caps?: ListenerCaps;
  transport?: ListenerTransportDefaults;
  socket?: Partial<SocketConfig>;
  seed?: number;
  /** Peers the listener knows at once (default 4096); those without an open session are recycled when it is full. */
  maxPeers?: number;
  /** Every listener event, with the peer's address. */
  onEvent?: (event: ListenerEvent, peer: { address: string; port: number } | undefined) => void;
}

/** Counters of one session, as the listener sees them. */
export interface SessionStats {
  connectionId: number;
  kind: 'reliable' | 'stream';
  counters: Record<string, number>;
  rcvBufferedBytes: number;
  finished: boolean;
}

/** A running listener. */
export interface ListenerServer {
  readonly port: number;
  readonly address: string;
  readonly listener: Listener;
  readonly socket: Socket;
  /** Kernel drops of the listening socket since it opened (NaN where /proc is missing). */
  kernelDrops(): number;
  /** Counters of open sessions and of the sessions closed most recently. */
  sessions(): SessionStats[];
  /** Changes knobs of an open reliable session (a live change at the receiving end); returns why not, or null. */
  reconfigure(connectionId: number, changes: ReceiverChanges): string | null;
  close(): Promise<void>;
}

/** Binds a UDP socket, applies socket buffer sizes, and throws a clear error when that fails. */
export async function bindUdp(host: string, port: number, sock: Partial<SocketConfig> = {}): Promise<Socket> {
  const socket = udpSocket(isIPv6(host) ? 'udp6' : 'udp4');
  await new Promise<void>((resolve, reject) => {
    const onError = (err: NodeJS.ErrnoException) => {
      socket.close();
      if (err.code === 'EADDRINUSE') reject(new Error(`UDP port ${port} on ${host} is in use`));
      else if (err.code === 'EADDRNOTAVAIL') reject(new Error(`address ${host} is not an address of this machine`));
      else reject(new Error(`cannot bind UDP ${host}:${port}: ${err.message}`));
    };
    socket.once('error', onError);
    socket.bind(port, host, () => {
      socket.off('error', onError);
      resolve();
    });
  });
  if (sock.socketRcvBufBytes) socket.setRecvBufferSize(sock.socketRcvBufBytes);
  if (sock.socketSndBufBytes) socket.setSendBufferSize(sock.socketSndBufBytes);
  return socket;
}

/** Connects a UDP socket to its only peer (the kernel then filters other sources). */
export function connectUdp(socket: Socket, host: string, port: number): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const onError = (err: Error) => reject(new Error(`cannot connect the UDP socket to ${host}:${port}: ${err.message}`));
    socket.once('error', onError);
    socket.connect(port, host, () => {
      socket.off('error', onError);
      resolve();
    });
  });
}

function statsOf(session: Session, connectionId: number): SessionStats {
  if (session instanceof BulkReceiver) {
    return { connectionId, kind: 'reliable', counters: { ...session.conn.counters }, rcvBufferedBytes: session.conn.rcvBufferedBytes, finished: session.finished };
  }
  const counters = session instanceof StreamReceiver ? { ...session.counters } : {};
  return { connectionId, kind: 'stream', counters, rcvBufferedBytes: 0, finished: session.finished };
}

/** `factory`, with each stream session counting the listening socket's kernel drops from its own start. */
export function withStreamDrops(factory: SessionFactory, kernelDrops: () => number): SessionFactory {
  return (ctx) => {
    const s = factory(ctx);
    if (s instanceof StreamReceiver) {
      const at = kernelDrops();
      s.kernelDrops = () => kernelDrops() - at;
    }
    return s;
  };
}

/**
 * Changes knobs of open session `connectionId` (`session`, undefined when none is open) at the
 * receiving end and runs the driver's due work; returns why not, or null. A receive buffer over the
 * listener's `caps` is refused as a SYN asking for it would be; values out of range are refused
 * with the connection's own message.
 */
export function reconfigureSession(
  connectionId: number,
  session: Session | undefined,
  changes: ReceiverChanges,
  caps: Pick<ListenerCaps, 'maxRcvBufferBytes'>,
  driver: { kick(): void },
): string | null {
  if (!(session instanceof BulkReceiver)) return `no open reliable session ${connectionId} on this listener`;
  if (changes.rcvBufferBytes !== undefined) {
    const refused = rcvBufferCapProblem(changes.rcvBufferBytes, caps);
    if (refused !== null) return refused;
  }
  try {
    session.conn.reconfigure(performance.now(), changes);
  } catch (e) {
    return (e as Error).message;
  }
  driver.kick();
  return null;
}

/** The IP address of peer `id` (the ports of one host share its limits), as plainAddress writes it. */
export function hostOf(peers: PeerTable, id: number): string | number {
  const a = peers.address(id);
  return a === undefined ? id : plainAddress(a.address);
}

/** Starts a listener on host:port (port 0 picks a free one). */
export async function startListenerServer(o: ListenerServerOptions): Promise<ListenerServer> {
  const socket = await bindUdp(o.host, o.port, o.socket);
  const port = socket.address().port;
  const dropsAtStart = udpSocketDrops(port);
  const kernelDrops = () => udpSocketDrops(port) - dropsAtStart;
  const peers = new RecyclingPeerTable({ maxPeers: o.maxPeers });
  const caps = o.caps ?? DEFAULT_LISTENER_CAPS;
  const listener = new Listener(caps, withStreamDrops(labSessionFactory(o.transport), kernelDrops), o.seed ?? (Math.random() * 2 ** 32) >>> 0, { addressOf: (id) => hostOf(peers, id) });
  peers.setBusy((id) => listener.hasSession(id));
  const open = new Map<number, Session>();
  const closed: SessionStats[] = [];
  const driver = new UdpDriver({
    socket,
    endpoint: listener,
    peers,
    onProgress: () => {
      for (let e = listener.pollEvent(); e !== null; e = listener.pollEvent()) {
        if (e.type === 'session-opened') open.set(e.connectionId, e.session);
        if (e.type === 'session-closed') {
          open.delete(e.connectionId);
          closed.push(statsOf(e.session, e.connectionId));
          if (closed.length > 16) closed.shift();
        }
        o.onEvent?.(e, peers.address(e.peer));
      }
    },
  });
  driver.start();
  return {
    port,
    address: o.host,
    listener,
    socket,
    kernelDrops,
    sessions: () => [...closed, ...[...open].map(([id, s]) => statsOf(s, id))],
    reconfigure: (connectionId, changes) => reconfigureSession(connectionId, open.get(connectionId), changes, caps, driver),
    close: () =>
      new Promise<void>((resolve) => {
        driver.stop();
        socket.close(() => resolve());
      }),
  };
}
