// The send window of a connection: a ring of packet slots in typed arrays, indexed by
// `seq & mask`, for every sequence number in [una, end]. [una, nxt) are in flight, [nxt, end) are
// sealed and wait for the window to open, and the slot at `end` fills with written bytes until it
// is sealed. Beside the ring, the queue of packets waiting to be retransmitted, in the order they
// were found lost. Nothing here allocates after the ring has grown to the window.

import { seqAdd, seqDiff } from '../wire/seq.js';

/** Slot state bit: the packet ends a message. */
export const S_MSG_END = 0x01;
/** Slot state bit: the packet is the FIN. */
export const S_FIN = 0x02;
/** Slot state bit: individually acknowledged or SACKed, the receiver has it. */
export const S_ACKED = 0x04;
/** Slot state bit: the packet waits in the retransmission queue. */
export const S_RTX_QUEUED = 0x08;
/** Slot state bit: the queued retransmission is a fast one (not caused by a timeout). */
export const S_RTX_FAST = 0x10;
/** Slot state bit: the packet was resent in the current fast recovery. */
export const S_RTX_IN_RECOVERY = 0x20;

/** The ring of sent and unsent packets (plain fields: the connection reads them per packet). */
export class SendWindow {
  /** Slots in the ring (a power of two). */
  cap = 0;
  /** cap - 1: a sequence number's slot is `seq & mask`. */
  mask = 0;
  /** Payload bytes, mss bytes per slot. */
  data = new Uint8Array(0);
  /** Payload length of each slot. */
  len = new Int32Array(0);
  /** S_* bits of each slot. */
  state = new Uint8Array(0);
  /** Transmissions of each slot's packet so far. */
  tx = new Uint32Array(0);
  /** When each slot's packet was last sent (ms). */
  sentAt = new Float64Array(0);
  /** Selective repeat's retransmission deadline of each slot (Infinity when none runs). */
  deadline = new Float64Array(0);
  /** Header timestamp of the first transmission of each slot. */
  tsFirst = new Uint32Array(0);
  /** Header timestamp of the latest transmission of each slot. */
  tsLast = new Uint32Array(0);
  /** Retransmissions of each slot's packet counted spurious so far (LossRecovery.judge). */
  spuriousCounted = new Uint32Array(0);
  /** Sequence numbers waiting to be retransmitted: a ring of cap entries from rtxHead. */
  rtxQueue = new Uint32Array(0);
  /** Index of the oldest entry of rtxQueue. */
  rtxHead = 0;
  /** Entries in rtxQueue. */
  rtxCount = 0;
  /** Oldest unacknowledged sequence number. */
  una: number;
  /** Next sequence number to send for the first time. */
  nxt: number;
  /** The slot being filled by write(): one past the last sealed slot. */
  end: number;
  /** Bytes in the unsealed slot at `end`. */
  openLen = 0;
  /** Slots in [una, nxt) with S_ACKED. */
  receivedCount = 0;
  private readonly mss: number;

  constructor(mssBytes: number, una: number) {
    this.mss = mssBytes;
    this.una = una;
    this.nxt = una;
    this.end = una;
  }

  /** Grows the ring to `cap` slots (a power of two), keeping every slot and the retransmission queue. */
  grow(cap: number): void {
    if (cap <= this.cap) return;
    const mss = this.mss;
    const old = {
      cap: this.cap,
      mask: this.mask,
      data: this.data,
      len: this.len,
      state: this.state,
      tx: this.tx,
      sentAt: this.sentAt,
      deadline: this.deadline,
      tsFirst: this.tsFirst,
      tsLast: this.tsLast,
      spuriousCounted: this.spuriousCounted,
    };
    this.cap = cap;
    this.mask = cap - 1;
    this.data = new Uint8Array(cap * mss);
    this.len = new Int32Array(cap);
    this.state = new Uint8Array(cap);
    this.tx = new Uint32Array(cap);
    this.sentAt = new Float64Array(cap);
    this.deadline = new Float64Array(cap).fill(Number.POSITIVE_INFINITY);
    this.tsFirst = new Uint32Array(cap);
    this.tsLast = new Uint32Array(cap);
    this.spuriousCounted = new Uint32Array(cap);
    const queued: number[] = [];
    if (old.cap > 0) {
      for (let s = this.una; ; s = seqAdd(s, 1)) {
        const o = s & old.mask;
        const n = s & this.mask;
        this.data.set(old.data.subarray(o * mss, o * mss + mss), n * mss);
        this.len[n] = old.len[o]!;
        this.state[n] = old.state[o]!;
        this.tx[n] = old.tx[o]!;
        this.sentAt[n] = old.sentAt[o]!;
        this.deadline[n] = old.deadline[o]!;
        this.tsFirst[n] = old.tsFirst[o]!;
        this.tsLast[n] = old.tsLast[o]!;
        this.spuriousCounted[n] = old.spuriousCounted[o]!;
        if (old.state[o]! & S_RTX_QUEUED) queued.push(s);
        if (s === this.end) break;
      }
    }
    // The retransmission queue keeps its order by sequence number after a resize.
    this.rtxQueue = new Uint32Array(cap);
    this.rtxHead = 0;
    this.rtxCount = 0;
    for (const s of queued) this.rtxQueue[this.rtxCount++] = s;
  }

  /**
   * Copies src[start..end) into slots from `end` on and returns how many bytes it took (it stops
   * when the ring is full). With messageEnd, the slot holding the last byte is sealed with S_MSG_END.
   */
  copyIn(src: Uint8Array, start: number, end: number, messageEnd: boolean): number {
    const mss = this.mss;
    let pos = start;
    while (pos < end || (messageEnd && pos === end && this.openLen > 0)) {
      if (this.openLen === 0 && seqDiff(this.end, this.una) >= this.cap) break;
      const idx = this.end & this.mask;
      const n = Math.min(mss - this.openLen, end - pos);
      if (n > 0) this.data.set(src.subarray(pos, pos + n), idx * mss + this.openLen);
      this.openLen += n;
      pos += n;
      if (this.openLen === mss || (messageEnd && pos === end)) {
        this.state[idx] = messageEnd && pos === end ? S_MSG_END : 0;
        this.sealOpenSlot();
      }
      if (pos === end) break;
    }
    return pos - start;
  }

  /** Seals the slot at `end` with the bytes it holds (its state bits are set by the caller). */
  sealOpenSlot(): void {
    const idx = this.end & this.mask;
    this.len[idx] = this.openLen;
    this.tx[idx] = 0;
    this.deadline[idx] = Number.POSITIVE_INFINITY;
    this.openLen = 0;
    this.end = seqAdd(this.end, 1);
  }

  /** Queues packet `s` for retransmission; `fast` when a loss detection (not a timeout) found it. */
  queueRetransmit(s: number, fast: boolean): void {
    const idx = s & this.mask;
    this.state[idx] = this.state[idx]! | S_RTX_QUEUED | (fast ? S_RTX_FAST : 0);
    this.rtxQueue[(this.rtxHead + this.rtxCount) & this.mask] = s;
    this.rtxCount++;
  }
}
