// From a validated spec to the concrete trials: overrides (--set, --net, --quick) applied, sweep
// axes expanded into points (their cartesian product), and each point resolved into full
// configurations of the transport, both link directions, the sockets and the workload.

import { DEFAULT_TRANSPORT_CONFIG, type TransportConfig } from '../../core/transport/config.js';
import { NO_IMPAIRMENT, type ImpairmentConfig } from '../../core/impair/config.js';
import { LINK_PRESETS } from '../../core/impair/presets.js';
import { transportConfigProblems, type KnobValues, type SocketConfig } from '../../core/knobs.js';
import { deriveSeed } from '../../core/util/rng.js';
import { KNOB_SECTIONS, SIM_KNOBS, WORKLOAD_KNOBS, knobAt, type KnobSection } from '../knobs.js';
import { axisName, type ExperimentSpec, type KnobValue, type SweepAxis } from '../spec.js';
import type { Knob } from '../../core/knobs.js';
import { WORKLOADS } from '../kinds/registry.js';
import { EXPLORE_MAX_MS } from '../kinds/kind.js';

/** Workload knob values with defaults applied, one field per entry of WORKLOAD_KNOBS. */
export type WorkloadConfig = KnobValues<typeof WORKLOAD_KNOBS>;

/** The simulated receiving host, one field per entry of SIM_KNOBS. */
export type SimHostConfig = KnobValues<typeof SIM_KNOBS>;

/** Where trials run. */
export type Network = { kind: 'sim' } | { kind: 'loopback' } | { kind: 'peer'; host: string; port: number };

/** Everything one trial needs. */
export interface TrialConfig {
  transport: TransportConfig;
  /** Transport knobs the spec set explicitly (RPC over the lab transport starts from its own defaults). */
  transportSet: Partial<TransportConfig>;
  forward: ImpairmentConfig;
  reverse: ImpairmentConfig;
  socket: SocketConfig;
  workload: WorkloadConfig;
  sim: SimHostConfig;
  seed: number;
  intervalMs: number;
  timeLimitMs: number;
}

/** One point of the sweep: its axis values and the knob values that make it. */
export interface SweepPoint {
  index: number;
  /** Axis name to the value written in the CSV files. */
  axes: Record<string, KnobValue>;
  /** Knob path to value, in the order the axes set them. */
  set: Record<string, KnobValue>;
}

function defaultsOf(list: readonly Knob[]): Record<string, KnobValue> {
  return Object.fromEntries(list.map((k) => [k.key, k.default]));
}

/** Parses "peer:HOST:PORT", "sim" or "loopback" (and HOST:PORT, which --net accepts too). */
export function parseNetwork(text: string): Network | null {
  if (text === 'sim' || text === 'loopback') return { kind: text };
  const m = /^(?:peer:)?(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+):(\d{1,5})$/.exec(text);
  if (m === null) return null;
  const port = Number(m[2]);
  if (port < 1 || port > 65535) return null;
  return { kind: 'peer', host: m[1]!.replace(/^\[|\]$/g, ''), port };
}

/** Writes a network back as spec text. */
export function networkText(n: Network): string {
  return n.kind === 'peer' ? `peer:${n.host.includes(':') ? `[${n.host}]` : n.host}:${n.port}` : n.kind;
}

function rangeValues(a: { from: number; to: number; steps: number; scale: 'linear' | 'log' }, integer: boolean): number[] {
  const out: number[] = [];
  for (let i = 0; i < a.steps; i++) {
    const f = i / (a.steps - 1);
    let v = a.scale === 'log' ? a.from * Math.pow(a.to / a.from, f) : a.from + (a.to - a.from) * f;
    v = integer ? Math.round(v) : Number(v.toPrecision(12));
    if (!out.includes(v)) out.push(v);
  }
  return out;
}

/** The values of an axis as (label, settings) pairs. */
export function axisPoints(a: SweepAxis): { label: KnobValue; set: Record<string, KnobValue> }[] {
  if ('points' in a) return a.points.map((p) => ({ label: p.label, set: { ...(p.set as Record<string, KnobValue>) } }));
  const paths = Array.isArray(a.knob) ? a.knob : [a.knob];
  const values = 'values' in a ? a.values : rangeValues(a, paths.every((p) => { const k = knobAt(p)!.knob; return k.kind === 'number' && k.integer; }));
  return values.map((v) => ({ label: v, set: Object.fromEntries(paths.map((p) => [p, v])) }));
}

function thin<T>(list: T[], n: number): T[] {
  if (list.length <= n) return list;
  if (n === 1) return [list[0]!];
  const out: T[] = [];
  for (let i = 0; i < n; i++) out.push(list[Math.round((i * (list.length - 1)) / (n - 1))]!);
  return out;
}

/** Expands the sweep into its points (one point when there is no axis). */
export function expandSweep(spec: ExperimentSpec, pointsPerAxis?: number): SweepPoint[] {
  let points: SweepPoint[] = [{ index: 0, axes: {}, set: {} }];
  for (const axis of spec.sweep) {
    let values = axisPoints(axis);
    if (pointsPerAxis !== undefined) values = thin(values, pointsPerAxis);
    const name = axisName(axis);
    const next: SweepPoint[] = [];
    for (const p of points) for (const v of values) next.push({ index: 0, axes: { ...p.axes, [name]: v.label }, set: { ...p.set, ...v.set } });
    points = next;
  }
  points.forEach((p, i) => (p.index = i));
  return points;
}

/** Applies --quick: the spec's short version. */
export function quickSpec(spec: ExperimentSpec): { spec: ExperimentSpec; pointsPerAxis: number | undefined } {
  const q = spec.quick;
  if (q === undefined) return { spec, pointsPerAxis: undefined };
  const s: ExperimentSpec = structuredClone(spec);
  for (const [path, v] of Object.entries(q.set ?? {})) if (v !== undefined) setPath(s, path, v);
  if (q.repetitions !== undefined) s.repetitions = q.repetitions;
  if (q.timeLimitS !== undefined) s.timeLimitS = q.timeLimitS;
  return { spec: s, pointsPerAxis: q.pointsPerAxis };
}

/** Sets SECTION.KEY in a spec's sections. */
export function setPath(spec: ExperimentSpec, path: string, value: KnobValue): void {
  const at = knobAt(path);
  if (at === undefined) throw new Error(`unknown knob ${path}`);
  (spec[at.section] as Record<string, KnobValue>)[at.key] = value;
}

/** The sections of a spec with one point's settings applied, defaults filled in. */
function sectionsAt(spec: ExperimentSpec, point: SweepPoint): Record<KnobSection, Record<string, KnobValue>> {
  const out = {} as Record<KnobSection, Record<string, KnobValue>>;
  const preset = spec.preset === undefined ? null : LINK_PRESETS[spec.preset];
  for (const section of Object.keys(KNOB_SECTIONS) as KnobSection[]) {
    const fromPreset = preset === null || (section !== 'forward' && section !== 'reverse') ? {} : (preset[section] as Record<string, KnobValue>);
    out[section] = { ...defaultsOf(KNOB_SECTIONS[section]), ...fromPreset, ...(spec[section] as Record<string, KnobValue>) };
  }
  for (const [path, v] of Object.entries(point.set)) {
    const at = knobAt(path)!;
    out[at.section][at.key] = v;
  }
  return out;
}

/** The seed of repetition r: the same across points, so points differ only by their knobs. */
export function trialSeed(spec: ExperimentSpec, repetition: number): number {
  return repetition === 0 ? spec.seed : deriveSeed(spec.seed, `repetition-${repetition}`);
}

/** Resolves one point and repetition into a trial configuration. */
export function trialConfig(spec: ExperimentSpec, point: SweepPoint, repetition: number): TrialConfig {
  const s = sectionsAt(spec, point);
  const transportSet: Partial<TransportConfig> = { ...(spec.transport as Partial<TransportConfig>) };
  for (const [path, v] of Object.entries(point.set)) {
    const at = knobAt(path)!;
    if (at.section === 'transport') (transportSet as Record<string, KnobValue>)[at.key] = v;
  }
  return {
    transport: { ...DEFAULT_TRANSPORT_CONFIG, ...(s.transport as Partial<TransportConfig>) },
    transportSet,
    forward: { ...NO_IMPAIRMENT, ...(s.forward as Partial<ImpairmentConfig>) },
    reverse: { ...NO_IMPAIRMENT, ...(s.reverse as Partial<ImpairmentConfig>) },
    socket: s.socket as unknown as SocketConfig,
    workload: s.workload as unknown as WorkloadConfig,
    sim: s.sim as unknown as SimHostConfig,
    seed: trialSeed(spec, repetition),
    intervalMs: spec.intervalMs,
    timeLimitMs: spec.timeLimitS * 1000,
  };
}

/** A trial explored until stopped: its workload's own end lifted, ended at the latest by EXPLORE_MAX_MS. */
export function exploreConfig(c: TrialConfig): TrialConfig {
  return { ...c, workload: { ...c.workload, ...WORKLOADS[c.workload.kind].endless }, timeLimitMs: EXPLORE_MAX_MS };
}

/** Problems of one trial configuration that no single knob range catches. */
export function trialProblems(c: TrialConfig, network: Network): string[] {
  return [...transportConfigProblems(c.transport, (k) => `transport.${k}`), ...WORKLOADS[c.workload.kind].problems(c, network)];
}
