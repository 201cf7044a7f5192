// The RPC client engine, sans-IO. It turns calls into messages, matches replies by XID, and on
// datagram transports retransmits the same message (same XID, so a server's duplicate request
// cache can recognise it) at an interval that backs off, until the call's total deadline, as
// libtirpc's clnt_dg does. On stream transports (TCP, the lab transport) it never retransmits: the
// transport does, and only the deadline applies.
//
//   call(now, proc, args)   starts a call; its message goes out through pollTransmit()
//   handleDatagram(now, b)  a reply (one datagram, one TCP record or one lab message)
//   handleTimeout(now)      retransmissions and deadlines
//   pollCompleted()         finished calls: result, or the status that says why not
//
// Remote rejects (the server's reply said so) and transport failures (timeout, unreachable,
// shutdown) get different statuses, and become RpcRemoteError or RpcTransportError.

import type { Endpoint } from '../endpoint.js';
import { Fifo } from '../util/fifo.js';
import { Rng } from '../util/rng.js';
import { LatencyHistogram, bucketOf } from './histogram.js';
import { AcceptStat, AuthFlavor, MsgType, RejectStat, ReplyHeader, ReplyStat, authStatName, encodeCredential, parseReplyBody, writeCallHeader, type Credential } from './message.js';
import type { ProcedureDescriptor } from './program.js';
import { XdrReader, XdrWriter } from './xdr.js';

/**
 * Decodes the result of a SUCCESS reply with the procedure's codec. A decoder that throws on the
 * peer's bytes marks the reader failed instead: the caller checks `r.error` (no object per reply).
 */
export function decodeResult(p: ProcedureDescriptor<unknown, unknown>, r: XdrReader): unknown {
  try {
    return p.result.decode(r);
  } catch (e) {
    r.fail((e as Error).message);
    return undefined;
  }
}

/** How a call ended (the first six match accept_stat). */
export const RpcStatus = {
  SUCCESS: 0,
  PROG_UNAVAIL: 1,
  PROG_MISMATCH: 2,
  PROC_UNAVAIL: 3,
  GARBAGE_ARGS: 4,
  SYSTEM_ERR: 5,
  RPC_MISMATCH: 6,
  AUTH_ERROR: 7,
  /** The reply said SUCCESS but its results do not decode as the declared type. */
  CANT_DECODE_RESULT: 8,
  TIMEOUT: 9,
  UNREACHABLE: 10,
  SHUTDOWN: 11,
} as const;
/** One of RpcStatus. */
export type RpcStatusCode = (typeof RpcStatus)[keyof typeof RpcStatus];

/** Names of the statuses, indexed by code. */
export const RPC_STATUS_NAMES = ['SUCCESS', 'PROG_UNAVAIL', 'PROG_MISMATCH', 'PROC_UNAVAIL', 'GARBAGE_ARGS', 'SYSTEM_ERR', 'RPC_MISMATCH', 'AUTH_ERROR', 'CANT_DECODE_RESULT', 'TIMEOUT', 'UNREACHABLE', 'SHUTDOWN'] as const;

/** Kinds of remote rejection. */
export type RemoteErrorKind = 'PROG_UNAVAIL' | 'PROG_MISMATCH' | 'PROC_UNAVAIL' | 'GARBAGE_ARGS' | 'SYSTEM_ERR' | 'RPC_MISMATCH' | 'AUTH_ERROR' | 'CANT_DECODE_RESULT';
/** Kinds of transport failure. */
export type TransportErrorKind = 'timeout' | 'unreachable' | 'shutdown';

/** The server answered, and the answer was a rejection. */
export class RpcRemoteError extends Error {
  override readonly name = 'RpcRemoteError';
  constructor(
    readonly kind: RemoteErrorKind,
    message: string,
    /** Lowest and highest versions the server has (PROG_MISMATCH, RPC_MISMATCH). */
    readonly low: number | null = null,
    readonly high: number | null = null,
    /** auth_stat of AUTH_ERROR. */
    readonly authStat: number | null = null,
  ) {
    super(message);
  }
}

/** No answer came: the call timed out, the server is unreachable, or the client shut down. */
export class RpcTransportError extends Error {
  override readonly name = 'RpcTransportError';
  constructor(
    readonly kind: TransportErrorKind,
    message: string,
  ) {
    super(message);
  }
}

/** Timeouts and retransmissions of calls. */
export interface RetryPolicy {
  /** Total time a call may take, retransmissions included (clnt_call's timeout). */
  timeoutMs: number;
  /** First retransmission interval on datagram transports (clnt_dg's wait); 0 sends once. */
  retryIntervalMs: number;
  /** Factor applied to the interval after each retransmission (libtirpc doubles; 1 keeps it fixed). */
  retryBackoff: number;
  /** Upper bound of the interval after backoff (libtirpc: 30 s). */
  retryIntervalMsMax: number;
  /** Most retransmissions of one call; after the last the call waits for its deadline. */
  maxRetransmissions: number;
}

/** Defaults of the lab: a 1 s first interval doubling up to 8 s, 10 s per call, 10 retransmissions at most. */
export const DEFAULT_RETRY_POLICY: Readonly<RetryPolicy> = Object.freeze({
  timeoutMs: 10_000,
  retryIntervalMs: 1000,
  retryBackoff: 2,
  retryIntervalMsMax: 8000,
  maxRetransmissions: 10,
});

/** Bounds that keep a client from becoming a flood tool. */
export const RETRY_POLICY_LIMITS = {
  timeoutMs: [1, 3_600_000],
  retryIntervalMs: [1, 600_000],
  retryBackoff: [1, 8],
  retryIntervalMsMax: [1, 600_000],
  maxRetransmissions: [0, 100],
} as const;

/** What is wrong with a policy (empty when it is fine); each problem names the field. */
export function retryPolicyProblems(p: RetryPolicy): string[] {
  const out: string[] = [];
  for (const [k, [lo, hi]] of Object.entries(RETRY_POLICY_LIMITS) as [keyof RetryPolicy, readonly [number, number]][]) {
    const v = p[k];
    if (k === 'retryIntervalMs' && v === 0) continue;
    if (typeof v !== 'number' || !Number.isFinite(v) || v < lo || v > hi) out.push(`${k} must be from ${lo} to ${hi}${k === 'retryIntervalMs' ? ' (or 0 for no retransmissions)' : ''} (got ${v})`);
  }
  if (!Number.isInteger(p.maxRetransmissions)) out.push(`maxRetransmissions must be a whole number (got ${p.maxRetransmissions})`);
  if (p.retryIntervalMsMax < p.retryIntervalMs) out.push(`retryIntervalMsMax (${p.retryIntervalMsMax}) must not be below retryIntervalMs (${p.retryIntervalMs})`);
  return out;
}

/** Cumulative counters of a client. */
export class RpcClientCounters {
  /** Calls started. */
  callsStarted = 0;
  /** Calls that got a SUCCESS reply with results that decode. */
  callsSucceeded = 0;
  /** Calls that ended otherwise. */
  callsFailed = 0;
  /** Failed calls by cause. */
  failedTimeout = 0;
  failedUnreachable = 0;
  failedShutdown = 0;
  failedProgUnavail = 0;
  failedProgMismatch = 0;
  failedProcUnavail = 0;
  failedGarbageArgs = 0;
  failedSystemErr = 0;
  failedRpcMismatch = 0;
  failedAuthError = 0;
  failedCantDecode = 0;
  /** Transmissions of call messages, first ones included. */
  transmissions = 0;
  /** Of those, retransmissions. */
  retransmissions = 0;
  /** Sum over completed calls of their transmissions (attempts per call = this / completed). */
  attemptsOfCompleted = 0;
  /** Replies for no pending call (duplicates, or replies after the call gave up). */
  strayReplies = 0;
  /** Messages that are not well-formed replies. */
  malformedReplies = 0;
}

const FAILED_FIELD: Record<number, keyof RpcClientCounters> = {
  1: 'failedProgUnavail',
  2: 'failedProgMismatch',
  3: 'failedProcUnavail',
  4: 'failedGarbageArgs',
  5: 'failedSystemErr',
  6: 'failedRpcMismatch',
  7: 'failedAuthError',
  8: 'failedCantDecode',
  9: 'failedTimeout',
  10: 'failedUnreachable',
  11: 'failedShutdown',
};

/** One call, from start to completion. Fields are read by the owner once it is completed. */
export class RpcCall {
  xid = 0;
  procedure: ProcedureDescriptor<unknown, unknown>;
  args: unknown;
  /** The encoded call message (kept for retransmissions). */
  bytes: Uint8Array;
  startedAtMs = 0;
  deadlineMs = 0;
  /** Next timer of this call: a retransmission or the deadline. */
  nextAtMs = 0;
  intervalMs = 0;
  /** Transmissions so far. */
  attempts = 0;
  /** RpcStatus once completed, -1 before. */
  status = -1;
  result: unknown = undefined;
  /** Why it failed, in words. */
  errorMessage = '';
  low = 0;
  high = 0;
  authStat = 0;
  completedAtMs = Number.NaN;
  /** Free for the owner (a workload's bookkeeping). */
  owner: unknown = null;
  /** The promise's settle functions, when the owner made one (RpcClient). */
  resolve: ((v: unknown) => void) | null = null;
  reject: ((e: unknown) => void) | null = null;
  /** Position in the timer heap, -1 when not in it. */
  heapIndex = -1;
  /** Waiting in the transmit queue. */
  queued = false;
  /** Sent at least once (counts against the calls in flight). */
  inFlight = false;
  /** Was ever launched (left the backlog); a call that never did may still sit in it. */
  launched = false;

  constructor(procedure: ProcedureDescriptor<unknown, unknown>, args: unknown, bytes: Uint8Array) {
    this.procedure = procedure;
    this.args = args;
    this.bytes = bytes;
  }

  /** True once the call has ended. */
  get done(): boolean {
    return this.status >= 0;
  }

  /** The error a failed call rejects with; null for SUCCESS. */
  error(): RpcRemoteError | RpcTransportError | null {
    const s = this.status;
    if (s === RpcStatus.SUCCESS || s < 0) return null;
    if (s === RpcStatus.TIMEOUT) return new RpcTransportError('timeout', this.errorMessage);
    if (s === RpcStatus.UNREACHABLE) return new RpcTransportError('unreachable', this.errorMessage);
    if (s === RpcStatus.SHUTDOWN) return new RpcTransportError('shutdown', this.errorMessage);
    const kind = RPC_STATUS_NAMES[s] as RemoteErrorKind;
    const range = s === RpcStatus.PROG_MISMATCH || s === RpcStatus.RPC_MISMATCH;
    return new RpcRemoteError(kind, this.errorMessage, range ? this.low : null, range ? this.high : null, s === RpcStatus.AUTH_ERROR ? this.authStat : null);
  }
}

const EMPTY = new Uint8Array(0);

/** How a client engine is set up. */
export interface RpcClientEngineOptions {
  /** Address of the server (the destination of every message). */
  server: number;
  policy: RetryPolicy;
  /** Datagram transport: retransmit (UDP). Stream transports (TCP, lab transport) do not. */
  retransmit: boolean;
  credential?: Credential;
  /** Seed of the first XID. */
  rngSeed: number;
  /** Calls sent and not yet answered, at most; more wait in a backlog (default 1024). */
  maxCallsInFlight?: number;
  /** Calls waiting in the backlog, at most; call() throws beyond (default 65536). */
  maxBacklog?: number;
}

/** The client engine. */
export class RpcClientEngine implements Endpoint {
  /** Cumulative counters. */
  readonly counters = new RpcClientCounters();
  /** Latency of successful calls since creation. */
  readonly latency = new LatencyHistogram();
  /** Latency of successful calls since the owner last reset it (per-interval samples). */
  readonly intervalLatency = new LatencyHistogram();
  readonly transmitTo: number;

  private policy: RetryPolicy;
  private readonly retransmit: boolean;
  private readonly credential: Uint8Array;
  private nextXid: number;
  // Pending calls by XID as a signed 32-bit number (xid | 0): a small integer to the engine, where
  // an XID above 2^31 would be a boxed number allocated for every set.
  private readonly pending = new Map<number, RpcCall>();
  private readonly heap: RpcCall[] = [];
  private readonly sendQueue = new Fifo<RpcCall>();
  private readonly backlog = new Fifo<RpcCall>();
  private readonly completed = new Fifo<RpcCall>();
  private inFlightCount = 0;
  private readonly maxInFlight: number;
  private readonly maxBacklog: number;
  private readonly writer = new XdrWriter(512);
  private readonly reader = new XdrReader();
  private readonly reply = new ReplyHeader();
  private closed = false;

  constructor(o: RpcClientEngineOptions) {
    const problems = retryPolicyProblems(o.policy);
    if (problems.length > 0) throw new RangeError(`retry policy: ${problems.join('; ')}`);
    this.transmitTo = o.server;
    this.policy = { ...o.policy };
    this.retransmit = o.retransmit;
    this.credential = encodeCredential(o.credential ?? { flavor: AuthFlavor.AUTH_NONE });
    this.nextXid = new Rng(o.rngSeed).uint32();
    this.maxInFlight = o.maxCallsInFlight ?? 1024;
    this.maxBacklog = o.maxBacklog ?? 65536;
  }

  /** Calls started and not yet completed (in flight or waiting in the backlog). */
  get pendingCalls(): number {
    return this.pending.size;
  }

  /** Calls sent and not yet completed. */
  get callsInFlight(): number {
    return this.inFlightCount;
  }

  /** The retry policy in force. */
  get retryPolicy(): RetryPolicy {
    return { ...this.policy };
  }

  /** Changes the retry policy; calls already started keep theirs. Throws on values out of range. */
  setRetryPolicy(p: RetryPolicy): void {
    const problems = retryPolicyProblems(p);
    if (problems.length > 0) throw new RangeError(`retry policy: ${problems.join('; ')}`);
    this.policy = { ...p };
  }

  /**
   * Starts a call. Throws XdrEncodeError when `args` does not fit the procedure's argument type,
   * and RangeError when the backlog is full or the client is closed (caller mistakes).
   */
  call(now: number, proc: ProcedureDescriptor<unknown, unknown>, args: unknown, timeoutMs = this.policy.timeoutMs): RpcCall {
    if (this.closed) throw new RangeError('call() on a closed RPC client');
    if (this.pending.size - this.inFlightCount >= this.maxBacklog) throw new RangeError(`more than ${this.maxBacklog} calls are waiting to be sent`);
    let xid = this.nextXid;
    while (this.pending.has(xid | 0)) xid = (xid + 1) >>> 0;
    this.nextXid = (xid + 1) >>> 0;
    // Encoded in place into a slab: the message is kept for retransmissions and sent without a copy.
    const w = this.writer;
    w.beginWire();
    writeCallHeader(w, xid, proc.program, proc.version, proc.procedure, this.credential);
    proc.args.encode(w, args);
    const bytes = w.endWire();
    const c = this.spare.pop() ?? new RpcCall(proc, args, bytes);
    c.procedure = proc;
    c.args = args;
    c.bytes = bytes;
    c.xid = xid;
    c.startedAtMs = now;
    c.deadlineMs = now + timeoutMs;
    c.nextAtMs = c.deadlineMs;
    c.intervalMs = this.policy.retryIntervalMs;
    this.pending.set(xid | 0, c);
    this.heapPush(c);
    this.counters.callsStarted++;
    if (this.inFlightCount < this.maxInFlight) this.launch(c);
    else this.backlog.push(c);
    return c;
  }

  private launch(c: RpcCall): void {
    c.inFlight = true;
    c.launched = true;
    this.inFlightCount++;
    this.enqueue(c);
  }

  private enqueue(c: RpcCall): void {
    if (c.queued) return;
    c.queued = true;
    this.sendQueue.push(c);
  }

  /**
   * Gives a completed call back for reuse (an owner that is done with it, such as RpcClient after
   * settling its promise): at high call rates this spares the garbage collector. Calls still
   * referenced by a queue of the engine are not reused.
   */
  recycle(c: RpcCall): void {
    if (!c.done || c.queued || !c.launched || c.heapIndex >= 0 || this.spare.length >= 256) return;
    c.launched = false;
    c.args = undefined;
    c.result = undefined;
    c.bytes = EMPTY;
    c.owner = null;
    c.resolve = null;
    c.reject = null;
    c.status = -1;
    c.attempts = 0;
    c.errorMessage = '';
    c.completedAtMs = Number.NaN;
    this.spare.push(c);
  }

  private readonly spare: RpcCall[] = [];

  /** The next finished call, or null. */
  pollCompleted(): RpcCall | null {
    return this.completed.shift() ?? null;
  }

  /**
   * Ends every pending call with a transport status (UNREACHABLE, SHUTDOWN), as when the
   * connection failed or the client closes. With `close`, later calls throw.
   */
  failAll(now: number, status: typeof RpcStatus.UNREACHABLE | typeof RpcStatus.SHUTDOWN | typeof RpcStatus.TIMEOUT, message: string, close = false): void {
    if (close) this.closed = true;
    for (const c of [...this.pending.values()]) this.complete(now, c, status, message);
  }

  handleDatagram(now: number, bytes: Uint8Array, from: number): void {
    const r = this.reader.reset(bytes);
    const xid = r.word();
    const type = r.word();
    if (r.error !== null || type !== MsgType.REPLY) {
      this.counters.malformedReplies++;
      return;
    }
    const c = this.pending.get(xid | 0);
    if (c === undefined || from !== this.transmitTo) {
      this.counters.strayReplies++;
      return;
    }
    const h = this.reply;
    h.xid = xid;
    if (parseReplyBody(r, h) !== null) {
      // A damaged reply: keep waiting (a retransmission or the deadline settles the call).
      this.counters.malformedReplies++;
      return;
    }
    if (h.replyStat === ReplyStat.MSG_DENIED) {
      if (h.rejectStat === RejectStat.RPC_MISMATCH) {
        c.low = h.low;
        c.high = h.high;
        this.complete(now, c, RpcStatus.RPC_MISMATCH, `the server speaks RPC versions ${h.low} to ${h.high}, not 2 (RPC_MISMATCH)`);
      } else {
        c.authStat = h.authStat;
        this.complete(now, c, RpcStatus.AUTH_ERROR, `the server refused the credentials: ${authStatName(h.authStat)} (AUTH_ERROR)`);
      }
      return;
    }
    const p = c.procedure;
    switch (h.acceptStat) {
      case AcceptStat.SUCCESS: {
        const result = decodeResult(p as ProcedureDescriptor<unknown, unknown>, r);
        if (r.error !== null) {
          this.complete(now, c, RpcStatus.CANT_DECODE_RESULT, `${p.name}: the result does not decode as declared: ${r.error}`);
          return;
        }
        c.result = result;
        this.complete(now, c, RpcStatus.SUCCESS, '');
        return;
      }
      case AcceptStat.PROG_UNAVAIL:
        this.complete(now, c, RpcStatus.PROG_UNAVAIL, `program ${p.program} is not served there (PROG_UNAVAIL)`);
        return;
      case AcceptStat.PROG_MISMATCH:
        c.low = h.low;
        c.high = h.high;
        this.complete(now, c, RpcStatus.PROG_MISMATCH, `program ${p.program} is served in versions ${h.low} to ${h.high}, not ${p.version} (PROG_MISMATCH)`);
        return;
      case AcceptStat.PROC_UNAVAIL:
        this.complete(now, c, RpcStatus.PROC_UNAVAIL, `procedure ${p.procedure} (${p.name}) is not served by program ${p.program} version ${p.version} (PROC_UNAVAIL)`);
        return;
      case AcceptStat.GARBAGE_ARGS:
        this.complete(now, c, RpcStatus.GARBAGE_ARGS, `the server could not decode the arguments of ${p.name} (GARBAGE_ARGS)`);
        return;
      default:
        this.complete(now, c, RpcStatus.SYSTEM_ERR, `the server failed while running ${p.name} (SYSTEM_ERR)`);
    }
  }

  handleTimeout(now: number): void {
    const heap = this.heap;
    while (heap.length > 0 && heap[0]!.nextAtMs <= now) {
      const c = heap[0]!;
      if (now >= c.deadlineMs) {
        const tries = c.attempts === 1 ? 'one transmission' : `${c.attempts} transmissions`;
        this.complete(now, c, RpcStatus.TIMEOUT, `${c.procedure.name}: no reply within ${c.deadlineMs - c.startedAtMs} ms (${c.attempts === 0 ? 'never sent: too many calls in flight' : tries}) (timeout)`);
        continue;
      }
      // A retransmission is due: it is queued, and its next timer is set when it goes out.
      if (this.retransmit && c.inFlight && c.attempts > 0 && c.attempts <= this.policy.maxRetransmissions && this.policy.retryIntervalMs > 0) {
        this.enqueue(c);
      }
      c.nextAtMs = c.deadlineMs;
      this.heapFix(c);
    }
  }

  pollTransmit(now: number): Uint8Array | null {
    for (let c = this.sendQueue.shift(); c !== undefined; c = this.sendQueue.shift()) {
      c.queued = false;
      if (c.done) continue;
      c.attempts++;
      this.counters.transmissions++;
      if (c.attempts > 1) this.counters.retransmissions++;
      if (this.retransmit && c.intervalMs > 0 && c.attempts <= this.policy.maxRetransmissions) {
        // RFC 5531 leaves retransmission to the client; libtirpc's clnt_dg backs the interval off.
        const at = now + c.intervalMs;
        c.intervalMs = Math.min(c.intervalMs * this.policy.retryBackoff, this.policy.retryIntervalMsMax);
        c.nextAtMs = Math.min(at, c.deadlineMs);
        this.heapFix(c);
      }
      return c.bytes;
    }
    return null;
  }

  pollTimeout(): number | null {
    return this.heap.length > 0 ? this.heap[0]!.nextAtMs : null;
  }

  private complete(now: number, c: RpcCall, status: RpcStatusCode, message: string): void {
    if (c.done) return;
    c.status = status;
    c.errorMessage = message;
    c.completedAtMs = now;
    this.pending.delete(c.xid | 0);
    this.heapRemove(c);
    const k = this.counters;
    k.attemptsOfCompleted += c.attempts;
    if (status === RpcStatus.SUCCESS) {
      k.callsSucceeded++;
      const ms = now - c.startedAtMs;
      const b = bucketOf(ms);
      this.latency.recordInBucket(b, ms);
      this.intervalLatency.recordInBucket(b, ms);
    } else {
      k.callsFailed++;
      (k[FAILED_FIELD[status]!] as number)++;
    }
    if (c.inFlight) {
      c.inFlight = false;
      this.inFlightCount--;
      // A slot is free: the oldest waiting call goes out.
      while (this.backlog.length > 0 && this.inFlightCount < this.maxInFlight) {
        const next = this.backlog.shift()!;
        if (!next.done) this.launch(next);
      }
    }
    this.completed.push(c);
  }

  // ---------------------------------------------------------------- timer heap (by nextAtMs)

  private heapPush(c: RpcCall): void {
    c.heapIndex = this.heap.length;
    this.heap.push(c);
    this.siftUp(c.heapIndex);
  }

  private heapRemove(c: RpcCall): void {
    const i = c.heapIndex;
    if (i < 0) return;
    const heap = this.heap;
    const last = heap.pop()!;
    c.heapIndex = -1;
    if (last !== c) {
      heap[i] = last;
      last.heapIndex = i;
      this.siftDown(i);
      this.siftUp(last.heapIndex);
    }
  }

  private heapFix(c: RpcCall): void {
    if (c.heapIndex < 0) return;
    this.siftDown(c.heapIndex);
    this.siftUp(c.heapIndex);
  }

  private siftUp(i: number): void {
    const heap = this.heap;
    const c = heap[i]!;
    while (i > 0) {
      const p = (i - 1) >> 1;
      const parent = heap[p]!;
      if (parent.nextAtMs <= c.nextAtMs) break;
      heap[i] = parent;
      parent.heapIndex = i;
      i = p;
    }
    heap[i] = c;
    c.heapIndex = i;
  }

  private siftDown(i: number): void {
    const heap = this.heap;
    const n = heap.length;
    const c = heap[i]!;
    for (;;) {
      const l = 2 * i + 1;
      if (l >= n) break;
      const r = l + 1;
      const m = r < n && heap[r]!.nextAtMs < heap[l]!.nextAtMs ? r : l;
      if (heap[m]!.nextAtMs >= c.nextAtMs) break;
      heap[i] = heap[m]!;
      heap[i]!.heapIndex = i;
      i = m;
    }
    heap[i] = c;
    c.heapIndex = i;
  }
}
