// The bulk application's data check: the receiver compares what it reads with the pattern and
// answers with a verdict; the sender checks it against what it sent and says what differed.

import { describe, expect, it } from 'vitest';
import { decodeVerdict, encodeVerdict, expectedVerdict, verdictProblem } from '../core/apps/bulk.js';
import { runSimTransfer } from '../workloads/transfer/sim-transfer.js';
import { DEFAULT_TRANSPORT_CONFIG } from '../core/transport/config.js';
import { NO_IMPAIRMENT } from '../core/impair/config.js';
import type { TransferSetup } from '../core/transfer/setup.js';
import { transferSetup } from './helpers/transfer-setup.js';

const setup = (o: Partial<TransferSetup>): TransferSetup => transferSetup(300_000, { forward: { ...NO_IMPAIRMENT, delayMs: 5 }, reverse: { ...NO_IMPAIRMENT, delayMs: 5 }, seed: 3, ...o });

describe('bulk data check', () => {
  it('a verdict survives its encoding, offsets beyond 2^32 included', () => {
    const v = { ...expectedVerdict(5 * 2 ** 32 + 7, 2 ** 31), firstDifferenceAt: 2 ** 40 + 3 };
    expect(decodeVerdict(encodeVerdict(v))).toEqual(v);
    expect(decodeVerdict(new Uint8Array([0]))).toBeNull();
    expect(decodeVerdict(new Uint8Array(56))).toBeNull();
  });

  it('names what differs: the first byte, a short read, the message count, moved boundaries', () => {
    const want = expectedVerdict(10_000, 1000);
    expect(want.messages).toBe(10);
    expect(verdictProblem(want, want)).toBeNull();
    expect(verdictProblem({ ...want, firstDifferenceAt: 1234 }, want)).toBe('byte 1,234 differs from what was sent (the first difference)');
    expect(verdictProblem({ ...want, bytesRead: 9000 }, want)).toBe('the receiver read 9,000 bytes, 10,000 were sent');
    expect(verdictProblem({ ...want, messages: 9 }, want)).toBe('the receiver read 9 messages, 10 were sent');
    expect(verdictProblem({ ...want, endsDigest: expectedVerdict(10_000, 999).endsDigest }, want)).toBe('message boundaries are not where they were sent');
    expect(expectedVerdict(10_000, 0).messages).toBe(0);
    expect(expectedVerdict(10_001, 1000).messages).toBe(11);
  });

  it('a clean transfer matches, by stream and by messages', () => {
    for (const messageBytes of [0, 777]) {
      const s = runSimTransfer(setup({ messageBytes }));
      expect(s.status).toBe('complete');
      expect(s.dataMatched).toBe(true);
      expect(s.dataProblem).toBeNull();
      expect(s.firstDifferenceAt).toBeNull();
    }
  });

  it('corruption let through with checksums off is caught, with the offset of the first bad byte', () => {
    const s = runSimTransfer(setup({ transport: { ...DEFAULT_TRANSPORT_CONFIG, protocol: 'sr', verifyChecksum: false }, forward: { ...NO_IMPAIRMENT, delayMs: 5, corruptProbability: 0.05, corruptBits: 1 } }));
    expect(s.status).toBe('complete');
    expect(s.dataMatched).toBe(false);
    expect(s.firstDifferenceAt).toBeGreaterThanOrEqual(0);
    expect(s.firstDifferenceAt).toBeLessThan(300_000);
    expect(s.dataProblem).toBe(`byte ${s.firstDifferenceAt!.toLocaleString('en')} differs from what was sent (the first difference)`);
  });
});

describe('the time limit of a simulated transfer', () => {
  it('stops the sender at the limit: a transfer that needs longer is a timeout, and sends no more after it', () => {
    // 10 MB over 10 Mbit/s needs about 8 s; the limit is 2 s.
    const link = { ...NO_IMPAIRMENT, rateBitsPerSecond: 10_000_000, delayMs: 25 };
    const s = runSimTransfer(transferSetup(10_000_000, { forward: link, reverse: { ...NO_IMPAIRMENT, delayMs: 25 }, timeLimitMs: 2000, seed: 1 }));
    expect(s.status).toBe('timeout');
    expect(s.failure).toMatch(/did not finish within 2000 ms of virtual time/);
    // What 2 s at 10 Mbit/s can carry, plus the packets in flight when the limit struck.
    const mss = DEFAULT_TRANSPORT_CONFIG.mssBytes;
    expect(s.sender.dataPacketsSent).toBeLessThan((2 * 10_000_000) / 8 / mss + DEFAULT_TRANSPORT_CONFIG.windowPackets + 1);
    expect(s.bytesAcknowledged).toBeLessThan(10_000_000);
  });
});
