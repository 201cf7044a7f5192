// The RPC server engine, sans-IO: the server stub's dispatcher (svc_getreq and the generated
// *_prog_1 of libtirpc). For each call message it checks, in the order of RFC 5531 (9), the RPC
// version (RPC_MISMATCH), the credentials (AUTH_ERROR), the program (PROG_UNAVAIL), the version
// (PROG_MISMATCH with the range served) and the procedure (PROC_UNAVAIL), decodes the arguments
// (GARBAGE_ARGS), consults the duplicate request cache, runs the handler (SYSTEM_ERR when it
// throws) and encodes the reply. A message that is not a call at all is dropped and counted.
//
// As an Endpoint it serves datagrams (UDP) or records (TCP, through the record-marking driver);
// handleMessage() serves messages of other transports, whose replies go to a ReplySink.

import type { Endpoint } from '../endpoint.js';
import { DuplicateRequestCache, type DrcConfig, type DrcHandle } from './drc.js';
import {
  AcceptStat,
  AuthFlavor,
  AuthStat,
  CallHeader,
  MsgType,
  RPC_VERSION,
  parseAuthSys,
  parseCallBody,
  writeAcceptedReply,
  writeAuthError,
  writeProgMismatch,
  writeRpcMismatch,
  type Credential,
} from './message.js';
import type { RpcCallContext, RpcProgramVersion, ServerProcedure } from './program.js';
import { XdrReader, XdrWriter, wireCopy } from './xdr.js';
import { Fifo } from '../util/fifo.js';

/**
 * Where replies of handleMessage() go. Unless `stable`, the bytes are valid only during the call
 * (copy or send them); stable bytes are never changed again and may be kept.
 */
export interface ReplySink {
  sendReply(bytes: Uint8Array, to: number, stable?: boolean): void;
}

/** Cumulative counters of a server. */
export class RpcServerCounters {
  /** Messages received. */
  messages = 0;
  /** Messages dropped because they are not calls or their header does not parse. */
  malformed = 0;
  /** Calls with a well-formed header. */
  calls = 0;
  /** Replies sent (cached replies included). */
  replies = 0;
  /** Replies by status. */
  success = 0;
  progUnavail = 0;
  progMismatch = 0;
  procUnavail = 0;
  garbageArgs = 0;
  systemErr = 0;
  rpcMismatch = 0;
  authError = 0;
  /** Procedure executions (NULL included). */
  executions = 0;
  /** Calls whose key (client, xid, prog, vers, proc) the server had seen before; the built-in NULL, which bypasses the cache, is not counted. */
  duplicateRequests = 0;
  /** Duplicates answered from the duplicate request cache. */
  cacheHits = 0;
  /** Duplicates dropped because the first copy was still executing. */
  inProgressDrops = 0;
  /** Executions of a request that had already been executed (possible with the cache off). */
  duplicateExecutions = 0;
  /** Replies dropped because too many were waiting to be sent. */
  replyDrops = 0;
  /** Datagram replies refused (answered SYSTEM_ERR) for being more than the allowed multiple of their call. */
  repliesTooLargeForCall = 0;
  /** Datagram replies refused (answered SYSTEM_ERR) for being larger than a datagram can carry. */
  repliesOverDatagramLimit = 0;
}

/** Bounds of replies over a datagram transport, where the caller's address is not proven. */
export interface DatagramReplyLimits {
  /** A reply may be at most this many times the bytes of its call (reflection, amplification). */
  maxReplyToCallRatio: number;
  /** And at most this many bytes (the largest payload of one datagram). */
  maxReplyBytes: number;
}

/**
 * Over UDP a reply goes to whatever address the call claims to come from, so a server must not
 * answer a small call with a large reply: it would amplify a forged call towards a victim (as
 * portmapper DUMP and memcached amplification attacks do). Replies are held to three times their
 * call, as the lab's listeners are; a larger one is answered SYSTEM_ERR, and the caller can use
 * TCP, whose handshake proves its address (DNS's truncation bit does the same, RFC 1035 4.2.1).
 */
export const UDP_REPLY_LIMITS: DatagramReplyLimits = Object.freeze({ maxReplyToCallRatio: 3, maxReplyBytes: 65_507 });

/** How a server engine is set up. */
export interface RpcServerEngineOptions {
  programs: readonly RpcProgramVersion[];
  drc: DrcConfig;
  /** Credential flavors accepted (default AUTH_NONE and AUTH_SYS). */
  authFlavors?: readonly number[];
  /** The socket address of a peer id, for handlers (null in the simulator). */
  peerAddress?: (peer: number) => string | null;
  /** Replies waiting for pollTransmit, at most (default 4096). */
  maxQueuedReplies?: number;
  /** Bounds of replies over a datagram transport (UDP: UDP_REPLY_LIMITS); null or absent for streams and the lab transport. */
  datagramReplies?: DatagramReplyLimits | null;
}

interface VersionTable {
  procedures: Map<number, ServerProcedure>;
}

const NONE_CREDENTIAL: Credential = Object.freeze({ flavor: AuthFlavor.AUTH_NONE });

/** What a handler gets; the peer's address text is made only when a handler asks for it. */
class CallContext implements RpcCallContext {
  constructor(
    private readonly resolve: (peer: number) => string | null,
    readonly peer: number,
    readonly xid: number,
    readonly program: number,
    readonly version: number,
    readonly procedure: number,
    readonly credential: Credential,
    readonly now: number,
  ) {}

  get peerAddress(): string | null {
    return this.resolve(this.peer);
  }
}

/** The server engine. */
export class RpcServerEngine implements Endpoint, ReplySink {
  /** Cumulative counters. */
  readonly counters = new RpcServerCounters();
  /** The duplicate request cache (also the record of requests seen when it is off). */
  readonly drc: DuplicateRequestCache;
  /** Called when an asynchronous handler finished and a reply waits (the driver should run). */
  onWake: (() => void) | null = null;
  /** Last error a handler threw, for logs. */
  lastHandlerError: string | null = null;
  /** The last reply refused by the datagram limits, described for logs. */
  lastRefusedReply: string | null = null;
  transmitTo = 0;

  private readonly programs = new Map<number, Map<number, VersionTable>>();
  private lastProg = -1;
  private lastVers = -1;
  private lastTable: VersionTable | null = null;
  private readonly authFlavors: Set<number>;
  private readonly peerAddress: (peer: number) => string | null;
  private readonly writer = new XdrWriter(1024);
  private readonly reader = new XdrReader();
  private readonly header = new CallHeader();
  // Replies waiting for pollTransmit, and their destinations.
  private readonly outBytes = new Fifo<Uint8Array>();
  private readonly outTo = new Fifo<number>();
  private readonly maxQueued: number;
  private readonly datagramReplies: DatagramReplyLimits | null;

  constructor(o: RpcServerEngineOptions) {
    this.drc = new DuplicateRequestCache({ ...o.drc });
    this.authFlavors = new Set(o.authFlavors ?? [AuthFlavor.AUTH_NONE, AuthFlavor.AUTH_SYS]);
    this.peerAddress = o.peerAddress ?? (() => null);
    this.maxQueued = o.maxQueuedReplies ?? 4096;
    this.datagramReplies = o.datagramReplies ?? null;
    for (const p of o.programs) this.register(p);
  }

  /** Adds a program version (replacing one with the same numbers). */
  register(p: RpcProgramVersion): void {
    this.lastTable = null;
    let versions = this.programs.get(p.program);
    if (versions === undefined) {
      versions = new Map();
      this.programs.set(p.program, versions);
    }
    const procedures = new Map<number, ServerProcedure>();
    for (const sp of p.procedures) {
      const d = sp.descriptor;
      if (d.program !== p.program || d.version !== p.version) throw new Error(`procedure ${d.name} belongs to program ${d.program} version ${d.version}, not ${p.program} version ${p.version}`);
      procedures.set(d.procedure, sp);
    }
    versions.set(p.version, { procedures });
  }

  /** Program and version numbers served. */
  served(): { program: number; version: number }[] {
    const out: { program: number; version: number }[] = [];
    for (const [program, versions] of this.programs) for (const version of versions.keys()) out.push({ program, version });
    return out;
  }

  /** Switches the duplicate request cache on or off, or changes its bounds. */
  configureDrc(c: DrcConfig): void {
    this.drc.reconfigure(c);
  }

  // ---------------------------------------------------------------- Endpoint (datagrams, records)

  handleDatagram(now: number, bytes: Uint8Array, from: number): void {
    this.handleMessage(now, bytes, from, this);
  }

  handleTimeout(): void {}

  pollTransmit(): Uint8Array | null {
    if (this.outTo.length === 0) return null;
    this.transmitTo = this.outTo.shift()!;
    return this.outBytes.shift()!;
  }

  pollTimeout(): number | null {
    return null;
  }

  /** Queues a reply for pollTransmit (copying it unless it is stable). */
  sendReply(bytes: Uint8Array, to: number, stable = false): void {
    if (this.outTo.length >= this.maxQueued) {
      this.counters.replyDrops++;
      return;
    }
    this.outBytes.push(stable ? bytes : wireCopy(bytes));
    this.outTo.push(to);
  }

  // ---------------------------------------------------------------- dispatch

  /** Serves one call message from `from`; the reply, if any, goes to `sink`. Never throws on the message. */
  handleMessage(now: number, bytes: Uint8Array, from: number, sink: ReplySink): void {
    const k = this.counters;
    k.messages++;
    const r = this.reader.reset(bytes);
    const h = this.header;
    h.xid = r.word();
    const type = r.word();
    if (r.error !== null || type !== MsgType.CALL) {
      k.malformed++;
      return;
    }
    if (parseCallBody(r, h) !== null) {
      // libtirpc drops calls whose header does not decode (svc_getreq); so do we.
      k.malformed++;
      return;
    }
    k.calls++;
    const w = this.writer;
    w.beginWire();
    if (h.rpcvers !== RPC_VERSION) {
      writeRpcMismatch(w, h.xid);
      k.rpcMismatch++;
      this.reply(w, from, sink);
      return;
    }
    const credential = this.authenticate(bytes, h);
    if (typeof credential === 'number') {
      writeAuthError(w, h.xid, credential);
      k.authError++;
      this.reply(w, from, sink);
      return;
    }
    // Calls to the program version of the call before need no lookup.
    let table = h.prog === this.lastProg && h.vers === this.lastVers ? this.lastTable : null;
    if (table === null) {
      const versions = this.programs.get(h.prog);
      if (versions === undefined) {
        writeAcceptedReply(w, h.xid, AcceptStat.PROG_UNAVAIL);
        k.progUnavail++;
        this.reply(w, from, sink);
        return;
      }
      table = versions.get(h.vers) ?? null;
      if (table === null) {
        let low = 0xffffffff;
        let high = 0;
        for (const v of versions.keys()) {
          if (v < low) low = v;
          if (v > high) high = v;
        }
        writeProgMismatch(w, h.xid, low, high);
        k.progMismatch++;
        this.reply(w, from, sink);
        return;
      }
      this.lastProg = h.prog;
      this.lastVers = h.vers;
      this.lastTable = table;
    }
    const sp = table.procedures.get(h.proc);
    if (sp === undefined) {
      if (h.proc === 0) {
        // NULL (procedure 0) is answered for every version served, as rpcgen's dispatchers do; it
        // is how `rpcinfo -u` pings a server.
        k.executions++;
        writeAcceptedReply(w, h.xid, AcceptStat.SUCCESS);
        k.success++;
        this.reply(w, from, sink);
        return;
      }
      writeAcceptedReply(w, h.xid, AcceptStat.PROC_UNAVAIL);
      k.procUnavail++;
      this.reply(w, from, sink);
      return;
    }
    let args: unknown;
    try {
      args = sp.descriptor.args.decode(r);
    } catch (e) {
      r.fail((e as Error).message);
    }
    if (r.error !== null) {
      writeAcceptedReply(w, h.xid, AcceptStat.GARBAGE_ARGS);
      k.garbageArgs++;
      this.reply(w, from, sink);
      return;
    }
    // Duplicate request cache: the key is (client, xid, prog, vers, proc).
    const drc = this.drc;
    let entry = drc.find(now, from, h.xid, h.prog, h.vers, h.proc);
    if (entry >= 0) {
      k.duplicateRequests++;
      if (drc.config.enabled) {
        const cached = drc.reply(entry);
        if (cached !== null) {
          k.cacheHits++;
          k.replies++;
          // The duplicate may be smaller than the call the reply was made for (the key is the xid,
          // not the bytes), so the limits are checked against this call.
          if (this.datagramReplies !== null && this.refusal(cached.length, bytes.length) !== null) {
            this.refuseReply(cached.length, bytes.length, h.xid, sp.descriptor.name, from, sink);
            return;
          }
          sink.sendReply(cached, from, false);
          return;
        }
        if (!drc.executed(entry)) {
          k.inProgressDrops++;
          return;
        }
      }
      // Executed again: at-least-once (cache off), or the cached reply was not kept.
      k.duplicateExecutions++;
    } else {
      entry = drc.insert(now, from, h.xid, h.prog, h.vers, h.proc);
    }
    const ctx = new CallContext(this.peerAddress, from, h.xid, h.prog, h.vers, h.proc, credential, now);
    k.executions++;
    let result: unknown;
    try {
      result = sp.handler(args, ctx);
    } catch (e) {
      this.finish(entry, sp, h.xid, from, sink, false, e, bytes.length);
      return;
    }
    if (result !== null && typeof result === 'object' && typeof (result as { then?: unknown }).then === 'function') {
      const xid = h.xid;
      const e = entry;
      const callBytes = bytes.length;
      (result as Promise<unknown>).then(
        (v) => this.finishAsync(e, sp, xid, from, sink, true, v, callBytes),
        (err: unknown) => this.finishAsync(e, sp, xid, from, sink, false, err, callBytes),
      );
      return;
    }
    this.finish(entry, sp, h.xid, from, sink, true, result, bytes.length);
  }

  private finishAsync(entry: DrcHandle, sp: ServerProcedure, xid: number, from: number, sink: ReplySink, ok: boolean, value: unknown, callBytes: number): void {
    this.finish(entry, sp, xid, from, sink, ok, value, callBytes);
    this.onWake?.();
  }

  private finish(entry: DrcHandle, sp: ServerProcedure, xid: number, from: number, sink: ReplySink, ok: boolean, value: unknown, callBytes: number): void {
    const w = this.writer;
    const k = this.counters;
    w.beginWire();
    if (ok) {
      writeAcceptedReply(w, xid, AcceptStat.SUCCESS);
      try {
        sp.descriptor.result.encode(w, value);
        k.success++;
      } catch (e) {
        ok = false;
        value = e;
      }
    }
    if (!ok) {
      this.lastHandlerError = `${sp.descriptor.name}: ${value instanceof Error ? value.message : String(value)}`;
      w.beginWire();
      writeAcceptedReply(w, xid, AcceptStat.SYSTEM_ERR);
      k.systemErr++;
    }
    // Replies are encoded in place into slabs (beginWire): the sink may keep them as they are
    // (stable), and the cache copies what it keeps.
    let out = w.endWire();
    if (this.datagramReplies !== null && this.refusal(out.length, callBytes) !== null) {
      // Refused, and so is every duplicate: the refusal is what the cache keeps.
      this.noteRefusal(out.length, callBytes, sp.descriptor.name, from);
      w.beginWire();
      writeAcceptedReply(w, xid, AcceptStat.SYSTEM_ERR);
      k.systemErr++;
      out = w.endWire();
    }
    this.drc.complete(entry, this.drc.config.enabled ? out : null);
    k.replies++;
    sink.sendReply(out, from, true);
  }

  /** Why a reply of `replyBytes` to a call of `callBytes` may not go out as a datagram, or null. */
  private refusal(replyBytes: number, callBytes: number): 'ratio' | 'datagram' | null {
    const d = this.datagramReplies;
    if (d === null) return null;
    if (replyBytes > d.maxReplyBytes) return 'datagram';
    return replyBytes > d.maxReplyToCallRatio * callBytes ? 'ratio' : null;
  }

  /** Counts and describes a refused reply. */
  private noteRefusal(replyBytes: number, callBytes: number, name: string, from: number): void {
    const d = this.datagramReplies!;
    const why = this.refusal(replyBytes, callBytes) === 'datagram' ? `larger than a datagram carries (${d.maxReplyBytes} bytes)` : `more than ${d.maxReplyToCallRatio} times the call`;
    if (replyBytes > d.maxReplyBytes) this.counters.repliesOverDatagramLimit++;
    else this.counters.repliesTooLargeForCall++;
    const who = this.peerAddress(from);
    this.lastRefusedReply = `${name}: a ${replyBytes}-byte reply to a ${callBytes}-byte call${who === null ? '' : ` from ${who}`} is ${why}; answered SYSTEM_ERR (the caller can use TCP)`;
  }

  /** Answers SYSTEM_ERR instead of a reply the limits refuse. */
  private refuseReply(replyBytes: number, callBytes: number, xid: number, name: string, from: number, sink: ReplySink): void {
    this.noteRefusal(replyBytes, callBytes, name, from);
    const w = this.writer;
    w.beginWire();
    writeAcceptedReply(w, xid, AcceptStat.SYSTEM_ERR);
    this.counters.systemErr++;
    sink.sendReply(w.endWire(), from, true);
  }

  // Error replies (mismatches, auth errors, PROC_UNAVAIL, ...) are at most 32 bytes, under three
  // times the smallest call that parses (40 bytes): no datagram limit can refuse them.
  private reply(w: XdrWriter, to: number, sink: ReplySink): void {
    this.counters.replies++;
    sink.sendReply(w.endWire(), to, true);
  }

  /** The caller's credential, or the auth_stat that rejects it (RFC 5531 (9)). */
  private authenticate(bytes: Uint8Array, h: CallHeader): Credential | number {
    if (h.credFlavor === AuthFlavor.AUTH_NONE) {
      return this.authFlavors.has(AuthFlavor.AUTH_NONE) ? NONE_CREDENTIAL : AuthStat.AUTH_TOOWEAK;
    }
    if (h.credFlavor === AuthFlavor.AUTH_SYS) {
      if (!this.authFlavors.has(AuthFlavor.AUTH_SYS)) return AuthStat.AUTH_REJECTEDCRED;
      const sys = parseAuthSys(bytes.subarray(h.credStart, h.credEnd));
      return sys === null ? AuthStat.AUTH_BADCRED : { flavor: AuthFlavor.AUTH_SYS, sys };
    }
    // Flavors this server does not implement (AUTH_DH, RPCSEC_GSS, ...), as libtirpc answers them.
    return AuthStat.AUTH_REJECTEDCRED;
  }
}
