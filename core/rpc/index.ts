// Packet Lab's ONC RPC in one import: XDR, the stub generator, the run-time library (engines and
// sockets), naming, and workloads for experiments. docs/rpc.md describes each part.

export * from './xdr.js';
export * from './spec.js';
export { parseXdrSpec, formatParseError, type XdrParseError, type XdrParseResult } from './xdr-parser.js';
export { DynamicCodecs, JsonValueError, jsonToValue, valueToJson } from './dynamic.js';
export { generateTypeScript, CodegenError, pascalCase, camelCase, type CodegenOptions } from './codegen.js';
export * from './message.js';
export * from './program.js';
export * from './client.js';
export * from './server.js';
export * from './drc.js';
export { LatencyHistogram } from './histogram.js';
export { RecordDecoder, frameRecord, LAST_FRAGMENT, DEFAULT_MAX_RECORD_BYTES } from './record-marking.js';
export { PltRpcClient, RpcSession, rpcSessionFactory, RPC_TRANSPORT_CONFIG } from './plt.js';
export { RpcClient, openRpcChannel, nullProcedure, RPC_TRANSPORTS, type RpcClientOptions, type RpcTransportName, type RpcChannel } from './client-net.js';
export { RpcServer, type RpcServerOptions } from './server-net.js';
export { MessageDriver, RpcLink } from './message-driver.js';
export * from './binder.js';
export * from './workload.js';
