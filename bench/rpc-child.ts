// Child processes of `npm run bench rpc`, so that client and server each have their own event
// loop (and, on a machine with two cores, their own core):
//
//   rpc-child.js server lab|dgram|grpc
//       serves on 127.0.0.1, sends {port} to the parent over IPC, runs until killed
//   rpc-child.js client lab|dgram|grpc PORT null|echo IN_FLIGHT DURATION_MS WARMUP_MS
//       keeps IN_FLIGHT calls outstanding for WARMUP_MS + DURATION_MS and prints one JSON line:
//       calls per second and latency percentiles of the measured part
//
// lab is Packet Lab's RPC (generated stubs of counter.x, RpcClient and RpcServer over UDP); dgram
// is a bare node:dgram request/reply pair carrying the same bytes as the RPC messages (the floor
// of any Node code); grpc is @grpc/grpc-js unary over HTTP/2 on loopback.

import { createSocket, type Socket } from 'node:dgram';
import { join } from 'node:path';
import { RpcClient } from '../core/rpc/client-net.js';
import { RpcServer } from '../core/rpc/server-net.js';
import { CounterProgV1, CounterProgV1Client } from '../experiments/rpc/counter.js';
import { CounterService } from '../experiments/rpc/counter-server.js';
import { projectRoot } from '../core/util/paths.js';

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
    const s = await RpcServer.start({ programs: [counter.program()], tcpPort: null });
    port = s.udpPort!;
  } else if (kind === 'dgram') {
    const s = createSocket('udp4');
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

/** The bare pair's client: callbacks only, one slot per call in flight, ids in the first 4 bytes. */
function dgramClient(port: number, proc: 'null' | 'echo', inFlight: number, durationMs: number, warmupMs: number): Promise<ClientResult> {
  return new Promise((resolve) => {
    const s: Socket = createSocket('udp4');
    const size = RPC_SIZES[proc].call;
    const bufs = Array.from({ length: inFlight }, (_, i) => {
      const b = Buffer.alloc(size);
      b.writeUInt32BE(i, 0);
      return b;
    });
    const sentAt = new Float64Array(inFlight);
    const lat = new Float64Array(1 << 20);
    let n = 0;
    let all = 0;
    let cpu: NodeJS.CpuUsage;
    let active = inFlight;
    let start = 0;
    let measureAt = 0;
    let endAt = 0;
    const send = (i: number) => {
      sentAt[i] = performance.now();
      s.send(bufs[i]!);
    };
    s.on('message', (m) => {
      const i = m.readUInt32BE(0);
      const t1 = performance.now();
      const t0 = sentAt[i]!;
      all++;
      if (t0 >= measureAt && t1 <= endAt && n < lat.length) lat[n++] = t1 - t0;
      if (t1 < endAt) send(i);
      else if (--active === 0) {
        s.close();
        resolve(summarize(lat.subarray(0, n), durationMs, 0, all, cpu));
      }
    });
    s.connect(port, '127.0.0.1', () => {
      start = performance.now();
      cpu = process.cpuUsage();
      measureAt = start + warmupMs;
      endAt = measureAt + durationMs;
      for (let i = 0; i < inFlight; i++) send(i);
    });
  });
}

async function client(kind: string, port: number, proc: 'null' | 'echo', inFlight: number, durationMs: number, warmupMs: number): Promise<ClientResult> {
  if (kind === 'dgram') return dgramClient(port, proc, inFlight, durationMs, warmupMs);
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

const [role, kind, ...rest] = process.argv.slice(2);
if (role === 'server') {
  await serve(kind!);
} else if (role === 'client') {
  const [port, proc, inFlight, duration, warmup] = rest;
  const r = await client(kind!, Number(port), proc as 'null' | 'echo', Number(inFlight), Number(duration), Number(warmup));
  console.log(JSON.stringify(r));
  process.exit(0);
}
