// The final report of a UDP stream against the simulator's ground truth: a datagram the link
// dropped is lost, one it only held back (reordering, jitter) is not.

import { describe, expect, it } from 'vitest';
import { NO_IMPAIRMENT } from '../core/impair/config.js';
import { FateRecorder, auditStream, auditText } from '../core/audit/transfer-audit.js';
import { runSimStream } from '../workloads/stream/run.js';

describe("a stream's final report", () => {
  it('counts as lost exactly the datagrams the link dropped, not those still held back when the FIN came', () => {
    const impairment = { ...NO_IMPAIRMENT, lossProbability: 0.05, reorderProbability: 0.05, duplicateProbability: 0.03, delayMs: 5, jitterMs: 2 };
    for (const seed of [42, 1, 2, 3, 4, 5, 6, 7]) {
      const fwd = new FateRecorder();
      const s = runSimStream({ datagramBytes: 1200, ratePacketsPerSecond: 2000, durationMs: 2000, intervalMs: 100, impairment, seed }, undefined, undefined, (w) => {
        w.forward.tracer = fwd;
      });
      expect(s.status, `seed ${seed}`).toBe('complete');
      const r = s.receiver!;
      expect(r.final, `seed ${seed}`).toBe(true);
      // Every stream datagram the sender sent was either received or had no copy arrive.
      const m = auditStream(r, fwd);
      expect(m, `seed ${seed} (udp --net sim --seed ${seed}):\n${auditText(m)}`).toEqual([]);
      expect(r.packetsReceived + r.lost, `seed ${seed}`).toBe(s.sent.packetsSent);
    }
  });
});
