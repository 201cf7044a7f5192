// `packetlab peer`: the peer agent, the far end of LAN experiments. It serves an authenticated
// control channel on TCP; clients that know the token start listeners, RPC servers and echoes on
// this machine, within the caps set here. Logs one line per client event and rejection
// (connections turned away are summarised: a line per address and reason a second at most).

import { statSync } from 'node:fs';
import { Option, type Command } from 'commander';
import { DEFAULT_PEER_CAPS, DEFAULT_AGENT_LISTENER_GUARDS, CAP_FLAGS, GUARD_FLAGS, type AgentListenerGuards } from '../../core/peer/caps.js';
import { DEFAULT_PEER_PORT, startPeerAgent, type PeerLogEntry } from '../../net/peer/agent.js';
import { BEACON_PORT, BEACON_INTERVAL_MS } from '../../core/peer/beacon.js';
import { tokenProblem } from '../../core/peer/protocol.js';
import { readTokenFile } from '../token.js';
import type { PeerCaps } from '../../core/peer/messages.js';
import { formatBitsPerSecond, formatBytes, formatDurationMs, parseBytes, parseMs, parseNumber, parseRunDurationMs } from '../../core/units.js';
import { durationArg, numberArg, rateCapsArg, type RateCaps } from '../args.js';
import { UsageError, parseListen } from '../options.js';
import { jsonLine, stopSignal } from '../output.js';
import { portArg } from './rpc-options.js';

/** Where the token comes from, and the token. */
export function readToken(o: { token?: string; tokenFile?: string }, env: NodeJS.ProcessEnv = process.env): { token: string; source: string } {
  if (o.token !== undefined && o.tokenFile !== undefined) throw new UsageError('give the token once: --token or --token-file, not both');
  let token: string;
  let source: string;
  if (o.token !== undefined) {
    token = o.token;
    source = '--token';
  } else if (o.tokenFile !== undefined) {
    token = readTokenFile(o.tokenFile, '--token-file');
    source = `--token-file ${o.tokenFile}`;
  } else if (env.PACKETLAB_TOKEN !== undefined && env.PACKETLAB_TOKEN !== '') {
    token = env.PACKETLAB_TOKEN;
    source = 'PACKETLAB_TOKEN';
  } else {
    throw new UsageError('a token is needed: --token SECRET, --token-file FILE or the PACKETLAB_TOKEN environment variable (make one with: openssl rand -hex 16)');
  }
  const problem = tokenProblem(token);
  if (problem !== null) throw new UsageError(`${source}: ${problem}`);
  return { token, source };
}

/** Parses --listen: ADDR:PORT, [IPv6]:PORT or PORT (port 0 picks a free one, printed at start). */
export function parsePeerListen(text: string): { host: string; port: number } {
  const m = /^\[([0-9a-fA-F:.]+)\]:(\d+)$/.exec(text) ?? /^([^:[\]]+):(\d+)$/.exec(text);
  if (m === null) return parseListen(text);
  const port = Number(m[2]);
  if (port > 65535) throw new UsageError(`--listen: port ${m[2]} is not from 0 to 65535`);
  return { host: m[1] === 'localhost' ? '127.0.0.1' : m[1]!, port };
}

/** Bytes as users type them back: 16MiB, 64KiB, or plain bytes. */
function binaryBytes(n: number): string {
  if (n >= 1024 * 1024 && n % (1024 * 1024) === 0) return `${n / (1024 * 1024)}MiB`;
  if (n >= 1024 && n % 1024 === 0) return `${n / 1024}KiB`;
  return formatBytes(n);
}

function capsText(c: PeerCaps): string {
  return [
    `${c.maxServicesPerClient} services per client, ${c.maxClients} clients at once`,
    `${c.maxSessionsPerListener} sessions per listener`,
    `streams and echoes up to ${c.maxRatePacketsPerSecond} packets/s and ${formatBitsPerSecond(c.maxRateBitsPerSecond)}`,
    `services and sessions up to ${c.maxDurationMs / 1000} s`,
    `socket buffers up to ${binaryBytes(c.maxSocketBufferBytes)}, receive buffers up to ${binaryBytes(c.maxRcvBufferBytes)}`,
    `RPC records up to ${binaryBytes(c.maxRpcRecordBytes)}, caches up to ${c.maxDrcEntries} requests`,
  ].join('; ');
}

function isLoopback(host: string): boolean {
  return host === '::1' || /^127\./.test(host);
}

/** Registers `packetlab peer`. */
export function registerPeer(program: Command): void {
  const d = DEFAULT_PEER_CAPS;
  const cmd = program
    .command('peer')
    .summary('run the peer agent: the far end of experiments on another machine')
    .description(
      `Runs the peer agent: clients that know the token start packetlab listeners (reliable transfers, UDP streams), RPC servers (the counter program over udp, tcp, plt) and UDP echoes on this machine, within the caps below, and read their counters. The control channel is TCP, every message authenticated with HMAC-SHA256 keyed from the token; a client's services stop when its connection ends. The agent binds to 127.0.0.1 unless --listen names another address, and announces itself every ${BEACON_INTERVAL_MS / 1000} s on UDP port ${BEACON_PORT} (name, port and version; never the token). See docs/peer.md.`,
    );
  const g = 'Agent:';
  cmd.addOption(new Option('--listen <addr:port>', `control port (default 127.0.0.1:${DEFAULT_PEER_PORT}: this machine only; 0.0.0.0:${DEFAULT_PEER_PORT} or an address of this machine opens it to the LAN)`).helpGroup(g));
  cmd.addOption(new Option('--token <secret>', 'the shared secret, at least 8 characters (other users see it in `ps`: prefer --token-file or PACKETLAB_TOKEN)').helpGroup(g));
  cmd.addOption(new Option('--token-file <file>', 'read the token from the first line of a file').helpGroup(g));
  cmd.addOption(new Option('--name <name>', 'name in beacons and in the welcome (default: the host name)').helpGroup(g));
  cmd.addOption(new Option('--no-beacon', 'do not announce the agent on the LAN').helpGroup(g));
  cmd.addOption(new Option('--beacon-port <port>', `UDP port of the beacons (default ${BEACON_PORT})`).argParser(portArg('--beacon-port')).helpGroup(g));
  cmd.addOption(new Option('--json', 'print JSON lines (listening, then one per log entry)').helpGroup(g));
  const c = 'Caps (what one client may ask for):';
  const cap = (key: keyof PeerCaps, arg: string, what: string, parser: (t: string) => number, shown: string) =>
    cmd.addOption(new Option(`${CAP_FLAGS[key]} <${arg}>`, `${what} (default ${shown})`).argParser(parser).helpGroup(c));
  const count = (key: keyof PeerCaps, min: number, max: number) => numberArg(parseNumber, min, max, CAP_FLAGS[key], true);
  const bytes = (key: keyof PeerCaps, min: number, max: number) => numberArg(parseBytes, min, max, CAP_FLAGS[key], true);
  cap('maxClients', 'n', 'clients at once', count('maxClients', 1, 64), String(d.maxClients));
  cap('maxServicesPerClient', 'n', 'services one client may run at once', count('maxServicesPerClient', 1, 64), String(d.maxServicesPerClient));
  cap('maxSessionsPerListener', 'n', 'sessions at once in one listener', count('maxSessionsPerListener', 1, 64), String(d.maxSessionsPerListener));
  // One flag for both rate caps, as the listener's --max-rate: the unit of each value says which.
  cmd.addOption(
    new Option('--max-rate <rate>', `highest stream or echo rate: bits/s when bare (10M, 1G), or packets/s with pps (200000pps); give it twice to set both caps (default ${d.maxRateBitsPerSecond / 1e9}G and ${d.maxRatePacketsPerSecond}pps)`)
      .argParser(rateCapsArg('--max-rate', { min: 1, max: 10_000_000 }, { min: 1000, max: 100e9 }))
      .helpGroup(c),
  );
  cap('maxDurationMs', 'time', 'longest life of a service and of a session in it; a bare number is seconds', durationArg(parseRunDurationMs, 1000, 86_400_000, CAP_FLAGS.maxDurationMs), `${d.maxDurationMs / 1000}s`);
  cap('maxSocketBufferBytes', 'bytes', 'largest SO_RCVBUF/SO_SNDBUF a service may ask for', bytes('maxSocketBufferBytes', 0, 256 * 1024 * 1024), binaryBytes(d.maxSocketBufferBytes));
  cap('maxRcvBufferBytes', 'bytes', 'largest receive buffer of one reliable session', bytes('maxRcvBufferBytes', 1024, 64 * 1024 * 1024), binaryBytes(d.maxRcvBufferBytes));
  cap('maxRpcRecordBytes', 'bytes', 'largest RPC record or message', bytes('maxRpcRecordBytes', 1024, 64 * 1024 * 1024), binaryBytes(d.maxRpcRecordBytes));
  cap('maxDrcEntries', 'n', 'largest RPC duplicate request cache, in requests', count('maxDrcEntries', 1, 1_000_000), String(d.maxDrcEntries));
  const lg = 'Listener guards (of the listeners the agent runs; as `packetlab transfer --listen` has them):';
  const gd = DEFAULT_AGENT_LISTENER_GUARDS;
  cmd.addOption(
    new Option(`${GUARD_FLAGS.handshakeTimeoutMs} <time>`, `a lab-transport session whose peer has not completed the handshake, and sent nothing, for this long is forgotten; a bare number is ms (default ${formatDurationMs(gd.handshakeTimeoutMs)})`)
      .argParser(durationArg(parseMs, 1, 600_000, GUARD_FLAGS.handshakeTimeoutMs))
      .helpGroup(lg),
  );
  cmd.addOption(
    new Option(`${GUARD_FLAGS.streamIdleTimeoutMs} <time>`, `a stream session ends when no datagram of it arrived for this long; a bare number is ms (default ${formatDurationMs(gd.streamIdleTimeoutMs)})`)
      .argParser(durationArg(parseMs, 1, 600_000, GUARD_FLAGS.streamIdleTimeoutMs))
      .helpGroup(lg),
  );
  cmd.addOption(
    new Option(`${GUARD_FLAGS.minReportIntervalMs} <time>`, `shortest report interval of a stream; a bare number is ms (default ${formatDurationMs(gd.minReportIntervalMs)})`)
      .argParser(durationArg(parseMs, 10, 10_000, GUARD_FLAGS.minReportIntervalMs))
      .helpGroup(lg),
  );
  cmd.action(async (o: Record<string, unknown>) => {
    const { token, source } = readToken(o as { token?: string; tokenFile?: string });
    const at = o.listen === undefined ? { host: '127.0.0.1', port: DEFAULT_PEER_PORT } : parsePeerListen(o.listen as string);
    const caps: Partial<PeerCaps> = {};
    for (const key of Object.keys(CAP_FLAGS) as (keyof PeerCaps)[]) {
      if (key === 'maxRatePacketsPerSecond' || key === 'maxRateBitsPerSecond') continue;
      const attr = CAP_FLAGS[key].slice(2).replace(/-([a-z])/g, (_, ch: string) => ch.toUpperCase());
      const v = o[attr] as number | undefined;
      if (v !== undefined) caps[key] = v;
    }
    const listenerGuards: Partial<AgentListenerGuards> = {};
    if (o.handshakeTimeout !== undefined) listenerGuards.handshakeTimeoutMs = o.handshakeTimeout as number;
    if (o.streamIdleTimeout !== undefined) listenerGuards.streamIdleTimeoutMs = o.streamIdleTimeout as number;
    if (o.minReportInterval !== undefined) listenerGuards.minReportIntervalMs = o.minReportInterval as number;
    const rate = (o.maxRate as RateCaps | undefined) ?? {};
    if (rate.packetsPerSecond !== undefined) caps.maxRatePacketsPerSecond = rate.packetsPerSecond;
    if (rate.bitsPerSecond !== undefined) caps.maxRateBitsPerSecond = rate.bitsPerSecond;
    const json = o.json === true;
    if (source === '--token') process.stderr.write('packetlab: note: a token on the command line is visible to other users of this machine (ps); --token-file or PACKETLAB_TOKEN keep it private\n');
    if (o.tokenFile !== undefined) {
      try {
        if ((statSync(o.tokenFile as string).mode & 0o044) !== 0) process.stderr.write(`packetlab: note: ${o.tokenFile as string} is readable by other users (chmod 600 it)\n`);
      } catch {
        // It was just read; a stat failure here changes nothing.
      }
    }
    const log = (e: PeerLogEntry) => {
      const time = new Date().toISOString();
      if (json) jsonLine({ type: 'log', time, ...e });
      else console.log(`${time} ${e.level === 'warn' ? 'WARN ' : ''}${e.remote ?? 'agent'}: ${e.message}`);
    };
    const agent = await startPeerAgent({
      host: at.host,
      port: at.port,
      token,
      caps,
      listenerGuards,
      log,
      name: o.name as string | undefined,
      beacon: o.beacon === false ? false : { port: o.beaconPort as number | undefined },
    });
    const { stopped, dispose } = stopSignal();
    const where = `${agent.host.includes(':') ? `[${agent.host}]` : agent.host}:${agent.port}`;
    if (json) {
      jsonLine({ type: 'listening', host: agent.host, port: agent.port, name: agent.name, tokenSource: source, caps: agent.caps, listenerGuards: agent.listenerGuards, beacon: agent.beacon === null ? null : { port: agent.beacon.port, destinations: agent.beacon.destinations } });
    } else {
      console.log(`peer agent "${agent.name}" on ${where} (TCP control channel), token from ${source}`);
      console.log(`caps: ${capsText(agent.caps)}`);
      const g = agent.listenerGuards;
      console.log(`listeners: a handshake not completed in ${formatDurationMs(g.handshakeTimeoutMs)} is forgotten, a stream without data for ${formatDurationMs(g.streamIdleTimeoutMs)} ends, reports at most every ${formatDurationMs(g.minReportIntervalMs)}; replies to an address at most 3x what it sent until it proved it is there`);
      if (agent.beacon !== null) console.log(`beacon every ${BEACON_INTERVAL_MS / 1000} s to ${agent.beacon.destinations.map((a) => `${a}:${agent.beacon!.port}`).join(', ')} (name, port and version; never the token)`);
      else console.log(o.beacon === false ? 'no beacon (--no-beacon)' : 'no beacon: no IPv4 broadcast address for this address');
      if (isLoopback(agent.host)) console.log(`bound to loopback: only this machine reaches it (--listen 0.0.0.0:${agent.port} or an address of this machine opens it to the LAN)`);
      console.log(`use it from the client machine with the same token (PACKETLAB_TOKEN or --token-file): packetlab run SPEC --net ${where}; \`packetlab peers\` lists the agents it hears`);
      console.log('Ctrl-C to stop');
    }
    await stopped;
    dispose();
    await agent.close();
    if (json) jsonLine({ type: 'stopped' });
    else console.log('peer agent stopped');
  });
}
