// A run store with a run started against a fake lab, which most renderer tests begin with. Named
// renderer-* because RunStore is a Svelte runes module: the renderer's tsconfig (the one with DOM
// types) checks it, and only the renderer's test project can run it.

import { expect } from 'vitest';
import type { RunBatch } from '../../experiments/api/contract.js';
import { fakeApi, type Answers } from './fake-api.js';
import { RunStore } from '../../renderer/src/stores/run.svelte.js';

/** The id the fake's startRun gives the run; the batches a test pushes carry it. */
export const STARTED_RUN_ID = 'run-1';

/** A batch of the started run (STARTED_RUN_ID) with no samples, events or packets; `b` adds to it or replaces any part. */
export function batch(b: Partial<RunBatch> = {}): RunBatch {
  return { runId: STARTED_RUN_ID, samples: [], events: [], packets: [], ...b };
}

/** The options of RunStore.start. */
type StartOptions = Parameters<RunStore['start']>[1];

/**
 * A fake lab (answering `answers`, and startRun with STARTED_RUN_ID) and a run store that has
 * started `specText` on it with `options`; fails the test when the store refuses to start.
 */
export async function startedRun(specText: string, answers: Answers = {}, options?: StartOptions): Promise<{ fake: ReturnType<typeof fakeApi>; run: RunStore }> {
  const fake = fakeApi({ startRun: () => ({ ok: true, value: { runId: STARTED_RUN_ID } }), ...answers });
  const run = new RunStore(fake.api);
  expect(await run.start(specText, options)).toBe(true);
  return { fake, run };
}
