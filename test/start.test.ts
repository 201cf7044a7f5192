// `npm start` (bin/start.js): with an Electron binary it runs it on the app and passes signals on;
// without one it runs Electron's installer and then the app; when the installer fails it says why in
// one line and serves the app to a browser instead.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn, type ChildProcessByStdio } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { CONTENT_SECURITY_POLICY } from '../experiments/api/serve.js';
import { ROOT, stageApp, type StagedApp } from './helpers/stage-app.js';
import { until } from './helpers/until.js';
import { appArmorProfile, PROFILE_NAME, sandboxProblem } from '../bin/electron-sandbox.js';

type Child = ChildProcessByStdio<null, Readable, Readable>;

const tmp = mkdtempSync(join(tmpdir(), 'packetlab-start-'));
let staged: StagedApp;

beforeAll(() => {
  staged = stageApp();
});
afterAll(() => {
  staged?.remove();
  rmSync(tmp, { recursive: true, force: true });
});

/** Runs bin/start.js; a display is set unless `env` says otherwise (the tests of Electron need one). */
function start(root: string, args: string[], env: Record<string, string>): { child: Child; out: () => string; err: () => string; exited: Promise<number | null> } {
  const child = spawn(process.execPath, [join(root, 'bin', 'start.js'), ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, DISPLAY: ':0', ...env } });
  let out = '';
  let err = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (err += d.toString()));
  const exited = new Promise<number | null>((r) => child.on('close', (code) => r(code)));
  return { child, out: () => out, err: () => err, exited };
}

/** The shell script that stands in for the Electron binary: prints its arguments, waits for a signal. */
const STUB_BINARY = [
  '#!/bin/sh',
  'trap \'echo "fake electron got a signal"; exit 0\' INT TERM',
  'echo "fake electron: $*"',
  'echo "ELECTRON_RUN_AS_NODE=${ELECTRON_RUN_AS_NODE:-unset}"',
  'while true; do sleep 0.05; done',
  '',
].join('\n');

/**
 * An installer shaped like node_modules/electron/install.js: `body` runs when the binary is not
 * there yet, and every run appends a line to installs.log so that a test can count them.
 */
function installer(body: string): string {
  return [
    "const fs = require('fs');",
    "const path = require('path');",
    "fs.appendFileSync(path.join(__dirname, 'installs.log'), 'run\\n');",
    "if (fs.existsSync(path.join(__dirname, 'path.txt'))) process.exit(0);",
    body,
    '',
  ].join('\n');
}

/** Lays out path.txt and the stub binary, as the real installer does after its download. */
const INSTALL_OK = installer(
  [
    "console.log('Downloading electron-v0.0.0-linux-x64.zip (stand-in)');",
    "fs.mkdirSync(path.join(__dirname, 'dist'), { recursive: true });",
    `fs.writeFileSync(path.join(__dirname, 'dist', 'electron'), ${JSON.stringify(STUB_BINARY)}, { mode: 0o755 });`,
    "fs.writeFileSync(path.join(__dirname, 'path.txt'), 'electron');",
  ].join('\n'),
);

/** Fails as the real installer does offline: a fetch whose host does not resolve (RFC 6761 .invalid), its stack on stderr, exit 1. */
const INSTALL_OFFLINE = installer(
  [
    "fetch('https://electron.invalid/electron-v0.0.0-linux-x64.zip')",
    '  .then(() => process.exit(0))',
    '  .catch((err) => {',
    '    console.error(err.stack);',
    '    process.exit(1);',
    '  });',
  ].join('\n'),
);

let folders = 0;

/** A folder laid out like node_modules/electron: package.json, install.js and, when `binary`, path.txt and the stub. */
function fakeElectron(install: string, binary: boolean): string {
  const dir = join(tmp, `fake-electron-${folders++}`);
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: 'electron', version: '0.0.0' }));
  writeFileSync(join(dir, 'install.js'), install);
  if (binary) {
    mkdirSync(join(dir, 'dist'));
    writeFileSync(join(dir, 'path.txt'), 'electron');
    writeFileSync(join(dir, 'dist', 'electron'), STUB_BINARY);
    chmodSync(join(dir, 'dist', 'electron'), 0o755);
  }
  return dir;
}

/** How many times the installer of a fake folder ran. */
function installs(dir: string): number {
  return existsSync(join(dir, 'installs.log')) ? readFileSync(join(dir, 'installs.log'), 'utf8').split('\n').filter((l) => l !== '').length : 0;
}

const escape = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
const APP = ROOT.replace(/\/$/, '');

/** Waits for the stub's two lines, checks the app's path came first, and stops it with SIGTERM. */
async function expectLaunched(s: ReturnType<typeof start>, extra = ''): Promise<void> {
  await until(() => `the stand-in Electron; stderr: ${s.err()}`, () => s.out().includes('ELECTRON_RUN_AS_NODE='), 20_000);
  expect(s.out()).toMatch(new RegExp(`^fake electron: ${escape(APP)}/?${extra === '' ? '' : ` ${escape(extra)}`}$`, 'm'));
  s.child.kill('SIGTERM');
  expect(await s.exited).toBe(0);
  expect(s.out()).toContain('fake electron got a signal');
}

describe('npm start with an Electron binary', () => {
  it('runs it on the app, with the arguments, without ELECTRON_RUN_AS_NODE and without the installer, and passes SIGTERM on', async () => {
    const dir = fakeElectron(INSTALL_OK, true);
    const s = start(ROOT, ['--some-flag'], { PACKETLAB_ELECTRON_DIR: dir, ELECTRON_RUN_AS_NODE: '1' });
    await expectLaunched(s, '--some-flag');
    expect(s.out()).toContain('ELECTRON_RUN_AS_NODE=unset');
    expect(s.err()).toBe('');
    expect(installs(dir)).toBe(0);
  });
});

describe('npm start without a display', () => {
  it('says so in one line and serves the app to a browser, without downloading Electron for a window that cannot open', async () => {
    const dir = fakeElectron(INSTALL_OK, false);
    const s = start(staged.dir, ['--port', '0', '--print-url-json', '--no-beacons', '--runs-dir', join(tmp, 'runs')], { PACKETLAB_ELECTRON_DIR: dir, DISPLAY: '', WAYLAND_DISPLAY: '' });
    await until(() => `the URL; stderr: ${s.err()}`, () => s.out().includes('"url"'), 20_000);
    expect(s.err().trim()).toBe('packetlab: the app cannot open: there is no display to open a window on (DISPLAY and WAYLAND_DISPLAY are unset), so the app is served to your browser instead:');
    expect(s.out()).not.toContain('fake electron');
    expect(installs(dir)).toBe(0);
    s.child.kill('SIGTERM');
    expect(await s.exited).toBe(0);
  });
});

describe('npm start without an Electron binary', () => {
  it("runs Electron's installer, shows its output, then opens the app; a second start does not install again", async () => {
    const dir = fakeElectron(INSTALL_OK, false);
    const first = start(ROOT, [], { PACKETLAB_ELECTRON_DIR: dir });
    await expectLaunched(first);
    expect(first.err()).toMatch(/^packetlab: installing Electron 0\.0\.0 \(a download of about 100 MB, once\) \.\.\.\npacketlab: Electron is installed\n$/);
    expect(first.out()).toContain('Downloading electron-v0.0.0-linux-x64.zip (stand-in)');
    expect(installs(dir)).toBe(1);
    const second = start(ROOT, [], { PACKETLAB_ELECTRON_DIR: dir });
    await expectLaunched(second);
    expect(second.err()).toBe('');
    expect(installs(dir)).toBe(1);
  });

  it('when the installer fails, names the failure in one line and serves the app to a browser; Ctrl-C stops the server', async () => {
    const dir = fakeElectron(INSTALL_OFFLINE, false);
    const s = start(staged.dir, ['--port', '0', '--print-url-json', '--no-beacons', '--runs-dir', join(tmp, 'runs'), '--specs-dir', join(tmp, 'specs')], { PACKETLAB_ELECTRON_DIR: dir });
    await until(() => `the URL; stderr: ${s.err()}`, () => s.out().includes('"url"'), 20_000);
    const lines = s.err().trim().split('\n');
    expect(lines).toHaveLength(2);
    expect(lines[0]).toBe('packetlab: installing Electron 0.0.0 (a download of about 100 MB, once) ...');
    expect(lines[1]).toMatch(
      /^packetlab: Electron could not be installed \(cannot download https:\/\/electron\.invalid\/electron-v0\.0\.0-linux-x64\.zip: getaddrinfo (ENOTFOUND|EAI_AGAIN) electron\.invalid\), so the app is served to your browser instead:$/,
    );
    expect(installs(dir)).toBe(1);
    const { url } = JSON.parse(s.out().trim().split('\n').find((l) => l.startsWith('{'))!) as { url: string };
    expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/\?token=/);
    const res = await fetch(url);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-security-policy')).toBe(CONTENT_SECURITY_POLICY);
    expect(await res.text()).toContain('<title>Packet Lab</title>');
    s.child.kill('SIGINT');
    expect(await s.exited).toBe(0);
    await expect(fetch(url)).rejects.toThrow();
  });

  it('names a missing installer (electron not installed by npm)', async () => {
    const dir = join(tmp, 'no-electron');
    mkdirSync(dir, { recursive: true });
    const s = start(staged.dir, ['--port', '0', '--print-url-json', '--no-beacons', '--runs-dir', join(tmp, 'runs')], { PACKETLAB_ELECTRON_DIR: dir });
    await until(() => `the URL; stderr: ${s.err()}`, () => s.out().includes('"url"'), 20_000);
    expect(s.err().trim().split('\n')).toEqual([
      'packetlab: installing Electron (a download of about 100 MB, once) ...',
      `packetlab: Electron could not be installed (${join(dir, 'install.js')} is missing (run npm install)), so the app is served to your browser instead:`,
    ]);
    s.child.kill('SIGTERM');
    expect(await s.exited).toBe(0);
  });

  it('says so when the installer succeeds but leaves no binary', async () => {
    const dir = fakeElectron(installer("fs.writeFileSync(path.join(__dirname, 'path.txt'), 'electron');"), false);
    const s = start(staged.dir, ['--port', '0', '--print-url-json', '--no-beacons', '--runs-dir', join(tmp, 'runs')], { PACKETLAB_ELECTRON_DIR: dir });
    await until(() => `the URL; stderr: ${s.err()}`, () => s.out().includes('"url"'), 20_000);
    expect(s.err().trim().split('\n')[1]).toMatch(/^packetlab: Electron could not be installed \(its installer finished but .*\/dist\/electron is missing\), so the app is served to your browser instead:$/);
    s.child.kill('SIGTERM');
    expect(await s.exited).toBe(0);
  });
});

describe("the check of Chromium's sandbox before launch (Ubuntu 24.04's AppArmor)", () => {
  const binary = '/home/a b/[lab]/node_modules/electron/dist/electron';
  const files = (restrict: string | null, profiles: Record<string, string>) => {
    const dir = mkdtempSync(join(tmp, 'sandbox-'));
    const restrictFile = join(dir, 'apparmor_restrict_unprivileged_userns');
    if (restrict !== null) writeFileSync(restrictFile, `${restrict}\n`);
    const apparmorDir = join(dir, 'apparmor.d');
    mkdirSync(apparmorDir);
    for (const [name, text] of Object.entries(profiles)) writeFileSync(join(apparmorDir, name), text);
    return { platform: 'linux', restrictFile, apparmorDir };
  };

  it('finds no problem where user namespaces are not restricted, or on other systems', () => {
    expect(sandboxProblem(binary, files(null, {}))).toBeNull();
    expect(sandboxProblem(binary, files('0', {}))).toBeNull();
    expect(sandboxProblem(binary, { ...files('1', {}), platform: 'darwin' })).toBeNull();
  });

  it('names the problem and the fix where they are restricted and no profile allows this binary', () => {
    const problem = sandboxProblem(binary, files('1', { other: appArmorProfile('/opt/Other/other') }));
    expect(problem).toMatch(/AppArmor blocks the user namespaces of Chromium's sandbox here \(Ubuntu 24\.04 and later\); `npm run allow-sandbox`/);
  });

  it("accepts the profile `npm run allow-sandbox` installs, with the path's special characters escaped", () => {
    const profile = appArmorProfile(binary);
    expect(profile).toContain(`profile ${PROFILE_NAME} "/home/a b/\\[lab\\]/node_modules/electron/dist/electron" flags=(unconfined) {\n  userns,`);
    expect(profile.startsWith('#')).toBe(true);
    expect(profile).toContain('abi <abi/4.0>,');
    expect(sandboxProblem(binary, files('1', { [PROFILE_NAME]: profile }))).toBeNull();
  });
});
