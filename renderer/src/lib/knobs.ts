// The parameter panel's model: knobs (from listKnobs) grouped as Transport, Timeouts, Buffers,
// Impairment and Workload, the value each shows for a spec, checks of a typed value against the
// knob's range, and edits of the spec's JSON sections.

import type { KnobInfo, PresetInfo } from '../../../experiments/api/contract.js';

/** A value a knob takes. */
export type KnobValue = number | string | boolean;

/** A titled part of a group (forward and reverse impairment, ...). */
export interface KnobSubgroup {
  id: string;
  title: string | null;
  knobs: KnobInfo[];
}

/** One group of the panel. */
export interface KnobGroup {
  id: string;
  title: string;
  subgroups: KnobSubgroup[];
}

const GROUPS: readonly { id: string; title: string }[] = [
  { id: 'transport', title: 'Transport' },
  { id: 'timeouts', title: 'Timeouts' },
  { id: 'buffers', title: 'Buffers' },
  { id: 'impairment', title: 'Impairment' },
  { id: 'workload', title: 'Workload' },
  // The return direction's impairment and queue: most experiments leave it alone, so it is shown folded.
  { id: 'reverse', title: 'Reverse direction (ACKs and replies)' },
];

/** Groups shown folded until opened. */
export const FOLDED_GROUPS: ReadonlySet<string> = new Set(['reverse']);

/** The panel's group of a knob: the return direction's knobs have their own. */
function groupOf(k: Pick<KnobInfo, 'group' | 'section'>): string {
  return k.section === 'reverse' ? 'reverse' : k.group;
}

const SECTION_TITLES: Record<string, string> = {
  transport: 'Transport',
  forward: 'Forward (data direction)',
  reverse: 'Reverse (ACKs and replies)',
  socket: 'Sockets',
  sim: 'Simulated receiver',
  workload: 'Workload',
};

function titleCase(s: string): string {
  return s.length === 0 ? s : s[0]!.toUpperCase() + s.slice(1);
}

/** Groups knobs for the panel, keeping the order of the list within each part. */
export function groupKnobs(knobs: readonly KnobInfo[]): KnobGroup[] {
  const order = [...GROUPS.map((g) => g.id)];
  for (const k of knobs) if (!order.includes(groupOf(k))) order.push(groupOf(k));
  const groups: KnobGroup[] = [];
  for (const id of order) {
    const mine = knobs.filter((k) => groupOf(k) === id);
    if (mine.length === 0) continue;
    const sections = [...new Set(mine.map((k) => k.section))];
    const subgroups: KnobSubgroup[] =
      sections.length === 1
        ? [{ id: `${id}-${sections[0]}`, title: null, knobs: mine }]
        : sections.map((s) => ({ id: `${id}-${s}`, title: SECTION_TITLES[s] ?? titleCase(s), knobs: mine.filter((k) => k.section === s) }));
    groups.push({ id, title: GROUPS.find((g) => g.id === id)?.title ?? titleCase(id), subgroups });
  }
  return groups;
}

/** The accessible name of a knob's control: its label, with "(reverse)" for the return direction. */
export function knobLabel(k: Pick<KnobInfo, 'label' | 'section'>): string {
  return k.section === 'reverse' ? `${k.label} (reverse)` : k.label;
}

/** The step of a number knob's spinbutton. */
export function knobStep(k: Pick<KnobInfo, 'integer' | 'unit'>): string {
  if (k.integer === true) return '1';
  if (k.unit === 'probability') return '0.001';
  return 'any';
}

/** Whether a knob matters for a workload kind: each knob says which kinds read it (the lab's workload registry). */
export function knobApplies(k: Pick<KnobInfo, 'section' | 'key' | 'workloads'>, workloadKind: string): boolean {
  return k.workloads === undefined || k.workloads.includes(workloadKind);
}

/** A spec as far as the panel reads it. */
export type SpecObject = Record<string, unknown>;

/** The spec's JSON, or null with the parse error. */
export function parseSpecJson(text: string): { spec: SpecObject; error: null } | { spec: null; error: string } {
  try {
    const v = JSON.parse(text) as unknown;
    if (typeof v !== 'object' || v === null || Array.isArray(v)) return { spec: null, error: 'the spec must be a JSON object' };
    return { spec: v as SpecObject, error: null };
  } catch (e) {
    return { spec: null, error: (e as Error).message };
  }
}

function section(spec: SpecObject, name: string): Record<string, unknown> | undefined {
  const s = spec[name];
  return typeof s === 'object' && s !== null && !Array.isArray(s) ? (s as Record<string, unknown>) : undefined;
}

/** The value a knob has in a spec: its section's, else the preset's, else the default. */
export function specKnobValue(spec: SpecObject | null, k: KnobInfo, presets: readonly PresetInfo[] = []): KnobValue {
  if (spec !== null) {
    const v = section(spec, k.section)?.[k.key];
    if (typeof v === 'number' || typeof v === 'string' || typeof v === 'boolean') return v;
    const preset = typeof spec.preset === 'string' ? presets.find((p) => p.name === spec.preset) : undefined;
    const pv = preset?.set[k.path];
    if (pv !== undefined) return pv;
  }
  return k.default;
}

/** The knob paths a spec's sweep sets (they vary from point to point). */
export function sweptKnobs(spec: SpecObject | null): Set<string> {
  const out = new Set<string>();
  const axes = spec?.sweep;
  if (!Array.isArray(axes)) return out;
  for (const a of axes as Record<string, unknown>[]) {
    if (typeof a.knob === 'string') out.add(a.knob);
    if (Array.isArray(a.knob)) for (const k of a.knob) if (typeof k === 'string') out.add(k);
    if (Array.isArray(a.points)) for (const p of a.points as { set?: Record<string, unknown> }[]) for (const k of Object.keys(p.set ?? {})) out.add(k);
  }
  return out;
}

/** The workload kind of a spec (bulk by default, as the runner has it). */
export function workloadKind(spec: SpecObject | null, knobs: readonly KnobInfo[]): string {
  const w = spec === null ? undefined : section(spec, 'workload')?.kind;
  if (typeof w === 'string') return w;
  const d = knobs.find((k) => k.path === 'workload.kind')?.default;
  return typeof d === 'string' ? d : 'bulk';
}

/** Checks a typed value against the knob; the value to use, or why it is refused. */
export function checkKnobInput(k: KnobInfo, raw: string | boolean): { ok: true; value: KnobValue } | { ok: false; error: string } {
  if (k.kind === 'boolean') return typeof raw === 'boolean' ? { ok: true, value: raw } : { ok: true, value: raw === 'true' };
  const text = String(raw).trim();
  if (k.kind === 'enum') {
    return k.values?.includes(text) === true ? { ok: true, value: text } : { ok: false, error: `must be one of ${(k.values ?? []).join(', ')}` };
  }
  if (text === '') return { ok: false, error: 'a number is needed' };
  const n = Number(text);
  if (!Number.isFinite(n)) return { ok: false, error: `"${text}" is not a number` };
  if (k.integer === true && !Number.isInteger(n)) return { ok: false, error: 'must be a whole number' };
  if (k.min !== undefined && n < k.min) return { ok: false, error: `must be at least ${k.min}` };
  if (k.max !== undefined && n > k.max) return { ok: false, error: `must be at most ${k.max}` };
  return { ok: true, value: n };
}

/** The spec's text with one knob set (the section is created when missing); 2-space JSON. */
export function setSpecKnob(text: string, path: string, value: KnobValue): string {
  const parsed = parseSpecJson(text);
  if (parsed.spec === null) throw new Error(`the spec is not valid JSON: ${parsed.error}`);
  const dot = path.indexOf('.');
  const sec = path.slice(0, dot);
  const key = path.slice(dot + 1);
  const spec = parsed.spec;
  const s = section(spec, sec) ?? {};
  s[key] = value;
  spec[sec] = s;
  return `${JSON.stringify(spec, null, 2)}\n`;
}

/** The spec's text with a top-level field set, or removed when `value` is undefined. */
export function setSpecField(text: string, field: string, value: unknown): string {
  const parsed = parseSpecJson(text);
  if (parsed.spec === null) throw new Error(`the spec is not valid JSON: ${parsed.error}`);
  const spec = parsed.spec;
  if (value === undefined) delete spec[field];
  else spec[field] = value;
  return `${JSON.stringify(spec, null, 2)}\n`;
}

/** A value sent as text in an event ("0.05", "true", "sr") as the knob's kind. */
export function valueFromText(k: KnobInfo, text: string): KnobValue {
  if (k.kind === 'number') {
    const n = Number(text);
    return Number.isFinite(n) ? n : k.default;
  }
  if (k.kind === 'boolean') return text === 'true';
  return text;
}

/** Why a knob cannot change during a run (its tooltip). */
export function notLiveReason(k: KnobInfo): string {
  return `${k.label} is set per trial and cannot change while a run goes; stop the run to change it in the spec.`;
}

/** Why a swept knob cannot change during a sweep (its tooltip). */
export function sweptLockReason(k: KnobInfo): string {
  return `${k.label} is what this sweep varies: it cannot change by hand while the sweep runs. Explore one point to steer it.`;
}

/** A sweep point as people read it: "Window (packets) 16, Loss rate 0.05" (knob labels where the axis is a knob). */
export function pointLabel(index: number, axes: Record<string, KnobValue>, knobs: readonly KnobInfo[]): string {
  const parts = Object.entries(axes).map(([name, v]) => `${knobs.find((k) => k.path === name)?.label ?? name} ${String(v)}`);
  return parts.length === 0 ? `Point ${index}` : `${index}: ${parts.join(', ')}`;
}
