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
