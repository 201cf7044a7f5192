// Knobs of one direction of an emulated link. Ranges and defaults for user input are in
// core/knobs.ts; the link itself only asserts them.

/** How jitter is drawn around the base delay. */
export type JitterDistribution = 'uniform' | 'normal';

/** Every impairment of one direction. Each can change while traffic flows. */
export interface ImpairmentConfig {
  /** Bernoulli loss: each datagram is dropped with this probability. */
  lossProbability: number;
  /** Gilbert-Elliott burst loss: probability of going from the good to the bad state (p); 0 is off. */
  burstEnterProbability: number;
  /** Probability of leaving the bad state (r); the mean burst length is 1/r datagrams. */
  burstExitProbability: number;
  /** Loss probability in the bad state (1 - h). */
  burstLossBad: number;
  /** Loss probability in the good state (1 - k). */
  burstLossGood: number;
  /** One-way delay. */
  delayMs: number;
  /** Jitter added to the delay: half-width of the uniform, or standard deviation of the normal. */
  jitterMs: number;
  /** Shape of the jitter. */
  jitterDistribution: JitterDistribution;
  /** Probability that a datagram is held back by reorderDelayMs, so that later ones overtake it. */
  reorderProbability: number;
  /** Extra delay of a reordered datagram. */
  reorderDelayMs: number;
  /** Probability that a datagram is delivered twice. */
  duplicateProbability: number;
  /** Probability that a datagram has bits flipped. */
  corruptProbability: number;
  /** Bits flipped in a corrupted datagram. */
  corruptBits: number;
  /** Bottleneck rate in bits per second (datagram bytes plus 28 bytes of IP and UDP headers); 0 is unlimited. */
  rateBitsPerSecond: number;
  /** Drop-tail queue in front of the bottleneck, in datagrams. */
  queuePackets: number;
  /** Byte limit of that queue; 0 means only the datagram limit applies. */
  queueBytes: number;
  /** IP MTU: datagrams longer than this minus 28 bytes are dropped; 0 is no limit. */
  mtuBytes: number;
}

/** Bytes of IPv4 and UDP headers counted for the MTU and the bottleneck rate. */
export const IP_UDP_OVERHEAD_BYTES = 28;

/** A link that changes nothing. */
export const NO_IMPAIRMENT: Readonly<ImpairmentConfig> = Object.freeze({
  lossProbability: 0,
  burstEnterProbability: 0,
  burstExitProbability: 0.5,
  burstLossBad: 1,
  burstLossGood: 0,
  delayMs: 0,
  jitterMs: 0,
  jitterDistribution: 'uniform',
  reorderProbability: 0,
  reorderDelayMs: 10,
  duplicateProbability: 0,
  corruptProbability: 0,
  corruptBits: 1,
  rateBitsPerSecond: 0,
  queuePackets: 1000,
  queueBytes: 0,
  mtuBytes: 0,
});

/**
 * The field that switches each stage of the link on (any value but NO_IMPAIRMENT's; the other
 * fields only shape a stage that is on), and whether the whole records of a stream transport (TCP)
 * can pass the stage: one that drops, reorders, duplicates, corrupts or cuts datagrams would break
 * a byte stream's order and content, so the stream transports refuse it.
 */
export const IMPAIRMENT_STAGES = [
  { key: 'lossProbability', stream: false },
  { key: 'burstEnterProbability', stream: false },
  { key: 'burstLossGood', stream: false },
  { key: 'delayMs', stream: true },
  { key: 'jitterMs', stream: true },
  { key: 'reorderProbability', stream: false },
  { key: 'duplicateProbability', stream: false },
  { key: 'corruptProbability', stream: false },
  { key: 'rateBitsPerSecond', stream: true },
  { key: 'mtuBytes', stream: false },
] as const satisfies readonly { key: keyof ImpairmentConfig; stream: boolean }[];

/** True when a config impairs nothing: every stage is off. */
export function isTransparent(c: ImpairmentConfig): boolean {
  return IMPAIRMENT_STAGES.every((s) => c[s.key] === NO_IMPAIRMENT[s.key]);
}
