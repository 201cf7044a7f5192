// The `packetlab transfer` command line that reproduces a simulated transfer: every knob that
// differs from its default becomes a flag, so a failing seed can be rerun by hand.

import { IMPAIRMENT_KNOBS, TRANSPORT_KNOBS, type Knob } from '../knobs.js';
import { DEFAULT_TRANSPORT_CONFIG } from '../transport/config.js';
import { NO_IMPAIRMENT } from '../impair/config.js';
import type { TransferSetup } from './setup.js';

function flags(values: Record<string, unknown>, defaults: Record<string, unknown>, knobs: readonly Knob[], prefix: string): string[] {
  const out: string[] = [];
  for (const k of knobs) {
    const v = values[k.key];
    if (v === defaults[k.key]) continue;
    if (k.kind === 'boolean') out.push(v ? `--${prefix}${k.flag}` : `--no-${prefix}${k.flag}`);
    else out.push(`--${prefix}${k.flag} ${String(v)}`);
  }
  return out;
}

/** The command that reruns this setup in the simulator. */
export function simTransferCommand(s: TransferSetup): string {
  // The flags below are differences from the knobs' defaults, which are the ideal link; the
  // command line's simulator would otherwise start from its own default link.
  const parts = ['npx packetlab transfer --net sim --preset ideal', `--seed ${s.seed}`, `--bytes ${s.totalBytes}`];
  if (s.messageBytes > 0) parts.push(`--message-size ${s.messageBytes}`);
  // A bare --read-rate is bits/s; B/s keeps the setup's bytes per second exact.
  if (s.readRateBytesPerSecond > 0) parts.push(`--read-rate ${s.readRateBytesPerSecond}B/s`);
  if (s.verifyData === false) parts.push('--no-verify');
  parts.push(...flags(s.transport as unknown as Record<string, unknown>, DEFAULT_TRANSPORT_CONFIG as unknown as Record<string, unknown>, TRANSPORT_KNOBS, ''));
  parts.push(...flags(s.forward as unknown as Record<string, unknown>, NO_IMPAIRMENT as unknown as Record<string, unknown>, IMPAIRMENT_KNOBS, ''));
  parts.push(...flags(s.reverse as unknown as Record<string, unknown>, NO_IMPAIRMENT as unknown as Record<string, unknown>, IMPAIRMENT_KNOBS, 'rev-'));
  return parts.join(' ');
}
