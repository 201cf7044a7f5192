// A listener in the simulator among scripted and real clients, with the ground truth of what each
// address sent it and got back: the links' record of every datagram they were given and delivered.

import type { Endpoint } from '../../core/endpoint.js';
import { Link } from '../../core/impair/link.js';
import { NO_IMPAIRMENT, type ImpairmentConfig } from '../../core/impair/config.js';
import { DEFAULT_LISTENER_CAPS, Listener, type ListenerCaps, type ListenerEvent, type SessionFactory } from '../../core/listener.js';
import { labSessionFactory } from '../../core/apps/services.js';
import { Simulator } from '../../core/sim/simulator.js';
import { BulkSender } from '../../core/apps/bulk.js';
import { StreamSender } from '../../core/stream/sender.js';
import { DEFAULT_TRANSPORT_CONFIG, type TransportConfig } from '../../core/transport/config.js';
import { synDatagram } from '../../bench/hostile-inputs.js';

/** A SYN asking for `options`, as a client would send it. */
export const synBytes = synDatagram;

/** The SYN of a probe: a stream of 1200-byte datagrams at 1000/s for an hour, reports every `reportIntervalMs`. */
export function streamSyn(connectionId: number, reportIntervalMs = 10): Uint8Array {
  return synBytes({ service: 2, datagramBytes: 1200, ratePacketsPerSecond: 1000, durationMs: 3_600_000, reportIntervalMs }, connectionId);
}

/** The SYN of a reliable transfer with the default knobs. */
export function reliableSyn(connectionId: number, seq = 1000): Uint8Array {
  return synBytes({ service: 1, protocol: 'sr', sack: true, verifyChecksum: true, verifyData: true, patternSeed: 1, mssBytes: 1164, ackEveryPackets: 1, ackDelayMs: 40, rcvBufferBytes: 262144, readRateBytesPerSecond: 0 }, connectionId, seq);
}

/** A host that sends given datagrams at given times to the listener and keeps what comes back. */
export class Scripted implements Endpoint {
  transmitTo = 0;
  readonly received: Uint8Array[] = [];
  private next = 0;

  constructor(private readonly schedule: readonly { atMs: number; bytes: Uint8Array }[]) {}

  handleDatagram(_now: number, bytes: Uint8Array): void {
    this.received.push(bytes.slice());
  }

  handleTimeout(): void {}

  pollTransmit(now: number): Uint8Array | null {
    const s = this.schedule[this.next];
    if (s === undefined || s.atMs > now) return null;
    this.next++;
    return s.bytes;
  }

  pollTimeout(): number | null {
    return this.schedule[this.next]?.atMs ?? null;
  }

  /** Types of the datagrams received, in order. */
  types(): number[] {
    return this.received.map((b) => b[3]!);
  }
}

/** Bytes between one address and the listener, as the simulator moved them. */
export interface AddressBytes {
  /** Bytes the address sent that reached the listener. */
  toListener: number;
  /** Bytes the listener sent to the address. */
  fromListener: number;
}

interface Recorder {
  sent(from: number, to: number, length: number): void;
  delivered(from: number, to: number, length: number): void;
}

/** A link that reports every datagram it is given and every one it delivers: the simulator's record of each datagram's fate. */
class RecordingLink extends Link {
  constructor(
    config: ImpairmentConfig,
    seed: number,
    private readonly record: Recorder,
  ) {
    super(config, seed);
  }

  override send(now: number, bytes: Uint8Array, from: number, to: number): void {
    this.record.sent(from, to, bytes.length);
    super.send(now, bytes, from, to);
  }

  override pollDeliver(now: number): number {
    const h = super.pollDeliver(now);
    if (h >= 0) this.record.delivered(this.from(h), this.to(h), this.data(h).length);
    return h;
  }
}

/** A listener (the last host) and its clients (hosts 0..n-1, each its own address), joined by one link of `delayMs` each way. */
export class ListenerBench {
  readonly sim: Simulator;
  readonly listener: Listener;
  readonly address: number;
  readonly events: ListenerEvent[] = [];
  private readonly bytes = new Map<number, AddressBytes>();

  /** `ipOf` names the IP address of each client (by default each client is an IP of its own; clients with one IP are its ports). */
  constructor(
    readonly clients: Endpoint[],
    caps: Partial<ListenerCaps> = {},
    factory: SessionFactory = labSessionFactory(),
    o: { delayMs?: number; ipOf?: (client: number) => string; lost?: (from: number, to: number, now: number) => boolean } = {},
  ) {
    this.address = clients.length;
    for (const c of clients) {
      if (c instanceof Scripted) c.transmitTo = this.address;
    }
    this.listener = new Listener({ ...DEFAULT_LISTENER_CAPS, ...caps }, factory, 1, o.ipOf === undefined ? {} : { addressOf: o.ipOf });
    const delayMs = o.delayMs ?? 5;
    // Bytes the listener sent count when it sends them; bytes an address sent, when they reach
    // the listener (not those a black hole swallowed, nor those still in flight).
    const record: Recorder = {
      sent: (from, to, length) => {
        if (from === this.address) this.of(to).fromListener += length;
      },
      delivered: (from, to, length) => {
        if (to === this.address) this.of(from).toListener += length;
      },
    };
    const link = new RecordingLink({ ...NO_IMPAIRMENT, delayMs }, 7, record);
    // `lost` picks datagrams a black hole swallows: an outage in one direction, for a while.
    const hole = new RecordingLink({ ...NO_IMPAIRMENT, lossProbability: 1 }, 8, record);
    const lost = o.lost;
    this.sim = new Simulator([...clients, this.listener], [link, hole], lost === undefined ? () => link : (from, to) => (lost(from, to, this.sim.now) ? hole : link));
  }

  /** Runs to virtual time `untilMs` (or until nothing is pending). */
  run(untilMs: number): void {
    this.sim.run({ untilMs });
    this.takeEvents();
  }

  private takeEvents(): void {
    for (let ev = this.listener.pollEvent(); ev !== null; ev = this.listener.pollEvent()) this.events.push(ev);
  }

  /** What address `a` and the listener exchanged. */
  of(a: number): AddressBytes {
    let b = this.bytes.get(a);
    if (b === undefined) {
      b = { toListener: 0, fromListener: 0 };
      this.bytes.set(a, b);
    }
    return b;
  }

  /** Every address's bytes back over bytes in (Infinity for an address that got bytes without sending). */
  ratios(): Map<number, number> {
    const out = new Map<number, number>();
    for (const [a, b] of this.bytes) out.set(a, b.fromListener === 0 ? 0 : b.fromListener / b.toListener);
    return out;
  }
}

/** A reliable transfer of `totalBytes` to the listener at `peer`. */
export function bulkClient(peer: number, totalBytes: number, seed: number, transport: Partial<TransportConfig> = {}): BulkSender {
  return new BulkSender({ config: { ...DEFAULT_TRANSPORT_CONFIG, ...transport }, totalBytes, messageBytes: 0, readRateBytesPerSecond: 0, connectionId: 0x1000 + seed, isn: 0x5000 * seed, peer, patternSeed: seed });
}

/** A stream to the listener at `peer`. */
export function streamClient(peer: number, o: { ratePacketsPerSecond: number; durationMs: number; reportIntervalMs: number; datagramBytes?: number }, seed: number): StreamSender {
  return new StreamSender({ connectionId: 0x2000 + seed, isn: 0x7000 * seed, peer, datagramBytes: o.datagramBytes ?? 1200, ratePacketsPerSecond: o.ratePacketsPerSecond, durationMs: o.durationMs, reportIntervalMs: o.reportIntervalMs });
}
