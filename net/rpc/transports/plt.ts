// RPC over the lab transport (a reliable connection on UDP): a client's connected UDP socket, and a
// server's listener whose sessions each carry one client's calls.

import { DEFAULT_LISTENER_CAPS } from '../../../core/listener.js';
import { rpcListener } from '../../../core/rpc/transports.js';
import { hostOf } from '../../udp/listener-server.js';
import { addressText } from './address.js';
import type { RpcSocketTransport, ServeParts, ServedTransport } from './socket-transport.js';
import { connectDatagrams, serveDatagrams } from './udp.js';

function serve(o: ServeParts): Promise<ServedTransport> {
  // The listener's own peer table: ids of peers with an open session are never recycled (the
  // listener knows its sessions by peer id, so a recycled id would send one caller's replies to
  // another address), and the listener counts sessions per IP, not per port.
  return serveDatagrams(o, (peers) => {
    const sessionPeer = new Map<number, number>();
    const engine = o.engine((key) => addressText(peers.address(sessionPeer.get(key) ?? -1)));
    const l = rpcListener(engine, {
      seed: o.listener.seed,
      caps: o.listener.caps ?? { ...DEFAULT_LISTENER_CAPS, maxSessions: 256, maxSessionsPerAddress: 16 },
      defaults: o.listener.defaults,
      listener: { addressOf: (id) => hostOf(peers, id) },
      onSession: (key, peer) => sessionPeer.set(key, peer),
    });
    peers.setBusy((id) => l.hasSession(id));
    const onProgress = () => {
      for (let e = l.pollEvent(); e !== null; e = l.pollEvent()) {
        if (e.type === 'session-closed') {
          for (const [k, p] of sessionPeer) if (p === e.peer && (e.session as { clientKey?: number }).clientKey === k) sessionPeer.delete(k);
        }
      }
    };
    return { engine, endpoint: l, listener: l, stableOutput: false, onProgress };
  });
}

/** The lab transport's sockets. */
export const pltSockets: RpcSocketTransport = { connect: connectDatagrams, serve };
