// Attaching a capture to the two link directions of a run, with the addresses its frames carry.
// In the simulator the hosts get fixed addresses, so a capture is reproducible from the seed;
// over UDP they are the socket's own address and the peer's.

import type { Link } from '../impair/link.js';
import type { Capture } from './capture.js';
import type { SocketAddress } from './ip-udp.js';

/** Address of simulated host 0 (the side that opens the connection). */
export const SIM_CLIENT_ADDRESS: Readonly<SocketAddress> = Object.freeze({ address: '10.0.0.1', port: 40000 });
/** Address of simulated host 1 (the listener; 9000 is the default of --listen). */
export const SIM_LISTENER_ADDRESS: Readonly<SocketAddress> = Object.freeze({ address: '10.0.0.2', port: 9000 });

function text(a: SocketAddress): string {
  return a.address.includes(':') ? `[${a.address}]:${a.port}` : `${a.address}:${a.port}`;
}

/** Records a simulated run: host 0 sends on `forward`, host 1 on `reverse`. */
export function captureSimLinks(capture: Capture, forward: Link, reverse: Link, reverseRole = 'ACK direction'): void {
  capture.setEndpoint(0, SIM_CLIENT_ADDRESS);
  capture.setEndpoint(1, SIM_LISTENER_ADDRESS);
  capture.attachLink(forward, { name: 'forward', description: `data direction ${text(SIM_CLIENT_ADDRESS)} -> ${text(SIM_LISTENER_ADDRESS)}`, direction: 'outbound' });
  capture.attachLink(reverse, { name: 'reverse', description: `${reverseRole} ${text(SIM_LISTENER_ADDRESS)} -> ${text(SIM_CLIENT_ADDRESS)}`, direction: 'inbound' });
}

/** The links and addresses of a run over real UDP, seen from this host. */
export interface UdpCaptureLinks {
  /** This socket's address and the id the driver gives it. */
  self: SocketAddress;
  selfId: number;
  /** The peer's address and its id in the driver's peer table. */
  peer: SocketAddress;
  peerId: number;
  /** Impairment on the way out (egress). */
  forward: Link;
  /** Impairment on the way in (ingress). */
  reverse: Link;
}

/** Records a run over UDP from this host: what the egress link sent or dropped, what the ingress link passed on or dropped. */
export function captureUdpLinks(capture: Capture, l: UdpCaptureLinks, reverseRole = 'ACK direction'): void {
  capture.setEndpoint(l.selfId, l.self);
  capture.setEndpoint(l.peerId, l.peer);
  capture.attachLink(l.forward, { name: 'forward', description: `data direction ${text(l.self)} -> ${text(l.peer)}`, direction: 'outbound' });
  capture.attachLink(l.reverse, { name: 'reverse', description: `${reverseRole} ${text(l.peer)} -> ${text(l.self)}`, direction: 'inbound' });
}
