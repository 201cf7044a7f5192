// A fake lab for the renderer's tests: it answers each API method as the test says (an error for
// the others), records the calls, and pushes run batches on demand.

import { flushSync } from 'svelte';
import type { LabApi, Result, RunBatch } from '../../experiments/api/contract.js';

/** How the fake answers each method, by name. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type Answers = Record<string, (params: any) => Result<unknown>>;

/** A fake LabApi with its recorded calls and a way to push run batches to its listener. */
export function fakeApi(answers: Answers) {
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  const calls: { method: string; params: any }[] = [];
  let listener: ((b: RunBatch) => void) | null = null;
  const api = new Proxy({} as Record<string, unknown>, {
    get(_t, method: string) {
      if (method === 'onRunBatch') return (l: (b: RunBatch) => void) => ((listener = l), () => (listener = null));
      return async (params: unknown) => {
        calls.push({ method, params });
        return answers[method]?.(params) ?? { ok: false, error: `${method}: not in the fake` };
      };
    },
  }) as unknown as LabApi;
  return { api, calls, push: (b: RunBatch) => listener?.(b), methods: () => calls.map((c) => c.method) };
}

/** Lets pending promises and Svelte updates run. */
export async function settle(): Promise<void> {
  for (let i = 0; i < 5; i++) {
    await new Promise((r) => setTimeout(r, 0));
    flushSync();
  }
}
