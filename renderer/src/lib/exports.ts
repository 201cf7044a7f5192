// The exports of the run on screen: one CSV of the runs shown (the run and its overlay), and one
// PNG per chart.

import type { LabApi } from '../../../experiments/api/contract.js';
import { registeredCharts } from './chart-registry.js';
import { canvasPng, safeFileName, saveFile } from './download.js';

/** Exports the samples of runs as one CSV file; resolves with the error, or null. */
export async function exportRunsCsv(api: LabApi, runIds: string[], which: 'samples' | 'summary' = 'samples'): Promise<string | null> {
  if (runIds.length === 0) return 'no run to export yet';
  const r = await api.exportCsv({ runIds, which });
  if (!r.ok) return r.error;
  return saveFile('csv', r.value.fileName, r.value.csv);
}

/** Exports every chart on screen as a PNG named after the run; resolves with the error, or null. */
export async function exportChartsPng(base: string): Promise<string | null> {
  try {
    for (const c of registeredCharts()) {
      const error = await saveFile('png', `${safeFileName(base)}-${safeFileName(c.id)}.png`, await canvasPng(c.canvas));
      if (error !== null) return error;
    }
    return null;
  } catch (e) {
    return (e as Error).message;
  }
}
