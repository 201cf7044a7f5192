// The metric registry (core/metrics/registry.ts) as the page shows it.

import { METRICS, isMetric } from '../../../core/metrics/registry.js';

/** What people read for a column: the registry's label, or the name itself for what it does not declare. */
export function metricLabel(name: string): string {
  return isMetric(name) ? METRICS[name].label : name;
}

/** A column's unit (null for what the registry does not declare). */
export function metricUnit(name: string): string | null {
  return isMetric(name) ? METRICS[name].unit : null;
}

/** The unit the columns share (for an axis title), or null when they do not all have the same one. */
export function sharedUnit(names: readonly string[]): string | null {
  const units = new Set(names.map((n) => (isMetric(n) ? METRICS[n].unit : null)));
  const [only] = units;
  return units.size === 1 && only !== null && only !== undefined ? only : null;
}

/** A value as people read it: the label, the number to four digits and its unit ("Goodput 900 bit/s"). */
export function metricText(name: string, value: number): string {
  const unit = isMetric(name) ? METRICS[name].unit : null;
  const shown = unit === null || unit === 'count' || unit === 'ratio' || unit === '0/1' ? '' : ` ${unit}`;
  return `${metricLabel(name)} ${Number(value.toPrecision(4))}${shown}`;
}
