// The run on screen: starting and stopping it, live knob changes, the batches it pushes (samples,
// events, ladder packets, status, finished points), and past runs opened from history or overlaid.
// Chart data lives in plain objects (RunView, TrialData); a revision counter tells the charts
// that it grew, once per batch, and they redraw at most once per frame.

import type { ApiParams, LabApi, LadderPacket, LiveEvent, RunBatch, RunData } from '../../../experiments/api/contract.js';
import { parseSpecJson, type KnobValue, type SpecObject } from '../lib/knobs.js';
import { attachEffect, markerOf, mssOf, tableRows, trialKey, trialLabel, TrialSet, trialsFromRun, type TrialData } from '../lib/run-data.js';
import { LADDER_MAX_PACKETS, ladderWindow, type SeqBases } from '../lib/ladder.js';

/** Where the run stands ('idle' before the first). */
export type RunState = 'idle' | 'starting' | 'running' | 'complete' | 'stopped' | 'failed' | 'peer-lost' | 'interrupted';

/** A summary row (one finished sweep point). */
export type SummaryRow = Record<string, number | string | boolean | null>;

/** How RunStore.start starts a run. */
export interface StartOptions {
  network?: string;
  quick?: boolean;
  pcap?: boolean;
  /** Teaching mode: wait at time 0 (simulator). */
  paused?: boolean;
  /** The simulator's pace: virtual seconds per real second, or as fast as possible. */
  speed?: number | 'max';
  /** Explore this sweep point until Stop. */
  explore?: number;
  /** The peer agent's token (kept in memory by the page, never in a spec). */
  peerToken?: string;
  /** Seconds before and after each change that its effect compares. */
  effectWindowS?: number;
}

/** A run's data for the charts: live or read from disk. */
export class RunView {
  readonly trials: TrialSet;
  readonly summary: SummaryRow[] = [];

  constructor(
    public id: string | null,
    readonly title: string,
    readonly spec: SpecObject | null,
    readonly source: 'live' | 'disk',
    trials?: TrialSet,
    /** What of a run from disk could not be read back whole (a last row cut off by a full disk). */
    readonly warnings: readonly string[] = [],
  ) {
    this.trials = trials ?? new TrialSet(mssOf(spec));
  }

  /** A run opened from disk; its trials keep ladder packets (packets.csv, as trialsFromRun caps them) only with `ladder`, for a run whose ladder is shown. */
  static fromRun(run: RunData, ladder: boolean): RunView {
    const record = run.record as { spec?: SpecObject } | null;
    const view = new RunView(run.info.id, run.info.title, record?.spec ?? null, 'disk', trialsFromRun(run, ladder ? undefined : 0), run.warnings);
    for (const row of tableRows(run.summary)) view.summary.push(row);
    return view;
  }
}

/** The names of a spec's sweep axes (`name`, else the knob path), in order. */
export function sweepAxes(spec: SpecObject | null): string[] {
  const axes = spec?.sweep;
  if (!Array.isArray(axes)) return [];
  return (axes as Record<string, unknown>[]).map((a) => (typeof a.name === 'string' ? a.name : Array.isArray(a.knob) ? a.knob.join('+') : String(a.knob ?? '')));
}

/** Most events kept for the log. */
const EVENTS_MAX = 500;
/** Most ladder packets kept. */
const PACKETS_MAX = 400;

const TERMINAL = new Set(['complete', 'stopped', 'failed', 'peer-lost', 'interrupted']);

/** The run on screen and the runs opened beside it. */
export class RunStore {
  #runId = $state<string | null>(null);
  #state = $state<RunState>('idle');
  #reason = $state<string | null>(null);
  #dir = $state<string | null>(null);
  #error = $state<string | null>(null);
  #progress = $state.raw<{ trial: number; trials: number; label: string } | null>(null);
  #live = $state.raw<RunView | null>(null);
  #opened = $state.raw<RunView | null>(null);
  #overlay = $state.raw<RunView | null>(null);
  #trialKey = $state<string | null>(null);
  #ladderAtS = $state<number | null>(null);
  #overlayKey = $state<string | null>(null);
  #revision = $state(0);
  /**
   * The trial the charts show. Looked up again at every batch (a live run's latest trial may be a
   * new one), but the same trial is the same value: what reads it (the past ladder, the charts)
   * is not recomputed while batches of the live run come in and an opened run is shown.
   */
  #shown = $derived.by((): TrialData | null => {
    void this.#revision;
    const v = this.#opened ?? this.#live;
    if (v === null) return null;
    return (this.#trialKey === null ? null : v.trials.find(this.#trialKey)) ?? v.trials.latest;
  });
  #events = $state.raw<LiveEvent[]>([]);
  #packets = $state.raw<LadderPacket[]>([]);
  #liveValues = $state.raw<Record<string, string>>({});
  #knobErrors = $state.raw<Record<string, string>>({});
  #stopping = $state(false);
  /** The run is in the simulator (teaching mode works). */
  #simulator = $state(false);
  /** Teaching mode: the simulator is paused (started so, or paused since). */
  #paused = $state(false);
  /** The last start was refused: what is on screen is an earlier run. */
  #startFailed = $state(false);
  /** The live run explores one sweep point until Stop (its swept knobs may change). */
  #exploring = $state(false);
  /** Datagrams dropped (corrupted, duplicated, delayed) by hand in this run. */
  #manualActions = $state(0);
  /** The trial the live packets belong to. */
  #current: { point: number; repetition: number } | null = null;
  /** Batches that came before startRun answered with the run's id. */
  #early: RunBatch[] = [];
  /** A run being taken over (its batches wait for what it wrote so far). */
  #adopting: string | null = null;
  #adoptQueue: RunBatch[] = [];

  constructor(
    private readonly api: LabApi,
    private readonly onEnded: () => void = () => {},
  ) {
    api.onRunBatch((b) => this.handleBatch(b));
  }

  get runId(): string | null {
    return this.#runId;
  }
  get state(): RunState {
    return this.#state;
  }
  /** The status reason (why it failed, lost its peer, stopped). */
  get reason(): string | null {
    return this.#reason;
  }
  get dir(): string | null {
    return this.#dir;
  }
  /** The last refused action (start, stop, open, export). */
  get error(): string | null {
    return this.#error;
  }
  get running(): boolean {
    return this.#state === 'running' || this.#state === 'starting';
  }
  get stopping(): boolean {
    return this.#stopping;
  }
  /** The run on screen runs in the simulator (teaching mode applies). */
  get simulator(): boolean {
    return this.#simulator;
  }
  /** The last start was refused (the run on screen, if any, is an earlier one). */
  get startFailed(): boolean {
    return this.#startFailed;
  }
  /** The live run explores one sweep point until Stop. */
  get exploring(): boolean {
    return this.#exploring && this.running;
  }
  /** Teaching mode: the running simulator is paused. */
  get paused(): boolean {
    return this.#paused && this.running;
  }
  /** Datagrams dropped (corrupted, duplicated, delayed) by hand in the live run. */
  get manualActions(): number {
    return this.#manualActions;
  }
  /** The trial going (1-based, as the runner counts) of how many. */
  get progress(): { trial: number; trials: number; label: string } | null {
    return this.#progress;
  }
  /** Grows by one per batch: charts redraw when it changes. */
  get revision(): number {
    return this.#revision;
  }
  get events(): LiveEvent[] {
    return this.#events;
  }
  get packets(): LadderPacket[] {
    return this.#packets;
  }
  /** Knob values changed during the current trial, as text (path → value). */
  get liveValues(): Record<string, string> {
    return this.#liveValues;
  }
  /** The error of the last refused change of each knob. */
  get knobErrors(): Record<string, string> {
    return this.#knobErrors;
  }
  get live(): RunView | null {
    return this.#live;
  }
  get opened(): RunView | null {
    return this.#opened;
  }
  get overlay(): RunView | null {
    return this.#overlay;
  }
  /** The run the charts show: one opened from history, else the live one. */
  get view(): RunView | null {
    return this.#opened ?? this.#live;
  }
  /** The selected trial's key, or null to follow the latest; setting it puts the past ladder back at the trial's end. */
  get trialKey(): string | null {
    return this.#trialKey;
  }
  set trialKey(k: string | null) {
    this.#trialKey = k;
    this.#ladderAtS = null;
  }

  /** The time up to which a past run's ladder shows packets (s), or null for the trial's end. */
  get ladderAtS(): number | null {
    return this.#ladderAtS;
  }
  set ladderAtS(s: number | null) {
    if (s !== null && !Number.isFinite(s)) throw new RangeError(`ladder time must be a number of seconds (got ${s})`);
    this.#ladderAtS = s;
  }

  /**
   * The ladder of a run opened from history: the shown trial's packets (packets.csv) sent up to
   * the chosen time, and the time range to choose from; null for a live run, or one without packets.
   */
  get pastLadder(): { packets: LadderPacket[]; maxS: number; atS: number; cut: boolean } | null {
    if (this.#opened === null) return null;
    const trial = this.trial;
    const packets = trial?.packets ?? [];
    if (packets.length === 0) return null;
    const maxS = packets[packets.length - 1]!.sentS;
    const atS = this.#ladderAtS === null ? maxS : Math.min(Math.max(this.#ladderAtS, 0), maxS);
    return { packets: ladderWindow(packets, atS, LADDER_MAX_PACKETS), maxS, atS, cut: trial!.packetsCut };
  }
  get overlayKey(): string | null {
    return this.#overlayKey;
  }
  set overlayKey(k: string | null) {
    this.#overlayKey = k;
  }

  /**
   * Where the sequence numbers of the ladder's packets start: those of the live trial the packets
   * come from, or of the opened run's trial shown.
   */
  get ladderBases(): SeqBases | undefined {
    void this.#revision;
    if (this.#opened !== null) return this.trial?.seqBases;
    const cur = this.#current;
    const live = this.#live;
    if (live === null) return undefined;
    return (cur === null ? live.trials.latest : live.trials.find(trialKey(cur.point, cur.repetition)))?.seqBases;
  }

  /** The trial the charts show. */
  get trial(): TrialData | null {
    return this.#shown;
  }

  /** The overlaid run's trial: the chosen one, else the one with the same key, else its first. */
  get overlayTrial(): TrialData | null {
    void this.#revision;
    const o = this.#overlay;
    if (o === null) return null;
    const key = this.#overlayKey ?? this.trial?.key ?? null;
    return (key === null ? null : o.trials.find(key)) ?? o.trials.trials[0] ?? null;
  }

  /** The trials of the run shown, for the selector. */
  get trialOptions(): { key: string; label: string }[] {
    void this.#revision;
    // A trial a hand changed while it ran says so: its figures are not the point's alone.
    return (this.view?.trials.trials ?? []).map((t) => ({ key: t.key, label: t.markers.some((m) => m.detail === 'user') ? `${t.label} · changed by hand` : t.label }));
  }

  /**
   * Why the overlaid run's summary is not drawn over the shown one's (their sweeps differ), or null
   * when they compare point by point. The live charts always compare trials over time.
   */
  get overlayMismatch(): string | null {
    const o = this.#overlay;
    const v = this.view;
    if (o === null || v === null) return null;
    const a = sweepAxes(v.spec);
    const b = sweepAxes(o.spec);
    if (a.join('\u0000') === b.join('\u0000')) return null;
    const text = (x: string[]) => (x.length === 0 ? 'no axis' : x.join(' and '));
    return `the overlaid run sweeps ${text(b)}, the run shown ${text(a)}: only the live charts are overlaid (trial against trial, over time), not the summary`;
  }

  /** The trials of the overlaid run. */
  get overlayOptions(): { key: string; label: string }[] {
    void this.#revision;
    return (this.#overlay?.trials.trials ?? []).map((t) => ({ key: t.key, label: t.label }));
  }

  /** Clears the last error. */
  dismissError(): void {
    this.#error = null;
  }

  /**
   * Starts a run of the spec text (`paused`: teaching mode, at time 0; `speed`: the pace; both
   * simulator only; `explore`: one sweep point until Stop).
   */
  async start(text: string, o: StartOptions = {}): Promise<boolean> {
    if (this.running) return false;
    const before = this.#state;
    this.#state = 'starting';
    this.#error = null;
    this.#early = [];
    this.#runId = null;
    const spec = parseSpecJson(text).spec;
    const title = typeof spec?.title === 'string' ? spec.title : 'run';
    const params: ApiParams<'startRun'> = { text };
    if (o.network !== undefined) params.network = o.network;
    if (o.quick === true) params.quick = true;
    if (o.pcap === true) params.pcap = true;
    if (o.paused === true) params.paused = true;
    if (o.speed !== undefined) params.speed = o.speed;
    if (o.explore !== undefined) params.explore = o.explore;
    if (o.effectWindowS !== undefined) params.effectWindowS = o.effectWindowS;
    if (o.peerToken !== undefined && o.peerToken !== '') params.peerToken = o.peerToken;
    const r = await this.api.startRun(params);
    if (!r.ok) {
      // The run before stays on screen, but the status says the start failed, not how that run ended.
      this.#state = before === 'starting' || before === 'idle' ? 'idle' : 'failed';
      this.#reason = r.error;
      this.#startFailed = true;
      this.#error = r.error;
      this.#early = [];
      return false;
    }
    this.#startFailed = false;
    this.#showLive(r.value.runId, new RunView(r.value.runId, title, spec, 'live'), (o.network ?? (typeof spec?.network === 'string' ? spec.network : 'sim')) === 'sim', o.paused === true);
    this.#exploring = o.explore !== undefined;
    if (this.#state === 'starting') this.#state = 'running';
    const early = this.#early;
    this.#early = [];
    for (const b of early) this.handleBatch(b);
    return true;
  }

  /** Stops the running run. */
  async stop(): Promise<void> {
    const id = this.#runId;
    if (id === null || this.#state !== 'running') return;
    this.#stopping = true;
    const r = await this.api.stopRun({ runId: id });
    if (!r.ok) {
      this.#stopping = false;
      this.#error = r.error;
    }
  }

  /** Changes a knob of the running run; returns the error, or null. */
  async setKnob(path: string, value: KnobValue): Promise<string | null> {
    const id = this.#runId;
    if (id === null || this.#state !== 'running') return 'no run is going';
    const r = await this.api.setKnob({ runId: id, path, value });
    const errors = { ...this.#knobErrors };
    if (r.ok) {
      delete errors[path];
      this.#liveValues = { ...this.#liveValues, [path]: String(value) };
    } else errors[path] = r.error;
    this.#knobErrors = errors;
    return r.ok ? null : r.error;
  }

  /** Causes a failure to a replica of the running trial (rpc-replicas); returns the error, or null. */
  async fault(f: Omit<ApiParams<'replicaFault'>, 'runId'>): Promise<string | null> {
    const id = this.#runId;
    if (id === null || this.#state !== 'running') return 'no run is going';
    const r = await this.api.replicaFault({ runId: id, ...f });
    // A failure by hand is replayed as datagrams changed by hand are (Teaching's Replay).
    if (r.ok) this.#manualActions++;
    return r.ok ? null : r.error;
  }

  /** Forgets the refusal shown for a knob. */
  clearKnobError(path: string): void {
    if (!(path in this.#knobErrors)) return;
    const errors = { ...this.#knobErrors };
    delete errors[path];
    this.#knobErrors = errors;
  }

  /** Opens a past run onto the charts (or overlays it on what they show). */
  async open(runId: string, as: 'main' | 'overlay' = 'main'): Promise<boolean> {
    const r = await this.api.openRun({ runId });
    if (!r.ok) {
      this.#error = r.error;
      return false;
    }
    // Only the run on the charts shows its ladder: an overlay's packets are not built.
    const view = RunView.fromRun(r.value, as !== 'overlay');
    if (as === 'overlay') {
      this.#overlay = view;
      this.#overlayKey = null;
    } else {
      this.#opened = view;
      this.trialKey = null;
    }
    this.#revision++;
    return true;
  }

  /** Goes back from an opened run to the live one. */
  closeOpened(): void {
    this.#opened = null;
    this.trialKey = null;
    this.#revision++;
  }

  /** Removes the overlay. */
  clearOverlay(): void {
    this.#overlay = null;
    this.#overlayKey = null;
    this.#revision++;
  }

  /** Notes that the simulator was paused or resumed (the call succeeded; its event follows). */
  notePaused(paused: boolean): void {
    this.#paused = paused;
  }

  /** Notes an error from outside (an export). */
  fail(error: string): void {
    this.#error = error;
  }

  /** A run still marked running here whose history entry ended (batches missed while offline). */
  syncStatus(runs: readonly { id: string; status: string; reason: string | null }[]): void {
    if (this.#state !== 'running' || this.#runId === null) return;
    const r = runs.find((x) => x.id === this.#runId);
    if (r !== undefined && TERMINAL.has(r.status)) {
      this.#state = r.status as RunState;
      this.#reason = r.reason;
      this.#stopping = false;
    }
  }

  /** Shows `live` as the live run `runId`, with nothing left from the run before it. */
  #showLive(runId: string, live: RunView, simulator: boolean, paused: boolean): void {
    this.#runId = runId;
    this.#live = live;
    this.#opened = null;
    this.trialKey = null;
    this.#reason = null;
    this.#dir = null;
    this.#events = [];
    this.#packets = [];
    this.#liveValues = {};
    this.#knobErrors = {};
    this.#stopping = false;
    this.#simulator = simulator;
    this.#paused = paused;
    this.#manualActions = 0;
    this.#progress = null;
    this.#current = null;
  }

  /** Shows a run started elsewhere: what it wrote so far from disk, then its batches. */
  private adopt(b: RunBatch): void {
    if (this.#adopting !== null) {
      if (this.#adopting === b.runId) this.#adoptQueue.push(b);
      return;
    }
    // A run that is over by its first batch seen here is left to the history.
    if (b.status !== undefined && TERMINAL.has(b.status.state)) return;
    this.#adopting = b.runId;
    this.#adoptQueue = [b];
    void this.api.openRun({ runId: b.runId }).then((r) => {
      const queue = this.#adoptQueue;
      this.#adopting = null;
      this.#adoptQueue = [];
      if (!r.ok || this.running) return;
      // A live run's ladder shows its live packets, not packets.csv's.
      const view = RunView.fromRun(r.value, false);
      const live = new RunView(r.value.info.id, r.value.info.title, view.spec, 'live', view.trials);
      live.summary.push(...view.summary);
      this.#showLive(r.value.info.id, live, r.value.info.network === 'sim', false);
      this.#state = 'running';
      for (const q of queue) this.handleBatch(q);
      this.#revision++;
    });
  }

  /**
   * Completes a finished live run's time-sequence graphs from its packets.csv: batches carry only
   * the newest packets of the trial going, none of a trial that ran within one batch.
   */
  #fillTimeSeq(view: RunView): void {
    if (view.id === null) return;
    void this.api.openRun({ runId: view.id }).then((r) => {
      if (!r.ok || this.#live !== view || this.running) return;
      for (const disk of trialsFromRun(r.value, 0).trials) {
        const t = view.trials.find(disk.key);
        if (t !== undefined && disk.timeSeq.transmissions + disk.timeSeq.ackCount > t.timeSeq.transmissions + t.timeSeq.ackCount) t.timeSeq.copyFrom(disk.timeSeq);
      }
      this.#revision++;
    });
  }

  /** Takes one pushed batch. */
  handleBatch(b: RunBatch): void {
    if (this.#state === 'starting' && this.#runId === null) {
      this.#early.push(b);
      return;
    }
    if (b.runId !== this.#runId) {
      // A run this page did not start (another window's, or ours before a reload) is shown
      // when nothing else is going here.
      if (!this.running || this.#adopting === b.runId) this.adopt(b);
      return;
    }
    const view = this.#live;
    if (view === null) return;
    // Samples first: a batch can hold the whole of earlier trials as well as the start of the one it
    // names, and the trials are kept in the order they started (the latest is the one shown).
    for (const s of b.samples) view.trials.get(s.point, s.repetition).addSample(s.values);
    if (b.trial !== undefined) {
      const t = b.trial;
      const label = trialLabel(t.point, t.repetition, t.axes);
      view.trials.get(t.point, t.repetition, label);
      this.#progress = { trial: t.trial, trials: t.trials, label };
      this.#current = { point: t.point, repetition: t.repetition };
      // A live change lasts until the end of its trial; a trial starts from its sweep point's values.
      this.#liveValues = Object.fromEntries(Object.entries(t.set ?? {}).map(([k, v]) => [k, String(v)]));
      this.#packets = [];
    }
    if (b.events.length > 0) {
      let values: Record<string, string> | null = null;
      for (const e of b.events) {
        const m = markerOf(e);
        if (m !== null && e.point !== null && e.repetition !== null) {
          const markers = view.trials.get(e.point, e.repetition).markers;
          if (!markers.some((x) => x.timeS === m.timeS && x.knob === m.knob)) markers.push(m);
          // A knob's value in force (a replica's state is not a knob).
          if (e.kind === 'set') {
            values ??= { ...this.#liveValues };
            values[m.knob] = m.after;
          }
        }
        if (e.kind === 'effect' && e.point !== null && e.repetition !== null) attachEffect(view.trials.get(e.point, e.repetition).markers, e);
        if (e.kind === 'pause') this.#paused = true;
        else if (e.kind === 'resume') this.#paused = false;
        else if (e.kind === 'packet' || e.kind === 'drop') this.#manualActions++;
      }
      if (values !== null) this.#liveValues = values;
      const all = this.#events.concat(b.events);
      this.#events = all.length > EVENTS_MAX ? all.slice(all.length - EVENTS_MAX) : all;
    }
    if (b.packets.length > 0) {
      const cur = this.#current;
      const trial = cur === null ? view.trials.latest : view.trials.get(cur.point, cur.repetition);
      trial?.timeSeq.addAll(b.packets);
      trial?.seqBases.observeAll(b.packets);
      const all = this.#packets.concat(b.packets);
      this.#packets = all.length > PACKETS_MAX ? all.slice(all.length - PACKETS_MAX) : all;
    }
    // A point read from disk when the run was taken over may come again in a batch.
    if (b.points !== undefined) for (const row of b.points) if (!view.summary.some((r) => r.point === row.point)) view.summary.push(row);
    if (b.status !== undefined) {
      this.#state = b.status.state;
      this.#reason = b.status.reason;
      if (b.status.dir !== null) this.#dir = b.status.dir;
      if (TERMINAL.has(b.status.state)) {
        this.#stopping = false;
        this.#paused = false;
        this.#fillTimeSeq(view);
        this.onEnded();
      }
    }
    this.#revision++;
  }
}
