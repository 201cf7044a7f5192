// The app end to end inside Electron, through Playwright's Electron support: the same flow as
// e2e-app (start a library experiment, see the charts fill, change the retransmission timeout and
// the loss rate mid-run and see the changes marked, stop, open the run from history, overlay it).
// Runs only where Electron's binary is installed; elsewhere (machines that cannot download it, as
// this project's CI) it says why it skipped. Screenshots go to test-results/e2e-electron/.

import { afterAll, describe, expect, it } from 'vitest';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { _electron, type ElectronApplication } from 'playwright-core';
import { projectRoot } from '../net/paths.js';
import { runIdOf, samplesOf } from './helpers/app-serve.js';

const root = projectRoot();
const electronDir = join(root, 'node_modules', 'electron');

/** The Electron executable, or why there is none (the check bin/start.js makes). */
function electronBinary(): { path: string } | { why: string } {
  const pathFile = join(electronDir, 'path.txt');
  if (!existsSync(pathFile)) return { why: 'node_modules/electron/path.txt is missing: the Electron binary was never downloaded' };
  const binary = join(electronDir, 'dist', readFileSync(pathFile, 'utf8').trim());
  if (!existsSync(binary) || !statSync(binary).isFile()) return { why: `${binary} is missing` };
  if (!existsSync(join(root, 'dist', 'electron', 'main.js')) || !existsSync(join(root, 'dist', 'renderer', 'index.html'))) return { why: 'the app is not built: run `npm run build` first' };
  return { path: binary };
}

const found = electronBinary();
const skipWhy = 'why' in found ? found.why : null;
if (skipWhy !== null) console.warn(`e2e-electron: skipped: ${skipWhy}`);

const ARTIFACTS = join('test-results', 'e2e-electron');
const dir = mkdtempSync(join(tmpdir(), 'packetlab-e2e-electron-'));
let app: ElectronApplication | null = null;

afterAll(async () => {
  await app?.close();
  rmSync(dir, { recursive: true, force: true });
});

describe.skipIf(skipWhy !== null)('the app in Electron', () => {
  it('runs a library experiment, marks live changes, stops, opens and overlays the run', async () => {
    mkdirSync(ARTIFACTS, { recursive: true });
    app = await _electron.launch({
      executablePath: (found as { path: string }).path,
      args: [root, '--no-sandbox'],
      env: { ...process.env, PACKETLAB_RUNS_DIR: join(dir, 'runs'), ELECTRON_RUN_AS_NODE: '' },
    });
    const page = await app.firstWindow();
    // The preload's API, not a WebSocket, and no Node in the page.
    expect(await page.evaluate('typeof window.packetlab.listLibrary')).toBe('function');
    expect(await page.evaluate('typeof require')).toBe('undefined');
    await expect.poll(() => page.getByText('Lab: connected').count(), { timeout: 20_000 }).toBe(1);

    await page.getByRole('radio', { name: /Checksums: corruption/ }).check();
    await page.getByLabel('Network').selectOption('loopback');
    await page.getByLabel('RTO mode').selectOption('fixed');
    await page.getByLabel('Bytes to transfer').fill('200000000');
    await page.getByLabel('Bytes to transfer').press('Enter');
    await expect.poll(() => page.locator('#spec-check').textContent()).toContain('Valid');
    await page.getByRole('button', { name: 'Start', exact: true }).click();
    await expect.poll(() => page.getByTestId('run-state').textContent(), { timeout: 20_000 }).toMatch(/^Running/);
    const runId = await runIdOf(page);
    await expect.poll(() => samplesOf(page, 'rate'), { timeout: 30_000 }).toBeGreaterThanOrEqual(20);
    await page.screenshot({ path: join(ARTIFACTS, '1-running.png') });

    const rto = page.getByLabel('Retransmission timeout (ms)');
    await rto.fill('50');
    await rto.press('Enter');
    const loss = page.getByLabel('Loss probability', { exact: true });
    await loss.fill('0.1');
    await loss.press('Enter');
    await expect.poll(() => page.getByTestId('event-log').textContent(), { timeout: 15_000 }).toContain('Retransmission timeout (ms): 200 → 50');
    await expect.poll(() => page.getByTestId('event-log').textContent(), { timeout: 15_000 }).toContain('Loss probability: 0 → 0.1');

    await page.getByRole('button', { name: 'Stop', exact: true }).click();
    await expect.poll(() => page.getByTestId('run-state').textContent(), { timeout: 20_000 }).toMatch(/^Stopped/);
    const run = JSON.parse(readFileSync(join(dir, 'runs', runId, 'run.json'), 'utf8'));
    expect(run.status).toBe('stopped');
    expect(readFileSync(join(dir, 'runs', runId, 'events.csv'), 'utf8')).toContain('transport.rtoMs');

    await page.getByRole('button', { name: `Open ${runId}` }).click();
    await page.getByRole('button', { name: `Overlay ${runId}` }).click();
    await expect.poll(() => page.getByText('Overlay (dashed)').count()).toBe(1);
    await page.screenshot({ path: join(ARTIFACTS, '2-overlay.png') });
  }, 180_000);
});
