// The time-sequence graph (Stevens, tcptrace) of one trial, as plain arrays outside reactivity:
// every DATA transmission as a point at its send time (retransmissions apart, drops marked), the
// cumulative ACK line and the receive-window line above it as the sender learns them (at the
// ACK's arrival), and SACKed ranges as short vertical segments. Sequence numbers count packets and
// are drawn relative to the first one seen, with serial arithmetic so that a wrap does not jump.
//
// Chart.js with `parsing: false` takes every dataset as sorted by x (it reads the x range off the
// first and last points), so points are inserted in order. A cap on the points kept halves the
// resolution of the older half, as SeriesBuffer does for the live charts.

import type { LadderPacket } from '../../../experiments/api/contract.js';
import type { XY } from './series.js';

/** Payload bytes per packet when the spec does not say (core/transport/config.ts). */
export const DEFAULT_MSS_BYTES = 1164;

/**
 * Most points one dataset keeps. Every one is a marker drawn at each redraw (a scatter chart is
 * not decimated): 20,000 made a live run's frames take 100 ms and more (npm run bench ui), while a
 * chart a few hundred pixels wide shows no more detail than 3,000 (older points are thinned).
 */
export const TIMESEQ_MAX_POINTS = 3_000;

/** What the graph needs of a packet (a LadderPacket, or a row of packets.csv). */
export type TimeSeqPacket = Pick<LadderPacket, 'sentS' | 'arrivedS' | 'direction' | 'type' | 'seq' | 'ack' | 'retransmission' | 'windowBytes' | 'sack'>;

/** Inserts a point keeping the array sorted by x (after points with the same x). */
export function insertSorted(arr: XY[], p: XY): void {
  const n = arr.length;
  if (n === 0 || arr[n - 1]!.x <= p.x) {
    arr.push(p);
    return;
  }
  let lo = 0;
  let hi = n;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (arr[mid]!.x <= p.x) lo = mid + 1;
    else hi = mid;
  }
  arr.splice(lo, 0, p);
}

/** Keeps every other group of `group` points in the older half of `arr` (in place). */
export function thinOlderHalf(arr: XY[], group = 1): void {
  const groups = Math.floor(arr.length / group);
  const half = Math.floor(groups / 2);
  const kept: XY[] = [];
  for (let g = 0; g < half; g += 2) for (let i = 0; i < group; i++) kept.push(arr[g * group + i]!);
  arr.splice(0, half * group, ...kept);
}

/** One trial's time-sequence graph. */
export class TimeSeqData {
  /** First transmissions of DATA packets. */
  readonly data: XY[] = [];
  /** Retransmitted DATA packets. */
  readonly retransmissions: XY[] = [];
  /** DATA packets that were dropped (drawn over their transmission). */
  readonly dropped: XY[] = [];
  /** Cumulative ACK as the sender learns it (a stepped line). */
  readonly acks: XY[] = [];
  /** ACK plus the advertised window in packets (a stepped line). */
  readonly window: XY[] = [];
  /** SACKed ranges: vertical segments of two points, each followed by a gap (y NaN). */
  readonly sacks: XY[] = [];
  /** The sequence number drawn as 0 (the first DATA packet seen). */
  base: number | null = null;
  /** Counts, for the text alternative. */
  transmissions = 0;
  retransmitted = 0;
  drops = 0;
  ackCount = 0;
  /** Highest relative sequence number and latest time drawn. */
  topRel = 0;
  endS = 0;
  /** The latest advertised window, in packets (null before the first ACK that carries one). */
  windowPackets: number | null = null;
  /** Highest point of the receive-window line. */
  windowTop = Number.NEGATIVE_INFINITY;
  /** Highest ACK so far, relative; the ACK line never goes down (a late ACK is old news). */
  private ackRel: number | null = null;
  private lastSack = '';

  constructor(
    readonly mssBytes = DEFAULT_MSS_BYTES,
    readonly maxPoints = TIMESEQ_MAX_POINTS,
  ) {
    if (maxPoints < 16) throw new Error('a time-sequence graph keeps at least 16 points');
  }

  /** Sequence number relative to the base (serial arithmetic: correct across a wrap). */
  rel(seq: number): number {
    return (seq - (this.base ?? seq)) | 0;
  }

  /** Adds one packet; packets that are not DATA or ACKs are ignored. */
  add(p: TimeSeqPacket): void {
    if (p.direction === 'forward' && p.type === 'DATA' && p.seq !== null) this.addData(p);
    else if (p.direction === 'reverse' && p.ack !== null && p.arrivedS !== null) this.addAck(p);
  }

  /** Adds many packets. */
  addAll(ps: Iterable<TimeSeqPacket>): void {
    for (const p of ps) this.add(p);
  }

  /** Whether there is anything to draw. */
  get empty(): boolean {
    return this.transmissions === 0 && this.ackCount === 0;
  }

  private addData(p: TimeSeqPacket): void {
    this.base ??= p.seq!;
    const pt = { x: p.sentS, y: this.rel(p.seq!) };
    this.transmissions++;
    this.topRel = Math.max(this.topRel, pt.y);
    this.endS = Math.max(this.endS, pt.x);
    if (p.retransmission) {
      this.retransmitted++;
      this.put(this.retransmissions, pt);
    } else this.put(this.data, pt);
    if (p.arrivedS === null) {
      this.drops++;
      this.put(this.dropped, { x: pt.x, y: pt.y });
    }
  }

  private addAck(p: TimeSeqPacket): void {
    // ACKs before any DATA (the handshake) have nothing to be relative to.
    if (this.base === null) return;
    const x = p.arrivedS!;
    this.ackCount++;
    const a = this.rel(p.ack!);
    const last = this.acks[this.acks.length - 1];
    if (last !== undefined && x < last.x) return;
    this.ackRel = this.ackRel === null || a > this.ackRel ? a : this.ackRel;
    this.topRel = Math.max(this.topRel, this.ackRel);
    this.endS = Math.max(this.endS, x);
    this.put(this.acks, { x, y: this.ackRel });
    if (p.windowBytes !== null) {
      this.windowPackets = Math.floor(p.windowBytes / this.mssBytes);
      const w = this.ackRel + this.windowPackets;
      this.windowTop = Math.max(this.windowTop, w);
      this.put(this.window, { x, y: w });
    }
    // The same blocks repeat in every ACK until the hole fills: a segment only when they change.
    const key = p.sack.join(' ');
    if (p.sack.length >= 2 && key !== this.lastSack) {
      for (let i = 0; i + 1 < p.sack.length; i += 2) {
        const lastSack = this.sacks[this.sacks.length - 1];
        if (lastSack !== undefined && x < lastSack.x) break;
        this.sacks.push({ x, y: this.rel(p.sack[i]!) }, { x, y: this.rel(p.sack[i + 1]!) }, { x, y: Number.NaN });
      }
      if (this.sacks.length > this.maxPoints) thinOlderHalf(this.sacks, 3);
    }
    this.lastSack = key;
  }

  /**
   * Takes the graph of `other` (the same trial read whole from packets.csv) in place: the arrays a
   * chart is bound to stay the same arrays.
   */
  copyFrom(other: TimeSeqData): void {
    for (const k of ['data', 'retransmissions', 'dropped', 'acks', 'window', 'sacks'] as const) this[k].splice(0, this[k].length, ...other[k]);
    this.base = other.base;
    this.transmissions = other.transmissions;
    this.retransmitted = other.retransmitted;
    this.drops = other.drops;
    this.ackCount = other.ackCount;
    this.topRel = other.topRel;
    this.endS = other.endS;
    this.windowPackets = other.windowPackets;
    this.windowTop = other.windowTop;
    this.ackRel = other.ackRel;
    this.lastSack = other.lastSack;
  }

  private put(arr: XY[], p: XY): void {
    if (!Number.isFinite(p.x) || !Number.isFinite(p.y)) return;
    insertSorted(arr, p);
    if (arr.length > this.maxPoints) thinOlderHalf(arr);
  }

  /**
   * The top of the y axis: with a receive buffer much larger than the data sent, the window line
   * would squash the data to the bottom, so it is left off the top; undefined fits everything.
   */
  yMax(): number | undefined {
    if (this.window.length === 0 || this.windowTop <= this.topRel + Math.max(8, Math.ceil(this.topRel * 0.5))) return undefined;
    return this.topRel + Math.max(4, Math.ceil(this.topRel * 0.1));
  }

  /** One sentence for screen readers (`label`: the trial's). */
  describe(label?: string): string {
    const head = `Time-sequence graph${label === undefined ? '' : `, ${label}`}`;
    if (this.empty) return `${head}: no DATA packets yet.`;
    const plural = (n: number, w: string) => `${n} ${w}${n === 1 ? '' : 's'}`;
    const win = this.windowPackets === null ? '' : `; receive window ${plural(this.windowPackets, 'packet')} above the ACK${this.yMax() !== undefined ? ' (off the top)' : ''}`;
    return `${head}: ${plural(this.transmissions, 'DATA transmission')} (${plural(this.retransmitted, 'retransmission')}, ${this.drops} dropped), ${plural(this.ackCount, 'ACK')}; sequence up to ${this.topRel} packets after the first by ${this.endS.toFixed(3)} s${win}.`;
  }
}

function cellNumber(v: number | string | null | undefined): number | null {
  if (typeof v === 'number') return v;
  if (typeof v === 'string' && v.trim() !== '' && Number.isFinite(Number(v))) return Number(v);
  return null;
}

/** A row of packets.csv (as openRun's Table gives it) as a packet, or null when malformed. */
export function packetFromRow(row: Record<string, number | string | null>): (TimeSeqPacket & { point: number; repetition: number; fate: string }) | null {
  const sentS = cellNumber(row.sent_s);
  const direction = row.direction;
  if (sentS === null || (direction !== 'forward' && direction !== 'reverse')) return null;
  const sackText = row.sack === null || row.sack === undefined ? '' : String(row.sack);
  const sack = sackText.trim() === '' ? [] : sackText.trim().split(/\s+/).map(Number).filter((n) => Number.isFinite(n));
  const retx = row.retransmission;
  return {
    point: cellNumber(row.point) ?? 0,
    repetition: cellNumber(row.repetition) ?? 0,
    sentS,
    arrivedS: cellNumber(row.arrived_s),
    direction,
    type: String(row.type ?? ''),
    seq: cellNumber(row.seq),
    ack: cellNumber(row.ack),
    windowBytes: cellNumber(row.window_bytes),
    sack,
    retransmission: retx === 1 || retx === '1' || retx === 'true',
    fate: String(row.fate ?? ''),
  };
}
