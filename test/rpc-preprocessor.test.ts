// The preprocessor of .x files (core/rpc/xdr-preprocessor.ts): the cpp subset rpcgen's inputs use,
// with rpcgen's RPC_HDR/RPC_XDR/RPC_CLNT/RPC_SVC, #include through a search path, and errors that
// name the file, line and column through includes. Included files come from an in-memory map: the
// preprocessor is sans-IO and reads files only through the function it is given.

import { mkdtempSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { formatParseError, parseXdrFile, parseXdrSpec, type XdrParseOptions } from '../core/rpc/xdr-parser.js';
import { PP_LIMITS, preprocess } from '../core/rpc/xdr-preprocessor.js';
import type { XdrSpec } from '../core/rpc/spec.js';
import { cliAsync } from './helpers/cli.js';

function files(map: Record<string, string>): XdrParseOptions {
  return { readFile: (p) => map[p] ?? null };
}

function ok(text: string, opts: XdrParseOptions = {}, file = 'main.x'): XdrSpec {
  const r = parseXdrFile(text, file, opts);
  if (!r.ok) throw new Error(formatParseError(r.error));
  return r.spec;
}

function err(text: string, opts: XdrParseOptions = {}, file = 'main.x'): string {
  const r = parseXdrFile(text, file, opts);
  if (r.ok) throw new Error('parsed, but an error was expected');
  return formatParseError(r.error);
}

function fieldKinds(spec: XdrSpec, name: string): unknown {
  const t = spec.typeByName.get(name);
  if (t?.kind !== 'struct') throw new Error(`${name} is not a struct`);
  return t.fields.map((f) => (f.type.kind === 'fixedOpaque' ? `opaque[${f.type.length}]` : f.type.kind === 'string' ? `string<${f.type.max}>` : f.type.kind === 'varArray' ? `${f.type.kind}<${f.type.max}>` : f.type.kind));
}

describe('#define and #undef', () => {
  it('a defined number or constant expression sizes arrays and strings; #undef removes it', () => {
    const s = ok(['#define KEYLEN 16', '#define NAMELEN (KEYLEN * 4 + 1)', '#define NEG -3', 'struct k { opaque key[KEYLEN]; string name<NAMELEN>; };', 'enum e { A = NEG };', '#undef KEYLEN', 'const KEYLEN = 2;'].join('\n'));
    expect(fieldKinds(s, 'k')).toEqual(['opaque[16]', 'string<65>']);
    expect(s.typeByName.get('e')).toMatchObject({ members: [{ name: 'A', value: -3 }] });
    expect(s.consts.map((c) => [c.name, c.value])).toEqual([['KEYLEN', 2]]);
    expect(err('#define N 4\n#undef N\nstruct k { opaque key[N]; };')).toBe('main.x:3:23: unknown constant "N" (constants and enum values must be declared before they are used)');
  });

  it('a macro may stand for a type; a macro is not expanded inside itself', () => {
    const s = ok('#define word unsigned int\n#define loop loop\nstruct w { word a; };\nstruct loop { int x; };');
    expect(fieldKinds(s, 'w')).toEqual(['uint']);
    expect(s.typeByName.has('loop')).toBe(true);
    // A and B refer to each other: each stops at the other's name, as in cpp.
    expect(err('#define A B\n#define B A\nstruct s { A x; };')).toMatch(/^main\.x:3:12: unknown type "A" used in main\.x/);
  });

  it('refuses function-like macros, and bounds expansion depth and size', () => {
    expect(err('#define F(x) x\n')).toBe('main.x:1:10: function-like macros (#define F(...)) are not supported; define a constant instead');
    const deep = Array.from({ length: PP_LIMITS.expansionDepth + 2 }, (_, i) => `#define M${i + 1} M${i}`).join('\n');
    expect(err(`${deep}\nstruct s { M${PP_LIMITS.expansionDepth + 1} x; };`)).toMatch(/main\.x:\d+:12: macro M\d+: expansions nested more than 64 levels/);
    // Each level doubles: 2^40 tokens if nothing stopped it.
    const wide = ['#define A0 int', ...Array.from({ length: 40 }, (_, i) => `#define A${i + 1} A${i} A${i}`)].join('\n');
    const t0 = performance.now();
    expect(err(`${wide}\nA40`)).toMatch(/main\.x:42:1: macro A\d+: more than 200000 tokens after macro expansion/);
    expect(performance.now() - t0).toBeLessThan(5000);
  });

  it('% lines are pass-through C: a %#define is no macro here and % text is not expanded', () => {
    // C sees a %#define, so its number may bound an array (nlm_prot.x does so); it expands nothing.
    expect(fieldKinds(ok('%#define N 4\nstruct k { opaque key[N]; };'), 'k')).toEqual(['opaque[4]']);
    expect(err('%#define T int\nstruct k { T key; };')).toMatch(/^main\.x:2:12: unknown type "T"/);
    expect(ok('%#define N 4\n#ifdef N\nconst X = 1;\n#endif\n').consts).toEqual([]);
    const s = ok('#define int garbage\n%int int int\nconst X = 1;');
    expect(s.consts).toHaveLength(1);
  });
});

describe('conditionals', () => {
  it('#ifdef, #ifndef, #if defined(), #elif, #else and #endif choose the lines, nested', () => {
    const text = [
      '#define TWO 2',
      '#ifdef TWO',
      'const A = 1;',
      '#else',
      'const A = 2;',
      '#endif',
      '#ifndef TWO',
      'const B = 1;',
      '#elif TWO == 3',
      'const B = 3;',
      '#elif defined(TWO) && !defined NOPE && (TWO << 2) == 8',
      'const B = 8;',
      '#else',
      'const B = 9;',
      '#endif',
      '#if 0',
      '#if garbage (((',
      '#include "nowhere.x"',
      '#error never',
      '#endif',
      '#else',
      '#if UNDEFINED_NAME',
      'const C = 0;',
      '#else',
      '/* #endif inside a comment is no directive',
      '#endif */',
      'const C = 1;',
      '#endif',
      '#endif',
    ].join('\n');
    expect(ok(text).consts.map((c) => [c.name, c.value])).toEqual([
      ['A', 1],
      ['B', 8],
      ['C', 1],
    ]);
  });

  it('RPC_HDR, RPC_XDR, RPC_CLNT and RPC_SVC are defined one at a time, as rpcgen does for each output', () => {
    const text = '#ifdef RPC_HDR\n%#include <stdio.h>\n#elif defined(RPC_XDR)\n%#include "x.h"\n#endif\n#if RPC_SVC\nconst WHO = 4;\n#elif RPC_CLNT\nconst WHO = 3;\n#elif RPC_XDR\nconst WHO = 2;\n#else\nconst WHO = 1;\n#endif\n';
    const who = (output: 'RPC_HDR' | 'RPC_XDR' | 'RPC_CLNT' | 'RPC_SVC') => {
      const r = parseXdrSpec(text, 'v.x', {}, output);
      if (!r.ok) throw new Error(formatParseError(r.error));
      return r.spec.consts[0]!.value;
    };
    expect([who('RPC_HDR'), who('RPC_XDR'), who('RPC_CLNT'), who('RPC_SVC')]).toEqual([1, 2, 3, 4]);
    // One TypeScript module holds all four outputs: % lines may differ between them, definitions not.
    expect(ok('#ifdef RPC_HDR\n%extern int x;\n#endif\nconst A = 1;\n').consts).toHaveLength(1);
    expect(err(text, {}, 'v.x')).toBe('v.x:13:7: WHO is declared differently with RPC_HDR and with RPC_XDR: packetlab writes the types, codecs and stubs of all of rpcgen\'s outputs into one module, so #if on RPC_HDR, RPC_XDR, RPC_CLNT or RPC_SVC may choose only % lines');
    expect(err('#ifdef RPC_SVC\nstruct only_svc { int x; };\n#endif\n')).toMatch(/^main\.x:2:8: only_svc is declared with RPC_SVC, not with RPC_HDR: /);
  });

  it('names the place of unbalanced and unknown directives', () => {
    expect(err('const A = 1;\n  #ifdef X\nconst B = 2;\n')).toBe('main.x:2:3: #ifdef is not closed (missing #endif)');
    expect(err('#endif\n')).toBe('main.x:1:1: #endif without #if');
    expect(err('#if 1\n#else\n#else\n#endif')).toBe('main.x:3:1: #else after #else (the #if is at line 1)');
    expect(err('#elif 1\n')).toBe('main.x:1:1: #elif without #if');
    expect(err('#if 1 +\n#endif')).toBe('main.x:1:2: the #if expression ends too early');
    expect(err('#if 1 / 0\n#endif')).toBe('main.x:1:7: division by zero in the #if expression');
    expect(err('#frobnicate\n')).toBe('main.x:1:2: unknown preprocessor directive #frobnicate');
    expect(err('#error stop \\\n  here\n')).toBe('main.x:1:1: #error stop    here');
    expect(err('#define\n')).toBe('main.x:1:2: expected a macro name after #define');
  });
});

describe('#include', () => {
  const common = '#ifndef COMMON_X\n#define COMMON_X\nconst MAXNAME = 32;\ntypedef string name_t<MAXNAME>;\n#endif\n';

  it('"..." searches the including file\'s folder, then -I, then the system folders; <...> skips the first', () => {
    const opts: XdrParseOptions = {
      ...files({ 'proto/common.x': common, 'inc/extra.x': 'struct extra { name_t who; };\n', 'sys/rpcsvc/base.x': 'typedef unsigned int base_t;\n' }),
      includeDirs: ['inc'],
      systemDirs: ['sys'],
    };
    const s = ok('#include "common.x"\n#include "common.x"\n#include <extra.x>\n#include <rpcsvc/base.x>\nstruct top { extra e; base_t b; };\n', opts, 'proto/main.x');
    expect(s.types.map((t) => t.name)).toEqual(['name_t', 'extra', 'base_t', 'top']);
    expect(s.typeByName.get('name_t')?.pos).toEqual({ file: 'proto/common.x', line: 4, column: 16 });
    expect(err('#include <common.x>\n', opts, 'proto/main.x')).toBe('proto/main.x:1:1: cannot find the included file <common.x> (searched inc, sys)');
    expect(err('#include "none.x"\n', opts, 'proto/main.x')).toBe('proto/main.x:1:1: cannot find the included file "none.x" (searched proto, inc, sys)');
    expect(err('#include nothing\n', opts)).toBe('main.x:1:2: #include expects "FILE" or <FILE>');
  });

  it('errors inside an included file name that file, line and column', () => {
    const opts = files({ 'a.x': '#include "b.x"\n', 'b.x': 'struct b {\n  int x\n};\n', 'dup.x': 'const MAXNAME = 1;\n', 'common.x': common });
    expect(err('#include "a.x"\n', opts)).toBe('b.x:3:1: expected ";" after the member x, found "}"');
    expect(err('#include "common.x"\n#include "dup.x"\n', opts)).toBe('dup.x:1:7: "MAXNAME" is already declared at common.x:3');
    expect(err('#include "common.x"\nstruct s { name_t n; int n; };\n', opts)).toBe('main.x:2:26: struct s: member n is declared twice');
  });

  it('a type left to C finds its .x behind a %#include header, as nis_callback.x finds nis_object', () => {
    const opts: XdrParseOptions = {
      ...files({
        'sys/lib/objects.x': '#ifdef RPC_HDR\n%#include <lib/other.h>\n#endif\nstruct obj { name_t name; opaque data<>; };\ntypedef string name_t<8>;\nstruct unused { int x; };\n#if RPC_HDR\nthis is C, not XDR\n#endif\n',
        'sys/lib/other.x': 'garbage',
      }),
      systemDirs: ['sys'],
    };
    const text = '#ifdef RPC_HDR\n%#include <lib/objects.h>\n%#include <stdio.h>\n#endif\nstruct cb { obj *o; };\n';
    const s = ok(text, opts);
    // The type and what it needs, read as rpcgen -c reads the companion (RPC_XDR: its header part skipped).
    expect(s.types.map((t) => `${t.name} ${t.pos.file}:${t.pos.line}`)).toEqual(['cb main.x:5', 'obj sys/lib/objects.x:4', 'name_t sys/lib/objects.x:5']);
    expect(err('#ifdef RPC_HDR\n%#include <lib/objects.h>\n#endif\nstruct cb { thing t; };\n', opts)).toBe(
      'main.x:4:13: unknown type "thing" used in main.x: no file read for main.x declares it (its #include files included, nor sys/lib/objects.x (the .x of its %#include headers)), and libtirpc has no XDR routine xdr_thing',
    );
  });

  it('companion files are read only so many times, however many headers name each other', () => {
    // Each of 40 headers names all 40: without a budget, 40^4 files would be parsed.
    const map: Record<string, string> = {};
    const heads = Array.from({ length: 40 }, (_, i) => `%#include <h${i}.h>`).join('\n');
    for (let i = 0; i < 40; i++) map[`sys/h${i}.x`] = `${heads}\nstruct s${i} { int x; };\n`;
    let reads = 0;
    const opts: XdrParseOptions = { readFile: (p) => (reads++, map[p] ?? null), systemDirs: ['sys'] };
    expect(err(`${heads}\nstruct top { nowhere n; };\n`, opts)).toMatch(/^main\.x:41:14: unknown type "nowhere"/);
    expect(reads).toBeLessThan(200);
  });

  it('a file that includes itself stops at the depth cap; without a reader, #include says so', () => {
    expect(err('#include "main.x"\n', files({ 'main.x': '#include "main.x"\n' }))).toBe(`main.x:1:1: #include nested more than ${PP_LIMITS.includeDepth} levels (does main.x include itself?)`);
    expect(err('#include "x.x"\n')).toBe('main.x:1:1: cannot include x.x: no file reader was given');
  });

  it('never throws on random directives, includes and macros: a spec or an error with a place', () => {
    const pieces = fc.constantFrom('#define A 1\n', '#define B A A\n', '#undef A\n', '#ifdef A\n', '#if A + \n', '#if defined(B) || A\n', '#elif 0\n', '#else\n', '#endif\n', '#include "x.x"\n', '#include <y.x>\n', '%#if\n', 'const C = A;\n', 'struct s { int x[B]; };\n', '/* #endif\n', '*/\n', '#error no\n', '"\n', "'\n", '# \n', '#define F(x) x\n');
    const opts = files({ 'x.x': '#include "x.x"\n', 'y.x': '#define A 2\nconst Y = A;\n' });
    fc.assert(
      fc.property(fc.array(pieces, { maxLength: 30 }), (ps) => {
        const r = parseXdrFile(ps.join(''), 'fuzz.x', opts);
        if (!r.ok) expect(r.error.line >= 1 && r.error.column >= 1 && r.error.message !== '').toBe(true);
      }),
      { numRuns: 300 },
    );
  });

  it('preprocess() keeps each token\'s file, line and column', () => {
    const { tokens: toks } = preprocess('#define N 3\nconst X = N;\n#include "i.x"\n', 'm.x', { readFile: (p) => (p === 'i.x' ? '\n  const Y = 1;' : null) });
    expect(toks.map((t) => `${t.file}:${t.line}:${t.column}:${t.text}`)).toEqual(['m.x:2:1:const', 'm.x:2:7:X', 'm.x:2:9:=', 'm.x:2:11:3', 'm.x:2:12:;', 'i.x:2:3:const', 'i.x:2:9:Y', 'i.x:2:11:=', 'i.x:2:13:1', 'i.x:2:14:;', 'm.x:4:1:end of file']);
  });
});

describe('hostile .x files: bounded, never a crash', () => {
  const timed = (text: string): { message: string; ms: number } => {
    const t0 = performance.now();
    const r = parseXdrFile(text, 'h.x');
    return { message: r.ok ? 'ok' : formatParseError(r.error), ms: performance.now() - t0 };
  };

  it('expressions, anonymous bodies and %#define chains nest only so deep', () => {
    expect(timed(`#if ${'('.repeat(100_000)}1${')'.repeat(100_000)}\n#endif\n`).message).toMatch(/^h\.x:1:\d+: the expression nests more than 256 levels$/);
    expect(timed(`#if ${'!'.repeat(100_000)}1\n#endif\n`).message).toMatch(/^h\.x:1:\d+: the expression nests more than 256 levels$/);
    expect(timed(`#if ${'1 ? '.repeat(100_000)}1${' : 0'.repeat(100_000)}\n#endif\n`).message).toMatch(/^h\.x:1:\d+: the expression nests more than 256 levels$/);
    expect(timed(`struct a { ${'struct { '.repeat(10_000)}int x; ${'} y; '.repeat(10_000)}};`).message).toMatch(/^h\.x:1:\d+: struct a(_y)+: types nested more than 256 levels$/);
    const chain = Array.from({ length: 1000 }, (_, i) => (i === 0 ? '%#define A0 1' : `%#define A${i} A${i - 1}`)).join('\n');
    expect(timed(`${chain}\nstruct s { int x<A999>; };\n`).message).toMatch(/^h\.x:1001:\d+: %#define A\d+: names refer to names more than 64 levels deep$/);
    expect(timed('const A = B;\nconst B = A;\n').message).toBe('h.x:1:11: unknown constant "B" (const A stands for it, and nothing declares it)');
  });

  it('doubling %#define values and long typedef chains take linear time', () => {
    const doubling = Array.from({ length: 60 }, (_, i) => (i === 0 ? '%#define A0 1' : `%#define A${i} (A${i - 1} + A${i - 1})`)).join('\n');
    const d = timed(`${doubling}\nstruct s { int x<A30>; };\n`);
    expect(d.message).toBe('ok');
    expect(d.ms).toBeLessThan(2000);
    const typedefs = ['typedef int t0;', ...Array.from({ length: 20_000 }, (_, i) => `typedef t${i} t${i + 1};`)].join('\n');
    const t = timed(typedefs);
    expect(t.message).toBe('ok');
    expect(t.ms).toBeLessThan(5000);
  });
});

describe('packetlab rpcgen and rpc call read includes from the disk', () => {
  it('-I adds a folder; an error in an included file names it (exit 1)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'rpcgen-pp-'));
    try {
      mkdirSync(join(dir, 'inc'));
      writeFileSync(join(dir, 'inc', 'shared.x'), '#define KEYBYTES 8\ntypedef opaque key_t[KEYBYTES];\n');
      writeFileSync(join(dir, 'main.x'), '#include <shared.x>\n#ifdef RPC_HDR\n%#include <stdio.h>\n#endif\n#ifdef EXTRA\nconst EXTRA_ON = 1;\n#endif\nprogram P { version V { key_t ECHO(key_t) = 1; } = 1; } = 0x20000998;\n');
      const missing = await cliAsync(['rpcgen', join(dir, 'main.x'), '--out', join(dir, 'out')]);
      expect(missing.code).toBe(1);
      expect(missing.stderr).toBe(`packetlab: ${join(dir, 'main.x')}:1:1: cannot find the included file <shared.x> (searched /usr/local/include, /usr/include)\n`);
      const good = await cliAsync(['rpcgen', join(dir, 'main.x'), '--out', join(dir, 'out'), '-I', join(dir, 'inc')]);
      expect(good.stderr).toBe('');
      expect(good.code).toBe(0);
      const code = readFileSync(join(dir, 'out', 'main.ts'), 'utf8');
      expect(code).toContain('/** typedef key_t (shared.x:2). */');
      expect(code).toContain('w.fixedOpaque(v, 8, \'key_t\');');
      expect(code).not.toContain('EXTRA_ON');
      // Devices and folders are no files to include: /dev/zero would never end.
      writeFileSync(join(dir, 'dev.x'), '#include "/dev/zero"\n');
      const dev = await cliAsync(['rpcgen', join(dir, 'dev.x'), '--out', join(dir, 'out')]);
      expect(dev.code).toBe(1);
      expect(dev.stderr).toBe(`packetlab: ${join(dir, 'dev.x')}:1:1: cannot find the included file "/dev/zero"\n`);
      const defined = await cliAsync(['rpcgen', join(dir, 'main.x'), '--out', join(dir, 'out'), '-I', join(dir, 'inc'), '-D', 'EXTRA']);
      expect(defined.code).toBe(0);
      expect(readFileSync(join(dir, 'out', 'main.ts'), 'utf8')).toContain('export const EXTRA_ON = 1;');
      writeFileSync(join(dir, 'inc', 'shared.x'), '#define KEYBYTES 8\ntypedef opaque key_t[KEYBYTES};\n');
      const bad = await cliAsync(['rpcgen', join(dir, 'main.x'), '--out', join(dir, 'out'), '-I', join(dir, 'inc')]);
      expect(bad.code).toBe(1);
      expect(bad.stderr).toBe(`packetlab: ${join(dir, 'inc', 'shared.x')}:2:30: expected "]", found "}"\n`);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
