// The experiment spec: what a user writes (or picks from the library) to run an experiment. The zod
// schema here is generated from the knob registries, and experiments/schema.json is generated from
// this schema, so the TypeScript types, the validator and the editor's completion never disagree.
// docs/experiments.md describes every field.

import { jsonTooDeep } from '../core/util/json-depth.js';
import { parse as parseJsonc, printParseErrorCode, type ParseError } from 'jsonc-parser';
import { z } from 'zod';
import { checkKnobValue, type Knob, type NumberKnob } from '../core/knobs.js';
import { KNOB_SECTIONS, allKnobPaths, knobAt, type KnobSection } from './knobs.js';
import { LINK_PRESET_NAMES, type LinkPresetName } from '../core/impair/presets.js';
import { FAULT_ACTIONS } from '../core/rpc/replicas/faults.js';

/** The concepts of the reference notes an experiment can teach. */
export const CONCEPTS = {
  'unreliable-udp': 'UDP: datagrams may be lost, duplicated or reordered, and nothing recovers them',
  'buffer-loss': 'loss from full buffers: a receiver or a queue that cannot keep up drops datagrams',
  checksums: 'checksums detect corrupted datagrams',
  'sequence-numbers': 'sequence numbers detect duplicates and restore order',
  acknowledgments: 'acknowledgments tell the sender what arrived',
  'timeout-retry': 'timeout and retry: resend what was not acknowledged in time',
  duplicates: 'duplicates: suppressed by the transport, or executed twice by a careless server',
  'sliding-window': 'sliding windows: more than one packet in flight fills the pipe',
  'flow-control': 'flow control: the receive buffer limits what the sender may send',
  rpc: 'remote procedure call: client stub, server stub and run-time library',
  'stub-generator': 'the stub generator packs and unpacks arguments from an interface definition',
  'run-time-library': 'the RPC run-time library: retries, timeouts and connections',
  'call-semantics': 'at-least-once and at-most-once calls',
  naming: 'naming: the client finds the server by program and version through a binder (the portmapper)',
  'fault-tolerance': 'fault tolerance: when a server fails, the load is redirected to another and the service stays up',
  replication: 'replication: copies of the state on several servers, and what keeping them in step costs',
} as const;

/** A concept name. */
export type Concept = keyof typeof CONCEPTS;

/** Each concept's heading, for lists grouped by concept (the app's experiment list). */
export const CONCEPT_TITLES: Readonly<Record<Concept, string>> = {
  'unreliable-udp': 'Unreliable UDP',
  'buffer-loss': 'Loss from full buffers',
  checksums: 'Checksums',
  'sequence-numbers': 'Sequence numbers',
  acknowledgments: 'Acknowledgments',
  'timeout-retry': 'Timeout and retry',
  duplicates: 'Duplicates',
  'sliding-window': 'Sliding windows',
  'flow-control': 'Flow control',
  rpc: 'Remote procedure call',
  'stub-generator': 'The stub generator',
  'run-time-library': 'The RPC run-time library',
  'call-semantics': 'Call semantics',
  naming: 'Naming',
  'fault-tolerance': 'Fault tolerance',
  replication: 'Replication',
};

/** Analytic models the runner computes beside the measurement (docs/experiments.md, "Models"). */
export const MODELS = {
  'stop-and-wait': 'stop-and-wait goodput L / (RTT + L/R)',
  transmissions: 'transmissions per packet 1 / (1 - p) at forward loss p',
  'window-limited': 'goodput min(W L / RTT, R): a window below the bandwidth-delay product limits throughput',
  'queue-drops': 'share of datagrams a finite buffer drops: max(0, (lambda - mu) T - B) / (lambda T)',
  'arq-efficiency': 'goodput of a saturated link with loss p before its bottleneck: SR R, GBN R / (1 + (W - 1) p)',
  'fair-share': 'each of N flows through a bottleneck of rate R gets (R - cross traffic) / N',
  'failover-gap': 'after a crash the clients go without answers for the detection time (failover), or for the downtime (one fixed server)',
  'replication-latency': 'a call costs one round trip to the replica, plus one between primary and backups under primary-backup',
  'hedged-p99': 'p99 latency with one replica slowed by E: RTT + E without hedging, min(RTT + E, H + RTT) hedged after H',
  'replicated-drc': 'with the duplicate request cache replicated with the writes, a retried INCREMENT that fails over runs once',
} as const;

/** A model name. */
export type ModelName = keyof typeof MODELS;

/** A knob value as specs write it. */
export type KnobValue = number | string | boolean;

function describeNumber(k: NumberKnob): string {
  const unit = k.unit === 'bytes' ? ' bytes' : k.unit === 'ms' ? ' ms' : k.unit === 'bitsPerSecond' ? ' bit/s' : '';
  return `${k.integer ? 'an integer' : 'a number'} from ${k.min} to ${k.max}${unit}`;
}

/** What values a knob allows, in words. */
export function allowedValues(k: Knob): string {
  if (k.kind === 'enum') return `one of ${k.values.map((v) => `"${v}"`).join(', ')}`;
  if (k.kind === 'boolean') return 'true or false';
  return describeNumber(k);
}

function knobSchema(k: Knob): z.ZodType<KnobValue> {
  const error = `must be ${allowedValues(k)}`;
  if (k.kind === 'enum') return z.enum(k.values as [string, ...string[]], { error }).describe(`${k.label}: ${k.description}`);
  if (k.kind === 'boolean') return z.boolean({ error }).describe(`${k.label}: ${k.description}`);
  let n = z.number({ error }).min(k.min, { error }).max(k.max, { error });
  if (k.integer) n = n.int({ error });
  return n.describe(`${k.label} (${k.unit}): ${k.description}`);
}

const knobSchemas = new Map<string, z.ZodType<KnobValue>>();

/** One schema per knob path, registered with an id so the JSON Schema refers to it once. */
function knobSchemaAt(section: string, k: Knob): z.ZodType<KnobValue> {
  const path = `${section}.${k.key}`;
  let s = knobSchemas.get(path);
  if (s === undefined) {
    s = knobSchema(k).meta({ id: path });
    knobSchemas.set(path, s);
  }
  return s;
}

function sectionSchema(section: KnobSection) {
  const shape: Record<string, z.ZodOptional<z.ZodType<KnobValue>>> = {};
  for (const k of KNOB_SECTIONS[section] as readonly Knob[]) shape[k.key] = knobSchemaAt(section, k).optional();
  return z.strictObject(shape);
}

/** Every knob path as an optional typed property: the shape of `set` objects. */
function settingsSchema(filter: (k: Knob) => boolean = () => true) {
  const shape: Record<string, z.ZodOptional<z.ZodType<KnobValue>>> = {};
  for (const [section, list] of Object.entries(KNOB_SECTIONS)) {
    for (const k of list as readonly Knob[]) if (filter(k)) shape[`${section}.${k.key}`] = knobSchemaAt(section, k).optional();
  }
  return z.strictObject(shape);
}

const knobPath = z.enum(allKnobPaths() as [string, ...string[]], { error: 'must be a knob path such as transport.windowPackets (see docs/experiments.md)' });
const scalar = z.union([z.number(), z.string(), z.boolean()], { error: 'must be a number, a string or true/false' });

const listAxis = z.strictObject({
  name: z.string().min(1).max(64).optional().describe('column name of the axis in the CSV files (default: the knob path)'),
  knob: z.union([knobPath, z.array(knobPath).min(1).max(8)]).describe('the knob (or knobs, all set to the same value) this axis varies'),
  values: z.array(scalar).min(1).max(1000).describe('the values, in order'),
});

const rangeAxis = z.strictObject({
  name: z.string().min(1).max(64).optional().describe('column name of the axis in the CSV files (default: the knob path)'),
  knob: z.union([knobPath, z.array(knobPath).min(1).max(8)]),
  from: z.number().describe('first value'),
  to: z.number().describe('last value'),
  steps: z.number().int().min(2).max(1000).describe('number of values, ends included'),
  scale: z.enum(['linear', 'log']).default('linear').describe('spacing of the values; log needs positive ends'),
});

const pointsAxis = z.strictObject({
  name: z.string().min(1).max(64).describe('column name of the axis in the CSV files'),
  points: z
    .array(
      z.strictObject({
        label: z.string().min(1).max(64).describe('the value written in the axis column'),
        set: settingsSchema().describe('knob values of this point'),
      }),
    )
    .min(1)
    .max(1000),
});

const axisSchema = z.union([listAxis, rangeAxis, pointsAxis], { error: 'must be {knob, values}, {knob, from, to, steps} or {name, points}' });

const scheduleStep = z.strictObject({
  atS: z.number().min(0).max(86_400).describe('seconds after the trial started'),
  set: settingsSchema((k) => k.live).default({}).describe('knobs to change (only knobs that may change while a run is going)'),
  packet: z
    .strictObject({
      direction: z.enum(['forward', 'reverse']),
      index: z.number().int().min(0).describe("the datagram's position among those offered to that link direction (0-based)"),
      duplicate: z.boolean().default(false).describe('the second copy of a duplicated datagram'),
      action: z.enum(['drop', 'corrupt', 'duplicate', 'delay']).default('drop').describe('what was done to it'),
      delayMs: z.number().min(0.001).max(600_000).optional().describe('extra delay of a delayed datagram'),
    })
    .refine((p) => p.action !== 'delay' || p.delayMs !== undefined, { error: 'a delay needs delayMs' })
    .optional()
    .describe('simulator: something done by hand to a datagram in flight in teaching mode; a replay does it to the same datagram'),
  fault: z
    .strictObject({
      replica: z.number().int().min(1).max(5).describe('the replica, numbered from 1'),
      action: z.enum(FAULT_ACTIONS).describe('crash, restart (it answers after workload.restartDelayMs), partition, heal (ends a partition), slow (extra service time)'),
      memory: z.enum(['lost', 'kept']).optional().describe('crash: what the replica keeps (default workload.crashMemory)'),
      extraMs: z.number().min(0).max(600_000).optional().describe('slow: extra service time per reply, 0 back to normal'),
    })
    .refine((f) => f.action !== 'slow' || f.extraMs !== undefined, { error: 'a slow fault needs extraMs' })
    .optional()
    .describe('rpc-replicas: a failure caused to a replica, an event in events.csv'),
  trial: z
    .strictObject({ point: z.number().int().min(0), repetition: z.number().int().min(0) })
    .optional()
    .describe('only in this trial (point and repetition, as the CSV files number them): what was done by hand in one trial replays there; every trial when absent'),
  note: z.string().max(200).optional().describe('why, written to events.csv'),
});

const networkSchema = z
  .string()
  .regex(/^(sim|loopback|peer:(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+):\d{1,5})$/, { error: 'must be "sim", "loopback" or "peer:HOST:PORT" (a packetlab peer agent)' })
  .describe('where the trial runs: the simulator, real UDP on this machine, or against a peer agent');

/** The spec schema (input form: defaults not yet applied). */
export const specSchema = z.strictObject({
  $schema: z.string().optional().describe('path or URL of experiments/schema.json, for editors'),
  name: z
    .string()
    .regex(/^[a-z0-9][a-z0-9-]{0,63}$/, { error: 'must be lower-case letters, digits and dashes (at most 64), starting with a letter or digit' })
    .describe('short name used on the command line and in run folders'),
  title: z.string().min(1).max(120).describe('one-line title'),
  description: z.string().min(1).max(4000).describe('what the experiment shows and what to look at'),
  concepts: z.array(z.enum(Object.keys(CONCEPTS) as [Concept, ...Concept[]])).min(1).describe('concepts of the reference notes it teaches'),
  network: networkSchema.default('sim'),
  preset: z
    .enum(LINK_PRESET_NAMES as [LinkPresetName, ...LinkPresetName[]], { error: `must be one of ${LINK_PRESET_NAMES.map((n) => `"${n}"`).join(', ')}` })
    .optional()
    .describe('a named link profile for both directions (docs/experiments.md, "Link presets"); forward and reverse knobs set here win over it'),
  transport: sectionSchema('transport').default({}).describe('reliable transport knobs'),
  forward: sectionSchema('forward').default({}).describe('impairment of the data direction'),
  reverse: sectionSchema('reverse').default({}).describe('impairment of the return direction (ACKs, replies, reports)'),
  socket: sectionSchema('socket').default({}).describe('socket buffer sizes'),
  workload: sectionSchema('workload').default({}).describe('what traffic the trial carries'),
  sim: sectionSchema('sim').default({}).describe('the simulated receiving host'),
  timeLimitS: z.number().min(0.1).max(86_400).default(60).describe('a trial that has not ended by then is stopped (virtual time in the simulator)'),
  intervalMs: z.number().min(1).max(60_000).default(100).describe('sampling interval'),
  seed: z.number().int().min(0).max(2 ** 32 - 1).default(1).describe('seed of every random choice; repetition r uses a seed derived from it'),
  repetitions: z.number().int().min(1).max(1000).default(1).describe('trials per sweep point; 2 or more give 95% confidence intervals'),
  sweep: z.array(axisSchema).max(4).default([]).describe('axes; the cartesian product of their values is run'),
  schedule: z.array(scheduleStep).max(1000).default([]).describe("mid-run changes, replayed in every trial (or in the one a step's trial names)"),
  model: z.enum(Object.keys(MODELS) as [ModelName, ...ModelName[]]).optional().describe('analytic expectation computed beside the measurement'),
  quick: z
    .strictObject({
      set: settingsSchema().optional().describe('knob values of the short version'),
      repetitions: z.number().int().min(1).max(1000).optional(),
      timeLimitS: z.number().min(0.1).max(86_400).optional(),
      pointsPerAxis: z.number().int().min(1).max(1000).optional().describe('keep this many values of each axis (the ends and evenly spaced ones)'),
    })
    .optional()
    .describe('the short version run by --quick and by CI'),
  plot: z
    .strictObject({
      x: z.string().min(1).describe('axis name of the x axis'),
      y: z.array(z.string().min(1)).min(1).max(8).describe('summary columns to plot'),
      series: z.string().min(1).optional().describe('axis name that makes one line per value'),
    })
    .optional()
    .describe('the chart the app draws of the summary'),
});

/** A spec as written (optional fields may be missing). */
export type ExperimentSpecInput = z.input<typeof specSchema>;
/** A validated spec with defaults applied. */
export type ExperimentSpec = z.output<typeof specSchema>;
/** One sweep axis. */
export type SweepAxis = ExperimentSpec['sweep'][number];
/** One schedule step. */
export type ScheduleStep = ExperimentSpec['schedule'][number];

/** One validation problem. */
export interface SpecError {
  /** JSON path, `$.transport.windowPackets`. */
  path: string;
  /** The offending value as JSON (undefined when it is missing). */
  value: string | undefined;
  /** What is wrong or allowed. */
  message: string;
}

/** Result of validating a spec. */
export type SpecResult = { ok: true; spec: ExperimentSpec } | { ok: false; errors: SpecError[] };

function jsonPath(path: readonly PropertyKey[]): string {
  let out = '$';
  for (const p of path) {
    if (typeof p === 'number') out += `[${p}]`;
    else if (typeof p === 'string' && /^[A-Za-z_$][A-Za-z0-9_$]*$/.test(p)) out += `.${p}`;
    else out += `[${JSON.stringify(String(p))}]`;
  }
  return out;
}

function valueAt(root: unknown, path: readonly PropertyKey[]): unknown {
  let v = root;
  for (const p of path) {
    if (v === null || typeof v !== 'object') return undefined;
    v = (v as Record<PropertyKey, unknown>)[p];
  }
  return v;
}

function show(v: unknown): string | undefined {
  if (v === undefined) return undefined;
  const s = JSON.stringify(v);
  return s.length > 80 ? `${s.slice(0, 77)}...` : s;
}

function closest(word: string, candidates: readonly string[]): string | null {
  let best: string | null = null;
  let bestD = Math.max(2, Math.floor(word.length / 3)) + 1;
  for (const c of candidates) {
    const d = editDistance(word.toLowerCase(), c.toLowerCase());
    if (d < bestD) {
      bestD = d;
      best = c;
    }
  }
  return best;
}

function editDistance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    let prev = row[0]!;
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const cur = row[j]!;
      row[j] = Math.min(row[j]! + 1, row[j - 1]! + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1));
      prev = cur;
    }
  }
  return row[b.length]!;
}

function allowedKeysAt(path: readonly PropertyKey[]): string[] {
  const section = path.length === 1 ? (path[0] as string) : null;
  if (section !== null && section in KNOB_SECTIONS) return (KNOB_SECTIONS[section as KnobSection] as readonly Knob[]).map((k) => k.key);
  const last = path[path.length - 1];
  if (last === 'set') {
    const live = path[0] === 'schedule';
    return allKnobPaths().filter((p) => !live || knobAt(p)!.knob.live);
  }
  if (path.length === 0) return Object.keys(specSchema.shape);
  return [];
}

function unknownKeyError(root: unknown, path: readonly PropertyKey[], key: string): SpecError {
  const allowed = allowedKeysAt(path);
  const where = jsonPath([...path, key]);
  if (path[0] === 'schedule' && path[path.length - 1] === 'set' && knobAt(key) !== undefined) {
    return { path: where, value: show(valueAt(root, [...path, key])), message: `${key} cannot change while a run is going; set it in the spec or sweep over it` };
  }
  const near = closest(key, allowed);
  const hint = near !== null ? ` (did you mean "${near}"?)` : allowed.length > 0 && allowed.length <= 30 ? ` (allowed: ${allowed.join(', ')})` : '';
  return { path: where, value: show(valueAt(root, [...path, key])), message: `unknown ${path.length === 0 ? 'field' : 'knob'} "${key}"${hint}` };
}

/** Checks that every value in a sweep axis suits every knob it sets, and that ranges make sense. */
function axisErrors(axis: SweepAxis, i: number): SpecError[] {
  const out: SpecError[] = [];
  const at = (...p: PropertyKey[]) => jsonPath(['sweep', i, ...p]);
  if ('points' in axis) return out;
  const knobs = (Array.isArray(axis.knob) ? axis.knob : [axis.knob]).map((p) => knobAt(p)!);
  if ('values' in axis) {
    axis.values.forEach((v, j) => {
      for (const k of knobs) {
        const err = checkKnobValue(k.knob, v);
        if (err !== null) out.push({ path: at('values', j), value: show(v), message: `${k.section}.${k.key} ${err}` });
      }
    });
  } else {
    if (axis.scale === 'log' && (axis.from <= 0 || axis.to <= 0)) out.push({ path: at('from'), value: show(axis.from), message: 'a log range needs positive ends' });
    for (const k of knobs) {
      if (k.knob.kind !== 'number') out.push({ path: at('knob'), value: show(axis.knob), message: `${k.section}.${k.key} is not numeric: sweep it with a list of values` });
      else {
        for (const [name, v] of [['from', axis.from], ['to', axis.to]] as const) {
          const err = checkKnobValue({ ...k.knob, integer: false }, v);
          if (err !== null) out.push({ path: at(name), value: show(v), message: `${k.section}.${k.key} ${err}` });
        }
      }
    }
  }
  return out;
}

/** Validates a parsed JSON value as a spec. */
export function validateSpec(input: unknown): SpecResult {
  const r = specSchema.safeParse(input);
  if (!r.success) {
    const errors: SpecError[] = [];
    for (const issue of r.error.issues) {
      if (issue.code === 'unrecognized_keys') {
        for (const key of issue.keys) errors.push(unknownKeyError(input, issue.path, key));
        continue;
      }
      const v = valueAt(input, issue.path);
      const message = v === undefined && issue.code === 'invalid_type' ? 'is required' : issue.message;
      errors.push({ path: jsonPath(issue.path), value: show(v), message });
    }
    return { ok: false, errors };
  }
  const spec = r.data;
  const errors: SpecError[] = [];
  spec.sweep.forEach((a, i) => errors.push(...axisErrors(a, i)));
  const names = new Set<string>();
  spec.sweep.forEach((a, i) => {
    const n = axisName(a);
    if (names.has(n)) errors.push({ path: jsonPath(['sweep', i]), value: show(n), message: `two axes are named "${n}"; give one a "name"` });
    names.add(n);
  });
  if (spec.plot !== undefined) {
    for (const [key, v] of [['x', spec.plot.x], ['series', spec.plot.series]] as const) {
      if (v !== undefined && !names.has(v)) errors.push({ path: jsonPath(['plot', key]), value: show(v), message: `is not an axis name (axes: ${[...names].join(', ') || 'none'})` });
    }
  }
  return errors.length > 0 ? { ok: false, errors } : { ok: true, spec };
}

/** The column name of an axis. */
export function axisName(a: SweepAxis): string {
  if (a.name !== undefined) return a.name;
  if ('points' in a) return a.name;
  return Array.isArray(a.knob) ? a.knob.join('+') : a.knob;
}

function lineCol(text: string, pos: number): string {
  const before = text.slice(0, pos);
  const line = before.split('\n').length;
  const col = pos - before.lastIndexOf('\n');
  return `line ${line}, column ${col}`;
}

const JSON_ERRORS: Record<string, string> = {
  InvalidSymbol: 'unexpected characters',
  InvalidNumberFormat: 'not a valid number',
  PropertyNameExpected: 'a property name in double quotes was expected',
  ValueExpected: 'a value was expected',
  ColonExpected: 'a colon was expected',
  CommaExpected: 'a comma was expected',
  CloseBraceExpected: 'a closing } was expected',
  CloseBracketExpected: 'a closing ] was expected',
  EndOfFileExpected: 'nothing may follow the spec',
  InvalidCommentToken: 'comments are not JSON',
  UnexpectedEndOfComment: 'a comment does not end',
  UnexpectedEndOfString: 'a string does not end',
  UnexpectedEndOfNumber: 'a number does not end',
  InvalidUnicode: 'an invalid \\u escape',
  InvalidEscapeCharacter: 'an invalid escape',
  InvalidCharacter: 'an invalid character in a string',
};

/** Deepest nesting of objects and arrays a spec may have; real specs nest about six levels. */
export const MAX_SPEC_DEPTH = 64;

/** Parses JSON text as a spec; malformed JSON is reported with its line and column, too deep nesting with its path. */
export function parseSpecText(text: string): SpecResult {
  // Before the parser and the schema, which recurse once per level: a few thousand levels would
  // exhaust the stack and say nothing of where.
  const deep = jsonTooDeep(text, MAX_SPEC_DEPTH);
  if (deep !== null) return { ok: false, errors: [{ path: deep.path, value: undefined, message: `nested more than ${MAX_SPEC_DEPTH} levels deep (a spec needs a handful)` }] };
  const problems: ParseError[] = [];
  const json: unknown = parseJsonc(text, problems, { disallowComments: true, allowTrailingComma: false, allowEmptyContent: false });
  if (problems.length > 0) {
    const first = problems[0]!;
    const code = printParseErrorCode(first.error);
    return { ok: false, errors: [{ path: '$', value: undefined, message: `malformed JSON at ${lineCol(text, first.offset)}: ${JSON_ERRORS[code] ?? code}` }] };
  }
  return validateSpec(json);
}

/** Formats errors as `FILE: PATH: VALUE: MESSAGE` lines. */
export function formatSpecErrors(file: string, errors: readonly SpecError[]): string {
  return errors.map((e) => `${file}: ${e.path}${e.value !== undefined ? `: ${e.value}` : ''}: ${e.message}`).join('\n');
}

/** The JSON Schema of specs (written to experiments/schema.json by `npm run build`). */
export function specJsonSchema(): object {
  const s = z.toJSONSchema(specSchema, { io: 'input', target: 'draft-2020-12' }) as Record<string, unknown>;
  return { ...s, $id: 'https://packetlab.dev/schema/experiment.json', title: 'Packet Lab experiment spec' };
}
