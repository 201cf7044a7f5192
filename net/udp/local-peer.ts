// A packetlab listener in a worker thread on 127.0.0.1, for transfers and streams that run "locally"
// over real UDP sockets.

import { Worker } from 'node:worker_threads';
import { compiledModuleUrl } from '../paths.js';
import type { ReceiverChanges } from '../../core/transport/config.js';
import type { SessionStats } from './listener-server.js';
import type { LocalPeerData } from './local-peer-worker.js';

/** Latest statistics the worker posted. */
export interface LocalPeerStats {
  sessions: SessionStats[];
  kernelDrops: number;
}

/**
 * The receiving end of a transfer as the sending side reaches it (a local worker, or a peer agent's
 * listener through its control channel): its statistics and the live knobs of its sessions.
 */
export interface ReceivingEnd {
  /** The statistics known last (null before the first arrive). */
  latest(): LocalPeerStats | null;
  /** Asks for fresh statistics. */
  refresh(): Promise<LocalPeerStats | null>;
  /** Changes receiver-side knobs of reliable session `connectionId`; resolves with why not, or null. */
  reconfigure(connectionId: number, changes: ReceiverChanges): Promise<string | null>;
}

/** A running local peer. */
export interface LocalPeer extends ReceivingEnd {
  readonly port: number;
  /** The statistics posted last. */
  latest(): LocalPeerStats;
  /** Asks for fresh statistics. */
  refresh(): Promise<LocalPeerStats>;
  /** Stops the worker and returns its final statistics. */
  stop(): Promise<LocalPeerStats>;
}

/** Starts a listener worker on 127.0.0.1 with a free port. */
export async function startLocalPeer(data: LocalPeerData): Promise<LocalPeer> {
  const worker = new Worker(compiledModuleUrl(import.meta.url, './local-peer-worker.js'), { workerData: data });
  let latest: LocalPeerStats = { sessions: [], kernelDrops: Number.NaN };
  const waiters: ((s: LocalPeerStats) => void)[] = [];
  const reconfigured: ((error: string | null) => void)[] = [];
  const port = await new Promise<number>((resolve, reject) => {
    worker.on('message', (m: { type: string; port?: number; message?: string; error?: string | null } & Partial<LocalPeerStats>) => {
      if (m.type === 'ready') resolve(m.port!);
      else if (m.type === 'reconfigured') reconfigured.shift()?.(m.error ?? null);
      else if (m.type === 'error') reject(new Error(m.message));
      else if (m.type === 'stats') {
        latest = { sessions: m.sessions!, kernelDrops: m.kernelDrops! };
        for (const w of waiters.splice(0)) w(latest);
      }
    });
    worker.once('error', reject);
  });
  const ask = (type: 'stats' | 'stop') =>
    new Promise<LocalPeerStats>((resolve) => {
      waiters.push(resolve);
      worker.postMessage({ type });
    });
  return {
    port,
    latest: () => latest,
    refresh: () => ask('stats'),
    reconfigure: (connectionId, changes) =>
      new Promise<string | null>((resolve) => {
        reconfigured.push(resolve);
        worker.postMessage({ type: 'reconfigure', connectionId, changes });
      }),
    stop: async () => {
      const s = await ask('stop');
      await worker.terminate();
      return s;
    },
  };
}
