// The simulator agrees with theory within 5% where theory gives an answer.

import { describe, expect, it } from 'vitest';
import { runSimTransfer } from '../workloads/transfer/sim-transfer.js';
import { DEFAULT_TRANSPORT_CONFIG, type TransportConfig } from '../core/transport/config.js';
import { IP_UDP_OVERHEAD_BYTES, NO_IMPAIRMENT, type ImpairmentConfig } from '../core/impair/config.js';
import { HEADER_BYTES } from '../core/wire/packet.js';
import type { TransferSetup } from '../core/transfer/setup.js';
import { transferSetup } from './helpers/transfer-setup.js';

const MSS = 1164;
const WIRE_BITS = (MSS + HEADER_BYTES + IP_UDP_OVERHEAD_BYTES) * 8;

function setup(transport: Partial<TransportConfig>, forward: Partial<ImpairmentConfig>, reverse: Partial<ImpairmentConfig>, packets: number, seed = 1): TransferSetup {
  return transferSetup(packets * MSS, {
    transport: { ...DEFAULT_TRANSPORT_CONFIG, mssBytes: MSS, ...transport },
    forward: { ...NO_IMPAIRMENT, ...forward },
    reverse: { ...NO_IMPAIRMENT, ...reverse },
    seed,
    timeLimitMs: 3_600_000,
  });
}

function within5(measured: number, expected: number): void {
  expect(Math.abs(measured - expected) / expected, `measured ${measured}, expected ${expected}`).toBeLessThan(0.05);
}

describe('analytic agreement (simulator)', () => {
  it.each([1, 10, 50])('stop-and-wait throughput = L / (RTT + L/R) with %d ms one-way delay', (delayMs) => {
    const rate = 10e6;
    const s = runSimTransfer(setup({ protocol: 'saw' }, { delayMs, rateBitsPerSecond: rate }, { delayMs }, 400));
    expect(s.status).toBe('complete');
    const rtt = 2 * delayMs;
    const expected = (MSS * 8) / ((rtt + (WIRE_BITS * 1000) / rate) / 1000);
    within5(s.goodputBps, expected);
  });

  it.each([0.05, 0.2, 0.4])('selective repeat sends 1/(1-p) transmissions per packet at Bernoulli loss p = %f', (p) => {
    const s = runSimTransfer(setup({ protocol: 'sr', windowPackets: 64, rcvBufferBytes: 128 * MSS, rtoMsMax: 2000 }, { delayMs: 10, lossProbability: p }, { delayMs: 10 }, 8000, 1));
    expect(s.status).toBe('complete');
    expect(s.dataMatched).toBe(true);
    const c = s.sender;
    const transmissions = (c.dataPacketsSent + c.retransmitsTimeout + c.retransmitsFast) / c.dataPacketsSent;
    within5(transmissions, 1 / (1 - p));
  });

  it.each([
    ['a 1 Gbit/s bottleneck', { rateBitsPerSecond: 1e9, queuePackets: 10_000 }],
    ['bursts delivered at one instant', {}],
  ])('selective repeat with a 512-packet window recovers 5 percent loss through $0 without timeouts', (_name, link) => {
    const s = runSimTransfer({ ...setup({ protocol: 'sr', windowPackets: 512, rcvBufferBytes: 8 << 20, ackEveryPackets: 16, ackDelayMs: 1, rtoMsMin: 20 }, { delayMs: 0.2, lossProbability: 0.05, ...link }, { delayMs: 0.2 }, 20_000), verifyData: false });
    expect(s.status).toBe('complete');
    const c = s.sender;
    const lost = s.forward!.dropsRandom;
    expect(c.timeouts).toBeLessThanOrEqual(3);
    // Every loss resent once, give or take the retransmissions lost again and a few spurious ones.
    expect(c.retransmitsFast + c.retransmitsTimeout).toBeGreaterThanOrEqual(lost);
    expect(c.retransmitsFast + c.retransmitsTimeout).toBeLessThan(lost * 1.1);
    // Delayed ACKs (every 16) keep pacing behind a hole: far fewer ACKs than data packets.
    expect(c.packetsReceived).toBeLessThan(c.dataPacketsSent / 3);
  });

  it.each([8, 20, 50])('go-back-N below the bandwidth-delay product is window-limited: W L / RTT with W = %d', (w) => {
    const rate = 100e6;
    const delayMs = 10;
    // BDP = 100 Mbit/s x 20 ms = 250 kB, about 210 packets: every window here is below it.
    const s = runSimTransfer(setup({ protocol: 'gbn', windowPackets: w, rcvBufferBytes: 256 * MSS }, { delayMs, rateBitsPerSecond: rate }, { delayMs }, 3000));
    expect(s.status).toBe('complete');
    const rtt = 2 * delayMs + (WIRE_BITS * 1000) / rate;
    within5(s.goodputBps, (w * MSS * 8) / (rtt / 1000));
  });
});

describe('RTT samples from echoed timestamps', () => {
  // A queue makes the RTT grow past a small RTO: every packet times out once, spuriously. Karn's
  // rule alone would then never sample the RTT (every packet was retransmitted), Eifel would undo
  // each backoff, and the RTO would stay below the RTT for good. The echo names the transmission
  // (RFC 7323 (4.1)), so the sender samples anyway and the RTO catches up with the queue.
  it.each(['sr', 'gbn'] as const)('%s with a 5 ms minimum RTO behind a growing queue completes and samples the RTT', (protocol) => {
    const s = runSimTransfer({ ...setup({ protocol, windowPackets: 16, rcvBufferBytes: 1 << 20, rtoMsMin: 5 }, { delayMs: 0.1, rateBitsPerSecond: 10e6 }, { delayMs: 0.1 }, 1700), verifyData: false });
    expect(s.status, s.failure ?? '').toBe('complete');
    expect(s.sender.rttSamples).toBeGreaterThan(800);
    // The RTO still hugs a steady queueing delay (RFC 6298 lets RTTVAR shrink), so some timeouts
    // stay spurious: that is the lesson of a tiny minimum RTO, not a failure.
    expect(s.sender.retransmitsTimeout).toBeLessThan(s.sender.dataPacketsSent / 2);
  });
});
