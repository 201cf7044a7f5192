// Child processes of `npm run bench rpc`, so that client and server each have their own event
// loop (and, on a machine with two cores, their own core):
//
//   rpc-child.js server lab|dgram|grpc
//       serves on 127.0.0.1, sends {port} to the parent over IPC, runs until killed
//   rpc-child.js client lab|dgram|dgram-async|grpc PORT null|echo IN_FLIGHT DURATION_MS WARMUP_MS
//       keeps IN_FLIGHT calls outstanding for WARMUP_MS + DURATION_MS and prints one JSON line
//       (ClientResult): the calls, calls per second and latency percentiles of the measured part,
//       and over the whole run, warm-up included, the failed calls, the calls completed and the
//       process's CPU time
//   rpc-child.js engines null|echo DURATION_MS WARMUP_MS
//       runs the RPC client and server engines against each other in this process (no sockets,
//       no promises), in batches of ENGINE_BATCH calls, and prints one JSON line (EnginesResult):
//       each side's CPU time a call, and the calls that failed
//
// lab is Packet Lab's RPC (generated stubs of counter.x, RpcClient and RpcServer over UDP); dgram
// is a bare node:dgram request/reply pair carrying the same bytes as the RPC messages (the floor
// of any Node code; its server's socket is made as the lab's are, by udpSocket()); dgram-async is its client with a promise per call, awaited by the loop that
// drives the lab client (what an async API costs over callbacks; it calls the dgram server);
// grpc is @grpc/grpc-js unary over HTTP/2 on loopback.

import { createSocket, type Socket } from 'node:dgram';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { performance } from 'node:perf_hooks';
import { DEFAULT_RETRY_POLICY, RPC_STATUS_NAMES, RpcClientEngine, RpcStatus } from '../core/rpc/client.js';
import { RpcClient, nullProcedure } from '../net/rpc/client-net.js';
import { DEFAULT_DRC_CONFIG } from '../core/rpc/drc.js';
import { RpcServerEngine } from '../core/rpc/server.js';
import { RpcServer } from '../net/rpc/server-net.js';
import { udpSocket } from '../net/udp/held-sends.js';
import { CounterProgV1, CounterProgV1Client } from '../core/rpc/programs/counter.js';
import { CounterService } from '../core/rpc/programs/counter-server.js';
import { projectRoot } from '../net/paths.js';

/** What a client child prints. */
export interface ClientResult {
  calls: number;
  callsPerSecond: number;
  p50Ms: number;
  p99Ms: number;
  failures: number;
  /** Calls completed over the whole run, warm-up included. */
  allCalls: number;
  /** CPU time of the client process over the whole run (us, user + system). */
  cpuUs: number;
}

/** Bytes of the RPC messages the dgram pair imitates: NULL call 40, reply 24; 32-byte ECHO 76 and 60. */
export const RPC_SIZES = { null: { call: 40, reply: 24 }, echo: { call: 76, reply: 60 } } as const;

const PAYLOAD = new Uint8Array(32).fill(0x5a);

async function loadGrpc() {
  const grpc = await import('@grpc/grpc-js');
  const loader = await import('@grpc/proto-loader');
  const def = loader.loadSync(join(projectRoot(), 'bench', 'echo.proto'), { keepCase: true });
  const pkg = grpc.loadPackageDefinition(def) as unknown as { packetlab: { bench: { Echo: { service: import('@grpc/grpc-js').ServiceDefinition; new (addr: string, creds: import('@grpc/grpc-js').ChannelCredentials): GrpcEchoClient } } } };
  return { grpc, Echo: pkg.packetlab.bench.Echo };
}

interface GrpcEchoClient {
  Null(req: object, cb: (err: Error | null, res: object) => void): void;
  Echo(req: { data: Uint8Array }, cb: (err: Error | null, res: { data: Uint8Array }) => void): void;
  close(): void;
}

async function serve(kind: string): Promise<void> {
  let port: number;
  if (kind === 'lab') {
    const counter = new CounterService();
    const s = await RpcServer.start({ programs: [counter.program()], ports: { udp: 0 } });
    port = s.port('udp')!;
  } else if (kind === 'dgram') {
    // The lab's socket kind (its lookup answers an IP address at once, where dns.lookup answers on
    // the next tick), so that each reply costs the bare server no more than it can cost any Node code.
    const s = udpSocket('udp4');
    await new Promise<void>((r) => s.bind(0, '127.0.0.1', () => r()));
    const replyNull = Buffer.alloc(RPC_SIZES.null.reply);
    const replyEcho = Buffer.alloc(RPC_SIZES.echo.reply);
    // Echo the 4-byte call id, as an RPC server echoes the XID.
    s.on('message', (m, r) => {
      const reply = m.length === RPC_SIZES.echo.call ? replyEcho : replyNull;
      m.copy(reply, 0, 0, 4);
      s.send(reply, r.port, r.address);
    });
    port = s.address().port;
  } else if (kind === 'grpc') {
    const { grpc, Echo } = await loadGrpc();
    const server = new grpc.Server();
    server.addService(Echo.service, {
      Null: (_call: unknown, cb: (e: null, r: object) => void) => cb(null, {}),
      Echo: (call: { request: { data: Uint8Array } }, cb: (e: null, r: object) => void) => cb(null, { data: call.request.data }),
    });
    port = await new Promise<number>((resolve, reject) => server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (err, p) => (err ? reject(err) : resolve(p))));
  } else {
    throw new Error(`unknown server ${kind}`);
  }
  process.send!({ port });
  process.on('SIGTERM', () => process.exit(0));
}

/** Keeps `inFlight` loops of `once()` going; measures completions after the warm-up. */
async function measure(inFlight: number, durationMs: number, warmupMs: number, once: () => Promise<unknown>): Promise<ClientResult> {
  const start = performance.now();
  const measureAt = start + warmupMs;
  const endAt = measureAt + durationMs;
  const lat = new Float64Array(1 << 20);
  let n = 0;
  let all = 0;
  let failures = 0;
  const cpu = process.cpuUsage();
  const loop = async () => {
    for (;;) {
      const t0 = performance.now();
      if (t0 >= endAt) return;
      try {
        await once();
      } catch {
        failures++;
        continue;
      }
      const t1 = performance.now();
      all++;
      if (t0 >= measureAt && t1 <= endAt && n < lat.length) lat[n++] = t1 - t0;
    }
  };
  await Promise.all(Array.from({ length: inFlight }, loop));
  return summarize(lat.subarray(0, n), durationMs, failures, all, cpu);
}

function summarize(lat: Float64Array, durationMs: number, failures: number, allCalls: number, cpuFrom: NodeJS.CpuUsage): ClientResult {
  const c = process.cpuUsage(cpuFrom);
  const s = lat.slice().sort();
  const q = (p: number) => (s.length === 0 ? Number.NaN : s[Math.min(s.length - 1, Math.floor(p * s.length))]!);
  return { calls: s.length, callsPerSecond: s.length / (durationMs / 1000), p50Ms: q(0.5), p99Ms: q(0.99), failures, allCalls, cpuUs: c.user + c.system };
}

/** How long after the end of a run a client waits for replies that may have been lost (bare clients do not retransmit). */
const STRAGGLER_MS = 2000;

/** The bare pair's client: callbacks only, one slot per call in flight, ids in the first 4 bytes. */
function dgramClient(port: number, proc: 'null' | 'echo', inFlight: number, durationMs: number, warmupMs: number): Promise<ClientResult> {
  return new Promise((resolve) => {
    const s: Socket = createSocket('udp4');
    const bufs = callBuffers(proc, inFlight);
    const sentAt = new Float64Array(inFlight);
    const lat = new Float64Array(1 << 20);
    let n = 0;
    let all = 0;
    let cpu: NodeJS.CpuUsage;
    let active = inFlight;
    let start = 0;
    let measureAt = 0;
    let endAt = 0;
    let watchdog: NodeJS.Timeout | undefined;
    const send = (i: number) => {
      sentAt[i] = performance.now();
      s.send(bufs[i]!);
    };
    // Calls still unanswered when it ends (lost datagrams) count as failures.
    const finish = () => {
      clearTimeout(watchdog);
      s.close();
      resolve(summarize(lat.subarray(0, n), durationMs, active, all, cpu));
    };
    s.on('message', (m) => {
      const i = m.readUInt32BE(0);
      const t1 = performance.now();
      const t0 = sentAt[i]!;
      all++;
      if (t0 >= measureAt && t1 <= endAt && n < lat.length) lat[n++] = t1 - t0;
      if (t1 < endAt) send(i);
      else if (--active === 0) finish();
    });
    s.connect(port, '127.0.0.1', () => {
      start = performance.now();
      cpu = process.cpuUsage();
      measureAt = start + warmupMs;
      endAt = measureAt + durationMs;
      watchdog = setTimeout(finish, warmupMs + durationMs + STRAGGLER_MS);
      for (let i = 0; i < inFlight; i++) send(i);
    });
  });
}

/** One call message per slot, with the slot's number as its first 4 bytes (where an RPC call has its XID). */
function callBuffers(proc: 'null' | 'echo', slots: number): Buffer[] {
  return Array.from({ length: slots }, (_, i) => {
    const b = Buffer.alloc(RPC_SIZES[proc].call);
    b.writeUInt32BE(i, 0);
    return b;
  });
}

/**
 * The bare pair's client with a promise per call, awaited by measure() as the lab client's calls
 * are: the same datagrams as dgramClient, so the difference between the two is what an async API
 * costs over callbacks.
 */
async function dgramAsyncClient(port: number, proc: 'null' | 'echo', inFlight: number, durationMs: number, warmupMs: number): Promise<ClientResult> {
  const s: Socket = createSocket('udp4');
  await new Promise<void>((r) => s.connect(port, '127.0.0.1', () => r()));
  const bufs = callBuffers(proc, inFlight);
  const free = Array.from({ length: inFlight }, (_, i) => i);
  const resolves: (((v: undefined) => void) | null)[] = new Array(inFlight).fill(null);
  const rejects: (((e: Error) => void) | null)[] = new Array(inFlight).fill(null);
  // One executor for every call, as RpcClient has, not a closure per call.
  let starting = 0;
  const attach = (resolve: (v: undefined) => void, reject: (e: Error) => void) => {
    resolves[starting] = resolve;
    rejects[starting] = reject;
  };
  s.on('message', (m) => {
    const i = m.readUInt32BE(0);
    const resolve = resolves[i];
    if (resolve === null || resolve === undefined) return;
    resolves[i] = null;
    rejects[i] = null;
    free.push(i);
    resolve(undefined);
  });
  const once = () => {
    const i = free.pop()!;
    starting = i;
    s.send(bufs[i]!);
    return new Promise<undefined>(attach);
  };
  const watchdog = setTimeout(() => {
    for (const reject of rejects) reject?.(new Error('no reply (lost datagram)'));
  }, warmupMs + durationMs + STRAGGLER_MS);
  const r = await measure(inFlight, durationMs, warmupMs, once);
  clearTimeout(watchdog);
  s.close();
  return r;
}

/** What `engines` prints. */
export interface EnginesResult {
  /** Calls that completed with another status than SUCCESS, over the whole run (warm-up included); the figures of a run with any are not those of working calls. */
  failures: number;
  /** The first failed call's error message, or null. */
  firstFailure: string | null;
  /** CPU time a call (us, user + system) of the client engine: starting the call and taking its reply. */
  clientPerCallUs: number;
  /** CPU time a call (us, user + system) of the server engine: taking the call and answering it. */
  serverPerCallUs: number;
}

/** Calls the engines run starts together, then completes: as many as the benchmark keeps in flight. */
export const ENGINE_BATCH = 64;

/**
 * The RPC client and server engines alone, against each other in this process: the XDR of call and
 * reply both ways, the client's XID table, retransmission timers and latency histograms, the
 * server's dispatch, and for ECHO the handler and the duplicate request cache (on, as RpcServer has
 * it; a NULL is answered by the dispatcher), with the engines' counters. No sockets, no driver, no
 * promise: what the lab's RPC does beyond the bare pair before any of its glue. The CPU time is
 * split between client and server by the wall time of their phases.
 */
function enginesAlone(proc: 'null' | 'echo', durationMs: number, warmupMs: number): EnginesResult {
  const server = new RpcServerEngine({ programs: [new CounterService().program()], drc: DEFAULT_DRC_CONFIG });
  const client = new RpcClientEngine({ server: 0, policy: DEFAULT_RETRY_POLICY, retransmit: true, rngSeed: 1, maxCallsInFlight: ENGINE_BATCH });
  const d = proc === 'null' ? nullProcedure(CounterProgV1.program, CounterProgV1.version) : CounterProgV1.procedures.ECHO;
  const arg = proc === 'null' ? undefined : PAYLOAD;
  // Both engines' messages stay valid after pollTransmit (slabs never written again).
  const calls: Uint8Array[] = [];
  const replies: Uint8Array[] = [];
  let clientMs = 0;
  let serverMs = 0;
  // A failed call is counted rather than thrown from the timed loop; the parent reports it.
  let failures = 0;
  let firstFailure: string | null = null;
  const batch = (): number => {
    const t0 = performance.now();
    for (let k = 0; k < ENGINE_BATCH; k++) client.call(t0, d, arg);
    calls.length = 0;
    for (let b = client.pollTransmit(t0); b !== null; b = client.pollTransmit(t0)) calls.push(b);
    const t1 = performance.now();
    replies.length = 0;
    for (const b of calls) {
      server.handleDatagram(t1, b, 1);
      for (let r = server.pollTransmit(); r !== null; r = server.pollTransmit()) replies.push(r);
    }
    const t2 = performance.now();
    for (const r of replies) client.handleDatagram(t2, r, 0);
    let done = 0;
    for (let c = client.pollCompleted(); c !== null; c = client.pollCompleted()) {
      if (c.status === RpcStatus.SUCCESS) done++;
      else if (failures++ === 0) firstFailure = `${RPC_STATUS_NAMES[c.status] ?? c.status}: ${c.errorMessage}`;
      client.recycle(c);
    }
    const t3 = performance.now();
    clientMs += t1 - t0 + (t3 - t2);
    serverMs += t2 - t1;
    return done;
  };
  const runFor = (ms: number) => {
    const end = performance.now() + ms;
    let n = 0;
    while (performance.now() < end) n += batch();
    return n;
  };
  runFor(warmupMs);
  clientMs = 0;
  serverMs = 0;
  const cpu = process.cpuUsage();
  const n = runFor(durationMs);
  const c = process.cpuUsage(cpu);
  const perCall = (c.user + c.system) / n;
  const clientShare = clientMs / (clientMs + serverMs);
  return { failures, firstFailure, clientPerCallUs: perCall * clientShare, serverPerCallUs: perCall * (1 - clientShare) };
}

async function client(kind: string, port: number, proc: 'null' | 'echo', inFlight: number, durationMs: number, warmupMs: number): Promise<ClientResult> {
  if (kind === 'dgram') return dgramClient(port, proc, inFlight, durationMs, warmupMs);
  if (kind === 'dgram-async') return dgramAsyncClient(port, proc, inFlight, durationMs, warmupMs);
  if (kind === 'lab') {
    const rpc = await RpcClient.connect({ host: '127.0.0.1', port, transport: 'udp', maxCallsInFlight: inFlight });
    const counter = new CounterProgV1Client(rpc);
    const once = proc === 'null' ? () => rpc.ping(CounterProgV1.program, CounterProgV1.version) : () => counter.echo(PAYLOAD);
    const r = await measure(inFlight, durationMs, warmupMs, once);
    await rpc.close();
    return r;
  }
  if (kind === 'grpc') {
    const { grpc, Echo } = await loadGrpc();
    const c = new Echo(`127.0.0.1:${port}`, grpc.credentials.createInsecure());
    const once =
      proc === 'null'
        ? () => new Promise<void>((res, rej) => c.Null({}, (e) => (e ? rej(e) : res())))
        : () => new Promise<void>((res, rej) => c.Echo({ data: PAYLOAD }, (e) => (e ? rej(e) : res())));
    const r = await measure(inFlight, durationMs, warmupMs, once);
    c.close();
    return r;
  }
  throw new Error(`unknown client ${kind}`);
}

// Run as a child; imported (by tests, for RPC_SIZES) it does nothing.
if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const [role, kind, ...rest] = process.argv.slice(2);
  if (role === 'server') {
    await serve(kind!);
  } else if (role === 'client') {
    const [port, proc, inFlight, duration, warmup] = rest;
    const r = await client(kind!, Number(port), proc as 'null' | 'echo', Number(inFlight), Number(duration), Number(warmup));
    console.log(JSON.stringify(r));
    process.exit(0);
  } else if (role === 'engines') {
    const [duration, warmup] = rest;
    if (kind !== 'null' && kind !== 'echo') throw new Error(`engines: null or echo, not ${kind}`);
    console.log(JSON.stringify(enginesAlone(kind, Number(duration), Number(warmup))));
  } else {
    throw new Error(`unknown role ${role}: server, client or engines`);
  }
}
