// The layers (eslint.config.js, docs/architecture.md): core/ is sans-IO and imports nothing above
// it; net/ and workloads/ import only the layers below them. The lint step of `npm test` checks the tree; this shows that each of its rules bites on a
// file under core/, and that what core/ may use passes.

import { describe, expect, it } from 'vitest';
import { ESLint } from 'eslint';
import { join } from 'node:path';
import { ROOT } from './helpers/stage-app.js';

const eslint = new ESLint({ cwd: ROOT });

/** The messages ESLint gives `code` as if it were the file `path` (relative to the project). */
async function lint(code: string, path = 'core/wire/example.ts'): Promise<string[]> {
  const [r] = await eslint.lintText(code, { filePath: join(ROOT, path) });
  return r!.messages.map((m) => `${m.ruleId}: ${m.message}`);
}

describe('core/ is sans-IO', () => {
  it.each([
    ["import { createSocket } from 'node:dgram';", /no-restricted-imports: .*no node: module/],
    ["import { readFileSync } from 'fs';", /no-restricted-imports: .*no Node built-in module/],
    ["import { randomBytes } from 'node:crypto';", /no-restricted-imports: .*only createHash/],
    ["import { startListenerServer } from '../../net/udp/listener-server.js';", /imports nothing above it/],
    ["import { runSimTransfer } from '../workloads/transfer/sim-transfer.js';", /imports nothing above it/],
    ["import { loadLibrary } from '../../experiments/library.js';", /imports nothing above it/],
    ['export const t = setTimeout(() => {}, 10);', /no-restricted-globals: .*no setTimeout/],
    ['export const now = performance.now();', /no-restricted-globals: .*no performance/],
    ['export const now = Date.now();', /no-restricted-globals: .*no Date/],
    ['export const r = Math.random();', /no-restricted-properties: .*seeded Rng/],
    ['export const id = crypto.randomUUID();', /no-restricted-properties: .*seeded Rng/],
  ])('refuses %s', async (code, message) => {
    const messages = await lint(code);
    expect(messages.some((m) => message.test(m)), messages.join('\n')).toBe(true);
  });

  it('lets core/ use pure hashes, createRequire, its own modules and its seeded Rng', async () => {
    const ok = [
      "import { createHash, type Hash } from 'node:crypto';",
      "import { createRequire } from 'node:module';",
      "import { Rng } from '../util/rng.js';",
      "import { HEADER_BYTES } from './packet.js';",
      'export function next(now: number): number { return now + new Rng(1).uint32(); }',
    ].join('\n');
    expect(await lint(ok)).toEqual([]);
  });

  it('applies to core/ only: net/ does I/O', async () => {
    const messages = await lint("import { createSocket } from 'node:dgram';\nexport const t = setTimeout(() => {}, 1);", 'net/udp/example.ts');
    expect(messages.filter((m) => m.startsWith('no-restricted'))).toEqual([]);
  });
});

describe('net/ and workloads/ import only the layers below them', () => {
  it.each([
    ['net/peer/example.ts', "import { runRpcWorkload } from '../../workloads/rpc/workload.js';"],
    ['net/peer/example.ts', "import { CounterService } from '../../experiments/rpc/counter-server.js';"],
    ['net/example.ts', "import { main } from '../cli/main.js';"],
    ['workloads/rpc/example.ts', "import { loadLibrary } from '../../experiments/library.js';"],
    ['workloads/rpc/example.ts', "import { API_METHODS } from '../../electron/channels.js';"],
  ])('%s refuses %s', async (path, code) => {
    const messages = await lint(code, path);
    expect(messages.some((m) => /imports only the layers below it/.test(m)), messages.join('\n')).toBe(true);
  });

  it('lets them import the layers below', async () => {
    expect(await lint("import { Rng } from '../../core/util/rng.js';\nimport { udpSocket } from '../../net/udp/held-sends.js';", 'workloads/rpc/example.ts')).toEqual([]);
    expect(await lint("import { Rng } from '../../core/util/rng.js';\nimport { createSocket } from 'node:dgram';", 'net/udp/example.ts')).toEqual([]);
  });
});
