import { describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cli, jsonLines } from './helpers/cli.js';
import { TRANSFER_COLUMNS } from '../core/metrics/transfer-meter.js';

describe('packetlab CLI', () => {
  it.each([[[]], [['transfer']], [['udp']]])('has --help for %j', (cmd) => {
    const r = cli([...cmd, '--help']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/Usage: packetlab/);
  });

  it('lists the knobs with defaults and units in transfer --help', () => {
    const r = cli(['transfer', '--help']);
    for (const flag of ['--protocol', '--window', '--rto <time>', '--loss <p>', '--rev-loss <p>', '--burst-p', '--jitter-dist', '--link-rate <rate>', '--queue', '--mtu', '--rcvbuf', '--no-checksum', '--no-sack', '--cc']) {
      expect(r.stdout).toContain(flag);
    }
    expect(r.stdout).toMatch(/Timeouts:/);
    const help = r.stdout.replace(/\s+/g, ' ');
    expect(help).toContain('--rto <time> the retransmission timeout in fixed mode; ms when bare (default 200ms)');
    expect(help).toContain('--link-rate <rate> bottleneck rate in bits/s (10M, 1.5G), 0 is unlimited; bits/s when bare');
  });

  it.each([
    [['transfer', '--loss', '2'], /--loss.*out of range: must be a number from 0 to 1/],
    [['transfer', '--window', '0'], /--window.*must be an integer from 1 to 16384/],
    [['transfer', '--protocol', 'tcp'], /--protocol.*"tcp" is not one of saw, gbn, sr/],
    [['transfer', '--delay', 'soon'], /--delay.*is not a duration/],
    [['transfer', '--rto-min', '500', '--rto-max', '100'], /--rto-min \(500\) must not exceed --rto-max \(100\)/],
    [['transfer', '--peer', 'nowhere'], /--peer: "nowhere" is not HOST:PORT/],
    [['transfer', '--bogus'], /^packetlab: unknown option '--bogus' \(see packetlab transfer --help\)$/],
    [['transfer', '--los', '5%'], /^packetlab: unknown option '--los' \(Did you mean --loss\?\) \(see packetlab transfer --help\)$/],
    [['transfer', 'extra'], /^packetlab: too many arguments for 'transfer'.*\(see packetlab transfer --help\)$/],
    [['transfer', '--net', 'tcp'], /^packetlab: option '--net <sim\|udp>' argument 'tcp' is invalid\. Allowed choices are sim, udp\.$/],
    [['rpc', 'frob'], /^packetlab: unknown command 'frob' \(see packetlab rpc --help\)$/],
    [['udp', '--rate', 'fast'], /--rate.*is not a rate/],
    [['udp', '--size', '10'], /--size must be an integer from 36 to 65507/],
  ])('rejects %j with one clear line and exit code 2', (args, message) => {
    const r = cli(args);
    expect(r.code).toBe(2);
    expect(r.stdout).toBe('');
    // One line: no "(add --help for usage)" after it, no suggestion on a line of its own.
    expect(r.stderr.endsWith('\n')).toBe(true);
    expect(r.stderr.trimEnd().split('\n')).toEqual([expect.stringMatching(message)]);
  });

  it('transfer --json streams samples and ends with a summary; --csv writes the columns', () => {
    const dir = mkdtempSync(join(tmpdir(), 'packetlab-'));
    const csv = join(dir, 'samples.csv');
    const r = cli(['transfer', '--seed', '5', '--bytes', '500KB', '--loss', '5%', '--delay', '20', '--rev-delay', '20', '--json', '--csv', csv]);
    expect(r.code).toBe(0);
    const lines = jsonLines(r.stdout);
    const summary = lines.pop()!;
    expect(lines.length).toBeGreaterThan(3);
    expect(lines.every((l) => l.type === 'sample')).toBe(true);
    expect(summary).toMatchObject({ type: 'summary', status: 'complete', dataMatched: true, bytes: 500_000, seed: 5 });
    const rows = readFileSync(csv, 'utf8').trim().split('\n');
    expect(rows[0]).toBe(TRANSFER_COLUMNS.join(','));
    expect(rows.length).toBe(lines.length + 1);
    expect(rows[1]!.split(',').length).toBe(TRANSFER_COLUMNS.length);
  });

  it('prints per-interval lines and a summary that says whether the data matched', () => {
    const r = cli(['transfer', '--seed', '9', '--bytes', '300KB', '--protocol', 'gbn', '--loss', '0.02', '--delay', '5']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/goodput/);
    expect(r.stdout).toMatch(/transfer complete: 300.00 kB in [\d.]+ s = .* goodput \(sim, gbn, seed 9\)/);
    expect(r.stdout).toMatch(/data: every byte matches what was sent/);
  });

  it('says where the data first differs when corruption gets through with checksums off', () => {
    const r = cli(['transfer', '--seed', '4', '--bytes', '300KB', '--corrupt', '5%', '--no-checksum']);
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/data: MISMATCH, byte [\d,]+ differs from what was sent \(the first difference\)/);
  });

  it('--no-verify skips the data check and says the data was not checked', () => {
    const r = cli(['transfer', '--seed', '3', '--bytes', '200KB', '--loss', '3%', '--no-verify', '--json']);
    expect(r.code).toBe(0);
    expect(jsonLines(r.stdout).pop()).toMatchObject({ status: 'complete', dataMatched: null, dataProblem: null, firstDifferenceAt: null });
  });

  it('fails with exit code 1 and a reason when the connection gives up', () => {
    const r = cli(['transfer', '--seed', '1', '--bytes', '10KB', '--loss', '1', '--max-retries', '2', '--rto-initial', '10']);
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/transfer failed: no answer to SYN after 3 attempts/);
  });

  it.each([
    ['1000pps', 1000],
    // 10 Mbit/s of 1200-byte datagrams with 28 bytes of IP and UDP headers: 10e6 / (1228 x 8) = 1017.9, sent as 1018 packets/s.
    ['10M', 1018],
  ])('udp --duration 2 --rate %s sends for 2 s: a bare duration is seconds', (rate, packetsPerSecond) => {
    const r = cli(['udp', '--net', 'sim', '--seed', '3', '--rate', rate, '--duration', '2', '--json']);
    expect(r.code, r.stderr).toBe(0);
    const s = jsonLines(r.stdout).pop()! as { durationS: number; ratePacketsPerSecond: number; sent: { packetsSent: number } };
    expect(s.ratePacketsPerSecond).toBe(packetsPerSecond);
    expect(s.sent.packetsSent).toBe(2 * packetsPerSecond);
    // The first datagram leaves at 0 and the last at (n - 1) / rate: the run lasts 2 s less one gap.
    expect(s.durationS).toBeCloseTo((2 * packetsPerSecond - 1) / packetsPerSecond, 9);
  });

  it('udp --net sim reports loss, duplication and reordering', () => {
    const r = cli(['udp', '--net', 'sim', '--seed', '2', '--rate', '2000pps', '--duration', '2s', '--loss', '10%', '--duplicate', '2%', '--reorder', '2%', '--json']);
    expect(r.code).toBe(0);
    const s = jsonLines(r.stdout).pop()! as { status: string; receiver: Record<string, number>; sent: Record<string, number>; link: Record<string, number> };
    expect(s.status).toBe('complete');
    expect(s.sent.packetsSent).toBe(4000);
    expect(s.receiver.packetsReceived).toBe(4000 - s.link.dropsRandom);
    expect(s.receiver.duplicates).toBe(s.link.duplicated);
    expect(s.receiver.reordered).toBeGreaterThan(0);
  });
});
