// Teaching mode of a simulator run: pause, resume, step one event at a time, pace to a multiple
// of real time, read both endpoints' state while paused, drop (or corrupt, duplicate, delay) a
// datagram in flight by hand, and load the spec back with those actions in its schedule so that
// the same run replays exactly.

import type { ApiParams, LabApi, SimStateInfo } from '../../../experiments/api/contract.js';
import { replaySpecText } from '../lib/replay.js';
import type { FlightAction, FlightItem } from '../lib/ladder.js';
import type { RunStore } from './run.svelte.js';

/** The speeds offered: virtual seconds per real second, or as fast as possible. */
export const SPEEDS: readonly { value: string; label: string }[] = [
  { value: '0.01', label: '1/100 real time' },
  { value: '0.1', label: '1/10 real time' },
  { value: '0.5', label: '1/2 real time' },
  { value: '1', label: '1x real time' },
  { value: '10', label: '10x real time' },
  { value: '100', label: '100x real time' },
  { value: 'max', label: 'As fast as possible' },
];

/** The delay a "Delay" adds when none is given, ms. */
export const DEFAULT_DELAY_MS = 100;

/** How long simState is retried after a paused start (the first trial attaches a moment later). */
const ATTACH_TRIES = 30;
const ATTACH_DELAY_MS = 100;

/** The teaching controls' state. */
export class TeachStore {
  /** The last simState, with the run it belongs to. */
  #state = $state.raw<{ runId: string; info: SimStateInfo } | null>(null);
  #error = $state<string | null>(null);
  #busy = $state(false);
  // Simulator runs started from the app go at real time: a hand can follow and steer them.
  #speed = $state('1');
  #message = $state<string | null>(null);

  constructor(
    private readonly api: LabApi,
    private readonly run: RunStore,
    private readonly sleep: (ms: number) => Promise<void> = (ms) => new Promise((r) => setTimeout(r, ms)),
  ) {}

  /** The controls work: a simulator run is going. */
  get enabled(): boolean {
    return this.run.running && this.run.simulator && this.run.runId !== null;
  }
  get paused(): boolean {
    return this.run.paused;
  }
  /** The last simState of the running run, or null. */
  get state(): SimStateInfo | null {
    const s = this.#state;
    return s !== null && s.runId === this.run.runId ? s.info : null;
  }
  /** The last refused teaching call. */
  get error(): string | null {
    return this.#error;
  }
  /** A call is on its way. */
  get busy(): boolean {
    return this.#busy;
  }
  /** A note about the last replay built. */
  get message(): string | null {
    return this.#message;
  }
  /** The speed chosen ('max' or a number as text). */
  get speed(): string {
    return this.#speed;
  }

  /** Clears the last error. */
  dismissError(): void {
    this.#error = null;
  }

  private async call(f: (runId: string) => Promise<{ ok: true } | { ok: false; error: string }>): Promise<boolean> {
    const id = this.run.runId;
    if (id === null || !this.enabled) return false;
    this.#busy = true;
    try {
      const r = await f(id);
      this.#error = r.ok ? null : r.error;
      return r.ok;
    } finally {
      this.#busy = false;
    }
  }

  /** Pauses the run, then reads the endpoints. */
  async pause(): Promise<boolean> {
    const ok = await this.call((runId) => this.api.pauseRun({ runId }));
    if (ok) {
      this.run.notePaused(true);
      await this.refresh();
    }
    return ok;
  }

  /** Resumes at the chosen speed. */
  async resume(): Promise<boolean> {
    const ok = await this.call((runId) => this.api.resumeRun({ runId }));
    if (ok) this.run.notePaused(false);
    return ok;
  }

  /** Takes n events, then reads the endpoints. */
  async step(steps = 1): Promise<boolean> {
    if (!this.paused) return false;
    const ok = await this.call((runId) => this.api.stepRun(steps === 1 ? { runId } : { runId, steps }));
    // The last event of a trial ends it: the next one attaches a moment later (or the run ends).
    if (ok) await this.refresh(3);
    return ok;
  }

  /** Chooses the speed; applied at once when a simulator run is going, else at the next start. */
  async setSpeed(value: string): Promise<boolean> {
    this.#speed = value;
    if (!this.enabled) return true;
    return this.applySpeed();
  }

  private applySpeed(): Promise<boolean> {
    const speed = this.#speed === 'max' ? ('max' as const) : Number(this.#speed);
    return this.call((runId) => this.api.setSpeed({ runId, speed }));
  }

  /** The pace a simulator run starts at (startRun's `speed`). */
  get startSpeed(): number | 'max' {
    return this.#speed === 'max' ? 'max' : Number(this.#speed);
  }

  /** After a start (at startSpeed): when paused, reads the endpoints once the trial is there. */
  async started(): Promise<void> {
    if (!this.enabled) return;
    this.#message = null;
    if (this.paused) await this.refresh(ATTACH_TRIES);
  }

  /** A new trial started: while paused, read its endpoints at time 0. */
  async trialStarted(): Promise<void> {
    if (this.enabled && this.paused) await this.refresh(ATTACH_TRIES, true);
  }

  /**
   * Reads the endpoints and datagrams in flight. `tries` > 1 retries a refusal (no trial yet);
   * a quiet read (polling while running) leaves the error alone.
   */
  async refresh(tries = 1, quiet = false): Promise<boolean> {
    for (let i = 0; i < tries; i++) {
      const id = this.run.runId;
      if (id === null || !this.enabled) return false;
      const r = await this.api.simState({ runId: id });
      if (r.ok) {
        if (this.run.runId === id) {
          this.#state = { runId: id, info: r.value };
          if (!quiet) this.#error = null;
        }
        return true;
      }
      if (i === tries - 1) {
        if (!quiet) this.#error = r.error;
        return false;
      }
      await this.sleep(ATTACH_DELAY_MS);
    }
    return false;
  }

  /** Drops (or corrupts, duplicates, delays by delayMs) a datagram in flight, then reads the endpoints again. */
  async act(d: FlightItem, action: FlightAction = 'drop', delayMs = DEFAULT_DELAY_MS): Promise<boolean> {
    const ok = await this.call((runId) => {
      const p: ApiParams<'packetAction'> = { runId, direction: d.direction, index: d.index, action };
      if (d.duplicate) p.duplicate = true;
      if (action === 'delay') p.delayMs = delayMs;
      return this.api.packetAction(p);
    });
    if (ok) await this.refresh();
    return ok;
  }

  /** Loads the spec of a finished run, with what was done by hand (datagrams, knobs) in the schedule, into the editor. */
  async replay(runId: string, load: (text: string, name: string) => void): Promise<boolean> {
    this.#busy = true;
    try {
      const r = await this.api.openRun({ runId });
      if (!r.ok) {
        this.#error = r.error;
        return false;
      }
      const out = replaySpecText(r.value.record);
      if (typeof out === 'string') {
        this.#error = out;
        return false;
      }
      load(out.text, out.name);
      this.#error = null;
      const done = [out.packets > 0 ? `${out.packets} datagram${out.packets === 1 ? '' : 's'} changed by hand` : null, out.faults > 0 ? `${out.faults} replica failure${out.faults === 1 ? '' : 's'} caused by hand` : null, out.changes > 0 ? `${out.changes} knob change${out.changes === 1 ? '' : 's'}` : null].filter((x) => x !== null);
      this.#message = `Loaded ${out.name} with ${done.join(' and ')} from ${runId} in its schedule${out.trials > 1 ? ` (the schedule applies to each of its ${out.trials} trials)` : ''}: press Start to replay it.`;
      return true;
    } finally {
      this.#busy = false;
    }
  }
}
