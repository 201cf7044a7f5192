import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { Capture, MIN_CAPTURE_BYTES, type PacketLogEntry } from '../core/capture/capture.js';
import { describeDrop } from '../core/capture/annotate.js';
import { MemorySink } from '../core/capture/sink.js';
import { EpbDirection, Opt, optionNumber, optionText, readPcapng, type PcapngBlock } from '../core/capture/pcapng.js';
import { SIM_CLIENT_ADDRESS, SIM_LISTENER_ADDRESS } from '../core/capture/runs.js';
import { NO_IMPAIRMENT, type ImpairmentConfig } from '../core/impair/config.js';
import { DeliveryFlag, Link } from '../core/impair/link.js';
import { runSimTransfer } from '../workloads/transfer/sim-transfer.js';
import { runUdpTransfer } from '../workloads/transfer/udp-transfer.js';
import { runSimStream, runUdpStream } from '../workloads/stream/run.js';
import type { TransferSetup } from '../core/transfer/setup.js';
import { transferSetup } from './helpers/transfer-setup.js';
import { PacketType, emit } from '../core/wire/packet.js';

type Epb = Extract<PcapngBlock, { type: 'epb' }>;

function epbs(bytes: Uint8Array): Epb[] {
  const r = readPcapng(bytes);
  expect(r.ok, r.ok ? '' : r.error).toBe(true);
  return r.blocks.filter((b): b is Epb => b.type === 'epb');
}

function logOf(sink: MemorySink): PacketLogEntry[] {
  return sink
    .text()
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => JSON.parse(l) as PacketLogEntry);
}

/** A capture on one link from host 0 (10.0.0.1:40000) to host 1 (10.0.0.2:9000). */
function linkCapture(cfg: Partial<ImpairmentConfig>, seed = 1, maxBytes = 0) {
  const pcap = new MemorySink();
  const log = new MemorySink();
  const capture = new Capture({ pcap, log, maxBytes });
  capture.setEndpoint(0, SIM_CLIENT_ADDRESS);
  capture.setEndpoint(1, SIM_LISTENER_ADDRESS);
  const link = new Link({ ...NO_IMPAIRMENT, ...cfg }, seed);
  capture.attachLink(link, { name: 'forward', direction: 'outbound' });
  const delivered: Uint8Array[] = [];
  const drain = (now: number) => {
    for (let h = link.pollDeliver(now); h >= 0; h = link.pollDeliver(now)) {
      delivered.push(link.data(h).slice());
      link.release(h);
    }
  };
  return { pcap, log, capture, link, delivered, drain };
}

function datagram(seq: number, payloadBytes = 100): Uint8Array {
  const payload = new Uint8Array(payloadBytes).map((_, i) => (i * 7 + seq) & 0xff);
  return emit({ type: PacketType.DATA, flags: 1, connectionId: 0xabc, seq, ack: 7, windowBytes: 1000, tsVal: 1, tsEcr: 2, sackCount: 0, sack: [] }, payload);
}

describe('link tracer', () => {
  it('reports exactly the bits that differ in a corrupted copy', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 0x7fffffff }), fc.integer({ min: 1, max: 64 }), fc.integer({ min: 36, max: 400 }), (seed, bits, len) => {
        const link = new Link({ ...NO_IMPAIRMENT, corruptProbability: 1, corruptBits: bits, delayMs: 1 }, seed);
        const seen: { flags: number; flipped: readonly number[] | null; bytes: Uint8Array }[] = [];
        link.tracer = { dropped: () => {}, delivered: (_n, b, _f, _t, _s, flags, flipped) => seen.push({ flags, flipped, bytes: b.slice() }) };
        const sent = new Uint8Array(len).map((_, i) => (i * 31 + seed) & 0xff);
        link.send(0, sent, 0, 1);
        for (let h = link.pollDeliver(1); h >= 0; h = link.pollDeliver(1)) link.release(h);
        expect(seen.length).toBe(1);
        const diff: number[] = [];
        for (let i = 0; i < len * 8; i++) if (((sent[i >> 3]! ^ seen[0]!.bytes[i >> 3]!) >> (i & 7)) & 1) diff.push(i);
        expect(seen[0]!.flags & DeliveryFlag.CORRUPTED).toBe(DeliveryFlag.CORRUPTED);
        expect(seen[0]!.flipped).toEqual(diff);
        expect(diff.length).toBeLessThanOrEqual(bits);
      }),
      { numRuns: 200 },
    );
  });

  it('never hands a tracer attached late the bits of another datagram', () => {
    const link = new Link({ ...NO_IMPAIRMENT, corruptProbability: 1, corruptBits: 3, delayMs: 5 }, 9);
    const got: (readonly number[] | null)[] = [];
    const tracer = { dropped: () => {}, delivered: (_n: number, _b: Uint8Array, _f: number, _t: number, _s: number, _fl: number, flipped: readonly number[] | null) => got.push(flipped) };
    // Traced at send, delivered untraced: the slot's entry is left behind...
    link.tracer = tracer;
    link.send(0, new Uint8Array(100), 0, 1);
    link.tracer = null;
    for (let h = link.pollDeliver(5); h >= 0; h = link.pollDeliver(5)) link.release(h);
    // ...and must not be read for the next datagram in that slot, corrupted while untraced.
    link.send(10, new Uint8Array(100), 0, 1);
    link.tracer = tracer;
    for (let h = link.pollDeliver(15); h >= 0; h = link.pollDeliver(15)) link.release(h);
    expect(got).toEqual([null]);
  });
});

describe('capture annotations', () => {
  it('keeps and explains every drop reason', () => {
    const cases: [Partial<ImpairmentConfig>, number, string][] = [
      [{ lossProbability: 1 }, 1, 'dropped: random loss (Bernoulli p=1)'],
      [{ mtuBytes: 100 }, 1, 'dropped: longer than the MTU (164 bytes with IP and UDP headers > MTU 100)'],
      [{ burstEnterProbability: 1, burstExitProbability: 0, burstLossBad: 1 }, 2, 'dropped: burst loss (Gilbert-Elliott p=1 r=0, loss 100% bad / 0% good)'],
      [{ rateBitsPerSecond: 8000, queuePackets: 1 }, 3, 'dropped: bottleneck queue full (1 packet at 8.00 kbit/s)'],
    ];
    for (const [cfg, sends, comment] of cases) {
      const t = linkCapture(cfg);
      for (let i = 0; i < sends; i++) t.link.send(0, datagram(i), 0, 1);
      t.drain(1e9);
      t.capture.close();
      const log = logOf(t.log);
      const frames = epbs(t.pcap.bytes());
      expect(frames.length).toBe(sends);
      const dropped = log.filter((e) => e.fate === 'dropped');
      expect(dropped.length, comment).toBeGreaterThan(0);
      for (const e of dropped) {
        expect(e.comment).toBe(comment);
        expect(optionText(frames[e.frame - 1]!.options, Opt.COMMENT)).toBe(comment);
        expect(e.timeMs).toBe(0);
        // The dropped datagram is in the file whole: its bytes are the ones offered.
        expect(Buffer.from(frames[e.frame - 1]!.data.subarray(28)).equals(Buffer.from(datagram(e.lab!.seq)))).toBe(true);
      }
    }
  });

  it('records a datagram dropped by hand in flight as sent when it was sent, dropped when it would have arrived', () => {
    const t = linkCapture({ delayMs: 5 });
    t.link.send(1, datagram(3), 0, 1);
    expect(t.link.dropInFlight(0)).toBe(true);
    t.drain(6);
    t.capture.close();
    const [e] = logOf(t.log);
    expect([e!.fate, e!.dropReason, e!.timeMs, e!.sentAtMs]).toEqual(['dropped', 'manual', 6, 1]);
    expect(t.delivered).toEqual([]);
  });

  it('words a drop at the memory cap and a byte-limited queue', () => {
    expect(describeDrop('memory', NO_IMPAIRMENT, 100)).toBe('dropped: link memory cap (256 MiB in flight)');
    expect(describeDrop('queue', { ...NO_IMPAIRMENT, rateBitsPerSecond: 10e6, queuePackets: 50, queueBytes: 30000 }, 100)).toBe('dropped: bottleneck queue full (50 packets or 30000 bytes at 10.0 Mbit/s)');
  });

  it('explains duplicates, held-back and reordered datagrams, and leaves clean ones alone', () => {
    const t = linkCapture({ delayMs: 5, reorderProbability: 1, reorderDelayMs: 10 });
    t.link.send(0, datagram(1), 0, 1);
    t.link.reconfigure({ reorderProbability: 0, duplicateProbability: 1 });
    t.link.send(1, datagram(2), 0, 1);
    t.drain(6);
    t.link.reconfigure({ reorderProbability: 1, duplicateProbability: 0 });
    t.drain(14);
    t.drain(15);
    t.capture.close();
    const log = logOf(t.log);
    expect(log.map((e) => [e.lab!.seq, e.timeMs, e.comment])).toEqual([
      [2, 6, ''],
      [2, 6, 'duplicate: second copy (duplicate p=1)'],
      [1, 15, 'held back: reorder delay +10 ms (reorder p=1), arrived 15 ms after it was sent; reordered: arrived after a datagram sent later'],
    ]);
    expect(log.map((e) => [e.duplicate, e.heldBack, e.reordered, e.sentAtMs])).toEqual([
      [false, false, false, 1],
      [true, false, false, 1],
      [false, true, true, 0],
    ]);
    const frames = epbs(t.pcap.bytes());
    expect(frames.map((f) => optionText(f.options, Opt.COMMENT))).toEqual([null, log[1]!.comment, log[2]!.comment]);
    expect(frames.every((f) => optionNumber(f.options, Opt.EPB_FLAGS) === EpbDirection.OUTBOUND)).toBe(true);
  });

  it('names the flipped bits of a corrupted datagram, and the frame carries the corrupted bytes', () => {
    const t = linkCapture({ corruptProbability: 1, corruptBits: 3 }, 4);
    const sent = datagram(5, 200);
    t.link.send(0, sent, 0, 1);
    t.drain(0);
    t.capture.close();
    const [e] = logOf(t.log);
    const [f] = epbs(t.pcap.bytes());
    const got = f!.data.subarray(28);
    expect(Buffer.from(got).equals(Buffer.from(t.delivered[0]!))).toBe(true);
    const diff: number[] = [];
    for (let i = 0; i < sent.length * 8; i++) if (((sent[i >> 3]! ^ got[i >> 3]!) >> (i & 7)) & 1) diff.push(i);
    expect(diff.length).toBeGreaterThan(0);
    expect(e!.flippedBits).toEqual(diff);
    expect(e!.comment).toBe(`corrupted: bit${diff.length === 1 ? '' : 's'} ${diff.join(', ')} flipped`);
    expect(e!.lab!.checksumValid).toBe(false);
  });
});

describe('capture file', () => {
  it('frames each datagram as IP/UDP between the endpoints, one log line per frame', () => {
    const t = linkCapture({ lossProbability: 0.3 }, 12);
    for (let i = 0; i < 50; i++) {
      t.link.send(i, datagram(i), 0, 1);
      t.drain(i);
    }
    const stats = t.capture.close();
    const frames = epbs(t.pcap.bytes());
    const log = logOf(t.log);
    expect(frames.length).toBe(50);
    expect(log.length).toBe(50);
    expect(stats).toMatchObject({ frames: 50, framesWritten: 50, framesSkipped: 0, capped: false, bytesWritten: t.pcap.length });
    log.forEach((e, i) => {
      const ip = frames[i]!.data;
      expect(e.frame).toBe(i + 1);
      expect(Array.from(ip.subarray(12, 20))).toEqual([10, 0, 0, 1, 10, 0, 0, 2]);
      expect((ip[20]! << 8) | ip[21]!).toBe(40000);
      expect((ip[22]! << 8) | ip[23]!).toBe(9000);
      expect([e.src, e.srcPort, e.dst, e.dstPort]).toEqual(['10.0.0.1', 40000, '10.0.0.2', 9000]);
      expect(Buffer.from(ip.subarray(28)).equals(Buffer.from(datagram(i)))).toBe(true);
      expect(e.lab).toMatchObject({ type: 'DATA', seq: i, ack: 7, connectionId: 0xabc, checksumValid: true, parseError: null });
      expect(frames[i]!.timestamp).toEqual({ high: 0, low: i * 1e6 });
    });
    const dropped = log.filter((e) => e.fate === 'dropped').length;
    expect(dropped).toBeGreaterThan(5);
    const r = readPcapng(t.pcap.bytes());
    const isb = r.blocks.find((b) => b.type === 'isb');
    expect(isb?.type === 'isb' && optionNumber(isb.options, Opt.ISB_IFRECV)).toBe(50);
  });

  it('stops cleanly at the size cap: never larger, still readable, the cut counted', () => {
    fc.assert(
      fc.property(fc.integer({ min: MIN_CAPTURE_BYTES, max: 40_000 }), fc.integer({ min: 0, max: 1400 }), (cap, size) => {
        const t = linkCapture({}, 3, cap);
        for (let i = 0; i < 60; i++) {
          t.link.send(i, datagram(i, size), 0, 1);
          t.drain(i);
        }
        const s = t.capture.close();
        const bytes = t.pcap.bytes();
        expect(bytes.length).toBeLessThanOrEqual(cap);
        expect(s.bytesWritten).toBe(bytes.length);
        const frames = epbs(bytes);
        expect(frames.length).toBe(s.framesWritten);
        expect(logOf(t.log).length).toBe(s.framesWritten);
        expect(s.framesWritten + s.framesSkipped).toBe(60);
        expect(s.capped).toBe(s.framesSkipped > 0);
        const isb = readPcapng(bytes).blocks.find((b) => b.type === 'isb');
        expect(isb?.type === 'isb' && optionNumber(isb.options, Opt.ISB_IFDROP)).toBe(s.framesSkipped);
        // The frames written are the first ones, in order.
        frames.forEach((f, i) => expect(Buffer.from(f.data.subarray(28)).equals(Buffer.from(datagram(i, size)))).toBe(true));
      }),
      { numRuns: 60 },
    );
  });

  it('takes arbitrary datagrams by address, IPv6 included, with a note', () => {
    const pcap = new MemorySink();
    const log = new MemorySink();
    const c = new Capture({ pcap, log, timeOriginMs: 1_700_000_000_000 });
    const i = c.addInterface({ name: 'rpc', direction: 'inbound' });
    i.record(1.5, Uint8Array.of(1, 2, 3), { address: '::1', port: 700 }, { address: '2001:db8::1', port: 111 }, { comment: 'hello' });
    c.close();
    const [f] = epbs(pcap.bytes());
    expect(f!.data[0]! >> 4).toBe(6);
    expect(Array.from(f!.data.subarray(48))).toEqual([1, 2, 3]);
    expect(optionText(f!.options, Opt.COMMENT)).toBe('hello');
    expect(optionNumber(f!.options, Opt.EPB_FLAGS)).toBe(EpbDirection.INBOUND);
    const ns = (BigInt(f!.timestamp.high) << 32n) + BigInt(f!.timestamp.low);
    expect(ns).toBe(1_700_000_000_001_500_000n);
    expect(logOf(log)[0]).toMatchObject({ fate: 'recorded', src: '::1', dstPort: 111, comment: 'hello', lab: null, timeMs: 1_700_000_000_001.5 });
  });

  it('rejects misuse with a clear error', () => {
    expect(() => new Capture({ maxBytes: 100 })).toThrow(/at least 4096/);
    const c = new Capture({});
    expect(() => c.setEndpoint(0, { address: '10.0.0.300', port: 1 })).toThrow(/not an IPv4 or IPv6 address/);
    expect(() => c.setEndpoint(0, { address: '10.0.0.3', port: 70000 })).toThrow(/port 70000/);
    const link = new Link(NO_IMPAIRMENT, 1);
    c.attachLink(link, { name: 'x' });
    expect(() => c.attachLink(link, { name: 'y' })).toThrow(/already attached/);
    expect(() => link.send(0, new Uint8Array(40), 5, 6)).not.toThrow();
    expect(() => link.pollDeliver(0)).toThrow(/endpoint 5 has no address/);
    c.close();
    expect(link.tracer).toBeNull();
    expect(() => c.addInterface({ name: 'late' })).toThrow(/closed/);
  });

  it('keeps a tracer that was there before and gives it back on close', () => {
    const calls: string[] = [];
    const link = new Link({ ...NO_IMPAIRMENT, lossProbability: 0.5 }, 2);
    const own = { dropped: () => calls.push('d'), delivered: () => calls.push('v') };
    link.tracer = own;
    const c = new Capture({});
    c.setEndpoint(0, SIM_CLIENT_ADDRESS);
    c.setEndpoint(1, SIM_LISTENER_ADDRESS);
    c.attachLink(link, { name: 'f' });
    for (let i = 0; i < 20; i++) link.send(0, new Uint8Array(40), 0, 1);
    for (let h = link.pollDeliver(0); h >= 0; h = link.pollDeliver(0)) link.release(h);
    expect(calls.length).toBe(20);
    expect(c.stats.framesWritten).toBe(20);
    c.close();
    expect(link.tracer).toBe(own);
  });
});

const lossySetup = (seed: number): TransferSetup =>
  transferSetup(150_000, {
    forward: { ...NO_IMPAIRMENT, delayMs: 5, lossProbability: 0.05, duplicateProbability: 0.02, reorderProbability: 0.02, corruptProbability: 0.02, corruptBits: 2 },
    reverse: { ...NO_IMPAIRMENT, delayMs: 5, lossProbability: 0.05 },
    seed,
    timeLimitMs: 600_000,
  });

function simCapture(seed: number) {
  const pcap = new MemorySink();
  const log = new MemorySink();
  const capture = new Capture({ pcap, log, application: 'packetlab test', comment: `seed ${seed}` });
  const summary = runSimTransfer(lossySetup(seed), { capture });
  capture.close();
  return { pcap: pcap.bytes(), log: log.text(), summary };
}

describe('capture of a simulated run', () => {
  it('is the same bytes for the same seed, and different for another seed', () => {
    const a = simCapture(21);
    const b = simCapture(21);
    const c = simCapture(22);
    expect(a.summary.status).toBe('complete');
    expect(Buffer.from(a.pcap).equals(Buffer.from(b.pcap))).toBe(true);
    expect(a.log).toBe(b.log);
    expect(Buffer.from(a.pcap).equals(Buffer.from(c.pcap))).toBe(false);
  });

  it('does not change the run it records', () => {
    const { summary: withCapture } = simCapture(23);
    const without = runSimTransfer(lossySetup(23));
    const strip = (s: typeof without) => ({ ...s, simEventsPerSecond: 0 });
    expect(strip(withCapture)).toEqual(strip(without));
  });

  it('records both directions of a simulated stream, reports included', () => {
    const log = new MemorySink();
    const capture = new Capture({ log });
    const s = runSimStream({ datagramBytes: 200, ratePacketsPerSecond: 500, durationMs: 300, intervalMs: 100, impairment: { ...NO_IMPAIRMENT, lossProbability: 0.1, delayMs: 2 }, seed: 5 }, undefined, capture);
    capture.close();
    const entries = logOf(log);
    expect(s.status).toBe('complete');
    const udata = entries.filter((e) => e.lab?.type === 'UDATA');
    expect(udata.length).toBe(s.sent.packetsSent);
    expect(entries.filter((e) => e.interface === 'forward' && e.fate === 'dropped').length).toBe(s.link.dropsRandom);
    expect(udata.filter((e) => e.fate === 'dropped').length).toBeGreaterThan(0);
    expect(entries.filter((e) => e.lab?.type === 'REPORT' && e.interface === 'reverse').length).toBeGreaterThan(1);
  });
});

describe('capture of a run over UDP', () => {
  it('records a transfer with the sockets addresses and wall-clock times', async () => {
    const log = new MemorySink();
    const pcap = new MemorySink();
    const capture = new Capture({ pcap, log, timeOriginMs: performance.timeOrigin });
    const before = Date.now();
    const setup = { ...lossySetup(31), forward: { ...NO_IMPAIRMENT, lossProbability: 0.05 }, reverse: NO_IMPAIRMENT, totalBytes: 60_000 };
    const s = await runUdpTransfer({ setup, peer: null, socket: { socketRcvBufBytes: 0, socketSndBufBytes: 0 }, capture });
    capture.close();
    expect(s.status).toBe('complete');
    const entries = logOf(log);
    const fwd = entries.filter((e) => e.interface === 'forward');
    const rev = entries.filter((e) => e.interface === 'reverse');
    expect(fwd.length).toBe(s.forward!.offeredPackets + s.forward!.duplicated);
    expect(rev.length).toBe(s.reverse!.offeredPackets);
    expect(fwd.filter((e) => e.fate === 'dropped').length).toBe(s.forward!.dropsRandom);
    const ports = new Set(entries.map((e) => `${e.src}:${e.srcPort}>${e.dst}:${e.dstPort}`));
    expect(ports.size).toBe(2);
    for (const e of entries) {
      expect(e.src).toBe('127.0.0.1');
      expect(e.timeMs).toBeGreaterThanOrEqual(before - 1000);
      expect(e.timeMs).toBeLessThanOrEqual(Date.now() + 1000);
      expect(e.lab?.checksumValid).toBe(true);
    }
    expect(fwd[0]!.srcPort).toBe(rev[0]!.dstPort);
    expect(epbs(pcap.bytes()).length).toBe(entries.length);
  });

  it('records a stream and the reports that come back', async () => {
    const log = new MemorySink();
    const capture = new Capture({ log, timeOriginMs: performance.timeOrigin });
    const s = await runUdpStream({
      setup: { datagramBytes: 100, ratePacketsPerSecond: 200, durationMs: 300, intervalMs: 100, impairment: NO_IMPAIRMENT, seed: 3 },
      peer: null,
      socket: { socketRcvBufBytes: 0, socketSndBufBytes: 0 },
      capture,
    });
    capture.close();
    const entries = logOf(log);
    expect(entries.filter((e) => e.lab?.type === 'UDATA').length).toBe(s.sent.packetsSent);
    expect(entries.filter((e) => e.lab?.type === 'REPORT').length).toBeGreaterThanOrEqual(s.sent.reportsReceived);
    expect(s.sent.reportsReceived).toBeGreaterThan(0);
  });
});
