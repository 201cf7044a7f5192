// Selective repeat over real UDP against raw node:dgram, two processes each, same run:
//   raw:  one process blasts 1200-byte datagrams, another counts them (the floor any Node code has;
//         half a second of blasting first, not reported)
//   sr:   a packetlab listener process, and a sender process transferring with selective repeat
//         (a 50 MB warm-up transfer first, not reported, as iperf3 --omit skips the start)
// Goals: SR goodput >= 0.8 x raw at 0% loss, and >= 0.9 x (1 - p) x that at p = 5%.

import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { TransferSummary } from '../core/transfer/setup.js';
import type { ReceiverCpu } from './transport-peer.js';
import { median, num, printTable } from './lib.js';

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

/** Raw goodput (bits/s), the sender's CPU time per datagram, and the receiver's load. */
async function raw(durationMs: number): Promise<{ bps: number; cpu: Cpu; receiver: ReceiverLoad }> {
  const recv = start(['raw-recv']);
  const { port } = await recv.ready;
  const sender = start(['raw-send', String(port), String(durationMs)]);
  const s = (await sender.result) as { sent: number; cpuUs: NodeJS.CpuUsage };
  recv.child.send('stop');
  const r = (await recv.result) as { rate: number; measured: ReceiverCpu };
  return { bps: r.rate * 1200 * 8, cpu: perDatagram(s.cpuUs, s.sent), receiver: receiverLoad(r.measured) };
}

async function sr(bytes: number, loss: number): Promise<{ goodputBps: number; summary: TransferSummary; kernelDrops: number; cpu: Cpu; receiver: ReceiverLoad }> {
  const listener = start(['listen']);
  const { port } = await listener.ready;
  const sender = start(['transfer', String(port), String(bytes), String(loss)]);
  const summary = (await sender.result) as TransferSummary & { senderCpuUs: NodeJS.CpuUsage };
  listener.child.send('stop');
  const l = (await listener.result) as { kernelDrops: number; measured: ReceiverCpu | null };
  if (summary.status !== 'complete' || summary.dataMatched !== true) throw new Error(`benchmark transfer ${summary.status}: ${summary.failure ?? 'data mismatch'}`);
  return { goodputBps: summary.goodputBps, summary, kernelDrops: l.kernelDrops, cpu: perDatagram(summary.senderCpuUs, summary.sender.packetsSent), receiver: receiverLoad(l.measured) };
}

/** Runs the transport benchmark and prints its table. */
export async function benchTransport(): Promise<void> {
  const rawBps: number[] = [];
  const sr0: number[] = [];
  const sr5: number[] = [];
  const rtx5: number[] = [];
  const cpu = { raw: [] as Cpu[], sr0: [] as Cpu[], sr5: [] as Cpu[] };
  const rcv = { raw: [] as ReceiverLoad[], sr0: [] as ReceiverLoad[], sr5: [] as ReceiverLoad[] };
  for (let i = 0; i < RUNS; i++) {
    const r = await raw(2000);
    rawBps.push(r.bps);
    cpu.raw.push(r.cpu);
    rcv.raw.push(r.receiver);
    const r0 = await sr(300e6, 0);
    sr0.push(r0.goodputBps);
    cpu.sr0.push(r0.cpu);
    rcv.sr0.push(r0.receiver);
    const r5 = await sr(200e6, 0.05);
    sr5.push(r5.goodputBps);
    cpu.sr5.push(r5.cpu);
    rcv.sr5.push(r5.receiver);
    rtx5.push((r5.summary.sender.retransmitsTimeout + r5.summary.sender.retransmitsFast) / r5.summary.sender.dataPacketsSent);
  }
  const raw0 = median(rawBps);
  const g0 = median(sr0);
  const g5 = median(sr5);
  const cpuText = (xs: Cpu[]) => `${num(median(xs.map((c) => c.user + c.system)), 2)} (${num(median(xs.map((c) => c.user)), 2)} + ${num(median(xs.map((c) => c.system)), 2)})`;
  const rcvText = (xs: ReceiverLoad[]) => `${num(median(xs.map((x) => x.perDatagram)), 2)} (${num(median(xs.map((x) => x.busy)) * 100, 0)}% busy)`;
  printTable(
    `Selective repeat over real UDP on loopback vs raw node:dgram, two processes, 1200-byte datagrams (median of ${RUNS})`,
    ['case', 'goodput Mbit/s', 'ratio', 'goal', 'sender CPU us/datagram (user + system)', 'receiver CPU us/datagram'],
    [
      ['raw node:dgram one way (baseline)', num(raw0 / 1e6, 0), '1.00', '-', cpuText(cpu.raw), rcvText(rcv.raw)],
      ['sr, 0% loss', num(g0 / 1e6, 0), num(g0 / raw0, 2), '>= 0.80 of raw', cpuText(cpu.sr0), rcvText(rcv.sr0)],
      ['sr, 5% loss', num(g5 / 1e6, 0), num(g5 / (0.95 * g0), 2), '>= 0.90 of 0.95 x sr 0%', cpuText(cpu.sr5), rcvText(rcv.sr5)],
    ],
  );
  console.log(`raw: ${num(raw0 / 9600)} datagrams/s; sr at 5% loss resent ${num(median(rtx5) * 100, 1)}% of its packets`);
  console.log('sender CPU: user and system time of the sending process over the measured part, per datagram it sent (medians of each)');
  console.log('receiver CPU: user + system time of the receiving process per datagram it received, and the share of one core that kept busy: near 100% means the receiver sets the pace');
}
