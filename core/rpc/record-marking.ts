// Record marking (RFC 5531 section 11): on a byte stream (TCP) each RPC message is a record sent as
// fragments, each preceded by four bytes: the top bit says "last fragment", the other 31 bits give
// the fragment's length. The decoder is sans-IO: bytes in, whole records out. A record may not
// exceed maxRecordBytes, checked on each fragment header before any byte of it is stored, so a
// length field of 2^31 allocates nothing.

/** Top bit of a fragment header: this fragment ends the record. */
export const LAST_FRAGMENT = 0x80000000;

/** Default largest record a decoder accepts (1 MiB). */
export const DEFAULT_MAX_RECORD_BYTES = 1 << 20;

/**
 * Most fragments one record may have. Senders fragment at their buffer size (libtirpc: a few KiB),
 * so a 1 MiB record takes a few hundred; without a bound, a stream of empty fragments would keep a
 * connection busy forever without ever making a record.
 */
export const MAX_FRAGMENTS_PER_RECORD = 1024;

/** Frames one message as a record of one fragment (a new buffer of 4 + length bytes). */
export function frameRecord(message: Uint8Array): Uint8Array {
  const n = message.length;
  if (n > 0x7fffffff) throw new RangeError(`a record fragment holds at most 2^31-1 bytes, not ${n}`);
  const out = new Uint8Array(4 + n);
  const mark = (LAST_FRAGMENT | n) >>> 0;
  out[0] = mark >>> 24;
  out[1] = mark >>> 16;
  out[2] = mark >>> 8;
  out[3] = mark;
  out.set(message, 4);
  return out;
}

/** Reassembles records from stream bytes. */
export class RecordDecoder {
  /** The first framing error (the stream cannot be resynchronised after it), or null. */
  error: string | null = null;
  /** Records completed. */
  records = 0;

  private readonly maxRecordBytes: number;
  private header = 0;
  private headerBytes = 0;
  private fragmentLeft = 0;
  private inFragment = false;
  private lastFragment = false;
  private record: Uint8Array = new Uint8Array(0);
  private recordBytes = 0;
  private fragments = 0;

  constructor(maxRecordBytes = DEFAULT_MAX_RECORD_BYTES) {
    this.maxRecordBytes = maxRecordBytes;
  }

  /** Is a record begun and not finished (a header, a fragment or an earlier fragment received)? */
  get partial(): boolean {
    return this.headerBytes > 0 || this.inFragment || this.fragments > 0;
  }

  /**
   * Consumes stream bytes; `onRecord` gets each complete record (a view valid only during the
   * callback). Returns false once the stream is broken (see `error`); later bytes are ignored.
   */
  push(chunk: Uint8Array, onRecord: (record: Uint8Array) => void): boolean {
    if (this.error !== null) return false;
    let i = 0;
    const n = chunk.length;
    while (i < n) {
      if (!this.inFragment) {
        this.header = ((this.header << 8) | chunk[i++]!) >>> 0;
        if (++this.headerBytes < 4) continue;
        this.headerBytes = 0;
        const len = this.header & 0x7fffffff;
        this.lastFragment = (this.header & LAST_FRAGMENT) !== 0;
        this.header = 0;
        if (this.recordBytes + len > this.maxRecordBytes) {
          this.error = `record of more than ${this.maxRecordBytes} bytes (a fragment of ${len} bytes after ${this.recordBytes})`;
          return false;
        }
        if (++this.fragments > MAX_FRAGMENTS_PER_RECORD) {
          this.error = `record of more than ${MAX_FRAGMENTS_PER_RECORD} fragments`;
          return false;
        }
        if (len === 0 && this.lastFragment && this.recordBytes === 0) {
          // An RPC message is never empty: an empty record is a stream that makes no sense.
          this.error = 'an empty record';
          return false;
        }
        this.fragmentLeft = len;
        this.inFragment = true;
        if (len === 0) this.endFragment(onRecord);
        continue;
      }
      const take = Math.min(this.fragmentLeft, n - i);
      if (this.recordBytes === 0 && take === this.fragmentLeft && this.lastFragment) {
        // The whole record is in this chunk: hand out a view, no copy.
        this.fragmentLeft = 0;
        this.inFragment = false;
        this.fragments = 0;
        this.records++;
        onRecord(chunk.subarray(i, i + take));
        i += take;
        continue;
      }
      this.append(chunk, i, take);
      i += take;
      this.fragmentLeft -= take;
      if (this.fragmentLeft === 0) this.endFragment(onRecord);
    }
    return true;
  }

  private append(chunk: Uint8Array, at: number, n: number): void {
    const need = this.recordBytes + n;
    if (need > this.record.length) {
      let cap = Math.max(256, this.record.length * 2);
      while (cap < need) cap *= 2;
      const next = new Uint8Array(Math.min(cap, this.maxRecordBytes));
      next.set(this.record.subarray(0, this.recordBytes));
      this.record = next;
    }
    this.record.set(chunk.subarray(at, at + n), this.recordBytes);
    this.recordBytes = need;
  }

  private endFragment(onRecord: (record: Uint8Array) => void): void {
    this.inFragment = false;
    if (!this.lastFragment) return;
    this.fragments = 0;
    this.records++;
    const rec = this.record.subarray(0, this.recordBytes);
    this.recordBytes = 0;
    // A big record's buffer is not kept around once it is delivered.
    if (this.record.length > 64 * 1024) this.record = new Uint8Array(0);
    onRecord(rec);
  }
}
