// `packetlab udp`: the unreliable layer, like iperf3 -u. A paced stream of numbered datagrams to a
// listener that agreed to it; per-interval loss, reordering, duplication, jitter and kernel drops.

import { Option, type Command } from 'commander';
import { SOCKET_KNOBS, type SocketConfig } from '../../core/knobs.js';
import { STREAM_COLUMNS, runSimStream, runUdpStream, type StreamSample, type StreamSetup, type StreamSummary } from '../../workloads/stream/run.js';
import { IP_UDP_OVERHEAD_BYTES } from '../../core/impair/config.js';
import { HEADER_BYTES } from '../../core/wire/packet.js';
import { CsvWriter } from '../../net/csv.js';
import { formatBitsPerSecond, parseBytes, parseMs, parseNumber, parseRunDurationMs, parseSendRate, UnitError, type SendRate } from '../../core/units.js';
import { UsageError, addImpairmentOptions, addSocketOptions, parseHostPort, readKnobs } from '../options.js';
import { addListenOptions, listenIfAsked } from '../listen.js';
import { Progress, RowClock, fmt, jsonLine, row, stopSignal } from '../output.js';
import { durationArg, numberArg } from '../args.js';
import { addCaptureOptions, closeCapture, openCapture } from '../capture.js';
import { InvalidArgumentError } from 'commander';
import { addPresetOption, chooseLink, linkHelp } from '../link.js';
import { MetricAggregator } from '../../core/metrics/registry.js';
import { linkCountersText } from '../../core/impair/counters.js';

const HEADER = ['time', 'sent', 'received', 'lost', 'reordered', 'duplicated', 'jitter ms', 'kernel drops', 'receive rate'];
const WIDTHS = [8, 8, 9, 6, 9, 10, 9, 12, 14];
/** The columns a printed line shows, each combined over the line's samples as the registry says. */
const PRINTED = ['sent_packets', 'received_packets', 'lost_packets', 'reordered_packets', 'duplicate_packets', 'jitter_ms', 'kernel_drops_receiver', 'received_bytes'] as const;

function rateArg(text: string): SendRate {
  try {
    return parseSendRate(text);
  } catch (e) {
    throw new InvalidArgumentError((e as UnitError).message);
  }
}

function printSummary(s: StreamSummary): void {
  const r = s.receiver;
  console.log(`\nstream ${s.status}${s.failure === null ? '' : `: ${s.failure}`} (${s.net}, seed ${s.seed})`);
  console.log(`sent ${s.sent.packetsSent} datagrams of ${s.datagramBytes} B in ${fmt(s.durationS, 2)} s (${s.ratePacketsPerSecond} packets/s asked)`);
  if (r === null) {
    console.log('receiver: no report arrived');
    return;
  }
  console.log(
    `receiver${r.final ? '' : ' (last report, not final)'}: ${r.packetsReceived} received, ${s.sent.packetsSent - r.packetsReceived} lost (${(s.lossRatio * 100).toFixed(2)}%), ${r.reordered} reordered, ${r.duplicates} duplicated, jitter ${r.jitterMs.toFixed(3)} ms, kernel drops ${Number.isNaN(r.kernelDrops) ? '-' : r.kernelDrops}, checksum failures ${r.checksumFailures}`,
  );
  if (s.sendQueueDrops > 0) console.log(`this host dropped ${s.sendQueueDrops} datagrams: its socket send queue was full (the receiver drains it)`);
  const l = s.link;
  console.log(`impairment: ${linkCountersText(l)}, ${l.heldBack} held back`);
}

/** Registers `packetlab udp`. */
export function registerUdp(program: Command): void {
  const cmd = program
    .command('udp')
    .summary('unreliable UDP stream: loss, reordering, duplication, jitter, kernel drops')
    .description(
      `Sends a paced stream of numbered datagrams (like iperf3 -u) to a listener that agreed to it: a local one in a worker thread, or \`packetlab udp --listen\` on another machine (--peer HOST:PORT), or in the simulator (--net sim). Nothing is retransmitted; the receiver counts what arrives and reports every interval. The sender stops when reports stop. ${linkHelp()} The impairment flags act on the datagrams; the reports come back over the preset's return direction.`,
    );
  const g = 'Run:';
  cmd.addOption(new Option('--net <sim|udp>', 'real UDP sockets or the simulator (default udp)').choices(['sim', 'udp']).helpGroup(g));
  cmd.addOption(new Option('--peer <host:port>', 'a `packetlab udp --listen` to send to').helpGroup(g));
  addPresetOption(cmd, g);
  cmd.addOption(new Option('--rate <rate>', 'send rate: bits/s of IP datagrams when bare (10M, 1.5Gbit/s), or packets/s with pps (5000pps) (default 1000pps)').argParser(rateArg).helpGroup(g));
  cmd.addOption(new Option('--size <bytes>', `datagram size, header included (default 1200, at least ${HEADER_BYTES})`).argParser(numberArg(parseBytes, HEADER_BYTES, 65507, '--size', true)).helpGroup(g));
  cmd.addOption(new Option('--duration <time>', 'how long to send; a bare number is seconds (default 10s)').argParser(durationArg(parseRunDurationMs, 1, 3_600_000, '--duration')).helpGroup(g));
  cmd.addOption(new Option('--interval <time>', 'report and sampling interval (listeners report at most every 50ms by default); a bare number is ms (default 100ms)').argParser(durationArg(parseMs, 10, 10_000, '--interval')).helpGroup(g));
  cmd.addOption(new Option('--print-interval <time>', 'one printed line per this long; a bare number is ms (default 1s)').argParser(durationArg(parseMs, 10, 3_600_000, '--print-interval')).helpGroup(g));
  cmd.addOption(new Option('--seed <n>', 'seed of the impairment (default: random, printed)').argParser(numberArg(parseNumber, 0, 2 ** 32 - 1, '--seed', true)).helpGroup(g));
  cmd.addOption(new Option('--json', 'print one JSON object per interval and a final summary object').helpGroup(g));
  cmd.addOption(new Option('--csv <file>', 'write the samples to a CSV file').helpGroup(g));
  addCaptureOptions(cmd);
  addImpairmentOptions(cmd, false, 'preset');
  addSocketOptions(cmd);
  addListenOptions(cmd);
  cmd.action(async (o: Record<string, unknown>) => {
    const socket = { socketRcvBufBytes: 0, socketSndBufBytes: 0, ...readKnobs(o, SOCKET_KNOBS) } as SocketConfig;
    if (await listenIfAsked(o, socket)) return;
    const size = (o.size as number | undefined) ?? 1200;
    const rate = (o.rate as SendRate | undefined) ?? { packetsPerSecond: 1000 };
    const pps = 'packetsPerSecond' in rate ? rate.packetsPerSecond : rate.bitsPerSecond / ((size + IP_UDP_OVERHEAD_BYTES) * 8);
    if (!(pps >= 1 && pps <= 10_000_000)) throw new UsageError(`--rate: ${Math.round(pps)} packets/s is outside 1..10000000`);
    const peer = o.peer === undefined ? null : parseHostPort(o.peer as string, '--peer');
    const net = (o.net as 'sim' | 'udp' | undefined) ?? 'udp';
    if (net === 'sim' && peer !== null) throw new UsageError('--peer needs --net udp (the simulator has no real peers)');
    const link = chooseLink(o, net, false);
    const seed = (o.seed as number | undefined) ?? (Math.random() * 2 ** 32) >>> 0;
    const setup: StreamSetup = {
      datagramBytes: size,
      ratePacketsPerSecond: Math.round(pps),
      durationMs: (o.duration as number | undefined) ?? 10_000,
      intervalMs: (o.interval as number | undefined) ?? 100,
      impairment: link.forward,
      // The reports' way back: the preset's return direction; with no preset, as the stream runs without one.
      reverse: link.preset === null ? undefined : link.reverse,
      seed,
    };
    const json = o.json === true;
    const capture = openCapture(o, net === 'udp', `packetlab udp, ${net}, ${setup.datagramBytes} B at ${setup.ratePacketsPerSecond} packets/s, seed ${seed}`);
    const csv = o.csv === undefined ? null : new CsvWriter(o.csv as string, STREAM_COLUMNS);
    const clock = new RowClock((o.printInterval as number | undefined) ?? 1000, setup.intervalMs);
    const progress = new Progress();
    const line = new MetricAggregator(PRINTED);
    const v = (k: (typeof PRINTED)[number]) => line.value(k);
    let sentTotal = 0;
    let last: StreamSample | null = null;
    const print = (s: StreamSample, lastRow: boolean) => {
      const dt = clock.spanS(s.time_s);
      console.log(
        row(
          [clock.close(s.time_s, lastRow), fmt(v('sent_packets')), fmt(v('received_packets')), fmt(v('lost_packets')), fmt(v('reordered_packets')), fmt(v('duplicate_packets')), fmt(v('jitter_ms'), 3), fmt(v('kernel_drops_receiver')), formatBitsPerSecond((v('received_bytes') * 8) / dt)],
          WIDTHS,
        ),
      );
      line.reset();
    };
    const onSample = (s: StreamSample) => {
      csv?.write(s);
      if (json) {
        jsonLine({ type: 'sample', ...s });
        return;
      }
      last = s;
      line.add(s);
      sentTotal += s.sent_packets;
      if (clock.due(s.time_s)) print(s, false);
      progress.update(`t=${s.time_s.toFixed(1)} s  sent ${sentTotal}  (Ctrl-C stops)`);
    };
    if (!json) {
      console.log(`UDP stream of ${setup.datagramBytes} B datagrams at ${setup.ratePacketsPerSecond} packets/s (${formatBitsPerSecond(setup.ratePacketsPerSecond * (setup.datagramBytes + IP_UDP_OVERHEAD_BYTES) * 8)}) for ${setup.durationMs / 1000} s, ${net === 'sim' ? 'simulated' : peer === null ? 'to a local listener' : `to ${o.peer as string}`}, ${link.description}`);
      console.log(row(HEADER, WIDTHS));
    }
    let summary: StreamSummary;
    if (net === 'sim') summary = runSimStream(setup, onSample, capture?.capture);
    else {
      const { signal, dispose } = stopSignal();
      try {
        summary = await runUdpStream({ setup, peer, socket, onSample, signal, capture: capture?.capture });
      } finally {
        dispose();
      }
    }
    progress.clear();
    const l = last as StreamSample | null;
    if (!json && l !== null && clock.pending(l.time_s)) print(l, true);
    csv?.close();
    closeCapture(capture, json);
    if (json) jsonLine(summary);
    else printSummary(summary);
    if (summary.status === 'failed') process.exitCode = 1;
  });
}
