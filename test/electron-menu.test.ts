// The application menu's template (electron/menu.ts).

import { describe, expect, it, vi } from 'vitest';
import type { MenuItemConstructorOptions } from 'electron';
import { aboutText, menuTemplate } from '../electron/menu.js';

function items(t: MenuItemConstructorOptions[], label: string): MenuItemConstructorOptions[] {
  const m = t.find((x) => x.label?.replace('&', '') === label);
  if (m === undefined) throw new Error(`no ${label} menu`);
  return m.submenu as MenuItemConstructorOptions[];
}
const roles = (list: MenuItemConstructorOptions[]) => list.map((i) => i.role).filter((r) => r !== undefined);

describe('menu', () => {
  const actions = { exportCsv: vi.fn(), toggleDarkMode: vi.fn(), showDissector: vi.fn(), about: vi.fn() };

  it('has File, Edit, View and Help with the usual shortcuts', () => {
    const t = menuTemplate({ isMac: false, isDev: false, appName: 'Packet Lab' }, actions);
    expect(t.map((m) => m.label?.replace('&', ''))).toEqual(['File', 'Edit', 'View', 'Help']);
    const file = items(t, 'File');
    const exportCsv = file.find((i) => i.label === 'Export CSV…')!;
    expect(exportCsv.accelerator).toBe('CmdOrCtrl+E');
    (exportCsv.click as () => void)();
    expect(actions.exportCsv).toHaveBeenCalledOnce();
    expect(roles(file)).toEqual(['quit']);
    expect(roles(items(t, 'Edit'))).toEqual(expect.arrayContaining(['copy', 'paste', 'cut', 'selectAll', 'undo', 'redo']));
    const view = items(t, 'View');
    expect(roles(view)).toEqual(['resetZoom', 'zoomIn', 'zoomOut', 'togglefullscreen']);
    const dark = view.find((i) => i.label === 'Toggle Dark Mode')!;
    (dark.click as () => void)();
    expect(actions.toggleDarkMode).toHaveBeenCalledOnce();
    const dissector = items(t, 'Help').find((i) => i.label === 'Show Wireshark Dissector')!;
    (dissector.click as () => void)();
    expect(actions.showDissector).toHaveBeenCalledOnce();
    const about = items(t, 'Help').find((i) => i.label === 'About Packet Lab')!;
    (about.click as () => void)();
    expect(actions.about).toHaveBeenCalledOnce();
  });

  it('offers reload and the developer tools only when not packaged', () => {
    const dev = items(menuTemplate({ isMac: false, isDev: true, appName: 'Packet Lab' }, actions), 'View');
    expect(roles(dev)).toEqual(expect.arrayContaining(['reload', 'forceReload', 'toggleDevTools']));
    const prod = items(menuTemplate({ isMac: false, isDev: false, appName: 'Packet Lab' }, actions), 'View');
    expect(roles(prod)).not.toContain('reload');
    expect(roles(prod)).not.toContain('toggleDevTools');
  });

  it('follows macOS conventions on macOS', () => {
    const t = menuTemplate({ isMac: true, isDev: false, appName: 'Packet Lab' }, actions);
    expect(t[0]!.role).toBe('appMenu');
    expect(t.some((m) => m.role === 'windowMenu')).toBe(true);
    expect(roles(items(t, 'File'))).toEqual(['close']);
  });

  it('About names the versions', () => {
    expect(aboutText('Packet Lab', '0.1.0', { electron: '45.4.1', chrome: '142.0', node: '22.20.0', v8: '14.2' })).toBe('Packet Lab 0.1.0\nElectron 45.4.1\nChromium 142.0\nNode.js 22.20.0\nV8 14.2');
    expect(aboutText('Packet Lab', '0.1.0', { node: '20.19.0' })).toBe('Packet Lab 0.1.0\nNode.js 20.19.0');
    expect(aboutText('Packet Lab', '0.1.0', {}, { kind: 'native', why: null })).toBe('Packet Lab 0.1.0\nCRC32C: native (@node-rs/crc32)');
    expect(aboutText('Packet Lab', '0.1.0', {}, { kind: 'javascript', why: 'no binary for darwin-x64' })).toBe('Packet Lab 0.1.0\nCRC32C: JavaScript, slower on large datagrams (no binary for darwin-x64)');
  });
});
