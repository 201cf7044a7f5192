// Teaching mode's stepped simulator: stepping a run one event at a time gives exactly the trace
// and the result of running it without pausing.

import { describe, expect, it } from 'vitest';
import { buildSimTransfer } from '../workloads/transfer/sim-transfer.js';
import { DEFAULT_TRANSPORT_CONFIG } from '../core/transport/config.js';
import { NO_IMPAIRMENT } from '../core/impair/config.js';
import type { Link } from '../core/impair/link.js';
import { transferSetup } from './helpers/transfer-setup.js';

function setup(seed: number) {
  return transferSetup(60_000, {
    transport: { ...DEFAULT_TRANSPORT_CONFIG, protocol: (['saw', 'gbn', 'sr'] as const)[seed % 3]!, windowPackets: 16 },
    forward: { ...NO_IMPAIRMENT, delayMs: 5, jitterMs: 1, lossProbability: 0.1, duplicateProbability: 0.05, reorderProbability: 0.05, reorderDelayMs: 3, corruptProbability: 0.02, rateBitsPerSecond: 10e6 },
    reverse: { ...NO_IMPAIRMENT, delayMs: 5, lossProbability: 0.05 },
    seed,
    timeLimitMs: 600_000,
  });
}

function trace(links: Link[]): string[] {
  const out: string[] = [];
  links.forEach((l, i) => {
    l.tracer = {
      dropped: (now, bytes, _f, _t, reason) => out.push(`${i} drop ${now.toFixed(6)} ${reason} ${Buffer.from(bytes).toString('hex').slice(0, 64)}`),
      delivered: (now, bytes, _f, _t, sentAt, flags) => out.push(`${i} deliver ${now.toFixed(6)} ${sentAt.toFixed(6)} ${flags} ${Buffer.from(bytes).toString('hex').slice(0, 64)}`),
    };
  });
  return out;
}

describe('stepping the simulator', () => {
  it.each([1, 2, 3, 4, 5, 6])('seed %i: N single steps, then a run, equal one run without pausing', (seed) => {
    const a = buildSimTransfer(setup(seed));
    const ta = trace([a.forward, a.reverse]);
    a.sender.start(0);
    a.sim.run();
    const b = buildSimTransfer(setup(seed));
    const tb = trace([b.forward, b.reverse]);
    b.sender.start(0);
    const kinds = new Set<string>();
    // Step a good part of the transfer one event at a time, then let it run.
    for (let i = 0; i < 400; i++) {
      const e = b.sim.step();
      if (e === null) break;
      kinds.add(e.kind);
    }
    b.sim.run();
    expect(kinds).toEqual(new Set(['send', 'deliver', 'timer']));
    expect(tb).toEqual(ta);
    expect(b.sender.state).toBe(a.sender.state);
    expect(b.sender.conn.counters).toEqual(a.sender.conn.counters);
    expect(b.sim.now).toBe(a.sim.now);
    expect(b.sim.events).toBe(a.sim.events);
  });

  it('steps to the very end the same way', () => {
    const a = buildSimTransfer(setup(7));
    const ta = trace([a.forward, a.reverse]);
    a.sender.start(0);
    a.sim.run();
    const b = buildSimTransfer(setup(7));
    const tb = trace([b.forward, b.reverse]);
    b.sender.start(0);
    let n = 0;
    while (b.sim.step() !== null) n++;
    expect(tb).toEqual(ta);
    expect(n).toBe(a.sim.events);
    expect(b.sender.state).toBe('done');
  });
});

describe('dropping a datagram in flight by hand', () => {
  it('drops exactly that datagram, the tracer says so, the transfer recovers, and the same drop replays to the same result', () => {
    const runWithDrop = () => {
      const t = buildSimTransfer({ ...setup(2), forward: { ...NO_IMPAIRMENT, delayMs: 5 }, reverse: { ...NO_IMPAIRMENT, delayMs: 5 } });
      const log = trace([t.forward, t.reverse]);
      t.sender.start(0);
      // Step until a few DATA packets are on the wire, then drop the third in flight.
      let dropped: number | null = null;
      while (dropped === null) {
        const e = t.sim.step();
        expect(e).not.toBeNull();
        const flying = t.forward.inFlight();
        if (flying.length >= 3 && t.sim.now > 0) {
          dropped = flying[2]!.index;
          expect(t.forward.dropInFlight(dropped)).toBe(true);
          expect(t.forward.dropInFlight(dropped)).toBe(false);
          expect(t.forward.inFlight().map((d) => d.index)).not.toContain(dropped);
        }
      }
      t.sim.run();
      return { t, log, dropped };
    };
    const a = runWithDrop();
    expect(a.t.forward.counters.dropsManual).toBe(1);
    expect(a.log.filter((l) => l.includes(' manual '))).toHaveLength(1);
    expect(a.t.sender.state).toBe('done');
    expect(a.t.sender.matched).toBe(true);
    expect(a.t.sender.conn.counters.retransmitsTimeout + a.t.sender.conn.counters.retransmitsFast).toBeGreaterThan(0);
    const b = runWithDrop();
    expect(b.log).toEqual(a.log);
    expect(b.dropped).toBe(a.dropped);
  });
});

describe('teaching mode in the runner', () => {
  it('pauses, steps, shows the endpoints, drops a packet by hand, and the recorded drop replays to the identical result', async () => {
    const { ExperimentRun } = await import('../experiments/runner/run.js');
    const { validateSpec } = await import('../experiments/spec.js');
    const { readRun, readCsv } = await import('../experiments/runner/store.js');
    const { mkdtempSync, readFileSync } = await import('node:fs');
    const { tmpdir } = await import('node:os');
    const { join } = await import('node:path');
    const base = { name: 'teach', title: 't', description: 'd', concepts: ['timeout-retry'], transport: { protocol: 'gbn', windowPackets: 8 }, workload: { kind: 'bulk', bytes: 40_000 }, forward: { delayMs: 20 }, reverse: { delayMs: 20 } };
    const v = validateSpec(base);
    if (!v.ok) throw new Error(JSON.stringify(v.errors));
    const out = mkdtempSync(join(tmpdir(), 'packetlab-teach-'));
    const run = new ExperimentRun({ spec: v.spec, specFile: null, outDir: out });
    // Paused before it starts: the trial waits at time 0 for the first step.
    expect(run.pause()).toBeNull();
    const actions = (async () => {
      while (run.sim.trial === null) await new Promise((r) => setTimeout(r, 1));
      // Step until data is on the wire, then look at the sender and drop a DATA packet in flight.
      for (let i = 0; i < 200; i++) {
        const s = run.simState();
        if (typeof s !== 'string' && s.inFlight.filter((d) => d.type === 'DATA').length >= 3) break;
        expect(run.step()).toBeNull();
        await new Promise((r) => setTimeout(r, 1));
      }
      const state = run.simState();
      if (typeof state === 'string') throw new Error(state);
      expect(state.sender!.unacked.length).toBeGreaterThan(0);
      expect(state.sender!.protocol).toBe('gbn');
      const victim = state.inFlight.filter((d) => d.type === 'DATA')[1]!;
      expect(run.packetAction('forward', victim.index, 'drop')).toBeNull();
      expect(run.packetAction('forward', victim.index, 'drop')).toMatch(/is in flight/);
      expect(run.resume()).toBeNull();
    })();
    const res = await run.start();
    await actions;
    expect(res.status).toBe('complete');
    const rec = readRun(res.dir);
    const drop = rec.liveChanges.find((c) => c.packet !== undefined)!;
    expect(drop.packet).toMatchObject({ direction: 'forward', action: 'drop' });
    const events = readCsv(join(res.dir, 'events.csv'));
    // Steps name the hosts by role and count sequence numbers from each side's SYN, as Wireshark does.
    const steps = events.filter((e) => e.kind === 'step').map((e) => e.detail);
    expect(steps[0]).toBe('the sender sends SYN seq 0 to the receiver');
    expect(steps).toContain('the receiver receives SYN seq 0 from the sender');
    expect(steps.find((d) => d.startsWith('the receiver sends SYN-ACK'))).toBe('the receiver sends SYN-ACK seq 0 ack 1 to the sender');
    for (const d of steps) for (const m of d.matchAll(/(?:seq|ack) (\d+)/g)) expect(Number(m[1]), d).toBeLessThan(1_000_000);
    expect(events.some((e) => e.kind === 'packet' && e.detail === 'dropped by hand')).toBe(true);
    expect(events.some((e) => e.kind === 'resume')).toBe(true);
    // Replay: the same spec with the drop in its schedule, no pausing.
    const replaySpec = validateSpec({ ...base, schedule: [{ atS: drop.atS, packet: drop.packet }] });
    if (!replaySpec.ok) throw new Error(JSON.stringify(replaySpec.errors));
    const again = await new ExperimentRun({ spec: replaySpec.spec, specFile: null, outDir: out }).start();
    expect(readFileSync(join(again.dir, 'samples.csv'), 'utf8')).toBe(readFileSync(join(res.dir, 'samples.csv'), 'utf8'));
    // The same figures; only the mark differs: the drop was by hand in the first run, by the schedule in the replay.
    const s = readCsv(join(res.dir, 'summary.csv'))[0]!;
    const r = readCsv(join(again.dir, 'summary.csv'))[0]!;
    expect([s.changed_by_hand, r.changed_by_hand]).toEqual(['1', '0']);
    expect({ ...r, changed_by_hand: '1' }).toEqual(s);
    expect(Number(s.retransmits_timeout_mean) + Number(s.retransmits_fast_mean)).toBeGreaterThan(0);
  });
});

describe('corrupting, duplicating and delaying by hand', () => {
  it.each([
    ['corrupt', 0],
    ['duplicate', 0],
    ['delay', 30],
    ['drop', 0],
  ] as const)('%s: done live to a datagram in flight, and done again at send time by a replay, gives the identical run', (action, delayMs) => {
    const live = () => {
      const t = buildSimTransfer({ ...setup(2), forward: { ...NO_IMPAIRMENT, delayMs: 5 }, reverse: { ...NO_IMPAIRMENT, delayMs: 5 } });
      const log = trace([t.forward, t.reverse]);
      t.sender.start(0);
      let index: number | null = null;
      for (let i = 0; i < 5000 && index === null; i++) {
        t.sim.step();
        const flying = t.forward.inFlight();
        if (flying.length >= 4 && t.sim.now > 1) {
          index = flying[2]!.index;
          expect(t.forward.act(index, false, action, delayMs)).toBe(true);
        }
      }
      t.sim.run();
      return { t, log, index: index! };
    };
    const a = live();
    const b = buildSimTransfer({ ...setup(2), forward: { ...NO_IMPAIRMENT, delayMs: 5 }, reverse: { ...NO_IMPAIRMENT, delayMs: 5 } });
    const logB = trace([b.forward, b.reverse]);
    b.forward.actWhenSent(a.index, false, action, delayMs);
    b.sender.start(0);
    b.sim.run();
    expect(logB).toEqual(a.log);
    expect(b.sender.conn.counters).toEqual(a.t.sender.conn.counters);
    expect(b.forward.counters).toEqual(a.t.forward.counters);
    const c = a.t.forward.counters;
    if (action === 'corrupt') {
      expect(c.corruptedManual).toBe(1);
      expect(a.t.receiver()!.conn.counters.checksumFailures).toBe(1);
    }
    if (action === 'duplicate') {
      expect(c.duplicatedManual).toBe(1);
      expect(a.t.receiver()!.conn.counters.duplicatesSuppressed).toBeGreaterThanOrEqual(1);
    }
    if (action === 'delay') {
      expect(c.delayedManual).toBe(1);
      expect(a.log.some((l) => / deliver \S+ \S+ 12 /.test(l))).toBe(true);
    }
    if (action === 'drop') expect(c.dropsManual).toBe(1);
    expect(a.t.sender.state).toBe('done');
    expect(a.t.sender.matched).toBe(true);
  });
});

describe('the ladder of a datagram dropped by hand', () => {
  it('shows it leaving when it was sent, not when it would have arrived', async () => {
    const { LadderTracer } = await import('../experiments/runner/ladder.js');
    const t = buildSimTransfer({ ...setup(2), forward: { ...NO_IMPAIRMENT, delayMs: 20 }, reverse: { ...NO_IMPAIRMENT, delayMs: 20 } });
    const seen: { sentS: number; fate: string; arrivedS: number | null }[] = [];
    t.forward.tracer = new LadderTracer('forward', 0, (p) => seen.push(p));
    t.sender.start(0);
    let sentAt = Number.NaN;
    for (let i = 0; i < 5000 && Number.isNaN(sentAt); i++) {
      t.sim.step();
      const f = t.forward.inFlight();
      if (f.length >= 2 && t.sim.now > 1) {
        sentAt = f[1]!.sentAt;
        expect(t.forward.act(f[1]!.index, false, 'drop')).toBe(true);
      }
    }
    t.sim.run();
    const manual = seen.find((p) => p.fate === 'manual')!;
    expect(manual.arrivedS).toBeNull();
    expect(manual.sentS).toBe(sentAt / 1000);
  });
});
