// The receive window of a connection and the acknowledgments it owes: a ring of packet slots in
// typed arrays, indexed by `seq & mask`, for every sequence number in [read, read + slots). In-order
// data waits in [read, nxt) for the application; selective repeat keeps out-of-order packets up to
// `highest`. Beside the ring: the cumulative ACK that is due (possibly delayed), the queue of
// immediate ACKs owed one per arrival (RFC 5681 (4.2)), the timestamps to echo, and the SACK blocks
// an ACK reports. Nothing here allocates after the ring has grown to the buffer.

import { MAX_SACK_BLOCKS } from '../wire/packet.js';
import { seqAdd, seqDiff } from '../wire/seq.js';

/** Slot state bit: the packet is stored. */
export const R_PRESENT = 0x01;
/** Slot state bit: the packet ends a message. */
export const R_MSG_END = 0x02;
/** Slot state bit: the packet is the peer's FIN. */
export const R_FIN = 0x04;
/** Slot state bit: the packet failed its checksum and was accepted anyway (verification off). */
export const R_CORRUPT = 0x08;

/** Entries of the queue of immediate ACKs (a power of two). */
export const ACK_QUEUE_SLOTS = 1024;

/** The peer's FIN: not yet in order, received in order, or read by the application. */
export type PeerFinState = 'none' | 'received' | 'read';

/** The receive ring and the ACK state (plain fields: the connection reads them per packet). */
export class ReceiveWindow {
  /** Packets the buffer holds (receive buffer / mss), which bounds the advertised window. */
  slots = 1;
  /** Slots in the ring (a power of two, at least `slots`). */
  cap = 0;
  /** cap - 1: a sequence number's slot is `seq & mask`. */
  mask = 0;
  /** Payload bytes, mss bytes per slot. */
  data = new Uint8Array(0);
  /** Payload length of each slot. */
  len = new Int32Array(0);
  /** R_* bits of each slot. */
  state = new Uint8Array(0);
  /**
   * tsVal of the earliest-sent copy of each slot's packet that arrived; kept after the packet is
   * read, until the slot holds the packet `cap` later (echoFor).
   */
  tsArrived = new Uint32Array(0);
  /** Next sequence number expected in order. */
  nxt = 0;
  /** Next sequence number the application reads. */
  read = 0;
  /** Bytes of the slot at `read` already read. */
  readOffset = 0;
  /** One past the highest sequence number stored. */
  highest = 0;
  /** Payload bytes held (unread in-order data and out-of-order packets). */
  bytesStored = 0;
  /** In-order packets not yet acknowledged (delayed ACK). */
  unacked = 0;
  /** A cumulative (possibly delayed) ACK is due. */
  ackPending = false;
  /** The packet the due ACK answers. */
  ackTrigger = 0;
  /** The timestamp the next ACK echoes. */
  tsEcho = 0;
  /** tsVal of the last packet that advanced nxt (RFC 7323 (4.3)). */
  tsRecent = 0;
  /** Immediate ACKs owed, each naming its own trigger so selective repeat gets individual acknowledgments. */
  readonly ackQueueSeq = new Uint32Array(ACK_QUEUE_SLOTS);
  /** The timestamp each queued ACK echoes. */
  readonly ackQueueTs = new Uint32Array(ACK_QUEUE_SLOTS);
  /** Index of the oldest queued ACK. */
  ackQueueHead = 0;
  /** Queued ACKs. */
  ackQueueCount = 0;
  /** The latest out-of-order arrival (its block goes first when the trigger has none). */
  lastOutOfOrderSeq = 0;
  /** The window the last ACK advertised, in slots. */
  lastAdvertisedSlots = 0;
  /** Where the peer's FIN is. */
  peerFin: PeerFinState = 'none';
  /** The FIN's sequence number once peerFin !== 'none'. */
  peerFinSeq = 0;
  private readonly mss: number;

  constructor(mssBytes: number) {
    this.mss = mssBytes;
  }

  /** The window to advertise, in slots: the buffer less the in-order data not read yet. */
  advertisedSlots(): number {
    const used = seqDiff(this.nxt, this.read);
    return Math.max(0, this.slots - used);
  }

  /** The window an outgoing packet advertises, in bytes; remembered for window updates. */
  advertiseWindowBytes(): number {
    const slots = this.advertisedSlots();
    this.lastAdvertisedSlots = slots;
    return slots * this.mss;
  }

  /** Grows the ring to `cap` slots (a power of two), keeping every stored packet. */
  grow(cap: number): void {
    if (cap <= this.cap) return;
    const mss = this.mss;
    const oldMask = this.mask;
    const oldCap = this.cap;
    const oldData = this.data;
    const oldLen = this.len;
    const oldState = this.state;
    const oldTs = this.tsArrived;
    this.cap = cap;
    this.mask = cap - 1;
    this.data = new Uint8Array(cap * mss);
    this.len = new Int32Array(cap);
    this.state = new Uint8Array(cap);
    this.tsArrived = new Uint32Array(cap);
    // The timestamps of packets already read are kept too (echoFor reads them for duplicates).
    for (let i = 0, s = seqAdd(this.highest, -oldCap); i < oldCap; i++, s = seqAdd(s, 1)) this.tsArrived[s & this.mask] = oldTs[s & oldMask]!;
    for (let i = 0, s = this.read; i < oldCap; i++, s = seqAdd(s, 1)) {
      const o = s & oldMask;
      if (oldState[o] === 0) continue;
      const n = s & this.mask;
      this.data.set(oldData.subarray(o * mss, o * mss + mss), n * mss);
      this.len[n] = oldLen[o]!;
      this.state[n] = oldState[o]!;
    }
  }

  /**
   * The timestamp an ACK naming packet `s` echoes when a copy of it sent at `tsVal` arrives again
   * (or `tsVal` is the fallback): the earliest-sent copy that arrived, so that the sender learns
   * which of its retransmissions were spurious (RFC 3522) whichever copy got through first. Once
   * the slot holds a later packet the earlier copy is forgotten and `tsVal` is echoed.
   */
  echoFor(s: number, tsVal: number): number {
    const d = seqDiff(this.highest, s);
    if (d <= 0 || d > this.cap) return tsVal;
    const idx = s & this.mask;
    const known = this.tsArrived[idx]!;
    if (((tsVal - known) | 0) < 0) {
      this.tsArrived[idx] = tsVal;
      return tsVal;
    }
    return known;
  }

  /**
   * The tsVal of the earliest copy of packet `s` that arrived, or `fallback` once the slot holds a
   * later packet: what an ACK naming `s` echoes.
   */
  arrivedTs(s: number, fallback: number): number {
    const d = seqDiff(this.highest, s);
    return d <= 0 || d > this.cap ? fallback : this.tsArrived[s & this.mask]!;
  }

  /** Owes an immediate ACK naming `trigger` and echoing `tsVal`. */
  ackNow(trigger: number, tsVal: number): void {
    if (this.ackQueueCount === ACK_QUEUE_SLOTS) {
      // Too many owed at once: the newest replaces the oldest (the cumulative state is the same).
      this.ackQueueHead = (this.ackQueueHead + 1) & (ACK_QUEUE_SLOTS - 1);
      this.ackQueueCount--;
    }
    const i = (this.ackQueueHead + this.ackQueueCount) & (ACK_QUEUE_SLOTS - 1);
    this.ackQueueSeq[i] = trigger;
    this.ackQueueTs[i] = tsVal;
    this.ackQueueCount++;
  }

  /**
   * Fills `sack` with up to MAX_SACK_BLOCKS blocks (start, end pairs) and returns how many, the
   * block of the packet the ACK answers (or else of the latest arrival) first (RFC 2018 (4)).
   */
  buildSackBlocks(trigger: number, sack: Uint32Array): number {
    if (this.highest === this.nxt) return 0;
    const st = this.state;
    const mask = this.mask;
    // Offsets from nxt (never present itself: it would have been delivered) up to highest.
    const nxt = this.nxt;
    const span = seqDiff(this.highest, nxt);
    let count = 0;
    // The first block holds the packet this ACK answers, or else the latest arrival.
    let f = seqDiff(trigger, nxt);
    if (!(f > 0 && f < span && (st[(nxt + f) & mask]! & R_PRESENT) !== 0)) f = seqDiff(this.lastOutOfOrderSeq, nxt);
    let firstStart = -1;
    if (f > 0 && f < span && (st[(nxt + f) & mask]! & R_PRESENT) !== 0) {
      let a = f;
      while (a > 0 && (st[(nxt + a - 1) & mask]! & R_PRESENT) !== 0) a--;
      let b = f + 1;
      while (b < span && (st[(nxt + b) & mask]! & R_PRESENT) !== 0) b++;
      sack[0] = seqAdd(nxt, a);
      sack[1] = seqAdd(nxt, b);
      count = 1;
      firstStart = a;
    }
    let i = 1;
    while (count < MAX_SACK_BLOCKS && i < span) {
      if ((st[(nxt + i) & mask]! & R_PRESENT) === 0) {
        i++;
        continue;
      }
      const a = i;
      while (i < span && (st[(nxt + i) & mask]! & R_PRESENT) !== 0) i++;
      if (a !== firstStart) {
        sack[2 * count] = seqAdd(nxt, a);
        sack[2 * count + 1] = seqAdd(nxt, i);
        count++;
      }
    }
    return count;
  }
}
