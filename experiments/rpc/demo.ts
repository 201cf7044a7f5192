// The programs `packetlab rpc serve-demo` serves: the key-value store, the counter and the XDR
// type echo, each with its own state.

import type { RpcProgramVersion } from '../../core/rpc/program.js';
import { CounterService } from '../../core/rpc/programs/counter-server.js';
import { KvService } from '../../core/rpc/programs/kv-server.js';
import { TypesService } from './types-server.js';

/** The demo services and their program tables. */
export interface DemoPrograms {
  kv: KvService;
  counter: CounterService;
  types: TypesService;
  programs: RpcProgramVersion[];
}

/** Fresh demo services. */
export function demoPrograms(): DemoPrograms {
  const kv = new KvService();
  const counter = new CounterService();
  const types = new TypesService();
  return { kv, counter, types, programs: [kv.program(), counter.program(), types.program()] };
}

/** Names of the demo programs by number, for listings (rpcinfo has no /etc/rpc entry for them). */
export const DEMO_PROGRAM_NAMES: Readonly<Record<number, string>> = Object.freeze({
  0x20000101: 'packetlab-kv',
  0x20000102: 'packetlab-counter',
  0x20000103: 'packetlab-types',
});
