// One replica of a replicated RPC service, sans-IO: a simulated host that serves the lab's demo
// programs (the counter of counter.x and the key-value store of kv.x) through the RPC server
// engine, with a state of its own, and fails when the user says so.
//
// Faults (faults.ts): a crashed replica drops everything and sends nothing; its memory (state and
// duplicate request cache) is lost or kept; a restart brings it back after the restart delay. A
// partitioned replica runs but every datagram to or from it is dropped. A slow one holds each
// reply for the extra service time.

import type { Endpoint } from '../../endpoint.js';
import { Fifo } from '../../util/fifo.js';
import { CounterService } from '../programs/counter-server.js';
import { counterProgV1Server } from '../programs/counter.js';
import { KvService } from '../programs/kv-server.js';
import { KvStatus, kvProgV1Server } from '../programs/kv.js';
import type { RpcCallContext } from '../program.js';
import { RpcServerEngine, type DatagramReplyLimits, type ReplySink } from '../server.js';
import type { DrcConfig } from '../drc.js';
import type { ReplicaFault, ReplicaLife, ReplicaStateName } from './faults.js';

/** Ground truth the simulator keeps: every execution of a procedure that changes state, at any replica. */
export interface ExecutionLedger {
  /** Replica `replica` (from 0) executed procedure `proc` of program `prog` for request (client, xid). */
  executed(replica: number, client: number, xid: number, prog: number, proc: number, now: number): void;
}

/** Something that happened at a replica, for events.csv. */
export interface ReplicaEvent {
  atMs: number;
  /** Replica number, from 1. */
  replica: number;
  kind: 'up';
  detail: string;
}

/** How a replica is set up. */
export interface ReplicaOptions {
  /** Its number, from 0. */
  index: number;
  drc: DrcConfig;
  /** How long a restart takes. */
  restartDelayMs: number;
  datagramReplies: DatagramReplyLimits | null;
  ledger: ExecutionLedger | null;
}

/** Counters of a replica. */
export class ReplicaCounters {
  /** Client calls handed to the RPC server (its load). */
  callsServed = 0;
  /** Datagrams that arrived while it was crashed or restarting. */
  droppedWhileDown = 0;
  /** Datagrams dropped by a partition, both ways. */
  droppedPartitioned = 0;
}

/** What a replica keeps in memory: its state and its RPC server (with the duplicate request cache). */
class Memory {
  readonly counter = new CounterService();
  readonly kv = new KvService();
  server!: RpcServerEngine;
}

/** One replica host. */
export class ReplicaHost implements Endpoint, ReplySink {
  readonly counters = new ReplicaCounters();
  transmitTo = 0;
  private life: ReplicaLife = { state: 'up' };
  private partitioned = false;
  private slowMs = 0;
  private mem = new Memory();
  // Datagrams to send, with the time each may leave (replies of a slow replica wait).
  private readonly outBytes = new Fifo<Uint8Array>();
  private readonly outTo = new Fifo<number>();
  private readonly outAt = new Fifo<number>();
  private lastOutAtMs = 0;
  private readonly events = new Fifo<ReplicaEvent>();
  private now = 0;

  constructor(private readonly o: ReplicaOptions) {
    this.mem.server = this.newServer();
  }

  /** Its number, from 0. */
  get index(): number {
    return this.o.index;
  }

  /** What a panel shows. */
  get stateName(): ReplicaStateName {
    if (this.life.state !== 'up') return this.life.state;
    return this.partitioned ? 'partitioned' : 'up';
  }

  /** The counter and the store it holds now (ground truth for tests). */
  get counterValue(): bigint {
    return this.mem.counter.value;
  }

  /** The key-value service it holds now. */
  get store(): KvService {
    return this.mem.kv;
  }

  /** The RPC server engine of its current memory. */
  get server(): RpcServerEngine {
    return this.mem.server;
  }

  /** The next event of the replica, or null. */
  pollEvent(): ReplicaEvent | null {
    return this.events.shift() ?? null;
  }

  /** Applies a fault now. Returns the state it leaves the replica in, or why it does not apply. */
  applyFault(now: number, f: ReplicaFault): { ok: true; before: ReplicaStateName; after: ReplicaStateName } | { ok: false; why: string } {
    const before = this.stateName;
    switch (f.action) {
      case 'crash':
        if (this.life.state === 'crashed') return { ok: false, why: 'it is crashed already' };
        this.life = { state: 'crashed', memory: f.memory };
        this.clearQueue();
        if (f.memory === 'lost') {
          this.mem = new Memory();
          this.mem.server = this.newServer();
        }
        break;
      case 'restart':
        if (this.life.state !== 'crashed') return { ok: false, why: `it is ${this.life.state}, not crashed` };
        this.life = { state: 'restarting', upAtMs: now + this.o.restartDelayMs };
        if (this.o.restartDelayMs === 0) this.comeUp(now);
        break;
      case 'partition':
        if (this.partitioned) return { ok: false, why: 'it is partitioned already' };
        this.partitioned = true;
        break;
      case 'heal':
        if (!this.partitioned) return { ok: false, why: 'it is not partitioned' };
        this.partitioned = false;
        break;
      case 'slow':
        this.slowMs = f.extraMs;
        break;
    }
    return { ok: true, before, after: this.stateName };
  }

  private comeUp(now: number): void {
    this.life = { state: 'up' };
    this.events.push({ atMs: now, replica: this.o.index + 1, kind: 'up', detail: 'restarted: answering again' });
  }

  private newServer(): RpcServerEngine {
    const mem = (): Memory => this.mem;
    const counter = counterProgV1Server({
      increment: (by, ctx) => {
        const v = mem().counter.increment(by, ctx);
        this.wrote(ctx);
        return v;
      },
      get: () => mem().counter.get(),
      reset: (ctx) => {
        mem().counter.value = 0n;
        this.wrote(ctx);
      },
      echo: (p) => p,
    });
    const kv = kvProgV1Server({
      kvPut: (a, ctx) => {
        const r = mem().kv.kvPut(a);
        if (r.status === KvStatus.KV_OK) this.wrote(ctx);
        return r;
      },
      kvGet: (k) => mem().kv.kvGet(k),
      kvDelete: (k, ctx) => {
        const had = mem().kv.kvDelete(k);
        if (had) this.wrote(ctx);
        return had;
      },
      kvList: (p) => mem().kv.kvList(p),
      kvGetMany: (k) => mem().kv.kvGetMany(k),
    });
    return new RpcServerEngine({ programs: [counter, kv], drc: this.o.drc, datagramReplies: this.o.datagramReplies });
  }

  /** A handler changed state: note it in the ledger. */
  private wrote(ctx: RpcCallContext): void {
    this.o.ledger?.executed(this.o.index, ctx.peer, ctx.xid, ctx.program, ctx.procedure, ctx.now);
  }

  // ---------------------------------------------------------------- Endpoint

  handleDatagram(now: number, bytes: Uint8Array, from: number): void {
    this.now = now;
    if (this.life.state !== 'up') {
      this.counters.droppedWhileDown++;
      return;
    }
    if (this.partitioned) {
      this.counters.droppedPartitioned++;
      return;
    }
    this.counters.callsServed++;
    this.mem.server.handleMessage(now, bytes, from, this);
  }

  handleTimeout(now: number): void {
    this.now = now;
    if (this.life.state === 'restarting' && now >= this.life.upAtMs) this.comeUp(now);
  }

  pollTransmit(now: number): Uint8Array | null {
    while (this.outAt.length > 0 && this.outAt.peek()! <= now) {
      this.outAt.shift();
      const to = this.outTo.shift()!;
      const b = this.outBytes.shift()!;
      if (this.partitioned) {
        this.counters.droppedPartitioned++;
        continue;
      }
      this.transmitTo = to;
      return b;
    }
    return null;
  }

  pollTimeout(): number | null {
    let t = Number.POSITIVE_INFINITY;
    if (this.life.state === 'restarting') t = this.life.upAtMs;
    else if (this.life.state === 'up') {
      if (this.outAt.length > 0) t = this.outAt.peek()!;
    }
    return t === Number.POSITIVE_INFINITY ? null : t;
  }

  private queue(bytes: Uint8Array, to: number, atMs: number): void {
    // Datagrams leave in order: a reply held by a slow replica holds the ones behind it.
    const at = Math.max(atMs, this.lastOutAtMs);
    this.lastOutAtMs = at;
    this.outBytes.push(bytes);
    this.outTo.push(to);
    this.outAt.push(at);
  }

  private clearQueue(): void {
    while (this.outAt.length > 0) {
      this.outAt.shift();
      this.outTo.shift();
      this.outBytes.shift();
    }
    this.lastOutAtMs = 0;
  }

  // ---------------------------------------------------------------- replies (ReplySink of the RPC server)

  /** A reply of the RPC server: sent after the extra service time. */
  sendReply(bytes: Uint8Array, to: number, stable = false): void {
    this.queue(stable ? bytes : bytes.slice(), to, this.now + this.slowMs);
  }
}
