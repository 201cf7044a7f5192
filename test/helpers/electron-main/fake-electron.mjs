// A stand-in for the 'electron' module, so that the built main process (dist/electron/main.js) runs
// under plain Node in the tests, where Electron's binary cannot be downloaded. It keeps the rules of
// Electron that the main process depends on and that are easy to break:
// - `protocol.registerSchemesAsPrivileged` only before `ready`; `protocol.handle`, `session`,
//   `BrowserWindow` only after it;
// - a window load passes every request (the page and the scripts, styles and icons it names)
//   through `webRequest.onBeforeRequest` and `onHeadersReceived`, then to the handler of its scheme
//   (`protocol.handle`) or to the disk for file: URLs, and fails as Chromium does when a request is
//   cancelled or not found;
// - `loadFile` forms the file: URL as Chromium does (it leaves `~ [ ] ^ |` alone; Node's
//   pathToFileURL encodes them);
// - every web contents is announced with app 'web-contents-created';
// - `app.quit()` emits before-quit and will-quit, either of which may be prevented, then quit;
// - an unhandled rejection is reported, not fatal (Electron's main process only warns).
//
// The test process drives it over the child's IPC channel (`process.send`): see the `ops` table.
// Whatever the main process sends to the page (`webContents.send`), shows in a dialog or leaves
// unhandled is forwarded to the test as an event.

import { EventEmitter } from 'node:events';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const env = process.env;
// FAKE_ELECTRON_PLATFORM=darwin runs the main process as it runs on macOS.
if (env.FAKE_ELECTRON_PLATFORM !== undefined) Object.defineProperty(process, 'platform', { value: env.FAKE_ELECTRON_PLATFORM });
const record = { enableSandbox: false, name: null, shown: [], unhandled: [], sent: [], savePath: null, menu: null, privileged: [], fatal: [] };

function notify(event) {
  if (process.send !== undefined) process.send({ event });
}

process.on('unhandledRejection', (reason) => {
  const text = reason instanceof Error ? (reason.stack ?? reason.message) : String(reason);
  record.unhandled.push(text);
  notify({ type: 'unhandled-rejection', reason: text });
});

let ready = false;
let resolveReady;
const whenReadyPromise = new Promise((r) => (resolveReady = r));

function requireReady(what) {
  if (!ready) throw new Error(`${what} cannot be used before the app is ready`);
}

// ---- app ----

class App extends EventEmitter {
  isPackaged = env.FAKE_ELECTRON_PACKAGED === '1';
  commandLine = { switches: [], appendSwitch: (s, v) => this.commandLine.switches.push([s, v]) };
  #quitting = false;

  setName(n) {
    record.name = n;
  }
  getName() {
    return record.name ?? 'Electron';
  }
  getVersion() {
    return env.FAKE_ELECTRON_APP_VERSION ?? '0.0.0';
  }
  getAppPath() {
    return env.FAKE_ELECTRON_APP_PATH ?? process.cwd();
  }
  getPath(name) {
    return join(env.FAKE_ELECTRON_HOME ?? '/nonexistent', name);
  }
  enableSandbox() {
    if (ready) throw new Error('app.enableSandbox() must be called before the app is ready');
    record.enableSandbox = true;
  }
  requestSingleInstanceLock() {
    return true;
  }
  isReady() {
    return ready;
  }
  whenReady() {
    return whenReadyPromise;
  }
  quit() {
    if (this.#quitting) return;
    const before = { defaultPrevented: false, preventDefault() { this.defaultPrevented = true; } };
    this.emit('before-quit', before);
    if (before.defaultPrevented) return;
    const will = { defaultPrevented: false, preventDefault() { this.defaultPrevented = true; } };
    this.emit('will-quit', will);
    if (will.defaultPrevented) return;
    this.#quitting = true;
    this.emit('quit', {}, 0);
    notify({ type: 'quit' });
    setImmediate(() => process.exit(0));
  }
  exit(code = 0) {
    notify({ type: 'exit', code });
    setImmediate(() => process.exit(code));
  }
}

export const app = new App();

// ---- protocol and session ----

const handlers = new Map();

export const protocol = {
  registerSchemesAsPrivileged(schemes) {
    if (ready) throw new Error('protocol.registerSchemesAsPrivileged must be called before the app is ready');
    record.privileged.push(...schemes);
  },
  handle(scheme, handler) {
    requireReady('protocol.handle');
    if (handlers.has(scheme)) throw new Error(`the scheme ${scheme} is handled already`);
    handlers.set(scheme, handler);
  },
  unhandle(scheme) {
    handlers.delete(scheme);
  },
  isProtocolHandled(scheme) {
    return handlers.has(scheme);
  },
};

const webRequest = {
  before: null,
  headers: null,
  onBeforeRequest(filter, listener) {
    this.before = listener ?? filter;
  },
  onHeadersReceived(filter, listener) {
    this.headers = listener ?? filter;
  },
};

const defaultSession = {
  permissionRequest: null,
  permissionCheck: null,
  devicePermission: null,
  protocol,
  webRequest,
  setPermissionRequestHandler(h) {
    this.permissionRequest = h;
  },
  setPermissionCheckHandler(h) {
    this.permissionCheck = h;
  },
  setDevicePermissionHandler(h) {
    this.devicePermission = h;
  },
};

export const session = {
  get defaultSession() {
    requireReady('session.defaultSession');
    return defaultSession;
  },
};

/** The file: URL Chromium forms for a path: the URL parser's own escaping, nothing more. */
function chromiumFileUrl(path) {
  return new URL(`file://${path.replace(/%/g, '%25').replace(/#/g, '%23').replace(/\?/g, '%3F')}`).href;
}

const TYPES = { '.html': 'text/html', '.js': 'text/javascript', '.css': 'text/css', '.png': 'image/png', '.svg': 'image/svg+xml', '.json': 'application/json' };

/** One request as the page's loader makes it: the filter, the scheme's handler or the disk, the headers filter. */
async function request(url, resourceType) {
  if (webRequest.before !== null) {
    const verdict = await new Promise((r) => webRequest.before({ url, resourceType, method: 'GET' }, r));
    if (verdict?.cancel === true) return { url, status: 0, error: 'net::ERR_BLOCKED_BY_CLIENT' };
  }
  const scheme = url.slice(0, url.indexOf(':'));
  let status;
  let headers = {};
  let body;
  if (handlers.has(scheme)) {
    let res;
    try {
      res = await handlers.get(scheme)(new Request(url));
    } catch (e) {
      return { url, status: 0, error: `net::ERR_FAILED (the handler threw: ${e.message})` };
    }
    status = res.status;
    res.headers.forEach((v, k) => (headers[k] = [v]));
    body = Buffer.from(await res.arrayBuffer());
  } else if (scheme === 'file') {
    try {
      body = await readFile(fileURLToPath(url));
      status = 200;
      const ext = url.slice(url.lastIndexOf('.'));
      headers['content-type'] = [TYPES[ext] ?? 'application/octet-stream'];
    } catch {
      return { url, status: 0, error: 'net::ERR_FILE_NOT_FOUND' };
    }
  } else return { url, status: 0, error: 'net::ERR_UNKNOWN_URL_SCHEME' };
  if (webRequest.headers !== null) {
    const out = await new Promise((r) => webRequest.headers({ url, resourceType, statusCode: status, responseHeaders: headers }, r));
    if (out?.cancel === true) return { url, status: 0, error: 'net::ERR_BLOCKED_BY_CLIENT' };
    if (out?.responseHeaders !== undefined) headers = out.responseHeaders;
  }
  return { url, status, headers, body };
}

/** The scripts, styles and icons a page names, as absolute URLs. */
function subresources(html, base) {
  const out = [];
  for (const m of html.matchAll(/<(script|link)\b[^>]*>/gi)) {
    const src = /\b(?:src|href)\s*=\s*"([^"]*)"/i.exec(m[0]);
    if (src !== null) out.push({ url: new URL(src[1], base).href, type: m[1].toLowerCase() === 'script' ? 'script' : 'stylesheet' });
  }
  return out;
}

// ---- windows and web contents ----

let nextId = 1;
const windows = new Set();

class WebContents extends EventEmitter {
  id = nextId++;
  #url = '';
  #destroyed = false;
  openHandler = null;
  mainFrame = { url: '', parent: null, routingId: 1 };
  loads = [];

  getURL() {
    return this.#url;
  }
  setURL(url) {
    this.#url = url;
    this.mainFrame = { url, parent: null, routingId: 1 };
  }
  send(channel, payload) {
    record.sent.push(channel);
    notify({ type: 'send', channel, payload });
  }
  setWindowOpenHandler(h) {
    this.openHandler = h;
  }
  isDestroyed() {
    return this.#destroyed;
  }
  destroy() {
    this.#destroyed = true;
  }
}

export class BrowserWindow extends EventEmitter {
  static getAllWindows() {
    return [...windows];
  }

  #destroyed = false;
  visible = false;

  constructor(options = {}) {
    super();
    requireReady('new BrowserWindow');
    this.options = options;
    this.id = nextId++;
    this.webContents = new WebContents();
    windows.add(this);
    app.emit('web-contents-created', {}, this.webContents);
  }

  async loadURL(url) {
    const page = await request(url, 'mainFrame');
    this.webContents.loads.push({ url, status: page.status, error: page.error ?? null, headers: page.headers ?? {} });
    if (page.status !== 200) {
      const why = page.error ?? `HTTP ${page.status}`;
      this.webContents.emit('did-fail-load', {}, -1, why, url);
      throw new Error(`${why} loading '${url}'`);
    }
    for (const sub of subresources(page.body.toString('utf8'), url)) {
      const r = await request(sub.url, sub.type);
      this.webContents.loads.push({ url: sub.url, status: r.status, error: r.error ?? null, headers: r.headers ?? {} });
    }
    this.webContents.setURL(url);
    this.webContents.emit('did-finish-load');
    this.emit('ready-to-show');
  }
  loadFile(path) {
    return this.loadURL(chromiumFileUrl(path));
  }
  show() {
    this.visible = true;
  }
  isDestroyed() {
    return this.#destroyed;
  }
  isMinimized() {
    return false;
  }
  restore() {}
  focus() {}
  close() {
    if (this.#destroyed) return;
    this.#destroyed = true;
    this.webContents.destroy();
    windows.delete(this);
    this.emit('closed');
    if (windows.size === 0) app.emit('window-all-closed');
  }
}

// ---- ipcMain, dialogs, menus, theme, shell ----

const ipcHandlers = new Map();

export const ipcMain = {
  handle(channel, fn) {
    if (ipcHandlers.has(channel)) throw new Error(`Attempted to register a second handler for '${channel}'`);
    ipcHandlers.set(channel, fn);
  },
  removeHandler(channel) {
    ipcHandlers.delete(channel);
  },
  on() {
    throw new Error('the main process should answer with ipcMain.handle only');
  },
};

export const dialog = {
  showErrorBox(title, content) {
    record.shown.push({ kind: 'error', title, content });
    notify({ type: 'dialog', kind: 'error', title, content });
  },
  async showMessageBox(win, options) {
    const o = options ?? win;
    record.shown.push({ kind: 'message', ...o });
    notify({ type: 'dialog', kind: 'message', title: o.title, content: `${o.message}\n${o.detail ?? ''}` });
    return { response: 0, checkboxChecked: false };
  },
  async showSaveDialog(win, options) {
    const o = options ?? win;
    record.shown.push({ kind: 'save', defaultPath: o.defaultPath });
    return record.savePath === null ? { canceled: true, filePath: '' } : { canceled: false, filePath: record.savePath };
  },
};

export const Menu = {
  buildFromTemplate(template) {
    return { template };
  },
  setApplicationMenu(menu) {
    record.menu = menu;
  },
};

export const nativeTheme = new (class extends EventEmitter {
  themeSource = 'system';
  get shouldUseDarkColors() {
    return this.themeSource === 'dark';
  }
})();

export const shell = {
  revealed: [],
  showItemInFolder(path) {
    this.revealed.push(path);
    notify({ type: 'reveal', path });
  },
  async openPath(path) {
    this.revealed.push(path);
    return '';
  },
  async openExternal() {
    throw new Error('the app must not open external URLs');
  },
};

if (env.FAKE_ELECTRON_RESOURCES !== undefined) process.resourcesPath = env.FAKE_ELECTRON_RESOURCES;

// ---- the test's controls ----

function findMenuItem(items, labels) {
  const [first, ...rest] = labels;
  const item = (items ?? []).find((i) => i.label === first || i.role === first);
  if (item === undefined) throw new Error(`no menu item "${first}" among ${(items ?? []).map((i) => i.label ?? i.role).join(', ')}`);
  return rest.length === 0 ? item : findMenuItem(item.submenu, rest);
}

function mainWindow() {
  const w = [...windows][0];
  if (w === undefined) throw new Error('no window is open');
  return w;
}

const ops = {
  /** What the main process set up. */
  state() {
    return {
      ready,
      name: record.name,
      enableSandbox: record.enableSandbox,
      privileged: record.privileged,
      handledSchemes: [...handlers.keys()],
      ipcChannels: [...ipcHandlers.keys()],
      windows: [...windows].map((w) => ({ options: w.options, visible: w.visible, url: w.webContents.getURL(), loads: w.webContents.loads })),
      menu: record.menu?.template ?? null,
      themeSource: nativeTheme.themeSource,
      dialogs: record.shown,
      unhandled: record.unhandled,
      revealed: shell.revealed,
      permissions: {
        request: defaultSession.permissionRequest === null ? null : 'set',
        check: defaultSession.permissionCheck === null ? null : defaultSession.permissionCheck(null, 'media', 'x', {}),
        device: defaultSession.devicePermission === null ? null : defaultSession.devicePermission({}),
      },
    };
  },
  /** A request as the page would make it. */
  async request({ url, resourceType = 'xhr' }) {
    const r = await request(url, resourceType);
    return { status: r.status, error: r.error ?? null, headers: r.headers ?? {}, body: r.body === undefined ? null : r.body.toString('utf8').slice(0, 4096), bytes: r.body?.length ?? 0 };
  },
  /** What a permission request is answered. */
  async permission({ permission }) {
    return new Promise((r) => defaultSession.permissionRequest(mainWindow().webContents, permission, r, {}));
  },
  /** A web-contents event (will-navigate, will-redirect, will-attach-webview) on the window's page; was it prevented? */
  navigate({ event, url }) {
    const e = { url, defaultPrevented: false, preventDefault() { this.defaultPrevented = true; } };
    mainWindow().webContents.emit(event, e, url);
    return { prevented: e.defaultPrevented };
  },
  /** What the page's window.open gets. */
  open({ url }) {
    const h = mainWindow().webContents.openHandler;
    return h === null ? { action: 'allow (no handler)' } : h({ url, frameName: '', features: '', disposition: 'new-window' });
  },
  /** An IPC invoke from the window's main frame, a subframe, another page or another web contents. */
  async invoke({ channel, args = [], from = 'window', frameUrl }) {
    const fn = ipcHandlers.get(channel);
    if (fn === undefined) throw new Error(`No handler registered for '${channel}'`);
    const w = mainWindow();
    const url = frameUrl ?? w.webContents.getURL();
    const sender = from === 'other-contents' ? new WebContents() : w.webContents;
    const senderFrame = from === 'subframe' ? { url, parent: { url } } : { url, parent: null };
    return fn({ sender, senderFrame, processId: 1, frameId: 1 }, ...args);
  },
  /** Clicks a menu item by its labels (roles for items without one). */
  menu({ labels }) {
    const item = findMenuItem(record.menu?.template, labels);
    if (typeof item.click !== 'function') throw new Error(`menu item ${labels.join(' > ')} has no click`);
    item.click(item, mainWindow(), {});
    return null;
  },
  /** The path the next save dialog answers (null: cancel). */
  savePath({ path }) {
    record.savePath = path;
    return null;
  },
  /** macOS's dock click. */
  activate() {
    app.emit('activate', {}, windows.size > 0);
    return null;
  },
  /** The user closes the window. */
  close() {
    mainWindow().close();
    return null;
  },
  /** The user quits. */
  quit() {
    app.quit();
    return null;
  },
};

process.on('message', async (m) => {
  if (typeof m !== 'object' || m === null || typeof m.op !== 'string') return;
  try {
    const op = ops[m.op];
    if (op === undefined) throw new Error(`no op ${m.op}`);
    const value = await op(m.args ?? {});
    process.send({ id: m.id, ok: true, value });
  } catch (e) {
    process.send({ id: m.id, ok: false, error: e instanceof Error ? e.message : String(e) });
  }
});

// Electron becomes ready after the main script's first turn.
setTimeout(() => {
  ready = true;
  app.emit('ready', {}, {});
  resolveReady();
}, 0);
