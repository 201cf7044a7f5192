// Running an unreliable stream (packetlab udp) in the simulator or over real UDP, with per-interval
// samples. Receiver figures come from its REPORTs, which work the same for a local worker, a
// simulated host or a remote listener.

import { isIPv6 } from 'node:net';
import type { Endpoint } from '../../core/endpoint.js';
import { NO_IMPAIRMENT, type ImpairmentConfig } from '../../core/impair/config.js';
import type { Capture } from '../../core/capture/capture.js';
import { captureSimLinks, captureUdpLinks } from '../../core/capture/runs.js';
import { Link } from '../../core/impair/link.js';
import type { LinkCounters } from '../../core/impair/counters.js';
import { DEFAULT_LISTENER_CAPS, Listener } from '../../core/listener.js';
import { labSessionFactory } from '../../core/apps/services.js';
import { Simulator } from '../../core/sim/simulator.js';
import { PeerTable, SELF, UdpDriver } from '../../net/udp/driver.js';
import { bindUdp, connectUdp } from '../../net/udp/listener-server.js';
import { startLocalPeer, type LocalPeer } from '../../net/udp/local-peer.js';
import { udpSocketDrops } from '../../net/udp/procnet.js';
import { Rng, deriveSeed } from '../../core/util/rng.js';
import type { SocketConfig } from '../../core/knobs.js';
import { StreamSender, type StreamSenderCounters } from '../../core/stream/sender.js';
import { linkColumns, linkValues, metricList } from '../../core/metrics/registry.js';
import type { StreamReport } from '../../core/stream/report.js';

/** What defines a stream run. */
export interface StreamSetup {
  datagramBytes: number;
  ratePacketsPerSecond: number;
  durationMs: number;
  /** Sampling and report interval. */
  intervalMs: number;
  /** Impairment of the datagrams (sender to receiver). */
  impairment: ImpairmentConfig;
  /**
   * Impairment of the reports on their way back. Without it, the simulator carries them over a
   * clean path with the datagrams' delay and real sockets leave them alone.
   */
  reverse?: ImpairmentConfig;
  seed: number;
}

/** Column names of a stream sample, in CSV order. */
export const STREAM_COLUMNS = metricList([
  'time_s',
  'sent_packets',
  'sent_bytes',
  'send_rate_bps',
  'received_packets',
  'received_bytes',
  'receive_rate_bps',
  'lost_packets',
  'reordered_packets',
  'duplicate_packets',
  'jitter_ms',
  'checksum_failures',
  'kernel_drops_receiver',
  'kernel_drops_sender',
  ...linkColumns('link'),
] as const);

/** One stream sample. */
export type StreamSample = Record<(typeof STREAM_COLUMNS)[number], number>;

/** End-of-run summary of a stream. */
export interface StreamSummary {
  type: 'summary';
  net: 'sim' | 'udp';
  status: 'complete' | 'failed' | 'stopped';
  failure: string | null;
  seed: number;
  datagramBytes: number;
  ratePacketsPerSecond: number;
  durationS: number;
  sent: StreamSenderCounters;
  /** The receiver's final report (or its last one when the final did not come). */
  receiver: StreamReport | null;
  /** Share of sent datagrams that never arrived. */
  lossRatio: number;
  link: LinkCounters;
  kernelDropsSender: number;
  /** Real UDP only: datagrams dropped because this host's socket send queue was full. */
  sendQueueDrops: number;
}

/** Turns the sender's counters, the receiver's reports and the link's counters into interval samples. */
export class StreamMeter {
  private prevSent = { packetsSent: 0, bytesSent: 0 };
  private prevReport: StreamReport | null = null;
  private prevLink: LinkCounters;
  private prevKernelSender: number;
  private prevTime: number;

  constructor(
    private readonly sender: StreamSender,
    private readonly link: Link,
    private readonly kernelSender: () => number,
    private readonly startMs: number,
  ) {
    this.prevLink = { ...link.counters };
    this.prevKernelSender = kernelSender();
    this.prevTime = startMs;
  }

  sample(now: number): StreamSample {
    const c = this.sender.counters;
    const r = this.sender.lastReport;
    const p = this.prevReport;
    const dt = (now - this.prevTime) / 1000;
    const l = this.link.counters;
    const dr = (k: keyof StreamReport) => (r === null ? 0 : (r[k] as number) - (p === null ? 0 : (p[k] as number)));
    const sent = c.packetsSent - this.prevSent.packetsSent;
    const sentBytes = c.bytesSent - this.prevSent.bytesSent;
    const receivedBytes = dr('bytesReceived');
    const ks = this.kernelSender();
    const row: StreamSample = {
      time_s: (now - this.startMs) / 1000,
      sent_packets: sent,
      sent_bytes: sentBytes,
      send_rate_bps: dt > 0 ? (sentBytes * 8) / dt : Number.NaN,
      received_packets: dr('packetsReceived'),
      received_bytes: receivedBytes,
      receive_rate_bps: dt > 0 ? (receivedBytes * 8) / dt : Number.NaN,
      lost_packets: dr('lost'),
      reordered_packets: dr('reordered'),
      duplicate_packets: dr('duplicates'),
      jitter_ms: r === null ? Number.NaN : r.jitterMs,
      checksum_failures: dr('checksumFailures'),
      kernel_drops_receiver: r === null || Number.isNaN(r.kernelDrops) ? Number.NaN : dr('kernelDrops'),
      kernel_drops_sender: ks - this.prevKernelSender,
      ...linkValues('link', l, this.prevLink),
    };
    this.prevSent = { packetsSent: c.packetsSent, bytesSent: c.bytesSent };
    if (r !== null) this.prevReport = r;
    this.prevLink = { ...l };
    this.prevKernelSender = ks;
    this.prevTime = now;
    return row;
  }
}

function makeSender(setup: StreamSetup, peer: number): StreamSender {
  const rng = new Rng(deriveSeed(setup.seed, 'client'));
  return new StreamSender({
    connectionId: rng.uint32(),
    isn: rng.uint32(),
    peer,
    datagramBytes: setup.datagramBytes,
    ratePacketsPerSecond: setup.ratePacketsPerSecond,
    durationMs: setup.durationMs,
    reportIntervalMs: setup.intervalMs,
  });
}

function summarize(net: 'sim' | 'udp', setup: StreamSetup, s: StreamSender, stopped: boolean, link: Link, kernelDropsSender: number, sendQueueDrops: number): StreamSummary {
  const receiver = s.finalReport ?? s.lastReport;
  const sent = s.counters.packetsSent;
  return {
    type: 'summary',
    net,
    status: stopped ? 'stopped' : s.state === 'done' ? 'complete' : 'failed',
    failure: s.failure,
    seed: setup.seed,
    datagramBytes: setup.datagramBytes,
    ratePacketsPerSecond: setup.ratePacketsPerSecond,
    durationS: Number.isNaN(s.startedAtMs) ? Number.NaN : (s.lastSendAtMs - s.startedAtMs) / 1000,
    sent: { ...s.counters },
    receiver,
    lossRatio: receiver === null || sent === 0 ? Number.NaN : Math.max(0, sent - receiver.packetsReceived) / sent,
    link: { ...link.counters },
    kernelDropsSender,
    sendQueueDrops,
  };
}

/** The pieces of a simulated stream, for callers that drive or inspect it themselves. */
export interface SimStream {
  sim: Simulator;
  sender: StreamSender;
  listener: Listener;
  forward: Link;
  reverse: Link;
}

/**
 * Wires a simulated stream without running it. `wrapReceiver` may put something (a simulated
 * socket buffer) between the network and the receiving host.
 */
export function buildSimStream(setup: StreamSetup, wrapReceiver: (e: Endpoint) => Endpoint = (e) => e): SimStream {
  const sender = makeSender(setup, 1);
  const listener = new Listener(DEFAULT_LISTENER_CAPS, labSessionFactory(), deriveSeed(setup.seed, 'listener'));
  const forward = new Link(setup.impairment, deriveSeed(setup.seed, 'forward'));
  // Reports travel back over the given return path, or a clean one with the same delay.
  const reverse = new Link(setup.reverse ?? { ...NO_IMPAIRMENT, delayMs: setup.impairment.delayMs }, deriveSeed(setup.seed, 'reverse'));
  const sim = new Simulator([sender, wrapReceiver(listener)], [forward, reverse], (from) => (from === 0 ? forward : reverse));
  return { sim, sender, listener, forward, reverse };
}

/** Summary of a simulated stream that ran (kernel drops are the simulated receive buffer's; none without one). */
export function summarizeSimStream(setup: StreamSetup, s: SimStream, stopped: boolean, kernelDropsReceiver = 0): StreamSummary {
  const summary = summarize('sim', setup, s.sender, stopped, s.forward, 0, 0);
  // A datagram corrupted in its header is caught by the listener before any session sees it: the
  // listener of a simulated stream serves that stream alone, so its catches are the stream's too.
  if (summary.receiver !== null) summary.receiver = { ...summary.receiver, kernelDrops: kernelDropsReceiver, checksumFailures: summary.receiver.checksumFailures + s.listener.counters.checksumFailures };
  return summary;
}

/** Runs a stream in the simulator; `capture` records both link directions (the caller closes it); `onBuild` sees it wired (to attach tracers: the auditor). */
export function runSimStream(setup: StreamSetup, onSample?: (s: StreamSample) => void, capture?: Capture, onBuild?: (w: SimStream) => void): StreamSummary {
  const w = buildSimStream(setup);
  const { sim, sender, forward, reverse } = w;
  if (capture !== undefined) captureSimLinks(capture, forward, reverse, 'reports');
  onBuild?.(w);
  const meter = new StreamMeter(sender, forward, () => 0, 0);
  let next = setup.intervalMs;
  if (onSample !== undefined) {
    sim.addTicker({
      pollTimeout: () => (sender.state === 'done' || sender.state === 'failed' ? null : next),
      handleTimeout: (now) => {
        onSample(meter.sample(now));
        next = now + setup.intervalMs;
      },
    });
  }
  sender.start(0);
  sim.run({ untilMs: setup.durationMs + 60_000, stop: () => sender.state === 'done' || sender.state === 'failed' });
  if (onSample !== undefined) onSample(meter.sample(sim.now));
  return summarizeSimStream(setup, w, false);
}

/** Options of a stream over real UDP. */
export interface UdpStreamOptions {
  setup: StreamSetup;
  /** A remote `packetlab udp --listen`, or null for a local worker on loopback. */
  peer: { host: string; port: number } | null;
  socket: SocketConfig;
  onSample?: (s: StreamSample) => void;
  signal?: AbortSignal;
  /** Records the stream and the reports, timestamps on performance.now() (the caller closes it). */
  capture?: Capture;
  /** Called once the stream starts, with its sender and forward link (for live changes). */
  onStart?: (live: { sender: StreamSender; forward: Link; kick(): void }) => void;
}

/** Runs a stream over UDP. */
export async function runUdpStream(o: UdpStreamOptions): Promise<StreamSummary> {
  const { setup } = o;
  let local: LocalPeer | null = null;
  let peer = o.peer;
  if (peer === null) {
    local = await startLocalPeer({ options: { host: '127.0.0.1', port: 0, socket: o.socket, seed: deriveSeed(setup.seed, 'listener') }, statsIntervalMs: 1000 });
    peer = { host: '127.0.0.1', port: local.port };
  }
  const socket = await bindUdp(isIPv6(peer.host) ? '::' : peer.host === '127.0.0.1' ? '127.0.0.1' : '0.0.0.0', 0, o.socket);
  await connectUdp(socket, peer.host, peer.port);
  const ownPort = socket.address().port;
  const dropsAtStart = udpSocketDrops(ownPort);
  const kernelSender = () => udpSocketDrops(ownPort) - dropsAtStart;
  const peers = new PeerTable();
  const sender = makeSender(setup, peers.idOf(peer.host, peer.port));
  const link = new Link(setup.impairment, deriveSeed(setup.seed, 'forward'));
  // Reports come in over the given return path, else unimpaired: then a pass-through link on
  // ingress exists only to be captured.
  let ingress: Link | null = null;
  if (setup.reverse !== undefined || o.capture !== undefined) ingress = new Link(setup.reverse ?? NO_IMPAIRMENT, deriveSeed(setup.seed, 'reverse'));
  if (o.capture !== undefined && ingress !== null) {
    const own = socket.address();
    captureUdpLinks(o.capture, { self: { address: own.address, port: own.port }, selfId: SELF, peer: { address: peer.host, port: peer.port }, peerId: sender.transmitTo, forward: link, reverse: ingress }, 'reports');
  }
  let resolveDone: () => void = () => {};
  const done = new Promise<void>((r) => {
    resolveDone = r;
  });
  const driver = new UdpDriver({
    socket,
    endpoint: sender,
    peers,
    egress: link,
    ingress,
    connectedPeer: sender.transmitTo,
    onSocketError: (err) => {
      if (err.code === 'ECONNREFUSED' && sender.state === 'connecting') {
        sender.stop(performance.now());
        sender.failure = `nothing listens on ${peer.host}:${peer.port} (ICMP port unreachable)`;
        driver.kick();
      }
    },
    onProgress: () => {
      if (sender.state === 'done' || sender.state === 'failed') resolveDone();
    },
  });
  const start = performance.now();
  const meter = new StreamMeter(sender, link, kernelSender, start);
  const sampler = o.onSample === undefined ? null : setInterval(() => o.onSample!(meter.sample(performance.now())), setup.intervalMs);
  let stopped = false;
  const onAbort = () => {
    stopped = true;
    sender.stop(performance.now());
    driver.kick();
  };
  o.signal?.addEventListener('abort', onAbort);
  driver.start();
  sender.start(performance.now());
  driver.kick();
  o.onStart?.({ sender, forward: link, kick: () => driver.kick() });
  await done;
  o.signal?.removeEventListener('abort', onAbort);
  if (sampler !== null) clearInterval(sampler);
  if (o.onSample !== undefined) o.onSample(meter.sample(performance.now()));
  driver.stop();
  await new Promise<void>((r) => socket.close(() => r()));
  if (local !== null) await local.stop();
  return summarize('udp', setup, sender, stopped, link, kernelSender(), driver.counters.sendQueueDrops);
}
