// The summary chart of a sweep: x is the spec's plot.x axis, one line per plot.y result (its
// `_mean` column) and series value, and the model's `expected_*` column beside it as a dashed line.
// Points appear as sweep points finish.

import type { XY } from './series.js';
import { metricLabel } from './metrics.js';

/** The spec's plot field. */
export interface PlotSpec {
  x: string;
  y: string[];
  series?: string;
}

/** One line of the summary chart. */
export interface SummaryLine {
  label: string;
  /** The result it draws (plot.y). */
  y: string;
  expected: boolean;
  /** Series value, when the plot has series. */
  series: string | null;
  points: XY[];
}

/** The chart's lines, and the x labels when x is not numeric (then x is the label's index). */
export interface SummaryLayout {
  xLabels: string[] | null;
  lines: SummaryLine[];
}

/** The plot field of a spec, when it has a valid one. */
export function plotOf(spec: Record<string, unknown> | null): PlotSpec | null {
  const p = spec?.plot as Partial<PlotSpec> | undefined;
  if (p === undefined || p === null || typeof p.x !== 'string' || !Array.isArray(p.y) || p.y.length === 0) return null;
  return { x: p.x, y: p.y.filter((y): y is string => typeof y === 'string'), series: typeof p.series === 'string' ? p.series : undefined };
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
  return String(v);
}

/**
 * Lays out several runs' summaries on one x axis (a run and its overlay): when x is not numeric,
 * the labels are shared so that the same sweep value lands at the same place.
 */
export function layoutSummaries(sets: readonly (readonly Record<string, unknown>[])[], plot: PlotSpec): SummaryLayout[] {
  const all = sets.flatMap((rows) => rows.map((r) => xValue(r[plot.x])));
  const numeric = all.every((x) => typeof x === 'number');
  const labels: string[] = [];
  if (!numeric) for (const x of all) if (!labels.includes(String(x))) labels.push(String(x));
  return sets.map((rows) => {
    const lines = new Map<string, SummaryLine>();
    const line = (y: string, expected: boolean, series: string | null): SummaryLine => {
      const key = `${y}|${expected}|${series ?? ''}`;
      let l = lines.get(key);
      if (l === undefined) {
        const name = expected ? metricLabel(`expected_${y}`) : `${metricLabel(y)} (mean)`;
        l = { label: series === null ? name : `${name}, ${plot.series} = ${series}`, y, expected, series, points: [] };
        lines.set(key, l);
      }
      return l;
    };
    for (const r of rows) {
      const v = xValue(r[plot.x]);
      const x = numeric ? (v as number) : labels.indexOf(String(v));
      const series = plot.series === undefined ? null : String(xValue(r[plot.series]));
      for (const y of plot.y) {
        const m = num(r[`${y}_mean`]);
        if (m !== null) line(y, false, series).points.push({ x, y: m });
        const e = num(r[`expected_${y}`]);
        if (e !== null) line(y, true, series).points.push({ x, y: e });
      }
    }
    const out = [...lines.values()];
    for (const l of out) l.points.sort((a, b) => a.x - b.x);
    return { xLabels: numeric ? null : labels, lines: out };
  });
}

/** The distinct x values of a layout (ticks of a numeric axis with few values). */
export function xValuesOf(layouts: readonly SummaryLayout[]): number[] {
  return [...new Set(layouts.flatMap((l) => l.lines.flatMap((x) => x.points.map((p) => p.x))))].sort((a, b) => a - b);
}
