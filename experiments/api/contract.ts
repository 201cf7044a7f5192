// The one host API of the lab: what the app can ask for, with the argument schemas every host
// (Electron IPC in electron/main.ts, the WebSocket bridge of `packetlab serve`, and the CLI through
// the same runner) validates before doing anything. The renderer imports only the types.
//
// Calls return `{ ok: true, value }` or `{ ok: false, error }` values: exceptions do not cross IPC
// intact. Runs push their samples, events and status as batches (one message per ~100 ms, never
// one per packet).

import { z } from 'zod';
import { SPEED_RANGE } from '../runner/pace.js';
import { EFFECT_WINDOW_RANGE_S } from '../runner/effects.js';
import type { ConnectionSnapshot } from '../../core/transport/connection.js';

/** A call's result. */
export type Result<T> = { ok: true; value: T } | { ok: false; error: string };

/** A knob as the parameter panel draws it. */
export interface KnobInfo {
  /** SECTION.KEY. */
  path: string;
  section: string;
  key: string;
  kind: 'number' | 'enum' | 'boolean';
  label: string;
  description: string;
  /** Panel group: Transport, Timeouts, Buffers, Impairment, Workload. */
  group: string;
  live: boolean;
  unit?: string;
  min?: number;
  max?: number;
  integer?: boolean;
  values?: readonly string[];
  default: number | string | boolean;
  /** The workload kinds that read it (the app shows a knob only for those). */
  workloads?: readonly string[];
}

/** A library experiment. */
export interface LibraryItem {
  name: string;
  title: string;
  description: string;
  concepts: string[];
  /** The heading it is listed under: its first concept's. */
  group: string;
  network: string;
  /** The spec's JSON text, as shipped. */
  text: string;
}

/** A spec the user saved (the specs folder), newest first. */
export interface SavedSpecInfo {
  name: string;
  /** Its title, or why it cannot be read as a spec. */
  title: string;
  valid: boolean;
  savedAt: string;
}

/** A validation problem (as experiments/spec.ts reports it). */
export interface SpecProblem {
  path: string;
  value?: string;
  message: string;
}

/** A past or running run, for the history list. */
export interface RunInfo {
  id: string;
  name: string;
  title: string;
  status: string;
  reason: string | null;
  network: string;
  startedAt: string;
  endedAt: string | null;
  trials: number;
  /** pcapng files of its trials (runs started with pcap). */
  captures: string[];
}

/** Columns of a CSV file as arrays (numbers where the cell is numeric, else strings). */
export interface Table {
  columns: string[];
  rows: (number | string | null)[][];
}

/** A run opened from disk. */
export interface RunData {
  info: RunInfo;
  /** run.json as written. */
  record: unknown;
  samples: Table;
  events: Table;
  summary: Table;
  /** packets.csv of runs the app started (the ladder and the time-sequence graph of a past run). */
  packets: Table;
  /** What could not be read back whole (a last row cut off by a full disk, a missing file), one sentence each naming the file; empty for a whole run. */
  warnings: string[];
}

/** A LAN peer heard on the beacon port. */
export interface PeerInfo {
  address: string;
  port: number;
  name: string;
  version: string;
  lastSeenMs: number;
}

/**
 * One end of a connection in a paused simulator trial: Connection.snapshot as JSON carries it, where
 * an estimate that has no value yet (NaN: no RTT sample, no window) arrives as null.
 */
export type EndpointState = Omit<ConnectionSnapshot, NullableSnapshotField> & { [K in NullableSnapshotField]: number | null };

/** The fields of a snapshot that may be NaN. */
type NullableSnapshotField = 'srttMs' | 'rttvarMs' | 'cwndPackets' | 'ssthreshPackets';

/** A simulator trial as teaching mode shows it. */
export interface SimStateInfo {
  timeS: number;
  events: number;
  workload: string;
  sender: EndpointState | null;
  receiver: EndpointState | null;
  /** Datagrams on their way; `index` is what packetAction takes. */
  inFlight: { direction: 'forward' | 'reverse'; index: number; duplicate: boolean; sentAtS: number; arriveAtS: number; type: string; seq: number | null; ack: number | null }[];
}

/** A link preset (core/impair/presets.ts): knob values by SECTION.KEY for both directions. */
export interface PresetInfo {
  name: string;
  label: string;
  description: string;
  /** forward.* and reverse.* knob values. */
  set: Record<string, number | string | boolean>;
}

/** One sample pushed live: the trial it belongs to and its columns. */
export interface LiveSample {
  point: number;
  repetition: number;
  values: Record<string, number | null>;
}

/** One event pushed live. */
export interface LiveEvent {
  point: number | null;
  repetition: number | null;
  timeS: number;
  kind: string;
  knob?: string;
  /** The knob for people (from the knob list; absent in runs made before it was kept). */
  label?: string;
  before?: string;
  after?: string;
  detail?: string;
}

/** A packet of the ladder: what happened to one datagram (simulator and loopback runs). */
export interface LadderPacket {
  /** Time the datagram was sent, s from the trial start. */
  sentS: number;
  /** Time it arrived, or null when dropped. */
  arrivedS: number | null;
  direction: 'forward' | 'reverse';
  /** DATA, ACK, SYN, ... or RPC / STREAM. */
  type: string;
  seq: number | null;
  ack: number | null;
  retransmission: boolean;
  /** 'random', 'burst', 'queue', 'mtu', 'manual' when dropped; else 'delivered', 'corrupted', 'duplicate' or 'reordered'. */
  fate: string;
  /** Advertised receive window of an ACK (bytes), null otherwise. */
  windowBytes: number | null;
  /** SACK blocks of an ACK as [start, end) sequence pairs. */
  sack: number[];
  /**
   * The lab header's connection id (both directions of a connection carry it; the flows of a
   * `flows` run each have their own), or null for what is not the lab's header.
   */
  connection: number | null;
}

/** What a running run pushes, batched. */
export interface RunBatch {
  runId: string;
  samples: LiveSample[];
  events: LiveEvent[];
  packets: LadderPacket[];
  /** Present when the status changed. */
  status?: { state: 'running' | 'complete' | 'stopped' | 'failed' | 'peer-lost' | 'interrupted'; reason: string | null; dir: string | null };
  /** Present when a trial started. */
  /** `set`: the knob values the trial's sweep point sets (what the parameter panel shows during it). */
  trial?: { point: number; repetition: number; axes: Record<string, number | string | boolean>; set?: Record<string, number | string | boolean>; trial: number; trials: number };
  /** Summary rows of points finished in this batch. */
  points?: Record<string, number | string | boolean | null>[];
}

const knobValue = z.union([z.number().finite(), z.string().max(64), z.boolean()]);
// A run id is a folder name of the runs folder: "." and ".." would name the runs folder itself or
// its parent, so they are refused with the paths.
const runId = z.string().regex(/^(?!\.\.?$)[A-Za-z0-9._-]{1,128}$/, { error: 'must be a run id (a folder name of the runs folder: letters, digits, . _ -, not . or ..)' });
const specText = z.string().min(2).max(256 * 1024, { error: 'must be at most 256 KiB' });
const specName = z.string().regex(/^[a-z0-9][a-z0-9-]{0,63}$/, { error: 'must be lower-case letters, digits and dashes' });

/** How a user of the app gives a peer agent's token (the error of a peer run without one). */
export const APP_PEER_TOKEN_HELP = 'type it in the Peers panel (or start packetlab serve with --peer-token-file)';

/** Argument schemas, one per call. */
export const API_PARAMS = {
  listLibrary: z.strictObject({}),
  listKnobs: z.strictObject({}),
  validateSpec: z.strictObject({ text: specText }),
  loadSpec: z.strictObject({ name: specName }),
  saveSpec: z.strictObject({ name: specName, text: specText }),
  startRun: z.strictObject({
    text: specText,
    set: z.record(z.string().max(64), knobValue).optional(),
    network: z.string().max(300).optional(),
    quick: z.boolean().optional(),
    /** Teaching mode: start paused at time 0 (simulator). */
    paused: z.boolean().optional(),
    /** The simulator's pace from the start: virtual seconds per real second, or as fast as possible. */
    speed: z.union([z.number().min(SPEED_RANGE.min).max(SPEED_RANGE.max), z.literal('max')]).optional(),
    /** Explore this sweep point (its index): one trial, no end of its own, until stopRun (at most an hour). */
    explore: z.number().int().min(0).max(100_000).optional(),
    /** Seconds before and after each change that its effect (events.csv `effect`) compares. */
    effectWindowS: z.number().min(EFFECT_WINDOW_RANGE_S.min).max(EFFECT_WINDOW_RANGE_S.max).optional(),
    /** The peer agent's token for a run against one (else the lab's own, from --peer-token-file or $PACKETLAB_TOKEN). */
    peerToken: z.string().min(8).max(512).optional(),
    /** Record each trial's datagrams to a pcapng file in the run folder (getCapture reads it). */
    pcap: z.boolean().optional(),
  }),
  getCapture: z.strictObject({ runId, file: z.string().regex(/^capture-p\d+-r\d+\.pcapng$/, { error: 'must be a capture file name of the run (capture-pPOINT-rREP.pcapng)' }) }),
  pauseRun: z.strictObject({ runId }),
  resumeRun: z.strictObject({ runId }),
  stepRun: z.strictObject({ runId, steps: z.number().int().min(1).max(10_000).optional() }),
  setSpeed: z.strictObject({ runId, speed: z.union([z.number().min(SPEED_RANGE.min).max(SPEED_RANGE.max), z.literal('max')]) }),
  simState: z.strictObject({ runId }),
  packetAction: z.strictObject({
    runId,
    direction: z.enum(['forward', 'reverse']),
    index: z.number().int().min(0),
    duplicate: z.boolean().optional(),
    action: z.enum(['drop', 'corrupt', 'duplicate', 'delay']),
    delayMs: z.number().min(0.001).max(600_000).optional(),
  }),
  setKnob: z.strictObject({ runId, path: z.string().max(64), value: knobValue }),
  /** rpc-replicas: a failure caused by hand to a replica of the running trial (numbered from 1). */
  replicaFault: z.strictObject({
    runId,
    replica: z.number().int().min(1).max(5),
    action: z.enum(['crash', 'restart', 'partition', 'heal', 'slow']),
    memory: z.enum(['lost', 'kept']).optional(),
    extraMs: z.number().min(0).max(600_000).optional(),
  }),
  stopRun: z.strictObject({ runId }),
  listRuns: z.strictObject({}),
  openRun: z.strictObject({ runId }),
  exportCsv: z.strictObject({ runIds: z.array(runId).min(1).max(16), which: z.enum(['samples', 'summary']) }),
  listPeers: z.strictObject({}),
  listPresets: z.strictObject({}),
  listSpecs: z.strictObject({}),
} as const;

/** A call name. */
export type ApiMethod = keyof typeof API_PARAMS;
/** Arguments of a call. */
export type ApiParams<M extends ApiMethod> = z.input<(typeof API_PARAMS)[M]>;

/** What each call resolves with. */
export interface ApiResults {
  listLibrary: LibraryItem[];
  listKnobs: KnobInfo[];
  /** `pointAxes`: the axis values of each sweep point (the first thousand), for Explore's list. */
  validateSpec: { valid: boolean; problems: SpecProblem[]; points: number; pointAxes?: Record<string, number | string | boolean>[] };
  loadSpec: { name: string; text: string };
  saveSpec: { path: string };
  startRun: { runId: string };
  setKnob: null;
  replicaFault: null;
  stopRun: null;
  pauseRun: null;
  resumeRun: null;
  stepRun: null;
  setSpeed: null;
  simState: SimStateInfo;
  packetAction: null;
  listRuns: RunInfo[];
  openRun: RunData;
  exportCsv: { csv: string; fileName: string };
  listPeers: PeerInfo[];
  listPresets: PresetInfo[];
  listSpecs: SavedSpecInfo[];
  getCapture: { fileName: string; base64: string; bytes: number };
}

/** The API as the renderer sees it: one async function per call, and run batches. */
export type LabApi = {
  [M in ApiMethod]: (params: ApiParams<M>) => Promise<Result<ApiResults[M]>>;
} & {
  /** Subscribes to run batches; returns the unsubscribe function. */
  onRunBatch(listener: (batch: RunBatch) => void): () => void;
};

/** Every call name, for hosts that register handlers in a loop. */
export const API_METHODS = Object.keys(API_PARAMS) as ApiMethod[];

/** Validates a call's arguments; the error names the call, the field and what is allowed. */
export function checkParams<M extends ApiMethod>(method: string, params: unknown): Result<ApiParams<M>> {
  if (!Object.hasOwn(API_PARAMS, method)) return { ok: false, error: `unknown call "${method}"` };
  const r = API_PARAMS[method as M].safeParse(params ?? {});
  if (r.success) return { ok: true, value: r.data as ApiParams<M> };
  const first = r.error.issues[0]!;
  const where = first.path.length > 0 ? `.${first.path.join('.')}` : '';
  const message = first.code === 'unrecognized_keys' ? `unknown field(s) ${first.keys.join(', ')}` : first.message;
  return { ok: false, error: `${method}${where}: ${message}` };
}
