// RPC over the lab's own reliable transport ("plt"): one RPC message per lab-transport message
// (Connection.sendMessage on one side, read() up to messageEnd on the other), so the lab's ARQ
// modes, windows and RTO carry the calls. The client opens with a SYN whose service byte is RPC;
// a Listener with rpcSessionFactory() answers it with an RpcSession around the shared server
// engine. As on TCP, the RPC client does not retransmit: the transport does.

import type { Endpoint } from '../endpoint.js';
import type { SessionFactory } from '../listener.js';
import { ConnectionSession } from '../apps/session.js';
import { Connection, type ReadSink } from '../transport/connection.js';
import { describeConnectionError } from '../transport/error.js';
import { DEFAULT_TRANSPORT_CONFIG, type TransportConfig } from '../transport/config.js';
import { receiverConfig, type ListenerTransportDefaults } from '../apps/services.js';
import { Service, encodeSynOptions, reliableSynOptions } from '../wire/handshake.js';
import { RpcClientEngine, RpcStatus, type RpcClientEngineOptions } from './client.js';
import type { ReplySink, RpcServerEngine } from './server.js';

/** Largest RPC message accepted over the lab transport (1 MiB, as for TCP records). */
export const DEFAULT_MAX_MESSAGE_BYTES = 1 << 20;

/** Transport knobs for RPC: selective repeat, and a small first RTO as calls are short. */
export const RPC_TRANSPORT_CONFIG: Readonly<TransportConfig> = Object.freeze({ ...DEFAULT_TRANSPORT_CONFIG, rtoMsInitial: 200 });

/** Collects one message at a time from Connection.read(). */
class MessageAssembler implements ReadSink {
  buf = new Uint8Array(1024);
  length = 0;
  /** Set when a message went beyond the limit. */
  tooLong = false;
  private readonly messages: Uint8Array[] = [];

  constructor(private readonly maxBytes: number) {}

  onData(buf: Uint8Array, start: number, end: number, messageEnd: boolean): void {
    const n = end - start;
    if (this.length + n > this.maxBytes) {
      this.tooLong = true;
      return;
    }
    if (this.length + n > this.buf.length) {
      let cap = this.buf.length * 2;
      while (cap < this.length + n) cap *= 2;
      const next = new Uint8Array(cap);
      next.set(this.buf.subarray(0, this.length));
      this.buf = next;
    }
    this.buf.set(buf.subarray(start, end), this.length);
    this.length += n;
    if (messageEnd) {
      this.messages.push(this.buf.slice(0, this.length));
      this.length = 0;
    }
  }

  /** The next whole message, or null. */
  take(): Uint8Array | null {
    return this.messages.length > 0 ? this.messages.shift()! : null;
  }
}

/** Options of an RPC client over the lab transport. */
export interface PltRpcClientOptions {
  /** Address of the listener. */
  peer: number;
  transport: TransportConfig;
  connectionId: number;
  isn: number;
  engine: Omit<RpcClientEngineOptions, 'server' | 'retransmit'>;
  maxMessageBytes?: number;
}

/** An RPC client engine on a lab-transport connection, as one Endpoint. */
export class PltRpcClient implements Endpoint {
  /** The connection underneath. */
  readonly conn: Connection;
  /** The RPC engine (it never retransmits here). */
  readonly engine: RpcClientEngine;
  readonly transmitTo: number;
  private readonly assembler: MessageAssembler;
  private started = false;
  private connected = false;
  /** When the handshake completed, NaN before. */
  connectedAtMs = Number.NaN;
  private ended = false;

  constructor(o: PltRpcClientOptions) {
    this.transmitTo = o.peer;
    this.conn = new Connection({ config: o.transport, role: 'client', connectionId: o.connectionId, isn: o.isn });
    this.engine = new RpcClientEngine({ ...o.engine, server: o.peer, retransmit: false });
    this.assembler = new MessageAssembler(o.maxMessageBytes ?? DEFAULT_MAX_MESSAGE_BYTES);
  }

  /** Sends the SYN (calls made before the handshake completes wait in the connection). */
  start(now: number): void {
    if (this.started) return;
    this.started = true;
    const c = this.conn.config;
    this.conn.connect(
      now,
      encodeSynOptions(reliableSynOptions(Service.RPC, c, { readRateBytesPerSecond: 0 })),
    );
  }

  /** Closes the connection (FIN after what is queued); pending calls fail with SHUTDOWN. */
  close(now: number): void {
    if (!this.ended) {
      this.ended = true;
      if (this.conn.state !== 'failed' && this.conn.state !== 'closed') this.conn.close();
    }
    this.engine.failAll(now, RpcStatus.SHUTDOWN, 'the client was closed (shutdown)', true);
  }

  handleDatagram(now: number, bytes: Uint8Array): void {
    this.conn.handleDatagram(now, bytes);
    this.pump(now);
  }

  handleTimeout(now: number): void {
    const t = this.conn.pollTimeout();
    if (t !== null && t <= now) this.conn.handleTimeout(now);
    const e = this.engine.pollTimeout();
    if (e !== null && e <= now) this.engine.handleTimeout(now);
    this.pump(now);
  }

  pollTransmit(now: number): Uint8Array | null {
    if (!this.ended && this.conn.state !== 'failed' && this.conn.state !== 'closed') {
      for (let m = this.engine.pollTransmit(now); m !== null; m = this.engine.pollTransmit(now)) {
        // The call's bytes are immutable, so the connection may queue them without a copy.
        if (!this.conn.sendMessage(m)) break;
      }
    }
    return this.conn.pollTransmit(now);
  }

  pollTimeout(): number | null {
    const a = this.conn.pollTimeout();
    const b = this.engine.pollTimeout();
    if (a === null) return b;
    return b === null || a < b ? a : b;
  }

  private pump(now: number): void {
    const conn = this.conn;
    for (let e = conn.pollEvent(); e !== null; e = conn.pollEvent()) {
      if (e.type === 'connected') {
        this.connected = true;
        this.connectedAtMs = now;
      }
      else if (e.type === 'failed') {
        const status = this.connected ? RpcStatus.SHUTDOWN : RpcStatus.UNREACHABLE;
        this.engine.failAll(now, status, `the lab-transport connection failed: ${describeConnectionError(e.error)} (${this.connected ? 'shutdown' : 'unreachable'})`, true);
      } else if (e.type === 'peer-closed' || e.type === 'closed') {
        this.engine.failAll(now, RpcStatus.SHUTDOWN, 'the server closed the connection (shutdown)', true);
      }
    }
    conn.read(this.assembler);
    if (this.assembler.tooLong) {
      conn.abort('RPC reply longer than the client accepts');
      this.engine.failAll(now, RpcStatus.SHUTDOWN, 'a reply exceeded the largest message the client accepts (shutdown)', true);
      return;
    }
    for (let m = this.assembler.take(); m !== null; m = this.assembler.take()) this.engine.handleDatagram(now, m, this.transmitTo);
    for (let e = conn.pollEvent(); e !== null; e = conn.pollEvent()) {
      if (e.type === 'failed' || e.type === 'peer-closed' || e.type === 'closed') {
        this.engine.failAll(now, RpcStatus.SHUTDOWN, `the lab-transport connection ended (shutdown)`, true);
      }
    }
  }
}

/** One client's connection at an RPC listener: messages in, the shared engine's replies out. */
export class RpcSession extends ConnectionSession implements ReplySink {
  private readonly assembler: MessageAssembler;

  constructor(
    conn: Connection,
    private readonly engine: RpcServerEngine,
    /** The key the engine knows this client by (duplicate request cache, handler context). */
    readonly clientKey: number,
    maxMessageBytes = DEFAULT_MAX_MESSAGE_BYTES,
  ) {
    super(conn);
    this.assembler = new MessageAssembler(maxMessageBytes);
  }

  sendReply(bytes: Uint8Array, _to: number, stable = false): void {
    const st = this.conn.state;
    if (st === 'failed' || st === 'closed' || this.conn.isPeerClosed) return;
    // Copy unless stable: the engine reuses its buffer. A client that never reads its replies hits the bound.
    if (!this.conn.sendMessage(stable ? bytes : bytes.slice(), 16 * 1024 * 1024)) this.conn.abort('the client does not read its replies');
  }

  protected consume(now: number): void {
    const conn = this.conn;
    while (conn.pollEvent() !== null) {
      // Connection events need no action here: finished reflects the state.
    }
    conn.read(this.assembler);
    if (this.assembler.tooLong) {
      conn.abort('RPC call longer than the server accepts');
      return;
    }
    for (let m = this.assembler.take(); m !== null; m = this.assembler.take()) this.engine.handleMessage(now, m, this.clientKey, this);
    if (conn.isPeerClosed && conn.state !== 'closed' && conn.state !== 'failed' && conn.state !== 'lingering') conn.close();
  }
}


/**
 * A session factory serving RPC over the lab transport with one engine. `onSession` learns each
 * new session's key and peer (so a server can map keys back to addresses).
 */
export function rpcSessionFactory(engine: RpcServerEngine, defaults: ListenerTransportDefaults = {}, onSession?: (key: number, peer: number) => void): SessionFactory {
  let nextKey = 1;
  return (ctx) => {
    const o = ctx.options;
    if (o.service !== Service.RPC) return { refuse: 'this listener serves RPC only (service 3)' };
    const config = receiverConfig(RPC_TRANSPORT_CONFIG, defaults, o);
    const conn = new Connection({ config, role: 'server', connectionId: ctx.syn.connectionId, isn: ctx.rng.uint32() });
    conn.accept(ctx.now, ctx.syn.seq, ctx.syn.windowBytes);
    const key = nextKey++;
    onSession?.(key, ctx.peer);
    return new RpcSession(conn, engine, key);
  };
}
