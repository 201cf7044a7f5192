// Knobs an experiment spec can set beyond the transport, impairment and socket ones of core/knobs.ts:
// the workload and the simulator's receiving host. Every knob is addressed as SECTION.KEY
// (transport.windowPackets, forward.lossProbability, workload.bytes, ...), in specs, sweeps,
// schedules, `packetlab run --set` and the app's parameter panel.

import { IMPAIRMENT_KNOBS, SOCKET_KNOBS, TRANSPORT_KNOBS, booleanKnob, enumKnob, numberKnob, type Knob, type NumberKnob } from '../core/knobs.js';
import { DEFAULT_RETRY_POLICY } from '../core/rpc/client.js';
import { DEFAULT_DRC_CONFIG } from '../core/rpc/drc.js';
import { RPC_TRANSPORT, RPC_TRANSPORTS, orList } from '../core/rpc/transports.js';
import { CLIENT_POLICIES, CLIENT_POLICY_LABELS } from '../core/rpc/replicas/client.js';
import { REPLICATION_MODES } from '../core/rpc/replicas/replica.js';

const MiB = 1024 * 1024;

/** A workload number knob. */
function num<const K extends string>(k: Omit<NumberKnob<K>, 'kind' | 'group'>): NumberKnob<K> {
  return numberKnob({ group: 'workload', ...k });
}

/** Workload kinds: raw UDP stream, reliable bulk transfer, reliable message stream, RPC call mix, competing flows, replicated RPC service. */
export const WORKLOAD_KINDS = ['udp-stream', 'bulk', 'messages', 'rpc', 'flows', 'rpc-replicas'] as const;
/** One workload kind. */
export type WorkloadKind = (typeof WORKLOAD_KINDS)[number];

/**
 * Workload knobs; which apply depends on the kind (see docs/experiments.md). The list keeps its
 * literal keys and values: WorkloadConfig (experiments/runner/config.ts) derives from it.
 */
export const WORKLOAD_KNOBS = [
  enumKnob({ key: 'kind', flag: 'workload', label: 'Workload', description: 'raw UDP stream, reliable bulk transfer, reliable message stream, RPC call mix, competing flows or replicated RPC service', group: 'workload', live: false, values: WORKLOAD_KINDS, default: 'bulk' }),
  num({ key: 'bytes', flag: 'bytes', label: 'Bytes to transfer', description: 'bulk and messages: bytes to transfer', live: false, unit: 'bytes', min: 1, max: 1e11, integer: true, default: 1_000_000 }),
  num({ key: 'messageBytes', flag: 'message-size', label: 'Message size (bytes)', description: 'messages: size of each message', live: false, unit: 'bytes', min: 1, max: 64 * MiB, integer: true, default: 1000 }),
  num({ key: 'readRateBytesPerSecond', flag: 'read-rate', label: 'Receiver read rate (bytes/s)', description: 'bulk and messages: how fast the receiving application reads, 0 for as fast as data arrives', live: false, unit: 'bytes', min: 0, max: 1e12, integer: false, default: 0 }),
  booleanKnob({ key: 'verifyData', flag: 'verify', label: 'Verify data', description: 'bulk and messages: the receiver compares every byte with what was sent and reports the first difference', group: 'workload', live: false, default: true }),
  num({ key: 'ratePacketsPerSecond', flag: 'rate', label: 'Send rate (packets/s)', description: 'udp-stream: datagrams per second', live: false, unit: 'count', min: 1, max: 10_000_000, integer: false, default: 1000 }),
  num({ key: 'datagramBytes', flag: 'size', label: 'Datagram size (bytes)', description: 'udp-stream: size of each datagram, header included', live: false, unit: 'bytes', min: 36, max: 65507, integer: true, default: 1200 }),
  num({ key: 'durationMs', flag: 'duration', label: 'Duration (ms)', description: 'udp-stream and flows: how long to send; rpc and rpc-replicas: how long to call when calls is 0', live: false, unit: 'ms', min: 1, max: 3_600_000, integer: false, default: 5000 }),
  num({ key: 'flows', flag: 'flows', label: 'Competing flows', description: 'flows: reliable flows sharing the bottleneck (simulator)', live: false, unit: 'count', min: 1, max: 8, integer: true, default: 2 }),
  num({ key: 'flowStartGapMs', flag: 'flow-start-gap', label: 'Flow start gap (ms)', description: 'flows: flow i starts i times this late', live: false, unit: 'ms', min: 0, max: 3_600_000, integer: false, default: 0 }),
  num({ key: 'reverseFlows', flag: 'reverse-flows', label: 'Flows in the reverse direction', description: 'flows: the last N of the flows send the other way, through the reverse link (bidirectional transfers)', live: false, unit: 'count', min: 0, max: 8, integer: true, default: 0 }),
  num({ key: 'uncontrolledFlows', flag: 'uncontrolled-flows', label: 'Flows without congestion control', description: 'flows: the first N flows ignore transport.congestionControl and send their whole window', live: false, unit: 'count', min: 0, max: 8, integer: true, default: 0 }),
  num({ key: 'flowWindowFactor', flag: 'flow-window-factor', label: 'Window factor per flow', description: 'flows: flow i (from 0) has a window of transport.windowPackets x factor^i, 1 for equal windows', live: false, unit: 'number', min: 1, max: 16, integer: false, default: 1 }),
  num({ key: 'crossPacketsPerSecond', flag: 'cross-rate', label: 'UDP cross traffic (packets/s)', description: 'flows: a raw UDP stream of datagramBytes through the same bottleneck, 0 for none', live: false, unit: 'count', min: 0, max: 1_000_000, integer: false, default: 0 }),
  enumKnob({ key: 'rpcTransport', flag: 'rpc-transport', label: 'RPC transport', description: `rpc: ${orList(RPC_TRANSPORTS.map((t) => RPC_TRANSPORT[t].label))}`, group: 'workload', live: false, values: [...RPC_TRANSPORTS], default: 'udp' }),
  num({ key: 'calls', flag: 'calls', label: 'Calls', description: 'rpc and rpc-replicas: calls to make, 0 to call for the duration', live: false, unit: 'count', min: 0, max: 1e9, integer: true, default: 1000 }),
  num({ key: 'callsInFlight', flag: 'in-flight', label: 'Calls in flight', description: 'rpc and rpc-replicas: calls kept outstanding', live: false, unit: 'count', min: 1, max: 1024, integer: true, default: 8 }),
  num({ key: 'echoBytes', flag: 'echo-bytes', label: 'ECHO payload (bytes)', description: 'rpc and rpc-replicas: payload of an ECHO call', live: false, unit: 'bytes', min: 0, max: 65000, integer: true, default: 32 }),
  num({ key: 'mixNull', flag: 'mix-null', label: 'Share of NULL calls', description: 'rpc and rpc-replicas: weight of NULL calls in the mix', live: false, unit: 'number', min: 0, max: 1000, integer: false, default: 0 }),
  num({ key: 'mixEcho', flag: 'mix-echo', label: 'Share of ECHO calls', description: 'rpc and rpc-replicas: weight of ECHO calls in the mix', live: false, unit: 'number', min: 0, max: 1000, integer: false, default: 0 }),
  num({ key: 'mixIncrement', flag: 'mix-increment', label: 'Share of INCREMENT calls', description: 'rpc and rpc-replicas: weight of the non-idempotent INCREMENT calls in the mix', live: false, unit: 'number', min: 0, max: 1000, integer: false, default: 1 }),
  enumKnob({ key: 'rpcBinding', flag: 'rpc-binding', label: 'RPC binding (naming)', description: "rpc: how the client finds the server: fixed (it knows the port), once (asks the server's portmapper with PMAPPROC_GETPORT before the first call), every-call (asks before every call)", group: 'workload', live: false, values: ['fixed', 'once', 'every-call'], default: 'fixed' }),
  booleanKnob({ key: 'drc', flag: 'drc', label: 'Duplicate request cache', description: 'rpc and rpc-replicas: the server (each replica) answers duplicates from its cache (at-most-once) or executes them again (at-least-once)', group: 'workload', live: false, default: DEFAULT_DRC_CONFIG.enabled }),
  num({ key: 'rpcTimeoutMs', flag: 'rpc-timeout', label: 'RPC call timeout (ms)', description: 'rpc and rpc-replicas: total time a call may take, retransmissions included', live: false, unit: 'ms', min: 1, max: 3_600_000, integer: false, default: DEFAULT_RETRY_POLICY.timeoutMs }),
  num({ key: 'rpcRetryMs', flag: 'rpc-retry', label: 'RPC retransmission interval (ms)', description: 'rpc: first retransmission interval (0 sends once); rpc-replicas: interval of retransmissions to the same replica, without backoff', live: false, unit: 'ms', min: 0, max: 3_600_000, integer: false, default: DEFAULT_RETRY_POLICY.retryIntervalMs }),
  num({ key: 'rpcBackoff', flag: 'rpc-backoff', label: 'RPC retransmission backoff', description: 'rpc: factor applied to the interval after each retransmission', live: false, unit: 'number', min: 1, max: 8, integer: false, default: DEFAULT_RETRY_POLICY.retryBackoff }),
  num({ key: 'rpcRetryMsMax', flag: 'rpc-retry-max', label: 'RPC longest retransmission interval (ms)', description: 'rpc: upper bound of the interval after backoff', live: false, unit: 'ms', min: 0, max: 3_600_000, integer: false, default: DEFAULT_RETRY_POLICY.retryIntervalMsMax }),
  num({ key: 'replicas', flag: 'replicas', label: 'Replicas', description: 'rpc-replicas: servers of the counter and key-value programs (1 to 5)', live: false, unit: 'count', min: 1, max: 5, integer: true, default: 3 }),
  enumKnob({ key: 'clientPolicy', flag: 'client-policy', label: 'Client policy', description: `rpc-replicas: where calls go and what happens when a replica does not answer: ${CLIENT_POLICIES.map((p) => `${p} (${CLIENT_POLICY_LABELS[p]})`).join(', ')}`, group: 'workload', live: false, values: CLIENT_POLICIES, default: 'failover' }),
  num({ key: 'failoverMs', flag: 'failover-timeout', label: 'Failover timeout (ms)', description: "rpc-replicas: a replica that leaves a call unanswered this long is given up for it (the client's detection time)", live: false, unit: 'ms', min: 1, max: 3_600_000, integer: false, default: 200 }),
  num({ key: 'hedgeDelayMs', flag: 'hedge-delay', label: 'Hedge delay (ms)', description: "rpc-replicas, hedged: when a call's second copy goes to another replica", live: false, unit: 'ms', min: 1, max: 3_600_000, integer: false, default: 20 }),
  num({ key: 'healthIntervalMs', flag: 'health-interval', label: 'Health check interval (ms)', description: 'rpc-replicas, round-robin, least-outstanding, hedged: a NULL call to every replica this often; one left unanswered until the next takes the replica out of rotation', live: false, unit: 'ms', min: 1, max: 3_600_000, integer: false, default: 100 }),
  enumKnob({ key: 'replication', flag: 'replication', label: 'Replication', description: "rpc-replicas: none (each replica has its own store) or primary-backup (the primary replies after every backup has the write; a backup takes over after the detection time)", group: 'workload', live: false, values: REPLICATION_MODES, default: 'none' }),
  booleanKnob({ key: 'replicateDrc', flag: 'replicate-drc', label: 'Replicate the duplicate request cache', description: "rpc-replicas, primary-backup: a write's cache entry goes to the backups with it, so a retry that fails over is answered from the cache instead of running again", group: 'workload', live: false, default: true }),
  num({ key: 'detectionMs', flag: 'detection', label: 'Replica failure detection (ms)', description: 'rpc-replicas, primary-backup: the view service declares a replica dead after this long without its ping (pings go every fifth of it)', live: false, unit: 'ms', min: 5, max: 3_600_000, integer: false, default: 250 }),
  num({ key: 'restartDelayMs', flag: 'restart-delay', label: 'Restart time (ms)', description: 'rpc-replicas: how long a restarted replica takes to answer again', live: false, unit: 'ms', min: 0, max: 3_600_000, integer: false, default: 0 }),
  enumKnob({ key: 'crashMemory', flag: 'crash-memory', label: 'Memory after a crash', description: 'rpc-replicas: a crashed replica loses its state and cache (lost) or keeps them (kept), unless a fault step says otherwise', group: 'workload', live: false, values: ['lost', 'kept'], default: 'lost' }),
  num({ key: 'mixPut', flag: 'mix-put', label: 'Share of KV_PUT calls', description: 'rpc-replicas: weight of writes (KV_PUT of a key, a fresh value each)', live: false, unit: 'number', min: 0, max: 1000, integer: false, default: 1 }),
  num({ key: 'mixGet', flag: 'mix-get', label: 'Share of KV_GET calls', description: 'rpc-replicas: weight of reads (KV_GET of a key; stale when older than an acknowledged write)', live: false, unit: 'number', min: 0, max: 1000, integer: false, default: 1 }),
  num({ key: 'keys', flag: 'keys', label: 'Keys', description: 'rpc-replicas: keys the writes and reads use; each is read once at the end to count lost writes', live: false, unit: 'count', min: 1, max: 1000, integer: true, default: 16 }),
  num({ key: 'rpcMaxRetransmissions', flag: 'rpc-max-retries', label: 'RPC max retransmissions', description: 'rpc: retransmissions of one call at most', live: false, unit: 'count', min: 0, max: 1000, integer: true, default: DEFAULT_RETRY_POLICY.maxRetransmissions }),
] as const satisfies readonly Knob[];

/** Knobs of the simulated receiving host; SimHostConfig (experiments/runner/config.ts) derives from them. */
export const SIM_KNOBS = [
  numberKnob({
    key: 'receiverPacketsPerSecond',
    flag: 'sim-receiver-rate',
    label: 'Simulated receiver speed (packets/s)',
    description: 'simulator: datagrams per second the receiving process reads from its socket (its buffer is socket.socketRcvBufBytes); 0 for an infinitely fast reader',
    group: 'buffers',
    live: false,
    unit: 'count',
    min: 0,
    max: 100_000_000,
    integer: false,
    default: 0,
  }),
] as const satisfies readonly Knob[];

/** Spec sections that hold knobs, with their registries. */
export const KNOB_SECTIONS = {
  transport: TRANSPORT_KNOBS,
  forward: IMPAIRMENT_KNOBS,
  reverse: IMPAIRMENT_KNOBS,
  socket: SOCKET_KNOBS,
  workload: WORKLOAD_KNOBS,
  sim: SIM_KNOBS,
} as const satisfies Record<string, readonly Knob[]>;

/** A section name. */
export type KnobSection = keyof typeof KNOB_SECTIONS;

/** Looks up SECTION.KEY; undefined when there is no such knob. */
export function knobAt(path: string): { section: KnobSection; key: string; knob: Knob } | undefined {
  const dot = path.indexOf('.');
  if (dot < 0) return undefined;
  const section = path.slice(0, dot) as KnobSection;
  const key = path.slice(dot + 1);
  const list: readonly Knob[] | undefined = KNOB_SECTIONS[section];
  const knob = list?.find((k) => k.key === key);
  return knob === undefined ? undefined : { section, key, knob };
}

/** Every knob path, for error messages and completion. */
export function allKnobPaths(): string[] {
  return Object.entries(KNOB_SECTIONS).flatMap(([s, list]) => list.map((k) => `${s}.${k.key}`));
}
