// What an RPC transport does with sockets: connect a client's socket to a server, and serve a
// server engine on a port. The protocol side of each transport (its engines, whether it carries
// datagrams, its portmapper number) is its entry in core/rpc/transports.ts; this is only the I/O.

import type { SocketConfig } from '../../../core/knobs.js';
import type { Listener } from '../../../core/listener.js';
import type { RpcStatus } from '../../../core/rpc/client.js';
import type { RpcServerEngine } from '../../../core/rpc/server.js';
import type { RpcServerHostParts, RpcTransportName } from '../../../core/rpc/transports.js';
import type { PeerTable } from '../../udp/driver.js';
import type { MessageSocket } from '../../driver-loop.js';
import type { RecordSocketCounters, TcpServerLimits } from '../tcp.js';

/** A client's socket, connected to its server. */
export interface ClientConnection {
  readonly socket: MessageSocket;
  readonly peers: PeerTable;
  /** The server's peer id. */
  readonly server: number;
  /** The socket's own address when it carries datagrams (for a capture), else null. */
  readonly self: { address: string; port: number } | null;
  /** Socket errors the driver reports (ICMP port unreachable on a connected UDP socket). */
  onSocketError?(err: NodeJS.ErrnoException): void;
  close(): Promise<void>;
}

/** Where a client connects, and whom to tell when the path is gone. */
export interface ConnectParts {
  host: string;
  port: number;
  socket?: Partial<SocketConfig>;
  onLost(reason: string, status: typeof RpcStatus.UNREACHABLE | typeof RpcStatus.SHUTDOWN): void;
}

/** Where and how a server serves one transport. */
export interface ServeParts {
  host: string;
  /** The port to bind, 0 for any. */
  port: number;
  /** Ports the server's transports bound before this one (TCP takes UDP's number when it is free). */
  bound: ReadonlyMap<RpcTransportName, number>;
  /** Makes the server engine, given how it names a peer's address. */
  engine(peerAddress: (id: number) => string | null): RpcServerEngine;
  /** Seed, caps and session defaults of a listener, for transports that have sessions. */
  listener: Pick<RpcServerHostParts, 'seed' | 'caps' | 'defaults'>;
  socket?: Partial<SocketConfig>;
  /** Peers known at once (least recently used are recycled). */
  maxPeers: number;
  /** Serve only this IP address: other hosts' datagrams and connections are dropped and counted. */
  onlyHost?: string;
  /** Largest record or message accepted. */
  maxRecordBytes?: number;
  tcpLimits?: Partial<TcpServerLimits>;
}

/** A transport a server serves. */
export interface ServedTransport {
  readonly engine: RpcServerEngine;
  readonly port: number;
  /** Datagrams and connections from hosts other than `onlyHost`, dropped. */
  foreignDrops(): number;
  /** Counters of the TCP connections (refusals, timeouts, framing errors), for a record transport. */
  readonly records: RecordSocketCounters | null;
  /** The listener of a transport with sessions (its counters, its open sessions), else null. */
  readonly listener: Listener | null;
  close(): Promise<void>;
}

/** The socket side of one RPC transport. */
export interface RpcSocketTransport {
  /** Opens a socket to host:port. */
  connect(o: ConnectParts): Promise<ClientConnection>;
  /** Binds and serves. */
  serve(o: ServeParts): Promise<ServedTransport>;
}
