// @vitest-environment happy-dom
/// <reference path="../core/types/jstat.d.ts" />
// The packet ladder: the layout function (arrows between the two lines, time running down, drops
// ending halfway with the reason, styles for retransmissions, duplicates, corruption), the packets
// it shows (the most recent, or a past run's up to a chosen time), the accessible summary, and the
// component's text list.

import { describe, expect, it } from 'vitest';
import { flushSync, mount, unmount } from 'svelte';
import type { LadderPacket } from '../experiments/api/contract.js';
import { describePacket, ladderWindow, layoutLadder, recentPackets, SeqBases } from '../renderer/src/lib/ladder.js';
import Ladder from '../renderer/src/components/Ladder.svelte';
import { ladderPacket } from './helpers/renderer-ladder.js';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { validateSpec } from '../experiments/spec.js';
import { ExperimentRun } from '../experiments/runner/run.js';
import { batch, startedRun } from './helpers/renderer-run.js';

/** The sender's ISN (random, as a connection picks it): the SYN's sequence number. */
const ISN = 909_542_730;

const flow: LadderPacket[] = [
  ladderPacket({ sentS: 0.0, arrivedS: 0.01, seq: ISN + 1 }),
  ladderPacket({ sentS: 0.001, arrivedS: null, seq: ISN + 2, fate: 'random' }),
  ladderPacket({ sentS: 0.01, arrivedS: 0.02, direction: 'reverse', type: 'ACK', seq: 5, ack: ISN + 2 }),
  ladderPacket({ sentS: 0.03, arrivedS: 0.04, seq: ISN + 2, retransmission: true }),
  ladderPacket({ sentS: 0.031, arrivedS: 0.045, seq: ISN + 3, fate: 'duplicate' }),
  ladderPacket({ sentS: 0.032, arrivedS: 0.041, seq: ISN + 4, fate: 'corrupted' }),
  ladderPacket({ sentS: 0.033, arrivedS: null, direction: 'reverse', type: 'ACK', ack: ISN + 3, seq: 6, fate: 'queue' }),
];

/** The bases of a trial that began with a handshake (SYN at the ISN, SYN-ACK at the receiver's 4) before `flow`. */
function trialBases(): SeqBases {
  const b = new SeqBases();
  b.observeAll([ladderPacket({ type: 'SYN', seq: ISN }), ladderPacket({ type: 'SYN-ACK', direction: 'reverse', seq: 4, ack: ISN + 1 })]);
  return b;
}

describe('layoutLadder', () => {
  const l = layoutLadder(flow, { width: 500, height: 400, bases: trialBases() });

  it('draws forward packets from the sender line to the receiver line and the reverse ones back', () => {
    const [first, , ack] = l.arrows;
    expect(l.senderX).toBeLessThan(l.receiverX);
    expect([first!.x1, first!.x2]).toEqual([l.senderX, l.receiverX]);
    expect([ack!.x1, ack!.x2]).toEqual([l.receiverX, l.senderX]);
    expect(first!.label).toBe('DATA 1');
    expect(ack!.label).toBe('ACK 2');
  });

  it('runs time downwards: arrival below sending, later packets lower', () => {
    for (const a of l.arrows) expect(a.y2).toBeGreaterThan(a.y1);
    const ys = l.arrows.map((a) => a.y1);
    expect([...ys].sort((a, b) => a - b)).toEqual(ys);
    expect(l.arrows[0]!.y1).toBeCloseTo(l.top);
    expect(Math.max(...l.arrows.map((a) => a.y2))).toBeCloseTo(l.bottom);
    expect(l.ticks).toHaveLength(5);
    expect(l.ticks[0]!.label).toBe('0.0 ms');
  });

  it('ends a dropped packet halfway, in an X with the reason', () => {
    const drop = l.arrows[1]!;
    expect(drop.dropped).toBe(true);
    expect(drop.style).toBe('dropped');
    expect(drop.reason).toBe('random loss');
    expect(drop.x2).toBeCloseTo((l.senderX + l.receiverX) / 2);
    const ackDrop = l.arrows[6]!;
    expect(ackDrop.reason).toBe('queue full');
    expect(ackDrop.x2).toBeCloseTo((l.senderX + l.receiverX) / 2);
  });

  it('marks retransmissions, duplicates and corrupted packets', () => {
    expect(l.arrows.map((a) => a.style)).toEqual(['data', 'dropped', 'ack', 'retransmission', 'duplicate', 'corrupted', 'dropped']);
  });

  it('sums the picture up in one sentence for screen readers', () => {
    expect(l.summary).toBe(
      'Packet ladder of the 7 most recent packets (5 sender to receiver, 2 back) from 0.0 ms to 45.0 ms: 5 delivered, 2 dropped (1 random loss, 1 queue full), 1 retransmitted, 1 corrupted, 1 duplicated.',
    );
    expect(layoutLadder([], { width: 100, height: 100 }).summary).toBe('Packet ladder: no packets yet.');
  });

  it('keeps the most recent packets by sending time', () => {
    const many = Array.from({ length: 100 }, (_, i) => ladderPacket({ sentS: (100 - i) / 1000, arrivedS: (100 - i) / 1000 + 0.005, seq: 100 - i }));
    const shown = recentPackets(many, 10);
    expect(shown.map((p) => p.seq)).toEqual([91, 92, 93, 94, 95, 96, 97, 98, 99, 100]);
    expect(layoutLadder(many, { width: 400, height: 300, maxPackets: 10 }).arrows).toHaveLength(10);
  });

  it('keeps, for a past run, the latest packets sent up to the chosen time', () => {
    const sent = Array.from({ length: 100 }, (_, i) => ladderPacket({ sentS: i / 10, seq: i }));
    expect(ladderWindow(sent, 2.05, 5).map((p) => p.seq)).toEqual([16, 17, 18, 19, 20]);
    expect(ladderWindow(sent, 0, 5).map((p) => p.seq)).toEqual([0]);
    expect(ladderWindow(sent, -1, 5)).toEqual([]);
    expect(ladderWindow(sent, 1e9, 3).map((p) => p.seq)).toEqual([97, 98, 99]);
  });

  it('leaves out labels that would overlap the one above on the same side', () => {
    const dense = Array.from({ length: 40 }, (_, i) => ladderPacket({ sentS: i * 0.0001, arrivedS: i * 0.0001 + 0.02, seq: i }));
    const d = layoutLadder(dense, { width: 400, height: 300 });
    const shown = d.arrows.filter((a) => a.showLabel);
    expect(shown.length).toBeGreaterThan(0);
    expect(shown.length).toBeLessThan(40);
    for (let i = 1; i < shown.length; i++) expect(shown[i]!.y1 - shown[i - 1]!.y1).toBeGreaterThanOrEqual(11);
  });

  it('describes a packet in words, its numbers from the ISN and then as they are', () => {
    expect(describePacket(flow[1]!, trialBases())).toBe(`DATA 2 (seq ${ISN + 2}), sender to receiver, sent at 1.0 ms, dropped: random loss`);
    expect(describePacket(flow[3]!, trialBases())).toBe(`DATA 2 (seq ${ISN + 2}) (retransmission), sender to receiver, sent at 30.0 ms, delivered at 40.0 ms`);
    expect(describePacket(flow[2]!, trialBases())).toBe(`ACK 2 (seq 5, ack ${ISN + 2}), receiver to sender, sent at 10.0 ms, delivered at 20.0 ms`);
  });

  it('numbers each direction of each connection from its own start, across the wrap', () => {
    const b = new SeqBases();
    const a = [
      ladderPacket({ connection: 7, type: 'SYN', seq: 0xfffffffe }),
      ladderPacket({ connection: 7, seq: 0xffffffff }),
      ladderPacket({ connection: 7, seq: 0, sentS: 0.001 }),
      ladderPacket({ connection: 7, direction: 'reverse', type: 'ACK', seq: 77, ack: 1, sentS: 0.002 }),
      ladderPacket({ connection: 9, type: 'SYN', seq: 123_456_789, sentS: 0.003 }),
      ladderPacket({ connection: 9, seq: 123_456_790, sentS: 0.004 }),
    ];
    b.observeAll(a);
    expect(layoutLadder(a, { width: 500, height: 400, bases: b }).arrows.map((x) => x.label)).toEqual(['SYN', 'DATA 1', 'DATA 2', 'ACK 3', 'SYN', 'DATA 1']);
    // A packet seen before the lower ones (dropped at a full queue) does not leave them below 0.
    const late = new SeqBases();
    late.observe(ladderPacket({ seq: 105 }));
    late.observe(ladderPacket({ seq: 100 }));
    expect(late.rel(105, 1, 'forward')).toBe(5);
    // Without the trial's bases, the ladder counts from the packets it has.
    expect(layoutLadder(flow, { width: 500, height: 400 }).arrows[0]!.label).toBe('DATA 0');
  });

  it('keeps every label of a window of 16 datagrams in flight apart, saying how many it left out', () => {
    const inFlight = Array.from({ length: 16 }, (_, i) => ({ direction: 'forward' as const, index: i, duplicate: false, sentAtS: 0.1 + i * 0.0002, arriveAtS: 0.12 + i * 0.0002, type: 'DATA', seq: ISN + 1 + i, ack: null }));
    const acks = Array.from({ length: 3 }, (_, i) => ({ direction: 'reverse' as const, index: 100 + i, duplicate: false, sentAtS: 0.104 + i * 0.0002, arriveAtS: 0.124 + i * 0.0002, type: 'ACK', seq: 5, ack: ISN + 1 + i }));
    const d = layoutLadder(flow, { width: 520, height: 420, inFlight: [...inFlight, ...acks], nowS: 0.11, bases: trialBases() });
    const shown = d.flights.filter((f) => f.showLabel);
    expect(shown.length).toBeGreaterThanOrEqual(6);
    const box = (f: (typeof shown)[number]) => {
      const w = f.label.length * 5.5;
      const fwd = f.item.direction === 'forward';
      return { x1: fwd ? f.labelX : f.labelX - w, x2: fwd ? f.labelX + w : f.labelX, y1: f.labelY - 9, y2: f.labelY + 2 };
    };
    const boxes = [...shown.map(box), ...d.flightNotes.map((n) => ({ x1: n.anchor === 'start' ? n.x : n.x - n.text.length * 5.5, x2: n.anchor === 'start' ? n.x + n.text.length * 5.5 : n.x, y1: n.y - 9, y2: n.y + 2 }))];
    for (let i = 0; i < boxes.length; i++) for (let j = i + 1; j < boxes.length; j++) {
      const [a, b] = [boxes[i]!, boxes[j]!];
      expect(a.x1 < b.x2 && b.x1 < a.x2 && a.y1 < b.y2 && b.y1 < a.y2, `labels ${i} and ${j} overlap`).toBe(false);
    }
    for (const side of ['forward', 'reverse'] as const) {
      const left = d.flights.filter((f) => f.item.direction === side && !f.showLabel).length;
      expect(d.flightNotes.filter((n) => n.anchor === (side === 'forward' ? 'start' : 'end')).map((n) => n.text)).toEqual(left === 0 ? [] : [`+${left} more`]);
    }
    // Numbers from the ISN, in flight too; the ACKs' own labels too.
    expect(d.flights.map((f) => f.label).slice(0, 3)).toEqual(['DATA 1', 'DATA 2', 'DATA 3']);
    expect(d.flights.slice(16).map((f) => f.label)).toEqual(['ACK 1', 'ACK 2', 'ACK 3']);
    expect(d.flights[0]!.description).toBe(`DATA 1 (seq ${ISN + 1}), sender to receiver, #0 on the link, sent at 100 ms, arrives at 120 ms`);
    expect(shown.some((f) => f.item.direction === 'reverse')).toBe(true);
  });
});

describe('Ladder component', () => {
  it('is an image with the summary as its label, a legend, and a text list on demand', () => {
    const target = document.createElement('div');
    document.body.append(target);
    const c = mount(Ladder, { target, props: { packets: flow, bases: trialBases() } });
    flushSync();
    const svg = target.querySelector('svg')!;
    expect(svg.getAttribute('role')).toBe('img');
    expect(svg.getAttribute('aria-label')).toMatch(/^Packet ladder of the 7 most recent packets/);
    expect(target.querySelectorAll('g.arrow')).toHaveLength(7);
    expect(target.querySelectorAll('g.arrow.dropped path.x')).toHaveLength(2);
    expect([...target.querySelectorAll('text.reason')].map((t) => t.textContent)).toEqual(['random loss', 'queue full']);
    expect(target.querySelector('ul.legend')!.textContent).toContain('retransmission');
    const toggle = [...target.querySelectorAll('button')].find((b) => b.textContent?.includes('packet list'))!;
    expect(toggle.getAttribute('aria-expanded')).toBe('false');
    expect(target.querySelector('#ladder-list')).toBeNull();
    toggle.click();
    flushSync();
    expect(toggle.getAttribute('aria-expanded')).toBe('true');
    const items = [...target.querySelectorAll('#ladder-list li')].map((li) => li.textContent);
    expect(items).toHaveLength(7);
    expect(items[1]).toBe(`DATA 2 (seq ${ISN + 2}), sender to receiver, sent at 1.0 ms, dropped: random loss`);
    // The labels drawn count from the ISN; the ends are the sender and the receiver, never hosts.
    expect([...target.querySelectorAll('g.arrow text.label')].map((t) => t.textContent)).toContain('DATA 1');
    expect([...target.querySelectorAll('g.arrow title')][0]!.textContent).toContain(`seq ${ISN + 1}`);
    expect([...target.querySelectorAll('text.end')].map((t) => t.textContent)).toEqual(['Sender', 'Receiver']);
    expect(target.textContent).not.toMatch(/\bhost\b/i);
    unmount(c);
  });

  it("a past run's ladder has a slider for the time it shows; an empty one says why", () => {
    const target = document.createElement('div');
    document.body.append(target);
    const chosen: number[] = [];
    const c = mount(Ladder, { target, props: { packets: flow.slice(0, 3), scrub: { maxS: 0.033, atS: 0.01, set: (s: number) => chosen.push(s) } } });
    flushSync();
    const slider = target.querySelector('input[type=range]') as HTMLInputElement;
    expect(slider.closest('label')!.textContent).toMatch(/Sent up to\s+0\.010 s of 0\.033 s/);
    expect(Number(slider.max)).toBeCloseTo(0.033);
    slider.value = '0.02';
    slider.dispatchEvent(new Event('input', { bubbles: true }));
    expect(chosen).toEqual([0.02]);
    unmount(c);
    const e = mount(Ladder, { target, props: { packets: [], emptyText: 'This run kept no packets.' } });
    flushSync();
    expect(target.querySelector('input[type=range]')).toBeNull();
    expect(target.querySelector('svg')!.textContent).toContain('This run kept no packets.');
    unmount(e);
  });
});

describe('the ladder of a real transfer', () => {
  it('numbers a short transfer from its ISN, below 10,000, however long ago its SYN left the ladder', async () => {
    const r = validateSpec({ name: 'ladder', title: 't', description: 'd', concepts: ['sliding-window'], workload: { kind: 'bulk', bytes: 500_000 }, transport: { windowPackets: 16 }, forward: { delayMs: 5, rateBitsPerSecond: 20e6, lossProbability: 0.02 }, reverse: { delayMs: 5 } });
    if (!r.ok) throw new Error(JSON.stringify(r.errors));
    const packets: LadderPacket[] = [];
    const res = await new ExperimentRun({ spec: r.spec, specFile: null, outDir: mkdtempSync(join(tmpdir(), 'packetlab-ladder-')), onPacket: (p) => packets.push(p) }).start();
    expect(res.status).toBe('complete');
    const firstData = packets.find((p) => p.type === 'DATA')!;
    // The connection's ISN is random: the numbers on the wire are large.
    expect(firstData.seq!).toBeGreaterThan(10_000);
    expect(packets.length).toBeGreaterThan(400);
    // The app's path: batches into the run store, the ladder drawn from its recent packets with the trial's bases.
    const { fake, run } = await startedRun('{"name":"x","title":"X"}');
    fake.push(batch({ trial: { point: 0, repetition: 0, axes: {}, trial: 1, trials: 1 } }));
    for (let i = 0; i < packets.length; i += 100) fake.push(batch({ packets: packets.slice(i, i + 100) }));
    expect(run.packets.some((p) => p.type === 'SYN')).toBe(false);
    const target = document.createElement('div');
    document.body.append(target);
    const c = mount(Ladder, { target, props: { packets: run.packets, bases: run.ladderBases } });
    flushSync();
    const labels = [...target.querySelectorAll('g.arrow text.label')].map((t) => t.textContent!);
    expect(labels.length).toBeGreaterThan(5);
    for (const l of labels) {
      const n = /^(?:DATA|ACK) (-?\d+)$/.exec(l);
      if (n !== null) expect(Number(n[1]), l).toBeGreaterThanOrEqual(0), expect(Number(n[1]), l).toBeLessThan(10_000);
    }
    // DATA k is the k-th packet after the SYN: the ISN is the SYN's sequence number.
    const syn = packets.find((p) => p.type === 'SYN')!;
    const last = run.packets.filter((p) => p.type === 'DATA' && p.direction === 'forward').at(-1)!;
    const titles = [...target.querySelectorAll('g.arrow title')].map((t) => t.textContent!);
    expect(titles).toContain(describePacket(last, run.ladderBases));
    expect(titles.some((t) => t.startsWith(`DATA ${last.seq! - syn.seq!} (seq ${last.seq}`))).toBe(true);
    unmount(c);
  });
});
