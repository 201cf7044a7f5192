// `packetlab rpcinfo [-p] [HOST]`: what the portmapper of a host holds, printed like `rpcinfo -p`.
// It asks rpcbind on port 111, and the lab binder when no rpcbind answers.

import { readFileSync } from 'node:fs';
import { Option, type Command } from 'commander';
import { dumpMappings } from '../../net/rpc/binder.js';
import { protocolName } from '../../core/rpc/portmap.js';
import { DEMO_PROGRAM_NAMES } from '../../experiments/rpc/demo.js';
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

/** Registers `packetlab rpcinfo`. */
export function registerRpcinfo(program: Command): void {
  const cmd = program
    .command('rpcinfo')
    .summary('list the RPC programs registered with a portmapper (like rpcinfo -p)')
    .description('Asks the portmapper of HOST (default 127.0.0.1) for its mappings (PMAPPROC_DUMP, RFC 1833): rpcbind on port 111, or the lab binder when no rpcbind answers. Lab-transport registrations show as proto "plt".')
    .argument('[host]', 'host to ask', '127.0.0.1')
    .addOption(new Option('-p, --portmap', 'use portmapper version 2 (the only one packetlab speaks; accepted for rpcinfo compatibility)'))
    .addOption(new Option('--json', 'print one JSON object per mapping'));
  addBinderOption(cmd);
  cmd.action(async (host: string, o: { json?: boolean; binderPort?: number }) => {
    const h = host === 'localhost' ? '127.0.0.1' : host;
    const { port, mappings } = await dumpMappings(h, { binderPort: o.binderPort });
    const names = rpcProgramNames();
    if (o.json === true) {
      for (const m of mappings) jsonLine({ type: 'mapping', binderPort: port, program: m.prog, version: m.vers, protocol: protocolName(m.prot), port: m.port, service: names.get(m.prog) ?? null });
      return;
    }
    console.log('   program vers proto   port  service');
    for (const m of mappings) {
      console.log(`${String(m.prog).padStart(10)} ${String(m.vers).padStart(4)} ${protocolName(m.prot).padStart(5)} ${String(m.port).padStart(6)}  ${names.get(m.prog) ?? ''}`.trimEnd());
    }
  });
}
