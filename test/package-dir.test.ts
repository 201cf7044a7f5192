// Packaging: electron-builder builds the unpacked `dir` target offline from a staged copy of the
// built app, with a stand-in folder as the Electron distribution (the real one cannot be
// downloaded here). The packed app.asar must hold the built main, preload and renderer, the data
// files and the production dependencies, everything the main and the run worker import, and no
// sources, tests, source maps or dev dependencies. (`npm run dist` builds the real installers on a
// machine with internet.)

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { builtinModules, createRequire } from 'node:module';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, posix } from 'node:path';
import { ROOT, stageApp, type StagedApp } from './helpers/stage-app.js';

const require = createRequire(import.meta.url);
const asar = require('@electron/asar') as { listPackage(archive: string, o: { isPack: boolean }): string[]; extractFile(archive: string, file: string): Buffer };

const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { main: string; version: string; dependencies: Record<string, string>; devDependencies: Record<string, string> };
const tmp = mkdtempSync(join(tmpdir(), 'packetlab-package-'));
let staged: StagedApp;
let appDir: string;
let archive: string;
let files: Set<string>;
let unpacked: Set<string>;

/** A folder shaped like an unpacked Electron for Linux, whose executable is a shell script. */
function standInElectron(): string {
  const dir = join(tmp, 'electron-dist');
  mkdirSync(join(dir, 'resources'), { recursive: true });
  mkdirSync(join(dir, 'locales'), { recursive: true });
  writeFileSync(join(dir, 'electron'), '#!/bin/sh\necho "stand-in for Electron"\n');
  chmodSync(join(dir, 'electron'), 0o755);
  writeFileSync(join(dir, 'version'), `${pkg.devDependencies.electron!.replace(/^\D*/, '')}`);
  writeFileSync(join(dir, 'LICENSE'), 'stand-in\n');
  writeFileSync(join(dir, 'locales', 'en-US.pak'), '');
  return dir;
}

function walk(dir: string, base = ''): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? walk(join(dir, e.name), `${base}/${e.name}`) : [`${base}/${e.name}`]));
}

/** Relative and bare module specifiers a compiled ES module imports. */
function importsOf(source: string): string[] {
  const out: string[] = [];
  const re = /(?:^|[;\s])(?:import|export)\s[^'"]*?from\s*['"]([^'"]+)['"]|(?:^|[;\s])import\s*['"]([^'"]+)['"]|import\(\s*['"]([^'"]+)['"]\s*\)/g;
  for (const m of source.matchAll(re)) out.push((m[1] ?? m[2] ?? m[3])!);
  return out;
}

beforeAll(() => {
  staged = stageApp('packetlab-package-stage-');
  const electronDist = standInElectron();
  const arch = process.arch === 'arm64' ? '--arm64' : '--x64';
  const r = spawnSync(process.execPath, [join(ROOT, 'node_modules', 'electron-builder', 'cli.js'), '--dir', '--linux', arch, '--publish', 'never', `-c.electronDist=${electronDist}`], {
    cwd: staged.dir,
    encoding: 'utf8',
    timeout: 120_000,
    env: { ...process.env, ELECTRON_BUILDER_CACHE: join(tmp, 'cache') },
  });
  if (r.status !== 0) throw new Error(`electron-builder failed (${r.status ?? r.signal}):\n${r.stdout}\n${r.stderr}`);
  const out = join(staged.dir, 'dist-app');
  const unpackedDir = readdirSync(out).find((d) => d.startsWith('linux') && d.endsWith('unpacked'));
  if (unpackedDir === undefined) throw new Error(`no linux-*unpacked folder in ${out}: ${readdirSync(out).join(', ')}`);
  appDir = join(out, unpackedDir);
  archive = join(appDir, 'resources', 'app.asar');
  files = new Set(asar.listPackage(archive, { isPack: false }).map((f) => f.replaceAll('\\', '/')));
  unpacked = new Set(walk(join(appDir, 'resources', 'app.asar.unpacked')));
}, 120_000);

afterAll(() => {
  staged?.remove();
  rmSync(tmp, { recursive: true, force: true });
});

const has = (f: string) => files.has(f) || unpacked.has(f);

describe('the unpacked app (electron-builder --dir)', () => {
  it('is the stand-in Electron renamed, with app.asar', () => {
    expect(existsSync(join(appDir, 'packetlab'))).toBe(true);
    expect(existsSync(archive)).toBe(true);
  });

  it('holds the built main, preload and renderer, and package.json pointing at the main', () => {
    for (const f of ['/package.json', '/dist/electron/main.js', '/dist/electron/preload.cjs', '/dist/electron/security.js', '/dist/electron/ipc.js', '/dist/experiments/api/host.js', '/dist/experiments/api/run-worker.js', '/dist/renderer/index.html']) {
      expect(files.has(f), f).toBe(true);
    }
    if (staged.rendererStub) console.warn('package-dir: dist/renderer is not built in this tree; a stand-in page was packed');
    else for (const f of walk(join(ROOT, 'dist', 'renderer')).filter((x) => !x.endsWith('.map'))) expect(files.has(`/dist/renderer${f}`), f).toBe(true);
    const packed = JSON.parse(asar.extractFile(archive, 'package.json').toString('utf8')) as { main: string; version: string };
    expect(packed.main).toBe('dist/electron/main.js');
    expect(packed.main).toBe(pkg.main);
    expect(packed.version).toBe(pkg.version);
  });

  it('holds the data files read at run time', () => {
    const library = readdirSync(join(ROOT, 'experiments', 'library')).filter((f) => f.endsWith('.json'));
    expect(library.length).toBeGreaterThan(5);
    for (const f of library) expect(files.has(`/experiments/library/${f}`), f).toBe(true);
    for (const f of readdirSync(join(ROOT, 'experiments', 'rpc')).filter((x) => x.endsWith('.x'))) expect(files.has(`/experiments/rpc/${f}`), f).toBe(true);
    expect(files.has('/experiments/schema.json')).toBe(true);
    expect(files.has('/tools/wireshark/packetlab.lua')).toBe(true);
  });

  it('holds no sources, tests, benchmarks, source maps or build files', () => {
    const own = [...files].filter((f) => !f.startsWith('/node_modules/'));
    expect(own.filter((f) => /\.(ts|cts|mts|map)$/.test(f))).toEqual([]);
    expect(own.filter((f) => /^\/(test|bench|core|cli|electron|renderer|build|bin|docs)(\/|$)/.test(f))).toEqual([]);
    expect(own.filter((f) => /^\/dist\/(bench|test)(\/|$)/.test(f))).toEqual([]);
    for (const f of ['/tsconfig.json', '/package-lock.json', '/electron-builder.yml', '/experiments/spec.ts', '/experiments/api/contract.ts']) expect(files.has(f), f).toBe(false);
  });

  it('holds the production dependencies and no dev dependency', () => {
    const packedModules = new Set([...files, ...unpacked].filter((f) => f.startsWith('/node_modules/')).map((f) => f.split('/').slice(2, f.split('/')[2]!.startsWith('@') ? 4 : 3).join('/')));
    for (const dep of Object.keys(pkg.dependencies)) expect(packedModules.has(dep), dep).toBe(true);
    for (const dev of Object.keys(pkg.devDependencies)) expect(packedModules.has(dev), dev).toBe(false);
    for (const dev of ['vitest', 'typescript', 'electron', 'electron-builder', 'svelte', 'vite', 'chart.js', 'playwright-core', '@doyensec/electronegativity', 'app-builder-lib']) expect(packedModules.has(dev), dev).toBe(false);
  });

  it('holds every module the main process and the workers import', () => {
    const roots = [...files].filter((f) => f === '/dist/electron/main.js' || /^\/dist\/.*-worker\.js$/.test(f));
    expect(roots).toEqual(expect.arrayContaining(['/dist/electron/main.js', '/dist/experiments/api/run-worker.js', '/dist/experiments/api/store-worker.js']));
    const builtins = new Set([...builtinModules, 'electron']);
    const seen = new Set<string>();
    const missing: string[] = [];
    const queue = [...roots];
    while (queue.length > 0) {
      const f = queue.pop()!;
      if (seen.has(f)) continue;
      seen.add(f);
      for (const spec of importsOf(asar.extractFile(archive, f.slice(1)).toString('utf8'))) {
        if (spec.startsWith('.')) {
          const target = posix.normalize(posix.join(dirname(f), spec));
          if (files.has(target)) queue.push(target);
          else missing.push(`${f} imports ${spec}`);
        } else if (!spec.startsWith('node:') && !builtins.has(spec.split('/')[0]!)) {
          const name = spec.startsWith('@') ? spec.split('/').slice(0, 2).join('/') : spec.split('/')[0]!;
          if (!has(`/node_modules/${name}/package.json`)) missing.push(`${f} imports ${spec}`);
        }
      }
    }
    expect(seen.size).toBeGreaterThan(20);
    expect(missing).toEqual([]);
  });
});
