// The `packetlab` command tree. Each command lives in cli/commands/ and registers itself here;
// cli/main.ts runs it. Kept apart from main.ts so that tests can build the tree and reach the
// very argument parsers the command line uses without running a command.

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Command } from 'commander';
import { projectRoot } from '../net/paths.js';
import { registerTransfer } from './commands/transfer.js';
import { registerUdp } from './commands/udp.js';
import { registerRpc } from './commands/rpc.js';
import { registerRpcgen } from './commands/rpcgen.js';
import { registerRpcinfo } from './commands/rpcinfo.js';
import { registerRun } from './commands/run.js';
import { registerServe } from './commands/serve.js';
import { registerPeer } from './commands/peer.js';
import { registerPeers } from './commands/peers.js';

// From the project root, found from here both in dist/ and (under Vitest) in the sources.
const pkg = JSON.parse(readFileSync(join(projectRoot(), 'package.json'), 'utf8')) as { version: string };

// Errors about the shape of the command line (rather than a flag's value, whose message already
// says what is accepted) end with where to look.
const SHAPE_ERROR = /^(unknown option|unknown command|too many arguments|missing required argument|required option|option '[^']*' argument missing)/;

/** The full name of a command, as typed: `packetlab rpc workload`. */
function commandPath(cmd: Command): string {
  const names: string[] = [];
  for (let c: Command | null = cmd; c !== null; c = c.parent) names.unshift(c.name());
  return names.join(' ');
}

/**
 * Commander's error text as one line: `packetlab: ` instead of `error: `, its suggestion
 * ("Did you mean ...?", printed on a line of its own) folded in, and for errors of the command
 * line's shape a pointer to the command's --help.
 */
export function usageErrorLine(text: string, path: string): string {
  const line = text.replace(/^error: /, '').replace(/\s*\n\s*/g, ' ').trim();
  return `packetlab: ${line}${SHAPE_ERROR.test(line) ? ` (see ${path} --help)` : ''}\n`;
}

/** Makes every command print its usage errors as one line (see usageErrorLine). */
function oneLineErrors(cmd: Command): void {
  const path = commandPath(cmd);
  cmd.configureOutput({ outputError: (str, write) => write(usageErrorLine(str, path)) });
  for (const sub of cmd.commands) oneLineErrors(sub);
}

/** Builds the program with every command registered. */
export function buildProgram(): Command {
  const program = new Command('packetlab')
    .description('Packet Lab: run real UDP traffic and the lab reliable transport, impair it, watch it and export it.')
    .version(pkg.version)
    .exitOverride();
  registerUdp(program);
  registerTransfer(program);
  registerRpc(program);
  registerRpcgen(program);
  registerRpcinfo(program);
  registerRun(program);
  registerServe(program);
  registerPeer(program);
  registerPeers(program);
  oneLineErrors(program);
  return program;
}
