// The peer agent: `packetlab peer` runs it on the far machine of LAN experiments. Clients connect
// to its TCP control port, prove the shared token (protocol.ts), and ask for services: a packetlab
// listener, an RPC server with the counter program, a UDP echo. Everything a client asks for is
// checked against the agent's caps; every service belongs to the control connection that started
// it and stops with it, so a client that crashes, hangs or loses the network leaves nothing
// running. Rejected connections and frames are logged with the remote address: the first of an
// address and reason at once, the ones that follow as one line a second at most.

import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { createServer, type Server, type Socket } from 'node:net';
import { packetlabVersion } from './version.js';
import { AgentChannel, tokenProblem, refusalLine, type ChannelError } from '../../core/peer/protocol.js';
import { RPC_TRANSPORTS } from '../../core/rpc/transports.js';
import { PeerCapsSchema, formatIssues, type AgentMessage, type DrcRequest, type PeerCaps, type Request, type ServiceStats } from '../../core/peer/messages.js';
import { DEFAULT_PEER_CAPS, DEFAULT_AGENT_LISTENER_GUARDS, CAP_FLAGS, checkDrcRequest, checkEchoRequest, checkListenerRequest, checkRpcRequest, type AgentListenerGuards } from '../../core/peer/caps.js';
import { BeaconSender } from './beacon.js';
import { addressPort, startEchoService, startListenerService, startRpcService, RPC_SERVICE_PROGRAM, type AgentService, type ServiceEventBody } from './services.js';
import { plainAddress } from '../../core/util/address.js';
import { RefusalDigest, periodText, type RefusalLine } from '../../core/util/refusal-digest.js';

/** One line of the agent's log. */
export interface PeerLogEntry {
  level: 'info' | 'warn';
  /** The client's address (IP:port; the IP alone on a line that summarises several connections), or null for the agent's own messages. */
  remote: string | null;
  message: string;
}

/** How an agent runs. */
export interface PeerAgentOptions {
  /** Address of the control port and the services (default 127.0.0.1: this machine only). */
  host?: string;
  /** TCP control port (0 picks a free one). */
  port: number;
  /** The shared secret (at least MIN_TOKEN_CHARS characters). */
  token: string;
  /** Caps; unset ones keep DEFAULT_PEER_CAPS. */
  caps?: Partial<PeerCaps>;
  log?: (e: PeerLogEntry) => void;
  /** Name in beacons and the welcome (default: the host name). */
  name?: string;
  /** Beacon settings, or false for none (default: every 2 s to port 9877). */
  beacon?: false | { port?: number; intervalMs?: number };
  /** A client that sends nothing for this long is gone: its services stop (default 6000; clients ping every second). */
  clientSilenceMs?: number;
  /** A connection that has not authenticated after this long is closed (default 5000). */
  handshakeTimeoutMs?: number;
  /** Timeouts and report floor of the listeners the agent runs; unset ones keep DEFAULT_AGENT_LISTENER_GUARDS. */
  listenerGuards?: Partial<AgentListenerGuards>;
}

/** A running agent. */
export interface PeerAgent {
  /** The bound address and control port. */
  readonly host: string;
  readonly port: number;
  readonly name: string;
  readonly caps: Readonly<PeerCaps>;
  /** Timeouts and report floor of its listeners. */
  readonly listenerGuards: Readonly<AgentListenerGuards>;
  /** The announcer, or null when beacons are off or there is nowhere to broadcast. */
  readonly beacon: BeaconSender | null;
  /** Authenticated clients now, with their running services. */
  clients(): { remote: string; name: string; services: number }[];
  /** Stops every service, closes every connection and the control port. */
  close(): Promise<void>;
}

/** The control port `packetlab peer` listens on unless told otherwise. */
export const DEFAULT_PEER_PORT = 7600;

/** Connections at once that have not authenticated yet (more are closed at once). */
const MAX_PENDING_CONNECTIONS = 16;
/**
 * Of those, from one address: a host that opens connections and never authenticates (renewing
 * them as they time out) must not hold every place and lock out the rest of the lab.
 */
const MAX_PENDING_PER_ADDRESS = 4;
/** Control output a client may leave unread before the agent gives up on it. */
const MAX_UNREAD_BYTES = 4 * 1024 * 1024;
/** Ended services whose final counters stay readable (stats, stop) per client. */
const ENDED_SERVICES_KEPT = 16;
/** The longest timer node can arm. */
const MAX_TIMER_MS = 2 ** 31 - 1;

/** A service as the agent holds it (RPC services can change their cache while they run). */
type RunningService = AgentService & { configureDrc?: (d: DrcRequest) => void };

/** An error whose message goes back to the client as the result of its request. */
class RequestRefused extends Error {}

/** Starts an agent; rejects with a clear message when the port cannot be bound. Throws on a bad token or caps (misuse). */
export async function startPeerAgent(o: PeerAgentOptions): Promise<PeerAgent> {
  const problem = tokenProblem(o.token);
  if (problem !== null) throw new RangeError(problem);
  const capsParsed = PeerCapsSchema.safeParse({ ...DEFAULT_PEER_CAPS, ...o.caps });
  if (!capsParsed.success) throw new RangeError(`peer agent caps: ${formatIssues(capsParsed.error)}`);
  const caps = capsParsed.data;
  const guards: AgentListenerGuards = { ...DEFAULT_AGENT_LISTENER_GUARDS, ...o.listenerGuards };
  for (const [k, v] of Object.entries(guards)) if (!(typeof v === 'number' && v > 0 && Number.isFinite(v))) throw new RangeError(`peer agent listener guards: ${k} must be a positive number of ms (got ${String(v)})`);
  const host = o.host ?? '127.0.0.1';
  const name = o.name ?? hostname();
  const version = packetlabVersion();
  const software = `packetlab ${version}`;
  const log = o.log ?? (() => {});
  const silenceMs = o.clientSilenceMs ?? 6000;
  const handshakeMs = o.handshakeTimeoutMs ?? 5000;
  const connections = new Set<ControlConnection>();
  let nextServiceId = 1;
  let closing = false;

  // A host that opens connections in a loop (a wrong token, garbage, or just more than the agent
  // takes) would write a warning per connection; they are summarised per address and reason.
  const rejections = new RefusalDigest();
  let rejectionTimer: NodeJS.Timeout | null = null;
  const logRejection = (l: RefusalLine) => {
    if (l.count === 1 && l.peer !== null) log({ level: 'warn', remote: l.peer, message: l.reason });
    else log({ level: 'warn', remote: l.address, message: `${l.count.toLocaleString('en-US')} connection${l.count === 1 ? '' : 's'} in the last ${periodText(l.periodMs)}: ${l.reason}` });
  };
  const drainRejections = () => {
    const now = performance.now();
    for (let l = rejections.pollLine(now); l !== null; l = rejections.pollLine(now)) logRejection(l);
    if (rejectionTimer !== null) clearTimeout(rejectionTimer);
    rejectionTimer = null;
    const due = rejections.pollTimeout();
    if (due !== null && !closing) {
      rejectionTimer = setTimeout(drainRejections, Math.max(0, due - now));
      rejectionTimer.unref();
    }
  };
  /** Logs a connection turned away (`remote` its IP:port), summarised per address and message. */
  const rejected = (remote: string, address: string, message: string) => {
    rejections.note(performance.now(), plainAddress(address), remote, message);
    drainRejections();
  };

  const server: Server = createServer((socket) => {
    const remote = addressPort(socket.remoteAddress ?? '?', socket.remotePort ?? 0);
    if (closing) {
      socket.destroy();
      return;
    }
    const ip = plainAddress(socket.remoteAddress ?? '');
    const pendingFromIp = [...connections].filter((c) => !c.authenticated && c.clientIp === ip).length;
    if (pendingFromIp >= MAX_PENDING_PER_ADDRESS) {
      rejected(remote, socket.remoteAddress ?? '?', `refused: ${MAX_PENDING_PER_ADDRESS} connections from this address are already authenticating`);
      socket.end(refusalLine('busy', 'too many connections from this address are authenticating; try again'));
      setTimeout(() => socket.destroy(), 1000).unref();
      return;
    }
    const pending = [...connections].filter((c) => !c.authenticated).length;
    if (pending >= MAX_PENDING_CONNECTIONS) {
      rejected(remote, socket.remoteAddress ?? '?', `refused: ${MAX_PENDING_CONNECTIONS} connections are already authenticating`);
      socket.end(refusalLine('busy', 'too many connections are authenticating; try again'));
      setTimeout(() => socket.destroy(), 1000).unref();
      return;
    }
    const authenticated = [...connections].filter((c) => c.authenticated).length;
    const conn = new ControlConnection(socket, remote);
    connections.add(conn);
    if (authenticated >= caps.maxClients) {
      rejected(remote, conn.clientIp, `refused: the agent already serves ${caps.maxClients} clients (${CAP_FLAGS.maxClients})`);
      conn.channel.refuse('busy', `the agent already serves ${caps.maxClients} clients`);
      conn.flush();
      conn.close(null);
    }
  });

  class ControlConnection {
    readonly channel: AgentChannel;
    readonly clientIp: string;
    authenticated = false;
    name = '';
    private closed = false;
    private lastHeardMs = performance.now();
    private readonly services = new Map<number, RunningService>();
    private readonly ended = new Map<number, ServiceStats>();
    private readonly lifetimes = new Map<number, NodeJS.Timeout>();
    private starting = 0;
    /** Resolves when the services of a closed connection have stopped. */
    stopping: Promise<void> = Promise.resolve();
    private readonly handshakeTimer: NodeJS.Timeout;
    private silenceTimer: NodeJS.Timeout | null = null;

    constructor(
      private readonly socket: Socket,
      readonly remote: string,
    ) {
      this.clientIp = plainAddress(socket.remoteAddress ?? '');
      this.channel = new AgentChannel({ token: o.token, nonce: randomBytes(32), software, welcome: { name, software, caps } });
      socket.setNoDelay(true);
      socket.on('data', (chunk: Buffer) => {
        if (this.closed) return;
        this.lastHeardMs = performance.now();
        this.channel.handleBytes(chunk);
        this.pump();
      });
      socket.on('error', (err: NodeJS.ErrnoException) => this.close(err.code === 'ECONNRESET' ? 'connection reset' : `connection error: ${err.message}`));
      socket.on('close', () => this.close('connection closed'));
      this.handshakeTimer = setTimeout(() => {
        if (!this.authenticated && !this.closed) {
          rejected(this.remote, this.clientIp, `closed: no authentication within ${handshakeMs / 1000} s`);
          this.close(null);
        }
      }, handshakeMs);
    }

    /** Writes what the channel has queued. */
    flush(): void {
      if (this.socket.destroyed) return;
      for (let line = this.channel.pollTransmit(); line !== null; line = this.channel.pollTransmit()) this.socket.write(line);
      if (this.socket.writableLength > MAX_UNREAD_BYTES) {
        log({ level: 'warn', remote: this.remote, message: `closed: the client left ${this.socket.writableLength} bytes of replies unread` });
        this.close(null);
      }
    }

    private pump(): void {
      this.flush();
      for (let e = this.channel.pollEvent(); e !== null; e = this.channel.pollEvent()) {
        if (e.type === 'established') this.onAuthenticated(e.hello.name);
        else if (e.type === 'message') void this.handle(e.message);
        else if (e.type === 'invalid') {
          log({ level: 'warn', remote: this.remote, message: `${this.who()}: ${e.error.message}` });
          if (e.id !== null) this.send({ type: 'result', id: e.id, ok: false, error: e.error.message });
          else this.reject(e.error);
        } else this.reject(e.error);
      }
      this.flush();
    }

    private who(): string {
      return this.authenticated ? `client "${this.name}"` : 'unauthenticated client';
    }

    private reject(error: ChannelError): void {
      const what = error.code === 'bad-token' ? 'rejected: wrong token' : `rejected ${error.code} frame`;
      rejected(this.remote, this.clientIp, `${what} (${error.message}); connection closed`);
      this.flush();
      this.close(null);
    }

    private onAuthenticated(clientName: string): void {
      clearTimeout(this.handshakeTimer);
      const others = [...connections].filter((c) => c !== this && c.authenticated).length;
      if (others >= caps.maxClients) {
        // Two clients raced past the check at connection time; the later one goes.
        rejected(this.remote, this.clientIp, `refused: the agent already serves ${caps.maxClients} clients (${CAP_FLAGS.maxClients})`);
        this.close(null);
        return;
      }
      this.authenticated = true;
      this.name = clientName;
      log({ level: 'info', remote: this.remote, message: `client "${clientName}" authenticated` });
      this.silenceTimer = setInterval(() => {
        const quietMs = performance.now() - this.lastHeardMs;
        if (quietMs > silenceMs) this.close(`went silent (nothing for ${(quietMs / 1000).toFixed(1)} s)`);
      }, Math.min(1000, silenceMs / 2));
    }

    private send(msg: AgentMessage): void {
      if (this.closed || this.channel.state !== 'open') return;
      this.channel.send(msg);
      this.flush();
    }

    private async handle(req: Request): Promise<void> {
      try {
        const value = await this.execute(req);
        this.send({ type: 'result', id: req.id, ok: true, value });
      } catch (e) {
        const message = e instanceof RequestRefused ? e.message : `${req.type} failed: ${(e as Error).message}`;
        if (req.type !== 'ping') log({ level: 'warn', remote: this.remote, message: `${this.who()}: ${req.type} refused: ${message}` });
        this.send({ type: 'result', id: req.id, ok: false, error: message });
      }
    }

    private reserve(): void {
      if (this.services.size + this.starting >= caps.maxServicesPerClient) {
        throw new RequestRefused(`the client already runs ${caps.maxServicesPerClient} services, the agent's cap (packetlab peer ${CAP_FLAGS.maxServicesPerClient} raises it)`);
      }
      this.starting++;
    }

    /** Registers a started service, or stops it at once when the connection closed meanwhile (no orphans). */
    private async adopt<S extends AgentService>(service: S, lifetimeMs: number, what: string): Promise<S> {
      this.starting--;
      if (this.closed) {
        await service.stop('the control connection closed while it started');
        throw new RequestRefused('the control connection closed');
      }
      this.services.set(service.id, service);
      const timer = setTimeout(() => void this.expire(service.id, lifetimeMs), Math.min(lifetimeMs, MAX_TIMER_MS));
      timer.unref();
      this.lifetimes.set(service.id, timer);
      log({ level: 'info', remote: this.remote, message: `${this.who()}: ${what} (service ${service.id}, lifetime ${lifetimeMs / 1000} s)` });
      return service;
    }

    private async expire(id: number, lifetimeMs: number): Promise<void> {
      const s = this.services.get(id);
      if (s === undefined) return;
      const reason = `its lifetime of ${lifetimeMs / 1000} s ran out`;
      this.services.delete(id);
      this.lifetimes.delete(id);
      this.keepEnded(await s.stop(reason));
      log({ level: 'info', remote: this.remote, message: `${this.who()}: service ${id} stopped: ${reason}` });
      this.onServiceEvent(id, { name: 'service-ended', peer: null, connectionId: null, reason });
    }

    private keepEnded(stats: ServiceStats): void {
      this.ended.set(stats.service, stats);
      if (this.ended.size > ENDED_SERVICES_KEPT) this.ended.delete(this.ended.keys().next().value!);
    }

    private onServiceEvent(id: number, body: ServiceEventBody): void {
      this.send({ type: 'event', service: id, ...body });
    }

    private find(id: number): RunningService {
      const s = this.services.get(id);
      if (s === undefined) throw new RequestRefused(`no service ${id} runs for this client (services end with their lifetime or their control connection)`);
      return s;
    }

    private async execute(req: Request): Promise<Record<string, unknown>> {
      switch (req.type) {
        case 'ping':
          return {};
        case 'start-listener': {
          const { problems, limits, lifetimeMs } = checkListenerRequest(req, caps);
          if (problems.length > 0) throw new RequestRefused(problems.join('; '));
          this.reserve();
          const id = nextServiceId++;
          let s;
          try {
            s = await startListenerService({
              id,
              host,
              clientAddress: this.clientIp,
              limits,
              guards,
              transport: req.transport ?? {},
              socket: req.socket ?? {},
              seed: req.seed ?? randomBytes(4).readUInt32BE(0),
              onEvent: (e) => this.onServiceEvent(id, e),
            });
          } catch (e) {
            this.starting--;
            throw e;
          }
          await this.adopt(s, lifetimeMs, `listener on UDP port ${s.udpPort}`);
          return { service: id, udpPort: s.udpPort, limits, lifetimeMs };
        }
        case 'start-rpc': {
          const { problems, lifetimeMs, maxRecordBytes } = checkRpcRequest(req, caps);
          if (problems.length > 0) throw new RequestRefused(problems.join('; '));
          this.reserve();
          const id = nextServiceId++;
          let s;
          try {
            s = await startRpcService({
              id,
              host,
              clientAddress: this.clientIp,
              transports: req.transports,
              ports: req.ports,
              drc: req.drc,
              maxRecordBytes,
              maxSessions: caps.maxSessionsPerListener,
              maxRcvBufferBytes: caps.maxRcvBufferBytes,
              maxDurationMs: Math.min(lifetimeMs, caps.maxDurationMs),
              guards,
              transport: req.transport ?? {},
              socket: req.socket ?? {},
              seed: req.seed ?? randomBytes(4).readUInt32BE(0),
            });
          } catch (e) {
            this.starting--;
            throw e;
          }
          const p = s.ports;
          await this.adopt(s, lifetimeMs, `RPC server (${RPC_TRANSPORTS.map((t) => `${t} ${p[t] ?? '-'}`).join(', ')}, cache ${req.drc.enabled ? 'on' : 'off'})`);
          return { service: id, ports: p, program: RPC_SERVICE_PROGRAM.program, version: RPC_SERVICE_PROGRAM.version, lifetimeMs };
        }
        case 'start-echo': {
          const { problems, maxRatePacketsPerSecond, maxRateBitsPerSecond, lifetimeMs } = checkEchoRequest(req, caps);
          if (problems.length > 0) throw new RequestRefused(problems.join('; '));
          this.reserve();
          const id = nextServiceId++;
          let s;
          try {
            s = await startEchoService({ id, host, clientAddress: this.clientIp, replyBytes: req.replyBytes ?? null, maxRatePacketsPerSecond, maxRateBitsPerSecond, socket: req.socket ?? {} });
          } catch (e) {
            this.starting--;
            throw e;
          }
          await this.adopt(s, lifetimeMs, `echo on UDP port ${s.udpPort}`);
          return { service: id, udpPort: s.udpPort, maxRatePacketsPerSecond, maxRateBitsPerSecond, lifetimeMs };
        }
        case 'configure-rpc': {
          const s = this.find(req.service);
          if (s.kind !== 'rpc' || s.configureDrc === undefined) throw new RequestRefused(`service ${req.service} is a ${s.kind}, not an RPC server`);
          const problems = checkDrcRequest(req.drc, caps);
          if (problems.length > 0) throw new RequestRefused(problems.join('; '));
          s.configureDrc(req.drc);
          return {};
        }
        case 'configure-session': {
          const s = this.find(req.service);
          if (s.configureSession === undefined) throw new RequestRefused(`service ${req.service} is a ${s.kind}, not a listener`);
          const problem = s.configureSession(req.connectionId, req.changes);
          if (problem !== null) throw new RequestRefused(problem);
          return {};
        }
        case 'stats': {
          const done = this.ended.get(req.service);
          return done ?? this.find(req.service).stats();
        }
        case 'stop': {
          const done = this.ended.get(req.service);
          if (done !== undefined) return done;
          const s = this.find(req.service);
          this.services.delete(req.service);
          clearTimeout(this.lifetimes.get(req.service));
          this.lifetimes.delete(req.service);
          const final = await s.stop('stopped by the client');
          this.keepEnded(final);
          log({ level: 'info', remote: this.remote, message: `${this.who()}: service ${req.service} stopped` });
          return final;
        }
      }
    }

    /** Ends the connection and stops its services; `reason` (null: already logged) goes to the log. */
    close(reason: string | null): void {
      if (this.closed) return;
      this.closed = true;
      connections.delete(this);
      clearTimeout(this.handshakeTimer);
      if (this.silenceTimer !== null) clearInterval(this.silenceTimer);
      for (const t of this.lifetimes.values()) clearTimeout(t);
      this.lifetimes.clear();
      const services = [...this.services.values()];
      this.services.clear();
      // Let queued lines (a refusal) leave; the FIN follows them, and destroy() bounds the wait.
      this.socket.end();
      setTimeout(() => this.socket.destroy(), 1000).unref();
      if (reason !== null && (this.authenticated || services.length > 0)) {
        // A client that closes its connection is done; one that went silent or broke it is news.
        const normal = reason === 'connection closed' || reason === 'agent shutting down';
        log({ level: normal ? 'info' : 'warn', remote: this.remote, message: `${this.who()} ${reason}; stopping its ${services.length} service${services.length === 1 ? '' : 's'}` });
      }
      this.stopping = Promise.all(services.map((s) => s.stop(`the control connection ended (${reason ?? 'closed by the agent'})`))).then(() => {});
    }

    /** Services running now. */
    serviceCount(): number {
      return this.services.size;
    }
  }

  await new Promise<void>((resolve, reject) => {
    const onError = (err: NodeJS.ErrnoException) => {
      if (err.code === 'EADDRINUSE') reject(new Error(`TCP port ${o.port} on ${host} is in use`));
      else if (err.code === 'EADDRNOTAVAIL') reject(new Error(`address ${host} is not an address of this machine`));
      else reject(new Error(`cannot listen on TCP ${host}:${o.port}: ${err.message}`));
    };
    server.once('error', onError);
    server.listen(o.port, host, () => {
      server.off('error', onError);
      resolve();
    });
  });
  server.on('error', (err) => log({ level: 'warn', remote: null, message: `control port error: ${err.message}` }));
  const port = (server.address() as { port: number }).port;
  let beacon: BeaconSender | null = null;
  if (o.beacon !== false) {
    try {
      beacon = await BeaconSender.start({ host, controlPort: port, name, version, port: o.beacon?.port, intervalMs: o.beacon?.intervalMs });
    } catch (e) {
      log({ level: 'warn', remote: null, message: `no beacons: ${(e as Error).message}` });
    }
  }
  return {
    host,
    port,
    name,
    caps,
    listenerGuards: guards,
    beacon,
    clients: () => [...connections].filter((c) => c.authenticated).map((c) => ({ remote: c.remote, name: c.name, services: c.serviceCount() })),
    close: async () => {
      closing = true;
      await beacon?.stop();
      const all = [...connections];
      for (const c of all) c.close('agent shutting down');
      await Promise.all(all.map((c) => c.stopping));
      await new Promise<void>((r) => server.close(() => r()));
      // What is still owed, so that the counts of the lines add up.
      if (rejectionTimer !== null) clearTimeout(rejectionTimer);
      for (const l of rejections.flush(performance.now())) logRejection(l);
    },
  };
}
