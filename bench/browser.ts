// Debian's Chromium through playwright-core, for the UI benchmark and the app's end-to-end tests:
// where it is, the flags it needs on these machines, and frame-time measurement.

import { existsSync } from 'node:fs';
import type { CDPSession, Page } from 'playwright-core';

/** Debian's Chromium (package `chromium`); `npx playwright install` cannot download one here. */
export const CHROMIUM = '/usr/bin/chromium';
/** Flags of a headless Chromium on a lab machine (no sandbox as root, no background connections). */
export const CHROMIUM_ARGS = ['--headless=new', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'];

/** Why a browser run cannot happen here, or null. */
export function browserUnavailable(): string | null {
  return existsSync(CHROMIUM) ? null : `${CHROMIUM} is missing (apt-get install chromium)`;
}

/** Frame times (ms between animation frames) of the page over `ms`. */
export async function frameTimes(page: Page, ms: number): Promise<number[]> {
  return page.evaluate(`new Promise((resolve) => {
    const times = [];
    let last = performance.now();
    const end = last + ${ms};
    const tick = (now) => {
      times.push(now - last);
      last = now;
      if (now < end) requestAnimationFrame(tick);
      else resolve(times);
    };
    requestAnimationFrame(tick);
  })`);
}

/** The p-th percentile (0 to 100) of a list. */
export function percentile(xs: readonly number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]!;
}

/** Main-thread time of a page over a stretch, ms per second of wall time (CDP Performance.getMetrics). */
export interface MainThreadTime {
  /** All tasks on the main thread. */
  taskMsPerS: number;
  /** JavaScript. */
  scriptMsPerS: number;
  /** Style recalculation and layout. */
  layoutMsPerS: number;
  /**
   * CPU time of the main thread and of the whole renderer process (raster threads included): unlike
   * the durations above, not inflated when other processes take the CPU away.
   */
  threadCpuMsPerS: number;
  processCpuMsPerS: number;
}

/** A CDP session's cumulative main-thread durations, to be differenced over a stretch. */
export class MainThreadMeter {
  private constructor(private readonly cdp: CDPSession) {}

  /** Opens a meter on `page` (Chromium only). */
  static async open(page: Page): Promise<MainThreadMeter> {
    const cdp = await page.context().newCDPSession(page);
    await cdp.send('Performance.enable');
    return new MainThreadMeter(cdp);
  }

  private async read(): Promise<Record<string, number>> {
    const { metrics } = await this.cdp.send('Performance.getMetrics');
    return Object.fromEntries(metrics.map((m) => [m.name, m.value]));
  }

  /** Runs `during` and returns the main-thread time it took per second of wall time. */
  async measure<T>(during: () => Promise<T>): Promise<{ value: T; time: MainThreadTime }> {
    const a = await this.read();
    const t0 = performance.now();
    const value = await during();
    const wallS = (performance.now() - t0) / 1000;
    const b = await this.read();
    // The durations are in seconds.
    const d = (k: string) => ((b[k] ?? 0) - (a[k] ?? 0)) * 1000;
    return { value, time: { taskMsPerS: d('TaskDuration') / wallS, scriptMsPerS: d('ScriptDuration') / wallS, layoutMsPerS: (d('LayoutDuration') + d('RecalcStyleDuration')) / wallS, threadCpuMsPerS: d('ThreadTime') / wallS, processCpuMsPerS: d('ProcessTime') / wallS } };
  }

  /** Runs `during` under the JavaScript sampling profiler and returns its CPU profile. */
  async profile(during: () => Promise<unknown>): Promise<unknown> {
    await this.cdp.send('Profiler.enable');
    await this.cdp.send('Profiler.setSamplingInterval', { interval: 200 });
    await this.cdp.send('Profiler.start');
    await during();
    const { profile } = await this.cdp.send('Profiler.stop');
    return profile;
  }
}
