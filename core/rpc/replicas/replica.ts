// One replica of a replicated RPC service, sans-IO: a simulated host that serves the lab's demo
// programs (the counter of counter.x and the key-value store of kv.x) through the RPC server
// engine, fails when the user says so, and, with primary-backup replication, keeps its state in
// step with the others.
//
// Faults (faults.ts): a crashed replica drops everything and sends nothing; its memory (state and
// duplicate request cache) is lost or kept; a restart brings it back after the restart delay. A
// partitioned replica runs but every datagram to or from it is dropped. A slow one holds each
// reply for the extra service time.
//
// Primary-backup follows the view service design (view-service.ts): replicas ping the view
// service every pingIntervalMs and learn the view (the primary and the backups) from its answers.
// The primary applies a write, forwards its effect (the counter's new value, a key's new entry)
// with a sequence number to every backup of the view, and replies only once all of them have
// acknowledged it; the duplicate request cache entry travels with the write when `replicateDrc`
// is set. Any other reply (a read) waits until every backup has confirmed that it is still their
// primary in that view: a primary deposed while partitioned believes it is primary until its next
// ping, and would otherwise serve stale reads. A backup takes writes, snapshots and confirmations
// only from the primary of the view it knows, and drops client calls. A primary confirms a view
// (pings with its number) only once every backup of it holds its state (a snapshot), so that the
// view service never promotes a backup that lacks an acknowledged write.

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
import { ReplType, emitRepl, parseRepl, type ReplDrcEntry, type ReplMessage, type ReplOp } from './wire.js';

/** How replicas share state: not at all, or primary-backup. */
export const REPLICATION_MODES = ['none', 'primary-backup'] as const;
/** One replication mode. */
export type ReplicationMode = (typeof REPLICATION_MODES)[number];

/** A replica's role in the view it knows. */
export type ReplicaRole = 'primary' | 'backup' | 'idle';

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
  kind: 'up' | 'role';
  detail: string;
}

/** How a replica is set up. */
export interface ReplicaOptions {
  /** Its number, from 0. */
  index: number;
  /** Addresses of every replica, by number. */
  replicas: readonly number[];
  /** Address of the view service (primary-backup). */
  viewService: number;
  mode: ReplicationMode;
  drc: DrcConfig;
  /** Primary-backup: the duplicate request cache entry of a write travels with it. */
  replicateDrc: boolean;
  /** Primary-backup: how often a replica pings the view service. */
  pingIntervalMs: number;
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
  /** Client calls a backup or idle replica dropped (primary-backup). */
  droppedNotPrimary = 0;
  /** Replication messages sent (pings, writes, acknowledgements, snapshots). */
  replicationMessages = 0;
  /** Replication messages that did not parse. */
  malformed = 0;
  /** Replies released after every backup acknowledged their write. */
  writesCommitted = 0;
}

/** What a replica keeps in memory: its state and its RPC server (with the duplicate request cache). */
class Memory {
  readonly counter = new CounterService();
  readonly kv = new KvService();
  /** Last write applied (primary-backup). */
  appliedSeq = 0;
  server!: RpcServerEngine;
}

/** A write the primary applied and has not answered yet: it waits for the backups' acknowledgements. */
interface PendingWrite {
  seq: number;
  /** The confirmation round every backup must have answered (reads), 0 for a write (its acknowledgement confirms). */
  confirm: number;
  to: number;
  xid: number;
  reply: Uint8Array;
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
  // The write the call being served made (set by the handlers, read by sendReply).
  private currentWrite: ReplOp | null = null;
  // The cache key of the call being served, read from its header (no object per call).
  private callClient = 0;
  private callXid = 0;
  private callProg = 0;
  private callVers = 0;
  private callProc = 0;
  private now = 0;
  // Primary-backup.
  private viewnum = 0;
  private ackedViewnum = 0;
  private primary = -1;
  private backups = 0;
  private role: ReplicaRole = 'idle';
  private nextPingMs = 0;
  /** Backups (bit per replica) that hold this primary's state; the rest get a snapshot. */
  private synced = 0;
  private readonly backupAcked: number[];
  private readonly lastSnapshotMs: number[];
  private readonly pending: PendingWrite[] = [];
  private readonly backupConfirmed: number[];
  private readonly lastAckMs: number[];
  private confirmRound = 0;
  private confirmSentAtMs = Number.NaN;

  constructor(private readonly o: ReplicaOptions) {
    this.backupAcked = o.replicas.map(() => 0);
    this.backupConfirmed = o.replicas.map(() => 0);
    this.lastAckMs = o.replicas.map(() => 0);
    this.lastSnapshotMs = o.replicas.map(() => Number.NEGATIVE_INFINITY);
    this.mem.server = this.newServer();
  }

  /** Starts primary-backup in view 1 (replica 1 the primary, every other a backup, all empty and so in step). */
  startInitialView(): void {
    if (this.o.mode !== 'primary-backup') return;
    this.viewnum = 1;
    this.ackedViewnum = 1;
    this.primary = 0;
    this.backups = ((1 << this.o.replicas.length) - 1) & ~1;
    this.synced = this.backups;
    this.role = this.o.index === 0 ? 'primary' : 'backup';
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

  /** Its role in the view it knows (primary-backup), 'primary' without replication. */
  get currentRole(): ReplicaRole {
    return this.o.mode === 'none' ? 'primary' : this.role;
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
        this.pending.length = 0;
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
    // A restarted process knows no view: it pings with view 0 and the view service treats it as new.
    this.viewnum = 0;
    this.ackedViewnum = 0;
    this.primary = -1;
    this.backups = 0;
    this.role = 'idle';
    this.synced = 0;
    this.nextPingMs = now;
    this.events.push({ atMs: now, replica: this.o.index + 1, kind: 'up', detail: 'restarted: answering again' });
  }

  private newServer(): RpcServerEngine {
    const mem = (): Memory => this.mem;
    const counter = counterProgV1Server({
      increment: (by, ctx) => {
        const v = mem().counter.increment(by, ctx);
        this.wrote(ctx, { kind: 'counter', value: v });
        return v;
      },
      get: () => mem().counter.get(),
      reset: (ctx) => {
        mem().counter.value = 0n;
        this.wrote(ctx, { kind: 'counter', value: 0n });
      },
      echo: (p) => p,
    });
    const kv = kvProgV1Server({
      kvPut: (a, ctx) => {
        const r = mem().kv.kvPut(a);
        if (r.status === KvStatus.KV_OK) this.wrote(ctx, { kind: 'kv', key: a.key, value: a.value, revision: r.revision });
        return r;
      },
      kvGet: (k) => mem().kv.kvGet(k),
      kvDelete: (k, ctx) => {
        const had = mem().kv.kvDelete(k);
        if (had) this.wrote(ctx, { kind: 'kv', key: k, value: new Uint8Array(0), revision: 0n });
        return had;
      },
      kvList: (p) => mem().kv.kvList(p),
      kvGetMany: (k) => mem().kv.kvGetMany(k),
    });
    return new RpcServerEngine({ programs: [counter, kv], drc: this.o.drc, datagramReplies: this.o.datagramReplies });
  }

  /** A handler changed state: note it for replication and for the ledger. */
  private wrote(ctx: RpcCallContext, op: ReplOp): void {
    this.currentWrite = op;
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
    if (from === this.o.viewService || this.o.replicas.includes(from)) {
      const m = parseRepl(bytes);
      if (m === null) this.counters.malformed++;
      else this.onRepl(now, m, from);
      return;
    }
    if (this.o.mode === 'primary-backup' && this.role !== 'primary') {
      this.counters.droppedNotPrimary++;
      return;
    }
    this.counters.callsServed++;
    this.currentWrite = null;
    if (bytes.length >= 24) {
      this.callClient = from;
      this.callXid = word(bytes, 0);
      this.callProg = word(bytes, 12);
      this.callVers = word(bytes, 16);
      this.callProc = word(bytes, 20);
    }
    this.mem.server.handleMessage(now, bytes, from, this);
    this.currentWrite = null;
  }

  handleTimeout(now: number): void {
    this.now = now;
    if (this.life.state === 'restarting' && now >= this.life.upAtMs) this.comeUp(now);
    if (this.life.state !== 'up' || this.o.mode !== 'primary-backup') return;
    if (now >= this.nextPingMs) {
      this.nextPingMs = now + this.o.pingIntervalMs;
      if (this.role === 'primary') this.resendSnapshots(now);
      this.sendRepl(this.o.viewService, { type: ReplType.PING, viewnum: this.role === 'primary' ? this.ackedViewnum : this.viewnum });
    }
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
      if (this.o.mode === 'primary-backup' && this.nextPingMs < t) t = this.nextPingMs;
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

  /** A reply of the RPC server: sent (after the extra service time), or held until the backups have its write. */
  sendReply(bytes: Uint8Array, to: number, stable = false): void {
    const reply = stable ? bytes : bytes.slice();
    const xid = xidOf(reply);
    if (this.o.mode === 'primary-backup') {
      if (this.currentWrite !== null) {
        const seq = ++this.mem.appliedSeq;
        const drc: ReplDrcEntry | null = this.o.replicateDrc ? { client: this.callClient, xid: this.callXid, prog: this.callProg, vers: this.callVers, proc: this.callProc, reply } : null;
        const op = this.currentWrite;
        this.currentWrite = null;
        for (let b = 0; b < this.o.replicas.length; b++) {
          if ((this.backups >> b) & 1) this.sendRepl(this.o.replicas[b]!, { type: ReplType.WRITE, viewnum: this.viewnum, seq, op, drc });
        }
        this.pending.push({ seq, confirm: 0, to, xid, reply });
        this.commitReady();
        return;
      }
      // A duplicate of a call still waiting for its backups: its reply goes out when that one does.
      if (this.isPending(to, xid)) return;
      if (this.role === 'primary' && this.backups !== 0) {
        // A read: answered once every backup confirms this is still their primary (one round per instant).
        this.pending.push({ seq: 0, confirm: this.confirmNow(), to, xid, reply });
        return;
      }
    }
    this.queue(reply, to, this.now + this.slowMs);
  }

  /** True when a reply to (to, xid) waits for the backups already. */
  private isPending(to: number, xid: number): boolean {
    const p = this.pending;
    for (let i = 0; i < p.length; i++) if (p[i]!.to === to && p[i]!.xid === xid) return true;
    return false;
  }

  /** Releases, in order, the replies whose writes every backup of the view holds. */
  private commitReady(): void {
    while (this.pending.length > 0) {
      const p = this.pending[0]!;
      for (let b = 0; b < this.o.replicas.length; b++) {
        if ((this.backups >> b) & 1 && (this.backupAcked[b]! < p.seq || this.backupConfirmed[b]! < p.confirm)) return;
      }
      this.pending.shift();
      this.counters.writesCommitted++;
      this.queue(p.reply, p.to, this.now + this.slowMs);
    }
  }

  // ---------------------------------------------------------------- replication protocol

  /** The confirmation round of reads arriving now: a new one, sent to every backup, unless one went out at this instant. */
  private confirmNow(): number {
    if (this.confirmSentAtMs !== this.now) this.sendConfirmRound();
    return this.confirmRound;
  }

  private sendConfirmRound(): void {
    this.confirmSentAtMs = this.now;
    const seq = ++this.confirmRound;
    for (let b = 0; b < this.o.replicas.length; b++) {
      if ((this.backups >> b) & 1) this.sendRepl(this.o.replicas[b]!, { type: ReplType.CONFIRM, viewnum: this.viewnum, seq });
    }
  }

  /** True when a message comes from the primary of the view this backup knows (writes, snapshots, confirmations). */
  private fromMyPrimary(sender: number, viewnum: number): boolean {
    return this.role === 'backup' && sender >= 0 && sender === this.primary && viewnum === this.viewnum;
  }

  private sendRepl(to: number, m: ReplMessage): void {
    this.counters.replicationMessages++;
    this.queue(emitRepl(m), to, this.now);
  }

  private onRepl(now: number, m: ReplMessage, from: number): void {
    if (this.o.mode !== 'primary-backup') return;
    const sender = this.o.replicas.indexOf(from);
    switch (m.type) {
      case ReplType.VIEW:
        if (from === this.o.viewService && m.viewnum > this.viewnum) this.adoptView(now, m.viewnum, m.primary, m.backups);
        return;
      case ReplType.WRITE:
        if (!this.fromMyPrimary(sender, m.viewnum)) return;
        if (m.seq <= this.mem.appliedSeq) {
          this.sendRepl(from, { type: ReplType.ACK, viewnum: m.viewnum, seq: this.mem.appliedSeq });
        } else if (m.seq === this.mem.appliedSeq + 1 && this.holdsStateOf(sender, m.viewnum)) {
          this.apply(now, m.op, m.drc);
          this.mem.appliedSeq = m.seq;
          this.sendRepl(from, { type: ReplType.ACK, viewnum: m.viewnum, seq: m.seq });
        } else {
          this.sendRepl(from, { type: ReplType.RESYNC, viewnum: m.viewnum });
        }
        return;
      case ReplType.SNAPSHOT:
        if (!this.fromMyPrimary(sender, m.viewnum)) return;
        this.mem.counter.value = m.counter;
        this.mem.kv.clear();
        for (const e of m.kv) this.mem.kv.restore(e);
        this.mem.appliedSeq = m.seq;
        this.snapshotFrom = sender;
        this.snapshotView = m.viewnum;
        this.sendRepl(from, { type: ReplType.ACK, viewnum: m.viewnum, seq: m.seq });
        return;
      case ReplType.ACK:
        if (this.role !== 'primary' || sender < 0 || m.viewnum !== this.viewnum) return;
        if (m.seq > this.backupAcked[sender]!) this.backupAcked[sender] = m.seq;
        this.lastAckMs[sender] = now;
        if (this.backupAcked[sender]! >= this.syncedAtSeq[sender]!) this.synced |= 1 << sender;
        this.commitReady();
        return;
      case ReplType.CONFIRM:
        if (this.fromMyPrimary(sender, m.viewnum)) this.sendRepl(from, { type: ReplType.CONFIRMED, viewnum: m.viewnum, seq: m.seq });
        return;
      case ReplType.CONFIRMED:
        if (this.role !== 'primary' || sender < 0 || m.viewnum !== this.viewnum) return;
        if (m.seq > this.backupConfirmed[sender]!) this.backupConfirmed[sender] = m.seq;
        this.commitReady();
        return;
      case ReplType.RESYNC:
        if (this.role === 'primary' && sender >= 0 && (this.backups >> sender) & 1) {
          this.synced &= ~(1 << sender);
          this.sendSnapshot(now, sender);
        }
        return;
      default:
        return;
    }
  }

  // A backup applies writes only from the primary whose snapshot it holds (or that it followed since view 1).
  private snapshotFrom = 0;
  private snapshotView = 1;
  private readonly syncedAtSeq: number[] = [0, 0, 0, 0, 0, 0, 0, 0];

  private holdsStateOf(sender: number, viewnum: number): boolean {
    return sender === this.snapshotFrom && viewnum >= this.snapshotView;
  }

  private apply(now: number, op: ReplOp, drc: ReplDrcEntry | null): void {
    if (op.kind === 'counter') this.mem.counter.value = op.value;
    else this.mem.kv.restore({ key: op.key, value: op.value, revision: op.revision });
    if (drc === null) return;
    // The primary's cache entry: a retry of this request that fails over here gets the same reply.
    const d = this.mem.server.drc;
    if (!d.config.enabled) return;
    let h = d.find(now, drc.client, drc.xid, drc.prog, drc.vers, drc.proc);
    if (h < 0) h = d.insert(now, drc.client, drc.xid, drc.prog, drc.vers, drc.proc);
    d.complete(h, drc.reply);
  }

  private adoptView(now: number, viewnum: number, primary: number, backups: number): void {
    const was = this.role;
    this.viewnum = viewnum;
    this.primary = primary;
    this.backups = backups;
    this.role = primary === this.o.index ? 'primary' : (backups >> this.o.index) & 1 ? 'backup' : 'idle';
    if (this.role !== 'primary') {
      // Writes of a primary that lost its place are never answered: the client retries elsewhere.
      this.pending.length = 0;
      this.ackedViewnum = viewnum;
    }
    if (this.role === 'primary') {
      if (was !== 'primary') {
        this.synced = 0;
        this.backupAcked.fill(0);
        this.backupConfirmed.fill(0);
      }
      // Backups that do not hold this primary's state get it whole; the view is confirmed once they all have.
      for (let b = 0; b < this.o.replicas.length; b++) {
        if ((backups >> b) & 1 && !((this.synced >> b) & 1)) this.sendSnapshot(now, b);
      }
      this.synced &= backups;
      this.commitReady();
    }
    if (was !== this.role) this.events.push({ atMs: now, replica: this.o.index + 1, kind: 'role', detail: `${this.role} in view ${viewnum}` });
  }

  private sendSnapshot(now: number, b: number): void {
    const seq = this.mem.appliedSeq;
    this.syncedAtSeq[b] = seq;
    this.lastSnapshotMs[b] = now;
    this.sendRepl(this.o.replicas[b]!, { type: ReplType.SNAPSHOT, viewnum: this.viewnum, seq, counter: this.mem.counter.value, kv: this.mem.kv.snapshot() });
  }

  /**
   * A backup that has not caught up (it may have ignored a write or a snapshot sent before it knew
   * the view) gets the whole state again; reads still waiting get another confirmation round.
   */
  private resendSnapshots(now: number): void {
    const wait = 2 * this.o.pingIntervalMs;
    for (let b = 0; b < this.o.replicas.length; b++) {
      if (!((this.backups >> b) & 1)) continue;
      const behind = !((this.synced >> b) & 1) || (this.backupAcked[b]! < this.mem.appliedSeq && now - this.lastAckMs[b]! >= wait);
      if (behind && now - this.lastSnapshotMs[b]! >= wait) this.sendSnapshot(now, b);
    }
    if (this.pending.some((p) => p.confirm > 0)) this.sendConfirmRound();
    // The view is confirmed to the view service once every backup of it holds this primary's state.
    if ((this.synced & this.backups) === this.backups) this.ackedViewnum = this.viewnum;
  }
}

/** The big-endian word at byte i. */
function word(b: Uint8Array, i: number): number {
  return ((b[i]! << 24) | (b[i + 1]! << 16) | (b[i + 2]! << 8) | b[i + 3]!) >>> 0;
}

/** The XID of an RPC message (its first word). */
function xidOf(b: Uint8Array): number {
  return b.length < 4 ? -1 : word(b, 0);
}
