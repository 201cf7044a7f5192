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
