// `npm start` (bin/start.js): with an Electron binary it runs it on the app and passes signals on;
// without one it says so in one line and serves the app to a browser instead.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn, type ChildProcessByStdio } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { CONTENT_SECURITY_POLICY } from '../experiments/api/serve.js';
import { ROOT, stageApp, type StagedApp } from './helpers/stage-app.js';
import { until } from './helpers/until.js';

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

function start(root: string, args: string[], env: Record<string, string>): { child: Child; out: () => string; err: () => string; exited: Promise<number | null> } {
  const child = spawn(process.execPath, [join(root, 'bin', 'start.js'), ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } });
  let out = '';
  let err = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (err += d.toString()));
  const exited = new Promise<number | null>((r) => child.on('close', (code) => r(code)));
  return { child, out: () => out, err: () => err, exited };
}

/** A folder laid out like node_modules/electron whose "binary" is a shell script. */
function fakeElectron(): string {
  const dir = join(tmp, 'fake-electron');
  mkdirSync(join(dir, 'dist'), { recursive: true });
  writeFileSync(join(dir, 'path.txt'), 'electron');
  const script = [
    '#!/bin/sh',
    'trap \'echo "fake electron got a signal"; exit 0\' INT TERM',
    'echo "fake electron: $*"',
    'echo "ELECTRON_RUN_AS_NODE=${ELECTRON_RUN_AS_NODE:-unset}"',
    'while true; do sleep 0.05; done',
    '',
  ].join('\n');
  writeFileSync(join(dir, 'dist', 'electron'), script);
  chmodSync(join(dir, 'dist', 'electron'), 0o755);
  return dir;
}

describe('npm start with an Electron binary', () => {
  it('runs it on the app, with the arguments, without ELECTRON_RUN_AS_NODE, and passes SIGTERM on', async () => {
    const s = start(ROOT, ['--some-flag'], { PACKETLAB_ELECTRON_DIR: fakeElectron(), ELECTRON_RUN_AS_NODE: '1' });
    await until('the stand-in Electron', () => s.out().includes('ELECTRON_RUN_AS_NODE='), 20_000);
    const root = ROOT.replace(/\/$/, '');
    expect(s.out()).toMatch(new RegExp(`fake electron: ${root.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}/? --some-flag`));
    expect(s.out()).toContain('ELECTRON_RUN_AS_NODE=unset');
    expect(s.err()).not.toContain('not installed');
    s.child.kill('SIGTERM');
    expect(await s.exited).toBe(0);
    expect(s.out()).toContain('fake electron got a signal');
  });
});

describe('npm start without an Electron binary', () => {
  it('says so in one line and serves the app to a browser; Ctrl-C stops the server', async () => {
    const empty = join(tmp, 'no-electron');
    mkdirSync(empty, { recursive: true });
    const s = start(staged.dir, ['--port', '0', '--print-url-json', '--no-beacons', '--runs-dir', join(tmp, 'runs'), '--specs-dir', join(tmp, 'specs')], { PACKETLAB_ELECTRON_DIR: empty });
    await until('the URL', () => s.out().includes('"url"'), 20_000);
    const lines = s.err().trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^packetlab: the Electron binary is not installed \(.*path\.txt is missing\), so the app is served to your browser instead:$/);
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

  it('names the missing binary when path.txt points at nothing', async () => {
    const dir = join(tmp, 'half-electron');
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'path.txt'), 'electron');
    const s = start(staged.dir, ['--port', '0', '--print-url-json', '--no-beacons', '--runs-dir', join(tmp, 'runs')], { PACKETLAB_ELECTRON_DIR: dir });
    await until('the URL', () => s.out().includes('"url"'), 20_000);
    expect(s.err().trim()).toMatch(/^packetlab: the Electron binary is not installed \(.*half-electron\/dist\/electron is missing\), so the app is served to your browser instead:$/);
    s.child.kill('SIGTERM');
    expect(await s.exited).toBe(0);
  });
});
