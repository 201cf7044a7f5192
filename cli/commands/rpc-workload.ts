// `packetlab rpc workload`: keeps calls of the counter program in flight, in the simulator or on
// real sockets, and prints per-interval call rates, retransmissions, duplicate requests, cache
// hits, duplicate executions and latency percentiles. The lab's view of call semantics: run it
// with --no-drc and some --loss and --duplicate to watch at-least-once execute requests twice.

import { InvalidArgumentError, Option, type Command } from 'commander';
import { TRANSPORT_KNOBS, transportConfigProblems } from '../../core/knobs.js';
import { RPC_TRANSPORT, RPC_TRANSPORTS, SIM_RPC_TRANSPORTS, orList, type RpcTransportName } from '../../core/rpc/transports.js';
import { RPC_TRANSPORT_CONFIG } from '../../core/rpc/plt.js';
import { DEFAULT_RPC_SETUP, RPC_COLUMNS, rpcSetupProblems, runSimRpcWorkload, runUdpRpcWorkload, type RpcCallMix, type RpcSample, type RpcSetup, type RpcSummary } from '../../workloads/rpc/workload.js';
import { CsvWriter } from '../../net/csv.js';
import type { TransportConfig } from '../../core/transport/config.js';
import { parseBytes, parseMs, parseNumber, parseRunDurationMs } from '../../core/units.js';
import { durationArg, numberArg } from '../args.js';
import { UsageError, addImpairmentOptions, addKnobOptions, parseHostPort, readKnobs } from '../options.js';
import { Progress, RowClock, fmt, jsonLine, row, stopSignal } from '../output.js';
import { addDrcOptions, addRetryOptions, readDrc, readRetryPolicy } from './rpc-options.js';
import { addPresetOption, chooseLink, linkHelp } from '../link.js';
import { addReplicaOptions, connectReplicaPeers, readReplicatedSetup, runReplicatedCommand, wantsReplicas } from './rpc-replicas.js';

/** Parses --mix: "increment", or weights such as "null=1,echo=2,increment=1". */
export function parseMix(text: string): RpcCallMix {
  const mix: RpcCallMix = { null: 0, echo: 0, increment: 0 };
  for (const part of text.split(',')) {
    const m = /^\s*(null|echo|increment)\s*(?:=\s*([0-9.]+))?\s*$/.exec(part);
    if (m === null) throw new InvalidArgumentError(`--mix: "${part}" is not null, echo or increment, optionally with =weight (example: null=1,increment=3)`);
    mix[m[1] as keyof RpcCallMix] = m[2] === undefined ? 1 : Number(m[2]);
  }
  if (mix.null + mix.echo + mix.increment <= 0) throw new InvalidArgumentError('--mix: the weights add up to zero');
  return mix;
}

/** --mix of the plain workload, as a usage error naming the flag. */
function parseMixOption(text: string): RpcCallMix {
  try {
    return parseMix(text);
  } catch (e) {
    const hint = /\b(put|get)\b/.test(text) ? ' (put and get are calls of the replicated service: add --replicas N)' : '';
    throw new UsageError(`${(e as Error).message}${hint}`);
  }
}

const HEADER = ['time', 'calls/s', 'ok', 'failed', 'rtx', 'stray', 'dup req', 'hits', 'dup exec', 'p50 ms', 'p90 ms', 'p99 ms'];
const WIDTHS = [8, 9, 7, 6, 6, 6, 7, 6, 8, 8, 8, 8];

/**
 * Prints one row per sample. A sample taken before the next tick of the sampling interval can only
 * be the run's last, partial one (the drivers sample on the interval, and once more at the end).
 */
function printRow(s: RpcSample, clock: RowClock): void {
  console.log(
    row(
      [
        clock.close(s.time_s, !clock.due(s.time_s)),
        fmt(s.calls_per_s),
        fmt(s.calls_succeeded),
        fmt(s.calls_failed),
        fmt(s.retransmissions),
        fmt(s.stray_replies),
        fmt(s.duplicate_requests),
        fmt(s.cache_hits),
        fmt(s.duplicate_executions),
        fmt(s.latency_p50_ms, 2),
        fmt(s.latency_p90_ms, 2),
        fmt(s.latency_p99_ms, 2),
      ],
      WIDTHS,
    ),
  );
}

function printSummary(s: RpcSummary, drcOn: boolean): void {
  console.log(`\nRPC workload ${s.status}${s.failure === null ? '' : `: ${s.failure}`} (${s.net}, ${s.transport}, seed ${s.seed})`);
  const failed = Object.entries(s.failedBy)
    .map(([k, v]) => `${v} ${k}`)
    .join(', ');
  console.log(`calls: ${s.callsStarted} started, ${s.callsSucceeded} succeeded, ${s.callsFailed} failed${failed === '' ? '' : ` (${failed})`} in ${fmt(s.durationS, 3)} s = ${fmt(s.callsPerSecond)} calls/s`);
  console.log(`attempts per call ${fmt(s.attemptsPerCall, 3)}, ${s.client.retransmissions} retransmissions, ${s.client.strayReplies} stray replies; latency p50 ${fmt(s.latencyP50Ms, 2)} ms, p90 ${fmt(s.latencyP90Ms, 2)} ms, p99 ${fmt(s.latencyP99Ms, 2)} ms`);
  if (s.server !== null) {
    const v = s.server;
    console.log(`server (duplicate request cache ${drcOn ? 'on' : 'off'}): ${v.calls} calls, ${v.executions} executions, ${v.duplicateRequests} duplicate requests, ${v.cacheHits} answered from the cache, ${v.inProgressDrops} dropped while executing, ${v.duplicateExecutions} duplicate executions`);
  }
  if (s.counterValue !== null) {
    console.log(`counter: ${s.counterValue} after ${s.incrementsSucceeded} successful INCREMENT calls (${s.counterIncrements} executions, ${s.counterRepeatedExecutions} of an already executed request)`);
  }
  if (s.simEventsPerSecond !== undefined) console.log(`simulator: ${s.simEvents} packet events, ${Math.round(s.simEventsPerSecond).toLocaleString('en')} per second`);
}

/** Registers `packetlab rpc workload`. */
export function registerRpcWorkload(rpc: Command): void {
  const cmd = rpc
    .command('workload')
    .summary('keep counter calls in flight and watch call semantics (simulator or sockets)')
    .description(
      `Calls COUNTER_PROG (core/rpc/programs/counter.x) with a mix of NULL, ECHO and INCREMENT, keeping --in-flight calls outstanding, over UDP, TCP or the lab transport, in the simulator (--net sim, reproducible from --seed) or on real sockets (--net udp: a server in-process on loopback, or --peer HOST:PORT for \`packetlab rpc serve-demo\`). ${linkHelp()} Prints per-interval samples and a summary that counts duplicate executions.\n\nWith --replicas N the counter and key-value programs are served by N replicas in the simulator (over UDP; with --net udp, N processes on loopback registered with a lab binder, a crash being SIGKILL and a restart a new process on its port), the client gets their list from the binder and sends by --policy, and --crash-at, --restart-at, --partition-at, --heal-at and --slow-at cause failures: for example \`--replicas 3 --policy failover --crash-at 2s:1 --restart-at 4s:1 --duration 6\`. --mix then also takes put and get (KV_PUT, KV_GET), --timeout is a call's whole deadline and --retry the retransmission interval to one replica.`,
    );
  const g = 'Run:';
  cmd.addOption(new Option('--net <sim|udp>', 'simulator or real sockets (default sim; --peer implies udp)').choices(['sim', 'udp']).helpGroup(g));
  cmd.addOption(new Option('--peer <host:port>', 'a remote server of COUNTER_PROG (serve-demo) on the chosen transport').helpGroup(g));
  addPresetOption(cmd, g);
  cmd.addOption(new Option('--transport <name>', `${orList(RPC_TRANSPORTS.map((t) => (RPC_TRANSPORT[t].datagrams ? t : `${t} (sockets only)`)))} (default udp)`).choices([...RPC_TRANSPORTS]).helpGroup(g));
  cmd.addOption(new Option('--calls <n>', 'calls to make, 0 for no limit (default 1000 unless --duration)').argParser(numberArg(parseNumber, 0, 1e9, '--calls', true)).helpGroup(g));
  cmd.addOption(new Option('--duration <time>', 'stop starting calls after this long; a bare number is seconds (default none)').argParser(durationArg(parseRunDurationMs, 1, 86_400_000, '--duration')).helpGroup(g));
  cmd.addOption(new Option('--in-flight <n>', 'calls kept outstanding (default 8)').argParser(numberArg(parseNumber, 1, 1024, '--in-flight', true)).helpGroup(g));
  cmd.addOption(new Option('--mix <spec>', 'procedures and weights: null, echo, increment; with --replicas also put, get (default increment; with --replicas increment,put,get)').helpGroup(g));
  cmd.addOption(new Option('--echo-bytes <n>', 'ECHO payload (default 32)').argParser(numberArg(parseBytes, 0, 65000, '--echo-bytes', true)).helpGroup(g));
  cmd.addOption(new Option('--seed <n>', 'seed of the impairment, XIDs and mix (default random, printed)').argParser(numberArg(parseNumber, 0, 2 ** 32 - 1, '--seed', true)).helpGroup(g));
  cmd.addOption(new Option('--interval <time>', 'sampling interval; a bare number is ms (default 1s)').argParser(durationArg(parseMs, 1, 60_000, '--interval')).helpGroup(g));
  cmd.addOption(new Option('--time-limit <time>', 'give up after this long (virtual time in the simulator); a bare number is seconds (default 1h sim, 10m udp)').argParser(durationArg(parseRunDurationMs, 1, 365 * 86_400_000, '--time-limit')).helpGroup(g));
  cmd.addOption(new Option('--json', 'print one JSON object per sample and a final summary object').helpGroup(g));
  cmd.addOption(new Option('--csv <file>', 'write the samples to a CSV file').helpGroup(g));
  addRetryOptions(cmd);
  addDrcOptions(cmd);
  addImpairmentOptions(cmd, true, 'preset');
  addKnobOptions(cmd, TRANSPORT_KNOBS, { prefix: 'plt-', group: 'Lab transport (--transport plt):' });
  addReplicaOptions(cmd);
  cmd.action(async (o: Record<string, unknown>) => {
    const peer = o.peer === undefined ? null : parseHostPort(o.peer as string, '--peer');
    const net = (o.net as 'sim' | 'udp' | undefined) ?? (peer !== null ? 'udp' : 'sim');
    if (wantsReplicas(o)) {
      if (peer !== null) throw new UsageError('--replicas with --peer is not built yet: replicas run in the simulator, or as processes on loopback with --net udp');
      if (o.transport !== undefined) throw new UsageError('--transport does not apply to --replicas: the replicas are called over UDP datagrams');
      const duration = (o.duration as number | undefined) ?? 0;
      const link = chooseLink(o, net, true);
      const setup = readReplicatedSetup(o, {
        forward: link.forward,
        reverse: link.reverse,
        seed: (o.seed as number | undefined) ?? (Math.random() * 2 ** 32) >>> 0,
        intervalMs: (o.interval as number | undefined) ?? 1000,
        timeLimitMs: (o.timeLimit as number | undefined) ?? (net === 'sim' ? 3_600_000 : 600_000),
        durationMs: duration,
      }, net);
      if (net === 'sim' && o.replicaPeers !== undefined) throw new UsageError('--replica-peers needs --net udp: the simulator has no peer agents');
      const agents = net === 'udp' ? await connectReplicaPeers(o, setup.replicas) : null;
      if (agents !== null && setup.replication !== 'none') {
        for (const a of agents) await a.close();
        throw new UsageError("--replica-peers: the agents' replicas have no replication between them: primary-backup runs in the simulator and on loopback");
      }
      const summary = await runReplicatedCommand(setup, { json: o.json === true, csv: (o.csv as string | undefined) ?? null, linkDescription: link.description, net, agents });
      if (summary.status !== 'complete') process.exitCode = 1;
      return;
    }
    if (net === 'sim' && peer !== null) throw new UsageError('--peer needs --net udp (the simulator has no real peers)');
    const transport = ((o.transport as string | undefined) ?? 'udp') as RpcTransportName;
    if (net === 'sim' && !RPC_TRANSPORT[transport].datagrams) throw new UsageError(`--transport ${transport} needs --net udp: the simulator carries datagrams (use ${orList(SIM_RPC_TRANSPORTS)})`);
    const plt = { ...RPC_TRANSPORT_CONFIG, ...readKnobs(o, TRANSPORT_KNOBS, 'plt-') } as TransportConfig;
    const tp = transportConfigProblems(plt);
    if (tp.length > 0) throw new UsageError(tp[0]!);
    const duration = (o.duration as number | undefined) ?? 0;
    const link = chooseLink(o, net, true);
    const setup: RpcSetup = {
      ...DEFAULT_RPC_SETUP,
      transport,
      mix: o.mix === undefined ? DEFAULT_RPC_SETUP.mix : parseMixOption(o.mix as string),
      echoBytes: (o.echoBytes as number | undefined) ?? 32,
      callsInFlight: (o.inFlight as number | undefined) ?? 8,
      totalCalls: (o.calls as number | undefined) ?? (duration > 0 ? 0 : 1000),
      durationMs: duration,
      policy: readRetryPolicy(o),
      drc: readDrc(o),
      forward: link.forward,
      reverse: link.reverse,
      transportConfig: plt,
      seed: (o.seed as number | undefined) ?? (Math.random() * 2 ** 32) >>> 0,
      intervalMs: (o.interval as number | undefined) ?? 1000,
      timeLimitMs: (o.timeLimit as number | undefined) ?? (net === 'sim' ? 3_600_000 : 600_000),
    };
    const problems = rpcSetupProblems(setup, net);
    if (problems.length > 0) throw new UsageError(problems[0]!);
    const json = o.json === true;
    const csv = o.csv === undefined ? null : new CsvWriter(o.csv as string, RPC_COLUMNS);
    const progress = new Progress();
    const clock = new RowClock(setup.intervalMs, setup.intervalMs);
    if (!json) {
      console.log(`${net === 'sim' ? 'simulated' : 'socket'} RPC workload over ${transport} ${link.description}: ${setup.totalCalls > 0 ? `${setup.totalCalls} calls` : `${duration / 1000} s`}, ${setup.callsInFlight} in flight, duplicate request cache ${setup.drc.enabled ? 'on' : 'off'}, seed ${setup.seed} (reproduce with --seed ${setup.seed})`);
      console.log(row(HEADER, WIDTHS));
    }
    const onSample = (s: RpcSample) => {
      csv?.write(s);
      if (json) jsonLine({ type: 'sample', ...s });
      else {
        progress.clear();
        printRow(s, clock);
        progress.update(`t=${s.time_s.toFixed(1)} s (Ctrl-C stops)`);
      }
    };
    let summary: RpcSummary;
    if (net === 'sim') summary = runSimRpcWorkload(setup, { onSample });
    else {
      const { signal, dispose } = stopSignal();
      try {
        summary = await runUdpRpcWorkload({ setup, peer, onSample, signal });
      } finally {
        dispose();
      }
    }
    progress.clear();
    csv?.close();
    if (json) jsonLine(summary);
    else printSummary(summary, setup.drc.enabled);
    if (summary.status !== 'complete') process.exitCode = 1;
  });
}
