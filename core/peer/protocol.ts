// The control channel between a client (the experiment runner) and a peer agent, sans-IO: bytes
// from the TCP connection go in through handleBytes, lines to write come out of pollTransmit, and
// what happened comes out of pollEvent. The drivers (agent.ts, client.ts) own sockets and timers;
// randomness (the nonces) is passed in.
//
// Frames are lines of JSON, at most maxFrameBytes each. The handshake:
//   client: {"hello":{"nonce":Nc,"software":...},"v":1}
//   agent:  {"challenge":{"nonce":Na,"software":...},"v":1}
// Both sides then derive one key per direction with HKDF-SHA256 (RFC 5869) from the token, salted
// with Nc|Na, so every session has fresh keys and frames of one session or direction are worthless
// in another. Every later frame is {"mac":...,"msg":{...},"seq":n,"v":1}, its MAC an HMAC-SHA256
// (RFC 2104) over the canonical JSON (keys sorted, no spaces) of {msg, seq, v}. seq starts at 1 and
// goes up by exactly one per frame and direction: a replayed, dropped or reordered frame breaks
// the sequence and ends the session. The client's first authenticated frame (auth) proves that it
// knows the token; the agent's first (welcome) proves that the agent knows it too. A client whose
// auth frame fails the MAC gets {"refused":{"code":"token",...},"v":1} and the connection closes.

import { jsonTooDeep } from '../util/json-depth.js';
import { createHmac, hkdfSync, timingSafeEqual } from 'node:crypto';
import { z } from 'zod';
import { AgentMessageSchema, AuthSchema, RequestSchema, WelcomeSchema, formatIssues, type AgentMessage, type AuthMessage, type Request, type WelcomeMessage } from './messages.js';

/** Version of the control protocol (the `v` of every frame). */
export const PEER_PROTOCOL_VERSION = 1;
/** Bytes of each side's handshake nonce. */
export const NONCE_BYTES = 32;
/** Largest frame an agent accepts (requests are small; this bounds what an unknown client can make it buffer). */
export const MAX_REQUEST_FRAME_BYTES = 64 * 1024;
/** Largest frame a client accepts (stats of a listener with many sessions are the biggest). */
export const MAX_REPLY_FRAME_BYTES = 1024 * 1024;
/** Largest handshake frame (hello, challenge, refused) either side accepts before the keys exist. */
export const MAX_HANDSHAKE_FRAME_BYTES = 4096;
/** Deepest nesting of a frame: more is refused before JSON.parse, so no input can exhaust the stack. */
export const MAX_FRAME_DEPTH = 32;
/** Shortest token accepted (characters); a short token is guessed offline from one recorded handshake. */
export const MIN_TOKEN_CHARS = 8;
/** Longest token accepted (UTF-8 bytes). */
export const MAX_TOKEN_BYTES = 1024;

/** What went wrong on a channel; `code` is stable, `message` is for people. */
export interface ChannelError {
  code:
    | 'oversized' // a frame longer than the cap
    | 'malformed' // not UTF-8, not JSON, nested too deeply
    | 'invalid' // JSON, but not a frame or message of this protocol
    | 'bad-mac' // the MAC does not match: tampered, or not from the session's peer
    | 'replayed' // a frame counter already used
    | 'out-of-order' // a frame counter that skips ahead
    | 'bad-token' // (agent) the client's auth frame failed the MAC: it does not know the token
    | 'token-refused' // (client) the agent refused our token
    | 'refused' // the other side refused the session for another reason (version, busy, protocol)
    | 'version' // the other side speaks another protocol version
    | 'internal'; // a bug of this side, reported instead of thrown
  message: string;
}

/** What a channel reports. */
export type ChannelEvent<In, Hello> =
  | { type: 'established'; hello: Hello }
  /** An authenticated message that passed its schema. */
  | { type: 'message'; message: In }
  /** An authenticated message that failed its schema; the session stays open (the id, when readable, lets the agent answer). */
  | { type: 'invalid'; id: number | null; error: ChannelError }
  /** The session is over; write what pollTransmit still returns, then close the connection. */
  | { type: 'failed'; error: ChannelError };

/** What is wrong with a token, or null when it is acceptable. */
export function tokenProblem(token: string): string | null {
  if (token.length < MIN_TOKEN_CHARS) return `the token must be at least ${MIN_TOKEN_CHARS} characters (make one with: openssl rand -hex 16)`;
  if (Buffer.byteLength(token, 'utf8') > MAX_TOKEN_BYTES) return `the token must be at most ${MAX_TOKEN_BYTES} bytes`;
  return null;
}

/** JSON with object keys sorted at every level and no whitespace: the bytes a MAC covers. */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value) ?? 'null';
  if (Array.isArray(value)) return `[${value.map((v) => (v === undefined ? 'null' : canonicalJson(v))).join(',')}]`;
  const o = value as Record<string, unknown>;
  const keys = Object.keys(o)
    .filter((k) => o[k] !== undefined && typeof o[k] !== 'function')
    .sort();
  return `{${keys.map((k) => `${JSON.stringify(k)}:${canonicalJson(o[k])}`).join(',')}}`;
}

/** The two directional keys of a session (HKDF-SHA256 of the token, salted with both nonces). */
export function deriveSessionKeys(token: string, clientNonce: Uint8Array, agentNonce: Uint8Array): { clientToAgent: Buffer; agentToClient: Buffer } {
  const ikm = Buffer.from(token, 'utf8');
  const salt = Buffer.concat([clientNonce, agentNonce]);
  const key = (info: string) => Buffer.from(hkdfSync('sha256', ikm, salt, info, 32));
  return { clientToAgent: key('packetlab peer v1 client to agent'), agentToClient: key('packetlab peer v1 agent to client') };
}

/** The MAC of an authenticated frame: HMAC-SHA256 over the canonical JSON of {msg, seq, v}. */
export function frameMac(key: Uint8Array, seq: number, msg: unknown): Buffer {
  return createHmac('sha256', key).update(canonicalJson({ v: PEER_PROTOCOL_VERSION, seq, msg })).digest();
}

/** Builds an authenticated frame line (with its newline). */
export function encodeFrame(key: Uint8Array, seq: number, msg: unknown): string {
  const mac = frameMac(key, seq, msg).toString('hex');
  return `${canonicalJson({ v: PEER_PROTOCOL_VERSION, seq, msg, mac })}\n`;
}

const HEX_NONCE = new RegExp(`^[0-9a-f]{${NONCE_BYTES * 2}}$`);
const softwareSchema = z.string().max(64);

const HelloSchema = z.strictObject({ v: z.literal(PEER_PROTOCOL_VERSION), hello: z.strictObject({ nonce: z.string().regex(HEX_NONCE, 'must be 64 lowercase hex digits'), software: softwareSchema }) });
const ChallengeSchema = z.strictObject({ v: z.literal(PEER_PROTOCOL_VERSION), challenge: z.strictObject({ nonce: z.string().regex(HEX_NONCE, 'must be 64 lowercase hex digits'), software: softwareSchema }) });
const RefusedSchema = z.strictObject({ v: z.number(), refused: z.strictObject({ code: z.enum(['token', 'version', 'busy', 'protocol']), message: z.string().max(1024) }) });
const FrameSchema = z.strictObject({
  v: z.literal(PEER_PROTOCOL_VERSION),
  seq: z.number().int().min(1).max(Number.MAX_SAFE_INTEGER),
  msg: z.record(z.string(), z.unknown()),
  mac: z.string().regex(/^[0-9a-f]{64}$/, 'must be 64 lowercase hex digits'),
});

/** The code of an unauthenticated refusal line. */
export type RefusalCode = 'token' | 'version' | 'busy' | 'protocol';

/** An unauthenticated refusal line (with its newline): sent before closing a connection the agent will not serve. */
export function refusalLine(code: RefusalCode, message: string): string {
  return `${canonicalJson({ v: PEER_PROTOCOL_VERSION, refused: { code, message: message.slice(0, 1024) } })}\n`;
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

/** Framing, MACs and counters shared by both ends. */
abstract class Channel<In, Out, Hello> {
  protected sendKey: Buffer | null = null;
  protected recvKey: Buffer | null = null;
  private sendSeq = 0;
  private recvSeq = 0;
  private phaseOpen = false;
  private failedWith: ChannelError | null = null;
  private readonly pending: Buffer[] = [];
  private pendingBytes = 0;
  private readonly out: string[] = [];
  private readonly events: ChannelEvent<In, Hello>[] = [];

  constructor(private readonly maxFrameBytes: number) {}

  /** 'handshake' until both sides proved the token, then 'open'; 'failed' once anything went wrong. */
  get state(): 'handshake' | 'open' | 'failed' {
    return this.failedWith !== null ? 'failed' : this.phaseOpen ? 'open' : 'handshake';
  }

  /** Why the channel failed, or null. */
  get error(): ChannelError | null {
    return this.failedWith;
  }

  /** Bytes from the connection, in order, in chunks of any size. Never throws. */
  handleBytes(chunk: Uint8Array): void {
    try {
      let start = 0;
      while (this.failedWith === null && start < chunk.length) {
        const nl = chunk.indexOf(10, start);
        const cap = this.phaseOpen ? this.maxFrameBytes : MAX_HANDSHAKE_FRAME_BYTES;
        if (nl < 0) {
          const rest = chunk.subarray(start);
          if (this.pendingBytes + rest.length > cap) {
            this.fail({ code: 'oversized', message: `frame exceeds ${cap} bytes (no newline within the limit)` });
            return;
          }
          this.pending.push(Buffer.from(rest));
          this.pendingBytes += rest.length;
          return;
        }
        const part = chunk.subarray(start, nl);
        start = nl + 1;
        if (this.pendingBytes + part.length > cap) {
          this.fail({ code: 'oversized', message: `frame of ${this.pendingBytes + part.length} bytes exceeds the limit of ${cap} bytes` });
          return;
        }
        const line = this.pending.length === 0 ? part : Buffer.concat([...this.pending, part]);
        this.pending.length = 0;
        this.pendingBytes = 0;
        this.handleLine(line);
      }
    } catch (e) {
      this.fail({ code: 'internal', message: `internal error while reading a frame: ${(e as Error).message}` });
    }
  }

  /** The next line to write (newline included), or null. */
  pollTransmit(): string | null {
    return this.out.length > 0 ? this.out.shift()! : null;
  }

  /** The next event, or null. */
  pollEvent(): ChannelEvent<In, Hello> | null {
    return this.events.length > 0 ? this.events.shift()! : null;
  }

  /** Queues an authenticated message. Throws when the session is not open or the frame is too big for the peer (misuse). */
  send(msg: Out): void {
    if (!this.phaseOpen || this.failedWith !== null) throw new Error(`cannot send on a channel that is ${this.state}`);
    this.sendAuthed(msg);
  }

  protected sendAuthed(msg: unknown): void {
    this.sendSeq++;
    this.out.push(encodeFrame(this.sendKey!, this.sendSeq, msg));
  }

  protected queueLine(line: string): void {
    this.out.push(line);
  }

  protected emit(e: ChannelEvent<In, Hello>): void {
    this.events.push(e);
  }

  protected open(): void {
    this.phaseOpen = true;
  }

  /** Ends the session: the event says why; lines already queued (a refusal) are still returned. */
  protected fail(error: ChannelError): void {
    if (this.failedWith !== null) return;
    this.onFail(error);
    this.failedWith = error;
    this.pending.length = 0;
    this.pendingBytes = 0;
    this.events.push({ type: 'failed', error });
  }

  private handleLine(bytes: Uint8Array): void {
    let text: string;
    try {
      text = utf8.decode(bytes);
    } catch {
      this.fail({ code: 'malformed', message: 'frame is not valid UTF-8' });
      return;
    }
    if (text.length === 0) {
      this.fail({ code: 'malformed', message: 'empty frame (a blank line)' });
      return;
    }
    const deep = jsonTooDeep(text, MAX_FRAME_DEPTH);
    if (deep !== null) {
      this.fail({ code: 'malformed', message: `frame is nested deeper than ${MAX_FRAME_DEPTH} levels (at ${deep.path})` });
      return;
    }
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch (e) {
      this.fail({ code: 'malformed', message: `frame is not JSON (${(e as Error).message})` });
      return;
    }
    if (value === null || typeof value !== 'object' || Array.isArray(value)) {
      this.fail({ code: 'invalid', message: 'frame is not a JSON object' });
      return;
    }
    const v = (value as { v?: unknown }).v;
    if (typeof v === 'number' && v !== PEER_PROTOCOL_VERSION && !('refused' in value)) {
      this.onVersionMismatch(v);
      return;
    }
    this.onFrame(value as Record<string, unknown>);
  }

  /** Checks an authenticated frame: shape, MAC (in constant time), then counter. Null when it failed (the channel failed too). */
  protected verifyFrame(value: Record<string, unknown>, badMac: ChannelError): { seq: number; msg: Record<string, unknown> } | null {
    const f = FrameSchema.safeParse(value);
    if (!f.success) {
      this.fail({ code: 'invalid', message: `not an authenticated frame: ${formatIssues(f.error)}` });
      return null;
    }
    const { seq, mac } = f.data;
    // The MAC covers the message exactly as it arrived, not the schema's copy of it.
    const msg = value.msg as Record<string, unknown>;
    const expected = frameMac(this.recvKey!, seq, msg);
    const got = Buffer.from(mac, 'hex');
    if (got.length !== expected.length || !timingSafeEqual(got, expected)) {
      this.fail(badMac);
      return null;
    }
    if (seq <= this.recvSeq) {
      this.fail({ code: 'replayed', message: `replayed frame: counter ${seq} was already used (the last was ${this.recvSeq})` });
      return null;
    }
    if (seq !== this.recvSeq + 1) {
      this.fail({ code: 'out-of-order', message: `frame counter ${seq} skips ahead of ${this.recvSeq + 1}: a frame is missing or reordered` });
      return null;
    }
    this.recvSeq = seq;
    return { seq, msg };
  }

  /** Checks an authenticated message of the open session against its schema and reports it. */
  protected deliver(msg: Record<string, unknown>, schema: z.ZodType<In>, what: string): void {
    const r = schema.safeParse(msg);
    if (r.success) {
      this.emit({ type: 'message', message: r.data });
      return;
    }
    const type = typeof msg.type === 'string' ? msg.type.slice(0, 40) : null;
    const id = typeof msg.id === 'number' && Number.isSafeInteger(msg.id) && msg.id >= 0 ? msg.id : null;
    this.emit({ type: 'invalid', id, error: { code: 'invalid', message: `invalid ${type === null ? what : `${type} ${what}`}: ${formatIssues(r.error)}` } });
  }

  /** Called once, before the channel fails (the agent queues its refusal here). */
  protected onFail(_error: ChannelError): void {}

  protected abstract onFrame(value: Record<string, unknown>): void;
  protected abstract onVersionMismatch(v: number): void;
}

/** Options of the client end. */
export interface ClientChannelOptions {
  token: string;
  /** NONCE_BYTES random bytes (crypto.randomBytes in the driver; fixed in tests). */
  nonce: Uint8Array;
  /** Name shown in the agent's log (the client's host name). */
  name: string;
  software: string;
  /** Largest frame accepted from the agent (default MAX_REPLY_FRAME_BYTES). */
  maxFrameBytes?: number;
}

/** The client end of the control channel. */
export class ClientChannel extends Channel<AgentMessage, Request, WelcomeMessage> {
  private phase: 'idle' | 'hello-sent' | 'auth-sent' | 'open' = 'idle';
  private readonly o: ClientChannelOptions;

  constructor(o: ClientChannelOptions) {
    super(o.maxFrameBytes ?? MAX_REPLY_FRAME_BYTES);
    if (o.nonce.length !== NONCE_BYTES) throw new RangeError(`the nonce must be ${NONCE_BYTES} bytes`);
    this.o = o;
  }

  /** Queues the hello. */
  start(): void {
    if (this.phase !== 'idle') throw new Error('the channel has already started');
    this.phase = 'hello-sent';
    this.queueLine(`${canonicalJson({ v: PEER_PROTOCOL_VERSION, hello: { nonce: Buffer.from(this.o.nonce).toString('hex'), software: this.o.software.slice(0, 64) } })}\n`);
  }

  protected onVersionMismatch(v: number): void {
    this.fail({ code: 'version', message: `the agent speaks control protocol version ${v}; this client speaks ${PEER_PROTOCOL_VERSION}` });
  }

  protected onFrame(value: Record<string, unknown>): void {
    if (this.phase === 'idle') {
      this.fail({ code: 'invalid', message: 'the agent spoke before the hello' });
      return;
    }
    if (this.phase !== 'open' && 'refused' in value) {
      const r = RefusedSchema.safeParse(value);
      if (!r.success) {
        this.fail({ code: 'invalid', message: `invalid refusal: ${formatIssues(r.error)}` });
        return;
      }
      const { code, message } = r.data.refused;
      this.fail({ code: code === 'token' ? 'token-refused' : code === 'version' ? 'version' : 'refused', message });
      return;
    }
    if (this.phase === 'hello-sent') {
      const c = ChallengeSchema.safeParse(value);
      if (!c.success) {
        this.fail({ code: 'invalid', message: `expected the agent's challenge: ${formatIssues(c.error)}` });
        return;
      }
      const keys = deriveSessionKeys(this.o.token, this.o.nonce, Buffer.from(c.data.challenge.nonce, 'hex'));
      this.sendKey = keys.clientToAgent;
      this.recvKey = keys.agentToClient;
      this.phase = 'auth-sent';
      this.sendAuthed({ type: 'auth', name: this.o.name.slice(0, 128) } satisfies AuthMessage);
      return;
    }
    const f = this.verifyFrame(value, {
      code: 'bad-mac',
      message: this.phase === 'auth-sent' ? "the agent's welcome is not signed with our token: it does not know the token" : 'frame failed authentication (MAC mismatch): tampered, or not from the agent',
    });
    if (f === null) return;
    if (this.phase === 'auth-sent') {
      const w = WelcomeSchema.safeParse(f.msg);
      if (!w.success) {
        this.fail({ code: 'invalid', message: `invalid welcome: ${formatIssues(w.error)}` });
        return;
      }
      this.phase = 'open';
      this.open();
      this.emit({ type: 'established', hello: w.data });
      return;
    }
    this.deliver(f.msg, AgentMessageSchema, 'message');
  }
}

/** Options of the agent end. */
export interface AgentChannelOptions {
  token: string;
  /** NONCE_BYTES random bytes. */
  nonce: Uint8Array;
  software: string;
  /** The welcome sent once the client proved the token. */
  welcome: Omit<WelcomeMessage, 'type'>;
  /** Largest frame accepted from the client (default MAX_REQUEST_FRAME_BYTES). */
  maxFrameBytes?: number;
}

/** The agent end of the control channel. */
export class AgentChannel extends Channel<Request, AgentMessage, AuthMessage> {
  private phase: 'await-hello' | 'await-auth' | 'open' = 'await-hello';
  private readonly o: AgentChannelOptions;

  constructor(o: AgentChannelOptions) {
    super(o.maxFrameBytes ?? MAX_REQUEST_FRAME_BYTES);
    if (o.nonce.length !== NONCE_BYTES) throw new RangeError(`the nonce must be ${NONCE_BYTES} bytes`);
    this.o = o;
  }

  /** Refuses the session before it opens (too many clients, shutting down): queues the refusal and fails. */
  refuse(code: RefusalCode, message: string): void {
    if (this.state !== 'handshake') return;
    this.queueLine(refusalLine(code, message));
    this.refusalSent = true;
    this.fail({ code: 'refused', message });
  }

  private refusalSent = false;

  // A session that fails before it opened gets one refusal line saying why, so a client (or a
  // person with netcat) learns what was wrong; an open session just ends.
  protected override onFail(error: ChannelError): void {
    if (this.phase === 'open' || this.refusalSent) return;
    this.refusalSent = true;
    if (error.code === 'bad-token') this.queueLine(refusalLine('token', 'the agent refused the token'));
    else this.queueLine(refusalLine(error.code === 'version' ? 'version' : 'protocol', error.message));
  }

  protected onVersionMismatch(v: number): void {
    this.fail({ code: 'version', message: `this agent speaks control protocol version ${PEER_PROTOCOL_VERSION}, the client ${v}` });
  }

  protected onFrame(value: Record<string, unknown>): void {
    if (this.phase === 'await-hello') {
      const h = HelloSchema.safeParse(value);
      if (!h.success) {
        this.fail({ code: 'invalid', message: `expected a hello: ${formatIssues(h.error)}` });
        return;
      }
      const keys = deriveSessionKeys(this.o.token, Buffer.from(h.data.hello.nonce, 'hex'), this.o.nonce);
      this.sendKey = keys.agentToClient;
      this.recvKey = keys.clientToAgent;
      this.phase = 'await-auth';
      this.queueLine(`${canonicalJson({ v: PEER_PROTOCOL_VERSION, challenge: { nonce: Buffer.from(this.o.nonce).toString('hex'), software: this.o.software.slice(0, 64) } })}\n`);
      return;
    }
    if (this.phase === 'await-auth') {
      const f = this.verifyFrame(value, { code: 'bad-token', message: 'the client did not prove the token (MAC mismatch on its auth frame)' });
      if (f === null) return;
      const a = AuthSchema.safeParse(f.msg);
      if (!a.success) {
        this.fail({ code: 'invalid', message: `expected the auth message: ${formatIssues(a.error)}` });
        return;
      }
      this.phase = 'open';
      this.open();
      this.sendAuthed({ type: 'welcome', ...this.o.welcome } satisfies WelcomeMessage);
      this.emit({ type: 'established', hello: a.data });
      return;
    }
    const f = this.verifyFrame(value, { code: 'bad-mac', message: 'frame failed authentication (MAC mismatch): tampered, or not from the authenticated client' });
    if (f === null) return;
    this.deliver(f.msg, RequestSchema, 'request');
  }
}
