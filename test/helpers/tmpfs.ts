// Small file systems for tests of what a full or read-only disk does: a tmpfs mounted on a folder
// (root only; the machines and CI run the tests as root). Permissions do not stop root, so a
// read-only tmpfs is how root meets a folder it cannot write, and a tmpfs of a few pages is a disk
// that fills up for real.

import { spawnSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';

/** Whether this process may mount file systems (root on Linux). */
export const IS_ROOT = process.platform === 'linux' && process.getuid?.() === 0;

/** A mounted tmpfs; unmount() takes it away with what it holds. */
export interface Tmpfs {
  readonly dir: string;
  unmount(): void;
}

/** Mounts a tmpfs with `options` (e.g. "ro", "size=64k") on `dir` (made if missing); throws with mount's own words when it cannot. */
export function mountTmpfs(dir: string, options: string): Tmpfs {
  mkdirSync(dir, { recursive: true });
  const m = spawnSync('mount', ['-t', 'tmpfs', '-o', options, 'packetlab-test', dir], { encoding: 'utf8' });
  if (m.error !== undefined || m.status !== 0) throw new Error(`mount -t tmpfs -o ${options} on ${dir} failed: ${(m.stderr || m.error?.message || `exit ${m.status}`).trim()}`);
  let mounted = true;
  return {
    dir,
    unmount() {
      if (!mounted) return;
      const u = spawnSync('umount', [dir], { encoding: 'utf8' });
      if (u.status === 0) {
        mounted = false;
        return;
      }
      // Busy (a file the code under test left open): detached now, so the test's folder can go,
      // and the test fails saying so.
      const lazy = spawnSync('umount', ['-l', dir], { encoding: 'utf8' });
      mounted = lazy.status !== 0;
      throw new Error(`umount ${dir} failed: ${(u.stderr || `exit ${u.status}`).trim()}${mounted ? '' : ' (detached with umount -l)'}`);
    },
  };
}
