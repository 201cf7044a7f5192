// Captures opened by tshark: the lab's dissector against the lab's own packet log, frame by frame;
// every SYN, REPORT and RST field; ONC RPC left to tshark's own dissector.

import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { Capture, MIN_CAPTURE_BYTES, type PacketLogEntry } from '../core/capture/capture.js';
import { FileSink } from '../net/capture/file-sink.js';
import { splitNanoseconds } from '../core/capture/pcapng.js';
import { NO_IMPAIRMENT } from '../core/impair/config.js';
import type { DropReason } from '../core/impair/link.js';
import { runSimTransfer } from '../workloads/transfer/sim-transfer.js';
import { runUdpTransfer } from '../workloads/transfer/udp-transfer.js';
import { DEFAULT_TRANSPORT_CONFIG } from '../core/transport/config.js';
import { encodeReport } from '../core/stream/report.js';
import { REPORT_BYTES } from '../core/stream/report.js';
import { Service, encodeSynOptions } from '../core/wire/handshake.js';
import { Flag, PacketType, emit } from '../core/wire/packet.js';
import { SKIP_TSHARK, tshark, tsharkFields, DISSECTOR } from './helpers/tshark.js';
import { transferSetup } from './helpers/transfer-setup.js';

const dir = mkdtempSync(join(tmpdir(), 'packetlab-tshark-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function readLog(path: string): PacketLogEntry[] {
  return readFileSync(path, 'utf8')
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => JSON.parse(l) as PacketLogEntry);
}

const hex32 = (v: number) => `0x${v.toString(16).padStart(8, '0')}`;
const DROP_REASON_TEXT: Record<DropReason, string> = {
  random: 'random loss',
  burst: 'burst loss',
  queue: 'bottleneck queue full',
  mtu: 'longer than the MTU',
  memory: 'link memory cap',
  manual: 'by hand, while in flight',
};

// What the dissector must print for a frame, field by field, computed from the lab's log alone.
const FIELDS: [string, (e: PacketLogEntry) => string][] = [
  ['frame.number', (e) => String(e.frame)],
  ['frame.time_epoch', (e) => nsText(e.timeMs)],
  ['frame.interface_name', (e) => e.interface],
  ['frame.comment', (e) => e.comment],
  ['ip.src', (e) => e.src],
  ['ip.dst', (e) => e.dst],
  ['udp.srcport', (e) => String(e.srcPort)],
  ['udp.dstport', (e) => String(e.dstPort)],
  ['udp.length', (e) => String(8 + e.bytes)],
  ['packetlab.type', (e) => (e.lab === null ? '' : String(e.lab.typeCode))],
  ['packetlab.flags', (e) => (e.lab === null ? '' : `0x${e.lab.flags.toString(16).padStart(2, '0')}`)],
  ['packetlab.sack_count', (e) => (e.lab === null ? '' : String(e.lab.sackCount))],
  ['packetlab.payload_length', (e) => (e.lab === null ? '' : String(e.lab.payloadLength))],
  ['packetlab.conn_id', (e) => (e.lab === null ? '' : hex32(e.lab.connectionId))],
  ['packetlab.seq', (e) => (e.lab === null ? '' : String(e.lab.seq))],
  ['packetlab.ack', (e) => (e.lab === null ? '' : String(e.lab.ack))],
  ['packetlab.window', (e) => (e.lab === null ? '' : String(e.lab.windowBytes))],
  ['packetlab.tsval', (e) => (e.lab === null ? '' : String(e.lab.tsVal))],
  ['packetlab.tsecr', (e) => (e.lab === null ? '' : String(e.lab.tsEcr))],
  ['packetlab.checksum', (e) => (e.lab === null ? '' : hex32(e.lab.checksum))],
  ['packetlab.checksum.status', (e) => (e.lab === null ? '' : e.lab.checksumValid ? '1' : '0')],
  ['packetlab.sack.start', (e) => (e.lab === null ? '' : e.lab.sack.map((b) => b[0]).join(','))],
  ['packetlab.sack.end', (e) => (e.lab === null ? '' : e.lab.sack.map((b) => b[1]).join(','))],
  ['packetlab.parse_error', (e) => e.lab?.parseError ?? ''],
  ['packetlab.link.dropped', (e) => (e.lab !== null && e.fate === 'dropped' ? '1' : '')],
  ['packetlab.link.drop_reason', (e) => (e.lab !== null && e.dropReason !== null ? DROP_REASON_TEXT[e.dropReason] : '')],
  ['packetlab.link.duplicate', (e) => (e.lab !== null && e.duplicate ? '1' : '')],
  ['packetlab.link.held_back', (e) => (e.lab !== null && e.heldBack ? '1' : '')],
  ['packetlab.link.reordered', (e) => (e.lab !== null && e.reordered ? '1' : '')],
  ['packetlab.link.corrupted', (e) => (e.lab !== null && e.corrupted ? '1' : '')],
  ['packetlab.link.flipped_bit', (e) => (e.lab !== null && e.flippedBits !== null ? e.flippedBits.join(',') : '')],
];

function nsText(ms: number): string {
  const { high, low } = splitNanoseconds(ms);
  const ns = (BigInt(high) << 32n) + BigInt(low);
  return `${ns / 1_000_000_000n}.${(ns % 1_000_000_000n).toString().padStart(9, '0')}`;
}

/** Compares tshark's rows with the log, naming the first frame and field that differ. */
function compare(rows: string[][], log: PacketLogEntry[]): void {
  expect(rows.length).toBe(log.length);
  log.forEach((e, i) => {
    const row = rows[i]!;
    FIELDS.forEach(([name, want], k) => {
      expect(row[k] ?? '', `frame ${e.frame}, ${name} (log: ${JSON.stringify(e)})`).toBe(want(e));
    });
  });
}

function capture(name: string, o: { maxBytes?: number; timeOriginMs?: number } = {}) {
  const pcapPath = join(dir, `${name}.pcapng`);
  const logPath = join(dir, `${name}.jsonl`);
  const c = new Capture({ pcap: new FileSink(pcapPath), log: new FileSink(logPath), application: 'packetlab test', ...o });
  return { c, pcapPath, logPath };
}

describe.skipIf(SKIP_TSHARK)('tshark reads lab captures', () => {
  it('decodes a simulated transfer under loss exactly as the lab logged it', () => {
    const { c, pcapPath, logPath } = capture('sim-loss');
    const summary = runSimTransfer(
      transferSetup(300_000, {
        transport: { ...DEFAULT_TRANSPORT_CONFIG, protocol: 'sr' },
        forward: { ...NO_IMPAIRMENT, delayMs: 5, jitterMs: 1, lossProbability: 0.05, burstEnterProbability: 0.01, burstExitProbability: 0.5, duplicateProbability: 0.02, reorderProbability: 0.03, corruptProbability: 0.03, corruptBits: 3 },
        reverse: { ...NO_IMPAIRMENT, delayMs: 5, lossProbability: 0.05, corruptProbability: 0.02 },
        seed: 11,
        timeLimitMs: 600_000,
      }),
      { capture: c },
    );
    c.close();
    expect(summary.status).toBe('complete');
    const log = readLog(logPath);
    // The run must exercise what the comparison is about, or the test proves little.
    const count = (p: (e: PacketLogEntry) => boolean) => log.filter(p).length;
    expect(count((e) => e.fate === 'dropped' && e.interface === 'forward')).toBeGreaterThan(5);
    expect(count((e) => e.fate === 'dropped' && e.interface === 'reverse')).toBeGreaterThan(5);
    expect(count((e) => e.dropReason === 'burst')).toBeGreaterThan(0);
    expect(count((e) => e.duplicate)).toBeGreaterThan(0);
    expect(count((e) => e.heldBack)).toBeGreaterThan(0);
    expect(count((e) => e.reordered)).toBeGreaterThan(0);
    expect(count((e) => e.lab?.checksumValid === false)).toBeGreaterThan(3);
    expect(count((e) => (e.lab?.sack.length ?? 0) > 0)).toBeGreaterThan(3);
    expect(new Set(log.map((e) => e.lab?.type)).size).toBeGreaterThanOrEqual(4);
    const { rows, stderr } = tsharkFields(
      pcapPath,
      FIELDS.map(([f]) => f),
    );
    expect(stderr).toBe('');
    compare(rows, log);
  });

  it('decodes SYN options, receiver reports, RST reasons, SACK blocks and malformed datagrams', () => {
    const { c, pcapPath, logPath } = capture('crafted');
    const i = c.addInterface({ name: 'crafted' });
    const a = { address: '10.1.0.1', port: 5555 };
    const b = { address: '10.1.0.2', port: 6666 };
    const h = { flags: 0, connectionId: 0x01020304, seq: 10, ack: 0, windowBytes: 0, tsVal: 0, tsEcr: 0, sackCount: 0, sack: [] };
    const reliable = encodeSynOptions({ service: Service.RELIABLE, protocol: 'gbn', sack: false, verifyChecksum: true, mssBytes: 1400, ackEveryPackets: 2, ackDelayMs: 25, rcvBufferBytes: 65536, readRateBytesPerSecond: 1000, patternSeed: 4_000_000_001 });
    const stream = encodeSynOptions({ service: Service.STREAM, datagramBytes: 1200, ratePacketsPerSecond: 5000, durationMs: 10_000, reportIntervalMs: 100 });
    const report = new Uint8Array(REPORT_BYTES);
    encodeReport({ final: true, packetsReceived: 990, bytesReceived: 1_188_000, packetsExpected: 1000, lost: 10, reordered: 3, duplicates: 1, jitterMs: 0.25, kernelDrops: Number.NaN, checksumFailures: 2 }, report);
    const malformed = emit({ ...h, type: PacketType.DATA }, Uint8Array.of(1, 2, 3));
    malformed[4] = 0x80;
    const frames = [
      emit({ ...h, type: PacketType.SYN }, reliable),
      emit({ ...h, type: PacketType.SYN }, stream),
      emit({ ...h, type: PacketType.REPORT, flags: Flag.ACK }, report),
      emit({ ...h, type: PacketType.RST }, new TextEncoder().encode('listener is full — try later')),
      emit({ ...h, type: PacketType.ACK, flags: Flag.ACK | Flag.ECHO, ack: 77, windowBytes: 5000, tsVal: 123, tsEcr: 45, sackCount: 4, sack: [100, 110, 120, 130, 140, 150, 4294967290, 5] }),
      malformed,
      new TextEncoder().encode('not a lab datagram at all, just some bytes'),
    ];
    frames.forEach((f, k) => i.record(k, f, k % 2 === 0 ? a : b, k % 2 === 0 ? b : a));
    c.close();
    const fields = [
      'packetlab.type',
      'packetlab.syn.service',
      'packetlab.syn.arq',
      'packetlab.syn.sack',
      'packetlab.syn.verify_checksum',
      'packetlab.syn.mss',
      'packetlab.syn.ack_every',
      'packetlab.syn.ack_delay_us',
      'packetlab.syn.rcv_buffer',
      'packetlab.syn.read_rate',
      'packetlab.syn.pattern_seed',
      'packetlab.syn.datagram_bytes',
      'packetlab.syn.rate_pps',
      'packetlab.syn.duration_ms',
      'packetlab.syn.report_interval_ms',
      'packetlab.report.final',
      'packetlab.report.packets_received',
      'packetlab.report.bytes_received',
      'packetlab.report.lost',
      'packetlab.report.jitter_ms',
      'packetlab.report.checksum_failures',
      'packetlab.rst.reason',
      'packetlab.sack.start',
      'packetlab.sack.end',
      'packetlab.flags.ack',
      'packetlab.flags.echo',
      'packetlab.parse_error',
      'packetlab.checksum.status',
      'data.len',
    ];
    const { rows, stderr } = tsharkFields(pcapPath, fields);
    expect(stderr).toBe('');
    const pick = (row: string[]) => Object.fromEntries(fields.map((f, k) => [f, row[k] ?? '']).filter(([, v]) => v !== ''));
    expect(rows.map(pick)).toEqual([
      {
        'packetlab.type': '3',
        'packetlab.syn.service': '1',
        'packetlab.syn.arq': '2',
        'packetlab.syn.sack': '0',
        'packetlab.syn.verify_checksum': '1',
        'packetlab.syn.mss': '1400',
        'packetlab.syn.ack_every': '2',
        'packetlab.syn.ack_delay_us': '25000',
        'packetlab.syn.rcv_buffer': '65536',
        'packetlab.syn.read_rate': '1000',
        'packetlab.syn.pattern_seed': '4000000001',
        'packetlab.flags.ack': '0',
        'packetlab.flags.echo': '0',
        'packetlab.checksum.status': '1',
      },
      {
        'packetlab.type': '3',
        'packetlab.syn.service': '2',
        'packetlab.syn.datagram_bytes': '1200',
        'packetlab.syn.rate_pps': '5000',
        'packetlab.syn.duration_ms': '10000',
        'packetlab.syn.report_interval_ms': '100',
        'packetlab.flags.ack': '0',
        'packetlab.flags.echo': '0',
        'packetlab.checksum.status': '1',
      },
      {
        'packetlab.type': '9',
        'packetlab.report.final': '1',
        'packetlab.report.packets_received': '990',
        'packetlab.report.bytes_received': '1188000',
        'packetlab.report.lost': '10',
        'packetlab.report.jitter_ms': '0.25',
        'packetlab.report.checksum_failures': '2',
        'packetlab.flags.ack': '1',
        'packetlab.flags.echo': '0',
        'packetlab.checksum.status': '1',
      },
      { 'packetlab.type': '6', 'packetlab.rst.reason': 'listener is full — try later', 'packetlab.flags.ack': '0', 'packetlab.flags.echo': '0', 'packetlab.checksum.status': '1' },
      {
        'packetlab.type': '2',
        'packetlab.sack.start': '100,120,140,4294967290',
        'packetlab.sack.end': '110,130,150,5',
        'packetlab.flags.ack': '1',
        'packetlab.flags.echo': '1',
        'packetlab.checksum.status': '1',
      },
      { 'packetlab.type': '1', 'packetlab.parse_error': 'unknown-flags', 'packetlab.flags.ack': '0', 'packetlab.flags.echo': '0', 'packetlab.checksum.status': '0' },
      { 'data.len': '42' },
    ]);
    // The log agrees, and the full tree shows no Lua error.
    expect(readLog(logPath).map((e) => e.lab?.parseError ?? null)).toEqual([null, null, null, null, null, 'unknown-flags', null]);
    const tree = tshark(['-n', '-r', pcapPath, '-X', `lua_script:${DISSECTOR}`, '-V']).stdout;
    expect(tree).not.toMatch(/Lua Error/i);
    expect(tree).toContain('ARQ mode: go-back-N (gbn) (2)');
    expect(tree).toContain('Bad checksum');
  });

  it("leaves ONC RPC to tshark's own dissector: portmapper GETPORT call and reply", () => {
    const { c, pcapPath } = capture('rpc');
    const i = c.addInterface({ name: 'rpc' });
    const client = { address: '10.0.0.1', port: 871 };
    const server = { address: '10.0.0.2', port: 111 };
    const xid = 0x5a5a1234;
    const words = (...w: number[]) => {
      const b = new Uint8Array(w.length * 4);
      const v = new DataView(b.buffer);
      w.forEach((x, k) => v.setUint32(k * 4, x));
      return b;
    };
    // RFC 5531 (9): xid, CALL, rpcvers 2, prog, vers, proc, cred AUTH_NONE, verf AUTH_NONE, args.
    // RFC 1833 (3.2): GETPORT(mapping { prog 100003, vers 3, prot 17 (UDP), port 0 }).
    const call = words(xid, 0, 2, 100000, 2, 3, 0, 0, 0, 0, 100003, 3, 17, 0);
    // Reply: xid, REPLY, MSG_ACCEPTED, verf AUTH_NONE, SUCCESS, port 2049.
    const reply = words(xid, 1, 0, 0, 0, 0, 2049);
    i.record(0, call, client, server);
    i.record(0.4, reply, server, client);
    c.close();
    const { rows, stderr } = tsharkFields(pcapPath, ['rpc.xid', 'rpc.msgtyp', 'rpc.program', 'rpc.programversion', 'rpc.procedure', 'portmap.prog', 'portmap.port', 'packetlab.type'], false);
    expect(stderr).toBe('');
    // The RPC dissector repeats some fields (the reply's program fields come from its call).
    expect(rows.map((r) => r.map((v) => v.split(',')[0]))).toEqual([
      ['0x5a5a1234', '0', '100000', '2', '3', '100003', '0', ''],
      ['0x5a5a1234', '1', '100000', '2', '3', '', '2049', ''],
    ]);
  });

  it('opens a capture cut by its size cap, and one of a real UDP run with wall-clock times', async () => {
    const { c, pcapPath, logPath } = capture('udp', { maxBytes: 64 * 1024, timeOriginMs: performance.timeOrigin });
    expect(64 * 1024).toBeGreaterThan(MIN_CAPTURE_BYTES);
    const before = Date.now() / 1000;
    const s = await runUdpTransfer({
      setup: transferSetup(200_000, { forward: { ...NO_IMPAIRMENT, lossProbability: 0.05 }, seed: 4, timeLimitMs: 30_000 }),
      peer: null,
      socket: { socketRcvBufBytes: 0, socketSndBufBytes: 0 },
      capture: c,
    });
    const stats = c.close();
    expect(s.status).toBe('complete');
    expect(stats.capped).toBe(true);
    const log = readLog(logPath);
    const { rows, stderr } = tsharkFields(
      pcapPath,
      FIELDS.map(([f]) => f),
    );
    expect(stderr).toBe('');
    expect(rows.length).toBe(stats.framesWritten);
    compare(rows, log);
    const t0 = Number(rows[0]![1]);
    expect(t0).toBeGreaterThan(before - 5);
    expect(t0).toBeLessThan(Date.now() / 1000 + 5);
  });
});
