#!/usr/bin/env node
// `npm start` (after `npm run build`): opens the desktop app in Electron. When the Electron binary
// is missing (npm does not download it: Electron's package has no install script), it runs
// Electron's own installer first, as `npx install-electron` would, and then opens the app. Only
// when that fails (offline, blocked, an unsupported platform) or when Chromium's sandbox cannot
// start here, or there is no display (a Linux machine reached over SSH), does it say why in one
// line and serve the same UI to a browser with `packetlab serve`, which prints the URL. Arguments go to Electron, or to `packetlab serve`
// (`npm start -- --port 9000`). SIGINT, SIGTERM and SIGHUP are passed on to the child.
//
// PACKETLAB_ELECTRON_DIR names another folder laid out like node_modules/electron (install.js,
// path.txt and dist/), for tests.

import { spawn } from 'node:child_process';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { sandboxProblem } from './electron-sandbox.js';

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

/** The version of the electron package in electronDir, or null. */
function electronVersion() {
  try {
    return JSON.parse(readFileSync(join(electronDir, 'package.json'), 'utf8')).version ?? null;
  } catch {
    return null;
  }
}

/**
 * Runs Electron's installer through bin/install-electron.js, its output on our terminal (its
 * progress bar included); resolves with null when it succeeded, else with why it failed (one line).
 */
function installElectron() {
  const version = electronVersion();
  console.error(`packetlab: installing Electron${version === null ? '' : ` ${version}`} (a download of about 100 MB, once) ...`);
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [join(root, 'bin', 'install-electron.js'), electronDir], { stdio: ['inherit', 'inherit', 'inherit', 'pipe'] });
    let why = '';
    child.stdio[3].on('data', (d) => (why += d.toString()));
    child.on('error', (e) => resolve(`cannot run its installer: ${e.message}`));
    child.on('close', (code, signal) => {
      if (code === 0) resolve(null);
      else resolve(why.trim().split('\n')[0] || (signal !== null ? `its installer was stopped by ${signal}` : `its installer exited with code ${code}`));
    });
  });
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

/** Serves the app to a browser instead, after one line saying why. */
function serveInstead(why) {
  console.error(`packetlab: ${why}, so the app is served to your browser instead:`);
  run(process.execPath, [join(root, 'bin', 'packetlab.js'), 'serve', ...args], process.env);
}

/** Why no window can open here (Linux without a display, as over SSH), or null. */
function displayProblem() {
  if (process.platform !== 'linux') return null;
  const has = (v) => typeof process.env[v] === 'string' && process.env[v] !== '';
  return has('DISPLAY') || has('WAYLAND_DISPLAY') ? null : 'there is no display to open a window on (DISPLAY and WAYLAND_DISPLAY are unset)';
}

/** Installs Electron when it is missing, then opens the app; else says why and serves it instead. */
async function openApp() {
  let electron = findElectron();
  if (!electron.ok) {
    const failed = await installElectron();
    if (failed === null) {
      electron = findElectron();
      if (electron.ok) console.error('packetlab: Electron is installed');
      else electron = { ok: false, why: `its installer finished but ${electron.why}` };
    } else electron = { ok: false, why: failed };
  }
  if (!electron.ok) return serveInstead(`Electron could not be installed (${electron.why})`);
  const problem = sandboxProblem(electron.binary);
  if (problem !== null) return serveInstead(`Electron cannot start: ${problem}`);
  const env = { ...process.env };
  // Set by some hosts (VS Code's terminal); it would make Electron a plain Node.
  delete env.ELECTRON_RUN_AS_NODE;
  run(electron.binary, [root, ...args], env);
}

const mainJs = join(root, 'dist', 'electron', 'main.js');
if (!existsSync(mainJs)) {
  console.error('packetlab: the compiled app is missing (dist/electron/main.js); run `npm run build` first');
  process.exit(2);
}
const args = process.argv.slice(2);
// No display, no window: say so before downloading Electron for nothing.
const noDisplay = displayProblem();
if (noDisplay !== null) serveInstead(`the app cannot open: ${noDisplay}`);
else await openApp();
