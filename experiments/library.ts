// The experiment library: the specs shipped in experiments/library/, and loading a spec from a
// file or by its library name.

import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { projectRoot } from '../net/paths.js';
import { formatSpecErrors, parseSpecText, type ExperimentSpec, type SpecError } from './spec.js';

/** The folder of the shipped specs. */
export function libraryDir(): string {
  return join(projectRoot(), 'experiments', 'library');
}

/** One library entry. */
export interface LibraryEntry {
  file: string;
  spec: ExperimentSpec;
}

/** Every library spec, in file order (the files are numbered); a broken one throws. */
export function loadLibrary(): LibraryEntry[] {
  const dir = libraryDir();
  return readdirSync(dir)
    .filter((f) => f.endsWith('.json'))
    .sort()
    .map((f) => {
      const file = join(dir, f);
      const r = loadSpecFile(file);
      if (!r.ok) throw new Error(formatSpecErrors(file, r.errors));
      return { file, spec: r.spec };
    });
}

/** Result of loading a spec. */
export type LoadResult = { ok: true; file: string; spec: ExperimentSpec } | { ok: false; file: string; errors: SpecError[] };

/** Loads and validates a spec file. */
export function loadSpecFile(file: string): LoadResult {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    return { ok: false, file, errors: [{ path: '$', value: undefined, message: code === 'ENOENT' ? 'no such file' : (e as Error).message }] };
  }
  const r = parseSpecText(text);
  return r.ok ? { ok: true, file, spec: r.spec } : { ok: false, file, errors: r.errors };
}

/** Resolves SPEC on the command line: a file path, or the name of a library spec. */
export function resolveSpec(ref: string): LoadResult {
  if (existsSync(ref) || ref.endsWith('.json') || ref.includes('/')) return loadSpecFile(ref);
  const dir = libraryDir();
  const match = readdirSync(dir).filter((f) => f.endsWith('.json')).find((f) => f.replace(/^\d+-/, '').replace(/\.json$/, '') === ref || f.replace(/\.json$/, '') === ref);
  if (match === undefined) {
    return { ok: false, file: ref, errors: [{ path: '$', value: undefined, message: 'no such file, and no library experiment by that name (packetlab list shows them)' }] };
  }
  return loadSpecFile(join(dir, match));
}
