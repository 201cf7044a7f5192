// Loss recovery of selective repeat measured against what it must achieve: SACK never slower than
// individual acknowledgments alone, spurious retransmissions counted against the simulator's ground
// truth, and fast retransmit really off when it is turned off.

import { describe, expect, it } from 'vitest';
import { Pair, transfer } from './helpers/pair.js';
import { PacketType } from '../core/wire/packet.js';
import type { TransportConfig } from '../core/transport/config.js';
import { NO_IMPAIRMENT } from '../core/impair/config.js';
import { buildSimTransfer, runSimTransfer } from '../workloads/transfer/sim-transfer.js';
import { newHeader, parseInto } from '../core/wire/packet.js';
import type { LinkTracer } from '../core/impair/link.js';
import { retransmissionsTotal } from '../core/transport/metrics.js';
import { transferSetup } from './helpers/transfer-setup.js';

const MSS = 1164;
const SEEDS = [1, 2, 3, 4, 5, 6];

function bytes(n: number): Uint8Array {
  const b = new Uint8Array(n);
  for (let i = 0; i < n; i++) b[i] = (i * 31 + 1) & 0xff;
  return b;
}


/** 1 MB over a link without a rate limit (every datagram of a window arrives at once), 5% loss. */
function lossyRun(seed: number, transport: Partial<TransportConfig>) {
  const base = transferSetup(1_000_000);
  return runSimTransfer({
    ...base,
    transport: { ...base.transport, ...transport },
    forward: { ...NO_IMPAIRMENT, lossProbability: 0.05, delayMs: 10 },
    reverse: { ...NO_IMPAIRMENT, delayMs: 10 },
    seed,
  });
}

describe('SACK and the individual acknowledgments', () => {
  it.each(SEEDS)('SACK is not slower than individual acknowledgments alone (seed %i)', (seed) => {
    const sack = lossyRun(seed, { sack: true });
    const plain = lossyRun(seed, { sack: false });
    expect(sack.dataMatched, `reproduce with SEED=${seed}`).toBe(true);
    expect(plain.dataMatched, `reproduce with SEED=${seed}`).toBe(true);
    expect(sack.durationS, `reproduce with SEED=${seed}`).toBeLessThanOrEqual(plain.durationS);
  });

  it('an ACK of a packet a SACK block already reported still counts as its individual acknowledgment', () => {
    // Two neighbouring packets are lost from a window that arrives all at once. The first ACK of
    // the burst carries a SACK block over every packet after the holes, so each later ACK names a
    // packet the sender already knows received. Those ACKs still say, one per arrival, how far the
    // receiver got: both holes have three packets received above them and go out together, not
    // the second one a probe timeout later.
    const p = new Pair({ protocol: 'sr', windowPackets: 32, sack: true, rtoMsMin: 1000, rtoMsInitial: 1000 });
    p.connect();
    p.driveUntil(() => p.a.state === 'established' && p.b.state === 'established');
    const first = 1001; // the ISN is 1000 and the SYN takes one sequence number
    const seen = new Set<number>();
    p.filter = (s) => {
      if (s.from !== 'a' || s.header.type !== PacketType.DATA) return 'deliver';
      const again = seen.has(s.header.seq);
      seen.add(s.header.seq);
      return !again && (s.header.seq === first + 5 || s.header.seq === first + 6) ? 'drop' : 'deliver';
    };
    const data = bytes(20 * MSS);
    expect(Uint8Array.from(transfer(p, data).bytes)).toEqual(data);
    const resent = (seq: number) => p.sentBy('a', PacketType.DATA).filter((s) => s.header.seq === seq).map((s) => s.at);
    expect(resent(first + 5)).toHaveLength(2);
    expect(resent(first + 6)).toHaveLength(2);
    expect(resent(first + 6)[1]).toBe(resent(first + 5)[1]);
    expect(p.a.counters.retransmitsFast).toBe(2);
    expect(p.a.counters.fastRecoveries).toBe(1);
  });
});

describe('fast retransmit turned off (dupAckThreshold 0)', () => {
  it.each(SEEDS)('nothing is resent before its retransmission timer fires (seed %i)', (seed) => {
    for (const sack of [true, false]) {
      const s = lossyRun(seed, { dupAckThreshold: 0, sack });
      expect(s.dataMatched, `reproduce with SEED=${seed}`).toBe(true);
      expect(s.sender.retransmitsTimeout, `reproduce with SEED=${seed}`).toBeGreaterThan(0);
      expect(s.sender.retransmitsFast, `reproduce with SEED=${seed}, sack ${sack}`).toBe(0);
      expect(s.sender.fastRecoveries, `reproduce with SEED=${seed}, sack ${sack}`).toBe(0);
    }
  });
});

/**
 * Spurious retransmissions by the simulator's record of every data packet's copies on the forward
 * link: a retransmission is spurious when an earlier copy of the packet arrived (or was on its way
 * when the run ended, which the drain delivers).
 */
function spuriousTruth(setup: ReturnType<typeof transferSetup>) {
  const t = buildSimTransfer(setup);
  const copies = new Map<number, { sentAt: number; delivered: boolean }[]>();
  const h = newHeader();
  const note = (bytes: Uint8Array, sentAt: number, delivered: boolean, duplicate: boolean) => {
    if (parseInto(bytes, bytes.length, h) !== null || (h.type !== PacketType.DATA && h.type !== PacketType.FIN) || duplicate) return;
    const list = copies.get(h.seq) ?? [];
    list.push({ sentAt, delivered });
    copies.set(h.seq, list);
  };
  const tracer: LinkTracer = {
    dropped: (_now, bytes, _from, _to, _reason, sentAt) => note(bytes, sentAt, false, false),
    delivered: (_now, bytes, _from, _to, sentAt, flags) => note(bytes, sentAt, true, (flags & 1) !== 0),
  };
  t.forward.tracer = tracer;
  t.sender.start(0);
  t.sim.run({ untilMs: setup.timeLimitMs, stop: () => t.sender.state === 'done' || t.sender.state === 'failed' });
  expect(t.sender.state).toBe('done');
  t.sim.run({ untilMs: t.sim.now + 60_000 });
  let truth = 0;
  for (const list of copies.values()) {
    list.sort((x, y) => x.sentAt - y.sentAt);
    const k = list.findIndex((c) => c.delivered);
    if (k >= 0) truth += list.length - 1 - k;
  }
  return { truth, sender: t.sender.conn.counters, receiver: t.receiverCounters()! };
}

describe('spurious retransmissions against the ground truth', () => {
  it.each(SEEDS)('no loss and a fixed RTO below the round trip: every retransmission is spurious (seed %i)', (seed) => {
    const base = transferSetup(200_000);
    const s = runSimTransfer({
      ...base,
      transport: { ...base.transport, windowPackets: 16, rtoMode: 'fixed', rtoMs: 30, rtoBackoff: 1 },
      forward: { ...NO_IMPAIRMENT, delayMs: 20 },
      reverse: { ...NO_IMPAIRMENT, delayMs: 20 },
      seed,
    });
    expect(s.dataMatched, `reproduce with SEED=${seed}`).toBe(true);
    expect(retransmissionsTotal(s.sender), `reproduce with SEED=${seed}`).toBeGreaterThan(100);
    expect(s.sender.retransmitsSpurious, `reproduce with SEED=${seed}`).toBe(s.receiver!.duplicatesSuppressed);
  });

  it.each(SEEDS)("reordering: the count matches the forward link's record of every copy (seed %i)", (seed) => {
    const base = transferSetup(2_000_000);
    const r = spuriousTruth({
      ...base,
      forward: { ...NO_IMPAIRMENT, delayMs: 10, reorderProbability: 0.05, reorderDelayMs: 30 },
      reverse: { ...NO_IMPAIRMENT, delayMs: 10 },
      seed,
    });
    expect(r.sender.retransmitsFast, `reproduce with SEED=${seed}`).toBeGreaterThan(10);
    expect(r.sender.retransmitsSpurious, `reproduce with SEED=${seed}`).toBe(r.truth);
    // No copy was lost, so every spurious one arrived as a duplicate.
    expect(r.truth, `reproduce with SEED=${seed}`).toBe(r.receiver.duplicatesSuppressed);
  });
});
