// The host side of the lab API: every call of experiments/api/contract.ts, validated, with runs in
// worker threads so that a run at full packet rate never blocks the host's event loop (the
// Electron main process, or the `packetlab serve` bridge), and reading the library, specs and run
// folders in the store worker (store-worker.ts) for the same reason. Electron IPC and the
// WebSocket bridge are thin carriers of this one class.

import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { compiledModuleUrl } from '../../net/paths.js';
import type { Knob } from '../../core/knobs.js';
import { KNOB_SECTIONS, type KnobSection } from '../knobs.js';
import { kindsUsing } from '../kinds/registry.js';
import { LINK_PRESETS } from '../../core/impair/presets.js';
import { parseSpecText } from '../spec.js';
import { RunSetupError, prepareRun } from '../runner/run.js';
import { checkParams, type ApiMethod, type ApiParams, type ApiResults, type KnobInfo, type PeerInfo, type Result, type RunBatch } from './contract.js';
import type { RunWorkerData, WorkerMessage } from './run-worker.js';

/** Sweep points whose axes validateSpec lists (Explore's list of points): a sweep may have thousands. */
const POINTS_LISTED = 1000;
import { StoreClient } from './store-client.js';

/** Where the host keeps things and what it may do. */
export interface LabHostOptions {
  /** Results folder of runs. */
  runsDir: string;
  /** Folder of the user's own specs (saveSpec writes only there). */
  specsDir: string;
  /** LAN peers heard (from a beacon listener), when the host listens for them. */
  peers?: () => PeerInfo[];
  /** Runs at once (default 2). */
  maxRuns?: number;
  /** Token for peer agents (PACKETLAB_TOKEN by default). */
  peerToken?: string;
  /** Heap limit of the store worker in MiB (default: Node's): a run too large to open fails its call, not the host. */
  storeHeapMb?: number;
}

/** Cap of each trial capture of a run the app starts. */
const APP_CAPTURE_MAX_BYTES = 50e6;

interface ActiveRun {
  worker: Worker;
  pending: Map<number, (r: { error: string | null; value?: unknown }) => void>;
  nextReq: number;
}

function knobInfo(section: string, k: Knob): KnobInfo {
  const base = { path: `${section}.${k.key}`, section, key: k.key, kind: k.kind, label: k.label, description: k.description, group: k.group, live: k.live, default: k.default, workloads: kindsUsing(section as KnobSection, k.key) };
  if (k.kind === 'number') return { ...base, unit: k.unit, min: k.min, max: k.max, integer: k.integer };
  if (k.kind === 'enum') return { ...base, values: k.values };
  return base;
}

/** Serves the lab API. */
export class LabHost {
  private readonly runs = new Map<string, ActiveRun>();
  private readonly listeners = new Set<(b: RunBatch) => void>();
  private readonly store: StoreClient;
  private closed = false;

  constructor(private readonly o: LabHostOptions) {
    this.store = new StoreClient({ runsDir: o.runsDir, specsDir: o.specsDir, heapMb: o.storeHeapMb });
  }

  /** Subscribes to run batches. */
  onRunBatch(listener: (b: RunBatch) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Validates and performs one call; never throws. */
  async call(method: string, params: unknown): Promise<Result<unknown>> {
    const checked = checkParams(method, params);
    if (!checked.ok) return checked;
    try {
      return await this.dispatch(method as ApiMethod, checked.value);
    } catch (e) {
      return { ok: false, error: `${method}: ${(e as Error).message}` };
    }
  }

  private async dispatch(method: ApiMethod, p: unknown): Promise<Result<unknown>> {
    const ok = <T>(value: T): Result<T> => ({ ok: true, value });
    switch (method) {
      case 'listLibrary':
      case 'loadSpec':
      case 'listSpecs':
      case 'listRuns':
      case 'openRun':
      case 'exportCsv':
      case 'getCapture':
        return this.store.call(method, p as ApiParams<typeof method>);
      case 'listKnobs':
        return ok<ApiResults['listKnobs']>(Object.entries(KNOB_SECTIONS).flatMap(([s, list]) => (list as readonly Knob[]).map((k) => knobInfo(s, k))));
      case 'validateSpec': {
        const { text } = p as ApiParams<'validateSpec'>;
        const r = parseSpecText(text);
        if (!r.ok) return ok<ApiResults['validateSpec']>({ valid: false, problems: r.errors, points: 0 });
        try {
          const prepared = prepareRun({ spec: r.spec, specFile: null });
          return ok<ApiResults['validateSpec']>({ valid: true, problems: [], points: prepared.points.length, pointAxes: prepared.points.slice(0, POINTS_LISTED).map((x) => x.axes) });
        } catch (e) {
          if (e instanceof RunSetupError) return ok<ApiResults['validateSpec']>({ valid: false, problems: e.errors.length > 0 ? e.errors : e.message.split('\n').map((m) => ({ path: '$', message: m })), points: 0 });
          throw e;
        }
      }
      case 'saveSpec': {
        const { name, text } = p as ApiParams<'saveSpec'>;
        const r = parseSpecText(text);
        if (!r.ok) return { ok: false, error: `saveSpec: the spec is not valid: ${r.errors[0]!.path}: ${r.errors[0]!.message}` };
        await mkdir(this.o.specsDir, { recursive: true });
        const path = join(this.o.specsDir, `${name}.json`);
        await writeFile(path, text.endsWith('\n') ? text : `${text}\n`);
        return ok({ path });
      }
      case 'startRun':
        return this.startRun(p as ApiParams<'startRun'>);
      case 'setKnob': {
        const { runId, path, value } = p as ApiParams<'setKnob'>;
        const run = this.runs.get(runId);
        if (run === undefined) return { ok: false, error: `setKnob: run ${runId} is not running` };
        const { error } = await new Promise<{ error: string | null }>((resolve) => {
          const req = run.nextReq++;
          run.pending.set(req, resolve);
          run.worker.postMessage({ type: 'set', req, path, value });
        });
        return error === null ? ok(null) : { ok: false, error: `setKnob: ${error}` };
      }
      case 'pauseRun':
      case 'resumeRun':
      case 'stepRun':
      case 'setSpeed':
      case 'simState':
      case 'packetAction':
      case 'replicaFault': {
        const { runId, ...args } = p as { runId: string } & Record<string, unknown>;
        const run = this.runs.get(runId);
        if (run === undefined) return { ok: false, error: `${method}: run ${runId} is not running` };
        const r = await new Promise<{ error: string | null; value?: unknown }>((resolve) => {
          const req = run.nextReq++;
          run.pending.set(req, resolve as never);
          run.worker.postMessage({ type: 'control', req, method, args });
        });
        return r.error === null ? ok(r.value ?? null) : { ok: false, error: `${method}: ${r.error}` };
      }
      case 'stopRun': {
        const { runId } = p as ApiParams<'stopRun'>;
        const run = this.runs.get(runId);
        if (run === undefined) return { ok: false, error: `stopRun: run ${runId} is not running` };
        run.worker.postMessage({ type: 'stop' });
        return ok(null);
      }
      case 'listPeers':
        if (this.o.peers === undefined) return { ok: false, error: 'listPeers: this host does not listen for peer beacons' };
        return ok<ApiResults['listPeers']>(this.o.peers());
      case 'listPresets':
        return ok<ApiResults['listPresets']>(
          Object.entries(LINK_PRESETS).map(([name, p]) => ({
            name,
            label: p.label,
            description: p.description,
            set: { ...Object.fromEntries(Object.entries(p.forward).map(([k, v]) => [`forward.${k}`, v])), ...Object.fromEntries(Object.entries(p.reverse).map(([k, v]) => [`reverse.${k}`, v])) },
          })),
        );
    }
  }

  private async startRun(p: ApiParams<'startRun'>): Promise<Result<ApiResults['startRun']>> {
    if (this.closed) return { ok: false, error: 'startRun: the lab is shutting down' };
    const max = this.o.maxRuns ?? 2;
    if (this.runs.size >= max) return { ok: false, error: `startRun: ${this.runs.size} runs are going already (at most ${max}); stop one first` };
    const parsed = parseSpecText(p.text);
    if (!parsed.ok) return { ok: false, error: `startRun: the spec is not valid: ${parsed.errors.map((e) => `${e.path}: ${e.message}`).join('; ')}` };
    try {
      prepareRun({ spec: parsed.spec, specFile: null, set: p.set, network: p.network ?? null, quick: p.quick, explore: p.explore, effectWindowS: p.effectWindowS, speed: p.speed === 'max' ? undefined : p.speed });
    } catch (e) {
      if (e instanceof RunSetupError) return { ok: false, error: `startRun: ${e.errors.length > 0 ? e.errors.map((x) => `${x.path}: ${x.message}`).join('; ') : e.message}` };
      if (e instanceof Error && /unknown knob/.test(e.message)) return { ok: false, error: `startRun: ${e.message}` };
      throw e;
    }
    const data: RunWorkerData = { pcapMaxBytes: p.pcap === true ? APP_CAPTURE_MAX_BYTES : 0, packetLog: true, text: p.text, set: p.set ?? {}, network: p.network ?? null, quick: p.quick === true, paused: p.paused === true, speed: p.speed === undefined || p.speed === 'max' ? null : p.speed, explore: p.explore ?? null, effectWindowS: p.effectWindowS ?? null, outDir: this.o.runsDir, peerToken: p.peerToken ?? this.o.peerToken ?? process.env.PACKETLAB_TOKEN ?? null };
    const worker = new Worker(compiledModuleUrl(import.meta.url, './run-worker.js'), { workerData: data, resourceLimits: { maxOldGenerationSizeMb: 1024 } });
    const run: ActiveRun = { worker, pending: new Map(), nextReq: 0 };
    return new Promise((resolve) => {
      let id: string | null = null;
      worker.on('message', (m: WorkerMessage) => {
        if (m.type === 'started') {
          id = m.runId;
          this.runs.set(id, run);
          resolve({ ok: true, value: { runId: id } });
        } else if (m.type === 'batch') {
          for (const l of this.listeners) l(m.batch);
        } else if (m.type === 'set-result') {
          run.pending.get(m.req)?.({ error: m.error, value: m.value });
          run.pending.delete(m.req);
        } else if (m.type === 'failed') {
          if (id === null) resolve({ ok: false, error: `startRun: ${m.error}` });
        }
      });
      worker.on('error', (e) => {
        if (id === null) resolve({ ok: false, error: `startRun: ${e.message}` });
        else for (const l of this.listeners) l({ runId: id, samples: [], events: [], packets: [], status: { state: 'failed', reason: `the run's worker crashed: ${e.message}`, dir: null } });
      });
      worker.on('exit', () => {
        if (id !== null) this.runs.delete(id);
        for (const r of run.pending.values()) r({ error: 'the run has ended' });
        run.pending.clear();
        if (id === null) resolve({ ok: false, error: 'startRun: the run ended before it started' });
      });
    });
  }

  /** Stops every run and the store worker, and waits for their threads. */
  async close(): Promise<void> {
    this.closed = true;
    const storeClosed = this.store.close();
    const exits = [...this.runs.values()].map((r) => new Promise<void>((res) => {
      r.worker.once('exit', () => res());
      r.worker.postMessage({ type: 'stop' });
    }));
    // Runs get five seconds to write their last rows; a timer nobody needs must not hold the exit.
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([Promise.all(exits), new Promise((r) => (timer = setTimeout(r, 5000)))]);
    clearTimeout(timer);
    for (const r of this.runs.values()) await r.worker.terminate();
    await storeClosed;
  }
}

