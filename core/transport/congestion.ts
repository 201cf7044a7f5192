// Congestion control of a connection's sender: the congestion window and slow-start threshold of
// RFC 5681, and the fast-recovery phase around them with RFC 6582's `recover` point. The
// connection decides when a loss is detected and which packets to resend; this class only says how
// much may be in flight and whether a burst of duplicate ACKs may start a recovery.

import type { TransportConfig } from './config.js';
import { seqAdd, seqGt } from '../wire/seq.js';

/**
 * Where the sender is with respect to losses: 'none' before the first, 'open' after one (its
 * recoverSeq still guards go-back-N), 'recovery' inside fast recovery.
 */
export type RecoveryPhase = 'none' | 'open' | 'recovery';

/** cwnd, ssthresh and the fast-recovery phase of one sender (plain fields: read per packet). */
export class CongestionControl {
  /** Congestion window in packets (Infinity with congestion control off). */
  cwnd: number;
  /** Slow-start threshold in packets (Infinity until the first loss). */
  ssthresh = Number.POSITIVE_INFINITY;
  /** The loss phase; 'recovery' while fast recovery runs. */
  phase: RecoveryPhase = 'none';
  /** RFC 6582 `recover`: the highest packet in flight when the last loss was detected (phase !== 'none'). */
  recoverSeq = 0;
  /** Duplicate ACKs since the last new ACK or timeout. */
  dupAcks = 0;
  private aimd: boolean;
  /**
   * RFC 4015: the window before a timeout, and the oldest packet it resent, until that packet's
   * ACK tells whether the timeout was spurious (its first copy arrived) or not (NaN: nothing to undo).
   */
  private undoCwnd = Number.NaN;
  private undoSsthresh = Number.NaN;
  /** The oldest packet outstanding at the timeout (meaningful while undoCwnd is a number). */
  undoSeq = 0;

  constructor(cfg: TransportConfig) {
    this.aimd = cfg.congestionControl === 'aimd';
    this.cwnd = this.aimd ? cfg.initialCwndPackets : Number.POSITIVE_INFINITY;
  }

  /** False while AIMD's window is below one packet. */
  canSend(): boolean {
    return !this.aimd || this.cwnd >= 1;
  }

  /** Switches congestion control on or off on a live connection with `flight` packets outstanding. */
  reconfigure(next: TransportConfig, flight: number): void {
    const aimd = next.congestionControl === 'aimd';
    if (aimd === this.aimd) return;
    this.aimd = aimd;
    this.cwnd = aimd ? Math.max(next.initialCwndPackets, flight) : Number.POSITIVE_INFINITY;
    this.ssthresh = Number.POSITIVE_INFINITY;
  }

  /** A retransmission timeout with `flight` packets outstanding from `sndUna`, `sndNxt` the next new packet. */
  onTimeout(sndUna: number, sndNxt: number, flight: number): void {
    this.phase = 'open';
    this.dupAcks = 0;
    this.recoverSeq = seqAdd(sndNxt, -1);
    if (!this.aimd) return;
    // A timeout that backs off again keeps the window of the first one to undo (RFC 4015 (3.1)).
    if (Number.isNaN(this.undoCwnd)) {
      this.undoCwnd = this.cwnd;
      this.undoSsthresh = this.ssthresh;
      this.undoSeq = sndUna;
    }
    // RFC 5681 (4): ssthresh = max(FlightSize / 2, 2), cwnd = 1 (loss window).
    this.ssthresh = Math.max(flight / 2, 2);
    this.cwnd = 1;
  }

  /** True while a timeout's window may still be undone (the packet to judge it by is undoSeq). */
  get undoPending(): boolean {
    return !Number.isNaN(this.undoCwnd);
  }

  /**
   * The ACK of the timeout's oldest packet echoed its first copy: the timeout was spurious, the
   * data was never lost, and the window it took away comes back (RFC 4015 (3.2), the undo as
   * Linux does it: the cwnd and ssthresh from before the timeout). `spurious` false: it was a
   * real loss, and the reduction stands.
   */
  judgeTimeout(spurious: boolean): void {
    if (spurious && this.aimd && !Number.isNaN(this.undoCwnd)) {
      this.cwnd = Math.max(this.cwnd, this.undoCwnd);
      this.ssthresh = this.undoSsthresh;
    }
    this.undoCwnd = Number.NaN;
  }

  /** Fast recovery starts with `flight` packets outstanding: halve cwnd (AIMD). */
  onEnterRecovery(sndNxt: number, flight: number): void {
    // A loss since the timeout: its window is not to be undone.
    this.undoCwnd = Number.NaN;
    this.phase = 'recovery';
    this.recoverSeq = seqAdd(sndNxt, -1);
    if (this.aimd) {
      // RFC 5681 (3.2 step 2): ssthresh = max(FlightSize / 2, 2); cwnd continues from there.
      this.ssthresh = Math.max(flight / 2, 2);
      this.cwnd = this.ssthresh;
    }
  }

  /**
   * An ACK moved the window to `ack`, acknowledging `acked` packets. `anyAckEndsRecovery` is
   * go-back-N's rule: it resent everything after the hole already, so any new ACK ends its recovery.
   */
  onNewAck(ack: number, acked: number, anyAckEndsRecovery: boolean): void {
    this.dupAcks = 0;
    // RFC 5681 (3.1), RFC 6582 for the recovery exit.
    if (this.phase === 'recovery') {
      if (seqGt(ack, this.recoverSeq) || anyAckEndsRecovery) {
        this.phase = 'open';
        if (this.aimd) this.cwnd = this.ssthresh;
      }
      // Otherwise a partial ACK (RFC 6582 (3.2 step 5)): the connection resends the next hole.
    } else if (this.aimd) {
      if (this.cwnd < this.ssthresh) this.cwnd += acked;
      else this.cwnd += acked / this.cwnd;
    }
  }

  /**
   * Counts a duplicate ACK and returns true when it starts fast recovery: the `threshold`-th one,
   * outside recovery. `guardAfterTimeout` applies RFC 6582 (3.2 step 2): the duplicate ACKs of data
   * resent by a timeout (up to recoverSeq) must not start one.
   */
  onDupAck(threshold: number, sndUna: number, guardAfterTimeout: boolean): boolean {
    this.dupAcks++;
    if (threshold === 0 || this.dupAcks !== threshold || this.phase === 'recovery') return false;
    return !(guardAfterTimeout && this.phase !== 'none' && !seqGt(sndUna, this.recoverSeq));
  }
}
