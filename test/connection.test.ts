import { describe, expect, it } from 'vitest';
import { Collector, Pair, transfer } from './helpers/pair.js';
import { PacketType } from '../core/wire/packet.js';
import type { ArqMode } from '../core/transport/config.js';
import { NO_IMPAIRMENT } from '../core/impair/config.js';
import { runSimTransfer } from '../workloads/transfer/sim-transfer.js';
import { transferSetup } from './helpers/transfer-setup.js';

const MSS = 1164;

function bytes(n: number, seed = 1): Uint8Array {
  const b = new Uint8Array(n);
  for (let i = 0; i < n; i++) b[i] = (i * 31 + seed) & 0xff;
  return b;
}

function established(p: Pair): void {
  p.connect();
  p.driveUntil(() => p.a.state === 'established' && p.b.state === 'established');
}


describe('handshake and close', () => {
  it('connects, takes an RTT sample from the SYN, and closes both ways', () => {
    const p = new Pair();
    established(p);
    expect(p.a.pollEvent()).toEqual({ type: 'connected' });
    expect(p.b.pollEvent()).toEqual({ type: 'connected' });
    expect(p.a.srttMs).toBeCloseTo(20, 5);
    const got = transfer(p, bytes(3000));
    expect(got.bytes.length).toBe(3000);
    p.driveUntil(() => p.a.state === 'closed' && p.b.state === 'closed');
    const events = [p.a.pollEvent(), p.a.pollEvent()];
    expect(events).toContainEqual({ type: 'closed' });
  });

  it('retries a lost SYN and gives up with a reason when nobody answers', () => {
    const p = new Pair({ maxRetransmissions: 3, rtoMsInitial: 100 });
    p.filter = (s) => (s.header.type === PacketType.SYN ? 'drop' : 'deliver');
    p.connect();
    p.driveUntil(() => p.a.state === 'failed');
    expect(p.sentBy('a', PacketType.SYN)).toHaveLength(4);
    expect(p.a.failureReason).toMatch(/no answer to SYN after 4 attempts/);
    const times = p.sentBy('a', PacketType.SYN).map((s) => s.at);
    expect(times).toEqual([0, 100, 300, 700]);
  });
});

describe.each<ArqMode>(['saw', 'gbn', 'sr'])('%s', (protocol) => {
  it('keeps message boundaries', () => {
    const p = new Pair({ protocol, windowPackets: 8 });
    established(p);
    const sizes = [1, 100, MSS, MSS + 1, 5000, 3, 2 * MSS];
    sizes.forEach((n, i) => p.a.sendMessage(bytes(n, i)));
    const got = new Collector();
    p.driveUntil(() => {
      p.b.read(got);
      return got.messages.length === sizes.length;
    });
    expect(got.messages.map((m) => m.length)).toEqual(sizes);
    sizes.forEach((n, i) => expect(got.messages[i]).toEqual(bytes(n, i)));
    expect(p.b.counters.deliveredMessages).toBe(sizes.length);
  });

  it('delivers exactly the sent bytes when every third data packet is lost once', () => {
    const p = new Pair({ protocol, windowPackets: 8, rtoMode: 'fixed', rtoMs: 50 });
    established(p);
    const tries = new Map<number, number>();
    p.filter = (s) => {
      if (s.from !== 'a' || s.header.type !== PacketType.DATA) return 'deliver';
      const n = (tries.get(s.header.seq) ?? 0) + 1;
      tries.set(s.header.seq, n);
      return s.header.seq % 3 === 0 && n === 1 ? 'drop' : 'deliver';
    };
    const data = bytes(40 * MSS + 17);
    expect(Uint8Array.from(transfer(p, data).bytes)).toEqual(data);
    const c = p.a.counters;
    expect(c.retransmitsTimeout + c.retransmitsFast).toBeGreaterThan(0);
  });

  it('suppresses duplicates by sequence number', () => {
    const p = new Pair({ protocol, windowPackets: 4 });
    established(p);
    p.filter = (s) => (s.from === 'a' && s.header.type === PacketType.DATA ? 'duplicate' : 'deliver');
    const data = bytes(10 * MSS);
    expect(Uint8Array.from(transfer(p, data).bytes)).toEqual(data);
    expect(p.b.counters.duplicatesSuppressed).toBe(10);
  });

  it('works across the sequence number wrap', () => {
    const p = new Pair({ protocol, windowPackets: 8, rtoMode: 'fixed', rtoMs: 50 }, undefined, { a: 0xfffffff0, b: 0xfffffffe });
    established(p);
    let n = 0;
    p.filter = (s) => (s.from === 'a' && s.header.type === PacketType.DATA && ++n % 7 === 0 ? 'drop' : 'deliver');
    const data = bytes(40 * MSS);
    expect(Uint8Array.from(transfer(p, data).bytes)).toEqual(data);
    expect(p.sentBy('a', PacketType.DATA).some((s) => s.header.seq < 100)).toBe(true);
  });
});

describe('retransmission', () => {
  it('resends on timeout, backs off exponentially, and fails with a reason after max retransmissions', () => {
    const p = new Pair({ protocol: 'saw', rtoMode: 'fixed', rtoMs: 100, rtoBackoff: 2, maxRetransmissions: 4 });
    established(p);
    p.filter = (s) => (s.from === 'a' && s.header.type === PacketType.DATA ? 'drop' : 'deliver');
    p.a.write(bytes(10), 0, 10);
    p.driveUntil(() => p.a.state === 'failed' && p.b.state === 'failed');
    const times = p.sentBy('a', PacketType.DATA).map((s) => s.at - p.sentBy('a', PacketType.DATA)[0]!.at);
    expect(times).toEqual([0, 100, 300, 700, 1500]);
    expect(p.a.failureReason).toMatch(/retransmitted 4 times without an acknowledgment \(max 4\)/);
    expect(p.b.failureReason).toMatch(/^reset by peer: packet \d+ was retransmitted/);
    expect(p.a.counters.retransmitsTimeout).toBe(4);
  });

  it('backs off once per timeout even when per-packet deadlines expire one after another', () => {
    const p = new Pair({ protocol: 'sr', windowPackets: 8, rtoMode: 'fixed', rtoMs: 100, rtoBackoff: 2 });
    established(p);
    // Four packets sent 5 ms apart and never delivered: their deadlines expire 5 ms apart.
    let now = p.now;
    for (let k = 0; k < 4; k++) {
      p.a.sendMessage(bytes(10, k));
      while (p.a.pollTransmit(now) !== null);
      now += 5;
    }
    const first = p.a.pollTimeout()!;
    for (let t = p.a.pollTimeout(); t !== null && t <= first + 20; t = p.a.pollTimeout()) {
      p.a.handleTimeout(t);
      while (p.a.pollTransmit(t) !== null);
    }
    expect(p.a.counters.retransmitsTimeout).toBe(4);
    expect(p.a.rtoMs).toBe(200);
  });

  it('fast-retransmits after three duplicate ACKs without waiting for the timer', () => {
    const p = new Pair({ protocol: 'sr', windowPackets: 10, rtoMode: 'fixed', rtoMs: 1000 });
    established(p);
    const first = p.a.counters.packetsSent;
    let dropped = false;
    p.filter = (s) => {
      if (!dropped && s.from === 'a' && s.header.type === PacketType.DATA) {
        dropped = true;
        return 'drop';
      }
      return 'deliver';
    };
    const data = bytes(10 * MSS);
    expect(Uint8Array.from(transfer(p, data).bytes)).toEqual(data);
    expect(first).toBeGreaterThan(0);
    expect(p.a.counters.retransmitsFast).toBe(1);
    expect(p.a.counters.retransmitsTimeout).toBe(0);
    expect(p.a.counters.fastRecoveries).toBe(1);
    expect(p.now).toBeLessThan(200);
  });

  it('go-back-N resends the whole window and its receiver discards out-of-order packets', () => {
    const p = new Pair({ protocol: 'gbn', windowPackets: 6, rtoMode: 'fixed', rtoMs: 100, dupAckThreshold: 0 });
    established(p);
    let dropped = false;
    p.filter = (s) => {
      if (!dropped && s.from === 'a' && s.header.type === PacketType.DATA) {
        dropped = true;
        return 'drop';
      }
      return 'deliver';
    };
    const data = bytes(6 * MSS);
    expect(Uint8Array.from(transfer(p, data).bytes)).toEqual(data);
    expect(p.b.counters.outOfOrderDiscarded).toBe(5);
    expect(p.a.counters.retransmitsTimeout).toBe(6);
  });

  it('detects a spurious retransmission when the ACK of the original arrives late (Eifel)', () => {
    const p = new Pair({ protocol: 'sr', windowPackets: 1, rtoMode: 'fixed', rtoMs: 50 });
    established(p);
    let delayed = false;
    p.filter = (s) => {
      if (!delayed && s.from === 'b' && s.header.type === PacketType.ACK && s.at > 0) {
        delayed = true;
        return { delayMs: 80 };
      }
      return 'deliver';
    };
    const data = bytes(3 * MSS);
    expect(Uint8Array.from(transfer(p, data).bytes)).toEqual(data);
    expect(p.a.counters.retransmitsTimeout).toBe(1);
    expect(p.a.counters.retransmitsSpurious).toBe(1);
    expect(p.b.counters.duplicatesSuppressed).toBe(1);
  });

  it('samples the RTT of a retransmission from the echoed timestamp, not from the first send (RFC 7323 (4.1))', () => {
    const p = new Pair({ protocol: 'saw', rtoMode: 'adaptive', rtoMsInitial: 100, rtoMsMin: 1 });
    established(p);
    const afterHandshake = p.a.counters.rttSamples;
    let dropped = false;
    p.filter = (s) => {
      if (!dropped && s.from === 'a' && s.header.type === PacketType.DATA) {
        dropped = true;
        return 'drop';
      }
      return 'deliver';
    };
    transfer(p, bytes(3 * MSS));
    // Three data packets, one of them sent twice, and the FIN: four samples. The ACK of the resent
    // packet echoes the retransmission, so its sample is one round trip, not the 100 ms timeout
    // plus a round trip that Karn's rule exists to avoid.
    expect(p.a.counters.rttSamples - afterHandshake).toBe(4);
    expect(p.a.counters.retransmitsTimeout).toBe(1);
    expect(p.a.counters.rttMaxMs).toBeLessThan(50);
  });
});

describe('lost retransmissions (RACK)', () => {
  it('a retransmission lost behind an older hole is sent again after about an RTT, not at the RTO', () => {
    // Packet 10 is lost twice; packet 5 is lost once and every copy after that takes 300 ms, so 5
    // stays the oldest packet meanwhile and 10's lost copy is not the oldest one. Packet 14 is lost
    // once: its retransmission, sent just after 10's and delivered, shows that 10's was lost.
    const p = new Pair({ protocol: 'sr', windowPackets: 32, rtoMsMin: 1000, rtoMsInitial: 1000 });
    established(p);
    const first = 1001; // the ISN is 1000 and the SYN takes one sequence number
    const seen = new Map<number, number>();
    p.filter = (s) => {
      if (s.from !== 'a' || s.header.type !== PacketType.DATA) return 'deliver';
      const n = (seen.get(s.header.seq) ?? 0) + 1;
      seen.set(s.header.seq, n);
      if (s.header.seq === first + 5) return n === 1 ? 'drop' : { delayMs: 300 };
      if (s.header.seq === first + 10 && n <= 2) return 'drop';
      if (s.header.seq === first + 14 && n === 1) return 'drop';
      return 'deliver';
    };
    const data = bytes(40 * MSS);
    const got = transfer(p, data);
    expect(Uint8Array.from(got.bytes)).toEqual(data);
    const copies = p.sentBy('a', PacketType.DATA).filter((s) => s.header.seq === first + 10).map((s) => s.at);
    expect(copies.length).toBe(3);
    expect(copies[2]! - copies[1]!).toBeLessThan(3 * 20 + 1);
    expect(p.a.counters.timeouts).toBe(0);
  });
});

describe('spurious retransmissions (Eifel)', () => {
  it('copies sent in the same microsecond are not told apart: none counted spurious on a link without delay', () => {
    // Without delay the whole transfer happens at one instant of virtual time, so a lost packet and
    // its retransmission carry the same timestamp, and the ACK's echo matched the first copy too:
    // every repaired loss used to count as a spurious retransmission.
    const s = runSimTransfer(transferSetup(300_000, { forward: { ...NO_IMPAIRMENT, lossProbability: 0.05 }, seed: 4 }));
    expect(s.dataMatched).toBe(true);
    expect(s.sender.retransmitsFast).toBeGreaterThan(5);
    expect(s.sender.retransmitsSpurious).toBe(0);
  });
});

describe('checksums', () => {
  it.each([true, false])('with verification %s', (verifyChecksum) => {
    const p = new Pair({ protocol: 'sr', verifyChecksum });
    established(p);
    let corrupted = false;
    p.filter = (s) => {
      if (!corrupted && s.from === 'a' && s.header.type === PacketType.DATA) {
        corrupted = true;
        return 'corrupt';
      }
      return 'deliver';
    };
    const data = bytes(3 * MSS);
    const got = Uint8Array.from(transfer(p, data).bytes);
    if (verifyChecksum) {
      expect(got).toEqual(data);
      expect(p.b.counters.checksumFailures).toBe(1);
      expect(p.b.counters.corruptAccepted).toBe(0);
    } else {
      expect(got).not.toEqual(data);
      expect(got[MSS - 1]).toBe(data[MSS - 1]! ^ 1);
      expect(p.b.counters.checksumFailures).toBe(0);
      expect(p.b.counters.corruptAccepted).toBe(1);
      expect(p.b.counters.corruptDeliveredPackets).toBe(1);
    }
  });
});

describe('flow control', () => {
  it('stops at a zero window, probes, and resumes when the application reads', () => {
    const p = new Pair({ protocol: 'sr', windowPackets: 32, rcvBufferBytes: 4 * MSS, rtoMode: 'fixed', rtoMs: 100 });
    established(p);
    const data = bytes(12 * MSS);
    let off = 0;
    // The receiving application does not read for a while.
    p.driveUntil(() => {
      off += p.a.write(data, off, data.length);
      return p.now > 1000;
    });
    expect(p.b.rcvBufferedBytes).toBe(4 * MSS);
    expect(p.b.advertisedWindowBytes).toBe(0);
    expect(p.sentBy('a', PacketType.DATA)).toHaveLength(4);
    expect(p.a.counters.probesSent).toBeGreaterThan(0);
    // Now the application reads: the window reopens and the rest goes through.
    const got = new Collector();
    p.driveUntil(() => {
      if (off < data.length) off += p.a.write(data, off, data.length);
      else p.a.close();
      p.b.read(got);
      if (p.b.isPeerClosed) p.b.close();
      return p.a.isSendComplete && p.b.isPeerClosed;
    });
    expect(Uint8Array.from(got.bytes)).toEqual(data);
  });

  it('a window update after reading lets the sender finish', () => {
    const p = new Pair({ protocol: 'gbn', windowPackets: 16, rcvBufferBytes: 2 * MSS });
    established(p);
    const data = bytes(20 * MSS);
    expect(Uint8Array.from(transfer(p, data).bytes)).toEqual(data);
    expect(p.b.counters.windowDrops).toBe(0);
  });
});

describe('live changes and misuse', () => {
  it('a bigger window on a live connection puts more packets in flight', () => {
    const p = new Pair({ protocol: 'sr', windowPackets: 1, rcvBufferBytes: 64 * MSS });
    established(p);
    const data = bytes(40 * MSS);
    let off = 0;
    off += p.a.write(data, off, data.length);
    p.step();
    expect(p.a.inFlightPackets).toBe(1);
    p.a.reconfigure(p.now, { windowPackets: 8 });
    off += p.a.write(data, off, data.length);
    // The next flush fills the new window: seven more packets join the one in flight.
    p.step();
    expect(p.sentBy('a', PacketType.DATA)).toHaveLength(8);
    expect(() => p.a.reconfigure(p.now, { protocol: 'gbn' })).toThrow(/protocol cannot change/);
    expect(() => p.a.reconfigure(p.now, { windowPackets: 0 })).toThrow(RangeError);
  });

  it('refuses writes after close and empty messages', () => {
    const p = new Pair();
    established(p);
    expect(() => p.a.sendMessage(new Uint8Array(0))).toThrow(/empty messages/);
    p.a.close();
    expect(() => p.a.write(bytes(3), 0, 3)).toThrow(/after close/);
  });

  it('never throws on garbage from the network and counts it', () => {
    const p = new Pair();
    established(p);
    p.a.handleDatagram(p.now, new Uint8Array([1, 2, 3]));
    p.a.handleDatagram(p.now, new Uint8Array(100).fill(7));
    expect(p.a.counters.malformed + p.a.counters.checksumFailures).toBe(2);
  });
});
