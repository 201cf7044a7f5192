// One seed gives one result, byte for byte; the printed reproduce command gives it again.

import { describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { runSimTransfer } from '../workloads/transfer/sim-transfer.js';
import { simTransferCommand } from '../core/transfer/command.js';
import type { TransferSample } from '../core/metrics/transfer-meter.js';
import { swarmSetup } from './helpers/swarm.js';
import { transferSetup } from './helpers/transfer-setup.js';
import { DEFAULT_TRANSPORT_CONFIG } from '../core/transport/config.js';
import { NO_IMPAIRMENT } from '../core/impair/config.js';

function run(seed: number) {
  const samples: TransferSample[] = [];
  const setup = { ...swarmSetup(seed, 'sr'), totalBytes: 200_000 };
  const summary = runSimTransfer(setup, { onSample: (s) => samples.push(s) });
  const { simEventsPerSecond: _wall, ...rest } = summary;
  return JSON.stringify({ rest, samples });
}

describe('determinism', () => {
  it('the same seed gives the same samples and summary, byte for byte', () => {
    expect(run(11)).toBe(run(11));
    expect(run(11)).not.toBe(run(12));
  });

  it.each([
    ['a swarm setup', swarmSetup(4242, 'gbn')],
    // A bare --read-rate is bits/s: the command must say bytes per second as such.
    ['a slow reader', transferSetup(200_000, { transport: { ...DEFAULT_TRANSPORT_CONFIG, rcvBufferBytes: 16 * 1024 }, forward: { ...NO_IMPAIRMENT, delayMs: 5 }, reverse: { ...NO_IMPAIRMENT, delayMs: 5 }, readRateBytesPerSecond: 100_000, seed: 7 })],
  ])('the reproduce command printed for %s gives the same result through the CLI', (_what, setup) => {
    const inProcess = runSimTransfer(setup);
    const cmd = simTransferCommand(setup).replace(/^npx packetlab /, '');
    const args = cmd.split(' ').filter((a) => a.length > 0);
    const out = execFileSync(process.execPath, ['bin/packetlab.js', ...args, '--json'], { encoding: 'utf8' });
    const summary = JSON.parse(out.trim().split('\n').pop()!);
    expect(summary.status).toBe(inProcess.status);
    expect(summary.dataMatched).toBe(inProcess.dataMatched);
    expect(summary.firstDifferenceAt).toBe(inProcess.firstDifferenceAt);
    expect(summary.sender).toEqual(JSON.parse(JSON.stringify(inProcess.sender)));
    expect(summary.simEvents).toBe(inProcess.simEvents);
    expect(summary.durationS).toBe(inProcess.durationS);
  });
});
