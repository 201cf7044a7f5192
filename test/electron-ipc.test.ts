// The main process's IPC handlers (electron/ipc.ts, save-file.ts) with a stand-in ipcMain and the
// real LabHost: wrong senders and malformed arguments are refused before anything happens.

import { afterAll, describe, expect, it } from 'vitest';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { LabHost } from '../experiments/api/host.js';
import { API_METHODS, type Result } from '../experiments/api/contract.js';
import { INVOKE_CHANNELS, labChannel, SAVE_FILE_CHANNEL, SET_THEME_CHANNEL, type ThemeSource } from '../electron/channels.js';
import { APP_INDEX_URL } from '../electron/app-protocol.js';
import { registerIpcHandlers, type IpcMainLike } from '../electron/ipc.js';
import { checkSaveFileRequest, MAX_SAVE_BYTES } from '../electron/save-file.js';
import { isTrustedSender, type SenderLike } from '../electron/security.js';

const tmp = mkdtempSync(join(tmpdir(), 'packetlab-ipc-'));
afterAll(async () => {
  await host.close();
  rmSync(tmp, { recursive: true, force: true });
});

const host = new LabHost({ runsDir: join(tmp, 'runs'), specsDir: join(tmp, 'specs'), peers: () => [] });
const indexUrl = APP_INDEX_URL;
const ourContents = { id: 1 };
const good: SenderLike = { sender: ourContents, senderFrame: { url: indexUrl, parent: null } };
const foreign: SenderLike = { sender: ourContents, senderFrame: { url: 'https://evil.example/', parent: null } };
const subframe: SenderLike = { sender: ourContents, senderFrame: { url: indexUrl, parent: { url: indexUrl, parent: null } } };
const otherFile: SenderLike = { sender: ourContents, senderFrame: { url: pathToFileURL('/home/user/Downloads/x.html').href, parent: null } };

// A PNG's first bytes (signature and the start of IHDR), enough for the check.
const PNG = Buffer.from('89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c489', 'hex');

function setup() {
  const handlers = new Map<string, (event: SenderLike, ...args: unknown[]) => Promise<unknown>>();
  const ipcMain: IpcMainLike = {
    handle: (channel, listener) => {
      if (handlers.has(channel)) throw new Error(`second handler for ${channel}`);
      handlers.set(channel, listener);
    },
    removeHandler: (channel) => handlers.delete(channel),
  };
  const calls: string[] = [];
  const asked: string[] = [];
  const themes: ThemeSource[] = [];
  let answer: string | null = null;
  const dispose = registerIpcHandlers({
    ipcMain,
    host: { call: (m, p) => (calls.push(m), host.call(m, p)) },
    isTrusted: (e) => isTrustedSender(e, { webContents: ourContents }),
    askPath: async ({ defaultName }) => (asked.push(defaultName), answer),
    setTheme: (t) => themes.push(t),
  });
  const invoke = (channel: string, event: SenderLike, ...args: unknown[]) => handlers.get(channel)!(event, ...args) as Promise<Result<any>>;
  return { handlers, calls, asked, themes, invoke, dispose, answer: (a: string | null) => (answer = a) };
}

describe('lab:<method> handlers', () => {
  it('are registered for every API call, desktop:save-file and desktop:set-theme, and removed again', () => {
    const s = setup();
    expect([...s.handlers.keys()].sort()).toEqual([...INVOKE_CHANNELS].sort());
    expect(INVOKE_CHANNELS).toEqual([...API_METHODS.map(labChannel), SAVE_FILE_CHANNEL, SET_THEME_CHANNEL]);
    s.dispose();
    expect(s.handlers.size).toBe(0);
  });

  it('answer our page', async () => {
    const s = setup();
    const knobs = await s.invoke('lab:listKnobs', good, {});
    if (!knobs.ok) throw new Error(knobs.error);
    expect((knobs.value as unknown[]).length).toBeGreaterThan(10);
    const lib = await s.invoke('lab:listLibrary', good);
    expect(lib.ok).toBe(true);
    const runs = await s.invoke('lab:listRuns', good, undefined);
    expect(runs).toEqual({ ok: true, value: [] });
  });

  it('refuse wrong senders without calling the host', async () => {
    const s = setup();
    for (const [name, event] of Object.entries({ foreign, subframe, otherFile, noFrame: { sender: ourContents, senderFrame: null }, otherWindow: { sender: { id: 2 }, senderFrame: { url: indexUrl, parent: null } } })) {
      for (const m of API_METHODS) {
        const r = await s.invoke(labChannel(m), event as SenderLike, {});
        expect(r.ok, `${name} ${m}`).toBe(false);
        expect(r.ok ? '' : r.error).toMatch(/refused/);
      }
    }
    expect(s.calls).toEqual([]);
  });

  it('refuse malformed arguments (LabHost validates them)', async () => {
    const s = setup();
    const cases: [string, unknown[], RegExp][] = [
      ['lab:loadSpec', [{ name: '../../etc/passwd' }], /^loadSpec\.name: /],
      ['lab:loadSpec', [{ name: 'ok', extra: 1 }], /unknown field\(s\) extra/],
      ['lab:stopRun', [{ runId: 'a/b' }], /^stopRun\.runId: must be a run id/],
      ['lab:startRun', [{ text: 'x'.repeat(300 * 1024) }], /^startRun\.text: must be at most 256 KiB/],
      ['lab:exportCsv', [{ runIds: [], which: 'samples' }], /^exportCsv\.runIds/],
      ['lab:setKnob', [{ runId: 'r', path: 'link.loss', value: { nested: true } }], /^setKnob\.value/],
      ['lab:listKnobs', ['a string'], /^listKnobs/],
      ['lab:listKnobs', [{}, { second: 'argument' }], /takes one argument/],
    ];
    for (const [channel, args, error] of cases) {
      const r = await s.invoke(channel, good, ...args);
      expect(r.ok, channel).toBe(false);
      expect(r.ok ? '' : r.error, channel).toMatch(error);
    }
  });
});

describe('desktop:save-file', () => {
  it('writes a CSV where the user chose, adding the extension', async () => {
    const s = setup();
    const target = join(tmp, 'chosen');
    s.answer(target);
    const r = await s.invoke(SAVE_FILE_CHANNEL, good, { suggestedName: 'run-1-samples.csv', kind: 'csv', data: 'time_s,goodput_bps\n0.1,1000\n' });
    expect(r).toEqual({ ok: true, value: { path: `${target}.csv` } });
    expect(readFileSync(`${target}.csv`, 'utf8')).toBe('time_s,goodput_bps\n0.1,1000\n');
    expect(s.asked).toEqual(['run-1-samples.csv']);
  });

  it('writes a PNG from base64, bytes for bytes', async () => {
    const s = setup();
    const target = join(tmp, 'chart.png');
    s.answer(target);
    const r = await s.invoke(SAVE_FILE_CHANNEL, good, { suggestedName: 'chart.png', kind: 'png', data: PNG.toString('base64') });
    expect(r).toEqual({ ok: true, value: { path: target } });
    expect(readFileSync(target).equals(PNG)).toBe(true);
  });

  it('answers null when the user cancels', async () => {
    const s = setup();
    s.answer(null);
    expect(await s.invoke(SAVE_FILE_CHANNEL, good, { suggestedName: 'a.csv', kind: 'csv', data: 'a\n' })).toEqual({ ok: true, value: null });
  });

  it('refuses wrong senders and bad requests before showing a dialog', async () => {
    const s = setup();
    s.answer(join(tmp, 'never'));
    const ok = { suggestedName: 'a.csv', kind: 'csv', data: 'a\n' };
    for (const event of [foreign, subframe, otherFile]) expect((await s.invoke(SAVE_FILE_CHANNEL, event, ok)).ok).toBe(false);
    const bad: [unknown, RegExp][] = [
      [{ ...ok, suggestedName: '../../.bashrc' }, /suggestedName: must be a file name, without/],
      [{ ...ok, suggestedName: 'C:\\Windows\\x.csv' }, /suggestedName: must be a file name, without/],
      [{ ...ok, suggestedName: '..' }, /suggestedName: must be a file name/],
      [{ ...ok, suggestedName: '' }, /suggestedName: must not be empty/],
      [{ ...ok, suggestedName: `${'a'.repeat(197)}.csv` }, /suggestedName: must be at most 200 characters/],
      [{ ...ok, suggestedName: 'a\u0000.csv' }, /control characters/],
      [{ ...ok, kind: 'exe' }, /^saveFile\.kind/],
      [{ ...ok, data: 42 }, /^saveFile\.data/],
      [{ ...ok, path: '/etc/passwd' }, /unknown field\(s\) path/],
      [{ ...ok, kind: 'png', data: 'not base64!' }, /PNG must be given as base64/],
      [{ ...ok, kind: 'png', data: Buffer.from('GIF89a-not-a-png').toString('base64') }, /is not a PNG image/],
      [{ ...ok, kind: 'pcapng', data: Buffer.from('not a capture file').toString('base64') }, /is not a pcapng capture/],
      [{ ...ok, kind: 'pcapng', data: 'not base64!' }, /capture must be given as base64/],
      [{ ...ok, kind: 'pcapng', data: '' }, /is not a pcapng capture/],
      [{ ...ok, kind: 'pcapng', data: 'CgA=' }, /is not a pcapng capture/],
      [{ ...ok, kind: 'png', data: 'iVA=' }, /is not a PNG image/],
      ['a string', /^saveFile/],
      [null, /^saveFile/],
    ];
    for (const [req, error] of bad) {
      const r = await s.invoke(SAVE_FILE_CHANNEL, good, req);
      expect(r.ok, JSON.stringify(req).slice(0, 80)).toBe(false);
      expect(r.ok ? '' : r.error).toMatch(error);
    }
    expect((await s.invoke(SAVE_FILE_CHANNEL, good, ok, 'extra')).ok).toBe(false);
    expect(s.asked).toEqual([]);
    expect(existsSync(join(tmp, 'never'))).toBe(false);
  });

  it('caps files at 64 MiB', () => {
    expect(checkSaveFileRequest({ suggestedName: 'a.csv', kind: 'csv', data: 'a'.repeat(MAX_SAVE_BYTES) }).ok).toBe(true);
    const big = checkSaveFileRequest({ suggestedName: 'a.csv', kind: 'csv', data: 'a'.repeat(MAX_SAVE_BYTES + 1) });
    expect(big.ok ? '' : big.error).toMatch(/larger than 64 MiB/);
    // Multi-byte text counts in bytes.
    const wide = checkSaveFileRequest({ suggestedName: 'a.csv', kind: 'csv', data: 'é'.repeat(MAX_SAVE_BYTES / 2 + 1) });
    expect(wide.ok ? '' : wide.error).toMatch(/larger than 64 MiB/);
    const png = checkSaveFileRequest({ suggestedName: 'a.png', kind: 'png', data: 'A'.repeat((MAX_SAVE_BYTES / 3) * 4 + 8) });
    expect(png.ok ? '' : png.error).toMatch(/larger than 64 MiB/);
  });
});

describe('desktop:set-theme', () => {
  it("sets the window's theme to the page's choice", async () => {
    const s = setup();
    for (const t of ['dark', 'light', 'system'] as const) expect(await s.invoke(SET_THEME_CHANNEL, good, t)).toEqual({ ok: true, value: null });
    expect(s.themes).toEqual(['dark', 'light', 'system']);
    s.dispose();
  });

  it('refuses wrong senders, other values and extra arguments without changing anything', async () => {
    const s = setup();
    for (const event of [foreign, subframe, otherFile]) expect(await s.invoke(SET_THEME_CHANNEL, event, 'dark')).toEqual({ ok: false, error: "desktop:set-theme: refused: the message did not come from the lab's own page" });
    for (const bad of ['purple', '', 3, null, { theme: 'dark' }]) expect(await s.invoke(SET_THEME_CHANNEL, good, bad)).toEqual({ ok: false, error: 'setTheme: must be one of system, light, dark' });
    expect(await s.invoke(SET_THEME_CHANNEL, good, 'dark', 'light')).toEqual({ ok: false, error: 'desktop:set-theme: takes one argument (an object)' });
    expect(s.themes).toEqual([]);
    s.dispose();
  });
});
