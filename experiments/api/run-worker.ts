// A run in its own thread: the host (Electron main, `packetlab serve`) stays responsive while the
// engine runs at full speed. Everything the run streams is gathered and posted as one batch every
// BATCH_MS, with at most LADDER_MAX packets for the ladder, so the UI gets a few messages per
// second whatever the packet rate.

import { parentPort, workerData } from 'node:worker_threads';
import { parseSpecText } from '../spec.js';
import { ExperimentRun, type RunStreamEvent } from '../runner/run.js';
import type { FaultStep } from '../kinds/kind.js';
import { APP_PEER_TOKEN_HELP, type LadderPacket, type LiveEvent, type LiveSample, type RunBatch } from './contract.js';

/** What the host gives the worker. */
export interface RunWorkerData {
  text: string;
  set: Record<string, number | string | boolean>;
  network: string | null;
  quick: boolean;
  /** Start paused (teaching mode). */
  paused: boolean;
  /** The simulator's pace from the start (null: as fast as possible). */
  speed: number | null;
  /** The sweep point explored until stopped, or null for the whole run. */
  explore: number | null;
  /** Seconds before and after each change its effect compares (null: the default). */
  effectWindowS: number | null;
  /** Keep every datagram's fate in packets.csv (ladder and time-sequence graph of past runs). */
  packetLog: boolean;
  /** Capture each trial to pcapng, at most this many bytes each (0: no capture). */
  pcapMaxBytes: number;
  outDir: string;
  peerToken: string | null;
}

/** Messages the worker posts. */
export type WorkerMessage =
  | { type: 'started'; runId: string }
  | { type: 'batch'; batch: RunBatch }
  | { type: 'set-result'; req: number; error: string | null; value?: unknown }
  | { type: 'failed'; error: string };

const BATCH_MS = 100;
const LADDER_MAX = 400;

const data = workerData as RunWorkerData;
const port = parentPort!;
const post = (m: WorkerMessage) => port.postMessage(m);

let runId = '';
let samples: LiveSample[] = [];
let events: LiveEvent[] = [];
// The newest LADDER_MAX packets of the batch, in a ring.
const ring: (LadderPacket | undefined)[] = new Array<LadderPacket | undefined>(LADDER_MAX);
let ringStart = 0;
let ringCount = 0;
let pendingStatus: RunBatch['status'];
let pendingTrial: RunBatch['trial'];
let points: NonNullable<RunBatch['points']> = [];

function clean(o: Record<string, number>): Record<string, number | null> {
  const out: Record<string, number | null> = {};
  for (const k in o) out[k] = Number.isFinite(o[k]) ? o[k]! : null;
  return out;
}

function flush(): void {
  if (runId === '' || (samples.length === 0 && events.length === 0 && ringCount === 0 && pendingStatus === undefined && pendingTrial === undefined && points.length === 0)) return;
  const packets: LadderPacket[] = [];
  for (let i = 0; i < ringCount; i++) packets.push(ring[(ringStart + i) % LADDER_MAX]!);
  const batch: RunBatch = { runId, samples, events, packets };
  if (pendingStatus !== undefined) batch.status = pendingStatus;
  if (pendingTrial !== undefined) batch.trial = pendingTrial;
  if (points.length > 0) batch.points = points;
  post({ type: 'batch', batch });
  samples = [];
  events = [];
  ringStart = 0;
  ringCount = 0;
  pendingStatus = undefined;
  pendingTrial = undefined;
  points = [];
}

function onEvent(e: RunStreamEvent): void {
  switch (e.type) {
    case 'run-start':
      runId = e.id;
      post({ type: 'started', runId });
      pendingStatus = { state: 'running', reason: null, dir: e.dir };
      break;
    case 'trial-start':
      pendingTrial = { point: e.point, repetition: e.repetition, axes: e.axes, set: e.set, trial: e.trial, trials: e.trials };
      ringCount = 0;
      break;
    case 'sample':
      samples.push({ point: e.point, repetition: e.repetition, values: clean(e.sample) });
      break;
    case 'event': {
      const ev = e.event;
      events.push({ point: e.point, repetition: e.repetition, timeS: ev.timeS, kind: ev.kind, knob: ev.knob, label: ev.label, before: ev.before === undefined ? undefined : String(ev.before), after: ev.after === undefined ? undefined : String(ev.after), detail: ev.detail });
      break;
    }
    case 'point':
      points.push(Object.fromEntries(Object.entries(e.summary).map(([k, v]) => [k, typeof v === 'number' && !Number.isFinite(v) ? null : v])));
      break;
    case 'run-end':
      pendingStatus = { state: e.status, reason: e.reason, dir: e.dir };
      break;
    default:
      break;
  }
}

function onPacket(p: LadderPacket): void {
  // The ladder shows the most recent packets: keep the newest LADDER_MAX of each batch.
  if (ringCount < LADDER_MAX) ring[(ringStart + ringCount++) % LADDER_MAX] = p;
  else {
    ring[ringStart] = p;
    ringStart = (ringStart + 1) % LADDER_MAX;
  }
}

const parsed = parseSpecText(data.text);
if (!parsed.ok) {
  post({ type: 'failed', error: parsed.errors.map((e) => `${e.path}: ${e.message}`).join('; ') });
} else {
  let run: ExperimentRun | null = null;
  try {
    run = new ExperimentRun({ spec: parsed.spec, specFile: null, set: data.set, network: data.network, quick: data.quick, outDir: data.outDir, onEvent, onPacket, packetLog: data.packetLog, pcapMaxBytes: data.pcapMaxBytes, peerToken: data.peerToken ?? undefined, peerTokenHelp: APP_PEER_TOKEN_HELP, speed: data.speed ?? undefined, explore: data.explore ?? undefined, effectWindowS: data.effectWindowS ?? undefined });
  } catch (e) {
    post({ type: 'failed', error: (e as Error).message });
  }
  if (run !== null) {
    const r = run;
    if (data.paused) r.pause();
    port.on('message', (m: { type: string; req?: number; path?: string; value?: number | string | boolean; method?: string; args?: Record<string, unknown> }) => {
      if (m.type === 'stop') r.stop('stopped from the app');
      if (m.type === 'set') void r.set(m.path!, m.value!).then((error) => post({ type: 'set-result', req: m.req!, error }));
      if (m.type === 'control') {
        const a = m.args ?? {};
        let error: string | null = null;
        let value: unknown = null;
        switch (m.method) {
          case 'pauseRun':
            error = r.pause();
            break;
          case 'resumeRun':
            error = r.resume();
            break;
          case 'stepRun':
            error = r.step((a.steps as number | undefined) ?? 1);
            break;
          case 'setSpeed':
            error = r.setSpeed(a.speed === 'max' ? Number.POSITIVE_INFINITY : (a.speed as number));
            break;
          case 'simState': {
            const s = r.simState();
            if (typeof s === 'string') error = s;
            // Through JSON, as the API's types say: NaN and Infinity (no RTT sample yet, no cwnd) become null.
            else value = JSON.parse(JSON.stringify(s));
            break;
          }
          case 'replicaFault': {
            const f: FaultStep = { replica: a.replica as number, action: a.action as FaultStep['action'] };
            if (a.memory !== undefined) f.memory = a.memory as 'lost' | 'kept';
            if (a.extraMs !== undefined) f.extraMs = a.extraMs as number;
            error = r.fault(f);
            break;
          }
          case 'packetAction':
            error = r.packetAction(a.direction as 'forward' | 'reverse', a.index as number, a.action as 'drop' | 'corrupt' | 'duplicate' | 'delay', { duplicate: a.duplicate === true, delayMs: a.delayMs as number | undefined });
            break;
          default:
            error = `unknown control ${String(m.method)}`;
        }
        post({ type: 'set-result', req: m.req!, error, value });
      }
    });
    const timer = setInterval(flush, BATCH_MS);
    await r.start();
    clearInterval(timer);
    flush();
    port.close();
  }
}
