// The effect of each change of a trial (a live change, a schedule step): once the trial has run
// `windowS` seconds past the change (or ended), an `effect` event with the figures before and
// after it (core/metrics/effects.ts) follows the change in events.csv and on the charts.

import { changeEffect, effectText, effectValues } from '../../core/metrics/effects.js';
import type { MetricRow } from '../../core/metrics/registry.js';
import type { TrialEvent } from './trial.js';

/** The default span before and after a change, s. */
export const DEFAULT_EFFECT_WINDOW_S = 2;
/** The span's range, s. */
export const EFFECT_WINDOW_RANGE_S = { min: 0.5, max: 60 } as const;

/** How late (in trial time) a change's event may come after the samples that follow it, s. */
const LATE_S = 30;

/** Follows one trial's samples and changes, and emits an effect per change time. */
export class EffectTracker {
  private readonly samples: MetricRow[] = [];
  /** Changes waiting for their after-window; changes at the same time share one effect. */
  private readonly pending: { atS: number; knobs: string[]; labels: string[] }[] = [];

  constructor(
    private readonly windowS: number,
    private readonly emit: (e: TrialEvent) => void,
  ) {}

  /**
   * An event of the trial: a `set` starts a wait for its effect. A change's event may come after
   * samples beyond it (the simulator runs a slice before the change's promise settles): samples
   * are kept LATE_S beyond the window for that.
   */
  event(e: TrialEvent): void {
    // Knob changes and failures caused to a replica (rpc-replicas) alike.
    if ((e.kind !== 'set' && e.kind !== 'fault') || e.knob === undefined) return;
    const last = this.pending.at(-1);
    if (last !== undefined && Math.abs(last.atS - e.timeS) < 1e-9) {
      last.knobs.push(e.knob);
      last.labels.push(e.label ?? e.knob);
    } else this.pending.push({ atS: e.timeS, knobs: [e.knob], labels: [e.label ?? e.knob] });
    this.flushReady();
  }

  /** A sample of the trial: emits the effects whose after-window it completes. */
  sample(row: MetricRow): void {
    const t = row.time_s;
    if (t === undefined || !Number.isFinite(t)) return;
    this.samples.push(row);
    this.flushReady();
    // Keep what a change still to come (or still waiting) may need.
    const keepFrom = Math.min(t, this.pending[0]?.atS ?? t) - this.windowS - LATE_S;
    let drop = 0;
    while (drop < this.samples.length - 1 && this.samples[drop]!.time_s! < keepFrom) drop++;
    if (drop > 0) this.samples.splice(0, drop);
  }

  private flushReady(): void {
    const t = this.samples.at(-1)?.time_s ?? Number.NEGATIVE_INFINITY;
    while (this.pending.length > 0 && t >= this.pending[0]!.atS + this.windowS - 1e-9) this.flush(this.pending.shift()!);
  }

  /** The trial ended: the changes still waiting get an effect over the time there was. */
  end(): void {
    for (const p of this.pending.splice(0)) this.flush(p);
  }

  private flush(p: { atS: number; knobs: string[]; labels: string[] }): void {
    const e = changeEffect(this.samples, p.atS, this.windowS);
    if (e.figures.length === 0) return;
    this.emit({ timeS: p.atS, kind: 'effect', knob: p.knobs.join(' '), label: p.labels.join(', '), before: effectValues(e, 'before'), after: effectValues(e, 'after'), detail: effectText(e) });
  }
}
