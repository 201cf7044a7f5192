// Naming: the portmapper, version 2 (RFC 1833 section 3). Servers register (program, version,
// protocol) -> port with a binder, and clients ask it for the port. The binder is the machine's
// rpcbind on port 111 when one runs, and otherwise the lab's own binder, an RpcServer serving the
// portmapper program on an unprivileged port (LAB_BINDER_PORT unless the user picks another).
//
// The lab binder accepts SET and UNSET only from loopback, as rpcbind does, holds a bounded
// number of mappings, and does not implement CALLIT (see pmap.x).

import { RpcClient, type RpcTransportName } from './client-net.js';
import { RpcServer } from './server-net.js';
import { IPPROTO_TCP, IPPROTO_UDP, PMAP_PORT, PmapProgV2, pmapProgV2Server, type Mapping, type PmaplistPtr } from './pmap.js';
import type { ProcedureDescriptor, RpcCallContext } from './program.js';
import { RpcTransportError, type RetryPolicy } from './client.js';

/** Default port of the lab's own binder when no rpcbind runs on port 111. */
export const LAB_BINDER_PORT = 10111;

/**
 * Protocol number under which lab-transport (plt) servers register with the lab binder: 254 is
 * reserved for experimentation (RFC 3692). rpcbind only knows TCP and UDP and refuses it.
 */
export const PLT_PROTOCOL = 254;

/** Mappings a lab binder holds at most. */
export const MAX_MAPPINGS = 1024;

/** The `prot` number of a transport. */
export function protocolNumber(t: RpcTransportName): number {
  return t === 'udp' ? IPPROTO_UDP : t === 'tcp' ? IPPROTO_TCP : PLT_PROTOCOL;
}

/** The name rpcinfo prints for a protocol number. */
export function protocolName(prot: number): string {
  return prot === IPPROTO_UDP ? 'udp' : prot === IPPROTO_TCP ? 'tcp' : prot === PLT_PROTOCOL ? 'plt' : String(prot);
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

/** A running lab binder. */
export interface LabBinder {
  readonly server: RpcServer;
  readonly registry: PortmapRegistry;
  readonly port: number;
  close(): Promise<void>;
}

/** Starts the lab's binder on host:port (UDP and TCP), registered in itself as rpcbind is. */
export async function startLabBinder(host = '127.0.0.1', port = LAB_BINDER_PORT): Promise<LabBinder> {
  const registry = new PortmapRegistry();
  const server = await RpcServer.start({ host, udpPort: port, tcpPort: port, programs: [portmapProgram(registry)], drc: { enabled: false, maxEntries: 64, maxAgeMs: 1000 } });
  registry.set({ prog: PmapProgV2.program, vers: PmapProgV2.version, prot: IPPROTO_TCP, port: server.tcpPort! });
  registry.set({ prog: PmapProgV2.program, vers: PmapProgV2.version, prot: IPPROTO_UDP, port: server.udpPort! });
  return { server, registry, port: server.udpPort!, close: () => server.close() };
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

/** The transport of a mapping's protocol number, or null for one the lab does not speak. */
function transportOf(prot: number): RpcTransportName | null {
  return prot === IPPROTO_UDP ? 'udp' : prot === IPPROTO_TCP ? 'tcp' : prot === PLT_PROTOCOL ? 'plt' : null;
}

/** Does a server answer NULL of (program, version) where this loopback mapping points? */
async function mappingAnswers(m: Mapping): Promise<boolean> {
  const t = transportOf(m.prot);
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
  const transports: [RpcTransportName, number | null][] = [
    ['udp', server.udpPort],
    ['tcp', server.tcpPort],
    ['plt', server.pltPort],
  ];
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
      if (port === null) continue;
      const m: Mapping = { prog: program, vers: version, prot: protocolNumber(t), port };
      if (t === 'plt' && binder.kind === 'rpcbind') {
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
