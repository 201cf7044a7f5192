// RPC workloads for experiments: a client keeps N calls of the counter program (counter.x: NULL,
// ECHO, INCREMENT, in a seeded mix) in flight against a server, over UDP, TCP or the lab
// transport, with the lab's impairment on both directions, and reports per-interval samples and a
// summary. runSimRpcWorkload runs it in the discrete-event simulator (UDP and plt; reproducible
// from the seed); runUdpRpcWorkload on real sockets (UDP, TCP, plt) with the server in-process on
// loopback or elsewhere. Both drive the same workload endpoint. docs/rpc.md lists the columns.

import type { Endpoint } from '../../core/endpoint.js';
import { Link } from '../../core/impair/link.js';
import { linkDrops, type LinkCounters } from '../../core/impair/counters.js';
import { metricList } from '../../core/metrics/registry.js';
import { NO_IMPAIRMENT, type ImpairmentConfig } from '../../core/impair/config.js';
import { Simulator } from '../../core/sim/simulator.js';
import type { TransportConfig } from '../../core/transport/config.js';
import { Rng, deriveSeed } from '../../core/util/rng.js';
import { Fifo } from '../../core/util/fifo.js';
import { CounterService } from '../../core/rpc/programs/counter-server.js';
import { CounterProgV1 } from '../../core/rpc/programs/counter.js';
import { DEFAULT_RETRY_POLICY, RPC_STATUS_NAMES, RpcClientCounters, RpcClientEngine, RpcStatus, retryPolicyProblems, type RetryPolicy } from '../../core/rpc/client.js';
import { nullProcedure, openRpcChannel } from '../../net/rpc/client-net.js';
import { RPC_TRANSPORT, rpcTransportProblems, type RpcClientSide, type RpcTransportName } from '../../core/rpc/transports.js';
import { DEFAULT_DRC_CONFIG, drcConfigProblems, type DrcConfig } from '../../core/rpc/drc.js';
import { RPC_TRANSPORT_CONFIG } from '../../core/rpc/plt.js';
import { listenerDefaultsOf } from '../../core/apps/services.js';
import type { ProcedureDescriptor, RpcProgramVersion } from '../../core/rpc/program.js';
import { PmapProgV2, type Mapping } from '../../core/rpc/pmap.js';
import { PortmapRegistry, portmapProgram, protocolNumber } from '../../core/rpc/portmap.js';
import { SIM_LISTENER_ADDRESS, captureUdpLinks } from '../../core/capture/runs.js';
import type { Capture } from '../../core/capture/capture.js';
import { RpcServerCounters, RpcServerEngine } from '../../core/rpc/server.js';
import { RpcServer } from '../../net/rpc/server-net.js';

/** Weights of the procedures a workload calls (any non-negative numbers; they are normalised). */
export interface RpcCallMix {
  /** NULL (procedure 0): the bare RPC round trip. */
  null: number;
  /** ECHO of echoBytes bytes. */
  echo: number;
  /** INCREMENT by 1: the non-idempotent call whose duplicate executions show. */
  increment: number;
}

/** Everything that defines an RPC workload run. */
export interface RpcSetup {
  transport: RpcTransportName;
  mix: RpcCallMix;
  /** Payload of an ECHO call. */
  echoBytes: number;
  /** Calls kept outstanding. */
  callsInFlight: number;
  /** Calls to make (0: no limit, durationMs ends the run). */
  totalCalls: number;
  /** Stop starting calls after this long (0: no limit, totalCalls ends the run). */
  durationMs: number;
  /** Timeout and retransmission policy of every call. */
  policy: RetryPolicy;
  /** The server's duplicate request cache. */
  drc: DrcConfig;
  /** Impairment of calls (client to server). */
  forward: ImpairmentConfig;
  /** Impairment of replies (server to client). */
  reverse: ImpairmentConfig;
  /** Lab-transport knobs (transport plt). */
  transportConfig: TransportConfig;
  seed: number;
  /** Sampling interval. */
  intervalMs: number;
  /** Give up after this long (virtual time in the simulator, wall time on sockets). */
  timeLimitMs: number;
  /**
   * Naming: how the client finds the server. 'fixed' knows its port; 'once' asks the server's
   * portmapper (PMAPPROC_GETPORT, RFC 1833) before the first call; 'every-call' asks before every
   * call, as a client that never caches its binding would. Default 'fixed'.
   */
  binding?: RpcBinding;
}

/** How a workload's client finds the server (see RpcSetup.binding). */
export type RpcBinding = 'fixed' | 'once' | 'every-call';

/** A workload nobody configured: 1000 INCREMENT calls, 8 in flight, over UDP, nothing impaired. */
export const DEFAULT_RPC_SETUP: Readonly<RpcSetup> = Object.freeze({
  transport: 'udp',
  mix: { null: 0, echo: 0, increment: 1 },
  echoBytes: 32,
  callsInFlight: 8,
  totalCalls: 1000,
  durationMs: 0,
  policy: { ...DEFAULT_RETRY_POLICY },
  drc: { ...DEFAULT_DRC_CONFIG },
  forward: { ...NO_IMPAIRMENT },
  reverse: { ...NO_IMPAIRMENT },
  transportConfig: { ...RPC_TRANSPORT_CONFIG },
  seed: 1,
  intervalMs: 100,
  timeLimitMs: 600_000,
});

/** What is wrong with a setup (empty when it is fine); each problem names the field. */
export function rpcSetupProblems(s: RpcSetup, net: 'sim' | 'udp'): string[] {
  const out: string[] = [];
  out.push(...rpcTransportProblems(s.transport, net, s.forward, s.reverse));
  const w = [s.mix.null, s.mix.echo, s.mix.increment];
  if (w.some((x) => !(x >= 0)) || w.every((x) => x === 0)) out.push('mix: weights must be non-negative and not all zero');
  if (!Number.isInteger(s.echoBytes) || s.echoBytes < 0 || s.echoBytes > 65000) out.push(`echoBytes must be a whole number from 0 to 65000 (got ${s.echoBytes})`);
  if (!Number.isInteger(s.callsInFlight) || s.callsInFlight < 1 || s.callsInFlight > 1024) out.push(`callsInFlight must be a whole number from 1 to 1024 (got ${s.callsInFlight})`);
  if (!Number.isInteger(s.totalCalls) || s.totalCalls < 0 || s.totalCalls > 1e9) out.push(`totalCalls must be a whole number from 0 to 1e9 (got ${s.totalCalls})`);
  if (!(s.durationMs >= 0)) out.push(`durationMs must not be negative (got ${s.durationMs})`);
  if (s.totalCalls === 0 && s.durationMs === 0) out.push('either totalCalls or durationMs must be set');
  if (s.binding !== undefined && !['fixed', 'once', 'every-call'].includes(s.binding)) out.push(`binding must be fixed, once or every-call (got ${String(s.binding)})`);
  if (!(s.intervalMs >= 1)) out.push(`intervalMs must be at least 1 (got ${s.intervalMs})`);
  if (!(s.timeLimitMs >= 1)) out.push(`timeLimitMs must be at least 1 (got ${s.timeLimitMs})`);
  out.push(...retryPolicyProblems(s.policy).map((p) => `policy.${p}`));
  out.push(...drcConfigProblems(s.drc).map((p) => `drc.${p}`));
  return out;
}

/** Column names of an RPC sample, in CSV order. */
export const RPC_COLUMNS = metricList([
  'time_s',
  'calls_started',
  'calls_succeeded',
  'calls_failed',
  'calls_failed_timeout',
  'calls_failed_unreachable',
  'calls_failed_shutdown',
  'calls_failed_remote',
  'calls_in_flight',
  'calls_per_s',
  'attempts_per_call',
  'transmissions',
  'retransmissions',
  'stray_replies',
  'server_calls',
  'executions',
  'duplicate_requests',
  'cache_hits',
  'in_progress_drops',
  'duplicate_executions',
  'drc_entries',
  'latency_p50_ms',
  'latency_p90_ms',
  'latency_p99_ms',
  'latency_mean_ms',
  'latency_max_ms',
  'fwd_drops',
  'fwd_duplicated',
  'rev_drops',
  'rev_duplicated',
] as const);

/** One column name. */
export type RpcColumn = (typeof RPC_COLUMNS)[number];
/** One sample: a number per column (NaN where the value does not exist, such as a remote server's counters). */
export type RpcSample = Record<RpcColumn, number>;

/** How a workload ended. */
export type RpcRunStatus = 'complete' | 'timeout' | 'stopped' | 'failed';

/** The end-of-run summary (also the last JSON line of --json). */
export interface RpcSummary {
  type: 'summary';
  net: 'sim' | 'udp';
  transport: RpcTransportName;
  status: RpcRunStatus;
  failure: string | null;
  seed: number;
  /** From the first call to the last completion. */
  durationS: number;
  callsStarted: number;
  callsSucceeded: number;
  callsFailed: number;
  /** Failed calls by status name (TIMEOUT, PROG_UNAVAIL, ...). */
  failedBy: Record<string, number>;
  callsPerSecond: number;
  attemptsPerCall: number;
  latencyP50Ms: number;
  latencyP90Ms: number;
  latencyP99Ms: number;
  latencyMeanMs: number;
  latencyMaxMs: number;
  client: RpcClientCounters;
  /** Server counters (null for a remote server). */
  server: RpcServerCounters | null;
  /** The counter's value at the end and the INCREMENT executions it saw (null for a remote server). */
  counterValue: string | null;
  counterIncrements: number | null;
  /** INCREMENT executions of an already executed request, from the counter's own exact log. */
  counterRepeatedExecutions: number | null;
  /** INCREMENT calls that succeeded at the client. */
  incrementsSucceeded: number;
  /** Naming: PMAPPROC_GETPORT calls made to find the server, and those that failed. */
  lookups: number;
  lookupFailures: number;
  /** Calls of the mix that succeeded, and their mean latency including any lookup before them (ms). */
  logicalCalls: number;
  logicalLatencyMeanMs: number;
  forward: LinkCounters | null;
  reverse: LinkCounters | null;
  /** Simulator only: packet events, and per second of wall time. */
  simEvents?: number;
  simEventsPerSecond?: number;
}

/** Callbacks of a running workload. */
export interface RpcHooks {
  /** One sample per interval. */
  onSample?(sample: RpcSample): void;
}

const MIX_KIND = { null: 0, echo: 1, increment: 2 } as const;

/** The client application of a workload: keeps calls in flight around an inner endpoint. */
export class RpcWorkloadClient implements Endpoint {
  /** When the first call started (ms), NaN before. */
  startedAtMs = Number.NaN;
  /** When the last call completed (ms), NaN before. */
  finishedAtMs = Number.NaN;
  /** INCREMENT calls that succeeded. */
  incrementsSucceeded = 0;
  /** Naming: GETPORT calls made, and those that failed or found nothing. */
  lookups = 0;
  lookupFailures = 0;
  /** Calls of the mix that succeeded, and the sum of their latencies from the lookup before them. */
  logicalCalls = 0;
  logicalLatencySumMs = 0;
  private bound = false;
  private lookupInFlight = false;
  // Start times of logical calls whose lookup has answered: their call goes out next.
  private readonly resolved = new Fifo<number>();
  private readonly binding: RpcBinding;
  private readonly lookupArgs: Mapping;
  private readonly rng: Rng;
  private readonly procs: ProcedureDescriptor<unknown, unknown>[];
  private readonly cumulative: number[];
  private readonly payload: Uint8Array;
  private started = false;
  private startedCalls = 0;
  private stopAtMs = Number.POSITIVE_INFINITY;
  private stopped = false;

  constructor(
    private readonly inner: Endpoint,
    readonly engine: RpcClientEngine,
    private readonly setup: RpcSetup,
  ) {
    this.rng = new Rng(deriveSeed(setup.seed, 'mix'));
    this.procs = [nullProcedure(CounterProgV1.program, CounterProgV1.version), CounterProgV1.procedures.ECHO, CounterProgV1.procedures.INCREMENT] as ProcedureDescriptor<unknown, unknown>[];
    const m = setup.mix;
    const total = m.null + m.echo + m.increment;
    this.cumulative = [m.null / total, (m.null + m.echo) / total, 1];
    this.payload = new Uint8Array(setup.echoBytes).fill(0x5a);
    this.binding = setup.binding ?? 'fixed';
    this.bound = this.binding !== 'once';
    this.lookupArgs = { prog: CounterProgV1.program, vers: CounterProgV1.version, prot: protocolNumber(setup.transport), port: 0 };
  }

  /** The destination of the inner endpoint's datagrams. */
  get transmitTo(): number {
    return this.inner.transmitTo;
  }

  /** True when every call has been started and completed (or the run was stopped and drained). */
  get done(): boolean {
    return this.started && this.noMoreCalls() && this.engine.pendingCalls === 0;
  }

  /** Starts calling. */
  start(now: number): void {
    if (this.started) return;
    this.started = true;
    this.startedAtMs = now;
    if (this.setup.durationMs > 0) this.stopAtMs = now + this.setup.durationMs;
    this.topUp(now);
  }

  /** Stops starting calls; those in flight finish. */
  stop(): void {
    this.stopped = true;
  }

  handleDatagram(now: number, bytes: Uint8Array, from: number): void {
    this.inner.handleDatagram(now, bytes, from);
    this.progress(now);
  }

  handleTimeout(now: number): void {
    const t = this.inner.pollTimeout();
    if (t !== null && t <= now) this.inner.handleTimeout(now);
    this.progress(now);
  }

  pollTransmit(now: number): Uint8Array | null {
    return this.inner.pollTransmit(now);
  }

  pollTimeout(): number | null {
    const t = this.inner.pollTimeout();
    // The end of the duration is a deadline of its own until it has passed.
    if (!this.started || this.noMoreCalls() || this.stopAtMs === Number.POSITIVE_INFINITY) return t;
    return t === null || this.stopAtMs < t ? this.stopAtMs : t;
  }

  private noMoreCalls(): boolean {
    const s = this.setup;
    return this.stopped || this.durationOver || (s.totalCalls > 0 && this.startedCalls >= s.totalCalls);
  }

  private durationOver = false;

  private progress(now: number): void {
    if (now >= this.stopAtMs) this.durationOver = true;
    const e = this.engine;
    for (let c = e.pollCompleted(); c !== null; c = e.pollCompleted()) {
      this.finishedAtMs = now;
      if (c.procedure === GETPORT) {
        // Naming: the answer of the binder. Port 0 means the program is not registered.
        this.lookups++;
        const port = c.status === RpcStatus.SUCCESS ? (c.result as number) : 0;
        if (port === 0) this.lookupFailures++;
        if (this.binding === 'once') {
          this.lookupInFlight = false;
          if (port !== 0) this.bound = true;
        } else if (port !== 0) {
          // Called once the completions are drained: the engine still counts this one in flight.
          this.resolved.push(c.owner as number);
        }
        continue;
      }
      if (c.status === RpcStatus.SUCCESS) {
        this.logicalCalls++;
        this.logicalLatencySumMs += now - (c.owner as number);
        if (c.procedure.procedure === CounterProgV1.procedures.INCREMENT.procedure) this.incrementsSucceeded++;
      }
    }
    if (this.started) this.topUp(now);
  }

  private topUp(now: number): void {
    const e = this.engine;
    if (!this.bound) {
      // 'once': nothing goes out before the binder has answered.
      if (!this.lookupInFlight && !this.noMoreCalls()) {
        this.lookupInFlight = true;
        e.call(now, GETPORT, this.lookupArgs).owner = now;
      }
      return;
    }
    for (let at = this.resolved.shift(); at !== undefined; at = this.resolved.shift()) this.startCall(now, at);
    while (e.pendingCalls < this.setup.callsInFlight && !this.noMoreCalls()) {
      this.startedCalls++;
      if (this.binding === 'every-call') e.call(now, GETPORT, this.lookupArgs).owner = now;
      else this.startCall(now, now);
    }
  }

  /** Starts one call of the mix; `since` is when its logical call began (its lookup, if any). */
  private startCall(now: number, since: number): void {
    const u = this.rng.uniform();
    const k = u < this.cumulative[0]! ? MIX_KIND.null : u < this.cumulative[1]! ? MIX_KIND.echo : MIX_KIND.increment;
    const args = k === MIX_KIND.null ? undefined : k === MIX_KIND.echo ? this.payload : 1;
    this.engine.call(now, this.procs[k]!, args).owner = since;
  }
}

const GETPORT = PmapProgV2.procedures.PMAPPROC_GETPORT as ProcedureDescriptor<unknown, unknown>;

/** What a meter reads. */
interface RpcSources {
  client: RpcClientEngine;
  server: () => RpcServerEngine[] | null;
  forward: Link | null;
  reverse: Link | null;
}

function snapshot(o: object): Record<string, number> {
  return { ...(o as Record<string, number>) };
}

function sumServers(engines: RpcServerEngine[]): { counters: Record<string, number>; drcEntries: number } {
  const sum = snapshot(new RpcServerCounters());
  let drcEntries = 0;
  for (const e of engines) {
    for (const k of Object.keys(sum)) sum[k]! += (e.counters as unknown as Record<string, number>)[k]!;
    drcEntries += e.drc.entries;
  }
  return { counters: sum, drcEntries };
}

/** Turns counters into per-interval samples. */
export class RpcMeter {
  private prevClient: Record<string, number>;
  private prevServer: Record<string, number> | null;
  private prevFwd: LinkCounters | null;
  private prevRev: LinkCounters | null;
  private prevTime: number;

  constructor(
    private readonly src: RpcSources,
    private readonly startMs: number,
  ) {
    this.prevClient = snapshot(src.client.counters);
    const s = src.server();
    this.prevServer = s === null ? null : sumServers(s).counters;
    this.prevFwd = src.forward === null ? null : { ...src.forward.counters };
    this.prevRev = src.reverse === null ? null : { ...src.reverse.counters };
    this.prevTime = startMs;
    src.client.intervalLatency.reset();
  }

  /** The sample of the interval that ends at `now`; the interval's latency histogram starts over. */
  sample(now: number): RpcSample {
    const c = snapshot(this.src.client.counters);
    const pc = this.prevClient;
    const d = (k: keyof RpcClientCounters) => c[k]! - pc[k]!;
    const servers = this.src.server();
    const s = servers === null ? null : sumServers(servers);
    const ps = this.prevServer;
    const ds = (k: keyof RpcServerCounters) => (s === null || ps === null ? Number.NaN : s.counters[k]! - ps[k]!);
    const f = this.src.forward === null ? null : { ...this.src.forward.counters };
    const r = this.src.reverse === null ? null : { ...this.src.reverse.counters };
    const drops = (x: LinkCounters | null, p: LinkCounters | null) => (x === null || p === null ? Number.NaN : linkDrops(x) - linkDrops(p));
    const dup = (x: LinkCounters | null, p: LinkCounters | null) => (x === null || p === null ? Number.NaN : x.duplicated - p.duplicated);
    const completed = d('callsSucceeded') + d('callsFailed');
    const h = this.src.client.intervalLatency;
    const dt = (now - this.prevTime) / 1000;
    const sample: RpcSample = {
      time_s: (now - this.startMs) / 1000,
      calls_started: d('callsStarted'),
      calls_succeeded: d('callsSucceeded'),
      calls_failed: d('callsFailed'),
      calls_failed_timeout: d('failedTimeout'),
      calls_failed_unreachable: d('failedUnreachable'),
      calls_failed_shutdown: d('failedShutdown'),
      calls_failed_remote: d('failedProgUnavail') + d('failedProgMismatch') + d('failedProcUnavail') + d('failedGarbageArgs') + d('failedSystemErr') + d('failedRpcMismatch') + d('failedAuthError') + d('failedCantDecode'),
      calls_in_flight: this.src.client.pendingCalls,
      calls_per_s: dt > 0 ? d('callsSucceeded') / dt : Number.NaN,
      attempts_per_call: completed > 0 ? d('attemptsOfCompleted') / completed : Number.NaN,
      transmissions: d('transmissions'),
      retransmissions: d('retransmissions'),
      stray_replies: d('strayReplies'),
      server_calls: ds('calls'),
      executions: ds('executions'),
      duplicate_requests: ds('duplicateRequests'),
      cache_hits: ds('cacheHits'),
      in_progress_drops: ds('inProgressDrops'),
      duplicate_executions: ds('duplicateExecutions'),
      drc_entries: s === null ? Number.NaN : s.drcEntries,
      latency_p50_ms: h.quantile(0.5),
      latency_p90_ms: h.quantile(0.9),
      latency_p99_ms: h.quantile(0.99),
      latency_mean_ms: h.meanMs,
      latency_max_ms: h.maxMs,
      fwd_drops: drops(f, this.prevFwd),
      fwd_duplicated: dup(f, this.prevFwd),
      rev_drops: drops(r, this.prevRev),
      rev_duplicated: dup(r, this.prevRev),
    };
    this.prevClient = c;
    if (s !== null) this.prevServer = s.counters;
    this.prevFwd = f;
    this.prevRev = r;
    this.prevTime = now;
    h.reset();
    return sample;
  }
}

function summarize(
  net: 'sim' | 'udp',
  setup: RpcSetup,
  app: RpcWorkloadClient,
  status: RpcRunStatus,
  failure: string | null,
  servers: RpcServerEngine[] | null,
  counter: CounterService | null,
  forward: Link | null,
  reverse: Link | null,
): RpcSummary {
  const e = app.engine;
  const k = e.counters;
  const failedBy: Record<string, number> = {};
  const fields: [string, keyof RpcClientCounters][] = [
    ['TIMEOUT', 'failedTimeout'],
    ['UNREACHABLE', 'failedUnreachable'],
    ['SHUTDOWN', 'failedShutdown'],
    ['PROG_UNAVAIL', 'failedProgUnavail'],
    ['PROG_MISMATCH', 'failedProgMismatch'],
    ['PROC_UNAVAIL', 'failedProcUnavail'],
    ['GARBAGE_ARGS', 'failedGarbageArgs'],
    ['SYSTEM_ERR', 'failedSystemErr'],
    ['RPC_MISMATCH', 'failedRpcMismatch'],
    ['AUTH_ERROR', 'failedAuthError'],
    ['CANT_DECODE_RESULT', 'failedCantDecode'],
  ];
  for (const [name, f] of fields) if (k[f] > 0) failedBy[name] = k[f];
  const durationS = (app.finishedAtMs - app.startedAtMs) / 1000;
  const completed = k.callsSucceeded + k.callsFailed;
  return {
    type: 'summary',
    net,
    transport: setup.transport,
    status,
    failure,
    seed: setup.seed,
    durationS,
    callsStarted: k.callsStarted,
    callsSucceeded: k.callsSucceeded,
    callsFailed: k.callsFailed,
    failedBy,
    callsPerSecond: durationS > 0 ? k.callsSucceeded / durationS : Number.NaN,
    attemptsPerCall: completed > 0 ? k.attemptsOfCompleted / completed : Number.NaN,
    latencyP50Ms: e.latency.quantile(0.5),
    latencyP90Ms: e.latency.quantile(0.9),
    latencyP99Ms: e.latency.quantile(0.99),
    latencyMeanMs: e.latency.meanMs,
    latencyMaxMs: e.latency.maxMs,
    client: Object.assign(new RpcClientCounters(), k),
    server: servers === null ? null : (sumServers(servers).counters as unknown as RpcServerCounters),
    counterValue: counter === null ? null : counter.value.toString(),
    counterIncrements: counter === null ? null : counter.increments,
    counterRepeatedExecutions: counter === null ? null : counter.repeatedExecutions,
    incrementsSucceeded: app.incrementsSucceeded,
    lookups: app.lookups,
    lookupFailures: app.lookupFailures,
    logicalCalls: app.logicalCalls,
    logicalLatencyMeanMs: app.logicalCalls > 0 ? app.logicalLatencySumMs / app.logicalCalls : Number.NaN,
    forward: forward === null ? null : { ...forward.counters },
    reverse: reverse === null ? null : { ...reverse.counters },
  };
}

/** The pieces of a simulated workload, for callers that drive or inspect it themselves. */
export interface SimRpcWorkload {
  sim: Simulator;
  app: RpcWorkloadClient;
  /** The transport's client side the app drives. */
  side: RpcClientSide;
  /** The server engine (UDP) or the engine behind the RPC listener (plt). */
  server: RpcServerEngine;
  counter: CounterService;
  forward: Link;
  reverse: Link;
}

/**
 * Wires a simulated workload (client host 0, server host 1) without running it. `wrapServer` may
 * put something (a simulated socket buffer) between the network and the server host.
 */
export function buildSimRpcWorkload(setup: RpcSetup, wrapServer: (e: Endpoint) => Endpoint = (e) => e): SimRpcWorkload {
  const problems = rpcSetupProblems(setup, 'sim');
  if (problems.length > 0) throw new RangeError(`RPC setup: ${problems.join('; ')}`);
  const counter = new CounterService();
  const transport = RPC_TRANSPORT[setup.transport];
  // The simulated server keeps the reply limits of a real one, so that a run behaves the same in both.
  const server = new RpcServerEngine({ programs: serverPrograms(counter, setup, SIM_LISTENER_ADDRESS.port).programs, drc: setup.drc, datagramReplies: transport.replyLimits });
  const side = transport.client({ peer: 1, engine: { policy: setup.policy, rngSeed: deriveSeed(setup.seed, 'xid'), maxCallsInFlight: setup.callsInFlight }, seed: setup.seed, config: setup.transportConfig });
  side.start(0);
  const serverHost = transport.serverHost(server, { seed: deriveSeed(setup.seed, 'listener'), defaults: listenerDefaultsOf(setup.transportConfig) });
  const app = new RpcWorkloadClient(side.endpoint, side.engine, setup);
  const forward = new Link(setup.forward, deriveSeed(setup.seed, 'forward'));
  const reverse = new Link(setup.reverse, deriveSeed(setup.seed, 'reverse'));
  const sim = new Simulator([app, wrapServer(serverHost)], [forward, reverse], (from) => (from === 0 ? forward : reverse));
  return { sim, app, side, server, counter, forward, reverse };
}

/** Runs a workload to its end in virtual time and returns the summary. */
export function runSimRpcWorkload(setup: RpcSetup, hooks: RpcHooks = {}): RpcSummary {
  const w = buildSimRpcWorkload(setup);
  const { sim, app } = w;
  const meter = new RpcMeter({ client: app.engine, server: () => [w.server], forward: w.forward, reverse: w.reverse }, 0);
  let nextSample = setup.intervalMs;
  let lastSample = 0;
  if (hooks.onSample !== undefined) {
    const onSample = hooks.onSample;
    sim.addTicker({
      pollTimeout: () => (app.done ? null : nextSample),
      handleTimeout: (now) => {
        onSample(meter.sample(now));
        lastSample = now;
        nextSample = now + setup.intervalMs;
      },
    });
  }
  const wallStart = performance.now();
  app.start(0);
  const why = sim.run({ untilMs: setup.timeLimitMs, stop: () => app.done });
  const end = sim.now;
  if (hooks.onSample !== undefined && end > lastSample) hooks.onSample(meter.sample(end));
  const wallS = (performance.now() - wallStart) / 1000;
  const status: RpcRunStatus = app.done ? 'complete' : why === 'time' ? 'timeout' : 'failed';
  const failure = status === 'timeout' ? `did not finish within ${setup.timeLimitMs} ms of virtual time` : status === 'failed' ? `the simulation stopped (${why}) with calls pending` : null;
  const summary = summarize('sim', setup, app, status, failure, [w.server], w.counter, w.forward, w.reverse);
  summary.simEvents = sim.events;
  summary.simEventsPerSecond = wallS > 0 ? sim.events / wallS : Number.NaN;
  return summary;
}

/** The summary of a simulated workload that ran (for callers that drive it themselves). */
export function summarizeSimRpc(setup: RpcSetup, w: SimRpcWorkload, status: RpcRunStatus, failure: string | null): RpcSummary {
  const summary = summarize('sim', setup, w.app, status, failure, [w.server], w.counter, w.forward, w.reverse);
  summary.simEvents = w.sim.events;
  return summary;
}

/**
 * The server's programs: the counter, and with a binding other than 'fixed' a portmapper that
 * maps the counter to its port (RFC 1833), on the same server as a lab host has both. The
 * registry is returned so a port known only later can be registered.
 */
function serverPrograms(counter: CounterService, setup: RpcSetup, port: number | null): { programs: RpcProgramVersion[]; registry: PortmapRegistry | null } {
  if ((setup.binding ?? 'fixed') === 'fixed') return { programs: [counter.program()], registry: null };
  const registry = new PortmapRegistry();
  if (port !== null) registry.set({ prog: CounterProgV1.program, vers: CounterProgV1.version, prot: protocolNumber(setup.transport), port });
  return { programs: [counter.program(), portmapProgram(registry)], registry };
}

/** Options of a workload on real sockets. */
export interface UdpRpcWorkloadOptions {
  setup: RpcSetup;
  /** A remote server (the demo of `packetlab rpc serve-demo`), or null for one in-process on loopback. */
  peer: { host: string; port: number } | null;
  onSample?: (sample: RpcSample) => void;
  /** Aborting stops the run (its summary says 'stopped'). */
  signal?: AbortSignal;
  /** Called once calls start, with the impairment links (for live changes). */
  onStart?: (live: { forward: Link; reverse: Link; kick(): void }) => void;
  /** Records the calls and replies (udp and plt; the caller closes it). Over TCP nothing is recorded: its links carry records, not datagrams. */
  capture?: Capture;
}

/**
 * Runs a workload on real sockets (UDP, TCP, or the lab transport on UDP) and resolves with its
 * summary. Impairment applies at the client: forward on the way out, reverse on the way in.
 */
export async function runUdpRpcWorkload(o: UdpRpcWorkloadOptions): Promise<RpcSummary> {
  const { setup } = o;
  const problems = rpcSetupProblems(setup, 'udp');
  if (problems.length > 0) throw new RangeError(`RPC setup: ${problems.join('; ')}`);
  let counter: CounterService | null = null;
  let local: RpcServer | null = null;
  let peer = o.peer;
  if (peer === null) {
    counter = new CounterService();
    const served = serverPrograms(counter, setup, null);
    local = await RpcServer.start({
      host: '127.0.0.1',
      ports: { [setup.transport]: 0 },
      programs: served.programs,
      drc: setup.drc,
      seed: deriveSeed(setup.seed, 'listener'),
    });
    const port = local.port(setup.transport)!;
    served.registry?.set({ prog: CounterProgV1.program, vers: CounterProgV1.version, prot: protocolNumber(setup.transport), port });
    peer = { host: '127.0.0.1', port };
  }
  let app: RpcWorkloadClient | null = null;
  let finish: (s: RpcRunStatus, why: string | null) => void = () => {};
  const finished = new Promise<{ status: RpcRunStatus; why: string | null }>((resolve) => {
    finish = (status, why) => resolve({ status, why });
  });
  let lostReason: string | null = null;
  const ch = await openRpcChannel(
    { host: peer.host, port: peer.port, transport: setup.transport, policy: setup.policy, forward: setup.forward, reverse: setup.reverse, seed: setup.seed, plt: setup.transportConfig, maxCallsInFlight: setup.callsInFlight },
    (side) => {
      app = new RpcWorkloadClient(side.endpoint, side.engine, setup);
      return app;
    },
    {
      onProgress: () => {
        if (app?.done) finish('complete', null);
      },
      onLost: (reason, status) => {
        lostReason = reason;
        app?.engine.failAll(performance.now(), status, reason, RPC_TRANSPORT[setup.transport].lossCloses);
        app?.stop();
      },
    },
  ).catch(async (e: unknown) => {
    await local?.close();
    throw e;
  });
  const workload = app! as RpcWorkloadClient;
  if (o.capture !== undefined && ch.datagrams !== null) captureUdpLinks(o.capture, ch.datagrams, 'replies');
  const servers = () => (local === null ? null : local.engines());
  const start = performance.now();
  const meter = new RpcMeter({ client: ch.engine, server: servers, forward: ch.forward, reverse: ch.reverse }, start);
  const sampler = o.onSample === undefined ? null : setInterval(() => o.onSample!(meter.sample(performance.now())), setup.intervalMs);
  const limit = setTimeout(() => finish('timeout', `did not finish within ${setup.timeLimitMs} ms`), setup.timeLimitMs);
  const onAbort = () => finish('stopped', 'stopped by the user');
  o.signal?.addEventListener('abort', onAbort);
  // A duration ends the run even when no datagram or timer wakes the driver.
  const durationTimer = setup.durationMs > 0 ? setTimeout(() => ch.driver.kick(), setup.durationMs + 1) : null;
  workload.start(start);
  ch.driver.kick();
  o.onStart?.({ forward: ch.forward, reverse: ch.reverse, kick: () => ch.driver.kick() });
  const { status, why } = await finished;
  o.signal?.removeEventListener('abort', onAbort);
  clearTimeout(limit);
  if (durationTimer !== null) clearTimeout(durationTimer);
  if (sampler !== null) clearInterval(sampler);
  workload.stop();
  const end = performance.now();
  if (o.onSample !== undefined) o.onSample(meter.sample(end));
  await ch.close();
  const summary = summarize('udp', setup, workload, status, why ?? lostReason, servers(), counter, ch.forward, ch.reverse);
  await local?.close();
  return summary;
}

/** Names of call statuses, for printing failures. */
export function statusName(code: number): string {
  return RPC_STATUS_NAMES[code] ?? `status ${code}`;
}

