// Selective repeat over real UDP against raw node:dgram, two processes each, same run:
//   raw:  one process blasts 1200-byte datagrams, another counts them (the floor any Node code has;
//         half a second of blasting first, not reported)
//   checked: the raw pair, but every datagram carries the wire format's header and CRC32C, and the
//         receiver verifies the checksum and the payload; no acks, no retransmissions. What is left
//         between it and raw is the price of the checksum and the data check alone, the least any
//         checked transfer pays per datagram
//   sr:   a packetlab listener process, and a sender process transferring with selective repeat
//         (a 50 MB warm-up transfer first, not reported, as iperf3 --omit skips the start)
// Goals: SR goodput >= 0.8 x raw at 0% loss, and >= 0.9 x (1 - p) x that at p = 5%.

import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { TransferSummary } from '../core/transfer/setup.js';
import { retransmissionsTotal } from '../core/transport/metrics.js';
import type { ReceiverCpu } from './transport-peer.js';
import { median, num, printTable } from './lib.js';
import { HEADER_BYTES } from '../core/wire/packet.js';
import { BENCH_DATAGRAM_BYTES, BENCH_TRANSPORT } from './transport-config.js';

const PEER = fileURLToPath(new URL('./transport-peer.js', import.meta.url));
const RUNS = 3;

function start(args: string[]): { child: ChildProcess; ready: Promise<{ port: number }>; result: Promise<unknown> } {
  const child = fork(PEER, args, { stdio: ['ignore', 'pipe', 'inherit', 'ipc'] });
  let out = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  const ready = new Promise<{ port: number }>((resolve) => child.once('message', (m) => resolve(m as { port: number })));
  const result = new Promise<unknown>((resolve, reject) =>
    child.on('exit', (code) => (code === 0 || code === null ? resolve(JSON.parse(out.trim().split('\n').pop() || 'null')) : reject(new Error(`transport-peer ${args[0]} exited ${code}`)))),
  );
  return { child, ready, result };
}

/** CPU time per datagram (us), user and system. */
interface Cpu {
  user: number;
  system: number;
}

const perDatagram = (cpu: NodeJS.CpuUsage, datagrams: number): Cpu => ({ user: cpu.user / datagrams, system: cpu.system / datagrams });

/** The receiving process's CPU time per datagram it received, and the share of one core it kept busy. */
interface ReceiverLoad {
  perDatagram: number;
  busy: number;
}

function receiverLoad(m: ReceiverCpu | null): ReceiverLoad {
  if (m === null || m.datagrams <= 0 || m.wallMs <= 0) return { perDatagram: Number.NaN, busy: Number.NaN };
  const us = m.cpuUs.user + m.cpuUs.system;
  return { perDatagram: us / m.datagrams, busy: us / 1000 / m.wallMs };
}

/** One measured run: goodput, the sender's CPU time per datagram, the receiver's load, and the share of packets resent. */
interface Run {
  bps: number;
  cpu: Cpu;
  receiver: ReceiverLoad;
  resent: number;
}

/** The raw pair, or with `checked` the pair of checked datagrams; bps counts what they carry (the payload, when checked). */
async function raw(durationMs: number, checked: boolean): Promise<Run> {
  const mode = checked ? ['checked'] : [];
  const recv = start(['raw-recv', ...mode]);
  const { port } = await recv.ready;
  const sender = start(['raw-send', String(port), String(durationMs), ...mode]);
  const s = (await sender.result) as { sent: number; cpuUs: NodeJS.CpuUsage };
  recv.child.send('stop');
  const r = (await recv.result) as { rate: number; bad: number; measured: ReceiverCpu | null };
  if (r.bad > 0) throw new Error(`${r.bad} checked datagrams failed the receiver's checks`);
  return { bps: r.rate * (checked ? BENCH_TRANSPORT.mssBytes : BENCH_DATAGRAM_BYTES) * 8, cpu: perDatagram(s.cpuUs, s.sent), receiver: receiverLoad(r.measured), resent: 0 };
}

async function sr(bytes: number, loss: number): Promise<Run> {
  const listener = start(['listen']);
  const { port } = await listener.ready;
  const sender = start(['transfer', String(port), String(bytes), String(loss)]);
  const summary = (await sender.result) as TransferSummary & { senderCpuUs: NodeJS.CpuUsage };
  listener.child.send('stop');
  const l = (await listener.result) as { measured: ReceiverCpu | null };
  if (summary.status !== 'complete' || summary.dataMatched !== true) throw new Error(`benchmark transfer ${summary.status}: ${summary.failure ?? 'data mismatch'}`);
  const tx = summary.sender;
  return { bps: summary.goodputBps, cpu: perDatagram(summary.senderCpuUs, tx.packetsSent), receiver: receiverLoad(l.measured), resent: retransmissionsTotal(tx) / tx.dataPacketsSent };
}

/** Runs the transport benchmark and prints its table. */
export async function benchTransport(): Promise<void> {
  const runs: Record<'raw' | 'checked' | 'sr0' | 'sr5', Run[]> = { raw: [], checked: [], sr0: [], sr5: [] };
  for (let i = 0; i < RUNS; i++) {
    runs.raw.push(await raw(2000, false));
    runs.checked.push(await raw(2000, true));
    runs.sr0.push(await sr(300e6, 0));
    runs.sr5.push(await sr(200e6, 0.05));
  }
  const med = (xs: Run[], f: (r: Run) => number) => median(xs.map(f));
  const raw0 = med(runs.raw, (r) => r.bps);
  const checked = med(runs.checked, (r) => r.bps);
  const g0 = med(runs.sr0, (r) => r.bps);
  const g5 = med(runs.sr5, (r) => r.bps);
  const cpuText = (xs: Run[]) => `${num(med(xs, (r) => r.cpu.user + r.cpu.system), 2)} (${num(med(xs, (r) => r.cpu.user), 2)} + ${num(med(xs, (r) => r.cpu.system), 2)})`;
  const rcvText = (xs: Run[]) => `${num(med(xs, (r) => r.receiver.perDatagram), 2)} (${num(med(xs, (r) => r.receiver.busy) * 100, 0)}% busy)`;
  const row = (name: string, xs: Run[], bps: number, ratio: number, goal: string) => [name, num(bps / 1e6, 0), num(ratio, 2), goal, cpuText(xs), rcvText(xs)];
  printTable(
    `Selective repeat over real UDP on loopback vs raw node:dgram, two processes, 1200-byte datagrams (median of ${RUNS})`,
    ['case', 'goodput Mbit/s', 'ratio', 'goal', 'sender CPU us/datagram (user + system)', 'receiver CPU us/datagram'],
    [
      row('raw node:dgram one way (baseline)', runs.raw, raw0, 1, '-'),
      row('checked datagrams one way, no ARQ', runs.checked, checked, checked / raw0, '-'),
      row('sr, 0% loss', runs.sr0, g0, g0 / raw0, '>= 0.80 of raw'),
      row('sr, 5% loss', runs.sr5, g5, g5 / (0.95 * g0), '>= 0.90 of 0.95 x sr 0%'),
    ],
  );
  console.log(`raw: ${num(raw0 / (BENCH_DATAGRAM_BYTES * 8))} datagrams/s; sr at 5% loss resent ${num(med(runs.sr5, (r) => r.resent) * 100, 1)}% of its packets`);
  console.log(`checked: each datagram carries the ${HEADER_BYTES}-byte header and a CRC32C, the receiver verifies both and the payload, nothing is acknowledged; goodput counts the payload, so the header alone costs ${num((HEADER_BYTES / BENCH_DATAGRAM_BYTES) * 100, 0)}%`);
  console.log('sender CPU: user and system time of the sending process over the measured part, per datagram it sent (medians of each)');
  console.log('receiver CPU: user + system time of the receiving process per datagram it received, and the share of one core that kept busy: near 100% means the receiver sets the pace');
}
