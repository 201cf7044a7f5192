// The Electron main process of Packet Lab: one window showing the built renderer through the
// app's own packetlab: scheme (app-protocol.ts), the lab API over IPC (LabHost, runs in worker
// threads), save dialogs and the menu. Thin on purpose: the settings and checks live in plain
// modules the tests import (security.ts, app-protocol.ts, ipc.ts, save-file.ts, menu.ts,
// channels.ts), and test/electron-main.test.ts runs this file as built, with a stand-in Electron.

import { app, BrowserWindow, dialog, ipcMain, Menu, nativeTheme, protocol, session, shell } from 'electron';
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { LabHost } from '../experiments/api/host.js';
import type { PeerInfo } from '../experiments/api/contract.js';
import { CONTENT_SECURITY_POLICY } from '../experiments/api/page.js';
import { defaultRunsDir, defaultSpecsDir } from '../experiments/runner/store.js';
import { BEACON_PORT } from '../core/peer/beacon.js';
import { PeerBeaconListener } from '../net/peer/beacon.js';
import { crc32cImplementation } from '../core/wire/packet.js';
import { APP_INDEX_URL, APP_SCHEME, APP_SCHEME_PRIVILEGES, appRequestHandler } from './app-protocol.js';
import { MENU_CHANNEL, RUN_BATCH_CHANNEL, type MenuAction } from './channels.js';
import { registerIpcHandlers } from './ipc.js';
import { aboutText, menuTemplate } from './menu.js';
import { appFiles, metaContentSecurityPolicy } from './renderer-page.js';
import { isAllowedRequest, isTrustedSender, permissionCheckHandler, permissionRequestHandler, windowOptions, withContentSecurityPolicy } from './security.js';

const APP_NAME = 'Packet Lab';
const files = appFiles(import.meta.url, app.isPackaged ? { resourcesPath: process.resourcesPath } : null);

let win: BrowserWindow | null = null;
let host: LabHost | null = null;
let beacons: PeerBeaconListener | null = null;
let beaconError: string | null = null;

app.setName(APP_NAME);
// Every renderer sandboxed, whatever its options say.
app.enableSandbox();
// Before ready, as Electron requires: the page's scheme is a standard, secure origin.
protocol.registerSchemesAsPrivileged([{ scheme: APP_SCHEME, privileges: { ...APP_SCHEME_PRIVILEGES } }]);

function sendToPage(channel: string, payload: unknown): void {
  if (win !== null && !win.isDestroyed()) win.webContents.send(channel, payload);
}

/** Shows a failure the user must see; the app goes on unless it is quitting anyway. */
function showError(what: string, e: unknown): void {
  dialog.showErrorBox(APP_NAME, `${what}: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`);
}

function hardenContents(): void {
  // Applies to every web contents the app ever creates (the window, devtools, anything else).
  app.on('web-contents-created', (_event, contents) => {
    contents.on('will-navigate', (e) => e.preventDefault());
    contents.on('will-redirect', (e) => e.preventDefault());
    contents.on('will-attach-webview', (e) => e.preventDefault());
    contents.setWindowOpenHandler(() => ({ action: 'deny' }));
  });
}

function hardenSession(): void {
  const ses = session.defaultSession;
  ses.setPermissionRequestHandler(permissionRequestHandler);
  ses.setPermissionCheckHandler(permissionCheckHandler);
  ses.setDevicePermissionHandler(() => false);
  ses.webRequest.onBeforeRequest((details, callback) => callback({ cancel: !isAllowedRequest(details.url) }));
  ses.webRequest.onHeadersReceived((details, callback) => callback({ responseHeaders: withContentSecurityPolicy(details.responseHeaders) }));
  protocol.handle(APP_SCHEME, appRequestHandler(files.rendererDir));
}

async function checkPage(): Promise<boolean> {
  let html: string;
  try {
    html = await readFile(files.indexPath, 'utf8');
  } catch {
    dialog.showErrorBox(APP_NAME, `${files.indexPath} is missing: run \`npm run build\` first.`);
    return false;
  }
  // The page should carry the policy itself too, as a second line of defence behind the header.
  const meta = metaContentSecurityPolicy(html);
  if (meta === null) console.warn(`packetlab: ${files.indexPath} has no Content-Security-Policy meta tag; the policy is set as a header only`);
  else if (!CONTENT_SECURITY_POLICY.startsWith(meta.replace(/;?\s*$/, ''))) console.warn(`packetlab: the page's own Content-Security-Policy differs from the app's: ${meta}`);
  return true;
}

async function startHost(): Promise<LabHost> {
  try {
    beacons = await PeerBeaconListener.start({ port: BEACON_PORT });
  } catch (e) {
    beaconError = (e as Error).message;
  }
  const peers = (): PeerInfo[] => {
    if (beacons === null) throw new Error(beaconError ?? 'not listening for peer beacons');
    return beacons.peers().map((p) => ({ address: p.address, port: p.controlPort, name: p.name, version: p.version, lastSeenMs: p.lastSeenMs }));
  };
  const h = new LabHost({ runsDir: defaultRunsDir(), specsDir: defaultSpecsDir(), peers });
  h.onRunBatch((batch) => sendToPage(RUN_BATCH_CHANNEL, batch));
  return h;
}

function buildMenu(): void {
  const template = menuTemplate(
    { isMac: process.platform === 'darwin', isDev: !app.isPackaged, appName: APP_NAME },
    {
      exportCsv: () => sendToPage(MENU_CHANNEL, 'export-csv' satisfies MenuAction),
      // The page owns the theme (its own selector, kept in localStorage); it toggles and then
      // tells main through setTheme, so that menu, page and window chrome agree.
      toggleDarkMode: () => sendToPage(MENU_CHANNEL, 'toggle-dark-mode' satisfies MenuAction),
      showDissector: () => {
        if (existsSync(files.dissectorPath)) shell.showItemInFolder(files.dissectorPath);
        else dialog.showErrorBox(APP_NAME, `The Wireshark dissector is missing from this installation (${files.dissectorPath}).`);
      },
      about: () => {
        const options = { type: 'info' as const, title: `About ${APP_NAME}`, message: APP_NAME, detail: aboutText(APP_NAME, app.getVersion(), process.versions, crc32cImplementation()) };
        void (win !== null ? dialog.showMessageBox(win, options) : dialog.showMessageBox(options));
      },
    },
  );
  Menu.setApplicationMenu(Menu.buildFromTemplate(template));
}

async function createWindow(): Promise<void> {
  const options = windowOptions(files.preloadPath, { dark: nativeTheme.shouldUseDarkColors, ...(existsSync(files.iconPath) ? { iconPath: files.iconPath } : {}) });
  const w = new BrowserWindow({
    ...options,
    // The settings of security.ts, with the essential ones spelled out here as well so that they
    // hold whatever else changes and static checkers (electronegativity) can see them.
    webPreferences: {
      ...options.webPreferences,
      contextIsolation: true,
      sandbox: true,
      nodeIntegration: false,
      nodeIntegrationInWorker: false,
      nodeIntegrationInSubFrames: false,
      webSecurity: true,
      allowRunningInsecureContent: false,
      experimentalFeatures: false,
      webviewTag: false,
      disableBlinkFeatures: 'Auxclick',
    },
  });
  win = w;
  w.once('ready-to-show', () => w.show());
  w.on('closed', () => {
    if (win === w) win = null;
  });
  await w.loadURL(APP_INDEX_URL);
}

async function main(): Promise<void> {
  if (!app.requestSingleInstanceLock()) {
    app.quit();
    return;
  }
  app.on('second-instance', () => {
    if (win === null) return;
    if (win.isMinimized()) win.restore();
    win.focus();
  });
  hardenContents();
  await app.whenReady();
  hardenSession();
  if (!(await checkPage())) {
    app.quit();
    return;
  }
  host = await startHost();
  const h = host;
  registerIpcHandlers({
    ipcMain,
    host: h,
    isTrusted: (event) => win !== null && !win.isDestroyed() && isTrustedSender(event, { webContents: win.webContents }),
    askPath: async ({ defaultName, filters }) => {
      const options = { defaultPath: join(app.getPath('documents'), defaultName), filters };
      const r = win !== null ? await dialog.showSaveDialog(win, options) : await dialog.showSaveDialog(options);
      return r.canceled || r.filePath === undefined || r.filePath === '' ? null : r.filePath;
    },
    setTheme: (theme) => {
      nativeTheme.themeSource = theme;
    },
  });
  buildMenu();
  await createWindow();
  // macOS: the dock icon reopens the window; a failure to is shown, never left unhandled.
  app.on('activate', () => {
    if (win === null) createWindow().catch((e: unknown) => showError('Packet Lab could not open its window', e));
  });
}

app.on('window-all-closed', () => {
  if (process.platform !== 'darwin') app.quit();
});

// Stop the runs (their results are written as stopped) before leaving.
let closing = false;
app.on('will-quit', (event) => {
  if (closing || (host === null && beacons === null)) return;
  event.preventDefault();
  closing = true;
  void (async () => {
    await host?.close().catch(() => undefined);
    await beacons?.close().catch(() => undefined);
    host = null;
    beacons = null;
    app.quit();
  })();
});

main().catch((e: unknown) => {
  showError('Packet Lab could not start', e);
  app.exit(1);
});
