// One rule for bare numbers, iperf3's: a whole run's duration is seconds, a per-packet or protocol
// time is milliseconds, a rate is bits/s. Each flag's value goes through the very argParser the
// command line uses (taken from the command tree of cli/program.ts), and each wrong unit through
// the built CLI, which must answer with one line naming the flag and exit with code 2.

import { describe, expect, it } from 'vitest';
import type { Command, Option } from 'commander';
import { buildProgram } from '../cli/program.js';
import { cli } from './helpers/cli.js';

const program = buildProgram();

/** The option `flag` of the command at `path` (e.g. ['rpc', 'workload']). */
function optionOf(path: readonly string[], flag: string): Option {
  let cmd: Command = program;
  for (const name of path) {
    const sub = cmd.commands.find((c) => c.name() === name);
    if (sub === undefined) throw new Error(`no command ${path.join(' ')}`);
    cmd = sub;
  }
  const o = cmd.options.find((x) => x.long === flag);
  if (o === undefined) throw new Error(`packetlab ${path.join(' ')} has no ${flag}`);
  return o;
}

/** What the command line makes of `text` for that flag (the previous value, for repeatable flags). */
function parse(path: readonly string[], flag: string, text: string, previous?: unknown): unknown {
  const o = optionOf(path, flag);
  return o.parseArg === undefined ? text : o.parseArg(text, previous);
}

/** Runs `packetlab PATH FLAG TEXT` and expects one line on stderr naming the flag, and exit code 2. */
function expectOneLineError(path: readonly string[], flag: string, text: string, accepted: RegExp): void {
  const r = cli([...path, flag, text]);
  const what = `packetlab ${path.join(' ')} ${flag} ${text}`;
  expect(r.code, what).toBe(2);
  expect(r.stdout, what).toBe('');
  const lines = r.stderr.trimEnd().split('\n');
  expect(lines, what).toHaveLength(1);
  expect(lines[0], what).toContain(flag);
  expect(lines[0], what).toMatch(accepted);
}

// Every unit a duration takes, with the milliseconds each text means: seconds for whole runs
// (some flags start at 1 s), a fraction of one for protocol times (--ack-delay ends at 1 s).
const RUN_UNITS: readonly [string, number][] = [
  ['2s', 2000],
  ['2000ms', 2000],
  ['2000000us', 2000],
  ['0.05m', 3000],
  ['0.05min', 3000],
  ['0.001h', 3600],
  ['1.5 s', 1500],
];
const PROTOCOL_UNITS: readonly [string, number][] = [
  ['0.5s', 500],
  ['500ms', 500],
  ['500000us', 500],
  ['0.01m', 600],
  ['0.01min', 600],
  ['0.0002h', 720],
  ['0.75 s', 750],
];

// A whole run's duration: a bare number is seconds.
const RUN_DURATIONS: readonly [string[], string][] = [
  [['udp'], '--duration'],
  [['rpc', 'workload'], '--duration'],
  [['transfer'], '--time-limit'],
  [['rpc', 'workload'], '--time-limit'],
  [['transfer'], '--max-duration'],
  [['udp'], '--max-duration'],
  [['peer'], '--max-duration'],
  [['peers'], '--seconds'],
];

// A per-packet or protocol time: a bare number is milliseconds.
const PROTOCOL_TIMES: readonly [string[], string][] = [
  [['transfer'], '--interval'],
  [['transfer'], '--print-interval'],
  [['udp'], '--interval'],
  [['udp'], '--print-interval'],
  [['rpc', 'workload'], '--interval'],
  [['rpc', 'workload'], '--timeout'],
  [['rpc', 'workload'], '--retry'],
  [['rpc', 'workload'], '--retry-max'],
  [['rpc', 'workload'], '--drc-age'],
  [['rpc', 'call'], '--timeout'],
  [['rpc', 'serve-demo'], '--stats-interval'],
  [['transfer'], '--delay'],
  [['transfer'], '--rev-delay'],
  [['transfer'], '--jitter'],
  [['transfer'], '--reorder-delay'],
  [['transfer'], '--rto'],
  [['transfer'], '--rto-initial'],
  [['transfer'], '--rto-min'],
  [['transfer'], '--rto-max'],
  [['transfer'], '--ack-delay'],
  [['transfer'], '--idle-timeout'],
  [['udp'], '--delay'],
  [['rpc', 'workload'], '--delay'],
  [['rpc', 'workload'], '--plt-rto'],
  [['transfer'], '--handshake-timeout'],
  [['udp'], '--handshake-timeout'],
  [['transfer'], '--stream-idle-timeout'],
  [['udp'], '--stream-idle-timeout'],
  [['transfer'], '--min-report-interval'],
  [['udp'], '--min-report-interval'],
  [['peer'], '--handshake-timeout'],
  [['peer'], '--stream-idle-timeout'],
  [['peer'], '--min-report-interval'],
];

describe('durations on the command line', () => {
  it.each(RUN_DURATIONS)('packetlab %j %s: a bare number is seconds, and every unit is read', (path, flag) => {
    expect(parse(path, flag, '2')).toBe(2000);
    expect(parse(path, flag, '2.5')).toBe(2500);
    for (const [text, ms] of RUN_UNITS) expect(parse(path, flag, text), `${flag} ${text}`).toBe(ms);
  });

  it.each(PROTOCOL_TIMES)('packetlab %j %s: a bare number is milliseconds, and every unit is read', (path, flag) => {
    expect(parse(path, flag, '20')).toBe(20);
    expect(parse(path, flag, '20.5')).toBe(20.5);
    for (const [text, ms] of PROTOCOL_UNITS) expect(parse(path, flag, text), `${flag} ${text}`).toBe(ms);
  });

  it.each([...RUN_DURATIONS, ...PROTOCOL_TIMES])('packetlab %j %s 3x: one line naming the flag and what it takes, exit code 2', (path, flag) => {
    expectOneLineError(path, flag, '3x', /"3x" is not a duration \(a bare number is (seconds|ms); examples: .*\)/);
  });

  it('says a duration out of range in the units people type', () => {
    expect(() => parse(['udp'], '--duration', '2h')).toThrow('--duration must be from 1ms to 1h (got 2h)');
    expect(() => parse(['peer'], '--max-duration', '0.5')).toThrow('--max-duration must be from 1s to 24h (got 0.5)');
  });

  it('names the bare unit in the help of every duration flag', () => {
    const help = (path: string[]) => cli([...path, '--help']).stdout.replace(/\s+/g, ' ');
    const texts = new Map<string, string>();
    for (const [path, flag] of [...RUN_DURATIONS, ...PROTOCOL_TIMES]) {
      const key = path.join(' ');
      if (!texts.has(key)) texts.set(key, help(path));
      const line = texts.get(key)!;
      const at = line.indexOf(`${flag} <time>`);
      expect(at, `${key} --help shows ${flag} <time>`).toBeGreaterThanOrEqual(0);
      const described = line.slice(at, line.indexOf(' --', at + flag.length + 1));
      const seconds = RUN_DURATIONS.some(([p, f]) => f === flag && p.join(' ') === key);
      expect(described, `${key} ${flag}`).toMatch(seconds ? /a bare number is seconds/ : /(a bare number is ms|ms when bare)/);
    }
  });
});

// Every unit a rate in bits/s takes, with the bits/s each text means.
const BIT_RATE_UNITS: readonly [string, number][] = [
  ['10M', 10e6],
  ['10m', 10e6],
  ['2500k', 2.5e6],
  ['0.01G', 10e6],
  ['10Mbit/s', 10e6],
  ['10Mbits/s', 10e6],
  ['10Mbps', 10e6],
  ['10Mbit', 10e6],
  ['10 Mb/s', 10e6],
  ['64000bit/s', 64_000],
];
// Packets per second, where a rate may be given so.
const PACKET_RATE_UNITS: readonly [string, number][] = [
  ['5000pps', 5000],
  ['5000pkt/s', 5000],
  ['5000packets/s', 5000],
  ['5000 pps', 5000],
];

describe('rates on the command line', () => {
  it.each([
    [['transfer'], '--link-rate'],
    [['transfer'], '--rev-link-rate'],
    [['udp'], '--link-rate'],
    [['rpc', 'workload'], '--link-rate'],
  ])('packetlab %j %s: a bare number is bits/s, and every unit is read', (path, flag) => {
    expect(parse(path, flag, '20000000')).toBe(20e6);
    for (const [text, bps] of BIT_RATE_UNITS) expect(parse(path, flag, text), `${flag} ${text}`).toBe(bps);
  });

  it('packetlab udp --rate: bits/s when bare, packets/s with pps', () => {
    expect(parse(['udp'], '--rate', '20000000')).toEqual({ bitsPerSecond: 20e6 });
    for (const [text, bps] of BIT_RATE_UNITS) expect(parse(['udp'], '--rate', text), text).toEqual({ bitsPerSecond: bps });
    for (const [text, pps] of PACKET_RATE_UNITS) expect(parse(['udp'], '--rate', text), text).toEqual({ packetsPerSecond: pps });
  });

  it.each([
    [['transfer'], '--max-rate'],
    [['udp'], '--max-rate'],
    [['peer'], '--max-rate'],
  ])('packetlab %j %s: a bare number caps bits/s, pps caps packets/s, and given twice both', (path, flag) => {
    expect(parse(path, flag, '150000')).toEqual({ bitsPerSecond: 150_000 });
    for (const [text, bps] of BIT_RATE_UNITS) expect(parse(path, flag, text), text).toEqual({ bitsPerSecond: bps });
    for (const [text, pps] of PACKET_RATE_UNITS) expect(parse(path, flag, text), text).toEqual({ packetsPerSecond: pps });
    const both = parse(path, flag, '5000pps', parse(path, flag, '1G'));
    expect(both).toEqual({ bitsPerSecond: 1e9, packetsPerSecond: 5000 });
    expect(() => parse(path, flag, '2.5pps')).toThrow(`${flag} in packets/s must be an integer from 1pps to 10000000pps (got 2.5pps)`);
  });

  it('packetlab transfer --read-rate: bits/s when bare, bytes with /s', () => {
    const cases: [string, number][] = [
      ['8000000', 1e6],
      ['8M', 1e6],
      ['8Mbit/s', 1e6],
      ['800kbps', 100_000],
      ['1MB/s', 1e6],
      ['1MiB/s', 1024 * 1024],
      ['64KiB/s', 64 * 1024],
      ['1200B/s', 1200],
      ['1MBps', 1e6],
    ];
    for (const [text, bytesPerSecond] of cases) expect(parse(['transfer'], '--read-rate', text), text).toBe(bytesPerSecond);
  });

  it('refuses bytes per second where bits/s are meant, instead of reading them 8 times off', () => {
    expect(() => parse(['transfer'], '--link-rate', '10MB/s')).toThrow('"10MB/s" is bytes per second; give bits/s (8M is 1 MB/s)');
    expect(() => parse(['udp'], '--rate', '10MBps')).toThrow('"10MBps" is bytes per second; give bits/s (8M is 1 MB/s)');
  });

  it.each([
    [['udp'], '--rate', /"10 parsecs" is not a rate \(bits\/s when bare, or packets\/s with pps; examples: .*\)/],
    [['transfer'], '--max-rate', /"10 parsecs" is not a rate \(bits\/s when bare, or packets\/s with pps; examples: .*\)/],
    [['udp'], '--max-rate', /"10 parsecs" is not a rate \(bits\/s when bare, or packets\/s with pps; examples: .*\)/],
    [['peer'], '--max-rate', /"10 parsecs" is not a rate \(bits\/s when bare, or packets\/s with pps; examples: .*\)/],
    [['transfer'], '--link-rate', /"10 parsecs" is not a rate in bits\/s \(bits\/s when bare; examples: .*\)/],
    [['transfer'], '--rev-link-rate', /"10 parsecs" is not a rate in bits\/s \(bits\/s when bare; examples: .*\)/],
    [['udp'], '--link-rate', /"10 parsecs" is not a rate in bits\/s \(bits\/s when bare; examples: .*\)/],
    [['rpc', 'workload'], '--link-rate', /"10 parsecs" is not a rate in bits\/s \(bits\/s when bare; examples: .*\)/],
    [['transfer'], '--read-rate', /"10 parsecs" is not a rate \(bits\/s when bare; examples: .*\)/],
  ])('packetlab %j %s "10 parsecs": one line naming the flag and what it takes, exit code 2', (path, flag, accepted) => {
    expectOneLineError(path, flag, '10 parsecs', accepted);
  });

  it('names the bare unit in the help of every rate flag', () => {
    const help = (path: string[]) => cli([...path, '--help']).stdout.replace(/\s+/g, ' ');
    const transfer = help(['transfer']);
    expect(transfer).toMatch(/--link-rate <rate> [^]*?bits\/s when bare/);
    expect(transfer).toMatch(/--read-rate <rate> [^]*?bits\/s when bare/);
    expect(transfer).toMatch(/--max-rate <rate> [^]*?bits\/s when bare \(1G\), or packets\/s with pps/);
    expect(help(['udp'])).toMatch(/--rate <rate> send rate: bits\/s of IP datagrams when bare/);
    expect(help(['peer'])).toMatch(/--max-rate <rate> [^]*?bits\/s when bare \(10M, 1G\), or packets\/s with pps/);
  });
});

describe('sizes on the command line', () => {
  it('--pcap-max-size: a bare number is bytes, and the help says so', () => {
    for (const path of [['transfer'], ['udp'], ['run']]) {
      expect(parse(path, '--pcap-max-size', '8192')).toBe(8192);
      expect(parse(path, '--pcap-max-size', '8KiB')).toBe(8192);
      expect(parse(path, '--pcap-max-size', '1MB')).toBe(1e6);
      expect(cli([...path, '--help']).stdout.replace(/\s+/g, ' ')).toMatch(/--pcap-max-size <size> [^]*?; a bare number is bytes/);
    }
  });
});
