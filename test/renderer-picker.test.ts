// @vitest-environment happy-dom
// The experiment list: the library grouped by concept, one line per experiment, and the specs the
// user saved, which reopen into the editor (loadSpec) and refresh after a save.

import { describe, expect, it } from 'vitest';
import { mount, unmount } from 'svelte';
import type { LibraryItem } from '../experiments/api/contract.js';
import { fakeApi, settle } from './helpers/fake-api.js';
import { LabStore } from '../renderer/src/stores/lab.svelte.js';
import { SpecStore } from '../renderer/src/stores/spec.svelte.js';
import ExperimentPicker from '../renderer/src/components/ExperimentPicker.svelte';

const item = (name: string, title: string, group: string): LibraryItem => ({ name, title, description: `${title}.`, concepts: ['x'], group, network: 'sim', text: JSON.stringify({ name, title }) });
const LIBRARY = [item('udp-buffer-loss', 'UDP loss', 'Loss from full buffers'), item('unreliable-vs-reliable', 'Unreliable vs reliable', 'Unreliable UDP'), item('window-vs-bdp', 'Window vs BDP', 'Sliding windows'), item('flow-control', 'Flow control', 'Loss from full buffers')];

describe('ExperimentPicker', () => {
  it('groups the library by concept and reopens a saved spec; a save refreshes the list', async () => {
    let saved = [{ name: 'my-run', title: 'My run', valid: true, savedAt: '2026-12-06T10:00:00.000Z' }];
    const fake = fakeApi({
      listLibrary: () => ({ ok: true, value: LIBRARY }),
      listKnobs: () => ({ ok: true, value: [] }),
      listPresets: () => ({ ok: true, value: [] }),
      listRuns: () => ({ ok: true, value: [] }),
      listPeers: () => ({ ok: true, value: [] }),
      listSpecs: () => ({ ok: true, value: saved }),
      loadSpec: (p: { name: string }) => (p.name === 'my-run' ? { ok: true, value: { name: 'my-run', text: '{"name":"my-run","title":"My run"}' } } : { ok: false, error: `loadSpec: no spec named "${p.name}"` }),
      validateSpec: () => ({ ok: true, value: { valid: true, problems: [], points: 1 } }),
      saveSpec: () => ((saved = [{ name: 'second', title: 'Second', valid: true, savedAt: '2026-12-06T11:00:00.000Z' }, ...saved]), { ok: true, value: { path: '/specs/second.json' } }),
    });
    const lab = new LabStore({ api: fake.api, onStatus: (l) => (l({ state: 'open', error: null }), () => {}), close: () => {} });
    const spec = new SpecStore(fake.api, 0, () => void lab.refreshSpecs());
    const target = document.createElement('div');
    document.body.append(target);
    const c = mount(ExperimentPicker, { target, props: { lab, spec } });
    await settle();
    // Headings in the order they first appear, each experiment under its first concept's.
    expect([...target.querySelectorAll('h3.group')].map((h) => h.textContent)).toEqual(['Loss from full buffers', 'Unreliable UDP', 'Sliding windows', 'My saved specs']);
    const titles = [...target.querySelectorAll('label.item .title')].map((t) => t.textContent);
    expect(titles.slice(0, 4)).toEqual(['UDP loss', 'Flow control', 'Unreliable vs reliable', 'Window vs BDP']);
    const mine = target.querySelector('input[value="saved:my-run"]') as HTMLInputElement;
    mine.click();
    await settle();
    expect(fake.calls.find((x) => x.method === 'loadSpec')!.params).toEqual({ name: 'my-run' });
    expect(spec.text).toBe('{"name":"my-run","title":"My run"}');
    expect(spec.source).toBe('my-run');
    await spec.save('second');
    await settle();
    expect([...target.querySelectorAll('input[value^="saved:"]')].map((i) => (i as HTMLInputElement).value)).toEqual(['saved:second', 'saved:my-run']);
    unmount(c);
  });
});
