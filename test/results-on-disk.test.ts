// Results on disk under hostile conditions: run ids that are paths, folders that cannot be
// written, disks that fill up mid-run, and runs left damaged by them, read back by the CLI and the
// app's store worker.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cpSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { checkParams } from '../experiments/api/contract.js';
import { ExperimentRun } from '../experiments/runner/run.js';
import { findRun } from '../experiments/runner/store.js';
import { validateSpec, type ExperimentSpec } from '../experiments/spec.js';
import { cli } from './helpers/cli.js';

const tmp = mkdtempSync(join(tmpdir(), 'packetlab-results-'));

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
