// The time-sequence graph (Stevens, tcptrace) of one trial, as plain arrays outside reactivity:
// every DATA transmission as a point at its send time (retransmissions apart, drops marked), the
// cumulative ACK line and the receive-window line above it as the sender learns them (at the
// ACK's arrival), and SACKed ranges as short vertical segments, per connection (the flows of a
// `flows` run apart). Sequence numbers count packets and are drawn relative to the connection's
// first one seen, with serial arithmetic so that a wrap does not jump.
//
// Chart.js with `parsing: false` takes every dataset as sorted by x (it reads the x range off the
// first and last points), so points are inserted in order. A cap on the points kept thins them
// evenly over the trial's time (the newest since the last thinning are all kept).

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
export type TimeSeqPacket = Pick<LadderPacket, 'sentS' | 'arrivedS' | 'direction' | 'type' | 'seq' | 'ack' | 'retransmission' | 'windowBytes' | 'sack'> & { connection?: number | null };

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

/**
 * Thins `arr` (sorted by x, in groups of `group` points) to about `keep` groups spread evenly over
 * its time span: the first group of each of `keep` equal slices of time, and the last group. Done
 * again at every overflow, it keeps the older points as dense as the newer ones (halving only the
 * older half each time would leave the start of a long trial with almost none).
 */
export function thinByTime(arr: XY[], keep: number, group = 1): void {
  const groups = Math.floor(arr.length / group);
  if (groups <= keep || groups < 2) return;
  const x0 = arr[0]!.x;
  const width = (arr[(groups - 1) * group]!.x - x0) / keep;
  const out: XY[] = [];
  let last = Number.NEGATIVE_INFINITY;
  for (let g = 0; g < groups; g++) {
    // All at one time: every other group.
    const slice = width > 0 ? Math.floor((arr[g * group]!.x - x0) / width) : g >> 1;
    if (slice === last && g !== groups - 1) continue;
    last = slice;
    for (let i = 0; i < group; i++) out.push(arr[g * group + i]!);
  }
  for (let i = groups * group; i < arr.length; i++) out.push(arr[i]!);
  arr.splice(0, arr.length, ...out);
}

/** The arrays of one connection's graph. */
const FLOW_ARRAYS = ['data', 'retransmissions', 'dropped', 'acks', 'window', 'sacks'] as const;

/**
 * One connection's part of the graph: its sequence numbers count from its own first DATA packet
 * (each connection has its own random ISN), and its ACKs are the ones that come back the other way.
 */
export class FlowSeq {
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
  /** The sequence number drawn as 0 (the connection's first DATA packet seen). */
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

  /** The lab header's connection id (null: packets that do not say); undefined until its first DATA packet. */
  connection: number | null | undefined = undefined;
  /** The way its DATA goes (its ACKs come the other way); null until its first DATA packet. */
  dataDirection: 'forward' | 'reverse' | null = null;

  constructor(
    /** 1 for the first connection seen, and so on. */
    readonly index: number,
    private readonly mssBytes: number,
    private readonly maxPoints: number,
  ) {}

  /** Sequence number relative to the base (serial arithmetic: correct across a wrap). */
  rel(seq: number): number {
    return (seq - (this.base ?? seq)) | 0;
  }

  /** Adds a DATA packet of this connection. */
  addData(p: TimeSeqPacket): void {
    this.base ??= p.seq!;
    // Packets are seen as they arrive or are dropped, not in the order they were sent: a packet
    // dropped at a full queue comes before the ones queued ahead of it.
    const below = -this.rel(p.seq!);
    if (below > 0) this.rebase(below);
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

  /** Adds an ACK that came back to this connection's sender. */
  addAck(p: TimeSeqPacket): void {
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
      if (this.sacks.length > this.maxPoints) thinByTime(this.sacks, Math.floor(this.maxPoints / 6), 3);
    }
    this.lastSack = key;
  }

  /** Moves the base `by` packets down: every point drawn so far goes `by` up. */
  private rebase(by: number): void {
    this.base = (this.base! - by) >>> 0;
    for (const k of FLOW_ARRAYS) for (const pt of this[k]) pt.y += by;
    this.topRel += by;
    this.windowTop += by;
    if (this.ackRel !== null) this.ackRel += by;
  }

  /** Takes the graph of `other` in place: the arrays a chart is bound to stay the same arrays. */
  copyFrom(other: FlowSeq): void {
    this.connection = other.connection;
    this.dataDirection = other.dataDirection;
    for (const k of FLOW_ARRAYS) this[k].splice(0, this[k].length, ...other[k]);
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
    if (arr.length > this.maxPoints) thinByTime(arr, Math.floor(this.maxPoints / 2));
  }
}

/**
 * One trial's time-sequence graph: one FlowSeq per connection (the flows of a `flows` run share
 * the links, each with its own sequence space), numbered in the order their first DATA was seen.
 * The first is there from the start, so that a chart of one connection binds its arrays once.
 */
export class TimeSeqData {
  /** The connections' graphs, flow 1 first (flow 1 waits for its first DATA packet). */
  readonly flows: FlowSeq[];
  private readonly byConnection = new Map<number | null, FlowSeq>();

  constructor(
    readonly mssBytes = DEFAULT_MSS_BYTES,
    readonly maxPoints = TIMESEQ_MAX_POINTS,
  ) {
    if (maxPoints < 16) throw new Error('a time-sequence graph keeps at least 16 points');
    this.flows = [new FlowSeq(1, mssBytes, maxPoints)];
  }

  /** Adds one packet; packets that are not DATA or ACKs are ignored. */
  add(p: TimeSeqPacket): void {
    const conn = p.connection ?? null;
    if (p.type === 'DATA' && p.seq !== null) {
      let f = this.byConnection.get(conn);
      if (f === undefined) {
        f = this.flows[0]!.dataDirection === null ? this.flows[0]! : new FlowSeq(this.flows.length + 1, this.mssBytes, this.maxPoints);
        if (f !== this.flows[0]) this.flows.push(f);
        f.connection = conn;
        f.dataDirection = p.direction;
        this.byConnection.set(conn, f);
      }
      if (p.direction === f.dataDirection) {
        f.addData(p);
        return;
      }
      // DATA the other way on the same connection (replies) counts only for the ACK it carries.
    }
    if (p.ack === null || p.arrivedS === null) return;
    const f = this.byConnection.get(conn);
    if (f !== undefined && p.direction !== f.dataDirection) f.addAck(p);
  }

  /** Adds many packets. */
  addAll(ps: Iterable<TimeSeqPacket>): void {
    for (const p of ps) this.add(p);
  }

  /**
   * Takes the graph of `other` (the same trial read whole from packets.csv): flow by flow, in
   * place, so that the arrays a chart is bound to stay the same arrays.
   */
  copyFrom(other: TimeSeqData): void {
    other.flows.forEach((o, i) => {
      let f = this.flows[i];
      if (f === undefined) this.flows.push((f = new FlowSeq(i + 1, this.mssBytes, this.maxPoints)));
      f.copyFrom(o);
    });
    this.flows.length = Math.max(other.flows.length, 1);
    this.byConnection.clear();
    for (const f of this.flows) if (f.dataDirection !== null) this.byConnection.set(f.connection ?? null, f);
  }

  private sum(k: 'transmissions' | 'retransmitted' | 'drops' | 'ackCount'): number {
    let n = 0;
    for (const f of this.flows) n += f[k];
    return n;
  }

  /** DATA transmissions of every flow. */
  get transmissions(): number {
    return this.sum('transmissions');
  }
  /** Retransmissions of every flow. */
  get retransmitted(): number {
    return this.sum('retransmitted');
  }
  /** Dropped DATA of every flow. */
  get drops(): number {
    return this.sum('drops');
  }
  /** ACKs of every flow. */
  get ackCount(): number {
    return this.sum('ackCount');
  }

  /** Whether there is anything to draw. */
  get empty(): boolean {
    return this.transmissions === 0 && this.ackCount === 0;
  }

  /**
   * The top of the y axis: with a receive buffer much larger than the data sent, the window line
   * would squash the data to the bottom, so it is left off the top; undefined fits everything.
   * Only one flow draws its window line.
   */
  yMax(): number | undefined {
    const f = this.flows[0]!;
    if (this.flows.length !== 1) return undefined;
    if (f.window.length === 0 || f.windowTop <= f.topRel + Math.max(8, Math.ceil(f.topRel * 0.5))) return undefined;
    return f.topRel + Math.max(4, Math.ceil(f.topRel * 0.1));
  }

  /** One sentence for screen readers (`label`: the trial's). */
  describe(label?: string): string {
    const head = `Time-sequence graph${label === undefined ? '' : `, ${label}`}`;
    if (this.empty) return `${head}: no DATA packets yet.`;
    const plural = (n: number, w: string) => `${n} ${w}${n === 1 ? '' : 's'}`;
    const one = (f: FlowSeq) => `${plural(f.transmissions, 'DATA transmission')} (${plural(f.retransmitted, 'retransmission')}, ${f.drops} dropped), ${plural(f.ackCount, 'ACK')}; sequence up to ${f.topRel} packets after the first by ${f.endS.toFixed(3)} s`;
    if (this.flows.length === 1) {
      const f = this.flows[0]!;
      const win = f.windowPackets === null ? '' : `; receive window ${plural(f.windowPackets, 'packet')} above the ACK${this.yMax() !== undefined ? ' (off the top)' : ''}`;
      return `${head}: ${one(f)}${win}.`;
    }
    return `${head}: ${this.flows.length} flows, each numbered from its own first packet (${plural(this.transmissions, 'DATA transmission')}, ${plural(this.retransmitted, 'retransmission')}, ${this.drops} dropped in all); ${this.flows.map((f) => `flow ${f.index}: ${one(f)}`).join('; ')}.`;
  }
}

function cellNumber(v: number | string | null | undefined): number | null {
  if (typeof v === 'number') return v;
  if (typeof v === 'string' && v.trim() !== '' && Number.isFinite(Number(v))) return Number(v);
  return null;
}

/** A row of packets.csv (as openRun's Table gives it) as a packet, or null when malformed. */
export function packetFromRow(row: Record<string, number | string | null>): (TimeSeqPacket & { point: number; repetition: number; fate: string; connection: number | null }) | null {
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
    // Runs made before packets.csv kept it: one connection.
    connection: cellNumber(row.connection),
  };
}
