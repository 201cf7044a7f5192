// Results on disk under hostile conditions: run ids that are paths, folders that cannot be
// written, disks that fill up mid-run, and runs left damaged by them, read back by the CLI and the
// app's store worker.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { chmodSync, cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { CsvWriter, CsvWriteError } from '../core/metrics/csv.js';
import { compiledModuleUrl } from '../core/util/paths.js';
import { checkParams } from '../experiments/api/contract.js';
import { ExperimentRun } from '../experiments/runner/run.js';
import { findRun } from '../experiments/runner/store.js';
import { validateSpec, type ExperimentSpec } from '../experiments/spec.js';
import { cli } from './helpers/cli.js';
import { IS_ROOT, mountTmpfs } from './helpers/tmpfs.js';

const tmp = mkdtempSync(join(tmpdir(), 'packetlab-results-'));
// Other users reach the folders of the tests (the read-only test runs the CLI as nobody).
chmodSync(tmp, 0o755);

if (!IS_ROOT) console.warn('results-on-disk: the tests on a read-only tmpfs and a full tmpfs are skipped: mounting one needs root (CI runs the tests as root)');

afterAll(() => {
  rmSync(tmp, { recursive: true, force: true });
});

/** A short simulated bulk transfer. */
function spec(name = 'disk'): ExperimentSpec {
  const r = validateSpec({ name, title: `${name} run`, description: 'd', concepts: ['checksums'], workload: { kind: 'bulk', bytes: 100_000 }, forward: { delayMs: 2, lossProbability: 0.05 }, reverse: { delayMs: 2 } });
  if (!r.ok) throw new Error(JSON.stringify(r.errors));
  return r.spec;
}

describe('run ids are folder names of the runs folder, never paths', () => {
  const runsDir = join(tmp, 'ids', 'runs');
  let outside: string;

  beforeAll(async () => {
    const dir = (await new ExperimentRun({ spec: spec(), specFile: null, outDir: runsDir }).start()).dir;
    // A run folder outside the runs folder, with a folder inside it: what "." and ".." would reach
    // from a process whose working folder is one of them.
    outside = join(tmp, 'ids', 'elsewhere');
    cpSync(dir, outside, { recursive: true });
    mkdirSync(join(outside, 'child'));
  });

  it('the API contract refuses "." and ".." as run ids, as it refuses paths', () => {
    for (const runId of ['.', '..']) {
      for (const method of ['openRun', 'stopRun', 'getCapture'] as const) {
        const params = method === 'getCapture' ? { runId, file: 'capture-p0-r0.pcapng' } : { runId };
        expect(checkParams(method, params), `${method} ${runId}`).toEqual({ ok: false, error: expect.stringMatching(new RegExp(`^${method}\\.runId: must be a run id .*not \\. or \\.\\.`)) });
      }
      expect(checkParams('exportCsv', { runIds: ['ok', runId], which: 'samples' })).toEqual({ ok: false, error: expect.stringMatching(/^exportCsv\.runIds\.1: must be a run id/) });
    }
    // Dots inside a name are still allowed: a run id is a folder name.
    expect(checkParams('openRun', { runId: '20260101-000000-a.b' }).ok).toBe(true);
    expect(checkParams('openRun', { runId: '...' }).ok).toBe(true);
  });

  it('findRun refuses ".", ".." and paths instead of looking outside the runs folder', () => {
    const cwd = process.cwd();
    try {
      for (const [from, ref] of [[outside, '.'], [join(outside, 'child'), '..']] as const) {
        process.chdir(from);
        expect(() => findRun(runsDir, ref), `${ref} from ${from}`).toThrow(`"${ref}" is not a run id: a run id is the name of a folder in ${runsDir}, not a path`);
      }
      for (const ref of [outside, '../elsewhere', 'a/b', 'a\\b', '', 'nul\0']) {
        expect(() => findRun(runsDir, ref), JSON.stringify(ref)).toThrow(/is not a run id: a run id is the name of a folder in /);
      }
    } finally {
      process.chdir(cwd);
    }
    expect(findRun(runsDir, 'latest')).toBe(findRun(runsDir, 'disk'));
    expect(basename(findRun(runsDir, 'disk'))).toMatch(/^\d{8}-\d{6}-disk$/);
  });

  it('the command line still takes a run folder by its path, which the user typed', () => {
    const file = join(tmp, 'ids', 'outside.csv');
    const ex = cli(['export', outside, '--csv', file, '--out', runsDir]);
    expect(ex.code, ex.stderr).toBe(0);
    expect(ex.stdout).toMatch(/^wrote .*outside\.csv \(\d+ rows from 1 run\(s\)\)/);
  });
});

describe('a results folder that cannot be written: the error names the real cause and the folder', () => {
  it.skipIf(!IS_ROOT)('read-only file system (a tmpfs mounted ro): EROFS, not ENOENT', async () => {
    const fs = mountTmpfs(join(tmp, 'ro'), 'ro,size=64k');
    try {
      // Node's recursive mkdir reports ENOENT for a folder it cannot make on a read-only file
      // system; the folder that exists already gives EROFS at the run folder itself.
      // [results folder, the folder mkdir is refused]
      const cases = [
        [join(fs.dir, 'runs'), join(fs.dir, 'runs')],
        [join(fs.dir, 'a', 'b', 'runs'), join(fs.dir, 'a')],
        [fs.dir, `${fs.dir}/`],
      ] as const;
      for (const [out, refused] of cases) {
        const run = new ExperimentRun({ spec: spec(), specFile: null, outDir: out });
        await expect(run.start(), out).rejects.toThrow(`cannot make a run folder in ${out}: EROFS: read-only file system, mkdir '${refused}`);
      }
      const r = cli(['run', 'checksums', '--quick', '--out', join(fs.dir, 'runs')]);
      expect(r.code).toBe(1);
      expect(r.stderr.trim()).toBe(`packetlab: cannot make a run folder in ${join(fs.dir, 'runs')}: EROFS: read-only file system, mkdir '${join(fs.dir, 'runs')}'`);
      expect(readdirSync(fs.dir)).toEqual([]);
    } finally {
      fs.unmount();
    }
  });

  it('a folder this user may not write: EACCES and the folder', () => {
    const dir = join(tmp, 'locked');
    mkdirSync(dir);
    // Root is not stopped by permissions: as root the CLI runs as nobody, whom the folder's mode
    // (rwxr-xr-x, owned by root) keeps out; as anyone else the folder is made read-only.
    if (!IS_ROOT) chmodSync(dir, 0o555);
    const asNobody = IS_ROOT ? { uid: 65534, gid: 65534 } : {};
    for (const out of [dir, join(dir, 'runs')]) {
      const r = spawnSync(process.execPath, ['bin/packetlab.js', 'run', 'checksums', '--quick', '--out', out], { encoding: 'utf8', ...asNobody });
      expect(r.status, r.stderr).toBe(1);
      expect(r.stderr, out).toMatch(new RegExp(`^packetlab: cannot make a run folder in ${out}: EACCES: permission denied, mkdir '${out}`));
    }
    expect(existsSync(join(dir, 'runs'))).toBe(false);
    expect(readdirSync(dir)).toEqual([]);
  });
});

/** Columns of the rows the CsvWriter tests write: about 330 bytes a row. */
const WIDE = Array.from({ length: 30 }, (_, i) => `column_${i}`);
const wideRow = (n: number) => Object.fromEntries(WIDE.map((c, i) => [c, n * 1000 + i + 0.123456789]));

/** Writes rows to `path` until the file system refuses one; what was written, and the error. */
function fillCsv(path: string): { written: number; error: CsvWriteError } {
  const w = new CsvWriter(path, WIDE);
  try {
    for (let n = 0; n < 100_000; n++) {
      try {
        w.write(wideRow(n));
      } catch (e) {
        if (!(e instanceof CsvWriteError)) throw e;
        return { written: n, error: e };
      }
    }
    throw new Error(`${path} took 100000 rows without an error`);
  } finally {
    w.close();
  }
}

/** The file holds the header and rows 0..written-1, whole, and nothing else. */
function expectWholeRows(path: string, written: number): void {
  const text = readFileSync(path, 'utf8');
  expect(text.endsWith('\n'), `${path} ends with a whole row`).toBe(true);
  const lines = text.slice(0, -1).split('\n');
  expect(lines[0]).toBe(WIDE.join(','));
  expect(lines.length - 1).toBe(written);
  expect(lines.at(-1)).toBe(WIDE.map((c) => String(wideRow(written - 1)[c])).join(','));
}

describe('CsvWriter: a row is on disk whole or not at all, and a failed write names the file', () => {
  it('a file that refuses every write (/dev/full: ENOSPC) fails at the header with its path', () => {
    const path = join(tmp, 'full-header.csv');
    symlinkSync('/dev/full', path);
    let thrown: unknown = null;
    try {
      new CsvWriter(path, WIDE);
    } catch (e) {
      thrown = e;
    }
    expect(thrown).toBeInstanceOf(CsvWriteError);
    expect((thrown as CsvWriteError).message).toBe(`cannot write ${path}: ENOSPC: no space left on device, write`);
    expect((thrown as CsvWriteError).code).toBe('ENOSPC');
  });

  it('after a refused row it takes no more: a later row would follow a gap', () => {
    const path = join(tmp, 'full-append.csv');
    symlinkSync('/dev/full', path);
    const w = new CsvWriter(path, WIDE, true);
    let first: unknown = null;
    try {
      w.write(wideRow(0));
    } catch (e) {
      first = e;
    }
    expect(first).toBeInstanceOf(CsvWriteError);
    expect(() => w.write(wideRow(1))).toThrow(first as Error);
    w.close();
  });

  it('a file size limit (RLIMIT_FSIZE: a write cut short, then EFBIG) leaves only whole rows', () => {
    // ulimit -f counts KiB: the file may grow to 8 KiB, and the write that crosses it is cut short
    // by the kernel; the next one fails with EFBIG (Node ignores SIGXFSZ). No root needed.
    const path = join(tmp, 'limited.csv');
    const csv = compiledModuleUrl(import.meta.url, '../core/metrics/csv.js');
    const script = `
      const { CsvWriter, CsvWriteError } = await import(${JSON.stringify(csv)});
      const cols = ${JSON.stringify(WIDE)};
      const row = (n) => Object.fromEntries(cols.map((c, i) => [c, n * 1000 + i + 0.123456789]));
      const w = new CsvWriter(${JSON.stringify(path)}, cols);
      let n = 0;
      for (;; n++) {
        try { w.write(row(n)); } catch (e) { console.log(JSON.stringify({ written: n, kind: e instanceof CsvWriteError ? 'CsvWriteError' : e.name, code: e.code, message: e.message })); break; }
      }`;
    const r = spawnSync('bash', ['-c', 'ulimit -f 8 && exec "$0" --input-type=module -e "$1"', process.execPath, script], { encoding: 'utf8' });
    expect(r.status, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout) as { written: number; kind: string; code: string; message: string };
    expect(out).toMatchObject({ kind: 'CsvWriteError', code: 'EFBIG', message: `cannot write ${path}: EFBIG: file too large, write` });
    expect(out.written).toBeGreaterThan(10);
    expectWholeRows(path, out.written);
  });

  it.skipIf(!IS_ROOT)('a disk that fills up (a tmpfs of 8 KiB: a write cut short, then ENOSPC) leaves only whole rows', () => {
    const fs = mountTmpfs(join(tmp, 'small'), 'size=8k');
    try {
      const path = join(fs.dir, 'rows.csv');
      const { written, error } = fillCsv(path);
      expect(error.message).toBe(`cannot write ${path}: ENOSPC: no space left on device, write`);
      expect(written).toBeGreaterThan(10);
      expectWholeRows(path, written);
    } finally {
      fs.unmount();
    }
  });
});
