// The auditor (core/audit/transfer-audit.ts) against the simulator's ground truth: every counter it
// recomputes from the fate of each datagram must agree with what the lab reported. The transfer
// audit runs in the swarm (test/swarm.test.ts); the streams and time limits are audited here.
// AUDIT_SEEDS=10000 runs the long version.

import { describe, expect, it } from 'vitest';
import { FateRecorder, auditRpc, auditStream, auditText, auditTimeLimit, auditTransfer, dropsText, reconcileDrops, rpcMessageReader } from '../core/audit/transfer-audit.js';
import { PacketType } from '../core/wire/packet.js';
import { DEFAULT_TRANSPORT_CONFIG } from '../core/transport/config.js';
import { DEFAULT_RPC_SETUP, buildSimRpcWorkload, summarizeSimRpc, type RpcSetup } from '../workloads/rpc/workload.js';
import { NO_IMPAIRMENT, type ImpairmentConfig } from '../core/impair/config.js';
import { Rng } from '../core/util/rng.js';
import { runSimStream } from '../workloads/stream/run.js';
import { runSimTransfer } from '../workloads/transfer/sim-transfer.js';
import { simTransferCommand } from '../core/transfer/command.js';
import { transferSetup } from './helpers/transfer-setup.js';

const SEEDS = Number(process.env.AUDIT_SEEDS ?? 300);

/** A random stream link for `seed`: every stage that can make a datagram late, lost, doubled or damaged. */
function streamImpairment(rng: Rng): ImpairmentConfig {
  return {
    ...NO_IMPAIRMENT,
    lossProbability: rng.uniform() * 0.2,
    burstEnterProbability: rng.uniform() < 0.3 ? rng.uniform() * 0.05 : 0,
    delayMs: 1 + rng.uniform() * 20,
    jitterMs: rng.uniform() < 0.5 ? rng.uniform() * 10 : 0,
    reorderProbability: rng.uniform() < 0.5 ? rng.uniform() * 0.2 : 0,
    reorderDelayMs: 1 + rng.uniform() * 40,
    duplicateProbability: rng.uniform() < 0.5 ? rng.uniform() * 0.1 : 0,
    corruptProbability: rng.uniform() < 0.5 ? rng.uniform() * 0.1 : 0,
    rateBitsPerSecond: rng.uniform() < 0.3 ? 2e6 + rng.uniform() * 2e7 : 0,
    queuePackets: 1 + rng.below(50),
  };
}

describe('the auditor', () => {
  it(`finds every UDP stream's final report exact on ${SEEDS} seeds`, () => {
    const failures: string[] = [];
    for (let seed = 1; seed <= SEEDS && failures.length < 5; seed++) {
      const rng = new Rng(seed);
      const setup = { datagramBytes: 100 + rng.below(1200), ratePacketsPerSecond: 200 + rng.below(3000), durationMs: 200 + rng.below(800), intervalMs: 100, impairment: streamImpairment(rng), seed };
      const fwd = new FateRecorder();
      const s = runSimStream(setup, undefined, undefined, (w) => {
        w.forward.tracer = fwd;
      });
      const m = auditStream(s.receiver, fwd);
      if (m.length > 0) failures.push(`seed ${seed}:\n${auditText(m)}\n  reproduce with: ${JSON.stringify(setup)}`);
    }
    expect(failures, failures.join('\n')).toEqual([]);
  });

  it('finds no transmission after the time limit of a transfer that timed out', () => {
    for (const seed of [1, 2, 3]) {
      const setup = transferSetup(5_000_000, { forward: { ...NO_IMPAIRMENT, rateBitsPerSecond: 5e6, delayMs: 20, lossProbability: 0.02 }, reverse: { ...NO_IMPAIRMENT, delayMs: 20 }, timeLimitMs: 1500, seed });
      const fwd = new FateRecorder();
      const s = runSimTransfer(setup, { onBuild: (t) => (t.forward.tracer = fwd) });
      expect(s.status).toBe('timeout');
      expect(auditTimeLimit(s.status, setup.timeLimitMs, fwd), simTransferCommand(setup)).toEqual([]);
    }
  });

  it('reconciles the data the link dropped: each copy was sent again, or another copy arrived', () => {
    for (const seed of [1, 2, 3]) {
      // Loss, duplication and a fixed RTO below the RTT (spurious copies that may be dropped too).
      const setup = transferSetup(300_000, { transport: { ...DEFAULT_TRANSPORT_CONFIG, rtoMode: 'fixed', rtoMs: 15, rtoBackoff: 1 }, forward: { ...NO_IMPAIRMENT, delayMs: 10, lossProbability: 0.1, duplicateProbability: 0.05 }, reverse: { ...NO_IMPAIRMENT, delayMs: 10 }, seed });
      const fwd = new FateRecorder();
      const s = runSimTransfer(setup, { onBuild: (t) => (t.forward.tracer = fwd) });
      expect(s.status).toBe('complete');
      const r = reconcileDrops(s.status, fwd);
      const truth = fwd.fates.filter((f) => f.dropped !== null && (f.type === PacketType.DATA || f.type === PacketType.FIN)).length;
      expect(r.dropped).toBe(truth);
      expect(r.sentAgain + r.anotherCopyArrived + r.neverSentAgain).toBe(r.dropped);
      expect(r.neverSentAgain).toBe(0);
      expect(r.anotherCopyArrived, 'some dropped copies were spurious ones').toBeGreaterThan(0);
      expect(r.reconciled).toBe(true);
      expect(dropsText(r)).toMatch(new RegExp(`^${r.dropped} copies of data dropped on the way: ${r.sentAgain} sent again, ${r.anotherCopyArrived} needed no resend \\(another copy arrived\\); reconciled$`));
    }
    // A transfer that ends early may leave a dropped packet never sent again: that is said, not hidden.
    // The drops of the last round trip before a time limit: the sender never learns of them.
    const ended = [1, 2, 3, 4, 5, 6, 7, 8].map((seed) => {
      const setup = transferSetup(5_000_000, { transport: { ...DEFAULT_TRANSPORT_CONFIG, windowPackets: 64 }, forward: { ...NO_IMPAIRMENT, rateBitsPerSecond: 5e6, delayMs: 20, lossProbability: 0.05 }, reverse: { ...NO_IMPAIRMENT, delayMs: 20 }, timeLimitMs: 1000, seed });
      const fwd = new FateRecorder();
      const s = runSimTransfer(setup, { onBuild: (t) => (t.forward.tracer = fwd) });
      expect(s.status).toBe('timeout');
      return reconcileDrops(s.status, fwd);
    });
    console.log('reconcile after a time limit:', ended.map((x) => x.neverSentAgain).join(' '));
    const r = ended.find((x) => x.neverSentAgain > 0)!;
    expect(r).toBeDefined();
    expect(r.reconciled).toBe(true);
    expect(dropsText(r)).toMatch(/, \d+ never sent again \(the transfer ended first\); reconciled$/);
    // In a complete transfer a dropped packet never sent again is a bug: not reconciled.
    expect(dropsText({ ...r, reconciled: false })).toMatch(/NOT reconciled/);
  });

  it('names a counter that disagrees with the ground truth, with both values', () => {
    const setup = transferSetup(200_000, { forward: { ...NO_IMPAIRMENT, delayMs: 5, lossProbability: 0.05 }, reverse: { ...NO_IMPAIRMENT, delayMs: 5 }, seed: 3 });
    const fwd = new FateRecorder();
    const rev = new FateRecorder();
    const s = runSimTransfer(setup, { onBuild: (t) => ((t.forward.tracer = fwd), (t.reverse.tracer = rev)) });
    const wrong = { ...s, sender: { ...s.sender, retransmitsTimeout: s.sender.retransmitsTimeout + 1 }, receiver: { ...s.receiver!, duplicatesSuppressed: s.receiver!.duplicatesSuppressed! + 2 } };
    const m = auditTransfer(wrong, true, fwd, rev).filter((x) => !x.counter.includes('spurious'));
    expect(m.map((x) => x.counter)).toEqual(['sender retransmissions (timeout + fast)', 'receiver duplicates_suppressed']);
    expect(m[0]!.reported - m[0]!.truth).toBe(1);
    expect(auditText(m)).toMatch(/receiver duplicates_suppressed: ground truth \d+, reported \d+/);
  });
});

describe('the auditor on RPC over UDP', () => {
  it.each([true, false])('finds the server figures exact with the duplicate request cache %s', (drc) => {
    const failures: string[] = [];
    for (let seed = 1; seed <= 40 && failures.length < 5; seed++) {
      const rng = new Rng(seed);
      const lossy = (): ImpairmentConfig => ({ ...NO_IMPAIRMENT, lossProbability: rng.uniform() * 0.3, duplicateProbability: rng.uniform() * 0.2, reorderProbability: rng.uniform() * 0.2, delayMs: 1 + rng.uniform() * 10, jitterMs: rng.uniform() * 5 });
      const setup: RpcSetup = { ...DEFAULT_RPC_SETUP, transport: 'udp', totalCalls: 200, callsInFlight: 1 + rng.below(16), mix: { null: 1, echo: 1, increment: 2 }, drc: { ...DEFAULT_RPC_SETUP.drc, enabled: drc }, policy: { ...DEFAULT_RPC_SETUP.policy, retryIntervalMs: 20 + rng.below(200), timeoutMs: 30_000 }, forward: lossy(), reverse: lossy(), seed };
      const w = buildSimRpcWorkload(setup);
      const fwd = new FateRecorder(rpcMessageReader());
      w.forward.tracer = fwd;
      w.app.start(0);
      w.sim.run({ untilMs: setup.timeLimitMs, stop: () => w.app.done });
      // Copies still on their way arrive and are served before the figures are read.
      w.sim.run({ untilMs: w.sim.now + 60_000 });
      const s = summarizeSimRpc(setup, w, w.app.done ? 'complete' : 'timeout', null);
      const k = s.server!;
      const m = auditRpc({ transmissions: s.client.transmissions, executions: k.executions, duplicateRequests: k.duplicateRequests, cacheHits: k.cacheHits, inProgressDrops: k.inProgressDrops, duplicateExecutions: k.duplicateExecutions }, drc, fwd);
      if (m.length > 0) failures.push(`seed ${seed}:\n${auditText(m)}`);
      // The counter's own log of repeated INCREMENTs is at most the server's duplicate executions.
      expect(s.counterRepeatedExecutions!).toBeLessThanOrEqual(k.duplicateExecutions);
      if (drc) expect(s.counterRepeatedExecutions).toBe(0);
    }
    expect(failures, failures.join('\n')).toEqual([]);
  });
});
