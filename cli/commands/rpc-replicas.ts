// `packetlab rpc workload --replicas N`: the replicated service in the simulator
// (workloads/rpc/replicated.ts). Its options (policy, replication, failures at given times) and
// its output: a line per interval with availability, failovers and the load per replica, and a
// summary with the time to recover, writes lost, stale reads and duplicate executions.

import { Option, type Command } from 'commander';
import { parseMs, parseNumber } from '../../core/units.js';
import { durationArg, numberArg } from '../args.js';
import { UsageError } from '../options.js';
import { CLIENT_POLICIES, CLIENT_POLICY_LABELS, type ClientPolicy } from '../../core/rpc/replicas/client.js';
import { REPLICATION_MODES, type ReplicationMode } from '../../core/rpc/replicas/replica.js';
import { parseFaultAt, type CrashMemory, type TimedFault } from '../../core/rpc/replicas/faults.js';
import { DEFAULT_REPLICATED_SETUP, MAX_REPLICAS, REPLICATED_COLUMNS, replicatedSetupProblems, runSimReplicated, type ReplicatedHooks, type ReplicatedMix, type ReplicatedSample, type ReplicatedSetup, type ReplicatedSummary } from '../../workloads/rpc/replicated.js';
import { loopbackReplicatedProblems, runLoopbackReplicated } from '../../workloads/rpc/replicated-net.js';
import { CsvWriter } from '../../net/csv.js';
import { Progress, RowClock, fmt, jsonLine, row, stopSignal } from '../output.js';
import { PeerClient } from '../../net/peer/client.js';
import { readTokenFile } from '../token.js';
import { parseHostPort } from '../options.js';

const G = 'Replicas (--replicas turns them on; in the simulator, or processes on loopback with --net udp):';
const collect = (v: string, prev: string[] = []) => [...prev, v];

/** The options that only make sense with --replicas, by their attribute name, with their flag. */
const REPLICA_FLAGS: Record<string, string> = {
  policy: '--policy',
  failoverTimeout: '--failover-timeout',
  hedgeDelay: '--hedge-delay',
  healthInterval: '--health-interval',
  replication: '--replication',
  replicateDrc: '--no-replicate-drc',
  detection: '--detection',
  restartDelay: '--restart-delay',
  crashMemory: '--crash-memory',
  keys: '--keys',
  crashAt: '--crash-at',
  restartAt: '--restart-at',
  partitionAt: '--partition-at',
  healAt: '--heal-at',
  slowAt: '--slow-at',
  replicaPeers: '--replica-peers',
  tokenFile: '--token-file',
};

/** Adds the replica options to `packetlab rpc workload`. */
export function addReplicaOptions(cmd: Command): void {
  cmd.addOption(new Option('--replicas <n>', `serve the counter and key-value programs from N replicas (1 to ${MAX_REPLICAS}) in the simulator; the client gets their list from the binder`).argParser(numberArg(parseNumber, 1, MAX_REPLICAS, '--replicas', true)).helpGroup(G));
  cmd.addOption(new Option('--policy <name>', `client policy: ${CLIENT_POLICIES.map((p) => `${p} (${CLIENT_POLICY_LABELS[p]})`).join(', ')} (default failover)`).choices([...CLIENT_POLICIES]).helpGroup(G));
  cmd.addOption(new Option('--failover-timeout <time>', `a replica silent this long is given up for the call: the detection time; a bare number is ms (default ${DEFAULT_REPLICATED_SETUP.failoverMs}ms)`).argParser(durationArg(parseMs, 1, 3_600_000, '--failover-timeout')).helpGroup(G));
  cmd.addOption(new Option('--hedge-delay <time>', `hedged: when the second copy goes; a bare number is ms (default ${DEFAULT_REPLICATED_SETUP.hedgeDelayMs}ms)`).argParser(durationArg(parseMs, 1, 3_600_000, '--hedge-delay')).helpGroup(G));
  cmd.addOption(new Option('--health-interval <time>', `round-robin, least-outstanding, hedged: health checks this often; a bare number is ms (default ${DEFAULT_REPLICATED_SETUP.healthIntervalMs}ms)`).argParser(durationArg(parseMs, 1, 3_600_000, '--health-interval')).helpGroup(G));
  cmd.addOption(new Option('--replication <mode>', 'none (each replica its own store) or primary-backup (default none)').choices([...REPLICATION_MODES]).helpGroup(G));
  cmd.addOption(new Option('--no-replicate-drc', "primary-backup: do not send a write's duplicate request cache entry to the backups (a retry that fails over runs again)").helpGroup(G));
  cmd.addOption(new Option('--detection <time>', `primary-backup: the view service declares a replica dead after this long without a ping; a bare number is ms (default ${DEFAULT_REPLICATED_SETUP.detectionMs}ms)`).argParser(durationArg(parseMs, 5, 3_600_000, '--detection')).helpGroup(G));
  cmd.addOption(new Option('--restart-delay <time>', 'a restarted replica answers after this long; a bare number is ms (default 0)').argParser(durationArg(parseMs, 0, 3_600_000, '--restart-delay')).helpGroup(G));
  cmd.addOption(new Option('--crash-memory <lost|kept>', 'what a crashed replica keeps of its state and cache (default lost)').choices(['lost', 'kept']).helpGroup(G));
  cmd.addOption(new Option('--keys <n>', `keys the KV_PUT and KV_GET calls use; each is read at the end to count lost writes (default ${DEFAULT_REPLICATED_SETUP.keys})`).argParser(numberArg(parseNumber, 1, 1000, '--keys', true)).helpGroup(G));
  cmd.addOption(new Option('--crash-at <time:replica>', 'crash a replica at a time of the run (repeatable): 2s:1, 1500ms:2; a bare time is seconds').argParser(collect).helpGroup(G));
  cmd.addOption(new Option('--restart-at <time:replica>', 'restart a crashed replica (repeatable)').argParser(collect).helpGroup(G));
  cmd.addOption(new Option('--partition-at <time:replica>', 'drop every datagram to and from a replica from then on (repeatable)').argParser(collect).helpGroup(G));
  cmd.addOption(new Option('--heal-at <time:replica>', 'end a partition (repeatable)').argParser(collect).helpGroup(G));
  cmd.addOption(new Option('--replica-peers <host:port,...>', 'with --net udp: one replica on each of these peer agents (`packetlab peer`), in order; a crash stops the agent\'s replica, not the agent').helpGroup(G));
  cmd.addOption(new Option('--token-file <file>', 'the peer agents\' token, from the first line of a file (default $PACKETLAB_TOKEN)').helpGroup(G));
  cmd.addOption(new Option('--slow-at <time:replica:extra>', 'add extra service time to a replica\'s replies (repeatable): 1s:2:100ms; extra 0 ends it').argParser(collect).helpGroup(G));
}

/** True when the command line asks for replicas, or uses an option that needs them (which is refused without). */
export function wantsReplicas(o: Record<string, unknown>): boolean {
  if (o.replicas !== undefined) return true;
  const used = Object.keys(REPLICA_FLAGS).filter((k) => o[k] !== undefined && !(k === 'replicateDrc' && o[k] === true));
  if (used.length > 0) throw new UsageError(`${REPLICA_FLAGS[used[0]!]} needs --replicas N (the replicated service)`);
  return false;
}

/** Parses --mix for replicas: null, echo, increment, put, get with optional weights. */
export function parseReplicatedMix(text: string): ReplicatedMix {
  const mix: ReplicatedMix = { null: 0, echo: 0, increment: 0, put: 0, get: 0 };
  for (const part of text.split(',')) {
    const m = /^\s*(null|echo|increment|put|get)\s*(?:=\s*([0-9.]+))?\s*$/.exec(part);
    if (m === null) throw new UsageError(`--mix: "${part}" is not null, echo, increment, put or get, optionally with =weight (example: put=2,get=1,increment=1)`);
    mix[m[1] as keyof ReplicatedMix] = m[2] === undefined ? 1 : Number(m[2]);
  }
  if (Object.values(mix).every((w) => w === 0)) throw new UsageError('--mix: the weights add up to zero');
  return mix;
}

/** The faults of --crash-at, --restart-at, --partition-at, --heal-at and --slow-at, in time order. */
export function readFaults(o: Record<string, unknown>, replicas: number, memory: CrashMemory): TimedFault[] {
  const out: TimedFault[] = [];
  const each = (key: string, flag: string, make: (rest: string | null) => TimedFault['fault']) => {
    for (const text of (o[key] as string[] | undefined) ?? []) {
      let at = text;
      let rest: string | null = null;
      if (key === 'slowAt') {
        const cut = text.lastIndexOf(':');
        if (cut < 0 || text.indexOf(':') === cut) throw new UsageError(`${flag}: "${text}" is not TIME:REPLICA:EXTRA (for example 1s:2:100ms)`);
        at = text.slice(0, cut);
        rest = text.slice(cut + 1);
      }
      const p = parseFaultAt(at, replicas);
      if (typeof p === 'string') throw new UsageError(`${flag}: ${p}`);
      out.push({ atMs: p.atMs, replica: p.replica, fault: make(rest) });
    }
  };
  each('crashAt', '--crash-at', () => ({ action: 'crash', memory }));
  each('restartAt', '--restart-at', () => ({ action: 'restart' }));
  each('partitionAt', '--partition-at', () => ({ action: 'partition' }));
  each('healAt', '--heal-at', () => ({ action: 'heal' }));
  each('slowAt', '--slow-at', (rest) => {
    let extraMs: number;
    try {
      extraMs = parseMs(rest!);
    } catch (e) {
      throw new UsageError(`--slow-at: the extra time "${rest}": ${(e as Error).message}`);
    }
    if (!(extraMs >= 0 && extraMs <= 600_000)) throw new UsageError(`--slow-at: the extra time must be from 0 to 600000 ms (got ${rest})`);
    return { action: 'slow', extraMs };
  });
  return out.sort((a, b) => a.atMs - b.atMs);
}

/** The replicated setup of the command line. */
export function readReplicatedSetup(o: Record<string, unknown>, common: { forward: ReplicatedSetup['forward']; reverse: ReplicatedSetup['reverse']; seed: number; intervalMs: number; timeLimitMs: number; durationMs: number }, net: 'sim' | 'udp'): ReplicatedSetup {
  const replicas = (o.replicas as number | undefined) ?? DEFAULT_REPLICATED_SETUP.replicas;
  const memory = (o.crashMemory as CrashMemory | undefined) ?? 'lost';
  const d = DEFAULT_REPLICATED_SETUP;
  const setup: ReplicatedSetup = {
    ...d,
    replicas,
    policy: (o.policy as ClientPolicy | undefined) ?? d.policy,
    replication: (o.replication as ReplicationMode | undefined) ?? d.replication,
    replicateDrc: o.replicateDrc !== false,
    drc: o.drc !== false,
    mix: o.mix === undefined ? d.mix : parseReplicatedMix(o.mix as string),
    keys: (o.keys as number | undefined) ?? d.keys,
    echoBytes: (o.echoBytes as number | undefined) ?? d.echoBytes,
    callsInFlight: (o.inFlight as number | undefined) ?? d.callsInFlight,
    totalCalls: (o.calls as number | undefined) ?? (common.durationMs > 0 ? 0 : d.totalCalls),
    durationMs: common.durationMs,
    timeoutMs: (o.timeout as number | undefined) ?? d.timeoutMs,
    failoverMs: (o.failoverTimeout as number | undefined) ?? d.failoverMs,
    retryIntervalMs: (o.retry as number | undefined) ?? d.retryIntervalMs,
    hedgeDelayMs: (o.hedgeDelay as number | undefined) ?? d.hedgeDelayMs,
    healthIntervalMs: (o.healthInterval as number | undefined) ?? d.healthIntervalMs,
    detectionMs: (o.detection as number | undefined) ?? d.detectionMs,
    restartDelayMs: (o.restartDelay as number | undefined) ?? d.restartDelayMs,
    faults: readFaults(o, replicas, memory),
    forward: common.forward,
    reverse: common.reverse,
    seed: common.seed,
    intervalMs: common.intervalMs,
    timeLimitMs: common.timeLimitMs,
  };
  const problems = net === 'sim' ? replicatedSetupProblems(setup) : loopbackReplicatedProblems(setup);
  if (problems.length > 0) throw new UsageError(problems[0]!);
  return setup;
}

const HEADER = ['time', 'ok', 'failed', 'avail', 'fail-over', 'hedged', 'stale', 'dup exec', 'repl msg', 'up', 'p50 ms', 'p99 ms'];
const WIDTHS = [8, 7, 6, 6, 9, 7, 6, 8, 8, 3, 8, 8];

/** The peer agents of --replica-peers, connected (one replica each), or null without the flag. */
export async function connectReplicaPeers(o: Record<string, unknown>, replicas: number): Promise<PeerClient[] | null> {
  if (o.replicaPeers === undefined) return null;
  const list = (o.replicaPeers as string).split(',').map((t) => parseHostPort(t.trim(), '--replica-peers'));
  if (list.length !== replicas) throw new UsageError(`--replica-peers names ${list.length} agent${list.length === 1 ? '' : 's'}, but --replicas is ${replicas}: one replica per agent`);
  const token = o.tokenFile !== undefined ? readTokenFile(o.tokenFile as string, '--token-file') : (process.env.PACKETLAB_TOKEN ?? '');
  if (token === '') throw new UsageError('--replica-peers needs the agents\' token: --token-file or $PACKETLAB_TOKEN');
  const out: PeerClient[] = [];
  try {
    for (const a of list) out.push(await PeerClient.connect({ host: a.host, port: a.port, token }));
  } catch (e) {
    for (const c of out) await c.close();
    throw e;
  }
  return out;
}

/** Runs the replicated workload in the simulator, on loopback or on peer agents, and prints it (or JSON lines, or CSV). */
export async function runReplicatedCommand(setup: ReplicatedSetup, o: { json: boolean; csv: string | null; linkDescription: string; net: 'sim' | 'udp'; agents?: PeerClient[] | null }): Promise<ReplicatedSummary> {
  const csv = o.csv === null ? null : new CsvWriter(o.csv, REPLICATED_COLUMNS);
  const progress = new Progress();
  const clock = new RowClock(setup.intervalMs, setup.intervalMs);
  const loads = Array.from({ length: setup.replicas }, (_, i) => `r${i + 1}`);
  if (!o.json) {
    const faults = setup.faults.map((f) => `${f.fault.action} replica ${f.replica} at ${f.atMs / 1000} s`).join(', ');
    console.log(`${o.net === 'sim' ? 'simulated replicated service' : (o.agents ?? null) !== null ? `replicated service on peer agents (${o.agents!.map((a) => a.host).join(', ')})` : 'replicated service of processes on loopback'} ${o.linkDescription}: ${setup.replicas} replicas, policy ${setup.policy}, replication ${setup.replication}${setup.replication === 'primary-backup' ? ` (cache ${setup.replicateDrc ? '' : 'not '}replicated)` : ''}, ${setup.totalCalls > 0 ? `${setup.totalCalls} calls` : `${setup.durationMs / 1000} s`}, ${setup.callsInFlight} in flight, seed ${setup.seed} (reproduce with --seed ${setup.seed})`);
    if (faults !== '') console.log(`failures: ${faults}`);
    console.log(row([...HEADER, ...loads], [...WIDTHS, ...loads.map(() => 7)]));
  }
  const hooks: ReplicatedHooks = {
    onSample: (s: ReplicatedSample) => {
      csv?.write(s);
      if (o.json) {
        jsonLine({ type: 'sample', ...s });
        return;
      }
      progress.clear();
      const load = loads.map((_, i) => fmt(s[`replica${(i + 1) as 1 | 2 | 3 | 4 | 5}_calls`]));
      console.log(
        row(
          [clock.close(s.time_s, !clock.due(s.time_s)), fmt(s.calls_succeeded), fmt(s.calls_failed), fmt(s.availability, 3), fmt(s.calls_failed_over), fmt(s.hedged_copies), fmt(s.stale_reads), fmt(s.replica_duplicate_executions), fmt(s.replication_messages), fmt(s.replicas_up), fmt(s.latency_p50_ms, 2), fmt(s.latency_p99_ms, 2), ...load],
          [...WIDTHS, ...loads.map(() => 7)],
        ),
      );
      progress.update(`t=${s.time_s.toFixed(1)} s`);
    },
    onEvent: (e) => {
      if (o.json) jsonLine({ type: 'event', timeS: e.atMs / 1000, kind: e.kind, subject: e.subject, before: e.before, after: e.after, detail: e.detail });
      else {
        progress.clear();
        console.log(`  ${fmt(e.atMs / 1000, 3)} s  ${e.kind === 'error' ? 'refused' : e.kind}: ${e.subject} ${e.detail}${e.after === '' ? '' : ` (${e.before === '' ? '' : `${e.before} -> `}${e.after})`}`);
      }
    },
  };
  let summary: ReplicatedSummary;
  if (o.net === 'sim') summary = runSimReplicated(setup, hooks);
  else {
    const { signal, dispose } = stopSignal();
    try {
      summary = await runLoopbackReplicated(setup, { ...hooks, signal, agents: o.agents ?? undefined });
    } finally {
      dispose();
      for (const a of o.agents ?? []) await a.close();
    }
  }
  progress.clear();
  csv?.close();
  if (o.json) jsonLine(summary);
  else printSummary(summary);
  return summary;
}

function printSummary(s: ReplicatedSummary): void {
  console.log(`\nreplicated service ${s.status}${s.failure === null ? '' : `: ${s.failure}`} (${s.replicas} replicas, ${s.policy}, ${s.replication}, seed ${s.seed})`);
  console.log(`calls: ${s.callsStarted} started, ${s.callsSucceeded} answered, ${s.callsFailed} failed: availability ${fmt(s.availability, 4)}; ${s.callsFailedOver} answered after a failover (${s.failovers} failovers), ${s.hedgedCopies} hedged copies (${s.hedgeWins} won), ${s.lateReplies} late replies dropped`);
  console.log(`latency p50 ${fmt(s.latencyP50Ms, 2)} ms, p90 ${fmt(s.latencyP90Ms, 2)} ms, p99 ${fmt(s.latencyP99Ms, 2)} ms, max ${fmt(s.latencyMaxMs, 2)} ms`);
  if (s.recoveryMs.length > 0) console.log(`time to recover after each crash (longest stretch without an answer): ${s.recoveryMs.map((m) => `${fmt(m, 1)} ms`).join(', ')}`);
  console.log(`writes: ${s.writesAcked} acknowledged, ${s.writesLost} lost${s.verifyFailures > 0 ? ` (${s.verifyFailures} final reads unanswered: those keys are not counted)` : ''}; ${s.staleReads} stale reads; ${Number.isNaN(s.duplicateExecutions) ? 'duplicate executions not known (no ledger across processes)' : `${s.duplicateExecutions} duplicate executions (${s.crossReplicaDuplicates} on another replica)`}`);
  console.log(`load per replica: ${s.loadPerReplica.map((n, i) => `replica ${i + 1} ${n}`).join(', ')}; replication messages ${s.replicationMessages}`);
  console.log(`replicas at the end: ${s.replicaStates.map((st, i) => `${i + 1} ${st} (counter ${s.counterValues[i]})`).join(', ')}`);
}
