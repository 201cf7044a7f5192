// `packetlab serve` as a child process for the app's end-to-end tests, with fresh results and
// specs folders, and the Chromium that opens it (its settings are bench/browser.ts's).

import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { afterAll, beforeAll, expect } from 'vitest';
import { chromium, type Browser, type BrowserContext, type BrowserContextOptions, type Page } from 'playwright-core';
import { browserUnavailable, CHROMIUM, CHROMIUM_ARGS } from '../../bench/browser.js';

/** Why the app's browser tests cannot run here, or null. */
function appTestUnavailable(): string | null {
  return browserUnavailable() ?? (existsSync(join('dist', 'renderer', 'index.html')) ? null : 'dist/renderer is missing: run `npm run build` first');
}

/** A running `packetlab serve`. */
interface ServedApp {
  url: string;
  /** Its results and specs folders live here. */
  dir: string;
  stop(): Promise<void>;
}

/** Starts `packetlab serve --port 0` and resolves with the URL it prints. */
async function serveApp(prefix: string): Promise<ServedApp> {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  const child: ChildProcess = spawn(process.execPath, ['bin/packetlab.js', 'serve', '--port', '0', '--print-url-json', '--no-beacons', '--runs-dir', join(dir, 'runs'), '--specs-dir', join(dir, 'specs')], { stdio: ['ignore', 'pipe', 'pipe'] });
  const stderr: string[] = [];
  child.stderr!.on('data', (d: Buffer) => stderr.push(d.toString()));
  const lines = createInterface({ input: child.stdout! });
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`packetlab serve printed no URL within 20 s: ${stderr.join('')}`)), 20_000);
    child.once('exit', (code) => reject(new Error(`packetlab serve exited with ${code}: ${stderr.join('')}`)));
    lines.once('line', (line) => {
      clearTimeout(timer);
      resolve((JSON.parse(line) as { url: string }).url);
    });
  });
  return {
    url,
    dir,
    stop: async () => {
      if (child.exitCode === null) {
        const exited = new Promise((r) => child.once('exit', r));
        child.kill('SIGTERM');
        await Promise.race([exited, new Promise((r) => setTimeout(r, 8000))]);
        if (child.exitCode === null) child.kill('SIGKILL');
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** The app served and a Chromium, for one end-to-end test file. */
export interface AppUnderTest {
  /** Why the file's tests cannot run here, or null. */
  readonly skipWhy: string | null;
  /** Where its screenshots go. */
  readonly artifacts: string;
  readonly url: string;
  /** The served app's results and specs folders live here. */
  readonly dir: string;
  readonly browser: Browser;
}

/**
 * Serves the app and launches Chromium before the file's tests (beforeAll), and stops both after
 * them (afterAll); says why and does nothing where the tests cannot run.
 */
export function appUnderTest(name: string): AppUnderTest {
  const skipWhy = appTestUnavailable();
  if (skipWhy !== null) console.warn(`${name}: skipped: ${skipWhy}`);
  const artifacts = join('test-results', name);
  let served: ServedApp | null = null;
  let browser: Browser | null = null;
  beforeAll(async () => {
    if (skipWhy !== null) return;
    mkdirSync(artifacts, { recursive: true });
    served = await serveApp(`packetlab-${name}-`);
    browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
  });
  afterAll(async () => {
    await browser?.close();
    await served?.stop();
  });
  return {
    skipWhy,
    artifacts,
    get url() {
      return served!.url;
    },
    get dir() {
      return served!.dir;
    },
    get browser() {
      return browser!;
    },
  };
}

/** A new page of the served app, once it says the lab is connected, with the page's errors collected. */
export async function openLab(app: AppUnderTest, options: BrowserContextOptions): Promise<{ context: BrowserContext; page: Page; pageErrors: string[] }> {
  const context = await app.browser.newContext(options);
  const page = await context.newPage();
  const pageErrors: string[] = [];
  page.on('pageerror', (e) => pageErrors.push(e.message));
  page.on('console', (m) => {
    if (m.type() === 'error') pageErrors.push(m.text());
  });
  await page.goto(app.url);
  await expect.poll(() => page.getByText('Lab: connected').count(), { timeout: 15_000 }).toBe(1);
  return { context, page, pageErrors };
}

/** The id of the run the run-state line names. */
export async function runIdOf(page: Page): Promise<string> {
  const text = (await page.getByTestId('run-state').textContent()) ?? '';
  const m = /· (\S+)/.exec(text);
  if (m === null) throw new Error(`no run id in the run state "${text}"`);
  return m[1]!;
}

/** Pixels of a chart's canvas that differ from its background (top-left pixel). */
export async function inkOf(page: Page, chartId: string): Promise<number> {
  return page.evaluate(`(() => {
    const c = document.querySelector('[data-chart="${chartId}"] canvas');
    const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
    let n = 0;
    for (let i = 0; i < d.length; i += 4) if (Math.abs(d[i] - d[0]) + Math.abs(d[i + 1] - d[1]) + Math.abs(d[i + 2] - d[2]) > 24) n++;
    return n;
  })()`);
}

/** The text alternative of a chart (its aria-label), or '' while it has none. */
export async function chartLabel(page: Page, chartId: string): Promise<string> {
  return (await page.locator(`[data-chart="${chartId}"] [role=img]`).getAttribute('aria-label')) ?? '';
}

/** Samples the chart's text alternative says it holds. */
export async function samplesOf(page: Page, chartId: string): Promise<number> {
  const m = /: (\d+) samples/.exec(await chartLabel(page, chartId));
  return m === null ? 0 : Number(m[1]);
}
