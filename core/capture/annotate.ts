// What the emulated link did to a datagram, in words: the text of the pcapng comment of every
// captured datagram the link dropped, duplicated, held back, reordered or corrupted, and the
// `fate` of the packet log. The grammar is documented in docs/wireshark.md ("Annotations") and
// read back by tools/wireshark/packetlab.lua, so change the three together.
//
// A comment is one or more items joined by "; ". Each item is "<kind>: <detail>" where kind is
// one of: dropped, duplicate, held back, reordered, corrupted.

import { IP_UDP_OVERHEAD_BYTES, type ImpairmentConfig } from '../impair/config.js';
import { DeliveryFlag, LINK_MEMORY_CAP_BYTES, type DropReason } from '../impair/link.js';
import { formatBitsPerSecond } from '../units.js';

/** What happened to one captured datagram on its link. */
export interface LinkFate {
  /** Why the link dropped it, or null when it was delivered. */
  dropReason: DropReason | null;
  /** DeliveryFlag bits of a delivered datagram (0 for a dropped one). */
  flags: number;
  /** Bits a corruption flipped (ascending), or null. */
  flippedBits: readonly number[] | null;
  /** When it was offered to the link (ms, the driver's clock). */
  sentAtMs: number;
  /** When it arrived (ms), or null when it was dropped. */
  arrivedAtMs: number | null;
}

/** A number as short text: at most three decimals, no trailing zeros. */
function num(v: number): string {
  return String(Number(v.toFixed(3)));
}

function pct(p: number): string {
  return `${num(p * 100)}%`;
}

/** Why a datagram was dropped, with the knob values in force when it happened. */
export function describeDrop(reason: DropReason, cfg: ImpairmentConfig, datagramBytes: number): string {
  switch (reason) {
    case 'random':
      return `dropped: random loss (Bernoulli p=${num(cfg.lossProbability)})`;
    case 'burst':
      return `dropped: burst loss (Gilbert-Elliott p=${num(cfg.burstEnterProbability)} r=${num(cfg.burstExitProbability)}, loss ${pct(cfg.burstLossBad)} bad / ${pct(cfg.burstLossGood)} good)`;
    case 'queue': {
      const bytes = cfg.queueBytes > 0 ? ` or ${cfg.queueBytes} bytes` : '';
      return `dropped: bottleneck queue full (${cfg.queuePackets} packet${cfg.queuePackets === 1 ? '' : 's'}${bytes} at ${formatBitsPerSecond(cfg.rateBitsPerSecond)})`;
    }
    case 'mtu':
      return `dropped: longer than the MTU (${datagramBytes + IP_UDP_OVERHEAD_BYTES} bytes with IP and UDP headers > MTU ${cfg.mtuBytes})`;
    case 'memory':
      return `dropped: link memory cap (${LINK_MEMORY_CAP_BYTES / (1024 * 1024)} MiB in flight)`;
    case 'manual':
      return 'dropped: by hand, while in flight (teaching mode)';
  }
}

/**
 * The comment of a captured datagram, or '' when the link delivered it untouched. Knob values are
 * those in force when the frame is written: at the drop, or at the arrival. A knob changed while
 * a datagram was in flight shows its new value on that datagram's arrival.
 */
export function describeFate(fate: LinkFate, cfg: ImpairmentConfig, datagramBytes: number): string {
  if (fate.dropReason !== null) return describeDrop(fate.dropReason, cfg, datagramBytes);
  const items: string[] = [];
  const f = fate.flags;
  if (f & DeliveryFlag.DUPLICATE) items.push(`duplicate: second copy (duplicate p=${num(cfg.duplicateProbability)})`);
  if (f & DeliveryFlag.HELD_BACK) {
    const after = fate.arrivedAtMs === null ? '' : `, arrived ${num(fate.arrivedAtMs - fate.sentAtMs)} ms after it was sent`;
    items.push(`held back: reorder delay +${num(cfg.reorderDelayMs)} ms (reorder p=${num(cfg.reorderProbability)})${after}`);
  }
  if (f & DeliveryFlag.REORDERED) items.push('reordered: arrived after a datagram sent later');
  if (f & DeliveryFlag.CORRUPTED) {
    const bits = fate.flippedBits;
    if (bits === null) items.push('corrupted: bits not recorded');
    else if (bits.length === 0) items.push('corrupted: no bit changed (flips cancelled out)');
    else items.push(`corrupted: bit${bits.length === 1 ? '' : 's'} ${bits.join(', ')} flipped`);
  }
  return items.join('; ');
}
