// A latency histogram with logarithmic buckets (about 1% wide, from 1 microsecond to about 20
// minutes): constant memory, constant time per sample, and percentiles accurate to a bucket.
// Samples of an interval and of a whole run come from two histograms, or from one that is reset.

const MIN_MS = 0.001;
const GROWTH = 1.01;
const LOG_GROWTH = Math.log(GROWTH);
const BUCKETS = 2100;

/** The bucket of a latency. */
export function bucketOf(ms: number): number {
  return ms <= MIN_MS ? 0 : Math.min(BUCKETS - 1, 1 + Math.floor(Math.log(ms / MIN_MS) / LOG_GROWTH));
}

/** Latencies in milliseconds, bucketed. */
export class LatencyHistogram {
  private readonly counts = new Float64Array(BUCKETS);
  /** Samples recorded. */
  count = 0;
  /** Sum of the samples (ms). */
  sumMs = 0;
  /** Largest sample (ms); NaN when empty. */
  maxMs = Number.NaN;
  /** Smallest sample (ms); NaN when empty. */
  minMs = Number.NaN;

  /** Records one latency. */
  record(ms: number): void {
    this.recordInBucket(bucketOf(ms), ms);
  }

  /** Records a latency whose bucket (bucketOf) is known already: two histograms, one logarithm. */
  recordInBucket(i: number, ms: number): void {
    this.counts[i]!++;
    this.count++;
    this.sumMs += ms;
    if (!(ms <= this.maxMs)) this.maxMs = ms;
    if (!(ms >= this.minMs)) this.minMs = ms;
  }

  /** Mean latency (ms), NaN when empty. */
  get meanMs(): number {
    return this.count === 0 ? Number.NaN : this.sumMs / this.count;
  }

  /** The q-quantile (0 < q <= 1) in ms: the geometric middle of its bucket, clamped to [min, max]. NaN when empty. */
  quantile(q: number): number {
    if (this.count === 0) return Number.NaN;
    const rank = Math.max(1, Math.ceil(q * this.count));
    let seen = 0;
    for (let i = 0; i < BUCKETS; i++) {
      seen += this.counts[i]!;
      if (seen >= rank) {
        const v = i === 0 ? MIN_MS : MIN_MS * GROWTH ** (i - 0.5);
        return Math.min(this.maxMs, Math.max(this.minMs, v));
      }
    }
    return this.maxMs;
  }

  /** Adds another histogram's samples. */
  merge(o: LatencyHistogram): void {
    for (let i = 0; i < BUCKETS; i++) this.counts[i]! += o.counts[i]!;
    this.count += o.count;
    this.sumMs += o.sumMs;
    if (o.count > 0) {
      if (!(o.maxMs <= this.maxMs)) this.maxMs = o.maxMs;
      if (!(o.minMs >= this.minMs)) this.minMs = o.minMs;
    }
  }

  /** Forgets every sample. */
  reset(): void {
    this.counts.fill(0);
    this.count = 0;
    this.sumMs = 0;
    this.maxMs = Number.NaN;
    this.minMs = Number.NaN;
  }
}
