// `packetlab rpcinfo [HOST] [PROG VERS]`: what the portmapper of a host holds. Without -p it asks
// rpcbind versions 4 (or 3) for every registration with its netid and universal address, printed
// as `rpcinfo` prints them; -T NETID keeps one netid, and with PROG and VERS asks rpcbind for the
// address of that program version on that netid (RPCBPROC_GETADDR). With -p it lists portmapper
// version 2's mappings like `rpcinfo -p`, from rpcbind on port 111 or the lab binder.

import { readFileSync } from 'node:fs';
import { Option, type Command } from 'commander';
import { RPCB_VERSIONS, dumpMappings, rpcbDump, rpcbGetAddr, type RpcbVersion } from '../../net/rpc/binder.js';
import { protocolName } from '../../core/rpc/portmap.js';
import { PMAP_PORT } from '../../core/rpc/pmap.js';
import { parseUniversalAddress, type RpcbEntry } from '../../core/rpc/rpcbind.js';
import { DEMO_PROGRAM_NAMES } from '../../experiments/rpc/demo.js';
import { parseNumber } from '../../core/units.js';
import { numberArg } from '../args.js';
import { UsageError } from '../options.js';
import { jsonLine } from '../output.js';
import { addBinderOption } from './rpc-options.js';

/** Program names from /etc/rpc (as getrpcbynumber reads them), plus the lab's demo programs. */
export function rpcProgramNames(path = '/etc/rpc'): Map<number, string> {
  const names = new Map<number, string>(Object.entries(DEMO_PROGRAM_NAMES).map(([k, v]) => [Number(k), v]));
  let text = '';
  try {
    text = readFileSync(path, 'utf8');
  } catch {
    return names;
  }
  for (const line of text.split('\n')) {
    const m = /^\s*([^#\s]+)\s+(\d+)/.exec(line);
    if (m !== null && !names.has(Number(m[2]))) names.set(Number(m[2]), m[1]!);
  }
  return names;
}

/** One line of `rpcinfo`'s table (rpcinfo.c, rpcbdump): the same columns and widths. */
export function rpcbTableLine(e: RpcbEntry, service: string | undefined): string {
  return `${String(e.program).padStart(10)}${String(e.version).padStart(5)}    ${e.netid.padEnd(9)} ${e.address.padEnd(22)} ${(service ?? '-').padEnd(10)} ${e.owner}`;
}

/** The header of `rpcinfo`'s table. */
export const RPCB_TABLE_HEADER = '   program version netid     address                service    owner';

function programArg(what: string): (text: string) => number {
  return numberArg(parseNumber, 0, 0xffffffff, what, true);
}

/** Registers `packetlab rpcinfo`. */
export function registerRpcinfo(program: Command): void {
  const cmd = program
    .command('rpcinfo')
    .summary('list the RPC programs registered with rpcbind (like rpcinfo, or rpcinfo -p)')
    .description(
      'Asks rpcbind on HOST (default 127.0.0.1) for every registration (RPCBPROC_DUMP, RFC 1833 section 2, version 4 unless --rpcb-version 3) and prints program, version, netid, universal address, service and owner, as rpcinfo does. -T NETID keeps the entries of one netid; with PROG and VERS it asks rpcbind where that program version is on that netid (RPCBPROC_GETADDR). -p lists the portmapper version 2 mappings instead, like rpcinfo -p: rpcbind on port 111, or the lab binder when no rpcbind answers (lab-transport registrations show as proto "plt").',
    )
    .argument('[host]', 'host to ask', '127.0.0.1')
    .argument('[prog]', 'with -T and VERS: the program to look up', programArg('PROG'))
    .argument('[vers]', 'the version to look up', programArg('VERS'))
    .addOption(new Option('-p, --portmap', 'list portmapper version 2 mappings (program, version, protocol, port), like rpcinfo -p'))
    .addOption(new Option('-T, --netid <netid>', 'only this netid (udp, tcp, udp6, tcp6, local, ...); with PROG VERS, the netid to look up'))
    .addOption(new Option('--rpcb-version <n>', 'rpcbind version to speak (default 4)').choices(Object.keys(RPCB_VERSIONS)))
    .addOption(new Option('--json', 'print one JSON object per entry'));
  addBinderOption(cmd);
  cmd.action(async (host: string, prog: number | undefined, vers: number | undefined, o: { json?: boolean; binderPort?: number; portmap?: boolean; netid?: string; rpcbVersion?: string }) => {
    const h = host === 'localhost' ? '127.0.0.1' : host;
    const names = rpcProgramNames();
    const version = Number(o.rpcbVersion ?? 4) as RpcbVersion;
    if (o.portmap === true) {
      if (prog !== undefined || o.netid !== undefined) throw new UsageError('-p lists every mapping: it takes no PROG, VERS or -T');
      return printPortmap(h, names, o);
    }
    const port = o.binderPort ?? PMAP_PORT;
    if (prog !== undefined) {
      if (vers === undefined || o.netid === undefined) throw new UsageError('PROG needs VERS and -T NETID: packetlab rpcinfo HOST PROG VERS -T udp');
      const address = await rpcbGetAddr(h, { program: prog, version: vers, netid: o.netid }, version, port);
      const at = parseUniversalAddress(address);
      if (o.json === true) jsonLine({ type: 'address', program: prog, version: vers, netid: o.netid, address: address === '' ? null : address, host: at?.host ?? null, port: at?.port ?? null });
      else if (address === '') {
        process.stderr.write(`packetlab: program ${prog} version ${vers} is not registered on ${o.netid} with rpcbind at ${h}:${port}\n`);
        process.exitCode = 1;
      } else console.log(`program ${prog} version ${vers} netid ${o.netid} address ${address}${at === null ? '' : ` (${at.host} port ${at.port})`}`);
      return;
    }
    let entries: RpcbEntry[];
    try {
      entries = await rpcbDump(h, version, port);
    } catch (e) {
      if (o.binderPort !== undefined || o.netid !== undefined) throw e;
      // The lab binder speaks portmapper version 2 only: list it that way.
      process.stderr.write(`packetlab: rpcbind version ${version} does not answer on ${h}:${port} (${(e as Error).message}); portmapper version 2 follows\n`);
      return printPortmap(h, names, o);
    }
    if (o.netid !== undefined) entries = entries.filter((e) => e.netid === o.netid);
    if (o.json === true) {
      for (const e of entries) jsonLine({ type: 'entry', ...e, service: names.get(e.program) ?? null });
      return;
    }
    console.log(RPCB_TABLE_HEADER);
    for (const e of entries) console.log(rpcbTableLine(e, names.get(e.program)));
  });
}

async function printPortmap(h: string, names: Map<number, string>, o: { json?: boolean; binderPort?: number }): Promise<void> {
  const { port, mappings } = await dumpMappings(h, { binderPort: o.binderPort });
  if (o.json === true) {
    for (const m of mappings) jsonLine({ type: 'mapping', binderPort: port, program: m.prog, version: m.vers, protocol: protocolName(m.prot), port: m.port, service: names.get(m.prog) ?? null });
    return;
  }
  console.log('   program vers proto   port  service');
  for (const m of mappings) {
    console.log(`${String(m.prog).padStart(10)} ${String(m.vers).padStart(4)} ${protocolName(m.prot).padStart(5)} ${String(m.port).padStart(6)}  ${names.get(m.prog) ?? ''}`.trimEnd());
  }
}
