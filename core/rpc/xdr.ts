// XDR (RFC 4506): the byte layer of ONC RPC. Every item is a multiple of four bytes, big-endian.
//
// XdrWriter encodes into one growable buffer that its owner reuses from message to message. A value
// that does not fit its declared type (a string longer than its maximum, 3.5 as an int) is a caller
// mistake and throws XdrEncodeError naming the field.
//
// XdrReader decodes from a view and never throws on peer input: the first problem (truncated data,
// a length beyond its maximum, a bool that is neither 0 nor 1) is recorded in `error`, reading
// stops, and later reads return zeros. A length is checked against the bytes left before anything
// is allocated, so a length field of 2^31 costs nothing (RFC 4506 (4.10) lengths are unsigned).

/** A value that does not fit its XDR type; thrown by XdrWriter (the caller's mistake, not the peer's). */
export class XdrEncodeError extends RangeError {}

/** Encodes and decodes one XDR type. Decoding reports problems through the reader, never by throwing. */
export interface XdrCodec<T> {
  /** Fewest bytes an encoded value takes (bounds allocations when decoding arrays of it). */
  readonly minBytes: number;
  /** Appends the encoding of `v`; throws XdrEncodeError when `v` does not fit the type. */
  encode(w: XdrWriter, v: T): void;
  /** Reads a value; on bad input sets `r.error` and returns a neutral value (0, empty) that the caller discards once it sees the error. */
  decode(r: XdrReader): T;
}

/** The largest unsigned 32-bit value: the maximum of `string<>`, `opaque<>` and `T<>`. */
export const XDR_UNBOUNDED = 0xffffffff;

/**
 * Optional data and variable-length arrays may nest this deep when decoding (a linked list of this
 * many nodes). Deeper input is rejected instead of exhausting the stack.
 */
export const XDR_MAX_DEPTH = 2000;

/** Most elements of a variable-length array whose element type takes no bytes (see arrayLength). */
export const XDR_MAX_EMPTY_ELEMENTS = 65_536;

const textEncoder = new TextEncoder();
const utf8 = new TextDecoder('utf-8', { fatal: true });

/** A copy of bytes[start, end) as a plain Uint8Array (Buffer.slice would return a view). */
export function copyBytes(bytes: Uint8Array, start: number, end: number): Uint8Array {
  const n = end - start;
  const out = new Uint8Array(n);
  // A loop copies a few bytes faster than set(), which also needs a view of the source.
  if (n <= 64) for (let i = 0; i < n; i++) out[i] = bytes[start + i]!;
  else out.set(bytes.subarray(start, end));
  return out;
}

/**
 * A copy of a whole message for the wire: small copies come from Node's shared buffer pool, so a
 * call or a reply costs no ArrayBuffer of its own (the garbage collector sweeps those one by one).
 */
export function wireCopy(bytes: Uint8Array): Uint8Array {
  const out = Buffer.allocUnsafe(bytes.length);
  out.set(bytes);
  return out;
}

/** Bytes of the slabs a wire writer encodes messages into (as Node's Buffer pool: 8 KiB). */
const WIRE_SLAB_BYTES = 8192;
/** A message starts in a new slab when fewer bytes than this are left in the current one. */
const WIRE_SLAB_MIN_ROOM = 1024;

function pad4(n: number): number {
  return (4 - (n & 3)) & 3;
}

function describe(v: unknown): string {
  if (typeof v === 'string') return JSON.stringify(v.length > 40 ? `${v.slice(0, 40)}...` : v);
  if (typeof v === 'bigint') return `${v}n`;
  if (v instanceof Uint8Array) return `Uint8Array(${v.length})`;
  if (Array.isArray(v)) return `array(${v.length})`;
  if (v === null) return 'null';
  return typeof v === 'object' ? 'an object' : String(v);
}

function bad(what: string, v: unknown, expected: string): never {
  throw new XdrEncodeError(`${what}: ${describe(v)} is not ${expected}`);
}

const MIN_HYPER = -(2n ** 63n);
const MAX_HYPER = 2n ** 63n - 1n;
const MAX_UHYPER = 2n ** 64n - 1n;

/**
 * Encodes XDR into a reusable, growable buffer; or, between beginWire() and endWire(), into
 * shared slabs that are never written twice, so that each message is a view that stays valid.
 */
export class XdrWriter {
  /** The buffer; bytes [start, pos) are the encoding so far (start is 0 outside wire messages). */
  buf: Uint8Array;
  /** Write position in bytes. */
  pos = 0;
  /**
   * Nesting of optional data and non-empty variable-length arrays, counted as XdrReader counts it,
   * so that nothing is encoded that a reader here would refuse as too deep.
   */
  depth = 0;
  private view: DataView;
  // Where the wire message being written starts in buf (0 for ordinary encodings).
  private start = 0;
  // Writing wire messages (beginWire): buffers are slabs, replaced rather than grown.
  private wire = false;

  constructor(initialBytes = 1024) {
    this.buf = new Uint8Array(Math.max(16, initialBytes));
    this.view = new DataView(this.buf.buffer);
  }

  /** Starts a new encoding at offset `at` (bytes before it, such as a record mark, are kept). */
  reset(at = 0): void {
    if (this.wire) {
      // The buffer holds wire messages handed out: ordinary encodings get a buffer of their own.
      this.wire = false;
      this.buf = new Uint8Array(Math.max(1024, 2 * at));
      this.view = new DataView(this.buf.buffer);
    }
    this.start = 0;
    this.pos = at;
    this.depth = 0;
  }

  /**
   * Starts a wire message: it is written after the previous one in the current slab (a new
   * slab when little room is left), and endWire() hands it out.
   */
  beginWire(): void {
    this.wire = true;
    this.depth = 0;
    const at = (this.pos + 7) & ~7;
    if (at + WIRE_SLAB_MIN_ROOM > this.buf.length) {
      this.buf = new Uint8Array(WIRE_SLAB_BYTES);
      this.view = new DataView(this.buf.buffer);
      this.start = 0;
      this.pos = 0;
      return;
    }
    this.start = at;
    this.pos = at;
  }

  /**
   * The wire message written since beginWire(): a view that is never written again (no copy is
   * needed to keep or send it). Small messages share slabs, as Node's Buffer pool shares its.
   */
  endWire(): Uint8Array {
    return this.buf.subarray(this.start, this.pos);
  }

  /** A view of the bytes written so far (valid until the next write or reset). */
  bytes(): Uint8Array {
    return this.buf.subarray(this.start, this.pos);
  }

  /** Makes room for `n` more bytes. */
  ensure(n: number): void {
    const need = this.pos + n;
    if (need <= this.buf.length) return;
    // A new buffer: the old one may hold wire messages handed out, which stay as they are.
    const used = this.pos - this.start;
    let cap = this.wire ? WIRE_SLAB_BYTES : Math.max(16, this.buf.length * 2);
    while (cap < used + n) cap *= 2;
    const next = new Uint8Array(cap);
    next.set(this.buf.subarray(this.start, this.pos));
    this.buf = next;
    this.view = new DataView(next.buffer);
    this.pos = used;
    this.start = 0;
  }

  /** Writes 32 bits without checks (internal use: lengths and words already validated). */
  word(v: number): void {
    if (this.pos + 4 > this.buf.length) this.ensure(4);
    const b = this.buf;
    const p = this.pos;
    b[p] = v >>> 24;
    b[p + 1] = v >>> 16;
    b[p + 2] = v >>> 8;
    b[p + 3] = v;
    this.pos = p + 4;
  }

  /** Overwrites the 32-bit word at byte offset `at` (a length or a record mark written afterwards). */
  patchWord(at: number, v: number): void {
    const b = this.buf;
    b[at] = v >>> 24;
    b[at + 1] = v >>> 16;
    b[at + 2] = v >>> 8;
    b[at + 3] = v;
  }

  /** RFC 4506 (4.1) int: a signed 32-bit integer. */
  int(v: number, what = 'int'): void {
    if ((v | 0) !== v) bad(what, v, 'an int (a whole number from -2^31 to 2^31-1)');
    this.word(v);
  }

  /** RFC 4506 (4.2) unsigned int. */
  uint(v: number, what = 'unsigned int'): void {
    if (v >>> 0 !== v) bad(what, v, 'an unsigned int (a whole number from 0 to 2^32-1)');
    this.word(v);
  }

  /** RFC 4506 (4.3) enum: an int that must be one of the declared values (checked by the caller's codec). */
  enumValue(v: number, valid: boolean, what: string): void {
    if (!valid) bad(what, v, 'a declared value of the enum');
    this.word(v);
  }

  /** RFC 4506 (4.4) bool: an enum of FALSE = 0 and TRUE = 1. */
  bool(v: boolean, what = 'bool'): void {
    if (v !== true && v !== false) bad(what, v, 'a boolean');
    this.word(v ? 1 : 0);
  }

  /** RFC 4506 (4.5) hyper: a signed 64-bit integer. */
  hyper(v: bigint, what = 'hyper'): void {
    if (typeof v !== 'bigint' || v < MIN_HYPER || v > MAX_HYPER) bad(what, v, 'a hyper (a bigint from -2^63 to 2^63-1)');
    this.ensure(8);
    this.view.setBigInt64(this.pos, v);
    this.pos += 8;
  }

  /** RFC 4506 (4.5) unsigned hyper. */
  uhyper(v: bigint, what = 'unsigned hyper'): void {
    if (typeof v !== 'bigint' || v < 0n || v > MAX_UHYPER) bad(what, v, 'an unsigned hyper (a bigint from 0 to 2^64-1)');
    this.ensure(8);
    this.view.setBigUint64(this.pos, v);
    this.pos += 8;
  }

  /** RFC 4506 (4.6) float: IEEE single precision (the value is rounded to it). */
  float(v: number, what = 'float'): void {
    if (typeof v !== 'number') bad(what, v, 'a number');
    this.ensure(4);
    this.view.setFloat32(this.pos, v);
    this.pos += 4;
  }

  /** RFC 4506 (4.7) double: IEEE double precision. */
  double(v: number, what = 'double'): void {
    if (typeof v !== 'number') bad(what, v, 'a number');
    this.ensure(8);
    this.view.setFloat64(this.pos, v);
    this.pos += 8;
  }

  private raw(v: Uint8Array): void {
    const n = v.length;
    const padding = pad4(n);
    this.ensure(n + padding);
    const b = this.buf;
    let p = this.pos;
    if (n <= 32) for (let i = 0; i < n; i++) b[p + i] = v[i]!;
    else b.set(v, p);
    p += n;
    for (let i = 0; i < padding; i++) b[p++] = 0;
    this.pos = p;
  }

  /** RFC 4506 (4.9) fixed-length opaque of exactly `length` bytes, zero-padded to four. */
  fixedOpaque(v: Uint8Array, length: number, what = 'opaque'): void {
    if (!(v instanceof Uint8Array) || v.length !== length) bad(what, v, `a Uint8Array of exactly ${length} bytes`);
    this.raw(v);
  }

  /** RFC 4506 (4.10) variable-length opaque of at most `max` bytes. */
  varOpaque(v: Uint8Array, max: number, what = 'opaque'): void {
    if (!(v instanceof Uint8Array) || v.length > max) bad(what, v, `a Uint8Array of at most ${max} bytes`);
    this.word(v.length);
    this.raw(v);
  }

  /** RFC 4506 (4.11) string of at most `max` bytes (written as UTF-8). */
  string(v: string, max: number, what = 'string'): void {
    if (typeof v !== 'string') bad(what, v, 'a string');
    const n = v.length;
    // ASCII fast path: one byte per character, written straight into the buffer.
    this.ensure(4 + n + 3);
    const b = this.buf;
    const start = this.pos + 4;
    let i = 0;
    for (; i < n; i++) {
      const c = v.charCodeAt(i);
      if (c >= 0x80) break;
      b[start + i] = c;
    }
    let bytes = n;
    if (i < n) {
      this.ensure(4 + n * 3 + 3);
      bytes = textEncoder.encodeInto(v, this.buf.subarray(start, start + n * 3)).written;
    }
    if (bytes > max) bad(what, v, `a string of at most ${max} bytes (it has ${bytes} in UTF-8)`);
    this.word(bytes);
    let p = start + bytes;
    const padding = pad4(bytes);
    for (let k = 0; k < padding; k++) this.buf[p++] = 0;
    this.pos = p;
  }

  /** Length of a variable-length array (RFC 4506 (4.13)): checks it and writes the count. */
  arrayLength(v: readonly unknown[], max: number, what = 'array'): number {
    if (!Array.isArray(v) || v.length > max) bad(what, v, `an array of at most ${max} elements`);
    this.word(v.length);
    return v.length;
  }

  /** Checks a fixed-length array (RFC 4506 (4.12)); nothing is written for its length. */
  fixedArrayLength(v: readonly unknown[], length: number, what = 'array'): number {
    if (!Array.isArray(v) || v.length !== length) bad(what, v, `an array of exactly ${length} elements`);
    return length;
  }

  /** RFC 4506 (4.19) optional data: writes the presence flag and returns whether a value follows. */
  optional(v: unknown): boolean {
    const present = v !== null && v !== undefined;
    this.word(present ? 1 : 0);
    return present;
  }

  /** Counts one level of nesting; throws XdrEncodeError beyond XDR_MAX_DEPTH, where a reader would stop. */
  enter(what: string): void {
    if (++this.depth > XDR_MAX_DEPTH) {
      this.depth = 0;
      throw new XdrEncodeError(`${what}: nested more than ${XDR_MAX_DEPTH} levels deep (readers refuse more)`);
    }
  }

  /** Leaves one level of nesting. */
  leave(): void {
    this.depth--;
  }

  /** Checks that a struct or union value is an object. */
  object(v: unknown, what: string): void {
    if (typeof v !== 'object' || v === null || Array.isArray(v) || v instanceof Uint8Array) bad(what, v, 'an object');
  }
}

const scratch = new DataView(new ArrayBuffer(8));

/** Decodes XDR from a view without throwing; the first problem lands in `error`. */
export class XdrReader {
  /** The bytes being read. */
  buf: Uint8Array = new Uint8Array(0);
  /** Read position in bytes. */
  pos = 0;
  /** End of the readable range (exclusive). */
  end = 0;
  /** The first problem found, or null while everything decoded. */
  error: string | null = null;
  /** Nesting of optional data and variable-length arrays (bounded by XDR_MAX_DEPTH). */
  depth = 0;

  /** Starts reading bytes[start, end). */
  reset(bytes: Uint8Array, start = 0, end = bytes.length): this {
    this.buf = bytes;
    this.pos = start;
    this.end = end;
    this.error = null;
    this.depth = 0;
    return this;
  }

  /** Bytes left to read. */
  get remaining(): number {
    return this.end - this.pos;
  }

  /** Records a problem (the first one wins) and stops reading. */
  fail(message: string): void {
    if (this.error === null) this.error = `${message} (at byte ${this.pos})`;
    this.pos = this.end;
  }

  private short(n: number, what: string): boolean {
    if (this.pos + n <= this.end) return false;
    if (this.error === null) this.fail(`${what}: needs ${n} bytes, ${Math.max(0, this.end - this.pos)} left`);
    return true;
  }

  /** Reads 32 bits as an unsigned number. */
  word(what = 'word'): number {
    if (this.pos + 4 > this.end) {
      this.short(4, what);
      return 0;
    }
    const b = this.buf;
    const p = this.pos;
    this.pos = p + 4;
    return ((b[p]! << 24) | (b[p + 1]! << 16) | (b[p + 2]! << 8) | b[p + 3]!) >>> 0;
  }

  /** RFC 4506 (4.1) int. */
  int(what = 'int'): number {
    return this.word(what) | 0;
  }

  /** RFC 4506 (4.2) unsigned int. */
  uint(what = 'unsigned int'): number {
    return this.word(what);
  }

  /** RFC 4506 (4.4) bool: anything but 0 or 1 is an error. */
  bool(what = 'bool'): boolean {
    const v = this.word(what);
    if (v > 1) this.fail(`${what}: ${v} is not a bool (0 or 1)`);
    return v === 1;
  }

  /** RFC 4506 (4.5) hyper. */
  hyper(what = 'hyper'): bigint {
    if (this.short(8, what)) return 0n;
    const b = this.buf;
    for (let i = 0; i < 8; i++) scratch.setUint8(i, b[this.pos + i]!);
    this.pos += 8;
    return scratch.getBigInt64(0);
  }

  /** RFC 4506 (4.5) unsigned hyper. */
  uhyper(what = 'unsigned hyper'): bigint {
    if (this.short(8, what)) return 0n;
    const b = this.buf;
    for (let i = 0; i < 8; i++) scratch.setUint8(i, b[this.pos + i]!);
    this.pos += 8;
    return scratch.getBigUint64(0);
  }

  /** RFC 4506 (4.6) float. */
  float(what = 'float'): number {
    if (this.short(4, what)) return 0;
    const b = this.buf;
    for (let i = 0; i < 4; i++) scratch.setUint8(i, b[this.pos + i]!);
    this.pos += 4;
    return scratch.getFloat32(0);
  }

  /** RFC 4506 (4.7) double. */
  double(what = 'double'): number {
    if (this.short(8, what)) return 0;
    const b = this.buf;
    for (let i = 0; i < 8; i++) scratch.setUint8(i, b[this.pos + i]!);
    this.pos += 8;
    return scratch.getFloat64(0);
  }

  /** Skips `n` bytes plus padding; returns the start offset or -1 when they are not there. */
  private take(n: number, what: string): number {
    const total = n + pad4(n);
    if (this.short(total, what)) return -1;
    const at = this.pos;
    this.pos += total;
    return at;
  }

  /** RFC 4506 (4.9) fixed-length opaque (a copy). */
  fixedOpaque(length: number, what = 'opaque'): Uint8Array {
    const at = this.take(length, what);
    return at < 0 ? new Uint8Array(0) : copyBytes(this.buf, at, at + length);
  }

  /** RFC 4506 (4.10) variable-length opaque of at most `max` bytes (a copy). */
  varOpaque(max: number, what = 'opaque'): Uint8Array {
    const n = this.length(max, what);
    if (n < 0) return new Uint8Array(0);
    const at = this.take(n, what);
    return at < 0 ? new Uint8Array(0) : copyBytes(this.buf, at, at + n);
  }

  /** Variable-length opaque as a view into the input (no copy; valid while the input is). */
  varOpaqueView(max: number, what = 'opaque'): Uint8Array {
    const n = this.length(max, what);
    if (n < 0) return this.buf.subarray(0, 0);
    const at = this.take(n, what);
    return at < 0 ? this.buf.subarray(0, 0) : this.buf.subarray(at, at + n);
  }

  /** RFC 4506 (4.11) string of at most `max` bytes; bytes that are not UTF-8 are an error. */
  string(max: number, what = 'string'): string {
    const n = this.length(max, what);
    if (n < 0) return '';
    const at = this.take(n, what);
    if (at < 0) return '';
    const b = this.buf;
    if (n <= 64) {
      let ascii = true;
      for (let i = 0; i < n; i++) {
        if (b[at + i]! >= 0x80) {
          ascii = false;
          break;
        }
      }
      if (ascii) return n === 0 ? '' : String.fromCharCode.apply(null, b.subarray(at, at + n) as unknown as number[]);
    }
    try {
      return utf8.decode(b.subarray(at, at + n));
    } catch {
      this.pos = at;
      this.fail(`${what}: the bytes are not UTF-8 text`);
      return '';
    }
  }

  /** Reads a length and checks it against `max` and the bytes left; -1 after an error. */
  private length(max: number, what: string): number {
    const n = this.word(what);
    if (this.error !== null) return -1;
    if (n > max) {
      this.pos -= 4;
      this.fail(`${what}: length ${n} exceeds the maximum of ${max}`);
      return -1;
    }
    return n;
  }

  /**
   * Reads the count of a variable-length array (RFC 4506 (4.13)) and checks it against `max` and
   * against what the remaining bytes could hold with `minElementBytes` each. Returns -1 on error.
   */
  arrayLength(max: number, minElementBytes: number, what = 'array'): number {
    const n = this.length(max, what);
    if (n < 0) return -1;
    if (minElementBytes === 0) {
      // Elements that take no bytes (void, opaque[0], structs of those) are valid XDR in any
      // number, so the bytes left cannot bound the count: a fixed cap does, so that a count of
      // 2^31 never makes 2^31 objects.
      if (n > XDR_MAX_EMPTY_ELEMENTS) {
        this.pos -= 4;
        this.fail(`${what}: ${n} elements of a type that takes no bytes; this decoder accepts at most ${XDR_MAX_EMPTY_ELEMENTS}`);
        return -1;
      }
      return n;
    }
    if (n * minElementBytes > this.end - this.pos) {
      this.pos -= 4;
      this.fail(`${what}: ${n} elements cannot fit in the ${this.end - this.pos - 4} bytes left`);
      return -1;
    }
    return n;
  }

  /** RFC 4506 (4.19) optional data: reads the presence flag; enter() was called when true. */
  optional(what = 'optional'): boolean {
    const present = this.bool(what);
    if (present && !this.enter(what)) return false;
    return present;
  }

  /** Counts one level of nesting; false (and an error) beyond XDR_MAX_DEPTH. */
  enter(what: string): boolean {
    if (++this.depth > XDR_MAX_DEPTH) {
      this.fail(`${what}: nested more than ${XDR_MAX_DEPTH} levels deep`);
      return false;
    }
    return true;
  }

  /** Leaves one level of nesting. */
  leave(): void {
    this.depth--;
  }
}

function codec<T>(minBytes: number, encode: (w: XdrWriter, v: T) => void, decode: (r: XdrReader) => T): XdrCodec<T> {
  return { minBytes, encode, decode };
}

/** XDR void: no bytes. */
export const xdrVoid: XdrCodec<void> = codec(
  0,
  () => {},
  () => undefined,
);
/** XDR int. */
export const xdrInt: XdrCodec<number> = codec(4, (w, v) => w.int(v), (r) => r.int());
/** XDR unsigned int. */
export const xdrUint: XdrCodec<number> = codec(4, (w, v) => w.uint(v), (r) => r.uint());
/** XDR hyper. */
export const xdrHyper: XdrCodec<bigint> = codec(8, (w, v) => w.hyper(v), (r) => r.hyper());
/** XDR unsigned hyper. */
export const xdrUhyper: XdrCodec<bigint> = codec(8, (w, v) => w.uhyper(v), (r) => r.uhyper());
/** XDR bool. */
export const xdrBool: XdrCodec<boolean> = codec(4, (w, v) => w.bool(v), (r) => r.bool());
/** XDR float. */
export const xdrFloat: XdrCodec<number> = codec(4, (w, v) => w.float(v), (r) => r.float());
/** XDR double. */
export const xdrDouble: XdrCodec<number> = codec(8, (w, v) => w.double(v), (r) => r.double());

/** Decodes a whole buffer with a codec; never throws (a stack overflow on hostile input becomes an error too). */
export function decodeAll<T>(c: XdrCodec<T>, bytes: Uint8Array, r: XdrReader = new XdrReader()): { ok: true; value: T } | { ok: false; error: string } {
  r.reset(bytes);
  let value: T;
  try {
    value = c.decode(r);
  } catch (e) {
    return { ok: false, error: `decoding failed: ${(e as Error).message}` };
  }
  if (r.error !== null) return { ok: false, error: r.error };
  if (r.pos !== r.end) return { ok: false, error: `${r.end - r.pos} bytes left over after the value` };
  return { ok: true, value };
}

/** Encodes one value into a new buffer (throws XdrEncodeError when it does not fit the type). */
export function encodeToBytes<T>(c: XdrCodec<T>, v: T, w: XdrWriter = new XdrWriter(256)): Uint8Array {
  w.reset();
  c.encode(w, v);
  return w.bytes().slice();
}
