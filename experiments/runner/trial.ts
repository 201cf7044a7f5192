// One trial: one sweep point, one repetition, one workload, on the simulator or real UDP. The same
// code path streams samples, applies the schedule and live changes (recording each as an event),
// and reduces the run to the scalar results summary.csv averages.

import { ReceiveBuffer, receiveBufferLimitBytes } from '../../core/sim/receive-buffer.js';
import type { SimStep, Simulator } from '../../core/sim/simulator.js';
import { Flag, PACKET_TYPE_NAMES, PacketType, newHeader, parseInto } from '../../core/wire/packet.js';
import type { Endpoint } from '../../core/endpoint.js';
import type { ManualAction } from '../../core/impair/link.js';
import type { MetricRow } from '../../core/metrics/registry.js';
import type { Connection, ConnectionSnapshot } from '../../core/transport/connection.js';
import { RECEIVER_TRANSPORT_KNOBS, type ReceiverChanges, type TransportConfig } from '../../core/transport/config.js';
import type { ImpairmentConfig } from '../../core/impair/config.js';
import { checkKnobValue } from '../../core/knobs.js';
import { knobAt, type WorkloadKind } from '../knobs.js';
import type { KnobValue, ScheduleStep } from '../spec.js';
import type { Network, TrialConfig } from './config.js';
import { LadderTracer, addTracer } from './ladder.js';
import type { PeerClient } from '../../net/peer/client.js';
import type { LocalPeerStats, ReceivingEnd } from '../../net/udp/local-peer.js';
import type { Capture } from '../../core/capture/capture.js';
import { captureSimLinks } from '../../core/capture/runs.js';
import type { LadderPacket } from '../api/contract.js';
import { WORKLOADS } from '../kinds/registry.js';
import { faultOf, orNaN, type FaultStep, type KindEvent, type LiveParts, type SocketRun, type TrialOutcome } from '../kinds/kind.js';

export type { TrialOutcome, TrialStatus } from '../kinds/kind.js';

/** An event of a trial, for events.csv. */
export interface TrialEvent {
  /** Seconds since the trial started (virtual time in the simulator). */
  timeS: number;
  kind: 'trial-start' | 'trial-end' | 'set' | 'effect' | 'connected' | 'error' | 'step' | 'packet' | 'pause' | 'resume' | 'speed' | 'model' | 'fault' | 'replica' | 'view';
  knob?: string;
  /** The knob for people ("Loss probability (reverse)"); the runner fills it in from `knob`. */
  label?: string;
  before?: KnobValue;
  after?: KnobValue;
  detail?: string;
}

/** Causes a failure to a replica of a running trial; returns null or why it does not apply, and the trial's time. */
export type FaultSetter = (f: FaultStep, source: 'user' | 'schedule') => { error: string | null; timeS: number };

/** The fault of a step on the trial's live parts: null or why it does not apply. */
function applyFault(parts: LiveParts, kind: string, f: FaultStep, crashMemory: 'lost' | 'kept'): string | null {
  if (parts.fault === undefined) return `the ${kind} workload has no replicas to fail (a fault step needs workload.kind rpc-replicas)`;
  return parts.fault({ replica: f.replica, fault: faultOf(f, crashMemory) });
}

/** An event the kind reported, as the trial writes it. */
function kindEvent(e: KindEvent): TrialEvent {
  return { timeS: e.timeS, kind: e.kind, knob: e.knob, before: e.before, after: e.after, detail: e.detail };
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
  /** The trial hands out how to fail a replica by hand once it runs (rpc-replicas), and null when it ends. */
  onFault?(set: FaultSetter | null): void;
  /** Every datagram's fate, for the packet ladder (only when someone watches). */
  onPacket?: (p: LadderPacket) => void;
  /** The peer agent's control channel (network peer). */
  peer?: PeerClient;
  /** Records the trial's datagrams (pcapng); the caller closes it. */
  capture?: Capture;
  /** Teaching mode: pause, step, pace and inspect a simulator trial. */
  control?: SimControl;
  /** Set by a trial on sockets: performance.now() at its start (the kind's events count from it). */
  startMs?: number;
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

/**
 * Teaching mode's account of each step: the hosts by their role, sequence numbers from 0 (each
 * host's counted from the initial sequence number of its SYN or SYN-ACK, as Wireshark shows them).
 */
class StepNarrator {
  private readonly header = newHeader();
  /** Each host's initial sequence number, once its SYN (or SYN-ACK) was seen. */
  private readonly isn = new Map<number, number>();

  constructor(private readonly names: readonly string[]) {}

  private name(host: number): string {
    return this.names[host] ?? `host ${host}`;
  }

  /** `seq` counted from `host`'s initial sequence number, when known. */
  private rel(host: number, seq: number): number {
    const base = this.isn.get(host);
    return base === undefined ? seq >>> 0 : (seq - base) >>> 0;
  }

  describe(e: SimStep): string {
    if (e.kind === 'timer') return `${this.name(e.host)}: timer fired`;
    const h = this.header;
    let what = `${e.bytes.length}-byte datagram`;
    if (parseInto(e.bytes, e.bytes.length, h) === null) {
      if ((h.type === PacketType.SYN || h.type === PacketType.SYN_ACK) && !this.isn.has(e.from)) this.isn.set(e.from, h.seq >>> 0);
      what = `${PACKET_TYPE_NAMES[h.type] ?? 'packet'} seq ${this.rel(e.from, h.seq)}${(h.flags & Flag.ACK) !== 0 ? ` ack ${this.rel(e.to, h.ack)}` : ''}`;
    }
    return e.kind === 'send' ? `${this.name(e.from)} sends ${what} to ${this.name(e.to)}` : `${this.name(e.to)} receives ${what} from ${this.name(e.from)}`;
  }
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

// Transport knobs the receiving end uses too (they travel in the SYN at the start).
const RECEIVER_KNOBS = new Set<string>(RECEIVER_TRANSPORT_KNOBS);

/** What an action on a datagram did, in words: "dropped", "delayed by 30 ms". */
function manualText(action: string, delayMs: number): string {
  return action === 'drop' ? 'dropped' : action === 'corrupt' ? 'corrupted' : action === 'duplicate' ? 'duplicated' : `delayed by ${delayMs} ms`;
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
  const w = WORKLOADS[kind].sim(c, wrap, kernelDrops);
  const { sim, parts } = w;
  if (ctx.capture !== undefined) captureSimLinks(ctx.capture, w.capture.forward, w.capture.reverse, w.capture.reverseCarries);
  if (ctx.onPacket !== undefined) {
    if (parts.forward !== null) addTracer(parts.forward, new LadderTracer('forward', 0, ctx.onPacket));
    if (parts.reverse !== null) addTracer(parts.reverse, new LadderTracer('reverse', 0, ctx.onPacket));
  }
  // Samples and the schedule are tickers: they happen at exact virtual times, so a replay matches.
  let nextSample = c.intervalMs;
  let lastSample = 0;
  sim.addTicker({
    pollTimeout: () => (w.done() ? null : nextSample),
    handleTimeout: (now) => {
      drainKindEvents();
      ctx.onSample(w.sample(now));
      lastSample = now;
      nextSample = now + c.intervalMs;
    },
  });
  const steps = [...ctx.schedule].sort((a, b) => a.atS - b.atS);
  let stepIndex = 0;
  const pendingSets: Promise<void>[] = [];
  const drainKindEvents = () => {
    for (const e of w.events?.() ?? []) ctx.onEvent(kindEvent(e));
  };
  const fault: FaultSetter = (f) => {
    const why = applyFault(parts, kind, f, c.workload.crashMemory);
    // A kind with replicas writes its own event of a refused fault; one without has none to write.
    if (why !== null && parts.fault === undefined) ctx.onEvent({ timeS: sim.now / 1000, kind: 'error', knob: `replica${f.replica}`, after: f.action, detail: why });
    drainKindEvents();
    return { error: why, timeS: sim.now / 1000 };
  };
  ctx.onFault?.(fault);
  const applyStep = (now: number, step: ScheduleStep) => {
    if (step.fault !== undefined) fault(step.fault, 'schedule');
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
    pollTimeout: () => (stepIndex < steps.length && !w.done() ? steps[stepIndex]!.atS * 1000 : null),
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
  // Changes made by hand in an earlier run replay by the datagram's index (Link.actWhenSent), and
  // each is logged when its datagram is offered, as the change by hand was.
  const notes = new Map<string, string>();
  for (const step of ctx.schedule) {
    if (step.packet === undefined) continue;
    const { direction, index, duplicate, action, delayMs } = step.packet;
    const link = direction === 'forward' ? parts.forward : parts.reverse;
    if (link === null) continue;
    link.actWhenSent(index, duplicate, action, delayMs ?? 0);
    notes.set(`${direction}|${index}|${duplicate}`, step.note ?? 'schedule');
    link.onPlannedDone ??= (now, i, dup, a, ms) => {
      ctx.onEvent({ timeS: now / 1000, kind: 'packet', knob: `${direction}.datagram`, after: i, detail: `${manualText(a, ms)}${dup ? ' (the duplicate copy)' : ''}: ${notes.get(`${direction}|${i}|${dup}`) ?? 'schedule'}` });
    };
  }
  const control = ctx.control;
  const narrator = new StepNarrator(w.hostNames);
  const linkOf = (d: 'forward' | 'reverse') => (d === 'forward' ? parts.forward : parts.reverse);
  control?.attach({
    timeS: () => sim.now / 1000,
    state: () => simState(sim, parts, kind, w.sender, w.receiver),
    act: (direction, index, duplicate, action, delayMs) => {
      const link = linkOf(direction);
      if (link === null || !link.act(index, duplicate, action, delayMs)) return `no ${direction} datagram #${index}${duplicate ? ' (duplicate)' : ''} is in flight`;
      ctx.onEvent({ timeS: sim.now / 1000, kind: 'packet', knob: `${direction}.datagram`, after: index, detail: `${manualText(action, delayMs ?? 0)} by hand${duplicate ? ' (the duplicate copy)' : ''}` });
      return null;
    },
  });
  ctx.onEvent({ timeS: 0, kind: 'trial-start' });
  w.start();
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
            ctx.onEvent({ timeS: e.now / 1000, kind: 'step', detail: narrator.describe(e) });
          } else await control.wait();
          why = 'max-events';
        } else {
          const target = control.virtualTarget(sim.now);
          why = sim.run({ untilMs: Math.min(target, c.timeLimitMs), stop: w.done, maxEvents: sim.events + SIM_SLICE_EVENTS });
          if (why === 'time' && target < c.timeLimitMs) why = 'max-events';
          await new Promise<void>((r) => setTimeout(r, 15));
        }
        if (w.done() || sim.now >= c.timeLimitMs) why = w.done() ? 'stopped' : 'time';
      } else {
        why = sim.run({ untilMs: c.timeLimitMs, stop: w.done, maxEvents: sim.events + SIM_SLICE_EVENTS });
      }
      if (pendingSets.length > 0) await Promise.all(pendingSets.splice(0));
      // Stamped when the handshake ended, which may lie anywhere in the slice just run.
      if (!wasConnected && !Number.isNaN(w.connectedAtMs())) {
        wasConnected = true;
        ctx.onEvent({ timeS: w.connectedAtMs() / 1000, kind: 'connected' });
      }
      if ((why !== 'max-events' && !(control?.paused ?? false)) || ctx.signal.aborted) break;
      if (w.done()) break;
      // Yield so that live changes and a stop get in between slices.
      if (control === undefined || (!control.paused && !Number.isFinite(control.speed))) await new Promise<void>((r) => setImmediate(r));
    }
  } finally {
    ctx.onLive(null);
    ctx.onFault?.(null);
    control?.attach(null);
  }
  const end = sim.now;
  drainKindEvents();
  if (end > lastSample || lastSample === 0) ctx.onSample(w.sample(end));
  const out = w.finish(why, ctx.signal.aborted);
  ctx.onEvent({ timeS: end / 1000, kind: 'trial-end', detail: out.failure === null ? out.status : `${out.status}: ${out.failure}` });
  return out;
}

async function runUdpTrial(ctx: TrialContext): Promise<TrialOutcome> {
  const c = ctx.config;
  const current: Record<string, KnobValue> = {};
  const startMs = performance.now();
  const nowS = () => (performance.now() - startMs) / 1000;
  ctx.startMs = startMs;
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
    const fault: FaultSetter = (f) => {
      const why = applyFault(p, p.kind, f, c.workload.crashMemory);
      if (why !== null && p.fault === undefined) ctx.onEvent({ timeS: nowS(), kind: 'error', knob: `replica${f.replica}`, after: f.action, detail: why });
      return { error: why, timeS: nowS() };
    };
    for (const step of ctx.schedule) {
      timers.push(
        setTimeout(() => {
          for (const [path, value] of Object.entries(step.set)) if (value !== undefined) void apply(path, value, step.note ?? 'schedule');
          if (step.fault !== undefined) fault(step.fault, 'schedule');
        }, step.atS * 1000),
      );
    }
    ctx.onLive((path, value, source) => apply(path, value, source));
    ctx.onFault?.(fault);
    ctx.onEvent({ timeS: nowS(), kind: 'connected' });
  };
  ctx.onEvent({ timeS: 0, kind: 'trial-start' });
  let out: TrialOutcome | null = null;
  try {
    out = ctx.network.kind === 'peer' ? await runPeerWorkload(ctx, live) : await runSocketWorkload(ctx, live, null, ctx.signal);
    return out;
  } finally {
    for (const t of timers) clearTimeout(t);
    ctx.onLive(null);
    ctx.onFault?.(null);
    void parts;
    ctx.onEvent({ timeS: nowS(), kind: 'trial-end', detail: out === null ? 'error' : out.failure === null ? out.status : `${out.status}: ${out.failure}` });
  }
}

/** A trial of the kind on sockets: to a far end started here, or to a peer agent's. */
function runSocketWorkload(ctx: TrialContext, live: (p: LiveParts) => void, far: SocketRun['far'], signal: AbortSignal, remote?: ReceivingEnd): Promise<TrialOutcome> {
  const c = ctx.config;
  const w = WORKLOADS[c.workload.kind];
  if (w.sockets === undefined) throw new Error(`the ${w.kind} workload runs in the simulator only`);
  return w.sockets(c, { onSample: (row) => ctx.onSample(row), live, far, signal, capture: ctx.capture, remote, onEvent: (e) => ctx.onEvent(kindEvent(e)), startMs: ctx.startMs });
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
  const kind = WORKLOADS[c.workload.kind];
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
    if (kind.peer === undefined) throw new Error(`the ${kind.kind} workload cannot run against a peer agent`);
    const { service, port } = await kind.peer.start(peer, c, lifetimeMs);
    ctx.onEvent({ timeS: 0, kind: 'connected', detail: `peer ${net.host}:${net.port} serves the trial on port ${port}` });
    if (kind.peer.pollsReceiver) poller = new AgentStatsPoller(peer, service, c.intervalMs);
    const out = await runSocketWorkload(ctx, live, { host: net.host, port }, stop.signal, poller ?? undefined);
    if (lost !== null) throw new PeerLost(lost);
    // What only the agent has beyond the run's own summary (whose receiver counters it asked for
    // after a transfer): the kernel drops of the listening socket, an RPC server's counters.
    const stats = await peer.stop(service).catch((e: Error) => {
      if (lost !== null) throw new PeerLost(lost);
      throw e;
    });
    kind.peer.merge(stats, out.scalars);
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

/** Counters as numbers (see orNaN). */
function numbers(counters: Record<string, number | null>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [k, v] of Object.entries(counters)) out[k] = orNaN(v);
  return out;
}

