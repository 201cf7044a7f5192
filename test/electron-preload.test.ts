// The sandboxed preload (electron/preload.cts), run the way Electron runs it: CommonJS source
// wrapped in `function (require, process, Buffer, global, setImmediate, clearImmediate, exports,
// module)`, with a require that knows only 'electron'. What it exposes must be exactly one
// function per call of the host API, plus onRunBatch, and the desktop extras; never ipcRenderer.

import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { createContext, Script } from 'node:vm';
import ts from 'typescript';
import { API_METHODS } from '../experiments/api/contract.js';
import { labChannel, MENU_ACTIONS, MENU_CHANNEL, RUN_BATCH_CHANNEL, SAVE_FILE_CHANNEL, SET_THEME_CHANNEL } from '../electron/channels.js';

type Fn = (...args: unknown[]) => unknown;

function loadPreload() {
  const source = readFileSync(new URL('../electron/preload.cts', import.meta.url), 'utf8');
  const js = ts.transpileModule(source, { compilerOptions: { module: ts.ModuleKind.CommonJS, target: ts.ScriptTarget.ES2022 }, fileName: 'preload.cts' }).outputText;
  const exposed = new Map<string, Record<string, unknown>>();
  const invoked: { channel: string; args: unknown[] }[] = [];
  const listeners = new Map<string, Set<Fn>>();
  const required: string[] = [];
  const ipcRenderer = {
    invoke: (channel: string, ...args: unknown[]) => {
      invoked.push({ channel, args });
      return Promise.resolve({ ok: true, value: channel });
    },
    on: (channel: string, l: Fn) => {
      if (!listeners.has(channel)) listeners.set(channel, new Set());
      listeners.get(channel)!.add(l);
    },
    removeListener: (channel: string, l: Fn) => listeners.get(channel)?.delete(l),
    send: () => {
      throw new Error('the preload must not send');
    },
  };
  const electron = {
    contextBridge: { exposeInMainWorld: (key: string, api: Record<string, unknown>) => exposed.set(key, api) },
    ipcRenderer,
  };
  const sandboxRequire = (name: string) => {
    required.push(name);
    if (name === 'electron') return electron;
    throw new Error(`a sandboxed preload cannot require ${name}`);
  };
  const wrapped = new Script(`(function (require, process, Buffer, global, setImmediate, clearImmediate, exports, module) {\n${js}\n})`, { filename: 'preload.cjs' });
  const fn = wrapped.runInContext(createContext({})) as Fn;
  const exportsObject = {};
  fn(sandboxRequire, {}, undefined, {}, undefined, undefined, exportsObject, { exports: exportsObject });
  const deliver = (channel: string, payload: unknown) => {
    for (const l of listeners.get(channel) ?? []) l({ sender: 'the IPC event', ports: [] }, payload);
  };
  return { exposed, invoked, listeners, required, ipcRenderer, deliver };
}

describe('preload', () => {
  it('requires nothing but electron and exposes window.packetlab and window.packetlabDesktop only', () => {
    const p = loadPreload();
    expect(p.required).toEqual(['electron']);
    expect([...p.exposed.keys()].sort()).toEqual(['packetlab', 'packetlabDesktop']);
  });

  it('has one function per API call (the list equals API_METHODS) and onRunBatch', () => {
    const lab = loadPreload().exposed.get('packetlab')!;
    expect(Object.keys(lab).sort()).toEqual([...API_METHODS, 'onRunBatch'].sort());
    expect(Object.keys(lab).filter((k) => k !== 'onRunBatch')).toEqual([...API_METHODS]);
    for (const v of Object.values(lab)) expect(typeof v).toBe('function');
  });

  it('never exposes ipcRenderer or its methods', () => {
    const p = loadPreload();
    for (const api of p.exposed.values()) {
      for (const [k, v] of Object.entries(api)) {
        expect(v, k).not.toBe(p.ipcRenderer);
        for (const m of Object.values(p.ipcRenderer)) expect(v, k).not.toBe(m);
        expect(['invoke', 'send', 'sendSync', 'on', 'ipcRenderer']).not.toContain(k);
      }
    }
  });

  it('calls invoke on lab:<method> with exactly one argument', async () => {
    const p = loadPreload();
    const lab = p.exposed.get('packetlab')!;
    for (const m of API_METHODS) {
      const r = await (lab[m] as Fn)({ probe: m }, 'an extra argument the page added');
      expect(r).toEqual({ ok: true, value: labChannel(m) });
    }
    expect(p.invoked.map((i) => i.channel)).toEqual(API_METHODS.map(labChannel));
    for (const i of p.invoked) expect(i.args).toHaveLength(1);
  });

  it('onRunBatch hands over the batch, never the event, and unsubscribes', () => {
    const p = loadPreload();
    const lab = p.exposed.get('packetlab')!;
    const got: unknown[][] = [];
    const off = (lab.onRunBatch as Fn)((...args: unknown[]) => got.push(args)) as () => void;
    const batch = { runId: 'r1', samples: [], events: [], packets: [] };
    p.deliver(RUN_BATCH_CHANNEL, batch);
    p.deliver(RUN_BATCH_CHANNEL, 'not a batch');
    expect(got).toEqual([[batch]]);
    off();
    off();
    p.deliver(RUN_BATCH_CHANNEL, batch);
    expect(got).toHaveLength(1);
    expect(p.listeners.get(RUN_BATCH_CHANNEL)?.size ?? 0).toBe(0);
    expect(() => (lab.onRunBatch as Fn)('not a function')).toThrow(/function/);
  });

  it('packetlabDesktop: saveFile and setTheme invoke their channels; onMenu passes known actions only', async () => {
    const p = loadPreload();
    const desktop = p.exposed.get('packetlabDesktop')!;
    expect(Object.keys(desktop).sort()).toEqual(['onMenu', 'saveFile', 'setTheme']);
    const req = { suggestedName: 'a.csv', kind: 'csv', data: 'x\n1\n' };
    await (desktop.saveFile as Fn)(req);
    await (desktop.setTheme as Fn)('dark', 'an extra argument');
    expect(p.invoked).toEqual([
      { channel: SAVE_FILE_CHANNEL, args: [req] },
      { channel: SET_THEME_CHANNEL, args: ['dark'] },
    ]);
    const actions: unknown[][] = [];
    const off = (desktop.onMenu as Fn)((...a: unknown[]) => actions.push(a)) as () => void;
    for (const a of MENU_ACTIONS) p.deliver(MENU_CHANNEL, a);
    p.deliver(MENU_CHANNEL, 'format-disk');
    p.deliver(MENU_CHANNEL, { action: 'export-csv' });
    expect(actions).toEqual(MENU_ACTIONS.map((a) => [a]));
    off();
    expect(p.listeners.get(MENU_CHANNEL)?.size ?? 0).toBe(0);
  });
});
