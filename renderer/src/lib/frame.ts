// At most one redraw per chart per animation frame, however many batches arrive in between.

/** Something that redraws. */
export interface Redrawable {
  update(mode: 'none'): void;
}

/** Coalesces redraw requests into one `update('none')` per chart per frame. */
export class FrameScheduler {
  private readonly dirty = new Set<Redrawable>();
  private scheduled = false;
  /** Frames drawn (for tests and the frame-time figures). */
  frames = 0;

  constructor(
    private readonly requestFrame: (cb: () => void) => unknown = (cb) => requestAnimationFrame(() => cb()),
  ) {}

  /** Asks for a redraw of `chart` in the next frame. */
  request(chart: Redrawable): void {
    this.dirty.add(chart);
    if (this.scheduled) return;
    this.scheduled = true;
    this.requestFrame(() => this.flush());
  }

  /** Forgets a chart (destroyed). */
  cancel(chart: Redrawable): void {
    this.dirty.delete(chart);
  }

  private flush(): void {
    this.scheduled = false;
    const charts = [...this.dirty];
    this.dirty.clear();
    this.frames++;
    for (const c of charts) {
      try {
        c.update('none');
      } catch (e) {
        console.error('a chart failed to redraw', e);
      }
    }
  }
}

/** The scheduler the app's charts share. */
export const frames = new FrameScheduler((cb) => (typeof requestAnimationFrame === 'function' ? requestAnimationFrame(() => cb()) : setTimeout(cb, 16)));
