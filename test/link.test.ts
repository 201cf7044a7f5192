import { describe, expect, it } from 'vitest';
import { DeliveryFlag, Link, type DropReason } from '../core/impair/link.js';
import { IP_UDP_OVERHEAD_BYTES, NO_IMPAIRMENT, type ImpairmentConfig } from '../core/impair/config.js';

/** Sends n datagrams, one every `gapMs`, and drains everything; returns what arrived. */
function run(cfg: Partial<ImpairmentConfig>, n: number, seed = 1, gapMs = 1, size = 100) {
  const link = new Link({ ...NO_IMPAIRMENT, ...cfg }, seed);
  const arrivals: { index: number; at: number; bytes: Uint8Array; flags: number }[] = [];
  const drops: DropReason[] = [];
  link.tracer = {
    dropped: (_now, _b, _f, _t, reason) => drops.push(reason),
    delivered: (_now, _b, _f, _t, _s, flags) => void flags,
  };
  const dg = new Uint8Array(size);
  const view = new DataView(dg.buffer);
  let now = 0;
  const drain = (until: number) => {
    for (let t = link.pollTimeout(); t !== null && t <= until; t = link.pollTimeout()) {
      for (let h = link.pollDeliver(t); h >= 0; h = link.pollDeliver(t)) {
        const b = link.data(h);
        arrivals.push({ index: new DataView(b.buffer, b.byteOffset).getUint32(0), at: t, bytes: Uint8Array.from(b), flags: 0 });
        link.release(h);
      }
    }
  };
  for (let i = 0; i < n; i++) {
    view.setUint32(0, i);
    drain(now);
    link.send(now, dg, 0, 1);
    now += gapMs;
  }
  drain(Number.POSITIVE_INFINITY);
  return { link, arrivals, drops };
}

describe('impairment link', () => {
  it('passes everything through unchanged when nothing is configured', () => {
    const { arrivals, link } = run({}, 1000);
    expect(arrivals.map((a) => a.index)).toEqual([...Array(1000).keys()]);
    expect(link.counters.deliveredPackets).toBe(1000);
  });

  it('loses a Bernoulli share of datagrams', () => {
    const { link, drops } = run({ lossProbability: 0.1 }, 100_000);
    const lost = link.counters.dropsRandom / 100_000;
    expect(lost).toBeGreaterThan(0.095);
    expect(lost).toBeLessThan(0.105);
    expect(drops.every((d) => d === 'random')).toBe(true);
  });

  it('Gilbert-Elliott gives mean loss p/(p+r) in bursts of mean length 1/r', () => {
    const p = 0.02;
    const r = 0.25;
    const { link, arrivals } = run({ burstEnterProbability: p, burstExitProbability: r }, 200_000);
    const loss = link.counters.dropsBurst / 200_000;
    expect(loss).toBeGreaterThan((p / (p + r)) * 0.9);
    expect(loss).toBeLessThan((p / (p + r)) * 1.1);
    // Mean length of runs of consecutive losses.
    const got = new Set(arrivals.map((a) => a.index));
    let runs = 0;
    let lostTotal = 0;
    for (let i = 0; i < 200_000; i++) {
      if (!got.has(i)) {
        lostTotal++;
        if (i === 0 || got.has(i - 1)) runs++;
      }
    }
    expect(lostTotal / runs).toBeGreaterThan(0.9 / r);
    expect(lostTotal / runs).toBeLessThan(1.1 / r);
  });

  it('delays by delay plus jitter without reordering', () => {
    const { arrivals } = run({ delayMs: 50, jitterMs: 20 }, 5000, 3, 0.5);
    expect(arrivals.map((a) => a.index)).toEqual([...Array(5000).keys()]);
    for (const a of arrivals) expect(a.at - a.index * 0.5).toBeGreaterThanOrEqual(30 - 1e-9);
    const mean = arrivals.reduce((s, a) => s + (a.at - a.index * 0.5), 0) / arrivals.length;
    expect(mean).toBeGreaterThan(50);
    expect(mean).toBeLessThan(70);
  });

  it('normal jitter has the configured spread', () => {
    const { arrivals } = run({ delayMs: 100, jitterMs: 5, jitterDistribution: 'normal' }, 20_000, 5, 50);
    const d = arrivals.map((a) => a.at - a.index * 50);
    const mean = d.reduce((s, x) => s + x, 0) / d.length;
    const sd = Math.sqrt(d.reduce((s, x) => s + (x - mean) ** 2, 0) / d.length);
    expect(mean).toBeCloseTo(100, 0);
    expect(sd).toBeGreaterThan(4.7);
    expect(sd).toBeLessThan(5.3);
  });

  it('reorders: a held-back datagram is overtaken, and reordering is counted at delivery', () => {
    const { arrivals, link } = run({ reorderProbability: 0.05, reorderDelayMs: 10 }, 10_000);
    const inversions = arrivals.filter((a, i) => i > 0 && a.index < Math.max(...arrivals.slice(0, i).map((x) => x.index))).length;
    expect(link.counters.heldBack).toBeGreaterThan(400);
    expect(link.counters.reordered).toBe(inversions);
    expect(inversions).toBeGreaterThan(0);
  });

  it('duplicates and corrupts at the configured rates, flipping exactly corruptBits bits', () => {
    const { arrivals, link } = run({ duplicateProbability: 0.05, corruptProbability: 0.02, corruptBits: 3 }, 20_000);
    expect(link.counters.duplicated / 20_000).toBeGreaterThan(0.045);
    expect(link.counters.duplicated / 20_000).toBeLessThan(0.055);
    expect(arrivals.length).toBe(20_000 + link.counters.duplicated);
    // Every datagram sent carried index i and zeros; a corrupted copy differs from that in
    // exactly corruptBits bits (the index field included).
    const flipped = arrivals.map((a) => {
      const clean = new Uint8Array(a.bytes.length);
      new DataView(clean.buffer).setUint32(0, a.index);
      let bits = 0;
      for (let i = 0; i < clean.length; i++) for (let v = clean[i]! ^ a.bytes[i]!; v; v &= v - 1) bits++;
      return bits;
    });
    expect(link.counters.corrupted).toBeGreaterThan(300);
    expect(link.counters.corruptedDelivered).toBe(link.counters.corrupted);
    // A flip in the index field makes a copy look like another datagram, so count loosely there.
    const corrupted = flipped.filter((b) => b > 0);
    expect(corrupted.length).toBeLessThanOrEqual(link.counters.corrupted);
    expect(corrupted.length).toBeGreaterThan(link.counters.corrupted * 0.9);
    expect(flipped.every((b) => b === 0 || b <= 3)).toBe(true);
  });

  it('serializes at the bottleneck rate and drops at the full queue (drop-tail)', () => {
    const size = 1000;
    const rate = 1e6; // bits/s: one datagram every (1000+28)*8 us = 8.224 ms
    const { arrivals, link } = run({ rateBitsPerSecond: rate, queuePackets: 10 }, 1000, 1, 1, size);
    const gaps = arrivals.slice(1).map((a, i) => a.at - arrivals[i]!.at);
    const perPacketMs = ((size + IP_UDP_OVERHEAD_BYTES) * 8 * 1000) / rate;
    for (const g of gaps) expect(g).toBeGreaterThanOrEqual(perPacketMs - 1e-9);
    // Offered at 1 per ms, served at 1 per 8.224 ms: about 1 - 1/8.224 of them find the queue full.
    const dropped = link.counters.dropsQueue / 1000;
    expect(dropped).toBeGreaterThan(0.85);
    expect(dropped).toBeLessThan(0.9);
  });

  it('enforces a byte limit on the queue too', () => {
    const { link } = run({ rateBitsPerSecond: 1e6, queuePackets: 1000, queueBytes: 3000 }, 100, 1, 0.1, 1000);
    expect(link.queuedBytes(0)).toBeLessThanOrEqual(3000);
    expect(link.counters.dropsQueue).toBeGreaterThan(90);
  });

  it('drops datagrams above the MTU', () => {
    const { link, drops } = run({ mtuBytes: 1000 }, 10, 1, 1, 1000);
    expect(link.counters.dropsMtu).toBe(10);
    expect(drops).toEqual(Array(10).fill('mtu'));
    const ok = run({ mtuBytes: 1028 }, 10, 1, 1, 1000);
    expect(ok.link.counters.dropsMtu).toBe(0);
  });

  it('changes take effect while traffic flows', () => {
    const link = new Link({ ...NO_IMPAIRMENT }, 1);
    const dg = new Uint8Array(10);
    for (let i = 0; i < 100; i++) link.send(i, dg, 0, 1);
    link.reconfigure({ lossProbability: 1 });
    for (let i = 100; i < 200; i++) link.send(i, dg, 0, 1);
    expect(link.counters.dropsRandom).toBe(100);
    expect(link.config.lossProbability).toBe(1);
  });

  it('is deterministic for a seed and differs across seeds', () => {
    const cfg = { lossProbability: 0.1, jitterMs: 3, delayMs: 5, duplicateProbability: 0.05, reorderProbability: 0.05, corruptProbability: 0.05 };
    const a = run(cfg, 2000, 7);
    const b = run(cfg, 2000, 7);
    const c = run(cfg, 2000, 8);
    const sig = (r: typeof a) => r.arrivals.map((x) => `${x.index}@${x.at}:${Buffer.from(x.bytes).toString('hex')}`).join();
    expect(sig(a)).toBe(sig(b));
    expect(sig(a)).not.toBe(sig(c));
  });

  it('gives every datagram the same fate at every stage but the queue, however the queue drops', () => {
    // The same datagrams through two links with the same seed and impairment, one offered in
    // bursts and one spaced out, so that their queues drop different datagrams (as real sockets
    // and the simulator do, their timing differing). Every other stage must decide the same for
    // each datagram in both: loss, burst loss, duplication, and for each copy the queue let
    // through, jitter, holding back and the very bits corrupted.
    const size = 1000;
    const rateBitsPerSecond = 15e6;
    const serializeMs = ((size + IP_UDP_OVERHEAD_BYTES) * 8 * 1000) / rateBitsPerSecond;
    const cfg: ImpairmentConfig = {
      ...NO_IMPAIRMENT,
      rateBitsPerSecond,
      queuePackets: 20,
      lossProbability: 0.02,
      burstEnterProbability: 0.01,
      burstExitProbability: 0.3,
      duplicateProbability: 0.05,
      reorderProbability: 0.05,
      reorderDelayMs: 5,
      corruptProbability: 0.05,
      corruptBits: 3,
      delayMs: 20,
      // Under half a datagram's serialization: departures are at least that far apart, so jitter
      // never has to be held back to keep the order, and each copy's draw shows in its arrival.
      jitterMs: serializeMs / 2.5,
    };
    type Copy = { flags: number; flipped: string; afterDepartureMs: number };
    const n = 4000;
    const through = (offerAt: (i: number) => number) => {
      const link = new Link(cfg, 11);
      const offered: number[] = [];
      const dropped = new Map<number, DropReason[]>();
      const copies = new Map<number, { flags: number; flipped: readonly number[] | null; at: number }[]>();
      const seq = (bytes: Uint8Array, flipped: readonly number[] | null) => {
        const clean = Uint8Array.from(bytes);
        for (const bit of flipped ?? []) clean[bit >>> 3] = clean[bit >>> 3]! ^ (1 << (bit & 7));
        return new DataView(clean.buffer).getUint32(0);
      };
      link.tracer = {
        dropped: (_now, bytes, _f, _t, reason) => {
          const i = seq(bytes, null);
          dropped.set(i, [...(dropped.get(i) ?? []), reason]);
        },
        delivered: (now, bytes, _f, _t, _s, flags, flipped) => {
          const i = seq(bytes, flipped);
          copies.set(i, [...(copies.get(i) ?? []), { flags: flags & ~DeliveryFlag.REORDERED, flipped, at: now }]);
        },
      };
      const drain = (until: number) => {
        for (let t = link.pollTimeout(); t !== null && t <= until; t = link.pollTimeout()) {
          for (let h = link.pollDeliver(t); h >= 0; h = link.pollDeliver(t)) link.release(h);
        }
      };
      const dg = new Uint8Array(size);
      for (let i = 0; i < n; i++) {
        const now = offerAt(i);
        drain(now);
        new DataView(dg.buffer).setUint32(0, i);
        offered.push(now);
        link.send(now, dg, 0, 1);
      }
      drain(Number.POSITIVE_INFINITY);
      // Each copy the queue let through left the bottleneck one serialization after the one
      // before it (or after it was offered): what arrived after that is the delay, the jitter
      // drawn for it and any holding back.
      let busyUntil = 0;
      const fates = new Map<number, { dropped: DropReason[]; copies: Map<boolean, Copy> }>();
      for (let i = 0; i < n; i++) {
        const got = [...(copies.get(i) ?? [])].sort((a, b) => (a.flags & DeliveryFlag.DUPLICATE) - (b.flags & DeliveryFlag.DUPLICATE));
        const byCopy = new Map<boolean, Copy>();
        for (const c of got) {
          busyUntil = Math.max(busyUntil, offered[i]!) + serializeMs;
          byCopy.set((c.flags & DeliveryFlag.DUPLICATE) !== 0, { flags: c.flags, flipped: (c.flipped ?? []).join(), afterDepartureMs: c.at - busyUntil });
        }
        fates.set(i, { dropped: dropped.get(i) ?? [], copies: byCopy });
      }
      return { link, fates };
    };
    // Bursts of 30 every 15 ms, or one every 0.5 ms: the same mean rate, a little above the link's.
    const bursty = through((i) => Math.floor(i / 30) * 15);
    const spaced = through((i) => i * 0.5);
    expect(bursty.link.counters.dropsQueue).toBeGreaterThan(500);
    expect(spaced.link.counters.dropsQueue).toBeGreaterThan(50);
    expect(spaced.link.counters.dropsQueue).toBeLessThan(bursty.link.counters.dropsQueue / 2);

    let compared = 0;
    let copiesCompared = 0;
    for (let i = 0; i < n; i++) {
      const a = bursty.fates.get(i)!;
      const b = spaced.fates.get(i)!;
      const early = (d: DropReason[]) => d.filter((r) => r !== 'queue');
      // Loss and burst loss decide before the queue: the same for every datagram.
      expect(early(a.dropped), `datagram ${i}`).toEqual(early(b.dropped));
      // So does duplication: as many copies reached the queue in both.
      const reached = (f: typeof a) => f.copies.size + f.dropped.filter((r) => r === 'queue').length;
      expect(reached(a), `datagram ${i}`).toBe(reached(b));
      compared++;
      for (const [duplicate, copy] of a.copies) {
        const other = b.copies.get(duplicate);
        if (other === undefined) continue;
        expect({ flags: copy.flags, flipped: copy.flipped }, `datagram ${i}${duplicate ? ' (duplicate)' : ''}`).toEqual({ flags: other.flags, flipped: other.flipped });
        expect(copy.afterDepartureMs, `datagram ${i}${duplicate ? ' (duplicate)' : ''}`).toBeCloseTo(other.afterDepartureMs, 6);
        copiesCompared++;
      }
    }
    expect(compared).toBe(n);
    expect(copiesCompared).toBeGreaterThan(2000);
    // The stages did act on the datagrams compared.
    for (const link of [bursty.link, spaced.link]) {
      const c = link.counters;
      for (const count of [c.dropsRandom, c.dropsBurst, c.duplicated, c.heldBack, c.corrupted]) expect(count).toBeGreaterThan(20);
    }
  });

  it('keeps the other stages\' decisions when one stage changes or a datagram is changed by hand', () => {
    const cfg: ImpairmentConfig = {
      ...NO_IMPAIRMENT,
      lossProbability: 0.05,
      burstEnterProbability: 0.01,
      burstExitProbability: 0.3,
      duplicateProbability: 0.05,
      reorderProbability: 0.05,
      corruptProbability: 0.05,
      corruptBits: 2,
      delayMs: 10,
      // Under half the gap between datagrams: jitter never has to be held back to keep the order,
      // so each arrival shows the datagram's own draw rather than its neighbours'.
      jitterMs: 0.4,
    };
    // Every datagram's fate, by the index it carries: what dropped it, or each copy's flags,
    // flipped bits and arrival.
    const fates = (config: ImpairmentConfig, byHand: (link: Link, i: number) => void = () => {}) => {
      const link = new Link(config, 5);
      const out = new Map<number, string[]>();
      const note = (bytes: Uint8Array, flipped: readonly number[] | null, what: string) => {
        const clean = Uint8Array.from(bytes);
        for (const bit of flipped ?? []) clean[bit >>> 3] = clean[bit >>> 3]! ^ (1 << (bit & 7));
        const i = new DataView(clean.buffer).getUint32(0);
        out.set(i, [...(out.get(i) ?? []), what]);
      };
      link.tracer = {
        // A datagram dropped by hand may have been corrupted on the way (its bits untold): it is
        // one of those touched, left out below.
        dropped: (_n, bytes, _f, _t, reason) => {
          if (reason !== 'manual') note(bytes, null, reason);
        },
        delivered: (now, bytes, _f, _t, _s, flags, flipped) => note(bytes, flipped, `${flags & ~DeliveryFlag.REORDERED} ${flipped?.join() ?? ''} @${now}`),
      };
      const dg = new Uint8Array(100);
      for (let i = 0; i < 3000; i++) {
        for (let h = link.pollDeliver(i); h >= 0; h = link.pollDeliver(i)) link.release(h);
        new DataView(dg.buffer).setUint32(0, i);
        link.send(i, dg, 0, 1);
        byHand(link, i);
      }
      for (let t = link.pollTimeout(); t !== null; t = link.pollTimeout()) for (let h = link.pollDeliver(t); h >= 0; h = link.pollDeliver(t)) link.release(h);
      return out;
    };
    const base = fates(cfg);

    // More Bernoulli loss: the datagrams it spares keep every other decision.
    const lossier = fates({ ...cfg, lossProbability: 0.2 });
    let spared = 0;
    for (const [i, fate] of lossier) {
      if (fate.includes('random') || base.get(i)!.includes('random')) continue;
      expect(fate, `datagram ${i}`).toEqual(base.get(i));
      spared++;
    }
    expect(spared).toBeGreaterThan(2000);

    // Changes by hand to datagrams in flight, and knob changes that draw nothing, shift no other
    // datagram's fate.
    const touched = new Set<number>();
    const actions = ['drop', 'corrupt', 'duplicate', 'delay'] as const;
    const byHand = fates(cfg, (link, i) => {
      if (i % 97 === 0) {
        for (const d of link.inFlight()) {
          if (touched.has(d.index)) continue;
          touched.add(d.index);
          link.act(d.index, d.duplicate, actions[i % 4]!, 3);
          break;
        }
      }
      if (i === 1500) link.reconfigure({ reorderDelayMs: 10, mtuBytes: 0 });
    });
    expect(touched.size).toBeGreaterThan(25);
    for (const [i, fate] of byHand) if (!touched.has(i)) expect(fate, `datagram ${i}`).toEqual(base.get(i));
  });

  it('flags duplicated, corrupted and reordered deliveries for tracers', () => {
    const link = new Link({ ...NO_IMPAIRMENT, duplicateProbability: 1, corruptProbability: 1 }, 1);
    const flags: number[] = [];
    link.tracer = { dropped: () => {}, delivered: (_n, _b, _f, _t, _s, f) => flags.push(f) };
    link.send(0, new Uint8Array(8), 0, 1);
    for (let h = link.pollDeliver(0); h >= 0; h = link.pollDeliver(0)) link.release(h);
    expect(flags).toEqual([DeliveryFlag.CORRUPTED, DeliveryFlag.DUPLICATE | DeliveryFlag.CORRUPTED]);
  });
});
