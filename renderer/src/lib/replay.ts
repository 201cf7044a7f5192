// "Replay with my drops": the spec a run ran with (run.json's `spec`, defaults and overrides
// applied), with the datagrams dropped, corrupted, duplicated or delayed by hand (and the knobs
// changed by hand) added to its schedule. A packet step names the datagram by its index on the
// link, so the replay, with the same seed, does the same to the very same one
// (experiments/spec.ts, schedule[].packet).

/** What was done by hand to a datagram, as run.json keeps it. */
interface PacketChange {
  direction?: unknown;
  index?: unknown;
  duplicate?: unknown;
  action?: unknown;
  delayMs?: unknown;
}

/** A change made by hand during a run, as run.json keeps it. */
interface LiveChange {
  point?: number;
  repetition?: number;
  atS?: number;
  knob?: string;
  value?: unknown;
  source?: string;
  packet?: PacketChange;
  /** A failure caused to a replica (rpc-replicas; knob 'fault'): a schedule step's `fault`. */
  fault?: { replica?: unknown; action?: unknown; memory?: unknown; extraMs?: unknown };
  /** Runs of an earlier version kept drops alone under this name. */
  drop?: PacketChange;
}

const ACTIONS = new Set(['drop', 'corrupt', 'duplicate', 'delay']);

/** A schedule step's `packet`, or null when the record's entry is malformed. */
function packetStep(p: PacketChange): Record<string, unknown> | null {
  if ((p.direction !== 'forward' && p.direction !== 'reverse') || typeof p.index !== 'number') return null;
  const action = p.action ?? 'drop';
  if (typeof action !== 'string' || !ACTIONS.has(action)) return null;
  if (action === 'delay' && typeof p.delayMs !== 'number') return null;
  return { direction: p.direction, index: p.index, duplicate: p.duplicate === true, action, ...(action === 'delay' ? { delayMs: p.delayMs } : {}) };
}

const DONE: Record<string, string> = { drop: 'dropped', corrupt: 'corrupted', duplicate: 'duplicated', delay: 'delayed' };

/** Most schedule steps a spec may have (experiments/spec.ts). */
const SCHEDULE_MAX = 1000;

/** The replay spec as JSON text, with what went into it (datagrams, knob changes); or why there is none. */
export function replaySpecText(record: unknown): { text: string; name: string; packets: number; faults: number; changes: number; trials: number } | string {
  const r = record as { id?: unknown; spec?: unknown; liveChanges?: unknown; points?: unknown } | null;
  if (r === null || typeof r !== 'object' || r.spec === null || typeof r.spec !== 'object') return "the run's record has no spec to replay";
  const spec = structuredClone(r.spec) as Record<string, unknown>;
  const changes = Array.isArray(r.liveChanges) ? (r.liveChanges as LiveChange[]) : [];
  // Steps of an earlier version's drops (`drop`) are written the way the spec takes them now.
  const schedule: Record<string, unknown>[] = (Array.isArray(spec.schedule) ? (spec.schedule as Record<string, unknown>[]) : []).map((step) => {
    if (step.drop === undefined) return step;
    const { drop, ...rest } = step;
    const packet = packetStep(drop as PacketChange);
    return packet === null ? rest : { ...rest, packet };
  });
  const runId = typeof r.id === 'string' ? r.id : 'the run';
  let packets = 0;
  let faults = 0;
  let sets = 0;
  for (const c of changes) {
    const atS = typeof c.atS === 'number' && Number.isFinite(c.atS) ? Math.max(0, c.atS) : 0;
    // A change by hand was made in one trial: it replays in that trial, not in every one of a sweep.
    const trial = Number.isInteger(c.point) && Number.isInteger(c.repetition) && c.point! >= 0 && c.repetition! >= 0 ? { trial: { point: c.point, repetition: c.repetition } } : {};
    const p = c.packet ?? c.drop;
    if (p !== undefined && p !== null) {
      const packet = packetStep(p);
      if (packet === null) continue;
      schedule.push({ atS, packet, ...trial, note: `${DONE[packet.action as string]} by hand in ${runId}` });
      packets++;
    } else if (c.knob === 'fault') {
      // A replica crashed (restarted, partitioned, slowed) by hand replays as a fault step.
      const f = c.fault;
      if (f === undefined || f === null || typeof f.replica !== 'number' || typeof f.action !== 'string') continue;
      schedule.push({ atS, fault: { ...f }, ...trial, note: `caused by hand in ${runId}` });
      faults++;
    } else if (c.source === 'user' && typeof c.knob === 'string' && c.knob !== 'drop' && c.knob !== 'packet' && (typeof c.value === 'number' || typeof c.value === 'string' || typeof c.value === 'boolean')) {
      schedule.push({ atS, set: { [c.knob]: c.value }, ...trial, note: `changed by hand in ${runId}` });
      sets++;
    }
  }
  if (packets === 0 && faults === 0) return 'the run has no datagrams dropped or changed by hand, and no replica failed by hand';
  if (schedule.length > SCHEDULE_MAX) return `the replay would have ${schedule.length} schedule steps (at most ${SCHEDULE_MAX})`;
  // Steps in time order; those at the same time keep their order.
  spec.schedule = schedule.map((s, i) => ({ s, i })).sort((a, b) => (a.s.atS as number) - (b.s.atS as number) || a.i - b.i).map((x) => x.s);
  // Actions by hand on datagrams exist only in the simulator.
  spec.network = 'sim';
  const points = Array.isArray(r.points) ? r.points.length : 1;
  const reps = typeof spec.repetitions === 'number' ? spec.repetitions : 1;
  const name = typeof spec.name === 'string' ? spec.name : 'replay';
  return { text: `${JSON.stringify(spec, null, 2)}\n`, name, packets, faults, changes: sets, trials: Math.max(1, points) * reps };
}
