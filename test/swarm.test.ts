// Seeded simulation over many seeds with random faults: every transfer must finish (liveness) and
// deliver exactly the bytes sent, in order, with their message boundaries (safety; checked by the
// receiver against the pattern, byte by byte). SWARM_SEEDS=10000 runs the long version.

import { describe, expect, it } from 'vitest';
import { runSimTransfer } from '../workloads/transfer/sim-transfer.js';
import { simTransferCommand } from '../core/transfer/command.js';
import type { ArqMode } from '../core/transport/config.js';
import { swarmSetup } from './helpers/swarm.js';
import { FateRecorder, auditText, auditTransfer } from '../core/audit/transfer-audit.js';

const SEEDS = Number(process.env.SWARM_SEEDS ?? 1000);
const FIRST = Number(process.env.SWARM_FIRST ?? 1);

describe.each<ArqMode>(['saw', 'gbn', 'sr'])('swarm %s', (protocol) => {
  it(`${SEEDS} seeds: every transfer completes with the exact bytes, and every counter agrees with the auditor`, () => {
    const failures: string[] = [];
    for (let seed = FIRST; seed < FIRST + SEEDS; seed++) {
      const setup = swarmSetup(seed, protocol);
      const fwd = new FateRecorder();
      const rev = new FateRecorder();
      const s = runSimTransfer(setup, { onBuild: (t) => ((t.forward.tracer = fwd), (t.reverse.tracer = rev)) });
      const ok = s.status === 'complete' && s.dataMatched === true && s.corruption.reconciled === true;
      // Counters against the fate of every datagram (core/audit/transfer-audit.ts).
      const audit = auditTransfer(s, setup.transport.verifyChecksum, fwd, rev);
      if (!ok || audit.length > 0) {
        failures.push(
          `seed ${seed}: status ${s.status}, data matched ${String(s.dataMatched)}, corruption reconciled ${String(s.corruption.reconciled)}, ${s.failure ?? ''}${audit.length > 0 ? `\n  ${auditText(audit).replaceAll('\n', '\n  ')}` : ''}\n  reproduce with SEED=${seed}: ${simTransferCommand(setup)}`,
        );
        if (failures.length >= 5) break;
      }
    }
    expect(failures, failures.join('\n')).toEqual([]);
  });
});
