// Naming: the portmapper, version 2 (RFC 1833 section 3). Servers register (program, version,
// protocol) -> port with a binder, and clients ask it for the port. The binder is the machine's
// rpcbind on port 111 when one runs, and otherwise the lab's own binder, an RpcServer serving the
// portmapper program on an unprivileged port (LAB_BINDER_PORT unless the user picks another).
//
// The lab binder accepts SET and UNSET only from loopback, as rpcbind does, holds a bounded
// number of mappings, and does not implement CALLIT (see pmap.x). It also serves rpcbind version
// 4's SET, UNSET and GETADDRLIST (rpcb_prot.x), where one program version may have several servers:
// the replicas of a replicated service register there, and their clients get the list.

import { ReplicaDirectory, rpcbProgram, universalAddress } from '../../core/rpc/replicas/directory.js';

import { RpcClient } from './client-net.js';
import { RPC_TRANSPORT, transportOfProtocol, type RpcTransportName } from '../../core/rpc/transports.js';
import { RpcServer } from './server-net.js';
import { IPPROTO_TCP, IPPROTO_UDP, PMAP_PORT, PmapProgV2, type Mapping } from '../../core/rpc/pmap.js';
import type { ProcedureDescriptor } from '../../core/rpc/program.js';
import { LAB_BINDER_PORT, PortmapRegistry, fromPmaplist, portmapProgram, protocolNumber } from '../../core/rpc/portmap.js';
import { RpcTransportError, type RetryPolicy } from '../../core/rpc/client.js';
import { RpcbprogV3, RpcbprogV4, type Rpcb } from '../../core/rpc/rpcb_prot.js';
import { fromRpcblist, type RpcbEntry } from '../../core/rpc/rpcbind.js';

/** A running lab binder. */
export interface LabBinder {
  readonly server: RpcServer;
  readonly registry: PortmapRegistry;
  /** rpcbind version 4's registrations: every replica of a program. */
  readonly directory: ReplicaDirectory;
  readonly port: number;
  close(): Promise<void>;
}

/** Starts the lab's binder on host:port (UDP and TCP), registered in itself as rpcbind is. */
export async function startLabBinder(host = '127.0.0.1', port = LAB_BINDER_PORT): Promise<LabBinder> {
  const registry = new PortmapRegistry();
  const directory = new ReplicaDirectory();
  const server = await RpcServer.start({ host, ports: { udp: port, tcp: port }, programs: [portmapProgram(registry), rpcbProgram(directory)], drc: { enabled: false, maxEntries: 64, maxAgeMs: 1000 } });
  registry.set({ prog: PmapProgV2.program, vers: PmapProgV2.version, prot: IPPROTO_TCP, port: server.port('tcp')! });
  registry.set({ prog: PmapProgV2.program, vers: PmapProgV2.version, prot: IPPROTO_UDP, port: server.port('udp')! });
  return { server, registry, directory, port: server.port('udp')!, close: () => server.close() };
}

/** The rpcbind version 4 registration of a UDP server of (program, version) at 127.0.0.1:port. */
export function replicaRegistration(program: number, version: number, port: number, owner: string): Rpcb {
  return replicaRegistrationAt(program, version, '127.0.0.1', port, owner);
}

/** The rpcbind version 4 registration of a UDP server of (program, version) at an IPv4 address and port. */
export function replicaRegistrationAt(program: number, version: number, ipv4: string, port: number, owner: string): Rpcb {
  return { r_prog: program, r_vers: version, r_netid: 'udp', r_addr: universalAddress(ipv4, port), r_owner: owner };
}

/** Registers a replica with the lab binder at 127.0.0.1:binderPort (RPCBPROC_SET); false when it was registered already. */
export function registerReplica(binderPort: number, r: Rpcb): Promise<boolean> {
  return pmapCall('127.0.0.1', binderPort, RpcbprogV4.procedures.RPCBPROC_SET, r);
}

/** Takes a replica's registration back (RPCBPROC_UNSET of its address). */
export function unregisterReplica(binderPort: number, r: Rpcb): Promise<boolean> {
  return pmapCall('127.0.0.1', binderPort, RpcbprogV4.procedures.RPCBPROC_UNSET, r);
}

/** Short calls to a binder: 250 ms apart, 1.5 s in all. */
const BINDER_POLICY: RetryPolicy = { timeoutMs: 1500, retryIntervalMs: 250, retryBackoff: 2, retryIntervalMsMax: 1000, maxRetransmissions: 4 };

/** One call to the portmapper at host:port, over UDP unless `transport` says TCP. */
export async function pmapCall<A, R>(host: string, port: number, proc: ProcedureDescriptor<A, R>, args: A, policy: RetryPolicy = BINDER_POLICY, transport: 'udp' | 'tcp' = 'udp'): Promise<R> {
  const c = await RpcClient.connect({ host, port, transport, policy });
  try {
    return await c.call(proc, args);
  } finally {
    await c.close();
  }
}

/**
 * True when a portmapper answers NULL at host:port. Where nothing listens, ICMP port unreachable
 * says so at once; the timeout only matters for a host that drops datagrams, or a busy machine.
 */
export async function binderAnswers(host: string, port: number, policy: RetryPolicy = { ...BINDER_POLICY, timeoutMs: 2000 }): Promise<boolean> {
  const c = await RpcClient.connect({ host, port, transport: 'udp', policy });
  try {
    await c.ping(PmapProgV2.program, PmapProgV2.version);
    return true;
  } catch {
    return false;
  } finally {
    await c.close();
  }
}

/** Which binder a host has: rpcbind on 111, else a lab binder on `labPort`; null when neither answers. */
export async function findBinder(host: string, labPort = LAB_BINDER_PORT, only?: number): Promise<{ port: number; kind: 'rpcbind' | 'lab' } | null> {
  const candidates = only !== undefined ? [only] : [PMAP_PORT, labPort];
  for (const port of candidates) {
    if (await binderAnswers(host, port)) return { port, kind: port === PMAP_PORT ? 'rpcbind' : 'lab' };
  }
  return null;
}

/** Mappings a server registered, and how to take them back. */
export interface Registration {
  readonly binderPort: number;
  readonly kind: 'rpcbind' | 'lab';
  readonly mappings: Mapping[];
  /** Transports the binder refused (plt with rpcbind). */
  readonly refused: Mapping[];
  /** Program versions left alone because another server that answers holds their mapping. */
  readonly skipped: { program: number; version: number; holder: Mapping }[];
  /** Removes this server's mappings, and no one else's. */
  unregister(): Promise<void>;
}

/** Does a server answer NULL of (program, version) where this loopback mapping points? */
async function mappingAnswers(m: Mapping): Promise<boolean> {
  const t = transportOfProtocol(m.prot);
  if (t === null || m.port === 0) return false;
  try {
    const c = await RpcClient.connect({ host: '127.0.0.1', port: m.port, transport: t, policy: { ...BINDER_POLICY, timeoutMs: 1000 } });
    try {
      await c.ping(m.prog, m.vers);
      return true;
    } finally {
      await c.close();
    }
  } catch {
    return false;
  }
}

/** The binder's mappings of (program, version). */
async function mappingsOf(port: number, program: number, version: number): Promise<Mapping[]> {
  const list = await pmapCall('127.0.0.1', port, PmapProgV2.procedures.PMAPPROC_DUMP, undefined, BINDER_POLICY, 'tcp');
  return fromPmaplist(list).filter((m) => m.prog === program && m.vers === version);
}

const sameMapping = (a: Mapping, b: Mapping) => a.prog === b.prog && a.vers === b.vers && a.prot === b.prot && a.port === b.port;

/**
 * Registers every program version a server serves with the binder on this machine (loopback),
 * one mapping per transport. Mappings of the same (prog, vers) that point at a server that still
 * answers are another server's: that version is skipped, not taken over. Stale ones (nothing
 * answers there any more) are replaced, as rpcgen's servers replace them. Portmapper version 2
 * unsets all protocols of a (prog, vers) at once, so unregister() puts back any mapping another
 * server made since.
 */
export async function registerServer(server: RpcServer, binder: { port: number; kind: 'rpcbind' | 'lab' }): Promise<Registration> {
  const host = '127.0.0.1';
  const served = new Map<string, { program: number; version: number }>();
  for (const e of server.engines()) for (const s of e.served()) served.set(`${s.program}|${s.version}`, s);
  const mappings: Mapping[] = [];
  const refused: Mapping[] = [];
  const skipped: { program: number; version: number; holder: Mapping }[] = [];
  const transports = server.transports().map((t) => [t, server.port(t)!] as const);
  const registered: { program: number; version: number }[] = [];
  for (const { program, version } of served.values()) {
    const existing = await mappingsOf(binder.port, program, version);
    let holder: Mapping | null = null;
    for (const m of existing) {
      if (await mappingAnswers(m)) {
        holder = m;
        break;
      }
    }
    if (holder !== null) {
      skipped.push({ program, version, holder });
      continue;
    }
    if (existing.length > 0) await pmapCall(host, binder.port, PmapProgV2.procedures.PMAPPROC_UNSET, { prog: program, vers: version, prot: 0, port: 0 });
    registered.push({ program, version });
    for (const [t, port] of transports) {
      const m: Mapping = { prog: program, vers: version, prot: protocolNumber(t), port };
      if (!RPC_TRANSPORT[t].rpcbind && binder.kind === 'rpcbind') {
        refused.push(m);
        continue;
      }
      if (await pmapCall(host, binder.port, PmapProgV2.procedures.PMAPPROC_SET, m)) mappings.push(m);
      else refused.push(m);
    }
  }
  return {
    binderPort: binder.port,
    kind: binder.kind,
    mappings,
    refused,
    skipped,
    unregister: async () => {
      for (const { program, version } of registered) {
        try {
          const now = await mappingsOf(binder.port, program, version);
          const mine = now.filter((m) => mappings.some((x) => sameMapping(x, m)));
          if (mine.length === 0) continue;
          const others = now.filter((m) => !mappings.some((x) => sameMapping(x, m)));
          await pmapCall(host, binder.port, PmapProgV2.procedures.PMAPPROC_UNSET, { prog: program, vers: version, prot: 0, port: 0 });
          for (const m of others) await pmapCall(host, binder.port, PmapProgV2.procedures.PMAPPROC_SET, m);
        } catch {
          // The binder is gone: there is nothing left to take back.
        }
      }
    },
  };
}

/**
 * Asks the binder of `host` for the port of (program, version) over a transport: rpcbind on 111
 * first, then a lab binder on `labPort` (or only `binderPort` when given). Throws an Error that
 * says what was tried when no binder answers or the program is not registered.
 */
export async function resolvePort(host: string, program: number, version: number, transport: RpcTransportName, o: { labPort?: number; binderPort?: number } = {}): Promise<number> {
  const candidates = o.binderPort !== undefined ? [o.binderPort] : [PMAP_PORT, o.labPort ?? LAB_BINDER_PORT];
  const tried: string[] = [];
  for (const port of candidates) {
    try {
      const p = await pmapCall(host, port, PmapProgV2.procedures.PMAPPROC_GETPORT, { prog: program, vers: version, prot: protocolNumber(transport), port: 0 });
      if (p !== 0) return p;
      tried.push(`the binder on port ${port} has no ${transport} registration of program ${program} version ${version}`);
    } catch (e) {
      tried.push(`no binder answers on ${host}:${port} (${e instanceof RpcTransportError ? e.kind : (e as Error).message})`);
    }
  }
  throw new Error(`cannot find the port of program ${program} version ${version} over ${transport}: ${tried.join('; ')} (give --port to skip the portmapper)`);
}

/** The mappings a host's binder holds (PMAPPROC_DUMP), from rpcbind on 111 or the lab binder. */
export async function dumpMappings(host: string, o: { labPort?: number; binderPort?: number } = {}): Promise<{ port: number; mappings: Mapping[] }> {
  const candidates = o.binderPort !== undefined ? [o.binderPort] : [PMAP_PORT, o.labPort ?? LAB_BINDER_PORT];
  const tried: string[] = [];
  for (const port of candidates) {
    try {
      // Over TCP, as rpcinfo -p asks (pmap_getmaps): a DUMP reply is many times its call, which a
      // binder must not send to an unproven UDP address (rpcbind's DUMP is a known amplifier).
      const list = await pmapCall(host, port, PmapProgV2.procedures.PMAPPROC_DUMP, undefined, BINDER_POLICY, 'tcp');
      return { port, mappings: fromPmaplist(list) };
    } catch (e) {
      tried.push(`${host}:${port}: ${(e as Error).message}`);
    }
  }
  throw new Error(`no portmapper answers (${tried.join('; ')})`);
}

/** The rpcbind versions beside portmapper version 2 (RFC 1833 section 2), with their stubs. */
export const RPCB_VERSIONS = { 3: RpcbprogV3, 4: RpcbprogV4 } as const;

/** An rpcbind version: 3 or 4. */
export type RpcbVersion = keyof typeof RPCB_VERSIONS;

/**
 * Every registration rpcbind holds (RPCBPROC_DUMP), with netids and universal addresses. Over TCP,
 * for the reason dumpMappings gives.
 */
export async function rpcbDump(host: string, version: RpcbVersion = 4, port = PMAP_PORT): Promise<RpcbEntry[]> {
  return fromRpcblist(await pmapCall(host, port, RPCB_VERSIONS[version].procedures.RPCBPROC_DUMP, undefined, BINDER_POLICY, 'tcp'));
}

/**
 * The universal address of a program version on a netid (RPCBPROC_GETADDR), "" when rpcbind has
 * none. rpcbind answers with the address as the caller reaches it (127.0.0.1.p.p from loopback).
 */
export async function rpcbGetAddr(host: string, q: { program: number; version: number; netid: string }, version: RpcbVersion = 4, port = PMAP_PORT): Promise<string> {
  return pmapCall(host, port, RPCB_VERSIONS[version].procedures.RPCBPROC_GETADDR, { r_prog: q.program, r_vers: q.version, r_netid: q.netid, r_addr: '', r_owner: '' });
}

/** rpcbind's clock (RPCBPROC_GETTIME): seconds since 1970. */
export async function rpcbGetTime(host: string, version: RpcbVersion = 4, port = PMAP_PORT): Promise<number> {
  return pmapCall(host, port, RPCB_VERSIONS[version].procedures.RPCBPROC_GETTIME, undefined);
}
