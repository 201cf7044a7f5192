// The RPC language parser: XDR definitions (RFC 4506 section 6) plus program definitions
// (RFC 5531 section 12), as `rpcgen` reads them after cpp. The preprocessor (xdr-preprocessor.ts)
// runs first: it removes comments and `%` pass-through lines (they carry C for rpcgen's output),
// follows #include and #if, and expands #define. Errors never throw: the result names the file
// (the included one, when the problem is there), line and column and says what was expected.
//
// Two rules that the RFCs leave open are fixed here: constants must be declared before they are
// used (as with the #defines rpcgen emits), while types may be used before they are declared (so
// that a struct can point to itself). Anonymous struct, union and enum types inside declarations
// are given the name `<outer>_<field>`.

import { minBytesOf, resolveType, type ConstDef, type EnumDef, type Field, type ProcedureDef, type ProgramDef, type SourcePos, type StructDef, type TypeDef, type UnionArm, type UnionDef, type VersionDef, type XType, type XdrSpec } from './spec.js';
import { XDR_UNBOUNDED } from './xdr.js';
import { LIBTIRPC_CONSTANTS, LIBTIRPC_PLACE, LIBTIRPC_TYPES } from './libtirpc-types.js';
import { RPCGEN_OUTPUTS, XdrSourceError, charValue, evaluateInteger, findInclude, preprocess, searchDirs, type PassThroughInclude, type PpToken, type PreprocessOptions, type RpcgenOutput, type SourcePlace } from './xdr-preprocessor.js';

/** A problem in a .x file, with its place. */
export interface XdrParseError {
  file: string;
  line: number;
  column: number;
  message: string;
}

/** Result of parsing a .x file. */
export type XdrParseResult = { ok: true; spec: XdrSpec } | { ok: false; error: XdrParseError };

/** Formats a parse error as `file:line:column: message`. */
export function formatParseError(e: XdrParseError): string {
  return `${e.file}:${e.line}:${e.column}: ${e.message}`;
}

type Token = PpToken;

class Fail extends Error {
  readonly place: SourcePlace;

  constructor(pos: SourcePos | SourcePlace, message: string, file = '') {
    super(message);
    this.place = { file: pos.file ?? file, line: pos.line, column: pos.column };
  }
}

/** Parses a decimal, hexadecimal (0x) or octal (leading 0) constant; NaN when malformed. */
function parseNumberText(text: string): number {
  let neg = false;
  let t = text;
  if (t.startsWith('-')) {
    neg = true;
    t = t.slice(1);
  }
  let v: number;
  if (/^0[xX][0-9a-fA-F]+$/.test(t)) v = parseInt(t.slice(2), 16);
  else if (/^0[0-7]+$/.test(t)) v = parseInt(t, 8);
  else if (/^(0|[1-9][0-9]*)$/.test(t)) v = parseInt(t, 10);
  else return Number.NaN;
  return neg ? -v : v;
}

const KEYWORDS = new Set([
  'bool', 'case', 'char', 'const', 'default', 'double', 'quadruple', 'enum', 'float', 'hyper', 'int', 'long', 'opaque', 'short', 'string', 'struct', 'switch', 'typedef', 'union', 'unsigned', 'void', 'program', 'version',
]);

function describeToken(t: Token): string {
  if (t.kind === 'eof') return 'end of file';
  return `"${t.text}"`;
}

/** The text of a C string literal token, its escapes decoded. */
function stringLiteral(t: Token): string {
  const esc: Record<string, string> = { n: '\n', t: '\t', r: '\r', '0': '\0', a: '\x07', b: '\b', f: '\f', v: '\v' };
  return t.text.slice(1, -1).replace(/\\(.)/g, (_m, c: string) => esc[c] ?? c);
}

/** "line 3" in the same file, "other.x:3" in another. */
function declaredAt(prev: SourcePos, file: string): string {
  return prev.file === undefined || prev.file === file ? `line ${prev.line}` : `${prev.file}:${prev.line}`;
}

/** Refuses a token the RPC language has no use for (a stray character, an unclosed quote). */
function checkToken(t: Token): void {
  if (t.kind === 'other') throw new Fail(t, t.text.length === 1 ? `unexpected character ${JSON.stringify(t.text)}` : `unexpected ${JSON.stringify(t.text)} (a quote that is not closed on its line)`);
}

/**
 * Types from the .x files behind a file's `%#include <name.h>` lines. rpcgen writes name.h from
 * name.x, and leaves a type it does not know to the C compiler, which finds it in that header
 * (nis_callback.x uses nis_object, declared in nis_object.x, through %#include <rpcsvc/nis.h>).
 */
interface Companions {
  /** The type and every type it needs, or null when no companion declares it. */
  find(name: string): TypeDef[] | null;
  /** The companion files read, for error messages. */
  read(): string[];
}

const NO_COMPANIONS: Companions = { find: () => null, read: () => [] };

/** Anonymous struct, union and enum bodies nested in one another. */
const MAX_BODY_DEPTH = 256;

/** %#define names whose values name other %#define names. */
const MAX_CDEFINE_DEPTH = 64;

/** Most levels of companions of companions. */
const COMPANION_DEPTH = 4;

/** Most companion files read for one file, every level and every output of rpcgen together. */
const MAX_COMPANION_FILES = 16;

/** What is left to read of companion files, shared by everything one call of the parser reads. */
interface CompanionBudget {
  files: number;
}

/** Every named type `name` needs in `spec`, itself included, in declaration order. */
function typeClosure(spec: XdrSpec, name: string): TypeDef[] {
  const seen = new Set<string>();
  const visit = (n: string): void => {
    if (seen.has(n)) return;
    const def = spec.typeByName.get(n);
    if (def === undefined) return;
    seen.add(n);
    const walk = (t: XType): void => {
      if (t.kind === 'ref') visit(t.name);
      else if (t.kind === 'fixedArray' || t.kind === 'varArray' || t.kind === 'optional') walk(t.element);
    };
    if (def.kind === 'typedef') walk(def.type);
    else if (def.kind === 'struct') def.fields.forEach((f) => walk(f.type));
    else if (def.kind === 'union') {
      walk(def.discriminant.type);
      def.arms.forEach((a) => a.field !== null && walk(a.field.type));
      if (def.defaultArm) walk(def.defaultArm.type);
    }
  };
  visit(name);
  return spec.types.filter((t) => seen.has(t.name));
}

function companionsOf(includes: readonly PassThroughInclude[], options: XdrParseOptions, depth: number, budget: CompanionBudget): Companions {
  let specs: XdrSpec[] | null = null;
  const paths: string[] = [];
  const load = (): XdrSpec[] => {
    if (specs !== null) return specs;
    specs = [];
    const read = options.readFile;
    if (read === undefined || depth >= COMPANION_DEPTH) return specs;
    for (const inc of includes) {
      if (!inc.name.endsWith('.h')) continue;
      const found = findInclude(read, searchDirs(options, inc.place.file, inc.quoted), `${inc.name.slice(0, -2)}.x`);
      if (found === null || paths.includes(found.path)) continue;
      if (budget.files <= 0) break;
      budget.files--;
      paths.push(found.path);
      // The view rpcgen -c has: the companion's XDR routines are what the C program links.
      const r = parseXdrSpecAt(found.text, found.path, options, 'RPC_XDR', undefined, depth + 1, budget);
      if (r.ok) specs.push(r.spec);
    }
    return specs;
  };
  return {
    find: (name) => {
      for (const spec of load()) if (spec.typeByName.has(name)) return typeClosure(spec, name);
      return null;
    },
    read: () => {
      load();
      return paths;
    },
  };
}

/** What the header output (RPC_HDR) passes to C: every output's C includes it. */
interface HeaderView {
  cDefines: ReadonlyMap<string, PpToken[]>;
  cIncludes: readonly PassThroughInclude[];
}

interface PendingRef {
  name: string;
  pos: SourcePos;
  /** The reference in the type tree; a libtirpc scalar (u_int, ...) is put in its place at the end. */
  ref: XType;
}

/** `const NAME = OTHER;` where OTHER is not known yet (rpcgen writes `#define NAME OTHER`). */
interface PendingAlias {
  def: ConstDef;
  target: Token;
}

class Parser {
  private i = 0;
  private readonly consts = new Map<string, number>();
  private readonly constDefs: ConstDef[] = [];
  private readonly types: TypeDef[] = [];
  private readonly typeByName = new Map<string, TypeDef>();
  private readonly programs: ProgramDef[] = [];
  private readonly refs: PendingRef[] = [];
  private readonly names = new Map<string, SourcePos>();
  private readonly stringConsts = new Set<string>();
  private readonly aliases = new Map<string, PendingAlias>();
  private readonly procNumbers = new Map<string, number>();
  private readonly cDefineStack = new Set<string>();
  private readonly cDefineValues = new Map<string, number>();
  private bodyDepth = 0;

  constructor(
    private readonly toks: Token[],
    private readonly fileName: string,
    private readonly cDefines: ReadonlyMap<string, PpToken[]> = new Map(),
    private readonly companions: Companions = NO_COMPANIONS,
  ) {
    // RFC 4506 (4.4): bool is enum { FALSE = 0, TRUE = 1 }, so these names are always defined.
    this.consts.set('TRUE', 1);
    this.consts.set('FALSE', 0);
  }

  private peek(k = 0): Token {
    const t = this.toks[Math.min(this.i + k, this.toks.length - 1)]!;
    checkToken(t);
    return t;
  }

  private next(): Token {
    const t = this.peek();
    if (t.kind !== 'eof') this.i++;
    return t;
  }

  private at(t: Token): SourcePos {
    return { file: t.file, line: t.line, column: t.column };
  }

  private expected(what: string, t: Token = this.peek()): never {
    throw new Fail(this.at(t), `expected ${what}, found ${describeToken(t)}`);
  }

  private isPunct(p: string, k = 0): boolean {
    const t = this.peek(k);
    return t.kind === 'punct' && t.text === p;
  }

  private isWord(w: string, k = 0): boolean {
    const t = this.peek(k);
    return t.kind === 'ident' && t.text === w;
  }

  private punct(p: string, context = ''): Token {
    if (!this.isPunct(p)) this.expected(`"${p}"${context}`);
    return this.next();
  }

  private word(w: string): Token {
    if (!this.isWord(w)) this.expected(`"${w}"`);
    return this.next();
  }

  private identifier(what: string): Token {
    const t = this.peek();
    if (t.kind !== 'ident') this.expected(what);
    if (KEYWORDS.has(t.text)) throw new Fail(this.at(t), `expected ${what}, found the keyword "${t.text}"`);
    return this.next();
  }

  private declareName(t: Token): void {
    if (t.text === '__proto__') throw new Fail(this.at(t), '"__proto__" cannot be used as a name (it would change JavaScript objects\' prototypes)');
    const prev = this.names.get(t.text);
    if (prev !== undefined) throw new Fail(this.at(t), `"${t.text}" is already declared at ${declaredAt(prev, t.file)}`);
    this.names.set(t.text, this.at(t));
  }

  /** value: constant | identifier (a const or enum member declared earlier). */
  private value(what: string): { value: number; label: string; tok: Token } {
    let t = this.peek();
    if (t.kind === 'punct' && t.text === '-' && this.peek(1).kind === 'number') {
      // A negative constant: the sign is a token of its own after the preprocessor.
      this.next();
      const num = this.peek();
      t = { ...num, text: `-${num.text}`, line: t.line, column: t.column };
    }
    if (t.kind === 'char') {
      // rpcgen takes a character constant as a case label (TOK_CHARCONST); C reads it as a number.
      this.next();
      return { value: charValue(t.text), label: t.text, tok: t };
    }
    if (t.kind === 'number') {
      this.next();
      const v = parseNumberText(t.text);
      if (Number.isNaN(v)) throw new Fail(this.at(t), `"${t.text}" is not a decimal, hexadecimal (0x) or octal (0) constant`);
      return { value: v, label: t.text, tok: t };
    }
    if (t.kind === 'ident' && !KEYWORDS.has(t.text)) {
      this.next();
      const v = this.constant(t);
      if (v === undefined) throw new Fail(this.at(t), `unknown constant "${t.text}" (constants and enum values must be declared before they are used)`);
      return { value: v, label: t.text, tok: t };
    }
    return this.expected(what);
  }

  /**
   * The value of a name: a const or enum member, an alias resolved now, or a number a `%#define`
   * line gives to C (rpcgen leaves such names to the C compiler, which sees the header's defines).
   */
  private constant(t: Token): number | undefined {
    const v = this.consts.get(t.text);
    if (v !== undefined) return v;
    if (this.stringConsts.has(t.text)) throw new Fail(this.at(t), `"${t.text}" is a string constant, not a number`);
    const alias = this.aliases.get(t.text);
    if (alias !== undefined) return this.resolveAlias(alias);
    const body = this.cDefines.get(t.text);
    if (body === undefined || this.cDefineStack.has(t.text)) {
      const lib = LIBTIRPC_CONSTANTS[t.text];
      return lib !== undefined && Object.hasOwn(LIBTIRPC_CONSTANTS, t.text) ? lib : undefined;
    }
    const known = this.cDefineValues.get(t.text);
    if (known !== undefined) return known;
    if (this.cDefineStack.size >= MAX_CDEFINE_DEPTH) throw new Fail(this.at(t), `%#define ${t.text}: names refer to names more than ${MAX_CDEFINE_DEPTH} levels deep`);
    this.cDefineStack.add(t.text);
    try {
      const r = evaluateInteger(body, t, (id) => {
        const x = this.constant({ ...id, file: t.file, line: t.line, column: t.column });
        return x === undefined ? null : BigInt(x);
      });
      if (r === null || r < -0x80000000n || r > 0xffffffffn) return undefined;
      this.cDefineValues.set(t.text, Number(r));
      return Number(r);
    } finally {
      this.cDefineStack.delete(t.text);
    }
  }

  /** constant(), with a string constant as undefined instead of an error. */
  private constantOrNull(t: Token): number | undefined {
    return this.stringConsts.has(t.text) ? undefined : this.constant(t);
  }

  private resolveAlias(a: PendingAlias): number | undefined {
    this.aliases.delete(a.def.name);
    const v = this.constant(a.target);
    if (v === undefined) {
      this.aliases.set(a.def.name, a);
      return undefined;
    }
    a.def.value = v;
    this.consts.set(a.def.name, v);
    return v;
  }

  private unsigned32(what: string): { value: number; label: string } {
    const v = this.value(what);
    if (!Number.isInteger(v.value) || v.value < 0 || v.value > 0xffffffff) throw new Fail(this.at(v.tok), `${what} ${v.label} is outside 0..4294967295`);
    return v;
  }

  private int32(v: { value: number; label: string; tok: Token }, what: string): number {
    if (!Number.isInteger(v.value) || v.value < -0x80000000 || v.value > 0xffffffff) throw new Fail(this.at(v.tok), `${what} ${v.label} does not fit in 32 bits`);
    return v.value;
  }

  /** Where the parser is: the next token, or the type being checked. */
  place(): SourcePlace {
    const t = this.checking?.pos ?? this.toks[Math.min(this.i, this.toks.length - 1)]!;
    return { file: t.file ?? '', line: t.line, column: t.column };
  }

  private checking: { pos: SourcePos } | null = null;

  parse(): XdrSpec {
    while (this.peek().kind !== 'eof') this.definition();
    this.check();
    return { fileName: this.fileName, consts: this.constDefs, types: this.types, programs: this.programs, typeByName: this.typeByName };
  }

  private definition(): void {
    const t = this.peek();
    if (t.kind !== 'ident') this.expected('a definition (const, typedef, enum, struct, union or program)');
    switch (t.text) {
      case 'const': {
        this.next();
        const name = this.identifier('a constant name');
        this.punct('=');
        const vt = this.peek();
        if (vt.kind === 'string') {
          // rpcgen: const NAME = "text"; becomes #define NAME "text".
          this.next();
          this.punct(';', ` after const ${name.text}`);
          this.declareName(name);
          this.stringConsts.add(name.text);
          this.constDefs.push({ name: name.text, value: stringLiteral(vt), pos: this.at(name) });
          return;
        }
        if (vt.kind === 'ident' && !KEYWORDS.has(vt.text) && this.constantOrNull(vt) === undefined) {
          // An alias of a name declared further on (a procedure, say): resolved when it is known.
          this.next();
          this.punct(';', ` after const ${name.text}`);
          this.declareName(name);
          const def: ConstDef = { name: name.text, value: 0, pos: this.at(name) };
          this.constDefs.push(def);
          this.aliases.set(name.text, { def, target: vt });
          return;
        }
        const v = this.value('a constant value (a number, a name or a "string")');
        const value = this.int32(v, 'constant');
        this.punct(';', ` after const ${name.text}`);
        this.declareName(name);
        this.consts.set(name.text, value);
        this.constDefs.push({ name: name.text, value, pos: this.at(name) });
        return;
      }
      case 'typedef': {
        this.next();
        const k = this.peek();
        const a = this.peek(1);
        const b = this.peek(2);
        if (k.kind === 'ident' && ['struct', 'union', 'enum'].includes(k.text) && a.kind === 'ident' && b.kind === 'ident' && a.text === b.text && this.isPunct(';', 3)) {
          // typedef struct name name; is the C habit of naming a struct twice: nothing new in XDR.
          this.i += 4;
          this.reference(a);
          return;
        }
        const d = this.declaration('typedef', true);
        if (d === null) throw new Fail(this.at(t), 'typedef void is not allowed');
        this.punct(';', ` after typedef ${d.name}`);
        this.addType({ kind: 'typedef', name: d.name, type: d.type, pos: d.pos }, false);
        return;
      }
      case 'enum':
      case 'struct':
      case 'union': {
        this.next();
        const name = this.identifier(`a name for the ${t.text}`);
        this.declareName(name);
        const def = this.body(t.text, name.text, this.at(name));
        this.punct(';', ` after the ${t.text} ${name.text}`);
        this.addType(def, false);
        return;
      }
      case 'program':
        this.program();
        return;
      default:
        this.expected('a definition (const, typedef, enum, struct, union or program)');
    }
  }

  private addType(def: TypeDef, declare = true): void {
    if (declare) {
      const prev = this.names.get(def.name);
      if (prev !== undefined) throw new Fail(def.pos, `"${def.name}" is already declared at ${declaredAt(prev, def.pos.file ?? '')}`);
      this.names.set(def.name, def.pos);
    }
    this.types.push(def);
    this.typeByName.set(def.name, def);
  }

  private body(kind: string, name: string, pos: SourcePos): TypeDef {
    // Anonymous bodies nest by recursion; hostile input must not exhaust the stack.
    if (++this.bodyDepth > MAX_BODY_DEPTH) throw new Fail(pos, `${kind} ${name}: types nested more than ${MAX_BODY_DEPTH} levels`);
    try {
      if (kind === 'enum') return this.enumBody(name, pos);
      if (kind === 'struct') return this.structBody(name, pos);
      return this.unionBody(name, pos);
    } finally {
      this.bodyDepth--;
    }
  }

  private enumBody(name: string, pos: SourcePos): EnumDef {
    this.punct('{', ` to open the enum ${name}`);
    const members: { name: string; value: number }[] = [];
    for (;;) {
      const m = this.identifier('an enum member name');
      let value: number;
      if (this.isPunct('=')) {
        this.next();
        const v = this.value('an enum value');
        value = this.int32(v, 'enum value');
        if (value > 0x7fffffff) throw new Fail(this.at(v.tok), `enum value ${v.label} does not fit in a signed int`);
      } else {
        // rpcgen copies the enum to C, where a member without a value is the previous one plus 1.
        const prev = members[members.length - 1];
        value = prev === undefined ? 0 : prev.value + 1;
        if (value > 0x7fffffff) throw new Fail(this.at(m), `enum member ${m.text} would be ${value}, beyond a signed int`);
      }
      this.declareName(m);
      this.consts.set(m.text, value);
      members.push({ name: m.text, value });
      if (this.isPunct(',')) {
        this.next();
        if (this.isPunct('}')) break; // a trailing comma, as rpcgen's own output has
        continue;
      }
      break;
    }
    // Two members may have the same value (rpcgen and C allow it; nis_object.x has NIS_BOGUS_OBJ and BOGUS_OBJ).
    this.punct('}', ` or "," in the enum ${name}`);
    return { kind: 'enum', name, members, pos };
  }

  private structBody(name: string, pos: SourcePos): StructDef {
    this.punct('{', ` to open the struct ${name}`);
    const fields: Field[] = [];
    const seen = new Set<string>();
    do {
      const d = this.declaration(name, false);
      if (d === null) throw new Fail(this.at(this.toks[this.i - 1]!), `struct ${name}: void is not a member type`);
      if (seen.has(d.name)) throw new Fail(d.pos, `struct ${name}: member ${d.name} is declared twice`);
      if (d.name === '__proto__') throw new Fail(d.pos, '"__proto__" cannot be a member name (it would change JavaScript objects\' prototypes)');
      seen.add(d.name);
      fields.push({ name: d.name, type: d.type });
      this.punct(';', ` after the member ${d.name}`);
    } while (!this.isPunct('}'));
    this.punct('}');
    return { kind: 'struct', name, fields, pos };
  }

  private unionBody(name: string, pos: SourcePos): UnionDef {
    this.word('switch');
    this.punct('(');
    const discTok = this.peek();
    const disc = this.declaration(name, false);
    if (disc === null) throw new Fail(this.at(discTok), `union ${name}: the discriminant cannot be void`);
    this.punct(')', ' after the discriminant');
    this.punct('{', ` to open the union ${name}`);
    const arms: UnionArm[] = [];
    let defaultArm: Field | null | undefined;
    const caseTokens: Token[] = [];
    while (this.isWord('case')) {
      const values: number[] = [];
      const labels: string[] = [];
      while (this.isWord('case')) {
        this.next();
        const v = this.value('a case value');
        values.push(this.int32(v, 'case value'));
        labels.push(v.label);
        caseTokens.push(v.tok);
        this.punct(':', ` after case ${v.label}`);
      }
      const d = this.declaration(name, false);
      this.punct(';', ' after the arm declaration');
      arms.push({ values, labels, field: d === null ? null : { name: d.name, type: d.type } });
    }
    if (arms.length === 0) this.expected(`"case" in the union ${name}`);
    if (this.isWord('default')) {
      this.next();
      this.punct(':', ' after default');
      const d = this.declaration(name, false);
      this.punct(';', ' after the default arm');
      defaultArm = d === null ? null : { name: d.name, type: d.type };
    }
    this.punct('}', ` or "case" in the union ${name}`);
    const def: UnionDef = { kind: 'union', name, discriminant: { name: disc.name, type: disc.type }, arms, defaultArm, pos };
    this.pendingUnions.push({ def, caseTokens });
    return def;
  }

  private readonly pendingUnions: { def: UnionDef; caseTokens: Token[] }[] = [];

  /**
   * A declaration (RFC 4506 (6.3)); null for void. `owner` names the enclosing type, for the names
   * of anonymous inline types.
   */
  private declaration(owner: string, isTypedef: boolean): { name: string; type: XType; pos: SourcePos } | null {
    const t = this.peek();
    if (this.isWord('void')) {
      this.next();
      return null;
    }
    if (this.isWord('opaque') || this.isWord('string')) {
      const kw = this.next().text;
      const name = this.identifier(`a name after ${kw}`);
      if (isTypedef) this.declareName(name);
      if (this.isPunct('[')) {
        if (kw === 'string') throw new Fail(this.at(this.peek()), `string ${name.text} must be variable-length: string ${name.text}<max> or string ${name.text}<> (RFC 4506 (4.11))`);
        this.next();
        const n = this.unsigned32('the opaque length');
        this.punct(']');
        return { name: name.text, type: { kind: 'fixedOpaque', length: n.value }, pos: this.at(name) };
      }
      if (this.isPunct('<')) {
        this.next();
        let max = XDR_UNBOUNDED;
        if (!this.isPunct('>')) max = this.unsigned32(`the maximum length of ${name.text}`).value;
        this.punct('>');
        return { name: name.text, type: kw === 'string' ? { kind: 'string', max } : { kind: 'varOpaque', max }, pos: this.at(name) };
      }
      return this.expected(kw === 'string' ? `"<" after string ${name.text} (string ${name.text}<max> or <>)` : `"[" or "<" after opaque ${name.text}`);
    }
    const base = this.typeSpecifier(owner, t);
    if (this.isPunct('*')) {
      this.next();
      const name = this.identifier('a name after "*"');
      if (isTypedef) this.declareName(name);
      return { name: name.text, type: { kind: 'optional', element: base.type(name.text) }, pos: this.at(name) };
    }
    const name = this.identifier('a name in the declaration');
    if (isTypedef) this.declareName(name);
    const element = base.type(name.text);
    if (this.isPunct('[')) {
      this.next();
      const n = this.unsigned32('the array length');
      this.punct(']');
      return { name: name.text, type: { kind: 'fixedArray', element, length: n.value }, pos: this.at(name) };
    }
    if (this.isPunct('<')) {
      this.next();
      let max = XDR_UNBOUNDED;
      if (!this.isPunct('>')) max = this.unsigned32(`the maximum length of ${name.text}`).value;
      this.punct('>');
      return { name: name.text, type: { kind: 'varArray', element, max }, pos: this.at(name) };
    }
    return { name: name.text, type: element, pos: this.at(name) };
  }

  /**
   * type-specifier (RFC 4506 (6.3)). Returns a function of the declared name, so that an
   * anonymous struct, union or enum is named after the declaration it belongs to.
   */
  private typeSpecifier(owner: string, t: Token): { type: (declName: string) => XType } {
    const simple = (x: XType) => ({ type: () => x });
    if (t.kind !== 'ident') this.expected('a type');
    switch (t.text) {
      // rpcgen's C names (rpc_parse.c, get_type and unsigned_dec): char, short and long, signed or
      // not, are xdr_char, xdr_short, xdr_long, xdr_u_char, ...: 4-byte XDR integers on the wire.
      case 'unsigned': {
        this.next();
        if (this.isWord('char')) {
          this.next();
          return simple({ kind: 'uint' });
        }
        if (this.isWord('short') || this.isWord('long')) {
          this.next();
          this.optionalInt();
          return simple({ kind: 'uint' });
        }
        if (this.isWord('hyper')) {
          this.next();
          this.optionalInt();
          return simple({ kind: 'uhyper' });
        }
        if (this.isWord('int')) this.next();
        return simple({ kind: 'uint' }); // "unsigned" alone, as rpcgen accepts
      }
      case 'int':
      case 'char':
        this.next();
        return simple({ kind: 'int' });
      case 'long': // rpcgen's name for a 32-bit int
      case 'short':
        this.next();
        this.optionalInt();
        return simple({ kind: 'int' });
      case 'hyper':
        this.next();
        this.optionalInt();
        return simple({ kind: 'hyper' });
      case 'float':
        this.next();
        return simple({ kind: 'float' });
      case 'double':
        this.next();
        return simple({ kind: 'double' });
      case 'bool':
        this.next();
        return simple({ kind: 'bool' });
      case 'quadruple':
        // RFC 4506 (4.8): 16 bytes. rpcgen writes xdr_quadruple (which libtirpc lacks); JavaScript
        // has no 128-bit float, so the value is its 16 bytes, big-endian, as they travel.
        this.next();
        return simple({ kind: 'fixedOpaque', length: 16 });
      case 'enum':
      case 'struct':
      case 'union': {
        this.next();
        if (this.peek().kind === 'ident' && !KEYWORDS.has(this.peek().text) && !this.isWord('switch')) {
          // "struct name" used as a type, the C way.
          const ref = this.next();
          return simple(this.reference(ref));
        }
        // An anonymous type: named after the declaration it belongs to, which follows its body.
        const kw = t.text;
        const pos = this.at(t);
        const declName = this.nameAfterBody(kw);
        const name = `${owner}_${declName}`;
        const def = this.body(kw, name, pos);
        this.addType(def);
        return simple({ kind: 'ref', name });
      }
      default: {
        if (KEYWORDS.has(t.text)) this.expected('a type');
        this.next();
        return simple(this.reference(t));
      }
    }
  }

  /** A reference to a named type, checked (and, for libtirpc's names, resolved) after parsing. */
  private reference(t: Token): XType {
    const ref: XType = { kind: 'ref', name: t.text };
    this.refs.push({ name: t.text, pos: this.at(t), ref });
    return ref;
  }

  /** rpcgen reads "short int", "long int", "unsigned hyper int" as "short", "long", ... */
  private optionalInt(): void {
    if (this.isWord('int')) this.next();
  }

  /** Looks past an inline body ({ ... } or switch (...) { ... }) for the declared name after it. */
  private nameAfterBody(kw: string): string {
    let k = this.i;
    if (kw === 'union') {
      while (k < this.toks.length && !(this.toks[k]!.kind === 'punct' && this.toks[k]!.text === '{')) k++;
    }
    let depth = 0;
    for (; k < this.toks.length; k++) {
      const t = this.toks[k]!;
      if (t.kind === 'eof') break;
      if (t.kind === 'punct' && t.text === '{') depth++;
      if (t.kind === 'punct' && t.text === '}' && --depth === 0) break;
    }
    let after = this.toks[k + 1];
    if (after !== undefined && after.kind === 'punct' && after.text === '*') after = this.toks[k + 2];
    return after !== undefined && after.kind === 'ident' ? after.text : 'anon';
  }

  private program(): void {
    this.word('program');
    const name = this.identifier('a program name');
    this.declareName(name);
    this.punct('{', ` to open the program ${name.text}`);
    const versions: VersionDef[] = [];
    do {
      const vt = this.peek();
      if (!this.isWord('version')) this.expected(`"version" in the program ${name.text}`);
      this.next();
      const vname = this.identifier('a version name');
      this.declareName(vname);
      this.punct('{', ` to open the version ${vname.text}`);
      const procedures: ProcedureDef[] = [];
      do {
        procedures.push(this.procedure());
      } while (!this.isPunct('}'));
      this.punct('}');
      this.punct('=', ` and the number of the version ${vname.text}`);
      const vn = this.unsigned32('version number');
      this.punct(';', ` after the version ${vname.text}`);
      this.consts.set(vname.text, vn.value);
      const seen = new Map<number, string>();
      for (const p of procedures) {
        const other = seen.get(p.number);
        if (other !== undefined) throw new Fail(p.pos, `procedures ${other} and ${p.name} have the same number ${p.number}`);
        seen.set(p.number, p.name);
      }
      if (versions.some((v) => v.number === vn.value)) throw new Fail(this.at(vt), `program ${name.text} has two versions numbered ${vn.value}`);
      versions.push({ name: vname.text, number: vn.value, procedures, pos: this.at(vname) });
    } while (!this.isPunct('}'));
    this.punct('}');
    this.punct('=', ` and the number of the program ${name.text}`);
    const pn = this.unsigned32('program number');
    this.punct(';', ` after the program ${name.text}`);
    this.consts.set(name.text, pn.value);
    if (this.programs.some((p) => p.number === pn.value)) throw new Fail(this.at(name), `two programs are numbered ${pn.value}`);
    this.programs.push({ name: name.text, number: pn.value, versions, pos: this.at(name) });
  }

  /** proc-return identifier "(" proc-firstarg ("," type-specifier)* ")" "=" constant ";" */
  private procedure(): ProcedureDef {
    const rt = this.peek();
    const result = this.procType(rt, 'a procedure result type');
    const name = this.identifier('a procedure name');
    this.punct('(', ` after the procedure name ${name.text}`);
    const args: XType[] = [];
    const first = this.peek();
    const a0 = this.procType(first, 'an argument type or void');
    if (a0.kind !== 'void') args.push(a0);
    while (this.isPunct(',')) {
      this.next();
      const at = this.peek();
      const a = this.procType(at, 'an argument type');
      if (a.kind === 'void' || args.length === 0) throw new Fail(this.at(at), 'void cannot be one of several arguments');
      args.push(a);
    }
    this.punct(')', ` or "," in the arguments of ${name.text}`);
    this.punct('=', ` and the number of the procedure ${name.text}`);
    const n = this.unsigned32('procedure number');
    this.punct(';', ` after the procedure ${name.text}`);
    // Versions often repeat a procedure (rpcb_prot.x's RPCBPROC_SET in versions 3 and 4): rpcgen
    // then writes the same #define twice, which C allows when the number is the same.
    const prevNumber = this.procNumbers.get(name.text);
    if (prevNumber === undefined) {
      this.declareName(name);
      this.procNumbers.set(name.text, n.value);
    } else if (prevNumber !== n.value) {
      throw new Fail(this.at(name), `procedure ${name.text} is numbered ${n.value} here and ${prevNumber} in another version (line ${this.names.get(name.text)!.line})`);
    }
    this.consts.set(name.text, n.value);
    return { name: name.text, number: n.value, args, result, pos: this.at(name) };
  }

  private procType(t: Token, what: string): XType {
    if (this.isWord('void')) {
      this.next();
      return { kind: 'void' };
    }
    const isResult = what.includes('result');
    if (this.isWord('opaque')) {
      // rpc_parse.c: "illegal result type", "opaque -- illegal argument type".
      throw new Fail(this.at(t), `opaque cannot be a procedure ${isResult ? 'result' : 'argument'} (rpcgen refuses it too); declare a typedef: typedef opaque name<max>;`);
    }
    let type: XType;
    if (this.isWord('string')) {
      // rpcgen: a bare string is string<> (xdr_wrapstring); an argument may give a bound.
      this.next();
      type = { kind: 'string', max: XDR_UNBOUNDED };
      if (!isResult && this.isPunct('<')) {
        this.next();
        if (!this.isPunct('>')) type = { kind: 'string', max: this.unsigned32('the maximum length of the string').value };
        this.punct('>');
      }
    } else {
      if (t.kind !== 'ident') this.expected(what);
      if (this.isWord('struct') || this.isWord('union') || this.isWord('enum')) {
        this.next();
        type = this.reference(this.identifier(`a ${t.text} name`));
      } else {
        type = this.typeSpecifier('proc', t).type('arg');
      }
    }
    // rpcgen's -N style allows a name after an argument's type; it changes nothing on the wire.
    if (!isResult && type.kind !== 'void' && this.peek().kind === 'ident' && !KEYWORDS.has(this.peek().text)) this.next();
    return type;
  }

  // ---------------------------------------------------------------- checks after parsing

  private check(): void {
    for (const a of [...this.aliases.values()]) {
      if (this.resolveAlias(a) === undefined) throw new Fail(this.at(a.target), `unknown constant "${a.target.text}" (const ${a.def.name} stands for it, and nothing declares it)`);
    }
    for (const r of this.refs) {
      if (this.typeByName.has(r.name)) continue;
      const imported = this.companions.find(r.name);
      if (imported !== null) {
        for (const def of imported) {
          if (this.typeByName.has(def.name)) continue;
          this.types.push(def);
          this.typeByName.set(def.name, def);
        }
        continue;
      }
      const lib = LIBTIRPC_TYPES[r.name];
      if (lib !== undefined && Object.hasOwn(LIBTIRPC_TYPES, r.name)) {
        if (lib.kind === 'scalar') {
          // Put the scalar in place of the reference: u_int is unsigned int, not a type of its own.
          Object.assign(r.ref, lib.type);
          delete (r.ref as { name?: string }).name;
        } else {
          const def = lib.def({ file: LIBTIRPC_PLACE, line: 0, column: 0 });
          this.types.push(def);
          this.typeByName.set(def.name, def);
        }
        continue;
      }
      const isConst = this.consts.has(r.name) || this.stringConsts.has(r.name);
      const where = r.pos.file ?? this.fileName;
      const read = this.companions.read();
      const companions = read.length === 0 ? '' : `, nor ${read.join(', ')} (the .x of its %#include headers)`;
      throw new Fail(r.pos, isConst ? `"${r.name}" is a constant, not a type` : `unknown type "${r.name}" used in ${where.replace(/^.*\//, '')}: no file read for ${this.fileName.replace(/^.*\//, '')} declares it (its #include files included${companions}), and libtirpc has no XDR routine xdr_${r.name}`);
    }
    const spec: XdrSpec = { fileName: this.fileName, consts: this.constDefs, types: this.types, programs: this.programs, typeByName: this.typeByName };
    for (const { def, caseTokens } of this.pendingUnions) this.checkUnion(spec, def, caseTokens);
    this.checkCycles(spec);
  }

  private checkUnion(spec: XdrSpec, def: UnionDef, caseTokens: Token[]): void {
    let disc: ReturnType<typeof resolveType>;
    try {
      disc = resolveType(spec, def.discriminant.type);
    } catch (e) {
      throw new Fail(def.pos, (e as Error).message);
    }
    const kind = disc.kind;
    if (kind !== 'int' && kind !== 'uint' && kind !== 'enum' && kind !== 'bool') {
      throw new Fail(def.pos, `union ${def.name}: the discriminant ${def.discriminant.name} must be int, unsigned int, bool or an enum (RFC 4506 (4.15))`);
    }
    const seen = new Set<number>();
    let k = 0;
    for (const arm of def.arms) {
      for (let j = 0; j < arm.values.length; j++) {
        const v = arm.values[j]!;
        const tok = caseTokens[k++]!;
        if (disc.kind === 'enum' && !disc.members.some((m) => m.value === v)) throw new Fail(this.at(tok), `union ${def.name}: case ${arm.labels[j]} is not a value of the enum ${disc.name}`);
        if (disc.kind === 'bool' && v !== 0 && v !== 1) throw new Fail(this.at(tok), `union ${def.name}: case ${arm.labels[j]} is not a bool (TRUE = 1 or FALSE = 0)`);
        if (disc.kind === 'uint' && v < 0) throw new Fail(this.at(tok), `union ${def.name}: case ${arm.labels[j]} is negative but the discriminant is unsigned`);
        const norm = disc.kind === 'uint' ? v >>> 0 : v | 0;
        if (seen.has(norm)) throw new Fail(this.at(tok), `union ${def.name}: case ${arm.labels[j]} appears twice`);
        seen.add(norm);
        arm.values[j] = norm;
      }
    }
    const names = new Set<string>([def.discriminant.name]);
    const arms = [...def.arms.map((a) => a.field), def.defaultArm];
    if (def.discriminant.name === '__proto__') throw new Fail(def.pos, `union ${def.name}: "__proto__" cannot be a member name`);
    for (const f of arms) {
      if (f === null || f === undefined) continue;
      if (f.name === '__proto__') throw new Fail(def.pos, `union ${def.name}: "__proto__" cannot be a member name`);
      if (names.has(f.name) && f.name === def.discriminant.name) throw new Fail(def.pos, `union ${def.name}: arm ${f.name} has the name of the discriminant`);
      names.add(f.name);
    }
  }

  /** A type may contain itself only through optional data or a variable-length array. */
  private checkCycles(spec: XdrSpec): void {
    const state = new Map<string, 1 | 2>();
    // One shared path (pushed and popped): copying it at every level is quadratic in the depth.
    const path: string[] = [];
    const visit = (name: string): void => {
      const s = state.get(name);
      if (s === 2) return;
      const def = spec.typeByName.get(name)!;
      this.checking = def;
      if (s === 1) throw new Fail(def.pos, `type ${name} contains itself (${[...path, name].join(' -> ')}); recursion must go through optional data (*) or a variable-length array`);
      state.set(name, 1);
      path.push(name);
      const walk = (t: XType): void => {
        if (t.kind === 'ref') visit(t.name);
        else if (t.kind === 'fixedArray' && t.length > 0) walk(t.element);
      };
      if (def.kind === 'typedef') walk(def.type);
      else if (def.kind === 'struct') def.fields.forEach((f) => walk(f.type));
      else if (def.kind === 'union') {
        walk(def.discriminant.type);
        def.arms.forEach((a) => a.field !== null && walk(a.field.type));
        if (def.defaultArm) walk(def.defaultArm.type);
      }
      path.pop();
      state.set(name, 2);
    };
    for (const t of spec.types) visit(t.name);
    // Every type has a finite smallest encoding now; computing it also validates typedef chains.
    for (const t of spec.types) minBytesOf(spec, { kind: 'ref', name: t.name });
  }
}

/** Options of the parser: how to read included files, and what is defined. */
export type XdrParseOptions = PreprocessOptions;

/**
 * Parses a .x file as one of rpcgen's outputs sees it (RPC_HDR by default: what is defined when
 * rpcgen writes the header). Never throws: errors come back with file, line and column.
 */
export function parseXdrSpec(text: string, fileName = 'input.x', options: XdrParseOptions = {}, output: RpcgenOutput = 'RPC_HDR'): XdrParseResult {
  return parseXdrSpecAt(text, fileName, options, output, undefined, 0, { files: MAX_COMPANION_FILES });
}

function parseXdrSpecAt(text: string, fileName: string, options: XdrParseOptions, output: RpcgenOutput, header: HeaderView | undefined, depth: number, budget: CompanionBudget): XdrParseResult {
  let parser: Parser | null = null;
  try {
    const pp = preprocess(text, fileName, { ...options, defines: { [output]: '1', ...options.defines } });
    // C code of every output includes the header, so the header's %#define and %#include lines count for all.
    const h = header ?? pp;
    parser = new Parser(pp.tokens, fileName, h.cDefines, companionsOf(h.cIncludes, options, depth, budget));
    return { ok: true, spec: parser.parse() };
  } catch (e) {
    if (e instanceof RangeError && parser !== null) {
      // The explicit bounds keep ordinary nesting well inside the stack; this is the last resort
      // for chains no bound covers (a typedef of a typedef of ... a hundred thousand deep).
      const at = parser.place();
      return { ok: false, error: { ...at, file: at.file || fileName, message: `the definitions nest too deeply for packetlab (${e.message})` } };
    }
    if (e instanceof Fail || e instanceof XdrSourceError) return { ok: false, error: { ...e.place, file: e.place.file || fileName, message: e.message } };
    throw e;
  }
}

/** Each definition of a spec by name, as JSON without places, with its place. */
function definitionsOf(spec: XdrSpec): Map<string, { json: string; pos: SourcePos }> {
  const strip = (k: string, v: unknown) => (k === 'pos' ? undefined : v);
  const out = new Map<string, { json: string; pos: SourcePos }>();
  for (const d of [...spec.consts, ...spec.types, ...spec.programs]) out.set(d.name, { json: JSON.stringify(d, strip), pos: d.pos });
  return out;
}

/** The first definition two outputs see differently: its place and what differs; null when none. */
function firstDifference(a: Map<string, { json: string; pos: SourcePos }>, b: Map<string, { json: string; pos: SourcePos }>, aName: string, bName: string): { pos: SourcePos; detail: string } | null {
  for (const [name, d] of a) {
    const other = b.get(name);
    if (other === undefined) return { pos: d.pos, detail: `${name} is declared with ${aName}, not with ${bName}` };
    if (other.json !== d.json) return { pos: d.pos, detail: `${name} is declared differently with ${aName} and with ${bName}` };
  }
  for (const [name, d] of b) if (!a.has(name)) return { pos: d.pos, detail: `${name} is declared with ${bName}, not with ${aName}` };
  return null;
}

/**
 * Parses a .x file for packetlab's one module, which holds what rpcgen writes into four outputs
 * (header, XDR routines, client and server stubs): the file is preprocessed with each of RPC_HDR,
 * RPC_XDR, RPC_CLNT and RPC_SVC defined in turn, and the definitions must be the same in all of
 * them (the `%` lines that usually differ do not count). Never throws.
 */
export function parseXdrFile(text: string, fileName: string, options: XdrParseOptions = {}): XdrParseResult {
  let header: HeaderView | undefined;
  try {
    header = preprocess(text, fileName, { ...options, defines: { RPC_HDR: '1', ...options.defines } });
  } catch (e) {
    if (!(e instanceof XdrSourceError)) throw e;
  }
  const budget: CompanionBudget = { files: MAX_COMPANION_FILES };
  const first = parseXdrSpecAt(text, fileName, options, RPCGEN_OUTPUTS[0], header, 0, budget);
  if (!first.ok) return first;
  const want = definitionsOf(first.spec);
  for (const output of RPCGEN_OUTPUTS.slice(1)) {
    const r = parseXdrSpecAt(text, fileName, options, output, header, 0, budget);
    if (!r.ok) return { ok: false, error: { ...r.error, message: `${r.error.message} (with ${output} defined, as rpcgen preprocesses for that output)` } };
    const diff = firstDifference(want, definitionsOf(r.spec), RPCGEN_OUTPUTS[0], output);
    if (diff !== null) {
      const message = `${diff.detail}: packetlab writes the types, codecs and stubs of all of rpcgen's outputs into one module, so #if on RPC_HDR, RPC_XDR, RPC_CLNT or RPC_SVC may choose only % lines`;
      return { ok: false, error: { file: diff.pos.file ?? fileName, line: diff.pos.line, column: diff.pos.column, message } };
    }
  }
  return first;
}
