// The workload registry (experiments/kinds/): each kind is one module behind one interface, and
// the runner, the CLI, the app and the docs loop over the registry instead of branching on kinds.

import { describe, expect, expectTypeOf, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { WORKLOADS, kindsUsing } from '../experiments/kinds/registry.js';
import { SIM_KNOBS, WORKLOAD_KINDS, WORKLOAD_KNOBS, type WorkloadKind } from '../experiments/knobs.js';
import type { SimHostConfig, WorkloadConfig } from '../experiments/runner/config.js';
import type { RpcTransportName } from '../core/rpc/transports.js';
import type { RpcBinding } from '../workloads/rpc/workload.js';
import { LabHost } from '../experiments/api/host.js';
import { knobApplies } from '../renderer/src/lib/knobs.js';
import type { KnobInfo, Result } from '../experiments/api/contract.js';
import { ROOT } from './helpers/stage-app.js';
import { sources } from './helpers/sources.js';


describe('the workload registry', () => {
  it('has a module for every kind a spec may name, and each reads declared workload knobs', () => {
    expect(Object.keys(WORKLOADS).sort()).toEqual([...WORKLOAD_KINDS].sort());
    const keys = WORKLOAD_KNOBS.map((k) => k.key);
    for (const w of Object.values(WORKLOADS)) {
      expect(w.kind).toBeDefined();
      for (const k of w.knobs) expect(keys, `${w.kind} reads workload.${k}`).toContain(k);
    }
    // Every workload knob is read by some kind.
    for (const k of keys) expect(kindsUsing('workload', k).length, `workload.${k}`).toBeGreaterThan(0);
  });

  it('is the only place that branches on a workload kind', () => {
    const offenders: string[] = [];
    for (const dir of ['experiments', 'cli', 'electron', 'renderer/src']) {
      for (const f of sources(join(ROOT, dir))) {
        const rel = relative(ROOT, f);
        if (rel.startsWith('experiments/kinds/')) continue;
        const text = readFileSync(f, 'utf8');
        for (const m of text.matchAll(/[!=]==\s*'(bulk|messages|udp-stream|rpc|flows)'/g)) {
          // RPC services of the peer protocol are not workloads.
          if (m[1] === 'rpc' && /\b(stats|s|service|x)\.kind\s*[!=]==\s*'rpc'/.test(text.slice(Math.max(0, m.index - 20), m.index + m[0].length))) continue;
          offenders.push(`${rel}: ${m[0]}`);
        }
      }
    }
    expect(offenders).toEqual([]);
  });

  it('derives WorkloadConfig from the workload knobs, one field per knob', () => {
    // Checked by tsc (the test suite type-checks test/): a knob added to WORKLOAD_KNOBS is a field.
    expectTypeOf<keyof WorkloadConfig>().toEqualTypeOf<(typeof WORKLOAD_KNOBS)[number]['key']>();
    // The keys stay literal: were they widened to string, the line above would hold vacuously.
    expectTypeOf<string>().not.toExtend<keyof WorkloadConfig>();
    expectTypeOf<WorkloadConfig['kind']>().toEqualTypeOf<WorkloadKind>();
    expectTypeOf<WorkloadConfig['rpcTransport']>().toEqualTypeOf<RpcTransportName>();
    expectTypeOf<WorkloadConfig['rpcBinding']>().toEqualTypeOf<RpcBinding>();
    expectTypeOf<WorkloadConfig['rpcBinding']>().toEqualTypeOf<'fixed' | 'once' | 'every-call'>();
    expectTypeOf<WorkloadConfig['bytes']>().toEqualTypeOf<number>();
    expectTypeOf<WorkloadConfig['verifyData']>().toEqualTypeOf<boolean>();
    expectTypeOf<WorkloadConfig['drc']>().toEqualTypeOf<boolean>();
  });

  it('derives SimHostConfig from the simulator knobs the same way', () => {
    expectTypeOf<keyof SimHostConfig>().toEqualTypeOf<(typeof SIM_KNOBS)[number]['key']>();
    expectTypeOf<SimHostConfig>().toEqualTypeOf<{ receiverPacketsPerSecond: number }>();
  });

  it('tells the app which kinds read each knob', async () => {
    const host = new LabHost({ runsDir: '/nonexistent/runs', specsDir: '/nonexistent/specs' });
    try {
      const r = (await host.call('listKnobs', {})) as Result<KnobInfo[]>;
      if (!r.ok) throw new Error(r.error);
      const w = (key: string) => r.value.find((k) => k.path === `workload.${key}`)!;
      expect(w('bytes').workloads).toEqual(['bulk', 'messages']);
      expect(w('messageBytes').workloads).toEqual(['messages']);
      expect(w('durationMs').workloads).toEqual(['udp-stream', 'rpc', 'flows', 'rpc-replicas']);
      expect(w('kind').workloads).toEqual(['bulk', 'messages', 'udp-stream', 'rpc', 'flows', 'rpc-replicas']);
      expect(knobApplies(w('rpcRetryMs'), 'rpc')).toBe(true);
      expect(knobApplies(w('rpcRetryMs'), 'flows')).toBe(false);
      expect(knobApplies(w('bytes'), 'udp-stream')).toBe(false);
      for (const k of r.value.filter((x) => x.section === 'workload')) expect(k.workloads?.length ?? 0, k.path).toBeGreaterThan(0);
      // A UDP stream has no transport and no return direction to impair: the app hides those knobs.
      const k = (path: string) => r.value.find((x) => x.path === path)!;
      expect(knobApplies(k('transport.windowPackets'), 'udp-stream')).toBe(false);
      expect(knobApplies(k('reverse.lossProbability'), 'udp-stream')).toBe(false);
      expect(knobApplies(k('forward.lossProbability'), 'udp-stream')).toBe(true);
      expect(knobApplies(k('socket.socketRcvBufBytes'), 'udp-stream')).toBe(true);
      expect(knobApplies(k('transport.windowPackets'), 'bulk')).toBe(true);
      for (const x of r.value) expect(x.workloads?.length ?? 0, x.path).toBeGreaterThan(0);
    } finally {
      await host.close();
    }
  });
});
