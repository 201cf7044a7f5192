// The replicas' coordinator, sans-IO: the binder clients ask for the replica list (portmapper
// version 2 and rpcbind version 4's GETADDRLIST, directory.ts) and, with primary-backup
// replication, the view service that decides who is primary (the design of MIT 6.824's
// viewservice, for any number of backups).
//
// Replicas ping it every pingIntervalMs with the view number they hold. A replica not heard for
// deadMs (the detection time), or that pings with view 0 (it restarted and lost its place), is
// dead. The view changes only once the primary has confirmed the current one (pinged with its
// number), which it does once every backup of it holds its state: so a backup it promotes always
// holds every write the primary acknowledged. When the primary is dead the lowest-numbered live
// backup takes over; dead backups leave the view; live replicas outside it join as backups.

import type { Endpoint } from '../../endpoint.js';
import { Fifo } from '../../util/fifo.js';
import type { RpcProgramVersion } from '../program.js';
import { RpcServerEngine } from '../server.js';
import { ReplType, emitRepl, parseRepl } from './wire.js';

/** A view: its number, the primary (-1: none) and the backups (a bit per replica). */
export interface View {
  viewnum: number;
  primary: number;
  backups: number;
}

/** How the coordinator is set up. */
export interface CoordinatorOptions {
  /** Addresses of the replicas, by number. */
  replicas: readonly number[];
  /** Run the view service (primary-backup). */
  viewService: boolean;
  /** A replica not heard for this long is dead. */
  deadMs: number;
  /** How often it looks for dead replicas. */
  pingIntervalMs: number;
  /** The binder's programs (portmapper, rpcbind version 4). */
  programs: readonly RpcProgramVersion[];
}

/** A change of view, for events.csv. */
export interface ViewChange {
  atMs: number;
  view: View;
  why: string;
}

/** The coordinator host. */
export class Coordinator implements Endpoint {
  /** The binder's RPC server. */
  readonly server: RpcServerEngine;
  transmitTo = 0;
  /** View service messages sent. */
  messagesSent = 0;
  private view: View;
  private acked = true;
  private readonly lastPingMs: number[];
  private readonly restarted: boolean[];
  private readonly heard: boolean[];
  private readonly outBytes = new Fifo<Uint8Array>();
  private readonly outTo = new Fifo<number>();
  private readonly changes = new Fifo<ViewChange>();
  private nextCheckMs = 0;

  constructor(private readonly o: CoordinatorOptions) {
    this.server = new RpcServerEngine({ programs: o.programs, drc: { enabled: false, maxEntries: 1, maxAgeMs: 1 } });
    const n = o.replicas.length;
    // View 1: replica 1 primary, all others backups; all start empty, so they are in step and it is confirmed.
    this.view = { viewnum: 1, primary: 0, backups: ((1 << n) - 1) & ~1 };
    this.lastPingMs = o.replicas.map(() => 0);
    this.restarted = o.replicas.map(() => false);
    this.heard = o.replicas.map(() => false);
  }

  /** The current view. */
  get current(): View {
    return { ...this.view };
  }

  /** The next change of view, or null. */
  pollViewChange(): ViewChange | null {
    return this.changes.shift() ?? null;
  }

  handleDatagram(now: number, bytes: Uint8Array, from: number): void {
    const r = this.o.replicas.indexOf(from);
    if (r < 0) {
      this.server.handleMessage(now, bytes, from, this.server);
      return;
    }
    if (!this.o.viewService) return;
    const m = parseRepl(bytes);
    if (m === null || m.type !== ReplType.PING) return;
    this.lastPingMs[r] = now;
    this.heard[r] = true;
    const inView = r === this.view.primary || ((this.view.backups >> r) & 1) === 1;
    if (m.viewnum === 0 && inView) this.restarted[r] = true;
    else if (m.viewnum !== 0) this.restarted[r] = false;
    if (r === this.view.primary && m.viewnum === this.view.viewnum) this.acked = true;
    this.check(now);
    this.send(from, emitRepl({ type: ReplType.VIEW, viewnum: this.view.viewnum, primary: this.view.primary, backups: this.view.backups }));
  }

  handleTimeout(now: number): void {
    if (now >= this.nextCheckMs) {
      this.nextCheckMs = now + this.o.pingIntervalMs;
      if (this.o.viewService) this.check(now);
    }
  }

  pollTransmit(): Uint8Array | null {
    const b = this.server.pollTransmit();
    if (b !== null) {
      this.transmitTo = this.server.transmitTo;
      return b;
    }
    if (this.outTo.length === 0) return null;
    this.transmitTo = this.outTo.shift()!;
    return this.outBytes.shift()!;
  }

  pollTimeout(): number | null {
    return this.o.viewService ? this.nextCheckMs : null;
  }

  private send(to: number, b: Uint8Array): void {
    this.messagesSent++;
    this.outBytes.push(b);
    this.outTo.push(to);
  }

  private alive(now: number, r: number): boolean {
    return now - this.lastPingMs[r]! <= this.o.deadMs && !this.restarted[r]!;
  }

  /** Moves the view on when a member died or a replica waits outside it, once the primary confirmed the current view. */
  private check(now: number): void {
    if (!this.acked) return;
    const v = this.view;
    const n = this.o.replicas.length;
    let { primary, backups } = v;
    let why = '';
    if (primary >= 0 && !this.alive(now, primary)) {
      const dead = primary;
      primary = -1;
      for (let b = 0; b < n; b++) {
        if ((backups >> b) & 1 && this.alive(now, b)) {
          primary = b;
          break;
        }
      }
      if (primary < 0) return;
      backups &= ~(1 << primary);
      why = `replica ${dead + 1} ${this.restarted[dead] ? 'restarted' : 'not heard for ' + this.o.deadMs + ' ms'}: replica ${primary + 1} takes over`;
    }
    for (let b = 0; b < n; b++) {
      const member = ((backups >> b) & 1) === 1;
      if (member && !this.alive(now, b)) {
        backups &= ~(1 << b);
        why ||= `replica ${b + 1} left the view`;
      } else if (!member && b !== primary && this.alive(now, b) && this.heard[b]!) {
        backups |= 1 << b;
        why ||= `replica ${b + 1} joins as a backup`;
      }
    }
    if (primary === v.primary && backups === v.backups) return;
    for (let b = 0; b < n; b++) if (!((backups >> b) & 1) && b !== primary) this.restarted[b] = false;
    this.view = { viewnum: v.viewnum + 1, primary, backups };
    this.acked = false;
    this.changes.push({ atMs: now, view: { ...this.view }, why });
  }
}
