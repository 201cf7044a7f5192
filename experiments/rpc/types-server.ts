// The server of types.x: ECHO_ALL returns the value it got, so a client sees every XDR type make
// the round trip through the server's decoder and encoder. The last value is kept for tests.

import type { RpcProgramVersion } from '../../core/rpc/program.js';
import { typesProgV1Server, type TypesAll, type TypesProgV1Handlers } from './types.js';

/** The echo service of types.x. */
export class TypesService implements TypesProgV1Handlers {
  /** The value ECHO_ALL received last. */
  last: TypesAll | null = null;

  /** ECHO_ALL: the argument back. */
  echoAll(v: TypesAll): TypesAll {
    this.last = v;
    return v;
  }

  /** The program table to serve. */
  program(): RpcProgramVersion {
    return typesProgV1Server(this);
  }
}

/** The value the interop tests send: every field set, none at a trivial value. */
export function sampleTypesAll(): TypesAll {
  return {
    i: -123456789,
    u: 4000000000,
    h: -(2n ** 62n) - 7n,
    uh: 2n ** 64n - 3n,
    b: true,
    shade: 4,
    f: 1.5,
    d: -2.718281828459045,
    fixed_bytes: Uint8Array.from([1, 2, 3, 254, 255]),
    var_bytes: Uint8Array.from([9, 8, 7]),
    text: 'packet lab: XDR',
    fixed_ints: [7, -8, 2147483647],
    var_hypers: [1n, -1n, 9007199254740993n],
    list: { value: 1, next: { value: 2, next: { value: 3, next: null } } },
    choice: { shade: 1, count: -42 },
    choices: [{ shade: 2 }, { shade: 4, label: 'blue arm' }, { shade: 1, count: 7 }],
    flag: { on: true, level: 3 },
    alias: 99,
    maybe: 12345,
  };
}
