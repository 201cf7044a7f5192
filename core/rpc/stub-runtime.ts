// What generated stubs import: the XDR reader and writer, the procedure descriptor and the server
// registration types. Kept apart from core/rpc/index.ts so that stubs inside core/rpc (the
// portmapper) import nothing that imports them back.

export { XdrReader, XdrWriter, XdrEncodeError, xdrVoid, type XdrCodec } from './xdr.js';
export { serverProcedure, type CallOptions, type HandlerResult, type ProcedureDescriptor, type ProgramVersionId, type RpcCallContext, type RpcCaller, type RpcProgramVersion } from './program.js';
