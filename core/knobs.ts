// The knob registry: every parameter a user can set, with its range, default, unit, command-line
// flag, label and group. The CLI builds its flags from it, experiment specs validate against it,
// and the app's parameter panel draws its controls from it, so the three never disagree.

import { DEFAULT_TRANSPORT_CONFIG, type TransportConfig } from './transport/config.js';
import { NO_IMPAIRMENT, type ImpairmentConfig } from './impair/config.js';
import { UnitError, parseBitsPerSecond, parseBytes, parseMs, parseNumber, parseProbability } from './units.js';

/** Panel groups of the app, also used to order --help. */
export type KnobGroup = 'transport' | 'timeouts' | 'buffers' | 'impairment' | 'workload';

/** How a number is written by users. */
export type KnobUnit = 'count' | 'bytes' | 'bitsPerSecond' | 'ms' | 'probability' | 'number';

interface KnobBase<K extends string> {
  key: K;
  /** Long command-line flag without the leading dashes. */
  flag: string;
  /** Control label in the app, units in parentheses. */
  label: string;
  /** One sentence for --help and tooltips. */
  description: string;
  group: KnobGroup;
  /** Whether the value may change while a run is going. */
  live: boolean;
}

/** A numeric knob. */
export interface NumberKnob<K extends string = string> extends KnobBase<K> {
  kind: 'number';
  unit: KnobUnit;
  min: number;
  max: number;
  integer: boolean;
  default: number;
}

/** A knob with a fixed set of values. */
export interface EnumKnob<K extends string = string, V extends string = string> extends KnobBase<K> {
  kind: 'enum';
  values: readonly V[];
  default: V;
}

/** An on/off knob; the flag also has a --no- form. */
export interface BooleanKnob<K extends string = string> extends KnobBase<K> {
  kind: 'boolean';
  default: boolean;
}

/** Any knob. */
export type Knob<K extends string = string> = NumberKnob<K> | EnumKnob<K> | BooleanKnob<K>;

const MiB = 1024 * 1024;

type T = keyof TransportConfig;
const D = DEFAULT_TRANSPORT_CONFIG;

/** A number knob (the registries' shorthand); it keeps the literal type of its key. */
export function numberKnob<const K extends string>(k: Omit<NumberKnob<K>, 'kind'>): NumberKnob<K> {
  return { kind: 'number', ...k };
}

/** An enum knob; it keeps the literal types of its key and values (the default must be one of them). */
export function enumKnob<const K extends string, const V extends string>(k: Omit<EnumKnob<K, V>, 'kind' | 'default'> & { default: NoInfer<V> }): EnumKnob<K, V> {
  return { kind: 'enum', ...k };
}

/** A boolean knob; it keeps the literal type of its key. */
export function booleanKnob<const K extends string>(k: Omit<BooleanKnob<K>, 'kind'>): BooleanKnob<K> {
  return { kind: 'boolean', ...k };
}

/** The type of a knob's value: number, the union of an enum's values, or boolean. */
export type KnobValueOf<Kn extends Knob> = Kn extends NumberKnob ? number : Kn extends EnumKnob<string, infer V> ? V : Kn extends BooleanKnob ? boolean : never;

/**
 * The values of a knob list as an object type, key to value type, so a config type derives from
 * its knob declarations instead of repeating them. The list must keep its literal keys
 * (declare it `[...] as const satisfies readonly Knob[]`, built with the knob helpers).
 */
export type KnobValues<Ks extends readonly Knob[]> = { [Kn in Ks[number] as Kn['key']]: KnobValueOf<Kn> };

const num = numberKnob;

/** Knobs of the reliable transport engine. */
export const TRANSPORT_KNOBS: readonly Knob<T>[] = [
  { kind: 'enum', key: 'protocol', flag: 'protocol', label: 'ARQ mode', description: 'stop-and-wait (saw), go-back-N (gbn) or selective repeat (sr)', group: 'transport', live: false, values: ['saw', 'gbn', 'sr'], default: D.protocol },
  num({ key: 'windowPackets', flag: 'window', label: 'Window (packets)', description: 'most packets in flight (stop-and-wait always uses 1)', group: 'transport', live: true, unit: 'count', min: 1, max: 16384, integer: true, default: D.windowPackets }),
  num({ key: 'mssBytes', flag: 'mss', label: 'Payload per packet (bytes)', description: 'payload bytes per DATA packet (the header adds 36)', group: 'transport', live: false, unit: 'bytes', min: 16, max: 65000, integer: true, default: D.mssBytes }),
  { kind: 'boolean', key: 'sack', flag: 'sack', label: 'Selective acknowledgments (SACK)', description: 'report out-of-order packets in SACK blocks (selective repeat)', group: 'transport', live: true, default: D.sack },
  num({ key: 'dupAckThreshold', flag: 'dupack', label: 'Fast retransmit after duplicate ACKs', description: 'duplicate ACKs that trigger a fast retransmit, 0 turns it off', group: 'transport', live: true, unit: 'count', min: 0, max: 64, integer: true, default: D.dupAckThreshold }),
  num({ key: 'ackEveryPackets', flag: 'ack-every', label: 'ACK every N packets', description: 'delayed ACK: acknowledge every N in-order packets', group: 'transport', live: true, unit: 'count', min: 1, max: 64, integer: true, default: D.ackEveryPackets }),
  num({ key: 'ackDelayMs', flag: 'ack-delay', label: 'Delayed ACK timer (ms)', description: 'delayed ACK: acknowledge after this long at the latest', group: 'transport', live: true, unit: 'ms', min: 0, max: 1000, integer: false, default: D.ackDelayMs }),
  { kind: 'boolean', key: 'verifyChecksum', flag: 'checksum', label: 'Verify checksums', description: 'drop datagrams whose CRC32C does not match (--no-checksum lets corruption through)', group: 'transport', live: true, default: D.verifyChecksum },
  { kind: 'enum', key: 'congestionControl', flag: 'cc', label: 'Congestion control', description: 'off, or aimd (NewReno-like slow start, congestion avoidance, fast recovery)', group: 'transport', live: true, values: ['off', 'aimd'], default: D.congestionControl },
  num({ key: 'initialCwndPackets', flag: 'initial-cwnd', label: 'Initial congestion window (packets)', description: 'congestion window at the start (with --cc aimd)', group: 'transport', live: false, unit: 'count', min: 1, max: 1000, integer: true, default: D.initialCwndPackets }),
  { kind: 'enum', key: 'rtoMode', flag: 'rto-mode', label: 'RTO mode', description: 'fixed (--rto) or adaptive (RFC 6298 from RTT samples)', group: 'timeouts', live: true, values: ['fixed', 'adaptive'], default: D.rtoMode },
  num({ key: 'rtoMs', flag: 'rto', label: 'Retransmission timeout (ms)', description: 'the retransmission timeout in fixed mode', group: 'timeouts', live: true, unit: 'ms', min: 0.1, max: 600_000, integer: false, default: D.rtoMs }),
  num({ key: 'rtoMsInitial', flag: 'rto-initial', label: 'Initial RTO (ms)', description: 'adaptive RTO before the first RTT sample', group: 'timeouts', live: true, unit: 'ms', min: 0.1, max: 600_000, integer: false, default: D.rtoMsInitial }),
  num({ key: 'rtoMsMin', flag: 'rto-min', label: 'Minimum RTO (ms)', description: 'lower bound of the adaptive RTO', group: 'timeouts', live: true, unit: 'ms', min: 0.1, max: 600_000, integer: false, default: D.rtoMsMin }),
  num({ key: 'rtoMsMax', flag: 'rto-max', label: 'Maximum RTO (ms)', description: 'upper bound of the RTO, backoff included', group: 'timeouts', live: true, unit: 'ms', min: 0.1, max: 600_000, integer: false, default: D.rtoMsMax }),
  num({ key: 'rtoBackoff', flag: 'rto-backoff', label: 'RTO backoff factor', description: 'factor applied to the RTO after each timeout, 1 turns backoff off', group: 'timeouts', live: true, unit: 'number', min: 1, max: 8, integer: false, default: D.rtoBackoff }),
  num({ key: 'maxRetransmissions', flag: 'max-retries', label: 'Max retransmissions', description: 'retransmissions of one packet before the connection fails', group: 'timeouts', live: true, unit: 'count', min: 0, max: 1000, integer: true, default: D.maxRetransmissions }),
  num({ key: 'idleTimeoutMs', flag: 'idle-timeout', label: 'Idle timeout (ms)', description: 'fail when nothing arrives from the peer for this long, 0 turns it off', group: 'timeouts', live: true, unit: 'ms', min: 0, max: 3_600_000, integer: false, default: D.idleTimeoutMs }),
  num({ key: 'rcvBufferBytes', flag: 'rcv-buffer', label: 'Receive buffer (bytes)', description: 'receive buffer of the connection; it drives the advertised window', group: 'buffers', live: true, unit: 'bytes', min: 64, max: 64 * MiB, integer: true, default: D.rcvBufferBytes }),
];

type I = keyof ImpairmentConfig;
const N = NO_IMPAIRMENT;

/** Knobs of one direction of the emulated link (flags get a rev- twin for the reverse direction). */
export const IMPAIRMENT_KNOBS: readonly Knob<I>[] = [
  num({ key: 'lossProbability', flag: 'loss', label: 'Loss probability', description: 'Bernoulli loss probability (0.05 or 5%)', group: 'impairment', live: true, unit: 'probability', min: 0, max: 1, integer: false, default: N.lossProbability }),
  num({ key: 'burstEnterProbability', flag: 'burst-p', label: 'Burst loss: enter bad state', description: 'Gilbert-Elliott p, probability of going from the good to the bad state (0 turns burst loss off)', group: 'impairment', live: true, unit: 'probability', min: 0, max: 1, integer: false, default: N.burstEnterProbability }),
  num({ key: 'burstExitProbability', flag: 'burst-r', label: 'Burst loss: leave bad state', description: 'Gilbert-Elliott r, probability of leaving the bad state (mean burst 1/r datagrams)', group: 'impairment', live: true, unit: 'probability', min: 0.0001, max: 1, integer: false, default: N.burstExitProbability }),
  num({ key: 'burstLossBad', flag: 'burst-loss-bad', label: 'Burst loss: loss in bad state', description: 'Gilbert-Elliott 1-h, loss probability in the bad state', group: 'impairment', live: true, unit: 'probability', min: 0, max: 1, integer: false, default: N.burstLossBad }),
  num({ key: 'burstLossGood', flag: 'burst-loss-good', label: 'Burst loss: loss in good state', description: 'Gilbert-Elliott 1-k, loss probability in the good state', group: 'impairment', live: true, unit: 'probability', min: 0, max: 1, integer: false, default: N.burstLossGood }),
  num({ key: 'delayMs', flag: 'delay', label: 'Delay (ms)', description: 'one-way delay', group: 'impairment', live: true, unit: 'ms', min: 0, max: 60_000, integer: false, default: N.delayMs }),
  num({ key: 'jitterMs', flag: 'jitter', label: 'Jitter (ms)', description: 'jitter added to the delay (half-width if uniform, standard deviation if normal); it never reorders', group: 'impairment', live: true, unit: 'ms', min: 0, max: 60_000, integer: false, default: N.jitterMs }),
  { kind: 'enum', key: 'jitterDistribution', flag: 'jitter-dist', label: 'Jitter distribution', description: 'uniform or normal', group: 'impairment', live: true, values: ['uniform', 'normal'], default: N.jitterDistribution },
  num({ key: 'reorderProbability', flag: 'reorder', label: 'Reorder probability', description: 'probability that a datagram is held back so later ones overtake it', group: 'impairment', live: true, unit: 'probability', min: 0, max: 1, integer: false, default: N.reorderProbability }),
  num({ key: 'reorderDelayMs', flag: 'reorder-delay', label: 'Reorder hold-back (ms)', description: 'extra delay of a reordered datagram', group: 'impairment', live: true, unit: 'ms', min: 0, max: 60_000, integer: false, default: N.reorderDelayMs }),
  num({ key: 'duplicateProbability', flag: 'duplicate', label: 'Duplicate probability', description: 'probability that a datagram is delivered twice', group: 'impairment', live: true, unit: 'probability', min: 0, max: 1, integer: false, default: N.duplicateProbability }),
  num({ key: 'corruptProbability', flag: 'corrupt', label: 'Corrupt probability', description: 'probability that a datagram has bits flipped', group: 'impairment', live: true, unit: 'probability', min: 0, max: 1, integer: false, default: N.corruptProbability }),
  num({ key: 'corruptBits', flag: 'corrupt-bits', label: 'Bits flipped per corruption', description: 'bits flipped in a corrupted datagram', group: 'impairment', live: true, unit: 'count', min: 1, max: 64, integer: true, default: N.corruptBits }),
  num({ key: 'rateBitsPerSecond', flag: 'link-rate', label: 'Bottleneck rate (bit/s)', description: 'bottleneck rate in bits/s (10M, 1.5G), 0 is unlimited', group: 'impairment', live: true, unit: 'bitsPerSecond', min: 0, max: 100e9, integer: false, default: N.rateBitsPerSecond }),
  num({ key: 'queuePackets', flag: 'queue', label: 'Queue limit (packets)', description: 'drop-tail queue in front of the bottleneck, in datagrams', group: 'buffers', live: true, unit: 'count', min: 1, max: 1_000_000, integer: true, default: N.queuePackets }),
  num({ key: 'queueBytes', flag: 'queue-bytes', label: 'Queue limit (bytes)', description: 'byte limit of the bottleneck queue, 0 for none', group: 'buffers', live: true, unit: 'bytes', min: 0, max: 1024 * MiB, integer: true, default: N.queueBytes }),
  num({ key: 'mtuBytes', flag: 'mtu', label: 'MTU (bytes)', description: 'IP MTU of the link; longer datagrams are dropped, 0 for none', group: 'impairment', live: true, unit: 'bytes', min: 0, max: 65535, integer: true, default: N.mtuBytes }),
];

/** Socket knobs of the real UDP driver. */
export interface SocketConfig {
  /** SO_RCVBUF in bytes, 0 for the OS default. */
  socketRcvBufBytes: number;
  /** SO_SNDBUF in bytes, 0 for the OS default. */
  socketSndBufBytes: number;
}

/** Knobs of the real sockets (UDP driver only). */
export const SOCKET_KNOBS: readonly Knob<keyof SocketConfig>[] = [
  num({ key: 'socketRcvBufBytes', flag: 'rcvbuf', label: 'SO_RCVBUF (bytes)', description: 'socket receive buffer (the kernel doubles it and caps it at net.core.rmem_max), 0 for the default', group: 'buffers', live: false, unit: 'bytes', min: 0, max: 256 * MiB, integer: true, default: 0 }),
  num({ key: 'socketSndBufBytes', flag: 'sndbuf', label: 'SO_SNDBUF (bytes)', description: 'socket send buffer (capped at net.core.wmem_max), 0 for the default', group: 'buffers', live: false, unit: 'bytes', min: 0, max: 256 * MiB, integer: true, default: 0 }),
];

function describeRange(k: NumberKnob): string {
  const kind = k.integer ? 'an integer' : 'a number';
  return `${kind} from ${k.min} to ${k.max}`;
}

/** Converts command-line or spec text to a knob value. Throws UnitError naming what is accepted. */
export function parseKnobText(k: Knob, text: string): number | string | boolean {
  if (k.kind === 'enum') {
    if (!k.values.includes(text)) throw new UnitError(`"${text}" is not one of ${k.values.join(', ')}`);
    return text;
  }
  if (k.kind === 'boolean') {
    if (/^(true|on|yes|1)$/i.test(text)) return true;
    if (/^(false|off|no|0)$/i.test(text)) return false;
    throw new UnitError(`"${text}" is not on/off (true, false)`);
  }
  let v: number;
  switch (k.unit) {
    case 'bytes':
      v = parseBytes(text);
      break;
    case 'bitsPerSecond':
      v = parseBitsPerSecond(text);
      break;
    case 'ms':
      v = parseMs(text);
      break;
    case 'probability':
      v = parseProbability(text);
      break;
    default:
      v = parseNumber(text);
  }
  const err = checkKnobValue(k, v);
  if (err !== null) throw new UnitError(`${text} is out of range: ${err}`);
  return v;
}

/** Checks a value against a knob; returns null when it is allowed, else what is allowed. */
export function checkKnobValue(k: Knob, v: unknown): string | null {
  if (k.kind === 'enum') return typeof v === 'string' && k.values.includes(v) ? null : `must be one of ${k.values.join(', ')}`;
  if (k.kind === 'boolean') return typeof v === 'boolean' ? null : 'must be true or false';
  if (typeof v !== 'number' || !Number.isFinite(v)) return `must be ${describeRange(k)}`;
  if (k.integer && !Number.isInteger(v)) return `must be ${describeRange(k)}`;
  if (v < k.min || v > k.max) return `must be ${describeRange(k)}`;
  return null;
}

/** Cross-knob rules of a transport config; each problem names the knobs involved via `name`. */
export function transportConfigProblems(c: TransportConfig, name: (key: keyof TransportConfig) => string = (k) => k): string[] {
  const out: string[] = [];
  if (c.rtoMsMin > c.rtoMsMax) out.push(`${name('rtoMsMin')} (${c.rtoMsMin}) must not exceed ${name('rtoMsMax')} (${c.rtoMsMax})`);
  if (c.rcvBufferBytes < c.mssBytes) out.push(`${name('rcvBufferBytes')} (${c.rcvBufferBytes}) must hold at least one packet of ${name('mssBytes')} (${c.mssBytes})`);
  if (c.windowPackets * c.mssBytes > 64 * MiB) out.push(`${name('windowPackets')} x ${name('mssBytes')} (${c.windowPackets} x ${c.mssBytes}) must not exceed 64 MiB`);
  return out;
}

/** The command-line flag of a knob key (with its dashes). */
export function flagOf(knobs: readonly Knob[], key: string): string {
  const k = knobs.find((x) => x.key === key);
  return k === undefined ? key : `--${k.flag}`;
}

/** Finds a knob by key in a list. */
export function knobByKey<K extends string>(list: readonly Knob<K>[], key: string): Knob<K> | undefined {
  return list.find((k) => k.key === key);
}
