// Running tshark with the lab's dissector. Tests that need it skip with a message when it is not
// installed, except under CI (CI=true), where a missing tshark is a failure: .ci/run installs it.

import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

/** Path of the Lua dissector in this checkout. */
export const DISSECTOR = fileURLToPath(new URL('../../tools/wireshark/packetlab.lua', import.meta.url));

function probe(): string | null {
  const r = spawnSync('tshark', ['--version'], { encoding: 'utf8' });
  if (r.error !== undefined || r.status !== 0) return null;
  return r.stdout.split('\n')[0] ?? 'tshark';
}

/** The first line of `tshark --version`, or null when tshark cannot run. */
export const TSHARK_VERSION = probe();

/** True when the tshark tests must be skipped (tshark missing and not under CI). */
export const SKIP_TSHARK = TSHARK_VERSION === null && process.env.CI !== 'true';

if (TSHARK_VERSION === null) {
  const msg = 'tshark is not installed: the capture tests that open files in tshark are skipped (apt-get install tshark)';
  if (process.env.CI === 'true') throw new Error(`${msg}; under CI they must run`);
  console.warn(msg);
}

/** Runs tshark; throws with its stderr when it fails. */
export function tshark(args: string[]): { stdout: string; stderr: string } {
  const r = spawnSync('tshark', args, { encoding: 'utf8', maxBuffer: 256 * 1024 * 1024 });
  if (r.status !== 0) throw new Error(`tshark ${args.join(' ')} exited with ${r.status}: ${r.stderr}`);
  // tshark warns about running as root on stderr; anything else (a Lua error) is the test's business.
  const stderr = r.stderr
    .split('\n')
    .filter((l) => l !== '' && !l.startsWith('Running as user'))
    .join('\n');
  return { stdout: r.stdout, stderr };
}

/**
 * Field values of every frame of `file`, decoded with the lab's dissector: one row per frame, one
 * string per field (multiple occurrences joined by ","). Lab captures are read with UDP heuristics
 * first, as docs/wireshark.md advises for runs on ports another dissector claims.
 */
export function tsharkFields(file: string, fields: readonly string[], heuristicFirst = true, prefs: readonly string[] = []): { rows: string[][]; stderr: string } {
  const args = ['-n', '-r', file, '-X', `lua_script:${DISSECTOR}`, '-o', `udp.try_heuristic_first:${heuristicFirst ? 'TRUE' : 'FALSE'}`, ...prefs.flatMap((p) => ['-o', p]), '-T', 'fields', '-E', 'separator=/t', '-E', 'occurrence=a', '-E', 'aggregator=,'];
  for (const f of fields) args.push('-e', f);
  const { stdout, stderr } = tshark(args);
  const rows = stdout
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => l.split('\t'));
  return { rows, stderr };
}
