// RPC speed: NULL and 32-byte ECHO calls on loopback, one at a time and 64 in flight, for Packet
// Lab's RPC over UDP beside three baselines measured in the same run: a bare node:dgram
// request/reply pair (the floor of any Node code), @grpc/grpc-js unary, and the C pair that
// Debian's rpcgen and libtirpc build from the same counter.x (when rpcgen and gcc are installed).
// Every server and client runs in a process of its own; each figure is the median of ROUNDS (5)
// rounds, the variants taking turns within a round so that noise from other work spreads evenly.
// Two more figures say where the lab's time beyond the bare pair goes: the bare pair's client
// with a promise per call (what an async API costs), and the RPC engines alone in one process (the
// protocol's own work: XDR, XIDs, timers, dispatch, the duplicate request cache), which runs at the
// start of every round.

import { execFile, execFileSync, fork, spawn, type ChildProcess } from 'node:child_process';
import { copyFileSync, existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { projectRoot } from '../net/paths.js';
import { haveCommand, median, num, printTable, runChild } from './lib.js';
import { ENGINE_BATCH, type ClientResult, type EnginesResult } from './rpc-child.js';

type Variant = 'lab' | 'dgram' | 'dgram-async' | 'grpc' | 'c';
type Proc = 'null' | 'echo';

const ROUNDS = 5;
/** The goal against the bare node:dgram pair (issue 7). */
const DGRAM_GOAL = 0.95;
const DURATION_MS = 1000;
const WARMUP_MS = 300;
const CASES: { proc: Proc; inFlight: number }[] = [
  { proc: 'null', inFlight: 1 },
  { proc: 'echo', inFlight: 1 },
  { proc: 'null', inFlight: 64 },
  { proc: 'echo', inFlight: 64 },
];
const NAMES: Record<Variant, string> = {
  lab: 'packetlab RPC (TS client + server, UDP)',
  dgram: 'bare node:dgram request/reply',
  'dgram-async': 'the same, a promise per call',
  grpc: '@grpc/grpc-js unary (HTTP/2)',
  c: 'C rpcgen/libtirpc (UDP)',
};


/** Builds the C server and client from counter.x; null (and why) when the tools are missing. */
function buildC(): { dir: string } | { missing: string } {
  const missing = ['rpcgen', 'gcc'].filter((c) => !haveCommand(c));
  if (!existsSync('/usr/include/tirpc/rpc/rpc.h')) missing.push('libtirpc-dev');
  if (missing.length > 0) return { missing: missing.join(', ') };
  const root = projectRoot();
  const dir = mkdtempSync(join(tmpdir(), 'rpc-bench-'));
  copyFileSync(join(root, 'core/rpc/programs/counter.x'), join(dir, 'counter.x'));
  for (const f of ['counter_bench_server.c', 'counter_bench_client.c']) copyFileSync(join(root, 'bench/c', f), join(dir, f));
  const run = (cmd: string, args: string[]) => execFileSync(cmd, args, { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
  run('rpcgen', ['-h', 'counter.x', '-o', 'counter.h']);
  run('rpcgen', ['-c', 'counter.x', '-o', 'counter_xdr.c']);
  run('rpcgen', ['-m', 'counter.x', '-o', 'counter_svc.c']);
  const cc = ['-O2', '-I/usr/include/tirpc', '-I.'];
  run('gcc', [...cc, '-o', 'server', 'counter_bench_server.c', 'counter_svc.c', 'counter_xdr.c', '-ltirpc']);
  run('gcc', [...cc, '-pthread', '-o', 'client', 'counter_bench_client.c', 'counter_xdr.c', '-ltirpc']);
  return { dir };
}

function startNodeServer(kind: Variant): Promise<{ port: number; child: ChildProcess }> {
  return new Promise((resolve, reject) => {
    const child = fork(fileURLToPath(new URL('./rpc-child.js', import.meta.url)), ['server', kind], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    child.once('message', (m) => resolve({ port: (m as { port: number }).port, child }));
    child.once('exit', (code) => reject(new Error(`${kind} server exited with ${code}`)));
  });
}

function startCServer(dir: string): Promise<{ port: number; child: ChildProcess }> {
  return new Promise((resolve, reject) => {
    const child = spawn(join(dir, 'server'), [], { stdio: ['ignore', 'pipe', 'inherit'] });
    child.stdout!.once('data', (d: Buffer) => {
      const m = /port (\d+)/.exec(d.toString());
      if (m === null) reject(new Error(`the C server said ${d.toString()}`));
      else resolve({ port: Number(m[1]), child });
    });
    child.once('exit', (code) => reject(new Error(`the C server exited with ${code}`)));
  });
}

function runCClient(dir: string, port: number, proc: Proc, inFlight: number): Promise<ClientResult> {
  return new Promise((resolve, reject) => {
    execFile(join(dir, 'client'), ['127.0.0.1', String(port), proc, String(inFlight), String(DURATION_MS), String(WARMUP_MS)], { timeout: 60_000 }, (err, stdout) => {
      if (err !== null) reject(err);
      else resolve(JSON.parse(stdout.trim().split('\n').pop()!) as ClientResult);
    });
  });
}

/** Clock ticks per second of /proc/PID/stat's CPU times. */
function clockTicks(): number {
  try {
    return Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
  } catch {
    return 100;
  }
}

/** CPU time (us, user + system) a process has used so far; NaN where /proc is missing. */
function processCpuUs(pid: number | undefined, ticks: number): number {
  if (pid === undefined) return Number.NaN;
  try {
    // The fields after the command name: utime and stime are the 12th and 13th.
    const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
    return ((Number(f[11]) + Number(f[12])) * 1e6) / ticks;
  } catch {
    return Number.NaN;
  }
}

/** One client run: what the client reported, and the server's CPU time over it (us). */
interface Run extends ClientResult {
  serverCpuUs: number;
}

function stop(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.pid === undefined) return resolve();
    child.once('exit', () => resolve());
    process.kill(child.pid, 'SIGTERM');
  });
}

/** "NULL, 64 in flight". */
function caseName(k: { proc: Proc; inFlight: number }): string {
  return `${k.proc === 'null' ? 'NULL' : 'ECHO'}, ${k.inFlight} in flight`;
}

/** Runs the RPC benchmark and prints its tables. */
export async function benchRpc(): Promise<void> {
  const c = buildC();
  const variants: Variant[] = ['lab', 'dgram', 'dgram-async', 'grpc', ...('dir' in c ? (['c'] as const) : [])];
  if ('missing' in c) console.log(`\n(C rpcgen/libtirpc pair left out: missing ${c.missing})`);
  // The async client calls the bare pair's server.
  const serverOf = (v: Variant): Variant => (v === 'dgram-async' ? 'dgram' : v);
  const servers = new Map<Variant, { port: number; child: ChildProcess }>();
  try {
    for (const v of variants) if (serverOf(v) === v) servers.set(v, v === 'c' ? await startCServer((c as { dir: string }).dir) : await startNodeServer(v));
    const results = new Map<string, Run[]>();
    const engines: Record<Proc, EnginesResult[]> = { null: [], echo: [] };
    const ticks = clockTicks();
    for (let round = 0; round < ROUNDS; round++) {
      for (const proc of ['null', 'echo'] as const) {
        engines[proc].push(await runChild<EnginesResult>(import.meta.url, './rpc-child.js', ['engines', proc, String(DURATION_MS), String(WARMUP_MS)]));
      }
      for (const k of CASES) {
        // Rotate the order each round.
        const order = variants.map((_, i) => variants[(i + round) % variants.length]!);
        for (const v of order) {
          const { port, child } = servers.get(serverOf(v))!;
          const serverCpu0 = processCpuUs(child.pid, ticks);
          const client = v === 'c' ? await runCClient((c as { dir: string }).dir, port, k.proc, k.inFlight) : await runChild<ClientResult>(import.meta.url, './rpc-child.js', ['client', v, String(port), k.proc, String(k.inFlight), String(DURATION_MS), String(WARMUP_MS)]);
          const r: Run = { ...client, serverCpuUs: processCpuUs(child.pid, ticks) - serverCpu0 };
          const key = `${v}|${k.proc}|${k.inFlight}`;
          results.set(key, [...(results.get(key) ?? []), r]);
        }
      }
    }
    const med = (v: Variant, k: { proc: Proc; inFlight: number }, f: (r: Run) => number) => {
      const rs = results.get(`${v}|${k.proc}|${k.inFlight}`);
      return rs === undefined ? Number.NaN : median(rs.map(f));
    };
    for (const k of CASES) {
      const title = `RPC ${k.proc === 'null' ? 'NULL' : '32-byte ECHO'} calls on loopback, ${k.inFlight === 1 ? 'one at a time' : `${k.inFlight} in flight`} (median of ${ROUNDS} x ${DURATION_MS / 1000} s)`;
      const lab = med('lab', k, (r) => r.callsPerSecond);
      const rows = variants.map((v) => {
        const cps = med(v, k, (r) => r.callsPerSecond);
        return [NAMES[v], num(cps), num(med(v, k, (r) => r.p50Ms * 1000)), num(med(v, k, (r) => r.p99Ms * 1000)), v === 'lab' ? '1.00' : num(lab / cps, 2), num(med(v, k, (r) => r.failures))];
      });
      printTable(title, ['implementation', 'calls/s', 'p50 us', 'p99 us', 'packetlab / this', 'failures'], rows);
    }
    // Ratios are taken round by round (the two runs of a round are seconds apart, so a machine
    // that gets busier or quieter affects both), then the median over the rounds.
    const ratio = (v: Variant, k: { proc: Proc; inFlight: number }, f: (r: ClientResult) => number) => {
      const a = results.get(`lab|${k.proc}|${k.inFlight}`) ?? [];
      const b = results.get(`${v}|${k.proc}|${k.inFlight}`) ?? [];
      return b.length === 0 ? Number.NaN : median(a.map((r, i) => f(r) / f(b[i]!)));
    };
    const goals: string[][] = [];
    for (const k of CASES) {
      const name = caseName(k);
      const cps = (r: ClientResult) => r.callsPerSecond;
      const grpcGoal = k.inFlight === 1 ? 5 : 10;
      goals.push([
        name,
        `${num(ratio('dgram', k, cps), 2)} (>= ${DGRAM_GOAL})`,
        `${num(ratio('grpc', k, cps), 1)} (>= ${grpcGoal})`,
        `${num(ratio('grpc', k, (r) => r.p99Ms), 2)} (<= 0.5)`,
        variants.includes('c') ? num(ratio('c', k, cps), 2) : '-',
      ]);
    }
    printTable('RPC goals: packetlab RPC against the baselines (median over rounds of the per-round ratio; calls/s, and p99 latency)', ['case', 'vs node:dgram', 'vs grpc-js', 'p99 vs grpc-js', 'vs C rpcgen'], goals);
    // CPU time a call (us) of the client and of the server process, median of the rounds.
    const clientCpu = (v: Variant, k: { proc: Proc; inFlight: number }) => med(v, k, (r) => r.cpuUs / r.allCalls);
    const serverCpu = (v: Variant, k: { proc: Proc; inFlight: number }) => med(v, k, (r) => r.serverCpuUs / r.allCalls);
    // With both processes busy (64 in flight), calls per second follow the CPU time of a call.
    const cpuCell = (v: Variant, k: { proc: Proc; inFlight: number }) => {
      const client = clientCpu(v, k);
      const server = serverCpu(v, k);
      return `${num(client + server, 1)} (${num(client, 1)} + ${num(server, 1)})`;
    };
    printTable(
      'CPU time per call, us: client + server (user + system over each whole run, warm-up included; median of the rounds)',
      ['implementation', ...CASES.map(caseName)],
      variants.map((v) => [NAMES[v], ...CASES.map((k) => cpuCell(v, k))]),
    );
    // One at a time the mean time of a call (1 / rate) limits the rate, so 0.95 of the bare pair's
    // rate allows a call 1/0.95 - 1 (5.3%) more time than the bare pair's. With 64 in flight each
    // process has a core and the rate follows the CPU time a call costs the busier one, in the bare
    // pair max(bare client, bare server): at 0.95 of its rate either process may spend up to
    // max(bare client, bare server) / 0.95 a call, so each side is allowed that minus its own bare
    // CPU time (5.3% of its own for the busier side, more for the other).
    const allowed = 1 / DGRAM_GOAL - 1;
    const budget: string[][] = [];
    for (const k of CASES) {
      const eng = engines[k.proc];
      // Runs whose calls failed did not measure working calls: no figure ('-') if any did.
      const engineUs = (f: (e: EnginesResult) => number) => (eng.some((e) => e.failures > 0) ? Number.NaN : median(eng.map(f)));
      if (k.inFlight === 1) {
        const callUs = (v: Variant) => med(v, k, (r) => 1e6 / r.callsPerSecond);
        const bare = callUs('dgram');
        const engine = engineUs((e) => e.clientPerCallUs + e.serverPerCallUs);
        budget.push([caseName(k), 'time a call', num(bare, 1), num(bare * allowed, 2), num(callUs('dgram-async') - bare, 2), num(engine, 2), num(callUs('lab') - bare, 2)]);
        continue;
      }
      const bc = clientCpu('dgram', k);
      const bs = serverCpu('dgram', k);
      const limitUs = Math.max(bc, bs) / DGRAM_GOAL;
      // The async variant changes only the client (its server is the bare pair's).
      budget.push([caseName(k), 'client CPU a call', num(bc, 1), num(limitUs - bc, 2), num(clientCpu('dgram-async', k) - bc, 2), num(engineUs((e) => e.clientPerCallUs), 2), num(clientCpu('lab', k) - bc, 2)]);
      budget.push([caseName(k), 'server CPU a call', num(bs, 1), num(limitUs - bs, 2), '-', num(engineUs((e) => e.serverPerCallUs), 2), num(serverCpu('lab', k) - bs, 2)]);
    }
    // The server's CPU time comes in clock ticks: one tick a run, spread over the run's calls, is the
    // resolution of a server figure (coarsest in the run with the fewest calls).
    const serverRunCalls = CASES.filter((k) => k.inFlight > 1).flatMap((k) => (['dgram', 'lab'] as const).flatMap((v) => (results.get(`${v}|${k.proc}|${k.inFlight}`) ?? []).map((r) => r.allCalls)));
    const tickUsPerCall = 1e6 / ticks / Math.min(...serverRunCalls);
    printTable(
      `Where the ${DGRAM_GOAL} goal goes, us: what ${DGRAM_GOAL} of the bare pair's rate allows beyond the bare pair, beside what a promise per call, the RPC engines alone (both engines in one process, warm, in batches of ${ENGINE_BATCH} calls; no sockets) and packetlab RPC take beyond it (medians of the rounds; server CPU comes in ${1000 / ticks} ms ticks, at most ${num(tickUsPerCall, 2)} us a call)`,
      ['case', 'limited by', 'bare pair', `allowed at ${DGRAM_GOAL}`, 'promise per call', 'RPC engines alone', 'packetlab RPC'],
      budget,
    );
    for (const proc of ['null', 'echo'] as const) {
      const failed = engines[proc].filter((e) => e.failures > 0);
      const calls = failed.reduce((sum, e) => sum + e.failures, 0);
      const what = `RPC engines alone, ${proc === 'null' ? 'NULL' : 'ECHO'}`;
      if (failed.length === 0) console.log(`${what}: no call failed in ${engines[proc].length} runs`);
      else console.log(`${what}: ${num(calls)} calls failed in ${failed.length} of ${engines[proc].length} runs (the first: ${failed[0]!.firstFailure}), so its figures are '-'`);
    }
  } finally {
    for (const s of servers.values()) await stop(s.child);
    if ('dir' in c) rmSync(c.dir, { recursive: true, force: true });
  }
}
