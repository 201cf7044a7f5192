// Worker thread that runs a packetlab listener on loopback for local runs, so that the far end has
// its own event loop (and core) as a second host would. It reports its sessions' counters.

import { parentPort, workerData } from 'node:worker_threads';
import type { ReceiverChanges } from '../../core/transport/config.js';
import { startListenerServer, type ListenerServerOptions } from './listener-server.js';

/** What the parent sends to the worker. */
export interface LocalPeerData {
  options: Omit<ListenerServerOptions, 'onEvent'>;
  statsIntervalMs: number;
}

const data = workerData as LocalPeerData;
const port = parentPort!;
try {
  const server = await startListenerServer(data.options);
  const post = () => port.postMessage({ type: 'stats', sessions: server.sessions(), kernelDrops: server.kernelDrops() });
  const timer = setInterval(post, data.statsIntervalMs);
  port.on('message', (m: { type: string; connectionId?: number; changes?: ReceiverChanges }) => {
    if (m.type === 'stats') post();
    if (m.type === 'reconfigure') port.postMessage({ type: 'reconfigured', error: server.reconfigure(m.connectionId!, m.changes!) });
    if (m.type === 'stop') {
      clearInterval(timer);
      post();
      void server.close().then(() => port.close());
    }
  });
  port.postMessage({ type: 'ready', port: server.port });
} catch (err) {
  port.postMessage({ type: 'error', message: (err as Error).message });
}
