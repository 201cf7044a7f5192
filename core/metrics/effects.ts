// What a change did: the figures a student compares across a knob change (the rate the
// application got, the loss, retransmissions per second and the round trip), each over the seconds
// before the change and the seconds after it, computed from a trial's samples. The runner writes
// one `effect` row per change to events.csv and the app shows it beside the change's mark.

import { linkDropColumns, type MetricName, type MetricRow } from './registry.js';

/** One figure of an effect. */
export interface EffectFigure {
  /** Machine name (events.csv's before and after columns). */
  name: 'goodput_bps' | 'receive_rate_bps' | 'calls_per_s' | 'availability' | 'loss_ratio' | 'retransmits_per_s' | 'rtt_ms';
  /** For people. */
  label: string;
  unit: 'bit/s' | 'calls/s' | '%' | '/s' | 'ms';
  before: number;
  after: number;
}

/** Before and after a change at `atS`, over `windowS` seconds each (less where the trial was shorter). */
export interface ChangeEffect {
  atS: number;
  windowS: number;
  /** The seconds of samples each side covers. */
  beforeS: number;
  afterS: number;
  figures: EffectFigure[];
}

/** A figure: the columns it needs (all present in the samples), and its value over some intervals. */
interface FigureDef {
  /** One figure of each group: the first whose columns the samples have. */
  group: 'rate' | 'availability' | 'loss' | 'retransmissions' | 'rtt';
  name: EffectFigure['name'];
  label: string;
  unit: EffectFigure['unit'];
  needs: readonly MetricName[];
  of(rows: readonly MetricRow[], seconds: number): number;
}

const sum = (rows: readonly MetricRow[], cols: readonly MetricName[]): number => {
  let s = 0;
  for (const r of rows) for (const c of cols) s += Number.isFinite(r[c]) ? r[c]! : 0;
  return s;
};

/** Mean of the finite values of a column (a gauge such as srtt_ms), NaN without one. */
const meanOf = (rows: readonly MetricRow[], col: MetricName): number => {
  let s = 0;
  let n = 0;
  for (const r of rows) {
    const v = r[col];
    if (v !== undefined && Number.isFinite(v)) {
      s += v;
      n++;
    }
  }
  return n === 0 ? Number.NaN : s / n;
};

const ratio = (a: number, b: number): number => (b > 0 ? a / b : Number.NaN);

const FWD_DROPS = linkDropColumns('fwd');
const LINK_DROPS = linkDropColumns('link');

// The first figure of each kind whose columns the samples have is used: a transfer's goodput, a
// stream's receive rate, RPC's calls per second.
const FIGURES: readonly FigureDef[] = [
  { group: 'rate', name: 'goodput_bps', label: 'Goodput', unit: 'bit/s', needs: ['goodput_bps'], of: (rows) => meanOf(rows, 'goodput_bps') },
  { group: 'rate', name: 'goodput_bps', label: 'Goodput', unit: 'bit/s', needs: ['total_goodput_bps'], of: (rows) => meanOf(rows, 'total_goodput_bps') },
  { group: 'rate', name: 'receive_rate_bps', label: 'Receive rate', unit: 'bit/s', needs: ['receive_rate_bps'], of: (rows) => meanOf(rows, 'receive_rate_bps') },
  { group: 'rate', name: 'calls_per_s', label: 'Calls', unit: 'calls/s', needs: ['calls_per_s'], of: (rows) => meanOf(rows, 'calls_per_s') },
  // A replicated service: the share of the calls that ended each side that were answered in time.
  { group: 'availability', name: 'availability', label: 'Availability', unit: '%', needs: ['calls_succeeded', 'calls_failed'], of: (rows) => 100 * ratio(sum(rows, ['calls_succeeded']), sum(rows, ['calls_succeeded', 'calls_failed'])) },
  // Loss: the share of the datagrams sent that the link dropped (any cause).
  { group: 'loss', name: 'loss_ratio', label: 'Loss', unit: '%', needs: ['wire_tx_packets', ...FWD_DROPS], of: (rows) => 100 * ratio(sum(rows, FWD_DROPS), sum(rows, ['wire_tx_packets'])) },
  { group: 'loss', name: 'loss_ratio', label: 'Loss', unit: '%', needs: ['sent_packets', ...LINK_DROPS], of: (rows) => 100 * ratio(sum(rows, LINK_DROPS), sum(rows, ['sent_packets'])) },
  { group: 'loss', name: 'loss_ratio', label: 'Loss', unit: '%', needs: ['transmissions', 'fwd_drops'], of: (rows) => 100 * ratio(sum(rows, ['fwd_drops']), sum(rows, ['transmissions'])) },
  { group: 'retransmissions', name: 'retransmits_per_s', label: 'Retransmissions', unit: '/s', needs: ['retransmits_timeout', 'retransmits_fast'], of: (rows, s) => ratio(sum(rows, ['retransmits_timeout', 'retransmits_fast']), s) },
  { group: 'retransmissions', name: 'retransmits_per_s', label: 'Retransmissions', unit: '/s', needs: ['retransmissions'], of: (rows, s) => ratio(sum(rows, ['retransmissions']), s) },
  { group: 'rtt', name: 'rtt_ms', label: 'RTT', unit: 'ms', needs: ['srtt_ms'], of: (rows) => meanOf(rows, 'srtt_ms') },
  { group: 'rtt', name: 'rtt_ms', label: 'Call latency', unit: 'ms', needs: ['latency_mean_ms'], of: (rows) => meanOf(rows, 'latency_mean_ms') },
];

/**
 * The effect of a change at `atS` from a trial's samples (in time order; each sample covers the
 * interval that ends at its time_s, counters are per interval): the samples that end in
 * (atS - windowS, atS] are before, those in (atS, atS + windowS] after.
 */
export function changeEffect(samples: readonly MetricRow[], atS: number, windowS: number): ChangeEffect {
  const before: MetricRow[] = [];
  const after: MetricRow[] = [];
  let beforeS = 0;
  let afterS = 0;
  let prevT = 0;
  for (const r of samples) {
    const t = r.time_s ?? Number.NaN;
    if (!Number.isFinite(t)) continue;
    const span = Math.max(0, t - prevT);
    prevT = t;
    if (t > atS - windowS && t <= atS) {
      before.push(r);
      beforeS += span;
    } else if (t > atS && t <= atS + windowS) {
      after.push(r);
      afterS += span;
    }
  }
  const have = samples.length === 0 ? new Set<string>() : new Set(Object.keys(samples[0]!));
  const figures: EffectFigure[] = [];
  const groups = new Set<FigureDef['group']>();
  for (const f of FIGURES) {
    if (groups.has(f.group) || !f.needs.every((c) => have.has(c))) continue;
    groups.add(f.group);
    figures.push({ name: f.name, label: f.label, unit: f.unit, before: f.of(before, beforeS), after: f.of(after, afterS) });
  }
  return { atS, windowS, beforeS, afterS, figures };
}

/** A figure's value as people read it (SI prefixes for bit/s). */
export function effectValueText(v: number, unit: EffectFigure['unit']): string {
  if (!Number.isFinite(v)) return '—';
  if (unit === 'bit/s') {
    for (const [p, d] of [['G', 1e9], ['M', 1e6], ['k', 1e3]] as const) if (Math.abs(v) >= d) return `${Number((v / d).toPrecision(3))} ${p}bit/s`;
    return `${Number(v.toPrecision(3))} bit/s`;
  }
  if (unit === '%') return `${Number(v.toPrecision(3))}%`;
  return `${Number(v.toPrecision(3))} ${unit}`;
}

/** "Goodput 4.1 Mbit/s → 8.2 Mbit/s; Loss 1.2% → 0.3% (2 s before and after)". */
export function effectText(e: ChangeEffect): string {
  const parts = e.figures.map((f) => `${f.label} ${effectValueText(f.before, f.unit)} → ${effectValueText(f.after, f.unit)}`);
  const span = Math.abs(e.afterS - e.windowS) < 1e-9 && Math.abs(e.beforeS - e.windowS) < 1e-9 ? `${e.windowS} s before and after` : `${Number(e.beforeS.toFixed(2))} s before, ${Number(e.afterS.toFixed(2))} s after`;
  return `${parts.join('; ')} (${span})`;
}

/** The figures as `name=value` pairs, space-separated (events.csv's before and after columns). */
export function effectValues(e: ChangeEffect, side: 'before' | 'after'): string {
  return e.figures.map((f) => `${f.name}=${Number.isFinite(f[side]) ? Number(f[side].toPrecision(6)) : 'NaN'}`).join(' ');
}
