// XDR codecs built at run time from a parsed .x file, and the JSON form of XDR values: what the
// generic client (`packetlab rpc call --x FILE.x`) uses to encode arguments it has never seen a
// stub for. The values are the same as those of generated code (docs/rpc.md, "XDR in TypeScript"),
// and a test checks that both encode every example alike.

import { resolveType, minBytesOf, type EnumDef, type Field, type ProcedureDef, type StructDef, type UnionDef, type XType, type XdrSpec } from './spec.js';
import { XdrEncodeError, type XdrCodec } from './xdr.js';

/** A JSON value that does not fit the declared type; the message names the place (args.items[2].key). */
export class JsonValueError extends Error {}

type Resolved = ReturnType<typeof resolveType>;

/** Builds codecs for the types of one spec (memoized; recursive types work through lazy references). */
export class DynamicCodecs {
  private readonly byName = new Map<string, XdrCodec<unknown>>();

  constructor(readonly spec: XdrSpec) {}

  /** The codec of a type. */
  codec(t: XType): XdrCodec<unknown> {
    if (t.kind === 'ref') return this.named(t.name);
    return this.build(t, t.kind);
  }

  /** The codec of a named type. */
  named(name: string): XdrCodec<unknown> {
    const have = this.byName.get(name);
    if (have !== undefined) return have;
    const def = this.spec.typeByName.get(name);
    if (def === undefined) throw new Error(`unknown type ${name}`);
    // Registered before it is built, so that a recursive reference finds it.
    const lazy: { inner: XdrCodec<unknown> | null } = { inner: null };
    const proxy: XdrCodec<unknown> = {
      minBytes: minBytesOf(this.spec, { kind: 'ref', name }),
      encode: (w, v) => lazy.inner!.encode(w, v),
      decode: (r) => lazy.inner!.decode(r),
    };
    this.byName.set(name, proxy);
    if (def.kind === 'typedef') lazy.inner = this.codec(def.type);
    else if (def.kind === 'enum') lazy.inner = this.enumCodec(def);
    else if (def.kind === 'struct') lazy.inner = this.structCodec(def);
    else lazy.inner = this.unionCodec(def);
    return proxy;
  }

  /** Codec of a procedure's arguments: the one argument, nothing for void, or a tuple for several. */
  args(p: ProcedureDef): XdrCodec<unknown> {
    if (p.args.length === 0) return this.codec({ kind: 'void' });
    if (p.args.length === 1) return this.codec(p.args[0]!);
    const parts = p.args.map((a) => this.codec(a));
    return {
      minBytes: parts.reduce((s, c) => s + c.minBytes, 0),
      encode: (w, v) => {
        const a = v as unknown[];
        if (!Array.isArray(a) || a.length !== parts.length) throw new XdrEncodeError(`${p.name}: expected ${parts.length} arguments`);
        parts.forEach((c, i) => c.encode(w, a[i]));
      },
      decode: (r) => parts.map((c) => c.decode(r)),
    };
  }

  private build(t: XType, what: string): XdrCodec<unknown> {
    switch (t.kind) {
      case 'void':
        return { minBytes: 0, encode: () => {}, decode: () => undefined };
      case 'int':
        return { minBytes: 4, encode: (w, v) => w.int(v as number, what), decode: (r) => r.int(what) };
      case 'uint':
        return { minBytes: 4, encode: (w, v) => w.uint(v as number, what), decode: (r) => r.uint(what) };
      case 'hyper':
        return { minBytes: 8, encode: (w, v) => w.hyper(v as bigint, what), decode: (r) => r.hyper(what) };
      case 'uhyper':
        return { minBytes: 8, encode: (w, v) => w.uhyper(v as bigint, what), decode: (r) => r.uhyper(what) };
      case 'bool':
        return { minBytes: 4, encode: (w, v) => w.bool(v as boolean, what), decode: (r) => r.bool(what) };
      case 'float':
        return { minBytes: 4, encode: (w, v) => w.float(v as number, what), decode: (r) => r.float(what) };
      case 'double':
        return { minBytes: 8, encode: (w, v) => w.double(v as number, what), decode: (r) => r.double(what) };
      case 'fixedOpaque': {
        const n = t.length;
        return { minBytes: n + ((4 - (n & 3)) & 3), encode: (w, v) => w.fixedOpaque(v as Uint8Array, n, what), decode: (r) => r.fixedOpaque(n, what) };
      }
      case 'varOpaque': {
        const max = t.max;
        return { minBytes: 4, encode: (w, v) => w.varOpaque(v as Uint8Array, max, what), decode: (r) => r.varOpaque(max, what) };
      }
      case 'string': {
        const max = t.max;
        return { minBytes: 4, encode: (w, v) => w.string(v as string, max, what), decode: (r) => r.string(max, what) };
      }
      case 'fixedArray': {
        const el = this.codec(t.element);
        const n = t.length;
        return {
          minBytes: n * el.minBytes,
          encode: (w, v) => {
            const a = v as unknown[];
            w.fixedArrayLength(a, n, what);
            for (let i = 0; i < n; i++) el.encode(w, a[i]);
          },
          decode: (r) => {
            const out: unknown[] = [];
            for (let i = 0; i < n && r.error === null; i++) out.push(el.decode(r));
            return out;
          },
        };
      }
      case 'varArray': {
        const el = this.codec(t.element);
        const max = t.max;
        return {
          minBytes: 4,
          encode: (w, v) => {
            const a = v as unknown[];
            const n = w.arrayLength(a, max, what);
            if (n === 0) return;
            w.enter(what);
            for (let i = 0; i < n; i++) el.encode(w, a[i]);
            w.leave();
          },
          decode: (r) => {
            const n = r.arrayLength(max, el.minBytes, what);
            const out: unknown[] = [];
            if (n <= 0 || !r.enter(what)) return out;
            for (let i = 0; i < n && r.error === null; i++) out.push(el.decode(r));
            r.leave();
            return out;
          },
        };
      }
      case 'optional': {
        const el = this.codec(t.element);
        return {
          minBytes: 4,
          encode: (w, v) => {
            if (!w.optional(v)) return;
            w.enter(what);
            el.encode(w, v);
            w.leave();
          },
          decode: (r) => {
            if (!r.optional(what)) return null;
            const v = el.decode(r);
            r.leave();
            return v;
          },
        };
      }
      case 'ref':
        return this.named(t.name);
    }
  }

  private enumCodec(def: EnumDef): XdrCodec<unknown> {
    const values = new Set(def.members.map((m) => m.value));
    const what = `enum ${def.name}`;
    return {
      minBytes: 4,
      encode: (w, v) => w.enumValue(v as number, values.has(v as number), what),
      decode: (r) => {
        const v = r.int(what);
        if (r.error === null && !values.has(v)) r.fail(`${what}: ${v} is not one of its values`);
        return v;
      },
    };
  }

  private structCodec(def: StructDef): XdrCodec<unknown> {
    const fields = def.fields.map((f) => ({ name: f.name, codec: this.build(f.type, `${def.name}.${f.name}`) }));
    return {
      minBytes: minBytesOf(this.spec, { kind: 'ref', name: def.name }),
      encode: (w, v) => {
        w.object(v, `struct ${def.name}`);
        const o = v as Record<string, unknown>;
        for (const f of fields) f.codec.encode(w, o[f.name]);
      },
      decode: (r) => {
        const o: Record<string, unknown> = {};
        for (const f of fields) {
          o[f.name] = f.codec.decode(r);
          if (r.error !== null) break;
        }
        return o;
      },
    };
  }

  private unionCodec(def: UnionDef): XdrCodec<unknown> {
    const disc = resolveType(this.spec, def.discriminant.type);
    const discCodec = this.build(def.discriminant.type, `${def.name}.${def.discriminant.name}`);
    const isBool = disc.kind === 'bool';
    const arms = new Map<number, { name: string; codec: XdrCodec<unknown> } | null>();
    for (const a of def.arms) {
      const arm = a.field === null ? null : { name: a.field.name, codec: this.build(a.field.type, `${def.name}.${a.field.name}`) };
      for (const v of a.values) arms.set(v, arm);
    }
    const dflt = def.defaultArm === undefined ? undefined : def.defaultArm === null ? null : { name: def.defaultArm.name, codec: this.build(def.defaultArm.type, `${def.name}.${def.defaultArm.name}`) };
    const dname = def.discriminant.name;
    return {
      minBytes: minBytesOf(this.spec, { kind: 'ref', name: def.name }),
      encode: (w, v) => {
        w.object(v, `union ${def.name}`);
        const o = v as Record<string, unknown>;
        const d = o[dname];
        const key = isBool ? (d === true ? 1 : d === false ? 0 : Number.NaN) : (d as number);
        let arm = arms.get(key);
        if (arm === undefined) {
          if (dflt === undefined) throw new XdrEncodeError(`union ${def.name}: ${dname} = ${String(d)} has no arm and there is no default`);
          arm = dflt;
        }
        discCodec.encode(w, d);
        if (arm !== null) arm.codec.encode(w, o[arm.name]);
      },
      decode: (r) => {
        const d = discCodec.decode(r);
        if (r.error !== null) return {};
        const key = isBool ? (d ? 1 : 0) : (d as number);
        let arm = arms.get(key);
        if (arm === undefined) {
          if (dflt === undefined) {
            r.fail(`union ${def.name}: ${dname} = ${key} has no arm`);
            return {};
          }
          arm = dflt;
        }
        const o: Record<string, unknown> = { [dname]: d };
        if (arm !== null) o[arm.name] = arm.codec.decode(r);
        return o;
      },
    };
  }
}

// ---------------------------------------------------------------- JSON

function fail(path: string, message: string): never {
  throw new JsonValueError(`${path}: ${message}`);
}

function typeName(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  return typeof v === 'object' ? 'an object' : `${typeof v} ${JSON.stringify(v)}`;
}

const HEX = /^(?:[0-9a-fA-F]{2})*$/;

/** Converts parsed JSON to the XDR value of a type, checking everything; errors name the path. */
export function jsonToValue(spec: XdrSpec, t: XType, json: unknown, path: string): unknown {
  const r = resolveType(spec, t);
  return fromJson(spec, r, json, path);
}

function fromJson(spec: XdrSpec, r: Resolved, json: unknown, path: string): unknown {
  switch (r.kind) {
    case 'void':
      if (json !== undefined && json !== null) fail(path, 'void takes no value');
      return undefined;
    case 'int':
    case 'uint': {
      if (typeof json !== 'number' || !Number.isInteger(json)) fail(path, `expected ${r.kind === 'int' ? 'an int' : 'an unsigned int'}, got ${typeName(json)}`);
      const ok = r.kind === 'int' ? json >= -0x80000000 && json <= 0x7fffffff : json >= 0 && json <= 0xffffffff;
      if (!ok) fail(path, `${json} is outside the range of ${r.kind === 'int' ? 'int (-2147483648..2147483647)' : 'unsigned int (0..4294967295)'}`);
      return json;
    }
    case 'hyper':
    case 'uhyper': {
      let v: bigint;
      if (typeof json === 'number' && Number.isSafeInteger(json)) v = BigInt(json);
      else if (typeof json === 'string' && /^-?\d+$/.test(json)) v = BigInt(json);
      else fail(path, `expected ${r.kind === 'hyper' ? 'a hyper' : 'an unsigned hyper'} (a whole number, or a string of digits beyond 2^53), got ${typeName(json)}`);
      const ok = r.kind === 'hyper' ? v >= -(2n ** 63n) && v < 2n ** 63n : v >= 0n && v < 2n ** 64n;
      if (!ok) fail(path, `${v} is outside the range of ${r.kind === 'hyper' ? 'hyper' : 'unsigned hyper'}`);
      return v;
    }
    case 'bool':
      if (typeof json !== 'boolean') fail(path, `expected true or false, got ${typeName(json)}`);
      return json;
    case 'float':
    case 'double':
      if (typeof json === 'number') return r.kind === 'float' ? Math.fround(json) : json;
      if (json === 'NaN') return Number.NaN;
      if (json === 'Infinity') return Number.POSITIVE_INFINITY;
      if (json === '-Infinity') return Number.NEGATIVE_INFINITY;
      if (json === '-0') return -0;
      return fail(path, `expected a number (or "NaN", "Infinity", "-Infinity", "-0"), got ${typeName(json)}`);
    case 'fixedOpaque':
    case 'varOpaque': {
      if (typeof json !== 'string' || !HEX.test(json)) fail(path, `expected opaque data as a hex string such as "00ff", got ${typeName(json)}`);
      const bytes = Uint8Array.from(Buffer.from(json, 'hex'));
      if (r.kind === 'fixedOpaque' && bytes.length !== r.length) fail(path, `expected exactly ${r.length} bytes, got ${bytes.length}`);
      if (r.kind === 'varOpaque' && bytes.length > r.max) fail(path, `${bytes.length} bytes exceed the maximum of ${r.max}`);
      return bytes;
    }
    case 'string': {
      if (typeof json !== 'string') fail(path, `expected a string, got ${typeName(json)}`);
      const n = Buffer.byteLength(json, 'utf8');
      if (n > r.max) fail(path, `the string has ${n} bytes, more than the maximum of ${r.max}`);
      return json;
    }
    case 'fixedArray':
    case 'varArray': {
      if (!Array.isArray(json)) fail(path, `expected an array, got ${typeName(json)}`);
      if (r.kind === 'fixedArray' && json.length !== r.length) fail(path, `expected exactly ${r.length} elements, got ${json.length}`);
      if (r.kind === 'varArray' && json.length > r.max) fail(path, `${json.length} elements exceed the maximum of ${r.max}`);
      return json.map((e, i) => jsonToValue(spec, r.element, e, `${path}[${i}]`));
    }
    case 'optional':
      if (json === null || json === undefined) return null;
      return jsonToValue(spec, r.element, json, path);
    case 'enum': {
      const byName = r.members.find((m) => m.name === json);
      if (byName !== undefined) return byName.value;
      if (typeof json === 'number' && r.members.some((m) => m.value === json)) return json;
      return fail(path, `expected a value of the enum ${r.name} (${r.members.map((m) => m.name).join(', ')}), got ${typeName(json)}`);
    }
    case 'struct': {
      if (typeof json !== 'object' || json === null || Array.isArray(json)) fail(path, `expected an object for struct ${r.name} with members ${r.fields.map((f) => f.name).join(', ')}, got ${typeName(json)}`);
      const o = json as Record<string, unknown>;
      for (const k of Object.keys(o)) {
        if (!r.fields.some((f) => f.name === k)) fail(path, `struct ${r.name} has no member "${k}" (members: ${r.fields.map((f) => f.name).join(', ')})`);
      }
      const out: Record<string, unknown> = {};
      for (const f of r.fields) {
        if (!(f.name in o) && resolveType(spec, f.type).kind !== 'optional') fail(path, `struct ${r.name} needs member "${f.name}"`);
        out[f.name] = jsonToValue(spec, f.type, o[f.name], `${path}.${f.name}`);
      }
      return out;
    }
    case 'union':
      return unionFromJson(spec, r, json, path);
    case 'ref':
      return jsonToValue(spec, r, json, path);
  }
}

function unionArmFor(u: UnionDef, disc: unknown): Field | null | undefined {
  const key = disc === true ? 1 : disc === false ? 0 : (disc as number);
  const arm = u.arms.find((a) => a.values.includes(key));
  if (arm !== undefined) return arm.field;
  return u.defaultArm;
}

function unionFromJson(spec: XdrSpec, u: UnionDef, json: unknown, path: string): unknown {
  const dn = u.discriminant.name;
  if (typeof json !== 'object' || json === null || Array.isArray(json)) fail(path, `expected an object for union ${u.name} such as {"${dn}": ..., ...}, got ${typeName(json)}`);
  const o = json as Record<string, unknown>;
  if (!(dn in o)) fail(path, `union ${u.name} needs its discriminant "${dn}"`);
  const d = jsonToValue(spec, u.discriminant.type, o[dn], `${path}.${dn}`);
  const arm = unionArmFor(u, d);
  if (arm === undefined) fail(`${path}.${dn}`, `${JSON.stringify(o[dn])} selects no arm of union ${u.name} and it has no default`);
  const out: Record<string, unknown> = { [dn]: d };
  for (const k of Object.keys(o)) {
    if (k !== dn && (arm === null || k !== arm.name)) fail(path, `union ${u.name} with ${dn} = ${JSON.stringify(o[dn])} has ${arm === null ? 'no value (void arm)' : `only the member "${arm.name}"`}, not "${k}"`);
  }
  if (arm !== null) {
    if (!(arm.name in o) && resolveType(spec, arm.type).kind !== 'optional') fail(path, `union ${u.name} with ${dn} = ${JSON.stringify(o[dn])} needs member "${arm.name}"`);
    out[arm.name] = jsonToValue(spec, arm.type, o[arm.name], `${path}.${arm.name}`);
  }
  return out;
}

/** Converts an XDR value to JSON: enums by name, hypers as strings, opaque as hex, non-finite floats and -0 as strings. */
export function valueToJson(spec: XdrSpec, t: XType, v: unknown): unknown {
  const r = resolveType(spec, t);
  switch (r.kind) {
    case 'void':
      return null;
    case 'hyper':
    case 'uhyper':
      return (v as bigint).toString();
    case 'float':
    case 'double': {
      const n = v as number;
      // JSON has no NaN, infinities or negative zero: those travel as strings.
      if (Object.is(n, -0)) return '-0';
      return Number.isFinite(n) ? n : String(n);
    }
    case 'fixedOpaque':
    case 'varOpaque':
      return Buffer.from(v as Uint8Array).toString('hex');
    case 'fixedArray':
    case 'varArray':
      return (v as unknown[]).map((e) => valueToJson(spec, r.element, e));
    case 'optional':
      return v === null ? null : valueToJson(spec, r.element, v);
    case 'enum':
      return r.members.find((m) => m.value === v)?.name ?? v;
    case 'struct': {
      const o = v as Record<string, unknown>;
      const out: Record<string, unknown> = {};
      for (const f of r.fields) out[f.name] = valueToJson(spec, f.type, o[f.name]);
      return out;
    }
    case 'union': {
      const o = v as Record<string, unknown>;
      const dn = r.discriminant.name;
      const out: Record<string, unknown> = { [dn]: valueToJson(spec, r.discriminant.type, o[dn]) };
      const arm = unionArmFor(r, o[dn]);
      if (arm) out[arm.name] = valueToJson(spec, arm.type, o[arm.name]);
      return out;
    }
    default:
      return v;
  }
}
