// Builds the C client and server of experiments/rpc/types.x with Debian's rpcgen and libtirpc
// (test/fixtures/rpc/*.c), for the interop tests. Reports what is missing instead of failing.

import { execFileSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { haveCommand } from '../../bench/lib.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');


/** What the C stubs need and this machine lacks (empty when they can be built). */
export function missingCTools(): string[] {
  const missing = ['rpcgen', 'gcc'].filter((c) => !haveCommand(c));
  if (!existsSync('/usr/include/tirpc/rpc/rpc.h')) missing.push('libtirpc-dev (/usr/include/tirpc)');
  return missing;
}

/** Builds types_client and types_server into a new temporary directory and returns it. */
export function buildTypesStubs(): string {
  const dir = mkdtempSync(join(tmpdir(), 'rpc-c-'));
  copyFileSync(join(root, 'experiments/rpc/types.x'), join(dir, 'types.x'));
  for (const f of ['types_client.c', 'types_server.c', 'types_sample.h']) copyFileSync(join(root, 'test/fixtures/rpc', f), join(dir, f));
  const run = (cmd: string, args: string[]) => execFileSync(cmd, args, { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
  run('rpcgen', ['-h', 'types.x', '-o', 'types.h']);
  run('rpcgen', ['-c', 'types.x', '-o', 'types_xdr.c']);
  run('rpcgen', ['-l', 'types.x', '-o', 'types_clnt.c']);
  run('rpcgen', ['-m', 'types.x', '-o', 'types_svc.c']);
  const cc = ['-I/usr/include/tirpc', '-I.'];
  run('gcc', [...cc, '-o', 'types_client', 'types_client.c', 'types_clnt.c', 'types_xdr.c', '-ltirpc']);
  run('gcc', [...cc, '-o', 'types_server', 'types_server.c', 'types_svc.c', 'types_xdr.c', '-ltirpc']);
  return dir;
}

/**
 * Builds the C server of test/fixtures/rpc/shorthand.x (with the shorthand_common.x it includes)
 * into a new temporary directory, rpcgen running where the .x files are, as a user would run it.
 * Returns the directory; the server is `shorthand_server` and the XDR routines `shorthand_xdr.c`.
 */
export function buildShorthandServer(): string {
  const dir = mkdtempSync(join(tmpdir(), 'rpc-c-shorthand-'));
  for (const f of ['shorthand.x', 'shorthand_common.x', 'shorthand_server.c']) copyFileSync(join(root, 'test/fixtures/rpc', f), join(dir, f));
  const run = (cmd: string, args: string[]) => execFileSync(cmd, args, { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
  run('rpcgen', ['-h', 'shorthand.x', '-o', 'shorthand.h']);
  run('rpcgen', ['-c', 'shorthand.x', '-o', 'shorthand_xdr.c']);
  run('rpcgen', ['-m', 'shorthand.x', '-o', 'shorthand_svc.c']);
  run('gcc', ['-I/usr/include/tirpc', '-I.', '-o', 'shorthand_server', 'shorthand_server.c', 'shorthand_svc.c', 'shorthand_xdr.c', '-ltirpc']);
  return dir;
}
