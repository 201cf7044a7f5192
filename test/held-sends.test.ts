import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { HeldSends, MAX_QUEUED_SENDS } from '../core/udp/held-sends.js';
import { DriverCounters, PeerTable } from '../core/udp/driver.js';
import { Link } from '../core/impair/link.js';
import { NO_IMPAIRMENT } from '../core/impair/config.js';

/**
 * A socket as libuv presents it: a send goes to the kernel at once unless the kernel's buffer is
 * full or sends are queued already; a queued send keeps a reference to the caller's bytes and reads
 * them only when it completes, in order.
 */
class FakeSocket {
  kernelFull = false;
  readonly wire: number[] = [];
  readonly queue: { data: Uint8Array; cb: ((err: Error | null) => void) | undefined }[] = [];
  callbacks = 0;
  getSendQueueCount?: () => number;
  constructor(withQueueCount: boolean) {
    if (withQueueCount) this.getSendQueueCount = () => this.queue.length;
  }
  send(data: Uint8Array, ...rest: unknown[]): void {
    const cb = rest.find((r) => typeof r === 'function') as ((err: Error | null) => void) | undefined;
    if (cb !== undefined) this.callbacks++;
    if (this.queue.length === 0 && !this.kernelFull) {
      this.wire.push(data[0]!);
      if (cb !== undefined) queueMicrotask(() => cb(null));
      return;
    }
    this.queue.push({ data, cb });
  }
  /** The kernel takes the oldest queued send. */
  complete(): void {
    const q = this.queue.shift()!;
    this.wire.push(q.data[0]!);
    q.cb?.(null);
  }
}

/** A transparent link that counts the handles out (delivered and not released) and fails on a double release. */
function countingLink(): Link & { out: Set<number> } {
  const link = new Link(NO_IMPAIRMENT, 1) as Link & { out: Set<number> };
  link.out = new Set();
  const release = link.release.bind(link);
  link.release = (h: number) => {
    if (!link.out.delete(h)) throw new Error(`handle ${h} released twice`);
    release(h);
  };
  return link;
}

/** Puts a one-byte datagram holding `v` through a transparent link; returns its handle. */
function delivered(link: Link & { out: Set<number> }, v: number): number {
  link.send(0, new Uint8Array([v, 0, 0, 0]), 1, 2);
  const h = link.pollDeliver(0);
  expect(h).toBeGreaterThanOrEqual(0);
  link.out.add(h);
  return h;
}

describe('HeldSends', () => {
  it('sends without a completion callback while the queue is empty and frees the buffer at once', () => {
    const link = countingLink();
    const sock = new FakeSocket(true);
    const counters = new DriverCounters();
    const held = new HeldSends({ link, counters, socket: sock, peers: new PeerTable() });
    for (let i = 0; i < 100; i++) held.send(delivered(link, i), 0, null);
    expect(sock.callbacks).toBe(0);
    expect(held.size).toBe(0);
    expect(link.out.size).toBe(0);
    expect(counters.sent).toBe(100);
    expect(sock.wire).toEqual(Array.from({ length: 100 }, (_, i) => i));
  });

  it('never reuses a buffer libuv still holds, whatever the order of sends, completions and reaps', async () => {
    await fc.assert(
      fc.asyncProperty(fc.boolean(), fc.array(fc.constantFrom('send', 'send', 'full', 'free', 'complete', 'reap'), { maxLength: 300 }), async (withQueueCount, ops) => {
        const link = countingLink();
        const sock = new FakeSocket(withQueueCount);
        const counters = new DriverCounters();
        const held = new HeldSends({ link, counters, socket: sock, peers: new PeerTable() });
        let next = 0;
        for (const op of ops) {
          if (op === 'send') held.send(delivered(link, next++ & 0xff), 0, null);
          else if (op === 'full') sock.kernelFull = true;
          else if (op === 'free') sock.kernelFull = false;
          else if (op === 'complete' && sock.queue.length > 0) sock.complete();
          else if (op === 'reap') held.reap();
          await Promise.resolve();
        }
        while (sock.queue.length > 0) sock.complete();
        await Promise.resolve();
        held.reap();
        // Every datagram reached the wire with its own bytes (a buffer reused too early would
        // carry a later datagram's value), and every buffer went back to the pool.
        expect(sock.wire).toEqual(Array.from({ length: next }, (_, i) => i & 0xff));
        expect(held.size).toBe(0);
        expect(link.out.size).toBe(0);
        expect(counters.sent).toBe(next);
      }),
      { numRuns: 300 },
    );
  });

  it('drops (and counts) a datagram once MAX_QUEUED_SENDS are queued', () => {
    const link = countingLink();
    const sock = new FakeSocket(true);
    const counters = new DriverCounters();
    const held = new HeldSends({ link, counters, socket: sock, peers: new PeerTable() });
    sock.kernelFull = true;
    for (let i = 0; i < MAX_QUEUED_SENDS + 3; i++) held.send(delivered(link, i & 0xff), 0, null);
    expect(held.size).toBe(MAX_QUEUED_SENDS);
    expect(counters.sendQueueDrops).toBe(3);
    expect(link.out.size).toBe(MAX_QUEUED_SENDS);
  });
});
