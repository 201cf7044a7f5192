// A listener in the simulator among scripted and real clients, with the ground truth of what each
// address sent it and got back: the simulator's own record of every datagram (Simulator.step()).

import type { Endpoint } from '../../core/endpoint.js';
import { Link } from '../../core/impair/link.js';
import { NO_IMPAIRMENT } from '../../core/impair/config.js';
import { DEFAULT_LISTENER_CAPS, Listener, type ListenerCaps, type ListenerEvent, type SessionFactory } from '../../core/listener.js';
import { labSessionFactory } from '../../core/apps/services.js';
import { Simulator } from '../../core/sim/simulator.js';
import { BulkSender } from '../../core/apps/bulk.js';
import { StreamSender } from '../../core/stream/sender.js';
import { DEFAULT_TRANSPORT_CONFIG, type TransportConfig } from '../../core/transport/config.js';
import { encodeSynOptions, type SynOptions } from '../../core/wire/handshake.js';
import { HEADER_BYTES, PacketType, sealChecksum, writeHeader } from '../../core/wire/packet.js';

/** A SYN asking for `options`, as a client would send it. */
export function synBytes(options: SynOptions, connectionId: number, seq = 1000): Uint8Array {
  const payload = encodeSynOptions(options);
  const out = new Uint8Array(HEADER_BYTES + payload.length);
  writeHeader(out, { type: PacketType.SYN, flags: 0, connectionId, seq, ack: 0, windowBytes: 65536, tsVal: 0, tsEcr: 0, sackCount: 0, sack: [] }, payload.length);
  out.set(payload, HEADER_BYTES);
  sealChecksum(out, out.length);
  return out;
}

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
    o: { delayMs?: number; ipOf?: (client: number) => string } = {},
  ) {
    this.address = clients.length;
    for (const c of clients) {
      if (c instanceof Scripted) c.transmitTo = this.address;
    }
    this.listener = new Listener({ ...DEFAULT_LISTENER_CAPS, ...caps }, factory, 1, o.ipOf === undefined ? {} : { addressOf: o.ipOf });
    const delayMs = o.delayMs ?? 5;
    const link = new Link({ ...NO_IMPAIRMENT, delayMs }, 7);
    this.sim = new Simulator([...clients, this.listener], [link], () => link);
  }

  /** Runs until the first event past virtual time `untilMs` (or until nothing is pending), recording every datagram. */
  run(untilMs: number): void {
    for (;;) {
      const e = this.sim.step();
      if (e === null) {
        this.takeEvents();
        break;
      }
      if (e.kind === 'send' && e.from === this.address) this.of(e.to).fromListener += e.bytes.length;
      if (e.kind === 'deliver' && e.to === this.address) this.of(e.from).toListener += e.bytes.length;
      this.takeEvents();
      if (e.now > untilMs) break;
    }
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
