// The RPC driver: runs a message endpoint (an RPC engine, the lab-transport client, a listener) on
// a datagram socket or a record-marking TCP socket, on the loop the UDP driver runs on too
// (net/driver-loop.ts). What is its own, and matters per call: while an impairment link is
// transparent (nothing configured, nothing in flight, no tracer attached) datagrams skip it. They
// are still counted as offered and delivered on the link, and the moment a knob changes
// (RpcLink.reconfigure) they go through it again. Endpoints whose datagrams stay valid after
// pollTransmit (the RPC engines: a call's bytes, a reply's copy) are sent without a copy and
// without a completion callback. And each datagram is worked on as it arrives, so that a reply
// can leave from the callback that brought its call.

import type { RemoteInfo } from 'node:dgram';
import type { Endpoint } from '../../core/endpoint.js';
import { Link } from '../../core/impair/link.js';
import { NO_IMPAIRMENT, isTransparent, type ImpairmentConfig } from '../../core/impair/config.js';
import { DriverLoop, type DriverCounters, type DriverHooks, type MessageSocket } from '../driver-loop.js';
import type { PeerTable } from '../udp/driver.js';

/** A Link that knows when it changes nothing, so the driver can skip it. */
export class RpcLink extends Link {
  private bypassable = true;
  // Once burst loss has been on, the link may still be in its bad state: it is never skipped again.
  private hadBursts = false;

  constructor(config: ImpairmentConfig, seed: number) {
    super(config, seed);
    this.update(config);
  }

  override reconfigure(changes: Partial<ImpairmentConfig>): void {
    super.reconfigure(changes);
    this.update(this.config);
  }

  private update(c: ImpairmentConfig): void {
    if (c.burstEnterProbability > 0) this.hadBursts = true;
    this.bypassable = !this.hadBursts && isTransparent(c);
  }

  /** True when a datagram may skip the link: no impairment, nothing in flight, no tracer. */
  get canBypass(): boolean {
    return this.bypassable && this.tracer === null && this.inFlightPackets === 0;
  }
}

/** How a message driver is set up. */
export interface MessageDriverOptions extends DriverHooks {
  socket: MessageSocket;
  endpoint: Endpoint;
  peers: PeerTable;
  /** Impairment on the way out and on the way in (transparent links when absent). */
  egress?: Link;
  ingress?: Link;
  /** The endpoint's datagrams stay valid after pollTransmit (sent without a copy). */
  stableOutput?: boolean;
}

/** Drives one endpoint on one message socket. */
export class MessageDriver {
  /** Counters of the driver itself. */
  readonly counters: DriverCounters;
  /** Impairment on the way out. */
  readonly egress: Link;
  /** Impairment on the way in. */
  readonly ingress: Link;
  private readonly loop: DriverLoop;
  private readonly peers: PeerTable;
  private readonly connectedPeer: number;

  constructor(o: MessageDriverOptions) {
    this.peers = o.peers;
    this.connectedPeer = o.connectedPeer ?? -1;
    const egress = (this.egress = o.egress ?? new RpcLink(NO_IMPAIRMENT, 1));
    const ingress = (this.ingress = o.ingress ?? new RpcLink(NO_IMPAIRMENT, 2));
    this.onMessage = this.onMessage.bind(this);
    this.loop = new DriverLoop({
      socket: o.socket,
      endpoint: o.endpoint,
      peers: o.peers,
      onMessage: this.onMessage,
      egress,
      ingress,
      // Plain Links (not RpcLink) are never skipped: their configuration may change unseen.
      egressBypass: egress instanceof RpcLink ? () => egress.canBypass : undefined,
      ingressBypass: ingress instanceof RpcLink ? () => ingress.canBypass : undefined,
      stableOutput: o.stableOutput,
      clock: o.clock,
      onProgress: o.onProgress,
      connectedPeer: o.connectedPeer,
      onSocketError: o.onSocketError,
    });
    this.counters = this.loop.counters;
  }

  /** Starts listening to the socket and serving deadlines. */
  start(): void {
    this.loop.start();
  }

  /** Stops serving; the socket stays open (its owner closes it). */
  stop(): void {
    this.loop.stop();
  }

  /** Runs due work now (after the application changed something, such as starting a call); `now` saves a clock read when the caller has just read it. */
  kick(now?: number): void {
    this.loop.kick(now);
  }

  private onMessage(msg: Uint8Array, rinfo: RemoteInfo): void {
    const loop = this.loop;
    if (loop.stopped) return;
    const now = loop.clock();
    // A connected socket only hears from its peer (the kernel filters the rest).
    const from = this.connectedPeer >= 0 ? this.connectedPeer : this.peers.idOf(rinfo.address, rinfo.port);
    if (loop.receive(now, msg, from)) loop.work(now);
  }
}
