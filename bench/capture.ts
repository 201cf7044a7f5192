// Capture overhead: a simulated transfer with no capture, with a capture whose bytes are counted
// and thrown away (the cost of framing, annotating and encoding), and with pcapng plus packet log
// written to files. The same seed in each case, so every run carries the same datagrams.

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Capture } from '../core/capture/capture.js';
import { type ByteSink } from '../core/capture/sink.js';
import { FileSink } from '../net/capture/file-sink.js';
import { runSimTransfer } from '../workloads/transfer/sim-transfer.js';
import { DEFAULT_TRANSPORT_CONFIG } from '../core/transport/config.js';
import { NO_IMPAIRMENT } from '../core/impair/config.js';
import type { TransferSetup } from '../core/transfer/setup.js';
import { median, num, printTable } from './lib.js';

class CountingSink implements ByteSink {
  bytes = 0;
  write(b: Uint8Array): void {
    this.bytes += b.length;
  }
  flush(): void {}
  close(): void {}
}

const setup = (seed: number): TransferSetup => ({
  transport: { ...DEFAULT_TRANSPORT_CONFIG, protocol: 'sr', windowPackets: 256, rcvBufferBytes: 8 << 20 },
  forward: { ...NO_IMPAIRMENT, delayMs: 1, lossProbability: 0.01, rateBitsPerSecond: 1e9 },
  reverse: { ...NO_IMPAIRMENT, delayMs: 1 },
  totalBytes: 20e6,
  messageBytes: 0,
  readRateBytesPerSecond: 0,
  seed,
  intervalMs: 100,
  timeLimitMs: 3_600_000,
});

function once(mode: 'off' | 'counted' | 'pcap' | 'pcap+log', dir: string): { wallS: number; events: number; bytes: number } {
  let capture: Capture | null = null;
  let counted: CountingSink | null = null;
  if (mode === 'counted') {
    counted = new CountingSink();
    capture = new Capture({ pcap: counted });
  } else if (mode !== 'off') {
    capture = new Capture({ pcap: new FileSink(join(dir, 'bench.pcapng')), log: mode === 'pcap+log' ? new FileSink(join(dir, 'bench.jsonl')) : null });
  }
  const t0 = performance.now();
  const s = runSimTransfer(setup(1), capture === null ? {} : { capture });
  const stats = capture?.close();
  const wallS = (performance.now() - t0) / 1000;
  if (s.dataMatched !== true) throw new Error('bench transfer did not complete');
  return { wallS, events: s.simEvents!, bytes: counted?.bytes ?? stats?.bytesWritten ?? 0 };
}

/** Runs the capture benchmark and prints its table. */
export async function benchCapture(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'packetlab-bench-'));
  try {
    const rows: string[][] = [];
    let base = 0;
    for (const mode of ['off', 'counted', 'pcap', 'pcap+log'] as const) {
      const runs = [1, 2, 3].map(() => once(mode, dir));
      const wall = median(runs.map((r) => r.wallS));
      if (mode === 'off') base = wall;
      const bytes = runs[0]!.bytes;
      rows.push([mode, num(wall * 1000), num(median(runs.map((r) => r.events / r.wallS))), mode === 'off' ? '-' : `${num((wall / base - 1) * 100)}%`, bytes === 0 ? '-' : num(bytes / 1e6, 1)]);
    }
    printTable('Capture: 20 MB simulated transfer, sr, 1% loss (median of 3)', ['capture', 'wall ms', 'events/s', 'overhead', 'pcapng MB'], rows);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
