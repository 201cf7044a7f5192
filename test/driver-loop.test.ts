// The loop both socket drivers run on (net/driver-loop.ts), with a scripted endpoint, a recording
// socket and fake timers: the clock is Date.now under vitest's fake timers, so nothing here waits.

import { EventEmitter } from 'node:events';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { Endpoint } from '../core/endpoint.js';
import { Link } from '../core/impair/link.js';
import { NO_IMPAIRMENT } from '../core/impair/config.js';
import { DriverLoop, type DriverLoopOptions } from '../net/driver-loop.js';
import { markSendsAtOnce } from '../net/udp/held-sends.js';

/** An endpoint whose deadline and outgoing datagrams the test sets, recording what it is given. */
class ScriptedEndpoint implements Endpoint {
  deadline: number | null = null;
  readonly outbox: { bytes: Uint8Array; to: number }[] = [];
  readonly timeouts: number[] = [];
  readonly received: { now: number; bytes: Uint8Array; from: number }[] = [];
  transmitTo = -1;
  handleDatagram(now: number, bytes: Uint8Array, from: number): void {
    this.received.push({ now, bytes, from });
  }
  handleTimeout(now: number): void {
    this.timeouts.push(now);
    this.deadline = null;
  }
  pollTransmit(): Uint8Array | null {
    const d = this.outbox.shift();
    if (d === undefined) return null;
    this.transmitTo = d.to;
    return d.bytes;
  }
  pollTimeout(): number | null {
    return this.deadline;
  }
}

/** A socket whose sends reach the kernel at once (no completion callbacks), recording each. */
class RecordingSocket extends EventEmitter {
  readonly sent: { data: Uint8Array; port: number | undefined; address: string | undefined }[] = [];
  constructor() {
    super();
    markSendsAtOnce(this);
  }
  send(data: Uint8Array, port?: unknown, address?: unknown): void {
    this.sent.push({ data, port: port as number | undefined, address: address as string | undefined });
  }
  getSendQueueCount(): number {
    return 0;
  }
}

const PEER = 1;
const peers = { address: (id: number) => (id === PEER ? { address: '192.0.2.1', port: 9 } : undefined) };

function setup(o: Partial<DriverLoopOptions> = {}): { loop: DriverLoop; ep: ScriptedEndpoint; socket: RecordingSocket; progress: number[] } {
  const ep = new ScriptedEndpoint();
  const socket = new RecordingSocket();
  const progress: number[] = [];
  const loop = new DriverLoop({
    socket,
    endpoint: ep,
    peers,
    onMessage: () => {},
    egress: new Link(NO_IMPAIRMENT, 1),
    ingress: null,
    clock: () => Date.now(),
    onProgress: (now) => progress.push(now),
    ...o,
  });
  return { loop, ep, socket, progress };
}

describe('DriverLoop', () => {
  beforeEach(() => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'setImmediate', 'clearImmediate', 'Date'] });
    vi.setSystemTime(0);
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('serves the earliest deadline with one timer, re-armed only when a deadline comes earlier', () => {
    const { loop, ep } = setup();
    const arm = vi.spyOn(globalThis, 'setTimeout');
    ep.deadline = 100;
    loop.start();
    expect(arm).toHaveBeenCalledTimes(1);
    // Later deadlines keep the armed timer: it re-plans when it fires.
    for (const later of [150, 200, 300]) {
      ep.deadline = later;
      loop.kick();
    }
    expect(arm).toHaveBeenCalledTimes(1);
    expect(vi.getTimerCount()).toBe(1);
    // An earlier one replaces it.
    ep.deadline = 50;
    loop.kick();
    expect(arm).toHaveBeenCalledTimes(2);
    expect(vi.getTimerCount()).toBe(1);
    vi.advanceTimersByTime(49);
    expect(ep.timeouts).toEqual([]);
    vi.advanceTimersByTime(1);
    expect(ep.timeouts).toEqual([50]);
    // With no deadline left, nothing is armed.
    expect(vi.getTimerCount()).toBe(0);
    // A timer that fires before the deadline re-plans for it.
    ep.deadline = 300;
    loop.kick();
    ep.deadline = 400;
    vi.advanceTimersByTime(250);
    expect(ep.timeouts).toEqual([50]);
    expect(vi.getTimerCount()).toBe(1);
    vi.advanceTimersByTime(100);
    expect(ep.timeouts).toEqual([50, 400]);
    loop.stop();
  });

  it('serves a deadline less than a millisecond away in the check phase, without a timer', () => {
    const { loop, ep } = setup();
    const arm = vi.spyOn(globalThis, 'setTimeout');
    loop.start();
    ep.deadline = Date.now() + 0.5;
    loop.kick();
    expect(arm).not.toHaveBeenCalled();
    vi.setSystemTime(1);
    vi.runOnlyPendingTimers();
    expect(ep.timeouts).toEqual([1]);
    loop.stop();
  });

  it('works once for a burst of datagrams when asked to work soon for each', () => {
    const { loop, ep, progress } = setup();
    loop.start();
    progress.length = 0;
    for (let i = 0; i < 5; i++) {
      expect(loop.receive(Date.now(), Uint8Array.of(i), PEER)).toBe(true);
      loop.workSoon();
    }
    expect(ep.received.map((r) => r.bytes[0])).toEqual([0, 1, 2, 3, 4]);
    expect(progress).toEqual([]);
    vi.runOnlyPendingTimers();
    expect(progress).toEqual([0]);
    expect(loop.counters.received).toBe(5);
    loop.stop();
  });

  it('counts and drops a datagram from an address without a peer id', () => {
    const { loop, ep } = setup();
    expect(loop.receive(0, Uint8Array.of(1), -1)).toBe(false);
    expect(loop.counters.received).toBe(1);
    expect(loop.counters.unknownPeers).toBe(1);
    expect(ep.received).toEqual([]);
  });

  it('sends at most 256 datagrams a turn and comes back at once for the rest', () => {
    const { loop, ep, socket } = setup();
    for (let i = 0; i < 600; i++) ep.outbox.push({ bytes: Uint8Array.of(i & 0xff), to: PEER });
    loop.start();
    expect(socket.sent.length).toBe(256);
    vi.runOnlyPendingTimers();
    expect(socket.sent.length).toBe(512);
    vi.runOnlyPendingTimers();
    expect(socket.sent.length).toBe(600);
    expect(loop.counters.sent).toBe(600);
    expect(socket.sent[0]).toMatchObject({ port: 9, address: '192.0.2.1' });
    loop.stop();
  });

  it('counts a datagram that skips a transparent link on that link, and copies it unless the endpoint keeps it', () => {
    for (const stableOutput of [true, false]) {
      const ingress = new Link(NO_IMPAIRMENT, 2);
      const { loop, ep, socket } = setup({ ingress, egressBypass: () => true, ingressBypass: () => true, stableOutput });
      const out = Uint8Array.of(1, 2, 3);
      ep.outbox.push({ bytes: out, to: PEER });
      loop.start();
      expect(socket.sent.length).toBe(1);
      expect(socket.sent[0]!.data === out).toBe(stableOutput);
      expect(Array.from(socket.sent[0]!.data)).toEqual([1, 2, 3]);
      expect(loop.egress.counters).toMatchObject({ offeredPackets: 1, offeredBytes: 3, deliveredPackets: 1, deliveredBytes: 3 });
      const incoming = Uint8Array.of(4, 5);
      loop.receive(0, incoming, PEER);
      // Skipping the link, the datagram reaches the endpoint before receive() returns.
      expect(ep.received).toEqual([{ now: 0, bytes: incoming, from: PEER }]);
      expect(ingress.counters).toMatchObject({ offeredPackets: 1, offeredBytes: 2, deliveredPackets: 1, deliveredBytes: 2 });
      loop.stop();
    }
  });

  it('stops: the timer is cleared, the socket is let go and kick() does nothing', () => {
    const { loop, ep, socket, progress } = setup();
    ep.deadline = 100;
    loop.start();
    expect(socket.listenerCount('message')).toBe(1);
    expect(socket.listenerCount('error')).toBe(1);
    loop.stop();
    expect(loop.stopped).toBe(true);
    expect(vi.getTimerCount()).toBe(0);
    expect(socket.listenerCount('message')).toBe(0);
    expect(socket.listenerCount('error')).toBe(0);
    const runs = progress.length;
    loop.kick();
    vi.advanceTimersByTime(200);
    expect(progress.length).toBe(runs);
    expect(ep.timeouts).toEqual([]);
  });

  it('counts socket errors and passes them on', () => {
    const seen: string[] = [];
    const { loop, socket } = setup({ onSocketError: (err) => seen.push(err.message) });
    loop.start();
    socket.emit('error', new Error('ECONNREFUSED'));
    expect(loop.counters).toMatchObject({ socketErrors: 1, lastSocketError: 'ECONNREFUSED' });
    expect(seen).toEqual(['ECONNREFUSED']);
    loop.stop();
  });
});
