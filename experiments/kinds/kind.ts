// One workload kind behind one interface: what a spec's `workload.kind` names. A kind declares the
// workload knobs it reads, its metrics (sample columns, trial results and the ones `packetlab run`
// prints), what makes one of its trials impossible, and how it runs in the simulator, on sockets
// (loopback or against a peer agent's far end) and what it asks the agent to serve. The runner, the
// CLI, the app's parameter panel and the docs loop over the registry (./registry.ts); nothing
// outside a kind's module branches on its name.

import type { Endpoint } from '../../core/endpoint.js';
import type { Link } from '../../core/impair/link.js';
import type { MetricName, MetricRow } from '../../core/metrics/registry.js';
import type { Simulator } from '../../core/sim/simulator.js';
import type { TransferSummary } from '../../core/transfer/setup.js';
import type { Connection } from '../../core/transport/connection.js';
import type { ReceiverChanges } from '../../core/transport/config.js';
import type { ServiceStats } from '../../core/peer/messages.js';
import { listenerDefaultsOf } from '../../core/apps/services.js';
import type { PeerClient } from '../../net/peer/client.js';
import type { ReceivingEnd } from '../../net/udp/local-peer.js';
import type { Capture } from '../../core/capture/capture.js';
import type { StreamSummary } from '../../workloads/stream/run.js';
import type { RpcSummary } from '../../workloads/rpc/workload.js';
import type { ReplicatedSummary } from '../../workloads/rpc/replicated.js';
import type { Network, TrialConfig, WorkloadConfig } from '../runner/config.js';
import type { KnobSection, WorkloadKind } from '../knobs.js';
import type { TimedFault } from '../../core/rpc/replicas/faults.js';

/** The longest an explored trial runs (the lab caps every run's duration): an hour. */
export const EXPLORE_MAX_MS = 3_600_000;

/** A fault as a schedule step or a button gives it: the replica, from 1, and what happens to it. */
export type ReplicaFault = Omit<TimedFault, 'atMs'>;

/** A fault as a spec's schedule writes it (`fault` of a step): a crash without memory takes workload.crashMemory. */
export interface FaultStep {
  replica: number;
  action: 'crash' | 'restart' | 'partition' | 'heal' | 'slow';
  memory?: 'lost' | 'kept';
  extraMs?: number;
}

/** The fault of a step, with the workload's memory after a crash when the step does not say. */
export function faultOf(f: FaultStep, crashMemory: 'lost' | 'kept'): ReplicaFault['fault'] {
  switch (f.action) {
    case 'crash':
      return { action: 'crash', memory: f.memory ?? crashMemory };
    case 'slow':
      return { action: 'slow', extraMs: f.extraMs ?? 0 };
    default:
      return { action: f.action };
  }
}

/** How a trial ended. */
export type TrialStatus = 'complete' | 'failed' | 'timeout' | 'stopped' | 'peer-lost';

/** What a trial produced. */
export interface TrialOutcome {
  status: TrialStatus;
  failure: string | null;
  /** Scalar results, by metric (summary.csv). */
  scalars: MetricRow;
  /** The driver's own end-of-run summary (null when there is none: a flows trial, a lost peer). */
  summary: TransferSummary | StreamSummary | RpcSummary | ReplicatedSummary | null;
}

/** What a live change can reach in a running trial. */
export interface LiveParts {
  kind: WorkloadKind;
  forward: Link | null;
  reverse: Link | null;
  /** The lab-transport connection whose knobs change (null: the kind has none). */
  sender: Connection | null;
  receiver: (() => Connection | null) | null;
  remoteReceiver: ((changes: ReceiverChanges) => Promise<string | null>) | null;
  now(): number;
  kick(): void;
  /** Causes a failure to a replica (rpc-replicas); returns null or why it does not apply. Absent: the kind has no replicas. */
  fault?(f: ReplicaFault): string | null;
}

/** Something a trial's workload reports by itself (a replica restarted, a view changed), for events.csv. */
export interface KindEvent {
  timeS: number;
  kind: 'fault' | 'replica' | 'view' | 'error';
  knob: string;
  before?: string;
  after?: string;
  detail: string;
}

/** A trial of a kind wired in the simulator, not yet started. */
export interface SimWorkload {
  sim: Simulator;
  parts: LiveParts;
  /** The links a capture records, and what the reverse direction carries. */
  capture: { forward: Link; reverse: Link; reverseCarries: string };
  /** The sample of the interval that ends at `now`. */
  sample(now: number): MetricRow;
  done(): boolean;
  /** Virtual time at which the kind's traffic began to flow (its handshake done; 0 without one), NaN before. */
  connectedAtMs(): number;
  start(): void;
  /** Ends the trial: `why` is why the simulator stopped, `stopped` whether the user stopped it. */
  finish(why: string, stopped: boolean): TrialOutcome;
  /** Each simulated host for people, by index ("the sender", "the server"): teaching mode's steps. */
  hostNames: readonly string[];
  /** Events since the last call (absent: the kind reports none of its own). */
  events?(): KindEvent[];
  /** The connections a paused trial shows (null when the kind has none). */
  sender(): Connection | null;
  receiver(): Connection | null;
}

/** What a trial on sockets gets. */
export interface SocketRun {
  onSample(row: MetricRow): void;
  /** Hands the running trial's live parts to the runner (live changes, schedule, packet ladder). */
  live(p: LiveParts): void;
  /** Where the far end is: null for one started here for the trial. */
  far: { host: string; port: number } | null;
  signal: AbortSignal;
  capture?: Capture;
  /** A peer agent's listener as the receiving end (its counters fill the receiver's columns). */
  remote?: ReceivingEnd;
  /** Events the kind reports by itself (a replica crashed, restarted), for events.csv. */
  onEvent?(e: KindEvent): void;
  /** The trial's clock origin (performance.now() at its start): the kind's times count from it. */
  startMs?: number;
}

/** What a kind asks a peer agent to serve for one trial. */
export interface PeerFarEnd {
  /** Starts the far end; resolves with the agent's service id and the port the traffic goes to. */
  start(peer: PeerClient, c: TrialConfig, lifetimeMs: number): Promise<{ service: number; port: number }>;
  /** The trial's receiver columns come from the agent's listener, polled once an interval. */
  pollsReceiver: boolean;
  /** Adds what only the agent knows (its final statistics) to the trial's results. */
  merge(stats: ServiceStats, scalars: MetricRow): void;
}

/**
 * The agent's listener as the far end (reliable transfers and UDP streams alike): it takes the
 * trial's socket sizes and the receiving side's transport knobs, and its final statistics give the
 * receiver's socket drops.
 */
export function listenerFarEnd(pollsReceiver: boolean): PeerFarEnd {
  return {
    async start(peer, c, lifetimeMs) {
      const l = await peer.startListener({ socket: { socketRcvBufBytes: c.socket.socketRcvBufBytes, socketSndBufBytes: c.socket.socketSndBufBytes }, transport: listenerDefaultsOf(c.transport), lifetimeMs, seed: c.seed });
      return { service: l.service, port: l.udpPort };
    },
    pollsReceiver,
    merge(stats, scalars) {
      if (stats.kind === 'listener' && stats.kernelDrops !== null) scalars.kernel_drops_receiver = stats.kernelDrops;
    },
  };
}

/** One workload kind. */
export interface WorkloadModule {
  kind: WorkloadKind;
  /** For people: the docs' heading and the panel's choice. */
  title: string;
  /** The workload knobs (workload.KEY) it reads, besides `kind`. */
  knobs: readonly (keyof WorkloadConfig)[];
  /** The knob sections besides `workload` its trials read (the app shows only those). */
  sections: readonly Exclude<KnobSection, 'workload'>[];
  /** Values of its knobs that give it no end of its own short of the lab's hour (an explored trial). */
  endless: Partial<WorkloadConfig>;
  /** Columns of samples.csv, in order. */
  samples: readonly MetricName[];
  /** Trial results (summary.csv has NAME_mean and NAME_ci95 of each). */
  results: readonly MetricName[];
  /** The results `packetlab run` prints per point: their means, and the first one's ci95. */
  headline: readonly MetricName[];
  /** What makes a trial of this kind impossible, beyond single knob ranges. */
  problems(c: TrialConfig, network: Network): string[];
  /** Wires a trial in the simulator; `wrap` puts the simulated receiving host's socket buffer in front of the receiver. */
  sim(c: TrialConfig, wrap: (e: Endpoint) => Endpoint, kernelDrops: () => number): SimWorkload;
  /** Runs a trial on sockets; absent for a kind that runs in the simulator only. */
  sockets?(c: TrialConfig, run: SocketRun): Promise<TrialOutcome>;
  /** What a peer agent serves for it; absent for a kind that cannot run against a peer. */
  peer?: PeerFarEnd;
}

/** A value the agent sent as a number: it sends null where it had NaN, and a missing one is unknown too. */
export function orNaN(v: number | null | undefined): number {
  return v ?? Number.NaN;
}

/**
 * In the simulator, a link with no delay and no rate limit moves data in no time: a kind whose
 * figures are rates refuses it unless something else paces the traffic.
 */
export function unpacedProblem(c: TrialConfig, network: Network, pacedElsewhere = false): string[] {
  if (network.kind !== 'sim' || pacedElsewhere) return [];
  const paced = c.forward.delayMs > 0 || c.forward.rateBitsPerSecond > 0 || c.reverse.delayMs > 0 || c.reverse.rateBitsPerSecond > 0 || c.sim.receiverPacketsPerSecond > 0;
  return paced ? [] : ['in the simulator a link with no delay and no rate limit moves data in no time at all (goodput would be infinite): set forward.delayMs or forward.rateBitsPerSecond'];
}
