// The bulk application's data check: the sender's expected digest comes from the pattern, and a
// transfer that delivers different bytes says so.

import { describe, expect, it } from 'vitest';
import { createHash } from 'node:crypto';
import { PATTERN_BYTES, makePattern, patternDigest } from '../core/apps/bulk.js';
import { runSimTransfer } from '../core/transfer/sim-transfer.js';
import { DEFAULT_TRANSPORT_CONFIG } from '../core/transport/config.js';
import { NO_IMPAIRMENT } from '../core/impair/config.js';
import type { TransferSetup } from '../core/transfer/setup.js';

/** The digest built the slow way: the whole stream in one buffer, a length after each message. */
function naiveDigest(pattern: Uint8Array, total: number, messageBytes: number): string {
  const parts: Buffer[] = [];
  for (let start = 0; start < total; start += messageBytes > 0 ? messageBytes : total) {
    const end = messageBytes > 0 ? Math.min(total, start + messageBytes) : total;
    const bytes = Buffer.alloc(end - start);
    for (let i = start; i < end; i++) bytes[i - start] = pattern[i % PATTERN_BYTES]!;
    parts.push(bytes);
    if (messageBytes > 0) {
      const len = Buffer.alloc(4);
      len.writeUInt32BE(end - start);
      parts.push(len);
    }
  }
  return createHash('sha256').update(Buffer.concat(parts)).digest('hex');
}

const setup = (o: Partial<TransferSetup>): TransferSetup => ({
  transport: { ...DEFAULT_TRANSPORT_CONFIG, protocol: 'sr' },
  forward: { ...NO_IMPAIRMENT, delayMs: 5 },
  reverse: { ...NO_IMPAIRMENT, delayMs: 5 },
  totalBytes: 300_000,
  messageBytes: 0,
  readRateBytesPerSecond: 0,
  seed: 3,
  intervalMs: 100,
  timeLimitMs: 60_000,
  ...o,
});

describe('bulk data check', () => {
  it('the expected digest is the pattern stream, cut into messages with their lengths', () => {
    const p = makePattern(7);
    for (const [total, msg] of [[0, 0], [1, 0], [200_000, 0], [200_000, 1000], [131_043, 65_521], [70_000, 65_522], [5, 3]] as const) {
      expect(Buffer.from(patternDigest(p, total, msg)).toString('hex'), `${total} bytes, messages of ${msg}`).toBe(naiveDigest(p, total, msg));
    }
  });

  it('a clean transfer matches, by stream and by messages', () => {
    for (const messageBytes of [0, 777]) {
      const s = runSimTransfer(setup({ messageBytes }));
      expect(s.status).toBe('complete');
      expect(s.dataMatched).toBe(true);
      expect(s.sentSha256).toBe(s.receivedSha256);
    }
  });

  it('corruption let through with checksums off is caught by the data check', () => {
    const s = runSimTransfer(setup({ transport: { ...DEFAULT_TRANSPORT_CONFIG, protocol: 'sr', verifyChecksum: false }, forward: { ...NO_IMPAIRMENT, delayMs: 5, corruptProbability: 0.05, corruptBits: 1 } }));
    expect(s.status).toBe('complete');
    expect(s.dataMatched).toBe(false);
    expect(s.sentSha256).not.toBe(s.receivedSha256);
    expect(s.sentSha256).toMatch(/^[0-9a-f]{64}$/);
  });
});
