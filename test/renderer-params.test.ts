// @vitest-environment happy-dom
// The parameter panel: grouping of the lab's knobs (Transport, Timeouts, Buffers, Impairment
// forward and reverse, Workload), labels, steps and range checks, edits of the spec's JSON before
// a run, setKnob for live knobs during one (others disabled, saying why), and refusals shown.

import { describe, expect, it } from 'vitest';
import { mount, unmount } from 'svelte';
import type { KnobInfo, Result } from '../experiments/api/contract.js';
import { fakeApi, settle } from './helpers/fake-api.js';
import { batch, STARTED_RUN_ID } from './helpers/renderer-run.js';
import { FOLDED_GROUPS, checkKnobInput, groupKnobs, knobApplies, knobLabel, knobStep, setSpecKnob, specKnobValue, sweptKnobs, parseSpecJson } from '../renderer/src/lib/knobs.js';
import { LabStore } from '../renderer/src/stores/lab.svelte.js';
import { SpecStore } from '../renderer/src/stores/spec.svelte.js';
import { RunStore } from '../renderer/src/stores/run.svelte.js';
import ParamPanel from '../renderer/src/components/ParamPanel.svelte';

type K = Partial<KnobInfo> & Pick<KnobInfo, 'section' | 'key' | 'kind' | 'label' | 'group'>;
function knob(k: K): KnobInfo {
  return { path: `${k.section}.${k.key}`, description: `${k.label}.`, live: true, default: k.kind === 'boolean' ? true : k.kind === 'enum' ? k.values![0]! : 0, ...k };
}

// A list shaped like listKnobs() answers (experiments/api/host.ts).
const KNOBS: KnobInfo[] = [
  knob({ section: 'transport', key: 'protocol', kind: 'enum', label: 'ARQ mode', group: 'transport', live: false, values: ['saw', 'gbn', 'sr'], default: 'sr' }),
  knob({ section: 'transport', key: 'windowPackets', kind: 'number', label: 'Window (packets)', group: 'transport', unit: 'count', min: 1, max: 16384, integer: true, default: 32 }),
  knob({ section: 'transport', key: 'sack', kind: 'boolean', label: 'Selective acknowledgments (SACK)', group: 'transport', default: true }),
  knob({ section: 'transport', key: 'verifyChecksum', kind: 'boolean', label: 'Verify checksums', group: 'transport', default: true }),
  knob({ section: 'transport', key: 'congestionControl', kind: 'enum', label: 'Congestion control', group: 'transport', values: ['off', 'aimd'], default: 'off' }),
  knob({ section: 'transport', key: 'rtoMode', kind: 'enum', label: 'RTO mode', group: 'timeouts', values: ['fixed', 'adaptive'], default: 'adaptive' }),
  knob({ section: 'transport', key: 'rtoMs', kind: 'number', label: 'Retransmission timeout (ms)', group: 'timeouts', unit: 'ms', min: 0.1, max: 600000, integer: false, default: 200 }),
  knob({ section: 'transport', key: 'maxRetransmissions', kind: 'number', label: 'Max retransmissions', group: 'timeouts', unit: 'count', min: 0, max: 1000, integer: true, default: 15 }),
  knob({ section: 'transport', key: 'rcvBufferBytes', kind: 'number', label: 'Receive buffer (bytes)', group: 'buffers', unit: 'bytes', min: 64, max: 67108864, integer: true, default: 262144 }),
  knob({ section: 'forward', key: 'lossProbability', kind: 'number', label: 'Loss probability', group: 'impairment', unit: 'probability', min: 0, max: 1, default: 0 }),
  knob({ section: 'forward', key: 'delayMs', kind: 'number', label: 'Delay (ms)', group: 'impairment', unit: 'ms', min: 0, max: 60000, default: 0 }),
  knob({ section: 'forward', key: 'queuePackets', kind: 'number', label: 'Queue limit (packets)', group: 'buffers', unit: 'count', min: 1, max: 1000000, integer: true, default: 1000 }),
  knob({ section: 'reverse', key: 'lossProbability', kind: 'number', label: 'Loss probability', group: 'impairment', unit: 'probability', min: 0, max: 1, default: 0 }),
  knob({ section: 'reverse', key: 'delayMs', kind: 'number', label: 'Delay (ms)', group: 'impairment', unit: 'ms', min: 0, max: 60000, default: 0 }),
  knob({ section: 'reverse', key: 'queuePackets', kind: 'number', label: 'Queue limit (packets)', group: 'buffers', unit: 'count', min: 1, max: 1000000, integer: true, default: 1000 }),
  knob({ section: 'socket', key: 'socketRcvBufBytes', kind: 'number', label: 'SO_RCVBUF (bytes)', group: 'buffers', live: false, unit: 'bytes', min: 0, max: 268435456, integer: true, default: 0 }),
  knob({ section: 'workload', key: 'kind', kind: 'enum', label: 'Workload', group: 'workload', live: false, values: ['udp-stream', 'bulk', 'messages', 'rpc'], default: 'bulk', workloads: ['udp-stream', 'bulk', 'messages', 'rpc'] }),
  knob({ section: 'workload', key: 'bytes', kind: 'number', label: 'Bytes to transfer', group: 'workload', live: false, unit: 'bytes', min: 1, max: 1e11, integer: true, default: 1000000, workloads: ['bulk', 'messages'] }),
  knob({ section: 'workload', key: 'ratePacketsPerSecond', kind: 'number', label: 'Send rate (packets/s)', group: 'workload', live: false, unit: 'count', min: 1, max: 1e7, default: 1000, workloads: ['udp-stream'] }),
  knob({ section: 'workload', key: 'rpcRetryMs', kind: 'number', label: 'RPC retransmission interval (ms)', group: 'workload', live: false, unit: 'ms', min: 0, max: 3600000, default: 1000, workloads: ['rpc'] }),
  knob({ section: 'sim', key: 'receiverPacketsPerSecond', kind: 'number', label: 'Simulated receiver speed (packets/s)', group: 'buffers', live: false, unit: 'count', min: 0, max: 1e8, default: 0 }),
];

const SPEC = JSON.stringify({
  name: 'demo',
  title: 'Demo',
  description: 'd',
  concepts: ['timeout-retry'],
  network: 'sim',
  preset: 'dsl',
  workload: { kind: 'bulk', bytes: 5000 },
  transport: { rtoMode: 'fixed', rtoMs: 40 },
  forward: { lossProbability: 0.05 },
  sweep: [{ knob: 'transport.windowPackets', values: [1, 2] }, { name: 'rto', points: [{ label: 'a', set: { 'transport.rtoMs': 20 } }] }],
});

describe('grouping', () => {
  const groups = groupKnobs(KNOBS);

  it('groups as Transport, Timeouts, Buffers, Impairment, Workload, and the reverse direction folded last', () => {
    expect(groups.map((g) => g.title)).toEqual(['Transport', 'Timeouts', 'Buffers', 'Impairment', 'Workload', 'Reverse direction (ACKs and replies)']);
    expect([...FOLDED_GROUPS]).toEqual(['reverse']);
    const transport = groups[0]!;
    expect(transport.subgroups).toHaveLength(1);
    expect(transport.subgroups[0]!.knobs.map((k) => k.label)).toEqual(['ARQ mode', 'Window (packets)', 'Selective acknowledgments (SACK)', 'Verify checksums', 'Congestion control']);
    expect(groups[1]!.subgroups[0]!.knobs.map((k) => k.key)).toEqual(['rtoMode', 'rtoMs', 'maxRetransmissions']);
  });

  it('puts the reverse direction in a group of its own, and splits buffers by where they are', () => {
    const imp = groups.find((g) => g.id === 'impairment')!;
    expect(imp.subgroups.map((s) => s.title)).toEqual([null]);
    expect(imp.subgroups[0]!.knobs.map((k) => k.path)).toEqual(['forward.lossProbability', 'forward.delayMs']);
    expect(groups.find((g) => g.id === 'reverse')!.subgroups[0]!.knobs.map((k) => k.path)).toEqual(['reverse.lossProbability', 'reverse.delayMs', 'reverse.queuePackets']);
    const buf = groups.find((g) => g.id === 'buffers')!;
    expect(buf.subgroups.map((s) => s.title)).toEqual(['Transport', 'Forward (data direction)', 'Sockets', 'Simulated receiver']);
  });

  it('keeps groups it does not know, after the others', () => {
    const g = groupKnobs([...KNOBS, knob({ section: 'x', key: 'y', kind: 'boolean', label: 'Y', group: 'extras' })]);
    expect(g.at(-1)!.title).toBe('Extras');
  });

  it('labels the reverse direction so that every control has its own name', () => {
    const names = KNOBS.map(knobLabel);
    expect(new Set(names).size).toBe(names.length);
    expect(knobLabel(KNOBS.find((k) => k.path === 'reverse.lossProbability')!)).toBe('Loss probability (reverse)');
  });

  it('shows only the workload knobs of the spec\'s workload', () => {
    const w = (key: string) => KNOBS.find((k) => k.path === `workload.${key}`)!;
    expect(knobApplies(w('bytes'), 'bulk')).toBe(true);
    expect(knobApplies(w('bytes'), 'udp-stream')).toBe(false);
    expect(knobApplies(w('ratePacketsPerSecond'), 'udp-stream')).toBe(true);
    expect(knobApplies(w('rpcRetryMs'), 'rpc')).toBe(true);
    expect(knobApplies(w('rpcRetryMs'), 'bulk')).toBe(false);
    expect(knobApplies(w('kind'), 'rpc')).toBe(true);
  });
});

describe('values and checks', () => {
  const k = (path: string) => KNOBS.find((x) => x.path === path)!;

  it('steps integers by 1, probabilities by 0.001, and anything else freely', () => {
    expect(knobStep(k('transport.windowPackets'))).toBe('1');
    expect(knobStep(k('forward.lossProbability'))).toBe('0.001');
    expect(knobStep(k('transport.rtoMs'))).toBe('any');
  });

  it('checks typed values against the range', () => {
    expect(checkKnobInput(k('transport.rtoMs'), '50')).toEqual({ ok: true, value: 50 });
    expect(checkKnobInput(k('transport.rtoMs'), '0.01')).toEqual({ ok: false, error: 'must be at least 0.1' });
    expect(checkKnobInput(k('transport.windowPackets'), '2.5')).toEqual({ ok: false, error: 'must be a whole number' });
    expect(checkKnobInput(k('forward.lossProbability'), '1.5')).toEqual({ ok: false, error: 'must be at most 1' });
    expect(checkKnobInput(k('forward.lossProbability'), '')).toEqual({ ok: false, error: 'a number is needed' });
    expect(checkKnobInput(k('transport.protocol'), 'gbn')).toEqual({ ok: true, value: 'gbn' });
    expect(checkKnobInput(k('transport.protocol'), 'tcp').ok).toBe(false);
    expect(checkKnobInput(k('transport.sack'), false)).toEqual({ ok: true, value: false });
  });

  it('reads a knob from its section, else the preset, else the default', () => {
    const spec = parseSpecJson(SPEC).spec;
    const presets = [{ name: 'dsl', label: 'DSL', description: '', set: { 'forward.delayMs': 15, 'forward.lossProbability': 0.5 } }];
    expect(specKnobValue(spec, k('transport.rtoMs'), presets)).toBe(40);
    expect(specKnobValue(spec, k('forward.lossProbability'), presets)).toBe(0.05);
    expect(specKnobValue(spec, k('forward.delayMs'), presets)).toBe(15);
    expect(specKnobValue(spec, k('reverse.delayMs'), presets)).toBe(0);
    expect(specKnobValue(null, k('transport.windowPackets'))).toBe(32);
    expect([...sweptKnobs(spec)].sort()).toEqual(['transport.rtoMs', 'transport.windowPackets']);
  });

  it('writes a knob into the spec, creating its section', () => {
    const out = setSpecKnob(SPEC, 'reverse.delayMs', 25);
    const o = JSON.parse(out);
    expect(o.reverse).toEqual({ delayMs: 25 });
    expect(o.transport).toEqual({ rtoMode: 'fixed', rtoMs: 40 });
    expect(Object.keys(o)).toEqual([...Object.keys(JSON.parse(SPEC)), 'reverse']);
    expect(() => setSpecKnob('{ not json', 'a.b', 1)).toThrow(/not valid JSON/);
  });
});

/** A fake lab that answers setKnob as told and the listing calls with fixtures. */
function fakeLab(setKnobAnswer: (path: string) => Result<null>) {
  return fakeApi({
    listLibrary: () => ({ ok: true, value: [] }),
    listKnobs: () => ({ ok: true, value: KNOBS }),
    listPresets: () => ({ ok: true, value: [{ name: 'dsl', label: 'DSL', description: 'an ADSL line', set: { 'forward.delayMs': 15, 'reverse.delayMs': 15 } }] }),
    listRuns: () => ({ ok: true, value: [] }),
    listPeers: () => ({ ok: true, value: [] }),
    validateSpec: () => ({ ok: true, value: { valid: true, problems: [], points: 2 } }),
    startRun: () => ({ ok: true, value: { runId: STARTED_RUN_ID } }),
    setKnob: (p: { path: string }) => setKnobAnswer(p.path),
  });
}

describe('ParamPanel', () => {
  function setup() {
    const fake = fakeLab((path) => (path === 'forward.lossProbability' ? { ok: false, error: 'setKnob: forward.lossProbability: must be at most 1' } : { ok: true, value: null }));
    const connection = { api: fake.api, onStatus: (l: (s: { state: 'open'; error: null }) => void) => (l({ state: 'open', error: null }), () => {}), close: () => {} };
    const lab = new LabStore(connection);
    const spec = new SpecStore(fake.api, 0);
    const run = new RunStore(fake.api);
    spec.load({ name: 'demo', text: SPEC });
    const target = document.createElement('div');
    document.body.append(target);
    const component = mount(ParamPanel, { target, props: { lab, spec, run } });
    const input = (label: string) => {
      const l = [...target.querySelectorAll('label')].find((x) => x.textContent?.trim() === label);
      if (l === undefined) throw new Error(`no label "${label}"`);
      return target.querySelector(`#${l.getAttribute('for')}`) as HTMLInputElement;
    };
    return { fake, lab, spec, run, target, component, input };
  }

  it('draws a labelled control per knob: spinbuttons with range and step, selects, checkboxes', async () => {
    const { target, input, component } = setup();
    await settle();
    expect([...target.querySelectorAll('h3')].map((h) => h.textContent)).toEqual(['Transport', 'Timeouts', 'Buffers', 'Impairment', 'Workload', 'Reverse direction (ACKs and replies)']);
    expect((target.querySelectorAll('details')[5] as HTMLDetailsElement).open).toBe(false);
    const rto = input('Retransmission timeout (ms)');
    expect(rto.type).toBe('number');
    expect(rto.value).toBe('40');
    expect(rto.min).toBe('0.1');
    expect(rto.max).toBe('600000');
    expect(rto.step).toBe('any');
    expect(input('ARQ mode').tagName).toBe('SELECT');
    expect(input('Loss probability (reverse)').step).toBe('0.001');
    const sack = target.querySelector('#knob-transport-sack') as HTMLInputElement;
    expect(sack.type).toBe('checkbox');
    expect(sack.closest('label')!.textContent!.trim()).toBe('Selective acknowledgments (SACK)');
    // A bulk workload: no UDP stream or RPC knobs.
    expect(target.textContent).toContain('Bytes to transfer');
    expect(target.textContent).not.toContain('Send rate (packets/s)');
    expect(target.textContent).toContain('swept: each sweep point sets its own value');
    unmount(component);
  });

  it('puts a change into the spec before a run, and refuses values out of range', async () => {
    const { spec, input, target, component, fake } = setup();
    await settle();
    const delay = input('Delay (ms) (reverse)');
    delay.value = '30';
    delay.dispatchEvent(new Event('change', { bubbles: true }));
    await settle();
    expect(JSON.parse(spec.text).reverse).toEqual({ delayMs: 30 });
    expect(input('Delay (ms) (reverse)').value).toBe('30');
    const loss = input('Loss probability');
    loss.value = '2';
    loss.dispatchEvent(new Event('change', { bubbles: true }));
    await settle();
    expect(target.querySelector('[role=alert]')!.textContent).toBe('Loss probability: must be at most 1');
    expect(JSON.parse(spec.text).forward.lossProbability).toBe(0.05);
    expect(fake.calls.some((c) => c.method === 'setKnob')).toBe(false);
    unmount(component);
  });

  it('locks the knobs a sweep sets while it runs, and opens them when one point is explored', async () => {
    const { spec, run, input, component, fake } = setup();
    await settle();
    await run.start(spec.text);
    fake.push(batch({ status: { state: 'running', reason: null, dir: '/tmp/r' } }));
    await settle();
    // The window is an axis; the RTO is set by the second axis's points.
    for (const label of ['Window (packets)', 'Retransmission timeout (ms)']) {
      expect(input(label).disabled, label).toBe(true);
      expect(input(label).closest('.knob')!.getAttribute('title')).toBe(`${label} is what this sweep varies: it cannot change by hand while the sweep runs. Explore one point to steer it.`);
    }
    expect(input('Max retransmissions').disabled).toBe(false);
    fake.push(batch({ status: { state: 'stopped', reason: 'stopped', dir: '/tmp/r' } }));
    await settle();
    await run.start(spec.text, { explore: 1 });
    expect(fake.calls.filter((c) => c.method === 'startRun').at(-1)!.params).toMatchObject({ explore: 1 });
    fake.push(batch({ status: { state: 'running', reason: null, dir: '/tmp/r' } }));
    await settle();
    expect(run.exploring).toBe(true);
    expect(input('Window (packets)').disabled).toBe(false);
    // The panel shows the explored point's values, not the spec's.
    fake.push(batch({ trial: { point: 1, repetition: 0, axes: { 'transport.windowPackets': 2 }, set: { 'transport.windowPackets': 2 }, trial: 1, trials: 1 } }));
    await settle();
    expect(input('Window (packets)').value).toBe('2');
    unmount(component);
  });

  it('during a run sends live changes to the run, disables the others with the reason, and shows refusals', async () => {
    const { spec, run, input, target, component, fake } = setup();
    await settle();
    await run.start(spec.text, { explore: 0 });
    fake.push(batch({ status: { state: 'running', reason: null, dir: '/tmp/r' } }));
    await settle();
    const arq = input('ARQ mode') as unknown as HTMLSelectElement;
    expect(arq.disabled).toBe(true);
    expect(arq.closest('.knob')!.getAttribute('title')).toMatch(/ARQ mode is set per trial and cannot change while a run goes/);
    const rto = input('Retransmission timeout (ms)');
    expect(rto.disabled).toBe(false);
    rto.value = '50';
    rto.dispatchEvent(new Event('change', { bubbles: true }));
    await settle();
    expect(fake.calls.filter((c) => c.method === 'setKnob').map((c) => c.params)).toEqual([{ runId: STARTED_RUN_ID, path: 'transport.rtoMs', value: 50 }]);
    // The spec is not touched by live changes.
    expect(JSON.parse(spec.text).transport.rtoMs).toBe(40);
    // The change comes back as an event and the control shows the value in force.
    fake.push(batch({ events: [{ point: 0, repetition: 0, timeS: 1.5, kind: 'set', knob: 'transport.rtoMs', label: 'Retransmission timeout (ms)', before: '40', after: '50', detail: 'user' }] }));
    await settle();
    expect(input('Retransmission timeout (ms)').value).toBe('50');
    expect(run.trial!.markers.map((m) => m.label)).toEqual(['Retransmission timeout (ms): 40 → 50']);
    // A refused change shows the lab's error and the control goes back.
    const loss = input('Loss probability');
    loss.value = '0.5';
    loss.dispatchEvent(new Event('change', { bubbles: true }));
    await settle();
    expect(target.querySelector('[role=alert]')!.textContent).toBe('setKnob: forward.lossProbability: must be at most 1');
    expect(input('Loss probability').value).toBe('0.05');
    unmount(component);
  });

  it('puts a link preset into the spec before a run, and applies its values live during one', async () => {
    const { spec, run, target, component, fake } = setup();
    await settle();
    const preset = target.querySelector('#link-preset') as HTMLSelectElement;
    expect(preset.closest('.preset')!.querySelector('label')!.textContent).toBe('Link preset');
    expect(preset.value).toBe('dsl');
    preset.value = '';
    preset.dispatchEvent(new Event('change', { bubbles: true }));
    await settle();
    expect(JSON.parse(spec.text).preset).toBeUndefined();
    preset.value = 'dsl';
    preset.dispatchEvent(new Event('change', { bubbles: true }));
    await settle();
    expect(JSON.parse(spec.text).preset).toBe('dsl');
    expect(target.textContent).toContain('an ADSL line');
    await run.start(spec.text);
    fake.push(batch({ status: { state: 'running', reason: null, dir: '/tmp/r' } }));
    await settle();
    expect(preset.value).toBe('');
    preset.value = 'dsl';
    preset.dispatchEvent(new Event('change', { bubbles: true }));
    await settle();
    expect(fake.calls.filter((c) => c.method === 'setKnob').map((c) => c.params)).toEqual([
      { runId: STARTED_RUN_ID, path: 'forward.delayMs', value: 15 },
      { runId: STARTED_RUN_ID, path: 'reverse.delayMs', value: 15 },
    ]);
    expect(target.textContent).toContain('DSL applied to the run.');
    unmount(component);
  });
});
