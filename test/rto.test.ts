// RFC 6298 pinned through the connection: every figure below is what a sender shows after a
// handshake and single packets with round trips chosen by the test, checked against the RFC's
// formulas written out here a second time with their constants as literals. Stop-and-wait keeps
// one packet in flight, so each acknowledgment gives exactly one sample.

import { describe, expect, it } from 'vitest';
import { Pair, type Fate } from './helpers/pair.js';
import { Flag, PacketType, sealChecksum } from '../core/wire/packet.js';
import type { TransportConfig } from '../core/transport/config.js';

/** One-way latency of the pair: the handshake's sample is 20 ms. */
const LATENCY_MS = 10;

/** RFC 6298 (2), the reference: K = 4, alpha = 1/8, beta = 1/4, clock granularity 1 us. */
class Reference {
  srttMs = Number.NaN;
  rttvarMs = Number.NaN;

  sample(r: number): void {
    if (Number.isNaN(this.srttMs)) {
      this.srttMs = r;
      this.rttvarMs = r / 2;
    } else {
      this.rttvarMs = (3 / 4) * this.rttvarMs + (1 / 4) * Math.abs(this.srttMs - r);
      this.srttMs = (7 / 8) * this.srttMs + (1 / 8) * r;
    }
  }

  rtoMs(minMs: number, maxMs: number): number {
    return Math.min(Math.max(this.srttMs + Math.max(0.001, 4 * this.rttvarMs), minMs), maxMs);
  }
}

/** A stop-and-wait pair, connected: the client's first sample (the SYN's) is 2 x LATENCY_MS. */
function connected(cfg: Partial<TransportConfig> = {}): Pair {
  const p = new Pair({ protocol: 'saw', rtoMsMin: 1, ...cfg });
  p.latencyMs = LATENCY_MS;
  p.connect();
  p.driveUntil(() => p.a.state === 'established' && p.b.state === 'established');
  return p;
}

/**
 * Sends one small message from a and waits for its acknowledgment. `fates[k]` decides the k-th
 * copy of that DATA packet (delivered when missing); every other datagram is delivered. Returns
 * the send times of the copies.
 */
function exchange(p: Pair, fates: Fate[] = []): number[] {
  const before = p.sentBy('a', PacketType.DATA).length;
  let seq: number | null = null;
  let copy = 0;
  p.filter = (s) => {
    if (s.from !== 'a' || s.header.type !== PacketType.DATA) return 'deliver';
    seq ??= s.header.seq;
    if (s.header.seq !== seq) return 'deliver';
    return fates[copy++] ?? 'deliver';
  };
  p.a.write(new Uint8Array(100), 0, 100, true);
  p.driveUntil(() => p.sentBy('a', PacketType.DATA).length > before && p.a.inFlightPackets === 0);
  p.filter = () => 'deliver';
  return p.sentBy('a', PacketType.DATA)
    .slice(before)
    .map((s) => s.at);
}

/** Fate of a copy whose round trip is `rttMs` at LATENCY_MS each way. */
const rtt = (rttMs: number): Fate => ({ delayMs: rttMs - 2 * LATENCY_MS });

/** Delivers an ACK of b without its ECHO flag: the sender cannot tell which copy arrived. */
function stripEcho(s: { from: string; header: { type: number } }, bytes: Uint8Array): Fate {
  if (s.from === 'b' && s.header.type === PacketType.ACK) {
    bytes[4] = bytes[4]! & ~Flag.ECHO;
    sealChecksum(bytes, bytes.length);
  }
  return 'deliver';
}

/** Sends one message from a whose first copy is lost, all of b's ACKs without echo; waits for its ACK. */
function retransmittedWithoutEcho(p: Pair): void {
  let copies = 0;
  p.filter = (s, bytes) => {
    if (s.from === 'a' && s.header.type === PacketType.DATA && copies++ === 0) return 'drop';
    return stripEcho(s, bytes);
  };
  p.a.write(new Uint8Array(100), 0, 100, true);
  p.driveUntil(() => copies === 2 && p.a.inFlightPackets === 0);
}

describe('RFC 6298 (2.2): the first measurement', () => {
  it('sets SRTT = R and RTTVAR = R/2, so RTO = R + 4 x R/2 = 3R', () => {
    const p = connected();
    expect(p.a.counters.rttSamples).toBe(1);
    expect(p.a.srttMs).toBe(20);
    expect(p.a.rttvarMs).toBe(10);
    // K * RTTVAR is above the granularity, which then adds nothing: exactly 60, not 60.001.
    expect(p.a.rtoMs).toBe(60);
  });

  it('before any measurement the RTO is rtoMsInitial (2.1)', () => {
    const p = new Pair({ rtoMsInitial: 700 });
    expect(p.a.srttMs).toBeNaN();
    expect(p.a.rttvarMs).toBeNaN();
    expect(p.a.rtoMs).toBe(700);
  });
});

describe('RFC 6298 (2.3): later measurements', () => {
  it('update RTTVAR with beta = 1/4 (from the old SRTT), then SRTT with alpha = 1/8', () => {
    const p = connected({ rtoMsMax: 60_000 });
    const ref = new Reference();
    ref.sample(20);
    // Each round trip stays below the RTO of the moment, so no packet is sent twice.
    for (const r of [40, 30, 50, 22, 35, 26, 60, 20, 21, 75]) {
      expect(r).toBeLessThan(p.a.rtoMs);
      const samples = p.a.counters.rttSamples;
      expect(exchange(p, [rtt(r)])).toHaveLength(1);
      expect(p.a.counters.rttSamples).toBe(samples + 1);
      ref.sample(r);
      expect(p.a.srttMs).toBeCloseTo(ref.srttMs, 9);
      expect(p.a.rttvarMs).toBeCloseTo(ref.rttvarMs, 9);
      expect(p.a.rtoMs).toBeCloseTo(ref.rtoMs(1, 60_000), 9);
    }
  });

  it('the second sample, worked by hand: SRTT 25, RTTVAR 17.5, RTO 95', () => {
    const p = connected();
    exchange(p, [rtt(60)]);
    // RTTVAR = 3/4 x 10 + 1/4 x |20 - 60| = 17.5; SRTT = 7/8 x 20 + 1/8 x 60 = 25.
    expect(p.a.rttvarMs).toBe(17.5);
    expect(p.a.srttMs).toBe(25);
    expect(p.a.rtoMs).toBe(25 + 4 * 17.5);
  });
});

describe('RFC 6298 (2.3): RTO = SRTT + max(G, K x RTTVAR) with G = 1 us', () => {
  it('takes G when K x RTTVAR is smaller', () => {
    // A 0.2 us round trip: RTTVAR = 0.1 us, K x RTTVAR = 0.4 us < G, so RTO = 0.2 + 1 us.
    const p = new Pair({ protocol: 'saw', rtoMsMin: 0.0001 });
    p.latencyMs = 0.0001;
    p.connect();
    p.driveUntil(() => p.a.state === 'established');
    expect(p.a.srttMs).toBeCloseTo(0.0002, 12);
    expect(p.a.rttvarMs).toBeCloseTo(0.0001, 12);
    expect(p.a.rtoMs).toBeCloseTo(0.0012, 12);
  });

  it('is G alone after a zero round trip', () => {
    const p = new Pair({ protocol: 'saw', rtoMsMin: 0.0001 });
    p.latencyMs = 0;
    p.connect();
    p.driveUntil(() => p.a.state === 'established');
    expect(p.a.srttMs).toBe(0);
    expect(p.a.rttvarMs).toBe(0);
    expect(p.a.rtoMs).toBe(0.001);
  });
});

describe('RFC 6298 (2.4): bounds', () => {
  it('raises a computed RTO below rtoMsMin to rtoMsMin', () => {
    const p = connected({ rtoMsMin: 200 });
    expect(p.a.srttMs).toBe(20);
    expect(p.a.rtoMs).toBe(200);
  });

  it('caps a computed RTO above rtoMsMax at rtoMsMax', () => {
    const p = connected({ rtoMsMax: 50 });
    expect(p.a.srttMs).toBe(20);
    expect(p.a.rtoMs).toBe(50);
  });

  it('applies changed bounds to the current estimate at once', () => {
    const p = connected();
    p.a.reconfigure(p.now, { rtoMsMin: 150 });
    expect(p.a.rtoMs).toBe(150);
    p.a.reconfigure(p.now, { rtoMsMin: 1, rtoMsMax: 40 });
    expect(p.a.rtoMs).toBe(40);
    p.a.reconfigure(p.now, { rtoMsMax: 60_000 });
    expect(p.a.rtoMs).toBe(60);
  });
});

describe('RFC 6298 (5.5): exponential backoff', () => {
  it('doubles the RTO at every expiry and resends at RTO, 2 RTO, 4 RTO, ...', () => {
    const p = connected({ maxRetransmissions: 4 });
    const gauges: number[] = [];
    p.filter = (s) => {
      if (s.from === 'a' && s.header.type === PacketType.DATA) {
        gauges.push(p.a.rtoMs);
        return 'drop';
      }
      return 'deliver';
    };
    p.a.write(new Uint8Array(10), 0, 10);
    p.driveUntil(() => p.a.state === 'failed');
    const times = p.sentBy('a', PacketType.DATA).map((s) => s.at);
    expect(times.map((t) => t - times[0]!)).toEqual([0, 60, 180, 420, 900]);
    // The gauge right after each transmission: the timer armed with the backed-off RTO.
    expect(gauges).toEqual([60, 120, 240, 480, 960]);
  });

  it('multiplies by rtoBackoff, and not at all with rtoBackoff 1', () => {
    for (const [rtoBackoff, gaps] of [
      [3, [60, 180, 540]],
      [1.5, [60, 90, 135]],
      [1, [60, 60, 60]],
    ] as const) {
      const p = connected({ rtoBackoff, maxRetransmissions: 3 });
      p.filter = (s) => (s.from === 'a' && s.header.type === PacketType.DATA ? 'drop' : 'deliver');
      p.a.write(new Uint8Array(10), 0, 10);
      p.driveUntil(() => p.a.state === 'failed');
      const times = p.sentBy('a', PacketType.DATA).map((s) => s.at);
      expect(times.slice(1).map((t, i) => t - times[i]!)).toEqual(gaps);
    }
  });

  it('never backs off beyond rtoMsMax (2.5)', () => {
    const p = connected({ rtoMsMax: 200, maxRetransmissions: 5 });
    p.filter = (s) => (s.from === 'a' && s.header.type === PacketType.DATA ? 'drop' : 'deliver');
    p.a.write(new Uint8Array(10), 0, 10);
    p.driveUntil(() => p.a.state === 'failed');
    const times = p.sentBy('a', PacketType.DATA).map((s) => s.at);
    expect(times.slice(1).map((t, i) => t - times[i]!)).toEqual([60, 120, 200, 200, 200]);
  });

  it('backs off the handshake timer too, from rtoMsInitial', () => {
    const p = new Pair({ rtoMsInitial: 100, maxRetransmissions: 3 });
    p.filter = (s) => (s.header.type === PacketType.SYN ? 'drop' : 'deliver');
    p.connect();
    p.driveUntil(() => p.a.state === 'failed');
    expect(p.sentBy('a', PacketType.SYN).map((s) => s.at)).toEqual([0, 100, 300, 700]);
  });

  it('ends the backoff with the next valid sample, which also updates the estimate', () => {
    const p = connected();
    const ref = new Reference();
    ref.sample(20);
    // Two copies lost: the third is sent at 60 + 120 ms, when the RTO had grown to 240 ms.
    const times = exchange(p, ['drop', 'drop']);
    expect(times.map((t) => t - times[0]!)).toEqual([0, 60, 180]);
    // Its ACK echoes its timestamp: a 20 ms sample of that copy (see Karn below), no backoff left.
    ref.sample(20);
    expect(p.a.srttMs).toBeCloseTo(ref.srttMs, 9);
    expect(p.a.rtoMs).toBeCloseTo(ref.rtoMs(1, 60_000), 9);
  });
});

describe("RFC 6298 (3): Karn's rule", () => {
  it('takes no sample from the SYN-ACK of a retransmitted SYN, and the handshake backoff ends with the handshake', () => {
    const p = new Pair({ rtoMsInitial: 100 });
    let dropped = false;
    p.filter = (s) => {
      if (!dropped && s.header.type === PacketType.SYN) {
        dropped = true;
        return 'drop';
      }
      return 'deliver';
    };
    p.connect();
    p.driveUntil(() => p.a.state === 'established');
    expect(p.sentBy('a', PacketType.SYN)).toHaveLength(2);
    expect(p.a.counters.rttSamples).toBe(0);
    expect(p.a.srttMs).toBeNaN();
    expect(p.a.rtoMs).toBe(100);
  });

  it('without a timestamp echo: no sample from a retransmitted packet, and the backoff stays until a packet sent once is acknowledged', () => {
    const p = connected();
    const samples = p.a.counters.rttSamples;
    retransmittedWithoutEcho(p);
    expect(p.a.counters.retransmitsTimeout).toBe(1);
    expect(p.a.counters.rttSamples).toBe(samples);
    expect(p.a.srttMs).toBe(20);
    expect(p.a.rtoMs).toBe(120);
    // A packet sent once gives a sample (a 40 ms round trip), and that ends the backoff.
    p.filter = (s, bytes) => (s.from === 'a' && s.header.type === PacketType.DATA ? rtt(40) : stripEcho(s, bytes));
    p.a.write(new Uint8Array(100), 0, 100, true);
    p.driveUntil(() => p.a.counters.rttSamples === samples + 1);
    const ref = new Reference();
    ref.sample(20);
    ref.sample(40);
    expect(p.a.srttMs).toBeCloseTo(ref.srttMs, 9);
    expect(p.a.rtoMs).toBeCloseTo(ref.rtoMs(1, 60_000), 9);
  });

  it('with timestamps, an echo of the latest copy samples that copy, not the first send (RFC 7323 (4.1))', () => {
    const p = connected();
    const samples = p.a.counters.rttSamples;
    // The first copy is lost; the second, sent at the 60 ms RTO, takes a 30 ms round trip.
    const times = exchange(p, ['drop', rtt(30)]);
    expect(times.map((t) => t - times[0]!)).toEqual([0, 60]);
    expect(p.a.counters.rttSamples).toBe(samples + 1);
    expect(p.a.counters.rttMaxMs).toBe(30);
    const ref = new Reference();
    ref.sample(20);
    ref.sample(30);
    expect(p.a.srttMs).toBeCloseTo(ref.srttMs, 9);
    expect(p.a.rtoMs).toBeCloseTo(ref.rtoMs(1, 60_000), 9);
    expect(p.a.counters.retransmitsSpurious).toBe(0);
  });

  it('an echo of the first copy (it was only late: Eifel, RFC 3522) samples the first copy and undoes the backoff', () => {
    const p = connected();
    const samples = p.a.counters.rttSamples;
    // The first copy takes a 100 ms round trip; the timer resends it at 60 ms, and that copy is lost.
    // The ACK of the first copy names it by its timestamp.
    const times = exchange(p, [rtt(100), 'drop']);
    expect(times.map((t) => t - times[0]!)).toEqual([0, 60]);
    expect(p.a.counters.retransmitsSpurious).toBe(1);
    expect(p.a.counters.rttSamples).toBe(samples + 1);
    expect(p.a.counters.rttMaxMs).toBe(100);
    const ref = new Reference();
    ref.sample(20);
    ref.sample(100);
    expect(p.a.srttMs).toBeCloseTo(ref.srttMs, 9);
    expect(p.a.rtoMs).toBeCloseTo(ref.rtoMs(1, 60_000), 9);
  });

  it('an echo of neither the first nor the latest copy gives no sample, but the retransmission after it was spurious', () => {
    const p = connected();
    const samples = p.a.counters.rttSamples;
    // Copy 1 is lost; copy 2 (sent at 60 ms) takes 170 ms, so copy 3 goes out at 180 ms before its
    // ACK is back; copy 3 is lost. The ACK echoes copy 2: which copy's round trip it closes is
    // known, but copy 2 is neither the first nor the latest, and the lab takes no sample from it.
    const times = exchange(p, ['drop', rtt(170), 'drop']);
    expect(times.map((t) => t - times[0]!)).toEqual([0, 60, 180]);
    expect(p.a.counters.rttSamples).toBe(samples);
    expect(p.a.srttMs).toBe(20);
    expect(p.a.counters.retransmitsSpurious).toBe(1);
    // The spurious timeout's backoff is undone (RFC 4015 (2)): the RTO is back to 3 x 20 ms.
    expect(p.a.rtoMs).toBe(60);
  });
});

describe('fixed RTO', () => {
  it('is rtoMs whatever the samples, below rtoMsMin too, capped at rtoMsMax; the estimate is still kept', () => {
    const p = connected({ rtoMode: 'fixed', rtoMs: 50, rtoMsMin: 200 });
    expect(p.a.srttMs).toBe(20);
    expect(p.a.rttvarMs).toBe(10);
    expect(p.a.rtoMs).toBe(50);
    exchange(p, [rtt(40)]);
    expect(p.a.srttMs).toBeCloseTo((7 / 8) * 20 + (1 / 8) * 40, 9);
    expect(p.a.rtoMs).toBe(50);
    p.a.reconfigure(p.now, { rtoMsMin: 10, rtoMsMax: 30 });
    expect(p.a.rtoMs).toBe(30);
  });

  it('arms the handshake timer with rtoMs, not rtoMsInitial', () => {
    const p = new Pair({ rtoMode: 'fixed', rtoMs: 50, rtoMsInitial: 1000, maxRetransmissions: 2 });
    expect(p.a.rtoMs).toBe(50);
    p.filter = (s) => (s.header.type === PacketType.SYN ? 'drop' : 'deliver');
    p.connect();
    p.driveUntil(() => p.a.state === 'failed');
    expect(p.sentBy('a', PacketType.SYN).map((s) => s.at)).toEqual([0, 50, 150]);
  });

  it('backs off, and any new acknowledgment ends the backoff, even one that gives no sample', () => {
    const p = connected({ rtoMode: 'fixed', rtoMs: 100 });
    const times = exchange(p, ['drop', 'drop']);
    expect(times.map((t) => t - times[0]!)).toEqual([0, 100, 300]);
    expect(p.a.rtoMs).toBe(100);
    // Without an echo the retransmission's ACK gives no sample (Karn); in fixed mode it still ends
    // the backoff, where the adaptive RTO keeps it until a valid sample.
    const samples = p.a.counters.rttSamples;
    retransmittedWithoutEcho(p);
    expect(p.a.counters.rttSamples).toBe(samples);
    expect(p.a.rtoMs).toBe(100);
  });

  it('switches with the mode on a live connection', () => {
    const p = connected({ rtoMode: 'fixed', rtoMs: 300 });
    expect(p.a.rtoMs).toBe(300);
    p.a.reconfigure(p.now, { rtoMode: 'adaptive' });
    expect(p.a.rtoMs).toBe(60);
    p.a.reconfigure(p.now, { rtoMode: 'fixed', rtoMs: 250 });
    expect(p.a.rtoMs).toBe(250);
  });
});
