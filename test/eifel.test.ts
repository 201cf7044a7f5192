// A spurious retransmission timeout under AIMD: the round trip jumps from 20 ms to 400 ms (a route
// change, a queue elsewhere) while a window of data is in flight, the RTO fires before any ACK can
// come back, and the ACKs that do come echo the first copies (RFC 3522, Eifel). RFC 4015's response
// restores the congestion window the timeout took away instead of starting again from one packet.

import { describe, expect, it } from 'vitest';
import { NO_IMPAIRMENT } from '../core/impair/config.js';
import { DEFAULT_TRANSPORT_CONFIG } from '../core/transport/config.js';
import { runSimTransfer } from '../workloads/transfer/sim-transfer.js';
import { transferSetup } from './helpers/transfer-setup.js';

describe('a spurious timeout (RFC 4015)', () => {
  it('is detected and undone: the window before the timeout comes back when the first copies are acknowledged', () => {
    const cwnd: { t: number; cwnd: number }[] = [];
    let before = Number.NaN;
    const s = runSimTransfer(
      transferSetup(20_000_000, {
        transport: { ...DEFAULT_TRANSPORT_CONFIG, congestionControl: 'aimd', windowPackets: 1024, rcvBufferBytes: 16 << 20 },
        forward: { ...NO_IMPAIRMENT, rateBitsPerSecond: 50e6, delayMs: 10, queuePackets: 2000 },
        reverse: { ...NO_IMPAIRMENT, delayMs: 10 },
        seed: 1,
      }),
      {
        onBuild: (t) => {
          // At 1 s the forward delay jumps to 390 ms (RTT 20 -> 400 ms); at 3 s it is back.
          let step = 0;
          t.sim.addTicker({
            pollTimeout: () => (step === 0 ? 1000 : step === 1 ? 3000 : null),
            handleTimeout: (now) => {
              if (step === 0) before = t.sender.conn.cwndPackets;
              t.forward.reconfigure({ delayMs: step === 0 ? 390 : 10 });
              step++;
              void now;
            },
          });
          let next = 0;
          t.sim.addTicker({
            pollTimeout: () => (t.sender.state === 'done' ? null : next),
            handleTimeout: (now) => {
              cwnd.push({ t: now, cwnd: t.sender.conn.cwndPackets });
              next = now + 10;
            },
          });
        },
      },
    );
    expect(s.status).toBe('complete');
    // The RTO (about 200 ms, its floor) fires before the first ACK of the slow path returns.
    expect(s.sender.timeouts).toBeGreaterThan(0);
    expect(s.sender.retransmitsSpurious).toBeGreaterThan(0);
    expect(before).toBeGreaterThan(50);
    // ...and once the ACK of the oldest packet's first copy arrives (one new round trip of 400 ms
    // after it was sent), the window is what it was before the timeout, not a slow start from one.
    // The timeout took the window to one packet...
    const timeout = cwnd.find((x) => x.t > 1000 && x.cwnd === 1)!;
    expect(timeout).toBeDefined();
    const after = cwnd.find((x) => x.t >= 1700)!;
    expect(after.cwnd).toBeGreaterThanOrEqual(before * 0.9);
  });
});
