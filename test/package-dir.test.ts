// Packaging: electron-builder builds the unpacked `dir` target offline from the built clone (into a
// temporary folder; a staged copy would need a node_modules symlink, which `npm ls` reports as
// links with their dependencies missing, so the packer leaves those out), with a stand-in folder
// as the Electron distribution (the real one cannot be
// downloaded here). The packed app (resources/app, plain files: no asar) must hold the built main,
// preload and renderer, the data files and the production dependencies, everything the main and
// the workers import, and no sources, tests, source maps or dev dependencies; the icon and the
// Wireshark dissector sit beside it in resources/; the binary's fuses are set as
// electron-builder.yml says; and a run started from the packed files completes, its worker
// threads loading their ES modules from there. (`npm run dist` builds the real installers on a
// machine with internet.)

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { chmodSync, cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { ROOT } from './helpers/stage-app.js';
import { importClosure } from './helpers/imports.js';

const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { main: string; version: string; dependencies: Record<string, string>; devDependencies: Record<string, string> };
const tmp = mkdtempSync(join(tmpdir(), 'packetlab-package-'));
let appDir: string;
let packedDir: string;
let files: Set<string>;

/** @electron/fuses' marker: the fuse wire follows it (version, length, one byte per fuse). */
const FUSE_SENTINEL = 'dL7pKGdnNz796PbbjQWNKmHXBZaB9tsX';
/** The fuses of wire version 1, in wire order, with the state electron-builder.yml asks for ('1' on, '0' off). */
const FUSES_WANTED: [string, '0' | '1'][] = [
  ['runAsNode', '0'],
  ['enableCookieEncryption', '1'],
  ['enableNodeOptionsEnvironmentVariable', '0'],
  ['enableNodeCliInspectArguments', '0'],
  ['enableEmbeddedAsarIntegrityValidation', '0'],
  ['onlyLoadAppFromAsar', '0'],
  ['loadBrowserProcessSpecificV8Snapshot', '0'],
  ['grantFileProtocolExtraPrivileges', '0'],
];

/**
 * A folder shaped like an unpacked Electron for Linux, whose executable is a shell script that
 * carries a fuse wire as Electron's binary does, every fuse at Electron's default (run as Node,
 * NODE_OPTIONS, --inspect and file: privileges on; the rest off), for electron-builder to flip.
 */
function standInElectron(): string {
  const dir = join(tmp, 'electron-dist');
  mkdirSync(join(dir, 'resources'), { recursive: true });
  mkdirSync(join(dir, 'locales'), { recursive: true });
  const defaults = '10110001';
  writeFileSync(join(dir, 'electron'), Buffer.concat([Buffer.from('#!/bin/sh\necho "stand-in for Electron"\nexit 0\n'), Buffer.from(FUSE_SENTINEL), Buffer.from([1, defaults.length]), Buffer.from(defaults)]));
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

beforeAll(() => {
  for (const built of ['dist/electron/main.js', 'dist/renderer/index.html']) if (!existsSync(join(ROOT, built))) throw new Error(`${built} is missing: run \`npm run build\` first`);
  const electronDist = standInElectron();
  const arch = process.arch === 'arm64' ? '--arm64' : '--x64';
  const r = spawnSync(process.execPath, [join(ROOT, 'node_modules', 'electron-builder', 'cli.js'), '--dir', '--linux', arch, '--publish', 'never', `-c.electronDist=${electronDist}`, `-c.directories.output=${join(tmp, 'dist-app')}`], {
    cwd: ROOT,
    encoding: 'utf8',
    timeout: 120_000,
    env: { ...process.env, ELECTRON_BUILDER_CACHE: join(tmp, 'cache') },
  });
  if (r.status !== 0) throw new Error(`electron-builder failed (${r.status ?? r.signal}):\n${r.stdout}\n${r.stderr}`);
  const out = join(tmp, 'dist-app');
  const unpackedDir = readdirSync(out).find((d) => d.startsWith('linux') && d.endsWith('unpacked'));
  if (unpackedDir === undefined) throw new Error(`no linux-*unpacked folder in ${out}: ${readdirSync(out).join(', ')}`);
  appDir = join(out, unpackedDir);
  packedDir = join(appDir, 'resources', 'app');
  files = new Set(walk(packedDir));
}, 120_000);

afterAll(() => {
  rmSync(tmp, { recursive: true, force: true });
});

const has = (f: string) => files.has(f);
const packedFile = (f: string) => readFileSync(join(packedDir, f));

describe('the unpacked app (electron-builder --dir)', () => {
  it('is the stand-in Electron renamed, with the app as plain files (no asar)', () => {
    expect(existsSync(join(appDir, 'packetlab'))).toBe(true);
    expect(existsSync(join(packedDir, 'package.json'))).toBe(true);
    expect(existsSync(join(appDir, 'resources', 'app.asar'))).toBe(false);
  });

  it('has its fuses set as electron-builder.yml says', () => {
    const binary = readFileSync(join(appDir, 'packetlab'));
    const at = binary.indexOf(FUSE_SENTINEL);
    expect(at).toBeGreaterThan(0);
    const wire = binary.subarray(at + FUSE_SENTINEL.length);
    expect([wire[0], wire[1]]).toEqual([1, FUSES_WANTED.length]);
    const got = Object.fromEntries(FUSES_WANTED.map(([name], i) => [name, String.fromCharCode(wire[2 + i]!)]));
    expect(got).toEqual(Object.fromEntries(FUSES_WANTED));
  });

  it('has the icon and the Wireshark dissector beside the app, where users can reach them', () => {
    expect(readFileSync(join(appDir, 'resources', 'icon.png')).equals(readFileSync(join(ROOT, 'build', 'icon.png')))).toBe(true);
    expect(readFileSync(join(appDir, 'resources', 'wireshark', 'packetlab.lua'), 'utf8')).toBe(readFileSync(join(ROOT, 'tools', 'wireshark', 'packetlab.lua'), 'utf8'));
    expect(files.has('/tools/wireshark/packetlab.lua')).toBe(false);
  });

  it('holds the built main, preload and renderer, and package.json pointing at the main', () => {
    for (const f of ['/package.json', '/dist/electron/main.js', '/dist/electron/preload.cjs', '/dist/electron/security.js', '/dist/electron/ipc.js', '/dist/experiments/api/host.js', '/dist/experiments/api/run-worker.js', '/dist/renderer/index.html']) {
      expect(files.has(f), f).toBe(true);
    }
    for (const f of walk(join(ROOT, 'dist', 'renderer')).filter((x) => !x.endsWith('.map'))) expect(files.has(`/dist/renderer${f}`), f).toBe(true);
    const packed = JSON.parse(packedFile('package.json').toString('utf8')) as { main: string; version: string };
    expect(packed.main).toBe('dist/electron/main.js');
    expect(packed.main).toBe(pkg.main);
    expect(packed.version).toBe(pkg.version);
  });

  it('holds the data files read at run time', () => {
    const library = readdirSync(join(ROOT, 'experiments', 'library')).filter((f) => f.endsWith('.json'));
    expect(library.length).toBeGreaterThan(5);
    for (const f of library) expect(files.has(`/experiments/library/${f}`), f).toBe(true);
    for (const dir of ['experiments/rpc', 'core/rpc/programs']) {
      const specs = readdirSync(join(ROOT, dir)).filter((x) => x.endsWith('.x'));
      expect(specs.length, dir).toBeGreaterThan(0);
      for (const f of specs) expect(files.has(`/${dir}/${f}`), `${dir}/${f}`).toBe(true);
    }
    expect(files.has('/experiments/schema.json')).toBe(true);
  });

  it('holds no sources, tests, benchmarks, source maps or build files', () => {
    const own = [...files].filter((f) => !f.startsWith('/node_modules/'));
    expect(own.filter((f) => /\.(ts|cts|mts|map)$/.test(f))).toEqual([]);
    // The RPC specs (.x) are data the app ships for its users; nothing else of these folders.
    expect(own.filter((f) => /^\/(test|bench|core|cli|electron|renderer|build|bin|docs)(\/|$)/.test(f) && !f.endsWith('.x'))).toEqual([]);
    expect(own.filter((f) => /^\/dist\/(bench|test)(\/|$)/.test(f))).toEqual([]);
    for (const f of ['/tsconfig.json', '/package-lock.json', '/electron-builder.yml', '/experiments/spec.ts', '/experiments/api/contract.ts']) expect(files.has(f), f).toBe(false);
  });

  it('holds the production dependencies and no dev dependency', () => {
    const packedModules = new Set([...files].filter((f) => f.startsWith('/node_modules/')).map((f) => f.split('/').slice(2, f.split('/')[2]!.startsWith('@') ? 4 : 3).join('/')));
    for (const dep of Object.keys(pkg.dependencies)) expect(packedModules.has(dep), dep).toBe(true);
    for (const dev of Object.keys(pkg.devDependencies)) expect(packedModules.has(dev), dev).toBe(false);
    for (const dev of ['vitest', 'typescript', 'electron', 'electron-builder', 'svelte', 'vite', 'chart.js', 'playwright-core', '@doyensec/electronegativity', 'app-builder-lib']) expect(packedModules.has(dev), dev).toBe(false);
  });

  it('holds every installed production package, dependencies of dependencies and this platform\'s native binary included', () => {
    const lock = JSON.parse(readFileSync(join(ROOT, 'package-lock.json'), 'utf8')) as { packages: Record<string, { dev?: boolean }> };
    const production = Object.entries(lock.packages)
      .filter(([path, p]) => path.startsWith('node_modules/') && p.dev !== true && existsSync(join(ROOT, path, 'package.json')))
      .map(([path]) => path);
    // The native CRC32C's binary for this platform is an installed optional package of its own.
    expect(production.filter((p) => p.startsWith('node_modules/@node-rs/crc32-'))).toHaveLength(1);
    for (const path of production) expect(files.has(`/${path}/package.json`), path).toBe(true);
  });

  it('holds every module the main process and the workers import', () => {
    const roots = [...files].filter((f) => f === '/dist/electron/main.js' || /^\/dist\/.*-worker\.js$/.test(f));
    expect(roots).toEqual(expect.arrayContaining(['/dist/electron/main.js', '/dist/experiments/api/run-worker.js', '/dist/experiments/api/store-worker.js']));
    const closure = importClosure(packedDir, roots, { dynamic: true });
    expect(closure.files.size).toBeGreaterThan(20);
    expect(closure.missing).toEqual([]);
    expect([...closure.packages].filter((p) => p !== 'electron' && !has(`/node_modules/${p}/package.json`))).toEqual([]);
  });
});

describe('a run from the packed app', () => {
  it('completes on loopback, its run worker and listener worker loading their modules from the packed files', () => {
    // Plain Node stands in for Electron's main process: the workers are Node worker threads either
    // way, so this loads exactly the files the packaged app would. A copy outside any clone, so that
    // no node_modules above it can stand in for a dependency the packer left out.
    const copy = join(tmp, 'packed-copy', 'app');
    cpSync(packedDir, copy, { recursive: true });
    const runsDir = join(tmp, 'packed-runs');
    const script = join(tmp, 'packed-run.mjs');
    const text = JSON.stringify({ name: 'packed', title: 'a run from the packed app', description: 'd', concepts: ['checksums'], network: 'loopback', workload: { kind: 'bulk', bytes: 300_000 }, forward: { delayMs: 1 }, reverse: { delayMs: 1 }, timeLimitS: 60 });
    writeFileSync(
      script,
      [
        `const { LabHost } = await import(${JSON.stringify(pathToFileURL(join(copy, 'dist', 'experiments', 'api', 'host.js')).href)});`,
        `const host = new LabHost({ runsDir: ${JSON.stringify(runsDir)}, specsDir: ${JSON.stringify(join(tmp, 'packed-specs'))}, peers: () => [] });`,
        'const ended = new Promise((resolve) => host.onRunBatch((b) => { if (b.status !== undefined && b.status.state !== "running") resolve(b.status); }));',
        `const started = await host.call('startRun', { text: ${JSON.stringify(text)} });`,
        'if (!started.ok) { console.log(JSON.stringify({ started })); process.exit(1); }',
        'const status = await ended;',
        'await host.close();',
        'console.log(JSON.stringify({ started, status }));',
      ].join('\n'),
    );
    const r = spawnSync(process.execPath, [script], { cwd: tmp, encoding: 'utf8', timeout: 60_000 });
    expect(r.status, `${r.stdout}\n${r.stderr}`).toBe(0);
    const { status } = JSON.parse(r.stdout.trim().split('\n').pop()!) as { status: { state: string; dir: string } };
    expect(status.state).toBe('complete');
    expect(status.dir.startsWith(runsDir)).toBe(true);
    const record = JSON.parse(readFileSync(join(status.dir, 'run.json'), 'utf8')) as { status: string; network: string };
    expect(record).toMatchObject({ status: 'complete', network: 'loopback' });
  });
});
