// Retransmission timeout: fixed, or computed from RTT samples as RFC 6298 specifies.

import type { TransportConfig } from './config.js';

// RFC 6298 (2.3): alpha = 1/8, beta = 1/4, K = 4.
const ALPHA = 1 / 8;
const BETA = 1 / 4;
const K = 4;
// Clock granularity G of RFC 6298 (2.2): the engines get fractional milliseconds, so 1 microsecond.
const CLOCK_GRANULARITY_MS = 0.001;

/** Keeps SRTT, RTTVAR and the current RTO with its backoff. */
export class RtoEstimator {
  /** Smoothed RTT in ms; NaN before the first sample. */
  srttMs = Number.NaN;
  /** RTT variation in ms; NaN before the first sample. */
  rttvarMs = Number.NaN;
  /** Latest RTT sample in ms; NaN before the first sample. */
  lastRttMs = Number.NaN;
  /** Timeouts since the last RTT sample (each one multiplied the RTO by the backoff factor). */
  backoffCount = 0;
  private baseMs: number;

  constructor(private cfg: TransportConfig) {
    this.baseMs = cfg.rtoMode === 'fixed' ? cfg.rtoMs : cfg.rtoMsInitial;
  }

  /** The RTO to arm a timer with now, backoff included, capped at rtoMsMax. */
  get rtoMs(): number {
    let rto = this.baseMs;
    const factor = this.cfg.rtoBackoff;
    for (let i = 0; i < this.backoffCount && rto < this.cfg.rtoMsMax; i++) rto *= factor;
    return Math.min(rto, this.cfg.rtoMsMax);
  }

  /** Takes an RTT sample from a packet that was sent once (Karn's rule is the caller's job). */
  sample(rttMs: number): void {
    if (!(rttMs >= 0)) return;
    this.lastRttMs = rttMs;
    if (Number.isNaN(this.srttMs)) {
      // RFC 6298 (2.2): the first measurement.
      this.srttMs = rttMs;
      this.rttvarMs = rttMs / 2;
    } else {
      // RFC 6298 (2.3): RTTVAR before SRTT.
      this.rttvarMs = (1 - BETA) * this.rttvarMs + BETA * Math.abs(this.srttMs - rttMs);
      this.srttMs = (1 - ALPHA) * this.srttMs + ALPHA * rttMs;
    }
    // Karn: a valid sample ends the backoff; the RTO is recomputed from the estimate.
    this.backoffCount = 0;
    this.recompute();
  }

  /** RFC 6298 (5.5): back off the timer after it expired. */
  backoff(): void {
    if (this.cfg.rtoBackoff > 1 && this.rtoMs < this.cfg.rtoMsMax) this.backoffCount++;
  }

  /** Ends the backoff without a sample (fixed mode, when new data is acknowledged). */
  clearBackoff(): void {
    this.backoffCount = 0;
  }

  /** Applies changed knobs (mode, bounds, fixed value) to the current estimate. */
  reconfigure(cfg: TransportConfig): void {
    this.cfg = cfg;
    this.recompute();
  }

  private recompute(): void {
    const cfg = this.cfg;
    if (cfg.rtoMode === 'fixed') {
      this.baseMs = cfg.rtoMs;
      return;
    }
    if (Number.isNaN(this.srttMs)) {
      this.baseMs = Math.min(Math.max(cfg.rtoMsInitial, cfg.rtoMsMin), cfg.rtoMsMax);
      return;
    }
    // RFC 6298 (2.3) and (2.4): RTO = SRTT + max(G, K * RTTVAR), clamped to the configured bounds.
    const rto = this.srttMs + Math.max(CLOCK_GRANULARITY_MS, K * this.rttvarMs);
    this.baseMs = Math.min(Math.max(rto, cfg.rtoMsMin), cfg.rtoMsMax);
  }
}
