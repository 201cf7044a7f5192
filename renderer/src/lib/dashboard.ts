// The dashboard PNG: every chart on screen in one image, laid out as the page shows them, at twice
// the resolution, under a header with the experiment's title, the run id, the seed and the date.
// The layout is a plain list of drawing steps (tested on its own); drawing it needs a real canvas.

/** What the page shows of one chart. */
export interface ChartOnScreen {
  title: string;
  /** Position of the chart's figure, its canvas and its legend, in page pixels relative to the charts' area. */
  frame: Rect;
  canvas: Rect;
  legend: { text: string; color: string; x: number; y: number }[];
}

/** A rectangle, px. */
export interface Rect {
  x: number;
  y: number;
  width: number;
  height: number;
}

/** The header of the image. */
export interface DashboardHeader {
  title: string;
  runId: string;
  seed: number | null;
  date: string;
}

/** One drawing step, in image pixels. */
export type DrawStep =
  | { kind: 'fill'; rect: Rect; color: 'background' | 'panel' }
  | { kind: 'text'; text: string; x: number; y: number; size: number; bold: boolean; color: string | null }
  | { kind: 'chart'; index: number; rect: Rect };

/** Height of the header, page px. */
const HEADER = 56;
const PAD = 12;

/** The image's size and drawing steps for these charts, at `scale` image pixels per page pixel. */
export function dashboardLayout(charts: readonly ChartOnScreen[], header: DashboardHeader, scale = 2): { width: number; height: number; steps: DrawStep[] } {
  const right = Math.max(480, ...charts.map((c) => c.frame.x + c.frame.width));
  const bottom = Math.max(0, ...charts.map((c) => c.frame.y + c.frame.height));
  const width = Math.ceil((right + 2 * PAD) * scale);
  const height = Math.ceil((bottom + HEADER + 2 * PAD) * scale);
  const at = (x: number, y: number) => ({ x: (x + PAD) * scale, y: (y + PAD + HEADER) * scale });
  const steps: DrawStep[] = [{ kind: 'fill', rect: { x: 0, y: 0, width, height }, color: 'background' }];
  steps.push({ kind: 'text', text: header.title, x: PAD * scale, y: (PAD + 20) * scale, size: 18 * scale, bold: true, color: null });
  const facts = [`run ${header.runId}`, header.seed === null ? null : `seed ${header.seed}`, header.date].filter((x) => x !== null).join(' · ');
  steps.push({ kind: 'text', text: facts, x: PAD * scale, y: (PAD + 42) * scale, size: 12 * scale, bold: false, color: null });
  charts.forEach((c, index) => {
    const f = at(c.frame.x, c.frame.y);
    steps.push({ kind: 'fill', rect: { ...f, width: c.frame.width * scale, height: c.frame.height * scale }, color: 'panel' });
    steps.push({ kind: 'text', text: c.title, x: f.x + 8 * scale, y: f.y + 18 * scale, size: 13 * scale, bold: true, color: null });
    const p = at(c.canvas.x, c.canvas.y);
    steps.push({ kind: 'chart', index, rect: { ...p, width: c.canvas.width * scale, height: c.canvas.height * scale } });
    for (const l of c.legend) {
      const q = at(l.x, l.y);
      steps.push({ kind: 'text', text: `■ ${l.text}`, x: q.x, y: q.y + 12 * scale, size: 11 * scale, bold: false, color: l.color });
    }
  });
  return { width, height, steps };
}

/** The charts of the page under `root` as the dashboard sees them (visible ones only). */
export function chartsOnScreen(root: HTMLElement): { charts: ChartOnScreen[]; canvases: HTMLCanvasElement[] } {
  const base = root.getBoundingClientRect();
  const rel = (r: DOMRect): Rect => ({ x: r.left - base.left, y: r.top - base.top, width: r.width, height: r.height });
  const charts: ChartOnScreen[] = [];
  const canvases: HTMLCanvasElement[] = [];
  for (const fig of root.querySelectorAll<HTMLElement>('figure.chart')) {
    const canvas = fig.querySelector('canvas');
    if (canvas === null || fig.offsetParent === null) continue;
    const legend = [...fig.querySelectorAll<HTMLElement>('.legend button')].map((b) => {
      const r = rel(b.getBoundingClientRect());
      return { text: b.textContent?.trim() ?? '', color: b.querySelector<HTMLElement>('.swatch')?.style.borderColor || '', x: r.x, y: r.y };
    });
    charts.push({ title: fig.querySelector('h3')?.textContent?.trim() ?? '', frame: rel(fig.getBoundingClientRect()), canvas: rel(canvas.getBoundingClientRect()), legend });
    canvases.push(canvas);
  }
  return { charts, canvases };
}

/** Draws the dashboard: `draw(i, ctx, rect)` paints chart i into rect (at the image's resolution). */
export function drawDashboard(
  layout: ReturnType<typeof dashboardLayout>,
  colors: { background: string; panel: string; text: string },
  draw: (index: number, ctx: CanvasRenderingContext2D, rect: Rect) => void,
  doc: Document = document,
): HTMLCanvasElement {
  const out = doc.createElement('canvas');
  out.width = layout.width;
  out.height = layout.height;
  const ctx = out.getContext('2d');
  if (ctx === null) throw new Error('this browser cannot draw the dashboard (no 2D canvas)');
  for (const s of layout.steps) {
    if (s.kind === 'fill') {
      ctx.fillStyle = colors[s.color];
      ctx.fillRect(s.rect.x, s.rect.y, s.rect.width, s.rect.height);
    } else if (s.kind === 'text') {
      ctx.fillStyle = s.color === null || s.color === '' ? colors.text : s.color;
      ctx.font = `${s.bold ? '600 ' : ''}${s.size}px system-ui, sans-serif`;
      ctx.textBaseline = 'alphabetic';
      ctx.fillText(s.text, s.x, s.y);
    } else draw(s.index, ctx, s.rect);
  }
  return out;
}
