#!/usr/bin/env node
// Entry point of the `packetlab` command: runs the compiled CLI from dist/.
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const entry = new URL('../dist/cli/main.js', import.meta.url);
if (!existsSync(fileURLToPath(entry))) {
  console.error('packetlab: the compiled code is missing (dist/cli/main.js); run `npm install` or `npm run build` first');
  process.exit(2);
}
await import(entry.href);
