// What a peer agent lets a remote client ask for, and the checks of each request against it.
// A request over a cap is refused with a message that names the field, the value, the cap and the
// `packetlab peer` flag that raises it; nothing is clamped silently, so an experiment never runs
// with other values than the ones it recorded.

import type { PeerCaps, ListenerRequest, RpcServiceRequest, EchoRequest, ListenerTransportRequest, SocketRequest, DrcRequest } from './messages.js';
import { DEFAULT_LISTENER_CAPS, type ListenerCaps } from '../listener.js';

/** Caps of an agent nobody configured: enough for lab experiments on a LAN, bounded for the machine's sake. */
export const DEFAULT_PEER_CAPS: Readonly<PeerCaps> = Object.freeze({
  maxClients: 4,
  maxServicesPerClient: 8,
  maxSessionsPerListener: 16,
  maxRatePacketsPerSecond: 200_000,
  maxRateBitsPerSecond: 1e9,
  maxDurationMs: 3_600_000,
  maxSocketBufferBytes: 16 * 1024 * 1024,
  maxRcvBufferBytes: 64 * 1024 * 1024,
  maxRpcRecordBytes: 1024 * 1024,
  maxDrcEntries: 100_000,
});

/**
 * The `packetlab peer` flag of each cap, for messages that say how to raise it. Both rate caps
 * share --max-rate: its value's unit says which (bits/s when bare, packets/s with pps).
 */
export const CAP_FLAGS: Readonly<Record<keyof PeerCaps, string>> = Object.freeze({
  maxClients: '--max-clients',
  maxServicesPerClient: '--max-services',
  maxSessionsPerListener: '--max-sessions',
  maxRatePacketsPerSecond: '--max-rate',
  maxRateBitsPerSecond: '--max-rate',
  maxDurationMs: '--max-duration',
  maxSocketBufferBytes: '--max-socket-buffer',
  maxRcvBufferBytes: '--max-rcv-buffer',
  maxRpcRecordBytes: '--max-record',
  maxDrcEntries: '--max-drc-entries',
});

function over(field: string, value: number, caps: PeerCaps, cap: keyof PeerCaps, unit: string): string {
  return `${field} ${value} exceeds the agent's cap of ${caps[cap]} ${unit} (packetlab peer ${CAP_FLAGS[cap]} raises it)`;
}

/** The limits one listener enforces. */
export interface EffectiveListenerLimits {
  maxSessions: number;
  maxRatePacketsPerSecond: number;
  maxRateBitsPerSecond: number;
  maxDurationMs: number;
  maxRcvBufferBytes: number;
}

/**
 * What guards an agent's lab-transport listeners (its listener services and its RPC services' plt
 * listeners) besides the caps a client sees: the same timeouts and report floor as a `--listen`
 * listener. The agent sets them (`packetlab peer` flags); a client cannot ask for others, and
 * they are not in the welcome, whose caps a client checks strictly.
 */
export type AgentListenerGuards = Pick<ListenerCaps, 'handshakeTimeoutMs' | 'streamIdleTimeoutMs' | 'minReportIntervalMs'>;

/** The guards of an agent nobody configured: those of `packetlab transfer --listen`. */
export const DEFAULT_AGENT_LISTENER_GUARDS: Readonly<AgentListenerGuards> = Object.freeze({
  handshakeTimeoutMs: DEFAULT_LISTENER_CAPS.handshakeTimeoutMs,
  streamIdleTimeoutMs: DEFAULT_LISTENER_CAPS.streamIdleTimeoutMs,
  minReportIntervalMs: DEFAULT_LISTENER_CAPS.minReportIntervalMs,
});

/** The `packetlab peer` flag of each guard (the same as `--listen`'s). */
export const GUARD_FLAGS: Readonly<Record<keyof AgentListenerGuards, string>> = Object.freeze({
  handshakeTimeoutMs: '--handshake-timeout',
  streamIdleTimeoutMs: '--stream-idle-timeout',
  minReportIntervalMs: '--min-report-interval',
});

/**
 * The caps of an agent's listener: the limits of its request, the agent's guards, and as many
 * sessions per address as in all (it serves the client's address only, so the client's sessions
 * are all from one address).
 */
export function agentListenerCaps(limits: EffectiveListenerLimits, guards: AgentListenerGuards): ListenerCaps {
  return {
    maxSessions: limits.maxSessions,
    maxSessionsPerAddress: limits.maxSessions,
    maxRcvBufferBytes: limits.maxRcvBufferBytes,
    // The listener checks both rates of a stream, as a standalone `packetlab udp --listen` does.
    maxStreamPacketsPerSecond: limits.maxRatePacketsPerSecond,
    maxStreamBitsPerSecond: limits.maxRateBitsPerSecond,
    maxStreamDurationMs: limits.maxDurationMs,
    maxSessionMs: limits.maxDurationMs,
    ...guards,
  };
}

function socketProblems(s: SocketRequest | undefined, caps: PeerCaps): string[] {
  const out: string[] = [];
  for (const k of ['socketRcvBufBytes', 'socketSndBufBytes'] as const) {
    const v = s?.[k];
    if (v !== undefined && v > caps.maxSocketBufferBytes) out.push(over(`socket.${k}`, v, caps, 'maxSocketBufferBytes', 'bytes'));
  }
  return out;
}

function transportProblems(t: ListenerTransportRequest | undefined): string[] {
  if (t?.rtoMsMin !== undefined && t.rtoMsMax !== undefined && t.rtoMsMin > t.rtoMsMax) return [`transport.rtoMsMin (${t.rtoMsMin}) must not exceed transport.rtoMsMax (${t.rtoMsMax})`];
  return [];
}

function lifetimeProblems(lifetimeMs: number | undefined, caps: PeerCaps): string[] {
  return lifetimeMs !== undefined && lifetimeMs > caps.maxDurationMs ? [over('lifetimeMs', lifetimeMs, caps, 'maxDurationMs', 'ms')] : [];
}

function drcProblems(d: DrcRequest, caps: PeerCaps): string[] {
  return d.maxEntries !== undefined && d.maxEntries > caps.maxDrcEntries ? [over('drc.maxEntries', d.maxEntries, caps, 'maxDrcEntries', 'requests')] : [];
}

/** Checks a start-listener request; returns the problems (empty when it may run) and the limits it runs with. */
export function checkListenerRequest(r: ListenerRequest, caps: PeerCaps): { problems: string[]; limits: EffectiveListenerLimits; lifetimeMs: number } {
  const problems = [...socketProblems(r.socket, caps), ...transportProblems(r.transport), ...lifetimeProblems(r.lifetimeMs, caps)];
  const l = r.limits ?? {};
  const pick = (field: keyof EffectiveListenerLimits, cap: keyof PeerCaps, unit: string): number => {
    const v = l[field];
    if (v === undefined) return caps[cap];
    if (v > caps[cap]) problems.push(over(`limits.${field}`, v, caps, cap, unit));
    return Math.min(v, caps[cap]);
  };
  const limits: EffectiveListenerLimits = {
    maxSessions: pick('maxSessions', 'maxSessionsPerListener', 'sessions'),
    maxRatePacketsPerSecond: pick('maxRatePacketsPerSecond', 'maxRatePacketsPerSecond', 'packets/s'),
    maxRateBitsPerSecond: pick('maxRateBitsPerSecond', 'maxRateBitsPerSecond', 'bits/s'),
    maxDurationMs: pick('maxDurationMs', 'maxDurationMs', 'ms'),
    maxRcvBufferBytes: pick('maxRcvBufferBytes', 'maxRcvBufferBytes', 'bytes'),
  };
  return { problems, limits, lifetimeMs: r.lifetimeMs ?? caps.maxDurationMs };
}

/** Checks a start-rpc request. */
export function checkRpcRequest(r: RpcServiceRequest, caps: PeerCaps): { problems: string[]; lifetimeMs: number; maxRecordBytes: number } {
  const problems = [...socketProblems(r.socket, caps), ...transportProblems(r.transport), ...lifetimeProblems(r.lifetimeMs, caps), ...drcProblems(r.drc, caps)];
  if (r.maxRecordBytes !== undefined && r.maxRecordBytes > caps.maxRpcRecordBytes) problems.push(over('maxRecordBytes', r.maxRecordBytes, caps, 'maxRpcRecordBytes', 'bytes'));
  return { problems, lifetimeMs: r.lifetimeMs ?? caps.maxDurationMs, maxRecordBytes: Math.min(r.maxRecordBytes ?? caps.maxRpcRecordBytes, caps.maxRpcRecordBytes) };
}

/** Checks a configure-rpc request's cache settings. */
export function checkDrcRequest(d: DrcRequest, caps: PeerCaps): string[] {
  return drcProblems(d, caps);
}

/** Checks a start-echo request; returns the rates it runs with. */
export function checkEchoRequest(r: EchoRequest, caps: PeerCaps): { problems: string[]; maxRatePacketsPerSecond: number; maxRateBitsPerSecond: number; lifetimeMs: number } {
  const problems = [...socketProblems(r.socket, caps), ...lifetimeProblems(r.lifetimeMs, caps)];
  const pps = r.limits?.maxRatePacketsPerSecond;
  const bps = r.limits?.maxRateBitsPerSecond;
  if (pps !== undefined && pps > caps.maxRatePacketsPerSecond) problems.push(over('limits.maxRatePacketsPerSecond', pps, caps, 'maxRatePacketsPerSecond', 'packets/s'));
  if (bps !== undefined && bps > caps.maxRateBitsPerSecond) problems.push(over('limits.maxRateBitsPerSecond', bps, caps, 'maxRateBitsPerSecond', 'bits/s'));
  return {
    problems,
    maxRatePacketsPerSecond: Math.min(pps ?? caps.maxRatePacketsPerSecond, caps.maxRatePacketsPerSecond),
    maxRateBitsPerSecond: Math.min(bps ?? caps.maxRateBitsPerSecond, caps.maxRateBitsPerSecond),
    lifetimeMs: r.lifetimeMs ?? caps.maxDurationMs,
  };
}
