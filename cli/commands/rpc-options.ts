// Flags shared by the RPC commands: retry policy, duplicate request cache, credentials, the
// binder's port, and reading a .x file into a spec with errors that name the place.

import { readFileSync, statSync } from 'node:fs';
import { hostname, userInfo } from 'node:os';
import { InvalidArgumentError, Option, type Command } from 'commander';
import { DEFAULT_RETRY_POLICY, retryPolicyProblems, type RetryPolicy } from '../../core/rpc/client.js';
import { DEFAULT_DRC_CONFIG, type DrcConfig } from '../../core/rpc/drc.js';
import { AuthFlavor, type Credential } from '../../core/rpc/message.js';
import { formatParseError, parseXdrFile } from '../../core/rpc/xdr-parser.js';
import { PP_LIMITS } from '../../core/rpc/xdr-preprocessor.js';
import { LAB_BINDER_PORT } from '../../core/rpc/portmap.js';
import type { XdrSpec } from '../../core/rpc/spec.js';
import { parseMs, parseNumber } from '../../core/units.js';
import { durationArg, numberArg } from '../args.js';
import { UsageError } from '../options.js';

/** A port flag: 1..65535 (0 allowed when `zero`, to pick a free one). */
export function portArg(flag: string, zero = false): (text: string) => number {
  return numberArg(parseNumber, zero ? 0 : 1, 65535, flag, true);
}

/** Adds --timeout, --retry, --backoff, --retry-max and --max-retries. */
export function addRetryOptions(cmd: Command, group = 'Calls:'): void {
  const d = DEFAULT_RETRY_POLICY;
  cmd.addOption(new Option('--timeout <time>', `total time a call may take, retransmissions included; a bare number is ms (default ${d.timeoutMs / 1000}s)`).argParser(durationArg(parseMs, 1, 3_600_000, '--timeout')).helpGroup(group));
  cmd.addOption(new Option('--retry <time>', `UDP: first retransmission interval, 0 sends once; a bare number is ms (default ${d.retryIntervalMs}ms; TCP and plt never retransmit, their transport does)`).argParser((t: string) => retryInterval(t)).helpGroup(group));
  cmd.addOption(new Option('--backoff <factor>', `UDP: factor applied to the interval after each retransmission, 1 keeps it fixed (default ${d.retryBackoff})`).argParser(numberArg(parseNumber, 1, 8, '--backoff')).helpGroup(group));
  cmd.addOption(new Option('--retry-max <time>', `UDP: upper bound of the interval; a bare number is ms (default ${d.retryIntervalMsMax / 1000}s)`).argParser(durationArg(parseMs, 10, 600_000, '--retry-max')).helpGroup(group));
  cmd.addOption(new Option('--max-retries <n>', `UDP: most retransmissions of one call (default ${d.maxRetransmissions})`).argParser(numberArg(parseNumber, 0, 100, '--max-retries', true)).helpGroup(group));
}

function retryInterval(text: string): number {
  const v = durationArg(parseMs, 0, 600_000, '--retry')(text);
  if (v !== 0 && v < 10) throw new InvalidArgumentError(`--retry must be 0 (send once) or from 10ms to 600000ms (got ${text}): a shorter interval floods the server`);
  return v;
}

/** The retry policy from the flags; a usage error names the flags that clash. */
export function readRetryPolicy(o: Record<string, unknown>): RetryPolicy {
  const d = DEFAULT_RETRY_POLICY;
  const retry = (o.retry as number | undefined) ?? d.retryIntervalMs;
  const p: RetryPolicy = {
    timeoutMs: (o.timeout as number | undefined) ?? d.timeoutMs,
    retryIntervalMs: retry,
    retryBackoff: (o.backoff as number | undefined) ?? d.retryBackoff,
    retryIntervalMsMax: (o.retryMax as number | undefined) ?? Math.max(d.retryIntervalMsMax, retry),
    maxRetransmissions: (o.maxRetries as number | undefined) ?? d.maxRetransmissions,
  };
  if (p.retryIntervalMsMax < p.retryIntervalMs) throw new UsageError(`--retry-max (${p.retryIntervalMsMax}ms) must not be below --retry (${p.retryIntervalMs}ms)`);
  const problems = retryPolicyProblems(p);
  if (problems.length > 0) throw new UsageError(problems[0]!);
  return p;
}

/** Adds --no-drc, --drc-entries and --drc-age. */
export function addDrcOptions(cmd: Command, group = 'Duplicate request cache:'): void {
  const d = DEFAULT_DRC_CONFIG;
  cmd.addOption(new Option('--drc', 'answer retransmitted and duplicated requests from the cache: at-most-once (default on)').helpGroup(group));
  cmd.addOption(new Option('--no-drc', 'execute every copy of a request again: at-least-once, duplicate executions are counted').helpGroup(group));
  cmd.addOption(new Option('--drc-entries <n>', `requests the cache remembers (default ${d.maxEntries})`).argParser(numberArg(parseNumber, 1, 1_000_000, '--drc-entries', true)).helpGroup(group));
  cmd.addOption(new Option('--drc-age <time>', `how long the cache remembers a request; a bare number is ms (default ${d.maxAgeMs / 1000}s)`).argParser(durationArg(parseMs, 1, 86_400_000, '--drc-age')).helpGroup(group));
}

/** The duplicate request cache config from the flags. */
export function readDrc(o: Record<string, unknown>): DrcConfig {
  const d = DEFAULT_DRC_CONFIG;
  return { enabled: o.drc !== false, maxEntries: (o.drcEntries as number | undefined) ?? d.maxEntries, maxAgeMs: (o.drcAge as number | undefined) ?? d.maxAgeMs };
}

/** Adds --auth, --uid, --gid and --machine. */
export function addAuthOptions(cmd: Command, group = 'Calls:'): void {
  cmd.addOption(new Option('--auth <flavor>', 'credentials: none (AUTH_NONE) or sys (AUTH_SYS: machine name, uid, gid) (default none)').choices(['none', 'sys']).helpGroup(group));
  cmd.addOption(new Option('--uid <n>', 'AUTH_SYS uid (default: yours)').argParser(numberArg(parseNumber, 0, 2 ** 32 - 1, '--uid', true)).helpGroup(group));
  cmd.addOption(new Option('--gid <n>', 'AUTH_SYS gid (default: yours)').argParser(numberArg(parseNumber, 0, 2 ** 32 - 1, '--gid', true)).helpGroup(group));
  cmd.addOption(new Option('--machine <name>', 'AUTH_SYS machine name (default: this host name)').helpGroup(group));
}

/** The credential from the flags. */
export function readCredential(o: Record<string, unknown>): Credential {
  if (o.auth !== 'sys') {
    if (o.uid !== undefined || o.gid !== undefined || o.machine !== undefined) throw new UsageError('--uid, --gid and --machine need --auth sys');
    return { flavor: AuthFlavor.AUTH_NONE };
  }
  let uid = 0;
  let gid = 0;
  try {
    const u = userInfo();
    uid = u.uid;
    gid = u.gid;
  } catch {
    // No passwd entry: keep 0.
  }
  const machineName = (o.machine as string | undefined) ?? hostname();
  if (Buffer.byteLength(machineName) > 255) throw new UsageError('--machine: the machine name may have at most 255 bytes (RFC 5531 appendix A)');
  return { flavor: AuthFlavor.AUTH_SYS, sys: { stamp: Math.floor(Date.now() / 1000) >>> 0, machineName, uid: (o.uid as number | undefined) ?? uid, gid: (o.gid as number | undefined) ?? gid, gids: [] } };
}

/** Adds --binder-port. */
export function addBinderOption(cmd: Command, group = 'Naming:'): void {
  cmd.addOption(new Option('--binder-port <port>', `the portmapper to use: by default rpcbind on 111, else the lab binder on ${LAB_BINDER_PORT}`).argParser(portArg('--binder-port')).helpGroup(group));
}

/** The folders rpcgen's cpp searches after -I: the system's include folders. */
export const SYSTEM_INCLUDE_DIRS = ['/usr/local/include', '/usr/include'];

/** How .x files are preprocessed: -I folders and -D macros. */
export interface SpecSourceOptions {
  includeDirs?: string[];
  defines?: Record<string, string>;
}

/** Adds -I and -D, which the preprocessor of .x files reads as cpp does for rpcgen. */
export function addPreprocessorOptions(cmd: Command, group?: string): void {
  const collect = (v: string, prev: string[] | undefined) => [...(prev ?? []), v];
  const i = new Option('-I, --include <dir>', 'folder to search for #include files (repeatable; "..." first searches the including file\'s folder; the system folders /usr/local/include and /usr/include come last)').argParser(collect);
  const d = new Option('-D, --define <name[=value]>', 'define a macro for the .x file\'s #if and #ifdef (repeatable; value 1 when not given)').argParser(collect);
  if (group !== undefined) {
    i.helpGroup(group);
    d.helpGroup(group);
  }
  cmd.addOption(i);
  cmd.addOption(d);
}

/** The preprocessor options from -I and -D. */
export function readPreprocessorOptions(o: Record<string, unknown>): SpecSourceOptions {
  const defines: Record<string, string> = {};
  for (const text of (o.define as string[] | undefined) ?? []) {
    const m = /^([A-Za-z_][A-Za-z0-9_]*)(?:=(.*))?$/s.exec(text);
    if (m === null) throw new UsageError(`-D ${text}: expected NAME or NAME=VALUE`);
    defines[m[1]!] = m[2] ?? '1';
  }
  return { includeDirs: (o.include as string[] | undefined) ?? [], defines };
}

/**
 * Reads a file for the preprocessor: its text, or null when it is not a readable regular file. A
 * file larger than the preprocessor reads in all is not read (an #include of /dev/zero would
 * otherwise never end); the preprocessor then reports that the include is not found.
 */
function readIncluded(path: string): string | null {
  try {
    const st = statSync(path);
    if (!st.isFile() || st.size > PP_LIMITS.totalBytes) return null;
    return readFileSync(path, 'utf8');
  } catch {
    return null;
  }
}

/** Reads and parses a .x file; a bad file is an Error whose message is `file:line:column: ...`. */
export function readSpec(path: string, source: SpecSourceOptions = {}): XdrSpec {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new Error(`cannot read ${path}: ${(e as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (e as Error).message}`);
  }
  const r = parseXdrFile(text, path, { readFile: readIncluded, includeDirs: source.includeDirs, systemDirs: SYSTEM_INCLUDE_DIRS, defines: source.defines });
  if (!r.ok) throw new Error(formatParseError(r.error));
  return r.spec;
}
