// The `rpc-replicas` workload: a replicated RPC service (workloads/rpc/replicated.ts): N replicas of
// the counter and key-value programs, a client policy, replication or not, and the failures a
// spec's schedule or a hand causes (`fault` steps), each an event in events.csv. In the simulator,
// or on loopback as replica processes (workloads/rpc/replicated-net.ts: crashes and restarts, no
// replication between processes).

import { loopbackReplicatedProblems, runLoopbackReplicated } from '../../workloads/rpc/replicated-net.js';

import { metricList, type MetricRow } from '../../core/metrics/registry.js';
import { REPLICATED_COLUMNS, ReplicatedMeter, buildSimReplicated, replicatedSetupProblems, summarizeReplicated, type ReplicatedSetup, type ReplicatedSummary } from '../../workloads/rpc/replicated.js';
import type { TrialConfig } from '../runner/config.js';
import { EXPLORE_MAX_MS, unpacedProblem, type KindEvent, type TrialStatus, type WorkloadModule } from './kind.js';

/** The replicated setup of a trial (its faults come from the schedule, applied by the runner). */
export function replicatedSetupOf(c: TrialConfig): ReplicatedSetup {
  const w = c.workload;
  return {
    replicas: w.replicas,
    policy: w.clientPolicy,
    replication: w.replication,
    replicateDrc: w.replicateDrc,
    drc: w.drc,
    mix: { null: w.mixNull, echo: w.mixEcho, increment: w.mixIncrement, put: w.mixPut, get: w.mixGet },
    keys: w.keys,
    echoBytes: w.echoBytes,
    callsInFlight: w.callsInFlight,
    totalCalls: w.calls,
    durationMs: w.calls === 0 ? w.durationMs : 0,
    timeoutMs: w.rpcTimeoutMs,
    failoverMs: w.failoverMs,
    retryIntervalMs: w.rpcRetryMs,
    hedgeDelayMs: w.hedgeDelayMs,
    healthIntervalMs: w.healthIntervalMs,
    detectionMs: w.detectionMs,
    restartDelayMs: w.restartDelayMs,
    faults: [],
    forward: c.forward,
    reverse: c.reverse,
    seed: c.seed,
    intervalMs: c.intervalMs,
    timeLimitMs: c.timeLimitMs,
    verify: true,
  };
}

/** The trial results of a summary. */
export function replicatedScalars(s: ReplicatedSummary): MetricRow {
  const row: MetricRow = {
    completed: s.status === 'complete' ? 1 : 0,
    calls_succeeded: s.callsSucceeded,
    calls_failed: s.callsFailed,
    availability: s.availability,
    calls_failed_over: s.callsFailedOver,
    hedged_copies: s.hedgedCopies,
    latency_mean_ms: s.latencyMeanMs,
    latency_p50_ms: s.latencyP50Ms,
    latency_p99_ms: s.latencyP99Ms,
    time_to_recover_ms: s.timeToRecoverMs,
    writes_acked: s.writesAcked,
    writes_lost: s.writesLost,
    stale_reads: s.staleReads,
    replica_duplicate_executions: s.duplicateExecutions,
    replication_messages: s.replicationMessages,
  };
  for (let i = 0; i < 5; i++) row[`replica${(i + 1) as 1 | 2 | 3 | 4 | 5}_calls`] = s.loadPerReplica[i] ?? Number.NaN;
  return row;
}

/** A replicated RPC service. */
export const replicasWorkload: WorkloadModule = {
  kind: 'rpc-replicas',
  title: 'Replicated RPC service (`rpc-replicas`)',
  knobs: ['replicas', 'clientPolicy', 'failoverMs', 'hedgeDelayMs', 'healthIntervalMs', 'replication', 'replicateDrc', 'detectionMs', 'restartDelayMs', 'crashMemory', 'calls', 'callsInFlight', 'echoBytes', 'mixNull', 'mixEcho', 'mixIncrement', 'mixPut', 'mixGet', 'keys', 'drc', 'rpcTimeoutMs', 'rpcRetryMs', 'durationMs'],
  samples: REPLICATED_COLUMNS,
  results: metricList([
    'completed',
    'calls_succeeded',
    'calls_failed',
    'availability',
    'calls_failed_over',
    'hedged_copies',
    'latency_mean_ms',
    'latency_p50_ms',
    'latency_p99_ms',
    'time_to_recover_ms',
    'writes_acked',
    'writes_lost',
    'stale_reads',
    'replica_duplicate_executions',
    'replication_messages',
    'replica1_calls',
    'replica2_calls',
    'replica3_calls',
    'replica4_calls',
    'replica5_calls',
  ]),
  headline: ['availability', 'latency_p99_ms', 'time_to_recover_ms', 'writes_lost'],
  // The replicas are called over UDP datagrams on the impaired links; no lab-transport, socket or receiving-host knob applies.
  sections: ['forward', 'reverse'],
  endless: { calls: 0, durationMs: EXPLORE_MAX_MS },

  problems(c, network) {
    const setup = replicatedSetupOf(c);
    const out = (network.kind === 'sim' ? replicatedSetupProblems(setup) : loopbackReplicatedProblems(setup)).map((p) => `rpc-replicas workload: ${p}`);
    if (network.kind === 'peer') out.push('the rpc-replicas workload runs in the simulator or on loopback: replicas on peer agents are not built yet');
    return [...out, ...unpacedProblem(c, network)];
  },

  async sockets(c, run) {
    const setup = replicatedSetupOf(c);
    const s = await runLoopbackReplicated(setup, {
      signal: run.signal,
      startMs: run.startMs,
      onSample: (row) => run.onSample(row),
      onEvent: (e) => run.onEvent?.({ timeS: e.atMs / 1000, kind: e.kind, knob: e.subject, before: e.before === '' ? undefined : e.before, after: e.after === '' ? undefined : e.after, detail: e.detail }),
      onStart: (live) => run.live({ kind: 'rpc-replicas', forward: live.forward, reverse: live.reverse, sender: null, receiver: null, remoteReceiver: null, now: () => performance.now(), kick: live.kick, fault: (f) => live.fault(f) }),
    });
    const status: TrialStatus = s.status;
    return { status, failure: s.failure, scalars: replicatedScalars(s), summary: s };
  },

  sim(c) {
    const setup = replicatedSetupOf(c);
    const w = buildSimReplicated(setup);
    const sim = w.sim;
    const meter = new ReplicatedMeter(w);
    return {
      sim,
      parts: {
        kind: 'rpc-replicas',
        forward: w.forward,
        reverse: w.reverse,
        sender: null,
        receiver: null,
        remoteReceiver: null,
        now: () => sim.now,
        kick: () => {},
        fault: (f) => w.fault(sim.now, f),
      },
      capture: { forward: w.forward, reverse: w.reverse, reverseCarries: 'replies' },
      // Host 0 the client, 1..N the replicas, N+1 the binder (and view service).
      hostNames: ['the client', ...w.replicas.map((_, i) => `replica ${i + 1}`), setup.replication === 'primary-backup' ? 'the binder and view service' : 'the binder'],
      sample: (now) => meter.sample(now),
      done: () => w.app.done,
      connectedAtMs: () => 0,
      start: () => w.app.start(0),
      sender: () => null,
      receiver: () => null,
      events: () =>
        w.drainEvents().map((e): KindEvent => ({ timeS: e.atMs / 1000, kind: e.kind, knob: e.subject, before: e.before === '' ? undefined : e.before, after: e.after === '' ? undefined : e.after, detail: e.detail })),
      finish(why, stopped) {
        if (stopped) w.app.stop();
        const status: TrialStatus = stopped ? 'stopped' : w.app.phase === 'done' ? 'complete' : w.app.phase === 'failed' ? 'failed' : why === 'time' ? 'timeout' : 'failed';
        const failure = w.app.failure ?? (status === 'timeout' ? `did not finish within ${setup.timeLimitMs} ms of virtual time` : status === 'stopped' ? 'stopped by the user' : status === 'failed' ? `the simulation stopped (${why}) with calls pending` : null);
        const s = summarizeReplicated(setup, w, status === 'complete' ? 'complete' : status === 'stopped' ? 'stopped' : status === 'timeout' ? 'timeout' : 'failed', failure);
        return { status, failure, scalars: replicatedScalars(s), summary: s };
      },
    };
  },
};
