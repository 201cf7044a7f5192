// The host's file work in a thread of its own: reading the library and the user's specs, listing
// and opening run folders (samples.csv, events.csv, summary.csv and packets.csv, up to a million
// rows, parsed into tables), building combined CSV exports, and reading captures of up to 64 MiB
// into base64. Done on the host's event loop, in the Electron main process, this froze menus,
// window moves and every IPC call while it ran; the host (store-client.ts) now only posts a call
// and receives its answer. One call runs at a time, in the order they came.
//
// A large answer comes in pieces that the host asks for one at a time. Receiving a message is
// synchronous work on the host's loop (a table of 300,000 rows took it about 300 ms to
// deserialize), and a port delivers every message already queued in one go, so pieces sent
// unasked would block the loop as long as the whole answer. Asked for, each is one short task.

import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { basename, join } from 'node:path';
import { parentPort, workerData } from 'node:worker_threads';
import { loadLibrary } from '../library.js';
import { combinedCsv, describeDamage, findRun, listRuns, readRun, readRunCsv, type RunRecord } from '../runner/store.js';
import type { ApiParams, ApiResults, Result, RunInfo, SavedSpecInfo, Table } from './contract.js';
import { CONCEPT_TITLES, parseSpecText } from '../spec.js';

/** The calls of the lab API that the store worker performs. */
export type StoreMethod = 'listLibrary' | 'loadSpec' | 'listSpecs' | 'listRuns' | 'openRun' | 'exportCsv' | 'getCapture';

/** What the host gives the worker: the folders the calls read. */
export interface StoreWorkerData {
  /** Results folder of runs. */
  runsDir: string;
  /** Folder of the user's own specs. */
  specsDir: string;
}

/** A call the host posts (its params already validated by checkParams), or its request for the next piece of call `id`'s answer. */
export type StoreRequest = { type: 'call'; id: number; method: StoreMethod; params: unknown } | { type: 'next'; id: number };

/** Part of a large answer: rows to append to the table at `key` of the value, or text to append to the string at `key`. */
export type StorePiece = { key: string; rows: Table['rows'] } | { key: string; text: string };

/** The answer to call `id` with its large parts taken out, and how many pieces hold them; or the next piece. */
export type StoreReply = { type: 'answer'; id: number; result: Result<unknown>; pieces: number } | { type: 'piece'; id: number; piece: StorePiece };

/** Largest capture getCapture sends (base64 makes it a third larger). */
const MAX_CAPTURE_TRANSFER_BYTES = 64 * 1024 * 1024;
/** Table cells in one piece: a few milliseconds for the host to receive. */
const PIECE_CELLS = 10_000;
/** Characters of a string in one piece: a few milliseconds for the host to receive. */
const PIECE_CHARS = 4 * 1024 * 1024;

const { runsDir, specsDir } = workerData as StoreWorkerData;

function infoOf(r: RunRecord): RunInfo {
  return { id: r.id, name: r.name, title: r.title, status: r.status, reason: r.reason, network: r.network, startedAt: r.startedAt, endedAt: r.endedAt, trials: r.trials.length, captures: (r.captures ?? []).map((c) => c.file) };
}

/** A CSV file of a run as a table, and what of it could not be read (a missing packets.csv is not damage: only runs the app started have one). */
function toTable(file: string): { table: Table; warnings: string[] } {
  if (basename(file) === 'packets.csv' && !existsSync(file)) return { table: { columns: [], rows: [] }, warnings: [] };
  const { header, rows, damage } = readRunCsv(file);
  return { table: tableOf(header, rows), warnings: damage.map(describeDamage) };
}

function tableOf(header: string[], rows: string[][]): Table {
  return {
    columns: header,
    rows: rows.map((r) =>
      header.map((_c, i) => {
        const v = r[i];
        if (v === undefined || v === '') return null;
        const n = Number(v);
        return Number.isFinite(n) && /^[-+0-9.eE]+$/.test(v) ? n : v;
      }),
    ),
  };
}

/** Most saved specs listed (newest first). */
const SPECS_LISTED = 500;

/** The specs saved in the specs folder (NAME.json, as saveSpec writes them), newest first. */
function savedSpecs(): SavedSpecInfo[] {
  if (!existsSync(specsDir)) return [];
  const out: SavedSpecInfo[] = [];
  for (const f of readdirSync(specsDir)) {
    const name = /^([a-z0-9][a-z0-9-]{0,63})\.json$/.exec(f)?.[1];
    if (name === undefined) continue;
    const file = join(specsDir, f);
    const st = statSync(file);
    if (!st.isFile()) continue;
    // A file bigger than a spec may be is listed, not read.
    const parsed = st.size > 256 * 1024 ? null : parseSpecText(readFileSync(file, 'utf8'));
    const title = parsed === null ? 'larger than a spec may be (256 KiB)' : parsed.ok ? parsed.spec.title : `not a valid spec: ${parsed.errors[0]!.path}: ${parsed.errors[0]!.message}`;
    out.push({ name, title, valid: parsed?.ok === true, savedAt: st.mtime.toISOString() });
  }
  return out.sort((a, b) => b.savedAt.localeCompare(a.savedAt)).slice(0, SPECS_LISTED);
}

/** Each call, as the host answered it on its own loop before. */
const CALLS: { [M in StoreMethod]: (p: ApiParams<M>) => Result<ApiResults[M]> } = {
  listLibrary: () => ({
    ok: true,
    value: loadLibrary().map(({ file, spec }) => ({ name: spec.name, title: spec.title, description: spec.description, concepts: spec.concepts, group: CONCEPT_TITLES[spec.concepts[0]!], network: spec.network, text: readFileSync(file, 'utf8') })),
  }),
  loadSpec: ({ name }) => {
    const own = join(specsDir, `${name}.json`);
    if (existsSync(own)) return { ok: true, value: { name, text: readFileSync(own, 'utf8') } };
    const lib = loadLibrary().find((e) => e.spec.name === name);
    if (lib === undefined) return { ok: false, error: `loadSpec: no spec named "${name}" in ${specsDir} or the library` };
    return { ok: true, value: { name, text: readFileSync(lib.file, 'utf8') } };
  },
  listSpecs: () => ({ ok: true, value: savedSpecs() }),
  listRuns: () => ({ ok: true, value: listRuns(runsDir).map((r) => infoOf(r.record)) }),
  openRun: ({ runId }) => {
    const dir = findRun(runsDir, runId);
    const record = readRun(dir);
    const samples = toTable(join(dir, 'samples.csv'));
    const events = toTable(join(dir, 'events.csv'));
    const summary = toTable(join(dir, 'summary.csv'));
    const packets = toTable(join(dir, 'packets.csv'));
    const warnings = [samples, events, summary, packets].flatMap((t) => t.warnings);
    return { ok: true, value: { info: infoOf(record), record, samples: samples.table, events: events.table, summary: summary.table, packets: packets.table, warnings } };
  },
  exportCsv: ({ runIds, which }) => {
    const dirs = runIds.map((id) => findRun(runsDir, id));
    const fileName = `${runIds.length === 1 ? basename(dirs[0]!) : 'packetlab-runs'}-${which}.csv`;
    return { ok: true, value: { csv: combinedCsv(dirs, which).csv, fileName } };
  },
  getCapture: ({ runId, file }) => {
    const dir = findRun(runsDir, runId);
    const record = readRun(dir);
    if (!(record.captures ?? []).some((c) => c.file === file)) return { ok: false, error: `getCapture: run ${runId} has no capture ${file}` };
    const path = join(dir, file);
    const bytes = statSync(path).size;
    if (bytes > MAX_CAPTURE_TRANSFER_BYTES) return { ok: false, error: `getCapture: ${file} is ${bytes} bytes, more than the ${MAX_CAPTURE_TRANSFER_BYTES} the app transfers; open it from ${dir}` };
    return { ok: true, value: { fileName: `${runId}-${file}`, base64: readFileSync(path).toString('base64'), bytes } };
  },
};

/** A Table of an answer (openRun's four): the only values in answers with both columns and rows. */
function isTable(v: unknown): v is Table {
  return typeof v === 'object' && v !== null && Array.isArray((v as Table).columns) && Array.isArray((v as Table).rows);
}

/** Takes the long strings and large tables out of an answer's value and cuts them into pieces. */
function cut(result: Result<unknown>): { result: Result<unknown>; pieces: StorePiece[] } {
  if (!result.ok || typeof result.value !== 'object' || result.value === null || Array.isArray(result.value)) return { result, pieces: [] };
  const value: Record<string, unknown> = { ...result.value };
  const pieces: StorePiece[] = [];
  for (const [key, v] of Object.entries(value)) {
    if (typeof v === 'string' && v.length > PIECE_CHARS) {
      value[key] = '';
      for (let at = 0; at < v.length; at += PIECE_CHARS) pieces.push({ key, text: v.slice(at, at + PIECE_CHARS) });
    } else if (isTable(v) && v.rows.length * v.columns.length > PIECE_CELLS) {
      value[key] = { columns: v.columns, rows: [] };
      const rowsPerPiece = Math.max(1, Math.floor(PIECE_CELLS / v.columns.length));
      for (let at = 0; at < v.rows.length; at += rowsPerPiece) pieces.push({ key, rows: v.rows.slice(at, at + rowsPerPiece) });
    }
  }
  return { result: { ok: true, value }, pieces };
}

/** Pieces of answers the host has not asked for yet, by call id. */
const unsent = new Map<number, { pieces: StorePiece[]; next: number }>();

const port = parentPort!;
port.on('message', (m: StoreRequest) => {
  if (m.type === 'next') {
    const left = unsent.get(m.id);
    if (left === undefined) return;
    const piece = left.pieces[left.next++]!;
    if (left.next === left.pieces.length) unsent.delete(m.id);
    port.postMessage({ type: 'piece', id: m.id, piece } satisfies StoreReply);
    return;
  }
  let result: Result<unknown>;
  try {
    result = (CALLS[m.method] as (p: unknown) => Result<unknown>)(m.params);
  } catch (e) {
    result = { ok: false, error: `${m.method}: ${(e as Error).message}` };
  }
  const answer = cut(result);
  if (answer.pieces.length > 0) unsent.set(m.id, { pieces: answer.pieces, next: 0 });
  port.postMessage({ type: 'answer', id: m.id, result: answer.result, pieces: answer.pieces.length } satisfies StoreReply);
});
