// `packetlab rpc call --x FILE.x HOST PROG VERS PROC ['JSON-ARGS']`: a generic RPC client in the
// spirit of grpcurl. It reads the .x file at run time, encodes the JSON arguments by the declared
// types, finds the port through the portmapper unless --port is given, and prints the result.

import { Option, type Command } from 'commander';
import { NO_IMPAIRMENT, type ImpairmentConfig } from '../../core/impair/config.js';
import { IMPAIRMENT_KNOBS, TRANSPORT_KNOBS, transportConfigProblems } from '../../core/knobs.js';
import { resolvePort } from '../../net/rpc/binder.js';
import { RpcRemoteError, RpcTransportError } from '../../core/rpc/client.js';
import { RpcClient, nullProcedure } from '../../net/rpc/client-net.js';
import { RPC_TRANSPORT, RPC_TRANSPORTS, orList, type RpcTransportName } from '../../core/rpc/transports.js';
import { DynamicCodecs, JsonValueError, jsonToValue, valueToJson } from '../../core/rpc/dynamic.js';
import { RPC_TRANSPORT_CONFIG } from '../../core/rpc/plt.js';
import type { ProcedureDescriptor } from '../../core/rpc/program.js';
import type { ProcedureDef, ProgramDef, VersionDef, XType, XdrSpec } from '../../core/rpc/spec.js';
import { XdrEncodeError } from '../../core/rpc/xdr.js';
import type { TransportConfig } from '../../core/transport/config.js';
import { parseNumber } from '../../core/units.js';
import { numberArg } from '../args.js';
import { UsageError, addImpairmentOptions, addKnobOptions, readKnobs } from '../options.js';
import { jsonLine } from '../output.js';
import { addAuthOptions, addBinderOption, addPreprocessorOptions, addRetryOptions, portArg, readCredential, readPreprocessorOptions, readRetryPolicy, readSpec } from './rpc-options.js';

function asNumber(text: string): number | null {
  if (/^(0x[0-9a-fA-F]+|\d+)$/.test(text)) {
    const v = Number(text);
    return v <= 0xffffffff ? v : null;
  }
  return null;
}

function findProgram(spec: XdrSpec, text: string): ProgramDef {
  const n = asNumber(text);
  const p = spec.programs.find((x) => (n !== null ? x.number === n : x.name === text));
  if (p === undefined) {
    const list = spec.programs.map((x) => `${x.name} (${x.number})`).join(', ') || 'none';
    throw new UsageError(`PROG: ${text} is not a program of ${spec.fileName} (programs: ${list})`);
  }
  return p;
}

function findVersion(p: ProgramDef, text: string): VersionDef {
  const n = asNumber(text);
  const v = p.versions.find((x) => (n !== null ? x.number === n : x.name === text));
  if (v === undefined) throw new UsageError(`VERS: ${text} is not a version of ${p.name} (versions: ${p.versions.map((x) => `${x.name} (${x.number})`).join(', ')})`);
  return v;
}

function findProcedure(v: VersionDef, text: string): ProcedureDef {
  const n = asNumber(text);
  const pr = v.procedures.find((x) => (n !== null ? x.number === n : x.name === text));
  if (pr !== undefined) return pr;
  // NULL (procedure 0) exists in every version, declared or not (RFC 5531 (12)).
  if (n === 0 || text === 'NULL') return { name: 'NULL', number: 0, args: [], result: { kind: 'void' }, pos: v.pos };
  throw new UsageError(`PROC: ${text} is not a procedure of ${v.name} (procedures: NULL (0), ${v.procedures.map((x) => `${x.name} (${x.number})`).join(', ')})`);
}

/** The argument value of a call from its JSON text (one argument, or an array for several). */
export function argumentsFromJson(spec: XdrSpec, proc: ProcedureDef, text: string | undefined): unknown {
  if (proc.args.length === 0) {
    if (text !== undefined && text.trim() !== '' && text.trim() !== 'null') throw new UsageError(`JSON-ARGS: ${proc.name} takes no arguments (void)`);
    return undefined;
  }
  if (text === undefined) throw new UsageError(`JSON-ARGS: ${proc.name} needs an argument (${describeType(proc.args)})`);
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw new UsageError(`JSON-ARGS: not valid JSON: ${(e as Error).message}`);
  }
  try {
    if (proc.args.length === 1) return jsonToValue(spec, proc.args[0]!, json, 'args');
    if (!Array.isArray(json) || json.length !== proc.args.length) throw new UsageError(`JSON-ARGS: ${proc.name} takes ${proc.args.length} arguments: give a JSON array of ${proc.args.length} values`);
    return proc.args.map((t, i) => jsonToValue(spec, t, json[i], `args[${i}]`));
  } catch (e) {
    if (e instanceof JsonValueError) throw new UsageError(`JSON-ARGS: ${e.message}`);
    throw e;
  }
}

function describeType(ts: XType[]): string {
  return ts.map((t) => (t.kind === 'ref' ? t.name : t.kind)).join(', ');
}

/** Registers `packetlab rpc call`. */
export function registerRpcCall(rpc: Command): void {
  const cmd = rpc
    .command('call')
    .summary('call any ONC RPC procedure, typed by a .x file (like grpcurl)')
    .description(
      'Reads FILE.x, encodes JSON-ARGS by the declared argument type, calls PROC of PROG version VERS on HOST and prints the result as JSON. PROG, VERS and PROC are numbers or the names in the .x file; procedure 0 (NULL) always exists. The port comes from the portmapper (rpcbind on 111, else the lab binder) unless --port is given. JSON mapping: int/unsigned/float/double as numbers, hyper as numbers or strings of digits, bool as true/false, enums by name, opaque as hex strings, optional data as null or the value, unions as {"<discriminant>": ..., "<arm>": ...}.',
    )
    .argument('<host>', 'server host')
    .argument('<prog>', 'program number or name')
    .argument('<vers>', 'version number or name')
    .argument('<proc>', 'procedure number or name')
    .argument('[json-args]', 'the argument as JSON (an array for several arguments)')
    .requiredOption('--x <file>', 'the .x file that declares the program')
    .addOption(new Option('--port <port>', 'server port (skips the portmapper)').argParser(portArg('--port')))
    .addOption(new Option('--transport <name>', `${orList(RPC_TRANSPORTS.map((t) => `${t} (${RPC_TRANSPORT[t].label})`))} (default udp)`).choices([...RPC_TRANSPORTS]))
    .addOption(new Option('--seed <n>', 'seed of the XIDs and the impairment (default random)').argParser(numberArg(parseNumber, 0, 2 ** 32 - 1, '--seed', true)))
    .addOption(new Option('--json', 'print one JSON object: the result and the call\'s metrics'));
  addPreprocessorOptions(cmd, 'The .x file:');
  addRetryOptions(cmd);
  addAuthOptions(cmd);
  addBinderOption(cmd);
  addImpairmentOptions(cmd, true);
  addKnobOptions(cmd, TRANSPORT_KNOBS, { prefix: 'plt-', group: 'Lab transport (--transport plt):' });
  cmd.action(async (host: string, progText: string, versText: string, procText: string, argsText: string | undefined, o: Record<string, unknown>) => {
    const spec = readSpec(o.x as string, readPreprocessorOptions(o));
    const prog = findProgram(spec, progText);
    const vers = findVersion(prog, versText);
    const proc = findProcedure(vers, procText);
    const args = argumentsFromJson(spec, proc, argsText);
    const transport = ((o.transport as string | undefined) ?? 'udp') as RpcTransportName;
    const policy = readRetryPolicy(o);
    const credential = readCredential(o);
    const forward = { ...NO_IMPAIRMENT, ...readKnobs(o, IMPAIRMENT_KNOBS) } as ImpairmentConfig;
    const reverse = { ...NO_IMPAIRMENT, ...readKnobs(o, IMPAIRMENT_KNOBS, 'rev-') } as ImpairmentConfig;
    const plt = { ...RPC_TRANSPORT_CONFIG, ...readKnobs(o, TRANSPORT_KNOBS, 'plt-') } as TransportConfig;
    const problems = transportConfigProblems(plt);
    if (problems.length > 0) throw new UsageError(problems[0]!);
    const codecs = new DynamicCodecs(spec);
    const descriptor: ProcedureDescriptor<unknown, unknown> =
      proc.number === 0 && proc.args.length === 0 && proc.result.kind === 'void'
        ? (nullProcedure(prog.number, vers.number) as ProcedureDescriptor<unknown, unknown>)
        : { program: prog.number, version: vers.number, procedure: proc.number, name: proc.name, args: codecs.args(proc), result: codecs.codec(proc.result) };
    const h = host === 'localhost' ? '127.0.0.1' : host;
    const port = (o.port as number | undefined) ?? (await resolvePort(h, prog.number, vers.number, transport, { binderPort: o.binderPort as number | undefined }));
    let client: RpcClient;
    try {
      client = await RpcClient.connect({ host: h, port, transport, policy, credential, forward, reverse, plt, seed: o.seed as number | undefined });
    } catch (e) {
      if (e instanceof RangeError) throw new UsageError(e.message);
      throw e;
    }
    const t0 = performance.now();
    const json = o.json === true;
    const what = { host: h, port, transport, program: prog.number, version: vers.number, procedure: proc.number, name: proc.name };
    try {
      const result = await client.call(descriptor, args);
      const latencyMs = performance.now() - t0;
      const out = valueToJson(spec, proc.result, result);
      const k = client.engine.counters;
      if (json) jsonLine({ type: 'result', ...what, result: out, latencyMs, transmissions: k.transmissions, retransmissions: k.retransmissions, strayReplies: k.strayReplies });
      else console.log(JSON.stringify(out, null, 2));
    } catch (e) {
      if (e instanceof XdrEncodeError) throw new UsageError(`JSON-ARGS: ${e.message}`);
      if (!(e instanceof RpcRemoteError || e instanceof RpcTransportError)) throw e;
      const k = client.engine.counters;
      if (json) jsonLine({ type: 'error', ...what, error: e.name === 'RpcRemoteError' ? 'remote' : 'transport', kind: e.kind, message: e.message, transmissions: k.transmissions, retransmissions: k.retransmissions });
      else process.stderr.write(`packetlab: ${proc.name} on ${h}:${port} (${transport}): ${e.message}\n`);
      process.exitCode = 1;
    } finally {
      await client.close();
    }
  });
}
