// Locating compiled modules: worker threads need JavaScript files. When the caller itself runs
// from TypeScript sources (under Vitest), the compiled twin under dist/ is used instead, so tests
// exercise the same code the CLI runs (npm test builds first).

import { existsSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

/** The project root (the folder with package.json above this file). */
export function projectRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'package.json'))) {
    const up = dirname(dir);
    if (up === dir) throw new Error('cannot find the packetlab project root');
    dir = up;
  }
  return dir;
}

/** URL of the compiled JavaScript module `rel` next to the module at `fromUrl`. */
export function compiledModuleUrl(fromUrl: string, rel: string): URL {
  const target = new URL(rel, fromUrl);
  const path = fileURLToPath(target);
  if (fileURLToPath(fromUrl).endsWith('.js')) return target;
  const root = projectRoot();
  const built = join(root, 'dist', relative(root, path));
  if (!existsSync(built)) throw new Error(`${built} is missing: run \`npm run build\` first`);
  return pathToFileURL(built);
}
