// Call semantics under impairment: with 20% loss and 5% duplication on both directions, 10,000
// calls of the non-idempotent counter execute exactly once each with the duplicate request cache
// on (at-most-once), and some execute twice with it off (at-least-once), in the simulator and on
// real UDP sockets. The counter's own log of executions per request checks the server's count.

import { describe, expect, it } from 'vitest';
import { NO_IMPAIRMENT } from '../core/impair/config.js';
import { DEFAULT_RPC_SETUP, RPC_COLUMNS, buildSimRpcWorkload, runSimRpcWorkload, runUdpRpcWorkload, type RpcSample, type RpcSetup, type RpcSummary } from '../workloads/rpc/workload.js';

const IMPAIRED = { ...NO_IMPAIRMENT, lossProbability: 0.2, duplicateProbability: 0.05, delayMs: 1, jitterMs: 0.5 };

function setup(seed: number, drc: boolean, over: Partial<RpcSetup> = {}): RpcSetup {
  return {
    ...DEFAULT_RPC_SETUP,
    totalCalls: 10_000,
    callsInFlight: 32,
    mix: { null: 0, echo: 0, increment: 1 },
    forward: IMPAIRED,
    reverse: IMPAIRED,
    policy: { timeoutMs: 60_000, retryIntervalMs: 20, retryBackoff: 2, retryIntervalMsMax: 320, maxRetransmissions: 40 },
    drc: { enabled: drc, maxEntries: 50_000, maxAgeMs: 600_000 },
    seed,
    ...over,
  };
}

function checkAtMostOnce(s: RpcSummary, why: string): void {
  expect(s.status, why).toBe('complete');
  expect(s.callsSucceeded, why).toBe(10_000);
  expect(s.server!.duplicateExecutions, why).toBe(0);
  expect(s.counterRepeatedExecutions, why).toBe(0);
  expect(s.counterValue, why).toBe('10000');
  // The impairment did produce duplicates; the cache answered them.
  expect(s.server!.duplicateRequests, why).toBeGreaterThan(500);
  expect(s.server!.cacheHits + s.server!.inProgressDrops, why).toBe(s.server!.duplicateRequests);
  expect(s.client.retransmissions, why).toBeGreaterThan(1000);
}

function checkAtLeastOnce(s: RpcSummary, why: string): void {
  expect(s.status, why).toBe('complete');
  expect(s.callsSucceeded, why).toBe(10_000);
  expect(s.server!.duplicateExecutions, why).toBeGreaterThan(0);
  expect(s.server!.cacheHits, why).toBe(0);
  // The server's count (within the cache's window) matches the counter's exact log, and the
  // counter counted every extra execution.
  expect(s.counterRepeatedExecutions, why).toBe(s.server!.duplicateExecutions);
  expect(BigInt(s.counterValue!), why).toBe(10_000n + BigInt(s.server!.duplicateExecutions));
}

describe('RPC call semantics in the simulator (20% loss, 5% duplication, 10,000 counter calls)', () => {
  for (const seed of [1, 2, 3]) {
    it(`UDP, seed ${seed}: the cache gives zero duplicate executions; without it they are counted`, () => {
      const why = `reproduce with SEED=${seed}`;
      const samples: RpcSample[] = [];
      const on = runSimRpcWorkload(setup(seed, true), { onSample: (x) => samples.push(x) });
      checkAtMostOnce(on, why);
      const off = runSimRpcWorkload(setup(seed, false));
      checkAtLeastOnce(off, why);
      // Samples carry every column and add up to the summary.
      expect(Object.keys(samples[0]!).sort()).toEqual([...RPC_COLUMNS].sort());
      const sum = (k: keyof RpcSample) => samples.reduce((a, x) => a + x[k], 0);
      expect(sum('calls_succeeded')).toBe(on.callsSucceeded);
      expect(sum('cache_hits')).toBe(on.server!.cacheHits);
      expect(sum('retransmissions')).toBe(on.client.retransmissions);
      expect(samples.some((x) => x.latency_p99_ms > x.latency_p50_ms)).toBe(true);
    });
  }

  it('a run replays exactly from its seed', () => {
    const a = runSimRpcWorkload(setup(9, false, { totalCalls: 2000 }));
    const b = runSimRpcWorkload(setup(9, false, { totalCalls: 2000 }));
    expect({ ...a, simEventsPerSecond: 0 }).toEqual({ ...b, simEventsPerSecond: 0 });
  });

  it('over the lab transport, duplicates never reach the server (the transport removes them)', () => {
    const s = runSimRpcWorkload(setup(4, false, { transport: 'plt', totalCalls: 3000, callsInFlight: 16 }));
    expect(s.status).toBe('complete');
    expect(s.callsSucceeded).toBe(3000);
    expect(s.client.retransmissions).toBe(0);
    expect(s.server!.duplicateRequests).toBe(0);
    expect(s.counterValue).toBe('3000');
  });

  it('a short timeout under loss fails calls with TIMEOUT, and the latency percentiles order', () => {
    const s = runSimRpcWorkload(setup(5, true, { totalCalls: 2000, policy: { timeoutMs: 30, retryIntervalMs: 10, retryBackoff: 1, retryIntervalMsMax: 10, maxRetransmissions: 2 } }));
    expect(s.failedBy.TIMEOUT).toBeGreaterThan(0);
    expect(s.callsSucceeded + s.callsFailed).toBe(2000);
    expect(s.latencyP50Ms).toBeLessThanOrEqual(s.latencyP90Ms);
    expect(s.latencyP90Ms).toBeLessThanOrEqual(s.latencyP99Ms);
    expect(s.latencyP99Ms).toBeLessThanOrEqual(30);
  });
});

describe('RPC call semantics on real UDP sockets (20% loss, 5% duplication, 10,000 counter calls)', () => {
  const real = (drc: boolean) => setup(11, drc, { callsInFlight: 64, policy: { timeoutMs: 60_000, retryIntervalMs: 10, retryBackoff: 2, retryIntervalMsMax: 160, maxRetransmissions: 40 }, timeLimitMs: 120_000 });

  it('the cache gives zero duplicate executions', async () => {
    checkAtMostOnce(await runUdpRpcWorkload({ setup: real(true), peer: null }), 'real UDP, cache on');
  });

  it('without the cache the duplicate executions are counted', async () => {
    checkAtLeastOnce(await runUdpRpcWorkload({ setup: real(false), peer: null }), 'real UDP, cache off');
  });
});

describe('the lab transport in the simulator: the server side takes the run\'s transport knobs', () => {
  // The client's SYN arrives, then nothing more from the client does: the server's session sends
  // its SYN-ACK again on its own timer until it gives up. How often and how many times is set by
  // rtoBackoff and maxRetransmissions, which the server side must take from the run as the client does.
  const synAcksSent = (changes: Partial<RpcSetup['transportConfig']>, untilMs: number): number => {
    const setup: RpcSetup = { ...DEFAULT_RPC_SETUP, transport: 'plt', totalCalls: 1, callsInFlight: 1, timeLimitMs: untilMs, transportConfig: { ...DEFAULT_RPC_SETUP.transportConfig, ...changes } };
    const w = buildSimRpcWorkload(setup);
    w.app.start(0);
    w.sim.run({ untilMs, stop: () => w.forward.counters.deliveredPackets >= 1 });
    w.forward.reconfigure({ lossProbability: 1 });
    w.sim.run({ untilMs, stop: () => false });
    return w.reverse.counters.offeredPackets;
  };

  it('maxRetransmissions bounds the server\'s retransmissions too', () => {
    expect(synAcksSent({ maxRetransmissions: 2 }, 600_000)).toBeLessThan(synAcksSent({ maxRetransmissions: 6 }, 600_000));
  });

  it('rtoBackoff spaces the server\'s retransmissions too', () => {
    // The third SYN-ACK (the second retransmission) leaves later the larger the backoff. The
    // server sends at most three times what it received before the client proved its address, so
    // the count alone cannot show the spacing.
    const thirdSynAckAtMs = (rtoBackoff: number): number => {
      const setup: RpcSetup = { ...DEFAULT_RPC_SETUP, transport: 'plt', totalCalls: 1, callsInFlight: 1, transportConfig: { ...DEFAULT_RPC_SETUP.transportConfig, rtoBackoff, maxRetransmissions: 50 } };
      const w = buildSimRpcWorkload(setup);
      w.app.start(0);
      w.sim.run({ untilMs: 60_000, stop: () => w.forward.counters.deliveredPackets >= 1 });
      w.forward.reconfigure({ lossProbability: 1 });
      w.sim.run({ untilMs: 60_000, stop: () => w.reverse.counters.offeredPackets >= 3 });
      return w.sim.now;
    };
    expect(thirdSynAckAtMs(1)).toBeLessThan(thirdSynAckAtMs(2));
  });
});
