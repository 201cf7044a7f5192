// Datagrams of a link's pool handed to a socket and not yet sent. Node completes a socket's sends in
// the order they were made (libuv sends at once only while its queue is empty, otherwise it
// queues), so each completion releases the oldest held buffer and the pool is reused without
// copies. Both drivers (core/udp/driver.ts, core/rpc/message-driver.ts) hold their sends here.

import type { Link } from '../impair/link.js';
import type { DriverCounters } from './driver.js';

/** Datagrams handed to the socket and not yet completed, at most (about 5 MB of 1200-byte datagrams). */
export const MAX_QUEUED_SENDS = 4096;

/** The link handles of sends in progress, oldest first. */
export class HeldSends {
  private held = new Int32Array(256);
  private head = 0;
  private count = 0;

  constructor(
    private readonly link: Link,
    private readonly counters: DriverCounters,
  ) {
    this.onSent = this.onSent.bind(this);
  }

  /**
   * Holds handle `h` until its send completes. When MAX_QUEUED_SENDS are held already, the kernel
   * and libuv hold that many of our datagrams: the send queue is full, so the datagram is dropped
   * (released and counted), as a full interface queue would, and false says not to send it.
   */
  hold(h: number): boolean {
    if (this.count >= MAX_QUEUED_SENDS) {
      this.counters.sendQueueDrops++;
      this.link.release(h);
      return false;
    }
    if (this.count === this.held.length) {
      const bigger = new Int32Array(this.held.length * 2);
      for (let i = 0; i < this.count; i++) bigger[i] = this.held[(this.head + i) % this.held.length]!;
      this.held = bigger;
      this.head = 0;
    }
    this.held[(this.head + this.count) % this.held.length] = h;
    this.count++;
    return true;
  }

  /** The socket's send callback: counts the send and releases the oldest held buffer. */
  onSent(err: Error | null): void {
    if (err !== null) {
      this.counters.sendErrors++;
      this.counters.lastSendError = err.message;
    } else {
      this.counters.sent++;
    }
    if (this.count === 0) return;
    this.link.release(this.held[this.head]!);
    this.head = (this.head + 1) % this.held.length;
    this.count--;
  }
}
