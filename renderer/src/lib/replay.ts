// "Replay with my drops": the spec a run ran with (run.json's `spec`, defaults and overrides
// applied), with the datagrams dropped by hand (and the knobs changed by hand) added to its
// schedule. A drop step names the datagram by its index on the link, so the replay, with the same
// seed, drops the very same one (experiments/spec.ts, schedule[].drop).

/** A change made by hand during a run, as run.json keeps it. */
interface LiveChange {
  point?: number;
  repetition?: number;
  atS?: number;
  knob?: string;
  value?: unknown;
  source?: string;
  drop?: { direction?: unknown; index?: unknown; duplicate?: unknown };
}

/** Most schedule steps a spec may have (experiments/spec.ts). */
const SCHEDULE_MAX = 1000;

/** The replay spec as JSON text, with what went into it; or why there is none. */
export function replaySpecText(record: unknown): { text: string; name: string; drops: number; changes: number; trials: number } | string {
  const r = record as { id?: unknown; spec?: unknown; liveChanges?: unknown; points?: unknown } | null;
  if (r === null || typeof r !== 'object' || r.spec === null || typeof r.spec !== 'object') return "the run's record has no spec to replay";
  const spec = structuredClone(r.spec) as Record<string, unknown>;
  const changes = Array.isArray(r.liveChanges) ? (r.liveChanges as LiveChange[]) : [];
  const schedule: Record<string, unknown>[] = Array.isArray(spec.schedule) ? [...(spec.schedule as Record<string, unknown>[])] : [];
  const runId = typeof r.id === 'string' ? r.id : 'the run';
  let drops = 0;
  let sets = 0;
  for (const c of changes) {
    const atS = typeof c.atS === 'number' && Number.isFinite(c.atS) ? Math.max(0, c.atS) : 0;
    if (c.drop !== undefined && c.drop !== null) {
      const d = c.drop;
      if ((d.direction !== 'forward' && d.direction !== 'reverse') || typeof d.index !== 'number') continue;
      schedule.push({ atS, drop: { direction: d.direction, index: d.index, duplicate: d.duplicate === true }, note: `dropped by hand in ${runId}` });
      drops++;
    } else if (c.source === 'user' && typeof c.knob === 'string' && c.knob !== 'drop' && (typeof c.value === 'number' || typeof c.value === 'string' || typeof c.value === 'boolean')) {
      schedule.push({ atS, set: { [c.knob]: c.value }, note: `changed by hand in ${runId}` });
      sets++;
    }
  }
  if (drops === 0) return 'the run has no datagrams dropped by hand';
  if (schedule.length > SCHEDULE_MAX) return `the replay would have ${schedule.length} schedule steps (at most ${SCHEDULE_MAX})`;
  // Steps in time order; those at the same time keep their order.
  spec.schedule = schedule.map((s, i) => ({ s, i })).sort((a, b) => (a.s.atS as number) - (b.s.atS as number) || a.i - b.i).map((x) => x.s);
  // Drops by hand exist only in the simulator.
  spec.network = 'sim';
  const points = Array.isArray(r.points) ? r.points.length : 1;
  const reps = typeof spec.repetitions === 'number' ? spec.repetitions : 1;
  const name = typeof spec.name === 'string' ? spec.name : 'replay';
  return { text: `${JSON.stringify(spec, null, 2)}\n`, name, drops, changes: sets, trials: Math.max(1, points) * reps };
}
