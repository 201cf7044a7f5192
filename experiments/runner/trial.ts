// One trial: one sweep point, one repetition, one workload, on the simulator or real UDP. The same
// code path streams samples, applies the schedule and live changes (recording each as an event),
// and reduces the run to the scalar results summary.csv averages.

import { TRANSFER_COLUMNS, TransferMeter } from '../../core/metrics/transfer-meter.js';
import { buildSimTransfer } from '../../workloads/transfer/sim-transfer.js';
import { runUdpTransfer, type UdpTransferLive } from '../../workloads/transfer/udp-transfer.js';
import { summarizeTransfer, type TransferSetup, type TransferSummary } from '../../core/transfer/setup.js';
import { STREAM_COLUMNS, StreamMeter, buildSimStream, runUdpStream, summarizeSimStream, type StreamSetup, type StreamSummary } from '../../workloads/stream/run.js';
import { RPC_COLUMNS, RpcMeter, buildSimRpcWorkload, runUdpRpcWorkload, summarizeSimRpc, type RpcSummary } from '../../workloads/rpc/workload.js';
import { ReceiveBuffer, receiveBufferLimitBytes } from '../../core/sim/receive-buffer.js';
import { FLOWS_COLUMNS, FlowsMeter, MAX_FLOWS, buildSimFlows, jainIndex } from '../../core/apps/flows.js';
import type { SimStep, Simulator } from '../../core/sim/simulator.js';
import { Flag, PACKET_TYPE_NAMES, newHeader, parseInto } from '../../core/wire/packet.js';
import type { Endpoint } from '../../core/endpoint.js';
import { linkDrops, type Link, type ManualAction } from '../../core/impair/link.js';
import { FLOW_GOODPUT_METRICS, metricList, type MetricName, type MetricRow } from '../../core/metrics/registry.js';
import type { Connection, ConnectionSnapshot } from '../../core/transport/connection.js';
import { RECEIVER_TRANSPORT_KNOBS, type ReceiverChanges, type TransportConfig } from '../../core/transport/config.js';
import type { ImpairmentConfig } from '../../core/impair/config.js';
import { checkKnobValue } from '../../core/knobs.js';
import { knobAt, type WorkloadKind } from '../knobs.js';
import type { KnobValue, ScheduleStep } from '../spec.js';
import { rpcSetupOf, type Network, type TrialConfig } from './config.js';
import { LadderTracer, addTracer } from './ladder.js';
import type { PeerClient } from '../../net/peer/client.js';
import type { LocalPeerStats, ReceivingEnd } from '../../net/udp/local-peer.js';
import type { Capture } from '../../core/capture/capture.js';
import { captureSimLinks } from '../../core/capture/runs.js';
import type { LadderPacket } from '../api/contract.js';
import { listenerDefaultsOf } from '../../core/apps/services.js';

/** How a trial ended. */
export type TrialStatus = 'complete' | 'failed' | 'timeout' | 'stopped' | 'peer-lost';

/** An event of a trial, for events.csv. */
export interface TrialEvent {
  /** Seconds since the trial started (virtual time in the simulator). */
  timeS: number;
  kind: 'trial-start' | 'trial-end' | 'set' | 'connected' | 'error' | 'step' | 'packet' | 'pause' | 'resume' | 'speed';
  knob?: string;
  before?: KnobValue;
  after?: KnobValue;
  detail?: string;
}

/** What a trial produced. */
export interface TrialOutcome {
  status: TrialStatus;
  failure: string | null;
  /** Scalar results, by metric (summary.csv). */
  scalars: MetricRow;
  /** The driver's own end-of-run summary (null when the trial never ran: its peer was lost). */
  summary: TransferSummary | StreamSummary | RpcSummary | null;
}

/** Changes a knob of a running trial; resolves with null or what went wrong. */
export type LiveSetter = (path: string, value: KnobValue, source: 'user' | 'schedule') => Promise<{ error: string | null; timeS: number }>;

/** What a trial needs from the run. */
export interface TrialContext {
  config: TrialConfig;
  network: Network;
  schedule: readonly ScheduleStep[];
  onSample(row: MetricRow): void;
  onEvent(e: TrialEvent): void;
  signal: AbortSignal;
  /** The trial hands out its live setter once it runs, and null when it ends. */
  onLive(set: LiveSetter | null): void;
  /** Every datagram's fate, for the packet ladder (only when someone watches). */
  onPacket?: (p: LadderPacket) => void;
  /** The peer agent's control channel (network peer). */
  peer?: PeerClient;
  /** Records the trial's datagrams (pcapng); the caller closes it. */
  capture?: Capture;
  /** Teaching mode: pause, step, pace and inspect a simulator trial. */
  control?: SimControl;
}

/** What a paused simulator trial shows. */
export interface SimState {
  timeS: number;
  events: number;
  workload: WorkloadKind;
  sender: ConnectionSnapshot | null;
  receiver: ConnectionSnapshot | null;
  /** Datagrams on their way, per direction, with their index (what packetAction takes). */
  inFlight: { direction: 'forward' | 'reverse'; index: number; duplicate: boolean; sentAtS: number; arriveAtS: number; type: string; seq: number | null; ack: number | null }[];
}

/** What a running simulator trial offers its control. */
export interface SimHandle {
  /** Virtual time of the trial, s. */
  timeS(): number;
  state(): SimState;
  act(direction: 'forward' | 'reverse', index: number, duplicate: boolean, action: ManualAction, delayMs: number): string | null;
}

/** Pause, step and pace of simulator trials (one per run; trials attach to it in turn). */
export class SimControl {
  paused = false;
  /** Virtual ms per wall ms; Infinity runs as fast as possible. */
  speed = Number.POSITIVE_INFINITY;
  private steps = 0;
  private waiter: (() => void) | null = null;
  private handle: SimHandle | null = null;
  private anchorWallMs = 0;
  private anchorVirtualMs = 0;

  /** The running trial, or null between trials. */
  get trial(): SimHandle | null {
    return this.handle;
  }

  /** Called by the trial. */
  attach(h: SimHandle | null): void {
    this.handle = h;
    this.anchorWallMs = performance.now();
    this.anchorVirtualMs = 0;
  }

  pause(): void {
    this.paused = true;
  }

  resume(virtualNowMs: number): void {
    this.paused = false;
    this.reanchor(virtualNowMs);
    this.wakeUp();
  }

  /** Sets the pace: virtual ms per wall ms (0.01 is 1/100 of real time), Infinity for full speed. */
  setSpeed(speed: number, virtualNowMs: number): void {
    this.speed = speed;
    this.reanchor(virtualNowMs);
    this.wakeUp();
  }

  /** Asks for n single steps (taken while paused). */
  step(n = 1): void {
    this.steps += n;
    this.wakeUp();
  }

  /** Wakes a paused trial (to stop it). */
  wakeUp(): void {
    const w = this.waiter;
    this.waiter = null;
    w?.();
  }

  /** Trial side: one step to take? */
  takeStep(): boolean {
    if (this.steps === 0) return false;
    this.steps--;
    return true;
  }

  /** Trial side: waits for a step, a resume, a speed change or a stop. */
  wait(): Promise<void> {
    return new Promise((r) => {
      this.waiter = r;
    });
  }

  /** Trial side: how far virtual time may run by now at this pace. */
  virtualTarget(virtualNowMs: number): number {
    if (this.anchorWallMs === 0) this.reanchor(virtualNowMs);
    return this.anchorVirtualMs + (performance.now() - this.anchorWallMs) * this.speed;
  }

  private reanchor(virtualNowMs: number): void {
    this.anchorWallMs = performance.now();
    this.anchorVirtualMs = virtualNowMs;
  }
}

function describeStep(e: SimStep): string {
  if (e.kind === 'timer') return `host ${e.host}: timer fired`;
  const h = newHeader();
  const what = parseInto(e.bytes, e.bytes.length, h) === null ? `${PACKET_TYPE_NAMES[h.type] ?? 'packet'} seq ${h.seq >>> 0}${(h.flags & Flag.ACK) !== 0 ? ` ack ${h.ack >>> 0}` : ''}` : `${e.bytes.length}-byte datagram`;
  return e.kind === 'send' ? `host ${e.from} sends ${what} to host ${e.to}` : `host ${e.to} receives ${what} from host ${e.from}`;
}

function simState(sim: Simulator, parts: LiveParts, kind: WorkloadKind, sender: () => Connection | null, receiver: () => Connection | null): SimState {
  const inFlight: SimState['inFlight'] = [];
  const h = newHeader();
  for (const [direction, link] of [['forward', parts.forward], ['reverse', parts.reverse]] as const) {
    if (link === null) continue;
    for (const d of link.inFlight().slice(0, 200)) {
      const ok = parseInto(d.bytes, d.bytes.length, h) === null;
      inFlight.push({ direction, index: d.index, duplicate: d.duplicate, sentAtS: d.sentAt / 1000, arriveAtS: d.arriveAt / 1000, type: ok ? (PACKET_TYPE_NAMES[h.type] ?? 'packet') : 'datagram', seq: ok ? h.seq >>> 0 : null, ack: ok && (h.flags & Flag.ACK) !== 0 ? h.ack >>> 0 : null });
    }
  }
  return { timeS: sim.now / 1000, events: sim.events, workload: kind, sender: sender()?.snapshot() ?? null, receiver: receiver()?.snapshot() ?? null, inFlight };
}

/** Sample columns of a workload kind. */
export function sampleColumns(kind: WorkloadKind): readonly string[] {
  return kind === 'udp-stream' ? STREAM_COLUMNS : kind === 'rpc' ? RPC_COLUMNS : kind === 'flows' ? FLOWS_COLUMNS : TRANSFER_COLUMNS;
}

/** Scalar result columns of a workload kind, in summary.csv order. */
export const SCALAR_COLUMNS: Record<WorkloadKind, readonly MetricName[]> = {
  bulk: ['completed', 'goodput_bps', 'duration_s', 'transmissions_per_packet', 'retransmits_timeout', 'retransmits_fast', 'retransmits_spurious', 'timeouts', 'duplicates_suppressed', 'out_of_order_buffered', 'window_drops', 'checksum_failures', 'corrupt_delivered', 'data_matched', 'fwd_drops', 'rev_drops', 'rtt_mean_ms', 'kernel_drops_receiver'],
  messages: [],
  'udp-stream': ['completed', 'sent_packets', 'received_packets', 'loss_ratio', 'kernel_drops_receiver', 'link_drops_queue', 'link_drops_random', 'link_drops_burst', 'reordered_packets', 'duplicate_packets', 'checksum_failures', 'jitter_ms', 'receive_rate_bps'],
  flows: ['completed', 'total_goodput_bps', 'mean_flow_goodput_bps', 'jain_index_final', 'time_to_fair_s', 'fwd_drops_queue', ...FLOW_GOODPUT_METRICS],
  rpc: ['completed', 'calls_succeeded', 'calls_failed', 'calls_per_s', 'lookups', 'logical_latency_mean_ms', 'attempts_per_call', 'latency_mean_ms', 'latency_p50_ms', 'latency_p90_ms', 'latency_p99_ms', 'server_executions', 'duplicate_requests', 'cache_hits', 'duplicate_executions'],
};
SCALAR_COLUMNS.messages = [...SCALAR_COLUMNS.bulk, 'delivered_messages'];
for (const list of Object.values(SCALAR_COLUMNS)) metricList(list);


function transferScalars(s: TransferSummary, kernelDrops: number): MetricRow {
  const c = s.sender;
  const r = s.receiver;
  const drops = (l: TransferSummary['forward']) => (l === null ? Number.NaN : linkDrops(l));
  return {
    completed: s.status === 'complete' ? 1 : 0,
    goodput_bps: s.goodputBps,
    duration_s: s.durationS,
    transmissions_per_packet: c.dataPacketsSent > 0 ? (c.dataPacketsSent + c.retransmitsTimeout + c.retransmitsFast) / c.dataPacketsSent : Number.NaN,
    retransmits_timeout: c.retransmitsTimeout,
    retransmits_fast: c.retransmitsFast,
    retransmits_spurious: c.retransmitsSpurious,
    timeouts: c.timeouts,
    duplicates_suppressed: r?.duplicatesSuppressed ?? Number.NaN,
    out_of_order_buffered: r?.outOfOrderBuffered ?? Number.NaN,
    window_drops: r?.windowDrops ?? Number.NaN,
    checksum_failures: s.corruption.detected,
    corrupt_delivered: r?.corruptDeliveredPackets ?? Number.NaN,
    data_matched: s.dataMatched === null ? Number.NaN : s.dataMatched ? 1 : 0,
    fwd_drops: drops(s.forward),
    rev_drops: drops(s.reverse),
    rtt_mean_ms: c.rttSamples > 0 ? c.rttSumMs / c.rttSamples : Number.NaN,
    kernel_drops_receiver: kernelDrops,
    delivered_messages: r?.deliveredMessages ?? Number.NaN,
  };
}

function streamScalars(s: StreamSummary): MetricRow {
  const r = s.receiver;
  return {
    completed: s.status === 'complete' ? 1 : 0,
    sent_packets: s.sent.packetsSent,
    received_packets: r?.packetsReceived ?? Number.NaN,
    loss_ratio: s.lossRatio,
    kernel_drops_receiver: r?.kernelDrops ?? Number.NaN,
    link_drops_queue: s.link.dropsQueue,
    link_drops_random: s.link.dropsRandom,
    link_drops_burst: s.link.dropsBurst,
    reordered_packets: r?.reordered ?? Number.NaN,
    duplicate_packets: r?.duplicates ?? Number.NaN,
    checksum_failures: r?.checksumFailures ?? Number.NaN,
    jitter_ms: r?.jitterMs ?? Number.NaN,
    receive_rate_bps: r !== null && s.durationS > 0 ? (r.bytesReceived * 8) / s.durationS : Number.NaN,
  };
}

function rpcScalars(s: RpcSummary): MetricRow {
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

function transferSetupOf(c: TrialConfig): TransferSetup {
  const w = c.workload;
  return {
    transport: c.transport,
    forward: c.forward,
    reverse: c.reverse,
    totalBytes: w.bytes,
    messageBytes: w.kind === 'messages' ? w.messageBytes : 0,
    readRateBytesPerSecond: w.readRateBytesPerSecond,
    verifyData: w.verifyData,
    seed: c.seed,
    intervalMs: c.intervalMs,
    timeLimitMs: c.timeLimitMs,
  };
}

function streamSetupOf(c: TrialConfig): StreamSetup {
  const w = c.workload;
  return { datagramBytes: w.datagramBytes, ratePacketsPerSecond: w.ratePacketsPerSecond, durationMs: w.durationMs, intervalMs: c.intervalMs, impairment: c.forward, seed: c.seed };
}

// Transport knobs the receiving end uses too (they travel in the SYN at the start).
const RECEIVER_KNOBS = new Set<string>(RECEIVER_TRANSPORT_KNOBS);

/** What a live change can reach in a running trial. */
interface LiveParts {
  kind: WorkloadKind;
  forward: Link | null;
  reverse: Link | null;
  sender: Connection | null;
  receiver: (() => Connection | null) | null;
  remoteReceiver: ((changes: ReceiverChanges) => Promise<string | null>) | null;
  now(): number;
  kick(): void;
}

/** Applies SECTION.KEY = value to a running trial; returns null or why it could not. */
async function applyLive(parts: LiveParts, current: Record<string, KnobValue>, path: string, value: KnobValue): Promise<string | null> {
  const at = knobAt(path);
  if (at === undefined) return `unknown knob ${path}`;
  if (!at.knob.live) return `${path} cannot change while a run is going`;
  const bad = checkKnobValue(at.knob, value);
  if (bad !== null) return `${path} ${bad}`;
  if (at.section === 'forward' || at.section === 'reverse') {
    const link = at.section === 'forward' ? parts.forward : parts.reverse;
    if (link === null) return `${path}: this workload has no ${at.section} link to change (the stream's reports travel unimpaired)`;
    link.reconfigure({ [at.key]: value } as Partial<ImpairmentConfig>);
    current[path] = value;
    parts.kick();
    return null;
  }
  if (at.section === 'transport') {
    if (parts.sender === null) return `${path}: the ${parts.kind} workload has no lab-transport connection to change`;
    const changes = { [at.key]: value } as Partial<TransportConfig>;
    try {
      parts.sender.reconfigure(parts.now(), changes);
    } catch (e) {
      return `${path}: ${(e as Error).message}`;
    }
    current[path] = value;
    if (RECEIVER_KNOBS.has(at.key)) {
      const r = parts.receiver?.() ?? null;
      if (r !== null) r.reconfigure(parts.now(), changes);
      else if (parts.remoteReceiver !== null) {
        const err = await parts.remoteReceiver(changes);
        if (err !== null) return `${path}: changed at the sender; the receiver refused: ${err}`;
      } else return `${path}: changed at the sender only (the receiver keeps the value of its SYN)`;
    }
    parts.kick();
    return null;
  }
  return `${path} cannot change while a run is going`;
}

/** The current value of a knob path in a trial config (for the "before" of an event). */
function valueOf(c: TrialConfig, path: string): KnobValue | undefined {
  const at = knobAt(path);
  if (at === undefined) return undefined;
  const section = (c as unknown as Record<string, Record<string, KnobValue>>)[at.section];
  return section?.[at.key];
}

/** Runs one trial to its end. */
export async function runTrial(ctx: TrialContext): Promise<TrialOutcome> {
  return ctx.network.kind === 'sim' ? runSimTrial(ctx) : runUdpTrial(ctx);
}

// Wall-clock budget of one simulator slice before yielding to the event loop (live changes, stop).
const SIM_SLICE_EVENTS = 20_000;

async function runSimTrial(ctx: TrialContext): Promise<TrialOutcome> {
  const c = ctx.config;
  const kind = c.workload.kind;
  let buffer: ReceiveBuffer | null = null;
  const wrap = (e: Endpoint): Endpoint => {
    if (c.sim.receiverPacketsPerSecond <= 0) return e;
    buffer = new ReceiveBuffer(e, c.sim.receiverPacketsPerSecond, receiveBufferLimitBytes(c.socket.socketRcvBufBytes));
    return buffer;
  };
  const kernelDrops = () => (buffer === null ? 0 : (buffer as ReceiveBuffer).counters.drops);
  const current: Record<string, KnobValue> = {};
  let sim: Simulator;
  let parts: LiveParts;
  let sample: (now: number) => MetricRow;
  let done: () => boolean;
  let start: () => void;
  let finish: (why: string, stopped: boolean) => TrialOutcome;
  let connected: () => boolean = () => true;
  let streamReverse: Link | null = null;
  let senderConn: () => Connection | null = () => null;
  let receiverConn: () => Connection | null = () => null;

  if (kind === 'bulk' || kind === 'messages') {
    const setup = transferSetupOf(c);
    const t = buildSimTransfer(setup, wrap);
    sim = t.sim;
    const meter = new TransferMeter({ sender: t.sender.conn, receiver: () => t.receiver()?.conn ?? null, forward: t.forward, reverse: t.reverse, kernelDrops: () => ({ sender: 0, receiver: kernelDrops() }) }, 0);
    parts = { kind, forward: t.forward, reverse: t.reverse, sender: t.sender.conn, receiver: () => t.receiver()?.conn ?? null, remoteReceiver: null, now: () => sim.now, kick: () => {} };
    sample = (now) => meter.sample(now);
    done = () => t.sender.state === 'done' || t.sender.state === 'failed';
    connected = () => !Number.isNaN(t.sender.connectedAtMs);
    senderConn = () => t.sender.conn;
    receiverConn = () => t.receiver()?.conn ?? null;
    start = () => t.sender.start(0);
    finish = (why, stopped) => {
      const status = stopped ? 'stopped' : t.sender.state === 'done' ? 'complete' : t.sender.state === 'failed' ? 'failed' : why === 'time' ? 'timeout' : 'failed';
      if (status !== 'complete' && t.sender.state !== 'failed') t.sender.abort(sim.now, stopped ? 'stopped by the user' : `did not finish within ${setup.timeLimitMs} ms of virtual time`);
      const end = sim.now;
      sim.run({ untilMs: end + 60_000 });
      const r = t.receiver();
      const s = summarizeTransfer('sim', setup, t.sender, status, r === null ? null : { ...r.conn.counters }, t.forward.counters, t.reverse.counters, t.listener.counters.checksumFailures);
      return { status, failure: s.failure, scalars: transferScalars(s, kernelDrops()), summary: s };
    };
  } else if (kind === 'udp-stream') {
    const setup = streamSetupOf(c);
    const t = buildSimStream(setup, wrap);
    sim = t.sim;
    streamReverse = t.reverse;
    const meter = new StreamMeter(t.sender, t.forward, () => 0, 0);
    let prevDrops = 0;
    parts = { kind, forward: t.forward, reverse: null, sender: null, receiver: null, remoteReceiver: null, now: () => sim.now, kick: () => {} };
    sample = (now) => {
      const row: MetricRow = meter.sample(now);
      const d = kernelDrops();
      row.kernel_drops_receiver = d - prevDrops;
      prevDrops = d;
      return row;
    };
    done = () => t.sender.state === 'done' || t.sender.state === 'failed';
    start = () => t.sender.start(0);
    finish = (_why, stopped) => {
      if (stopped && t.sender.state !== 'done' && t.sender.state !== 'failed') {
        t.sender.stop(sim.now);
        sim.run({ untilMs: sim.now + 10_000, stop: () => t.sender.state === 'done' || t.sender.state === 'failed' });
      }
      const s = summarizeSimStream(setup, t, stopped, kernelDrops());
      return { status: s.status, failure: s.failure, scalars: streamScalars(s), summary: s };
    };
  } else if (kind === 'flows') {
    const w = c.workload;
    const f = buildSimFlows({ transport: c.transport, forward: c.forward, reverse: c.reverse, flows: w.flows, startGapMs: w.flowStartGapMs, windowFactor: w.flowWindowFactor, uncontrolledFlows: w.uncontrolledFlows, reverseFlows: w.reverseFlows, crossPacketsPerSecond: w.crossPacketsPerSecond, crossDatagramBytes: w.datagramBytes, durationMs: w.durationMs, seed: c.seed });
    sim = f.sim;
    const meter = new FlowsMeter(f, 0);
    const rows: MetricRow[] = [];
    parts = { kind, forward: f.forward, reverse: f.reverse, sender: null, receiver: null, remoteReceiver: null, now: () => sim.now, kick: () => {} };
    sample = (now) => {
      const row = meter.sample(now);
      rows.push(row);
      return row;
    };
    done = () => f.over();
    start = () => f.start(0);
    finish = (_why, stopped) => {
      for (const s of f.senders) if (s.state !== 'failed' && s.state !== 'done') s.abort(sim.now, stopped ? 'stopped by the user' : 'the flows ran for their duration');
      sim.run({ untilMs: sim.now + 10_000 });
      const failed = f.senders.find((s) => s.failure !== null && !/ran for their duration|stopped by the user/.test(s.failure));
      const status: TrialStatus = stopped ? 'stopped' : failed !== undefined ? 'failed' : 'complete';
      const summary = flowsSummary(rows, w.flows, w.flowStartGapMs, w.durationMs);
      return { status, failure: failed?.failure ?? (stopped ? 'stopped by the user' : null), scalars: { completed: status === 'complete' ? 1 : 0, ...summary, fwd_drops_queue: f.forward.counters.dropsQueue }, summary: null };
    };
  } else {
    const setup = rpcSetupOf(c);
    const w = buildSimRpcWorkload(setup, wrap);
    sim = w.sim;
    const meter = new RpcMeter({ client: w.app.engine, server: () => [w.server], forward: w.forward, reverse: w.reverse }, 0);
    parts = { kind, forward: w.forward, reverse: w.reverse, sender: null, receiver: null, remoteReceiver: null, now: () => sim.now, kick: () => {} };
    sample = (now) => meter.sample(now);
    done = () => w.app.done;
    start = () => w.app.start(0);
    finish = (why, stopped) => {
      if (stopped) w.app.stop();
      const status = stopped ? 'stopped' : w.app.done ? 'complete' : why === 'time' ? 'timeout' : 'failed';
      const failure = status === 'timeout' ? `did not finish within ${setup.timeLimitMs} ms of virtual time` : status === 'stopped' ? 'stopped by the user' : null;
      const s = summarizeSimRpc(setup, w, status, failure);
      return { status, failure, scalars: rpcScalars(s), summary: s };
    };
  }

  if (ctx.capture !== undefined) {
    const l = parts.forward!;
    const r = kind === 'udp-stream' ? streamReverse! : parts.reverse!;
    captureSimLinks(ctx.capture, l, r, kind === 'udp-stream' ? 'reports' : kind === 'rpc' ? 'replies' : 'ACK direction');
  }
  if (ctx.onPacket !== undefined) {
    if (parts.forward !== null) addTracer(parts.forward, new LadderTracer('forward', 0, ctx.onPacket));
    if (parts.reverse !== null) addTracer(parts.reverse, new LadderTracer('reverse', 0, ctx.onPacket));
  }
  // Samples and the schedule are tickers: they happen at exact virtual times, so a replay matches.
  let nextSample = c.intervalMs;
  let lastSample = 0;
  sim.addTicker({
    pollTimeout: () => (done() ? null : nextSample),
    handleTimeout: (now) => {
      ctx.onSample(sample(now));
      lastSample = now;
      nextSample = now + c.intervalMs;
    },
  });
  const steps = [...ctx.schedule].sort((a, b) => a.atS - b.atS);
  let stepIndex = 0;
  const pendingSets: Promise<void>[] = [];
  const applyStep = (now: number, step: ScheduleStep) => {
    for (const [path, value] of Object.entries(step.set)) {
      if (value === undefined) continue;
      const before = current[path] ?? valueOf(c, path);
      pendingSets.push(
        applyLive(parts, current, path, value).then((err) => {
          ctx.onEvent(err === null ? { timeS: now / 1000, kind: 'set', knob: path, before, after: value, detail: step.note ?? 'schedule' } : { timeS: now / 1000, kind: 'error', knob: path, after: value, detail: err });
        }),
      );
    }
  };
  sim.addTicker({
    pollTimeout: () => (stepIndex < steps.length && !done() ? steps[stepIndex]!.atS * 1000 : null),
    handleTimeout: (now) => {
      while (stepIndex < steps.length && steps[stepIndex]!.atS * 1000 <= now) applyStep(now, steps[stepIndex++]!);
    },
  });
  let wasConnected = false;
  ctx.onLive(async (path, value, source) => {
    const before = current[path] ?? valueOf(c, path);
    const err = await applyLive(parts, current, path, value);
    const timeS = sim.now / 1000;
    ctx.onEvent(err === null ? { timeS, kind: 'set', knob: path, before, after: value, detail: source } : { timeS, kind: 'error', knob: path, after: value, detail: err });
    return { error: err, timeS };
  });
  // Changes made by hand in an earlier run replay by the datagram's index (Link.actWhenSent).
  for (const step of ctx.schedule) {
    if (step.packet === undefined) continue;
    const link = step.packet.direction === 'forward' ? parts.forward : parts.reverse;
    link?.actWhenSent(step.packet.index, step.packet.duplicate, step.packet.action, step.packet.delayMs ?? 0);
  }
  const control = ctx.control;
  const linkOf = (d: 'forward' | 'reverse') => (d === 'forward' ? parts.forward : parts.reverse);
  control?.attach({
    timeS: () => sim.now / 1000,
    state: () => simState(sim, parts, kind, senderConn, receiverConn),
    act: (direction, index, duplicate, action, delayMs) => {
      const link = linkOf(direction);
      if (link === null || !link.act(index, duplicate, action, delayMs)) return `no ${direction} datagram #${index}${duplicate ? ' (duplicate)' : ''} is in flight`;
      const what = action === 'drop' ? 'dropped' : action === 'corrupt' ? 'corrupted' : action === 'duplicate' ? 'duplicated' : `delayed by ${delayMs} ms`;
      ctx.onEvent({ timeS: sim.now / 1000, kind: 'packet', knob: `${direction}.datagram`, after: index, detail: `${what} by hand${duplicate ? ' (the duplicate copy)' : ''}` });
      return null;
    },
  });
  ctx.onEvent({ timeS: 0, kind: 'trial-start' });
  start();
  let why: string = 'stopped';
  try {
    for (;;) {
      if (control !== undefined && (control.paused || Number.isFinite(control.speed))) {
        // Teaching mode: one event at a time while paused, or paced to a multiple of real time.
        if (control.paused) {
          if (control.takeStep()) {
            const e = sim.step();
            if (e === null) {
              why = 'idle';
              break;
            }
            ctx.onEvent({ timeS: e.now / 1000, kind: 'step', detail: describeStep(e) });
          } else await control.wait();
          why = 'max-events';
        } else {
          const target = control.virtualTarget(sim.now);
          why = sim.run({ untilMs: Math.min(target, c.timeLimitMs), stop: done, maxEvents: sim.events + SIM_SLICE_EVENTS });
          if (why === 'time' && target < c.timeLimitMs) why = 'max-events';
          await new Promise<void>((r) => setTimeout(r, 15));
        }
        if (done() || sim.now >= c.timeLimitMs) why = done() ? 'stopped' : 'time';
      } else {
        why = sim.run({ untilMs: c.timeLimitMs, stop: done, maxEvents: sim.events + SIM_SLICE_EVENTS });
      }
      if (pendingSets.length > 0) await Promise.all(pendingSets.splice(0));
      if (!wasConnected && connected()) {
        wasConnected = true;
        ctx.onEvent({ timeS: sim.now / 1000, kind: 'connected' });
      }
      if ((why !== 'max-events' && !(control?.paused ?? false)) || ctx.signal.aborted) break;
      if (done()) break;
      // Yield so that live changes and a stop get in between slices.
      if (control === undefined || (!control.paused && !Number.isFinite(control.speed))) await new Promise<void>((r) => setImmediate(r));
    }
  } finally {
    ctx.onLive(null);
    control?.attach(null);
  }
  const end = sim.now;
  if (end > lastSample || lastSample === 0) ctx.onSample(sample(end));
  const out = finish(why, ctx.signal.aborted);
  ctx.onEvent({ timeS: end / 1000, kind: 'trial-end', detail: out.failure === null ? out.status : `${out.status}: ${out.failure}` });
  return out;
}

async function runUdpTrial(ctx: TrialContext): Promise<TrialOutcome> {
  const c = ctx.config;
  const current: Record<string, KnobValue> = {};
  const startMs = performance.now();
  const nowS = () => (performance.now() - startMs) / 1000;
  let parts: LiveParts | null = null;
  const timers: NodeJS.Timeout[] = [];
  const live = (p: LiveParts) => {
    parts = p;
    if (ctx.onPacket !== undefined) {
      if (p.forward !== null) addTracer(p.forward, new LadderTracer('forward', startMs, ctx.onPacket));
      if (p.reverse !== null) addTracer(p.reverse, new LadderTracer('reverse', startMs, ctx.onPacket));
    }
    const apply = async (path: string, value: KnobValue, detail: string) => {
      const before = current[path] ?? valueOf(c, path);
      const err = await applyLive(p, current, path, value);
      const timeS = nowS();
      ctx.onEvent(err === null ? { timeS, kind: 'set', knob: path, before, after: value, detail } : { timeS, kind: 'error', knob: path, after: value, detail: err });
      return { error: err, timeS };
    };
    for (const step of ctx.schedule) {
      timers.push(
        setTimeout(() => {
          for (const [path, value] of Object.entries(step.set)) if (value !== undefined) void apply(path, value, step.note ?? 'schedule');
        }, step.atS * 1000),
      );
    }
    ctx.onLive((path, value, source) => apply(path, value, source));
    ctx.onEvent({ timeS: nowS(), kind: 'connected' });
  };
  ctx.onEvent({ timeS: 0, kind: 'trial-start' });
  let out: TrialOutcome | null = null;
  try {
    out = ctx.network.kind === 'peer' ? await runPeerWorkload(ctx, live) : await runUdpWorkload(ctx, live, null, ctx.signal);
    return out;
  } finally {
    for (const t of timers) clearTimeout(t);
    ctx.onLive(null);
    void parts;
    ctx.onEvent({ timeS: nowS(), kind: 'trial-end', detail: out === null ? 'error' : out.failure === null ? out.status : `${out.status}: ${out.failure}` });
  }
}

/** Where the far end is: null for a local one started for the trial. */
type FarEnd = { host: string; port: number } | null;

async function runUdpWorkload(ctx: TrialContext, live: (p: LiveParts) => void, far: FarEnd, signal: AbortSignal, remote?: ReceivingEnd): Promise<TrialOutcome> {
  const c = ctx.config;
  const kind = c.workload.kind;
  {
    if (kind === 'bulk' || kind === 'messages') {
      const s = await runUdpTransfer({
        setup: transferSetupOf(c),
        peer: far,
        remote,
        socket: c.socket,
        onSample: (row) => ctx.onSample(row),
        signal,
        capture: ctx.capture,
        onStart: (t: UdpTransferLive) =>
          live({
            kind,
            forward: t.forward,
            reverse: t.reverse,
            sender: t.sender.conn,
            receiver: null,
            remoteReceiver: t.reconfigureReceiver,
            now: () => performance.now(),
            kick: t.kick,
          }),
      });
      const out: TrialOutcome = { status: s.status, failure: s.failure, scalars: transferScalars(s, Number.NaN), summary: s };
      return out;
    }
    if (kind === 'udp-stream') {
      const s = await runUdpStream({
        setup: streamSetupOf(c),
        peer: far,
        socket: c.socket,
        onSample: (row) => ctx.onSample(row),
        signal,
        capture: ctx.capture,
        onStart: (t) => live({ kind, forward: t.forward, reverse: null, sender: null, receiver: null, remoteReceiver: null, now: () => performance.now(), kick: t.kick }),
      });
      return { status: s.status, failure: s.failure, scalars: streamScalars(s), summary: s };
    }
    const s = await runUdpRpcWorkload({
      setup: rpcSetupOf(c),
      peer: far,
      onSample: (row) => ctx.onSample(row),
      signal,
      capture: ctx.capture,
      onStart: (t) => live({ kind, forward: t.forward, reverse: t.reverse, sender: null, receiver: null, remoteReceiver: null, now: () => performance.now(), kick: t.kick }),
    });
    return { status: s.status, failure: s.failure, scalars: rpcScalars(s), summary: s };
  }
}

/**
 * A trial against a peer agent: the agent starts the far end (a listener, or an RPC server with the
 * counter program) for this trial, the traffic runs from here, and the receiver's counters come
 * back over the control channel: polled once a sampling interval during a transfer (the receiver's
 * sample columns), and in full at the end. If the agent is lost, the trial stops at once and ends
 * 'peer-lost' with the reason.
 */
async function runPeerWorkload(ctx: TrialContext, live: (p: LiveParts) => void): Promise<TrialOutcome> {
  const peer = ctx.peer;
  const net = ctx.network;
  if (peer === undefined || net.kind !== 'peer') throw new Error('a peer trial needs the peer agent\'s control channel');
  const c = ctx.config;
  const w = c.workload;
  const t = c.transport;
  const stop = new AbortController();
  const onOuter = () => stop.abort();
  ctx.signal.addEventListener('abort', onOuter);
  let lost: string | null = peer.lostReason;
  const unsubscribe = peer.onLost((reason) => {
    lost = reason;
    stop.abort();
  });
  const lifetimeMs = c.timeLimitMs + 30_000;
  let poller: AgentStatsPoller | null = null;
  try {
    if (lost !== null) throw new PeerLost(lost);
    let service: number;
    let port: number;
    if (w.kind === 'rpc') {
      const r = await peer.startRpcServer({ transports: [w.rpcTransport], drc: { enabled: w.drc }, socket: { socketRcvBufBytes: c.socket.socketRcvBufBytes, socketSndBufBytes: c.socket.socketSndBufBytes }, transport: listenerDefaultsOf(t), lifetimeMs, seed: c.seed });
      service = r.service;
      port = (w.rpcTransport === 'udp' ? r.udpPort : w.rpcTransport === 'tcp' ? r.tcpPort : r.pltPort)!;
    } else {
      const l = await peer.startListener({ socket: { socketRcvBufBytes: c.socket.socketRcvBufBytes, socketSndBufBytes: c.socket.socketSndBufBytes }, transport: listenerDefaultsOf(t), lifetimeMs, seed: c.seed });
      service = l.service;
      port = l.udpPort;
    }
    ctx.onEvent({ timeS: 0, kind: 'connected', detail: `peer ${net.host}:${net.port} serves the trial on port ${port}` });
    if (w.kind === 'bulk' || w.kind === 'messages') poller = new AgentStatsPoller(peer, service, c.intervalMs);
    const out = await runUdpWorkload(ctx, live, { host: net.host, port }, stop.signal, poller ?? undefined);
    if (lost !== null) throw new PeerLost(lost);
    // What only the agent has beyond the transfer's summary (whose receiver counters it asked for
    // after the transfer): the kernel drops of the listening socket, and an RPC server's counters.
    const stats = await peer.stop(service).catch((e: Error) => {
      if (lost !== null) throw new PeerLost(lost);
      throw e;
    });
    if (stats.kind === 'listener') {
      if (stats.kernelDrops !== null) out.scalars.kernel_drops_receiver = stats.kernelDrops;
    } else if (stats.kind === 'rpc') {
      out.scalars.server_executions = orNaN(stats.server.executions);
      out.scalars.duplicate_requests = orNaN(stats.server.duplicateRequests);
      out.scalars.cache_hits = orNaN(stats.server.cacheHits);
      out.scalars.duplicate_executions = stats.counter.repeatedExecutions;
    }
    return out;
  } catch (e) {
    if (e instanceof PeerLost || lost !== null) {
      const reason = e instanceof PeerLost ? e.message : lost!;
      ctx.onEvent({ timeS: 0, kind: 'error', detail: `peer lost: ${reason}` });
      return { status: 'peer-lost', failure: reason, scalars: {}, summary: null };
    }
    throw e;
  } finally {
    poller?.stop();
    unsubscribe();
    ctx.signal.removeEventListener('abort', onOuter);
  }
}

/** The agent went away during a trial. */
class PeerLost extends Error {}

/**
 * A peer agent's listener as the receiving end of a transfer: its statistics, asked for once an
 * interval (one request at a time) for the receiver's columns of a transfer's samples and afresh by
 * refresh() for the final figures, and live changes of its session's knobs. The interval runs on a
 * timer of its own, not the sampler's, so a sample's receiver columns can be up to an interval plus
 * a round trip old. A failed request keeps what was known: the trial learns of a lost agent from
 * the control channel itself. Exported for its test.
 */
export class AgentStatsPoller implements ReceivingEnd {
  private known: LocalPeerStats | null = null;
  private pending: Promise<LocalPeerStats | null> | null = null;
  private readonly timer: NodeJS.Timeout;

  constructor(
    private readonly peer: PeerClient,
    private readonly service: number,
    intervalMs: number,
  ) {
    this.timer = setInterval(() => {
      if (this.pending === null) this.track(this.ask());
    }, intervalMs);
  }

  latest(): LocalPeerStats | null {
    return this.known;
  }

  /**
   * Asks afresh: an answer still awaited was asked for earlier (an interval poll may have left
   * before the transfer ended), so the new request follows it rather than sharing it.
   */
  refresh(): Promise<LocalPeerStats | null> {
    const ask = () => this.ask();
    return this.track(this.pending === null ? ask() : this.pending.then(ask, ask));
  }

  reconfigure(connectionId: number, changes: ReceiverChanges): Promise<string | null> {
    return this.peer.configureSession(this.service, connectionId, changes).then(
      () => null,
      (e: Error) => e.message,
    );
  }

  private ask(): Promise<LocalPeerStats | null> {
    return this.peer.stats(this.service).then(
      (s) => {
        if (s.kind === 'listener') this.known = { sessions: s.sessions.map((x) => ({ ...x, counters: numbers(x.counters) })), kernelDrops: s.kernelDrops ?? Number.NaN };
        return this.known;
      },
      () => this.known,
    );
  }

  /** Makes `p` the request awaited until it is answered. */
  private track(p: Promise<LocalPeerStats | null>): Promise<LocalPeerStats | null> {
    this.pending = p;
    const settled = () => {
      if (this.pending === p) this.pending = null;
    };
    void p.then(settled, settled);
    return p;
  }

  stop(): void {
    clearInterval(this.timer);
  }
}

/** A counter the agent sent as a number: it sends null where it had NaN, and a missing one is unknown too. */
function orNaN(v: number | null | undefined): number {
  return v ?? Number.NaN;
}

/** Counters as numbers (see orNaN). */
function numbers(counters: Record<string, number | null>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [k, v] of Object.entries(counters)) out[k] = orNaN(v);
  return out;
}

/**
 * The figures of a flows trial: per-flow goodput over its last quarter, Jain's index of those, and
 * how long after the last flow started the flows became fair (a one-second moving Jain's index at
 * 0.95 or more from then on; NaN when they never did).
 */
function flowsSummary(rows: readonly MetricRow[], flows: number, startGapMs: number, durationMs: number): MetricRow {
  const out: MetricRow = {};
  const tail = rows.filter((r) => r.time_s! >= (durationMs / 1000) * 0.75);
  const means: number[] = [];
  for (let i = 1; i <= MAX_FLOWS; i++) {
    const column = FLOW_GOODPUT_METRICS[i - 1]!;
    const v = i <= flows && tail.length > 0 ? tail.reduce((a, r) => a + (r[column] ?? 0), 0) / tail.length : Number.NaN;
    out[column] = v;
    if (i <= flows) means.push(v);
  }
  out.total_goodput_bps = means.reduce((a, b) => a + b, 0);
  out.mean_flow_goodput_bps = out.total_goodput_bps / flows;
  out.jain_index_final = jainIndex(means);
  const lastStartS = ((flows - 1) * startGapMs) / 1000;
  const window = Math.max(1, Math.round(rows.length > 1 ? 1 / (rows[1]!.time_s! - rows[0]!.time_s!) : 10));
  let fairSince = Number.NaN;
  for (let k = 0; k < rows.length; k++) {
    if (rows[k]!.time_s! < lastStartS) continue;
    const from = Math.max(0, k - window + 1);
    const avg: number[] = [];
    for (let i = 1; i <= flows; i++) {
      let sum = 0;
      for (let j = from; j <= k; j++) sum += rows[j]![FLOW_GOODPUT_METRICS[i - 1]!] ?? 0;
      avg.push(sum / (k - from + 1));
    }
    const fair = jainIndex(avg) >= 0.95;
    if (fair && Number.isNaN(fairSince)) fairSince = rows[k]!.time_s!;
    if (!fair) fairSince = Number.NaN;
  }
  out.time_to_fair_s = Number.isNaN(fairSince) ? Number.NaN : Math.max(0, fairSince - lastStartS);
  return out;
}
