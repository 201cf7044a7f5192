// Debian's Chromium through playwright-core, for the UI benchmark and the app's end-to-end tests:
// where it is, the flags it needs on these machines, and frame-time measurement.

import { existsSync } from 'node:fs';
import type { Page } from 'playwright-core';

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
