#!/usr/bin/env node
// `npm start` (after `npm run build`): opens the desktop app in Electron; when the Electron binary
// is not installed (machines that cannot download it), says so in one line and serves the same UI
// to a browser with `packetlab serve` instead, which prints the URL. Arguments go to Electron, or
// to `packetlab serve` (`npm start -- --port 9000`). SIGINT, SIGTERM and SIGHUP are passed on to the child.
//
// PACKETLAB_ELECTRON_DIR names another folder laid out like node_modules/electron (path.txt and
// dist/), for tests.

import { spawn } from 'node:child_process';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const electronDir = process.env.PACKETLAB_ELECTRON_DIR ?? join(root, 'node_modules', 'electron');
const shown = (p) => (relative(root, p).startsWith('..') ? p : relative(root, p));

/** The Electron executable, or why there is none. */
function findElectron() {
  const pathFile = join(electronDir, 'path.txt');
  if (!existsSync(pathFile)) return { ok: false, why: `${shown(pathFile)} is missing` };
  const name = readFileSync(pathFile, 'utf8').trim();
  const binary = join(electronDir, 'dist', name);
  if (name === '' || !existsSync(binary) || !statSync(binary).isFile()) return { ok: false, why: `${shown(binary)} is missing` };
  return { ok: true, binary };
}

/** Runs the child and mirrors its end; each signal we get is passed on once. */
function run(command, args, env) {
  // Its own process group on POSIX, so a terminal's Ctrl-C reaches it once (from us), not twice.
  const child = spawn(command, args, { stdio: 'inherit', env, detached: process.platform !== 'win32' });
  const forwarded = new Set();
  // SIGHUP too: the child has its own session, so a closed terminal would not reach it otherwise.
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
    process.on(signal, () => {
      if (forwarded.has(signal)) return;
      forwarded.add(signal);
      child.kill(signal);
    });
  }
  process.on('exit', () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
  });
  child.on('error', (e) => {
    console.error(`packetlab: cannot start ${command}: ${e.message}`);
    process.exit(1);
  });
  child.on('exit', (code, signal) => {
    if (code !== null) process.exit(code);
    process.exit(signal === 'SIGINT' ? 130 : signal === 'SIGTERM' ? 143 : 1);
  });
}

const mainJs = join(root, 'dist', 'electron', 'main.js');
if (!existsSync(mainJs)) {
  console.error('packetlab: the compiled app is missing (dist/electron/main.js); run `npm run build` first');
  process.exit(2);
}
const args = process.argv.slice(2);
const electron = findElectron();
if (electron.ok) {
  const env = { ...process.env };
  // Set by some hosts (VS Code's terminal); it would make Electron a plain Node.
  delete env.ELECTRON_RUN_AS_NODE;
  run(electron.binary, [root, ...args], env);
} else {
  console.error(`packetlab: the Electron binary is not installed (${electron.why}), so the app is served to your browser instead:`);
  run(process.execPath, [join(root, 'bin', 'packetlab.js'), 'serve', ...args], process.env);
}
