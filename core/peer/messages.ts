// The messages of the peer agent's control channel, as zod schemas: what a client may ask
// (requests, each with an id), what the agent answers (one result per request, `ok` or an error
// that says why) and what it reports by itself (service events). Every message that crosses the
// channel is checked against these schemas on arrival; docs/peer.md describes them.
//
// Transport knobs take their ranges from the knob registry (core/knobs.ts), so a request accepts
// exactly the values `packetlab transfer` accepts on its command line.

import { z } from 'zod';
import { SOCKET_KNOBS, TRANSPORT_KNOBS, type NumberKnob } from '../knobs.js';
import { RECEIVER_TRANSPORT_KNOBS, type TransportConfig } from '../transport/config.js';
import { DRC_LIMITS } from '../rpc/drc.js';
import { RPC_TRANSPORTS } from '../rpc/transports.js';

const MAX_ID = Number.MAX_SAFE_INTEGER;

/** A request id or a service id: a whole number the client (ids) or the agent (services) picks. */
const idSchema = z.number().int().min(0).max(MAX_ID);
const nameSchema = z.string().max(128);
const portSchema = z.number().int().min(1).max(65535);
/** The port of each RPC transport, null for one not served. */
const transportPortsSchema = z.record(z.enum(RPC_TRANSPORTS), portSchema.nullable());
/** Counters travel as numbers; NaN and infinities become null in JSON. */
const counterSchema = z.number().nullable();

function knobNumber(list: readonly { key: string }[], key: string): z.ZodNumber {
  const k = list.find((x) => x.key === key) as NumberKnob | undefined;
  if (k === undefined || k.kind !== 'number') throw new Error(`no numeric knob ${key}`);
  const n = z.number().min(k.min).max(k.max);
  return k.integer ? n.int() : n;
}

/** A boolean transport knob's schema, or a numeric one's with its range. */
function transportKnob(key: keyof TransportConfig): z.ZodBoolean | z.ZodNumber {
  return TRANSPORT_KNOBS.find((x) => x.key === key)?.kind === 'boolean' ? z.boolean() : knobNumber(TRANSPORT_KNOBS, key);
}

/** Socket buffer sizes a service binds with (0 keeps the OS default). */
export const SocketRequestSchema = z.strictObject({
  socketRcvBufBytes: knobNumber(SOCKET_KNOBS, 'socketRcvBufBytes').optional(),
  socketSndBufBytes: knobNumber(SOCKET_KNOBS, 'socketSndBufBytes').optional(),
});
/** Socket buffer sizes a service binds with. */
export type SocketRequest = z.infer<typeof SocketRequestSchema>;

/** The knobs of the agent's own side of a lab-transport session that a SYN does not carry. */
export const ListenerTransportSchema = z.strictObject({
  rtoMode: z.enum(['fixed', 'adaptive']).optional(),
  rtoMs: knobNumber(TRANSPORT_KNOBS, 'rtoMs').optional(),
  rtoMsInitial: knobNumber(TRANSPORT_KNOBS, 'rtoMsInitial').optional(),
  rtoMsMin: knobNumber(TRANSPORT_KNOBS, 'rtoMsMin').optional(),
  rtoMsMax: knobNumber(TRANSPORT_KNOBS, 'rtoMsMax').optional(),
  rtoBackoff: knobNumber(TRANSPORT_KNOBS, 'rtoBackoff').optional(),
  maxRetransmissions: knobNumber(TRANSPORT_KNOBS, 'maxRetransmissions').optional(),
  idleTimeoutMs: knobNumber(TRANSPORT_KNOBS, 'idleTimeoutMs').optional(),
});
/** The agent-side transport knobs of a listener or an RPC lab-transport listener. */
export type ListenerTransportRequest = z.infer<typeof ListenerTransportSchema>;

/** Limits a client may set below the agent's caps for one listener. */
export const ListenerLimitsSchema = z.strictObject({
  maxSessions: z.number().int().min(1).optional(),
  maxRatePacketsPerSecond: z.number().int().min(1).optional(),
  maxRateBitsPerSecond: z.number().min(1).optional(),
  maxDurationMs: z.number().min(1).optional(),
  maxRcvBufferBytes: z.number().int().min(1024).optional(),
});
/** Limits a client may set below the agent's caps for one listener. */
export type ListenerLimits = z.infer<typeof ListenerLimitsSchema>;

/** The duplicate request cache of an RPC service. */
export const DrcRequestSchema = z.strictObject({
  enabled: z.boolean(),
  maxEntries: z.number().int().min(DRC_LIMITS.maxEntries[0]).max(DRC_LIMITS.maxEntries[1]).optional(),
  maxAgeMs: z.number().min(DRC_LIMITS.maxAgeMs[0]).max(DRC_LIMITS.maxAgeMs[1]).optional(),
});
/** The duplicate request cache of an RPC service (unset bounds keep the defaults). */
export type DrcRequest = z.infer<typeof DrcRequestSchema>;

const lifetimeMsSchema = z.number().min(1).optional();
const seedSchema = z.number().int().min(0).max(2 ** 32 - 1).optional();

/** Client to agent: keepalive (answered with an empty result). */
const PingSchema = z.strictObject({ type: z.literal('ping'), id: idSchema });

/** Client to agent: start a packetlab listener (the far end of reliable transfers and UDP streams). */
export const StartListenerSchema = z.strictObject({
  type: z.literal('start-listener'),
  id: idSchema,
  socket: SocketRequestSchema.optional(),
  transport: ListenerTransportSchema.optional(),
  limits: ListenerLimitsSchema.optional(),
  /** The service stops by itself after this long (capped by the agent's maximum duration). */
  lifetimeMs: lifetimeMsSchema,
  seed: seedSchema,
});
/** A start-listener request without its type and id. */
export type ListenerRequest = Omit<z.infer<typeof StartListenerSchema>, 'type' | 'id'>;

/** Client to agent: start an RPC server with the counter and key-value programs (core/rpc/programs/). */
export const StartRpcSchema = z.strictObject({
  type: z.literal('start-rpc'),
  id: idSchema,
  /** The port of a transport to serve on (a replica restarted where it was, so that its registration stands); any when absent. */
  ports: z.strictObject(Object.fromEntries(RPC_TRANSPORTS.map((t) => [t, z.number().int().min(1024).max(65535).optional()])) as Record<(typeof RPC_TRANSPORTS)[number], z.ZodOptional<z.ZodNumber>>).optional(),
  transports: z
    .array(z.enum(RPC_TRANSPORTS))
    .min(1)
    .max(RPC_TRANSPORTS.length)
    .refine((t) => new Set(t).size === t.length, 'transports must not repeat'),
  drc: DrcRequestSchema,
  /** Largest TCP record or lab-transport message the server accepts. */
  maxRecordBytes: z.number().int().min(1024).optional(),
  socket: SocketRequestSchema.optional(),
  /** Agent-side knobs of lab-transport sessions (transport plt). */
  transport: ListenerTransportSchema.optional(),
  lifetimeMs: lifetimeMsSchema,
  seed: seedSchema,
});
/** A start-rpc request without its type and id. */
export type RpcServiceRequest = Omit<z.infer<typeof StartRpcSchema>, 'type' | 'id'>;

/** Client to agent: start a UDP echo that answers the controlling client only. */
export const StartEchoSchema = z.strictObject({
  type: z.literal('start-echo'),
  id: idSchema,
  /** Size of every reply (the request's first bytes, zero-padded); null or absent echoes each datagram as is. */
  replyBytes: z.number().int().min(0).max(65507).nullable().optional(),
  limits: z
    .strictObject({
      maxRatePacketsPerSecond: z.number().int().min(1).optional(),
      maxRateBitsPerSecond: z.number().min(1).optional(),
    })
    .optional(),
  socket: SocketRequestSchema.optional(),
  lifetimeMs: lifetimeMsSchema,
});
/** A start-echo request without its type and id. */
export type EchoRequest = Omit<z.infer<typeof StartEchoSchema>, 'type' | 'id'>;

/** Client to agent: switch the duplicate request cache of a running RPC service. */
const ConfigureRpcSchema = z.strictObject({ type: z.literal('configure-rpc'), id: idSchema, service: idSchema, drc: DrcRequestSchema });
/** A schema for each receiver-side knob, every one optional. */
type ReceiverKnobShape = { [K in (typeof RECEIVER_TRANSPORT_KNOBS)[number]]: z.ZodOptional<TransportConfig[K] extends boolean ? z.ZodBoolean : z.ZodNumber> };
/** The receiver-side knobs of an open lab-transport session that may change while it runs. */
const SessionChangesSchema = z
  .strictObject(Object.fromEntries(RECEIVER_TRANSPORT_KNOBS.map((k) => [k, transportKnob(k).optional()])) as ReceiverKnobShape)
  .refine((c) => Object.keys(c).length > 0, 'names no knob to change');
/** Client to agent: change the receiver-side knobs of one open session of a listener service. */
const ConfigureSessionSchema = z.strictObject({ type: z.literal('configure-session'), id: idSchema, service: idSchema, connectionId: z.number().int().min(0).max(0xffffffff), changes: SessionChangesSchema });
/** Client to agent: the counters of a service. */
const StatsSchema = z.strictObject({ type: z.literal('stats'), id: idSchema, service: idSchema });
/** Client to agent: stop a service (answered with its final counters). */
const StopSchema = z.strictObject({ type: z.literal('stop'), id: idSchema, service: idSchema });

/** Every request a client may send once the session is open. */
export const RequestSchema = z.discriminatedUnion('type', [PingSchema, StartListenerSchema, StartRpcSchema, StartEchoSchema, ConfigureRpcSchema, ConfigureSessionSchema, StatsSchema, StopSchema]);
/** A request. */
export type Request = z.infer<typeof RequestSchema>;
/** The request type names. */
export type RequestType = Request['type'];

/** The first authenticated message of a client: it proves the token (by its MAC) and names the client. */
export const AuthSchema = z.strictObject({ type: z.literal('auth'), name: nameSchema });
/** The client's authentication message. */
export type AuthMessage = z.infer<typeof AuthSchema>;

/** What an agent allows one client at most. */
export const PeerCapsSchema = z.strictObject({
  /** Control connections at once (authenticated clients). */
  maxClients: z.number().int().min(1),
  /** Services one client may run at once. */
  maxServicesPerClient: z.number().int().min(1),
  /** Sessions at once in one listener (and lab-transport RPC sessions). */
  maxSessionsPerListener: z.number().int().min(1),
  /** Highest stream or echo rate, packets per second. */
  maxRatePacketsPerSecond: z.number().int().min(1),
  /** Highest stream or echo rate, bits per second (datagram payloads). */
  maxRateBitsPerSecond: z.number().min(1),
  /** Longest life of a service, and of any session in it. */
  maxDurationMs: z.number().min(1),
  /** Largest SO_RCVBUF or SO_SNDBUF a service may ask for. */
  maxSocketBufferBytes: z.number().int().min(0),
  /** Largest receive buffer of one reliable session. */
  maxRcvBufferBytes: z.number().int().min(1024),
  /** Largest RPC record (TCP) or message (lab transport). */
  maxRpcRecordBytes: z.number().int().min(1024),
  /** Largest duplicate request cache of an RPC service, in requests. */
  maxDrcEntries: z.number().int().min(1),
});
/** What an agent allows one client at most. */
export type PeerCaps = z.infer<typeof PeerCapsSchema>;

/** Agent to client: the first authenticated message of the agent (its MAC proves the agent knows the token). */
export const WelcomeSchema = z.strictObject({
  type: z.literal('welcome'),
  name: nameSchema,
  software: nameSchema,
  caps: PeerCapsSchema,
});
/** The agent's welcome. */
export type WelcomeMessage = z.infer<typeof WelcomeSchema>;

/** Agent to client: the answer to one request. */
export const ResultSchema = z.union([
  z.strictObject({ type: z.literal('result'), id: idSchema, ok: z.literal(true), value: z.record(z.string(), z.unknown()) }),
  z.strictObject({ type: z.literal('result'), id: idSchema, ok: z.literal(false), error: z.string().max(4096) }),
]);
/** The answer to one request. */
export type ResultMessage = z.infer<typeof ResultSchema>;

/** What happened in a service, reported by the agent without being asked. */
export const ServiceEventSchema = z.strictObject({
  type: z.literal('event'),
  service: idSchema,
  name: z.enum(['session-opened', 'session-closed', 'session-refused', 'service-ended']),
  /** The remote address of the session (IP:port), when there is one. */
  peer: z.string().max(64).nullable(),
  connectionId: z.number().int().min(0).max(2 ** 32 - 1).nullable(),
  reason: z.string().max(1024).nullable(),
});
/** A service event. */
export type ServiceEvent = z.infer<typeof ServiceEventSchema>;

/** Every message an agent sends once the session is open. */
export const AgentMessageSchema = z.union([ResultSchema, ServiceEventSchema]);
/** An agent message after the welcome. */
export type AgentMessage = z.infer<typeof AgentMessageSchema>;

// ---- result values, checked by the client against the request they answer ----

/** The value of a start-listener result. */
export const ListenerStartedSchema = z.strictObject({
  service: idSchema,
  udpPort: portSchema,
  /** The limits the listener enforces (the agent's caps, lowered by the request). */
  limits: z.strictObject({
    maxSessions: z.number(),
    maxRatePacketsPerSecond: z.number(),
    maxRateBitsPerSecond: z.number(),
    maxDurationMs: z.number(),
    maxRcvBufferBytes: z.number(),
  }),
  lifetimeMs: z.number(),
});
/** A started listener. */
export type ListenerStarted = z.infer<typeof ListenerStartedSchema>;

/** The value of a start-rpc result. */
export const RpcStartedSchema = z.strictObject({
  service: idSchema,
  ports: transportPortsSchema,
  program: z.number().int(),
  version: z.number().int(),
  lifetimeMs: z.number(),
});
/** A started RPC service. */
export type RpcStarted = z.infer<typeof RpcStartedSchema>;

/** The value of a start-echo result. */
export const EchoStartedSchema = z.strictObject({
  service: idSchema,
  udpPort: portSchema,
  maxRatePacketsPerSecond: z.number(),
  maxRateBitsPerSecond: z.number(),
  lifetimeMs: z.number(),
});
/** A started echo service. */
export type EchoStarted = z.infer<typeof EchoStartedSchema>;

/** Counters of one listener session (as net/udp/listener-server.ts reports them). */
export const SessionStatsSchema = z.strictObject({
  connectionId: z.number().int(),
  kind: z.enum(['reliable', 'stream']),
  counters: z.record(z.string(), counterSchema),
  rcvBufferedBytes: z.number(),
  finished: z.boolean(),
  /** The remote address of the session (IP:port). */
  peer: z.string().max(64).nullable(),
});
/** Counters of one listener session. */
export type PeerSessionStats = z.infer<typeof SessionStatsSchema>;

/** Counters of an echo service. */
export const EchoCountersSchema = z.strictObject({
  receivedDatagrams: z.number(),
  receivedBytes: z.number(),
  sentDatagrams: z.number(),
  sentBytes: z.number(),
  budgetDrops: z.number(),
  rateDrops: z.number(),
  foreignDrops: z.number(),
  sendQueueDrops: z.number(),
  sendErrors: z.number(),
});

const statsBase = {
  service: idSchema,
  uptimeMs: z.number(),
  /** Drops the kernel counted for the service's UDP socket since it opened (null where unknown). */
  kernelDrops: counterSchema,
  /** Datagrams from addresses other than the controlling client's, dropped unread. */
  foreignDrops: z.number(),
  /** Why the service stopped, or null while it runs. */
  ended: z.string().nullable(),
};

/** The counters of any service (stats and stop results). */
export const ServiceStatsSchema = z.discriminatedUnion('kind', [
  z.strictObject({
    kind: z.literal('listener'),
    ...statsBase,
    udpPort: portSchema,
    listener: z.record(z.string(), counterSchema),
    /** Open sessions and the ones closed most recently. */
    sessions: z.array(SessionStatsSchema).max(256),
  }),
  z.strictObject({
    kind: z.literal('rpc'),
    ...statsBase,
    ports: transportPortsSchema,
    server: z.record(z.string(), counterSchema),
    drc: z.strictObject({ enabled: z.boolean(), maxEntries: z.number(), maxAgeMs: z.number() }),
    /** The counter program's own exact figures (counter-server.ts). */
    counter: z.strictObject({ value: z.string().max(64), increments: z.number(), repeatedExecutions: z.number() }),
  }),
  z.strictObject({
    kind: z.literal('echo'),
    ...statsBase,
    udpPort: portSchema,
    counters: EchoCountersSchema,
  }),
]);
/** The counters of any service. */
export type ServiceStats = z.infer<typeof ServiceStatsSchema>;

/** An empty result value (ping, configure-rpc, configure-session). */
export const EmptySchema = z.strictObject({});

/** The schema of the result value of each request type. */
export const RESULT_VALUE_SCHEMAS = {
  ping: EmptySchema,
  'start-listener': ListenerStartedSchema,
  'start-rpc': RpcStartedSchema,
  'start-echo': EchoStartedSchema,
  'configure-rpc': EmptySchema,
  'configure-session': EmptySchema,
  stats: ServiceStatsSchema,
  stop: ServiceStatsSchema,
} as const satisfies Record<RequestType, z.ZodType>;

/** Formats zod issues as one line: `path: message; path: message` (the root shows as "message"). */
export function formatIssues(error: z.ZodError): string {
  return error.issues
    .slice(0, 5)
    .map((i) => (i.path.length > 0 ? `${i.path.map(String).join('.')}: ${i.message}` : i.message))
    .join('; ');
}
