// The packet ladder's geometry: a sequence diagram of the most recent datagrams, time running down,
// the sender on the left and the receiver on the right. Each datagram is an arrow from its send
// time on one line to its arrival time on the other; a dropped one stops halfway with an X and the
// reason. Sequence and ACK numbers are drawn relative to the ISN of their connection and direction
// (the SYN is 0; the absolute numbers are in the descriptions: tooltips and the text list), and no
// two labels overlap. A pure function, so the layout is tested without a browser.

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
  /** Whether the label is drawn (not over another datagram's label). */
  showLabel: boolean;
  /** Where the label is drawn (its anchor: its start for forward datagrams, its end for reverse ones). */
  labelX: number;
  labelY: number;
  /** A full sentence. */
  description: string;
  item: FlightItem;
}

/** Labels of datagrams in flight left out for lack of room: a note where they would have gone. */
export interface LadderFlightNote {
  x: number;
  y: number;
  anchor: 'start' | 'end';
  text: string;
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
  /** "+N more" beside the flight labels drawn, per side, when some had no room. */
  flightNotes: LadderFlightNote[];
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
  /**
   * Where each connection's sequence numbers start (the trial's, kept as its packets come); made
   * from `packets` when not given.
   */
  bases?: SeqBases;
}

/** Least vertical distance between two labels on the same side, px. */
const LABEL_GAP = 11;
/** Width of one character of a label (9 px type), px, to keep labels apart. */
const LABEL_CHAR_PX = 5.5;
/** Rows of labels stacked below datagrams in flight at the same height before the rest are left out. */
const FLIGHT_LABEL_ROWS = 6;

const CONTROL = new Set(['SYN', 'SYN-ACK', 'FIN', 'RST', 'PROBE']);

/** What SeqBases needs of a packet. */
type Numbered = Pick<LadderPacket, 'direction' | 'seq' | 'type'> & { connection?: number | null };

function other(direction: 'forward' | 'reverse'): 'forward' | 'reverse' {
  return direction === 'forward' ? 'reverse' : 'forward';
}

/**
 * Where the sequence numbers of each connection start, per direction (each side picks its ISN at
 * random): the SYN's (or SYN-ACK's) sequence number, the ISN; before one is seen, the lowest DATA
 * sequence number, in serial arithmetic (RFC 1982) so that a wrap does not jump. Other packets'
 * sequence fields (a pure ACK's) do not count. The ladder draws a packet's sequence number relative
 * to its direction's start and its ACK relative to the other direction's: the SYN is 0 and the
 * first DATA 1, as Wireshark's relative numbers.
 */
export class SeqBases {
  private readonly bases = new Map<string, number>();
  /** Directions whose ISN was seen in a SYN or SYN-ACK. */
  private readonly fromSyn = new Set<string>();

  private static key(connection: number | null | undefined, direction: 'forward' | 'reverse'): string {
    return `${connection ?? '-'}|${direction}`;
  }

  /** Notes a packet's sequence number. */
  observe(p: Numbered): void {
    if (p.seq === null) return;
    const key = SeqBases.key(p.connection, p.direction);
    if (p.type === 'SYN' || p.type === 'SYN-ACK') {
      this.bases.set(key, p.seq >>> 0);
      this.fromSyn.add(key);
      return;
    }
    if ((p.type !== 'DATA' && p.type !== 'UDATA') || this.fromSyn.has(key)) return;
    const b = this.bases.get(key);
    if (b === undefined || ((p.seq - b) | 0) < 0) this.bases.set(key, p.seq >>> 0);
  }

  /** Notes many packets. */
  observeAll(ps: Iterable<Numbered>): void {
    for (const p of ps) this.observe(p);
  }

  /**
   * The start of a direction's numbers; without a connection (a datagram in flight), the start of
   * the only connection seen that way.
   */
  base(connection: number | null | undefined, direction: 'forward' | 'reverse'): number | null {
    const b = this.bases.get(SeqBases.key(connection, direction));
    if (b !== undefined || connection !== undefined) return b ?? null;
    const starts = [...this.bases].filter(([k]) => k.endsWith(`|${direction}`));
    return starts.length === 1 ? starts[0]![1] : null;
  }

  /** A number of the sequence space of `direction`, relative to its start (the number itself when unknown). */
  rel(value: number, connection: number | null | undefined, direction: 'forward' | 'reverse'): number {
    const b = this.base(connection, direction);
    return b === null ? value : (value - b) | 0;
  }
}

function labelOf(p: LadderPacket, bases: SeqBases): string {
  if (p.type === 'DATA' || p.type === 'UDATA') return p.seq === null ? p.type : `${p.type} ${bases.rel(p.seq, p.connection, p.direction)}`;
  if (p.type === 'ACK') return p.ack === null ? 'ACK' : `ACK ${bases.rel(p.ack, p.connection, other(p.direction))}`;
  return p.type;
}

/** The absolute numbers of a packet, for its description: "(seq 909542731, ack 12)". */
function absolute(p: Pick<LadderPacket, 'seq' | 'ack' | 'type'>): string {
  const parts: string[] = [];
  if (p.seq !== null) parts.push(`seq ${p.seq}`);
  if (p.ack !== null) parts.push(`ack ${p.ack}`);
  return parts.length === 0 ? '' : ` (${parts.join(', ')})`;
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

/** A sentence describing one packet: its relative numbers, then the absolute ones. */
export function describePacket(p: LadderPacket, bases: SeqBases = new SeqBases()): string {
  bases.observe(p);
  const what = `${labelOf(p, bases)}${absolute(p)}${p.retransmission ? ' (retransmission)' : ''}`;
  const dir = p.direction === 'forward' ? 'sender to receiver' : 'receiver to sender';
  if (p.arrivedS === null) return `${what}, ${dir}, sent at ${ms(p.sentS)}, dropped: ${DROP_REASONS[p.fate] ?? p.fate}`;
  const fate = p.fate === 'delivered' ? 'delivered' : `delivered ${p.fate}`;
  return `${what}, ${dir}, sent at ${ms(p.sentS)}, ${fate} at ${ms(p.arrivedS)}`;
}

function flightLabel(f: FlightItem, bases: SeqBases | null): string {
  const rel = (v: number, d: 'forward' | 'reverse') => (bases === null ? v : bases.rel(v, undefined, d));
  if (f.type === 'ACK' && f.ack !== null) return `ACK ${rel(f.ack, other(f.direction))}`;
  return f.seq === null || CONTROL.has(f.type) ? f.type : `${f.type} ${rel(f.seq, f.direction)}`;
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

/**
 * A sentence describing a datagram in flight; with the trial's `bases`, its numbers relative to
 * the ISN and then the absolute ones.
 */
export function describeFlight(f: FlightItem, bases: SeqBases | null = null): string {
  const dir = f.direction === 'forward' ? 'sender to receiver' : 'receiver to sender';
  return `${flightLabel(f, bases)}${bases === null ? '' : absolute(f)}${f.duplicate ? ' (duplicate copy)' : ''}, ${dir}, #${f.index} on the link, sent at ${ms(f.sentAtS)}, arrives at ${ms(f.arriveAtS)}`;
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
  const bases = o.bases ?? new SeqBases();
  if (o.bases === undefined) bases.observeAll(packets);
  // A packet the trial's bases have not seen yet (a batch on its way) still counts from a start.
  bases.observeAll(shown);
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
      label: labelOf(p, bases),
      showLabel: true,
      description: describePacket(p, bases),
      packet: p,
    };
  });
  const flights: LadderFlight[] = flying.map((f) => {
    const forward = f.direction === 'forward';
    const x1 = forward ? senderX : receiverX;
    const xFar = forward ? receiverX : senderX;
    const span = f.arriveAtS - f.sentAtS;
    const frac = span > 0 ? Math.min(1, Math.max(0, (o.nowS! - f.sentAtS) / span)) : 1;
    const label = flightLabel(f, bases);
    const x2 = x1 + (xFar - x1) * frac;
    const y2 = y(o.nowS!);
    return { x1, y1: y(f.sentAtS), x2, y2, label, showLabel: true, labelX: forward ? x2 + 7 : x2 - 7, labelY: y2 + 3, description: describeFlight(f, bases), item: f };
  });
  const flightNotes = placeFlightLabels(flights, top, bottom);
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
  return { width: o.width, height: o.height, senderX, receiverX, top, bottom, arrows, flights, flightNotes, ticks, fromS, toS, summary };
}

/** A label's box, px. */
interface Box {
  x1: number;
  x2: number;
  y1: number;
  y2: number;
}

function overlaps(a: Box, b: Box): boolean {
  return a.x1 < b.x2 && b.x1 < a.x2 && a.y1 < b.y2 && b.y1 < a.y2;
}

/**
 * Places the labels of datagrams in flight so that none overlaps another: each beside its dot, or
 * stacked in rows below (then above) it; those that find no room within FLIGHT_LABEL_ROWS rows are
 * left out, and a note per side says how many.
 */
function placeFlightLabels(flights: LadderFlight[], top: number, bottom: number): LadderFlightNote[] {
  const placed: Box[] = [];
  const left = { forward: 0, reverse: 0 };
  const lowest = { forward: null as LadderFlight | null, reverse: null as LadderFlight | null };
  const rows = [0, ...Array.from({ length: FLIGHT_LABEL_ROWS - 1 }, (_, i) => (i + 1) * LABEL_GAP), ...Array.from({ length: 3 }, (_, i) => -(i + 1) * LABEL_GAP)];
  // Nearest the far end first (the datagrams that arrive next keep their labels), one side then
  // the other, so that the ACKs coming back get room too.
  const bySide = (d: 'forward' | 'reverse') => flights.filter((f) => f.item.direction === d).sort((a, b) => Math.abs(b.x2 - b.x1) - Math.abs(a.x2 - a.x1));
  const [fwd, rev] = [bySide('forward'), bySide('reverse')];
  const order = Array.from({ length: Math.max(fwd.length, rev.length) }, (_, i) => [fwd[i], rev[i]]).flat().filter((f) => f !== undefined);
  for (const f of order) {
    const forward = f.item.direction === 'forward';
    const w = f.label.length * LABEL_CHAR_PX;
    const x = forward ? f.x2 + 7 : f.x2 - 7;
    const box = (dy: number): Box => ({ x1: forward ? x : x - w, x2: forward ? x + w : x, y1: f.y2 + dy - 6, y2: f.y2 + dy + 5 });
    const dy = rows.find((d) => {
      const b = box(d);
      return b.y1 >= top - 12 && b.y2 <= bottom + 12 && !placed.some((q) => overlaps(q, b));
    });
    if (dy === undefined) {
      f.showLabel = false;
      left[f.item.direction]++;
      continue;
    }
    f.showLabel = true;
    f.labelX = x;
    f.labelY = f.y2 + dy + 3;
    placed.push(box(dy));
    const low = lowest[f.item.direction];
    if (low === null || f.labelY > low.labelY) lowest[f.item.direction] = f;
  }
  const notes: LadderFlightNote[] = [];
  for (const d of ['forward', 'reverse'] as const) {
    // Below the lowest label of the side (or the dot of its first datagram), where nothing else was put.
    const low = lowest[d] ?? order.find((f) => f.item.direction === d);
    if (left[d] === 0 || low === undefined) continue;
    const text = `+${left[d]} more`;
    const w = text.length * LABEL_CHAR_PX;
    const anchor = d === 'forward' ? 'start' : 'end';
    let y = lowest[d] === null ? low.y2 + 3 : low.labelY + LABEL_GAP;
    const boxAt = (yy: number): Box => ({ x1: anchor === 'start' ? low.labelX : low.labelX - w, x2: anchor === 'start' ? low.labelX + w : low.labelX, y1: yy - 9, y2: yy + 2 });
    while (placed.some((q) => overlaps(q, boxAt(y)))) y += LABEL_GAP;
    placed.push(boxAt(y));
    notes.push({ x: low.labelX, y, anchor, text });
  }
  return notes;
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
