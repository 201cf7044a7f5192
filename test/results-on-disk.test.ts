// Results on disk under hostile conditions: run ids that are paths, folders that cannot be
// written, disks that fill up mid-run, and runs left damaged by them, read back by the CLI and the
// app's store worker.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { stringify } from 'csv-stringify/sync';
import { spawnSync } from 'node:child_process';
import { appendFileSync, chmodSync, cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { CsvWriter, CsvWriteError } from '../net/csv.js';
import { compiledModuleUrl } from '../net/paths.js';
import { checkParams, type RunData } from '../experiments/api/contract.js';
import { LabHost } from '../experiments/api/host.js';
import { ExperimentRun, type RunStreamEvent } from '../experiments/runner/run.js';
import { findRun, listRuns, parseRunCsv, readCsvRows, readRun, readRunCsv } from '../experiments/runner/store.js';
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
    const csv = compiledModuleUrl(import.meta.url, '../net/csv.js');
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

describe('a run damaged by a full disk (as older versions left one) reads back, saying what was lost', () => {
  const runsDir = join(tmp, 'damaged', 'runs');
  let dir: string;
  let id: string;
  /** The whole rows of samples.csv and events.csv before the damage. */
  let samples: string[][];
  let events: string[][];
  let host: LabHost;

  beforeAll(async () => {
    dir = (await new ExperimentRun({ spec: spec(), specFile: null, outDir: runsDir }).start()).dir;
    id = basename(dir);
    samples = readCsvRows(join(dir, 'samples.csv'));
    events = readCsvRows(join(dir, 'events.csv'));
    // What a disk that filled up mid-run left: the first bytes of a row in samples.csv, an event
    // whose quoted detail was cut after its first line, run.json still "running" with its
    // process gone and no reason, and an empty .run.json.tmp.
    const last = readFileSync(join(dir, 'samples.csv'), 'utf8').trimEnd().split('\n').at(-1)!;
    appendFileSync(join(dir, 'samples.csv'), last.slice(0, Math.floor(last.length / 2)));
    appendFileSync(join(dir, 'events.csv'), '0.5,2026-01-01T00:00:00.000Z,0,0,error,,,,"the first line\nand the sec');
    const rec = JSON.parse(readFileSync(join(dir, 'run.json'), 'utf8'));
    writeFileSync(join(dir, 'run.json'), JSON.stringify({ ...rec, status: 'running', reason: null, endedAt: null, host: { ...rec.host, pid: 2 ** 22 + 12345 } }));
    writeFileSync(join(dir, '.run.json.tmp'), '');
    host = new LabHost({ runsDir, specsDir: join(tmp, 'damaged', 'specs') });
  });

  afterAll(async () => {
    await host?.close();
  });

  const SAMPLES_CUT = 'samples.csv: the last row was cut off (disk full?) and is left out';
  const EVENTS_CUT = 'events.csv: the last row was cut off (disk full?) and is left out';

  it('the reader keeps every whole row and names the row cut off, quotes heeded', () => {
    expect(readRunCsv(join(dir, 'samples.csv'))).toEqual({ header: samples[0], rows: samples.slice(1), damage: [{ kind: 'cut-off', file: 'samples.csv', what: 'row' }] });
    expect(readRunCsv(join(dir, 'events.csv'))).toEqual({ header: events[0], rows: events.slice(1), damage: [{ kind: 'cut-off', file: 'events.csv', what: 'row' }] });
  });

  it('packetlab export writes the whole rows and says on stderr what was left out', () => {
    const file = join(tmp, 'damaged', 'export.csv');
    const ex = cli(['export', id, '--csv', file, '--out', runsDir]);
    expect(ex.code, ex.stderr).toBe(0);
    expect(ex.stderr).toBe(`packetlab export: ${id}: ${SAMPLES_CUT}\n`);
    const rows = readCsvRows(file);
    expect(rows.length - 1).toBe(samples.length - 1);
    expect(rows.at(-1)!.slice(3)).toEqual(samples.at(-1));
    // To stdout: the CSV alone.
    const out = cli(['export', id, '--csv', '-', '--out', runsDir]);
    expect(out.code, out.stderr).toBe(0);
    expect(out.stdout).toBe(readFileSync(file, 'utf8'));
  });

  it('packetlab runs lists it as interrupted, with what was cut off', () => {
    const runs = cli(['runs', '--out', runsDir]);
    expect(runs.code, runs.stderr).toBe(0);
    expect(runs.stdout).toMatch(new RegExp(`^${id}\\s+interrupted\\s+1 trials  sim  \\(the process running it ended without finishing \\(crash or kill\\)\\)\n    ${SAMPLES_CUT.replace(/[()?]/g, '\\$&')}\n    ${EVENTS_CUT.replace(/[()?]/g, '\\$&')}\n$`));
    const json = JSON.parse(cli(['runs', '--json', '--out', runsDir]).stdout) as { status: string; warnings: string[] };
    expect(json).toMatchObject({ status: 'interrupted', warnings: [SAMPLES_CUT, EVENTS_CUT] });
  });

  it("the app's openRun (the store worker) opens it with the whole rows and the warnings", async () => {
    const r = await host.call('openRun', { runId: id });
    expect(r.ok, r.ok ? '' : r.error).toBe(true);
    const data = (r as { value: RunData }).value;
    expect(data.warnings).toEqual([SAMPLES_CUT, EVENTS_CUT]);
    expect(data.info.status).toBe('interrupted');
    expect(data.samples.columns).toEqual(samples[0]);
    expect(data.samples.rows.length).toBe(samples.length - 1);
    expect(data.events.rows.length).toBe(events.length - 1);
    const csv = await host.call('exportCsv', { runIds: [id], which: 'samples' });
    expect(csv.ok, csv.ok ? '' : csv.error).toBe(true);
  });
});

describe('parseRunCsv: a file cut at any byte reads back as the rows before the cut', () => {
  /** Cells with what CSV must quote: delimiters, quotes, newlines, carriage returns, and characters of several bytes. */
  const cellArb = fc.string({ unit: fc.constantFrom('a', 'Z', '7', ' ', ',', '"', '\n', '\r', 'é', '😀', '.'), maxLength: 6 });

  it('every prefix of a file CsvWriter wrote: the whole rows in it, and a cut-off row or header named', () => {
    fc.assert(
      fc.property(fc.integer({ min: 2, max: 4 }).chain((n) => fc.tuple(fc.constant(n), fc.array(fc.array(cellArb, { minLength: n, maxLength: n }), { maxLength: 5 }))), ([n, rows]) => {
        const header = Array.from({ length: n }, (_, i) => `c${i}`);
        const path = join(tmp, 'prop.csv');
        rmSync(path, { force: true });
        const w = new CsvWriter(path, header);
        for (const r of rows) w.write(Object.fromEntries(header.map((c, i) => [c, r[i]!])));
        w.close();
        const bytes = readFileSync(path);
        // Where each record ends, in bytes: the header, then each row.
        const ends: number[] = [];
        let at = 0;
        for (const r of [header, ...rows]) ends.push((at += Buffer.byteLength(stringify([r]))));
        expect(ends.at(-1)).toBe(bytes.length);
        for (let cut = 0; cut <= bytes.length; cut++) {
          const got = parseRunCsv('x.csv', bytes.subarray(0, cut).toString('utf8'));
          const whole = ends.filter((e) => e <= cut).length;
          if (cut === 0) expect(got.damage).toEqual([{ kind: 'empty', file: 'x.csv' }]);
          else if (whole === 0) expect(got.damage).toEqual([{ kind: 'cut-off', file: 'x.csv', what: 'header' }]);
          else expect(got.damage, `cut at ${cut}`).toEqual(ends.includes(cut) ? [] : [{ kind: 'cut-off', file: 'x.csv', what: 'row' }]);
          expect(got.header).toEqual(whole > 0 ? header : []);
          expect(got.rows, `cut at ${cut}`).toEqual(rows.slice(0, Math.max(0, whole - 1)));
        }
      }),
      { numRuns: 200 },
    );
  });

  it('rows with the wrong number of cells (a file changed by hand) are left out and named, not fatal', () => {
    expect(parseRunCsv('s.csv', 'a,b\n1,2\n3,4,5\n6\n7,8\n')).toEqual({
      header: ['a', 'b'],
      rows: [['1', '2'], ['7', '8']],
      damage: [
        { kind: 'bad-row', file: 's.csv', row: 2, cells: 3, columns: 2 },
        { kind: 'bad-row', file: 's.csv', row: 3, cells: 1, columns: 2 },
      ],
    });
    const quotes = parseRunCsv('s.csv', 'a,b\n1,2\n3,"x"y\n');
    expect(quotes.rows).toEqual([['1', '2']]);
    expect(quotes.damage[0]).toEqual({ kind: 'unparsable', file: 's.csv', line: 3, error: 'Invalid Closing Quote: got "y"' });
  });
});

/** A bulk transfer long enough that its packets.csv outgrows a small disk. */
function longSpec(): ExperimentSpec {
  const r = validateSpec({ name: 'long', title: 'long run', description: 'd', concepts: ['checksums'], transport: { windowPackets: 16 }, workload: { kind: 'bulk', bytes: 20_000_000 }, forward: { delayMs: 2, lossProbability: 0.01 }, reverse: { delayMs: 2 } });
  if (!r.ok) throw new Error(JSON.stringify(r.errors));
  return r.spec;
}

/** The files every run folder holds once the run has ended: nothing temporary is left. */
const ENDED_FILES = ['events.csv', 'packets.csv', 'run.json', 'samples.csv', 'summary.csv'];

/** Every CSV file of the folder reads back whole: what a run that failed on a write leaves. */
function expectWholeFiles(dir: string): void {
  for (const f of ['samples.csv', 'events.csv', 'summary.csv', 'packets.csv']) {
    expect(readRunCsv(join(dir, f)).damage, f).toEqual([]);
    expect(readFileSync(join(dir, f), 'utf8').endsWith('\n'), f).toBe(true);
  }
}

describe('a run whose folder refuses a write ends failed, with the error as its reason', () => {
  it('packets.csv on /dev/full (ENOSPC from its header on): the run stops and run.json says why', async () => {
    const events: RunStreamEvent[] = [];
    const run = new ExperimentRun({
      spec: longSpec(),
      specFile: null,
      outDir: join(tmp, 'devfull'),
      packetLog: true,
      onEvent: (e) => {
        events.push(e);
        // packets.csv is made when the first trial starts, so it is made on /dev/full.
        if (e.type === 'run-start') symlinkSync('/dev/full', join(e.dir, 'packets.csv'));
      },
    });
    const r = await run.start();
    expect(r.status).toBe('failed');
    expect(r.reason).toMatch(/^cannot write packets\.csv: ENOSPC: no space left on device, write \(rows not written: packets\.csv \d+\)$/);
    expect(events.at(-1)).toEqual({ type: 'run-end', id: r.id, dir: r.dir, status: 'failed', reason: r.reason });
    const rec = readRun(r.dir);
    expect([rec.status, rec.reason]).toEqual(['failed', r.reason]);
    expect(rec.endedAt).not.toBeNull();
    // It stopped at the failure instead of sending 20 MB with nothing to record them in, and the
    // trial says why.
    expect(rec.trials.map((t) => [t.status, t.failure])).toEqual([['stopped', 'cannot write packets.csv: ENOSPC: no space left on device, write']]);
    expect(readdirSync(r.dir).sort()).toEqual(ENDED_FILES);
    const runs = cli(['runs', '--out', join(tmp, 'devfull')]);
    expect(runs.stdout).toContain(`failed         1 trials  sim  (${r.reason})\n    packets.csv is empty (not even its header was written)\n`);
  });

  it('a capture on /dev/full: the capture file is named, and the trial is not broken by a throw', async () => {
    const run = new ExperimentRun({
      spec: spec(),
      specFile: null,
      outDir: join(tmp, 'devfull-pcap'),
      pcapMaxBytes: 10e6,
      onEvent: (e) => {
        if (e.type === 'run-start') symlinkSync('/dev/full', join(e.dir, 'capture-p0-r0.pcapng'));
      },
    });
    const r = await run.start();
    expect(r.status).toBe('failed');
    expect(r.reason).toMatch(/^cannot write capture-p0-r0\.pcapng: ENOSPC: no space left on device, write/);
    expect(readRun(r.dir).reason).toBe(r.reason);
  });

  it('a file size limit (RLIMIT_FSIZE 64 KiB: a write cut short, then EFBIG) mid-run: whole rows, failed, no root needed', () => {
    const out = join(tmp, 'fsize');
    const runModule = compiledModuleUrl(import.meta.url, '../experiments/runner/run.js');
    const script = `
      const { ExperimentRun } = await import(${JSON.stringify(runModule)});
      const r = await new ExperimentRun({ spec: ${JSON.stringify(longSpec())}, specFile: null, outDir: ${JSON.stringify(out)}, packetLog: true }).start();
      console.log(JSON.stringify(r));`;
    const child = spawnSync('bash', ['-c', 'ulimit -f 64 && exec "$0" --input-type=module -e "$1"', process.execPath, script], { encoding: 'utf8' });
    expect(child.status, child.stderr).toBe(0);
    const r = JSON.parse(child.stdout) as { dir: string; status: string; reason: string };
    expect(r.status).toBe('failed');
    expect(r.reason).toMatch(/^cannot write packets\.csv: EFBIG: file too large, write \(rows not written: packets\.csv \d+\)$/);
    expect(readRun(r.dir).reason).toBe(r.reason);
    expectWholeFiles(r.dir);
    expect(readdirSync(r.dir).sort()).toEqual(ENDED_FILES);
  });

  it.skipIf(!IS_ROOT)('a disk that fills up mid-run (a 1 MiB tmpfs): whole rows, failed with ENOSPC, and it reads back', async () => {
    const fs = mountTmpfs(join(tmp, 'fills'), 'size=1m');
    const host = new LabHost({ runsDir: fs.dir, specsDir: join(tmp, 'fills-specs') });
    try {
      const r = await new ExperimentRun({ spec: longSpec(), specFile: null, outDir: fs.dir, packetLog: true }).start();
      expect(r.status).toBe('failed');
      expect(r.reason).toMatch(/^cannot write (samples|events|summary|packets)\.csv: ENOSPC: no space left on device, write \(rows not written: .*\)$/);
      const rec = readRun(r.dir);
      expect([rec.status, rec.reason]).toEqual(['failed', r.reason]);
      expectWholeFiles(r.dir);
      expect(readdirSync(r.dir).sort()).toEqual(ENDED_FILES);
      // Read back by the CLI and the app, whole: nothing to warn of.
      const runs = cli(['runs', '--out', fs.dir]);
      expect(runs.stdout).toBe(`${basename(r.dir).padEnd(44)} failed         1 trials  sim  (${r.reason})\n`);
      const ex = cli(['export', 'latest', '--csv', join(tmp, 'fills.csv'), '--out', fs.dir]);
      expect([ex.code, ex.stderr]).toEqual([0, '']);
      expect(readCsvRows(join(tmp, 'fills.csv')).length).toBe(readCsvRows(join(r.dir, 'samples.csv')).length);
      const opened = await host.call('openRun', { runId: basename(r.dir) });
      expect(opened.ok && (opened.value as RunData).warnings).toEqual([]);
      expect(opened.ok && (opened.value as RunData).info).toMatchObject({ status: 'failed', reason: r.reason });
    } finally {
      await host.close();
      fs.unmount();
    }
  });

  it.skipIf(!IS_ROOT)('a disk full before the run starts: the run does not start, says why, and leaves no folder', async () => {
    const fs = mountTmpfs(join(tmp, 'full'), 'size=64k');
    try {
      writeFileSync(join(fs.dir, 'filler'), '');
      let filled = false;
      try {
        writeFileSync(join(fs.dir, 'filler'), Buffer.alloc(64 * 1024 + 1));
      } catch (e) {
        filled = (e as NodeJS.ErrnoException).code === 'ENOSPC';
      }
      expect(filled).toBe(true);
      const run = new ExperimentRun({ spec: spec(), specFile: null, outDir: fs.dir });
      await expect(run.start()).rejects.toThrow(new RegExp(`^cannot make a run folder in ${fs.dir}: cannot write ${fs.dir}/\\d{8}-\\d{6}-disk/samples\\.csv: ENOSPC: no space left on device, write$`));
      expect(readdirSync(fs.dir)).toEqual(['filler']);
    } finally {
      fs.unmount();
    }
  });
});

describe('a runs folder with things in it that are not runs', () => {
  it('a dangling link, a file and a folder without run.json are passed over, not fatal', async () => {
    const runsDir = join(tmp, 'cluttered');
    const dir = (await new ExperimentRun({ spec: spec(), specFile: null, outDir: runsDir }).start()).dir;
    symlinkSync(join(tmp, 'no-such-folder'), join(runsDir, 'dangling'));
    writeFileSync(join(runsDir, 'notes.txt'), 'a file\n');
    mkdirSync(join(runsDir, 'empty'));
    expect(listRuns(runsDir).map((r) => r.dir)).toEqual([dir]);
    expect(findRun(runsDir, 'latest')).toBe(dir);
    const runs = cli(['runs', '--out', runsDir]);
    expect([runs.code, runs.stderr]).toEqual([0, '']);
    expect(runs.stdout).toMatch(new RegExp(`^${basename(dir)}\\s+complete`));
    const host = new LabHost({ runsDir, specsDir: join(tmp, 'cluttered-specs') });
    try {
      const listed = await host.call('listRuns', {});
      expect(listed.ok && (listed.value as { id: string }[]).map((r) => r.id)).toEqual([basename(dir)]);
    } finally {
      await host.close();
    }
  });
});
