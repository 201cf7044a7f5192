// The experiment runner: every point of the sweep times the repetitions, samples and events
// streamed to the caller and appended to the run folder as they come, live changes applied and
// recorded, and per point the means, 95% confidence intervals and the analytic expectation.

import { parseKnobText, type Knob } from '../../core/knobs.js';
import { UnitError } from '../../core/units.js';
import { knobAt, type WorkloadKind } from '../knobs.js';
import { validateSpec, type ExperimentSpec, type KnobValue, type SpecError } from '../spec.js';
import { expandSweep, exploreConfig, networkText, parseNetwork, quickSpec, setPath, trialConfig, trialProblems, type Network, type SweepPoint } from './config.js';
import { MODEL_COLUMNS, expectation } from './models.js';
import { isMetric, type MetricName } from '../../core/metrics/registry.js';
import { WORKLOADS } from '../kinds/registry.js';
import { meanCi95 } from './stats.js';
import { EVENT_COLUMNS, PACKETLAB_VERSION, RunStore, defaultRunsDir, hostFacts, type RunStatus } from './store.js';
import type { LadderPacket } from '../api/contract.js';
import { PeerClient } from '../../net/peer/client.js';
import type { ManualAction } from '../../core/impair/link.js';
import { Capture, MIN_CAPTURE_BYTES } from '../../core/capture/capture.js';
import { DEFAULT_EFFECT_WINDOW_S, EFFECT_WINDOW_RANGE_S, EffectTracker } from './effects.js';
import { SPEED_RANGE } from './pace.js';
import { SimControl, runTrial, type FaultSetter, type LiveSetter, type SimState, type TrialEvent, type TrialOutcome } from './trial.js';
import { FAULT_ACTIONS } from '../../core/rpc/replicas/faults.js';
import type { FaultStep } from '../kinds/kind.js';

/** How to run a spec. */
export interface RunOptions {
  spec: ExperimentSpec;
  /** Where the spec came from (recorded in run.json). */
  specFile: string | null;
  /** Knob values that override the spec (`--set`), already typed. */
  set?: Record<string, KnobValue>;
  /** Network override (`--net`): sim, loopback, HOST:PORT or peer:HOST:PORT. */
  network?: string | null;
  /** Run the spec's short version. */
  quick?: boolean;
  /** Results folder (a run folder is made inside); default: the user's data folder. */
  outDir?: string;
  /** Everything that happens, as it happens. */
  onEvent?: (e: RunStreamEvent) => void;
  /** Record every trial's datagrams to capture-pPOINT-rREP.pcapng in the run folder, each at most this many bytes (0: no capture). */
  pcapMaxBytes?: number;
  /** Token of the peer agent when the network is a peer (default: $PACKETLAB_TOKEN). */
  peerToken?: string;
  /** How the caller's user gives that token, for the error when there is none (default: the CLI's flags). */
  peerTokenHelp?: string;
  /** Every datagram's fate, for the packet ladder (costs time per packet: only for a watcher). */
  onPacket?: (p: LadderPacket) => void;
  /** Also write every datagram's fate to packets.csv (at most PACKET_LOG_MAX_ROWS rows per run). */
  packetLog?: boolean;
  /**
   * Explore one sweep point (its index): one trial whose workload has no end of its own, run until
   * stop() (or EXPLORE_MAX_MS), every live knob open to change.
   */
  explore?: number;
  /** The simulator's pace from the start: virtual seconds per real second (0.01 to 1000); default as fast as possible. */
  speed?: number;
  /** Seconds before and after each change that its `effect` event compares (default DEFAULT_EFFECT_WINDOW_S). */
  effectWindowS?: number;
}

/** Most rows of packets.csv in one run (about 100 MB). */
export const PACKET_LOG_MAX_ROWS = 1_000_000;

/** Columns of packets.csv. */
export const PACKET_COLUMNS = ['point', 'repetition', 'sent_s', 'arrived_s', 'direction', 'type', 'seq', 'ack', 'window_bytes', 'sack', 'retransmission', 'fate', 'connection'] as const;

/** What a run streams to its caller (also the JSON lines of `packetlab run --json`). */
export type RunStreamEvent =
  | { type: 'run-start'; id: string; dir: string; name: string; network: string; points: SweepPoint[]; repetitions: number; trials: number }
  | { type: 'trial-start'; point: number; repetition: number; axes: Record<string, KnobValue>; set: Record<string, KnobValue>; trial: number; trials: number }
  | { type: 'sample'; point: number; repetition: number; sample: Record<string, number> }
  | { type: 'event'; point: number | null; repetition: number | null; event: TrialEvent }
  | { type: 'trial-end'; point: number; repetition: number; status: string; failure: string | null; scalars: Record<string, number> }
  | { type: 'point'; point: number; summary: Record<string, number | string | boolean> }
  | { type: 'run-end'; id: string; dir: string; status: RunStatus; reason: string | null };

/** A problem found before the run starts (exit code 2 on the command line). */
export class RunSetupError extends Error {
  constructor(
    message: string,
    readonly errors: SpecError[] = [],
  ) {
    super(message);
  }
}

/** Parses `--set path=value` texts into typed knob values; throws RunSetupError naming the bad one. */
export function parseSetArgs(args: readonly string[]): Record<string, KnobValue> {
  const out: Record<string, KnobValue> = {};
  for (const a of args) {
    const eq = a.indexOf('=');
    if (eq <= 0) throw new RunSetupError(`--set ${a}: expected KNOB=VALUE, for example --set forward.lossProbability=0.05`);
    const path = a.slice(0, eq);
    const at = knobAt(path);
    if (at === undefined) throw new RunSetupError(`--set ${a}: unknown knob "${path}" (knobs are SECTION.KEY, see packetlab run --help)`);
    try {
      out[path] = parseKnobText(at.knob as Knob, a.slice(eq + 1));
    } catch (e) {
      if (e instanceof UnitError) throw new RunSetupError(`--set ${a}: ${e.message}`);
      throw e;
    }
  }
  return out;
}

/** The spec and trials after overrides, checked; throws RunSetupError. */
export function prepareRun(o: RunOptions): { spec: ExperimentSpec; network: Network; points: SweepPoint[] } {
  let spec = structuredClone(o.spec);
  let pointsPerAxis: number | undefined;
  if (o.quick === true) ({ spec, pointsPerAxis } = quickSpec(spec));
  for (const [path, v] of Object.entries(o.set ?? {})) setPath(spec, path, v);
  if (o.network !== undefined && o.network !== null) {
    const n = parseNetwork(o.network);
    if (n === null) throw new RunSetupError(`--net ${o.network}: expected sim, loopback or HOST:PORT of a peer agent`);
    spec.network = networkText(n);
  }
  const checked = validateSpec(spec);
  if (!checked.ok) throw new RunSetupError('the spec with its overrides is not valid', checked.errors);
  spec = checked.spec;
  const network = parseNetwork(spec.network)!;
  if (o.speed !== undefined) {
    if (network.kind !== 'sim') throw new RunSetupError(`speed applies to simulator runs only (this run is on ${networkText(network)})`);
    const err = speedProblem(o.speed);
    if (err !== null) throw new RunSetupError(err);
  }
  if (o.effectWindowS !== undefined && !(o.effectWindowS >= EFFECT_WINDOW_RANGE_S.min && o.effectWindowS <= EFFECT_WINDOW_RANGE_S.max)) {
    throw new RunSetupError(`the window before and after a change must be from ${EFFECT_WINDOW_RANGE_S.min} to ${EFFECT_WINDOW_RANGE_S.max} s (got ${o.effectWindowS})`);
  }
  const points = expandSweep(spec, pointsPerAxis);
  const problems: string[] = [];
  for (const p of points) {
    const c = trialConfig(spec, p, 0);
    const where = Object.keys(p.axes).length === 0 ? '' : `at ${Object.entries(p.axes).map(([k, v]) => `${k}=${String(v)}`).join(', ')}: `;
    for (const pr of trialProblems(c, network)) problems.push(`${where}${pr}`);
  }
  if (spec.plot !== undefined) {
    const results = union(kindsOf(spec, points).map((k) => WORKLOADS[k].results));
    spec.plot.y.forEach((y, i) => {
      if (!(results as string[]).includes(y)) {
        const what = isMetric(y) ? 'is not a result of this run\'s workloads' : 'is not a metric (core/metrics/registry.ts)';
        problems.push(`plot.y[${i}] "${y}" ${what}; the results it can plot: ${results.join(', ')}`);
      }
    });
  }
  spec.schedule.forEach((s, i) => {
    if (s.trial === undefined) return;
    if (s.trial.point >= points.length || s.trial.repetition >= spec.repetitions) {
      problems.push(`schedule[${i}].trial: the run has no point ${s.trial.point}, repetition ${s.trial.repetition} (points 0 to ${points.length - 1}, repetitions 0 to ${spec.repetitions - 1})`);
    }
  });
  if (problems.length > 0) throw new RunSetupError(problems.slice(0, 20).join('\n'));
  if (o.explore !== undefined) {
    const at = points[o.explore];
    if (!Number.isInteger(o.explore) || at === undefined) throw new RunSetupError(`explore: the run has no point ${o.explore} (points 0 to ${points.length - 1})`);
    spec.repetitions = 1;
    return { spec, network, points: [at] };
  }
  return { spec, network, points };
}

/** A knob (or a datagram changed by hand: `forward.datagram`; a replica, `replica2`, or the `view` of rpc-replicas) as people read it. */
export function knobLabelOf(path: string): string {
  const at = knobAt(path);
  if (at !== undefined) return at.section === 'reverse' ? `${at.knob.label} (reverse)` : at.knob.label;
  const dir = /^(forward|reverse)\.datagram$/.exec(path);
  if (dir !== null) return `${dir[1] === 'forward' ? 'Forward' : 'Reverse'} datagram`;
  // rpc-replicas events name a replica or the primary-backup view.
  const replica = /^replica(\d)$/.exec(path);
  if (replica !== null) return `Replica ${replica[1]}`;
  return path === 'view' ? 'Primary-backup view' : path;
}

/** Why a pace (virtual seconds per real second) is not one the simulator takes, or null. */
function speedProblem(speed: number): string | null {
  return speed === Number.POSITIVE_INFINITY || (speed >= SPEED_RANGE.min && speed <= SPEED_RANGE.max) ? null : `speed must be from ${SPEED_RANGE.min} to ${SPEED_RANGE.max} times real time, or as fast as possible (got ${speed})`;
}

function kindsOf(spec: ExperimentSpec, points: SweepPoint[]): WorkloadKind[] {
  const kinds = new Set<WorkloadKind>();
  for (const p of points) kinds.add(trialConfig(spec, p, 0).workload.kind);
  return [...kinds];
}

function union<T extends string>(lists: readonly (readonly T[])[]): T[] {
  const out: T[] = [];
  for (const l of lists) for (const c of l) if (!out.includes(c)) out.push(c);
  return out;
}

/** A run in progress: start() it, change knobs with set(), end it early with stop(). */
export class ExperimentRun {
  readonly spec: ExperimentSpec;
  readonly network: Network;
  readonly points: SweepPoint[];
  private readonly abort = new AbortController();
  private stopReason: string | null = null;
  private live: LiveSetter | null = null;
  private faultSetter: FaultSetter | null = null;
  private store: RunStore | null = null;
  private trialAt = { point: -1, repetition: -1 };
  /** Why the run folder refused a write, once it has. */
  private writeFailure: string | null = null;

  private readonly peerToken: string | null;

  constructor(private readonly o: RunOptions) {
    const p = prepareRun(o);
    this.spec = p.spec;
    this.network = p.network;
    this.points = p.points;
    this.peerToken = o.peerToken ?? process.env.PACKETLAB_TOKEN ?? null;
    // A spec may name a peer without a token (validating it needs none); running it does.
    if (this.network.kind === 'peer' && (this.peerToken === null || this.peerToken === '')) {
      throw new RunSetupError(`network ${networkText(this.network)} needs the peer agent's token: ${o.peerTokenHelp ?? 'set PACKETLAB_TOKEN or pass --token / --token-file'}`);
    }
    if (o.speed !== undefined) this.sim.setSpeed(o.speed, 0);
  }

  /** The run folder (once started). */
  get dir(): string | null {
    return this.store?.dir ?? null;
  }

  /**
   * Changes a knob of the running trial; resolves with null or why it could not. In a sweep the
   * knobs the sweep sets are locked: a hand on them would make the point measure another one.
   */
  async set(path: string, value: KnobValue): Promise<string | null> {
    if (this.live === null) return 'no trial is running';
    const at = { ...this.trialAt };
    const point = this.o.explore === undefined ? this.points.find((p) => p.index === at.point) : undefined;
    if (point !== undefined && path in point.set) {
      const label = knobAt(path)?.knob.label ?? path;
      return `${label} is what this sweep varies (this point has ${String(point.set[path])}): it cannot change by hand during the sweep; explore one point to steer it`;
    }
    const { error, timeS } = await this.live(path, value, 'user');
    if (error === null && this.store !== null) {
      // The change is kept in run.json so the run can be replayed with it in the schedule.
      this.store.record.liveChanges.push({ point: at.point, repetition: at.repetition, atS: timeS, knob: path, value, source: 'user' });
      this.store.save();
    }
    return error;
  }

  /**
   * Causes a failure to a replica of the running trial (rpc-replicas: the app's buttons, teaching
   * mode); returns null or why it does not apply. Kept in run.json (knob 'fault'), so that a replay
   * with it in the schedule (a `fault` step) does it again at the same time.
   */
  fault(f: FaultStep): string | null {
    if (this.faultSetter === null) return 'no trial is running';
    if (!Number.isInteger(f.replica) || f.replica < 1 || f.replica > 5) return `replica must be a whole number from 1 to 5 (got ${String(f.replica)})`;
    if (!(FAULT_ACTIONS as readonly string[]).includes(f.action)) return `action must be one of ${FAULT_ACTIONS.join(', ')} (got ${String(f.action)})`;
    if (f.memory !== undefined && f.memory !== 'lost' && f.memory !== 'kept') return `memory must be lost or kept (got ${String(f.memory)})`;
    if (f.action === 'slow' && !(typeof f.extraMs === 'number' && f.extraMs >= 0 && f.extraMs <= 600_000)) return `a slow fault needs extraMs from 0 to 600000 (got ${String(f.extraMs)})`;
    const at = { ...this.trialAt };
    const { error, timeS } = this.faultSetter(f, 'user');
    if (error === null && this.store !== null) {
      this.store.record.liveChanges.push({ point: at.point, repetition: at.repetition, atS: timeS, knob: 'fault', value: `replica${f.replica} ${f.action}`, source: 'user', fault: { ...f } });
      this.store.save();
    }
    return error;
  }

  /** Teaching mode (simulator runs): pause, step, pace and inspect trials. */
  readonly sim = new SimControl();

  private teaching(): string | null {
    return this.network.kind === 'sim' ? null : `teaching mode needs the simulator (this run is on ${networkText(this.network)})`;
  }

  private controlEvent(kind: 'pause' | 'resume' | 'speed', detail: string): void {
    const t = this.sim.trial;
    if (this.store !== null && t !== null) this.eventRow(this.trialAt.point, this.trialAt.repetition, { timeS: t.timeS(), kind, detail });
  }

  /** Writes an event to the run's events.csv and tells the listeners. */
  private eventRow(point: number | null, repetition: number | null, ev: TrialEvent): TrialEvent {
    const e = ev.knob === undefined || ev.label !== undefined ? ev : { ...ev, label: knobLabelOf(ev.knob) };
    this.store?.event({ time_s: e.timeS, wall_time: new Date().toISOString(), point, repetition, kind: e.kind, knob: e.knob, label: e.label, before: e.before === undefined ? undefined : String(e.before), after: e.after === undefined ? undefined : String(e.after), detail: e.detail });
    this.emit({ type: 'event', point, repetition, event: e });
    return e;
  }

  /** Pauses the simulator (the run then moves only by step()). */
  pause(): string | null {
    const err = this.teaching();
    if (err !== null) return err;
    this.sim.pause();
    this.controlEvent('pause', 'paused');
    return null;
  }

  /** Resumes a paused simulator. */
  resume(): string | null {
    const err = this.teaching();
    if (err !== null) return err;
    this.sim.resume((this.sim.trial?.timeS() ?? 0) * 1000);
    this.controlEvent('resume', 'resumed');
    return null;
  }

  /** Takes n single events while paused (a send, an arrival, a timer). */
  step(n = 1): string | null {
    const err = this.teaching();
    if (err !== null) return err;
    if (!this.sim.paused) return 'pause the run before stepping it';
    if (!Number.isInteger(n) || n < 1 || n > 10_000) return `steps must be a whole number from 1 to 10000 (got ${n})`;
    this.sim.step(n);
    return null;
  }

  /** Paces the simulator: virtual seconds per real second (0.01 to 1000), or Infinity for full speed. */
  setSpeed(speed: number): string | null {
    const err = this.teaching();
    if (err !== null) return err;
    const bad = speedProblem(speed);
    if (bad !== null) return bad;
    this.sim.setSpeed(speed, (this.sim.trial?.timeS() ?? 0) * 1000);
    this.controlEvent('speed', Number.isFinite(speed) ? `${speed} x real time` : 'as fast as possible');
    return null;
  }

  /** The running simulator trial's endpoints and datagrams in flight, or why there is none. */
  simState(): SimState | string {
    const err = this.teaching();
    if (err !== null) return err;
    return this.sim.trial?.state() ?? 'no trial is running';
  }

  /**
   * Does something by hand to a datagram in flight (drop, corrupt, duplicate, delay by delayMs);
   * kept in run.json so that a replay does it to the same datagram.
   */
  packetAction(direction: 'forward' | 'reverse', index: number, action: ManualAction = 'drop', o: { duplicate?: boolean; delayMs?: number } = {}): string | null {
    const err = this.teaching();
    if (err !== null) return err;
    const t = this.sim.trial;
    if (t === null) return 'no trial is running';
    const delayMs = o.delayMs ?? 0;
    if (action === 'delay' && !(delayMs > 0 && delayMs <= 600_000)) return `a delay must be from 0.001 to 600000 ms (got ${delayMs})`;
    const duplicate = o.duplicate === true;
    const timeS = t.timeS();
    const e = t.act(direction, index, duplicate, action, delayMs);
    if (e === null && this.store !== null) {
      const packet = { direction, index, duplicate, action, ...(action === 'delay' ? { delayMs } : {}) };
      this.store.record.liveChanges.push({ point: this.trialAt.point, repetition: this.trialAt.repetition, atS: timeS, knob: 'packet', value: index, source: 'user', packet });
      this.store.save();
    }
    return e;
  }

  /** Stops the run: the current trial ends, nothing more starts, and the run is marked stopped. */
  stop(reason = 'stopped by the user'): void {
    if (this.stopReason === null) this.stopReason = reason;
    this.abort.abort();
    // A paused trial waits for a step; let it see the stop.
    this.sim.paused = false;
    this.sim.wakeUp();
  }

  private emit(e: RunStreamEvent): void {
    this.o.onEvent?.(e);
  }

  /** Runs every trial; resolves when the run has ended (for whatever reason). */
  async start(): Promise<{ id: string; dir: string; status: RunStatus; reason: string | null }> {
    const { spec, points } = this;
    const kinds = kindsOf(spec, points);
    const axisNames = spec.sweep.length === 0 ? [] : Object.keys(points[0]!.axes);
    const scalarCols = union(kinds.map((k) => WORKLOADS[k].results));
    const modelCols = spec.model === undefined ? [] : [...MODEL_COLUMNS[spec.model], 'model_error'];
    const columns = {
      samples: ['point', 'repetition', ...axisNames, ...union(kinds.map((k) => WORKLOADS[k].samples))],
      events: [...EVENT_COLUMNS],
      summary: ['point', ...axisNames, 'trials', 'completed_trials', 'changed_by_hand', ...scalarCols.flatMap((c) => [`${c}_mean`, `${c}_ci95`]), ...modelCols],
    };
    const store = new RunStore(this.o.outDir ?? defaultRunsDir(), {
      format: 'packetlab-run/1',
      name: spec.name,
      title: spec.title,
      specFile: this.o.specFile,
      spec,
      overrides: { set: this.o.set ?? {}, network: this.o.network ?? null, quick: this.o.quick === true, ...(this.o.explore === undefined ? {} : { explore: this.o.explore }) },
      network: spec.network,
      points: points.map((p) => ({ index: p.index, axes: p.axes, set: p.set })),
      versions: { packetlab: PACKETLAB_VERSION, node: process.version },
      host: hostFacts(),
      startedAt: new Date().toISOString(),
      endedAt: null,
      status: 'running',
      reason: null,
      trials: [],
      liveChanges: [],
      captures: [],
      columns,
    }, (why) => {
      // A write the folder refused: nothing more of the run could be kept, so it ends. After the
      // call that wrote, not inside it: that may be deep in a trial's own code.
      this.writeFailure = why;
      queueMicrotask(() => this.stop(why));
    });
    this.store = store;
    const total = points.length * spec.repetitions;
    this.emit({ type: 'run-start', id: store.record.id, dir: store.dir, name: spec.name, network: spec.network, points, repetitions: spec.repetitions, trials: total });
    let status: RunStatus = 'complete';
    let reason: string | null = null;
    let n = 0;
    let peer: PeerClient | null = null;
    try {
      if (this.network.kind === 'peer') {
        const net = this.network;
        try {
          peer = await PeerClient.connect({ host: net.host, port: net.port, token: this.peerToken!, name: `packetlab run ${spec.name}` });
        } catch (e) {
          throw new Error(`cannot use the peer agent at ${networkText(net)}: ${(e as Error).message}`);
        }
        this.eventRow(null, null, { timeS: 0, kind: 'connected', detail: `peer agent ${peer.agent.name} (${peer.agent.software}) at ${networkText(net)}` });
      }
      for (const point of points) {
        const outcomes: TrialOutcome[] = [];
        for (let rep = 0; rep < spec.repetitions && !this.abort.signal.aborted; rep++) {
          n++;
          this.trialAt = { point: point.index, repetition: rep };
          const config = this.o.explore === undefined ? trialConfig(spec, point, rep) : exploreConfig(trialConfig(spec, point, rep));
          this.emit({ type: 'trial-start', point: point.index, repetition: rep, axes: point.axes, set: point.set, trial: n, trials: total });
          const prefix = { point: point.index, repetition: rep, ...point.axes };
          const capture = this.openCapture(store, point, rep, config.seed);
          const onPacket = this.packetSink(point.index, rep);
          const effects = new EffectTracker(this.o.effectWindowS ?? DEFAULT_EFFECT_WINDOW_S, (e) => this.eventRow(point.index, rep, e));
          const outcome = await runTrial({
            config,
            network: this.network,
            schedule: spec.schedule.filter((s) => s.trial === undefined || (s.trial.point === point.index && s.trial.repetition === rep)),
            signal: this.abort.signal,
            onSample: (row) => {
              effects.sample(row);
              store.sample({ ...prefix, ...row });
              this.emit({ type: 'sample', point: point.index, repetition: rep, sample: row });
            },
            onEvent: (e) => {
              // The changes still waiting for their after-window are judged on the time there was.
              if (e.kind === 'trial-end') effects.end();
              effects.event(this.eventRow(point.index, rep, e));
            },
            onLive: (set) => {
              this.live = set;
            },
            onFault: (set) => {
              this.faultSetter = set;
            },
            onPacket,
            peer: peer ?? undefined,
            capture: capture?.capture,
            control: this.network.kind === 'sim' ? this.sim : undefined,
          }).finally(() => {
            if (capture !== null) {
              const st = capture.capture.close();
              store.record.captures.push({ point: point.index, repetition: rep, file: capture.file, frames: st.framesWritten, bytes: st.bytesWritten, capped: st.capped });
            }
          });
          outcomes.push(outcome);
          // A trial stopped for a refused write says so; the trial itself only knows it was stopped.
          const failure = outcome.status === 'stopped' && this.writeFailure !== null ? this.writeFailure : outcome.failure;
          store.record.trials.push({ point: point.index, repetition: rep, seed: config.seed, status: outcome.status, failure, changedByHand: this.changedByHand(store, point.index, rep) });
          store.save();
          this.emit({ type: 'trial-end', point: point.index, repetition: rep, status: outcome.status, failure, scalars: outcome.scalars });
          if (outcome.status === 'peer-lost') {
            status = 'peer-lost';
            reason = outcome.failure ?? 'the peer stopped answering';
            this.abort.abort();
          }
        }
        if (outcomes.length > 0) this.summarizePoint(store, point, outcomes, scalarCols, axisNames);
        if (this.abort.signal.aborted) break;
      }
    } catch (e) {
      status = 'failed';
      reason = (e as Error).message;
      this.eventRow(this.trialAt.point, this.trialAt.repetition, { timeS: 0, kind: 'error', detail: reason });
    }
    this.live = null;
    if (peer !== null) await peer.close().catch(() => {});
    if (status === 'complete' && this.abort.signal.aborted) {
      status = 'stopped';
      reason = this.stopReason ?? 'stopped';
    }
    // A write the folder refused makes the run failed, with why.
    ({ status, reason } = store.end(status, reason));
    this.emit({ type: 'run-end', id: store.record.id, dir: store.dir, status, reason });
    return { id: store.record.id, dir: store.dir, status, reason };
  }

  private packetRows = 0;

  /** What the trial's ladder tracer feeds: the watcher and packets.csv, or nothing. */
  private packetSink(point: number, repetition: number): ((p: LadderPacket) => void) | undefined {
    const watcher = this.o.onPacket;
    const store = this.store;
    if (this.o.packetLog !== true || store === null) return watcher;
    store.openPackets(PACKET_COLUMNS);
    return (p) => {
      watcher?.(p);
      if (this.packetRows >= PACKET_LOG_MAX_ROWS) return;
      this.packetRows++;
      store.packet({ point, repetition, sent_s: p.sentS, arrived_s: p.arrivedS, direction: p.direction, type: p.type, seq: p.seq, ack: p.ack, window_bytes: p.windowBytes, sack: p.sack.join(' '), retransmission: p.retransmission ? 1 : 0, fate: p.fate, connection: p.connection });
    };
  }

  /** The pcapng capture of one trial, when asked for. */
  private openCapture(store: RunStore, point: SweepPoint, rep: number, seed: number): { capture: Capture; file: string } | null {
    const max = this.o.pcapMaxBytes ?? 0;
    if (max <= 0) return null;
    const file = `capture-p${point.index}-r${rep}.pcapng`;
    const axes = Object.entries(point.axes).map(([k, v]) => `${k}=${String(v)}`).join(', ');
    const pcap = store.captureSink(file);
    if (pcap === null) return null;
    const capture = new Capture({
      pcap,
      maxBytes: Math.max(max, MIN_CAPTURE_BYTES),
      timeOriginMs: this.network.kind === 'sim' ? 0 : performance.timeOrigin,
      application: `packetlab ${PACKETLAB_VERSION}`,
      comment: `${this.spec.name} point ${point.index}${axes === '' ? '' : ` (${axes})`} repetition ${rep} seed ${seed} on ${this.spec.network}`,
    });
    return { capture, file };
  }

  /** A hand (a knob or a datagram) changed this trial while it ran. */
  private changedByHand(store: RunStore, point: number, repetition: number): boolean {
    return store.record.liveChanges.some((c) => c.point === point && c.repetition === repetition && c.source === 'user');
  }

  /** The knobs changed during the trials of a point (by the schedule, or by hand), in time order. */
  private changesDuring(store: RunStore, point: SweepPoint): { knob: string; atS: number }[] {
    const out: { knob: string; atS: number }[] = [];
    for (const s of this.spec.schedule) {
      if (s.trial !== undefined && s.trial.point !== point.index) continue;
      for (const knob of Object.keys(s.set)) out.push({ knob, atS: s.atS });
      if (s.packet !== undefined) out.push({ knob: `${s.packet.direction}.datagram ${s.packet.index}`, atS: s.atS });
    }
    for (const c of store.record.liveChanges) if (c.point === point.index) out.push({ knob: c.knob, atS: Number(c.atS.toFixed(3)) });
    return out.sort((a, b) => a.atS - b.atS);
  }

  private summarizePoint(store: RunStore, point: SweepPoint, outcomes: TrialOutcome[], scalarCols: MetricName[], axisNames: string[]): void {
    const row: Record<string, number | string | boolean> = { point: point.index };
    for (const a of axisNames) row[a] = point.axes[a]!;
    row.trials = outcomes.length;
    row.completed_trials = outcomes.filter((o) => o.status === 'complete').length;
    row.changed_by_hand = store.record.trials.filter((t) => t.point === point.index && t.changedByHand === true).length;
    for (const c of scalarCols) {
      const { mean, ci95 } = meanCi95(outcomes.map((o) => o.scalars[c] ?? Number.NaN));
      row[`${c}_mean`] = mean;
      row[`${c}_ci95`] = ci95;
    }
    if (this.spec.model !== undefined) {
      const changes = this.changesDuring(store, point);
      // A model takes the knobs of the point as they are at the start and holds them for the whole
      // trial: with knobs changed during a trial its figure would describe another run.
      const steps = this.spec.schedule.filter((s) => s.trial === undefined || s.trial.point === point.index);
      const ex = changes.length > 0 ? null : expectation(this.spec.model, trialConfig(this.spec, point, 0), this.network, steps);
      if (changes.length > 0) {
        const what = changes.slice(0, 3).map((c) => `${c.knob} changed during the trial (at ${c.atS} s)`).join(', ') + (changes.length > 3 ? `, and ${changes.length - 3} more` : '');
        this.eventRow(point.index, null, { timeS: 0, kind: 'model', detail: `no model figure: ${what}; the ${this.spec.model} model holds the knobs of the point for the whole trial` });
      }
      for (const col of MODEL_COLUMNS[this.spec.model]) row[col] = ex?.values[col] ?? Number.NaN;
      if (ex !== null) {
        const expected = Object.values(ex.values)[0]!;
        const measured = row[`${ex.measured}_mean`] as number;
        row.model_error = expected !== 0 ? (measured - expected) / expected : Number.NaN;
      } else row.model_error = Number.NaN;
    }
    store.summaryRow(row);
    this.emit({ type: 'point', point: point.index, summary: row });
  }
}
