// fast-check arbitraries for XDR: random values of a declared type, and random .x files (type
// trees of structs, unions, enums, arrays, optional data and every primitive).

import fc from 'fast-check';
import { resolveType, type XType, type XdrSpec } from '../../core/rpc/spec.js';

const MAX_ELEMENTS = 4;

/** Random values of a type of a spec (recursion through optional data is cut off at `depth`). */
export function valueArb(spec: XdrSpec, t: XType, depth = 0): fc.Arbitrary<unknown> {
  const r = resolveType(spec, t);
  switch (r.kind) {
    case 'void':
      return fc.constant(undefined);
    case 'int':
      return fc.integer({ min: -0x80000000, max: 0x7fffffff });
    case 'uint':
      return fc.nat({ max: 0xffffffff });
    case 'hyper':
      return fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n });
    case 'uhyper':
      return fc.bigInt({ min: 0n, max: 2n ** 64n - 1n });
    case 'bool':
      return fc.boolean();
    case 'float':
      return fc.float();
    case 'double':
      return fc.double();
    case 'fixedOpaque':
      return fc.uint8Array({ minLength: r.length, maxLength: r.length });
    case 'varOpaque':
      return fc.uint8Array({ maxLength: Math.min(r.max, 24) });
    case 'string':
      // Strings are measured in UTF-8 bytes; keep them within the maximum.
      return fc.string({ unit: 'grapheme', maxLength: 12 }).filter((s) => Buffer.byteLength(s) <= r.max);
    case 'fixedArray':
      return fc.array(valueArb(spec, r.element, depth + 1), { minLength: r.length, maxLength: r.length });
    case 'varArray':
      return fc.array(valueArb(spec, r.element, depth + 1), { maxLength: depth > 3 ? 0 : Math.min(r.max, MAX_ELEMENTS) });
    case 'optional':
      return depth > 4 ? fc.constant(null) : fc.option(valueArb(spec, r.element, depth + 1), { nil: null });
    case 'enum':
      return fc.constantFrom(...r.members.map((m) => m.value));
    case 'struct':
      return fc.record(Object.fromEntries(r.fields.map((f) => [f.name, valueArb(spec, f.type, depth + 1)])));
    case 'union': {
      const disc = resolveType(spec, r.discriminant.type);
      const options: fc.Arbitrary<unknown>[] = [];
      const tag = (v: number) => (disc.kind === 'bool' ? v === 1 : v);
      for (const a of r.arms) {
        for (const v of a.values) {
          const d = tag(v);
          options.push(a.field === null ? fc.constant({ [r.discriminant.name]: d }) : valueArb(spec, a.field.type, depth + 1).map((x) => ({ [r.discriminant.name]: d, [a.field!.name]: x })));
        }
      }
      if (r.defaultArm !== undefined) {
        const covered = new Set(r.arms.flatMap((a) => a.values));
        let free: fc.Arbitrary<unknown>;
        if (disc.kind === 'enum') {
          const rest = disc.members.map((m) => m.value).filter((v) => !covered.has(v));
          free = rest.length === 0 ? fc.constant(null) : fc.constantFrom(...rest);
        } else if (disc.kind === 'bool') {
          const rest = [0, 1].filter((v) => !covered.has(v)).map(tag);
          free = rest.length === 0 ? fc.constant(null) : fc.constantFrom(...rest);
        } else if (disc.kind === 'uint') {
          free = fc.nat({ max: 0xffffffff }).filter((v) => !covered.has(v));
        } else {
          free = fc.integer({ min: -0x80000000, max: 0x7fffffff }).filter((v) => !covered.has(v));
        }
        const dflt = r.defaultArm;
        options.push(
          free.chain((d) => {
            if (d === null) return options[0]!;
            return dflt === null ? fc.constant({ [r.discriminant.name]: d }) : valueArb(spec, dflt.type, depth + 1).map((x) => ({ [r.discriminant.name]: d, [dflt.name]: x }));
          }),
        );
      }
      return fc.oneof(...options);
    }
    case 'ref':
      return valueArb(spec, r, depth);
  }
}

/** A random .x file whose last definition is `typedef ... root;`. */
export const specTextArb: fc.Arbitrary<string> = fc
  .record({
    seed: fc.array(fc.nat({ max: 1000 }), { minLength: 40, maxLength: 40 }),
  })
  .map(({ seed }) => {
    let i = 0;
    const next = (n: number) => seed[i++ % seed.length]! % n;
    const defs: string[] = [];
    let counter = 0;
    const decl = (name: string, depth: number): string => {
      const pick = depth >= 3 ? next(9) : next(16);
      switch (pick) {
        case 0:
          return `int ${name}`;
        case 1:
          return `unsigned int ${name}`;
        case 2:
          return `hyper ${name}`;
        case 3:
          return `unsigned hyper ${name}`;
        case 4:
          return `bool ${name}`;
        case 5:
          return `float ${name}`;
        case 6:
          return `double ${name}`;
        case 7:
          return next(2) ? `opaque ${name}[${next(7)}]` : `opaque ${name}<${next(3) ? 20 : ''}>`;
        case 8:
          return `string ${name}<${next(2) ? 16 : ''}>`;
        case 9:
        case 10: {
          const t = named(depth + 1);
          return next(2) ? `${t} ${name}[${1 + next(3)}]` : `${t} ${name}<${next(2) ? 5 : ''}>`;
        }
        case 11:
          return `${named(depth + 1)} *${name}`;
        default:
          return `${named(depth + 1)} ${name}`;
      }
    };
    const named = (depth: number): string => {
      const n = `t${counter++}`;
      const kind = next(3);
      if (kind === 0) {
        const fields = Array.from({ length: 1 + next(4) }, (_, k) => `  ${decl(`f${k}`, depth)};`);
        defs.push(`struct ${n} {\n${fields.join('\n')}\n};`);
      } else if (kind === 1) {
        const members = Array.from({ length: 1 + next(4) }, (_, k) => `${n.toUpperCase()}_M${k} = ${k * 3 - 2}`);
        defs.push(`enum ${n} { ${members.join(', ')} };`);
      } else {
        const disc = next(3);
        const arms: string[] = [];
        const nArms = 1 + next(3);
        if (disc === 0) {
          for (let k = 0; k < nArms; k++) arms.push(`case ${k * 5 - 3}:\n  ${next(3) === 0 ? 'void' : decl(`a${k}`, depth)};`);
        } else if (disc === 1) {
          arms.push(`case TRUE:\n  ${decl('yes', depth)};`);
          if (next(2)) arms.push('case FALSE:\n  void;');
        } else {
          for (let k = 0; k < nArms; k++) arms.push(`case ${k}:\n  ${decl(`a${k}`, depth)};`);
        }
        const hasDefault = next(2) === 0 || (disc === 1 && arms.length === 1);
        const dflt = hasDefault ? `default:\n  ${next(2) ? 'void' : decl('other', depth)};\n` : '';
        const discDecl = disc === 0 ? 'int d' : disc === 1 ? 'bool d' : 'unsigned int d';
        defs.push(`union ${n} switch (${discDecl}) {\n${arms.join('\n')}\n${dflt}};`);
      }
      return n;
    };
    const root = decl('root', 0);
    defs.push(`typedef ${root};`);
    return defs.join('\n');
  });
