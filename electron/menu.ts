// The application menu, as a template main passes to Menu.buildFromTemplate. Roles give the usual
// shortcuts (copy, paste, select all, zoom, full screen) on every platform.

import type { MenuItemConstructorOptions } from 'electron';

/** What the menu's own items do. */
export interface MenuActions {
  exportCsv(): void;
  /** Asks the page to toggle its theme (the page owns the choice). */
  toggleDarkMode(): void;
  /** Shows the Wireshark dissector in the file manager. */
  showDissector(): void;
  about(): void;
}

/** Where the menu is built. */
export interface MenuContext {
  /** macOS (an app menu first, Close instead of Quit in File). */
  isMac: boolean;
  /** Not packaged: Reload and the developer tools are offered. */
  isDev: boolean;
  appName: string;
}

/** The menu template. */
export function menuTemplate(c: MenuContext, a: MenuActions): MenuItemConstructorOptions[] {
  const sep: MenuItemConstructorOptions = { type: 'separator' };
  const template: MenuItemConstructorOptions[] = [];
  if (c.isMac) template.push({ label: c.appName, role: 'appMenu' });
  template.push({
    label: '&File',
    submenu: [{ label: 'Export CSV…', accelerator: 'CmdOrCtrl+E', click: () => a.exportCsv() }, sep, c.isMac ? { role: 'close' } : { role: 'quit', accelerator: 'CmdOrCtrl+Q' }],
  });
  template.push({
    label: '&Edit',
    submenu: [{ role: 'undo' }, { role: 'redo' }, sep, { role: 'cut' }, { role: 'copy' }, { role: 'paste' }, sep, { role: 'selectAll' }],
  });
  template.push({
    label: '&View',
    submenu: [
      ...(c.isDev ? [{ role: 'reload' } as const, { role: 'forceReload' } as const, { role: 'toggleDevTools' } as const, sep] : []),
      { label: 'Toggle Dark Mode', accelerator: 'CmdOrCtrl+Shift+D', click: () => a.toggleDarkMode() },
      sep,
      { role: 'resetZoom' },
      { role: 'zoomIn' },
      { role: 'zoomOut' },
      sep,
      { role: 'togglefullscreen' },
    ],
  });
  if (c.isMac) template.push({ role: 'windowMenu' });
  template.push({
    label: '&Help',
    role: 'help',
    submenu: [{ label: 'Show Wireshark Dissector', click: () => a.showDissector() }, sep, { label: `About ${c.appName}`, click: () => a.about() }],
  });
  return template;
}

/** The About box's text; `crc32c` says which checksum implementation runs, and why when it is the slower one. */
export function aboutText(appName: string, appVersion: string, versions: Partial<Record<string, string>>, crc32c?: { kind: 'native' | 'javascript'; why: string | null }): string {
  const lines = [`${appName} ${appVersion}`];
  const named: [string, string][] = [
    ['electron', 'Electron'],
    ['chrome', 'Chromium'],
    ['node', 'Node.js'],
    ['v8', 'V8'],
  ];
  for (const [key, label] of named) if (versions[key] !== undefined) lines.push(`${label} ${versions[key]}`);
  if (crc32c !== undefined) lines.push(crc32c.kind === 'native' ? 'CRC32C: native (@node-rs/crc32)' : `CRC32C: JavaScript, slower on large datagrams (${crc32c.why ?? 'the native one is not in use'})`);
  return lines.join('\n');
}
