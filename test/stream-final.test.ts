// The final report of a UDP stream against the simulator's ground truth: a datagram the link
// dropped is lost, one it only held back (reordering, jitter) is not.

import { describe, expect, it } from 'vitest';
import { NO_IMPAIRMENT } from '../core/impair/config.js';
import { linkDrops } from '../core/impair/counters.js';
import { runSimStream } from '../workloads/stream/run.js';

describe("a stream's final report", () => {
  it('counts as lost exactly the datagrams the link dropped, not those still held back when the FIN came', () => {
    const impairment = { ...NO_IMPAIRMENT, lossProbability: 0.05, reorderProbability: 0.05, duplicateProbability: 0.03, delayMs: 5, jitterMs: 2 };
    for (const seed of [42, 1, 2, 3, 4, 5, 6, 7]) {
      const s = runSimStream({ datagramBytes: 1200, ratePacketsPerSecond: 2000, durationMs: 2000, intervalMs: 100, impairment, seed });
      expect(s.status, `seed ${seed}`).toBe('complete');
      const r = s.receiver!;
      expect(r.final, `seed ${seed}`).toBe(true);
      // Every datagram the sender sent was either dropped by the link or received.
      expect(r.lost, `seed ${seed}: lost vs the link's drops (reproduce with udp --net sim --seed ${seed})`).toBe(linkDrops(s.link));
      expect(r.packetsReceived + r.lost, `seed ${seed}`).toBe(s.sent.packetsSent);
    }
  });
});
