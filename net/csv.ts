// CSV files written as a run goes: the header first, then one row per call, each written straight
// to the file so that a run that stops or crashes keeps every row written so far.
//
// Rows are written whole or not at all, as far as the file system lets: a row that goes out only
// in part (a full disk takes the first bytes of a write and refuses the rest) is cut off the file
// again, so the file ends with the last whole row. After a failed write the writer takes no more
// rows: a later one would follow a gap.

import { closeSync, fstatSync, ftruncateSync, openSync, writeSync } from 'node:fs';
import { stringify } from 'csv-stringify/sync';

/** A cell: numbers (NaN and infinities become empty cells), strings, booleans or nothing. */
export type Cell = number | string | boolean | null | undefined;

function cell(v: Cell): string | number | boolean {
  if (v === null || v === undefined) return '';
  if (typeof v === 'number') return Number.isFinite(v) ? v : '';
  return v;
}

/** A CSV file that could not be opened or written: the file, and the file system's error (its code: ENOSPC, EROFS, EIO, ...). */
export class CsvWriteError extends Error {
  /** The file system's error code, e.g. ENOSPC. */
  readonly code: string | undefined;

  constructor(
    readonly path: string,
    cause: unknown,
  ) {
    super(`cannot write ${path}: ${(cause as Error).message}`, { cause });
    this.code = (cause as NodeJS.ErrnoException).code;
  }
}

/** Appends rows with fixed columns to a file. */
export class CsvWriter {
  private fd: number | null;
  /** Bytes of whole rows (the header included) in the file. */
  private bytes = 0;
  /** The write that failed; later writes are refused with it. */
  private failed: CsvWriteError | null = null;

  /** Creates (or with `append`, extends) the file and writes the header; throws CsvWriteError when it cannot. */
  constructor(
    readonly path: string,
    readonly columns: readonly string[],
    append = false,
  ) {
    try {
      this.fd = openSync(path, append ? 'a' : 'w');
      if (append) this.bytes = fstatSync(this.fd).size;
    } catch (e) {
      throw new CsvWriteError(path, e);
    }
    if (!append) {
      try {
        this.writeWhole(stringify([columns as string[]]));
      } catch (e) {
        this.close();
        throw e;
      }
    }
  }

  /** Writes one row given as an object keyed by column; throws CsvWriteError (this one's, or the earlier one that stopped the file). */
  write(row: Readonly<Record<string, Cell>>): void {
    if (this.fd === null) throw new Error(`CSV file ${this.path} is closed`);
    if (this.failed !== null) throw this.failed;
    this.writeWhole(stringify([this.columns.map((c) => cell(row[c]))]));
  }

  /** Closes the file (a failed writer too). */
  close(): void {
    if (this.fd !== null) closeSync(this.fd);
    this.fd = null;
  }

  private writeWhole(text: string): void {
    const fd = this.fd!;
    const bytes = Buffer.from(text);
    let done = 0;
    try {
      // A write may take fewer bytes than given (a disk with less room left than the row); the
      // next one then says why.
      while (done < bytes.length) done += writeSync(fd, bytes, done, bytes.length - done);
    } catch (e) {
      if (done > 0) {
        try {
          ftruncateSync(fd, this.bytes);
        } catch {
          // The part stays; readers drop a last row cut off (experiments/runner/store.ts).
        }
      }
      this.failed = new CsvWriteError(this.path, e);
      throw this.failed;
    }
    this.bytes += bytes.length;
  }
}
