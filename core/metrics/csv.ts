// CSV files written as a run goes: the header first, then one row per call, each written straight
// to the file so that a run that stops or crashes keeps every row written so far.

import { closeSync, openSync, writeSync } from 'node:fs';
import { stringify } from 'csv-stringify/sync';

/** A cell: numbers (NaN and infinities become empty cells), strings, booleans or nothing. */
export type Cell = number | string | boolean | null | undefined;

function cell(v: Cell): string | number | boolean {
  if (v === null || v === undefined) return '';
  if (typeof v === 'number') return Number.isFinite(v) ? v : '';
  return v;
}

/** Appends rows with fixed columns to a file. */
export class CsvWriter {
  private fd: number | null;

  constructor(
    readonly path: string,
    readonly columns: readonly string[],
    append = false,
  ) {
    this.fd = openSync(path, append ? 'a' : 'w');
    if (!append) writeSync(this.fd, stringify([columns as string[]]));
  }

  /** Writes one row given as an object keyed by column. */
  write(row: Readonly<Record<string, Cell>>): void {
    if (this.fd === null) throw new Error(`CSV file ${this.path} is closed`);
    writeSync(this.fd, stringify([this.columns.map((c) => cell(row[c]))]));
  }

  close(): void {
    if (this.fd !== null) closeSync(this.fd);
    this.fd = null;
  }
}
