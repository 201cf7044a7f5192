// The client run-time of a replicated service, sans-IO: one RPC client that knows every replica
// (from the binder) and decides, by its policy, where each call goes and what happens when a
// replica does not answer.
//
//   fixed               every call to the first replica; no failover (a crash is an outage)
//   failover            every call to the current replica; a call unanswered for failoverMs (the
//                       detection time) goes again to the next replica, which becomes current
//   round-robin         calls rotate over the replicas that pass their health checks
//   least-outstanding   each call to the healthy replica with the fewest calls outstanding
//   hedged              as round-robin, and a call unanswered after hedgeDelayMs is sent to a
//                       second replica too; the first answer wins and the other copy is
//                       cancelled (never retransmitted; its answer, if any, is dropped)
//
// Every policy but fixed fails a call over when its replica does not answer for failoverMs. A call
// keeps its XID on every replica, as a retransmission does, so that a duplicate request cache the
// replicas share (primary-backup with the cache replicated) recognises it. Health checks are NULL
// calls (of the counter program) to every replica every healthIntervalMs; a replica that leaves one unanswered until the
// next is out of rotation until it answers again. A call is answered to the application once, by
// the first reply; pollCompleted() hands it over.

import type { Endpoint } from '../../endpoint.js';
import { Fifo } from '../../util/fifo.js';
import { Rng } from '../../util/rng.js';
import { LatencyHistogram, bucketOf } from '../histogram.js';
import { AcceptStat, AuthFlavor, MsgType, RejectStat, ReplyHeader, ReplyStat, encodeCredential, parseReplyBody, writeCallHeader } from '../message.js';
import type { ProcedureDescriptor } from '../program.js';
import { RpcStatus, decodeResult, type RpcStatusCode } from '../client.js';
import { XdrReader, XdrWriter } from '../xdr.js';
import { COUNTER_PROG, COUNTER_V1 } from '../programs/counter.js';

/** Client policies, as the knob lists them. */
export const CLIENT_POLICIES = ['fixed', 'failover', 'round-robin', 'least-outstanding', 'hedged'] as const;
/** One client policy. */
export type ClientPolicy = (typeof CLIENT_POLICIES)[number];

/** Labels of the policies, for people. */
export const CLIENT_POLICY_LABELS: Readonly<Record<ClientPolicy, string>> = {
  fixed: 'one fixed server (no failover)',
  failover: 'failover to the next replica on timeout',
  'round-robin': 'round-robin over healthy replicas',
  'least-outstanding': 'least outstanding calls among healthy replicas',
  hedged: 'hedged requests (a second copy after a delay)',
};

/** How the client is set up. */
export interface ReplicaClientOptions {
  policy: ClientPolicy;
  /** Total time a call may take, every replica tried included. */
  timeoutMs: number;
  /** A replica that leaves a call unanswered this long is given up for it (the detection time). */
  failoverMs: number;
  /** Retransmission interval to the same replica within one attempt; 0 sends once per replica. */
  retryIntervalMs: number;
  /** Hedged: when the second copy goes out. */
  hedgeDelayMs: number;
  /** Health checks (round-robin, least-outstanding, hedged): a NULL call to each replica this often. */
  healthIntervalMs: number;
  rngSeed: number;
}

/** What is wrong with the options (empty when they are fine); each problem names the field. */
export function replicaClientProblems(o: ReplicaClientOptions): string[] {
  const out: string[] = [];
  if (!(CLIENT_POLICIES as readonly string[]).includes(o.policy)) out.push(`policy must be one of ${CLIENT_POLICIES.join(', ')} (got ${String(o.policy)})`);
  const range = (k: keyof ReplicaClientOptions, lo: number, hi: number) => {
    const v = o[k] as number;
    if (!(typeof v === 'number' && v >= lo && v <= hi)) out.push(`${k} must be from ${lo} to ${hi} ms (got ${String(v)})`);
  };
  range('timeoutMs', 1, 3_600_000);
  range('failoverMs', 1, 3_600_000);
  range('retryIntervalMs', 0, 3_600_000);
  range('hedgeDelayMs', 1, 3_600_000);
  range('healthIntervalMs', 1, 3_600_000);
  return out;
}

/** Counters of the client. */
export class ReplicaClientCounters {
  callsStarted = 0;
  callsSucceeded = 0;
  callsFailed = 0;
  /** Failed calls: no answer within the call's timeout. */
  failedTimeout = 0;
  /** Failed calls: a remote rejection. */
  failedRemote = 0;
  /** Call messages sent, every copy and retransmission included. */
  transmissions = 0;
  /** Of those, sent again to the same replica. */
  retransmissions = 0;
  /** Calls sent again to another replica because theirs did not answer in time. */
  failovers = 0;
  /** Calls answered by a replica other than the first they went to. */
  callsFailedOver = 0;
  /** Hedged copies sent. */
  hedges = 0;
  /** Calls the hedged copy answered first. */
  hedgeWins = 0;
  /** Replies to calls already answered (a cancelled copy, a duplicate) or to none. */
  lateReplies = 0;
  /** Replies that do not parse. */
  malformedReplies = 0;
  /** Health check calls sent. */
  healthChecks = 0;
}

/** One call of the application. */
export class ReplicaCall {
  xid = 0;
  procedure!: ProcedureDescriptor<unknown, unknown>;
  args: unknown = undefined;
  bytes: Uint8Array = new Uint8Array(0);
  startedAtMs = 0;
  deadlineMs = 0;
  /** Replica (index) the call goes to now, and -1 or the replica of the hedged copy. */
  target = 0;
  hedgeTarget = -1;
  /** Replica the call went to first. */
  firstTarget = 0;
  /** When the current replica is given up, the next retransmission, the hedge. */
  attemptEndsMs = 0;
  nextSendMs = 0;
  hedgeAtMs = Number.POSITIVE_INFINITY;
  /** Replicas the call was sent to (a bit each): replies from them are answers. */
  sentTo = 0;
  /** RpcStatus once completed, -1 before. */
  status = -1;
  result: unknown = undefined;
  errorMessage = '';
  completedAtMs = Number.NaN;
  /** Replica that answered (index), -1 when none. */
  answeredBy = -1;
  /** Free for the owner. */
  owner: unknown = null;
  /** Its place in the engine's list of pending calls, -1 when not pending. */
  liveIndex = -1;

  /** True once the call has ended. */
  get done(): boolean {
    return this.status >= 0;
  }
}

const CREDENTIAL = encodeCredential({ flavor: AuthFlavor.AUTH_NONE });
const NO_REPLICA = -1;

/** The client engine of a replicated service. */
export class ReplicaClient implements Endpoint {
  readonly counters = new ReplicaClientCounters();
  /** Latency of successful calls since creation, and since the owner last reset it. */
  readonly latency = new LatencyHistogram();
  readonly intervalLatency = new LatencyHistogram();
  transmitTo = 0;
  private addresses: number[] = [];
  /** Calls outstanding at each replica (a hedged call counts at both). */
  outstanding: number[] = [];
  /** Whether each replica is in rotation (health checks, timeouts). */
  healthy: boolean[] = [];
  private current = 0;
  private cursor = 0;
  private nextXid: number;
  private readonly pending = new Map<number, ReplicaCall>();
  // The same calls in a dense list: the timers walk it without an iterator (nothing allocated per datagram).
  private readonly live: ReplicaCall[] = [];
  private readonly sendCall = new Fifo<ReplicaCall | null>();
  private readonly sendTo = new Fifo<number>();
  private readonly completed = new Fifo<ReplicaCall>();
  private readonly spare: ReplicaCall[] = [];
  private readonly writer = new XdrWriter(512);
  private readonly reader = new XdrReader();
  private readonly reply = new ReplyHeader();
  private nextHealthMs = Number.POSITIVE_INFINITY;
  private healthXid: number[] = [];
  private healthAnswered: boolean[] = [];
  private healthBytes: Uint8Array[] = [];
  private deadline = Number.POSITIVE_INFINITY;
  private deadlineStale = true;

  constructor(private readonly o: ReplicaClientOptions) {
    const problems = replicaClientProblems(o);
    if (problems.length > 0) throw new RangeError(`replica client: ${problems.join('; ')}`);
    this.nextXid = new Rng(o.rngSeed).uint32();
  }

  /** The policy in force. */
  get policy(): ClientPolicy {
    return this.o.policy;
  }

  /** The replicas' addresses, in the binder's order. */
  get replicas(): readonly number[] {
    return this.addresses;
  }

  /** Calls started and not answered. */
  get pendingCalls(): number {
    return this.pending.size;
  }

  /** The replica (index) the failover policy sends to now. */
  get currentReplica(): number {
    return this.current;
  }

  /** Sets the replicas (the binder's answer); health checks start at `now` for the policies that use them. */
  setReplicas(now: number, addresses: readonly number[]): void {
    if (addresses.length === 0) throw new RangeError('setReplicas: no replica');
    this.addresses = [...addresses];
    this.outstanding = addresses.map(() => 0);
    this.healthy = addresses.map(() => true);
    this.healthXid = addresses.map(() => -1);
    this.healthAnswered = addresses.map(() => true);
    this.healthBytes = addresses.map(() => new Uint8Array(0));
    if (this.o.policy === 'round-robin' || this.o.policy === 'least-outstanding' || this.o.policy === 'hedged') this.nextHealthMs = now + this.o.healthIntervalMs;
    this.deadlineStale = true;
  }

  /** Starts a call; it goes out through pollTransmit. Throws when no replica is known (a caller mistake). */
  call(now: number, proc: ProcedureDescriptor<unknown, unknown>, args: unknown): ReplicaCall {
    if (this.addresses.length === 0) throw new RangeError('call() before setReplicas()');
    const xid = this.takeXid();
    const w = this.writer;
    w.beginWire();
    writeCallHeader(w, xid, proc.program, proc.version, proc.procedure, CREDENTIAL);
    proc.args.encode(w, args);
    const c = this.spare.pop() ?? new ReplicaCall();
    c.xid = xid;
    c.procedure = proc;
    c.args = args;
    c.bytes = w.endWire();
    c.startedAtMs = now;
    c.deadlineMs = now + this.o.timeoutMs;
    c.status = -1;
    c.result = undefined;
    c.errorMessage = '';
    c.completedAtMs = Number.NaN;
    c.answeredBy = NO_REPLICA;
    c.owner = null;
    c.sentTo = 0;
    c.hedgeTarget = NO_REPLICA;
    c.hedgeAtMs = this.o.policy === 'hedged' ? now + this.o.hedgeDelayMs : Number.POSITIVE_INFINITY;
    this.pending.set(xid | 0, c);
    c.liveIndex = this.live.length;
    this.live.push(c);
    this.counters.callsStarted++;
    const r = this.pick(NO_REPLICA);
    c.firstTarget = r;
    this.attempt(now, c, r);
    return c;
  }

  /** Gives a completed call back for reuse. */
  recycle(c: ReplicaCall): void {
    if (c.done && this.spare.length < 256) {
      c.args = undefined;
      c.result = undefined;
      c.owner = null;
      this.spare.push(c);
    }
  }

  /** The next answered or failed call, or null. */
  pollCompleted(): ReplicaCall | null {
    return this.completed.shift() ?? null;
  }

  private takeXid(): number {
    let xid = this.nextXid;
    while (this.pending.has(xid | 0) || this.healthXid.includes(xid)) xid = (xid + 1) >>> 0;
    this.nextXid = (xid + 1) >>> 0;
    return xid;
  }

  /** The replica a call goes to, other than `not` (-1: any), by the policy. */
  private pick(not: number): number {
    const n = this.addresses.length;
    switch (this.o.policy) {
      case 'fixed':
        return 0;
      case 'failover': {
        if (this.current !== not) return this.current;
        // The next replica not known to be down, or simply the next one.
        for (let k = 1; k <= n; k++) {
          const r = (this.current + k) % n;
          if (r !== not && this.healthy[r]) return (this.current = r);
        }
        return (this.current = (this.current + 1) % n);
      }
      case 'least-outstanding': {
        let best = NO_REPLICA;
        for (let k = 0; k < n; k++) {
          // Ties go round, so that idle replicas share the load.
          const r = (this.cursor + k) % n;
          if (r === not || !this.healthy[r]) continue;
          if (best === NO_REPLICA || this.outstanding[r]! < this.outstanding[best]!) best = r;
        }
        this.cursor = (this.cursor + 1) % n;
        return best === NO_REPLICA ? this.nextAfter(not) : best;
      }
      default: {
        for (let k = 0; k < n; k++) {
          const r = (this.cursor + k) % n;
          if (r !== not && this.healthy[r]) {
            this.cursor = (r + 1) % n;
            return r;
          }
        }
        return this.nextAfter(not);
      }
    }
  }

  /** With no healthy replica left: the next one in turn that is not `not`. */
  private nextAfter(not: number): number {
    const n = this.addresses.length;
    const r = (this.cursor + (this.cursor === not && n > 1 ? 1 : 0)) % n;
    this.cursor = (r + 1) % n;
    return r;
  }

  private attempt(now: number, c: ReplicaCall, r: number): void {
    if (c.sentTo !== 0) this.outstanding[c.target]!--;
    c.target = r;
    this.outstanding[r]!++;
    c.attemptEndsMs = this.o.policy === 'fixed' ? c.deadlineMs : Math.min(c.deadlineMs, now + this.o.failoverMs);
    this.send(c, r);
    c.nextSendMs = this.o.retryIntervalMs > 0 ? now + this.o.retryIntervalMs : Number.POSITIVE_INFINITY;
    this.deadlineStale = true;
  }

  private send(c: ReplicaCall, r: number): void {
    this.sendCall.push(c);
    this.sendTo.push(r);
  }

  // ---------------------------------------------------------------- Endpoint

  handleDatagram(now: number, bytes: Uint8Array, from: number): void {
    const r = this.reader.reset(bytes);
    const xid = r.word();
    const type = r.word();
    if (r.error !== null || type !== MsgType.REPLY) {
      this.counters.malformedReplies++;
      return;
    }
    const replica = this.addresses.indexOf(from);
    if (replica >= 0 && this.healthXid[replica] === xid) {
      // A health check answered: the replica is in rotation again.
      this.healthXid[replica] = -1;
      this.healthAnswered[replica] = true;
      this.healthy[replica] = true;
      return;
    }
    const c = this.pending.get(xid | 0);
    if (c === undefined || replica < 0 || !((c.sentTo >> replica) & 1)) {
      this.counters.lateReplies++;
      return;
    }
    const h = this.reply;
    h.xid = xid;
    if (parseReplyBody(r, h) !== null) {
      this.counters.malformedReplies++;
      return;
    }
    this.healthy[replica] = true;
    c.answeredBy = replica;
    if (h.replyStat !== ReplyStat.MSG_ACCEPTED) {
      this.complete(now, c, h.rejectStat === RejectStat.RPC_MISMATCH ? RpcStatus.RPC_MISMATCH : RpcStatus.AUTH_ERROR, 'the replica refused the call');
      return;
    }
    if (h.acceptStat !== AcceptStat.SUCCESS) {
      this.complete(now, c, h.acceptStat as RpcStatusCode, `the replica answered accept_stat ${h.acceptStat}`);
      return;
    }
    const result = decodeResult(c.procedure as ProcedureDescriptor<unknown, unknown>, r);
    if (r.error !== null) {
      this.complete(now, c, RpcStatus.CANT_DECODE_RESULT, `${c.procedure.name}: the result does not decode: ${r.error}`);
      return;
    }
    c.result = result;
    this.complete(now, c, RpcStatus.SUCCESS, '');
  }

  handleTimeout(now: number): void {
    if (now >= this.nextHealthMs) this.healthRound(now);
    // Backwards: a call that completes is replaced by the last one, which was seen already.
    for (let i = this.live.length - 1; i >= 0; i--) {
      const c = this.live[i]!;
      if (c.done) continue;
      if (now >= c.deadlineMs) {
        this.complete(now, c, RpcStatus.TIMEOUT, `${c.procedure.name}: no answer within ${this.o.timeoutMs} ms`);
        continue;
      }
      if (now >= c.attemptEndsMs) {
        // The replica did not answer within the detection time: out of rotation, and the call goes on.
        const gone = c.target;
        this.healthy[gone] = false;
        if (c.hedgeTarget !== NO_REPLICA && c.hedgeTarget !== gone) {
          // The hedged copy carries on alone.
          this.outstanding[gone]!--;
          c.target = c.hedgeTarget;
          c.hedgeTarget = NO_REPLICA;
          c.attemptEndsMs = Math.min(c.deadlineMs, now + this.o.failoverMs);
        } else {
          this.counters.failovers++;
          this.attempt(now, c, this.pick(gone));
        }
        continue;
      }
      if (now >= c.nextSendMs) {
        this.counters.retransmissions++;
        this.send(c, c.target);
        c.nextSendMs = now + this.o.retryIntervalMs;
      }
      if (now >= c.hedgeAtMs) {
        c.hedgeAtMs = Number.POSITIVE_INFINITY;
        const h = this.pick(c.target);
        if (h !== c.target) {
          c.hedgeTarget = h;
          this.outstanding[h]!++;
          this.counters.hedges++;
          this.send(c, h);
        }
      }
    }
    this.deadlineStale = true;
  }

  pollTransmit(): Uint8Array | null {
    for (let c = this.sendCall.shift(); c !== undefined; c = this.sendCall.shift()) {
      const r = this.sendTo.shift()!;
      if (c === null) {
        this.transmitTo = this.addresses[r]!;
        return this.healthBytes[r]!;
      }
      if (c.done) continue;
      c.sentTo |= 1 << r;
      this.counters.transmissions++;
      this.transmitTo = this.addresses[r]!;
      return c.bytes;
    }
    return null;
  }

  pollTimeout(): number | null {
    if (this.deadlineStale) {
      let t = this.nextHealthMs;
      const live = this.live;
      for (let i = 0; i < live.length; i++) {
        const c = live[i]!;
        if (c.deadlineMs < t) t = c.deadlineMs;
        if (c.attemptEndsMs < t) t = c.attemptEndsMs;
        if (c.nextSendMs < t) t = c.nextSendMs;
        if (c.hedgeAtMs < t) t = c.hedgeAtMs;
      }
      this.deadline = t;
      this.deadlineStale = false;
    }
    return this.deadline === Number.POSITIVE_INFINITY ? null : this.deadline;
  }

  /** Sends a NULL call to every replica; one that left the last check unanswered is out of rotation. */
  private healthRound(now: number): void {
    this.nextHealthMs = now + this.o.healthIntervalMs;
    const w = this.writer;
    for (let r = 0; r < this.addresses.length; r++) {
      if (!this.healthAnswered[r]) this.healthy[r] = false;
      const xid = this.takeXid();
      w.beginWire();
      writeCallHeader(w, xid, COUNTER_PROG, COUNTER_V1, 0, CREDENTIAL);
      this.healthBytes[r] = w.endWire();
      this.healthXid[r] = xid;
      this.healthAnswered[r] = false;
      this.counters.healthChecks++;
      this.sendCall.push(null);
      this.sendTo.push(r);
    }
    this.deadlineStale = true;
  }

  private complete(now: number, c: ReplicaCall, status: RpcStatusCode, message: string): void {
    if (c.done) return;
    c.status = status;
    c.errorMessage = message;
    c.completedAtMs = now;
    this.pending.delete(c.xid | 0);
    const last = this.live.pop()!;
    if (last !== c) {
      this.live[c.liveIndex] = last;
      last.liveIndex = c.liveIndex;
    }
    c.liveIndex = -1;
    this.outstanding[c.target]!--;
    if (c.hedgeTarget !== NO_REPLICA) this.outstanding[c.hedgeTarget]!--;
    const k = this.counters;
    if (status === RpcStatus.SUCCESS) {
      k.callsSucceeded++;
      if (c.answeredBy !== c.firstTarget) k.callsFailedOver++;
      if (c.hedgeTarget !== NO_REPLICA && c.answeredBy === c.hedgeTarget) k.hedgeWins++;
      const ms = now - c.startedAtMs;
      const b = bucketOf(ms);
      this.latency.recordInBucket(b, ms);
      this.intervalLatency.recordInBucket(b, ms);
    } else {
      k.callsFailed++;
      if (status === RpcStatus.TIMEOUT) k.failedTimeout++;
      else k.failedRemote++;
    }
    this.completed.push(c);
    this.deadlineStale = true;
  }
}
