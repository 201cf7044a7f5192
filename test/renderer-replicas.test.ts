// @vitest-environment happy-dom
// The replicas panel of a replicated service's run: each replica's state and load from the samples
// and events, a button per failure while the run goes (replicaFault), the failures as marks on the
// charts, and nothing for a run without replicas.

import { describe, expect, it } from 'vitest';
import { flushSync, mount, unmount } from 'svelte';
import { settle } from './helpers/fake-api.js';
import { batch, startedRun, STARTED_RUN_ID } from './helpers/renderer-run.js';
import Replicas from '../renderer/src/components/Replicas.svelte';

const sample = (t: number, up: number[], calls: number[]) => {
  const v: Record<string, number> = { time_s: t, availability: 1 };
  up.forEach((u, i) => (v[`replica${i + 1}_up`] = u));
  calls.forEach((c, i) => (v[`replica${i + 1}_calls`] = c));
  return { point: 0, repetition: 0, values: v };
};

describe('Replicas panel', () => {
  it('shows each replica with its state and load, sends a failure by hand, and marks it on the charts', async () => {
    const { fake, run } = await startedRun('{"name":"x","title":"X"}', { replicaFault: (p: { replica: number }) => (p.replica === 3 ? { ok: false, error: 'replicaFault: replica 3: partition does not apply on loopback' } : { ok: true, value: null }) });
    const target = document.createElement('div');
    document.body.append(target);
    const c = mount(Replicas, { target, props: { run } });
    flushSync();
    // No replicas in the samples: no panel.
    fake.push(batch({ status: { state: 'running', reason: null, dir: '/r' }, trial: { point: 0, repetition: 0, axes: {}, trial: 1, trials: 1 }, samples: [{ point: 0, repetition: 0, values: { time_s: 0.1, goodput_bps: 5 } }] }));
    flushSync();
    expect(target.querySelector('section')).toBeNull();
    fake.push(batch({ samples: [sample(0.2, [1, 1, 1], [30, 31, 29])] }));
    flushSync();
    const rows = () => [...target.querySelectorAll('tbody tr')].map((r) => [...r.children].slice(0, 3).map((x) => x.textContent!.trim()));
    expect(rows()).toEqual([
      ['Replica 1', 'up', '30'],
      ['Replica 2', 'up', '31'],
      ['Replica 3', 'up', '29'],
    ]);
    const button = (name: string) => target.querySelector(`button[aria-label="${name}"]`) as HTMLButtonElement;
    expect(button('Restart replica 2').disabled).toBe(true);
    const memory = target.querySelector('select') as HTMLSelectElement;
    memory.value = 'kept';
    memory.dispatchEvent(new Event('change', { bubbles: true }));
    flushSync();
    button('Crash replica 2').click();
    await settle();
    expect(fake.calls.filter((x) => x.method === 'replicaFault').map((x) => x.params)).toEqual([{ runId: STARTED_RUN_ID, replica: 2, action: 'crash', memory: 'kept' }]);
    // A failure by hand makes the run one to replay, as a datagram changed by hand does.
    expect(run.manualActions).toBe(1);
    // The lab's event and the next samples say what happened.
    fake.push(batch({ events: [{ point: 0, repetition: 0, timeS: 0.25, kind: 'fault', knob: 'replica2', label: 'Replica 2', before: 'up', after: 'crashed', detail: 'crash (memory kept)' }], samples: [sample(0.3, [1, 0, 1], [45, 0, 46])] }));
    flushSync();
    expect(rows()[1]).toEqual(['Replica 2', 'crashed', '0']);
    expect(button('Restart replica 2').disabled).toBe(false);
    expect(button('Crash replica 2').disabled).toBe(true);
    expect(run.trial!.markers.map((m) => m.label)).toEqual(['Replica 2: up → crashed']);
    // A slowdown and a refusal.
    button('Slow replica 1').click();
    await settle();
    expect(fake.calls.filter((x) => x.method === 'replicaFault').at(-1)!.params).toEqual({ runId: STARTED_RUN_ID, replica: 1, action: 'slow', extraMs: 100 });
    fake.push(batch({ events: [{ point: 0, repetition: 0, timeS: 0.35, kind: 'fault', knob: 'replica1', label: 'Replica 1', before: 'up', after: 'up', detail: 'slow (+100 ms per reply)' }] }));
    flushSync();
    expect(rows()[0]![1]).toBe('up, slowed by 100 ms');
    button('Partition replica 3').click();
    await settle();
    expect(target.querySelector('[role=alert]')!.textContent).toBe('replicaFault: replica 3: partition does not apply on loopback');
    // A restart that completed is a mark too.
    fake.push(batch({ events: [{ point: 0, repetition: 0, timeS: 1.3, kind: 'replica', knob: 'replica2', label: 'Replica 2', before: '', after: 'up', detail: 'restarted' }], samples: [sample(1.4, [1, 1, 1], [30, 30, 30])] }));
    flushSync();
    expect(run.trial!.markers.map((m) => m.label)).toEqual(['Replica 2: up → crashed', 'Replica 1: slow (+100 ms per reply)', 'Replica 2: up']);
    expect(rows()[1]![1]).toBe('up');
    // Once the run ended, the buttons rest.
    fake.push(batch({ status: { state: 'stopped', reason: 'stopped', dir: '/r' } }));
    flushSync();
    expect(button('Crash replica 1').disabled).toBe(true);
    unmount(c);
  });
});
