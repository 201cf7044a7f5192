// The passive end: one endpoint that answers SYNs and demultiplexes sessions by (peer address,
// connection id). A SYN is checked against the listener's caps before any state is kept, so a
// listener only ever talks with peers it agreed to, at rates and for times it agreed to.
//
// Replies are earned: until a peer proves that it receives at its address, the listener sends it
// at most three times the bytes it received from it (QUIC's anti-amplification limit, RFC 9000
// (8.1)), so a SYN with a forged source address cannot turn a listener into a reflector. A
// reliable peer proves its address by acknowledging the SYN-ACK, whose sequence number it could
// only learn by receiving it (the three-way handshake); a stream has no such proof, so its reports
// stay within the budget for the whole session (they are small beside the data that earns them).
//
// State is cheap to refuse and expensive to hold: sessions per address are limited, a reliable
// handshake that is not completed within seconds is forgotten (its SYN kept in a small ring, so
// a peer that answers late still gets its session back), and a stream ends when its data stops.

import type { Endpoint } from './endpoint.js';
import {
  Flag,
  HEADER_BYTES,
  PacketType,
  newHeader,
  parseInto,
  verifyChecksum,
  writeHeader,
  sealChecksum,
  type Header,
} from './wire/packet.js';
import { Service, decodeSynOptions, type SynOptions } from './wire/handshake.js';
import { Rng } from './util/rng.js';
import { IP_UDP_OVERHEAD_BYTES } from './impair/config.js';
import { DEFAULT_STREAM_IDLE_TIMEOUT_MS } from './stream/receiver.js';

/** One conversation a listener keeps. */
export interface Session {
  handleDatagram(now: number, bytes: Uint8Array): void;
  handleTimeout(now: number): void;
  pollTransmit(now: number): Uint8Array | null;
  pollTimeout(): number | null;
  /** Ends the session at once, telling the peer why. */
  abort(reason: string): void;
  /** True when the session has nothing more to do. */
  readonly finished: boolean;
}

/** What a listener accepts at most. */
export interface ListenerCaps {
  /** Sessions at the same time. */
  maxSessions: number;
  /** Sessions at the same time from one address (an IP address with any port, as the driver's addressOf tells). */
  maxSessionsPerAddress: number;
  /** Receive buffer one reliable session may ask for. */
  maxRcvBufferBytes: number;
  /** Send rate one stream may ask for, in datagrams. */
  maxStreamPacketsPerSecond: number;
  /** Send rate one stream may ask for, in bits of IP datagrams (28 bytes of IP and UDP headers counted), as `packetlab udp --rate` counts them. */
  maxStreamBitsPerSecond: number;
  /** Duration one stream may ask for. */
  maxStreamDurationMs: number;
  /** Lifetime of any session; it is aborted after that. */
  maxSessionMs: number;
  /** A reliable session whose peer has not acknowledged the SYN-ACK, and has sent nothing, for this long is forgotten. */
  handshakeTimeoutMs: number;
  /** A stream session ends when no datagram of it arrived for this long (at least four report intervals and four datagram gaps at its rate). */
  streamIdleTimeoutMs: number;
  /** Shortest report interval of a stream; a stream asking for less gets its reports this often. */
  minReportIntervalMs: number;
}

/**
 * Why a reliable session may not have a receive buffer of `rcvBufferBytes` under `caps`, or null:
 * the one rule for a SYN and for a live change of an open session.
 */
export function rcvBufferCapProblem(rcvBufferBytes: number, caps: Pick<ListenerCaps, 'maxRcvBufferBytes'>): string | null {
  return rcvBufferBytes > caps.maxRcvBufferBytes ? `rcvBufferBytes ${rcvBufferBytes} exceeds this listener's limit of ${caps.maxRcvBufferBytes} bytes` : null;
}

/**
 * Why a stream of `ratePacketsPerSecond` datagrams of `datagramBytes` may not run under a cap of
 * `maxBitsPerSecond`, or null. Bits are counted as `packetlab udp --rate` counts them (IP and UDP
 * headers included), and the cap allows what the sender makes of a rate at the cap: it rounds
 * packets per second to an integer, so `--rate 10M` may come out a few bits/s above 10M.
 */
export function streamBitRateCapProblem(ratePacketsPerSecond: number, datagramBytes: number, maxBitsPerSecond: number): string | null {
  const bitsPerDatagram = (datagramBytes + IP_UDP_OVERHEAD_BYTES) * 8;
  if (ratePacketsPerSecond <= Math.max(1, Math.round(maxBitsPerSecond / bitsPerDatagram))) return null;
  return `stream of ${ratePacketsPerSecond * bitsPerDatagram} bit/s (${ratePacketsPerSecond} packets/s of ${datagramBytes} B, IP and UDP headers counted) exceeds the listener cap of ${maxBitsPerSecond} bit/s`;
}

/** Caps of a listener nobody configured: generous for a lab machine, bounded for safety. */
export const DEFAULT_LISTENER_CAPS: Readonly<ListenerCaps> = Object.freeze({
  maxSessions: 16,
  // A quarter of the slots: one host (a flood of SYNs from its ports) cannot fill a listener, and a
  // lab client rarely runs more than a few transfers and streams to one listener at once.
  maxSessionsPerAddress: 4,
  maxRcvBufferBytes: 64 * 1024 * 1024,
  maxStreamPacketsPerSecond: 2_000_000,
  // Above what a Node process sends over loopback (about 2 Gbit/s), so only a cap set on purpose bites.
  maxStreamBitsPerSecond: 10e9,
  maxStreamDurationMs: 3_600_000,
  maxSessionMs: 3_600_000,
  // Counted from the peer's last datagram, so a client still retransmitting its SYN keeps its
  // session; a client that got the SYN-ACK answers within a round trip, and one whose answers are
  // lost for longer gets its session back from the SYN ring when one arrives.
  handshakeTimeoutMs: 10_000,
  // As long as a stream sender waits for a report before it stops (sender.ts): each end gives up
  // on a silent other end after the same time.
  streamIdleTimeoutMs: DEFAULT_STREAM_IDLE_TIMEOUT_MS,
  // Twenty reports a second are plenty to watch a stream by; every 10 ms a receiver would send a
  // small datagram a hundred times a second whatever the stream's own rate.
  minReportIntervalMs: 50,
});

/** What a session factory gets for a SYN that passed the caps. */
export interface SynContext {
  now: number;
  options: SynOptions;
  syn: Header;
  peer: number;
  rng: Rng;
  /** The listener's caps (a factory takes its sessions' limits from them). */
  caps: Readonly<ListenerCaps>;
}

/** Creates the session for an accepted SYN, or refuses it with a reason the peer will see. */
export type SessionFactory = (ctx: SynContext) => Session | { refuse: string };

/** What a listener reports. */
export type ListenerEvent =
  | {
      type: 'session-opened';
      peer: number;
      connectionId: number;
      /** The options the session runs with. */
      options: SynOptions;
      session: Session;
      /** What the listener changed of what the SYN asked for, and why; null when nothing. */
      note: string | null;
    }
  | { type: 'session-closed'; peer: number; connectionId: number; session: Session }
  | { type: 'refused'; peer: number; reason: string };

/** Counters of a listener (sessions count their own traffic). */
export class ListenerCounters {
  /** Datagrams for no known session. */
  stray = 0;
  /** Of those, datagrams whose checksum did not match. */
  checksumFailures = 0;
  /** Of those, datagrams that could not be parsed. */
  malformed = 0;
  /** SYNs refused (caps, bad options, factory refusal). */
  refused = 0;
  /** Sessions opened. */
  sessionsOpened = 0;
  /** Datagrams of sessions not sent: the peer had not earned them (three times its bytes, address not proven). */
  budgetDrops = 0;
  /** Bytes of those datagrams. */
  budgetDroppedBytes = 0;
  /** Reliable sessions forgotten because their peer did not complete the handshake in time. */
  handshakesTimedOut = 0;
  /** Of those, sessions opened again when the peer's late answer proved it had received the SYN-ACK. */
  handshakesRevived = 0;
}

/** How a listener is set up besides its caps. */
export interface ListenerOptions {
  /**
   * The address a peer id belongs to, for the limit of sessions per address: the IP address of a
   * socket address, so that the ports of one host count together. By default each peer id is an
   * address of its own (a simulated host).
   */
  addressOf?: (peer: number) => string | number;
}

interface Entry {
  key: number;
  peer: number;
  /** The peer's address (addressOf), whose session count this entry holds one of. */
  address: string | number;
  connectionId: number;
  openedAt: number;
  session: Session;
  /** A reliable session (its peer can prove its address by acknowledging the SYN-ACK). */
  reliable: boolean;
  /** Sequence number of the session's SYN-ACK, -1 until it is sent. */
  isn: number;
  /** The peer acknowledged the SYN-ACK: it receives at its address, and its replies are no longer budgeted. */
  proven: boolean;
  /** Bytes received from the peer for this session. */
  bytesIn: number;
  /** Bytes sent to the peer for this session. */
  bytesOut: number;
  /** When the last datagram of the peer arrived. */
  lastHeardAt: number;
  /** The SYN that opened the session (a reliable one's, kept for the ring of expired handshakes). */
  syn: Uint8Array | null;
}

/** Expired handshakes remembered: a ring of this many SYNs (about 60 bytes each). */
const EXPIRED_SYNS = 256;

/**
 * SYNs of reliable handshakes that timed out. A peer that answers after the timeout (its datagram
 * acknowledges the SYN-ACK's sequence number, so it did receive it) gets its session back, as with
 * SYN cookies, while the listener keeps neither a slot nor a timer for it. The session is opened
 * again from the same SYN with the same initial sequence number (see synSeed). Fixed size: under a
 * flood the oldest are forgotten, and their peers' late answers get an RST.
 */
class ExpiredSyns {
  private readonly keys = new Float64Array(EXPIRED_SYNS).fill(-1);
  private readonly isns = new Float64Array(EXPIRED_SYNS);
  private readonly syns: (Uint8Array | null)[] = new Array<Uint8Array | null>(EXPIRED_SYNS).fill(null);
  private readonly slotOf = new Map<number, number>();
  private next = 0;

  remember(key: number, isn: number, syn: Uint8Array): void {
    this.forget(key);
    const i = this.next;
    this.next = (i + 1) % EXPIRED_SYNS;
    if (this.keys[i]! >= 0) this.slotOf.delete(this.keys[i]!);
    this.keys[i] = key;
    this.isns[i] = isn;
    this.syns[i] = syn;
    this.slotOf.set(key, i);
  }

  /** The SYN of `key` when `ack` acknowledges its SYN-ACK (it is then forgotten), else null. */
  take(key: number, ack: number): Uint8Array | null {
    const i = this.slotOf.get(key);
    if (i === undefined || ack !== ((this.isns[i]! + 1) >>> 0)) return null;
    const syn = this.syns[i]!;
    this.clear(i);
    return syn;
  }

  forget(key: number): void {
    const i = this.slotOf.get(key);
    if (i !== undefined) this.clear(i);
  }

  private clear(i: number): void {
    this.slotOf.delete(this.keys[i]!);
    this.keys[i] = -1;
    this.syns[i] = null;
  }
}

/**
 * Seed of the generator a session factory draws from (its initial sequence number): a function of
 * the listener's secret seed and the SYN, so that a session opened again from the same SYN (a
 * revived handshake, or a SYN retransmitted after its handshake was forgotten) has the same
 * sequence numbers as the SYN-ACKs the peer may already hold.
 */
function synSeed(secret: number, peer: number, connectionId: number, seq: number): number {
  let h = secret >>> 0;
  for (const v of [peer >>> 0, Math.floor(peer / 4294967296), connectionId, seq]) {
    h = Math.imul(h ^ v, 0x9e3779b1);
    h ^= h >>> 15;
    h = Math.imul(h, 0x85ebca6b);
    h ^= h >>> 13;
  }
  return h >>> 0;
}

/**
 * Anti-amplification (RFC 9000 (8.1)): to an address that has not proven itself, at most three
 * times the bytes it sent. The window is the session's life: every byte a listener sends belongs
 * to a session (paid from what its peer sent that session) or is a refusal (at most three times the
 * datagram it answers), so per address the sum stays within three times what it sent. A session's
 * life is itself bounded (handshake, idle and duration limits), and the budget costs two numbers
 * per session, nothing per address or per datagram.
 */
const AMPLIFICATION_FACTOR = 3;
const MAX_PENDING_CONTROL = 64;

const encoder = new TextEncoder();

function readU32(b: Uint8Array, i: number): number {
  return ((b[i]! << 24) | (b[i + 1]! << 16) | (b[i + 2]! << 8) | b[i + 3]!) >>> 0;
}

/** A listener endpoint. */
export class Listener implements Endpoint {
  readonly counters = new ListenerCounters();
  transmitTo = 0;

  private readonly caps: ListenerCaps;
  private readonly factory: SessionFactory;
  private readonly secret: number;
  private readonly expired = new ExpiredSyns();
  private readonly synHdr: Header = newHeader();
  private readonly byKey = new Map<number, Entry>();
  private readonly list: Entry[] = [];
  private rr = 0;
  private readonly events: ListenerEvent[] = [];
  private readonly pending: { bytes: Uint8Array; to: number }[] = [];
  private readonly hdr: Header = newHeader();
  private readonly addressOf: (peer: number) => string | number;
  /** Open sessions of each address that has one (its size is bounded by maxSessions). */
  private readonly perAddress = new Map<string | number, number>();
  /** Open sessions of each peer id that has one (bounded likewise). */
  private readonly perPeer = new Map<number, number>();

  constructor(caps: ListenerCaps, factory: SessionFactory, seed: number, o: ListenerOptions = {}) {
    this.caps = caps;
    this.factory = factory;
    this.secret = seed >>> 0;
    this.addressOf = o.addressOf ?? ((peer) => peer);
  }

  /** Sessions open now. */
  get sessionCount(): number {
    return this.list.length;
  }

  /** Whether peer `peer` has an open session (a driver must not give its id to another address). */
  hasSession(peer: number): boolean {
    return this.perPeer.has(peer);
  }

  /** Next listener event, or null. */
  pollEvent(): ListenerEvent | null {
    return this.events.length > 0 ? this.events.shift()! : null;
  }

  handleDatagram(now: number, bytes: Uint8Array, from: number): void {
    if (bytes.length >= 12) {
      const id = ((bytes[8]! << 24) | (bytes[9]! << 16) | (bytes[10]! << 8) | bytes[11]!) >>> 0;
      const entry = this.byKey.get(from * 4294967296 + id);
      if (entry !== undefined) {
        entry.bytesIn += bytes.length;
        entry.lastHeardAt = now;
        if (!entry.proven && entry.isn >= 0) this.checkProof(entry, bytes);
        entry.session.handleDatagram(now, bytes);
        return;
      }
    }
    const c = this.counters;
    c.stray++;
    if (!verifyChecksum(bytes, bytes.length)) {
      if (bytes.length >= HEADER_BYTES) c.checksumFailures++;
      else c.malformed++;
      return;
    }
    const h = this.hdr;
    if (parseInto(bytes, bytes.length, h) !== null) {
      c.malformed++;
      return;
    }
    if (h.type === PacketType.SYN) {
      this.onSyn(now, h, bytes, from, null);
    } else if (h.type !== PacketType.RST) {
      if ((h.flags & Flag.ACK) !== 0 && this.revive(now, h, bytes, from)) return;
      this.queueRst(h.connectionId, from, '', bytes.length);
    }
  }

  /** Opens again the session of an expired handshake whose peer's datagram `bytes` acknowledges its SYN-ACK; false when there is none. */
  private revive(now: number, h: Header, bytes: Uint8Array, from: number): boolean {
    const syn = this.expired.take(from * 4294967296 + h.connectionId, h.ack);
    if (syn === null) return false;
    // The ring holds SYNs that parsed when they arrived.
    parseInto(syn, syn.length, this.synHdr);
    this.onSyn(now, this.synHdr, syn, from, bytes);
    return true;
  }

  handleTimeout(now: number): void {
    // Backwards: an expired handshake leaves the list at once.
    for (let i = this.list.length - 1; i >= 0; i--) {
      const e = this.list[i]!;
      if (e.reliable && !e.proven && now - e.lastHeardAt >= this.caps.handshakeTimeoutMs && !e.session.finished) this.expire(e);
    }
    for (const e of this.list) {
      if (now - e.openedAt >= this.caps.maxSessionMs && !e.session.finished) {
        e.session.abort(`session exceeded the listener's limit of ${this.caps.maxSessionMs / 1000} s`);
      }
      const t = e.session.pollTimeout();
      if (t !== null && t <= now) e.session.handleTimeout(now);
    }
  }

  pollTransmit(now: number): Uint8Array | null {
    const p = this.pending.shift();
    if (p !== undefined) {
      this.transmitTo = p.to;
      return p.bytes;
    }
    const n = this.list.length;
    for (let i = 0; i < n && this.list.length > 0; i++) {
      if (this.rr >= this.list.length) this.rr = 0;
      const e = this.list[this.rr]!;
      let dg = e.session.pollTransmit(now);
      // A datagram the peer has not earned is dropped as a lossy path would drop it: a reliable
      // session retransmits it later, a stream's next report carries the counters anyway.
      while (dg !== null && !this.spend(e, dg)) dg = e.session.pollTransmit(now);
      if (dg !== null) {
        this.transmitTo = e.peer;
        // Stay on this session while it has datagrams; the next call moves on.
        return dg;
      }
      if (e.session.finished) {
        this.remove(e);
      } else {
        this.rr++;
      }
    }
    return null;
  }

  pollTimeout(): number | null {
    let min: number | null = null;
    for (const e of this.list) {
      const t = e.session.pollTimeout();
      if (t !== null && (min === null || t < min)) min = t;
      const cap = e.openedAt + this.caps.maxSessionMs;
      if (!e.session.finished && (min === null || cap < min)) min = cap;
      if (e.reliable && !e.proven && !e.session.finished) {
        const expiry = e.lastHeardAt + this.caps.handshakeTimeoutMs;
        if (min === null || expiry < min) min = expiry;
      }
    }
    return min;
  }

  /**
   * Forgets a handshake the peer did not complete in time. Nothing is sent: the peer never proved
   * it is at its address, and a live one comes back by itself (its next SYN opens the session
   * again, its late ACK revives it from the ring).
   */
  private expire(e: Entry): void {
    this.counters.handshakesTimedOut++;
    e.session.abort(`no answer to the SYN-ACK within ${this.caps.handshakeTimeoutMs / 1000} s: handshake timed out`);
    if (e.isn >= 0 && e.syn !== null) this.expired.remember(e.key, e.isn, e.syn);
    this.remove(e);
  }

  /** `proof`: the late datagram that revives an expired handshake (the session is opened proven, and gets it after the SYN). */
  private onSyn(now: number, h: Header, bytes: Uint8Array, from: number, proof: Uint8Array | null): void {
    const decoded = decodeSynOptions(bytes.subarray(h.payloadOffset, h.payloadOffset + h.payloadLength));
    let reason: string | null = null;
    const address = this.addressOf(from);
    const fromAddress = this.perAddress.get(address) ?? 0;
    if (!decoded.ok) reason = decoded.error;
    else if (fromAddress >= this.caps.maxSessionsPerAddress) reason = `${fromAddress} session${fromAddress === 1 ? '' : 's'} from this address ${fromAddress === 1 ? 'is' : 'are'} open, the most this listener allows per address`;
    else if (this.list.length >= this.caps.maxSessions) reason = `listener is full (${this.caps.maxSessions} sessions)`;
    else reason = this.checkCaps(decoded.options);
    let note: string | null = null;
    if (reason === null && decoded.ok && decoded.options.service === Service.STREAM && decoded.options.reportIntervalMs < this.caps.minReportIntervalMs) {
      // Raised rather than refused: a sender waits max(2 s, five intervals) for a report before it
      // stops, so reports at the floor keep a sender that asked for fewer milliseconds going, and
      // `packetlab udp --interval 10` still runs. The session-opened event says so.
      note = `report interval raised from ${decoded.options.reportIntervalMs} ms to this listener's floor of ${this.caps.minReportIntervalMs} ms`;
      decoded.options.reportIntervalMs = this.caps.minReportIntervalMs;
    }
    if (reason === null && decoded.ok) {
      const rng = new Rng(synSeed(this.secret, from, h.connectionId, h.seq));
      const made = this.factory({ now, options: decoded.options, syn: h, peer: from, rng, caps: this.caps });
      if ('refuse' in made) {
        reason = made.refuse;
      } else {
        const reliable = decoded.options.service !== Service.STREAM;
        const entry: Entry = {
          key: from * 4294967296 + h.connectionId,
          peer: from,
          address,
          connectionId: h.connectionId,
          openedAt: now,
          session: made,
          reliable,
          isn: -1,
          proven: false,
          bytesIn: bytes.length,
          bytesOut: 0,
          lastHeardAt: now,
          syn: reliable ? (proof === null ? bytes.slice() : bytes) : null,
        };
        this.byKey.set(entry.key, entry);
        this.list.push(entry);
        this.perAddress.set(address, fromAddress + 1);
        this.perPeer.set(from, (this.perPeer.get(from) ?? 0) + 1);
        this.counters.sessionsOpened++;
        this.expired.forget(entry.key);
        this.events.push({ type: 'session-opened', peer: from, connectionId: h.connectionId, options: decoded.options, session: made, note });
        made.handleDatagram(now, bytes);
        if (proof !== null) {
          this.counters.handshakesRevived++;
          entry.proven = true;
          entry.bytesIn += proof.length;
          made.handleDatagram(now, proof);
        }
        return;
      }
    }
    this.counters.refused++;
    this.events.push({ type: 'refused', peer: from, reason: reason ?? 'refused' });
    this.queueRst(h.connectionId, from, reason ?? 'refused', bytes.length);
  }

  /** Counts `dg` against the session's budget; false when the peer has not earned it (it is then not sent). */
  private spend(e: Entry, dg: Uint8Array): boolean {
    if (e.reliable && e.isn < 0 && dg.length >= HEADER_BYTES && dg[3] === PacketType.SYN_ACK) e.isn = readU32(dg, 12);
    if (!e.proven && e.bytesOut + dg.length > AMPLIFICATION_FACTOR * e.bytesIn) {
      this.counters.budgetDrops++;
      this.counters.budgetDroppedBytes += dg.length;
      return false;
    }
    e.bytesOut += dg.length;
    return true;
  }

  /**
   * A reliable peer is proven once it acknowledges the SYN-ACK: in SYN-RECEIVED the session has
   * sent nothing else, so its first ACK carries exactly the SYN-ACK's sequence number plus one, a
   * number a host that forges its source address never sees.
   */
  private checkProof(e: Entry, bytes: Uint8Array): void {
    if (bytes.length < HEADER_BYTES) return;
    const type = bytes[3];
    if (type === PacketType.SYN || type === PacketType.RST || (bytes[4]! & Flag.ACK) === 0) return;
    if (readU32(bytes, 16) !== ((e.isn + 1) >>> 0) || !verifyChecksum(bytes, bytes.length)) return;
    e.proven = true;
  }

  private checkCaps(o: SynOptions): string | null {
    const caps = this.caps;
    if (o.service !== Service.STREAM) {
      if (o.mssBytes < 16 || o.mssBytes > 65000) return `MSS ${o.mssBytes} is outside 16..65000`;
      if (o.rcvBufferBytes < o.mssBytes) return `receive buffer ${o.rcvBufferBytes} is smaller than the MSS ${o.mssBytes}`;
      const overCap = rcvBufferCapProblem(o.rcvBufferBytes, caps);
      if (overCap !== null) return overCap;
      if (o.ackEveryPackets < 1 || o.ackEveryPackets > 64) return `ack-every ${o.ackEveryPackets} is outside 1..64`;
      if (o.ackDelayMs > 1000) return `ack delay ${o.ackDelayMs} ms exceeds 1000 ms`;
      return null;
    }
    if (o.datagramBytes < HEADER_BYTES || o.datagramBytes > 65507) return `datagram size ${o.datagramBytes} is outside ${HEADER_BYTES}..65507`;
    if (o.ratePacketsPerSecond < 1 || o.ratePacketsPerSecond > caps.maxStreamPacketsPerSecond) return `rate ${o.ratePacketsPerSecond} packets/s is outside the listener cap of 1..${caps.maxStreamPacketsPerSecond}`;
    const overBits = streamBitRateCapProblem(o.ratePacketsPerSecond, o.datagramBytes, caps.maxStreamBitsPerSecond);
    if (overBits !== null) return overBits;
    if (o.durationMs < 1 || o.durationMs > caps.maxStreamDurationMs) return `duration ${o.durationMs} ms is outside the listener cap of 1..${caps.maxStreamDurationMs} ms`;
    if (o.reportIntervalMs < 10 || o.reportIntervalMs > 10_000) return `report interval ${o.reportIntervalMs} ms is outside 10..10000 ms`;
    return null;
  }

  private queueRst(connectionId: number, to: number, reason: string, answeringBytes: number): void {
    if (this.pending.length >= MAX_PENDING_CONTROL) return;
    let text = encoder.encode(reason);
    const room = Math.max(0, answeringBytes * AMPLIFICATION_FACTOR - HEADER_BYTES);
    if (text.length > room) text = text.subarray(0, room);
    const out = new Uint8Array(HEADER_BYTES + text.length);
    writeHeader(out, { type: PacketType.RST, flags: 0, connectionId, seq: 0, ack: 0, windowBytes: 0, tsVal: 0, tsEcr: 0, sackCount: 0, sack: [] }, text.length);
    out.set(text, HEADER_BYTES);
    sealChecksum(out, out.length);
    this.pending.push({ bytes: out, to });
  }

  private remove(e: Entry): void {
    this.byKey.delete(e.key);
    const n = this.perAddress.get(e.address)! - 1;
    if (n > 0) this.perAddress.set(e.address, n);
    else this.perAddress.delete(e.address);
    const m = this.perPeer.get(e.peer)! - 1;
    if (m > 0) this.perPeer.set(e.peer, m);
    else this.perPeer.delete(e.peer);
    const i = this.list.indexOf(e);
    if (i >= 0) this.list.splice(i, 1);
    this.events.push({ type: 'session-closed', peer: e.peer, connectionId: e.connectionId, session: e.session });
  }
}
