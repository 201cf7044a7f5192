// Seeded simulation over many seeds with random faults: every transfer must finish (liveness) and
// deliver exactly the bytes sent, in order, with their message boundaries (safety; checked by the
// receiver against the pattern, byte by byte). SWARM_SEEDS=10000 runs the long version.

import { describe, expect, it } from 'vitest';
import { runSimTransfer } from '../workloads/transfer/sim-transfer.js';
import { simTransferCommand } from '../core/transfer/command.js';
import type { ArqMode } from '../core/transport/config.js';
import { swarmSetup } from './helpers/swarm.js';

const SEEDS = Number(process.env.SWARM_SEEDS ?? 1000);
const FIRST = Number(process.env.SWARM_FIRST ?? 1);

describe.each<ArqMode>(['saw', 'gbn', 'sr'])('swarm %s', (protocol) => {
  it(`${SEEDS} seeds: every transfer completes with the exact bytes`, () => {
    const failures: string[] = [];
    for (let seed = FIRST; seed < FIRST + SEEDS; seed++) {
      const setup = swarmSetup(seed, protocol);
      const s = runSimTransfer(setup);
      const ok = s.status === 'complete' && s.dataMatched === true && s.corruption.reconciled === true;
      if (!ok) {
        failures.push(
          `seed ${seed}: status ${s.status}, data matched ${String(s.dataMatched)}, corruption reconciled ${String(s.corruption.reconciled)}, ${s.failure ?? ''}\n  reproduce with SEED=${seed}: ${simTransferCommand(setup)}`,
        );
        if (failures.length >= 5) break;
      }
    }
    expect(failures, failures.join('\n')).toEqual([]);
  });
});
