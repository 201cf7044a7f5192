// RPC over TCP with record marking (RFC 5531 (11)): a client's connection, and a server's listening
// socket whose connections all feed one engine.

import { RpcStatus } from '../../../core/rpc/client.js';
import { PeerTable } from '../../udp/driver.js';
import { RecyclingPeerTable } from '../../udp/recycling-peers.js';
import { MessageDriver } from '../message-driver.js';
import { connectRecords, listenRecords, type RecordServer } from '../tcp.js';
import { addressText } from './address.js';
import type { ClientConnection, ConnectParts, RpcSocketTransport, ServeParts, ServedTransport } from './socket-transport.js';

async function connect(o: ConnectParts): Promise<ClientConnection> {
  const rs = await connectRecords(o.host, o.port, { onClose: (_a, _p, reason) => o.onLost(reason, RpcStatus.SHUTDOWN) });
  const peers = new PeerTable({ maxPeers: 4 });
  const remote = rs.remote()!;
  return {
    socket: rs,
    peers,
    server: peers.idOf(remote.address, remote.port),
    self: null,
    close: () => new Promise<void>((r) => rs.close(() => r())),
  };
}

async function serve(o: ServeParts): Promise<ServedTransport> {
  const peers = new RecyclingPeerTable({ maxPeers: o.maxPeers });
  const common = { peers, maxRecordBytes: o.maxRecordBytes, limits: o.tcpLimits, onlyHost: o.onlyHost };
  let rs: RecordServer;
  const udpPort = o.bound.get('udp');
  if (o.port === 0 && udpPort !== undefined) {
    // Same number as the UDP port when it is free, as users expect of one RPC server.
    rs = await listenRecords(o.host, udpPort, common).catch(() => listenRecords(o.host, 0, common));
  } else {
    rs = await listenRecords(o.host, o.port, common);
  }
  const engine = o.engine((id) => addressText(peers.address(id)));
  const driver = new MessageDriver({ socket: rs.socket, endpoint: engine, peers, stableOutput: true });
  engine.onWake = () => driver.kick();
  driver.start();
  const records = rs.socket.counters;
  return {
    engine,
    port: rs.port,
    foreignDrops: () => records.foreignConnections,
    listener: null,
    records,
    close: () => (driver.stop(), rs.close()),
  };
}

/** TCP's sockets. */
export const tcpSockets: RpcSocketTransport = { connect, serve };
