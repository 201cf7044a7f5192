// The charts on screen, for "Export PNG" (each chart's canvas as a file).

/** A chart that can be exported. */
export interface RegisteredChart {
  id: string;
  canvas: HTMLCanvasElement;
}

const charts = new Map<string, RegisteredChart>();

/** Adds a chart; returns the function that removes it. */
export function registerChart(c: RegisteredChart): () => void {
  charts.set(c.id, c);
  return () => {
    if (charts.get(c.id) === c) charts.delete(c.id);
  };
}

/** The charts, in the order they were added. */
export function registeredCharts(): RegisteredChart[] {
  return [...charts.values()];
}
