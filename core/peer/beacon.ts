// Peer agents announce themselves on the LAN so the app and `packetlab peers` can list them: a
// small JSON datagram every 2 s to UDP port 9877, sent to the directed broadcast address of the
// interface the agent's control port is bound to (all IPv4 interfaces when it is bound to
// 0.0.0.0), and to 127.255.255.255 so listeners on the same machine hear loopback agents too.
// A beacon holds a name, the control port and versions, never the token or anything else secret;
// it proves nothing either: a client still has to pass the authenticated handshake.
//
// This module is the beacon itself, its bytes and their meaning; beacon-net.ts sends and hears
// them.

import { z } from 'zod';
import { PEER_PROTOCOL_VERSION } from './protocol.js';
import { formatIssues } from './messages.js';

/** The UDP port beacons go to. */
export const BEACON_PORT = 9877;
/** How often an agent announces itself. */
export const BEACON_INTERVAL_MS = 2000;
/** Largest beacon accepted. */
export const MAX_BEACON_BYTES = 1024;
/** The loopback broadcast address: every socket on this machine bound to the beacon port hears it. */
export const LOOPBACK_BROADCAST = '127.255.255.255';

/** The content of a beacon. */
export const BeaconSchema = z.strictObject({
  packetlab: z.literal('peer-agent'),
  /** Version of the beacon format. */
  v: z.literal(1),
  /** The agent's name (its host name unless told otherwise). */
  name: z.string().max(128),
  /** TCP port of the control channel. */
  controlPort: z.number().int().min(1).max(65535),
  /** Version of the control protocol. */
  protocol: z.number().int().min(0),
  /** packetlab's version. */
  version: z.string().max(32),
});
/** The content of a beacon. */
export type Beacon = z.infer<typeof BeaconSchema>;

/** The bytes of a beacon. */
export function encodeBeacon(b: Omit<Beacon, 'packetlab' | 'v' | 'protocol'>): Buffer {
  const full: Beacon = { packetlab: 'peer-agent', v: 1, name: b.name.slice(0, 128), controlPort: b.controlPort, protocol: PEER_PROTOCOL_VERSION, version: b.version.slice(0, 32) };
  return Buffer.from(JSON.stringify(full));
}

/** Parses a beacon datagram; never throws. */
export function parseBeacon(bytes: Uint8Array): { ok: true; beacon: Beacon } | { ok: false; error: string } {
  if (bytes.length > MAX_BEACON_BYTES) return { ok: false, error: `beacon of ${bytes.length} bytes exceeds ${MAX_BEACON_BYTES}` };
  let value: unknown;
  try {
    value = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes));
  } catch (e) {
    return { ok: false, error: `beacon is not JSON (${(e as Error).message})` };
  }
  const r = BeaconSchema.safeParse(value);
  return r.success ? { ok: true, beacon: r.data } : { ok: false, error: `not a packetlab beacon: ${formatIssues(r.error)}` };
}

