// Types a .x file may use without declaring them, because rpcgen writes `xdr_<name>()` for any
// name it does not know and the C library supplies the routine: libtirpc's XDR primitives for the
// C integer names (xdr_u_int, xdr_int32_t, xdr_u_quad_t, ...), its rpcbind types (rpcprog_t, ...)
// and a few structures (netobj, netbuf, des_block). Each entry is encoded the way libtirpc's routine
// encodes it; the header is where libtirpc declares it (under /usr/include/tirpc).
//
// A declaration in the .x file itself always wins over an entry here.

import type { SourcePos, TypeDef, XType } from './spec.js';
import { XDR_UNBOUNDED } from './xdr.js';

/** A type libtirpc supplies: a scalar used in place, or a named definition added to the spec. */
export type LibtirpcType = { kind: 'scalar'; type: XType; routine: string } | { kind: 'named'; def: (pos: SourcePos) => TypeDef; routine: string };

const INT: XType = { kind: 'int' };
const UINT: XType = { kind: 'uint' };
const HYPER: XType = { kind: 'hyper' };
const UHYPER: XType = { kind: 'uhyper' };

function scalar(type: XType, routine: string): LibtirpcType {
  return { kind: 'scalar', type, routine };
}

/**
 * Every name, with libtirpc's routine. The C types narrower than 32 bits travel as 4-byte XDR
 * integers (RFC 4506 (4.1): xdr_char, xdr_short, xdr_int8_t, ... call xdr_int or xdr_u_int); C
 * peers keep only the low bits of a value their type cannot hold.
 */
export const LIBTIRPC_TYPES: Readonly<Record<string, LibtirpcType>> = {
  u_int: scalar(UINT, 'xdr_u_int'),
  u_long: scalar(UINT, 'xdr_u_long (4 bytes; refuses values above 2^32 - 1)'),
  u_short: scalar(UINT, 'xdr_u_short'),
  u_char: scalar(UINT, 'xdr_u_char'),
  int8_t: scalar(INT, 'xdr_int8_t'),
  int16_t: scalar(INT, 'xdr_int16_t'),
  int32_t: scalar(INT, 'xdr_int32_t'),
  uint8_t: scalar(UINT, 'xdr_uint8_t'),
  uint16_t: scalar(UINT, 'xdr_uint16_t'),
  uint32_t: scalar(UINT, 'xdr_uint32_t'),
  u_int8_t: scalar(UINT, 'xdr_u_int8_t'),
  u_int16_t: scalar(UINT, 'xdr_u_int16_t'),
  u_int32_t: scalar(UINT, 'xdr_u_int32_t'),
  int64_t: scalar(HYPER, 'xdr_int64_t'),
  quad_t: scalar(HYPER, 'xdr_quad_t'),
  longlong_t: scalar(HYPER, 'xdr_longlong_t'),
  uint64_t: scalar(UHYPER, 'xdr_uint64_t'),
  u_int64_t: scalar(UHYPER, 'xdr_u_int64_t'),
  u_quad_t: scalar(UHYPER, 'xdr_u_quad_t'),
  u_longlong_t: scalar(UHYPER, 'xdr_u_longlong_t'),
  // rpc/types.h:46-50: typedef u_int32_t rpcprog_t, ...; libtirpc's rpcb_prot.c uses xdr_u_int32_t.
  rpcprog_t: scalar(UINT, 'xdr_u_int32_t (rpc/types.h)'),
  rpcvers_t: scalar(UINT, 'xdr_u_int32_t (rpc/types.h)'),
  rpcproc_t: scalar(UINT, 'xdr_u_int32_t (rpc/types.h)'),
  rpcprot_t: scalar(UINT, 'xdr_u_int32_t (rpc/types.h)'),
  rpcport_t: scalar(UINT, 'xdr_u_int32_t (rpc/types.h)'),
  wrapstring: { kind: 'named', routine: 'xdr_wrapstring', def: (pos) => ({ kind: 'typedef', name: 'wrapstring', type: { kind: 'string', max: XDR_UNBOUNDED }, pos }) },
  // rpc/xdr.h:339: MAX_NETOBJ_SZ 1024; xdr_netobj is xdr_bytes(..., MAX_NETOBJ_SZ).
  netobj: { kind: 'named', routine: 'xdr_netobj (rpc/xdr.h)', def: (pos) => ({ kind: 'typedef', name: 'netobj', type: { kind: 'varOpaque', max: 1024 }, pos }) },
  // rpc/auth.h:143: union des_block; xdr_des_block is xdr_opaque(..., 8).
  des_block: { kind: 'named', routine: 'xdr_des_block (rpc/auth.h)', def: (pos) => ({ kind: 'typedef', name: 'des_block', type: { kind: 'fixedOpaque', length: 8 }, pos }) },
  // rpc/types.h:109: struct netbuf; xdr_netbuf (rpcb_prot.c) sends maxlen, then buf as bytes of at
  // most maxlen (RPC_MAXDATASIZE, 9000, at most, rpc/rpc_com.h:51).
  netbuf: {
    kind: 'named',
    routine: 'xdr_netbuf (rpcb_prot.h)',
    def: (pos) => ({ kind: 'struct', name: 'netbuf', fields: [{ name: 'maxlen', type: UINT }, { name: 'buf', type: { kind: 'varOpaque', max: 9000 } }], pos }),
  },
};

/**
 * Constants libtirpc's headers define, which .x files use as bounds the way rpcgen leaves them to
 * the C compiler (key_prot.x: string netnamestr<MAXNETNAMELEN>).
 */
export const LIBTIRPC_CONSTANTS: Readonly<Record<string, number>> = {
  MAXNETNAMELEN: 255, // rpc/auth.h:56
  MAX_AUTH_BYTES: 400, // rpc/auth.h:55
  MAX_NETOBJ_SZ: 1024, // rpc/xdr.h:339
  RPC_MAXDATASIZE: 9000, // rpc/rpc_com.h:51
};

/** Where generated code says a libtirpc type comes from. */
export const LIBTIRPC_PLACE = 'libtirpc';
