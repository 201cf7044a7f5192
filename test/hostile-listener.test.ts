// Hostile input to the lab's listener (test/helpers/hostile.ts): a hundred thousand random and
// mutated datagrams (SYNs of both services, data, ACKs, RSTs, cut, flipped, spliced) from 64
// addresses, in virtual time, to the sans-IO Listener that `transfer --listen`, `udp --listen`,
// loopback runs and the peer agent's listener service run. Nothing may throw; sessions stay within
// the caps; and no address gets back more than three times the bytes it sent.

import { describe, expect, it } from 'vitest';
import { DEFAULT_LISTENER_CAPS, Listener } from '../core/listener.js';
import { labSessionFactory } from '../core/apps/services.js';
import { hostileRun } from './helpers/hostile.js';
import { hostileListenerDatagrams } from '../bench/hostile-inputs.js';

const ADDRESSES = 64;

describe('hostile input to the listener', () => {
  it('never throws, keeps within its caps, and sends no address more than 3x its bytes', () => {
    const caps = { ...DEFAULT_LISTENER_CAPS };
    // Sixteen addresses share an IP each way round, so the per-IP limit is exercised too.
    const listener = new Listener(caps, labSessionFactory(), 9, { addressOf: (peer) => `10.0.0.${peer % 16}` });
    const bytesIn = new Float64Array(ADDRESSES);
    const bytesOut = new Float64Array(ADDRESSES);
    let now = 0;
    let maxSessions = 0;
    const drain = () => {
      for (let d = listener.pollTransmit(now); d !== null; d = listener.pollTransmit(now)) bytesOut[listener.transmitTo]! += d.length;
      while (listener.pollEvent() !== null);
    };
    // Half the inputs have their checksum sealed again, as an attacker would seal what he mutated
    // (else nothing passes the CRC check to reach the parser, the handshake and the sessions).
    const inputs = hostileListenerDatagrams();
    const t = hostileRun('listener (core/listener.ts)', inputs, (bytes) => {
      const from = (bytes.length * 31 + (bytes[0] ?? 0)) % ADDRESSES;
      bytesIn[from]! += bytes.length;
      listener.handleDatagram(now, bytes, from);
      drain();
      // Virtual time moves on, so that timers fire: reports, handshake and stream timeouts.
      now += 7;
      const due = listener.pollTimeout();
      if (due !== null && due <= now) {
        listener.handleTimeout(now);
        drain();
      }
      maxSessions = Math.max(maxSessions, listener.sessionCount);
    });
    // An hour later every timer has run out: what remains to be sent is counted too.
    for (let i = 0; i < 3600; i++) {
      now += 1000;
      listener.handleTimeout(now);
      drain();
    }
    expect(t.throws).toBe(0);
    expect(maxSessions).toBeLessThanOrEqual(caps.maxSessions);
    expect(listener.sessionCount).toBe(0);
    let worst = 0;
    for (let a = 0; a < ADDRESSES; a++) if (bytesIn[a]! > 0) worst = Math.max(worst, bytesOut[a]! / bytesIn[a]!);
    console.log(`hostile: listener: largest bytes back / bytes in over an address, an hour after: ${worst.toFixed(3)}`);
    expect(worst).toBeLessThanOrEqual(3);
    // The inputs reached the listener's refusals and its sessions alike.
    const k = listener.counters;
    expect(k.malformed + k.checksumFailures).toBeGreaterThan(0);
    expect(k.refused).toBeGreaterThan(0);
    expect(k.sessionsOpened).toBeGreaterThan(0);
    expect(k.budgetDrops).toBeGreaterThan(0);
  });
});
