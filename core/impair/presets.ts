// Named link profiles a user picks in one click (the app), with `preset` in a spec or with
// --preset on the command line. Each sets both directions; anything set explicitly (spec
// sections, sweeps, live changes, impairment flags) wins over the preset, so a preset is a
// starting point to edit. docs/experiments.md lists the values and where they come from: typical
// figures of each access technology, not measurements of one network.

import type { ImpairmentConfig } from './config.js';
import { formatBitsPerSecond } from '../units.js';

/** A named pair of link directions. */
export interface LinkPreset {
  label: string;
  description: string;
  /** Data direction (downlink for access links: the server sends to the user). */
  forward: Partial<ImpairmentConfig>;
  /** Return direction (uplink). */
  reverse: Partial<ImpairmentConfig>;
}

// ideal: no delay, no rate limit and no loss. These five knobs are the ones that turn every other
// preset's impairment off (jitter's shape, the queue and the burst model's other parameters do
// nothing without them), so applying it to a running trial leaves a clean link.
const IDEAL_DIRECTION = { delayMs: 0, jitterMs: 0, rateBitsPerSecond: 0, lossProbability: 0, burstEnterProbability: 0 } as const;

// lab: a lab bench or a home network on fibre, the simulator's link when a command names none.
// 100 Mbit/s is Fast Ethernet or a common home plan; 5 ms each way (a 10 ms round trip) is a
// metro path to a nearby server. The drop-tail queue holds one bandwidth-delay product, the
// classic buffer size that lets one AIMD flow keep the link busy after it halves its window
// (Villamizar and Song, 1994): 100 Mbit/s x 10 ms = 125,000 bytes, or 102 datagrams of the
// transport's 1,228 bytes on the wire (1,164 of payload, 36 of header, 28 of IP and UDP), rounded
// to 100. With the transport's default window of 32 packets a transfer then runs at about
// 30 Mbit/s, window-limited, which is the first lesson the link teaches.
const LAB_DIRECTION = { delayMs: 5, rateBitsPerSecond: 100e6, queuePackets: 100 } as const;

/** The presets, by name. */
export const LINK_PRESETS = {
  ideal: {
    label: 'Ideal (no impairment)',
    description: 'no delay, no rate limit, no loss: every datagram arrives at once',
    forward: IDEAL_DIRECTION,
    reverse: IDEAL_DIRECTION,
  },
  lab: {
    label: 'Lab network (100 Mbit/s, 5 ms)',
    description: 'a lab bench or home network: 100 Mbit/s, 5 ms each way, a queue of one bandwidth-delay product, no loss',
    forward: LAB_DIRECTION,
    reverse: LAB_DIRECTION,
  },
  lan: {
    label: 'LAN (1 Gbit/s Ethernet)',
    description: 'switched gigabit Ethernet: sub-millisecond delay, no loss',
    forward: { delayMs: 0.1, jitterMs: 0.02, rateBitsPerSecond: 1e9, queuePackets: 1000 },
    reverse: { delayMs: 0.1, jitterMs: 0.02, rateBitsPerSecond: 1e9, queuePackets: 1000 },
  },
  wifi: {
    label: 'Wi-Fi (good signal)',
    description: '802.11ac near the access point: a few ms, some jitter, rare loss',
    forward: { delayMs: 2, jitterMs: 1, jitterDistribution: 'normal', rateBitsPerSecond: 200e6, queuePackets: 500, lossProbability: 0.001 },
    reverse: { delayMs: 2, jitterMs: 1, jitterDistribution: 'normal', rateBitsPerSecond: 100e6, queuePackets: 500, lossProbability: 0.001 },
  },
  'lossy-wifi': {
    label: 'Lossy Wi-Fi (weak signal)',
    description: 'far from the access point: more jitter and bursts of loss (Gilbert-Elliott)',
    forward: { delayMs: 4, jitterMs: 3, jitterDistribution: 'normal', rateBitsPerSecond: 20e6, queuePackets: 300, lossProbability: 0.01, burstEnterProbability: 0.01, burstExitProbability: 0.3, burstLossBad: 0.5 },
    reverse: { delayMs: 4, jitterMs: 3, jitterDistribution: 'normal', rateBitsPerSecond: 10e6, queuePackets: 300, lossProbability: 0.01, burstEnterProbability: 0.01, burstExitProbability: 0.3, burstLossBad: 0.5 },
  },
  dsl: {
    label: 'DSL (16/1 Mbit/s)',
    description: 'ADSL2+: asymmetric, 10 ms to the first router, deep modem buffers',
    forward: { delayMs: 10, jitterMs: 1, rateBitsPerSecond: 16e6, queuePackets: 200 },
    reverse: { delayMs: 10, jitterMs: 1, rateBitsPerSecond: 1e6, queuePackets: 100 },
  },
  '3g': {
    label: '3G (HSPA)',
    description: 'HSPA mobile data: 50 ms each way, jitter, some loss',
    forward: { delayMs: 50, jitterMs: 10, jitterDistribution: 'normal', rateBitsPerSecond: 2e6, queuePackets: 60, lossProbability: 0.01 },
    reverse: { delayMs: 50, jitterMs: 10, jitterDistribution: 'normal', rateBitsPerSecond: 0.5e6, queuePackets: 60, lossProbability: 0.01 },
  },
  '4g': {
    label: '4G (LTE)',
    description: 'LTE mobile data: 25 ms each way, moderate jitter, little loss',
    forward: { delayMs: 25, jitterMs: 5, jitterDistribution: 'normal', rateBitsPerSecond: 30e6, queuePackets: 200, lossProbability: 0.002 },
    reverse: { delayMs: 25, jitterMs: 5, jitterDistribution: 'normal', rateBitsPerSecond: 10e6, queuePackets: 200, lossProbability: 0.002 },
  },
  satellite: {
    label: 'Satellite (GEO)',
    description: 'geostationary satellite: 300 ms each way, asymmetric, a large bandwidth-delay product',
    forward: { delayMs: 300, jitterMs: 5, rateBitsPerSecond: 20e6, queuePackets: 1000, lossProbability: 0.001 },
    reverse: { delayMs: 300, jitterMs: 5, rateBitsPerSecond: 2e6, queuePackets: 500, lossProbability: 0.001 },
  },
} as const satisfies Record<string, LinkPreset>;

/** A preset name. */
export type LinkPresetName = keyof typeof LINK_PRESETS;

/** The preset names, in order. */
export const LINK_PRESET_NAMES = Object.keys(LINK_PRESETS) as LinkPresetName[];

function percent(p: number): string {
  return `${Number((p * 100).toPrecision(3))}%`;
}

function ms(v: number): string {
  return `${Number(v.toPrecision(4))} ms`;
}

/** A figure of both directions: "x each way" when they agree, else "x forward, y back". */
function pair(f: number, r: number, text: (v: number) => string, alike: string): string {
  return f === r ? `${text(f)} ${alike}` : `${text(f)} forward, ${text(r)} back`;
}

/**
 * The link of a run in a few words for people: rate, one-way delay and whatever else impairs it,
 * e.g. "100 Mbit/s, 5 ms each way" or "16 Mbit/s forward, 1 Mbit/s back, 10 ms each way, jitter
 * 1 ms each way". Queue sizes, jitter shapes and the burst model's details are left to the flags.
 */
export function linkSummary(forward: ImpairmentConfig, reverse: ImpairmentConfig): string {
  const rate = (v: number) => (v > 0 ? formatBitsPerSecond(v) : 'no rate limit');
  const parts: string[] = [];
  if (forward.rateBitsPerSecond > 0 || reverse.rateBitsPerSecond > 0) parts.push(forward.rateBitsPerSecond === reverse.rateBitsPerSecond ? rate(forward.rateBitsPerSecond) : `${rate(forward.rateBitsPerSecond)} forward, ${rate(reverse.rateBitsPerSecond)} back`);
  if (forward.delayMs > 0 || reverse.delayMs > 0) parts.push(pair(forward.delayMs, reverse.delayMs, ms, 'each way'));
  const each = (key: keyof ImpairmentConfig, name: string, text: (v: number) => string) => {
    const f = forward[key] as number;
    const r = reverse[key] as number;
    if (f > 0 || r > 0) parts.push(`${name} ${pair(f, r, text, 'each way')}`);
  };
  each('jitterMs', 'jitter', ms);
  each('lossProbability', 'loss', percent);
  each('burstEnterProbability', 'burst loss p', percent);
  each('reorderProbability', 'reordering', percent);
  each('duplicateProbability', 'duplication', percent);
  each('corruptProbability', 'corruption', percent);
  each('mtuBytes', 'MTU', (v) => (v > 0 ? `${v} B` : 'none'));
  if (parts.length === 0) return 'no delay, no rate limit, no loss';
  if (forward.rateBitsPerSecond === 0 && reverse.rateBitsPerSecond === 0) parts.push('no rate limit');
  return parts.join(', ');
}
