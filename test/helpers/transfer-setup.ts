// The transfer setup tests start from, so each test states only what it is about.

import { DEFAULT_TRANSPORT_CONFIG } from '../../core/transport/config.js';
import { NO_IMPAIRMENT } from '../../core/impair/config.js';
import type { TransferSetup } from '../../core/transfer/setup.js';

/**
 * A transfer of `bytes` with the default transport (selective repeat), unimpaired links, a byte
 * stream read at once, seed 1, samples every 100 ms and a 60 s limit; `over` replaces any of them.
 */
export function transferSetup(bytes: number, over: Partial<TransferSetup> = {}): TransferSetup {
  return {
    transport: { ...DEFAULT_TRANSPORT_CONFIG },
    forward: { ...NO_IMPAIRMENT },
    reverse: { ...NO_IMPAIRMENT },
    totalBytes: bytes,
    messageBytes: 0,
    readRateBytesPerSecond: 0,
    seed: 1,
    intervalMs: 100,
    timeLimitMs: 60_000,
    ...over,
  };
}
