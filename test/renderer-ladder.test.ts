// @vitest-environment happy-dom
// The packet ladder: the layout function (arrows between the two lines, time running down, drops
// ending halfway with the reason, styles for retransmissions, duplicates, corruption), the packets
// it shows (the most recent, or a past run's up to a chosen time), the accessible summary, and the
// component's text list.

import { describe, expect, it } from 'vitest';
import { flushSync, mount, unmount } from 'svelte';
import type { LadderPacket } from '../experiments/api/contract.js';
import { describePacket, ladderWindow, layoutLadder, recentPackets } from '../renderer/src/lib/ladder.js';
import Ladder from '../renderer/src/components/Ladder.svelte';
import { ladderPacket } from './helpers/renderer-ladder.js';

const flow: LadderPacket[] = [
  ladderPacket({ sentS: 0.0, arrivedS: 0.01, seq: 1000 }),
  ladderPacket({ sentS: 0.001, arrivedS: null, seq: 2164, fate: 'random' }),
  ladderPacket({ sentS: 0.01, arrivedS: 0.02, direction: 'reverse', type: 'ACK', seq: 5, ack: 2164 }),
  ladderPacket({ sentS: 0.03, arrivedS: 0.04, seq: 2164, retransmission: true }),
  ladderPacket({ sentS: 0.031, arrivedS: 0.045, seq: 3328, fate: 'duplicate' }),
  ladderPacket({ sentS: 0.032, arrivedS: 0.041, seq: 4492, fate: 'corrupted' }),
  ladderPacket({ sentS: 0.033, arrivedS: null, direction: 'reverse', type: 'ACK', ack: 3328, seq: 6, fate: 'queue' }),
];

describe('layoutLadder', () => {
  const l = layoutLadder(flow, { width: 500, height: 400 });

  it('draws forward packets from the sender line to the receiver line and the reverse ones back', () => {
    const [first, , ack] = l.arrows;
    expect(l.senderX).toBeLessThan(l.receiverX);
    expect([first!.x1, first!.x2]).toEqual([l.senderX, l.receiverX]);
    expect([ack!.x1, ack!.x2]).toEqual([l.receiverX, l.senderX]);
    expect(first!.label).toBe('DATA 1000');
    expect(ack!.label).toBe('ACK 2164');
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

  it('describes a packet in words', () => {
    expect(describePacket(flow[1]!)).toBe('DATA 2164, sender to receiver, sent at 1.0 ms, dropped: random loss');
    expect(describePacket(flow[3]!)).toBe('DATA 2164 (retransmission), sender to receiver, sent at 30.0 ms, delivered at 40.0 ms');
  });
});

describe('Ladder component', () => {
  it('is an image with the summary as its label, a legend, and a text list on demand', () => {
    const target = document.createElement('div');
    document.body.append(target);
    const c = mount(Ladder, { target, props: { packets: flow } });
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
    expect(items[1]).toBe('DATA 2164, sender to receiver, sent at 1.0 ms, dropped: random loss');
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
