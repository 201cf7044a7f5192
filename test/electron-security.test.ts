// The desktop window's security settings and checks (electron/security.ts, app-protocol.ts,
// renderer-page.ts and the page files of experiments/api/page.ts), tested without Electron.

import { describe, expect, it } from 'vitest';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { CONTENT_SECURITY_POLICY as SERVE_CSP } from '../experiments/api/serve.js';
import { CONTENT_SECURITY_POLICY, pageFileFor } from '../experiments/api/page.js';
import { APP_INDEX_URL, isAppIndexUrl } from '../electron/app-protocol.js';
import {
  isAllowedRequest,
  isTrustedSender,
  permissionCheckHandler,
  permissionRequestHandler,
  webPreferences,
  windowOptions,
  withContentSecurityPolicy,
} from '../electron/security.js';
import { appFiles, metaContentSecurityPolicy } from '../electron/renderer-page.js';

const files = appFiles(pathToFileURL('/opt/Packet Lab/resources/app/dist/electron/main.js').href, { resourcesPath: '/opt/Packet Lab/resources' });
const indexUrl = APP_INDEX_URL;
const wc = { id: 1 };
const mainFrame = (url: string) => ({ url, parent: null });

describe('window options', () => {
  it('isolate and sandbox the page, without Node, with web security', () => {
    const p = webPreferences('/x/preload.cjs');
    expect(p).toMatchObject({
      preload: '/x/preload.cjs',
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
      disableBlinkFeatures: 'Auxclick',
    });
    expect(p).not.toHaveProperty('enableBlinkFeatures');
    const w = windowOptions('/x/preload.cjs');
    expect(w.webPreferences).toEqual(p);
    expect(w.show).toBe(false);
    expect(w.title).toBe('Packet Lab');
  });
});

describe('content security policy', () => {
  it('is the one `packetlab serve` sends', () => {
    expect(CONTENT_SECURITY_POLICY).toBe(SERVE_CSP);
    expect(CONTENT_SECURITY_POLICY).toMatch(/default-src 'self'/);
    expect(CONTENT_SECURITY_POLICY).not.toMatch(/unsafe-inline|unsafe-eval|\*/);
  });

  it('replaces any policy a response carries and keeps the other headers', () => {
    const h = withContentSecurityPolicy({ 'content-security-policy': ["default-src *"], 'Content-Security-Policy-Report-Only': 'x', 'Content-Type': ['text/html'], 'X-Other': 'a' });
    expect(h['Content-Security-Policy']).toEqual([CONTENT_SECURITY_POLICY]);
    expect(Object.keys(h).filter((k) => k.toLowerCase().startsWith('content-security-policy'))).toEqual(['Content-Security-Policy']);
    expect(h['Content-Type']).toEqual(['text/html']);
    expect(h['X-Other']).toEqual(['a']);
    expect(withContentSecurityPolicy(undefined)['Content-Security-Policy']).toEqual([CONTENT_SECURITY_POLICY]);
  });

  it('reads the page\'s own meta policy', () => {
    expect(metaContentSecurityPolicy(`<head><meta charset="utf-8"><meta http-equiv="Content-Security-Policy" content="default-src 'self'; img-src data:"></head>`)).toBe("default-src 'self'; img-src data:");
    expect(metaContentSecurityPolicy(`<meta content='default-src &#39;none&#39;' http-equiv='content-security-policy'>`)).toBe("default-src 'none'");
    expect(metaContentSecurityPolicy('<meta charset="utf-8"><title>x</title>')).toBeNull();
  });
});

describe('IPC sender validation', () => {
  it('accepts our window\'s main frame on our index page (query and fragment aside)', () => {
    expect(isTrustedSender({ sender: wc, senderFrame: mainFrame(indexUrl) }, { webContents: wc })).toBe(true);
    expect(isTrustedSender({ sender: wc, senderFrame: mainFrame(`${indexUrl}?run=3#history`) }, { webContents: wc })).toBe(true);
  });

  it('refuses a foreign origin', () => {
    for (const url of ['https://evil.example/index.html', 'http://127.0.0.1:8765/', 'data:text/html,<b>x</b>', 'about:blank', 'devtools://devtools/bundled/inspector.html', 'not a url']) {
      expect(isTrustedSender({ sender: wc, senderFrame: mainFrame(url) }, { webContents: wc }), url).toBe(false);
    }
  });

  it('refuses a subframe, even one showing our page', () => {
    expect(isTrustedSender({ sender: wc, senderFrame: { url: indexUrl, parent: mainFrame(indexUrl) } }, { webContents: wc })).toBe(false);
  });

  it('refuses file: pages (the index included), other pages of the scheme, another host, and a missing frame', () => {
    for (const url of [
      pathToFileURL('/etc/passwd').href,
      pathToFileURL(files.indexPath).href,
      'packetlab://app/other.html',
      'packetlab://app/index.html.evil',
      'packetlab://attacker/index.html',
      'packetlab://app.evil/index.html',
      'https://app/index.html',
    ]) {
      expect(isTrustedSender({ sender: wc, senderFrame: mainFrame(url) }, { webContents: wc }), url).toBe(false);
    }
    expect(isTrustedSender({ sender: wc, senderFrame: null }, { webContents: wc })).toBe(false);
    expect(isTrustedSender({ sender: wc, senderFrame: undefined }, { webContents: wc })).toBe(false);
  });

  it('refuses another window\'s web contents', () => {
    expect(isTrustedSender({ sender: { id: 2 }, senderFrame: mainFrame(indexUrl) }, { webContents: wc })).toBe(false);
  });

  it('compares URLs parsed, not spellings', () => {
    expect(isAppIndexUrl('packetlab://app/assets/../index.html')).toBe(true);
    expect(isAppIndexUrl('PACKETLAB://APP/index.html')).toBe(true);
    expect(isAppIndexUrl('packetlab://app/index%2Ehtml')).toBe(false);
  });
});

describe('requests the page may make', () => {
  it('are files of its own scheme, data:, blob: and devtools:', () => {
    expect(isAllowedRequest(APP_INDEX_URL)).toBe(true);
    expect(isAllowedRequest('packetlab://app/assets/app-1234.js')).toBe(true);
    expect(isAllowedRequest('data:image/png;base64,AAAA')).toBe(true);
    expect(isAllowedRequest('blob:packetlab://app/5c1e-77')).toBe(true);
  });

  it('are not the network, nor any file: URL, nor another host of the scheme', () => {
    for (const url of [
      'https://cdn.example/chart.js',
      'http://127.0.0.1:8765/api',
      'ws://127.0.0.1:8765/api',
      pathToFileURL('/etc/passwd').href,
      pathToFileURL(files.indexPath).href,
      'file://attacker/share/x.js',
      'packetlab://other/index.html',
      'chrome://gpu',
      'garbage',
    ]) {
      expect(isAllowedRequest(url), url).toBe(false);
    }
  });
});

describe('the page file a request names', () => {
  const posixDir = '/home/ana/my~apps [lab] ^x/Packet Lab/dist/renderer';
  it('is found inside the renderer folder, whatever the folder is called', () => {
    expect(pageFileFor('/', posixDir, path.posix)).toEqual({ ok: true, path: `${posixDir}/index.html` });
    expect(pageFileFor('/assets/index-Ab1.js', posixDir, path.posix)).toEqual({ ok: true, path: `${posixDir}/assets/index-Ab1.js` });
    expect(pageFileFor('/a%20b.png', posixDir, path.posix)).toEqual({ ok: true, path: `${posixDir}/a b.png` });
  });

  it('is found on Windows from 8.3 names, lower-case drives and spaces alike', () => {
    for (const dir of ['C:\\PROGRA~1\\Packet Lab\\resources\\app\\dist\\renderer', 'c:\\Users\\ana\\my~apps\\[lab]\\dist\\renderer', '\\\\server\\share\\Packet Lab\\dist\\renderer']) {
      expect(pageFileFor('/assets/x.js', dir, path.win32), dir).toEqual({ ok: true, path: `${dir}\\assets\\x.js` });
      for (const escape of ['/../package.json', '/%2e%2e/%2e%2e/package.json', '/..%5c..%5cpackage.json', '/%5c%5cserver%5cshare%5cx', '/C:%5cWindows%5cwin.ini']) {
        const r = pageFileFor(escape, dir, path.win32);
        if (r.ok) expect(r.path.toLowerCase().startsWith(`${dir.toLowerCase()}\\`), `${dir} ${escape} -> ${r.path}`).toBe(true);
        else expect(r.status, escape).toBe(404);
      }
    }
  });

  it('is refused outside the folder, and a malformed path is a 400 not a crash', () => {
    for (const escape of ['/../package.json', '/%2e%2e/%2e%2e/etc/passwd', '/assets/../../x', '/..']) expect(pageFileFor(escape, posixDir, path.posix), escape).toMatchObject({ ok: false, status: 404 });
    for (const bad of ['/%ff', '/%c0%ae%c0%ae/etc/passwd', '/%', '/index.html%00.js']) expect(pageFileFor(bad, posixDir, path.posix), bad).toMatchObject({ ok: false, status: 400 });
  });
});

describe('permissions', () => {
  it('are all refused', () => {
    for (const permission of ['media', 'geolocation', 'notifications', 'clipboard-read', 'openExternal', 'fileSystem']) {
      let granted: boolean | undefined;
      permissionRequestHandler({}, permission, (g) => (granted = g));
      expect(granted, permission).toBe(false);
    }
    expect(permissionCheckHandler()).toBe(false);
  });
});

describe('app files', () => {
  it('are found next to the compiled main, with the icon and dissector in the resources of a packaged app', () => {
    expect(files.preloadPath).toBe('/opt/Packet Lab/resources/app/dist/electron/preload.cjs');
    expect(files.rendererDir).toBe('/opt/Packet Lab/resources/app/dist/renderer');
    expect(files.indexPath).toBe('/opt/Packet Lab/resources/app/dist/renderer/index.html');
    expect(files.iconPath).toBe('/opt/Packet Lab/resources/icon.png');
    expect(files.dissectorPath).toBe('/opt/Packet Lab/resources/wireshark/packetlab.lua');
    const clone = appFiles(pathToFileURL('/src/packetlab/dist/electron/main.js').href);
    expect(clone.iconPath).toBe('/src/packetlab/build/icon.png');
    expect(clone.dissectorPath).toBe('/src/packetlab/tools/wireshark/packetlab.lua');
  });
});
