// `packetlab transfer --listen` and `packetlab udp --listen`: a listener that serves reliable
// transfers and unreliable streams until Ctrl-C, printing one line per session and a summary of
// the SYNs it refused.

import { Option, type Command } from 'commander';
import { DEFAULT_LISTENER_CAPS, type ListenerCaps } from '../core/listener.js';
import { startListenerServer } from '../net/udp/listener-server.js';
import { BulkReceiver } from '../core/apps/bulk.js';
import { StreamReceiver } from '../core/stream/receiver.js';
import { formatBitsPerSecond, formatDurationMs, parseBytes, parseMs, parseNumber, parseRunDurationMs, formatBytes } from '../core/units.js';
import type { SocketConfig } from '../core/knobs.js';
import { jsonLine, stopSignal } from './output.js';
import { RefusalDigest, refusalText, type RefusalLine } from '../core/util/refusal-digest.js';
import { plainAddress } from '../core/util/address.js';
import { UsageError, parseListen } from './options.js';
import { durationArg, numberArg, rateCapsArg, type RateCaps } from './args.js';

/** Adds --listen and the listener caps. */
export function addListenOptions(cmd: Command): void {
  const g = 'Listener (with --listen):';
  const d = DEFAULT_LISTENER_CAPS;
  cmd.addOption(new Option('--listen [addr:port]', 'serve transfers and streams on this address (default 127.0.0.1:9000; loopback unless an address is given)').helpGroup(g));
  cmd.addOption(new Option('--max-sessions <n>', `sessions at once (default ${d.maxSessions})`).argParser(numberArg(parseNumber, 1, 1024, '--max-sessions', true)).helpGroup(g));
  cmd.addOption(new Option('--max-sessions-per-address <n>', `sessions at once from one IP address, any port (default ${d.maxSessionsPerAddress})`).argParser(numberArg(parseNumber, 1, 1024, '--max-sessions-per-address', true)).helpGroup(g));
  cmd.addOption(
    new Option('--max-rate <rate>', `highest stream rate a peer may ask for: bits/s when bare (1G), or packets/s with pps (150000pps); give it twice to cap both (default ${formatBitsPerSecond(d.maxStreamBitsPerSecond)} and ${d.maxStreamPacketsPerSecond}pps)`)
      .argParser(rateCapsArg('--max-rate', { min: 1, max: 10_000_000 }, { min: 1000, max: 100e9 }))
      .helpGroup(g),
  );
  cmd.addOption(new Option('--max-duration <time>', `longest stream or session; a bare number is seconds (default ${d.maxSessionMs / 1000}s)`).argParser(durationArg(parseRunDurationMs, 1, 24 * 3_600_000, '--max-duration')).helpGroup(g));
  cmd.addOption(
    new Option('--handshake-timeout <time>', `a reliable session whose peer has not completed the handshake, and sent nothing, for this long is forgotten (a late answer still revives it); a bare number is ms (default ${formatDurationMs(d.handshakeTimeoutMs)})`)
      .argParser(durationArg(parseMs, 1, 600_000, '--handshake-timeout'))
      .helpGroup(g),
  );
  cmd.addOption(
    new Option('--stream-idle-timeout <time>', `a stream session ends when no datagram of it arrived for this long (at least 4 report intervals and 4 datagram gaps); a bare number is ms (default ${formatDurationMs(d.streamIdleTimeoutMs)})`)
      .argParser(durationArg(parseMs, 1, 600_000, '--stream-idle-timeout'))
      .helpGroup(g),
  );
  cmd.addOption(
    new Option('--min-report-interval <time>', `shortest report interval of a stream; one asking for less gets its reports this often; a bare number is ms (default ${formatDurationMs(d.minReportIntervalMs)})`)
      .argParser(durationArg(parseMs, 10, 10_000, '--min-report-interval'))
      .helpGroup(g),
  );
  cmd.addOption(new Option('--max-rcv-buffer <bytes>', `largest receive buffer a peer may ask for (default ${d.maxRcvBufferBytes})`).argParser(numberArg(parseBytes, 1024, 1 << 30, '--max-rcv-buffer', true)).helpGroup(g));
}

/** Caps from the flags. */
export function capsFrom(o: Record<string, unknown>): ListenerCaps {
  const d = DEFAULT_LISTENER_CAPS;
  const dur = (o.maxDuration as number | undefined) ?? d.maxSessionMs;
  const rate = (o.maxRate as RateCaps | undefined) ?? {};
  return {
    maxSessions: (o.maxSessions as number | undefined) ?? d.maxSessions,
    maxSessionsPerAddress: (o.maxSessionsPerAddress as number | undefined) ?? d.maxSessionsPerAddress,
    maxStreamPacketsPerSecond: rate.packetsPerSecond ?? d.maxStreamPacketsPerSecond,
    maxStreamBitsPerSecond: rate.bitsPerSecond ?? d.maxStreamBitsPerSecond,
    maxStreamDurationMs: dur,
    maxSessionMs: dur,
    maxRcvBufferBytes: (o.maxRcvBuffer as number | undefined) ?? d.maxRcvBufferBytes,
    handshakeTimeoutMs: (o.handshakeTimeout as number | undefined) ?? d.handshakeTimeoutMs,
    streamIdleTimeoutMs: (o.streamIdleTimeout as number | undefined) ?? d.streamIdleTimeoutMs,
    minReportIntervalMs: (o.minReportInterval as number | undefined) ?? d.minReportIntervalMs,
  };
}

/** A line of the refusal log, as text or JSON. */
function printRefusal(l: RefusalLine, json: boolean): void {
  if (!json) console.log(refusalText(l, 'SYN'));
  else if (l.count === 1 && l.peer !== null) jsonLine({ type: 'refused', peer: l.peer, count: 1, reason: l.reason });
  else jsonLine({ type: 'refused', address: l.address, count: l.count, periodMs: Math.round(l.periodMs), reason: l.reason });
}

/**
 * With --listen, runs the listener until Ctrl-C instead of a sender and says so (true); the
 * sending side's recording and link flags do not apply there.
 */
export async function listenIfAsked(o: Record<string, unknown>, socket: SocketConfig): Promise<boolean> {
  if (o.listen === undefined) return false;
  if (o.pcap !== undefined || o.packetLog !== undefined) throw new UsageError('--pcap and --packet-log record the sending side; they do not apply to --listen');
  if (o.preset !== undefined) throw new UsageError('--preset emulates the link on the sending side; it does not apply to --listen');
  await runListener(o.listen as string | true, o, socket, o.json === true);
  return true;
}

/** Runs a listener until Ctrl-C. */
async function runListener(listen: string | true, o: Record<string, unknown>, socket: SocketConfig, json: boolean): Promise<void> {
  const at = parseListen(listen);
  // Refused SYNs are summarised: one line per address and reason per second at most, so that a
  // flood of them (5,544 lines in 1.2 s before) costs the log a line a second.
  const refusals = new RefusalDigest();
  let refusalTimer: NodeJS.Timeout | null = null;
  const drainRefusals = () => {
    const now = performance.now();
    for (let l = refusals.pollLine(now); l !== null; l = refusals.pollLine(now)) printRefusal(l, json);
    if (refusalTimer !== null) clearTimeout(refusalTimer);
    refusalTimer = null;
    const due = refusals.pollTimeout();
    if (due !== null) refusalTimer = setTimeout(drainRefusals, Math.max(0, due - now));
  };
  const server = await startListenerServer({
    host: at.host,
    port: at.port,
    caps: capsFrom(o),
    socket,
    onEvent: (e, peer) => {
      const who = peer === undefined ? '?' : `${peer.address}:${peer.port}`;
      if (e.type === 'refused') {
        refusals.note(performance.now(), peer === undefined ? '?' : plainAddress(peer.address), who, e.reason);
        drainRefusals();
        return;
      }
      if (json) {
        const base = { type: e.type, peer: who };
        if (e.type === 'session-opened') jsonLine({ ...base, connectionId: e.connectionId, options: e.options, note: e.note });
        else if (e.session instanceof BulkReceiver) jsonLine({ ...base, connectionId: e.connectionId, state: e.session.conn.state, failure: e.session.conn.failureReason, counters: e.session.conn.counters });
        else if (e.session instanceof StreamReceiver) jsonLine({ ...base, connectionId: e.connectionId, failure: e.session.failure, report: e.session.report(true) });
        return;
      }
      if (e.type === 'session-opened') {
        const what = e.options.service !== 2 ? `reliable ${e.options.protocol}, MSS ${e.options.mssBytes}` : `stream ${e.options.ratePacketsPerSecond} packets/s of ${e.options.datagramBytes} B for ${e.options.durationMs / 1000} s, reports every ${e.options.reportIntervalMs} ms`;
        console.log(`session from ${who}: ${what}${e.note === null ? '' : ` (${e.note})`}`);
      } else if (e.session instanceof BulkReceiver) {
        const c = e.session.conn.counters;
        const end = e.session.conn.failureReason === null ? 'done' : `failed: ${e.session.conn.failureReason}`;
        console.log(`session from ${who} ${end}: received ${formatBytes(c.deliveredBytes)}, ${c.duplicatesSuppressed} duplicates suppressed, ${c.outOfOrderBuffered} out of order buffered, ${c.checksumFailures} checksum failures`);
      } else if (e.session instanceof StreamReceiver) {
        const r = e.session.report(true);
        const end = e.session.failure === null ? 'done' : `ended: ${e.session.failure}`;
        console.log(`stream from ${who} ${end}: ${r.packetsReceived}/${r.packetsExpected} received, ${r.lost} lost, ${r.reordered} reordered, ${r.duplicates} duplicated, jitter ${r.jitterMs.toFixed(3)} ms, kernel drops ${Number.isNaN(r.kernelDrops) ? '-' : r.kernelDrops}`);
      }
    },
  });
  const { stopped, dispose } = stopSignal();
  const where = `${at.host.includes(':') ? `[${at.host}]` : at.host}:${server.port}`;
  if (json) jsonLine({ type: 'listening', address: where });
  else console.log(`listening on ${where} (UDP); Ctrl-C to stop`);
  await stopped;
  dispose();
  await server.close();
  // What is still owed, so that the lines' counts add up to the refusals.
  if (refusalTimer !== null) clearTimeout(refusalTimer);
  for (const l of refusals.flush(performance.now())) printRefusal(l, json);
  const c = server.listener.counters;
  if (json) jsonLine({ type: 'stopped', counters: { ...c } });
  else console.log(`stopped: ${c.sessionsOpened} sessions opened, ${c.refused.toLocaleString('en-US')} SYNs refused, ${c.stray.toLocaleString('en-US')} datagrams for no session, ${c.budgetDrops.toLocaleString('en-US')} datagrams not sent (not earned)`);
}
