// Polls a condition until it holds, for tests that wait on another process, a socket or a page.

/**
 * Resolves once `pred` is true; rejects naming `what` after `ms` milliseconds. Polls every
 * `everyMs` (a condition that asks a browser page is worth polling less often). `what` may be a
 * function, read only on a timeout, to say what was seen instead (a child's output so far).
 */
export async function until(what: string | (() => string), pred: () => boolean | Promise<boolean>, ms = 5000, everyMs = 20): Promise<void> {
  const end = Date.now() + ms;
  while (!(await pred())) {
    if (Date.now() > end) throw new Error(`timed out after ${ms} ms waiting for ${typeof what === 'string' ? what : what()}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}
