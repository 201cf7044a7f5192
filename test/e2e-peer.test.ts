// A LAN peer from the app, end to end: Debian's Chromium (through playwright-core) against
// `packetlab serve` (which has no token of its own for peers) and a peer agent on loopback. The
// lan-peer experiment without a token cannot start and says why, and the status says the start
// failed; with the agent's token typed into the Peers panel (kept in the page only) it runs to the
// end. Screenshots go to test-results/e2e-peer/.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { appUnderTest, openLab, runIdOf } from './helpers/app-serve.js';
import { startPeerAgent, type PeerAgent } from '../net/peer/agent.js';

const app = appUnderTest('e2e-peer');
const TOKEN = 'e2e-peer-token-0123456789';
let agent: PeerAgent | null = null;

beforeAll(async () => {
  if (app.skipWhy === null) agent = await startPeerAgent({ port: 0, token: TOKEN, beacon: false, log: () => {} });
});
afterAll(async () => {
  await agent?.close();
});

describe.skipIf(app.skipWhy !== null)('a LAN peer from the app in Chromium', () => {
  it('refuses a peer run without a token, saying so, and runs it with the token typed in', async () => {
    const { context, page, pageErrors } = await openLab(app, { viewport: { width: 1400, height: 900 } });
    await page.getByRole('radio', { name: /On the LAN: loss and window against a packetlab peer agent/ }).check();
    const editor = page.getByLabel('Spec (JSON)');
    await expect.poll(() => editor.inputValue(), { timeout: 15_000 }).toContain('"lan-peer"');
    const spec = JSON.parse(await editor.inputValue()) as Record<string, unknown>;
    await editor.fill(JSON.stringify({ ...spec, network: `peer:127.0.0.1:${agent!.port}` }, null, 2));
    await expect.poll(() => page.locator('#spec-check').textContent(), { timeout: 10_000 }).toContain('Valid');
    await page.getByLabel('Quick').check();

    await page.getByRole('button', { name: 'Start', exact: true }).click();
    await expect.poll(() => page.getByTestId('run-state').textContent(), { timeout: 20_000 }).toMatch(/^Could not start/);
    expect(await page.getByRole('alert').filter({ hasText: 'The run could not start' }).textContent()).toMatch(/needs the peer agent's token/);

    await page.getByLabel('Peer agent token').fill(TOKEN);
    await page.getByRole('button', { name: 'Start', exact: true }).click();
    await expect.poll(() => page.getByTestId('run-state').textContent(), { timeout: 20_000 }).toMatch(/^(Running|Complete)/);
    const runId = await runIdOf(page);
    await expect.poll(() => page.getByTestId('run-state').textContent(), { timeout: 90_000 }).toMatch(/^Complete/);
    await page.screenshot({ path: join(app.artifacts, '1-peer-run.png'), fullPage: true });
    // The token went to the agent, not into the run's record or its spec.
    const record = readFileSync(join(app.dir, 'runs', runId, 'run.json'), 'utf8');
    expect(record).not.toContain(TOKEN);
    expect(JSON.parse(record).trials.every((t: { status: string }) => t.status === 'complete')).toBe(true);
    expect(await editor.inputValue()).not.toContain(TOKEN);
    expect(pageErrors).toEqual([]);
    await context.close();
  });
});
