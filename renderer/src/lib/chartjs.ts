// Chart.js with only the parts the lab uses (tree-shaken), the decimation plugin included, the
// theme's colours, and the options every live chart shares.

import { Chart, Decimation, Legend, LinearScale, LineController, LineElement, PointElement, ScatterController, Tooltip, type ChartOptions, type Plugin } from 'chart.js';

Chart.register(LineController, ScatterController, LineElement, PointElement, LinearScale, Legend, Tooltip, Decimation);

export { Chart };

/** Colours read from the CSS custom properties of the theme. */
export interface ChartColors {
  text: string;
  muted: string;
  grid: string;
  background: string;
  marker: string;
  palette: string[];
}

const FALLBACK: ChartColors = {
  text: '#1f2328',
  muted: '#59636e',
  grid: 'rgba(0,0,0,0.1)',
  background: '#ffffff',
  marker: '#c2410c',
  palette: ['#2563eb', '#16a34a', '#dc2626', '#9333ea', '#d97706', '#0891b2', '#db2777', '#65a30d', '#4b5563', '#7c3aed'],
};

/** The theme's chart colours (from :root's --chart-* properties). */
export function chartColors(el: Element | null = typeof document === 'undefined' ? null : document.documentElement): ChartColors {
  if (el === null || typeof getComputedStyle !== 'function') return FALLBACK;
  const css = getComputedStyle(el);
  const v = (name: string, d: string) => css.getPropertyValue(name).trim() || d;
  const palette = FALLBACK.palette.map((d, i) => v(`--chart-${i + 1}`, d));
  return { text: v('--fg', FALLBACK.text), muted: v('--muted', FALLBACK.muted), grid: v('--grid', FALLBACK.grid), background: v('--chart-bg', FALLBACK.background), marker: v('--marker', FALLBACK.marker), palette };
}

/** Fills the canvas with the theme's background, so that exported PNGs are readable. */
export const backgroundPlugin: Plugin<'line'> = {
  id: 'background',
  beforeDraw(chart, _args, options: { color?: string }) {
    if (options.color === undefined) return;
    const { ctx, width, height } = chart;
    ctx.save();
    ctx.fillStyle = options.color;
    ctx.fillRect(0, 0, width, height);
    ctx.restore();
  },
};

const PREFIXES = [
  [1e12, 'T'],
  [1e9, 'G'],
  [1e6, 'M'],
  [1e3, 'k'],
] as const;

/** Units of things counted one by one. */
const COUNTED: ReadonlySet<string> = new Set(['count', 'packets', 'datagrams', 'messages', 'calls', 'requests']);

/** A number with an SI prefix and its unit, as an axis tick reads: 1.2 Gbit/s, 64 kbytes, 70k, 250 ms. */
export function siText(v: number, unit: string | null): string {
  // Times keep their unit (60000 ms, not 60 kms); counts and ratios have none.
  if (unit === 'ms' || unit === 's') return `${Number(v.toPrecision(4))} ${unit}`;
  const abs = Math.abs(v);
  let scaled = v;
  let prefix = '';
  for (const [d, p] of PREFIXES) {
    if (abs >= d) {
      scaled = v / d;
      prefix = p;
      break;
    }
  }
  const n = Number(scaled.toPrecision(3));
  const plain = unit === null || unit === 'count' || unit === 'ratio' || unit === '0/1';
  return plain ? `${n}${prefix}` : `${n} ${prefix}${unit}`;
}

/** Options of a live line chart: no parsing, no animation, LTTB decimation, sorted x. */
export function liveChartOptions(yTitle: string, colors: ChartColors, unit: string | null = null): ChartOptions<'line'> {
  return {
    parsing: false,
    normalized: true,
    animation: false,
    responsive: true,
    maintainAspectRatio: false,
    spanGaps: true,
    interaction: { mode: 'nearest', axis: 'x', intersect: false },
    elements: { point: { radius: 0, hitRadius: 4 }, line: { borderWidth: 1.5, tension: 0 } },
    scales: {
      x: { type: 'linear', min: 0, title: { display: true, text: 'time (s)', color: colors.muted }, ticks: { color: colors.muted, maxRotation: 0 }, grid: { color: colors.grid } },
      // SI prefixes on the ticks (1.2 Gbit/s, not 1,200,000,000).
      // Whole numbers for what is counted (no "0.5 datagrams").
      y: { type: 'linear', beginAtZero: true, title: { display: true, text: yTitle, color: colors.muted }, ticks: { color: colors.muted, callback: (v) => siText(Number(v), unit), ...(unit !== null && COUNTED.has(unit) ? { precision: 0 } : {}) }, grid: { color: colors.grid } },
    },
    plugins: {
      decimation: { enabled: true, algorithm: 'lttb', samples: 600, threshold: 1200 },
      legend: {
        position: 'bottom',
        labels: { color: colors.text, boxWidth: 12, filter: (item, data) => (data.datasets[item.datasetIndex ?? 0]?.data.length ?? 0) > 0 },
      },
      tooltip: { enabled: true },
    },
  };
}
