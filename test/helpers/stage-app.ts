// A copy of the built app in a temporary folder, laid out like the project (package.json, bin/,
// dist/, the data files, node_modules as a link to the real one), for the tests of `npm start` and
// of packaging. It does not depend on the renderer having been built in this tree: when
// dist/renderer/index.html is absent, a minimal page stands in (and `rendererStub` says so).

import { cpSync, existsSync, mkdirSync, mkdtempSync, realpathSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The project root. */
export const ROOT = fileURLToPath(new URL('../..', import.meta.url));

/** A staged copy. */
export interface StagedApp {
  dir: string;
  rendererStub: boolean;
  remove(): void;
}

/** Copies the built app (npm run build must have run). */
export function stageApp(prefix = 'packetlab-stage-'): StagedApp {
  const main = join(ROOT, 'dist', 'electron', 'main.js');
  if (!existsSync(main)) throw new Error(`${main} is missing: run \`npm run build\` first`);
  const dir = mkdtempSync(join(tmpdir(), prefix));
  const copy = (rel: string) => cpSync(join(ROOT, rel), join(dir, rel), { recursive: true, filter: (src) => !src.endsWith('.tsbuildinfo') });
  for (const rel of ['package.json', 'package-lock.json', 'electron-builder.yml', 'build/icon.png', 'bin', 'dist', 'experiments', 'tools/wireshark/packetlab.lua', 'tsconfig.json', 'test/helpers/stage-app.ts']) copy(rel);
  const rendererStub = !existsSync(join(ROOT, 'dist', 'renderer', 'index.html'));
  if (rendererStub) {
    mkdirSync(join(dir, 'dist', 'renderer', 'assets'), { recursive: true });
    writeFileSync(join(dir, 'dist', 'renderer', 'index.html'), '<!doctype html><meta charset="utf-8"><title>Packet Lab</title><script type="module" src="./assets/app.js"></script>\n');
    writeFileSync(join(dir, 'dist', 'renderer', 'assets', 'app.js'), 'document.title = "Packet Lab";\n');
  }
  symlinkSync(realpathSync(join(ROOT, 'node_modules')), join(dir, 'node_modules'), 'dir');
  return { dir, rendererStub, remove: () => rmSync(dir, { recursive: true, force: true }) };
}
