// RPC over UDP (RFC 5531): a connected dgram socket for a client, one bound socket for a server,
// each datagram a whole call or reply.

import { isIPv6 } from 'node:net';
import type { Endpoint } from '../../../core/endpoint.js';
import type { Listener } from '../../../core/listener.js';
import { RpcStatus } from '../../../core/rpc/client.js';
import type { RpcServerEngine } from '../../../core/rpc/server.js';
import { PeerTable } from '../../udp/driver.js';
import type { MessageSocket } from '../../driver-loop.js';
import { bindUdp, connectUdp } from '../../udp/listener-server.js';
import { RecyclingPeerTable } from '../../udp/recycling-peers.js';
import { MessageDriver } from '../message-driver.js';
import { addressText } from './address.js';
import type { ClientConnection, ConnectParts, RpcSocketTransport, ServeParts, ServedTransport } from './socket-transport.js';

/** A UDP socket connected to host:port, for the datagram transports (udp, plt). */
export async function connectDatagrams(o: ConnectParts): Promise<ClientConnection> {
  const host = o.host;
  const socket = await bindUdp(isIPv6(host) ? '::' : host.startsWith('127.') ? '127.0.0.1' : '0.0.0.0', 0, o.socket);
  try {
    await connectUdp(socket, host, o.port);
  } catch (e) {
    socket.close();
    throw e;
  }
  const peers = new PeerTable({ maxPeers: 4 });
  const own = socket.address();
  return {
    socket: socket as unknown as MessageSocket,
    peers,
    server: peers.idOf(host, o.port),
    self: { address: own.address, port: own.port },
    onSocketError: (err) => {
      // ICMP port unreachable on the connected socket, as clnt_dg reports RPC_CANTRECV.
      if (err.code === 'ECONNREFUSED') o.onLost(`nothing listens on UDP ${host}:${o.port} (ICMP port unreachable)`, RpcStatus.UNREACHABLE);
    },
    close: () => new Promise<void>((r) => socket.close(() => r())),
  };
}

/** What a datagram transport's server drives on its socket. */
export interface DatagramServerParts {
  engine: RpcServerEngine;
  /** The engine, or a listener around it. */
  endpoint: Endpoint;
  listener: Listener | null;
  /** The endpoint's datagrams stay valid after pollTransmit (sent without a copy). */
  stableOutput: boolean;
  onProgress?: () => void;
}

/** Binds a UDP socket and drives what `build` makes on it: the servers of the datagram transports (udp, plt). */
export async function serveDatagrams(o: ServeParts, build: (peers: RecyclingPeerTable) => DatagramServerParts): Promise<ServedTransport> {
  const socket = await bindUdp(o.host, o.port, o.socket);
  const peers = new RecyclingPeerTable({ onlyHost: o.onlyHost, maxPeers: o.maxPeers });
  const parts = build(peers);
  const driver = new MessageDriver({ socket: socket as unknown as MessageSocket, endpoint: parts.endpoint, peers, stableOutput: parts.stableOutput, onProgress: parts.onProgress });
  parts.engine.onWake = () => driver.kick();
  driver.start();
  return {
    engine: parts.engine,
    port: socket.address().port,
    foreignDrops: () => peers.foreignDrops,
    records: null,
    listener: parts.listener,
    close: () => new Promise((r) => (driver.stop(), socket.close(() => r()))),
  };
}

function serve(o: ServeParts): Promise<ServedTransport> {
  return serveDatagrams(o, (peers) => {
    const engine = o.engine((id) => addressText(peers.address(id)));
    return { engine, endpoint: engine, listener: null, stableOutput: true };
  });
}

/** UDP's sockets. */
export const udpSockets: RpcSocketTransport = { connect: connectDatagrams, serve };
