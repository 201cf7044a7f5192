// Real UDP sockets on loopback: the same engines as the simulator, with the lab's impairment.

import { describe, expect, it } from 'vitest';
import { runUdpTransfer } from '../workloads/transfer/udp-transfer.js';
import { runUdpStream } from '../workloads/stream/run.js';
import { DEFAULT_TRANSPORT_CONFIG, type ArqMode } from '../core/transport/config.js';
import { NO_IMPAIRMENT } from '../core/impair/config.js';
import { existsSync } from 'node:fs';
import { startListenerServer } from '../net/udp/listener-server.js';
import { DEFAULT_LISTENER_CAPS, streamBitRateCapProblem, type ListenerCaps } from '../core/listener.js';
import { spawn } from 'node:child_process';
import { cli, cliAsync, jsonLines, untilAgentListens } from './helpers/cli.js';
import { until } from './helpers/until.js';
import { transferSetup } from './helpers/transfer-setup.js';

const noSockets = { socketRcvBufBytes: 0, socketSndBufBytes: 0 };
/** Caps of the listeners below: a receive buffer of up to 64 KiB, streams of up to 1000 packets/s and 100 Mbit/s. */
const CAPS: ListenerCaps = { ...DEFAULT_LISTENER_CAPS, maxSessions: 4, maxRcvBufferBytes: 64 * 1024, maxStreamPacketsPerSecond: 1000, maxStreamBitsPerSecond: 100e6, maxStreamDurationMs: 10_000, maxSessionMs: 10_000 };

describe('real UDP on loopback', () => {
  it.each<[ArqMode, number]>([
    ['gbn', 3_000_000],
    ['sr', 5_000_000],
  ])('%s transfers %d bytes under 5 percent loss and the data matches', async (protocol, bytes) => {
    const s = await runUdpTransfer({
      setup: transferSetup(bytes, {
        transport: { ...DEFAULT_TRANSPORT_CONFIG, protocol, windowPackets: 64, rcvBufferBytes: 1 << 20, rtoMsMin: 5, rtoMsInitial: 50 },
        forward: { ...NO_IMPAIRMENT, lossProbability: 0.05 },
        reverse: { ...NO_IMPAIRMENT, lossProbability: 0.01 },
      }),
      peer: null,
      socket: noSockets,
    });
    expect(s.status, s.failure ?? '').toBe('complete');
    expect(s.dataMatched).toBe(true);
    expect(s.forward!.dropsRandom).toBeGreaterThan(0);
    expect(s.sender.retransmitsTimeout + s.sender.retransmitsFast).toBeGreaterThanOrEqual(s.forward!.dropsRandom);
    expect(s.receiver).not.toBeNull();
  });

  it('stop-and-wait completes over UDP with messages', async () => {
    const s = await runUdpTransfer({
      setup: transferSetup(300_000, { transport: { ...DEFAULT_TRANSPORT_CONFIG, protocol: 'saw', rtoMsMin: 5, rtoMsInitial: 50 }, forward: { ...NO_IMPAIRMENT, lossProbability: 0.05 }, messageBytes: 1000, seed: 2 }),
      peer: null,
      socket: noSockets,
    });
    expect(s.status, s.failure ?? '').toBe('complete');
    expect(s.dataMatched).toBe(true);
    expect(s.receiver!.deliveredMessages).toBe(300);
  });

  // A burst of 3,000 datagrams in 50 ms: a 4 MiB buffer (8 MiB in the kernel, about 3,600 of
  // them) holds it all even if the receiver reads nothing meanwhile, a 2 KiB one a couple; so the
  // outcome does not depend on how busy the machine is.
  it('a tiny SO_RCVBUF shows kernel drops where a 4 MiB one shows far fewer', async (ctx) => {
    if (!existsSync('/proc/net/udp')) {
      ctx.skip('no /proc/net/udp on this system: kernel drops cannot be read');
      return;
    }
    const stream = (rcvbuf: number) =>
      runUdpStream({
        setup: { datagramBytes: 1200, ratePacketsPerSecond: 60_000, durationMs: 50, intervalMs: 100, impairment: { ...NO_IMPAIRMENT }, seed: 1 },
        peer: null,
        socket: { socketRcvBufBytes: rcvbuf, socketSndBufBytes: 4 << 20 },
      });
    const tiny = await stream(2048);
    const big = await stream(4 << 20);
    expect(tiny.status).toBe('complete');
    expect(big.status).toBe('complete');
    expect(tiny.receiver!.kernelDrops).toBeGreaterThan(500);
    expect(big.receiver!.kernelDrops).toBeLessThan(tiny.receiver!.kernelDrops / 4);
  });

  it('a listener refuses a stream above its rate cap, and the sender says why', async () => {
    const server = await startListenerServer({ host: '127.0.0.1', port: 0, caps: CAPS });
    try {
      const r = await cliAsync(['udp', '--peer', `127.0.0.1:${server.port}`, '--rate', '5000pps', '--duration', '1s']);
      expect(r.code).toBe(1);
      expect(r.stdout).toMatch(/refused or ended the stream: rate 5000 packets\/s is outside the listener cap of 1\.\.1000/);
    } finally {
      await server.close();
    }
  });

  it('a bit-rate cap lets through what `--rate` makes of a rate at the cap, and not one packet/s more', () => {
    // --rate 10M of 1200-byte datagrams sends round(10e6 / (1228 x 8)) = 1018 packets/s, 10000832 bit/s.
    expect(streamBitRateCapProblem(1018, 1200, 10e6)).toBeNull();
    expect(streamBitRateCapProblem(1019, 1200, 10e6)).toBe('stream of 10010656 bit/s (1019 packets/s of 1200 B, IP and UDP headers counted) exceeds the listener cap of 10000000 bit/s');
    // A cap below one datagram a second still allows one.
    expect(streamBitRateCapProblem(1, 65507, 1000)).toBeNull();
  });

  it('`packetlab udp --listen --max-rate` caps bits/s when bare and packets/s with pps, given twice', async () => {
    const child = spawn(process.execPath, ['bin/packetlab.js', 'udp', '--listen', '0', '--json', '--max-rate', '5M', '--max-rate', '3000pps'], { stdio: ['ignore', 'pipe', 'pipe'] });
    try {
      const { listening } = await untilAgentListens(child);
      const at = listening.address as string;
      // 10 Mbit/s of 1200-byte datagrams: 1018 packets/s (10e6 / (1228 x 8), rounded), 1018 x 1228 x 8 bits/s.
      const fast = await cliAsync(['udp', '--peer', at, '--rate', '10M', '--duration', '0.3']);
      expect(fast.code).toBe(1);
      expect(fast.stdout).toContain('stream of 10000832 bit/s (1018 packets/s of 1200 B, IP and UDP headers counted) exceeds the listener cap of 5000000 bit/s');
      // 4000 packets/s of 100 B is 4.1 Mbit/s, under the bit cap, but over the packet cap.
      const many = await cliAsync(['udp', '--peer', at, '--rate', '4000pps', '--size', '100', '--duration', '0.3']);
      expect(many.code).toBe(1);
      expect(many.stdout).toContain('rate 4000 packets/s is outside the listener cap of 1..3000');
      const ok = await cliAsync(['udp', '--peer', at, '--rate', '4M', '--duration', '0.3', '--json']);
      expect(ok.code, ok.stdout + ok.stderr).toBe(0);
      expect(jsonLines(ok.stdout).pop()).toMatchObject({ status: 'complete', ratePacketsPerSecond: 407 });
    } finally {
      child.kill('SIGTERM');
    }
  });

  it("a listener refuses a SYN and a live change of a session's receive buffer above its cap with the same reason", async () => {
    const cap = CAPS.maxRcvBufferBytes;
    const server = await startListenerServer({ host: '127.0.0.1', port: 0, caps: CAPS });
    try {
      const send = (rcvBufferBytes: number, readRateBytesPerSecond: number) =>
        runUdpTransfer({
          setup: transferSetup(200_000, { transport: { ...DEFAULT_TRANSPORT_CONFIG, windowPackets: 16, rcvBufferBytes, rtoMsMin: 5, rtoMsInitial: 50 }, readRateBytesPerSecond, seed: 3 }),
          peer: { host: '127.0.0.1', port: server.port },
          socket: noSockets,
        });
      const refused = await send(cap + 1, 0);
      expect(refused.status).toBe('failed');
      expect(refused.failure).toContain(`rcvBufferBytes ${cap + 1} exceeds this listener's limit of ${cap} bytes`);
      const transfer = send(32 * 1024, 400_000);
      const open = () => server.sessions().find((x) => x.kind === 'reliable' && !x.finished);
      await until('a reliable session open on the listener', () => open() !== undefined);
      const id = open()!.connectionId;
      expect(server.reconfigure(id, { rcvBufferBytes: cap + 1 })).toBe(`rcvBufferBytes ${cap + 1} exceeds this listener's limit of ${cap} bytes`);
      expect(server.reconfigure(id, { rcvBufferBytes: cap })).toBeNull();
      const s = await transfer;
      expect(s.status, s.failure ?? '').toBe('complete');
      expect(s.dataMatched).toBe(true);
    } finally {
      await server.close();
    }
  });

  it('a sender with nobody listening stops at once and says so', () => {
    const r = cli(['transfer', '--peer', '127.0.0.1:9', '--bytes', '10KB']);
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/nothing listens on 127\.0\.0\.1:9/);
  });
});
