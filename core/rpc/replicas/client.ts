// The client run-time of a replicated service, sans-IO: one RPC client that knows every replica
// (from the binder) and decides, by its policy, where each call goes and what happens when a
// replica does not answer.
//
//   fixed               every call to the first replica; no failover (a crash is an outage)
//   failover            every call to the current replica; a call unanswered for failoverMs (the
//                       detection time) goes again to the next replica, which becomes current
//
// A call keeps its XID on every replica, as a retransmission does, so that a duplicate request
// cache the replicas share recognises it. A call is answered to the application once, by the
// first reply; pollCompleted() hands it over.

import type { Endpoint } from '../../endpoint.js';
import { Fifo } from '../../util/fifo.js';
import { Rng } from '../../util/rng.js';
import { LatencyHistogram, bucketOf } from '../histogram.js';
import { AcceptStat, AuthFlavor, MsgType, ReplyHeader, ReplyStat, encodeCredential, parseReplyBody, writeCallHeader } from '../message.js';
import type { ProcedureDescriptor } from '../program.js';
import { RpcStatus, type RpcStatusCode } from '../client.js';
import { XdrReader, XdrWriter } from '../xdr.js';

/** Client policies, as the knob lists them. */
export const CLIENT_POLICIES = ['fixed', 'failover'] as const;
/** One client policy. */
export type ClientPolicy = (typeof CLIENT_POLICIES)[number];

/** Labels of the policies, for people. */
export const CLIENT_POLICY_LABELS: Readonly<Record<ClientPolicy, string>> = {
  fixed: 'one fixed server (no failover)',
  failover: 'failover to the next replica on timeout',
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
  /** Replies to calls already answered (a late replica, a duplicate) or to none. */
  lateReplies = 0;
  /** Replies that do not parse. */
  malformedReplies = 0;
}

/** One call of the application. */
export class ReplicaCall {
  xid = 0;
  procedure!: ProcedureDescriptor<unknown, unknown>;
  args: unknown = undefined;
  bytes: Uint8Array = new Uint8Array(0);
  startedAtMs = 0;
  deadlineMs = 0;
  /** Replica (index) the call goes to now. */
  target = 0;
  /** Replica the call went to first. */
  firstTarget = 0;
  /** When the current replica is given up, and the next retransmission. */
  attemptEndsMs = 0;
  nextSendMs = 0;
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
  /** Calls outstanding at each replica. */
  outstanding: number[] = [];
  /** Whether each replica is believed up (a timeout says no, an answer yes). */
  healthy: boolean[] = [];
  private current = 0;
  private nextXid: number;
  private readonly pending = new Map<number, ReplicaCall>();
  private readonly sendCall = new Fifo<ReplicaCall>();
  private readonly sendTo = new Fifo<number>();
  private readonly completed = new Fifo<ReplicaCall>();
  private readonly spare: ReplicaCall[] = [];
  private readonly writer = new XdrWriter(512);
  private readonly reader = new XdrReader();
  private readonly reply = new ReplyHeader();
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

  /** Sets the replicas (the binder's answer). */
  setReplicas(_now: number, addresses: readonly number[]): void {
    if (addresses.length === 0) throw new RangeError('setReplicas: no replica');
    this.addresses = [...addresses];
    this.outstanding = addresses.map(() => 0);
    this.healthy = addresses.map(() => true);
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
    this.pending.set(xid | 0, c);
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
    while (this.pending.has(xid | 0)) xid = (xid + 1) >>> 0;
    this.nextXid = (xid + 1) >>> 0;
    return xid;
  }

  /** The replica a call goes to, other than `not` (-1: any), by the policy. */
  private pick(not: number): number {
    const n = this.addresses.length;
    if (this.o.policy === 'fixed') return 0;
    if (this.current !== not) return this.current;
    // The next replica not known to be down, or simply the next one.
    for (let k = 1; k <= n; k++) {
      const r = (this.current + k) % n;
      if (r !== not && this.healthy[r]) return (this.current = r);
    }
    return (this.current = (this.current + 1) % n);
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
      this.complete(now, c, h.rejectStat === 0 ? RpcStatus.RPC_MISMATCH : RpcStatus.AUTH_ERROR, 'the replica refused the call');
      return;
    }
    if (h.acceptStat !== AcceptStat.SUCCESS) {
      this.complete(now, c, h.acceptStat as RpcStatusCode, `the replica answered accept_stat ${h.acceptStat}`);
      return;
    }
    let result: unknown;
    try {
      result = c.procedure.result.decode(r);
    } catch (e) {
      r.fail((e as Error).message);
    }
    if (r.error !== null) {
      this.complete(now, c, RpcStatus.CANT_DECODE_RESULT, `${c.procedure.name}: the result does not decode: ${r.error}`);
      return;
    }
    c.result = result;
    this.complete(now, c, RpcStatus.SUCCESS, '');
  }

  handleTimeout(now: number): void {
    for (const c of this.pending.values()) {
      if (c.done) continue;
      if (now >= c.deadlineMs) {
        this.complete(now, c, RpcStatus.TIMEOUT, `${c.procedure.name}: no answer within ${this.o.timeoutMs} ms`);
        continue;
      }
      if (now >= c.attemptEndsMs) {
        // The replica did not answer within the detection time: believed down, and the call goes on.
        const gone = c.target;
        this.healthy[gone] = false;
        this.counters.failovers++;
        this.attempt(now, c, this.pick(gone));
        continue;
      }
      if (now >= c.nextSendMs) {
        this.counters.retransmissions++;
        this.send(c, c.target);
        c.nextSendMs = now + this.o.retryIntervalMs;
      }
    }
    this.deadlineStale = true;
  }

  pollTransmit(): Uint8Array | null {
    for (let c = this.sendCall.shift(); c !== undefined; c = this.sendCall.shift()) {
      const r = this.sendTo.shift()!;
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
      let t = Number.POSITIVE_INFINITY;
      for (const c of this.pending.values()) {
        if (c.deadlineMs < t) t = c.deadlineMs;
        if (c.attemptEndsMs < t) t = c.attemptEndsMs;
        if (c.nextSendMs < t) t = c.nextSendMs;
      }
      this.deadline = t;
      this.deadlineStale = false;
    }
    return this.deadline === Number.POSITIVE_INFINITY ? null : this.deadline;
  }

  private complete(now: number, c: ReplicaCall, status: RpcStatusCode, message: string): void {
    if (c.done) return;
    c.status = status;
    c.errorMessage = message;
    c.completedAtMs = now;
    this.pending.delete(c.xid | 0);
    this.outstanding[c.target]!--;
    const k = this.counters;
    if (status === RpcStatus.SUCCESS) {
      k.callsSucceeded++;
      if (c.answeredBy !== c.firstTarget) k.callsFailedOver++;
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
