// The lab's congestion control beside ns-3's TcpNewReno (Debian's ns3 and libns3-dev, 3.37) on the
// same scenarios: bench/ns3/newreno.cc is built once into a temporary folder and run per scenario
// and seed; the lab runs the same transfer in its simulator. `npm run bench sim` prints both when
// ns-3 is installed, and test/ns3-reference.test.ts holds the lab to them.

import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { projectRoot } from '../net/paths.js';
import { NO_IMPAIRMENT } from '../core/impair/config.js';
import { DEFAULT_TRANSPORT_CONFIG } from '../core/transport/config.js';
import { runSimTransfer } from '../workloads/transfer/sim-transfer.js';
import { haveCommand } from './lib.js';


/** The ns-3 libraries the program links. */
const NS3_LIBS = ['core', 'network', 'internet', 'point-to-point', 'applications', 'traffic-control'].map((l) => `-lns3-${l}`);

/** One reference scenario: a bulk transfer over one link with a drop-tail queue, as both sides build it. */
export interface Ns3Scenario {
  name: string;
  bytes: number;
  rateBitsPerSecond: number;
  reverseRateBitsPerSecond: number;
  delayMs: number;
  queuePackets: number;
  loss: number;
  seeds: readonly number[];
  /** ns-3 options that make it the same TCP as the lab's where ns-3's defaults differ. */
  ns3: { delAckCount: number; minRtoMs: number; ssthresh: 'pipe' | 'flight' };
}

/** ns-3's defaults (ACK every second segment, RTO at least 1 s, ssthresh from its pipe): issue 19's figures. */
const NS3_DEFAULTS = { delAckCount: 2, minRtoMs: 1000, ssthresh: 'pipe' } as const;

/** The scenarios: issue 19's two, and one with random loss. */
export const NS3_SCENARIOS: readonly Ns3Scenario[] = [
  { name: '100 MB, 1 Gbit/s, 5 ms each way, queue 1000', bytes: 100e6, rateBitsPerSecond: 1e9, reverseRateBitsPerSecond: 100e6, delayMs: 5, queuePackets: 1000, loss: 0, seeds: [1], ns3: NS3_DEFAULTS },
  { name: '10 MB, 10 Mbit/s, 25 ms each way, queue 1000', bytes: 10e6, rateBitsPerSecond: 10e6, reverseRateBitsPerSecond: 10e6, delayMs: 25, queuePackets: 1000, loss: 0, seeds: [1], ns3: NS3_DEFAULTS },
  // Random loss, with ns-3 set as the lab is (an ACK per segment, RTO at least 200 ms): once with
  // ns-3's own ssthresh (half its pipe) and once with RFC 5681's (half the FlightSize), which the lab uses.
  { name: '10 MB, 10 Mbit/s, 25 ms, 1% loss (ns-3 ssthresh from pipe)', bytes: 10e6, rateBitsPerSecond: 10e6, reverseRateBitsPerSecond: 10e6, delayMs: 25, queuePackets: 1000, loss: 0.01, seeds: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10], ns3: { delAckCount: 1, minRtoMs: 200, ssthresh: 'pipe' } },
  { name: '10 MB, 10 Mbit/s, 25 ms, 1% loss (ns-3 ssthresh from FlightSize)', bytes: 10e6, rateBitsPerSecond: 10e6, reverseRateBitsPerSecond: 10e6, delayMs: 25, queuePackets: 1000, loss: 0.01, seeds: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10], ns3: { delAckCount: 1, minRtoMs: 200, ssthresh: 'flight' } },
];


/** Why the ns-3 reference cannot be built here, or null. */
export function ns3Unavailable(): string | null {
  if (!existsSync('/usr/include/ns3/core-module.h')) return 'ns-3 is not installed (apt-get install ns3 libns3-dev)';
  if (!haveCommand('g++')) return 'g++ is not installed (apt-get install g++)';
  return null;
}

let built: string | null = null;

/** Builds bench/ns3/newreno.cc (once per process) and returns the program's path. */
export function buildNs3Reference(): string {
  if (built !== null) return built;
  const out = join(mkdtempSync(join(tmpdir(), 'packetlab-ns3-')), 'newreno');
  // ns-3's pkg-config file is broken on Debian 12: the headers are under /usr/include/ns3 and the libraries on the default path.
  execFileSync('g++', ['-O2', '-std=c++17', '-I/usr/include', join(projectRoot(), 'bench', 'ns3', 'newreno.cc'), '-o', out, ...NS3_LIBS], { stdio: ['ignore', 'ignore', 'pipe'] });
  built = out;
  return out;
}

/** What ns-3 reports for one run. */
export interface Ns3Result {
  durationS: number;
  lossDrops: number;
  recoveries: number;
  timeouts: number;
}

/** Runs the ns-3 side of a scenario with one seed. */
export function runNs3(program: string, s: Ns3Scenario, seed: number): Ns3Result {
  const args = [`--bytes=${s.bytes}`, `--rate=${s.rateBitsPerSecond}`, `--rev-rate=${s.reverseRateBitsPerSecond}`, `--delay=${s.delayMs}`, `--queue=${s.queuePackets}`, `--loss=${s.loss}`, `--seed=${seed}`, `--del-ack-count=${s.ns3.delAckCount}`, `--min-rto=${s.ns3.minRtoMs}`, `--ssthresh=${s.ns3.ssthresh}`];
  const line = execFileSync(program, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }).trim().split('\n').pop()!;
  return JSON.parse(line) as Ns3Result;
}

/** What the lab reports for one run of the same scenario (AIMD, SACK, a window the network limits). */
export function runLab(s: Ns3Scenario, seed: number): { durationS: number; timeouts: number; recoveries: number } {
  const r = runSimTransfer({
    transport: { ...DEFAULT_TRANSPORT_CONFIG, congestionControl: 'aimd', windowPackets: 4096, rcvBufferBytes: 67_108_864 },
    forward: { ...NO_IMPAIRMENT, rateBitsPerSecond: s.rateBitsPerSecond, delayMs: s.delayMs, queuePackets: s.queuePackets, lossProbability: s.loss },
    reverse: { ...NO_IMPAIRMENT, rateBitsPerSecond: s.reverseRateBitsPerSecond, delayMs: s.delayMs },
    totalBytes: s.bytes,
    messageBytes: 0,
    readRateBytesPerSecond: 0,
    verifyData: false,
    seed,
    intervalMs: 100,
    timeLimitMs: 3_600_000,
  });
  if (r.status !== 'complete') throw new Error(`the lab's transfer of ${s.name}, seed ${seed}, ended ${r.status}: ${r.failure ?? ''}`);
  return { durationS: r.durationS, timeouts: r.sender.timeouts, recoveries: r.sender.fastRecoveries };
}

/** Mean of both sides over a scenario's seeds. */
export function compareWithNs3(program: string, s: Ns3Scenario): { ns3S: number; labS: number; ns3Timeouts: number; labTimeouts: number } {
  const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
  const ns3 = s.seeds.map((seed) => runNs3(program, s, seed));
  const lab = s.seeds.map((seed) => runLab(s, seed));
  return { ns3S: mean(ns3.map((x) => x.durationS)), labS: mean(lab.map((x) => x.durationS)), ns3Timeouts: ns3.reduce((a, x) => a + x.timeouts, 0), labTimeouts: lab.reduce((a, x) => a + x.timeouts, 0) };
}
