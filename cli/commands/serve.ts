// `packetlab serve`: the desktop app's UI for a browser, with the lab API on a WebSocket.

import { join } from 'node:path';
import type { Command } from 'commander';
import { projectRoot } from '../../net/paths.js';
import { startLabServer } from '../../experiments/api/serve.js';
import { defaultRunsDir, defaultSpecsDir } from '../../experiments/runner/store.js';
import { UsageError } from '../options.js';
import { jsonLine } from '../output.js';
import { numberArg } from '../args.js';
import { parseNumber } from '../../core/units.js';
import { readTokenFile } from '../token.js';

// How the app gets the token of peer agents: --help says it after the options.
const PEER_TOKEN_HELP = `
Peer agents: runs against a \`packetlab peer\` agent on another machine (a spec's network
peer:HOST:PORT, or a peer chosen in the app) present the agent's token. The app reads it from
the first line of --peer-token-file FILE, else from the PACKETLAB_TOKEN environment variable of
this command (PACKETLAB_TOKEN=... packetlab serve). There is no flag that takes the token itself:
a command line is visible to every user of the machine (ps), so the app never puts the token on
one, not even for the worker threads that run experiments. Keep the file readable by you only
(chmod 600 FILE). --token is another secret: the key of this page, not of peer agents.`;

/** Registers `serve`. */
export function registerServe(program: Command): void {
  program
    .command('serve')
    .description('serve the app to a browser: the UI over HTTP and the lab API over a WebSocket (token required)')
    .option('--host <address>', 'address to bind; anything but loopback exposes the lab to the network', '127.0.0.1')
    .option('--port <n>', 'TCP port (0 picks a free one)', numberArg(parseNumber, 0, 65535, '--port', true), 8765)
    .option('--token <token>', 'token the page must present (default: a random one, printed in the URL)')
    .option('--runs-dir <dir>', `results folder (default ${defaultRunsDir()})`)
    .option('--specs-dir <dir>', `folder of saved specs (default ${defaultSpecsDir()})`)
    .option('--no-beacons', 'do not listen for LAN peer agents\' beacons (UDP 9877)')
    .option('--print-url-json', 'print {"url": ...} as one JSON line once listening (for scripts and tests)')
    .option('--peer-token-file <file>', 'read the token of peer agents from the first line of a file (default: $PACKETLAB_TOKEN); see below')
    .option('--max-clients <n>', 'WebSocket clients (pages) at once', numberArg(parseNumber, 1, 256, '--max-clients', true), 8)
    .option('--max-clients-per-address <n>', 'WebSocket clients at once from one address', numberArg(parseNumber, 1, 256, '--max-clients-per-address', true), 4)
    .option('--max-calls-per-second <n>', 'lab API calls a client may make per second; more are answered with an error', numberArg(parseNumber, 1, 100_000, '--max-calls-per-second', true), 200)
    .addHelpText('after', `${PEER_TOKEN_HELP}

Fixed limits besides: a WebSocket message of at most 1 MiB (a larger one closes the connection)
nested at most 16 levels, 2 runs at once.`)
    .action(async (opts: { host: string; port: number; token?: string; runsDir?: string; specsDir?: string; printUrlJson?: boolean; beacons: boolean; peerTokenFile?: string; maxClients: number; maxClientsPerAddress: number; maxCallsPerSecond: number }) => {
      if (opts.token !== undefined && opts.token.length < 16) throw new UsageError('--token must be at least 16 characters');
      // Read before serving, so that a missing or bad file is a usage error at once, not a failed run later.
      const peerToken = opts.peerTokenFile === undefined ? undefined : readTokenFile(opts.peerTokenFile, '--peer-token-file');
      const server = await startLabServer({
        host: opts.host,
        port: opts.port,
        token: opts.token,
        rendererDir: join(projectRoot(), 'dist', 'renderer'),
        runsDir: opts.runsDir ?? defaultRunsDir(),
        specsDir: opts.specsDir ?? defaultSpecsDir(),
        beaconPort: opts.beacons ? undefined : null,
        peerToken,
        maxClients: opts.maxClients,
        maxClientsPerAddress: opts.maxClientsPerAddress,
        maxCallsPerSecond: opts.maxCallsPerSecond,
      });
      if (opts.printUrlJson === true) jsonLine({ url: server.url, port: server.port });
      else {
        console.log(`Packet Lab is served at ${server.url}`);
        console.log('Open that URL in a browser (the token in it is the key to the lab; keep it to yourself). Ctrl-C stops.');
        if (opts.host !== '127.0.0.1' && opts.host !== '::1' && opts.host !== 'localhost') console.log(`warning: bound to ${opts.host}: anyone who can reach it and has the token can run experiments from this machine`);
      }
      await new Promise<void>((resolve) => {
        const stop = () => resolve();
        process.once('SIGINT', stop);
        process.once('SIGTERM', stop);
      });
      await server.close();
    });
}
