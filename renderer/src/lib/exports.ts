// The exports of the run on screen: one CSV of the runs shown (the run and its overlay), one PNG
// per chart, and the dashboard PNG of them all.

import type { LabApi } from '../../../experiments/api/contract.js';
import { Chart, chartColors } from './chartjs.js';
import { chartsOnScreen, dashboardLayout, drawDashboard, type DashboardHeader } from './dashboard.js';
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

/** When a run started, from its id (YYYYMMDD-HHMMSS-...), else now: the dashboard's date. */
export function runDate(runId: string, now: Date = new Date()): string {
  const m = /^(\d{4})(\d{2})(\d{2})-(\d{2})(\d{2})(\d{2})/.exec(runId);
  return m === null ? now.toISOString().slice(0, 19).replace('T', ' ') : `${m[1]}-${m[2]}-${m[3]} ${m[4]}:${m[5]}:${m[6]}`;
}

/**
 * Exports every chart on screen under `root` as one PNG (twice the screen's resolution, the run's
 * title, id, seed and date on top); resolves with the error, or null.
 */
export async function exportDashboardPng(root: HTMLElement, header: DashboardHeader): Promise<string | null> {
  const { charts, canvases } = chartsOnScreen(root);
  if (charts.length === 0) return 'there is no chart on screen to export';
  const scale = 2;
  // Each chart draws itself again at the image's resolution, then goes back to the screen's.
  const drawn = canvases.map((c) => Chart.getChart(c)).filter((c) => c !== undefined);
  try {
    for (const c of drawn) {
      c.options.devicePixelRatio = scale;
      c.resize();
      c.update('none');
    }
    const layout = dashboardLayout(charts, header, scale);
    const colors = chartColors();
    const css = getComputedStyle(document.documentElement);
    const panel = css.getPropertyValue('--panel').trim() || colors.background;
    const image = drawDashboard(layout, { background: colors.background, panel, text: colors.text }, (i, ctx, rect) => ctx.drawImage(canvases[i]!, rect.x, rect.y, rect.width, rect.height));
    return await saveFile('png', `${safeFileName(header.runId)}-dashboard.png`, await canvasPng(image));
  } catch (e) {
    return (e as Error).message;
  } finally {
    for (const c of drawn) {
      c.options.devicePixelRatio = undefined;
      c.resize();
      c.update('none');
    }
  }
}
