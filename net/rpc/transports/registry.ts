// The socket side of every RPC transport, by name: one line per transport. The type makes a
// transport in core/rpc/transports.ts without its sockets here a compile error.

import type { RpcTransportName } from '../../../core/rpc/transports.js';
import type { RpcSocketTransport } from './socket-transport.js';
import { pltSockets } from './plt.js';
import { tcpSockets } from './tcp.js';
import { udpSockets } from './udp.js';

/** Every transport's sockets. */
export const SOCKET_TRANSPORTS: Readonly<Record<RpcTransportName, RpcSocketTransport>> = {
  udp: udpSockets,
  tcp: tcpSockets,
  plt: pltSockets,
};
