// Sending and hearing peer agents' beacons (beacon.ts says what one is): the sender of an agent,
// and the listener of the app and `packetlab peers`.
//
// Directed broadcast (10.0.0.255) rather than 255.255.255.255: it is routed by the interface's own
// connected route, so it leaves through the right interface without a default route.

import { createSocket, type Socket } from 'node:dgram';
import { networkInterfaces } from 'node:os';
import { isIPv4 } from 'node:net';
import { BEACON_INTERVAL_MS, BEACON_PORT, LOOPBACK_BROADCAST, encodeBeacon, parseBeacon } from '../../core/peer/beacon.js';

/** Distinct agents a listener remembers, at most. */
const MAX_HEARD_PEERS = 1024;

/** The directed broadcast address of an IPv4 address and netmask, or null for /31 and /32 (no broadcast). */
export function ipv4Broadcast(address: string, netmask: string): string | null {
  if (!isIPv4(address) || !isIPv4(netmask)) return null;
  const a = address.split('.').map(Number);
  const m = netmask.split('.').map(Number);
  const bits = m.reduce((n, x) => n + x.toString(2).replace(/0/g, '').length, 0);
  if (bits >= 31) return null;
  return a.map((x, i) => (x | (~m[i]! & 255)) & 255).join('.');
}

function isLoopback(host: string): boolean {
  return host === '::1' || host === 'localhost' || /^127\./.test(host);
}

function isWildcard(host: string): boolean {
  return host === '0.0.0.0' || host === '::' || host === '';
}

/** Where the beacons of an agent bound to `host` go (empty: IPv6-only or unknown addresses, nothing to broadcast on). */
export function beaconDestinations(host: string, interfaces = networkInterfaces()): string[] {
  if (isLoopback(host)) return [LOOPBACK_BROADCAST];
  const out = new Set<string>();
  for (const list of Object.values(interfaces)) {
    for (const i of list ?? []) {
      if (i.family !== 'IPv4' || i.internal) continue;
      if (!isWildcard(host) && i.address !== host) continue;
      const b = ipv4Broadcast(i.address, i.netmask);
      if (b !== null) out.add(b);
    }
  }
  if (isWildcard(host)) out.add(LOOPBACK_BROADCAST);
  return [...out];
}

/** What a beacon sender needs. */
export interface BeaconSenderOptions {
  /** The address the agent's control port is bound to. */
  host: string;
  controlPort: number;
  name: string;
  version: string;
  /** Destination port (default BEACON_PORT). */
  port?: number;
  intervalMs?: number;
}

/** An agent's announcer. */
export class BeaconSender {
  /** Beacons handed to the socket. */
  sent = 0;
  /** Sends that failed (no route, interface down). */
  sendErrors = 0;

  private constructor(
    private readonly socket: Socket,
    private readonly timer: NodeJS.Timeout,
    /** The broadcast addresses beacons go to. */
    readonly destinations: readonly string[],
    /** The UDP port they go to. */
    readonly port: number,
  ) {}

  /** Starts announcing (the first beacon leaves at once); null when there is nowhere to broadcast. */
  static async start(o: BeaconSenderOptions): Promise<BeaconSender | null> {
    const destinations = beaconDestinations(o.host);
    if (destinations.length === 0) return null;
    const port = o.port ?? BEACON_PORT;
    const socket = createSocket({ type: 'udp4' });
    // Bound to the agent's own address when it has a specific IPv4 one, so beacons carry it as their source.
    const bindTo = isIPv4(o.host) && !isWildcard(o.host) ? o.host : '0.0.0.0';
    await new Promise<void>((resolve, reject) => {
      socket.once('error', reject);
      socket.bind(0, bindTo, () => {
        socket.off('error', reject);
        resolve();
      });
    });
    socket.setBroadcast(true);
    const bytes = encodeBeacon({ name: o.name, controlPort: o.controlPort, version: o.version });
    let self: BeaconSender | null = null;
    const send = () => {
      for (const d of destinations) {
        socket.send(bytes, port, d, (err) => {
          if (self === null) return;
          if (err) self.sendErrors++;
          else self.sent++;
        });
      }
    };
    socket.on('error', () => {
      if (self !== null) self.sendErrors++;
    });
    const timer = setInterval(send, o.intervalMs ?? BEACON_INTERVAL_MS);
    timer.unref();
    self = new BeaconSender(socket, timer, destinations, port);
    send();
    return self;
  }

  /** Stops announcing. */
  async stop(): Promise<void> {
    clearInterval(this.timer);
    await new Promise<void>((r) => this.socket.close(() => r()));
  }
}

/** An agent heard on the LAN. */
export interface HeardPeer {
  /** The beacon's source address: where the control port is reached. */
  address: string;
  controlPort: number;
  name: string;
  version: string;
  protocol: number;
  /** Date.now() of the first and the last beacon. */
  firstSeenMs: number;
  lastSeenMs: number;
  /** Beacons heard from it. */
  beacons: number;
}

/** Options of a beacon listener. */
export interface BeaconListenerOptions {
  /** Port to listen on (default BEACON_PORT). */
  port?: number;
  /** Address to bind (default 0.0.0.0: broadcasts arrive on the wildcard socket). */
  host?: string;
  /** Called on every new agent. */
  onPeer?: (p: HeardPeer) => void;
}

/** Listens for beacons and keeps one entry per agent (source address and control port). */
export class PeerBeaconListener {
  /** Datagrams that were not packetlab beacons. */
  malformed = 0;
  private readonly heard = new Map<string, HeardPeer>();

  private constructor(
    private readonly socket: Socket,
    private readonly onPeer: ((p: HeardPeer) => void) | undefined,
  ) {
    socket.on('message', (msg, rinfo) => this.onBeacon(msg, rinfo.address));
  }

  /** Binds the beacon port (shared with other listeners on this machine) and starts listening. */
  static async start(o: BeaconListenerOptions = {}): Promise<PeerBeaconListener> {
    const socket = createSocket({ type: 'udp4', reuseAddr: true });
    const port = o.port ?? BEACON_PORT;
    const host = o.host ?? '0.0.0.0';
    await new Promise<void>((resolve, reject) => {
      socket.once('error', (err: NodeJS.ErrnoException) => {
        socket.close();
        reject(new Error(`cannot listen for beacons on UDP ${host}:${port}: ${err.message}`));
      });
      socket.bind(port, host, () => {
        socket.removeAllListeners('error');
        resolve();
      });
    });
    socket.on('error', () => {});
    return new PeerBeaconListener(socket, o.onPeer);
  }

  /** The agents heard so far, sorted by address and port. */
  peers(): HeardPeer[] {
    return [...this.heard.values()].map((p) => ({ ...p })).sort((a, b) => a.address.localeCompare(b.address, 'en', { numeric: true }) || a.controlPort - b.controlPort);
  }

  /** Stops listening. */
  async close(): Promise<void> {
    await new Promise<void>((r) => this.socket.close(() => r()));
  }

  private onBeacon(msg: Buffer, address: string): void {
    const r = parseBeacon(msg);
    if (!r.ok) {
      this.malformed++;
      return;
    }
    const b = r.beacon;
    const key = `${address}|${b.controlPort}`;
    const now = Date.now();
    const known = this.heard.get(key);
    if (known !== undefined) {
      known.lastSeenMs = now;
      known.beacons++;
      known.name = b.name;
      known.version = b.version;
      known.protocol = b.protocol;
      return;
    }
    if (this.heard.size >= MAX_HEARD_PEERS) return;
    const p: HeardPeer = { address, controlPort: b.controlPort, name: b.name, version: b.version, protocol: b.protocol, firstSeenMs: now, lastSeenMs: now, beacons: 1 };
    this.heard.set(key, p);
    this.onPeer?.({ ...p });
  }
}

/** Listens for `durationMs` and returns the agents heard. */
export async function listenForPeers(durationMs: number, o: Omit<BeaconListenerOptions, 'onPeer'> = {}): Promise<HeardPeer[]> {
  const l = await PeerBeaconListener.start(o);
  await new Promise((r) => setTimeout(r, durationMs));
  await l.close();
  return l.peers();
}
