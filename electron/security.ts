// The security settings of the desktop window, as plain functions the tests check without Electron
// (Electron's security checklist: https://www.electronjs.org/docs/latest/tutorial/security).
// electron/main.ts only wires them in.

import type { BrowserWindowConstructorOptions, WebPreferences } from 'electron';
import { CONTENT_SECURITY_POLICY } from '../experiments/api/page.js';
import { isAppIndexUrl, isAppUrl } from './app-protocol.js';

/** The renderer's settings: isolated, sandboxed, no Node, web security on. */
export function webPreferences(preloadPath: string): WebPreferences {
  return {
    preload: preloadPath,
    contextIsolation: true,
    sandbox: true,
    nodeIntegration: false,
    nodeIntegrationInWorker: false,
    nodeIntegrationInSubFrames: false,
    webSecurity: true,
    allowRunningInsecureContent: false,
    experimentalFeatures: false,
    webviewTag: false,
    navigateOnDragDrop: false,
    safeDialogs: true,
    spellcheck: false,
    // No middle-click "open in a new window" (new windows are denied anyway).
    disableBlinkFeatures: 'Auxclick',
  };
}

/** The main window's options. */
export function windowOptions(preloadPath: string, o: { iconPath?: string; dark?: boolean } = {}): BrowserWindowConstructorOptions {
  return {
    width: 1280,
    height: 840,
    minWidth: 800,
    minHeight: 560,
    title: 'Packet Lab',
    show: false,
    backgroundColor: o.dark === true ? '#111418' : '#ffffff',
    ...(o.iconPath !== undefined ? { icon: o.iconPath } : {}),
    webPreferences: webPreferences(preloadPath),
  };
}

/** What main knows of the frame a message came from (Electron's WebFrameMain, in part). */
export interface FrameLike {
  readonly url: string;
  readonly parent: unknown;
}

/** What main knows of an IPC message's sender (Electron's IpcMainInvokeEvent, in part). */
export interface SenderLike {
  readonly sender?: unknown;
  readonly senderFrame: FrameLike | null | undefined;
}

/** What a trusted sender is: our window's web contents, showing our page. */
export interface TrustedPage {
  /** The window's webContents (when given, the sender must be it). */
  webContents?: unknown;
}

function parseUrl(url: string): URL | null {
  try {
    return new URL(url);
  } catch {
    return null;
  }
}

/**
 * May this IPC message be answered? Only when it comes from the main frame (not an iframe) of our
 * window, while that frame shows our own page (packetlab://app/index.html), not a page it was
 * somehow navigated to.
 */
export function isTrustedSender(event: SenderLike, trusted: TrustedPage): boolean {
  const frame = event.senderFrame;
  if (frame === null || frame === undefined) return false;
  if (trusted.webContents !== undefined && event.sender !== trusted.webContents) return false;
  if (frame.parent !== null && frame.parent !== undefined) return false;
  return isAppIndexUrl(frame.url);
}

/** Response headers with our Content-Security-Policy in place of any other. */
export function withContentSecurityPolicy(headers: Record<string, string[] | string> | undefined): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (const [k, v] of Object.entries(headers ?? {})) {
    const lower = k.toLowerCase();
    if (lower === 'content-security-policy' || lower === 'content-security-policy-report-only') continue;
    out[k] = Array.isArray(v) ? v : [v];
  }
  out['Content-Security-Policy'] = [CONTENT_SECURITY_POLICY];
  out['X-Content-Type-Options'] = ['nosniff'];
  return out;
}

/**
 * May the page load this URL? Only the files of its own scheme (which serves the built renderer
 * and nothing else), and data:, blob: and devtools: URLs; nothing from the network or from disk.
 */
export function isAllowedRequest(url: string): boolean {
  const u = parseUrl(url);
  if (u === null) return false;
  if (u.protocol === 'data:' || u.protocol === 'blob:' || u.protocol === 'devtools:') return true;
  return isAppUrl(url);
}

/** Every permission request of the page (camera, notifications, ...) is refused. */
export function permissionRequestHandler(_webContents: unknown, _permission: string, callback: (granted: boolean) => void): void {
  callback(false);
}

/** Every permission check is answered no. */
export function permissionCheckHandler(): boolean {
  return false;
}
