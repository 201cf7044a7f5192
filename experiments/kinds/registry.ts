// The workload kinds, by name: what the runner, the CLI, the app's parameter panel and the docs
// loop over. A new kind is a module beside these and one entry here.

import type { KnobSection, WorkloadKind } from '../knobs.js';
import type { WorkloadModule } from './kind.js';
import { bulkWorkload, messagesWorkload } from './transfer.js';
import { streamWorkload } from './stream.js';
import { rpcWorkload } from './rpc.js';
import { flowsWorkload } from './flows.js';
import { replicasWorkload } from './replicas.js';

/** Every workload kind's module. */
export const WORKLOADS: Readonly<Record<WorkloadKind, WorkloadModule>> = {
  bulk: bulkWorkload,
  messages: messagesWorkload,
  'udp-stream': streamWorkload,
  rpc: rpcWorkload,
  flows: flowsWorkload,
  'rpc-replicas': replicasWorkload,
};

/** The kinds that read a knob: a workload knob by its key (every kind for `kind` itself), another by its section. */
export function kindsUsing(section: KnobSection, knobKey: string): WorkloadKind[] {
  const reads = (w: WorkloadModule) => (section === 'workload' ? knobKey === 'kind' || (w.knobs as readonly string[]).includes(knobKey) : (w.sections as readonly string[]).includes(section));
  return (Object.values(WORKLOADS) as WorkloadModule[]).filter(reads).map((w) => w.kind);
}
