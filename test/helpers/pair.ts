// Two connections wired back to back in virtual time (quinn's tests/util.rs, h11's ConnectionPair):
// step() jumps to the earliest deadline; a filter decides each datagram's fate.

import { Connection, type ReadSink } from '../../core/transport/connection.js';
import { DEFAULT_TRANSPORT_CONFIG, type TransportConfig } from '../../core/transport/config.js';
import { parse, type Header } from '../../core/wire/packet.js';

export type Side = 'a' | 'b';
export type Fate = 'deliver' | 'drop' | { delayMs: number } | 'corrupt' | 'duplicate';

export interface Sent {
  at: number;
  from: Side;
  header: Header;
  length: number;
}

interface InFlight {
  at: number;
  order: number;
  to: Side;
  bytes: Uint8Array;
}

/** Collects everything read, message by message. */
export class Collector implements ReadSink {
  bytes: number[] = [];
  messages: Uint8Array[] = [];
  private current: number[] = [];
  onData(buf: Uint8Array, start: number, end: number, messageEnd: boolean): void {
    for (let i = start; i < end; i++) {
      this.bytes.push(buf[i]!);
      this.current.push(buf[i]!);
    }
    if (messageEnd) {
      this.messages.push(Uint8Array.from(this.current));
      this.current = [];
    }
  }
}

export class Pair {
  now = 0;
  readonly a: Connection;
  readonly b: Connection;
  readonly sent: Sent[] = [];
  latencyMs = 10;
  filter: (s: Sent, bytes: Uint8Array) => Fate = () => 'deliver';
  private flight: InFlight[] = [];
  private order = 0;
  private accepted = false;

  constructor(a: Partial<TransportConfig> = {}, b: Partial<TransportConfig> = a, isn: { a: number; b: number } = { a: 1000, b: 5000 }) {
    this.a = new Connection({ config: { ...DEFAULT_TRANSPORT_CONFIG, ...a }, role: 'client', connectionId: 42, isn: isn.a });
    this.b = new Connection({ config: { ...DEFAULT_TRANSPORT_CONFIG, ...b }, role: 'server', connectionId: 42, isn: isn.b });
  }

  connect(): void {
    this.a.connect(this.now, new Uint8Array(0));
  }

  private conn(s: Side): Connection {
    return s === 'a' ? this.a : this.b;
  }

  private flush(): void {
    for (const side of ['a', 'b'] as const) {
      const c = this.conn(side);
      for (let dg = c.pollTransmit(this.now); dg !== null; dg = c.pollTransmit(this.now)) {
        const bytes = dg.slice();
        const p = parse(bytes);
        if (!p.ok) throw new Error(`engine emitted a malformed datagram: ${p.error}`);
        const s: Sent = { at: this.now, from: side, header: p.header, length: bytes.length };
        this.sent.push(s);
        const fate = this.filter(s, bytes);
        const to: Side = side === 'a' ? 'b' : 'a';
        if (fate === 'drop') continue;
        if (fate === 'corrupt') bytes[bytes.length - 1] = bytes[bytes.length - 1]! ^ 0x01;
        const extra = typeof fate === 'object' ? fate.delayMs : 0;
        this.flight.push({ at: this.now + this.latencyMs + extra, order: this.order++, to, bytes });
        if (fate === 'duplicate') this.flight.push({ at: this.now + this.latencyMs, order: this.order++, to, bytes: bytes.slice() });
      }
    }
  }

  /** Advances to the next deadline and processes it; false when nothing is pending. */
  step(): boolean {
    this.flush();
    let next = Number.POSITIVE_INFINITY;
    for (const f of this.flight) next = Math.min(next, f.at);
    for (const c of [this.a, this.b]) {
      const t = c.pollTimeout();
      if (t !== null) next = Math.min(next, t);
    }
    if (next === Number.POSITIVE_INFINITY) return false;
    this.now = Math.max(this.now, next);
    const due = this.flight.filter((f) => f.at <= this.now).sort((x, y) => x.at - y.at || x.order - y.order);
    this.flight = this.flight.filter((f) => f.at > this.now);
    for (const f of due) {
      if (f.to === 'b' && !this.accepted) {
        const p = parse(f.bytes);
        if (p.ok && p.header.type === 3) {
          this.accepted = true;
          this.b.accept(this.now, p.header.seq, p.header.windowBytes);
        }
      }
      this.conn(f.to).handleDatagram(this.now, f.bytes);
    }
    for (const c of [this.a, this.b]) {
      const t = c.pollTimeout();
      if (t !== null && t <= this.now) c.handleTimeout(this.now);
    }
    this.flush();
    return true;
  }

  /** Steps at most n times; returns the steps taken. */
  driveBounded(n: number): number {
    let i = 0;
    while (i < n && this.step()) i++;
    return i;
  }

  /** Steps until pred holds; throws after maxSteps. */
  driveUntil(pred: () => boolean, maxSteps = 100_000): void {
    for (let i = 0; i < maxSteps; i++) {
      if (pred()) return;
      if (!this.step()) {
        if (pred()) return;
        throw new Error(`nothing pending at t=${this.now} and the condition does not hold`);
      }
    }
    throw new Error(`condition not reached in ${maxSteps} steps (t=${this.now})`);
  }

  /** Sent datagrams of one side and type. */
  sentBy(side: Side, type: number): Sent[] {
    return this.sent.filter((s) => s.from === side && s.header.type === type);
  }
}

/** Sends `data` from a to b as one stream, closes both ends, and reads it all at b into `sink`. */
export function transfer(p: Pair, data: Uint8Array, sink = new Collector()): Collector {
  let off = 0;
  p.driveUntil(() => {
    if (off < data.length) off += p.a.write(data, off, data.length);
    else p.a.close();
    p.b.read(sink);
    if (p.b.isPeerClosed) p.b.close();
    return p.a.isSendComplete && p.b.isPeerClosed;
  });
  return sink;
}
