// The sans-IO listener against hostile and honest clients in virtual time. Every byte count comes
// from the simulator's record of the datagrams it moved, not from the listener's own counters.

import { describe, expect, it } from 'vitest';
import type { Endpoint } from '../core/endpoint.js';
import type { SessionFactory } from '../core/listener.js';
import { ConnectionSession } from '../core/apps/session.js';
import { Connection, type ReadSink } from '../core/transport/connection.js';
import { DEFAULT_TRANSPORT_CONFIG } from '../core/transport/config.js';
import { receiverConfig } from '../core/apps/services.js';
import { Service, encodeSynOptions } from '../core/wire/handshake.js';
import { StreamReceiver } from '../core/stream/receiver.js';
import { BulkReceiver } from '../core/apps/bulk.js';
import { ListenerBench, Scripted, bulkClient, reliableSyn, streamClient, streamSyn } from './helpers/listener-sim.js';

const HOUR_MS = 3_600_000;

/** Every address got at most three times the bytes it sent. */
function expectWithinThreeTimes(bench: ListenerBench): void {
  for (const [address, ratio] of bench.ratios()) expect(ratio, `address ${address}: ${JSON.stringify(bench.of(address))}`).toBeLessThanOrEqual(3);
}

describe('listener: replies are earned', () => {
  it('a lone reliable SYN gets at most three times its bytes back in an hour (SYN-ACK retransmissions included)', () => {
    const probe = new Scripted([{ atMs: 0, bytes: reliableSyn(7) }]);
    const bench = new ListenerBench([probe]);
    bench.run(HOUR_MS);
    expect(bench.of(0).toListener).toBe(60);
    expect(probe.types()[0]).toBe(4); // it did get its SYN-ACK
    expectWithinThreeTimes(bench);
  });

  it('a lone stream SYN asking for 10 ms reports gets at most three times its bytes back in an hour', () => {
    const probe = new Scripted([{ atMs: 0, bytes: streamSyn(7, 10) }]);
    const bench = new ListenerBench([probe]);
    bench.run(HOUR_MS);
    expect(bench.of(0).toListener).toBe(60);
    expect(probe.types()[0]).toBe(4);
    expectWithinThreeTimes(bench);
  });

  it('a SYN repeated from many ports of one address earns each port no more than its own bytes x 3', () => {
    const probes = Array.from({ length: 8 }, (_, i) => new Scripted([0, 1000, 2000].map((atMs) => ({ atMs: atMs + i, bytes: streamSyn(100 + i, 10) }))));
    const bench = new ListenerBench(probes);
    bench.run(600_000);
    expectWithinThreeTimes(bench);
  });

  it('a real transfer and a real stream beside the probes still complete, with their reports', () => {
    const probe = new Scripted([{ atMs: 0, bytes: streamSyn(7, 10) }, { atMs: 3, bytes: reliableSyn(8) }]);
    const bulk = bulkClient(3, 1_000_000, 3);
    const stream = streamClient(3, { ratePacketsPerSecond: 500, durationMs: 3000, reportIntervalMs: 100 }, 4);
    const bench = new ListenerBench([probe, bulk, stream]);
    bulk.start(0);
    stream.start(0);
    bench.run(60_000);
    expect(bulk.state).toBe('done');
    expect(bulk.matched).toBe(true);
    expect(stream.state).toBe('done');
    expect(stream.finalReport?.packetsReceived).toBe(1500);
    // One report per interval for 3 s, and the final one.
    expect(stream.counters.reportsReceived).toBeGreaterThanOrEqual(30);
    expect(bench.listener.counters.budgetDrops).toBeGreaterThan(0); // the probes' reports
    expectWithinThreeTimes(bench);
  });

  it('a peer that proved its address (it acknowledged the SYN-ACK) may get more than three times its bytes', () => {
    const replyBytes = 200_000;
    const bench = new ListenerBench([new Downloader(1)], {}, talkerFactory(replyBytes));
    (bench.clients[0] as Downloader).start(0);
    bench.run(60_000);
    expect((bench.clients[0] as Downloader).readBytes).toBe(replyBytes);
    expect(bench.of(0).fromListener).toBeGreaterThan(3 * bench.of(0).toListener);
    expect(bench.listener.counters.budgetDrops).toBe(0);
  });
});

/** A server session that writes `bytes` once the handshake completes, then closes. */
class Talker extends ConnectionSession {
  private wrote = false;
  constructor(
    conn: Connection,
    private readonly bytes: number,
  ) {
    super(conn);
  }
  protected consume(): void {
    while (this.conn.pollEvent() !== null);
    this.conn.read(DISCARD);
    if (!this.wrote && this.conn.state === 'established') {
      this.wrote = true;
      this.conn.sendMessage(new Uint8Array(this.bytes), this.bytes);
      this.conn.close();
    }
  }
}

const DISCARD: ReadSink = { onData() {} };

function talkerFactory(bytes: number): SessionFactory {
  return (ctx) => {
    const o = ctx.options;
    if (o.service === Service.STREAM) return { refuse: 'reliable only' };
    const conn = new Connection({ config: receiverConfig(DEFAULT_TRANSPORT_CONFIG, {}, o), role: 'server', connectionId: ctx.syn.connectionId, isn: ctx.rng.uint32() });
    conn.accept(ctx.now, ctx.syn.seq, ctx.syn.windowBytes);
    return new Talker(conn, bytes);
  };
}

/** A client that opens a reliable connection and reads everything the listener sends. */
class Downloader implements Endpoint {
  readonly conn = new Connection({ config: { ...DEFAULT_TRANSPORT_CONFIG }, role: 'client', connectionId: 77, isn: 1234 });
  readBytes = 0;
  private readonly sink: ReadSink = { onData: (_b, start, end) => void (this.readBytes += end - start) };
  constructor(readonly transmitTo: number) {}
  start(now: number): void {
    const c = DEFAULT_TRANSPORT_CONFIG;
    this.conn.connect(now, encodeSynOptions({ service: Service.RELIABLE, protocol: c.protocol, sack: c.sack, verifyChecksum: true, mssBytes: c.mssBytes, ackEveryPackets: c.ackEveryPackets, ackDelayMs: c.ackDelayMs, rcvBufferBytes: c.rcvBufferBytes, readRateBytesPerSecond: 0, verifyData: false }));
  }
  handleDatagram(now: number, bytes: Uint8Array): void {
    this.conn.handleDatagram(now, bytes);
    this.conn.read(this.sink);
    while (this.conn.pollEvent() !== null);
    if (this.conn.isPeerClosed && this.conn.state === 'established') this.conn.close();
  }
  handleTimeout(now: number): void {
    this.conn.handleTimeout(now);
  }
  pollTransmit(now: number): Uint8Array | null {
    return this.conn.pollTransmit(now);
  }
  pollTimeout(): number | null {
    return this.conn.pollTimeout();
  }
}

describe('listener: stream sessions end when their data stops', () => {
  it('a lone stream SYN holds its slot for the idle timeout, then the session ends saying why', () => {
    const probe = new Scripted([{ atMs: 0, bytes: streamSyn(7, 10) }]);
    const bench = new ListenerBench([probe]);
    bench.run(1900);
    expect(bench.listener.sessionCount).toBe(1);
    bench.run(2100);
    expect(bench.listener.sessionCount).toBe(0);
    const closed = bench.events.find((e) => e.type === 'session-closed');
    expect(closed?.session instanceof StreamReceiver && closed.session.failure).toBe('no data for 2000 ms: stream sessions end when their data stops');
    expectWithinThreeTimes(bench);
  });

  it('a stream whose sender goes away mid-stream ends too, and its reports stop', () => {
    const stream = streamClient(1, { ratePacketsPerSecond: 200, durationMs: 60_000, reportIntervalMs: 50 }, 5);
    const bench = new ListenerBench([stream], { streamIdleTimeoutMs: 500 });
    stream.start(0);
    bench.run(1000);
    const reportsBefore = stream.counters.reportsReceived;
    expect(reportsBefore).toBeGreaterThan(15);
    // The sender vanishes (crashed, or its address was forged): nothing more from it.
    stream.state = 'failed';
    bench.run(3000);
    // Four report intervals are 200 ms, below the 500 ms asked: 500 ms after the last datum.
    const closed = bench.events.find((e) => e.type === 'session-closed');
    expect(closed?.session instanceof StreamReceiver && closed.session.failure).toBe('no data for 500 ms: stream sessions end when their data stops');
    expect(stream.counters.reportsReceived - reportsBefore).toBeLessThanOrEqual(11);
    expect(bench.listener.sessionCount).toBe(0);
    expectWithinThreeTimes(bench);
  });

  it('a slow stream (one datagram a second) is not taken for a stopped one', () => {
    const stream = streamClient(1, { ratePacketsPerSecond: 1, durationMs: 10_000, reportIntervalMs: 100, datagramBytes: 200 }, 6);
    const bench = new ListenerBench([stream]);
    stream.start(0);
    bench.run(20_000);
    expect(stream.state).toBe('done');
    expect(stream.finalReport?.packetsReceived).toBe(10);
    expectWithinThreeTimes(bench);
  });
});

describe('listener: the shortest report interval', () => {
  it('a stream asking for reports every 10 ms gets them every 50 ms, and says so when it opens', () => {
    const stream = streamClient(1, { ratePacketsPerSecond: 500, durationMs: 2000, reportIntervalMs: 10 }, 8);
    const bench = new ListenerBench([stream]);
    stream.start(0);
    bench.run(10_000);
    expect(stream.state).toBe('done');
    expect(stream.finalReport?.packetsReceived).toBe(1000);
    // 2 s of reports every 50 ms, and the final one; every 10 ms would have been 200.
    expect(stream.counters.reportsReceived).toBeGreaterThanOrEqual(38);
    expect(stream.counters.reportsReceived).toBeLessThanOrEqual(43);
    const opened = bench.events.find((e) => e.type === 'session-opened');
    expect(opened?.type === 'session-opened' && opened.options.service === 2 && opened.options.reportIntervalMs).toBe(50);
    expect(opened?.type === 'session-opened' && opened.note).toBe("report interval raised from 10 ms to this listener's floor of 50 ms");
    expectWithinThreeTimes(bench);
  });

  it('the floor is a cap: a listener may lower it', () => {
    const stream = streamClient(1, { ratePacketsPerSecond: 500, durationMs: 1000, reportIntervalMs: 10 }, 9);
    const bench = new ListenerBench([stream], { minReportIntervalMs: 10 });
    stream.start(0);
    bench.run(10_000);
    expect(stream.counters.reportsReceived).toBeGreaterThanOrEqual(95);
  });
});

describe('listener: sessions per address', () => {
  it('sixteen SYNs from the ports of one address take four slots; a client from another address still gets in', () => {
    const probes = Array.from({ length: 16 }, (_, i) => new Scripted([{ atMs: i, bytes: i % 2 === 0 ? streamSyn(100 + i, 10) : reliableSyn(100 + i) }]));
    const bulk = bulkClient(17, 200_000, 10);
    const bench = new ListenerBench([...probes, bulk], {}, undefined, { ipOf: (c) => (c < 16 ? '10.0.0.66' : '10.0.0.7') });
    bulk.start(0);
    bench.run(1000);
    const opened = bench.events.filter((e) => e.type === 'session-opened');
    expect(opened.filter((e) => e.peer < 16)).toHaveLength(4);
    expect(opened.filter((e) => e.peer === 16)).toHaveLength(1);
    const refused = bench.events.filter((e) => e.type === 'refused');
    expect(refused).toHaveLength(12);
    for (const r of refused) expect(r.type === 'refused' && r.reason).toBe('4 sessions from this address are open, the most this listener allows per address');
    bench.run(60_000);
    expect(bulk.state).toBe('done');
    expect(bulk.matched).toBe(true);
    expectWithinThreeTimes(bench);
  });

  it('the limit is a cap, and a session that ends gives its slot back to its address', () => {
    const make = (seed: number) => streamClient(3, { ratePacketsPerSecond: 100, durationMs: 500, reportIntervalMs: 100 }, seed);
    const [first, second, third] = [make(11), make(12), make(13)];
    const bench = new ListenerBench([first, second, third], { maxSessionsPerAddress: 1 }, undefined, { ipOf: () => '10.0.0.8' });
    first.start(0);
    second.start(1);
    bench.run(400);
    expect(second.state).toBe('failed');
    expect(second.failure).toContain('1 session from this address is open, the most this listener allows per address');
    bench.run(5000);
    expect(first.state).toBe('done');
    expect(bench.listener.sessionCount).toBe(0);
    third.start(bench.sim.now);
    bench.run(15_000);
    expect(third.state).toBe('done');
  });
});

describe('listener: unfinished handshakes', () => {
  it('a lone reliable SYN holds its slot for 10 s, then the listener forgets it without a word', () => {
    const probe = new Scripted([{ atMs: 0, bytes: reliableSyn(7) }]);
    const bench = new ListenerBench([probe]);
    bench.run(10_000);
    expect(bench.listener.sessionCount).toBe(1);
    bench.run(10_100);
    expect(bench.listener.sessionCount).toBe(0);
    const closed = bench.events.find((e) => e.type === 'session-closed');
    expect(closed?.session instanceof BulkReceiver && closed.session.conn.failureReason).toBe('no answer to the SYN-ACK within 10 s: handshake timed out');
    bench.run(HOUR_MS);
    // SYN-ACKs only (no RST, no report): an address that never proved itself gets nothing else.
    expect(new Set(probe.types())).toEqual(new Set([4]));
    expectWithinThreeTimes(bench);
  });

  it('sixteen unfinished handshakes from sixteen addresses fill a listener for 10 s, not for 601', () => {
    const probes = Array.from({ length: 16 }, (_, i) => new Scripted([{ atMs: 0, bytes: reliableSyn(100 + i) }]));
    const early = bulkClient(18, 100_000, 14);
    const late = bulkClient(18, 100_000, 15);
    const bench = new ListenerBench([...probes, early, late]);
    bench.run(1000);
    early.start(bench.sim.now);
    bench.run(2000);
    expect(early.state).toBe('failed');
    expect(early.failure).toContain('listener is full (16 sessions)');
    bench.run(10_100);
    late.start(bench.sim.now);
    bench.run(70_000);
    expect(late.state).toBe('done');
    expect(late.matched).toBe(true);
    expectWithinThreeTimes(bench);
  });

  it('a client whose ACKs are lost until after the timeout gets its session back when one arrives', () => {
    const bulk = bulkClient(1, 300_000, 16);
    // The client's datagrams are lost from its first ACK (its SYN has passed) to 15 s: the listener
    // forgets the handshake at 10 s; the client, established, keeps retransmitting.
    const bench = new ListenerBench([bulk], {}, undefined, { lost: (from, _to, now) => from === 0 && now > 0 && now < 15_000 });
    bulk.start(0);
    bench.run(12_000);
    expect(bench.listener.sessionCount).toBe(0);
    bench.run(200_000);
    expect(bulk.state).toBe('done');
    expect(bulk.matched).toBe(true);
    expect(bench.listener.counters.handshakesRevived).toBe(1);
  });

  it('a client whose SYN-ACKs are lost for longer than the timeout connects with its next SYN', () => {
    const bulk = bulkClient(1, 300_000, 17);
    const bench = new ListenerBench([bulk], {}, undefined, { lost: (from, _to, now) => from === 1 && now < 30_000 });
    bulk.start(0);
    bench.run(200_000);
    expect(bulk.state).toBe('done');
    expect(bench.listener.counters.handshakesTimedOut).toBeGreaterThanOrEqual(1);
  });

  it('the timeout is a cap', () => {
    const probe = new Scripted([{ atMs: 0, bytes: reliableSyn(7) }]);
    const bench = new ListenerBench([probe], { handshakeTimeoutMs: 2000 });
    bench.run(2100);
    expect(bench.listener.sessionCount).toBe(0);
  });
});
