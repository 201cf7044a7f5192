// `packetlab transfer`: a reliable transfer over the lab's transport, in the simulator or over UDP.

import { Option, type Command } from 'commander';
import { DEFAULT_TRANSPORT_CONFIG, type TransportConfig } from '../../core/transport/config.js';
import { SOCKET_KNOBS, TRANSPORT_KNOBS, flagOf, transportConfigProblems, type SocketConfig } from '../../core/knobs.js';
import { runSimTransfer } from '../../workloads/transfer/sim-transfer.js';
import { runUdpTransfer } from '../../workloads/transfer/udp-transfer.js';
import { TRANSFER_COLUMNS, type TransferColumn, type TransferSample } from '../../core/metrics/transfer-meter.js';
import { MetricAggregator } from '../../core/metrics/registry.js';
import type { TransferSetup, TransferSummary } from '../../core/transfer/setup.js';
import { CsvWriter } from '../../net/csv.js';
import { formatBitsPerSecond, formatBytes, parseBytes, parseBytesPerSecond, parseMs, parseNumber, parseRunDurationMs } from '../../core/units.js';
import { UsageError, addImpairmentOptions, addSocketOptions, addTransportOptions, parseHostPort, readKnobs } from '../options.js';
import { addListenOptions, listenIfAsked } from '../listen.js';
import { Progress, RowClock, fmt, jsonLine, row, stopSignal } from '../output.js';
import { durationArg, numberArg } from '../args.js';
import { addCaptureOptions, closeCapture, openCapture } from '../capture.js';
import { addPresetOption, chooseLink, linkHelp } from '../link.js';
import { linkCountersText } from '../../core/impair/counters.js';
import { FateRecorder, dropsText, reconcileDrops, type DropLedger } from '../../core/audit/transfer-audit.js';
import { addTracer } from '../../experiments/runner/ladder.js';

const WIDTHS = [8, 13, 9, 10, 5, 6, 6, 6, 8, 8, 6, 7, 11];
const HEADER = ['time', 'goodput', 'wire pkts', 'rtx to/fast', 'spur', 'dups', 'ooo', 'cksum', 'srtt ms', 'rto ms', 'cwnd', 'flight', 'drops r/b/q'];

/** The columns a printed line shows, each combined over the line's samples as the registry says. */
const PRINTED = [
  'wire_tx_packets',
  'retransmits_timeout',
  'retransmits_fast',
  'retransmits_spurious',
  'duplicates_suppressed',
  'out_of_order_buffered',
  'out_of_order_discarded',
  'checksum_failures',
  'delivered_bytes',
  'srtt_ms',
  'rto_ms',
  'cwnd_packets',
  'in_flight_packets',
  'fwd_drops_random',
  'fwd_drops_burst',
  'fwd_drops_queue',
] as const satisfies readonly TransferColumn[];

/** Combines samples into one printed line per print interval. */
class LinePrinter {
  private readonly a = new MetricAggregator(PRINTED);
  private last: TransferSample | null = null;

  constructor(private readonly clock: RowClock) {
    console.log(row(HEADER, WIDTHS));
  }

  /** Prints the last partial interval. */
  finish(): void {
    if (this.last !== null && this.clock.pending(this.last.time_s)) this.print(this.last, true);
  }

  add(s: TransferSample): void {
    this.last = s;
    this.a.add(s);
    if (this.clock.due(s.time_s)) this.print(s, false);
  }

  private print(s: TransferSample, last: boolean): void {
    const dt = this.clock.spanS(s.time_s);
    const v = (k: (typeof PRINTED)[number]) => this.a.value(k);
    console.log(
      row(
        [
          this.clock.close(s.time_s, last),
          formatBitsPerSecond((v('delivered_bytes') * 8) / dt),
          fmt(v('wire_tx_packets')),
          `${fmt(v('retransmits_timeout'))}/${fmt(v('retransmits_fast'))}`,
          fmt(v('retransmits_spurious')),
          fmt(v('duplicates_suppressed')),
          fmt(v('out_of_order_buffered') + v('out_of_order_discarded')),
          fmt(v('checksum_failures')),
          fmt(v('srtt_ms'), 1),
          fmt(v('rto_ms'), 1),
          fmt(v('cwnd_packets'), 1),
          fmt(v('in_flight_packets')),
          `${fmt(v('fwd_drops_random'))}/${fmt(v('fwd_drops_burst'))}/${fmt(v('fwd_drops_queue'))}`,
        ],
        WIDTHS,
      ),
    );
    this.a.reset();
  }
}

/**
 * Largest simulated transfer whose drops are reconciled: the ledger keeps an object per datagram
 * (about 100 bytes), so a gigabyte's worth is the limit.
 */
const RECONCILE_MAX_PACKETS = 1_000_000;

function printSummary(s: TransferSummary, drops: DropLedger | null): void {
  const head =
    s.status === 'complete'
      ? `transfer complete: ${formatBytes(s.bytes)} in ${s.durationS.toFixed(3)} s = ${formatBitsPerSecond(s.goodputBps)} goodput`
      : `transfer ${s.status}: ${s.failure ?? ''}`;
  console.log(`\n${head} (${s.net}, ${s.protocol}, seed ${s.seed})`);
  if (s.dataMatched === true) console.log('data: every byte matches what was sent, in order, message boundaries included');
  else if (s.dataMatched === false) console.log(`data: MISMATCH, ${s.dataProblem}`);
  const c = s.sender;
  console.log(`sent: ${c.dataPacketsSent} data packets, ${c.retransmitsTimeout} retransmitted on timeout, ${c.retransmitsFast} fast, ${c.retransmitsSpurious} spurious; ${c.timeouts} timeouts, ${c.fastRecoveries} fast recoveries`);
  if (s.receiver !== null) {
    const r = s.receiver;
    console.log(`received: ${r.duplicatesSuppressed} duplicates suppressed, ${r.outOfOrderBuffered} out of order buffered, ${r.outOfOrderDiscarded} discarded, ${r.checksumFailures} checksum failures`);
  }
  if (s.forward !== null) {
    const f = s.forward;
    console.log(`link (data direction): ${linkCountersText(f)}`);
  }
  if (drops !== null && drops.dropped > 0) console.log(`drops: ${dropsText(drops)}`);
  const x = s.corruption;
  if (x.injected > 0 || x.detected > 0 || x.accepted > 0) {
    console.log(`corruption: ${x.injected} delivered corrupted, ${x.detected} caught by the checksum, ${x.accepted} accepted with checksums off (${x.reconciled === null ? 'receiver counters unknown' : x.reconciled ? 'reconciled' : 'NOT reconciled'})`);
  }
  if (s.simEventsPerSecond !== undefined) console.log(`simulator: ${s.simEvents} packet events, ${Math.round(s.simEventsPerSecond).toLocaleString('en')} per second`);
}

/** Registers `packetlab transfer`. */
export function registerTransfer(program: Command): void {
  const cmd = program
    .command('transfer')
    .summary('reliable transfer over the lab transport (simulator or UDP)')
    .description(
      `Transfers bytes reliably with stop-and-wait, go-back-N or selective repeat, over the simulator (--net sim, reproducible from --seed) or real UDP sockets (--net udp: a local listener in a worker thread, or --peer HOST:PORT for \`packetlab transfer --listen\` on another machine). ${linkHelp()} Unless --no-verify is given, the receiver compares every byte it reads with the sent data, and the summary says whether it matched (bytes, order and message boundaries).`,
    );
  const g = 'Run:';
  cmd.addOption(new Option('--net <sim|udp>', 'simulator or real UDP sockets (default sim; --peer implies udp)').choices(['sim', 'udp']).helpGroup(g));
  cmd.addOption(new Option('--peer <host:port>', 'a `packetlab transfer --listen` to send to').helpGroup(g));
  addPresetOption(cmd, g);
  cmd.addOption(new Option('--bytes <size>', 'bytes to transfer (default 10MB)').argParser(numberArg(parseBytes, 0, 1e12, '--bytes')).helpGroup(g));
  cmd.addOption(new Option('--message-size <bytes>', 'send messages of this size, boundaries kept (default 0: a byte stream)').argParser(numberArg(parseBytes, 0, 1 << 30, '--message-size')).helpGroup(g));
  cmd.addOption(new Option('--read-rate <rate>', 'the receiving application reads this fast: bits/s when bare (8M is 1 MB/s), or bytes with /s (1MB/s, 64KiB/s) (default 0: as fast as data arrives)').argParser(numberArg(parseBytesPerSecond, 0, 1e12, '--read-rate')).helpGroup(g));
  cmd.addOption(new Option('--no-verify', 'do not compare the received data with what was sent (the receiver reads and discards)').helpGroup(g));
  cmd.addOption(new Option('--seed <n>', 'seed of the impairment, sequence numbers and data (default: random, printed)').argParser(numberArg(parseNumber, 0, 2 ** 32 - 1, '--seed', true)).helpGroup(g));
  cmd.addOption(new Option('--interval <time>', 'sampling interval; a bare number is ms (default 100ms)').argParser(durationArg(parseMs, 1, 60_000, '--interval')).helpGroup(g));
  cmd.addOption(new Option('--print-interval <time>', 'one printed line per this long; a bare number is ms (default 1s)').argParser(durationArg(parseMs, 1, 3_600_000, '--print-interval')).helpGroup(g));
  cmd.addOption(new Option('--time-limit <time>', 'give up after this long (virtual time in the simulator); a bare number is seconds (default 1h sim, 10m udp)').argParser(durationArg(parseRunDurationMs, 1, 365 * 86_400_000, '--time-limit')).helpGroup(g));
  cmd.addOption(new Option('--json', 'print one JSON object per sample and a final summary object').helpGroup(g));
  cmd.addOption(new Option('--csv <file>', 'write the samples to a CSV file').helpGroup(g));
  addCaptureOptions(cmd);
  addTransportOptions(cmd);
  addImpairmentOptions(cmd, true, 'preset');
  addSocketOptions(cmd);
  addListenOptions(cmd);
  cmd.action(async (o: Record<string, unknown>) => {
    const socket = { socketRcvBufBytes: 0, socketSndBufBytes: 0, ...readKnobs(o, SOCKET_KNOBS) } as SocketConfig;
    if (await listenIfAsked(o, socket)) return;
    const transport = { ...DEFAULT_TRANSPORT_CONFIG, ...readKnobs(o, TRANSPORT_KNOBS) } as TransportConfig;
    const problems = transportConfigProblems(transport, (k) => flagOf(TRANSPORT_KNOBS, k));
    if (problems.length > 0) throw new UsageError(problems[0]!);
    const peer = o.peer === undefined ? null : parseHostPort(o.peer as string, '--peer');
    const net = (o.net as 'sim' | 'udp' | undefined) ?? (peer !== null ? 'udp' : 'sim');
    if (net === 'sim' && peer !== null) throw new UsageError('--peer needs --net udp (the simulator has no real peers)');
    const link = chooseLink(o, net, true);
    const { forward, reverse } = link;
    const seed = (o.seed as number | undefined) ?? (Math.random() * 2 ** 32) >>> 0;
    const setup: TransferSetup = {
      transport,
      forward,
      reverse,
      totalBytes: (o.bytes as number | undefined) ?? 10_000_000,
      messageBytes: (o.messageSize as number | undefined) ?? 0,
      readRateBytesPerSecond: (o.readRate as number | undefined) ?? 0,
      verifyData: o.verify !== false,
      seed,
      intervalMs: (o.interval as number | undefined) ?? 100,
      timeLimitMs: (o.timeLimit as number | undefined) ?? (net === 'sim' ? 3_600_000 : 600_000),
    };
    const json = o.json === true;
    const capture = openCapture(o, net === 'udp', `packetlab transfer, ${net}, ${transport.protocol}, seed ${seed}`);
    const csv = o.csv === undefined ? null : new CsvWriter(o.csv as string, TRANSFER_COLUMNS);

    const progress = new Progress();
    const onSample = (s: TransferSample) => {
      csv?.write(s);
      if (json) jsonLine({ type: 'sample', ...s });
      else {
        printer!.add(s);
        progress.update(`t=${s.time_s.toFixed(1)} s  ${formatBitsPerSecond(s.goodput_bps)}  (Ctrl-C stops)`);
      }
    };
    if (!json) console.log(`${net === 'sim' ? 'simulated' : 'UDP'} transfer of ${formatBytes(setup.totalBytes)} ${link.description}: ${transport.protocol}, window ${transport.windowPackets}, seed ${seed} (reproduce with --seed ${seed})`);
    const printer = json ? null : new LinePrinter(new RowClock((o.printInterval as number | undefined) ?? 1000, setup.intervalMs));
    let summary: TransferSummary;
    let drops: DropLedger | null = null;
    if (net === 'sim') {
      // The simulator knows each datagram's fate: the data the link dropped is reconciled with what was sent again.
      const ledger = setup.totalBytes / setup.transport.mssBytes <= RECONCILE_MAX_PACKETS ? new FateRecorder() : null;
      summary = runSimTransfer(setup, { onSample, capture: capture?.capture, onBuild: (t) => ledger !== null && addTracer(t.forward, ledger) });
      if (ledger !== null) drops = reconcileDrops(summary.status, ledger);
    } else {
      const { signal, dispose } = stopSignal();
      try {
        summary = await runUdpTransfer({ setup, peer, socket, onSample, signal, capture: capture?.capture });
      } finally {
        dispose();
      }
    }
    progress.clear();
    printer?.finish();
    csv?.close();
    closeCapture(capture, json);
    if (json) jsonLine(drops === null ? summary : { ...summary, drops });
    else printSummary(summary, drops);
    if (drops !== null && !drops.reconciled) process.exitCode = 1;
    if (summary.status !== 'complete' || summary.dataMatched === false) process.exitCode = 1;
  });
}
