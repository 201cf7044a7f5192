// The deterministic discrete-event driver. Virtual time jumps from one deadline to the next;
// endpoints and links are the same sans-IO code the UDP driver runs, and every random choice comes
// from seeded generators, so one seed gives one result, byte for byte.

import type { Endpoint, Ticker } from '../endpoint.js';
import type { Link } from '../impair/link.js';

/** Picks the link a datagram from `from` to `to` travels on. */
export type Router = (from: number, to: number) => Link;

/** Where the simulator stops. */
export interface RunLimit {
  /** Virtual time limit in ms. */
  untilMs?: number;
  /** Stop once this returns true (checked after every instant). */
  stop?: () => boolean;
  /** Most packet events to process (a safety net for runaway runs). */
  maxEvents?: number;
}

const MAX_ITERATIONS_AT_ONE_INSTANT = 1_000_000;

/** One event of a stepped run (Simulator.step). */
export type SimStep =
  | { kind: 'send'; now: number; from: number; to: number; bytes: Uint8Array }
  | { kind: 'deliver'; now: number; from: number; to: number; bytes: Uint8Array }
  | { kind: 'timer'; now: number; host: number };

// Where a stepped run is within one instant: the same order run() follows.
const FLUSH = 0;
const DELIVER = 1;
const TIMERS = 2;
const TICKERS = 3;

/** Runs endpoints (host i has address i) over links in virtual time. */
export class Simulator {
  /** Virtual time in ms. */
  now = 0;
  /** Packet events so far: datagrams sent, datagrams delivered, timers fired. */
  events = 0;
  private readonly tickers: Ticker[] = [];
  private readonly hostDeadlines: Float64Array;

  constructor(
    private readonly hosts: readonly Endpoint[],
    private readonly links: readonly Link[],
    private readonly route: Router,
  ) {
    this.hostDeadlines = new Float64Array(hosts.length);
  }

  /** Adds something that only needs time (sampler, schedule); tickers fire after the hosts. */
  addTicker(t: Ticker): void {
    this.tickers.push(t);
  }

  /** Earliest deadline of any host, link or ticker, or null when nothing is pending. */
  nextDeadline(): number | null {
    let min = Number.POSITIVE_INFINITY;
    const hd = this.hostDeadlines;
    for (let i = 0; i < this.hosts.length; i++) {
      const t = this.hosts[i]!.pollTimeout();
      hd[i] = t ?? Number.POSITIVE_INFINITY;
      if (t !== null && t < min) min = t;
    }
    for (const l of this.links) {
      const t = l.pollTimeout();
      if (t !== null && t < min) min = t;
    }
    for (const k of this.tickers) {
      const t = k.pollTimeout();
      if (t !== null && t < min) min = t;
    }
    return min === Number.POSITIVE_INFINITY ? null : min;
  }

  private phase = FLUSH;
  private cursor = 0;
  private sameInstantSteps = 0;

  /**
   * Does exactly one event: a datagram sent (and what the link did with it), one delivered, or one
   * host timer fired; tickers (samplers, schedules) run in between as they would in run(). Steps
   * follow run()'s order exactly, so stepping a run N times and then running it gives the same
   * result, byte for byte, as running it. Returns null when nothing is pending.
   */
  step(): SimStep | null {
    const hosts = this.hosts;
    for (;;) {
      const now = this.now;
      switch (this.phase) {
        case FLUSH: {
          while (this.cursor < hosts.length) {
            const i = this.cursor;
            const host = hosts[i]!;
            const dg = host.pollTransmit(now);
            if (dg !== null) {
              this.events++;
              const to = host.transmitTo;
              const copy = dg.slice();
              this.route(i, to).send(now, dg, i, to);
              return { kind: 'send', now, from: i, to, bytes: copy };
            }
            this.cursor++;
          }
          const next = this.nextDeadline();
          if (next === null) {
            this.cursor = 0;
            return null;
          }
          if (next <= now) {
            if (++this.sameInstantSteps > MAX_ITERATIONS_AT_ONE_INSTANT) throw new Error(`simulator: no progress at t=${now} ms (a deadline is not being cleared)`);
          } else {
            this.sameInstantSteps = 0;
            this.now = next;
          }
          this.phase = DELIVER;
          this.cursor = 0;
          break;
        }
        case DELIVER: {
          while (this.cursor < this.links.length) {
            const link = this.links[this.cursor]!;
            const h = link.pollDeliver(now);
            if (h >= 0) {
              this.events++;
              const from = link.from(h);
              const to = link.to(h);
              const data = link.data(h);
              const copy = data.slice();
              hosts[to]!.handleDatagram(now, data, from);
              link.release(h);
              return { kind: 'deliver', now, from, to, bytes: copy };
            }
            this.cursor++;
          }
          this.phase = TIMERS;
          this.cursor = 0;
          break;
        }
        case TIMERS: {
          const hd = this.hostDeadlines;
          while (this.cursor < hosts.length) {
            const i = this.cursor++;
            if (hd[i]! <= now) {
              this.events++;
              hosts[i]!.handleTimeout(now);
              return { kind: 'timer', now, host: i };
            }
          }
          this.phase = TICKERS;
          break;
        }
        default: {
          for (const k of this.tickers) {
            const t = k.pollTimeout();
            if (t !== null && t <= now) k.handleTimeout(now);
          }
          this.phase = FLUSH;
          this.cursor = 0;
        }
      }
    }
  }

  /** Finishes an instant a stepped run left halfway, so that run() starts where it would. */
  private finishInstant(): void {
    while (this.phase !== FLUSH) {
      if (this.step() === null) return;
    }
    this.cursor = 0;
  }

  /** Runs until a limit is reached or nothing is pending. Returns why it stopped. */
  run(limit: RunLimit = {}): 'idle' | 'time' | 'stopped' | 'max-events' {
    if (this.phase !== FLUSH) this.finishInstant();
    const until = limit.untilMs ?? Number.POSITIVE_INFINITY;
    const maxEvents = limit.maxEvents ?? Number.POSITIVE_INFINITY;
    const stop = limit.stop;
    let sameInstant = 0;
    for (;;) {
      this.flush();
      if (stop !== undefined && stop()) return 'stopped';
      if (this.events >= maxEvents) return 'max-events';
      const next = this.nextDeadline();
      if (next === null) return 'idle';
      if (next > until) {
        this.now = until;
        return 'time';
      }
      if (next <= this.now) {
        if (++sameInstant > MAX_ITERATIONS_AT_ONE_INSTANT) {
          throw new Error(`simulator: no progress at t=${this.now} ms (a deadline is not being cleared)`);
        }
      } else {
        sameInstant = 0;
        this.now = next;
      }
      this.fire(this.now);
    }
  }

  /**
   * Delivers what has arrived and fires due timers at `now` (one instant). Host deadlines come from
   * the nextDeadline() call just before; a timer a delivery sets for this same instant fires on
   * the next pass, still at `now`.
   */
  private fire(now: number): void {
    for (const link of this.links) {
      for (let h = link.pollDeliver(now); h >= 0; h = link.pollDeliver(now)) {
        this.events++;
        this.hosts[link.to(h)]!.handleDatagram(now, link.data(h), link.from(h));
        link.release(h);
      }
    }
    const hd = this.hostDeadlines;
    for (let i = 0; i < this.hosts.length; i++) {
      if (hd[i]! <= now) {
        this.events++;
        this.hosts[i]!.handleTimeout(now);
      }
    }
    for (const k of this.tickers) {
      const t = k.pollTimeout();
      if (t !== null && t <= now) k.handleTimeout(now);
    }
  }

  /** Moves every datagram the hosts want to send onto its link. */
  private flush(): void {
    const now = this.now;
    for (let i = 0; i < this.hosts.length; i++) {
      const host = this.hosts[i]!;
      for (let dg = host.pollTransmit(now); dg !== null; dg = host.pollTransmit(now)) {
        this.events++;
        const to = host.transmitTo;
        this.route(i, to).send(now, dg, i, to);
      }
    }
  }
}
