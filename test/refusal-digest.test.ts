// Refusal logs under a flood, in virtual time: a bounded number of lines, at most one per
// (address, reason) per second, and counts that add up to the refusals.

import { describe, expect, it } from 'vitest';
import { RefusalDigest, refusalText, type RefusalLine } from '../core/util/refusal-digest.js';

/** Feeds `refusals` (time, address, reason) in order, serving the digest as a driver would, and returns every line with its time. */
function drive(refusals: readonly [number, string, string][], endMs: number): { at: number; line: RefusalLine }[] {
  const d = new RefusalDigest();
  const out: { at: number; line: RefusalLine }[] = [];
  const drain = (now: number) => {
    for (let l = d.pollLine(now); l !== null; l = d.pollLine(now)) out.push({ at: now, line: l });
  };
  let i = 0;
  for (let now = 0; now <= endMs; now += 0.25) {
    while (i < refusals.length && refusals[i]![0] <= now) {
      const [, address, reason] = refusals[i++]!;
      d.note(now, address, `${address}:${40000 + i}`, reason);
    }
    const t = d.pollTimeout();
    if (t !== null && t <= now) drain(now);
  }
  for (const line of d.flush(endMs)) out.push({ at: endMs, line });
  expect(d.total).toBe(refusals.length);
  return out;
}

const sum = (lines: { line: RefusalLine }[]) => lines.reduce((n, l) => n + l.line.count, 0);

describe('refusal digest', () => {
  it('5,544 refusals in 1.2 s from one address make three lines whose counts add up', () => {
    const flood = Array.from({ length: 5544 }, (_, k) => [(k * 1200) / 5544, '127.0.0.1', 'listener is full (16 sessions)'] as [number, string, string]);
    const lines = drive(flood, 3000);
    expect(lines.map((l) => [l.at, l.line.count])).toEqual([
      [0, 1],
      [1000, lines[1]!.line.count],
      [2000, lines[2]!.line.count],
    ]);
    expect(sum(lines)).toBe(5544);
    expect(refusalText(lines[0]!.line, 'SYN')).toBe('refused 127.0.0.1:40001: listener is full (16 sessions)');
    expect(refusalText(lines[1]!.line, 'SYN')).toBe(`refused ${lines[1]!.line.count.toLocaleString('en-US')} SYNs from 127.0.0.1 in the last second: listener is full (16 sessions)`);
  });

  it('at most one line per address and reason per second, whatever the mix', () => {
    const reasons = ['listener is full (16 sessions)', '4 sessions from this address are open, the most this listener allows per address'];
    const flood: [number, string, string][] = [];
    for (let k = 0; k < 20_000; k++) flood.push([(k * 5000) / 20_000, `10.0.0.${k % 7}`, reasons[k % 2]!]);
    const lines = drive(flood, 8000);
    expect(sum(lines)).toBe(20_000);
    const byPair = new Map<string, number[]>();
    for (const l of lines) {
      const key = `${l.line.address} ${l.line.reason}`;
      byPair.set(key, [...(byPair.get(key) ?? []), l.at]);
    }
    expect(byPair.size).toBe(14);
    for (const times of byPair.values()) {
      for (let k = 1; k < times.length - 1; k++) expect(times[k]! - times[k - 1]!).toBeGreaterThanOrEqual(1000);
    }
    expect(lines.length).toBeLessThanOrEqual(14 * 7);
  });

  it('a flood from more addresses than it follows shares one line, and still adds up', () => {
    const flood = Array.from({ length: 10_000 }, (_, k) => [k / 10, `10.1.${k >> 8}.${k & 255}`, 'listener is full (16 sessions)'] as [number, string, string]);
    const lines = drive(flood, 3000);
    expect(sum(lines)).toBe(10_000);
    // The first 256 addresses get a line each; the rest, one line per second between them.
    expect(lines.length).toBeLessThanOrEqual(256 + 256 + 4);
    expect(lines.some((l) => l.line.address === null && l.line.count > 1000)).toBe(true);
  });

  it('after a quiet second, a refusal is a line of its own at once', () => {
    const lines = drive(
      [
        [0, '127.0.0.1', 'r'],
        [10, '127.0.0.1', 'r'],
        [2500, '127.0.0.1', 'r'],
      ],
      4000,
    );
    expect(lines.map((l) => [l.at, l.line.count, l.line.peer])).toEqual([
      [0, 1, '127.0.0.1:40001'],
      [1000, 1, '127.0.0.1:40002'],
      [2500, 1, '127.0.0.1:40003'],
    ]);
  });
});
