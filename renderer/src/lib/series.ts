// The data behind the live charts, kept outside Svelte's reactivity: one plain array of {x, y}
// points per column and trial, appended in place so that a Chart.js dataset bound to it once sees
// every new point without being re-created. Chart.js's decimation plugin (LTTB) picks the points
// drawn; the buffer itself caps memory for runs far longer than an hour at 10 Hz by halving its
// older part with the same algorithm.

/** One chart point (Chart.js's internal format, so `parsing: false` applies). */
export interface XY {
  x: number;
  y: number;
}

/**
 * Largest-Triangle-Three-Buckets (Steinarsson 2013): `threshold` points of `data` (sorted by x)
 * that keep its visual shape; the first and last points are always kept.
 */
export function lttb(data: readonly XY[], threshold: number): XY[] {
  const n = data.length;
  if (threshold >= n || threshold < 3) return data.slice();
  const out: XY[] = [data[0]!];
  const every = (n - 2) / (threshold - 2);
  let a = 0;
  for (let i = 0; i < threshold - 2; i++) {
    // Average of the next bucket: the third corner of the triangle.
    const nextStart = Math.floor((i + 1) * every) + 1;
    const nextEnd = Math.min(Math.floor((i + 2) * every) + 1, n);
    let avgX = 0;
    let avgY = 0;
    for (let j = nextStart; j < nextEnd; j++) {
      avgX += data[j]!.x;
      avgY += data[j]!.y;
    }
    const len = nextEnd - nextStart;
    avgX /= len;
    avgY /= len;
    const start = Math.floor(i * every) + 1;
    const end = Math.floor((i + 1) * every) + 1;
    const pa = data[a]!;
    let maxArea = -1;
    let chosen = start;
    for (let j = start; j < end; j++) {
      const p = data[j]!;
      const area = Math.abs((pa.x - avgX) * (p.y - pa.y) - (pa.x - p.x) * (avgY - pa.y));
      if (area > maxArea) {
        maxArea = area;
        chosen = j;
      }
    }
    out.push(data[chosen]!);
    a = chosen;
  }
  out.push(data[n - 1]!);
  return out;
}

/**
 * The points of a line without the inner points of runs of equal y: a straight line through them
 * draws the same pixels (sorted x, no curve), and counters that stay at zero for an hour (most loss
 * and retransmission columns) become two points instead of a thousand to update and stroke at
 * every redraw. The first and last points are always kept.
 */
export function withoutFlatRuns(data: readonly XY[]): XY[] {
  const n = data.length;
  const out: XY[] = [];
  for (let i = 0; i < n; i++) {
    const y = data[i]!.y;
    if (i === 0 || i === n - 1 || data[i - 1]!.y !== y || data[i + 1]!.y !== y) out.push(data[i]!);
  }
  return out;
}

/** Default most points a series keeps: more than an hour of 10 Hz samples (36,000). */
export const SERIES_MAX_POINTS = 40_000;

/** The points of one column over one trial, appended in place. */
export class SeriesBuffer {
  /** The array a chart dataset is bound to; its identity never changes. */
  readonly points: XY[] = [];
  /** Times the buffer halved its older part. */
  compactions = 0;
  /** Whether any value so far was not zero (the legend lists only such columns). */
  nonZero = false;

  constructor(readonly maxPoints = SERIES_MAX_POINTS) {
    if (maxPoints < 16) throw new Error('a series keeps at least 16 points');
  }

  /** Appends a point; a missing value (null, NaN) leaves a gap that the line spans. */
  push(x: number, y: number | null | undefined): void {
    if (y === null || y === undefined || !Number.isFinite(y) || !Number.isFinite(x)) return;
    const p = this.points;
    // Samples come in time order; one out of order or repeated (a run read from disk and then
    // followed live overlaps by a few rows) is dropped, not sorted in.
    if (p.length > 0 && x <= p[p.length - 1]!.x) return;
    p.push({ x, y });
    if (y !== 0) this.nonZero = true;
    if (p.length > this.maxPoints) this.compact();
  }

  /** Halves the resolution of the older half so that the newest points stay exact. */
  private compact(): void {
    const p = this.points;
    const half = Math.floor(p.length / 2);
    const older = lttb(p.slice(0, half), Math.max(3, Math.floor(half / 2)));
    p.splice(0, half, ...older);
    this.compactions++;
  }

  /** Empties the buffer in place. */
  clear(): void {
    this.points.length = 0;
    this.nonZero = false;
  }

  get length(): number {
    return this.points.length;
  }
}
