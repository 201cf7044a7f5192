// The `rpc` workload: a client keeping calls of the counter program in flight (NULL, ECHO,
// INCREMENT) over UDP, TCP or the lab transport, against a server in the simulator, on loopback or
// started by a peer agent.

import { metricList, type MetricRow } from '../../core/metrics/registry.js';
import { DEFAULT_RETRY_POLICY } from '../../core/rpc/client.js';
import { DEFAULT_DRC_CONFIG } from '../../core/rpc/drc.js';
import { RPC_TRANSPORT_CONFIG } from '../../core/rpc/plt.js';
import { listenerDefaultsOf } from '../../core/apps/services.js';
import { RPC_COLUMNS, RpcMeter, buildSimRpcWorkload, rpcSetupProblems, runUdpRpcWorkload, summarizeSimRpc, type RpcSetup, type RpcSummary } from '../../workloads/rpc/workload.js';
import type { TrialConfig } from '../runner/config.js';
import { orNaN, unpacedProblem, type TrialStatus, type WorkloadModule, EXPLORE_MAX_MS } from './kind.js';

/** The RPC setup of a trial. */
export function rpcSetupOf(c: TrialConfig): RpcSetup {
  const w = c.workload;
  return {
    transport: w.rpcTransport,
    mix: { null: w.mixNull, echo: w.mixEcho, increment: w.mixIncrement },
    echoBytes: w.echoBytes,
    callsInFlight: w.callsInFlight,
    totalCalls: w.calls,
    durationMs: w.calls === 0 ? w.durationMs : 0,
    policy: { ...DEFAULT_RETRY_POLICY, timeoutMs: w.rpcTimeoutMs, retryIntervalMs: w.rpcRetryMs, retryBackoff: w.rpcBackoff, retryIntervalMsMax: w.rpcRetryMsMax, maxRetransmissions: w.rpcMaxRetransmissions },
    drc: { ...DEFAULT_DRC_CONFIG, enabled: w.drc },
    forward: c.forward,
    reverse: c.reverse,
    transportConfig: { ...RPC_TRANSPORT_CONFIG, ...c.transportSet },
    seed: c.seed,
    intervalMs: c.intervalMs,
    timeLimitMs: c.timeLimitMs,
    binding: w.rpcBinding,
  };
}

function scalarsOf(s: RpcSummary): MetricRow {
  return {
    completed: s.status === 'complete' ? 1 : 0,
    calls_succeeded: s.callsSucceeded,
    calls_failed: s.callsFailed,
    calls_per_s: s.callsPerSecond,
    lookups: s.lookups,
    logical_latency_mean_ms: s.logicalLatencyMeanMs,
    attempts_per_call: s.attemptsPerCall,
    latency_mean_ms: s.latencyMeanMs,
    latency_p50_ms: s.latencyP50Ms,
    latency_p90_ms: s.latencyP90Ms,
    latency_p99_ms: s.latencyP99Ms,
    server_executions: s.server?.executions ?? Number.NaN,
    duplicate_requests: s.server?.duplicateRequests ?? Number.NaN,
    cache_hits: s.server?.cacheHits ?? Number.NaN,
    duplicate_executions: s.counterRepeatedExecutions ?? Number.NaN,
  };
}

/** An RPC call mix. */
export const rpcWorkload: WorkloadModule = {
  kind: 'rpc',
  title: 'RPC (`rpc`)',
  // Transport knobs matter when the calls go over the lab transport (rpcTransport plt).
  sections: ['transport', 'forward', 'reverse', 'socket', 'sim'],
  endless: { calls: 0, durationMs: EXPLORE_MAX_MS },
  knobs: ['rpcTransport', 'calls', 'callsInFlight', 'echoBytes', 'mixNull', 'mixEcho', 'mixIncrement', 'rpcBinding', 'drc', 'rpcTimeoutMs', 'rpcRetryMs', 'rpcBackoff', 'rpcRetryMsMax', 'rpcMaxRetransmissions', 'durationMs'],
  samples: RPC_COLUMNS,
  results: metricList(['completed', 'calls_succeeded', 'calls_failed', 'calls_per_s', 'lookups', 'logical_latency_mean_ms', 'attempts_per_call', 'latency_mean_ms', 'latency_p50_ms', 'latency_p90_ms', 'latency_p99_ms', 'server_executions', 'duplicate_requests', 'cache_hits', 'duplicate_executions']),
  headline: ['calls_succeeded', 'latency_p50_ms', 'latency_p99_ms', 'duplicate_executions'],

  problems(c, network) {
    return [...rpcSetupProblems(rpcSetupOf(c), network.kind === 'sim' ? 'sim' : 'udp').map((p) => `rpc workload: ${p}`), ...unpacedProblem(c, network)];
  },

  sim(c, wrap) {
    const setup = rpcSetupOf(c);
    const w = buildSimRpcWorkload(setup, wrap);
    const sim = w.sim;
    const meter = new RpcMeter({ client: w.app.engine, server: () => [w.server], forward: w.forward, reverse: w.reverse }, 0);
    return {
      sim,
      parts: { kind: 'rpc', forward: w.forward, reverse: w.reverse, sender: null, receiver: null, remoteReceiver: null, now: () => sim.now, kick: () => {} },
      capture: { forward: w.forward, reverse: w.reverse, reverseCarries: 'replies' },
      sample: (now) => meter.sample(now),
      done: () => w.app.done,
      hostNames: ['the client', 'the server'],
      connectedAtMs: () => w.side.connectedAtMs(),
      start: () => w.app.start(0),
      sender: () => null,
      receiver: () => null,
      finish(why, stopped) {
        if (stopped) w.app.stop();
        const status: TrialStatus = stopped ? 'stopped' : w.app.done ? 'complete' : why === 'time' ? 'timeout' : 'failed';
        const failure = status === 'timeout' ? `did not finish within ${setup.timeLimitMs} ms of virtual time` : status === 'stopped' ? 'stopped by the user' : null;
        const s = summarizeSimRpc(setup, w, status, failure);
        return { status, failure, scalars: scalarsOf(s), summary: s };
      },
    };
  },

  async sockets(c, run) {
    const s = await runUdpRpcWorkload({
      setup: rpcSetupOf(c),
      peer: run.far,
      onSample: (row) => run.onSample(row),
      signal: run.signal,
      capture: run.capture,
      onStart: (t) => run.live({ kind: 'rpc', forward: t.forward, reverse: t.reverse, sender: null, receiver: null, remoteReceiver: null, now: () => performance.now(), kick: t.kick }),
    });
    return { status: s.status, failure: s.failure, scalars: scalarsOf(s), summary: s };
  },

  peer: {
    async start(peer, c, lifetimeMs) {
      const w = c.workload;
      const r = await peer.startRpcServer({ transports: [w.rpcTransport], drc: { enabled: w.drc }, socket: { socketRcvBufBytes: c.socket.socketRcvBufBytes, socketSndBufBytes: c.socket.socketSndBufBytes }, transport: listenerDefaultsOf(c.transport), lifetimeMs, seed: c.seed });
      return { service: r.service, port: r.ports[w.rpcTransport]! };
    },
    pollsReceiver: false,
    merge(stats, scalars) {
      if (stats.kind !== 'rpc') return;
      scalars.server_executions = orNaN(stats.server.executions);
      scalars.duplicate_requests = orNaN(stats.server.duplicateRequests);
      scalars.cache_hits = orNaN(stats.server.cacheHits);
      scalars.duplicate_executions = stats.counter.repeatedExecutions;
    },
  },
};
