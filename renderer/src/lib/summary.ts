// The summary chart of a sweep, laid out so that it shows the finding: x is the spec's plot.x axis
// (categories, yes/no, a linear or a log-spaced number), and plot.y's results (their `_mean`
// columns) are drawn on one panel per unit (small multiples: a loss ratio never shares an axis
// with a count of drops), each beside the model's `expected_*` column of the same unit. A model
// column in the x axis's unit is a mark on the x axis (the bandwidth-delay product of a window
// sweep). Units and labels come from the metric registry (core/metrics/registry.ts) and the knob
// registry (experiments/knobs.ts); numbers are written with SI prefixes. Points appear as sweep
// points finish; points that a hand changed while they ran are marked.

import type { XY } from './series.js';
import { METRICS, isMetric, type MetricUnit } from '../../../core/metrics/registry.js';
import { knobAt } from '../../../experiments/knobs.js';
import { metricLabel } from './metrics.js';

/** The spec's plot field. */
export interface PlotSpec {
  x: string;
  y: string[];
  series?: string;
}

/** A point of the chart: the x it is drawn at, its value, and the trials a hand changed there. */
export interface SummaryPoint extends XY {
  /** Trials of the point changed by hand while they ran (summary.csv's changed_by_hand). */
  hand: number;
  /** Trials run at the point. */
  trials: number | null;
}

/** One line (or, on a category axis, one row of dots) of a panel. */
export interface SummaryLine {
  label: string;
  /** The column it draws: a result (plot.y, its `_mean`) or a model's `expected_*` column. */
  column: string;
  /** The model's expectation, not a measurement. */
  expected: boolean;
  /** Series value, when the plot has series (null for a model line the series share). */
  series: string | null;
  points: SummaryPoint[];
}

/** One panel: the results of one unit, on their own y axis. */
export interface SummaryPanel {
  /** Stable across runs of the same plot (the unit, or the column of a metric the registry does not know). */
  key: string;
  unit: MetricUnit | null;
  /** The plot.y results it draws. */
  columns: string[];
  lines: SummaryLine[];
}

/** How the x axis places the sweep values. */
export type XKind = 'category' | 'linear' | 'log';

/** The x axis. */
export interface SummaryX {
  kind: XKind;
  /** People's name for the axis, with its unit: "Window (packets)", "Receive buffer (KiB)". */
  title: string;
  /** Category labels (x is the label's index), or null for a numeric axis. */
  labels: string[] | null;
  /** The distinct x positions of every layout, sorted. */
  values: number[];
  /** How its numbers are written. */
  scale: UnitScale;
}

/** A vertical mark where theory puts something on the x axis. */
export interface XMark {
  x: number;
  /** Short name drawn beside the line ("BDP"). */
  label: string;
  /** The model column it comes from. */
  column: string;
}

/** The chart of one run's summary (a run and its overlay share the x axis and the panels). */
export interface SummaryLayout {
  x: SummaryX;
  panels: SummaryPanel[];
  marks: XMark[];
  /** Trials changed by hand, over every point. */
  handTrials: number;
  /** Trials changed by hand at each x (every series). */
  handAt: Map<number, number>;
}

/** What the chart needs of the spec's sweep axis that plot.x names. */
export interface SweepAxisInfo {
  /** Points axes and enum or boolean knobs are categories. */
  category: boolean;
  /** On/off knobs: their values are drawn as "on" and "off". */
  boolean: boolean;
  /** The sweep's values in sweep order (labels of a points axis), when the spec lists them. */
  order: string[];
  /** The spec asked for log spacing ({from, to, steps, scale: "log"}). */
  log: boolean;
  /** The numbers the spec lists (a short version may run only some of them). */
  numbers: number[];
  /** People's name for the axis without its unit (the knob's label, else the axis name). */
  name: string;
  /** The unit of the knob's values, when it has one. */
  unit: XUnit | null;
}

/** Units an x axis can carry (a knob's, in the registry's words). */
export type XUnit = MetricUnit | 'packets/s';

/** Model columns drawn as a mark on the x axis when x has their unit, with their short name. */
export const X_MARKS: Readonly<Record<string, string>> = { expected_bdp_packets: 'BDP' };

/** How numbers of one unit are written on an axis: divided by `factor`, followed by `suffix`. */
export interface UnitScale {
  factor: number;
  /** Unit as people read it ("Mbit/s", "KiB", "%"), '' for a plain number. */
  suffix: string;
}

/** The SI (binary for bytes) prefix that suits the largest value of an axis. */
export function unitScale(unit: XUnit | null, maxAbs: number): UnitScale {
  const m = Number.isFinite(maxAbs) ? Math.abs(maxAbs) : 0;
  const pick = (steps: readonly (readonly [number, string])[]): UnitScale => {
    for (const [factor, suffix] of steps) if (m >= factor) return { factor, suffix };
    const last = steps[steps.length - 1]!;
    return { factor: last[0], suffix: last[1] };
  };
  switch (unit) {
    case 'bit/s':
      return pick([
        [1e9, 'Gbit/s'],
        [1e6, 'Mbit/s'],
        [1e3, 'kbit/s'],
        [1, 'bit/s'],
      ]);
    case 'bytes':
      return pick([
        [2 ** 30, 'GiB'],
        [2 ** 20, 'MiB'],
        [2 ** 10, 'KiB'],
        [1, 'bytes'],
      ]);
    case 'ms':
      return m >= 10_000 ? { factor: 1000, suffix: 's' } : { factor: 1, suffix: 'ms' };
    case '0/1':
      // The mean of a yes/no result over the repetitions: the share of trials.
      return { factor: 0.01, suffix: '% of trials' };
    case 'ratio':
    case null:
      return { factor: 1, suffix: '' };
    case 'count':
      return { factor: 1, suffix: '' };
    default:
      return { factor: 1, suffix: unit };
  }
}

/** A number as an axis or a table writes it: at most `digits` significant digits, thousands grouped. */
export function formatNumber(v: number, digits = 3): string {
  if (!Number.isFinite(v)) return '–';
  if (v === 0) return '0';
  const r = Number(v.toPrecision(digits));
  return Math.abs(r) >= 1000 ? r.toLocaleString('en-US', { maximumFractionDigits: 0 }) : String(r);
}

/** A value in the scale's unit ("4.73 Mbit/s"). */
export function formatWithUnit(v: number, s: UnitScale, digits = 3): string {
  const n = formatNumber(v / s.factor, digits);
  return s.suffix === '' || !Number.isFinite(v) ? n : s.suffix.startsWith('%') ? `${n}${s.suffix}` : `${n} ${s.suffix}`;
}

/** The plot field of a spec, when it has a valid one. */
export function plotOf(spec: Record<string, unknown> | null): PlotSpec | null {
  const p = spec?.plot as Partial<PlotSpec> | undefined;
  if (p === undefined || p === null || typeof p.x !== 'string' || !Array.isArray(p.y) || p.y.length === 0) return null;
  return { x: p.x, y: p.y.filter((y): y is string => typeof y === 'string'), series: typeof p.series === 'string' ? p.series : undefined };
}

/** The unit of a knob's values, as an axis writes them. */
function knobUnit(path: string): XUnit | null {
  const k = knobAt(path)?.knob;
  if (k === undefined || k.kind !== 'number') return null;
  switch (k.unit) {
    case 'bytes':
      return 'bytes';
    case 'bitsPerSecond':
      return 'bit/s';
    case 'ms':
      return 'ms';
    case 'probability':
      return 'ratio';
    default: {
      // A count's label names what it counts: "Window (packets)", "Send rate (packets/s)".
      const m = /\(([^)]+)\)$/.exec(k.label);
      return m?.[1] === 'packets' ? 'packets' : m?.[1] === 'packets/s' ? 'packets/s' : 'count';
    }
  }
}

/** A knob's label without its unit in parentheses. */
function bareLabel(label: string): string {
  return label.replace(/\s*\([^)]*\)$/, '');
}

/** What the chart needs of the sweep axis called `name` of a spec (null: no such axis). */
export function sweepAxisOf(spec: Record<string, unknown> | null, name: string): SweepAxisInfo | null {
  const sweep = spec?.sweep;
  if (!Array.isArray(sweep)) return null;
  for (const a of sweep as Record<string, unknown>[]) {
    if (a === null || typeof a !== 'object') continue;
    const knobs = typeof a.knob === 'string' ? [a.knob] : Array.isArray(a.knob) ? a.knob.filter((k): k is string => typeof k === 'string') : [];
    const axisName = typeof a.name === 'string' ? a.name : knobs.join('+');
    if (axisName !== name) continue;
    if (Array.isArray(a.points)) {
      const order = a.points.map((p: unknown) => String((p as { label?: unknown })?.label ?? ''));
      return { category: true, boolean: false, order, log: false, numbers: [], name, unit: null };
    }
    const defs = knobs.map((k) => knobAt(k)?.knob).filter((k) => k !== undefined);
    const labels = [...new Set(defs.map((k) => bareLabel(k.label)))];
    const people = labels.length === 0 ? name : labels.map((l, i) => (i === 0 ? l : l.charAt(0).toLowerCase() + l.slice(1))).join(' and ');
    const kind = defs[0]?.kind;
    const isBool = kind === 'boolean';
    const values = Array.isArray(a.values) ? (a.values as unknown[]) : [];
    return {
      category: kind === 'enum' || isBool || values.some((v) => typeof v === 'string' || typeof v === 'boolean'),
      boolean: isBool,
      order: values.map((v) => (isBool ? onOff(v) : String(v))),
      log: a.scale === 'log',
      numbers: values.filter((v): v is number => typeof v === 'number' && Number.isFinite(v)),
      name: people,
      unit: knobs.length > 0 ? knobUnit(knobs[0]!) : null,
    };
  }
  return null;
}

/** A yes/no value as the chart names it; summary.csv writes true as 1 and false as an empty cell. */
function onOff(v: unknown): string {
  return v === true || v === 1 || v === '1' || v === 'true' ? 'on' : 'off';
}

function num(v: unknown): number | null {
  if (typeof v === 'number' && Number.isFinite(v)) return v;
  if (typeof v === 'boolean') return v ? 1 : 0;
  if (typeof v === 'string' && v.trim() !== '' && Number.isFinite(Number(v))) return Number(v);
  return null;
}

/** A sweep value as the chart places it: numbers as they are, booleans as 1 and 0 (as the CSV files write them). */
function xValue(v: unknown): number | string {
  if (typeof v === 'boolean') return v ? 1 : 0;
  if (typeof v === 'number') return v;
  if (typeof v === 'string' && v.trim() !== '' && Number.isFinite(Number(v))) return Number(v);
  return String(v ?? '');
}

/**
 * Whether numbers of a sweep are log-spaced: all positive, spanning at least a factor of 8, and
 * each step a ratio much like the others (1, 2, 4, ... 128; 15, 25, 50, ... 1000), not a
 * difference like the others.
 */
export function logSpaced(values: readonly number[]): boolean {
  const v = [...new Set(values)].sort((a, b) => a - b);
  if (v.length < 3 || v[0]! <= 0 || v[v.length - 1]! / v[0]! < 8) return false;
  const steps = v.slice(1).map((x, i) => Math.log(x / v[i]!));
  return Math.max(...steps) / Math.min(...steps) <= 3;
}

/** The unit of a column (a metric, or a model's), or null for one the registry does not know. */
function unitOf(column: string): MetricUnit | null {
  return isMetric(column) ? METRICS[column].unit : null;
}

/**
 * Lays out several runs' summaries on one x axis and one set of panels (a run and its overlay):
 * category labels are shared, so that the same sweep value lands at the same place. `spec` (the
 * run's) tells categories, yes/no and log-spaced axes apart and names the axis; without it a
 * numeric axis is linear and anything else a category.
 */
export function layoutSummaries(sets: readonly (readonly Record<string, unknown>[])[], plot: PlotSpec, spec: Record<string, unknown> | null = null): SummaryLayout[] {
  const axis = sweepAxisOf(spec, plot.x);
  const raw = sets.flatMap((rows) => rows.map((r) => r[plot.x]));
  const numeric = axis === null ? raw.every((x) => typeof xValue(x) === 'number') : !axis.category;
  const labelOf = (v: unknown) => (axis?.boolean === true ? onOff(v) : String(xValue(v)));
  // Categories in sweep order, then any the spec did not list (an overlay of another spec).
  const labels: string[] = [];
  if (!numeric) for (const l of [...(axis?.order ?? []).filter((o) => raw.some((v) => labelOf(v) === o)), ...raw.map(labelOf)]) if (!labels.includes(l)) labels.push(l);
  const xOf = (v: unknown): number | null => (numeric ? num(v) : labels.indexOf(labelOf(v)));
  const xs = [...new Set(raw.map(xOf).filter((x): x is number => x !== null))].sort((a, b) => a - b);
  // The spacing of the whole sweep, not only of the values a short version ran.
  const kind: XKind = !numeric ? 'category' : axis?.log === true || logSpaced([...(axis?.numbers ?? []), ...xs]) ? 'log' : 'linear';
  const xUnit = axis?.unit ?? null;
  const scale = unitScale(xUnit, Math.max(0, ...xs.map(Math.abs)));
  const name = axis?.name ?? plot.x;
  const x: SummaryX = { kind, title: scale.suffix === '' ? name : `${name} (${scale.suffix})`, labels: numeric ? null : labels, values: xs, scale };

  // One panel per unit, in the order plot.y first names it.
  const panels: { key: string; unit: MetricUnit | null; columns: string[] }[] = [];
  for (const y of plot.y) {
    const unit = unitOf(y);
    const key = unit ?? `column:${y}`;
    const p = panels.find((q) => q.key === key);
    if (p === undefined) panels.push({ key, unit, columns: [y] });
    else p.columns.push(y);
  }
  // The model's columns: beside the result they predict, else in the panel of their unit, else a
  // mark on the x axis when x has their unit.
  const modelColumns = [...new Set(sets.flatMap((rows) => rows.flatMap((r) => Object.keys(r).filter((k) => k.startsWith('expected_')))))];
  const modelPanel = new Map<string, string>();
  const markColumns: string[] = [];
  for (const c of modelColumns) {
    const predicted = c.slice('expected_'.length);
    const p = panels.find((q) => q.columns.includes(predicted)) ?? (X_MARKS[c] === undefined ? panels.find((q) => q.unit !== null && q.unit === unitOf(c)) : undefined);
    if (p !== undefined) modelPanel.set(c, p.key);
    else if (X_MARKS[c] !== undefined && numeric && xUnit !== null && xUnit === unitOf(c)) markColumns.push(c);
  }

  return sets.map((rows, setIndex) => {
    const lines = new Map<string, SummaryLine>();
    const line = (column: string, expected: boolean, series: string | null, panel: string): SummaryLine => {
      const key = `${panel}|${column}|${series ?? ''}`;
      let l = lines.get(key);
      if (l === undefined) {
        const name = metricLabel(column);
        l = { label: series === null ? name : `${name}, ${plot.series} = ${series}`, column, expected, series, points: [] };
        lines.set(key, l);
      }
      return l;
    };
    let handTrials = 0;
    const handAt = new Map<number, number>();
    const marks: XMark[] = [];
    for (const r of rows) {
      const xv = xOf(r[plot.x]);
      if (xv === null) continue;
      const series = plot.series === undefined ? null : String(xValue(r[plot.series]));
      const hand = num(r.changed_by_hand) ?? 0;
      const trials = num(r.trials);
      handTrials += hand;
      handAt.set(xv, (handAt.get(xv) ?? 0) + hand);
      for (const p of panels) {
        for (const y of p.columns) {
          const m = num(r[`${y}_mean`]);
          if (m !== null) line(y, false, series, p.key).points.push({ x: xv, y: m, hand, trials });
        }
      }
      // An overlay shows its measurements only: one model is enough.
      if (setIndex > 0) continue;
      for (const [c, panel] of modelPanel) {
        const e = num(r[c]);
        if (e !== null) line(c, true, series, panel).points.push({ x: xv, y: e, hand: 0, trials: null });
      }
      for (const c of markColumns) {
        const e = num(r[c]);
        if (e !== null && !marks.some((k) => k.column === c && k.x === e)) marks.push({ x: e, label: X_MARKS[c]!, column: c });
      }
    }
    for (const l of lines.values()) l.points.sort((a, b) => a.x - b.x);
    return {
      x,
      panels: panels.map((p) => ({ ...p, lines: mergeSameModel([...lines.entries()].filter(([k]) => k.startsWith(`${p.key}|`)).map(([, l]) => l), plot) })),
      marks,
      handTrials,
      handAt,
    };
  });
}

/** Model lines that are the same for every series (the model does not depend on it) are drawn once. */
function mergeSameModel(lines: SummaryLine[], plot: PlotSpec): SummaryLine[] {
  if (plot.series === undefined) return lines;
  const out: SummaryLine[] = [];
  const same = (a: SummaryLine, b: SummaryLine) => a.points.length === b.points.length && a.points.every((p, i) => p.x === b.points[i]!.x && p.y === b.points[i]!.y);
  for (const l of lines) {
    if (!l.expected) {
      out.push(l);
      continue;
    }
    const group = lines.filter((o) => o.expected && o.column === l.column);
    if (group.every((o) => same(o, group[0]!))) {
      if (group[0] === l) out.push({ ...l, label: metricLabel(l.column), series: null });
    } else out.push(l);
  }
  return out;
}

/** The panel's scale: the prefix that suits its largest value. */
export function panelScale(panels: readonly SummaryPanel[]): UnitScale {
  const p = panels[0]!;
  const max = Math.max(0, ...panels.flatMap((q) => q.lines.flatMap((l) => l.points.map((pt) => Math.abs(pt.y)))));
  return unitScale(p.unit, max);
}

/**
 * The y axis title of a panel: the unit its results share ("Mbit/s", "% of trials"), or their
 * labels when they have none (a ratio). The chart's title and legend name the results.
 */
export function panelTitle(p: SummaryPanel, s: UnitScale): string {
  return s.suffix === '' ? p.columns.map(metricLabel).join(', ') : s.suffix;
}

/** The distinct x values of layouts (ticks of a numeric axis with few values). */
export function xValuesOf(layouts: readonly SummaryLayout[]): number[] {
  return [...new Set(layouts.flatMap((l) => l.panels.flatMap((p) => p.lines.flatMap((x) => x.points.map((pt) => pt.x)))))].sort((a, b) => a - b);
}

/** A line's name in a legend or a table: a model column that does not say so is marked "(model)". */
export function lineName(l: SummaryLine): string {
  return l.expected && !/expected/i.test(l.label) ? `${l.label} (model)` : l.label;
}

/** One table of the plotted values: a row per x value, a column per line of every panel. */
export interface SummaryTable {
  head: string[];
  rows: string[][];
}

/**
 * The data table of a chart (its text view): the x value, each line's value in its panel's unit,
 * and the trials changed by hand; `only`: one panel's lines. `overlay`: the overlaid run's layout,
 * its lines named after it.
 */
export function summaryTable(main: SummaryLayout, overlay: SummaryLayout | null = null, only: number | null = null, overlayName = 'overlay'): SummaryTable {
  const cols: { head: string; line: SummaryLine; scale: UnitScale }[] = [];
  main.panels.forEach((p, i) => {
    if (only !== null && i !== only) return;
    const scale = panelScale(overlay === null ? [p] : [p, overlay.panels[i]!]);
    const unit = scale.suffix === '' ? '' : ` (${scale.suffix})`;
    for (const l of p.lines) cols.push({ head: `${lineName(l)}${unit}`, line: l, scale });
    if (overlay !== null) for (const l of overlay.panels[i]!.lines) cols.push({ head: `${l.label} · ${overlayName}${unit}`, line: l, scale });
  });
  const hand = main.handTrials > 0;
  const head = [main.x.title, ...cols.map((c) => c.head), ...(hand ? ['Trials changed by hand'] : [])];
  const xs = xValuesOf(overlay === null ? [main] : [main, overlay]);
  const rows = xs.map((x) => {
    const xText = main.x.labels !== null ? main.x.labels[x] ?? String(x) : formatWithUnit(x, { ...main.x.scale, suffix: '' }, 4);
    const cells = cols.map((c) => {
      const pt = c.line.points.find((p) => p.x === x);
      return pt === undefined ? '–' : formatNumber(pt.y / c.scale.factor, 4);
    });
    const handCells = hand ? [String(main.handAt.get(x) ?? 0)] : [];
    return [xText, ...cells, ...handCells];
  });
  return { head, rows };
}
