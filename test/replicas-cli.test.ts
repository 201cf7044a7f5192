// `packetlab rpc workload --replicas N`: the replicated service from the command line, and the
// arguments it refuses (exit 2, naming what was wrong).

import { describe, expect, it } from 'vitest';
import { cli, jsonLines } from './helpers/cli.js';

describe('packetlab rpc workload --replicas', () => {
  it('crashes and restarts a replica at the given times; the client fails over; events and figures are printed', () => {
    const r = cli(['rpc', 'workload', '--replicas', '3', '--policy', 'failover', '--failover-timeout', '150ms', '--crash-at', '2s:1', '--restart-at', '4s:1', '--duration', '6', '--seed', '1', '--preset', 'ideal', '--delay', '5ms', '--rev-delay', '5ms', '--json']);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const lines = jsonLines(r.stdout);
    const events = lines.filter((l) => l.type === 'event');
    expect(events.map((e) => `${String(e.timeS)} ${String(e.kind)} ${String(e.subject)} ${String(e.after)}`)).toEqual(['2 fault replica1 crashed', '4 fault replica1 up', '4 replica replica1 up']);
    const summary = lines.find((l) => l.type === 'summary')!;
    expect(summary.status).toBe('complete');
    expect(summary.availability).toBe(1);
    expect(summary.callsFailedOver).toBeGreaterThan(0);
    // The clients of the crashed replica went without an answer for the failover timeout (150 ms) and at most a round trip more.
    expect(summary.timeToRecoverMs as number).toBeGreaterThanOrEqual(150);
    expect(summary.timeToRecoverMs as number).toBeLessThanOrEqual(160);
    expect((summary.loadPerReplica as number[])[1]).toBeGreaterThan(0);
    const samples = lines.filter((l) => l.type === 'sample');
    expect(samples.length).toBeGreaterThan(5);
    expect(samples[0]).toHaveProperty('replica3_calls');
  });

  it('prints a table, the failures and a summary', () => {
    const r = cli(['rpc', 'workload', '--replicas', '2', '--replication', 'primary-backup', '--crash-at', '1:1', '--duration', '3', '--seed', '2']);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('failures: crash replica 1 at 1 s');
    expect(r.stdout).toMatch(/fault: replica1 crash \(memory lost\) \(up -> crashed\)/);
    expect(r.stdout).toMatch(/view: view replica 1 not heard for 250 ms: replica 2 takes over/);
    expect(r.stdout).toMatch(/writes: \d+ acknowledged, 0 lost/);
  });

  it.each([
    [['--replicas', '3', '--crash-at', '2s:4'], '--crash-at: "2s:4" names replica 4, but there are 3 replicas (numbered from 1)'],
    [['--replicas', '3', '--crash-at', 'soon'], '--crash-at: "soon" is not TIME:REPLICA (for example 2s:1, 1500ms:2)'],
    [['--crash-at', '2s:1'], '--crash-at needs --replicas N (the replicated service)'],
    [['--policy', 'hedged'], '--policy needs --replicas N (the replicated service)'],
    [['--replicas', '2', '--peer', '127.0.0.1:9'], '--replicas with --peer is not built yet: replicas run in the simulator, or as processes on loopback with --net udp'],
    [['--replicas', '2', '--net', 'udp', '--crash-memory', 'kept', '--crash-at', '1:1'], 'fault at 1000 ms on replica 1: on loopback a crash kills the process (SIGKILL), so its memory is lost: memory kept runs in the simulator only'],
    [['--replicas', '2', '--net', 'udp', '--partition-at', '1:1'], 'fault at 1000 ms on replica 1: on loopback the faults are crash (SIGKILL) and restart; partition runs in the simulator only'],
    [['--replicas', '2', '--transport', 'plt'], '--transport does not apply to --replicas: the replicas are called over UDP datagrams'],
    [['--replicas', '2', '--slow-at', '1s:2'], '--slow-at: "1s:2" is not TIME:REPLICA:EXTRA (for example 1s:2:100ms)'],
    [['--replicas', '2', '--mix', 'put,foo'], '--mix: "foo" is not null, echo, increment, put or get, optionally with =weight (example: put=2,get=1,increment=1)'],
    [['--mix', 'put'], '--mix: "put" is not null, echo or increment, optionally with =weight (example: null=1,increment=3) (put and get are calls of the replicated service: add --replicas N)'],
    [['--replicas', '2', '--failover-timeout', '3s', '--timeout', '2s'], 'failoverMs (3000) must be below timeoutMs (2000), or no call ever fails over'],
    [['--replicas', '6'], "option '--replicas <n>' argument '6' is invalid. --replicas must be an integer from 1 to 5 (got 6)"],
  ])('refuses %j naming what is wrong', (args, message) => {
    const r = cli(['rpc', 'workload', ...args]);
    expect(r.code).toBe(2);
    expect(r.stderr).toBe(`packetlab: ${message}\n`);
  });

  it('documents the replica options in --help', () => {
    const r = cli(['rpc', 'workload', '--help']);
    for (const flag of ['--replicas', '--policy', '--failover-timeout', '--replication', '--crash-at', '--restart-at', '--partition-at', '--heal-at', '--slow-at', '--crash-memory', '--no-replicate-drc']) expect(r.stdout).toContain(flag);
    expect(r.stdout.replace(/\s+/g, ' ')).toContain('--replicas 3 --policy failover --crash-at 2s:1 --restart-at 4s:1');
  });
});

describe('packetlab rpc workload --replicas N --net udp', () => {
  it('runs replica processes on loopback, kills one (SIGKILL) and restarts it; the client fails over', () => {
    const r = cli(['rpc', 'workload', '--replicas', '3', '--net', 'udp', '--crash-at', '0.8s:1', '--restart-at', '1.6s:1', '--duration', '2.5', '--seed', '3', '--json'], 60_000);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const lines = jsonLines(r.stdout);
    expect(lines.filter((l) => l.type === 'event').map((e) => `${String(e.kind)} ${String(e.subject)} ${String(e.after)}`)).toEqual(['fault replica1 crashed', 'fault replica1 restarting', 'replica replica1 up']);
    const summary = lines.find((l) => l.type === 'summary')!;
    expect(summary.status).toBe('complete');
    expect(summary.callsFailed).toBe(0);
    expect(summary.callsFailedOver).toBeGreaterThan(0);
    expect(lines.filter((l) => l.type === 'sample').length).toBeGreaterThan(1);
  });
});
