// The main process's IPC handlers: one `lab:<method>` per call of the host API,
// `desktop:save-file` and `desktop:set-theme`. Each refuses a message that does not come from our window's main frame
// showing our page, then hands the arguments to LabHost (which validates them) or to saveFile.
// Written against small interfaces so the tests drive it without Electron.

import { API_METHODS, type Result } from '../experiments/api/contract.js';
import { labChannel, SAVE_FILE_CHANNEL, SET_THEME_CHANNEL, THEME_SOURCES, type ThemeSource } from './channels.js';
import { saveFile, type AskPath } from './save-file.js';
import type { SenderLike } from './security.js';

/** The part of Electron's ipcMain used here. */
export interface IpcMainLike {
  handle(channel: string, listener: (event: SenderLike, ...args: unknown[]) => Promise<unknown>): void;
  removeHandler(channel: string): void;
}

/** The part of LabHost used here. */
export interface HostLike {
  call(method: string, params: unknown): Promise<Result<unknown>>;
}

/** What the handlers need. */
export interface IpcDeps {
  ipcMain: IpcMainLike;
  host: HostLike;
  /** Is this message from our window's main frame, on our page? */
  isTrusted: (event: SenderLike) => boolean;
  /** The save dialog. */
  askPath: AskPath;
  /** Sets the theme of the window's own parts (nativeTheme.themeSource). */
  setTheme: (theme: ThemeSource) => void;
}

/** Registers every handler; returns a function that removes them. */
export function registerIpcHandlers(d: IpcDeps): () => void {
  const channels: string[] = [];
  const refuse = (channel: string): Result<never> => ({ ok: false, error: `${channel}: refused: the message did not come from the lab's own page` });
  const tooMany = (channel: string): Result<never> => ({ ok: false, error: `${channel}: takes one argument (an object)` });
  for (const method of API_METHODS) {
    const channel = labChannel(method);
    d.ipcMain.handle(channel, async (event, ...args) => {
      if (!d.isTrusted(event)) return refuse(channel);
      if (args.length > 1) return tooMany(channel);
      return d.host.call(method, args[0]);
    });
    channels.push(channel);
  }
  d.ipcMain.handle(SAVE_FILE_CHANNEL, async (event, ...args) => {
    if (!d.isTrusted(event)) return refuse(SAVE_FILE_CHANNEL);
    if (args.length !== 1) return tooMany(SAVE_FILE_CHANNEL);
    return saveFile(args[0], d.askPath);
  });
  channels.push(SAVE_FILE_CHANNEL);
  d.ipcMain.handle(SET_THEME_CHANNEL, async (event, ...args) => {
    if (!d.isTrusted(event)) return refuse(SET_THEME_CHANNEL);
    if (args.length !== 1) return tooMany(SET_THEME_CHANNEL);
    const theme = args[0];
    if (typeof theme !== 'string' || !(THEME_SOURCES as readonly string[]).includes(theme)) return { ok: false, error: `setTheme: must be one of ${THEME_SOURCES.join(', ')}` };
    d.setTheme(theme as ThemeSource);
    return { ok: true, value: null };
  });
  channels.push(SET_THEME_CHANNEL);
  return () => {
    for (const c of channels) d.ipcMain.removeHandler(c);
  };
}
