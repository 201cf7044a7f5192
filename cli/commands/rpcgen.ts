// `packetlab rpcgen FILE.x --out DIR`: the stub generator. Writes DIR/FILE.ts with the types, XDR
// codecs, client class and server registration helper of every program in the file.

import { mkdirSync, writeFileSync } from 'node:fs';
import { basename, join, relative, resolve } from 'node:path';
import { Option, type Command } from 'commander';
import { CodegenError, generateTypeScript } from '../../core/rpc/codegen.js';
import { projectRoot } from '../../net/paths.js';
import { addPreprocessorOptions, readPreprocessorOptions, readSpec, type SpecSourceOptions } from './rpc-options.js';

/** The module specifier generated code in `outDir` uses for the run-time library of this project. */
export function defaultRuntimeImport(outDir: string): string {
  const target = join(projectRoot(), 'core', 'rpc', 'stub-runtime.js');
  let rel = relative(resolve(outDir), target).split('\\').join('/');
  if (!rel.startsWith('.')) rel = `./${rel}`;
  return rel;
}

/** Generates the TypeScript of one .x file; returns the path written. */
export function runRpcgen(file: string, outDir: string, runtimeImport?: string, source: SpecSourceOptions = {}): string {
  const spec = readSpec(file, source);
  let code: string;
  try {
    code = generateTypeScript(spec, { runtimeImport: runtimeImport ?? defaultRuntimeImport(outDir) });
  } catch (e) {
    if (e instanceof CodegenError) throw new Error(`${file}: ${e.message}`);
    throw e;
  }
  mkdirSync(outDir, { recursive: true });
  const out = join(outDir, `${basename(file).replace(/\.x$/, '')}.ts`);
  writeFileSync(out, code);
  return out;
}

/** Registers `packetlab rpcgen`. */
export function registerRpcgen(program: Command): void {
  const cmd = program
    .command('rpcgen')
    .summary('generate TypeScript stubs from an RPC language file (.x)')
    .description(
      'Reads an ONC RPC language file (RFC 5531 section 12, RFC 4506 section 6), preprocessed as rpcgen does (#include, #define, #if; RPC_HDR, RPC_XDR, RPC_CLNT and RPC_SVC defined in turn), and writes one TypeScript module: the types, their XDR codecs, a typed client (one async method per procedure) and a server handler interface with a registration helper. The output interoperates with stubs from Debian rpcgen/libtirpc.',
    )
    .argument('<file.x>', 'the RPC language file')
    .requiredOption('--out <dir>', 'directory to write <file>.ts into')
    .addOption(new Option('--runtime <module>', 'module the generated code imports the run-time library from (default: this project\'s core/rpc/stub-runtime.js, relative to --out)'));
  addPreprocessorOptions(cmd);
  cmd.action((file: string, o: { out: string; runtime?: string } & Record<string, unknown>) => {
    const out = runRpcgen(file, o.out, o.runtime, readPreprocessorOptions(o));
    console.log(`wrote ${out}`);
  });
}
