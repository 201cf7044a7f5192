// Recording a run's datagrams: a pcapng file any tool opens (IP/UDP framing, LINKTYPE_RAW) and,
// beside it, the lab's own packet log (JSON lines: one object per captured frame, same order).
//
// A Capture is attached to Links (one pcapng interface per link direction) or fed datagrams
// directly (ONC RPC over UDP, anything else). Over a link it records one frame per datagram the
// link delivered, at the time it arrived and with the bytes the receiver got, and one frame per
// datagram the link dropped, at the time it was offered. Frames the link dropped, duplicated, held
// back, reordered or corrupted carry a comment saying what happened and why (annotate.ts).
//
// It never reads a clock: times are the driver's `now` (virtual ms in the simulator, from 0, so a
// simulated capture is the same bytes for the same seed) plus `timeOriginMs` (performance.timeOrigin
// for runs on performance.now(), giving wall-clock timestamps). A size cap stops the recording
// cleanly: frames past it are counted, not written, and the file stays well-formed.

import { DeliveryFlag, type DropReason, type Link, type LinkTracer } from '../impair/link.js';
import { describeFate, type LinkFate } from './annotate.js';
import { UdpFramer, parseIpAddress, type IpAddress, type SocketAddress } from './ip-udp.js';
import { readLabFields, type LabFields } from './lab-fields.js';
import {
  EpbDirection,
  LINKTYPE_RAW,
  Opt,
  encodeEnhancedPacket,
  encodeInterfaceDescription,
  encodeInterfaceStatistics,
  encodeSectionHeader,
  enhancedPacketLength,
  splitNanoseconds,
  stringOption,
  timestampOption,
  u32Option,
  u64Option,
  type PcapngOption,
} from './pcapng.js';
import type { ByteSink } from './sink.js';

/** Smallest size cap a capture accepts: room for the section header, interfaces and statistics. */
export const MIN_CAPTURE_BYTES = 4096;
/** Snap length written in interface descriptions: every frame is captured whole. */
export const CAPTURE_SNAP_LENGTH_BYTES = 65535;
// An ISB with start, end, received and dropped counts: 24 bytes of block and body, 4 x 12 of
// options and 4 of end-of-options.
const ISB_BYTES = 76;
const NS_PER_MS_RESOLUTION = 9; // if_tsresol: 10^-9 s

/** How a capture is set up. */
export interface CaptureOptions {
  /** Where the pcapng bytes go (null: none; the cap is still applied so the log matches). */
  pcap?: ByteSink | null;
  /** Where the packet log (JSON lines) goes, or null. */
  log?: ByteSink | null;
  /** Most bytes of pcapng written, at least MIN_CAPTURE_BYTES; 0 for no cap. */
  maxBytes?: number;
  /** Added to every `now` to make the timestamp (ms since 1970): 0 for virtual time. */
  timeOriginMs?: number;
  /** Name and version of the application (shb_userappl). */
  application?: string;
  /** A comment on the whole capture (how the run was set up). */
  comment?: string;
}

/** Which way an interface's frames travel, seen from the capture's host. */
export type CaptureDirection = 'inbound' | 'outbound';

/** How an interface (one link direction, or one stream of fed datagrams) is described. */
export interface CaptureInterfaceOptions {
  /** Short name (if_name), e.g. "forward". */
  name: string;
  /** One line for people (if_description), e.g. "data direction 10.0.0.1 -> 10.0.0.2". */
  description?: string;
  /** Written in each frame's epb_flags when known. */
  direction?: CaptureDirection;
}

/** Counters of a capture. */
export interface CaptureStats {
  /** Frames offered to the capture. */
  frames: number;
  /** Frames written (the rest came after the size cap was reached). */
  framesWritten: number;
  /** Frames not written because of the size cap. */
  framesSkipped: number;
  /** Bytes of pcapng written so far. */
  bytesWritten: number;
  /** The size cap was reached. */
  capped: boolean;
}

/** One line of the packet log. */
export interface PacketLogEntry {
  /** Frame number, from 1, as Wireshark numbers frames. */
  frame: number;
  /** Timestamp in ms (timeOriginMs plus the driver's now). */
  timeMs: number;
  /** Interface name. */
  interface: string;
  src: string;
  srcPort: number;
  dst: string;
  dstPort: number;
  /** Bytes of the datagram (the UDP payload). */
  bytes: number;
  /** 'delivered' or 'dropped' for link frames, 'recorded' for datagrams fed directly. */
  fate: 'delivered' | 'dropped' | 'recorded';
  dropReason: DropReason | null;
  duplicate: boolean;
  heldBack: boolean;
  reordered: boolean;
  corrupted: boolean;
  /** Bits flipped by a corruption, or null. */
  flippedBits: number[] | null;
  /** When the datagram was offered to its link (ms, same clock as timeMs), or null. */
  sentAtMs: number | null;
  /** The frame's pcapng comment ('' when none). */
  comment: string;
  /** The lab's reading of the datagram, or null when it is not a lab datagram. */
  lab: LabFields | null;
}

interface ResolvedEndpoint {
  ip: IpAddress;
  text: string;
  port: number;
}

/** A datagram source or destination: an id given to setEndpoint, or an address. */
export type CaptureAddress = number | SocketAddress;

/** A note on a datagram fed directly to an interface. */
export interface RecordNote {
  /** The frame's comment. */
  comment?: string;
}

/** One pcapng interface of a capture. */
export class CaptureInterface {
  private firstTs: number | null = null;
  private lastTs: number | null = null;
  /** Frames offered to this interface. */
  frames = 0;
  /** Of those, not written because of the size cap. */
  framesSkipped = 0;

  /** @internal Created by Capture.addInterface. */
  constructor(
    private readonly capture: Capture,
    /** The pcapng interface id (order of creation, from 0). */
    readonly id: number,
    /** The interface name. */
    readonly name: string,
    /** epb_flags written on each of its frames (0: none). */
    readonly flags: number,
  ) {}

  /** Records a datagram from `src` to `dst` at `nowMs` (the driver's clock), optionally commented. */
  record(nowMs: number, bytes: Uint8Array, src: CaptureAddress, dst: CaptureAddress, note: RecordNote = {}): void {
    this.capture.write(this, nowMs, bytes, src, dst, note.comment ?? '', null);
  }

  /** @internal Timestamps seen, for the statistics block. */
  seen(ms: number): void {
    if (this.firstTs === null) this.firstTs = ms;
    this.lastTs = ms;
  }

  /** @internal First and last timestamps written, or null. */
  span(): { first: number; last: number } | null {
    return this.firstTs === null ? null : { first: this.firstTs, last: this.lastTs! };
  }
}

/** Records datagrams into pcapng and the packet log. */
export class Capture {
  private readonly pcap: ByteSink | null;
  private readonly log: ByteSink | null;
  private readonly maxBytes: number;
  private readonly timeOriginMs: number;
  private readonly endpoints = new Map<number, ResolvedEndpoint>();
  private readonly addressCache = new Map<string, ResolvedEndpoint>();
  private readonly interfaces: CaptureInterface[] = [];
  private readonly attached = new Map<Link, LinkTracer | null>();
  private readonly framer = new UdpFramer();
  private readonly encoder = new TextEncoder();
  private written = 0;
  private frameNumber = 0;
  private closed = false;
  private lastMs = 0;
  private readonly counters: CaptureStats = { frames: 0, framesWritten: 0, framesSkipped: 0, bytesWritten: 0, capped: false };

  constructor(o: CaptureOptions) {
    const max = o.maxBytes ?? 0;
    if (max !== 0 && !(Number.isFinite(max) && max >= MIN_CAPTURE_BYTES)) throw new RangeError(`capture size cap ${max} is not 0 (none) or at least ${MIN_CAPTURE_BYTES} bytes`);
    this.pcap = o.pcap ?? null;
    this.log = o.log ?? null;
    this.maxBytes = max === 0 ? Number.POSITIVE_INFINITY : max;
    this.timeOriginMs = o.timeOriginMs ?? 0;
    const options: PcapngOption[] = [];
    if (o.comment !== undefined && o.comment !== '') options.push(stringOption(Opt.COMMENT, o.comment));
    if (o.application !== undefined) options.push(stringOption(Opt.SHB_USERAPPL, o.application));
    this.emit(encodeSectionHeader(options));
  }

  /** Counters so far (a copy). */
  get stats(): CaptureStats {
    return { ...this.counters, bytesWritten: this.written };
  }

  /** Names the address of endpoint `id` (a simulated host, a driver's peer id). Throws on a malformed address. */
  setEndpoint(id: number, address: SocketAddress): void {
    this.endpoints.set(id, this.resolveAddress(address));
  }

  /** Adds a pcapng interface; throws when the size cap cannot even hold its description. */
  addInterface(o: CaptureInterfaceOptions): CaptureInterface {
    if (this.closed) throw new Error('the capture is closed');
    const options: PcapngOption[] = [stringOption(Opt.IF_NAME, o.name)];
    if (o.description !== undefined) options.push(stringOption(Opt.IF_DESCRIPTION, o.description));
    options.push({ code: Opt.IF_TSRESOL, value: Uint8Array.of(NS_PER_MS_RESOLUTION) });
    const idb = encodeInterfaceDescription(LINKTYPE_RAW, CAPTURE_SNAP_LENGTH_BYTES, options);
    if (this.written + idb.length + (this.interfaces.length + 1) * ISB_BYTES > this.maxBytes) {
      throw new RangeError(`a capture size cap of ${this.maxBytes} bytes cannot hold interface "${o.name}"`);
    }
    this.emit(idb);
    const flags = o.direction === 'inbound' ? EpbDirection.INBOUND : o.direction === 'outbound' ? EpbDirection.OUTBOUND : 0;
    const iface = new CaptureInterface(this, this.interfaces.length, o.name, flags);
    this.interfaces.push(iface);
    return iface;
  }

  /**
   * Records everything `link` drops or delivers on a new interface. An existing tracer keeps
   * being called (first). Endpoint ids the link carries must have been named with setEndpoint.
   */
  attachLink(link: Link, o: CaptureInterfaceOptions): CaptureInterface {
    if (this.attached.has(link)) throw new Error(`the link is already attached to this capture`);
    const iface = this.addInterface(o);
    const previous = link.tracer;
    const capture = this;
    const tracer: LinkTracer = {
      dropped(now, bytes, from, to, reason, sentAt) {
        previous?.dropped(now, bytes, from, to, reason, sentAt);
        const fate: LinkFate = { dropReason: reason, flags: 0, flippedBits: null, sentAtMs: sentAt, arrivedAtMs: null };
        capture.write(iface, now, bytes, from, to, describeFate(fate, link.config, bytes.length), fate);
      },
      delivered(now, bytes, from, to, sentAt, flags, flippedBits) {
        previous?.delivered(now, bytes, from, to, sentAt, flags, flippedBits);
        const fate: LinkFate = { dropReason: null, flags, flippedBits, sentAtMs: sentAt, arrivedAtMs: now };
        capture.write(iface, now, bytes, from, to, flags === 0 ? '' : describeFate(fate, link.config, bytes.length), fate);
      },
    };
    this.attached.set(link, previous);
    link.tracer = tracer;
    return iface;
  }

  /** Stops recording `link` and gives it back the tracer it had before. */
  detachLink(link: Link): void {
    const previous = this.attached.get(link);
    if (previous === undefined) return;
    link.tracer = previous;
    this.attached.delete(link);
  }

  /**
   * Detaches every link, writes one statistics block per interface (frames received and frames
   * cut by the size cap) at `endMs` (default: the last frame's time), flushes and closes the
   * sinks. Returns the final counters. Calling it again does nothing.
   */
  close(endMs?: number): CaptureStats {
    if (this.closed) return this.stats;
    for (const link of [...this.attached.keys()]) this.detachLink(link);
    const end = splitNanoseconds(this.timeOriginMs + (endMs ?? this.lastMs));
    for (const iface of this.interfaces) {
      const options: PcapngOption[] = [];
      const span = iface.span();
      if (span !== null) {
        options.push(timestampOption(Opt.ISB_STARTTIME, splitNanoseconds(span.first)));
        options.push(timestampOption(Opt.ISB_ENDTIME, splitNanoseconds(span.last)));
      }
      options.push(u64Option(Opt.ISB_IFRECV, iface.frames));
      options.push(u64Option(Opt.ISB_IFDROP, iface.framesSkipped));
      this.emit(encodeInterfaceStatistics(iface.id, end, options));
    }
    this.closed = true;
    this.pcap?.close();
    this.log?.close();
    return this.stats;
  }

  /** Writes buffered bytes of both sinks (the app does this before it copies a capture). */
  flush(): void {
    this.pcap?.flush();
    this.log?.flush();
  }

  private resolveAddress(a: SocketAddress): ResolvedEndpoint {
    const key = `${a.address}|${a.port}`;
    const hit = this.addressCache.get(key);
    if (hit !== undefined) return hit;
    const ip = parseIpAddress(a.address);
    if (ip === null) throw new RangeError(`"${a.address}" is not an IPv4 or IPv6 address`);
    if (!(Number.isInteger(a.port) && a.port >= 0 && a.port <= 65535)) throw new RangeError(`port ${a.port} is not from 0 to 65535`);
    const r = { ip, text: a.address, port: a.port };
    this.addressCache.set(key, r);
    return r;
  }

  private endpoint(a: CaptureAddress): ResolvedEndpoint {
    if (typeof a !== 'number') return this.resolveAddress(a);
    const e = this.endpoints.get(a);
    if (e === undefined) throw new Error(`capture: endpoint ${a} has no address (call setEndpoint first)`);
    return e;
  }

  private emit(block: Uint8Array): void {
    this.pcap?.write(block);
    this.written += block.length;
  }

  /** @internal Records one frame on `iface`. */
  write(iface: CaptureInterface, nowMs: number, bytes: Uint8Array, src: CaptureAddress, dst: CaptureAddress, comment: string, fate: LinkFate | null): void {
    if (this.closed) throw new Error('the capture is closed');
    const c = this.counters;
    c.frames++;
    iface.frames++;
    if (c.capped) {
      c.framesSkipped++;
      iface.framesSkipped++;
      return;
    }
    const s = this.endpoint(src);
    const d = this.endpoint(dst);
    const ms = this.timeOriginMs + nowMs;
    const packet = this.framer.frame(s.ip, s.port, d.ip, d.port, bytes);
    const options: PcapngOption[] = [];
    if (comment !== '') options.push(stringOption(Opt.COMMENT, comment));
    if (iface.flags !== 0) options.push(u32Option(Opt.EPB_FLAGS, iface.flags));
    if (this.written + enhancedPacketLength(packet.length, options) + this.interfaces.length * ISB_BYTES > this.maxBytes) {
      c.capped = true;
      c.framesSkipped++;
      iface.framesSkipped++;
      return;
    }
    this.emit(encodeEnhancedPacket(iface.id, splitNanoseconds(ms), packet, options));
    iface.seen(ms);
    this.lastMs = nowMs;
    c.framesWritten++;
    this.frameNumber++;
    if (this.log !== null) {
      const f = fate?.flags ?? 0;
      const entry: PacketLogEntry = {
        frame: this.frameNumber,
        timeMs: ms,
        interface: iface.name,
        src: s.text,
        srcPort: s.port,
        dst: d.text,
        dstPort: d.port,
        bytes: bytes.length,
        fate: fate === null ? 'recorded' : fate.dropReason === null ? 'delivered' : 'dropped',
        dropReason: fate?.dropReason ?? null,
        duplicate: (f & DeliveryFlag.DUPLICATE) !== 0,
        heldBack: (f & DeliveryFlag.HELD_BACK) !== 0,
        reordered: (f & DeliveryFlag.REORDERED) !== 0,
        corrupted: (f & DeliveryFlag.CORRUPTED) !== 0,
        flippedBits: fate === null || fate.flippedBits === null ? null : [...fate.flippedBits],
        sentAtMs: fate === null ? null : this.timeOriginMs + fate.sentAtMs,
        comment,
        lab: readLabFields(bytes),
      };
      this.log.write(this.encoder.encode(`${JSON.stringify(entry)}\n`));
    }
  }
}
