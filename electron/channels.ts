// The IPC channels between the Electron main process and the preload, and the shape of what the
// preload exposes to the page. Plain data: main, the tests and the renderer's types import it; the
// sandboxed preload cannot import anything, so it repeats the method list (a test keeps the two equal).

import { API_METHODS, type ApiMethod, type LabApi, type Result } from '../experiments/api/contract.js';

/** Prefix of the invoke channel of each lab call: `lab:startRun`, ... */
export const LAB_CHANNEL_PREFIX = 'lab:';
/** Main → page: a run batch (RunBatch). */
export const RUN_BATCH_CHANNEL = 'lab:run-batch';
/** Page → main (invoke): save a CSV, PNG or pcapng file through a save dialog. */
export const SAVE_FILE_CHANNEL = 'desktop:save-file';
/** Main → page: a menu command (a MenuAction string). */
export const MENU_CHANNEL = 'desktop:menu';
/** Page → main (invoke): the page's theme choice, for the window's own parts (menus, dialogs, scroll bars). */
export const SET_THEME_CHANNEL = 'desktop:set-theme';

/** The invoke channel of a lab call. */
export function labChannel(method: ApiMethod): string {
  return `${LAB_CHANNEL_PREFIX}${method}`;
}

/** Every channel main answers with ipcMain.handle. */
export const INVOKE_CHANNELS: readonly string[] = [...API_METHODS.map(labChannel), SAVE_FILE_CHANNEL, SET_THEME_CHANNEL];

/** Commands the menu sends to the page (the page owns the theme, so the menu asks it to toggle). */
export const MENU_ACTIONS = ['export-csv', 'toggle-dark-mode'] as const;
/** A command the menu sends to the page. */
export type MenuAction = (typeof MENU_ACTIONS)[number];

/** What the page asks to save. */
export interface SaveFileRequest {
  /** File name offered in the dialog: no folders, at most 200 characters. */
  suggestedName: string;
  kind: 'csv' | 'png' | 'pcapng';
  /** The text of a CSV file, or the base64 bytes of a PNG image or a pcapng capture; at most 64 MiB. */
  data: string;
}

/** `window.packetlabDesktop`: what only the desktop app offers. */
export interface DesktopApi {
  /** Shows a save dialog and writes the file; null when the user cancels. */
  saveFile(request: SaveFileRequest): Promise<Result<{ path: string } | null>>;
  /** Subscribes to menu commands; returns the unsubscribe function. */
  onMenu(listener: (action: MenuAction) => void): () => void;
  /** Tells the window the page's theme, so that its menus and dialogs match. */
  setTheme(theme: ThemeSource): Promise<Result<null>>;
}

/** The themes the page may choose (Electron's nativeTheme.themeSource values). */
export const THEME_SOURCES = ['system', 'light', 'dark'] as const;
/** One theme choice. */
export type ThemeSource = (typeof THEME_SOURCES)[number];

/** The globals the preload defines in the page (`window.packetlab`, `window.packetlabDesktop`). */
export interface DesktopWindowGlobals {
  packetlab: LabApi;
  packetlabDesktop: DesktopApi;
}
