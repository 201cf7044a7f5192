// The corpus: the RPC definitions Debian ships (/usr/include/rpcsvc/*.x from rpcsvc-proto and
// libnsl-dev, rpcb_prot.x and crypt.x from libtirpc-dev). Every file Debian's `rpcgen -h` accepts
// must be accepted by packetlab rpcgen, and every file it refuses refused; the TypeScript written
// for each must type-check; and the generated codecs must round-trip random values of every type
// and of every procedure's arguments and result, byte for byte as the run-time codecs encode them,
// and through the JSON of packetlab rpc call.
// The count is printed. Without the files or rpcgen, the test skips and says what is missing.

import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import ts from 'typescript';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runRpcgen } from '../cli/commands/rpcgen.js';
import { readSpec } from '../cli/commands/rpc-options.js';
import { pascalCase } from '../core/rpc/codegen.js';
import { DynamicCodecs, jsonToValue, valueToJson } from '../core/rpc/dynamic.js';
import type { XType } from '../core/rpc/spec.js';
import { decodeAll, encodeToBytes, type XdrCodec } from '../core/rpc/xdr.js';
import { valueArb } from './helpers/xdr-arb.js';
import { haveCommand } from '../bench/lib.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');

const RPCSVC = '/usr/include/rpcsvc';
const CORPUS = [
  ...(existsSync(RPCSVC) ? readdirSync(RPCSVC).filter((f) => f.endsWith('.x')).sort().map((f) => join(RPCSVC, f)) : []),
  '/usr/include/tirpc/rpc/rpcb_prot.x',
  '/usr/include/tirpc/rpcsvc/crypt.x',
].filter((f) => existsSync(f));


// Debian's 19 files: 17 from rpcsvc-proto and libnsl-dev (nis.x and yp.x are libnsl-dev's), 2 from libtirpc-dev.
const missing: string[] = [];
if (!existsSync(join(RPCSVC, 'mount.x'))) missing.push('rpcsvc-proto (/usr/include/rpcsvc/*.x)');
if (!existsSync(join(RPCSVC, 'nis.x'))) missing.push('libnsl-dev (/usr/include/rpcsvc/nis.x, yp.x)');
if (!existsSync('/usr/include/tirpc/rpc/rpcb_prot.x')) missing.push('libtirpc-dev (/usr/include/tirpc)');
if (!haveCommand('rpcgen')) missing.push('rpcgen (rpcsvc-proto)');
if (missing.length > 0) console.warn(`rpc-corpus: skipped, missing ${missing.join(', ')} (CI installs rpcsvc-proto, libnsl-dev and libtirpc-dev)`);

/** What Debian's rpcgen says of a file: null when it writes the header, else its complaint. */
function rpcgenRefusal(file: string, dir: string): string | null {
  const out = join(dir, `${basename(file, '.x')}.h`);
  try {
    // rpcgen runs cpp in the file's folder, as a user would, so "..." includes resolve there.
    execFileSync('rpcgen', ['-h', '-o', out, basename(file)], { cwd: dirname(file), stdio: ['ignore', 'ignore', 'pipe'] });
    return null;
  } catch (e) {
    return String((e as { stderr?: Buffer }).stderr ?? e).trim();
  } finally {
    rmSync(out, { force: true });
  }
}

interface Outcome {
  file: string;
  rpcgen: string | null;
  packetlab: string | null;
  out: string | null;
}

describe.skipIf(missing.length > 0)("Debian's .x files: packetlab rpcgen accepts what rpcgen accepts", () => {
  let dir = '';
  const outcomes: Outcome[] = [];

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'rpc-corpus-'));
    // The generated modules are ES modules, as everything in this package.
    mkdirSync(join(dir, 'ts'));
    writeFileSync(join(dir, 'ts', 'package.json'), '{ "type": "module" }\n');
    for (const file of CORPUS) {
      const rpcgen = rpcgenRefusal(file, dir);
      let packetlab: string | null = null;
      let out: string | null = null;
      try {
        out = runRpcgen(file, join(dir, 'ts'), join(root, 'core/rpc/stub-runtime.js'));
      } catch (e) {
        packetlab = (e as Error).message;
      }
      outcomes.push({ file, rpcgen, packetlab, out });
    }
    const ours = outcomes.filter((o) => o.packetlab === null).length;
    const theirs = outcomes.filter((o) => o.rpcgen === null).length;
    console.log(`rpc-corpus: packetlab rpcgen accepts ${ours} of ${outcomes.length} files; Debian's rpcgen -h accepts ${theirs}`);
    for (const o of outcomes) if (o.packetlab !== null) console.log(`rpc-corpus: refused ${o.file}: ${o.packetlab}`);
  }, 120_000);

  afterAll(() => {
    if (dir !== '') rmSync(dir, { recursive: true, force: true });
  });

  it('finds all 19 files', () => {
    expect(outcomes.map((o) => o.file.replace(/^.*\/include\//, ''))).toHaveLength(19);
  });

  it('accepts every file rpcgen accepts, and refuses the ones it refuses at the same line', () => {
    const disagree = outcomes.filter((o) => (o.rpcgen === null) !== (o.packetlab === null)).map((o) => `${o.file}: rpcgen ${o.rpcgen === null ? 'accepts' : 'refuses'}, packetlab ${o.packetlab ?? 'accepts'}`);
    expect(disagree).toEqual([]);
    expect(outcomes.filter((o) => o.rpcgen === null).length).toBe(18);
    // nis.x: a %#define continued with a backslash leaves a bare line, and both stop there.
    const nis = outcomes.find((o) => o.file.endsWith('/nis.x'))!;
    expect(nis.rpcgen).toContain('nis.x, line 411: definition keyword expected');
    expect(nis.packetlab).toBe(`${nis.file}:411:5: expected a definition (const, typedef, enum, struct, union or program), found "NIS_MODIFY_ACC"`);
  });

  it('writes TypeScript that type-checks under the strict settings, unused locals included', () => {
    const files = outcomes.flatMap((o) => (o.out === null ? [] : [o.out]));
    expect(files.length).toBe(18);
    const config = ts.readConfigFile(join(root, 'tsconfig.json'), (p) => ts.sys.readFile(p));
    const parsed = ts.parseJsonConfigFileContent(config.config, ts.sys, root);
    const program = ts.createProgram(files, { ...parsed.options, noEmit: true, noUnusedLocals: true, noUnusedParameters: true, rootDir: '/' });
    const problems = ts.getPreEmitDiagnostics(program).map((d) => {
      const where = d.file === undefined ? '' : `${d.file.fileName}:${d.file.getLineAndCharacterOfPosition(d.start ?? 0).line + 1}: `;
      return `${where}${ts.flattenDiagnosticMessageText(d.messageText, '\n')}`;
    });
    expect(problems).toEqual([]);
  }, 120_000);

  it('round-trips random values of every type and every procedure through the generated codecs', async () => {
    let types = 0;
    let procedures = 0;
    for (const o of outcomes) {
      if (o.out === null) continue;
      const spec = readSpec(o.file);
      const mod = (await import(o.out)) as Record<string, unknown>;
      const dyn = new DynamicCodecs(spec);
      const check = (codec: XdrCodec<unknown>, runtime: XdrCodec<unknown>, arb: fc.Arbitrary<unknown>, what: string, t: XType | null) => {
        fc.assert(
          fc.property(arb, (v) => {
            const bytes = encodeToBytes(codec, v);
            expect(Buffer.from(encodeToBytes(runtime, v)).toString('hex'), what).toBe(Buffer.from(bytes).toString('hex'));
            const back = decodeAll(codec, bytes);
            if (!back.ok) throw new Error(`${o.file} ${what}: ${back.error}`);
            expect(back.value, what).toEqual(v);
            // Through JSON and back, as packetlab rpc call --x takes arguments and prints results.
            if (t !== null) expect(jsonToValue(spec, t, JSON.parse(JSON.stringify(valueToJson(spec, t, v))), 'v'), what).toEqual(v);
          }),
          { numRuns: 25, seed: 22 },
        );
      };
      for (const t of spec.types) {
        const codec = mod[`xdr${pascalCase(t.name)}`] as XdrCodec<unknown> | undefined;
        expect(codec, `${o.file}: the codec of ${t.name}`).toBeDefined();
        check(codec!, dyn.named(t.name), valueArb(spec, { kind: 'ref', name: t.name }), `${basename(o.file)} ${t.name}`, { kind: 'ref', name: t.name });
        types++;
      }
      for (const p of spec.programs) {
        for (const v of p.versions) {
          const table = mod[`${pascalCase(p.name)}V${v.number}`] as { procedures: Record<string, { args: XdrCodec<unknown>; result: XdrCodec<unknown> }> };
          for (const pr of v.procedures) {
            const d = table.procedures[pr.name]!;
            const argsArb = pr.args.length === 0 ? fc.constant(undefined) : pr.args.length === 1 ? valueArb(spec, pr.args[0]!) : fc.tuple(...pr.args.map((a: XType) => valueArb(spec, a)));
            check(d.args, dyn.args(pr), argsArb, `${basename(o.file)} ${pr.name} arguments`, pr.args.length === 1 ? pr.args[0]! : null);
            check(d.result, dyn.codec(pr.result), valueArb(spec, pr.result), `${basename(o.file)} ${pr.name} result`, pr.result);
            procedures++;
          }
        }
      }
    }
    console.log(`rpc-corpus: ${types} types and ${procedures} procedures round-trip`);
    expect(types).toBeGreaterThan(200);
  }, 120_000);
});
