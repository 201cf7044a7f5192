// `packetlab rpc`: ONC RPC commands (call, serve-demo, binder, workload). The stub generator and
// the portmapper listing are top-level commands of their own: `packetlab rpcgen`, `packetlab rpcinfo`.

import type { Command } from 'commander';
import { registerRpcCall } from './rpc-call.js';
import { registerRpcServe } from './rpc-serve.js';
import { registerRpcWorkload } from './rpc-workload.js';

/** Registers `packetlab rpc` and its subcommands. */
export function registerRpc(program: Command): void {
  const rpc = program
    .command('rpc')
    .summary('ONC RPC (RFC 5531) with XDR: call, serve, bind, and watch call semantics')
    .description('ONC RPC version 2 with XDR, wire-compatible with rpcgen/libtirpc, rpcinfo and rpcbind, over UDP, TCP or the lab transport.');
  registerRpcCall(rpc);
  registerRpcServe(rpc);
  registerRpcWorkload(rpc);
}
