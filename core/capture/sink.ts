// Where capture bytes go: a file (buffered, written synchronously so that the run's own timing is
// not at the mercy of a stream's back-pressure) or memory (the app keeps a capture and saves it on
// request; tests read it back).

import { closeSync, openSync, writeSync } from 'node:fs';

/** Receives bytes in order. */
export interface ByteSink {
  /** Appends bytes; the sink may keep the array only until the call returns. */
  write(bytes: Uint8Array): void;
  /** Writes out whatever is buffered. */
  flush(): void;
  /** Flushes and releases the sink; later writes are caller misuse. */
  close(): void;
}

const FILE_BUFFER_BYTES = 64 * 1024;

/** A file written through a 64 KiB buffer. */
export class FileSink implements ByteSink {
  private fd: number | null;
  private readonly buf = new Uint8Array(FILE_BUFFER_BYTES);
  private used = 0;

  /** Creates (or truncates) the file at `path`; throws the file system's error when it cannot. */
  constructor(readonly path: string) {
    this.fd = openSync(path, 'w');
  }

  write(bytes: Uint8Array): void {
    if (this.fd === null) throw new Error(`${this.path} is closed`);
    if (this.used + bytes.length > this.buf.length) {
      this.flush();
      if (bytes.length > this.buf.length) {
        writeAll(this.fd, bytes);
        return;
      }
    }
    this.buf.set(bytes, this.used);
    this.used += bytes.length;
  }

  flush(): void {
    if (this.fd === null || this.used === 0) return;
    writeAll(this.fd, this.buf.subarray(0, this.used));
    this.used = 0;
  }

  close(): void {
    if (this.fd === null) return;
    this.flush();
    closeSync(this.fd);
    this.fd = null;
  }
}

function writeAll(fd: number, bytes: Uint8Array): void {
  let off = 0;
  while (off < bytes.length) off += writeSync(fd, bytes, off, bytes.length - off);
}

/** Keeps everything in memory. */
export class MemorySink implements ByteSink {
  private chunks: Uint8Array[] = [];
  private total = 0;

  write(bytes: Uint8Array): void {
    this.chunks.push(bytes.slice());
    this.total += bytes.length;
  }

  flush(): void {}

  close(): void {}

  /** Bytes written so far. */
  get length(): number {
    return this.total;
  }

  /** Everything written so far, as one array. */
  bytes(): Uint8Array {
    if (this.chunks.length !== 1) {
      const out = new Uint8Array(this.total);
      let at = 0;
      for (const c of this.chunks) {
        out.set(c, at);
        at += c.length;
      }
      this.chunks = [out];
    }
    return this.chunks[0] ?? new Uint8Array(0);
  }

  /** Everything written so far, as UTF-8 text (for the packet log). */
  text(): string {
    return new TextDecoder().decode(this.bytes());
  }
}
