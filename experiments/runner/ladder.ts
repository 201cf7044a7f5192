// The packet ladder: what happened to each datagram of a trial (sent, dropped and why, delayed,
// duplicated, corrupted, retransmitted), read off the impairment links by a tracer, for the app's
// sequence diagram. Only attached when someone watches; a CLI run pays nothing for it.

import type { Link, LinkTracer } from '../../core/impair/link.js';
import { DeliveryFlag } from '../../core/impair/link.js';
import { Flag, PACKET_TYPE_NAMES, PacketType, newHeader, parseInto } from '../../core/wire/packet.js';
import type { LadderPacket } from '../api/contract.js';

/** Most sequence numbers remembered per connection for spotting retransmissions. */
const SEEN_MAX = 65_536;

/** A tracer that turns one link direction's datagrams into ladder packets. */
export class LadderTracer implements LinkTracer {
  private readonly header = newHeader();
  private readonly seen = new Map<number, Set<number>>();

  constructor(
    private readonly direction: 'forward' | 'reverse',
    private readonly originMs: number,
    private readonly emit: (p: LadderPacket) => void,
  ) {}

  private describe(bytes: Uint8Array): Pick<LadderPacket, 'type' | 'seq' | 'ack' | 'retransmission' | 'windowBytes' | 'sack' | 'connection'> {
    const h = this.header;
    if (parseInto(bytes, bytes.length, h) !== null) return { type: this.direction === 'forward' ? 'DATAGRAM' : 'REPLY', seq: null, ack: null, retransmission: false, windowBytes: null, sack: [], connection: null };
    const type = PACKET_TYPE_NAMES[h.type] ?? `TYPE-${h.type}`;
    let retransmission = false;
    if (h.type === PacketType.DATA) {
      // Per connection: the flows of a run share the link.
      let seen = this.seen.get(h.connectionId);
      if (seen === undefined) this.seen.set(h.connectionId, (seen = new Set<number>()));
      const key = h.seq >>> 0;
      retransmission = seen.has(key);
      if (!retransmission) {
        if (seen.size >= SEEN_MAX) seen.clear();
        seen.add(key);
      }
    }
    const isAck = (h.flags & Flag.ACK) !== 0;
    const sack: number[] = [];
    for (let i = 0; i < h.sackCount * 2; i++) sack.push(h.sack[i]! >>> 0);
    return { type, seq: h.seq >>> 0, ack: isAck ? h.ack >>> 0 : null, retransmission, windowBytes: isAck ? h.windowBytes : null, sack, connection: h.connectionId >>> 0 };
  }

  dropped(_now: number, bytes: Uint8Array, _from: number, _to: number, reason: string, sentAt: number): void {
    const d = this.describe(bytes);
    this.emit({ sentS: (sentAt - this.originMs) / 1000, arrivedS: null, direction: this.direction, ...d, fate: reason });
  }

  delivered(now: number, bytes: Uint8Array, _from: number, _to: number, sentAt: number, flags: number): void {
    const d = this.describe(bytes);
    const fate = (flags & DeliveryFlag.CORRUPTED) !== 0 ? 'corrupted' : (flags & DeliveryFlag.DUPLICATE) !== 0 ? 'duplicate' : (flags & (DeliveryFlag.REORDERED | DeliveryFlag.HELD_BACK)) !== 0 ? 'reordered' : 'delivered';
    this.emit({ sentS: (sentAt - this.originMs) / 1000, arrivedS: (now - this.originMs) / 1000, direction: this.direction, ...d, fate });
  }
}

/** Adds a tracer to a link, keeping one that is there already (a capture). */
export function addTracer(link: Link, t: LinkTracer): void {
  const old = link.tracer;
  link.tracer =
    old === null
      ? t
      : {
          dropped: (...a) => {
            old.dropped(...a);
            t.dropped(...a);
          },
          delivered: (...a) => {
            old.delivered(...a);
            t.delivered(...a);
          },
        };
}
