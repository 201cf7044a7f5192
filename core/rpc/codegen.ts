// The stub generator behind `packetlab rpcgen`: one TypeScript module per .x file with the types,
// their XDR codecs (straight-line code, the way rpcgen writes xdr_*.c), a typed client class per
// program version (the client stub: one async method per procedure) and a handler interface with
// a registration helper (the server stub). docs/rpc.md lists the mapping of XDR to TypeScript.
//
// Names: types become PascalCase (kv_entry -> KvEntry) with codecs named xdrKvEntry; procedures
// become camelCase methods (KV_PUT -> kvPut); constants, programs and versions keep their names.

import { minBytesOf, resolveType, type EnumDef, type ProcedureDef, type ProgramDef, type StructDef, type TypeDef, type UnionDef, type VersionDef, type XType, type XdrSpec } from './spec.js';

/** Options of the generator. */
export interface CodegenOptions {
  /** Module specifier the generated code imports the run-time library from. */
  runtimeImport: string;
}

/** A name clash or another reason the spec cannot become TypeScript. */
export class CodegenError extends Error {}

const RESERVED_TYPE_NAMES = new Set([
  'Array', 'Uint8Array', 'Promise', 'Record', 'String', 'Number', 'Boolean', 'BigInt', 'Object', 'Error', 'Map', 'Set', 'XdrCodec', 'XdrReader', 'XdrWriter', 'XdrEncodeError', 'ProcedureDescriptor', 'RpcCaller', 'CallOptions', 'RpcProgramVersion', 'RpcCallContext', 'HandlerResult', 'ProgramVersionId',
]);
const RESERVED_METHODS = new Set(['constructor', 'rpc', 'call', 'then', 'toString', 'valueOf', 'hasOwnProperty']);

function words(name: string): string[] {
  return name
    .replace(/([a-z0-9])([A-Z])/g, '$1_$2')
    .split(/_+/)
    .filter((w) => w.length > 0);
}

/** kv_entry -> KvEntry, KV_PROG -> KvProg. */
export function pascalCase(name: string): string {
  const w = words(name);
  if (w.length === 0) return '_';
  const out = w.map((x) => x[0]!.toUpperCase() + x.slice(1).toLowerCase()).join('');
  return /^[0-9]/.test(out) ? `_${out}` : out;
}

/** KV_PUT -> kvPut. */
export function camelCase(name: string): string {
  const p = pascalCase(name);
  return p[0]!.toLowerCase() + p.slice(1);
}

class Emitter {
  private readonly lines: string[] = [];
  private depth = 0;

  line(text = ''): void {
    this.lines.push(text === '' ? '' : `${'  '.repeat(this.depth)}${text}`);
  }

  open(text: string): void {
    this.line(text);
    this.depth++;
  }

  close(text = '}'): void {
    this.depth--;
    this.line(text);
  }

  all(ls: readonly string[]): void {
    for (const l of ls) this.line(l);
  }

  toString(): string {
    return `${this.lines.join('\n')}\n`;
  }
}

function lit(s: string): string {
  return `'${s.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
}

function num(n: number): string {
  return n > 0xffff && n >>> 0 === n ? `0x${n.toString(16)}` : String(n);
}

class Generator {
  private readonly typeNames = new Map<string, string>();
  private readonly out = new Emitter();

  constructor(
    private readonly spec: XdrSpec,
    private readonly opts: CodegenOptions,
  ) {
    const taken = new Map<string, string>();
    const claim = (ts: string, what: string) => {
      const prev = taken.get(ts);
      if (prev !== undefined) throw new CodegenError(`${what} and ${prev} both become ${ts} in TypeScript; rename one of them`);
      taken.set(ts, what);
    };
    for (const t of spec.types) {
      let n = pascalCase(t.name);
      if (RESERVED_TYPE_NAMES.has(n)) n = `${n}_`;
      claim(n, `type ${t.name}`);
      claim(`xdr${n}`, `type ${t.name}`);
      this.typeNames.set(t.name, n);
    }
    for (const c of spec.consts) claim(c.name, `const ${c.name}`);
    for (const p of spec.programs) {
      claim(p.name, `program ${p.name}`);
      for (const v of p.versions) {
        if (!taken.has(v.name) || taken.get(v.name)!.startsWith('version')) taken.set(v.name, `version ${v.name}`);
        const base = this.versionBase(p, v);
        claim(base, `program ${p.name} version ${v.number}`);
        claim(`${base}Client`, `program ${p.name} version ${v.number}`);
        claim(`${base}Handlers`, `program ${p.name} version ${v.number}`);
        const methods = new Map<string, string>();
        for (const pr of v.procedures) {
          const m = this.methodName(pr);
          const prev = methods.get(m);
          if (prev !== undefined) throw new CodegenError(`procedures ${prev} and ${pr.name} both become the method ${m}; rename one of them`);
          methods.set(m, pr.name);
        }
      }
    }
  }

  private versionBase(p: ProgramDef, v: VersionDef): string {
    return `${pascalCase(p.name)}V${v.number}`;
  }

  private methodName(p: ProcedureDef): string {
    const m = camelCase(p.name);
    return RESERVED_METHODS.has(m) ? `${m}_` : m;
  }

  private where(pos: { file?: string; line: number }): string {
    // The file's base name only: generated code must not depend on where it was generated from.
    const file = (pos.file ?? this.spec.fileName).replace(/^.*[\\/]/, '');
    // Line 0: a type no .x declares, supplied as libtirpc's XDR routine encodes it.
    return pos.line === 0 ? `from ${file}` : `${file}:${pos.line}`;
  }

  // ---------------------------------------------------------------- types

  private ts(t: XType): string {
    switch (t.kind) {
      case 'int':
      case 'uint':
      case 'float':
      case 'double':
        return 'number';
      case 'hyper':
      case 'uhyper':
        return 'bigint';
      case 'bool':
        return 'boolean';
      case 'void':
        return 'void';
      case 'fixedOpaque':
      case 'varOpaque':
        return 'Uint8Array';
      case 'string':
        return 'string';
      case 'fixedArray':
      case 'varArray': {
        const e = this.ts(t.element);
        return /[ |]/.test(e) ? `(${e})[]` : `${e}[]`;
      }
      case 'optional':
        return `${this.ts(t.element)} | null`;
      case 'ref':
        return this.typeNames.get(t.name)!;
    }
  }

  private codecOf(name: string): string {
    return `xdr${this.typeNames.get(name)!}`;
  }

  /** Statements that encode expression `v` of type `t`. */
  private enc(t: XType, v: string, label: string, d: number): string[] {
    const L = lit(label);
    switch (t.kind) {
      case 'void':
        return [];
      case 'int':
        return [`w.int(${v}, ${L});`];
      case 'uint':
        return [`w.uint(${v}, ${L});`];
      case 'hyper':
        return [`w.hyper(${v}, ${L});`];
      case 'uhyper':
        return [`w.uhyper(${v}, ${L});`];
      case 'bool':
        return [`w.bool(${v}, ${L});`];
      case 'float':
        return [`w.float(${v}, ${L});`];
      case 'double':
        return [`w.double(${v}, ${L});`];
      case 'fixedOpaque':
        return [`w.fixedOpaque(${v}, ${t.length}, ${L});`];
      case 'varOpaque':
        return [`w.varOpaque(${v}, ${num(t.max)}, ${L});`];
      case 'string':
        return [`w.string(${v}, ${num(t.max)}, ${L});`];
      case 'fixedArray':
      case 'varArray': {
        const a = `a${d}`;
        const i = `i${d}`;
        const n = `n${d}`;
        const head = t.kind === 'fixedArray' ? `const ${n} = w.fixedArrayLength(${a}, ${t.length}, ${L});` : `const ${n} = w.arrayLength(${a}, ${num(t.max)}, ${L});`;
        const loop = [`for (let ${i} = 0; ${i} < ${n}; ${i}++) {`, ...this.enc(t.element, `${a}[${i}]!`, `${label}[]`, d + 1).map((l) => `  ${l}`), '}'];
        // A non-empty variable-length array is one level of nesting, as the decoder counts it.
        if (t.kind === 'fixedArray') return ['{', `  const ${a} = ${v};`, `  ${head}`, ...loop.map((l) => `  ${l}`), '}'];
        return ['{', `  const ${a} = ${v};`, `  ${head}`, `  if (${n} > 0) {`, `    w.enter(${L});`, ...loop.map((l) => `    ${l}`), '    w.leave();', '  }', '}'];
      }
      case 'optional': {
        const o = `o${d}`;
        return ['{', `  const ${o} = ${v};`, `  if (${o} === null || ${o} === undefined) w.word(0);`, '  else {', '    w.word(1);', `    w.enter(${L});`, ...this.enc(t.element, o, label, d + 1).map((l) => `    ${l}`), '    w.leave();', '  }', '}'];
      }
      case 'ref':
        return [`${this.codecOf(t.name)}.encode(w, ${v});`];
    }
  }

  /** Statements that decode a value of type `t` into a new constant `target`. */
  private dec(t: XType, target: string, label: string, d: number): string[] {
    const L = lit(label);
    switch (t.kind) {
      case 'void':
        return [`const ${target} = undefined;`];
      case 'int':
        return [`const ${target} = r.int(${L});`];
      case 'uint':
        return [`const ${target} = r.uint(${L});`];
      case 'hyper':
        return [`const ${target} = r.hyper(${L});`];
      case 'uhyper':
        return [`const ${target} = r.uhyper(${L});`];
      case 'bool':
        return [`const ${target} = r.bool(${L});`];
      case 'float':
        return [`const ${target} = r.float(${L});`];
      case 'double':
        return [`const ${target} = r.double(${L});`];
      case 'fixedOpaque':
        return [`const ${target} = r.fixedOpaque(${t.length}, ${L});`];
      case 'varOpaque':
        return [`const ${target} = r.varOpaque(${num(t.max)}, ${L});`];
      case 'string':
        return [`const ${target} = r.string(${num(t.max)}, ${L});`];
      case 'fixedArray': {
        const i = `${target}i`;
        const e = `${target}e`;
        return [`const ${target}: ${this.ts(t)} = [];`, `for (let ${i} = 0; ${i} < ${t.length} && r.error === null; ${i}++) {`, ...this.dec(t.element, e, `${label}[]`, d + 1).map((l) => `  ${l}`), `  ${target}.push(${e});`, '}'];
      }
      case 'varArray': {
        const i = `${target}i`;
        const e = `${target}e`;
        const n = `${target}n`;
        const min = minBytesOf(this.spec, t.element);
        return [
          `const ${target}: ${this.ts(t)} = [];`,
          `const ${n} = r.arrayLength(${num(t.max)}, ${min}, ${L});`,
          `if (${n} > 0 && r.enter(${L})) {`,
          `  for (let ${i} = 0; ${i} < ${n} && r.error === null; ${i}++) {`,
          ...this.dec(t.element, e, `${label}[]`, d + 1).map((l) => `    ${l}`),
          `    ${target}.push(${e});`,
          '  }',
          '  r.leave();',
          '}',
        ];
      }
      case 'optional': {
        const e = `${target}e`;
        return [`let ${target}: ${this.ts(t)} = null;`, `if (r.optional(${L})) {`, ...this.dec(t.element, e, label, d + 1).map((l) => `  ${l}`), `  ${target} = ${e};`, '  r.leave();', '}'];
      }
      case 'ref':
        return [`const ${target} = ${this.codecOf(t.name)}.decode(r);`];
    }
  }

  // ---------------------------------------------------------------- definitions

  generate(): string {
    const o = this.out;
    for (const c of this.spec.consts) {
      o.line();
      o.line(`/** const ${c.name} (${this.where(c.pos)}). */`);
      o.line(`export const ${c.name} = ${typeof c.value === 'string' ? lit(c.value) : num(c.value)};`);
    }
    for (const t of this.spec.types) {
      o.line();
      this.typeDef(t);
    }
    for (const p of this.spec.programs) this.program(p);
    const body = o.toString();
    // Import exactly what the body uses, so the module compiles under noUnusedLocals too.
    const used = (name: string) => new RegExp(`\\b${name}\\b`).test(body);
    const values = ['XdrEncodeError', 'serverProcedure', 'xdrVoid'].filter(used);
    const types = ['CallOptions', 'HandlerResult', 'ProcedureDescriptor', 'RpcCallContext', 'RpcCaller', 'RpcProgramVersion', 'XdrCodec', 'XdrReader', 'XdrWriter'].filter(used);
    const base = this.spec.fileName.replace(/^.*[\\/]/, '');
    const head = [
      `// Code generated by packetlab rpcgen from ${base}. DO NOT EDIT.`,
      '//',
      `// Types, XDR codecs, client and server stubs of ${base} (docs/rpc.md). Regenerate with`,
      `// \`packetlab rpcgen ${base} --out <dir>\`.`,
      '',
    ];
    if (values.length > 0) head.push(`import { ${values.join(', ')} } from ${lit(this.opts.runtimeImport)};`);
    if (types.length > 0) head.push(`import type { ${types.join(', ')} } from ${lit(this.opts.runtimeImport)};`);
    return `${head.join('\n')}\n${body}`;
  }

  private typeDef(t: TypeDef): void {
    switch (t.kind) {
      case 'enum':
        return this.enumDef(t);
      case 'struct':
        return this.structDef(t);
      case 'union':
        return this.unionDef(t);
      case 'typedef': {
        const o = this.out;
        const n = this.typeNames.get(t.name)!;
        o.line(`/** typedef ${t.name} (${this.where(t.pos)}). */`);
        o.line(`export type ${n} = ${this.ts(t.type)};`);
        o.line(`/** XDR codec of ${t.name}. */`);
        o.open(`export const xdr${n}: XdrCodec<${n}> = {`);
        o.line(`minBytes: ${minBytesOf(this.spec, t.type)},`);
        o.open(`encode(w: XdrWriter, v: ${n}): void {`);
        o.all(this.enc(t.type, 'v', t.name, 0));
        o.close('},');
        o.open(`decode(r: XdrReader): ${n} {`);
        o.all(this.dec(t.type, 'v', t.name, 0));
        o.line('return v;');
        o.close('},');
        o.close('};');
      }
    }
  }

  private enumDef(t: EnumDef): void {
    const o = this.out;
    const n = this.typeNames.get(t.name)!;
    o.line(`/** enum ${t.name} (${this.where(t.pos)}): its members by name. */`);
    o.open(`export const ${n} = {`);
    for (const m of t.members) o.line(`${m.name}: ${m.value},`);
    o.close('} as const;');
    o.line(`/** A value of enum ${t.name}. */`);
    o.line(`export type ${n} = (typeof ${n})[keyof typeof ${n}];`);
    o.line(`/** True when \`v\` is a declared value of enum ${t.name}. */`);
    o.open(`export function is${n}(v: number): v is ${n} {`);
    o.open('switch (v) {');
    // Members may share a value (rpcgen allows it); each value is one case.
    for (const value of new Set(t.members.map((m) => m.value))) o.line(`case ${value}:`);
    o.line('  return true;');
    o.line('default:');
    o.line('  return false;');
    o.close();
    o.close();
    o.line(`/** XDR codec of enum ${t.name} (RFC 4506 (4.3): only declared values are valid). */`);
    o.open(`export const xdr${n}: XdrCodec<${n}> = {`);
    o.line('minBytes: 4,');
    o.open(`encode(w: XdrWriter, v: ${n}): void {`);
    o.line(`w.enumValue(v, is${n}(v), ${lit(`enum ${t.name}`)});`);
    o.close('},');
    o.open(`decode(r: XdrReader): ${n} {`);
    o.line(`const v = r.int(${lit(`enum ${t.name}`)});`);
    o.line(`if (r.error === null && !is${n}(v)) r.fail(\`enum ${t.name}: \${v} is not one of its values\`);`);
    o.line(`return v as ${n};`);
    o.close('},');
    o.close('};');
  }

  private structDef(t: StructDef): void {
    const o = this.out;
    const n = this.typeNames.get(t.name)!;
    o.line(`/** struct ${t.name} (${this.where(t.pos)}). */`);
    o.open(`export interface ${n} {`);
    for (const f of t.fields) o.line(`${f.name}: ${this.ts(f.type)};`);
    o.close();
    o.line(`/** XDR codec of struct ${t.name}. */`);
    o.open(`export const xdr${n}: XdrCodec<${n}> = {`);
    o.line(`minBytes: ${minBytesOf(this.spec, { kind: 'ref', name: t.name })},`);
    o.open(`encode(w: XdrWriter, v: ${n}): void {`);
    o.line(`w.object(v, ${lit(`struct ${t.name}`)});`);
    for (const f of t.fields) o.all(this.enc(f.type, `v.${f.name}`, `${t.name}.${f.name}`, 0));
    o.close('},');
    o.open(`decode(r: XdrReader): ${n} {`);
    t.fields.forEach((f, i) => o.all(this.dec(f.type, `m${i}`, `${t.name}.${f.name}`, 0)));
    o.line(`return { ${t.fields.map((f, i) => `${f.name}: m${i}`).join(', ')} };`);
    o.close('},');
    o.close('};');
  }

  private unionDef(t: UnionDef): void {
    const o = this.out;
    const n = this.typeNames.get(t.name)!;
    const disc = resolveType(this.spec, t.discriminant.type);
    const dn = t.discriminant.name;
    const enumDef = disc.kind === 'enum' ? disc : null;
    const isBool = disc.kind === 'bool';
    const tagOf = (v: number): string => {
      if (isBool) return v ? 'true' : 'false';
      if (enumDef !== null) {
        const m = enumDef.members.find((x) => x.value === v)!;
        return `typeof ${this.typeNames.get(enumDef.name)!}.${m.name}`;
      }
      return String(v);
    };
    const variants: string[] = [];
    for (const a of t.arms) {
      const tag = a.values.map(tagOf).join(' | ');
      variants.push(a.field === null ? `{ ${dn}: ${tag} }` : `{ ${dn}: ${tag}; ${a.field.name}: ${this.ts(a.field.type)} }`);
    }
    const covered = new Set(t.arms.flatMap((a) => a.values));
    if (t.defaultArm !== undefined) {
      let tag: string | null;
      if (enumDef !== null) {
        const rest = enumDef.members.filter((m) => !covered.has(m.value)).map((m) => tagOf(m.value));
        tag = rest.length === 0 ? null : rest.join(' | ');
      } else if (isBool) {
        const rest = [0, 1].filter((v) => !covered.has(v)).map(tagOf);
        tag = rest.length === 0 ? null : rest.join(' | ');
      } else {
        tag = 'number';
      }
      if (tag !== null) variants.push(t.defaultArm === null ? `{ ${dn}: ${tag} }` : `{ ${dn}: ${tag}; ${t.defaultArm.name}: ${this.ts(t.defaultArm.type)} }`);
    }
    o.line(`/** union ${t.name} switch (${dn}) (${this.where(t.pos)}). */`);
    o.line(`export type ${n} =`);
    variants.forEach((v, i) => o.line(`  | ${v}${i === variants.length - 1 ? ';' : ''}`));
    const discEnc = this.enc(t.discriminant.type, `v.${dn}`, `${t.name}.${dn}`, 0);
    const caseLabel = (v: number) => (isBool ? (v ? 'true' : 'false') : String(v));
    o.line(`/** XDR codec of union ${t.name}. */`);
    o.open(`export const xdr${n}: XdrCodec<${n}> = {`);
    o.line(`minBytes: ${minBytesOf(this.spec, { kind: 'ref', name: t.name })},`);
    o.open(`encode(w: XdrWriter, v: ${n}): void {`);
    o.line(`w.object(v, ${lit(`union ${t.name}`)});`);
    o.all(discEnc);
    o.open(`switch (v.${dn}) {`);
    for (const a of t.arms) {
      for (const v of a.values) o.line(`case ${caseLabel(v)}:`);
      if (a.field !== null) o.all(this.enc(a.field.type, `(v as { ${a.field.name}: ${this.ts(a.field.type)} }).${a.field.name}`, `${t.name}.${a.field.name}`, 0).map((l) => `  ${l}`));
      o.line('  break;');
    }
    o.line('default:');
    if (t.defaultArm === undefined) {
      o.line(`  throw new XdrEncodeError(\`union ${t.name}: ${dn} = \${String((v as { ${dn}: unknown }).${dn})} has no arm and there is no default\`);`);
    } else {
      if (t.defaultArm !== null) o.all(this.enc(t.defaultArm.type, `(v as { ${t.defaultArm.name}: ${this.ts(t.defaultArm.type)} }).${t.defaultArm.name}`, `${t.name}.${t.defaultArm.name}`, 0).map((l) => `  ${l}`));
      o.line('  break;');
    }
    o.close();
    o.close('},');
    o.open(`decode(r: XdrReader): ${n} {`);
    o.all(this.dec(t.discriminant.type, 'd', `${t.name}.${dn}`, 0));
    o.open('switch (d) {');
    for (const a of t.arms) {
      a.values.forEach((v, i) => o.line(`case ${caseLabel(v)}:${i === a.values.length - 1 ? ' {' : ''}`));
      if (a.field === null) {
        o.line(`  return { ${dn}: d } as ${n};`);
      } else {
        o.all(this.dec(a.field.type, 'm', `${t.name}.${a.field.name}`, 0).map((l) => `  ${l}`));
        o.line(`  return { ${dn}: d, ${a.field.name}: m } as ${n};`);
      }
      o.line('}');
    }
    o.open('default: {');
    if (t.defaultArm === undefined) {
      o.line(`if (r.error === null) r.fail(\`union ${t.name}: ${dn} = \${String(d)} has no arm\`);`);
      o.line(`return { ${dn}: d } as unknown as ${n};`);
    } else if (t.defaultArm === null) {
      o.line(`return { ${dn}: d } as ${n};`);
    } else {
      o.all(this.dec(t.defaultArm.type, 'm', `${t.name}.${t.defaultArm.name}`, 0));
      o.line(`return { ${dn}: d, ${t.defaultArm.name}: m } as ${n};`);
    }
    o.close();
    o.close();
    o.close('},');
    o.close('};');
  }

  // ---------------------------------------------------------------- programs

  private argsType(p: ProcedureDef): string {
    if (p.args.length === 0) return 'void';
    if (p.args.length === 1) return this.ts(p.args[0]!);
    return `[${p.args.map((a) => this.ts(a)).join(', ')}]`;
  }

  private codecExpr(t: XType): string {
    if (t.kind === 'void') return 'xdrVoid';
    if (t.kind === 'ref') return this.codecOf(t.name);
    return '';
  }

  /** A codec for an argument or result that is not a named type (inline object). */
  private inlineCodec(types: XType[], label: string): string[] {
    const tuple = types.length !== 1;
    const ty = tuple ? `[${types.map((t) => this.ts(t)).join(', ')}]` : this.ts(types[0]!);
    const min = types.reduce((s, t) => s + minBytesOf(this.spec, t), 0);
    const lines = [`{`, `  minBytes: ${min},`, `  encode(w: XdrWriter, v: ${ty}): void {`];
    if (tuple) {
      lines.push(`    if (!Array.isArray(v) || v.length !== ${types.length}) throw new XdrEncodeError(${lit(`${label}: expected ${types.length} arguments`)});`);
      types.forEach((t, i) => lines.push(...this.enc(t, `v[${i}]`, `${label}[${i}]`, 0).map((l) => `    ${l}`)));
    } else {
      lines.push(...this.enc(types[0]!, 'v', label, 0).map((l) => `    ${l}`));
    }
    lines.push('  },', `  decode(r: XdrReader): ${ty} {`);
    if (tuple) {
      types.forEach((t, i) => lines.push(...this.dec(t, `m${i}`, `${label}[${i}]`, 0).map((l) => `    ${l}`)));
      lines.push(`    return [${types.map((_, i) => `m${i}`).join(', ')}];`);
    } else {
      lines.push(...this.dec(types[0]!, 'v', label, 0).map((l) => `    ${l}`), '    return v;');
    }
    lines.push('  },', '}');
    return lines;
  }

  private program(p: ProgramDef): void {
    const o = this.out;
    o.line();
    o.line(`/** Program number of ${p.name} (${this.where(p.pos)}). */`);
    o.line(`export const ${p.name} = ${num(p.number)};`);
    for (const v of p.versions) {
      const base = this.versionBase(p, v);
      o.line();
      o.line(`/** Version number ${v.name} of ${p.name}. */`);
      o.line(`export const ${v.name} = ${v.number};`);
      o.line();
      o.line(`/** ${p.name} version ${v.number}: numbers and procedure descriptors (${this.where(v.pos)}). */`);
      o.open(`export const ${base} = {`);
      o.line(`program: ${num(p.number)},`);
      o.line(`version: ${v.number},`);
      o.line(`name: ${lit(p.name)},`);
      o.open('procedures: {');
      for (const pr of v.procedures) {
        const argsT = this.argsType(pr);
        const resT = this.ts(pr.result);
        o.line(`/** ${pr.name} = ${pr.number} (${this.where(pr.pos)}). */`);
        o.open(`${pr.name}: {`);
        o.line(`program: ${num(p.number)},`);
        o.line(`version: ${v.number},`);
        o.line(`procedure: ${pr.number},`);
        o.line(`name: ${lit(pr.name)},`);
        const argCodec = pr.args.length === 1 ? this.codecExpr(pr.args[0]!) : pr.args.length === 0 ? 'xdrVoid' : '';
        if (argCodec !== '') o.line(`args: ${argCodec},`);
        else {
          const ls = this.inlineCodec(pr.args, `${pr.name} arguments`);
          o.line(`args: ${ls[0]}`);
          o.all(ls.slice(1, -1));
          o.line(`${ls[ls.length - 1]},`);
        }
        const resCodec = this.codecExpr(pr.result);
        if (resCodec !== '') o.line(`result: ${resCodec},`);
        else {
          const ls = this.inlineCodec([pr.result], `${pr.name} result`);
          o.line(`result: ${ls[0]}`);
          o.all(ls.slice(1, -1));
          o.line(`${ls[ls.length - 1]},`);
        }
        o.close(`} as ProcedureDescriptor<${argsT}, ${resT}>,`);
      }
      o.close('},');
      o.close('} as const;');

      // Client stub.
      o.line();
      o.line(`/** Client stub of ${p.name} version ${v.number}: one method per procedure. */`);
      o.open(`export class ${base}Client {`);
      o.line('/** Calls go through `rpc` (an RpcClient on UDP, TCP or the lab transport). */');
      o.line('constructor(readonly rpc: RpcCaller) {}');
      for (const pr of v.procedures) {
        const m = this.methodName(pr);
        const resT = this.ts(pr.result);
        const params = pr.args.map((a, i) => `${pr.args.length === 1 ? 'arg' : `arg${i}`}: ${this.ts(a)}`);
        const argExpr = pr.args.length === 0 ? 'undefined' : pr.args.length === 1 ? 'arg' : `[${pr.args.map((_, i) => `arg${i}`).join(', ')}]`;
        o.line();
        o.line(`/** ${pr.name} (procedure ${pr.number}). */`);
        o.open(`${m}(${[...params, 'options?: CallOptions'].join(', ')}): Promise<${resT}> {`);
        o.line(`return this.rpc.call(${base}.procedures.${pr.name}, ${argExpr}, options);`);
        o.close();
      }
      o.close();

      // Server stub.
      o.line();
      o.line(`/** What a server of ${p.name} version ${v.number} implements: one handler per procedure. */`);
      o.open(`export interface ${base}Handlers {`);
      for (const pr of v.procedures) {
        const m = this.methodName(pr);
        const params = pr.args.map((a, i) => `${pr.args.length === 1 ? 'arg' : `arg${i}`}: ${this.ts(a)}`);
        o.line(`/** ${pr.name} (procedure ${pr.number}). */`);
        o.line(`${m}(${[...params, 'ctx: RpcCallContext'].join(', ')}): HandlerResult<${this.ts(pr.result)}>;`);
      }
      o.close();
      o.line();
      o.line(`/** Registration helper: the program table a server serves for ${p.name} version ${v.number}. */`);
      o.open(`export function ${camelCase(base)}Server(h: ${base}Handlers): RpcProgramVersion {`);
      o.open('return {');
      o.line(`program: ${num(p.number)},`);
      o.line(`version: ${v.number},`);
      o.line(`name: ${lit(p.name)},`);
      o.open('procedures: [');
      for (const pr of v.procedures) {
        const m = this.methodName(pr);
        const call = pr.args.length === 0 ? `h.${m}(ctx)` : pr.args.length === 1 ? `h.${m}(arg, ctx)` : `h.${m}(${pr.args.map((_, i) => `arg[${i}]`).join(', ')}, ctx)`;
        o.line(`serverProcedure(${base}.procedures.${pr.name}, (${pr.args.length === 0 ? '_arg' : 'arg'}, ctx) => ${call}),`);
      }
      o.close('],');
      o.close('};');
      o.close();
    }
  }
}

/** Generates the TypeScript module of a spec. Throws CodegenError on names that clash in TypeScript. */
export function generateTypeScript(spec: XdrSpec, opts: CodegenOptions): string {
  return new Generator(spec, opts).generate();
}
