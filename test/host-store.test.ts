// LabHost's calls that read and write files (the library, specs, run folders, CSV exports and
// captures): each answers exactly what the store functions give when called directly, and with
// the same error texts. They run in the store worker, a thread that starts on the first of them,
// holds no process open while idle, is replaced after a crash and ends with the host; while it
// opens a large run, the host's event loop stays free.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import { appendFileSync, existsSync, mkdtempSync, readFileSync, rmSync, statSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import type { Worker } from 'node:worker_threads';
import { LabHost } from '../experiments/api/host.js';
import type { Result, RunInfo, Table } from '../experiments/api/contract.js';
import { loadLibrary } from '../experiments/library.js';
import { CONCEPT_TITLES, validateSpec } from '../experiments/spec.js';
import { ExperimentRun } from '../experiments/runner/run.js';
import { combinedCsv, listRuns, readCsvRows, readRun, type RunRecord } from '../experiments/runner/store.js';
import { compiledModuleUrl } from '../net/paths.js';
import { until } from './helpers/until.js';

/** Rows of packets.csv in the large run: what 300,000 datagrams of a run the app started leave. */
const LARGE_PACKET_ROWS = 300_000;
/** Rows of samples.csv in the large run: enough for an export of several MiB. */
const LARGE_SAMPLE_ROWS = 30_000;

const tmp = mkdtempSync(join(tmpdir(), 'packetlab-host-store-'));
const runsDir = join(tmp, 'runs');
const specsDir = join(tmp, 'specs');
let small: string;
let large: string;
let host: LabHost;

/** A simulated bulk transfer under 5% loss with the packet log and captures, as the app starts runs. */
async function simRun(name: string, bytes: number, repetitions: number): Promise<string> {
  const r = validateSpec({ name, title: `${name} run`, description: 'd', concepts: ['checksums'], transport: { windowPackets: 8 }, workload: { kind: 'bulk', bytes }, forward: { delayMs: 2, lossProbability: 0.05 }, reverse: { delayMs: 2 }, repetitions });
  if (!r.ok) throw new Error(JSON.stringify(r.errors));
  return (await new ExperimentRun({ spec: r.spec, specFile: null, outDir: runsDir, packetLog: true, pcapMaxBytes: 50e6 }).start()).dir;
}

/** Appends copies of a CSV file's own data rows until it holds `rows` of them. */
function growCsv(file: string, rows: number): void {
  const [, ...data] = readFileSync(file, 'utf8').trimEnd().split('\n');
  if (data.length === 0) throw new Error(`${file} has no rows to copy`);
  const extra: string[] = [];
  for (let i = data.length; i < rows; i++) extra.push(data[i % data.length]!);
  appendFileSync(file, `${extra.join('\n')}\n`);
}

beforeAll(async () => {
  small = await simRun('small', 100_000, 2);
  large = await simRun('large', 3_500_000, 1);
  growCsv(join(large, 'packets.csv'), LARGE_PACKET_ROWS);
  growCsv(join(large, 'samples.csv'), LARGE_SAMPLE_ROWS);
  // The second capture of the small run grows, sparse, past what the app transfers.
  truncateSync(join(small, 'capture-p0-r1.pcapng'), 65 * 1024 * 1024);
  host = new LabHost({ runsDir, specsDir, peers: () => [] });
}, 60_000);

afterAll(async () => {
  await host?.close();
  rmSync(tmp, { recursive: true, force: true });
});

/** What the history list shows of a run, from its run.json. */
function infoOf(r: RunRecord): RunInfo {
  return { id: r.id, name: r.name, title: r.title, status: r.status, reason: r.reason, network: r.network, startedAt: r.startedAt, endedAt: r.endedAt, trials: r.trials.length, captures: r.captures.map((c) => c.file) };
}

/** A CSV file as the app's tables hold it: numbers where a cell is numeric, null where it is empty. */
function tableOf(file: string): Table {
  if (!existsSync(file)) return { columns: [], rows: [] };
  const [columns = [], ...rows] = readCsvRows(file);
  const cell = (v: string | undefined) => (v === undefined || v === '' ? null : /^[-+0-9.eE]+$/.test(v) && Number.isFinite(Number(v)) ? Number(v) : v);
  return { columns, rows: rows.map((r) => columns.map((_c, i) => cell(r[i]))) };
}

/** Checks two tables cell for cell, naming the first row that differs (a whole-table diff of 300,000 rows says nothing). */
function expectSameTable(got: Table, want: Table, what: string): void {
  expect(got.columns, `${what} columns`).toEqual(want.columns);
  expect(got.rows.length, `${what} rows`).toBe(want.rows.length);
  const first = got.rows.findIndex((r, i) => JSON.stringify(r) !== JSON.stringify(want.rows[i]));
  if (first >= 0) expect(got.rows[first], `${what} row ${first}`).toEqual(want.rows[first]);
}

function value<T>(r: Result<unknown>): T {
  if (!r.ok) throw new Error(r.error);
  return r.value as T;
}

describe("the host's file calls answer as the store functions do", () => {
  it('listLibrary and loadSpec: the shipped specs and their text; saveSpec writes the user\'s own', async () => {
    const want = loadLibrary().map(({ file, spec }) => ({ name: spec.name, title: spec.title, description: spec.description, concepts: spec.concepts, group: CONCEPT_TITLES[spec.concepts[0]!], network: spec.network, text: readFileSync(file, 'utf8') }));
    expect(await host.call('listLibrary', {})).toEqual({ ok: true, value: want });
    const lib = loadLibrary()[1]!;
    expect(await host.call('loadSpec', { name: lib.spec.name })).toEqual({ ok: true, value: { name: lib.spec.name, text: readFileSync(lib.file, 'utf8') } });
    expect(await host.call('loadSpec', { name: 'no-such-spec' })).toEqual({ ok: false, error: `loadSpec: no spec named "no-such-spec" in ${specsDir} or the library` });
    const text = JSON.stringify({ ...JSON.parse(want[0]!.text), title: 'My own' });
    expect(await host.call('saveSpec', { name: 'mine', text })).toEqual({ ok: true, value: { path: join(specsDir, 'mine.json') } });
    expect(readFileSync(join(specsDir, 'mine.json'), 'utf8')).toBe(`${text}\n`);
    expect(await host.call('loadSpec', { name: 'mine' })).toEqual({ ok: true, value: { name: 'mine', text: `${text}\n` } });
    expect(await host.call('saveSpec', { name: 'broken', text: '{"name": "x"}' })).toEqual({ ok: false, error: 'saveSpec: the spec is not valid: $.title: is required' });
    expect(existsSync(join(specsDir, 'broken.json'))).toBe(false);
  });

  it('listSpecs: the saved specs, newest first, with their titles; a file that is not a spec says why', async () => {
    const text = (title: string) => JSON.stringify({ name: 'x', title, description: 'd', concepts: ['checksums'] });
    expect(await host.call('saveSpec', { name: 'older', text: text('Older one') })).toMatchObject({ ok: true });
    await new Promise((r) => setTimeout(r, 20));
    expect(await host.call('saveSpec', { name: 'newer', text: text('Newer one') })).toMatchObject({ ok: true });
    writeFileSync(join(specsDir, 'hand-edited.json'), '{"name": "x", "title": 5}');
    writeFileSync(join(specsDir, 'Not A Spec Name.json'), '{}');
    const r = (await host.call('listSpecs', {})) as Result<{ name: string; title: string; valid: boolean }[]>;
    if (!r.ok) throw new Error(r.error);
    const names = r.value.map((s) => s.name);
    expect(names.indexOf('newer')).toBeLessThan(names.indexOf('older'));
    expect(names).not.toContain('Not A Spec Name');
    expect(r.value.find((s) => s.name === 'older')).toMatchObject({ title: 'Older one', valid: true });
    expect(r.value.find((s) => s.name === 'hand-edited')).toMatchObject({ valid: false, title: expect.stringMatching(/^not a valid spec: \$\.(title|description): /) });
  });

  it('listRuns: every run folder, newest first', async () => {
    const want = listRuns(runsDir).map((r) => infoOf(r.record));
    expect(want.map((r) => r.id)).toEqual([basename(large), basename(small)]);
    expect(await host.call('listRuns', {})).toEqual({ ok: true, value: want });
  });

  it('openRun: run.json and every CSV file as tables, by id and as "latest"; an unknown run is named', async () => {
    for (const [ref, dir] of [[basename(small), small], ['latest', large]] as const) {
      const got = value<{ info: RunInfo; record: unknown; samples: Table; events: Table; summary: Table; packets: Table; warnings: string[] }>(await host.call('openRun', { runId: ref }));
      const record = readRun(dir);
      expect(got.info).toEqual(infoOf(record));
      expect(got.record).toEqual(record);
      for (const t of ['samples', 'events', 'summary', 'packets'] as const) expectSameTable(got[t], tableOf(join(dir, `${t}.csv`)), `${ref} ${t}`);
      expect(Object.keys(got)).toEqual(['info', 'record', 'samples', 'events', 'summary', 'packets', 'warnings']);
      expect(got.warnings).toEqual([]);
    }
    expect(await host.call('openRun', { runId: 'nope' })).toEqual({ ok: false, error: `openRun: no run "nope" in ${runsDir} (packetlab runs lists them)` });
  });

  it('exportCsv: the combined CSV of one run or several', async () => {
    const samples = combinedCsv([small, large], 'samples').csv;
    expect(samples.length).toBeGreaterThan(4 * 1024 * 1024);
    expect(await host.call('exportCsv', { runIds: [basename(small), basename(large)], which: 'samples' })).toEqual({ ok: true, value: { csv: samples, fileName: 'packetlab-runs-samples.csv' } });
    expect(await host.call('exportCsv', { runIds: [basename(large)], which: 'summary' })).toEqual({ ok: true, value: { csv: combinedCsv([large], 'summary').csv, fileName: `${basename(large)}-summary.csv` } });
    expect(await host.call('exportCsv', { runIds: [basename(small), 'nope'], which: 'samples' })).toEqual({ ok: false, error: `exportCsv: no run "nope" in ${runsDir} (packetlab runs lists them)` });
  });

  it('getCapture: the pcapng file in base64; refuses one the run did not record and one too large to send', async () => {
    for (const dir of [small, large]) {
      const path = join(dir, 'capture-p0-r0.pcapng');
      const runId = basename(dir);
      expect(await host.call('getCapture', { runId, file: 'capture-p0-r0.pcapng' })).toEqual({ ok: true, value: { fileName: `${runId}-capture-p0-r0.pcapng`, base64: readFileSync(path).toString('base64'), bytes: statSync(path).size } });
    }
    expect(statSync(join(large, 'capture-p0-r0.pcapng')).size).toBeGreaterThan(3 * 1024 * 1024);
    expect(await host.call('getCapture', { runId: basename(large), file: 'capture-p0-r1.pcapng' })).toEqual({ ok: false, error: `getCapture: run ${basename(large)} has no capture capture-p0-r1.pcapng` });
    expect(await host.call('getCapture', { runId: basename(small), file: 'capture-p0-r1.pcapng' })).toEqual({
      ok: false,
      error: `getCapture: capture-p0-r1.pcapng is ${65 * 1024 * 1024} bytes, more than the ${64 * 1024 * 1024} the app transfers; open it from ${small}`,
    });
  });
});

/** This thread's CPU time in milliseconds (user and system); the wall time where Node cannot tell (before 22.15). */
function threadCpuMs(): number {
  if (typeof process.threadCpuUsage !== 'function') return performance.now();
  const { user, system } = process.threadCpuUsage();
  return (user + system) / 1000;
}

/** The longest time between two timers of a chain on this loop, and the most CPU time this thread spent in one such interval. */
interface LoopGaps {
  longestGapMs: number;
  longestBusyMs: number;
}

/**
 * Runs `work` while a chain of 1 ms timers on this loop records the time between them, up to the
 * first timer after `work` is done (the gap that ends there holds the answer's last steps). The
 * CPU time this thread spent in an interval says how long the loop was busy in it: a gap is also
 * longer when another process took the core, which the loop's own work did not cause.
 */
async function whileTimersRun<T>(work: () => Promise<T>): Promise<{ result: T; gaps: LoopGaps }> {
  const gaps: LoopGaps = { longestGapMs: 0, longestBusyMs: 0 };
  let lastMs = performance.now();
  let lastCpuMs = threadCpuMs();
  let done = false;
  let stopped!: () => void;
  const lastTick = new Promise<void>((resolve) => (stopped = resolve));
  const tick = () => {
    const nowMs = performance.now();
    const cpuMs = threadCpuMs();
    gaps.longestGapMs = Math.max(gaps.longestGapMs, nowMs - lastMs);
    gaps.longestBusyMs = Math.max(gaps.longestBusyMs, cpuMs - lastCpuMs);
    lastMs = nowMs;
    lastCpuMs = cpuMs;
    if (done) stopped();
    else setTimeout(tick, 1);
  };
  setTimeout(tick, 1);
  try {
    return { result: await work(), gaps };
  } finally {
    done = true;
    await lastTick;
  }
}

/** Collects the worker threads this process starts while `during` runs (Node's worker_threads diagnostics channel). */
async function workersStartedDuring<T>(during: (started: Worker[]) => Promise<T>): Promise<{ started: Worker[]; result: T }> {
  const started: Worker[] = [];
  const onStart = (m: unknown) => started.push((m as { worker: Worker }).worker);
  subscribe('worker_threads', onStart);
  try {
    return { started, result: await during(started) };
  } finally {
    unsubscribe('worker_threads', onStart);
  }
}

describe('the store worker', () => {
  it('starts on the first file call, serves the next ones too, and holds no process open while idle', () => {
    // A process that never closes its host must still end once its calls are answered.
    const hostUrl = compiledModuleUrl(import.meta.url, '../experiments/api/host.js').href;
    const script = [
      "import { subscribe } from 'node:diagnostics_channel';",
      `const { LabHost } = await import(${JSON.stringify(hostUrl)});`,
      'let workers = 0;',
      "subscribe('worker_threads', () => workers++);",
      `const host = new LabHost({ runsDir: ${JSON.stringify(runsDir)}, specsDir: ${JSON.stringify(specsDir)} });`,
      "const knobs = await host.call('listKnobs', {});",
      'const beforeFiles = workers;',
      "const runs = await host.call('listRuns', {});",
      "const library = await host.call('listLibrary', {});",
      'console.log(JSON.stringify({ beforeFiles, after: workers, answers: [knobs.ok, runs.ok && runs.value.length, library.ok] }));',
    ].join('\n');
    // A file, not --input-type=module -e: worker threads inherit the process's flags, and that one fails them.
    const file = join(tmp, 'idle-host.mjs');
    writeFileSync(file, script);
    const r = spawnSync(process.execPath, [file], { encoding: 'utf8', timeout: 30_000 });
    expect(r.signal, `the process did not end by itself: ${r.stdout}${r.stderr}`).toBeNull();
    expect(r.status, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual({ beforeFiles: 0, after: 1, answers: [true, 2, true] });
  });

  it('answers the calls of a crashed worker with an error naming the call and the crash, and starts a new one for the next call', async () => {
    // A heap too small for 300,000 packet rows: the worker runs out of memory on the large run.
    const capped = new LabHost({ runsDir, specsDir, storeHeapMb: 64 });
    try {
      const { started, result } = await workersStartedDuring(async () => {
        const before = value<RunInfo[]>(await capped.call('listRuns', {}));
        const [crashed, alongside] = await Promise.all([capped.call('openRun', { runId: basename(large) }), capped.call('listRuns', {})]);
        const after = await capped.call('openRun', { runId: basename(small) });
        return { before, crashed, alongside, after };
      });
      expect(result.crashed).toEqual({ ok: false, error: expect.stringMatching(/^openRun: the store worker crashed: .*memory limit/) });
      expect(result.alongside).toEqual({ ok: false, error: expect.stringMatching(/^listRuns: the store worker crashed: .*memory limit/) });
      expect(value<{ info: RunInfo }>(result.after).info).toEqual(result.before.find((r) => r.id === basename(small)));
      expect(started.length).toBe(2);
    } finally {
      await capped.close();
    }
  });

  it("keeps the host's event loop free while it opens a run with 300,000 packet rows", async () => {
    // The same work done on this loop, as the host did it before the store worker.
    const cpu0 = threadCpuMs();
    const t0 = performance.now();
    const record = readRun(large);
    const packetRows = (['samples', 'events', 'summary', 'packets'] as const).map((t) => tableOf(join(large, `${t}.csv`)))[3]!.rows.length;
    const syncMs = performance.now() - t0;
    const syncCpuMs = threadCpuMs() - cpu0;
    expect(packetRows).toBe(LARGE_PACKET_ROWS);
    // Judged by where the work happens, not by how long anything takes: the loop's own thread is
    // never busy for 50 ms between two of its timers while the worker opens the run (a busy machine
    // may lengthen the wall-clock gaps, never this thread's CPU time), where the same work done on
    // the loop keeps its thread busy for the whole of it (see the figures printed).
    const fresh = new LabHost({ runsDir, specsDir });
    try {
      const t1 = performance.now();
      const { result, gaps } = await whileTimersRun(() => fresh.call('openRun', { runId: basename(large) }));
      const workerMs = performance.now() - t1;
      const got = value<{ record: unknown; packets: Table }>(result);
      expect(got.record).toEqual(record);
      expect(got.packets.rows.length).toBe(LARGE_PACKET_ROWS);
      console.log(
        `openRun of ${LARGE_PACKET_ROWS} packet rows (${statSync(join(large, 'packets.csv')).size} bytes of packets.csv): ` +
          `done on the host's loop it blocks it for ${syncMs.toFixed(0)} ms (${syncCpuMs.toFixed(0)} ms of CPU); through the store worker it took ` +
          `${workerMs.toFixed(0)} ms, and the longest gap between the loop's 1 ms timers was ${gaps.longestGapMs.toFixed(1)} ms, ` +
          `of which the loop's thread was busy at most ${gaps.longestBusyMs.toFixed(1)} ms`,
      );
      // The bound means something only if the work itself would break it many times over.
      expect(syncCpuMs).toBeGreaterThan(500);
      expect(gaps.longestBusyMs).toBeLessThan(50);
    } finally {
      await fresh.close();
    }
  });

  it('ends with close(), which answers the calls still pending', async () => {
    const closing = new LabHost({ runsDir, specsDir });
    const { started, result } = await workersStartedDuring(async (workers) => {
      const pending = closing.call('openRun', { runId: basename(large) });
      await until('the store worker to start', () => workers.length > 0);
      const exited = new Promise<void>((resolve) => workers[0]!.once('exit', () => resolve()));
      await closing.close();
      await exited;
      return { answer: await pending, later: await closing.call('listRuns', {}) };
    });
    expect(started.length).toBe(1);
    expect(result.answer).toEqual({ ok: false, error: 'openRun: the lab is shutting down' });
    expect(result.later).toEqual({ ok: false, error: 'listRuns: the lab is shutting down' });
    expect(started[0]!.threadId).toBe(-1);
  });
});
