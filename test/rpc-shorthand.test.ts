// Wire agreement with rpcgen for its C names and shorthands: test/fixtures/rpc/shorthand.x (char,
// unsigned char, short, unsigned short, long, u_long, u_int, #define'd sizes, a type from an
// #include'd file, bare string arguments and results) becomes a C server through Debian's rpcgen
// and libtirpc, and a TypeScript client through packetlab rpcgen; the client calls the server over
// UDP and TCP and the values agree, down to C's wrap-around of a char. Without rpcgen, gcc or
// libtirpc-dev the test skips and says which is missing.

import { spawn, type ChildProcess } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runRpcgen } from '../cli/commands/rpcgen.js';
import { readSpec } from '../cli/commands/rpc-options.js';
import { RpcClient } from '../net/rpc/client-net.js';
import type { RpcCaller } from '../core/rpc/program.js';
import { buildShorthandServer, missingCTools } from './helpers/c-stubs.js';
import { cliAsync } from './helpers/cli.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const FIXTURE = join(root, 'test/fixtures/rpc/shorthand.x');

const missing = missingCTools();
if (missing.length > 0) console.warn(`rpc-shorthand: skipped, missing ${missing.join(', ')} (CI installs rpcsvc-proto, libtirpc-dev and gcc)`);

interface Sample {
  c: number;
  uc: number;
  s: number;
  us: number;
  l: number;
  ul: number;
  ui: number;
  tag: Uint8Array;
  samples: number[];
  where: { x: number; y: number };
  who: string;
}

/** The generated client's methods this test calls. */
interface ShorthandClient {
  echo(v: Sample): Promise<Sample>;
  describe(v: Sample): Promise<string>;
  greet(name: string): Promise<string>;
  nextChar(c: number): Promise<number>;
  negate(s: number): Promise<number>;
  nextByte(b: number): Promise<number>;
}

const SAMPLE: Sample = { c: -5, uc: 250, s: -30000, us: 65000, l: -2000000000, ul: 4000000000, ui: 4294967295, tag: Uint8Array.of(0xde, 0xad, 0xbe, 0xef), samples: [-1, 2, -32768], where: { x: -7, y: 8 }, who: 'packetlab' };

describe.skipIf(missing.length > 0)('rpcgen C names and shorthands: a C server from Debian rpcgen, the TypeScript client from packetlab rpcgen', () => {
  let cDir = '';
  let tsDir = '';
  let server: ChildProcess | null = null;
  let ports: { udp: number; tcp: number };
  let Client: new (rpc: RpcCaller) => ShorthandClient;

  beforeAll(async () => {
    cDir = buildShorthandServer();
    tsDir = mkdtempSync(join(tmpdir(), 'rpc-ts-shorthand-'));
    mkdirSync(join(tsDir, 'ts'));
    writeFileSync(join(tsDir, 'ts', 'package.json'), '{ "type": "module" }\n');
    const out = runRpcgen(FIXTURE, join(tsDir, 'ts'), join(root, 'core/rpc/stub-runtime.js'));
    Client = ((await import(out)) as { ShorthandProgV1Client: typeof Client }).ShorthandProgV1Client;
    server = spawn(join(cDir, 'shorthand_server'), [], { stdio: ['ignore', 'pipe', 'inherit'] });
    const lines = createInterface({ input: server.stdout! });
    ports = await new Promise((resolve, reject) => {
      lines.on('line', (l) => {
        const [k, a, b] = l.split(' ');
        if (k === 'ports') resolve({ udp: Number(a), tcp: Number(b) });
      });
      server!.on('exit', (code) => reject(new Error(`the C server exited with ${code}`)));
    });
  }, 60_000);

  afterAll(() => {
    if (server !== null && server.pid !== undefined && server.exitCode === null) server.kill('SIGTERM');
    if (cDir !== '') rmSync(cDir, { recursive: true, force: true });
    if (tsDir !== '') rmSync(tsDir, { recursive: true, force: true });
  });

  it("maps each member as rpcgen's XDR routine for it encodes", () => {
    // What rpcgen -c wrote for struct sample: xdr_<routine> (xdrs, &objp->member).
    const c = readFileSync(join(cDir, 'shorthand_xdr.c'), 'utf8');
    const body = c.slice(c.indexOf('xdr_sample (XDR *xdrs'));
    const routines = new Map([...body.matchAll(/if \(!(xdr_[a-z_]+) \(xdrs, &?objp->(\w+)/g)].map((m) => [m[2]!, m[1]!]));
    const LIBTIRPC: Record<string, string> = { xdr_char: 'int', xdr_u_char: 'uint', xdr_short: 'int', xdr_u_short: 'uint', xdr_long: 'int', xdr_u_long: 'uint', xdr_u_int: 'uint' };
    const spec = readSpec(FIXTURE);
    const sample = spec.typeByName.get('sample');
    if (sample?.kind !== 'struct') throw new Error('no struct sample');
    const scalars = sample.fields.filter((f) => ['int', 'uint'].includes(f.type.kind));
    expect(scalars.map((f) => f.name)).toEqual(['c', 'uc', 's', 'us', 'l', 'ul', 'ui']);
    for (const f of scalars) expect(`${f.name}: ${LIBTIRPC[routines.get(f.name)!]}`).toBe(`${f.name}: ${f.type.kind}`);
    // The #define'd sizes and the #include'd types arrive as rpcgen read them.
    expect(sample.fields.map((f) => f.type)).toContainEqual({ kind: 'fixedOpaque', length: 4 });
    expect(sample.fields.map((f) => f.type)).toContainEqual({ kind: 'varArray', element: { kind: 'int' }, max: 8 });
    expect(spec.typeByName.get('name_t')).toMatchObject({ type: { kind: 'string', max: 16 }, pos: { file: join(root, 'test/fixtures/rpc/shorthand_common.x') } });
  });

  for (const transport of ['udp', 'tcp'] as const) {
    it(`${transport}: every value the TypeScript client sends is the value C holds, and C's answers decode as sent`, async () => {
      const rpc = await RpcClient.connect({ host: '127.0.0.1', port: ports[transport], transport, policy: { timeoutMs: 5000, retryIntervalMs: 200, retryBackoff: 2, retryIntervalMsMax: 1000, maxRetransmissions: 5 } });
      try {
        const c = new Client(rpc);
        expect(await c.echo(SAMPLE)).toEqual(SAMPLE);
        // The C server prints each member as C holds it after libtirpc decoded it. On 64-bit hosts
        // libtirpc's xdr_long does not sign-extend what it decodes (xdrmem_getlong: (long)ntohl()),
        // so C holds -2000000000 as 2294967296; it encodes the low 32 bits back, so ECHO agrees.
        const cLong = ['x64', 'arm64', 'ppc64', 's390x', 'riscv64', 'loong64', 'mips64el'].includes(process.arch) ? 2294967296 : -2000000000;
        expect(await c.describe(SAMPLE)).toBe(`c=-5 uc=250 s=-30000 us=65000 l=${cLong} ul=4000000000 ui=4294967295 tag=deadbeef samples=-1,2,-32768 where=(-7,8) who=packetlab`);
        expect(await c.greet('wörld')).toBe('hello, wörld (6 bytes)');
        expect(await c.nextChar(41)).toBe(42);
        // A char is 4 bytes on the wire, but C keeps 8 bits: 127 + 1 wraps, and the reply says so.
        expect(await c.nextChar(127)).toBe(-128);
        expect(await c.negate(123)).toBe(-123);
        expect(await c.negate(-32768)).toBe(-32768);
        expect(await c.nextByte(255)).toBe(0);
      } finally {
        await rpc.close();
      }
    });
  }

  it('packetlab rpc call --x reads the .x and, through -I, the file it includes', async () => {
    const d = mkdtempSync(join(tmpdir(), 'rpc-call-include-'));
    try {
      mkdirSync(join(d, 'proto'));
      mkdirSync(join(d, 'inc'));
      copyFileSync(FIXTURE, join(d, 'proto', 'shorthand.x'));
      copyFileSync(join(root, 'test/fixtures/rpc/shorthand_common.x'), join(d, 'inc', 'shorthand_common.x'));
      const call = (...extra: string[]) => cliAsync(['rpc', 'call', '--x', join(d, 'proto', 'shorthand.x'), '127.0.0.1', 'SHORTHAND_PROG', 'SHORTHAND_V1', ...extra]);
      const includeLine = readFileSync(FIXTURE, 'utf8').split('\n').findIndex((l) => l.startsWith('#include')) + 1;
      const lost = await call('NEXT_CHAR', '127', '--port', String(ports.udp));
      expect(lost.code).toBe(1);
      expect(lost.stderr).toBe(`packetlab: ${join(d, 'proto', 'shorthand.x')}:${includeLine}:1: cannot find the included file "shorthand_common.x" (searched ${join(d, 'proto')}, /usr/local/include, /usr/include)\n`);
      const next = await call('NEXT_CHAR', '127', '--port', String(ports.udp), '-I', join(d, 'inc'));
      expect(next.stderr).toBe('');
      expect(next.stdout.trim()).toBe('-128');
      const json = JSON.stringify({ ...SAMPLE, tag: 'deadbeef' });
      const described = await call('DESCRIBE', json, '--port', String(ports.tcp), '--transport', 'tcp', '--include', join(d, 'inc'));
      expect(JSON.parse(described.stdout)).toMatch(/^c=-5 uc=250 s=-30000 us=65000 l=\S+ ul=4000000000 ui=4294967295 tag=deadbeef samples=-1,2,-32768 where=\(-7,8\) who=packetlab$/);
    } finally {
      rmSync(d, { recursive: true, force: true });
    }
  });
});
