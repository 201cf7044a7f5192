// The time-sequence graph of real runs: the simulator's packets (live, as the app's worker gets
// them, and read back from packets.csv) drawn per connection, so that competing flows, each with
// its own random ISN, share an axis that starts at 0 and ends near what each flow sent.

import { describe, expect, it } from 'vitest';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { validateSpec } from '../experiments/spec.js';
import { ExperimentRun } from '../experiments/runner/run.js';
import { readCsv } from '../experiments/runner/store.js';
import type { LadderPacket } from '../experiments/api/contract.js';
import { packetFromRow, TimeSeqData } from '../renderer/src/lib/timeseq.js';

describe('the time-sequence graph of competing flows', () => {
  it('draws each flow from 0 to about what it sent, live and from packets.csv', async () => {
    const r = validateSpec({
      name: 'flows-timeseq',
      title: 't',
      description: 'd',
      concepts: ['sliding-window'],
      workload: { kind: 'flows', flows: 2, flowStartGapMs: 300, durationMs: 1500 },
      transport: { protocol: 'sr', windowPackets: 64 },
      forward: { rateBitsPerSecond: 5e6, delayMs: 5, queuePackets: 20 },
      reverse: { delayMs: 5 },
    });
    if (!r.ok) throw new Error(JSON.stringify(r.errors));
    const live: LadderPacket[] = [];
    const res = await new ExperimentRun({ spec: r.spec, specFile: null, outDir: mkdtempSync(join(tmpdir(), 'packetlab-timeseq-')), packetLog: true, onPacket: (p) => live.push(p) }).start();
    expect(res.status).toBe('complete');
    const rows = readCsv(join(res.dir, 'packets.csv'));
    expect(rows).toHaveLength(live.length);
    const fromDisk = new TimeSeqData();
    for (const row of rows) fromDisk.add(packetFromRow(row)!);
    const fromLive = new TimeSeqData();
    fromLive.addAll(live);
    for (const t of [fromLive, fromDisk]) {
      expect(t.flows).toHaveLength(2);
      // Each connection has its own id, the same both ways.
      const [a, b] = t.flows;
      expect(a!.connection).not.toBe(b!.connection);
      expect(live.filter((p) => p.direction === 'reverse' && p.connection === a!.connection).length).toBeGreaterThan(10);
      for (const f of t.flows) {
        const newData = live.filter((p) => p.type === 'DATA' && p.connection === f.connection && !p.retransmission).length;
        expect(f.transmissions).toBeGreaterThan(100);
        expect(f.ackCount).toBeGreaterThan(50);
        const ys = [...f.data, ...f.retransmissions, ...f.acks].map((p) => p.y);
        // From the flow's first packet to about as many as it sent (not a sequence space away).
        expect(Math.min(...ys)).toBe(0);
        expect(Math.max(...ys)).toBeLessThanOrEqual(newData + 1);
        expect(Math.max(...ys)).toBeGreaterThan(newData * 0.9);
      }
      // Flow 2 started 0.3 s after flow 1.
      expect(t.flows[1]!.data[0]!.x).toBeGreaterThan(0.29);
    }
    expect(fromDisk.describe()).toBe(fromLive.describe());
  });
});
