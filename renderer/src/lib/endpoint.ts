// What the endpoint state panel shows of a paused simulator trial, worked out without a browser:
// the sender's window as a row of cells (acknowledged base on the left, sent and waiting, SACKed,
// queued for retransmission, usable but not sent yet), each unacknowledged packet's timer, and the
// receiver's expected sequence number with the packets it holds out of order.

import type { EndpointState } from '../../../experiments/api/contract.js';

/** One cell of the send window. */
export interface WindowCell {
  seq: number;
  /** Offset from the base (sndUna). */
  offset: number;
  /** sent: waiting for its ACK; sacked; queued: to be retransmitted; usable: may be sent now. */
  status: 'sent' | 'sacked' | 'queued' | 'usable';
  transmissions: number;
}

/** Most cells drawn. */
export const WINDOW_CELLS_MAX = 32;

/** The send window as cells, base first. */
export function windowCells(s: EndpointState, max = WINDOW_CELLS_MAX): WindowCell[] {
  const outstanding = (s.sndNxt - s.sndUna) >>> 0;
  const n = Math.min(max, Math.max(s.windowPackets, outstanding));
  const bySeq = new Map(s.unacked.map((u) => [u.seq, u]));
  const cells: WindowCell[] = [];
  for (let i = 0; i < n; i++) {
    const seq = (s.sndUna + i) >>> 0;
    if (i < outstanding) {
      const u = bySeq.get(seq);
      cells.push({ seq, offset: i, status: u?.sacked === true ? 'sacked' : u?.retransmitQueued === true ? 'queued' : 'sent', transmissions: u?.transmissions ?? 1 });
    } else cells.push({ seq, offset: i, status: 'usable', transmissions: 0 });
  }
  return cells;
}

/** Milliseconds until a deadline, as text ("12.5 ms", "due", "none"). */
export function timerText(deadlineMs: number | null, nowMs: number): string {
  if (deadlineMs === null) return 'none';
  const left = deadlineMs - nowMs;
  return left <= 0 ? 'due' : `${left.toFixed(1)} ms`;
}

/** A number of milliseconds, or a dash when unknown. */
export function msText(v: number | null | undefined): string {
  return v === null || v === undefined || !Number.isFinite(v) ? '—' : `${v.toFixed(1)} ms`;
}

/**
 * The timer of an unacknowledged packet: its own (selective repeat), or for the oldest one the
 * connection's single retransmission timer (go-back-N, stop-and-wait), else none.
 */
export function packetTimerText(s: EndpointState, i: number, nowMs: number): string {
  const u = s.unacked[i]!;
  if (u.deadlineMs !== null) return timerText(u.deadlineMs, nowMs);
  if (i === 0 && s.retransmitTimerMs !== null) return `${timerText(s.retransmitTimerMs, nowMs)} (the one timer)`;
  return '—';
}

/** A plain number, or a dash when unknown. */
export function numText(v: number | null | undefined): string {
  return v === null || v === undefined || !Number.isFinite(v) ? '—' : String(Number(v.toFixed(2)));
}

/** One sentence about the send window (the picture's text alternative). */
export function describeWindow(s: EndpointState): string {
  const outstanding = (s.sndNxt - s.sndUna) >>> 0;
  const sacked = s.unacked.filter((u) => u.sacked).length;
  const queued = s.unacked.filter((u) => u.retransmitQueued).length;
  const extra = [sacked > 0 ? `${sacked} SACKed` : '', queued > 0 ? `${queued} queued for retransmission` : ''].filter((x) => x !== '');
  return `Send window: base ${s.sndUna}, next ${s.sndNxt}, ${outstanding} of ${s.windowPackets} packets sent and not yet acknowledged${extra.length > 0 ? ` (${extra.join(', ')})` : ''}.`;
}
