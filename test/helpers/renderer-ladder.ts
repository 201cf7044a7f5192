// The packets the ladder and the time-sequence graph are drawn from, as renderer tests write them.
// Named renderer-* because only renderer tests use it: the renderer's tsconfig checks it.

import type { LadderPacket } from '../../experiments/api/contract.js';

/**
 * A forward DATA packet of connection 1 with seq 1, sent at 0 s, neither a retransmission nor carrying an ACK, a
 * window or SACK blocks, and delivered 20 ms after it was sent; `p` replaces any of these. A test
 * passes every field its assertions depend on.
 */
export function ladderPacket(p: Partial<LadderPacket>): LadderPacket {
  const sentS = p.sentS ?? 0;
  return { sentS, arrivedS: sentS + 0.02, direction: 'forward', type: 'DATA', seq: 1, ack: null, retransmission: false, fate: 'delivered', windowBytes: null, sack: [], connection: 1, ...p };
}
