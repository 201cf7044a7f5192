// Command-line flags built from the knob registry, so every flag has the same range, unit and
// wording as the spec format and the app. Bad values fail with one line naming the flag and the
// accepted range (exit code 2).

import { InvalidArgumentError, Option, type Command } from 'commander';
import { IMPAIRMENT_KNOBS, SOCKET_KNOBS, TRANSPORT_KNOBS, parseKnobText, type Knob } from '../core/knobs.js';
import { UnitError } from '../core/units.js';

/** A usage error: printed as one line, exit code 2. */
export class UsageError extends Error {}

const GROUP_TITLES: Record<string, string> = {
  transport: 'Transport:',
  timeouts: 'Timeouts:',
  buffers: 'Buffers:',
  impairment: 'Impairment (data direction; each has a --rev- twin for the ACK direction):',
  workload: 'Workload:',
};

function defaultText(k: Knob): string {
  if (k.kind === 'boolean') return k.default ? 'on' : 'off';
  return String(k.default);
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

/** Adds one flag (two for a boolean: --x and --no-x) per knob. */
export function addKnobOptions(cmd: Command, knobs: readonly Knob[], opts: { prefix?: string; hidden?: boolean; group?: string } = {}): void {
  const prefix = opts.prefix ?? '';
  for (const k of knobs) {
    const group = opts.group ?? GROUP_TITLES[k.group] ?? 'Options:';
    const flag = `${prefix}${k.flag}`;
    if (k.kind === 'boolean') {
      const on = new Option(`--${flag}`, `${k.description} (default ${defaultText(k)})`).helpGroup(group);
      const off = new Option(`--no-${flag}`, `turn ${k.label.toLowerCase()} off`).helpGroup(group);
      if (opts.hidden) {
        on.hideHelp();
        off.hideHelp();
      }
      cmd.addOption(on);
      cmd.addOption(off);
      continue;
    }
    const arg = k.kind === 'enum' ? k.values.join('|') : k.unit === 'probability' ? 'p' : k.unit;
    const o = new Option(`--${flag} <${arg}>`, `${k.description} (default ${defaultText(k)})`).argParser(parser(k)).helpGroup(group);
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

/** Adds impairment flags for the data direction and, when asked, --rev- twins for the other. */
export function addImpairmentOptions(cmd: Command, withReverse: boolean): void {
  addKnobOptions(cmd, IMPAIRMENT_KNOBS);
  if (withReverse) addKnobOptions(cmd, IMPAIRMENT_KNOBS, { prefix: 'rev-', group: 'Impairment of the ACK direction (same meaning as above):', hidden: false });
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
