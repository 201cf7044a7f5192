// The `packetlab` command line (bin/packetlab.js runs this file): builds the command tree of
// cli/program.ts and runs it. Usage errors print one line and exit with code 2; a run that fails
// exits with code 1.

import { CommanderError } from 'commander';
import { UsageError } from './options.js';
import { buildProgram } from './program.js';

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
