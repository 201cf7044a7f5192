// Failures a user causes to a replica, like impairment to a link: a crash (its memory lost or
// kept), a restart (which takes a settable time), a partition (all its traffic dropped) and a
// slowdown (extra service time). A schedule of them is a list of timed faults; `parseFaultAt`
// reads the command line's form of one ("2s:1", "1500ms:2").

/** What a crash does to the replica's memory: its state and duplicate request cache are lost, or kept (a process that comes back from disk). */
export type CrashMemory = 'lost' | 'kept';

/** Fault actions, in the order the docs list them. */
export const FAULT_ACTIONS = ['crash', 'restart', 'partition', 'heal', 'slow'] as const;
/** One fault action. */
export type FaultActionName = (typeof FAULT_ACTIONS)[number];

/** A fault applied to one replica. */
export type ReplicaFault =
  | { action: 'crash'; memory: CrashMemory }
  /** Starts the replica again: it answers after the restart delay. */
  | { action: 'restart' }
  /** Drops every datagram to and from the replica until `heal`. */
  | { action: 'partition' }
  | { action: 'heal' }
  /** Adds extraMs of service time to each of its replies (0: back to normal). */
  | { action: 'slow'; extraMs: number };

/** A fault at a time of the run. */
export interface TimedFault {
  atMs: number;
  /** Replica number, from 1. */
  replica: number;
  fault: ReplicaFault;
}

/** The life of a replica's process. */
export type ReplicaLife = { state: 'up' } | { state: 'crashed'; memory: CrashMemory } | { state: 'restarting'; upAtMs: number };

/** What a panel shows of a replica: up, crashed, restarting or partitioned. */
export type ReplicaStateName = 'up' | 'crashed' | 'restarting' | 'partitioned';

/** Words of a fault, for events.csv. */
export function faultText(f: ReplicaFault): string {
  switch (f.action) {
    case 'crash':
      return `crash (memory ${f.memory})`;
    case 'slow':
      return f.extraMs === 0 ? 'slow off' : `slow (+${f.extraMs} ms per reply)`;
    default:
      return f.action;
  }
}

/**
 * The extra service time a fault's text (faultText) sets: the milliseconds of "slow (+N ms per
 * reply)", 0 for "slow off", null for a fault that is no slowdown. Readers of events.csv (the app's
 * replicas panel) take it from here, next to the text it reads.
 */
export function slowMsOfText(text: string): number | null {
  if (text === 'slow off') return 0;
  const m = /^slow \(\+(\d+(?:\.\d+)?) ms per reply\)$/.exec(text);
  return m === null ? null : Number(m[1]);
}

/**
 * Reads "TIME:REPLICA" (TIME in seconds when bare, or with ms or s: "2s:1", "1500ms:3", "0.5:2").
 * Returns the time in ms and the replica, or a sentence saying what is wrong.
 */
export function parseFaultAt(text: string, replicas: number): { atMs: number; replica: number } | string {
  const m = /^(\d+(?:\.\d+)?)(ms|s)?:(\d+)$/.exec(text.trim());
  if (m === null) return `"${text}" is not TIME:REPLICA (for example 2s:1, 1500ms:2)`;
  const atMs = Number(m[1]) * (m[2] === 'ms' ? 1 : 1000);
  const replica = Number(m[3]);
  if (replica < 1 || replica > replicas) return `"${text}" names replica ${replica}, but there ${replicas === 1 ? 'is 1 replica' : `are ${replicas} replicas`} (numbered from 1)`;
  return { atMs, replica };
}

/** What is wrong with a schedule of faults for a run of `replicas` replicas (empty when it is fine). */
export function faultScheduleProblems(faults: readonly TimedFault[], replicas: number): string[] {
  const out: string[] = [];
  for (const f of faults) {
    const at = `fault at ${f.atMs} ms on replica ${f.replica}`;
    if (!(f.atMs >= 0) || !Number.isFinite(f.atMs)) out.push(`${at}: the time must be a finite number of ms, 0 or more`);
    if (!Number.isInteger(f.replica) || f.replica < 1 || f.replica > replicas) out.push(`${at}: there is no replica ${f.replica} (replicas are numbered 1 to ${replicas})`);
    if (!(FAULT_ACTIONS as readonly string[]).includes(f.fault.action)) out.push(`${at}: unknown action ${String(f.fault.action)} (${FAULT_ACTIONS.join(', ')})`);
    if (f.fault.action === 'crash' && f.fault.memory !== 'lost' && f.fault.memory !== 'kept') out.push(`${at}: memory must be lost or kept`);
    if (f.fault.action === 'slow' && !(f.fault.extraMs >= 0 && f.fault.extraMs <= 600_000)) out.push(`${at}: extra service time must be from 0 to 600000 ms`);
  }
  return out;
}
