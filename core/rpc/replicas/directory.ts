// The binder's list of replicas, sans-IO: rpcbind version 4's registrations (RFC 1833 section 2.2),
// where one program version may be served at several universal addresses, and
// RPCBPROC_GETADDRLIST answers all of them. A client of replicated servers asks for the list once
// and picks among the replicas by its policy. Portmapper version 2 (pmap.x) cannot do this: it keys
// a mapping by (program, version, protocol) and holds one port per key.

import type { RpcCallContext, RpcProgramVersion } from '../program.js';
import { serverProcedure } from '../program.js';
import { RpcbprogV4, type Rpcb, type RpcbEntryListPtr } from '../rpcb_prot.js';
import { MAX_MAPPINGS, isLoopbackPeer } from '../portmap.js';

/** One registration: a program version served at a universal address over a network id. */
export interface Registration {
  prog: number;
  vers: number;
  netid: string;
  addr: string;
  owner: string;
}

/** The registrations of a binder that may hold several servers of one program. */
export class ReplicaDirectory {
  private readonly entries: Registration[] = [];

  /** RPCBPROC_SET: refuses a registration that exists already (same program, version, netid and address) or one past the cap. */
  set(r: Rpcb): boolean {
    if (parseUniversalAddress(r.r_addr) === null || r.r_netid === '') return false;
    if (this.entries.length >= MAX_MAPPINGS) return false;
    if (this.entries.some((e) => e.prog === r.r_prog && e.vers === r.r_vers && e.netid === r.r_netid && e.addr === r.r_addr)) return false;
    this.entries.push({ prog: r.r_prog, vers: r.r_vers, netid: r.r_netid, addr: r.r_addr, owner: r.r_owner });
    return true;
  }

  /** RPCBPROC_UNSET: removes the program version's registrations (of one netid when given, at one address when given). */
  unset(r: Rpcb): boolean {
    let any = false;
    for (let i = this.entries.length - 1; i >= 0; i--) {
      const e = this.entries[i]!;
      if (e.prog !== r.r_prog || e.vers !== r.r_vers) continue;
      if (r.r_netid !== '' && e.netid !== r.r_netid) continue;
      if (r.r_addr !== '' && e.addr !== r.r_addr) continue;
      this.entries.splice(i, 1);
      any = true;
    }
    return any;
  }

  /** The universal addresses of a program version over a netid, in registration order. */
  addresses(prog: number, vers: number, netid: string): string[] {
    return this.entries.filter((e) => e.prog === prog && e.vers === vers && e.netid === netid).map((e) => e.addr);
  }
}

/**
 * The part of rpcbind version 4 (libtirpc's rpcb_prot.x) the lab binder serves over a directory:
 * SET and UNSET (from loopback callers only, as its version 2) and GETADDRLIST. The other
 * procedures are not in the table, so they are answered PROC_UNAVAIL.
 */
export function rpcbProgram(dir: ReplicaDirectory): RpcProgramVersion {
  const local = (ctx: RpcCallContext) => isLoopbackPeer(ctx.peerAddress);
  const p = RpcbprogV4.procedures;
  return {
    program: RpcbprogV4.program,
    version: RpcbprogV4.version,
    name: 'RPCBPROG',
    procedures: [
      serverProcedure(p.RPCBPROC_SET, (r, ctx) => local(ctx) && dir.set(r)),
      serverProcedure(p.RPCBPROC_UNSET, (r, ctx) => local(ctx) && dir.unset(r)),
      serverProcedure(p.RPCBPROC_GETADDRLIST, (r) => {
        let list: RpcbEntryListPtr = null;
        const addrs = dir.addresses(r.r_prog, r.r_vers, r.r_netid);
        for (let i = addrs.length - 1; i >= 0; i--) {
          list = { rpcb_entry_map: { r_maddr: addrs[i]!, r_nc_netid: r.r_netid, r_nc_semantics: r.r_netid === 'tcp' ? 2 : 1, r_nc_protofmly: 'inet', r_nc_proto: r.r_netid }, rpcb_entry_next: list };
        }
        return list;
      }),
    ],
  };
}

/** Flattens a GETADDRLIST answer into its universal addresses. */
export function addressesOf(list: RpcbEntryListPtr): string[] {
  const out: string[] = [];
  for (let p = list; p !== null && out.length < MAX_MAPPINGS; p = p.rpcb_entry_next) out.push(p.rpcb_entry_map.r_maddr);
  return out;
}

/** The universal address of an IPv4 address and port (RFC 1833 section 2.1: "h1.h2.h3.h4.p1.p2"). */
export function universalAddress(ipv4: string, port: number): string {
  return `${ipv4}.${port >> 8}.${port & 255}`;
}

/** The IPv4 address and port of a universal address, or null when it is not one. */
export function parseUniversalAddress(s: string): { host: string; port: number } | null {
  const parts = s.split('.');
  if (parts.length !== 6 || !parts.every((p) => /^\d{1,3}$/.test(p) && Number(p) <= 255)) return null;
  const port = Number(parts[4]) * 256 + Number(parts[5]);
  return port === 0 ? null : { host: parts.slice(0, 4).join('.'), port };
}

/** The IPv4 address of simulated host `i` (host 0 is 10.0.0.1, as the simulator's captures name it). */
export function simHostAddress(i: number): string {
  return `10.0.0.${i + 1}`;
}

/** The simulated host of an IPv4 address, or null when the address is not one of the simulator's. */
export function simHostOf(ipv4: string): number | null {
  const m = /^10\.0\.0\.(\d{1,3})$/.exec(ipv4);
  if (m === null) return null;
  const n = Number(m[1]);
  return n >= 1 && n <= 255 ? n - 1 : null;
}
