// A small Chart.js plugin that draws each live knob change as a dashed vertical line at its time,
// labelled "knob: before → after" (no annotation dependency). The markers array is read at every
// draw, so pushing to it in place and redrawing is enough.

import type { Chart, Plugin } from 'chart.js';
import type { KnobMarker } from './run-data.js';

/** Options of the plugin (under options.plugins.knobMarkers). */
export interface KnobMarkerOptions {
  markers: readonly KnobMarker[];
  /** Markers of an overlaid run, drawn lighter. */
  overlay?: readonly KnobMarker[];
  color: string;
  textColor: string;
  font: string;
}

declare module 'chart.js' {
  interface PluginOptionsByType<TType extends import('chart.js').ChartType> {
    knobMarkers?: Partial<KnobMarkerOptions>;
  }
}

/** Where a marker's line and label go, in canvas pixels (null when outside the x range). */
export interface MarkerPlacement {
  x: number;
  labelY: number;
  label: string;
  /** The change's first figure before and after ("Goodput 1.47 Mbit/s → 5.89 Mbit/s"), drawn under the label. */
  effect: string | null;
}

/** Places the markers within the chart area; labels are staggered so that neighbours do not overlap. */
export function placeMarkers(markers: readonly KnobMarker[], xPixel: (timeS: number) => number, area: { left: number; right: number; top: number; bottom: number }, lineHeight: number): MarkerPlacement[] {
  const out: MarkerPlacement[] = [];
  const rows = Math.max(1, Math.floor((area.bottom - area.top) / lineHeight) - 1);
  let row = 0;
  let lastX = -Infinity;
  for (const m of markers) {
    const x = xPixel(m.timeS);
    if (!Number.isFinite(x) || x < area.left - 0.5 || x > area.right + 0.5) continue;
    // A label closer than ~120 px to the previous one goes one line lower.
    row = x - lastX < 120 ? (row + 1) % rows : 0;
    lastX = x;
    out.push({ x, labelY: area.top + lineHeight * (row + 1), label: m.label, effect: m.effect === null ? null : m.effect.split('; ')[0]!.replace(/ \(.*\)$/, '') });
  }
  return out;
}

function draw(chart: Chart<'line'>, markers: readonly KnobMarker[], o: Partial<KnobMarkerOptions>, faint: boolean): void {
  const scale = chart.scales.x;
  if (scale === undefined || markers.length === 0) return;
  const { ctx, chartArea } = chart;
  // A label with its effect under it takes two lines.
  const places = placeMarkers(markers, (t) => scale.getPixelForValue(t), chartArea, markers.some((m) => m.effect !== null) ? 26 : 14);
  ctx.save();
  ctx.globalAlpha = faint ? 0.45 : 1;
  ctx.strokeStyle = o.color ?? '#c2410c';
  ctx.lineWidth = 1.5;
  ctx.setLineDash([4, 3]);
  ctx.font = o.font ?? '11px system-ui, sans-serif';
  ctx.textBaseline = 'bottom';
  for (const p of places) {
    ctx.beginPath();
    ctx.moveTo(p.x, chartArea.top);
    ctx.lineTo(p.x, chartArea.bottom);
    ctx.stroke();
    // A small flag at the top marks the line even where labels are crowded.
    ctx.fillStyle = o.color ?? '#c2410c';
    ctx.fillRect(p.x - 3, chartArea.top, 6, 4);
    const w = ctx.measureText(p.label).width;
    const right = p.x + 4 + w <= chartArea.right;
    ctx.textAlign = right ? 'left' : 'right';
    ctx.fillStyle = o.textColor ?? o.color ?? '#c2410c';
    ctx.fillText(p.label, right ? p.x + 4 : p.x - 4, p.labelY);
    if (p.effect !== null) {
      const rightEffect = p.x + 4 + ctx.measureText(p.effect).width <= chartArea.right;
      ctx.textAlign = rightEffect ? 'left' : 'right';
      ctx.fillText(p.effect, rightEffect ? p.x + 4 : p.x - 4, p.labelY + 12);
    }
  }
  ctx.restore();
}

/** The plugin; register it per chart (plugins: [knobMarkerPlugin]). */
export const knobMarkerPlugin: Plugin<'line'> = {
  id: 'knobMarkers',
  afterDatasetsDraw(chart, _args, options: Partial<KnobMarkerOptions>) {
    if (options.overlay !== undefined) draw(chart, options.overlay, options, true);
    draw(chart, options.markers ?? [], options, false);
  },
};
