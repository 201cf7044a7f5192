import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { RpcClientEngine, RpcRemoteError, RpcStatus, RpcTransportError, type RetryPolicy, type RpcCall } from '../core/rpc/client.js';
import { RpcServerEngine, UDP_REPLY_LIMITS, type ReplySink } from '../core/rpc/server.js';
import { AcceptStat, AuthFlavor, AuthStat, MsgType, ReplyHeader, parseReplyBody, writeCallHeader, encodeCredential, type Credential } from '../core/rpc/message.js';
import { serverProcedure, type ProcedureDescriptor, type RpcCallContext, type RpcProgramVersion } from '../core/rpc/program.js';
import { XDR_MAX_DEPTH, XdrEncodeError, XdrReader, XdrWriter, xdrInt, xdrVoid, type XdrCodec } from '../core/rpc/xdr.js';
import { KvProgV1, xdrKvListPtr, type KvListPtr } from '../core/rpc/programs/kv.js';
import { KV_SERVER_MAX_ENTRIES, KvService } from '../core/rpc/programs/kv-server.js';
import { MAX_FRAGMENTS_PER_RECORD, RecordDecoder, frameRecord } from '../core/rpc/record-marking.js';
import { nullProcedure } from '../net/rpc/client-net.js';
import { CounterProgV1 } from '../core/rpc/programs/counter.js';
import { CounterService } from '../core/rpc/programs/counter-server.js';
import { xdrTypesAll } from '../experiments/rpc/types.js';
import { TypesService } from '../experiments/rpc/types-server.js';
import { RPC_SIZES } from '../bench/rpc-child.js';

type Fate = 'deliver' | 'drop' | 'duplicate';
interface Flight {
  at: number;
  order: number;
  to: 'client' | 'server';
  bytes: Uint8Array;
}

/** A client engine (address 0) and a server engine (address 1) in virtual time. */
class RpcPair {
  now = 0;
  latencyMs = 5;
  callFate: (n: number, bytes: Uint8Array) => Fate = () => 'deliver';
  replyFate: (n: number, bytes: Uint8Array) => Fate = () => 'deliver';
  /** Times at which the client transmitted, and the XIDs. */
  readonly callsSent: { at: number; xid: number }[] = [];
  readonly repliesSent: { at: number; bytes: Uint8Array }[] = [];
  private flight: Flight[] = [];
  private order = 0;

  constructor(
    readonly client: RpcClientEngine,
    readonly server: RpcServerEngine,
  ) {}

  private flush(): void {
    for (let b = this.client.pollTransmit(this.now); b !== null; b = this.client.pollTransmit(this.now)) {
      const bytes = Uint8Array.from(b);
      this.callsSent.push({ at: this.now, xid: new DataView(bytes.buffer).getUint32(0) });
      this.send('server', bytes, this.callFate(this.callsSent.length - 1, bytes));
    }
    for (let b = this.server.pollTransmit(); b !== null; b = this.server.pollTransmit()) {
      const bytes = Uint8Array.from(b);
      this.repliesSent.push({ at: this.now, bytes });
      this.send('client', bytes, this.replyFate(this.repliesSent.length - 1, bytes));
    }
  }

  private send(to: 'client' | 'server', bytes: Uint8Array, fate: Fate): void {
    if (fate === 'drop') return;
    this.flight.push({ at: this.now + this.latencyMs, order: this.order++, to, bytes });
    if (fate === 'duplicate') this.flight.push({ at: this.now + this.latencyMs + 1, order: this.order++, to, bytes: bytes.slice() });
  }

  step(): boolean {
    this.flush();
    let next = Number.POSITIVE_INFINITY;
    for (const f of this.flight) next = Math.min(next, f.at);
    const t = this.client.pollTimeout();
    if (t !== null) next = Math.min(next, t);
    if (next === Number.POSITIVE_INFINITY) return false;
    this.now = Math.max(this.now, next);
    const due = this.flight.filter((f) => f.at <= this.now).sort((a, b) => a.at - b.at || a.order - b.order);
    this.flight = this.flight.filter((f) => f.at > this.now);
    for (const f of due) {
      if (f.to === 'server') this.server.handleDatagram(this.now, f.bytes, 0);
      else this.client.handleDatagram(this.now, f.bytes, 1);
    }
    const ct = this.client.pollTimeout();
    if (ct !== null && ct <= this.now) this.client.handleTimeout(this.now);
    this.flush();
    return true;
  }

  run(maxSteps = 100_000): RpcCall[] {
    const done: RpcCall[] = [];
    for (let i = 0; i < maxSteps && this.step(); i++) {
      for (let c = this.client.pollCompleted(); c !== null; c = this.client.pollCompleted()) done.push(c);
    }
    for (let c = this.client.pollCompleted(); c !== null; c = this.client.pollCompleted()) done.push(c);
    return done;
  }
}

const POLICY: RetryPolicy = { timeoutMs: 2000, retryIntervalMs: 100, retryBackoff: 2, retryIntervalMsMax: 400, maxRetransmissions: 5 };

function counterPair(policy: RetryPolicy = POLICY, drc = true, retransmit = true): { pair: RpcPair; counter: CounterService } {
  const counter = new CounterService();
  const client = new RpcClientEngine({ server: 1, policy, retransmit, rngSeed: 42 });
  const server = new RpcServerEngine({ programs: [counter.program()], drc: { enabled: drc, maxEntries: 100, maxAgeMs: 60_000 } });
  return { pair: new RpcPair(client, server), counter };
}

const INCREMENT = CounterProgV1.procedures.INCREMENT as ProcedureDescriptor<unknown, unknown>;

describe('RPC client engine: retransmission, XIDs, deadlines', () => {
  it('retransmits the same XID at an interval that backs off, then times out', () => {
    const { pair } = counterPair();
    pair.callFate = () => 'drop';
    const c = pair.client.call(0, INCREMENT, 1);
    const done = pair.run();
    expect(done).toEqual([c]);
    expect(pair.callsSent.map((s) => s.at)).toEqual([0, 100, 300, 700, 1100, 1500]);
    expect(new Set(pair.callsSent.map((s) => s.xid))).toEqual(new Set([c.xid]));
    expect(c.status).toBe(RpcStatus.TIMEOUT);
    expect(c.completedAtMs).toBe(2000);
    expect(c.attempts).toBe(6);
    const err = c.error();
    expect(err).toBeInstanceOf(RpcTransportError);
    expect((err as RpcTransportError).kind).toBe('timeout');
    expect(err!.message).toMatch(/INCREMENT: no reply within 2000 ms \(6 transmissions\)/);
    const k = pair.client.counters;
    expect([k.transmissions, k.retransmissions, k.failedTimeout, k.callsFailed]).toEqual([6, 5, 1, 1]);
  });

  it('a reply to any transmission completes the call; the others are stray replies', () => {
    const { pair, counter } = counterPair(POLICY, false);
    pair.latencyMs = 150; // the first reply arrives after the first retransmission
    const c = pair.client.call(0, INCREMENT, 5);
    pair.run();
    expect(c.status).toBe(RpcStatus.SUCCESS);
    expect(c.result).toBe(5n);
    expect(c.completedAtMs).toBe(300);
    expect(pair.callsSent.length).toBe(2);
    expect(pair.client.counters.strayReplies).toBe(1);
    // Without the cache the retransmission executed too: the counter counted twice.
    expect(counter.value).toBe(10n);
    expect(pair.server.counters.duplicateExecutions).toBe(1);
  });

  it('never retransmits on a stream transport; only the deadline applies', () => {
    const { pair } = counterPair(POLICY, true, false);
    pair.callFate = () => 'drop';
    const c = pair.client.call(0, INCREMENT, 1);
    pair.run();
    expect(pair.callsSent.map((s) => s.at)).toEqual([0]);
    expect(c.status).toBe(RpcStatus.TIMEOUT);
    expect(c.completedAtMs).toBe(2000);
  });

  it('ignores replies with an unknown XID or from another address, and damaged replies', () => {
    const { pair } = counterPair();
    const c = pair.client.call(0, INCREMENT, 1);
    const w = new XdrWriter();
    w.word(c.xid ^ 1);
    w.word(MsgType.REPLY);
    pair.client.handleDatagram(1, w.bytes().slice(), 1);
    pair.client.handleDatagram(1, new Uint8Array([1, 2, 3]), 1);
    const forged = new XdrWriter();
    forged.word(c.xid);
    forged.word(MsgType.REPLY);
    forged.word(0);
    forged.word(0);
    forged.word(0);
    forged.word(0);
    pair.client.handleDatagram(1, forged.bytes().slice(), 7);
    forged.reset();
    forged.word(c.xid);
    forged.word(MsgType.REPLY);
    forged.word(9);
    pair.client.handleDatagram(1, forged.bytes().slice(), 1);
    expect(c.done).toBe(false);
    expect(pair.client.counters.strayReplies).toBe(2);
    expect(pair.client.counters.malformedReplies).toBe(2);
    pair.run();
    expect(c.status).toBe(RpcStatus.SUCCESS);
  });

  it('keeps at most maxCallsInFlight calls sent; the rest wait and go out as replies come', () => {
    const counter = new CounterService();
    const client = new RpcClientEngine({ server: 1, policy: POLICY, retransmit: true, rngSeed: 1, maxCallsInFlight: 2 });
    const pair = new RpcPair(client, new RpcServerEngine({ programs: [counter.program()], drc: { enabled: true, maxEntries: 10, maxAgeMs: 1000 } }));
    const calls = [1, 2, 3, 4, 5].map((n) => client.call(0, INCREMENT, n));
    expect(client.callsInFlight).toBe(2);
    expect(client.pendingCalls).toBe(5);
    pair.run();
    expect(calls.map((c) => c.result)).toEqual([1n, 3n, 6n, 10n, 15n]);
    expect(pair.callsSent.map((s) => s.at)).toEqual([0, 0, 10, 10, 20]);
  });

  it('fails every pending call with SHUTDOWN on close, and refuses new calls', () => {
    const { pair } = counterPair();
    const a = pair.client.call(0, INCREMENT, 1);
    pair.client.failAll(0, RpcStatus.SHUTDOWN, 'closed (shutdown)', true);
    expect(a.status).toBe(RpcStatus.SHUTDOWN);
    expect((a.error() as RpcTransportError).kind).toBe('shutdown');
    expect(() => pair.client.call(0, INCREMENT, 1)).toThrow(/closed RPC client/);
    expect(() => new RpcClientEngine({ server: 1, policy: { ...POLICY, retryIntervalMs: 0.5 }, retransmit: true, rngSeed: 1 })).toThrow(/retryIntervalMs must be from 1/);
    expect(() => new RpcClientEngine({ server: 1, policy: { ...POLICY, maxRetransmissions: 1000 }, retransmit: true, rngSeed: 1 })).toThrow(/maxRetransmissions must be from 0 to 100/);
  });
});

function descriptor<A, R>(program: number, version: number, procedure: number, args: XdrCodec<A>, result: XdrCodec<R>): ProcedureDescriptor<unknown, unknown> {
  return { program, version, procedure, name: `P${procedure}`, args, result } as ProcedureDescriptor<unknown, unknown>;
}

describe('RPC server engine: the checks of RFC 5531 (9) and what the client makes of them', () => {
  const prog = 0x20000500;
  const v1: RpcProgramVersion = {
    program: prog,
    version: 1,
    name: 'T',
    procedures: [
      serverProcedure(descriptor(prog, 1, 1, xdrInt, xdrInt), (a) => (a as number) * 2),
      serverProcedure(descriptor(prog, 1, 2, xdrVoid, xdrVoid), () => {
        throw new Error('boom');
      }),
      serverProcedure(descriptor(prog, 1, 3, xdrVoid, xdrInt), (_a, ctx: RpcCallContext) => (ctx.credential.flavor === AuthFlavor.AUTH_SYS ? ctx.credential.sys.uid : -1)),
      serverProcedure(descriptor(prog, 1, 4, xdrVoid, xdrInt), () => 'not an int' as unknown as number),
    ],
  };
  const v3: RpcProgramVersion = { program: prog, version: 3, name: 'T', procedures: [] };

  function callOnce(proc: ProcedureDescriptor<unknown, unknown>, args: unknown, o: { cred?: Parameters<typeof encodeCredential>[0]; authFlavors?: number[] } = {}): RpcCall {
    const client = new RpcClientEngine({ server: 1, policy: POLICY, retransmit: true, rngSeed: 3, credential: o.cred });
    const server = new RpcServerEngine({ programs: [v1, v3], drc: { enabled: true, maxEntries: 8, maxAgeMs: 1000 }, authFlavors: o.authFlavors });
    const pair = new RpcPair(client, server);
    const c = client.call(0, proc, args);
    pair.run();
    return c;
  }

  it('answers SUCCESS, and NULL for every version served', () => {
    expect(callOnce(descriptor(prog, 1, 1, xdrInt, xdrInt), 21).result).toBe(42);
    expect(callOnce(nullProcedure(prog, 3) as ProcedureDescriptor<unknown, unknown>, undefined).status).toBe(RpcStatus.SUCCESS);
  });

  it('PROG_UNAVAIL, PROG_MISMATCH with the range served, PROC_UNAVAIL, GARBAGE_ARGS, SYSTEM_ERR, CANT_DECODE_RESULT', () => {
    const cases: [RpcCall, string, RegExp][] = [
      [callOnce(descriptor(prog + 1, 1, 1, xdrInt, xdrInt), 1), 'PROG_UNAVAIL', /program 536872193 is not served there/],
      [callOnce(descriptor(prog, 2, 1, xdrInt, xdrInt), 1), 'PROG_MISMATCH', /served in versions 1 to 3, not 2/],
      [callOnce(descriptor(prog, 1, 9, xdrInt, xdrInt), 1), 'PROC_UNAVAIL', /procedure 9 \(P9\) is not served/],
      [callOnce(descriptor(prog, 1, 1, xdrVoid, xdrInt), undefined), 'GARBAGE_ARGS', /could not decode the arguments of P1/],
      [callOnce(descriptor(prog, 1, 2, xdrVoid, xdrVoid), undefined), 'SYSTEM_ERR', /failed while running P2/],
      [callOnce(descriptor(prog, 1, 4, xdrVoid, xdrInt), undefined), 'SYSTEM_ERR', /SYSTEM_ERR/],
      [callOnce(descriptor(prog, 1, 1, xdrInt, xdrTypesAll), 1), 'CANT_DECODE_RESULT', /the result does not decode as declared/],
    ];
    for (const [c, kind, re] of cases) {
      const e = c.error();
      expect(e, kind).toBeInstanceOf(RpcRemoteError);
      expect((e as RpcRemoteError).kind).toBe(kind);
      expect(e!.message).toMatch(re);
    }
    const mismatch = cases[1]![0].error() as RpcRemoteError;
    expect([mismatch.low, mismatch.high]).toEqual([1, 3]);
  });

  it('AUTH_SYS reaches the handler; refused flavors and bad credentials get AUTH_ERROR', () => {
    const sys: Credential = { flavor: AuthFlavor.AUTH_SYS, sys: { stamp: 1, machineName: 'lab', uid: 1234, gid: 5, gids: [1, 2] } };
    expect(callOnce(descriptor(prog, 1, 3, xdrVoid, xdrInt), undefined, { cred: sys }).result).toBe(1234);
    const tooWeak = callOnce(descriptor(prog, 1, 3, xdrVoid, xdrInt), undefined, { authFlavors: [AuthFlavor.AUTH_SYS] }).error() as RpcRemoteError;
    expect(tooWeak.kind).toBe('AUTH_ERROR');
    expect(tooWeak.authStat).toBe(AuthStat.AUTH_TOOWEAK);
    expect(tooWeak.message).toMatch(/AUTH_TOOWEAK/);
    // Hand-made calls: an AUTH_SYS body that does not parse, an unknown flavor, RPC version 3.
    const server = new RpcServerEngine({ programs: [v1], drc: { enabled: true, maxEntries: 8, maxAgeMs: 1000 } });
    const replies: Uint8Array[] = [];
    const sink: ReplySink = { sendReply: (b) => replies.push(b.slice()) };
    const w = new XdrWriter();
    const call = (cred: Uint8Array, rpcvers = 2) => {
      w.reset();
      writeCallHeader(w, 77, prog, 1, 1, cred);
      w.patchWord(8, rpcvers);
      w.int(1);
      server.handleMessage(0, w.bytes().slice(), 0, sink);
      const r = new XdrReader().reset(replies[replies.length - 1]!);
      const h = new ReplyHeader();
      r.word();
      r.word();
      expect(parseReplyBody(r, h)).toBeNull();
      return h;
    };
    const badSys = new XdrWriter();
    badSys.word(AuthFlavor.AUTH_SYS);
    badSys.varOpaque(Uint8Array.from([0, 0, 0, 1]), 400);
    expect(call(badSys.bytes().slice()).authStat).toBe(AuthStat.AUTH_BADCRED);
    const dh = new XdrWriter();
    dh.word(AuthFlavor.AUTH_DH);
    dh.word(0);
    expect(call(dh.bytes().slice()).authStat).toBe(AuthStat.AUTH_REJECTEDCRED);
    const v = call(encodeCredential({ flavor: 0 }), 3);
    expect([v.replyStat, v.rejectStat, v.low, v.high]).toEqual([1, 0, 2, 2]);
    expect(server.counters.authError).toBe(2);
    expect(server.counters.rpcMismatch).toBe(1);
  });

  it('never throws on random bytes: they are dropped or rejected, and random arguments get GARBAGE_ARGS', () => {
    const types = new TypesService();
    const server = new RpcServerEngine({ programs: [types.program(), new CounterService().program()], drc: { enabled: true, maxEntries: 64, maxAgeMs: 1000 } });
    const replies: Uint8Array[] = [];
    const sink: ReplySink = { sendReply: (b) => replies.push(b.slice()) };
    const h = new ReplyHeader();
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 400 }), (bytes) => {
        replies.length = 0;
        server.handleMessage(0, bytes, 0, sink);
        expect(replies.length).toBeLessThanOrEqual(1);
      }),
      { numRuns: 2000 },
    );
    const w = new XdrWriter();
    const none = encodeCredential({ flavor: 0 });
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), fc.nat(), (args, xid) => {
        replies.length = 0;
        w.reset();
        writeCallHeader(w, xid, 0x20000103, 1, 1, none);
        w.ensure(args.length);
        w.buf.set(args, w.pos);
        w.pos += args.length;
        server.handleMessage(0, w.bytes().slice(), 0, sink);
        expect(replies.length).toBe(1);
        const r = new XdrReader().reset(replies[0]!);
        expect(r.word()).toBe(xid >>> 0);
        r.word();
        expect(parseReplyBody(r, h)).toBeNull();
        expect([AcceptStat.GARBAGE_ARGS, AcceptStat.SUCCESS]).toContain(h.acceptStat);
      }),
      { numRuns: 2000 },
    );
    expect(server.counters.garbageArgs).toBeGreaterThan(1900);
  });
});

describe('the RPC benchmark', () => {
  it("its RPC_SIZES are the sizes of the engines' NULL and 32-byte ECHO calls and replies", () => {
    const cases = [
      { proc: 'null', d: nullProcedure(CounterProgV1.program, CounterProgV1.version) as ProcedureDescriptor<unknown, unknown>, arg: undefined },
      { proc: 'echo', d: CounterProgV1.procedures.ECHO as ProcedureDescriptor<unknown, unknown>, arg: new Uint8Array(32) },
    ] as const;
    for (const { proc, d, arg } of cases) {
      const { pair } = counterPair();
      const c = pair.client.call(0, d, arg);
      pair.run();
      expect(c.status).toBe(RpcStatus.SUCCESS);
      expect({ proc, call: c.bytes.length, reply: pair.repliesSent[0]!.bytes.length }).toEqual({ proc, ...RPC_SIZES[proc] });
    }
  });
});

describe('duplicate request cache', () => {
  function raw(xid: number, by: number): Uint8Array {
    const w = new XdrWriter();
    writeCallHeader(w, xid, CounterProgV1.program, 1, 1, encodeCredential({ flavor: 0 }));
    w.int(by);
    return w.bytes().slice();
  }

  it('answers a duplicate with the cached reply, byte for byte, without executing again', () => {
    const counter = new CounterService();
    const server = new RpcServerEngine({ programs: [counter.program()], drc: { enabled: true, maxEntries: 4, maxAgeMs: 1000 } });
    const out: Uint8Array[] = [];
    const sink: ReplySink = { sendReply: (b) => out.push(b.slice()) };
    server.handleMessage(0, raw(10, 5), 0, sink);
    server.handleMessage(1, raw(10, 5), 0, sink);
    server.handleMessage(2, raw(10, 5), 1, sink); // same xid from another client: a new request
    expect(Buffer.from(out[0]!).equals(Buffer.from(out[1]!))).toBe(true);
    expect(counter.value).toBe(10n);
    expect(server.counters.cacheHits).toBe(1);
    expect(server.counters.duplicateRequests).toBe(1);
    expect(server.counters.duplicateExecutions).toBe(0);
  });

  it('is bounded in entries and in age; what it forgot executes again', () => {
    const counter = new CounterService();
    const server = new RpcServerEngine({ programs: [counter.program()], drc: { enabled: true, maxEntries: 2, maxAgeMs: 100 } });
    const sink: ReplySink = { sendReply: () => {} };
    for (const xid of [1, 2, 3]) server.handleMessage(0, raw(xid, 1), 0, sink);
    expect(server.drc.entries).toBe(2);
    server.handleMessage(1, raw(1, 1), 0, sink); // evicted by size: executes again, unnoticed
    expect(counter.value).toBe(4n);
    server.handleMessage(2, raw(3, 1), 0, sink); // still cached
    expect(counter.value).toBe(4n);
    server.handleMessage(200, raw(3, 1), 0, sink); // older than 100 ms: forgotten
    expect(counter.value).toBe(5n);
    expect(server.drc.evictions).toBeGreaterThanOrEqual(3);
  });

  it('off: every copy executes, and the server counts the duplicate executions', () => {
    const counter = new CounterService();
    const server = new RpcServerEngine({ programs: [counter.program()], drc: { enabled: false, maxEntries: 100, maxAgeMs: 1000 } });
    const sink: ReplySink = { sendReply: () => {} };
    for (let i = 0; i < 3; i++) server.handleMessage(i, raw(7, 1), 0, sink);
    expect(counter.value).toBe(3n);
    expect(server.counters.duplicateExecutions).toBe(2);
    expect(counter.repeatedExecutions).toBe(2);
    server.configureDrc({ enabled: true, maxEntries: 100, maxAgeMs: 1000 });
    server.handleMessage(5, raw(8, 1), 0, sink);
    server.handleMessage(6, raw(8, 1), 0, sink);
    expect(counter.value).toBe(4n);
  });

  it('drops a duplicate of a request that is still executing (asynchronous handler)', async () => {
    let release: () => void = () => {};
    const gate = new Promise<void>((r) => (release = r));
    const prog: RpcProgramVersion = {
      program: 0x20000600,
      version: 1,
      name: 'SLOW',
      procedures: [serverProcedure(descriptor(0x20000600, 1, 1, xdrInt, xdrInt), async (a) => (await gate, (a as number) + 1))],
    };
    const server = new RpcServerEngine({ programs: [prog], drc: { enabled: true, maxEntries: 10, maxAgeMs: 1000 } });
    let woken = 0;
    server.onWake = () => woken++;
    const w = new XdrWriter();
    writeCallHeader(w, 9, 0x20000600, 1, 1, encodeCredential({ flavor: 0 }));
    w.int(41);
    const msg = w.bytes().slice();
    server.handleDatagram(0, msg, 0);
    server.handleDatagram(1, msg, 0);
    expect(server.pollTransmit()).toBeNull();
    expect(server.counters.inProgressDrops).toBe(1);
    release();
    await gate;
    await Promise.resolve();
    expect(woken).toBe(1);
    const reply = server.pollTransmit()!;
    expect(new DataView(reply.buffer, reply.byteOffset).getInt32(reply.length - 4)).toBe(42);
    server.handleDatagram(2, msg, 0);
    expect(server.counters.cacheHits).toBe(1);
  });
});

describe('record marking (RFC 5531 section 11)', () => {
  it('reassembles records split anywhere and across fragments', () => {
    fc.assert(
      // An RPC message is never empty (an empty record is refused: see below).
      fc.property(fc.array(fc.uint8Array({ minLength: 1, maxLength: 200 }), { minLength: 1, maxLength: 6 }), fc.array(fc.integer({ min: 1, max: 50 }), { minLength: 1, maxLength: 20 }), fc.nat({ max: 3 }), (msgs, cuts, fragSplit) => {
        // Each message as 1..fragSplit+1 fragments.
        const parts: number[] = [];
        for (const m of msgs) {
          const k = Math.min(fragSplit + 1, Math.max(1, m.length));
          const step = Math.ceil(m.length / k);
          for (let i = 0; i < k; i++) {
            const frag = m.subarray(i * step, Math.min(m.length, (i + 1) * step));
            const last = i === k - 1;
            const mark = ((last ? 0x80000000 : 0) | frag.length) >>> 0;
            parts.push(mark >>> 24, (mark >>> 16) & 255, (mark >>> 8) & 255, mark & 255, ...frag);
          }
        }
        const stream = Uint8Array.from(parts);
        const dec = new RecordDecoder(1 << 16);
        const got: number[][] = [];
        let at = 0;
        let c = 0;
        while (at < stream.length) {
          const n = cuts[c++ % cuts.length]!;
          expect(dec.push(stream.subarray(at, at + n), (r) => got.push([...r]))).toBe(true);
          at += n;
        }
        expect(got).toEqual(msgs.map((m) => [...m]));
      }),
    );
  });

  it('refuses an empty record, and a record of more than MAX_FRAGMENTS_PER_RECORD fragments, empty ones included', () => {
    const empty = new RecordDecoder();
    expect(empty.push(Uint8Array.from([0x80, 0, 0, 0]), () => expect.unreachable())).toBe(false);
    expect(empty.error).toBe('an empty record');
    const many = new RecordDecoder();
    const emptyFragment = Uint8Array.from([0, 0, 0, 0]);
    for (let i = 0; i < MAX_FRAGMENTS_PER_RECORD; i++) expect(many.push(emptyFragment, () => expect.unreachable())).toBe(true);
    expect(many.partial).toBe(true);
    expect(many.push(emptyFragment, () => expect.unreachable())).toBe(false);
    expect(many.error).toBe(`record of more than ${MAX_FRAGMENTS_PER_RECORD} fragments`);
    // Empty fragments before data, and the count starts again with each record.
    const ok = new RecordDecoder();
    const got: number[][] = [];
    for (let r = 0; r < 3; r++) {
      for (let i = 0; i < MAX_FRAGMENTS_PER_RECORD - 1; i++) expect(ok.push(emptyFragment, (x) => got.push([...x]))).toBe(true);
      expect(ok.push(Uint8Array.from([0x80, 0, 0, 1, r]), (x) => got.push([...x]))).toBe(true);
      expect(ok.partial).toBe(false);
    }
    expect(got).toEqual([[0], [1], [2]]);
  });

  it('says whether a record is under way, from its first header byte to its last byte', () => {
    const d = new RecordDecoder();
    expect(d.partial).toBe(false);
    d.push(Uint8Array.from([0x80]), () => {});
    expect(d.partial).toBe(true);
    d.push(Uint8Array.from([0, 0, 2, 7]), () => {});
    expect(d.partial).toBe(true);
    d.push(Uint8Array.from([8]), () => {});
    expect(d.partial).toBe(false);
  });

  it('a fragment length of 2^31-1 is an error before anything is stored', () => {
    const dec = new RecordDecoder(1 << 20);
    const before = process.memoryUsage().arrayBuffers;
    expect(dec.push(Uint8Array.from([0xff, 0xff, 0xff, 0xff, 1, 2, 3]), () => {})).toBe(false);
    expect(dec.error).toMatch(/record of more than 1048576 bytes \(a fragment of 2147483647 bytes after 0\)/);
    expect(process.memoryUsage().arrayBuffers - before).toBeLessThan(1 << 20);
    // Many fragments that add up beyond the limit are refused too.
    const d2 = new RecordDecoder(100);
    const frag = (n: number) => [0, 0, 0, n, ...new Array<number>(n).fill(7)];
    expect(d2.push(Uint8Array.from([...frag(60), ...frag(60)]), () => {})).toBe(false);
    expect(frameRecord(Uint8Array.from([1, 2]))).toEqual(Uint8Array.from([0x80, 0, 0, 2, 1, 2]));
  });
});

describe('replies over UDP are held to three times their call (no amplification)', () => {
  const P = KvProgV1.procedures;
  function kvCall(xid: number, proc: ProcedureDescriptor<unknown, unknown>, args: unknown): Uint8Array {
    const w = new XdrWriter();
    writeCallHeader(w, xid, proc.program, proc.version, proc.procedure, encodeCredential({ flavor: 0 }));
    proc.args.encode(w, args);
    return w.bytes().slice();
  }
  function store(entries: number, valueBytes: number): KvService {
    const kv = new KvService();
    for (let i = 0; i < entries; i++) kv.kvPut({ key: `k${String(i).padStart(5, '0')}`, value: new Uint8Array(valueBytes).fill(i), expected_revision: null });
    return kv;
  }
  function replyOf(bytes: Uint8Array): { stat: number; body: XdrReader } {
    const r = new XdrReader().reset(bytes);
    r.word();
    expect(r.word()).toBe(MsgType.REPLY);
    const h = new ReplyHeader();
    expect(parseReplyBody(r, h)).toBeNull();
    return { stat: h.acceptStat, body: r };
  }
  const list = P.KV_LIST as ProcedureDescriptor<unknown, unknown>;

  it('a KV_LIST that would reply 1,000 times its call over UDP is answered SYSTEM_ERR, counted and described; over TCP it gets the list', () => {
    const kv = store(50, 1000);
    const call = kvCall(7, list, '');
    const out: Uint8Array[] = [];
    const sink: ReplySink = { sendReply: (b) => out.push(b.slice()) };
    const udp = new RpcServerEngine({ programs: [kv.program()], drc: { enabled: true, maxEntries: 8, maxAgeMs: 1000 }, datagramReplies: UDP_REPLY_LIMITS, peerAddress: () => '192.0.2.7:600' });
    udp.handleMessage(0, call, 3, sink);
    expect(out[0]!.length).toBeLessThanOrEqual(3 * call.length);
    expect(replyOf(out[0]!).stat).toBe(AcceptStat.SYSTEM_ERR);
    expect(udp.counters).toMatchObject({ repliesTooLargeForCall: 1, repliesOverDatagramLimit: 0, systemErr: 1, executions: 1 });
    expect(udp.lastRefusedReply).toMatch(new RegExp(`^KV_LIST: a \\d+-byte reply to a ${call.length}-byte call from 192\\.0\\.2\\.7:600 is more than 3 times the call; answered SYSTEM_ERR \\(the caller can use TCP\\)$`));
    // A retransmission gets the refusal from the cache, not the list.
    udp.handleMessage(1, call, 3, sink);
    expect(out[1]!.length).toBeLessThanOrEqual(3 * call.length);
    const tcp = new RpcServerEngine({ programs: [kv.program()], drc: { enabled: true, maxEntries: 8, maxAgeMs: 1000 } });
    tcp.handleMessage(0, call, 3, sink);
    const full = replyOf(out[2]!);
    expect(full.stat).toBe(AcceptStat.SUCCESS);
    let n = 0;
    for (let e = xdrKvListPtr.decode(full.body); e !== null; e = e.next) n++;
    expect(n).toBe(50);
  });

  it("a small duplicate of a big call does not get the big call's cached reply", () => {
    const key = 'k'.repeat(64);
    const kv = new KvService();
    kv.kvPut({ key, value: new Uint8Array(100), expected_revision: null });
    const getMany = P.KV_GET_MANY as ProcedureDescriptor<unknown, unknown>;
    const out: Uint8Array[] = [];
    const sink: ReplySink = { sendReply: (b) => out.push(b.slice()) };
    const udp = new RpcServerEngine({ programs: [kv.program()], drc: { enabled: true, maxEntries: 8, maxAgeMs: 1000 }, datagramReplies: UDP_REPLY_LIMITS });
    // 30 copies of a key that exists: the reply is under three times the call, allowed.
    const big = kvCall(9, getMany, { keys: Array.from({ length: 30 }, () => key) });
    udp.handleMessage(0, big, 1, sink);
    expect(replyOf(out[0]!).stat).toBe(AcceptStat.SUCCESS);
    expect(out[0]!.length).toBeGreaterThan(2.5 * big.length);
    // The same xid with one key: the cache's key, so it is a duplicate, but its call is a 30th.
    const small = kvCall(9, getMany, { keys: [key] });
    udp.handleMessage(1, small, 1, sink);
    expect(udp.counters.cacheHits).toBe(1);
    expect(out[1]!.length).toBeLessThanOrEqual(3 * small.length);
    expect(replyOf(out[1]!).stat).toBe(AcceptStat.SYSTEM_ERR);
    expect(udp.counters.repliesTooLargeForCall).toBe(1);
  });

  it('a reply larger than a datagram is refused and counted, never sent to vanish', () => {
    const kv = store(70, 1024);
    const call = kvCall(11, list, '');
    const out: Uint8Array[] = [];
    const udp = new RpcServerEngine({ programs: [kv.program()], drc: { enabled: false, maxEntries: 8, maxAgeMs: 1000 }, datagramReplies: { ...UDP_REPLY_LIMITS, maxReplyToCallRatio: 1e9 } });
    udp.handleMessage(0, call, 1, { sendReply: (b) => out.push(b.slice()) });
    expect(replyOf(out[0]!).stat).toBe(AcceptStat.SYSTEM_ERR);
    expect(udp.counters).toMatchObject({ repliesOverDatagramLimit: 1, repliesTooLargeForCall: 0 });
    expect(udp.lastRefusedReply).toMatch(/is larger than a datagram carries \(65507 bytes\)/);
  });

  it('the client reports the refusal as the server failing, and the call ends', () => {
    const kv = store(50, 1000);
    const client = new RpcClientEngine({ server: 1, policy: POLICY, retransmit: true, rngSeed: 5 });
    const server = new RpcServerEngine({ programs: [kv.program()], drc: { enabled: true, maxEntries: 8, maxAgeMs: 1000 }, datagramReplies: UDP_REPLY_LIMITS });
    const pair = new RpcPair(client, server);
    const c = client.call(0, list, '');
    pair.run();
    expect(c.status).toBe(RpcStatus.SYSTEM_ERR);
  });
});

describe('client and server agree on how deep XDR may nest', () => {
  it(`a list of XDR_MAX_DEPTH entries encodes and decodes; one more is refused when encoding, as a reader would refuse it`, () => {
    const chain = (n: number): KvListPtr => {
      let l: KvListPtr = null;
      for (let i = 0; i < n; i++) l = { entry: { key: 'k', value: new Uint8Array(0), revision: 1n }, next: l };
      return l;
    };
    const w = new XdrWriter();
    xdrKvListPtr.encode(w, chain(XDR_MAX_DEPTH));
    const r = new XdrReader().reset(w.bytes());
    xdrKvListPtr.decode(r);
    expect(r.error).toBeNull();
    w.reset();
    expect(() => xdrKvListPtr.encode(w, chain(XDR_MAX_DEPTH + 1))).toThrow(XdrEncodeError);
    w.reset();
    expect(() => xdrKvListPtr.encode(w, chain(XDR_MAX_DEPTH + 1))).toThrow(/nested more than 2000 levels deep/);
  });

  it('the demo key-value store holds no more entries than a KV_LIST reply can nest', () => {
    expect(KV_SERVER_MAX_ENTRIES).toBe(XDR_MAX_DEPTH);
    const kv = new KvService();
    for (let i = 0; i < KV_SERVER_MAX_ENTRIES; i++) expect(kv.kvPut({ key: `k${i}`, value: new Uint8Array(0), expected_revision: null }).status).toBe(0);
    expect(kv.kvPut({ key: 'one-more', value: new Uint8Array(0), expected_revision: null }).status).not.toBe(0);
    const w = new XdrWriter();
    xdrKvListPtr.encode(w, kv.kvList(''));
    const r = new XdrReader().reset(w.bytes());
    xdrKvListPtr.decode(r);
    expect(r.error).toBeNull();
  });
});
