// `npm run bench hostile`: a million random and mutated datagrams (bench/hostile-inputs.ts) to each
// of the lab's listeners, in process and in virtual time, from 256 addresses: the listener of
// `transfer --listen`, `udp --listen`, loopback runs and the peer agent; the RPC server of `rpc
// serve-demo` over UDP; the lab's portmapper over UDP. Per listener it prints the largest ratio of
// bytes sent back to an address to bytes received from it (the lab's rule: at most 3), how many
// inputs threw (none may), the time, and the growth of the process's resident memory. The baseline
// in the same run: the same inputs drawn and counted with no listener, so that what the inputs
// themselves cost shows apart.

import fc from 'fast-check';
import { DEFAULT_LISTENER_CAPS, Listener } from '../core/listener.js';
import { labSessionFactory } from '../core/apps/services.js';
import { RpcServerEngine, UDP_REPLY_LIMITS } from '../core/rpc/server.js';
import { PortmapRegistry, portmapProgram } from '../core/rpc/portmap.js';
import { demoPrograms } from '../experiments/rpc/demo.js';
import { hostileBytes, hostileListenerDatagrams, rpcCallSeeds } from './hostile-inputs.js';
import { num, printTable } from './lib.js';

const INPUTS = 1_000_000;
const ADDRESSES = 256;

/** Something that takes datagrams from addresses and sends some back. */
interface Target {
  take(now: number, bytes: Uint8Array, from: number): void;
  /** Drains what it sends; calls `sent(to, bytes)` for each datagram. */
  drain(now: number, sent: (to: number, bytes: number) => void): void;
}

interface Figures {
  name: string;
  inputs: number;
  threw: number;
  worstRatio: number;
  seconds: number;
  rssGrowthMb: number;
}

function run(name: string, inputs: fc.Arbitrary<Uint8Array>, target: Target | null): Figures {
  const bytesIn = new Float64Array(ADDRESSES);
  const bytesOut = new Float64Array(ADDRESSES);
  const sent = (to: number, n: number) => (bytesOut[to]! += n);
  global.gc?.();
  const rss0 = process.memoryUsage().rss;
  const t0 = performance.now();
  let threw = 0;
  let now = 0;
  for (let done = 0, chunk = 0; done < INPUTS; chunk++) {
    const n = Math.min(10_000, INPUTS - done);
    for (const bytes of fc.sample(inputs, { numRuns: n, seed: 20261206 + chunk })) {
      const from = (bytes.length * 131 + (bytes[0] ?? 0) + (bytes[bytes.length - 1] ?? 0)) % ADDRESSES;
      bytesIn[from]! += bytes.length;
      if (target === null) continue;
      try {
        target.take(now, bytes, from);
        target.drain(now, sent);
      } catch {
        threw++;
      }
      now += 1;
    }
    done += n;
  }
  // An hour for every timer to run out, and what it sends then counts too.
  if (target !== null) {
    for (let s = 0; s < 3600; s++) {
      now += 1000;
      try {
        target.drain(now, sent);
      } catch {
        threw++;
      }
    }
  }
  const seconds = (performance.now() - t0) / 1000;
  global.gc?.();
  let worst = 0;
  for (let a = 0; a < ADDRESSES; a++) if (bytesIn[a]! > 0) worst = Math.max(worst, bytesOut[a]! / bytesIn[a]!);
  return { name, inputs: INPUTS, threw, worstRatio: worst, seconds, rssGrowthMb: (process.memoryUsage().rss - rss0) / 2 ** 20 };
}

function listenerTarget(): Target {
  const l = new Listener({ ...DEFAULT_LISTENER_CAPS }, labSessionFactory(), 11, { addressOf: (peer) => `10.0.${peer >> 4}.${peer & 15}` });
  return {
    take: (now, bytes, from) => l.handleDatagram(now, bytes, from),
    drain: (now, sent) => {
      const t = l.pollTimeout();
      if (t !== null && t <= now) l.handleTimeout(now);
      for (let d = l.pollTransmit(now); d !== null; d = l.pollTransmit(now)) sent(l.transmitTo, d.length);
      while (l.pollEvent() !== null);
    },
  };
}

function rpcTarget(programs: ConstructorParameters<typeof RpcServerEngine>[0]['programs']): Target {
  const e = new RpcServerEngine({ programs, drc: { enabled: true, maxEntries: 1024, maxAgeMs: 60_000 }, datagramReplies: UDP_REPLY_LIMITS });
  return {
    take: (now, bytes, from) => e.handleDatagram(now, bytes, from),
    drain: (_now, sent) => {
      for (let d = e.pollTransmit(); d !== null; d = e.pollTransmit()) sent(e.transmitTo, d.length);
    },
  };
}

/** Runs the hostile-traffic benchmark. */
export async function benchHostile(): Promise<void> {
  const demo = demoPrograms();
  // Entries to list and get, so that a reply could amplify if the limits let it.
  for (let i = 0; i < 50; i++) demo.kv.kvPut({ key: `key-${i}`, value: new Uint8Array(1024), expected_revision: null });
  const registry = new PortmapRegistry();
  for (let i = 0; i < 200; i++) registry.set({ prog: 0x30000000 + i, vers: 1, prot: 17, port: 2000 + i });
  const rows: Figures[] = [
    run('baseline: the listener inputs drawn, no listener', hostileListenerDatagrams(), null),
    run('listener (transfer, udp, peer agent)', hostileListenerDatagrams(), listenerTarget()),
    run('baseline: the RPC inputs drawn, no server', hostileBytes(rpcCallSeeds()), null),
    run('RPC server over UDP (rpc serve-demo)', hostileBytes(rpcCallSeeds()), rpcTarget(demo.programs)),
    run('lab portmapper over UDP (rpc binder)', hostileBytes(rpcCallSeeds()), rpcTarget([portmapProgram(registry)])),
  ];
  printTable(
    `Hostile traffic: ${num(INPUTS)} random and mutated datagrams per listener from ${ADDRESSES} addresses (virtual time, then an hour for timers); the lab's rule is at most 3x back`,
    ['listener', 'threw', 'largest bytes back / in, per address', 'seconds', 'RSS growth MB'],
    rows.map((r) => [r.name, num(r.threw), r.name.startsWith('baseline') ? '-' : r.worstRatio.toFixed(3), r.seconds.toFixed(1), r.rssGrowthMb.toFixed(1)]),
  );
}
