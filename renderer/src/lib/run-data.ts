// What a run's charts draw, as plain objects outside reactivity: per trial, one SeriesBuffer per
// charted column (x = time_s from the trial's start) and the knob changes made during it. Both the
// live stream (RunBatch) and a run opened from disk (samples.csv, events.csv) fill the same shape.

import type { LadderPacket, LiveEvent, RunData, Table } from '../../../experiments/api/contract.js';
import { SeriesBuffer, SERIES_MAX_POINTS } from './series.js';
import { sharedUnit } from './metrics.js';
import { DEFAULT_MSS_BYTES, packetFromRow, TimeSeqData } from './timeseq.js';
import { SeqBases } from './ladder.js';
import { FLOW_CWND_METRICS, FLOW_GOODPUT_METRICS, REPLICA_CALLS_METRICS, REPLICA_UP_METRICS, axisTitle, linkDropColumns, type MetricName } from '../../../core/metrics/registry.js';

/** A chart of the live view and which columns it draws, by workload. */
export interface ChartVariant {
  title: string;
  /** Y axis title with its unit, from the metric registry. */
  yTitle: string;
  /** The unit the columns share (its ticks' SI prefix), or null. */
  unit: string | null;
  columns: readonly MetricName[];
}

/** A chart variant of metrics: its axis title and ticks come from their units (core/metrics/registry.ts). */
function variant(title: string, columns: readonly MetricName[]): ChartVariant {
  return { title, yTitle: axisTitle(columns), unit: sharedUnit(columns), columns };
}

/** One live chart: the first variant with a column in the trial is drawn. */
export interface ChartDef {
  id: string;
  variants: readonly ChartVariant[];
}

/** The live charts (throughput, loss, retransmissions, RTT, window). */
export const CHART_DEFS: readonly ChartDef[] = [
  {
    id: 'rate',
    variants: [
      variant('Throughput and goodput', ['throughput_bps', 'goodput_bps']),
      variant('Send and receive rate', ['send_rate_bps', 'receive_rate_bps']),
      variant('Calls per second', ['calls_per_s']),
      variant('Goodput per flow', ['total_goodput_bps', ...FLOW_GOODPUT_METRICS]),
      variant('Availability', ['availability']),
    ],
  },
  {
    id: 'loss',
    variants: [
      variant('Loss', [...linkDropColumns('fwd'), ...linkDropColumns('rev'), ...linkDropColumns('link'), 'lost_packets', 'kernel_drops_sender', 'kernel_drops_receiver', 'checksum_failures', 'fwd_drops', 'rev_drops']),
      variant('Load per replica', [...REPLICA_CALLS_METRICS]),
    ],
  },
  {
    id: 'retransmissions',
    variants: [
      variant('Retransmissions by cause', ['retransmits_timeout', 'retransmits_fast', 'retransmits_spurious', 'timeouts']),
      variant('RPC retransmissions and duplicates', ['retransmissions', 'duplicate_requests', 'cache_hits', 'duplicate_executions']),
      variant('Duplicates and reordering', ['duplicate_packets', 'reordered_packets']),
      variant("Fairness (Jain's index)", ['jain_index']),
      variant('Failovers, hedged copies and duplicate executions', ['calls_failed_over', 'hedged_copies', 'replica_duplicate_executions']),
    ],
  },
  {
    id: 'rtt',
    variants: [
      variant('RTT, SRTT and RTO', ['rtt_mean_ms', 'srtt_ms', 'rto_ms']),
      variant('Jitter', ['jitter_ms']),
      variant('RPC latency (mean and max)', ['latency_mean_ms', 'latency_max_ms']),
    ],
  },
  {
    id: 'window',
    variants: [
      variant('Congestion window and in flight', ['cwnd_packets', 'ssthresh_packets', 'in_flight_packets']),
      variant('RPC latency percentiles', ['latency_p50_ms', 'latency_p90_ms', 'latency_p99_ms']),
      variant('Calls in flight', ['calls_in_flight']),
      variant('Congestion windows and the queue', [...FLOW_CWND_METRICS, 'fwd_queue_packets']),
    ],
  },
];

/** Every column some chart draws, and the replicas' states the replicas panel reads: the only ones kept. */
export const CHARTED_COLUMNS: ReadonlySet<string> = new Set<string>([...CHART_DEFS.flatMap((d) => d.variants.flatMap((v) => v.columns)), ...REPLICA_UP_METRICS]);

/** A live change drawn as a vertical line. */
export interface KnobMarker {
  timeS: number;
  knob: string;
  before: string;
  after: string;
  /** 'user', 'schedule', or the schedule's note. */
  detail: string;
  /** "knob: before → after" */
  label: string;
  /** The figures before and after the change (its `effect` event), once the window after it has passed. */
  effect: string | null;
}

/** The text of a change marker. */
export function markerLabel(knob: string, before: string, after: string): string {
  return `${knob}: ${before} → ${after}`;
}

/** A knob change event as a marker (null for other events). */
/** Events drawn as marks: knob changes, and a replicated service's failures, restarts and new views. */
const MARKED: ReadonlySet<string> = new Set(['set', 'fault', 'replica', 'view']);

export function markerOf(e: Pick<LiveEvent, 'kind' | 'timeS' | 'knob' | 'label' | 'before' | 'after' | 'detail'>): KnobMarker | null {
  if (!MARKED.has(e.kind) || e.knob === undefined || e.knob === '') return null;
  const before = e.before ?? '';
  const after = e.after ?? '';
  const name = e.label === undefined || e.label === '' ? e.knob : e.label;
  // A restart that completed or a new view has no before: it says what is now. A fault that left
  // the state as it was (a slowdown) says what it did.
  const label = before === '' ? `${name}: ${after}` : e.kind !== 'set' && before === after ? `${name}: ${e.detail ?? after}` : markerLabel(name, before, after);
  return { timeS: e.timeS, knob: e.knob, before, after, detail: e.detail ?? '', label, effect: null };
}

/** Puts an `effect` event's figures on the markers of the changes it judges (same time, its knobs). */
export function attachEffect(markers: readonly KnobMarker[], e: Pick<LiveEvent, 'kind' | 'timeS' | 'knob' | 'detail'>): void {
  if (e.kind !== 'effect' || e.knob === undefined) return;
  const knobs = e.knob.split(' ');
  for (const m of markers) if (Math.abs(m.timeS - e.timeS) < 1e-6 && knobs.includes(m.knob)) m.effect = e.detail ?? null;
}

/** A run in a legend: its id's date and time (YYYYMMDD-HHMMSS), or the id as it is. */
export function shortRunName(id: string | null): string {
  if (id === null) return 'live run';
  const m = /^(\d{8}-\d{6})/.exec(id);
  return m === null ? id : m[1]!;
}

/** The key of a trial: point and repetition. */
export function trialKey(point: number, repetition: number): string {
  return `${point}/${repetition}`;
}

/** Label of a trial from its sweep axes. */
export function trialLabel(point: number, repetition: number, axes: Record<string, unknown> | undefined): string {
  const a = axes === undefined ? [] : Object.entries(axes).map(([k, v]) => `${k} = ${String(v)}`);
  return `point ${point + 1}${a.length > 0 ? ` (${a.join(', ')})` : ''}, repetition ${repetition + 1}`;
}

/** One trial's charted data. */
export class TrialData {
  readonly key: string;
  readonly columns = new Map<string, SeriesBuffer>();
  readonly markers: KnobMarker[] = [];
  /** Samples received. */
  samples = 0;
  /** Last time_s seen. */
  lastTimeS = 0;
  /** The time-sequence graph of the trial's packets. */
  readonly timeSeq: TimeSeqData;
  /** Where the trial's sequence numbers start, for its ladder (seen from its first packets on). */
  readonly seqBases = new SeqBases();
  /** A past run's packets (packets.csv), sorted by send time, for its ladder; empty for a live trial. */
  packets: LadderPacket[] = [];
  /** True when the trial had more packets than the ladder keeps (PAST_LADDER_MAX_PACKETS): `packets` holds the first ones. */
  packetsCut = false;

  constructor(
    readonly point: number,
    readonly repetition: number,
    public label: string,
    private readonly maxPoints = SERIES_MAX_POINTS,
    mssBytes = DEFAULT_MSS_BYTES,
  ) {
    this.key = trialKey(point, repetition);
    this.timeSeq = new TimeSeqData(mssBytes);
  }

  /** Adds one sample row (time_s is the x of every column). */
  addSample(values: Record<string, number | string | null | undefined>): void {
    const t = values.time_s;
    if (typeof t !== 'number' || !Number.isFinite(t)) return;
    this.samples++;
    this.lastTimeS = t;
    for (const c in values) {
      if (!CHARTED_COLUMNS.has(c)) continue;
      const v = values[c];
      if (typeof v !== 'number') continue;
      let s = this.columns.get(c);
      if (s === undefined) {
        s = new SeriesBuffer(this.maxPoints);
        this.columns.set(c, s);
      }
      s.push(t, v);
    }
  }

  /** The points of a column (an empty array, kept, when there are none yet). */
  series(column: string): SeriesBuffer {
    let s = this.columns.get(column);
    if (s === undefined) {
      s = new SeriesBuffer(this.maxPoints);
      this.columns.set(column, s);
    }
    return s;
  }

  /** The variant of a chart this trial has data for (the first when none has any). */
  variantOf(def: ChartDef): ChartVariant {
    return def.variants.find((v) => v.columns.some((c) => (this.columns.get(c)?.length ?? 0) > 0)) ?? def.variants[0]!;
  }
}

/** The MSS of a spec (what the receive-window line divides by). */
export function mssOf(spec: { transport?: unknown } | null | undefined): number {
  const t = spec?.transport as { mssBytes?: unknown } | undefined;
  return typeof t?.mssBytes === 'number' && t.mssBytes > 0 ? t.mssBytes : DEFAULT_MSS_BYTES;
}

/** The trials of a run, in the order they started. */
export class TrialSet {
  readonly trials: TrialData[] = [];
  private readonly byKey = new Map<string, TrialData>();

  /** `mssBytes`: the spec's, for the time-sequence graphs. */
  constructor(readonly mssBytes = DEFAULT_MSS_BYTES) {}

  /** The trial, created when it is new. */
  get(point: number, repetition: number, label?: string): TrialData {
    const key = trialKey(point, repetition);
    let t = this.byKey.get(key);
    if (t === undefined) {
      t = new TrialData(point, repetition, label ?? trialLabel(point, repetition, undefined), SERIES_MAX_POINTS, this.mssBytes);
      this.byKey.set(key, t);
      this.trials.push(t);
    } else if (label !== undefined) t.label = label;
    return t;
  }

  find(key: string): TrialData | undefined {
    return this.byKey.get(key);
  }

  get latest(): TrialData | null {
    return this.trials[this.trials.length - 1] ?? null;
  }
}

function cellNumber(v: number | string | null | undefined): number | null {
  if (typeof v === 'number') return v;
  if (typeof v === 'string' && v !== '' && Number.isFinite(Number(v))) return Number(v);
  return null;
}

/** Rows of a table as objects. */
export function tableRows(t: Table): Record<string, number | string | null>[] {
  return t.rows.map((r) => Object.fromEntries(t.columns.map((c, i) => [c, r[i] ?? null])));
}

/**
 * Most packets of a trial of a run opened from disk that its ladder keeps (about 50 MB a trial; packets.csv
 * holds up to 1,000,000 for the whole run). Each trial has its own, so a trial after a cut one still
 * has a ladder.
 */
export const PAST_LADDER_MAX_PACKETS = 250_000;

/**
 * The trials of a run opened from disk (packets.csv, when there is one, fills the time-sequence graphs).
 * `maxLadderPackets`: the most packets each trial keeps for its ladder; 0 builds no ladder, for a run
 * whose ladder is never shown (an overlay, a run taken over).
 */
export function trialsFromRun(run: Pick<RunData, 'samples' | 'events' | 'record'> & { packets?: RunData['packets'] }, maxLadderPackets = PAST_LADDER_MAX_PACKETS): TrialSet {
  const record = run.record as { spec?: { transport?: unknown }; points?: { index: number; axes: Record<string, unknown> }[] } | null;
  const set = new TrialSet(mssOf(record?.spec));
  const axesOf = (point: number) => record?.points?.find((p) => p.index === point)?.axes;
  const s = run.samples;
  const ip = s.columns.indexOf('point');
  const ir = s.columns.indexOf('repetition');
  for (const row of s.rows) {
    const point = cellNumber(row[ip]) ?? 0;
    const rep = cellNumber(row[ir]) ?? 0;
    const values: Record<string, number | null> = {};
    for (let i = 0; i < s.columns.length; i++) values[s.columns[i]!] = cellNumber(row[i]);
    set.get(point, rep, trialLabel(point, rep, axesOf(point))).addSample(values);
  }
  for (const e of tableRows(run.events)) {
    const point = cellNumber(e.point);
    const rep = cellNumber(e.repetition);
    if (point === null || rep === null) continue;
    const m = markerOf({
      kind: String(e.kind ?? ''),
      timeS: cellNumber(e.time_s) ?? 0,
      knob: e.knob === null ? undefined : String(e.knob),
      label: e.label === null || e.label === undefined ? undefined : String(e.label),
      before: e.before === null ? undefined : String(e.before),
      after: e.after === null ? undefined : String(e.after),
      detail: e.detail === null ? undefined : String(e.detail),
    });
    const trial = set.get(point, rep, trialLabel(point, rep, axesOf(point)));
    if (m !== null) trial.markers.push(m);
    else if (e.kind === 'effect') attachEffect(trial.markers, { kind: 'effect', timeS: cellNumber(e.time_s) ?? 0, knob: e.knob === null ? undefined : String(e.knob), detail: e.detail === null ? undefined : String(e.detail) });
  }
  if (run.packets !== undefined && run.packets.rows.length > 0) {
    const cols = run.packets.columns;
    for (const r of run.packets.rows) {
      const row: Record<string, number | string | null> = {};
      for (let i = 0; i < cols.length; i++) row[cols[i]!] = r[i] ?? null;
      const p = packetFromRow(row);
      if (p === null) continue;
      const trial = set.get(p.point, p.repetition, trialLabel(p.point, p.repetition, axesOf(p.point)));
      trial.timeSeq.add(p);
      trial.seqBases.observe(p);
      if (trial.packets.length < maxLadderPackets) trial.packets.push(p);
      else if (maxLadderPackets > 0) trial.packetsCut = true;
    }
    for (const t of set.trials) t.packets.sort((a, b) => a.sentS - b.sentS);
  }
  return set;
}
