// The packet ladder's geometry: a sequence diagram of the most recent datagrams, time running down,
// the sender on the left and the receiver on the right. Each datagram is an arrow from its send
// time on one line to its arrival time on the other; a dropped one stops halfway with an X and the
// reason. A pure function, so the layout is tested without a browser.

import type { LadderPacket, SimStateInfo } from '../../../experiments/api/contract.js';

/** A datagram on its way in a paused simulator trial (simState().inFlight). */
export type FlightItem = SimStateInfo['inFlight'][number];

/** How an arrow is drawn (also its legend entry). */
export type ArrowStyle = 'data' | 'ack' | 'control' | 'retransmission' | 'dropped' | 'corrupted' | 'duplicate' | 'reordered';

/** Legend of the arrow styles, in the order shown. */
export const LADDER_LEGEND: readonly { style: ArrowStyle; label: string }[] = [
  { style: 'data', label: 'data (sender to receiver)' },
  { style: 'ack', label: 'ACK or reply' },
  { style: 'control', label: 'handshake and close' },
  { style: 'retransmission', label: 'retransmission' },
  { style: 'dropped', label: 'dropped (X, with the reason)' },
  { style: 'corrupted', label: 'corrupted' },
  { style: 'duplicate', label: 'duplicate copy' },
  { style: 'reordered', label: 'reordered or held back' },
];

/** Words for the drop reasons. */
export const DROP_REASONS: Record<string, string> = {
  random: 'random loss',
  burst: 'burst loss',
  queue: 'queue full',
  mtu: 'over MTU',
  manual: 'dropped by hand',
};

/** One arrow of the ladder. */
export interface LadderArrow {
  x1: number;
  y1: number;
  x2: number;
  y2: number;
  style: ArrowStyle;
  dropped: boolean;
  /** The drop reason in words, when dropped. */
  reason: string | null;
  /** Short text beside the arrow: "DATA 12", "ACK 13". */
  label: string;
  /** Whether the label is drawn (not when it would overlap the one above it on the same side). */
  showLabel: boolean;
  /** A full sentence for the text list and tooltips. */
  description: string;
  packet: LadderPacket;
}

/** A datagram in flight: an arrow from its sending to where it is now, ending in a dot. */
export interface LadderFlight {
  x1: number;
  y1: number;
  /** Where the datagram is now. */
  x2: number;
  y2: number;
  /** "DATA 12", "ACK 13". */
  label: string;
  /** Whether the label is drawn (not over another datagram's at the same spot). */
  showLabel: boolean;
  /** A full sentence. */
  description: string;
  item: FlightItem;
}

/** A time tick on the left. */
export interface LadderTick {
  y: number;
  label: string;
}

/** The whole diagram. */
export interface LadderLayout {
  width: number;
  height: number;
  senderX: number;
  receiverX: number;
  top: number;
  bottom: number;
  arrows: LadderArrow[];
  /** Datagrams in flight (teaching mode, paused). */
  flights: LadderFlight[];
  ticks: LadderTick[];
  /** Time window shown, s from the trial start. */
  fromS: number;
  toS: number;
  /** One sentence for screen readers (aria-label). */
  summary: string;
}

/** Packets a ladder shows: the most recent ones, live or of a past run up to the chosen time. */
export const LADDER_MAX_PACKETS = 40;

/** Size and how many packets to draw. */
export interface LadderOptions {
  width: number;
  height: number;
  /** Most recent packets drawn (default LADDER_MAX_PACKETS). */
  maxPackets?: number;
  /** Datagrams in flight and the time now (teaching mode, paused): drawn up to where they are. */
  inFlight?: readonly FlightItem[];
  nowS?: number;
}

/** Least vertical distance between two labels on the same side, px. */
const LABEL_GAP = 11;

const CONTROL = new Set(['SYN', 'SYN-ACK', 'FIN', 'RST', 'PROBE']);

function labelOf(p: LadderPacket): string {
  if (p.type === 'DATA' || p.type === 'UDATA') return p.seq === null ? p.type : `${p.type} ${p.seq}`;
  if (p.type === 'ACK') return p.ack === null ? 'ACK' : `ACK ${p.ack}`;
  return p.type;
}

function styleOf(p: LadderPacket): ArrowStyle {
  if (p.arrivedS === null) return 'dropped';
  if (p.fate === 'corrupted') return 'corrupted';
  if (p.fate === 'duplicate') return 'duplicate';
  if (p.retransmission) return 'retransmission';
  if (p.fate === 'reordered') return 'reordered';
  if (CONTROL.has(p.type)) return 'control';
  return p.direction === 'forward' ? 'data' : 'ack';
}

function ms(s: number): string {
  return `${(s * 1000).toFixed(s * 1000 >= 100 ? 0 : 1)} ms`;
}

/** A sentence describing one packet. */
export function describePacket(p: LadderPacket): string {
  const what = `${labelOf(p)}${p.retransmission ? ' (retransmission)' : ''}`;
  const dir = p.direction === 'forward' ? 'sender to receiver' : 'receiver to sender';
  if (p.arrivedS === null) return `${what}, ${dir}, sent at ${ms(p.sentS)}, dropped: ${DROP_REASONS[p.fate] ?? p.fate}`;
  const fate = p.fate === 'delivered' ? 'delivered' : `delivered ${p.fate}`;
  return `${what}, ${dir}, sent at ${ms(p.sentS)}, ${fate} at ${ms(p.arrivedS)}`;
}

function flightLabel(f: FlightItem): string {
  if (f.type === 'ACK' && f.ack !== null) return `ACK ${f.ack}`;
  return f.seq === null ? f.type : `${f.type} ${f.seq}`;
}

/** What can be done by hand to a datagram in flight, with its button's verb. */
export const FLIGHT_ACTIONS = [
  { action: 'drop', verb: 'Drop' },
  { action: 'corrupt', verb: 'Corrupt' },
  { action: 'duplicate', verb: 'Duplicate' },
  { action: 'delay', verb: 'Delay' },
] as const;

/** An action on a datagram in flight. */
export type FlightAction = (typeof FLIGHT_ACTIONS)[number]['action'];

/**
 * The accessible name of the button that does `action` to a datagram in flight:
 * "Drop forward DATA seq 123 (#45)", "Delay reverse ACK ack 124 (#12) by 100 ms".
 */
export function actionLabel(f: FlightItem, action: FlightAction = 'drop', delayMs?: number): string {
  const verb = FLIGHT_ACTIONS.find((a) => a.action === action)!.verb;
  const what = f.type === 'DATA' && f.seq !== null ? `DATA seq ${f.seq}` : f.ack !== null ? `${f.type} ack ${f.ack}` : f.seq !== null ? `${f.type} seq ${f.seq}` : f.type;
  return `${verb} ${f.direction} ${what} (#${f.index}${f.duplicate ? ', duplicate copy' : ''})${action === 'delay' && delayMs !== undefined ? ` by ${delayMs} ms` : ''}`;
}

/** A sentence describing a datagram in flight. */
export function describeFlight(f: FlightItem): string {
  const dir = f.direction === 'forward' ? 'sender to receiver' : 'receiver to sender';
  return `${flightLabel(f)}${f.duplicate ? ' (duplicate copy)' : ''}, ${dir}, #${f.index} on the link, sent at ${ms(f.sentAtS)}, arrives at ${ms(f.arriveAtS)}`;
}

function median(xs: number[]): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

/** The most recent packets, by send time. */
export function recentPackets(packets: readonly LadderPacket[], max: number): LadderPacket[] {
  const sorted = [...packets].sort((a, b) => a.sentS - b.sentS);
  return sorted.slice(Math.max(0, sorted.length - max));
}

/**
 * The packets of a past run's ladder at time `atS`: the last `max` sent at or before it, from
 * `packets` sorted by send time (a binary search, no copy of the whole trial).
 */
export function ladderWindow(packets: readonly LadderPacket[], atS: number, max: number): LadderPacket[] {
  let lo = 0;
  let hi = packets.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (packets[mid]!.sentS <= atS) lo = mid + 1;
    else hi = mid;
  }
  return packets.slice(Math.max(0, lo - max), lo);
}

/** Lays out the ladder. */
export function layoutLadder(packets: readonly LadderPacket[], o: LadderOptions): LadderLayout {
  const max = o.maxPackets ?? LADDER_MAX_PACKETS;
  const shown = recentPackets(packets, max);
  const top = 28;
  const bottom = o.height - 12;
  const senderX = Math.round(o.width * 0.22);
  const receiverX = Math.round(o.width * 0.78);
  // A drop is drawn as lasting half the typical transit time, to the middle of the gap.
  const transit = median(shown.filter((p) => p.arrivedS !== null).map((p) => p.arrivedS! - p.sentS));
  let fromS = Infinity;
  let toS = -Infinity;
  for (const p of shown) {
    fromS = Math.min(fromS, p.sentS);
    toS = Math.max(toS, p.arrivedS ?? p.sentS);
  }
  const flying = o.nowS === undefined ? [] : (o.inFlight ?? []).slice(0, max);
  for (const f of flying) {
    fromS = Math.min(fromS, f.sentAtS);
    toS = Math.max(toS, o.nowS!);
  }
  if (!Number.isFinite(fromS)) {
    fromS = 0;
    toS = 0;
  }
  const dropS = Number.isFinite(transit) && transit > 0 ? transit / 2 : Math.max((toS - fromS) * 0.05, 0.0005);
  toS = Math.max(toS, ...shown.filter((p) => p.arrivedS === null).map((p) => p.sentS + dropS));
  const spanS = toS - fromS > 0 ? toS - fromS : 0.001;
  const y = (t: number) => top + ((t - fromS) / spanS) * (bottom - top);

  const arrows: LadderArrow[] = shown.map((p) => {
    const forward = p.direction === 'forward';
    const x1 = forward ? senderX : receiverX;
    const xFar = forward ? receiverX : senderX;
    const dropped = p.arrivedS === null;
    const x2 = dropped ? (x1 + xFar) / 2 : xFar;
    const y2 = dropped ? y(p.sentS + dropS) : y(p.arrivedS!);
    return {
      x1,
      y1: y(p.sentS),
      x2,
      y2,
      style: styleOf(p),
      dropped,
      reason: dropped ? (DROP_REASONS[p.fate] ?? p.fate) : null,
      label: labelOf(p),
      showLabel: true,
      description: describePacket(p),
      packet: p,
    };
  });
  const flights: LadderFlight[] = flying.map((f) => {
    const forward = f.direction === 'forward';
    const x1 = forward ? senderX : receiverX;
    const xFar = forward ? receiverX : senderX;
    const span = f.arriveAtS - f.sentAtS;
    const frac = span > 0 ? Math.min(1, Math.max(0, (o.nowS! - f.sentAtS) / span)) : 1;
    const label = flightLabel(f);
    return { x1, y1: y(f.sentAtS), x2: x1 + (xFar - x1) * frac, y2: y(o.nowS!), label, showLabel: true, description: describeFlight(f), item: f };
  });
  // Datagrams at the same spot (a window sent at once) share one label.
  let lastFlight: LadderFlight | null = null;
  for (const f of flights) {
    f.showLabel = lastFlight === null || Math.hypot(f.x2 - lastFlight.x2, f.y2 - lastFlight.y2) >= LABEL_GAP;
    if (f.showLabel) lastFlight = f;
  }
  // Labels closer than LABEL_GAP px to the previous one drawn on the same side are left out.
  const lastLabelY = { forward: -Infinity, reverse: -Infinity };
  for (const a of arrows) {
    const side = a.packet.direction;
    a.showLabel = a.y1 - lastLabelY[side] >= LABEL_GAP;
    if (a.showLabel) lastLabelY[side] = a.y1;
  }

  const ticks: LadderTick[] = [];
  if (shown.length > 0) {
    for (let i = 0; i <= 4; i++) {
      const t = fromS + (spanS * i) / 4;
      ticks.push({ y: y(t), label: ms(t) });
    }
  }

  const summary = summarize(shown, fromS, toS) + (flights.length > 0 ? ` ${flights.length} in flight.` : '');
  return { width: o.width, height: o.height, senderX, receiverX, top, bottom, arrows, flights, ticks, fromS, toS, summary };
}

/** One sentence about the packets shown. */
export function summarize(shown: readonly LadderPacket[], fromS: number, toS: number): string {
  if (shown.length === 0) return 'Packet ladder: no packets yet.';
  const dropped = shown.filter((p) => p.arrivedS === null);
  const reasons = new Map<string, number>();
  for (const p of dropped) reasons.set(DROP_REASONS[p.fate] ?? p.fate, (reasons.get(DROP_REASONS[p.fate] ?? p.fate) ?? 0) + 1);
  const parts = [`${shown.length - dropped.length} delivered`];
  if (dropped.length > 0) parts.push(`${dropped.length} dropped (${[...reasons].map(([r, n]) => `${n} ${r}`).join(', ')})`);
  const count = (f: (p: LadderPacket) => boolean, word: string) => {
    const n = shown.filter(f).length;
    if (n > 0) parts.push(`${n} ${word}`);
  };
  count((p) => p.retransmission, 'retransmitted');
  count((p) => p.fate === 'corrupted', 'corrupted');
  count((p) => p.fate === 'duplicate', 'duplicated');
  count((p) => p.fate === 'reordered', 'reordered');
  const fwd = shown.filter((p) => p.direction === 'forward').length;
  return `Packet ladder of the ${shown.length} most recent packets (${fwd} sender to receiver, ${shown.length - fwd} back) from ${ms(fromS)} to ${ms(toS)}: ${parts.join(', ')}.`;
}
