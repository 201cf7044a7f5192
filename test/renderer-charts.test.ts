// @vitest-environment happy-dom
// The live charts' data pipeline: LTTB, series appended in place with a memory cap, trials from
// batches and from a run on disk, change markers, one redraw per frame, and Chart.js bound once
// to the in-place arrays with parsing off, no animation and decimation capping the points drawn,
// for an hour of 10 Hz samples.

import { describe, expect, it } from 'vitest';
import { lttb, SeriesBuffer, withoutFlatRuns, type XY } from '../renderer/src/lib/series.js';
import { CHART_DEFS, CHARTED_COLUMNS, TrialData, markerOf, trialsFromRun } from '../renderer/src/lib/run-data.js';
import { FrameScheduler, frames as chartFrames } from '../renderer/src/lib/frame.js';
import { placeMarkers, knobMarkerPlugin } from '../renderer/src/lib/markers.js';
import { Chart, liveChartOptions, chartColors, siText } from '../renderer/src/lib/chartjs.js';
import { dashboardLayout } from '../renderer/src/lib/dashboard.js';
import { runDate } from '../renderer/src/lib/exports.js';
import { formatNumber, formatWithUnit, layoutSummaries, logSpaced, panelScale, panelTitle, plotOf, summaryTable, unitScale, xValuesOf, type SummaryLayout } from '../renderer/src/lib/summary.js';
import { stubContext, withStubCanvases } from './helpers/renderer-canvas.js';

function ramp(n: number, f: (i: number) => number = (i) => Math.sin(i / 50) * 100): XY[] {
  return Array.from({ length: n }, (_, i) => ({ x: i / 10, y: f(i) }));
}

describe('lttb', () => {
  it('keeps the first and last points and returns as many as asked', () => {
    const d = ramp(10_000);
    const out = lttb(d, 500);
    expect(out).toHaveLength(500);
    expect(out[0]).toBe(d[0]);
    expect(out.at(-1)).toBe(d.at(-1));
    for (let i = 1; i < out.length; i++) expect(out[i]!.x).toBeGreaterThan(out[i - 1]!.x);
  });

  it('keeps a one-sample spike that an average would flatten', () => {
    const d = ramp(10_000, (i) => (i === 4321 ? 1000 : 1));
    const out = lttb(d, 200);
    expect(out.some((p) => p.y === 1000)).toBe(true);
  });

  it('returns a copy when there is nothing to drop', () => {
    const d = ramp(10);
    expect(lttb(d, 50)).toEqual(d);
    expect(lttb(d, 50)).not.toBe(d);
  });
});

describe('withoutFlatRuns', () => {
  /** y of the polyline through `line` at x (x inside its range). */
  function yAt(line: readonly XY[], x: number): number {
    const j = line.findIndex((p) => p.x >= x);
    if (line[j]!.x === x) return line[j]!.y;
    const a = line[j - 1]!;
    const b = line[j]!;
    return a.y + ((b.y - a.y) * (x - a.x)) / (b.x - a.x);
  }

  it('draws the same line: every point dropped lies on the segment that replaces it', () => {
    // A counter that is mostly zero with bursts, and plateaus at other values.
    const d: XY[] = Array.from({ length: 5000 }, (_, i) => ({ x: i / 10, y: i % 700 < 20 ? (i % 7) * 3 : i % 1500 < 900 ? 0 : 42 }));
    const out = withoutFlatRuns(d);
    expect(out.length).toBeLessThan(d.length / 4);
    expect(out[0]).toBe(d[0]);
    expect(out[out.length - 1]).toBe(d[d.length - 1]);
    for (const p of d) expect(yAt(out, p.x)).toBe(p.y);
  });

  it('makes a constant series two points and keeps a varying one whole', () => {
    const zeros = Array.from({ length: 1000 }, (_, i) => ({ x: i, y: 0 }));
    expect(withoutFlatRuns(zeros)).toEqual([zeros[0], zeros[999]]);
    const ramp = Array.from({ length: 100 }, (_, i) => ({ x: i, y: i }));
    expect(withoutFlatRuns(ramp)).toEqual(ramp);
    expect(withoutFlatRuns([])).toEqual([]);
    expect(withoutFlatRuns([{ x: 1, y: 2 }])).toEqual([{ x: 1, y: 2 }]);
  });
});

describe('SeriesBuffer', () => {
  it('appends in place (the bound array never changes) and leaves gaps for missing values', () => {
    const s = new SeriesBuffer();
    const arr = s.points;
    s.push(0.1, 5);
    s.push(0.2, null);
    s.push(0.3, Number.NaN);
    s.push(0.4, 7);
    s.push(0.35, 9); // out of order: dropped
    expect(s.points).toBe(arr);
    expect(arr).toEqual([
      { x: 0.1, y: 5 },
      { x: 0.4, y: 7 },
    ]);
    expect(s.nonZero).toBe(true);
    s.clear();
    expect(s.points).toBe(arr);
    expect(arr).toHaveLength(0);
    expect(s.nonZero).toBe(false);
  });

  it('keeps an hour of 10 Hz samples exactly, and caps longer series by halving the older part', () => {
    const hour = new SeriesBuffer();
    for (let i = 0; i < 36_000; i++) hour.push(i / 10, i % 7);
    expect(hour.length).toBe(36_000);
    expect(hour.compactions).toBe(0);

    const s = new SeriesBuffer(1000);
    const arr = s.points;
    for (let i = 0; i < 10_000; i++) s.push(i / 10, i === 123 ? 1e6 : i % 10);
    expect(s.points).toBe(arr);
    expect(s.length).toBeLessThanOrEqual(1000);
    expect(s.compactions).toBeGreaterThan(0);
    expect(arr[0]).toEqual({ x: 0, y: 0 });
    // The newest points are exact; the old spike survived the compactions.
    expect(arr.at(-1)).toEqual({ x: 999.9, y: 9 });
    expect(arr.at(-2)).toEqual({ x: 999.8, y: 8 });
    expect(arr.some((p) => p.y === 1e6)).toBe(true);
    for (let i = 1; i < arr.length; i++) expect(arr[i]!.x).toBeGreaterThan(arr[i - 1]!.x);
  });
});

describe('trials and markers', () => {
  it('keeps only charted columns, with time_s as x, and picks the chart variant of the workload', () => {
    const t = new TrialData(0, 0, 'p1');
    t.addSample({ time_s: 0.1, throughput_bps: 10, goodput_bps: 8, point: 0, wall: 'x', not_charted: 3 });
    t.addSample({ time_s: 0.2, throughput_bps: 12, goodput_bps: null });
    t.addSample({ throughput_bps: 99 }); // no time: ignored
    expect([...t.columns.keys()].sort()).toEqual(['goodput_bps', 'throughput_bps']);
    expect(t.series('throughput_bps').points).toEqual([
      { x: 0.1, y: 10 },
      { x: 0.2, y: 12 },
    ]);
    expect(t.samples).toBe(2);
    const rate = CHART_DEFS.find((d) => d.id === 'rate')!;
    expect(t.variantOf(rate).title).toBe('Throughput and goodput');
    const rpc = new TrialData(0, 0, 'rpc');
    rpc.addSample({ time_s: 1, calls_per_s: 100, latency_p50_ms: 3 });
    expect(rpc.variantOf(rate).title).toBe('Calls per second');
    expect(rpc.variantOf(CHART_DEFS.find((d) => d.id === 'window')!).title).toBe('RPC latency percentiles');
    expect(CHARTED_COLUMNS.has('retransmits_timeout')).toBe(true);
    expect(CHARTED_COLUMNS.has('kernel_drops_receiver')).toBe(true);
  });

  it('turns knob changes into "label: before → after" markers and ignores other events', () => {
    expect(markerOf({ kind: 'set', timeS: 3.2, knob: 'transport.rtoMs', label: 'Retransmission timeout (ms)', before: '200', after: '50', detail: 'user' })).toEqual({
      timeS: 3.2,
      knob: 'transport.rtoMs',
      before: '200',
      after: '50',
      detail: 'user',
      label: 'Retransmission timeout (ms): 200 → 50',
      effect: null,
    });
    // Runs made before events.csv kept the label show the knob's path.
    expect(markerOf({ kind: 'set', timeS: 1, knob: 'transport.rtoMs', before: '200', after: '50' })!.label).toBe('transport.rtoMs: 200 → 50');
    expect(markerOf({ kind: 'trial-start', timeS: 0 })).toBeNull();
    expect(markerOf({ kind: 'error', timeS: 1, knob: 'transport.protocol', detail: 'not live' })).toBeNull();
  });

  it('builds the trials of a run opened from disk, with their markers', () => {
    const set = trialsFromRun({
      record: { points: [{ index: 0, axes: { window: 8 } }, { index: 1, axes: { window: 16 } }] },
      samples: {
        columns: ['point', 'repetition', 'window', 'time_s', 'goodput_bps'],
        rows: [
          [0, 0, 8, 0.1, 100],
          [0, 0, 8, 0.2, 110],
          [1, 0, 16, 0.1, 200],
        ],
      },
      events: {
        columns: ['time_s', 'wall_time', 'point', 'repetition', 'kind', 'knob', 'label', 'before', 'after', 'detail'],
        rows: [
          [0.15, 'w', 0, 0, 'set', 'forward.lossProbability', 'Loss probability', 0, 0.1, 'user'],
          [0.15, 'w', 0, 0, 'effect', 'forward.lossProbability', 'Loss probability', 'goodput_bps=9', 'goodput_bps=5', 'Goodput 9 bit/s → 5 bit/s (0.05 s before, 0.05 s after)'],
          [0.0, 'w', 1, 0, 'trial-start', null, null, null, null, null],
        ],
      },
    });
    expect(set.trials.map((t) => t.key)).toEqual(['0/0', '1/0']);
    expect(set.trials[0]!.label).toBe('point 1 (window = 8), repetition 1');
    expect(set.trials[0]!.series('goodput_bps').length).toBe(2);
    expect(set.trials[0]!.markers.map((m) => [m.label, m.effect])).toEqual([['Loss probability: 0 → 0.1', 'Goodput 9 bit/s → 5 bit/s (0.05 s before, 0.05 s after)']]);
    expect(set.trials[1]!.markers).toEqual([]);
  });

  it('places marker labels inside the chart area, staggering close ones', () => {
    const markers = [0, 1, 1.1, 50].map((t) => markerOf({ kind: 'set', timeS: t, knob: 'k', before: '1', after: '2' })!);
    const places = placeMarkers(markers, (t) => 100 + t * 10, { left: 100, right: 500, top: 10, bottom: 200 }, 14);
    expect(places.map((p) => p.x)).toEqual([100, 110, 111]); // t = 50 is off the right edge
    expect(places[1]!.labelY).toBeGreaterThan(places[0]!.labelY);
    expect(places[2]!.labelY).toBeGreaterThan(places[1]!.labelY);
    // The change's first figure goes under its label, without the span.
    markers[0]!.effect = 'Goodput 1.47 Mbit/s → 5.89 Mbit/s; Loss 0% → 0% (2 s before and after)';
    expect(placeMarkers(markers, (t) => 100 + t * 10, { left: 100, right: 500, top: 10, bottom: 200 }, 26)[0]!.effect).toBe('Goodput 1.47 Mbit/s → 5.89 Mbit/s');
  });
});

describe('FrameScheduler', () => {
  it('redraws each chart at most once per frame however many batches arrive', () => {
    const frames: (() => void)[] = [];
    const s = new FrameScheduler((cb) => frames.push(cb));
    const a = { n: 0, update() { this.n++; } };
    const b = { n: 0, update() { this.n++; } };
    for (let i = 0; i < 50; i++) {
      s.request(a);
      s.request(b);
    }
    expect(frames).toHaveLength(1);
    frames.shift()!();
    expect([a.n, b.n]).toEqual([1, 1]);
    s.request(a);
    s.cancel(a);
    frames.shift()!();
    expect(a.n).toBe(1);
    expect(s.frames).toBe(2);
  });

  it('leaves the charts that do not fit the frame budget to the next frames, oldest request first', () => {
    const frames: (() => void)[] = [];
    let nowMs = 0;
    const s = new FrameScheduler((cb) => frames.push(cb), 8, () => nowMs);
    const drawn: string[] = [];
    // Each redraw takes 5 ms: two fit a budget of 8 ms (the second starts at 5 ms).
    const chart = (name: string) => ({ update: () => { drawn.push(name); nowMs += 5; } });
    const [a, b, c, d] = ['a', 'b', 'c', 'd'].map(chart) as [ReturnType<typeof chart>, ReturnType<typeof chart>, ReturnType<typeof chart>, ReturnType<typeof chart>];
    for (const x of [a, b, c, d]) s.request(x);
    frames.shift()!();
    expect(drawn).toEqual(['a', 'b']);
    expect(s.pending).toBe(2);
    expect(frames).toHaveLength(1);
    // A new batch: a asks again, c (waiting) keeps its place ahead of it; no chart twice in a frame.
    s.request(a);
    s.request(c);
    frames.shift()!();
    expect(drawn).toEqual(['a', 'b', 'c', 'd']);
    frames.shift()!();
    expect(drawn).toEqual(['a', 'b', 'c', 'd', 'a']);
    expect(frames).toHaveLength(0);
    expect(s.pending).toBe(0);
  });

  it('draws one chart a frame when a single redraw takes longer than the budget', () => {
    const frames: (() => void)[] = [];
    let nowMs = 0;
    const s = new FrameScheduler((cb) => frames.push(cb), 8, () => nowMs);
    let n = 0;
    const slow = () => ({ update: () => { n++; nowMs += 30; } });
    for (const x of [slow(), slow(), slow()]) s.request(x);
    for (let i = 1; i <= 3; i++) {
      frames.shift()!();
      expect(n).toBe(i);
    }
    expect(frames).toHaveLength(0);
  });
});

/** An 800 x 300 canvas in the page with a stub context; `texts` collects what is written on it. */
function stubCanvas(): { canvas: HTMLCanvasElement; texts: string[] } {
  const texts: string[] = [];
  const canvas = document.createElement('canvas');
  canvas.width = 800;
  canvas.height = 300;
  const ctx = stubContext(canvas, texts);
  Object.defineProperty(canvas, 'getContext', { value: () => ctx });
  document.body.append(canvas);
  return { canvas, texts };
}

describe('Chart.js binding', () => {
  it('uses parsing off, no animation and LTTB decimation', () => {
    const o = liveChartOptions('bit/s', chartColors(null));
    expect(o.parsing).toBe(false);
    expect(o.animation).toBe(false);
    expect(o.plugins?.decimation).toMatchObject({ enabled: true, algorithm: 'lttb' });
    expect(o.scales?.x?.type).toBe('linear');
  });

  it('draws an hour of 10 Hz samples decimated, from arrays pushed in place, with the change markers', () => {
    const { canvas, texts } = stubCanvas();
    const trial = new TrialData(0, 0, 't');
    const columns = ['throughput_bps', 'goodput_bps'];
    const options = liveChartOptions('bit/s', chartColors(null));
    options.responsive = false;
    options.plugins = { ...options.plugins, knobMarkers: { markers: trial.markers } };
    const chart = new Chart(canvas, {
      type: 'line',
      data: { datasets: columns.map((c) => ({ label: c, data: trial.series(c).points })) },
      options,
      plugins: [knobMarkerPlugin],
    });
    const datasets = chart.data.datasets;
    const arrays = columns.map((c) => trial.series(c).points);
    // An hour arrives in batches of 10 samples; one redraw per batch at most.
    const started = performance.now();
    for (let i = 0; i < 36_000; i++) {
      trial.addSample({ time_s: (i + 1) / 10, throughput_bps: 1e6 + (i % 100) * 1e3, goodput_bps: 9e5 });
      if (i === 18_000) trial.markers.push(markerOf({ kind: 'set', timeS: 1800, knob: 'transport.rtoMs', before: '200', after: '50' })!);
      if (i % 10 === 9 && i % 1000 === 999) chart.update('none');
    }
    chart.update('none');
    const elapsed = performance.now() - started;
    // Datasets were never re-created; the arrays behind them are the trial's own, full.
    expect(chart.data.datasets).toBe(datasets);
    columns.forEach((c, i) => {
      expect(trial.series(c).points).toBe(arrays[i]);
      expect(arrays[i]).toHaveLength(36_000);
    });
    // What is drawn is capped by the decimation plugin.
    for (let i = 0; i < columns.length; i++) {
      const drawn = chart.getDatasetMeta(i).data.length;
      expect(drawn).toBeGreaterThan(100);
      expect(drawn).toBeLessThanOrEqual(600);
    }
    expect(texts).toContain('transport.rtoMs: 200 → 50');
    expect(elapsed).toBeLessThan(20_000);
    chart.destroy();
  });
});

describe('summary chart', () => {
  it('draws plot.y means against plot.x per series, with the expectation beside them', () => {
    const plot = plotOf({ plot: { x: 'window', y: ['goodput_bps'], series: 'protocol' } })!;
    const rows = [
      { point: 0, protocol: 'gbn', window: 1, goodput_bps_mean: 10, expected_goodput_bps: 11 },
      { point: 1, protocol: 'gbn', window: 4, goodput_bps_mean: 40, expected_goodput_bps: 42 },
      { point: 2, protocol: 'sr', window: 1, goodput_bps_mean: 9, expected_goodput_bps: 11 },
    ];
    const l = layoutSummaries([rows], plot)[0]!;
    expect(l.x.labels).toBeNull();
    expect(l.panels).toHaveLength(1);
    const lines = l.panels[0]!.lines;
    expect(lines.map((x) => x.label)).toEqual(['Goodput, protocol = gbn', 'Expected goodput, protocol = gbn', 'Goodput, protocol = sr', 'Expected goodput, protocol = sr']);
    expect(lines[0]!.points.map(({ x, y }) => ({ x, y }))).toEqual([
      { x: 1, y: 10 },
      { x: 4, y: 40 },
    ]);
    expect(lines[1]!.expected).toBe(true);
  });

  it('draws a model that does not depend on the series once', () => {
    const plot = { x: 'window', y: ['goodput_bps'], series: 'protocol' };
    const rows = ['gbn', 'sr'].flatMap((protocol) => [1, 4].map((window) => ({ protocol, window, goodput_bps_mean: window * (protocol === 'sr' ? 10 : 9), expected_goodput_bps: window * 10 })));
    const lines = layoutSummaries([rows], plot)[0]!.panels[0]!.lines;
    expect(lines.map((x) => x.label)).toEqual(['Goodput, protocol = gbn', 'Expected goodput', 'Goodput, protocol = sr']);
  });

  it('uses labels for an axis of text, shared with an overlaid run', () => {
    const plot = { x: 'rto', y: ['goodput_bps'] };
    const [main, over] = layoutSummaries(
      [
        [
          { rto: 'fixed 20 ms', goodput_bps_mean: 5 },
          { rto: 'adaptive', goodput_bps_mean: 9 },
        ],
        [{ rto: 'adaptive', goodput_bps_mean: 8 }],
      ],
      plot,
    );
    expect(main!.x.kind).toBe('category');
    expect(main!.x.labels).toEqual(['fixed 20 ms', 'adaptive']);
    expect(over!.x.labels).toEqual(['fixed 20 ms', 'adaptive']);
    expect(over!.panels[0]!.lines[0]!.points.map(({ x, y }) => ({ x, y }))).toEqual([{ x: 1, y: 8 }]);
    expect(plotOf({})).toBeNull();
  });

  it('draws a yes/no axis as two categories, on and off, whether the values are live booleans or as summary.csv writes them', () => {
    const plot = { x: 'checksum', y: ['checksum_failures', 'data_matched'] };
    const spec = { sweep: [{ name: 'checksum', knob: 'transport.verifyChecksum', values: [true, false] }] };
    const [live, disk] = layoutSummaries(
      [
        [
          { checksum: true, checksum_failures_mean: 5, data_matched_mean: 1 },
          { checksum: false, checksum_failures_mean: 0, data_matched_mean: 0 },
        ],
        // summary.csv: true as 1, false as an empty cell.
        [
          { checksum: '1', checksum_failures_mean: '4', data_matched_mean: '1' },
          { checksum: '', checksum_failures_mean: '0', data_matched_mean: '0' },
        ],
      ],
      plot,
      spec,
    );
    expect(live!.x).toMatchObject({ kind: 'category', labels: ['on', 'off'], title: 'Verify checksums' });
    const matched = (l: SummaryLayout) => l.panels.find((p) => p.unit === '0/1')!.lines[0]!.points.map(({ x, y }) => ({ x, y }));
    expect(matched(live!)).toEqual([
      { x: 0, y: 1 },
      { x: 1, y: 0 },
    ]);
    expect(matched(disk!)).toEqual(matched(live!));
    expect(xValuesOf([live!, disk!])).toEqual([0, 1]);
  });

  it('puts results of different units on panels of their own, each with its model', () => {
    const plot = { x: 'rate', y: ['loss_ratio', 'kernel_drops_receiver', 'jitter_ms', 'lost_packets'] };
    const rows = [20_000, 60_000].map((rate) => ({ rate, loss_ratio_mean: rate / 1e5, kernel_drops_receiver_mean: rate / 10, jitter_ms_mean: 1, lost_packets_mean: rate / 9, expected_loss_ratio: rate / 1.1e5 }));
    const l = layoutSummaries([rows], plot)[0]!;
    expect(l.panels.map((p) => [p.unit, p.columns])).toEqual([
      ['ratio', ['loss_ratio']],
      ['datagrams', ['kernel_drops_receiver', 'lost_packets']],
      ['ms', ['jitter_ms']],
    ]);
    expect(l.panels[0]!.lines.map((x) => [x.label, x.expected])).toEqual([
      ['Loss ratio', false],
      ['Expected loss ratio', true],
    ]);
    expect(panelTitle(l.panels[0]!, panelScale([l.panels[0]!]))).toBe('Loss ratio');
    expect(panelTitle(l.panels[1]!, panelScale([l.panels[1]!]))).toBe('datagrams');
    expect(panelTitle(l.panels[2]!, panelScale([l.panels[2]!]))).toBe('ms');
  });

  it('tells log-spaced sweeps from linear ones', () => {
    expect(logSpaced([1, 2, 4, 8, 16, 32, 64, 128])).toBe(true);
    expect(logSpaced([15, 25, 50, 100, 200, 500, 1000])).toBe(true);
    expect(logSpaced([4096, 16384, 32768, 65536, 262144])).toBe(true);
    expect(logSpaced([0.5, 0.964, 1.86, 3.59, 6.95, 13.4, 25.9, 50])).toBe(true);
    expect(logSpaced([20_000, 40_000, 60_000, 80_000, 120_000])).toBe(false);
    expect(logSpaced([0, 0.01, 0.02, 0.05, 0.1])).toBe(false);
    expect(logSpaced([1, 2])).toBe(false);
    expect(logSpaced([10, 20, 30, 40, 50, 60, 70, 80, 90, 100])).toBe(false);
  });

  it('writes numbers with SI prefixes and at most a few digits', () => {
    expect(formatNumber(6.94747747187)).toBe('6.95');
    expect(formatNumber(1_200_000_000)).toBe('1,200,000,000');
    expect(formatWithUnit(1_200_000_000, unitScale('bit/s', 1.2e9))).toBe('1.2 Gbit/s');
    expect(formatWithUnit(4_672_559.55, unitScale('bit/s', 9e6))).toBe('4.67 Mbit/s');
    expect(formatWithUnit(262_144, unitScale('bytes', 262_144))).toBe('256 KiB');
    expect(formatWithUnit(0.5, unitScale('0/1', 1))).toBe('50% of trials');
    expect(formatWithUnit(2019.9, unitScale('ms', 2019.9))).toBe('2,020 ms');
    expect(formatWithUnit(20_199, unitScale('ms', 20_199))).toBe('20.2 s');
  });

  it("marks the bandwidth-delay product on a window axis, and the points a hand changed", () => {
    const plot = { x: 'window', y: ['goodput_bps'] };
    const spec = { sweep: [{ name: 'window', knob: 'transport.windowPackets', values: [1, 4, 16, 64] }] };
    const rows = [1, 4, 16, 64].map((window, point) => ({ point, window, trials: 2, changed_by_hand: window === 16 ? 1 : 0, goodput_bps_mean: Math.min(window, 41.7) * 2e5, expected_goodput_bps: Math.min(window, 41.7) * 2e5, expected_bdp_packets: 41.7 }));
    const l = layoutSummaries([rows], plot, spec)[0]!;
    expect(l.x).toMatchObject({ kind: 'log', title: 'Window (packets)' });
    expect(l.marks).toEqual([{ x: 41.7, label: 'BDP', column: 'expected_bdp_packets' }]);
    // The BDP is not a line of the goodput panel.
    expect(l.panels[0]!.lines.map((x) => x.column)).toEqual(['goodput_bps', 'expected_goodput_bps']);
    expect(l.handTrials).toBe(1);
    expect(l.panels[0]!.lines[0]!.points.map((p) => p.hand)).toEqual([0, 0, 1, 0]);
    const t = summaryTable(l);
    expect(t.head).toEqual(['Window (packets)', 'Goodput (Mbit/s)', 'Expected goodput (Mbit/s)', 'Trials changed by hand']);
    expect(t.rows).toEqual([
      ['1', '0.2', '0.2', '0'],
      ['4', '0.8', '0.8', '0'],
      ['16', '3.2', '3.2', '1'],
      ['64', '8.34', '8.34', '0'],
    ]);
    // Not on an axis of another unit.
    const lossSpec = { sweep: [{ name: 'loss', knob: 'forward.lossProbability', values: [0, 0.1] }] };
    expect(layoutSummaries([[{ loss: 0, goodput_bps_mean: 1, expected_bdp_packets: 41.7 }]], { x: 'loss', y: ['goodput_bps'] }, lossSpec)[0]!.marks).toEqual([]);
  });
});

describe('Charts component', () => {
  it('binds datasets once per trial, redraws per frame from the same arrays, and follows the latest trial', async () => {
    const { mount, unmount, flushSync } = await import('svelte');
    const { batch, startedRun } = await import('./helpers/renderer-run.js');
    const Charts = (await import('../renderer/src/components/Charts.svelte')).default;
    await withStubCanvases(async () => {
      const { fake, run } = await startedRun('{"name":"x","title":"X"}');
      const target = document.createElement('div');
      document.body.append(target);
      const c = mount(Charts, { target, props: { run, theme: 'light' } });
      // The charts of a batch are redrawn over the next frames (a frame starts none once its budget is spent).
      const nextFrame = async () => {
        for (let i = 0; i < 20; i++) {
          await new Promise((r) => requestAnimationFrame(() => r(null)));
          if (chartFrames.pending === 0) return;
        }
        throw new Error('charts still waiting after 20 frames');
      };
      const push = (point: number, from: number, n: number, trial?: boolean) =>
        fake.push(
          batch({
            samples: Array.from({ length: n }, (_, i) => ({ point, repetition: 0, values: { time_s: (from + i) / 10, throughput_bps: 1000 + i, goodput_bps: 900 } })),
            ...(trial ? { trial: { point, repetition: 0, axes: {}, trial: point + 1, trials: 2 } } : {}),
          }),
        );
      push(0, 1, 10, true);
      flushSync();
      await nextFrame();
      const canvas = target.querySelector('[data-chart="rate"] canvas') as HTMLCanvasElement;
      const chart = Chart.getChart(canvas)!;
      expect(chart).toBeDefined();
      const datasets = chart.data.datasets;
      const first = run.trial!.series('throughput_bps').points;
      // Legends name the figures as the metric registry labels them, below the canvas, each a toggle.
      expect(datasets.map((d) => d.label)).toEqual(['Throughput', 'Goodput']);
      expect(chart.options.plugins!.legend!.display).toBe(false);
      const legend = [...target.querySelectorAll('[data-chart="rate"] .legend button')] as HTMLButtonElement[];
      expect(legend.map((b) => b.textContent!.trim())).toEqual(['Throughput', 'Goodput']);
      legend[1]!.click();
      flushSync();
      expect(chart.isDatasetVisible(1)).toBe(false);
      expect(legend[1]!.getAttribute('aria-pressed')).toBe('false');
      legend[1]!.click();
      flushSync();
      expect(chart.isDatasetVisible(1)).toBe(true);
      // SI prefixes and the unit on the ticks.
      const tick = (chart.options.scales!.y!.ticks as { callback: (v: number) => string }).callback;
      expect(tick(1_200_000_000)).toBe('1.2 Gbit/s');
      // Charts of figures this workload does not report are under "More charts".
      // The time-sequence graph too: these samples came with no DATA packet (a UDP stream's have none).
      expect([...target.querySelectorAll('.charts > figure.chart')].map((f) => f.getAttribute('data-chart'))).toEqual(['rate']);
      expect(target.querySelector('details.more summary')!.textContent).toBe('More charts (5: figures this workload does not report)');
      expect(target.querySelector('details.more [data-chart="timeseq"]')).not.toBeNull();
      for (let b = 1; b <= 20; b++) {
        push(0, 1 + b * 10, 10);
        flushSync();
      }
      await nextFrame();
      expect(chart.data.datasets).toBe(datasets);
      expect(first).toHaveLength(210);
      expect(chart.getDatasetMeta(0).data.length).toBe(210);
      // A new trial: the charts move to its arrays.
      push(1, 1, 5, true);
      flushSync();
      await nextFrame();
      expect(chart.data.datasets).not.toBe(datasets);
      expect(chart.getDatasetMeta(0).data.length).toBe(5);
      expect(target.querySelector('[data-chart="rate"] [role=img]')!.getAttribute('aria-label')).toMatch(/^Throughput and goodput, point 2, repetition 1: 5 samples up to 0.5 s; latest Throughput 1004 bit\/s, Goodput 900 bit\/s; 0 knob changes marked\.$/);
      unmount(c);
    });
  });
});

describe('chart variants', () => {
  it('draws competing flows per flow: goodput, fairness, windows and the queue', () => {
    const t = new TrialData(0, 0, 'flows');
    t.addSample({ time_s: 1, total_goodput_bps: 9e6, flow1_goodput_bps: 5e6, flow2_goodput_bps: 4e6, jain_index: 0.99, flow1_cwnd_packets: 30, fwd_queue_packets: 12, fwd_drops_queue: 1 });
    const title = (id: string) => t.variantOf(CHART_DEFS.find((d) => d.id === id)!).title;
    expect(['rate', 'loss', 'retransmissions', 'rtt', 'window'].map(title)).toEqual(['Goodput per flow', 'Loss', "Fairness (Jain's index)", 'RTT, SRTT and RTO', 'Congestion windows and the queue']);
  });
});

describe('axis ticks', () => {
  it('write SI prefixes with the unit, keep times in their unit and counts bare', () => {
    expect(siText(1_200_000_000, 'bit/s')).toBe('1.2 Gbit/s');
    expect(siText(655_360, 'bit/s')).toBe('655 kbit/s');
    expect(siText(0, 'bit/s')).toBe('0 bit/s');
    expect(siText(70_000, 'count')).toBe('70k');
    expect(siText(60_000, 'ms')).toBe('60000 ms');
    expect(siText(0.25, 'ratio')).toBe('0.25');
    expect(siText(262_144, 'bytes')).toBe('262 kbytes');
  });
});

describe('dashboard PNG', () => {
  const chart = (title: string, x: number, y: number) => ({ title, frame: { x, y, width: 400, height: 300 }, canvas: { x: x + 8, y: y + 30, width: 384, height: 240 }, legend: [{ text: 'Goodput', color: '#16a34a', x: x + 8, y: y + 274 }] });

  it('lays out every chart as on screen, at twice the resolution, under the title, run id, seed and date', () => {
    const l = dashboardLayout([chart('Throughput and goodput', 0, 0), chart('Loss', 420, 0), chart('RTT', 0, 320)], { title: 'Loss sweep', runId: '20261206-182504-loss', seed: 7, date: runDate('20261206-182504-loss') }, 2);
    expect(l.width).toBe((820 + 24) * 2);
    expect(l.height).toBe((620 + 56 + 24) * 2);
    const texts = l.steps.filter((s) => s.kind === 'text').map((s) => (s as { text: string }).text);
    expect(texts.slice(0, 2)).toEqual(['Loss sweep', 'run 20261206-182504-loss · seed 7 · 2026-12-06 18:25:04']);
    expect(texts).toContain('Throughput and goodput');
    expect(texts).toContain('■ Goodput');
    const charts = l.steps.filter((s) => s.kind === 'chart') as { index: number; rect: { x: number; y: number; width: number; height: number } }[];
    expect(charts.map((c) => c.index)).toEqual([0, 1, 2]);
    expect(charts[1]!.rect).toEqual({ x: (428 + 12) * 2, y: (30 + 12 + 56) * 2, width: 768, height: 480 });
  });
});
