// The workload kinds, by name: what the runner, the CLI, the app's parameter panel and the docs
// loop over. A new kind is a module beside these and one entry here.

import type { WorkloadKind } from '../knobs.js';
import type { WorkloadModule } from './kind.js';
import { bulkWorkload, messagesWorkload } from './transfer.js';
import { streamWorkload } from './stream.js';
import { rpcWorkload } from './rpc.js';
import { flowsWorkload } from './flows.js';

/** Every workload kind's module. */
export const WORKLOADS: Readonly<Record<WorkloadKind, WorkloadModule>> = {
  bulk: bulkWorkload,
  messages: messagesWorkload,
  'udp-stream': streamWorkload,
  rpc: rpcWorkload,
  flows: flowsWorkload,
};

/** The kinds that read a workload knob (every kind for `kind` itself). */
export function kindsUsing(knobKey: string): WorkloadKind[] {
  return (Object.values(WORKLOADS) as WorkloadModule[]).filter((w) => knobKey === 'kind' || (w.knobs as readonly string[]).includes(knobKey)).map((w) => w.kind);
}
