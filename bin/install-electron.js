#!/usr/bin/env node
// Runs Electron's own installer (the `install.js` of an electron package folder, what the package's
// `install-electron` bin runs) for `npm start`, and reports why it failed in one line. The installer
// prints a whole stack trace, and for a failed download only "fetch failed": the address and the
// network's answer are in the error's cause, which the trace leaves out. So this wrapper notes each
// failed fetch, keeps the installer's own error text, and on a failed exit writes one line to file
// descriptor 3 when the parent opened it (bin/start.js does), else to stderr.
//
// Usage: node bin/install-electron.js ELECTRON_DIR

import { createRequire } from 'node:module';
import { existsSync, writeSync } from 'node:fs';
import { join } from 'node:path';

const dir = process.argv[2];
if (dir === undefined) {
  process.stderr.write('usage: node bin/install-electron.js ELECTRON_DIR\n');
  process.exit(2);
}

let failedFetch = null;
let installerSaid = null;

// The reason a fetch failed, with the network's own words (getaddrinfo ENOTFOUND github.com, ...).
const realFetch = globalThis.fetch;
globalThis.fetch = async (input, init) => {
  try {
    const res = await realFetch(input, init);
    if (!res.ok) failedFetch = `${res.url}: HTTP ${res.status} ${res.statusText}`;
    return res;
  } catch (e) {
    const cause = e?.cause?.message ?? e?.cause?.code ?? e?.message ?? String(e);
    failedFetch = `${typeof input === 'string' ? input : (input?.url ?? String(input))}: ${cause}`;
    throw e;
  }
};

// The installer reports its failure with console.error(err.stack); keep the first line of it.
console.error = (...args) => {
  const text = args.map((a) => (a instanceof Error ? (a.stack ?? a.message) : String(a))).join(' ');
  if (installerSaid === null && text.trim() !== '') installerSaid = text.trim().split('\n', 1)[0];
};

function report(why) {
  const line = `${why.replace(/\s+/g, ' ').trim()}\n`;
  try {
    writeSync(3, line);
  } catch {
    process.stderr.write(line);
  }
}

process.on('exit', (code) => {
  if (code === 0) return;
  report(failedFetch !== null ? `cannot download ${failedFetch}` : (installerSaid ?? `its installer exited with code ${code}`));
});

const installer = join(dir, 'install.js');
if (!existsSync(installer)) {
  installerSaid = `${installer} is missing (run npm install)`;
  process.exit(1);
}
try {
  createRequire(import.meta.url)(installer);
} catch (e) {
  // A synchronous throw: a platform Electron does not support, or a broken electron package.
  installerSaid = e?.message ?? String(e);
  process.exit(1);
}
