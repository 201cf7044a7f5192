// Parts of the peer agent on their own: the echo's byte budget and rates, the client-only peer
// tables, the caps checks, beacons.

import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { createSocket } from 'node:dgram';
import { EchoEngine } from '../core/peer/echo.js';
import { DEFAULT_PEER_CAPS, checkEchoRequest, checkListenerRequest, checkRpcRequest } from '../core/peer/caps.js';
import { LOOPBACK_BROADCAST, encodeBeacon, parseBeacon } from '../core/peer/beacon.js';
import { BeaconSender, PeerBeaconListener, beaconDestinations, ipv4Broadcast } from '../net/peer/beacon.js';
import type { NetworkInterfaceInfo } from 'node:os';
import { PeerTable } from '../net/udp/driver.js';
import { RecyclingPeerTable } from '../net/udp/recycling-peers.js';
import { plainAddress } from '../core/util/address.js';

const caps = { ...DEFAULT_PEER_CAPS };

describe('echo engine', () => {
  it('echoes datagrams from the client as they are', () => {
    const e = new EchoEngine({ replyBytes: null, maxRatePacketsPerSecond: 1000, maxRateBitsPerSecond: 1e9 }, 0);
    const d = Uint8Array.of(1, 2, 3, 4);
    const r = e.handleDatagram(1, d, true);
    expect(r).toEqual(d);
    expect(r).not.toBe(d);
    expect(e.counters).toMatchObject({ receivedDatagrams: 1, receivedBytes: 4, sentDatagrams: 1, sentBytes: 4 });
  });

  it('answers nothing to other addresses, and their bytes do not fill the budget', () => {
    const e = new EchoEngine({ replyBytes: 100, maxRatePacketsPerSecond: 1000, maxRateBitsPerSecond: 1e9 }, 0);
    for (let i = 0; i < 50; i++) expect(e.handleDatagram(i, new Uint8Array(1000), false)).toBeNull();
    expect(e.counters.foreignDrops).toBe(50);
    expect(e.counters.receivedBytes).toBe(0);
    // The client's first 10-byte datagram cannot pay for a 100-byte reply.
    expect(e.handleDatagram(60, new Uint8Array(10), true)).toBeNull();
    expect(e.counters.budgetDrops).toBe(1);
  });

  it('never sends more bytes than it received, whatever the reply size (byte budget)', () => {
    const e = new EchoEngine({ replyBytes: 250, maxRatePacketsPerSecond: 1e6, maxRateBitsPerSecond: 1e12 }, 0);
    const replies: Uint8Array[] = [];
    for (let i = 0; i < 10; i++) {
      const req = new Uint8Array(100).fill(i + 1);
      const r = e.handleDatagram(i, req, true);
      if (r !== null) replies.push(r);
    }
    // 1000 bytes in: four 250-byte replies, paid after the 3rd, 5th, 8th and 10th request.
    expect(replies.map((r) => r.length)).toEqual([250, 250, 250, 250]);
    expect(replies[0]!.subarray(0, 100)).toEqual(new Uint8Array(100).fill(3));
    expect(replies[0]!.subarray(100)).toEqual(new Uint8Array(150));
    expect(e.counters.sentBytes).toBe(1000);
    expect(e.counters.budgetDrops).toBe(6);
  });

  it('the budget holds for any mix of sizes, sources and times (property)', () => {
    fc.assert(
      fc.property(
        fc.option(fc.integer({ min: 0, max: 65507 }), { nil: null }),
        fc.array(fc.record({ size: fc.integer({ min: 0, max: 3000 }), fromClient: fc.boolean(), dtMs: fc.integer({ min: 0, max: 50 }), canSend: fc.boolean() }), { maxLength: 200 }),
        (replyBytes, datagrams) => {
          const e = new EchoEngine({ replyBytes, maxRatePacketsPerSecond: 5000, maxRateBitsPerSecond: 50e6 }, 0);
          let now = 0;
          let sent = 0;
          for (const d of datagrams) {
            now += d.dtMs;
            const r = e.handleDatagram(now, new Uint8Array(d.size), d.fromClient, d.canSend);
            if (r !== null) {
              expect(d.fromClient).toBe(true);
              sent += r.length;
            }
            expect(sent).toBe(e.counters.sentBytes);
            expect(e.counters.sentBytes).toBeLessThanOrEqual(e.counters.receivedBytes);
          }
          const c = e.counters;
          const fromClient = datagrams.filter((d) => d.fromClient).length;
          expect(c.sentDatagrams + c.budgetDrops + c.rateDrops + c.sendQueueDrops).toBe(fromClient);
        },
      ),
      { numRuns: 300 },
    );
  });

  it('holds the packet rate (a 100 ms burst, then the rate)', () => {
    const e = new EchoEngine({ replyBytes: null, maxRatePacketsPerSecond: 1000, maxRateBitsPerSecond: 1e12 }, 0);
    let answered = 0;
    // 10,000 datagrams over one second of virtual time: 100 in the burst plus 1000 from the rate.
    for (let i = 0; i < 10_000; i++) if (e.handleDatagram(i / 10, new Uint8Array(10), true) !== null) answered++;
    expect(answered).toBeGreaterThanOrEqual(1090);
    expect(answered).toBeLessThanOrEqual(1101);
    expect(e.counters.rateDrops).toBe(10_000 - answered);
  });

  it('holds the bit rate', () => {
    const e = new EchoEngine({ replyBytes: null, maxRatePacketsPerSecond: 1e6, maxRateBitsPerSecond: 8e6 }, 0);
    let bytes = 0;
    // 1000-byte datagrams every 0.1 ms for 2 s: 80 Mbit/s offered, 8 Mbit/s allowed (plus the bucket).
    for (let i = 0; i < 20_000; i++) bytes += e.handleDatagram(i / 10, new Uint8Array(1000), true)?.length ?? 0;
    const allowed = (8e6 * 2) / 8 + Math.max(65507, (8e6 * 0.1) / 8);
    expect(bytes).toBeLessThanOrEqual(allowed + 1000);
    expect(bytes).toBeGreaterThan(allowed * 0.9);
  });
});

describe('peer tables serving one host', () => {
  it.each([
    ['PeerTable', () => new PeerTable({ onlyHost: '10.0.0.1' })],
    ['RecyclingPeerTable', () => new RecyclingPeerTable({ onlyHost: '10.0.0.1' })],
  ])('%s gives ids to the client (IPv4-mapped too) and counts every datagram of other hosts', (_name, make) => {
    const t = make();
    const id = t.idOf('10.0.0.1', 5000);
    expect(id).toBeGreaterThanOrEqual(0);
    // A refused address is not remembered: the same foreign peer is refused and counted each time.
    for (let i = 0; i < 3; i++) expect(t.idOf('10.0.0.2', 5000)).toBe(-1);
    expect(t.idOf('::ffff:10.0.0.3', 5000)).toBe(-1);
    expect(t.foreignDrops).toBe(4);
    expect(t.idOf('10.0.0.1', 5000)).toBe(id);
    expect(t.idOf('::ffff:10.0.0.1', 5001)).toBeGreaterThanOrEqual(0);
    expect(t.address(id)).toEqual({ address: '10.0.0.1', port: 5000 });
    expect(t.foreignDrops).toBe(4);
  });

  it('serves every host without onlyHost', () => {
    const t = new PeerTable();
    expect(t.idOf('10.0.0.2', 1)).toBe(0);
    expect(t.idOf('10.0.0.3', 1)).toBe(1);
    expect(t.foreignDrops).toBe(0);
  });
});

describe('plainAddress', () => {
  it.each([
    ['::ffff:10.0.0.1', '10.0.0.1'],
    ['::FFFF:192.168.1.20', '192.168.1.20'],
    ['10.0.0.1', '10.0.0.1'],
    ['::1', '::1'],
    ['fe80::1', 'fe80::1'],
    ['::ffff:10.0.0', '::ffff:10.0.0'],
    ['::ffff:10.0.0.1x', '::ffff:10.0.0.1x'],
    ['', ''],
  ])('writes %s as %s', (address, plain) => {
    expect(plainAddress(address)).toBe(plain);
  });
});

describe('caps checks', () => {
  it('a listener request within the caps runs with the asked limits', () => {
    const r = checkListenerRequest({ limits: { maxSessions: 2, maxRateBitsPerSecond: 1e6 }, lifetimeMs: 5000 }, caps);
    expect(r.problems).toEqual([]);
    expect(r.limits).toMatchObject({ maxSessions: 2, maxRateBitsPerSecond: 1e6, maxRatePacketsPerSecond: caps.maxRatePacketsPerSecond });
    expect(r.lifetimeMs).toBe(5000);
  });

  it('requests over a cap are refused with the field, the value, the cap and the flag', () => {
    const r = checkListenerRequest({ socket: { socketRcvBufBytes: 64 << 20 }, limits: { maxSessions: 99 }, lifetimeMs: 7_200_000 }, caps);
    expect(r.problems).toEqual([
      `socket.socketRcvBufBytes ${64 << 20} exceeds the agent's cap of ${caps.maxSocketBufferBytes} bytes (packetlab peer --max-socket-buffer raises it)`,
      `lifetimeMs 7200000 exceeds the agent's cap of 3600000 ms (packetlab peer --max-duration raises it)`,
      `limits.maxSessions 99 exceeds the agent's cap of 16 sessions (packetlab peer --max-sessions raises it)`,
    ]);
    expect(checkRpcRequest({ transports: ['udp'], drc: { enabled: true, maxEntries: 500_000 }, maxRecordBytes: 8 << 20 }, caps).problems).toEqual([
      `drc.maxEntries 500000 exceeds the agent's cap of 100000 requests (packetlab peer --max-drc-entries raises it)`,
      `maxRecordBytes ${8 << 20} exceeds the agent's cap of ${1 << 20} bytes (packetlab peer --max-record raises it)`,
    ]);
    expect(checkEchoRequest({ limits: { maxRateBitsPerSecond: 5e9 } }, caps).problems).toEqual([`limits.maxRateBitsPerSecond 5000000000 exceeds the agent's cap of 1000000000 bits/s (packetlab peer --max-rate raises it)`]);
    expect(checkListenerRequest({ transport: { rtoMsMin: 500, rtoMsMax: 100 } }, caps).problems).toEqual(['transport.rtoMsMin (500) must not exceed transport.rtoMsMax (100)']);
  });
});

describe('beacons', () => {
  it('encode and parse round trip; nothing secret in them', () => {
    const b = encodeBeacon({ name: 'lab-a', controlPort: 7600, version: '0.1.0' });
    expect(parseBeacon(b)).toEqual({ ok: true, beacon: { packetlab: 'peer-agent', v: 1, name: 'lab-a', controlPort: 7600, protocol: 1, version: '0.1.0' } });
    expect(Object.keys(JSON.parse(b.toString())).sort()).toEqual(['controlPort', 'name', 'packetlab', 'protocol', 'v', 'version']);
  });

  it('garbage is refused without throwing', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 1500 }), (bytes) => {
        const r = parseBeacon(bytes);
        expect(r.ok).toBe(false);
      }),
    );
    expect(parseBeacon(Buffer.from('{"packetlab":"peer-agent","v":1,"name":"x","controlPort":0,"protocol":1,"version":"1"}'))).toMatchObject({ ok: false, error: expect.stringContaining('controlPort') });
    expect(parseBeacon(new Uint8Array(2000))).toMatchObject({ ok: false, error: expect.stringContaining('exceeds') });
  });

  it('directed broadcast addresses', () => {
    expect(ipv4Broadcast('10.77.0.1', '255.255.255.0')).toBe('10.77.0.255');
    expect(ipv4Broadcast('192.168.1.20', '255.255.240.0')).toBe('192.168.15.255');
    expect(ipv4Broadcast('10.0.0.1', '255.255.255.255')).toBeNull();
    expect(ipv4Broadcast('10.0.0.1', '255.255.255.254')).toBeNull();
  });

  it('destinations follow the bound address', () => {
    const iface = (address: string, netmask: string, internal = false): NetworkInterfaceInfo => ({ address, netmask, family: 'IPv4', mac: '00:00:00:00:00:00', internal, cidr: null });
    const ifs = { lo: [iface('127.0.0.1', '255.0.0.0', true)], eth0: [iface('10.77.0.1', '255.255.255.0')], eth1: [iface('192.168.1.5', '255.255.255.0')] };
    expect(beaconDestinations('127.0.0.1', ifs)).toEqual([LOOPBACK_BROADCAST]);
    expect(beaconDestinations('10.77.0.1', ifs)).toEqual(['10.77.0.255']);
    expect(beaconDestinations('0.0.0.0', ifs)).toEqual(['10.77.0.255', '192.168.1.255', LOOPBACK_BROADCAST]);
    expect(beaconDestinations('fe80::1', ifs)).toEqual([]);
  });

  it('a loopback agent is heard on this machine, once per agent however many beacons', async () => {
    const port = 20000 + Math.floor(Math.random() * 20000);
    const listener = await PeerBeaconListener.start({ port });
    const second = await PeerBeaconListener.start({ port });
    const a = await BeaconSender.start({ host: '127.0.0.1', controlPort: 7600, name: 'agent-a', version: '0.1.0', port, intervalMs: 50 });
    const b = await BeaconSender.start({ host: '127.0.0.1', controlPort: 7601, name: 'agent-b', version: '0.1.0', port, intervalMs: 50 });
    const junk = createSocket('udp4');
    await new Promise<void>((r) => junk.send('not a beacon', port, '127.0.0.1', () => r()));
    await new Promise((r) => setTimeout(r, 400));
    await a!.stop();
    await b!.stop();
    junk.close();
    const heard = listener.peers();
    await listener.close();
    await second.close();
    expect(heard.map((p) => [p.address, p.controlPort, p.name])).toEqual([
      ['127.0.0.1', 7600, 'agent-a'],
      ['127.0.0.1', 7601, 'agent-b'],
    ]);
    expect(heard[0]!.beacons).toBeGreaterThan(2);
    // Both listeners share the port and both hear the broadcasts.
    expect(second.peers()).toHaveLength(2);
    // The junk datagram (unicast) reached one of them and was counted, not listed.
    expect(listener.malformed + second.malformed).toBe(1);
  });
});
