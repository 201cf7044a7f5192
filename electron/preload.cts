// The preload of the desktop window: sandboxed, so it is CommonJS (compiled to
// dist/electron/preload.cjs) and may require nothing but 'electron'. It exposes one function per
// call of the host API (`window.packetlab`, the LabApi of experiments/api/contract.ts) and the
// desktop extras (`window.packetlabDesktop`); never ipcRenderer itself, and no listener ever sees
// the IPC event object. The lists below repeat electron/channels.ts and the contract's
// API_METHODS, which a sandboxed preload cannot import; test/electron-preload.test.ts keeps them equal.

// Electron runs a sandboxed preload as the body of
// `function (require, process, Buffer, global, setImmediate, clearImmediate, exports, module)`.
const { contextBridge, ipcRenderer } = require('electron') as typeof import('electron');

/** The calls of the host API (API_METHODS). */
const LAB_METHODS = ['listLibrary', 'listKnobs', 'validateSpec', 'loadSpec', 'saveSpec', 'startRun', 'getCapture', 'pauseRun', 'resumeRun', 'stepRun', 'setSpeed', 'simState', 'packetAction', 'setKnob', 'replicaFault', 'stopRun', 'listRuns', 'openRun', 'exportCsv', 'listPeers', 'listPresets', 'listSpecs'] as const;
const LAB_CHANNEL_PREFIX = 'lab:';
const RUN_BATCH_CHANNEL = 'lab:run-batch';
const SAVE_FILE_CHANNEL = 'desktop:save-file';
const MENU_CHANNEL = 'desktop:menu';
const SET_THEME_CHANNEL = 'desktop:set-theme';
const MENU_ACTIONS: readonly string[] = ['export-csv', 'toggle-dark-mode'];

type Listener = (event: unknown, payload: unknown) => void;

/** Subscribes `callback` to a channel with the payload only; returns the unsubscribe function. */
function subscribe(channel: string, callback: unknown, accept: (payload: unknown) => boolean): () => void {
  if (typeof callback !== 'function') throw new TypeError('the listener must be a function');
  const listener: Listener = (_event, payload) => {
    if (accept(payload)) (callback as (p: unknown) => void)(payload);
  };
  ipcRenderer.on(channel, listener);
  let subscribed = true;
  return () => {
    if (!subscribed) return;
    subscribed = false;
    ipcRenderer.removeListener(channel, listener);
  };
}

const lab: Record<string, unknown> = {};
for (const method of LAB_METHODS) {
  const channel = LAB_CHANNEL_PREFIX + method;
  lab[method] = (params?: unknown): Promise<unknown> => ipcRenderer.invoke(channel, params);
}
lab.onRunBatch = (callback: unknown): (() => void) => subscribe(RUN_BATCH_CHANNEL, callback, (b) => typeof b === 'object' && b !== null);

const desktop = {
  saveFile: (request: unknown): Promise<unknown> => ipcRenderer.invoke(SAVE_FILE_CHANNEL, request),
  onMenu: (callback: unknown): (() => void) => subscribe(MENU_CHANNEL, callback, (a) => typeof a === 'string' && MENU_ACTIONS.includes(a)),
  setTheme: (theme: unknown): Promise<unknown> => ipcRenderer.invoke(SET_THEME_CHANNEL, theme),
};

contextBridge.exposeInMainWorld('packetlab', lab);
contextBridge.exposeInMainWorld('packetlabDesktop', desktop);
