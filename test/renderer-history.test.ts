// @vitest-environment happy-dom
// The run history: one capture control per run however many trials it recorded (a menu of its
// trials), and saving the chosen one.

import { describe, expect, it } from 'vitest';
import { mount, unmount } from 'svelte';
import type { RunInfo } from '../experiments/api/contract.js';
import { fakeApi, settle } from './helpers/fake-api.js';
import { LabStore } from '../renderer/src/stores/lab.svelte.js';
import { RunStore } from '../renderer/src/stores/run.svelte.js';
import History from '../renderer/src/components/History.svelte';

const info = (id: string, captures: string[]): RunInfo => ({ id, name: 'x', title: 'X', status: 'complete', reason: null, network: 'sim', startedAt: '2026-12-06T10:00:00.000Z', endedAt: '2026-12-06T10:00:05.000Z', trials: captures.length, captures });

describe('History', () => {
  it('offers one capture control per run: a button for one capture, a menu of trials for several', async () => {
    const many = Array.from({ length: 12 }, (_, i) => `capture-p${Math.floor(i / 2)}-r${i % 2}.pcapng`);
    const fake = fakeApi({
      listLibrary: () => ({ ok: true, value: [] }),
      listKnobs: () => ({ ok: true, value: [] }),
      listPresets: () => ({ ok: true, value: [] }),
      listSpecs: () => ({ ok: true, value: [] }),
      listPeers: () => ({ ok: true, value: [] }),
      listRuns: () => ({ ok: true, value: [info('run-a', many), info('run-b', ['capture-p0-r0.pcapng']), info('run-c', [])] }),
      getCapture: (p: { file: string }) => ({ ok: true, value: { fileName: p.file, base64: 'AAAA', bytes: 3 } }),
    });
    const lab = new LabStore({ api: fake.api, onStatus: (l) => (l({ state: 'open', error: null }), () => {}), close: () => {} });
    const run = new RunStore(fake.api);
    const target = document.createElement('div');
    document.body.append(target);
    const c = mount(History, { target, props: { lab, run } });
    await settle();
    const rows = [...target.querySelectorAll('tbody tr')];
    const menu = rows[0]!.querySelector('select') as HTMLSelectElement;
    expect(menu.getAttribute('aria-label')).toBe('Save a capture of run-a');
    expect([...menu.options].map((o) => o.textContent)).toEqual(['Save capture…', ...Array.from({ length: 12 }, (_, i) => `point ${Math.floor(i / 2) + 1}, repetition ${(i % 2) + 1}`)]);
    expect(rows[0]!.querySelectorAll('button').length).toBe(4);
    expect([...rows[1]!.querySelectorAll('button')].map((b) => b.textContent)).toContain('Save capture');
    expect(rows[2]!.textContent).not.toContain('capture');
    menu.value = 'capture-p3-r1.pcapng';
    menu.dispatchEvent(new Event('change', { bubbles: true }));
    await settle();
    expect(fake.calls.filter((x) => x.method === 'getCapture').map((x) => x.params)).toEqual([{ runId: 'run-a', file: 'capture-p3-r1.pcapng' }]);
    expect(menu.value).toBe('');
    unmount(c);
  });
});
