#!/usr/bin/env node
// Can Chromium's sandbox start for the Electron of `npm start`? On Linux it needs unprivileged user
// namespaces or a setuid-root `chrome-sandbox` helper. Ubuntu 24.04 and later let only programs
// whose AppArmor profile allows it create user namespaces
// (kernel.apparmor_restrict_unprivileged_userns = 1), and Electron aborts at launch without one.
// The deb package installs such a profile (electron-builder's after-install script); the Electron
// that npm puts in node_modules has none. bin/start.js asks sandboxProblem() before launching it;
// `npm run allow-sandbox` writes the profile for that one binary and loads it (with sudo), which is
// what the deb does for the packaged app. Never --no-sandbox.
//
// Usage: node bin/electron-sandbox.js --print     the profile for node_modules/electron's binary
//        node bin/electron-sandbox.js --install   write it to /etc/apparmor.d and load it (sudo)

import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** 1 when AppArmor restricts unprivileged user namespaces (Ubuntu 24.04 and later). */
export const USERNS_RESTRICT_FILE = '/proc/sys/kernel/apparmor_restrict_unprivileged_userns';
/** Where AppArmor profiles live. */
export const APPARMOR_DIR = '/etc/apparmor.d';
/** The profile's name, and its file's name in APPARMOR_DIR. */
export const PROFILE_NAME = 'packetlab-electron';

/** A path as an AppArmor path pattern: its globbing characters and quotes escaped. */
function appArmorPath(path) {
  return path.replace(/[\\"*?[\]{}^]/g, '\\$&');
}

/** The AppArmor profile that lets `binary` create user namespaces, as the deb's profile does. */
export function appArmorProfile(binary) {
  return [
    '# Written by Packet Lab (bin/electron-sandbox.js): lets the Electron binary of `npm start` use',
    "# unprivileged user namespaces for Chromium's sandbox, as the deb package's profile does.",
    'abi <abi/4.0>,',
    'include <tunables/global>',
    '',
    `profile ${PROFILE_NAME} "${appArmorPath(binary)}" flags=(unconfined) {`,
    '  userns,',
    '',
    `  include if exists <local/${PROFILE_NAME}>`,
    '}',
    '',
  ].join('\n');
}

/** Does a profile in `dir` name `binary`? */
function hasProfileFor(binary, dir) {
  const wanted = `"${appArmorPath(binary)}"`;
  let names;
  try {
    names = readdirSync(dir);
  } catch {
    return false;
  }
  for (const name of names) {
    try {
      const file = join(dir, name);
      if (statSync(file).isFile() && readFileSync(file, 'utf8').includes(wanted)) return true;
    } catch {
      // An unreadable profile is not ours.
    }
  }
  return false;
}

/**
 * Why Chromium's sandbox cannot start for `binary` on this machine, or null when it can (and on
 * every system but Linux). `where` names the files to read, for tests.
 */
export function sandboxProblem(binary, where = { platform: process.platform, restrictFile: USERNS_RESTRICT_FILE, apparmorDir: APPARMOR_DIR }) {
  if (where.platform !== 'linux') return null;
  let restricted;
  try {
    restricted = readFileSync(where.restrictFile, 'utf8').trim() === '1';
  } catch {
    return null;
  }
  if (!restricted) return null;
  try {
    const helper = statSync(join(dirname(binary), 'chrome-sandbox'));
    if (helper.uid === 0 && (helper.mode & 0o4000) !== 0) return null;
  } catch {
    // No helper: the profile is the only way.
  }
  if (hasProfileFor(binary, where.apparmorDir)) return null;
  return "AppArmor blocks the user namespaces of Chromium's sandbox here (Ubuntu 24.04 and later); `npm run allow-sandbox` allows them for this Electron binary only";
}

/** The Electron binary of node_modules/electron (or PACKETLAB_ELECTRON_DIR), whether or not it is installed. */
function electronBinary() {
  const root = join(dirname(fileURLToPath(import.meta.url)), '..');
  const dir = process.env.PACKETLAB_ELECTRON_DIR ?? join(root, 'node_modules', 'electron');
  const pathFile = join(dir, 'path.txt');
  const name = existsSync(pathFile) ? readFileSync(pathFile, 'utf8').trim() : 'electron';
  return resolve(dir, 'dist', name);
}

function install() {
  const binary = electronBinary();
  const target = join(APPARMOR_DIR, PROFILE_NAME);
  const tmp = mkdtempSync(join(tmpdir(), 'packetlab-apparmor-'));
  const file = join(tmp, PROFILE_NAME);
  writeFileSync(file, appArmorProfile(binary));
  console.log(`packetlab: installing the AppArmor profile ${target} for ${binary} (sudo asks for your password)`);
  try {
    for (const args of [['install', '-m', '644', file, target], ['apparmor_parser', '--replace', target]]) {
      const r = spawnSync('sudo', args, { stdio: 'inherit' });
      if (r.error !== undefined || r.status !== 0) {
        console.error(`packetlab: \`sudo ${args.join(' ')}\` failed${r.error !== undefined ? `: ${r.error.message}` : ''}`);
        return 1;
      }
    }
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
  console.log('packetlab: done; `npm start` opens the app now');
  return 0;
}

if (process.argv[1] !== undefined && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const arg = process.argv[2];
  if (arg === '--print') process.stdout.write(appArmorProfile(electronBinary()));
  else if (arg === '--install') process.exitCode = install();
  else {
    console.error('usage: node bin/electron-sandbox.js --print | --install');
    process.exitCode = 2;
  }
}
