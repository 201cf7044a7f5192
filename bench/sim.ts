// Simulator speed: packet events per second (datagrams sent, datagrams delivered, timers fired)
// for bulk transfers, against a baseline of the bare event loop (links only, no engines). The
// transfers check their data by default (the receiver compares every byte with the pattern); the
// --no-verify rows show the simulator without that work.

import { runSimTransfer } from '../workloads/transfer/sim-transfer.js';
import { DEFAULT_TRANSPORT_CONFIG } from '../core/transport/config.js';
import { NO_IMPAIRMENT } from '../core/impair/config.js';
import { Link } from '../core/impair/link.js';
import { median, num, printTable } from './lib.js';
import { NS3_SCENARIOS, buildNs3Reference, compareWithNs3, ns3Unavailable } from './ns3.js';

function bareLinkEventsPerSecond(packets: number): number {
  // The floor of the simulator's own work: a link carrying datagrams with a delay, no engine.
  const link = new Link({ ...NO_IMPAIRMENT, delayMs: 1, rateBitsPerSecond: 1e9 }, 1);
  const dg = new Uint8Array(1200);
  const t0 = performance.now();
  let now = 0;
  let events = 0;
  for (let i = 0; i < packets; i++) {
    link.send(now, dg, 0, 1);
    events++;
    now += 0.01;
    for (let h = link.pollDeliver(now); h >= 0; h = link.pollDeliver(now)) {
      link.release(h);
      events++;
    }
  }
  return events / ((performance.now() - t0) / 1000);
}

/** Runs the simulator benchmark and prints its table. */
export async function benchSimulator(): Promise<void> {
  const cases = [
    { name: 'sr, no loss, 100 MB, window 256', protocol: 'sr' as const, loss: 0, verify: true },
    { name: 'sr, 5% loss, 100 MB, window 256', protocol: 'sr' as const, loss: 0.05, verify: true },
    { name: 'gbn, no loss, 100 MB, window 256', protocol: 'gbn' as const, loss: 0, verify: true },
    { name: 'sr, no loss, 100 MB, --no-verify', protocol: 'sr' as const, loss: 0, verify: false },
    { name: 'sr, 5% loss, 100 MB, --no-verify', protocol: 'sr' as const, loss: 0.05, verify: false },
  ];
  const rows: string[][] = [];
  rows.push(['bare link (baseline)', num(median([1, 2, 3].map(() => bareLinkEventsPerSecond(1_000_000)))), '-', '-']);
  const transfer = (c: (typeof cases)[number], seed: number, totalBytes: number) =>
    runSimTransfer({
      transport: { ...DEFAULT_TRANSPORT_CONFIG, protocol: c.protocol, windowPackets: 256, rcvBufferBytes: 8 << 20 },
      forward: { ...NO_IMPAIRMENT, delayMs: 1, lossProbability: c.loss, rateBitsPerSecond: 1e9 },
      reverse: { ...NO_IMPAIRMENT, delayMs: 1 },
      totalBytes,
      messageBytes: 0,
      readRateBytesPerSecond: 0,
      verifyData: c.verify,
      seed,
      intervalMs: 100,
      timeLimitMs: 3_600_000,
    });
  // Warm-up: every case once, small, so that the first case measured does not pay for the JIT.
  for (const c of cases) transfer(c, 99, 10e6);
  for (const c of cases) {
    const runs = [1, 2, 3].map((seed) => transfer(c, seed, 100e6));
    const ok = runs.every((r) => r.status === 'complete' && (c.verify ? r.dataMatched === true : r.dataMatched === null));
    rows.push([c.name, num(median(runs.map((r) => r.simEventsPerSecond!))), num(median(runs.map((r) => r.simEvents!))), !ok ? 'FAILED' : c.verify ? 'yes' : 'not checked']);
  }
  printTable('Simulator: packet events per second (median of 3; goal >= 1,000,000)', ['case', 'events/s', 'events', 'data matched'], rows);
  benchAgainstNs3();
}

/** The lab's AIMD beside ns-3's TcpNewReno on bench/ns3.ts's scenarios (simulated seconds), when ns-3 is installed. */
function benchAgainstNs3(): void {
  const why = ns3Unavailable();
  if (why !== null) {
    console.log(`\nCongestion control beside ns-3: skipped: ${why}`);
    return;
  }
  const program = buildNs3Reference();
  const rows = NS3_SCENARIOS.map((s) => {
    const c = compareWithNs3(program, s);
    return [s.name, String(s.seeds.length), c.ns3S.toFixed(3), c.labS.toFixed(3), `${(((c.labS - c.ns3S) / c.ns3S) * 100).toFixed(1)}%`, `${c.ns3Timeouts} / ${c.labTimeouts}`];
  });
  printTable("Congestion control: simulated seconds of a transfer, ns-3 3.37 TcpNewReno beside the lab's AIMD (mean over seeds)", ['scenario', 'seeds', 'ns-3 s', 'lab s', 'lab vs ns-3', 'timeouts ns-3 / lab'], rows);
}
