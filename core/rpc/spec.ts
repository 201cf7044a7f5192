// The meaning of an RPC language file (.x) once parsed and resolved: named types, constants and
// programs. Both the stub generator (rpcgen) and the generic client (`packetlab rpc call`) work
// from this model, so a .x file means the same thing to both.

/** Where something was declared in a .x file (1-based line and column; the file when known, which may be an included one). */
export interface SourcePos {
  file?: string;
  line: number;
  column: number;
}

/** One arm of a discriminated union: the case values and the declaration (null for void). */
export interface UnionArm {
  values: number[];
  /** Case labels as written (names or numbers), for generated comments and errors. */
  labels: string[];
  field: Field | null;
}

/** A declaration inside a struct or union: a name and its type. */
export interface Field {
  name: string;
  type: XType;
}

/** An XDR type (RFC 4506 section 4), with typedef, struct, enum and union names kept as references. */
export type XType =
  | { kind: 'int' }
  | { kind: 'uint' }
  | { kind: 'hyper' }
  | { kind: 'uhyper' }
  | { kind: 'bool' }
  | { kind: 'float' }
  | { kind: 'double' }
  | { kind: 'void' }
  | { kind: 'fixedOpaque'; length: number }
  | { kind: 'varOpaque'; max: number }
  | { kind: 'string'; max: number }
  | { kind: 'fixedArray'; element: XType; length: number }
  | { kind: 'varArray'; element: XType; max: number }
  | { kind: 'optional'; element: XType }
  | { kind: 'ref'; name: string };

/** A named enum: its members in declaration order. */
export interface EnumDef {
  kind: 'enum';
  name: string;
  members: { name: string; value: number }[];
  pos: SourcePos;
}

/** A named struct. */
export interface StructDef {
  kind: 'struct';
  name: string;
  fields: Field[];
  pos: SourcePos;
}

/** A named discriminated union (RFC 4506 (4.15)). */
export interface UnionDef {
  kind: 'union';
  name: string;
  discriminant: Field;
  arms: UnionArm[];
  /** The default arm: undefined when there is none, null when it is void. */
  defaultArm: Field | null | undefined;
  pos: SourcePos;
}

/** A typedef: a new name for a declaration's type. */
export interface TypedefDef {
  kind: 'typedef';
  name: string;
  type: XType;
  pos: SourcePos;
}

/** Any named type. */
export type TypeDef = EnumDef | StructDef | UnionDef | TypedefDef;

/** A procedure of a program version (RFC 5531 section 12). */
export interface ProcedureDef {
  name: string;
  number: number;
  /** Argument types; empty for void. More than one is rpcgen's -N style (arguments in sequence). */
  args: XType[];
  result: XType;
  pos: SourcePos;
}

/** A version of a program. */
export interface VersionDef {
  name: string;
  number: number;
  procedures: ProcedureDef[];
  pos: SourcePos;
}

/** A program definition. */
export interface ProgramDef {
  name: string;
  number: number;
  versions: VersionDef[];
  pos: SourcePos;
}

/** A constant: a number, or a string (rpcgen's `const NAME = "text";`). */
export interface ConstDef {
  name: string;
  value: number | string;
  pos: SourcePos;
}

/** Everything a .x file declares, in declaration order. */
export interface XdrSpec {
  /** The file name as given (used in generated headers and error messages). */
  fileName: string;
  consts: ConstDef[];
  types: TypeDef[];
  programs: ProgramDef[];
  /** Named types by name. */
  typeByName: Map<string, TypeDef>;
}

/** Follows typedefs from a type to the type that defines its encoding. */
export function resolveType(spec: XdrSpec, t: XType): XType | EnumDef | StructDef | UnionDef {
  let cur: XType = t;
  for (let i = 0; i < 1000; i++) {
    if (cur.kind !== 'ref') return cur;
    const def = spec.typeByName.get(cur.name);
    if (def === undefined) throw new Error(`unknown type ${cur.name}`);
    if (def.kind !== 'typedef') return def;
    cur = def.type;
  }
  throw new Error(`typedef cycle at ${(t as { name?: string }).name ?? t.kind}`);
}

/** minBytesOf's results for named types, per spec (a typedef chain is walked once, not once per type). */
const MIN_BYTES = new WeakMap<XdrSpec, Map<string, number>>();
/** How often minBytesOf cut a recursion short: a result that depended on a cut is not kept. */
let cutoffs = 0;

/** Fewest bytes an encoded value of the type takes (every XDR item but void and empty fixed items is at least 4). */
export function minBytesOf(spec: XdrSpec, t: XType, seen: Set<string> = new Set()): number {
  switch (t.kind) {
    case 'void':
      return 0;
    case 'int':
    case 'uint':
    case 'bool':
    case 'float':
      return 4;
    case 'hyper':
    case 'uhyper':
    case 'double':
      return 8;
    case 'fixedOpaque':
      return t.length + ((4 - (t.length & 3)) & 3);
    case 'varOpaque':
    case 'string':
    case 'varArray':
    case 'optional':
      return 4;
    case 'fixedArray':
      return t.length * minBytesOf(spec, t.element, seen);
    case 'ref': {
      let memo = MIN_BYTES.get(spec);
      const known = memo?.get(t.name);
      if (known !== undefined) return known;
      if (seen.has(t.name)) {
        cutoffs++;
        return 4; // only reachable through optional data or arrays, already counted
      }
      const def = spec.typeByName.get(t.name);
      if (def === undefined) return 4;
      const cutsBefore = cutoffs;
      seen.add(t.name);
      let n: number;
      if (def.kind === 'enum') n = 4;
      else if (def.kind === 'typedef') n = minBytesOf(spec, def.type, seen);
      else if (def.kind === 'struct') n = def.fields.reduce((s, f) => s + minBytesOf(spec, f.type, seen), 0);
      else {
        const arms = def.arms.map((a) => (a.field === null ? 0 : minBytesOf(spec, a.field.type, seen)));
        if (def.defaultArm !== undefined) arms.push(def.defaultArm === null ? 0 : minBytesOf(spec, def.defaultArm.type, seen));
        n = 4 + Math.min(...arms);
      }
      seen.delete(t.name);
      if (cutoffs === cutsBefore) {
        if (memo === undefined) MIN_BYTES.set(spec, (memo = new Map()));
        memo.set(t.name, n);
      }
      return n;
    }
  }
}
