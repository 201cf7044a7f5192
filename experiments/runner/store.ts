// Results on disk: one folder per run with run.json, samples.csv, events.csv and summary.csv.
// The CSV files are appended row by row as the run goes and run.json is rewritten (atomically) at
// every change of status, so a run that is stopped, crashes or loses its peer keeps everything
// written so far. A write the disk refuses ends the run, recorded as failed with the error; a
// file a full disk cut short reads back as far as it is whole. docs/experiments.md documents every
// file and column.

import { closeSync, existsSync, fstatSync, mkdirSync, openSync, readFileSync, readSync, readdirSync, renameSync, rmSync, statSync, unlinkSync, writeFileSync, writeSync } from 'node:fs';
import { hostname, platform, release } from 'node:os';
import { basename, dirname, join } from 'node:path';
import envPaths from 'env-paths';
import { parse } from 'csv-parse/sync';
import { stringify } from 'csv-stringify/sync';
import { CsvWriteError, CsvWriter, type Cell } from '../../net/csv.js';
import type { ByteSink } from '../../core/capture/sink.js';
import { projectRoot } from '../../net/paths.js';
import type { ExperimentSpec, KnobValue } from '../spec.js';
import type { FaultStep } from '../kinds/kind.js';

/** Status of a run. */
export type RunStatus = 'running' | 'complete' | 'stopped' | 'failed' | 'peer-lost' | 'interrupted';

/** Format tag of run.json. */
export const RUN_FORMAT = 'packetlab-run/1';

/** One trial as run.json records it. */
export interface TrialRecord {
  point: number;
  repetition: number;
  seed: number;
  status: string;
  failure: string | null;
  /** A hand changed a knob or a datagram while the trial ran (absent in runs before it was kept). */
  changedByHand?: boolean;
}

/** A live change made during a trial (replayable: add it to the schedule). */
export interface LiveChange {
  point: number;
  repetition: number;
  atS: number;
  knob: string;
  value: KnobValue;
  source: string;
  /** Something done by hand to a datagram (knob 'packet'): a schedule step `{atS, packet}` replays it. */
  packet?: { direction: 'forward' | 'reverse'; index: number; duplicate: boolean; action: 'drop' | 'corrupt' | 'duplicate' | 'delay'; delayMs?: number };
  /** A failure caused by hand to a replica (knob 'fault', rpc-replicas): a schedule step `{atS, fault}` replays it. */
  fault?: FaultStep;
}

/** The content of run.json. */
export interface RunRecord {
  format: typeof RUN_FORMAT;
  id: string;
  name: string;
  title: string;
  specFile: string | null;
  /** The spec as it ran: overrides and --quick applied, defaults filled in. */
  spec: ExperimentSpec;
  /** `explore`: the index of the one sweep point explored until stopped. */
  overrides: { set: Record<string, KnobValue>; network: string | null; quick: boolean; explore?: number };
  network: string;
  points: { index: number; axes: Record<string, KnobValue>; set: Record<string, KnobValue> }[];
  versions: { packetlab: string; node: string };
  host: { hostname: string; platform: string; release: string; pid: number };
  startedAt: string;
  endedAt: string | null;
  status: RunStatus;
  reason: string | null;
  trials: TrialRecord[];
  liveChanges: LiveChange[];
  /** pcapng files of the trials (`packetlab run --pcap`). */
  captures: { point: number; repetition: number; file: string; frames: number; bytes: number; capped: boolean }[];
  /** Columns of the CSV files. */
  columns: { samples: string[]; events: string[]; summary: string[] };
}

/** Columns of events.csv. */
export const EVENT_COLUMNS = ['time_s', 'wall_time', 'point', 'repetition', 'kind', 'knob', 'label', 'before', 'after', 'detail'] as const;

const pkg = JSON.parse(readFileSync(join(projectRoot(), 'package.json'), 'utf8')) as { version: string };

/** The version of packetlab. */
export const PACKETLAB_VERSION = pkg.version;

/** Where runs go when --out is not given: the user's data folder. */
export function defaultRunsDir(): string {
  return process.env.PACKETLAB_RUNS_DIR ?? join(envPaths('packetlab', { suffix: '' }).data, 'runs');
}

/** Folder of the user's own specs (the app's and `packetlab serve`'s saveSpec), in the user's data folder. */
export function defaultSpecsDir(): string {
  return join(envPaths('packetlab', { suffix: '' }).data, 'specs');
}

function stamp(d: Date): string {
  const p = (n: number) => String(n).padStart(2, '0');
  return `${d.getFullYear()}${p(d.getMonth() + 1)}${p(d.getDate())}-${p(d.getHours())}${p(d.getMinutes())}${p(d.getSeconds())}`;
}

/** Makes `dir` if it is missing, and its missing parents; the file system's error otherwise. */
function makeFolders(dir: string): void {
  try {
    mkdirSync(dir);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'EEXIST' && statSync(dir).isDirectory()) return;
    // Node's recursive mkdir reports ENOENT for a folder it cannot make on a read-only file system;
    // going up one parent at a time, the refusal comes with its own cause (EROFS, EACCES).
    if (code !== 'ENOENT' || dirname(dir) === dir) throw e;
    makeFolders(dirname(dir));
    makeFolders(dir);
  }
}

/** Room a run folder keeps while its run goes (`.reserve`, zeros): on a disk that fills up, freeing it makes room to record how the run ended. */
const RESERVE_MIN_BYTES = 256 * 1024;
const RESERVE_FILE = '.reserve';
const ZEROS = new Uint8Array(64 * 1024);

/** The first write a run folder refused: the file (a name in the folder) and the file system's error. */
export interface WriteFailure {
  file: string;
  /** The errno code (ENOSPC, EFBIG, EIO, ...), when the file system gave one. */
  code: string | null;
  message: string;
}

/**
 * A capture file of a run folder: bytes through a 64 KiB buffer, written synchronously, as
 * core/capture's FileSink does; but a write the folder refuses closes the file and is reported
 * once, instead of throwing into the trial (FileSink would throw again at every later flush and
 * keep its file open).
 */
class CaptureFile implements ByteSink {
  private fd: number | null;
  private readonly buf = new Uint8Array(64 * 1024);
  private used = 0;

  constructor(
    path: string,
    private readonly onError: (e: unknown) => void,
  ) {
    this.fd = openSync(path, 'w');
  }

  write(bytes: Uint8Array): void {
    if (this.fd === null) return;
    if (this.used + bytes.length > this.buf.length) {
      this.flush();
      if (bytes.length > this.buf.length) return this.out(bytes);
    }
    this.buf.set(bytes, this.used);
    this.used += bytes.length;
  }

  flush(): void {
    if (this.used === 0) return;
    const n = this.used;
    this.used = 0;
    this.out(this.buf.subarray(0, n));
  }

  close(): void {
    this.flush();
    this.shut();
  }

  private out(bytes: Uint8Array): void {
    if (this.fd === null) return;
    try {
      for (let done = 0; done < bytes.length; ) done += writeSync(this.fd, bytes, done, bytes.length - done);
    } catch (e) {
      this.shut();
      this.onError(e);
    }
  }

  private shut(): void {
    if (this.fd === null) return;
    const fd = this.fd;
    this.fd = null;
    try {
      closeSync(fd);
    } catch (e) {
      this.onError(e);
    }
  }
}

/**
 * A run folder being written. No write throws into the run: the first one the folder refuses (a
 * full disk, a file size limit, an I/O error) is kept and the listener is told (the runner stops
 * the run); the file that refused takes no more rows (they would follow a gap) and they are
 * counted, while the other files go on as long as they can; end() records the run as failed with
 * the error as its reason, using the room the reserve kept.
 */
export class RunStore {
  readonly dir: string;
  readonly record: RunRecord;
  private readonly samples: CsvWriter;
  private readonly events: CsvWriter;
  private readonly summary: CsvWriter;
  private packets: CsvWriter | null = null;
  private packetsOpened = false;
  private failure: WriteFailure | null = null;
  /** Rows not written after the failure (the refused one included), by file. */
  private readonly notWritten = new Map<string, number>();
  private reserveBytes = 0;

  /** Makes the run folder in `root` with its files; throws, leaving no folder, when they cannot be made. */
  constructor(
    root: string,
    record: Omit<RunRecord, 'id'>,
    private readonly onFailure: (reason: string) => void = () => {},
  ) {
    const base = `${stamp(new Date(record.startedAt))}-${record.name}`;
    let id = base;
    try {
      makeFolders(root);
      for (let i = 2; existsSync(join(root, id)); i++) id = `${base}-${i}`;
      mkdirSync(join(root, id));
    } catch (e) {
      throw new Error(`cannot make a run folder in ${root}: ${(e as Error).message}`, { cause: e });
    }
    this.dir = join(root, id);
    this.record = { ...record, id };
    const made: CsvWriter[] = [];
    const csv = (file: string, columns: string[]) => {
      const w = new CsvWriter(join(this.dir, file), columns);
      made.push(w);
      return w;
    };
    try {
      this.keepReserve(0);
      this.samples = csv('samples.csv', record.columns.samples);
      this.events = csv('events.csv', record.columns.events);
      this.summary = csv('summary.csv', record.columns.summary);
      this.writeRecord(true);
    } catch (e) {
      // Nothing of the run is in the folder yet: it goes, rather than stay as a folder without a run.
      for (const w of made) w.close();
      rmSync(this.dir, { recursive: true, force: true });
      throw new Error(`cannot make a run folder in ${root}: ${(e as Error).message}`, { cause: e });
    }
  }

  /** Rewrites run.json (write then rename, so a reader never sees half a file). */
  save(): void {
    try {
      this.writeRecord(true);
    } catch (e) {
      this.fail('run.json', (e as Error).cause ?? e);
    }
  }

  /** Appends a sample row. */
  sample(row: Readonly<Record<string, Cell>>): void {
    this.row(this.samples, 'samples.csv', row);
  }

  /** Appends an event row. */
  event(row: Readonly<Record<string, Cell>>): void {
    this.row(this.events, 'events.csv', row);
  }

  /** Appends a summary row. */
  summaryRow(row: Readonly<Record<string, Cell>>): void {
    this.row(this.summary, 'summary.csv', row);
  }

  /** Starts packets.csv with `columns` (once; runs that log every datagram). */
  openPackets(columns: readonly string[]): void {
    // Once: a packets.csv that could not be made is not tried again for a later trial.
    if (this.packetsOpened) return;
    this.packetsOpened = true;
    try {
      this.packets = new CsvWriter(join(this.dir, 'packets.csv'), columns);
    } catch (e) {
      this.fail('packets.csv', e);
    }
  }

  /** Appends a row to packets.csv (after openPackets). */
  packet(row: Readonly<Record<string, Cell>>): void {
    this.row(this.packets, 'packets.csv', row);
  }

  /** A capture file `file` of the folder; a write it refuses ends the run as a refused row does. Null when it cannot be made (the run is ending then). */
  captureSink(file: string): ByteSink | null {
    try {
      return new CaptureFile(join(this.dir, file), (e) => this.fail(file, e));
    } catch (e) {
      this.fail(file, e);
      return null;
    }
  }

  /**
   * Marks the run ended, closes the files and writes run.json a last time. Answers the status and
   * reason recorded: after a refused write the run is failed, with the file and the error (and
   * the run's own reason after it when it had failed already); when even run.json cannot be
   * written, the reason says so too (the folder then keeps the run.json before).
   */
  end(status: RunStatus, reason: string | null): { status: RunStatus; reason: string | null } {
    for (const [file, w] of [['samples.csv', this.samples], ['events.csv', this.events], ['summary.csv', this.summary], ['packets.csv', this.packets]] as const) {
      try {
        w?.close();
      } catch (e) {
        this.fail(file, e);
      }
    }
    if (this.failure !== null) {
      const why = this.failureReason();
      if ((status === 'failed' || status === 'peer-lost') && reason !== null) reason = `${reason}; then ${why}`;
      else {
        status = 'failed';
        reason = why;
      }
    }
    this.record.status = status;
    this.record.reason = reason;
    this.record.endedAt = new Date().toISOString();
    // The room kept for this write: a full disk now has it.
    try {
      unlinkSync(join(this.dir, RESERVE_FILE));
    } catch {
      // Gone already, or never made (a file size limit): nothing to free.
    }
    try {
      this.writeRecord(false);
    } catch (e) {
      return { status, reason: `${reason ?? status}; run.json could not be updated: ${((e as Error).cause as Error | undefined)?.message ?? (e as Error).message}` };
    }
    return { status, reason };
  }

  private row(writer: CsvWriter | null, file: string, row: Readonly<Record<string, Cell>>): void {
    // A writer that failed refuses its later rows itself; one that could not be made is null.
    if (writer !== null) {
      try {
        writer.write(row);
        return;
      } catch (e) {
        this.fail(file, e);
      }
    }
    this.notWritten.set(file, (this.notWritten.get(file) ?? 0) + 1);
  }

  private fail(file: string, e: unknown): void {
    if (this.failure !== null) return;
    const cause = (e instanceof CsvWriteError ? e.cause : e) as NodeJS.ErrnoException;
    this.failure = { file, code: cause.code ?? null, message: cause.message };
    this.onFailure(this.failureReason());
  }

  private failureReason(): string {
    const f = this.failure!;
    const lost = [...this.notWritten].map(([file, n]) => `${file} ${n}`).join(', ');
    return `cannot write ${f.file}: ${f.message}${lost === '' ? '' : ` (rows not written: ${lost})`}`;
  }

  /** Writes run.json through .run.json.tmp, which never stays; with `reserve`, first grows the reserve to hold a copy of it. */
  private writeRecord(reserve: boolean): void {
    const text = `${JSON.stringify(this.record, null, 2)}\n`;
    // The last write needs room for a whole new run.json beside the old one.
    if (reserve) this.keepReserve(2 * Buffer.byteLength(text));
    const tmp = join(this.dir, '.run.json.tmp');
    try {
      writeFileSync(tmp, text);
      renameSync(tmp, join(this.dir, 'run.json'));
    } catch (e) {
      try {
        rmSync(tmp, { force: true });
      } catch {
        // A folder that refuses this too keeps the file; readers ignore it.
      }
      throw new Error(`cannot write ${join(this.dir, 'run.json')}: ${(e as Error).message}`, { cause: e });
    }
  }

  /** Grows the reserve to `bytes` (at least RESERVE_MIN_BYTES), as far as the disk lets: it is a precaution, and a smaller one is no failure. */
  private keepReserve(bytes: number): void {
    const want = Math.max(RESERVE_MIN_BYTES, bytes);
    if (this.reserveBytes >= want) return;
    let fd: number | null = null;
    try {
      fd = openSync(join(this.dir, RESERVE_FILE), 'a');
      while (this.reserveBytes < want) {
        const n = writeSync(fd, ZEROS, 0, Math.min(ZEROS.length, want - this.reserveBytes));
        if (n === 0) break;
        this.reserveBytes += n;
      }
    } catch {
      // A full disk or a file size limit: the reserve stays as large as it got.
    } finally {
      if (fd !== null) closeSync(fd);
    }
  }
}

/** A run found on disk. */
export interface RunListing {
  dir: string;
  record: RunRecord;
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Reads a run folder's run.json; a 'running' run whose process is gone is reported 'interrupted'. */
export function readRun(dir: string): RunRecord {
  const file = join(dir, 'run.json');
  let record: RunRecord;
  try {
    record = JSON.parse(readFileSync(file, 'utf8')) as RunRecord;
  } catch (e) {
    throw new Error(`${file}: ${(e as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such run (run.json is missing)' : (e as Error).message}`);
  }
  if (record.format !== RUN_FORMAT) throw new Error(`${file}: not a packetlab run (format ${JSON.stringify(record.format)})`);
  if (record.status === 'running' && record.host.hostname === hostname() && !pidAlive(record.host.pid)) {
    return { ...record, status: 'interrupted', reason: record.reason ?? 'the process running it ended without finishing (crash or kill)' };
  }
  return record;
}

/** Lists the runs under a results folder, newest first. */
export function listRuns(root: string): RunListing[] {
  if (!existsSync(root)) return [];
  const out: RunListing[] = [];
  for (const name of readdirSync(root)) {
    const dir = join(root, name);
    try {
      if (!statSync(dir).isDirectory() || !existsSync(join(dir, 'run.json'))) continue;
      out.push({ dir, record: readRun(dir) });
    } catch {
      // What is not a run (a link to nowhere, a folder whose run.json does not read) is not listed.
    }
  }
  return out.sort((a, b) => b.record.startedAt.localeCompare(a.record.startedAt));
}

/** Whether `ref` can be a folder name of the runs folder: not empty, not "." or "..", no separator. */
function isFolderName(ref: string): boolean {
  return ref !== '' && ref !== '.' && ref !== '..' && !/[/\\\0]/.test(ref);
}

/**
 * Finds a run of the runs folder by folder name, unique prefix of its name, experiment name (its
 * newest run) or "latest". A path, "." or ".." is refused: it would reach outside the runs folder
 * (relative to the process's working folder), and the app's callers must not reach there.
 */
export function findRun(root: string, ref: string): string {
  if (!isFolderName(ref)) throw new Error(`${JSON.stringify(ref)} is not a run id: a run id is the name of a folder in ${root}, not a path`);
  const runs = listRuns(root);
  if (ref === 'latest') {
    if (runs.length === 0) throw new Error(`no runs in ${root}`);
    return runs[0]!.dir;
  }
  const exact = runs.find((r) => basename(r.dir) === ref);
  if (exact !== undefined) return exact.dir;
  const matches = runs.filter((r) => basename(r.dir).startsWith(ref) || r.record.name === ref);
  if (matches.length === 1) return matches[0]!.dir;
  if (matches.length > 1 && matches.every((m) => m.record.name === ref)) return matches[0]!.dir;
  if (matches.length > 1) throw new Error(`"${ref}" matches ${matches.length} runs: ${matches.slice(0, 5).map((m) => basename(m.dir)).join(', ')}`);
  throw new Error(`no run "${ref}" in ${root} (packetlab runs lists them)`);
}

/** Something of a run's CSV file that could not be read back whole; the rest of the file still reads. */
export type CsvDamage =
  | { kind: 'missing'; file: string }
  | { kind: 'unreadable'; file: string; error: string }
  | { kind: 'empty'; file: string }
  /** The file ends inside a row (or the header): the rest of it never reached the disk. */
  | { kind: 'cut-off'; file: string; what: 'row' | 'header' }
  | { kind: 'bad-row'; file: string; row: number; cells: number; columns: number }
  | { kind: 'unparsable'; file: string; line: number; error: string };

/** One sentence about a damage, naming the file and what is lost. */
export function describeDamage(d: CsvDamage): string {
  switch (d.kind) {
    case 'missing':
      return `${d.file} is missing`;
    case 'unreadable':
      return `${d.file} cannot be read: ${d.error}`;
    case 'empty':
      return `${d.file} is empty (not even its header was written)`;
    case 'cut-off':
      return d.what === 'row' ? `${d.file}: the last row was cut off (disk full?) and is left out` : `${d.file}: the header was cut off (disk full?); the file has no rows`;
    case 'bad-row':
      return `${d.file}: row ${d.row} has ${d.cells} cells, not ${d.columns}, and is left out`;
    case 'unparsable':
      return `${d.file}: line ${d.line} cannot be read (${d.error}) and is left out`;
  }
}

/** A CSV file of a run as read back: the header, the whole rows, and what could not be read. */
export interface CsvContent {
  header: string[];
  rows: string[][];
  damage: CsvDamage[];
}

/**
 * Where the last whole record of CSV text ends (just after its newline), quotes heeded: a newline
 * inside a quoted cell does not end a record. CsvWriter ends every row with a newline, so whatever
 * comes after this point is a row the disk took only part of.
 */
function wholeRecordsEnd(text: string): number {
  // One pass over the characters: a newline ends a record unless it is inside quotes (an escaped
  // quote "" toggles twice, which comes to the same). It replaces a loop of indexOf searches from
  // each position, which was measured taking minutes on some 20 MB files in the test suite's
  // process (not in a fresh one); this loop's time depends on the length alone.
  let end = 0;
  let quoted = false;
  for (let i = 0, n = text.length; i < n; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x22) quoted = !quoted;
    else if (c === 0x0a && !quoted) end = i + 1;
  }
  return end;
}

/** Parses the text of a run's CSV file `file` (a name for the messages): a cut-off end and rows with the wrong number of cells are left out and named. */
export function parseRunCsv(file: string, text: string): CsvContent {
  const damage: CsvDamage[] = [];
  if (text === '') return { header: [], rows: [], damage: [{ kind: 'empty', file }] };
  const end = wholeRecordsEnd(text);
  if (end < text.length) damage.push({ kind: 'cut-off', file, what: end === 0 ? 'header' : 'row' });
  const records = parse(text.slice(0, end), {
    relax_column_count: true,
    skip_empty_lines: true,
    // Only a file changed by other hands has quotes that do not parse: its bad records are named.
    skip_records_with_error: true,
    on_skip: (e) => {
      if (e !== undefined) damage.push({ kind: 'unparsable', file, line: Number(e.lines), error: e.message.replace(/ at line \d+.*$/s, '') });
      return undefined;
    },
  }) as string[][];
  const [header = [], ...all] = records;
  const rows: string[][] = [];
  all.forEach((r, i) => {
    if (r.length === header.length) rows.push(r);
    else damage.push({ kind: 'bad-row', file, row: i + 1, cells: r.length, columns: header.length });
  });
  return { header, rows, damage };
}

/** Reads a CSV file of a run (see parseRunCsv); a file that is not there, or cannot be read, is a damage of its own. */
export function readRunCsv(path: string): CsvContent {
  const file = basename(path);
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    return { header: [], rows: [], damage: [err.code === 'ENOENT' ? { kind: 'missing', file } : { kind: 'unreadable', file, error: err.message }] };
  }
  return parseRunCsv(file, text);
}

/** Reads a CSV file of a run as rows of cells, the header first (whole rows only: readRunCsv says what was left out). */
export function readCsvRows(file: string): string[][] {
  const { header, rows } = readRunCsv(file);
  return header.length === 0 ? [] : [header, ...rows];
}

/** Reads a CSV file of a run as objects (whole rows only: readRunCsv says what was left out). */
export function readCsv(file: string): Record<string, string>[] {
  const { header, rows } = readRunCsv(file);
  return rows.map((r) => Object.fromEntries(header.map((c, i) => [c, r[i]!])));
}

/** CSV files every run has (packets.csv and captures only some). */
const RUN_CSV_FILES = ['samples.csv', 'events.csv', 'summary.csv'] as const;

/**
 * What `packetlab runs` can tell of a run's CSV files without reading them: a file missing or
 * empty, or one whose last row was cut off (it does not end with a newline). Reading the files
 * (readRunCsv) tells the rest.
 */
export function checkRunFiles(dir: string): CsvDamage[] {
  const out: CsvDamage[] = [];
  for (const file of [...RUN_CSV_FILES, 'packets.csv']) {
    const path = join(dir, file);
    let fd: number;
    try {
      fd = openSync(path, 'r');
    } catch (e) {
      const err = e as NodeJS.ErrnoException;
      if (err.code !== 'ENOENT') out.push({ kind: 'unreadable', file, error: err.message });
      else if (file !== 'packets.csv') out.push({ kind: 'missing', file });
      continue;
    }
    try {
      const size = fstatSync(fd).size;
      if (size === 0) {
        out.push({ kind: 'empty', file });
        continue;
      }
      const last = Buffer.alloc(1);
      readSync(fd, last, 0, 1, size - 1);
      if (last[0] !== 0x0a) out.push({ kind: 'cut-off', file, what: 'row' });
    } catch (e) {
      out.push({ kind: 'unreadable', file, error: (e as Error).message });
    } finally {
      closeSync(fd);
    }
  }
  return out;
}

/** Combined CSV text, and what of the runs could not be read back (one sentence each, naming the run and the file). */
export interface CombinedCsv {
  csv: string;
  warnings: string[];
}

/**
 * One CSV combining runs: every sample row of every run, with the run id, the experiment name and
 * the trial's final status in front (the union of the runs' columns; missing cells are empty).
 * Rows a run's file lost (cut off by a full disk) are left out and named in the warnings.
 */
export function combinedCsv(dirs: readonly string[], which: 'samples' | 'summary' = 'samples'): CombinedCsv {
  const columns: string[] = ['run', 'experiment'];
  if (which === 'samples') columns.push('trial_status');
  const rows: Record<string, string>[] = [];
  const warnings: string[] = [];
  for (const dir of dirs) {
    const rec = readRun(dir);
    for (const c of which === 'samples' ? rec.columns.samples : rec.columns.summary) if (!columns.includes(c)) columns.push(c);
    const status = new Map(rec.trials.map((t) => [`${t.point}/${t.repetition}`, t.status]));
    const content = readRunCsv(join(dir, `${which}.csv`));
    for (const d of content.damage) warnings.push(`${rec.id}: ${describeDamage(d)}`);
    for (const cells of content.rows) {
      const r = Object.fromEntries(content.header.map((c, i) => [c, cells[i]!]));
      rows.push({ run: rec.id, experiment: rec.name, ...(which === 'samples' ? { trial_status: status.get(`${r.point}/${r.repetition}`) ?? 'running' } : {}), ...r });
    }
  }
  return { csv: stringify([columns, ...rows.map((r) => columns.map((c) => r[c] ?? ''))]), warnings };
}

/** Host facts for run.json. */
export function hostFacts(): RunRecord['host'] {
  return { hostname: hostname(), platform: platform(), release: release(), pid: process.pid };
}
