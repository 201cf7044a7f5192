// A replica of the replicated service as a process of its own on loopback: the replica host of
// core/rpc/replicas/replica.ts (the counter and key-value programs, a store of its own) on a UDP
// socket, registered with the lab binder (rpcbind version 4 SET). `packetlab rpc workload
// --replicas N --net udp` starts N of them (net/rpc/replica-process.ts), kills one with SIGKILL
// to crash it and starts it again on the same port to restart it.
//
//   node replica-main.js '{"index":0,"port":0,"binderPort":10111,"drc":true}'
//
// It prints "ready PORT" once it serves and is registered, sends its counters to its parent
// (IPC) every 100 ms, and on SIGTERM takes its registration back and exits. With primary-backup it
// is given every replica's port and the view service's: its peers have the ids the replica host
// expects (replica i is i, the view service N); a first start is in view 1 (replica 1 primary), a
// restart knows no view and pings with view 0, as a process that lost its state.

import { createSocket } from 'node:dgram';
import { ReplicaHost, type ReplicationMode } from '../../core/rpc/replicas/replica.js';
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
  /** Primary-backup: every replica's port (by number) and the view service's; none: absent. */
  primaryBackup?: { replicaPorts: number[]; viewServicePort: number; replicateDrc: boolean; pingIntervalMs: number; restarted: boolean };
}

/** What it sends its parent. */
export interface ReplicaReport {
  callsServed: number;
  counter: string;
  /** Replication messages it sent. */
  replicationMessages: number;
  /** Its role in the view it knows (primary-backup; 'primary' without replication). */
  role: string;
}

async function main(): Promise<void> {
  const o = JSON.parse(process.argv[2] ?? '{}') as ReplicaProcessOptions;
  const pb = o.primaryBackup;
  const peers = new PeerTable();
  // Replica i has id i and the view service id N, the addresses the replica host sends to.
  if (pb !== undefined) {
    for (const p of pb.replicaPorts) peers.idOf('127.0.0.1', p);
    peers.idOf('127.0.0.1', pb.viewServicePort);
  }
  const n = pb?.replicaPorts.length ?? 0;
  const mode: ReplicationMode = pb === undefined ? 'none' : 'primary-backup';
  const host = new ReplicaHost({
    index: o.index,
    replicas: Array.from({ length: n }, (_, i) => i),
    viewService: pb === undefined ? -1 : n,
    mode,
    drc: { ...DEFAULT_DRC_CONFIG, enabled: o.drc },
    replicateDrc: pb?.replicateDrc ?? false,
    pingIntervalMs: pb?.pingIntervalMs ?? 1000,
    restartDelayMs: 0,
    datagramReplies: UDP_REPLY_LIMITS,
    ledger: null,
  });
  if (pb !== undefined && !pb.restarted) host.startInitialView();
  const socket = createSocket('udp4');
  await new Promise<void>((resolve, reject) => {
    socket.once('error', reject);
    socket.bind(o.port, '127.0.0.1', () => resolve());
  });
  const port = socket.address().port;
  const driver = new UdpDriver({ socket, endpoint: host, peers });
  driver.start();
  const registrations = [CounterProgV1, KvProgV1].map((p) => replicaRegistration(p.program, p.version, port, `replica${o.index + 1}`));
  // A replica restarted on its port finds its registration still there (SET answers false).
  for (const r of registrations) await registerReplica(o.binderPort, r);
  const report = () => process.send?.({ callsServed: host.counters.callsServed, counter: host.counterValue.toString(), replicationMessages: host.counters.replicationMessages, role: host.currentRole } satisfies ReplicaReport);
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
