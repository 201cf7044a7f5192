// The replication protocol's messages, bytes and meaning apart (STYLE.md): replicas ping the view
// service and learn the view from it, the primary forwards each write (the new state of what it
// changed, and optionally its duplicate request cache entry) to the backups, which acknowledge it,
// and a backup that joins or falls behind gets the whole state in a snapshot. Every message starts
// with a magic word and a type; parsing never throws on peer input: it returns null. Before
// answering a read the primary asks its backups to confirm that it still is their primary.

/** "PLRP": Packet Lab replication protocol. */
export const REPL_MAGIC = 0x504c5250;

/** Message types. */
export const ReplType = { PING: 1, VIEW: 2, WRITE: 3, ACK: 4, SNAPSHOT: 5, RESYNC: 6, CONFIRM: 7, CONFIRMED: 8 } as const;

/** What a write changed: the counter's new value, or a key's new entry. */
export type ReplOp = { kind: 'counter'; value: bigint } | { kind: 'kv'; key: string; value: Uint8Array; revision: bigint };

/** The duplicate request cache entry of a write: its key and the reply the primary sent. */
export interface ReplDrcEntry {
  client: number;
  xid: number;
  prog: number;
  vers: number;
  proc: number;
  reply: Uint8Array;
}

/** A key's entry in a snapshot. */
export interface ReplKvEntry {
  key: string;
  value: Uint8Array;
  revision: bigint;
}

/** One message of the replication protocol. */
export type ReplMessage =
  /** Replica to view service: alive, and the view number it has (0 after a restart). */
  | { type: typeof ReplType.PING; viewnum: number }
  /** View service to replica: the current view (primary -1: none; backups a bit per replica). */
  | { type: typeof ReplType.VIEW; viewnum: number; primary: number; backups: number }
  /** Primary to backup: write number seq and what it changed. */
  | { type: typeof ReplType.WRITE; viewnum: number; seq: number; op: ReplOp; drc: ReplDrcEntry | null }
  /** Backup to primary: it holds every write up to seq. */
  | { type: typeof ReplType.ACK; viewnum: number; seq: number }
  /** Primary to backup: the whole state, as of write seq. */
  | { type: typeof ReplType.SNAPSHOT; viewnum: number; seq: number; counter: bigint; kv: ReplKvEntry[] }
  /** Backup to primary: it missed a write and needs a snapshot. */
  | { type: typeof ReplType.RESYNC; viewnum: number }
  /** Primary to backup: are you still my backup in this view? (round `seq`, before answering a read) */
  | { type: typeof ReplType.CONFIRM; viewnum: number; seq: number }
  /** Backup to primary: yes, for round `seq`. */
  | { type: typeof ReplType.CONFIRMED; viewnum: number; seq: number };

const enc = new TextEncoder();
const dec = new TextDecoder('utf-8', { fatal: true });

class Out {
  private buf = new Uint8Array(256);
  private view = new DataView(this.buf.buffer);
  n = 0;
  private room(k: number): void {
    if (this.n + k <= this.buf.length) return;
    const b = new Uint8Array(Math.max(this.buf.length * 2, this.n + k));
    b.set(this.buf.subarray(0, this.n));
    this.buf = b;
    this.view = new DataView(b.buffer);
  }
  u8(v: number): void {
    this.room(1);
    this.view.setUint8(this.n, v);
    this.n += 1;
  }
  u32(v: number): void {
    this.room(4);
    this.view.setUint32(this.n, v >>> 0);
    this.n += 4;
  }
  i32(v: number): void {
    this.room(4);
    this.view.setInt32(this.n, v);
    this.n += 4;
  }
  i64(v: bigint): void {
    this.room(8);
    this.view.setBigInt64(this.n, v);
    this.n += 8;
  }
  u64(v: bigint): void {
    this.room(8);
    this.view.setBigUint64(this.n, v);
    this.n += 8;
  }
  bytes(b: Uint8Array): void {
    this.u32(b.length);
    this.room(b.length);
    this.buf.set(b, this.n);
    this.n += b.length;
  }
  done(): Uint8Array {
    return this.buf.slice(0, this.n);
  }
}

/** Encodes a message (a fresh array: the replica queues it). */
export function emitRepl(m: ReplMessage): Uint8Array {
  const o = new Out();
  o.u32(REPL_MAGIC);
  o.u8(m.type);
  o.u32(m.viewnum);
  switch (m.type) {
    case ReplType.PING:
    case ReplType.RESYNC:
      break;
    case ReplType.VIEW:
      o.i32(m.primary);
      o.u32(m.backups);
      break;
    case ReplType.ACK:
    case ReplType.CONFIRM:
    case ReplType.CONFIRMED:
      o.u32(m.seq);
      break;
    case ReplType.WRITE:
      o.u32(m.seq);
      if (m.op.kind === 'counter') {
        o.u8(1);
        o.i64(m.op.value);
      } else {
        o.u8(2);
        o.bytes(enc.encode(m.op.key));
        o.bytes(m.op.value);
        o.u64(m.op.revision);
      }
      if (m.drc === null) o.u8(0);
      else {
        o.u8(1);
        o.u32(m.drc.client);
        o.u32(m.drc.xid);
        o.u32(m.drc.prog);
        o.u32(m.drc.vers);
        o.u32(m.drc.proc);
        o.bytes(m.drc.reply);
      }
      break;
    case ReplType.SNAPSHOT:
      o.u32(m.seq);
      o.i64(m.counter);
      o.u32(m.kv.length);
      for (const e of m.kv) {
        o.bytes(enc.encode(e.key));
        o.bytes(e.value);
        o.u64(e.revision);
      }
      break;
  }
  return o.done();
}

class In {
  private readonly view: DataView;
  at = 0;
  bad = false;
  constructor(private readonly b: Uint8Array) {
    this.view = new DataView(b.buffer, b.byteOffset, b.byteLength);
  }
  private has(k: number): boolean {
    if (this.bad || this.at + k > this.b.length) {
      this.bad = true;
      return false;
    }
    return true;
  }
  u8(): number {
    if (!this.has(1)) return 0;
    return this.view.getUint8(this.at++);
  }
  u32(): number {
    if (!this.has(4)) return 0;
    const v = this.view.getUint32(this.at);
    this.at += 4;
    return v;
  }
  i32(): number {
    if (!this.has(4)) return 0;
    const v = this.view.getInt32(this.at);
    this.at += 4;
    return v;
  }
  i64(): bigint {
    if (!this.has(8)) return 0n;
    const v = this.view.getBigInt64(this.at);
    this.at += 8;
    return v;
  }
  u64(): bigint {
    if (!this.has(8)) return 0n;
    const v = this.view.getBigUint64(this.at);
    this.at += 8;
    return v;
  }
  bytes(): Uint8Array {
    const n = this.u32();
    if (!this.has(n)) return new Uint8Array(0);
    const v = this.b.slice(this.at, this.at + n);
    this.at += n;
    return v;
  }
  text(): string {
    const b = this.bytes();
    try {
      return dec.decode(b);
    } catch {
      this.bad = true;
      return '';
    }
  }
}

/** Parses a message; null when it is not a well-formed one (the caller drops and counts it). */
export function parseRepl(b: Uint8Array): ReplMessage | null {
  const r = new In(b);
  if (r.u32() !== REPL_MAGIC) return null;
  const type = r.u8();
  const viewnum = r.u32();
  let m: ReplMessage | null = null;
  switch (type) {
    case ReplType.PING:
      m = { type, viewnum };
      break;
    case ReplType.RESYNC:
      m = { type, viewnum };
      break;
    case ReplType.VIEW:
      m = { type, viewnum, primary: r.i32(), backups: r.u32() };
      break;
    case ReplType.ACK:
    case ReplType.CONFIRM:
    case ReplType.CONFIRMED:
      m = { type, viewnum, seq: r.u32() };
      break;
    case ReplType.WRITE: {
      const seq = r.u32();
      const kind = r.u8();
      let op: ReplOp;
      if (kind === 1) op = { kind: 'counter', value: r.i64() };
      else if (kind === 2) op = { kind: 'kv', key: r.text(), value: r.bytes(), revision: r.u64() };
      else return null;
      const hasDrc = r.u8();
      let drc: ReplDrcEntry | null = null;
      if (hasDrc === 1) drc = { client: r.u32(), xid: r.u32(), prog: r.u32(), vers: r.u32(), proc: r.u32(), reply: r.bytes() };
      else if (hasDrc !== 0) return null;
      m = { type, viewnum, seq, op, drc };
      break;
    }
    case ReplType.SNAPSHOT: {
      const seq = r.u32();
      const counter = r.i64();
      const n = r.u32();
      // Each entry takes at least 16 bytes: a count the datagram cannot hold is refused before anything is allocated.
      if (n * 16 > b.length) return null;
      const kv: ReplKvEntry[] = [];
      for (let i = 0; i < n && !r.bad; i++) kv.push({ key: r.text(), value: r.bytes(), revision: r.u64() });
      m = { type, viewnum, seq, counter, kv };
      break;
    }
    default:
      return null;
  }
  return r.bad || r.at !== b.length ? null : m;
}
