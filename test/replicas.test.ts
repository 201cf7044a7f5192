// Replicated RPC services in the simulator (issue 21): failover, crashes and restarts, primary-backup
// replication and the duplicate request cache across replicas. Every figure is checked against what
// the simulator knows: the replicas' own stores, the ledger of executions, the times of the faults.

import { describe, expect, it } from 'vitest';
import { DEFAULT_REPLICATED_SETUP, REPLICATED_COLUMNS, buildSimReplicated, replicatedSetupProblems, runSimReplicated, type ReplicaRunEvent, type ReplicatedSample, type ReplicatedSetup, type SimReplicated } from '../workloads/rpc/replicated.js';
import type { TimedFault } from '../core/rpc/replicas/faults.js';
import { faultText, parseFaultAt, slowMsOfText } from '../core/rpc/replicas/faults.js';
import { KvStatus } from '../core/rpc/programs/kv.js';

const RTT_MS = 10; // 5 ms each way (DEFAULT_REPLICATED_SETUP)

function setup(o: Partial<ReplicatedSetup>): ReplicatedSetup {
  return { ...DEFAULT_REPLICATED_SETUP, ...o };
}

const crash = (atMs: number, replica: number, memory: 'lost' | 'kept' = 'lost'): TimedFault => ({ atMs, replica, fault: { action: 'crash', memory } });
const restart = (atMs: number, replica: number): TimedFault => ({ atMs, replica, fault: { action: 'restart' } });

function run(s: ReplicatedSetup) {
  const samples: ReplicatedSample[] = [];
  const events: ReplicaRunEvent[] = [];
  let wired: SimReplicated | null = null;
  const summary = runSimReplicated(s, { onSample: (x) => samples.push(x), onEvent: (e) => events.push(e) }, (w) => (wired = w));
  return { summary, samples, events, w: wired! as SimReplicated };
}

/** The sequence number a replica's store holds for key i (0: none). */
function storedSeq(w: SimReplicated, replica: number, key: number): number {
  const r = w.replicas[replica]!.store.kvGet(`k${key}`);
  return r.status === KvStatus.KV_OK ? new DataView(r.entry.value.buffer, r.entry.value.byteOffset, 8).getFloat64(0) : 0;
}

/** Acknowledged writes missing from the store of the replica that answered each key's final read: the ground truth of writes_lost. */
function lostByStores(w: SimReplicated): number {
  let lost = 0;
  w.app.keys.forEach((k, i) => {
    const by = w.app.verifiedBy[i]!;
    expect(by).toBeGreaterThanOrEqual(0);
    const stored = storedSeq(w, by, i);
    expect(w.app.verifiedSeq[i]).toBe(stored);
    for (const a of k.acked) if (a > stored) lost++;
  });
  return lost;
}

describe('replicated services in the simulator', () => {
  it('the client gets the replica list from the binder (GETADDRLIST), every replica in order', () => {
    const { summary, w } = run(setup({ replicas: 4, totalCalls: 50 }));
    expect(summary.status).toBe('complete');
    expect(w.app.client.replicas).toEqual([1, 2, 3, 4]);
    expect(w.coordinator.server.counters.success).toBe(1);
  });

  it('three replicas with failover: crashing the current one keeps availability at 1 and the outage equals the detection time', () => {
    const failoverMs = 200;
    const { summary, samples, events } = run(setup({ totalCalls: 0, durationMs: 5000, failoverMs, faults: [crash(2000, 1)] }));
    expect(summary.status).toBe('complete');
    // Stated bound: no call fails (the call timeout, 2 s, is longer than the detection time).
    expect(summary.availability).toBeGreaterThanOrEqual(0.999);
    expect(summary.callsFailed).toBe(0);
    // The calls caught by the crash were in flight at it: at most callsInFlight of them moved.
    expect(summary.callsFailedOver).toBeGreaterThan(0);
    expect(summary.callsFailedOver).toBeLessThanOrEqual(DEFAULT_REPLICATED_SETUP.callsInFlight);
    // The model: the clients go without an answer for the detection time (plus at most one round trip of pacing).
    expect(summary.recoveryMs).toHaveLength(1);
    expect(summary.timeToRecoverMs).toBeGreaterThanOrEqual(failoverMs);
    expect(summary.timeToRecoverMs).toBeLessThanOrEqual(failoverMs + RTT_MS);
    // Replica 1 served until the crash, replica 2 after it, replica 3 never.
    expect(summary.loadPerReplica[0]).toBeGreaterThan(0);
    expect(summary.loadPerReplica[1]).toBeGreaterThan(0);
    expect(summary.loadPerReplica[2]).toBe(0);
    const after = samples.filter((s) => s.time_s > 2.3);
    expect(after.every((s) => s.replica1_calls === 0 && s.replicas_up === 2 && s.replica1_up === 0 && s.replica2_up === 1)).toBe(true);
    expect(samples.filter((s) => s.time_s < 2).every((s) => s.replica1_up === 1)).toBe(true);
    expect(samples.reduce((a, s) => a + s.calls_failed_over, 0)).toBe(summary.callsFailedOver);
    expect(events.filter((e) => e.kind === 'fault')).toEqual([{ atMs: 2000, kind: 'fault', subject: 'replica1', before: 'up', after: 'crashed', detail: 'crash (memory lost)' }]);
  });

  it('one server: availability drops for exactly the crash duration', () => {
    const retryIntervalMs = 50;
    const { summary, samples, events } = run(setup({ replicas: 1, policy: 'fixed', totalCalls: 0, durationMs: 6000, retryIntervalMs, timeoutMs: 3000, faults: [crash(2000, 1), restart(4000, 1)] }));
    expect(summary.status).toBe('complete');
    const downMs = 2000;
    // No answer from the crash until a retransmission reaches the restarted server.
    expect(summary.timeToRecoverMs).toBeGreaterThanOrEqual(downMs);
    expect(summary.timeToRecoverMs).toBeLessThanOrEqual(downMs + retryIntervalMs + RTT_MS);
    // Intervals in which nothing was answered: the crash duration, to an interval.
    const silentMs = samples.filter((s) => s.calls_succeeded === 0).length * DEFAULT_REPLICATED_SETUP.intervalMs;
    expect(Math.abs(silentMs - downMs)).toBeLessThanOrEqual(DEFAULT_REPLICATED_SETUP.intervalMs);
    expect(events.map((e) => `${e.atMs} ${e.kind} ${e.after}`)).toEqual(['2000 fault crashed', '4000 fault up', '4000 replica up']);
  });

  it('a restart takes the restart delay; until then the replica is restarting', () => {
    const { w, events } = run(setup({ replicas: 1, policy: 'fixed', totalCalls: 0, durationMs: 3000, restartDelayMs: 500, faults: [crash(1000, 1), restart(1500, 1)] }));
    expect(events.map((e) => `${e.atMs} ${e.kind} ${e.after}`)).toEqual(['1000 fault crashed', '1500 fault restarting', '2000 replica up']);
    expect(w.replicas[0]!.stateName).toBe('up');
  });

  it('without replication a failover loses acknowledged writes, counted exactly against the replicas; primary-backup loses none', () => {
    const base = setup({ keys: 300, mix: { null: 0, echo: 0, increment: 0, put: 3, get: 1 }, totalCalls: 0, durationMs: 2500, faults: [crash(2000, 1)] });
    const none = run({ ...base, replication: 'none' });
    expect(none.summary.status).toBe('complete');
    expect(none.summary.writesLost).toBeGreaterThan(0);
    expect(none.summary.writesLost).toBe(lostByStores(none.w));
    expect(none.summary.staleReads).toBeGreaterThan(0);
    const pb = run({ ...base, replication: 'primary-backup' });
    expect(pb.summary.status).toBe('complete');
    expect(pb.summary.writesAcked).toBeGreaterThan(100);
    expect(pb.summary.writesLost).toBe(0);
    expect(lostByStores(pb.w)).toBe(0);
    expect(pb.summary.staleReads).toBe(0);
    expect(pb.summary.replicationMessages).toBeGreaterThan(2 * pb.summary.writesAcked);
    expect(pb.events.some((e) => e.kind === 'view' && e.after.includes('primary replica2'))).toBe(true);
  });

  it('with the duplicate request cache replicated, a retried INCREMENT that fails over runs once; without, some run twice', () => {
    let dupsWithout = 0;
    for (const seed of [1, 2, 3, 4, 5]) {
      const base = setup({ seed, replication: 'primary-backup', mix: { null: 0, echo: 0, increment: 1, put: 0, get: 0 }, totalCalls: 0, durationMs: 2000, faults: [crash(1003 + seed * 7, 1)], verify: false });
      for (const replicateDrc of [true, false]) {
        const { summary, w } = run({ ...base, replicateDrc });
        expect(summary.status).toBe('complete');
        const primary = w.coordinator.current.primary;
        // Ground truth: the primary's counter counts every acknowledged INCREMENT once, plus every duplicate execution.
        expect(BigInt(summary.incrementsAcked + summary.duplicateExecutions)).toBe(w.replicas[primary]!.counterValue);
        if (replicateDrc) expect(summary.duplicateExecutions).toBe(0);
        else dupsWithout += summary.duplicateExecutions;
      }
    }
    expect(dupsWithout).toBeGreaterThan(0);
  });

  it('hedged requests cut the p99 latency of a slow replica, at the cost of extra copies', () => {
    const base = setup({ totalCalls: 3000, verify: false, mix: { null: 0, echo: 1, increment: 0, put: 0, get: 0 }, faults: [{ atMs: 0, replica: 2, fault: { action: 'slow', extraMs: 100 } }] });
    const plain = run({ ...base, policy: 'round-robin' });
    const hedged = run({ ...base, policy: 'hedged', hedgeDelayMs: 20 });
    expect(plain.summary.latencyP99Ms).toBeGreaterThanOrEqual(100);
    expect(hedged.summary.latencyP99Ms).toBeLessThanOrEqual(20 + RTT_MS + 2);
    expect(hedged.summary.hedgedCopies).toBeGreaterThan(0);
    expect(hedged.summary.hedgeWins).toBeGreaterThan(0);
    // The loser's answer, when it comes, is dropped: never answered twice.
    expect(hedged.summary.callsSucceeded).toBe(3000);
    expect(hedged.summary.lateReplies).toBeGreaterThan(0);
  });

  it('least-outstanding sends less to a slow replica than round-robin does', () => {
    const base = setup({ totalCalls: 3000, callsInFlight: 16, mix: { null: 1, echo: 0, increment: 0, put: 0, get: 0 }, faults: [{ atMs: 0, replica: 3, fault: { action: 'slow', extraMs: 50 } }] });
    const rr = run({ ...base, policy: 'round-robin' });
    const lo = run({ ...base, policy: 'least-outstanding' });
    const share = (l: number[]) => l[2]! / l.reduce((a, b) => a + b, 0);
    expect(share(rr.summary.loadPerReplica)).toBeGreaterThan(0.3);
    expect(share(lo.summary.loadPerReplica)).toBeLessThan(share(rr.summary.loadPerReplica) / 2);
  });

  it('a partitioned primary is replaced and rejoins as a backup after healing, losing no acknowledged write', () => {
    const { summary, w, events } = run(
      setup({
        replication: 'primary-backup',
        keys: 200,
        totalCalls: 0,
        durationMs: 4000,
        faults: [
          { atMs: 1000, replica: 1, fault: { action: 'partition' } },
          { atMs: 2500, replica: 1, fault: { action: 'heal' } },
        ],
      }),
    );
    expect(summary.status).toBe('complete');
    expect(summary.writesLost).toBe(0);
    expect(lostByStores(w)).toBe(0);
    const view = w.coordinator.current;
    expect(view.primary).toBe(1);
    expect((view.backups >> 0) & 1).toBe(1);
    expect(events.some((e) => e.subject === 'replica1' && e.detail.startsWith('backup'))).toBe(true);
    // Every replica ends with the same state.
    for (const r of w.replicas) expect(r.counterValue).toBe(w.replicas[1]!.counterValue);
  });

  it('failing over from a slow replica runs an INCREMENT on two replicas: the ledger counts it, the counters agree', () => {
    const { summary, w } = run(setup({ mix: { null: 0, echo: 0, increment: 1, put: 0, get: 0 }, totalCalls: 0, durationMs: 2000, verify: false, faults: [{ atMs: 500, replica: 1, fault: { action: 'slow', extraMs: 300 } }] }));
    expect(summary.status).toBe('complete');
    expect(summary.duplicateExecutions).toBeGreaterThan(0);
    expect(summary.crossReplicaDuplicates).toBe(summary.duplicateExecutions);
    // The slow replica answers each of the 4 copies a call sent it within the 200 ms detection time
    // (at 0, 50, 100, 150 ms; the copies from its cache), after the call was answered elsewhere:
    // all dropped, none answered twice.
    expect(summary.lateReplies).toBe(summary.duplicateExecutions * 4);
    const total = w.replicas.reduce((a, r) => a + r.counterValue, 0n);
    expect(total).toBe(BigInt(summary.incrementsAcked + summary.duplicateExecutions));
  });

  it('a deposed primary that has not yet heard of its successor serves no stale read', () => {
    // Replica 1 is partitioned, replica 2 takes over and takes writes; when the partition heals,
    // replica 1 still believes it is primary until its next ping, and round-robin sends it reads.
    for (const seed of [1, 2, 3]) {
      const { summary, w } = run(
        setup({
          seed,
          policy: 'round-robin',
          replication: 'primary-backup',
          keys: 8,
          mix: { null: 0, echo: 0, increment: 0, put: 1, get: 3 },
          totalCalls: 0,
          durationMs: 3000,
          faults: [
            { atMs: 1000, replica: 1, fault: { action: 'partition' } },
            { atMs: 2003, replica: 1, fault: { action: 'heal' } },
          ],
        }),
      );
      expect(summary.status).toBe('complete');
      expect(summary.staleReads).toBe(0);
      expect(summary.writesLost).toBe(0);
      expect(w.coordinator.current.primary).toBe(1);
    }
  });

  it('samples carry every declared column', () => {
    const { samples } = run(setup({ totalCalls: 300 }));
    expect(samples.length).toBeGreaterThan(1);
    for (const s of samples) expect(Object.keys(s).sort()).toEqual([...REPLICATED_COLUMNS].sort());
    expect(samples[0]!.replica4_calls).toBeNaN();
    expect(samples[0]!.replica4_up).toBeNaN();
    expect(samples[0]!.replica3_up).toBe(1);
  });

  it('refuses bad setups and faults, naming what is wrong', () => {
    expect(replicatedSetupProblems(setup({ replicas: 6 }))).toContain('replicas must be a whole number from 1 to 5 (got 6)');
    expect(replicatedSetupProblems(setup({ policy: 'random' as never }))[0]).toMatch(/^policy must be one of fixed, failover, round-robin, least-outstanding, hedged/);
    expect(replicatedSetupProblems(setup({ faults: [crash(100, 4)] }))).toContain('fault at 100 ms on replica 4: there is no replica 4 (replicas are numbered 1 to 3)');
    expect(replicatedSetupProblems(setup({ failoverMs: 3000, timeoutMs: 2000 }))).toContain('failoverMs (3000) must be below timeoutMs (2000), or no call ever fails over');
    expect(() => buildSimReplicated(setup({ replicas: 0 }))).toThrow(/replicas must be a whole number from 1 to 5 \(got 0\)/);
    expect(parseFaultAt('2s:1', 3)).toEqual({ atMs: 2000, replica: 1 });
    expect(parseFaultAt('1500ms:3', 3)).toEqual({ atMs: 1500, replica: 3 });
    expect(parseFaultAt('0.5:2', 3)).toEqual({ atMs: 500, replica: 2 });
    expect(parseFaultAt('2s:4', 3)).toBe('"2s:4" names replica 4, but there are 3 replicas (numbered from 1)');
    expect(parseFaultAt('2s', 3)).toBe('"2s" is not TIME:REPLICA (for example 2s:1, 1500ms:2)');
  });

  it('a fault that does not apply is an error event, and the run goes on', () => {
    const { summary, events } = run(setup({ totalCalls: 200, faults: [restart(100, 2)] }));
    expect(summary.status).toBe('complete');
    expect(events).toEqual([{ atMs: 100, kind: 'error', subject: 'replica2', before: '', after: '', detail: 'restart refused: it is up, not crashed' }]);
  });
});

describe('fault texts', () => {
  it('give back the slowdown they describe (what the app reads from events.csv)', () => {
    expect(slowMsOfText(faultText({ action: 'slow', extraMs: 100 }))).toBe(100);
    expect(slowMsOfText(faultText({ action: 'slow', extraMs: 2.5 }))).toBe(2.5);
    expect(slowMsOfText(faultText({ action: 'slow', extraMs: 0 }))).toBe(0);
    expect(slowMsOfText(faultText({ action: 'crash', memory: 'lost' }))).toBeNull();
    expect(slowMsOfText(faultText({ action: 'partition' }))).toBeNull();
  });
});
