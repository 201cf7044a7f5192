// The source files under a folder, for tests that read the code itself (what a registry forbids
// elsewhere, what a layer may import).

import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

/** Every .ts and .svelte file under `dir`, recursively. */
export function sources(dir: string): string[] {
  return readdirSync(dir).flatMap((f) => {
    const p = join(dir, f);
    return statSync(p).isDirectory() ? sources(p) : /\.(ts|svelte)$/.test(f) ? [p] : [];
  });
}
