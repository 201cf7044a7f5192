// @vitest-environment happy-dom
// The time-sequence graph: DATA transmissions, retransmissions and drops as points, the ACK and
// receive-window lines, SACKed ranges as segments, sequence numbers relative to the first across
// the wrap, sorted for Chart.js, capped; filled from the live packet stream and from packets.csv of
// a past run; and the chart bound once per trial to those arrays.

import { describe, expect, it } from 'vitest';
import { flushSync, mount, unmount } from 'svelte';
import type { LadderPacket, RunData } from '../experiments/api/contract.js';
import { insertSorted, packetFromRow, thinByTime, TimeSeqData, DEFAULT_MSS_BYTES, type FlowSeq } from '../renderer/src/lib/timeseq.js';
import { trialsFromRun } from '../renderer/src/lib/run-data.js';
import { Chart } from '../renderer/src/lib/chartjs.js';
import type { XY } from '../renderer/src/lib/series.js';
import TimeSeqChart from '../renderer/src/components/TimeSeqChart.svelte';
import { withStubCanvases } from './helpers/renderer-canvas.js';
import { batch, startedRun } from './helpers/renderer-run.js';
import { settle } from './helpers/fake-api.js';
import { ladderPacket } from './helpers/renderer-ladder.js';

function ack(arrivedS: number, a: number, windowBytes: number | null = 10 * 1164, sack: number[] = []): LadderPacket {
  return ladderPacket({ sentS: arrivedS - 0.02, arrivedS, direction: 'reverse', type: 'ACK', seq: 5, ack: a, windowBytes, sack });
}

const sorted = (a: XY[]) => a.every((p, i) => i === 0 || a[i - 1]!.x <= p.x);

describe('TimeSeqData', () => {
  it('draws transmissions, retransmissions, drops, the ACK and window lines and SACKed ranges', () => {
    const t = new TimeSeqData(1000);
    t.addAll([
      ladderPacket({ type: 'SYN', seq: 999, sentS: 0, arrivedS: 0.02 }),
      ack(0.04, 1000),
      ladderPacket({ sentS: 0.04, arrivedS: 0.06, seq: 1000 }),
      ladderPacket({ sentS: 0.041, arrivedS: null, seq: 1001, fate: 'random' }),
      ladderPacket({ sentS: 0.042, arrivedS: 0.062, seq: 1002 }),
      ack(0.08, 1001, 8000),
      ack(0.082, 1001, 8000, [1002, 1003]),
      ladderPacket({ sentS: 0.2, arrivedS: 0.22, seq: 1001, retransmission: true }),
      ack(0.24, 1003, 8000),
      // An old ACK arriving late does not pull the line down.
      ack(0.25, 1001, 8000),
    ]);
    expect(t.flows[0]!.base).toBe(1000);
    expect(t.flows[0]!.data).toEqual([
      { x: 0.04, y: 0 },
      { x: 0.041, y: 1 },
      { x: 0.042, y: 2 },
    ]);
    expect(t.flows[0]!.retransmissions).toEqual([{ x: 0.2, y: 1 }]);
    expect(t.flows[0]!.dropped).toEqual([{ x: 0.041, y: 1 }]);
    // The handshake's ACK came before any DATA: nothing to be relative to.
    expect(t.flows[0]!.acks).toEqual([
      { x: 0.08, y: 1 },
      { x: 0.082, y: 1 },
      { x: 0.24, y: 3 },
      { x: 0.25, y: 3 },
    ]);
    expect(t.flows[0]!.window.map((p) => p.y)).toEqual([9, 9, 11, 11]);
    expect(t.flows[0]!.sacks.slice(0, 2)).toEqual([
      { x: 0.082, y: 2 },
      { x: 0.082, y: 3 },
    ]);
    expect(t.flows[0]!.sacks[2]!.y).toBeNaN();
    expect([t.transmissions, t.retransmitted, t.drops, t.ackCount]).toEqual([4, 1, 1, 4]);
    expect(t.describe()).toBe('Time-sequence graph: 4 DATA transmissions (1 retransmission, 1 dropped), 4 ACKs; sequence up to 3 packets after the first by 0.250 s; receive window 8 packets above the ACK.');
    expect(new TimeSeqData().describe()).toBe('Time-sequence graph: no DATA packets yet.');
    expect(new TimeSeqData().mssBytes).toBe(DEFAULT_MSS_BYTES);
  });

  it('draws the same SACK blocks once, not at every ACK that repeats them', () => {
    const t = new TimeSeqData();
    t.add(ladderPacket({ seq: 1 }));
    for (let i = 0; i < 5; i++) t.add(ack(0.1 + i / 100, 2, 10_000, [4, 6, 8, 9]));
    t.add(ack(0.2, 2, 10_000, [4, 7, 8, 9]));
    expect(t.flows[0]!.sacks).toHaveLength(12);
  });

  it('counts from the first sequence number across the wrap of the sequence space', () => {
    const t = new TimeSeqData();
    t.add(ladderPacket({ sentS: 0.1, seq: 0xfffffffe }));
    t.add(ladderPacket({ sentS: 0.2, seq: 0xffffffff }));
    t.add(ladderPacket({ sentS: 0.3, seq: 0 }));
    t.add(ladderPacket({ sentS: 0.4, seq: 1 }));
    t.add(ack(0.5, 2));
    expect(t.flows[0]!.data.map((p) => p.y)).toEqual([0, 1, 2, 3]);
    expect(t.flows[0]!.acks[0]!.y).toBe(4);
  });

  it('counts from the lowest sequence number when a later packet is seen first (dropped at a full queue before the queued ones arrive)', () => {
    const t = new TimeSeqData();
    t.add(ladderPacket({ sentS: 0.3, seq: 103, arrivedS: null, fate: 'queue' }));
    t.add(ack(0.35, 103));
    for (let i = 0; i < 3; i++) t.add(ladderPacket({ sentS: 0.1 * i, seq: 100 + i }));
    const f = t.flows[0]!;
    expect(f.base).toBe(100);
    expect(f.data.map((p) => p.y)).toEqual([0, 1, 2, 3]);
    expect(f.dropped).toEqual([{ x: 0.3, y: 3 }]);
    expect(f.acks).toEqual([{ x: 0.35, y: 3 }]);
    expect(t.describe()).toMatch(/sequence up to 3 packets after the first/);
  });

  it('keeps every dataset sorted by time (Chart.js reads the range off the ends) and caps the points', () => {
    const t = new TimeSeqData(1164, 1000);
    // Packets come in the order they arrive or are dropped, not the order they were sent.
    for (let i = 0; i < 5000; i++) t.add(ladderPacket({ sentS: (i % 2 === 0 ? i + 1 : i - 1) / 1000, seq: i }));
    expect(sorted(t.flows[0]!.data)).toBe(true);
    expect(t.flows[0]!.data.length).toBeLessThanOrEqual(1000);
    expect(t.flows[0]!.data.length).toBeGreaterThan(400);
    // The newest points stay exact.
    expect(t.flows[0]!.data.at(-1)!.x).toBeCloseTo(4.999);
    expect(t.transmissions).toBe(5000);

    const arr: XY[] = [];
    for (const x of [3, 1, 2, 2, 0, 5]) insertSorted(arr, { x, y: x });
    expect(arr.map((p) => p.x)).toEqual([0, 1, 2, 2, 3, 5]);
    // Segments of three points thin as a whole: the first of each slice of time, and the last.
    const segs: XY[] = Array.from({ length: 18 }, (_, i) => ({ x: Math.floor(i / 3), y: i % 3 === 2 ? Number.NaN : i }));
    thinByTime(segs, 2, 3);
    expect(segs.map((p) => p.x)).toEqual([0, 0, 0, 3, 3, 3, 5, 5, 5]);
    expect(segs[2]!.y).toBeNaN();
  });

  it('thins a long trial evenly over time: its start keeps points as its end does', () => {
    const t = new TimeSeqData(1164, 1000);
    // 20 s at 650 packets a second: 13 times what a dataset keeps.
    for (let i = 0; i < 13_000; i++) {
      t.add(ladderPacket({ sentS: i / 650, seq: i }));
      t.add(ack(i / 650 + 0.02, i + 1));
    }
    for (const arr of [t.flows[0]!.data, t.flows[0]!.acks]) {
      expect(arr.length).toBeLessThanOrEqual(1000);
      const perSecond = Array.from({ length: 20 }, (_, s) => arr.filter((p) => p.x >= s && p.x < s + 1).length);
      // Every second keeps points (halving only the older half left the first seconds none).
      expect(Math.min(...perSecond)).toBeGreaterThanOrEqual(10);
      // No step in the ACK line longer than a fortieth of the trial.
      for (let i = 1; i < arr.length; i++) expect(arr[i]!.x - arr[i - 1]!.x).toBeLessThan(0.5);
    }
    // The newest point is kept exactly.
    expect(t.flows[0]!.data.at(-1)).toEqual({ x: 12_999 / 650, y: 12_999 });
  });

  it('leaves a far-away window line off the top so the data stays readable', () => {
    const t = new TimeSeqData(1000);
    t.add(ladderPacket({ seq: 0 }));
    t.add(ack(0.1, 4, 8000));
    expect(t.yMax()).toBeUndefined();
    t.add(ack(0.2, 5, 256_000));
    expect(t.yMax()).toBe(9);
    expect(t.describe()).toMatch(/receive window 256 packets above the ACK \(off the top\)\.$/);
  });
});

describe('the time-sequence graph of competing flows', () => {
  /** Two flows' packets as they share the links: random ISNs far apart (one close to the wrap), a reverse flow. */
  function flows(): LadderPacket[] {
    const out: LadderPacket[] = [];
    const isn = [0xfffffff0, 0x12345678, 0x80000001];
    for (let i = 0; i < 40; i++) {
      const t = i / 100;
      out.push(ladderPacket({ connection: 11, sentS: t, seq: (isn[0]! + i) >>> 0, arrivedS: i === 7 ? null : t + 0.02, fate: i === 7 ? 'queue' : 'delivered' }));
      out.push(ladderPacket({ connection: 22, sentS: t + 0.001, seq: (isn[1]! + 2 * i) >>> 0 }));
      out.push(ladderPacket({ connection: 22, sentS: t + 0.002, seq: (isn[1]! + 2 * i + 1) >>> 0 }));
      out.push({ ...ack(t + 0.04, (isn[0]! + i + 1) >>> 0), connection: 11 });
      out.push({ ...ack(t + 0.041, (isn[1]! + 2 * i + 2) >>> 0), connection: 22 });
      // A flow the other way: its DATA crosses the reverse link, its ACKs the forward one.
      out.push(ladderPacket({ connection: 33, direction: 'reverse', sentS: t + 0.003, seq: (isn[2]! + i) >>> 0 }));
      out.push({ ...ack(t + 0.05, (isn[2]! + i + 1) >>> 0), direction: 'forward', connection: 33 });
    }
    out.push(ladderPacket({ connection: 11, sentS: 0.5, seq: (isn[0]! + 7) >>> 0, retransmission: true }));
    return out;
  }

  it('draws each connection from its own first packet, with its own ACKs, whichever way it goes', () => {
    const t = new TimeSeqData();
    t.addAll(flows());
    expect(t.flows.map((f) => [f.index, f.connection, f.dataDirection])).toEqual([
      [1, 11, 'forward'],
      [2, 22, 'forward'],
      [3, 33, 'reverse'],
    ]);
    const [a, b, c] = t.flows as [FlowSeq, FlowSeq, FlowSeq];
    expect(a.data.map((p) => p.y)).toEqual(Array.from({ length: 40 }, (_, i) => i));
    expect(b.data.map((p) => p.y)).toEqual(Array.from({ length: 80 }, (_, i) => i));
    expect(c.data.map((p) => p.y)).toEqual(Array.from({ length: 40 }, (_, i) => i));
    expect(a.retransmissions).toEqual([{ x: 0.5, y: 7 }]);
    expect(a.dropped).toEqual([{ x: 0.07, y: 7 }]);
    expect(a.acks.at(-1)!.y).toBe(40);
    expect(b.acks.at(-1)!.y).toBe(80);
    expect(c.acks.at(-1)!.y).toBe(40);
    // Nothing below 0 or far above what was sent: no sequence space of another flow.
    for (const f of t.flows) for (const arr of [f.data, f.acks, f.retransmissions, f.dropped]) for (const p of arr) expect(p.y >= 0 && p.y <= 80).toBe(true);
    expect(t.transmissions).toBe(161);
    expect(t.yMax()).toBeUndefined();
    expect(t.describe('point 1')).toMatch(/^Time-sequence graph, point 1: 3 flows, each numbered from its own first packet \(161 DATA transmissions, 1 retransmission, 1 dropped in all\); flow 1: 41 DATA transmissions .*; flow 2: 80 DATA transmissions .*sequence up to 80 packets after the first by 0\.431 s; flow 3: 40 DATA/);
  });

  it('draws each flow in its own datasets, on an axis from 0, adding a flow when it appears', async () => {
    await withStubCanvases(async () => {
      const { fake, run } = await startedRun('{"name":"x","title":"X"}');
      const target = document.createElement('div');
      document.body.append(target);
      fake.push(batch({ trial: { point: 0, repetition: 0, axes: {}, trial: 1, trials: 1 } }));
      const c = mount(TimeSeqChart, { target, props: { get trial() { return run.trial; }, get revision() { return run.revision; }, theme: 'light' } });
      flushSync();
      const chart = Chart.getChart(target.querySelector('[data-chart="timeseq"] canvas') as HTMLCanvasElement)!;
      const packets = flows();
      fake.push(batch({ packets: packets.filter((p) => p.connection === 11) }));
      flushSync();
      await new Promise((r) => requestAnimationFrame(() => r(null)));
      expect(chart.data.datasets.map((d) => d.label)).toEqual(['DATA sent', 'retransmission', 'dropped', 'ACK', 'receive window', 'SACKed']);
      fake.push(batch({ packets }));
      flushSync();
      await new Promise((r) => requestAnimationFrame(() => r(null)));
      expect(chart.data.datasets.map((d) => d.label)).toEqual([1, 2, 3].flatMap((i) => [`Flow ${i}: DATA sent`, `Flow ${i}: ACK`, `Flow ${i}: retransmission`, `Flow ${i}: dropped`]));
      expect(chart.data.datasets[4]!.data).toBe(run.trial!.timeSeq.flows[1]!.data);
      chart.update('none');
      expect(chart.scales.y!.min).toBeGreaterThanOrEqual(0);
      expect(chart.scales.y!.max).toBeLessThan(200);
      expect((chart.options.scales!.y as { title: { text: string } }).title.text).toBe("packets after each flow's first");
      unmount(c);
    });
  });
});

describe('the time-sequence graph of a past run', () => {
  it("reads packets.csv rows, the trials' own, with the spec's MSS", () => {
    const packets: RunData['packets'] = {
      columns: ['point', 'repetition', 'sent_s', 'arrived_s', 'direction', 'type', 'seq', 'ack', 'window_bytes', 'sack', 'retransmission', 'fate'],
      rows: [
        [0, 0, 0.01, 0.03, 'forward', 'DATA', 500, null, null, null, 0, 'delivered'],
        [0, 0, 0.011, null, 'forward', 'DATA', 501, null, null, '', 0, 'manual'],
        [0, 0, 0.012, 0.032, 'forward', 'DATA', 502, null, null, '', 0, 'delivered'],
        [0, 0, 0.03, 0.05, 'reverse', 'ACK', 9, 501, 4000, '502 503', 0, 'delivered'],
        [0, 0, 0.3, 0.32, 'forward', 'DATA', 501, null, null, '', 1, 'delivered'],
        [1, 0, 0.01, 0.03, 'forward', 'DATA', 77, null, null, '', 0, 'delivered'],
        [1, 0, 'x', 0.03, 'forward', 'DATA', 77, null, null, '', 0, 'delivered'],
      ],
    };
    expect(packetFromRow({ point: 0, repetition: 0, sent_s: 1, arrived_s: '', direction: 'reverse', type: 'ACK', seq: 3, ack: 4, window_bytes: 100, sack: '5 6 8 9', retransmission: '1', fate: 'queue' })).toEqual({
      point: 0,
      repetition: 0,
      sentS: 1,
      arrivedS: null,
      direction: 'reverse',
      type: 'ACK',
      seq: 3,
      ack: 4,
      windowBytes: 100,
      sack: [5, 6, 8, 9],
      retransmission: true,
      fate: 'queue',
      connection: null,
    });
    const set = trialsFromRun({ samples: { columns: [], rows: [] }, events: { columns: [], rows: [] }, record: { spec: { transport: { mssBytes: 1000 } } }, packets });
    const t0 = set.find('0/0')!.timeSeq;
    expect(t0.mssBytes).toBe(1000);
    expect(t0.flows[0]!.data.map((p) => p.y)).toEqual([0, 1, 2]);
    expect(t0.flows[0]!.dropped).toEqual([{ x: 0.011, y: 1 }]);
    expect(t0.flows[0]!.retransmissions).toEqual([{ x: 0.3, y: 1 }]);
    expect(t0.flows[0]!.acks).toEqual([{ x: 0.05, y: 1 }]);
    expect(t0.flows[0]!.window).toEqual([{ x: 0.05, y: 5 }]);
    expect(t0.flows[0]!.sacks.slice(0, 2).map((p) => p.y)).toEqual([2, 3]);
    expect(set.find('1/0')!.timeSeq.transmissions).toBe(1);
    // The ladder of a past run: the trial's packets in the order they were sent.
    expect(set.find('0/0')!.packets.map((p) => p.sentS)).toEqual([0.01, 0.011, 0.012, 0.03, 0.3]);
    expect(set.find('0/0')!.packets[1]).toMatchObject({ seq: 501, fate: 'manual', arrivedS: null });
    expect(set.find('1/0')!.packets).toHaveLength(1);
    expect(set.find('0/0')!.packetsCut).toBe(false);
    // Past the ladder's cap the first packets are kept and the trial says it was cut; the
    // time-sequence graph still has them all.
    const cut = trialsFromRun({ samples: { columns: [], rows: [] }, events: { columns: [], rows: [] }, record: null, packets }, 3);
    expect(cut.find('0/0')!.packets.map((p) => p.sentS)).toEqual([0.01, 0.011, 0.012]);
    expect(cut.find('0/0')!.packetsCut).toBe(true);
    expect(cut.find('0/0')!.timeSeq.transmissions).toBe(set.find('0/0')!.timeSeq.transmissions);
    // The cap is each trial's: a trial after a cut one keeps its own packets.
    expect(cut.find('1/0')!.packets.map((p) => p.seq)).toEqual([77]);
    expect(cut.find('1/0')!.packetsCut).toBe(false);
    // No ladder at all (an overlaid run): no packets kept, none said to be cut, the same graph.
    const none = trialsFromRun({ samples: { columns: [], rows: [] }, events: { columns: [], rows: [] }, record: null, packets }, 0);
    expect(none.trials.map((t) => [t.packets.length, t.packetsCut])).toEqual([[0, false], [0, false]]);
    expect(none.find('0/0')!.timeSeq.transmissions).toBe(set.find('0/0')!.timeSeq.transmissions);
  });
});

describe('TimeSeqChart', () => {
  it('binds a scatter chart once per trial to the live packets of the trial, redrawing per frame', async () => {
    await withStubCanvases(async () => {
      const { fake, run } = await startedRun('{"name":"x","title":"X","transport":{"mssBytes":1000}}');
      const target = document.createElement('div');
      document.body.append(target);
      const trialStart = (point: number) => ({ trial: { point, repetition: 0, axes: {}, trial: point + 1, trials: 2 } });
      fake.push(batch(trialStart(0)));
      const c = mount(TimeSeqChart, { target, props: { get trial() { return run.trial; }, get revision() { return run.revision; }, theme: 'light' } });
      flushSync();
      const nextFrame = () => new Promise((r) => requestAnimationFrame(() => r(null)));
      const canvas = target.querySelector('[data-chart="timeseq"] canvas') as HTMLCanvasElement;
      const chart = Chart.getChart(canvas)!;
      expect((chart.config as { type?: string }).type).toBe('scatter');
      expect(chart.options.parsing).toBe(false);
      expect(chart.options.animation).toBe(false);
      const datasets = chart.data.datasets;
      expect(datasets.map((d) => d.label)).toEqual(['DATA sent', 'retransmission', 'dropped', 'ACK', 'receive window', 'SACKed']);
      for (let b = 0; b < 10; b++) {
        fake.push(batch({ packets: [ladderPacket({ sentS: b / 100, seq: 10 + b }), ack(b / 100 + 0.04, 11 + b, 4000)] }));
        flushSync();
      }
      await nextFrame();
      expect(chart.data.datasets).toBe(datasets);
      expect(datasets[0]!.data).toBe(run.trial!.timeSeq.flows[0]!.data);
      expect(chart.getDatasetMeta(0).data.length).toBe(10);
      expect(chart.getDatasetMeta(3).data.length).toBe(10);
      expect(target.querySelector('[data-chart="timeseq"] [role=img]')!.getAttribute('aria-label')).toBe(
        'Time-sequence graph, point 1, repetition 1: 10 DATA transmissions (0 retransmissions, 0 dropped), 10 ACKs; sequence up to 10 packets after the first by 0.130 s; receive window 4 packets above the ACK.',
      );
      // A new trial: its own graph.
      fake.push(batch({ packets: [ladderPacket({ sentS: 0.01, seq: 50, retransmission: true, arrivedS: null, fate: 'queue' })], ...trialStart(1) }));
      flushSync();
      await nextFrame();
      expect(chart.data.datasets).not.toBe(datasets);
      expect(chart.getDatasetMeta(0).data.length).toBe(0);
      expect(chart.getDatasetMeta(1).data.length).toBe(1);
      expect(chart.getDatasetMeta(2).data.length).toBe(1);
      expect(run.view!.trials.find('0/0')!.timeSeq.transmissions).toBe(10);
      unmount(c);
    });
  });
});

describe('the time-sequence graph of a run started in the app', () => {
  it('shows the trial the packets came with when a batch holds the whole of earlier trials', async () => {
    // As fast as the simulator goes, one batch (100 ms) holds every sample of short trials and
    // the start of the next one; the worker sends the packets of that last trial only.
    const { fake, run } = await startedRun('{"name":"x","title":"X"}');
    const sample = (point: number, timeS: number) => ({ point, repetition: 0, values: { time_s: timeS, goodput_bps: 1000 } });
    fake.push(
      batch({
        samples: [sample(0, 0.1), sample(0, 0.2), sample(1, 0.1), sample(2, 0.1)],
        trial: { point: 2, repetition: 0, axes: { window: 4 }, trial: 3, trials: 3 },
        packets: [ladderPacket({ sentS: 0.01, seq: 100 }), ladderPacket({ sentS: 0.02, seq: 101 })],
      }),
    );
    expect(run.view!.trials.trials.map((t) => t.key)).toEqual(['0/0', '1/0', '2/0']);
    expect(run.trial!.key).toBe('2/0');
    expect(run.trial!.timeSeq.describe()).toMatch(/: 2 DATA transmissions/);
  });
});

describe('the time-sequence graph of a finished run', () => {
  it("fills every trial from packets.csv once the run ends, in the arrays the chart is bound to", async () => {
    const cols = ['point', 'repetition', 'sent_s', 'arrived_s', 'direction', 'type', 'seq', 'ack', 'window_bytes', 'sack', 'retransmission', 'fate'];
    const rows: (string | number | null)[][] = [];
    for (let p = 0; p < 2; p++) for (let i = 0; i < 50; i++) rows.push([p, 0, i / 100, i / 100 + 0.02, 'forward', 'DATA', 7000 + i, null, null, '', 0, 'delivered']);
    const table = { columns: [], rows: [] };
    const disk: RunData = { info: { id: 'run-1', name: 'x', title: 'X', status: 'complete', reason: null, network: 'sim', startedAt: '', endedAt: '', trials: 2, captures: [] }, record: null, samples: table, events: table, summary: table, packets: { columns: cols, rows }, warnings: [] };
    const { fake, run } = await startedRun('{"name":"x","title":"X"}', { openRun: () => ({ ok: true, value: disk }) });
    const sample = (point: number) => ({ point, repetition: 0, values: { time_s: 0.1, goodput_bps: 1000 } });
    // Trial 1 ran within one batch: the worker sent none of its packets; trial 2 sent its last ones.
    fake.push(batch({ samples: [sample(0), sample(1)], trial: { point: 1, repetition: 0, axes: {}, trial: 2, trials: 2 }, packets: [ladderPacket({ sentS: 0.49, seq: 7049 })] }));
    const first = run.view!.trials.find('0/0')!.timeSeq;
    const bound = first.flows[0]!.data;
    expect(first.empty).toBe(true);
    fake.push(batch({ status: { state: 'complete', reason: null, dir: '/r' } }));
    await settle();
    expect(fake.methods()).toContain('openRun');
    expect(first.flows[0]!.data).toBe(bound);
    expect(first.transmissions).toBe(50);
    expect(first.flows[0]!.data.map((p) => p.y)).toEqual(Array.from({ length: 50 }, (_, i) => i));
    expect(run.trial!.timeSeq.transmissions).toBe(50);
    expect(run.trial!.timeSeq.describe()).toMatch(/: 50 DATA transmissions .* sequence up to 49 packets after the first by 0\.490 s/);
  });
});
