// At most one redraw per chart per animation frame, however many batches arrive in between, and no
// redraw starts in a frame once the redraws in it have taken its budget: a batch makes every chart
// dirty at once, and redrawing all of them in the same frame (the time-sequence graph and an hour
// overlaid took 10 to 30 ms each on the development machine, npm run bench ui) made one long frame
// per batch. The budget bounds when a redraw may start, not how long one takes: a redraw that
// started finishes, so a single 30 ms redraw still makes a 30 ms frame. The charts left over are
// redrawn in the next frames, oldest request first.

/** Something that redraws. */
export interface Redrawable {
  update(mode: 'none'): void;
}

/** Milliseconds of redrawing in a frame after which no further redraw starts in it (the one going finishes). */
export const FRAME_BUDGET_MS = 8;

/** Coalesces redraw requests into one `update('none')` per chart per frame, starting none once the frame's budget is spent. */
export class FrameScheduler {
  /** Charts waiting for a redraw, in the order they first asked (a Set keeps insertion order). */
  private readonly dirty = new Set<Redrawable>();
  private scheduled = false;
  /** Frames drawn (for tests and the frame-time figures). */
  frames = 0;

  constructor(
    private readonly requestFrame: (cb: () => void) => unknown = (cb) => requestAnimationFrame(() => cb()),
    private readonly budgetMs = FRAME_BUDGET_MS,
    private readonly now: () => number = () => performance.now(),
  ) {}

  /** Asks for a redraw of `chart` in the next frame (a chart already waiting keeps its place). */
  request(chart: Redrawable): void {
    this.dirty.add(chart);
    this.schedule();
  }

  /** Forgets a chart (destroyed). */
  cancel(chart: Redrawable): void {
    this.dirty.delete(chart);
  }

  /** Charts waiting for a redraw. */
  get pending(): number {
    return this.dirty.size;
  }

  private schedule(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    this.requestFrame(() => this.flush());
  }

  private first(): Redrawable | undefined {
    return this.dirty.values().next().value;
  }

  private flush(): void {
    this.scheduled = false;
    this.frames++;
    const start = this.now();
    // One chart at least, so that a chart slower than the budget is still drawn.
    for (let c = this.first(); c !== undefined; c = this.first()) {
      this.dirty.delete(c);
      try {
        c.update('none');
      } catch (e) {
        console.error('a chart failed to redraw', e);
      }
      if (this.now() - start >= this.budgetMs) break;
    }
    if (this.dirty.size > 0) this.schedule();
  }
}

/** The scheduler the app's charts share. */
export const frames = new FrameScheduler((cb) => (typeof requestAnimationFrame === 'function' ? requestAnimationFrame(() => cb()) : setTimeout(cb, 16)));
