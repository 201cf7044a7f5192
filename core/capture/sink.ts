// Where capture bytes go: a ByteSink. Memory here (the app keeps a capture and saves it on
// request; tests read it back); a file is the I/O layer's FileSink.

/** Receives bytes in order. */
export interface ByteSink {
  /** Appends bytes; the sink may keep the array only until the call returns. */
  write(bytes: Uint8Array): void;
  /** Writes out whatever is buffered. */
  flush(): void;
  /** Flushes and releases the sink; later writes are caller misuse. */
  close(): void;
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
