import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { HeldSends, MAX_QUEUED_SENDS, markSendsAtOnce, udpSocket } from '../net/udp/held-sends.js';
import { PeerTable } from '../net/udp/driver.js';
import { DriverCounters } from '../net/driver-loop.js';
import { Link } from '../core/impair/link.js';
import { NO_IMPAIRMENT } from '../core/impair/config.js';

/**
 * A socket as libuv presents it: a send goes to the kernel at once unless the kernel's buffer is
 * full or sends are queued already; a queued send keeps a reference to the caller's bytes and reads
 * them only when it completes, in order. As node:dgram with its default lookup, a send to an
 * address reaches libuv only on the next tick (dns.lookup answers even an IP address then), unless
 * the socket sends at once (as udpSocket()'s do).
 */
class FakeSocket {
  kernelFull = false;
  readonly wire: number[] = [];
  readonly queue: { data: Uint8Array; cb: ((err: Error | null) => void) | undefined }[] = [];
  callbacks = 0;
  getSendQueueCount?: () => number;
  constructor(
    withQueueCount: boolean,
    private readonly atOnce = false,
  ) {
    if (withQueueCount) this.getSendQueueCount = () => this.queue.length;
    if (atOnce) markSendsAtOnce(this);
  }
  send(data: Uint8Array, ...rest: unknown[]): void {
    const cb = rest.find((r) => typeof r === 'function') as ((err: Error | null) => void) | undefined;
    if (cb !== undefined) this.callbacks++;
    if (typeof rest[1] === 'string' && !this.atOnce) process.nextTick(() => this.toLibuv(data, cb));
    else this.toLibuv(data, cb);
  }
  private toLibuv(data: Uint8Array, cb: ((err: Error | null) => void) | undefined): void {
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

/** The peer id a connected FakeSocket is connected to. */
const PEER = 1;

/** HeldSends over `sock` on a counting link; a connected socket sends to PEER without an address. */
function harness(sock: FakeSocket, connected: boolean) {
  const link = countingLink();
  const counters = new DriverCounters();
  const held = new HeldSends({ link, counters, socket: sock, peers: new PeerTable(), connectedPeer: connected ? PEER : undefined });
  const send = (v: number) => (connected ? held.send(delivered(link, v), 0, null) : held.send(delivered(link, v), 9, '127.0.0.1'));
  return { link, counters, held, send };
}

describe('HeldSends', () => {
  it('sends without a completion callback while the queue is empty and frees the buffer at once', () => {
    for (const [sock, connected] of [
      [new FakeSocket(true), true],
      [new FakeSocket(true, true), false],
    ] as const) {
      const { link, counters, held, send } = harness(sock, connected);
      for (let i = 0; i < 100; i++) send(i);
      expect(sock.callbacks).toBe(0);
      expect(held.size).toBe(0);
      expect(link.out.size).toBe(0);
      expect(counters.sent).toBe(100);
      expect(sock.wire).toEqual(Array.from({ length: 100 }, (_, i) => i));
    }
  });

  it('never reuses a buffer libuv still holds, whatever the order of sends, completions and reaps', async () => {
    await fc.assert(
      // A socket is connected (its sends carry no address), or sends to addresses at once (as
      // udpSocket()'s) or a tick later (as node:dgram's with its default lookup).
      fc.asyncProperty(
        fc.boolean(),
        fc.constantFrom('connected', 'at once', 'next tick'),
        fc.array(fc.constantFrom('send', 'send', 'full', 'free', 'complete', 'reap'), { maxLength: 300 }),
        async (withQueueCount, kind, ops) => {
          const sock = new FakeSocket(withQueueCount, kind === 'at once');
          const { link, counters, held, send } = harness(sock, kind === 'connected');
          let next = 0;
          for (const op of ops) {
            if (op === 'send') send(next++ & 0xff);
            else if (op === 'full') sock.kernelFull = true;
            else if (op === 'free') sock.kernelFull = false;
            else if (op === 'complete' && sock.queue.length > 0) sock.complete();
            else if (op === 'reap') held.reap();
            await Promise.resolve();
          }
          await new Promise((r) => process.nextTick(r));
          while (sock.queue.length > 0) sock.complete();
          await Promise.resolve();
          held.reap();
          // Every datagram reached the wire with its own bytes (a buffer reused too early would
          // carry a later datagram's value), and every buffer went back to the pool.
          expect(sock.wire).toEqual(Array.from({ length: next }, (_, i) => i & 0xff));
          expect(held.size).toBe(0);
          expect(link.out.size).toBe(0);
          expect(counters.sent).toBe(next);
        },
      ),
      { numRuns: 300 },
    );
  });

  it('drops (and counts) a datagram once MAX_QUEUED_SENDS are queued', () => {
    const sock = new FakeSocket(true);
    const { link, counters, held, send } = harness(sock, true);
    sock.kernelFull = true;
    for (let i = 0; i < MAX_QUEUED_SENDS + 3; i++) send(i & 0xff);
    expect(held.size).toBe(MAX_QUEUED_SENDS);
    expect(counters.sendQueueDrops).toBe(3);
    expect(link.out.size).toBe(MAX_QUEUED_SENDS);
  });

  it("udpSocket()'s send to an IP address reaches the kernel before it returns: the caller may reuse the bytes at once", async () => {
    const [a, b] = [udpSocket('udp4'), udpSocket('udp4')];
    await Promise.all([a, b].map((s) => new Promise<void>((r) => s.bind(0, '127.0.0.1', () => r()))));
    const got = new Promise<number>((r) => b.once('message', (m) => r(m[0]!)));
    const bytes = new Uint8Array([7]);
    a.send(bytes, b.address().port, '127.0.0.1');
    bytes[0] = 9;
    expect(await got).toBe(7);
    a.close();
    b.close();
  });
});
