// The Electron main process as built (dist/electron/main.js), run under plain Node with a stand-in
// 'electron' module (test/helpers/electron-main/): its window, the packetlab: scheme that serves the
// page, the request filter and Content-Security-Policy header, the refusal of navigation, new
// windows and permissions, the IPC sender checks, a run started over IPC and stopped by quitting,
// the menu's theme and dissector items, and start-up from folders whose names have the characters
// that broke file: URL comparisons (`~`, brackets, spaces, `^`).

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CONTENT_SECURITY_POLICY } from '../experiments/api/page.js';
import { INVOKE_CHANNELS, MENU_CHANNEL, RUN_BATCH_CHANNEL } from '../electron/channels.js';
import { APP_INDEX_URL } from '../electron/app-protocol.js';
import { ROOT, stageApp, type StagedApp } from './helpers/stage-app.js';
import { importClosure } from './helpers/imports.js';
import { startMain, type MainProcess } from './helpers/electron-main.js';
import { until } from './helpers/until.js';

interface Load {
  url: string;
  status: number;
  error: string | null;
  headers: Record<string, string[]>;
}
interface State {
  enableSandbox: boolean;
  privileged: { scheme: string; privileges: Record<string, boolean> }[];
  handledSchemes: string[];
  ipcChannels: string[];
  windows: { options: { icon?: string; webPreferences: Record<string, unknown> }; visible: boolean; url: string; loads: Load[] }[];
  themeSource: string;
  dialogs: { kind: string; title?: string; content?: string }[];
  unhandled: string[];
  revealed: string[];
  permissions: { request: string | null; check: boolean | null; device: boolean | null };
}
type Result<T = unknown> = { ok: true; value: T } | { ok: false; error: string };

const tmp = mkdtempSync(join(tmpdir(), 'packetlab-main-'));
let staged: StagedApp;

beforeAll(() => {
  staged = stageApp('packetlab-main-stage-');
});
afterAll(() => {
  staged?.remove();
  rmSync(tmp, { recursive: true, force: true });
});

let homes = 0;

/** Starts the staged app's main process with its own results folder and home. */
function launch(appDir: string, env: Record<string, string> = {}): { main: MainProcess; runsDir: string } {
  const home = join(tmp, `home-${homes++}`);
  mkdirSync(home, { recursive: true });
  const runsDir = join(home, 'runs');
  const main = startMain(appDir, { PACKETLAB_RUNS_DIR: runsDir, XDG_DATA_HOME: join(home, 'data'), FAKE_ELECTRON_HOME: home, ...env });
  return { main, runsDir };
}

async function quit(main: MainProcess): Promise<void> {
  await main.op('quit');
  expect(await main.exited).toBe(0);
}

describe('the main process starts', () => {
  let main: MainProcess;
  let state: State;

  beforeAll(async () => {
    main = launch(staged.dir).main;
    await main.loaded();
    state = await main.op<State>('state');
  });
  afterAll(async () => {
    if (main !== undefined) await quit(main);
  });

  it('sandboxes every renderer and opens one isolated window on its own scheme', () => {
    expect(state.enableSandbox).toBe(true);
    expect(state.privileged).toEqual([{ scheme: 'packetlab', privileges: expect.objectContaining({ standard: true, secure: true }) }]);
    expect(state.handledSchemes).toEqual(['packetlab']);
    expect(state.windows).toHaveLength(1);
    const w = state.windows[0]!;
    expect(w.url).toBe(APP_INDEX_URL);
    expect(w.visible).toBe(true);
    expect(w.options.webPreferences).toMatchObject({ contextIsolation: true, sandbox: true, nodeIntegration: false, webSecurity: true });
    expect(w.options.webPreferences.preload).toBe(join(staged.dir, 'dist', 'electron', 'preload.cjs'));
    expect(w.options.icon).toBe(join(staged.dir, 'build', 'icon.png'));
    expect(existsSync(w.options.icon!)).toBe(true);
    expect(state.unhandled).toEqual([]);
    expect(state.dialogs).toEqual([]);
  });

  it('loads the page and every script and style it names, each with the Content-Security-Policy', () => {
    const loads = state.windows[0]!.loads;
    expect(loads.length).toBeGreaterThanOrEqual(2);
    for (const l of loads) {
      expect(l, l.url).toMatchObject({ status: 200, error: null });
      expect(l.url.startsWith('packetlab://app/')).toBe(true);
      expect(l.headers['content-security-policy'] ?? l.headers['Content-Security-Policy']).toEqual([CONTENT_SECURITY_POLICY]);
      expect(l.headers['x-content-type-options'] ?? l.headers['X-Content-Type-Options']).toEqual(['nosniff']);
    }
    expect(loads[0]!.headers['content-type']).toEqual(['text/html; charset=utf-8']);
  });

  it('serves nothing outside the built renderer, and nothing but its own scheme', async () => {
    const status = async (url: string) => (await main.op<{ status: number; error: string | null }>('request', { url })).status;
    expect(await status('packetlab://app/index.html')).toBe(200);
    for (const url of [
      'packetlab://app/../../package.json',
      'packetlab://app/%2e%2e/%2e%2e/package.json',
      'packetlab://app/..%2f..%2fpackage.json',
      'packetlab://app/assets',
      'packetlab://app/no-such-file.js',
    ]) expect(await status(url), url).toBe(404);
    for (const url of ['packetlab://app/%ff', 'packetlab://app/index.html%00.js']) expect(await status(url), url).toBe(400);
    for (const url of ['file:///etc/passwd', `file://${join(staged.dir, 'dist', 'renderer', 'index.html')}`, 'https://example.com/x.js', 'http://127.0.0.1:1/', 'packetlab://other/index.html']) {
      expect(await main.op('request', { url }), url).toMatchObject({ status: 0, error: 'net::ERR_BLOCKED_BY_CLIENT' });
    }
    // data: passes the filter (the stand-in has no data: loader of its own, so it stops there).
    expect((await main.op<{ error: string | null }>('request', { url: 'data:text/plain,ok' })).error).not.toBe('net::ERR_BLOCKED_BY_CLIENT');
  });

  it('refuses navigation, redirects, webviews, new windows and every permission', async () => {
    for (const event of ['will-navigate', 'will-redirect', 'will-attach-webview']) {
      expect(await main.op('navigate', { event, url: 'https://example.com/' }), event).toEqual({ prevented: true });
    }
    expect(await main.op('open', { url: 'https://example.com/' })).toEqual({ action: 'deny' });
    expect(await main.op('permission', { permission: 'media' })).toBe(false);
    expect(state.permissions).toEqual({ request: 'set', check: false, device: false });
  });

  it('answers every lab call only from its own page, and validates the arguments', async () => {
    expect(state.ipcChannels.slice().sort()).toEqual([...INVOKE_CHANNELS].sort());
    const knobs = await main.op<Result<unknown[]>>('invoke', { channel: 'lab:listKnobs' });
    expect(knobs.ok).toBe(true);
    const refused = /^lab:listKnobs: refused: the message did not come from the lab's own page$/;
    for (const from of [{ from: 'subframe' }, { from: 'other-contents' }, { frameUrl: 'https://evil.example/index.html' }, { frameUrl: `file://${join(staged.dir, 'dist', 'renderer', 'index.html')}` }, { frameUrl: 'packetlab://app/other.html' }]) {
      expect(await main.op<Result>('invoke', { channel: 'lab:listKnobs', ...from }), JSON.stringify(from)).toMatchObject({ ok: false, error: expect.stringMatching(refused) });
    }
    expect(await main.op<Result>('invoke', { channel: 'lab:openRun', args: [{ runId: 5 }] })).toMatchObject({ ok: false, error: expect.stringMatching(/^openRun\.runId: /) });
    expect(await main.op<Result>('invoke', { channel: 'desktop:set-theme', args: ['purple'] })).toMatchObject({ ok: false, error: expect.stringMatching(/^setTheme: /) });
  });

  it('the theme menu item toggles the page, and the page sets the theme of the window chrome', async () => {
    await main.op('menu', { labels: ['&View', 'Toggle Dark Mode'] });
    await until('the menu command', () => main.events.some((e) => e.type === 'send' && e.channel === MENU_CHANNEL && e.payload === 'toggle-dark-mode'));
    for (const theme of ['dark', 'light', 'system']) {
      expect(await main.op<Result>('invoke', { channel: 'desktop:set-theme', args: [theme] })).toEqual({ ok: true, value: null });
      expect((await main.op<State>('state')).themeSource).toBe(theme);
    }
  });

  it('About names the versions and the native CRC32C', async () => {
    await main.op('menu', { labels: ['&Help', 'About Packet Lab'] });
    await until('the About box', () => main.events.some((e) => e.type === 'dialog' && e.kind === 'message'));
    expect(main.events.find((e) => e.type === 'dialog' && e.kind === 'message')!.content).toMatch(/^Packet Lab\n.*CRC32C: native \(@node-rs\/crc32\)/s);
  });

  it('Help > Show Wireshark Dissector reveals the dissector file', async () => {
    await main.op('menu', { labels: ['&Help', 'Show Wireshark Dissector'] });
    await until('the reveal', () => main.events.some((e) => e.type === 'reveal'));
    const path = main.events.find((e) => e.type === 'reveal')!.path!;
    expect(path).toBe(join(staged.dir, 'tools', 'wireshark', 'packetlab.lua'));
    expect(existsSync(path)).toBe(true);
  });
});

describe('a run from the app', () => {
  it('starts over IPC, sends its batches to the page, and is stopped and written when the app quits', async () => {
    const { main, runsDir } = launch(staged.dir);
    await main.loaded();
    const text = JSON.stringify({ name: 'long', title: 't', description: 'd', concepts: ['checksums'], workload: { kind: 'bulk', bytes: 5_000_000_000, verifyData: false }, forward: { delayMs: 1 }, reverse: { delayMs: 1 }, timeLimitS: 3600 });
    const started = await main.op<Result<{ runId: string }>>('invoke', { channel: 'lab:startRun', args: [{ text }] });
    expect(started.ok, JSON.stringify(started)).toBe(true);
    const runId = (started as { value: { runId: string } }).value.runId;
    await until(
      () => `a batch with samples; events: ${main.events.length}`,
      () => main.events.some((e) => e.type === 'send' && e.channel === RUN_BATCH_CHANNEL && (e.payload as { runId: string; samples: unknown[] }).runId === runId && (e.payload as { samples: unknown[] }).samples.length > 0),
      20_000,
    );
    await quit(main);
    const dirs = readdirSync(runsDir);
    expect(dirs).toHaveLength(1);
    const record = JSON.parse(readFileSync(join(runsDir, dirs[0]!, 'run.json'), 'utf8')) as { id: string; status: string };
    expect(record).toMatchObject({ id: runId, status: 'stopped' });
  });
});

describe('start-up from awkward folders', () => {
  it('works from a folder whose name has ~, brackets, spaces and ^', async () => {
    const odd = join(tmp, 'my~apps [lab] ^x');
    mkdirSync(odd);
    const moved = join(odd, 'Packet Lab');
    renameSync(staged.dir, moved);
    try {
      const { main } = launch(moved);
      await main.loaded();
      const state = await main.op<State>('state');
      expect(state.windows[0]!.loads.every((l) => l.status === 200)).toBe(true);
      expect(state.dialogs).toEqual([]);
      expect((await main.op<Result>('invoke', { channel: 'lab:listKnobs' })).ok).toBe(true);
      await quit(main);
    } finally {
      renameSync(moved, staged.dir);
    }
  });
});

describe('macOS: the window closed, the dock clicked', () => {
  it('opens a new window, and a failure to do so is shown, not left unhandled', async () => {
    // As macOS here, @node-rs/crc32 finds no binary for the platform: the app starts all the same
    // (the native module loads lazily), and About says the JavaScript CRC32C runs and why.
    const { main } = launch(staged.dir, { FAKE_ELECTRON_PLATFORM: 'darwin' });
    await main.loaded();
    await main.op('menu', { labels: ['&Help', `About Packet Lab`] });
    await until('the About box', () => main.events.some((e) => e.type === 'dialog' && e.kind === 'message'));
    expect(main.events.find((e) => e.type === 'dialog' && e.kind === 'message')!.content).toMatch(/CRC32C: JavaScript, slower on large datagrams \(@node-rs\/crc32 did not load on darwin-/);
    await main.op('close');
    await main.op('activate');
    await until('a new window', async () => (await main.op<State>('state')).windows.length === 1);
    await main.loaded();
    await main.op('close');
    const index = join(staged.dir, 'dist', 'renderer', 'index.html');
    renameSync(index, `${index}.away`);
    try {
      await main.op('activate');
      await until('the error dialog', () => main.events.some((e) => e.type === 'dialog' && e.kind === 'error'));
      const state = await main.op<State>('state');
      expect(state.unhandled).toEqual([]);
      expect(state.dialogs.find((d) => d.kind === 'error')!.content).toMatch(/could not open its window/);
    } finally {
      renameSync(`${index}.away`, index);
    }
    await quit(main);
  });
});

describe('the packaged app', () => {
  it('takes its icon and dissector from the resources folder', async () => {
    const resources = join(tmp, 'resources');
    mkdirSync(join(resources, 'wireshark'), { recursive: true });
    for (const [from, to] of [
      [join(staged.dir, 'build', 'icon.png'), join(resources, 'icon.png')],
      [join(staged.dir, 'tools', 'wireshark', 'packetlab.lua'), join(resources, 'wireshark', 'packetlab.lua')],
    ] as const) {
      mkdirSync(join(to, '..'), { recursive: true });
      renameSync(from, to);
    }
    try {
      const { main } = launch(staged.dir, { FAKE_ELECTRON_PACKAGED: '1', FAKE_ELECTRON_RESOURCES: resources });
      await main.loaded();
      const state = await main.op<State>('state');
      expect(state.windows[0]!.options.icon).toBe(join(resources, 'icon.png'));
      await main.op('menu', { labels: ['&Help', 'Show Wireshark Dissector'] });
      await until('the reveal', () => main.events.some((e) => e.type === 'reveal'));
      expect(main.events.find((e) => e.type === 'reveal')!.path).toBe(join(resources, 'wireshark', 'packetlab.lua'));
      await quit(main);
    } finally {
      renameSync(join(resources, 'icon.png'), join(staged.dir, 'build', 'icon.png'));
      renameSync(join(resources, 'wireshark', 'packetlab.lua'), join(staged.dir, 'tools', 'wireshark', 'packetlab.lua'));
    }
  });
});

describe("the main process's imports", () => {
  it('load no command-line code and no native module when it starts (the CRC32C binding loads on first use)', () => {
    const closure = importClosure(ROOT, ['/dist/electron/main.js']);
    expect(closure.missing).toEqual([]);
    expect([...closure.files].filter((f) => f.startsWith('/dist/cli/'))).toEqual([]);
    expect([...closure.packages].sort()).not.toContain('@node-rs/crc32');
    expect([...closure.packages].sort()).not.toContain('commander');
    // What it does load, so that a new dependency of the main process is a visible change.
    expect([...closure.packages].sort()).toEqual(['crc-32', 'csv-parse', 'csv-stringify', 'electron', 'env-paths', 'jsonc-parser', 'jstat', 'pure-rand', 'zod']);
  });
});
