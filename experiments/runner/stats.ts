// Means and 95% confidence intervals over the repetitions of a sweep point (Student's t).

import jStat from 'jstat';

/** Mean and half-width of the 95% confidence interval of the finite values (NaN when undefined). */
export function meanCi95(values: readonly number[]): { mean: number; ci95: number; n: number } {
  const xs = values.filter((v) => Number.isFinite(v));
  const n = xs.length;
  if (n === 0) return { mean: Number.NaN, ci95: Number.NaN, n };
  const mean = xs.reduce((a, b) => a + b, 0) / n;
  if (n < 2) return { mean, ci95: Number.NaN, n };
  const variance = xs.reduce((a, b) => a + (b - mean) ** 2, 0) / (n - 1);
  const t = jStat.studentt.inv(0.975, n - 1);
  return { mean, ci95: (t * Math.sqrt(variance)) / Math.sqrt(n), n };
}
