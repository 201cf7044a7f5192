// A reliable transfer over real UDP sockets: the bulk sender on this host, the listener either in a
// local worker thread on 127.0.0.1 or a remote `packetlab transfer --listen`. Forward impairment
// is applied on the way out; reverse impairment on the way in, so that a remote listener needs no
// configuration beyond what the SYN asks for.

import { isIPv6 } from 'node:net';
import type { BulkSender } from '../../core/apps/bulk.js';
import type { Capture } from '../../core/capture/capture.js';
import { captureUdpLinks } from '../../core/capture/runs.js';
import { Link } from '../../core/impair/link.js';
import { TransferMeter, type TransferSample } from '../../core/metrics/transfer-meter.js';
import { PeerTable, SELF, UdpDriver } from '../../net/udp/driver.js';
import { bindUdp, connectUdp } from '../../net/udp/listener-server.js';
import { startLocalPeer, type LocalPeer, type LocalPeerStats, type ReceivingEnd } from '../../net/udp/local-peer.js';
import { udpSocketDrops } from '../../net/udp/procnet.js';
import { deriveSeed } from '../../core/util/rng.js';
import type { SocketConfig } from '../../core/knobs.js';
import type { ReceiverChanges } from '../../core/transport/config.js';
import { makeBulkSender, summarizeTransfer, type TransferSetup, type TransferStatus, type TransferSummary } from '../../core/transfer/setup.js';
import { listenerDefaultsOf } from '../../core/apps/services.js';

/** Options of a UDP transfer. */
export interface UdpTransferOptions {
  setup: TransferSetup;
  /** A remote listener, or null to start one on loopback in a worker thread. */
  peer: { host: string; port: number } | null;
  /**
   * The remote listener's own end, when the caller can reach it (a peer agent's, through its control
   * channel): its statistics fill the receiver's sample columns and the summary, and live changes of
   * receiver-side knobs go to it.
   */
  remote?: ReceivingEnd;
  socket: SocketConfig;
  onSample?: (sample: TransferSample) => void;
  /** Aborting stops the transfer (its summary says 'stopped'). */
  signal?: AbortSignal;
  /** Records every datagram of both link directions, timestamps on performance.now() (the caller closes it). */
  capture?: Capture;
  /** Called once the transfer starts, with what a live change needs. */
  onStart?: (live: UdpTransferLive) => void;
}

/** The parts of a running UDP transfer a live change touches. */
export interface UdpTransferLive {
  sender: BulkSender;
  forward: Link;
  reverse: Link;
  /** Wakes the driver after a change (a bigger window may allow sends now). */
  kick(): void;
  /** Changes the receiving end's knobs (a local listener, or the `remote` one; null for a remote listener nobody reaches). */
  reconfigureReceiver: ((changes: ReceiverChanges) => Promise<string | null>) | null;
}

/** Runs a transfer over UDP and resolves with its summary. */
export async function runUdpTransfer(o: UdpTransferOptions): Promise<TransferSummary> {
  const { setup } = o;
  const t = setup.transport;
  let local: LocalPeer | null = null;
  let peer = o.peer;
  if (peer === null) {
    local = await startLocalPeer({
      options: {
        host: '127.0.0.1',
        port: 0,
        socket: o.socket,
        seed: deriveSeed(setup.seed, 'listener'),
        transport: listenerDefaultsOf(t),
      },
      statsIntervalMs: setup.intervalMs,
    });
    peer = { host: '127.0.0.1', port: local.port };
  }
  const socket = await bindUdp(isIPv6(peer.host) ? '::' : peer.host === '127.0.0.1' ? '127.0.0.1' : '0.0.0.0', 0, o.socket);
  await connectUdp(socket, peer.host, peer.port);
  const ownPort = socket.address().port;
  const ownDropsAtStart = udpSocketDrops(ownPort);
  const peers = new PeerTable();
  const peerId = peers.idOf(peer.host, peer.port);
  const sender = makeBulkSender(setup, peerId);

  const forward = new Link(setup.forward, deriveSeed(setup.seed, 'forward'));
  const reverse = new Link(setup.reverse, deriveSeed(setup.seed, 'reverse'));
  if (o.capture !== undefined) {
    const own = socket.address();
    captureUdpLinks(o.capture, { self: { address: own.address, port: own.port }, selfId: SELF, peer: { address: peer.host, port: peer.port }, peerId, forward, reverse });
  }
  const far: ReceivingEnd | null = local ?? o.remote ?? null;
  const receiverCounters = () => {
    const s = far?.latest()?.sessions.findLast((x) => x.connectionId === sender.conn.connectionId && x.kind === 'reliable');
    return s === undefined ? null : { counters: s.counters, rcvBufferedBytes: s.rcvBufferedBytes };
  };
  const kernelDrops = () => ({
    sender: udpSocketDrops(ownPort) - ownDropsAtStart,
    receiver: far?.latest()?.kernelDrops ?? Number.NaN,
  });
  const start = performance.now();
  const meter = new TransferMeter({ sender: sender.conn, receiver: receiverCounters, forward, reverse, kernelDrops }, start);

  let finish: (status: TransferStatus) => void = () => {};
  const finished = new Promise<TransferStatus>((resolve) => {
    finish = resolve;
  });
  const driver = new UdpDriver({
    socket,
    endpoint: sender,
    peers,
    egress: forward,
    ingress: reverse,
    connectedPeer: peerId,
    onSocketError: (err) => {
      if (err.code === 'ECONNREFUSED' && sender.state === 'connecting') {
        sender.abort(performance.now(), `nothing listens on ${peer.host}:${peer.port} (ICMP port unreachable)`);
        driver.kick();
      }
    },
    onProgress: () => {
      if (sender.state === 'done') finish('complete');
      else if (sender.state === 'failed') finish('failed');
    },
  });
  const sampler = o.onSample === undefined ? null : setInterval(() => o.onSample!(meter.sample(performance.now())), setup.intervalMs);
  const limit = setTimeout(() => finish('timeout'), setup.timeLimitMs);
  const onAbort = () => {
    // Settle first: the abort below makes the sender 'failed', which onProgress would report.
    finish('stopped');
    sender.abort(performance.now(), 'stopped by the user');
    driver.kick();
  };
  o.signal?.addEventListener('abort', onAbort);
  driver.start();
  sender.start(performance.now());
  driver.kick();
  o.onStart?.({ sender, forward, reverse, kick: () => driver.kick(), reconfigureReceiver: far === null ? null : (changes) => far.reconfigure(sender.conn.connectionId, changes) });
  const status = await finished;
  o.signal?.removeEventListener('abort', onAbort);
  clearTimeout(limit);
  if (sampler !== null) clearInterval(sampler);
  if (status !== 'complete' && sender.state !== 'failed') {
    sender.abort(performance.now(), status === 'timeout' ? `did not finish within ${setup.timeLimitMs} ms` : 'stopped by the user');
    driver.kick();
  }
  const end = performance.now();
  // Give the last datagrams (our final ACK, an RST) a moment to leave before the socket closes.
  await new Promise((r) => setTimeout(r, 20));
  let final: LocalPeerStats | null = far === null ? null : await far.refresh();
  if (o.onSample !== undefined) o.onSample(meter.sample(end));
  driver.stop();
  await new Promise<void>((r) => socket.close(() => r()));
  if (local !== null) final = await local.stop();
  const session = final?.sessions.findLast((x) => x.connectionId === sender.conn.connectionId && x.kind === 'reliable');
  const summary = summarizeTransfer('udp', setup, sender, status, session === undefined ? null : session.counters, forward.counters, reverse.counters);
  summary.sendQueueDrops = driver.counters.sendQueueDrops;
  if (status === 'timeout' && summary.failure === null) summary.failure = `did not finish within ${setup.timeLimitMs} ms`;
  if (status === 'stopped' && summary.failure === null) summary.failure = 'stopped by the user';
  return summary;
}
