// The layers, checked (docs/architecture.md): core/ is sans-IO. Its engines take `now` as an
// argument and report their next deadline; they never read a clock, start a timer, touch a socket
// or a file, or draw an unseeded random number, and they import nothing above them. A run is then
// the same in the simulator and on sockets, and reproducible from its seed.
//
// Allowed from node: in core, by name, because they are pure computations: hashes (the bulk
// verdict's SHA-256, the peer protocol's HMAC and HKDF, a constant-time compare) and createRequire,
// which loads the native CRC32C on first use with the JavaScript table as fallback
// (core/wire/packet.ts).

import tsParser from '@typescript-eslint/parser';

const PURE_NODE = {
  'node:crypto': ['createHash', 'createHmac', 'hkdfSync', 'timingSafeEqual', 'Hash'],
  'node:module': ['createRequire'],
};

const NODE_BUILTINS = ['assert', 'async_hooks', 'buffer', 'child_process', 'cluster', 'console', 'crypto', 'dgram', 'diagnostics_channel', 'dns', 'events', 'fs', 'http', 'http2', 'https', 'inspector', 'module', 'net', 'os', 'path', 'perf_hooks', 'process', 'readline', 'stream', 'timers', 'tls', 'tty', 'url', 'util', 'v8', 'vm', 'worker_threads', 'zlib'];

/** The rules that keep core/ sans-IO; exported so that a test can show that each one bites. */
export const sansIoRules = {
  'no-restricted-imports': [
    'error',
    {
      paths: [
        ...Object.entries(PURE_NODE).map(([name, allowed]) => ({ name, allowImportNames: allowed, message: `core/ is sans-IO: from ${name} only ${allowed.join(', ')} (pure computations) may be imported` })),
        ...NODE_BUILTINS.map((name) => ({ name, message: 'core/ is sans-IO: no Node built-in module (I/O belongs in net/)' })),
      ],
      patterns: [
        { regex: '^node:(?!crypto$|module$)', message: 'core/ is sans-IO: no node: module but the pure ones allowed in eslint.config.js (I/O belongs in net/)' },
        { regex: '^(\\.\\./)+(net|workloads|experiments|cli|electron|renderer|bench|test)(/|$)', message: 'core/ imports nothing above it: net/, workloads/, experiments/, cli/, electron/, renderer/' },
      ],
    },
  ],
  'no-restricted-globals': [
    'error',
    ...['setTimeout', 'setInterval', 'setImmediate', 'clearTimeout', 'clearInterval', 'clearImmediate', 'queueMicrotask', 'performance', 'Date', 'fetch', 'require'].map((name) => ({ name, message: `core/ is sans-IO: no ${name} (take \`now\` as an argument, report deadlines; I/O belongs in net/)` })),
  ],
  'no-restricted-properties': [
    'error',
    { object: 'Math', property: 'random', message: 'core/ is sans-IO: randomness comes from a seeded Rng (core/util/rng.ts) passed in' },
    { object: 'globalThis', property: 'setTimeout', message: 'core/ is sans-IO: no timers' },
    { object: 'globalThis', property: 'performance', message: 'core/ is sans-IO: no clock' },
    { object: 'crypto', property: 'getRandomValues', message: 'core/ is sans-IO: randomness comes from a seeded Rng passed in' },
    { object: 'crypto', property: 'randomUUID', message: 'core/ is sans-IO: randomness comes from a seeded Rng passed in' },
  ],
};

/** Above core/, each layer imports only the layers below it: net/ (I/O) knows no whole run, and a
 * workload (workloads/) knows no spec, runner or surface. */
function importsOnlyBelow(layer, above) {
  return {
    'no-restricted-imports': [
      'error',
      { patterns: [{ regex: `^(\\.\\./)+(${above.join('|')})(/|$)`, message: `${layer}/ imports only the layers below it, not ${above.map((a) => `${a}/`).join(', ')}` }] },
    ],
  };
}

export const layerRules = {
  net: importsOnlyBelow('net', ['workloads', 'experiments', 'cli', 'electron', 'renderer', 'bench', 'test']),
  workloads: importsOnlyBelow('workloads', ['experiments', 'cli', 'electron', 'renderer', 'bench', 'test']),
};

const typescript = { parser: tsParser, ecmaVersion: 2023, sourceType: 'module' };

export default [
  {
    files: ['core/**/*.ts'],
    ignores: ['core/types/**'],
    languageOptions: typescript,
    rules: sansIoRules,
  },
  { files: ['net/**/*.ts'], languageOptions: typescript, rules: layerRules.net },
  { files: ['workloads/**/*.ts'], languageOptions: typescript, rules: layerRules.workloads },
];
