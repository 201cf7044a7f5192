// `packetlab peers`: lists the peer agents announcing themselves on the LAN (and on this machine).

import { Option, type Command } from 'commander';
import { BEACON_INTERVAL_MS, BEACON_PORT } from '../../core/peer/beacon.js';
import { listenForPeers } from '../../net/peer/beacon.js';
import { parseRunDurationMs } from '../../core/units.js';
import { durationArg } from '../args.js';
import { jsonLine } from '../output.js';
import { portArg } from './rpc-options.js';

/** Registers `packetlab peers`. */
export function registerPeers(program: Command): void {
  program
    .command('peers')
    .summary('list the peer agents heard on the LAN')
    .description(
      `Listens for the beacons peer agents (\`packetlab peer\`) send every ${BEACON_INTERVAL_MS / 1000} s on UDP port ${BEACON_PORT} and lists each agent once: the address and control port to give experiments, its name and version. Agents bound to loopback are heard on this machine only. A beacon proves nothing: connecting still needs the token.`,
    )
    .addOption(new Option('--seconds <time>', 'how long to listen; a bare number is seconds (default 3)').argParser(durationArg(parseRunDurationMs, 100, 3_600_000, '--seconds')))
    .addOption(new Option('--port <port>', `UDP port to listen on (default ${BEACON_PORT})`).argParser(portArg('--port')))
    .addOption(new Option('--json', 'print one JSON object per agent'))
    .action(async (o: { seconds?: number; port?: number; json?: boolean }) => {
      // --seconds is parsed into milliseconds like every other duration.
      const listenMs = o.seconds ?? 3000;
      const seconds = listenMs / 1000;
      const peers = await listenForPeers(listenMs, { port: o.port });
      if (o.json === true) {
        for (const p of peers) jsonLine({ type: 'peer', ...p });
        return;
      }
      if (peers.length === 0) {
        console.log(`no peer agents heard in ${seconds} s on UDP port ${o.port ?? BEACON_PORT} (start one with \`packetlab peer --listen ADDR:PORT --token-file FILE\`)`);
        return;
      }
      const rows = peers.map((p) => [`${p.address}:${p.controlPort}`, p.name, p.version, String(p.beacons), `${((Date.now() - p.lastSeenMs) / 1000).toFixed(1)} s ago`]);
      const head = ['agent', 'name', 'version', 'beacons', 'last heard'];
      const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
      const line = (cells: string[]) => cells.map((c, i) => c.padEnd(widths[i]!)).join('  ').trimEnd();
      console.log(line(head));
      for (const r of rows) console.log(line(r));
    });
}
