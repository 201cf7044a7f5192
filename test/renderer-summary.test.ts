// @vitest-environment happy-dom
/// <reference path="../core/types/jstat.d.ts" />
// The summary chart of every library experiment, drawn from the summary of its short version as the
// runner makes it (the rows the app gets live, and summary.csv as the app reads it back): no y axis
// mixes units, category and yes/no axes are dots (never lines between categories), log-spaced
// sweeps have a log x axis with readable ticks, legends and axes use people's labels, the model
// stays visible, the BDP is marked, points changed by hand are starred, and the data table holds
// the values drawn.

import { beforeAll, describe, expect, it } from 'vitest';
import { flushSync, mount, unmount } from 'svelte';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Chart as ChartType } from 'chart.js';
import { loadLibrary } from '../experiments/library.js';
import { ExperimentRun } from '../experiments/runner/run.js';
import { readCsv } from '../experiments/runner/store.js';
import { METRICS, isMetric } from '../core/metrics/registry.js';
import { Chart } from '../renderer/src/lib/chartjs.js';
import { layoutSummaries, plotOf, type PlotSpec } from '../renderer/src/lib/summary.js';
import SummaryChart from '../renderer/src/components/SummaryChart.svelte';
import { withStubCanvases } from './helpers/renderer-canvas.js';

const library = loadLibrary();

/** How each experiment's x axis must be drawn. */
const X_KIND: Record<string, 'category' | 'linear' | 'log'> = {
  'udp-buffer-loss': 'linear',
  'unreliable-vs-reliable': 'category',
  'stop-and-wait-rtt': 'log',
  'window-vs-bdp': 'log',
  'loss-gbn-vs-sr': 'linear',
  'timeout-sweep': 'category',
  'sequence-numbers': 'linear',
  checksums: 'category',
  'flow-control': 'log',
  'rpc-call-semantics': 'category',
  'rpc-retry-latency': 'log',
  'lan-peer': 'log',
  'rpc-naming': 'category',
  'competing-flows': 'category',
  failover: 'category',
  replication: 'category',
  'hedged-requests': 'category',
  'at-most-once-failover': 'category',
};

interface Ran {
  /** The spec as the app has it for a run it started (the JSON as written). */
  specJson: Record<string, unknown>;
  plot: PlotSpec;
  model: string | null;
  /** The points as the app gets them live (typed values). */
  live: Record<string, unknown>[];
  /** summary.csv as the app reads a past run (text cells). */
  disk: Record<string, string>[];
}

const runs = new Map<string, Ran>();

beforeAll(async () => {
  for (const e of library) {
    const live: Record<string, unknown>[] = [];
    const r = await new ExperimentRun({
      spec: e.spec,
      specFile: null,
      outDir: mkdtempSync(join(tmpdir(), 'packetlab-summary-')),
      quick: true,
      network: 'sim',
      onEvent: (ev) => {
        if (ev.type === 'point') live.push({ ...ev.summary });
      },
    }).start();
    expect(r.status, `${e.spec.name}: ${r.reason}`).toBe('complete');
    const specJson = JSON.parse(readFileSync(e.file, 'utf8')) as Record<string, unknown>;
    runs.set(e.spec.name, { specJson, plot: plotOf(specJson)!, model: e.spec.model ?? null, live, disk: readCsv(join(r.dir, 'summary.csv')) });
  }
}, 300_000);

/** Mounts the summary chart of `rows`, lets it draw, and hands its charts and element to `check`. */
async function drawn(ran: Ran, rows: Record<string, unknown>[], check: (charts: ChartType<'line'>[], el: HTMLElement, texts: string[]) => Promise<void> | void, extra: Record<string, unknown> = {}): Promise<void> {
  const texts: string[] = [];
  await withStubCanvases(async () => {
    const target = document.createElement('div');
    document.body.append(target);
    const c = mount(SummaryChart, { target, props: { plot: ran.plot, spec: ran.specJson, model: ran.model, rows, revision: 0, theme: 'light', ...extra } });
    flushSync();
    await new Promise((r) => requestAnimationFrame(() => r(null)));
    const charts = [...target.querySelectorAll('[data-chart^="summary"] canvas')].map((cv) => Chart.getChart(cv as HTMLCanvasElement) as ChartType<'line'>);
    // happy-dom lays nothing out: give each panel the size it has in the app.
    for (const ch of charts) ch.resize(640, 240);
    try {
      await check(charts, target, texts);
    } finally {
      unmount(c);
      target.remove();
    }
  }, texts);
}

/** The data tables' headers and rows, after opening each (one per chart, under it). */
function readTables(el: HTMLElement): { head: string[]; rows: string[][] }[] {
  const figures = [...el.querySelectorAll('figure[data-chart^="summary"]')];
  expect(figures.length).toBe(el.querySelectorAll('[data-chart^="summary"] canvas').length);
  return figures.map((fig) => {
    const details = fig.querySelector('details.data-table') as HTMLDetailsElement;
    expect(details.querySelector('summary')!.textContent).toBe('Data table');
    details.open = true;
    details.dispatchEvent(new Event('toggle'));
    flushSync();
    expect(details.open).toBe(true);
    const table = details.querySelector('table')!;
    expect(table).not.toBeNull();
    // The table is the chart's, outside its text alternative (an image's content is hidden from screen readers).
    expect(table.closest('[role=img]')).toBeNull();
    const cells = (tr: Element) => [...tr.querySelectorAll('th, td')].map((x) => x.textContent!.trim());
    return { head: cells(table.querySelector('thead tr')!), rows: [...table.querySelectorAll('tbody tr')].map(cells) };
  });
}

/** Factors by which a table cell may be scaled (SI, binary and percent). */
const FACTORS = [1, 1e3, 1e6, 1e9, 1024, 1024 ** 2, 0.01, 1e-3];

describe('the summary chart of every library experiment', () => {
  it.each(library.map((e) => e.spec.name))('%s: one unit per axis, dots on categories, log where log-spaced, people\'s labels, and a data table', async (name) => {
    const ran = runs.get(name)!;
    for (const [source, rows] of [['live', ran.live], ['summary.csv', ran.disk]] as const) {
      const layout = layoutSummaries([rows], ran.plot, ran.specJson)[0]!;
      // One unit per y axis: every line of a panel, measured or model, is in the panel's unit.
      const units = [...new Set(ran.plot.y.map((y) => METRICS[y as keyof typeof METRICS].unit))];
      expect(layout.panels.map((p) => p.unit), `${name} (${source})`).toEqual(units);
      for (const p of layout.panels) for (const l of p.lines) expect(isMetric(l.column) ? METRICS[l.column].unit : null, `${name}: ${l.column}`).toBe(p.unit);
      expect(layout.x.kind, `${name} (${source})`).toBe(X_KIND[name]);
      expect(layout.panels.flatMap((p) => p.lines).some((l) => l.points.length > 0)).toBe(true);

      await drawn(ran, rows, (charts, el) => {
        expect(charts).toHaveLength(units.length);
        const xs = new Set(rows.map((r) => String(r[ran.plot.x])));
        for (const ch of charts) {
          const x = ch.options.scales!.x!;
          expect(x.type).toBe(X_KIND[name] === 'log' ? 'logarithmic' : 'linear');
          for (const d of ch.data.datasets) {
            // Category and yes/no axes: dots, no line from one category to the next.
            expect(d.showLine, `${name}: ${d.label}`).toBe(X_KIND[name] !== 'category' && d.label !== 'changed by hand');
            // People's labels, never a column's name.
            expect(d.label).not.toMatch(/_/);
          }
          const tickLabels = ch.scales.x!.ticks.map((t) => String(t.label));
          expect(tickLabels.length).toBeGreaterThan(0);
          if (X_KIND[name] === 'category') expect(tickLabels).toHaveLength(xs.size);
          // Readable ticks: no "6.94747747187".
          for (const t of [...tickLabels, ...ch.scales.y!.ticks.map((t) => String(t.label))]) expect(t, name).not.toMatch(/\d\.\d{4,}|e[+-]\d/);
          const yTitle = (ch.options.scales!.y as { title: { text: string } }).title.text;
          expect(yTitle).not.toMatch(/_|^$/);
          expect((x as { title: { text: string } }).title.text).not.toBe('');
        }
        const tables = readTables(el);
        for (const t of tables) {
          for (const h of t.head) expect(h).not.toMatch(/_/);
          // A row per sweep value (per category).
          expect(t.rows).toHaveLength(xs.size);
        }
        // Every value of the first result drawn is in the first chart's table.
        const table = tables[0]!.rows;
        const first = ran.plot.y.find((y) => rows.some((r) => String(r[`${y}_mean`] ?? '') !== ''))!;
        for (const r of rows) {
          const v = Number(r[`${first}_mean`]);
          if (String(r[`${first}_mean`] ?? '') === '' || !Number.isFinite(v)) continue;
          const found = table.some((row) => row.slice(1).some((cell) => cell !== '–' && FACTORS.some((f) => Math.abs(Number(cell.replace(/,/g, '')) * f - v) <= Math.max(Math.abs(v) * 5e-4, 1e-9))));
          expect(found, `${name}: ${first} = ${v} in ${JSON.stringify(table)}`).toBe(true);
        }
      });
    }
  }, 60_000);

  it('window-vs-bdp: the BDP is a labelled vertical line on the log window axis, the model dashed and hollow over the measurement', async () => {
    const ran = runs.get('window-vs-bdp')!;
    const bdp = Number(ran.disk[0]!.expected_bdp_packets);
    expect(bdp).toBeGreaterThan(1);
    await drawn(ran, ran.disk, (charts, el, texts) => {
      expect(charts).toHaveLength(1);
      const ch = charts[0]!;
      expect(texts).toContain('BDP');
      const x = ch.scales.x!;
      expect(bdp).toBeGreaterThanOrEqual(x.min);
      expect(bdp).toBeLessThanOrEqual(x.max);
      expect(ch.scales.x!.ticks.map((t) => t.label)).toEqual(['1', '16', '128']);
      const model = ch.data.datasets.find((d) => d.label === 'Expected goodput')!;
      const measured = ch.data.datasets.filter((d) => d.label!.startsWith('Goodput, protocol = '));
      expect(measured.map((d) => d.label)).toEqual(['Goodput, protocol = gbn', 'Goodput, protocol = sr']);
      // On a clean link the two protocols measure the same: the second is drawn wider, with larger
      // markers of another shape, under the first, so that both stay visible.
      const [gbn, sr] = measured as [(typeof measured)[number], (typeof measured)[number]];
      const ys = (d: typeof gbn) => (d.data as unknown as { y: number }[]).map((p) => p.y);
      expect(ys(gbn)).toEqual(ys(sr));
      expect(sr.borderWidth as number).toBeGreaterThan(gbn.borderWidth as number);
      expect(sr.pointRadius as number).toBeGreaterThan(gbn.pointRadius as number);
      expect(sr.pointStyle).not.toBe(gbn.pointStyle);
      expect(gbn.order!).toBeLessThan(sr.order!);
      expect(model.borderDash).toEqual([6, 4]);
      expect(model.backgroundColor).toBe('transparent');
      expect(model.pointRadius).toBeGreaterThan(measured[0]!.pointRadius as number);
      // Drawn over the measurement (Chart.js draws lower orders last).
      expect(model.order).toBeLessThan(measured[0]!.order!);
      expect(el.querySelector('[role=img]')!.getAttribute('aria-label')).toMatch(/BDP at 41\.7 packets/);
    });
    // Lines that do not run on each other are drawn alike, each with its own marker shape.
    await drawn(runs.get('rpc-retry-latency')!, runs.get('rpc-retry-latency')!.live, (charts) => {
      const [p50, p90, p99] = charts[0]!.data.datasets;
      expect(p99!.borderWidth).toBe(p90!.borderWidth);
      expect(p99!.pointRadius).toBe(p50!.pointRadius);
      expect(new Set([p50!.pointStyle, p90!.pointStyle, p99!.pointStyle]).size).toBe(3);
    });
  });

  it('a point changed by hand is starred, named in the legend and counted in the table', async () => {
    const ran = runs.get('window-vs-bdp')!;
    const rows = ran.live.map((r, i) => (i === 1 ? { ...r, changed_by_hand: 1 } : r));
    await drawn(ran, rows, (charts, el) => {
      const ch = charts[0]!;
      const hand = ch.data.datasets.find((d) => d.label === 'changed by hand')!;
      expect(hand.data).toHaveLength(1);
      expect(hand.pointStyle).toBe('star');
      expect((hand.data[0] as unknown as { x: number }).x).toBe(rows[1]!.window);
      expect(ch.legend!.legendItems!.map((l) => l.text)).toContain('changed by hand');
      expect(el.querySelector('[role=img]')!.getAttribute('aria-label')).toMatch(/1 trial changed by hand/);
      const { head, rows: table } = readTables(el)[0]!;
      expect(head.at(-1)).toBe('Trials changed by hand');
      const at = table.find((r) => r[0] === String(rows[1]!.window))!;
      expect(at.at(-1)).toBe('1');
      expect(table.filter((r) => r.at(-1) === '0')).toHaveLength(table.length - 1);
    });
    // Without hand changes, no such entry.
    await drawn(ran, ran.live, (charts) => expect(charts[0]!.data.datasets.map((d) => d.label)).not.toContain('changed by hand'));
  });

  it('an overlaid run is drawn beside the shown one on the same axes, both named', async () => {
    const ran = runs.get('checksums')!;
    const names = { shown: '20261206-101010', overlay: '20261205-090909' };
    await drawn(
      ran,
      ran.live,
      (charts, el) => {
        const labels = charts.flatMap((c) => c.data.datasets.map((d) => d.label));
        expect(labels).toContain('Corrupt, delivered · 20261206-101010');
        expect(labels).toContain('Corrupt, delivered · 20261205-090909');
        // Side by side in each category, not on top of each other.
        const ch = charts.find((c) => c.data.datasets.some((d) => d.label === 'Corrupt, delivered · 20261205-090909'))!;
        const xsOf = (label: string) => (ch.data.datasets.find((d) => d.label === label)!.data as unknown as { x: number }[]).map((p) => p.x);
        expect(xsOf('Corrupt, delivered · 20261206-101010')[0]).not.toBe(xsOf('Corrupt, delivered · 20261205-090909')[0]);
        const heads = readTables(el).flatMap((t) => t.head);
        expect(heads).toContain('Corrupt, delivered · 20261205-090909 (packets)');
      },
      { overlayRows: ran.disk, names },
    );
  });
});
