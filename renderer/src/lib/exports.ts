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

/** Where a chart's PNG button saves it: the run's name for the file, and who hears of an error. */
export interface ChartPng {
  fileBase: string;
  onerror: (message: string) => void;
}

/** Exports one chart's canvas as a PNG named after the run and the chart; resolves with the error, or null. */
export async function exportChartPng(base: string, id: string, canvas: HTMLCanvasElement): Promise<string | null> {
  try {
    return await saveFile('png', `${safeFileName(base)}-${safeFileName(id)}.png`, await canvasPng(canvas));
  } catch (e) {
    return (e as Error).message;
  }
}

/** Exports every chart on screen as a PNG named after the run; resolves with the first error, or null. */
export async function exportChartsPng(base: string): Promise<string | null> {
  for (const c of registeredCharts()) {
    const error = await exportChartPng(base, c.id, c.canvas);
    if (error !== null) return error;
  }
  return null;
}
