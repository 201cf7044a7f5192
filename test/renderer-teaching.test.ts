// @vitest-environment happy-dom
// Teaching mode in the renderer: the store's calls (start paused, pause, resume, step, speed,
// endpoint state, drop or corrupt, duplicate, delay a datagram) against a fake lab; the run
// store's paused state and count of actions by hand from the run's events; the endpoint state
// panel; the datagrams in flight in the ladder and their buttons; and "Replay with my drops" (the
// spec with those actions in its schedule).

import { describe, expect, it } from 'vitest';
import { flushSync, mount, unmount } from 'svelte';
import type { EndpointState, RunData, SimStateInfo } from '../experiments/api/contract.js';
import { fakeApi, settle } from './helpers/fake-api.js';
import { batch, startedRun, STARTED_RUN_ID } from './helpers/renderer-run.js';
import { ladderPacket } from './helpers/renderer-ladder.js';
import { RunStore } from '../renderer/src/stores/run.svelte.js';
import { SpecStore } from '../renderer/src/stores/spec.svelte.js';
import { SPEEDS, TeachStore } from '../renderer/src/stores/teach.svelte.js';
import { describeWindow, packetTimerText, timerText, windowCells } from '../renderer/src/lib/endpoint.js';
import { actionLabel, describeFlight, layoutLadder, type FlightAction, type FlightItem } from '../renderer/src/lib/ladder.js';
import { replaySpecText } from '../renderer/src/lib/replay.js';
import Teaching from '../renderer/src/components/Teaching.svelte';
import EndpointPanel from '../renderer/src/components/EndpointPanel.svelte';
import Ladder from '../renderer/src/components/Ladder.svelte';
import EventLog from '../renderer/src/components/EventLog.svelte';

const SIM_SPEC = '{"name":"teach","title":"Teach","network":"sim","transport":{"protocol":"gbn"}}';

function endpoint(e: Partial<EndpointState>): EndpointState {
  return {
    role: 'client',
    state: 'established',
    protocol: 'sr',
    sndUna: 100,
    sndNxt: 103,
    windowPackets: 6,
    inFlightPackets: 3,
    unacked: [
      { seq: 100, transmissions: 2, sentAtMs: 40, deadlineMs: 300, sacked: false, retransmitQueued: false },
      { seq: 101, transmissions: 1, sentAtMs: 40, deadlineMs: 240, sacked: true, retransmitQueued: false },
      { seq: 102, transmissions: 1, sentAtMs: 40, deadlineMs: 240, sacked: false, retransmitQueued: true },
    ],
    rcvNxt: 7,
    buffered: [],
    rcvBufferedBytes: 0,
    advertisedWindowBytes: 65536,
    peerWindowBytes: 65536,
    srttMs: 40,
    rttvarMs: 20,
    rtoMs: 200,
    cwndPackets: 10,
    ssthreshPackets: null,
    retransmitTimerMs: 240,
    ...e,
  };
}

const inFlight: FlightItem[] = [
  { direction: 'forward', index: 45, duplicate: false, sentAtS: 0.04, arriveAtS: 0.06, type: 'DATA', seq: 123, ack: 7 },
  { direction: 'reverse', index: 12, duplicate: false, sentAtS: 0.045, arriveAtS: 0.065, type: 'ACK', seq: 7, ack: 121 },
  { direction: 'forward', index: 46, duplicate: true, sentAtS: 0.05, arriveAtS: 0.07, type: 'DATA', seq: 124, ack: 7 },
];

function simState(timeS: number, events: number, o: Partial<SimStateInfo> = {}): SimStateInfo {
  return {
    timeS,
    events,
    workload: 'bulk',
    sender: endpoint({}),
    receiver: endpoint({ role: 'server', sndUna: 7, sndNxt: 7, unacked: [], rcvNxt: 101, buffered: [103, 104] }),
    inFlight,
    ...o,
  };
}

describe('TeachStore', () => {
  it('starts paused, waits for the trial, steps and reads the endpoints after each step', async () => {
    let stateCalls = 0;
    let events = 0;
    const fake = fakeApi({
      startRun: () => ({ ok: true, value: { runId: 'run-1' } }),
      // The first trial attaches a moment after the start.
      simState: () => (++stateCalls < 3 ? { ok: false, error: 'simState: no trial is running' } : { ok: true, value: simState(events / 1000, events) }),
      stepRun: (p: { steps?: number }) => ((events += p.steps ?? 1), { ok: true, value: null }),
      setSpeed: () => ({ ok: true, value: null }),
    });
    const run = new RunStore(fake.api);
    const teach = new TeachStore(fake.api, run, async () => {});
    expect(teach.enabled).toBe(false);
    expect(await teach.step()).toBe(false);
    // Real time unless the user picks another pace; a speed picked before the start goes with the start.
    expect(teach.startSpeed).toBe(1);
    expect(await teach.setSpeed('0.1')).toBe(true);
    expect(fake.methods()).toEqual([]);
    expect(await run.start(SIM_SPEC, { paused: true, speed: teach.startSpeed })).toBe(true);
    expect(fake.calls[0]).toEqual({ method: 'startRun', params: { text: SIM_SPEC, paused: true, speed: 0.1 } });
    expect(run.simulator).toBe(true);
    expect(run.paused).toBe(true);
    await teach.started();
    expect(fake.methods()).toEqual(['startRun', 'simState', 'simState', 'simState']);
    expect(teach.error).toBeNull();
    expect(teach.state!.events).toBe(0);

    expect(await teach.step()).toBe(true);
    expect(fake.calls.at(-2)).toEqual({ method: 'stepRun', params: { runId: 'run-1' } });
    expect(fake.calls.at(-1)!.method).toBe('simState');
    expect(teach.state!.events).toBe(1);
    expect(await teach.step(10)).toBe(true);
    expect(fake.calls.at(-2)).toEqual({ method: 'stepRun', params: { runId: 'run-1', steps: 10 } });
    expect(teach.state!.events).toBe(11);
    expect(await teach.setSpeed('max')).toBe(true);
    expect(fake.calls.at(-1)).toEqual({ method: 'setSpeed', params: { runId: 'run-1', speed: 'max' } });
  });

  it('pauses and resumes; the run store follows the pause and resume events; an action on a datagram is a call and an event', async () => {
    const { fake, run } = await startedRun(SIM_SPEC, {
      pauseRun: () => ({ ok: true, value: null }),
      resumeRun: () => ({ ok: true, value: null }),
      simState: () => ({ ok: true, value: simState(0.05, 20) }),
      packetAction: (p: { index: number }) => (p.index === 45 || p.index === 46 ? { ok: true, value: null } : { ok: false, error: `packetAction: no forward datagram #${p.index} is in flight` }),
    });
    const teach = new TeachStore(fake.api, run);
    expect(run.paused).toBe(false);
    expect(await teach.pause()).toBe(true);
    expect(run.paused).toBe(true);
    expect(teach.state!.timeS).toBe(0.05);
    expect(await teach.act(inFlight[0]!, 'drop')).toBe(true);
    const actions = () => fake.calls.filter((c) => c.method === 'packetAction').map((c) => c.params);
    expect(actions()[0]).toEqual({ runId: STARTED_RUN_ID, direction: 'forward', index: 45, action: 'drop' });
    // The state is read again after each action.
    expect(fake.methods().at(-1)).toBe('simState');
    expect(await teach.act(inFlight[2]!, 'corrupt')).toBe(true);
    expect(await teach.act(inFlight[0]!, 'duplicate')).toBe(true);
    expect(await teach.act(inFlight[0]!, 'delay', 250)).toBe(true);
    expect(actions().slice(1)).toEqual([
      { runId: STARTED_RUN_ID, direction: 'forward', index: 46, duplicate: true, action: 'corrupt' },
      { runId: STARTED_RUN_ID, direction: 'forward', index: 45, action: 'duplicate' },
      { runId: STARTED_RUN_ID, direction: 'forward', index: 45, action: 'delay', delayMs: 250 },
    ]);
    expect(await teach.act({ ...inFlight[0]!, index: 99 }, 'drop')).toBe(false);
    expect(teach.error).toBe('packetAction: no forward datagram #99 is in flight');
    teach.dismissError();
    fake.push(batch({ events: [{ point: 0, repetition: 0, timeS: 0.05, kind: 'packet', knob: 'forward.datagram', after: '45', detail: 'dropped by hand' }] }));
    expect(run.manualActions).toBe(1);
    expect(await teach.resume()).toBe(true);
    expect(run.paused).toBe(false);
    // Another window pauses the run: the pause event says so.
    fake.push(batch({ events: [{ point: 0, repetition: 0, timeS: 0.07, kind: 'pause', detail: 'paused' }] }));
    expect(run.paused).toBe(true);
    fake.push(batch({ events: [{ point: 0, repetition: 0, timeS: 0.07, kind: 'resume', detail: 'resumed' }] }));
    expect(run.paused).toBe(false);
    fake.push(batch({ status: { state: 'complete', reason: null, dir: '/r' } }));
    expect(teach.enabled).toBe(false);
    expect(run.paused).toBe(false);
    expect(run.manualActions).toBe(1);
  });

  it('stays off for runs that are not in the simulator', async () => {
    const { fake, run } = await startedRun(SIM_SPEC, {}, { network: 'loopback' });
    const teach = new TeachStore(fake.api, run);
    expect(run.simulator).toBe(false);
    expect(teach.enabled).toBe(false);
    expect(await teach.pause()).toBe(false);
    expect(fake.methods()).toEqual(['startRun']);
    // As the spec says: a spec without a network runs in the simulator.
    const other = new RunStore(fake.api);
    await other.start('{"name":"x","title":"X"}');
    expect(other.simulator).toBe(true);
  });

  it('offers every speed from 1/100 of real time to as fast as possible', () => {
    expect(SPEEDS.map((s) => s.label)).toEqual(['1/100 real time', '1/10 real time', '1/2 real time', '1x real time', '10x real time', '100x real time', 'As fast as possible']);
    expect(SPEEDS.filter((s) => s.value !== 'max').map((s) => Number(s.value))).toEqual([0.01, 0.1, 0.5, 1, 10, 100]);
  });
});

describe('replay with my drops', () => {
  const record = {
    id: 'run-7',
    spec: { name: 'teach', title: 'Teach', network: 'sim', seed: 5, repetitions: 1, schedule: [{ atS: 0.5, set: { 'forward.lossProbability': 0.1 } }] },
    points: [{ index: 0, axes: {} }],
    liveChanges: [
      { point: 0, repetition: 0, atS: 0.8, knob: 'packet', value: 12, source: 'user', packet: { direction: 'reverse', index: 12, duplicate: false, action: 'drop' } },
      { point: 0, repetition: 0, atS: 0.04, knob: 'packet', value: 3, source: 'user', packet: { direction: 'forward', index: 3, duplicate: true, action: 'corrupt' } },
      { point: 0, repetition: 0, atS: 0.6, knob: 'transport.rtoMs', value: 50, source: 'user' },
      { point: 0, repetition: 0, atS: 0.9, knob: 'packet', value: 20, source: 'user', packet: { direction: 'forward', index: 20, duplicate: false, action: 'delay', delayMs: 30 } },
    ],
  };

  it('adds the actions on datagrams (and knob changes) to the schedule in time order, in the simulator, with the same seed', () => {
    const out = replaySpecText(record);
    if (typeof out === 'string') throw new Error(out);
    expect(out).toMatchObject({ name: 'teach', packets: 3, changes: 1, trials: 1 });
    const spec = JSON.parse(out.text) as { seed: number; network: string; schedule: unknown[] };
    expect(spec.seed).toBe(5);
    expect(spec.network).toBe('sim');
    // What was done by hand in one trial replays in that trial only.
    const trial = { point: 0, repetition: 0 };
    expect(spec.schedule).toEqual([
      { atS: 0.04, packet: { direction: 'forward', index: 3, duplicate: true, action: 'corrupt' }, trial, note: 'corrupted by hand in run-7' },
      { atS: 0.5, set: { 'forward.lossProbability': 0.1 } },
      { atS: 0.6, set: { 'transport.rtoMs': 50 }, trial, note: 'changed by hand in run-7' },
      { atS: 0.8, packet: { direction: 'reverse', index: 12, duplicate: false, action: 'drop' }, trial, note: 'dropped by hand in run-7' },
      { atS: 0.9, packet: { direction: 'forward', index: 20, duplicate: false, action: 'delay', delayMs: 30 }, trial, note: 'delayed by hand in run-7' },
    ]);
    // The record is left as it was.
    expect(record.spec.schedule).toHaveLength(1);
  });

  it('says why there is nothing to replay', () => {
    expect(replaySpecText(null)).toBe("the run's record has no spec to replay");
    expect(replaySpecText({ ...record, liveChanges: [] })).toBe('the run has no datagrams dropped or changed by hand, and no replica failed by hand');
  });

  it('replays a replica failed by hand as a fault step, not as a knob', () => {
    const out = replaySpecText({ ...record, liveChanges: [{ point: 0, repetition: 0, atS: 1.5, knob: 'fault', value: 'replica2 crash', source: 'user', fault: { replica: 2, action: 'crash', memory: 'kept' } }] });
    if (typeof out === 'string') throw new Error(out);
    expect(out).toMatchObject({ packets: 0, faults: 1 });
    expect(JSON.parse(out.text).schedule).toContainEqual({ atS: 1.5, fault: { replica: 2, action: 'crash', memory: 'kept' }, trial: { point: 0, repetition: 0 }, note: 'caused by hand in run-7' });
  });

  it('takes the drops of runs recorded before actions had names', () => {
    const old = {
      id: 'run-3',
      spec: { name: 'old', title: 'Old', schedule: [{ atS: 0.1, set: {}, drop: { direction: 'forward', index: 1, duplicate: false } }] },
      liveChanges: [{ point: 0, repetition: 0, atS: 0.2, knob: 'drop', value: 4, source: 'user', drop: { direction: 'forward', index: 4, duplicate: false } }],
    };
    const out = replaySpecText(old);
    if (typeof out === 'string') throw new Error(out);
    expect(JSON.parse(out.text).schedule).toEqual([
      { atS: 0.1, set: {}, packet: { direction: 'forward', index: 1, duplicate: false, action: 'drop' } },
      { atS: 0.2, packet: { direction: 'forward', index: 4, duplicate: false, action: 'drop' }, trial: { point: 0, repetition: 0 }, note: 'dropped by hand in run-3' },
    ]);
  });

  it('loads the replay into the editor from the Teaching panel once the run has ended', async () => {
    const disk = { info: { id: STARTED_RUN_ID }, record: { ...record, id: STARTED_RUN_ID }, samples: { columns: [], rows: [] }, events: { columns: [], rows: [] }, summary: { columns: [], rows: [] }, packets: { columns: [], rows: [] } } as unknown as RunData;
    const fake = fakeApi({ startRun: () => ({ ok: true, value: { runId: STARTED_RUN_ID } }), openRun: () => ({ ok: true, value: disk }), validateSpec: () => ({ ok: true, value: { valid: true, problems: [], points: 1 } }) });
    const run = new RunStore(fake.api);
    const spec = new SpecStore(fake.api);
    const teach = new TeachStore(fake.api, run);
    const target = document.createElement('div');
    document.body.append(target);
    const c = mount(Teaching, { target, props: { run, teach, spec } });
    await run.start(SIM_SPEC);
    fake.push(batch({ events: [{ point: 0, repetition: 0, timeS: 0.04, kind: 'packet', knob: 'forward.datagram', after: '3', detail: 'corrupted by hand' }] }));
    flushSync();
    const replayButton = () => [...target.querySelectorAll('button')].find((b) => b.textContent === 'Replay with my drops');
    expect(replayButton()).toBeUndefined();
    fake.push(batch({ status: { state: 'complete', reason: null, dir: '/r' } }));
    flushSync();
    expect(target.textContent).toContain('This run had 1 datagram dropped or changed by hand.');
    replayButton()!.click();
    await settle();
    expect(fake.calls.find((x) => x.method === 'openRun')!.params).toEqual({ runId: STARTED_RUN_ID });
    expect(spec.source).toBe('teach');
    expect(JSON.parse(spec.text).schedule).toHaveLength(5);
    expect(target.querySelector('.note')!.textContent).toBe(`Loaded teach with 3 datagrams changed by hand and 1 knob change from ${STARTED_RUN_ID} in its schedule: press Start to replay it.`);
    unmount(c);
  });
});

describe('endpoint state', () => {
  it('lays out the send window: base, sent and waiting, SACKed, queued, usable', () => {
    const s = endpoint({});
    expect(windowCells(s).map((c) => [c.offset, c.status])).toEqual([
      [0, 'sent'],
      [1, 'sacked'],
      [2, 'queued'],
      [3, 'usable'],
      [4, 'usable'],
      [5, 'usable'],
    ]);
    expect(windowCells(s)[0]!.transmissions).toBe(2);
    expect(describeWindow(s)).toBe('Send window: base 100, next 103, 3 of 6 packets sent and not yet acknowledged (1 SACKed, 1 queued for retransmission).');
    // Across the wrap of the sequence space.
    const wrapped = windowCells(endpoint({ sndUna: 0xffffffff, sndNxt: 1, unacked: [], windowPackets: 4 }));
    expect(wrapped.map((c) => c.seq)).toEqual([0xffffffff, 0, 1, 2]);
    expect(wrapped.map((c) => c.status)).toEqual(['sent', 'sent', 'usable', 'usable']);
  });

  it("gives each packet's timer, or go-back-N's one timer on the oldest", () => {
    expect(timerText(240, 40)).toBe('200.0 ms');
    expect(timerText(40, 40)).toBe('due');
    expect(timerText(null, 40)).toBe('none');
    const gbn = endpoint({ unacked: endpoint({}).unacked.map((u) => ({ ...u, deadlineMs: null })) });
    expect(packetTimerText(gbn, 0, 40)).toBe('200.0 ms (the one timer)');
    expect(packetTimerText(gbn, 1, 40)).toBe('—');
    expect(packetTimerText(endpoint({}), 0, 100)).toBe('200.0 ms');
  });

  it('shows both endpoints in the panel', () => {
    const target = document.createElement('div');
    document.body.append(target);
    const c = mount(EndpointPanel, { target, props: { sim: simState(0.04, 20) } });
    flushSync();
    const text = target.textContent!.replace(/\s+/g, ' ');
    expect(target.querySelector('[data-testid=snd-una]')!.textContent).toBe('100');
    expect(target.querySelector('[data-testid=snd-nxt]')!.textContent).toBe('103');
    expect(target.querySelector('[data-testid=rcv-nxt]')!.textContent).toBe('101');
    expect(target.querySelector('[data-testid=rcv-buffered]')!.textContent).toBe('103, 104');
    expect(target.querySelector('svg[role=img]')!.getAttribute('aria-label')).toMatch(/^Send window: base 100, next 103/);
    expect(text).toContain('SRTT / RTTVAR / RTO40.0 ms / 20.0 ms / 200.0 ms');
    expect(text).toContain('cwnd / ssthresh10 / — packets');
    const rows = [...target.querySelectorAll('table.unacked tbody tr')].map((r) => [...r.querySelectorAll('td')].map((td) => td.textContent));
    expect(rows).toEqual([
      ['100', '2×', '260.0 ms', 'waiting'],
      ['101', '1×', '200.0 ms', 'SACKed'],
      ['102', '1×', '200.0 ms', 'to retransmit'],
    ]);
    expect(target.querySelector('table.unacked caption')!.textContent).toBe('Unacknowledged packets (3)');
    unmount(c);
  });
});

describe('datagrams in flight', () => {
  it('are named for their buttons and described in words', () => {
    expect(inFlight.map((f) => actionLabel(f, 'drop'))).toEqual(['Drop forward DATA seq 123 (#45)', 'Drop reverse ACK ack 121 (#12)', 'Drop forward DATA seq 124 (#46, duplicate copy)']);
    expect(actionLabel(inFlight[1]!, 'corrupt')).toBe('Corrupt reverse ACK ack 121 (#12)');
    expect(actionLabel(inFlight[0]!, 'duplicate')).toBe('Duplicate forward DATA seq 123 (#45)');
    expect(actionLabel(inFlight[0]!, 'delay', 250)).toBe('Delay forward DATA seq 123 (#45) by 250 ms');
    expect(describeFlight(inFlight[0]!)).toBe('DATA 123, sender to receiver, #45 on the link, sent at 40.0 ms, arrives at 60.0 ms');
  });

  it('are drawn from their sending up to where they are now', () => {
    const packets = [ladderPacket({ sentS: 0, arrivedS: 0.02, type: 'SYN', seq: 1 })];
    const l = layoutLadder(packets, { width: 500, height: 400, inFlight, nowS: 0.055 });
    expect(l.flights).toHaveLength(3);
    const [data, ack] = l.flights;
    expect(data!.x1).toBe(l.senderX);
    // Three quarters of the way: 15 of its 20 ms.
    expect(data!.x2).toBeCloseTo(l.senderX + (l.receiverX - l.senderX) * 0.75);
    expect(ack!.x1).toBe(l.receiverX);
    expect(ack!.x2).toBeCloseTo(l.receiverX - (l.receiverX - l.senderX) * 0.5);
    expect(data!.y2).toBeCloseTo(l.bottom);
    expect(l.toS).toBeCloseTo(0.055);
    expect(l.summary).toMatch(/ 3 in flight\.$/);
    // Without the time now, nothing is in flight.
    expect(layoutLadder(packets, { width: 500, height: 400, inFlight }).flights).toHaveLength(0);
  });

  it('are buttons in the "In flight" list (drop, corrupt, duplicate, delay), and clicks in the ladder that drop them', () => {
    const done: [number, FlightAction, number][] = [];
    const target = document.createElement('div');
    document.body.append(target);
    const c = mount(Ladder, { target, props: { packets: [], inFlight, nowS: 0.055, onAction: (f: FlightItem, a: FlightAction, ms: number) => done.push([f.index, a, ms]) } });
    flushSync();
    expect(target.querySelectorAll('g.flight')).toHaveLength(3);
    const toggle = [...target.querySelectorAll('button')].find((b) => b.textContent?.includes('datagrams in flight'))!;
    expect(toggle.getAttribute('aria-expanded')).toBe('false');
    toggle.click();
    flushSync();
    const button = (label: string) => target.querySelector(`#flight-list button[aria-label="${label}"]`) as HTMLButtonElement;
    expect(target.querySelectorAll('#flight-list li')).toHaveLength(3);
    expect([...target.querySelectorAll('#flight-list li')[0]!.querySelectorAll('button')].map((b) => b.getAttribute('aria-label'))).toEqual([
      'Drop forward DATA seq 123 (#45)',
      'Corrupt forward DATA seq 123 (#45)',
      'Duplicate forward DATA seq 123 (#45)',
      'Delay forward DATA seq 123 (#45) by 100 ms',
    ]);
    button('Drop reverse ACK ack 121 (#12)').click();
    button('Corrupt forward DATA seq 124 (#46, duplicate copy)').click();
    const delay = target.querySelector('label.delay input') as HTMLInputElement;
    delay.value = '40';
    delay.dispatchEvent(new Event('input', { bubbles: true }));
    flushSync();
    button('Delay forward DATA seq 123 (#45) by 40 ms').click();
    target.querySelector('g.flight')!.dispatchEvent(new MouseEvent('click', { bubbles: true }));
    expect(done).toEqual([
      [12, 'drop', 100],
      [46, 'corrupt', 100],
      [45, 'delay', 40],
      [45, 'drop', 40],
    ]);
    // A delay out of range is refused before any call.
    delay.value = '0';
    delay.dispatchEvent(new Event('input', { bubbles: true }));
    flushSync();
    expect(delay.getAttribute('aria-invalid')).toBe('true');
    expect(button('Delay forward DATA seq 123 (#45) by 0 ms').disabled).toBe(true);
    unmount(c);

    // Without a drop handler (not paused) the ladder has no "In flight" part.
    const c2 = mount(Ladder, { target, props: { packets: [] } });
    flushSync();
    expect([...target.querySelectorAll('button')].some((b) => b.textContent?.includes('datagrams in flight'))).toBe(false);
    unmount(c2);
  });
});

describe('Teaching panel', () => {
  it('enables its controls for a paused simulator run only, shows the clock and the endpoints', async () => {
    const fake = fakeApi({
      startRun: () => ({ ok: true, value: { runId: 'run-1' } }),
      simState: () => ({ ok: true, value: simState(0.125, 42) }),
      stepRun: () => ({ ok: true, value: null }),
      resumeRun: () => ({ ok: true, value: null }),
      setSpeed: () => ({ ok: true, value: null }),
    });
    const run = new RunStore(fake.api);
    const teach = new TeachStore(fake.api, run);
    const spec = new SpecStore(fake.api);
    const target = document.createElement('div');
    document.body.append(target);
    const c = mount(Teaching, { target, props: { run, teach, spec } });
    flushSync();
    const button = (name: string) => [...target.querySelectorAll('button')].find((b) => b.textContent === name) as HTMLButtonElement;
    for (const b of ['Pause', 'Resume', 'Step', 'Step 10']) expect(button(b).disabled).toBe(true);
    expect(target.textContent).toContain('Teaching mode works on simulator runs');
    const speed = target.querySelector('select') as HTMLSelectElement;
    expect(speed.closest('label')!.textContent).toContain('Speed');
    expect(speed.value).toBe('1');

    await run.start(SIM_SPEC, { paused: true });
    await teach.started();
    flushSync();
    expect(button('Pause').disabled).toBe(true);
    expect(button('Resume').disabled).toBe(false);
    expect(button('Step').disabled).toBe(false);
    expect(target.querySelector('[data-testid=sim-clock]')!.textContent!.replace(/\s+/g, ' ').trim()).toBe('Paused · Virtual time 0.125 s · 42 events');
    expect(target.querySelector('[data-testid=endpoint-state]')).not.toBeNull();
    button('Step 10').click();
    await settle();
    expect(fake.calls.find((x) => x.method === 'stepRun')!.params).toEqual({ runId: 'run-1', steps: 10 });
    speed.value = '0.01';
    speed.dispatchEvent(new Event('change', { bubbles: true }));
    await settle();
    expect(fake.calls.find((x) => x.method === 'setSpeed')!.params).toEqual({ runId: 'run-1', speed: 0.01 });
    button('Resume').click();
    await settle();
    expect(button('Pause').disabled).toBe(false);
    expect(button('Step').disabled).toBe(true);
    expect(target.querySelector('[data-testid=endpoint-state]')).toBeNull();
    unmount(c);
  });

  it('logs steps and actions by hand in words', async () => {
    const { fake, run } = await startedRun(SIM_SPEC, {}, { paused: true });
    const target = document.createElement('div');
    document.body.append(target);
    const c = mount(EventLog, { target, props: { run } });
    fake.push(
      batch({
        events: [
          { point: 0, repetition: 0, timeS: 0.04, kind: 'step', detail: 'host 0 sends DATA seq 123 to host 1' },
          { point: 0, repetition: 0, timeS: 0.05, kind: 'packet', knob: 'forward.datagram', after: '45', detail: 'dropped by hand' },
          { point: 0, repetition: 0, timeS: 0.06, kind: 'packet', knob: 'reverse.datagram', after: '12', detail: 'delayed by 100 ms by hand' },
        ],
      }),
    );
    flushSync();
    const items = [...target.querySelectorAll('li .text')].map((t) => t.textContent);
    expect(items).toEqual(['reverse datagram #12 delayed by 100 ms by hand', 'forward datagram #45 dropped by hand', 'step: host 0 sends DATA seq 123 to host 1']);
    unmount(c);
  });
});
