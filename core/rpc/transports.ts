// The RPC transports, by name: one constant list that validation, help texts and the knobs derive
// from.

/** Transports, for validation and help texts. */
export const RPC_TRANSPORTS = ['udp', 'tcp', 'plt'] as const;

/** The transports a client can use. */
export type RpcTransportName = (typeof RPC_TRANSPORTS)[number];
