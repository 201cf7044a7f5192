// Two hosts on one machine: two network namespaces joined by a veth pair, 10.77.0.1/24 in the first
// and 10.77.0.2/24 in the second (each namespace has its own stack, so the same subnet in another
// test run's namespaces does not clash). Commands run inside a namespace with `ip netns exec`.
// Names are unique per run; destroy() kills what was started and deletes both namespaces (the veth
// pair goes with them), and an exit hook does the same if the test process dies first.

import { spawn, spawnSync, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { randomBytes } from 'node:crypto';

/** Why namespaces cannot be used here, or null when they can (root, Linux, iproute2, `ip netns add` works). */
export function canUseNetns(): string | null {
  if (process.platform !== 'linux') return `network namespaces need Linux (this is ${process.platform})`;
  if (process.getuid?.() !== 0) return 'network namespaces need root (CI runs the tests as root)';
  const version = spawnSync('ip', ['-V'], { encoding: 'utf8' });
  if (version.error !== undefined) return `the ip command (iproute2) is missing: ${version.error.message}`;
  const probe = `plprobe-${process.pid}-${randomBytes(3).toString('hex')}`;
  const add = spawnSync('ip', ['netns', 'add', probe], { encoding: 'utf8' });
  if (add.status !== 0) return `\`ip netns add\` failed: ${(add.stderr || add.stdout || `exit ${add.status}`).trim()}`;
  spawnSync('ip', ['netns', 'del', probe]);
  return null;
}

/** Output of a command that ran to its end. */
export interface NetnsResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** Two namespaces joined by a veth pair. */
export interface NetnsPair {
  /** Namespace names. */
  readonly a: string;
  readonly b: string;
  /** The address of each namespace's end of the veth pair. */
  readonly addressA: string;
  readonly addressB: string;
  /** Starts `command args` inside a namespace (it is killed by destroy()). */
  spawn(ns: string, command: string, args: readonly string[], options?: SpawnOptions): ChildProcess;
  /** Runs `command args` inside a namespace to its end (killed after timeoutMs) and collects its output. */
  run(ns: string, command: string, args: readonly string[], timeoutMs?: number): Promise<NetnsResult>;
  /** Kills every process started here and deletes both namespaces; safe to call twice. */
  destroy(): void;
}

function ip(args: string[]): void {
  const r = spawnSync('ip', args, { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`ip ${args.join(' ')} failed: ${(r.stderr || r.stdout || `exit ${r.status}`).trim()}`);
}

/** Creates the two namespaces and the veth pair, links up, addresses set (with broadcast addresses, for beacons). */
export function createNetnsPair(subnet = '10.77.0'): NetnsPair {
  const id = `${process.pid.toString(36)}${randomBytes(2).toString('hex')}`.slice(-8);
  const a = `plab-${id}-a`;
  const b = `plab-${id}-b`;
  const vethA = `pl${id}a`;
  const vethB = `pl${id}b`;
  const addressA = `${subnet}.1`;
  const addressB = `${subnet}.2`;
  const children = new Set<ChildProcess>();
  let destroyed = false;

  const destroy = () => {
    if (destroyed) return;
    destroyed = true;
    process.off('exit', destroy);
    for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
    spawnSync('ip', ['netns', 'del', a]);
    spawnSync('ip', ['netns', 'del', b]);
    // The veth pair dies with its namespaces; this only matters when setup failed before moving it.
    spawnSync('ip', ['link', 'del', vethA], { stdio: 'ignore' });
  };
  process.once('exit', destroy);

  try {
    ip(['netns', 'add', a]);
    ip(['netns', 'add', b]);
    ip(['link', 'add', vethA, 'type', 'veth', 'peer', 'name', vethB]);
    ip(['link', 'set', vethA, 'netns', a]);
    ip(['link', 'set', vethB, 'netns', b]);
    ip(['-n', a, 'addr', 'add', `${addressA}/24`, 'brd', '+', 'dev', vethA]);
    ip(['-n', b, 'addr', 'add', `${addressB}/24`, 'brd', '+', 'dev', vethB]);
    for (const [ns, dev] of [
      [a, vethA],
      [b, vethB],
    ] as const) {
      ip(['-n', ns, 'link', 'set', 'lo', 'up']);
      ip(['-n', ns, 'link', 'set', dev, 'up']);
    }
  } catch (e) {
    destroy();
    throw e;
  }

  const spawnIn = (ns: string, command: string, args: readonly string[], options: SpawnOptions = {}): ChildProcess => {
    if (destroyed) throw new Error('the namespaces are gone');
    const child = spawn('ip', ['netns', 'exec', ns, command, ...args], { stdio: ['ignore', 'pipe', 'pipe'], ...options });
    children.add(child);
    child.once('exit', () => children.delete(child));
    return child;
  };

  return {
    a,
    b,
    addressA,
    addressB,
    spawn: spawnIn,
    run: (ns, command, args, timeoutMs = 60_000) =>
      new Promise<NetnsResult>((resolve) => {
        const child = spawnIn(ns, command, args);
        let stdout = '';
        let stderr = '';
        child.stdout!.on('data', (d: Buffer) => (stdout += d.toString()));
        child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
        const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
        child.on('close', (code, signal) => {
          clearTimeout(timer);
          resolve({ code, signal, stdout, stderr });
        });
      }),
    destroy,
  };
}
