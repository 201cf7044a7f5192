// The portmapper's state and program (RFC 1833, version 2), sans-IO: the mapping table, the
// pmaplist conversions and the program the lab binder serves over it. The network side (the lab
// binder's sockets, calls to a portmapper, registration) is in the I/O layer's binder.

import { pmapProgV2Server, type Mapping, type PmaplistPtr } from './pmap.js';
import type { RpcCallContext } from './program.js';
import { RPC_TRANSPORT, transportOfProtocol, type RpcTransportName } from './transports.js';

/** Default port of the lab's own binder when no rpcbind runs on port 111. */
export const LAB_BINDER_PORT = 10111;

/** Mappings a lab binder holds at most. */
export const MAX_MAPPINGS = 1024;

/** The `prot` number of a transport. */
export function protocolNumber(t: RpcTransportName): number {
  return RPC_TRANSPORT[t].protocol;
}

/** The name rpcinfo prints for a protocol number. */
export function protocolName(prot: number): string {
  return transportOfProtocol(prot) ?? String(prot);
}

/** True for loopback addresses ("127.0.0.1:5000", "[::1]:5000"); null (the simulator) counts as local. */
export function isLoopbackPeer(peerAddress: string | null): boolean {
  if (peerAddress === null) return true;
  return peerAddress.startsWith('127.') || peerAddress.startsWith('[::1]') || peerAddress.startsWith('[::ffff:127.');
}

/** The mapping table of a portmapper. */
export class PortmapRegistry {
  private readonly map = new Map<string, Mapping>();

  /** RFC 1833 PMAPPROC_SET: refuses a mapping when one exists for (prog, vers, prot). */
  set(m: Mapping): boolean {
    const key = `${m.prog}|${m.vers}|${m.prot}`;
    if (this.map.has(key) || this.map.size >= MAX_MAPPINGS || m.port === 0 || m.port > 65535) return false;
    this.map.set(key, { ...m });
    return true;
  }

  /** RFC 1833 PMAPPROC_UNSET: removes every mapping of (prog, vers), whatever its protocol. */
  unset(prog: number, vers: number): boolean {
    let any = false;
    for (const [k, m] of this.map) {
      if (m.prog === prog && m.vers === vers) {
        this.map.delete(k);
        any = true;
      }
    }
    return any;
  }

  /** RFC 1833 PMAPPROC_GETPORT: the port, or 0 when the program is not registered. */
  getport(prog: number, vers: number, prot: number): number {
    return this.map.get(`${prog}|${vers}|${prot}`)?.port ?? 0;
  }

  /** Every mapping, in registration order. */
  dump(): Mapping[] {
    return [...this.map.values()];
  }
}

/** Builds the pmaplist of DUMP (a linked list, RFC 1833). */
export function toPmaplist(ms: readonly Mapping[]): PmaplistPtr {
  let list: PmaplistPtr = null;
  for (let i = ms.length - 1; i >= 0; i--) list = { map: { ...ms[i]! }, next: list };
  return list;
}

/** Flattens a pmaplist. */
export function fromPmaplist(list: PmaplistPtr): Mapping[] {
  const out: Mapping[] = [];
  for (let p = list; p !== null && out.length < 100_000; p = p.next) out.push(p.map);
  return out;
}

/** The portmapper program version 2 over a registry. SET and UNSET are for loopback callers only. */
export function portmapProgram(registry: PortmapRegistry) {
  const local = (ctx: RpcCallContext) => isLoopbackPeer(ctx.peerAddress);
  return pmapProgV2Server({
    pmapprocSet: (m, ctx) => local(ctx) && registry.set(m),
    pmapprocUnset: (m, ctx) => local(ctx) && registry.unset(m.prog, m.vers),
    pmapprocGetport: (m) => registry.getport(m.prog, m.vers, m.prot),
    pmapprocDump: () => toPmaplist(registry.dump()),
  });
}

