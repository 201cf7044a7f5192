// Terminal output shared by the commands: JSON lines, a progress line on a TTY, aligned columns.

/** Writes one JSON object as a line on stdout (NaN and infinities become null). */
export function jsonLine(obj: unknown): void {
  process.stdout.write(`${JSON.stringify(obj, (_k, v: unknown) => (typeof v === 'number' && !Number.isFinite(v) ? null : v))}\n`);
}

/** A single status line on stderr, redrawn in place; silent when stderr is not a terminal. */
export class Progress {
  private readonly tty = process.stderr.isTTY === true;
  private shown = false;

  update(text: string): void {
    if (!this.tty) return;
    process.stderr.write(`\r\x1b[2K${text}`);
    this.shown = true;
  }

  clear(): void {
    if (this.tty && this.shown) process.stderr.write('\r\x1b[2K');
    this.shown = false;
  }
}

/** Pads cells to the widths of a header, right-aligned. */
export function row(cells: readonly string[], widths: readonly number[]): string {
  return cells.map((c, i) => c.padStart(widths[i] ?? 0)).join('  ');
}

/** A number with fixed decimals, or '-' when it does not exist. */
export function fmt(v: number, digits = 0): string {
  return Number.isFinite(v) ? v.toFixed(digits) : '-';
}

/**
 * Watches SIGINT/SIGTERM: `signal` aborts and `stopped` resolves on the first (install it before
 * telling the user to press Ctrl-C); a second Ctrl-C exits at once.
 */
export function stopSignal(): { signal: AbortSignal; stopped: Promise<void>; dispose: () => void } {
  const ac = new AbortController();
  const onSignal = () => {
    if (ac.signal.aborted) process.exit(130);
    process.stderr.write('\nstopping (Ctrl-C again to quit at once)\n');
    ac.abort();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  return {
    signal: ac.signal,
    stopped: new Promise<void>((resolve) => ac.signal.addEventListener('abort', () => resolve(), { once: true })),
    dispose: () => {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
    },
  };
}

/** Decimals of seconds that show every multiple of `ms` exactly: 1 for 100 ms, 2 for 250 ms, at most 3 (milliseconds). */
function decimalsFor(ms: number): number {
  for (let d = 1; d < 3; d++) {
    const step = 10 ** (3 - d);
    if (Math.abs(Math.round(ms / step) * step - ms) < 1e-9) return d;
  }
  return 3;
}

/**
 * When the per-interval tables print a row, and what its time says. Rows follow the grid of the
 * print interval: a row closes at the first sample at or past each multiple of it, so an interval
 * that does not divide the print interval neither drifts rows apart nor puts two in one cell.
 * Each row is labelled with the real end of its interval, at the precision the sampling and print
 * intervals need; the run's last, partial row, which ends when the run does (a link delay or so
 * after the last regular sample), gets milliseconds, so it never repeats the row before it.
 */
export class RowClock {
  private readonly everyS: number;
  private readonly decimals: number;
  private nextS: number;
  private lastS = 0;

  constructor(printEveryMs: number, sampleEveryMs: number) {
    this.everyS = printEveryMs / 1000;
    this.nextS = this.everyS;
    this.decimals = Math.max(decimalsFor(printEveryMs), decimalsFor(sampleEveryMs));
  }

  /** Whether the sample at `timeS` closes a row. */
  due(timeS: number): boolean {
    return timeS >= this.nextS - 1e-9;
  }

  /** Whether samples came after the last row, so that a last, partial row is left to print. */
  pending(timeS: number): boolean {
    return timeS > this.lastS;
  }

  /** Seconds the row ending at `timeS` covers. */
  spanS(timeS: number): number {
    return timeS - this.lastS;
  }

  /** Closes the row ending at `timeS` (`last`: the run's last row) and returns its time label. */
  close(timeS: number, last = false): string {
    const scaled = timeS * 10 ** this.decimals;
    const onGrid = Math.abs(scaled - Math.round(scaled)) < 1e-6;
    // A regular row ends at or past the next multiple of the print interval, so at these decimals
    // it never repeats the row before; the last row may end anywhere, so it gets milliseconds.
    const label = `${timeS.toFixed(last && !onGrid ? 3 : this.decimals)} s`;
    this.lastS = timeS;
    this.nextS = (Math.floor(timeS / this.everyS + 1e-9) + 1) * this.everyS;
    return label;
  }
}
