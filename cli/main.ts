// The `packetlab` command line. Each command lives in cli/commands/ and registers itself here.
// Usage errors print one line and exit with code 2; a run that fails exits with code 1.

import { readFileSync } from 'node:fs';
import { Command, CommanderError } from 'commander';
import { UsageError } from './options.js';
import { registerTransfer } from './commands/transfer.js';
import { registerUdp } from './commands/udp.js';
import { registerRpc } from './commands/rpc.js';
import { registerRpcgen } from './commands/rpcgen.js';
import { registerRpcinfo } from './commands/rpcinfo.js';
import { registerRun } from './commands/run.js';
import { registerServe } from './commands/serve.js';
import { registerPeer } from './commands/peer.js';
import { registerPeers } from './commands/peers.js';

const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };

/** Builds the program with every command registered. */
export function buildProgram(): Command {
  const program = new Command('packetlab')
    .description('Packet Lab: run real UDP traffic and the lab reliable transport, impair it, watch it and export it.')
    .version(pkg.version)
    .showHelpAfterError('(add --help for usage)')
    .exitOverride()
    .configureOutput({ outputError: (str, write) => write(str) });
  registerUdp(program);
  registerTransfer(program);
  registerRpc(program);
  registerRpcgen(program);
  registerRpcinfo(program);
  registerRun(program);
  registerServe(program);
  registerPeer(program);
  registerPeers(program);
  return program;
}

/** Runs the CLI with argv; resolves with the exit code. */
export async function main(argv: string[]): Promise<number> {
  const program = buildProgram();
  try {
    await program.parseAsync(argv);
    return typeof process.exitCode === 'number' ? process.exitCode : 0;
  } catch (e) {
    if (e instanceof CommanderError) {
      // Help and version exit 0; every usage error exits 2.
      return e.exitCode === 0 ? 0 : 2;
    }
    if (e instanceof UsageError) {
      process.stderr.write(`packetlab: ${e.message}\n`);
      return 2;
    }
    process.stderr.write(`packetlab: ${(e as Error).message}\n`);
    return 1;
  }
}

const code = await main(process.argv);
process.exitCode = code;
