// One direction of an emulated link: the lab's own netem, sans-IO. Datagrams go in with send()
// and come out of pollDeliver() when their arrival time has come. Both drivers use it: the
// simulator between endpoints, the UDP driver between an engine and its socket.
//
// Stages, in order, for every datagram (docs/wire.md, "Impairment"):
//   1. MTU: too long for the link's MTU -> dropped ('mtu').
//   2. Loss: Bernoulli ('random'), then Gilbert-Elliott ('burst').
//   3. Duplication: the datagram may be sent twice; each copy goes through the stages below.
//   4. Bottleneck: a drop-tail queue in front of a link of rateBitsPerSecond ('queue' when full).
//   5. Delay: delayMs plus jitter; jitter alone never reorders (arrivals keep their order), while a
//      reordered datagram (reorderProbability) is held back by reorderDelayMs and overtaken.
//   6. Corruption: corruptBits random bits of the copy are flipped.
// Datagrams are copied into pooled buffers on send; the caller releases each delivered handle.
//
// Each random stage draws from its own generator, derived from the link's seed, and draws for
// every datagram offered (and for every copy of a duplicated one) whatever the other stages
// decide: its k-th decision always concerns the k-th datagram. A drop by the queue, which
// depends on timing and so differs between real sockets and the simulator, therefore shifts no
// other decision: the same seed gives each datagram the same fate at every other stage.

import { IP_UDP_OVERHEAD_BYTES, type ImpairmentConfig } from './config.js';
import { deriveSeed, Rng } from '../util/rng.js';
import { LinkCounters } from './counters.js';

/** Why the link dropped a datagram. */
export type DropReason = 'random' | 'burst' | 'queue' | 'mtu' | 'memory' | 'manual';

/** Flags of a delivered datagram, for tracers. */
export const DeliveryFlag = { DUPLICATE: 1, CORRUPTED: 2, REORDERED: 4, HELD_BACK: 8 } as const;

// Marks of what a user did by hand to a datagram in flight (teaching mode). They are internal:
// tracers see DUPLICATE and CORRUPTED as for the link's own actions, and a dropped one as dropped.
const MANUAL_DROP = 16;
// The flags tracers see.
const PUBLIC_FLAGS = DeliveryFlag.DUPLICATE | DeliveryFlag.CORRUPTED | DeliveryFlag.REORDERED | DeliveryFlag.HELD_BACK;
const MANUAL_CORRUPT = 32;
const MANUAL_COPY = 64;
const MANUAL_DELAY = 128;

/** What a user can do by hand to a datagram in flight. */
export type ManualAction = 'drop' | 'corrupt' | 'duplicate' | 'delay';

/** A datagram on its way (teaching mode's packet ladder). */
export interface InFlightDatagram {
  /** Position among the datagrams offered to this link (copies of a duplicated one share it). */
  index: number;
  duplicate: boolean;
  from: number;
  to: number;
  sentAt: number;
  arriveAt: number;
  bytes: Uint8Array;
}

/** The generators of the stages a datagram's copies pass one by one (one set per copy). */
interface CopyStreams {
  readonly jitter: Rng;
  readonly reorder: Rng;
  readonly corrupt: Rng;
}

function copyStreams(seed: number, copy: string): CopyStreams {
  return { jitter: new Rng(deriveSeed(seed, `jitter${copy}`)), reorder: new Rng(deriveSeed(seed, `reorder${copy}`)), corrupt: new Rng(deriveSeed(seed, `corrupt${copy}`)) };
}

/** Optional observer of every datagram's fate (packet ladder, pcap capture). */
export interface LinkTracer {
  /**
   * A datagram was dropped at `now`. `sentAt` is when it was sent: for every reason but 'manual'
   * that is `now`; a datagram dropped by hand in flight is reported when it would have arrived.
   */
  dropped(now: number, bytes: Uint8Array, from: number, to: number, reason: DropReason, sentAt: number): void;
  /**
   * A datagram arrived. `flippedBits` lists the bits a corruption changed, ascending (bit i is
   * `1 << (i % 8)` of byte `i >> 3`), or is null when the copy is not corrupted or the tracer was
   * attached after the corruption happened.
   */
  delivered(now: number, bytes: Uint8Array, from: number, to: number, sentAt: number, flags: number, flippedBits: readonly number[] | null): void;
}

const INITIAL_SLOTS = 64;
/** Most bytes one link holds in flight (queue and delay line together). */
export const LINK_MEMORY_CAP_BYTES = 256 * 1024 * 1024;

/** One direction of an emulated link. */
export class Link {
  /** Counters since creation. */
  readonly counters = new LinkCounters();
  /** Optional observer of drops and deliveries. */
  tracer: LinkTracer | null = null;

  private cfg: ImpairmentConfig;
  // One generator per stage (see the top of the file). A duplicate copy has generators of its
  // own, so that duplicating a datagram shifts no later datagram's jitter, reordering or corruption.
  private readonly lossRng: Rng;
  private readonly burstRng: Rng;
  private readonly duplicateRng: Rng;
  private readonly firstCopy: CopyStreams;
  private readonly duplicateCopy: CopyStreams;
  private burstBad = false;
  // What drawCopy drew for the copy at hand besides its flags: its jitter, and how many of the
  // bits in `flipped` to flip.
  private copyJitterMs = 0;
  private copyFlips = 0;

  // Bottleneck: departures of the datagrams still queued, FIFO.
  private busyUntil = 0;
  private qDepart = new Float64Array(INITIAL_SLOTS);
  private qBytes = new Int32Array(INITIAL_SLOTS);
  private qHead = 0;
  private qCount = 0;
  private qTotalBytes = 0;
  private lastArrival = 0;

  // In-flight datagrams: slot store plus a binary min-heap on (arrival, order).
  private slotData: (Uint8Array | null)[] = new Array<Uint8Array | null>(INITIAL_SLOTS).fill(null);
  private slotTo = new Int32Array(INITIAL_SLOTS);
  private slotFrom = new Int32Array(INITIAL_SLOTS);
  private slotIndex = new Float64Array(INITIAL_SLOTS);
  private slotSentAt = new Float64Array(INITIAL_SLOTS);
  private slotFlags = new Uint8Array(INITIAL_SLOTS);
  // Arrival time and tie-break order of each datagram, kept so that a change by hand moves it
  // exactly where a replay of the same change puts it.
  private slotArrive = new Float64Array(INITIAL_SLOTS);
  private slotOrder = new Float64Array(INITIAL_SLOTS);
  private freeSlots = new Int32Array(INITIAL_SLOTS);
  private freeCount = 0;
  private slotsUsed = 0;
  private heapSlot = new Int32Array(INITIAL_SLOTS);
  private heapTime = new Float64Array(INITIAL_SLOTS);
  private heapOrder = new Float64Array(INITIAL_SLOTS);
  private heapSize = 0;
  private orderCounter = 0;
  private sendIndex = 0;
  private maxDeliveredIndex = -1;
  private bytesInFlight = 0;
  private readonly flipped = new Int32Array(64);
  // Bits flipped in corrupted datagrams in flight, by slot, kept only while a tracer listens.
  private readonly flips = new Map<number, number[]>();
  private readonly pool = new Map<number, Uint8Array[]>();
  private poolLen = -1;
  private poolList: Uint8Array[] = [];
  // Datagrams due at once while nothing else is in flight skip the heap (the common case of a
  // link with no delay): a FIFO of slots.
  private fifo = new Int32Array(INITIAL_SLOTS);
  private fifoHead = 0;
  private fifoCount = 0;

  constructor(config: ImpairmentConfig, seed: number) {
    this.cfg = { ...config };
    this.lossRng = new Rng(deriveSeed(seed, 'loss'));
    this.burstRng = new Rng(deriveSeed(seed, 'burst'));
    this.duplicateRng = new Rng(deriveSeed(seed, 'duplicate'));
    this.firstCopy = copyStreams(seed, '');
    this.duplicateCopy = copyStreams(seed, ' duplicate');
  }

  /** The current impairment (a copy). */
  get config(): ImpairmentConfig {
    return { ...this.cfg };
  }

  /** Changes impairments while traffic flows; datagrams already in flight keep their fate. */
  reconfigure(changes: Partial<ImpairmentConfig>): void {
    this.cfg = { ...this.cfg, ...changes };
  }

  /** Datagrams waiting in the bottleneck queue at `now`. */
  queuedPackets(now: number): number {
    this.expireQueue(now);
    return this.qCount;
  }

  /** Bytes waiting in the bottleneck queue at `now`. */
  queuedBytes(now: number): number {
    this.expireQueue(now);
    return this.qTotalBytes;
  }

  /** Datagrams in flight (queued or on the delay line). */
  get inFlightPackets(): number {
    return this.heapSize + this.fifoCount;
  }

  /** Offers a datagram from `from` to `to` at time `now`. The bytes are copied. */
  send(now: number, bytes: Uint8Array, from: number, to: number): void {
    const c = this.counters;
    const cfg = this.cfg;
    const len = bytes.length;
    c.offeredPackets++;
    c.offeredBytes += len;
    const index = this.sendIndex++;
    // Every stage draws before any drops the datagram (see the top of the file).
    const lost = cfg.lossProbability > 0 && this.lossRng.uniform() < cfg.lossProbability;
    const burstLost = (cfg.burstEnterProbability > 0 || this.burstBad) && this.burstLoses();
    const copies = cfg.duplicateProbability > 0 && this.duplicateRng.uniform() < cfg.duplicateProbability ? 2 : 1;
    if (cfg.mtuBytes > 0 && len + IP_UDP_OVERHEAD_BYTES > cfg.mtuBytes) {
      c.dropsMtu++;
      this.dropBeforeQueue(now, bytes, from, to, 'mtu', copies);
      return;
    }
    if (lost) {
      c.dropsRandom++;
      this.dropBeforeQueue(now, bytes, from, to, 'random', copies);
      return;
    }
    if (burstLost) {
      c.dropsBurst++;
      this.dropBeforeQueue(now, bytes, from, to, 'burst', copies);
      return;
    }
    for (let k = 0; k < copies; k++) {
      if (k === 1) c.duplicated++;
      this.enqueue(now, bytes, from, to, index, k);
    }
  }

  /** Drops a datagram before the queue, drawing what its copies would have drawn after it. */
  private dropBeforeQueue(now: number, bytes: Uint8Array, from: number, to: number, reason: DropReason, copies: number): void {
    for (let k = 0; k < copies; k++) this.drawCopy(k, bytes.length);
    this.tracer?.dropped(now, bytes, from, to, reason, now);
  }

  /**
   * One step of Gilbert-Elliott as netem's gemodel: the state at arrival decides the loss, after
   * the transition for the next datagram has been drawn. True when the datagram is lost.
   */
  private burstLoses(): boolean {
    const cfg = this.cfg;
    const rng = this.burstRng;
    const bad = this.burstBad;
    if (bad) {
      if (rng.uniform() < cfg.burstExitProbability) this.burstBad = false;
    } else if (rng.uniform() < cfg.burstEnterProbability) {
      this.burstBad = true;
    }
    const p = bad ? cfg.burstLossBad : cfg.burstLossGood;
    return p > 0 && rng.uniform() < p;
  }

  /**
   * Draws the fate of copy `k` (0, or 1 for the duplicate) of a datagram of `len` bytes at the
   * stages after the queue, and returns it as flags (HELD_BACK, CORRUPTED); its jitter goes to
   * copyJitterMs when jitter is on, the bits to flip to `flipped`. Drawn for every copy, even
   * one dropped before those stages, so that no drop shifts them.
   */
  private drawCopy(k: number, len: number): number {
    const cfg = this.cfg;
    const s = k === 0 ? this.firstCopy : this.duplicateCopy;
    if (cfg.jitterMs > 0) this.copyJitterMs = cfg.jitterDistribution === 'normal' ? s.jitter.normal() * cfg.jitterMs : (s.jitter.uniform() * 2 - 1) * cfg.jitterMs;
    let drawn = 0;
    if (cfg.reorderProbability > 0 && s.reorder.uniform() < cfg.reorderProbability) drawn = DeliveryFlag.HELD_BACK;
    if (cfg.corruptProbability > 0 && s.corrupt.uniform() < cfg.corruptProbability) {
      this.pickFlips(s.corrupt, len);
      drawn |= DeliveryFlag.CORRUPTED;
    }
    return drawn;
  }

  /** Draws the bits a corruption flips into `flipped` (copyFlips of them), distinct. */
  private pickFlips(rng: Rng, len: number): void {
    // Distinct positions: flipping one bit twice would give back the original datagram.
    const bits = len * 8;
    const n = Math.min(this.cfg.corruptBits, bits);
    const picked = this.flipped;
    for (let i = 0; i < n; i++) {
      let bit = rng.below(bits);
      for (let j = 0; j < i; j++) {
        if (picked[j] === bit) {
          bit = rng.below(bits);
          j = -1;
        }
      }
      picked[i] = bit;
    }
    this.copyFlips = n;
  }

  /** Earliest arrival time in flight, or null when the link is empty. */
  pollTimeout(): number | null {
    if (this.fifoCount > 0) return this.fifoTime;
    return this.heapSize > 0 ? this.heapTime[0]! : null;
  }

  private fifoTime = 0;

  /**
   * The handle of the next datagram that has arrived by `now`, or -1. Read it with data(), to()
   * and from(), then give it back with release().
   */
  pollDeliver(now: number): number {
    for (;;) {
      const slot = this.pollDeliverOne(now);
      if (slot < 0 || (this.slotFlags[slot]! & MANUAL_DROP) === 0) return slot;
      // Dropped by hand while in flight: it never arrives.
      this.counters.dropsManual++;
      this.tracer?.dropped(now, this.slotData[slot]!, this.slotFrom[slot]!, this.slotTo[slot]!, 'manual', this.slotSentAt[slot]!);
      this.flips.delete(slot);
      this.release(slot);
    }
  }

  /** The datagrams in flight (queued or on the delay line), earliest arrival first. */
  inFlight(): InFlightDatagram[] {
    const out: InFlightDatagram[] = [];
    const add = (slot: number, arriveAt: number) => {
      const data = this.slotData[slot];
      if (data === null || data === undefined || (this.slotFlags[slot]! & MANUAL_DROP) !== 0) return;
      out.push({ index: this.slotIndex[slot]!, duplicate: (this.slotFlags[slot]! & DeliveryFlag.DUPLICATE) !== 0, from: this.slotFrom[slot]!, to: this.slotTo[slot]!, sentAt: this.slotSentAt[slot]!, arriveAt, bytes: data });
    };
    for (let i = 0; i < this.fifoCount; i++) add(this.fifo[(this.fifoHead + i) & (this.fifo.length - 1)]!, this.fifoTime);
    for (let i = 0; i < this.heapSize; i++) add(this.heapSlot[i]!, this.heapTime[i]!);
    return out.sort((a, b) => a.arriveAt - b.arriveAt || a.index - b.index);
  }

  /** Where a datagram in flight is: ['fifo', position] or ['heap', position], or null. */
  private find(index: number, duplicate: boolean): [where: 'fifo' | 'heap', at: number, slot: number] | null {
    const match = (slot: number) =>
      this.slotData[slot] !== null && this.slotIndex[slot] === index && ((this.slotFlags[slot]! & DeliveryFlag.DUPLICATE) !== 0) === duplicate && (this.slotFlags[slot]! & MANUAL_DROP) === 0;
    for (let i = 0; i < this.fifoCount; i++) {
      const slot = this.fifo[(this.fifoHead + i) & (this.fifo.length - 1)]!;
      if (match(slot)) return ['fifo', i, slot];
    }
    for (let i = 0; i < this.heapSize; i++) {
      const slot = this.heapSlot[i]!;
      if (match(slot)) return ['heap', i, slot];
    }
    return null;
  }

  /** Drops a datagram in flight (see act). */
  dropInFlight(index: number, duplicate = false): boolean {
    return this.act(index, duplicate, 'drop');
  }

  /**
   * Does something by hand to a datagram in flight, found by its index (and whether it is the
   * duplicate copy): drops it (it never arrives; tracers hear a 'manual' drop when it would
   * have), corrupts it (bits flipped, chosen by its index), duplicates it (a copy arrives right
   * after it) or delays it by `delayMs`. False when no such datagram is in flight. Each action
   * puts the datagram exactly where actWhenSent, replaying it, would.
   */
  act(index: number, duplicate: boolean, action: ManualAction, delayMs = 0): boolean {
    const found = this.find(index, duplicate);
    if (found === null) return false;
    const [where, at, slot] = found;
    if (action === 'drop') this.slotFlags[slot] = this.slotFlags[slot]! | MANUAL_DROP;
    else if (action === 'corrupt') this.corruptByHand(slot);
    else if (action === 'duplicate') {
      if (where === 'heap') this.copyByHand(slot);
      else this.copyIntoFifoAfter(slot, at);
    } else {
      if (!(delayMs > 0)) throw new RangeError(`a delay must be positive (got ${delayMs})`);
      if (where === 'heap') this.heapRemoveAt(at);
      else this.fifoRemoveAt(at);
      this.slotFlags[slot] = this.slotFlags[slot]! | MANUAL_DELAY | DeliveryFlag.HELD_BACK;
      this.slotArrive[slot] = this.slotArrive[slot]! + delayMs;
      this.heapPush(slot, this.slotArrive[slot]!, this.slotOrder[slot]!);
    }
    return true;
  }

  /** Replays a change by hand: applies it to the datagram with this index when it is offered. */
  actWhenSent(index: number, duplicate: boolean, action: ManualAction, delayMs = 0): void {
    if (action === 'delay' && !(delayMs > 0)) throw new RangeError(`a delay must be positive (got ${delayMs})`);
    this.planned.set(plannedKey(index, duplicate), { action, delayMs });
  }

  private readonly planned = new Map<number, { action: ManualAction; delayMs: number }>();

  /** Told when a change planned with actWhenSent is done, at the time its datagram is offered (the runner logs it). */
  onPlannedDone: ((now: number, index: number, duplicate: boolean, action: ManualAction, delayMs: number) => void) | null = null;

  /** Flips bits of a datagram in flight, at positions its index decides (so a replay flips the same). */
  private corruptByHand(slot: number): void {
    const data = this.slotData[slot]!;
    const bits = data.length * 8;
    if (bits === 0) return;
    const n = Math.min(Math.max(1, this.cfg.corruptBits), bits);
    const before = this.tracer !== null ? data.slice() : null;
    const picked: number[] = [];
    let bit = (this.slotIndex[slot]! * 40503) % bits;
    while (picked.length < n) {
      while (picked.includes(bit)) bit = (bit + 1) % bits;
      picked.push(bit);
      data[bit >>> 3] = data[bit >>> 3]! ^ (1 << (bit & 7));
      bit = (bit + 9973) % bits;
    }
    this.slotFlags[slot] = this.slotFlags[slot]! | DeliveryFlag.CORRUPTED | MANUAL_CORRUPT;
    if (before !== null) this.flips.set(slot, differingBits(before, data));
  }

  /** A copy of a datagram on the delay line, arriving right after it (same time, next in order). */
  private copyByHand(slot: number): number {
    const data = this.slotData[slot]!;
    const copy = this.takeBuffer(data.length);
    copy.set(data);
    const c = this.allocSlot();
    this.slotData[c] = copy;
    this.slotTo[c] = this.slotTo[slot]!;
    this.slotFrom[c] = this.slotFrom[slot]!;
    this.slotIndex[c] = this.slotIndex[slot]!;
    this.slotSentAt[c] = this.slotSentAt[slot]!;
    this.slotFlags[c] = (this.slotFlags[slot]! & DeliveryFlag.CORRUPTED) | DeliveryFlag.DUPLICATE | MANUAL_COPY;
    this.slotArrive[c] = this.slotArrive[slot]!;
    this.slotOrder[c] = this.slotOrder[slot]! + 0.5;
    this.bytesInFlight += data.length;
    if (this.fifoCount > 0 && this.fifo[(this.fifoHead + this.fifoCount - 1) & (this.fifo.length - 1)] === slot) this.fifoPush(c, this.fifoTime);
    else this.heapPush(c, this.slotArrive[c]!, this.slotOrder[c]!);
    return c;
  }

  /** A copy of the FIFO's datagram at position `at`, queued right behind it. */
  private copyIntoFifoAfter(slot: number, at: number): void {
    const rest: number[] = [];
    while (this.fifoCount > at + 1) {
      rest.unshift(this.fifo[(this.fifoHead + this.fifoCount - 1) & (this.fifo.length - 1)]!);
      this.fifoCount--;
    }
    this.copyByHand(slot);
    for (const s of rest) this.fifoPush(s, this.fifoTime);
  }

  private fifoRemoveAt(at: number): void {
    const kept: number[] = [];
    for (let i = 0; i < this.fifoCount; i++) if (i !== at) kept.push(this.fifo[(this.fifoHead + i) & (this.fifo.length - 1)]!);
    const time = this.fifoTime;
    this.fifoCount = 0;
    for (const s of kept) this.fifoPush(s, time);
    this.fifoTime = time;
  }

  private heapRemoveAt(at: number): void {
    // Rebuild without the entry: rare (a click), and the heap is at most the datagrams in flight.
    const entries: [number, number, number][] = [];
    for (let i = 0; i < this.heapSize; i++) if (i !== at) entries.push([this.heapSlot[i]!, this.heapTime[i]!, this.heapOrder[i]!]);
    this.heapSize = 0;
    for (const [slot, time, order] of entries) this.heapPush(slot, time, order);
  }

  private pollDeliverOne(now: number): number {
    let slot: number;
    if (this.fifoCount > 0) {
      slot = this.fifo[this.fifoHead]!;
      this.fifoHead = (this.fifoHead + 1) & (this.fifo.length - 1);
      this.fifoCount--;
    } else {
      if (this.heapSize === 0 || this.heapTime[0]! > now) return -1;
      slot = this.heapPop();
    }
    // A datagram dropped by hand is not counted or traced as delivered (pollDeliver drops it).
    const marks = this.slotFlags[slot]!;
    if ((marks & MANUAL_DROP) !== 0) return slot;
    if ((marks & MANUAL_CORRUPT) !== 0) this.counters.corruptedManual++;
    if ((marks & MANUAL_COPY) !== 0) this.counters.duplicatedManual++;
    if ((marks & MANUAL_DELAY) !== 0) this.counters.delayedManual++;
    const data = this.slotData[slot]!;
    const c = this.counters;
    c.deliveredPackets++;
    c.deliveredBytes += data.length;
    if (this.slotFlags[slot]! & DeliveryFlag.CORRUPTED) c.corruptedDelivered++;
    const index = this.slotIndex[slot]!;
    if (index < this.maxDeliveredIndex) {
      c.reordered++;
      this.slotFlags[slot] = this.slotFlags[slot]! | DeliveryFlag.REORDERED;
    } else {
      this.maxDeliveredIndex = index;
    }
    const tracer = this.tracer;
    if (tracer !== null) {
      const flags = this.slotFlags[slot]!;
      let flipped: number[] | null = null;
      if ((flags & DeliveryFlag.CORRUPTED) !== 0) {
        flipped = this.flips.get(slot) ?? null;
        this.flips.delete(slot);
      }
      tracer.delivered(now, data, this.slotFrom[slot]!, this.slotTo[slot]!, this.slotSentAt[slot]!, flags & PUBLIC_FLAGS, flipped);
    }
    return slot;
  }

  /** Bytes of a delivered datagram (exact length, pooled: valid until release). */
  data(handle: number): Uint8Array {
    return this.slotData[handle]!;
  }

  /** Destination of a delivered datagram. */
  to(handle: number): number {
    return this.slotTo[handle]!;
  }

  /** Source of a delivered datagram. */
  from(handle: number): number {
    return this.slotFrom[handle]!;
  }

  /** Returns a delivered datagram's buffer to the pool. */
  release(handle: number): void {
    const data = this.slotData[handle]!;
    this.slotData[handle] = null;
    this.bytesInFlight -= data.length;
    const list = data.length === this.poolLen ? this.poolList : this.pool.get(data.length);
    if (list !== undefined && list.length < 8192) list.push(data);
    if (this.freeCount === this.freeSlots.length) this.freeSlots = growInt32(this.freeSlots);
    this.freeSlots[this.freeCount++] = handle;
  }

  private enqueue(now: number, bytes: Uint8Array, from: number, to: number, index: number, copy: number): void {
    const cfg = this.cfg;
    const c = this.counters;
    const len = bytes.length;
    let flags: number = copy === 1 ? DeliveryFlag.DUPLICATE : 0;
    const drawn = this.drawCopy(copy, len);
    if (this.bytesInFlight + len > LINK_MEMORY_CAP_BYTES) {
      c.dropsMemory++;
      this.tracer?.dropped(now, bytes, from, to, 'memory', now);
      return;
    }
    let depart = now;
    if (cfg.rateBitsPerSecond > 0) {
      this.expireQueue(now);
      if (this.qCount >= cfg.queuePackets || (cfg.queueBytes > 0 && this.qTotalBytes + len > cfg.queueBytes)) {
        c.dropsQueue++;
        this.tracer?.dropped(now, bytes, from, to, 'queue', now);
        return;
      }
      const start = this.busyUntil > now ? this.busyUntil : now;
      depart = start + ((len + IP_UDP_OVERHEAD_BYTES) * 8 * 1000) / cfg.rateBitsPerSecond;
      this.busyUntil = depart;
      this.queuePush(depart, len);
    }
    let arrive = depart + cfg.delayMs;
    if (cfg.jitterMs > 0) arrive = Math.max(depart, arrive + this.copyJitterMs);
    if ((drawn & DeliveryFlag.HELD_BACK) !== 0) {
      c.heldBack++;
      arrive += cfg.reorderDelayMs;
      flags |= DeliveryFlag.HELD_BACK;
    } else {
      // Jitter alone keeps the order, as on a real path: a datagram never arrives before the one
      // sent ahead of it.
      if (arrive < this.lastArrival) arrive = this.lastArrival;
      this.lastArrival = arrive;
    }
    const buf = this.takeBuffer(len);
    buf.set(bytes);
    if ((drawn & DeliveryFlag.CORRUPTED) !== 0) {
      c.corrupted++;
      flags |= DeliveryFlag.CORRUPTED;
      const picked = this.flipped;
      for (let i = 0; i < this.copyFlips; i++) {
        const bit = picked[i]!;
        buf[bit >>> 3] = buf[bit >>> 3]! ^ (1 << (bit & 7));
      }
    }
    this.bytesInFlight += len;
    const slot = this.allocSlot();
    this.slotData[slot] = buf;
    this.slotTo[slot] = to;
    this.slotFrom[slot] = from;
    this.slotIndex[slot] = index;
    this.slotSentAt[slot] = now;
    this.slotFlags[slot] = flags;
    this.slotArrive[slot] = arrive;
    const order = this.orderCounter++;
    this.slotOrder[slot] = order;
    let planned: { action: ManualAction; delayMs: number } | undefined;
    if (this.planned.size !== 0) {
      const key = plannedKey(index, (flags & DeliveryFlag.DUPLICATE) !== 0);
      planned = this.planned.get(key);
      if (planned !== undefined) {
        this.planned.delete(key);
        if (planned.action === 'drop') this.slotFlags[slot] = this.slotFlags[slot]! | MANUAL_DROP;
        else if (planned.action === 'corrupt') this.corruptByHand(slot);
        this.onPlannedDone?.(now, index, (flags & DeliveryFlag.DUPLICATE) !== 0, planned.action, planned.delayMs);
      }
    }
    if ((this.slotFlags[slot]! & DeliveryFlag.CORRUPTED) !== 0 && (this.slotFlags[slot]! & MANUAL_CORRUPT) === 0) {
      // The difference between the offered bytes and the copy is what the receiver will see,
      // whichever way the bits were drawn. Without a tracer any entry left from an earlier
      // datagram in this slot is dropped, so a tracer attached later never reads a stale one.
      if (this.tracer !== null) this.flips.set(slot, differingBits(bytes, buf));
      else this.flips.delete(slot);
    }
    if (planned?.action === 'delay') {
      this.slotFlags[slot] = this.slotFlags[slot]! | MANUAL_DELAY | DeliveryFlag.HELD_BACK;
      this.slotArrive[slot] = arrive + planned.delayMs;
      this.heapPush(slot, arrive + planned.delayMs, order);
      return;
    }
    // Due now and nothing on the delay line: FIFO (anything later goes to the heap, which is only
    // served once the FIFO is empty, and its items arrive no earlier than the FIFO's).
    if (arrive <= now && this.heapSize === 0) this.fifoPush(slot, now);
    else this.heapPush(slot, arrive, order);
    if (planned?.action === 'duplicate') this.copyByHand(slot);
  }

  private fifoPush(slot: number, now: number): void {
    if (this.fifoCount === this.fifo.length) {
      const bigger = new Int32Array(this.fifo.length * 2);
      for (let i = 0; i < this.fifoCount; i++) bigger[i] = this.fifo[(this.fifoHead + i) & (this.fifo.length - 1)]!;
      this.fifo = bigger;
      this.fifoHead = 0;
    }
    this.fifo[(this.fifoHead + this.fifoCount) & (this.fifo.length - 1)] = slot;
    if (this.fifoCount === 0) this.fifoTime = now;
    this.fifoCount++;
  }

  private takeBuffer(len: number): Uint8Array {
    let list: Uint8Array[] | undefined;
    if (len === this.poolLen) list = this.poolList;
    else {
      list = this.pool.get(len);
      if (list === undefined) {
        list = [];
        this.pool.set(len, list);
      }
      this.poolLen = len;
      this.poolList = list;
    }
    if (list.length > 0) return list.pop()!;
    // A plain Uint8Array, not a Buffer: Buffer#slice would alias pooled memory for callers.
    return new Uint8Array(len);
  }

  private expireQueue(now: number): void {
    while (this.qCount > 0 && this.qDepart[this.qHead]! <= now) {
      this.qTotalBytes -= this.qBytes[this.qHead]!;
      this.qHead = (this.qHead + 1) % this.qDepart.length;
      this.qCount--;
    }
  }

  private queuePush(depart: number, len: number): void {
    if (this.qCount === this.qDepart.length) {
      const n = this.qDepart.length * 2;
      const d = new Float64Array(n);
      const b = new Int32Array(n);
      for (let i = 0; i < this.qCount; i++) {
        const j = (this.qHead + i) % this.qDepart.length;
        d[i] = this.qDepart[j]!;
        b[i] = this.qBytes[j]!;
      }
      this.qDepart = d;
      this.qBytes = b;
      this.qHead = 0;
    }
    const tail = (this.qHead + this.qCount) % this.qDepart.length;
    this.qDepart[tail] = depart;
    this.qBytes[tail] = len;
    this.qCount++;
    this.qTotalBytes += len;
  }

  private allocSlot(): number {
    if (this.freeCount > 0) return this.freeSlots[--this.freeCount]!;
    if (this.slotsUsed === this.slotTo.length) {
      const n = this.slotTo.length * 2;
      this.slotData.length = n;
      this.slotData.fill(null, this.slotsUsed);
      this.slotTo = growInt32(this.slotTo, n);
      this.slotFrom = growInt32(this.slotFrom, n);
      this.slotIndex = growFloat64(this.slotIndex, n);
      this.slotSentAt = growFloat64(this.slotSentAt, n);
      this.slotArrive = growFloat64(this.slotArrive, n);
      this.slotOrder = growFloat64(this.slotOrder, n);
      const f = new Uint8Array(n);
      f.set(this.slotFlags);
      this.slotFlags = f;
    }
    return this.slotsUsed++;
  }

  private heapPush(slot: number, time: number, order: number): void {
    if (this.heapSize === this.heapSlot.length) {
      const n = this.heapSlot.length * 2;
      this.heapSlot = growInt32(this.heapSlot, n);
      this.heapTime = growFloat64(this.heapTime, n);
      this.heapOrder = growFloat64(this.heapOrder, n);
    }
    let i = this.heapSize++;
    const hs = this.heapSlot;
    const ht = this.heapTime;
    const ho = this.heapOrder;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (ht[p]! < time || (ht[p] === time && ho[p]! < order)) break;
      hs[i] = hs[p]!;
      ht[i] = ht[p]!;
      ho[i] = ho[p]!;
      i = p;
    }
    hs[i] = slot;
    ht[i] = time;
    ho[i] = order;
  }

  private heapPop(): number {
    const hs = this.heapSlot;
    const ht = this.heapTime;
    const ho = this.heapOrder;
    const top = hs[0]!;
    const n = --this.heapSize;
    if (n === 0) return top;
    const slot = hs[n]!;
    const time = ht[n]!;
    const order = ho[n]!;
    let i = 0;
    for (;;) {
      let child = 2 * i + 1;
      if (child >= n) break;
      const r = child + 1;
      if (r < n && (ht[r]! < ht[child]! || (ht[r] === ht[child] && ho[r]! < ho[child]!))) child = r;
      if (time < ht[child]! || (time === ht[child] && order < ho[child]!)) break;
      hs[i] = hs[child]!;
      ht[i] = ht[child]!;
      ho[i] = ho[child]!;
      i = child;
    }
    hs[i] = slot;
    ht[i] = time;
    ho[i] = order;
    return top;
  }
}

function differingBits(a: Uint8Array, b: Uint8Array): number[] {
  const out: number[] = [];
  for (let i = 0; i < a.length; i++) {
    const x = a[i]! ^ b[i]!;
    if (x === 0) continue;
    for (let k = 0; k < 8; k++) if (x & (1 << k)) out.push(i * 8 + k);
  }
  return out;
}

function growInt32(a: Int32Array<ArrayBuffer>, n = a.length * 2): Int32Array<ArrayBuffer> {
  const b = new Int32Array(n);
  b.set(a);
  return b;
}

function growFloat64(a: Float64Array<ArrayBuffer>, n = a.length * 2): Float64Array<ArrayBuffer> {
  const b = new Float64Array(n);
  b.set(a);
  return b;
}

/** The key of a planned action: the datagram's index, or -index-1 for its duplicate copy. */
function plannedKey(index: number, duplicate: boolean): number {
  return duplicate ? -index - 1 : index;
}
