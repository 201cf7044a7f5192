// Replicated servers as separate processes on loopback: three replica processes registered with
// the lab binder, one killed with SIGKILL and started again mid-run; the client fails over, the
// run keeps its samples and logs both events. With primary-backup the processes replicate to each
// other and the view service runs in the test's process.

import { describe, expect, it } from 'vitest';
import { DEFAULT_REPLICATED_SETUP, type ReplicaRunEvent, type ReplicatedSample } from '../workloads/rpc/replicated.js';
import { loopbackReplicatedProblems, runLoopbackReplicated } from '../workloads/rpc/replicated-net.js';
import { NO_IMPAIRMENT } from '../core/impair/config.js';

describe('replicated servers on loopback', () => {
  it('three replica processes: one SIGKILLed and restarted mid-run; the client fails over and the run logs both', async () => {
    const samples: ReplicatedSample[] = [];
    const events: ReplicaRunEvent[] = [];
    const failoverMs = 200;
    const s = await runLoopbackReplicated(
      {
        ...DEFAULT_REPLICATED_SETUP,
        forward: { ...NO_IMPAIRMENT },
        reverse: { ...NO_IMPAIRMENT },
        totalCalls: 0,
        durationMs: 3000,
        failoverMs,
        faults: [
          { atMs: 1000, replica: 1, fault: { action: 'crash', memory: 'lost' } },
          { atMs: 2000, replica: 1, fault: { action: 'restart' } },
        ],
      },
      { onSample: (x) => samples.push(x), onEvent: (e) => events.push(e) },
    );
    expect(s.status, s.failure ?? '').toBe('complete');
    // Stated bound: no call fails, as the call deadline (2 s) is longer than the detection time.
    expect(s.callsFailed).toBe(0);
    expect(s.availability).toBe(1);
    expect(s.callsFailedOver).toBeGreaterThan(0);
    // A call caught by the crash is answered by another replica once its own went silent for the
    // detection time. The gap in answers is that time less the age of the oldest call the killed
    // process left unanswered (on a busy machine tens of ms; in the simulator at most a round
    // trip, where test/replicas.test.ts holds it to the detection time).
    expect(s.latencyMaxMs).toBeGreaterThanOrEqual(failoverMs);
    expect(s.timeToRecoverMs).toBeGreaterThan(failoverMs / 2);
    expect(s.timeToRecoverMs).toBeLessThan(failoverMs + 400);
    expect(s.loadPerReplica[0]).toBeGreaterThan(0);
    expect(s.loadPerReplica[1]).toBeGreaterThan(0);
    expect(s.verifyFailures).toBe(0);
    expect(events.map((e) => `${e.kind} ${e.subject} ${e.after}`)).toEqual(['fault replica1 crashed', 'fault replica1 restarting', 'replica replica1 up']);
    expect(samples.length).toBeGreaterThanOrEqual(25);
    expect(samples.some((x) => x.replicas_up === 2)).toBe(true);
    expect(samples.reduce((a, x) => a + x.calls_succeeded, 0)).toBe(s.callsSucceeded);
  }, 60_000);

  it('primary-backup between processes: the primary SIGKILLed, a backup takes over, no acknowledged write lost', async () => {
    const events: ReplicaRunEvent[] = [];
    const s = await runLoopbackReplicated(
      {
        ...DEFAULT_REPLICATED_SETUP,
        replication: 'primary-backup',
        forward: { ...NO_IMPAIRMENT },
        reverse: { ...NO_IMPAIRMENT },
        keys: 200,
        mix: { null: 0, echo: 0, increment: 1, put: 3, get: 1 },
        totalCalls: 0,
        durationMs: 3000,
        faults: [
          { atMs: 1000, replica: 1, fault: { action: 'crash', memory: 'lost' } },
          { atMs: 2000, replica: 1, fault: { action: 'restart' } },
        ],
      },
      { onEvent: (e) => events.push(e) },
    );
    expect(s.status, s.failure ?? '').toBe('complete');
    expect(s.callsFailed).toBe(0);
    expect(s.writesAcked).toBeGreaterThan(100);
    expect(s.verifyFailures).toBe(0);
    expect(s.writesLost).toBe(0);
    expect(s.staleReads).toBe(0);
    expect(s.replicationMessages).toBeGreaterThan(s.writesAcked);
    const takeover = events.find((e) => e.kind === 'view' && e.after.endsWith('primary replica2'))!;
    expect(takeover.detail).toBe('replica 1 not heard for 250 ms: replica 2 takes over');
    expect(events.some((e) => e.kind === 'view' && e.detail === 'replica 1 joins as a backup')).toBe(true);
    // Replica 1 came back empty (SIGKILL) and rejoined as a backup: the primary's snapshot filled its counter.
    expect(Number(s.counterValues[0])).toBeGreaterThan(0);
  }, 60_000);

  it('refuses what only the simulator can do, naming it', () => {
    const base = { ...DEFAULT_REPLICATED_SETUP };
    expect(loopbackReplicatedProblems({ ...base, faults: [{ atMs: 5, replica: 1, fault: { action: 'partition' } }] })).toContain('fault at 5 ms on replica 1: on loopback the faults are crash (SIGKILL) and restart; partition runs in the simulator only');
    expect(loopbackReplicatedProblems({ ...base, faults: [{ atMs: 5, replica: 1, fault: { action: 'crash', memory: 'kept' } }] })).toContain('fault at 5 ms on replica 1: on loopback a crash kills the process (SIGKILL), so its memory is lost: memory kept runs in the simulator only');
  });
});
