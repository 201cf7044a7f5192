// A replicated RPC service in the simulator: N replicas (1 to 5) serve the counter and the
// key-value store, a coordinator host is the binder (and, with primary-backup, the view
// service), and one client host asks the binder for the replica list and then keeps calls in
// flight by its policy (fixed, failover, round-robin, least-outstanding, hedged), while a
// schedule crashes, restarts, partitions and slows replicas. The simulator knows the truth:
// which replica executed what (the ledger), every write the client saw acknowledged, and what
// each replica holds; the figures are checked against it (test/replicas.test.ts).
//
// Hosts: 0 the client, 1..N the replicas, N+1 the coordinator. Calls travel on the forward link,
// replies on the reverse link; the replicas and the coordinator talk over a link of their own
// with the forward link's delay and nothing lost (the lab impairs the client's path only).

import type { Endpoint } from '../../core/endpoint.js';
import { REPLICA_CALLS_METRICS, REPLICA_UP_METRICS, metricList } from '../../core/metrics/registry.js';
import { Link } from '../../core/impair/link.js';
import { NO_IMPAIRMENT, type ImpairmentConfig } from '../../core/impair/config.js';
import { Simulator } from '../../core/sim/simulator.js';
import { Rng, deriveSeed } from '../../core/util/rng.js';
import { DEFAULT_DRC_CONFIG } from '../../core/rpc/drc.js';
import { RpcClientEngine, RpcStatus } from '../../core/rpc/client.js';
import { UDP_REPLY_LIMITS } from '../../core/rpc/server.js';
import { CounterProgV1 } from '../../core/rpc/programs/counter.js';
import { KvProgV1, KvStatus, type KvGetResult } from '../../core/rpc/programs/kv.js';
import type { ProcedureDescriptor } from '../../core/rpc/program.js';
import { PortmapRegistry, portmapProgram, protocolNumber } from '../../core/rpc/portmap.js';
import { RpcbprogV4, type RpcbEntryListPtr } from '../../core/rpc/rpcb_prot.js';
import { nullProcedure } from '../../net/rpc/client-net.js';
import { ReplicaDirectory, addressesOf, parseUniversalAddress, rpcbProgram, simHostAddress, simHostOf, universalAddress } from '../../core/rpc/replicas/directory.js';
import { CLIENT_POLICIES, ReplicaClient, ReplicaClientCounters, replicaClientProblems, type ClientPolicy, type ReplicaCall } from '../../core/rpc/replicas/client.js';
import { REPLICATION_MODES, ReplicaHost, type ExecutionLedger, type ReplicationMode } from '../../core/rpc/replicas/replica.js';
import { Coordinator } from '../../core/rpc/replicas/view-service.js';
import { faultScheduleProblems, faultText, type TimedFault } from '../../core/rpc/replicas/faults.js';

/** Replicas a run may have. */
export const MAX_REPLICAS = 5;

/** Weights of the calls a replicated workload makes. */
export interface ReplicatedMix {
  null: number;
  echo: number;
  /** INCREMENT of the counter: non-idempotent. */
  increment: number;
  /** KV_PUT of a key (a write whose loss the run counts). */
  put: number;
  /** KV_GET of a key (a read that may be stale). */
  get: number;
}

/** Everything that defines a replicated run. */
export interface ReplicatedSetup {
  replicas: number;
  policy: ClientPolicy;
  replication: ReplicationMode;
  /** Primary-backup: the duplicate request cache entry of a write goes to the backups with it. */
  replicateDrc: boolean;
  /** Each replica's duplicate request cache on (at-most-once) or off. */
  drc: boolean;
  mix: ReplicatedMix;
  /** Keys the writes and reads use. */
  keys: number;
  echoBytes: number;
  callsInFlight: number;
  /** Calls to make (0: call for durationMs). */
  totalCalls: number;
  durationMs: number;
  /** Total time one call may take. */
  timeoutMs: number;
  /** The client's detection time: a replica silent this long is given up for the call. */
  failoverMs: number;
  /** Retransmission interval to one replica (0: none). */
  retryIntervalMs: number;
  hedgeDelayMs: number;
  healthIntervalMs: number;
  /** Primary-backup: the view service declares a replica dead after this long without a ping. */
  detectionMs: number;
  /** How long a restart takes. */
  restartDelayMs: number;
  faults: TimedFault[];
  forward: ImpairmentConfig;
  reverse: ImpairmentConfig;
  seed: number;
  intervalMs: number;
  timeLimitMs: number;
  /** After the calls, read every key once (through the same policy) to count lost writes. */
  verify: boolean;
}

/** Three replicas with failover and no replication, 5 ms each way, 1000 calls of a put/get/increment mix. */
export const DEFAULT_REPLICATED_SETUP: Readonly<ReplicatedSetup> = Object.freeze({
  replicas: 3,
  policy: 'failover',
  replication: 'none',
  replicateDrc: true,
  drc: true,
  mix: { null: 0, echo: 0, increment: 1, put: 1, get: 1 },
  keys: 16,
  echoBytes: 32,
  callsInFlight: 8,
  totalCalls: 1000,
  durationMs: 0,
  timeoutMs: 2000,
  failoverMs: 200,
  retryIntervalMs: 50,
  hedgeDelayMs: 20,
  healthIntervalMs: 100,
  detectionMs: 250,
  restartDelayMs: 0,
  faults: [],
  forward: { ...NO_IMPAIRMENT, delayMs: 5 },
  reverse: { ...NO_IMPAIRMENT, delayMs: 5 },
  seed: 1,
  intervalMs: 100,
  timeLimitMs: 600_000,
  verify: true,
});

/** What is wrong with a setup (empty when it is fine); each problem names the field. */
export function replicatedSetupProblems(s: ReplicatedSetup): string[] {
  const out: string[] = [];
  if (!Number.isInteger(s.replicas) || s.replicas < 1 || s.replicas > MAX_REPLICAS) out.push(`replicas must be a whole number from 1 to ${MAX_REPLICAS} (got ${s.replicas})`);
  if (!(CLIENT_POLICIES as readonly string[]).includes(s.policy)) out.push(`policy must be one of ${CLIENT_POLICIES.join(', ')} (got ${String(s.policy)})`);
  if (!(REPLICATION_MODES as readonly string[]).includes(s.replication)) out.push(`replication must be one of ${REPLICATION_MODES.join(', ')} (got ${String(s.replication)})`);
  const w = Object.values(s.mix);
  if (w.some((x) => !(x >= 0)) || w.every((x) => x === 0)) out.push('mix: weights must be non-negative and not all zero');
  if (!Number.isInteger(s.keys) || s.keys < 1 || s.keys > 1000) out.push(`keys must be a whole number from 1 to 1000 (got ${s.keys})`);
  if (!Number.isInteger(s.callsInFlight) || s.callsInFlight < 1 || s.callsInFlight > 1024) out.push(`callsInFlight must be a whole number from 1 to 1024 (got ${s.callsInFlight})`);
  if (!Number.isInteger(s.totalCalls) || s.totalCalls < 0) out.push(`totalCalls must be a whole number, 0 or more (got ${s.totalCalls})`);
  if (s.totalCalls === 0 && !(s.durationMs > 0)) out.push('either totalCalls or durationMs must be set');
  if (!(s.detectionMs >= 1)) out.push(`detectionMs must be at least 1 (got ${s.detectionMs})`);
  if (!(s.restartDelayMs >= 0)) out.push(`restartDelayMs must not be negative (got ${s.restartDelayMs})`);
  if (!(s.intervalMs >= 1)) out.push(`intervalMs must be at least 1 (got ${s.intervalMs})`);
  if (!(s.timeLimitMs >= 1)) out.push(`timeLimitMs must be at least 1 (got ${s.timeLimitMs})`);
  if (s.policy !== 'fixed' && s.failoverMs >= s.timeoutMs) out.push(`failoverMs (${s.failoverMs}) must be below timeoutMs (${s.timeoutMs}), or no call ever fails over`);
  out.push(...replicaClientProblems(clientOptions(s)));
  out.push(...faultScheduleProblems(s.faults, s.replicas));
  return out;
}

function clientOptions(s: ReplicatedSetup) {
  return { policy: s.policy, timeoutMs: s.timeoutMs, failoverMs: s.failoverMs, retryIntervalMs: s.retryIntervalMs, hedgeDelayMs: s.hedgeDelayMs, healthIntervalMs: s.healthIntervalMs, rngSeed: deriveSeed(s.seed, 'xid') };
}

/** Something that happened during the run (a fault, a restart done, a view change), for events.csv. */
export interface ReplicaRunEvent {
  atMs: number;
  kind: 'fault' | 'replica' | 'view' | 'error';
  /** "replica2", or "view" */
  subject: string;
  before: string;
  after: string;
  detail: string;
}

/** The ledger: every execution of a state-changing procedure, at any replica (ground truth). */
export class Ledger implements ExecutionLedger {
  /** Executions beyond the first of one request (client, XID, program, procedure), anywhere. */
  duplicateExecutions = 0;
  /** Of those, on another replica than an earlier execution. */
  crossReplicaDuplicates = 0;
  /** Executions of a procedure that changes state. */
  executions = 0;
  private readonly seen = new Map<string, number>();

  executed(replica: number, client: number, xid: number, prog: number, proc: number): void {
    this.executions++;
    const key = `${client}|${xid}|${prog}|${proc}`;
    const where = this.seen.get(key);
    if (where !== undefined) {
      this.duplicateExecutions++;
      if (!((where >> replica) & 1)) this.crossReplicaDuplicates++;
    }
    this.seen.set(key, (where ?? 0) | (1 << replica));
  }
}

/** What the client knows of one key. */
interface KeyState {
  /** Sequence numbers of its acknowledged writes, in order. */
  acked: number[];
  writing: boolean;
}

const VALUE_BYTES = 8;

function seqValue(seq: number): Uint8Array {
  const b = new Uint8Array(VALUE_BYTES);
  new DataView(b.buffer).setFloat64(0, seq);
  return b;
}

function seqOf(r: KvGetResult): number {
  if (r.status !== KvStatus.KV_OK || r.entry.value.length !== VALUE_BYTES) return 0;
  return new DataView(r.entry.value.buffer, r.entry.value.byteOffset, VALUE_BYTES).getFloat64(0);
}

type Phase = 'idle' | 'lookup' | 'calls' | 'verify' | 'done' | 'failed';

/** What the client's application asked and learned, per call. */
interface CallNote {
  op: 'null' | 'echo' | 'increment' | 'put' | 'get' | 'verify';
  key: number;
  seq: number;
  /** Acknowledged writes of the key when the read started. */
  ackedAtStart: number;
}

/** The client host: a binder lookup (rpcbind version 4, GETADDRLIST), then the call mix through the replica client. */
export class ReplicatedWorkloadClient implements Endpoint {
  readonly client: ReplicaClient;
  readonly binder: RpcClientEngine;
  transmitTo = 0;
  phase: Phase = 'idle';
  failure: string | null = null;
  startedAtMs = Number.NaN;
  finishedAtMs = Number.NaN;
  /** Reads that returned an older value than a write acknowledged before they started. */
  staleReads = 0;
  /** Acknowledged writes the final reads did not find (after verify). */
  writesLost = 0;
  /** Final reads that failed (their keys are not counted). */
  verifyFailures = 0;
  /** Replica (index) that answered each key's final read, -1 when none. */
  readonly verifiedBy: number[];
  /** Value (write sequence number, 0 none) each key's final read returned. */
  readonly verifiedSeq: number[];
  /** Acknowledged writes and INCREMENTs. */
  writesAcked = 0;
  incrementsAcked = 0;
  /** After each crash that ended (at the next fault), the longest stretch without an answered call: the time to recover. */
  private readonly recoveries: number[] = [];
  // The crash whose recovery is being measured (until the next fault), and the last answer's time.
  private recovering: { crashMs: number; longestGapMs: number } | null = null;
  private lastAnswerMs = Number.NEGATIVE_INFINITY;
  /** Called with every call answered to the application (tests check none is answered twice). */
  onAnswer: ((c: ReplicaCall) => void) | null = null;
  readonly keys: KeyState[];
  private readonly notes = new Map<ReplicaCall, CallNote>();
  private readonly rng: Rng;
  private readonly cumulative: number[];
  private readonly payload: Uint8Array;
  private startedCalls = 0;
  private stopAtMs = Number.POSITIVE_INFINITY;
  private stopped = false;
  private nextSeq = 1;
  private verifyNext = 0;
  private lastFromBinder = false;

  /**
   * `coordinator` is the binder's address; `resolve` turns an address of its replica list into the
   * address the driver sends to (the simulator's host number by default), null when it cannot.
   */
  constructor(
    private readonly s: ReplicatedSetup,
    private readonly coordinator: number,
    private readonly resolve: (host: string, port: number) => number | null = (host) => simHostOf(host),
  ) {
    this.client = new ReplicaClient(clientOptions(s));
    this.binder = new RpcClientEngine({ server: coordinator, policy: { timeoutMs: 5000, retryIntervalMs: 200, retryBackoff: 2, retryIntervalMsMax: 1000, maxRetransmissions: 10 }, retransmit: true, rngSeed: deriveSeed(s.seed, 'binder') });
    this.rng = new Rng(deriveSeed(s.seed, 'mix'));
    const m = s.mix;
    const w = [m.null, m.echo, m.increment, m.put, m.get];
    const total = w.reduce((a, b) => a + b, 0);
    let acc = 0;
    this.cumulative = w.map((x) => (acc += x / total));
    this.cumulative[4] = 1;
    this.payload = new Uint8Array(s.echoBytes).fill(0x5a);
    this.keys = Array.from({ length: s.keys }, () => ({ acked: [], writing: false }));
    this.verifiedBy = Array.from({ length: s.keys }, () => -1);
    this.verifiedSeq = Array.from({ length: s.keys }, () => 0);
  }

  /** True when the run has nothing left to do. */
  get done(): boolean {
    return this.phase === 'done' || this.phase === 'failed';
  }

  /** Asks the binder for the replicas. */
  start(now: number): void {
    if (this.phase !== 'idle') return;
    this.phase = 'lookup';
    this.startedAtMs = now;
    this.binder.call(now, RpcbprogV4.procedures.RPCBPROC_GETADDRLIST as ProcedureDescriptor<unknown, unknown>, { r_prog: CounterProgV1.program, r_vers: CounterProgV1.version, r_netid: 'udp', r_addr: '', r_owner: '' });
  }

  /**
   * Starts with the replica list looked up already: on real sockets a list of several replicas is
   * a reply larger than three times its call, which a binder refuses over UDP (amplification), so
   * the caller asks it over TCP.
   */
  startWithReplicas(now: number, replicas: readonly number[]): void {
    if (this.phase !== 'idle') return;
    this.startedAtMs = now;
    this.useReplicas(now, replicas);
    this.progress(now);
  }

  private useReplicas(now: number, replicas: readonly number[]): void {
    this.client.setReplicas(now, replicas);
    this.phase = 'calls';
    if (this.s.durationMs > 0 && this.s.totalCalls === 0) this.stopAtMs = now + this.s.durationMs;
  }

  /** Stops starting calls (a stopped run skips the final reads). */
  stop(): void {
    this.stopped = true;
  }

  handleDatagram(now: number, bytes: Uint8Array, from: number): void {
    if (from === this.coordinator) this.binder.handleDatagram(now, bytes, from);
    else this.client.handleDatagram(now, bytes, from);
    this.progress(now);
  }

  handleTimeout(now: number): void {
    const b = this.binder.pollTimeout();
    if (b !== null && b <= now) this.binder.handleTimeout(now);
    const c = this.client.pollTimeout();
    if (c !== null && c <= now) this.client.handleTimeout(now);
    this.progress(now);
  }

  pollTransmit(now: number): Uint8Array | null {
    let d = this.binder.pollTransmit(now);
    if (d !== null) {
      this.lastFromBinder = true;
      this.transmitTo = this.binder.transmitTo;
      return d;
    }
    d = this.client.pollTransmit();
    if (d !== null) {
      this.lastFromBinder = false;
      this.transmitTo = this.client.transmitTo;
    }
    return d;
  }

  pollTimeout(): number | null {
    let t = this.binder.pollTimeout() ?? Number.POSITIVE_INFINITY;
    const c = this.client.pollTimeout();
    if (c !== null && c < t) t = c;
    if (this.phase === 'calls' && !this.noMoreCalls() && this.stopAtMs < t) t = this.stopAtMs;
    return t === Number.POSITIVE_INFINITY ? null : t;
  }

  private noMoreCalls(): boolean {
    return this.stopped || this.durationOver || (this.s.totalCalls > 0 && this.startedCalls >= this.s.totalCalls);
  }

  private durationOver = false;

  private progress(now: number): void {
    if (now >= this.stopAtMs) this.durationOver = true;
    for (let c = this.binder.pollCompleted(); c !== null; c = this.binder.pollCompleted()) {
      if (c.status !== RpcStatus.SUCCESS) {
        this.fail(now, `the binder did not answer the replica list: ${c.errorMessage}`);
        return;
      }
      const hosts: number[] = [];
      for (const a of addressesOf(c.result as RpcbEntryListPtr)) {
        const ua = parseUniversalAddress(a);
        const h = ua === null ? null : this.resolve(ua.host, ua.port);
        if (h !== null) hosts.push(h);
      }
      if (hosts.length === 0) {
        this.fail(now, 'the binder knows no replica of the counter program');
        return;
      }
      this.useReplicas(now, hosts);
    }
    const cl = this.client;
    for (let c = cl.pollCompleted(); c !== null; c = cl.pollCompleted()) {
      this.finishedAtMs = now;
      const note = this.notes.get(c)!;
      this.notes.delete(c);
      this.onAnswer?.(c);
      const ok = c.status === RpcStatus.SUCCESS;
      if (ok) this.answered(now);
      switch (note.op) {
        case 'put': {
          const k = this.keys[note.key]!;
          k.writing = false;
          if (ok && (c.result as { status: number }).status === KvStatus.KV_OK) {
            k.acked.push(note.seq);
            this.writesAcked++;
          }
          break;
        }
        case 'get':
          if (ok && seqOf(c.result as KvGetResult) < note.ackedAtStart) this.staleReads++;
          break;
        case 'increment':
          if (ok) this.incrementsAcked++;
          break;
        case 'verify': {
          if (!ok) {
            this.verifyFailures++;
            break;
          }
          const got = seqOf(c.result as KvGetResult);
          this.verifiedBy[note.key] = c.answeredBy;
          this.verifiedSeq[note.key] = got;
          for (const a of this.keys[note.key]!.acked) if (a > got) this.writesLost++;
          break;
        }
        default:
          break;
      }
      cl.recycle(c);
    }
    if (this.phase === 'calls') {
      while (cl.pendingCalls < this.s.callsInFlight && !this.noMoreCalls()) this.startCall(now);
      if (this.noMoreCalls() && cl.pendingCalls === 0) {
        if (this.s.verify && !this.stopped) this.phase = 'verify';
        else this.phase = 'done';
      }
    }
    if (this.phase === 'verify') {
      while (cl.pendingCalls < this.s.callsInFlight && this.verifyNext < this.s.keys) {
        const key = this.verifyNext++;
        this.track(cl.call(now, KvProgV1.procedures.KV_GET as ProcedureDescriptor<unknown, unknown>, `k${key}`), { op: 'verify', key, seq: 0, ackedAtStart: 0 });
      }
      if (this.verifyNext >= this.s.keys && cl.pendingCalls === 0) this.phase = 'done';
    }
  }

  /**
   * A fault happened now (the run tells the client, as the ground truth it measures against): it
   * ends the recovery of the crash before it, and a crash starts one.
   */
  noteFault(now: number, crash: boolean): void {
    const r = this.recovering;
    if (r !== null && now > r.crashMs) this.endRecovery(now);
    if (crash && this.recovering === null) this.recovering = { crashMs: now, longestGapMs: 0 };
  }

  /** The time to recover after each crash so far; a recovery still open is counted to `now`. */
  recoveryTimes(now: number): number[] {
    const r = this.recovering;
    return r === null ? [...this.recoveries] : [...this.recoveries, this.longestGap(r, now)];
  }

  private answered(now: number): void {
    const r = this.recovering;
    if (r !== null && now >= r.crashMs && this.lastAnswerMs > Number.NEGATIVE_INFINITY) r.longestGapMs = Math.max(r.longestGapMs, now - this.lastAnswerMs);
    this.lastAnswerMs = now;
  }

  /** The longest gap of a recovery, its tail to `horizon` included (an outage that lasts to it counts to it). */
  private longestGap(r: { crashMs: number; longestGapMs: number }, horizon: number): number {
    return this.lastAnswerMs > Number.NEGATIVE_INFINITY ? Math.max(r.longestGapMs, horizon - Math.max(this.lastAnswerMs, r.crashMs)) : r.longestGapMs;
  }

  private endRecovery(horizon: number): void {
    this.recoveries.push(this.longestGap(this.recovering!, horizon));
    this.recovering = null;
  }

  private fail(now: number, why: string): void {
    this.phase = 'failed';
    this.failure = why;
    this.finishedAtMs = now;
  }

  private track(c: ReplicaCall, note: CallNote): void {
    this.notes.set(c, note);
  }

  private startCall(now: number): void {
    this.startedCalls++;
    const u = this.rng.uniform();
    let kind = 0;
    while (u >= this.cumulative[kind]!) kind++;
    const cl = this.client;
    if (kind === 3) {
      // A write to a key with no write in flight, so that each key's writes are acknowledged in order.
      const start = this.rng.below(this.s.keys);
      for (let i = 0; i < this.s.keys; i++) {
        const key = (start + i) % this.s.keys;
        const k = this.keys[key]!;
        if (k.writing) continue;
        k.writing = true;
        const seq = this.nextSeq++;
        this.track(cl.call(now, KvProgV1.procedures.KV_PUT as ProcedureDescriptor<unknown, unknown>, { key: `k${key}`, value: seqValue(seq), expected_revision: null }), { op: 'put', key, seq, ackedAtStart: 0 });
        return;
      }
      kind = 4;
    }
    if (kind === 4) {
      const key = this.rng.below(this.s.keys);
      const acked = this.keys[key]!.acked;
      this.track(cl.call(now, KvProgV1.procedures.KV_GET as ProcedureDescriptor<unknown, unknown>, `k${key}`), { op: 'get', key, seq: 0, ackedAtStart: acked.length === 0 ? 0 : acked[acked.length - 1]! });
      return;
    }
    if (kind === 2) this.track(cl.call(now, CounterProgV1.procedures.INCREMENT as ProcedureDescriptor<unknown, unknown>, 1), { op: 'increment', key: 0, seq: 0, ackedAtStart: 0 });
    else if (kind === 1) this.track(cl.call(now, CounterProgV1.procedures.ECHO as ProcedureDescriptor<unknown, unknown>, this.payload), { op: 'echo', key: 0, seq: 0, ackedAtStart: 0 });
    else this.track(cl.call(now, NULL_PROC, undefined), { op: 'null', key: 0, seq: 0, ackedAtStart: 0 });
  }
}

const NULL_PROC = nullProcedure(CounterProgV1.program, CounterProgV1.version) as ProcedureDescriptor<unknown, unknown>;

/** A replicated run wired in the simulator, not yet started. */
export interface SimReplicated {
  sim: Simulator;
  app: ReplicatedWorkloadClient;
  replicas: ReplicaHost[];
  coordinator: Coordinator;
  ledger: Ledger;
  forward: Link;
  reverse: Link;
  internal: Link;
  /** Applies a fault now (a schedule step, a button; its atMs is not read); returns null or why it does not apply. */
  fault(now: number, f: Omit<TimedFault, 'atMs'>): string | null;
  /** Events since the last call, in time order. */
  drainEvents(): ReplicaRunEvent[];
}

/** Wires a replicated run: client host 0, replicas 1..N, coordinator N+1. */
export function buildSimReplicated(s: ReplicatedSetup): SimReplicated {
  const problems = replicatedSetupProblems(s);
  if (problems.length > 0) throw new RangeError(`replicated RPC setup: ${problems.join('; ')}`);
  const n = s.replicas;
  const addresses = Array.from({ length: n }, (_, i) => i + 1);
  const coordinatorAddress = n + 1;
  const port = 9000;
  const registry = new PortmapRegistry();
  const directory = new ReplicaDirectory();
  // Every replica registers with the binder (in the simulator the registration is made for it).
  registry.set({ prog: CounterProgV1.program, vers: CounterProgV1.version, prot: protocolNumber('udp'), port });
  for (const a of addresses) directory.set({ r_prog: CounterProgV1.program, r_vers: CounterProgV1.version, r_netid: 'udp', r_addr: universalAddress(simHostAddress(a), port), r_owner: `replica${a}` });
  const pingIntervalMs = Math.max(1, s.detectionMs / 5);
  const pb = s.replication === 'primary-backup';
  const coordinator = new Coordinator({ replicas: addresses, viewService: pb, deadMs: s.detectionMs, pingIntervalMs, programs: [portmapProgram(registry), rpcbProgram(directory)] });
  const ledger = new Ledger();
  const replicas = addresses.map(
    (_, i) =>
      new ReplicaHost({
        index: i,
        replicas: addresses,
        viewService: coordinatorAddress,
        mode: s.replication,
        drc: { ...DEFAULT_DRC_CONFIG, enabled: s.drc },
        replicateDrc: s.replicateDrc,
        pingIntervalMs,
        restartDelayMs: s.restartDelayMs,
        datagramReplies: UDP_REPLY_LIMITS,
        ledger,
      }),
  );
  for (const r of replicas) r.startInitialView();
  const app = new ReplicatedWorkloadClient(s, coordinatorAddress);
  const forward = new Link(s.forward, deriveSeed(s.seed, 'forward'));
  const reverse = new Link(s.reverse, deriveSeed(s.seed, 'reverse'));
  const internal = new Link({ ...NO_IMPAIRMENT, delayMs: s.forward.delayMs }, deriveSeed(s.seed, 'internal'));
  const hosts: Endpoint[] = [app, ...replicas, coordinator];
  const sim = new Simulator(hosts, [forward, reverse, internal], (from, to) => (from === 0 ? forward : to === 0 ? reverse : internal));
  const events: ReplicaRunEvent[] = [];
  return {
    sim,
    app,
    replicas,
    coordinator,
    ledger,
    forward,
    reverse,
    internal,
    fault(now, f) {
      const r = replicas[f.replica - 1];
      if (r === undefined) {
        const why = `there is no replica ${f.replica} (replicas are numbered 1 to ${n})`;
        events.push({ atMs: now, kind: 'error', subject: `replica${f.replica}`, before: '', after: '', detail: why });
        return why;
      }
      const res = r.applyFault(now, f.fault);
      if (!res.ok) {
        events.push({ atMs: now, kind: 'error', subject: `replica${f.replica}`, before: '', after: '', detail: `${faultText(f.fault)} refused: ${res.why}` });
        return `replica ${f.replica}: ${faultText(f.fault)} does not apply: ${res.why}`;
      }
      app.noteFault(now, f.fault.action === 'crash');
      events.push({ atMs: now, kind: 'fault', subject: `replica${f.replica}`, before: res.before, after: res.after, detail: faultText(f.fault) });
      return null;
    },
    drainEvents() {
      for (const r of replicas) {
        for (let e = r.pollEvent(); e !== null; e = r.pollEvent()) events.push({ atMs: e.atMs, kind: 'replica', subject: `replica${e.replica}`, before: '', after: r.stateName, detail: e.detail });
      }
      for (let v = coordinator.pollViewChange(); v !== null; v = coordinator.pollViewChange()) {
        events.push({ atMs: v.atMs, kind: 'view', subject: 'view', before: '', after: `${v.view.viewnum}: primary replica${v.view.primary + 1}`, detail: v.why });
      }
      const out = events.splice(0).sort((a, b) => a.atMs - b.atMs);
      return out;
    },
  };
}

/** Column names of a replicated run's sample, in CSV order. */
export const REPLICATED_COLUMNS = metricList([
  'time_s',
  'calls_started',
  'calls_succeeded',
  'calls_failed',
  'availability',
  'calls_failed_over',
  'hedged_copies',
  'latency_p50_ms',
  'latency_p90_ms',
  'latency_p99_ms',
  'latency_mean_ms',
  'latency_max_ms',
  'stale_reads',
  'replica_duplicate_executions',
  'replication_messages',
  'replicas_up',
  ...REPLICA_CALLS_METRICS,
  ...REPLICA_UP_METRICS,
] as const);

/** One column name. */
export type ReplicatedColumn = (typeof REPLICATED_COLUMNS)[number];
/** One sample. */
export type ReplicatedSample = Record<ReplicatedColumn, number>;

/**
 * What the meter and the summary read of a replicated run, in the simulator (simView) or on
 * loopback (its replicas are processes: what only they know is NaN, or what they last reported).
 */
export interface ReplicatedRunView {
  app: ReplicatedWorkloadClient;
  /** Replicas of the run. */
  replicas: number;
  /** Client calls replica i (from 0) served so far. */
  callsServed(i: number): number;
  /** Each replica's state (up, crashed, restarting, partitioned). */
  states(): string[];
  /** Each replica's counter value, "" where unknown. */
  counterValues(): string[];
  /** Replication messages sent so far. */
  replicationMessages(): number;
  /** The ledger's duplicate executions, anywhere and on another replica (NaN without a ledger). */
  duplicateExecutions(): number;
  crossReplicaDuplicates(): number;
  /** The run's clock now (ms). */
  now(): number;
  /** Simulator events (NaN on sockets). */
  events(): number;
}

/** The view of a simulated run. */
export function simView(w: SimReplicated): ReplicatedRunView {
  return {
    app: w.app,
    replicas: w.replicas.length,
    callsServed: (i) => w.replicas[i]!.counters.callsServed,
    states: () => w.replicas.map((r) => r.stateName),
    counterValues: () => w.replicas.map((r) => r.counterValue.toString()),
    replicationMessages: () => {
      let n = w.coordinator.messagesSent;
      for (const r of w.replicas) n += r.counters.replicationMessages;
      return n;
    },
    duplicateExecutions: () => w.ledger.duplicateExecutions,
    crossReplicaDuplicates: () => w.ledger.crossReplicaDuplicates,
    now: () => w.sim.now,
    events: () => w.sim.events,
  };
}

/** Reads a replicated run's counters into per-interval samples. */
export class ReplicatedMeter {
  private prev = new ReplicaClientCounters();
  private prevServed: number[];
  private prevRepl = 0;
  private prevStale = 0;
  private prevDup = 0;
  private readonly v: ReplicatedRunView;

  constructor(w: SimReplicated | ReplicatedRunView) {
    this.v = 'sim' in w ? simView(w) : w;
    this.prevServed = Array.from({ length: this.v.replicas }, () => 0);
  }

  /** The sample of the interval that ends at `now` (ms from the start of the run). */
  sample(now: number): ReplicatedSample {
    const v = this.v;
    const k = v.app.client.counters;
    const p = this.prev;
    const ended = k.callsSucceeded + k.callsFailed - p.callsSucceeded - p.callsFailed;
    const h = v.app.client.intervalLatency;
    const repl = v.replicationMessages();
    const dup = v.duplicateExecutions();
    const row: Record<string, number> = {
      time_s: now / 1000,
      calls_started: k.callsStarted - p.callsStarted,
      calls_succeeded: k.callsSucceeded - p.callsSucceeded,
      calls_failed: k.callsFailed - p.callsFailed,
      availability: ended > 0 ? (k.callsSucceeded - p.callsSucceeded) / ended : Number.NaN,
      calls_failed_over: k.callsFailedOver - p.callsFailedOver,
      hedged_copies: k.hedges - p.hedges,
      latency_p50_ms: h.quantile(0.5),
      latency_p90_ms: h.quantile(0.9),
      latency_p99_ms: h.quantile(0.99),
      latency_mean_ms: h.meanMs,
      latency_max_ms: h.maxMs,
      stale_reads: v.app.staleReads - this.prevStale,
      replica_duplicate_executions: dup - this.prevDup,
      replication_messages: repl - this.prevRepl,
      replicas_up: v.states().filter((st) => st === 'up').length,
    };
    const served = Array.from({ length: v.replicas }, (_, i) => v.callsServed(i));
    const states = v.states();
    for (let i = 0; i < REPLICA_CALLS_METRICS.length; i++) {
      row[REPLICA_CALLS_METRICS[i]!] = i < v.replicas ? served[i]! - this.prevServed[i]! : Number.NaN;
      row[REPLICA_UP_METRICS[i]!] = i < v.replicas ? (states[i] === 'up' ? 1 : 0) : Number.NaN;
    }
    this.prev = Object.assign(new ReplicaClientCounters(), k);
    this.prevServed = served;
    this.prevRepl = repl;
    this.prevStale = v.app.staleReads;
    this.prevDup = dup;
    h.reset();
    return row as ReplicatedSample;
  }
}

/** How a replicated run ended. */
export type ReplicatedStatus = 'complete' | 'timeout' | 'stopped' | 'failed';

/** The end-of-run summary. */
export interface ReplicatedSummary {
  type: 'summary';
  status: ReplicatedStatus;
  failure: string | null;
  seed: number;
  replicas: number;
  policy: ClientPolicy;
  replication: ReplicationMode;
  durationS: number;
  callsStarted: number;
  callsSucceeded: number;
  callsFailed: number;
  /** Share of the calls answered within their deadline. */
  availability: number;
  /** Calls answered by another replica than the first they went to, and failovers (attempts moved). */
  callsFailedOver: number;
  failovers: number;
  hedgedCopies: number;
  hedgeWins: number;
  /** Replies dropped because their call was answered already (a cancelled hedge, a late replica). */
  lateReplies: number;
  latencyP50Ms: number;
  latencyP90Ms: number;
  latencyP99Ms: number;
  latencyMeanMs: number;
  latencyMaxMs: number;
  /** Longest stretch without an answered call after each crash, in crash order (ms). */
  recoveryMs: number[];
  /** The largest of those, NaN without a crash. */
  timeToRecoverMs: number;
  writesAcked: number;
  writesLost: number;
  verifyFailures: number;
  staleReads: number;
  incrementsAcked: number;
  /** From the ledger: executions of a state-changing request beyond its first, anywhere, and those on another replica. */
  duplicateExecutions: number;
  crossReplicaDuplicates: number;
  replicationMessages: number;
  /** Client calls each replica served (its load). */
  loadPerReplica: number[];
  /** Each replica's counter value and state at the end. */
  replicaStates: string[];
  counterValues: string[];
  simEvents: number;
}

/** The summary of a run that ended now (the simulator's time, or the clock of a run on loopback). */
export function summarizeReplicated(s: ReplicatedSetup, run: SimReplicated | ReplicatedRunView, status: ReplicatedStatus, failure: string | null): ReplicatedSummary {
  const w = 'sim' in run ? simView(run) : run;
  const k = w.app.client.counters;
  const l = w.app.client.latency;
  const end = w.now();
  const recoveryMs = w.app.recoveryTimes(end);
  const ended = k.callsSucceeded + k.callsFailed;
  return {
    type: 'summary',
    status,
    failure,
    seed: s.seed,
    replicas: s.replicas,
    policy: s.policy,
    replication: s.replication,
    durationS: (w.app.finishedAtMs - w.app.startedAtMs) / 1000,
    callsStarted: k.callsStarted,
    callsSucceeded: k.callsSucceeded,
    callsFailed: k.callsFailed,
    availability: ended > 0 ? k.callsSucceeded / ended : Number.NaN,
    callsFailedOver: k.callsFailedOver,
    failovers: k.failovers,
    hedgedCopies: k.hedges,
    hedgeWins: k.hedgeWins,
    lateReplies: k.lateReplies,
    latencyP50Ms: l.quantile(0.5),
    latencyP90Ms: l.quantile(0.9),
    latencyP99Ms: l.quantile(0.99),
    latencyMeanMs: l.meanMs,
    latencyMaxMs: l.maxMs,
    recoveryMs,
    timeToRecoverMs: recoveryMs.length === 0 ? Number.NaN : Math.max(...recoveryMs),
    writesAcked: w.app.writesAcked,
    writesLost: w.app.writesLost,
    verifyFailures: w.app.verifyFailures,
    staleReads: w.app.staleReads,
    incrementsAcked: w.app.incrementsAcked,
    duplicateExecutions: w.duplicateExecutions(),
    crossReplicaDuplicates: w.crossReplicaDuplicates(),
    replicationMessages: w.replicationMessages(),
    loadPerReplica: Array.from({ length: w.replicas }, (_, i) => w.callsServed(i)),
    replicaStates: w.states(),
    counterValues: w.counterValues(),
    simEvents: w.events(),
  };
}

/** Callbacks of a running replicated workload. */
export interface ReplicatedHooks {
  onSample?(sample: ReplicatedSample): void;
  onEvent?(e: ReplicaRunEvent): void;
}

/** Runs a replicated workload to its end in virtual time, its faults from the setup's schedule. */
export function runSimReplicated(s: ReplicatedSetup, hooks: ReplicatedHooks = {}, wired?: (w: SimReplicated) => void): ReplicatedSummary {
  const w = buildSimReplicated(s);
  wired?.(w);
  const { sim, app } = w;
  const meter = new ReplicatedMeter(w);
  const faults = [...s.faults].sort((a, b) => a.atMs - b.atMs);
  let next = 0;
  const flush = () => {
    for (const e of w.drainEvents()) hooks.onEvent?.(e);
  };
  sim.addTicker({
    pollTimeout: () => (next < faults.length && !app.done ? faults[next]!.atMs : null),
    handleTimeout: (now) => {
      while (next < faults.length && faults[next]!.atMs <= now) w.fault(now, faults[next++]!);
      flush();
    },
  });
  let nextSample = s.intervalMs;
  let lastSample = 0;
  sim.addTicker({
    pollTimeout: () => (app.done ? null : nextSample),
    handleTimeout: (now) => {
      flush();
      hooks.onSample?.(meter.sample(now));
      lastSample = now;
      nextSample = now + s.intervalMs;
    },
  });
  app.start(0);
  const why = sim.run({ untilMs: s.timeLimitMs, stop: () => app.done });
  flush();
  if (hooks.onSample !== undefined && sim.now > lastSample) hooks.onSample(meter.sample(sim.now));
  const status: ReplicatedStatus = app.phase === 'done' ? 'complete' : app.phase === 'failed' ? 'failed' : why === 'time' ? 'timeout' : 'failed';
  const failure = app.failure ?? (status === 'timeout' ? `did not finish within ${s.timeLimitMs} ms of virtual time` : status === 'failed' ? `the simulation stopped (${why}) with calls pending` : null);
  return summarizeReplicated(s, w, status, failure);
}
