// A replica of the replicated service as a process of its own on loopback: the replica host of
// core/rpc/replicas/replica.ts (the counter and key-value programs, a store of its own) on a UDP
// socket, registered with the lab binder (rpcbind version 4 SET). `packetlab rpc workload
// --replicas N --net udp` starts N of them (net/rpc/replica-process.ts), kills one with SIGKILL
// to crash it and starts it again on the same port to restart it.
//
//   node replica-main.js '{"index":0,"port":0,"binderPort":10111,"drc":true}'
//
// It prints "ready PORT" once it serves and is registered, sends its counters to its parent
// (IPC) every 100 ms, and on SIGTERM takes its registration back and exits.

import { createSocket } from 'node:dgram';
import { ReplicaHost } from '../../core/rpc/replicas/replica.js';
import { DEFAULT_DRC_CONFIG } from '../../core/rpc/drc.js';
import { UDP_REPLY_LIMITS } from '../../core/rpc/server.js';
import { CounterProgV1 } from '../../core/rpc/programs/counter.js';
import { KvProgV1 } from '../../core/rpc/programs/kv.js';
import { PeerTable, UdpDriver } from '../udp/driver.js';
import { registerReplica, replicaRegistration, unregisterReplica } from './binder.js';

/** What a replica process is started with. */
export interface ReplicaProcessOptions {
  /** Its number, from 0. */
  index: number;
  /** UDP port on 127.0.0.1 (0: any; a restart passes the port it had). */
  port: number;
  binderPort: number;
  drc: boolean;
}

/** What it sends its parent. */
export interface ReplicaReport {
  callsServed: number;
  counter: string;
}

async function main(): Promise<void> {
  const o = JSON.parse(process.argv[2] ?? '{}') as ReplicaProcessOptions;
  const host = new ReplicaHost({ index: o.index, replicas: [], viewService: -1, mode: 'none', drc: { ...DEFAULT_DRC_CONFIG, enabled: o.drc }, replicateDrc: false, pingIntervalMs: 1000, restartDelayMs: 0, datagramReplies: UDP_REPLY_LIMITS, ledger: null });
  const socket = createSocket('udp4');
  await new Promise<void>((resolve, reject) => {
    socket.once('error', reject);
    socket.bind(o.port, '127.0.0.1', () => resolve());
  });
  const port = socket.address().port;
  const driver = new UdpDriver({ socket, endpoint: host, peers: new PeerTable() });
  driver.start();
  const registrations = [CounterProgV1, KvProgV1].map((p) => replicaRegistration(p.program, p.version, port, `replica${o.index + 1}`));
  // A replica restarted on its port finds its registration still there (SET answers false).
  for (const r of registrations) await registerReplica(o.binderPort, r);
  const report = () => process.send?.({ callsServed: host.counters.callsServed, counter: host.counterValue.toString() } satisfies ReplicaReport);
  const timer = setInterval(report, 100);
  process.stdout.write(`ready ${port}\n`);
  const stop = async () => {
    clearInterval(timer);
    report();
    driver.stop();
    for (const r of registrations) await unregisterReplica(o.binderPort, r).catch(() => false);
    socket.close();
    process.exit(0);
  };
  process.on('SIGTERM', () => void stop());
  process.on('disconnect', () => void stop());
}

main().catch((e: unknown) => {
  process.stderr.write(`replica: ${(e as Error).message}\n`);
  process.exit(1);
});
