// The replicated service on loopback: the lab binder in this process, each replica a process of
// its own (net/rpc/replica-main.ts), and the same client as in the simulator
// (ReplicatedWorkloadClient) on a real UDP socket. A crash is SIGKILL of the replica's process (its
// memory is lost with it); a restart starts it again on the same port, where its registration
// with the binder still stands. With primary-backup the view service (core/rpc/replicas/
// view-service.ts) runs in this process on a socket of its own, and the replica processes ping it
// and replicate to each other over loopback as simulated replicas do; a restarted process knows no
// view and rejoins as a backup. Faults are crashes and restarts.

import { createSocket } from 'node:dgram';
import { Link } from '../../core/impair/link.js';
import { deriveSeed } from '../../core/util/rng.js';
import { faultText, type TimedFault } from '../../core/rpc/replicas/faults.js';
import { PeerTable, UdpDriver } from '../../net/udp/driver.js';
import { Coordinator } from '../../core/rpc/replicas/view-service.js';
import { pmapCall, startLabBinder } from '../../net/rpc/binder.js';
import { RpcbprogV4 } from '../../core/rpc/rpcb_prot.js';
import { CounterProgV1 } from '../../core/rpc/programs/counter.js';
import { addressesOf, parseUniversalAddress } from '../../core/rpc/replicas/directory.js';
import { ReplicaProcess } from '../../net/rpc/replica-process.js';
import type { ReplicaProcessOptions } from '../../net/rpc/replica-main.js';
import type { PeerClient } from '../../net/peer/client.js';
import { RPC_TRANSPORT, RPC_TRANSPORTS } from '../../core/rpc/transports.js';
import { IPPROTO_UDP } from '../../core/rpc/pmap.js';
import { KvProgV1 } from '../../core/rpc/programs/kv.js';
import { replicaRegistrationAt } from '../../net/rpc/binder.js';
import { ReplicatedMeter, ReplicatedWorkloadClient, replicatedSetupProblems, summarizeReplicated, type ReplicaRunEvent, type ReplicatedHooks, type ReplicatedRunView, type ReplicatedSetup, type ReplicatedStatus, type ReplicatedSummary } from './replicated.js';

/** What a replicated setup cannot do on loopback (empty when it can run there). */
export function loopbackReplicatedProblems(s: ReplicatedSetup): string[] {
  const out = replicatedSetupProblems(s);
  for (const f of s.faults) {
    const at = `fault at ${f.atMs} ms on replica ${f.replica}`;
    if (f.fault.action === 'crash' && f.fault.memory === 'kept') out.push(`${at}: on loopback a crash kills the process (SIGKILL), so its memory is lost: memory kept runs in the simulator only`);
    if (f.fault.action !== 'crash' && f.fault.action !== 'restart') out.push(`${at}: on loopback the faults are crash (SIGKILL) and restart; ${f.fault.action} runs in the simulator only`);
  }
  return out;
}

/** What a running loopback run hands out: failures by hand, its links, a kick after a change. */
export interface LoopbackLive {
  /** Crashes or restarts a replica now; null or why it does not apply. */
  fault(f: Omit<TimedFault, 'atMs'>): string | null;
  forward: Link;
  reverse: Link;
  kick(): void;
}

/** One replica as a run on sockets drives it: a process on loopback, or a service of a peer agent. */
export interface RunReplica {
  readonly host: string;
  port: number;
  state: 'starting' | 'up' | 'crashed';
  readonly callsServed: number;
  readonly replicationMessages: number;
  readonly counter: string;
  /** What a crash and a restart are, for events.csv. */
  readonly crashText: string;
  readonly restartText: string;
  /** Starts it (on `port`, 0: any) and resolves with its port once it serves. */
  start(port: number, extra: Partial<ReplicaProcessOptions>): Promise<number>;
  /** Crashes it: its memory is lost. */
  kill(): void;
  /** Stops it for good. */
  stop(): Promise<void>;
}

/**
 * A replica served by a peer agent (`packetlab peer`): an RPC service of the counter and key-value
 * programs on the agent's host. A crash stops the service (the agent runs on), a restart starts
 * one again on the same UDP port. Its load is the agent's count of the calls it received.
 */
export class PeerReplica implements RunReplica {
  readonly crashText = 'crash (the agent stops its replica: memory lost)';
  readonly restartText = 'restart (the agent serves it again on its port)';
  port = 0;
  state: 'starting' | 'up' | 'crashed' = 'starting';
  private service = -1;
  private servedBefore = 0;
  private served = 0;
  private lastCounter = '0';
  private poll: NodeJS.Timeout | null = null;

  constructor(
    private readonly peer: PeerClient,
    private readonly o: { drc: boolean; lifetimeMs: number; seed: number },
  ) {}

  get host(): string {
    return this.peer.host;
  }

  get callsServed(): number {
    return this.servedBefore + this.served;
  }

  get replicationMessages(): number {
    return 0;
  }

  get counter(): string {
    return this.lastCounter;
  }

  async start(port: number): Promise<number> {
    this.state = 'starting';
    const datagrams = RPC_TRANSPORTS.filter((t) => RPC_TRANSPORT[t].protocol === IPPROTO_UDP);
    const r = await this.peer.startRpcServer({ transports: datagrams, drc: { enabled: this.o.drc }, lifetimeMs: this.o.lifetimeMs, seed: this.o.seed, ...(port > 0 ? { ports: Object.fromEntries(datagrams.map((t) => [t, port])) } : {}) });
    this.service = r.service;
    this.port = r.ports[datagrams[0]!]!;
    this.servedBefore += this.served;
    this.served = 0;
    this.state = 'up';
    const service = this.service;
    this.poll = setInterval(() => {
      this.peer.stats(service).then(
        (st) => {
          if (st.kind === 'rpc' && this.service === service) {
            this.served = st.server.calls ?? this.served;
            this.lastCounter = st.counter.value;
          }
        },
        () => {},
      );
    }, 100);
    return this.port;
  }

  kill(): void {
    if (this.poll !== null) clearInterval(this.poll);
    this.poll = null;
    const service = this.service;
    this.service = -1;
    this.state = 'crashed';
    void this.peer.stop(service).then(
      (st) => {
        if (st.kind === 'rpc') this.served = st.server.calls ?? this.served;
      },
      () => {},
    );
  }

  async stop(): Promise<void> {
    if (this.poll !== null) clearInterval(this.poll);
    this.poll = null;
    if (this.service >= 0) await this.peer.stop(this.service).catch(() => null);
    this.service = -1;
  }
}

/** Options of a run on loopback beside its hooks. */
export interface LoopbackOptions extends ReplicatedHooks {
  signal?: AbortSignal;
  /** Called once calls start, with what can change the run live. */
  onStart?(live: LoopbackLive): void;
  /** performance.now() the run's times count from (default: when calls start). */
  startMs?: number;
  /**
   * Replicas on peer agents, one each (their control channels, connected): instead of processes on
   * loopback. Their addresses are registered with the run's binder; crashes stop the agent's
   * service and restarts start it again on its port. No primary-backup there.
   */
  agents?: readonly PeerClient[];
}

/** Runs a replicated workload on loopback; resolves with its summary. Aborting `signal` stops it. */
export async function runLoopbackReplicated(s: ReplicatedSetup, hooks: LoopbackOptions = {}): Promise<ReplicatedSummary> {
  const problems = loopbackReplicatedProblems(s);
  if (problems.length > 0) throw new RangeError(`replicated RPC setup: ${problems.join('; ')}`);
  const agents = hooks.agents ?? null;
  if (agents !== null && agents.length !== s.replicas) throw new RangeError(`replicated RPC setup: ${s.replicas} replicas need ${s.replicas} peer agents, one each (got ${agents.length})`);
  if (agents !== null && s.replication !== 'none') throw new RangeError("replicated RPC setup: on peer agents the replicas are the agents' RPC services, without replication between them: primary-backup runs in the simulator and on loopback");
  const binder = await startLabBinder('127.0.0.1', 0);
  const replicas: RunReplica[] =
    agents === null
      ? Array.from({ length: s.replicas }, (_, index) => new ReplicaProcess({ index, binderPort: binder.port, drc: s.drc }))
      : agents.map((a, index) => new PeerReplica(a, { drc: s.drc, lifetimeMs: s.timeLimitMs + 30_000, seed: deriveSeed(s.seed, `replica${index}`) }));
  const socket = createSocket('udp4');
  let driver: UdpDriver | null = null;
  const timers: NodeJS.Timeout[] = [];
  const vs = s.replication === 'primary-backup' ? await startViewService(s) : null;
  try {
    // One after another, so that the binder lists them in their order (replica 1 first).
    for (let i = 0; i < replicas.length; i++) {
      const r = replicas[i]!;
      await r.start(vs?.ports[i] ?? 0, vs?.options(false) ?? {});
      // A process registers itself; a peer agent's service is registered here, as its client knows it.
      if (agents !== null) for (const p of [CounterProgV1, KvProgV1]) binder.directory.set(replicaRegistrationAt(p.program, p.version, r.host, r.port, `replica${i + 1}`));
    }
    vs?.start();
    await new Promise<void>((resolve, reject) => {
      socket.once('error', reject);
      // Loopback replicas are reached from 127.0.0.1; agents from the address that routes to them.
      socket.bind(0, agents === null ? '127.0.0.1' : '0.0.0.0', () => resolve());
    });
    const peers = new PeerTable();
    const app = new ReplicatedWorkloadClient(s, peers.idOf('127.0.0.1', binder.port));
    const startMs = hooks.startMs ?? performance.now();
    const clock = () => performance.now() - startMs;
    let finish: (status: ReplicatedStatus, why: string | null) => void = () => {};
    const finished = new Promise<{ status: ReplicatedStatus; why: string | null }>((resolve) => {
      finish = (status, why) => resolve({ status, why });
    });
    driver = new UdpDriver({
      socket,
      endpoint: app,
      peers,
      egress: new Link(s.forward, deriveSeed(s.seed, 'forward')),
      ingress: new Link(s.reverse, deriveSeed(s.seed, 'reverse')),
      clock,
      onProgress: () => {
        if (app.done) finish(app.phase === 'done' ? 'complete' : 'failed', app.failure);
      },
    });
    const emit = (e: ReplicaRunEvent) => hooks.onEvent?.(e);
    const view: ReplicatedRunView = {
      app,
      replicas: s.replicas,
      callsServed: (i) => replicas[i]!.callsServed,
      states: () => replicas.map((r) => (r.state === 'starting' ? 'restarting' : r.state)),
      counterValues: () => replicas.map((r) => r.counter),
      replicationMessages: () => (vs === null ? 0 : vs.coordinator.messagesSent + replicas.reduce((a, r) => a + r.replicationMessages, 0)),
      duplicateExecutions: () => Number.NaN,
      crossReplicaDuplicates: () => Number.NaN,
      now: clock,
      events: () => Number.NaN,
    };
    /** A crash (SIGKILL) or a restart (a new process on its port) now; null or why not. */
    const applyFault = (f: Omit<TimedFault, 'atMs'>): string | null => {
      const subject = `replica${f.replica}`;
      const r = replicas[f.replica - 1];
      const now = clock();
      const refuse = (why: string) => {
        emit({ atMs: now, kind: 'error', subject, before: '', after: '', detail: `${faultText(f.fault)} refused: ${why}` });
        return `replica ${f.replica}: ${faultText(f.fault)} does not apply: ${why}`;
      };
      if (r === undefined) return refuse(`there is no replica ${f.replica} (replicas are numbered 1 to ${s.replicas})`);
      if ((f.fault.action === 'crash' && f.fault.memory === 'kept') || (f.fault.action !== 'crash' && f.fault.action !== 'restart')) return refuse('on loopback the faults are crash (SIGKILL, memory lost) and restart');
      const before = view.states()[f.replica - 1]!;
      if (f.fault.action === 'crash') {
        if (r.state === 'crashed') return refuse('it is crashed already');
        r.kill();
        app.noteFault(now, true);
        emit({ atMs: now, kind: 'fault', subject, before, after: 'crashed', detail: r.crashText });
        return null;
      }
      if (r.state !== 'crashed') return refuse(`it is ${before}, not crashed`);
      app.noteFault(now, false);
      emit({ atMs: now, kind: 'fault', subject, before, after: 'restarting', detail: r.restartText });
      const go = () =>
        r.start(r.port, vs?.options(true) ?? {}).then(
          () => {
            emit({ atMs: clock(), kind: 'replica', subject, before: '', after: 'up', detail: `restarted: answering again on port ${r.port}` });
            driver?.kick();
          },
          (e: unknown) => emit({ atMs: clock(), kind: 'error', subject, before: '', after: '', detail: (e as Error).message }),
        );
      if (s.restartDelayMs > 0) timers.push(setTimeout(go, s.restartDelayMs));
      else void go();
      return null;
    };
    for (const f of s.faults) timers.push(setTimeout(() => applyFault(f), Math.max(0, f.atMs - clock())));
    // The view service's changes of view, as events (read at each sample and at the end).
    const viewEvents = () => {
      for (let v = vs?.coordinator.pollViewChange() ?? null; v !== null; v = vs!.coordinator.pollViewChange()) {
        emit({ atMs: v.atMs + vs!.originMs - startMs, kind: 'view', subject: 'view', before: '', after: `${v.view.viewnum}: primary replica${v.view.primary + 1}`, detail: v.why });
      }
    };
    const meter = new ReplicatedMeter(view);
    if (hooks.onSample !== undefined) {
      const onSample = hooks.onSample;
      timers.push(
        setInterval(() => {
          viewEvents();
          onSample(meter.sample(clock()));
        }, s.intervalMs),
      );
    } else if (vs !== null) {
      timers.push(setInterval(viewEvents, s.intervalMs));
    }
    timers.push(setTimeout(() => finish('timeout', `did not finish within ${s.timeLimitMs} ms`), s.timeLimitMs));
    // A duration ends the calls even when no datagram or timer wakes the driver.
    if (s.durationMs > 0) timers.push(setTimeout(() => driver?.kick(), s.durationMs + 1));
    const onAbort = () => finish('stopped', 'stopped by the user');
    hooks.signal?.addEventListener('abort', onAbort);
    // The replica list, over TCP: the binder refuses a UDP reply over three times its call.
    const list = await pmapCall('127.0.0.1', binder.port, RpcbprogV4.procedures.RPCBPROC_GETADDRLIST, { r_prog: CounterProgV1.program, r_vers: CounterProgV1.version, r_netid: 'udp', r_addr: '', r_owner: '' }, undefined, 'tcp');
    const ids = addressesOf(list).flatMap((a) => {
      const ua = parseUniversalAddress(a);
      return ua === null ? [] : [peers.idOf(ua.host, ua.port)];
    });
    if (ids.length !== s.replicas) throw new Error(`the binder lists ${ids.length} replicas, not the ${s.replicas} started`);
    driver.start();
    app.startWithReplicas(clock(), ids);
    driver.kick();
    const d = driver;
    hooks.onStart?.({ fault: applyFault, forward: d.egress, reverse: d.ingress!, kick: () => d.kick() });
    const { status, why } = await finished;
    hooks.signal?.removeEventListener('abort', onAbort);
    for (const t of timers) clearTimeout(t);
    viewEvents();
    if (hooks.onSample !== undefined) hooks.onSample(meter.sample(clock()));
    return summarizeReplicated(s, view, status, why);
  } finally {
    for (const t of timers) clearTimeout(t);
    driver?.stop();
    socket.close();
    await Promise.all(replicas.map((r) => r.stop()));
    vs?.close();
    await binder.close();
  }
}

/** The view service of a primary-backup run on loopback: its socket, the replicas' ports, and how to start them. */
interface LoopbackViewService {
  coordinator: Coordinator;
  /** The replicas' ports, chosen before they start so that each knows the others'. */
  ports: number[];
  /** performance.now() its clock counts from. */
  originMs: number;
  /** A replica's primary-backup options (a restarted one knows no view). */
  options(restarted: boolean): { primaryBackup: { replicaPorts: number[]; viewServicePort: number; replicateDrc: boolean; pingIntervalMs: number; restarted: boolean } };
  /** Starts serving, once the replicas run: its clock starts then, so none is dead for being slow to start. */
  start(): void;
  close(): void;
}

async function startViewService(s: ReplicatedSetup): Promise<LoopbackViewService> {
  const bind = async (port: number) => {
    const sock = createSocket('udp4');
    await new Promise<void>((resolve, reject) => {
      sock.once('error', reject);
      sock.bind(port, '127.0.0.1', () => resolve());
    });
    return sock;
  };
  // Free ports for the replicas: bound and let go at once (on loopback nothing else takes them between).
  const ports: number[] = [];
  for (let i = 0; i < s.replicas; i++) {
    const t = await bind(0);
    ports.push(t.address().port);
    t.close();
  }
  const socket = await bind(0);
  const peers = new PeerTable();
  for (const p of ports) peers.idOf('127.0.0.1', p);
  const pingIntervalMs = Math.max(1, s.detectionMs / 5);
  const coordinator = new Coordinator({ replicas: ports.map((_, i) => i), viewService: true, deadMs: s.detectionMs, pingIntervalMs, programs: [] });
  let originMs = performance.now();
  const driver = new UdpDriver({ socket, endpoint: coordinator, peers, clock: () => performance.now() - originMs });
  const vs: LoopbackViewService = {
    coordinator,
    ports,
    originMs,
    options: (restarted) => ({ primaryBackup: { replicaPorts: ports, viewServicePort: socket.address().port, replicateDrc: s.replicateDrc, pingIntervalMs, restarted } }),
    start: () => {
      originMs = performance.now();
      vs.originMs = originMs;
      driver.start();
      driver.kick();
    },
    close: () => {
      driver.stop();
      socket.close();
    },
  };
  return vs;
}
