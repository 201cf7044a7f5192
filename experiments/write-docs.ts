// Writes the column tables of docs/experiments.md from the metric registry (`npm run docs`): the
// columns of samples.csv per workload and the results of summary.csv, each with the unit and
// meaning the registry declares. A test fails when the committed doc is out of date.

import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { FLOW_COLUMN_COUNT, METRICS, type MetricName } from '../core/metrics/registry.js';
import { WORKLOADS } from './kinds/registry.js';
import { MODEL_COLUMNS } from './runner/models.js';

/** The generated blocks of the doc, by name. */
type Block = 'samples' | 'results';
const begin = (b: Block) => `<!-- ${b}: generated from core/metrics/registry.ts by \`npm run docs\`; edit there -->`;
const end = (b: Block) => `<!-- ${b}: end -->`;

const FLOW = /^flow(\d+)_(.*)$/;

/** A table row per metric; a per-flow family is one row. */
function rows(names: readonly MetricName[], meaning: (n: MetricName) => string): string[] {
  const out: string[] = [];
  for (const n of names) {
    const f = FLOW.exec(n);
    if (f !== null && f[1] !== '1') continue;
    const d = METRICS[n];
    const name = f === null ? `\`${n}\`` : `\`flow1_${f[2]}\` ... \`flow${FLOW_COLUMN_COUNT}_${f[2]}\``;
    const text = f === null ? meaning(n) : meaning(n).replace(/\bflow 1's\b/g, "each flow's").replace(/\bflow 1\b/g, 'each flow');
    out.push(`| ${name} | ${d.unit} | ${text} |`);
  }
  return out;
}

const HEAD = ['| Column | Unit | Meaning |', '| --- | --- | --- |'];

/** A generated block of docs/experiments.md. */
export function metricDocs(block: Block): string {
  const parts: string[] = [];
  if (block === 'samples') {
    // Kinds with the same columns share a table.
    const groups = new Map<readonly MetricName[], string[]>();
    for (const w of Object.values(WORKLOADS)) groups.set(w.samples, [...(groups.get(w.samples) ?? []), w.title]);
    for (const [samples, titles] of groups) parts.push(`${titles.join(', ')}:`, '', ...HEAD, ...rows(samples, (n) => METRICS[n].description), '');
    parts.pop();
  } else {
    const results: MetricName[] = ['trials', 'completed_trials', 'changed_by_hand'];
    for (const w of Object.values(WORKLOADS)) for (const n of w.results) if (!results.includes(n)) results.push(n);
    const models: MetricName[] = [];
    for (const list of Object.values(MODEL_COLUMNS)) for (const n of list) if (!models.includes(n)) models.push(n);
    models.push('model_error');
    parts.push(
      '| Result | Unit | Meaning (per trial) |',
      '| --- | --- | --- |',
      ...rows(results, (n) => METRICS[n].result ?? METRICS[n].description),
      '',
      'Model columns (see Models):',
      '',
      ...HEAD,
      ...rows(models, (n) => METRICS[n].description),
    );
  }
  return `${begin(block)}\n${parts.join('\n')}\n${end(block)}`;
}

/** `text` with its generated blocks replaced; throws when a block's markers are missing. */
export function withMetricDocs(text: string): string {
  for (const b of ['samples', 'results'] as const) {
    const from = text.indexOf(begin(b));
    const to = text.indexOf(end(b));
    if (from < 0 || to < from) throw new Error(`docs/experiments.md has no "${begin(b)}" ... "${end(b)}" block`);
    text = text.slice(0, from) + metricDocs(b) + text.slice(to + end(b).length);
  }
  return text;
}

/** Where the doc is. */
export const EXPERIMENTS_DOC = fileURLToPath(new URL('../../docs/experiments.md', import.meta.url));

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1]) {
  writeFileSync(EXPERIMENTS_DOC, withMetricDocs(readFileSync(EXPERIMENTS_DOC, 'utf8')));
  process.stdout.write(`wrote ${EXPERIMENTS_DOC}\n`);
}
