// What generated stubs import: the XDR reader and writer, the procedure descriptor and the server
// registration types, and nothing that imports the stubs back (the portmapper's stubs live in
// core/rpc too).

export { XdrReader, XdrWriter, XdrEncodeError, xdrVoid, type XdrCodec } from './xdr.js';
export { serverProcedure, type CallOptions, type HandlerResult, type ProcedureDescriptor, type ProgramVersionId, type RpcCallContext, type RpcCaller, type RpcProgramVersion } from './program.js';
