// What stubs are made of: a procedure descriptor (numbers and XDR codecs of one procedure), the
// caller interface a generated client calls through, and the table a generated server
// registration helper fills. Generated code imports this module (through stub-runtime.ts).

import type { Credential } from './message.js';
import type { XdrCodec } from './xdr.js';

/** A program and version, as declared in a .x file. */
export interface ProgramVersionId {
  /** Program number. */
  readonly program: number;
  /** Version number. */
  readonly version: number;
  /** Program name in the .x file. */
  readonly name: string;
}

/** Numbers and codecs of one remote procedure. */
export interface ProcedureDescriptor<A, R> {
  readonly program: number;
  readonly version: number;
  readonly procedure: number;
  /** Procedure name in the .x file. */
  readonly name: string;
  /** Codec of the arguments (a tuple when the procedure takes several). */
  readonly args: XdrCodec<A>;
  /** Codec of the result. */
  readonly result: XdrCodec<R>;
}

/** Per-call overrides of the client's retry policy. */
export interface CallOptions {
  /** Total time the call may take, retransmissions included. */
  timeoutMs?: number;
}

/** What a generated client calls through: an RPC client on some transport. */
export interface RpcCaller {
  /** Calls a remote procedure; rejects with RpcRemoteError or RpcTransportError. */
  call<A, R>(proc: ProcedureDescriptor<A, R>, args: A, options?: CallOptions): Promise<R>;
}

/** What a server handler knows about the call it is serving. */
export interface RpcCallContext {
  /** The caller's address id (a socket address or simulated host). */
  readonly peer: number;
  /** The caller's socket address, when the transport has one ("127.0.0.1:40000"). */
  readonly peerAddress: string | null;
  readonly xid: number;
  readonly program: number;
  readonly version: number;
  readonly procedure: number;
  /** The caller's credential (AUTH_NONE or AUTH_SYS). */
  readonly credential: Credential;
  /** Time the call arrived (ms). */
  readonly now: number;
}

/** A handler's answer: a result, or a promise of one (a rejection becomes SYSTEM_ERR). */
export type HandlerResult<R> = R | Promise<R>;

/** One procedure a server serves. */
export interface ServerProcedure {
  readonly descriptor: ProcedureDescriptor<unknown, unknown>;
  /** Runs the procedure; throwing or rejecting answers SYSTEM_ERR. */
  readonly handler: (args: unknown, ctx: RpcCallContext) => HandlerResult<unknown>;
}

/** One program version a server serves (what a generated registration helper returns). */
export interface RpcProgramVersion extends ProgramVersionId {
  readonly procedures: readonly ServerProcedure[];
}

/** Pairs a descriptor with its handler (used by generated registration helpers). */
export function serverProcedure<A, R>(descriptor: ProcedureDescriptor<A, R>, handler: (args: A, ctx: RpcCallContext) => HandlerResult<R>): ServerProcedure {
  return { descriptor: descriptor as ProcedureDescriptor<unknown, unknown>, handler: handler as (args: unknown, ctx: RpcCallContext) => HandlerResult<unknown> };
}
