// @vitest-environment happy-dom
// The run store and the error states: batches into trials, markers and live values; a failed run
// or a lost peer keeps its data and shows the reason; a refused start (port in use) keeps the
// previous run on screen; a run started elsewhere is taken over; the spec editor validates as
// the user types and lists each problem with its path.

import { describe, expect, it } from 'vitest';
import { flushSync, mount, unmount } from 'svelte';
import type { RunData } from '../experiments/api/contract.js';
import { fakeApi, settle } from './helpers/fake-api.js';
import { batch, startedRun, STARTED_RUN_ID } from './helpers/renderer-run.js';
import { ladderPacket } from './helpers/renderer-ladder.js';
import { RunStore } from '../renderer/src/stores/run.svelte.js';
import { SpecStore } from '../renderer/src/stores/spec.svelte.js';
import { LabStore } from '../renderer/src/stores/lab.svelte.js';
import Banners from '../renderer/src/components/Banners.svelte';
import SpecEditor from '../renderer/src/components/SpecEditor.svelte';
import { saveFile } from '../renderer/src/lib/download.js';
import { exportChartPng } from '../renderer/src/lib/exports.js';

const SPEC = '{"name":"x","title":"X run","plot":{"x":"window","y":["goodput_bps"]}}';

describe('RunStore', () => {
  it('files samples, markers and live values by trial, and resets live values at a new trial', async () => {
    const { fake, run } = await startedRun(SPEC, {}, { network: 'loopback', quick: true });
    expect(fake.calls[0]).toEqual({ method: 'startRun', params: { text: SPEC, network: 'loopback', quick: true } });
    fake.push(batch({ status: { state: 'running', reason: null, dir: '/r' }, trial: { point: 0, repetition: 0, axes: { window: 8 }, trial: 1, trials: 2 } }));
    fake.push(batch({ samples: [{ point: 0, repetition: 0, values: { time_s: 0.1, goodput_bps: 5 } }], events: [{ point: 0, repetition: 0, timeS: 0.1, kind: 'set', knob: 'transport.rtoMs', before: '200', after: '50', detail: 'user' }] }));
    expect(run.state).toBe('running');
    expect(run.progress).toEqual({ trial: 1, trials: 2, label: 'point 1 (window = 8), repetition 1' });
    expect(run.trial!.series('goodput_bps').length).toBe(1);
    expect(run.trial!.markers.map((m) => m.label)).toEqual(['transport.rtoMs: 200 → 50']);
    expect(run.liveValues).toEqual({ 'transport.rtoMs': '50' });
    const r0 = run.revision;
    fake.push(batch({ trial: { point: 1, repetition: 0, axes: { window: 16 }, trial: 2, trials: 2 }, samples: [{ point: 1, repetition: 0, values: { time_s: 0.1, goodput_bps: 9 } }], points: [{ point: 0, window: 8, goodput_bps_mean: 5 }] }));
    expect(run.revision).toBe(r0 + 1);
    expect(run.liveValues).toEqual({});
    expect(run.trial!.key).toBe('1/0');
    expect(run.trialOptions.map((t) => t.key)).toEqual(['0/0', '1/0']);
    // The trial a hand changed says so in the trial list.
    expect(run.trialOptions.map((t) => t.label)).toEqual(['point 1 (window = 8), repetition 1 · changed by hand', 'point 2 (window = 16), repetition 1']);
    run.trialKey = '0/0';
    expect(run.trial!.key).toBe('0/0');
    expect(run.view!.summary).toEqual([{ point: 0, window: 8, goodput_bps_mean: 5 }]);
    // Another run's batches are not mixed in while this one goes.
    fake.push(batch({ runId: 'other', samples: [{ point: 0, repetition: 0, values: { time_s: 9, goodput_bps: 1 } }] }));
    expect(run.view!.trials.find('0/0')!.series('goodput_bps').length).toBe(1);
  });

  it('keeps the data of a run that failed or lost its peer, with the reason', async () => {
    const fake = fakeApi({ startRun: () => ({ ok: true, value: { runId: STARTED_RUN_ID } }), listRuns: () => ({ ok: true, value: [] }) });
    let ended = 0;
    const run = new RunStore(fake.api, () => ended++);
    await run.start(SPEC);
    fake.push(batch({ samples: [{ point: 0, repetition: 0, values: { time_s: 0.1, goodput_bps: 5 } }, { point: 0, repetition: 0, values: { time_s: 0.2, goodput_bps: 6 } }] }));
    fake.push(batch({ status: { state: 'peer-lost', reason: 'the peer agent stopped answering (3 s)', dir: '/r' } }));
    expect(run.state).toBe('peer-lost');
    expect(run.reason).toBe('the peer agent stopped answering (3 s)');
    expect(run.running).toBe(false);
    expect(ended).toBe(1);
    expect(run.trial!.series('goodput_bps').length).toBe(2);

    const lab = new LabStore({ api: fake.api, onStatus: (l) => (l({ state: 'lost', error: 'lost connection to the lab' }), () => {}), close: () => {} });
    const spec = new SpecStore(fake.api);
    const target = document.createElement('div');
    document.body.append(target);
    const c = mount(Banners, { target, props: { lab, run, spec } });
    flushSync();
    const alerts = [...target.querySelectorAll('[role=alert]')].map((a) => a.textContent!.replace(/\s+/g, ' ').trim());
    expect(alerts).toContain('Lost connection to the lab. lost connection to the lab. Reconnecting… The data collected so far stays on screen.');
    expect(alerts.some((a) => a.startsWith('The peer was lost: the peer agent stopped answering (3 s). The data collected so far stays on screen.'))).toBe(true);
    unmount(c);
  });

  it('shows a refused start (port in use), keeps the previous run on screen and says the start failed', async () => {
    let n = 0;
    const fake = fakeApi({ startRun: () => (n++ === 0 ? { ok: true, value: { runId: STARTED_RUN_ID } } : { ok: false, error: 'startRun: port 9000 on 127.0.0.1 is in use' }) });
    const run = new RunStore(fake.api);
    await run.start(SPEC);
    fake.push(batch({ samples: [{ point: 0, repetition: 0, values: { time_s: 0.1, goodput_bps: 5 } }], status: { state: 'complete', reason: null, dir: '/r' } }));
    expect(await run.start(SPEC)).toBe(false);
    expect(run.state).toBe('failed');
    expect(run.startFailed).toBe(true);
    expect(run.reason).toBe('startRun: port 9000 on 127.0.0.1 is in use');
    expect(run.error).toBe('startRun: port 9000 on 127.0.0.1 is in use');
    expect(run.view!.id).toBe(STARTED_RUN_ID);
    expect(run.trial!.series('goodput_bps').length).toBe(1);

    const lab = new LabStore({ api: fake.api, onStatus: (l) => (l({ state: 'open', error: null }), () => {}), close: () => {} });
    const target = document.createElement('div');
    document.body.append(target);
    const c = mount(Banners, { target, props: { lab, run, spec: new SpecStore(fake.api) } });
    flushSync();
    expect(target.querySelector('[role=alert]')!.textContent!.replace(/\s+/g, ' ')).toContain('The run could not start: startRun: port 9000 on 127.0.0.1 is in use');
    (target.querySelector('[role=alert] button') as HTMLButtonElement).click();
    flushSync();
    expect(run.error).toBeNull();
    unmount(c);
  });

  it('a run opened from disk that did not read back whole says what was lost, beside its data', async () => {
    const cut = 'samples.csv: the last row was cut off (disk full?) and is left out';
    const disk = (id: string, warnings: string[]): RunData => ({
      info: { id, name: 'x', title: 'X run', status: 'failed', reason: 'cannot write samples.csv: ENOSPC: no space left on device, write', network: 'sim', startedAt: '', endedAt: '', trials: 1, captures: [] },
      record: { spec: JSON.parse(SPEC), points: [{ index: 0, axes: {} }] },
      samples: { columns: ['point', 'repetition', 'time_s', 'goodput_bps'], rows: [[0, 0, 0.1, 1]] },
      events: { columns: [], rows: [] },
      summary: { columns: [], rows: [] },
      packets: { columns: [], rows: [] },
      warnings,
    });
    const fake = fakeApi({ openRun: ({ runId }: { runId: string }) => ({ ok: true, value: runId === 'run-cut' ? disk('run-cut', [cut]) : disk('run-whole', []) }) });
    const run = new RunStore(fake.api);
    const lab = new LabStore({ api: fake.api, onStatus: (l) => (l({ state: 'open', error: null }), () => {}), close: () => {} });
    const target = document.createElement('div');
    document.body.append(target);
    const c = mount(Banners, { target, props: { lab, run, spec: new SpecStore(fake.api) } });
    const shown = () => [...target.querySelectorAll('[data-testid=run-read-warnings]')].map((b) => b.textContent!.replace(/\s+/g, ' ').trim());
    expect(await run.open('run-whole')).toBe(true);
    flushSync();
    expect(shown()).toEqual([]);
    expect(await run.open('run-cut', 'overlay')).toBe(true);
    flushSync();
    expect(shown()).toEqual([`run-cut did not read back whole: ${cut}. The rest of it is shown.`]);
    expect(run.overlay!.trials.trials.length).toBe(1);
    run.clearOverlay();
    expect(await run.open('run-cut')).toBe(true);
    flushSync();
    expect(shown()).toEqual([`run-cut did not read back whole: ${cut}. The rest of it is shown.`]);
    run.closeOpened();
    flushSync();
    expect(shown()).toEqual([]);
    unmount(c);
  });

  it('takes over a run started elsewhere: what it wrote, then its batches, without doubles', async () => {
    const disk: RunData = {
      info: { id: 'run-9', name: 'x', title: 'X run', status: 'running', reason: null, network: 'sim', startedAt: '', endedAt: null, trials: 1, captures: [] },
      record: { spec: JSON.parse(SPEC), points: [{ index: 0, axes: { window: 8 } }] },
      samples: { columns: ['point', 'repetition', 'time_s', 'goodput_bps'], rows: [[0, 0, 0.1, 1], [0, 0, 0.2, 2]] },
      events: { columns: [], rows: [] },
      summary: { columns: [], rows: [] },
      packets: { columns: [], rows: [] },
      warnings: [],
    };
    const fake = fakeApi({ openRun: () => ({ ok: true, value: disk }), stopRun: () => ({ ok: true, value: null }) });
    const run = new RunStore(fake.api);
    fake.push(batch({ runId: 'run-9', samples: [{ point: 0, repetition: 0, values: { time_s: 0.2, goodput_bps: 2 } }, { point: 0, repetition: 0, values: { time_s: 0.3, goodput_bps: 3 } }] }));
    fake.push(batch({ runId: 'run-9', samples: [{ point: 0, repetition: 0, values: { time_s: 0.4, goodput_bps: 4 } }] }));
    await settle();
    expect(fake.calls.filter((c) => c.method === 'openRun')).toHaveLength(1);
    expect(run.runId).toBe('run-9');
    expect(run.state).toBe('running');
    expect(run.trial!.series('goodput_bps').points.map((p) => p.y)).toEqual([1, 2, 3, 4]);
    await run.stop();
    expect(fake.calls.at(-1)).toEqual({ method: 'stopRun', params: { runId: 'run-9' } });
  });

  it("shows none of the previous run's progress in a run it takes over", async () => {
    const table = { columns: [], rows: [] };
    const disk: RunData = { info: { id: 'run-9', name: 'x', title: 'X run', status: 'running', reason: null, network: 'sim', startedAt: '', endedAt: null, trials: 1, captures: [] }, record: null, samples: table, events: table, summary: table, packets: table, warnings: [] };
    const { fake, run } = await startedRun(SPEC, { openRun: () => ({ ok: true, value: disk }) });
    fake.push(batch({ trial: { point: 0, repetition: 0, axes: {}, trial: 1, trials: 2 }, status: { state: 'complete', reason: null, dir: '/r' } }));
    expect(run.progress).not.toBeNull();
    fake.push(batch({ runId: 'run-9' }));
    await settle();
    expect(run.runId).toBe('run-9');
    expect(run.progress).toBeNull();
  });

  it("a past run's ladder shows its packets up to a chosen time; a live run's shows the live packets", async () => {
    const rows: (string | number | null)[][] = [];
    for (let i = 0; i < 100; i++) rows.push([0, 0, i / 10, i / 10 + 0.05, 'forward', 'DATA', 1000 + i, null, null, '', 0, 'delivered']);
    const disk: RunData = {
      info: { id: 'run-7', name: 'x', title: 'X run', status: 'complete', reason: null, network: 'sim', startedAt: '', endedAt: '', trials: 2, captures: [] },
      record: { spec: JSON.parse(SPEC), points: [{ index: 0, axes: {} }, { index: 1, axes: {} }] },
      // Point 1 comes first, so that point 0 (the one with packets) is the latest trial.
      samples: { columns: ['point', 'repetition', 'time_s', 'goodput_bps'], rows: [[1, 0, 0.1, 2], [0, 0, 0.1, 1]] },
      events: { columns: [], rows: [] },
      summary: { columns: [], rows: [] },
      packets: { columns: ['point', 'repetition', 'sent_s', 'arrived_s', 'direction', 'type', 'seq', 'ack', 'window_bytes', 'sack', 'retransmission', 'fate'], rows },
      warnings: [],
    };
    expect(new RunStore(fakeApi({}).api).pastLadder).toBeNull();
    const { fake, run } = await startedRun(SPEC, { openRun: () => ({ ok: true, value: disk }) });
    // A live run: its ladder is the live packets, and there is no past ladder.
    const live = [0, 1, 2].map((i) => ladderPacket({ sentS: i / 10, seq: 500 + i }));
    fake.push(batch({ trial: { point: 0, repetition: 0, axes: {}, trial: 1, trials: 1 }, packets: live }));
    expect(run.pastLadder).toBeNull();
    expect(run.packets.map((p) => p.seq)).toEqual([500, 501, 502]);

    expect(await run.open('run-7')).toBe(true);
    const end = run.pastLadder!;
    expect(end.maxS).toBeCloseTo(9.9);
    expect(end.atS).toBeCloseTo(9.9);
    expect(end.packets.map((p) => p.seq)).toEqual(Array.from({ length: 40 }, (_, i) => 1060 + i));
    run.ladderAtS = 1.05;
    expect(run.pastLadder!.packets.map((p) => p.seq)).toEqual(Array.from({ length: 11 }, (_, i) => 1000 + i));
    expect(() => (run.ladderAtS = Number.NaN)).toThrow(/ladder time/);
    expect(run.ladderAtS).toBe(1.05);
    // Another trial puts the chosen time back at the trial's end.
    run.trialKey = '1/0';
    expect(run.ladderAtS).toBeNull();
    expect(run.pastLadder).toBeNull();
    run.trialKey = '0/0';
    expect(run.pastLadder!.atS).toBeCloseTo(9.9);
    run.ladderAtS = 1.05;

    // Back to the live run: its packets again, and the past run's time is forgotten.
    run.closeOpened();
    expect(run.pastLadder).toBeNull();
    expect(run.ladderAtS).toBeNull();
    expect(run.packets.map((p) => p.seq)).toEqual([500, 501, 502]);
    // An overlaid run's ladder packets are not built, and it shows no past ladder.
    expect(await run.open('run-7', 'overlay')).toBe(true);
    expect(run.overlay!.trials.trials.map((t) => t.key)).toEqual(['1/0', '0/0']);
    expect(run.overlay!.trials.trials.every((t) => t.packets.length === 0)).toBe(true);
    expect(run.pastLadder).toBeNull();
  });

  it('ends a run whose end it missed while offline, from the history', async () => {
    const { run } = await startedRun(SPEC);
    run.syncStatus([{ id: STARTED_RUN_ID, status: 'running', reason: null }]);
    expect(run.state).toBe('running');
    run.syncStatus([{ id: STARTED_RUN_ID, status: 'failed', reason: 'the worker crashed' }]);
    expect(run.state).toBe('failed');
    expect(run.reason).toBe('the worker crashed');
  });
});

describe('SpecEditor', () => {
  it('validates as the user types and lists each problem with its path, then the sweep points', async () => {
    const fake = fakeApi({
      validateSpec: (p: { text: string }) =>
        p.text.includes('"windowPackets": 0')
          ? { ok: true, value: { valid: false, problems: [{ path: 'transport.windowPackets', value: '0', message: 'must be at least 1' }], points: 0 } }
          : { ok: true, value: { valid: true, problems: [], points: 16 } },
      saveSpec: (p: { name: string }) => ({ ok: true, value: { path: `/home/u/specs/${p.name}.json` } }),
    });
    const spec = new SpecStore(fake.api, 10);
    const target = document.createElement('div');
    document.body.append(target);
    const c = mount(SpecEditor, { target, props: { spec } });
    spec.load({ name: 'window-vs-bdp', text: '{"name": "window-vs-bdp", "transport": {"windowPackets": 8}}' });
    await settle();
    expect(target.querySelector('#spec-check')!.textContent!.trim()).toBe('Valid: 16 sweep points.');
    const area = target.querySelector('textarea')!;
    area.value = '{"name": "window-vs-bdp", "transport": {"windowPackets": 0}}';
    area.dispatchEvent(new Event('input', { bubbles: true }));
    // Several keystrokes in a row make one call, after the pause.
    area.dispatchEvent(new Event('input', { bubbles: true }));
    await new Promise((r) => setTimeout(r, 40));
    await settle();
    expect(fake.calls.filter((x) => x.method === 'validateSpec')).toHaveLength(2);
    expect(target.querySelector('#spec-check')!.textContent!.trim()).toBe('1 problem:');
    expect(target.querySelector('ul.problems')!.textContent!.trim()).toBe('transport.windowPackets: must be at least 1 (0)');
    expect(area.getAttribute('aria-invalid')).toBe('true');
    // Saving goes to the user's specs, under the spec's own name unless another is typed.
    const name = target.querySelector('form.save input') as HTMLInputElement;
    expect(name.value).toBe('window-vs-bdp');
    (target.querySelector('form.save') as HTMLFormElement).dispatchEvent(new Event('submit', { bubbles: true, cancelable: true }));
    await settle();
    expect(fake.calls.find((x) => x.method === 'saveSpec')!.params).toEqual({ name: 'window-vs-bdp', text: area.value });
    expect(target.textContent).toContain('saved to /home/u/specs/window-vs-bdp.json');
    unmount(c);
  });
});

describe('saving files', () => {
  /** The downloads (file name and Blob) that `fn` started by clicking an <a download>, which goes nowhere meanwhile. */
  async function downloadsDuring(fn: () => Promise<void>): Promise<{ name: string; blob: Blob | undefined }[]> {
    const downloads: { name: string; blob: Blob | undefined }[] = [];
    const blobs = new Map<string, Blob>();
    const click = HTMLAnchorElement.prototype.click;
    const createObjectURL = URL.createObjectURL;
    URL.createObjectURL = (obj: Blob | MediaSource) => {
      const url = createObjectURL.call(URL, obj);
      if (obj instanceof Blob) blobs.set(url, obj);
      return url;
    };
    HTMLAnchorElement.prototype.click = function (this: HTMLAnchorElement) {
      downloads.push({ name: this.download, blob: blobs.get(this.href) });
    };
    try {
      await fn();
    } finally {
      HTMLAnchorElement.prototype.click = click;
      URL.createObjectURL = createObjectURL;
    }
    return downloads;
  }

  it("goes through the desktop app's save dialog when there is one (CSV as text, PNG as base64)", async () => {
    const requests: unknown[] = [];
    const win = {
      document,
      packetlabDesktop: {
        saveFile: async (r: unknown) => (requests.push(r), requests.length === 2 ? { ok: false, error: 'saveFile: EACCES' } : { ok: true, value: { path: '/x' } }),
        onMenu: () => () => {},
      },
    } as unknown as Window;
    const png = new Blob([new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 1, 2, 3])], { type: 'image/png' });
    expect(await saveFile('csv', 'a.csv', 'x,y\n1,2\n', win)).toBeNull();
    expect(await saveFile('png', 'a.png', png, win)).toBe('saveFile: EACCES');
    expect(requests).toEqual([
      { suggestedName: 'a.csv', kind: 'csv', data: 'x,y\n1,2\n' },
      { suggestedName: 'a.png', kind: 'png', data: 'iVBORw0KGgoBAgM=' },
    ]);
  });

  it('downloads a Blob in a browser: CSV as text, a capture given as base64 as its bytes', async () => {
    const downloads = await downloadsDuring(async () => {
      expect(await saveFile('csv', 'run-samples.csv', 'a,b\n', window)).toBeNull();
      expect(await saveFile('pcapng', 'c.pcapng', 'CgA=', window)).toBeNull();
    });
    expect(downloads.map((d) => d.name)).toEqual(['run-samples.csv', 'c.pcapng']);
    const [csv, pcapng] = downloads.map((d) => d.blob!);
    expect(csv!.type).toBe('text/csv');
    expect(await csv!.text()).toBe('a,b\n');
    expect(pcapng!.type).toBe('application/vnd.tcpdump.pcap');
    expect([...new Uint8Array(await pcapng!.arrayBuffer())]).toEqual([0x0a, 0x00]);
  });

  it("names a chart's PNG after the run and the chart, and says when the canvas gives no PNG", async () => {
    const canvas = (blob: Blob | null) => ({ toBlob: (cb: (b: Blob | null) => void) => cb(blob) }) as unknown as HTMLCanvasElement;
    const downloads = await downloadsDuring(async () => {
      expect(await exportChartPng('run 7/x', 'timeseq', canvas(new Blob([new Uint8Array([1])], { type: 'image/png' })))).toBeNull();
      expect(await exportChartPng('run-7', 'rate', canvas(null))).toBe('the chart could not be turned into a PNG');
    });
    expect(downloads.map((d) => d.name)).toEqual(['run-7-x-timeseq.png']);
  });
});
