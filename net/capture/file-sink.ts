// A capture file: bytes through a 64 KiB buffer, written synchronously so that the run's own timing
// is not at the mercy of a stream's back-pressure.

import { closeSync, openSync, writeSync } from 'node:fs';
import type { ByteSink } from '../../core/capture/sink.js';

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

