// Loss recovery of a connection's sender, over its send window: the scoreboard of what the
// receiver is known to hold (individual acknowledgments and SACK blocks, RFC 6675), RACK's
// detection of lost retransmissions (RFC 8985), Eifel's detection of spurious ones (RFC 3522), and
// go-back-N's resend of a whole window. It decides which packets to queue for retransmission; the
// connection sends them, counts them and runs the timers.

import { S_ACKED, S_RTX_IN_RECOVERY, S_RTX_QUEUED, type SendWindow } from './send-window.js';
import { seqAdd, seqDiff, seqGeq, seqGt, seqLt } from '../wire/seq.js';

/** Go-back-N's resend of the window: none running, after a timeout, or in fast recovery. */
export type GoBackState = 'idle' | 'timeout' | 'fast';

/**
 * What an ACK's timestamp echo says about a retransmitted packet (RFC 3522): nothing, that the
 * first copy arrived (every retransmission was spurious), that an earlier copy than the latest
 * arrived (the latest was spurious), or that the latest copy arrived.
 */
export type EifelVerdict = 'unknown' | 'first-copy' | 'earlier-copy' | 'latest-copy';

/**
 * What an echo says about a packet sent `copies` times, the first at `first`, the latest at
 * `last` (RFC 3522): see EifelVerdict.
 */
function eifelVerdict(first: number, last: number, tsEcr: number): EifelVerdict {
  // Copies sent within the same microsecond carry the same timestamp (a simulated link without
  // delay): the echo cannot tell them apart, so it says nothing about which one arrived.
  if (first === last) return 'unknown';
  if (tsEcr === first) return 'first-copy';
  if (seqLt(first, tsEcr) && seqLt(tsEcr, last)) return 'earlier-copy';
  if (tsEcr === last) return 'latest-copy';
  return 'unknown';
}

/**
 * Retransmissions a verdict shows spurious for a packet sent `copies` times: every one after the
 * first copy, none, or at least the latest (which copy between the first and the latest arrived
 * is not known: only their first and latest timestamps are kept).
 */
function spuriousOf(verdict: EifelVerdict, copies: number): number {
  if (verdict === 'first-copy') return copies - 1;
  if (verdict === 'earlier-copy') return 1;
  return 0;
}

const EIFEL_HISTORY_MIN = 64;
/** SACK blocks remembered from one ACK to the next (an ACK carries at most four). */
const MAX_REMEMBERED_BLOCKS = 8;

/** The sender's loss-recovery state (plain fields: read per ACK). */
export class LossRecovery {
  /** One past the highest packet known received from an individual acknowledgment. */
  highestReceived: number;
  // The packet known delivered that was sent last: its send time, and its sequence number to order
  // packets sent at the same instant (RFC 8985 (6.2 step 2)).
  private deliveredSentAt = Number.NEGATIVE_INFINITY;
  private deliveredSeq = 0;
  // Selective repeat's retransmissions in the order they were sent, with their send times (RACK,
  // RFC 8985): a ring that rackDetect() reads from the oldest. Entries of packets since
  // acknowledged or sent again are stale and skipped.
  private rackSeq = new Uint32Array(64);
  private rackSentAt = new Float64Array(64);
  private rackHead = 0;
  private rackCount = 0;
  // Selective repeat's fast recovery: the next packet recoverHoles() looks at.
  private recoveryScan = 0;
  // The SACK blocks of the last ACK, every packet of which is marked received: the next ACK
  // repeats them (grown at their edges), and only what they did not cover needs a look. Marks in
  // [una, nxt) are never taken back, so a covered range stays marked.
  private readonly markedStart = new Uint32Array(MAX_REMEMBERED_BLOCKS);
  private readonly markedEnd = new Uint32Array(MAX_REMEMBERED_BLOCKS);
  private markedCount = 0;
  /** Go-back-N's resend of the window, if one runs. */
  goBack: GoBackState = 'idle';
  /** The next packet go-back-N resends. */
  goBackNext = 0;
  // Retransmitted packets acknowledged cumulatively, kept so that a later ACK naming one (the
  // ACK of a late copy) can still be judged: a ring ordered by sequence number, its oldest
  // entries overwritten once it holds EIFEL_HISTORY_MIN or four send windows.
  private histSeq = new Uint32Array(EIFEL_HISTORY_MIN);
  private histFirst = new Uint32Array(EIFEL_HISTORY_MIN);
  private histLast = new Uint32Array(EIFEL_HISTORY_MIN);
  private histCopies = new Uint32Array(EIFEL_HISTORY_MIN);
  private histCounted = new Uint32Array(EIFEL_HISTORY_MIN);
  private histHead = 0;
  private histCount = 0;
  private readonly snd: SendWindow;

  constructor(snd: SendWindow) {
    this.snd = snd;
    this.highestReceived = snd.una;
  }

  /** The window moved to `ack`: nothing below it needs recovering. */
  onCumulativeAck(ack: number): void {
    if (seqLt(this.highestReceived, ack)) this.highestReceived = ack;
    if (seqLt(this.goBackNext, ack)) this.goBackNext = ack;
  }

  /**
   * Marks a packet as received. Only individual acknowledgments (an ACK's trigger) raise the highest
   * packet known received: they arrive one per arrival, in arrival order, while the SACK blocks of
   * a burst of ACKs all describe the receiver's state when the burst was sent, so they would make
   * packets whose own ACKs are still coming look lost. A packet a SACK block reported first still
   * raises it when its own ACK comes: on a link that delivers a window at once, the first ACK of
   * the burst reports every later arrival, and without this the holes behind the first would wait
   * for a probe or the timer, which made SACK slower than individual acknowledgments alone.
   */
  markReceived(s: number, individual: boolean): void {
    const snd = this.snd;
    const idx = s & snd.mask;
    const st = snd.state[idx]!;
    if ((st & S_ACKED) === 0) {
      this.noteDelivered(s, idx);
      snd.state[idx] = st | S_ACKED;
      snd.deadline[idx] = Number.POSITIVE_INFINITY;
      snd.receivedCount++;
    }
    if (!individual) return;
    const after = seqAdd(s, 1);
    if (seqGt(after, this.highestReceived)) this.highestReceived = after;
  }

  /** Marks every packet of the first `count` SACK blocks (start, end pairs in `sack`) as received. */
  onSackBlocks(sack: Uint32Array, count: number): void {
    const snd = this.snd;
    const st = snd.state;
    const mask = snd.mask;
    const una = snd.una;
    const ms = this.markedStart;
    const me = this.markedEnd;
    const remembered = this.markedCount;
    for (let i = 0; i < count; i++) {
      let s = sack[2 * i]!;
      const e = sack[2 * i + 1]!;
      if (seqLt(s, una)) s = una;
      // The blocks repeat what earlier ACKs said: skip the part the last ACK's blocks covered
      // (each was marked through), then only packets not yet marked take a call.
      for (let j = 0; j < remembered; j++) {
        if (!seqLt(s, ms[j]!) && seqLt(s, me[j]!)) {
          s = me[j]!;
          j = -1;
        }
      }
      const n = Math.min(seqDiff(e, s), seqDiff(snd.nxt, s), snd.cap);
      for (let k = 0; k < n; k++) if ((st[(s + k) & mask]! & S_ACKED) === 0) this.markReceived(seqAdd(s, k), false);
    }
    // Every packet of these blocks (up to what was sent) is marked now.
    let kept = 0;
    for (let i = 0; i < count && kept < MAX_REMEMBERED_BLOCKS; i++) {
      let s = sack[2 * i]!;
      let e = sack[2 * i + 1]!;
      if (seqLt(s, una)) s = una;
      if (seqLt(snd.nxt, e)) e = snd.nxt;
      if (seqDiff(e, s) > snd.cap) e = seqAdd(s, snd.cap);
      if (!seqLt(s, e)) continue;
      ms[kept] = s;
      me[kept] = e;
      kept++;
    }
    this.markedCount = kept;
  }

  /** Packet `s` (slot `idx`) is known delivered: it may be the one sent last. */
  noteDelivered(s: number, idx: number): void {
    const at = this.snd.sentAt[idx]!;
    if (at > this.deliveredSentAt || (at === this.deliveredSentAt && seqGt(s, this.deliveredSeq))) {
      this.deliveredSentAt = at;
      this.deliveredSeq = s;
    }
  }

  /**
   * RFC 6675 (5 step 4): the oldest packet is known lost once more than `threshold` packets above
   * it arrived, without waiting for the duplicate ACKs to add up.
   */
  isHeadLost(threshold: number): boolean {
    const snd = this.snd;
    return threshold > 0 && seqDiff(this.highestReceived, snd.una) > threshold && (snd.state[snd.una & snd.mask]! & S_ACKED) === 0;
  }

  /** Selective repeat enters fast recovery: resend the oldest packet and every hole found lost. */
  enterRecovery(dupAckThreshold: number): void {
    const snd = this.snd;
    this.recoveryScan = snd.una;
    const idx = snd.una & snd.mask;
    if ((snd.state[idx]! & (S_ACKED | S_RTX_QUEUED)) === 0) {
      snd.queueRetransmit(snd.una, true);
      snd.state[idx] = snd.state[idx]! | S_RTX_IN_RECOVERY;
    }
    this.recoverHoles(dupAckThreshold);
  }

  /**
   * In recovery, resends once every hole with at least dupAckThreshold packets received above it
   * (RFC 6675's IsLost, counted on individual acknowledgments).
   */
  recoverHoles(dupAckThreshold: number): void {
    const snd = this.snd;
    if (seqLt(this.recoveryScan, snd.una)) this.recoveryScan = snd.una;
    const bound = seqAdd(this.highestReceived, -Math.max(1, dupAckThreshold) + 1);
    while (seqLt(this.recoveryScan, bound)) {
      const s = this.recoveryScan;
      const idx = s & snd.mask;
      const st = snd.state[idx]!;
      if ((st & (S_ACKED | S_RTX_QUEUED | S_RTX_IN_RECOVERY)) === 0) {
        snd.queueRetransmit(s, true);
        snd.state[idx] = snd.state[idx]! | S_RTX_IN_RECOVERY;
      }
      this.recoveryScan = seqAdd(s, 1);
    }
  }

  /**
   * The probe timeout in recovery: resend the oldest packet once more if it was resent in this
   * recovery and is neither known received nor queued already.
   */
  probeHead(): void {
    const snd = this.snd;
    const st = snd.state[snd.una & snd.mask]!;
    if ((st & (S_ACKED | S_RTX_QUEUED)) !== 0 || (st & S_RTX_IN_RECOVERY) === 0) return;
    snd.queueRetransmit(snd.una, true);
  }

  /** Go-back-N resends everything outstanding from the oldest packet, for `why`. */
  goBackFromUna(why: 'timeout' | 'fast'): void {
    this.goBack = why;
    this.goBackNext = this.snd.una;
  }

  /** Remembers a retransmission of packet `s` sent at `now` (for rackDetect). */
  rackPush(s: number, now: number): void {
    let size = this.rackSeq.length;
    if (this.rackCount === size) {
      const seq = new Uint32Array(size * 2);
      const at = new Float64Array(size * 2);
      for (let i = 0; i < this.rackCount; i++) {
        seq[i] = this.rackSeq[(this.rackHead + i) % size]!;
        at[i] = this.rackSentAt[(this.rackHead + i) % size]!;
      }
      this.rackSeq = seq;
      this.rackSentAt = at;
      this.rackHead = 0;
      size *= 2;
    }
    const i = (this.rackHead + this.rackCount) % size;
    this.rackSeq[i] = s;
    this.rackSentAt[i] = now;
    this.rackCount++;
  }

  /**
   * A retransmission can be lost too. As RACK (RFC 8985 (6.2)) reasons: a copy sent before a packet
   * that has since been delivered, and more than 1.25 SRTT ago, is lost; queue it now instead of
   * waiting for the retransmission timeout, which would stall a full window behind it. Returns when
   * the rack timer should fire for a copy whose time has not come yet (so the check happens even
   * when no ACK arrives), or null.
   */
  rackDetect(now: number, srttMs: number): number | null {
    if (Number.isNaN(srttMs)) return null;
    const snd = this.snd;
    const wait = 1.25 * srttMs;
    const size = this.rackSeq.length;
    while (this.rackCount > 0) {
      const s = this.rackSeq[this.rackHead]!;
      const sentAt = this.rackSentAt[this.rackHead]!;
      const idx = s & snd.mask;
      const live = seqGeq(s, snd.una) && seqLt(s, snd.nxt) && (snd.state[idx]! & (S_ACKED | S_RTX_QUEUED)) === 0 && snd.sentAt[idx] === sentAt;
      if (live) {
        // Nothing sent after it is known delivered yet.
        if (this.deliveredSentAt < sentAt || (this.deliveredSentAt === sentAt && !seqLt(s, this.deliveredSeq))) return null;
        const due = sentAt + wait; // compared as computed, so the timer set here is due when it fires
        if (now < due) return due;
        snd.queueRetransmit(s, true);
      }
      this.rackHead = (this.rackHead + 1) % size;
      this.rackCount--;
    }
    return null;
  }

  /**
   * RFC 3522 (Eifel): which copy of the retransmitted packet in slot `idx` an ACK echoing `tsEcr`
   * answers.
   */
  eifel(idx: number, tsEcr: number): EifelVerdict {
    return eifelVerdict(this.snd.tsFirst[idx]!, this.snd.tsLast[idx]!, tsEcr);
  }

  /**
   * An ACK names packet `s` and echoes `tsEcr`: the timestamp of the earliest copy of `s` the
   * receiver has seen (ReceiveWindow.echoFor). Every copy sent after that one was spurious.
   * Returns how many more retransmissions of `s` this shows spurious than earlier ACKs did, so
   * each retransmission is counted once however many ACKs name the packet: the ACK of the copy
   * that was accepted, and the ACK of every copy that arrived after it as a duplicate. A packet
   * the window has passed is looked up among the retransmitted packets acknowledged cumulatively.
   */
  judge(s: number, tsEcr: number): number {
    const snd = this.snd;
    if (seqGeq(s, snd.una) && seqLt(s, snd.nxt)) {
      const idx = s & snd.mask;
      const copies = snd.tx[idx]!;
      if (copies < 2) return 0;
      const spurious = spuriousOf(eifelVerdict(snd.tsFirst[idx]!, snd.tsLast[idx]!, tsEcr), copies);
      const more = spurious - snd.spuriousCounted[idx]!;
      if (more <= 0) return 0;
      snd.spuriousCounted[idx] = spurious;
      return more;
    }
    if (!seqLt(s, snd.una)) return 0;
    const i = this.historyIndex(s);
    if (i < 0) return 0;
    const spurious = spuriousOf(eifelVerdict(this.histFirst[i]!, this.histLast[i]!, tsEcr), this.histCopies[i]!);
    const more = spurious - this.histCounted[i]!;
    if (more <= 0) return 0;
    this.histCounted[i] = spurious;
    return more;
  }

  /** Packet `s` (slot `idx`) is acknowledged cumulatively: keep it for judge() if it was resent. */
  onAcknowledged(s: number, idx: number): void {
    const snd = this.snd;
    if (snd.tx[idx]! < 2) return;
    let size = this.histSeq.length;
    if (this.histCount === size && size < 4 * snd.cap) {
      const n = size * 2;
      const seq = new Uint32Array(n);
      const first = new Uint32Array(n);
      const last = new Uint32Array(n);
      const copies = new Uint32Array(n);
      const counted = new Uint32Array(n);
      for (let k = 0; k < this.histCount; k++) {
        const j = (this.histHead + k) % size;
        seq[k] = this.histSeq[j]!;
        first[k] = this.histFirst[j]!;
        last[k] = this.histLast[j]!;
        copies[k] = this.histCopies[j]!;
        counted[k] = this.histCounted[j]!;
      }
      this.histSeq = seq;
      this.histFirst = first;
      this.histLast = last;
      this.histCopies = copies;
      this.histCounted = counted;
      this.histHead = 0;
      size = n;
    }
    if (this.histCount === size) {
      // Full: the oldest entry makes room (a copy of it arriving later goes unjudged).
      this.histHead = (this.histHead + 1) % size;
      this.histCount--;
    }
    const j = (this.histHead + this.histCount) % size;
    this.histSeq[j] = s;
    this.histFirst[j] = snd.tsFirst[idx]!;
    this.histLast[j] = snd.tsLast[idx]!;
    this.histCopies[j] = snd.tx[idx]!;
    this.histCounted[j] = snd.spuriousCounted[idx]!;
    this.histCount++;
  }

  /** The history entry of packet `s`, or -1 (binary search: entries ascend by sequence number). */
  private historyIndex(s: number): number {
    const size = this.histSeq.length;
    let lo = 0;
    let hi = this.histCount;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (seqLt(this.histSeq[(this.histHead + mid) % size]!, s)) lo = mid + 1;
      else hi = mid;
    }
    if (lo === this.histCount) return -1;
    const j = (this.histHead + lo) % size;
    return this.histSeq[j] === s ? j : -1;
  }
}
