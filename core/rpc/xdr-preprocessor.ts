// The subset of the C preprocessor that .x files use, run before the RPC language parser the way
// rpcgen runs cpp: object-like #define and #undef, #ifdef, #ifndef, #if (with defined(), integer
// arithmetic and comparisons), #elif, #else, #endif, #include "..." and <...>, #error, and the
// RPC_HDR, RPC_XDR, RPC_CLNT and RPC_SVC names rpcgen defines for each of its outputs. Its output
// is the token stream of the parser; every token keeps the file, line and column it came from, so
// errors name the place through includes.
//
// Sans-IO: included files are read through a function the caller passes in (the CLI reads the disk).
// Hostile input is bounded: include depth, bytes read, macro expansion depth and tokens produced.
//
// Lines that start with `%` are rpcgen's pass-through C: they are not directives here (a `%#define`
// defines nothing), their text is not expanded, and the parser skips them. A backslash at the end
// of a line continues a directive; on other lines it is kept, as rpcgen reads them.

/** Where a token or a problem is: the file (as named by its includer) and a 1-based line and column. */
export interface SourcePlace {
  file: string;
  line: number;
  column: number;
}

/** A token of the RPC language after preprocessing. */
export interface PpToken extends SourcePlace {
  kind: 'ident' | 'number' | 'string' | 'char' | 'punct' | 'other' | 'eof';
  text: string;
}

/** What the preprocessor needs from the outside world. */
export interface PreprocessOptions {
  /** Reads an included file; null when it does not exist or cannot be read. Without it, #include fails. */
  readFile?: (path: string) => string | null;
  /** -I folders, searched for "..." (after the including file's folder) and <...>. */
  includeDirs?: readonly string[];
  /** System folders searched last (rpcgen's cpp: /usr/local/include, /usr/include). */
  systemDirs?: readonly string[];
  /** Macros defined before the file (name to body text), e.g. RPC_HDR = "1". */
  defines?: Readonly<Record<string, string>>;
}

/** The outputs of rpcgen, each preprocessed with its own name defined (rpc_main.c: -DRPC_HDR for -h, ...). */
export const RPCGEN_OUTPUTS = ['RPC_HDR', 'RPC_XDR', 'RPC_CLNT', 'RPC_SVC'] as const;

/** One of rpcgen's outputs. */
export type RpcgenOutput = (typeof RPCGEN_OUTPUTS)[number];

/** Bounds on hostile input. */
export const PP_LIMITS = {
  /** Nested #include levels (a file that includes itself stops here). */
  includeDepth: 32,
  /** Bytes of all files read, the main file included. */
  totalBytes: 16 * 1024 * 1024,
  /** Nested macro expansions. */
  expansionDepth: 64,
  /** Tokens the preprocessor may produce in all. */
  totalTokens: 200_000,
  /** #if nesting. */
  conditionalDepth: 256,
  /** Parentheses, unary operators and ?: nested in one expression. */
  expressionDepth: 256,
};

/** A preprocessing or parsing problem at a place; thrown inside the parser, returned to callers. */
export class XdrSourceError extends Error {
  constructor(
    readonly place: SourcePlace,
    message: string,
  ) {
    super(message);
  }
}

const PUNCT = '{}[]<>(),;:=*+-/%!~&|^?.';

interface Directive {
  kind: 'directive';
  name: string;
  nameAt: SourcePlace;
  hashAt: SourcePlace;
  toks: PpToken[];
  /** The text after the directive name, comments removed, continuations joined. */
  rest: string;
}

interface TextLine {
  kind: 'text';
  toks: PpToken[];
}

/** A `%#define NAME value` pass-through line: C sees the macro, and so may the .x file's constants. */
interface CDefine {
  kind: 'cdefine';
  name: string;
  toks: PpToken[];
}

/** A `%#include <name.h>` pass-through line: the C header the output includes. */
interface CInclude {
  kind: 'cinclude';
  include: PassThroughInclude;
}

/** A header a `%#include` line names, with the place of the line. */
export interface PassThroughInclude {
  name: string;
  quoted: boolean;
  place: SourcePlace;
}

type Line = Directive | TextLine | CDefine | CInclude;

/** Splits one file into directive lines and lines of tokens; comments become whitespace. */
function lexFile(text: string, file: string): Line[] {
  const out: Line[] = [];
  const n = text.length;
  let i = 0;
  let line = 1;
  let col = 1;
  const place = (): SourcePlace => ({ file, line, column: col });
  const step = () => {
    if (text[i] === '\n') {
      line++;
      col = 1;
    } else col++;
    i++;
  };
  // Skips a block comment that starts at i ("/*"); false when it never closes.
  const skipComment = (): boolean => {
    step();
    step();
    while (i < n && !(text[i] === '*' && text[i + 1] === '/')) step();
    if (i >= n) return false;
    step();
    step();
    return true;
  };
  const lexToken = (toks: PpToken[], inDirective: boolean): boolean => {
    // Returns false at the end of the (logical) line.
    const c = text[i]!;
    if (c === '\n') return false;
    if (inDirective && c === '\\' && text[i + 1] === '\n') {
      step();
      step();
      return true;
    }
    if (inDirective && c === '\\' && text[i + 1] === '\r' && text[i + 2] === '\n') {
      step();
      step();
      step();
      return true;
    }
    if (c === ' ' || c === '\t' || c === '\r' || c === '\f' || c === '\v') {
      step();
      return true;
    }
    const at = place();
    if (c === '/' && text[i + 1] === '*') {
      if (!skipComment()) throw new XdrSourceError(at, 'comment is not closed (missing */)');
      return true;
    }
    if (c === '/' && text[i + 1] === '/') {
      while (i < n && text[i] !== '\n') step();
      return true;
    }
    const start = i;
    if (/[A-Za-z_]/.test(c)) {
      while (i < n && /[A-Za-z0-9_]/.test(text[i]!)) step();
      toks.push({ kind: 'ident', text: text.slice(start, i), ...at });
      return true;
    }
    if (/[0-9]/.test(c)) {
      while (i < n && /[0-9A-Za-z_.]/.test(text[i]!)) step();
      toks.push({ kind: 'number', text: text.slice(start, i), ...at });
      return true;
    }
    if (c === '"' || c === "'") {
      step();
      let closed = false;
      while (i < n && text[i] !== '\n') {
        if (text[i] === '\\' && i + 1 < n && text[i + 1] !== '\n') {
          step();
          step();
          continue;
        }
        if (text[i] === c) {
          step();
          closed = true;
          break;
        }
        step();
      }
      toks.push({ kind: closed ? (c === '"' ? 'string' : 'char') : 'other', text: text.slice(start, i), ...at });
      return true;
    }
    step();
    toks.push({ kind: PUNCT.includes(c) ? 'punct' : 'other', text: c, ...at });
    return true;
  };
  while (i < n) {
    // At the start of a line.
    let j = i;
    while (j < n && (text[j] === ' ' || text[j] === '\t' || text[j] === '\f' || text[j] === '\v' || text[j] === '\r')) j++;
    if (text[i] === '%') {
      // rpcgen pass-through: the whole line is C for its output.
      const startLine = line;
      const start = i;
      while (i < n && text[i] !== '\n') step();
      const inc = /^%\s*#\s*include\s*(?:"([^"]+)"|<([^>]+)>)/.exec(text.slice(start, i));
      if (inc !== null) out.push({ kind: 'cinclude', include: { name: inc[1] ?? inc[2]!, quoted: inc[1] !== undefined, place: { file, line: startLine, column: 1 } } });
      const m = /^%\s*#\s*define\s+([A-Za-z_][A-Za-z0-9_]*)(?![A-Za-z0-9_(])(.*)$/.exec(text.slice(start, i).replace(/\r$/, ''));
      if (m !== null) {
        try {
          const body = lexFile(m[2]!, file)[0];
          const toks = body?.kind === 'text' ? body.toks.map((t) => ({ ...t, line: startLine, column: t.column + (m[0].length - m[2]!.length) })) : [];
          out.push({ kind: 'cdefine', name: m[1]!, toks });
        } catch (e) {
          if (!(e instanceof XdrSourceError)) throw e; // a comment that goes on: not a value
        }
      }
      if (i < n) step();
      continue;
    }
    if (text[j] === '#') {
      while (i < j) step();
      const hashAt = place();
      step();
      const toks: PpToken[] = [];
      const pieces: string[] = [];
      let pieceStart = i;
      while (i < n) {
        if (text[i] === '/' && (text[i + 1] === '*' || text[i + 1] === '/')) {
          pieces.push(text.slice(pieceStart, i));
          if (!lexToken(toks, true)) break;
          pieces.push(' ');
          pieceStart = i;
          continue;
        }
        if (!lexToken(toks, true)) break;
      }
      pieces.push(text.slice(pieceStart, i));
      if (i < n) step();
      const nameTok = toks.shift();
      if (nameTok === undefined) continue; // the null directive
      const raw = pieces.join('').replace(/\\\r?\n/g, ' ');
      const nameEnd = raw.indexOf(nameTok.text) + nameTok.text.length;
      out.push({ kind: 'directive', name: nameTok.text, nameAt: nameTok, hashAt, toks, rest: raw.slice(nameEnd).trim() });
      continue;
    }
    const toks: PpToken[] = [];
    while (i < n && lexToken(toks, false));
    if (i < n) step();
    if (toks.length > 0) out.push({ kind: 'text', toks });
  }
  return out;
}

function dirName(path: string): string {
  const k = path.lastIndexOf('/');
  return k < 0 ? '' : path.slice(0, k + 1);
}

function joinPath(dir: string, name: string): string {
  if (name.startsWith('/') || dir === '') return name;
  return dir.endsWith('/') ? `${dir}${name}` : `${dir}/${name}`;
}

/** The folders an include is searched in, in order: the includer's folder for "...", -I, the system's. */
export function searchDirs(opts: PreprocessOptions, includer: string, quoted: boolean): string[] {
  return [...(quoted ? [dirName(includer)] : []), ...(opts.includeDirs ?? []), ...(opts.systemDirs ?? [])];
}

/** The first file of that name in the folders, read. */
export function findInclude(read: (path: string) => string | null, dirs: readonly string[], name: string): { path: string; text: string } | null {
  const candidates = name.startsWith('/') ? [name] : dirs.map((dir) => joinPath(dir, name));
  for (const path of candidates) {
    const text = read(path);
    if (text !== null) return { path, text };
  }
  return null;
}

interface Cond {
  /** This group's lines are read. */
  active: boolean;
  /** The enclosing group is read. */
  parentActive: boolean;
  /** A branch of this #if was taken already. */
  taken: boolean;
  seenElse: boolean;
  at: SourcePlace;
  what: string;
}

interface Macro {
  body: PpToken[];
}

/** Parses and evaluates a #if expression (C integer arithmetic on 64-bit values, as cpp). */
class CondExpr {
  private i = 0;
  private depth = 0;

  constructor(
    private readonly toks: PpToken[],
    private readonly at: SourcePlace,
    private readonly resolve: ((t: PpToken) => bigint | null) | null = null,
  ) {}

  private peek(k = 0): PpToken | undefined {
    return this.toks[this.i + k];
  }

  /** The operator at the cursor, joining two adjacent characters (<<, >=, &&, ...). */
  private op(): string | null {
    const t = this.peek();
    if (t === undefined || t.kind !== 'punct') return null;
    const u = this.peek(1);
    if (u !== undefined && u.kind === 'punct' && u.line === t.line && u.column === t.column + 1 && u.file === t.file) {
      const two = t.text + u.text;
      if (['<<', '>>', '<=', '>=', '==', '!=', '&&', '||'].includes(two)) return two;
    }
    return t.text;
  }

  private take(o: string): void {
    this.i += o.length;
  }

  private fail(message: string): never {
    throw new XdrSourceError(this.peek() ?? this.at, message);
  }

  evaluate(): bigint {
    if (this.toks.length === 0) throw new XdrSourceError(this.at, '#if with no expression');
    const v = this.ternary();
    if (this.peek() !== undefined) this.fail(`unexpected "${this.peek()!.text}" in the #if expression`);
    return v;
  }

  /** Counts one level of nesting; hostile input must not exhaust the stack. */
  private nest<T>(f: () => T): T {
    if (++this.depth > PP_LIMITS.expressionDepth) this.fail(`the expression nests more than ${PP_LIMITS.expressionDepth} levels`);
    try {
      return f();
    } finally {
      this.depth--;
    }
  }

  private ternary(): bigint {
    const c = this.binary(0);
    if (this.op() !== '?') return c;
    this.take('?');
    return this.nest(() => {
      const a = this.ternary();
      if (this.op() !== ':') this.fail('expected ":" in the #if expression');
      this.take(':');
      const b = this.ternary();
      return c !== 0n ? a : b;
    });
  }

  private static readonly LEVELS: string[][] = [['||'], ['&&'], ['|'], ['^'], ['&'], ['==', '!='], ['<', '>', '<=', '>='], ['<<', '>>'], ['+', '-'], ['*', '/', '%']];

  private binary(level: number): bigint {
    if (level >= CondExpr.LEVELS.length) return this.unary();
    let a = this.binary(level + 1);
    for (;;) {
      const o = this.op();
      if (o === null || !CondExpr.LEVELS[level]!.includes(o)) return a;
      const opTok = this.peek()!;
      this.take(o);
      const b = this.binary(level + 1);
      a = BigInt.asIntN(64, CondExpr.apply(o, a, b, opTok));
    }
  }

  private static apply(o: string, a: bigint, b: bigint, at: SourcePlace): bigint {
    const bool = (x: boolean) => (x ? 1n : 0n);
    switch (o) {
      case '||':
        return bool(a !== 0n || b !== 0n);
      case '&&':
        return bool(a !== 0n && b !== 0n);
      case '|':
        return a | b;
      case '^':
        return a ^ b;
      case '&':
        return a & b;
      case '==':
        return bool(a === b);
      case '!=':
        return bool(a !== b);
      case '<':
        return bool(a < b);
      case '>':
        return bool(a > b);
      case '<=':
        return bool(a <= b);
      case '>=':
        return bool(a >= b);
      case '<<':
        return b < 0n || b > 63n ? 0n : a << b;
      case '>>':
        return b < 0n || b > 63n ? (a < 0n ? -1n : 0n) : a >> b;
      case '+':
        return a + b;
      case '-':
        return a - b;
      case '*':
        return a * b;
      default:
        if (b === 0n) throw new XdrSourceError(at, 'division by zero in the #if expression');
        return o === '/' ? a / b : a % b;
    }
  }

  private unary(): bigint {
    const o = this.op();
    if (o === '!' || o === '~' || o === '-' || o === '+') {
      this.take(o);
      const v = this.nest(() => this.unary());
      if (o === '!') return v === 0n ? 1n : 0n;
      if (o === '~') return BigInt.asIntN(64, ~v);
      return o === '-' ? BigInt.asIntN(64, -v) : v;
    }
    const t = this.peek();
    if (t === undefined) return this.fail('the #if expression ends too early');
    if (o === '(') {
      this.take('(');
      const v = this.nest(() => this.ternary());
      if (this.op() !== ')') this.fail('expected ")" in the #if expression');
      this.take(')');
      return v;
    }
    this.i++;
    if (t.kind === 'number') {
      const v = parseIntegerText(t.text);
      if (v === null) throw new XdrSourceError(t, `"${t.text}" is not an integer constant`);
      return v;
    }
    if (t.kind === 'char') return BigInt(charValue(t.text));
    if (t.kind === 'ident') {
      // An identifier that is not a macro is 0 in #if, as in C (C11 6.10.1 (4)).
      if (this.resolve === null) return 0n;
      const v = this.resolve(t);
      if (v === null) throw new XdrSourceError(t, `unknown name "${t.text}"`);
      return v;
    }
    throw new XdrSourceError(t, `unexpected "${t.text}" in the #if expression`);
  }
}

/**
 * Evaluates tokens as a C integer constant expression, names resolved by `resolve`; null when they
 * are not one (a name unknown, a string, division by zero).
 */
export function evaluateInteger(toks: PpToken[], at: SourcePlace, resolve: (t: PpToken) => bigint | null): bigint | null {
  try {
    return new CondExpr(toks, at, resolve).evaluate();
  } catch (e) {
    if (e instanceof XdrSourceError) return null;
    throw e;
  }
}

/** A C integer constant (decimal, 0x hexadecimal, 0 octal, with u/l suffixes); null when malformed. */
export function parseIntegerText(text: string): bigint | null {
  const t = text.replace(/[uUlL]+$/, '');
  if (/^0[xX][0-9a-fA-F]+$/.test(t)) return BigInt(t);
  if (/^0[0-7]*$/.test(t)) return t === '0' ? 0n : BigInt(`0o${t.slice(1)}`);
  if (/^[1-9][0-9]*$/.test(t)) return BigInt(t);
  return null;
}

/** The value of a C character constant ('a', '\\n'), as C reads it. */
export function charValue(text: string): number {
  const body = text.slice(1, -1);
  if (body.startsWith('\\')) {
    const esc: Record<string, number> = { n: 10, t: 9, r: 13, '0': 0, '\\': 92, "'": 39, '"': 34, a: 7, b: 8, f: 12, v: 11 };
    return esc[body[1] ?? ''] ?? body.charCodeAt(1);
  }
  return body.charCodeAt(0) || 0;
}

class Preprocessor {
  private readonly macros = new Map<string, Macro>();
  /** The `%#define` lines read, by name: what C sees beside the .x file's constants. */
  readonly cDefines = new Map<string, PpToken[]>();
  /** The `%#include` lines read, in order. */
  readonly cIncludes: PassThroughInclude[] = [];
  private readonly out: PpToken[] = [];
  private bytesRead = 0;

  constructor(private readonly opts: PreprocessOptions) {
    for (const [name, body] of Object.entries(opts.defines ?? {})) {
      const toks = (lexFile(body, '<command line>')[0] as TextLine | undefined)?.toks ?? [];
      this.macros.set(name, { body: toks });
    }
  }

  run(text: string, file: string): PpToken[] {
    this.file(text, file, 0);
    const lines = text.split('\n');
    this.out.push({ kind: 'eof', text: 'end of file', file, line: lines.length, column: lines[lines.length - 1]!.length + 1 });
    return this.out;
  }

  private file(text: string, file: string, depth: number): void {
    this.bytesRead += text.length;
    if (this.bytesRead > PP_LIMITS.totalBytes) throw new XdrSourceError({ file, line: 1, column: 1 }, `the files read exceed ${PP_LIMITS.totalBytes} bytes in all`);
    const lines = lexFile(text, file);
    const conds: Cond[] = [];
    const active = () => conds.length === 0 || conds[conds.length - 1]!.active;
    for (const l of lines) {
      if (l.kind === 'text') {
        if (active()) this.emit(l.toks);
        continue;
      }
      if (l.kind === 'cdefine') {
        if (active()) this.cDefines.set(l.name, l.toks);
        continue;
      }
      if (l.kind === 'cinclude') {
        if (active()) this.cIncludes.push(l.include);
        continue;
      }
      const d = l;
      switch (d.name) {
        case 'ifdef':
        case 'ifndef':
        case 'if': {
          if (conds.length >= PP_LIMITS.conditionalDepth) throw new XdrSourceError(d.hashAt, `#if nested more than ${PP_LIMITS.conditionalDepth} levels`);
          const parent = active();
          const v = parent ? this.condition(d) : false;
          conds.push({ active: parent && v, parentActive: parent, taken: v, seenElse: false, at: d.hashAt, what: `#${d.name}` });
          break;
        }
        case 'elif': {
          const c = conds[conds.length - 1];
          if (c === undefined) throw new XdrSourceError(d.hashAt, '#elif without #if');
          if (c.seenElse) throw new XdrSourceError(d.hashAt, '#elif after #else');
          const v = c.parentActive && !c.taken ? this.condition(d) : false;
          c.active = v;
          c.taken ||= v;
          break;
        }
        case 'else': {
          const c = conds[conds.length - 1];
          if (c === undefined) throw new XdrSourceError(d.hashAt, '#else without #if');
          if (c.seenElse) throw new XdrSourceError(d.hashAt, `#else after #else (the ${c.what} is at line ${c.at.line})`);
          c.seenElse = true;
          c.active = c.parentActive && !c.taken;
          c.taken = true;
          break;
        }
        case 'endif':
          if (conds.pop() === undefined) throw new XdrSourceError(d.hashAt, '#endif without #if');
          break;
        default:
          if (!active()) break; // other directives in skipped groups are not read (C11 6.10.1 (6))
          this.directive(d, file, depth);
      }
    }
    const open = conds[conds.length - 1];
    if (open !== undefined) throw new XdrSourceError(open.at, `${open.what} is not closed (missing #endif)`);
  }

  private directive(d: Directive, file: string, depth: number): void {
    switch (d.name) {
      case 'define': {
        const name = d.toks[0];
        if (name === undefined || name.kind !== 'ident') throw new XdrSourceError(name ?? d.nameAt, 'expected a macro name after #define');
        if (name.text === 'defined') throw new XdrSourceError(name, '"defined" cannot be a macro name');
        const next = d.toks[1];
        if (next !== undefined && next.kind === 'punct' && next.text === '(' && next.line === name.line && next.column === name.column + name.text.length) {
          throw new XdrSourceError(next, `function-like macros (#define ${name.text}(...)) are not supported; define a constant instead`);
        }
        this.macros.set(name.text, { body: d.toks.slice(1) });
        return;
      }
      case 'undef': {
        const name = d.toks[0];
        if (name === undefined || name.kind !== 'ident') throw new XdrSourceError(name ?? d.nameAt, 'expected a macro name after #undef');
        this.macros.delete(name.text);
        return;
      }
      case 'include':
        this.include(d, file, depth);
        return;
      case 'error':
        throw new XdrSourceError(d.hashAt, `#error ${d.rest}`);
      case 'pragma':
      case 'ident':
      case 'sccs':
      case 'warning':
      case 'line':
        return;
      default:
        throw new XdrSourceError(d.nameAt, `unknown preprocessor directive #${d.name}`);
    }
  }

  private include(d: Directive, file: string, depth: number): void {
    let rest = d.rest;
    if (!rest.startsWith('"') && !rest.startsWith('<')) {
      // #include MACRO: the macro's expansion names the file.
      rest = this.expand(d.toks, 0, new Set())
        .map((t) => t.text)
        .join('');
    }
    const m = /^"([^"]+)"|^<([^>]+)>/.exec(rest);
    if (m === null) throw new XdrSourceError(d.nameAt, '#include expects "FILE" or <FILE>');
    const name = m[1] ?? m[2]!;
    const quoted = m[1] !== undefined;
    if (depth + 1 > PP_LIMITS.includeDepth) throw new XdrSourceError(d.hashAt, `#include nested more than ${PP_LIMITS.includeDepth} levels (does ${name} include itself?)`);
    const read = this.opts.readFile;
    if (read === undefined) throw new XdrSourceError(d.hashAt, `cannot include ${name}: no file reader was given`);
    const dirs = searchDirs(this.opts, file, quoted);
    const found = findInclude(read, dirs, name);
    if (found !== null) {
      this.file(found.text, found.path, depth + 1);
      return;
    }
    const searched = name.startsWith('/') ? '' : ` (searched ${dirs.map((x) => (x === '' ? '.' : x.replace(/(.)\/$/, '$1'))).join(', ') || 'nothing'})`;
    throw new XdrSourceError(d.hashAt, `cannot find the included file ${quoted ? `"${name}"` : `<${name}>`}${searched}`);
  }

  private condition(d: Directive): boolean {
    if (d.name === 'ifdef' || d.name === 'ifndef') {
      const name = d.toks[0];
      if (name === undefined || name.kind !== 'ident') throw new XdrSourceError(name ?? d.nameAt, `expected a macro name after #${d.name}`);
      const has = this.macros.has(name.text);
      return d.name === 'ifdef' ? has : !has;
    }
    // defined X and defined(X) first, then macros, then the arithmetic.
    const toks: PpToken[] = [];
    for (let k = 0; k < d.toks.length; k++) {
      const t = d.toks[k]!;
      if (t.kind === 'ident' && t.text === 'defined') {
        let nameTok = d.toks[k + 1];
        let paren = false;
        if (nameTok?.kind === 'punct' && nameTok.text === '(') {
          paren = true;
          nameTok = d.toks[k + 2];
        }
        if (nameTok === undefined || nameTok.kind !== 'ident') throw new XdrSourceError(nameTok ?? t, 'expected a macro name after defined');
        k += paren ? 2 : 1;
        if (paren) {
          const close = d.toks[k + 1];
          if (close === undefined || close.text !== ')') throw new XdrSourceError(close ?? nameTok, 'expected ")" after defined(NAME');
          k++;
        }
        toks.push({ ...t, kind: 'number', text: this.macros.has(nameTok.text) ? '1' : '0' });
        continue;
      }
      toks.push(t);
    }
    const expanded = this.expand(toks, 0, new Set(), false);
    return new CondExpr(expanded, d.nameAt).evaluate() !== 0n;
  }

  private emit(toks: PpToken[]): void {
    const expanded = this.expand(toks, 0, new Set());
    if (this.out.length + expanded.length > PP_LIMITS.totalTokens) throw new XdrSourceError(toks[0]!, `more than ${PP_LIMITS.totalTokens} tokens after macro expansion`);
    for (const t of expanded) this.out.push(t);
  }

  /**
   * Replaces macros in `toks` (a macro is not expanded inside its own expansion, C11 6.10.3.4 (2)).
   * Expanded tokens take the place of the macro's use. With `fold`, an expansion of several tokens
   * that is an integer constant expression becomes one number: `#define SIZE (4 * 8)` can then
   * size an array, where rpcgen, which reads only numbers and names there, would have refused it.
   */
  private expand(toks: PpToken[], depth: number, disabled: Set<string>, fold = true): PpToken[] {
    const out: PpToken[] = [];
    for (const t of toks) {
      const m = t.kind === 'ident' && !disabled.has(t.text) ? this.macros.get(t.text) : undefined;
      if (m === undefined) {
        out.push(t);
        continue;
      }
      if (depth >= PP_LIMITS.expansionDepth) throw new XdrSourceError(t, `macro ${t.text}: expansions nested more than ${PP_LIMITS.expansionDepth} levels`);
      const inner = new Set(disabled);
      inner.add(t.text);
      const body = m.body.map((b) => ({ ...b, file: t.file, line: t.line, column: t.column }));
      let expanded = this.expand(body, depth + 1, inner, fold);
      if (fold && depth === 0 && expanded.length > 1 && expanded.every((e) => e.kind === 'number' || e.kind === 'punct' || e.kind === 'char')) {
        try {
          const v = new CondExpr(expanded, t).evaluate();
          expanded = [{ kind: 'number', text: v.toString(), file: t.file, line: t.line, column: t.column }];
        } catch (e) {
          if (!(e instanceof XdrSourceError)) throw e;
        }
      }
      for (const e of expanded) {
        out.push(e);
        if (out.length > PP_LIMITS.totalTokens) throw new XdrSourceError(t, `macro ${t.text}: more than ${PP_LIMITS.totalTokens} tokens after macro expansion`);
      }
    }
    return out;
  }
}

/** What the preprocessor gives the parser. */
export interface Preprocessed {
  tokens: PpToken[];
  /** `%#define NAME value` lines in the groups read, last one of a name winning. */
  cDefines: Map<string, PpToken[]>;
  /** `%#include` lines in the groups read. */
  cIncludes: PassThroughInclude[];
}

/**
 * Preprocesses a .x file into the parser's tokens. Throws XdrSourceError (with file, line, column)
 * on a bad directive, an include that cannot be found, or input beyond PP_LIMITS.
 */
export function preprocess(text: string, file: string, opts: PreprocessOptions = {}): Preprocessed {
  const p = new Preprocessor(opts);
  const tokens = p.run(text, file);
  return { tokens, cDefines: p.cDefines, cIncludes: p.cIncludes };
}
