// RPC over TCP: record marking (RFC 5531 section 11) around the same message engines. A node:net
// connection (or a server's set of connections) is dressed as the part of a dgram socket that the
// UDP driver uses: every record arriving is a 'message' from the connection's address, and send()
// frames a message as a record on the connection of that address. The driver, its timers and its
// impairment links then work unchanged; only the framing differs from UDP.

import { EventEmitter } from 'node:events';
import { connect as netConnect, createServer, type Server, type Socket as NetSocket } from 'node:net';
import { DEFAULT_MAX_RECORD_BYTES, RecordDecoder, frameRecord } from './record-marking.js';
import type { RecyclingPeerTable } from './peers.js';
import { plainAddress } from '../util/address.js';

/** Counters of the record layer. */
export class RecordSocketCounters {
  /** Records received. */
  recordsIn = 0;
  /** Records sent. */
  recordsOut = 0;
  /** Connections closed because their framing was broken (a record beyond the size limit). */
  framingErrors = 0;
  /** Records for a connection that is gone (dropped). */
  sendsToClosed = 0;
  /** Connections closed because they did not read their replies. */
  slowReaders = 0;
  /** Connections accepted (server) or made (client). */
  connections = 0;
  /** Connections refused because the server had its maximum. */
  refusedConnections = 0;
  /** Connections from hosts other than the one served, closed at once. */
  foreignConnections = 0;
  /** The last framing error. */
  lastFramingError = '';
}

/** Unread replies a connection may hold before it is closed as a slow reader. */
export const MAX_UNSENT_BYTES = 8 * 1024 * 1024;

interface Conn {
  sock: NetSocket;
  decoder: RecordDecoder;
  address: string;
  port: number;
}

/** Knobs of a record-marking socket. */
export interface RecordSocketOptions {
  /** Largest record accepted (default 1 MiB). */
  maxRecordBytes?: number;
  /** Peer table of the driver, so closed connections free their ids. */
  peers?: RecyclingPeerTable;
  /** Called when a connection ends: its address, and why. */
  onClose?: (address: string, port: number, reason: string) => void;
}

/** One or more TCP connections that look like a dgram socket to the UDP driver. */
export class RecordStreamSocket extends EventEmitter {
  /** Counters. */
  readonly counters = new RecordSocketCounters();
  private readonly conns = new Map<string, Conn>();
  private single: Conn | null = null;
  private readonly maxRecordBytes: number;
  private readonly opts: RecordSocketOptions;

  constructor(opts: RecordSocketOptions = {}) {
    super();
    this.opts = opts;
    this.maxRecordBytes = opts.maxRecordBytes ?? DEFAULT_MAX_RECORD_BYTES;
  }

  /** Open connections. */
  get connectionCount(): number {
    return this.conns.size;
  }

  /** Address of the first connection (the server, for a client), or null once it closed. */
  remote(): { address: string; port: number } | null {
    return this.single === null ? null : { address: this.single.address, port: this.single.port };
  }

  /** Takes a connection: its records become 'message' events from its remote address. */
  attach(sock: NetSocket): void {
    const address = sock.remoteAddress ?? '?';
    const port = sock.remotePort ?? 0;
    const c: Conn = { sock, decoder: new RecordDecoder(this.maxRecordBytes), address, port };
    const key = `${address}|${port}`;
    this.conns.set(key, c);
    if (this.single === null) this.single = c;
    this.counters.connections++;
    sock.setNoDelay(true);
    const rinfo = { address, port, family: sock.remoteFamily ?? 'IPv4', size: 0 };
    const onRecord = (record: Uint8Array) => {
      this.counters.recordsIn++;
      rinfo.size = record.length;
      this.emit('message', record, rinfo);
    };
    sock.on('data', (chunk: Buffer) => {
      if (!c.decoder.push(chunk, onRecord)) {
        this.counters.framingErrors++;
        this.counters.lastFramingError = c.decoder.error ?? '';
        sock.destroy();
      }
    });
    let closing = '';
    sock.on('error', (err: NodeJS.ErrnoException) => {
      closing = err.code === 'ECONNREFUSED' ? 'connection refused' : err.code === 'ECONNRESET' ? 'connection reset by the peer' : err.message;
      if (this.listenerCount('error') > 0) this.emit('error', err);
    });
    sock.on('close', () => {
      this.conns.delete(key);
      if (this.single === c) this.single = null;
      this.opts.peers?.release(address, port);
      const reason = c.decoder.error !== null ? `record framing error: ${c.decoder.error}` : closing !== '' ? closing : 'connection closed';
      this.opts.onClose?.(address, port, reason);
    });
  }

  /** dgram-style send: (data[, callback]) on the single connection, or (data, port, address[, callback]). */
  send(data: Uint8Array, ...rest: unknown[]): void {
    const last = rest[rest.length - 1];
    const cb = typeof last === 'function' ? (last as (err: Error | null) => void) : undefined;
    let c: Conn | null | undefined;
    if (typeof rest[0] === 'number') c = this.conns.get(`${rest[1] as string}|${rest[0]}`);
    else c = this.single;
    if (c === null || c === undefined || c.sock.destroyed) {
      this.counters.sendsToClosed++;
      cb?.(null);
      return;
    }
    if (c.sock.writableLength > MAX_UNSENT_BYTES) {
      // The peer does not read its replies: drop the connection rather than buffer without bound.
      this.counters.slowReaders++;
      c.sock.destroy();
      cb?.(null);
      return;
    }
    this.counters.recordsOut++;
    c.sock.write(frameRecord(data));
    cb?.(null);
  }

  /** Closes every connection. */
  close(cb?: () => void): void {
    for (const c of this.conns.values()) c.sock.destroy();
    this.conns.clear();
    this.single = null;
    cb?.();
  }
}

/** A TCP listening socket whose connections feed one RecordStreamSocket. */
export interface RecordServer {
  readonly server: Server;
  readonly socket: RecordStreamSocket;
  readonly port: number;
  close(): Promise<void>;
}

/** Listens on host:port (0 picks a port); at most `maxConnections` at once, each idle at most `idleTimeoutMs`. */
export async function listenRecords(host: string, port: number, o: RecordSocketOptions & { maxConnections?: number; idleTimeoutMs?: number; onlyHost?: string } = {}): Promise<RecordServer> {
  const socket = new RecordStreamSocket(o);
  const maxConnections = o.maxConnections ?? 256;
  const idle = o.idleTimeoutMs ?? 300_000;
  const server = createServer({ noDelay: true }, (sock) => {
    if (o.onlyHost !== undefined && plainAddress(sock.remoteAddress ?? '') !== o.onlyHost) {
      socket.counters.foreignConnections++;
      sock.destroy();
      return;
    }
    if (socket.connectionCount >= maxConnections) {
      socket.counters.refusedConnections++;
      sock.destroy();
      return;
    }
    sock.setTimeout(idle, () => sock.destroy());
    socket.attach(sock);
  });
  await new Promise<void>((resolve, reject) => {
    const onError = (err: NodeJS.ErrnoException) => {
      if (err.code === 'EADDRINUSE') reject(new Error(`TCP port ${port} on ${host} is in use`));
      else if (err.code === 'EACCES') reject(new Error(`TCP port ${port} on ${host} needs privileges`));
      else reject(new Error(`cannot listen on TCP ${host}:${port}: ${err.message}`));
    };
    server.once('error', onError);
    server.listen(port, host, () => {
      server.off('error', onError);
      resolve();
    });
  });
  const addr = server.address();
  return {
    server,
    socket,
    port: typeof addr === 'object' && addr !== null ? addr.port : port,
    close: () =>
      new Promise<void>((resolve) => {
        socket.close();
        server.close(() => resolve());
      }),
  };
}

/** Connects to host:port; resolves with the connection wrapped as a RecordStreamSocket. */
export function connectRecords(host: string, port: number, o: RecordSocketOptions & { timeoutMs?: number } = {}): Promise<RecordStreamSocket> {
  return new Promise((resolve, reject) => {
    const sock = netConnect({ host, port, noDelay: true });
    const timer = setTimeout(() => {
      sock.destroy();
      reject(new Error(`TCP connection to ${host}:${port} timed out`));
    }, o.timeoutMs ?? 10_000);
    sock.once('error', (err: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      reject(new Error(err.code === 'ECONNREFUSED' ? `nothing listens on TCP ${host}:${port} (connection refused)` : `cannot connect to TCP ${host}:${port}: ${err.message}`));
    });
    sock.once('connect', () => {
      clearTimeout(timer);
      sock.removeAllListeners('error');
      const s = new RecordStreamSocket(o);
      s.attach(sock);
      resolve(s);
    });
  });
}
