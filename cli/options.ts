// Command-line flags built from the knob registry, so every flag has the same range, unit and
// wording as the spec format and the app. Bad values fail with one line naming the flag and the
// accepted range (exit code 2).

import { InvalidArgumentError, Option, type Command } from 'commander';
import { IMPAIRMENT_KNOBS, SOCKET_KNOBS, TRANSPORT_KNOBS, parseKnobText, type Knob, type KnobUnit } from '../core/knobs.js';
import { UnitError, formatDurationMs } from '../core/units.js';

/** A usage error: printed as one line, exit code 2. */
export class UsageError extends Error {}

const GROUP_TITLES: Record<string, string> = {
  transport: 'Transport:',
  timeouts: 'Timeouts:',
  buffers: 'Buffers:',
  impairment: 'Impairment (data direction; each has a --rev- twin for the ACK direction):',
  workload: 'Workload:',
};

// What a flag's argument is called in --help, by unit: a duration or a rate takes units, so its
// argument is named for what it is rather than for its bare unit, which the help text then states.
const ARGUMENT_NAMES: Record<KnobUnit, string> = { count: 'count', bytes: 'bytes', bitsPerSecond: 'rate', ms: 'time', probability: 'p', number: 'number' };

// The unit of a bare number, for units whose argument name does not say it (iperf3's rule: a
// per-packet or protocol time is ms, a rate is bits/s).
const BARE_UNITS: Partial<Record<KnobUnit, string>> = { ms: 'ms when bare', bitsPerSecond: 'bits/s when bare' };

function defaultText(k: Knob): string {
  if (k.kind === 'boolean') return k.default ? 'on' : 'off';
  if (k.kind === 'number' && k.unit === 'ms') return formatDurationMs(k.default);
  return String(k.default);
}

/** The help text of a knob's flag: its description, the unit of a bare number, and its default. */
function helpText(k: Knob, defaults: 'knob' | 'preset'): string {
  const bare = k.kind === 'number' ? BARE_UNITS[k.unit] : undefined;
  const dflt = defaults === 'preset' ? `default from the link preset, else ${defaultText(k)}` : `default ${defaultText(k)}`;
  return `${k.description}${bare === undefined ? '' : `; ${bare}`} (${dflt})`;
}

/** Parses a flag value with a knob's parser; errors become Commander argument errors. */
function parser(k: Knob): (text: string) => unknown {
  return (text: string) => {
    try {
      return parseKnobText(k, text);
    } catch (e) {
      if (e instanceof UnitError) throw new InvalidArgumentError(e.message);
      throw e;
    }
  };
}

/**
 * Adds one flag (two for a boolean: --x and --no-x) per knob. `defaults: 'preset'` says in --help
 * that a command's link preset, not the knob's default, gives the value of a flag not set.
 */
export function addKnobOptions(cmd: Command, knobs: readonly Knob[], opts: { prefix?: string; hidden?: boolean; group?: string; defaults?: 'knob' | 'preset' } = {}): void {
  const prefix = opts.prefix ?? '';
  const defaults = opts.defaults ?? 'knob';
  for (const k of knobs) {
    const group = opts.group ?? GROUP_TITLES[k.group] ?? 'Options:';
    const flag = `${prefix}${k.flag}`;
    if (k.kind === 'boolean') {
      const on = new Option(`--${flag}`, helpText(k, defaults)).helpGroup(group);
      const off = new Option(`--no-${flag}`, `turn ${k.label.toLowerCase()} off`).helpGroup(group);
      if (opts.hidden) {
        on.hideHelp();
        off.hideHelp();
      }
      cmd.addOption(on);
      cmd.addOption(off);
      continue;
    }
    const arg = k.kind === 'enum' ? k.values.join('|') : ARGUMENT_NAMES[k.unit];
    const o = new Option(`--${flag} <${arg}>`, helpText(k, defaults)).argParser(parser(k)).helpGroup(group);
    if (opts.hidden) o.hideHelp();
    cmd.addOption(o);
  }
}

function attributeName(flag: string): string {
  return flag.replace(/-([a-z])/g, (_, c: string) => c.toUpperCase());
}

/** The knob values the user set (unset flags are left out). */
export function readKnobs<K extends string>(values: Record<string, unknown>, knobs: readonly Knob<K>[], prefix = ''): Partial<Record<K, number | string | boolean>> {
  const out: Partial<Record<K, number | string | boolean>> = {};
  for (const k of knobs) {
    const v = values[attributeName(`${prefix}${k.flag}`)];
    if (v !== undefined) out[k.key] = v as number | string | boolean;
  }
  return out;
}

/** Adds the transport, timeout and receive-buffer flags. */
export function addTransportOptions(cmd: Command): void {
  addKnobOptions(cmd, TRANSPORT_KNOBS);
}

/**
 * Adds impairment flags for the data direction and, when asked, --rev- twins for the other.
 * `defaults: 'preset'` is for commands with --preset, whose preset gives what a flag does not.
 */
export function addImpairmentOptions(cmd: Command, withReverse: boolean, defaults: 'knob' | 'preset' = 'knob'): void {
  addKnobOptions(cmd, IMPAIRMENT_KNOBS, { defaults });
  if (withReverse) addKnobOptions(cmd, IMPAIRMENT_KNOBS, { prefix: 'rev-', group: 'Impairment of the ACK direction (same meaning as above):', hidden: false, defaults });
}

/** Adds --rcvbuf and --sndbuf. */
export function addSocketOptions(cmd: Command): void {
  addKnobOptions(cmd, SOCKET_KNOBS);
}

/** Parses HOST:PORT (IPv6 in brackets: [::1]:9000). */
export function parseHostPort(text: string, what: string): { host: string; port: number } {
  const m = /^\[([0-9a-fA-F:.]+)\]:(\d+)$/.exec(text) ?? /^([^:[\]]+):(\d+)$/.exec(text);
  const port = m === null ? Number.NaN : Number(m[2]);
  if (m === null || !(port >= 1 && port <= 65535)) throw new UsageError(`${what}: "${text}" is not HOST:PORT with a port from 1 to 65535`);
  return { host: m[1] === 'localhost' ? '127.0.0.1' : m[1]!, port };
}

/** Parses ADDR:PORT or just PORT for --listen (the address defaults to loopback). */
export function parseListen(text: string | true): { host: string; port: number } {
  if (text === true) return { host: '127.0.0.1', port: 9000 };
  if (/^\d+$/.test(text)) {
    const port = Number(text);
    if (port < 0 || port > 65535) throw new UsageError(`--listen: port ${text} is not from 0 to 65535`);
    return { host: '127.0.0.1', port };
  }
  return parseHostPort(text, '--listen');
}
