// rpcbind versions 3 and 4 (RFC 1833 section 2): what the lab reads from the machine's rpcbind
// through the stubs packetlab rpcgen writes from libtirpc's rpcb_prot.x (rpcb_prot.ts, committed
// beside its .x). Entries carry a netid ("udp", "tcp6", "local") and a universal address, the
// host and port of RFC 1833 (2.2) written as text: "127.0.0.1.0.111" is 127.0.0.1 port 111.

import type { Rpcb, RpcblistPtr } from './rpcb_prot.js';

/** One entry of an rpcbind v3/v4 DUMP: a program version on a transport, at an address. */
export interface RpcbEntry {
  program: number;
  version: number;
  netid: string;
  address: string;
  owner: string;
}

/** Most entries read from one DUMP reply (the XDR decoder bounds the nesting anyway). */
const MAX_ENTRIES = 100_000;

/** The entries of an RPCBPROC_DUMP reply, in the order rpcbind sent them. */
export function fromRpcblist(list: RpcblistPtr): RpcbEntry[] {
  const out: RpcbEntry[] = [];
  for (let p = list; p !== null && out.length < MAX_ENTRIES; p = p.rpcb_next) out.push(fromRpcb(p.rpcb_map));
  return out;
}

/** An entry from the rpcb structure. */
export function fromRpcb(m: Rpcb): RpcbEntry {
  return { program: m.r_prog, version: m.r_vers, netid: m.r_netid, address: m.r_addr, owner: m.r_owner };
}

/**
 * The host and port of an inet or inet6 universal address (RFC 1833 (2.2): the host's text form,
 * then the port's high and low bytes, dot-separated); null for other families ("local" entries
 * carry a path) or text that is not one.
 */
export function parseUniversalAddress(uaddr: string): { host: string; port: number } | null {
  const m = /^(.+)\.(\d{1,3})\.(\d{1,3})$/.exec(uaddr);
  if (m === null) return null;
  const hi = Number(m[2]);
  const lo = Number(m[3]);
  if (hi > 255 || lo > 255) return null;
  const host = m[1]!;
  const v4 = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(host);
  if (v4 !== null ? v4.slice(1).some((x) => Number(x) > 255) : !/^[0-9a-fA-F:.]*:[0-9a-fA-F:.]*$/.test(host)) return null;
  return { host, port: hi * 256 + lo };
}

/** The universal address of an IPv4 or IPv6 host and a port. */
export function universalAddress(host: string, port: number): string {
  return `${host}.${port >> 8}.${port & 0xff}`;
}
