// What compiled ES modules import, read with es-module-lexer (the lexer Vite and Node's own tools
// use), for the tests that check a process loads what it needs and nothing else.

import { readFileSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { dirname, join, posix } from 'node:path';
import { init, parse } from 'es-module-lexer';

await init;

/** One module's imports: relative and bare specifiers, static (`import ... from`) or dynamic (`import(...)` with a literal). */
export interface ModuleImports {
  static: string[];
  dynamic: string[];
}

/** The imports of one module's source. */
export function importsOf(source: string): ModuleImports {
  const [imports] = parse(source);
  const out: ModuleImports = { static: [], dynamic: [] };
  for (const i of imports) {
    if (i.n === undefined) continue;
    (i.d === -1 ? out.static : out.dynamic).push(i.n);
  }
  return out;
}

/** The package name of a bare specifier (`@scope/name/sub` -> `@scope/name`). */
export function packageOf(specifier: string): string {
  const parts = specifier.split('/');
  return specifier.startsWith('@') ? parts.slice(0, 2).join('/') : parts[0]!;
}

const BUILTINS = new Set(builtinModules);

/** Is this specifier one of Node's own modules? */
export function isBuiltin(specifier: string): boolean {
  return specifier.startsWith('node:') || BUILTINS.has(packageOf(specifier));
}

/**
 * The modules `roots` load: the files their static imports reach (and, with `dynamic`, their
 * `import()`s of literal specifiers), and the packages named. Paths are relative to `dir` with a
 * leading slash (`/dist/electron/main.js`); `read` gives a file's source (default: from disk).
 */
export function importClosure(dir: string, roots: readonly string[], o: { dynamic?: boolean; read?: (file: string) => string } = {}): { files: Set<string>; packages: Set<string>; missing: string[] } {
  const read = o.read ?? ((f: string) => readFileSync(join(dir, f), 'utf8'));
  const files = new Set<string>();
  const packages = new Set<string>();
  const missing: string[] = [];
  const queue = [...roots];
  while (queue.length > 0) {
    const f = queue.pop()!;
    if (files.has(f)) continue;
    let source: string;
    try {
      source = read(f);
    } catch {
      missing.push(f);
      continue;
    }
    files.add(f);
    const found = importsOf(source);
    for (const spec of o.dynamic === true ? [...found.static, ...found.dynamic] : found.static) {
      if (spec.startsWith('.')) queue.push(posix.normalize(posix.join(dirname(f), spec)));
      else if (!isBuiltin(spec)) packages.add(packageOf(spec));
    }
  }
  return { files, packages, missing };
}
