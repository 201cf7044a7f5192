// Random transfer setups for the seeded swarm (TigerBeetle's VOPR habit): every knob drawn from
// the seed, faults up to 50% loss, so a failing seed reproduces exactly.

import { DEFAULT_TRANSPORT_CONFIG, type ArqMode } from '../../core/transport/config.js';
import { NO_IMPAIRMENT, type ImpairmentConfig } from '../../core/impair/config.js';
import { Rng } from '../../core/util/rng.js';
import type { TransferSetup } from '../../core/transfer/setup.js';

const round = (v: number, d = 3) => Number(v.toFixed(d));

function impairment(rng: Rng, maxLoss: number): ImpairmentConfig {
  const c: ImpairmentConfig = { ...NO_IMPAIRMENT };
  c.lossProbability = round(rng.uniform() * maxLoss);
  if (rng.uniform() < 0.3) {
    c.burstEnterProbability = round(0.005 + rng.uniform() * 0.1);
    c.burstExitProbability = round(0.2 + rng.uniform() * 0.6);
  }
  c.delayMs = round(1 + rng.uniform() * 40);
  if (rng.uniform() < 0.5) c.jitterMs = round(rng.uniform() * 10);
  if (rng.uniform() < 0.5) {
    c.reorderProbability = round(rng.uniform() * 0.2);
    c.reorderDelayMs = round(1 + rng.uniform() * 30);
  }
  if (rng.uniform() < 0.5) c.duplicateProbability = round(rng.uniform() * 0.1);
  if (rng.uniform() < 0.5) {
    c.corruptProbability = round(rng.uniform() * 0.1);
    c.corruptBits = 1 + rng.below(4);
  }
  if (rng.uniform() < 0.3) {
    c.rateBitsPerSecond = Math.round(1e5 + rng.uniform() * 1e7);
    c.queuePackets = 1 + rng.below(20);
  }
  return c;
}

function sizes(rng: Rng, mss: number): { totalBytes: number; messageBytes: number } {
  const messageBytes = rng.uniform() < 0.3 ? 1 + rng.below(3000) : 0;
  const unit = messageBytes > 0 ? Math.min(messageBytes, mss) : mss;
  return { totalBytes: 1 + rng.below(Math.min(20_000, 60 * unit)), messageBytes };
}

/** A random but reproducible transfer for `seed` with the given ARQ mode. */
export function swarmSetup(seed: number, protocol: ArqMode): TransferSetup {
  const rng = new Rng(seed * 3 + ['saw', 'gbn', 'sr'].indexOf(protocol));
  const mss = 64 + rng.below(1300);
  const adaptive = rng.uniform() < 0.6;
  const setup: TransferSetup = {
    transport: {
      ...DEFAULT_TRANSPORT_CONFIG,
      protocol,
      windowPackets: 1 + rng.below(32),
      mssBytes: mss,
      rcvBufferBytes: mss * (1 + rng.below(16)),
      sack: rng.uniform() < 0.5,
      dupAckThreshold: rng.below(5),
      ackEveryPackets: 1 + rng.below(4),
      ackDelayMs: round(rng.uniform() * 50),
      rtoMode: adaptive ? 'adaptive' : 'fixed',
      rtoMs: round(20 + rng.uniform() * 300),
      rtoMsMin: adaptive ? round(10 + rng.uniform() * 200) : DEFAULT_TRANSPORT_CONFIG.rtoMsMin,
      rtoMsMax: 2000,
      maxRetransmissions: 1000,
    },
    forward: impairment(rng, 0.5),
    reverse: impairment(rng, 0.3),
    // At most about 60 packets (or messages): enough to exercise windows and wrap-around of the
    // windows, few enough that stop-and-wait at 50% loss finishes well inside an hour.
    ...sizes(rng, mss),
    readRateBytesPerSecond: 0,
    seed,
    intervalMs: 100,
    timeLimitMs: 3_600_000,
  };
  // Drawn last, so that the draws above stay what they were for every seed.
  setup.transport.congestionControl = rng.uniform() < 0.5 ? 'aimd' : 'off';
  return setup;
}
