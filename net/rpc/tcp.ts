// RPC over TCP: record marking (RFC 5531 section 11) around the same message engines. A node:net
// connection (or a server's set of connections) is dressed as the part of a dgram socket that the
// UDP driver uses: every record arriving is a 'message' from the connection's address, and send()
// frames a message as a record on the connection of that address. The driver, its timers and its
// impairment links then work unchanged; only the framing differs from UDP.

import { EventEmitter } from 'node:events';
import { connect as netConnect, createServer, type Server, type Socket as NetSocket } from 'node:net';
import { DEFAULT_MAX_RECORD_BYTES, RecordDecoder, frameRecord } from '../../core/rpc/record-marking.js';
import type { RecyclingPeerTable } from '../udp/recycling-peers.js';
import { plainAddress } from '../../core/util/address.js';

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
  /** Connections refused because their address had its maximum. */
  refusedPerAddress = 0;
  /** Connections closed because no record came for the idle timeout. */
  idleTimeouts = 0;
  /** Connections closed because a record began and did not end within the record deadline. */
  recordDeadlines = 0;
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
  /** Closes the connection when no record comes for the idle timeout. */
  idle: NodeJS.Timeout | null;
  /** Closes it when a record takes longer than the record deadline to arrive. */
  deadline: NodeJS.Timeout | null;
}

/** Bounds of a server's TCP connections; a slow or silent client must not hold a place for long. */
export interface TcpServerLimits {
  /** Connections at once. */
  maxConnections: number;
  /** Connections at once from one address. */
  maxConnectionsPerAddress: number;
  /** A connection without a complete record for this long is closed (0: never). */
  idleTimeoutMs: number;
  /** A record must arrive whole within this long of its first byte (0: no deadline). */
  recordDeadlineMs: number;
}

/**
 * The default bounds: a few hundred connections, 16 from one address (one lab machine, many
 * callers), 30 s without a record, and 10 s for one record, which at the largest record (1 MiB)
 * still allows a sender of 100 kB/s, while a sender of one byte a second is gone in 10 s.
 */
export const DEFAULT_TCP_SERVER_LIMITS: TcpServerLimits = Object.freeze({ maxConnections: 256, maxConnectionsPerAddress: 16, idleTimeoutMs: 30_000, recordDeadlineMs: 10_000 });

/** Knobs of a record-marking socket. */
export interface RecordSocketOptions {
  /** Largest record accepted (default 1 MiB). */
  maxRecordBytes?: number;
  /** Peer table of the driver, so closed connections free their ids. */
  peers?: RecyclingPeerTable;
  /** Called when a connection ends: its address, and why. */
  onClose?: (address: string, port: number, reason: string) => void;
  /** Close a connection without a complete record for this long (default: never; servers set it). */
  idleTimeoutMs?: number;
  /** Close a connection whose record does not end within this long of its first byte (default: never). */
  recordDeadlineMs?: number;
}

/** One or more TCP connections that look like a dgram socket to the UDP driver. */
export class RecordStreamSocket extends EventEmitter {
  /** Counters. */
  readonly counters = new RecordSocketCounters();
  private readonly conns = new Map<string, Conn>();
  private readonly perAddress = new Map<string, number>();
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

  /** Open connections from one address. */
  connectionsFrom(address: string): number {
    return this.perAddress.get(address) ?? 0;
  }

  /** Address of the first connection (the server, for a client), or null once it closed. */
  remote(): { address: string; port: number } | null {
    return this.single === null ? null : { address: this.single.address, port: this.single.port };
  }

  /** Takes a connection: its records become 'message' events from its remote address. */
  attach(sock: NetSocket): void {
    const address = sock.remoteAddress ?? '?';
    const port = sock.remotePort ?? 0;
    const c: Conn = { sock, decoder: new RecordDecoder(this.maxRecordBytes), address, port, idle: null, deadline: null };
    const key = `${address}|${port}`;
    this.conns.set(key, c);
    this.perAddress.set(address, (this.perAddress.get(address) ?? 0) + 1);
    if (this.single === null) this.single = c;
    this.counters.connections++;
    sock.setNoDelay(true);
    let closing = '';
    const idleMs = this.opts.idleTimeoutMs ?? 0;
    const deadlineMs = this.opts.recordDeadlineMs ?? 0;
    // Closes for a timeout, once, whichever timer fires first.
    const timeOut = (counter: 'idleTimeouts' | 'recordDeadlines', why: string) => {
      if (sock.destroyed) return;
      this.counters[counter]++;
      closing = why;
      sock.destroy();
    };
    if (idleMs > 0) {
      c.idle = setTimeout(() => timeOut('idleTimeouts', `no record for ${idleMs} ms (idle timeout)`), idleMs);
      c.idle.unref();
    }
    const rinfo = { address, port, family: sock.remoteFamily ?? 'IPv4', size: 0 };
    const onRecord = (record: Uint8Array) => {
      this.counters.recordsIn++;
      c.idle?.refresh();
      rinfo.size = record.length;
      this.emit('message', record, rinfo);
    };
    sock.on('data', (chunk: Buffer) => {
      if (!c.decoder.push(chunk, onRecord)) {
        this.counters.framingErrors++;
        this.counters.lastFramingError = c.decoder.error ?? '';
        sock.destroy();
        return;
      }
      // Every byte used to keep a connection: now only records do, and a record that has begun
      // must end within the deadline, so a client sending a byte a second holds no place for long.
      if (deadlineMs <= 0) return;
      if (!c.decoder.partial) {
        if (c.deadline !== null) clearTimeout(c.deadline);
        c.deadline = null;
      } else if (c.deadline === null) {
        c.deadline = setTimeout(() => timeOut('recordDeadlines', `a record did not arrive whole within ${deadlineMs} ms`), deadlineMs);
        c.deadline.unref();
      }
    });
    sock.on('error', (err: NodeJS.ErrnoException) => {
      closing = err.code === 'ECONNREFUSED' ? 'connection refused' : err.code === 'ECONNRESET' ? 'connection reset by the peer' : err.message;
      if (this.listenerCount('error') > 0) this.emit('error', err);
    });
    sock.on('close', () => {
      if (c.idle !== null) clearTimeout(c.idle);
      if (c.deadline !== null) clearTimeout(c.deadline);
      const left = (this.perAddress.get(address) ?? 1) - 1;
      if (left > 0) this.perAddress.set(address, left);
      else this.perAddress.delete(address);
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

/** Listens on host:port (0 picks a port), within `limits` (DEFAULT_TCP_SERVER_LIMITS where absent). */
export async function listenRecords(host: string, port: number, o: RecordSocketOptions & { limits?: Partial<TcpServerLimits>; onlyHost?: string } = {}): Promise<RecordServer> {
  const limits = { ...DEFAULT_TCP_SERVER_LIMITS, ...o.limits };
  const socket = new RecordStreamSocket({ ...o, idleTimeoutMs: limits.idleTimeoutMs, recordDeadlineMs: limits.recordDeadlineMs });
  const server = createServer({ noDelay: true }, (sock) => {
    const address = sock.remoteAddress ?? '?';
    if (o.onlyHost !== undefined && plainAddress(address) !== o.onlyHost) {
      socket.counters.foreignConnections++;
      sock.destroy();
      return;
    }
    if (socket.connectionCount >= limits.maxConnections) {
      socket.counters.refusedConnections++;
      sock.destroy();
      return;
    }
    if (socket.connectionsFrom(address) >= limits.maxConnectionsPerAddress) {
      socket.counters.refusedPerAddress++;
      sock.destroy();
      return;
    }
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
