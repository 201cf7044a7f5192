// The auditor of a simulated transfer: the simulator knows every datagram's fate, so after a trial
// the counters the lab reports can be recomputed from that ground truth and compared. A recorder
// rides on each link direction (a LinkTracer) and keeps, for every datagram, what it was (its type
// and sequence number, read from the bytes as they were sent) and what became of it; auditTransfer
// then recounts first transmissions, retransmissions (and which of them were spurious), the
// receiver's duplicates and out-of-order packets, drops by reason, corruptions caught, the
// shortest RTT sample against the link's quickest trips, and checks that every DATA packet the
// link dropped was sent again. A mismatch names the counter and both
// values. Auditing costs an object per datagram: it is for tests and the swarm, not for runs.

import type { DropReason, LinkTracer } from '../impair/link.js';
import type { LinkCounters } from '../impair/counters.js';
import type { TransferSummary } from '../transfer/setup.js';
import { PacketType, newHeader, parseInto } from '../wire/packet.js';
import { seqDiff } from '../wire/seq.js';

/** What became of one copy of a datagram on a link. */
export interface Fate {
  type: number;
  seq: number;
  /** When the transmission left the sender (copies of a duplicated datagram share it). */
  sentAt: number;
  /** When it arrived or was dropped. */
  at: number;
  dropped: DropReason | null;
  corrupted: boolean;
  /** The link's second copy of a duplicated datagram. */
  duplicateCopy: boolean;
}

/** Bits flipped back: the datagram as it was sent. */
function unflipped(bytes: Uint8Array, flippedBits: readonly number[] | null): Uint8Array {
  if (flippedBits === null || flippedBits.length === 0) return bytes;
  const copy = bytes.slice();
  for (const b of flippedBits) copy[b >>> 3] = copy[b >>> 3]! ^ (1 << (b & 7));
  return copy;
}

const DUPLICATE = 1;
const CORRUPTED = 2;

/** What a datagram is, read from its bytes as sent: a type and a number that names it, or null when it cannot be read. */
export type DatagramReader = (bytes: Uint8Array) => { type: number; seq: number } | null;

/** The lab's own packets: their type and sequence number. */
export function labPacketReader(): DatagramReader {
  const h = newHeader();
  return (bytes) => (parseInto(bytes, bytes.length, h) === null ? { type: h.type, seq: h.seq >>> 0 } : null);
}

/** The kinds of RPC datagram rpcMessageReader tells apart. */
export const RpcDatagram = { CALL: 0, REPLY: 1, NULL_CALL: 2 } as const;

/**
 * An ONC RPC message (RFC 5531 (9)) in a datagram: a call (a NULL call apart: procedure 0, the
 * ping a server answers without its cache) or a reply, and its xid.
 */
export function rpcMessageReader(): DatagramReader {
  return (bytes) => {
    if (bytes.length < 8) return null;
    const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    const type = v.getUint32(4);
    if (type !== 0) return { type: RpcDatagram.REPLY, seq: v.getUint32(0) };
    if (bytes.length < 24) return null;
    return { type: v.getUint32(20) === 0 ? RpcDatagram.NULL_CALL : RpcDatagram.CALL, seq: v.getUint32(0) };
  };
}

/** Records the fate of every datagram of one link direction. */
export class FateRecorder implements LinkTracer {
  readonly fates: Fate[] = [];
  /** Copies whose header could not be read even with their flipped bits restored (the audit says so). */
  unreadable = 0;

  constructor(private readonly read: DatagramReader = labPacketReader()) {}

  dropped(now: number, bytes: Uint8Array, _from: number, _to: number, reason: DropReason, sentAt: number): void {
    this.record(bytes, sentAt, now, reason, false, false);
  }

  delivered(now: number, bytes: Uint8Array, _from: number, _to: number, sentAt: number, flags: number, flippedBits: readonly number[] | null): void {
    const corrupted = (flags & CORRUPTED) !== 0;
    // A corrupted copy without the list of its flipped bits cannot be read back reliably.
    if (corrupted && flippedBits === null) {
      this.unreadable++;
      return;
    }
    this.record(unflipped(bytes, flippedBits), sentAt, now, null, corrupted, (flags & DUPLICATE) !== 0);
  }

  private record(bytes: Uint8Array, sentAt: number, at: number, dropped: DropReason | null, corrupted: boolean, duplicateCopy: boolean): void {
    const what = this.read(bytes);
    if (what === null) {
      this.unreadable++;
      return;
    }
    this.fates.push({ type: what.type, seq: what.seq, sentAt, at, dropped, corrupted, duplicateCopy });
  }
}

/** One counter that disagrees with the ground truth. */
export interface AuditMismatch {
  counter: string;
  /** From the simulator's record of every datagram. */
  truth: number;
  /** What the lab reported. */
  reported: number;
  /** How the ground truth was counted. */
  how: string;
}

/** One transmission of a sequence number and the fates of its copies. */
interface Transmission {
  sentAt: number;
  copies: Fate[];
}

/** Transmissions of each sequence-numbered packet (DATA and FIN) in the order they were sent. */
function transmissionsBySeq(fates: readonly Fate[]): Map<number, Transmission[]> {
  const out = new Map<number, Transmission[]>();
  for (const f of fates) {
    if (f.type !== PacketType.DATA && f.type !== PacketType.FIN) continue;
    let list = out.get(f.seq);
    if (list === undefined) out.set(f.seq, (list = []));
    // Copies of one transmission share its send time; a sender never sends one packet twice in the same instant.
    let t = list.find((x) => x.sentAt === f.sentAt);
    if (t === undefined) list.push((t = { sentAt: f.sentAt, copies: [] }));
    t.copies.push(f);
  }
  for (const list of out.values()) list.sort((a, b) => a.sentAt - b.sentAt);
  return out;
}

/** What became of the copies of data the link dropped on the way to the receiver. */
export interface DropLedger {
  /** DATA and FIN copies the link dropped. */
  dropped: number;
  /** Dropped copies the sender sent again later. */
  sentAgain: number;
  /** Dropped copies that needed no resend: another copy of the same packet had arrived or was arriving (a duplicate, a spurious retransmission). */
  anotherCopyArrived: number;
  /** Dropped copies that were never sent again and no other copy arrived. */
  neverSentAgain: number;
  /** Every drop is accounted for: none left unsent in a transfer that completed. */
  reconciled: boolean;
}

/**
 * Reconciles the link's drops of data as the summary reconciles corruptions: every copy the link
 * dropped was either sent again, or needed no resend because another copy of the packet arrived;
 * one never sent again is possible only in a transfer that did not complete.
 */
export function reconcileDrops(status: string, forward: FateRecorder): DropLedger {
  const reached = (c: Fate) => c.dropped === null && !c.corrupted;
  const out: DropLedger = { dropped: 0, sentAgain: 0, anotherCopyArrived: 0, neverSentAgain: 0, reconciled: true };
  for (const list of transmissionsBySeq(forward.fates).values()) {
    let arrivedBefore = false;
    list.forEach((t, k) => {
      const arrivedNow = t.copies.some(reached);
      for (const c of t.copies) {
        if (c.dropped === null) continue;
        out.dropped++;
        if (arrivedBefore || arrivedNow) out.anotherCopyArrived++;
        else if (k < list.length - 1) out.sentAgain++;
        else out.neverSentAgain++;
      }
      if (arrivedNow) arrivedBefore = true;
    });
  }
  out.reconciled = out.neverSentAgain === 0 || status !== 'complete';
  return out;
}

/** The ledger as the transfer summary prints it. */
export function dropsText(d: DropLedger): string {
  const never = d.neverSentAgain === 0 ? '' : `, ${d.neverSentAgain} never sent again${d.reconciled ? ' (the transfer ended first)' : ''}`;
  return `${d.dropped} copies of data dropped on the way: ${d.sentAgain} sent again, ${d.anotherCopyArrived} needed no resend (another copy arrived)${never}; ${d.reconciled ? 'reconciled' : 'NOT reconciled'}`;
}

const REASON_COUNTER: Record<DropReason, keyof LinkCounters> = {
  random: 'dropsRandom',
  burst: 'dropsBurst',
  queue: 'dropsQueue',
  mtu: 'dropsMtu',
  memory: 'dropsMemory',
  manual: 'dropsManual',
};

/** Drops by reason on one link direction, against its counters. */
function auditDrops(out: AuditMismatch[], direction: string, fates: readonly Fate[], c: LinkCounters | null): void {
  if (c === null) return;
  for (const [reason, counter] of Object.entries(REASON_COUNTER) as [DropReason, keyof LinkCounters][]) {
    const truth = fates.filter((f) => f.dropped === reason).length;
    if (truth !== c[counter]) out.push({ counter: `${direction} link ${counter}`, truth, reported: c[counter], how: `${direction} datagrams the tracer saw dropped (${reason})` });
  }
}

/** The counters of one end, as the summary keeps them. */
type EndCounters = Readonly<Record<string, number>>;

/**
 * Recomputes a finished simulated transfer's counters from the fates of its datagrams and returns
 * every disagreement (empty when the counters are right). `forward` carries the sender's packets,
 * `reverse` the receiver's (its ACKs, and its verdict on the data as a message of its own).
 */
export function auditTransfer(s: TransferSummary, verifyChecksum: boolean, forward: FateRecorder, reverse: FateRecorder): AuditMismatch[] {
  const out: AuditMismatch[] = [];
  const check = (counter: string, truth: number, reported: number, how: string) => {
    if (truth !== reported) out.push({ counter, truth, reported, how });
  };
  check('forward datagrams readable', 0, forward.unreadable, 'copies the auditor could not read back');
  check('reverse datagrams readable', 0, reverse.unreadable, 'copies the auditor could not read back');
  auditDrops(out, 'forward', forward.fates, s.forward);
  auditDrops(out, 'reverse', reverse.fates, s.reverse);
  // The data direction. The other carries the receiver's ACKs and its verdict, a message the
  // receiver sends again until the sender acknowledges it; but the sender may have closed by
  // then, so what arrived is not what it counted, and that direction is not recounted.
  auditDirection(out, 'sender', 'receiver', s, verifyChecksum, forward.fates, s.sender as unknown as EndCounters, s.receiver);
  // RTT samples against the link's delays: a round trip is a packet's way out, the receiver's
  // wait, and the way back of what acknowledges it (an ACK, or data or a handshake packet that
  // carries one), so no sample can be shorter than the quickest trip each way any packet made
  // (timestamps count whole microseconds: 1 us of slack).
  const quickest = (fates: readonly Fate[]) => fates.reduce((m, f) => (f.dropped === null && !f.corrupted ? Math.min(m, f.at - f.sentAt) : m), Number.POSITIVE_INFINITY);
  const floorMs = quickest(forward.fates) + quickest(reverse.fates);
  const c = s.sender;
  if (c.rttSamples > 0 && Number.isFinite(floorMs) && c.rttMinMs < floorMs - 0.001) {
    out.push({ counter: 'sender rtt_min_ms', truth: floorMs, reported: c.rttMinMs, how: 'the quickest DATA trip out plus the quickest ACK trip back: no round trip is shorter' });
  }
  return out;
}

/**
 * One direction of a transfer: what the sending end counted of its transmissions, and what the
 * receiving end counted of what arrived.
 */
function auditDirection(out: AuditMismatch[], from: string, to: string, s: TransferSummary, verifyChecksum: boolean, fates: readonly Fate[], tx: EndCounters, rx: EndCounters | null): void {
  const check = (counter: string, truth: number, reported: number, how: string) => {
    if (truth !== reported) out.push({ counter, truth, reported, how });
  };
  // With verification off a corrupted copy is taken as it came, header included, and packets
  // beyond the receive window are dropped there: in either case the replay of the arrivals cannot
  // tell what the receiving end made of them.
  const replayable = rx !== null && (rx.windowDrops ?? 0) === 0 && (verifyChecksum || !fates.some((f) => f.dropped === null && f.corrupted));
  const replay = replayArrivals(s, fates);
  // A copy reached the other end when it arrived intact and was not thrown away for arriving ahead
  // of a gap (go-back-N); one that arrives after a later copy was taken still reached it.
  const reachedBy = (c: Fate) => c.dropped === null && !c.corrupted && !(replayable && replay.discardedCopies.has(c));
  const bySeq = transmissionsBySeq(fates);
  let retransmissions = 0;
  let spurious = 0;
  let unrepaired = 0;
  for (const list of bySeq.values()) {
    retransmissions += list.length - 1;
    // A retransmission is spurious when an earlier copy of the packet reached the other end or was
    // going to (the simulator knows the fate of every copy in flight).
    let reached = false;
    list.forEach((t, k) => {
      if (k > 0 && reached) spurious++;
      if (t.copies.some(reachedBy)) reached = true;
    });
    // A packet the link dropped was sent again until a copy arrived intact, or the transfer failed.
    if (!list.some((t) => t.copies.some((c) => c.dropped === null && !c.corrupted)) && s.status === 'complete') unrepaired++;
  }
  const where = `${from}'s DATA and FIN on its way to the ${to}`;
  check(`${from} data_packets_new`, bySeq.size, tx.dataPacketsSent ?? 0, `distinct sequence numbers of the ${where}`);
  check(`${from} retransmissions (timeout + fast)`, retransmissions, (tx.retransmitsTimeout ?? 0) + (tx.retransmitsFast ?? 0), `transmissions beyond the first of each sequence number of the ${where}`);
  // The sender learns of a spurious retransmission from the ACKs (RFC 3522): a lost or merged ACK
  // keeps it from knowing, so it may count fewer than there were, never more.
  const reportedSpurious = tx.retransmitsSpurious ?? 0;
  if (reportedSpurious > spurious) out.push({ counter: `${from} retransmits_spurious`, truth: spurious, reported: reportedSpurious, how: `retransmissions of the ${where} an earlier copy of which reached the other end (the sender may count fewer, never more)` });
  check(`${from} dropped packets sent again`, 0, unrepaired, `sequence numbers of the ${where} no copy of which arrived intact, in a transfer that completed`);
  if (rx === null || !replayable) return;
  // Corrupted copies are reconciled in the summary itself (injected = detected + accepted, the
  // listener's catches included).
  check(`${to} duplicates_suppressed`, replay.duplicates, rx.duplicatesSuppressed ?? 0, 'intact DATA and FIN copies that arrived at or below what was already received');
  check(`${to} out_of_order_buffered`, replay.buffered, rx.outOfOrderBuffered ?? 0, 'intact DATA and FIN copies that arrived ahead of a gap (selective repeat)');
  check(`${to} out_of_order_discarded`, replay.discarded, rx.outOfOrderDiscarded ?? 0, 'intact DATA and FIN copies that arrived ahead of a gap (go-back-N, stop-and-wait)');
}

/**
 * The receiving end's handling of the intact DATA and FIN copies, replayed in the order they
 * arrived: a copy at or below what was already received is a duplicate; above it, selective
 * repeat keeps it (out of order, buffered) and go-back-N and stop-and-wait discard it
 * (`discardedCopies`).
 */
function replayArrivals(s: TransferSummary, fates: readonly Fate[]): { duplicates: number; buffered: number; discarded: number; discardedCopies: Set<Fate> } {
  const arrivals = fates.filter((f) => f.dropped === null && !f.corrupted && (f.type === PacketType.DATA || f.type === PacketType.FIN)).sort((a, b) => a.at - b.at);
  const discardedCopies = new Set<Fate>();
  let duplicates = 0;
  let buffered = 0;
  let discarded = 0;
  const first = arrivals.reduce((m, f) => (m === null || seqDiff(f.seq, m) < 0 ? f.seq : m), null as number | null);
  if (first === null) return { duplicates, buffered, discarded, discardedCopies };
  const sr = s.protocol === 'sr';
  const received = new Set<number>();
  let next = first;
  for (const f of arrivals) {
    const d = seqDiff(f.seq, next);
    if (d < 0 || received.has(f.seq)) {
      duplicates++;
      continue;
    }
    if (d > 0) {
      if (!sr) {
        discarded++;
        discardedCopies.add(f);
        continue;
      }
      buffered++;
    }
    received.add(f.seq);
    while (received.has(next)) next = (next + 1) >>> 0;
  }
  return { duplicates, buffered, discarded, discardedCopies };
}

/** The mismatches as lines for a failure message. */
export function auditText(mismatches: readonly AuditMismatch[]): string {
  return mismatches.map((m) => `${m.counter}: ground truth ${m.truth}, reported ${m.reported} (${m.how})`).join('\n');
}

/** What a stream's final report said (core/stream/report.ts), as the audit reads it. */
export interface StreamFinal {
  final: boolean;
  packetsReceived: number;
  lost: number;
  reordered: number;
  duplicates: number;
  checksumFailures: number;
}

/**
 * Recomputes a simulated UDP stream's final report from the fates of its datagrams: received,
 * lost, duplicated and reordered datagrams and checksum failures. A datagram still held back when
 * the report was made would count as lost; the receiver waits for such datagrams, so the counts
 * must agree exactly.
 */
export function auditStream(report: StreamFinal | null, forward: FateRecorder): AuditMismatch[] {
  const out: AuditMismatch[] = [];
  const check = (counter: string, truth: number, reported: number, how: string) => {
    if (truth !== reported) out.push({ counter, truth, reported, how });
  };
  check('stream datagrams readable', 0, forward.unreadable, 'copies the auditor could not read back');
  if (report === null || !report.final) {
    out.push({ counter: 'final report', truth: 1, reported: 0, how: 'a stream that ended should have its final report' });
    return out;
  }
  const data = forward.fates.filter((f) => f.type === PacketType.UDATA);
  const sent = new Set(data.map((f) => f.seq));
  const arrivals = data.filter((f) => f.dropped === null && !f.corrupted).sort((a, b) => a.at - b.at);
  const base = data.reduce((m, f) => (m === null || seqDiff(f.seq, m) < 0 ? f.seq : m), null as number | null) ?? 0;
  const seen = new Set<number>();
  let highest = -1;
  let duplicates = 0;
  let reordered = 0;
  for (const f of arrivals) {
    const k = seqDiff(f.seq, base);
    if (seen.has(k)) {
      duplicates++;
      continue;
    }
    if (k < highest) reordered++;
    seen.add(k);
    if (k > highest) highest = k;
  }
  check('stream packetsReceived', seen.size, report.packetsReceived, 'distinct stream datagrams that arrived intact');
  check('stream lost', sent.size - seen.size, report.lost, 'stream datagrams sent of which no copy arrived intact');
  check('stream duplicates', duplicates, report.duplicates, 'intact copies of a datagram that had already arrived');
  check('stream reordered', reordered, report.reordered, 'datagrams that arrived intact after a later one');
  check('stream checksum_failures', forward.fates.filter((f) => f.dropped === null && f.corrupted).length, report.checksumFailures, 'corrupted copies that arrived');
  return out;
}

/** Transmissions that left after the time limit of a transfer that timed out (there must be none). */
export function auditTimeLimit(status: string, timeLimitMs: number, forward: FateRecorder): AuditMismatch[] {
  if (status !== 'timeout') return [];
  const late = forward.fates.filter((f) => (f.type === PacketType.DATA || f.type === PacketType.FIN) && f.sentAt > timeLimitMs && !f.duplicateCopy).length;
  return late === 0 ? [] : [{ counter: 'transmissions after the time limit', truth: 0, reported: late, how: `DATA and FIN the sender sent after ${timeLimitMs} ms in a transfer that timed out` }];
}

/** What an RPC workload reported of its calls, as the audit reads it. */
export interface RpcCounts {
  /** Call messages the client sent, first ones included. */
  transmissions: number;
  executions: number;
  duplicateRequests: number;
  cacheHits: number;
  inProgressDrops: number;
  duplicateExecutions: number;
}

/**
 * Recomputes an RPC workload's server-side figures over UDP from the fate of every call datagram:
 * each call copy that arrived intact is a request; beyond the first of its xid it is a duplicate
 * request, which the duplicate request cache answers (or drops while the first is still running)
 * and which runs again without it. `drc` says whether the cache was on.
 */
export function auditRpc(c: RpcCounts, drc: boolean, forward: FateRecorder): AuditMismatch[] {
  const out: AuditMismatch[] = [];
  const check = (counter: string, truth: number, reported: number, how: string) => {
    if (truth !== reported) out.push({ counter, truth, reported, how });
  };
  check('call datagrams readable', 0, forward.unreadable, 'copies the auditor could not read back');
  const all = forward.fates.filter((f) => f.type === RpcDatagram.CALL || f.type === RpcDatagram.NULL_CALL);
  const transmissions = all.filter((f) => !f.duplicateCopy).length;
  const intact = (f: Fate) => f.dropped === null && !f.corrupted;
  // NULL pings run every time they arrive and are not counted as duplicates.
  const nulls = all.filter((f) => f.type === RpcDatagram.NULL_CALL && intact(f)).length;
  const arrived = all.filter((f) => f.type === RpcDatagram.CALL && intact(f));
  const xids = new Set(arrived.map((f) => f.seq));
  const duplicates = arrived.length - xids.size;
  check('client transmissions', transmissions, c.transmissions, 'call datagrams the client sent (the link\'s copies not counted)');
  check('server duplicate_requests', duplicates, c.duplicateRequests, 'intact copies of a call (NULL aside) whose xid had arrived before');
  if (drc) {
    check('server cache hits + in-progress drops + duplicate executions', duplicates, c.cacheHits + c.inProgressDrops + c.duplicateExecutions, 'each duplicate request is answered from the cache, dropped while the first runs, or run again');
    check('server executions', nulls + xids.size + c.duplicateExecutions, c.executions, 'NULL pings that arrived, distinct calls that arrived, and the duplicates the cache no longer held');
  } else {
    check('server executions', nulls + arrived.length, c.executions, 'intact call copies that arrived: without the cache each one runs');
    check('server duplicate executions', duplicates, c.duplicateExecutions, 'without the cache every duplicate request runs again');
  }
  return out;
}
